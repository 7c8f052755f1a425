//! What every loyalty service needs and nothing service-specific: settings, telemetry, Postgres
//! pool and migrations, the auth/tenant layer, the input check, errors, ids and money, the server
//! bootstrap, the outbox with its event feed and feed consumer, and the skeleton that builds a
//! service from them ([`service::ServiceKit`]).

pub mod auth;
pub mod clock;
pub mod config;
pub mod convert;
pub mod copy;
pub mod db;
pub mod error;
pub mod feed;
pub mod feed_ops;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod input;
pub mod keys;
pub mod metrics;
pub mod money;
pub mod outbox;
pub mod phone;
pub mod request;
pub mod secret;
pub mod server;
pub mod service;
pub mod service_main;
pub mod sweep;
pub mod telemetry;
pub mod text;
pub mod trace;
pub mod tz;
pub mod verified_tokens;

pub use auth::Principal;
pub use error::{ApiError, ApiResult};
pub use ids::{CardId, ClientId, PurchaseId, ReservationId, StoreId, TenantId};
pub use money::{Currency, Money, Points};
pub use secret::Secret;
