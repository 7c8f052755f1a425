//! The segment service (SPEC SE-1 .. SE-9): a read model of every client fact built from the
//! client, card, ledger and messaging feeds, the filter language evaluated over it, segments,
//! dashboards and reports. It owns the `segment` schema.
//!
//! Built in steps (issue "Segment service, part 1"): the filter language's text form comes first
//! (`domain::text`); the read model, the evaluation and the gRPC service follow.
pub mod domain;
