//! SQL of the ledger: accounts with their open lots, and the hash-chained entries.
use crate::domain::account::{Account, Lot, LotState, Totals};
use crate::domain::chain::{EntryContent, hash};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::types::Json;
use uuid::Uuid;

fn state_name(s: LotState) -> &'static str {
    match s {
        LotState::Pending => "pending",
        LotState::Active => "active",
        LotState::Expired => "expired",
        LotState::Cancelled => "cancelled",
    }
}

fn state(name: &str) -> LotState {
    match name {
        "pending" => LotState::Pending,
        "expired" => LotState::Expired,
        "cancelled" => LotState::Cancelled,
        _ => LotState::Active,
    }
}

/// An account row besides its lots.
#[derive(Clone, Debug)]
pub struct Head {
    pub blocked: bool,
    pub entries: i64,
    pub last_hash: String,
}

/// Locks the client's account (creating it on first use) and loads its open lots. Every change of
/// an account starts here, so changes of one account never interleave.
pub async fn lock(db: &impl GenericClient, tenant: &str, client: Uuid) -> anyhow::Result<(Account, Head)> {
    loyalty_platform::db::cached::execute(
        db,
        "INSERT INTO accounts (tenant_id, client_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&tenant, &client],
    )
    .await
    .context("opening the account")?;
    let row = loyalty_platform::db::cached::query_one(
        db,
        "SELECT blocked, used, expired, cancelled, debt, next_lot, entries, last_hash FROM accounts
             WHERE tenant_id = $1 AND client_id = $2 FOR UPDATE",
        &[&tenant, &client],
    )
    .await
    .context("locking the account")?;
    let lots = loyalty_platform::db::cached::query(
        db,
        "SELECT lot_no, earned, remaining, held, activates_at, expires_at, state FROM lots
             WHERE tenant_id = $1 AND client_id = $2 AND state IN ('pending', 'active') AND (remaining > 0 OR held > 0)
             ORDER BY lot_no",
        &[&tenant, &client],
    )
    .await
    .context("loading lots")?
    .iter()
    .map(|r| Lot {
        id: r.get::<_, i64>(0) as u64,
        earned: r.get(1),
        remaining: r.get(2),
        held: r.get(3),
        activates_at: r.get(4),
        expires_at: r.get(5),
        state: state(r.get(6)),
    })
    .collect();
    let totals = Totals { used: row.get(1), expired: row.get(2), cancelled: row.get(3), debt: row.get(4) };
    let account = Account::restore(lots, totals, row.get::<_, i64>(5) as u64);
    Ok((account, Head { blocked: row.get(0), entries: row.get(6), last_hash: row.get(7) }))
}

/// Where a new lot came from.
pub struct LotOrigin<'a> {
    pub source: &'a str,
    pub purchase_id: Option<Uuid>,
}

/// Writes the account's lots and cached balances back. `new_lots` names the lots created by this
/// change and where they came from.
pub async fn save(
    db: &impl GenericClient,
    tenant: &str,
    client: Uuid,
    account: &Account,
    new_lots: &[(u64, LotOrigin<'_>)],
    head: &Head,
) -> anyhow::Result<()> {
    for lot in &account.lots {
        let lot_no = lot.id as i64;
        let origin = new_lots.iter().find(|(id, _)| *id == lot.id).map(|(_, o)| o);
        loyalty_platform::db::cached::execute(
            db,
            "INSERT INTO lots (tenant_id, client_id, lot_no, earned, remaining, held, activates_at, expires_at, state, source, purchase_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (tenant_id, client_id, lot_no)
             DO UPDATE SET remaining = $5, held = $6, state = $9",
            &[
                &tenant,
                &client,
                &lot_no,
                &lot.earned,
                &lot.remaining,
                &lot.held,
                &lot.activates_at,
                &lot.expires_at,
                &state_name(lot.state),
                &origin.map(|o| o.source).unwrap_or("unknown"),
                &origin.and_then(|o| o.purchase_id),
            ],
        )
        .await
        .context("saving a lot")?;
    }
    let b = account.balance();
    loyalty_platform::db::cached::execute(
        db,
        "UPDATE accounts SET available = $3, pending = $4, reserved = $5, used = $6, expired = $7, cancelled = $8,
             debt = $9, next_lot = $10, entries = $11, last_hash = $12, updated_at = now()
         WHERE tenant_id = $1 AND client_id = $2",
        &[
            &tenant,
            &client,
            &b.available,
            &b.pending,
            &b.reserved,
            &b.used,
            &b.expired,
            &b.cancelled,
            &b.debt,
            &(account.next_lot() as i64),
            &head.entries,
            &head.last_hash,
        ],
    )
    .await
    .context("saving the account")?;
    Ok(())
}

/// One entry to append.
pub struct NewEntry<'a> {
    pub kind: &'a str,
    pub points: i64,
    pub at: OffsetDateTime,
    pub source: &'a str,
    pub actor: serde_json::Value,
    pub comment: &'a str,
    pub purchase_id: Option<Uuid>,
    pub reservation_id: Option<Uuid>,
    pub lot_no: Option<u64>,
}

/// Appends entries to the client's chain, advancing `head`.
pub async fn append(
    db: &impl GenericClient,
    tenant: &str,
    client: Uuid,
    head: &mut Head,
    entries: &[NewEntry<'_>],
) -> anyhow::Result<()> {
    let client_text = client.to_string();
    for e in entries {
        let id = Uuid::now_v7();
        let id_text = id.to_string();
        let lot_text = e.lot_no.map(|l| l.to_string()).unwrap_or_default();
        let reference = e.purchase_id.or(e.reservation_id).map(|u| u.to_string()).unwrap_or_default();
        let at_micros = (e.at.unix_timestamp_nanos() / 1000) as i64;
        let content = EntryContent {
            id: &id_text,
            client_id: &client_text,
            kind: e.kind,
            points: e.points,
            at_micros,
            lot: &lot_text,
            reference: &reference,
        };
        let h = hash(&head.last_hash, &content);
        head.entries += 1;
        loyalty_platform::db::cached::execute(
            db,
            "INSERT INTO entries (tenant_id, client_id, seq, id, kind, points, at, source, actor, comment, purchase_id,
                                  reservation_id, lot_no, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &tenant,
                &client,
                &head.entries,
                &id,
                &e.kind,
                &e.points,
                &e.at,
                &e.source,
                &Json(&e.actor),
                &e.comment,
                &e.purchase_id,
                &e.reservation_id,
                &e.lot_no.map(|l| l as i64),
                &h,
            ],
        )
        .await
        .context("appending an entry")?;
        head.last_hash = h;
    }
    Ok(())
}

/// Recomputes the chain of `client` from its stored entries: the first broken entry's id, and how
/// many entries were checked.
pub async fn verify_chain(
    db: &impl GenericClient,
    tenant: &str,
    client: Uuid,
) -> anyhow::Result<(Option<String>, i64)> {
    let rows = loyalty_platform::db::cached::query(
        db,
        "SELECT id, kind, points, at, lot_no, coalesce(purchase_id, reservation_id), hash FROM entries
             WHERE tenant_id = $1 AND client_id = $2 ORDER BY seq",
        &[&tenant, &client],
    )
    .await
    .context("reading entries")?;
    let client_text = client.to_string();
    let mut previous = String::new();
    for r in &rows {
        let id: Uuid = r.get(0);
        let at: OffsetDateTime = r.get(3);
        let id_text = id.to_string();
        let lot_text = r.get::<_, Option<i64>>(4).map(|l| l.to_string()).unwrap_or_default();
        let reference = r.get::<_, Option<Uuid>>(5).map(|u| u.to_string()).unwrap_or_default();
        let content = EntryContent {
            id: &id_text,
            client_id: &client_text,
            kind: r.get(1),
            points: r.get(2),
            at_micros: (at.unix_timestamp_nanos() / 1000) as i64,
            lot: &lot_text,
            reference: &reference,
        };
        let expected = hash(&previous, &content);
        if expected != r.get::<_, String>(6) {
            return Ok((Some(id_text), rows.len() as i64));
        }
        previous = expected;
    }
    Ok((None, rows.len() as i64))
}
