//! `loyalty campaigns …`: campaigns, their figures and deliveries, templates, and the email
//! provider, for operators (tables and local times) and scripts (`--json`).
use crate::connection::Connection;
use crate::format::{self, Tenant};
use crate::output::{Output, Table};
use loyalty_api::common::v1::{ContactChannel, PageRequest};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::messaging_service_client::MessagingServiceClient;

#[derive(clap::Args)]
pub struct CampaignsArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: CampaignsCommand,
}

#[derive(clap::Subcommand)]
pub enum CampaignsCommand {
    /// Campaigns, newest first, with their state.
    List,
    /// One campaign and its figures: audience, exclusions by reason, sent, opened, clicked, ...
    Show { campaign_id: String },
    /// Start a draft now (again for a paused one); a retried start changes nothing.
    Start { campaign_id: String },
    /// Stop taking new recipients; `start` resumes.
    Pause { campaign_id: String },
    /// Stop for good; recipients not yet sent to are left out as "cancelled".
    Cancel { campaign_id: String },
    /// Deliveries of a campaign, newest first.
    Deliveries {
        campaign_id: String,
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// Reusable content.
    Templates,
    /// Automatic mailings (birthday, points credited, segment entered, ...) with their figures.
    Triggers,
    /// Send email through this SMTP server (the password is read from a file and never shown).
    Smtp {
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 587)]
        port: i32,
        /// none, starttls or tls (default: by port, 465 tls, 587 starttls, else none).
        #[arg(long, default_value = "")]
        security: String,
        #[arg(long)]
        from: String,
        #[arg(long, default_value = "")]
        from_name: String,
        #[arg(long, default_value = "")]
        username: String,
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
        /// Messages per second at most (0: no limit).
        #[arg(long, default_value_t = 0)]
        rate: i32,
    },
}

fn state(c: &pb::Campaign) -> String {
    format::word(c.state().as_str_name(), "CAMPAIGN_STATE_")
}

fn percent(bp: i32) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

pub async fn run(args: CampaignsArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = MessagingServiceClient::new(args.connection.authed().await?);
    let tenant = Tenant::of(&args.connection).await;
    let campaign_table = |campaigns: &[pb::Campaign]| {
        let mut t = Table::new(&["id", "name", "state", "created", "started", "completed"]);
        for c in campaigns {
            t.row(vec![
                c.id.clone(),
                c.name.clone(),
                state(c),
                tenant.time(c.created_at.as_ref()),
                tenant.time(c.started_at.as_ref()),
                tenant.time(c.completed_at.as_ref()),
            ]);
        }
        t
    };
    match args.command {
        CampaignsCommand::List => {
            let r = api.list_campaigns(pb::ListCampaignsRequest::default()).await?.into_inner();
            let total = r.page.map(|p| p.total_size).unwrap_or_default();
            out.list(
                &r.campaigns,
                || campaign_table(&r.campaigns),
                &format!("{} of {total} campaigns", r.campaigns.len()),
            );
        }
        CampaignsCommand::Show { campaign_id } => {
            let c = api.get_campaign(pb::GetCampaignRequest { campaign_id: campaign_id.clone() }).await?.into_inner();
            let s = api.get_campaign_stats(pb::GetCampaignStatsRequest { campaign_id }).await?.into_inner();
            if out.json() {
                out.one(&c, String::new);
                out.one(&s, String::new);
                return Ok(());
            }
            let mut lines = vec![campaign_table(std::slice::from_ref(&c)).render().trim_end().to_string()];
            if !c.pause_reason.is_empty() {
                lines.push(format!("paused because: {}", c.pause_reason));
            }
            lines.push(format!("audience     {}", s.audience));
            let mut excluded: Vec<_> = s.excluded.iter().collect();
            excluded.sort();
            for (reason, n) in excluded {
                lines.push(format!("  left out  {n} {}", reason.replace('_', " ")));
            }
            lines.push(format!("queued       {}", s.queued));
            lines.push(format!("sent         {}   failed {}", s.sent, s.failed));
            lines.push(format!("opened       {}   ({})", s.opened, percent(s.open_rate_bp)));
            lines.push(format!("clicked      {}   ({})", s.clicked, percent(s.click_rate_bp)));
            lines.push(format!("converted    {}   ({})", s.converted, percent(s.conversion_rate_bp)));
            lines.push(format!("unsubscribed {}   ({})", s.unsubscribed, percent(s.unsubscribe_rate_bp)));
            println!("{}", lines.join("\n"));
        }
        CampaignsCommand::Start { campaign_id } => {
            let request = pb::StartCampaignRequest { campaign_id, ..Default::default() };
            let c = api.start_campaign(request).await?.into_inner();
            out.one(&c, || format!("{} is {}", c.name, state(&c)));
        }
        CampaignsCommand::Pause { campaign_id } => {
            let c = api.pause_campaign(pb::PauseCampaignRequest { campaign_id }).await?.into_inner();
            out.one(&c, || format!("{} is {}", c.name, state(&c)));
        }
        CampaignsCommand::Cancel { campaign_id } => {
            let c = api.cancel_campaign(pb::CancelCampaignRequest { campaign_id }).await?.into_inner();
            out.one(&c, || format!("{} is {}", c.name, state(&c)));
        }
        CampaignsCommand::Deliveries { campaign_id, limit } => {
            let page = Some(PageRequest { page_size: limit, ..Default::default() });
            let r = api
                .list_deliveries(pb::ListDeliveriesRequest { campaign_id, page, ..Default::default() })
                .await?
                .into_inner();
            let mut t = Table::new(&["client", "address", "status", "attempts", "sent", "failure"]);
            for d in &r.deliveries {
                t.row(vec![
                    d.client_id.clone(),
                    d.address.clone(),
                    format::word(d.status().as_str_name(), "DELIVERY_STATUS_"),
                    d.attempts.to_string(),
                    tenant.time(d.sent_at.as_ref()),
                    d.failure_reason.clone(),
                ]);
            }
            let total = r.page.map(|p| p.total_size).unwrap_or_default();
            out.list(&r.deliveries, || t, &format!("{} of {total} deliveries", r.deliveries.len()));
        }
        CampaignsCommand::Templates => {
            let r = api.list_templates(pb::ListTemplatesRequest {}).await?.into_inner();
            let mut t = Table::new(&["id", "name", "channel", "updated"]);
            for template in &r.templates {
                let channel = template.content.as_ref().map(|c| c.channel()).unwrap_or(ContactChannel::Unspecified);
                t.row(vec![
                    template.id.clone(),
                    template.name.clone(),
                    format::word(channel.as_str_name(), "CONTACT_CHANNEL_"),
                    tenant.time(template.updated_at.as_ref()),
                ]);
            }
            out.list(&r.templates, || t, &format!("{} templates", r.templates.len()));
        }
        CampaignsCommand::Triggers => {
            let r = api.list_triggers(pb::ListTriggersRequest {}).await?.into_inner();
            let mut t = Table::new(&["id", "name", "kind", "on", "sent", "opened", "clicked"]);
            for trigger in &r.triggers {
                let s = trigger.stats.clone().unwrap_or_default();
                t.row(vec![
                    trigger.id.clone(),
                    trigger.name.clone(),
                    format::word(trigger.kind().as_str_name(), "TRIGGER_KIND_"),
                    if trigger.enabled { "yes".into() } else { "no".into() },
                    s.sent.to_string(),
                    s.opened.to_string(),
                    s.clicked.to_string(),
                ]);
            }
            out.list(&r.triggers, || t, &format!("{} triggers", r.triggers.len()));
        }
        CampaignsCommand::Smtp { host, port, security, from, from_name, username, password_file, rate } => {
            let security = match security.as_str() {
                "" => pb::SmtpSecurity::Unspecified,
                "none" => pb::SmtpSecurity::None,
                "starttls" => pb::SmtpSecurity::Starttls,
                "tls" => pb::SmtpSecurity::Tls,
                other => anyhow::bail!(tonic::Status::invalid_argument(format!(
                    "--security {other:?}: use none, starttls or tls"
                ))),
            };
            let password = match password_file {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("--password-file {}: {e}", path.display()))?
                    .trim()
                    .to_string(),
                None => String::new(),
            };
            let smtp = pb::SmtpSettings {
                host,
                port,
                security: security as i32,
                from_address: from,
                from_name,
                username,
                password,
                ..Default::default()
            };
            let provider = pb::ChannelProvider {
                channel: ContactChannel::Email as i32,
                settings: Some(pb::channel_provider::Settings::Smtp(smtp)),
                rate_per_second: rate,
                enabled: true,
                ..Default::default()
            };
            let p = api
                .set_channel_provider(pb::SetChannelProviderRequest { provider: Some(provider) })
                .await?
                .into_inner();
            out.one(&p, || "email goes through this SMTP server now".to_string());
        }
    }
    Ok(())
}
