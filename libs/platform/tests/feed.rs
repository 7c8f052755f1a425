//! The feed consumer: exactly-once application, resumption from the cursor, one leader at a time.
mod support;

use loyalty_api::events::v1::Event;
use loyalty_platform::feed::{ApplyEvent, FeedConsumer, PARK_AFTER};
use loyalty_platform::feed_ops::{ParkedEvents, ParkedFeed};
use loyalty_platform::outbox::Outbox;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{blocked, comment, publish_committed};
use tokio_util::sync::CancellationToken;

/// Records each applied event in `applied`, whose primary key makes a second application fail.
struct Recorder {
    replica: &'static str,
    /// Shared by every replica of a test, so overlap across replicas is seen.
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    /// Fail the first application of this comment once, as a crash mid-apply would.
    fail_once: std::sync::Mutex<Option<String>>,
    /// Fail every application of this comment, as a poisoned event does.
    fail_always: std::sync::Mutex<Option<String>>,
}

impl Recorder {
    fn new(replica: &'static str, in_flight: Arc<AtomicUsize>, max_in_flight: Arc<AtomicUsize>) -> Arc<Self> {
        Arc::new(Self {
            replica,
            in_flight,
            max_in_flight,
            fail_once: Default::default(),
            fail_always: Default::default(),
        })
    }
}

impl ApplyEvent for Recorder {
    async fn apply(&self, tx: &deadpool_postgres::Transaction<'_>, event: &Event) -> anyhow::Result<()> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let name = comment(event);
        let result = async {
            tx.execute(
                "INSERT INTO applied (sequence, comment, replica) VALUES ($1, $2, $3)",
                &[&event.sequence, &name, &self.replica],
            )
            .await?;
            tokio::time::sleep(Duration::from_millis(2)).await;
            if self.fail_always.lock().expect("lock").as_deref() == Some(name.as_str()) {
                anyhow::bail!("the event names something this consumer cannot apply: {name}");
            }
            let mut fail = self.fail_once.lock().expect("lock");
            if fail.as_deref() == Some(name.as_str()) {
                *fail = None;
                anyhow::bail!("simulated crash while applying {name}");
            }
            Ok(())
        }
        .await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

async fn setup() -> (deadpool_postgres::Pool, Outbox) {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (settings, pool) = support::migrated().await;
    pool.get()
        .await
        .expect("connection")
        .batch_execute(
            "CREATE TABLE applied (sequence bigint PRIMARY KEY, comment text NOT NULL, replica text NOT NULL)",
        )
        .await
        .expect("create applied");
    let outbox = Outbox::new(pool.clone(), &settings, support::SCHEMA, "probe", Default::default()).expect("outbox");
    (pool, outbox)
}

fn consumer(pool: &deadpool_postgres::Pool, outbox: &Outbox, handler: Arc<Recorder>) -> FeedConsumer<Recorder> {
    let mut c = FeedConsumer::new("probe-feed", pool.clone(), Arc::new(outbox.clone()), handler);
    c.retry_after = Duration::from_millis(50);
    c
}

async fn applied(pool: &deadpool_postgres::Pool) -> Vec<(i64, String, String)> {
    let conn = pool.get().await.expect("connection");
    conn.query("SELECT sequence, comment, replica FROM applied ORDER BY sequence", &[])
        .await
        .expect("query")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn wait_for_applied(pool: &deadpool_postgres::Pool, at_least: usize) -> Vec<(i64, String, String)> {
    for _ in 0..400 {
        let rows = applied(pool).await;
        if rows.len() >= at_least {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {at_least} events applied after 20 s: {:?}", applied(pool).await.len());
}

#[tokio::test]
async fn a_restarted_consumer_resumes_from_its_cursor_with_no_gap_and_no_duplicate() {
    let (pool, outbox) = setup().await;
    for i in 0..20 {
        publish_committed(&pool, &blocked("acme", &format!("e{i:02}"))).await;
    }
    let max = Arc::new(AtomicUsize::new(0));
    let recorder = Recorder::new("a", Arc::default(), max.clone());
    *recorder.fail_once.lock().expect("lock") = Some("e05".into());

    let stop = CancellationToken::new();
    let run = tokio::spawn(consumer(&pool, &outbox, recorder.clone()).run(stop.clone()));
    wait_for_applied(&pool, 10).await;
    stop.cancel();
    run.await.expect("consumer stops");
    let stopped_at = applied(&pool).await.len();

    for i in 20..30 {
        publish_committed(&pool, &blocked("acme", &format!("e{i:02}"))).await;
    }
    let stop = CancellationToken::new();
    let run = tokio::spawn(consumer(&pool, &outbox, recorder).run(stop.clone()));
    let rows = wait_for_applied(&pool, 30).await;
    stop.cancel();
    run.await.expect("consumer stops");

    assert!(stopped_at < 30, "the first run was stopped mid-stream");
    let sequences: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(sequences, (1..=30).collect::<Vec<_>>(), "every event applied once, none skipped");
    let names: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    assert_eq!(names, (0..30).map(|i| format!("e{i:02}")).collect::<Vec<_>>());
    let cursor = consumer(&pool, &outbox, Recorder::new("probe", Arc::default(), max)).cursor().await.expect("cursor");
    assert_eq!(cursor, 30);
}

#[tokio::test]
async fn two_replicas_never_apply_the_same_feed_at_once() {
    let (pool, outbox) = setup().await;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let a = Recorder::new("a", in_flight.clone(), max.clone());
    let b = Recorder::new("b", in_flight, max.clone());
    let stop_a = CancellationToken::new();
    let stop_b = CancellationToken::new();
    let run_a = tokio::spawn(consumer(&pool, &outbox, a.clone()).run(stop_a.clone()));
    let run_b = tokio::spawn(consumer(&pool, &outbox, b.clone()).run(stop_b.clone()));
    for i in 0..40 {
        publish_committed(&pool, &blocked("acme", &format!("e{i:02}"))).await;
    }
    let rows = wait_for_applied(&pool, 40).await;
    let leader = rows[0].2.clone();
    assert!(rows.iter().all(|r| r.2 == leader), "one replica applied everything while it led");

    // The leader goes away; the standby takes over from the cursor.
    let (stop_leader, run_leader, stop_standby, run_standby) =
        if leader == "a" { (stop_a, run_a, stop_b, run_b) } else { (stop_b, run_b, stop_a, run_a) };
    stop_leader.cancel();
    run_leader.await.expect("leader stops");
    for i in 40..50 {
        publish_committed(&pool, &blocked("acme", &format!("e{i:02}"))).await;
    }
    let rows = wait_for_applied(&pool, 50).await;
    stop_standby.cancel();
    run_standby.await.expect("standby stops");

    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), (1..=50).collect::<Vec<_>>());
    assert!(rows[40..].iter().all(|r| r.2 != leader), "the standby applied what came after the hand-over");
    assert_eq!(max.load(Ordering::SeqCst), 1, "never more than one event in flight across both replicas");
}

#[tokio::test]
async fn an_event_that_never_applies_is_parked_and_the_feed_goes_on() {
    let (pool, outbox) = setup().await;
    for i in 0..10 {
        publish_committed(&pool, &blocked("acme", &format!("e{i:02}"))).await;
    }
    let recorder = Recorder::new("a", Arc::default(), Arc::default());
    *recorder.fail_always.lock().expect("lock") = Some("e03".into());
    let stop = CancellationToken::new();
    let run = tokio::spawn(consumer(&pool, &outbox, recorder.clone()).run(stop.clone()));
    let rows = wait_for_applied(&pool, 9).await;
    let names: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    assert!(!names.contains(&"e03".to_string()), "the poisoned event applied nothing");
    assert!(names.contains(&"e09".to_string()), "the events after it were not held back: {names:?}");

    let parked =
        ParkedEvents { service: "probe", consumer: "probe-feed".into(), pool: pool.clone(), handler: recorder.clone() };
    let listed = parked.list(10).await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].sequence, listed[0].kind.as_str(), listed[0].attempts),
        (4, "client_blocked", PARK_AFTER as i32)
    );
    assert!(listed[0].reason.contains("cannot apply"), "{}", listed[0].reason);
    // Still broken: it stays parked, with the new reason.
    let again = parked.retry(4).await.expect_err("fails again");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    // Fixed: a retry applies it and it leaves the list.
    *recorder.fail_always.lock().expect("lock") = None;
    parked.retry(4).await.expect("applies").expect("was parked");
    assert!(parked.list(10).await.expect("list").is_empty());
    stop.cancel();
    run.await.expect("consumer stops");
    assert_eq!(applied(&pool).await.len(), 10, "every event applied exactly once in the end");
}

#[test]
fn the_database_going_away_is_transient_and_a_bad_event_is_not() {
    let bad = anyhow::anyhow!("the event names a client id that is not a UUID");
    assert!(!loyalty_platform::feed::is_transient(&bad));
}
