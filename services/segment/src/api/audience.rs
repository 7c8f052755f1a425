//! Which clients an audience names, as the caller may see them: everyone, a saved segment, a
//! filter, clients by id, always within a store-scoped token's stores (the client
//! service's rule: registered in one of them, or bought in one).
use crate::domain::bits::Bits;
use crate::domain::evaluate::{Context, evaluate};
use crate::domain::segments;
use crate::domain::validate;
use crate::model::Tenant;
use loyalty_api::filter::v1::{
    Audience, Condition, Filter, Operator, Value, audience::Source, filter::Combinator, value,
};
use loyalty_platform::error::{ApiError, ApiResult, Violations};

/// The audience checked: every problem of its filter at once, by field path under `root`.
pub fn check(audience: &Option<Audience>, root: &str) -> ApiResult<()> {
    let mut v = Violations::new();
    match audience.as_ref().and_then(|a| a.source.as_ref()) {
        None => v.add(root, "choose everyone, a segment, a filter or clients by id"),
        Some(Source::Filter(f)) => {
            for p in validate::check(f, &format!("{root}.filter")) {
                v.add(p.field, p.message);
            }
        }
        Some(Source::ClientIds(ids)) => {
            if ids.client_ids.is_empty() {
                v.add(format!("{root}.client_ids.client_ids"), "name at least one client");
            }
            for (i, id) in ids.client_ids.iter().enumerate() {
                if uuid::Uuid::parse_str(id).is_err() {
                    v.add(format!("{root}.client_ids.client_ids[{i}]"), "is not a client id");
                }
            }
        }
        Some(Source::SegmentId(id)) if id.trim().is_empty() => v.add(format!("{root}.segment_id"), "name the segment"),
        Some(_) => {}
    }
    if v.is_empty() { Ok(()) } else { Err(ApiError::InvalidArgument(v)) }
}

/// The live clients of `t` that `audience` selects and `stores` (a token's scope) lets the caller
/// see. The audience was checked with [`check`].
pub fn select(t: &Tenant, audience: &Audience, stores: Option<&[String]>, today: i64) -> ApiResult<Bits> {
    let p = &t.population;
    let saved = |id: &str| segments::members(p, &t.segments, id, today, &t.phone_region);
    let cx = Context { today, phone_region: &t.phone_region, segment: &saved };
    let mut selected = match &audience.source {
        Some(Source::AllClients(_)) => p.live.clone(),
        Some(Source::Filter(f)) => {
            known_segments(t, f, "audience.filter")?;
            evaluate(p, f, &cx)
        }
        Some(Source::ClientIds(ids)) => {
            let mut b = Bits::none(p.len());
            for id in ids.client_ids.iter().filter_map(|i| uuid::Uuid::parse_str(i).ok()) {
                if let Some(row) = p.find(id) {
                    b.set(row as usize, true);
                }
            }
            b.and(&p.live);
            b
        }
        Some(Source::SegmentId(id)) => saved(id.trim()).ok_or(ApiError::NotFound("segment"))?,
        None => return Err(ApiError::field("audience", "choose everyone, a segment, a filter or clients by id")),
    };
    selected.grow(p.len());
    if let Some(stores) = stores {
        selected.and(&visible(t, stores, today));
    }
    Ok(selected)
}

/// INVALID_ARGUMENT when `filter` names a segment the tenant does not have.
pub fn known_segments(t: &Tenant, filter: &Filter, field: &str) -> ApiResult<()> {
    let mut v = Violations::new();
    for id in segments::references(filter) {
        let known = segments::key(&id).is_some_and(|u| t.segments.contains_key(&u));
        if !known {
            v.add(field, format!("names the segment {id:?}, which does not exist; ListSegments names them"));
        }
    }
    if v.is_empty() { Ok(()) } else { Err(ApiError::InvalidArgument(v)) }
}

/// The clients a token limited to `stores` sees: registered in one of them, or bought in one.
pub fn visible(t: &Tenant, stores: &[String], today: i64) -> Bits {
    let values: Vec<Value> = stores.iter().map(|s| Value { kind: Some(value::Kind::Text(s.clone())) }).collect();
    let condition = |fact: &str| Condition {
        fact: fact.into(),
        operator: Operator::AnyOf as i32,
        values: values.clone(),
        ..Default::default()
    };
    let scope = Filter {
        combinator: Combinator::Any as i32,
        conditions: vec![condition("client.registration_store"), condition("purchases.stores")],
        ..Default::default()
    };
    let no_segment = |_: &str| -> Option<Bits> { None };
    let cx = Context { today, phone_region: &t.phone_region, segment: &no_segment };
    evaluate(&t.population, &scope, &cx)
}
