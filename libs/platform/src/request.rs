//! Who is calling and when, built once per request: the principal from the token, the actor recorded
//! in history and events, the idempotency key, and the token to forward to other services.
//!
//! The four questions every RPC answers start here: the right (checked by the auth layer before
//! the handler runs), the tenant (the token's, never the body's), the stores a scoped token may
//! touch ([`Caller::check_store`] for every store id a body names), and which body fields are
//! trusted (none: ids from a body are looked up within the caller's tenant and scope).
use crate::Principal;
use crate::auth::ForwardToken;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::ids::{StoreId, TenantId};
use loyalty_api::common::v1::{Actor, Channel, RequestContext, actor};
use loyalty_api::events::v1::{Event, event::Payload};
use time::OffsetDateTime;

pub struct Caller {
    pub tenant: TenantId,
    pub principal: Principal,
    pub actor: Actor,
    pub now: OffsetDateTime,
    pub idempotency_key: String,
    /// The caller's bearer token, forwarded on calls made on the caller's behalf.
    pub token: ForwardToken,
}

impl Caller {
    /// Reads the principal the auth layer put on `request` and the request's context (channel,
    /// store, idempotency key). A missing channel means the console for users, the API otherwise.
    /// A store the context names must be one the token may act in.
    pub fn new<T>(
        request: &tonic::Request<T>,
        context: Option<&RequestContext>,
        clock: &dyn Clock,
    ) -> ApiResult<Caller> {
        let principal = crate::auth::principal(request)?.clone();
        if principal.tenant.is_empty() {
            return Err(ApiError::denied("a service identity must name the tenant it acts for in x-loyalty-tenant"));
        }
        let context = context.cloned().unwrap_or_default();
        let mut channel = Channel::try_from(context.channel).unwrap_or(Channel::Unspecified);
        if channel == Channel::Unspecified {
            channel = if principal.kind == actor::Kind::User { Channel::Console } else { Channel::Api };
        }
        let store = StoreId::parse_optional("context.store_id", &context.store_id)?;
        let caller = Caller {
            tenant: TenantId::trusted(&principal.tenant),
            actor: principal.actor(channel, store.as_ref().map(StoreId::as_str).unwrap_or("")),
            principal,
            now: clock.now(),
            idempotency_key: context.idempotency_key,
            token: ForwardToken::of(request),
        };
        if let Some(store) = &store {
            caller.check_store("context.store_id", store)?;
        }
        Ok(caller)
    }

    /// PERMISSION_DENIED unless a store-scoped token may act in `store` (a store id from a request
    /// body is checked, never believed).
    pub fn check_store(&self, field: &str, store: &StoreId) -> ApiResult<()> {
        if self.principal.may_act_in(store.as_str()) {
            return Ok(());
        }
        Err(ApiError::denied(format!("{field}: your token may act only in the stores {}", self.scope_text())))
    }

    fn scope_text(&self) -> String {
        self.principal.store_scope().map(|s| s.join(", ")).unwrap_or_default()
    }

    /// The store of the request's context (where the till is), if any.
    pub fn store(&self) -> Option<StoreId> {
        (!self.actor.store_id.is_empty()).then(|| StoreId::trusted(&self.actor.store_id))
    }

    /// INVALID_ARGUMENT unless the request carries an idempotency key (writes a POS retries).
    pub fn require_key(&self) -> ApiResult<()> {
        if self.idempotency_key.trim().is_empty() {
            return Err(ApiError::field("context.idempotency_key", "is required: this write must be safe to retry"));
        }
        Ok(())
    }

    /// An event of this caller's tenant and actor, at this request's time.
    pub fn event(&self, subject: &str, payload: Payload) -> Event {
        let mut e = crate::outbox::event(self.tenant.as_str(), self.actor.clone(), subject, payload);
        e.occurred_at = Some(crate::convert::to_timestamp(self.now));
        e
    }
}
