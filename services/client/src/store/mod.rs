//! SQL, one function per query, returning domain types. Every query filters by tenant.
//!
//! Statements on hot paths go through [`query`] and friends (the platform's cached statements).
pub mod bulk;
pub mod clients;
pub mod columns;
pub mod consents;
pub mod history;
pub mod list;
pub mod settings;
pub mod tags;

pub use deadpool_postgres::GenericClient;
pub use loyalty_platform::db::cached::{query, query_one, query_opt};
