//! The gRPC face of the ledger: decode, call the use case, encode.
mod context;
mod convert;
mod points;
mod reads;
mod writes;

use crate::error::LedgerError;
use crate::reservations::Close;
use context::Ctx;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1::GetClientRequest;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::FileChunk;
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::ledger_service_server::LedgerService;
use loyalty_platform::clock::{Clock, SharedClock};
use loyalty_platform::outbox::Outbox;
use prost::Message;
use std::pin::Pin;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use uuid::Uuid;

#[derive(Clone)]
pub struct LedgerApi {
    pool: deadpool_postgres::Pool,
    outbox: Outbox,
    clock: SharedClock,
    /// Card numbers name buyers at the POS.
    cards: CardServiceClient<Channel>,
    /// Names for the points-credited notice.
    clients: ClientServiceClient<Channel>,
}

impl LedgerApi {
    pub fn new(pool: deadpool_postgres::Pool, outbox: Outbox, clock: SharedClock, peers: (Channel, Channel)) -> Self {
        Self { pool, outbox, clock, clients: ClientServiceClient::new(peers.0), cards: CardServiceClient::new(peers.1) }
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn conn(&self) -> Result<deadpool_postgres::Object, LedgerError> {
        self.pool
            .get()
            .await
            .map_err(|e| LedgerError::Internal(anyhow::Error::from(e).context("taking a database connection")))
    }
}

/// The client's first name for a notice; empty when the client service cannot say.
async fn client_name(api: &LedgerApi, ctx: &Ctx, client: Uuid) -> String {
    let mut clients = api.clients.clone();
    match clients.get_client(ctx.token.request(GetClientRequest { client_id: client.to_string() })).await {
        Ok(c) => c.into_inner().first_name,
        Err(status) => {
            tracing::warn!(%status, "no client name for the notice");
            String::new()
        }
    }
}

fn reply<T>(result: Result<T, LedgerError>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<Event, Status>> + Send>>;
type ChunkStream = Pin<Box<dyn futures::Stream<Item = Result<FileChunk, Status>> + Send>>;

#[tonic::async_trait]
impl LedgerService for LedgerApi {
    async fn get_programme(&self, r: Request<pb::GetProgrammeRequest>) -> Result<Response<pb::Programme>, Status> {
        reply(reads::get_programme(self, r).await)
    }
    async fn update_programme(
        &self,
        r: Request<pb::UpdateProgrammeRequest>,
    ) -> Result<Response<pb::Programme>, Status> {
        reply(points::update_programme(self, r).await)
    }
    async fn list_programme_versions(
        &self,
        r: Request<pb::ListProgrammeVersionsRequest>,
    ) -> Result<Response<pb::ListProgrammeVersionsResponse>, Status> {
        reply(reads::programme_versions(self, r).await)
    }
    async fn record_purchase(
        &self,
        r: Request<pb::RecordPurchaseRequest>,
    ) -> Result<Response<pb::PurchaseResult>, Status> {
        reply(writes::record_purchase(self, r, false).await)
    }
    async fn add_manual_purchase(
        &self,
        r: Request<pb::RecordPurchaseRequest>,
    ) -> Result<Response<pb::PurchaseResult>, Status> {
        reply(writes::record_purchase(self, r, true).await)
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
        reply(writes::return_purchase(self, r).await)
    }
    async fn reserve_points(&self, r: Request<pb::ReservePointsRequest>) -> Result<Response<pb::Reservation>, Status> {
        reply(points::reserve(self, r).await)
    }
    async fn commit_reservation(
        &self,
        r: Request<pb::CommitReservationRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let ctx = Ctx::new(&r, r.get_ref().context.as_ref(), self.clock())?;
        let body = r.into_inner();
        reply(
            points::close(
                self,
                ctx,
                &body.reservation_id,
                points::close_how(body.points),
                &body.encode_to_vec(),
                "CommitReservation",
            )
            .await,
        )
    }
    async fn cancel_reservation(
        &self,
        r: Request<pb::CancelReservationRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let ctx = Ctx::new(&r, r.get_ref().context.as_ref(), self.clock())?;
        let body = r.into_inner();
        reply(
            points::close(self, ctx, &body.reservation_id, Close::Cancel, &body.encode_to_vec(), "CancelReservation")
                .await,
        )
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
        Ok(Response::new(Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)))))
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
