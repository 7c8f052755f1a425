//! The segment service's rules, without a database: the fact catalogue, the filter's text form and
//! its checks, and the in-memory population filters are answered from.
pub mod apply;
pub mod automatic;
pub mod bits;
pub mod column;
pub mod customers;
pub mod dashboard;
pub mod day_order;
pub mod describe;
pub mod evaluate;
pub mod facts;
pub mod history;
pub mod population;
pub mod reports;
pub mod rfm;
pub mod segments;
pub mod tally;
pub mod text;
pub mod validate;
