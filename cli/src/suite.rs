//! The services `loyalty dev up` runs: how each registers on the shared server (migrating its own
//! schema first, with its own settings from the environment on the shared platform settings) and
//! how the demo data is loaded through the API.
use anyhow::Context;
use futures::StreamExt;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::{Channel, ConsentStatus, ContactChannel, Date, RequestContext};
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_platform::auth::BearerToken;
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use loyalty_platform::service_main::ServiceSettings;
use loyalty_testkit::demo::{self, DemoClient, DemoConsent, DemoGender};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel as GrpcChannel;

/// Demo clients loaded by `dev up --demo`.
pub const DEMO_CLIENTS: u64 = 2_000;
pub const DEMO_SEED: u64 = 2026;

/// A service's own settings (`LOYALTY_<SERVICE>__…`) on the shared platform settings.
fn own<S: ServiceSettings>(name: &str, platform: &PlatformSettings) -> anyhow::Result<S> {
    let mut settings: S = loyalty_platform::config::load(name, None)?;
    *settings.platform_mut() = platform.clone();
    Ok(settings)
}

/// Registers every implemented service on one server; each migrates its own schema first.
pub async fn register_all(settings: &PlatformSettings, services: &mut Services) -> anyhow::Result<()> {
    let client: loyalty_client::Settings = own(loyalty_client::NAME, settings)?;
    loyalty_client::register(&client, services).await.context("starting the client service")?;
    let card: loyalty_card::Settings = own(loyalty_card::NAME, settings)?;
    loyalty_card::register(&card, services).await.context("starting the card service")?;
    let ledger: loyalty_ledger::Settings = own(loyalty_ledger::NAME, settings)?;
    loyalty_ledger::register(&ledger, services).await.context("starting the loyalty ledger")?;
    let segment: loyalty_segment::Settings = own(loyalty_segment::NAME, settings)?;
    loyalty_segment::register(&segment, services).await.context("starting the segment service")?;
    Ok(())
}

type Api = ClientServiceClient<InterceptedService<GrpcChannel, BearerToken>>;
type CardApi = CardServiceClient<InterceptedService<GrpcChannel, BearerToken>>;
type LedgerApi = LedgerServiceClient<InterceptedService<GrpcChannel, BearerToken>>;

fn consent(channel: ContactChannel, c: DemoConsent) -> pb::ChannelConsent {
    let status = match c {
        DemoConsent::Subscribed => ConsentStatus::Subscribed,
        DemoConsent::Unsubscribed => ConsentStatus::Unsubscribed,
        DemoConsent::Unknown => ConsentStatus::Unknown,
    };
    pb::ChannelConsent { channel: channel as i32, status: status as i32, ..Default::default() }
}

/// The demo client as the API takes it.
pub fn demo_client(c: &DemoClient) -> pb::Client {
    pb::Client {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        middle_name: c.middle_name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        birth_date: c.birth_date.map(|d| Date {
            year: d.year(),
            month: u8::from(d.month()).into(),
            day: d.day().into(),
        }),
        gender: match c.gender {
            DemoGender::Female => pb::Gender::Female,
            DemoGender::Male => pb::Gender::Male,
        } as i32,
        city: c.city.clone(),
        registration_store_id: c.store_id.clone(),
        added_by: pb::AddedBy::Pos as i32,
        ..Default::default()
    }
}

async fn load_client(mut api: Api, mut cards: CardApi, mut ledger: LedgerApi, c: DemoClient) -> anyhow::Result<()> {
    let context = RequestContext {
        idempotency_key: format!("demo-client-{}", c.index),
        channel: Channel::Pos as i32,
        store_id: c.store_id.clone(),
        ..Default::default()
    };
    let created = api
        .create_client(pb::CreateClientRequest {
            context: Some(context),
            client: Some(demo_client(&c)),
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating demo client {} ({} {})", c.index, c.first_name, c.last_name))?
        .into_inner();
    let consents = vec![consent(ContactChannel::Email, c.email_consent), consent(ContactChannel::Sms, c.sms_consent)];
    let agreement = pb::Agreement { granted: c.personal_data_consent, ..Default::default() };
    let card = loyalty_api::card::v1::Card {
        client_id: created.id.clone(),
        store_id: c.store_id.clone(),
        ..Default::default()
    };
    let issue = loyalty_api::card::v1::IssueCardRequest {
        context: Some(RequestContext { idempotency_key: format!("demo-card-{}", c.index), ..Default::default() }),
        card: Some(card),
    };
    let card = cards.issue_card(issue).await.context("issuing a demo card")?.into_inner();
    // Every fourth client has shopped: one purchase at their store, paid by card.
    if c.index.is_multiple_of(4) {
        let amount = 500 + (c.index as i64 * 7_919) % 20_000;
        let purchase = loyalty_api::ledger::v1::RecordPurchaseRequest {
            context: Some(RequestContext {
                idempotency_key: format!("demo-purchase-{}", c.index),
                ..Default::default()
            }),
            buyer: Some(loyalty_api::ledger::v1::record_purchase_request::Buyer::CardNumber(card.number)),
            check_id: format!("DEMO-{}", c.index),
            store_id: c.store_id.clone(),
            amount: Some(loyalty_api::common::v1::Money { minor_units: amount, currency: "EUR".into() }),
            payment_method: loyalty_api::ledger::v1::PaymentMethod::Card as i32,
            ..Default::default()
        };
        ledger.record_purchase(purchase).await.context("recording a demo purchase")?;
    }
    api.set_consent(pb::SetConsentRequest {
        client_id: created.id,
        consents,
        personal_data_consent: Some(agreement),
        source: "demo".into(),
        ..Default::default()
    })
    .await
    .context("setting demo consents")?;
    Ok(())
}

/// Loads the demo chain through the gRPC API, as a POS would. Returns a line per service.
/// Saved segments a CRM team would start with, as the filter text a marketer writes.
const DEMO_SEGMENTS: [(&str, &str, &str); 4] = [
    ("Shoppers this month", "#2e7d32", "purchases.count(last 30 days) >= 1"),
    ("Big spenders", "#6a1b9a", "purchases.sum >= 100.00"),
    ("Birthdays this week", "#ef6c00", "client.birth_date anniversary within 7 days"),
    ("Women subscribed to e-mail", "#1565c0", r#"client.gender = "female" and consent.email = "subscribed""#),
];

async fn demo_segments(channel: GrpcChannel, token: &str) -> anyhow::Result<usize> {
    use loyalty_api::segment::v1 as spb;
    let mut api = loyalty_api::segment::v1::segment_service_client::SegmentServiceClient::with_interceptor(
        channel,
        BearerToken::new(token)?,
    );
    for (name, colour, text) in DEMO_SEGMENTS {
        let filter = api.parse_filter(spb::ParseFilterRequest { filter_text: text.into() }).await?.into_inner().filter;
        let segment = spb::Segment {
            name: name.into(),
            colour: colour.into(),
            kind: spb::SegmentKind::Dynamic as i32,
            filter,
            ..Default::default()
        };
        match api.create_segment(spb::CreateSegmentRequest { segment: Some(segment), ..Default::default() }).await {
            Ok(_) => {}
            Err(status) if status.code() == tonic::Code::AlreadyExists => {}
            Err(status) => return Err(status).context("creating demo segments"),
        }
    }
    Ok(DEMO_SEGMENTS.len())
}

pub async fn load_demo(endpoint: &str, token: &str) -> anyhow::Result<Vec<String>> {
    let channel = GrpcChannel::from_shared(endpoint.to_string())?.connect().await?;
    let api: Api = ClientServiceClient::with_interceptor(channel.clone(), BearerToken::new(token)?);
    let cards: CardApi = CardServiceClient::with_interceptor(channel.clone(), BearerToken::new(token)?);
    let ledger: LedgerApi = LedgerServiceClient::with_interceptor(channel.clone(), BearerToken::new(token)?);
    let stores = demo::stores(2);
    for s in &stores {
        let store = pb::Store { id: s.id.clone(), name: s.name.clone(), city: s.city.clone(), ..Default::default() };
        match api.clone().create_store(pb::CreateStoreRequest { store: Some(store) }).await {
            Ok(_) => {}
            Err(status) if status.code() == tonic::Code::AlreadyExists => {}
            Err(status) => return Err(status).context("creating demo stores"),
        }
    }
    let started = std::time::Instant::now();
    let mut done = 0u64;
    let mut loads = futures::stream::iter(
        demo::clients(DEMO_SEED, DEMO_CLIENTS, &stores)
            .map(|c| load_client(api.clone(), cards.clone(), ledger.clone(), c)),
    )
    .buffer_unordered(16);
    while let Some(result) = loads.next().await {
        result?;
        done += 1;
        if done.is_multiple_of(500) || done == DEMO_CLIENTS {
            eprintln!("demo: {done}/{DEMO_CLIENTS} clients ({:.1} s)", started.elapsed().as_secs_f64());
        }
    }
    let segments = demo_segments(channel, token).await?;
    Ok(vec![
        format!("segment: {segments} saved segments (loyalty segments list)"),
        format!("client: {} stores, {DEMO_CLIENTS} clients with consents", stores.len()),
        format!("card: {DEMO_CLIENTS} cards, one per client"),
        format!("ledger: {} purchases with their points", DEMO_CLIENTS / 4),
    ])
}
