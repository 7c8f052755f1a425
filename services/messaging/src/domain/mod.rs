//! What messaging decides without a database: placeholders, SMS parts, who may receive what,
//! sealed secrets and signed links.
pub mod content;
pub mod cron;
pub mod links;
pub mod placeholders;
pub mod rules;
pub mod secrets;
pub mod sms;
