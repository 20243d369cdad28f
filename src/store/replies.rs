//! Replies from staff to sources who chose a codename: standard age files under
//! `replies/<id>.age`, each recorded with the mailbox it belongs to, its place in the order they
//! are shown in, its expiry day and its size (migrations/0005_replies.sql).
//!
//! The server never opens a reply: a source's own request does, in memory, with the identity
//! derived from the codename they typed. Nothing here links a mailbox to a submission.
//!
//! `sealdrop import-outbox` adds replies (as an operator command, under the operator lock); the
//! intake lists and deletes them; expired ones are deleted at start-up and from time to time.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use sealdrop_core::day::Date;
use sealdrop_core::durable::sync_dir;
use sealdrop_core::is_id;

use super::{Store, StoreError};

/// The folder of reply files inside the data directory.
pub const REPLIES_DIR: &str = "replies";

/// One reply as the index records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub id: String,
    pub ordinal: i64,
    pub expires: Date,
    pub size: u64,
}

/// Where replies live in `data_dir`.
pub fn replies_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(REPLIES_DIR)
}

/// Where reply `id` (a checked id) lives in `data_dir`.
pub fn reply_path(data_dir: &Path, id: &str) -> PathBuf {
    debug_assert!(is_id(id));
    replies_dir(data_dir).join(format!("{id}.age"))
}

/// The replies in `mailbox` that have not expired by `today`, in the order they are shown.
pub fn list(conn: &Connection, mailbox: &str, today: Date) -> Result<Vec<StoredReply>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, ordinal, expires, size FROM replies \
         WHERE mailbox = ?1 AND expires >= ?2 ORDER BY ordinal, id",
    )?;
    let rows = stmt.query_map(params![mailbox, today.to_string()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, ordinal, expires, size) = row?;
        let (Some(expires), true) = (Date::parse(&expires), is_id(&id)) else {
            return Err(StoreError::Damaged(format!("reply row {id:?}")));
        };
        out.push(StoredReply {
            id,
            ordinal,
            expires,
            size: size.max(0) as u64,
        });
    }
    Ok(out)
}

/// Delete reply `id` of `mailbox`: the row in one transaction, then the file, then an fsync of
/// the folder, so a read reply is really gone. `false` if there was no such reply in that
/// mailbox (a source can only ever delete from the mailbox their codename opens).
pub fn delete(
    conn: &mut Connection,
    data_dir: &Path,
    mailbox: &str,
    id: &str,
) -> Result<bool, StoreError> {
    if !is_id(id) || !is_id(mailbox) {
        return Ok(false);
    }
    let removed = conn.execute(
        "DELETE FROM replies WHERE id = ?1 AND mailbox = ?2",
        params![id, mailbox],
    )?;
    if removed == 0 {
        return Ok(false);
    }
    remove_file_if_present(&reply_path(data_dir, id))?;
    sync_dir(&replies_dir(data_dir))?;
    Ok(true)
}

/// Delete every reply that expired before `today`; returns how many.
pub fn delete_expired(
    conn: &mut Connection,
    data_dir: &Path,
    today: Date,
) -> Result<usize, StoreError> {
    // IMMEDIATE: take the write lock before reading. A deferred transaction that reads first
    // cannot become a writer if the commit thread wrote in between (SQLITE_BUSY_SNAPSHOT, 517,
    // which busy_timeout does not wait out); it failed this way at every start-up.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let ids: Vec<String> = {
        let mut stmt = tx.prepare("SELECT id FROM replies WHERE expires < ?1")?;
        let ids = stmt
            .query_map([today.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        ids
    };
    tx.execute(
        "DELETE FROM replies WHERE expires < ?1",
        [today.to_string()],
    )?;
    tx.commit()?;
    for id in ids.iter().filter(|id| is_id(id)) {
        remove_file_if_present(&reply_path(data_dir, id))?;
    }
    if !ids.is_empty() {
        sync_dir(&replies_dir(data_dir))?;
    }
    Ok(ids.len())
}

/// Remove reply files no row owns (a crash between writing them and recording them).
pub fn remove_orphans(conn: &Connection, data_dir: &Path) -> Result<usize, StoreError> {
    let dir = replies_dir(data_dir);
    let mut owned = conn.prepare("SELECT 1 FROM replies WHERE id = ?1")?;
    let mut removed = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".age"))
            .filter(|id| is_id(id));
        if let Some(id) = id {
            if !owned.exists([id])? {
                remove_file_if_present(&path)?;
                removed += 1;
            }
        }
    }
    if removed > 0 {
        sync_dir(&dir)?;
    }
    Ok(removed)
}

/// The highest ordinal recorded so far (0 for none): an import numbers its replies after it.
pub fn last_ordinal(conn: &Connection) -> Result<i64, StoreError> {
    Ok(
        conn.query_row("SELECT coalesce(max(ordinal), 0) FROM replies", [], |r| {
            r.get(0)
        })?,
    )
}

/// The last outbox sequence accepted from desk key `desk_key` (hex), if any.
pub fn last_sequence(conn: &Connection, desk_key: &str) -> Result<Option<u64>, StoreError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT last_sequence FROM desk_sequences WHERE desk_key = ?1",
            [desk_key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(seq.map(|s| s as u64))
}

fn remove_file_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Store {
    /// The replies in `mailbox` that have not expired by `today`, in the order they are shown.
    pub fn replies(&self, mailbox: &str, today: Date) -> Result<Vec<StoredReply>, StoreError> {
        let conn = self
            .inner
            .replies_conn
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        list(&conn, mailbox, today)
    }

    /// Where reply `id` lives (an age file to the mailbox's reply recipient).
    pub fn reply_path(&self, id: &str) -> PathBuf {
        reply_path(&self.inner.data_dir, id)
    }

    /// Delete one reply of `mailbox`, for good; `false` if that mailbox has no such reply.
    pub fn delete_reply(&self, mailbox: &str, id: &str) -> Result<bool, StoreError> {
        let mut conn = self
            .inner
            .replies_conn
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        delete(&mut conn, &self.inner.data_dir, mailbox, id)
    }

    /// Delete every reply that expired before `today`; returns how many.
    pub fn delete_expired_replies(&self, today: Date) -> Result<usize, StoreError> {
        let mut conn = self
            .inner
            .replies_conn
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        delete_expired(&mut conn, &self.inner.data_dir, today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(replies_dir(dir.path())).unwrap();
        let mut conn = Connection::open(dir.path().join("i.sqlite")).unwrap();
        super::super::migrations::apply(&mut conn).unwrap();
        (dir, conn)
    }

    fn add(conn: &Connection, data: &Path, id: &str, mailbox: &str, ordinal: i64, expires: &str) {
        conn.execute(
            "INSERT INTO replies (id, mailbox, ordinal, expires, size) VALUES (?1, ?2, ?3, ?4, 3)",
            params![id, mailbox, ordinal, expires],
        )
        .unwrap();
        std::fs::write(reply_path(data, id), b"age").unwrap();
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn id(n: u8) -> String {
        format!("{:032x}", n)
    }

    #[test]
    fn a_mailbox_lists_its_own_unexpired_replies_in_order() {
        let (dir, conn) = setup();
        add(&conn, dir.path(), &id(3), A, 2, "2026-12-31");
        add(&conn, dir.path(), &id(1), A, 1, "2026-12-31");
        add(&conn, dir.path(), &id(2), B, 3, "2026-12-31");
        add(&conn, dir.path(), &id(4), A, 4, "2026-11-01");
        let today = Date::parse("2026-11-30").unwrap();
        let listed: Vec<_> = list(&conn, A, today)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(listed, [id(1), id(3)]);
        assert_eq!(last_ordinal(&conn).unwrap(), 4);
    }

    #[test]
    fn a_reply_is_deleted_only_from_its_own_mailbox_and_for_good() {
        let (dir, mut conn) = setup();
        add(&conn, dir.path(), &id(1), A, 1, "2026-12-31");
        assert!(
            !delete(&mut conn, dir.path(), B, &id(1)).unwrap(),
            "not B's reply"
        );
        assert!(reply_path(dir.path(), &id(1)).exists());
        assert!(!delete(&mut conn, dir.path(), A, "../../etc/passwd").unwrap());
        assert!(delete(&mut conn, dir.path(), A, &id(1)).unwrap());
        assert!(!reply_path(dir.path(), &id(1)).exists());
        assert!(
            !delete(&mut conn, dir.path(), A, &id(1)).unwrap(),
            "already gone"
        );
    }

    #[test]
    fn expired_replies_and_orphan_files_are_removed() {
        let (dir, mut conn) = setup();
        add(&conn, dir.path(), &id(1), A, 1, "2026-11-01");
        add(&conn, dir.path(), &id(2), A, 2, "2026-12-31");
        std::fs::write(reply_path(dir.path(), &id(9)), b"orphan").unwrap();
        let today = Date::parse("2026-11-30").unwrap();
        assert_eq!(delete_expired(&mut conn, dir.path(), today).unwrap(), 1);
        assert!(!reply_path(dir.path(), &id(1)).exists());
        assert_eq!(remove_orphans(&conn, dir.path()).unwrap(), 1);
        assert!(!reply_path(dir.path(), &id(9)).exists());
        assert!(reply_path(dir.path(), &id(2)).exists());
    }
}
