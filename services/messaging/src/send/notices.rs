//! Transactional notices (ME-5): a message to one client asked for by `SendTransactional` or by
//! the ledger's points-credited notice (LE-3), each kept as a delivery of its own occurrence (the
//! caller's idempotency key, or the event that asked for it), so a retried call or a replayed
//! event sends nothing twice. They skip marketing consent, never a block or an erasure. A
//! trigger's messages (ME-4) travel the same way with the campaign rules: marketing consent, an
//! unsubscribe link, tracked links and the open pixel.
use super::{Outcome, Outgoing, Sender};
use crate::domain::content;
use crate::domain::rules::{self, Channel};
use crate::store::{caps, contacts, deliveries};
use loyalty_platform::TenantId;
use prost::Message;
use std::collections::HashMap;
use uuid::Uuid;

impl Sender {
    /// One batch of waiting notices; whether there were any.
    pub(super) async fn notices(&self) -> anyhow::Result<bool> {
        let now = self.clock.now();
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let claimed = deliveries::claim_notices(&tx, 100, now).await?;
        if claimed.is_empty() {
            tx.commit().await?;
            return Ok(false);
        }
        // Every claimed client's contact, in one query per tenant.
        let mut known: HashMap<(String, Uuid), contacts::Contact> = HashMap::new();
        let mut by_tenant: HashMap<&str, Vec<Uuid>> = HashMap::new();
        for n in &claimed {
            by_tenant.entry(n.tenant.as_str()).or_default().push(n.client_id);
        }
        for (tenant, ids) in by_tenant {
            for c in contacts::load_many(&tx, &TenantId::trusted(tenant), &ids).await? {
                known.insert((tenant.to_string(), c.client_id), c);
            }
        }
        // The frequency cap over the triggers' messages, per tenant and channel.
        let mut marketing_by: HashMap<(&str, &str), Vec<Uuid>> = HashMap::new();
        for n in claimed.iter().filter(|n| n.trigger_id.is_some()) {
            marketing_by.entry((n.tenant.as_str(), n.channel.as_str())).or_default().push(n.client_id);
        }
        let mut allowances: HashMap<(String, String), caps::Allowance> = HashMap::new();
        for ((tenant, channel), ids) in marketing_by {
            let cap = caps::load(&tx, tenant).await?;
            let allowance = caps::Allowance::of(&tx, tenant, (cap, channel), &ids, now).await?;
            allowances.insert((tenant.to_string(), channel.to_string()), allowance);
        }
        let mut outgoing = Vec::new();
        for n in &claimed {
            let contact = known.remove(&(n.tenant.clone(), n.client_id));
            let channel = Channel::parse(&n.channel);
            let content = loyalty_api::messaging::v1::Content::decode(&n.content[..]).ok();
            let marketing = n.trigger_id.is_some();
            let prepared = content.as_ref().and_then(|c| content::prepare(Some(c), "content", marketing).ok());
            let (Some(channel), Some(prepared)) = (channel, prepared) else {
                deliveries::fail_unsent(&tx, &n.tenant, n.delivery_id, "the message's content does not check", now)
                    .await?;
                continue;
            };
            let allowance = allowances.get_mut(&(n.tenant.clone(), n.channel.clone()));
            let allowed = rules::recipient(contact.as_ref(), channel, marketing).and_then(|a| {
                if allowance.is_none_or(|allowance| allowance.admit(n.client_id)) {
                    Ok(a)
                } else {
                    Err(rules::Exclusion::FrequencyCap)
                }
            });
            match allowed {
                Err(why) => deliveries::exclude(&tx, &n.tenant, &[n.delivery_id], &[why.reason()], now).await?,
                Ok(address) => {
                    let contact = contact.unwrap_or_default();
                    let m = if marketing {
                        self.outgoing(&n.tenant, &prepared, n.delivery_id, &contact, address)
                    } else {
                        let rendered = prepared.render(&contact, "");
                        Outgoing {
                            delivery: n.delivery_id,
                            client: n.client_id,
                            to: address,
                            subject: rendered.subject,
                            body: rendered.body,
                            text: rendered.text,
                            sender_name: prepared.sender_name.clone(),
                            message_id: format!("<{}@{}.loyalty>", n.delivery_id, n.tenant),
                            unsubscribe_url: String::new(),
                        }
                    };
                    let ids = [n.delivery_id];
                    let (addresses, message_ids) = ([m.to.clone()], [m.message_id.clone()]);
                    deliveries::mark_sending(&tx, &n.tenant, (&ids, &addresses, &message_ids), now, now).await?;
                    outgoing.push((n.tenant.clone(), n.client_id, channel, m));
                }
            }
        }
        tx.commit().await?;
        let note = self.journal.begin()?;
        for (tenant, client, channel, m) in outgoing {
            let ready = match self.ready(&tenant, channel.name()).await {
                Ok(Some(ready)) if ready.enabled => ready,
                _ => {
                    let reason = format!("the {} channel has no enabled provider", channel.name());
                    deliveries::mark_refused(&db, &tenant, &[(m.delivery, reason)], 0, now).await?;
                    continue;
                }
            };
            ready.pace.wait().await;
            let outcome = ready.send(&m).await;
            let now = self.clock.now();
            match outcome {
                Outcome::Accepted(provider_id) => {
                    note.accepted(&tenant, m.delivery, time::OffsetDateTime::now_utc())?;
                    deliveries::mark_sent(&db, &tenant, &[(m.delivery, provider_id)], now).await?;
                }
                Outcome::Refused { reason, permanent, unreachable } => {
                    if unreachable {
                        self.unreachable(&tenant, client, channel).await;
                    }
                    let attempts = if permanent { 0 } else { ready.max_attempts };
                    deliveries::mark_refused(&db, &tenant, &[(m.delivery, reason)], attempts, now).await?;
                }
            }
        }
        note.end()?;
        Ok(true)
    }
}
