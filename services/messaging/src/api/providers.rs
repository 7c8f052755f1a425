//! Channels' providers (ME-1): one per tenant and channel, secrets sealed and never returned, and
//! a test send that checks the settings against the real server.
use super::{MessagingApi, chain_wide};
use crate::domain::rules::Channel;
use crate::send::{self, Outcome, Outgoing};
use crate::store::providers::{self, Stored};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::channel_provider::Settings;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use tonic::Request;

pub async fn set(api: &MessagingApi, r: Request<pb::SetChannelProviderRequest>) -> ApiResult<pb::ChannelProvider> {
    let caller = api.caller(&r)?;
    chain_wide(&caller, "providers")?;
    let Some(mut provider) = r.into_inner().provider else {
        return Err(ApiError::field("provider", "give the channel and its provider's settings"));
    };
    let channel = check(&mut provider)?;
    let secret = take_secret(&mut provider);
    let bound = send::bound_to(caller.tenant.as_str(), provider.channel);
    let sealed = match secret {
        Some(secret) => Some(api.sealer.seal(&bound, secret.as_bytes())?),
        None => None,
    };
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let stored = providers::save(&db, &caller.tenant, channel.name(), &provider, sealed, caller.now).await?;
    Ok(shown(&stored))
}

pub async fn list(
    api: &MessagingApi,
    r: Request<pb::ListChannelProvidersRequest>,
) -> ApiResult<pb::ListChannelProvidersResponse> {
    let caller = api.caller(&r)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let providers = providers::list(&db, &caller.tenant).await?.iter().map(shown).collect();
    Ok(pb::ListChannelProvidersResponse { providers })
}

pub async fn test_send(
    api: &MessagingApi,
    r: Request<pb::SendTestMessageRequest>,
) -> ApiResult<pb::SendTestMessageResponse> {
    let caller = api.caller(&r)?;
    chain_wide(&caller, "providers")?;
    let body = r.into_inner();
    let prepared = crate::domain::content::prepare(body.content.as_ref(), "content", false)?;
    let address = body.address.trim();
    if address.is_empty() {
        return Err(ApiError::field("address", "give the address to send the test to"));
    }
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let Some(stored) = providers::load(&db, caller.tenant.as_str(), prepared.channel.name()).await? else {
        return Err(no_provider(prepared.channel));
    };
    let ready = send::build(&stored, caller.tenant.as_str(), &api.sealer).map_err(|e| {
        ApiError::precondition(format!("the {} provider cannot be used: {e:#}", prepared.channel.name()))
    })?;
    let sample = super::preview::sample();
    let rendered = prepared.render(&sample, &format!("{}/u/test", api.settings.public_url.trim_end_matches('/')));
    let delivery = uuid::Uuid::now_v7();
    let message = Outgoing {
        delivery,
        client: uuid::Uuid::nil(),
        to: address.to_string(),
        subject: rendered.subject,
        body: rendered.body,
        text: rendered.text,
        sender_name: prepared.sender_name.clone(),
        message_id: format!("<test-{delivery}@{}.loyalty>", caller.tenant.as_str()),
        unsubscribe_url: String::new(),
    };
    Ok(match ready.send(&message).await {
        Outcome::Accepted(id) => {
            pb::SendTestMessageResponse { accepted: true, provider_message_id: id, refusal: String::new() }
        }
        Outcome::Refused { reason, .. } => {
            pb::SendTestMessageResponse { accepted: false, provider_message_id: String::new(), refusal: reason }
        }
    })
}

/// FAILED_PRECONDITION: a channel without a provider sends nothing.
pub fn no_provider(channel: Channel) -> ApiError {
    ApiError::precondition(format!(
        "the {} channel has no provider: set one with SetChannelProvider first",
        channel.name()
    ))
}

/// Checks `p` field by field, filling defaults (the SMTP security by port); returns its channel.
fn check(p: &mut pb::ChannelProvider) -> ApiResult<Channel> {
    let mut v = Violations::new();
    let channel = Channel::from_contract(p.channel);
    if channel.is_none() {
        v.add("provider.channel", "choose email, SMS, push or Telegram");
    }
    v.add_if(!(0..=100_000).contains(&p.rate_per_second), "provider.rate_per_second", "is from 0 (no limit) to 100000");
    v.add_if(!(0..=20).contains(&p.max_attempts), "provider.max_attempts", "is from 0 (the default, 3) to 20");
    v.add_if(!(0..=64).contains(&p.concurrency), "provider.concurrency", "is from 0 (the default, 8) to 64");
    match (&mut p.settings, channel) {
        (Some(Settings::Smtp(s)), Some(Channel::Email)) => check_smtp(s, &mut v),
        (Some(Settings::SmsGateway(g)), Some(Channel::Sms)) => check_gateway(g, &mut v),
        (Some(Settings::Telegram(t)), Some(Channel::Telegram)) => check_telegram(t, &mut v),
        (Some(Settings::PushGateway(g)), Some(Channel::Push)) => {
            g.url = g.url.trim().to_string();
            if !is_web_url(&g.url) {
                v.add(
                    "provider.push_gateway.url",
                    "is not an http(s) URL (FCM's is https://fcm.googleapis.com/v1/projects/<project>/messages:send)",
                );
            }
        }
        (Some(Settings::Smtp(_)), Some(_)) => v.add("provider.smtp", "SMTP sends email: set the channel to email"),
        (Some(Settings::SmsGateway(_)), Some(_)) => {
            v.add("provider.sms_gateway", "a gateway sends SMS: set the channel to SMS")
        }
        (Some(Settings::Telegram(_)), Some(_)) => {
            v.add("provider.telegram", "the Bot API sends Telegram messages: set the channel to Telegram")
        }
        (Some(_), Some(Channel::Email)) => v.add("provider.smtp", "email is sent through SMTP: give smtp settings"),
        (Some(_), Some(Channel::Sms)) => {
            v.add("provider.sms_gateway", "SMS goes through an HTTP gateway: give its settings")
        }
        (Some(_), Some(Channel::Telegram)) => v.add("provider.telegram", "give the bot's settings"),
        (None, _) => v.add("provider.settings", "give the provider's settings"),
        _ => {}
    }
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    Ok(channel.unwrap_or(Channel::Email))
}

fn is_web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://")) && url.len() > 8 && !url.contains(char::is_whitespace)
}

fn check_gateway(g: &mut pb::HttpGatewaySettings, v: &mut Violations) {
    g.url = g.url.trim().to_string();
    if !is_web_url(&g.url) {
        v.add("provider.sms_gateway.url", "is not an http(s) URL");
    }
    let carries = |name: &str| g.body_template.contains(name);
    let missing = ["{to}", "{text}"].iter().any(|name| !carries(name));
    if !g.body_template.is_empty() && missing {
        v.add("provider.sms_gateway.body_template", "must carry {to} and {text}");
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !g.auth_header.is_empty() && !g.auth_header.chars().all(token) {
        v.add("provider.sms_gateway.auth_header", "is not a header name");
    }
    if g.sender.chars().count() > 11 && !g.sender.chars().all(|c| c.is_ascii_digit() || c == '+') {
        v.add("provider.sms_gateway.sender", "an alphanumeric sender is at most 11 characters");
    }
}

fn check_telegram(t: &mut pb::TelegramSettings, v: &mut Violations) {
    if !t.base_url.is_empty() && !is_web_url(&t.base_url) {
        v.add("provider.telegram.base_url", "is not an http(s) URL");
    }
    if !t.bot_token.is_empty() && (!t.bot_token.contains(':') || t.bot_token.contains(char::is_whitespace)) {
        v.add("provider.telegram.bot_token", "is not a bot token (\"123456:ABC…\" from @BotFather)");
    }
}

fn check_smtp(s: &mut pb::SmtpSettings, v: &mut Violations) {
    use pb::SmtpSecurity;
    s.host = s.host.trim().to_string();
    if s.host.is_empty() || s.host.contains(char::is_whitespace) || s.host.len() > 253 {
        v.add("provider.smtp.host", "give the SMTP server's host name");
    }
    if !(1..=65_535).contains(&s.port) {
        v.add("provider.smtp.port", "is a port from 1 to 65535");
    }
    if s.from_address.trim().parse::<lettre::Address>().is_err() {
        v.add("provider.smtp.from_address", "is not an email address");
    }
    if !s.unsubscribe_mailbox.is_empty() && s.unsubscribe_mailbox.parse::<lettre::Address>().is_err() {
        v.add("provider.smtp.unsubscribe_mailbox", "is not an email address");
    }
    if s.from_name.contains(['\r', '\n']) {
        v.add("provider.smtp.from_name", "is one line: it holds a line break");
    }
    if SmtpSecurity::try_from(s.security).unwrap_or(SmtpSecurity::Unspecified) == SmtpSecurity::Unspecified {
        s.security = match s.port {
            465 => SmtpSecurity::Tls,
            587 => SmtpSecurity::Starttls,
            _ => SmtpSecurity::None,
        } as i32;
    }
}

/// Takes the write-only secret out of `p`: None when the caller left it empty (keep the stored one).
fn take_secret(p: &mut pb::ChannelProvider) -> Option<String> {
    let secret = match &mut p.settings {
        Some(Settings::Smtp(s)) => std::mem::take(&mut s.password),
        Some(Settings::SmsGateway(s)) | Some(Settings::PushGateway(s)) => std::mem::take(&mut s.api_key),
        Some(Settings::Telegram(t)) => std::mem::take(&mut t.bot_token),
        None => String::new(),
    };
    (!secret.is_empty()).then_some(secret)
}

/// The provider as the API shows it: no secret, only whether one is stored.
fn shown(stored: &Stored) -> pb::ChannelProvider {
    let mut p = stored.provider.clone();
    let set = stored.sealed_secret.is_some();
    match &mut p.settings {
        Some(Settings::Smtp(s)) => s.password_set = set,
        Some(Settings::SmsGateway(s)) | Some(Settings::PushGateway(s)) => s.api_key_set = set,
        Some(Settings::Telegram(t)) => t.bot_token_set = set,
        None => {}
    }
    p.updated_at = Some(to_timestamp(stored.updated_at));
    p
}
