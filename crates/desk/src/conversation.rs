//! The return channel on the desk: threads of one codename's submissions, and replies.
//!
//! A thread id lives only inside sealed envelopes (`Envelope.conversation`); the workspace never
//! stores it. `list` and `show` decrypt envelopes anyway and group by it on the fly.
//!
//! A reply is UTF-8 text padded with zero bytes to [`padded_size`] (docs/CODENAMES.md, "Reply
//! plaintext"), sealed as a standard age file to the conversation's `reply_to` recipient, and
//! queued with a copy locked to the group's keys so staff can read what was said.

use std::io::{Read, Write};
use std::str::FromStr;

use rusqlite::Connection;
use zeroize::Zeroizing;

use super::cases::{self, Case};
use super::decrypt::{self, map_parallel};
use super::identity::Keyring;
use super::workspace::{today, Workspace};
use super::DeskError;
use sealdrop_bundle::outbox::format::{padded_size, MAX_REPLY_LIFETIME_DAYS, PADDED_SIZES};
use sealdrop_core::day::Date;
use sealdrop_core::keys::Recipients;
use sealdrop_core::Envelope;

/// Days a reply waits on the server for its source, unless staff choose otherwise.
pub const DEFAULT_REPLY_DAYS: i64 = 30;
/// Longest reply text, in bytes (the largest padded size).
pub const MAX_REPLY_BYTES: u64 = PADDED_SIZES[PADDED_SIZES.len() - 1];

/// How long a reply waits on the server: 1 to 366 days (the outbox format's limit).
pub fn parse_reply_days(text: &str) -> Result<i64, DeskError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|d| (1..=MAX_REPLY_LIFETIME_DAYS).contains(d))
        .ok_or_else(|| DeskError::BadReplyDays(text.to_owned()))
}

/// The reply plaintext: `text` as UTF-8, then zero bytes up to [`padded_size`].
pub fn pad_reply(text: &str) -> Result<Zeroizing<Vec<u8>>, DeskError> {
    if text.trim().is_empty() {
        return Err(DeskError::EmptyReply);
    }
    if text.contains('\0') {
        return Err(DeskError::BadReply(
            "it contains a zero byte (NUL), which marks the end of a reply",
        ));
    }
    let size = padded_size(text.len() as u64).ok_or(DeskError::BadReply(
        "it is longer than 256 KiB; split it into several replies",
    ))?;
    let mut plain = Zeroizing::new(Vec::with_capacity(size as usize));
    plain.extend_from_slice(text.as_bytes());
    plain.resize(size as usize, 0);
    Ok(plain)
}

/// The text of a reply plaintext: everything before the first zero byte, as UTF-8.
pub fn unpad_reply(plain: &[u8]) -> Option<&str> {
    let end = plain.iter().position(|&b| b == 0).unwrap_or(plain.len());
    if plain[end..].iter().any(|&b| b != 0) {
        return None;
    }
    std::str::from_utf8(&plain[..end]).ok()
}

fn encrypt<'a>(
    recipients: impl Iterator<Item = &'a dyn age::Recipient>,
    plain: &[u8],
) -> Result<Vec<u8>, DeskError> {
    let fail = |e: &dyn std::fmt::Display| DeskError::Encrypt(e.to_string());
    let encryptor = age::Encryptor::with_recipients(recipients).map_err(|e| fail(&e))?;
    let mut out = Vec::with_capacity(plain.len() + 512);
    let mut writer = encryptor.wrap_output(&mut out).map_err(|e| fail(&e))?;
    writer.write_all(plain).map_err(|e| fail(&e))?;
    writer.finish().map_err(|e| fail(&e))?;
    Ok(out)
}

/// `plain` as an age file to the group's recipients, refused if the staff key in `keyring`
/// could not open it again: text locked away from its own author is lost to them.
pub fn lock_to_group(
    plain: &[u8],
    group: &Recipients,
    keyring: &Keyring,
    what: &'static str,
) -> Result<Vec<u8>, DeskError> {
    let ciphertext = encrypt(group.iter(), plain)?;
    if keyring.decrypt(&ciphertext[..]).is_err() {
        return Err(DeskError::LockedAway { what });
    }
    Ok(ciphertext)
}

/// Whether text locked to `group` would open with `keyring` (for `init`'s warning).
pub fn group_includes(group: &Recipients, keyring: &Keyring) -> bool {
    lock_to_group(b"", group, keyring, "a test").is_ok()
}

/// A reply put in the queue.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: String,
    pub submission: String,
    pub expires: Date,
    /// The padded plaintext size.
    pub padded: usize,
}

/// Queue a reply to the source of submission `id` (a full id).
pub fn queue_reply(
    ws: &Workspace,
    keyring: &Keyring,
    id: &str,
    text: &str,
    days: i64,
) -> Result<Queued, DeskError> {
    let case = cases::get(ws.conn(), id)?;
    let envelope = decrypt::open_envelope(&ws.blobs_dir(), keyring, &case)?;
    let conv = envelope
        .conversation
        .as_ref()
        .ok_or_else(|| DeskError::NoConversation(id.to_owned()))?;
    let damaged = |problem: &str| DeskError::Envelope {
        id: id.to_owned(),
        problem: problem.to_owned(),
    };
    if !sealdrop_core::is_id(&conv.mailbox) {
        return Err(damaged("its conversation's mailbox is not an id"));
    }
    let to = age::x25519::Recipient::from_str(&conv.reply_to)
        .map_err(|_| damaged("its conversation's reply key is not an age recipient"))?;
    let plain = pad_reply(text)?;
    let ciphertext = encrypt(std::iter::once(&to as &dyn age::Recipient), &plain)?;
    let group = ws.settings()?.recipients()?;
    let copy = lock_to_group(text.as_bytes(), &group, keyring, "the reply")?;
    let written = today();
    let expires = Date::from_days(written.to_days() + days);
    let reply_id = sealdrop_core::new_id();
    ws.conn().execute(
        "INSERT INTO replies (id, submission_id, written, mailbox, expires, ciphertext, copy)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        (
            &reply_id,
            id,
            written.to_string(),
            &conv.mailbox,
            expires.to_string(),
            ciphertext,
            copy,
        ),
    )?;
    Ok(Queued {
        id: reply_id,
        submission: id.to_owned(),
        expires,
        padded: plain.len(),
    })
}

/// A reply staff wrote, as the workspace keeps it (the group's copy, decrypted).
pub struct ReplyRecord {
    pub submission: String,
    pub written: String,
    pub expires: String,
    /// The outbox that carried it; `None` while queued.
    pub outbox: Option<u64>,
    pub text: Result<Zeroizing<String>, String>,
}

/// The replies to the given submissions, oldest first.
pub fn replies_to(
    conn: &Connection,
    submissions: &[String],
    keyring: &Keyring,
) -> Result<Vec<ReplyRecord>, DeskError> {
    let mut stmt = conn.prepare(
        "SELECT submission_id, written, expires, outbox, copy FROM replies
         WHERE submission_id = ?1 ORDER BY written, id",
    )?;
    let mut out = Vec::new();
    for id in submissions {
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })?;
        for row in rows {
            let (submission, written, expires, outbox, copy) = row?;
            let text = open_copy(keyring, &copy);
            out.push(ReplyRecord {
                submission,
                written,
                expires,
                outbox: outbox.map(|s| s as u64),
                text,
            });
        }
    }
    out.sort_by(|a, b| a.written.cmp(&b.written));
    Ok(out)
}

fn open_copy(keyring: &Keyring, copy: &[u8]) -> Result<Zeroizing<String>, String> {
    let mut reader = keyring
        .decrypt(copy)
        .map_err(|e| decrypt::decrypt_advice(&e))?;
    let mut text = Zeroizing::new(String::new());
    reader
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

/// The thread a submission belongs to, if its source chose a codename.
pub fn thread_of(envelope: &Envelope) -> Option<&str> {
    envelope.conversation.as_ref().map(|c| c.thread.as_str())
}

/// Where a line of `list` stands in its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Not part of a thread (or the only one of its thread listed).
    Alone,
    /// The newest listed submission of a thread, shown first; `count` are listed in all.
    Head { count: usize },
    /// An older submission of the thread, shown under its head.
    Member,
}

/// The display order for `list`: `threads[i]` is the thread of the i-th case (newest first).
/// Each thread is shown where its newest case is, its older cases right under it.
pub fn thread_order(threads: &[Option<&str>]) -> Vec<(usize, Mark)> {
    let mut out = Vec::with_capacity(threads.len());
    let mut placed = vec![false; threads.len()];
    for i in 0..threads.len() {
        if placed[i] {
            continue;
        }
        placed[i] = true;
        let Some(thread) = threads[i] else {
            out.push((i, Mark::Alone));
            continue;
        };
        let members: Vec<usize> = (i + 1..threads.len())
            .filter(|&j| !placed[j] && threads[j] == Some(thread))
            .collect();
        if members.is_empty() {
            out.push((i, Mark::Alone));
            continue;
        }
        out.push((
            i,
            Mark::Head {
                count: members.len() + 1,
            },
        ));
        for j in members {
            placed[j] = true;
            out.push((j, Mark::Member));
        }
    }
    out
}

/// One submission of a conversation, opened.
pub struct ThreadPart {
    pub case: Case,
    pub envelope: Envelope,
}

/// Every submission in the workspace that shares `envelope`'s thread (itself included), by
/// arrival day then id. A submission without a conversation is a thread of one.
pub fn thread_parts(
    ws: &Workspace,
    keyring: &Keyring,
    case: &Case,
    envelope: &Envelope,
) -> Result<Vec<ThreadPart>, DeskError> {
    let Some(thread) = thread_of(envelope) else {
        return Ok(Vec::new());
    };
    let all = cases::list(ws.conn(), &cases::Filter::default())?;
    let blobs = ws.blobs_dir();
    let opened = map_parallel(&all, keyring.threads(), |c| {
        if c.id == case.id {
            return None;
        }
        decrypt::open_envelope(&blobs, keyring, c)
            .ok()
            .filter(|e| thread_of(e) == Some(thread))
    });
    let mut parts: Vec<ThreadPart> = all
        .into_iter()
        .zip(opened)
        .filter_map(|(case, e)| e.map(|envelope| ThreadPart { case, envelope }))
        .collect();
    parts.push(ThreadPart {
        case: case.clone(),
        envelope: envelope.clone(),
    });
    parts.sort_by(|a, b| (&a.case.arrived, &a.case.id).cmp(&(&b.case.arrived, &b.case.id)));
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_utf8_then_zero_bytes_to_a_fixed_size() {
        let plain = pad_reply("Спасибо, мы получили.").unwrap();
        assert_eq!(plain.len(), 4096);
        assert_eq!(unpad_reply(&plain), Some("Спасибо, мы получили."));
        let long = "я".repeat(3000); // 6000 bytes
        assert_eq!(pad_reply(&long).unwrap().len(), 16 * 1024);
        let exact = "a".repeat(4096);
        assert_eq!(pad_reply(&exact).unwrap().len(), 4096);
        assert!(matches!(
            pad_reply(&"a".repeat(256 * 1024 + 1)),
            Err(DeskError::BadReply(_))
        ));
        assert!(matches!(pad_reply(" \n"), Err(DeskError::EmptyReply)));
        assert!(matches!(pad_reply("a\0b"), Err(DeskError::BadReply(_))));
        // Anything after the zero bytes starts is not a reply.
        assert_eq!(unpad_reply(b"hi\0\0x"), None);
    }

    #[test]
    fn reply_days_are_bounded() {
        assert_eq!(parse_reply_days("30").unwrap(), 30);
        assert_eq!(parse_reply_days("366").unwrap(), 366);
        for bad in ["0", "367", "-1", "soon"] {
            assert!(parse_reply_days(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn threads_are_shown_at_their_newest_with_older_ones_under_it() {
        let order = thread_order(&[Some("t"), None, Some("u"), Some("t"), Some("t")]);
        assert_eq!(
            order,
            vec![
                (0, Mark::Head { count: 3 }),
                (3, Mark::Member),
                (4, Mark::Member),
                (1, Mark::Alone),
                (2, Mark::Alone),
            ]
        );
        assert!(thread_order(&[]).is_empty());
    }

    #[test]
    fn text_the_author_cannot_open_is_refused() {
        let me = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let keyring = Keyring::from_native(vec![me.clone()]);
        let only_other = Recipients::parse(
            std::path::Path::new("group"),
            format!("{}\n", other.to_public()).as_bytes(),
        )
        .unwrap();
        let both = Recipients::parse(
            std::path::Path::new("group"),
            format!("{}\n{}\n", other.to_public(), me.to_public()).as_bytes(),
        )
        .unwrap();
        assert!(matches!(
            lock_to_group(b"x", &only_other, &keyring, "the note"),
            Err(DeskError::LockedAway { what: "the note" })
        ));
        assert!(!group_includes(&only_other, &keyring));
        assert!(group_includes(&both, &keyring));
        let c = lock_to_group(b"x", &both, &keyring, "the note").unwrap();
        assert_eq!(open_copy(&keyring, &c).unwrap().as_str(), "x");
    }
}
