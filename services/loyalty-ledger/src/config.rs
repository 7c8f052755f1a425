//! The ledger's settings: the platform's and its own, each with a default that works locally.
use loyalty_platform::config::PlatformSettings;
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    #[serde(flatten)]
    pub platform: PlatformSettings,
    pub sweep: SweepSettings,
}

/// The workers that activate and expire lots at their instants and time reservations out (LE-5,
/// LE-8): every account operation also advances its own lots first, so a late sweep never shows.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SweepSettings {
    /// How often due lots and reservations are looked for.
    pub every_ms: u64,
    /// Accounts (and reservations) one pass handles at most.
    pub batch: i64,
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self { every_ms: 500, batch: 500 }
    }
}

loyalty_platform::service_settings!(Settings);
