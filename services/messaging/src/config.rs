//! The messaging service's settings: the platform's and its own, each with a default that works locally.
use loyalty_platform::Secret;
use loyalty_platform::config::PlatformSettings;
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    #[serde(flatten)]
    pub platform: PlatformSettings,
    pub messaging: MessagingSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MessagingSettings {
    /// The key providers' secrets are sealed with: 32 bytes, base64. Empty uses a development key
    /// (logged as a warning); production sets it from a Kubernetes secret.
    pub secrets_key: Secret<String>,
    /// The key tracking and unsubscribe links are signed with (any length); empty derives one
    /// from `secrets_key`.
    pub links_key: Secret<String>,
    /// Where links in messages point: the tracking endpoint as recipients reach it. Empty is the
    /// address `tracking_listen` bound (development and tests).
    pub public_url: String,
    /// The HTTP endpoint beside the gRPC port: the open pixel, click redirects, one-click unsubscribe.
    pub tracking_listen: String,
    /// How often the sender looks for work when nothing woke it.
    pub send_every_ms: u64,
    /// Recipients taken in one batch: their intents are committed together before any is sent,
    /// and a paused campaign stops after the batch in flight. 4,000 sends 100,000 at 6,500/s
    /// where 1,000 sent 5,100/s (`email-send`): fewer, larger statements per message.
    pub batch: i64,
    /// Where the sender notes each message a provider accepted before the database knows it, so
    /// a restart after `kill -9` resends nothing the provider took. Empty is the system's temp dir.
    pub journal_dir: String,
    /// Consecutive provider errors after which a campaign pauses itself (ME-7).
    pub pause_after_errors: u32,
}

impl Default for MessagingSettings {
    fn default() -> Self {
        Self {
            secrets_key: Secret::new(String::new()),
            links_key: Secret::new(String::new()),
            public_url: "http://localhost:8090".into(),
            tracking_listen: "0.0.0.0:8090".into(),
            send_every_ms: 200,
            batch: 4000,
            journal_dir: String::new(),
            pause_after_errors: 10,
        }
    }
}

loyalty_platform::service_settings!(Settings);
