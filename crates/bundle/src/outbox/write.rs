//! The writer behind `sealdesk outbox`: queued replies and acknowledgements in, one signed
//! outbox file out, durable and never overwriting ([`sealdrop_core::durable::NewFile`]).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

use super::format::{header_bytes, Manifest, ManifestReply, FORMAT, MAX_MANIFEST_LEN, VERSION};
use super::read::{validate, OutboxError};
use sealdrop_core::day::Date;
use sealdrop_core::durable::NewFile;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path} already exists; choose a new file name (an outbox never overwrites a file)")]
    Exists { path: PathBuf },
    #[error("writing the outbox {path} failed; nothing was written, and nothing counts as sent")]
    Output { path: PathBuf, source: io::Error },
    #[error("the manifest would be {len} bytes, more than an outbox allows (16 MiB): send fewer replies and acks in one outbox")]
    ManifestTooLarge { len: usize },
    #[error("the server would refuse this outbox, so nothing was written")]
    Invalid(#[source] OutboxError),
}

/// A queued reply: ciphertext the desk already encrypted (an age file of a padded plaintext).
#[derive(Debug, Clone)]
pub struct Reply {
    /// A random id (32 lowercase hex digits; [`sealdrop_core::new_id`]).
    pub id: String,
    /// The source's mailbox id (32 lowercase hex digits).
    pub mailbox: String,
    /// The last day the server keeps it.
    pub expires: Date,
    /// The age file's bytes.
    pub ciphertext: Vec<u8>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub sequence: u64,
    pub acks: usize,
    pub replies: usize,
    /// The outbox file's size.
    pub bytes: u64,
}

/// One outbox to write: the desk fills it, then calls [`OutboxWriter::write`].
///
/// The desk keeps the last sequence it wrote and gives the next one a higher number
/// (`last + 1`); it must record the new sequence before handing the file over, so a lost
/// outbox is superseded by the next, never reused.
#[derive(Debug)]
pub struct OutboxWriter<'k> {
    key: &'k SigningKey,
    sequence: u64,
    created: Date,
    acks: Vec<String>,
    replies: Vec<Reply>,
}

impl<'k> OutboxWriter<'k> {
    pub fn new(key: &'k SigningKey, sequence: u64, created: Date) -> OutboxWriter<'k> {
        OutboxWriter {
            key,
            sequence,
            created,
            acks: Vec::new(),
            replies: Vec::new(),
        }
    }

    /// Acknowledge a submission: the server may purge it.
    pub fn ack(&mut self, submission_id: impl Into<String>) -> &mut Self {
        self.acks.push(submission_id.into());
        self
    }

    pub fn reply(&mut self, reply: Reply) -> &mut Self {
        self.replies.push(reply);
        self
    }

    /// The manifest this outbox will carry, checked as the server will check it.
    pub fn manifest(&self) -> Result<Manifest, WriteError> {
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            desk_key: hex::encode(self.key.verifying_key().as_bytes()),
            sequence: self.sequence,
            created: self.created.to_string(),
            acks: self.acks.clone(),
            replies: self
                .replies
                .iter()
                .map(|r| ManifestReply {
                    id: r.id.clone(),
                    mailbox: r.mailbox.clone(),
                    expires: r.expires.to_string(),
                    size: r.ciphertext.len() as u64,
                    sha256: hex::encode(Sha256::digest(&r.ciphertext)),
                })
                .collect(),
        };
        validate(&manifest, &self.key.verifying_key()).map_err(WriteError::Invalid)?;
        Ok(manifest)
    }

    /// Write the outbox to the new file `out`: complete and durable under its name, or not
    /// there at all.
    pub fn write(&self, out: &Path) -> Result<Written, WriteError> {
        if out.symlink_metadata().is_ok() {
            return Err(WriteError::Exists {
                path: out.to_owned(),
            });
        }
        let manifest = self.manifest()?;
        let json = serde_json::to_vec(&manifest).expect("serialising to memory cannot fail");
        let head = signed_head(&json, self.key)?;
        let output_err = |source| WriteError::Output {
            path: out.to_owned(),
            source,
        };
        // Removed unless committed, so a failed write leaves nothing.
        let temp = NewFile::create(out).map_err(output_err)?;
        let mut writer = BufWriter::with_capacity(256 * 1024, temp.as_file());
        writer.write_all(&head).map_err(output_err)?;
        for reply in &self.replies {
            writer.write_all(&reply.ciphertext).map_err(output_err)?;
        }
        writer.flush().map_err(output_err)?;
        drop(writer);
        let bytes = temp.as_file().metadata().map_err(output_err)?.len();
        match temp.commit() {
            Ok(_) => {}
            // Made meanwhile: still never overwritten.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(WriteError::Exists {
                    path: out.to_owned(),
                })
            }
            Err(e) => return Err(output_err(e)),
        }
        Ok(Written {
            sequence: self.sequence,
            acks: manifest.acks.len(),
            replies: manifest.replies.len(),
            bytes,
        })
    }
}

/// The signed head of an outbox: magic, version, desk key, manifest length, manifest,
/// signature. Public so tests can sign crafted manifests the way a compromised desk could.
pub fn signed_head(manifest_json: &[u8], key: &SigningKey) -> Result<Vec<u8>, WriteError> {
    let len = u32::try_from(manifest_json.len())
        .ok()
        .filter(|&l| l > 0 && l <= MAX_MANIFEST_LEN)
        .ok_or(WriteError::ManifestTooLarge {
            len: manifest_json.len(),
        })?;
    let mut head = Vec::with_capacity(header_bytes(&key.verifying_key(), len).len() + 64);
    head.extend_from_slice(&header_bytes(&key.verifying_key(), len));
    head.extend_from_slice(manifest_json);
    let signature = key.sign(&head);
    head.extend_from_slice(&signature.to_bytes());
    Ok(head)
}
