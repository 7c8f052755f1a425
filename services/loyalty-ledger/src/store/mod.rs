//! Every SQL statement of the ledger. This module: accounts with their open lots, and the
//! hash-chained entries. Beside it, each table's statements and the changes of an account that lock
//! it, let the domain decide and write the outcome (`accounts`, `purchases`, `returns`, …).
pub mod accounts;
pub mod balances;
pub mod clients;
pub mod entries;
pub mod expiry;
pub mod levels;
pub mod merge;
pub mod programmes;
pub mod purchases;
pub mod reservations;
pub mod returns;

use crate::domain::account::{Account, Lot, LotState, Totals};
use crate::domain::chain::{EntryContent, hash};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_platform::{ClientId, TenantId};
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

/// What the account's entries add up to besides its balances (SE-1 facts): kept as entries are
/// chained, written back by [`save`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Points earned all time, before cancellations.
    pub earned_total: i64,
    /// When points were last earned, and last spent or written off.
    pub last_accrual_at: Option<OffsetDateTime>,
    pub last_write_off_at: Option<OffsetDateTime>,
}

impl Activity {
    /// `self` after the entry `kind` of `points` at `at`.
    fn follow(&mut self, kind: &str, points: i64, at: OffsetDateTime) {
        let later = |known: Option<OffsetDateTime>| Some(known.map_or(at, |k| k.max(at)));
        match kind {
            "earned" => {
                self.earned_total = self.earned_total.saturating_add(points);
                self.last_accrual_at = later(self.last_accrual_at);
            }
            "merge_earned" => self.earned_total = self.earned_total.saturating_add(points),
            "spent" => self.last_write_off_at = later(self.last_write_off_at),
            _ => {}
        }
    }
}

/// An account row besides its lots.
#[derive(Clone, Debug)]
pub struct Head {
    pub blocked: bool,
    pub entries: i64,
    pub last_hash: String,
    /// The level the account holds (LE-9); written back by [`save`].
    pub level_id: String,
    pub activity: Activity,
    /// The open lots as [`lock`] read them: [`save`] writes only the ones that differ.
    loaded_lots: Vec<Lot>,
}

const LOCK_ACCOUNT: &str = "SELECT blocked, used, expired, cancelled, debt, next_lot, entries, last_hash, level_id,
            earned_total, last_accrual_at, last_write_off_at FROM accounts
     WHERE tenant_id = $1 AND client_id = $2 FOR UPDATE";
const OPEN_LOTS: &str = "SELECT lot_no, earned, remaining, held, activates_at, expires_at, state FROM lots
     WHERE tenant_id = $1 AND client_id = $2 AND state IN ('pending', 'active') AND (remaining > 0 OR held > 0)
     ORDER BY lot_no";

/// Locks the client's account (creating it on first use) and loads its open lots. Every change of
/// an account starts here, so changes of one account never interleave. The lock and the lots go to
/// Postgres in one round trip: the lots query runs after the lock is granted, so it sees the state
/// the previous holder committed.
pub async fn lock(db: &impl GenericClient, tenant: &TenantId, client: ClientId) -> anyhow::Result<(Account, Head)> {
    use loyalty_platform::db::cached;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&tenant, &client];
    let (mut row, mut lots) =
        futures::try_join!(cached::query_opt(db, LOCK_ACCOUNT, &params), cached::query(db, OPEN_LOTS, &params))
            .context("locking the account")?;
    if row.is_none() {
        cached::execute(
            db,
            "INSERT INTO accounts (tenant_id, client_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&tenant, &client],
        )
        .await
        .context("opening the account")?;
        row = Some(cached::query_one(db, LOCK_ACCOUNT, &params).await.context("locking the new account")?);
        lots = cached::query(db, OPEN_LOTS, &params).await.context("loading lots")?;
    }
    let row = row.context("the account vanished while locked")?;
    let lots: Vec<Lot> = lots
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
    let head = Head {
        blocked: row.get(0),
        entries: row.get(6),
        last_hash: row.get(7),
        level_id: row.get(8),
        activity: Activity { earned_total: row.get(9), last_accrual_at: row.get(10), last_write_off_at: row.get(11) },
        loaded_lots: lots.clone(),
    };
    Ok((Account::restore(lots, totals, row.get::<_, i64>(5) as u64), head))
}

/// Where a new lot came from.
pub struct LotOrigin<'a> {
    pub source: &'a str,
    pub purchase_id: Option<Uuid>,
}

/// Writes the account's changed and new lots and its cached balances back, in two statements sent
/// together. `new_lots` names the lots created by this change and where they came from.
pub async fn save(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    account: &Account,
    new_lots: &[(u64, LotOrigin<'_>)],
    head: &Head,
) -> anyhow::Result<()> {
    let mut numbers = Vec::with_capacity(account.lots.len());
    let (mut earned, mut remaining, mut held) = (Vec::new(), Vec::new(), Vec::new());
    let (mut activates, mut expires, mut states) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sources, mut purchases) = (Vec::new(), Vec::new());
    // A frequent shopper holds a lot per purchase: rewriting the untouched ones on every change
    // would cost a row version each.
    for lot in account.lots.iter().filter(|lot| !head.loaded_lots.contains(lot)) {
        let origin = new_lots.iter().find(|(id, _)| *id == lot.id).map(|(_, o)| o);
        numbers.push(lot.id as i64);
        earned.push(lot.earned);
        remaining.push(lot.remaining);
        held.push(lot.held);
        activates.push(lot.activates_at);
        expires.push(lot.expires_at);
        states.push(state_name(lot.state));
        sources.push(origin.map(|o| o.source).unwrap_or("unknown"));
        purchases.push(origin.and_then(|o| o.purchase_id));
    }
    let lots = async {
        if numbers.is_empty() {
            return Ok(0);
        }
        loyalty_platform::db::cached::execute(
            db,
            "INSERT INTO lots (tenant_id, client_id, lot_no, earned, remaining, held, activates_at, expires_at, state, source, purchase_id)
             SELECT $1, $2, l.* FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::timestamptz[],
                                            $8::timestamptz[], $9::text[], $10::text[], $11::uuid[]) AS l
             ON CONFLICT (tenant_id, client_id, lot_no)
             DO UPDATE SET remaining = excluded.remaining, held = excluded.held, state = excluded.state",
            &[
                &tenant, &client, &numbers, &earned, &remaining, &held, &activates, &expires, &states, &sources,
                &purchases,
            ],
        )
        .await
    };
    let b = account.balance();
    let next_lot = account.next_lot() as i64;
    let totals = async {
        loyalty_platform::db::cached::execute(
            db,
            "UPDATE accounts SET available = $3, pending = $4, reserved = $5, used = $6, expired = $7, cancelled = $8,
             debt = $9, next_lot = $10, entries = $11, last_hash = $12, level_id = $13, earned_total = $14,
             last_accrual_at = $15, last_write_off_at = $16, updated_at = now()
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
                &next_lot,
                &head.entries,
                &head.last_hash,
                &head.level_id,
                &head.activity.earned_total,
                &head.activity.last_accrual_at,
                &head.activity.last_write_off_at,
            ],
        )
        .await
    };
    futures::try_join!(lots, totals).context("saving the account")?;
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

impl<'a> NewEntry<'a> {
    /// An entry made by `origin` at `at`; set its kind, points and lot.
    pub fn of(origin: &accounts::Origin<'a>, at: OffsetDateTime) -> Self {
        NewEntry {
            kind: "",
            points: 0,
            at,
            source: origin.source,
            actor: origin.actor.clone(),
            comment: origin.comment,
            purchase_id: origin.purchase_id,
            reservation_id: None,
            lot_no: None,
        }
    }
}

/// Entries with their place in the chain, ready to insert.
#[derive(Default)]
pub struct Chained {
    seqs: Vec<i64>,
    ids: Vec<Uuid>,
    kinds: Vec<String>,
    points: Vec<i64>,
    ats: Vec<OffsetDateTime>,
    sources: Vec<String>,
    actors: Vec<Json<serde_json::Value>>,
    comments: Vec<String>,
    purchases: Vec<Option<Uuid>>,
    reservations: Vec<Option<Uuid>>,
    lots: Vec<Option<i64>>,
    hashes: Vec<String>,
}

/// Hashes `entries` onto the chain of `client`, advancing `head`.
pub fn chain(client: ClientId, head: &mut Head, entries: &[NewEntry<'_>]) -> Chained {
    let client_text = client.to_string();
    let mut c = Chained::default();
    for e in entries {
        let id = Uuid::now_v7();
        let id_text = id.to_string();
        let lot_text = e.lot_no.map(|l| l.to_string()).unwrap_or_default();
        let reference = e.purchase_id.or(e.reservation_id).map(|u| u.to_string()).unwrap_or_default();
        let content = EntryContent {
            id: &id_text,
            client_id: &client_text,
            kind: e.kind,
            points: e.points,
            at_micros: (e.at.unix_timestamp_nanos() / 1000) as i64,
            lot: &lot_text,
            reference: &reference,
        };
        let h = hash(&head.last_hash, &content);
        head.activity.follow(e.kind, e.points, e.at);
        head.entries += 1;
        c.seqs.push(head.entries);
        c.ids.push(id);
        c.kinds.push(e.kind.to_string());
        c.points.push(e.points);
        c.ats.push(e.at);
        c.sources.push(e.source.to_string());
        c.actors.push(Json(e.actor.clone()));
        c.comments.push(e.comment.to_string());
        c.purchases.push(e.purchase_id);
        c.reservations.push(e.reservation_id);
        c.lots.push(e.lot_no.map(|l| l as i64));
        c.hashes.push(h.clone());
        head.last_hash = h;
    }
    c
}

/// Inserts chained entries in one statement.
pub async fn insert(db: &impl GenericClient, tenant: &TenantId, client: ClientId, c: &Chained) -> anyhow::Result<()> {
    if c.seqs.is_empty() {
        return Ok(());
    }
    loyalty_platform::db::cached::execute(
        db,
        "INSERT INTO entries (tenant_id, client_id, seq, id, kind, points, at, source, actor, comment, purchase_id,
                              reservation_id, lot_no, hash)
         SELECT $1, $2, e.* FROM unnest($3::bigint[], $4::uuid[], $5::text[], $6::bigint[], $7::timestamptz[], $8::text[],
                                        $9::jsonb[], $10::text[], $11::uuid[], $12::uuid[], $13::bigint[], $14::text[]) AS e",
        &[
            &tenant,
            &client,
            &c.seqs,
            &c.ids,
            &c.kinds,
            &c.points,
            &c.ats,
            &c.sources,
            &c.actors,
            &c.comments,
            &c.purchases,
            &c.reservations,
            &c.lots,
            &c.hashes,
        ],
    )
    .await
    .context("appending entries")?;
    Ok(())
}

/// Appends entries to the client's chain, advancing `head`.
pub async fn append(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    head: &mut Head,
    entries: &[NewEntry<'_>],
) -> anyhow::Result<()> {
    let chained = chain(client, head, entries);
    insert(db, tenant, client, &chained).await
}

/// Appends `entries`, saves the account and publishes the lots that activated or expired: one
/// round trip.
pub async fn write(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    account: &Account,
    new_lots: &[(u64, LotOrigin<'_>)],
    head: &mut Head,
    entries: &[NewEntry<'_>],
) -> anyhow::Result<()> {
    let chained = chain(client, head, entries);
    let lot_events = crate::events::lot_changes(tenant, client, entries, account);
    futures::try_join!(
        insert(db, tenant, client, &chained),
        save(db, tenant, client, account, new_lots, head),
        loyalty_platform::outbox::publish_many(db, &lot_events)
    )?;
    head.loaded_lots.clone_from(&account.lots);
    Ok(())
}

/// Recomputes the chain of `client` from its stored entries: the first broken entry's id, and how
/// many entries were checked.
pub async fn verify_chain(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
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
