//! The segment service's settings: the platform's and its own, each with a default that works locally.
use loyalty_platform::config::PlatformSettings;
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    #[serde(flatten)]
    pub platform: PlatformSettings,
    pub segments: SegmentSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SegmentSettings {
    /// How often a replica looks for facts newer than the ones it holds, when no notice woke it.
    pub follow_every_ms: u64,
    /// The most facts read in one go while loading or following.
    pub follow_batch: i64,
    /// The most client ids in one `StreamClientIds` message.
    pub ids_per_batch: usize,
    /// The built-in segments' thresholds and RFM scores are computed at each tenant's midnight,
    /// and again when the facts moved and this many seconds passed since the last computation
    /// (a base migrated during the day gets its thresholds the same day).
    pub automatic_every_s: u64,
}

impl Default for SegmentSettings {
    fn default() -> Self {
        Self { follow_every_ms: 100, follow_batch: 20_000, ids_per_batch: 10_000, automatic_every_s: 60 }
    }
}

loyalty_platform::service_settings!(Settings);
