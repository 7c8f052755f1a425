//! The rules of an import, as pure functions: which column is which field, what a cell means,
//! which encoding and delimiter a file is written in.
pub mod cells;
pub mod export;
pub mod holdings;
pub mod layout;
pub mod text;
