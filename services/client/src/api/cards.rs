//! What the client service asks of the card service: card numbers identify clients (CL-2, CL-7).
use super::ClientApi;
use super::context::Ctx;
use loyalty_api::card::v1 as cards;
use loyalty_api::card::v1::lookup_card_request::Key;
use loyalty_api::common::v1::RequestContext;
use loyalty_platform::error::{ApiError, ApiResult as Result};
use tonic::Code;
use uuid::Uuid;

/// The client holding card `number`, if any.
pub async fn holder(api: &ClientApi, ctx: &Ctx, number: &str) -> Result<Option<Uuid>> {
    let mut client = api.cards.clone();
    let request = ctx.token.request(cards::LookupCardRequest {
        key: Some(Key::Number(number.to_string())),
        any_status: true,
        with_points: false,
    });
    match client.lookup_card(request).await {
        Ok(found) => Ok(Uuid::parse_str(&found.into_inner().client_id).ok()),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(ApiError::Status(status)),
    }
}

/// Whether the client holds any card.
pub async fn holds_any(api: &ClientApi, ctx: &Ctx, client: Uuid) -> Result<bool> {
    let mut cards_api = api.cards.clone();
    let request = ctx.token.request(cards::ListClientCardsRequest { client_id: client.to_string() });
    let listed = cards_api.list_client_cards(request).await.map_err(ApiError::Status)?;
    Ok(listed.into_inner().total_count > 0)
}

/// Issues the card a client registered with. A refused number is reported on `card_number`.
pub async fn issue_to(api: &ClientApi, ctx: &Ctx, client: Uuid, number: &str, store: &str) -> Result<()> {
    let mut cards_api = api.cards.clone();
    let key = if ctx.idempotency_key.is_empty() { String::new() } else { format!("{}:card", ctx.idempotency_key) };
    let card = cards::Card {
        client_id: client.to_string(),
        number: number.to_string(),
        store_id: store.to_string(),
        ..Default::default()
    };
    let request = ctx.token.request(cards::IssueCardRequest {
        context: Some(RequestContext { idempotency_key: key, ..Default::default() }),
        card: Some(card),
    });
    match cards_api.issue_card(request).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::InvalidArgument || status.code() == Code::AlreadyExists => {
            let reason = loyalty_platform::error::field_violations(&status)
                .into_iter()
                .map(|(_, r)| r)
                .next()
                .unwrap_or_else(|| status.message().to_string());
            Err(ApiError::field("card_number", &reason))
        }
        Err(status) => Err(ApiError::Status(status)),
    }
}

/// Client ids behind the card numbers among quick-search terms. The search still answers from the
/// other fields when the card service cannot be asked.
pub async fn holders_of_terms(api: &ClientApi, ctx: &Ctx, terms: &[crate::domain::search::Term]) -> Vec<Uuid> {
    let mut out = Vec::new();
    for term in terms {
        if let crate::domain::search::Term::Digits { digits, may_be_card: true, .. } = term
            && digits.len() >= 6
        {
            match holder(api, ctx, digits).await {
                Ok(Some(id)) => out.push(id),
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "card lookup for quick search failed; searching without it"),
            }
        }
    }
    out
}
