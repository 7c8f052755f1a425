//! Merging duplicates (CL-8), the right to be forgotten and the data export (CL-10).
use super::clients::load_visible;
use super::context::{Ctx, client_id};
use super::{ClientApi, convert};
use crate::domain::{ClientRecord, merge};
use crate::events;
use crate::store;
use loyalty_api::client::v1 as pb;
use loyalty_api::events::v1::{ClientErased, ClientsMerged, event::Payload};
use loyalty_platform::error::{ApiError, ApiResult as Result};
use loyalty_platform::outbox::publish;
use serde_json::json;
use uuid::Uuid;

/// The survivor and the duplicates a merge names, each once.
fn merge_ids(body: &pb::MergeClientsRequest) -> Result<(Uuid, Vec<Uuid>)> {
    let survivor_id = client_id("survivor_client_id", &body.survivor_client_id)?;
    if body.merged_client_ids.is_empty() {
        return Err(ApiError::field("merged_client_ids", "name at least one duplicate"));
    }
    let mut merged_ids = Vec::new();
    for (i, text) in body.merged_client_ids.iter().enumerate() {
        let id = client_id(&format!("merged_client_ids[{i}]"), text)?;
        if id == survivor_id || merged_ids.contains(&id) {
            return Err(ApiError::field(&format!("merged_client_ids[{i}]"), "repeats the survivor or another id"));
        }
        merged_ids.push(id);
    }
    Ok((survivor_id, merged_ids))
}

/// Locks every client of a merge in id order (two merges over the same clients cannot deadlock);
/// each must be visible to the caller and not erased.
async fn lock_all(tx: &deadpool_postgres::Transaction<'_>, ctx: &Ctx, ids: &[Uuid]) -> Result<Vec<ClientRecord>> {
    let mut all = ids.to_vec();
    all.sort();
    let mut loaded = Vec::new();
    for id in all {
        let r = ctx.visible(store::clients::load(tx, &ctx.tenant, id, true).await?)?;
        if r.erased {
            return Err(ApiError::FailedPrecondition(format!("client {id} was erased and cannot be merged")));
        }
        loaded.push(r);
    }
    Ok(loaded)
}

pub async fn merge(
    api: &ClientApi,
    request: tonic::Request<pb::MergeClientsRequest>,
) -> Result<pb::MergeClientsResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let (survivor_id, merged_ids) = merge_ids(&body)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = loyalty_platform::idempotency::replay(&tx, &ctx, "MergeClients", &body).await? {
        return Ok(answer);
    }
    let all: Vec<Uuid> = merged_ids.iter().copied().chain([survivor_id]).collect();
    let mut loaded = lock_all(&tx, &ctx, &all).await?;
    let take =
        |id: Uuid, loaded: &mut Vec<ClientRecord>| loaded.iter().position(|r| r.id == id).map(|i| loaded.remove(i));
    let mut survivor = take(survivor_id, &mut loaded).ok_or(ApiError::NotFound("client"))?;
    let duplicates: Vec<ClientRecord> = merged_ids.iter().filter_map(|id| take(*id, &mut loaded)).collect();
    let before = convert::client(&survivor);
    let survivor_before = survivor.clone();
    for d in &duplicates {
        merge::fill_from(&mut survivor.profile, &d.profile);
    }
    let consent_lists: Vec<&[crate::domain::Consent]> =
        std::iter::once(survivor.consents.as_slice()).chain(duplicates.iter().map(|d| d.consents.as_slice())).collect();
    let consents = merge::newest_consents(&consent_lists);
    survivor.personal_data_consent = merge::newest_agreement(
        &std::iter::once(&survivor).chain(&duplicates).map(|r| r.personal_data_consent.as_ref()).collect::<Vec<_>>(),
    );
    survivor.third_party_consent = merge::newest_agreement(
        &std::iter::once(&survivor).chain(&duplicates).map(|r| r.third_party_consent.as_ref()).collect::<Vec<_>>(),
    );
    // The duplicates leave the live set first, which frees their emails for the survivor.
    store::clients::merge_into(&tx, &ctx.tenant, survivor.id, &merged_ids, ctx.now).await?;
    survivor.updated_at = ctx.now;
    store::clients::update_profile(&tx, &ctx.tenant, &survivor).await?;
    for c in &consents {
        store::consents::upsert(&tx, &ctx.tenant, survivor.id, c).await?;
    }
    let tags: Vec<Uuid> = duplicates.iter().flat_map(|d| d.tag_ids.iter().copied()).collect();
    store::tags::add(&tx, &ctx.tenant, &[survivor.id], &tags).await?;
    let merged_text: Vec<String> = merged_ids.iter().map(ToString::to_string).collect();
    let record =
        store::clients::load(&tx, &ctx.tenant, survivor.id, false).await?.ok_or(ApiError::NotFound("client"))?;
    let after = convert::client(&record);
    let changed = convert::changed_fields(&before, &after);
    ctx.record(
        &tx,
        survivor.id,
        "merged",
        convert::subset(&convert::serde_like(&before), &changed),
        json!({ "merged_client_ids": merged_text, "filled": convert::subset(&convert::serde_like(&after), &changed) }),
        "",
    )
    .await?;
    for d in &duplicates {
        ctx.record(&tx, d.id, "merged", json!({}), json!({ "merged_into": survivor.id.to_string() }), "").await?;
    }
    let subject = survivor.id.to_string();
    let merged_event = ClientsMerged { survivor_client_id: subject.clone(), merged_client_ids: merged_text };
    publish(&tx, &ctx.event(&subject, Payload::ClientsMerged(merged_event))).await?;
    publish(&tx, &ctx.event(&subject, Payload::ClientUpserted(events::upserted(&record, changed)))).await?;
    // Consents the merge rewrote (a duplicate's newer answer wins), so read models follow.
    for c in record.consents.iter().filter(|c| !survivor_before.consents.contains(c)) {
        publish(&tx, &ctx.event(&subject, Payload::ConsentChanged(events::consent_changed(&record, c)))).await?;
    }
    for event in events::agreements_changed(&survivor_before, &record) {
        publish(&tx, &ctx.event(&subject, Payload::ConsentChanged(event))).await?;
    }
    let answer = pb::MergeClientsResponse { survivor: Some(after) };
    loyalty_platform::idempotency::keep(&tx, &ctx, &subject, &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// Removes the personal data an event carries about its subject.
fn scrub(event: &mut loyalty_api::events::v1::Event) {
    match event.payload.as_mut() {
        Some(Payload::ClientUpserted(u)) => {
            *u = loyalty_api::events::v1::ClientUpserted {
                client_id: u.client_id.clone(),
                status: u.status,
                registration_store_id: u.registration_store_id.clone(),
                registered_at: u.registered_at,
                added_by: u.added_by.clone(),
                ..Default::default()
            }
        }
        Some(Payload::ConsentChanged(c)) => c.address.clear(),
        Some(Payload::ClientBlocked(b)) => b.comment.clear(),
        Some(Payload::ClientUnblocked(b)) => b.comment.clear(),
        _ => {}
    }
}

pub async fn erase(
    api: &ClientApi,
    request: tonic::Request<pb::EraseClientRequest>,
) -> Result<pb::EraseClientResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let id = client_id("client_id", &request.get_ref().client_id)?;
    let reason = request.get_ref().reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::field("reason", "is required (the request reference, at most 200 characters)"));
    }
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let record = load_visible(&tx, &ctx, id, true).await?;
    if record.erased {
        return Ok(pb::EraseClientResponse {});
    }
    // The person's duplicates merged into this client hold their data too.
    let mut people: Vec<Uuid> = record.merged_client_ids.clone();
    people.push(record.id);
    for person in &people {
        let Some(mut r) = store::clients::load_any(&tx, &ctx.tenant, *person).await? else { continue };
        r.profile = merge::erased(&r.profile);
        r.personal_data_consent = None;
        r.third_party_consent = None;
        r.updated_at = ctx.now;
        store::clients::update_profile(&tx, &ctx.tenant, &r).await?;
        // Where the person shopped is theirs too; the ledger keeps the financial records.
        store::clients::mark_erased(&tx, &ctx.tenant, *person).await?;
        store::consents::delete_all(&tx, &ctx.tenant, *person).await?;
        store::history::scrub(&tx, &ctx.tenant, *person).await?;
        let subject = person.to_string();
        loyalty_platform::outbox::rewrite_subject(&tx, ctx.tenant.as_str(), &subject, scrub).await?;
        loyalty_platform::idempotency::forget_subject(&tx, ctx.tenant.as_str(), &subject).await?;
    }
    ctx.record(&tx, record.id, "erased", json!({}), json!({}), &reason).await?;
    let subject = record.id.to_string();
    publish(&tx, &ctx.event(&subject, Payload::ClientErased(ClientErased { client_id: subject.clone() }))).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(pb::EraseClientResponse {})
}

pub async fn export(
    api: &ClientApi,
    request: tonic::Request<pb::ExportClientDataRequest>,
) -> Result<pb::ExportClientDataResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let id = client_id("client_id", &request.get_ref().client_id)?;
    let conn = api.conn().await?;
    let record = load_visible(&conn, &ctx, id, false).await?;
    let client = convert::client(&record);
    let tags = store::tags::list(&conn, &ctx.tenant).await?;
    let tag_names: Vec<&str> =
        tags.iter().filter(|t| client.tag_ids.contains(&t.id)).map(|t| t.name.as_str()).collect();
    let (history, _) = store::history::list(&conn, &ctx.tenant, record.id, &[], (None, None), None, 100_000).await?;
    let profile: serde_json::Map<String, serde_json::Value> = convert::serde_like(&client).into_iter().collect();
    let document = json!({
        "client_id": client.id,
        "exported_at": ctx.now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "profile": profile,
        "status": record.status.as_str(),
        "registered_at": record.registered_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "consents": record.consents.iter().map(|c| json!({
            "channel": c.channel, "status": c.status, "source": c.source, "address": c.address,
            "changed_at": c.changed_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "personal_data_consent": record.personal_data_consent.as_ref().map(|a| json!({"granted": a.granted, "source": a.source})),
        "third_party_transfer_consent": record.third_party_consent.as_ref().map(|a| json!({"granted": a.granted, "source": a.source})),
        "tags": tag_names,
        "merged_client_ids": client.merged_client_ids,
        "stores_bought_in": record.purchase_store_ids,
        "history": history.iter().map(|h| json!({
            "kind": h.kind, "at": h.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "before": h.before, "after": h.after, "comment": h.comment,
        })).collect::<Vec<_>>(),
    });
    Ok(pb::ExportClientDataResponse { json: serde_json::to_string_pretty(&document).map_err(anyhow::Error::from)? })
}
