//! The tenant's sending rules (ME-2): the frequency cap over every marketing message.
use super::MessagingApi;
use crate::store::caps::{self, Cap};
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use tonic::Request;

fn shown(cap: &Cap) -> pb::SendingRules {
    pb::SendingRules {
        frequency_cap_messages: cap.messages,
        frequency_cap_days: cap.days,
        updated_at: cap.updated_at.map(to_timestamp),
    }
}

pub async fn get(api: &MessagingApi, r: Request<pb::GetSendingRulesRequest>) -> ApiResult<pb::SendingRules> {
    let caller = api.caller(&r)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    Ok(shown(&caps::load(&db, caller.tenant.as_str()).await?))
}

pub async fn set(api: &MessagingApi, r: Request<pb::SetSendingRulesRequest>) -> ApiResult<pb::SendingRules> {
    let caller = api.caller(&r)?;
    super::chain_wide(&caller, "sending rules")?;
    let Some(rules) = r.into_inner().rules else { return Err(ApiError::field("rules", "give the rules")) };
    let mut v = Violations::new();
    v.add_if(
        !(0..=100).contains(&rules.frequency_cap_messages),
        "rules.frequency_cap_messages",
        "is from 0 (no cap) to 100",
    );
    v.add_if(
        rules.frequency_cap_messages > 0 && !(1..=90).contains(&rules.frequency_cap_days),
        "rules.frequency_cap_days",
        "is from 1 to 90 days",
    );
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    let cap = Cap {
        messages: rules.frequency_cap_messages,
        days: if rules.frequency_cap_messages > 0 { rules.frequency_cap_days } else { 0 },
        updated_at: Some(caller.now),
    };
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    caps::save(&db, caller.tenant.as_str(), &cap).await?;
    Ok(shown(&cap))
}
