//! Durable storage: the SQLite index, the blob files, start-up clean-up and group commit.
//!
//! The commit protocol (DESIGN.md): every blob file is fsync'd by the upload that wrote it, then
//! the committer moves a whole batch of submissions into `blobs/`, fsyncs that folder once, and
//! records the batch in one SQLite transaction (WAL, synchronous=FULL). Only then is each upload
//! told "received". A crash before the transaction leaves files that start-up deletes.

pub mod blobs;
mod commit;
pub mod lock;
pub mod replies;
mod writer;
pub use commit::DEFAULT_MAX_BATCH;
pub mod migrations;
pub mod space;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

pub use blobs::{BlobDirs, IncomingBlob};
pub use space::{NoRoom, Quota, Room};

use crate::events::event;
use sealdrop_core::day::Date;

/// The index's file name inside the data directory.
pub const DB_FILE: &str = "sealdrop.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Migrate(#[from] sealdrop_core::migrate::MigrateError),
    #[error("storage I/O failed")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Locked(#[from] lock::LockError),
    #[error("the commit failed")]
    CommitFailed(#[source] Arc<StoreError>),
    #[error("{0}")]
    NoIndex(String),
    #[error("the storage is full")]
    Full(#[source] NoRoom),
    #[error("the index is damaged ({0}); restore it from a backup")]
    Damaged(String),
    #[error("the committer has stopped (the server is shutting down)")]
    Stopped,
}

/// A sealed attachment, written under `incoming/`, waiting to be committed.
#[derive(Debug)]
pub struct NewBlob {
    pub blob: IncomingBlob,
    /// Ciphertext size on disk.
    pub size: u64,
}

/// Everything one submission commits at once.
#[derive(Debug)]
pub struct NewSubmission {
    pub id: String,
    pub arrived: Date,
    /// The sealed envelope (age ciphertext). It is small, so the committer writes its file as
    /// part of the batch instead of each upload handing it to a blocking thread of its own.
    pub envelope: Vec<u8>,
    pub attachments: Vec<NewBlob>,
}

/// The data directory, opened.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    dirs: BlobDirs,
    committer: commit::Committer,
    space: Arc<space::Space>,
    /// Reads and deletes replies (see [`replies`]).
    replies_conn: std::sync::Mutex<Connection>,
    /// Held while the store lives (see [`lock`]).
    _serve_lock: lock::DataDirLock,
}

/// How long a connection waits for another's transaction.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Open the index with the settings every Sealdrop connection uses.
pub fn open_db(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // temp_store: VACUUM builds its copy in memory, not in a temp file on disk.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(conn)
}

/// The index of an existing data directory, opened for an operator command (export, purge),
/// with the operator commands' lock held until it is dropped.
pub struct ExistingIndex {
    conn: Connection,
    _lock: lock::DataDirLock,
}

impl std::ops::Deref for ExistingIndex {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for ExistingIndex {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Open the index of an existing data directory for an operator command (export, purge).
///
/// Such commands may run while the server does: WAL lets readers and the writer work at once,
/// and the busy timeout makes a writer wait for the other's transaction instead of failing.
/// Unlike [`Store::open`] this creates nothing, cleans up nothing (the server may be in the
/// middle of an upload) and never changes the schema: an index of another release is refused
/// with what to do. It waits for the operator commands' lock (see [`lock`]), so it never runs
/// beside another operator command or a server's start-up.
pub fn open_existing_db(data_dir: &Path) -> Result<ExistingIndex, StoreError> {
    let path = data_dir.join(DB_FILE);
    if !path.is_file() {
        return Err(StoreError::NoIndex(format!(
            "there is no Sealdrop index at {}; check --config (or SEALDROP_DATA_DIR), or start \
             `sealdrop serve` once to create it",
            path.display()
        )));
    }
    let lock = lock::lock_for_ops(data_dir, || {
        event(format!(
            "waiting for another sealdrop command (or the server's start-up) to finish with {}",
            data_dir.display()
        ))
    })?;
    let conn = open_db(&path)?;
    migrations::check_current(&conn)?;
    Ok(ExistingIndex { conn, _lock: lock })
}

impl Store {
    /// Create or open a data directory for the server: lock it, migrate, clean up debris, start
    /// the committer. The server's lock is held as long as the store lives; another server on
    /// the same directory is refused with [`lock::LockError::ServerRunning`].
    pub fn open(data_dir: &Path, quota: Quota) -> Result<Store, StoreError> {
        Self::open_with_batch(data_dir, quota, commit::DEFAULT_MAX_BATCH)
    }

    /// Like [`Store::open`], with at most `max_batch` submissions per group commit.
    pub fn open_with_batch(
        data_dir: &Path,
        quota: Quota,
        max_batch: usize,
    ) -> Result<Store, StoreError> {
        blobs::create_private_dir(data_dir)?;
        // First the server's lock: a second server must not even clean up, since its clean-up
        // would delete blobs the first has moved but not yet recorded.
        let serve_lock = lock::lock_for_serve(data_dir)?;
        // Then, for migrations and clean-up only, the operator commands' lock.
        let start_up = lock::lock_for_ops(data_dir, || {
            event("waiting for an operator command (export, purge) to finish before starting")
        })?;
        let dirs = BlobDirs::new(data_dir);
        dirs.create()?;
        blobs::create_private_dir(&replies::replies_dir(data_dir))?;
        let mut conn = open_db(&data_dir.join(DB_FILE))?;
        migrations::apply(&mut conn)?;
        Self::clean_up(&conn, &dirs)?;
        replies::remove_orphans(&conn, data_dir)?;
        drop(start_up);
        // Replies are read and deleted during sources' requests, beside the committer's writes.
        let replies_conn = std::sync::Mutex::new(open_db(&data_dir.join(DB_FILE))?);
        let reader = open_db(&data_dir.join(DB_FILE))?;
        let space = Arc::new(space::Space::new(data_dir.to_owned(), quota, reader)?);
        let committer = commit::Committer::start(conn, dirs.clone(), max_batch)?;
        Ok(Store {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_owned(),
                dirs,
                committer,
                space,
                replies_conn,
                _serve_lock: serve_lock,
            }),
        })
    }

    /// Remove what unacknowledged submissions left: everything in `incoming/`, and any blob
    /// in `blobs/` that no committed submission owns (a crash between move and transaction).
    fn clean_up(conn: &Connection, dirs: &BlobDirs) -> Result<(), StoreError> {
        let debris = dirs.clear_incoming()?;
        let mut orphans = 0;
        let mut owned = conn.prepare("SELECT 1 FROM blobs WHERE id = ?1")?;
        for entry in dirs.list()? {
            match entry {
                Ok(id) => {
                    if !owned.exists([&id])? {
                        std::fs::remove_file(dirs.blob_path(&id))?;
                        orphans += 1;
                    }
                }
                Err(path) => event(format!(
                    "warning: unexpected file {} in the blob folder; left alone",
                    path.display()
                )),
            }
        }
        if orphans > 0 {
            blobs::sync_dir(&dirs.blobs)?;
        }
        if debris + orphans > 0 {
            event(format!(
                "start-up removed {} unfinished upload(s) and {} unrecorded blob(s)",
                debris, orphans
            ));
        }
        Ok(())
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn dirs(&self) -> &BlobDirs {
        &self.inner.dirs
    }

    /// Make a submission durable. Returns once it is on disk and in the index, with the blob id
    /// its envelope was stored under.
    pub async fn commit(&self, submission: NewSubmission) -> Result<String, StoreError> {
        self.inner.committer.commit(submission).await
    }

    /// Room for a new submission, or [`StoreError::Full`]. Decided from coarse figures only,
    /// the same for every request (see [`space`]); the room then grows as ciphertext is written.
    pub fn room(&self) -> Result<Room, StoreError> {
        Room::open(&self.inner.space)
    }

    /// How coarsely free space and quota headroom are rounded before any decision.
    pub fn granularity(&self) -> u64 {
        self.inner.space.granularity()
    }

    /// Bytes the blobs take (allocated blocks plus a charge per file), as the index says now.
    pub fn stored_bytes(&self) -> Result<u64, StoreError> {
        self.inner.space.stored_bytes()
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}
