// STAND-IN until the bundle branch is merged.

//! The verifying reader: nothing in a bundle is trusted until its check has passed.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::format::*;
use crate::day::Date;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read the bundle: {0}")]
    Io(#[source] io::Error),
    #[error("not a Sealdrop bundle (bad magic bytes at the start)")]
    BadMagic,
    #[error("unknown bundle format version {0}; this Sealdrop reads version 1")]
    UnknownVersion(u32),
    #[error("manifest length {0} is out of bounds")]
    ManifestLength(u32),
    #[error("the bundle is truncated (shorter than its manifest says)")]
    Truncated,
    #[error("signature check failed: the bundle was not signed by the pinned server key, or was altered")]
    BadSignature,
    #[error("the manifest names server key {found}, not the pinned one")]
    WrongServerKey { found: String },
    #[error("the manifest is not valid: {0}")]
    Manifest(String),
    #[error("{what} `{value}` is not 32 lowercase hex digits")]
    BadId { what: &'static str, value: String },
    #[error("date `{0}` is not a real YYYY-MM-DD date")]
    BadDate(String),
    #[error("duplicate submission id {0}")]
    DuplicateSubmission(String),
    #[error("duplicate blob id {0}")]
    DuplicateBlob(String),
    #[error("submission {id}: {problem}")]
    SubmissionShape { id: String, problem: &'static str },
    #[error("limit exceeded: {0}")]
    Limit(&'static str),
    #[error("SHA-256 mismatch for blob {0}")]
    HashMismatch(String),
    #[error("trailing data after the last blob")]
    TrailingData,
    #[error("not a server key fingerprint (expected 64 hex digits)")]
    BadFingerprint,
    #[error("storing blob {blob} failed: {source}")]
    Sink { blob: String, source: io::Error },
}

pub struct BundleReader {
    file: BufReader<File>,
    manifest: Manifest,
}

fn is_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn read_exact(file: &mut impl Read, buf: &mut [u8]) -> Result<(), BundleError> {
    file.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => BundleError::Truncated,
        _ => BundleError::Io(e),
    })
}

impl BundleReader {
    /// Open and verify the header, signature (against `pinned`) and manifest; no blob read yet.
    pub fn open(path: &Path, pinned: &VerifyingKey) -> Result<BundleReader, BundleError> {
        let file = File::open(path).map_err(BundleError::Io)?;
        let file_len = file.metadata().map_err(BundleError::Io)?.len();
        let mut file = BufReader::new(file);
        let mut head = [0u8; 24];
        read_exact(&mut file, &mut head[..16]).map_err(|_| BundleError::BadMagic)?;
        if &head[..16] != MAGIC {
            return Err(BundleError::BadMagic);
        }
        read_exact(&mut file, &mut head[16..])?;
        let version = u32::from_be_bytes(head[16..20].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(BundleError::UnknownVersion(version));
        }
        let m = u32::from_be_bytes(head[20..24].try_into().expect("4 bytes"));
        if m == 0 || m > MAX_MANIFEST_LEN {
            return Err(BundleError::ManifestLength(m));
        }
        if file_len < 24 + u64::from(m) + SIGNATURE_LEN as u64 {
            return Err(BundleError::Truncated);
        }
        let mut signed = head.to_vec();
        signed.resize(24 + m as usize, 0);
        read_exact(&mut file, &mut signed[24..])?;
        let mut sig = [0u8; SIGNATURE_LEN];
        read_exact(&mut file, &mut sig)?;
        pinned
            .verify_strict(&signed, &Signature::from_bytes(&sig))
            .map_err(|_| BundleError::BadSignature)?;
        let manifest: Manifest = serde_json::from_slice(&signed[24..])
            .map_err(|e| BundleError::Manifest(e.to_string()))?;
        check_manifest(&manifest, pinned)?;
        let body: u64 = manifest
            .submissions
            .iter()
            .flat_map(|s| &s.blobs)
            .map(|b| b.size)
            .sum();
        let expected = 24 + u64::from(m) + SIGNATURE_LEN as u64 + body;
        if file_len < expected {
            return Err(BundleError::Truncated);
        }
        if file_len > expected {
            return Err(BundleError::TrailingData);
        }
        Ok(BundleReader { file, manifest })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Stream every blob in order, checking size and SHA-256.
    pub fn for_each_blob(
        mut self,
        mut sink: impl FnMut(&ManifestSubmission, &ManifestBlob, &mut dyn Read) -> io::Result<()>,
    ) -> Result<(), BundleError> {
        for submission in &self.manifest.submissions {
            for blob in &submission.blobs {
                let mut hashing = Hashing {
                    inner: (&mut self.file).take(blob.size),
                    hash: Sha256::new(),
                    read: 0,
                };
                sink(submission, blob, &mut hashing).map_err(|source| BundleError::Sink {
                    blob: blob.id.clone(),
                    source,
                })?;
                io::copy(&mut hashing, &mut io::sink()).map_err(BundleError::Io)?;
                if hashing.read != blob.size {
                    return Err(BundleError::Truncated);
                }
                if hex::encode(hashing.hash.finalize()) != blob.sha256 {
                    return Err(BundleError::HashMismatch(blob.id.clone()));
                }
            }
        }
        let mut one = [0u8; 1];
        match self.file.read(&mut one).map_err(BundleError::Io)? {
            0 => Ok(()),
            _ => Err(BundleError::TrailingData),
        }
    }
}

struct Hashing<R> {
    inner: R,
    hash: Sha256,
    read: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

fn check_manifest(m: &Manifest, pinned: &VerifyingKey) -> Result<(), BundleError> {
    if m.format != FORMAT || m.version != VERSION {
        return Err(BundleError::Manifest(format!(
            "format `{}` version {} (expected {FORMAT} version {VERSION})",
            m.format, m.version
        )));
    }
    if m.server_key != hex::encode(pinned.as_bytes()) {
        return Err(BundleError::WrongServerKey {
            found: m.server_key.clone(),
        });
    }
    let id = |what, value: &str| {
        if is_id(value) {
            Ok(())
        } else {
            Err(BundleError::BadId {
                what,
                value: value.to_owned(),
            })
        }
    };
    let date = |value: &str| match Date::parse(value) {
        Some(_) => Ok(()),
        None => Err(BundleError::BadDate(value.to_owned())),
    };
    id("bundle id", &m.bundle_id)?;
    date(&m.created)?;
    if m.submissions.len() > MAX_SUBMISSIONS {
        return Err(BundleError::Limit("more than 1,000,000 submissions"));
    }
    let mut submissions = HashSet::new();
    let mut blobs = HashSet::new();
    for s in &m.submissions {
        id("submission id", &s.id)?;
        date(&s.arrived)?;
        if !submissions.insert(s.id.as_str()) {
            return Err(BundleError::DuplicateSubmission(s.id.clone()));
        }
        let shape = |problem| BundleError::SubmissionShape {
            id: s.id.clone(),
            problem,
        };
        if s.blobs.len() > MAX_BLOBS_PER_SUBMISSION {
            return Err(BundleError::Limit("more than 10,000 blobs in a submission"));
        }
        let first = s.blobs.first().ok_or_else(|| shape("it has no blobs"))?;
        if first.kind != BlobKind::Envelope {
            return Err(shape("its first blob is not the envelope"));
        }
        if first.id != s.envelope_blob {
            return Err(shape("envelope_blob does not match its first blob"));
        }
        for (i, b) in s.blobs.iter().enumerate() {
            id("blob id", &b.id)?;
            if i > 0 && b.kind != BlobKind::Attachment {
                return Err(shape("it has a second envelope"));
            }
            if !blobs.insert(b.id.as_str()) {
                return Err(BundleError::DuplicateBlob(b.id.clone()));
            }
            if b.size > MAX_BLOB_SIZE {
                return Err(BundleError::Limit("a blob larger than 64 GiB"));
            }
            if b.sha256.len() != 64
                || !b
                    .sha256
                    .bytes()
                    .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(BundleError::Manifest(format!("blob {}: bad sha256", b.id)));
            }
        }
    }
    Ok(())
}
