//! Reading and checking accounts (LE-1, LE-8, LE-11), the block flag (CL-4), early activation.
use crate::domain::account::{Balance, LotState};
use crate::store::accounts::{Origin, entries_of};
use crate::store::{self, NewEntry};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_platform::{ClientId, TenantId};
use time::OffsetDateTime;

/// What a client sees of their points.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub balance: Balance,
    pub next_expiry_at: Option<OffsetDateTime>,
    pub next_expiry_points: i64,
    pub level_id: String,
    pub blocked: bool,
    pub activity: crate::store::Activity,
}

impl View {
    /// The view of a locked account as it will be stored: what [`view`] reads after the commit.
    pub fn of(account: &crate::domain::account::Account, head: &crate::store::Head) -> Self {
        let active = || account.lots.iter().filter(|l| l.state == LotState::Active);
        let next_expiry_at = active().filter(|l| l.remaining > l.held).filter_map(|l| l.expires_at).min();
        let next_expiry_points = match next_expiry_at {
            Some(at) => active().filter(|l| l.expires_at == Some(at)).map(|l| l.remaining - l.held).sum(),
            None => 0,
        };
        View {
            balance: account.balance(),
            next_expiry_at,
            next_expiry_points,
            level_id: head.level_id.clone(),
            blocked: head.blocked,
            activity: head.activity.clone(),
        }
    }
}

/// The cached balances, the next expiry and the level; an unknown client has an empty account.
pub async fn view(db: &impl GenericClient, tenant: &TenantId, client: ClientId) -> anyhow::Result<View> {
    // The client's own lots first (MATERIALIZED): left to itself the planner may find the minimum
    // by walking every tenant's lots in expiry order. No `expires_at IS NOT NULL` here: it would let
    // the planner take the sweep's partial index `lots_to_expire`, and when its statistics are older
    // than a wave of expiring lots it looks empty, so every client's balance read walks all of them
    // (seen: 400 reads/s instead of 15,000). min() and `=` skip lots that never expire anyway.
    let row = loyalty_platform::db::cached::query_opt(
        db,
        "WITH mine AS MATERIALIZED (
             SELECT expires_at, remaining - held AS spendable FROM lots
             WHERE tenant_id = $1 AND client_id = $2 AND state = 'active'
         ), next AS (
             SELECT min(expires_at) AS at FROM mine WHERE spendable > 0
         )
         SELECT available, pending, reserved, used, expired, cancelled, debt, level_id, blocked, next.at,
                (SELECT coalesce(sum(spendable), 0)::bigint FROM mine WHERE expires_at = next.at),
                earned_total, last_accrual_at, last_write_off_at
         FROM accounts a, next WHERE tenant_id = $1 AND client_id = $2",
        &[&tenant, &client],
    )
    .await
    .context("reading the balance")?;
    let Some(r) = row else { return Ok(View::default()) };
    let next_expiry_at: Option<OffsetDateTime> = r.get(9);
    let next_expiry_points: i64 = r.get(10);
    Ok(View {
        balance: Balance {
            available: r.get(0),
            pending: r.get(1),
            reserved: r.get(2),
            used: r.get(3),
            expired: r.get(4),
            cancelled: r.get(5),
            debt: r.get(6),
        },
        next_expiry_at,
        next_expiry_points,
        level_id: r.get(7),
        blocked: r.get(8),
        activity: crate::store::Activity {
            earned_total: r.get(11),
            last_accrual_at: r.get(12),
            last_write_off_at: r.get(13),
        },
    })
}

/// Sets or clears the block (CL-4), recording it on the account's chain (a `blocked` or
/// `unblocked` entry of 0 points). Idempotent: `false` when the account was so already. Creates the
/// account if the client has none yet, so a block arriving before the first purchase still holds.
pub async fn set_blocked(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    blocked: bool,
    (now, origin): (OffsetDateTime, &Origin<'_>),
) -> anyhow::Result<bool> {
    let (_, mut head) = store::lock(db, tenant, client).await?;
    if head.blocked == blocked {
        return Ok(false);
    }
    let kind = if blocked { "blocked" } else { "unblocked" };
    store::append(db, tenant, client, &mut head, &[NewEntry { kind, ..NewEntry::of(origin, now) }]).await?;
    db.execute(
        "UPDATE accounts SET blocked = $3, entries = $4, last_hash = $5, updated_at = now() WHERE tenant_id = $1 AND client_id = $2",
        &[&tenant, &client, &blocked, &head.entries, &head.last_hash],
    )
    .await
    .context("setting the block")?;
    Ok(true)
}

/// Activates the client's pending lots now (all, or those of one purchase).
pub async fn activate_pending(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    purchase: Option<loyalty_platform::PurchaseId>,
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> anyhow::Result<Balance> {
    let lots_of_purchase: Vec<i64> = match purchase {
        Some(p) => db
            .query(
                "SELECT lot_no FROM lots WHERE tenant_id = $1 AND client_id = $2 AND purchase_id = $3",
                &[&tenant, &client, &p],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect(),
        None => Vec::new(),
    };
    let (mut account, mut head) = store::lock(db, tenant, client).await?;
    for lot in &mut account.lots {
        if lot.state == LotState::Pending && (purchase.is_none() || lots_of_purchase.contains(&(lot.id as i64))) {
            lot.activates_at = now;
        }
    }
    let changes = account.advance(now);
    store::write(db, tenant, client, &account, &[], &mut head, &entries_of(&changes, now, origin)).await?;
    db.execute(
        "UPDATE lots SET activates_at = $3 WHERE tenant_id = $1 AND client_id = $2 AND state = 'active' AND activates_at > $3",
        &[&tenant, &client, &now],
    )
    .await?;
    Ok(account.balance())
}

/// The result of checking an account against its entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub cached: Balance,
    pub recomputed: Balance,
    pub broken_entry_id: Option<String>,
    pub entries_checked: i64,
}

impl Verification {
    pub fn consistent(&self) -> bool {
        self.cached == self.recomputed && self.broken_entry_id.is_none()
    }
}

/// Recomputes the balances from the entries and the lots, and checks the hash chain.
pub async fn verify(db: &impl GenericClient, tenant: &TenantId, client: ClientId) -> anyhow::Result<Verification> {
    let cached = view(db, tenant, client).await?.balance;
    let sums = db
        .query_one(
            // Totals moved by a client merge count where they went (merge_* entries, signed).
            "SELECT
                 coalesce(sum(-points) FILTER (WHERE kind IN ('spent', 'debt')), 0)::bigint
                   - coalesce(sum(points) FILTER (WHERE kind = 'refunded_by_return'), 0)::bigint
                   + coalesce(sum(points) FILTER (WHERE kind = 'merge_used'), 0)::bigint,
                 coalesce(sum(-points) FILTER (WHERE kind = 'expired'), 0)::bigint
                   + coalesce(sum(points) FILTER (WHERE kind = 'merge_expired'), 0)::bigint,
                 coalesce(sum(-points) FILTER (WHERE kind = 'cancelled_by_return'), 0)::bigint
                   + coalesce(sum(points) FILTER (WHERE kind = 'merge_cancelled'), 0)::bigint
             FROM entries WHERE tenant_id = $1 AND client_id = $2",
            &[&tenant, &client],
        )
        .await
        .context("summing entries")?;
    let lots = db
        .query_one(
            "SELECT coalesce(sum(remaining - held) FILTER (WHERE state = 'active'), 0)::bigint,
                    coalesce(sum(remaining) FILTER (WHERE state = 'pending'), 0)::bigint,
                    coalesce(sum(held), 0)::bigint
             FROM lots WHERE tenant_id = $1 AND client_id = $2",
            &[&tenant, &client],
        )
        .await
        .context("summing lots")?;
    let recomputed = Balance {
        available: lots.get(0),
        pending: lots.get(1),
        reserved: lots.get(2),
        used: sums.get(0),
        expired: sums.get(1),
        cancelled: sums.get(2),
        debt: cached.debt,
    };
    let (broken_entry_id, entries_checked) = store::verify_chain(db, tenant, client).await?;
    Ok(Verification { cached, recomputed, broken_entry_id, entries_checked })
}
