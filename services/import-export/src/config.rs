//! The import-export service's settings: the platform's and its own, each with a default that
//! works locally.
use loyalty_platform::config::PlatformSettings;
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    #[serde(flatten)]
    pub platform: PlatformSettings,
    pub importexport: JobSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct JobSettings {
    /// How often a replica looks for a job to run.
    pub poll_every_ms: u64,
    /// Rows sent to the client service in one call (at most 1,000): the unit a killed job
    /// resumes from.
    pub batch_rows: usize,
    /// The largest file an upload may hold.
    pub max_upload_bytes: i64,
    /// The longest cell and the longest row, in characters: longer ones are refused as the row's error.
    pub max_cell_chars: usize,
    pub max_row_chars: usize,
    /// How long a worker holds a job without reporting progress before another replica takes it
    /// over (a killed worker's job resumes after this).
    pub lease_s: i64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            poll_every_ms: 250,
            batch_rows: 500,
            max_upload_bytes: 2 << 30,
            max_cell_chars: 10_000,
            max_row_chars: 100_000,
            lease_s: 30,
        }
    }
}

loyalty_platform::service_settings!(Settings);
