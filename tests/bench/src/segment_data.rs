//! The `segment-count` population: clients with their consents, tags and two years of purchases,
//! made the same way from one seed per client, so the three copies agree: the segment service's
//! facts table (the events its feeds would have written), raw Postgres tables and CSV files for
//! DuckDB.
use anyhow::Context;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel, Date, Money};
use loyalty_api::events::v1::{self as ev, event::Payload};
use loyalty_platform::copy::{CopyRow, copy_in};
use loyalty_testkit::demo::Rng;
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

pub const TENANT: &str = "bench";
pub const STORES: u64 = 50;
pub const PRODUCTS: u64 = 5_000;
pub const CITIES: [&str; 10] =
    ["Vilnius", "Kaunas", "Klaipėda", "Šiauliai", "Panevėžys", "Alytus", "Riga", "Tallinn", "Warszawa", "București"];
pub const TAGS: [(&str, u64); 5] =
    [("staff", 2), ("student", 10), ("pensioner", 12), ("newsletter", 30), ("wholesale", 3)];

pub struct Person {
    pub row: u64,
    pub id: Uuid,
    pub gender: &'static str,
    /// Days since 1970-01-01.
    pub birth: Option<i64>,
    pub city: &'static str,
    pub store: String,
    pub registered: i64,
    pub email: Option<bool>,
    pub tags: Vec<&'static str>,
    pub purchases: Vec<Bought>,
}

pub struct Bought {
    pub id: u64,
    pub day: i64,
    pub store: String,
    /// (sku number, amount in cents)
    pub lines: Vec<(u64, i64)>,
}

impl Bought {
    pub fn amount(&self) -> i64 {
        self.lines.iter().map(|l| l.1).sum()
    }
}

pub fn store(n: u64) -> String {
    format!("S{:02}", n + 1)
}

pub fn sku(n: u64) -> String {
    format!("SKU-{:04}", n + 1)
}

pub fn client_id(row: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_0000_0000_7a00, row)
}

/// Client `row`, the same every time, with purchases up to `today`.
pub fn person(row: u64, today: i64) -> Person {
    let mut r = Rng::new(0x5e6_0000 ^ row.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let gender = match r.below(100) {
        0..55 => "female",
        55..95 => "male",
        _ => "",
    };
    let birth = r.chance(92).then(|| -7305 + r.below(21_550) as i64); // 1950 .. 2008
    let city = *r.pick(&CITIES);
    let home = r.below(STORES);
    let registered = today - r.below(1_095) as i64;
    let email = match r.below(100) {
        0..60 => Some(true),
        60..85 => Some(false),
        _ => None,
    };
    let tags = TAGS.iter().filter(|(_, percent)| r.chance(*percent)).map(|(t, _)| *t).collect();
    let count = if r.chance(20) { 0 } else { 1 + r.below(7) + if r.chance(10) { 4 } else { 0 } };
    let purchases = (0..count)
        .map(|j| {
            let day = (today - r.below(730) as i64).max(registered);
            let at = if r.chance(70) { home } else { r.below(STORES) };
            let lines = (0..1 + r.below(5))
                .map(|_| {
                    let top = r.below(PRODUCTS) + 1;
                    (r.below(top), 100 + r.below(9_900) as i64)
                })
                .collect();
            Bought { id: row * 64 + j, day, store: store(at), lines }
        })
        .collect();
    Person { row, id: client_id(row), gender, birth, city, store: store(home), registered, email, tags, purchases }
}

pub fn date(day: i64) -> time::Date {
    let epoch = time::macros::date!(1970 - 01 - 01).to_julian_day();
    time::Date::from_julian_day(epoch + day as i32).unwrap_or(time::Date::MIN)
}

fn timestamp(day: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: day * 86_400 + 12 * 3_600, nanos: 0 }
}

fn event(subject: &Uuid, day: i64, payload: Payload) -> ev::Event {
    ev::Event {
        event_id: Uuid::now_v7().to_string(),
        tenant_id: TENANT.into(),
        occurred_at: Some(timestamp(day)),
        subject_id: subject.to_string(),
        payload: Some(payload),
        ..Default::default()
    }
}

/// The person's facts, keyed as the segment service's feed consumer keys them.
/// The events the feeds carry about `p`, each with its key in the segment's `facts` table.
pub fn facts(p: &Person) -> Vec<(String, ev::Event)> {
    let birth =
        p.birth.map(date).map(|d| Date { year: d.year(), month: u8::from(d.month()).into(), day: d.day().into() });
    let client = ev::ClientUpserted {
        client_id: p.id.to_string(),
        first_name: format!("Client {}", p.row),
        gender: p.gender.into(),
        birth_date: birth,
        city: p.city.into(),
        registration_store_id: p.store.clone(),
        registered_at: Some(timestamp(p.registered)),
        status: 1,
        tag_ids: p.tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    let mut facts = vec![(format!("client:{}", p.id), event(&p.id, p.registered, Payload::ClientUpserted(client)))];
    if let Some(subscribed) = p.email {
        let status = if subscribed { ConsentStatus::Subscribed } else { ConsentStatus::Unsubscribed };
        let consent = ev::ConsentChanged {
            client_id: p.id.to_string(),
            channel: ContactChannel::Email as i32,
            status: status as i32,
            ..Default::default()
        };
        let key = format!("consent:{}:{}", p.id, ContactChannel::Email as i32);
        facts.push((key, event(&p.id, p.registered, Payload::ConsentChanged(consent))));
    }
    for b in &p.purchases {
        let id = Uuid::from_u64_pair(0x0191_0000_0000_7b00, b.id);
        let money = |minor: i64| Some(Money { minor_units: minor, currency: "EUR".into() });
        let lines = b
            .lines
            .iter()
            .map(|(sku_n, amount)| ev::PurchaseLineFacts {
                sku: sku(*sku_n),
                category: format!("Category {:02}", sku_n % 50),
                quantity_milli: 1_000,
                amount: money(*amount),
                ..Default::default()
            })
            .collect();
        let bought = ev::PurchaseRecorded {
            purchase_id: id.to_string(),
            client_id: p.id.to_string(),
            store_id: b.store.clone(),
            purchased_at: Some(timestamp(b.day)),
            amount: money(b.amount()),
            lines,
            ..Default::default()
        };
        facts.push((format!("purchase:{id}"), event(&p.id, b.day, Payload::PurchaseRecorded(bought))));
    }
    facts
}

struct FactRow {
    key: String,
    seq: i64,
    client: Uuid,
    payload: Vec<u8>,
}

const TENANT_ID: &str = TENANT;

impl CopyRow for FactRow {
    fn values(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![&TENANT_ID, &self.key, &self.seq, &self.client, &self.payload]
    }
}

/// What was written.
#[derive(Default)]
pub struct Written {
    pub clients: u64,
    pub purchases: u64,
    pub lines: u64,
    pub facts: u64,
}

/// Writes the facts of `n` clients into the segment schema's `facts` table, in chunks, with
/// progress on stderr.
pub async fn load_facts(db: &tokio_postgres::Client, n: u64, today: i64) -> anyhow::Result<Written> {
    let started = std::time::Instant::now();
    let mut w = Written::default();
    let chunk = 20_000;
    let mut seq = 0i64;
    for start in (0..n).step_by(chunk as usize) {
        let mut rows = Vec::new();
        for row in start..(start + chunk).min(n) {
            let p = person(row, today);
            w.clients += 1;
            w.purchases += p.purchases.len() as u64;
            w.lines += p.purchases.iter().map(|b| b.lines.len() as u64).sum::<u64>();
            for (key, e) in facts(&p) {
                seq += 1;
                rows.push(FactRow { key, seq, client: p.id, payload: e.encode_to_vec() });
            }
        }
        w.facts += rows.len() as u64;
        let types = [Type::TEXT, Type::TEXT, Type::INT8, Type::UUID, Type::BYTEA];
        copy_in(db, "COPY facts (tenant_id, key, seq, client_id, payload) FROM STDIN BINARY", &types, rows).await?;
        eprintln!(
            "writing facts: {}/{n} clients, {} lines ({:.0} clients/s)",
            w.clients,
            w.lines,
            w.clients as f64 / started.elapsed().as_secs_f64()
        );
    }
    db.execute("SELECT setval('facts_seq', $1)", &[&seq.max(1)]).await?;
    Ok(w)
}

/// The CSV files DuckDB and the raw Postgres tables read.
pub struct Files {
    pub dir: PathBuf,
}

pub const RAW_TABLES: [(&str, &str); 4] = [
    ("clients", "id integer, gender text, birth date, city text, reg_store text, registered date, email text"),
    ("tags", "client integer, tag text"),
    ("purchases", "id bigint, client integer, store text, day integer, amount bigint"),
    ("lines", "purchase bigint, client integer, sku text, category text, store text, amount bigint"),
];

pub fn write_files(dir: &Path, n: u64, today: i64) -> anyhow::Result<Files> {
    std::fs::create_dir_all(dir)?;
    let open = |name: &str| -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join(format!("{name}.csv")))?))
    };
    let (mut clients, mut tags, mut purchases, mut lines) =
        (open("clients")?, open("tags")?, open("purchases")?, open("lines")?);
    for row in 0..n {
        let p = person(row, today);
        let birth = p.birth.map(|b| date(b).to_string()).unwrap_or_default();
        let email = match p.email {
            Some(true) => "subscribed",
            Some(false) => "unsubscribed",
            None => "",
        };
        writeln!(clients, "{row},{},{birth},{},{},{},{email}", p.gender, p.city, p.store, date(p.registered))?;
        for t in &p.tags {
            writeln!(tags, "{row},{t}")?;
        }
        for b in &p.purchases {
            writeln!(purchases, "{},{row},{},{},{}", b.id, b.store, b.day, b.amount())?;
            for (sku_n, amount) in &b.lines {
                writeln!(lines, "{},{row},{},Category {:02},{},{amount}", b.id, sku(*sku_n), sku_n % 50, b.store)?;
            }
        }
        if row % 200_000 == 0 {
            eprintln!("writing CSV files: {row}/{n} clients");
        }
    }
    for mut f in [clients, tags, purchases, lines] {
        f.flush()?;
    }
    Ok(Files { dir: dir.to_path_buf() })
}

/// The raw tables in schema `raw`, copied from the CSV files, indexed and analysed.
pub async fn load_raw(db: &tokio_postgres::Client, files: &Files) -> anyhow::Result<()> {
    use futures::SinkExt;
    db.batch_execute("DROP SCHEMA IF EXISTS raw CASCADE; CREATE SCHEMA raw").await?;
    for (table, columns) in RAW_TABLES {
        eprintln!("copying raw.{table} into Postgres");
        db.batch_execute(&format!("CREATE UNLOGGED TABLE raw.{table} ({columns})")).await?;
        let sink = db.copy_in(&format!("COPY raw.{table} FROM STDIN (FORMAT csv)")).await?;
        futures::pin_mut!(sink);
        let mut file = std::fs::File::open(files.dir.join(format!("{table}.csv")))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let read = std::io::Read::read(&mut file, &mut buf)?;
            if read == 0 {
                break;
            }
            sink.send(bytes::Bytes::copy_from_slice(&buf[..read])).await.context("copying a CSV chunk")?;
        }
        sink.finish().await.with_context(|| format!("copying raw.{table}"))?;
    }
    eprintln!("indexing and analysing the raw tables");
    db.batch_execute(
        "CREATE INDEX ON raw.purchases (client); CREATE INDEX ON raw.purchases (day);
         CREATE INDEX ON raw.lines (sku); CREATE INDEX ON raw.tags (tag); CREATE INDEX ON raw.clients (city)",
    )
    .await?;
    for (table, _) in RAW_TABLES {
        db.batch_execute(&format!("VACUUM ANALYZE raw.{table}")).await?;
    }
    Ok(())
}
