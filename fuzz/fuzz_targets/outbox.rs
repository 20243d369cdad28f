//! The outbox reader (crates/bundle/src/outbox/read.rs): the desk-to-server file, hostile input
//! for the server. Input layout, by the first byte:
//!
//! ```text
//! mode 0  the rest is the outbox file as it is
//! mode 1  u16 length m, m bytes of manifest JSON, then the reply bytes: the manifest is signed
//!         by the pinned test desk key, so the fuzzer gets past the signature
//! mode 2  as mode 1, but a manifest that parses has its desk key, reply sizes (padded to an
//!         allowed size with zeros) and digests made to fit the reply bytes before signing
//! ```
//!
//! The mode is the first byte's low six bits modulo 3. In mode 0, bit 0x40 writes the pinned test
//! desk key into the header, so that a raw file gets past the key check. With the top bit set,
//! the reader gets the file through a FIFO instead of as a file: a pipe has no length to hold a
//! header's claims against (`fuzz/run` allows no allocation over 2 MiB here).
//!
//! Invariants: no panic; memory bounded by the file (a reply is read whole, at most one padded
//! size); an opened outbox passed every check (ids, dates, expiry window, sizes, acks once
//! each); replies handed out are exactly the signed bytes; no error message carries a control
//! or direction character.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sealdrop_bundle::outbox::format::{
    age_payload_len, reply_size_allowed, Manifest, FORMAT, HEADER_LEN, KEY_LEN,
    MAX_REPLY_LIFETIME_DAYS, PADDED_SIZES, SIGNATURE_LEN, VERSION,
};
use sealdrop_bundle::outbox::write::signed_head;
use sealdrop_bundle::outbox::{OutboxError, OutboxReader};
use sealdrop_core::day::Date;
use sealdrop_fuzz::{as_file_or_pipe, assert_terminal_safe, is_id_shape, test_key};
use sha2::{Digest, Sha256};

fn outbox_file(data: &[u8]) -> Option<Vec<u8>> {
    let (&first, rest) = data.split_first()?;
    let mode = (first & 0x3f) % 3;
    if mode == 0 {
        let mut file = rest.to_vec();
        // A raw file past the key check: the header names a pinned desk key.
        if first & 0x40 != 0 && file.len() >= HEADER_LEN {
            file[20..20 + KEY_LEN].copy_from_slice(test_key(9).verifying_key().as_bytes());
        }
        return Some(file);
    }
    let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let rest = &rest[2..];
    let (json, replies) = rest.split_at(len.min(rest.len()));
    let key = test_key(9);
    let (json, replies) = if mode == 2 {
        fitted(json, replies, &key).unwrap_or_else(|| (json.to_vec(), replies.to_vec()))
    } else {
        (json.to_vec(), replies.to_vec())
    };
    let mut file = signed_head(&json, &key).ok()?;
    file.extend_from_slice(&replies);
    Some(file)
}

/// A manifest made to fit `replies`: the test desk key's, each reply cut from the bytes there,
/// padded with zeros to an allowed size, with its digest.
fn fitted(
    json: &[u8],
    replies: &[u8],
    key: &ed25519_dalek::SigningKey,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut manifest: Manifest = serde_json::from_slice(json).ok()?;
    manifest.desk_key = hex::encode(key.verifying_key().as_bytes());
    let mut out = Vec::new();
    let mut at = 0;
    for reply in manifest.replies.iter_mut().take(8) {
        let size = if reply_size_allowed(reply.size) && reply.size < 20 * 1024 {
            reply.size
        } else {
            age_payload_len(PADDED_SIZES[0]) + 1 + reply.size % 1024
        };
        let take = (size as usize).min(replies.len() - at);
        let mut bytes = replies[at..at + take].to_vec();
        at += take;
        bytes.resize(size as usize, 0);
        reply.size = size;
        reply.sha256 = hex::encode(Sha256::digest(&bytes));
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(&replies[at..]);
    Some((serde_json::to_vec(&manifest).ok()?, out))
}

fn check_manifest(m: &Manifest) {
    assert_eq!((m.format.as_str(), m.version), (FORMAT, VERSION));
    assert_eq!(
        m.desk_key,
        hex::encode(test_key(9).verifying_key().as_bytes())
    );
    let created = Date::parse(&m.created).expect("a checked date");
    let acks: HashSet<&String> = m.acks.iter().collect();
    assert_eq!(acks.len(), m.acks.len());
    assert!(m.acks.iter().all(|a| is_id_shape(a)));
    let mut ids = HashSet::new();
    for r in &m.replies {
        assert!(is_id_shape(&r.id) && is_id_shape(&r.mailbox) && ids.insert(&r.id));
        let expires = Date::parse(&r.expires).expect("a checked date");
        let lifetime = expires.to_days() - created.to_days();
        assert!((1..=MAX_REPLY_LIFETIME_DAYS).contains(&lifetime));
        assert!(reply_size_allowed(r.size));
    }
}

/// The length of an outbox whose manifest is `m`.
fn signed_len(m: &Manifest, manifest_len: usize) -> u128 {
    (HEADER_LEN + manifest_len + SIGNATURE_LEN) as u128 + m.reply_bytes()
}

fn check_error(e: &OutboxError) {
    assert_terminal_safe("an outbox error", &e.to_string(), &[]);
}

fuzz_target!(|data: &[u8]| {
    let Some(file) = outbox_file(data) else {
        return;
    };
    as_file_or_pipe("outbox", &file, data[0] & 0x80 != 0, |path, from_pipe| {
        read(path, &file, from_pipe)
    });
});

/// Open `path` (a file or a pipe holding `file`) as the server does and check what it hands
/// out.
fn read(path: &Path, file: &[u8], from_pipe: bool) {
    let pinned = [test_key(8).verifying_key(), test_key(9).verifying_key()];
    let reader = match OutboxReader::open(path, &pinned) {
        Ok(reader) => reader,
        Err(e) => return check_error(&e),
    };
    let manifest_len = u32::from_be_bytes(file[52..56].try_into().unwrap()) as usize;
    check_manifest(reader.manifest());
    let signed_len = signed_len(reader.manifest(), manifest_len);
    // A file's length is checked at opening; a pipe's only as it is read.
    if !from_pipe {
        assert_eq!(signed_len, file.len() as u128);
    }
    let sequence = reader.sequence();
    for last in [None, Some(0), Some(sequence), sequence.checked_sub(1)] {
        let allowed = last.is_none_or(|l| sequence > l);
        assert_eq!(
            reader.check_sequence(last).is_ok(),
            allowed,
            "{last:?} {sequence}"
        );
    }
    let replies_at = HEADER_LEN + manifest_len + SIGNATURE_LEN;
    let mut handed = Vec::new();
    let result = reader.for_each_reply(|reply, bytes| {
        assert_eq!(bytes.len() as u64, reply.size);
        assert_eq!(hex::encode(Sha256::digest(bytes)), reply.sha256);
        handed.extend_from_slice(bytes);
        Ok(())
    });
    match result {
        Ok(()) => {
            assert_eq!(
                signed_len,
                file.len() as u128,
                "an outbox of another length than was signed was read whole"
            );
            assert_eq!(
                handed,
                file[replies_at..],
                "the replies are not the signed bytes"
            )
        }
        Err(e) => check_error(&e),
    }
}
