//! Reservations (LE-5): points applied to an unpaid order are held, not spent; the order's close
//! spends all or part of them, its cancellation or a timeout gives them back.
use crate::domain::account::{Balance, LotChange};
use crate::store;
use crate::store::accounts::{Origin, SpendError, entries_of};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::{ClientId, ReservationId, TenantId};
use time::{Duration, OffsetDateTime};
use tokio_postgres::types::Json;

/// How a reservation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// Spend this much of it (at most what was reserved) and release the rest.
    Commit(i64),
    Cancel,
    TimedOut,
}

impl Close {
    fn state(self) -> &'static str {
        match self {
            Close::Commit(_) => "committed",
            Close::Cancel => "cancelled",
            Close::TimedOut => "timed_out",
        }
    }
}

/// A reservation as stored.
#[derive(Clone, Debug)]
pub struct Held {
    pub id: ReservationId,
    pub client: ClientId,
    pub points: i64,
    pub committed: i64,
    pub state: String,
    pub order_ref: String,
    pub expires_at: OffsetDateTime,
}

/// Holds `points` of the client's available points for `ttl`.
pub async fn reserve(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    (points, order_ref, ttl): (i64, &str, Duration),
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> ApiResult<(ReservationId, Balance)> {
    let (mut account, mut head) = store::lock(db, tenant, client).await?;
    if head.blocked {
        return Err(SpendError::Blocked.into());
    }
    let mut changes = account.advance(now);
    let held = account.hold(points).map_err(SpendError::Insufficient)?;
    let holds: Vec<(u64, i64)> = held
        .iter()
        .filter_map(|c| if let LotChange::Held { lot, points } = c { Some((*lot, *points)) } else { None })
        .collect();
    changes.extend(held);
    let id = ReservationId::generate();
    let mut entries = entries_of(&changes, now, origin);
    for e in &mut entries {
        if e.kind == "reserved" {
            e.reservation_id = Some(id.uuid());
        }
    }
    store::write(db, tenant, client, &account, &[], &mut head, &entries).await?;
    db.execute(
        "INSERT INTO reservations (tenant_id, id, client_id, points, order_ref, holds, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&tenant, &id, &client, &points, &order_ref, &Json(&holds), &(now + ttl), &now],
    )
    .await
    .context("recording the reservation")?;
    Ok((id, account.balance()))
}

const HELD_COLUMNS: &str = "id, client_id, points, committed, state, order_ref, expires_at";

fn held(r: &tokio_postgres::Row) -> Held {
    Held {
        id: r.get(0),
        client: r.get(1),
        points: r.get(2),
        committed: r.get(3),
        state: r.get(4),
        order_ref: r.get(5),
        expires_at: r.get(6),
    }
}

/// The reservation `id` of the tenant.
pub async fn get(db: &impl GenericClient, tenant: &TenantId, id: ReservationId) -> anyhow::Result<Option<Held>> {
    let row = db
        .query_opt(
            &format!("SELECT {HELD_COLUMNS} FROM reservations WHERE tenant_id = $1 AND id = $2"),
            &[&tenant, &id],
        )
        .await
        .context("loading the reservation")?;
    Ok(row.as_ref().map(held))
}

/// Held reservations of a client (a merge releases them).
pub async fn open_of(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
) -> anyhow::Result<Vec<ReservationId>> {
    let rows = db
        .query(
            "SELECT id FROM reservations WHERE tenant_id = $1 AND client_id = $2 AND state = 'held'",
            &[&tenant, &client],
        )
        .await
        .context("finding the client's reservations")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Ends a reservation: commit (all or part), cancel, or time out. A reservation that is closed
/// already is FAILED_PRECONDITION naming how it ended.
pub async fn close(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: ReservationId,
    how: Close,
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> ApiResult<Balance> {
    let found = get(db, tenant, id).await?.ok_or(ApiError::NotFound("reservation"))?;
    let client = found.client;
    // The account first, then the reservation: the same order as every other change of the account.
    let (mut account, mut head) = store::lock(db, tenant, client).await?;
    let row = db
        .query_one(
            "SELECT points, state, holds FROM reservations WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tenant, &id],
        )
        .await
        .context("locking the reservation")?;
    let (points, state, holds): (i64, String, Json<Vec<(u64, i64)>>) = (row.get(0), row.get(1), row.get(2));
    if state != "held" {
        return Err(ApiError::precondition(format!("the reservation is {state} already")));
    }
    let spend = match how {
        Close::Commit(0) => points,
        Close::Commit(n) if n > points || n < 0 => {
            return Err(ApiError::field("points", &format!("must be between 1 and the {points} points reserved")));
        }
        Close::Commit(n) => n,
        Close::Cancel | Close::TimedOut => 0,
    };
    let changes = account.close_hold(&holds.0, spend, now);
    let mut entries = entries_of(&changes, now, origin);
    for e in &mut entries {
        e.reservation_id = Some(id.uuid());
    }
    store::write(db, tenant, client, &account, &[], &mut head, &entries).await?;
    db.execute(
        "UPDATE reservations SET state = $3, committed = $4, closed_at = $5 WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id, &how.state(), &spend, &now],
    )
    .await
    .context("closing the reservation")?;
    Ok(account.balance())
}

/// Times out reservations past their deadline (at most `batch`), each in its own transaction;
/// returns how many. Run by a worker.
pub async fn time_out_due(pool: &deadpool_postgres::Pool, now: OffsetDateTime, batch: i64) -> anyhow::Result<u64> {
    let origin = &Origin::system("system", "ledger-sweep");
    let mut conn = pool.get().await.context("taking a database connection")?;
    let due = conn
        .query(
            "SELECT tenant_id, id, client_id, points, order_ref FROM reservations
             WHERE state = 'held' AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
            &[&now, &batch],
        )
        .await
        .context("finding due reservations")?;
    let mut closed = 0;
    for row in &due {
        let (tenant, id, client): (TenantId, ReservationId, ClientId) = (row.get(0), row.get(1), row.get(2));
        let held = (row.get::<_, i64>(3), row.get::<_, String>(4));
        let tx = conn.transaction().await.context("beginning a timeout")?;
        match close(&tx, &tenant, id, Close::TimedOut, now, origin).await {
            Ok(_) => {
                let view = store::balances::view(&tx, &tenant, client).await?;
                let events = crate::events::timed_out(&tenant, client, id, (held.0, &held.1), &view);
                loyalty_platform::outbox::publish_many(&tx, &events).await?;
                loyalty_platform::outbox::commit(tx).await.context("committing a timeout")?;
                closed += 1;
            }
            // Closed by its order meanwhile.
            Err(ApiError::FailedPrecondition(_)) => {}
            Err(ApiError::Internal(e)) => return Err(e),
            Err(other) => anyhow::bail!("timing out reservation {id}: {other}"),
        }
    }
    Ok(closed)
}
