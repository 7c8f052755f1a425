//! A migration's batch of clients (IE-1): every row checked, duplicates named, the good rows
//! written in one transaction with their original times.
use super::ClientApi;
use super::context::Ctx;
use super::status::{agreement, changed_time, channel_consents};
use crate::domain::profile::Rules;
use crate::domain::{ClientRecord, Profile, Status};
use crate::events;
use crate::store;
use futures::future::try_join_all;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::import_client_result::Outcome;
use loyalty_api::common::v1::FieldViolation;
use loyalty_api::events::v1::event::Payload;
use loyalty_platform::error::{ApiError, ApiResult as Result, Violations};
use loyalty_platform::idempotency;
use loyalty_platform::outbox::publish_many;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The most rows one call takes.
pub const MAX_ROWS: usize = 1000;

/// What became of one row before it is written.
enum Row {
    New(Box<ClientRecord>),
    Duplicate { client: Uuid, field: &'static str },
    Invalid(Violations),
}

pub async fn import(
    api: &ClientApi,
    request: tonic::Request<pb::ImportClientsRequest>,
) -> Result<pb::ImportClientsResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    if body.clients.len() > MAX_ROWS {
        return Err(ApiError::field("clients", &format!("at most {MAX_ROWS} rows per call")));
    }
    let by_phone = match pb::MatchKey::try_from(body.match_key) {
        Ok(pb::MatchKey::Unspecified | pb::MatchKey::Email) => false,
        Ok(pb::MatchKey::Phone) => true,
        Err(_) => return Err(ApiError::field("match_key", "must be email or phone")),
    };
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "ImportClients", &body).await? {
        return Ok(answer);
    }
    let settings = store::settings::get(&tx, &ctx.tenant).await?;
    let rules = Rules { phone_region: &settings.default_phone_region, latest_date: ctx.latest_date() };
    let mut rows = Vec::with_capacity(body.clients.len());
    for input in &body.clients {
        rows.push(parse(&ctx, &rules, input)?);
    }
    check_stores(&tx, &ctx, &mut rows).await?;
    match_existing(&tx, &ctx, &mut rows, by_phone).await?;
    let mut results = Vec::with_capacity(rows.len());
    let mut created = Vec::new();
    for row in rows {
        results.push(match row {
            Row::New(record) => {
                let id = record.id;
                created.push(*record);
                result(Outcome::Created, id, vec![])
            }
            Row::Duplicate { client, field } => result(
                Outcome::Duplicate,
                client,
                vec![FieldViolation { field: field.into(), description: format!("matches client {client}") }],
            ),
            Row::Invalid(v) => result(
                Outcome::Invalid,
                Uuid::nil(),
                v.iter().map(|(f, d)| FieldViolation { field: f.into(), description: d.into() }).collect(),
            ),
        });
    }
    let answer = pb::ImportClientsResponse { results };
    if body.validate_only {
        return Ok(answer);
    }
    write(&tx, &ctx, &created).await?;
    idempotency::keep(&tx, &ctx, "", &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

fn result(outcome: Outcome, client: Uuid, violations: Vec<FieldViolation>) -> pb::ImportClientResult {
    let client_id = if client.is_nil() { String::new() } else { client.to_string() };
    pb::ImportClientResult { outcome: outcome as i32, client_id, violations }
}

/// One row's record, or every problem it has that needs no database.
fn parse(ctx: &Ctx, rules: &Rules, input: &pb::Client) -> Result<Row> {
    let mut input = input.clone();
    if input.added_by == pb::AddedBy::Unspecified as i32 {
        input.added_by = pb::AddedBy::Import as i32;
    }
    if input.registration_store_id.is_empty()
        && let Some(first) = ctx.principal.store_scope().and_then(|s| s.first())
    {
        input.registration_store_id = first.clone();
    }
    let mut v = Violations::new();
    let profile = Profile::parse(&input, "", rules).map_err(|e| v.extend(e)).ok();
    if input.email.trim().is_empty() && input.phone.trim().is_empty() {
        v.add("email", "is required: a migrated client needs an email or a phone");
    }
    let registered_at = changed_time(ctx, input.registered_at.as_ref(), "registered_at", &mut v)?;
    let mut consents = channel_consents(&input.consents, "consents", "import", ctx, &mut v)?;
    consents.sort_by(|a, b| a.channel.cmp(&b.channel));
    let mut agreements = [None, None];
    for (slot, (field, given)) in agreements.iter_mut().zip([
        ("personal_data_consent.changed_at", &input.personal_data_consent),
        ("third_party_transfer_consent.changed_at", &input.third_party_transfer_consent),
    ]) {
        if let Some(a) = given {
            *slot = Some(agreement(a, "import", changed_time(ctx, a.changed_at.as_ref(), field, &mut v)?));
        }
    }
    let Some(profile) = profile.filter(|_| v.is_empty()) else {
        return Ok(Row::Invalid(v));
    };
    let [personal_data_consent, third_party_consent] = agreements;
    Ok(Row::New(Box::new(ClientRecord {
        consents,
        personal_data_consent,
        third_party_consent,
        ..ClientRecord::registered(profile, Status::Member, registered_at, ctx.now)
    })))
}

/// Refuses rows registered in a store the tenant does not have or the token may not act for.
async fn check_stores(db: &impl store::GenericClient, ctx: &Ctx, rows: &mut [Row]) -> Result<()> {
    let mut known: HashMap<String, bool> = HashMap::new();
    for row in rows.iter_mut() {
        let Row::New(record) = row else { continue };
        let store_id = record.profile.registration_store_id.clone();
        if store_id.is_empty() {
            continue;
        }
        let exists = match known.get(&store_id) {
            Some(exists) => *exists,
            None => {
                let exists = store::settings::store_exists(db, &ctx.tenant, &store_id).await?;
                known.insert(store_id.clone(), exists);
                exists
            }
        };
        let mut v = Violations::new();
        if !exists {
            v.add("registration_store_id", "is not a store of this tenant");
        }
        if ctx.principal.store_scope().is_some_and(|scope| !scope.contains(&store_id)) {
            v.add("registration_store_id", "must be one of the stores your token is limited to");
        }
        if !v.is_empty() {
            *row = Row::Invalid(v);
        }
    }
    Ok(())
}

/// Marks rows whose email (always) or phone (when it is the match key, or the row has no email)
/// an existing client, or an earlier row of the batch, already holds.
async fn match_existing(db: &impl store::GenericClient, ctx: &Ctx, rows: &mut [Row], by_phone: bool) -> Result<()> {
    let email_of = |r: &ClientRecord| r.profile.email.as_ref().map(|e| e.key.clone());
    // A row without an email is known by its phone whatever the key: re-importing a file must
    // not duplicate its phone-only clients.
    let phone_of = |r: &ClientRecord| {
        r.profile.phone.as_ref().map(|p| p.as_str().to_string()).filter(|_| by_phone || r.profile.email.is_none())
    };
    let new = || rows.iter().filter_map(|r| if let Row::New(r) = r { Some(r) } else { None });
    let emails: Vec<String> = new().filter_map(|r| email_of(r)).collect();
    let phones: Vec<String> = new().filter_map(|r| phone_of(r)).collect();
    let mut by_email: HashMap<String, Uuid> = HashMap::new();
    let mut by_phone_number: HashMap<String, Uuid> = HashMap::new();
    for (id, email, phone) in store::clients::holders(db, &ctx.tenant, &emails, &phones).await? {
        if let Some(email) = email {
            by_email.entry(email).or_insert(id);
        }
        if let Some(phone) = phone {
            by_phone_number.entry(phone).or_insert(id);
        }
    }
    let wanted: HashSet<&String> = phones.iter().collect();
    by_phone_number.retain(|p, _| wanted.contains(p));
    for row in rows.iter_mut() {
        let Row::New(record) = row else { continue };
        let (email, phone) = (email_of(record), phone_of(record));
        let matched = email
            .as_ref()
            .and_then(|e| by_email.get(e))
            .map(|c| (*c, "email"))
            .or_else(|| phone.as_ref().and_then(|p| by_phone_number.get(p)).map(|c| (*c, "phone")));
        if let Some((client, field)) = matched {
            *row = Row::Duplicate { client, field };
            continue;
        }
        if let Some(e) = email {
            by_email.insert(e, record.id);
        }
        if let Some(p) = phone {
            by_phone_number.insert(p, record.id);
        }
    }
    Ok(())
}

/// Writes the new clients, their consents, history and events: the inserts pipelined on the
/// transaction's connection, the events in one statement. Imported facts carry the import channel
/// of the caller's context, so triggers never greet a migrated base.
async fn write(tx: &deadpool_postgres::Transaction<'_>, ctx: &Ctx, created: &[ClientRecord]) -> Result<()> {
    try_join_all(created.iter().map(|r| store::clients::insert(tx, &ctx.tenant, r))).await?;
    let consents = created.iter().flat_map(|r| r.consents.iter().map(move |c| (r.id, c)));
    try_join_all(consents.map(|(id, c)| store::consents::upsert(tx, &ctx.tenant, id, c))).await?;
    let ids: Vec<Uuid> = created.iter().map(|r| r.id).collect();
    store::history::record_many(tx, &ctx.tenant, &ids, "created", ctx.now, &ctx.actor, &json!({"by": "import"}))
        .await?;
    let mut published = Vec::new();
    for record in created {
        let subject = record.id.to_string();
        for consent in &record.consents {
            published.push(ctx.event(&subject, Payload::ConsentChanged(events::consent_changed(record, consent))));
        }
        let empty = ClientRecord { personal_data_consent: None, third_party_consent: None, ..record.clone() };
        for event in events::agreements_changed(&empty, record) {
            published.push(ctx.event(&subject, Payload::ConsentChanged(event)));
        }
        published.push(ctx.event(&subject, Payload::ClientUpserted(events::upserted(record, vec![]))));
    }
    publish_many(tx, &published).await?;
    Ok(())
}
