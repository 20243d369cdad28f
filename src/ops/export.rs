//! `sealdrop export`: choose submissions in the index, write their blobs into a signed bundle,
//! and record the export once the bundle file is durable.
//!
//! Recording comes last on purpose: a crash or failure before it leaves the submissions marked
//! "not exported", so the next export carries them again. Staff may receive a submission twice;
//! they never miss one.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::store::{open_existing_db, BlobDirs, StoreError};
use sealdrop_bundle::write::{
    write_bundle, Progress, SourceBlob, SourceSubmission, WriteError, Written,
};
use sealdrop_bundle::BlobKind;
use sealdrop_core::day::Date;
use sealdrop_core::is_id;

/// Which submissions an export carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Those never exported (the default).
    NotExported,
    /// Every stored submission.
    All,
    /// Those never exported, or first exported after the named bundle.
    Since(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error")]
    Db(#[from] rusqlite::Error),
    #[error("--since {0}: no export with that bundle id is recorded on this server; give a bundle id that `sealdrop export` printed here")]
    UnknownBundle(String),
    #[error("the index is damaged ({0}); nothing was exported")]
    Damaged(String),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("the bundle {path} is complete and usable, but recording the export failed; its submissions still count as not exported and will be in the next export too")]
    Record {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// Export the selected submissions of `data_dir` into the new bundle file `out`.
pub fn export(
    data_dir: &Path,
    key: &SigningKey,
    selection: &Selection,
    out: &Path,
    today: Date,
    progress: &mut dyn Progress,
) -> Result<Written, ExportError> {
    let mut conn = open_existing_db(data_dir)?;
    let submissions = select(&mut conn, &BlobDirs::new(data_dir), selection)?;
    let written = write_bundle(out, key, today, &submissions, progress)?;
    record(&mut conn, &written.bundle_id, today, &submissions).map_err(|source| {
        ExportError::Record {
            path: out.to_owned(),
            source,
        }
    })?;
    Ok(written)
}

/// Read the selection from one snapshot of the index, in bundle order: by arrival date, then
/// by random id (so the order says nothing finer than the date).
fn select(
    conn: &mut Connection,
    dirs: &BlobDirs,
    selection: &Selection,
) -> Result<Vec<SourceSubmission>, ExportError> {
    let tx = conn.transaction()?;
    let since: Option<i64> = match selection {
        Selection::Since(bundle_id) => Some(
            tx.query_row(
                "SELECT seq FROM exports WHERE bundle_id = ?1",
                [bundle_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| ExportError::UnknownBundle(bundle_id.clone()))?,
        ),
        _ => None,
    };
    let filter = match selection {
        Selection::NotExported => "export_seq IS NULL",
        Selection::All => "1",
        Selection::Since(_) => "export_seq IS NULL OR export_seq > ?1",
    };
    let mut rows: Vec<(String, String, String)> = Vec::new();
    {
        let mut query = tx.prepare(&format!(
            "SELECT id, arrived, envelope_blob FROM submissions WHERE {filter} ORDER BY arrived, id"
        ))?;
        let mut result = query.query(rusqlite::params_from_iter(since))?;
        while let Some(row) = result.next()? {
            rows.push((row.get(0)?, row.get(1)?, row.get(2)?));
        }
    }
    let mut blobs_of = tx.prepare(
        "SELECT id, kind, size FROM blobs WHERE submission_id = ?1
         ORDER BY kind = 'envelope' DESC, id",
    )?;
    let mut submissions = Vec::with_capacity(rows.len());
    for (id, arrived, envelope_blob) in rows {
        let damaged = |what: &str| ExportError::Damaged(format!("submission {id:?}: {what}"));
        if !is_id(&id) {
            return Err(damaged("its id is not 32 lowercase hex digits"));
        }
        let arrived =
            Date::parse(&arrived).ok_or_else(|| damaged("its arrival date is not a date"))?;
        let mut blobs = Vec::new();
        let mut result = blobs_of.query([&id])?;
        while let Some(row) = result.next()? {
            let blob_id: String = row.get(0)?;
            let kind: String = row.get(1)?;
            let size: i64 = row.get(2)?;
            // Checked before it becomes a path: a tampered index must not pull other files in.
            if !is_id(&blob_id) {
                return Err(damaged("a blob id is not 32 lowercase hex digits"));
            }
            blobs.push(SourceBlob {
                path: dirs.blob_path(&blob_id),
                id: blob_id,
                kind: BlobKind::from_index(&kind)
                    .ok_or_else(|| damaged("a blob has an unknown kind"))?,
                size: u64::try_from(size).map_err(|_| damaged("a blob has a negative size"))?,
            });
        }
        if blobs.first().map(|b| &b.id) != Some(&envelope_blob) {
            return Err(damaged("its envelope blob is missing from the blob table"));
        }
        submissions.push(SourceSubmission { id, arrived, blobs });
    }
    drop(blobs_of);
    // A read-only transaction: ending it releases the snapshot before the long write.
    tx.commit()?;
    Ok(submissions)
}

/// Record the export and mark the submissions it carried for the first time.
fn record(
    conn: &mut Connection,
    bundle_id: &str,
    today: Date,
    submissions: &[SourceSubmission],
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) + 1 FROM exports", [], |r| {
        r.get(0)
    })?;
    tx.execute(
        "INSERT INTO exports (bundle_id, seq, exported_on) VALUES (?1, ?2, ?3)",
        (bundle_id, seq, today.to_string()),
    )?;
    {
        // Purged meanwhile: nothing to mark, which is fine.
        let mut mark = tx.prepare(
            "UPDATE submissions SET export_seq = ?1 WHERE id = ?2 AND export_seq IS NULL",
        )?;
        for s in submissions {
            mark.execute((seq, &s.id))?;
        }
    }
    tx.commit()
}
