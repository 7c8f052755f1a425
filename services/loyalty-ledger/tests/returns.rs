//! LE-7, LE-9 on real storage: partial returns after partial spending, points following the
//! returned share, never a negative balance under `within_balance`, and the level falling at once.
use loyalty_ledger::domain::programme::{Level, Programme, ReturnPolicy};
use loyalty_ledger::ops::Origin;
use loyalty_ledger::purchases::{self, Line, NewPurchase};
use loyalty_ledger::returns::{self, NewReturn};
use loyalty_platform::Secret;
use loyalty_platform::config::DatabaseSettings;
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
    loyalty_ledger::programmes::publish(&conn, "acme", &rules, now - time::Duration::seconds(1)).await.expect("rules");
    let client = Uuid::now_v7();

    let p1 = NewPurchase {
        id: Uuid::now_v7(),
        client_id: client,
        check_id: "A-1".into(),
        amount_minor: 10_000,
        currency: "EUR".into(),
        payment_method: "card".into(),
        lines: vec![line(1, 2_000, 6_000), line(2, 1_000, 4_000)],
        ..Default::default()
    };
    let r1 = purchases::record(&conn, "acme", &p1, now, &origin()).await.expect("p1");
    assert_eq!((r1.earned, r1.view.level_id.as_str()), (100, "gold"));
    let p2 = NewPurchase {
        id: Uuid::now_v7(),
        check_id: "A-2".into(),
        amount_minor: 2_000,
        points_to_spend: 60,
        lines: vec![],
        ..p1.clone()
    };
    let r2 = purchases::record(&conn, "acme", &p2, now, &origin()).await.expect("p2");
    assert_eq!(
        (r2.spent, r2.earned, r2.view.balance.available),
        (60, 38, 78),
        "gold doubles the 19.40 EUR paid with money"
    );

    // One of the two units of line 1: 30 EUR of 100, so 30 of its 100 points; gold is lost at once.
    let back = returns::record(
        &conn,
        "acme",
        &NewReturn { id: Uuid::now_v7(), purchase_id: p1.id, lines: vec![(1, 1_000)], ..Default::default() },
        now,
        &origin(),
    )
    .await
    .expect("partial return");
    assert_eq!((back.amount, back.cancelled, back.refunded, back.shortfall), (3_000, 30, 0, 0));
    assert_eq!((back.balance.available, back.level_id.as_str()), (48, "base"), "90 EUR over the period is below gold");

    // The second purchase entirely: its 38 earned points go, its 60 spent points come back.
    let back = returns::record(
        &conn,
        "acme",
        &NewReturn { id: Uuid::now_v7(), purchase_id: p2.id, ..Default::default() },
        now,
        &origin(),
    )
    .await
    .expect("full return");
    assert_eq!((back.cancelled, back.refunded, back.balance.available), (38, 60, 70));

    // The rest of the first: its remaining 70 points are cancelled, taken from the whole balance,
    // which ends at zero, never below.
    let back = returns::record(
        &conn,
        "acme",
        &NewReturn { id: Uuid::now_v7(), purchase_id: p1.id, ..Default::default() },
        now,
        &origin(),
    )
    .await
    .expect("the rest");
    assert_eq!((back.amount, back.cancelled, back.shortfall, back.balance.available), (7_000, 70, 0, 0));
    let again = returns::record(
        &conn,
        "acme",
        &NewReturn { id: Uuid::now_v7(), purchase_id: p1.id, ..Default::default() },
        now,
        &origin(),
    )
    .await;
    assert!(matches!(again, Err(returns::ReturnFailure::Invalid(_))), "nothing is left to return");
    let check = loyalty_ledger::balances::verify(&conn, "acme", client).await.expect("verify");
    assert!(check.consistent(), "cached balances equal the ones recomputed from entries and lots: {check:?}");
}
