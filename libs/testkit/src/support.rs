//! What the services' tests share: typed clients, the fields an INVALID_ARGUMENT names, request
//! contexts and money, and a plain SQL connection to look at what a service stored.
use crate::TestApp;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::{Money, RequestContext};
use loyalty_api::importexport::v1::import_export_service_client::ImportExportServiceClient;
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_api::messaging::v1::messaging_service_client::MessagingServiceClient;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use loyalty_platform::auth::BearerToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type Authed = InterceptedService<Channel, BearerToken>;
pub type Clients = ClientServiceClient<Authed>;
pub type Cards = CardServiceClient<Authed>;
pub type Ledger = LedgerServiceClient<Authed>;
pub type Segments = SegmentServiceClient<Authed>;
pub type Messaging = MessagingServiceClient<Authed>;
pub type ImportExport = ImportExportServiceClient<Authed>;

/// The tenant most tests act in.
pub const TENANT: &str = "acme";

pub fn clients(app: &TestApp, token: &str) -> Clients {
    ClientServiceClient::new(app.authed(token))
}

pub fn cards(app: &TestApp, token: &str) -> Cards {
    CardServiceClient::new(app.authed(token))
}

pub fn ledger(app: &TestApp, token: &str) -> Ledger {
    LedgerServiceClient::new(app.authed(token))
}

pub fn segments(app: &TestApp, token: &str) -> Segments {
    SegmentServiceClient::new(app.authed(token))
}

pub fn messaging(app: &TestApp, token: &str) -> Messaging {
    MessagingServiceClient::new(app.authed(token))
}

pub fn import_export(app: &TestApp, token: &str) -> ImportExport {
    ImportExportServiceClient::new(app.authed(token))
}

/// The fields named by an INVALID_ARGUMENT (panics on any other status).
pub fn fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    loyalty_platform::error::field_violations(status).into_iter().map(|(f, _)| f).collect()
}

/// A request context with an idempotency key.
pub fn with_key(key: &str) -> Option<RequestContext> {
    Some(RequestContext { idempotency_key: key.into(), ..Default::default() })
}

/// A request context at a store's till, with an idempotency key.
pub fn at_store(key: &str, store: &str) -> Option<RequestContext> {
    Some(RequestContext { idempotency_key: key.into(), store_id: store.into(), ..Default::default() })
}

pub fn eur(minor: i64) -> Option<Money> {
    Some(Money { minor_units: minor, currency: "EUR".into() })
}

/// A plain SQL connection to the test database, in `schema`.
pub async fn sql(app: &TestApp, schema: &str) -> tokio_postgres::Client {
    loyalty_platform::db::connect(&app.settings.database, schema).await.expect("sql connection")
}
