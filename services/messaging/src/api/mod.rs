//! The gRPC face of the messaging service: decode, check, call the store, encode.
pub mod campaigns;
mod deliveries;
mod notices;
mod preview;
mod providers;
mod receipts;
mod rules;
mod templates;
mod triggers;

use crate::config::MessagingSettings;
use crate::domain::secrets::Sealer;
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::messaging_service_server::MessagingService;
use loyalty_platform::clock::SharedClock;
use loyalty_platform::error::{ApiError, ApiResult, reply};
use loyalty_platform::outbox::Outbox;
use loyalty_platform::request::Caller;
use loyalty_platform::service::ServiceKit;
use std::pin::Pin;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct MessagingApi {
    outbox: Outbox,
    pool: deadpool_postgres::Pool,
    clock: SharedClock,
    sealer: Sealer,
    segments: tonic::transport::Channel,
    settings: MessagingSettings,
    tracking: std::sync::Arc<crate::tracking::Tracking>,
}

impl MessagingApi {
    pub fn new(
        kit: &ServiceKit,
        clock: SharedClock,
        sealer: Sealer,
        (settings, tracking): (MessagingSettings, std::sync::Arc<crate::tracking::Tracking>),
    ) -> anyhow::Result<Self> {
        let segments = kit.peer(&kit.settings.peers.segment)?;
        Ok(Self { outbox: kit.outbox.clone(), pool: kit.pool.clone(), clock, sealer, segments, settings, tracking })
    }

    fn caller<T>(&self, r: &Request<T>) -> ApiResult<Caller> {
        Caller::new(r, None, self.clock.as_ref())
    }
}

/// The stores a scoped caller sees, or None for the whole chain.
fn stores(caller: &Caller) -> Option<Vec<String>> {
    caller.principal.store_scope().map(|s| s.to_vec())
}

/// PERMISSION_DENIED for a store-scoped token: providers are the whole chain's.
fn chain_wide(caller: &Caller, what: &str) -> ApiResult<()> {
    if caller.principal.store_scope().is_some() {
        return Err(ApiError::denied(format!("{what} are the whole chain's: a store-scoped token cannot change them")));
    }
    Ok(())
}

/// What a campaign or a trigger sends: its own content, or a template by id.
enum Body<'a> {
    Content(&'a pb::Content),
    Template(&'a str),
    Missing,
}

/// The content `body` sends and its channel (`what` names the message in errors: "campaign",
/// "trigger"), a template looked up as it is now.
async fn content_and_channel(
    db: &impl crate::store::GenericClient,
    tenant: &loyalty_platform::TenantId,
    what: &str,
    body: Body<'_>,
) -> ApiResult<(pb::Content, crate::domain::rules::Channel)> {
    let content = match body {
        Body::Content(c) => c.clone(),
        Body::Template(id) => {
            let id = uuid_of(&format!("{what}.template_id"), id)?;
            crate::store::templates::load(db, tenant, id, false).await?.ok_or(ApiError::NotFound("template"))?.content
        }
        Body::Missing => return Err(ApiError::field(&format!("{what}.content"), "give the content or a template id")),
    };
    let channel = crate::domain::rules::Channel::from_contract(content.channel)
        .ok_or_else(|| ApiError::field(&format!("{what}.content.channel"), "choose email, SMS, push or Telegram"))?;
    Ok((content, channel))
}

/// A uuid from a body field, INVALID_ARGUMENT naming it otherwise.
fn uuid_of(field: &str, text: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text.trim()).map_err(|_| ApiError::field(field, "is not an id"))
}

/// Offset pages: the token is the offset of the next page, as issued.
fn page(p: Option<&loyalty_api::common::v1::PageRequest>) -> ApiResult<(i64, i64)> {
    let p = p.cloned().unwrap_or_default();
    let size = if p.page_size <= 0 { 50 } else { p.page_size.min(1000) };
    let offset = if p.page_token.is_empty() {
        0
    } else {
        p.page_token
            .strip_prefix("o")
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::field("page.page_token", "is not a token this service issued"))?
    };
    Ok((offset, i64::from(size)))
}

fn page_info(offset: i64, size: i64, shown: usize, total: i64) -> loyalty_api::common::v1::PageInfo {
    let next = offset + shown as i64;
    let next_page_token = if shown as i64 == size && next < total { format!("o{next}") } else { String::new() };
    loyalty_api::common::v1::PageInfo { next_page_token, total_size: total }
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<Event, Status>> + Send>>;

#[tonic::async_trait]
impl MessagingService for MessagingApi {
    async fn set_channel_provider(
        &self,
        r: Request<pb::SetChannelProviderRequest>,
    ) -> Result<Response<pb::ChannelProvider>, Status> {
        reply(providers::set(self, r).await)
    }
    async fn list_channel_providers(
        &self,
        r: Request<pb::ListChannelProvidersRequest>,
    ) -> Result<Response<pb::ListChannelProvidersResponse>, Status> {
        reply(providers::list(self, r).await)
    }
    async fn send_test_message(
        &self,
        r: Request<pb::SendTestMessageRequest>,
    ) -> Result<Response<pb::SendTestMessageResponse>, Status> {
        reply(providers::test_send(self, r).await)
    }
    async fn get_sending_rules(
        &self,
        r: Request<pb::GetSendingRulesRequest>,
    ) -> Result<Response<pb::SendingRules>, Status> {
        reply(rules::get(self, r).await)
    }
    async fn set_sending_rules(
        &self,
        r: Request<pb::SetSendingRulesRequest>,
    ) -> Result<Response<pb::SendingRules>, Status> {
        reply(rules::set(self, r).await)
    }
    async fn create_template(&self, r: Request<pb::CreateTemplateRequest>) -> Result<Response<pb::Template>, Status> {
        reply(templates::create(self, r).await)
    }
    async fn get_template(&self, r: Request<pb::GetTemplateRequest>) -> Result<Response<pb::Template>, Status> {
        reply(templates::get(self, r).await)
    }
    async fn update_template(&self, r: Request<pb::UpdateTemplateRequest>) -> Result<Response<pb::Template>, Status> {
        reply(templates::update(self, r).await)
    }
    async fn delete_template(
        &self,
        r: Request<pb::DeleteTemplateRequest>,
    ) -> Result<Response<pb::DeleteTemplateResponse>, Status> {
        reply(templates::delete(self, r).await)
    }
    async fn list_templates(
        &self,
        r: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        reply(templates::list(self, r).await)
    }
    async fn preview_message(
        &self,
        r: Request<pb::PreviewMessageRequest>,
    ) -> Result<Response<pb::PreviewMessageResponse>, Status> {
        reply(preview::preview(self, r).await)
    }
    async fn create_campaign(&self, r: Request<pb::CreateCampaignRequest>) -> Result<Response<pb::Campaign>, Status> {
        reply(campaigns::create(self, r).await)
    }
    async fn get_campaign(&self, r: Request<pb::GetCampaignRequest>) -> Result<Response<pb::Campaign>, Status> {
        reply(campaigns::get(self, r).await)
    }
    async fn update_campaign(&self, r: Request<pb::UpdateCampaignRequest>) -> Result<Response<pb::Campaign>, Status> {
        reply(campaigns::update(self, r).await)
    }
    async fn list_campaigns(
        &self,
        r: Request<pb::ListCampaignsRequest>,
    ) -> Result<Response<pb::ListCampaignsResponse>, Status> {
        reply(campaigns::list(self, r).await)
    }
    async fn start_campaign(&self, r: Request<pb::StartCampaignRequest>) -> Result<Response<pb::Campaign>, Status> {
        reply(campaigns::start(self, r).await)
    }
    async fn pause_campaign(&self, r: Request<pb::PauseCampaignRequest>) -> Result<Response<pb::Campaign>, Status> {
        reply(campaigns::pause(self, r).await)
    }
    async fn cancel_campaign(&self, r: Request<pb::CancelCampaignRequest>) -> Result<Response<pb::Campaign>, Status> {
        reply(campaigns::cancel(self, r).await)
    }
    async fn get_campaign_stats(
        &self,
        r: Request<pb::GetCampaignStatsRequest>,
    ) -> Result<Response<pb::CampaignStats>, Status> {
        reply(deliveries::stats(self, r).await)
    }
    async fn create_trigger(&self, r: Request<pb::CreateTriggerRequest>) -> Result<Response<pb::Trigger>, Status> {
        reply(triggers::create(self, r).await)
    }
    async fn get_trigger(&self, r: Request<pb::GetTriggerRequest>) -> Result<Response<pb::Trigger>, Status> {
        reply(triggers::get(self, r).await)
    }
    async fn update_trigger(&self, r: Request<pb::UpdateTriggerRequest>) -> Result<Response<pb::Trigger>, Status> {
        reply(triggers::update(self, r).await)
    }
    async fn delete_trigger(
        &self,
        r: Request<pb::DeleteTriggerRequest>,
    ) -> Result<Response<pb::DeleteTriggerResponse>, Status> {
        reply(triggers::delete(self, r).await)
    }
    async fn list_triggers(
        &self,
        r: Request<pb::ListTriggersRequest>,
    ) -> Result<Response<pb::ListTriggersResponse>, Status> {
        reply(triggers::list(self, r).await)
    }
    async fn record_client_event(
        &self,
        r: Request<pb::RecordClientEventRequest>,
    ) -> Result<Response<pb::RecordClientEventResponse>, Status> {
        reply(triggers::record_event(self, r).await)
    }
    async fn send_transactional(
        &self,
        r: Request<pb::SendTransactionalRequest>,
    ) -> Result<Response<pb::Delivery>, Status> {
        reply(notices::send(self, r).await)
    }
    async fn list_deliveries(
        &self,
        r: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        reply(deliveries::list(self, r).await)
    }
    async fn record_tracking(
        &self,
        r: Request<pb::RecordTrackingRequest>,
    ) -> Result<Response<pb::RecordTrackingResponse>, Status> {
        reply(receipts::tracking(self, r).await)
    }
    async fn record_delivery_receipt(
        &self,
        r: Request<pb::RecordDeliveryReceiptRequest>,
    ) -> Result<Response<pb::Delivery>, Status> {
        reply(receipts::receipt(self, r).await)
    }
    type WatchEventsStream = EventStream;
    async fn watch_events(&self, r: Request<WatchEventsRequest>) -> Result<Response<EventStream>, Status> {
        self.outbox.serve(r)
    }
}
