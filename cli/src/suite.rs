//! The services `loyalty dev up` runs: how each registers on the shared server (migrating its own
//! schema first, with its own settings from the environment on the shared platform settings).
use anyhow::Context;
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use loyalty_platform::service_main::ServiceSettings;

/// A service's own settings (`LOYALTY_<SERVICE>__…`) on the shared platform settings.
fn own<S: ServiceSettings>(name: &str, platform: &PlatformSettings) -> anyhow::Result<S> {
    let mut settings: S = loyalty_platform::config::load(name, None)?;
    *settings.platform_mut() = platform.clone();
    Ok(settings)
}

/// Registers every implemented service on one server; each migrates its own schema first. The
/// messaging service's links are served at `tracking_listen`.
pub async fn register_all(
    settings: &PlatformSettings,
    services: &mut Services,
    tracking_listen: &str,
) -> anyhow::Result<()> {
    let client: loyalty_client::Settings = own(loyalty_client::NAME, settings)?;
    loyalty_client::register(&client, services).await.context("starting the client service")?;
    let card: loyalty_card::Settings = own(loyalty_card::NAME, settings)?;
    loyalty_card::register(&card, services).await.context("starting the card service")?;
    let ledger: loyalty_ledger::Settings = own(loyalty_ledger::NAME, settings)?;
    loyalty_ledger::register(&ledger, services).await.context("starting the loyalty ledger")?;
    let segment: loyalty_segment::Settings = own(loyalty_segment::NAME, settings)?;
    loyalty_segment::register(&segment, services).await.context("starting the segment service")?;
    let mut messaging: loyalty_messaging::Settings = own(loyalty_messaging::NAME, settings)?;
    messaging.messaging.tracking_listen = tracking_listen.to_string();
    if messaging.messaging.public_url == loyalty_messaging::config::MessagingSettings::default().public_url {
        // Links point at the address the endpoint bound (a free port when asked for port 0).
        messaging.messaging.public_url = String::new();
    }
    loyalty_messaging::register(&messaging, services).await.context("starting the messaging service")?;
    let imports: loyalty_import_export::Settings = own(loyalty_import_export::NAME, settings)?;
    loyalty_import_export::register(&imports, services).await.context("starting the import-export service")?;
    Ok(())
}
