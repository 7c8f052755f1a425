//! Listing cards by filter, bulk change (CA-4) and merging cards (CA-5).
use super::CardApi;
use super::cards::changed;
use super::context::{Ctx, uuid};
use crate::domain;
use crate::error::{CardError, Result};
use crate::store;
use loyalty_api::card::v1 as pb;
use loyalty_api::card::v1::bulk_change_cards_request::Selection;
use loyalty_api::events::v1::{CardsMerged, event::Payload};
use loyalty_platform::error::Violations;
use loyalty_platform::outbox::{publish, publish_many};
use std::collections::BTreeMap;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

const MAX_BULK: i64 = 200_000;

type Param = Box<dyn ToSql + Sync + Send>;

/// WHERE clause of a card filter; parameters start at $2 ($1 is the tenant).
fn filter_sql(f: &pb::CardFilter, params: &mut Vec<Param>) -> Result<String> {
    let mut v = Violations::new();
    let mut clauses = vec!["tenant_id = $1".to_string()];
    let bind = |params: &mut Vec<Param>, value: Param| {
        params.push(value);
        format!("${}", params.len() + 1)
    };
    let ids = |field: &str, list: &[String], v: &mut Violations| -> Vec<Uuid> {
        list.iter()
            .filter_map(|t| v.take(field, Uuid::parse_str(t).map_err(|_| "holds something that is not an id")))
            .collect()
    };
    let templates = ids("filter.template_ids", &f.template_ids, &mut v);
    if !templates.is_empty() {
        clauses.push(format!("template_id = ANY({})", bind(params, Box::new(templates))));
    }
    let forms = ids("filter.issue_form_ids", &f.issue_form_ids, &mut v);
    if !forms.is_empty() {
        clauses.push(format!("issue_form_id = ANY({})", bind(params, Box::new(forms))));
    }
    let kinds: Vec<String> = f.kinds.iter().filter_map(|k| domain::kind_name(*k)).map(String::from).collect();
    v.add_if(kinds.len() != f.kinds.len(), "filter.kinds", "holds an unknown kind");
    if !kinds.is_empty() {
        clauses.push(format!("kind = ANY({})", bind(params, Box::new(kinds))));
    }
    let statuses: Vec<String> = f.statuses.iter().filter_map(|s| domain::status_name(*s)).map(String::from).collect();
    v.add_if(statuses.len() != f.statuses.len(), "filter.statuses", "holds an unknown status");
    if !statuses.is_empty() {
        clauses.push(format!("status = ANY({})", bind(params, Box::new(statuses))));
    }
    if !f.store_ids.is_empty() {
        clauses.push(format!("store_id = ANY({})", bind(params, Box::new(f.store_ids.clone()))));
    }
    if !f.client_id.is_empty() {
        let client = v.take("filter.client_id", Uuid::parse_str(&f.client_id).map_err(|_| "is not an id"));
        clauses.push(format!("client_id = {}", bind(params, Box::new(client))));
    }
    if let Some(period) = &f.issued {
        if let Some(start) = period.start.as_ref().and_then(loyalty_platform::convert::from_timestamp) {
            clauses.push(format!("created_at >= {}", bind(params, Box::new(start))));
        }
        if let Some(end) = period.end.as_ref().and_then(loyalty_platform::convert::from_timestamp) {
            clauses.push(format!("created_at < {}", bind(params, Box::new(end))));
        }
    }
    if !f.number_from.is_empty() || !f.number_to.is_empty() {
        let (from, to) = (f.number_from.clone(), f.number_to.clone());
        let same_length = from.is_empty() || to.is_empty() || from.len() == to.len();
        v.add_if(!same_length, "filter.number_to", "must have as many digits as number_from");
        let length = if from.is_empty() { to.len() } else { from.len() } as i32;
        clauses.push(format!("length(number) = {}", bind(params, Box::new(length))));
        if !from.is_empty() {
            clauses.push(format!("number >= {}", bind(params, Box::new(from))));
        }
        if !to.is_empty() {
            clauses.push(format!("number <= {}", bind(params, Box::new(to))));
        }
    }
    v.into_result()?;
    Ok(clauses.join(" AND "))
}

fn refs<'a>(tenant: &'a String, params: &'a [Param]) -> Vec<&'a (dyn ToSql + Sync)> {
    std::iter::once(tenant as &(dyn ToSql + Sync))
        .chain(params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)))
        .collect()
}

pub async fn list(api: &CardApi, request: tonic::Request<pb::ListCardsRequest>) -> Result<pb::ListCardsResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let page = body.page.unwrap_or_default();
    let size = i64::from(if page.page_size <= 0 { 50 } else { page.page_size.min(1000) });
    let mut params: Vec<Param> = Vec::new();
    let condition = filter_sql(&body.filter.unwrap_or_default(), &mut params)?;
    let conn = api.conn().await?;
    let total: i64 = conn
        .query_one(&format!("SELECT count(*) FROM cards WHERE {condition}"), &refs(&ctx.tenant, &params))
        .await?
        .get(0);
    let after = if page.page_token.is_empty() { Uuid::nil() } else { uuid("page.page_token", &page.page_token)? };
    params.push(Box::new(after));
    params.push(Box::new(size + 1));
    let n = params.len();
    let sql = format!(
        "SELECT {} FROM cards WHERE {condition} AND id > ${} ORDER BY id LIMIT ${}",
        store::CARD_COLUMNS,
        n,
        n + 1
    );
    let rows = conn.query(&sql, &refs(&ctx.tenant, &params)).await?;
    let mut cards: Vec<pb::Card> = rows.iter().map(store::card).collect();
    let next_page_token = if cards.len() as i64 > size {
        cards.truncate(size as usize);
        cards.last().map(|c| c.id.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(pb::ListCardsResponse {
        cards,
        page: Some(loyalty_api::common::v1::PageInfo { next_page_token, total_size: total }),
    })
}

/// What a bulk change does to one card; `None` when it changes nothing.
fn apply(card: &pb::Card, change: &pb::CardChange, counts: &mut BTreeMap<String, i64>) -> Option<pb::Card> {
    let mut out = card.clone();
    let mut touched = false;
    if !change.template_id.is_empty() && card.template_id != change.template_id {
        out.template_id = change.template_id.clone();
        *counts.entry("template_id".into()).or_default() += 1;
        touched = true;
    }
    if change.status != 0 && card.status != change.status {
        out.status = change.status;
        *counts.entry("status".into()).or_default() += 1;
        touched = true;
    }
    let mut tags = card.tags.clone();
    tags.retain(|t| !change.remove_tags.contains(t));
    for t in &change.add_tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    if tags != card.tags {
        out.tags = tags;
        *counts.entry("tags".into()).or_default() += 1;
        touched = true;
    }
    touched.then_some(out)
}

pub async fn bulk_change(
    api: &CardApi,
    request: tonic::Request<pb::BulkChangeCardsRequest>,
) -> Result<pb::BulkChangeCardsResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let change = body.change.unwrap_or_default();
    let mut v = Violations::new();
    if !change.template_id.is_empty() {
        v.take("change.template_id", Uuid::parse_str(&change.template_id).map_err(|_| "is not an id"));
    }
    let allowed =
        [pb::CardStatus::Unspecified, pb::CardStatus::Active, pb::CardStatus::Blocked, pb::CardStatus::Deleted];
    v.add_if(
        !allowed.iter().any(|s| *s as i32 == change.status),
        "change.status",
        "bulk changes set active, blocked or deleted (replace and merge have their own calls)",
    );
    let nothing = change.template_id.is_empty()
        && change.status == 0
        && change.add_tags.is_empty()
        && change.remove_tags.is_empty();
    v.add_if(nothing, "change", "names nothing to change");
    v.into_result()?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if !change.template_id.is_empty() {
        let id = uuid("change.template_id", &change.template_id)?;
        if store::get_template(&tx, &ctx.tenant, id).await?.is_none() {
            return Err(CardError::field("change.template_id", "is not a template of this tenant"));
        }
    }
    let (cards, unknown_numbers) = match body.selection {
        Some(Selection::Numbers(list)) => {
            if list.numbers.len() as i64 > MAX_BULK {
                return Err(CardError::field("numbers", "at most 200000 numbers per call"));
            }
            let rows = tx
                .query(
                    &format!(
                        "SELECT {} FROM cards WHERE tenant_id = $1 AND number = ANY($2) ORDER BY id FOR UPDATE",
                        store::CARD_COLUMNS
                    ),
                    &[&ctx.tenant, &list.numbers],
                )
                .await?;
            let cards: Vec<pb::Card> = rows.iter().map(store::card).collect();
            let unknown =
                list.numbers.iter().filter(|n| !cards.iter().any(|c| &c.number == *n)).cloned().collect::<Vec<_>>();
            (cards, unknown)
        }
        Some(Selection::Filter(filter)) => {
            let mut params: Vec<Param> = Vec::new();
            let condition = filter_sql(&filter, &mut params)?;
            let sql = format!(
                "SELECT {} FROM cards WHERE {condition} ORDER BY id LIMIT {} FOR UPDATE",
                store::CARD_COLUMNS,
                MAX_BULK + 1
            );
            let cards: Vec<pb::Card> =
                tx.query(&sql, &refs(&ctx.tenant, &params)).await?.iter().map(store::card).collect();
            if cards.len() as i64 > MAX_BULK {
                return Err(CardError::field("filter", "selects more than 200000 cards; narrow it"));
            }
            (cards, Vec::new())
        }
        None => return Err(CardError::field("selection", "give a filter or a list of numbers")),
    };
    let mut counts = BTreeMap::new();
    let changes: Vec<pb::Card> = cards.iter().filter_map(|c| apply(c, &change, &mut counts)).collect();
    let report = |dry_run| pb::BulkChangeCardsResponse {
        matched: cards.len() as i64,
        changed: if unknown_numbers.is_empty() { changes.len() as i64 } else { 0 },
        changed_by_field: if unknown_numbers.is_empty() { counts.clone() } else { BTreeMap::new() }
            .into_iter()
            .collect(),
        unknown_numbers: unknown_numbers.clone(),
        dry_run,
    };
    if body.dry_run || !unknown_numbers.is_empty() {
        return Ok(report(body.dry_run));
    }
    let mut events = Vec::with_capacity(changes.len());
    for c in &changes {
        let id = uuid("card.id", &c.id)?;
        let template = if c.template_id.is_empty() { None } else { Some(uuid("card.template_id", &c.template_id)?) };
        let status = domain::status_name(c.status).unwrap_or("active");
        tx.execute(
            "UPDATE cards SET template_id = $3, status = $4, tags = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2",
            &[&ctx.tenant, &id, &template, &status, &c.tags, &ctx.now],
        )
        .await?;
        events.push(changed(&ctx, c, "updated"));
    }
    publish_many(&tx, &events).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(report(false))
}

pub async fn merge(api: &CardApi, request: tonic::Request<pb::MergeCardsRequest>) -> Result<pb::Card> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let target_id = uuid("target_card_id", &body.target_card_id)?;
    if body.merged_card_ids.is_empty() {
        return Err(CardError::field("merged_card_ids", "name at least one card"));
    }
    let mut merged_ids = Vec::new();
    for (i, text) in body.merged_card_ids.iter().enumerate() {
        let id = uuid(&format!("merged_card_ids[{i}]"), text)?;
        if id == target_id || merged_ids.contains(&id) {
            return Err(CardError::field(&format!("merged_card_ids[{i}]"), "repeats the target or another card"));
        }
        merged_ids.push(id);
    }
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let mut all: Vec<Uuid> = merged_ids.iter().copied().chain([target_id]).collect();
    all.sort();
    let mut cards = Vec::new();
    for id in &all {
        let card = store::get(&tx, &ctx.tenant, *id, true).await?.ok_or(CardError::NotFound("card"))?;
        let status = domain::status_name(card.status).unwrap_or("active");
        if !["active", "blocked"].contains(&status) {
            return Err(CardError::FailedPrecondition(format!(
                "card {} is {status} and cannot be merged",
                card.number
            )));
        }
        cards.push(card);
    }
    let target = cards.iter().find(|c| c.id == target_id.to_string()).cloned().ok_or(CardError::NotFound("card"))?;
    if cards.iter().any(|c| c.client_id != target.client_id) {
        return Err(CardError::FailedPrecondition("merged cards must belong to one client".into()));
    }
    let mut tags = target.tags.clone();
    for c in &cards {
        for t in &c.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
    }
    tx.execute(
        "UPDATE cards SET status = 'merged', successor_card_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = ANY($2)",
        &[&ctx.tenant, &merged_ids, &target_id, &ctx.now],
    )
    .await?;
    tx.execute(
        "UPDATE cards SET tags = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        &[&ctx.tenant, &target_id, &tags, &ctx.now],
    )
    .await?;
    let target = store::get(&tx, &ctx.tenant, target_id, false).await?.ok_or(CardError::NotFound("card"))?;
    let mut events = vec![changed(&ctx, &target, "updated")];
    for id in &merged_ids {
        if let Some(c) = store::get(&tx, &ctx.tenant, *id, false).await? {
            events.push(changed(&ctx, &c, "merged"));
        }
    }
    publish_many(&tx, &events).await?;
    let payload = CardsMerged {
        target_card_id: target.id.clone(),
        merged_card_ids: merged_ids.iter().map(ToString::to_string).collect(),
        client_id: target.client_id.clone(),
    };
    publish(&tx, &ctx.event(&target.id, Payload::CardsMerged(payload))).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(target)
}
