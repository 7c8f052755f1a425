//! SQL of the card service, one function per query. Every query filters by tenant.
pub mod bulk;
pub mod settings;

use crate::domain;
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::card::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::db::cached::query;
use loyalty_platform::{CardId, ClientId, TenantId};
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
    pub id: CardId,
    pub number: &'a str,
    pub barcode: &'a str,
    pub barcode_format: &'a str,
    pub kind: &'a str,
    pub template_id: Option<Uuid>,
    pub issue_form_id: Option<Uuid>,
    pub store_id: &'a str,
    pub client_id: ClientId,
    pub wallet_link: &'a str,
    pub tags: &'a [String],
    pub at: OffsetDateTime,
}

/// Inserts a card; `Ok(None)` when its number or barcode is taken.
pub async fn insert(db: &impl GenericClient, tenant: &TenantId, c: &NewCard<'_>) -> anyhow::Result<Option<pb::Card>> {
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

pub async fn get(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: CardId,
    lock: bool,
) -> anyhow::Result<Option<pb::Card>> {
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(query(db, &sql, &[&tenant, &id]).await.context("loading the card")?.first().map(card))
}

/// The POS path: one indexed lookup by number or by barcode.
pub async fn lookup(
    db: &impl GenericClient,
    tenant: &TenantId,
    by_number: bool,
    key: &str,
) -> anyhow::Result<Option<pb::Card>> {
    let column = if by_number { "number" } else { "barcode" };
    let sql = format!("SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 AND {column} = $2");
    Ok(query(db, &sql, &[&tenant, &key]).await.context("looking the card up")?.first().map(card))
}

pub async fn of_client(db: &impl GenericClient, tenant: &TenantId, client: ClientId) -> anyhow::Result<Vec<pb::Card>> {
    let sql =
        format!("SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 AND client_id = $2 ORDER BY created_at, id");
    Ok(query(db, &sql, &[&tenant, &client]).await.context("listing the client's cards")?.iter().map(card).collect())
}

/// Sets status (and reason, successor) of a card.
pub async fn set_status(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: CardId,
    status: &str,
    reason: &str,
    successor: Option<CardId>,
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

/// Whether the issue form `id` is one of the tenant's.
pub async fn issue_form_exists(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<bool> {
    let found = db
        .query_opt("SELECT 1 FROM issue_forms WHERE tenant_id = $1 AND id = $2", &[&tenant, &id])
        .await
        .context("looking the issue form up")?;
    Ok(found.is_some())
}

/// The number of card `id`, if it exists (a replaced card's successor, for the till's message).
pub async fn number_of(db: &impl GenericClient, tenant: &TenantId, id: CardId) -> anyhow::Result<Option<String>> {
    let row = query(db, "SELECT number FROM cards WHERE tenant_id = $1 AND id = $2", &[&tenant, &id])
        .await
        .context("reading a card number")?;
    Ok(row.first().map(|r| r.get(0)))
}

/// Moves every card of `merged` clients to `survivor` (a client merge); returns the moved cards.
pub async fn move_to_survivor(
    db: &impl GenericClient,
    tenant: &TenantId,
    survivor: ClientId,
    merged: &[ClientId],
) -> anyhow::Result<Vec<pb::Card>> {
    let rows = db
        .query(
            &format!(
                "UPDATE cards SET client_id = $2, updated_at = now() WHERE tenant_id = $1 AND client_id = ANY($3)
                 RETURNING {CARD_COLUMNS}"
            ),
            &[&tenant, &survivor, &merged],
        )
        .await
        .context("moving cards to the survivor")?;
    Ok(rows.iter().map(card).collect())
}

/// Clears what cards hold of an erased client's person (wallet links); returns the cards changed.
pub async fn forget_person(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
) -> anyhow::Result<Vec<pb::Card>> {
    let rows = db
        .query(
            &format!(
                "UPDATE cards SET wallet_link = '', updated_at = now()
                 WHERE tenant_id = $1 AND client_id = $2 AND wallet_link <> '' RETURNING {CARD_COLUMNS}"
            ),
            &[&tenant, &client],
        )
        .await
        .context("clearing the erased client's wallet links")?;
    Ok(rows.iter().map(card).collect())
}
