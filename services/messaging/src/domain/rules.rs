//! Who may receive a message on a channel (ME-2): the client service's rules (CL-4, CL-5) applied
//! to messaging's read model of each client, with the client service's reasons.
use crate::store::contacts::Contact;

/// Channels by their name in storage and their contract value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
    Push,
    Telegram,
}

impl Channel {
    pub fn from_contract(value: i32) -> Option<Channel> {
        use loyalty_api::common::v1::ContactChannel as C;
        match C::try_from(value).ok()? {
            C::Email => Some(Channel::Email),
            C::Sms => Some(Channel::Sms),
            C::Push => Some(Channel::Push),
            C::Telegram => Some(Channel::Telegram),
            C::Unspecified => None,
        }
    }

    pub fn contract(self) -> i32 {
        use loyalty_api::common::v1::ContactChannel as C;
        (match self {
            Channel::Email => C::Email,
            Channel::Sms => C::Sms,
            Channel::Push => C::Push,
            Channel::Telegram => C::Telegram,
        }) as i32
    }

    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Telegram => "telegram",
        }
    }

    pub fn parse(name: &str) -> Option<Channel> {
        [Channel::Email, Channel::Sms, Channel::Push, Channel::Telegram].into_iter().find(|c| c.name() == name)
    }
}

/// Why a client is left out of a send, as `CampaignStats.excluded` counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusion {
    /// Messaging never heard of the client (an id list naming a stranger).
    NotFound,
    Erased,
    /// Deleted, or merged into another client.
    Deleted,
    Blocked,
    NoAddress,
    Unsubscribed,
    ConsentUnknown,
    /// The tenant's frequency cap: enough marketing messages on the channel lately.
    FrequencyCap,
}

impl Exclusion {
    pub fn reason(self) -> &'static str {
        match self {
            Exclusion::NotFound => "not_found",
            Exclusion::Erased => "erased",
            Exclusion::Deleted => "deleted",
            Exclusion::Blocked => "blocked",
            Exclusion::NoAddress => "no_address",
            Exclusion::Unsubscribed => "unsubscribed",
            Exclusion::ConsentUnknown => "consent_unknown",
            Exclusion::FrequencyCap => "frequency_cap",
        }
    }
}

/// The address a message on `channel` goes to, or why it may not be sent. Marketing needs the
/// channel's consent; a transactional notice needs only an address, and neither goes to a
/// blocked, erased or deleted client.
pub fn recipient(contact: Option<&Contact>, channel: Channel, marketing: bool) -> Result<String, Exclusion> {
    let Some(c) = contact else { return Err(Exclusion::NotFound) };
    if c.erased {
        return Err(Exclusion::Erased);
    }
    if c.deleted {
        return Err(Exclusion::Deleted);
    }
    if c.blocked {
        return Err(Exclusion::Blocked);
    }
    let (address, consent) = match channel {
        Channel::Email => (&c.email, &c.email_consent),
        Channel::Sms => (&c.phone, &c.sms_consent),
        Channel::Push => (&c.push_address, &c.push_consent),
        Channel::Telegram => (&c.telegram_address, &c.telegram_consent),
    };
    if address.is_empty() {
        return Err(Exclusion::NoAddress);
    }
    if marketing {
        match consent.as_str() {
            "subscribed" => {}
            "unsubscribed" => return Err(Exclusion::Unsubscribed),
            _ => return Err(Exclusion::ConsentUnknown),
        }
    }
    Ok(address.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribed() -> Contact {
        Contact {
            email: "ona@example.lt".into(),
            phone: "+37061200501".into(),
            email_consent: "subscribed".into(),
            sms_consent: "unsubscribed".into(),
            ..Contact::default()
        }
    }

    #[test]
    fn marketing_needs_the_channels_consent_and_an_address() {
        let ona = subscribed();
        assert_eq!(recipient(Some(&ona), Channel::Email, true), Ok("ona@example.lt".into()));
        assert_eq!(recipient(Some(&ona), Channel::Sms, true), Err(Exclusion::Unsubscribed));
        assert_eq!(recipient(Some(&ona), Channel::Push, true), Err(Exclusion::NoAddress));
        let unknown = Contact { email_consent: "unknown".into(), ..subscribed() };
        assert_eq!(recipient(Some(&unknown), Channel::Email, true), Err(Exclusion::ConsentUnknown));
        assert_eq!(recipient(None, Channel::Email, true), Err(Exclusion::NotFound));
    }

    #[test]
    fn a_notice_skips_consent_but_never_reaches_a_blocked_or_erased_client() {
        let ona = subscribed();
        assert_eq!(recipient(Some(&ona), Channel::Sms, false), Ok("+37061200501".into()));
        let blocked = Contact { blocked: true, ..subscribed() };
        assert_eq!(recipient(Some(&blocked), Channel::Email, false), Err(Exclusion::Blocked));
        let erased = Contact { erased: true, blocked: true, ..subscribed() };
        assert_eq!(recipient(Some(&erased), Channel::Email, false), Err(Exclusion::Erased));
    }
}
