//! Scheduled and recurring campaigns (ME-4): when a scheduled campaign's time comes, a run starts
//! under the messaging service's own identity, its audience kept to the stores of whoever
//! scheduled it. A recurring campaign goes back to "scheduled" when its run completes, so each
//! run is a new occurrence (next Monday's recipients get next Monday's message).
use crate::domain::cron::Cron;
use crate::store::{campaigns, contacts, deliveries};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::schedule::When;
use loyalty_api::segment::v1 as spb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use loyalty_platform::TenantId;
use loyalty_platform::clock::SharedClock;
use loyalty_platform::identity::ServiceIdentity;
use time::OffsetDateTime;
use uuid::Uuid;

/// When a campaign with `schedule` next runs after `now` in `zone`: None for "now".
pub fn next_run(
    schedule: Option<&pb::Schedule>,
    now: OffsetDateTime,
    zone: &jiff::tz::TimeZone,
) -> Option<OffsetDateTime> {
    match schedule.and_then(|s| s.when.as_ref())? {
        When::Immediately(_) => None,
        When::At(at) => loyalty_platform::convert::from_timestamp(at),
        When::Cron(text) => Cron::parse(text).ok()?.next_after(now, zone),
    }
}

pub fn recurring(schedule: Option<&pb::Schedule>) -> bool {
    matches!(schedule.and_then(|s| s.when.as_ref()), Some(When::Cron(_)))
}

pub struct Scheduler {
    pub pool: deadpool_postgres::Pool,
    pub segments: tonic::transport::Channel,
    pub identity: ServiceIdentity,
    pub clock: SharedClock,
}

impl Scheduler {
    /// Starts every campaign whose time has come; how many.
    pub async fn pass(&self) -> anyhow::Result<u64> {
        let now = self.clock.now();
        let due = campaigns::due(&self.pool.get().await?, now).await?;
        let mut started = 0;
        for (tenant, campaign) in due {
            match self.start(&tenant, campaign, now).await {
                Ok(true) => started += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), %campaign, "a scheduled run did not start; trying again in 30 s");
                    let db = self.pool.get().await?;
                    campaigns::reschedule(&db, &tenant, campaign, now + time::Duration::seconds(30)).await?;
                }
            }
        }
        Ok(started)
    }

    async fn start(&self, tenant: &str, id: Uuid, now: OffsetDateTime) -> anyhow::Result<bool> {
        let tenant_id = TenantId::trusted(tenant);
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let Some(c) = campaigns::load_due(&tx, tenant, id, now).await? else { return Ok(false) };
        let content =
            crate::api::campaigns::content_of(&tx, &tenant_id, &c).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let run = Uuid::now_v7();
        campaigns::start_run(&tx, &tenant_id, &c, run, &content, &c.started_by, now).await?;
        campaigns::set_state(&tx, tenant, id, "running", "", now).await?;
        campaigns::set_next_run(&tx, tenant, id, None).await?;
        crate::api::campaigns::publish_change(&tx, tenant, id).await?;
        loyalty_platform::outbox::commit(tx).await?;
        let stores: Option<Vec<String>> =
            (!c.started_by.is_empty()).then(|| serde_json::from_str(&c.started_by)).transpose()?;
        let mut segments = SegmentServiceClient::new(self.segments.clone());
        let request = spb::StreamClientIdsRequest { audience: c.definition.audience.clone() };
        let mut stream = segments.stream_client_ids(self.identity.request(tenant, request)?).await?.into_inner();
        while let Some(batch) = stream.message().await? {
            let mut ids: Vec<Uuid> = batch.client_ids.iter().filter_map(|id| Uuid::parse_str(id).ok()).collect();
            if let Some(stores) = &stores {
                // Only the clients the scheduling token could see (CL-11).
                let seen = contacts::load_many(&db, &tenant_id, &ids).await?;
                ids = seen.into_iter().filter(|c| c.seen_by(Some(stores))).map(|c| c.client_id).collect();
            }
            deliveries::add_recipients(&db, &tenant_id, (run, c.id, &c.channel), &ids, now).await?;
        }
        campaigns::set_audience(&db, &tenant_id, run).await?;
        Ok(true)
    }
}
