//! Returns (LE-7): full or by lines and quantities, against their purchase. Earned points of the
//! returned part are cancelled by the programme's return policy, spent points of it come back, and
//! the level is recomputed at once.
use crate::domain::account::{Account, Balance};
use crate::domain::programme::Programme;
use crate::domain::purchase::Line;
use crate::domain::returns::{LineState, points_share, returned_amount};
use crate::store::accounts::{Origin, entries_of};
use crate::store::{self, LotOrigin, NewEntry};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::tz::TimeZone;
use loyalty_platform::{ClientId, PurchaseId, TenantId};
use time::{Duration, OffsetDateTime};
use tokio_postgres::types::Json;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct NewReturn {
    pub id: Uuid,
    pub purchase_id: PurchaseId,
    /// (line number, quantity in thousandths); empty returns everything not yet returned.
    pub lines: Vec<(i32, i64)>,
    pub accepted_by: String,
    pub store_id: String,
    /// When the goods came back (the request's `returned_at`, else now).
    pub returned_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Returned {
    /// Whose purchase it was.
    pub client: ClientId,
    pub amount: i64,
    pub currency: String,
    /// Earned points cancelled.
    pub cancelled: i64,
    /// Spent points given back.
    pub refunded: i64,
    /// Earned points of the returned part that could not be cancelled (forgiven or owed).
    pub shortfall: i64,
    pub balance: Balance,
    pub level_id: String,
    pub previous_level_id: String,
    /// The purchase's lines that came back, each with the quantity and amount returned now.
    pub lines: Vec<Line>,
}

/// The purchase as a return finds it, locked.
struct Bought {
    amount: i64,
    currency: String,
    lines: Vec<Line>,
    returned_before: i64,
    earned: i64,
    spent: i64,
    cancelled_before: i64,
    refunded_before: i64,
    lot_no: Option<i64>,
    purchased_at: OffsetDateTime,
}

/// The buyer of purchase `id`, if the tenant has it.
pub async fn buyer(db: &impl GenericClient, tenant: &TenantId, id: PurchaseId) -> anyhow::Result<Option<ClientId>> {
    let row = db
        .query_opt("SELECT client_id FROM purchases WHERE tenant_id = $1 AND id = $2", &[&tenant, &id])
        .await
        .context("finding the purchase")?;
    Ok(row.map(|r| r.get(0)))
}

async fn lock_purchase(db: &impl GenericClient, tenant: &TenantId, id: PurchaseId) -> anyhow::Result<Bought> {
    let p = db
        .query_one(
            "SELECT amount, currency, lines, returned_amount, points_earned, points_spent, points_cancelled,
                    points_refunded, lot_no, purchased_at
             FROM purchases WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tenant, &id],
        )
        .await
        .context("locking the purchase")?;
    Ok(Bought {
        amount: p.get(0),
        currency: p.get(1),
        lines: p.get::<_, Json<Vec<Line>>>(2).0,
        returned_before: p.get(3),
        earned: p.get(4),
        spent: p.get(5),
        cancelled_before: p.get(6),
        refunded_before: p.get(7),
        lot_no: p.get(8),
        purchased_at: p.get(9),
    })
}

/// What a return does to the account: earned points of the returned part cancelled by the policy,
/// spent points of it given back as a new lot. Returns (cancelled, shortfall, entries, new lots).
fn apply_to_account<'a>(
    account: &mut Account,
    (bought, programme, zone): (&Bought, &Programme, &TimeZone),
    (earned_share, spent_share): (i64, i64),
    (id, now, origin): (PurchaseId, OffsetDateTime, &Origin<'a>),
) -> (i64, i64, Vec<NewEntry<'a>>, Vec<(u64, LotOrigin<'a>)>) {
    let mut changes = account.advance(now);
    let (cancelled, shortfall, cancel_changes) =
        account.cancel_earned(bought.lot_no.unwrap_or(0) as u64, earned_share, programme.return_policy);
    changes.extend(cancel_changes);
    let mut entries = entries_of(&changes, now, origin);
    let mut new_lots = Vec::new();
    if spent_share > 0 {
        let lot = account.refund(spent_share, programme.expires_at(now, zone), now);
        entries.push(NewEntry {
            kind: "refunded_by_return",
            points: spent_share,
            lot_no: Some(lot),
            ..NewEntry::of(origin, now)
        });
        new_lots.push((lot, LotOrigin { source: "return", purchase_id: Some(id.uuid()) }));
    }
    for e in &mut entries {
        e.purchase_id = Some(id.uuid());
    }
    (cancelled, shortfall, entries, new_lots)
}

/// The lines that came back now, with the quantity and amount of this return.
fn returned_lines(before: &[Line], updated: &[(i32, i64)]) -> Vec<Line> {
    updated
        .iter()
        .filter_map(|(no, total)| {
            let line = before.iter().find(|l| l.line_no == *no)?;
            let qty = total - line.returned_quantity_milli;
            let share = |q: i64| {
                loyalty_platform::money::mul_div(line.amount_minor, q, line.quantity_milli.max(1)).unwrap_or(0)
            };
            let amount = share(*total) - share(line.returned_quantity_milli);
            Some(Line { quantity_milli: qty, amount_minor: amount, returned_quantity_milli: 0, ..line.clone() })
        })
        .collect()
}

/// Records a return in the caller's transaction.
pub async fn record(
    db: &impl GenericClient,
    tenant: &TenantId,
    r: &NewReturn,
    (now, zone): (OffsetDateTime, &TimeZone),
    origin: &Origin<'_>,
) -> ApiResult<Returned> {
    let client = buyer(db, tenant, r.purchase_id).await?.ok_or(ApiError::NotFound("purchase"))?;
    // The account first, as every change of it does; then the purchase.
    let (mut account, mut head) = store::lock(db, tenant, client).await?;
    let mut bought = lock_purchase(db, tenant, r.purchase_id).await?;
    let states: Vec<LineState> = bought
        .lines
        .iter()
        .map(|l| LineState {
            line_no: l.line_no,
            quantity_milli: l.quantity_milli,
            amount_minor: l.amount_minor,
            returned_quantity_milli: l.returned_quantity_milli,
        })
        .collect();
    let (returned, updated) = returned_amount(&states, &r.lines, (bought.amount, bought.returned_before))
        .map_err(|e| ApiError::field("lines", &e.to_string()))?;
    let shares = (
        points_share(bought.earned, bought.cancelled_before, (bought.amount, bought.returned_before, returned)),
        points_share(bought.spent, bought.refunded_before, (bought.amount, bought.returned_before, returned)),
    );
    let programme = store::programmes::at(db, tenant, bought.purchased_at).await?;
    let (cancelled, shortfall, entries, new_lots) =
        apply_to_account(&mut account, (&bought, &programme, zone), shares, (r.purchase_id, now, origin));
    let came_back = returned_lines(&bought.lines, &updated);
    for (line_no, qty) in &updated {
        if let Some(l) = bought.lines.iter_mut().find(|l| l.line_no == *line_no) {
            l.returned_quantity_milli = *qty;
        }
    }
    let totals = Totals { returned, cancelled, shortfall, shares };
    write_return(db, tenant, (r, client), &bought, &totals).await?;
    // The level is recomputed at once (LE-7), from the purchases as they stand after this return.
    let since = now - Duration::days(i64::from(programme.level_period_days));
    let basis = store::purchases::level_basis(db, tenant, client, !programme.level_by_purchases, since).await?;
    let level_id = programme.level_for(basis).map(|l| l.id.clone()).unwrap_or_default();
    let previous_level_id = std::mem::replace(&mut head.level_id, level_id.clone());
    store::write(db, tenant, client, &account, &new_lots, &mut head, &entries).await?;
    Ok(Returned {
        client,
        amount: returned,
        currency: bought.currency,
        cancelled,
        refunded: shares.1,
        shortfall,
        balance: account.balance(),
        level_id,
        previous_level_id,
        lines: came_back,
    })
}

/// What one return moved.
struct Totals {
    returned: i64,
    cancelled: i64,
    shortfall: i64,
    /// (earned points of the returned part, spent points of it)
    shares: (i64, i64),
}

/// Updates the purchase (returned so far, its lines, its status) and records the return.
async fn write_return(
    db: &impl GenericClient,
    tenant: &TenantId,
    (r, client): (&NewReturn, ClientId),
    bought: &Bought,
    t: &Totals,
) -> anyhow::Result<()> {
    let status = if bought.returned_before + t.returned >= bought.amount { "returned" } else { "partially_returned" };
    db.execute(
        "UPDATE purchases SET returned_amount = returned_amount + $3, points_cancelled = points_cancelled + $4,
             points_refunded = points_refunded + $5, lines = $6, status = $7
         WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &r.purchase_id, &t.returned, &t.shares.0, &t.shares.1, &Json(&bought.lines), &status],
    )
    .await
    .context("updating the purchase")?;
    db.execute(
        "INSERT INTO returns (tenant_id, id, purchase_id, client_id, store_id, accepted_by, returned_at, amount, lines,
             points_cancelled, points_refunded, points_shortfall)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &tenant,
            &r.id,
            &r.purchase_id,
            &client,
            &r.store_id,
            &r.accepted_by,
            &r.returned_at,
            &t.returned,
            &Json(&r.lines),
            &t.cancelled,
            &t.shares.1,
            &t.shortfall,
        ],
    )
    .await
    .context("recording the return")?;
    Ok(())
}
