//! One run's batches, in a pipeline of three: while one batch is with the provider, the one before
//! has its answers committed and the next one its rules, rendering and intents, so the database
//! and the SMTP connections work at once. A batch prepared for a run that then paused goes back to
//! the queue untouched.
use super::{Outcome, Ready, Sender};
use crate::domain::content;
use crate::domain::rules::{self, Channel};
use crate::store::{campaigns, caps, contacts, deliveries};
use anyhow::Context;
use futures::StreamExt;
use loyalty_platform::TenantId;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Messages whose intents are committed, ready for the provider.
pub(super) struct Batch {
    ready: Arc<Ready>,
    outgoing: Vec<super::Outgoing>,
}

/// A batch the provider answered, its acceptances noted, not yet committed.
struct Handed {
    ready: Arc<Ready>,
    outcomes: Vec<(Uuid, Uuid, Outcome)>,
    note: Arc<super::journal::Note>,
}

impl Sender {
    /// Sends `run` until it is done, paused or out of recipients whose turn has come; whether any
    /// batch went out.
    pub(super) async fn send_run(&self, run: &campaigns::Run) -> anyhow::Result<bool> {
        let mut prepared = self.prepare(run).await?;
        let mut handed: Option<Handed> = None;
        let mut worked = false;
        while prepared.is_some() || handed.is_some() {
            worked = true;
            let more = prepared.is_some();
            let settling = async {
                match handed.take() {
                    Some(h) => self.settle(run, h).await,
                    None => Ok(false),
                }
            };
            let handing = async {
                match prepared.take() {
                    Some(batch) => self.hand_over(run, batch).await.map(Some),
                    None => Ok(None),
                }
            };
            let preparing = async { if more { self.prepare(run).await } else { Ok(None) } };
            let (paused, now_handed, now_prepared) = tokio::join!(settling, handing, preparing);
            let (now_handed, now_prepared) = (now_handed?, now_prepared?);
            if paused? {
                // What went out is settled; what was only prepared goes back to the queue.
                if let Some(h) = now_handed {
                    self.settle(run, h).await?;
                }
                if let Some(unsent) = now_prepared {
                    let ids: Vec<Uuid> = unsent.outgoing.iter().map(|m| m.delivery).collect();
                    deliveries::requeue(&self.pool.get().await?, &run.tenant, &ids).await?;
                }
                break;
            }
            (handed, prepared) = (now_handed, now_prepared);
        }
        Ok(worked)
    }

    /// The next batch of `run`, its intents committed; None when the run is no longer sending or
    /// nobody is left (then the run completes).
    async fn prepare(&self, run: &campaigns::Run) -> anyhow::Result<Option<Batch>> {
        let now = self.clock.now();
        let tenant = TenantId::trusted(&run.tenant);
        let ready = match self.ready(&run.tenant, &run.channel).await {
            Ok(Some(ready)) if ready.enabled => ready,
            Ok(_) => {
                self.pause(run, &format!("the {} channel has no enabled provider", run.channel)).await?;
                return Ok(None);
            }
            Err(e) => {
                self.pause(run, &format!("the {} provider cannot be used: {e:#}", run.channel)).await?;
                return Ok(None);
            }
        };
        // Content that no longer checks (stored before a rule it breaks) pauses its run with the
        // reason; it must not stop the sender for every other run.
        let prepared = match content::prepare(Some(&run.content), "content", true) {
            Ok(prepared) => prepared,
            Err(v) => {
                self.pause(run, &format!("its content no longer checks: {v}")).await?;
                return Ok(None);
            }
        };
        let channel = Channel::parse(&run.channel).context("a run's channel")?;
        // The intents: who is left out and why, and what goes to whom.
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        if campaigns::run_state(&tx, &run.tenant, run.id).await?.as_deref() != Some("sending") {
            return Ok(None);
        }
        let limit = self.settings.batch.max(1);
        let after = self.cursors.lock().unwrap_or_else(|p| p.into_inner()).get(&run.id).copied();
        let mut claimed = deliveries::claim(&tx, &run.tenant, (run.id, after), limit, now).await?;
        if claimed.is_empty() && after.is_some() {
            // Past the end: once more from the start, for those waiting to be retried.
            claimed = deliveries::claim(&tx, &run.tenant, (run.id, None), limit, now).await?;
        }
        if let Some(last) = claimed.last() {
            self.cursors.lock().unwrap_or_else(|p| p.into_inner()).insert(run.id, last.delivery_id);
        }
        if claimed.is_empty() {
            tx.commit().await?;
            self.finish_if_done(run).await?;
            return Ok(None);
        }
        let ids: Vec<Uuid> = claimed.iter().map(|c| c.client_id).collect();
        let known: HashMap<Uuid, contacts::Contact> =
            contacts::load_many(&tx, &tenant, &ids).await?.into_iter().map(|c| (c.client_id, c)).collect();
        let cap = caps::load(&tx, &run.tenant).await?;
        let mut allowance = caps::Allowance::of(&tx, &run.tenant, (cap, channel.name()), &ids, now).await?;
        let (mut excluded, mut reasons, mut outgoing) = (Vec::new(), Vec::new(), Vec::new());
        for c in &claimed {
            let contact = known.get(&c.client_id);
            let allowed = rules::recipient(contact, channel, true)
                .and_then(|a| if allowance.admit(c.client_id) { Ok(a) } else { Err(rules::Exclusion::FrequencyCap) });
            match allowed {
                Err(why) => {
                    excluded.push(c.delivery_id);
                    reasons.push(why.reason());
                }
                Ok(address) => {
                    let contact = contact.cloned().unwrap_or_default();
                    outgoing.push(self.outgoing(&run.tenant, &prepared, c.delivery_id, &contact, address));
                    if let Some(last) = outgoing.last_mut() {
                        last.client = c.client_id;
                    }
                }
            }
        }
        deliveries::exclude(&tx, &run.tenant, &excluded, &reasons, now).await?;
        let sending: Vec<Uuid> = outgoing.iter().map(|m| m.delivery).collect();
        let addresses: Vec<String> = outgoing.iter().map(|m| m.to.clone()).collect();
        let message_ids: Vec<String> = outgoing.iter().map(|m| m.message_id.clone()).collect();
        let window = time::Duration::days(i64::from(if run.conversion_window_days > 0 {
            run.conversion_window_days
        } else {
            7
        }));
        deliveries::mark_sending(&tx, &run.tenant, (&sending, &addresses, &message_ids), now, now + window).await?;
        tx.commit().await?;
        Ok(Some(Batch { ready, outgoing }))
    }

    /// Hands `batch` to the provider at its rate and concurrency, noting each acceptance.
    async fn hand_over(&self, run: &campaigns::Run, batch: Batch) -> anyhow::Result<Handed> {
        let Batch { ready, outgoing } = batch;
        let note = Arc::new(self.journal.begin()?);
        let outcomes: Vec<(Uuid, Uuid, Outcome)> = futures::stream::iter(outgoing)
            .map(|m| {
                let (ready, note, tenant) = (ready.clone(), note.clone(), run.tenant.clone());
                async move {
                    ready.pace.wait().await;
                    let outcome = ready.provider.send(&m).await;
                    if let Outcome::Accepted(_) = outcome {
                        note.accepted(&tenant, m.delivery, time::OffsetDateTime::now_utc())?;
                    }
                    Ok::<_, anyhow::Error>((m.delivery, m.client, outcome))
                }
            })
            .buffer_unordered(ready.concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
        Ok(Handed { ready, outcomes, note })
    }

    /// Commits the provider's answers and counts its errors in a row (pausing the run at the limit).
    async fn settle(&self, run: &campaigns::Run, handed: Handed) -> anyhow::Result<bool> {
        let Handed { ready, outcomes, note } = handed;
        let now = self.clock.now();
        let (mut sent, mut transient, mut permanent) = (Vec::new(), Vec::new(), Vec::new());
        let mut in_a_row =
            self.errors_in_a_row.lock().unwrap_or_else(|p| p.into_inner()).get(&run.id).copied().unwrap_or(0);
        let mut last_error = String::new();
        let mut unreachable = Vec::new();
        for (id, client, outcome) in outcomes {
            match outcome {
                Outcome::Accepted(provider_id) => {
                    sent.push((id, provider_id));
                    in_a_row = 0;
                }
                Outcome::Refused { reason, permanent: true, unreachable: gone } => {
                    if gone {
                        unreachable.push(client);
                    }
                    permanent.push((id, reason));
                }
                Outcome::Refused { reason, permanent: false, .. } => {
                    in_a_row += 1;
                    last_error = reason.clone();
                    transient.push((id, reason));
                }
            }
        }
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        deliveries::mark_sent(&tx, &run.tenant, &sent, now).await?;
        deliveries::mark_refused(&tx, &run.tenant, &permanent, 0, now).await?;
        deliveries::mark_refused(&tx, &run.tenant, &transient, ready.max_attempts, now).await?;
        tx.commit().await?;
        match Arc::try_unwrap(note) {
            Ok(note) => note.end()?,
            Err(_) => anyhow::bail!("a batch's journal note is still in use after its hand-over"),
        }
        if let Some(channel) = Channel::parse(&run.channel) {
            for client in unreachable {
                self.unreachable(&run.tenant, client, channel).await;
            }
        }
        self.errors_in_a_row.lock().unwrap_or_else(|p| p.into_inner()).insert(run.id, in_a_row);
        if in_a_row >= self.settings.pause_after_errors.max(1) {
            self.pause(run, &format!("{in_a_row} provider errors in a row; the last: {last_error}")).await?;
            return Ok(true);
        }
        Ok(false)
    }
}
