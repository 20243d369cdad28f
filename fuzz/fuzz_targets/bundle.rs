//! The bundle reader (crates/bundle/src/read.rs): what the air-gapped desk reads off a USB
//! stick. Input layout, by the first byte:
//!
//! ```text
//! mode 0  the rest is the bundle file as it is (magic, header, signature: all the fuzzer's)
//! mode 1  u16 length m, m bytes of manifest JSON, then the blob bytes: the manifest is signed
//!         with the test key, so the fuzzer gets past the signature to the JSON and its checks
//! mode 2  as mode 1, but a manifest that parses has its server key, blob sizes and digests
//!         made to fit the blob bytes before signing, so blobs are streamed and hashed
//! ```
//!
//! The mode is the first byte's low six bits modulo 3. With its top bit set, the reader gets the
//! file through a FIFO instead of as a file: a pipe has no length to hold a header's claims
//! against (`fuzz/run` allows no allocation over 2 MiB here).
//!
//! Invariants: no panic; memory bounded by the file, not by what its header claims; an opened
//! bundle's manifest passed every check (ids, dates, digests, envelope first, sizes summing to
//! the file); blobs handed out are exactly the signed bytes; no error message carries a control
//! or direction character (they quote hostile strings).
#![no_main]

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sealdrop_bundle::format::{BlobKind, Manifest, FORMAT, HEADER_LEN, SIGNATURE_LEN, VERSION};
use sealdrop_bundle::write::signed_head;
use sealdrop_bundle::{BundleError, BundleReader};
use sealdrop_core::day::Date;
use sealdrop_fuzz::{as_file_or_pipe, assert_terminal_safe, is_id_shape, test_key};
use sha2::{Digest, Sha256};

/// The file for `data`, or `None` when the input does not make one.
fn bundle_file(data: &[u8]) -> Option<Vec<u8>> {
    let (&first, rest) = data.split_first()?;
    let mode = (first & 0x3f) % 3;
    if mode == 0 {
        return Some(rest.to_vec());
    }
    let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let rest = &rest[2..];
    let (json, blobs) = rest.split_at(len.min(rest.len()));
    let key = test_key(7);
    let json = if mode == 2 {
        fitted(json, blobs, &key).unwrap_or_else(|| json.to_vec())
    } else {
        json.to_vec()
    };
    let mut file = signed_head(&json, &key).ok()?;
    file.extend_from_slice(blobs);
    Some(file)
}

/// A manifest made to fit `blobs`: the test key's, with sizes and digests of the bytes there.
fn fitted(json: &[u8], blobs: &[u8], key: &ed25519_dalek::SigningKey) -> Option<Vec<u8>> {
    let mut manifest: Manifest = serde_json::from_slice(json).ok()?;
    manifest.server_key = hex::encode(key.verifying_key().as_bytes());
    let mut at = 0;
    for submission in &mut manifest.submissions {
        for blob in &mut submission.blobs {
            let size = (blob.size as usize).min(blobs.len() - at);
            blob.size = size as u64;
            blob.sha256 = hex::encode(Sha256::digest(&blobs[at..at + size]));
            at += size;
        }
    }
    serde_json::to_vec(&manifest).ok()
}

fn check_manifest(m: &Manifest) {
    assert_eq!((m.format.as_str(), m.version), (FORMAT, VERSION));
    assert_eq!(
        m.server_key,
        hex::encode(test_key(7).verifying_key().as_bytes())
    );
    assert!(is_id_shape(&m.bundle_id));
    assert!(Date::parse(&m.created).is_some());
    let mut ids = HashSet::new();
    for s in &m.submissions {
        assert!(is_id_shape(&s.id) && ids.insert(s.id.clone()), "{:?}", s.id);
        assert!(Date::parse(&s.arrived).is_some());
        assert_eq!(s.blobs.first().map(|b| &b.id), Some(&s.envelope_blob));
        for (i, b) in s.blobs.iter().enumerate() {
            assert!(is_id_shape(&b.id) && ids.insert(b.id.clone()), "{:?}", b.id);
            assert_eq!(i == 0, b.kind == BlobKind::Envelope);
            assert_eq!(b.sha256.len(), 64);
        }
    }
}

/// The length of a bundle whose manifest is `m`.
fn signed_len(m: &Manifest, manifest_len: usize) -> u128 {
    (HEADER_LEN + manifest_len + SIGNATURE_LEN) as u128 + m.blob_bytes()
}

fn check_error(e: &BundleError) {
    assert_terminal_safe("a bundle error", &e.to_string(), &[]);
}

fuzz_target!(|data: &[u8]| {
    let Some(file) = bundle_file(data) else {
        return;
    };
    // Some sinks stop early: the reader must still check every byte.
    let stop_early = data.len() % 2 == 1;
    as_file_or_pipe("bundle", &file, data[0] & 0x80 != 0, |path, from_pipe| {
        read(path, &file, from_pipe, stop_early)
    });
});

/// Open `path` (a file or a pipe holding `file`) as the desk does and check what it hands out.
fn read(path: &Path, file: &[u8], from_pipe: bool, stop_early: bool) {
    let pinned = test_key(7).verifying_key();
    let reader = match BundleReader::open(path, &pinned) {
        Ok(reader) => reader,
        Err(e) => return check_error(&e),
    };
    let manifest_len = u32::from_be_bytes(file[20..24].try_into().unwrap()) as usize;
    check_manifest(reader.manifest());
    let signed_len = signed_len(reader.manifest(), manifest_len);
    // A file's length is checked at opening; a pipe's only as it is read.
    if !from_pipe {
        assert_eq!(
            signed_len,
            file.len() as u128,
            "the file's length is not what was signed"
        );
    }
    let blobs_at = HEADER_LEN + manifest_len + SIGNATURE_LEN;
    let mut handed = Vec::new();
    let mut digests_ok = true;
    let result = reader.for_each_blob(|_, blob, input| {
        let mut bytes = Vec::new();
        if stop_early {
            (&mut *input).take(1).read_to_end(&mut bytes)?;
        } else {
            input.read_to_end(&mut bytes)?;
            digests_ok &= bytes.len() as u64 == blob.size
                && hex::encode(Sha256::digest(&bytes)) == blob.sha256;
        }
        handed.extend_from_slice(&bytes);
        Ok(())
    });
    match result {
        Ok(()) => {
            assert_eq!(
                signed_len,
                file.len() as u128,
                "a bundle of another length than was signed was read whole"
            );
            assert!(
                digests_ok,
                "a blob that does not match its digest was accepted"
            );
            if !stop_early {
                assert_eq!(
                    handed,
                    file[blobs_at..],
                    "the blobs are not the signed bytes"
                );
            }
        }
        Err(e) => check_error(&e),
    }
}
