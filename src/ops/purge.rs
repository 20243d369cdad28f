//! `sealdrop purge`: delete submissions the staff acknowledged holding, or that are past the
//! retention period.
//!
//! Rows go first, in one transaction; then the blob files, then an fsync of `blobs/`. A crash
//! in between leaves blob files no row owns, which the server's start-up clean-up deletes, so a
//! purge never leaves a row pointing at a missing file.

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::store::{open_existing_db, BlobDirs, StoreError};
use sealdrop_core::day::Date;
use sealdrop_core::durable::sync_dir;
use sealdrop_core::is_id;

/// What a purge did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Submissions deleted.
    pub purged: usize,
    /// Of those, how many had never been exported (only a retention purge deletes such).
    pub purged_never_exported: usize,
    /// Blob files deleted.
    pub blobs_removed: usize,
    /// Acknowledged ids never exported by this server: left untouched.
    pub never_exported: Vec<String>,
    /// Acknowledged ids this server does not hold (already purged, or from another server).
    pub unknown: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error")]
    Db(#[from] rusqlite::Error),
    #[error("the index is damaged ({0}); nothing was purged")]
    Damaged(String),
    #[error("{purged} submission(s) were deleted from the index, but {left} of their blob file(s) could not be removed (first: {first}). The server deletes them at its next start, or delete them by hand")]
    FilesLeft {
        purged: usize,
        left: usize,
        first: String,
    },
}

/// The first arrival date a retention purge of `days` days keeps: everything that arrived
/// before it is deleted.
pub fn retention_cutoff(today: Date, days: u32) -> Date {
    Date::from_days(today.to_days() - i64::from(days))
}

/// Delete the acknowledged submissions in `ids`, but only those this server has exported.
pub fn purge_acked(data_dir: &Path, ids: &[String]) -> Result<PurgeReport, PurgeError> {
    let mut conn = open_existing_db(data_dir)?;
    let mut report = PurgeReport::default();
    delete(&mut conn, data_dir, &mut report, |tx, report| {
        choose_acked(tx, ids, report)
    })?;
    Ok(report)
}

/// Which of the acknowledged `ids` may be purged: only those this server exported. The others
/// go into `report` (never exported, or unknown) and are left alone.
fn choose_acked(
    tx: &Transaction,
    ids: &[String],
    report: &mut PurgeReport,
) -> Result<Vec<String>, PurgeError> {
    let mut state = tx.prepare("SELECT export_seq IS NOT NULL FROM submissions WHERE id = ?1")?;
    let mut targets = Vec::new();
    for id in ids {
        let mut rows = state.query([id])?;
        match rows.next()? {
            None => report.unknown.push(id.clone()),
            Some(row) if row.get::<_, bool>(0)? => targets.push(id.clone()),
            Some(_) => report.never_exported.push(id.clone()),
        }
    }
    Ok(targets)
}

/// The rows half of [`purge_acked`], for a caller that must purge inside its own write
/// transaction (`import-outbox` records replies, the desk's sequence and the purge as one
/// step). Deletes the acknowledged exported submissions' rows in `tx` and returns the blob
/// files to remove once `tx` has committed, with [`remove_blob_files`].
pub fn delete_acked_rows(
    tx: &Transaction,
    ids: &[String],
    report: &mut PurgeReport,
) -> Result<Vec<String>, PurgeError> {
    let targets = choose_acked(tx, ids, report)?;
    let blob_ids = delete_rows(tx, &targets)?;
    report.purged = targets.len();
    Ok(blob_ids)
}

/// Delete every submission that arrived before `cutoff`, exported or not: a retention limit
/// bounds what a seized server holds, whatever staff did.
pub fn purge_arrived_before(data_dir: &Path, cutoff: Date) -> Result<PurgeReport, PurgeError> {
    let mut conn = open_existing_db(data_dir)?;
    let mut report = PurgeReport::default();
    delete(&mut conn, data_dir, &mut report, |tx, report| {
        let mut old =
            tx.prepare("SELECT id, export_seq IS NULL FROM submissions WHERE arrived < ?1")?;
        let mut rows = old.query([cutoff.to_string()])?;
        let mut targets = Vec::new();
        while let Some(row) = rows.next()? {
            targets.push(row.get(0)?);
            if row.get::<_, bool>(1)? {
                report.purged_never_exported += 1;
            }
        }
        Ok(targets)
    })?;
    Ok(report)
}

/// Delete the submissions `choose` picks (inside the same write transaction), then their files.
fn delete(
    conn: &mut Connection,
    data_dir: &Path,
    report: &mut PurgeReport,
    choose: impl FnOnce(&Transaction, &mut PurgeReport) -> Result<Vec<String>, PurgeError>,
) -> Result<(), PurgeError> {
    // IMMEDIATE: take the write lock first, so what was chosen is what gets deleted.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let targets = choose(&tx, report)?;
    let blob_ids = delete_rows(&tx, &targets)?;
    tx.commit()?;
    report.purged = targets.len();
    remove_blob_files(conn, data_dir, &blob_ids, report)
}

/// Delete the rows of the submissions `targets` (their blobs' rows go with them) in `tx`;
/// returns their blob ids, each checked before it may become a path.
fn delete_rows(tx: &Transaction, targets: &[String]) -> Result<Vec<String>, PurgeError> {
    let mut blob_ids = Vec::new();
    let mut blobs_of = tx.prepare("SELECT id FROM blobs WHERE submission_id = ?1")?;
    let mut remove = tx.prepare("DELETE FROM submissions WHERE id = ?1")?;
    for id in targets {
        let mut rows = blobs_of.query([id])?;
        while let Some(row) = rows.next()? {
            let blob: String = row.get(0)?;
            // Checked before it becomes a path: a tampered index must not delete other files.
            if !is_id(&blob) {
                return Err(PurgeError::Damaged(format!(
                    "submission {id} has a blob id that is not 32 lowercase hex digits"
                )));
            }
            blob_ids.push(blob);
        }
        // The blobs' rows go with it (ON DELETE CASCADE).
        remove.execute([id])?;
    }
    Ok(blob_ids)
}

/// After the transaction that deleted their rows committed: delete the blob files, fsync
/// `blobs/`, and move the deletions out of the WAL. A crash before this leaves files no row
/// owns, which the server's start-up removes.
pub fn remove_blob_files(
    conn: &Connection,
    data_dir: &Path,
    blob_ids: &[String],
    report: &mut PurgeReport,
) -> Result<(), PurgeError> {
    let dirs = BlobDirs::new(data_dir);
    let mut failures = Vec::new();
    for blob in blob_ids {
        match std::fs::remove_file(dirs.blob_path(blob)) {
            Ok(()) => report.blobs_removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => failures.push(format!("{}: {e}", dirs.blob_path(blob).display())),
        }
    }
    if !blob_ids.is_empty() {
        sync_dir(&dirs.blobs).map_err(StoreError::from)?;
    }
    // Best effort: move the deletions out of the WAL into the main file now (secure_delete
    // zeroes the freed pages there), so the ids do not linger in the log. If the server holds
    // a read snapshot this does less; its own checkpoints finish the job.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    if let Some(first) = failures.first() {
        return Err(PurgeError::FilesLeft {
            purged: report.purged,
            left: failures.len(),
            first: first.clone(),
        });
    }
    Ok(())
}
