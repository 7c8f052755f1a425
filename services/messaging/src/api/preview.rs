//! A message as one client would get it, with its SMS parts counted before anything is sent (ME-3).
use super::MessagingApi;
use crate::domain::content;
use crate::domain::rules::Channel;
use crate::domain::sms;
use crate::store::{contacts, templates};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::preview_message_request::Source;
use loyalty_platform::error::{ApiError, ApiResult};
use tonic::Request;

/// The client a preview without one is filled with.
pub fn sample() -> contacts::Contact {
    contacts::Contact {
        first_name: "Ona".into(),
        last_name: "Petraitienė".into(),
        email: "ona.petraitiene@example.lt".into(),
        phone: "+37061234567".into(),
        city: "Vilnius".into(),
        points_balance: 1250,
        last_purchase_at: Some(time::macros::datetime!(2026-11-28 15:30 UTC)),
        last_purchase_minor: Some(4599),
        currency: "EUR".into(),
        favourite_category: "Kava".into(),
        ..contacts::Contact::default()
    }
}

pub async fn preview(
    api: &MessagingApi,
    r: Request<pb::PreviewMessageRequest>,
) -> ApiResult<pb::PreviewMessageResponse> {
    let caller = api.caller(&r)?;
    let body = r.into_inner();
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let content = match body.source {
        Some(Source::Content(c)) => c,
        Some(Source::TemplateId(id)) => {
            let id = super::uuid_of("template_id", &id)?;
            templates::load(&db, &caller.tenant, id, false).await?.ok_or(ApiError::NotFound("template"))?.content
        }
        None => return Err(ApiError::field("source", "give the content or a template id")),
    };
    let prepared = content::prepare(Some(&content), "content", false)?;
    let client = if body.client_id.trim().is_empty() {
        sample()
    } else {
        let id = super::uuid_of("client_id", &body.client_id)?;
        let found = contacts::load(&db, &caller.tenant, id).await?;
        found.filter(|c| !c.erased && c.seen_by(caller.principal.store_scope())).ok_or(ApiError::NotFound("client"))?
    };
    let rendered = prepared.render(&client, &format!("{}/u/preview", api.settings.public_url.trim_end_matches('/')));
    let mut answer = pb::PreviewMessageResponse {
        subject: rendered.subject,
        characters: rendered.body.chars().count() as i32,
        body: rendered.body,
        ..Default::default()
    };
    if prepared.channel == Channel::Sms {
        let parts = sms::parts(&answer.body);
        answer.sms_encoding = parts.encoding.name().into();
        answer.sms_segments = parts.segments as i32;
        answer.characters = parts.characters as i32;
    }
    Ok(answer)
}
