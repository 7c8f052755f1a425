//! `segment-engine`: the segment-count questions answered by the in-memory engine alone, in this
//! process, with no gRPC, no token and no database in the way. The same population as
//! `segment-count` (same clients, purchases and lines, applied through the same `apply` the feed
//! follower uses), so the difference between the two runs is what the service adds around the
//! engine.
use crate::harness::{Timings, env_number, round};
use crate::segment_count::{asked, minor_faults, questions};
use crate::segment_data::{facts, person};
use loyalty_segment::domain::bits::Bits;
use loyalty_segment::domain::evaluate::{Context, evaluate};
use loyalty_segment::domain::{apply::apply, population::Population, text};
use std::time::{Duration, Instant};

pub fn run() -> anyhow::Result<()> {
    let n = env_number("BENCH_CLIENTS", 1_000_000)?;
    let repeats = env_number("BENCH_REPEATS", 50)?;
    let today = loyalty_segment::domain::evaluate::day_number(time::OffsetDateTime::now_utc().date());
    let zone = loyalty_platform::tz::stored("UTC");
    let mut p = Population::default();
    let started = Instant::now();
    let mut applied = 0u64;
    for row in 0..n {
        for (_, event) in facts(&person(row, today)) {
            apply(&mut p, &event, &zone);
            applied += 1;
        }
        if (row + 1) % 20_000 == 0 {
            p.settle();
            eprintln!(
                "applying facts: {}/{n} clients ({:.0} facts/s)",
                row + 1,
                applied as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    p.settle();
    let took = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"scenario": "segment-engine/load", "clients": n, "facts": applied, "seconds": round(took),
            "facts_per_s": round(applied as f64 / took)})
    );
    let no_segment = |_: &str| -> Option<Bits> { None };
    let cx = Context { today, phone_region: "LT", segment: &no_segment };
    for q in asked(questions(today)) {
        let filter = text::parse(&q.filter).map_err(|e| anyhow::anyhow!("{}: {e:?}", q.name))?;
        let mut latencies = Vec::new();
        let mut count = 0;
        let mut faults = 0;
        for r in 0..repeats + 3 {
            if r == 3 {
                faults = minor_faults();
            }
            let t = Instant::now();
            count = evaluate(&p, &filter, &cx).count();
            if r >= 3 {
                latencies.push(t.elapsed());
            }
        }
        let faults_per_ask = (minor_faults() - faults) as f64 / repeats.max(1) as f64;
        let t = Timings { latencies, elapsed: Duration::ZERO };
        println!(
            "{}",
            serde_json::json!({"scenario": format!("segment-engine/{}", q.name), "count": count, "n": repeats,
                "p50_ms": round(t.percentile_ms(0.5)), "p99_ms": round(t.percentile_ms(0.99)), "page_faults_per_ask": round(faults_per_ask)})
        );
    }
    Ok(())
}
