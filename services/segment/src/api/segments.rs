//! Saved segments over gRPC: create, read, change, delete, list. Definitions are the tenant's;
//! sizes count only the clients a store-scoped token may see. Every write takes the next
//! `segment_seq` and is loaded back into this replica's model before the answer, so the caller
//! reads their own write.
use super::{SegmentApi, audience};
use crate::domain::segments::{self, Kind, Saved};
use crate::model::Tenant;
use crate::store;
use loyalty_api::events::v1::{SegmentChanged, event::Payload};
use loyalty_api::segment::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::request::Caller;
use std::sync::{Arc, RwLock};
use tonic::Request;
use uuid::Uuid;

/// The caller and their tenant's model.
pub(super) struct Asked {
    pub caller: Caller,
    pub tenant: Arc<RwLock<Tenant>>,
    pub today: i64,
}

pub(super) fn asked<T>(api: &SegmentApi, r: &Request<T>) -> ApiResult<Asked> {
    let a = super::filters::asked(api, r)?;
    Ok(Asked { caller: a.caller, tenant: a.tenant, today: a.today })
}

pub(super) fn read(t: &Arc<RwLock<Tenant>>) -> std::sync::RwLockReadGuard<'_, Tenant> {
    t.read().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn segment_id(text: &str, field: &str) -> ApiResult<Uuid> {
    segments::key(text).ok_or_else(|| ApiError::field(field, "is not a segment id; ListSegments names them"))
}

/// A segment the caller may change: any saved one, never a built-in one.
fn own(t: &Tenant, id: Uuid) -> ApiResult<Saved> {
    let saved = find(t, id)?;
    if saved.kind.built_in() {
        return Err(ApiError::precondition(format!(
            "{} is built in: change its thresholds with UpdateAutomaticSegmentSettings",
            segments::shown(id)
        )));
    }
    Ok(saved)
}

/// The saved segment `id` of the tenant, or NOT_FOUND.
pub(super) fn find(t: &Tenant, id: Uuid) -> ApiResult<Saved> {
    t.segments.get(&id).cloned().ok_or(ApiError::NotFound("segment"))
}

/// The segment as the caller sees it: its size within their stores, and who uses it.
pub(super) async fn answer(api: &SegmentApi, a: &Asked, s: Saved) -> ApiResult<pb::Segment> {
    let mut one = answers(api, a, vec![s]).await?;
    one.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a segment answered nothing")))
}

/// Segments as the caller sees them: one read of the campaigns that use them, one pass over the
/// model (the store scope computed once for all of them).
async fn answers(api: &SegmentApi, a: &Asked, all: Vec<Saved>) -> ApiResult<Vec<pb::Segment>> {
    let conn = api.pool.get().await?;
    let ids: Vec<Uuid> = all.iter().map(|s| s.id).collect();
    let mut campaigns = store::segments::campaign_ids(&conn, &a.caller.tenant, &ids).await?;
    let stores = a.caller.principal.store_scope().map(<[String]>::to_vec);
    let (tenant, today) = (a.tenant.clone(), a.today);
    let figures = super::filters::on_model(tenant, move |t| {
        let visible = stores.as_ref().map(|stores| audience::visible(t, stores, today));
        let figures = ids
            .iter()
            .map(|id| {
                let mut members =
                    segments::members(&t.population, &t.segments, &id.to_string(), today, &t.phone_region)
                        .unwrap_or_default();
                if let Some(visible) = &visible {
                    members.and(visible);
                }
                let users: Vec<String> =
                    segments::used_by(&t.segments, *id).iter().map(|u| segments::shown(u.id)).collect();
                (members.count() as i64, users)
            })
            .collect::<Vec<_>>();
        Ok(figures)
    })
    .await?;
    let facts_as_of = api.model.as_of().map(to_timestamp);
    Ok(all
        .into_iter()
        .zip(figures)
        .map(|(s, (size, used_by_segment_ids))| pb::Segment {
            id: segments::shown(s.id),
            etag: s.etag(),
            used_by_campaign_ids: campaigns.remove(&s.id).unwrap_or_default(),
            name: s.name,
            colour: s.colour,
            description: s.description,
            kind: match s.kind {
                Kind::Dynamic => pb::SegmentKind::Dynamic as i32,
                Kind::Static => pb::SegmentKind::Static as i32,
                Kind::Automatic => pb::SegmentKind::Automatic as i32,
                Kind::Rfm => pb::SegmentKind::Rfm as i32,
            },
            filter: s.filter,
            size,
            created_at: Some(to_timestamp(s.created_at)),
            updated_at: Some(to_timestamp(s.updated_at)),
            snapshot_at: s.snapshot_at.map(to_timestamp),
            used_by_segment_ids,
            facts_as_of,
        })
        .collect())
}

/// Name, colour and description checked, every problem at once.
fn check_labels(s: &pb::Segment, v: &mut Violations) {
    if s.name.trim().is_empty() {
        v.add("segment.name", "is required: name the segment as people will find it");
    }
    let hex = s.colour.strip_prefix('#').is_some_and(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
    if !s.colour.is_empty() && !hex {
        v.add("segment.colour", "must be a colour written #rrggbb, such as #2e7d32");
    }
}

/// The filter of a segment checked: its conditions, the segments it names (they must exist and
/// must not lead back to `itself`).
fn check_filter(t: &Tenant, filter: &loyalty_api::filter::v1::Filter, itself: Uuid, v: &mut Violations) {
    for p in crate::domain::validate::check(filter, "segment.filter") {
        v.add(p.field, p.message);
    }
    if let Err(ApiError::InvalidArgument(found)) = audience::known_segments(t, filter, "segment.filter") {
        v.extend(found);
    }
    for id in segments::references(filter) {
        if id == itself.to_string() || segments::reaches(&t.segments, &id, itself) {
            v.add("segment.filter", format!("names the segment {id:?}, which leads back to this one (a cycle)"));
        }
    }
}

pub async fn create(api: &SegmentApi, r: Request<pb::CreateSegmentRequest>) -> ApiResult<pb::Segment> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let Some(given) = body.segment else { return Err(ApiError::field("segment", "give the segment to create")) };
    let id = Uuid::now_v7();
    let kind = match pb::SegmentKind::try_from(given.kind) {
        Ok(pb::SegmentKind::Dynamic) => Kind::Dynamic,
        Ok(pb::SegmentKind::Static) => Kind::Static,
        Ok(pb::SegmentKind::Automatic | pb::SegmentKind::Rfm) => {
            return Err(ApiError::field(
                "segment.kind",
                "automatic and RFM segments are built in; create dynamic or static",
            ));
        }
        _ => {
            return Err(ApiError::field("segment.kind", "choose dynamic (follows the data) or static (a frozen list)"));
        }
    };
    let mut v = Violations::new();
    check_labels(&given, &mut v);
    match (&given.filter, kind) {
        (Some(f), _) => check_filter(&read(&a.tenant), f, id, &mut v),
        (None, Kind::Dynamic) => v.add("segment.filter", "is required: a dynamic segment is its conditions"),
        (None, Kind::Static | Kind::Automatic | Kind::Rfm) => {}
    }
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    let now = a.caller.now;
    let snapshot = kind == Kind::Static && given.filter.is_some();
    let saved = Saved {
        id,
        name: given.name.trim().to_string(),
        colour: given.colour.to_lowercase(),
        description: given.description.trim().to_string(),
        kind,
        filter: given.filter,
        version: 1,
        created_at: now,
        updated_at: now,
        snapshot_at: snapshot.then_some(now),
        members: Vec::new(),
        announce: body.announce_initial_members,
    };
    let members = match kind {
        Kind::Static if snapshot => Some(super::members::snapshot(&a, &saved).await?),
        Kind::Static => Some(Vec::new()),
        Kind::Dynamic | Kind::Automatic | Kind::Rfm => None,
    };
    write(api, &a, &saved, members.as_deref()).await?;
    let saved = find(&read(&a.tenant), id)?;
    answer(api, &a, saved).await
}

/// Saves `s` and its event in one transaction, then loads it into this replica's model.
pub(super) async fn write(api: &SegmentApi, a: &Asked, s: &Saved, members: Option<&[Uuid]>) -> ApiResult<()> {
    let mut conn = api.pool.get().await?;
    let tx = conn.transaction().await.map_err(anyhow::Error::from)?;
    if store::segments::name_taken(&tx, &a.caller.tenant, &s.name, s.id).await? {
        return Err(ApiError::AlreadyExists(format!(
            "a segment named {:?} exists already; choose another name",
            s.name
        )));
    }
    if s.version > 1 {
        let stored = store::segments::lock_version(&tx, &a.caller.tenant, s.id).await?;
        if stored != Some(s.version - 1) {
            return Err(ApiError::Aborted("the segment changed since it was read; read it again and retry".into()));
        }
    }
    store::segments::save(&tx, &a.caller.tenant, s, members).await?;
    let changed = SegmentChanged {
        segment_id: s.id.to_string(),
        name: s.name.clone(),
        kind: s.kind.as_str().into(),
        deleted: false,
    };
    loyalty_platform::outbox::publish(&tx, &a.caller.event(&s.id.to_string(), Payload::SegmentChanged(changed)))
        .await?;
    loyalty_platform::outbox::commit(tx).await.map_err(anyhow::Error::from)?;
    api.model.follow_segments(&api.pool).await?;
    Ok(())
}

pub async fn get(api: &SegmentApi, r: Request<pb::GetSegmentRequest>) -> ApiResult<pb::Segment> {
    let a = asked(api, &r)?;
    let id = segment_id(&r.get_ref().segment_id, "segment_id")?;
    let saved = find(&read(&a.tenant), id)?;
    answer(api, &a, saved).await
}

pub async fn list(api: &SegmentApi, r: Request<pb::ListSegmentsRequest>) -> ApiResult<pb::ListSegmentsResponse> {
    let a = asked(api, &r)?;
    let kinds = &r.get_ref().kinds;
    let wanted = |k: Kind| {
        let as_pb = match k {
            Kind::Dynamic => pb::SegmentKind::Dynamic,
            Kind::Static => pb::SegmentKind::Static,
            Kind::Automatic => pb::SegmentKind::Automatic,
            Kind::Rfm => pb::SegmentKind::Rfm,
        };
        // The built-in ones only when asked for by kind.
        if kinds.is_empty() { !k.built_in() } else { kinds.contains(&(as_pb as i32)) }
    };
    let mut all: Vec<Saved> = read(&a.tenant).segments.values().filter(|s| wanted(s.kind)).cloned().collect();
    all.sort_by_key(|s| loyalty_platform::text::fold(&s.name));
    Ok(pb::ListSegmentsResponse { segments: answers(api, &a, all).await? })
}

pub async fn update(api: &SegmentApi, r: Request<pb::UpdateSegmentRequest>) -> ApiResult<pb::Segment> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let Some(given) = body.segment else { return Err(ApiError::field("segment", "give the segment with its id")) };
    let id = segment_id(&given.id, "segment.id")?;
    let mut saved = own(&read(&a.tenant), id)?;
    if !given.etag.is_empty() && given.etag != saved.etag() {
        return Err(ApiError::Aborted("the segment changed since this etag was read; read it again and retry".into()));
    }
    let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
    let mut v = Violations::new();
    if paths.is_empty() {
        v.add("update_mask", "names no field; list the fields to change (name, colour, description, filter)");
    }
    let mut retake = false;
    for path in &paths {
        match path.as_str() {
            "name" => {
                check_labels(&pb::Segment { name: given.name.clone(), ..Default::default() }, &mut v);
                saved.name = given.name.trim().to_string();
            }
            "colour" => {
                check_labels(
                    &pb::Segment { name: "x".into(), colour: given.colour.clone(), ..Default::default() },
                    &mut v,
                );
                saved.colour = given.colour.to_lowercase();
            }
            "description" => saved.description = given.description.trim().to_string(),
            "filter" => match (&given.filter, saved.kind, saved.filter.is_some()) {
                (None, _, _) => v.add("segment.filter", "is required; a segment without conditions is a manual list"),
                (Some(_), Kind::Static, false) => {
                    v.add("segment.filter", "a manual list has no filter; create a snapshot or a dynamic segment")
                }
                (Some(f), kind, _) => {
                    check_filter(&read(&a.tenant), f, id, &mut v);
                    saved.filter = Some(f.clone());
                    retake = kind == Kind::Static;
                }
            },
            other => {
                v.add("update_mask", format!("{other:?} cannot be changed; name, colour, description, filter can"))
            }
        }
    }
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    saved.version += 1;
    saved.updated_at = a.caller.now;
    let members = if retake {
        saved.snapshot_at = Some(a.caller.now);
        Some(super::members::snapshot(&a, &saved).await?)
    } else {
        None
    };
    write(api, &a, &saved, members.as_deref()).await?;
    let saved = find(&read(&a.tenant), id)?;
    answer(api, &a, saved).await
}

pub async fn delete(api: &SegmentApi, r: Request<pb::DeleteSegmentRequest>) -> ApiResult<pb::DeleteSegmentResponse> {
    let a = asked(api, &r)?;
    let id = segment_id(&r.get_ref().segment_id, "segment_id")?;
    let saved = own(&read(&a.tenant), id)?;
    let mut users: Vec<String> = segments::used_by(&read(&a.tenant).segments, id)
        .iter()
        .map(|s| format!("segment {:?} ({})", s.name, s.id))
        .collect();
    let mut conn = api.pool.get().await?;
    let tx = conn.transaction().await.map_err(anyhow::Error::from)?;
    users.extend(store::segments::users(&tx, &a.caller.tenant, id).await?);
    if !users.is_empty() {
        return Err(ApiError::precondition(format!(
            "the segment {:?} is used by {}; change their audience or conditions first",
            saved.name,
            users.join(", ")
        )));
    }
    if store::segments::delete(&tx, &a.caller.tenant, id, a.caller.now).await? {
        let changed = SegmentChanged {
            segment_id: id.to_string(),
            name: saved.name,
            kind: saved.kind.as_str().into(),
            deleted: true,
        };
        loyalty_platform::outbox::publish(&tx, &a.caller.event(&id.to_string(), Payload::SegmentChanged(changed)))
            .await?;
    }
    loyalty_platform::outbox::commit(tx).await.map_err(anyhow::Error::from)?;
    api.model.follow_segments(&api.pool).await?;
    Ok(pb::DeleteSegmentResponse {})
}
