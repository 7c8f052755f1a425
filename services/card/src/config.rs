//! The card service's settings: the platform's and its own, each with a default that works locally.
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::service_main::ServiceSettings;
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

impl Settings {
    /// The card service's defaults on the given platform settings (`loyalty dev up`, tests).
    pub fn with_platform(platform: &PlatformSettings) -> Self {
        Self { platform: platform.clone(), ..Self::default() }
    }
}

impl ServiceSettings for Settings {
    fn platform(&self) -> &PlatformSettings {
        &self.platform
    }

    fn platform_mut(&mut self) -> &mut PlatformSettings {
        &mut self.platform
    }
}
