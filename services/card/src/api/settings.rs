//! Card templates ("layouts"), issue forms and the numbering rule.
use super::CardApi;
use super::context::{Ctx, uuid};
use crate::domain::{self, number::NumberingRule};
use crate::error::{CardError, Result};
use crate::store;
use loyalty_api::card::v1 as pb;
use loyalty_api::events::v1::{CardSettingsChanged, event::Payload};
use loyalty_platform::error::Violations;
use loyalty_platform::outbox::publish;
use uuid::Uuid;

/// The `CardSettingsChanged` event of one change.
fn changed(
    ctx: &Ctx,
    setting: &str,
    (id, name, kind): (&str, &str, &str),
    change: &str,
) -> loyalty_api::events::v1::Event {
    let payload = CardSettingsChanged {
        setting: setting.into(),
        id: id.into(),
        name: name.into(),
        kind: kind.into(),
        change: change.into(),
    };
    ctx.event(if id.is_empty() { setting } else { id }, Payload::CardSettingsChanged(payload))
}

fn template_changed(ctx: &Ctx, t: &pb::CardTemplate, change: &str) -> loyalty_api::events::v1::Event {
    changed(ctx, "template", (&t.id, &t.name, domain::kind_name(t.kind).unwrap_or("")), change)
}

fn check_template(t: &pb::CardTemplate) -> Result<()> {
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

pub async fn create_template(
    api: &CardApi,
    request: tonic::Request<pb::CreateCardTemplateRequest>,
) -> Result<pb::CardTemplate> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let mut t = request.into_inner().template.unwrap_or_default();
    check_template(&t)?;
    let id = Uuid::now_v7();
    t.id = id.to_string();
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    store::put_template(&tx, &ctx.tenant, id, &t).await?;
    publish(&tx, &template_changed(&ctx, &t, "created")).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(t)
}

pub async fn update_template(
    api: &CardApi,
    request: tonic::Request<pb::UpdateCardTemplateRequest>,
) -> Result<pb::CardTemplate> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let input = body.template.unwrap_or_default();
    let id = uuid("template.id", &input.id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let mut t = store::get_template(&tx, &ctx.tenant, id).await?.ok_or(CardError::NotFound("template"))?;
    let mut v = Violations::new();
    for path in body.update_mask.map(|m| m.paths).unwrap_or_default() {
        match path.as_str() {
            "name" => t.name = input.name.clone(),
            "kind" => t.kind = input.kind,
            "background_colour" => t.background_colour = input.background_colour.clone(),
            "foreground_colour" => t.foreground_colour = input.foreground_colour.clone(),
            "logo_url" => t.logo_url = input.logo_url.clone(),
            "description" => t.description = input.description.clone(),
            "barcode_format" => t.barcode_format = input.barcode_format,
            other => v.add("update_mask", format!("{other} is not a template field")),
        }
    }
    v.into_result()?;
    check_template(&t)?;
    store::put_template(&tx, &ctx.tenant, id, &t).await?;
    publish(&tx, &template_changed(&ctx, &t, "updated")).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(t)
}

pub async fn list_templates(
    api: &CardApi,
    request: tonic::Request<pb::ListCardTemplatesRequest>,
) -> Result<pb::ListCardTemplatesResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let conn = api.conn().await?;
    let rows = conn
        .query(
            &format!("SELECT {} FROM card_templates WHERE tenant_id = $1 ORDER BY name", store::TEMPLATE_COLUMNS),
            &[&ctx.tenant],
        )
        .await?;
    Ok(pb::ListCardTemplatesResponse { templates: rows.iter().map(store::template).collect() })
}

pub async fn delete_template(
    api: &CardApi,
    request: tonic::Request<pb::DeleteCardTemplateRequest>,
) -> Result<pb::DeleteCardTemplateResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let id = uuid("template_id", &request.get_ref().template_id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let Some(t) = store::get_template(&tx, &ctx.tenant, id).await? else { return Err(CardError::NotFound("template")) };
    let used: i64 = tx
        .query_one("SELECT count(*) FROM cards WHERE tenant_id = $1 AND template_id = $2", &[&ctx.tenant, &id])
        .await?
        .get(0);
    if used > 0 {
        return Err(CardError::FailedPrecondition(format!(
            "{used} cards use this template; move them first (BulkChangeCards)"
        )));
    }
    tx.execute("DELETE FROM card_templates WHERE tenant_id = $1 AND id = $2", &[&ctx.tenant, &id]).await?;
    publish(&tx, &template_changed(&ctx, &t, "deleted")).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(pb::DeleteCardTemplateResponse {})
}

pub async fn create_issue_form(
    api: &CardApi,
    request: tonic::Request<pb::CreateIssueFormRequest>,
) -> Result<pb::IssueForm> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let name = request.into_inner().issue_form.unwrap_or_default().name.trim().to_string();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(CardError::field("issue_form.name", "must be 1 to 60 characters"));
    }
    let id = Uuid::now_v7();
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let n = tx
        .execute(
            "INSERT INTO issue_forms (tenant_id, id, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&ctx.tenant, &id, &name],
        )
        .await?;
    if n == 0 {
        return Err(CardError::AlreadyExists(format!("an issue form named {name:?} exists")));
    }
    let form = pb::IssueForm { id: id.to_string(), name };
    publish(&tx, &changed(&ctx, "issue_form", (&form.id, &form.name, ""), "created")).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(form)
}

pub async fn list_issue_forms(
    api: &CardApi,
    request: tonic::Request<pb::ListIssueFormsRequest>,
) -> Result<pb::ListIssueFormsResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let conn = api.conn().await?;
    let rows =
        conn.query("SELECT id, name FROM issue_forms WHERE tenant_id = $1 ORDER BY name", &[&ctx.tenant]).await?;
    let issue_forms =
        rows.iter().map(|r| pb::IssueForm { id: r.get::<_, Uuid>(0).to_string(), name: r.get(1) }).collect();
    Ok(pb::ListIssueFormsResponse { issue_forms })
}

fn rule_message(r: &NumberingRule) -> pb::NumberingRule {
    pb::NumberingRule { prefix: r.prefix.clone(), length: r.length as i32, luhn_check_digit: r.luhn }
}

pub async fn get_rule(
    api: &CardApi,
    request: tonic::Request<pb::GetNumberingRuleRequest>,
) -> Result<pb::NumberingRule> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let conn = api.conn().await?;
    Ok(rule_message(&store::rule(&conn, &ctx.tenant).await?))
}

pub async fn update_rule(
    api: &CardApi,
    request: tonic::Request<pb::UpdateNumberingRuleRequest>,
) -> Result<pb::NumberingRule> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let input = request.into_inner().rule.unwrap_or_default();
    let rule = NumberingRule::new(&input.prefix, input.length, input.luhn_check_digit)
        .map_err(|e| CardError::field("rule", &e.to_string()))?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    store::set_rule(&tx, &ctx.tenant, &rule).await?;
    let text = format!("{}/{}{}", rule.prefix, rule.length, if rule.luhn { "/luhn" } else { "" });
    publish(&tx, &changed(&ctx, "numbering_rule", ("", &text, ""), "updated")).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(rule_message(&rule))
}
