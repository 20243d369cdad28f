//! Group commit: one thread owns the write connection and makes whole batches durable at once.
//!
//! While one batch waits on its fsyncs, new submissions queue up; the next batch takes all of
//! them, so under load many submissions share one directory fsync and one WAL fsync.

use std::io::Write;
use std::sync::{mpsc, Arc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::blobs::{sync_contents, sync_dir, BlobDirs};
use super::{NewBlob, NewSubmission, StoreError};
use crate::events::event;
use sealdrop_core::BlobKind;

/// The most submissions one transaction takes by default (bounds the time a batch holds the
/// writer). 1 turns group commit off: the naive design, kept for benchmarks to compare against.
pub const DEFAULT_MAX_BATCH: usize = 512;

/// Each submission is answered with its envelope's blob id, or why the batch failed.
type Reply = oneshot::Sender<Result<String, StoreError>>;

pub(super) struct Committer {
    queue: mpsc::Sender<(NewSubmission, Reply)>,
}

impl Committer {
    pub(super) fn start(
        conn: Connection,
        dirs: BlobDirs,
        max_batch: usize,
    ) -> Result<Committer, StoreError> {
        let (queue, rx) = mpsc::channel::<(NewSubmission, Reply)>();
        std::thread::Builder::new()
            .name("sealdrop-commit".into())
            .spawn(move || run(conn, dirs, rx, max_batch.max(1)))?;
        Ok(Committer { queue })
    }

    pub(super) async fn commit(&self, submission: NewSubmission) -> Result<String, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send((submission, tx))
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }
}

fn run(
    mut conn: Connection,
    dirs: BlobDirs,
    rx: mpsc::Receiver<(NewSubmission, Reply)>,
    max_batch: usize,
) {
    while let Ok(first) = rx.recv() {
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
        for (i, reply) in replies.into_iter().enumerate() {
            let _ = reply.send(match &result {
                Ok(envelope_ids) => Ok(envelope_ids[i].clone()),
                Err(e) => match &**e {
                    StoreError::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
                        Err(StoreError::Full("the disk filled up"))
                    }
                    _ => Err(StoreError::CommitFailed(e.clone())),
                },
            });
        }
        // On failure the blobs drop here and delete their files under incoming/.
    }
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
            "INSERT INTO blobs (id, submission_id, kind, size) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (s, envelope) in submissions.iter().zip(envelopes) {
            add_submission.execute((&s.id, s.arrived.to_string(), envelope.blob.id()))?;
            let blobs = std::iter::once((envelope, BlobKind::Envelope))
                .chain(s.attachments.iter().map(|a| (a, BlobKind::Attachment)));
            for (b, kind) in blobs {
                add_blob.execute((b.blob.id(), &s.id, kind.as_str(), b.size as i64))?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}
