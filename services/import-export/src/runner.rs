//! The job runner every replica runs: takes the oldest job waiting (or one whose worker died),
//! runs it as an import or an export, and ends it. What a job holds of people's data is kept
//! for `retention_hours` after it ends, then purged.
use crate::config::JobSettings;
use crate::exporter::Exporter;
use crate::importer::Importer;
use crate::store::{files, jobs};
use loyalty_platform::clock::SharedClock;
use loyalty_platform::service::ServiceKit;

/// Why a run stopped before its end.
pub enum Stop {
    /// The file or what was asked cannot be done: the job fails, saying why.
    Refused(String),
    /// Someone cancelled the job.
    Cancelled,
    /// Another worker took the job over (this one was too slow to renew its lease).
    Lost,
    /// A passing failure (the database, a peer): another pass resumes the job.
    Passing(anyhow::Error),
}

impl Stop {
    /// A peer's answer: what it refuses as the caller's mistake (`INVALID_ARGUMENT`, `NOT_FOUND`)
    /// fails the job, saying why; anything else passes and another pass resumes the job.
    pub fn from_peer<T>(answer: Result<tonic::Response<T>, tonic::Status>, peer: &str) -> Result<T, Stop> {
        match answer {
            Ok(a) => Ok(a.into_inner()),
            Err(s) if matches!(s.code(), tonic::Code::InvalidArgument | tonic::Code::NotFound) => {
                Err(Stop::Refused(format!("{peer} refused the job's request: {}", s.message())))
            }
            Err(s) => Err(Stop::Passing(anyhow::anyhow!("{peer}: {s}"))),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Passing(e.into())
    }
}

#[derive(Clone)]
pub struct Runner {
    pool: deadpool_postgres::Pool,
    imports: Importer,
    exports: Exporter,
    settings: JobSettings,
    clock: SharedClock,
}

impl Runner {
    pub fn new(kit: &ServiceKit, settings: JobSettings, clock: SharedClock, exports: Exporter) -> anyhow::Result<Self> {
        Ok(Self { pool: kit.pool.clone(), imports: Importer::new(kit, settings.clone())?, exports, settings, clock })
    }

    /// Runs one job, if one is waiting; how many it ran.
    pub async fn pass(&self) -> anyhow::Result<u64> {
        let Some(job) = jobs::claim(&self.pool.get().await?, self.settings.lease_s).await? else { return Ok(0) };
        tracing::info!(job = %job.id, kind = %job.kind, tenant = %job.tenant, from_row = job.rows_done, "job started");
        let keep_until = self.clock.now() + time::Duration::hours(self.settings.retention_hours);
        let outcome = if job.kind.starts_with("export_") {
            self.exports.run(&job).await.map(|()| None)
        } else {
            self.imports.run(&job).await.map(Some)
        };
        let db = self.pool.get().await?;
        match outcome {
            Ok(Some(total)) => jobs::finish(&db, &job, Ok(total), keep_until).await?,
            Ok(None) => {}
            Err(Stop::Refused(why)) => jobs::finish(&db, &job, Err(&why), keep_until).await?,
            Err(Stop::Cancelled) => tracing::info!(job = %job.id, "job cancelled"),
            Err(Stop::Lost) => {
                tracing::warn!(job = %job.id, "job taken over by another worker");
                return Ok(1);
            }
            Err(Stop::Passing(e)) => {
                jobs::release(&db, &job).await?;
                return Err(e.context(format!("job {}", job.id)));
            }
        }
        if let Some(upload) = &job.upload_id {
            // The job ended: the rows an import needs later are in its reports; the file goes.
            files::drop_upload(&db, &job.tenant, upload).await?;
        }
        Ok(1)
    }

    /// Purges the data of jobs past their retention; how many jobs.
    pub async fn purge(&self) -> anyhow::Result<u64> {
        files::purge(&self.pool.get().await?, self.clock.now()).await
    }
}
