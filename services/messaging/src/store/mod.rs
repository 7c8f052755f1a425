//! Every SQL statement of the messaging service.
pub mod campaigns;
pub mod caps;
pub mod contacts;
pub mod deliveries;
pub mod providers;
pub mod templates;
pub mod triggers;

pub use deadpool_postgres::GenericClient;
