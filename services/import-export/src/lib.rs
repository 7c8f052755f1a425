//! The import-export service: a chain's client base in from CSV files, as resumable jobs with a
//! report per row (SPEC IE-1, IE-2). It owns the `importexport` schema: uploads, jobs and row
//! reports. Rows are created by the client service's `ImportClients`, called under this service's
//! identity for the tenant and store scope of the person who started the job.
pub mod api;
pub mod config;
pub mod domain;
pub mod importer;
pub mod reader;
pub mod store;

pub use config::Settings;

use loyalty_api::importexport::v1::import_export_service_server::ImportExportServiceServer;
use loyalty_platform::outbox::READ_EVENTS;
use loyalty_platform::server::Services;
use loyalty_platform::service::ServiceKit;
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

/// What the service's own identity may do: create the clients of an import.
pub const IDENTITY_RIGHTS: &[&str] = &["clients.import", "clients.read"];

/// Migrates the schema, starts the job runner and adds the service.
pub async fn register(settings: &Settings, services: &mut Services) -> anyhow::Result<()> {
    let platform = &settings.platform;
    let kit = ServiceKit::start(NAME, platform, services, (migrations(), IDENTITY_RIGHTS)).await?;
    let runner = importer::Runner::new(&kit, settings.importexport.clone())?;
    kit.every("import jobs", Duration::from_millis(settings.importexport.poll_every_ms), move || {
        let runner = runner.clone();
        async move { runner.pass().await }
    });
    let api = api::ImportExportApi::new(&kit, settings.importexport.clone());
    services.add(ImportExportServiceServer::new(api), RIGHTS);
    Ok(())
}
