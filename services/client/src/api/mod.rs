//! The gRPC face of the client service: decode, call the use case, encode. No SQL here.
mod cards;
mod clients;
mod context;
pub mod convert;
mod gdpr;
mod history;
mod settings;
mod status;
mod tags;

use crate::error::ClientError;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::client_service_server::ClientService;
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_platform::clock::{Clock, SharedClock};
use loyalty_platform::outbox::Outbox;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// State shared by every call.
#[derive(Clone)]
pub struct ClientApi {
    pool: deadpool_postgres::Pool,
    outbox: Outbox,
    clock: SharedClock,
    /// The card service: card numbers as identifiers (CL-2, CL-7), called with the caller's token.
    cards: CardServiceClient<Channel>,
    /// The ledger, told at once when a client is blocked or unblocked (CL-4).
    ledger: LedgerServiceClient<Channel>,
    /// Phone regions of tenants, for reading search terms without a query per search.
    regions: Arc<Mutex<HashMap<String, (Instant, String)>>>,
}

/// How long a cached phone region is trusted; a changed setting reaches searches within this.
const REGION_TTL: Duration = Duration::from_secs(10);

impl ClientApi {
    pub fn new(pool: deadpool_postgres::Pool, outbox: Outbox, clock: SharedClock, peers: (Channel, Channel)) -> Self {
        let (cards, ledger) = peers;
        Self {
            pool,
            outbox,
            clock,
            cards: CardServiceClient::new(cards),
            ledger: LedgerServiceClient::new(ledger),
            regions: Arc::default(),
        }
    }

    /// The tenant's default phone region, cached for [`REGION_TTL`].
    async fn phone_region(&self, db: &deadpool_postgres::Object, tenant: &str) -> Result<String, ClientError> {
        let cached = self.regions.lock().ok().and_then(|m| m.get(tenant).cloned());
        if let Some((at, region)) = cached
            && at.elapsed() < REGION_TTL
        {
            return Ok(region);
        }
        let region = crate::store::settings::get(db, tenant).await?.default_phone_region;
        if let Ok(mut m) = self.regions.lock() {
            m.insert(tenant.to_string(), (Instant::now(), region.clone()));
        }
        Ok(region)
    }

    fn forget_region(&self, tenant: &str) {
        if let Ok(mut m) = self.regions.lock() {
            m.remove(tenant);
        }
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn conn(&self) -> Result<deadpool_postgres::Object, ClientError> {
        self.pool
            .get()
            .await
            .map_err(|e| ClientError::Internal(anyhow::Error::from(e).context("taking a database connection")))
    }
}

fn reply<T>(result: Result<T, ClientError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<Event, Status>> + Send>>;

#[tonic::async_trait]
impl ClientService for ClientApi {
    async fn create_client(&self, r: Request<pb::CreateClientRequest>) -> Result<Response<pb::Client>, Status> {
        reply(clients::create(self, r).await)
    }
    async fn get_client(&self, r: Request<pb::GetClientRequest>) -> Result<Response<pb::Client>, Status> {
        reply(clients::get(self, r).await)
    }
    async fn batch_get_clients(
        &self,
        r: Request<pb::BatchGetClientsRequest>,
    ) -> Result<Response<pb::BatchGetClientsResponse>, Status> {
        reply(clients::batch_get(self, r).await)
    }
    async fn update_client(&self, r: Request<pb::UpdateClientRequest>) -> Result<Response<pb::Client>, Status> {
        reply(clients::update(self, r).await)
    }
    async fn delete_client(
        &self,
        r: Request<pb::DeleteClientRequest>,
    ) -> Result<Response<pb::DeleteClientResponse>, Status> {
        reply(clients::delete(self, r).await)
    }
    async fn list_clients(
        &self,
        r: Request<pb::ListClientsRequest>,
    ) -> Result<Response<pb::ListClientsResponse>, Status> {
        reply(clients::list(self, r).await)
    }
    async fn block_client(&self, r: Request<pb::BlockClientRequest>) -> Result<Response<pb::Client>, Status> {
        reply(status::block(self, r).await)
    }
    async fn unblock_client(&self, r: Request<pb::UnblockClientRequest>) -> Result<Response<pb::Client>, Status> {
        reply(status::unblock(self, r).await)
    }
    async fn set_consent(&self, r: Request<pb::SetConsentRequest>) -> Result<Response<pb::Client>, Status> {
        reply(status::set_consent(self, r).await)
    }
    async fn check_marketing_permission(
        &self,
        r: Request<pb::CheckMarketingPermissionRequest>,
    ) -> Result<Response<pb::CheckMarketingPermissionResponse>, Status> {
        reply(status::check_permission(self, r).await)
    }
    async fn create_tag(&self, r: Request<pb::CreateTagRequest>) -> Result<Response<pb::Tag>, Status> {
        reply(tags::create(self, r).await)
    }
    async fn update_tag(&self, r: Request<pb::UpdateTagRequest>) -> Result<Response<pb::Tag>, Status> {
        reply(tags::update(self, r).await)
    }
    async fn delete_tag(&self, r: Request<pb::DeleteTagRequest>) -> Result<Response<pb::DeleteTagResponse>, Status> {
        reply(tags::delete(self, r).await)
    }
    async fn list_tags(&self, r: Request<pb::ListTagsRequest>) -> Result<Response<pb::ListTagsResponse>, Status> {
        reply(tags::list(self, r).await)
    }
    async fn modify_client_tags(
        &self,
        r: Request<pb::ModifyClientTagsRequest>,
    ) -> Result<Response<pb::Client>, Status> {
        reply(tags::modify_client(self, r).await)
    }
    async fn bulk_edit_tags(
        &self,
        r: Request<pb::BulkEditTagsRequest>,
    ) -> Result<Response<pb::BulkEditTagsResponse>, Status> {
        reply(tags::bulk_edit(self, r).await)
    }
    async fn merge_clients(
        &self,
        r: Request<pb::MergeClientsRequest>,
    ) -> Result<Response<pb::MergeClientsResponse>, Status> {
        reply(gdpr::merge(self, r).await)
    }
    async fn list_client_history(
        &self,
        r: Request<pb::ListClientHistoryRequest>,
    ) -> Result<Response<pb::ListClientHistoryResponse>, Status> {
        reply(history::list(self, r).await)
    }
    async fn erase_client(
        &self,
        r: Request<pb::EraseClientRequest>,
    ) -> Result<Response<pb::EraseClientResponse>, Status> {
        reply(gdpr::erase(self, r).await)
    }
    async fn export_client_data(
        &self,
        r: Request<pb::ExportClientDataRequest>,
    ) -> Result<Response<pb::ExportClientDataResponse>, Status> {
        reply(gdpr::export(self, r).await)
    }
    async fn create_store(&self, r: Request<pb::CreateStoreRequest>) -> Result<Response<pb::Store>, Status> {
        reply(settings::create_store(self, r).await)
    }
    async fn update_store(&self, r: Request<pb::UpdateStoreRequest>) -> Result<Response<pb::Store>, Status> {
        reply(settings::update_store(self, r).await)
    }
    async fn list_stores(&self, r: Request<pb::ListStoresRequest>) -> Result<Response<pb::ListStoresResponse>, Status> {
        reply(settings::list_stores(self, r).await)
    }
    async fn get_tenant_settings(
        &self,
        r: Request<pb::GetTenantSettingsRequest>,
    ) -> Result<Response<pb::TenantSettings>, Status> {
        reply(settings::get_settings(self, r).await)
    }
    async fn update_tenant_settings(
        &self,
        r: Request<pb::UpdateTenantSettingsRequest>,
    ) -> Result<Response<pb::TenantSettings>, Status> {
        reply(settings::update_settings(self, r).await)
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(&self, r: Request<WatchEventsRequest>) -> Result<Response<Self::WatchEventsStream>, Status> {
        self.outbox.serve(r)
    }
}
