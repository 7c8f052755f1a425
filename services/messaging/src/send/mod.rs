//! The sender (ME-6, ME-7): one replica at a time (a session advisory lock) takes each sending
//! run's queued recipients in batches. For each batch it applies the send-time rules, renders,
//! commits the intents (address and message id), hands the messages to the provider at its rate
//! and concurrency, notes each acceptance in the journal, then commits the outcomes. Killed at any
//! point, the next sender resends only what no provider accepted.
mod batch;
pub mod http;
pub mod journal;
mod notices;
pub mod smtp;
pub mod wire;

use crate::config::MessagingSettings;
use crate::domain::content::{self, Prepared};
use crate::domain::links::{Action, Signer};
use crate::domain::rules::Channel;
use crate::domain::secrets::Sealer;
use crate::store::{campaigns, contacts, deliveries, providers};
use anyhow::Context;
use journal::Journal;
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::clock::SharedClock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One message on its way to a provider.
pub struct Outgoing {
    pub delivery: Uuid,
    pub client: Uuid,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub text: String,
    pub sender_name: String,
    pub message_id: String,
    pub unsubscribe_url: String,
}

pub enum Outcome {
    /// The provider took it, under this id.
    Accepted(String),
    /// Refused; `permanent` when sending again cannot help (a 5xx, a malformed address);
    /// `unreachable` when the recipient left the channel (a Telegram user who blocked the bot).
    Refused { reason: String, permanent: bool, unreachable: bool },
}

/// A channel's provider, ready to send.
pub enum Provider {
    Smtp(smtp::Smtp),
    Gateway(http::Gateway),
    Telegram(http::Telegram),
    Push(http::Push),
}

impl Provider {
    async fn send(&self, m: &Outgoing) -> Outcome {
        match self {
            Provider::Smtp(s) => s.send(m).await,
            Provider::Gateway(g) => g.send(m).await,
            Provider::Telegram(t) => t.send(m).await,
            Provider::Push(p) => p.send(m).await,
        }
    }
}

/// The HTTP client the gateways share.
fn web() -> anyhow::Result<reqwest::Client> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    let built = http::client()?;
    Ok(CLIENT.get_or_init(|| built).clone())
}

/// A provider built from stored settings, with what limits it.
pub struct Ready {
    provider: Provider,
    concurrency: usize,
    max_attempts: i32,
    enabled: bool,
    pace: Pace,
}

impl Ready {
    pub async fn send(&self, m: &Outgoing) -> Outcome {
        self.provider.send(m).await
    }
}

/// Builds the provider `stored` describes (its secret opened with `sealer`).
pub fn build(stored: &providers::Stored, tenant: &str, sealer: &Sealer) -> anyhow::Result<Ready> {
    let p = &stored.provider;
    let concurrency = if p.concurrency > 0 { p.concurrency as u32 } else { 8 };
    let secret = match &stored.sealed_secret {
        Some(sealed) => String::from_utf8(sealer.open(&bound_to(tenant, p.channel), sealed)?)?,
        None => String::new(),
    };
    let provider = match &p.settings {
        Some(pb::channel_provider::Settings::Smtp(s)) => Provider::Smtp(smtp::Smtp::new(s, &secret)?),
        Some(pb::channel_provider::Settings::SmsGateway(g)) => {
            Provider::Gateway(http::Gateway::new(web()?, g, &secret))
        }
        Some(pb::channel_provider::Settings::Telegram(t)) => {
            Provider::Telegram(http::Telegram::new(web()?, t, &secret))
        }
        Some(pb::channel_provider::Settings::PushGateway(g)) => Provider::Push(http::Push::new(web()?, g, &secret)),
        None => anyhow::bail!("the provider has no settings"),
    };
    Ok(Ready {
        provider,
        concurrency: concurrency as usize,
        pace: Pace::new(p.rate_per_second.max(0) as u32),
        max_attempts: if p.max_attempts > 0 { p.max_attempts } else { 3 },
        enabled: p.enabled,
    })
}

/// What a sealed secret is bound to: its tenant and channel.
pub fn bound_to(tenant: &str, channel: i32) -> String {
    format!("{tenant}/{channel}")
}

/// A provider built from the settings saved at a time.
type Built = (time::OffsetDateTime, Arc<Ready>);

pub struct Sender {
    pool: deadpool_postgres::Pool,
    connect: (loyalty_platform::config::DatabaseSettings, String),
    settings: MessagingSettings,
    sealer: Sealer,
    signer: Signer,
    clock: SharedClock,
    journal: Arc<Journal>,
    /// Providers built, by tenant and channel, with the settings time they were built from.
    ready: Mutex<HashMap<(String, String), Built>>,
    /// Provider errors in a row, by run.
    errors_in_a_row: Mutex<HashMap<Uuid, u32>>,
    /// Takes a recipient who left a channel (blocked the bot) off it.
    unsubscriber: crate::consent::Unsubscriber,
    /// The last delivery claimed, by run: the next batch starts after it.
    cursors: Mutex<HashMap<Uuid, Uuid>>,
}

impl Sender {
    pub fn new(
        kit: &loyalty_platform::service::ServiceKit,
        settings: MessagingSettings,
        (sealer, signer, unsubscriber): (Sealer, Signer, crate::consent::Unsubscriber),
        clock: SharedClock,
    ) -> anyhow::Result<Sender> {
        let dir = if settings.journal_dir.is_empty() {
            let place = format!("{}/{}", kit.settings.database.url.expose(), kit.schema);
            std::env::temp_dir().join(format!("loyalty-messaging-journal-{:016x}", fnv(&place)))
        } else {
            settings.journal_dir.clone().into()
        };
        Ok(Sender {
            pool: kit.pool.clone(),
            connect: (kit.settings.database.clone(), kit.schema.clone()),
            journal: Arc::new(Journal::new(dir)?),
            settings,
            sealer,
            signer,
            clock,
            ready: Mutex::default(),
            errors_in_a_row: Mutex::default(),
            unsubscriber,
            cursors: Mutex::default(),
        })
    }

    /// Sends until `stop`, taking the lead when no other replica holds it.
    pub async fn run(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(e) = self.lead(&stop).await {
                tracing::warn!(error = %format!("{e:#}"), "the sender stopped; starting again");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }

    async fn lead(&self, stop: &CancellationToken) -> anyhow::Result<()> {
        let leader = loyalty_platform::db::connect(&self.connect.0, &self.connect.1).await?;
        if !loyalty_platform::db::wait_for_lead(&leader, "loyalty.sender", stop).await? {
            return Ok(());
        }
        self.recover().await?;
        let every = Duration::from_millis(self.settings.send_every_ms.max(10));
        while !stop.is_cancelled() {
            let worked = self.pass().await?;
            if !worked {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(every) => {}
                }
            }
        }
        Ok(())
    }

    /// Settles what a sender that stopped mid-batch left: accepted (journal) → sent, the rest queued.
    async fn recover(&self) -> anyhow::Result<()> {
        let (accepted, files) = self.journal.left_over()?;
        let db = self.pool.get().await?;
        let (sent, requeued) = deliveries::recover(&db, &accepted).await?;
        for file in files {
            std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        }
        if sent + requeued > 0 {
            tracing::info!(sent, requeued, "settled the messages a stopped sender left in the middle");
        }
        Ok(())
    }

    /// One batch of every sending run; whether any work was done.
    pub async fn pass(&self) -> anyhow::Result<bool> {
        let runs = campaigns::sending(&self.pool.get().await?).await?;
        let mut worked = false;
        for run in runs {
            worked |= self.send_run(&run).await?;
        }
        worked |= self.notices().await?;
        Ok(worked)
    }

    async fn ready(&self, tenant: &str, channel: &str) -> anyhow::Result<Option<Arc<Ready>>> {
        let Some(stored) = providers::load(&self.pool.get().await?, tenant, channel).await? else { return Ok(None) };
        let key = (tenant.to_string(), channel.to_string());
        if let Some((at, ready)) = self.ready.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
            && *at == stored.updated_at
        {
            return Ok(Some(ready.clone()));
        }
        let ready = Arc::new(build(&stored, tenant, &self.sealer)?);
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).insert(key, (stored.updated_at, ready.clone()));
        Ok(Some(ready))
    }

    fn outgoing(
        &self,
        tenant: &str,
        prepared: &Prepared,
        delivery: Uuid,
        contact: &contacts::Contact,
        to: String,
    ) -> Outgoing {
        let token = self.signer.token(Action::Unsubscribe, tenant, delivery);
        let unsubscribe_url = format!("{}/u/{token}", self.settings.public_url.trim_end_matches('/'));
        let mut rendered = prepared.render(contact, &unsubscribe_url);
        if prepared.channel == Channel::Email {
            let base = self.settings.public_url.trim_end_matches('/');
            let click = self.signer.token(Action::Click, tenant, delivery);
            let pixel = format!("{base}/o/{}", self.signer.token(Action::Open, tenant, delivery));
            rendered.body =
                content::tracked(&rendered.body, &prepared.links, &|i| format!("{base}/c/{click}/{i}"), &pixel);
        }
        Outgoing {
            delivery,
            client: contact.client_id,
            to,
            subject: rendered.subject,
            body: rendered.body,
            text: rendered.text,
            sender_name: prepared.sender_name.clone(),
            message_id: format!("<{delivery}@{tenant}.loyalty>"),
            unsubscribe_url,
        }
    }

    /// Takes `client` off `channel`: the provider says they cannot be reached there any more.
    async fn unreachable(&self, tenant: &str, client: Uuid, channel: Channel) {
        let source = format!("{}_blocked", channel.name());
        if let Err(e) = self.unsubscriber.unsubscribe(tenant, client, channel, &source).await {
            tracing::warn!(error = %format!("{e:#}"), %client, "a recipient who left the channel was not unsubscribed");
        }
    }

    async fn pause(&self, run: &campaigns::Run, reason: &str) -> anyhow::Result<bool> {
        tracing::warn!(run = %run.id, reason, "pausing a campaign");
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let now = self.clock.now();
        campaigns::set_run_state(&tx, &run.tenant, run.id, "paused", now).await?;
        campaigns::set_state(&tx, &run.tenant, run.campaign_id, "paused", reason, now).await?;
        crate::api::campaigns::publish_change(&tx, &run.tenant, run.campaign_id).await?;
        loyalty_platform::outbox::commit(tx).await?;
        self.errors_in_a_row.lock().unwrap_or_else(|p| p.into_inner()).remove(&run.id);
        Ok(false)
    }

    /// Completes the run once nobody is left to send to; its campaign completes, or, when it
    /// recurs, is scheduled for its next occurrence.
    async fn finish_if_done(&self, run: &campaigns::Run) -> anyhow::Result<bool> {
        let mut db = self.pool.get().await?;
        if deliveries::unsettled(&db, &run.tenant, run.id).await? > 0 {
            return Ok(false);
        }
        let zone = contacts::tenant_zone(&db, &run.tenant).await?;
        let tx = db.transaction().await?;
        let now = self.clock.now();
        campaigns::set_run_state(&tx, &run.tenant, run.id, "completed", now).await?;
        let campaign = campaigns::load(&tx, &run.tenant, run.campaign_id, true).await?;
        let schedule = campaign.as_ref().filter(|c| c.state == "running").and_then(|c| c.definition.schedule.as_ref());
        match crate::schedule::recurring(schedule).then(|| crate::schedule::next_run(schedule, now, &zone)).flatten() {
            Some(next) => campaigns::reschedule(&tx, &run.tenant, run.campaign_id, next).await?,
            None if campaign.as_ref().is_some_and(|c| c.state == "cancelled") => {}
            None => campaigns::set_state(&tx, &run.tenant, run.campaign_id, "completed", "", now).await?,
        }
        crate::api::campaigns::publish_change(&tx, &run.tenant, run.campaign_id).await?;
        loyalty_platform::outbox::commit(tx).await?;
        Ok(false)
    }
}

/// Spaces hand-overs to at most `rate` a second (a sliding window of one slot per 1/rate s).
struct Pace {
    gap: Option<Duration>,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pace {
    fn new(rate: u32) -> Pace {
        let gap = (rate > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(rate)));
        Pace { gap, next: tokio::sync::Mutex::new(tokio::time::Instant::now()) }
    }

    async fn wait(&self) {
        let Some(gap) = self.gap else { return };
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + gap;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
