//! The gRPC face of the ledger: decode, call the use case, encode. No SQL here.
mod context;
mod convert;
mod points;
mod programme;
mod purchases;
mod reads;

use crate::store::reservations::Close;
use context::Ctx;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::FileChunk;
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::ledger_service_server::LedgerService;
use loyalty_platform::clock::{Clock, SharedClock};
use loyalty_platform::error::{ApiResult, reply};
use loyalty_platform::identity::ServiceIdentity;
use loyalty_platform::outbox::Outbox;
use loyalty_platform::service::ServiceKit;
use std::pin::Pin;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// The services the ledger asks, under its own identity.
pub struct Peers {
    /// Whether a client id it has not heard of exists; names for the points-credited notice.
    pub clients: Channel,
    /// Card numbers name buyers at the POS.
    pub cards: Channel,
    pub identity: ServiceIdentity,
}

#[derive(Clone)]
pub struct LedgerApi {
    pool: deadpool_postgres::Pool,
    outbox: Outbox,
    clock: SharedClock,
    cards: CardServiceClient<Channel>,
    clients: ClientServiceClient<Channel>,
    identity: ServiceIdentity,
}

impl LedgerApi {
    pub fn new(kit: &ServiceKit, clock: SharedClock, peers: Peers) -> Self {
        Self {
            pool: kit.pool.clone(),
            outbox: kit.outbox.clone(),
            clock,
            cards: CardServiceClient::new(peers.cards),
            clients: ClientServiceClient::new(peers.clients),
            identity: peers.identity,
        }
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn ctx<T>(
        &self,
        request: &Request<T>,
        context: Option<&loyalty_api::common::v1::RequestContext>,
    ) -> ApiResult<Ctx> {
        Ctx::new(request, context, self.clock())
    }

    async fn conn(&self) -> ApiResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<Event, Status>> + Send>>;
type ChunkStream = Pin<Box<dyn futures::Stream<Item = Result<FileChunk, Status>> + Send>>;

#[tonic::async_trait]
impl LedgerService for LedgerApi {
    async fn get_programme(&self, r: Request<pb::GetProgrammeRequest>) -> Result<Response<pb::Programme>, Status> {
        reply(programme::get(self, r).await)
    }
    async fn update_programme(
        &self,
        r: Request<pb::UpdateProgrammeRequest>,
    ) -> Result<Response<pb::Programme>, Status> {
        reply(programme::update(self, r).await)
    }
    async fn list_programme_versions(
        &self,
        r: Request<pb::ListProgrammeVersionsRequest>,
    ) -> Result<Response<pb::ListProgrammeVersionsResponse>, Status> {
        reply(programme::versions(self, r).await)
    }
    async fn record_purchase(
        &self,
        r: Request<pb::RecordPurchaseRequest>,
    ) -> Result<Response<pb::PurchaseResult>, Status> {
        reply(purchases::record(self, r, false).await)
    }
    async fn add_manual_purchase(
        &self,
        r: Request<pb::RecordPurchaseRequest>,
    ) -> Result<Response<pb::PurchaseResult>, Status> {
        reply(purchases::record(self, r, true).await)
    }
    async fn get_purchase(&self, r: Request<pb::GetPurchaseRequest>) -> Result<Response<pb::Purchase>, Status> {
        reply(reads::get_purchase(self, r).await)
    }
    async fn list_purchases(
        &self,
        r: Request<pb::ListPurchasesRequest>,
    ) -> Result<Response<pb::ListPurchasesResponse>, Status> {
        reply(reads::list_purchases(self, r).await)
    }
    async fn return_purchase(
        &self,
        r: Request<pb::ReturnPurchaseRequest>,
    ) -> Result<Response<pb::ReturnResult>, Status> {
        reply(purchases::give_back(self, r).await)
    }
    async fn reserve_points(&self, r: Request<pb::ReservePointsRequest>) -> Result<Response<pb::Reservation>, Status> {
        reply(points::reserve(self, r).await)
    }
    async fn commit_reservation(
        &self,
        r: Request<pb::CommitReservationRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let close = Close::Commit(r.get_ref().points);
        let id = r.get_ref().reservation_id.clone();
        reply(points::close(self, &r, (&id, close, "CommitReservation")).await)
    }
    async fn cancel_reservation(
        &self,
        r: Request<pb::CancelReservationRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let id = r.get_ref().reservation_id.clone();
        reply(points::close(self, &r, (&id, Close::Cancel, "CancelReservation")).await)
    }
    async fn adjust_points(
        &self,
        r: Request<pb::AdjustPointsRequest>,
    ) -> Result<Response<pb::AdjustPointsResponse>, Status> {
        reply(points::adjust(self, r).await)
    }
    async fn activate_pending_points(
        &self,
        r: Request<pb::ActivatePendingPointsRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        reply(points::activate(self, r).await)
    }
    async fn get_balance(&self, r: Request<pb::GetBalanceRequest>) -> Result<Response<pb::Balance>, Status> {
        reply(reads::balance(self, r).await)
    }
    async fn batch_get_balances(
        &self,
        r: Request<pb::BatchGetBalancesRequest>,
    ) -> Result<Response<pb::BatchGetBalancesResponse>, Status> {
        reply(reads::balances(self, r).await)
    }
    async fn list_entries(
        &self,
        r: Request<pb::ListEntriesRequest>,
    ) -> Result<Response<pb::ListEntriesResponse>, Status> {
        reply(reads::entries(self, r).await)
    }

    type ExportEntriesStream = ChunkStream;

    async fn export_entries(
        &self,
        r: Request<pb::ExportEntriesRequest>,
    ) -> Result<Response<Self::ExportEntriesStream>, Status> {
        let chunks = reads::export(self, r).await.map_err(Status::from)?;
        let chunks: Vec<FileChunk> = chunks;
        Ok(Response::new(Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)))))
    }
    async fn list_operations(
        &self,
        r: Request<pb::ListOperationsRequest>,
    ) -> Result<Response<pb::ListOperationsResponse>, Status> {
        reply(reads::operations(self, r).await)
    }
    async fn verify_account(
        &self,
        r: Request<pb::VerifyAccountRequest>,
    ) -> Result<Response<pb::VerifyAccountResponse>, Status> {
        reply(reads::verify(self, r).await)
    }
    async fn set_account_blocked(
        &self,
        r: Request<pb::SetAccountBlockedRequest>,
    ) -> Result<Response<pb::SetAccountBlockedResponse>, Status> {
        reply(points::set_blocked(self, r).await)
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(&self, r: Request<WatchEventsRequest>) -> Result<Response<Self::WatchEventsStream>, Status> {
        self.outbox.serve(r)
    }
}
