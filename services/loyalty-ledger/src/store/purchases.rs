//! The `purchases` table (LE-6): writing a decided purchase with its account, the level basis,
//! reading purchases back.
use super::accounts::{Origin, entries_of};
use super::{Head, LotOrigin, NewEntry};
use crate::domain::account::Account;
use crate::domain::programme::Programme;
use crate::domain::purchase::{Decision, Line};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::common::v1::Money;
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::db::cached;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::{ClientId, Currency, PurchaseId, TenantId};
use time::OffsetDateTime;
use tokio_postgres::types::Json;

/// A purchase read from the wire, ready to be decided and written.
#[derive(Clone, Debug)]
pub struct NewPurchase {
    pub id: PurchaseId,
    pub client_id: ClientId,
    pub check_id: String,
    pub store_id: String,
    pub seller_id: String,
    pub purchased_at: OffsetDateTime,
    pub amount_minor: i64,
    pub currency: Currency,
    pub payment_method: String,
    pub lines: Vec<Line>,
    pub promo_code: String,
    pub promotion_id: String,
    pub points_to_spend: i64,
    pub manual: bool,
    /// The card the buyer came with, if any.
    pub card_id: String,
}

/// The buyer's locked account with the rules in force at the purchase's time.
pub struct Opened {
    pub account: Account,
    pub head: Head,
    pub programme: Programme,
}

/// Locks the buyer's account and loads the programme in force at `at`, in one round trip.
pub async fn open(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    at: OffsetDateTime,
) -> anyhow::Result<Opened> {
    let ((account, head), programme) =
        futures::try_join!(super::lock(db, tenant, client), super::programmes::at(db, tenant, at))?;
    Ok(Opened { account, head, programme })
}

/// The level basis: spend (minus returns) or purchase count since `since`.
pub async fn level_basis(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    by_spend: bool,
    since: OffsetDateTime,
) -> anyhow::Result<i64> {
    let row = cached::query_one(
        db,
        "SELECT coalesce(sum(amount - returned_amount), 0)::bigint, count(*) FROM purchases
             WHERE tenant_id = $1 AND client_id = $2 AND purchased_at >= $3 AND status <> 'returned'",
        &[&tenant, &client, &since],
    )
    .await
    .context("computing the level basis")?;
    Ok(if by_spend { row.get(0) } else { row.get(1) })
}

/// Writes a decided purchase: its row, its entries and lots, the account with its new level, in
/// one round trip. A store's check recorded before is ALREADY_EXISTS.
pub async fn write(
    db: &impl GenericClient,
    tenant: &TenantId,
    p: &NewPurchase,
    (opened, decision): (&mut Opened, &Decision),
    (now, origin): (OffsetDateTime, &Origin<'_>),
) -> ApiResult<()> {
    let mut entries: Vec<NewEntry> = entries_of(&decision.changes, now, origin);
    let mut new_lots = Vec::new();
    if let Some(lot) = decision.lot {
        entries.push(NewEntry {
            kind: "earned",
            points: decision.earned,
            lot_no: Some(lot),
            ..NewEntry::of(origin, now)
        });
        entries.extend(entries_of(&decision.debt_paid, now, origin));
        new_lots.push((lot, LotOrigin { source: "purchase", purchase_id: Some(p.id.uuid()) }));
    }
    for e in &mut entries {
        e.purchase_id = Some(p.id.uuid());
    }
    opened.head.level_id.clone_from(&decision.level_id);
    let row = insert(db, tenant, p, decision, opened.programme.version);
    let account = super::write(db, tenant, p.client_id, &opened.account, &new_lots, &mut opened.head, &entries);
    let (inserted, ()) = futures::try_join!(row, account)?;
    if inserted == 0 {
        return Err(ApiError::AlreadyExists("this store's check was recorded already".into()));
    }
    Ok(())
}

/// Inserts the purchase row; 0 when the store's check was recorded before.
async fn insert(
    db: &impl GenericClient,
    tenant: &TenantId,
    p: &NewPurchase,
    d: &Decision,
    version: i32,
) -> anyhow::Result<u64> {
    let lot_no = d.lot.map(|l| l as i64);
    cached::execute(
        db,
        "INSERT INTO purchases (tenant_id, id, client_id, check_id, store_id, seller_id, purchased_at, amount, currency,
             payment_method, lines, promo_code, promotion_id, points_earned, points_spent, manual, programme_version, lot_no,
             card_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
         ON CONFLICT DO NOTHING",
        &[
            &tenant,
            &p.id,
            &p.client_id,
            &p.check_id,
            &p.store_id,
            &p.seller_id,
            &p.purchased_at,
            &p.amount_minor,
            &p.currency.code(),
            &p.payment_method,
            &Json(&p.lines),
            &p.promo_code,
            &p.promotion_id,
            &d.earned,
            &d.spent,
            &p.manual,
            &version,
            &lot_no,
            &p.card_id,
        ],
    )
    .await
    .context("recording the purchase")
}

const COLUMNS: &str =
    "id, client_id, check_id, store_id, seller_id, purchased_at, amount, currency, payment_method, lines,
     promo_code, promotion_id, points_earned, points_spent, status, manual, programme_version, returned_amount, card_id";

fn purchase(r: &tokio_postgres::Row) -> pb::Purchase {
    let currency: String = r.get(7);
    let lines: Json<Vec<Line>> = r.get(9);
    let money = |minor: i64| Some(Money { minor_units: minor, currency: currency.clone() });
    pb::Purchase {
        id: r.get::<_, PurchaseId>(0).to_string(),
        client_id: r.get::<_, ClientId>(1).to_string(),
        card_id: r.get(18),
        check_id: r.get(2),
        store_id: r.get(3),
        seller_id: r.get(4),
        purchased_at: Some(to_timestamp(r.get(5))),
        amount: money(r.get(6)),
        payment_method: payment_method(r.get(8)) as i32,
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

/// A stored payment method: "card" (and "payment_method_card", as older rows hold it).
fn payment_method(stored: &str) -> pb::PaymentMethod {
    let upper = stored.to_uppercase();
    pb::PaymentMethod::from_str_name(&upper)
        .or_else(|| pb::PaymentMethod::from_str_name(&format!("PAYMENT_METHOD_{upper}")))
        .unwrap_or_default()
}

pub async fn get(db: &impl GenericClient, tenant: &TenantId, id: PurchaseId) -> anyhow::Result<Option<pb::Purchase>> {
    let row = db
        .query_opt(&format!("SELECT {COLUMNS} FROM purchases WHERE tenant_id = $1 AND id = $2"), &[&tenant, &id])
        .await
        .context("loading the purchase")?;
    Ok(row.as_ref().map(purchase))
}

/// Which purchases a list shows.
pub struct PurchaseQuery {
    pub client: ClientId,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    /// Keyset: purchases with a smaller id (newest first).
    pub before: Option<PurchaseId>,
    pub limit: i64,
}

const FILTER: &str = "tenant_id = $1 AND client_id = $2 AND ($3::timestamptz IS NULL OR purchased_at >= $3)
     AND ($4::timestamptz IS NULL OR purchased_at < $4)";

/// A page of a client's purchases, newest first, and how many match in all.
pub async fn list(
    db: &impl GenericClient,
    tenant: &TenantId,
    q: &PurchaseQuery,
) -> anyhow::Result<(Vec<pb::Purchase>, i64)> {
    let total: i64 = db
        .query_one(&format!("SELECT count(*) FROM purchases WHERE {FILTER}"), &[&tenant, &q.client, &q.start, &q.end])
        .await
        .context("counting purchases")?
        .get(0);
    let rows = db
        .query(
            &format!("SELECT {COLUMNS} FROM purchases WHERE {FILTER} AND ($5::uuid IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"),
            &[&tenant, &q.client, &q.start, &q.end, &q.before, &q.limit],
        )
        .await
        .context("listing purchases")?;
    Ok((rows.iter().map(purchase).collect(), total))
}

/// Whether `client` bought in one of `stores` (a store-scoped token sees such clients, CL-11).
pub async fn bought_in(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    stores: &[String],
) -> anyhow::Result<bool> {
    let row = cached::query_opt(
        db,
        "SELECT 1 FROM purchases WHERE tenant_id = $1 AND client_id = $2 AND store_id = ANY($3) LIMIT 1",
        &[&tenant, &client, &stores],
    )
    .await
    .context("looking for purchases in the token's stores")?;
    Ok(row.is_some())
}

/// What recording a purchase did.
pub struct Recorded {
    pub decision: Decision,
    pub view: super::balances::View,
    pub programme: Programme,
}

/// Records a purchase in the caller's transaction: lock, level basis, the domain's decision,
/// write (what the gRPC handler does step by step, for callers without a wire request).
pub async fn record(
    db: &impl GenericClient,
    tenant: &TenantId,
    p: &NewPurchase,
    (now, zone): (OffsetDateTime, &loyalty_platform::tz::TimeZone),
    origin: &Origin<'_>,
) -> ApiResult<Recorded> {
    let mut opened = open(db, tenant, p.client_id, p.purchased_at).await?;
    let since = crate::domain::purchase::level_period_start(&opened.programme, p.purchased_at);
    let basis = level_basis(db, tenant, p.client_id, !opened.programme.level_by_purchases, since).await?;
    let basket = crate::domain::purchase::Basket {
        amount_minor: p.amount_minor,
        points_to_spend: p.points_to_spend,
        purchased_at: p.purchased_at,
    };
    let rules = (opened.head.blocked, &opened.programme, zone);
    let decision = crate::domain::purchase::decide(&mut opened.account, rules, &basket, basis, now)?;
    write(db, tenant, p, (&mut opened, &decision), (now, origin)).await?;
    let view = super::balances::View::of(&opened.account, &opened.head);
    Ok(Recorded { decision, view, programme: opened.programme })
}
