//! What happened to the messages (ME-6): a campaign's figures with rates, and deliveries listed by
//! campaign, trigger, client and period within the caller's stores.
use super::MessagingApi;
use crate::domain::rules::Channel;
use crate::store::deliveries::{self, Listed, Query};
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use loyalty_platform::error::{ApiError, ApiResult};
use tonic::Request;

/// `part` of `whole` in basis points (0 when there is no whole).
fn rate(part: i64, whole: i64) -> i32 {
    if whole <= 0 { 0 } else { (part.saturating_mul(10_000) / whole).clamp(0, 10_000) as i32 }
}

pub async fn stats(api: &MessagingApi, r: Request<pb::GetCampaignStatsRequest>) -> ApiResult<pb::CampaignStats> {
    let caller = api.caller(&r)?;
    let id = super::uuid_of("campaign_id", &r.get_ref().campaign_id)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    crate::store::campaigns::load(&db, caller.tenant.as_str(), id, false)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    let t = deliveries::totals(&db, &caller.tenant, deliveries::Of::Campaign(id)).await?;
    Ok(shown_stats(t))
}

/// A campaign's or a trigger's figures with their rates.
pub fn shown_stats(t: deliveries::Totals) -> pb::CampaignStats {
    // Rates are of what was delivered; with no delivery receipts yet, of what was sent.
    let reached = if t.delivered > 0 { t.delivered } else { t.sent };
    pb::CampaignStats {
        audience: t.audience,
        excluded: t.excluded.into_iter().collect(),
        queued: t.queued,
        sent: t.sent,
        delivered: t.delivered,
        failed: t.failed,
        opened: t.opened,
        clicked: t.clicked,
        converted: t.converted,
        unsubscribed: t.unsubscribed,
        delivery_rate_bp: rate(t.delivered, t.sent),
        open_rate_bp: rate(t.opened, reached),
        click_rate_bp: rate(t.clicked, reached),
        conversion_rate_bp: rate(t.converted, reached),
        unsubscribe_rate_bp: rate(t.unsubscribed, reached),
    }
}

pub async fn list(api: &MessagingApi, r: Request<pb::ListDeliveriesRequest>) -> ApiResult<pb::ListDeliveriesResponse> {
    let caller = api.caller(&r)?;
    let body = r.into_inner();
    let optional = |field: &str, text: &str| -> ApiResult<Option<uuid::Uuid>> {
        if text.trim().is_empty() { Ok(None) } else { super::uuid_of(field, text).map(Some) }
    };
    let time = |field: &str, ts: Option<&prost_types::Timestamp>| -> ApiResult<Option<time::OffsetDateTime>> {
        ts.map(|t| from_timestamp(t).ok_or_else(|| ApiError::field(field, "is not a time"))).transpose()
    };
    let mut statuses = Vec::new();
    for (i, s) in body.statuses.iter().enumerate() {
        match pb::DeliveryStatus::try_from(*s).ok().filter(|s| *s != pb::DeliveryStatus::Unspecified) {
            Some(s) => statuses.push(s.as_str_name().trim_start_matches("DELIVERY_STATUS_").to_ascii_lowercase()),
            None => return Err(ApiError::field(&format!("statuses[{i}]"), "is not a delivery status")),
        }
    }
    let query = Query {
        campaign: optional("campaign_id", &body.campaign_id)?,
        trigger: optional("trigger_id", &body.trigger_id)?,
        client: optional("client_id", &body.client_id)?,
        from: time("queued_from", body.queued_from.as_ref())?,
        until: time("queued_until", body.queued_until.as_ref())?,
        stores: super::stores(&caller),
        delivery: None,
        statuses,
    };
    let (offset, size) = super::page(body.page.as_ref())?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let (rows, total) = deliveries::list(&db, &caller.tenant, &query, offset, size).await?;
    let page = super::page_info(offset, size, rows.len(), total);
    Ok(pb::ListDeliveriesResponse { deliveries: rows.iter().map(shown).collect(), page: Some(page) })
}

/// One delivery as the API shows it.
pub async fn one(
    db: &impl crate::store::GenericClient,
    tenant: &loyalty_platform::TenantId,
    id: uuid::Uuid,
) -> anyhow::Result<Option<pb::Delivery>> {
    let query = Query { delivery: Some(id), ..Query::default() };
    let (rows, _) = deliveries::list(db, tenant, &query, 0, 1).await?;
    Ok(rows.first().map(shown))
}

fn transport(text: &str) -> pb::TransportState {
    use pb::TransportState as T;
    match text {
        "queued" => T::Queued,
        "sending" => T::Sending,
        "sent" => T::Sent,
        "delivered" => T::Delivered,
        "failed" => T::Failed,
        _ => T::Unspecified,
    }
}

fn shown(d: &Listed) -> pb::Delivery {
    let [queued, sent, updated, delivered, failed, opened, clicked, converted, unsubscribed] = d.times;
    use pb::DeliveryStatus as S;
    let status = if unsubscribed.is_some() {
        S::Unsubscribed
    } else if converted.is_some() {
        S::Converted
    } else if clicked.is_some() {
        S::Clicked
    } else if opened.is_some() {
        S::Opened
    } else {
        match transport(&d.transport) {
            pb::TransportState::Delivered => S::Delivered,
            pb::TransportState::Sent => S::Sent,
            pb::TransportState::Failed => S::Failed,
            _ => S::Queued,
        }
    };
    let ts = |t: Option<time::OffsetDateTime>| t.map(to_timestamp);
    pb::Delivery {
        id: d.id.to_string(),
        client_id: d.client_id.to_string(),
        campaign_id: d.campaign_id.map(|c| c.to_string()).unwrap_or_default(),
        trigger_id: d.trigger_id.map(|t| t.to_string()).unwrap_or_default(),
        run_id: d.run_id.map(|r| r.to_string()).unwrap_or_default(),
        channel: Channel::parse(&d.channel).map(Channel::contract).unwrap_or(0),
        address: d.address.clone(),
        status: status as i32,
        transport: transport(&d.transport) as i32,
        failure_reason: d.failure_reason.clone(),
        attempts: d.attempts,
        provider_message_id: d.provider_message_id.clone(),
        queued_at: ts(queued),
        sent_at: ts(sent),
        updated_at: ts(updated),
        delivered_at: ts(delivered),
        failed_at: ts(failed),
        opened_at: ts(opened),
        clicked_at: ts(clicked),
        converted_at: ts(converted),
        unsubscribed_at: ts(unsubscribed),
        complained_at: None,
    }
}
