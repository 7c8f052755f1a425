//! The loyalty ledger (SPEC LE-1 .. LE-11). Work in progress: the domain model — programme rules,
//! the lot account with first-expiring-first spending, reservations, expiry, returns and debt, and
//! the hash chain of entries — is here and property-tested; storage, the gRPC service and the feeds
//! follow in the next steps of its issue.
pub mod domain;
