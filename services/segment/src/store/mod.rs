//! Every SQL statement of the segment service.
pub mod facts;
