//! The ledger's storage under concurrency: one account's changes serialise, none overspends, and the
//! hash chain exposes a tampered entry.
use loyalty_ledger::store::accounts::{self as ops, Origin};
use loyalty_platform::Secret;
use loyalty_platform::config::DatabaseSettings;
use loyalty_platform::error::ApiError;
use loyalty_platform::{ClientId, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

async fn ledger() -> (DatabaseSettings, deadpool_postgres::Pool) {
    let db = loyalty_localpg::test_database().await.expect("a PostgreSQL for tests");
    let settings = DatabaseSettings { url: Secret::new(db.url), max_size: 70, ..Default::default() };
    loyalty_platform::db::migrate(&settings, "ledger", Some(loyalty_ledger::migrations())).await.expect("migrations");
    let pool = loyalty_platform::db::pool(&settings, "ledger").expect("pool");
    (settings, pool)
}

fn origin() -> Origin<'static> {
    Origin { source: "test", actor: serde_json::json!({"id": "tester"}), comment: "", purchase_id: None }
}

#[tokio::test]
async fn sixty_four_concurrent_redemptions_never_overspend_and_the_chain_holds() {
    let (settings, pool) = ledger().await;
    let client = ClientId::generate();
    let now = OffsetDateTime::now_utc();
    {
        let mut conn = pool.get().await.expect("connection");
        let tx = conn.transaction().await.expect("begin");
        ops::earn(&tx, &acme(), client, 5_000, (now, None), now, &origin()).await.expect("earned");
        tx.commit().await.expect("commit");
    }
    let spends = (0..64).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.get().await.expect("connection");
            let tx = conn.transaction().await.expect("begin");
            match ops::spend(&tx, &acme(), client, 100, OffsetDateTime::now_utc(), &origin()).await {
                Ok(_) => {
                    tx.commit().await.expect("commit");
                    true
                }
                Err(ApiError::FailedPrecondition(_)) => false,
                Err(e) => panic!("unexpected failure: {e:?}"),
            }
        })
    });
    let accepted = futures::future::join_all(spends).await.into_iter().filter(|r| *r.as_ref().expect("task")).count();
    assert_eq!(accepted, 50, "5,000 points pay for exactly fifty redemptions of 100");

    let db = loyalty_platform::db::connect(&settings, "ledger").await.expect("connect");
    let row = db
        .query_one(
            "SELECT available, used, entries FROM accounts WHERE tenant_id = 'acme' AND client_id = $1",
            &[&client],
        )
        .await
        .expect("account");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1), row.get::<_, i64>(2)), (0, 5_000, 51));
    let sum: i64 = db
        .query_one("SELECT sum(points)::bigint FROM entries WHERE tenant_id = 'acme' AND client_id = $1", &[&client])
        .await
        .expect("sum")
        .get(0);
    assert_eq!(sum, 0, "the entries reconcile with the balance: 5,000 earned, 5,000 spent");

    let conn = pool.get().await.expect("connection");
    let (broken, checked) = loyalty_ledger::store::verify_chain(&conn, &acme(), client).await.expect("verify");
    assert_eq!((broken, checked), (None, 51));
    db.execute("UPDATE entries SET points = -1 WHERE tenant_id = 'acme' AND client_id = $1 AND seq = 10", &[&client])
        .await
        .expect("tamper");
    let (broken, _) = loyalty_ledger::store::verify_chain(&conn, &acme(), client).await.expect("verify");
    let tampered: Uuid = db
        .query_one("SELECT id FROM entries WHERE tenant_id = 'acme' AND client_id = $1 AND seq = 10", &[&client])
        .await
        .expect("entry")
        .get(0);
    assert_eq!(broken, Some(tampered.to_string()), "the edited entry is found");
}

#[tokio::test]
async fn a_blocked_account_neither_earns_nor_spends() {
    let (settings, pool) = ledger().await;
    let client = ClientId::generate();
    let now = OffsetDateTime::now_utc();
    let mut conn = pool.get().await.expect("connection");
    let tx = conn.transaction().await.expect("begin");
    ops::earn(&tx, &acme(), client, 500, (now, None), now, &origin()).await.expect("earned");
    tx.commit().await.expect("commit");
    let db = loyalty_platform::db::connect(&settings, "ledger").await.expect("connect");
    db.execute("UPDATE accounts SET blocked = true WHERE client_id = $1", &[&client]).await.expect("block");
    let tx = conn.transaction().await.expect("begin");
    assert!(
        matches!(ops::spend(&tx, &acme(), client, 100, now, &origin()).await, Err(ApiError::FailedPrecondition(m)) if m.contains("blocked"))
    );
    assert!(
        matches!(ops::earn(&tx, &acme(), client, 100, (now, None), now, &origin()).await, Err(ApiError::FailedPrecondition(m)) if m.contains("blocked"))
    );
}

/// Rows of `lots` this transaction has read so far, by sequential scans and through any index.
async fn lots_read(tx: &deadpool_postgres::Transaction<'_>) -> i64 {
    tx.query_one(
        "SELECT pg_stat_get_xact_tuples_returned('lots'::regclass)
              + coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0)::bigint
         FROM pg_index WHERE indrelid = 'lots'::regclass",
        &[],
    )
    .await
    .expect("this transaction's statistics")
    .get(0)
}

/// A POS asks for a balance on every scan: the read must touch only that client's lots, even when
/// the planner's statistics still say no lot expires (taken before a wave of purchases with expiry,
/// autoanalyze not yet run) while every other client now holds expiring points.
#[tokio::test]
async fn a_balance_read_touches_only_the_clients_own_lots_whatever_the_statistics_say() {
    let (settings, pool) = ledger().await;
    let db = loyalty_platform::db::connect(&settings, "ledger").await.expect("connect");
    db.batch_execute(
        "ALTER TABLE lots SET (autovacuum_enabled = false);
         INSERT INTO accounts (tenant_id, client_id)
             SELECT 'acme', ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid
             FROM generate_series(1, 6000) AS i;
         INSERT INTO lots (tenant_id, client_id, lot_no, earned, remaining, activates_at, state, source)
             SELECT tenant_id, client_id, 1, 10, 10, now(), 'active', 'setup' FROM accounts;
         ANALYZE accounts;
         ANALYZE lots;
         INSERT INTO lots (tenant_id, client_id, lot_no, earned, remaining, activates_at, expires_at, state, source)
             SELECT tenant_id, client_id, 2, 10, 10, now(), now() + interval '1 year', 'active', 'setup'
             FROM accounts;",
    )
    .await
    .expect("other clients' lots");
    let client = ClientId::generate();
    let now = OffsetDateTime::now_utc();
    let expiry = now + time::Duration::days(30);
    let mut conn = pool.get().await.expect("connection");
    let tx = conn.transaction().await.expect("begin");
    ops::earn(&tx, &acme(), client, 70, (now, Some(expiry)), now, &origin()).await.expect("earned");
    ops::earn(&tx, &acme(), client, 30, (now, None), now, &origin()).await.expect("earned");
    tx.commit().await.expect("commit");

    let tx = conn.transaction().await.expect("begin");
    let before = lots_read(&tx).await;
    let view = loyalty_ledger::store::balances::view(&tx, &acme(), client).await.expect("balance");
    let after = lots_read(&tx).await;
    assert_eq!((view.balance.available, view.next_expiry_points), (100, 70));
    assert_eq!(view.next_expiry_at.map(|t| t.unix_timestamp()), Some(expiry.unix_timestamp()));
    assert!(after - before <= 2, "the balance read read {} lots for a client holding two", after - before);
}

fn acme() -> TenantId {
    TenantId::trusted("acme")
}
