//! The gRPC face of the import-export service: decode, ask who is calling, call the store, encode.
mod exports;
mod jobs;
mod uploads;

use crate::config::JobSettings;
use crate::exporter::Exporter;
use crate::store::jobs::Job;
use loyalty_api::common::v1::{Actor, FileChunk};
use loyalty_api::events::v1::{Event, WatchEventsRequest};
use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::import_export_service_server::ImportExportService;
use loyalty_platform::clock::SharedClock;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::reply;
use loyalty_platform::outbox::Outbox;
use loyalty_platform::request::Caller;
use loyalty_platform::service::ServiceKit;
use prost::Message;
use std::pin::Pin;
use tonic::{Request, Response, Status, Streaming};

#[derive(Clone)]
pub struct ImportExportApi {
    pool: deadpool_postgres::Pool,
    outbox: Outbox,
    clock: SharedClock,
    settings: JobSettings,
    /// The fact catalogue an export's columns are checked against.
    exports: Exporter,
}

impl ImportExportApi {
    pub fn new(kit: &ServiceKit, settings: JobSettings, clock: SharedClock, exports: Exporter) -> Self {
        Self { pool: kit.pool.clone(), outbox: kit.outbox.clone(), clock, settings, exports }
    }
}

/// Whether `caller` may see `job`: the right of its kind (an import's `import.run`, an export's
/// `clients.export`), and for a store-scoped token, a job started within its stores.
fn sees(caller: &Caller, job: &Job) -> bool {
    let right = if job.kind.starts_with("import_") { crate::IMPORT_RIGHT } else { crate::EXPORT_RIGHT };
    let in_scope = match (caller.principal.store_scope(), &job.store_scope) {
        (None, _) => true,
        (Some(mine), Some(its)) => its.iter().all(|s| mine.contains(s)),
        (Some(_), None) => false,
    };
    let operations = job.kind != crate::exporter::OPERATIONS || caller.principal.has_right(exports::OPERATIONS_RIGHT);
    caller.principal.has_right(right) && operations && in_scope
}

/// A new queued job of `kind`, started now by `caller`: it keeps the caller's actor and store
/// scope, and runs with them.
fn queued(caller: &Caller, kind: &str) -> Job {
    Job {
        tenant: caller.tenant.clone(),
        id: uuid::Uuid::now_v7(),
        kind: kind.into(),
        state: "queued".into(),
        request: Default::default(),
        created_by: caller.actor.encode_to_vec(),
        store_scope: caller.principal.store_scope().map(<[String]>::to_vec),
        upload_id: None,
        encoding: String::new(),
        delimiter: String::new(),
        rows_done: 0,
        rows_total: 0,
        rows_imported: 0,
        rows_failed: 0,
        duplicate_warnings: 0,
        error: String::new(),
        created_at: caller.now,
        updated_at: caller.now,
        finished_at: None,
        export: None,
        header: None,
        file_size: 0,
        sha256: String::new(),
        expires_at: None,
        purged_at: None,
    }
}

fn state(s: &str) -> pb::JobState {
    match s {
        "queued" => pb::JobState::Queued,
        "running" => pb::JobState::Running,
        "succeeded" => pb::JobState::Succeeded,
        "failed" => pb::JobState::Failed,
        "cancelled" => pb::JobState::Cancelled,
        _ => pb::JobState::Unspecified,
    }
}

pub fn job(j: &Job) -> pb::Job {
    pb::Job {
        id: j.id.to_string(),
        kind: j.kind.clone(),
        state: state(&j.state) as i32,
        rows_done: j.rows_done,
        rows_total: j.rows_total,
        rows_imported: j.rows_imported,
        rows_failed: j.rows_failed,
        duplicate_warnings: j.duplicate_warnings,
        error: j.error.clone(),
        created_at: Some(to_timestamp(j.created_at)),
        finished_at: j.finished_at.map(to_timestamp),
        expires_at: j.expires_at.map(to_timestamp),
        file_name: j.request.file_name.clone(),
        file_size: if j.kind.starts_with("export_") { j.file_size } else { j.request.file_size },
        created_by: Actor::decode(j.created_by.as_slice()).ok(),
        dry_run: j.request.dry_run,
        encoding: j.encoding.clone(),
        delimiter: j.delimiter.clone(),
        upload_id: j.upload_id.clone().unwrap_or_default(),
        updated_at: Some(to_timestamp(j.updated_at)),
        sha256: j.sha256.clone(),
    }
}

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl ImportExportService for ImportExportApi {
    async fn start_import(&self, r: Request<Streaming<pb::StartImportRequest>>) -> Result<Response<pb::Job>, Status> {
        reply(uploads::start_import(self, r).await)
    }
    async fn get_upload(&self, r: Request<pb::GetUploadRequest>) -> Result<Response<pb::Upload>, Status> {
        reply(uploads::get_upload(self, r).await)
    }
    async fn start_export(&self, r: Request<pb::StartExportRequest>) -> Result<Response<pb::Job>, Status> {
        reply(exports::start(self, r).await)
    }
    async fn get_job(&self, r: Request<pb::GetJobRequest>) -> Result<Response<pb::Job>, Status> {
        reply(jobs::get(self, r).await)
    }
    type WatchJobStream = Stream<pb::Job>;
    async fn watch_job(&self, r: Request<pb::GetJobRequest>) -> Result<Response<Self::WatchJobStream>, Status> {
        reply(jobs::watch(self, r).await)
    }
    async fn list_jobs(&self, r: Request<pb::ListJobsRequest>) -> Result<Response<pb::ListJobsResponse>, Status> {
        reply(jobs::list(self, r).await)
    }
    async fn cancel_job(&self, r: Request<pb::CancelJobRequest>) -> Result<Response<pb::Job>, Status> {
        reply(jobs::cancel(self, r).await)
    }
    async fn list_row_reports(
        &self,
        r: Request<pb::ListRowReportsRequest>,
    ) -> Result<Response<pb::ListRowReportsResponse>, Status> {
        reply(jobs::row_reports(self, r).await)
    }
    type DownloadErrorFileStream = Stream<FileChunk>;
    async fn download_error_file(
        &self,
        r: Request<pb::DownloadExportRequest>,
    ) -> Result<Response<Self::DownloadErrorFileStream>, Status> {
        reply(jobs::error_file(self, r).await)
    }
    type DownloadExportStream = Stream<FileChunk>;
    async fn download_export(
        &self,
        r: Request<pb::DownloadExportRequest>,
    ) -> Result<Response<Self::DownloadExportStream>, Status> {
        reply(exports::download(self, r).await)
    }
    type WatchEventsStream = Stream<Event>;
    async fn watch_events(&self, r: Request<WatchEventsRequest>) -> Result<Response<Self::WatchEventsStream>, Status> {
        self.outbox.serve(r)
    }
}
