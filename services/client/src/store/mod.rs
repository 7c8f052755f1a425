//! SQL, one function per query, returning domain types. Every query filters by tenant.
pub mod clients;
pub mod consents;
pub mod history;
pub mod list;
pub mod settings;
pub mod tags;

pub use tokio_postgres::GenericClient;
