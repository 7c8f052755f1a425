//! Returns (LE-7): full or by lines and quantities, against their purchase. Earned points of the
//! returned part are cancelled by the programme's return policy, spent points of it come back, and
//! the level is recomputed at once.
use crate::domain::account::Balance;
use crate::domain::returns::{LineState, ReturnError, points_share, returned_amount};
use crate::ops::{Origin, entries_of};
use crate::purchases::Line;
use crate::store::{self, LotOrigin, NewEntry};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use time::{Duration, OffsetDateTime};
use tokio_postgres::types::Json;
use uuid::Uuid;

#[derive(Clone, Debug, Default)]
pub struct NewReturn {
    pub id: Uuid,
    pub purchase_id: Uuid,
    /// (line number, quantity in thousandths); empty returns everything not yet returned.
    pub lines: Vec<(i32, i64)>,
    pub accepted_by: String,
    pub store_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Returned {
    /// Whose purchase it was.
    pub client: Uuid,
    pub amount: i64,
    /// Earned points cancelled.
    pub cancelled: i64,
    /// Spent points given back.
    pub refunded: i64,
    /// Earned points of the returned part that could not be cancelled (forgiven or owed).
    pub shortfall: i64,
    pub balance: Balance,
    pub level_id: String,
    pub previous_level_id: String,
}

#[derive(Debug)]
pub enum ReturnFailure {
    NotFound,
    Invalid(ReturnError),
    Store(anyhow::Error),
}

impl From<anyhow::Error> for ReturnFailure {
    fn from(e: anyhow::Error) -> Self {
        ReturnFailure::Store(e)
    }
}

impl From<tokio_postgres::Error> for ReturnFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        ReturnFailure::Store(e.into())
    }
}

pub async fn record(
    db: &impl GenericClient,
    tenant: &str,
    r: &NewReturn,
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> Result<Returned, ReturnFailure> {
    let client: Uuid = db
        .query_opt("SELECT client_id FROM purchases WHERE tenant_id = $1 AND id = $2", &[&tenant, &r.purchase_id])
        .await?
        .ok_or(ReturnFailure::NotFound)?
        .get(0);
    // The account first, as every change of it does; then the purchase.
    let (mut account, mut head) = store::lock(db, tenant, client).await?;
    let p = db
        .query_one(
            "SELECT amount, lines, returned_amount, points_earned, points_spent, points_cancelled, points_refunded, lot_no, purchased_at
             FROM purchases WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tenant, &r.purchase_id],
        )
        .await?;
    let (amount, mut lines, already): (i64, Json<Vec<Line>>, i64) = (p.get(0), p.get(1), p.get(2));
    let (earned, spent, cancelled_before, refunded_before): (i64, i64, i64, i64) =
        (p.get(3), p.get(4), p.get(5), p.get(6));
    let (lot_no, purchased_at): (Option<i64>, OffsetDateTime) = (p.get(7), p.get(8));
    let states: Vec<LineState> = lines
        .0
        .iter()
        .map(|l| LineState {
            line_no: l.line_no,
            quantity_milli: l.quantity_milli,
            amount_minor: l.amount_minor,
            returned_quantity_milli: l.returned_quantity_milli,
        })
        .collect();
    let (returned, updated) = returned_amount(&states, &r.lines, (amount, already)).map_err(ReturnFailure::Invalid)?;
    let earned_share = points_share(earned, cancelled_before, (amount, already, returned));
    let spent_share = points_share(spent, refunded_before, (amount, already, returned));
    let programme = crate::programmes::at(db, tenant, purchased_at).await?;

    let mut changes = account.advance(now);
    let (cancelled, shortfall, cancel_changes) =
        account.cancel_earned(lot_no.unwrap_or(0) as u64, earned_share, programme.return_policy);
    changes.extend(cancel_changes);
    let mut entries: Vec<NewEntry> = entries_of(&changes, now, origin);
    let mut new_lots = Vec::new();
    if spent_share > 0 {
        let lot = account.refund(spent_share, programme.expires_at(now), now);
        entries.push(NewEntry {
            kind: "refunded_by_return",
            points: spent_share,
            at: now,
            source: "return",
            actor: origin.actor.clone(),
            comment: origin.comment,
            purchase_id: None,
            reservation_id: None,
            lot_no: Some(lot),
        });
        new_lots.push((lot, LotOrigin { source: "return", purchase_id: Some(r.purchase_id) }));
    }
    for e in &mut entries {
        e.purchase_id = Some(r.purchase_id);
    }
    for (line_no, qty) in &updated {
        if let Some(l) = lines.0.iter_mut().find(|l| l.line_no == *line_no) {
            l.returned_quantity_milli = *qty;
        }
    }
    let status = if already + returned >= amount { "returned" } else { "partially_returned" };
    db.execute(
        "UPDATE purchases SET returned_amount = returned_amount + $3, points_cancelled = points_cancelled + $4,
             points_refunded = points_refunded + $5, lines = $6, status = $7
         WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &r.purchase_id, &returned, &earned_share, &spent_share, &lines, &status],
    )
    .await
    .context("updating the purchase")?;
    let returned_lines: Vec<(i32, i64)> = if r.lines.is_empty() { updated.clone() } else { r.lines.clone() };
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
            &now,
            &returned,
            &Json(&returned_lines),
            &cancelled,
            &spent_share,
            &shortfall,
        ],
    )
    .await
    .context("recording the return")?;
    // The level is recomputed at once (LE-7), from the purchases as they stand after this return.
    let since = now - Duration::days(i64::from(programme.level_period_days));
    let basis = crate::purchases::level_basis(db, tenant, client, !programme.level_by_purchases, since).await?;
    let level_id = programme.level_for(basis).map(|l| l.id.clone()).unwrap_or_default();
    let previous_level_id = std::mem::replace(&mut head.level_id, level_id.clone());
    store::write(db, tenant, client, &account, &new_lots, &mut head, &entries).await?;
    Ok(Returned {
        client,
        amount: returned,
        cancelled,
        refunded: spent_share,
        shortfall,
        balance: account.balance(),
        level_id,
        previous_level_id,
    })
}
