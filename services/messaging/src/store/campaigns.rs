//! Campaigns and their runs (ME-2, ME-4).
use super::GenericClient;
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::TenantId;
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

/// A campaign as stored: what its author wrote, and where it is.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: Uuid,
    /// Audience, body, schedule, name, conversion window (output fields empty).
    pub definition: pb::Campaign,
    /// 'draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled'.
    pub state: String,
    pub channel: String,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub last_run_id: Option<Uuid>,
    pub pause_reason: String,
    /// The stores of whoever started it (JSON list), empty when unscoped.
    pub started_by: String,
    /// When a scheduled or recurring campaign next runs.
    pub next_run_at: Option<OffsetDateTime>,
}

const COLUMNS: &str = "campaign_id, definition, state, channel, created_at, started_at, completed_at, last_run_id, \
     pause_reason, started_by, next_run_at";

fn row(r: &tokio_postgres::Row) -> anyhow::Result<Row> {
    let bytes: Vec<u8> = r.get(1);
    Ok(Row {
        id: r.get(0),
        definition: pb::Campaign::decode(&bytes[..])?,
        state: r.get(2),
        channel: r.get(3),
        created_at: r.get(4),
        started_at: r.get(5),
        completed_at: r.get(6),
        last_run_id: r.get(7),
        pause_reason: r.get(8),
        started_by: r.get(9),
        next_run_at: r.get(10),
    })
}

pub async fn insert(db: &impl GenericClient, tenant: &TenantId, c: &Row) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO campaigns (tenant_id, campaign_id, definition, state, channel, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&tenant.as_str(), &c.id, &c.definition.encode_to_vec(), &c.state, &c.channel, &c.created_at],
    )
    .await?;
    Ok(())
}

pub async fn save_definition(db: &impl GenericClient, tenant: &TenantId, c: &Row) -> anyhow::Result<()> {
    db.execute(
        "UPDATE campaigns SET definition = $3, channel = $4 WHERE tenant_id = $1 AND campaign_id = $2",
        &[&tenant.as_str(), &c.id, &c.definition.encode_to_vec(), &c.channel],
    )
    .await?;
    Ok(())
}

pub async fn load(db: &impl GenericClient, tenant: &str, id: Uuid, lock: bool) -> anyhow::Result<Option<Row>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 AND campaign_id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    db.query_opt(&sql, &[&tenant, &id]).await?.map(|r| row(&r)).transpose()
}

/// A page of a tenant's campaigns in `states` (all when empty), newest first, and how many match.
pub async fn list(
    db: &impl GenericClient,
    tenant: &TenantId,
    states: &[String],
    offset: i64,
    limit: i64,
) -> anyhow::Result<(Vec<Row>, i64)> {
    let sql = format!(
        "SELECT {COLUMNS}, count(*) OVER () FROM campaigns WHERE tenant_id = $1 AND (cardinality($2::text[]) = 0 OR state = ANY($2)) \
         ORDER BY created_at DESC, campaign_id OFFSET $3 LIMIT $4"
    );
    let rows = db.query(&sql, &[&tenant.as_str(), &states, &offset, &limit]).await?;
    let total = rows.first().map(|r| r.get::<_, i64>(11)).unwrap_or(0);
    Ok((rows.iter().map(row).collect::<anyhow::Result<_>>()?, total))
}

pub async fn set_state(
    db: &impl GenericClient,
    tenant: &str,
    id: Uuid,
    state: &str,
    pause_reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE campaigns SET state = $3, pause_reason = $4, \
           completed_at = CASE WHEN $3 IN ('completed', 'cancelled') THEN $5 ELSE completed_at END \
         WHERE tenant_id = $1 AND campaign_id = $2",
        &[&tenant, &id, &state, &pause_reason, &now],
    )
    .await?;
    Ok(())
}

/// A run of a campaign.
#[derive(Clone, Debug)]
pub struct Run {
    pub tenant: String,
    pub id: Uuid,
    pub campaign_id: Uuid,
    /// 'snapshotting', 'sending', 'paused', 'completed', 'cancelled'.
    pub state: String,
    pub content: pb::Content,
    pub channel: String,
    pub conversion_window_days: i32,
}

/// Starts run `run` of `c`: the run row, and the campaign pointing at it.
pub async fn start_run(
    db: &impl GenericClient,
    tenant: &TenantId,
    c: &Row,
    run: Uuid,
    content: &pb::Content,
    started_by: &str,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO runs (tenant_id, run_id, campaign_id, state, content, channel, started_at) \
         VALUES ($1, $2, $3, 'snapshotting', $4, $5, $6)",
        &[&tenant.as_str(), &run, &c.id, &content.encode_to_vec(), &c.channel, &now],
    )
    .await?;
    db.execute(
        "UPDATE campaigns SET last_run_id = $3, started_at = $4, started_by = $5, pause_reason = '' \
         WHERE tenant_id = $1 AND campaign_id = $2",
        &[&tenant.as_str(), &c.id, &run, &now, &started_by],
    )
    .await?;
    Ok(())
}

pub async fn set_run_state(
    db: &impl GenericClient,
    tenant: &str,
    run: Uuid,
    state: &str,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE runs SET state = $3, completed_at = CASE WHEN $3 IN ('completed', 'cancelled') THEN $4 ELSE completed_at END \
         WHERE tenant_id = $1 AND run_id = $2",
        &[&tenant, &run, &state, &now],
    )
    .await?;
    Ok(())
}

pub async fn set_audience(db: &impl GenericClient, tenant: &TenantId, run: Uuid) -> anyhow::Result<i64> {
    let row = db
        .query_one(
            "UPDATE runs SET audience = (SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND run_id = $2), state = 'sending' \
             WHERE tenant_id = $1 AND run_id = $2 RETURNING audience",
            &[&tenant.as_str(), &run],
        )
        .await?;
    Ok(row.get(0))
}

/// Every run with messages to send, of every tenant, oldest first.
pub async fn sending(db: &impl GenericClient) -> anyhow::Result<Vec<Run>> {
    let rows = db
        .query(
            "SELECT r.tenant_id, r.run_id, r.campaign_id, r.state, r.content, r.channel, c.definition \
             FROM runs r JOIN campaigns c USING (tenant_id, campaign_id) WHERE r.state = 'sending' ORDER BY r.started_at",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let content: Vec<u8> = r.get(4);
            let definition: Vec<u8> = r.get(6);
            Ok(Run {
                tenant: r.get(0),
                id: r.get(1),
                campaign_id: r.get(2),
                state: r.get(3),
                content: pb::Content::decode(&content[..])?,
                channel: r.get(5),
                conversion_window_days: pb::Campaign::decode(&definition[..])?.conversion_window_days,
            })
        })
        .collect()
}

/// The run of `campaign` still taking its audience snapshot, if any.
pub async fn snapshotting(db: &impl GenericClient, tenant: &TenantId, campaign: Uuid) -> anyhow::Result<Option<Uuid>> {
    Ok(db
        .query_opt(
            "SELECT run_id FROM runs WHERE tenant_id = $1 AND campaign_id = $2 AND state = 'snapshotting'",
            &[&tenant.as_str(), &campaign],
        )
        .await?
        .map(|r| r.get(0)))
}

/// The content run `run` sends.
pub async fn run_content(db: &impl GenericClient, tenant: &str, run: Uuid) -> anyhow::Result<Option<pb::Content>> {
    let row = db.query_opt("SELECT content FROM runs WHERE tenant_id = $1 AND run_id = $2", &[&tenant, &run]).await?;
    row.map(|r| Ok(pb::Content::decode(&r.get::<_, Vec<u8>>(0)[..])?)).transpose()
}

/// Scheduled campaigns of every tenant whose time has come, oldest first.
pub async fn due(db: &impl GenericClient, now: OffsetDateTime) -> anyhow::Result<Vec<(String, Uuid)>> {
    let rows = db
        .query(
            "SELECT tenant_id, campaign_id FROM campaigns WHERE state = 'scheduled' AND next_run_at <= $1 \
             ORDER BY next_run_at LIMIT 20",
            &[&now],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The campaign, locked, if it is still scheduled and due (another replica may have started it).
pub async fn load_due(
    db: &impl GenericClient,
    tenant: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> anyhow::Result<Option<Row>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 AND campaign_id = $2 AND state = 'scheduled' \
         AND next_run_at <= $3 FOR UPDATE SKIP LOCKED"
    );
    db.query_opt(&sql, &[&tenant, &id, &now]).await?.map(|r| row(&r)).transpose()
}

pub async fn set_next_run(
    db: &impl GenericClient,
    tenant: &str,
    id: Uuid,
    at: Option<OffsetDateTime>,
) -> anyhow::Result<()> {
    db.execute("UPDATE campaigns SET next_run_at = $3 WHERE tenant_id = $1 AND campaign_id = $2", &[&tenant, &id, &at])
        .await?;
    Ok(())
}

/// Back to "scheduled", next at `at` (a run that could not start, the next occurrence of a recurring one).
pub async fn reschedule(db: &impl GenericClient, tenant: &str, id: Uuid, at: OffsetDateTime) -> anyhow::Result<()> {
    db.execute(
        "UPDATE campaigns SET state = 'scheduled', next_run_at = $3 WHERE tenant_id = $1 AND campaign_id = $2",
        &[&tenant, &id, &at],
    )
    .await?;
    Ok(())
}

/// Whoever scheduled it (their stores as JSON, empty for the whole chain), kept with the campaign.
pub async fn schedule(
    db: &impl GenericClient,
    tenant: &str,
    id: Uuid,
    at: OffsetDateTime,
    started_by: &str,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE campaigns SET state = 'scheduled', next_run_at = $3, started_by = $4, pause_reason = '' \
         WHERE tenant_id = $1 AND campaign_id = $2",
        &[&tenant, &id, &at, &started_by],
    )
    .await?;
    Ok(())
}

/// Where run `run` is ('sending', 'paused', ...), if it exists.
pub async fn run_state(db: &impl GenericClient, tenant: &str, run: Uuid) -> anyhow::Result<Option<String>> {
    let row = db.query_opt("SELECT state FROM runs WHERE tenant_id = $1 AND run_id = $2", &[&tenant, &run]).await?;
    Ok(row.map(|r| r.get(0)))
}
