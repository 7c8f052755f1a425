//! Purchases (LE-6): one call earns points by the rules in force at the purchase's time and the
//! client's level, spends points the client pays with, and recomputes the level (LE-9).
use crate::domain::account::{Account, Insufficient};
use crate::domain::programme::Programme;
use crate::ops::{Origin, entries_of};
use crate::store::{self, Head, LotOrigin, NewEntry};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use tokio_postgres::types::Json;
use uuid::Uuid;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Line {
    pub line_no: i32,
    pub sku: String,
    pub name: String,
    pub category: String,
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub amount_minor: i64,
    /// Returned so far (LE-7).
    pub returned_quantity_milli: i64,
}

#[derive(Clone, Debug, Default)]
pub struct NewPurchase {
    pub id: Uuid,
    pub client_id: Uuid,
    pub check_id: String,
    pub store_id: String,
    pub seller_id: String,
    pub purchased_at: Option<OffsetDateTime>,
    pub amount_minor: i64,
    pub currency: String,
    pub payment_method: String,
    pub lines: Vec<Line>,
    pub promo_code: String,
    pub promotion_id: String,
    pub points_to_spend: i64,
    pub manual: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub earned: i64,
    pub spent: i64,
    pub view: crate::balances::View,
    pub previous_level_id: String,
    pub programme: Programme,
}

#[derive(Debug)]
pub enum PurchaseError {
    Blocked,
    Insufficient(Insufficient),
    /// More points than the programme lets pay for this check.
    OverShare {
        max: i64,
    },
    /// The balance is below the programme's minimum for spending.
    BelowMinimum {
        min: i64,
    },
    /// This store's check was recorded already.
    DuplicateCheck,
    Store(anyhow::Error),
}

impl From<anyhow::Error> for PurchaseError {
    fn from(e: anyhow::Error) -> Self {
        PurchaseError::Store(e)
    }
}

impl From<tokio_postgres::Error> for PurchaseError {
    fn from(e: tokio_postgres::Error) -> Self {
        PurchaseError::Store(e.into())
    }
}

/// The level basis: spend (minus returns) or purchase count over the period before `until`.
pub(crate) async fn level_basis(
    db: &impl GenericClient,
    tenant: &str,
    client: Uuid,
    by_spend: bool,
    since: OffsetDateTime,
) -> anyhow::Result<i64> {
    let row = loyalty_platform::db::cached::query_one(
        db,
        "SELECT coalesce(sum(amount - returned_amount), 0)::bigint, count(*) FROM purchases
             WHERE tenant_id = $1 AND client_id = $2 AND purchased_at >= $3 AND status <> 'returned'",
        &[&tenant, &client, &since],
    )
    .await
    .context("computing the level basis")?;
    Ok(if by_spend { row.get(0) } else { row.get(1) })
}

/// A locked account with the rules in force at the purchase's time.
pub struct Opened {
    pub account: Account,
    pub head: Head,
    pub programme: Programme,
}

/// Locks the buyer's account and loads the programme in force at `at`, in one round trip.
pub async fn open(db: &impl GenericClient, tenant: &str, client: Uuid, at: OffsetDateTime) -> anyhow::Result<Opened> {
    let ((account, head), programme) =
        futures::try_join!(store::lock(db, tenant, client), crate::programmes::at(db, tenant, at))?;
    Ok(Opened { account, head, programme })
}

/// A purchase decided in memory, ready to be written.
pub struct Decided<'a> {
    pub recorded: Recorded,
    purchased_at: OffsetDateTime,
    lot_no: Option<i64>,
    opened: Opened,
    entries: Vec<NewEntry<'a>>,
    new_lots: Vec<(u64, LotOrigin<'a>)>,
}

/// Decides what a purchase does to the opened account: points are earned on the part paid with
/// money, at the level held before the purchase; the level after it is stored. One query (the level
/// basis); nothing is written yet.
pub async fn decide<'a>(
    db: &impl GenericClient,
    tenant: &str,
    p: &NewPurchase,
    mut opened: Opened,
    now: OffsetDateTime,
    origin: &Origin<'a>,
) -> Result<Decided<'a>, PurchaseError> {
    let purchased_at = p.purchased_at.unwrap_or(now);
    if opened.head.blocked {
        return Err(PurchaseError::Blocked);
    }
    let programme = &opened.programme;
    let account = &mut opened.account;
    let mut changes = account.advance(now);
    let spent = p.points_to_spend.max(0);
    if spent > 0 {
        let max = programme.max_redeemable(p.amount_minor);
        if spent > max {
            return Err(PurchaseError::OverShare { max });
        }
        if account.balance().available < programme.min_balance_to_spend {
            return Err(PurchaseError::BelowMinimum { min: programme.min_balance_to_spend });
        }
        changes.extend(account.spend(spent).map_err(PurchaseError::Insufficient)?);
    }
    let by_spend = !programme.level_by_purchases;
    let since = purchased_at - Duration::days(i64::from(programme.level_period_days));
    let basis_before = level_basis(db, tenant, p.client_id, by_spend, since).await?;
    let multiplier = programme.level_for(basis_before).map(|l| l.earn_multiplier_bp).unwrap_or(10_000);
    let paid_with_points =
        i64::try_from(i128::from(spent) * i128::from(programme.point_value_milli) / 1000).unwrap_or(i64::MAX);
    let earned = programme.earn(p.amount_minor - paid_with_points, multiplier);
    let mut entries: Vec<NewEntry> = entries_of(&changes, now, origin);
    let mut new_lots = Vec::new();
    let mut lot_no = None;
    if earned > 0 {
        let activates = programme.activates_at(purchased_at);
        let (lot, paid_debt) = account.earn(earned, activates, programme.expires_at(activates), now);
        entries.push(NewEntry {
            kind: "earned",
            points: earned,
            at: now,
            source: "purchase",
            actor: origin.actor.clone(),
            comment: origin.comment,
            purchase_id: Some(p.id),
            reservation_id: None,
            lot_no: Some(lot),
        });
        entries.extend(entries_of(&paid_debt, now, origin));
        new_lots.push((lot, LotOrigin { source: "purchase", purchase_id: Some(p.id) }));
        lot_no = Some(lot as i64);
    }
    for e in &mut entries {
        e.purchase_id = Some(p.id);
    }
    // This purchase is inside its own level period, so it adds to the basis as it stands.
    let basis_after = basis_before.saturating_add(if by_spend { p.amount_minor } else { 1 });
    let previous_level_id = std::mem::replace(
        &mut opened.head.level_id,
        programme.level_for(basis_after).map(|l| l.id.clone()).unwrap_or_default(),
    );
    let view = crate::balances::View::of(&opened.account, &opened.head);
    let recorded = Recorded { earned, spent, view, previous_level_id, programme: opened.programme.clone() };
    Ok(Decided { recorded, purchased_at, lot_no, opened, entries, new_lots })
}

impl Decided<'_> {
    /// Writes the purchase, its entries, lots and the account: one round trip. A store's check
    /// recorded before fails with [`PurchaseError::DuplicateCheck`].
    pub async fn write(&mut self, db: &impl GenericClient, tenant: &str, p: &NewPurchase) -> Result<(), PurchaseError> {
        let purchase = insert(db, tenant, p, (&self.recorded, self.purchased_at, self.lot_no));
        let o = &mut self.opened;
        let account = store::write(db, tenant, p.client_id, &o.account, &self.new_lots, &mut o.head, &self.entries);
        let (inserted, ()) = futures::try_join!(purchase, account).map_err(PurchaseError::Store)?;
        if inserted == 0 {
            return Err(PurchaseError::DuplicateCheck);
        }
        Ok(())
    }
}

/// Inserts the purchase row; 0 when the store's check was recorded before.
async fn insert(
    db: &impl GenericClient,
    tenant: &str,
    p: &NewPurchase,
    (r, purchased_at, lot_no): (&Recorded, OffsetDateTime, Option<i64>),
) -> anyhow::Result<u64> {
    loyalty_platform::db::cached::execute(
        db,
        "INSERT INTO purchases (tenant_id, id, client_id, check_id, store_id, seller_id, purchased_at, amount, currency,
             payment_method, lines, promo_code, promotion_id, points_earned, points_spent, manual, programme_version, lot_no)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT DO NOTHING",
        &[
            &tenant,
            &p.id,
            &p.client_id,
            &p.check_id,
            &p.store_id,
            &p.seller_id,
            &purchased_at,
            &p.amount_minor,
            &p.currency,
            &p.payment_method,
            &Json(&p.lines),
            &p.promo_code,
            &p.promotion_id,
            &r.earned,
            &r.spent,
            &p.manual,
            &r.programme.version,
            &lot_no,
        ],
    )
    .await
    .context("recording the purchase")
}

/// Records a purchase in the caller's transaction: [`open`], [`decide`], then write.
pub async fn record(
    db: &impl GenericClient,
    tenant: &str,
    p: &NewPurchase,
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> Result<Recorded, PurchaseError> {
    let opened = open(db, tenant, p.client_id, p.purchased_at.unwrap_or(now)).await?;
    let mut decided = decide(db, tenant, p, opened, now, origin).await?;
    decided.write(db, tenant, p).await?;
    Ok(decided.recorded)
}
