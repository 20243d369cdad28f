//! The staff's own work on a case: status, tags, read marks and notes.
//!
//! Notes can hold what sources must never have exposed, so they are age ciphertext to the
//! group's recipients (any staff key can read them; the workspace file alone cannot).

use std::io::Read;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::Connection;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::conversation::lock_to_group;
use super::identity::Keyring;
use super::workspace::{now_minute, today};
use super::DeskError;
use sealdrop_core::keys::Recipients;

/// Where a case stands. `ValueEnum` lets `--help` list the statuses, by the names `as_str` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Status {
    /// Not looked at yet.
    New,
    /// Someone is working on it.
    InReview,
    /// Checked and found true.
    Verified,
    /// Waiting for more from the source or others.
    FollowUp,
    /// Nothing more to do.
    Closed,
    /// Not a real report.
    Spam,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::New,
        Status::InReview,
        Status::Verified,
        Status::FollowUp,
        Status::Closed,
        Status::Spam,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InReview => "in-review",
            Status::Verified => "verified",
            Status::FollowUp => "follow-up",
            Status::Closed => "closed",
            Status::Spam => "spam",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = DeskError;
    fn from_str(s: &str) -> Result<Self, DeskError> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == wanted || st.as_str().replace('-', "") == wanted)
            .ok_or_else(|| DeskError::BadStatus(s.to_owned()))
    }
}

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: DeskError| FromSqlError::Other(e.into()))
    }
}

/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;

/// A tag as stored: NFC, lower case, letters and digits and a few joining marks.
pub fn normalise_tag(raw: &str) -> Result<String, DeskError> {
    let tag: String = raw.trim().nfc().flat_map(char::to_lowercase).collect();
    let bad = |why| {
        Err(DeskError::BadTag {
            tag: raw.to_owned(),
            why,
        })
    };
    if tag.is_empty() {
        return bad("it is empty");
    }
    if tag.chars().count() > MAX_TAG_CHARS {
        return bad("it is longer than 64 characters");
    }
    // A small alphabet: tags appear in tables, CSV and Markdown without any escaping trouble.
    if !tag
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.:/#+".contains(c))
    {
        return bad("use letters, digits and - _ . : / # + only (join words with -)");
    }
    Ok(tag)
}

/// Add tags; returns those that were new.
pub fn tag(conn: &mut Connection, id: &str, tags: &[String]) -> Result<Vec<String>, DeskError> {
    let tags = tags
        .iter()
        .map(|t| normalise_tag(t))
        .collect::<Result<Vec<_>, _>>()?;
    let tx = conn.transaction()?;
    let mut added = Vec::new();
    for t in tags {
        if tx.execute(
            "INSERT OR IGNORE INTO tags (submission_id, tag) VALUES (?1, ?2)",
            (id, &t),
        )? == 1
        {
            added.push(t);
        }
    }
    tx.commit()?;
    Ok(added)
}

/// Remove tags; returns those that were there.
pub fn untag(conn: &mut Connection, id: &str, tags: &[String]) -> Result<Vec<String>, DeskError> {
    let tags = tags
        .iter()
        .map(|t| normalise_tag(t))
        .collect::<Result<Vec<_>, _>>()?;
    let tx = conn.transaction()?;
    let mut removed = Vec::new();
    for t in tags {
        if tx.execute(
            "DELETE FROM tags WHERE submission_id = ?1 AND tag = ?2",
            (id, &t),
        )? == 1
        {
            removed.push(t);
        }
    }
    tx.commit()?;
    Ok(removed)
}

/// Set the status; returns the previous one.
pub fn set_status(conn: &mut Connection, id: &str, status: Status) -> Result<Status, DeskError> {
    let tx = conn.transaction()?;
    let old: Status = tx.query_row("SELECT status FROM submissions WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    tx.execute(
        "UPDATE submissions SET status = ?2 WHERE id = ?1",
        (id, status.as_str()),
    )?;
    tx.commit()?;
    Ok(old)
}

pub fn mark_read(conn: &Connection, id: &str) -> Result<(), DeskError> {
    conn.execute("UPDATE submissions SET read = 1 WHERE id = ?1", [id])?;
    Ok(())
}

/// Longest note, in bytes.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// The first line of a note's plaintext since notes carry their author and time; older notes
/// are the text alone.
const NOTE_HEADER: &str = "sealdesk-note 2\n";

/// Encrypt `text`, signed off with `author` and the time, to the group's recipients and keep it
/// with the case. Author and time are inside the ciphertext: the workspace file alone does not
/// tell who worked on which case.
pub fn add_note(
    conn: &Connection,
    id: &str,
    text: &str,
    author: &str,
    recipients: &Recipients,
    keyring: &Keyring,
) -> Result<(), DeskError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DeskError::EmptyNote);
    }
    if text.len() > MAX_NOTE_BYTES {
        return Err(DeskError::Encrypt("the note is longer than 1 MiB".into()));
    }
    let author: String = author.chars().filter(|c| !c.is_control()).collect();
    let mut plain = Zeroizing::new(String::with_capacity(text.len() + author.len() + 64));
    plain.push_str(NOTE_HEADER);
    plain.push_str(&format!("author: {author}\nwritten: {}\n\n", now_minute()));
    plain.push_str(text);
    // Refused if the author's own key could not open it again.
    let ciphertext = lock_to_group(plain.as_bytes(), recipients, keyring, "the note")?;
    conn.execute(
        "INSERT INTO notes (submission_id, written, ciphertext) VALUES (?1, ?2, ?3)",
        (id, today().to_string(), ciphertext),
    )?;
    Ok(())
}

/// A note, decrypted (or why it could not be).
pub struct Note {
    /// The day it was written (as the index records it).
    pub written: String,
    pub text: Result<NoteText, String>,
}

/// A note's content: who wrote it and when (notes written before Sealdesk recorded them have
/// neither), and its text.
pub struct NoteText {
    pub author: Option<String>,
    pub at: Option<String>,
    pub body: Zeroizing<String>,
}

impl NoteText {
    /// "by NAME, TIME" (or what of it is known), for a note's heading.
    pub fn signed(&self, day: &str) -> String {
        match (&self.author, &self.at) {
            (Some(a), Some(t)) => format!("{t}, {a}"),
            (Some(a), None) => format!("{day}, {a}"),
            (None, Some(t)) => t.clone(),
            (None, None) => day.to_owned(),
        }
    }
}

/// The case's notes, oldest first, decrypted in memory.
pub fn notes(conn: &Connection, id: &str, keyring: &Keyring) -> Result<Vec<Note>, DeskError> {
    let mut stmt =
        conn.prepare("SELECT written, ciphertext FROM notes WHERE submission_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (written, ciphertext) = row?;
        out.push(Note {
            written,
            text: open_note_text(keyring, &ciphertext),
        });
    }
    Ok(out)
}

/// Decrypt one note in memory: its text only.
pub fn open_note(keyring: &Keyring, ciphertext: &[u8]) -> Result<Zeroizing<String>, String> {
    open_note_text(keyring, ciphertext).map(|n| n.body)
}

/// Decrypt one note in memory, with its author and time.
pub fn open_note_text(keyring: &Keyring, ciphertext: &[u8]) -> Result<NoteText, String> {
    let plain = open_note_plain(keyring, ciphertext)?;
    let Some(rest) = plain.strip_prefix(NOTE_HEADER) else {
        return Ok(NoteText {
            author: None,
            at: None,
            body: plain,
        });
    };
    let (head, body) = rest.split_once("\n\n").unwrap_or((rest, ""));
    let field = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::to_owned)
    };
    Ok(NoteText {
        author: field("author: "),
        at: field("written: "),
        body: Zeroizing::new(body.to_owned()),
    })
}

fn open_note_plain(keyring: &Keyring, ciphertext: &[u8]) -> Result<Zeroizing<String>, String> {
    let mut reader = keyring.decrypt(ciphertext).map_err(|e| {
        format!("your key cannot open this note ({e}); it was written for other recipients")
    })?;
    let mut plain = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader
        .read_to_end(&mut plain)
        .map_err(|e| format!("the note is damaged ({e})"))?;
    match std::str::from_utf8(&plain) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err("the note is not text".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_status_by_its_stored_name() {
        let listed: Vec<String> = <Status as clap::ValueEnum>::value_variants()
            .iter()
            .filter_map(clap::ValueEnum::to_possible_value)
            .map(|v| v.get_name().to_owned())
            .collect();
        let stored: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(listed, stored);
    }

    #[test]
    fn statuses_round_trip_and_accept_loose_spelling() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert_eq!("In_Review".parse::<Status>().unwrap(), Status::InReview);
        assert_eq!("followup".parse::<Status>().unwrap(), Status::FollowUp);
        assert!("done".parse::<Status>().is_err());
    }

    #[test]
    fn tags_are_normalised_and_checked() {
        assert_eq!(normalise_tag("  Москва ").unwrap(), "москва");
        assert_eq!(normalise_tag("ҲУҚУҚ").unwrap(), "ҳуқуқ");
        // NFD input becomes the same tag as NFC input.
        assert_eq!(
            normalise_tag("Rusta\u{301}m").unwrap(),
            normalise_tag("rustám").unwrap()
        );
        for bad in [
            "",
            "two words",
            "a,b",
            "x\u{1b}[31m",
            "`x`",
            "*b*",
            &"a".repeat(65),
        ] {
            assert!(normalise_tag(bad).is_err(), "{bad:?}");
        }
    }
}
