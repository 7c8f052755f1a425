//! Who is calling and when, built once per request: the principal from the token, the actor recorded
//! in history and events, the idempotency key, and the token to forward to other services.
use crate::Principal;
use crate::auth::ForwardToken;
use crate::clock::Clock;
use loyalty_api::common::v1::{Actor, Channel, RequestContext, actor};
use loyalty_api::events::v1::{Event, event::Payload};
use time::OffsetDateTime;
use tonic::Status;

pub struct Caller {
    pub tenant: String,
    pub principal: Principal,
    pub actor: Actor,
    pub now: OffsetDateTime,
    pub idempotency_key: String,
    /// The caller's bearer token, forwarded on calls to other services.
    pub token: ForwardToken,
}

impl Caller {
    /// Reads the principal the auth layer put on `request` and the request's context (channel,
    /// store, idempotency key). A missing channel means the console for users, the API otherwise.
    pub fn new<T>(
        request: &tonic::Request<T>,
        context: Option<&RequestContext>,
        clock: &dyn Clock,
    ) -> Result<Caller, Status> {
        let principal = crate::auth::principal(request)?.clone();
        let context = context.cloned().unwrap_or_default();
        let mut channel = Channel::try_from(context.channel).unwrap_or(Channel::Unspecified);
        if channel == Channel::Unspecified {
            channel = if principal.kind == actor::Kind::User { Channel::Console } else { Channel::Api };
        }
        Ok(Caller {
            tenant: principal.tenant.clone(),
            actor: principal.actor(channel, &context.store_id),
            principal,
            now: clock.now(),
            idempotency_key: context.idempotency_key,
            token: ForwardToken::of(request),
        })
    }

    /// An event of this caller's tenant and actor, at this request's time.
    pub fn event(&self, subject: &str, payload: Payload) -> Event {
        let mut e = crate::outbox::event(&self.tenant, self.actor.clone(), subject, payload);
        e.occurred_at = Some(crate::convert::to_timestamp(self.now));
        e
    }
}
