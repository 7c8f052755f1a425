//! Values as people read them: times in the tenant's time zone, money with its currency, statuses
//! and channels as words.
use crate::connection::Connection;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
use loyalty_platform::tz::TimeZone;
use loyalty_platform::{Currency, Money};

/// What the tenant's settings say about showing values.
pub struct Tenant {
    pub zone: TimeZone,
    pub currency: Currency,
}

impl Tenant {
    /// The settings of the token's tenant; UTC and EUR when the suite cannot say.
    pub async fn of(connection: &Connection) -> Tenant {
        let asked = async {
            let mut api = ClientServiceClient::new(connection.authed().await?);
            Ok::<_, anyhow::Error>(api.get_tenant_settings(pb::GetTenantSettingsRequest {}).await?.into_inner())
        };
        match asked.await {
            Ok(s) => Tenant {
                zone: loyalty_platform::tz::stored(&s.time_zone),
                currency: Currency::known(&s.currency).unwrap_or(Currency::EUR),
            },
            Err(_) => Tenant { zone: TimeZone::UTC, currency: Currency::EUR },
        }
    }

    /// "2026-12-01 11:58" in the tenant's zone.
    pub fn time(&self, ts: Option<&prost_types::Timestamp>) -> String {
        let Some(at) = ts.and_then(loyalty_platform::convert::from_timestamp) else { return "-".into() };
        let Ok(instant) = jiff::Timestamp::from_nanosecond(at.unix_timestamp_nanos()) else { return "-".into() };
        instant.to_zoned(self.zone.clone()).strftime("%Y-%m-%d %H:%M").to_string()
    }
}

/// "12.34 EUR"; an amount without a currency is shown in `fallback`'s.
pub fn money(m: Option<&loyalty_api::common::v1::Money>, fallback: Currency) -> String {
    let Some(m) = m else { return "-".into() };
    let currency = Currency::known(&m.currency).unwrap_or(fallback);
    Money::new(m.minor_units, currency).map(|m| m.display()).unwrap_or_else(|| m.minor_units.to_string())
}

/// An enum value's name as a word: `CARD_STATUS_ACTIVE` → "active".
pub fn word(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase().replace('_', " ")
}

pub fn client_status(v: i32) -> String {
    loyalty_api::events::v1::ClientStatus::try_from(v)
        .map(|s| word(s.as_str_name(), "CLIENT_STATUS_"))
        .unwrap_or_else(|_| "?".into())
}

pub fn channel(v: i32) -> String {
    ContactChannel::try_from(v).map(|c| word(c.as_str_name(), "CONTACT_CHANNEL_")).unwrap_or_else(|_| "?".into())
}

pub fn consent(v: i32) -> String {
    ConsentStatus::try_from(v).map(|c| word(c.as_str_name(), "CONSENT_STATUS_")).unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_the_tenant_s_and_money_has_its_currency() {
        let t = Tenant { zone: loyalty_platform::tz::stored("Europe/Vilnius"), currency: Currency::EUR };
        let ts = prost_types::Timestamp { seconds: 1_764_590_400, nanos: 0 }; // 2025-12-01 12:00 UTC
        assert_eq!(t.time(Some(&ts)), "2025-12-01 14:00");
        let m = loyalty_api::common::v1::Money { minor_units: 1234, currency: "PLN".into() };
        assert_eq!(money(Some(&m), Currency::EUR), "12.34 PLN");
        assert_eq!(word("CARD_STATUS_ACTIVE", "CARD_STATUS_"), "active");
    }
}
