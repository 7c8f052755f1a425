//! Reusable content (ME-3). A template is checked as a notice when saved; a campaign that uses it
//! checks it again as marketing (an email then needs its unsubscribe link).
use super::MessagingApi;
use crate::domain::content;
use crate::store::templates::{self, Stored};
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use tonic::Request;

const MAX_NAME: usize = 200;

fn check_name(name: &str, v: &mut Violations) {
    if name.trim().is_empty() {
        v.add("template.name", "give the template a name");
    } else if name.chars().count() > MAX_NAME {
        v.add("template.name", format!("is longer than {MAX_NAME} characters"));
    }
}

fn shown(t: &Stored) -> pb::Template {
    pb::Template {
        id: t.id.to_string(),
        name: t.name.clone(),
        content: Some(t.content.clone()),
        updated_at: Some(to_timestamp(t.updated_at)),
    }
}

pub async fn create(api: &MessagingApi, r: Request<pb::CreateTemplateRequest>) -> ApiResult<pb::Template> {
    let caller = api.caller(&r)?;
    let Some(t) = r.into_inner().template else { return Err(ApiError::field("template", "give the template")) };
    let mut v = Violations::new();
    check_name(&t.name, &mut v);
    if let Err(more) = content::prepare(t.content.as_ref(), "template.content", false) {
        v.extend(more);
    }
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    let stored = Stored {
        id: uuid::Uuid::now_v7(),
        name: t.name.trim().to_string(),
        content: t.content.unwrap_or_default(),
        updated_at: caller.now,
    };
    templates::save(&api.pool.get().await.map_err(anyhow::Error::from)?, &caller.tenant, &stored).await?;
    Ok(shown(&stored))
}

pub async fn get(api: &MessagingApi, r: Request<pb::GetTemplateRequest>) -> ApiResult<pb::Template> {
    let caller = api.caller(&r)?;
    let id = super::uuid_of("template_id", &r.get_ref().template_id)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let t = templates::load(&db, &caller.tenant, id, false).await?.ok_or(ApiError::NotFound("template"))?;
    Ok(shown(&t))
}

pub async fn update(api: &MessagingApi, r: Request<pb::UpdateTemplateRequest>) -> ApiResult<pb::Template> {
    let caller = api.caller(&r)?;
    let body = r.into_inner();
    let Some(t) = body.template else { return Err(ApiError::field("template", "give the template")) };
    let id = super::uuid_of("template.id", &t.id)?;
    let paths: Vec<String> = body.update_mask.map(|m| m.paths).unwrap_or_default();
    let paths = if paths.is_empty() { vec!["name".to_string(), "content".to_string()] } else { paths };
    let mut db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    let mut stored = templates::load(&tx, &caller.tenant, id, true).await?.ok_or(ApiError::NotFound("template"))?;
    let mut v = Violations::new();
    for path in &paths {
        match path.as_str() {
            "name" => {
                check_name(&t.name, &mut v);
                stored.name = t.name.trim().to_string();
            }
            "content" => {
                if let Err(more) = content::prepare(t.content.as_ref(), "template.content", false) {
                    v.extend(more);
                }
                stored.content = t.content.clone().unwrap_or_default();
            }
            other => v.add("update_mask", format!("{other:?} is not a field you can change (name, content)")),
        }
    }
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    stored.updated_at = caller.now;
    templates::save(&tx, &caller.tenant, &stored).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    Ok(shown(&stored))
}

pub async fn delete(
    api: &MessagingApi,
    r: Request<pb::DeleteTemplateRequest>,
) -> ApiResult<pb::DeleteTemplateResponse> {
    let caller = api.caller(&r)?;
    let id = super::uuid_of("template_id", &r.get_ref().template_id)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    if !templates::delete(&db, &caller.tenant, id, caller.now).await? {
        return Err(ApiError::NotFound("template"));
    }
    Ok(pb::DeleteTemplateResponse {})
}

pub async fn list(api: &MessagingApi, r: Request<pb::ListTemplatesRequest>) -> ApiResult<pb::ListTemplatesResponse> {
    let caller = api.caller(&r)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    Ok(pb::ListTemplatesResponse { templates: templates::list(&db, &caller.tenant).await?.iter().map(shown).collect() })
}
