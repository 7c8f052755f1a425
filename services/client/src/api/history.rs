//! A client's history (CL-9): every change, newest first.
use super::ClientApi;
use super::clients::load_visible;
use super::context::{Ctx, client_id};
use crate::store;
use loyalty_api::client::v1 as pb;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use loyalty_platform::error::{ApiError, ApiResult as Result};

pub async fn list(
    api: &ClientApi,
    request: tonic::Request<pb::ListClientHistoryRequest>,
) -> Result<pb::ListClientHistoryResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let id = client_id("client_id", &body.client_id)?;
    let page = body.page.unwrap_or_default();
    let size = match page.page_size {
        n if n < 0 => return Err(ApiError::field("page.page_size", "must not be negative")),
        0 => 50,
        n => n.min(1000),
    };
    let before_id = if page.page_token.is_empty() {
        None
    } else {
        Some(page.page_token.parse::<i64>().map_err(|_| ApiError::field("page.page_token", "is not a page token"))?)
    };
    let period = body.period.unwrap_or_default();
    let start = period
        .start
        .as_ref()
        .map(|t| from_timestamp(t).ok_or_else(|| ApiError::field("period.start", "is out of range")))
        .transpose()?;
    let end = period
        .end
        .as_ref()
        .map(|t| from_timestamp(t).ok_or_else(|| ApiError::field("period.end", "is out of range")))
        .transpose()?;
    let conn = api.conn().await?;
    let record = load_visible(&conn, &ctx, id, false).await?;
    let (records, total) =
        store::history::list(&conn, &ctx.tenant, record.id, &body.kinds, (start, end), before_id, i64::from(size) + 1)
            .await?;
    let has_more = records.len() > size as usize;
    let records: Vec<_> = records.into_iter().take(size as usize).collect();
    let next_page_token = match (has_more, records.last()) {
        (true, Some(last)) => last.id.to_string(),
        _ => String::new(),
    };
    Ok(pb::ListClientHistoryResponse {
        records: records
            .into_iter()
            .map(|r| pb::HistoryRecord {
                id: r.id.to_string(),
                kind: r.kind,
                at: Some(to_timestamp(r.at)),
                actor: Some(r.actor),
                before_json: r.before.to_string(),
                after_json: r.after.to_string(),
                comment: r.comment,
            })
            .collect(),
        page: Some(loyalty_api::common::v1::PageInfo { next_page_token, total_size: total }),
    })
}
