//! `sealdesk import`: verify a bundle, then add what is new in one step.
//!
//! Order matters. The bundle's signature and manifest are checked first (by the bundle reader),
//! new blobs are streamed into a private staging folder inside the workspace while the reader
//! checks every hash, and only when every check passed are they flushed, moved into `blobs/`
//! and recorded in ONE transaction. A refused bundle therefore leaves the workspace as it was:
//! the staging folder is removed and the database was never written.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use indicatif::ProgressBar;
use rusqlite::{OptionalExtension, TransactionBehavior};
use tempfile::TempDir;

use super::workspace::{blob_path, Workspace, STAGING_PREFIX};
use super::DeskError;
use sealdrop_bundle::{BlobKind, BundleError, BundleReader};
use sealdrop_core::durable::sync_dir;
use sealdrop_core::is_id;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub bundle_id: String,
    /// The day the server wrote the bundle.
    pub created: String,
    pub in_bundle: usize,
    pub added: usize,
    /// Submissions this workspace already held (re-import or overlapping bundles).
    pub already: usize,
    /// Ciphertext bytes added.
    pub bytes_added: u64,
}

/// Verify and import the bundle at `path`. `progress` is told the total and each blob's bytes.
pub fn import(
    ws: &mut Workspace,
    path: &Path,
    progress: &ProgressBar,
) -> Result<ImportSummary, DeskError> {
    let pinned = ws.settings()?.server_key;
    let reader = BundleReader::open(path, &pinned)?;
    let manifest = reader.manifest().clone();
    let workspace_dir = ws.dir().to_owned();
    let blobs_dir = ws.blobs_dir();

    // One writer at a time: this lock is held from the overlap check to the commit.
    let tx = ws
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    remove_debris(&tx, &workspace_dir, &blobs_dir)?;

    // Which submissions are new, and does the bundle agree with what is already here?
    let mut new = HashSet::new();
    for s in &manifest.submissions {
        // The reader checked these; a path is only ever built from a checked id.
        for id in std::iter::once(&s.id).chain(s.blobs.iter().map(|b| &b.id)) {
            if !is_id(id) {
                return Err(DeskError::Conflict(format!("`{id}` is not an id")));
            }
        }
        let known: Option<String> = tx
            .query_row(
                "SELECT envelope_blob FROM submissions WHERE id = ?1",
                [&s.id],
                |r| r.get(0),
            )
            .optional()?;
        match known {
            Some(envelope) if envelope == s.envelope_blob => continue,
            Some(_) => {
                return Err(DeskError::Conflict(format!(
                    "submission {} differs from the copy already imported",
                    s.id
                )))
            }
            None => {}
        }
        for b in &s.blobs {
            let owner: Option<String> = tx
                .query_row(
                    "SELECT submission_id FROM blobs WHERE id = ?1",
                    [&b.id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(owner) = owner {
                return Err(DeskError::Conflict(format!(
                    "blob {} already belongs to submission {owner}",
                    b.id
                )));
            }
        }
        new.insert(s.id.clone());
    }

    let total: u64 = manifest
        .submissions
        .iter()
        .flat_map(|s| &s.blobs)
        .map(|b| b.size)
        .sum();
    progress.set_length(total);
    let staging = create_staging(&workspace_dir)?;
    let mut bytes_added = 0u64;
    let streamed = reader.for_each_blob(|s, b, blob| {
        let n = if new.contains(&s.id) {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(staging.path().join(format!("{}.age", b.id)))?;
            let n = copy(blob, &mut file, progress)?;
            bytes_added += n;
            n
        } else {
            copy(blob, &mut io::sink(), progress)?
        };
        if n != b.size {
            return Err(io::Error::other("blob shorter than the manifest says"));
        }
        Ok(())
    });
    match streamed {
        Ok(()) => {}
        // Our own write failed (a full disk, most likely): not the bundle's fault.
        Err(BundleError::Sink { source, .. }) => {
            return Err(DeskError::Io {
                what: "writing the imported files into the workspace failed (is the disk full?); nothing was imported".into(),
                source,
            })
        }
        Err(e) => return Err(e.into()),
    }

    // Every check passed. Make the staged blobs durable with one flush of their filesystem
    // (thousands of small files: one syncfs instead of one fsync each), then move them in.
    let staged = File::open(staging.path()).map_err(DeskError::io("opening the staging folder"))?;
    rustix::fs::syncfs(&staged)
        .map_err(|e| DeskError::io("flushing the imported blobs to disk")(e.into()))?;
    let mut moved = Vec::new();
    let result = (|| -> Result<(), DeskError> {
        for s in manifest.submissions.iter().filter(|s| new.contains(&s.id)) {
            for b in &s.blobs {
                let to = blob_path(&blobs_dir, &b.id);
                fs::rename(staging.path().join(format!("{}.age", b.id)), &to)
                    .map_err(DeskError::io("moving a blob into the workspace"))?;
                moved.push(to);
            }
        }
        sync_dir(&blobs_dir).map_err(DeskError::io("flushing the blob folder"))?;

        tx.execute(
            "INSERT OR IGNORE INTO imports (bundle_id, created, submissions) VALUES (?1, ?2, ?3)",
            (
                &manifest.bundle_id,
                manifest.created.to_string(),
                manifest.submissions.len(),
            ),
        )?;
        let mut add_submission = tx.prepare(
            "INSERT INTO submissions (id, arrived, envelope_blob, attachments, bundle_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut add_blob = tx.prepare(
            "INSERT INTO blobs (id, submission_id, position, kind, size, sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for s in manifest.submissions.iter().filter(|s| new.contains(&s.id)) {
            add_submission.execute((
                &s.id,
                s.arrived.to_string(),
                &s.envelope_blob,
                s.blobs.len() - 1,
                &manifest.bundle_id,
            ))?;
            for (position, b) in s.blobs.iter().enumerate() {
                let kind = match b.kind {
                    BlobKind::Envelope => "envelope",
                    BlobKind::Attachment => "attachment",
                };
                add_blob.execute((
                    &b.id,
                    &s.id,
                    position,
                    kind,
                    b.size as i64,
                    b.sha256.to_string(),
                ))?;
            }
        }
        Ok(())
    })();
    let result = result.and_then(|()| Ok(tx.commit()?));
    if let Err(e) = result {
        // Nothing was recorded: take back what was moved (anything left is debris that the
        // next import removes).
        let mut all_removed = true;
        for path in moved {
            all_removed &= fs::remove_file(path).is_ok();
        }
        if !all_removed {
            // Leave the staging folder as the sign of an unfinished import: the next import
            // then looks for unrecorded blobs and removes them.
            let _kept = staging.keep();
        }
        return Err(e);
    }
    drop(staging);
    progress.finish_and_clear();
    Ok(ImportSummary {
        bundle_id: manifest.bundle_id.clone(),
        created: manifest.created.to_string(),
        in_bundle: manifest.submissions.len(),
        added: new.len(),
        already: manifest.submissions.len() - new.len(),
        bytes_added,
    })
}

/// Copy a blob, telling the progress bar as it goes.
fn copy(from: &mut dyn Read, to: &mut dyn io::Write, progress: &ProgressBar) -> io::Result<u64> {
    let mut buf = [0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
        progress.inc(n as u64);
    }
}

/// Leftovers of an import that crashed: staging folders, and blobs no row owns (a crash between
/// the move and the commit, which always leaves its staging folder behind). Called with the write
/// lock held, so no other import is running.
fn remove_debris(
    conn: &rusqlite::Connection,
    workspace: &Path,
    blobs: &Path,
) -> Result<(), DeskError> {
    let io = |what: &str| DeskError::io(format!("cleaning up after an earlier import ({what})"));
    let mut crashed = false;
    for entry in fs::read_dir(workspace).map_err(io("reading the workspace"))? {
        let entry = entry.map_err(io("reading the workspace"))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.starts_with(STAGING_PREFIX))
            && entry.file_type().is_ok_and(|t| t.is_dir())
        {
            fs::remove_dir_all(entry.path()).map_err(io("removing a staging folder"))?;
            crashed = true;
        }
    }
    if !crashed {
        return Ok(());
    }
    let mut owned = conn.prepare("SELECT 1 FROM blobs WHERE id = ?1")?;
    let mut removed = false;
    for entry in fs::read_dir(blobs).map_err(io("reading blobs/"))? {
        let entry = entry.map_err(io("reading blobs/"))?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".age")) else {
            continue;
        };
        if is_id(id) && !owned.exists([id])? {
            fs::remove_file(entry.path()).map_err(io("removing an unrecorded blob"))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(blobs).map_err(io("flushing blobs/"))?;
    }
    Ok(())
}

/// A private staging folder in the workspace (same filesystem, so moving a blob in is a rename),
/// removed with everything in it when dropped. One left by a crash is recognised by its name.
fn create_staging(workspace: &Path) -> Result<TempDir, DeskError> {
    tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .rand_bytes(16)
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(workspace)
        .map_err(DeskError::io("creating a staging folder"))
}
