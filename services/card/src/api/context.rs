//! Who is calling, when, and with which token (forwarded to the client service).
use crate::error::{CardError, Result};
use loyalty_api::common::v1::{Actor, Channel, RequestContext, actor};
use loyalty_api::events::v1::{Event, event::Payload};
use loyalty_platform::Principal;
use loyalty_platform::auth::ForwardToken;
use loyalty_platform::clock::Clock;
use time::OffsetDateTime;

pub struct Ctx {
    pub tenant: String,
    pub principal: Principal,
    pub actor: Actor,
    pub now: OffsetDateTime,
    pub idempotency_key: String,
    /// The caller's bearer token, forwarded on calls to other services.
    pub token: ForwardToken,
}

impl Ctx {
    pub fn new<T>(request: &tonic::Request<T>, context: Option<&RequestContext>, clock: &dyn Clock) -> Result<Ctx> {
        let principal = loyalty_platform::auth::principal(request)?.clone();
        let context = context.cloned().unwrap_or_default();
        let mut channel = Channel::try_from(context.channel).unwrap_or(Channel::Unspecified);
        if channel == Channel::Unspecified {
            channel = if principal.kind == actor::Kind::User { Channel::Console } else { Channel::Api };
        }
        Ok(Ctx {
            tenant: principal.tenant.clone(),
            actor: principal.actor(channel, &context.store_id),
            principal,
            now: clock.now(),
            idempotency_key: context.idempotency_key,
            token: ForwardToken::of(request),
        })
    }

    pub fn event(&self, subject: &str, payload: Payload) -> Event {
        let mut e = loyalty_platform::outbox::event(&self.tenant, self.actor.clone(), subject, payload);
        e.occurred_at = Some(loyalty_platform::convert::to_timestamp(self.now));
        e
    }

    /// A request to another service carrying the caller's token.
    pub fn forward<T>(&self, message: T) -> tonic::Request<T> {
        self.token.request(message)
    }
}

pub fn uuid(field: &str, text: &str) -> Result<uuid::Uuid> {
    if text.is_empty() {
        return Err(CardError::field(field, "is required"));
    }
    uuid::Uuid::parse_str(text).map_err(|_| CardError::field(field, "is not an id (UUID)"))
}

pub fn optional_uuid(field: &str, text: &str) -> Result<Option<uuid::Uuid>> {
    if text.is_empty() { Ok(None) } else { uuid(field, text).map(Some) }
}
