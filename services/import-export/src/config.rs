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
    /// How long a job's files, and the rows of its reports, are kept after it ends (IE-4: 24 h).
    pub retention_hours: i64,
    /// How often expired files are deleted.
    pub purge_every_s: u64,
    /// Where exports are written before they are stored (an XLSX needs a seekable file and temp
    /// files of its own; give the pod a volume here). Empty: the system's temp dir.
    pub temp_dir: String,
    /// The most clients a PDF export takes (a PDF is for print; its pages are laid out in memory).
    pub pdf_max_rows: i64,
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
            retention_hours: 24,
            purge_every_s: 60,
            temp_dir: std::env::temp_dir().join("loyalty-exports").display().to_string(),
            pdf_max_rows: 20_000,
        }
    }
}

loyalty_platform::service_settings!(Settings);
