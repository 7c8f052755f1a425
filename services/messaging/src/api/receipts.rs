//! What reaches the service from outside its own links (ME-6): tracking an edge proxy recorded
//! (`RecordTracking`, the same signed tokens as the HTTP endpoint) and providers' delivery
//! receipts (`RecordDeliveryReceipt`). Both are the whole chain's: a store-scoped token is refused.
use super::MessagingApi;
use crate::domain::links::Action;
use crate::domain::rules::Channel;
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

/// Which delivery a receipt names: by our id, our message id, or the provider's id.
enum Named {
    Delivery(Uuid),
    Provider(String),
}

/// Reads the one way a receipt names its delivery; a wrong or missing name is a violation.
fn named(body: &pb::RecordDeliveryReceiptRequest, tenant: &str, v: &mut Violations) -> Option<Named> {
    let (id, message, provider) = (body.delivery_id.trim(), body.message_id.trim(), body.provider_message_id.trim());
    let given = [id, message, provider].iter().filter(|s| !s.is_empty()).count();
    if given != 1 {
        let why = if given == 0 { "name the delivery" } else { "name the delivery one way only" };
        v.add("delivery_id", format!("{why}: delivery_id, message_id or provider_message_id"));
        return None;
    }
    if !id.is_empty() {
        let parsed = Uuid::parse_str(id).ok().map(Named::Delivery);
        if parsed.is_none() {
            v.add("delivery_id", "is not an id");
        }
        return parsed;
    }
    if !message.is_empty() {
        let parsed = delivery_of_message_id(message, tenant).map(Named::Delivery);
        if parsed.is_none() {
            v.add("message_id", "is not a message id this service gave for this tenant");
        }
        return parsed;
    }
    if provider.chars().count() > MAX_REASON || provider.contains('\0') {
        v.add("provider_message_id", format!("is at most {MAX_REASON} characters without NUL"));
        return None;
    }
    Some(Named::Provider(provider.to_string()))
}

pub async fn receipt(api: &MessagingApi, r: Request<pb::RecordDeliveryReceiptRequest>) -> ApiResult<pb::Delivery> {
    let caller = api.caller(&r)?;
    super::chain_wide(&caller, "delivery receipts")?;
    let body = r.into_inner();
    let mut v = Violations::new();
    let named = named(&body, caller.tenant.as_str(), &mut v);
    let channel = match body.channel {
        0 => None,
        c => {
            let channel = Channel::from_contract(c);
            if channel.is_none() {
                v.add("channel", "is email, sms, push or telegram (or left out)");
            }
            channel
        }
    };
    let reason = body.failure_reason.trim();
    if !body.delivered && reason.is_empty() {
        v.add("failure_reason", "say why it was not delivered");
    } else if reason.chars().count() > MAX_REASON || reason.contains('\0') {
        v.add("failure_reason", format!("is at most {MAX_REASON} characters without NUL"));
    }
    let Some(named) = named.filter(|_| v.is_empty()) else { return Err(ApiError::InvalidArgument(v)) };
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let tenant = caller.tenant.as_str();
    let delivery = match named {
        Named::Delivery(id) => {
            let found = deliveries::find(&db, tenant, id).await?;
            found.filter(|f| channel.is_none_or(|c| f.channel == c.name())).map(|_| id)
        }
        Named::Provider(provider) => {
            let found = deliveries::by_provider_id(&db, tenant, &provider, channel.map(Channel::name)).await?;
            if found.len() > 1 {
                let why = match channel {
                    None => "names more than one delivery: say which channel",
                    Some(_) => "names more than one delivery on this channel: give delivery_id or message_id",
                };
                return Err(ApiError::field("provider_message_id", why));
            }
            found.first().copied()
        }
    };
    let delivery = delivery.ok_or(ApiError::NotFound("delivery"))?;
    let failed = (!body.delivered).then_some(reason);
    deliveries::receipt(&db, tenant, delivery, failed, caller.now).await?;
    super::deliveries::one(&db, &caller.tenant, delivery).await?.ok_or(ApiError::NotFound("delivery"))
}
