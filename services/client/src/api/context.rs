//! Who is calling and when: built once per request from the token and the request context.
use crate::domain::ClientRecord;
use loyalty_api::common::v1::RequestContext;
use loyalty_platform::clock::Clock;
use loyalty_platform::error::{ApiError, ApiResult as Result};
use loyalty_platform::request::Caller;

/// The caller of a client-service request: the platform's [`Caller`] and what this service asks
/// of it (store scope, history records).
pub struct Ctx(pub Caller);

impl std::ops::Deref for Ctx {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl Ctx {
    pub fn new<T>(request: &tonic::Request<T>, context: Option<&RequestContext>, clock: &dyn Clock) -> Result<Ctx> {
        Ok(Ctx(Caller::new(request, context, clock)?))
    }

    /// CL-11: a store-scoped caller sees only clients registered or buying in its stores.
    pub fn sees(&self, r: &ClientRecord) -> bool {
        match self.principal.store_scope() {
            None => true,
            Some(stores) => {
                stores.contains(&r.profile.registration_store_id)
                    || r.purchase_store_ids.iter().any(|s| stores.contains(s))
            }
        }
    }

    /// `r` if the caller may see it, else NOT_FOUND (never a hint that it exists).
    pub fn visible(&self, r: Option<ClientRecord>) -> Result<ClientRecord> {
        match r {
            Some(r) if self.sees(&r) => Ok(r),
            _ => Err(ApiError::NotFound("client")),
        }
    }

    /// Records one change of a client in its history, made by this caller now (CL-9, X-3).
    pub async fn record(
        &self,
        db: &impl crate::store::GenericClient,
        client_id: uuid::Uuid,
        kind: &str,
        before: serde_json::Value,
        after: serde_json::Value,
        comment: &str,
    ) -> Result<()> {
        let change =
            crate::store::history::Change { client_id, kind, at: self.now, actor: &self.actor, before, after, comment };
        Ok(crate::store::history::record(db, &self.tenant, &change).await?)
    }

    /// The latest date that is not in the future anywhere on Earth (UTC+14).
    pub fn latest_date(&self) -> time::Date {
        (self.now + time::Duration::hours(14)).date()
    }

    /// When something happened, as a migration gives it (its original time, right
    /// `clients.import`), else now. Never in the future, never before 1900.
    pub fn original_time(&self, given: Option<&prost_types::Timestamp>, field: &str) -> Result<time::OffsetDateTime> {
        let Some(given) = given else { return Ok(self.now) };
        if !self.principal.has_right(IMPORT) {
            return Err(ApiError::PermissionDenied(format!(
                "{field}: only a migration gives an original time (right {IMPORT}); leave it out to record now"
            )));
        }
        let earliest = time::macros::datetime!(1900-01-01 0:00 UTC);
        match loyalty_platform::convert::from_timestamp(given) {
            Some(t) if t > self.now + time::Duration::minutes(5) => Err(ApiError::field(field, "is in the future")),
            Some(t) if t < earliest => Err(ApiError::field(field, "is before 1900")),
            Some(t) => Ok(t),
            None => Err(ApiError::field(field, "is not a time")),
        }
    }
}

/// The right of a migration: clients keep their original registration and consent times.
pub const IMPORT: &str = "clients.import";

/// A client id from the wire.
pub fn client_id(field: &str, text: &str) -> Result<uuid::Uuid> {
    if text.is_empty() {
        return Err(ApiError::field(field, "is required"));
    }
    uuid::Uuid::parse_str(text).map_err(|_| ApiError::field(field, "is not a client id (UUID)"))
}
