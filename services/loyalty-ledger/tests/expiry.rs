//! LE-8, LE-1: activation and expiry at their exact instants, driven by a clock the test moves,
//! visible in the balance and checkable against the entries.
use loyalty_ledger::store::accounts::{self as ops, Origin};
use loyalty_platform::Secret;
use loyalty_platform::config::DatabaseSettings;
use loyalty_platform::{ClientId, TenantId};
use time::{Duration, macros::datetime};

fn origin() -> Origin<'static> {
    Origin { source: "expiry", actor: serde_json::json!({"id": "system"}), comment: "", purchase_id: None }
}

#[tokio::test]
async fn points_activate_and_expire_at_their_instants_and_the_account_stays_consistent() {
    let db = loyalty_localpg::test_database().await.expect("a PostgreSQL for tests");
    let settings = DatabaseSettings { url: Secret::new(db.url), max_size: 8, ..Default::default() };
    loyalty_platform::db::migrate(&settings, "ledger", Some(loyalty_ledger::migrations())).await.expect("migrations");
    let pool = loyalty_platform::db::pool(&settings, "ledger").expect("pool");
    let conn = pool.get().await.expect("connection");
    let client = ClientId::generate();
    let t0 = datetime!(2026-11-24 12:00 UTC);
    // 300 points pending for a day, then valid for a week; 200 available now, valid for two days.
    ops::earn(&conn, &acme(), client, 300, (t0 + Duration::days(1), Some(t0 + Duration::days(8))), t0, &origin())
        .await
        .expect("pending");
    ops::earn(&conn, &acme(), client, 200, (t0, Some(t0 + Duration::days(2))), t0, &origin()).await.expect("active");
    let v = loyalty_ledger::store::balances::view(&conn, &acme(), client).await.expect("view");
    assert_eq!((v.balance.available, v.balance.pending), (200, 300));
    assert_eq!((v.next_expiry_at, v.next_expiry_points), (Some(t0 + Duration::days(2)), 200));

    let just_before = t0 + Duration::days(1) - Duration::seconds(1);
    assert_eq!(loyalty_ledger::store::expiry::advance_due(&pool, just_before, 100).await.expect("tick"), 0);
    assert_eq!(loyalty_ledger::store::expiry::advance_due(&pool, t0 + Duration::days(1), 100).await.expect("tick"), 1);
    let v = loyalty_ledger::store::balances::view(&conn, &acme(), client).await.expect("view");
    assert_eq!((v.balance.available, v.balance.pending), (500, 0), "activated at its instant");

    loyalty_ledger::store::expiry::advance_due(&pool, t0 + Duration::days(2), 100).await.expect("tick");
    let v = loyalty_ledger::store::balances::view(&conn, &acme(), client).await.expect("view");
    assert_eq!((v.balance.available, v.balance.expired), (300, 200), "expired at its instant");
    assert_eq!((v.next_expiry_at, v.next_expiry_points), (Some(t0 + Duration::days(8)), 300));

    let kinds: Vec<String> = conn
        .query("SELECT kind FROM entries WHERE tenant_id = 'acme' AND client_id = $1 ORDER BY seq", &[&client])
        .await
        .expect("entries")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, vec!["earned", "earned", "activated", "expired"], "both show in the history");
    let check = loyalty_ledger::store::balances::verify(&conn, &acme(), client).await.expect("verify");
    assert!(check.consistent(), "{check:?}");
}

fn acme() -> TenantId {
    TenantId::trusted("acme")
}
