//! `loyalty feeds …`: events a service parked because it could not apply them, and retrying them
//! once the cause is fixed. Needs a token with the right `ops.feeds`.
use crate::connection::Connection;
use crate::format::Tenant;
use crate::output::{Output, Table};
use loyalty_api::events::v1 as pb;
use loyalty_api::events::v1::feed_operations_client::FeedOperationsClient;

#[derive(clap::Args)]
pub struct FeedsArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: FeedsCommand,
}

#[derive(clap::Subcommand)]
pub enum FeedsCommand {
    /// Parked events of every consumer, oldest first.
    Parked {
        /// How many to show at most.
        #[arg(long, default_value_t = 100)]
        limit: i32,
    },
    /// Apply a parked event again; it leaves the list when it applies.
    Retry {
        /// The consuming service ("ledger").
        service: String,
        /// The feed it follows ("client").
        consumer: String,
        /// The event's sequence in that feed.
        sequence: i64,
    },
}

pub async fn run(args: FeedsArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = FeedOperationsClient::new(args.connection.authed().await?);
    let tenant = Tenant { zone: loyalty_platform::tz::TimeZone::UTC, currency: loyalty_platform::Currency::EUR };
    match args.command {
        FeedsCommand::Parked { limit } => {
            let r = api.list_parked_events(pb::ListParkedEventsRequest { limit }).await?.into_inner();
            let mut t = Table::new(&["parked (UTC)", "service", "feed", "sequence", "tenant", "kind", "reason"]);
            for e in &r.events {
                t.row(vec![
                    tenant.time(e.parked_at.as_ref()),
                    e.service.clone(),
                    e.consumer.clone(),
                    e.sequence.to_string(),
                    e.tenant_id.clone(),
                    e.kind.clone(),
                    e.reason.clone(),
                ]);
            }
            out.list(&r.events, || t, &format!("{} parked", r.events.len()));
        }
        FeedsCommand::Retry { service, consumer, sequence } => {
            let e =
                api.retry_parked_event(pb::RetryParkedEventRequest { service, consumer, sequence }).await?.into_inner();
            out.one(&e, || {
                format!("applied event {} of the {} feed in the {} service", e.sequence, e.consumer, e.service)
            });
        }
    }
    Ok(())
}
