//! The sender's note of what a provider accepted before the database knows it. One file per batch,
//! appended to as each acceptance arrives and removed once the batch is committed; a process killed
//! in between leaves the file, and the next sender marks those messages sent instead of sending them
//! again. It lives on the replica's disk (an `emptyDir` survives a container restart).
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use time::OffsetDateTime;
use uuid::Uuid;

/// A message a provider accepted: its tenant, delivery and when.
pub type Accepted = (String, Uuid, OffsetDateTime);

pub struct Journal {
    dir: PathBuf,
}

/// The note of one batch with the provider.
pub struct Note {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Note {
    /// Notes that the provider accepted `delivery` of `tenant` at `at` (one write, before anything else).
    pub fn accepted(&self, tenant: &str, delivery: Uuid, at: OffsetDateTime) -> anyhow::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(format!("{delivery} {} {tenant}\n", at.unix_timestamp_nanos()).as_bytes())?;
        Ok(())
    }

    /// The batch is committed: its note is no longer needed.
    pub fn end(self) -> anyhow::Result<()> {
        std::fs::remove_file(&self.path)?;
        Ok(())
    }
}

impl Journal {
    pub fn new(dir: PathBuf) -> anyhow::Result<Journal> {
        std::fs::create_dir_all(&dir).with_context(|| format!("the send journal directory {}", dir.display()))?;
        Ok(Journal { dir })
    }

    /// Opens the note of a new batch (batches may be with the provider and settling at once).
    pub fn begin(&self) -> anyhow::Result<Note> {
        let path = self.dir.join(format!("accepted-{}.log", Uuid::now_v7()));
        let file = std::fs::OpenOptions::new().create_new(true).append(true).open(&path)?;
        Ok(Note { path, file: Mutex::new(file) })
    }

    /// Every acceptance noted by batches that were never committed, with the files they came from.
    pub fn left_over(&self) -> anyhow::Result<(Vec<Accepted>, Vec<PathBuf>)> {
        let (mut accepted, mut files) = (Vec::new(), Vec::new());
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let named = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !(named.starts_with("accepted-") && named.ends_with(".log")) {
                continue;
            }
            for line in std::fs::read_to_string(&path)?.lines() {
                let mut parts = line.splitn(3, ' ');
                let (Some(id), Some(at), Some(tenant)) = (parts.next(), parts.next(), parts.next()) else { continue };
                let (Ok(id), Ok(at)) = (Uuid::parse_str(id), at.parse::<i128>()) else { continue };
                let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(at) else { continue };
                accepted.push((tenant.to_string(), id, at));
            }
            files.push(path);
        }
        Ok((accepted, files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_never_committed_is_read_back_and_a_committed_one_is_gone() {
        let dir = std::env::temp_dir().join(format!("journal-test-{}", Uuid::now_v7()));
        let journal = Journal::new(dir.clone()).expect("dir");
        let (a, b, at) = (Uuid::now_v7(), Uuid::now_v7(), OffsetDateTime::now_utc());
        let first = journal.begin().expect("begin");
        first.accepted("acme", a, at).expect("note");
        first.end().expect("end");
        let second = journal.begin().expect("begin");
        second.accepted("acme", b, at).expect("note");
        // Killed here: a new journal over the same directory finds b, and only b.
        let (left, files) = Journal::new(dir.clone()).expect("dir").left_over().expect("reads");
        assert_eq!(left, vec![("acme".to_string(), b, at)]);
        assert_eq!(files.len(), 1);
        drop(second);
        let _ = std::fs::remove_dir_all(dir);
    }
}
