//! What every loyalty service needs and nothing service-specific: settings, telemetry, Postgres
//! pool and migrations, the auth/tenant layer, error -> `Status` helpers, the server bootstrap, and
//! the outbox with its event feed and feed consumer.

pub mod auth;
pub mod clock;
pub mod config;
pub mod convert;
pub mod db;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod metrics;
pub mod outbox;
pub mod request;
pub mod secret;
pub mod server;
pub mod service_main;
pub mod telemetry;
pub mod verified_tokens;

pub use auth::Principal;
pub use secret::Secret;
