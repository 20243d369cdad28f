//! Test helpers shared by the desk tests and the desk benchmark: real submissions sealed with
//! the intake's own sealing code, and bundles written byte for byte from the format in
//! notes/BUNDLE-SPEC.md (independent of any Rust writer API, so tests can also craft hostile
//! bundles).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use sealdrop::seal::{AttachmentInfo, Envelope, Sealer};
use sealdrop_core::keys::Recipients;

/// What a source sends.
#[derive(Clone, Default)]
pub struct Source {
    pub message: String,
    pub contact: Option<String>,
    /// (file name as the browser sent it, declared type, bytes)
    pub attachments: Vec<(String, String, Vec<u8>)>,
    /// Set when the source chose a codename (the envelope then carries it).
    pub conversation: Option<sealdrop_core::envelope::Conversation>,
}

impl Source {
    pub fn text(message: &str) -> Source {
        Source {
            message: message.to_owned(),
            ..Source::default()
        }
    }

    pub fn with_file(mut self, name: &str, content_type: &str, bytes: &[u8]) -> Source {
        self.attachments
            .push((name.to_owned(), content_type.to_owned(), bytes.to_vec()));
        self
    }
}

/// One blob as the server stores it.
#[derive(Clone)]
pub struct Blob {
    pub id: String,
    pub kind: &'static str,
    pub bytes: Vec<u8>,
}

/// One submission as the server stores it: the envelope blob first.
#[derive(Clone)]
pub struct Sealed {
    pub id: String,
    pub arrived: String,
    pub blobs: Vec<Blob>,
}

pub fn new_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn seal(recipients: &Recipients, plain: &[u8], pad: u8) -> (Vec<u8>, u64) {
    let mut sealer = Sealer::new(recipients, Vec::new()).unwrap();
    sealer.write(plain).unwrap();
    let sealed = sealer.finish(pad).unwrap();
    (sealed.output, sealed.true_len)
}

/// Seal a submission exactly as the intake does: each attachment padded with zeros, then the
/// envelope (JSON padded with spaces).
pub fn seal_submission(recipients: &Recipients, arrived: &str, source: &Source) -> Sealed {
    let id = new_id();
    let mut envelope = Envelope::new(id.clone(), arrived.to_owned());
    envelope
        .fields
        .insert("message".into(), source.message.clone());
    if let Some(contact) = &source.contact {
        envelope.fields.insert("contact".into(), contact.clone());
    }
    envelope.conversation = source.conversation.clone();
    let mut blobs = Vec::new();
    for (name, content_type, bytes) in &source.attachments {
        let (ciphertext, true_len) = seal(recipients, bytes, 0);
        let blob = new_id();
        envelope.attachments.push(AttachmentInfo {
            blob: blob.clone(),
            name: name.clone(),
            content_type: content_type.clone(),
            length: true_len,
        });
        blobs.push(Blob {
            id: blob,
            kind: "attachment",
            bytes: ciphertext,
        });
    }
    let (ciphertext, _) = seal(recipients, &envelope.to_json(), b' ');
    blobs.insert(
        0,
        Blob {
            id: new_id(),
            kind: "envelope",
            bytes: ciphertext,
        },
    );
    Sealed {
        id,
        arrived: arrived.to_owned(),
        blobs,
    }
}

/// The bytes of a version-1 bundle holding `subs`, signed by `key`.
pub fn bundle_bytes(key: &SigningKey, bundle_id: &str, created: &str, subs: &[Sealed]) -> Vec<u8> {
    let manifest = serde_json::json!({
        "format": "sealdrop-bundle",
        "version": 1,
        "bundle_id": bundle_id,
        "server_key": hex::encode(key.verifying_key().as_bytes()),
        "created": created,
        "submissions": subs.iter().map(|s| serde_json::json!({
            "id": s.id,
            "arrived": s.arrived,
            "envelope_blob": s.blobs[0].id,
            "blobs": s.blobs.iter().map(|b| serde_json::json!({
                "id": b.id,
                "kind": b.kind,
                "size": b.bytes.len(),
                "sha256": hex::encode(Sha256::digest(&b.bytes)),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let json = serde_json::to_vec(&manifest).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(b"sealdrop-bundle\n");
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    let signature = key.sign(&out);
    out.extend_from_slice(&signature.to_bytes());
    for s in subs {
        for b in &s.blobs {
            out.extend_from_slice(&b.bytes);
        }
    }
    out
}

/// Write a bundle file.
pub fn write_bundle(path: &Path, key: &SigningKey, subs: &[Sealed]) -> String {
    let bundle_id = new_id();
    let bytes = bundle_bytes(key, &bundle_id, "2026-11-28", subs);
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&bytes).unwrap();
    f.sync_all().unwrap();
    bundle_id
}

/// The server's signing key, made fresh for a test.
pub fn signing_key() -> SigningKey {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    SigningKey::from_bytes(&secret)
}

/// Fingerprint text as `sealdrop fingerprint` prints it: 64 hex digits in groups of 4.
pub fn fingerprint(key: &SigningKey) -> String {
    let hex = hex::encode(key.verifying_key().as_bytes());
    hex.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run the real `sealdesk` with `args`, no SEALDESK_* setting leaking in from the caller, and
/// `stdin` as its input (none: an empty one, as in a script).
pub fn sealdesk(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealdesk"));
    cmd.args(args)
        .env_remove("SEALDESK_WORKSPACE")
        .env_remove("SEALDESK_IDENTITY")
        .env_remove("SEALDESK_PASSPHRASE")
        .env("COLUMNS", "200")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("sealdesk runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "sealdesk failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every path under `dir` (folders too, marked with a trailing `/`) with the SHA-256 of each
/// file: two snapshots are equal only if nothing was added, removed or changed.
pub fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                out.insert(rel + "/", "dir".into());
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(rel, hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
