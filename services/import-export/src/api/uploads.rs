//! StartImport and GetUpload: a file arrives in chunks, survives a lost connection, and starts
//! its job when its stream ends.
use super::{ImportExportApi, job};
use crate::domain::{layout, text};
use crate::store::jobs::{ImportRequest, Job};
use crate::store::{jobs, uploads};
use loyalty_api::client::v1::MatchKey;
use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::start_import_request::Part;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::request::Caller;
use tonic::{Request, Streaming};
use uuid::Uuid;

pub async fn start_import(
    api: &ImportExportApi,
    mut request: Request<Streaming<pb::StartImportRequest>>,
) -> ApiResult<pb::Job> {
    let first = request.get_mut().message().await.map_err(ApiError::Status)?;
    let Some(Part::Header(header)) = first.and_then(|m| m.part) else {
        return Err(ApiError::field("header", "the first message of an upload must be its header"));
    };
    let caller = Caller::new(&request, header.context.as_ref(), api.clock.as_ref())?;
    let (asked, kind) = read_header(&header)?;
    let needs = match kind {
        crate::importer::CARDS => Some(("cards", "cards.write")),
        crate::importer::BALANCES => Some(("balances", "ledger.manual")),
        crate::importer::PURCHASES => Some(("purchase history", "purchases.manual")),
        _ => None,
    };
    if let Some((what, right)) = needs
        && !caller.principal.has_right(right)
    {
        return Err(ApiError::denied(format!("importing {what} needs the right {right} besides import.run")));
    }
    let upload_id = if header.upload_id.is_empty() { Uuid::now_v7().to_string() } else { header.upload_id.clone() };
    let mut db = api.pool.get().await?;
    let mut progress = uploads::open(&db, &caller.tenant, &upload_id, &asked.file_name, caller.now).await?;
    if let Some(id) = progress.job_id {
        // A retried StartImport: the job the earlier stream of the same upload started.
        return Ok(job(&super::jobs::visible(api, &caller, id).await?));
    }
    let mut stream = request.into_inner();
    while let Some(message) = stream.message().await.map_err(ApiError::Status)? {
        let chunk = match message.part {
            Some(Part::Chunk(chunk)) => chunk,
            Some(Part::Header(_)) => return Err(ApiError::field("header", "only the first message is the header")),
            None => return Err(ApiError::field("part", "a message must hold the header or a chunk")),
        };
        if chunk.offset > progress.received {
            let why = format!(
                "{} leaves a gap: the service holds {} bytes of upload {upload_id}; send from there",
                chunk.offset, progress.received
            );
            return Err(ApiError::field("chunk.offset", &why));
        }
        let skip = usize::try_from(progress.received - chunk.offset).unwrap_or(usize::MAX);
        let Some(rest) = chunk.data.get(skip..).filter(|r| !r.is_empty()) else { continue };
        if progress.received + rest.len() as i64 > api.settings.max_upload_bytes {
            let why = format!("the file is larger than the {} bytes an upload may hold", api.settings.max_upload_bytes);
            return Err(ApiError::field("chunk", &why));
        }
        if !uploads::append(&mut db, &caller.tenant, &upload_id, progress.received, rest).await? {
            return Err(ApiError::Aborted(format!(
                "upload {upload_id} moved on in another stream: ask GetUpload and resume from its size"
            )));
        }
        progress.received += rest.len() as i64;
    }
    if progress.received == 0 {
        return Err(ApiError::field("chunk", "the file is empty"));
    }
    let new = Job {
        request: ImportRequest { file_size: progress.received, ..asked },
        upload_id: Some(upload_id.clone()),
        ..super::queued(&caller, kind)
    };
    let tx = db.transaction().await?;
    if let Some(id) = uploads::progress(&tx, &caller.tenant, &upload_id).await?.and_then(|p| p.job_id) {
        return Ok(job(&super::jobs::visible(api, &caller, id).await?));
    }
    jobs::create_import(&tx, &new).await?;
    tx.commit().await?;
    Ok(job(&new))
}

/// What the header asks for, every problem at once. The input layer does not read streams, so
/// its limits are applied here. With the request, the kind of job it starts.
fn read_header(h: &pb::ImportHeader) -> ApiResult<(ImportRequest, &'static str)> {
    let mut v = Violations::new();
    let kind = match pb::ImportKind::try_from(h.kind) {
        Ok(pb::ImportKind::Clients) => "import_clients",
        Ok(pb::ImportKind::Cards) => crate::importer::CARDS,
        Ok(pb::ImportKind::Balances) => crate::importer::BALANCES,
        Ok(pb::ImportKind::Purchases) => crate::importer::PURCHASES,
        Ok(pb::ImportKind::Unspecified) => {
            v.add("header.kind", "is required: clients, cards, balances or purchases");
            ""
        }
        Err(_) => {
            v.add("header.kind", "is not a kind of import: clients, cards, balances or purchases");
            ""
        }
    };
    let format = match pb::FileFormat::try_from(h.format) {
        Ok(pb::FileFormat::Csv | pb::FileFormat::Unspecified) => "csv",
        Ok(pb::FileFormat::Xlsx) => "xlsx",
        _ => {
            v.add("header.format", "an import reads CSV or XLSX");
            "csv"
        }
    };
    let texts = [
        ("header.file_name", &h.file_name, 500),
        ("header.upload_id", &h.upload_id, 128),
        ("header.sheet", &h.sheet, 500),
    ];
    for (field, value, longest) in texts {
        check_text(field, value, longest, &mut v);
    }
    if !h.upload_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        v.add("header.upload_id", "may hold only letters, digits, '-' and '_'");
    }
    if h.delimiter.chars().count() > 1
        || h.delimiter.chars().any(|c| !c.is_ascii() || c == '"' || c == '\n' || c == '\r')
    {
        v.add("header.delimiter", "must be one character, such as , ; | or a tab (not a quote or a line break)");
    }
    if !h.encoding.is_empty() && text::named(&h.encoding).is_none() {
        v.add("header.encoding", format!("must be one of {} (or empty to detect it)", text::ENCODINGS.join(", ")));
    }
    if h.column_mapping.len() > 100 {
        v.add("header.column_mapping", "holds more than 100 columns");
    }
    for (column, field) in &h.column_mapping {
        check_text("header.column_mapping", column, 500, &mut v);
        check_text("header.column_mapping", field, 100, &mut v);
    }
    let mapping = h.column_mapping.iter().map(|(k, f)| (k.clone(), f.clone())).collect();
    layout::check_mapping(&mapping, &mut v);
    let match_key = match MatchKey::try_from(h.match_key) {
        Ok(MatchKey::Unspecified | MatchKey::Email) => "email",
        Ok(MatchKey::Phone) => "phone",
        Err(_) => {
            v.add("header.match_key", "must be email or phone");
            "email"
        }
    };
    let existing = match pb::ExistingClients::try_from(h.existing) {
        Ok(pb::ExistingClients::Unspecified | pb::ExistingClients::Skip) => "skip",
        Ok(pb::ExistingClients::Fail) => "fail",
        Err(_) => {
            v.add("header.existing", "must be skip or fail");
            "skip"
        }
    };
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    let file_name =
        if h.file_name.trim().is_empty() { "upload.csv".to_string() } else { h.file_name.trim().to_string() };
    let request = ImportRequest {
        file_name,
        column_mapping: mapping,
        delimiter: h.delimiter.clone(),
        encoding: h.encoding.to_ascii_lowercase(),
        dry_run: h.dry_run,
        match_key: match_key.into(),
        existing: existing.into(),
        file_size: 0,
        format: format.into(),
        sheet: h.sheet.clone(),
    };
    Ok((request, kind))
}

fn check_text(field: &str, value: &str, longest: usize, v: &mut Violations) {
    if value.contains('\0') {
        v.add(field, "holds a NUL character");
    } else if value.chars().count() > longest {
        v.add(field, format!("is longer than {longest} characters"));
    }
}

pub async fn get_upload(api: &ImportExportApi, request: Request<pb::GetUploadRequest>) -> ApiResult<pb::Upload> {
    let caller = Caller::new(&request, None, api.clock.as_ref())?;
    let id = &request.get_ref().upload_id;
    if id.is_empty() {
        return Err(ApiError::field("upload_id", "is required"));
    }
    let db = api.pool.get().await?;
    let Some(progress) = uploads::progress(&db, &caller.tenant, id).await? else {
        return Err(ApiError::NotFound("upload"));
    };
    Ok(pb::Upload {
        upload_id: id.clone(),
        received_bytes: progress.received,
        job_id: progress.job_id.map(|j| j.to_string()).unwrap_or_default(),
    })
}
