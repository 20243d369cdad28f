//! Hostile bundles: a real export from a real data directory, then altered the ways a
//! compromised transfer machine (or, where said, a compromised server key) could alter it.
//! Each case must be refused with its own error, naming the check that failed.

mod bundle_support;

use std::path::Path;

use sealdrop_bundle::{BundleError, BundleReader};
use serde_json::Value;

use bundle_support::hostile::{Genuine, OVERSIZED_MANIFEST};
use bundle_support::*;

/// Open and read every blob, as an import would; the first refusal.
fn refusal(g: &Genuine, bytes: &[u8]) -> BundleError {
    match read_through(&g.write(bytes), &g.pinned()) {
        Ok(()) => panic!("a hostile bundle was accepted"),
        Err(e) => e,
    }
}

fn read_through(path: &Path, pinned: &ed25519_dalek::VerifyingKey) -> Result<(), BundleError> {
    BundleReader::open(path, pinned)?
        .for_each_blob(|_, _, r| std::io::copy(r, &mut std::io::sink()).map(drop))
}

/// The message must name the check; print the message if not.
fn says(err: &BundleError, text: &str) {
    assert!(
        err.to_string().contains(text),
        "expected the message to name `{text}`: {err}"
    );
}

#[test]
fn the_genuine_bundle_verifies_and_decrypts() {
    let g = Genuine::new();
    let reader = BundleReader::open(&g.write(&g.bytes), &g.pinned()).unwrap();
    let ids: Vec<_> = reader
        .manifest()
        .submissions
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(ids, g.made.iter().map(|m| m.id.clone()).collect::<Vec<_>>());
    let mut blobs = 0;
    reader
        .for_each_blob(|submission, blob, r| {
            let made = g.made.iter().find(|m| m.id == submission.id).unwrap();
            let at = made.blob_ids.iter().position(|b| *b == blob.id).unwrap();
            let mut data = Vec::new();
            r.read_to_end(&mut data)?;
            let plain = decrypt(&g.staff, &data);
            if at == 0 {
                let envelope: Value = serde_json::from_slice(&plain).unwrap();
                assert_eq!(envelope["fields"]["message"], made.message.as_str());
            } else {
                let content = &made.attachments[at - 1].1;
                assert_eq!(&plain[..content.len()], &content[..]);
            }
            blobs += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(blobs, 6);
}

#[test]
fn truncated_file() {
    let g = Genuine::new();
    let err = refusal(&g, &g.truncated_in_the_blobs());
    assert!(
        matches!(&err, BundleError::Truncated { what } if what == "the blobs"),
        "{err}"
    );
    says(&err, "truncated bundle");
    let err = refusal(&g, &g.truncated_in_the_manifest());
    assert!(
        matches!(&err, BundleError::Truncated { what } if what == "the manifest"),
        "{err}"
    );
}

#[test]
fn bit_flipped_manifest() {
    let g = Genuine::new();
    let err = refusal(&g, &g.bit_flipped_manifest());
    assert!(matches!(err, BundleError::BadSignature), "{err}");
    says(&err, "signature invalid");
}

#[test]
fn bit_flipped_blob() {
    let g = Genuine::new();
    let (bytes, victim) = g.bit_flipped_blob();
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, BundleError::HashMismatch { blob } if *blob == victim),
        "{err}"
    );
    says(&err, "SHA-256 mismatch");
}

#[test]
fn re_signed_with_another_key() {
    let g = Genuine::new();
    let err = refusal(&g, &g.re_signed_with_another_key());
    assert!(matches!(err, BundleError::BadSignature), "{err}");
    says(&err, "signature invalid");
}

#[test]
fn re_ordered_blobs() {
    let g = Genuine::new();
    let (bytes, first) = g.re_ordered_blobs();
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, BundleError::HashMismatch { blob } if *blob == first),
        "{err}"
    );
    says(&err, "SHA-256 mismatch");

    // Re-ordering the manifest to match needs a new signature: refused.
    let err = refusal(&g, &g.re_ordered_manifest());
    assert!(matches!(err, BundleError::BadSignature), "{err}");
}

#[test]
fn path_like_blob_id_re_signed_by_the_attacker() {
    let g = Genuine::new();
    let err = refusal(&g, &g.path_like_blob_id_re_signed_by_the_attacker());
    assert!(matches!(err, BundleError::BadSignature), "{err}");
    says(&err, "signature invalid");
}

#[test]
fn path_like_blob_id_signed_with_the_real_key() {
    // Even a bundle the real server key signed (a compromised server) may not name a path.
    let g = Genuine::new();
    let (bytes, _) = g.path_like_blob_id_signed_with_the_real_key();
    let err = refusal(&g, &bytes);
    match &err {
        BundleError::BadId { field, value } => {
            assert!(field.starts_with("a blob id"), "{err}");
            assert_eq!(value, "\"../../etc/passwd\"");
        }
        other => panic!("{other}"),
    }
    says(&err, "not an id of 32 lowercase hex digits");
}

#[test]
fn oversized_manifest_length() {
    let g = Genuine::new();
    let err = refusal(&g, &g.oversized_manifest_length());
    assert!(
        matches!(err, BundleError::ManifestLength { len } if len == OVERSIZED_MANIFEST),
        "{err}"
    );
    assert_eq!(OVERSIZED_MANIFEST, 64 * 1024 * 1024 + 1);
    says(&err, "manifest length out of bounds");
}

#[test]
fn duplicate_submission_ids() {
    let g = Genuine::new();
    let (bytes, first) = g.duplicate_submission_ids();
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, BundleError::DuplicateSubmission { id } if *id == first),
        "{err}"
    );
    says(&err, "duplicate submission id");
}

#[test]
fn duplicate_blob_ids() {
    let g = Genuine::new();
    let (bytes, attachment) = g.duplicate_blob_ids();
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, BundleError::DuplicateBlob { id } if *id == attachment),
        "{err}"
    );
    says(&err, "duplicate blob id");
}

#[test]
fn unknown_format_version() {
    let g = Genuine::new();
    let err = refusal(&g, &g.unknown_header_version());
    assert!(
        matches!(err, BundleError::UnknownVersion { found: 2 }),
        "{err}"
    );
    says(&err, "unknown bundle format version 2");

    // A manifest claiming another version, even when properly signed.
    let err = refusal(&g, &g.unknown_manifest_version());
    assert!(
        matches!(err, BundleError::WrongFormat { version: 2, .. }),
        "{err}"
    );
    says(&err, "wrong manifest format");
}

#[test]
fn hash_mismatch() {
    let g = Genuine::new();
    let (bytes, victim) = g.hash_mismatch();
    let err = refusal(&g, &bytes);
    assert!(
        matches!(&err, BundleError::HashMismatch { blob } if *blob == victim),
        "{err}"
    );
    says(&err, "SHA-256 mismatch");
}

#[test]
fn trailing_data() {
    let g = Genuine::new();
    let err = refusal(&g, &g.trailing_data());
    assert!(matches!(err, BundleError::TrailingData), "{err}");
    says(&err, "trailing data");
}
