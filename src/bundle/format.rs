// STAND-IN until the bundle branch is merged.

//! The bundle's manifest and limits (format version 1).

use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 16] = b"sealdrop-bundle\n";
pub const FORMAT: &str = "sealdrop-bundle";
pub const VERSION: u32 = 1;
pub const MAX_MANIFEST_LEN: u32 = 64 << 20;
pub const MAX_SUBMISSIONS: usize = 1_000_000;
pub const MAX_BLOBS_PER_SUBMISSION: usize = 10_000;
pub const MAX_BLOB_SIZE: u64 = 64 << 30;
pub const SIGNATURE_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub bundle_id: String,
    pub server_key: String,
    pub created: String,
    pub submissions: Vec<ManifestSubmission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSubmission {
    pub id: String,
    pub arrived: String,
    pub envelope_blob: String,
    pub blobs: Vec<ManifestBlob>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestBlob {
    pub id: String,
    pub kind: BlobKind,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    Envelope,
    Attachment,
}
