//! Every SQL statement of the service, named for what it does to a job.
pub mod files;
pub mod jobs;
pub mod reports;
pub mod uploads;

pub use deadpool_postgres::GenericClient;
