//! Group commit: one thread owns the write connection and makes whole batches durable at once.
//!
//! While one batch waits on its fsyncs, new submissions queue up; the next batch takes all of
//! them, so under load many submissions share one directory fsync and one WAL fsync.
//!
//! The index must not keep arrival order (docs/STORAGE-FORMAT.md, "Order of arrival"): a batch's
//! rows go in shuffled, the WAL is checkpointed and truncated after every batch, and once the
//! committer is idle (and at shutdown) VACUUM rewrites the file, so cells sit in key order.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use rand::seq::SliceRandom;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::blobs::{sync_contents, sync_dir, BlobDirs};
use super::{NewBlob, NewSubmission, NoRoom, StoreError};
use crate::events::event;
use sealdrop_core::BlobKind;

/// The most submissions one transaction takes by default (bounds the time a batch holds the
/// writer). 1 turns group commit off: the naive design, kept for benchmarks to compare against.
pub const DEFAULT_MAX_BATCH: usize = 512;

/// Each submission is answered with its envelope's blob id, or why the batch failed.
type Reply = oneshot::Sender<Result<String, StoreError>>;

/// How long the committer waits for more work after a batch before it tidies the index.
const TIDY_AFTER: Duration = Duration::from_millis(500);

pub(super) struct Committer {
    queue: Option<mpsc::Sender<(NewSubmission, Reply)>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    pub(super) fn start(
        conn: Connection,
        dirs: BlobDirs,
        max_batch: usize,
    ) -> Result<Committer, StoreError> {
        let (queue, rx) = mpsc::channel::<(NewSubmission, Reply)>();
        let thread = std::thread::Builder::new()
            .name("sealdrop-commit".into())
            .spawn(move || run(conn, dirs, rx, max_batch.max(1)))?;
        Ok(Committer {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    pub(super) async fn commit(&self, submission: NewSubmission) -> Result<String, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .as_ref()
            .ok_or(StoreError::Stopped)?
            .send((submission, tx))
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }
}

impl Drop for Committer {
    /// Let the committer finish its last batch and its tidying (so a clean stop leaves the index
    /// rewritten and the WAL empty) before the data directory's lock is released.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    mut conn: Connection,
    dirs: BlobDirs,
    rx: mpsc::Receiver<(NewSubmission, Reply)>,
    max_batch: usize,
) {
    // A crash may have left the index as the last batches wrote it: tidy at the first idle.
    let mut untidy = true;
    loop {
        let first = if untidy {
            match rx.recv_timeout(TIDY_AFTER) {
                Ok(first) => first,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    untidy = !tidy(&conn);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(first) => first,
                Err(_) => break,
            }
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (mut submissions, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        // Shared: every submission of the batch is told the same cause.
        let result = commit_batch(&mut conn, &dirs, &mut submissions).map_err(Arc::new);
        if let Err(e) = &result {
            event(format!(
                "commit of {} submission(s) failed: {}",
                submissions.len(),
                crate::events::chain(&**e)
            ));
        }
        // Before anyone is told: a failed batch's files are deleted, and a committed one's room
        // is handed back, so the source's next request finds it free.
        drop(submissions);
        for (i, reply) in replies.into_iter().enumerate() {
            let _ = reply.send(match &result {
                Ok(envelope_ids) => Ok(envelope_ids[i].clone()),
                Err(e) => match &**e {
                    StoreError::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
                        Err(StoreError::Full(NoRoom::Filled))
                    }
                    _ => Err(StoreError::CommitFailed(e.clone())),
                },
            });
        }
        checkpoint(&conn);
        untidy = true;
    }
    if untidy {
        tidy(&conn);
    }
}

/// Copy the WAL into the database and truncate it, so the WAL never holds more than the batch
/// just committed. It does not wait: while another process (an export) reads, it does what it
/// can and the next batch tries again.
fn checkpoint(conn: &Connection) -> bool {
    let result = without_waiting(conn, || {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        })
    });
    matches!(result, Ok(0))
}

/// Rewrite the index (VACUUM: pages and cells in key order, so nothing follows arrival), then
/// empty the WAL again. Skipped, to be tried at the next idle, while another process holds the
/// database. Returns whether it is done.
fn tidy(conn: &Connection) -> bool {
    match without_waiting(conn, || conn.execute_batch("VACUUM")) {
        Ok(()) => checkpoint(conn),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            false
        }
        Err(e) => {
            event(format!(
                "warning: rewriting the index failed: {}",
                crate::events::chain(&e)
            ));
            false
        }
    }
}

/// Run `f` with no busy wait: tidying must never hold up the next batch behind another
/// process's long read.
fn without_waiting<T>(
    conn: &Connection,
    f: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.busy_timeout(Duration::ZERO)?;
    let result = f();
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    result
}

fn commit_batch(
    conn: &mut Connection,
    dirs: &BlobDirs,
    submissions: &mut [NewSubmission],
) -> Result<Vec<String>, StoreError> {
    let mut written = Vec::with_capacity(submissions.len());
    for s in submissions.iter() {
        written.push(write_envelope(dirs, s)?);
    }
    let mut moved = Vec::new();
    let result = move_and_record(conn, dirs, submissions, &written, &mut moved);
    if let Err(e) = result {
        // Undo the moves so nothing unrecorded stays in blobs/.
        for id in &moved {
            let _ = std::fs::remove_file(dirs.blob_path(id));
        }
        let _ = sync_dir(&dirs.blobs);
        return Err(e);
    }
    let envelope_ids = written.iter().map(|e| e.blob.id().to_owned()).collect();
    for blob in written.iter_mut().map(|e| &mut e.blob).chain(
        submissions
            .iter_mut()
            .flat_map(|s| s.attachments.iter_mut().map(|a| &mut a.blob)),
    ) {
        blob.mark_committed();
    }
    Ok(envelope_ids)
}

/// Write a submission's sealed envelope to a new blob under `incoming/`.
fn write_envelope(dirs: &BlobDirs, submission: &NewSubmission) -> Result<NewBlob, StoreError> {
    let mut blob = dirs.start_blob()?;
    blob.writer().write_all(&submission.envelope)?;
    let size = blob.finish(submission.arrived.start())?;
    Ok(NewBlob { blob, size })
}

fn move_and_record(
    conn: &mut Connection,
    dirs: &BlobDirs,
    submissions: &[NewSubmission],
    envelopes: &[NewBlob],
    moved: &mut Vec<String>,
) -> Result<(), StoreError> {
    // The protocol, once for the whole batch: contents durable, then moved into blobs/, then
    // the moves durable, then the index transaction (its own WAL fsync).
    let all: Vec<&NewBlob> = envelopes
        .iter()
        .chain(submissions.iter().flat_map(|s| s.attachments.iter()))
        .collect();
    let incoming: Vec<_> = all.iter().map(|b| &b.blob).collect();
    sync_contents(dirs, &incoming)?;
    // Measured once the contents are durable, when their blocks are allocated.
    let mut charges = HashMap::with_capacity(all.len());
    for b in &all {
        charges.insert(b.blob.id(), b.blob.charge(b.size)?);
    }
    for blob in &incoming {
        blob.move_into(dirs)?;
        moved.push(blob.id().to_owned());
    }
    sync_dir(&dirs.blobs)?;
    let tx = conn.transaction()?;
    {
        let mut add_submission = tx.prepare_cached(
            "INSERT INTO submissions (id, arrived, envelope_blob) VALUES (?1, ?2, ?3)",
        )?;
        let mut add_blob = tx.prepare_cached(
            "INSERT INTO blobs (id, submission_id, kind, size, charged) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        // In random order: where SQLite puts a cell inside a page follows insertion order.
        let mut rows: Vec<_> = submissions.iter().zip(envelopes).collect();
        rows.shuffle(&mut rand::thread_rng());
        let mut blob_rows = Vec::new();
        for (s, envelope) in rows {
            add_submission.execute((&s.id, s.arrived.to_string(), envelope.blob.id()))?;
            blob_rows.extend(
                std::iter::once((s, envelope, BlobKind::Envelope))
                    .chain(s.attachments.iter().map(|a| (s, a, BlobKind::Attachment))),
            );
        }
        blob_rows.shuffle(&mut rand::thread_rng());
        for (s, b, kind) in blob_rows {
            let id = b.blob.id();
            add_blob.execute((id, &s.id, kind.as_str(), b.size as i64, charges[id] as i64))?;
        }
    }
    tx.commit()?;
    Ok(())
}
