//! Loading many clients at once with binary COPY (demo data at scale, benchmarks, migrations from
//! another system). Rows are written as they are: callers validate them first (`Profile::parse`).
use crate::domain::Profile;
use loyalty_platform::TenantId;
use loyalty_platform::copy::CopyRow;
use time::OffsetDateTime;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

/// One client to load, with the values its row is written with.
pub struct NewClient {
    tenant: TenantId,
    id: Uuid,
    pub profile: Profile,
    registered_at: OffsetDateTime,
    email: Option<String>,
    email_key: Option<String>,
    phone: Option<String>,
    phone_original: Option<String>,
    name_search: String,
}

impl NewClient {
    pub fn new(tenant: &TenantId, id: Uuid, profile: Profile, registered_at: OffsetDateTime) -> Self {
        let phone = profile.phone.as_ref().map(|x| x.as_str().to_string());
        Self {
            tenant: tenant.clone(),
            id,
            email: profile.email.as_ref().map(|e| e.address.clone()),
            email_key: profile.email.as_ref().map(|e| e.key.clone()),
            phone_original: phone.as_ref().map(|_| profile.phone_original.clone()),
            phone,
            name_search: profile.name_search(),
            profile,
            registered_at,
        }
    }
}

impl CopyRow for NewClient {
    fn values(&self) -> Vec<&(dyn ToSql + Sync)> {
        let p = &self.profile;
        vec![
            &self.tenant,
            &self.id,
            &p.first_name,
            &p.last_name,
            &p.middle_name,
            &self.email,
            &self.email_key,
            &self.phone,
            &self.phone_original,
            &p.birth_date,
            &p.gender,
            &p.city,
            &p.registration_store_id,
            &p.added_by,
            &self.registered_at,
            &self.registered_at,
            &"member",
            &self.name_search,
        ]
    }
}

/// Writes `clients` with one COPY; returns how many rows were written.
pub async fn copy_clients(
    db: &tokio_postgres::Client,
    clients: impl IntoIterator<Item = NewClient>,
) -> anyhow::Result<u64> {
    use Type as T;
    let types = [
        T::TEXT,
        T::UUID,
        T::TEXT,
        T::TEXT,
        T::TEXT,
        T::TEXT,
        T::TEXT,
        T::TEXT,
        T::TEXT,
        T::DATE,
        T::TEXT,
        T::TEXT,
        T::TEXT,
        T::TEXT,
        T::TIMESTAMPTZ,
        T::TIMESTAMPTZ,
        T::TEXT,
        T::TEXT,
    ];
    loyalty_platform::copy::copy_in(
        db,
        "COPY clients (tenant_id, id, first_name, last_name, middle_name, email, email_key, phone, phone_original,
                       birth_date, gender, city, registration_store_id, added_by, registered_at, updated_at,
                       status, name_search) FROM STDIN BINARY",
        &types,
        clients,
    )
    .await
}
