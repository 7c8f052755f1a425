//! Email through the tenant's SMTP server (ME-1): a pool of open connections (one per slot of the
//! provider's concurrency), STARTTLS or TLS, a plain-text part beside the HTML, and one-click
//! unsubscribe headers (RFC 8058). The message is written by lettre's builder and carried by
//! [`super::wire`].
use super::wire::{self, Connection, Refusal, Security};
use super::{Outcome, Outgoing};
use anyhow::Context;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use loyalty_api::messaging::v1::{SmtpSecurity, SmtpSettings};

pub struct Smtp {
    server: wire::Server,
    from: Mailbox,
    unsubscribe_mailbox: String,
    idle: std::sync::Mutex<Vec<Connection>>,
}

impl Smtp {
    pub fn new(s: &SmtpSettings, password: &str) -> anyhow::Result<Smtp> {
        let security = match SmtpSecurity::try_from(s.security).unwrap_or(SmtpSecurity::Unspecified) {
            SmtpSecurity::Starttls => Security::StartTls,
            SmtpSecurity::Tls => Security::Tls,
            SmtpSecurity::None | SmtpSecurity::Unspecified => Security::None,
        };
        let server = wire::Server {
            host: s.host.clone(),
            port: u16::try_from(s.port).context("smtp.port")?,
            security,
            login: (!s.username.is_empty()).then(|| (s.username.clone(), password.to_string())),
            hello: "loyalty-messaging".into(),
        };
        let from = Mailbox::new(
            (!s.from_name.is_empty()).then(|| s.from_name.clone()),
            s.from_address.parse().context("smtp.from_address")?,
        );
        Ok(Smtp { server, from, unsubscribe_mailbox: s.unsubscribe_mailbox.clone(), idle: Default::default() })
    }

    pub async fn send(&self, m: &Outgoing) -> Outcome {
        let message = match self.message(m) {
            Ok(message) => message,
            Err(e) => return Outcome::Refused { reason: format!("{e:#}"), permanent: true, unreachable: false },
        };
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut connection = match taken {
            Some(c) => c,
            None => match Connection::open(&self.server).await {
                Ok(c) => c,
                Err(e) => {
                    return Outcome::Refused { reason: format!("smtp: {e:#}"), permanent: false, unreachable: false };
                }
            },
        };
        let from = self.from.email.to_string();
        match connection.send(&from, &m.to, &message.formatted()).await {
            Ok(_) => {
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(connection);
                Outcome::Accepted(m.message_id.clone())
            }
            Err(Refusal::Said(reply)) => {
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(connection);
                Outcome::Refused {
                    reason: format!("smtp: {} {}", reply.code, reply.text),
                    permanent: reply.code >= 500,
                    unreachable: false,
                }
            }
            Err(Refusal::Broken(e)) => {
                Outcome::Refused { reason: format!("smtp: {e:#}"), permanent: false, unreachable: false }
            }
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
