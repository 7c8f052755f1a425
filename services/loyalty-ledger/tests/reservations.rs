//! LE-5 on real storage: holds leave available at once, commits spend exactly what they say, and
//! cancels and timeouts give everything back.
use loyalty_ledger::store::accounts::{self as ops, Origin};
use loyalty_ledger::store::reservations::{self, Close};
use loyalty_platform::Secret;
use loyalty_platform::config::DatabaseSettings;
use loyalty_platform::error::ApiError;
use loyalty_platform::{ClientId, TenantId};
use time::{Duration, OffsetDateTime};

fn origin() -> Origin<'static> {
    Origin { source: "test", actor: serde_json::json!({"id": "pos-7"}), comment: "", purchase_id: None }
}

async fn pool() -> deadpool_postgres::Pool {
    let db = loyalty_localpg::test_database().await.expect("a PostgreSQL for tests");
    let settings = DatabaseSettings { url: Secret::new(db.url), max_size: 8, ..Default::default() };
    loyalty_platform::db::migrate(&settings, "ledger", Some(loyalty_ledger::migrations())).await.expect("migrations");
    loyalty_platform::db::pool(&settings, "ledger").expect("pool")
}

#[tokio::test]
async fn holds_commits_cancels_and_timeouts_keep_every_point() {
    let pool = pool().await;
    let client = ClientId::generate();
    let now = OffsetDateTime::now_utc();
    // One caller, one step at a time: each call runs in its own implicit transaction here; the
    // concurrency test in accounts.rs runs them in explicit ones.
    let conn = pool.get().await.expect("connection");
    ops::earn(&conn, &acme(), client, 5_000, (now, None), now, &origin()).await.expect("earned");

    let mut ids = Vec::new();
    for i in 0..5 {
        let (id, balance) = reservations::reserve(
            &conn,
            &acme(),
            client,
            (1_000, &format!("order-{i}"), Duration::minutes(15)),
            now,
            &origin(),
        )
        .await
        .expect("held");
        assert_eq!(balance.available, 4_000 - i * 1_000, "a hold leaves available at once");
        ids.push(id);
    }
    let sixth =
        reservations::reserve(&conn, &acme(), client, (1_000, "order-6", Duration::minutes(15)), now, &origin()).await;
    assert!(sixth.is_err(), "six holds of 1,000 on 5,000: the sixth is refused");

    let b =
        reservations::close(&conn, &acme(), ids[0], Close::Commit(400), now, &origin()).await.expect("partial commit");
    assert_eq!((b.available, b.reserved, b.used), (600, 4_000, 400));
    let b = reservations::close(&conn, &acme(), ids[1], Close::Cancel, now, &origin()).await.expect("cancel");
    assert_eq!((b.available, b.reserved), (1_600, 3_000));
    assert!(matches!(
        reservations::close(&conn, &acme(), ids[1], Close::Commit(0), now, &origin()).await,
        Err(ApiError::FailedPrecondition(_))
    ));
    assert!(matches!(
        reservations::close(&conn, &acme(), ids[2], Close::Commit(1_001), now, &origin()).await,
        Err(ApiError::InvalidArgument(_))
    ));

    let later = now + Duration::minutes(16);
    let timed_out = reservations::time_out_due(&pool, later, 100).await.expect("sweep");
    assert_eq!(timed_out, 3, "the three open holds time out");
    let b = reservations::close(&conn, &acme(), ids[4], Close::Commit(0), later, &origin()).await;
    assert!(matches!(b, Err(ApiError::FailedPrecondition(m)) if m == "the reservation is timed_out already"));
    let row = conn
        .query_one(
            "SELECT available, reserved, used FROM accounts WHERE tenant_id = 'acme' AND client_id = $1",
            &[&client],
        )
        .await
        .expect("account");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1), row.get::<_, i64>(2)), (4_600, 0, 400));
    let (broken, _) = loyalty_ledger::store::verify_chain(&conn, &acme(), client).await.expect("verify");
    assert_eq!(broken, None);
}

fn acme() -> TenantId {
    TenantId::trusted("acme")
}
