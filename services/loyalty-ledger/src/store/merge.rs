//! A client merge (CL-8) moves the merged clients' points to the survivor: their open reservations
//! are released, their lots, purchases and totals move (lot numbers shifted after the survivor's),
//! and both chains record the move. Nothing financial is lost.
use crate::store::accounts::Origin;
use crate::store::reservations::{self, Close};
use crate::store::{self, NewEntry};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_platform::{ClientId, TenantId};
use time::OffsetDateTime;

/// Entry kinds of a merge: spendable points, and the all-time totals that move with them so that
/// both accounts still verify against their own entries.
const MOVED_POINTS: &str = "moved_by_merge";
const MOVED_USED: &str = "merge_used";
const MOVED_EXPIRED: &str = "merge_expired";
const MOVED_CANCELLED: &str = "merge_cancelled";
const MOVED_EARNED: &str = "merge_earned";

fn moved<'a>(kind: &'a str, points: i64, at: OffsetDateTime, origin: &Origin<'a>) -> NewEntry<'a> {
    NewEntry {
        kind,
        points,
        at,
        source: "merge",
        actor: origin.actor.clone(),
        comment: origin.comment,
        purchase_id: None,
        reservation_id: None,
        lot_no: None,
    }
}

pub async fn merge_into(
    db: &impl GenericClient,
    tenant: &TenantId,
    survivor: ClientId,
    merged: &[ClientId],
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> anyhow::Result<()> {
    for from in merged {
        if *from == survivor {
            continue;
        }
        for id in reservations::open_of(db, tenant, *from).await? {
            reservations::close(db, tenant, id, Close::Cancel, now, origin)
                .await
                .map_err(|e| anyhow::anyhow!("releasing reservation {id}: {e}"))?;
        }
        // Both accounts, in id order, so two merges never wait on each other in a circle.
        let (first, second) = if survivor < *from { (survivor, *from) } else { (*from, survivor) };
        let a = store::lock(db, tenant, first).await?;
        let b = store::lock(db, tenant, second).await?;
        let ((to_account, mut to_head), (from_account, mut from_head)) =
            if first == survivor { (a, b) } else { (b, a) };
        let moving = from_account.balance();
        let amount = moving.available + moving.pending;
        let offset = to_account.next_lot() as i64;
        db.execute(
            "UPDATE lots SET client_id = $2, lot_no = lot_no + $4 WHERE tenant_id = $1 AND client_id = $3",
            &[&tenant, &survivor, from, &offset],
        )
        .await
        .context("moving lots")?;
        db.execute(
            "UPDATE purchases SET client_id = $2, lot_no = lot_no + $4 WHERE tenant_id = $1 AND client_id = $3",
            &[&tenant, &survivor, from, &offset],
        )
        .await
        .context("moving purchases")?;
        let totals = [
            (MOVED_POINTS, amount),
            (MOVED_USED, moving.used),
            (MOVED_EXPIRED, moving.expired),
            (MOVED_CANCELLED, moving.cancelled),
            (MOVED_EARNED, from_head.activity.earned_total),
        ];
        let (out, into): (Vec<NewEntry>, Vec<NewEntry>) = totals
            .iter()
            .filter(|(_, points)| *points != 0)
            .map(|(kind, points)| (moved(kind, -points, now, origin), moved(kind, *points, now, origin)))
            .unzip();
        store::append(db, tenant, *from, &mut from_head, &out).await?;
        store::append(db, tenant, survivor, &mut to_head, &into).await?;
        db.execute(
            "UPDATE accounts t SET used = t.used + f.used, expired = t.expired + f.expired, cancelled = t.cancelled + f.cancelled,
                 debt = t.debt + f.debt, available = t.available + f.available, pending = t.pending + f.pending,
                 next_lot = t.next_lot + f.next_lot, entries = $4, last_hash = $5, earned_total = $6,
                 last_accrual_at = greatest(t.last_accrual_at, f.last_accrual_at),
                 last_write_off_at = greatest(t.last_write_off_at, f.last_write_off_at), updated_at = now()
             FROM accounts f WHERE t.tenant_id = $1 AND t.client_id = $2 AND f.tenant_id = $1 AND f.client_id = $3",
            &[&tenant, &survivor, from, &to_head.entries, &to_head.last_hash, &to_head.activity.earned_total],
        )
        .await
        .context("moving totals")?;
        db.execute(
            "UPDATE accounts SET available = 0, pending = 0, reserved = 0, used = 0, expired = 0, cancelled = 0, debt = 0,
                 earned_total = 0, entries = $3, last_hash = $4, updated_at = now()
             WHERE tenant_id = $1 AND client_id = $2",
            &[&tenant, from, &from_head.entries, &from_head.last_hash],
        )
        .await
        .context("emptying the merged account")?;
    }
    Ok(())
}

/// The survivor's level after a merge moved purchases to it (LE-9): recomputed from its purchases
/// now and stored. Answers the level before and after, and the programme that named them.
pub async fn settle_level(
    db: &impl GenericClient,
    tenant: &TenantId,
    survivor: ClientId,
    now: OffsetDateTime,
) -> anyhow::Result<(String, String, crate::domain::programme::Programme)> {
    let programme = store::programmes::at(db, tenant, now).await?;
    let since = crate::domain::purchase::level_period_start(&programme, now);
    let basis = store::purchases::level_basis(db, tenant, survivor, !programme.level_by_purchases, since).await?;
    let level = programme.level_for(basis).map(|l| l.id.clone()).unwrap_or_default();
    let row = db
        .query_one(
            "WITH before AS (SELECT level_id FROM accounts WHERE tenant_id = $1 AND client_id = $2)
             UPDATE accounts SET level_id = $3 WHERE tenant_id = $1 AND client_id = $2
             RETURNING (SELECT level_id FROM before)",
            &[&tenant, &survivor, &level],
        )
        .await
        .context("settling the survivor's level")?;
    Ok((row.get::<_, Option<String>>(0).unwrap_or_default(), level, programme))
}
