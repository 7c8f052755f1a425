//! Levels the ledger moves by itself (LE-9). A purchase or a return recomputes its client's level
//! at once; a programme change (new thresholds) and time (purchases leaving the rolling level
//! period) move levels too. A review walks one tenant's accounts in batches, recomputes each level
//! from the purchases, stores and publishes the ones that moved. A programme change asks for a
//! review at once; every tenant with a programme is reviewed once a day.
use crate::store;
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_platform::{ClientId, TenantId};
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Asks for a review of the tenant's levels (in the transaction that changed the programme).
pub async fn request_review(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO level_reviews (tenant_id, after_client) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET after_client = $2",
        &[&tenant, &Uuid::nil()],
    )
    .await
    .context("asking for a level review")?;
    Ok(())
}

/// Reviews the next `batch` accounts of one tenant whose review is in progress or due; returns how
/// many levels moved. Replicas share the work: a review row in use by one is skipped by the others.
pub async fn review_due(pool: &deadpool_postgres::Pool, now: OffsetDateTime, batch: i64) -> anyhow::Result<u64> {
    let mut conn = pool.get().await.context("taking a database connection")?;
    let tx = conn.transaction().await.context("beginning")?;
    let Some(due) = tx
        .query_opt(
            "SELECT tenant_id, after_client FROM level_reviews
             WHERE after_client IS NOT NULL OR next_due <= $1
             ORDER BY next_due LIMIT 1 FOR UPDATE SKIP LOCKED",
            &[&now],
        )
        .await
        .context("finding a level review")?
    else {
        return Ok(0);
    };
    let tenant: TenantId = due.get(0);
    let after: Uuid = due.get::<_, Option<Uuid>>(1).unwrap_or_else(Uuid::nil);
    // Locked in id order, as merges lock: a purchase under way finishes first, so its level is
    // not overwritten from an older view of the purchases.
    let accounts = tx
        .query(
            "SELECT client_id, level_id FROM accounts WHERE tenant_id = $1 AND client_id > $2
             ORDER BY client_id LIMIT $3 FOR UPDATE",
            &[&tenant, &after, &batch],
        )
        .await
        .context("locking accounts to review")?;
    let moved = review(&tx, &tenant, &accounts, now).await?;
    let last = accounts.last().map(|r| r.get::<_, Uuid>(0));
    let (cursor, next_due) = match last {
        Some(id) if accounts.len() as i64 == batch => (Some(id), None),
        _ => (None, Some(now + Duration::days(1))),
    };
    tx.execute(
        "UPDATE level_reviews SET after_client = $2, next_due = coalesce($3, next_due) WHERE tenant_id = $1",
        &[&tenant, &cursor, &next_due],
    )
    .await
    .context("moving the review on")?;
    loyalty_platform::outbox::commit(tx).await.context("committing the level review")?;
    Ok(moved)
}

/// Recomputes the levels of the locked `accounts` (client id, level), stores and publishes the
/// ones that moved; returns how many.
async fn review(
    tx: &impl GenericClient,
    tenant: &TenantId,
    accounts: &[tokio_postgres::Row],
    now: OffsetDateTime,
) -> anyhow::Result<u64> {
    if accounts.is_empty() {
        return Ok(0);
    }
    let programme = store::programmes::at(tx, tenant, now).await?;
    let since = crate::domain::purchase::level_period_start(&programme, now);
    let ids: Vec<Uuid> = accounts.iter().map(|r| r.get(0)).collect();
    let bases: HashMap<Uuid, (i64, i64)> = tx
        .query(
            "SELECT client_id, coalesce(sum(amount - returned_amount), 0)::bigint, count(*) FROM purchases
             WHERE tenant_id = $1 AND client_id = ANY($2) AND purchased_at >= $3 AND status <> 'returned'
             GROUP BY client_id",
            &[&tenant, &ids, &since],
        )
        .await
        .context("computing level bases")?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let (mut moved_ids, mut moved_levels, mut events) = (Vec::new(), Vec::new(), Vec::new());
    for row in accounts {
        let (id, held): (Uuid, String) = (row.get(0), row.get(1));
        let (spend, count) = bases.get(&id).copied().unwrap_or((0, 0));
        let basis = if programme.level_by_purchases { count } else { spend };
        let level = programme.level_for(basis).map(|l| l.id.clone()).unwrap_or_default();
        let client = ClientId::from_uuid(id);
        if let Some(event) = crate::events::level(tenant, client, (&held, &level), &programme) {
            events.push(event);
            moved_ids.push(id);
            moved_levels.push(level);
        }
    }
    tx.execute(
        "UPDATE accounts a SET level_id = l.level_id, updated_at = now()
         FROM unnest($2::uuid[], $3::text[]) AS l(client_id, level_id)
         WHERE a.tenant_id = $1 AND a.client_id = l.client_id",
        &[&tenant, &moved_ids, &moved_levels],
    )
    .await
    .context("storing moved levels")?;
    loyalty_platform::outbox::publish_many(tx, &events).await?;
    Ok(events.len() as u64)
}
