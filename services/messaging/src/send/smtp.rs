//! Email through the tenant's SMTP server (ME-1): pooled connections, STARTTLS or TLS, a
//! plain-text part beside the HTML, and one-click unsubscribe headers (RFC 8058).
use super::{Outcome, Outgoing};
use anyhow::Context;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use loyalty_api::messaging::v1::{SmtpSecurity, SmtpSettings};
use std::time::Duration;

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    unsubscribe_mailbox: String,
}

impl Smtp {
    pub fn new(s: &SmtpSettings, password: &str, concurrency: u32) -> anyhow::Result<Smtp> {
        let tls = || TlsParameters::new(s.host.clone()).context("TLS parameters");
        let security = match SmtpSecurity::try_from(s.security).unwrap_or(SmtpSecurity::Unspecified) {
            SmtpSecurity::Starttls => Tls::Required(tls()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::None | SmtpSecurity::Unspecified => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(u16::try_from(s.port).context("smtp.port")?)
            .tls(security)
            .timeout(Some(Duration::from_secs(30)))
            .pool_config(PoolConfig::new().max_size(concurrency.max(1)));
        if !s.username.is_empty() {
            builder = builder.credentials(Credentials::new(s.username.clone(), password.to_string()));
        }
        let from = Mailbox::new(
            (!s.from_name.is_empty()).then(|| s.from_name.clone()),
            s.from_address.parse().context("smtp.from_address")?,
        );
        Ok(Smtp { transport: builder.build(), from, unsubscribe_mailbox: s.unsubscribe_mailbox.clone() })
    }

    pub async fn send(&self, m: &Outgoing) -> Outcome {
        let message = match self.message(m) {
            Ok(message) => message,
            Err(e) => return Outcome::Refused { reason: format!("{e:#}"), permanent: true },
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Accepted(m.message_id.clone()),
            Err(e) => Outcome::Refused { reason: format!("smtp: {e}"), permanent: e.is_permanent() },
        }
    }

    fn message(&self, m: &Outgoing) -> anyhow::Result<Message> {
        let to: Mailbox = m.to.parse().map_err(|_| anyhow::anyhow!("{:?} is not an email address", m.to))?;
        let mut from = self.from.clone();
        if !m.sender_name.is_empty() {
            from.name = Some(m.sender_name.clone());
        }
        let mut builder =
            Message::builder().from(from).to(to).subject(&m.subject).message_id(Some(m.message_id.clone()));
        if !m.unsubscribe_url.is_empty() {
            let mut value = format!("<{}>", m.unsubscribe_url);
            if !self.unsubscribe_mailbox.is_empty() {
                value = format!("<mailto:{}?subject=unsubscribe>, {value}", self.unsubscribe_mailbox);
            }
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), value))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        Ok(builder.multipart(MultiPart::alternative_plain_html(m.text.clone(), m.body.clone()))?)
    }
}
