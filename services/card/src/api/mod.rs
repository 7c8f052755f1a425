//! The gRPC face of the card service: decode, call the use case, encode. No SQL here.
mod bulk;
mod cards;
mod holders;
mod settings;

use crate::config::CardSettings;
use loyalty_api::card::v1 as pb;
use loyalty_api::card::v1::card_service_server::CardService;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_platform::clock::{Clock, SharedClock};
use loyalty_platform::error::{ApiResult, reply};
use loyalty_platform::identity::ServiceIdentity;
use loyalty_platform::outbox::Outbox;
use loyalty_platform::request::Caller;
use loyalty_platform::service::ServiceKit;
use std::pin::Pin;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// The caller of a card-service request.
type Ctx = Caller;

/// The services the card service asks.
pub struct Peers {
    /// Whether a client exists and is visible to the caller (asked with the caller's token).
    pub clients: Channel,
    /// A holder's points for the till (asked under the service's own identity).
    pub ledger: Channel,
    pub identity: ServiceIdentity,
}

#[derive(Clone)]
pub struct CardApi {
    pool: deadpool_postgres::Pool,
    outbox: Outbox,
    clock: SharedClock,
    clients: ClientServiceClient<Channel>,
    ledger: LedgerServiceClient<Channel>,
    identity: ServiceIdentity,
    settings: CardSettings,
}

impl CardApi {
    pub fn new(kit: &ServiceKit, clock: SharedClock, peers: Peers, settings: CardSettings) -> Self {
        Self {
            pool: kit.pool.clone(),
            outbox: kit.outbox.clone(),
            clock,
            clients: ClientServiceClient::new(peers.clients),
            ledger: LedgerServiceClient::new(peers.ledger),
            identity: peers.identity,
            settings,
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
        Caller::new(request, context, self.clock())
    }

    async fn conn(&self) -> ApiResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<Event, Status>> + Send>>;

#[tonic::async_trait]
impl CardService for CardApi {
    async fn create_card_template(
        &self,
        r: Request<pb::CreateCardTemplateRequest>,
    ) -> Result<Response<pb::CardTemplate>, Status> {
        reply(settings::create_template(self, r).await)
    }
    async fn update_card_template(
        &self,
        r: Request<pb::UpdateCardTemplateRequest>,
    ) -> Result<Response<pb::CardTemplate>, Status> {
        reply(settings::update_template(self, r).await)
    }
    async fn list_card_templates(
        &self,
        r: Request<pb::ListCardTemplatesRequest>,
    ) -> Result<Response<pb::ListCardTemplatesResponse>, Status> {
        reply(settings::list_templates(self, r).await)
    }
    async fn delete_card_template(
        &self,
        r: Request<pb::DeleteCardTemplateRequest>,
    ) -> Result<Response<pb::DeleteCardTemplateResponse>, Status> {
        reply(settings::delete_template(self, r).await)
    }
    async fn create_issue_form(
        &self,
        r: Request<pb::CreateIssueFormRequest>,
    ) -> Result<Response<pb::IssueForm>, Status> {
        reply(settings::create_issue_form(self, r).await)
    }
    async fn list_issue_forms(
        &self,
        r: Request<pb::ListIssueFormsRequest>,
    ) -> Result<Response<pb::ListIssueFormsResponse>, Status> {
        reply(settings::list_issue_forms(self, r).await)
    }
    async fn get_numbering_rule(
        &self,
        r: Request<pb::GetNumberingRuleRequest>,
    ) -> Result<Response<pb::NumberingRule>, Status> {
        reply(settings::get_rule(self, r).await)
    }
    async fn update_numbering_rule(
        &self,
        r: Request<pb::UpdateNumberingRuleRequest>,
    ) -> Result<Response<pb::NumberingRule>, Status> {
        reply(settings::update_rule(self, r).await)
    }
    async fn issue_card(&self, r: Request<pb::IssueCardRequest>) -> Result<Response<pb::Card>, Status> {
        reply(cards::issue(self, r).await)
    }
    async fn get_card(&self, r: Request<pb::GetCardRequest>) -> Result<Response<pb::Card>, Status> {
        reply(cards::get(self, r).await)
    }
    async fn lookup_card(&self, r: Request<pb::LookupCardRequest>) -> Result<Response<pb::LookupCardResponse>, Status> {
        reply(cards::lookup(self, r).await)
    }
    async fn list_cards(&self, r: Request<pb::ListCardsRequest>) -> Result<Response<pb::ListCardsResponse>, Status> {
        reply(bulk::list(self, r).await)
    }
    async fn list_client_cards(
        &self,
        r: Request<pb::ListClientCardsRequest>,
    ) -> Result<Response<pb::ListClientCardsResponse>, Status> {
        reply(cards::of_client(self, r).await)
    }
    async fn block_card(&self, r: Request<pb::BlockCardRequest>) -> Result<Response<pb::Card>, Status> {
        reply(cards::block(self, r).await)
    }
    async fn unblock_card(&self, r: Request<pb::UnblockCardRequest>) -> Result<Response<pb::Card>, Status> {
        reply(cards::unblock(self, r).await)
    }
    async fn replace_card(
        &self,
        r: Request<pb::ReplaceCardRequest>,
    ) -> Result<Response<pb::ReplaceCardResponse>, Status> {
        reply(cards::replace(self, r).await)
    }
    async fn delete_card(&self, r: Request<pb::DeleteCardRequest>) -> Result<Response<pb::Card>, Status> {
        reply(cards::delete(self, r).await)
    }
    async fn bulk_change_cards(
        &self,
        r: Request<pb::BulkChangeCardsRequest>,
    ) -> Result<Response<pb::BulkChangeCardsResponse>, Status> {
        reply(bulk::bulk_change(self, r).await)
    }
    async fn merge_cards(&self, r: Request<pb::MergeCardsRequest>) -> Result<Response<pb::Card>, Status> {
        reply(bulk::merge(self, r).await)
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(&self, r: Request<WatchEventsRequest>) -> Result<Response<Self::WatchEventsStream>, Status> {
        self.outbox.serve(r)
    }
}
