//! The demo chain, loaded through the API as a POS and a migration would: stores, clients who
//! joined over two years with their consents and later changes, a card each, and their purchases
//! with the seasons, returns and points spent, all at their original times.
use anyhow::Context;
use futures::StreamExt;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::{Channel, ConsentStatus, ContactChannel, Date, Money, RequestContext};
use loyalty_api::ledger::v1 as lpb;
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_platform::auth::BearerToken;
use loyalty_platform::convert::to_timestamp;
use loyalty_testkit::demo::{self, DemoClient, DemoConsent, DemoGender};
use loyalty_testkit::shopping::{self, History, PRODUCTS};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel as GrpcChannel;

/// Demo clients loaded by `dev up --demo`.
pub const DEMO_CLIENTS: u64 = 2_000;
pub const DEMO_SEED: u64 = 2026;

type Api = ClientServiceClient<InterceptedService<GrpcChannel, BearerToken>>;
type CardApi = CardServiceClient<InterceptedService<GrpcChannel, BearerToken>>;
type LedgerApi = LedgerServiceClient<InterceptedService<GrpcChannel, BearerToken>>;

fn status(c: DemoConsent) -> ConsentStatus {
    match c {
        DemoConsent::Subscribed => ConsentStatus::Subscribed,
        DemoConsent::Unsubscribed => ConsentStatus::Unsubscribed,
        DemoConsent::Unknown => ConsentStatus::Unknown,
    }
}

fn consent(channel: ContactChannel, c: DemoConsent, at: time::OffsetDateTime) -> pb::ChannelConsent {
    pb::ChannelConsent {
        channel: channel as i32,
        status: status(c) as i32,
        changed_at: Some(to_timestamp(at)),
        ..Default::default()
    }
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

fn key(text: String) -> Option<RequestContext> {
    Some(RequestContext { idempotency_key: text, ..Default::default() })
}

/// One demo client and their two years: joined, consented, carded, bought, returned. Returns
/// how many purchases were recorded.
async fn load_client(apis: Apis, c: DemoClient, now: time::OffsetDateTime) -> anyhow::Result<u64> {
    let Apis { mut clients, mut cards, mut ledger, tags } = apis;
    let h: History = shopping::history(DEMO_SEED, c.index, c.email_consent, c.sms_consent, u64::from(now.ordinal()));
    // Mid-morning of the day they joined (and never after now).
    let day = |days_ago: u64, hours: i64| {
        (now - time::Duration::days(days_ago as i64)).replace_time(time::Time::MIDNIGHT) + time::Duration::hours(hours)
    };
    let when = |days_ago: u64, hours: i64| day(days_ago, hours).min(now - time::Duration::minutes(1));
    let joined = when(h.joined_days_ago, 9);
    let context = RequestContext {
        idempotency_key: format!("demo-client-{}", c.index),
        channel: Channel::Pos as i32,
        store_id: c.store_id.clone(),
        ..Default::default()
    };
    let client = pb::Client { registered_at: Some(to_timestamp(joined)), ..demo_client(&c) };
    let created = clients
        .create_client(pb::CreateClientRequest { context: Some(context), client: Some(client), ..Default::default() })
        .await
        .with_context(|| format!("creating demo client {} ({} {})", c.index, c.first_name, c.last_name))?
        .into_inner();
    let given = vec![
        consent(ContactChannel::Email, c.email_consent, joined),
        consent(ContactChannel::Sms, c.sms_consent, joined),
    ];
    let agreement = pb::Agreement {
        granted: c.personal_data_consent,
        changed_at: Some(to_timestamp(joined)),
        ..Default::default()
    };
    let set = |consents: Vec<pb::ChannelConsent>, agreement: Option<pb::Agreement>, n: usize| pb::SetConsentRequest {
        context: key(format!("demo-consent-{}-{n}", c.index)),
        client_id: created.id.clone(),
        consents,
        personal_data_consent: agreement,
        source: "demo".into(),
        ..Default::default()
    };
    clients.set_consent(set(given, Some(agreement), 0)).await.context("setting demo consents")?;
    for (n, change) in h.consents.iter().enumerate() {
        let channel = if change.channel == "email" { ContactChannel::Email } else { ContactChannel::Sms };
        let later = consent(channel, change.status, when(change.days_ago, 15));
        clients.set_consent(set(vec![later], None, n + 1)).await.context("changing a demo consent")?;
    }
    let carried: Vec<String> =
        tags.iter().filter(|(_, every)| c.index.is_multiple_of(*every)).map(|(id, _)| id.clone()).collect();
    if !carried.is_empty() {
        let tagging = pb::ModifyClientTagsRequest {
            context: key(format!("demo-tags-{}", c.index)),
            client_id: created.id.clone(),
            add_tag_ids: carried,
            ..Default::default()
        };
        clients.modify_client_tags(tagging).await.context("tagging a demo client")?;
    }
    let card = loyalty_api::card::v1::Card {
        client_id: created.id.clone(),
        store_id: c.store_id.clone(),
        ..Default::default()
    };
    let issue =
        loyalty_api::card::v1::IssueCardRequest { context: key(format!("demo-card-{}", c.index)), card: Some(card) };
    let card = cards.issue_card(issue).await.context("issuing a demo card")?.into_inner();
    let mut available = 0i64;
    for (n, bought) in h.purchases.iter().enumerate() {
        let at = when(bought.days_ago, 10 + (n as i64 % 9));
        let lines: Vec<lpb::PurchaseLine> = bought
            .lines
            .iter()
            .enumerate()
            .map(|(i, (product, pieces))| {
                let (sku, name, category, price) = PRODUCTS[*product];
                lpb::PurchaseLine {
                    line_no: i as i32 + 1,
                    sku: sku.into(),
                    name: name.into(),
                    category: category.into(),
                    quantity_milli: pieces * 1000,
                    amount: Some(Money { minor_units: price * pieces, currency: "EUR".into() }),
                    ..Default::default()
                }
            })
            .collect();
        let amount: i64 = lines.iter().filter_map(|l| l.amount.as_ref()).map(|m| m.minor_units).sum();
        let purchase = lpb::RecordPurchaseRequest {
            context: key(format!("demo-purchase-{}-{n}", c.index)),
            buyer: Some(lpb::record_purchase_request::Buyer::CardNumber(card.number.clone())),
            check_id: format!("DEMO-{}-{n}", c.index),
            store_id: c.store_id.clone(),
            amount: Some(Money { minor_units: amount, currency: "EUR".into() }),
            payment_method: lpb::PaymentMethod::Card as i32,
            purchased_at: Some(to_timestamp(at)),
            points_to_spend: if bought.spends_points { available.min(amount / 200) } else { 0 },
            lines,
            ..Default::default()
        };
        // Points of old purchases may have expired meanwhile: then the purchase goes without them.
        let result = match ledger.record_purchase(purchase.clone()).await {
            Err(status) if purchase.points_to_spend > 0 && status.code() == tonic::Code::FailedPrecondition => {
                let plain = lpb::RecordPurchaseRequest {
                    context: key(format!("demo-purchase-{}-{n}-plain", c.index)),
                    points_to_spend: 0,
                    ..purchase
                };
                ledger.record_purchase(plain).await
            }
            other => other,
        };
        let result = result.context("recording a demo purchase")?.into_inner();
        available = result.balance.map_or(available, |b| b.available);
        if let (Some(after), Some(p)) = (bought.returned_after, result.purchase) {
            let back = lpb::ReturnPurchaseRequest {
                context: key(format!("demo-return-{}-{n}", c.index)),
                purchase_id: p.id,
                store_id: c.store_id.clone(),
                accepted_by: "demo".into(),
                returned_at: Some(to_timestamp(when(bought.days_ago.saturating_sub(after), 17))),
                ..Default::default()
            };
            let returned = ledger.return_purchase(back).await.context("returning a demo purchase")?.into_inner();
            available = returned.balance.map_or(available, |b| b.available);
        }
    }
    Ok(h.purchases.len() as u64)
}

/// The demo's tags: name, colour, and which clients carry it (every n-th).
const DEMO_TAGS: [(&str, &str, u64); 5] = [
    ("Ekologiškas", "#2E7D32", 4),
    ("Studentas", "#1565C0", 5),
    ("Šeima", "#EF6C00", 7),
    ("Darbuotojas", "#6A1B9A", 11),
    ("Pensininkas", "#8D6E63", 13),
];

/// The demo tags' ids, made when missing.
async fn demo_tags(api: &mut Api) -> anyhow::Result<Vec<(String, u64)>> {
    for (name, colour, _) in DEMO_TAGS {
        let tag = pb::Tag { name: name.into(), colour: colour.into(), ..Default::default() };
        let made =
            api.create_tag(pb::CreateTagRequest { tag: Some(tag), context: key(format!("demo-tag-{name}")) }).await;
        match made {
            Ok(_) => {}
            Err(status) if status.code() == tonic::Code::AlreadyExists => {}
            Err(status) => return Err(status).context("creating demo tags"),
        }
    }
    let all = api.list_tags(pb::ListTagsRequest {}).await.context("listing demo tags")?.into_inner().tags;
    Ok(DEMO_TAGS
        .iter()
        .filter_map(|(name, _, every)| all.iter().find(|t| t.name == *name).map(|t| (t.id.clone(), *every)))
        .collect())
}

#[derive(Clone)]
struct Apis {
    clients: Api,
    cards: CardApi,
    ledger: LedgerApi,
    /// Tag ids, each with the n-th clients that carry it.
    tags: Vec<(String, u64)>,
}

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

/// Loads the demo chain through the gRPC API. Returns a line per service.
pub async fn load_demo(endpoint: &str, token: &str) -> anyhow::Result<Vec<String>> {
    let channel = GrpcChannel::from_shared(endpoint.to_string())?.connect().await?;
    let api: Api = ClientServiceClient::with_interceptor(channel.clone(), BearerToken::new(token)?);
    let cards: CardApi = CardServiceClient::with_interceptor(channel.clone(), BearerToken::new(token)?);
    let ledger: LedgerApi = LedgerServiceClient::with_interceptor(channel.clone(), BearerToken::new(token)?);
    let tags = demo_tags(&mut api.clone()).await?;
    let apis = Apis { clients: api.clone(), cards, ledger, tags };
    let now = time::OffsetDateTime::now_utc();
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
    let (mut done, mut purchases) = (0u64, 0u64);
    let mut loads = futures::stream::iter(
        demo::clients(DEMO_SEED, DEMO_CLIENTS, &stores).map(|c| load_client(apis.clone(), c, now)),
    )
    .buffer_unordered(32);
    while let Some(result) = loads.next().await {
        purchases += result?;
        done += 1;
        if done.is_multiple_of(500) || done == DEMO_CLIENTS {
            eprintln!("demo: {done}/{DEMO_CLIENTS} clients ({:.1} s)", started.elapsed().as_secs_f64());
        }
    }
    let segments = demo_segments(channel.clone(), token).await?;
    let messaging = crate::demo_messaging::load(channel.clone(), token).await?;
    let imports = crate::demo_imports::load(channel, token).await?;
    Ok(vec![
        imports,
        messaging,
        format!("segment: {segments} saved segments (loyalty segments list)"),
        format!(
            "client: {} stores, {DEMO_CLIENTS} clients who joined over two years, with their consents",
            stores.len()
        ),
        format!("card: {DEMO_CLIENTS} cards, one per client"),
        format!("ledger: {purchases} purchases over two years with their points and returns"),
    ])
}
