//! The gRPC face of the segment service: decode, ask the read model, encode. No SQL here.
mod audience;
mod automatic;
mod customers;
mod dashboard;
mod filters;
mod members;
mod reports;
mod segments;

use crate::config::SegmentSettings;
use crate::model::{Model, Readiness};
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_api::segment::v1 as pb;
use loyalty_api::segment::v1::segment_service_server::SegmentService;
use loyalty_platform::clock::SharedClock;
use loyalty_platform::error::reply;
use loyalty_platform::outbox::Outbox;
use loyalty_platform::service::ServiceKit;
use std::pin::Pin;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct SegmentApi {
    outbox: Outbox,
    pool: deadpool_postgres::Pool,
    clock: SharedClock,
    model: Model,
    rebuilder: crate::rebuild::Rebuilder,
    settings: SegmentSettings,
}

impl SegmentApi {
    pub fn new(
        kit: &ServiceKit,
        clock: SharedClock,
        model: Model,
        rebuilder: crate::rebuild::Rebuilder,
        settings: SegmentSettings,
    ) -> Self {
        Self { outbox: kit.outbox.clone(), pool: kit.pool.clone(), clock, model, rebuilder, settings }
    }
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<Event, Status>> + Send>>;
type ProgressStream = Pin<Box<dyn futures::Stream<Item = Result<pb::RebuildProgress, Status>> + Send>>;
type IdStream = Pin<Box<dyn futures::Stream<Item = Result<pb::ClientIdBatch, Status>> + Send>>;

#[tonic::async_trait]
impl SegmentService for SegmentApi {
    async fn list_facts(&self, r: Request<pb::ListFactsRequest>) -> Result<Response<pb::ListFactsResponse>, Status> {
        reply(filters::list_facts(r))
    }
    async fn parse_filter(
        &self,
        r: Request<pb::ParseFilterRequest>,
    ) -> Result<Response<pb::ParseFilterResponse>, Status> {
        reply(filters::parse(r))
    }
    async fn format_filter(
        &self,
        r: Request<pb::FormatFilterRequest>,
    ) -> Result<Response<pb::FormatFilterResponse>, Status> {
        reply(filters::format(r))
    }
    async fn count_clients(
        &self,
        r: Request<pb::CountClientsRequest>,
    ) -> Result<Response<pb::CountClientsResponse>, Status> {
        reply(filters::count(self, r).await)
    }
    async fn list_matching_clients(
        &self,
        r: Request<pb::ListMatchingClientsRequest>,
    ) -> Result<Response<pb::ListMatchingClientsResponse>, Status> {
        reply(filters::list_matching(self, r).await)
    }
    type StreamClientIdsStream = IdStream;
    async fn stream_client_ids(&self, r: Request<pb::StreamClientIdsRequest>) -> Result<Response<IdStream>, Status> {
        reply(filters::stream_ids(self, r).await)
    }
    async fn get_client_facts(
        &self,
        r: Request<pb::GetClientFactsRequest>,
    ) -> Result<Response<pb::ClientFacts>, Status> {
        reply(filters::client_facts(self, r).await)
    }
    async fn create_segment(&self, r: Request<pb::CreateSegmentRequest>) -> Result<Response<pb::Segment>, Status> {
        reply(segments::create(self, r).await)
    }
    async fn get_segment(&self, r: Request<pb::GetSegmentRequest>) -> Result<Response<pb::Segment>, Status> {
        reply(segments::get(self, r).await)
    }
    async fn update_segment(&self, r: Request<pb::UpdateSegmentRequest>) -> Result<Response<pb::Segment>, Status> {
        reply(segments::update(self, r).await)
    }
    async fn delete_segment(
        &self,
        r: Request<pb::DeleteSegmentRequest>,
    ) -> Result<Response<pb::DeleteSegmentResponse>, Status> {
        reply(segments::delete(self, r).await)
    }
    async fn list_segments(
        &self,
        r: Request<pb::ListSegmentsRequest>,
    ) -> Result<Response<pb::ListSegmentsResponse>, Status> {
        reply(segments::list(self, r).await)
    }
    async fn refresh_segment(&self, r: Request<pb::RefreshSegmentRequest>) -> Result<Response<pb::Segment>, Status> {
        reply(members::refresh(self, r).await)
    }
    async fn modify_segment_members(
        &self,
        r: Request<pb::ModifySegmentMembersRequest>,
    ) -> Result<Response<pb::Segment>, Status> {
        reply(members::modify(self, r).await)
    }
    async fn get_segment_metrics(
        &self,
        r: Request<pb::GetSegmentMetricsRequest>,
    ) -> Result<Response<pb::SegmentMetrics>, Status> {
        reply(members::metrics(self, r).await)
    }
    async fn list_automatic_segments(
        &self,
        r: Request<pb::ListAutomaticSegmentsRequest>,
    ) -> Result<Response<pb::ListAutomaticSegmentsResponse>, Status> {
        reply(automatic::list(self, r).await)
    }
    async fn get_automatic_segment_settings(
        &self,
        r: Request<pb::GetAutomaticSegmentSettingsRequest>,
    ) -> Result<Response<pb::AutomaticSegmentSettings>, Status> {
        reply(automatic::get_settings(self, r).await)
    }
    async fn update_automatic_segment_settings(
        &self,
        r: Request<pb::UpdateAutomaticSegmentSettingsRequest>,
    ) -> Result<Response<pb::AutomaticSegmentSettings>, Status> {
        reply(automatic::update_settings(self, r).await)
    }
    async fn get_rfm_grid(&self, r: Request<pb::GetRfmGridRequest>) -> Result<Response<pb::RfmGrid>, Status> {
        reply(automatic::rfm_grid(self, r).await)
    }
    async fn get_dashboard(&self, r: Request<pb::GetDashboardRequest>) -> Result<Response<pb::Dashboard>, Status> {
        reply(dashboard::get(self, r).await)
    }
    async fn get_chart(&self, r: Request<pb::GetChartRequest>) -> Result<Response<pb::Chart>, Status> {
        reply(dashboard::get_chart(self, r).await)
    }
    async fn render_dashboard(
        &self,
        r: Request<pb::RenderDashboardRequest>,
    ) -> Result<Response<pb::RenderDashboardResponse>, Status> {
        reply(customers::render(self, r).await)
    }
    async fn get_customer_type_analytics(
        &self,
        r: Request<pb::GetCustomerTypeAnalyticsRequest>,
    ) -> Result<Response<pb::CustomerTypeAnalytics>, Status> {
        reply(customers::get(self, r).await)
    }
    async fn get_report(&self, r: Request<pb::GetReportRequest>) -> Result<Response<pb::Report>, Status> {
        reply(reports::get(self, r).await)
    }
    type RebuildReadModelStream = ProgressStream;
    async fn rebuild_read_model(
        &self,
        r: Request<pb::RebuildReadModelRequest>,
    ) -> Result<Response<ProgressStream>, Status> {
        reply(rebuild(self, r))
    }
    type WatchEventsStream = EventStream;
    async fn watch_events(&self, r: Request<WatchEventsRequest>) -> Result<Response<EventStream>, Status> {
        self.outbox.serve(r)
    }
}

/// Runs a rebuild and streams its progress, then this replica's loading until it answers again.
fn rebuild(
    api: &SegmentApi,
    r: Request<pb::RebuildReadModelRequest>,
) -> loyalty_platform::error::ApiResult<ProgressStream> {
    use pb::rebuild_progress::Stage;
    loyalty_platform::request::Caller::new(&r, None, api.clock.as_ref())?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let (rebuilder, model) = (api.rebuilder.clone(), api.model.clone());
    tokio::spawn(async move {
        let (facts, generation) = match rebuilder.run(&tx).await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "rebuilding the read model");
                let _ =
                    tx.send(Err(Status::internal("the rebuild failed; nothing changed (see the service's log)"))).await;
                return;
            }
        };
        let tell = |stage: Stage, done| pb::RebuildProgress {
            stage: stage as i32,
            done,
            total: facts,
            facts,
            ..Default::default()
        };
        // The replica's follower notices the new generation and loads the rebuilt table.
        let mut told = std::time::Instant::now();
        loop {
            let loaded = model.generation() == Some(generation);
            match model.readiness() {
                Readiness::Ready if loaded => break,
                _ if told.elapsed() >= std::time::Duration::from_secs(1) => {
                    told = std::time::Instant::now();
                    let done = if loaded { model.position().0 } else { 0 };
                    if tx.send(Ok(tell(Stage::Loading, done))).await.is_err() {
                        return;
                    }
                }
                _ => {}
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = tx.send(Ok(tell(Stage::Done, facts))).await;
    });
    let progress = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(Box::pin(progress))
}
