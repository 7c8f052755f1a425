//! StartExport and DownloadExport (IE-3, IE-4): an audience's clients out as CSV, XLSX or an
//! e-mail list, produced as a job under the principal that asked, downloadable for 24 hours in
//! chunks that resume at an offset.
use super::{ImportExportApi, Stream, job};
use crate::domain::export;
use crate::exporter::{OPERATIONS, encode_audience, extension};
use crate::store::jobs::{ExportRequest, ImportRequest, Job};
use crate::store::{files, jobs};
use loyalty_api::common::v1::FileChunk;
use loyalty_api::common::v1::TimeRange;
use loyalty_api::filter::v1::{Audience, Entity};
use loyalty_api::importexport::v1 as pb;
use loyalty_platform::convert::from_timestamp;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::idempotency;
use loyalty_platform::request::Caller;
use tonic::{Request, Status};

const LANGUAGES: &[&str] = &["", "en", "lt", "ru", "pl", "ro"];

/// Exporting operations needs the ledger's read right besides `clients.export`.
pub const OPERATIONS_RIGHT: &str = "ledger.read";

pub async fn start(api: &ImportExportApi, request: Request<pb::StartExportRequest>) -> ApiResult<pb::Job> {
    let caller = Caller::new(&request, request.get_ref().context.as_ref(), api.clock.as_ref())?;
    let body = request.into_inner();
    let asked = read(api, &caller, &body).await?;
    let mut db = api.pool.get().await?;
    let tx = db.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &caller, "StartExport", &body).await? {
        return Ok(answer);
    }
    let today = caller.now.date();
    let operations = body.kind == pb::ExportKind::LedgerOperations as i32;
    let (kind, stem) = if operations { (OPERATIONS, "operacijos") } else { ("export_clients", "klientai") };
    let file_name = format!("{stem}-{today}.{}", extension(&asked.format));
    let new = Job {
        request: ImportRequest { file_name, ..Default::default() },
        export: Some(asked),
        ..super::queued(&caller, kind)
    };
    jobs::create_export(&tx, &new).await?;
    let answer = job(&new);
    idempotency::keep(&tx, &caller, &answer.id, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// What the request asks for, every problem at once; the columns checked against the fact
/// catalogue (client facts only: a column holds one value per client).
async fn read(api: &ImportExportApi, caller: &Caller, body: &pb::StartExportRequest) -> ApiResult<ExportRequest> {
    let mut v = Violations::new();
    let operations = match pb::ExportKind::try_from(body.kind) {
        Ok(pb::ExportKind::Clients | pb::ExportKind::Unspecified) => false,
        Ok(pb::ExportKind::LedgerOperations) => true,
        Err(_) => {
            v.add("kind", "must be clients or ledger operations");
            false
        }
    };
    if operations && !caller.principal.has_right(OPERATIONS_RIGHT) {
        return Err(ApiError::PermissionDenied(format!("exporting loyalty operations needs {OPERATIONS_RIGHT:?}")));
    }
    let format = match pb::FileFormat::try_from(body.format) {
        Ok(pb::FileFormat::Csv) => "csv",
        Ok(pb::FileFormat::Xlsx) => "xlsx",
        Ok(pb::FileFormat::EmailList) => "emails",
        Ok(pb::FileFormat::Pdf) => "pdf",
        _ => {
            v.add("format", "is required: csv, xlsx or email list");
            "csv"
        }
    };
    let audience = match &body.audience {
        Some(a) if a.source.is_some() => a.clone(),
        _ => {
            v.add("audience", "is required: all clients, a segment, a filter or client ids");
            Default::default()
        }
    };
    if !LANGUAGES.contains(&body.language.as_str()) {
        v.add("language", "must be en, lt, ru, pl or ro");
    }
    let period = read_period(&body.period, &mut v);
    if operations {
        if format == "emails" {
            v.add("format", "an e-mail list is of clients: export operations as csv, xlsx or pdf");
        }
        if !body.columns.is_empty() || !body.data_groups.is_empty() || body.only_consented {
            v.add(
                "columns",
                "an operations export has its own columns; columns, data groups and only consented are for clients",
            );
        }
        if !v.is_empty() {
            return Err(ApiError::InvalidArgument(v));
        }
        return Ok(ExportRequest {
            period_start: period.0,
            period_end: period.1,
            ..request(body, format, &audience, vec![])
        });
    }
    let mut groups = Vec::new();
    for (i, name) in body.data_groups.iter().enumerate() {
        match export::group(name) {
            Some(_) if name == "historical" && period == (None, None) => v.add(
                format!("data_groups[{i}]"),
                "historical data is for a period: give period.start, period.end or both",
            ),
            Some(g) => groups.push(g),
            None => v.add(format!("data_groups[{i}]"), "must be personal, financial, behavioural or historical"),
        }
    }
    let columns =
        if format == "emails" { vec!["client.email".to_string()] } else { export::columns(&body.columns, &groups) };
    let catalogue = api.exports.catalogue(caller.tenant.as_str(), "en").await.map_err(ApiError::Internal)?;
    for (i, name) in columns.iter().enumerate() {
        let field = match (i < body.columns.len(), body.data_groups.is_empty()) {
            (true, _) => format!("columns[{i}]"),
            (false, false) => "data_groups".into(),
            (false, true) => "columns".into(),
        };
        match catalogue.iter().find(|f| &f.name == name) {
            None => v.add(field, format!("{name:?} is not a fact of the catalogue (SegmentService.ListFacts)")),
            Some(f) if f.entity() != Entity::Client => {
                v.add(field, format!("{name:?} is a fact of each purchase or card, not one value per client"))
            }
            Some(_) => {}
        }
    }
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    Ok(ExportRequest { period_start: period.0, period_end: period.1, ..request(body, format, &audience, columns) })
}

fn request(body: &pb::StartExportRequest, format: &str, audience: &Audience, columns: Vec<String>) -> ExportRequest {
    ExportRequest {
        format: format.into(),
        audience: encode_audience(audience),
        columns,
        anonymise: body.anonymise,
        only_consented: body.only_consented,
        language: if body.language.is_empty() { "en".into() } else { body.language.clone() },
        csv_bom: body.csv_bom,
        period_start: None,
        period_end: None,
    }
}

/// The period as Unix seconds, its start before its end.
fn read_period(period: &Option<TimeRange>, v: &mut Violations) -> (Option<i64>, Option<i64>) {
    let range = period.unwrap_or_default();
    let mut read = |t: Option<prost_types::Timestamp>, field: &str| {
        let t = t?;
        match from_timestamp(&t) {
            Some(at) if (1900..=9999).contains(&at.year()) => Some(at.unix_timestamp()),
            _ => {
                v.add(field, "is out of range (years 1900 to 9999)");
                None
            }
        }
    };
    let (start, end) = (read(range.start, "period.start"), read(range.end, "period.end"));
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        v.add("period.end", "must be after period.start");
    }
    (start, end)
}

pub async fn download(
    api: &ImportExportApi,
    request: Request<pb::DownloadExportRequest>,
) -> ApiResult<Stream<FileChunk>> {
    let caller = Caller::new(&request, None, api.clock.as_ref())?;
    let body = request.into_inner();
    let found = super::jobs::visible(api, &caller, super::jobs::job_id(&body.job_id)?).await?;
    if !found.kind.starts_with("export_") {
        return Err(ApiError::FailedPrecondition("only an export has a file to download".into()));
    }
    if found.state != "succeeded" {
        return Err(ApiError::FailedPrecondition(format!(
            "the export is {}: its file is ready when it succeeds",
            found.state
        )));
    }
    let expired = found.purged_at.is_some() || found.expires_at.is_some_and(|at| at <= caller.now);
    if expired {
        return Err(ApiError::Status(Status::not_found(
            "the export's file was deleted 24 hours after it was made; export again",
        )));
    }
    if body.offset < 0 || body.offset > found.file_size {
        return Err(ApiError::field("offset", &format!("must be between 0 and the file's {} bytes", found.file_size)));
    }
    let pool = api.pool.clone();
    let stream = async_stream::try_stream! {
        let unavailable = |e: anyhow::Error| Status::unavailable(e.to_string());
        let mut at = body.offset;
        while at < found.file_size {
            let db = pool.get().await.map_err(|e| unavailable(e.into()))?;
            let chunks = files::chunks(&db, &found.tenant, found.id, at, 4).await.map_err(unavailable)?;
            drop(db);
            if chunks.is_empty() {
                Err(Status::not_found("the export's file was deleted while it was read"))?;
            }
            for (start, data) in chunks {
                let skip = usize::try_from(at - start).unwrap_or(0);
                let data = data.get(skip..).unwrap_or_default().to_vec();
                let len = data.len() as i64;
                yield FileChunk { data, offset: at };
                at += len;
            }
        }
    };
    Ok(Box::pin(stream))
}
