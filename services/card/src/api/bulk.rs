//! Listing cards by filter, bulk change (CA-4) and merging cards (CA-5).
use super::holders::check_scope;
use super::{CardApi, Ctx};
use crate::domain::bulk::{Outcome, Tally};
use crate::domain::filter::CardFilter;
use crate::store::{self, bulk::Where};
use crate::{domain, events};
use loyalty_api::card::v1 as pb;
use loyalty_api::card::v1::bulk_change_cards_request::Selection;
use loyalty_platform::CardId;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::idempotency;
use loyalty_platform::outbox::publish_many;
use uuid::Uuid;

/// Listing and bulk change span the chain's cards: not for a token limited to some stores.
fn whole_chain(ctx: &Ctx, what: &str) -> ApiResult<()> {
    if ctx.principal.store_scope().is_some() {
        return Err(ApiError::denied(format!("a store-scoped token cannot {what}: it spans every store's cards")));
    }
    Ok(())
}

pub async fn list(api: &CardApi, request: tonic::Request<pb::ListCardsRequest>) -> ApiResult<pb::ListCardsResponse> {
    let ctx = api.ctx(&request, None)?;
    whole_chain(&ctx, "list cards")?;
    let body = request.into_inner();
    let page = body.page.unwrap_or_default();
    let size = i64::from(if page.page_size <= 0 { 50 } else { page.page_size.min(1000) });
    let filter = CardFilter::parse(&body.filter.unwrap_or_default())?;
    let after = if page.page_token.is_empty() {
        Uuid::nil()
    } else {
        Uuid::parse_str(&page.page_token)
            .map_err(|_| ApiError::field("page.page_token", "is not a token this list gave"))?
    };
    let w = Where::of(&filter);
    let conn = api.conn().await?;
    let total = store::bulk::count(&conn, &ctx.tenant, &w).await?;
    let mut cards = store::bulk::page(&conn, &ctx.tenant, &w, after, size + 1).await?;
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

/// Reads what a bulk change may set, every problem at once.
fn check_change(change: &pb::CardChange) -> ApiResult<Option<Uuid>> {
    let mut v = Violations::new();
    let template = if change.template_id.is_empty() {
        None
    } else {
        v.take("change.template_id", Uuid::parse_str(&change.template_id).map_err(|_| "is not an id"))
    };
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
    Ok(template)
}

/// The selected cards, locked, and the listed numbers that are no card.
async fn select(
    api: &CardApi,
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &Ctx,
    selection: Option<Selection>,
) -> ApiResult<(Vec<pb::Card>, Vec<String>)> {
    let max = api.settings.max_bulk_change;
    match selection {
        Some(Selection::Numbers(list)) => {
            if list.numbers.len() as i64 > max {
                return Err(ApiError::field("numbers", &format!("at most {max} numbers per call")));
            }
            let cards = store::bulk::lock_numbers(tx, &ctx.tenant, &list.numbers).await?;
            let unknown = list.numbers.iter().filter(|n| !cards.iter().any(|c| &c.number == *n)).cloned().collect();
            Ok((cards, unknown))
        }
        Some(Selection::Filter(filter)) => {
            let filter = CardFilter::parse(&filter)?;
            let cards = store::bulk::lock_matching(tx, &ctx.tenant, &Where::of(&filter), max + 1).await?;
            if cards.len() as i64 > max {
                return Err(ApiError::field("filter", &format!("selects more than {max} cards; narrow it")));
            }
            Ok((cards, Vec::new()))
        }
        None => Err(ApiError::field("selection", "give a filter or a list of numbers")),
    }
}

fn report(
    matched: usize,
    changed: usize,
    tally: Tally,
    unknown_numbers: Vec<String>,
    dry_run: bool,
) -> pb::BulkChangeCardsResponse {
    let applies = unknown_numbers.is_empty();
    pb::BulkChangeCardsResponse {
        matched: matched as i64,
        changed: if applies { changed as i64 } else { 0 },
        changed_by_field: if applies { tally.changed_by_field } else { Default::default() },
        unknown_numbers,
        dry_run,
        refused_by_status: tally.refused_by_status,
    }
}

pub async fn bulk_change(
    api: &CardApi,
    request: tonic::Request<pb::BulkChangeCardsRequest>,
) -> ApiResult<pb::BulkChangeCardsResponse> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    whole_chain(&ctx, "change cards in bulk")?;
    let body = request.into_inner();
    let change = body.change.clone().unwrap_or_default();
    let template = check_change(&change)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "BulkChangeCards", &body).await? {
        return Ok(answer);
    }
    if let Some(id) = template
        && store::settings::get_template(&tx, &ctx.tenant, id).await?.is_none()
    {
        return Err(ApiError::field("change.template_id", "is not a template of this tenant"));
    }
    let (cards, unknown) = select(api, &tx, &ctx, body.selection.clone()).await?;
    let mut tally = Tally::default();
    let changes: Vec<pb::Card> = cards
        .iter()
        .filter_map(|c| match domain::bulk::apply(c, &change, &mut tally) {
            Outcome::Changed(card) => Some(*card),
            Outcome::Unchanged | Outcome::Refused(_) => None,
        })
        .collect();
    let answer = report(cards.len(), changes.len(), tally, unknown, body.dry_run);
    if body.dry_run || !answer.unknown_numbers.is_empty() {
        return Ok(answer);
    }
    write(&tx, &ctx, &changes).await?;
    idempotency::keep(&tx, &ctx, "", &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// Writes changed cards and publishes their events.
async fn write(tx: &deadpool_postgres::Transaction<'_>, ctx: &Ctx, changes: &[pb::Card]) -> ApiResult<()> {
    let mut rows = Vec::with_capacity(changes.len());
    for c in changes {
        let id = CardId::parse("card.id", &c.id)?;
        let template = if c.template_id.is_empty() { None } else { Uuid::parse_str(&c.template_id).ok() };
        rows.push((id, template, domain::status_name(c.status).unwrap_or("active"), c.tags.as_slice()));
    }
    store::bulk::write_changes(tx, &ctx.tenant, &rows, ctx.now).await?;
    let events: Vec<_> = changes.iter().map(|c| events::changed(ctx, c, "updated")).collect();
    publish_many(tx, &events).await?;
    Ok(())
}

/// The cards a merge names: the target first, then the others, each named once.
fn merge_ids(body: &pb::MergeCardsRequest) -> ApiResult<(CardId, Vec<CardId>)> {
    let target = CardId::parse("target_card_id", &body.target_card_id)?;
    if body.merged_card_ids.is_empty() {
        return Err(ApiError::field("merged_card_ids", "name at least one card"));
    }
    let mut merged = Vec::new();
    for (i, text) in body.merged_card_ids.iter().enumerate() {
        let field = format!("merged_card_ids[{i}]");
        let id = CardId::parse(&field, text)?;
        if id == target || merged.contains(&id) {
            return Err(ApiError::field(&field, "repeats the target or another card"));
        }
        merged.push(id);
    }
    Ok((target, merged))
}

/// Locks the cards of a merge in id order (two merges never wait on each other in a circle).
async fn lock_all(tx: &deadpool_postgres::Transaction<'_>, ctx: &Ctx, ids: &[CardId]) -> ApiResult<Vec<pb::Card>> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    let mut cards = Vec::new();
    for id in sorted {
        let card = store::get(tx, &ctx.tenant, id, true).await?.ok_or(ApiError::NotFound("card"))?;
        let status = domain::status_name(card.status).unwrap_or("active");
        if !domain::may_become(status, "merged") {
            return Err(ApiError::precondition(format!("card {} is {status} and cannot be merged", card.number)));
        }
        cards.push(card);
    }
    Ok(cards)
}

pub async fn merge(api: &CardApi, request: tonic::Request<pb::MergeCardsRequest>) -> ApiResult<pb::Card> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let (target_id, merged_ids) = merge_ids(&body)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "MergeCards", &body).await? {
        return Ok(answer);
    }
    let all: Vec<CardId> = merged_ids.iter().copied().chain([target_id]).collect();
    let cards = lock_all(&tx, &ctx, &all).await?;
    let target = cards.iter().find(|c| c.id == target_id.to_string()).cloned().ok_or(ApiError::NotFound("card"))?;
    check_scope(api, &ctx, &target.client_id).await?;
    if cards.iter().any(|c| c.client_id != target.client_id) {
        return Err(ApiError::precondition("merged cards must belong to one client"));
    }
    let mut tags = target.tags.clone();
    for t in cards.iter().flat_map(|c| &c.tags) {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    store::bulk::merge(&tx, &ctx.tenant, target_id, &merged_ids, (&tags, ctx.now)).await?;
    let target = store::get(&tx, &ctx.tenant, target_id, false).await?.ok_or(ApiError::NotFound("card"))?;
    let mut published = vec![events::changed(&ctx, &target, "updated")];
    for id in &merged_ids {
        if let Some(c) = store::get(&tx, &ctx.tenant, *id, false).await? {
            published.push(events::changed(&ctx, &c, "merged"));
        }
    }
    let merged_text: Vec<String> = merged_ids.iter().map(ToString::to_string).collect();
    published.push(events::merged(&ctx, &target, &merged_text));
    publish_many(&tx, &published).await?;
    idempotency::keep(&tx, &ctx, &target.client_id, &target).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(target)
}
