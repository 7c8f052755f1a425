//! Tags (CL-6): the `tags` and `client_tags` tables.
use crate::store::GenericClient;
use anyhow::Context;
use loyalty_api::client::v1::Tag;
use loyalty_platform::TenantId;
use uuid::Uuid;

fn tag_from_row(r: &tokio_postgres::Row) -> Tag {
    Tag { id: r.get::<_, Uuid>(0).to_string(), name: r.get(1), colour: r.get(2), client_count: r.get(3) }
}

const TAG_SELECT: &str = "SELECT t.id, t.name, t.colour,
    (SELECT count(*) FROM client_tags ct WHERE ct.tenant_id = t.tenant_id AND ct.tag_id = t.id)
    FROM tags t";

/// Creates a tag; `None` when the name is taken (case-insensitively).
pub async fn create(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
    name: &str,
    colour: &str,
) -> anyhow::Result<Option<Tag>> {
    let n = db
        .execute(
            "INSERT INTO tags (tenant_id, id, name, name_key, colour) VALUES ($1, $2, $3, lower($3), $4) ON CONFLICT DO NOTHING",
            &[&tenant, &id, &name, &colour],
        )
        .await
        .context("creating the tag")?;
    if n == 0 {
        return Ok(None);
    }
    get(db, tenant, id).await
}

pub async fn get(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<Option<Tag>> {
    let row = db
        .query_opt(&format!("{TAG_SELECT} WHERE t.tenant_id = $1 AND t.id = $2"), &[&tenant, &id])
        .await
        .context("loading the tag")?;
    Ok(row.as_ref().map(tag_from_row))
}

pub async fn list(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<Vec<Tag>> {
    let rows = db
        .query(&format!("{TAG_SELECT} WHERE t.tenant_id = $1 ORDER BY t.name_key"), &[&tenant])
        .await
        .context("listing tags")?;
    Ok(rows.iter().map(tag_from_row).collect())
}

/// The tenant's tags with each one's count over the clients a store-scoped token sees (registered
/// or bought in one of `stores`).
pub async fn list_seen(db: &impl GenericClient, tenant: &TenantId, stores: &[String]) -> anyhow::Result<Vec<Tag>> {
    let rows = db
        .query(
            "SELECT t.id, t.name, t.colour,
                 (SELECT count(*) FROM client_tags ct JOIN clients c ON c.tenant_id = ct.tenant_id AND c.id = ct.client_id
                  WHERE ct.tenant_id = t.tenant_id AND ct.tag_id = t.id AND c.merged_into IS NULL
                    AND (c.registration_store_id = ANY($2) OR EXISTS (
                        SELECT 1 FROM purchase_stores ps
                        WHERE ps.tenant_id = c.tenant_id AND ps.client_id = c.id AND ps.store_id = ANY($2))))
             FROM tags t WHERE t.tenant_id = $1 ORDER BY t.name_key",
            &[&tenant, &stores],
        )
        .await
        .context("listing tags with scoped counts")?;
    Ok(rows.iter().map(tag_from_row).collect())
}

/// Another tag of the tenant has this name.
pub async fn name_taken(db: &impl GenericClient, tenant: &TenantId, name: &str, except: Uuid) -> anyhow::Result<bool> {
    let row = db
        .query_opt(
            "SELECT 1 FROM tags WHERE tenant_id = $1 AND name_key = lower($2) AND id <> $3",
            &[&tenant, &name, &except],
        )
        .await
        .context("checking the tag name")?;
    Ok(row.is_some())
}

pub async fn update(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
    name: &str,
    colour: &str,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE tags SET name = $3, name_key = lower($3), colour = $4 WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id, &name, &colour],
    )
    .await
    .context("updating the tag")?;
    Ok(())
}

/// Deletes a tag; returns the clients that carried it.
pub async fn delete(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<Option<Vec<Uuid>>> {
    let clients: Vec<Uuid> = db
        .query("DELETE FROM client_tags WHERE tenant_id = $1 AND tag_id = $2 RETURNING client_id", &[&tenant, &id])
        .await
        .context("untagging clients")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let n = db
        .execute("DELETE FROM tags WHERE tenant_id = $1 AND id = $2", &[&tenant, &id])
        .await
        .context("deleting the tag")?;
    Ok((n == 1).then_some(clients))
}

/// The ids among `ids` that are not tags of the tenant.
pub async fn unknown(db: &impl GenericClient, tenant: &TenantId, ids: &[Uuid]) -> anyhow::Result<Vec<Uuid>> {
    let rows = db
        .query(
            "SELECT u.id FROM unnest($2::uuid[]) AS u(id)
             WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.tenant_id = $1 AND t.id = u.id)",
            &[&tenant, &ids],
        )
        .await
        .context("checking tags")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Adds every tag to every client; returns the clients that gained a tag.
pub async fn add(
    db: &impl GenericClient,
    tenant: &TenantId,
    clients: &[Uuid],
    tags: &[Uuid],
) -> anyhow::Result<Vec<Uuid>> {
    let rows = db
        .query(
            "WITH added AS (
                 INSERT INTO client_tags (tenant_id, client_id, tag_id)
                 SELECT $1, c, t FROM unnest($2::uuid[]) AS c CROSS JOIN unnest($3::uuid[]) AS t
                 ON CONFLICT DO NOTHING RETURNING client_id)
             SELECT DISTINCT client_id FROM added",
            &[&tenant, &clients, &tags],
        )
        .await
        .context("adding tags")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Removes the tags from the clients; returns the clients that lost a tag.
pub async fn remove(
    db: &impl GenericClient,
    tenant: &TenantId,
    clients: &[Uuid],
    tags: &[Uuid],
) -> anyhow::Result<Vec<Uuid>> {
    let rows = db
        .query(
            "WITH removed AS (
                 DELETE FROM client_tags WHERE tenant_id = $1 AND client_id = ANY($2) AND tag_id = ANY($3)
                 RETURNING client_id)
             SELECT DISTINCT client_id FROM removed",
            &[&tenant, &clients, &tags],
        )
        .await
        .context("removing tags")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Removes every tag not in `keep` from the clients; returns the clients that lost one.
pub async fn remove_others(
    db: &impl GenericClient,
    tenant: &TenantId,
    clients: &[Uuid],
    keep: &[Uuid],
) -> anyhow::Result<Vec<Uuid>> {
    let rows = db
        .query(
            "WITH removed AS (
                 DELETE FROM client_tags WHERE tenant_id = $1 AND client_id = ANY($2) AND NOT (tag_id = ANY($3))
                 RETURNING client_id)
             SELECT DISTINCT client_id FROM removed",
            &[&tenant, &clients, &keep],
        )
        .await
        .context("replacing tags")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Tag ids of each client.
pub async fn of_clients(
    db: &impl GenericClient,
    tenant: &TenantId,
    clients: &[Uuid],
) -> anyhow::Result<Vec<(Uuid, Vec<Uuid>)>> {
    let rows = db
        .query(
            "SELECT c, coalesce(array_agg(ct.tag_id ORDER BY ct.tag_id) FILTER (WHERE ct.tag_id IS NOT NULL), '{}')
             FROM unnest($2::uuid[]) AS c
             LEFT JOIN client_tags ct ON ct.tenant_id = $1 AND ct.client_id = c
             GROUP BY c",
            &[&tenant, &clients],
        )
        .await
        .context("reading tags of clients")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
