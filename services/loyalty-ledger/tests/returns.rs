//! LE-7, LE-9 on real storage: partial returns after partial spending, points following the
//! returned share, never a negative balance under `within_balance`, and the level falling at once.
use loyalty_ledger::domain::programme::{Level, Programme, ReturnPolicy};
use loyalty_ledger::domain::purchase::Line;
use loyalty_ledger::store::accounts::Origin;
use loyalty_ledger::store::purchases::{self, NewPurchase};
use loyalty_ledger::store::returns::{self, NewReturn, Returned};
use loyalty_platform::config::DatabaseSettings;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::tz::TimeZone;
use loyalty_platform::{ClientId, Currency, PurchaseId, Secret, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

fn origin() -> Origin<'static> {
    Origin { source: "pos", actor: serde_json::json!({"id": "pos-7"}), comment: "", purchase_id: None }
}

async fn pool() -> deadpool_postgres::Pool {
    let db = loyalty_localpg::test_database().await.expect("a PostgreSQL for tests");
    let settings = DatabaseSettings { url: Secret::new(db.url), max_size: 8, ..Default::default() };
    loyalty_platform::db::migrate(&settings, "ledger", Some(loyalty_ledger::migrations())).await.expect("migrations");
    loyalty_platform::db::pool(&settings, "ledger").expect("pool")
}

fn tenant() -> TenantId {
    TenantId::trusted("acme")
}

fn new_return(purchase: PurchaseId, lines: Vec<(i32, i64)>, now: OffsetDateTime) -> NewReturn {
    NewReturn {
        id: Uuid::now_v7(),
        purchase_id: purchase,
        lines,
        accepted_by: String::new(),
        store_id: String::new(),
        returned_at: now,
    }
}

async fn give_back(
    db: &impl deadpool_postgres::GenericClient,
    r: &NewReturn,
    now: OffsetDateTime,
) -> ApiResult<Returned> {
    returns::record(db, &tenant(), r, (now, &TimeZone::UTC), &origin()).await
}

fn line(line_no: i32, quantity_milli: i64, amount_minor: i64) -> Line {
    Line { line_no, sku: format!("SKU-{line_no}"), quantity_milli, amount_minor, ..Default::default() }
}

#[tokio::test]
async fn partial_returns_after_partial_spending_keep_every_point_and_move_the_level() {
    let pool = pool().await;
    let conn = pool.get().await.expect("connection");
    let now = OffsetDateTime::now_utc();
    let mut rules = Programme { return_policy: ReturnPolicy::WithinBalance, ..Programme::default() };
    rules.levels.push(Level {
        id: "gold".into(),
        name: "Gold".into(),
        threshold: 10_000,
        earn_multiplier_bp: 20_000,
        discount_bp: 500,
    });
    loyalty_ledger::store::programmes::publish(&conn, &tenant(), &rules, now - time::Duration::seconds(1))
        .await
        .expect("rules");
    let client = ClientId::generate();

    let p1 = NewPurchase {
        id: PurchaseId::generate(),
        client_id: client,
        check_id: "A-1".into(),
        store_id: String::new(),
        seller_id: String::new(),
        purchased_at: now,
        amount_minor: 10_000,
        currency: Currency::EUR,
        payment_method: "card".into(),
        lines: vec![line(1, 2_000, 6_000), line(2, 1_000, 4_000)],
        promo_code: String::new(),
        promotion_id: String::new(),
        points_to_spend: 0,
        manual: false,
        card_id: String::new(),
    };
    let record = |p: NewPurchase| {
        let conn = &conn;
        async move { purchases::record(conn, &tenant(), &p, (now, &TimeZone::UTC), &origin()).await }
    };
    let r1 = record(p1.clone()).await.expect("p1");
    assert_eq!((r1.decision.earned, r1.view.level_id.as_str()), (100, "gold"));
    let p2 = NewPurchase {
        id: PurchaseId::generate(),
        check_id: "A-2".into(),
        amount_minor: 2_000,
        points_to_spend: 60,
        lines: vec![],
        ..p1.clone()
    };
    let r2 = record(p2.clone()).await.expect("p2");
    assert_eq!(
        (r2.decision.spent, r2.decision.earned, r2.view.balance.available),
        (60, 38, 78),
        "gold doubles the 19.40 EUR paid with money"
    );

    // One of the two units of line 1: 30 EUR of 100, so 30 of its 100 points; gold is lost at once.
    let back = give_back(&conn, &new_return(p1.id, vec![(1, 1_000)], now), now).await.expect("partial return");
    assert_eq!((back.amount, back.cancelled, back.refunded, back.shortfall), (3_000, 30, 0, 0));
    assert_eq!((back.balance.available, back.level_id.as_str()), (48, "base"), "90 EUR over the period is below gold");

    // The second purchase entirely: its 38 earned points go, its 60 spent points come back.
    let back = give_back(&conn, &new_return(p2.id, vec![], now), now).await.expect("full return");
    assert_eq!((back.cancelled, back.refunded, back.balance.available), (38, 60, 70));

    // The rest of the first: its remaining 70 points are cancelled, taken from the whole balance,
    // which ends at zero, never below.
    let back = give_back(&conn, &new_return(p1.id, vec![], now), now).await.expect("the rest");
    assert_eq!((back.amount, back.cancelled, back.shortfall, back.balance.available), (7_000, 70, 0, 0));
    let again = give_back(&conn, &new_return(p1.id, vec![], now), now).await;
    assert!(matches!(again, Err(ApiError::InvalidArgument(_))), "nothing is left to return");
    let check = loyalty_ledger::store::balances::verify(&conn, &tenant(), client).await.expect("verify");
    assert!(check.consistent(), "cached balances equal the ones recomputed from entries and lots: {check:?}");
}
