//! `sealdrop import-outbox`: take in the outbox the staff's desk wrote (docs/OUTBOX-FORMAT.md):
//! store its replies for sources and purge the submissions it acknowledges, only if it is
//! signed by a pinned desk key and newer than the last outbox accepted from that desk.
//!
//! # Order of operations, and why a crash leaves nothing or everything
//!
//! 1. Take the operator lock and check the schema ([`open_existing_db`]).
//! 2. Verify the outbox's header, signature and manifest ([`OutboxReader::open`]), then its
//!    sequence against `desk_sequences`, and that no reply id is already stored. Nothing has
//!    been written yet; any refusal leaves the server as it was.
//! 3. Stage: each reply, as the reader hands it over (its SHA-256 already matched the signed
//!    manifest), is written under `incoming/` with a temporary name and fsync'd. A later reply
//!    or the end of the file can still fail; then the staged files are deleted (and anything
//!    left after a crash is deleted by the server's start-up, which empties `incoming/`).
//! 4. Place: once the whole file verified, each staged file is renamed to `replies/<id>.age`,
//!    then `replies/` is fsync'd. A crash here leaves reply files that no row owns;
//!    [`replies::remove_orphans`] deletes them at start-up, and the sequence is not recorded,
//!    so importing the same file again works.
//! 5. Commit, in ONE SQLite transaction: the reply rows, the desk's new last sequence, and the
//!    deletion of the acknowledged submissions' rows (only those this server exported, exactly
//!    as `purge --ack`: the same code, [`purge::delete_acked_rows`]). Replies, sequence and
//!    purge become true together or not at all.
//! 6. After the commit, delete the purged submissions' blob files and fsync `blobs/`
//!    ([`purge::remove_blob_files`], as `purge` does). A crash before that leaves blob files no
//!    row owns, which the server's start-up deletes: no row ever points at a missing file.
//!
//! Nothing about sources is logged: the report returned is counts, the desk's fingerprint and
//! the sequence, and the acknowledged ids that were not purged (as `purge --ack` prints them).

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use rusqlite::{params, TransactionBehavior};
use sealdrop_bundle::outbox::{OutboxError, OutboxReader};
use sealdrop_bundle::signing::format_fingerprint;
use sealdrop_core::day::Date;
use sealdrop_core::durable::sync_dir;
use tempfile::TempPath;

use super::purge::{self, PurgeError, PurgeReport};
use crate::store::replies::{self, replies_dir, reply_path};
use crate::store::{open_existing_db, BlobDirs, StoreError};

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The fingerprint of the pinned desk key that signed the outbox.
    pub desk_fingerprint: String,
    pub sequence: u64,
    /// Replies stored.
    pub replies: usize,
    /// The acknowledgements: what was purged, and the ids that were not (never exported by
    /// this server, or unknown here).
    pub purge: PurgeReport,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error; nothing was imported")]
    Db(#[from] rusqlite::Error),
    #[error("the outbox {path} was refused; nothing was stored or purged")]
    Refused {
        path: PathBuf,
        #[source]
        source: OutboxError,
    },
    #[error("sequence out of range: the outbox's sequence {sequence} is larger than this server can record; the outbox is crafted or the desk is broken, do not import it")]
    SequenceOutOfRange { sequence: u64 },
    #[error("reply already stored: reply {id} is already on this server, so this outbox repeats a reply it should not; nothing was imported. Write a new outbox on the desk")]
    ReplyExists { id: String },
    #[error("staging the replies in {dir} failed (is the disk full?); nothing was imported")]
    Stage {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("moving the replies into {dir} failed; nothing was imported (the server removes any reply file left behind at its next start)")]
    Place {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("purging the acknowledged submissions failed; nothing was imported")]
    Purge(#[source] PurgeError),
    #[error("the outbox was imported ({replies} reply(ies) stored, {purged} acknowledged submission(s) purged from the index), but some purged files could not be deleted")]
    FilesLeft {
        replies: usize,
        purged: usize,
        #[source]
        source: PurgeError,
    },
}

/// Import the outbox at `outbox` into the data directory `data_dir`, accepting only one signed
/// by a key in `pinned`. No reply is kept more than `keep_days` days from today, whatever
/// expiry the desk asked for (the operator's `reply_keep_days`). See the module's documentation
/// for the order of operations.
pub fn import(
    data_dir: &Path,
    pinned: &[VerifyingKey],
    outbox: &Path,
    keep_days: u32,
) -> Result<ImportReport, ImportError> {
    let keep_until = Date::from_days(super::today().to_days() + i64::from(keep_days));
    let refused = |source| ImportError::Refused {
        path: outbox.to_owned(),
        source,
    };
    let mut conn = open_existing_db(data_dir)?;

    // 2. Verify everything that can be verified before writing a byte.
    let reader = OutboxReader::open(outbox, pinned).map_err(refused)?;
    let desk_key = hex::encode(reader.desk_key().as_bytes());
    let desk_fingerprint = format_fingerprint(reader.desk_key());
    let sequence = reader.sequence();
    // SQLite integers are signed: a larger sequence would wrap and let old outboxes back in.
    let stored_sequence =
        i64::try_from(sequence).map_err(|_| ImportError::SequenceOutOfRange { sequence })?;
    reader
        .check_sequence(replies::last_sequence(&conn, &desk_key)?)
        .map_err(refused)?;
    {
        let mut stored = conn.prepare("SELECT 1 FROM replies WHERE id = ?1")?;
        for reply in &reader.manifest().replies {
            if stored.exists([&reply.id])? {
                return Err(ImportError::ReplyExists {
                    id: reply.id.clone(),
                });
            }
        }
    }
    let acks = reader.acks().to_vec();
    let rows: Vec<(String, String, String, u64)> = reader
        .manifest()
        .replies
        .iter()
        .map(|r| {
            // The reader has checked the date; one it could not read would expire at once.
            let asked = Date::parse(&r.expires).unwrap_or(Date::from_days(0));
            let expires = asked.min(keep_until).to_string();
            (r.id.clone(), r.mailbox.clone(), expires, r.size)
        })
        .collect();

    // 3. Stage each verified reply durably under incoming/ (deleted again if dropped).
    let incoming = BlobDirs::new(data_dir).incoming;
    let mut staged: Vec<(String, TempPath)> = Vec::with_capacity(rows.len());
    let read = reader.for_each_reply(|reply, bytes| {
        let mut file = tempfile::Builder::new()
            .prefix("reply-")
            .suffix(".staged")
            .tempfile_in(&incoming)?;
        file.write_all(bytes)?;
        file.as_file().sync_all()?;
        staged.push((reply.id.clone(), file.into_temp_path()));
        Ok(())
    });
    match read {
        Ok(()) => {}
        Err(OutboxError::Sink { source, .. }) => {
            return Err(ImportError::Stage {
                dir: incoming,
                source,
            })
        }
        Err(e) => return Err(refused(e)),
    }
    if !staged.is_empty() {
        sync_dir(&incoming).map_err(|source| ImportError::Stage {
            dir: incoming.clone(),
            source,
        })?;
    }

    // 4. Place them under their final names; removed again unless the commit succeeds.
    let dir = replies_dir(data_dir);
    let mut placed = Placed(Vec::with_capacity(staged.len()));
    for (id, temp) in staged {
        let to = reply_path(data_dir, &id);
        temp.persist(&to).map_err(|e| ImportError::Place {
            dir: dir.clone(),
            source: e.error,
        })?;
        placed.0.push(to);
    }
    if !placed.0.is_empty() {
        sync_dir(&dir).map_err(|source| ImportError::Place {
            dir: dir.clone(),
            source,
        })?;
    }

    // 5. One transaction: replies, sequence, purge.
    let mut report = PurgeReport::default();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Checked again under the write lock (the operator lock already keeps imports apart).
    replies::last_sequence(&tx, &desk_key)
        .map_err(ImportError::Store)
        .and_then(|last| check(last, sequence).map_err(refused))?;
    let first = replies::last_ordinal(&tx)? + 1;
    {
        let mut insert = tx.prepare(
            "INSERT INTO replies (id, mailbox, ordinal, expires, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (index, (id, mailbox, expires, size)) in rows.iter().enumerate() {
            insert.execute(params![
                id,
                mailbox,
                first + index as i64,
                expires,
                *size as i64
            ])?;
        }
    }
    tx.execute(
        "INSERT INTO desk_sequences (desk_key, last_sequence) VALUES (?1, ?2) \
         ON CONFLICT (desk_key) DO UPDATE SET last_sequence = excluded.last_sequence",
        params![desk_key, stored_sequence],
    )?;
    let blob_ids = purge::delete_acked_rows(&tx, &acks, &mut report).map_err(ImportError::Purge)?;
    tx.commit()?;
    placed.0.clear();

    // 6. The purged submissions' files, now that no row owns them.
    purge::remove_blob_files(&conn, data_dir, &blob_ids, &mut report).map_err(|source| {
        ImportError::FilesLeft {
            replies: rows.len(),
            purged: report.purged,
            source,
        }
    })?;
    Ok(ImportReport {
        desk_fingerprint,
        sequence,
        replies: rows.len(),
        purge: report,
    })
}

fn check(last: Option<u64>, sequence: u64) -> Result<(), OutboxError> {
    sealdrop_bundle::outbox::check_sequence(last, sequence)
}

/// Reply files moved into `replies/` but not yet recorded: removed if the import fails before
/// its commit (and, after a crash, by [`replies::remove_orphans`] at start-up).
struct Placed(Vec<PathBuf>);

impl Drop for Placed {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
        if let Some(first) = self.0.first() {
            let _ = sync_dir(sealdrop_core::durable::parent_dir(first));
        }
    }
}
