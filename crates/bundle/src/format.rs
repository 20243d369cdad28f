//! The bundle's layout: constants, limits, and the manifest as serde types.
//!
//! Version 1, all integers big-endian (docs/BUNDLE-FORMAT.md describes it field by field):
//! magic (16) | version u32 | manifest length u32 | manifest JSON | Ed25519 signature (64) | blobs.
//! The signature covers everything before it.

use serde::{Deserialize, Serialize};

/// The first 16 bytes of every bundle.
pub const MAGIC: &[u8; 16] = b"sealdrop-bundle\n";
/// The layout version this code reads and writes.
pub const VERSION: u32 = 1;
/// What the manifest's `format` field says.
pub const FORMAT: &str = "sealdrop-bundle";
/// Magic, version and manifest length.
pub const HEADER_LEN: usize = 16 + 4 + 4;
/// An Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// The largest manifest accepted, in bytes (it is read into memory before anything else).
pub const MAX_MANIFEST_LEN: u32 = 64 * 1024 * 1024;
/// The most submissions one bundle may hold.
pub const MAX_SUBMISSIONS: usize = 1_000_000;
/// The most blobs (envelope plus attachments) one submission may have.
pub const MAX_BLOBS_PER_SUBMISSION: usize = 10_000;
/// The largest blob, in bytes.
pub const MAX_BLOB_SIZE: u64 = 64 * 1024 * 1024 * 1024;

/// The signed description of a bundle's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// A random id naming this export (32 lowercase hex digits).
    pub bundle_id: String,
    /// The server's Ed25519 public key, 64 lowercase hex digits.
    pub server_key: String,
    /// The UTC day of the export, `YYYY-MM-DD`.
    pub created: String,
    /// In bundle order: the blobs follow the manifest in this order.
    pub submissions: Vec<ManifestSubmission>,
}

/// One submission: its envelope blob first, then its attachments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSubmission {
    pub id: String,
    /// The coarse arrival date, `YYYY-MM-DD`.
    pub arrived: String,
    /// The id of the first entry of `blobs`.
    pub envelope_blob: String,
    pub blobs: Vec<ManifestBlob>,
}

/// One ciphertext blob: a standard age file of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestBlob {
    pub id: String,
    pub kind: BlobKind,
    pub size: u64,
    /// SHA-256 of the blob's bytes, 64 lowercase hex digits.
    pub sha256: String,
}

/// The role of a blob in its submission: the same two kinds the server's index records.
pub use sealdrop_core::BlobKind;

impl Manifest {
    /// Every blob in bundle order, with its submission.
    pub fn blobs(&self) -> impl Iterator<Item = (&ManifestSubmission, &ManifestBlob)> {
        self.submissions
            .iter()
            .flat_map(|s| s.blobs.iter().map(move |b| (s, b)))
    }

    /// The sum of all blob sizes (u128: hostile sizes cannot overflow it).
    pub fn blob_bytes(&self) -> u128 {
        self.blobs().map(|(_, b)| u128::from(b.size)).sum()
    }
}

/// The bytes the signature covers, before the manifest: magic, version, manifest length.
pub fn header_bytes(manifest_len: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..16].copy_from_slice(MAGIC);
    header[16..20].copy_from_slice(&VERSION.to_be_bytes());
    header[20..].copy_from_slice(&manifest_len.to_be_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_json_uses_the_agreed_names() {
        let m = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            bundle_id: "0".repeat(32),
            server_key: "1".repeat(64),
            created: "2026-11-27".into(),
            submissions: vec![ManifestSubmission {
                id: "a".repeat(32),
                arrived: "2026-11-26".into(),
                envelope_blob: "b".repeat(32),
                blobs: vec![ManifestBlob {
                    id: "b".repeat(32),
                    kind: BlobKind::Envelope,
                    size: 7,
                    sha256: "c".repeat(64),
                }],
            }],
        };
        let json: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(json["format"], "sealdrop-bundle");
        assert_eq!(json["submissions"][0]["blobs"][0]["kind"], "envelope");
        assert_eq!(json["submissions"][0]["envelope_blob"], "b".repeat(32));
        let back: Manifest = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
        assert_eq!(m.blob_bytes(), 7);
    }

    #[test]
    fn header_is_magic_version_length_big_endian() {
        let h = header_bytes(0x0102_0304);
        assert_eq!(&h[..16], b"sealdrop-bundle\n");
        assert_eq!(&h[16..], &[0, 0, 0, 1, 1, 2, 3, 4]);
    }
}
