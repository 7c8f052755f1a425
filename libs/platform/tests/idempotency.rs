//! Idempotency keys are kept for the retention (LE-11: at least 7 days) and purged after it.
mod support;

use loyalty_platform::idempotency::{self, Claim, RETENTION_DAYS};

#[tokio::test]
async fn keys_are_kept_for_the_retention_and_purged_after_it() {
    let (_settings, pool) = support::migrated().await;
    let mut conn = pool.get().await.expect("connection");
    for key in ["fresh", "six-days", "eight-days"] {
        let tx = conn.transaction().await.expect("begin");
        assert!(matches!(idempotency::claim(&tx, "acme", key, "Probe", b"body").await, Ok(Claim::Fresh { .. })));
        idempotency::remember(&tx, "acme", key, "", b"answer").await.expect("remember");
        tx.commit().await.expect("commit");
    }
    conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '6 days' WHERE key = 'six-days'", &[])
        .await
        .expect("age");
    conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '8 days' WHERE key = 'eight-days'", &[])
        .await
        .expect("age");
    assert_eq!(RETENTION_DAYS, 7);
    assert_eq!(idempotency::purge_expired(&conn).await.expect("purge"), 1);
    let left: Vec<String> = conn
        .query("SELECT key FROM idempotency_keys ORDER BY key", &[])
        .await
        .expect("keys")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["fresh", "six-days"]);
    // A retry within the retention still gets the first answer.
    let tx = conn.transaction().await.expect("begin");
    match idempotency::claim(&tx, "acme", "six-days", "Probe", b"body").await {
        Ok(Claim::Replay(answer)) => assert_eq!(answer, b"answer"),
        _ => panic!("a six-day-old key replays"),
    }
}
