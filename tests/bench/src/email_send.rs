//! `email-send`: a personalised email campaign to 100,000 subscribed clients through the messaging
//! service (audience from the segment service, consent check, rendering, delivery rows, SMTP) to
//! Postfix's `smtp-sink`, with the sink's ceiling measured in the same run by a plain SMTP client
//! sending the same kind of message with the same connections. Peak memory at 10,000 and 100,000.
use crate::harness::{development_auth, env_number, fresh_database, round, server_url};
use crate::segment_count::rss_mb;
use crate::segment_data as data;
use crate::segment_data::TENANT;
use anyhow::Context;
use loyalty_api::common::v1::ContactChannel;
use loyalty_api::filter::v1::{Audience, ClientIds, audience::Source};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::messaging_service_client::MessagingServiceClient;
use loyalty_api::segment::v1 as spb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use loyalty_platform::Secret;
use loyalty_platform::auth::{ALL_RIGHTS, BearerToken, Grant};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Api = MessagingServiceClient<InterceptedService<Channel, BearerToken>>;

/// Postfix's smtp-sink on a free port (unpacked from Debian's package by tests/bench/ensure-smtp-sink).
fn sink() -> anyhow::Result<(std::process::Child, u16)> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ensure-smtp-sink");
    let out = std::process::Command::new("bash").arg(&script).output().context("running ensure-smtp-sink")?;
    anyhow::ensure!(out.status.success(), "ensure-smtp-sink: {}", String::from_utf8_lossy(&out.stderr));
    let program = String::from_utf8(out.stdout)?.trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = std::process::Command::new(program)
        .args(["-u", "nobody", "-m", "512", &format!("127.0.0.1:{port}"), "1024"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting smtp-sink")?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((child, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("smtp-sink did not listen on {port}")
}

const BODY: &str = "<h1>Sveiki, {first_name|drauge}!</h1><p>Jūsų sąskaitoje {points_balance} taškų. \
    Gruodžio pasiūlymai jau laukia: dovanos visai šeimai, šventinis stalas ir daugiau.</p>\
    <p><a href=\"https://shop.example/gruodis\">Žiūrėti pasiūlymus</a></p>\
    <p style=\"font-size:small\"><a href=\"{unsubscribe_url}\">Atsisakyti naujienlaiškio</a></p>";

/// The ceiling: the same number of messages of the same shape over the same number of open
/// connections, from the same SMTP client code with no service around it.
async fn ceiling(port: u16, n: u64, concurrency: u32) -> anyhow::Result<f64> {
    use lettre::Message;
    use lettre::message::{Mailbox, MultiPart};
    use loyalty_messaging::send::wire::{Connection, Security, Server};
    let server =
        Server { host: "127.0.0.1".into(), port, security: Security::None, login: None, hello: "bench".into() };
    let html = BODY.replace("{first_name|drauge}", "Ona").replace("{points_balance}", "1250");
    let from: Mailbox = "Parduotuvė <news@shop.example>".parse()?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..u64::from(concurrency) {
        let (server, html, from) = (server.clone(), html.clone(), from.clone());
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::open(&server).await?;
            for i in (w..n).step_by(concurrency as usize) {
                let to = format!("c{i}@bench.example");
                let message = Message::builder()
                    .from(from.clone())
                    .to(to.parse()?)
                    .subject("Ona, gruodžio pasiūlymai jau čia")
                    .message_id(Some(format!("<ceiling-{i}@bench.loyalty>")))
                    .multipart(MultiPart::alternative_plain_html(html.clone(), html.clone()))?;
                connection
                    .send("news@shop.example", &to, &message.formatted())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Subscribed contacts for clients 0..n, as the client feed would have left them.
async fn contacts(db: &tokio_postgres::Client, n: u64) -> anyhow::Result<()> {
    let id = "('01900000-0000-7a00-' || substr(lpad(to_hex(r), 16, '0'), 1, 4) || '-' \
              || substr(lpad(to_hex(r), 16, '0'), 5, 12))::uuid";
    db.execute(
        &format!(
            "INSERT INTO contacts (tenant_id, client_id, first_name, last_name, email, email_consent) \
             SELECT $1, {id}, (ARRAY['Ona','Jonas','Eglė','Šarūnas','Rūta'])[1 + r % 5], 'Bandomoji', \
                    'c' || r || '@bench.example', 'subscribed' \
             FROM generate_series(0, $2::bigint - 1) AS r"
        ),
        &[&TENANT, &(n as i64)],
    )
    .await?;
    db.execute(
        &format!(
            "INSERT INTO shopping (tenant_id, client_id, points_balance) \
             SELECT $1, {id}, (r * 37) % 5000 FROM generate_series(0, $2::bigint - 1) AS r"
        ),
        &[&TENANT, &(n as i64)],
    )
    .await?;
    db.batch_execute("ANALYZE contacts").await?;
    Ok(())
}

/// Samples this process's resident memory until stopped; the peak in MB.
struct Peak(Arc<AtomicU64>, tokio::task::JoinHandle<()>);

impl Peak {
    fn start() -> Peak {
        let peak = Arc::new(AtomicU64::new(0));
        let keep = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                keep.fetch_max(rss_mb() as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Peak(peak, task)
    }

    fn stop(self) -> u64 {
        self.1.abort();
        self.0.load(Ordering::Relaxed)
    }
}

/// Sends campaign `name` to `audience`; its seconds from the start call to completion, and the peak RSS.
async fn campaign(api: &mut Api, name: &str, audience: Audience, expected: u64) -> anyhow::Result<(f64, u64)> {
    let content = pb::Content {
        channel: ContactChannel::Email as i32,
        subject: "{first_name}, gruodžio pasiūlymai jau čia".into(),
        body: BODY.into(),
        ..Default::default()
    };
    let c = pb::Campaign {
        name: name.into(),
        audience: Some(audience),
        body: Some(pb::campaign::Body::Content(content)),
        ..Default::default()
    };
    let created = api.create_campaign(pb::CreateCampaignRequest { campaign: Some(c) }).await?.into_inner();
    let peak = Peak::start();
    let started = Instant::now();
    api.start_campaign(pb::StartCampaignRequest { campaign_id: created.id.clone(), ..Default::default() }).await?;
    // The state (one row) is watched closely; the figures (a count over every delivery of the
    // campaign) every 2 s for the progress line, so the watching adds little to the work watched.
    let mut told = Instant::now();
    loop {
        let done = api.get_campaign(pb::GetCampaignRequest { campaign_id: created.id.clone() }).await?.into_inner();
        let finished = done.state() == pb::CampaignState::Completed;
        if !finished && told.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        told = Instant::now();
        let s =
            api.get_campaign_stats(pb::GetCampaignStatsRequest { campaign_id: created.id.clone() }).await?.into_inner();
        eprintln!(
            "{name}: {} of {} sent ({:.0}/s)",
            s.sent,
            s.audience,
            s.sent as f64 / started.elapsed().as_secs_f64()
        );
        if finished {
            anyhow::ensure!(
                s.sent as u64 == expected,
                "{name}: {} sent of {expected} ({:?} left out)",
                s.sent,
                s.excluded
            );
            break;
        }
        anyhow::ensure!(
            done.state() == pb::CampaignState::Running,
            "{name} is {:?}: {}",
            done.state(),
            done.pause_reason
        );
    }
    Ok((started.elapsed().as_secs_f64(), peak.stop()))
}

pub async fn run() -> anyhow::Result<()> {
    let n = env_number("BENCH_RECIPIENTS", 100_000)?;
    let concurrency = env_number("BENCH_SMTP_CONNECTIONS", 32)? as u32;
    let small = n.min(10_000);
    let (mut sink, port) = sink()?;
    eprintln!("smtp-sink on 127.0.0.1:{port}; the ceiling: {n} messages from a plain client");
    let sink_ceiling = ceiling(port, n, concurrency).await?;
    eprintln!("sink ceiling {sink_ceiling:.0}/s");

    let admin = tokio::task::spawn_blocking(server_url).await??;
    let mut settings = PlatformSettings::default();
    settings.database.url = Secret::new(fresh_database(&admin, "bench_email").await?);
    settings.database.max_size = 16;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = String::new();
    let signer = development_auth(&mut settings);
    loyalty_platform::db::migrate(&settings.database, "segment", Some(loyalty_segment::migrations())).await?;
    loyalty_platform::db::migrate(&settings.database, "messaging", Some(loyalty_messaging::migrations())).await?;
    let today = loyalty_segment::domain::evaluate::day_number(time::OffsetDateTime::now_utc().date());
    let segment_db = loyalty_platform::db::connect(&settings.database, "segment").await?;
    data::load_facts(&segment_db, n, today).await?;
    segment_db.batch_execute("ANALYZE facts").await?;
    let messaging_db = loyalty_platform::db::connect(&settings.database, "messaging").await?;
    contacts(&messaging_db, n).await?;

    let bound = loyalty_platform::server::bind(&settings.server).await?;
    settings.server.listen = bound.addr.to_string();
    let mut services = Services::new();
    loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
    loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
    loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
    loyalty_segment::register(&loyalty_segment::Settings::with_platform(&settings), &mut services).await?;
    let mut messaging = loyalty_messaging::Settings::with_platform(&settings);
    messaging.messaging.tracking_listen = "127.0.0.1:0".into();
    messaging.messaging.public_url = "https://links.bench.example".into();
    messaging.messaging.batch = env_number("BENCH_BATCH", messaging.messaging.batch as u64)? as i64;
    messaging.messaging.send_every_ms = 20;
    loyalty_messaging::register(&messaging, &mut services).await?;
    let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
    let token = signer.mint(&Grant::new(TENANT, &[ALL_RIGHTS]))?;
    let channel = Channel::from_shared(format!("http://{}", server.addr))?.connect().await?;
    let authed = InterceptedService::new(channel, BearerToken::new(&token)?);
    let mut segments = SegmentServiceClient::new(authed.clone());
    let everyone = Audience { source: Some(Source::AllClients(Default::default())) };
    loop {
        match segments.count_clients(spb::CountClientsRequest { audience: Some(everyone.clone()) }).await {
            Ok(c) if c.get_ref().count as u64 >= n => break,
            Ok(_) => {}
            Err(s) if s.code() == tonic::Code::Unavailable => {}
            Err(s) => return Err(s).context("counting everyone while the read model loads"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut api: Api = MessagingServiceClient::new(authed);
    let provider = pb::ChannelProvider {
        channel: ContactChannel::Email as i32,
        settings: Some(pb::channel_provider::Settings::Smtp(pb::SmtpSettings {
            host: "127.0.0.1".into(),
            port: i32::from(port),
            security: pb::SmtpSecurity::None as i32,
            from_address: "news@shop.example".into(),
            from_name: "Parduotuvė".into(),
            ..Default::default()
        })),
        concurrency: concurrency as i32,
        enabled: true,
        ..Default::default()
    };
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(provider) }).await?;

    let rss_before = rss_mb();
    let ids = (0..small).map(|r| data::client_id(r).to_string()).collect();
    let ten_thousand = Audience { source: Some(Source::ClientIds(ClientIds { client_ids: ids })) };
    let (seconds_small, peak_small) = campaign(&mut api, "10k", ten_thousand, small).await?;
    let (seconds, peak) = campaign(&mut api, "100k", everyone, n).await?;
    let per_s = n as f64 / seconds;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "email-send", "recipients": n, "seconds": round(seconds),
            "messages_per_s": round(per_s), "sink_ceiling_per_s": round(sink_ceiling),
            "ratio_of_ceiling": round(per_s / sink_ceiling), "smtp_connections": concurrency,
            "messages_per_s_10k": round(small as f64 / seconds_small),
            "rss_mb_before": round(rss_before), "peak_rss_mb_10k": peak_small, "peak_rss_mb_100k": peak,
            "goal": "≥ 5,000 messages/s, ≥ 0.3× the sink's ceiling, memory flat in recipients",
            "met": per_s >= 5_000.0 && per_s >= 0.3 * sink_ceiling,
        })
    );
    server.stop().await?;
    let _ = sink.kill();
    let _ = sink.wait();
    Ok(())
}
