//! The HTTP endpoint beside the gRPC port (ME-6): the open pixel, click redirects (only to links
//! the message itself carried) and one-click unsubscribe (RFC 8058), which changes the client's
//! consent through the client service with source "unsubscribe_link". Every path carries a signed
//! token; a forged or altered one is a plain 404.
use crate::domain::content;
use crate::domain::links::{Action, Signer};
use crate::domain::rules::Channel;
use crate::store::{campaigns, deliveries};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use loyalty_platform::clock::SharedClock;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub struct Tracking {
    pub pool: deadpool_postgres::Pool,
    pub signer: Signer,
    pub unsubscriber: crate::consent::Unsubscriber,
    pub clock: SharedClock,
}

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Serves the endpoint on `listener` until `stop`.
pub fn serve(listener: tokio::net::TcpListener, tracking: Arc<Tracking>, stop: CancellationToken) {
    let router = Router::new()
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/o/{token}", get(open))
        .route("/c/{token}/{link}", get(click))
        .with_state(tracking);
    tokio::spawn(async move {
        let served = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the tracking endpoint stopped");
        }
    });
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\">\
         <h1>{title}</h1>{body}</body></html>"
    );
    (status, Html(html)).into_response()
}

fn unknown() -> Response {
    page(StatusCode::NOT_FOUND, "Link not found", "<p>This link is not valid.</p>")
}

fn failed(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "a tracking link failed");
    page(StatusCode::SERVICE_UNAVAILABLE, "Please try again", "<p>We could not record this just now.</p>")
}

async fn unsubscribe_page(State(t): State<Arc<Tracking>>, Path(token): Path<String>) -> Response {
    if !matches!(t.signer.read(&token), Some((Action::Unsubscribe, _, _))) {
        return unknown();
    }
    let form = format!(
        "<p>Stop receiving these messages?</p><form method=\"post\" action=\"/u/{token}\">\
         <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>"
    );
    page(StatusCode::OK, "Unsubscribe", &form)
}

async fn unsubscribe(State(t): State<Arc<Tracking>>, Path(token): Path<String>) -> Response {
    let Some((Action::Unsubscribe, tenant, delivery)) = t.signer.read(&token) else { return unknown() };
    match t.unsubscribed(&tenant, delivery).await {
        Ok(true) => {
            page(StatusCode::OK, "You are unsubscribed", "<p>You will not receive these messages any more.</p>")
        }
        Ok(false) => unknown(),
        Err(e) => failed(e),
    }
}

async fn open(State(t): State<Arc<Tracking>>, Path(token): Path<String>) -> Response {
    if let Some((Action::Open, tenant, delivery)) = t.signer.read(&token) {
        let now = t.clock.now();
        if let Err(e) =
            async { deliveries::engaged(&t.pool.get().await?, &tenant, delivery, "opened", now).await }.await
        {
            tracing::warn!(error = %format!("{e:#}"), "an open was not recorded");
        }
    }
    ([(header::CONTENT_TYPE, "image/gif"), (header::CACHE_CONTROL, "no-store")], PIXEL).into_response()
}

async fn click(State(t): State<Arc<Tracking>>, Path((token, link)): Path<(String, usize)>) -> Response {
    let Some((Action::Click, tenant, delivery)) = t.signer.read(&token) else { return unknown() };
    match t.clicked(&tenant, delivery, link).await {
        Ok(Some(url)) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
        Ok(None) => unknown(),
        Err(e) => failed(e),
    }
}

impl Tracking {
    /// Unsubscribes the recipient of `delivery` from its channel; false when there is no such delivery.
    pub async fn unsubscribed(&self, tenant: &str, delivery: uuid::Uuid) -> anyhow::Result<bool> {
        let db = self.pool.get().await?;
        let Some(d) = deliveries::find(&db, tenant, delivery).await? else { return Ok(false) };
        if d.unsubscribed {
            return Ok(true);
        }
        let channel =
            Channel::parse(&d.channel).ok_or_else(|| anyhow::anyhow!("a delivery's channel {:?}", d.channel))?;
        self.unsubscriber.unsubscribe(tenant, d.client_id, channel, "unsubscribe_link").await?;
        deliveries::engaged(&db, tenant, delivery, "unsubscribed", self.clock.now()).await?;
        Ok(true)
    }

    /// The links of the delivery's message, in order (None: no such delivery).
    pub async fn links(&self, tenant: &str, delivery: uuid::Uuid) -> anyhow::Result<Option<Vec<String>>> {
        let db = self.pool.get().await?;
        let Some(d) = deliveries::find(&db, tenant, delivery).await? else { return Ok(None) };
        let content = match (d.run_id, &d.content) {
            (Some(run), _) => campaigns::run_content(&db, tenant, run).await?,
            (None, Some(own)) => prost::Message::decode(&own[..]).ok(),
            (None, None) => None,
        };
        Ok(content.map(|c| content::links_of(&c)))
    }

    /// The `link`-th link of the delivery's message, with the click recorded.
    pub async fn clicked(&self, tenant: &str, delivery: uuid::Uuid, link: usize) -> anyhow::Result<Option<String>> {
        let Some(url) = self.links(tenant, delivery).await?.and_then(|l| l.into_iter().nth(link)) else {
            return Ok(None);
        };
        deliveries::engaged(&self.pool.get().await?, tenant, delivery, "clicked", self.clock.now()).await?;
        Ok(Some(url))
    }
}
