//! Blocking (CL-4), consents and the marketing permission question (CL-5).
use super::clients::load_visible;
use super::context::{Ctx, client_id};
use super::{ClientApi, convert};
use crate::domain::{Agreement, Block, Consent, Status};
use crate::events;
use crate::store;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::check_marketing_permission_response::Reason;
use loyalty_api::events::v1::{ClientBlocked, ClientUnblocked, event::Payload};
use loyalty_platform::error::Violations;
use loyalty_platform::error::{ApiError, ApiResult as Result};
use loyalty_platform::outbox::publish;
use serde_json::json;

const MAX_COMMENT: usize = 1000;

fn comment(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::field("comment", "is required: say why"));
    }
    if text.chars().count() > MAX_COMMENT {
        return Err(ApiError::field("comment", "is longer than 1000 characters"));
    }
    Ok(text.to_string())
}

pub async fn block(api: &ClientApi, request: tonic::Request<pb::BlockClientRequest>) -> Result<pb::Client> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let id = client_id("client_id", &request.get_ref().client_id)?;
    let comment = comment(&request.get_ref().comment)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = loyalty_platform::idempotency::replay(&tx, &ctx, "BlockClient", request.get_ref()).await? {
        return Ok(answer);
    }
    let mut record = load_visible(&tx, &ctx, id, true).await?;
    if record.status == Status::Blocked {
        return Err(ApiError::FailedPrecondition("the client is already blocked".into()));
    }
    let block = Block {
        comment: comment.clone(),
        at: ctx.now,
        by_id: ctx.actor.id.clone(),
        by_name: ctx.actor.name.clone(),
        previous_status: record.status,
    };
    store::clients::set_status(&tx, &ctx.tenant, record.id, Status::Blocked, Some(&block), ctx.now).await?;
    ctx.record(
        &tx,
        record.id,
        "blocked",
        json!({ "status": record.status.as_str() }),
        json!({ "status": "blocked" }),
        &comment,
    )
    .await?;
    let subject = record.id.to_string();
    publish(&tx, &ctx.event(&subject, Payload::ClientBlocked(ClientBlocked { client_id: subject.clone(), comment })))
        .await?;
    let comment = block.comment.clone();
    record.status = Status::Blocked;
    record.block = Some(block);
    record.version += 1;
    record.updated_at = ctx.now;
    let answer = convert::client(&record);
    loyalty_platform::idempotency::keep(&tx, &ctx, &answer.id, &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    tell_ledger(api, &ctx, record.id, true, &comment).await;
    Ok(answer)
}

pub async fn unblock(api: &ClientApi, request: tonic::Request<pb::UnblockClientRequest>) -> Result<pb::Client> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let id = client_id("client_id", &request.get_ref().client_id)?;
    let comment = comment(&request.get_ref().comment)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = loyalty_platform::idempotency::replay(&tx, &ctx, "UnblockClient", request.get_ref()).await? {
        return Ok(answer);
    }
    let mut record = load_visible(&tx, &ctx, id, true).await?;
    let Some(block) = record.block.take().filter(|_| record.status == Status::Blocked) else {
        return Err(ApiError::FailedPrecondition("the client is not blocked".into()));
    };
    let restored = block.previous_status;
    store::clients::set_status(&tx, &ctx.tenant, record.id, restored, None, ctx.now).await?;
    ctx.record(
        &tx,
        record.id,
        "unblocked",
        json!({ "status": "blocked", "block_comment": block.comment }),
        json!({ "status": restored.as_str() }),
        &comment,
    )
    .await?;
    let subject = record.id.to_string();
    let event = ClientUnblocked {
        client_id: subject.clone(),
        comment: comment.clone(),
        restored_status: events::status(restored) as i32,
    };
    publish(&tx, &ctx.event(&subject, Payload::ClientUnblocked(event))).await?;
    record.status = restored;
    record.version += 1;
    record.updated_at = ctx.now;
    let answer = convert::client(&record);
    loyalty_platform::idempotency::keep(&tx, &ctx, &answer.id, &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    tell_ledger(api, &ctx, record.id, false, &comment).await;
    Ok(answer)
}

/// Blocking must stop the ledger before BlockClient returns: the ledger is told directly after the
/// commit, under this service's own identity (no person's token may change a ledger block). Should
/// that call fail, the ledger still applies the same fact from this service's feed.
async fn tell_ledger(api: &ClientApi, ctx: &Ctx, client: uuid::Uuid, blocked: bool, comment: &str) {
    let mut ledger = api.ledger.clone();
    let body = loyalty_api::ledger::v1::SetAccountBlockedRequest {
        client_id: client.to_string(),
        blocked,
        comment: comment.to_string(),
    };
    let told = match api.identity.request(ctx.tenant.as_str(), body) {
        Ok(request) => ledger.set_account_blocked(request).await.map(|_| ()).map_err(|s| s.to_string()),
        Err(e) => Err(format!("{e:#}")),
    };
    if let Err(error) = told {
        tracing::warn!(error, %client, blocked, "the ledger was not told directly; it applies the client feed");
    }
}

pub(super) fn agreement(a: &pb::Agreement, source: &str, changed_at: time::OffsetDateTime) -> Agreement {
    Agreement {
        granted: a.granted,
        changed_at,
        source: if a.source.is_empty() { source.to_string() } else { a.source.clone() },
    }
}

/// The time a change happened: its original time from a migration, else now. A bad time is a
/// violation of `field`; giving one without the right is refused outright.
pub(super) fn changed_time(
    ctx: &Ctx,
    given: Option<&prost_types::Timestamp>,
    field: &str,
    v: &mut Violations,
) -> Result<time::OffsetDateTime> {
    match ctx.original_time(given, field) {
        Ok(at) => Ok(at),
        Err(ApiError::InvalidArgument(e)) => {
            v.extend(e);
            Ok(ctx.now)
        }
        Err(other) => Err(other),
    }
}

/// The consents a request sets, read with every problem at once; each channel at most once.
fn consent_changes(body: &pb::SetConsentRequest, source: &str, ctx: &Ctx) -> Result<Vec<Consent>> {
    let mut v = Violations::new();
    let changes = channel_consents(&body.consents, "consents", source, ctx, &mut v)?;
    for (field, a) in [
        ("personal_data_consent.changed_at", &body.personal_data_consent),
        ("third_party_transfer_consent.changed_at", &body.third_party_transfer_consent),
    ] {
        if let Some(a) = a {
            changed_time(ctx, a.changed_at.as_ref(), field, &mut v)?;
        }
    }
    if body.consents.is_empty() && body.personal_data_consent.is_none() && body.third_party_transfer_consent.is_none() {
        v.add("consents", "names nothing to change");
    }
    v.into_result()?;
    Ok(changes)
}

pub async fn set_consent(api: &ClientApi, request: tonic::Request<pb::SetConsentRequest>) -> Result<pb::Client> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let id = client_id("client_id", &body.client_id)?;
    let source = if body.source.trim().is_empty() { "api".to_string() } else { body.source.trim().to_string() };
    let changes = consent_changes(&body, &source, &ctx)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = loyalty_platform::idempotency::replay(&tx, &ctx, "SetConsent", &body).await? {
        return Ok(answer);
    }
    let mut record = load_visible(&tx, &ctx, id, true).await?;
    if record.erased {
        return Err(ApiError::FailedPrecondition("the client was erased (GDPR)".into()));
    }
    let before = json!(
        record
            .consents
            .iter()
            .map(|c| (c.channel.clone(), c.status.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
    );
    let subject = record.id.to_string();
    let agreed_before = record.clone();
    for change in &changes {
        store::consents::upsert(&tx, &ctx.tenant, record.id, change).await?;
        let event = events::consent_changed(&record, change);
        publish(&tx, &ctx.event(&subject, Payload::ConsentChanged(event))).await?;
        record.consents.retain(|c| c.channel != change.channel);
        record.consents.push(change.clone());
    }
    record.consents.sort_by(|a, b| a.channel.cmp(&b.channel));
    if let Some(a) = &body.personal_data_consent {
        let at = ctx.original_time(a.changed_at.as_ref(), "personal_data_consent.changed_at")?;
        record.personal_data_consent = Some(agreement(a, &source, at));
    }
    if let Some(a) = &body.third_party_transfer_consent {
        let at = ctx.original_time(a.changed_at.as_ref(), "third_party_transfer_consent.changed_at")?;
        record.third_party_consent = Some(agreement(a, &source, at));
    }
    let agreements = events::agreements_changed(&agreed_before, &record);
    for event in &agreements {
        publish(&tx, &ctx.event(&subject, Payload::ConsentChanged(event.clone()))).await?;
    }
    if !agreements.is_empty() {
        let changed = agreements.iter().map(|a| format!("{}_consent", a.agreement)).collect();
        publish(&tx, &ctx.event(&subject, Payload::ClientUpserted(events::upserted(&record, changed)))).await?;
    }
    record.updated_at = ctx.now;
    store::clients::update_profile(&tx, &ctx.tenant, &record).await?;
    record.version += 1;
    let after = json!({
        "channels": record.consents.iter().map(|c| (c.channel.clone(), c.status.clone())).collect::<std::collections::BTreeMap<_, _>>(),
        "personal_data": record.personal_data_consent.as_ref().map(|a| a.granted),
        "third_party_transfer": record.third_party_consent.as_ref().map(|a| a.granted),
    });
    ctx.record(&tx, record.id, "consent", json!({ "channels": before }), after, &source).await?;
    let answer = convert::client(&record);
    loyalty_platform::idempotency::keep(&tx, &ctx, &answer.id, &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// The answer of CheckMarketingPermission for a loaded client.
pub fn permission(record: &crate::domain::ClientRecord, channel: &str) -> (Reason, String) {
    if record.erased {
        return (Reason::Erased, String::new());
    }
    if record.status == Status::Blocked {
        return (Reason::Blocked, String::new());
    }
    let consent = record.consents.iter().find(|c| c.channel == channel);
    match consent.map(|c| c.status.as_str()) {
        Some("subscribed") => {}
        Some("unsubscribed") => return (Reason::Unsubscribed, String::new()),
        _ => return (Reason::ConsentUnknown, String::new()),
    }
    let address = match channel {
        "email" => record.profile.email.as_ref().map(|e| e.address.clone()),
        "sms" => record.profile.phone.as_ref().map(|p| p.as_str().to_string()),
        _ => consent.map(|c| c.address.clone()).filter(|a| !a.is_empty()),
    };
    match address {
        Some(a) if !a.is_empty() => (Reason::Subscribed, a),
        _ => (Reason::NoAddress, String::new()),
    }
}

pub async fn check_permission(
    api: &ClientApi,
    request: tonic::Request<pb::CheckMarketingPermissionRequest>,
) -> Result<pb::CheckMarketingPermissionResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let id = client_id("client_id", &request.get_ref().client_id)?;
    let channel = convert::channel_name(request.get_ref().channel)
        .ok_or_else(|| ApiError::field("channel", "must be email, sms, push or telegram"))?;
    let conn = api.conn().await?;
    let record = load_visible(&conn, &ctx, id, false).await?;
    let (reason, address) = permission(&record, channel);
    Ok(pb::CheckMarketingPermissionResponse { allowed: reason == Reason::Subscribed, reason: reason as i32, address })
}

/// Channel consents as given (`prefix[i].channel` names a bad one), each with its original time
/// for a migration, else now, and its source (`source` when the item gives none).
pub(super) fn channel_consents(
    items: &[pb::ChannelConsent],
    prefix: &str,
    source: &str,
    ctx: &Ctx,
    v: &mut Violations,
) -> Result<Vec<Consent>> {
    let mut changes = Vec::new();
    for (i, c) in items.iter().enumerate() {
        let channel = convert::channel_name(c.channel);
        let status = convert::consent_name(c.status);
        if channel.is_none() {
            v.add(format!("{prefix}[{i}].channel"), "must be email, sms, push or telegram");
        }
        if status.is_none() {
            v.add(format!("{prefix}[{i}].status"), "must be subscribed, unsubscribed or unknown");
        }
        if let (Some(channel), Some(status)) = (channel, status) {
            if changes.iter().any(|x: &Consent| x.channel == channel) {
                v.add(format!("{prefix}[{i}].channel"), "is listed twice");
            }
            let source = if c.source.is_empty() { source.to_string() } else { c.source.clone() };
            let changed_at = changed_time(ctx, c.changed_at.as_ref(), &format!("{prefix}[{i}].changed_at"), v)?;
            changes.push(Consent {
                channel: channel.into(),
                status: status.into(),
                changed_at,
                source,
                address: c.address.clone(),
            });
        }
    }
    Ok(changes)
}
