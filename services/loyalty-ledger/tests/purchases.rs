//! LE-2, LE-4, LE-6, LE-9 on real storage: what a purchase earns and spends, under which rules.
use loyalty_ledger::domain::programme::{Level, Programme};
use loyalty_ledger::ops::Origin;
use loyalty_ledger::purchases::{self, NewPurchase, PurchaseError};
use loyalty_platform::Secret;
use loyalty_platform::config::DatabaseSettings;
use time::OffsetDateTime;
use uuid::Uuid;

fn origin() -> Origin<'static> {
    Origin { source: "purchase", actor: serde_json::json!({"id": "pos-7"}), comment: "", purchase_id: None }
}

async fn pool() -> deadpool_postgres::Pool {
    let db = loyalty_localpg::test_database().await.expect("a PostgreSQL for tests");
    let settings = DatabaseSettings { url: Secret::new(db.url), max_size: 8, ..Default::default() };
    loyalty_platform::db::migrate(&settings, "ledger", Some(loyalty_ledger::migrations())).await.expect("migrations");
    loyalty_platform::db::pool(&settings, "ledger").expect("pool")
}

fn purchase(client: Uuid, check: &str, amount_minor: i64, spend: i64) -> NewPurchase {
    NewPurchase {
        id: Uuid::now_v7(),
        client_id: client,
        check_id: check.into(),
        store_id: "VLN-01".into(),
        amount_minor,
        currency: "EUR".into(),
        payment_method: "card".into(),
        points_to_spend: spend,
        ..Default::default()
    }
}

#[tokio::test]
async fn purchases_earn_on_what_money_paid_spend_within_the_share_and_climb_levels() {
    let pool = pool().await;
    let mut conn = pool.get().await.expect("connection");
    let now = OffsetDateTime::now_utc();
    let mut rules = Programme::default();
    rules.levels.push(Level {
        id: "gold".into(),
        name: "Gold".into(),
        threshold: 14_000,
        earn_multiplier_bp: 20_000,
        discount_bp: 500,
    });
    let published = loyalty_ledger::programmes::publish(&conn, "acme", &rules, now - time::Duration::seconds(1))
        .await
        .expect("rules");
    assert_eq!(published.version, 1);
    let client = Uuid::now_v7();

    let first =
        purchases::record(&conn, "acme", &purchase(client, "A-1", 12_345, 0), now, &origin()).await.expect("first");
    assert_eq!((first.earned, first.spent, first.view.balance.available), (123, 0, 123), "123.45 EUR earns 123 points");
    assert_eq!((first.view.level_id.as_str(), first.programme.version), ("base", 1));

    // 20 EUR paying 100 points (1 EUR): earns on the 19 EUR paid with money, still at base level.
    let second =
        purchases::record(&conn, "acme", &purchase(client, "A-2", 2_000, 100), now, &origin()).await.expect("second");
    assert_eq!((second.earned, second.spent, second.view.balance.available), (19, 100, 42));
    assert_eq!(second.view.level_id, "gold", "143.45 EUR over the period reaches gold after this purchase");

    // Gold doubles what the next purchase earns.
    let third =
        purchases::record(&conn, "acme", &purchase(client, "A-3", 1_000, 0), now, &origin()).await.expect("third");
    assert_eq!(third.earned, 20);

    let over = purchases::record(&conn, "acme", &purchase(client, "A-4", 1_000, 600), now, &origin()).await;
    assert!(matches!(over, Err(PurchaseError::OverShare { max: 500 })), "half of a 10 EUR check is 500 points");
    let short = purchases::record(&conn, "acme", &purchase(client, "A-5", 100_000, 5_000), now, &origin()).await;
    assert!(matches!(short, Err(PurchaseError::Insufficient(_))));
    // A failed purchase's transaction is rolled back, as the gRPC handler does.
    let tx = conn.transaction().await.expect("begin");
    let again = purchases::record(&tx, "acme", &purchase(client, "A-1", 500, 0), now, &origin()).await;
    assert!(matches!(again, Err(PurchaseError::DuplicateCheck)), "a store's check counts once");
    tx.rollback().await.expect("rollback");
    let (broken, checked) = loyalty_ledger::store::verify_chain(&conn, "acme", client).await.expect("verify");
    assert_eq!((broken, checked), (None, 4), "earned, spent + earned, earned");
}
