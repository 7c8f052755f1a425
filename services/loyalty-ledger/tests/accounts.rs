//! The ledger's storage under concurrency: one account's changes serialise, none overspends, and the
//! hash chain exposes a tampered entry.
use loyalty_ledger::ops::{self, Origin, SpendError};
use loyalty_platform::Secret;
use loyalty_platform::config::DatabaseSettings;
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
    let client = Uuid::now_v7();
    let now = OffsetDateTime::now_utc();
    {
        let mut conn = pool.get().await.expect("connection");
        let tx = conn.transaction().await.expect("begin");
        ops::earn(&tx, "acme", client, 5_000, (now, None), now, &origin()).await.expect("earned");
        tx.commit().await.expect("commit");
    }
    let spends = (0..64).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.get().await.expect("connection");
            let tx = conn.transaction().await.expect("begin");
            match ops::spend(&tx, "acme", client, 100, OffsetDateTime::now_utc(), &origin()).await {
                Ok(_) => {
                    tx.commit().await.expect("commit");
                    true
                }
                Err(SpendError::Insufficient(_)) => false,
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
    let (broken, checked) = loyalty_ledger::store::verify_chain(&conn, "acme", client).await.expect("verify");
    assert_eq!((broken, checked), (None, 51));
    db.execute("UPDATE entries SET points = -1 WHERE tenant_id = 'acme' AND client_id = $1 AND seq = 10", &[&client])
        .await
        .expect("tamper");
    let (broken, _) = loyalty_ledger::store::verify_chain(&conn, "acme", client).await.expect("verify");
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
    let client = Uuid::now_v7();
    let now = OffsetDateTime::now_utc();
    let mut conn = pool.get().await.expect("connection");
    let tx = conn.transaction().await.expect("begin");
    ops::earn(&tx, "acme", client, 500, (now, None), now, &origin()).await.expect("earned");
    tx.commit().await.expect("commit");
    let db = loyalty_platform::db::connect(&settings, "ledger").await.expect("connect");
    db.execute("UPDATE accounts SET blocked = true WHERE client_id = $1", &[&client]).await.expect("block");
    let tx = conn.transaction().await.expect("begin");
    assert!(matches!(ops::spend(&tx, "acme", client, 100, now, &origin()).await, Err(SpendError::Blocked)));
    assert!(matches!(ops::earn(&tx, "acme", client, 100, (now, None), now, &origin()).await, Err(SpendError::Blocked)));
}
