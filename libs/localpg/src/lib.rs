//! A PostgreSQL to work against, for `loyalty dev up`, tests and benchmarks.
//!
//! [`Cluster`] is a private cluster started from the system's PostgreSQL binaries in a directory of
//! its own (run as the `postgres` OS user when we are root, since Postgres refuses to run as root).
//! [`test_database`] gives each test a fresh database: on `TEST_DATABASE_URL` when set, else on a
//! testcontainers Postgres when a Docker engine answers, else on a private cluster shared by every
//! test process of the machine.
mod cluster;
mod testdb;

pub use cluster::{Cluster, ClusterOptions, find_binaries, outside_data_dir};
pub use testdb::{TestDatabase, test_database};
