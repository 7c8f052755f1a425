//! SQL of card templates, issue forms and the numbering rule.
use crate::domain::{self, number::NumberingRule};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::card::v1 as pb;
use loyalty_platform::TenantId;
use tokio_postgres::Row;
use uuid::Uuid;

/// Takes the next generated number of the tenant (locking its numbering row until commit).
pub async fn next_number(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<Option<String>> {
    db.execute("INSERT INTO numbering (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", &[&tenant]).await?;
    let row = db
        .query_one(
            "UPDATE numbering SET next_sequence = next_sequence + 1 WHERE tenant_id = $1
             RETURNING prefix, length, luhn, next_sequence - 1",
            &[&tenant],
        )
        .await
        .context("taking a card number")?;
    let rule = NumberingRule {
        prefix: row.get(0),
        length: usize::try_from(row.get::<_, i32>(1)).unwrap_or(13),
        luhn: row.get(2),
    };
    let sequence: i64 = row.get(3);
    Ok(rule.number(u64::try_from(sequence).unwrap_or(0)))
}

pub async fn rule(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<NumberingRule> {
    let row = db
        .query_opt("SELECT prefix, length, luhn FROM numbering WHERE tenant_id = $1", &[&tenant])
        .await
        .context("loading the numbering rule")?;
    Ok(match row {
        Some(r) => NumberingRule {
            prefix: r.get(0),
            length: usize::try_from(r.get::<_, i32>(1)).unwrap_or(13),
            luhn: r.get(2),
        },
        None => NumberingRule::default(),
    })
}

pub async fn set_rule(db: &impl GenericClient, tenant: &TenantId, rule: &NumberingRule) -> anyhow::Result<()> {
    let length = rule.length as i32;
    db.execute(
        "INSERT INTO numbering (tenant_id, prefix, length, luhn) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET prefix = $2, length = $3, luhn = $4",
        &[&tenant, &rule.prefix, &length, &rule.luhn],
    )
    .await
    .context("saving the numbering rule")?;
    Ok(())
}

pub fn template(r: &Row) -> pb::CardTemplate {
    pb::CardTemplate {
        id: r.get::<_, Uuid>(0).to_string(),
        name: r.get(1),
        kind: domain::kind_value(r.get(2)) as i32,
        background_colour: r.get(3),
        foreground_colour: r.get(4),
        logo_url: r.get(5),
        description: r.get(6),
        barcode_format: domain::barcode_value(r.get(7)) as i32,
    }
}

pub const TEMPLATE_COLUMNS: &str =
    "id, name, kind, background_colour, foreground_colour, logo_url, description, barcode_format";

pub async fn get_template(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
) -> anyhow::Result<Option<pb::CardTemplate>> {
    let rows = db
        .query(
            &format!("SELECT {TEMPLATE_COLUMNS} FROM card_templates WHERE tenant_id = $1 AND id = $2"),
            &[&tenant, &id],
        )
        .await
        .context("loading the template")?;
    Ok(rows.first().map(template))
}

pub async fn put_template(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
    t: &pb::CardTemplate,
) -> anyhow::Result<()> {
    let kind = domain::kind_name(t.kind).unwrap_or("physical");
    let format = domain::barcode_name(t.barcode_format);
    db.execute(
        "INSERT INTO card_templates (tenant_id, id, name, kind, background_colour, foreground_colour, logo_url, description, barcode_format)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, id) DO UPDATE SET name = $3, kind = $4, background_colour = $5, foreground_colour = $6,
             logo_url = $7, description = $8, barcode_format = $9",
        &[&tenant, &id, &t.name, &kind, &t.background_colour, &t.foreground_colour, &t.logo_url, &t.description, &format],
    )
    .await
    .context("saving the template")?;
    Ok(())
}

pub async fn list_templates(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<Vec<pb::CardTemplate>> {
    let rows = db
        .query(&format!("SELECT {TEMPLATE_COLUMNS} FROM card_templates WHERE tenant_id = $1 ORDER BY name"), &[&tenant])
        .await
        .context("listing templates")?;
    Ok(rows.iter().map(template).collect())
}

/// How many cards use template `id`.
pub async fn cards_using(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<i64> {
    let row = db
        .query_one("SELECT count(*) FROM cards WHERE tenant_id = $1 AND template_id = $2", &[&tenant, &id])
        .await
        .context("counting the template's cards")?;
    Ok(row.get(0))
}

pub async fn delete_template(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<()> {
    db.execute("DELETE FROM card_templates WHERE tenant_id = $1 AND id = $2", &[&tenant, &id])
        .await
        .context("deleting the template")?;
    Ok(())
}

/// Creates an issue form; `false` when the tenant has one of that name.
pub async fn insert_issue_form(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
    name: &str,
) -> anyhow::Result<bool> {
    let n = db
        .execute(
            "INSERT INTO issue_forms (tenant_id, id, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&tenant, &id, &name],
        )
        .await
        .context("creating the issue form")?;
    Ok(n == 1)
}

pub async fn list_issue_forms(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<Vec<pb::IssueForm>> {
    let rows = db
        .query("SELECT id, name FROM issue_forms WHERE tenant_id = $1 ORDER BY name", &[&tenant])
        .await
        .context("listing issue forms")?;
    Ok(rows.iter().map(|r| pb::IssueForm { id: r.get::<_, Uuid>(0).to_string(), name: r.get(1) }).collect())
}
