//! LE-8 without a nightly batch: pending lots activate and active lots expire at their exact
//! instants. A worker calls [`advance_due`] with the clock's time; every account operation also
//! advances its own lots first, so no read or write ever sees a lot past its time.
use crate::store;
use crate::store::accounts::{Origin, entries_of};
use anyhow::Context;
use loyalty_platform::outbox::publish;
use loyalty_platform::{ClientId, TenantId};
use time::OffsetDateTime;

/// Activates and expires the due lots of up to `batch` accounts, each in its own transaction;
/// returns how many accounts changed.
pub async fn advance_due(pool: &deadpool_postgres::Pool, now: OffsetDateTime, batch: i64) -> anyhow::Result<u64> {
    let origin = &Origin::system("system", "ledger-sweep");
    let mut conn = pool.get().await.context("taking a database connection")?;
    let due = conn
        .query(
            "SELECT DISTINCT tenant_id, client_id FROM lots
             WHERE (state = 'pending' AND activates_at <= $1)
                OR (state = 'active' AND expires_at <= $1 AND remaining > held)
             LIMIT $2",
            &[&now, &batch],
        )
        .await
        .context("finding due lots")?;
    let mut changed = 0;
    for row in &due {
        let (tenant, client): (TenantId, ClientId) = (row.get(0), row.get(1));
        let tx = conn.transaction().await.context("beginning")?;
        let (mut account, mut head) = store::lock(&tx, &tenant, client).await?;
        let changes = account.advance(now);
        if !changes.is_empty() {
            store::write(&tx, &tenant, client, &account, &[], &mut head, &entries_of(&changes, now, origin)).await?;
            let view = store::balances::View::of(&account, &head);
            publish(&tx, &crate::events::balance(&tenant, client, &view)).await?;
            changed += 1;
        }
        loyalty_platform::outbox::commit(tx).await.context("committing")?;
    }
    Ok(changed)
}
