//! The outbox feed: commit order, no gaps, nothing rolled back, tenants kept apart.
mod support;

use futures::StreamExt;
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_platform::outbox::{Outbox, publish};
use std::time::Duration;
use support::{blocked, comment, publish_committed};

fn replay() -> WatchEventsRequest {
    WatchEventsRequest { after_sequence: 0, kinds: vec![], replay_only: true }
}

async fn collect(outbox: &Outbox, tenant: Option<&str>, req: WatchEventsRequest) -> Vec<Event> {
    let stream = outbox.watch(tenant.map(str::to_string), req);
    tokio::time::timeout(Duration::from_secs(20), stream.map(|e| e.expect("event")).collect::<Vec<_>>())
        .await
        .expect("replay ends")
}

#[tokio::test]
async fn committed_events_arrive_in_order_and_rolled_back_ones_never_do() {
    let (settings, pool) = support::migrated().await;
    let outbox = Outbox::new(pool.clone(), &settings, support::SCHEMA, "probe", Default::default()).expect("outbox");
    publish_committed(&pool, &blocked("acme", "first")).await;
    {
        let mut conn = pool.get().await.expect("connection");
        let tx = conn.transaction().await.expect("begin");
        publish(&tx, &blocked("acme", "rolled back")).await.expect("publish");
        tx.rollback().await.expect("rollback");
    }
    publish_committed(&pool, &blocked("acme", "second")).await;

    let events = collect(&outbox, None, replay()).await;
    let seen: Vec<_> = events.iter().map(|e| (e.sequence, comment(e))).collect();
    assert_eq!(seen, vec![(1, "first".to_string()), (2, "second".to_string())]);
    assert!(events.iter().all(|e| e.source == "probe" && e.tenant_id == "acme"));

    let after_first = WatchEventsRequest { after_sequence: 1, ..replay() };
    let rest = collect(&outbox, None, after_first).await;
    assert_eq!(rest.iter().map(comment).collect::<Vec<_>>(), vec!["second"]);
}

#[tokio::test]
async fn a_live_watcher_sees_events_as_they_commit() {
    let (settings, pool) = support::migrated().await;
    let outbox = Outbox::new(pool.clone(), &settings, support::SCHEMA, "probe", Default::default()).expect("outbox");
    let mut live = outbox.watch(None, WatchEventsRequest::default());
    publish_committed(&pool, &blocked("acme", "one")).await;
    let first = tokio::time::timeout(Duration::from_secs(10), live.next()).await.expect("arrives").expect("open");
    assert_eq!(comment(&first.expect("ok")), "one");
    publish_committed(&pool, &blocked("acme", "two")).await;
    let second = tokio::time::timeout(Duration::from_secs(10), live.next()).await.expect("arrives").expect("open");
    assert_eq!(second.expect("ok").sequence, 2);
}

/// Many writers commit and roll back at once while a reader follows live: the reader must see every
/// committed event exactly once, numbered 1..N without a gap, and none that rolled back.
#[tokio::test]
async fn concurrent_writers_leave_no_gap_for_a_live_reader() {
    let (settings, pool) = support::migrated().await;
    let outbox = Outbox::new(pool.clone(), &settings, support::SCHEMA, "probe", Default::default()).expect("outbox");
    let writers = 6;
    let per_writer = 40;
    let mut live = outbox.watch(None, WatchEventsRequest::default());

    let tasks = (0..writers).map(|w| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut committed = Vec::new();
            for i in 0..per_writer {
                let name = format!("w{w}-{i}");
                let mut conn = pool.get().await.expect("connection");
                let tx = conn.transaction().await.expect("begin");
                publish(&tx, &blocked("acme", &name)).await.expect("publish");
                if i % 5 == 4 {
                    tx.rollback().await.expect("rollback");
                } else {
                    loyalty_platform::outbox::commit(tx).await.expect("commit");
                    committed.push(name);
                }
            }
            committed
        })
    });
    let mut expected: Vec<String> =
        futures::future::join_all(tasks).await.into_iter().flat_map(|t| t.expect("writer")).collect();
    let total = expected.len();
    assert_eq!(total, writers * per_writer * 4 / 5);

    let mut seen = Vec::new();
    while seen.len() < total {
        let next = tokio::time::timeout(Duration::from_secs(20), live.next()).await.expect("events keep coming");
        seen.push(next.expect("stream open").expect("event"));
    }
    let sequences: Vec<i64> = seen.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=total as i64).collect::<Vec<_>>(), "numbered 1..N in delivery order");
    let mut names: Vec<String> = seen.iter().map(comment).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected, "exactly the committed events");
    // Each writer's own events keep their order.
    for w in 0..writers {
        let prefix = format!("w{w}-");
        let mine: Vec<usize> = seen
            .iter()
            .map(comment)
            .filter(|c| c.starts_with(&prefix))
            .map(|c| c[prefix.len()..].parse().expect("index"))
            .collect();
        assert!(mine.windows(2).all(|p| p[0] < p[1]), "writer {w} out of order: {mine:?}");
    }
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_events_and_kinds_filter() {
    let (settings, pool) = support::migrated().await;
    let outbox = Outbox::new(pool.clone(), &settings, support::SCHEMA, "probe", Default::default()).expect("outbox");
    publish_committed(&pool, &blocked("acme", "acme-1")).await;
    publish_committed(&pool, &blocked("globex", "globex-1")).await;
    publish_committed(&pool, &blocked("acme", "acme-2")).await;

    let acme = collect(&outbox, Some("acme"), replay()).await;
    assert_eq!(acme.iter().map(comment).collect::<Vec<_>>(), vec!["acme-1", "acme-2"]);
    let globex = collect(&outbox, Some("globex"), replay()).await;
    assert_eq!(globex.iter().map(comment).collect::<Vec<_>>(), vec!["globex-1"]);
    assert_eq!(collect(&outbox, None, replay()).await.len(), 3, "a service account reads every tenant");

    let only_merges = WatchEventsRequest { kinds: vec!["clients_merged".into()], ..replay() };
    assert!(collect(&outbox, None, only_merges).await.is_empty());
    let only_blocks = WatchEventsRequest { kinds: vec!["client_blocked".into()], ..replay() };
    assert_eq!(collect(&outbox, None, only_blocks).await.len(), 3);
}

/// Other replicas learn of a commit from one `NOTIFY` the committing process sends after it; the
/// writing transaction itself notifies nothing (no queueing on Postgres's notification lock).
#[tokio::test]
async fn a_commit_nudges_other_replicas_with_a_notify_after_it() {
    let (settings, pool) = support::migrated().await;
    let _outbox = Outbox::new(pool.clone(), &settings, support::SCHEMA, "probe", Default::default()).expect("outbox");
    let config = loyalty_platform::db::pg_config(&settings, support::SCHEMA).expect("config");
    let (other_replica, mut connection) = config.connect(tokio_postgres::NoTls).await.expect("connect");
    let (tx_note, mut notes) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = tx_note.send(n.channel().to_string());
            }
        }
    });
    other_replica.batch_execute("LISTEN probe_outbox").await.expect("listen");

    // The outbox has no trigger left that would NOTIFY inside the writing transaction.
    let conn = pool.get().await.expect("connection");
    let triggers: i64 = conn
        .query_one("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'probe.outbox'::regclass AND NOT tgisinternal", &[])
        .await
        .expect("triggers")
        .get(0);
    assert_eq!(triggers, 0);
    drop(conn);

    let mut conn = pool.get().await.expect("connection");
    let tx = conn.transaction().await.expect("begin");
    publish(&tx, &blocked("acme", "nudged")).await.expect("publish");
    loyalty_platform::outbox::commit(tx).await.expect("commit");
    let channel = tokio::time::timeout(Duration::from_secs(5), notes.recv()).await.expect("a NOTIFY arrives");
    assert_eq!(channel.as_deref(), Some("probe_outbox"));
}
