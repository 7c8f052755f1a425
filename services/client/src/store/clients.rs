//! The `clients` table.
use crate::domain::email::Email;
use crate::domain::phone::Phone;
use crate::domain::profile::{Attribute, Child, Utm};
use crate::domain::{Agreement, Block, ClientRecord, Consent, Profile, Status};
use crate::store::GenericClient;
use anyhow::Context;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};
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

/// Every column of a client, and its tags, merged ids and consents, in one row.
pub const SELECT_COLUMNS: &str = "c.id, c.first_name, c.last_name, c.middle_name, c.email, c.phone, c.phone_original, \
     c.phone_verified, c.birth_date, c.gender, c.address, c.city, c.region, c.notes, c.car_number, \
     c.additional_keys, c.custom_attributes, c.children, c.registration_store_id, c.added_by, \
     c.registered_at, c.updated_at, c.utm, c.referrer_client_id, c.source_channel, c.anonymous_ids, \
     c.status, c.block, c.personal_data_consent, c.third_party_consent, c.erased, c.version, \
     (SELECT coalesce(array_agg(ct.tag_id ORDER BY ct.tag_id), '{}') FROM client_tags ct \
       WHERE ct.tenant_id = c.tenant_id AND ct.client_id = c.id), \
     (SELECT coalesce(array_agg(m.id ORDER BY m.id), '{}') FROM clients m \
       WHERE m.tenant_id = c.tenant_id AND m.merged_into = c.id), \
     (SELECT coalesce(jsonb_agg(jsonb_build_object('channel', k.channel, 'status', k.status, \
       'changed_at', k.changed_at, 'source', k.source, 'address', k.address) ORDER BY k.channel), '[]') \
       FROM consents k WHERE k.tenant_id = c.tenant_id AND k.client_id = c.id), \
     (SELECT coalesce(array_agg(ps.store_id ORDER BY ps.store_id), '{}') FROM purchase_stores ps \
       WHERE ps.tenant_id = c.tenant_id AND ps.client_id = c.id)";

/// How many columns [`SELECT_COLUMNS`] yields (list queries append their sort values after them).
pub const SELECT_COLUMN_COUNT: usize = 36;

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

/// Reads a row selected with [`SELECT_COLUMNS`]; tags, consents and merged ids are filled by the caller.
pub fn from_row(row: &Row) -> ClientRecord {
    let email: Option<String> = row.get(4);
    let phone: Option<String> = row.get(5);
    ClientRecord {
        id: row.get(0),
        profile: Profile {
            first_name: row.get(1),
            last_name: row.get(2),
            middle_name: row.get(3),
            email: email.map(|address| Email { key: address.to_lowercase(), address }),
            phone: phone.map(Phone::from_stored),
            phone_original: row.get::<_, Option<String>>(6).unwrap_or_default(),
            phone_verified: row.get(7),
            birth_date: row.get(8),
            gender: row.get(9),
            address: row.get(10),
            city: row.get(11),
            region: row.get(12),
            notes: row.get(13),
            car_number: row.get(14),
            additional_keys: row.get(15),
            custom_attributes: row.get::<_, Json<BTreeMap<String, Attribute>>>(16).0,
            children: row.get::<_, Json<Vec<Child>>>(17).0,
            registration_store_id: row.get(18),
            added_by: row.get(19),
            utm: row.get::<_, Json<Utm>>(22).0,
            referrer_client_id: row.get(23),
            source_channel: row.get(24),
            anonymous_ids: row.get(25),
        },
        registered_at: row.get(20),
        updated_at: row.get(21),
        status: Status::parse(row.get(26)),
        block: row.get::<_, Option<Json<Block>>>(27).map(|j| j.0),
        personal_data_consent: row.get::<_, Option<Json<Agreement>>>(28).map(|j| j.0),
        third_party_consent: row.get::<_, Option<Json<Agreement>>>(29).map(|j| j.0),
        erased: row.get(30),
        version: row.get(31),
        tag_ids: row.get(32),
        purchase_store_ids: row.get(35),
        merged_client_ids: row.get(33),
        consents: row
            .get::<_, Json<Vec<ConsentJson>>>(34)
            .0
            .into_iter()
            .map(|c| Consent {
                channel: c.channel,
                status: c.status,
                changed_at: c.changed_at,
                source: c.source,
                address: c.address,
            })
            .collect(),
    }
}

pub async fn insert(db: &impl GenericClient, tenant: &str, r: &ClientRecord) -> Result<(), tokio_postgres::Error> {
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
    tenant: &str,
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
    tenant: &str,
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
pub async fn touch(db: &impl GenericClient, tenant: &str, id: Uuid, at: OffsetDateTime) -> anyhow::Result<()> {
    db.execute(
        "UPDATE clients SET updated_at = $3, version = version + 1 WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &id, &at],
    )
    .await
    .context("touching the client")?;
    Ok(())
}

/// The live client `id` answers for: itself, or the survivor it was merged into.
pub async fn resolve(db: &impl GenericClient, tenant: &str, id: Uuid) -> anyhow::Result<Option<Uuid>> {
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
pub async fn load(db: &impl GenericClient, tenant: &str, id: Uuid, lock: bool) -> anyhow::Result<Option<ClientRecord>> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM clients c WHERE c.tenant_id = $1 AND c.id = $2 AND c.merged_into IS NULL{}",
        if lock { " FOR UPDATE OF c" } else { "" }
    );
    let row = super::query_opt(db, &sql, &[&tenant, &id]).await.context("loading the client")?;
    Ok(row.as_ref().map(from_row))
}

/// Another live client of the tenant already uses this email.
pub async fn email_taken(db: &impl GenericClient, tenant: &str, email_key: &str, except: Uuid) -> anyhow::Result<bool> {
    let row = db
        .query_opt(
            "SELECT 1 FROM clients WHERE tenant_id = $1 AND email_key = $2 AND merged_into IS NULL AND id <> $3",
            &[&tenant, &email_key, &except],
        )
        .await
        .context("checking the email")?;
    Ok(row.is_some())
}

/// The insert or update failed on the unique email.
pub fn is_email_conflict(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().and_then(|d| d.constraint()) == Some("clients_email_unique")
}

pub async fn delete(db: &impl GenericClient, tenant: &str, id: Uuid) -> anyhow::Result<bool> {
    let n = db
        .execute("DELETE FROM clients WHERE tenant_id = $1 AND id = $2 AND merged_into IS NULL", &[&tenant, &id])
        .await
        .context("deleting the client")?;
    Ok(n == 1)
}
