//! Every SQL statement of the segment service.
pub mod automatic;
pub mod facts;
pub mod published;
pub mod segments;
