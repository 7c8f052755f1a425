//! The messaging service beside the client, card, ledger and segment services it follows and asks,
//! as `loyalty dev up` runs them, with a real SMTP server to send to.
#![allow(dead_code)]
use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
use loyalty_api::filter::v1::{AllClients, Audience, audience::Source};
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use loyalty_testkit::TestApp;
use loyalty_testkit::smtp::SmtpServer;
use loyalty_testkit::support::{self, Messaging, TENANT};
use std::time::Duration;

pub const ADMIN: &str = TENANT;
pub const OTHER: &str = "globex";

/// Where this test's sender keeps its journal (the same across a restart of the suite).
pub fn journal_dir(settings: &PlatformSettings) -> String {
    let db = settings.database.url.expose();
    let tail: String = db.chars().rev().take(24).filter(|c| c.is_ascii_alphanumeric()).collect();
    std::env::temp_dir().join(format!("messaging-journal-{tail}")).display().to_string()
}

pub async fn start() -> TestApp {
    let settings = loyalty_testkit::test_settings().await.expect("a test database");
    start_on(settings).await
}

/// The suite on `settings` (a database an earlier suite used, to restart it).
pub async fn start_on(settings: PlatformSettings) -> TestApp {
    suite(settings, Some(std::sync::Arc::new(loyalty_platform::clock::SystemClock))).await
}

/// The suite with the messaging service's "now" on `clock` (its schedules and send times).
pub async fn start_with_clock(clock: loyalty_platform::clock::SharedClock) -> TestApp {
    suite(loyalty_testkit::test_settings().await.expect("a test database"), Some(clock)).await
}

/// The services messaging depends on, without messaging (a test runs it as its own process).
pub async fn start_peers() -> TestApp {
    suite(loyalty_testkit::test_settings().await.expect("a test database"), None).await
}

/// The suite, with messaging on `clock` unless None.
async fn suite(settings: PlatformSettings, messaging_clock: Option<loyalty_platform::clock::SharedClock>) -> TestApp {
    TestApp::start_with(settings, move |settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
        let mut segment = loyalty_segment::Settings::with_platform(&settings);
        segment.segments.follow_every_ms = 20;
        segment.segments.automatic_every_s = 0;
        loyalty_segment::register(&segment, &mut services).await?;
        let Some(clock) = messaging_clock else { return Ok(services) };
        let mut messaging = loyalty_messaging::Settings::with_platform(&settings);
        messaging.messaging.send_every_ms = 20;
        // Links point at the tracking endpoint this suite serves.
        messaging.messaging.public_url = String::new();
        messaging.messaging.tracking_listen = "127.0.0.1:0".into();
        messaging.messaging.journal_dir = journal_dir(&settings);
        loyalty_messaging::register_with_clock(&messaging, &mut services, clock).await?;
        Ok(services)
    })
    .await
    .expect("client, card, ledger, segment and messaging start against a real Postgres")
}

pub fn admin(app: &TestApp) -> Messaging {
    support::messaging(app, &app.admin_token(TENANT))
}

pub fn everyone() -> Option<Audience> {
    Some(Audience { source: Some(Source::AllClients(AllClients {})) })
}

/// The tenant's email goes through `smtp`.
pub async fn use_smtp(app: &TestApp, tenant: &str, smtp: &SmtpServer) {
    let provider = smtp_provider(smtp);
    let mut api = support::messaging(app, &app.admin_token(tenant));
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(provider) }).await.expect("provider");
}

/// Plain SMTP to the test server, from news@shop.example.
pub fn smtp_provider(smtp: &SmtpServer) -> pb::ChannelProvider {
    pb::ChannelProvider {
        channel: ContactChannel::Email as i32,
        settings: Some(pb::channel_provider::Settings::Smtp(pb::SmtpSettings {
            host: "127.0.0.1".into(),
            port: i32::from(smtp.port),
            security: pb::SmtpSecurity::None as i32,
            from_address: "news@shop.example".into(),
            from_name: "Parduotuvė".into(),
            ..Default::default()
        })),
        enabled: true,
        ..Default::default()
    }
}

/// A marketing email with the placeholders and the unsubscribe link.
pub fn newsletter() -> pb::Content {
    pb::Content {
        channel: ContactChannel::Email as i32,
        subject: "Sveiki, {first_name|drauge}!".into(),
        body: "<p>Jūsų taškai: {points_balance}.</p><p><a href=\"{unsubscribe_url}\">Atsisakyti</a></p>".into(),
        ..Default::default()
    }
}

pub fn campaign(name: &str, audience: Option<Audience>) -> pb::Campaign {
    pb::Campaign {
        name: name.into(),
        audience,
        body: Some(pb::campaign::Body::Content(newsletter())),
        ..Default::default()
    }
}

/// A client of `tenant` with `email`, subscribed (or not) to email.
pub async fn client(
    app: &TestApp,
    tenant: &str,
    first: &str,
    email: &str,
    consent: ConsentStatus,
    store: &str,
) -> String {
    let person = clients::Client {
        first_name: first.into(),
        last_name: "Testaitė".into(),
        email: email.into(),
        registration_store_id: store.into(),
        ..Default::default()
    };
    create_client(app, tenant, person, consent).await
}

/// `person` as a client of `tenant` (with a phone of its own, its store created), subscribed (or
/// not) to email.
pub async fn create_client(app: &TestApp, tenant: &str, mut person: clients::Client, consent: ConsentStatus) -> String {
    let mut api = support::clients(app, &app.admin_token(tenant));
    let store = person.registration_store_id.clone();
    if !store.is_empty() {
        let s = clients::Store { id: store, name: "Store".into(), ..Default::default() };
        let _ = api.create_store(clients::CreateStoreRequest { store: Some(s) }).await;
    }
    person.phone = next_phone();
    let id = api
        .create_client(clients::CreateClientRequest { client: Some(person), ..Default::default() })
        .await
        .expect("client")
        .into_inner()
        .id;
    if consent != ConsentStatus::Unknown {
        let consents = vec![clients::ChannelConsent {
            channel: ContactChannel::Email as i32,
            status: consent as i32,
            source: "form".into(),
            ..Default::default()
        }];
        api.set_consent(clients::SetConsentRequest {
            client_id: id.clone(),
            consents,
            source: "form".into(),
            ..Default::default()
        })
        .await
        .expect("consent");
    }
    id
}

/// A phone number no other client of this process has (a client needs a phone or a card).
pub fn next_phone() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    format!("+370612{:05}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Waits until messaging's read model holds `n` clients of `tenant` (it follows the client feed).
pub async fn settle(app: &TestApp, tenant: &str, n: i64) {
    let db = support::sql(app, "messaging").await;
    let mut seen = -1;
    for _ in 0..300 {
        seen = db
            .query_one("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND first_name <> ''", &[&tenant])
            .await
            .map(|r| r.get(0))
            .unwrap_or(-1);
        if seen == n {
            // The consents and blocks published after the profiles follow within the same feed.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("messaging saw {seen} clients of {tenant}, expected {n}");
}

/// Waits until the segment service counts `n` clients of `tenant` (audiences come from it).
pub async fn segment_sees(app: &TestApp, tenant: &str, n: i64) {
    let mut api = support::segments(app, &app.admin_token(tenant));
    let mut seen = -1;
    for _ in 0..300 {
        let asked = api.count_clients(loyalty_api::segment::v1::CountClientsRequest { audience: everyone() }).await;
        seen = asked.map(|r| r.into_inner().count).unwrap_or(-1);
        if seen == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the segment service saw {seen} clients of {tenant}, expected {n}");
}

/// Creates and starts the campaign `c`; the campaign as created.
pub async fn started(api: &mut Messaging, c: pb::Campaign) -> pb::Campaign {
    let created = api.create_campaign(pb::CreateCampaignRequest { campaign: Some(c) }).await.expect("created");
    let created = created.into_inner();
    api.start_campaign(pb::StartCampaignRequest { campaign_id: created.id.clone(), ..Default::default() })
        .await
        .expect("started");
    created
}

/// Waits until the campaign is in `state`.
pub async fn until_state(api: &mut Messaging, id: &str, state: pb::CampaignState) -> pb::Campaign {
    let mut last = pb::Campaign::default();
    for _ in 0..400 {
        last =
            api.get_campaign(pb::GetCampaignRequest { campaign_id: id.into() }).await.expect("campaign").into_inner();
        if last.state == state as i32 {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the campaign stayed {:?} (pause reason {:?}), expected {state:?}", last.state(), last.pause_reason);
}

pub async fn stats(api: &mut Messaging, id: &str) -> pb::CampaignStats {
    api.get_campaign_stats(pb::GetCampaignStatsRequest { campaign_id: id.into() }).await.expect("stats").into_inner()
}
