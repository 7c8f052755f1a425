//! Reusable content (ME-3).
use super::GenericClient;
use loyalty_api::messaging::v1::Content;
use loyalty_platform::TenantId;
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

pub struct Stored {
    pub id: Uuid,
    pub name: String,
    pub content: Content,
    pub updated_at: OffsetDateTime,
}

pub async fn save(db: &impl GenericClient, tenant: &TenantId, t: &Stored) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO templates (tenant_id, template_id, name, content, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, template_id) DO UPDATE SET name = $3, content = $4, updated_at = $5",
        &[&tenant.as_str(), &t.id, &t.name, &t.content.encode_to_vec(), &t.updated_at],
    )
    .await?;
    Ok(())
}

pub async fn load(db: &impl GenericClient, tenant: &TenantId, id: Uuid, lock: bool) -> anyhow::Result<Option<Stored>> {
    let sql = format!(
        "SELECT template_id, name, content, updated_at FROM templates \
         WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    db.query_opt(&sql, &[&tenant.as_str(), &id]).await?.map(|r| stored(&r)).transpose()
}

pub async fn delete(db: &impl GenericClient, tenant: &TenantId, id: Uuid, now: OffsetDateTime) -> anyhow::Result<bool> {
    let n = db
        .execute(
            "UPDATE templates SET deleted_at = $3 WHERE tenant_id = $1 AND template_id = $2 AND deleted_at IS NULL",
            &[&tenant.as_str(), &id, &now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn list(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<Vec<Stored>> {
    let rows = db
        .query(
            "SELECT template_id, name, content, updated_at FROM templates \
             WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY name, template_id",
            &[&tenant.as_str()],
        )
        .await?;
    rows.iter().map(stored).collect()
}

fn stored(r: &tokio_postgres::Row) -> anyhow::Result<Stored> {
    let bytes: Vec<u8> = r.get(2);
    Ok(Stored { id: r.get(0), name: r.get(1), content: Content::decode(&bytes[..])?, updated_at: r.get(3) })
}
