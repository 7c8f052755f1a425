//! Membership lag: new clients through the client service, a dynamic segment "bought once in
//! Lagtown", then each client's first purchase through the ledger at 500 purchases/s; the lag is
//! from the purchase's answer (committed) to the segment's "entered" event on its live feed.
use crate::harness::{env_number, round};
use crate::segment_count::Segments;
use futures::StreamExt;
use loyalty_api::client::v1 as clients;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::{Money, RequestContext};
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use loyalty_api::filter::v1::{Audience, audience::Source};
use loyalty_api::ledger::v1 as ledger;
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_api::segment::v1 as pb;
use loyalty_platform::auth::BearerToken;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Times = Arc<Mutex<HashMap<String, Instant>>>;

async fn count(api: &mut Segments, text: &str) -> anyhow::Result<i64> {
    let filter = api.parse_filter(pb::ParseFilterRequest { filter_text: text.into() }).await?.into_inner().filter;
    let audience = Some(Audience { source: filter.map(Source::Filter) });
    Ok(api.count_clients(pb::CountClientsRequest { audience }).await?.into_inner().count)
}

pub async fn run(authed: InterceptedService<Channel, BearerToken>, api: &mut Segments) -> anyhow::Result<()> {
    let seconds = env_number("BENCH_LAG_SECONDS", 10)?;
    // The goal's rate, and one this 2-core machine sustains beside everything else it runs.
    let rates = [100u64, 500];
    let n: u64 = rates.iter().map(|r| r * seconds).sum();
    eprintln!("creating {n} clients in Lagtown through the client service");
    let people = ClientServiceClient::new(authed.clone());
    let created: Vec<anyhow::Result<String>> = futures::stream::iter(0..n)
        .map(|i| {
            let mut people = people.clone();
            async move {
                let person = clients::Client {
                    first_name: format!("Lag {i}"),
                    city: "Lagtown".into(),
                    phone: format!("+3706{:07}", i),
                    ..Default::default()
                };
                let request = clients::CreateClientRequest { client: Some(person), ..Default::default() };
                Ok(people.create_client(request).await?.into_inner().id)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ids: Vec<String> = created.into_iter().collect::<anyhow::Result<_>>()?;
    while count(api, r#"client.city = "Lagtown""#).await? < n as i64 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let filter = api
        .parse_filter(pb::ParseFilterRequest {
            filter_text: r#"client.city = "Lagtown" and purchases.count >= 1"#.into(),
        })
        .await?
        .into_inner()
        .filter;
    let segment = pb::Segment {
        name: "Lagtown buyers".into(),
        kind: pb::SegmentKind::Dynamic as i32,
        filter,
        ..Default::default()
    };
    let segment = api.create_segment(pb::CreateSegmentRequest { segment: Some(segment), ..Default::default() }).await?;
    let segment_id = segment.into_inner().id;
    loop {
        let request = pb::GetSegmentMetricsRequest { segment_id: segment_id.clone(), period: None };
        if !api.get_segment_metrics(request).await?.into_inner().sizes.is_empty() {
            break; // the first (empty) membership is published
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let entered: Times = Arc::default();
    let watch = WatchEventsRequest { kinds: vec!["segment_membership_changed".into()], ..Default::default() };
    let mut feed = api.watch_events(watch).await?.into_inner();
    let (seen, lagtown) = (entered.clone(), segment_id.clone());
    // Only this segment's events, each client's first: new clients also enter built-in segments
    // ("new this month", first purchase), which say nothing of this one's lag.
    let listener = tokio::spawn(async move {
        while let Some(Ok(event)) = feed.next().await {
            if let Some(Payload::SegmentMembershipChanged(m)) = event.payload
                && m.entered
                && m.segment_id == lagtown
            {
                seen.lock().unwrap_or_else(|p| p.into_inner()).entry(m.client_id).or_insert_with(Instant::now);
            }
        }
    });
    // Where the time goes: when the ledger's own feed shows each purchase.
    let on_ledger_feed: Times = Arc::default();
    let watch = WatchEventsRequest { kinds: vec!["purchase_recorded".into()], ..Default::default() };
    let mut ledger_feed = LedgerServiceClient::new(authed.clone()).watch_events(watch).await?.into_inner();
    let seen = on_ledger_feed.clone();
    let ledger_listener = tokio::spawn(async move {
        while let Some(Ok(event)) = ledger_feed.next().await {
            if let Some(Payload::PurchaseRecorded(p)) = event.payload {
                seen.lock().unwrap_or_else(|p| p.into_inner()).insert(p.client_id, Instant::now());
            }
        }
    });
    let till = LedgerServiceClient::new(authed);
    let mut from = 0usize;
    for rate in rates {
        let batch = &ids[from..from + (rate * seconds) as usize];
        from += batch.len();
        let (committed, achieved) = drive(&till, batch, rate).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let arrived = |c: &String| entered.lock().unwrap_or_else(|p| p.into_inner()).contains_key(c);
        while !batch.iter().all(arrived) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let copy = |t: &Times| t.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (entered, on_ledger_feed) = (copy(&entered), copy(&on_ledger_feed));
        let lags_to = |arrived: &HashMap<String, Instant>| {
            let mut lags: Vec<f64> =
                committed.iter().filter_map(|(c, at)| arrived.get(c).map(|e| signed_ms(*e, *at))).collect();
            lags.sort_by(f64::total_cmp);
            lags
        };
        let (lags, ledger_lags) = (lags_to(&entered), lags_to(&on_ledger_feed));
        let at = |lags: &[f64], p: f64| {
            lags.get(((lags.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
        };
        let p99 = at(&lags, 0.99);
        // An event seen before the purchase's answer came back: the answer was slow, not the feed.
        let before_answer = lags.iter().filter(|l| **l < 0.0).count();
        println!(
            "{}",
            serde_json::json!({"scenario": format!("segment-count/membership-lag-{rate}-per-s"), "purchases": batch.len(),
                "purchases_per_s": round(achieved), "entered_events": lags.len(), "missing": batch.len() - lags.len(),
                "entered_before_the_answer": before_answer,
                "p50_ms": round(at(&lags, 0.5)), "p99_ms": round(p99), "max_ms": round(at(&lags, 1.0)),
                "ledger_feed_p50_ms": round(at(&ledger_lags, 0.5)), "ledger_feed_p99_ms": round(at(&ledger_lags, 0.99)),
                "goal_p99_ms": 1000.0, "goal_met": p99 <= 1000.0 && lags.len() == batch.len() && achieved >= 0.95 * rate as f64})
        );
    }
    listener.abort();
    ledger_listener.abort();
    Ok(())
}

/// `later - earlier` in milliseconds, negative when `later` came first.
fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => -(earlier.duration_since(later).as_secs_f64() * 1000.0),
    }
}

/// Each client's first purchase through the ledger at `rate` per second; when each was committed.
async fn drive(
    till: &LedgerServiceClient<InterceptedService<Channel, BearerToken>>,
    clients: &[String],
    rate: u64,
) -> anyhow::Result<(HashMap<String, Instant>, f64)> {
    eprintln!("recording {} first purchases at {rate}/s through the ledger", clients.len());
    let committed: Times = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    let started = Instant::now();
    let mut calls = Vec::new();
    for client in clients {
        ticker.tick().await;
        let (mut till, committed, client) = (till.clone(), committed.clone(), client.clone());
        calls.push(tokio::spawn(async move {
            let request = ledger::RecordPurchaseRequest {
                context: Some(RequestContext { idempotency_key: format!("lag-{client}"), ..Default::default() }),
                buyer: Some(ledger::record_purchase_request::Buyer::ClientId(client.clone())),
                check_id: format!("lag-{client}"),
                store_id: "S01".into(),
                amount: Some(Money { minor_units: 1_000, currency: "EUR".into() }),
                payment_method: ledger::PaymentMethod::Card as i32,
                ..Default::default()
            };
            till.record_purchase(request).await?;
            committed.lock().unwrap_or_else(|p| p.into_inner()).insert(client, Instant::now());
            Ok::<_, anyhow::Error>(())
        }));
    }
    for call in calls {
        call.await??;
    }
    let achieved = clients.len() as f64 / started.elapsed().as_secs_f64();
    let committed = committed.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok((committed, achieved))
}
