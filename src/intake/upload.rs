//! The bridge from the async request body to blocking encryption and file I/O.
//!
//! Each attachment gets a worker on tokio's blocking pool that seals chunks as they arrive over
//! a small bounded channel: memory per upload stays at a few chunks, the network side never
//! blocks on the disk, and encryption of concurrent uploads runs on both cores.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::seal::{SealError, Sealer};
use crate::store::blobs::BlobWriter;
use crate::store::{BlobDirs, NewBlob, NoRoom, Room};
use sealdrop_core::keys::Recipients;

/// Chunks in flight per upload (each at most one read from the socket, at most 64 KiB: hyper's
/// read buffer), so at most 256 KiB of a body waits for the cipher.
const CHANNEL_DEPTH: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the sealing worker stopped unexpectedly")]
    WorkerLost,
}

impl UploadError {
    /// Did the disk run out of space?
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            UploadError::Io(e) | UploadError::Seal(SealError::Io(e)) => e,
            _ => return false,
        };
        io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28)
    }

    /// Was the upload stopped because its room could not grow (an ordinary "full", not a
    /// disk that filled up behind the accounting's back)?
    pub fn is_out_of_room(&self) -> bool {
        match self {
            UploadError::Io(e) | UploadError::Seal(SealError::Io(e)) => {
                e.get_ref().is_some_and(|inner| inner.is::<NoRoom>())
            }
            _ => false,
        }
    }
}

/// A sealed blob, fsync'd under `incoming/`, and the true length of its plaintext.
pub struct FinishedBlob {
    pub blob: NewBlob,
    pub true_len: u64,
}

/// Where and how blobs are sealed: shared by every upload.
#[derive(Clone)]
pub struct SealTarget {
    pub dirs: BlobDirs,
    pub recipients: Arc<Recipients>,
    /// The coarse arrival date, stamped on the files as their times.
    pub arrived: SystemTime,
    /// The submission's room: each attachment's file and bytes are charged to it as written.
    pub room: Room,
}

impl SealTarget {
    /// Seal one attachment synchronously: `feed` writes the plaintext, then zero padding.
    fn seal_with(
        &self,
        feed: impl FnOnce(&mut Sealer<BlobWriter<'_>>) -> Result<(), UploadError>,
    ) -> Result<FinishedBlob, UploadError> {
        let mut blob = self.dirs.start_blob_in(&self.room)?;
        let true_len = {
            let mut sealer = Sealer::new(&self.recipients, blob.writer())?;
            feed(&mut sealer)?;
            sealer.finish(0)?.true_len
        };
        let size = blob.finish(self.arrived)?;
        Ok(FinishedBlob {
            blob: NewBlob { blob, size },
            true_len,
        })
    }

    /// Seal the envelope in memory, padded with spaces so it stays valid JSON.
    ///
    /// It is a few KiB: sealing costs one key agreement per recipient, well under a
    /// millisecond, so it runs right here; the committer writes the ciphertext with its batch.
    pub fn seal_envelope(&self, json: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut sealer = Sealer::new(&self.recipients, Vec::with_capacity(json.len() + 1024))?;
        sealer.write(json)?;
        Ok(sealer.finish(b' ')?.output)
    }

    /// Start streaming an attachment.
    pub fn start_upload(&self) -> BlobUpload {
        let (tx, mut rx) = mpsc::channel::<Msg>(CHANNEL_DEPTH);
        let target = self.clone();
        let worker = tokio::task::spawn_blocking(move || {
            let sealed = target.seal_with(|sealer| loop {
                match rx.blocking_recv() {
                    Some(Msg::Chunk(chunk)) => sealer.write(&chunk)?,
                    Some(Msg::Finish) => return Ok(()),
                    // The request was dropped: the blob's Drop deletes the partial file.
                    None => return Err(UploadError::WorkerLost),
                }
            });
            // The cipher worked on this thread's stack; blocking threads never park.
            sealdrop_core::wiping_alloc::wipe_stack();
            sealed
        });
        BlobUpload { tx, worker }
    }
}

enum Msg {
    Chunk(Bytes),
    Finish,
}

/// An attachment being sealed. Dropping it abandons the upload and deletes its file.
pub struct BlobUpload {
    tx: mpsc::Sender<Msg>,
    worker: JoinHandle<Result<FinishedBlob, UploadError>>,
}

impl BlobUpload {
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), UploadError> {
        if self.tx.send(Msg::Chunk(chunk)).await.is_err() {
            // The worker stopped early: its result says why.
            return Err(match (&mut self.worker).await {
                Ok(Err(e)) => e,
                _ => UploadError::WorkerLost,
            });
        }
        Ok(())
    }

    pub async fn finish(self) -> Result<FinishedBlob, UploadError> {
        // If the worker already failed, the send fails and the join below reports why.
        let _ = self.tx.send(Msg::Finish).await;
        self.worker.await.map_err(|_| UploadError::WorkerLost)?
    }
}
