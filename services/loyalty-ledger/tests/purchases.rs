//! LE-2, LE-4, LE-6, LE-9 on real storage: what a purchase earns and spends, under which rules.
use loyalty_ledger::domain::programme::{Level, Programme};
use loyalty_ledger::store::accounts::Origin;
use loyalty_ledger::store::purchases::{self, NewPurchase, Recorded};
use loyalty_platform::config::DatabaseSettings;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::tz::TimeZone;
use loyalty_platform::{ClientId, Currency, PurchaseId, Secret, TenantId};
use time::OffsetDateTime;

fn origin() -> Origin<'static> {
    Origin { source: "purchase", actor: serde_json::json!({"id": "pos-7"}), comment: "", purchase_id: None }
}

async fn pool() -> deadpool_postgres::Pool {
    let db = loyalty_localpg::test_database().await.expect("a PostgreSQL for tests");
    let settings = DatabaseSettings { url: Secret::new(db.url), max_size: 8, ..Default::default() };
    loyalty_platform::db::migrate(&settings, "ledger", Some(loyalty_ledger::migrations())).await.expect("migrations");
    loyalty_platform::db::pool(&settings, "ledger").expect("pool")
}

fn purchase(client: ClientId, check: &str, amount_minor: i64, spend: i64) -> NewPurchase {
    NewPurchase {
        id: PurchaseId::generate(),
        client_id: client,
        check_id: check.into(),
        store_id: "VLN-01".into(),
        seller_id: String::new(),
        purchased_at: OffsetDateTime::now_utc(),
        amount_minor,
        currency: Currency::EUR,
        payment_method: "card".into(),
        lines: Vec::new(),
        promo_code: String::new(),
        promotion_id: String::new(),
        points_to_spend: spend,
        manual: false,
        card_id: String::new(),
    }
}

/// Records `p` as bought at `now`.
async fn record(
    db: &impl deadpool_postgres::GenericClient,
    p: &NewPurchase,
    now: OffsetDateTime,
) -> ApiResult<Recorded> {
    let p = NewPurchase { purchased_at: now, ..p.clone() };
    purchases::record(db, &TenantId::trusted("acme"), &p, (now, &TimeZone::UTC), &origin()).await
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
    let tenant = TenantId::trusted("acme");
    let published =
        loyalty_ledger::store::programmes::publish(&conn, &tenant, &rules, now - time::Duration::seconds(1))
            .await
            .expect("rules");
    assert_eq!(published.version, 1);
    let client = ClientId::generate();

    let first = record(&conn, &purchase(client, "A-1", 12_345, 0), now).await.expect("first");
    assert_eq!(
        (first.decision.earned, first.decision.spent, first.view.balance.available),
        (123, 0, 123),
        "123.45 EUR earns 123 points"
    );
    assert_eq!((first.view.level_id.as_str(), first.programme.version), ("base", 1));

    // 20 EUR paying 100 points (1 EUR): earns on the 19 EUR paid with money, still at base level.
    let second = record(&conn, &purchase(client, "A-2", 2_000, 100), now).await.expect("second");
    assert_eq!((second.decision.earned, second.decision.spent, second.view.balance.available), (19, 100, 42));
    assert_eq!(second.view.level_id, "gold", "143.45 EUR over the period reaches gold after this purchase");

    // Gold doubles what the next purchase earns.
    let third = record(&conn, &purchase(client, "A-3", 1_000, 0), now).await.expect("third");
    assert_eq!(third.decision.earned, 20);

    let over = record(&conn, &purchase(client, "A-4", 1_000, 600), now).await.err().expect("over the share");
    assert_eq!(over.to_string(), "at most 500 points may pay this check", "half of a 10 EUR check is 500 points");
    let short = record(&conn, &purchase(client, "A-5", 100_000, 5_000), now).await.err().expect("too few points");
    assert!(short.to_string().starts_with("insufficient points"), "{short}");
    // A failed purchase's transaction is rolled back, as the gRPC handler does.
    let tx = conn.transaction().await.expect("begin");
    let again = record(&tx, &purchase(client, "A-1", 500, 0), now).await;
    assert!(matches!(again, Err(ApiError::AlreadyExists(_))), "a store's check counts once");
    tx.rollback().await.expect("rollback");
    let (broken, checked) = loyalty_ledger::store::verify_chain(&conn, &tenant, client).await.expect("verify");
    assert_eq!((broken, checked), (None, 4), "earned, spent + earned, earned");
}
