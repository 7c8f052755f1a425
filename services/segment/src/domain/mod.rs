//! The segment service's rules, without a database.
pub mod facts;
pub mod text;
pub mod validate;
