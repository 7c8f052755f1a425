//! The ledger's reads over gRPC: balances, purchases, history and its CSV export, verification. A
//! client id must be one of the tenant's clients and one the caller can see.
use super::context::{Ctx, client, conceals_holder, holder};
use super::{LedgerApi, convert};
use crate::store;
use crate::store::entries::EntryQuery;
use crate::store::purchases::PurchaseQuery;
use deadpool_postgres::GenericClient;
use loyalty_api::common::v1::{FileChunk, PageInfo};
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::from_timestamp;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::{ClientId, PurchaseId};
use time::OffsetDateTime;

/// A client's balance as the API shows it, with the level's name and discount.
async fn balance_of(db: &impl GenericClient, ctx: &Ctx, client: ClientId) -> ApiResult<pb::Balance> {
    let (view, programme) = futures::try_join!(
        store::balances::view(db, &ctx.tenant, client),
        store::programmes::at(db, &ctx.tenant, ctx.now)
    )?;
    Ok(convert::balance_with_level(&client.to_string(), &view, &programme))
}

pub async fn balance(api: &LedgerApi, request: tonic::Request<pb::GetBalanceRequest>) -> ApiResult<pb::Balance> {
    let ctx = api.ctx(&request, None)?;
    let body = request.get_ref();
    let conn = api.conn().await?;
    let client = holder(api, &conn, &ctx, (&body.client_id, &body.card_number)).await?;
    let mut balance = balance_of(&conn, &ctx, client).await?;
    if conceals_holder(&ctx, body.client_id.is_empty()) {
        balance.client_id.clear();
    }
    Ok(balance)
}

pub async fn balances(
    api: &LedgerApi,
    request: tonic::Request<pb::BatchGetBalancesRequest>,
) -> ApiResult<pb::BatchGetBalancesResponse> {
    let ctx = api.ctx(&request, None)?;
    if request.get_ref().client_ids.len() > 1000 {
        return Err(ApiError::field("client_ids", "at most 1000 per call"));
    }
    let conn = api.conn().await?;
    let mut out = Vec::new();
    for (i, id) in request.get_ref().client_ids.iter().enumerate() {
        let id = ClientId::parse(&format!("client_ids[{i}]"), id)?;
        // Ids the caller cannot see are left out, as BatchGetClients does.
        if let Ok(seen) = client(api, &conn, &ctx, id).await {
            out.push(balance_of(&conn, &ctx, seen).await?);
        }
    }
    Ok(pb::BatchGetBalancesResponse { balances: out })
}

pub async fn get_purchase(api: &LedgerApi, request: tonic::Request<pb::GetPurchaseRequest>) -> ApiResult<pb::Purchase> {
    let ctx = api.ctx(&request, None)?;
    let id = PurchaseId::parse("purchase_id", &request.get_ref().purchase_id)?;
    let conn = api.conn().await?;
    let purchase = store::purchases::get(&conn, &ctx.tenant, id).await?.ok_or(ApiError::NotFound("purchase"))?;
    let buyer = ClientId::parse("client_id", &purchase.client_id)?;
    client(api, &conn, &ctx, buyer).await.map_err(|_| ApiError::NotFound("purchase"))?;
    Ok(purchase)
}

fn period(
    p: &Option<loyalty_api::common::v1::TimeRange>,
) -> ApiResult<(Option<OffsetDateTime>, Option<OffsetDateTime>)> {
    let range = (*p).unwrap_or_default();
    let read = |t: Option<prost_types::Timestamp>, f: &str| {
        t.map(|t| from_timestamp(&t).ok_or_else(|| ApiError::field(f, "is out of range"))).transpose()
    };
    Ok((read(range.start, "period.start")?, read(range.end, "period.end")?))
}

/// A list's page size: `default` when none is asked, at most `max`.
fn page_size(p: &Option<loyalty_api::common::v1::PageRequest>, (default, max): (i64, i32)) -> ApiResult<i64> {
    match p.as_ref().map(|p| p.page_size).unwrap_or(0) {
        n if n < 0 => Err(ApiError::field("page.page_size", "must not be negative")),
        0 => Ok(default),
        n => Ok(i64::from(n.min(max))),
    }
}

/// Entry kinds as stored ("earned"); an unknown one is the caller's mistake.
fn kind_names(kinds: &[i32]) -> ApiResult<Vec<String>> {
    let names: Vec<String> = kinds.iter().filter_map(|k| kind_name(*k)).map(String::from).collect();
    if names.len() != kinds.len() {
        return Err(ApiError::field("kinds", "holds an unknown entry kind"));
    }
    Ok(names)
}

fn page_token(p: &Option<loyalty_api::common::v1::PageRequest>) -> Option<&str> {
    p.as_ref().map(|p| p.page_token.as_str()).filter(|t| !t.is_empty())
}

pub async fn list_purchases(
    api: &LedgerApi,
    request: tonic::Request<pb::ListPurchasesRequest>,
) -> ApiResult<pb::ListPurchasesResponse> {
    let ctx = api.ctx(&request, None)?;
    let body = request.into_inner();
    let (start, end) = period(&body.period)?;
    let size = page_size(&body.page, (50, 1000))?;
    let before = match page_token(&body.page) {
        Some(t) => Some(
            PurchaseId::parse("page.page_token", t)
                .map_err(|_| ApiError::field("page.page_token", "is not a token this list gave"))?,
        ),
        None => None,
    };
    let conn = api.conn().await?;
    let client = client(api, &conn, &ctx, ClientId::parse("client_id", &body.client_id)?).await?;
    let q = PurchaseQuery { client, start, end, before, limit: size + 1 };
    let (mut purchases, total) = store::purchases::list(&conn, &ctx.tenant, &q).await?;
    let next_page_token = if purchases.len() as i64 > size {
        purchases.truncate(size as usize);
        purchases.last().map(|p| p.id.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(pb::ListPurchasesResponse { purchases, page: Some(PageInfo { next_page_token, total_size: total }) })
}

fn kind_name(k: i32) -> Option<&'static str> {
    Some(match pb::EntryKind::try_from(k).ok()? {
        pb::EntryKind::Earned => "earned",
        pb::EntryKind::Activated => "activated",
        pb::EntryKind::Spent => "spent",
        pb::EntryKind::Adjusted => "adjusted",
        pb::EntryKind::Expired => "expired",
        pb::EntryKind::Reserved => "reserved",
        pb::EntryKind::Released => "released",
        pb::EntryKind::CancelledByReturn => "cancelled_by_return",
        pb::EntryKind::RefundedByReturn => "refunded_by_return",
        pb::EntryKind::MovedByMerge => "moved_by_merge",
        pb::EntryKind::Debt => "debt",
        pb::EntryKind::Blocked => "blocked",
        pb::EntryKind::Unblocked => "unblocked",
        pb::EntryKind::MergeUsed => "merge_used",
        pb::EntryKind::MergeExpired => "merge_expired",
        pb::EntryKind::MergeCancelled => "merge_cancelled",
        pb::EntryKind::MergeEarned => "merge_earned",
        pb::EntryKind::Unspecified => return None,
    })
}

async fn entry_query(
    api: &LedgerApi,
    db: &impl GenericClient,
    ctx: &Ctx,
    (client_id, range, kinds): (&str, &Option<loyalty_api::common::v1::TimeRange>, &[i32]),
) -> ApiResult<EntryQuery> {
    let (start, end) = period(range)?;
    let names = kind_names(kinds)?;
    let client = client(api, db, ctx, ClientId::parse("client_id", client_id)?).await?;
    Ok(EntryQuery { client, start, end, kinds: names })
}

pub async fn entries(
    api: &LedgerApi,
    request: tonic::Request<pb::ListEntriesRequest>,
) -> ApiResult<pb::ListEntriesResponse> {
    let ctx = api.ctx(&request, None)?;
    let body = request.into_inner();
    let size = page_size(&body.page, (50, 1000))?;
    let before: Option<i64> = match page_token(&body.page) {
        Some(t) => Some(t.parse().map_err(|_| ApiError::field("page.page_token", "is not a token this list gave"))?),
        None => None,
    };
    let conn = api.conn().await?;
    let q = entry_query(api, &conn, &ctx, (&body.client_id, &body.period, &body.kinds)).await?;
    let (rows, total) = store::entries::page(&conn, &ctx.tenant, &q, (before, size + 1)).await?;
    let has_more = rows.len() as i64 > size;
    let rows = &rows[..rows.len().min(size as usize)];
    let next_page_token =
        if has_more { rows.last().map(|r| r.seq.to_string()).unwrap_or_default() } else { String::new() };
    Ok(pb::ListEntriesResponse {
        entries: rows.iter().map(|r| r.entry.clone()).collect(),
        page: Some(PageInfo { next_page_token, total_size: total }),
    })
}

/// Many clients' entries in pages (IE-5). Named ids the caller cannot see are left out by the
/// store scope in the query itself, so one call serves a thousand clients.
pub async fn operations(
    api: &LedgerApi,
    request: tonic::Request<pb::ListOperationsRequest>,
) -> ApiResult<pb::ListOperationsResponse> {
    let ctx = api.ctx(&request, None)?;
    let body = request.into_inner();
    if body.client_ids.len() > 1000 {
        return Err(ApiError::field("client_ids", "at most 1000 per call"));
    }
    let clients = body
        .client_ids
        .iter()
        .enumerate()
        .map(|(i, id)| ClientId::parse(&format!("client_ids[{i}]"), id).map(ClientId::uuid))
        .collect::<ApiResult<Vec<_>>>()?;
    let (start, end) = period(&body.period)?;
    let kinds = kind_names(&body.kinds)?;
    let limit = page_size(&body.page, (1000, 5000))?;
    let after = match page_token(&body.page) {
        Some(t) => {
            operations_cursor(t).ok_or_else(|| ApiError::field("page.page_token", "is not a token this list gave"))?
        }
        None => (uuid::Uuid::nil(), -1),
    };
    let stores = ctx.principal.store_scope().map(<[String]>::to_vec);
    let q = store::entries::OperationsQuery { clients, start, end, kinds, stores, after, limit: limit + 1 };
    let conn = api.conn().await?;
    let mut rows = store::entries::operations(&conn, &ctx.tenant, &q).await?;
    let next_page_token = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| format!("{}:{}", r.entry.client_id, r.seq)).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(pb::ListOperationsResponse { entries: rows.into_iter().map(|r| r.entry).collect(), next_page_token })
}

fn operations_cursor(token: &str) -> Option<(uuid::Uuid, i64)> {
    let (client, seq) = token.split_once(':')?;
    Some((client.parse().ok()?, seq.parse().ok()?))
}

fn csv_field(text: &str) -> String {
    // A cell that a spreadsheet would read as a formula is written as text.
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The history as CSV (LE-10, 001 "Export"), in chunks of at most 1 MiB.
pub async fn export(api: &LedgerApi, request: tonic::Request<pb::ExportEntriesRequest>) -> ApiResult<Vec<FileChunk>> {
    let ctx = api.ctx(&request, None)?;
    let body = request.into_inner();
    let conn = api.conn().await?;
    let q = entry_query(api, &conn, &ctx, (&body.client_id, &body.period, &body.kinds)).await?;
    let rows = store::entries::all(&conn, &ctx.tenant, &q).await?;
    let mut csv = String::from("time,kind,points,source,actor,comment,purchase_id,reservation_id,hash\n");
    for r in &rows {
        let e = &r.entry;
        let at = r.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let actor = e.actor.as_ref().map(|a| a.id.clone()).unwrap_or_default();
        csv.push_str(&format!(
            "{at},{},{},{},{},{},{},{},{}\n",
            r.kind,
            e.points,
            csv_field(&e.source),
            csv_field(&actor),
            csv_field(&e.comment),
            e.purchase_id,
            e.reservation_id,
            e.hash
        ));
    }
    let bytes = csv.into_bytes();
    let chunks = bytes.chunks(1 << 20);
    Ok(chunks.enumerate().map(|(i, c)| FileChunk { data: c.to_vec(), offset: (i << 20) as i64 }).collect())
}

pub async fn verify(
    api: &LedgerApi,
    request: tonic::Request<pb::VerifyAccountRequest>,
) -> ApiResult<pb::VerifyAccountResponse> {
    let ctx = api.ctx(&request, None)?;
    let mut conn = api.conn().await?;
    let client = client(api, &conn, &ctx, ClientId::parse("client_id", &request.get_ref().client_id)?).await?;
    // One snapshot for the cached balances, the entries and the lots: a change committing between
    // the reads (the expiry sweep, a purchase) must not look like a discrepancy.
    let tx = conn
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let check = store::balances::verify(&tx, &ctx.tenant, client).await?;
    tx.commit().await?;
    let wire = |b: &crate::domain::account::Balance| pb::Balance {
        client_id: client.to_string(),
        available: b.available,
        pending: b.pending,
        reserved: b.reserved,
        used: b.used,
        expired: b.expired,
        debt: b.debt,
        ..Default::default()
    };
    Ok(pb::VerifyAccountResponse {
        consistent: check.consistent(),
        cached: Some(wire(&check.cached)),
        recomputed: Some(wire(&check.recomputed)),
        broken_entry_id: check.broken_entry_id.clone().unwrap_or_default(),
        entries_checked: check.entries_checked,
    })
}
