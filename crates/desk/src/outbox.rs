//! `sealdesk outbox`: one signed file carrying the queued replies and the acknowledgements back
//! to the server (crates/bundle/src/outbox, docs/OUTBOX-FORMAT.md), and the desk's outbox key.
//!
//! The sequence number only goes up: the new outbox, and which replies and acks it carries, are
//! recorded in one workspace transaction BEFORE the file is written. If writing then fails, or
//! the USB stick is lost, `--again` writes the last outbox again with the same sequence and the
//! same items (the server accepts it once, and refuses it as a replay if the first copy arrived).

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rusqlite::OptionalExtension;

use super::ack::{ackable, Pending};
use super::identity::Keyring;
use super::workspace::{today, Workspace};
use super::DeskError;
use sealdrop_bundle::outbox::{desk_key, OutboxWriter, Reply};
use sealdrop_bundle::signing::format_fingerprint;
use sealdrop_core::day::Date;

/// Where the workspace keeps its outbox key.
pub fn key_path(ws_dir: &Path) -> PathBuf {
    ws_dir.join(desk_key::KEY_FILE)
}

/// The desk's outbox key.
pub fn load_key(ws: &Workspace) -> Result<SigningKey, DeskError> {
    desk_key::load(&key_path(ws.dir())).map_err(|e| DeskError::NoDeskKey(e.to_string()))
}

/// The fingerprint the operator pins on the server.
pub fn fingerprint(ws: &Workspace) -> Result<String, DeskError> {
    Ok(format_fingerprint(&load_key(ws)?.verifying_key()))
}

/// What `outbox` wrote.
#[derive(Debug)]
pub struct OutboxSummary {
    pub file: PathBuf,
    pub sequence: u64,
    pub replies: usize,
    pub acks: usize,
    pub again: bool,
    /// Submissions not acknowledged, with why (damaged, or the staff key cannot open them).
    pub skipped: Vec<(String, String)>,
}

/// Write a new outbox to `out` (or, with `again`, the last one again).
pub fn write_outbox(
    ws: &mut Workspace,
    keyring: &Keyring,
    out: &Path,
    again: bool,
) -> Result<OutboxSummary, DeskError> {
    if out.symlink_metadata().is_ok() {
        return Err(DeskError::OutputExists(out.to_owned()));
    }
    let key = load_key(ws)?;
    let last: Option<i64> = ws
        .conn()
        .query_row("SELECT max(sequence) FROM outboxes", [], |r| r.get(0))
        .optional()?
        .flatten();
    let mut skipped = Vec::new();
    let (sequence, created) = if again {
        let sequence = last.ok_or(DeskError::NoOutboxYet)?;
        let created: String = ws.conn().query_row(
            "SELECT created FROM outboxes WHERE sequence = ?1",
            [sequence],
            |r| r.get(0),
        )?;
        let created =
            Date::parse(&created).ok_or_else(|| DeskError::Settings("a bad outbox day".into()))?;
        (sequence, created)
    } else {
        let (acks, left_out) = ackable(ws, keyring, Pending::Outbox)?;
        skipped = left_out;
        let queued: i64 = ws.conn().query_row(
            "SELECT count(*) FROM replies WHERE outbox IS NULL",
            [],
            |r| r.get(0),
        )?;
        if acks.is_empty() && queued == 0 {
            return Err(DeskError::NothingToSend);
        }
        let sequence = last.unwrap_or(0) + 1;
        let created = today();
        // Recorded first, durably (synchronous = FULL): a sequence is never used twice for
        // different contents.
        let tx = ws.conn_mut().transaction()?;
        tx.execute(
            "INSERT INTO outboxes (sequence, created) VALUES (?1, ?2)",
            (sequence, created.to_string()),
        )?;
        tx.execute(
            "UPDATE replies SET outbox = ?1 WHERE outbox IS NULL",
            [sequence],
        )?;
        {
            let mut mark =
                tx.prepare("INSERT INTO outbox_acks (submission_id, outbox) VALUES (?1, ?2)")?;
            for id in &acks {
                mark.execute((id, sequence))?;
            }
        }
        // Checked as the server will check it before anything counts as sent.
        build(&tx, &key, sequence as u64, created)?.manifest()?;
        tx.commit()?;
        (sequence, created)
    };
    let writer = build(ws.conn(), &key, sequence as u64, created)?;
    let written = writer.write(out)?;
    Ok(OutboxSummary {
        file: out.to_owned(),
        sequence: written.sequence,
        replies: written.replies,
        acks: written.acks,
        again,
        skipped,
    })
}

/// The outbox `sequence` as the workspace recorded it.
fn build<'k>(
    conn: &rusqlite::Connection,
    key: &'k SigningKey,
    sequence: u64,
    created: Date,
) -> Result<OutboxWriter<'k>, DeskError> {
    let mut writer = OutboxWriter::new(key, sequence, created);
    let mut acks =
        conn.prepare("SELECT submission_id FROM outbox_acks WHERE outbox = ?1 ORDER BY 1")?;
    for id in acks.query_map([sequence as i64], |r| r.get::<_, String>(0))? {
        writer.ack(id?);
    }
    let mut replies = conn.prepare(
        "SELECT id, mailbox, expires, ciphertext FROM replies WHERE outbox = ?1 ORDER BY id",
    )?;
    let rows = replies.query_map([sequence as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Vec<u8>>(3)?,
        ))
    })?;
    for row in rows {
        let (id, mailbox, expires, ciphertext) = row?;
        let expires = Date::parse(&expires)
            .ok_or_else(|| DeskError::Settings("a bad reply expiry day".into()))?;
        writer.reply(Reply {
            id,
            mailbox,
            expires,
            ciphertext,
        });
    }
    Ok(writer)
}
