//! The quick-search list (CL-7): one SQL statement built from the terms, filters and ordering,
//! with keyset paging so that rows added meanwhile neither repeat nor shift a page.
use super::clients::read;
use super::columns::Selection;
use crate::domain::ClientRecord;
use crate::domain::search::{PageToken, SortKey, SqlType, Term};
use crate::store::GenericClient;
use anyhow::Context;
use loyalty_platform::TenantId;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

/// What to list.
pub struct Filter<'a> {
    pub terms: &'a [Term],
    pub statuses: &'a [String],
    pub tag_ids: &'a [Uuid],
    /// Only clients registered in these stores; `None` means every store.
    pub stores: Option<&'a [String]>,
    /// The caller's store scope: registered or bought in one of these stores (CL-11).
    pub scope: Option<&'a [String]>,
    /// Only these clients (bulk edits of a list).
    pub only_ids: Option<&'a [Uuid]>,
}

type Param = Box<dyn ToSql + Sync + Send>;

struct Sql {
    params: Vec<Param>,
}

impl Sql {
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

fn term_sql(sql: &mut Sql, term: &Term) -> String {
    match term {
        Term::Id(id) => format!("c.id = {}", sql.bind(*id)),
        // A whole address or number is looked up exactly (indexed equality); a fragment is
        // matched anywhere (trigram index).
        Term::Email(email) if crate::domain::email::Email::parse(email).is_ok() => {
            format!("c.email_key = {}", sql.bind(email.clone()))
        }
        Term::Email(fragment) => format!("c.email_key LIKE {}", sql.bind(like_pattern(fragment))),
        Term::Digits { e164: Some(phone), .. } => format!("c.phone = {}", sql.bind(phone.clone())),
        Term::Digits { e164: None, digits, .. } => format!("c.phone LIKE {}", sql.bind(like_pattern(digits))),
        Term::Words(words) => {
            let names: Vec<String> =
                words.iter().map(|w| format!("c.name_search LIKE {}", sql.bind(like_pattern(w)))).collect();
            let mut clause = format!("({})", names.join(" AND "));
            if words.len() == 1 {
                clause = format!("({clause} OR c.email_key LIKE {})", sql.bind(like_pattern(&words[0])));
            }
            clause
        }
    }
}

fn has_fragments(f: &Filter) -> bool {
    f.terms.iter().any(|t| match t {
        Term::Words(_) | Term::Digits { e164: None, .. } => true,
        Term::Email(e) => crate::domain::email::Email::parse(e).is_err(),
        _ => false,
    })
}

fn where_sql(sql: &mut Sql, tenant: &TenantId, f: &Filter) -> String {
    let mut clauses = vec![
        format!("c.tenant_id = {}", sql.bind(tenant.to_string())),
        "c.merged_into IS NULL AND NOT c.erased".to_string(),
    ];
    if !f.terms.is_empty() {
        let any: Vec<String> = f.terms.iter().map(|t| term_sql(sql, t)).collect();
        clauses.push(format!("({})", any.join(" OR ")));
    }
    if !f.statuses.is_empty() {
        clauses.push(format!("c.status = ANY({})", sql.bind(f.statuses.to_vec())));
    }
    if !f.tag_ids.is_empty() {
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM client_tags t WHERE t.tenant_id = c.tenant_id AND t.client_id = c.id AND t.tag_id = ANY({}))",
            sql.bind(f.tag_ids.to_vec())
        ));
    }
    if let Some(ids) = f.only_ids {
        clauses.push(format!("c.id = ANY({})", sql.bind(ids.to_vec())));
    }
    if let Some(stores) = f.stores {
        clauses.push(format!("c.registration_store_id = ANY({})", sql.bind(stores.to_vec())));
    }
    if let Some(scope) = f.scope {
        // The buyers' ids as an array, so both sides of the OR stay index scans (a BitmapOr); a
        // correlated EXISTS made a scoped count probe every client of the tenant.
        let (stores, tenant) = (sql.bind(scope.to_vec()), sql.bind(tenant.to_string()));
        clauses.push(format!(
            "(c.registration_store_id = ANY({stores}) OR c.id = ANY(ARRAY(SELECT ps.client_id FROM purchase_stores ps
               WHERE ps.tenant_id = {tenant} AND ps.store_id = ANY({stores}))))"
        ));
    }
    clauses.join(" AND ")
}

fn cast(t: SqlType) -> &'static str {
    match t {
        SqlType::Text => "text",
        SqlType::Timestamp => "timestamptz",
        SqlType::Date => "date",
    }
}

/// Rows after the token's row in the ordering `keys` (then id).
fn keyset_sql(sql: &mut Sql, keys: &[SortKey], token: &PageToken) -> String {
    let id_desc = keys.first().is_some_and(|k| k.descending);
    let mut equal_so_far: Vec<String> = Vec::new();
    let mut alternatives = Vec::new();
    for (key, value) in keys.iter().zip(&token.values) {
        let v = format!("({}::text)::{}", sql.bind(value.clone()), cast(key.column.sql_type()));
        let op = if key.descending { "<" } else { ">" };
        let mut alt = equal_so_far.clone();
        alt.push(format!("{} {op} {v}", key.column.sql()));
        alternatives.push(format!("({})", alt.join(" AND ")));
        equal_so_far.push(format!("{} = {v}", key.column.sql()));
    }
    let mut last = equal_so_far;
    last.push(format!("c.id {} {}", if id_desc { "<" } else { ">" }, sql.bind(token.id)));
    alternatives.push(format!("({})", last.join(" AND ")));
    format!("({})", alternatives.join(" OR "))
}

/// Where a page starts and how long it is.
pub struct Window<'a> {
    pub keys: &'a [SortKey],
    pub after: Option<&'a PageToken>,
    pub limit: i64,
}

/// One page of clients (read as `selection`) and, for each, the sort values a next-page token
/// needs; plus the total of matching clients (counted in the same statement).
pub async fn page(
    db: &impl GenericClient,
    tenant: &TenantId,
    filter: &Filter<'_>,
    window: &Window<'_>,
    selection: Selection,
) -> anyhow::Result<(Vec<(ClientRecord, Vec<String>)>, i64)> {
    let Window { keys, after, limit } = *window;
    let (columns, width) = (selection.sql(), selection.width());
    let mut sql = Sql { params: Vec::new() };
    let base = where_sql(&mut sql, tenant, filter);
    let count_params = sql.params.len();
    let keyset = match after {
        Some(token) => keyset_sql(&mut sql, keys, token),
        None => "true".to_string(),
    };
    let id_dir = if keys.first().is_some_and(|k| k.descending) { "DESC" } else { "ASC" };
    let order: Vec<String> = keys
        .iter()
        .map(|k| format!("{} {}", k.column.sql(), if k.descending { "DESC" } else { "ASC" }))
        .chain(std::iter::once(format!("c.id {id_dir}")))
        .collect();
    let sort_values: Vec<String> = keys.iter().map(|k| format!("({})::text", k.column.sql())).collect();
    let limit_param = sql.bind(limit);
    let count_inline = !filter.terms.is_empty();
    let (page, total) = if has_fragments(filter) {
        // Fragments (LIKE '%…%') need a plan made for their actual values: a cached generic plan
        // can pick a full scan that takes a second. Only the narrow gathering query is planned each
        // time (its ids and sort keys through the trigram index, counted and ordered, so the LIMIT
        // cannot talk the planner into walking the whole table in date order); the page's rows are
        // then read in full by a prepared statement.
        let keyed: Vec<String> = sort_values.iter().enumerate().map(|(i, v)| format!("{v} AS s{i}")).collect();
        // Only the id and the columns the order reads: every matching row is copied.
        let mut gathered = vec!["c.id"];
        for k in keys {
            if !gathered.contains(&k.column.column()) {
                gathered.push(k.column.column());
            }
        }
        let gather = format!(
            "WITH matching AS MATERIALIZED (SELECT {}, count(*) OVER () AS total FROM clients c WHERE {base})
             SELECT c.id, c.total, {} FROM matching c WHERE {keyset} ORDER BY {} LIMIT {limit_param}",
            gathered.join(", "),
            keyed.join(", "),
            order.join(", ")
        );
        let found = db.query(gather.as_str(), &sql.refs()).await.context("searching clients")?;
        let ids: Vec<Uuid> = found.iter().map(|r| r.get(0)).collect();
        let full = super::query(
            db,
            &format!(
                "SELECT {columns} FROM clients c
                 WHERE c.tenant_id = $1 AND c.id = ANY($2) AND c.merged_into IS NULL AND NOT c.erased"
            ),
            &[&tenant, &ids],
        )
        .await
        .context("reading the page")?;
        let mut by_id: std::collections::HashMap<Uuid, ClientRecord> =
            full.iter().map(|row| read(row, selection)).map(|r| (r.id, r)).collect();
        let page = found
            .iter()
            .filter_map(|row| {
                let values = (0..keys.len()).map(|i| row.get::<_, String>(2 + i)).collect();
                by_id.remove(&row.get::<_, Uuid>(0)).map(|r| (r, values))
            })
            .collect();
        (page, found.first().map(|r| r.get::<_, i64>(1)))
    } else {
        // Exact lookups gather and read in one prepared statement (a first page counts its matches
        // as it reads them; a later page counts them all before it skips to its place); an
        // unfiltered list keeps its index-ordered LIMIT and counts separately.
        let (sort_values, order) = (sort_values.join(", "), order.join(", "));
        let query = match (count_inline, after) {
            (true, None) => format!(
                "SELECT {columns}, count(*) OVER (), {sort_values} FROM clients c WHERE {base}
                 ORDER BY {order} LIMIT {limit_param}"
            ),
            (true, Some(_)) => format!(
                "WITH matching AS MATERIALIZED (SELECT c.*, count(*) OVER () AS total FROM clients c WHERE {base})
                 SELECT {columns}, c.total, {sort_values} FROM matching c WHERE {keyset} ORDER BY {order} LIMIT {limit_param}"
            ),
            (false, _) => format!(
                "SELECT {columns}, 0::bigint, {sort_values} FROM (SELECT * FROM clients c WHERE {base}) c WHERE {keyset}
                 ORDER BY {order} LIMIT {limit_param}"
            ),
        };
        let rows = super::query(db, &query, &sql.refs()).await.context("listing clients")?;
        let total = rows.first().filter(|_| count_inline).map(|row| row.get::<_, i64>(width));
        let page = rows
            .iter()
            .map(|row| {
                let values = (0..keys.len()).map(|i| row.get::<_, String>(width + 1 + i)).collect();
                (read(row, selection), values)
            })
            .collect();
        (page, total)
    };
    let total = match total {
        Some(total) => total,
        None => {
            super::query_one(db, &format!("SELECT count(*) FROM clients c WHERE {base}"), &sql.refs()[..count_params])
                .await
                .context("counting matches")?
                .get(0)
        }
    };
    Ok((page, total))
}

/// Every client id matching `filter` (bulk edits by query), in id order.
pub async fn ids(
    db: &impl GenericClient,
    tenant: &TenantId,
    filter: &Filter<'_>,
    max: i64,
) -> anyhow::Result<Vec<Uuid>> {
    let mut sql = Sql { params: Vec::new() };
    let condition = where_sql(&mut sql, tenant, filter);
    let limit = sql.bind(max);
    let rows = db
        .query(&format!("SELECT c.id FROM clients c WHERE {condition} ORDER BY c.id LIMIT {limit}"), &sql.refs())
        .await
        .context("selecting matching clients")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
