//! The `clients` table.
use super::columns::Selection;
use crate::domain::email::Email;
use crate::domain::phone::Phone;
use crate::domain::profile::{Attribute, Child, Utm};
use crate::domain::{Agreement, Block, ClientRecord, Consent, Profile, Status};
use crate::store::GenericClient;
use anyhow::Context;
use loyalty_platform::TenantId;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Json, ToSql};
use uuid::Uuid;

/// The columns a profile is written to, in the order of [`ProfileRow::params`].
const PROFILE_COLUMNS: [&str; 28] = [
    "first_name",
    "last_name",
    "middle_name",
    "email",
    "email_key",
    "phone",
    "phone_original",
    "phone_verified",
    "birth_date",
    "gender",
    "address",
    "city",
    "region",
    "notes",
    "car_number",
    "additional_keys",
    "custom_attributes",
    "children",
    "registration_store_id",
    "added_by",
    "utm",
    "referrer_client_id",
    "source_channel",
    "anonymous_ids",
    "name_search",
    "personal_data_consent",
    "third_party_consent",
    "updated_at",
];

#[derive(serde::Deserialize)]
struct ConsentJson {
    channel: String,
    status: String,
    #[serde(with = "time::serde::rfc3339")]
    changed_at: OffsetDateTime,
    source: String,
    address: String,
}

/// Owned SQL values of a record's profile, in [`PROFILE_COLUMNS`] order.
struct ProfileRow {
    first_name: String,
    last_name: String,
    middle_name: String,
    email: Option<String>,
    email_key: Option<String>,
    phone: Option<String>,
    phone_original: Option<String>,
    phone_verified: bool,
    birth_date: Option<time::Date>,
    gender: String,
    address: String,
    city: String,
    region: String,
    notes: String,
    car_number: String,
    additional_keys: Vec<String>,
    custom_attributes: Json<BTreeMap<String, Attribute>>,
    children: Json<Vec<Child>>,
    registration_store_id: String,
    added_by: String,
    utm: Json<Utm>,
    referrer_client_id: Option<Uuid>,
    source_channel: String,
    anonymous_ids: Vec<String>,
    name_search: String,
    personal_data_consent: Option<Json<Agreement>>,
    third_party_consent: Option<Json<Agreement>>,
    updated_at: OffsetDateTime,
}

impl ProfileRow {
    fn new(r: &ClientRecord) -> Self {
        let p = &r.profile;
        ProfileRow {
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            middle_name: p.middle_name.clone(),
            email: p.email.as_ref().map(|e| e.address.clone()),
            email_key: p.email.as_ref().map(|e| e.key.clone()),
            phone: p.phone.as_ref().map(|x| x.as_str().to_string()),
            phone_original: p.phone.as_ref().map(|_| p.phone_original.clone()),
            phone_verified: p.phone_verified,
            birth_date: p.birth_date,
            gender: p.gender.clone(),
            address: p.address.clone(),
            city: p.city.clone(),
            region: p.region.clone(),
            notes: p.notes.clone(),
            car_number: p.car_number.clone(),
            additional_keys: p.additional_keys.clone(),
            custom_attributes: Json(p.custom_attributes.clone()),
            children: Json(p.children.clone()),
            registration_store_id: p.registration_store_id.clone(),
            added_by: p.added_by.clone(),
            utm: Json(p.utm.clone()),
            referrer_client_id: p.referrer_client_id,
            source_channel: p.source_channel.clone(),
            anonymous_ids: p.anonymous_ids.clone(),
            name_search: p.name_search(),
            personal_data_consent: r.personal_data_consent.clone().map(Json),
            third_party_consent: r.third_party_consent.clone().map(Json),
            updated_at: r.updated_at,
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 28] {
        [
            &self.first_name,
            &self.last_name,
            &self.middle_name,
            &self.email,
            &self.email_key,
            &self.phone,
            &self.phone_original,
            &self.phone_verified,
            &self.birth_date,
            &self.gender,
            &self.address,
            &self.city,
            &self.region,
            &self.notes,
            &self.car_number,
            &self.additional_keys,
            &self.custom_attributes,
            &self.children,
            &self.registration_store_id,
            &self.added_by,
            &self.utm,
            &self.referrer_client_id,
            &self.source_channel,
            &self.anonymous_ids,
            &self.name_search,
            &self.personal_data_consent,
            &self.third_party_consent,
            &self.updated_at,
        ]
    }
}

/// Reads a row of every value of a client ([`Selection::ALL`]).
pub fn from_row(row: &Row) -> ClientRecord {
    read(row, Selection::ALL)
}

/// The values of one row that a [`Selection`] chose, by their place in the whole client.
struct Values<'r> {
    row: &'r Row,
    selection: Selection,
}

impl<'r> Values<'r> {
    /// Value `i`, or `None` when the selection left it out.
    fn get<T: FromSql<'r>>(&self, i: usize) -> Option<T> {
        self.selection.position(i).map(|p| self.row.get(p))
    }

    fn json<T: serde::de::DeserializeOwned + Default>(&self, i: usize) -> T {
        self.get::<Option<Json<T>>>(i).flatten().map(|j| j.0).unwrap_or_default()
    }
}

/// Reads a row of the values `selection` chose; the others are left empty (a read mask hides them).
pub fn read(row: &Row, selection: Selection) -> ClientRecord {
    let v = Values { row, selection };
    let email: Option<String> = v.get(4).flatten();
    let phone: Option<String> = v.get(5).flatten();
    ClientRecord {
        id: row.get(0),
        profile: Profile {
            first_name: v.get(1).unwrap_or_default(),
            last_name: v.get(2).unwrap_or_default(),
            middle_name: v.get(3).unwrap_or_default(),
            email: email.map(|address| Email { key: address.to_lowercase(), address }),
            phone: phone.map(Phone::from_stored),
            phone_original: v.get::<Option<String>>(6).flatten().unwrap_or_default(),
            phone_verified: v.get(7).unwrap_or_default(),
            birth_date: v.get(8).flatten(),
            gender: v.get(9).unwrap_or_default(),
            address: v.get(10).unwrap_or_default(),
            city: v.get(11).unwrap_or_default(),
            region: v.get(12).unwrap_or_default(),
            notes: v.get(13).unwrap_or_default(),
            car_number: v.get(14).unwrap_or_default(),
            additional_keys: v.get(15).unwrap_or_default(),
            custom_attributes: v.json::<BTreeMap<String, Attribute>>(16),
            children: v.json::<Vec<Child>>(17),
            registration_store_id: v.get(18).unwrap_or_default(),
            added_by: v.get(19).unwrap_or_default(),
            utm: v.json::<Utm>(22),
            referrer_client_id: v.get(23).flatten(),
            source_channel: v.get(24).unwrap_or_default(),
            anonymous_ids: v.get(25).unwrap_or_default(),
        },
        registered_at: v.get(20).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        updated_at: v.get(21).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        status: Status::parse(v.get(26).unwrap_or_default()),
        block: v.get::<Option<Json<Block>>>(27).flatten().map(|j| j.0),
        personal_data_consent: v.get::<Option<Json<Agreement>>>(28).flatten().map(|j| j.0),
        third_party_consent: v.get::<Option<Json<Agreement>>>(29).flatten().map(|j| j.0),
        erased: v.get(30).unwrap_or_default(),
        version: v.get(31).unwrap_or_default(),
        tag_ids: v.get(32).unwrap_or_default(),
        merged_client_ids: v.get(33).unwrap_or_default(),
        consents: v
            .json::<Vec<ConsentJson>>(34)
            .into_iter()
            .map(|c| Consent {
                channel: c.channel,
                status: c.status,
                changed_at: c.changed_at,
                source: c.source,
                address: c.address,
            })
            .collect(),
        purchase_store_ids: v.get(35).unwrap_or_default(),
    }
}

pub async fn insert(db: &impl GenericClient, tenant: &TenantId, r: &ClientRecord) -> Result<(), tokio_postgres::Error> {
    let row = ProfileRow::new(r);
    let status = r.status.as_str();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant, &r.id, &r.registered_at, &status];
    params.extend(row.params());
    let placeholders: Vec<String> = (5..5 + PROFILE_COLUMNS.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO clients (tenant_id, id, registered_at, status, {}) VALUES ($1, $2, $3, $4, {})",
        PROFILE_COLUMNS.join(", "),
        placeholders.join(", ")
    );
    db.execute(&sql, &params).await.map(|_| ())
}

/// Writes the profile and agreements of `r`, bumping its version.
pub async fn update_profile(
    db: &impl GenericClient,
    tenant: &TenantId,
    r: &ClientRecord,
) -> Result<(), tokio_postgres::Error> {
    let row = ProfileRow::new(r);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant, &r.id];
    params.extend(row.params());
    let sets: Vec<String> = PROFILE_COLUMNS.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 3)).collect();
    let sql = format!("UPDATE clients SET {}, version = version + 1 WHERE tenant_id = $1 AND id = $2", sets.join(", "));
    db.execute(&sql, &params).await.map(|_| ())
}

pub async fn set_status(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
    status: Status,
    block: Option<&Block>,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE clients SET status = $3, block = $4, updated_at = $5, version = version + 1 WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id, &status.as_str(), &block.map(Json), &at],
    )
    .await
    .context("setting the status")?;
    Ok(())
}

/// Bumps the version after a change stored in another table (tags, consents).
pub async fn touch(db: &impl GenericClient, tenant: &TenantId, id: Uuid, at: OffsetDateTime) -> anyhow::Result<()> {
    db.execute(
        "UPDATE clients SET updated_at = $3, version = version + 1 WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id, &at],
    )
    .await
    .context("touching the client")?;
    Ok(())
}

/// The live client `id` answers for: itself, or the survivor it was merged into.
pub async fn resolve(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<Option<Uuid>> {
    let row = super::query_opt(
        db,
        "SELECT coalesce(merged_into, id) FROM clients WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id],
    )
    .await
    .context("resolving the client id")?;
    Ok(row.map(|r| r.get(0)))
}

/// Loads a live client with its tags, consents and merged ids; `lock` takes its row lock for an update.
pub async fn load(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
    lock: bool,
) -> anyhow::Result<Option<ClientRecord>> {
    let sql = format!(
        "SELECT {} FROM clients c WHERE c.tenant_id = $1 AND c.id = $2 AND c.merged_into IS NULL{}",
        super::columns::every_value(),
        if lock { " FOR UPDATE OF c" } else { "" }
    );
    let row = super::query_opt(db, &sql, &[&tenant, &id]).await.context("loading the client")?;
    Ok(row.as_ref().map(from_row))
}

/// The other live client of the tenant that already uses this email.
pub async fn email_holder(
    db: &impl GenericClient,
    tenant: &TenantId,
    email_key: &str,
    except: Uuid,
) -> anyhow::Result<Option<Uuid>> {
    let row = db
        .query_opt(
            "SELECT id FROM clients WHERE tenant_id = $1 AND email_key = $2 AND merged_into IS NULL AND id <> $3",
            &[&tenant, &email_key, &except],
        )
        .await
        .context("checking the email")?;
    Ok(row.map(|r| r.get(0)))
}

/// The live clients of the tenant holding any of these email keys or phones (a migration's
/// duplicates): `(id, email_key, phone)`.
pub async fn holders(
    db: &impl GenericClient,
    tenant: &TenantId,
    email_keys: &[String],
    phones: &[String],
) -> anyhow::Result<Vec<(Uuid, Option<String>, Option<String>)>> {
    let rows = db
        .query(
            // One b-tree probe per key. An `= ANY` over a thousand keys scans the whole table, and
            // a plain join with the list probes the trigram search indexes (they answer `=` too),
            // 14 ms a key at 300,000 clients; the ordered LIMIT 1 keeps each probe on the b-tree.
            "SELECT c.id, c.email_key, c.phone FROM unnest($2::text[]) AS k(email_key)
               CROSS JOIN LATERAL (SELECT id, email_key, phone FROM clients c
                 WHERE c.tenant_id = $1 AND c.email_key = k.email_key AND c.merged_into IS NULL
                 ORDER BY c.tenant_id, c.email_key LIMIT 1) c
             UNION
             SELECT c.id, c.email_key, c.phone FROM unnest($3::text[]) AS k(phone)
               CROSS JOIN LATERAL (SELECT id, email_key, phone FROM clients c
                 WHERE c.tenant_id = $1 AND c.phone = k.phone AND c.merged_into IS NULL
                 ORDER BY c.tenant_id, c.phone LIMIT 1) c",
            &[&tenant, &email_keys, &phones],
        )
        .await
        .context("finding clients by email and phone")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// The insert or update failed on the unique email.
pub fn is_email_conflict(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().and_then(|d| d.constraint()) == Some("clients_email_unique")
}

pub async fn delete(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<bool> {
    let n = db
        .execute("DELETE FROM clients WHERE tenant_id = $1 AND id = $2 AND merged_into IS NULL", &[&tenant, &id])
        .await
        .context("deleting the client")?;
    Ok(n == 1)
}

/// Records that `client` bought in `store` (a ledger purchase); a client merged since counts for
/// the survivor, an erased client's purchases are not recorded again.
pub async fn record_purchase_store(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: loyalty_platform::ClientId,
    store: &loyalty_platform::StoreId,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    loyalty_platform::db::cached::execute(
        db,
        "INSERT INTO purchase_stores (tenant_id, client_id, store_id, first_at)
         SELECT $1, coalesce((SELECT merged_into FROM clients WHERE tenant_id = $1 AND id = $2), $2), $3, $4
         WHERE NOT EXISTS (SELECT 1 FROM clients WHERE tenant_id = $1 AND id = $2 AND erased)
         ON CONFLICT (tenant_id, client_id, store_id) DO UPDATE
             SET first_at = least(purchase_stores.first_at, excluded.first_at)",
        &[&tenant, &client, &store, &at],
    )
    .await
    .context("recording the store of a purchase")?;
    Ok(())
}

/// Takes `merged` (and whoever was merged into them) out of the live set, pointing them at
/// `survivor`; this frees their emails. Where they bought now counts for the survivor (CL-11).
pub async fn merge_into(
    db: &impl GenericClient,
    tenant: &TenantId,
    survivor: Uuid,
    merged: &[Uuid],
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE clients SET merged_into = $2, updated_at = $4, version = version + 1
         WHERE tenant_id = $1 AND (id = ANY($3) OR merged_into = ANY($3))",
        &[&tenant, &survivor, &merged, &at],
    )
    .await
    .context("marking merged clients")?;
    db.execute(
        "INSERT INTO purchase_stores (tenant_id, client_id, store_id, first_at)
         SELECT tenant_id, $2, store_id, min(first_at) FROM purchase_stores
         WHERE tenant_id = $1 AND client_id = ANY($3) GROUP BY tenant_id, store_id
         ON CONFLICT (tenant_id, client_id, store_id) DO UPDATE
             SET first_at = least(purchase_stores.first_at, excluded.first_at)",
        &[&tenant, &survivor, &merged],
    )
    .await
    .context("moving purchase stores to the survivor")?;
    Ok(())
}

/// Loads a client row with every value, locked, whatever its state (GDPR erase).
pub async fn load_any(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<Option<ClientRecord>> {
    let rows = db
        .query(
            &format!(
                "SELECT {} FROM clients c WHERE c.tenant_id = $1 AND c.id = $2 FOR UPDATE OF c",
                super::columns::every_value()
            ),
            &[&tenant, &id],
        )
        .await
        .context("loading a client to erase")?;
    Ok(rows.first().map(from_row))
}

/// Marks a client erased, blanks its block comment and forgets where it shopped.
pub async fn mark_erased(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<()> {
    db.execute(
        "UPDATE clients SET erased = true, block = CASE WHEN block IS NULL THEN NULL ELSE jsonb_set(block, '{comment}', '\"\"') END
         WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id],
    )
    .await
    .context("marking the client erased")?;
    db.execute("DELETE FROM purchase_stores WHERE tenant_id = $1 AND client_id = $2", &[&tenant, &id])
        .await
        .context("forgetting where the client shopped")?;
    Ok(())
}

/// A new version of `clients` changed together (tags).
pub async fn bump_versions(
    db: &impl GenericClient,
    tenant: &TenantId,
    clients: &[Uuid],
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE clients SET updated_at = $3, version = version + 1 WHERE tenant_id = $1 AND id = ANY($2)",
        &[&tenant, &clients, &at],
    )
    .await
    .context("bumping client versions")?;
    Ok(())
}
