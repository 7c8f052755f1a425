//! The client service's settings: the platform's and its own, each with a default that works locally.
use loyalty_platform::config::PlatformSettings;
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    #[serde(flatten)]
    pub platform: PlatformSettings,
    pub clients: ClientSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ClientSettings {
    /// How long a tenant's phone region is cached for reading search terms; a changed setting
    /// reaches searches within this.
    pub phone_region_ttl_ms: u64,
    /// The most clients one bulk tag edit may touch.
    pub max_bulk_tags: i64,
    /// How often history past each tenant's `history_retention_days` is deleted.
    pub history_purge_every_s: u64,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self { phone_region_ttl_ms: 10_000, max_bulk_tags: 100_000, history_purge_every_s: 3_600 }
    }
}

loyalty_platform::service_settings!(Settings);
