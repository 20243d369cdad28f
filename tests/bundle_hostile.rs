//! Hostile bundles: a real export from a real data directory, then altered the ways a
//! compromised transfer machine (or, where said, a compromised server key) could alter it.
//! Each case must be refused with its own error, naming the check that failed.

mod bundle_support;

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use sealdrop::bundle::format::{HEADER_LEN, SIGNATURE_LEN};
use sealdrop::bundle::write::signed_head;
use sealdrop::bundle::{signing, BundleError, BundleReader, Manifest};
use sealdrop::store::export::{export, Selection};
use serde_json::Value;

use bundle_support::*;

/// A genuine bundle of three submissions (five blobs) and everything needed to bend it.
struct Genuine {
    dir: tempfile::TempDir,
    staff: Staff,
    made: Vec<Made>,
    /// The server's real signing key; the staff pin its public half.
    key: SigningKey,
    bytes: Vec<u8>,
}

impl Genuine {
    fn new() -> Genuine {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let staff = staff();
        let made = add_submissions(
            &data,
            &staff,
            &[
                // Distinct days, so the bundle order (by day, then random id) is this order.
                spec(days_ago(3), "first report", &[("a.jpg", &[1u8; 5000])]),
                spec(
                    days_ago(2),
                    "second report",
                    &[("b.pdf", b"%PDF-1.4 tiny"), ("c.txt", b"notes")],
                ),
                spec(days_ago(1), "third report, no files", &[]),
            ],
        );
        let key = signing::load_or_create(&data).unwrap();
        let out = dir.path().join("genuine.bundle");
        export(&data, &key, &Selection::All, &out, today(), &mut ()).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        Genuine {
            dir,
            staff,
            made,
            key,
            bytes,
        }
    }

    fn pinned(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }

    fn manifest_len(&self) -> usize {
        u32::from_be_bytes(self.bytes[20..24].try_into().unwrap()) as usize
    }

    fn manifest(&self) -> Manifest {
        serde_json::from_slice(&self.bytes[HEADER_LEN..HEADER_LEN + self.manifest_len()]).unwrap()
    }

    fn manifest_json(&self) -> Value {
        serde_json::from_slice(&self.bytes[HEADER_LEN..HEADER_LEN + self.manifest_len()]).unwrap()
    }

    /// Where the blobs start.
    fn blobs_at(&self) -> usize {
        HEADER_LEN + self.manifest_len() + SIGNATURE_LEN
    }

    /// Offset and length of each blob, in bundle order.
    fn blob_spans(&self) -> Vec<(String, usize, usize)> {
        let mut at = self.blobs_at();
        let mut spans = Vec::new();
        for s in self.manifest().submissions {
            for b in s.blobs {
                spans.push((b.id, at, b.size as usize));
                at += b.size as usize;
            }
        }
        spans
    }

    /// A bundle with `manifest` signed by `key`, followed by `blobs`.
    fn resigned(&self, manifest: &Value, key: &SigningKey, blobs: &[u8]) -> Vec<u8> {
        let mut out = signed_head(&serde_json::to_vec(manifest).unwrap(), key).unwrap();
        out.extend_from_slice(blobs);
        out
    }

    fn blob_region(&self) -> &[u8] {
        &self.bytes[self.blobs_at()..]
    }

    fn write(&self, bytes: &[u8]) -> PathBuf {
        let path = self
            .dir
            .path()
            .join(format!("hostile-{}.bundle", new_name()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Open and read every blob, as an import would; the first refusal.
    fn import(&self, bytes: &[u8]) -> BundleError {
        match read_through(&self.write(bytes), &self.pinned()) {
            Ok(()) => panic!("a hostile bundle was accepted"),
            Err(e) => e,
        }
    }
}

fn new_name() -> String {
    sealdrop::store::new_id()[..8].to_owned()
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
    let err = g.import(&g.bytes[..g.bytes.len() - 100]);
    assert!(
        matches!(&err, BundleError::Truncated { what } if what == "the blobs"),
        "{err}"
    );
    says(&err, "truncated bundle");
    let err = g.import(&g.bytes[..HEADER_LEN + 10]);
    assert!(
        matches!(&err, BundleError::Truncated { what } if what == "the manifest"),
        "{err}"
    );
}

#[test]
fn bit_flipped_manifest() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    // Flip one bit in the middle of the manifest.
    bytes[HEADER_LEN + g.manifest_len() / 2] ^= 0x04;
    let err = g.import(&bytes);
    assert!(matches!(err, BundleError::BadSignature), "{err}");
    says(&err, "signature invalid");
}

#[test]
fn bit_flipped_blob() {
    let g = Genuine::new();
    let (victim, at, len) = g.blob_spans()[1].clone();
    let mut bytes = g.bytes.clone();
    bytes[at + len / 2] ^= 0x01;
    let err = g.import(&bytes);
    assert!(
        matches!(&err, BundleError::HashMismatch { blob } if *blob == victim),
        "{err}"
    );
    says(&err, "SHA-256 mismatch");
}

#[test]
fn re_signed_with_another_key() {
    // The attacker rewrites the manifest (here: drops a submission) and signs it with their
    // own key, naming that key as the server's.
    let g = Genuine::new();
    let attacker = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut manifest = g.manifest_json();
    manifest["server_key"] = Value::from(hex::encode(attacker.verifying_key().as_bytes()));
    let dropped = manifest["submissions"].as_array_mut().unwrap().remove(2);
    let dropped_len = dropped["blobs"][0]["size"].as_u64().unwrap() as usize;
    let blobs = g.blob_region();
    let bytes = g.resigned(&manifest, &attacker, &blobs[..blobs.len() - dropped_len]);
    let err = g.import(&bytes);
    assert!(matches!(err, BundleError::BadSignature), "{err}");
    says(&err, "signature invalid");
}

#[test]
fn re_ordered_blobs() {
    let g = Genuine::new();
    // Swap the first two blobs' bytes in the blob region, manifest untouched.
    let spans = g.blob_spans();
    let (first, a, a_len) = spans[0].clone();
    let (_, b, b_len) = spans[1].clone();
    let mut bytes = g.bytes[..a].to_vec();
    bytes.extend_from_slice(&g.bytes[b..b + b_len]);
    bytes.extend_from_slice(&g.bytes[a..a + a_len]);
    bytes.extend_from_slice(&g.bytes[b + b_len..]);
    assert_eq!(bytes.len(), g.bytes.len());
    let err = g.import(&bytes);
    assert!(
        matches!(&err, BundleError::HashMismatch { blob } if *blob == first),
        "{err}"
    );
    says(&err, "SHA-256 mismatch");

    // Re-ordering the manifest to match needs a new signature: refused.
    let mut manifest = g.manifest_json();
    manifest["submissions"].as_array_mut().unwrap().swap(0, 1);
    let mut bytes = g.resigned(&manifest, &g.key, &[]);
    bytes.truncate(bytes.len() - SIGNATURE_LEN);
    bytes.extend_from_slice(&g.bytes[HEADER_LEN + g.manifest_len()..g.blobs_at()]);
    bytes.extend_from_slice(g.blob_region());
    let err = g.import(&bytes);
    assert!(matches!(err, BundleError::BadSignature), "{err}");
}

/// The manifest with one attachment's id replaced by a path.
fn with_path_like_blob_id(g: &Genuine) -> Value {
    let mut manifest = g.manifest_json();
    manifest["submissions"][0]["blobs"][1]["id"] = Value::from("../../etc/passwd");
    manifest
}

#[test]
fn path_like_blob_id_re_signed_by_the_attacker() {
    let g = Genuine::new();
    let attacker = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut manifest = with_path_like_blob_id(&g);
    manifest["server_key"] = Value::from(hex::encode(attacker.verifying_key().as_bytes()));
    let err = g.import(&g.resigned(&manifest, &attacker, g.blob_region()));
    assert!(matches!(err, BundleError::BadSignature), "{err}");
    says(&err, "signature invalid");
}

#[test]
fn path_like_blob_id_signed_with_the_real_key() {
    // Even a bundle the real server key signed (a compromised server) may not name a path.
    let g = Genuine::new();
    let manifest = with_path_like_blob_id(&g);
    let err = g.import(&g.resigned(&manifest, &g.key, g.blob_region()));
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
    let mut bytes = g.bytes.clone();
    bytes[20..24].copy_from_slice(&(64 * 1024 * 1024 + 1u32).to_be_bytes());
    let err = g.import(&bytes);
    assert!(
        matches!(err, BundleError::ManifestLength { len } if len == 64 * 1024 * 1024 + 1),
        "{err}"
    );
    says(&err, "manifest length out of bounds");
}

#[test]
fn duplicate_submission_ids() {
    let g = Genuine::new();
    let mut manifest = g.manifest_json();
    let first = manifest["submissions"][0]["id"].clone();
    manifest["submissions"][1]["id"] = first.clone();
    let err = g.import(&g.resigned(&manifest, &g.key, g.blob_region()));
    assert!(
        matches!(&err, BundleError::DuplicateSubmission { id } if *id == first.as_str().unwrap()),
        "{err}"
    );
    says(&err, "duplicate submission id");
}

#[test]
fn duplicate_blob_ids() {
    // The same attachment listed twice, the bytes really there twice: still refused, since two
    // entries with one id would overwrite each other on the desk.
    let g = Genuine::new();
    let mut manifest = g.manifest_json();
    let attachment = manifest["submissions"][0]["blobs"][1].clone();
    manifest["submissions"][0]["blobs"]
        .as_array_mut()
        .unwrap()
        .push(attachment.clone());
    let (_, at, len) = g.blob_spans()[1].clone();
    let mut blobs = g.bytes[g.blobs_at()..at + len].to_vec();
    blobs.extend_from_slice(&g.bytes[at..at + len]);
    blobs.extend_from_slice(&g.bytes[at + len..]);
    let err = g.import(&g.resigned(&manifest, &g.key, &blobs));
    assert!(
        matches!(&err, BundleError::DuplicateBlob { id } if *id == attachment["id"].as_str().unwrap()),
        "{err}"
    );
    says(&err, "duplicate blob id");
}

#[test]
fn unknown_format_version() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    bytes[16..20].copy_from_slice(&2u32.to_be_bytes());
    let err = g.import(&bytes);
    assert!(
        matches!(err, BundleError::UnknownVersion { found: 2 }),
        "{err}"
    );
    says(&err, "unknown bundle format version 2");

    // A manifest claiming another version, even when properly signed.
    let mut manifest = g.manifest_json();
    manifest["version"] = Value::from(2);
    let err = g.import(&g.resigned(&manifest, &g.key, g.blob_region()));
    assert!(
        matches!(err, BundleError::WrongFormat { version: 2, .. }),
        "{err}"
    );
    says(&err, "wrong manifest format");
}

#[test]
fn hash_mismatch() {
    // The manifest's digest for a blob is wrong (signed with the real key, so only the hash
    // check can catch it).
    let g = Genuine::new();
    let mut manifest = g.manifest_json();
    let victim = manifest["submissions"][1]["blobs"][2]["id"].clone();
    manifest["submissions"][1]["blobs"][2]["sha256"] = Value::from("0".repeat(64));
    let err = g.import(&g.resigned(&manifest, &g.key, g.blob_region()));
    assert!(
        matches!(&err, BundleError::HashMismatch { blob } if *blob == victim.as_str().unwrap()),
        "{err}"
    );
    says(&err, "SHA-256 mismatch");
}

#[test]
fn trailing_data() {
    let g = Genuine::new();
    let mut bytes = g.bytes.clone();
    bytes.extend_from_slice(b"age-encryption.org/v1\n-> extra blob");
    let err = g.import(&bytes);
    assert!(matches!(err, BundleError::TrailingData), "{err}");
    says(&err, "trailing data");
}
