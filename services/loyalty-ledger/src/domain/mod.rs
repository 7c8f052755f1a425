//! The ledger's rules as plain types and functions, tested without a database.
pub mod account;
pub mod chain;
pub mod programme;
pub mod purchase;
pub mod returns;

#[cfg(test)]
mod properties;
