//! Create, read, update, delete and list clients (CL-1, CL-2, CL-7, CL-8, CL-11).
use super::context::{Ctx, client_id};
use super::{ClientApi, cards, convert};
use crate::domain::email::Email;
use crate::domain::profile::Rules;
use crate::domain::search::{self, PageToken};
use crate::domain::{ClientRecord, Profile, Status};
use crate::events;
use crate::store;
use crate::store::GenericClient;
use loyalty_api::client::v1 as pb;
use loyalty_api::events::v1::{ClientDeleted, event::Payload};
use loyalty_platform::error::Violations;
use loyalty_platform::error::{ApiError, ApiResult as Result};
use loyalty_platform::idempotency;
use loyalty_platform::outbox::publish;
use serde_json::json;
use uuid::Uuid;

const MAX_PAGE: i32 = 1000;
const DEFAULT_PAGE: i32 = 50;

/// Checks of a (possibly invalid) input that need the database, adding to `v`: phone present
/// (CL-2), the store exists and is in the caller's scope. They run even when other fields are
/// wrong, so every problem is reported at once. Answers the client already holding the email.
async fn check_input(
    db: &impl GenericClient,
    ctx: &Ctx,
    input: &pb::Client,
    (me, has_card): (Uuid, bool),
    v: &mut Violations,
) -> Result<Option<Uuid>> {
    if input.phone.trim().is_empty() && !has_card {
        v.add("client.phone", "is required: a client needs a phone or a card number");
    }
    let store_id = input.registration_store_id.trim();
    if !store_id.is_empty() && !store::settings::store_exists(db, &ctx.tenant, store_id).await? {
        v.add("client.registration_store_id", "is not a store of this tenant");
    }
    if let Some(scope) = ctx.principal.store_scope()
        && !scope.iter().any(|s| s == store_id)
    {
        v.add("client.registration_store_id", "must be one of the stores your token is limited to");
    }
    match Email::parse(&input.email) {
        Ok(email) => Ok(store::clients::email_holder(db, &ctx.tenant, &email.key, me).await?),
        Err(_) => Ok(None),
    }
}

/// A taken email: ALREADY_EXISTS naming the client that holds it when it is the only problem (an
/// import's duplicate, a form's "you are already registered"), else one more violation.
fn refuse_taken_email(holder: Option<Uuid>, v: &mut Violations) -> Result<()> {
    match holder {
        Some(client) if v.is_empty() => {
            Err(ApiError::AlreadyExists(format!("client.email is already used by client {client}")))
        }
        Some(_) => {
            v.add("client.email", "is already used by another client of this tenant");
            Ok(())
        }
        None => Ok(()),
    }
}

/// The participation status a registration asks for: member unless it says subscriber.
fn new_status(status: i32, v: &mut Violations) -> Status {
    use loyalty_api::events::v1::ClientStatus as S;
    match S::try_from(status) {
        Ok(S::Unspecified | S::Member) => Status::Member,
        Ok(S::Subscriber) => Status::Subscriber,
        _ => {
            v.add("status", "must be member or subscriber (block with BlockClient)");
            Status::Member
        }
    }
}

/// A new client's record from the request, every problem of it at once (the card number is free,
/// the store is the caller's, the email unused).
async fn new_record(
    api: &ClientApi,
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &Ctx,
    body: &pb::CreateClientRequest,
) -> Result<ClientRecord> {
    let settings = store::settings::get(tx, &ctx.tenant).await?;
    let mut input = body.client.clone().unwrap_or_default();
    if input.registration_store_id.is_empty()
        && let Some(first) = ctx.principal.store_scope().and_then(|s| s.first())
    {
        input.registration_store_id = first.clone();
    }
    let rules = Rules { phone_region: &settings.default_phone_region, latest_date: ctx.latest_date() };
    let mut v = Violations::new();
    let profile = Profile::parse(&input, "client.", &rules).map_err(|e| v.extend(e)).ok();
    let card_number = body.card_number.trim();
    let holder = check_input(tx, ctx, &input, (Uuid::nil(), !card_number.is_empty()), &mut v).await?;
    if !card_number.is_empty() && cards::holder(api, ctx, card_number).await?.is_some() {
        v.add("card_number", "belongs to another client");
    }
    let status = new_status(body.status, &mut v);
    let registered_at = match ctx.original_time(input.registered_at.as_ref(), "client.registered_at") {
        Ok(at) => at,
        Err(ApiError::InvalidArgument(e)) => {
            v.extend(e);
            ctx.now
        }
        Err(other) => return Err(other),
    };
    refuse_taken_email(holder, &mut v)?;
    let Some(profile) = profile.filter(|_| v.is_empty()) else {
        return Err(ApiError::InvalidArgument(v));
    };
    Ok(ClientRecord::registered(profile, status, registered_at, ctx.now))
}

pub async fn create(api: &ClientApi, request: tonic::Request<pb::CreateClientRequest>) -> Result<pb::Client> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "CreateClient", &body).await? {
        return Ok(answer);
    }
    let record = new_record(api, &tx, &ctx, &body).await?;
    if let Err(e) = store::clients::insert(&tx, &ctx.tenant, &record).await {
        if store::clients::is_email_conflict(&e) {
            return Err(ApiError::AlreadyExists("client.email is already used by another client".into()));
        }
        return Err(e.into());
    }
    let answer = convert::client(&record);
    let after =
        convert::subset(&convert::serde_like(&answer), &convert::changed_fields(&pb::Client::default(), &answer));
    ctx.record(&tx, record.id, "created", json!({}), after, "").await?;
    publish(&tx, &ctx.event(&answer.id, Payload::ClientUpserted(events::upserted(&record, vec![])))).await?;
    idempotency::keep(&tx, &ctx, &answer.id, &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    let card_number = body.card_number.trim();
    if !card_number.is_empty() {
        let store = record.profile.registration_store_id.clone();
        if let Err(e) = cards::issue_to(api, &ctx, record.id, card_number, &store).await {
            // The client must not exist without the card it was registered with.
            undo_create(api, &ctx, record.id).await?;
            return Err(e);
        }
    }
    Ok(answer)
}

/// Removes a client whose registration failed after commit (its card could not be issued), and
/// forgets the answer stored for its key in the same transaction: a retry is a new registration,
/// never a replay of a success that was undone.
async fn undo_create(api: &ClientApi, ctx: &Ctx, id: Uuid) -> Result<()> {
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    store::clients::delete(&tx, &ctx.tenant, id).await?;
    loyalty_platform::idempotency::forget_subject(&tx, ctx.tenant.as_str(), &id.to_string()).await?;
    ctx.record(&tx, id, "deleted", json!({}), json!({}), "registration undone: the card could not be issued").await?;
    let subject = id.to_string();
    publish(&tx, &ctx.event(&subject, Payload::ClientDeleted(ClientDeleted { client_id: subject.clone() }))).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(())
}

/// Loads the live client `id` answers for (following merges), if the caller may see it.
pub async fn load_visible(db: &impl GenericClient, ctx: &Ctx, id: Uuid, lock: bool) -> Result<ClientRecord> {
    let Some(live) = store::clients::resolve(db, &ctx.tenant, id).await? else {
        return Err(ApiError::NotFound("client"));
    };
    ctx.visible(store::clients::load(db, &ctx.tenant, live, lock).await?)
}

pub async fn get(api: &ClientApi, request: tonic::Request<pb::GetClientRequest>) -> Result<pb::Client> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let id = client_id("client_id", &request.get_ref().client_id)?;
    let conn = api.conn().await?;
    Ok(convert::client(&load_visible(&conn, &ctx, id, false).await?))
}

pub async fn batch_get(
    api: &ClientApi,
    request: tonic::Request<pb::BatchGetClientsRequest>,
) -> Result<pb::BatchGetClientsResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let ids = &request.get_ref().client_ids;
    if ids.len() > 1000 {
        return Err(ApiError::field("client_ids", "at most 1000 ids per call"));
    }
    let conn = api.conn().await?;
    let mut clients = Vec::new();
    for (i, text) in ids.iter().enumerate() {
        let id = client_id(&format!("client_ids[{i}]"), text)?;
        if let Ok(r) = load_visible(&conn, &ctx, id, false).await {
            clients.push(convert::client(&r));
        }
    }
    Ok(pb::BatchGetClientsResponse { clients })
}

pub async fn update(api: &ClientApi, request: tonic::Request<pb::UpdateClientRequest>) -> Result<pb::Client> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let incoming = body.client.unwrap_or_default();
    let id = client_id("client.id", &incoming.id)?;
    let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let mut record = load_visible(&tx, &ctx, id, true).await?;
    if record.erased {
        return Err(ApiError::FailedPrecondition("the client was erased (GDPR); it cannot be edited".into()));
    }
    if !body.etag.is_empty() && body.etag != record.etag() {
        return Err(ApiError::Aborted("the client changed since it was read (etag mismatch); read it again".into()));
    }
    let before = convert::client(&record);
    let mut merged = before.clone();
    let mut v = convert::apply_mask(&mut merged, &incoming, &paths);
    let settings = store::settings::get(&tx, &ctx.tenant).await?;
    let rules = Rules { phone_region: &settings.default_phone_region, latest_date: ctx.latest_date() };
    let profile = Profile::parse(&merged, "client.", &rules).map_err(|e| v.extend(e)).ok();
    // Without a phone the client must hold a card (CL-2); only then is the card service asked.
    let has_card = merged.phone.trim().is_empty() && cards::holds_any(api, &ctx, record.id).await?;
    let holder = check_input(&tx, &ctx, &merged, (record.id, has_card), &mut v).await?;
    refuse_taken_email(holder, &mut v)?;
    let Some(mut profile) = profile.filter(|_| v.is_empty()) else {
        return Err(ApiError::InvalidArgument(v));
    };
    // A phone written the same way again keeps its original spelling.
    if profile.phone == record.profile.phone && !paths.iter().any(|p| p == "phone") {
        profile.phone_original = record.profile.phone_original.clone();
    }
    record.profile = profile;
    record.updated_at = ctx.now;
    if let Err(e) = store::clients::update_profile(&tx, &ctx.tenant, &record).await {
        if store::clients::is_email_conflict(&e) {
            return Err(ApiError::AlreadyExists("client.email is already used by another client".into()));
        }
        return Err(e.into());
    }
    record.version += 1;
    let after = convert::client(&record);
    let changed = convert::changed_fields(&before, &after);
    if !changed.is_empty() {
        ctx.record(
            &tx,
            record.id,
            "updated",
            convert::subset(&convert::serde_like(&before), &changed),
            convert::subset(&convert::serde_like(&after), &changed),
            "",
        )
        .await?;
        publish(&tx, &ctx.event(&after.id, Payload::ClientUpserted(events::upserted(&record, changed)))).await?;
    }
    loyalty_platform::outbox::commit(tx).await?;
    Ok(after)
}

pub async fn delete(
    api: &ClientApi,
    request: tonic::Request<pb::DeleteClientRequest>,
) -> Result<pb::DeleteClientResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let id = client_id("client_id", &request.get_ref().client_id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let record = load_visible(&tx, &ctx, id, true).await?;
    store::clients::delete(&tx, &ctx.tenant, record.id).await?;
    ctx.record(&tx, record.id, "deleted", json!({}), json!({}), "").await?;
    let id = record.id.to_string();
    publish(&tx, &ctx.event(&id, Payload::ClientDeleted(ClientDeleted { client_id: id.clone() }))).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(pb::DeleteClientResponse {})
}

/// The filter of a list request, with the caller's store scope applied.
pub struct ListFilter {
    pub terms: Vec<search::Term>,
    pub statuses: Vec<String>,
    pub tag_ids: Vec<Uuid>,
    /// Registered in one of these stores (the request's filter).
    pub stores: Option<Vec<String>>,
    /// The caller's store scope: registered or bought in one of these (CL-11).
    pub scope: Option<Vec<String>>,
    pub only_ids: Option<Vec<Uuid>>,
}

impl ListFilter {
    pub fn as_store_filter(&self) -> store::list::Filter<'_> {
        store::list::Filter {
            terms: &self.terms,
            statuses: &self.statuses,
            tag_ids: &self.tag_ids,
            stores: self.stores.as_deref(),
            scope: self.scope.as_deref(),
            only_ids: self.only_ids.as_deref(),
        }
    }
}

/// Reads the query, statuses, tags and stores of a list request.
pub fn list_filter(
    ctx: &Ctx,
    region: &str,
    query: &str,
    statuses: &[i32],
    tags: &[String],
    stores: &[String],
) -> Result<ListFilter> {
    let mut v = Violations::new();
    let statuses = statuses
        .iter()
        .filter_map(|s| match loyalty_api::events::v1::ClientStatus::try_from(*s) {
            Ok(loyalty_api::events::v1::ClientStatus::Member) => Some("member".to_string()),
            Ok(loyalty_api::events::v1::ClientStatus::Subscriber) => Some("subscriber".to_string()),
            Ok(loyalty_api::events::v1::ClientStatus::Blocked) => Some("blocked".to_string()),
            _ => {
                v.add("statuses", "holds an unknown status");
                None
            }
        })
        .collect();
    let tag_ids = tags.iter().filter_map(|t| v.take("tag_ids", Uuid::parse_str(t))).collect();
    let stores = (!stores.is_empty()).then(|| stores.to_vec());
    let scope = ctx.principal.store_scope().map(<[String]>::to_vec);
    v.into_result()?;
    let terms = search::parse_query(query, region);
    if terms.iter().any(|t| matches!(t, search::Term::Words(words) if words.is_empty())) {
        return Err(ApiError::field("query", "holds a term with no letter or digit to search for"));
    }
    Ok(ListFilter { terms, statuses, tag_ids, stores, scope, only_ids: None })
}

/// A page token whose values Postgres cannot read as its sort keys was not made by this list:
/// INVALID_ARGUMENT, not an internal error.
fn forged_token(error: anyhow::Error, with_token: bool) -> ApiError {
    let bad_value = error.chain().any(|c| {
        c.downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.code())
            .is_some_and(|code| code.code().starts_with("22"))
    });
    if with_token && bad_value {
        return ApiError::field("page.page_token", "is not a token this list gave");
    }
    ApiError::Internal(error)
}

pub async fn list(api: &ClientApi, request: tonic::Request<pb::ListClientsRequest>) -> Result<pb::ListClientsResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let page = body.page.unwrap_or_default();
    let size = match page.page_size {
        n if n < 0 => return Err(ApiError::field("page.page_size", "must not be negative")),
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let keys = search::parse_order_by(&body.order_by).map_err(|e| ApiError::field("order_by", &e))?;
    let mask = body.read_mask.map(|m| m.paths).unwrap_or_default();
    let selection = store::columns::Selection::for_read_mask(&mask)
        .map_err(|path| ApiError::field("read_mask", &format!("{path} is not a field of Client")))?;
    let conn = api.conn().await?;
    let region = api.phone_region(&conn, &ctx.tenant).await?;
    let mut filter = list_filter(&ctx, &region, &body.query, &body.statuses, &body.tag_ids, &body.store_ids)?;
    let stores_text = filter.stores.as_ref().map(|s| s.join(",")).unwrap_or_else(|| "*".into());
    let fingerprint = search::fingerprint(&[
        &body.query,
        &format!("{:?}", filter.statuses),
        &body.tag_ids.join(","),
        &stores_text,
        &search::order_text(&keys),
    ]);
    let after = if page.page_token.is_empty() {
        None
    } else {
        Some(PageToken::decode(&page.page_token, &fingerprint).map_err(|e| ApiError::field("page.page_token", e))?)
    };
    let window = store::list::Window { keys: &keys, after: after.as_ref(), limit: i64::from(size) + 1 };
    // A card number in the box finds its holder (CL-7). The card service is asked while the page
    // is read; the page is read again with the holders only when a number was a card.
    let (holders, page) = {
        let without_cards = filter.as_store_filter();
        futures::join!(
            cards::holders_of_terms(api, &ctx, &filter.terms),
            store::list::page(&conn, &ctx.tenant, &without_cards, &window, selection)
        )
    };
    let (rows, total) = if holders.is_empty() {
        page.map_err(|e| forged_token(e, after.is_some()))?
    } else {
        filter.terms.extend(holders.into_iter().map(search::Term::Id));
        store::list::page(&conn, &ctx.tenant, &filter.as_store_filter(), &window, selection)
            .await
            .map_err(|e| forged_token(e, after.is_some()))?
    };
    let has_more = rows.len() > size as usize;
    let mut rows: Vec<_> = rows.into_iter().take(size as usize).collect();
    let next_page_token = match (has_more, rows.last()) {
        (true, Some((last, values))) => PageToken { list: fingerprint, values: values.clone(), id: last.id }.encode(),
        _ => String::new(),
    };
    let records: Vec<ClientRecord> = rows.drain(..).map(|(r, _)| r).collect();
    Ok(pb::ListClientsResponse {
        clients: records.iter().map(|r| convert::read_masked(convert::client(r), &mask)).collect(),
        page: Some(loyalty_api::common::v1::PageInfo { next_page_token, total_size: total }),
    })
}
