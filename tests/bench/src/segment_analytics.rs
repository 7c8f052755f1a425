//! `segment-analytics`: on the `segment-count` data (1,000,000 clients, ~10,000,000 lines), the
//! whole CRM dashboard (every tile and chart, 30 days), the RFM grid and the day-of-week table
//! through gRPC, beside DuckDB answering the same questions over the same rows in the same run;
//! and the daily recomputation of the built-in segments' thresholds and RFM scores, its time and
//! the memory it takes. Goals: dashboard <= 300 ms, RFM grid and weekday table <= 100 ms each, no
//! figure slower than DuckDB's.
use crate::harness::{Timings, env_number, round};
use crate::segment_count::{Started, duckdb, rss_mb, start};
use loyalty_api::segment::v1 as pb;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// DuckDB's questions, each answering one number: the RFM grid, the weekday table, and the
/// dashboard's parts (their times add up to the dashboard's).
fn questions(today: i64) -> (String, String, Vec<String>, String) {
    let t = today;
    let cut = "[0.2, 0.4, 0.6, 0.8]";
    let rfm = format!(
        "WITH c AS (SELECT client, max(day) AS last, count(*) FILTER (WHERE day > {t} - 365) AS f,
                           coalesce(sum(amount) FILTER (WHERE day > {t} - 365), 0) AS m
                    FROM raw.purchases WHERE day <= {t} GROUP BY client),
              b AS (SELECT quantile_disc({t} - last, {cut}) AS rb, quantile_disc(f, {cut}) AS fb,
                           quantile_disc(m, {cut}) AS mb FROM c),
              s AS (SELECT 5 - (({t} - last > rb[1])::int + ({t} - last > rb[2])::int + ({t} - last > rb[3])::int
                                + ({t} - last > rb[4])::int) AS r,
                           1 + (f > fb[1])::int + (f > fb[2])::int + (f > fb[3])::int + (f > fb[4])::int AS fs,
                           1 + (m > mb[1])::int + (m > mb[2])::int + (m > mb[3])::int + (m > mb[4])::int AS ms
                    FROM c, b)
         SELECT count(*) FROM (SELECT r, (fs + ms + 1) // 2 AS fm, count(*) FROM s GROUP BY ALL)"
    );
    let weekday = format!(
        "WITH first AS (SELECT client, min(day) AS first FROM raw.purchases GROUP BY client),
              p AS (SELECT * FROM raw.purchases WHERE day BETWEEN {t} - 29 AND {t}),
              items AS (SELECT purchase, count(*) AS n FROM raw.lines WHERE purchase IN (SELECT id FROM p) GROUP BY purchase)
         SELECT count(*) FROM (
           SELECT p.day = f.first AS new, isodow(DATE '1970-01-01' + p.day::int) AS dow, count(*), sum(p.amount),
                  avg(p.amount), avg(coalesce(i.n, 0))
           FROM p JOIN first f USING (client) LEFT JOIN items i ON i.purchase = p.id GROUP BY ALL)"
    );
    let registered = "(registered - DATE '1970-01-01')";
    let dashboard = vec![
        // Active and sleeping, today and 30 days earlier.
        format!(
            "WITH last AS (SELECT client, max(day) AS now, max(day) FILTER (WHERE day <= {t} - 30) AS before
                           FROM raw.purchases GROUP BY client)
             SELECT count(*) FILTER (WHERE now >= {t} - 29) + count(*) FILTER (WHERE before >= {t} - 59)
                  + count(*) FILTER (WHERE now <= {t} - 90) + count(*) FILTER (WHERE before <= {t} - 120) FROM last"
        ),
        // Total, new and email consents, today and 30 days earlier.
        format!(
            "SELECT count(*) FILTER (WHERE {registered} <= {t}) + count(*) FILTER (WHERE {registered} <= {t} - 30)
                  + count(*) FILTER (WHERE {registered} > {t} - 30) + count(*) FILTER (WHERE {registered} BETWEEN {t} - 59 AND {t} - 30)
                  + count(*) FILTER (WHERE email = 'true') + count(*) FILTER (WHERE email = 'false') FROM raw.clients"
        ),
        // Subscriptions over the 30 days: who had joined by each day, by consent.
        format!(
            "SELECT count(*) FROM (SELECT email, d, sum(n) OVER (PARTITION BY email ORDER BY d) AS upto
               FROM (SELECT email, {registered} AS d, count(*) AS n FROM raw.clients GROUP BY ALL)) WHERE d > {t} - 30"
        ),
        // Subscription status by gender on the last day.
        "SELECT count(*) FROM (SELECT gender, email, count(*) FROM raw.clients GROUP BY ALL)".into(),
        // Prospects vs spenders, activity bands, spenders by value and by frequency.
        format!(
            "WITH c AS (SELECT client, max(day) AS last, count(*) AS n, sum(amount) AS total FROM raw.purchases GROUP BY client),
                  q AS (SELECT quantile_disc(total, [0.5, 0.8]) AS edge, avg(n) AS average FROM c)
             SELECT count(*) FROM (
               SELECT CASE WHEN {t} - last < 7 THEN 0 WHEN {t} - last <= 30 THEN 1 ELSE 2 END AS band,
                      CASE WHEN total >= edge[2] THEN 0 WHEN total >= edge[1] THEN 1 ELSE 2 END AS value,
                      CASE WHEN n > average THEN 0 WHEN n > 1 THEN 1 ELSE 2 END AS frequency, count(*)
               FROM c, q GROUP BY GROUPING SETS ((band), (value), (frequency)))"
        ),
        "SELECT count(*) FROM (SELECT tag, count(*) FROM raw.tags GROUP BY tag ORDER BY 2 DESC LIMIT 10)".into(),
        rfm.clone(),
    ];
    let scored = format!("SELECT count(DISTINCT client) FROM raw.purchases WHERE day <= {t}");
    (rfm, weekday, dashboard, scored)
}

/// `call` asked `repeats` times (after three warm-ups), with its latencies.
async fn timed<F, Fut, T>(repeats: u64, mut call: F) -> anyhow::Result<(Timings, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let mut latencies = Vec::new();
    let mut last = None;
    for r in 0..repeats + 3 {
        let t = Instant::now();
        let answer = call().await?.into_inner();
        if r >= 3 {
            latencies.push(t.elapsed());
        }
        last = Some(answer);
    }
    let answer = last.ok_or_else(|| anyhow::anyhow!("no answer"))?;
    Ok((Timings { latencies, elapsed: Duration::ZERO }, answer))
}

pub async fn run() -> anyhow::Result<()> {
    let repeats = env_number("BENCH_REPEATS", 20)?;
    let Started { today, written, files, mut api, server, .. } = start("bench_segment_analytics").await?;
    // The first computation of the thresholds follows the load.
    let waited = Instant::now();
    loop {
        let listed = api.list_automatic_segments(pb::ListAutomaticSegmentsRequest::default()).await?.into_inner();
        if listed.thresholds.is_some_and(|t| t.average_purchases_milli > 0) {
            break;
        }
        anyhow::ensure!(waited.elapsed() < Duration::from_secs(600), "the thresholds were never computed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The daily recomputation, asked for by a change of settings (it computes before it answers),
    // with the resident memory sampled meanwhile.
    let before = rss_mb();
    let peak = Arc::new(Mutex::new(before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                let now = rss_mb();
                let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                *p = p.max(now);
                drop(p);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let change = pb::UpdateAutomaticSegmentSettingsRequest {
        settings: Some(pb::AutomaticSegmentSettings { rfm_look_back_days: 364, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["rfm_look_back_days".into()] }),
    };
    let t = Instant::now();
    api.update_automatic_segment_settings(change.clone()).await?;
    let recompute_ms = t.elapsed().as_secs_f64() * 1000.0;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let peak_mb = *peak.lock().unwrap_or_else(|e| e.into_inner()) - before;
    let back = pb::AutomaticSegmentSettings { rfm_look_back_days: 365, ..Default::default() };
    api.update_automatic_segment_settings(pb::UpdateAutomaticSegmentSettingsRequest { settings: Some(back), ..change })
        .await?;

    let (dashboard, d) = timed(repeats, || {
        let mut api = api.clone();
        async move { api.get_dashboard(pb::GetDashboardRequest::default()).await }
    })
    .await?;
    let (rfm, grid) = timed(repeats, || {
        let mut api = api.clone();
        async move { api.get_rfm_grid(pb::GetRfmGridRequest::default()).await }
    })
    .await?;
    let yesterday = crate::segment_data::date(today - 1);
    let as_of = pb::GetRfmGridRequest {
        as_of: Some(loyalty_api::common::v1::Date {
            year: yesterday.year(),
            month: u8::from(yesterday.month()).into(),
            day: yesterday.day().into(),
        }),
    };
    let (rfm_as_of, _) = timed(repeats.min(5), || {
        let (mut api, asked) = (api.clone(), as_of);
        async move { api.get_rfm_grid(asked).await }
    })
    .await?;
    let (weekday, _) = timed(repeats, || {
        let mut api = api.clone();
        async move { api.get_customer_type_analytics(pb::GetCustomerTypeAnalyticsRequest::default()).await }
    })
    .await?;

    let (rfm_sql, weekday_sql, dashboard_sql, scored_sql) = questions(today);
    let mut sql = vec![rfm_sql, weekday_sql, scored_sql];
    sql.extend(dashboard_sql);
    let duck = tokio::task::spawn_blocking(move || duckdb(&files, &sql)).await??;
    let (duck_rfm, duck_weekday, duck_scored) = (duck[0].1, duck[1].1, duck[2].0);
    let duck_dashboard: f64 = duck[3..].iter().map(|d| d.1).sum();
    let figures = [
        ("dashboard_ms", dashboard.percentile_ms(0.5), duck_dashboard, 300.0),
        ("rfm_ms", rfm.percentile_ms(0.5), duck_rfm, 100.0),
        ("weekday_ms", weekday.percentile_ms(0.5), duck_weekday, 100.0),
    ];
    let slower: Vec<&str> = figures.iter().filter(|f| f.1 > f.2).map(|f| f.0).collect();
    let goals_met = figures.iter().all(|f| f.1 <= f.3) && slower.is_empty();
    println!(
        "{}",
        serde_json::json!({
            "scenario": "segment-analytics", "clients": written.clients, "lines": written.lines, "n": repeats,
            "dashboard_ms": round(dashboard.percentile_ms(0.5)), "dashboard_p99_ms": round(dashboard.percentile_ms(0.99)),
            "rfm_ms": round(rfm.percentile_ms(0.5)), "rfm_p99_ms": round(rfm.percentile_ms(0.99)),
            "rfm_as_of_ms": round(rfm_as_of.percentile_ms(0.5)),
            "weekday_ms": round(weekday.percentile_ms(0.5)), "weekday_p99_ms": round(weekday.percentile_ms(0.99)),
            "duckdb_dashboard_ms": round(duck_dashboard), "duckdb_rfm_ms": round(duck_rfm),
            "duckdb_weekday_ms": round(duck_weekday),
            "slower_than_duckdb": slower,
            "recompute_ms": round(recompute_ms), "recompute_peak_mb": round(peak_mb),
            "rfm_scored": grid.scored_clients, "duckdb_scored": duck_scored,
            "counts_agree": grid.scored_clients == duck_scored,
            "kpis": d.kpis.iter().map(|k| (k.kind, k.value, k.value_30_days_earlier)).collect::<Vec<_>>(),
            "goal_met": goals_met,
        })
    );
    server.stop().await
}
