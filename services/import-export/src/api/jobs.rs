//! Reading jobs: one, its progress as a stream, the list, cancelling, row reports and the file of
//! refused rows.
use super::{ImportExportApi, Stream, job, sees};
use crate::store::jobs::Job;
use crate::store::{jobs, reports};
use loyalty_api::common::v1::{FieldViolation, FileChunk, PageInfo};
use loyalty_api::importexport::v1 as pb;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::request::Caller;
use std::time::Duration;
use tonic::Request;
use uuid::Uuid;

pub(super) fn job_id(text: &str) -> ApiResult<Uuid> {
    if text.is_empty() {
        return Err(ApiError::field("job_id", "is required"));
    }
    Uuid::parse_str(text).map_err(|_| ApiError::field("job_id", "is not a job id (UUID)"))
}

/// The job `id` if the caller may see it, else NOT_FOUND (never a hint that it exists).
pub(super) async fn visible(api: &ImportExportApi, caller: &Caller, id: Uuid) -> ApiResult<Job> {
    match jobs::get(&api.pool.get().await?, &caller.tenant, id).await? {
        Some(j) if sees(caller, &j) => Ok(j),
        _ => Err(ApiError::NotFound("job")),
    }
}

pub async fn get(api: &ImportExportApi, request: Request<pb::GetJobRequest>) -> ApiResult<pb::Job> {
    let caller = Caller::new(&request, None, api.clock.as_ref())?;
    Ok(job(&visible(api, &caller, job_id(&request.get_ref().job_id)?).await?))
}

/// The job now and at every change until it ends.
pub async fn watch(api: &ImportExportApi, request: Request<pb::GetJobRequest>) -> ApiResult<Stream<pb::Job>> {
    let caller = Caller::new(&request, None, api.clock.as_ref())?;
    let first = visible(api, &caller, job_id(&request.get_ref().job_id)?).await?;
    let pool = api.pool.clone();
    let stream = async_stream::try_stream! {
        let mut last = first;
        yield job(&last);
        while !last.is_final() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let db = pool.get().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            let now = jobs::get(&db, &last.tenant, last.id).await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            let Some(now) = now else { break };
            if now.updated_at != last.updated_at || now.state != last.state {
                yield job(&now);
            }
            last = now;
        }
    };
    Ok(Box::pin(stream))
}

fn page(req: Option<&loyalty_api::common::v1::PageRequest>) -> ApiResult<(i64, i64)> {
    let size = req.map(|p| p.page_size).unwrap_or(0);
    let size = if size <= 0 { 50 } else { size.min(1000) } as i64;
    let token = req.map(|p| p.page_token.as_str()).unwrap_or("");
    let offset = if token.is_empty() {
        0
    } else {
        token
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .ok_or_else(|| ApiError::field("page.page_token", "is not a token this list gave"))?
    };
    Ok((offset, size))
}

pub async fn list(api: &ImportExportApi, request: Request<pb::ListJobsRequest>) -> ApiResult<pb::ListJobsResponse> {
    let caller = Caller::new(&request, None, api.clock.as_ref())?;
    let (offset, size) = page(request.get_ref().page.as_ref())?;
    let mut kinds = Vec::new();
    if caller.principal.has_right(crate::IMPORT_RIGHT) {
        kinds.push("import_");
    }
    if caller.principal.has_right(crate::EXPORT_RIGHT) {
        kinds.push("export_");
    }
    let db = api.pool.get().await?;
    let (found, total) =
        jobs::list(&db, &caller.tenant, &kinds, caller.principal.store_scope(), (offset, size)).await?;
    let next = offset + found.len() as i64;
    let next_page_token = if next < total { next.to_string() } else { String::new() };
    Ok(pb::ListJobsResponse {
        jobs: found.iter().map(job).collect(),
        page: Some(PageInfo { next_page_token, total_size: total }),
    })
}

pub async fn cancel(api: &ImportExportApi, request: Request<pb::CancelJobRequest>) -> ApiResult<pb::Job> {
    let caller = Caller::new(&request, None, api.clock.as_ref())?;
    let found = visible(api, &caller, job_id(&request.get_ref().job_id)?).await?;
    if found.is_final() {
        return Err(ApiError::FailedPrecondition(format!("the job already ended ({})", found.state)));
    }
    let keep_until = caller.now + time::Duration::hours(api.settings.retention_hours);
    match jobs::cancel(&api.pool.get().await?, &caller.tenant, found.id, keep_until).await? {
        Some(cancelled) => Ok(job(&cancelled)),
        None => Err(ApiError::FailedPrecondition("the job ended while it was being cancelled".into())),
    }
}

pub async fn row_reports(
    api: &ImportExportApi,
    request: Request<pb::ListRowReportsRequest>,
) -> ApiResult<pb::ListRowReportsResponse> {
    let caller = Caller::new(&request, None, api.clock.as_ref())?;
    let found = visible(api, &caller, job_id(&request.get_ref().job_id)?).await?;
    let (after_row, size) = page(request.get_ref().page.as_ref())?;
    let db = api.pool.get().await?;
    let rows = reports::page(&db, &caller.tenant, found.id, after_row, size, false).await?;
    let total = reports::count(&db, &caller.tenant, found.id).await?;
    let next_page_token = match rows.last() {
        Some(last) if rows.len() as i64 == size => last.row.to_string(),
        _ => String::new(),
    };
    let reports = rows
        .into_iter()
        .map(|r| pb::RowReport {
            row: r.row,
            severity: r.severity.into(),
            violations: r
                .violations
                .into_iter()
                .map(|(field, description)| FieldViolation { field, description })
                .collect(),
            client_id: r.client_id.map(|c| c.to_string()).unwrap_or_default(),
        })
        .collect();
    Ok(pb::ListRowReportsResponse { reports, page: Some(PageInfo { next_page_token, total_size: total }) })
}

/// The refused rows in the uploaded layout, a "reason" column last, as UTF-8 CSV with a
/// byte-order mark (so a spreadsheet shows Lithuanian letters), in the file's delimiter.
pub async fn error_file(
    api: &ImportExportApi,
    request: Request<pb::DownloadExportRequest>,
) -> ApiResult<Stream<FileChunk>> {
    let caller = Caller::new(&request, None, api.clock.as_ref())?;
    let found = visible(api, &caller, job_id(&request.get_ref().job_id)?).await?;
    if !found.kind.starts_with("import_") {
        return Err(ApiError::FailedPrecondition("only an import has an error file".into()));
    }
    if !found.is_final() {
        return Err(ApiError::FailedPrecondition(
            "the import is still running: its error file is ready when it ends".into(),
        ));
    }
    let header = match &found.header {
        Some(header) => header.clone(),
        None => vec![],
    };
    let pool = api.pool.clone();
    let delimiter = found.delimiter.bytes().next().unwrap_or(b',');
    let stream = async_stream::try_stream! {
        let unavailable = |e: anyhow::Error| tonic::Status::unavailable(e.to_string());
        let mut data = vec![0xEF, 0xBB, 0xBF];
        data.extend(csv_lines(delimiter, [header.iter().cloned().chain(["reason".to_string()]).collect()]).map_err(unavailable)?);
        let (mut offset, mut after) = (0i64, 0);
        loop {
            let db = pool.get().await.map_err(|e| unavailable(e.into()))?;
            let rows = reports::page(&db, &found.tenant, found.id, after, 1000, true).await.map_err(unavailable)?;
            drop(db);
            let Some(last) = rows.last() else { break };
            after = last.row;
            let lines = rows.iter().map(|r| {
                let reason: Vec<String> = r.violations.iter().map(|(c, why)| format!("{c}: {why}")).collect();
                r.cells.iter().cloned().chain([format!("row {}: {}", r.row, reason.join("; "))]).collect()
            });
            data.extend(csv_lines(delimiter, lines).map_err(unavailable)?);
            let len = data.len() as i64;
            yield FileChunk { data: std::mem::take(&mut data), offset };
            offset += len;
        }
        if !data.is_empty() {
            yield FileChunk { data, offset };
        }
    };
    Ok(Box::pin(stream))
}

/// Records as CSV lines.
fn csv_lines(delimiter: u8, records: impl IntoIterator<Item = Vec<String>>) -> anyhow::Result<Vec<u8>> {
    let mut out = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
    for record in records {
        out.write_record(&record)?;
    }
    out.into_inner().map_err(|e| anyhow::anyhow!("writing CSV: {e}"))
}
