//! SQL of many cards at once: listing by filter, bulk change (CA-4), merge (CA-5), loading with COPY.
use super::{CARD_COLUMNS, card};
use crate::domain::filter::CardFilter;
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::card::v1 as pb;
use loyalty_platform::copy::CopyRow;
use loyalty_platform::{CardId, ClientId, TenantId};
use time::OffsetDateTime;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

type Param = Box<dyn ToSql + Sync + Send>;

/// A filter as SQL: the WHERE clause ($1 is the tenant) and its parameters.
pub struct Where {
    clause: String,
    params: Vec<Param>,
}

impl Where {
    pub fn of(f: &CardFilter) -> Self {
        let mut w = Where { clause: "tenant_id = $1".into(), params: Vec::new() };
        if !f.template_ids.is_empty() {
            w.and("template_id = ANY({})", Box::new(f.template_ids.clone()));
        }
        if !f.issue_form_ids.is_empty() {
            w.and("issue_form_id = ANY({})", Box::new(f.issue_form_ids.clone()));
        }
        if !f.kinds.is_empty() {
            w.and("kind = ANY({})", Box::new(f.kinds.clone()));
        }
        if !f.statuses.is_empty() {
            w.and("status = ANY({})", Box::new(f.statuses.clone()));
        }
        if !f.store_ids.is_empty() {
            w.and("store_id = ANY({})", Box::new(f.store_ids.clone()));
        }
        if let Some(client) = f.client_id {
            w.and("client_id = {}", Box::new(client));
        }
        if let Some(start) = f.issued_from {
            w.and("created_at >= {}", Box::new(start));
        }
        if let Some(end) = f.issued_to {
            w.and("created_at < {}", Box::new(end));
        }
        if let Some((from, to, length)) = &f.numbers {
            w.and("length(number) = {}", Box::new(*length));
            if !from.is_empty() {
                w.and("number >= {}", Box::new(from.clone()));
            }
            if !to.is_empty() {
                w.and("number <= {}", Box::new(to.clone()));
            }
        }
        w
    }

    fn and(&mut self, condition: &str, value: Param) {
        self.params.push(value);
        let placeholder = format!("${}", self.params.len() + 1);
        self.clause.push_str(" AND ");
        self.clause.push_str(&condition.replace("{}", &placeholder));
    }

    fn refs<'a>(&'a self, tenant: &'a TenantId, extra: &'a [&'a (dyn ToSql + Sync)]) -> Vec<&'a (dyn ToSql + Sync)> {
        std::iter::once(tenant as &(dyn ToSql + Sync))
            .chain(self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)))
            .chain(extra.iter().copied())
            .collect()
    }

    fn next(&self, k: usize) -> String {
        format!("${}", self.params.len() + 2 + k)
    }
}

/// How many cards match.
pub async fn count(db: &impl GenericClient, tenant: &TenantId, w: &Where) -> anyhow::Result<i64> {
    let sql = format!("SELECT count(*) FROM cards WHERE {}", w.clause);
    Ok(db.query_one(&sql, &w.refs(tenant, &[])).await.context("counting cards")?.get(0))
}

/// A page of matching cards in id order, after `after`.
pub async fn page(
    db: &impl GenericClient,
    tenant: &TenantId,
    w: &Where,
    after: Uuid,
    limit: i64,
) -> anyhow::Result<Vec<pb::Card>> {
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM cards WHERE {} AND id > {} ORDER BY id LIMIT {}",
        w.clause,
        w.next(0),
        w.next(1)
    );
    let rows = db.query(&sql, &w.refs(tenant, &[&after, &limit])).await.context("listing cards")?;
    Ok(rows.iter().map(card).collect())
}

/// Locks and reads at most `limit` matching cards, in id order (so two bulk changes never
/// deadlock).
pub async fn lock_matching(
    db: &impl GenericClient,
    tenant: &TenantId,
    w: &Where,
    limit: i64,
) -> anyhow::Result<Vec<pb::Card>> {
    let sql = format!("SELECT {CARD_COLUMNS} FROM cards WHERE {} ORDER BY id LIMIT {} FOR UPDATE", w.clause, w.next(0));
    let rows = db.query(&sql, &w.refs(tenant, &[&limit])).await.context("selecting cards")?;
    Ok(rows.iter().map(card).collect())
}

/// Locks and reads the cards with these numbers, in id order.
pub async fn lock_numbers(
    db: &impl GenericClient,
    tenant: &TenantId,
    numbers: &[String],
) -> anyhow::Result<Vec<pb::Card>> {
    let rows = db
        .query(
            &format!(
                "SELECT {CARD_COLUMNS} FROM cards WHERE tenant_id = $1 AND number = ANY($2) ORDER BY id FOR UPDATE"
            ),
            &[&tenant, &numbers],
        )
        .await
        .context("selecting cards by number")?;
    Ok(rows.iter().map(card).collect())
}

/// Writes the template, status and tags of changed cards in one statement.
pub async fn write_changes(
    db: &impl GenericClient,
    tenant: &TenantId,
    changed: &[(CardId, Option<Uuid>, &str, &[String])],
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    for (id, template, status, tags) in changed {
        db.execute(
            "UPDATE cards SET template_id = $3, status = $4, tags = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2",
            &[&tenant, id, template, status, tags, &at],
        )
        .await
        .context("changing a card")?;
    }
    Ok(())
}

/// Marks `merged` cards merged into `target` and gives the target the union of their tags.
pub async fn merge(
    db: &impl GenericClient,
    tenant: &TenantId,
    target: CardId,
    merged: &[CardId],
    (tags, at): (&[String], OffsetDateTime),
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE cards SET status = 'merged', successor_card_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = ANY($2)",
        &[&tenant, &merged, &target, &at],
    )
    .await
    .context("marking merged cards")?;
    db.execute(
        "UPDATE cards SET tags = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &target, &tags, &at],
    )
    .await
    .context("updating the merge target")?;
    Ok(())
}

/// One card of a bulk load: an active physical card whose barcode is its number.
pub struct LoadedCard {
    pub tenant: TenantId,
    pub id: CardId,
    pub number: String,
    pub client_id: ClientId,
    pub created_at: OffsetDateTime,
}

impl CopyRow for LoadedCard {
    fn values(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.tenant,
            &self.id,
            &self.number,
            &self.number,
            &"code128",
            &"physical",
            &self.client_id,
            &self.created_at,
            &self.created_at,
        ]
    }
}

/// Writes many cards with one binary COPY (benchmarks, migrations from another system); returns
/// how many rows were written.
pub async fn copy_cards(
    db: &tokio_postgres::Client,
    cards: impl IntoIterator<Item = LoadedCard>,
) -> anyhow::Result<u64> {
    use Type as T;
    let types = [T::TEXT, T::UUID, T::TEXT, T::TEXT, T::TEXT, T::TEXT, T::UUID, T::TIMESTAMPTZ, T::TIMESTAMPTZ];
    loyalty_platform::copy::copy_in(
        db,
        "COPY cards (tenant_id, id, number, barcode, barcode_format, kind, client_id, created_at, updated_at)
         FROM STDIN BINARY",
        &types,
        cards,
    )
    .await
}
