//! Purchases (LE-6): one call earns points by the rules in force at the purchase's time and the
//! client's level, spends points the client pays with, and recomputes the level (LE-9).
use crate::domain::account::{Balance, Insufficient};
use crate::ops::{Origin, entries_of};
use crate::store::{self, LotOrigin, NewEntry};
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
    pub balance: Balance,
    pub level_id: String,
    pub programme_version: i32,
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

/// Records a purchase in the caller's transaction. Points are earned on the part paid with money;
/// the level before the purchase sets the earn multiplier, the level after it is stored.
pub async fn record(
    db: &impl GenericClient,
    tenant: &str,
    p: &NewPurchase,
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> Result<Recorded, PurchaseError> {
    let purchased_at = p.purchased_at.unwrap_or(now);
    let (mut account, mut head) = store::lock(db, tenant, p.client_id).await?;
    if head.blocked {
        return Err(PurchaseError::Blocked);
    }
    let programme = crate::programmes::at(db, tenant, purchased_at).await?;
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
    let inserted = loyalty_platform::db::cached::execute(
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
                &earned,
                &spent,
                &p.manual,
                &programme.version,
                &lot_no,
            ],
        )
        .await
        .context("recording the purchase")?;
    if inserted == 0 {
        return Err(PurchaseError::DuplicateCheck);
    }
    store::append(db, tenant, p.client_id, &mut head, &entries).await?;
    store::save(db, tenant, p.client_id, &account, &new_lots, &head).await?;
    let basis_after = level_basis(db, tenant, p.client_id, by_spend, since).await?;
    let level_id = programme.level_for(basis_after).map(|l| l.id.clone()).unwrap_or_default();
    loyalty_platform::db::cached::execute(
        db,
        "UPDATE accounts SET level_id = $3 WHERE tenant_id = $1 AND client_id = $2",
        &[&tenant, &p.client_id, &level_id],
    )
    .await
    .context("storing the level")?;
    Ok(Recorded { earned, spent, balance: account.balance(), level_id, programme_version: programme.version })
}
