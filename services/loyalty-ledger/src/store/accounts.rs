//! Changes of one account, each inside the caller's transaction: lock the account, let the domain
//! decide, write lots, balances and chained entries. The gRPC layer calls these.
use crate::domain::account::{Balance, Insufficient, LotChange};
use crate::store::{self, LotOrigin, NewEntry};
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::{ClientId, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

/// Who made a change and why, as recorded on its entries.
pub struct Origin<'a> {
    pub source: &'a str,
    pub actor: serde_json::Value,
    pub comment: &'a str,
    pub purchase_id: Option<Uuid>,
}

impl Origin<'static> {
    /// The ledger itself (its sweeps, what it applies from the client feed).
    pub fn system(source: &'static str, who: &str) -> Self {
        Origin { source, actor: serde_json::json!({ "id": who }), comment: "", purchase_id: None }
    }
}

/// Why an account cannot earn or spend as asked.
#[derive(Debug, PartialEq, Eq)]
pub enum SpendError {
    Blocked,
    Insufficient(Insufficient),
}

impl From<SpendError> for ApiError {
    fn from(e: SpendError) -> Self {
        ApiError::FailedPrecondition(match e {
            SpendError::Blocked => "the client is blocked: no earning or spending".into(),
            SpendError::Insufficient(i) => {
                format!("insufficient points: {} available, {} wanted", i.available, i.wanted)
            }
        })
    }
}

fn entry<'a>(kind: &'a str, points: i64, lot: u64, at: OffsetDateTime, origin: &Origin<'a>) -> NewEntry<'a> {
    NewEntry {
        kind,
        points,
        at,
        source: origin.source,
        actor: origin.actor.clone(),
        comment: origin.comment,
        purchase_id: origin.purchase_id,
        reservation_id: None,
        lot_no: Some(lot),
    }
}

pub(crate) fn entries_of<'a>(changes: &[LotChange], at: OffsetDateTime, origin: &Origin<'a>) -> Vec<NewEntry<'a>> {
    changes
        .iter()
        .map(|c| match *c {
            LotChange::Activated { lot, points } => entry("activated", points, lot, at, origin),
            LotChange::Expired { lot, points } => entry("expired", -points, lot, at, origin),
            LotChange::Spent { lot, points } => entry("spent", -points, lot, at, origin),
            LotChange::Held { lot, points } => entry("reserved", -points, lot, at, origin),
            LotChange::Released { lot, points } => entry("released", points, lot, at, origin),
            LotChange::Cancelled { lot, points } => entry("cancelled_by_return", -points, lot, at, origin),
            LotChange::DebtPaid { lot, points } => entry("debt", -points, lot, at, origin),
        })
        .collect()
}

/// Earns `points` as a new lot; returns the new balances.
pub async fn earn(
    db: &impl deadpool_postgres::GenericClient,
    tenant: &TenantId,
    client: ClientId,
    points: i64,
    (activates_at, expires_at): (OffsetDateTime, Option<OffsetDateTime>),
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> ApiResult<Balance> {
    let (mut account, mut head) = store::lock(db, tenant, client).await?;
    if head.blocked {
        return Err(SpendError::Blocked.into());
    }
    let advanced = account.advance(now);
    let (lot, paid_debt) = account.earn(points, activates_at, expires_at, now);
    let mut entries = entries_of(&advanced, now, origin);
    entries.push(entry("earned", points, lot, now, origin));
    entries.extend(entries_of(&paid_debt, now, origin));
    let new_lot = [(lot, LotOrigin { source: origin.source, purchase_id: origin.purchase_id })];
    store::write(db, tenant, client, &account, &new_lot, &mut head, &entries).await?;
    Ok(account.balance())
}

/// Spends `points` first-expiring-first; refused for a blocked account or short balance, changing
/// nothing.
pub async fn spend(
    db: &impl deadpool_postgres::GenericClient,
    tenant: &TenantId,
    client: ClientId,
    points: i64,
    now: OffsetDateTime,
    origin: &Origin<'_>,
) -> ApiResult<Balance> {
    let (mut account, mut head) = store::lock(db, tenant, client).await?;
    if head.blocked {
        return Err(SpendError::Blocked.into());
    }
    let mut changes = account.advance(now);
    changes.extend(account.spend(points).map_err(SpendError::Insufficient)?);
    store::write(db, tenant, client, &account, &[], &mut head, &entries_of(&changes, now, origin)).await?;
    Ok(account.balance())
}
