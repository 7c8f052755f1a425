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

#[test]
fn a_request_with_a_map_encodes_to_the_same_bytes_whatever_order_its_entries_came_in() {
    use loyalty_api::client::v1 as pb;
    use prost::Message;
    let attribute = |text: &str| loyalty_api::common::v1::AttributeValue {
        value: Some(loyalty_api::common::v1::attribute_value::Value::Text(text.into())),
    };
    let build = |order: &[(&str, &str)]| {
        let mut client = pb::Client::default();
        for (k, v) in order {
            client.custom_attributes.insert(k.to_string(), attribute(v));
        }
        pb::CreateClientRequest { client: Some(client), ..Default::default() }.encode_to_vec()
    };
    let one = build(&[("shoe_size", "38"), ("favourite_shop", "VLN-01"), ("pet", "cat")]);
    let other = build(&[("pet", "cat"), ("shoe_size", "38"), ("favourite_shop", "VLN-01")]);
    assert_eq!(one, other, "a retry from another process hashes like the first call");
}
