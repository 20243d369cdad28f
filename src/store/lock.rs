//! Who may write a data directory, and when.
//!
//! Two advisory locks (`flock`), as files at the top of the data directory:
//! - `serve.lock`: held exclusively by a running server for its whole life, so a second server
//!   on the same directory refuses to start instead of deleting, in its start-up clean-up, blobs
//!   the first has moved but not yet recorded. The holder writes its process id into the file so
//!   the refusal can name it.
//! - `ops.lock`: held exclusively by each operator command (export, purge, fingerprint) for its
//!   run, and by the server during its start-up (migrations and clean-up). Operator commands thus
//!   never overlap each other or a server's start-up; while the server runs, they work beside it
//!   through SQLite's transactions (WAL) and never create, clean up or migrate anything.
//!
//! `flock` locks belong to the open file, so the kernel releases them when the process ends,
//! however it ends: a crashed server never leaves the directory locked.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

/// The server's lock file inside the data directory.
pub const SERVE_LOCK: &str = "serve.lock";
/// The operator commands' lock file inside the data directory.
pub const OPS_LOCK: &str = "ops.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another sealdrop server ({holder}) is using the data directory {dir}. Stop it first \
         (`systemctl stop sealdrop`), or give this one another data_dir"
    )]
    ServerRunning { dir: PathBuf, holder: String },
    #[error("cannot lock {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Take the server's lock on `data_dir` (which must exist), without waiting.
pub fn lock_for_serve(data_dir: &Path) -> Result<DataDirLock, LockError> {
    let path = data_dir.join(SERVE_LOCK);
    let io_err = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let mut file = open_lock_file(&path).map_err(io_err)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            return Err(LockError::ServerRunning {
                dir: data_dir.to_owned(),
                holder: describe_holder(&mut file),
            })
        }
        Err(e) => return Err(io_err(e.into())),
    }
    // Name ourselves for whoever is refused next. A process id says nothing about sources.
    file.set_len(0).map_err(io_err)?;
    file.write_all(format!("pid {}\n", std::process::id()).as_bytes())
        .map_err(io_err)?;
    Ok(DataDirLock { _file: file })
}

/// Take the operator commands' lock on `data_dir` (which must exist), waiting for whoever holds
/// it; `on_wait` is called once if that happens, so a person is told why nothing moves.
pub fn lock_for_ops(data_dir: &Path, on_wait: impl FnOnce()) -> Result<DataDirLock, LockError> {
    let path = data_dir.join(OPS_LOCK);
    let io_err = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let file = open_lock_file(&path).map_err(io_err)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            on_wait();
            flock(&file, FlockOperation::LockExclusive).map_err(|e| io_err(e.into()))?;
        }
        Err(e) => return Err(io_err(e.into())),
    }
    Ok(DataDirLock { _file: file })
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// What the current holder wrote about itself (bounded: the file is ours, but read with care).
fn describe_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.take(64).read_to_string(&mut text);
    let text = text.trim();
    let is_pid = text
        .strip_prefix("pid ")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if is_pid {
        text.to_owned()
    } else {
        "process id unknown".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_second_server_lock_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_for_serve(dir.path()).unwrap();
        match lock_for_serve(dir.path()) {
            Err(LockError::ServerRunning { holder, .. }) => {
                assert_eq!(holder, format!("pid {}", std::process::id()));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        drop(first);
        lock_for_serve(dir.path()).expect("free again once the first is gone");
    }

    #[test]
    fn operator_commands_wait_their_turn() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_for_ops(dir.path(), || panic!("nobody holds it yet")).unwrap();
        let (tx, rx) = mpsc::channel();
        let path = dir.path().to_owned();
        let waiter = std::thread::spawn(move || {
            let waited = std::cell::Cell::new(false);
            let lock = lock_for_ops(&path, || waited.set(true)).unwrap();
            tx.send(waited.get()).unwrap();
            drop(lock);
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the second must wait while the first holds the lock"
        );
        drop(first);
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            "told it waited"
        );
        waiter.join().unwrap();
    }

    #[test]
    fn a_garbled_lock_file_does_not_confuse_the_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let _first = lock_for_serve(dir.path()).unwrap();
        std::fs::write(
            dir.path().join(SERVE_LOCK),
            "\u{202e}evil\nlines\n".repeat(100),
        )
        .unwrap();
        match lock_for_serve(dir.path()) {
            Err(LockError::ServerRunning { holder, .. }) => {
                assert_eq!(holder, "process id unknown")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
