//! The ledger's reads over gRPC: programme, balances, purchases, history and its CSV export,
//! verification.
use super::LedgerApi;
use super::context::{Ctx, uuid};
use super::convert;
use crate::error::{LedgerError, Result};
use crate::purchases::Line;
use crate::{balances, programmes};
use loyalty_api::common::v1::{FileChunk, Money, PageInfo};
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use time::OffsetDateTime;
use tokio_postgres::types::Json;
use uuid::Uuid;

pub async fn get_programme(api: &LedgerApi, request: tonic::Request<pb::GetProgrammeRequest>) -> Result<pb::Programme> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let conn = api.conn().await?;
    Ok(convert::programme_to_wire(&programmes::at(&conn, &ctx.tenant, ctx.now).await?))
}

pub async fn programme_versions(
    api: &LedgerApi,
    request: tonic::Request<pb::ListProgrammeVersionsRequest>,
) -> Result<pb::ListProgrammeVersionsResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let conn = api.conn().await?;
    let versions = programmes::versions(&conn, &ctx.tenant)
        .await?
        .into_iter()
        .map(|(p, from)| pb::Programme { effective_from: Some(to_timestamp(from)), ..convert::programme_to_wire(&p) })
        .collect();
    Ok(pb::ListProgrammeVersionsResponse { versions })
}

/// A client's balance as the API shows it, with the level's name and discount.
pub async fn balance_of(db: &impl deadpool_postgres::GenericClient, ctx: &Ctx, client: Uuid) -> Result<pb::Balance> {
    let view = balances::view(db, &ctx.tenant, client).await?;
    let programme = programmes::at(db, &ctx.tenant, ctx.now).await?;
    let level = programme.levels.iter().find(|l| l.id == view.level_id);
    Ok(convert::balance(
        &client.to_string(),
        &view,
        level.map(|l| l.name.as_str()).unwrap_or(""),
        level.map(|l| l.discount_bp).unwrap_or(0),
    ))
}

pub async fn balance(api: &LedgerApi, request: tonic::Request<pb::GetBalanceRequest>) -> Result<pb::Balance> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let client = uuid("client_id", &request.get_ref().client_id)?;
    let conn = api.conn().await?;
    balance_of(&conn, &ctx, client).await
}

pub async fn balances(
    api: &LedgerApi,
    request: tonic::Request<pb::BatchGetBalancesRequest>,
) -> Result<pb::BatchGetBalancesResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    if request.get_ref().client_ids.len() > 1000 {
        return Err(LedgerError::field("client_ids", "at most 1000 per call"));
    }
    let conn = api.conn().await?;
    let mut out = Vec::new();
    for (i, id) in request.get_ref().client_ids.iter().enumerate() {
        out.push(balance_of(&conn, &ctx, uuid(&format!("client_ids[{i}]"), id)?).await?);
    }
    Ok(pb::BatchGetBalancesResponse { balances: out })
}

const PURCHASE_COLUMNS: &str =
    "id, client_id, check_id, store_id, seller_id, purchased_at, amount, currency, payment_method, lines,
     promo_code, promotion_id, points_earned, points_spent, status, manual, programme_version, returned_amount";

fn purchase(r: &tokio_postgres::Row) -> pb::Purchase {
    let currency: String = r.get(7);
    let lines: Json<Vec<Line>> = r.get(9);
    let money = |minor: i64| Some(Money { minor_units: minor, currency: currency.clone() });
    pb::Purchase {
        id: r.get::<_, Uuid>(0).to_string(),
        client_id: r.get::<_, Uuid>(1).to_string(),
        card_id: String::new(),
        check_id: r.get(2),
        store_id: r.get(3),
        seller_id: r.get(4),
        purchased_at: Some(to_timestamp(r.get(5))),
        amount: money(r.get(6)),
        payment_method: pb::PaymentMethod::from_str_name(&r.get::<_, String>(8).to_uppercase()).unwrap_or_default()
            as i32,
        lines: lines
            .0
            .iter()
            .map(|l| pb::PurchaseLine {
                line_no: l.line_no,
                sku: l.sku.clone(),
                name: l.name.clone(),
                category: l.category.clone(),
                quantity_milli: l.quantity_milli,
                unit_price: money(l.unit_price_minor),
                amount: money(l.amount_minor),
            })
            .collect(),
        promo_code: r.get(10),
        promotion_id: r.get(11),
        points_earned: r.get(12),
        points_spent: r.get(13),
        status: match r.get::<_, String>(14).as_str() {
            "returned" => pb::PurchaseStatus::Returned,
            "partially_returned" => pb::PurchaseStatus::PartiallyReturned,
            _ => pb::PurchaseStatus::Confirmed,
        } as i32,
        manual: r.get(15),
        programme_version: r.get(16),
        returned_amount: money(r.get(17)),
    }
}

pub async fn get_purchase(api: &LedgerApi, request: tonic::Request<pb::GetPurchaseRequest>) -> Result<pb::Purchase> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let id = uuid("purchase_id", &request.get_ref().purchase_id)?;
    let conn = api.conn().await?;
    let row = conn
        .query_opt(
            &format!("SELECT {PURCHASE_COLUMNS} FROM purchases WHERE tenant_id = $1 AND id = $2"),
            &[&ctx.tenant, &id],
        )
        .await?
        .ok_or(LedgerError::NotFound("purchase"))?;
    Ok(purchase(&row))
}

fn period(p: &Option<loyalty_api::common::v1::TimeRange>) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>)> {
    let range = (*p).unwrap_or_default();
    let read = |t: Option<prost_types::Timestamp>, f: &str| {
        t.map(|t| from_timestamp(&t).ok_or_else(|| LedgerError::field(f, "is out of range"))).transpose()
    };
    Ok((read(range.start, "period.start")?, read(range.end, "period.end")?))
}

fn page_size(p: &Option<loyalty_api::common::v1::PageRequest>) -> i64 {
    i64::from(p.as_ref().map(|p| p.page_size).filter(|s| *s > 0).unwrap_or(50).min(1000))
}

pub async fn list_purchases(
    api: &LedgerApi,
    request: tonic::Request<pb::ListPurchasesRequest>,
) -> Result<pb::ListPurchasesResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let client = uuid("client_id", &body.client_id)?;
    let (start, end) = period(&body.period)?;
    let size = page_size(&body.page);
    let before = match body.page.as_ref().map(|p| p.page_token.as_str()).filter(|t| !t.is_empty()) {
        Some(t) => Some(uuid("page.page_token", t)?),
        None => None,
    };
    let conn = api.conn().await?;
    let filter = "tenant_id = $1 AND client_id = $2 AND ($3::timestamptz IS NULL OR purchased_at >= $3) AND ($4::timestamptz IS NULL OR purchased_at < $4)";
    let total: i64 = conn
        .query_one(&format!("SELECT count(*) FROM purchases WHERE {filter}"), &[&ctx.tenant, &client, &start, &end])
        .await?
        .get(0);
    let rows = conn
        .query(
            &format!("SELECT {PURCHASE_COLUMNS} FROM purchases WHERE {filter} AND ($5::uuid IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"),
            &[&ctx.tenant, &client, &start, &end, &before, &(size + 1)],
        )
        .await?;
    let mut purchases: Vec<pb::Purchase> = rows.iter().map(purchase).collect();
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
        pb::EntryKind::Unspecified => return None,
    })
}

fn kind_value(name: &str) -> pb::EntryKind {
    pb::EntryKind::from_str_name(&format!("ENTRY_KIND_{}", name.to_uppercase())).unwrap_or(pb::EntryKind::Unspecified)
}

struct EntryQuery {
    client: Uuid,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    kinds: Vec<String>,
}

fn entry_query(
    client_id: &str,
    range: &Option<loyalty_api::common::v1::TimeRange>,
    kinds: &[i32],
) -> Result<EntryQuery> {
    let client = uuid("client_id", client_id)?;
    let (start, end) = period(range)?;
    let names: Vec<String> = kinds.iter().filter_map(|k| kind_name(*k)).map(String::from).collect();
    if names.len() != kinds.len() {
        return Err(LedgerError::field("kinds", "holds an unknown entry kind"));
    }
    Ok(EntryQuery { client, start, end, kinds: names })
}

const ENTRY_FILTER: &str = "tenant_id = $1 AND client_id = $2 AND ($3::timestamptz IS NULL OR at >= $3)
     AND ($4::timestamptz IS NULL OR at < $4) AND (cardinality($5::text[]) = 0 OR kind = ANY($5))";

fn entry(r: &tokio_postgres::Row, client: &str) -> pb::Entry {
    let actor: Json<serde_json::Value> = r.get(5);
    let text = |k: &str| actor.0.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    pb::Entry {
        id: r.get::<_, Uuid>(0).to_string(),
        client_id: client.to_string(),
        kind: kind_value(r.get(1)) as i32,
        points: r.get(2),
        at: Some(to_timestamp(r.get(3))),
        source: r.get(4),
        actor: Some(loyalty_api::common::v1::Actor {
            id: text("id"),
            name: text("name"),
            store_id: text("store_id"),
            ..Default::default()
        }),
        comment: r.get(6),
        purchase_id: r.get::<_, Option<Uuid>>(7).map(|u| u.to_string()).unwrap_or_default(),
        reservation_id: r.get::<_, Option<Uuid>>(8).map(|u| u.to_string()).unwrap_or_default(),
        lot_id: r.get::<_, Option<i64>>(9).map(|l| l.to_string()).unwrap_or_default(),
        hash: r.get(10),
    }
}

const ENTRY_COLUMNS: &str =
    "id, kind, points, at, source, actor, comment, purchase_id, reservation_id, lot_no, hash, seq";

pub async fn entries(
    api: &LedgerApi,
    request: tonic::Request<pb::ListEntriesRequest>,
) -> Result<pb::ListEntriesResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let q = entry_query(&body.client_id, &body.period, &body.kinds)?;
    let size = page_size(&body.page);
    let before: Option<i64> = match body.page.as_ref().map(|p| p.page_token.as_str()).filter(|t| !t.is_empty()) {
        Some(t) => Some(t.parse().map_err(|_| LedgerError::field("page.page_token", "is not a page token"))?),
        None => None,
    };
    let conn = api.conn().await?;
    let total: i64 = conn
        .query_one(
            &format!("SELECT count(*) FROM entries WHERE {ENTRY_FILTER}"),
            &[&ctx.tenant, &q.client, &q.start, &q.end, &q.kinds],
        )
        .await?
        .get(0);
    let rows = conn
        .query(
            &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE {ENTRY_FILTER} AND ($6::bigint IS NULL OR seq < $6) ORDER BY seq DESC LIMIT $7"),
            &[&ctx.tenant, &q.client, &q.start, &q.end, &q.kinds, &before, &(size + 1)],
        )
        .await?;
    let has_more = rows.len() as i64 > size;
    let rows = &rows[..rows.len().min(size as usize)];
    let client = q.client.to_string();
    let next_page_token =
        if has_more { rows.last().map(|r| r.get::<_, i64>(11).to_string()).unwrap_or_default() } else { String::new() };
    Ok(pb::ListEntriesResponse {
        entries: rows.iter().map(|r| entry(r, &client)).collect(),
        page: Some(PageInfo { next_page_token, total_size: total }),
    })
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// The history as CSV (LE-10, 001 "Export"), in chunks of at most 1 MiB.
pub async fn export(api: &LedgerApi, request: tonic::Request<pb::ExportEntriesRequest>) -> Result<Vec<FileChunk>> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let q = entry_query(&body.client_id, &body.period, &body.kinds)?;
    let conn = api.conn().await?;
    let rows = conn
        .query(
            &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE {ENTRY_FILTER} ORDER BY seq"),
            &[&ctx.tenant, &q.client, &q.start, &q.end, &q.kinds],
        )
        .await?;
    let mut csv = String::from("time,kind,points,source,actor,comment,purchase_id,reservation_id,hash\n");
    let client = q.client.to_string();
    for r in &rows {
        let e = entry(r, &client);
        let at =
            r.get::<_, OffsetDateTime>(3).format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let actor = e.actor.map(|a| a.id).unwrap_or_default();
        let kind: String = r.get(1);
        csv.push_str(&format!(
            "{at},{kind},{},{},{},{},{},{},{}\n",
            e.points,
            csv_field(&e.source),
            csv_field(&actor),
            csv_field(&e.comment),
            e.purchase_id,
            e.reservation_id,
            e.hash
        ));
    }
    Ok(csv.into_bytes().chunks(1 << 20).map(|c| FileChunk { data: c.to_vec() }).collect())
}

pub async fn verify(
    api: &LedgerApi,
    request: tonic::Request<pb::VerifyAccountRequest>,
) -> Result<pb::VerifyAccountResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let client = uuid("client_id", &request.get_ref().client_id)?;
    let mut conn = api.conn().await?;
    // One snapshot for the cached balances, the entries and the lots: a change committing between
    // the reads (the expiry sweep, a purchase) must not look like a discrepancy.
    let tx = conn
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let check = balances::verify(&tx, &ctx.tenant, client).await?;
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
