//! The gRPC face of the client service: decode, call the use case, encode. No SQL here.
mod cards;
mod clients;
mod context;
pub mod convert;
mod gdpr;
mod history;
mod import;
mod settings;
mod status;
mod tags;

use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::client_service_server::ClientService;
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_platform::TenantId;
use loyalty_platform::clock::{Clock, SharedClock};
use loyalty_platform::error::ApiError;
use loyalty_platform::error::reply;
use loyalty_platform::identity::ServiceIdentity;
use loyalty_platform::outbox::Outbox;
use loyalty_platform::service::ServiceKit;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// The services the client service asks.
pub struct Peers {
    /// Card numbers as identifiers (CL-2, CL-7), asked with the caller's token.
    pub cards: Channel,
    /// Told at once when a client is blocked or unblocked (CL-4), under the service's identity.
    pub ledger: Channel,
    pub identity: ServiceIdentity,
}

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
    /// The service's own identity, for the block it passes to the ledger.
    identity: ServiceIdentity,
    settings: crate::config::ClientSettings,
    /// Phone regions of tenants, for reading search terms without a query per search.
    regions: Arc<Mutex<HashMap<TenantId, (Instant, String)>>>,
}

impl ClientApi {
    pub fn new(kit: &ServiceKit, clock: SharedClock, peers: Peers, settings: crate::config::ClientSettings) -> Self {
        Self {
            pool: kit.pool.clone(),
            outbox: kit.outbox.clone(),
            clock,
            cards: CardServiceClient::new(peers.cards),
            ledger: LedgerServiceClient::new(peers.ledger),
            identity: peers.identity,
            settings,
            regions: Arc::default(),
        }
    }

    /// The tenant's default phone region, cached for `phone_region_ttl_ms`.
    async fn phone_region(&self, db: &deadpool_postgres::Object, tenant: &TenantId) -> Result<String, ApiError> {
        let cached = self.regions.lock().ok().and_then(|m| m.get(tenant).cloned());
        if let Some((at, region)) = cached
            && at.elapsed() < Duration::from_millis(self.settings.phone_region_ttl_ms)
        {
            return Ok(region);
        }
        let region = crate::store::settings::get(db, tenant).await?.default_phone_region;
        if let Ok(mut m) = self.regions.lock() {
            m.insert(tenant.clone(), (Instant::now(), region.clone()));
        }
        Ok(region)
    }

    fn forget_region(&self, tenant: &TenantId) {
        if let Ok(mut m) = self.regions.lock() {
            m.remove(tenant);
        }
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn conn(&self) -> Result<deadpool_postgres::Object, ApiError> {
        Ok(self.pool.get().await?)
    }
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
    async fn import_clients(
        &self,
        r: Request<pb::ImportClientsRequest>,
    ) -> Result<Response<pb::ImportClientsResponse>, Status> {
        reply(import::import(self, r).await)
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
