//! SMS through an HTTP gateway and messages through the Telegram Bot API (ME-1), over one pooled
//! HTTPS client (rustls on ring). A gateway gets our message id as its idempotency key, so a
//! message resent after a restart is one message at the gateway that honours it.
use super::{Outcome, Outgoing};
use loyalty_api::messaging::v1::{HttpGatewaySettings, TelegramSettings};
use std::time::Duration;

/// The HTTP client every gateway shares (connections kept alive, 30 s to answer).
pub fn client() -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(64).build()?)
}

/// The default body of a gateway request.
pub const DEFAULT_BODY: &str = r#"{"to":"{to}","text":"{text}","sender":"{sender}","message_id":"{message_id}"}"#;

pub struct Gateway {
    client: reqwest::Client,
    settings: HttpGatewaySettings,
    key: String,
}

/// `value` as it goes inside a JSON string.
fn json_text(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// What a refused HTTP answer means: 429 and 5xx are worth another attempt, other 4xx are not.
fn refused(status: reqwest::StatusCode, body: &str) -> Outcome {
    let permanent = status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS;
    let text: String = body.chars().take(300).collect();
    Outcome::Refused { reason: format!("http {}: {text}", status.as_u16()), permanent, unreachable: false }
}

impl Gateway {
    pub fn new(client: reqwest::Client, settings: &HttpGatewaySettings, key: &str) -> Gateway {
        Gateway { client, settings: settings.clone(), key: key.to_string() }
    }

    pub fn body(&self, m: &Outgoing) -> String {
        let template = if self.settings.body_template.is_empty() { DEFAULT_BODY } else { &self.settings.body_template };
        template
            .replace("{to}", &json_text(&m.to))
            .replace("{text}", &json_text(&m.body))
            .replace("{sender}", &json_text(&self.settings.sender))
            .replace("{message_id}", &json_text(&m.message_id))
    }

    pub async fn send(&self, m: &Outgoing) -> Outcome {
        let mut request = self
            .client
            .post(&self.settings.url)
            .header("content-type", "application/json")
            .header("idempotency-key", &m.message_id)
            .body(self.body(m));
        if !self.key.is_empty() {
            request = match self.settings.auth_header.as_str() {
                "" | "Authorization" | "authorization" => request.bearer_auth(&self.key),
                header => request.header(header, &self.key),
            };
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(e) => return Outcome::Refused { reason: format!("http: {e}"), permanent: false, unreachable: false },
        };
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        if !status.is_success() {
            return refused(status, &text);
        }
        // The gateway's own id when it gives one ({"message_id": ...} or {"id": ...}), else ours.
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let id = ["message_id", "id"]
            .iter()
            .find_map(|k| parsed.get(*k).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .unwrap_or_else(|| m.message_id.clone());
        Outcome::Accepted(id)
    }
}

pub struct Telegram {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Telegram {
    pub fn new(client: reqwest::Client, settings: &TelegramSettings, token: &str) -> Telegram {
        let base = if settings.base_url.is_empty() {
            "https://api.telegram.org"
        } else {
            settings.base_url.trim_end_matches('/')
        };
        Telegram { client, base: base.to_string(), token: token.to_string() }
    }

    pub async fn send(&self, m: &Outgoing) -> Outcome {
        let url = format!("{}/bot{}/sendMessage", self.base, self.token);
        let body = serde_json::json!({ "chat_id": m.to, "text": m.body });
        let answer = match self.client.post(url).json(&body).send().await {
            Ok(answer) => answer,
            Err(e) => {
                // The URL holds the token: never repeat it in a reason.
                let reason = format!("telegram: {}", e.without_url());
                return Outcome::Refused { reason, permanent: false, unreachable: false };
            }
        };
        let status = answer.status();
        let parsed: serde_json::Value = answer.json().await.unwrap_or_default();
        if status.is_success() && parsed["ok"] == serde_json::Value::Bool(true) {
            return Outcome::Accepted(parsed["result"]["message_id"].to_string());
        }
        let description = parsed["description"].as_str().unwrap_or("").to_string();
        // 403: the client blocked the bot (or never started it); sending again cannot help.
        let unreachable = status == reqwest::StatusCode::FORBIDDEN;
        let permanent = unreachable || (status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS);
        Outcome::Refused { reason: format!("telegram {}: {description}", status.as_u16()), permanent, unreachable }
    }
}

/// Push through Firebase Cloud Messaging's HTTP v1 API (or a stand-in at the same shape): one
/// `messages:send` request a message, the device token as `message.token`, the OAuth 2 access
/// token as Bearer. A token FCM no longer knows (404 UNREGISTERED) takes the client off push.
pub struct Push {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Push {
    pub fn new(client: reqwest::Client, settings: &HttpGatewaySettings, token: &str) -> Push {
        Push { client, url: settings.url.clone(), token: token.to_string() }
    }

    /// The FCM v1 request body.
    pub fn body(m: &Outgoing) -> serde_json::Value {
        serde_json::json!({
            "message": {
                "token": m.to,
                "notification": { "title": m.subject, "body": m.body },
                "data": { "message_id": m.message_id },
            }
        })
    }

    pub async fn send(&self, m: &Outgoing) -> Outcome {
        let mut request = self.client.post(&self.url).json(&Self::body(m));
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(e) => return Outcome::Refused { reason: format!("fcm: {e}"), permanent: false, unreachable: false },
        };
        let status = answer.status();
        let parsed: serde_json::Value = answer.json().await.unwrap_or_default();
        if status.is_success() {
            // {"name": "projects/<project>/messages/<id>"}
            let name = parsed["name"].as_str().map(str::to_string).unwrap_or_else(|| m.message_id.clone());
            return Outcome::Accepted(name);
        }
        let error = parsed["error"]["status"].as_str().unwrap_or("").to_string();
        let details = parsed["error"]["details"].to_string();
        let unreachable = status == reqwest::StatusCode::NOT_FOUND || details.contains("UNREGISTERED");
        let permanent = unreachable || (status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS);
        let message: String = parsed["error"]["message"].as_str().unwrap_or("").chars().take(300).collect();
        Outcome::Refused { reason: format!("fcm {} {error}: {message}", status.as_u16()), permanent, unreachable }
    }
}
