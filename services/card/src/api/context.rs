//! Who is calling (the platform's [`Caller`]), and ids read from the wire.
use crate::error::{CardError, Result};
use loyalty_platform::request::Caller;

/// The caller of a card-service request.
pub type Ctx = Caller;

/// A request to another service carrying the caller's token.
pub fn forward<T>(ctx: &Ctx, message: T) -> tonic::Request<T> {
    ctx.token.request(message)
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
