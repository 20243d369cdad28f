//! A genuine export from a real data directory, and each way a compromised transfer machine (or,
//! where said, a compromised server key) could alter it: one method per case. The reader tests
//! (bundle_hostile.rs) and the `sealdesk import` tests (desk_hostile.rs) build their bundles here,
//! so both prove the same cases.

use std::path::PathBuf;

use ed25519_dalek::{SigningKey, VerifyingKey};
use sealdrop::ops::export::{export, Selection};
use sealdrop_bundle::format::{HEADER_LEN, MAX_MANIFEST_LEN, SIGNATURE_LEN};
use sealdrop_bundle::signing;
use sealdrop_bundle::write::signed_head;
use sealdrop_bundle::Manifest;
use serde_json::Value;

use super::*;

/// The manifest length the oversized case claims: one byte over the limit.
pub const OVERSIZED_MANIFEST: u32 = MAX_MANIFEST_LEN + 1;

/// A server's data directory, an earlier genuine export of one submission, and a genuine
/// export of the next three submissions (six blobs), the one the cases alter.
pub struct Genuine {
    /// Holds `data/`, the bundle files, and whatever a test adds (e.g. a desk workspace).
    pub dir: tempfile::TempDir,
    pub staff: Staff,
    /// The one submission of the earlier export.
    pub earlier_made: Made,
    /// The earlier export, as a file: what a desk imported before the hostile bundle came.
    pub earlier: PathBuf,
    /// The submissions of the genuine bundle, in bundle order.
    pub made: Vec<Made>,
    /// The server's real signing key; the staff pin its public half.
    pub key: SigningKey,
    pub bytes: Vec<u8>,
}

impl Genuine {
    pub fn new() -> Genuine {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let staff = staff();
        let earlier_made = add_submissions(
            &data,
            &staff,
            &[spec(
                days_ago(5),
                "an earlier report",
                &[("earlier.txt", b"already on the desk")],
            )],
        )
        .remove(0);
        let key = signing::load_or_create(&data).unwrap();
        let earlier = dir.path().join("earlier.bundle");
        export(&data, &key, &Selection::All, &earlier, today(), &mut ()).unwrap();

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
        let out = dir.path().join("genuine.bundle");
        export(&data, &key, &Selection::NotExported, &out, today(), &mut ()).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        Genuine {
            dir,
            staff,
            earlier_made,
            earlier,
            made,
            key,
            bytes,
        }
    }

    pub fn pinned(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn manifest_len(&self) -> usize {
        u32::from_be_bytes(self.bytes[20..24].try_into().unwrap()) as usize
    }

    fn manifest_bytes(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..HEADER_LEN + self.manifest_len()]
    }

    pub fn manifest(&self) -> Manifest {
        serde_json::from_slice(self.manifest_bytes()).unwrap()
    }

    pub fn manifest_json(&self) -> Value {
        serde_json::from_slice(self.manifest_bytes()).unwrap()
    }

    /// Where the blobs start.
    pub fn blobs_at(&self) -> usize {
        HEADER_LEN + self.manifest_len() + SIGNATURE_LEN
    }

    /// Id, offset and length of each blob, in bundle order.
    pub fn blob_spans(&self) -> Vec<(String, usize, usize)> {
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

    pub fn blob_region(&self) -> &[u8] {
        &self.bytes[self.blobs_at()..]
    }

    /// A bundle with `manifest` signed by `key`, followed by `blobs`.
    pub fn resigned(&self, manifest: &Value, key: &SigningKey, blobs: &[u8]) -> Vec<u8> {
        let mut out = signed_head(&serde_json::to_vec(manifest).unwrap(), key).unwrap();
        out.extend_from_slice(blobs);
        out
    }

    /// Write `bytes` as a new bundle file next to the data directory.
    pub fn write(&self, bytes: &[u8]) -> PathBuf {
        let name = &sealdrop_core::new_id()[..8];
        let path = self.dir.path().join(format!("hostile-{name}.bundle"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    // The cases. Those whose refusal names a blob or submission return its id too.

    /// Cut short inside the last blob.
    pub fn truncated_in_the_blobs(&self) -> Vec<u8> {
        self.bytes[..self.bytes.len() - 100].to_vec()
    }

    /// Cut short inside the manifest.
    pub fn truncated_in_the_manifest(&self) -> Vec<u8> {
        self.bytes[..HEADER_LEN + 10].to_vec()
    }

    /// One bit flipped in the middle of the manifest.
    pub fn bit_flipped_manifest(&self) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        bytes[HEADER_LEN + self.manifest_len() / 2] ^= 0x04;
        bytes
    }

    /// One bit flipped in the second blob (the first submission's attachment), so the first
    /// blob has already passed when the damage shows. Returns the damaged blob's id.
    pub fn bit_flipped_blob(&self) -> (Vec<u8>, String) {
        let (victim, at, len) = self.blob_spans()[1].clone();
        let mut bytes = self.bytes.clone();
        bytes[at + len / 2] ^= 0x01;
        (bytes, victim)
    }

    /// The attacker rewrites the manifest (drops a submission) and signs it with their own
    /// key, naming that key as the server's.
    pub fn re_signed_with_another_key(&self) -> Vec<u8> {
        let attacker = SigningKey::generate(&mut rand::rngs::OsRng);
        let mut manifest = self.manifest_json();
        manifest["server_key"] = Value::from(hex::encode(attacker.verifying_key().as_bytes()));
        let dropped = manifest["submissions"].as_array_mut().unwrap().remove(2);
        let dropped_len = dropped["blobs"][0]["size"].as_u64().unwrap() as usize;
        let blobs = self.blob_region();
        self.resigned(&manifest, &attacker, &blobs[..blobs.len() - dropped_len])
    }

    /// The first two blobs' bytes swapped, manifest untouched. Returns the first blob's id.
    pub fn re_ordered_blobs(&self) -> (Vec<u8>, String) {
        let spans = self.blob_spans();
        let (first, a, a_len) = spans[0].clone();
        let (_, b, b_len) = spans[1].clone();
        let mut bytes = self.bytes[..a].to_vec();
        bytes.extend_from_slice(&self.bytes[b..b + b_len]);
        bytes.extend_from_slice(&self.bytes[a..a + a_len]);
        bytes.extend_from_slice(&self.bytes[b + b_len..]);
        assert_eq!(bytes.len(), self.bytes.len());
        (bytes, first)
    }

    /// The first two submissions swapped in the manifest, under the original signature (to
    /// match, it would need a new one).
    pub fn re_ordered_manifest(&self) -> Vec<u8> {
        let mut manifest = self.manifest_json();
        manifest["submissions"].as_array_mut().unwrap().swap(0, 1);
        let mut bytes = self.resigned(&manifest, &self.key, &[]);
        bytes.truncate(bytes.len() - SIGNATURE_LEN);
        bytes.extend_from_slice(&self.bytes[HEADER_LEN + self.manifest_len()..self.blobs_at()]);
        bytes.extend_from_slice(self.blob_region());
        bytes
    }

    /// The manifest with one attachment's id replaced by a path.
    fn with_path_like_blob_id(&self) -> Value {
        let mut manifest = self.manifest_json();
        manifest["submissions"][0]["blobs"][1]["id"] = Value::from("../../etc/passwd");
        manifest
    }

    /// A blob named `../../etc/passwd`, signed by the attacker's own key.
    pub fn path_like_blob_id_re_signed_by_the_attacker(&self) -> Vec<u8> {
        let attacker = SigningKey::generate(&mut rand::rngs::OsRng);
        let mut manifest = self.with_path_like_blob_id();
        manifest["server_key"] = Value::from(hex::encode(attacker.verifying_key().as_bytes()));
        self.resigned(&manifest, &attacker, self.blob_region())
    }

    /// A blob named `../../etc/passwd` in a bundle the real server key signed (a compromised
    /// server). Returns the id of the submission that lists it.
    pub fn path_like_blob_id_signed_with_the_real_key(&self) -> (Vec<u8>, String) {
        let bytes = self.resigned(
            &self.with_path_like_blob_id(),
            &self.key,
            self.blob_region(),
        );
        (bytes, self.made[0].id.clone())
    }

    /// A header claiming a manifest one byte over the limit.
    pub fn oversized_manifest_length(&self) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        bytes[20..24].copy_from_slice(&OVERSIZED_MANIFEST.to_be_bytes());
        bytes
    }

    /// The second submission given the first one's id, signed with the real key. Returns that id.
    pub fn duplicate_submission_ids(&self) -> (Vec<u8>, String) {
        let mut manifest = self.manifest_json();
        let first = manifest["submissions"][0]["id"].clone();
        manifest["submissions"][1]["id"] = first.clone();
        let bytes = self.resigned(&manifest, &self.key, self.blob_region());
        (bytes, first.as_str().unwrap().to_owned())
    }

    /// The same attachment listed twice, its bytes really there twice, signed with the real
    /// key: still refused, since two entries with one id would overwrite each other on the desk.
    /// Returns the attachment's id.
    pub fn duplicate_blob_ids(&self) -> (Vec<u8>, String) {
        let mut manifest = self.manifest_json();
        let attachment = manifest["submissions"][0]["blobs"][1].clone();
        manifest["submissions"][0]["blobs"]
            .as_array_mut()
            .unwrap()
            .push(attachment.clone());
        let (_, at, len) = self.blob_spans()[1].clone();
        let mut blobs = self.bytes[self.blobs_at()..at + len].to_vec();
        blobs.extend_from_slice(&self.bytes[at..at + len]);
        blobs.extend_from_slice(&self.bytes[at + len..]);
        let bytes = self.resigned(&manifest, &self.key, &blobs);
        (bytes, attachment["id"].as_str().unwrap().to_owned())
    }

    /// Format version 2 in the header.
    pub fn unknown_header_version(&self) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        bytes[16..20].copy_from_slice(&2u32.to_be_bytes());
        bytes
    }

    /// A version-1 header whose manifest claims version 2, signed with the real key.
    pub fn unknown_manifest_version(&self) -> Vec<u8> {
        let mut manifest = self.manifest_json();
        manifest["version"] = Value::from(2);
        self.resigned(&manifest, &self.key, self.blob_region())
    }

    /// The manifest's digest for one blob (the second submission's last) is wrong, signed with
    /// the real key, so only the hash check can catch it. Returns that blob's id.
    pub fn hash_mismatch(&self) -> (Vec<u8>, String) {
        let mut manifest = self.manifest_json();
        let victim = manifest["submissions"][1]["blobs"][2]["id"].clone();
        manifest["submissions"][1]["blobs"][2]["sha256"] = Value::from("0".repeat(64));
        let bytes = self.resigned(&manifest, &self.key, self.blob_region());
        (bytes, victim.as_str().unwrap().to_owned())
    }

    /// An extra age file appended after the last blob.
    pub fn trailing_data(&self) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        bytes.extend_from_slice(b"age-encryption.org/v1\n-> extra blob");
        bytes
    }
}
