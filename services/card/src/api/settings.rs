//! Card templates ("layouts"), issue forms and the numbering rule. Every write is idempotent.
use super::{CardApi, Ctx};
use crate::domain::{self, number::NumberingRule};
use crate::events::settings_changed;
use crate::store::settings as store;
use loyalty_api::card::v1 as pb;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::idempotency;
use loyalty_platform::outbox::publish;
use uuid::Uuid;

fn template_changed(ctx: &Ctx, t: &pb::CardTemplate, change: &str) -> loyalty_api::events::v1::Event {
    settings_changed(ctx, "template", (&t.id, &t.name, domain::kind_name(t.kind).unwrap_or("")), change)
}

fn check_template(t: &pb::CardTemplate) -> ApiResult<()> {
    let mut v = Violations::new();
    v.add_if(t.name.trim().is_empty() || t.name.chars().count() > 100, "template.name", "must be 1 to 100 characters");
    v.add_if(domain::kind_name(t.kind).is_none(), "template.kind", "must be virtual, physical or wallet");
    for (field, value) in
        [("template.background_colour", &t.background_colour), ("template.foreground_colour", &t.foreground_colour)]
    {
        let ok = value.is_empty()
            || (value.len() == 7 && value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_hexdigit()));
        v.add_if(!ok, field, "must be #RRGGBB");
    }
    Ok(v.into_result()?)
}

fn template_id(field: &str, text: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| {
        ApiError::field(field, if text.is_empty() { "is required" } else { "is not a template id (a UUID)" })
    })
}

pub async fn create_template(
    api: &CardApi,
    request: tonic::Request<pb::CreateCardTemplateRequest>,
) -> ApiResult<pb::CardTemplate> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let mut t = body.template.clone().unwrap_or_default();
    check_template(&t)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "CreateCardTemplate", &body).await? {
        return Ok(answer);
    }
    let id = Uuid::now_v7();
    t.id = id.to_string();
    store::put_template(&tx, &ctx.tenant, id, &t).await?;
    publish(&tx, &template_changed(&ctx, &t, "created")).await?;
    idempotency::keep(&tx, &ctx, "", &t).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(t)
}

/// `current` with the fields `paths` name taken from `input`.
fn masked(mut current: pb::CardTemplate, input: &pb::CardTemplate, paths: &[String]) -> ApiResult<pb::CardTemplate> {
    let mut v = Violations::new();
    for path in paths {
        match path.as_str() {
            "name" => current.name.clone_from(&input.name),
            "kind" => current.kind = input.kind,
            "background_colour" => current.background_colour.clone_from(&input.background_colour),
            "foreground_colour" => current.foreground_colour.clone_from(&input.foreground_colour),
            "logo_url" => current.logo_url.clone_from(&input.logo_url),
            "description" => current.description.clone_from(&input.description),
            "barcode_format" => current.barcode_format = input.barcode_format,
            other => v.add("update_mask", format!("{other} is not a template field")),
        }
    }
    v.into_result()?;
    Ok(current)
}

pub async fn update_template(
    api: &CardApi,
    request: tonic::Request<pb::UpdateCardTemplateRequest>,
) -> ApiResult<pb::CardTemplate> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let input = body.template.clone().unwrap_or_default();
    let id = template_id("template.id", &input.id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "UpdateCardTemplate", &body).await? {
        return Ok(answer);
    }
    let current = store::get_template(&tx, &ctx.tenant, id).await?.ok_or(ApiError::NotFound("template"))?;
    let paths = body.update_mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default();
    let t = masked(current, &input, &paths)?;
    check_template(&t)?;
    store::put_template(&tx, &ctx.tenant, id, &t).await?;
    publish(&tx, &template_changed(&ctx, &t, "updated")).await?;
    idempotency::keep(&tx, &ctx, "", &t).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(t)
}

pub async fn list_templates(
    api: &CardApi,
    request: tonic::Request<pb::ListCardTemplatesRequest>,
) -> ApiResult<pb::ListCardTemplatesResponse> {
    let ctx = api.ctx(&request, None)?;
    let conn = api.conn().await?;
    Ok(pb::ListCardTemplatesResponse { templates: store::list_templates(&conn, &ctx.tenant).await? })
}

pub async fn delete_template(
    api: &CardApi,
    request: tonic::Request<pb::DeleteCardTemplateRequest>,
) -> ApiResult<pb::DeleteCardTemplateResponse> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let id = template_id("template_id", &body.template_id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "DeleteCardTemplate", &body).await? {
        return Ok(answer);
    }
    let t = store::get_template(&tx, &ctx.tenant, id).await?.ok_or(ApiError::NotFound("template"))?;
    let used = store::cards_using(&tx, &ctx.tenant, id).await?;
    if used > 0 {
        return Err(ApiError::precondition(format!(
            "{used} cards use this template; move them first (BulkChangeCards)"
        )));
    }
    store::delete_template(&tx, &ctx.tenant, id).await?;
    publish(&tx, &template_changed(&ctx, &t, "deleted")).await?;
    let answer = pb::DeleteCardTemplateResponse {};
    idempotency::keep(&tx, &ctx, "", &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

pub async fn create_issue_form(
    api: &CardApi,
    request: tonic::Request<pb::CreateIssueFormRequest>,
) -> ApiResult<pb::IssueForm> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let name = body.issue_form.as_ref().map(|f| f.name.trim().to_string()).unwrap_or_default();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(ApiError::field("issue_form.name", "must be 1 to 60 characters"));
    }
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "CreateIssueForm", &body).await? {
        return Ok(answer);
    }
    let id = Uuid::now_v7();
    if !store::insert_issue_form(&tx, &ctx.tenant, id, &name).await? {
        return Err(ApiError::AlreadyExists(format!("an issue form named {name:?} exists")));
    }
    let form = pb::IssueForm { id: id.to_string(), name };
    publish(&tx, &settings_changed(&ctx, "issue_form", (&form.id, &form.name, ""), "created")).await?;
    idempotency::keep(&tx, &ctx, "", &form).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(form)
}

pub async fn list_issue_forms(
    api: &CardApi,
    request: tonic::Request<pb::ListIssueFormsRequest>,
) -> ApiResult<pb::ListIssueFormsResponse> {
    let ctx = api.ctx(&request, None)?;
    let conn = api.conn().await?;
    Ok(pb::ListIssueFormsResponse { issue_forms: store::list_issue_forms(&conn, &ctx.tenant).await? })
}

fn rule_message(r: &NumberingRule) -> pb::NumberingRule {
    pb::NumberingRule { prefix: r.prefix.clone(), length: r.length as i32, luhn_check_digit: r.luhn }
}

pub async fn get_rule(
    api: &CardApi,
    request: tonic::Request<pb::GetNumberingRuleRequest>,
) -> ApiResult<pb::NumberingRule> {
    let ctx = api.ctx(&request, None)?;
    let conn = api.conn().await?;
    Ok(rule_message(&store::rule(&conn, &ctx.tenant).await?))
}

pub async fn update_rule(
    api: &CardApi,
    request: tonic::Request<pb::UpdateNumberingRuleRequest>,
) -> ApiResult<pb::NumberingRule> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let input = body.rule.clone().unwrap_or_default();
    let rule = NumberingRule::new(&input.prefix, input.length, input.luhn_check_digit)
        .map_err(|e| ApiError::field("rule", &e.to_string()))?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "UpdateNumberingRule", &body).await? {
        return Ok(answer);
    }
    store::set_rule(&tx, &ctx.tenant, &rule).await?;
    let text = format!("{}/{}{}", rule.prefix, rule.length, if rule.luhn { "/luhn" } else { "" });
    publish(&tx, &settings_changed(&ctx, "numbering_rule", ("", &text, ""), "updated")).await?;
    let answer = rule_message(&rule);
    idempotency::keep(&tx, &ctx, "", &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}
