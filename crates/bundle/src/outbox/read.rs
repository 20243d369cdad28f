//! The verifying reader the server uses. An outbox is hostile input: it comes off a USB stick
//! that passed through online machines. Nothing in it is parsed until the signature by a pinned
//! desk key checks out, every field is then checked (a desk, too, can be compromised or buggy),
//! and a reply reaches the caller only after its SHA-256 matched the signed manifest.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::format::{
    reply_size_allowed, Manifest, ManifestReply, AGE_HEADER_ALLOWANCE, FORMAT, HEADER_LEN, KEY_LEN,
    MAGIC, MAX_ACKS, MAX_MANIFEST_LEN, MAX_REPLIES, MAX_REPLY_BYTES, MAX_REPLY_LIFETIME_DAYS,
    MAX_REPLY_SIZE, PADDED_SIZES, SIGNATURE_LEN, VERSION,
};
use crate::read::{is_digest, manifest_room, printable, shown};
use crate::signing::format_fingerprint;
use sealdrop_core::day::Date;
use sealdrop_core::is_id;

/// Why an outbox was refused. Each check has its own variant, and each message names the check
/// and says what to do. Nothing in a refused outbox may be stored or purged.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("cannot open the outbox {path}; check that you chose the right file")]
    Open { path: PathBuf, source: io::Error },
    #[error("reading the outbox failed; copy it again")]
    Read { source: io::Error },
    #[error("bad magic: this is not a Sealdrop outbox (it does not start with `sealdrop-outbox`); check that you chose the file `sealdesk outbox` wrote")]
    BadMagic,
    #[error("unknown outbox format version {found}: this program reads version {VERSION}; use the Sealdrop release that matches the desk")]
    UnknownVersion { found: u32 },
    #[error("manifest length out of bounds: {len} bytes (allowed: 1 byte to 16 MiB); the outbox is damaged or crafted, do not import it")]
    ManifestLength { len: u32 },
    #[error("truncated outbox: the file ends inside {what}; the copy is incomplete, copy the outbox again")]
    Truncated { what: String },
    #[error("unpinned desk key: the outbox says it was signed by the desk key {fingerprint}, which is not pinned here; nothing was imported. If that is really your desk, compare it with `sealdesk fingerprint` there and pin it; otherwise discard the file")]
    UnpinnedKey { fingerprint: String },
    #[error("unsigned outbox: its signature is all zeros; nothing was imported. Only files written by `sealdesk outbox` can be imported")]
    Unsigned,
    #[error("signature invalid: the outbox was changed after the desk signed it, or was not signed by the desk key it names; nothing was imported. Write a new outbox on the desk")]
    BadSignature,
    #[error("manifest not valid JSON of the expected shape: {reason}")]
    ManifestJson { reason: String },
    #[error("wrong manifest format: it says {format} version {version}, but a version-{VERSION} outbox must say `{FORMAT}` version {VERSION}; the outbox is crafted, do not import it")]
    WrongFormat { format: String, version: u32 },
    #[error("desk key mismatch: the manifest names desk key {found}, not the one that signed it; the outbox is crafted, do not import it")]
    DeskKeyMismatch { found: String },
    #[error("bad id: {field} is {value}, not an id of 32 lowercase hex digits; the outbox is crafted or damaged, do not import it")]
    BadId { field: String, value: String },
    #[error("bad date: {field} is {value}, not a real date YYYY-MM-DD; the outbox is crafted or damaged, do not import it")]
    BadDate { field: String, value: String },
    #[error("bad expiry: reply {reply} expires {expires}, but it must expire after the outbox's day {created} and at most {MAX_REPLY_LIFETIME_DAYS} days later; fix the reply's expiry on the desk and write a new outbox")]
    BadExpiry {
        reply: String,
        expires: String,
        created: String,
    },
    #[error(
        "too many acks: {count} (an outbox holds at most {max}); write the rest in the next outbox"
    )]
    TooManyAcks { count: usize, max: usize },
    #[error("too many replies: {count} (an outbox holds at most {max}); write the rest in the next outbox")]
    TooManyReplies { count: usize, max: usize },
    #[error("bad reply size: reply {reply} is {size} bytes, not an age file of one of the padded sizes (4, 16, 64 or 256 KiB plus at most {AGE_HEADER_ALLOWANCE} bytes of header); the desk did not pad it, do not import it")]
    BadReplySize { reply: String, size: u64 },
    #[error("too much reply data: the replies take {total} bytes (an outbox carries at most {max}); write the rest in the next outbox")]
    TooMuchReplyData { total: u128, max: u64 },
    #[error("bad digest: reply {reply} has sha256 {value}, not 64 lowercase hex digits")]
    BadDigest { reply: String, value: String },
    #[error("duplicate ack: submission {id} is acknowledged twice; the outbox is crafted, do not import it")]
    DuplicateAck { id: String },
    #[error("duplicate reply id {id}; the outbox is crafted, do not import it")]
    DuplicateReply { id: String },
    #[error("SHA-256 mismatch: reply {reply} differs from what the desk signed (altered or damaged on the way); nothing was imported, copy the outbox again")]
    DigestMismatch { reply: String },
    #[error("trailing data: the file goes on after the last reply its signed manifest lists; it was altered, do not import it")]
    TrailingData,
    #[error("storing reply {reply} failed; nothing from this outbox may be kept")]
    Sink { reply: String, source: io::Error },
    #[error("replayed outbox: sequence {sequence} was already imported from this desk; nothing was imported. Import only the newest outbox, or write a new one on the desk")]
    Replayed { sequence: u64 },
    #[error("older outbox: its sequence {sequence} is below {last}, the last one imported from this desk (outboxes must be imported in the order they were written); nothing was imported. Import the newest outbox instead")]
    OlderSequence { sequence: u64, last: u64 },
}

/// Whether an outbox with `sequence` may be accepted from a desk key whose last accepted
/// outbox had `last_accepted` (`None`: none yet). Strictly increasing: an equal sequence is a
/// replay, a lower one is older (replayed or reordered). Gaps are allowed (an outbox the
/// operator never carried over is simply superseded).
pub fn check_sequence(last_accepted: Option<u64>, sequence: u64) -> Result<(), OutboxError> {
    match last_accepted {
        Some(last) if sequence == last => Err(OutboxError::Replayed { sequence }),
        Some(last) if sequence < last => Err(OutboxError::OlderSequence { sequence, last }),
        _ => Ok(()),
    }
}

/// An outbox whose header, signature and manifest are verified; its replies come next.
pub struct OutboxReader {
    input: BufReader<File>,
    manifest: Manifest,
    desk_key: VerifyingKey,
}

impl std::fmt::Debug for OutboxReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxReader")
            .field("desk_key", &self.manifest.desk_key)
            .field("sequence", &self.manifest.sequence)
            .finish_non_exhaustive()
    }
}

impl OutboxReader {
    /// Open `path` and verify, in this order: magic, version, manifest length, that the desk
    /// key in the header is one of `pinned`, the signature by that key (before any JSON is
    /// parsed), then every manifest field, then the file's length. No reply is read yet.
    pub fn open(path: &Path, pinned: &[VerifyingKey]) -> Result<OutboxReader, OutboxError> {
        let file = File::open(path).map_err(|source| OutboxError::Open {
            path: path.to_owned(),
            source,
        })?;
        // A regular file's length lets truncation and trailing data show before any reply is
        // read; for anything else (a pipe) the streaming checks still catch both.
        let file_len = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let mut input = BufReader::with_capacity(256 * 1024, file);

        let mut header = [0u8; HEADER_LEN];
        let got = read_full(&mut input, &mut header)?;
        let (key_bytes, manifest_len) = check_header(&header[..got])?;
        let desk_key = *pinned
            .iter()
            .find(|k| k.as_bytes() == &key_bytes)
            .ok_or_else(|| OutboxError::UnpinnedKey {
                fingerprint: hex_fingerprint(&key_bytes),
            })?;

        let mut signed =
            Vec::with_capacity(HEADER_LEN + manifest_room(manifest_len, file_len, HEADER_LEN));
        signed.extend_from_slice(&header);
        (&mut input)
            .take(u64::from(manifest_len))
            .read_to_end(&mut signed)
            .map_err(|source| OutboxError::Read { source })?;
        if signed.len() < HEADER_LEN + manifest_len as usize {
            return Err(truncated("the manifest"));
        }
        let mut signature = [0u8; SIGNATURE_LEN];
        if read_full(&mut input, &mut signature)? < SIGNATURE_LEN {
            return Err(truncated("the signature"));
        }
        if signature == [0u8; SIGNATURE_LEN] {
            return Err(OutboxError::Unsigned);
        }
        desk_key
            .verify_strict(&signed, &Signature::from_bytes(&signature))
            .map_err(|_| OutboxError::BadSignature)?;

        let manifest: Manifest = serde_json::from_slice(&signed[HEADER_LEN..]).map_err(|e| {
            OutboxError::ManifestJson {
                // serde quotes field names from the input as they are: keep them printable.
                reason: printable(&e.to_string()),
            }
        })?;
        validate(&manifest, &desk_key)?;

        if let Some(actual) = file_len {
            let expected = (HEADER_LEN + manifest_len as usize + SIGNATURE_LEN) as u128
                + manifest.reply_bytes();
            if u128::from(actual) < expected {
                return Err(truncated("the replies"));
            }
            if u128::from(actual) > expected {
                return Err(OutboxError::TrailingData);
            }
        }
        Ok(OutboxReader {
            input,
            manifest,
            desk_key,
        })
    }

    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The pinned key that signed this outbox: the server keeps the last accepted sequence
    /// per key.
    pub fn desk_key(&self) -> &VerifyingKey {
        &self.desk_key
    }

    pub fn sequence(&self) -> u64 {
        self.manifest.sequence
    }

    /// The acknowledged submission ids, each a checked id, each once.
    pub fn acks(&self) -> &[String] {
        &self.manifest.acks
    }

    /// [`check_sequence`] for this outbox, given the last sequence accepted from its desk key.
    pub fn check_sequence(&self, last_accepted: Option<u64>) -> Result<(), OutboxError> {
        check_sequence(last_accepted, self.manifest.sequence)
    }

    /// Read every reply in order. Each is read whole into memory (at most [`MAX_REPLY_SIZE`]
    /// bytes), its SHA-256 checked, and only then handed to `sink` with its manifest entry, so
    /// `sink` never sees bytes the desk did not sign. A later reply or the end of the file can
    /// still fail, so the caller keeps what `sink` stored aside (a staging area) until this
    /// returns Ok, and discards it on Err.
    pub fn for_each_reply(
        self,
        mut sink: impl FnMut(&ManifestReply, &[u8]) -> io::Result<()>,
    ) -> Result<(), OutboxError> {
        let OutboxReader {
            mut input,
            manifest,
            ..
        } = self;
        let mut buf = Vec::new();
        for reply in &manifest.replies {
            // validate() bounded the size.
            buf.resize(reply.size as usize, 0);
            if read_full(&mut input, &mut buf)? < buf.len() {
                return Err(truncated(&format!("reply {}", reply.id)));
            }
            if hex::encode(Sha256::digest(&buf)) != reply.sha256 {
                return Err(OutboxError::DigestMismatch {
                    reply: reply.id.clone(),
                });
            }
            sink(reply, &buf).map_err(|source| OutboxError::Sink {
                reply: reply.id.clone(),
                source,
            })?;
        }
        let mut byte = [0u8; 1];
        match read_full(&mut input, &mut byte)? {
            0 => Ok(()),
            _ => Err(OutboxError::TrailingData),
        }
    }
}

fn hex_fingerprint(key: &[u8; KEY_LEN]) -> String {
    // Not necessarily a valid point: show the bytes as a fingerprint all the same.
    match VerifyingKey::from_bytes(key) {
        Ok(k) => format_fingerprint(&k),
        Err(_) => hex::encode(key),
    }
}

fn truncated(what: &str) -> OutboxError {
    OutboxError::Truncated {
        what: what.to_owned(),
    }
}

/// Fill `buf` as far as the input allows; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, OutboxError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(OutboxError::Read { source }),
        }
    }
    Ok(got)
}

/// Check the fixed header (possibly short); return the desk key bytes and the manifest length.
fn check_header(header: &[u8]) -> Result<([u8; KEY_LEN], u32), OutboxError> {
    let magic_part = header.len().min(MAGIC.len());
    if header[..magic_part] != MAGIC[..magic_part] {
        return Err(OutboxError::BadMagic);
    }
    if header.len() < 20 {
        return Err(truncated("the header"));
    }
    let version = u32::from_be_bytes(header[16..20].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(OutboxError::UnknownVersion { found: version });
    }
    if header.len() < HEADER_LEN {
        return Err(truncated("the header"));
    }
    let key: [u8; KEY_LEN] = header[20..52].try_into().expect("32 bytes");
    let len = u32::from_be_bytes(header[52..56].try_into().expect("4 bytes"));
    if len == 0 || len > MAX_MANIFEST_LEN {
        return Err(OutboxError::ManifestLength { len });
    }
    Ok((key, len))
}

/// The bounds a manifest is checked against (a parameter so tests can use small ones).
pub(crate) struct Limits {
    pub acks: usize,
    pub replies: usize,
    pub reply_bytes: u64,
}

pub(crate) const LIMITS: Limits = Limits {
    acks: MAX_ACKS,
    replies: MAX_REPLIES,
    reply_bytes: MAX_REPLY_BYTES,
};

/// Every check on a signed manifest. The writer runs it too, so a desk never writes an outbox
/// the server refuses.
pub(crate) fn validate(m: &Manifest, signer: &VerifyingKey) -> Result<(), OutboxError> {
    validate_with(m, signer, &LIMITS)
}

pub(crate) fn validate_with(
    m: &Manifest,
    signer: &VerifyingKey,
    limits: &Limits,
) -> Result<(), OutboxError> {
    if m.format != FORMAT || m.version != VERSION {
        return Err(OutboxError::WrongFormat {
            format: shown(&m.format),
            version: m.version,
        });
    }
    if m.desk_key != hex::encode(signer.as_bytes()) {
        return Err(OutboxError::DeskKeyMismatch {
            found: shown(&m.desk_key),
        });
    }
    let created = check_date("created", &m.created)?;
    if m.acks.len() > limits.acks {
        return Err(OutboxError::TooManyAcks {
            count: m.acks.len(),
            max: limits.acks,
        });
    }
    if m.replies.len() > limits.replies {
        return Err(OutboxError::TooManyReplies {
            count: m.replies.len(),
            max: limits.replies,
        });
    }
    let mut acks = HashSet::with_capacity(m.acks.len());
    for id in &m.acks {
        check_id("an acknowledged submission id", id)?;
        if !acks.insert(id.as_str()) {
            return Err(OutboxError::DuplicateAck { id: id.clone() });
        }
    }
    let mut replies = HashSet::with_capacity(m.replies.len());
    for r in &m.replies {
        check_id("a reply id", &r.id)?;
        check_id(&format!("the mailbox of reply {}", r.id), &r.mailbox)?;
        if !replies.insert(r.id.as_str()) {
            return Err(OutboxError::DuplicateReply { id: r.id.clone() });
        }
        let expires = check_date(&format!("the expiry of reply {}", r.id), &r.expires)?;
        let lifetime = expires.to_days() - created.to_days();
        if !(1..=MAX_REPLY_LIFETIME_DAYS).contains(&lifetime) {
            return Err(OutboxError::BadExpiry {
                reply: r.id.clone(),
                expires: r.expires.clone(),
                created: m.created.clone(),
            });
        }
        if !reply_size_allowed(r.size) {
            return Err(OutboxError::BadReplySize {
                reply: r.id.clone(),
                size: r.size,
            });
        }
        if !is_digest(&r.sha256) {
            return Err(OutboxError::BadDigest {
                reply: r.id.clone(),
                value: shown(&r.sha256),
            });
        }
    }
    debug_assert!(PADDED_SIZES.iter().all(|&p| p < MAX_REPLY_SIZE));
    let total = m.reply_bytes();
    if total > u128::from(limits.reply_bytes) {
        return Err(OutboxError::TooMuchReplyData {
            total,
            max: limits.reply_bytes,
        });
    }
    Ok(())
}

fn check_id(field: &str, value: &str) -> Result<(), OutboxError> {
    if is_id(value) {
        return Ok(());
    }
    Err(OutboxError::BadId {
        field: field.to_owned(),
        value: shown(value),
    })
}

fn check_date(field: &str, value: &str) -> Result<Date, OutboxError> {
    Date::parse(value).ok_or_else(|| OutboxError::BadDate {
        field: field.to_owned(),
        value: shown(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::format::age_payload_len;
    use ed25519_dalek::SigningKey;

    fn manifest(key: &VerifyingKey, replies: usize) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            desk_key: hex::encode(key.as_bytes()),
            sequence: 1,
            created: "2026-11-27".into(),
            acks: vec![],
            replies: (0..replies)
                .map(|n| ManifestReply {
                    id: format!("{n:032x}"),
                    mailbox: "5".repeat(32),
                    expires: "2026-12-27".into(),
                    size: age_payload_len(PADDED_SIZES[0]) + 200,
                    sha256: "0".repeat(64),
                })
                .collect(),
        }
    }

    #[test]
    fn total_reply_bytes_have_a_bound() {
        let key = SigningKey::from_bytes(&[4u8; 32]).verifying_key();
        let m = manifest(&key, 3);
        validate(&m, &key).unwrap();
        let one = age_payload_len(PADDED_SIZES[0]) + 200;
        let small = Limits {
            acks: 10,
            replies: 10,
            reply_bytes: 2 * one,
        };
        let err = validate_with(&m, &key, &small).unwrap_err();
        assert!(
            matches!(err, OutboxError::TooMuchReplyData { total, .. } if total == 3 * u128::from(one)),
            "{err}"
        );
        assert!(err.to_string().starts_with("too much reply data"));
        // The real bound: 20,000 of the largest replies would be over 5 GiB.
        let mut big = manifest(&key, 2100);
        for r in &mut big.replies {
            r.size = MAX_REPLY_SIZE;
        }
        let err = validate(&big, &key).unwrap_err();
        assert!(matches!(err, OutboxError::TooMuchReplyData { .. }), "{err}");
    }

    #[test]
    fn sequences_only_go_up() {
        assert!(check_sequence(None, 0).is_ok());
        assert!(check_sequence(Some(3), 4).is_ok());
        assert!(check_sequence(Some(3), 1000).is_ok());
        assert!(matches!(
            check_sequence(Some(3), 3),
            Err(OutboxError::Replayed { sequence: 3 })
        ));
        assert!(matches!(
            check_sequence(Some(3), 2),
            Err(OutboxError::OlderSequence {
                sequence: 2,
                last: 3
            })
        ));
    }
}
