//! Tags (CL-6): define them, put them on one client or on many at once.
use super::clients::{list_filter, load_visible};
use super::context::{Ctx, client_id};
use super::{ClientApi, convert};
use crate::store;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::bulk_edit_tags_request::{Mode, Target};
use loyalty_api::events::v1::{ClientTagsChanged, TagChanged, event::Payload};
use loyalty_platform::error::Violations;
use loyalty_platform::error::{ApiError, ApiResult as Result};
use loyalty_platform::idempotency;
use loyalty_platform::outbox::publish;
use serde_json::json;
use uuid::Uuid;

fn tag_name(v: &mut Violations, name: &str) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        v.add("tag.name", "must be 1 to 60 characters");
    }
    name.to_string()
}

fn colour(v: &mut Violations, colour: &str) -> String {
    if colour.is_empty() {
        return "#808080".into();
    }
    let ok = colour.len() == 7 && colour.starts_with('#') && colour[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        v.add("tag.colour", "must be #RRGGBB");
    }
    colour.to_ascii_uppercase()
}

fn tag_id(field: &str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| ApiError::field(field, "is not a tag id"))
}

/// Tags are the tenant's: a token limited to some stores may tag the clients it sees, but not
/// define, rename or delete tags (a deletion untags clients it cannot see).
fn defines_tags(ctx: &Ctx) -> Result<()> {
    if ctx.principal.store_scope().is_some() {
        return Err(ApiError::denied("a store-scoped token cannot define, change or delete the tenant's tags"));
    }
    Ok(())
}

fn tag_event(ctx: &Ctx, tag: &pb::Tag, deleted: bool) -> loyalty_api::events::v1::Event {
    let payload = TagChanged { tag_id: tag.id.clone(), name: tag.name.clone(), colour: tag.colour.clone(), deleted };
    ctx.event(&tag.id, Payload::TagChanged(payload))
}

pub async fn create(api: &ClientApi, request: tonic::Request<pb::CreateTagRequest>) -> Result<pb::Tag> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    defines_tags(&ctx)?;
    let body = request.into_inner();
    let input = body.tag.clone().unwrap_or_default();
    let mut v = Violations::new();
    let name = tag_name(&mut v, &input.name);
    let colour = colour(&mut v, &input.colour);
    v.into_result()?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "CreateTag", &body).await? {
        return Ok(answer);
    }
    let Some(tag) = store::tags::create(&tx, &ctx.tenant, Uuid::now_v7(), &name, &colour).await? else {
        return Err(ApiError::AlreadyExists(format!("a tag named {name:?} exists")));
    };
    publish(&tx, &tag_event(&ctx, &tag, false)).await?;
    idempotency::keep(&tx, &ctx, "", &tag).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(tag)
}

pub async fn update(api: &ClientApi, request: tonic::Request<pb::UpdateTagRequest>) -> Result<pb::Tag> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    defines_tags(&ctx)?;
    let body = request.into_inner();
    let input = body.tag.clone().unwrap_or_default();
    let id = tag_id("tag.id", &input.id)?;
    let paths = body.update_mask.clone().map(|m| m.paths).unwrap_or_default();
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "UpdateTag", &body).await? {
        return Ok(answer);
    }
    let Some(current) = store::tags::get(&tx, &ctx.tenant, id).await? else {
        return Err(ApiError::NotFound("tag"));
    };
    let mut v = Violations::new();
    let (mut name, mut colour_value) = (current.name.clone(), current.colour.clone());
    if paths.is_empty() {
        v.add("update_mask", "names no field; use name and/or colour");
    }
    for path in &paths {
        match path.as_str() {
            "name" => name = tag_name(&mut v, &input.name),
            "colour" => colour_value = colour(&mut v, &input.colour),
            other => v.add("update_mask", format!("{other} cannot be changed; use name and/or colour")),
        }
    }
    if store::tags::name_taken(&tx, &ctx.tenant, &name, id).await? {
        v.add("tag.name", "another tag has this name");
    }
    v.into_result()?;
    store::tags::update(&tx, &ctx.tenant, id, &name, &colour_value).await?;
    let tag = pb::Tag { name, colour: colour_value, ..current };
    publish(&tx, &tag_event(&ctx, &tag, false)).await?;
    idempotency::keep(&tx, &ctx, "", &tag).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(tag)
}

pub async fn delete(api: &ClientApi, request: tonic::Request<pb::DeleteTagRequest>) -> Result<pb::DeleteTagResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    defines_tags(&ctx)?;
    let id = tag_id("tag_id", &request.get_ref().tag_id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "DeleteTag", request.get_ref()).await? {
        return Ok(answer);
    }
    let Some(tag) = store::tags::get(&tx, &ctx.tenant, id).await? else {
        return Err(ApiError::NotFound("tag"));
    };
    let Some(clients) = store::tags::delete(&tx, &ctx.tenant, id).await? else {
        return Err(ApiError::NotFound("tag"));
    };
    changed_clients(&tx, &ctx, &clients, json!({ "removed_tag": tag.name })).await?;
    publish(&tx, &tag_event(&ctx, &tag, true)).await?;
    let answer = pb::DeleteTagResponse { clients_untagged: clients.len() as i64 };
    idempotency::keep(&tx, &ctx, "", &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

pub async fn list(api: &ClientApi, request: tonic::Request<pb::ListTagsRequest>) -> Result<pb::ListTagsResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let conn = api.conn().await?;
    let tags = match ctx.principal.store_scope() {
        None => store::tags::list(&conn, &ctx.tenant).await?,
        // Counts are over the clients the token sees.
        Some(stores) => store::tags::list_seen(&conn, &ctx.tenant, stores).await?,
    };
    Ok(pb::ListTagsResponse { tags })
}

fn tag_ids(field: &str, ids: &[String], v: &mut Violations) -> Vec<Uuid> {
    ids.iter()
        .enumerate()
        .filter_map(|(i, t)| v.take(&format!("{field}[{i}]"), Uuid::parse_str(t).map_err(|_| "is not a tag id")))
        .collect()
}

async fn check_tags_exist(db: &impl crate::store::GenericClient, ctx: &Ctx, field: &str, ids: &[Uuid]) -> Result<()> {
    let unknown = store::tags::unknown(db, &ctx.tenant, ids).await?;
    if unknown.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = unknown.iter().map(ToString::to_string).collect();
    Err(ApiError::field(field, &format!("unknown tags: {}", names.join(", "))))
}

/// History, version bump and a `ClientTagsChanged` event for each client whose tags changed.
async fn changed_clients(
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &Ctx,
    clients: &[Uuid],
    what: serde_json::Value,
) -> Result<()> {
    if clients.is_empty() {
        return Ok(());
    }
    store::history::record_many(tx, &ctx.tenant, clients, "tags", ctx.now, &ctx.actor, &what).await?;
    store::clients::bump_versions(tx, &ctx.tenant, clients, ctx.now).await?;
    let events: Vec<_> = store::tags::of_clients(tx, &ctx.tenant, clients)
        .await?
        .into_iter()
        .map(|(client, tags)| {
            let subject = client.to_string();
            let payload = ClientTagsChanged {
                client_id: subject.clone(),
                tag_ids: tags.iter().map(ToString::to_string).collect(),
            };
            ctx.event(&subject, Payload::ClientTagsChanged(payload))
        })
        .collect();
    loyalty_platform::outbox::publish_many(tx, &events).await?;
    Ok(())
}

pub async fn modify_client(
    api: &ClientApi,
    request: tonic::Request<pb::ModifyClientTagsRequest>,
) -> Result<pb::Client> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let id = client_id("client_id", &body.client_id)?;
    let mut v = Violations::new();
    let add = tag_ids("add_tag_ids", &body.add_tag_ids, &mut v);
    let remove = tag_ids("remove_tag_ids", &body.remove_tag_ids, &mut v);
    v.into_result()?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "ModifyClientTags", &body).await? {
        return Ok(answer);
    }
    let record = load_visible(&tx, &ctx, id, true).await?;
    check_tags_exist(&tx, &ctx, "add_tag_ids", &add).await?;
    let mut changed = store::tags::remove(&tx, &ctx.tenant, &[record.id], &remove).await?;
    changed.extend(store::tags::add(&tx, &ctx.tenant, &[record.id], &add).await?);
    changed.dedup();
    changed_clients(&tx, &ctx, &changed, json!({ "added": body.add_tag_ids, "removed": body.remove_tag_ids })).await?;
    let record = store::clients::load(&tx, &ctx.tenant, record.id, false).await?.ok_or(ApiError::NotFound("client"))?;
    let answer = convert::client(&record);
    idempotency::keep(&tx, &ctx, &answer.id, &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// What a bulk edit asks: its tags, its mode, and the listed clients (`None` for a query).
type BulkAsk = (Vec<Uuid>, Mode, Option<Vec<Uuid>>);

fn read_bulk(body: &pb::BulkEditTagsRequest, max: i64) -> Result<BulkAsk> {
    let mut v = Violations::new();
    let tags = tag_ids("tag_ids", &body.tag_ids, &mut v);
    let mode = Mode::try_from(body.mode).unwrap_or(Mode::Unspecified);
    if mode == Mode::Unspecified {
        v.add("mode", "must be add, remove or replace");
    }
    if tags.is_empty() && mode != Mode::Replace {
        v.add("tag_ids", "names no tag");
    }
    let explicit = match &body.target {
        Some(Target::ClientIds(list)) => {
            if list.ids.len() as i64 > max {
                v.add("client_ids", format!("at most {max} ids per call"));
            }
            Some(
                list.ids
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| v.take(&format!("client_ids.ids[{i}]"), Uuid::parse_str(t)))
                    .collect::<Vec<_>>(),
            )
        }
        Some(Target::Query(_)) => None,
        None => {
            v.add("target", "give client_ids or a query");
            None
        }
    };
    v.into_result()?;
    Ok((tags, mode, explicit))
}

pub async fn bulk_edit(
    api: &ClientApi,
    request: tonic::Request<pb::BulkEditTagsRequest>,
) -> Result<pb::BulkEditTagsResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let max = api.settings.max_bulk_tags;
    let (tags, mode, explicit) = read_bulk(&body, max)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "BulkEditTags", &body).await? {
        return Ok(answer);
    }
    check_tags_exist(&tx, &ctx, "tag_ids", &tags).await?;
    let settings = store::settings::get(&tx, &ctx.tenant).await?;
    let clients = match (explicit, &body.target) {
        (Some(ids), _) => {
            // Only live clients of this tenant that the caller sees are touched.
            let mut filter = list_filter(&ctx, &settings.default_phone_region, "", &[], &[], &[])?;
            filter.only_ids = Some(ids);
            store::list::ids(&tx, &ctx.tenant, &filter.as_store_filter(), max).await?
        }
        (None, Some(Target::Query(query))) => {
            let filter = list_filter(&ctx, &settings.default_phone_region, query, &[], &[], &[])?;
            store::list::ids(&tx, &ctx.tenant, &filter.as_store_filter(), max + 1).await?
        }
        _ => Vec::new(),
    };
    if clients.len() as i64 > max {
        return Err(ApiError::field("query", &format!("matches more than {max} clients; narrow it")));
    }
    let mut changed = match mode {
        Mode::Add => store::tags::add(&tx, &ctx.tenant, &clients, &tags).await?,
        Mode::Remove => store::tags::remove(&tx, &ctx.tenant, &clients, &tags).await?,
        _ => {
            let mut c = store::tags::remove_others(&tx, &ctx.tenant, &clients, &tags).await?;
            c.extend(store::tags::add(&tx, &ctx.tenant, &clients, &tags).await?);
            c
        }
    };
    changed.sort();
    changed.dedup();
    let mode_name = format!("{mode:?}").to_lowercase();
    changed_clients(&tx, &ctx, &changed, json!({ "bulk": mode_name, "tag_ids": body.tag_ids })).await?;
    let answer = pb::BulkEditTagsResponse { matched: clients.len() as i64, changed: changed.len() as i64 };
    idempotency::keep(&tx, &ctx, "", &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}
