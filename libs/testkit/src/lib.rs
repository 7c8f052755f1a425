//! What tests (and `loyalty dev up --demo`, and the benchmarks) share: a real Postgres per test,
//! services started in-process on an ephemeral port with authenticated clients, and deterministic
//! demo data.
mod app;
pub mod browser;
pub mod demo;
pub mod http;
pub mod recorder;
pub mod shopping;
pub mod smtp;
pub mod support;

pub use app::{ServiceCall, TEST_ISSUER, TestApp, signer, test_settings};
pub use loyalty_localpg::{TestDatabase, test_database};
