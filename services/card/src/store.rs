//! SQL of the card service, one function per query. Every query filters by tenant.
use crate::domain::{self, number::NumberingRule};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::card::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::db::cached::query;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

pub const CARD_COLUMNS: &str = "id, number, barcode, barcode_format, kind, template_id, issue_form_id, store_id, client_id, \
     status, wallet_link, tags, successor_card_id, status_reason, created_at, updated_at";

pub fn card(r: &Row) -> pb::Card {
    let id = |i: usize| r.get::<_, Option<Uuid>>(i).map(|u| u.to_string()).unwrap_or_default();
    pb::Card {
        id: r.get::<_, Uuid>(0).to_string(),
        number: r.get(1),
        barcode: r.get(2),
        barcode_format: domain::barcode_value(r.get(3)) as i32,
        kind: domain::kind_value(r.get(4)) as i32,
        template_id: id(5),
        issue_form_id: id(6),
        store_id: r.get(7),
        client_id: r.get::<_, Uuid>(8).to_string(),
        status: domain::status_value(r.get(9)) as i32,
        wallet_link: r.get(10),
        tags: r.get(11),
        successor_card_id: id(12),
        status_reason: r.get(13),
        created_at: Some(to_timestamp(r.get(14))),
        updated_at: Some(to_timestamp(r.get(15))),
    }
}

/// A card about to be written.
pub struct NewCard<'a> {
    pub id: Uuid,
    pub number: &'a str,
    pub barcode: &'a str,
    pub barcode_format: &'a str,
    pub kind: &'a str,
    pub template_id: Option<Uuid>,
    pub issue_form_id: Option<Uuid>,
    pub store_id: &'a str,
    pub client_id: Uuid,
    pub wallet_link: &'a str,
    pub tags: &'a [String],
    pub at: OffsetDateTime,
}

/// Inserts a card; `Ok(None)` when its number or barcode is taken.
pub async fn insert(db: &impl GenericClient, tenant: &str, c: &NewCard<'_>) -> anyhow::Result<Option<pb::Card>> {
    let rows = db
        .query(
            &format!(
                "INSERT INTO cards (tenant_id, id, number, barcode, barcode_format, kind, template_id, issue_form_id,
                                    store_id, client_id, wallet_link, tags, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
                 ON CONFLICT DO NOTHING RETURNING {CARD_COLUMNS}"
            ),
            &[
                &tenant,
                &c.id,
                &c.number,
                &c.barcode,
                &c.barcode_format,
                &c.kind,
                &c.template_id,
                &c.issue_form_id,
                &c.store_id,
                &c.client_id,
                &c.wallet_link,
                &c.tags,
                &c.at,
            ],
        )
        .await
        .context("issuing the card")?;
    Ok(rows.first().map(card))
}

pub async fn get(db: &impl GenericClient, tenant: &str, id: Uuid, lock: bool) -> anyhow::Result<Option<pb::Card>> {
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(query(db, &sql, &[&tenant, &id]).await.context("loading the card")?.first().map(card))
}

/// The POS path: one indexed lookup by number or by barcode.
pub async fn lookup(
    db: &impl GenericClient,
    tenant: &str,
    by_number: bool,
    key: &str,
) -> anyhow::Result<Option<pb::Card>> {
    let column = if by_number { "number" } else { "barcode" };
    let sql = format!("SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 AND {column} = $2");
    Ok(query(db, &sql, &[&tenant, &key]).await.context("looking the card up")?.first().map(card))
}

pub async fn of_client(db: &impl GenericClient, tenant: &str, client: Uuid) -> anyhow::Result<Vec<pb::Card>> {
    let sql =
        format!("SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 AND client_id = $2 ORDER BY created_at, id");
    Ok(query(db, &sql, &[&tenant, &client]).await.context("listing the client's cards")?.iter().map(card).collect())
}

/// Sets status (and reason, successor) of a card.
pub async fn set_status(
    db: &impl GenericClient,
    tenant: &str,
    id: Uuid,
    status: &str,
    reason: &str,
    successor: Option<Uuid>,
    at: OffsetDateTime,
) -> anyhow::Result<Option<pb::Card>> {
    let rows = db
        .query(
            &format!(
                "UPDATE cards SET status = $3, status_reason = $4, successor_card_id = coalesce($5, successor_card_id),
                     updated_at = $6
                 WHERE tenant_id = $1 AND id = $2 RETURNING {CARD_COLUMNS}"
            ),
            &[&tenant, &id, &status, &reason, &successor, &at],
        )
        .await
        .context("changing the card's status")?;
    Ok(rows.first().map(card))
}

/// Takes the next generated number of the tenant (locking its numbering row until commit).
pub async fn next_number(db: &impl GenericClient, tenant: &str) -> anyhow::Result<Option<String>> {
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

pub async fn rule(db: &impl GenericClient, tenant: &str) -> anyhow::Result<NumberingRule> {
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

pub async fn set_rule(db: &impl GenericClient, tenant: &str, rule: &NumberingRule) -> anyhow::Result<()> {
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

pub async fn get_template(db: &impl GenericClient, tenant: &str, id: Uuid) -> anyhow::Result<Option<pb::CardTemplate>> {
    let rows = db
        .query(
            &format!("SELECT {TEMPLATE_COLUMNS} FROM card_templates WHERE tenant_id = $1 AND id = $2"),
            &[&tenant, &id],
        )
        .await
        .context("loading the template")?;
    Ok(rows.first().map(template))
}

pub async fn put_template(db: &impl GenericClient, tenant: &str, id: Uuid, t: &pb::CardTemplate) -> anyhow::Result<()> {
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

/// One card of a bulk load.
pub struct LoadedCard {
    pub id: Uuid,
    pub number: String,
    pub client_id: Uuid,
    pub created_at: OffsetDateTime,
}

/// Writes many active physical cards with one binary COPY (benchmarks, migrations from another
/// system); the barcode is the number. Returns how many rows were written.
pub async fn copy_cards(
    db: &tokio_postgres::Client,
    tenant: &str,
    cards: impl IntoIterator<Item = LoadedCard>,
) -> anyhow::Result<u64> {
    use futures::pin_mut;
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    let sink = db
        .copy_in(
            "COPY cards (tenant_id, id, number, barcode, barcode_format, kind, client_id, created_at, updated_at)
             FROM STDIN BINARY",
        )
        .await
        .context("starting COPY")?;
    let types = [
        Type::TEXT,
        Type::UUID,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::UUID,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for c in cards {
        writer
            .as_mut()
            .write(&[
                &tenant,
                &c.id,
                &c.number,
                &c.number,
                &"code128",
                &"physical",
                &c.client_id,
                &c.created_at,
                &c.created_at,
            ])
            .await
            .context("writing a COPY row")?;
    }
    writer.finish().await.context("finishing COPY")
}
