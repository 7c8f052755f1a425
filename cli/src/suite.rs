//! The services `loyalty dev up` runs. A service's issue adds it here: its schema and migrations,
//! how it registers its gRPC services, and how it loads its part of the demo data.
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;

/// Migrates every implemented service into its own schema of one database.
pub async fn migrate_all(settings: &PlatformSettings) -> anyhow::Result<()> {
    let _ = settings;
    Ok(())
}

/// Registers every implemented service on one server.
pub async fn register_all(settings: &PlatformSettings, services: &mut Services) -> anyhow::Result<()> {
    let _ = (settings, services);
    Ok(())
}

/// Loads the demo chain into every implemented service, through its gRPC API. Returns a line per
/// service saying what it loaded.
pub async fn load_demo(endpoint: &str, token: &str) -> anyhow::Result<Vec<String>> {
    let _ = (endpoint, token);
    Ok(Vec::new())
}
