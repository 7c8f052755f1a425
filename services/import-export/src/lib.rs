//! The import-export service: a chain's client base in from CSV files, as resumable jobs with a
//! report per row (SPEC IE-1, IE-2), and any audience out as CSV, XLSX or an e-mail list, kept 24
//! hours (IE-3, IE-4). It owns the `importexport` schema: uploads, jobs, row reports and produced
//! files. Rows are created by the client service's `ImportClients` and read from the segment
//! service, both called under this service's identity for the tenant and store scope of the
//! person who started the job.
pub mod api;
pub mod config;
pub mod domain;
pub mod exporter;
pub mod feed;
pub mod importer;
pub mod pdf;
pub mod reader;
pub mod runner;
pub mod sheets;
pub mod store;
pub mod xlsx;

pub use config::Settings;

use loyalty_api::importexport::v1::import_export_service_server::ImportExportServiceServer;
use loyalty_platform::clock::{SharedClock, SystemClock};
use loyalty_platform::outbox::{READ_ALL_TENANTS, READ_EVENTS};
use loyalty_platform::server::Services;
use loyalty_platform::service::ServiceKit;
use std::sync::Arc;
use std::time::Duration;

/// The service's name: its settings prefix, default schema and event source.
pub const NAME: &str = "importexport";

mod embedded {
    refinery::embed_migrations!("migrations");
}

pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}

/// The right to import (IE-1).
pub const IMPORT_RIGHT: &str = "import.run";
/// The right to export and download (IE-4).
pub const EXPORT_RIGHT: &str = "clients.export";

/// The right each RPC needs. Reading a job needs `jobs.read` and the right of its kind:
/// an import's with `import.run`, an export's with `clients.export`.
pub const RIGHTS: &[(&str, &str)] = &[
    ("StartImport", IMPORT_RIGHT),
    ("GetUpload", IMPORT_RIGHT),
    ("StartExport", EXPORT_RIGHT),
    ("GetJob", "jobs.read"),
    ("WatchJob", "jobs.read"),
    ("ListJobs", "jobs.read"),
    ("CancelJob", "jobs.read"),
    ("ListRowReports", IMPORT_RIGHT),
    ("DownloadErrorFile", IMPORT_RIGHT),
    ("DownloadExport", EXPORT_RIGHT),
    ("WatchEvents", READ_EVENTS),
];

/// What the service's own identity may do: create the clients of an import, read an export's
/// audience and facts and its operations, follow the client feed (erasures).
pub const IDENTITY_RIGHTS: &[&str] = &[
    "clients.import",
    "clients.read",
    "cards.read",
    "cards.write",
    "segments.read",
    "ledger.read",
    "ledger.manual",
    "purchases.manual",
    READ_EVENTS,
    READ_ALL_TENANTS,
];

/// Migrates the schema, follows the client feed, starts the job runner and the purge, and adds
/// the service.
pub async fn register(settings: &Settings, services: &mut Services) -> anyhow::Result<()> {
    register_with_clock(settings, services, Arc::new(SystemClock)).await
}

/// Like [`register`] with a clock the caller moves (tests of the 24-hour files).
pub async fn register_with_clock(
    settings: &Settings,
    services: &mut Services,
    clock: SharedClock,
) -> anyhow::Result<()> {
    let platform = &settings.platform;
    let own = &settings.importexport;
    let kit = ServiceKit::start(NAME, platform, services, (migrations(), IDENTITY_RIGHTS)).await?;
    let clients = kit.peer_feed(&platform.peers.client, feed::CLIENT_EVENTS, loyalty_platform::feed::watch_clients)?;
    kit.follow(services, "client", clients, feed::ClientEvents { clock: clock.clone() });
    let exports = exporter::Exporter::new(&kit, own.clone(), clock.clone())?;
    let runner = runner::Runner::new(&kit, own.clone(), clock.clone(), exports.clone())?;
    let jobs = runner.clone();
    kit.every("import and export jobs", Duration::from_millis(own.poll_every_ms), move || {
        let runner = jobs.clone();
        async move { runner.pass().await }
    });
    kit.every("expired job files", Duration::from_secs(own.purge_every_s.max(1)), move || {
        let runner = runner.clone();
        async move { runner.purge().await }
    });
    let api = api::ImportExportApi::new(&kit, own.clone(), clock, exports);
    services.add(ImportExportServiceServer::new(api), RIGHTS);
    Ok(())
}
