//! The card service's settings: the platform's and its own, each with a default that works locally.
use loyalty_platform::config::PlatformSettings;
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    #[serde(flatten)]
    pub platform: PlatformSettings,
    pub cards: CardSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct CardSettings {
    /// The most cards one bulk change may select (`LOYALTY_CARD__CARDS__MAX_BULK_CHANGE`).
    pub max_bulk_change: i64,
}

impl Default for CardSettings {
    fn default() -> Self {
        Self { max_bulk_change: 200_000 }
    }
}

loyalty_platform::service_settings!(Settings);
