//! The programme rules over gRPC (LE-2, LE-4, LE-9): the version in force, a new version, the
//! versions so far.
use super::{LedgerApi, convert};
use crate::events::of_caller as ev;
use crate::store;
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::ApiResult;
use loyalty_platform::idempotency;
use loyalty_platform::outbox::publish;

pub async fn get(api: &LedgerApi, request: tonic::Request<pb::GetProgrammeRequest>) -> ApiResult<pb::Programme> {
    let ctx = api.ctx(&request, None)?;
    let conn = api.conn().await?;
    Ok(convert::programme_to_wire(&store::programmes::at(&conn, &ctx.tenant, ctx.now).await?))
}

pub async fn versions(
    api: &LedgerApi,
    request: tonic::Request<pb::ListProgrammeVersionsRequest>,
) -> ApiResult<pb::ListProgrammeVersionsResponse> {
    let ctx = api.ctx(&request, None)?;
    let conn = api.conn().await?;
    let versions = store::programmes::versions(&conn, &ctx.tenant)
        .await?
        .into_iter()
        .map(|(p, from)| pb::Programme { effective_from: Some(to_timestamp(from)), ..convert::programme_to_wire(&p) })
        .collect();
    Ok(pb::ListProgrammeVersionsResponse { versions })
}

/// Publishes the rules as the next version, in force from now. Idempotent with its key.
pub async fn update(api: &LedgerApi, request: tonic::Request<pb::UpdateProgrammeRequest>) -> ApiResult<pb::Programme> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let rules = convert::programme_from_wire(&body.programme.clone().unwrap_or_default())?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "UpdateProgramme", &body).await? {
        return Ok(answer);
    }
    let published = store::programmes::publish(&tx, &ctx.tenant, &rules, ctx.now).await?;
    publish(&tx, &ev::programme_changed(&ctx, &published)).await?;
    // New thresholds may move clients between levels: the sweep reviews every account.
    store::levels::request_review(&tx, &ctx.tenant).await?;
    let mut answer = convert::programme_to_wire(&published);
    answer.effective_from = Some(to_timestamp(ctx.now));
    idempotency::keep(&tx, &ctx, "", &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}
