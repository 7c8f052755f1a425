//! The frequency cap (ME-2): the tenant's rule, and how many marketing messages each client got
//! on a channel lately.
use super::GenericClient;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// At most `messages` in any `days` days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cap {
    pub messages: i32,
    pub days: i32,
    pub updated_at: Option<OffsetDateTime>,
}

pub async fn load(db: &impl GenericClient, tenant: &str) -> anyhow::Result<Cap> {
    let row = db
        .query_opt("SELECT cap_messages, cap_days, rules_updated_at FROM tenants WHERE tenant_id = $1", &[&tenant])
        .await?;
    Ok(row.map(|r| Cap { messages: r.get(0), days: r.get(1), updated_at: r.get(2) }).unwrap_or_default())
}

pub async fn save(db: &impl GenericClient, tenant: &str, cap: &Cap) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO tenants (tenant_id, cap_messages, cap_days, rules_updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id) DO UPDATE SET cap_messages = $2, cap_days = $3, rules_updated_at = $4",
        &[&tenant, &cap.messages, &cap.days, &cap.updated_at],
    )
    .await?;
    Ok(())
}

/// What the cap still allows `clients` on one channel: the marketing messages each got (sent, or
/// on their way) in the cap's days before `now`, counted up as more are admitted.
pub struct Allowance {
    cap: Cap,
    counts: HashMap<Uuid, i64>,
}

impl Allowance {
    pub async fn of(
        db: &impl GenericClient,
        tenant: &str,
        (cap, channel): (Cap, &str),
        clients: &[Uuid],
        now: OffsetDateTime,
    ) -> anyhow::Result<Allowance> {
        if cap.messages <= 0 || clients.is_empty() {
            return Ok(Allowance { cap, counts: HashMap::new() });
        }
        let since = now - time::Duration::days(i64::from(cap.days.max(1)));
        let rows = db
            .query(
                "SELECT client_id, count(*) FROM deliveries \
                 WHERE tenant_id = $1 AND client_id = ANY($2) AND channel = $3 \
                   AND queued_at >= $4::timestamptz - interval '90 days' \
                   AND (campaign_id IS NOT NULL OR trigger_id IS NOT NULL) \
                   AND transport IN ('sending', 'sent', 'delivered') AND coalesce(sent_at, updated_at) >= $4 \
                 GROUP BY client_id",
                &[&tenant, &clients, &channel, &since],
            )
            .await?;
        Ok(Allowance { cap, counts: rows.iter().map(|r| (r.get(0), r.get(1))).collect() })
    }

    /// Whether one more message to `client` is within the cap (it is then counted).
    pub fn admit(&mut self, client: Uuid) -> bool {
        if self.cap.messages <= 0 {
            return true;
        }
        let n = self.counts.entry(client).or_insert(0);
        if *n >= i64::from(self.cap.messages) {
            return false;
        }
        *n += 1;
        true
    }
}
