//! What reaches the service from outside its own links (ME-6): tracking an edge proxy recorded
//! (`RecordTracking`, the same signed tokens as the HTTP endpoint) and providers' delivery
//! receipts (`RecordDeliveryReceipt`). Both are the whole chain's: a store-scoped token is refused.
use super::MessagingApi;
use crate::domain::links::Action;
use crate::store::deliveries;
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::record_tracking_request::Kind;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use tonic::Request;
use uuid::Uuid;

const MAX_REASON: usize = 500;

pub async fn tracking(
    api: &MessagingApi,
    r: Request<pb::RecordTrackingRequest>,
) -> ApiResult<pb::RecordTrackingResponse> {
    let caller = api.caller(&r)?;
    super::chain_wide(&caller, "tracking records")?;
    let body = r.into_inner();
    let kind = Kind::try_from(body.kind).unwrap_or(Kind::Unspecified);
    let wanted = match kind {
        Kind::Open => Action::Open,
        Kind::Click => Action::Click,
        Kind::Unsubscribe => Action::Unsubscribe,
        Kind::Conversion | Kind::Unspecified => {
            // Conversions come from purchases (the ledger feed), not from a link.
            return Err(ApiError::field(
                "kind",
                "is open, click or unsubscribe (conversions are the purchases the ledger records)",
            ));
        }
    };
    let t = &api.tracking;
    let Some((action, tenant, delivery)) = t.signer.read(body.token.trim()) else {
        return Err(ApiError::field("token", "is not a token this service signed"));
    };
    if action != wanted || tenant != caller.tenant.as_str() {
        return Err(ApiError::field("token", "is not a token of this kind for this tenant"));
    }
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    deliveries::find(&db, &tenant, delivery).await?.ok_or(ApiError::NotFound("delivery"))?;
    let redirect_url = match kind {
        Kind::Open => {
            deliveries::engaged(&db, &tenant, delivery, "opened", caller.now).await?;
            String::new()
        }
        Kind::Click => {
            let links = t.links(&tenant, delivery).await?.unwrap_or_default();
            let Some(n) = links.iter().position(|l| *l == body.url.trim()) else {
                return Err(ApiError::field("url", "is not a link of this message"));
            };
            t.clicked(&tenant, delivery, n).await?.unwrap_or_default()
        }
        _ => {
            t.unsubscribed(&tenant, delivery).await?;
            format!("{}/u/{}", api.settings.public_url.trim_end_matches('/'), body.token.trim())
        }
    };
    Ok(pb::RecordTrackingResponse { redirect_url })
}

/// Our message id `<delivery@tenant.loyalty>` as the delivery id.
fn delivery_of_message_id(text: &str, tenant: &str) -> Option<Uuid> {
    let inner = text.trim().trim_start_matches('<').trim_end_matches('>');
    let (id, domain) = inner.split_once('@')?;
    (domain == format!("{tenant}.loyalty")).then(|| Uuid::parse_str(id).ok()).flatten()
}

pub async fn receipt(api: &MessagingApi, r: Request<pb::RecordDeliveryReceiptRequest>) -> ApiResult<pb::Delivery> {
    let caller = api.caller(&r)?;
    super::chain_wide(&caller, "delivery receipts")?;
    let body = r.into_inner();
    let mut v = Violations::new();
    let delivery = match (body.delivery_id.trim(), body.message_id.trim()) {
        ("", "") => {
            v.add("delivery_id", "name the delivery, or give message_id");
            None
        }
        (id, "") => Uuid::parse_str(id).ok().or_else(|| {
            v.add("delivery_id", "is not an id");
            None
        }),
        (_, message) => delivery_of_message_id(message, caller.tenant.as_str()).or_else(|| {
            v.add("message_id", "is not a message id this service gave for this tenant");
            None
        }),
    };
    let reason = body.failure_reason.trim();
    if !body.delivered && reason.is_empty() {
        v.add("failure_reason", "say why it was not delivered");
    } else if reason.chars().count() > MAX_REASON || reason.contains('\0') {
        v.add("failure_reason", format!("is at most {MAX_REASON} characters without NUL"));
    }
    let Some(delivery) = delivery.filter(|_| v.is_empty()) else { return Err(ApiError::InvalidArgument(v)) };
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let failed = (!body.delivered).then_some(reason);
    if deliveries::find(&db, caller.tenant.as_str(), delivery).await?.is_none() {
        return Err(ApiError::NotFound("delivery"));
    }
    deliveries::receipt(&db, caller.tenant.as_str(), delivery, failed, caller.now).await?;
    super::deliveries::one(&db, &caller.tenant, delivery).await?.ok_or(ApiError::NotFound("delivery"))
}
