//! The loyalty ledger (SPEC LE-1 .. LE-11). Work in progress: the domain model — programme rules,
//! the lot account with first-expiring-first spending, reservations, expiry, returns and debt, and
//! the hash chain of entries — is here and property-tested, with the storage of accounts, lots and
//! chained entries; the gRPC service, idempotency, purchases and the feeds follow in the next steps
//! of its issue.
pub mod balances;
pub mod domain;
pub mod expiry;
pub mod ops;
pub mod programmes;
pub mod purchases;
pub mod reservations;
pub mod returns;
pub mod store;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The schema this service owns, unless `database.schema` says otherwise.
pub const SCHEMA: &str = "ledger";

pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}
