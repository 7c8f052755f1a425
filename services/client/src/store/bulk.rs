//! Loading many clients at once with binary COPY (demo data at scale, benchmarks, migrations from
//! another system). Rows are written as they are: callers validate them first (`Profile::parse`).
use loyalty_platform::TenantId;
use crate::domain::Profile;
use anyhow::Context;
use futures::pin_mut;
use time::OffsetDateTime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use uuid::Uuid;

/// One client to load.
pub struct NewClient {
    pub id: Uuid,
    pub profile: Profile,
    pub registered_at: OffsetDateTime,
}

/// Writes `clients` of `tenant` with one COPY; returns how many rows were written.
pub async fn copy_clients(
    db: &tokio_postgres::Client,
    tenant: &TenantId,
    clients: impl IntoIterator<Item = NewClient>,
) -> anyhow::Result<u64> {
    let sink = db
        .copy_in(
            "COPY clients (tenant_id, id, first_name, last_name, middle_name, email, email_key, phone, phone_original,
                           birth_date, gender, city, registration_store_id, added_by, registered_at, updated_at,
                           status, name_search) FROM STDIN BINARY",
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
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::DATE,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::TEXT,
        Type::TEXT,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for c in clients {
        let p = &c.profile;
        let email = p.email.as_ref().map(|e| e.address.as_str());
        let email_key = p.email.as_ref().map(|e| e.key.as_str());
        let phone = p.phone.as_ref().map(|x| x.as_str());
        let phone_original = phone.map(|_| p.phone_original.as_str());
        let name_search = p.name_search();
        writer
            .as_mut()
            .write(&[
                &tenant,
                &c.id,
                &p.first_name,
                &p.last_name,
                &p.middle_name,
                &email,
                &email_key,
                &phone,
                &phone_original,
                &p.birth_date,
                &p.gender,
                &p.city,
                &p.registration_store_id,
                &p.added_by,
                &c.registered_at,
                &c.registered_at,
                &"member",
                &name_search,
            ])
            .await
            .context("writing a COPY row")?;
    }
    writer.finish().await.context("finishing COPY")
}
