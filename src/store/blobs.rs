//! Ciphertext blob files: written under `incoming/`, moved into `blobs/` at commit.
//!
//! Names are random ids; file times are set to the coarse arrival date, so neither names nor
//! times Sealdrop can set say when a submission came.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::space::{Room, FILE_CHARGE};
pub use super::writer::BlobWriter;
use super::StoreError;
pub use sealdrop_core::durable::{create_private_dir, sync_dir};
use sealdrop_core::is_id;

/// The two blob folders of a data directory.
#[derive(Debug, Clone)]
pub struct BlobDirs {
    pub incoming: PathBuf,
    pub blobs: PathBuf,
}

impl BlobDirs {
    pub fn new(data_dir: &Path) -> Self {
        BlobDirs {
            incoming: data_dir.join("incoming"),
            blobs: data_dir.join("blobs"),
        }
    }

    pub fn create(&self) -> io::Result<()> {
        for dir in [&self.incoming, &self.blobs] {
            create_private_dir(dir)?;
        }
        Ok(())
    }

    /// Where a committed blob lives. `id` must be a checked id.
    pub fn blob_path(&self, id: &str) -> PathBuf {
        debug_assert!(is_id(id));
        self.blobs.join(format!("{id}.age"))
    }

    fn incoming_path(&self, id: &str) -> PathBuf {
        self.incoming.join(format!("{id}.age.part"))
    }

    /// Start a new blob under `incoming/`. It is deleted when dropped unless committed.
    pub fn start_blob(&self) -> io::Result<IncomingBlob> {
        self.start(None)
    }

    /// Start a new blob whose file and every byte written to it are charged to `room` first: a
    /// charge that does not fit fails with [`io::ErrorKind::StorageFull`], before anything of
    /// it is stored.
    pub fn start_blob_in(&self, room: &Room) -> io::Result<IncomingBlob> {
        room.add_file().map_err(room_error)?;
        self.start(Some(room.clone()))
    }

    fn start(&self, room: Option<Room>) -> io::Result<IncomingBlob> {
        let id = sealdrop_core::new_id();
        let path = self.incoming_path(&id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        Ok(IncomingBlob {
            id,
            path,
            file: Some(file),
            write_failure: None,
            committed: false,
            room,
        })
    }

    /// Delete everything under `incoming/`: debris of submissions that were never acknowledged.
    pub fn clear_incoming(&self) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.incoming)? {
            let entry = entry?;
            remove_any(&entry.path())?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.incoming)?;
        }
        Ok(removed)
    }

    /// Ids of every file in `blobs/` (anything not named like a blob is reported as `Err(name)`).
    pub fn list(&self) -> io::Result<Vec<Result<String, PathBuf>>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.blobs)? {
            let path = entry?.path();
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".age"))
                .filter(|id| is_id(id))
                .map(str::to_owned);
            out.push(id.ok_or(path));
        }
        Ok(out)
    }
}

/// A blob being written. Dropping it before commit deletes the file.
#[derive(Debug)]
pub struct IncomingBlob {
    id: String,
    path: PathBuf,
    file: Option<File>,
    /// Left by a [`BlobWriter`] that failed after the sealer stopped watching.
    write_failure: Option<io::Error>,
    committed: bool,
    /// Where its bytes are charged while it is written (none for envelopes, which the
    /// submission's base reservation covers).
    room: Option<Room>,
}

impl IncomingBlob {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A writer for the sealer's ciphertext. Ask once: a blob is written by one writer, from
    /// its start.
    pub fn writer(&mut self) -> BlobWriter<'_> {
        let file = self.file.as_ref().expect("blob file is open until sealed");
        BlobWriter::new(file, &mut self.write_failure, self.room.as_ref())
    }

    /// What the storage quota counts for this blob once it is durable: the blocks it really
    /// takes (at least its size) plus [`FILE_CHARGE`] for its inode and directory entry.
    pub(super) fn charge(&self, size: u64) -> io::Result<u64> {
        let allocated = fs::metadata(&self.path)?.blocks() * 512;
        Ok(allocated.max(size) + FILE_CHARGE)
    }

    /// Stamp the file with the coarse arrival date and close it; returns the ciphertext size.
    ///
    /// It is not made durable here: the committer flushes a whole batch of blobs at once
    /// ([`sync_contents`]), which is what lets many small submissions share one flush.
    pub fn finish(&mut self, arrived: SystemTime) -> io::Result<u64> {
        let file = self.file.take().expect("a blob is finished once");
        if let Some(e) = self.write_failure.take() {
            return Err(e);
        }
        file.set_times(
            fs::FileTimes::new()
                .set_accessed(arrived)
                .set_modified(arrived),
        )?;
        Ok(file.metadata()?.len())
    }

    /// Move the sealed file into `blobs/`. The caller syncs `blobs/` afterwards, once for many.
    pub(super) fn move_into(&self, dirs: &BlobDirs) -> io::Result<()> {
        fs::rename(&self.path, dirs.blob_path(&self.id))
    }

    pub(super) fn mark_committed(&mut self) {
        self.committed = true;
        // Counted in `usage` now: its share of the submission's room is no longer needed.
        self.room = None;
    }
}

impl Drop for IncomingBlob {
    fn drop(&mut self) {
        if !self.committed {
            self.file.take();
            // Best effort: whatever is left is removed at the next start-up.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Make the contents of finished blobs under `incoming/` durable, before they are moved.
///
/// For several blobs, on Linux, one `syncfs` flushes every one of them (and their allocation
/// metadata) in a single writeback pass and journal commit, however many there are; fsyncing
/// each file in turn would cost one journal commit per file. Large uploads keep their own dirty data small while they
/// stream (see [`BlobWriter`]), so this flush stays short even with uploads in progress.
pub fn sync_contents(dirs: &BlobDirs, blobs: &[&IncomingBlob]) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if blobs.len() > 1 {
        let dir = File::open(&dirs.incoming)?;
        return Ok(rustix::fs::syncfs(&dir)?);
    }
    // One blob alone (an idle server): its own fsync, without flushing anything else.
    let _ = dirs;
    for blob in blobs {
        File::open(&blob.path)?.sync_all()?;
    }
    Ok(())
}

/// A refused reservation as the I/O error the upload path reports as "full".
pub(super) fn room_error(e: StoreError) -> io::Error {
    match e {
        StoreError::Full(no_room) => no_room.into(),
        e => io::Error::other(e),
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    if path.is_dir() && !path.is_symlink() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}
