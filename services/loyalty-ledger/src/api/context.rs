//! Helpers of the ledger's handlers: the caller, ids, idempotent writes.
use crate::error::{LedgerError, Result};
use loyalty_platform::request::Caller;
use uuid::Uuid;

pub type Ctx = Caller;

pub fn uuid(field: &str, text: &str) -> Result<Uuid> {
    if text.is_empty() {
        return Err(LedgerError::field(field, "is required"));
    }
    Uuid::parse_str(text).map_err(|_| LedgerError::field(field, "is not an id (UUID)"))
}

/// Ledger writes must be retry-safe (LE-11).
pub fn require_key(ctx: &Ctx) -> Result<()> {
    if ctx.idempotency_key.trim().is_empty() {
        return Err(LedgerError::field(
            "context.idempotency_key",
            "is required: every ledger write must be safe to retry",
        ));
    }
    Ok(())
}

/// The actor as stored on entries.
pub fn actor_json(ctx: &Ctx) -> serde_json::Value {
    let a = &ctx.actor;
    serde_json::json!({ "kind": a.kind, "id": a.id, "name": a.name, "channel": a.channel, "store_id": a.store_id })
}
