//! Stores and tenant settings: the directory every other service refers to.
use super::ClientApi;
use super::context::Ctx;
use crate::domain::phone::is_known_region;
use crate::store;
use loyalty_api::client::v1 as pb;
use loyalty_api::events::v1::{StoreChanged, TenantSettingsChanged, event::Payload};
use loyalty_platform::error::Violations;
use loyalty_platform::error::{ApiError, ApiResult as Result};
use loyalty_platform::outbox::publish;

fn check_store(s: &pb::Store) -> Result<()> {
    let mut v = Violations::new();
    let id_ok = (1..=64).contains(&s.id.len()) && s.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    v.add_if(!id_ok, "store.id", "must be 1-64 of A-Z, a-z, 0-9, - _ .");
    v.add_if(s.name.trim().is_empty() || s.name.chars().count() > 100, "store.name", "must be 1 to 100 characters");
    v.add_if(s.city.chars().count() > 100, "store.city", "is longer than 100 characters");
    v.add_if(s.address.chars().count() > 500, "store.address", "is longer than 500 characters");
    Ok(v.into_result()?)
}

fn store_event(ctx: &Ctx, s: &pb::Store) -> loyalty_api::events::v1::Event {
    let payload =
        StoreChanged { store_id: s.id.clone(), name: s.name.clone(), city: s.city.clone(), archived: s.archived };
    ctx.event(&s.id, Payload::StoreChanged(payload))
}

pub async fn create_store(api: &ClientApi, request: tonic::Request<pb::CreateStoreRequest>) -> Result<pb::Store> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let store = request.into_inner().store.unwrap_or_default();
    check_store(&store)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if !store::settings::put_store(&tx, &ctx.tenant, &store, true).await? {
        return Err(ApiError::AlreadyExists(format!("store {} exists", store.id)));
    }
    publish(&tx, &store_event(&ctx, &store)).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(store)
}

pub async fn update_store(api: &ClientApi, request: tonic::Request<pb::UpdateStoreRequest>) -> Result<pb::Store> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let input = body.store.unwrap_or_default();
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let Some(mut store) = store::settings::get_store(&tx, &ctx.tenant, &input.id).await? else {
        return Err(ApiError::NotFound("store"));
    };
    let mut v = Violations::new();
    for path in body.update_mask.map(|m| m.paths).unwrap_or_default() {
        match path.as_str() {
            "name" => store.name = input.name.clone(),
            "city" => store.city = input.city.clone(),
            "address" => store.address = input.address.clone(),
            "archived" => store.archived = input.archived,
            other => v.add("update_mask", format!("{other} cannot be changed")),
        }
    }
    v.into_result()?;
    check_store(&store)?;
    store::settings::put_store(&tx, &ctx.tenant, &store, false).await?;
    publish(&tx, &store_event(&ctx, &store)).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(store)
}

pub async fn list_stores(
    api: &ClientApi,
    request: tonic::Request<pb::ListStoresRequest>,
) -> Result<pb::ListStoresResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let conn = api.conn().await?;
    let stores = store::settings::list_stores(&conn, &ctx.tenant, request.get_ref().include_archived).await?;
    Ok(pb::ListStoresResponse { stores })
}

pub async fn get_settings(
    api: &ClientApi,
    request: tonic::Request<pb::GetTenantSettingsRequest>,
) -> Result<pb::TenantSettings> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let conn = api.conn().await?;
    Ok(store::settings::get(&conn, &ctx.tenant).await?)
}

fn check_settings(s: &pb::TenantSettings) -> Result<()> {
    let mut v = Violations::new();
    v.add_if(
        loyalty_platform::tz::zone(&s.time_zone).is_none(),
        "settings.time_zone",
        "is not a time zone of the IANA database, e.g. Europe/Vilnius",
    );
    v.add_if(
        !is_known_region(&s.default_phone_region),
        "settings.default_phone_region",
        "is not a region whose phone numbers are known (LT, LV, EE, PL, RO, RU, UA, BY, MD, DE, GB, US)",
    );
    v.add_if(
        loyalty_platform::Currency::known(&s.currency).is_none(),
        "settings.currency",
        "is not an ISO 4217 currency code in circulation, e.g. EUR",
    );
    v.add_if(s.history_retention_days < 1, "settings.history_retention_days", "must be at least 1");
    Ok(v.into_result()?)
}

pub async fn update_settings(
    api: &ClientApi,
    request: tonic::Request<pb::UpdateTenantSettingsRequest>,
) -> Result<pb::TenantSettings> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let input = body.settings.unwrap_or_default();
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let mut settings = store::settings::get(&tx, &ctx.tenant).await?;
    let mut v = Violations::new();
    for path in body.update_mask.map(|m| m.paths).unwrap_or_default() {
        match path.as_str() {
            "time_zone" => settings.time_zone = input.time_zone.clone(),
            "default_phone_region" => settings.default_phone_region = input.default_phone_region.to_ascii_uppercase(),
            "currency" => settings.currency = input.currency.clone(),
            "history_retention_days" => settings.history_retention_days = input.history_retention_days,
            other => v.add("update_mask", format!("{other} is not a setting")),
        }
    }
    v.into_result()?;
    check_settings(&settings)?;
    store::settings::put(&tx, &ctx.tenant, &settings).await?;
    let payload = TenantSettingsChanged {
        time_zone: settings.time_zone.clone(),
        default_phone_region: settings.default_phone_region.clone(),
        currency: settings.currency.clone(),
    };
    publish(&tx, &ctx.event(ctx.tenant.as_str(), Payload::TenantSettingsChanged(payload))).await?;
    loyalty_platform::outbox::commit(tx).await?;
    api.forget_region(&ctx.tenant);
    Ok(settings)
}
