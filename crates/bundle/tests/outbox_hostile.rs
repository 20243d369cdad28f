//! The outbox as the server will meet it: a genuine outbox written by a desk with its real key
//! (saved to and loaded from a key file) and real age replies, then altered the ways a
//! compromised transfer machine (or, where said, a compromised or buggy desk) could alter it.
//! Each case must be refused with its own error, naming the check that failed.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sealdrop_bundle::outbox::format::{
    padded_size, HEADER_LEN, MAX_ACKS, MAX_MANIFEST_LEN, MAX_REPLIES, SIGNATURE_LEN,
};
use sealdrop_bundle::outbox::write::signed_head;
use sealdrop_bundle::outbox::{
    check_sequence, desk_key, OutboxError, OutboxReader, OutboxWriter, Reply, WriteError,
};
use sealdrop_bundle::signing::format_fingerprint;
use sealdrop_core::day::Date;
use serde_json::{json, Value};

const SEQUENCE: u64 = 7;

/// A desk's genuine outbox: three acks and three replies, each a real age file of a padded
/// plaintext, to two mailboxes.
struct Genuine {
    dir: tempfile::TempDir,
    key: SigningKey,
    source: age::x25519::Identity,
    acks: Vec<String>,
    /// (id, mailbox, plaintext, ciphertext)
    replies: Vec<(String, String, Vec<u8>, Vec<u8>)>,
    bytes: Vec<u8>,
}

fn id(n: u8) -> String {
    format!("{n:02x}").repeat(16)
}

fn created() -> Date {
    Date::parse("2026-11-27").unwrap()
}

/// A reply's plaintext, padded the way the desk pads it: the text, then spaces.
fn padded(text: &str) -> Vec<u8> {
    let mut p = text.as_bytes().to_vec();
    p.resize(padded_size(p.len() as u64).unwrap() as usize, b' ');
    p
}

impl Genuine {
    fn new() -> Genuine {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join(desk_key::KEY_FILE);
        desk_key::create(&key_path).unwrap();
        let key = desk_key::load(&key_path).unwrap();
        let source = age::x25519::Identity::generate();
        let acks = vec![id(0xa1), id(0xa2), id(0xa3)];
        // Over 64 KiB, so padded to 256 KiB: the file outgrows the reader's buffer.
        let long = "a longer answer ".repeat(5000);
        let replies: Vec<_> = [
            (
                id(0x11),
                id(0x51),
                padded("Thank you. We received the files."),
            ),
            (id(0x12), id(0x52), padded(&long)),
            (id(0x13), id(0x51), padded("Could you tell us the date?")),
        ]
        .into_iter()
        .map(|(rid, mailbox, plain)| {
            let cipher = age::encrypt(&source.to_public(), &plain).unwrap();
            (rid, mailbox, plain, cipher)
        })
        .collect();
        let mut writer = OutboxWriter::new(&key, SEQUENCE, created());
        for a in &acks {
            writer.ack(a.clone());
        }
        for (rid, mailbox, _, cipher) in &replies {
            writer.reply(Reply {
                id: rid.clone(),
                mailbox: mailbox.clone(),
                expires: Date::parse("2027-02-25").unwrap(),
                ciphertext: cipher.clone(),
            });
        }
        let out = dir.path().join("genuine.outbox");
        let written = writer.write(&out).unwrap();
        let bytes = fs::read(&out).unwrap();
        assert_eq!(written.bytes, bytes.len() as u64);
        assert_eq!((written.acks, written.replies), (3, 3));
        Genuine {
            dir,
            key,
            source,
            acks,
            replies,
            bytes,
        }
    }

    fn pinned(&self) -> Vec<VerifyingKey> {
        // Another desk is pinned too: the reader picks the right one.
        vec![
            SigningKey::from_bytes(&[8u8; 32]).verifying_key(),
            self.key.verifying_key(),
        ]
    }

    fn write(&self, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(format!("case-{}.outbox", rand_name()));
        fs::write(&path, bytes).unwrap();
        path
    }

    fn manifest_len(&self) -> usize {
        u32::from_be_bytes(self.bytes[52..56].try_into().unwrap()) as usize
    }

    fn manifest(&self) -> Value {
        serde_json::from_slice(&self.bytes[HEADER_LEN..HEADER_LEN + self.manifest_len()]).unwrap()
    }

    fn replies_bytes(&self) -> &[u8] {
        &self.bytes[HEADER_LEN + self.manifest_len() + SIGNATURE_LEN..]
    }

    /// The manifest changed by `edit` and signed again with the desk's real key (what a
    /// compromised or buggy desk could produce), followed by the genuine replies.
    fn re_signed(&self, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut manifest = self.manifest();
        edit(&mut manifest);
        let mut bytes = signed_head(&serde_json::to_vec(&manifest).unwrap(), &self.key).unwrap();
        bytes.extend_from_slice(self.replies_bytes());
        bytes
    }
}

fn rand_name() -> String {
    sealdrop_core::new_id()
}

/// Open and read every reply, as an import would; the first refusal.
fn refusal(g: &Genuine, bytes: &[u8]) -> OutboxError {
    match read_through(&g.write(bytes), &g.pinned()) {
        Ok(()) => panic!("a hostile outbox was accepted"),
        Err(e) => e,
    }
}

fn read_through(path: &Path, pinned: &[VerifyingKey]) -> Result<(), OutboxError> {
    OutboxReader::open(path, pinned)?.for_each_reply(|_, _| Ok(()))
}

/// The message must name the check; print the message if not.
fn says(err: &OutboxError, text: &str) {
    assert!(
        err.to_string().contains(text),
        "expected the message to name `{text}`: {err}"
    );
}

#[test]
fn a_genuine_outbox_round_trips() {
    let g = Genuine::new();
    let reader = OutboxReader::open(&g.write(&g.bytes), &g.pinned()).unwrap();
    assert_eq!(reader.desk_key(), &g.key.verifying_key());
    assert_eq!(reader.sequence(), SEQUENCE);
    reader.check_sequence(None).unwrap();
    reader.check_sequence(Some(SEQUENCE - 1)).unwrap();
    reader.check_sequence(Some(2)).unwrap();
    assert_eq!(reader.acks(), &g.acks[..]);
    assert_eq!(reader.manifest().created, "2026-11-27");
    let mut got = Vec::new();
    reader
        .for_each_reply(|entry, bytes| {
            got.push((entry.clone(), bytes.to_vec()));
            Ok(())
        })
        .unwrap();
    assert_eq!(got.len(), g.replies.len());
    for ((entry, bytes), (rid, mailbox, plain, cipher)) in got.iter().zip(&g.replies) {
        assert_eq!(&entry.id, rid);
        assert_eq!(&entry.mailbox, mailbox);
        assert_eq!(entry.expires, "2027-02-25");
        assert_eq!(bytes, cipher);
        // Still a standard age file the source's derived identity opens.
        assert_eq!(&age::decrypt(&g.source, bytes).unwrap(), plain);
    }
    // The source's identity is not in the file, nor the plaintext.
    let secret = g.source.to_string();
    let text = String::from_utf8_lossy(&g.bytes);
    assert!(!text.contains(secret.expose_secret()));
    assert!(!text.contains("Thank you"));
}

#[test]
fn an_empty_outbox_is_valid() {
    let g = Genuine::new();
    let out = g.dir.path().join("empty.outbox");
    OutboxWriter::new(&g.key, SEQUENCE + 1, created())
        .write(&out)
        .unwrap();
    let reader = OutboxReader::open(&out, &g.pinned()).unwrap();
    assert!(reader.acks().is_empty() && reader.manifest().replies.is_empty());
    reader.for_each_reply(|_, _| unreachable!()).unwrap();
}

#[test]
fn the_writer_never_overwrites_and_refuses_what_the_server_would() {
    let g = Genuine::new();
    let out = g.dir.path().join("again.outbox");
    fs::write(&out, b"keep me").unwrap();
    let err = OutboxWriter::new(&g.key, 8, created())
        .write(&out)
        .unwrap_err();
    assert!(matches!(err, WriteError::Exists { .. }), "{err}");
    assert_eq!(fs::read(&out).unwrap(), b"keep me");

    // An unpadded reply: the desk would leak its length, so it is not written.
    let fresh = g.dir.path().join("unpadded.outbox");
    let cipher = age::encrypt(&g.source.to_public(), b"unpadded").unwrap();
    let err = OutboxWriter::new(&g.key, 8, created())
        .reply(Reply {
            id: id(0x21),
            mailbox: id(0x51),
            expires: Date::parse("2027-01-01").unwrap(),
            ciphertext: cipher,
        })
        .write(&fresh)
        .unwrap_err();
    assert!(
        matches!(err, WriteError::Invalid(OutboxError::BadReplySize { .. })),
        "{err}"
    );
    assert!(!fresh.exists());
    // No temporary files left behind.
    assert!(fs::read_dir(g.dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
}

#[test]
fn unsigned() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    let at = HEADER_LEN + g.manifest_len();
    bytes[at..at + SIGNATURE_LEN].fill(0);
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::Unsigned), "{err}");
    says(&err, "unsigned outbox");
}

#[test]
fn signed_by_an_unpinned_key() {
    let g = Genuine::new();
    let path = g.write(&g.bytes);
    let others = [SigningKey::from_bytes(&[8u8; 32]).verifying_key()];
    let err = read_through(&path, &others).unwrap_err();
    match &err {
        OutboxError::UnpinnedKey { fingerprint } => {
            assert_eq!(*fingerprint, format_fingerprint(&g.key.verifying_key()))
        }
        other => panic!("{other}"),
    }
    says(&err, "unpinned desk key");
    // Nothing pinned at all: the same refusal.
    let err = read_through(&path, &[]).unwrap_err();
    assert!(matches!(err, OutboxError::UnpinnedKey { .. }), "{err}");
}

#[test]
fn signed_by_another_key_claiming_a_pinned_one() {
    // The header names the pinned desk key, but another key signed: the signature fails.
    let g = Genuine::new();
    let thief = SigningKey::from_bytes(&[9u8; 32]);
    let mut manifest = g.manifest();
    manifest["desk_key"] = json!(hex::encode(thief.verifying_key().as_bytes()));
    let mut bytes = signed_head(&serde_json::to_vec(&manifest).unwrap(), &thief).unwrap();
    bytes[20..52].copy_from_slice(g.key.verifying_key().as_bytes());
    bytes.extend_from_slice(g.replies_bytes());
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::BadSignature), "{err}");
    says(&err, "signature invalid");
}

#[test]
fn replayed_same_sequence() {
    let g = Genuine::new();
    let reader = OutboxReader::open(&g.write(&g.bytes), &g.pinned()).unwrap();
    let err = reader.check_sequence(Some(SEQUENCE)).unwrap_err();
    assert!(
        matches!(err, OutboxError::Replayed { sequence: SEQUENCE }),
        "{err}"
    );
    says(&err, "replayed outbox");
}

#[test]
fn older_sequence() {
    let g = Genuine::new();
    let reader = OutboxReader::open(&g.write(&g.bytes), &g.pinned()).unwrap();
    let err = reader.check_sequence(Some(SEQUENCE + 5)).unwrap_err();
    assert!(
        matches!(err, OutboxError::OlderSequence { sequence: SEQUENCE, last } if last == SEQUENCE + 5),
        "{err}"
    );
    says(&err, "older outbox");
    // The pure function agrees, at the edges too.
    assert!(check_sequence(Some(u64::MAX), 0).is_err());
    assert!(check_sequence(Some(0), 1).is_ok());
    assert!(matches!(
        check_sequence(Some(u64::MAX), u64::MAX),
        Err(OutboxError::Replayed { .. })
    ));
}

#[test]
fn truncated_at_several_points() {
    let g = Genuine::new();
    let sig_at = HEADER_LEN + g.manifest_len();
    for (cut, what) in [
        (0, "the header"),
        (18, "the header"),
        (30, "the header"),
        (HEADER_LEN - 1, "the header"),
        (HEADER_LEN + 10, "the manifest"),
        (sig_at, "the signature"),
        (sig_at + 63, "the signature"),
        (sig_at + SIGNATURE_LEN + 100, "the replies"),
        (g.bytes.len() - 1, "the replies"),
    ] {
        let err = refusal(&g, &g.bytes[..cut]);
        match &err {
            OutboxError::Truncated { what: w } => assert_eq!(w, what, "cut at {cut}"),
            other => panic!("cut at {cut}: {other}"),
        }
        says(&err, "truncated outbox");
    }
}

#[test]
fn truncated_while_streaming() {
    // The file shrinks after it was opened: the streaming read catches it.
    let g = Genuine::new();
    let path = g.write(&g.bytes);
    let reader = OutboxReader::open(&path, &g.pinned()).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(g.bytes.len() as u64 - 10)
        .unwrap();
    let mut handed = 0;
    let err = reader
        .for_each_reply(|_, _| {
            handed += 1;
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, OutboxError::Truncated { what } if *what == format!("reply {}", id(0x13))),
        "{err}"
    );
    assert_eq!(handed, 2, "the cut reply never reaches the caller");
}

#[test]
fn bit_flipped_manifest() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    bytes[HEADER_LEN + 40] ^= 0x01;
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::BadSignature), "{err}");
    says(&err, "signature invalid");
}

#[test]
fn bit_flipped_reply() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    // A byte inside the second reply.
    let at = HEADER_LEN + g.manifest_len() + SIGNATURE_LEN + g.replies[0].3.len() + 500;
    bytes[at] ^= 0x80;
    let path = g.write(&bytes);
    let mut handed = Vec::new();
    let err = OutboxReader::open(&path, &g.pinned())
        .unwrap()
        .for_each_reply(|entry, _| {
            handed.push(entry.id.clone());
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, OutboxError::DigestMismatch { reply } if *reply == id(0x12)),
        "{err}"
    );
    says(&err, "SHA-256 mismatch");
    // The damaged reply never reached the caller.
    assert_eq!(handed, vec![id(0x11)]);
}

#[test]
fn oversized_manifest_length() {
    let g = Genuine::new();
    for len in [0, MAX_MANIFEST_LEN + 1, u32::MAX] {
        let mut bytes = g.bytes.clone();
        bytes[52..56].copy_from_slice(&len.to_be_bytes());
        let err = refusal(&g, &bytes);
        assert!(
            matches!(err, OutboxError::ManifestLength { len: l } if l == len),
            "{err}"
        );
        says(&err, "manifest length out of bounds");
    }
}

#[test]
fn oversized_reply_count() {
    let g = Genuine::new();
    let bytes = g.re_signed(|m| {
        let one = m["replies"][0].clone();
        let replies = m["replies"].as_array_mut().unwrap();
        for n in 0..MAX_REPLIES {
            let mut r = one.clone();
            r["id"] = json!(format!("{n:032x}"));
            replies.push(r);
        }
    });
    let err = refusal(&g, &bytes);
    assert!(
        matches!(err, OutboxError::TooManyReplies { count, max: MAX_REPLIES } if count == MAX_REPLIES + 3),
        "{err}"
    );
    says(&err, "too many replies");
}

#[test]
fn oversized_ack_count() {
    let g = Genuine::new();
    let bytes = g.re_signed(|m| {
        m["acks"] = json!((0..=MAX_ACKS as u64)
            .map(|n| format!("{n:032x}"))
            .collect::<Vec<_>>());
    });
    let err = refusal(&g, &bytes);
    assert!(
        matches!(err, OutboxError::TooManyAcks { count, .. } if count == MAX_ACKS + 1),
        "{err}"
    );
    says(&err, "too many acks");
}

#[test]
fn path_like_mailbox_id() {
    let g = Genuine::new();
    let bytes = g.re_signed(|m| m["replies"][1]["mailbox"] = json!("../../etc/passwd"));
    let err = refusal(&g, &bytes);
    match &err {
        OutboxError::BadId { field, value } => {
            assert_eq!(*field, format!("the mailbox of reply {}", id(0x12)));
            assert_eq!(value, "\"../../etc/passwd\"");
        }
        other => panic!("{other}"),
    }
    says(&err, "bad id");
}

#[test]
fn path_like_reply_id() {
    let g = Genuine::new();
    let bytes = g.re_signed(|m| m["replies"][2]["id"] = json!("../../etc/passwd"));
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, OutboxError::BadId { field, .. } if field == "a reply id"),
        "{err}"
    );
    says(&err, "bad id");
}

#[test]
fn path_like_ack_id() {
    let g = Genuine::new();
    let bytes = g.re_signed(|m| m["acks"][0] = json!("../../etc/passwd"));
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, OutboxError::BadId { field, .. } if field == "an acknowledged submission id"),
        "{err}"
    );
}

#[test]
fn duplicate_reply_ids() {
    let g = Genuine::new();
    let bytes = g.re_signed(|m| m["replies"][2]["id"] = json!(id(0x11)));
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, OutboxError::DuplicateReply { id: d } if *d == id(0x11)),
        "{err}"
    );
    says(&err, "duplicate reply id");
}

#[test]
fn duplicate_ack_ids() {
    let g = Genuine::new();
    let bytes = g.re_signed(|m| m["acks"][2] = json!(id(0xa1)));
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, OutboxError::DuplicateAck { id: d } if *d == id(0xa1)),
        "{err}"
    );
    says(&err, "duplicate ack");
}

#[test]
fn trailing_bytes() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    bytes.push(0);
    // Seen at open, from the file's length, before any reply is read.
    let err = OutboxReader::open(&g.write(&bytes), &g.pinned()).unwrap_err();
    assert!(matches!(err, OutboxError::TrailingData), "{err}");
    says(&err, "trailing data");

    // Appended after opening: caught at the end of the stream.
    let path = g.write(&g.bytes);
    let reader = OutboxReader::open(&path, &g.pinned()).unwrap();
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"more")
        .unwrap();
    let err = reader.for_each_reply(|_, _| Ok(())).unwrap_err();
    assert!(matches!(err, OutboxError::TrailingData), "{err}");
}

#[test]
fn wrong_magic() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    bytes[..16].copy_from_slice(b"sealdrop-bundle\n");
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::BadMagic), "{err}");
    says(&err, "bad magic");
    // An old unsigned ack file is not an outbox.
    let err = refusal(&g, format!("sealdrop-ack v1\n{}\n", id(1)).as_bytes());
    assert!(matches!(err, OutboxError::BadMagic), "{err}");
}

#[test]
fn future_version() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    bytes[16..20].copy_from_slice(&2u32.to_be_bytes());
    let err = refusal(&g, &bytes);
    assert!(
        matches!(err, OutboxError::UnknownVersion { found: 2 }),
        "{err}"
    );
    says(&err, "unknown outbox format version 2");
}

#[test]
fn unpadded_reply_size() {
    // A desk that skipped padding (signed, so only the size rule stops it).
    let g = Genuine::new();
    let bytes = g.re_signed(|m| m["replies"][0]["size"] = json!(1000));
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, OutboxError::BadReplySize { reply, size: 1000 } if *reply == id(0x11)),
        "{err}"
    );
    says(&err, "bad reply size");
}

#[test]
fn bad_expiry_and_dates() {
    let g = Genuine::new();
    for expires in ["2026-11-27", "2026-01-01", "2027-11-29"] {
        let bytes = g.re_signed(|m| m["replies"][0]["expires"] = json!(expires));
        let err = refusal(&g, &bytes);
        assert!(
            matches!(err, OutboxError::BadExpiry { .. }),
            "{expires}: {err}"
        );
        says(&err, "bad expiry");
    }
    let bytes = g.re_signed(|m| m["replies"][0]["expires"] = json!("2027-02-30"));
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::BadDate { .. }), "{err}");
    let bytes = g.re_signed(|m| m["created"] = json!("27.11.2026"));
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, OutboxError::BadDate { field, .. } if field == "created"),
        "{err}"
    );
    says(&err, "bad date");
}

#[test]
fn unknown_or_missing_fields_and_wrong_format() {
    let g = Genuine::new();
    let bytes = g.re_signed(|m| m["replies"][0]["codename"] = json!("x"));
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, OutboxError::ManifestJson { reason } if reason.contains("unknown field `codename`")),
        "{err}"
    );
    let bytes = g.re_signed(|m| {
        m.as_object_mut().unwrap().remove("sequence");
    });
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::ManifestJson { .. }), "{err}");
    let bytes = g.re_signed(|m| m["format"] = json!("sealdrop-bundle"));
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::WrongFormat { .. }), "{err}");
    let bytes = g.re_signed(|m| m["desk_key"] = json!("ab".repeat(32)));
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::DeskKeyMismatch { .. }), "{err}");
    let bytes = g.re_signed(|m| m["replies"][0]["sha256"] = json!("AB".repeat(32)));
    let err = refusal(&g, &bytes);
    assert!(matches!(err, OutboxError::BadDigest { .. }), "{err}");
}

#[test]
fn a_failing_sink_is_reported_as_such() {
    let g = Genuine::new();
    let err = OutboxReader::open(&g.write(&g.bytes), &g.pinned())
        .unwrap()
        .for_each_reply(|_, _| Err(std::io::Error::other("disk full")))
        .unwrap_err();
    assert!(
        matches!(&err, OutboxError::Sink { reply, .. } if *reply == id(0x11)),
        "{err}"
    );
    // The cause is in the source chain, not repeated in the message.
    assert!(!err.to_string().contains("disk full"));
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "disk full"
    );
}
