//! The verifying reader. A bundle is hostile input: it may come off a USB stick that passed
//! through a compromised machine. Nothing in it is trusted until the signature by the pinned
//! server key checks out, and even then every field is checked before use (a server, too, can
//! be compromised). Hostile JSON is never parsed unless it is signed.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::format::{
    BlobKind, Manifest, ManifestBlob, ManifestSubmission, FORMAT, HEADER_LEN, MAGIC,
    MAX_BLOBS_PER_SUBMISSION, MAX_BLOB_SIZE, MAX_MANIFEST_LEN, MAX_SUBMISSIONS, SIGNATURE_LEN,
    VERSION,
};
use sealdrop_core::day::Date;
use sealdrop_core::is_id;

/// Why a bundle was refused. Each check has its own variant, and each message names the check.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot open the bundle {path}; check that you chose the right file")]
    Open { path: PathBuf, source: io::Error },
    #[error("reading the bundle failed; copy it again")]
    Read { source: io::Error },
    #[error("bad magic: this is not a Sealdrop bundle (it does not start with `sealdrop-bundle`); check that you chose the right file")]
    BadMagic,
    #[error("unknown bundle format version {found}: this program reads version {VERSION}; use the Sealdrop release that matches the server")]
    UnknownVersion { found: u32 },
    #[error("manifest length out of bounds: {len} bytes (allowed: 1 byte to 64 MiB); the bundle is damaged or crafted, do not import it")]
    ManifestLength { len: u32 },
    #[error("truncated bundle: the file ends inside {what}; the copy is incomplete, copy the bundle again")]
    Truncated { what: String },
    #[error("signature invalid: this bundle was not signed by the pinned server key, or was changed after signing; do not import it. Get a fresh copy; if that fails too, compare `sealdrop fingerprint` on the server with the pinned key")]
    BadSignature,
    #[error("server key mismatch: the manifest names server key {found}, not the pinned one; do not import it")]
    ServerKeyMismatch { found: String },
    #[error("manifest not valid JSON of the expected shape: {reason}")]
    ManifestJson { reason: String },
    #[error("wrong manifest format: it says {format} version {version}, but a version-{VERSION} bundle must say `{FORMAT}` version {VERSION}; the bundle is crafted, do not import it")]
    WrongFormat { format: String, version: u32 },
    #[error("bad id: {field} is {value}, not an id of 32 lowercase hex digits; the bundle is crafted or damaged, do not import it")]
    BadId { field: String, value: String },
    #[error("bad date: {field} is {value}, not a real date YYYY-MM-DD")]
    BadDate { field: String, value: String },
    #[error("bad digest: blob {blob} has sha256 {value}, not 64 lowercase hex digits")]
    BadDigest { blob: String, value: String },
    #[error(
        "duplicate submission id {id} in the manifest; the bundle is crafted, do not import it"
    )]
    DuplicateSubmission { id: String },
    #[error("duplicate blob id {id} in the manifest; the bundle is crafted, do not import it")]
    DuplicateBlob { id: String },
    #[error("submission without blobs: submission {submission} lists none (it needs at least its envelope)")]
    NoBlobs { submission: String },
    #[error("envelope not first: in submission {submission} the first blob must be the envelope, and only the first")]
    EnvelopeNotFirst { submission: String },
    #[error("envelope_blob mismatch: submission {submission} names an envelope_blob other than its first blob")]
    EnvelopeMismatch { submission: String },
    #[error("too many submissions: {count} (a bundle holds at most {max})")]
    TooManySubmissions { count: usize, max: usize },
    #[error("too many blobs: submission {submission} has {count} (at most {max})")]
    TooManyBlobs {
        submission: String,
        count: usize,
        max: usize,
    },
    #[error("blob too large: blob {blob} claims {size} bytes (at most {max})")]
    BlobTooLarge { blob: String, size: u64, max: u64 },
    #[error("SHA-256 mismatch: blob {blob} differs from what the server signed (altered or damaged on the way); do not use this bundle, copy it again")]
    HashMismatch { blob: String },
    #[error("trailing data: the file goes on after the last blob its signed manifest lists; it was altered, do not import it")]
    TrailingData,
    #[error("writing out blob {blob} failed")]
    Sink { blob: String, source: io::Error },
    #[error("bad fingerprint: {reason}; a server fingerprint is 64 hex digits, as `sealdrop fingerprint` prints it")]
    BadFingerprint { reason: String },
}

/// A bundle whose header, signature and manifest are verified; its blobs come next.
pub struct BundleReader {
    input: BufReader<File>,
    manifest: Manifest,
}

impl std::fmt::Debug for BundleReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleReader")
            .field("bundle_id", &self.manifest.bundle_id)
            .finish_non_exhaustive()
    }
}

impl BundleReader {
    /// Open and verify the header, signature (against `pinned`) and manifest; no blob read yet.
    pub fn open(path: &Path, pinned: &VerifyingKey) -> Result<BundleReader, BundleError> {
        let file = File::open(path).map_err(|source| BundleError::Open {
            path: path.to_owned(),
            source,
        })?;
        // A regular file's length lets truncation and trailing data show before any blob is
        // read; for anything else (a pipe) the streaming checks still catch both.
        let file_len = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let mut input = BufReader::with_capacity(256 * 1024, file);

        let mut header = [0u8; HEADER_LEN];
        let got = read_full(&mut input, &mut header)?;
        let manifest_len = check_header(&header[..got])?;

        // The signed message is the header and the manifest: read the manifest right after the
        // header in one buffer so it is verified without a copy.
        let mut signed =
            Vec::with_capacity(HEADER_LEN + manifest_room(manifest_len, file_len, HEADER_LEN));
        signed.extend_from_slice(&header);
        (&mut input)
            .take(u64::from(manifest_len))
            .read_to_end(&mut signed)
            .map_err(|source| BundleError::Read { source })?;
        if signed.len() < HEADER_LEN + manifest_len as usize {
            return Err(truncated("the manifest"));
        }
        let mut signature = [0u8; SIGNATURE_LEN];
        if read_full(&mut input, &mut signature)? < SIGNATURE_LEN {
            return Err(truncated("the signature"));
        }
        pinned
            .verify_strict(&signed, &Signature::from_bytes(&signature))
            .map_err(|_| BundleError::BadSignature)?;

        let manifest: Manifest = serde_json::from_slice(&signed[HEADER_LEN..]).map_err(|e| {
            BundleError::ManifestJson {
                // serde quotes field names from the input as they are: keep them printable.
                reason: printable(&e.to_string()),
            }
        })?;
        validate(&manifest, pinned)?;

        if let Some(actual) = file_len {
            let expected = (HEADER_LEN + manifest_len as usize + SIGNATURE_LEN) as u128
                + manifest.blob_bytes();
            if u128::from(actual) < expected {
                return Err(truncated("the blobs"));
            }
            if u128::from(actual) > expected {
                return Err(BundleError::TrailingData);
            }
        }
        Ok(BundleReader { input, manifest })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Stream every blob in order, checking size and SHA-256. `sink` gets each blob's manifest entry
    /// and a reader limited to exactly that blob's bytes; it must read it to the end (e.g. io::copy
    /// into a file). Any failure (hash mismatch, truncation, trailing data) returns Err; the caller
    /// discards what sink wrote.
    pub fn for_each_blob(
        self,
        mut sink: impl FnMut(&ManifestSubmission, &ManifestBlob, &mut dyn Read) -> io::Result<()>,
    ) -> Result<(), BundleError> {
        let BundleReader {
            mut input,
            manifest,
        } = self;
        for (submission, blob) in manifest.blobs() {
            let mut part = BlobPart {
                input: &mut input,
                remaining: blob.size,
                hasher: Sha256::new(),
                truncated: false,
                read_error: None,
            };
            let result = sink(submission, blob, &mut part);
            // Our own read failures reach the sink as io errors: report them as what they are.
            part.check(&blob.id)?;
            result.map_err(|source| BundleError::Sink {
                blob: blob.id.clone(),
                source,
            })?;
            // A sink that stopped early still gets every byte checked.
            let _ = io::copy(&mut part, &mut io::sink());
            part.check(&blob.id)?;
            let digest = part.hasher.finalize();
            if hex::encode(digest) != blob.sha256 {
                return Err(BundleError::HashMismatch {
                    blob: blob.id.clone(),
                });
            }
        }
        let mut byte = [0u8; 1];
        match read_full(&mut input, &mut byte)? {
            0 => Ok(()),
            _ => Err(BundleError::TrailingData),
        }
    }
}

/// A reader over exactly one blob's bytes, hashing them as they pass.
struct BlobPart<'a> {
    input: &'a mut BufReader<File>,
    remaining: u64,
    hasher: Sha256,
    truncated: bool,
    read_error: Option<io::Error>,
}

impl BlobPart<'_> {
    fn check(&mut self, blob: &str) -> Result<(), BundleError> {
        if self.truncated {
            return Err(truncated(&format!("blob {blob}")));
        }
        if let Some(source) = self.read_error.take() {
            return Err(BundleError::Read { source });
        }
        Ok(())
    }
}

impl Read for BlobPart<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = match self.input.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.read_error = Some(e);
                return Err(copy);
            }
        };
        if n == 0 {
            self.truncated = true;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the bundle ends inside a blob",
            ));
        }
        self.hasher.update(&buf[..n]);
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// How much room to make for a manifest the header says is `claimed` bytes long, before it is
/// read: no more than a regular file of `file_len` bytes can still hold after its header of
/// `header_len`, and from a pipe (no length known) no more than [`PIPE_READ_AHEAD`]; the buffer
/// grows as bytes really arrive. Never what a header claims alone: that is the sender's word.
pub(crate) fn manifest_room(claimed: u32, file_len: Option<u64>, header_len: usize) -> usize {
    let room = file_len.map_or(PIPE_READ_AHEAD, |l| l.saturating_sub(header_len as u64));
    u64::from(claimed).min(room) as usize
}

/// The room made at first for a manifest read from a pipe.
const PIPE_READ_AHEAD: u64 = 64 * 1024;

fn truncated(what: &str) -> BundleError {
    BundleError::Truncated {
        what: what.to_owned(),
    }
}

/// Fill `buf` as far as the input allows; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, BundleError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(BundleError::Read { source }),
        }
    }
    Ok(got)
}

/// Check the fixed header (possibly short) and return the manifest length.
fn check_header(header: &[u8]) -> Result<u32, BundleError> {
    let magic_part = header.len().min(MAGIC.len());
    if header[..magic_part] != MAGIC[..magic_part] {
        return Err(BundleError::BadMagic);
    }
    if header.len() < 20 {
        return Err(truncated("the header"));
    }
    let version = u32::from_be_bytes(header[16..20].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(BundleError::UnknownVersion { found: version });
    }
    if header.len() < HEADER_LEN {
        return Err(truncated("the header"));
    }
    let len = u32::from_be_bytes(header[20..24].try_into().expect("4 bytes"));
    if len == 0 || len > MAX_MANIFEST_LEN {
        return Err(BundleError::ManifestLength { len });
    }
    Ok(len)
}

/// The bounds a manifest is checked against (a parameter so tests can use small ones).
pub(crate) struct Limits {
    pub submissions: usize,
    pub blobs_per_submission: usize,
    pub blob_size: u64,
}

pub(crate) const LIMITS: Limits = Limits {
    submissions: MAX_SUBMISSIONS,
    blobs_per_submission: MAX_BLOBS_PER_SUBMISSION,
    blob_size: MAX_BLOB_SIZE,
};

/// Every check on a signed manifest. The writer runs it too, so the server never writes a
/// bundle that readers refuse.
pub(crate) fn validate(manifest: &Manifest, pinned: &VerifyingKey) -> Result<(), BundleError> {
    validate_with(manifest, pinned, &LIMITS)
}

pub(crate) fn validate_with(
    m: &Manifest,
    pinned: &VerifyingKey,
    limits: &Limits,
) -> Result<(), BundleError> {
    if m.format != FORMAT || m.version != VERSION {
        return Err(BundleError::WrongFormat {
            format: shown(&m.format),
            version: m.version,
        });
    }
    if m.server_key != hex::encode(pinned.as_bytes()) {
        return Err(BundleError::ServerKeyMismatch {
            found: shown(&m.server_key),
        });
    }
    check_id("bundle_id", &m.bundle_id)?;
    check_date("created", &m.created)?;
    if m.submissions.len() > limits.submissions {
        return Err(BundleError::TooManySubmissions {
            count: m.submissions.len(),
            max: limits.submissions,
        });
    }
    let mut submission_ids = HashSet::with_capacity(m.submissions.len());
    let mut blob_ids = HashSet::new();
    for s in &m.submissions {
        check_id("a submission id", &s.id)?;
        if !submission_ids.insert(s.id.as_str()) {
            return Err(BundleError::DuplicateSubmission { id: s.id.clone() });
        }
        check_date(&format!("`arrived` of submission {}", s.id), &s.arrived)?;
        check_id(
            &format!("`envelope_blob` of submission {}", s.id),
            &s.envelope_blob,
        )?;
        if s.blobs.is_empty() {
            return Err(BundleError::NoBlobs {
                submission: s.id.clone(),
            });
        }
        if s.blobs.len() > limits.blobs_per_submission {
            return Err(BundleError::TooManyBlobs {
                submission: s.id.clone(),
                count: s.blobs.len(),
                max: limits.blobs_per_submission,
            });
        }
        for (index, b) in s.blobs.iter().enumerate() {
            check_id(&format!("a blob id in submission {}", s.id), &b.id)?;
            if (index == 0) != (b.kind == BlobKind::Envelope) {
                return Err(BundleError::EnvelopeNotFirst {
                    submission: s.id.clone(),
                });
            }
            if b.size > limits.blob_size {
                return Err(BundleError::BlobTooLarge {
                    blob: b.id.clone(),
                    size: b.size,
                    max: limits.blob_size,
                });
            }
            if !is_digest(&b.sha256) {
                return Err(BundleError::BadDigest {
                    blob: b.id.clone(),
                    value: shown(&b.sha256),
                });
            }
            if !blob_ids.insert(b.id.as_str()) {
                return Err(BundleError::DuplicateBlob { id: b.id.clone() });
            }
        }
        if s.envelope_blob != s.blobs[0].id {
            return Err(BundleError::EnvelopeMismatch {
                submission: s.id.clone(),
            });
        }
    }
    Ok(())
}

fn check_id(field: &str, value: &str) -> Result<(), BundleError> {
    if is_id(value) {
        return Ok(());
    }
    Err(BundleError::BadId {
        field: field.to_owned(),
        value: shown(value),
    })
}

fn check_date(field: &str, value: &str) -> Result<(), BundleError> {
    if Date::parse(value).is_some() {
        return Ok(());
    }
    Err(BundleError::BadDate {
        field: field.to_owned(),
        value: shown(value),
    })
}

pub(crate) fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A hostile string made safe to print: quoted, escaped, and cut short.
pub(crate) fn shown(value: &str) -> String {
    const MAX_CHARS: usize = 80;
    if value.chars().count() <= MAX_CHARS {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(MAX_CHARS).collect();
    format!("{head:?}... ({} bytes)", value.len())
}

/// Text built from hostile input made safe for a terminal: control and invisible characters
/// escaped, and cut short.
pub(crate) fn printable(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX_CHARS {
            out.push_str("...");
            break;
        }
        match c {
            '"' | '\'' | '\\' => out.push(c),
            _ => out.extend(c.escape_debug()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{header_bytes, MAX_MANIFEST_LEN};
    use crate::write::signed_head;
    use ed25519_dalek::SigningKey;
    use std::io::Write;

    /// A small valid bundle, built by hand so each test can bend one thing.
    struct Fixture {
        key: SigningKey,
        manifest: Manifest,
        blobs: Vec<Vec<u8>>,
    }

    fn id(n: u8) -> String {
        format!("{n:02x}").repeat(16)
    }

    fn fixture() -> Fixture {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let blobs: Vec<Vec<u8>> = vec![
            b"envelope one".to_vec(),
            b"attachment of one".to_vec(),
            b"envelope two!".to_vec(),
        ];
        let entry = |n: u8, kind, data: &[u8]| ManifestBlob {
            id: id(n),
            kind,
            size: data.len() as u64,
            sha256: hex::encode(Sha256::digest(data)),
        };
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            bundle_id: id(0xb0),
            server_key: hex::encode(key.verifying_key().as_bytes()),
            created: "2026-11-27".into(),
            submissions: vec![
                ManifestSubmission {
                    id: id(1),
                    arrived: "2026-11-26".into(),
                    envelope_blob: id(0x11),
                    blobs: vec![
                        entry(0x11, BlobKind::Envelope, &blobs[0]),
                        entry(0x12, BlobKind::Attachment, &blobs[1]),
                    ],
                },
                ManifestSubmission {
                    id: id(2),
                    arrived: "2026-11-27".into(),
                    envelope_blob: id(0x21),
                    blobs: vec![entry(0x21, BlobKind::Envelope, &blobs[2])],
                },
            ],
        };
        Fixture {
            key,
            manifest,
            blobs,
        }
    }

    impl Fixture {
        fn pinned(&self) -> VerifyingKey {
            self.key.verifying_key()
        }

        fn bytes(&self) -> Vec<u8> {
            let json = serde_json::to_vec(&self.manifest).unwrap();
            let mut out = signed_head(&json, &self.key).unwrap();
            for b in &self.blobs {
                out.extend_from_slice(b);
            }
            out
        }
    }

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        f
    }

    fn open(bytes: &[u8], pinned: &VerifyingKey) -> Result<BundleReader, BundleError> {
        let f = file_with(bytes);
        BundleReader::open(f.path(), pinned)
    }

    /// Open and stream every blob; returns the blobs read.
    fn read_all(bytes: &[u8], pinned: &VerifyingKey) -> Result<Vec<Vec<u8>>, BundleError> {
        let reader = open(bytes, pinned)?;
        let mut out = Vec::new();
        reader.for_each_blob(|_, _, r| {
            let mut data = Vec::new();
            r.read_to_end(&mut data)?;
            out.push(data);
            Ok(())
        })?;
        Ok(out)
    }

    /// The manifest, changed by `edit`, signed by the fixture's (pinned) key.
    fn signed_with(edit: impl FnOnce(&mut Manifest)) -> Result<BundleReader, BundleError> {
        let mut fx = fixture();
        edit(&mut fx.manifest);
        open(&fx.bytes(), &fx.pinned())
    }

    fn message(err: &BundleError) -> String {
        err.to_string()
    }

    #[test]
    fn a_valid_bundle_reads_back_blob_by_blob() {
        let fx = fixture();
        let reader = open(&fx.bytes(), &fx.pinned()).unwrap();
        assert_eq!(reader.manifest(), &fx.manifest);
        assert_eq!(read_all(&fx.bytes(), &fx.pinned()).unwrap(), fx.blobs);
    }

    #[test]
    fn an_empty_bundle_is_valid() {
        let mut fx = fixture();
        fx.manifest.submissions.clear();
        fx.blobs.clear();
        assert!(read_all(&fx.bytes(), &fx.pinned()).unwrap().is_empty());
    }

    #[test]
    fn bad_magic() {
        let fx = fixture();
        let mut bytes = fx.bytes();
        bytes[0] = b'S';
        let err = open(&bytes, &fx.pinned()).unwrap_err();
        assert!(matches!(err, BundleError::BadMagic), "{err}");
        assert!(message(&err).contains("bad magic"));
        // A short file that is not a bundle prefix is "not a bundle", not "truncated".
        let err = open(b"PK\x03\x04", &fx.pinned()).unwrap_err();
        assert!(matches!(err, BundleError::BadMagic), "{err}");
    }

    #[test]
    fn unknown_version() {
        let fx = fixture();
        let mut bytes = fx.bytes();
        bytes[19] = 2;
        let err = open(&bytes, &fx.pinned()).unwrap_err();
        assert!(
            matches!(err, BundleError::UnknownVersion { found: 2 }),
            "{err}"
        );
        assert!(message(&err).contains("unknown bundle format version 2"));
    }

    /// Open `bytes` from a pipe (as `sealdesk import /dev/stdin` does): a writer thread feeds
    /// it; the reader opens the pipe by its /proc path.
    fn through_pipe<R>(bytes: Vec<u8>, read: impl FnOnce(&Path) -> R) -> R {
        use std::os::fd::AsRawFd;
        let (reader, mut writer) = std::io::pipe().unwrap();
        let feeder = std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut writer, &bytes);
        });
        let path = PathBuf::from(format!("/proc/self/fd/{}", reader.as_raw_fd()));
        let result = read(&path);
        drop(reader);
        feeder.join().unwrap();
        result
    }

    #[test]
    fn a_bundle_reads_from_a_pipe_and_its_header_cannot_size_the_buffer() {
        let fx = fixture();
        let blobs = through_pipe(fx.bytes(), |path| {
            let mut out = Vec::new();
            BundleReader::open(path, &fx.pinned())
                .unwrap()
                .for_each_blob(|_, _, r| {
                    let mut data = Vec::new();
                    r.read_to_end(&mut data)?;
                    out.push(data);
                    Ok(())
                })
                .unwrap();
            out
        });
        assert_eq!(blobs, fx.blobs);

        // A header that claims the largest manifest, and then a few bytes: the reader makes
        // room for what a pipe may bring soon, not for what the header says.
        let mut bytes = header_bytes(MAX_MANIFEST_LEN).to_vec();
        bytes.extend_from_slice(b"{}");
        let err = through_pipe(bytes, |path| BundleReader::open(path, &fx.pinned())).unwrap_err();
        assert!(message(&err).contains("the manifest"), "{err}");
        assert_eq!(
            manifest_room(MAX_MANIFEST_LEN, None, HEADER_LEN),
            PIPE_READ_AHEAD as usize
        );
        assert_eq!(manifest_room(MAX_MANIFEST_LEN, Some(100), HEADER_LEN), 76);
        assert_eq!(manifest_room(10, Some(100), HEADER_LEN), 10);
    }

    #[test]
    fn manifest_length_out_of_bounds() {
        let fx = fixture();
        for len in [0, MAX_MANIFEST_LEN + 1, u32::MAX] {
            let mut bytes = fx.bytes();
            bytes[20..24].copy_from_slice(&len.to_be_bytes());
            let err = open(&bytes, &fx.pinned()).unwrap_err();
            assert!(
                matches!(err, BundleError::ManifestLength { len: l } if l == len),
                "{err}"
            );
            assert!(message(&err).contains("manifest length out of bounds"));
        }
    }

    #[test]
    fn truncated_anywhere() {
        let fx = fixture();
        let bytes = fx.bytes();
        let json_len = serde_json::to_vec(&fx.manifest).unwrap().len();
        let sig_at = HEADER_LEN + json_len;
        for (cut, what) in [
            (0, "the header"),
            (10, "the header"),
            (18, "the header"),
            (22, "the header"),
            (HEADER_LEN + 5, "the manifest"),
            (sig_at + 10, "the signature"),
            (sig_at + SIGNATURE_LEN + 3, "the blobs"),
            (bytes.len() - 1, "the blobs"),
        ] {
            let err = open(&bytes[..cut], &fx.pinned()).unwrap_err();
            match &err {
                BundleError::Truncated { what: w } => assert_eq!(w, what, "cut at {cut}"),
                other => panic!("cut at {cut}: {other}"),
            }
            assert!(message(&err).starts_with("truncated bundle"));
        }
    }

    #[test]
    fn truncated_while_streaming() {
        // The file shrinks after it was opened: the streaming check must still catch it. The
        // last blob is larger than the read buffer, so its end is not read at open.
        let mut fx = fixture();
        let big = vec![0x5a; 1 << 20];
        let entry = &mut fx.manifest.submissions[1].blobs[0];
        entry.size = big.len() as u64;
        entry.sha256 = hex::encode(Sha256::digest(&big));
        fx.blobs[2] = big;
        let bytes = fx.bytes();
        let f = file_with(&bytes);
        let reader = BundleReader::open(f.path(), &fx.pinned()).unwrap();
        f.as_file().set_len(bytes.len() as u64 - 4).unwrap();
        let err = reader
            .for_each_blob(|_, _, r| io::copy(r, &mut io::sink()).map(drop))
            .unwrap_err();
        assert!(
            matches!(&err, BundleError::Truncated { what } if *what == format!("blob {}", id(0x21))),
            "{err}"
        );
    }

    #[test]
    fn trailing_data_at_open_and_while_streaming() {
        let fx = fixture();
        let mut bytes = fx.bytes();
        bytes.push(0);
        let err = open(&bytes, &fx.pinned()).unwrap_err();
        assert!(matches!(err, BundleError::TrailingData), "{err}");
        assert!(message(&err).contains("trailing data"));

        let f = file_with(&fx.bytes());
        let reader = BundleReader::open(f.path(), &fx.pinned()).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(f.path())
            .unwrap();
        file.write_all(b"more").unwrap();
        let err = reader
            .for_each_blob(|_, _, r| io::copy(r, &mut io::sink()).map(drop))
            .unwrap_err();
        assert!(matches!(err, BundleError::TrailingData), "{err}");
    }

    #[test]
    fn signature_by_another_key_or_over_changed_bytes() {
        let fx = fixture();
        let other = SigningKey::from_bytes(&[9u8; 32]);
        let err = open(&fx.bytes(), &other.verifying_key()).unwrap_err();
        assert!(matches!(err, BundleError::BadSignature), "{err}");
        assert!(message(&err).contains("signature invalid"));

        let mut bytes = fx.bytes();
        bytes[HEADER_LEN + 3] ^= 0x01;
        let err = open(&bytes, &fx.pinned()).unwrap_err();
        assert!(matches!(err, BundleError::BadSignature), "{err}");

        // The signature covers the manifest length too: a different length cannot slip by.
        let mut bytes = fx.bytes();
        bytes[23] ^= 0x01;
        let err = open(&bytes, &fx.pinned()).unwrap_err();
        assert!(matches!(err, BundleError::BadSignature), "{err}");
    }

    #[test]
    fn hostile_json_is_not_parsed_unless_signed() {
        // Unsigned garbage is refused at the signature, never reaching the JSON parser.
        let fx = fixture();
        let garbage = b"{{{{ not json";
        let mut bytes = header_bytes(garbage.len() as u32).to_vec();
        bytes.extend_from_slice(garbage);
        bytes.extend_from_slice(&[0u8; SIGNATURE_LEN]);
        let err = open(&bytes, &fx.pinned()).unwrap_err();
        assert!(matches!(err, BundleError::BadSignature), "{err}");
    }

    #[test]
    fn signed_but_not_json() {
        let fx = fixture();
        for json in [
            &b"{{{{ not json"[..],
            b"[1,2]",
            b"{\"format\":\"sealdrop-bundle\"}",
        ] {
            let bytes = signed_head(json, &fx.key).unwrap();
            let err = open(&bytes, &fx.pinned()).unwrap_err();
            assert!(matches!(err, BundleError::ManifestJson { .. }), "{err}");
            assert!(message(&err).contains("manifest not valid JSON"));
        }
        // A field given twice is refused, not silently resolved one way.
        let json = serde_json::to_string(&fx.manifest).unwrap();
        let twice = json.replacen("{\"format\":", "{\"created\":\"2020-01-01\",\"format\":", 1);
        assert_ne!(twice, json);
        let bytes = signed_head(twice.as_bytes(), &fx.key).unwrap();
        let err = open(&bytes, &fx.pinned()).unwrap_err();
        assert!(
            matches!(&err, BundleError::ManifestJson { reason } if reason.contains("duplicate field")),
            "{err}"
        );
        // Unknown fields are refused too: version 1 is closed. The field's name, hostile, is
        // shown with its control characters escaped.
        let mut value = serde_json::to_value(&fx.manifest).unwrap();
        value["extra\u{1b}[2J"] = serde_json::json!(1);
        let bytes = signed_head(&serde_json::to_vec(&value).unwrap(), &fx.key).unwrap();
        let err = open(&bytes, &fx.pinned()).unwrap_err();
        assert!(matches!(err, BundleError::ManifestJson { .. }), "{err}");
        assert!(
            message(&err).contains("unknown field `extra\\u{1b}[2J`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_format_or_version_in_the_manifest() {
        let err = signed_with(|m| m.format = "sealdrop-envelope".into()).unwrap_err();
        assert!(matches!(err, BundleError::WrongFormat { .. }), "{err}");
        assert!(message(&err).contains("wrong manifest format"));
        let err = signed_with(|m| m.version = 2).unwrap_err();
        assert!(
            matches!(err, BundleError::WrongFormat { version: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn server_key_must_be_the_pinned_key() {
        let other = SigningKey::from_bytes(&[9u8; 32]);
        let err = signed_with(|m| m.server_key = hex::encode(other.verifying_key().as_bytes()))
            .unwrap_err();
        assert!(
            matches!(err, BundleError::ServerKeyMismatch { .. }),
            "{err}"
        );
        assert!(message(&err).contains("server key mismatch"));
    }

    #[test]
    fn every_id_field_must_be_an_id() {
        type Edit = fn(&mut Manifest);
        let cases: [(&str, Edit); 5] = [
            ("bundle_id", |m| m.bundle_id = "B0".repeat(16)),
            ("a submission id", |m| m.submissions[0].id = "../x".into()),
            ("`envelope_blob` of submission", |m| {
                m.submissions[1].envelope_blob = "../../etc/passwd".into()
            }),
            ("a blob id in submission", |m| {
                m.submissions[0].blobs[1].id = "../../etc/passwd".into()
            }),
            ("a blob id in submission", |m| {
                m.submissions[0].blobs[1].id = format!("{}\n", id(0x12))
            }),
        ];
        for (field, edit) in cases {
            let err = signed_with(edit).unwrap_err();
            match &err {
                BundleError::BadId { field: f, .. } => assert!(f.starts_with(field), "{err}"),
                other => panic!("{field}: {other}"),
            }
            assert!(message(&err).starts_with("bad id"));
        }
    }

    #[test]
    fn dates_must_be_real() {
        let err = signed_with(|m| m.created = "2026-02-30".into()).unwrap_err();
        assert!(
            matches!(&err, BundleError::BadDate { field, .. } if field == "created"),
            "{err}"
        );
        let err = signed_with(|m| m.submissions[1].arrived = "yesterday".into()).unwrap_err();
        assert!(matches!(err, BundleError::BadDate { .. }), "{err}");
        assert!(message(&err).starts_with("bad date"));
    }

    #[test]
    fn digests_must_be_hex() {
        let err = signed_with(|m| m.submissions[0].blobs[0].sha256 = "AB".repeat(32)).unwrap_err();
        assert!(matches!(err, BundleError::BadDigest { .. }), "{err}");
        assert!(message(&err).starts_with("bad digest"));
    }

    #[test]
    fn duplicate_submissions_and_blobs() {
        let err = signed_with(|m| m.submissions[1].id = m.submissions[0].id.clone()).unwrap_err();
        assert!(
            matches!(err, BundleError::DuplicateSubmission { .. }),
            "{err}"
        );
        assert!(message(&err).starts_with("duplicate submission id"));
        // The same blob listed in two submissions.
        let err = signed_with(|m| {
            let b = m.submissions[0].blobs[0].clone();
            m.submissions[1].envelope_blob = b.id.clone();
            m.submissions[1].blobs[0] = b;
        })
        .unwrap_err();
        assert!(matches!(err, BundleError::DuplicateBlob { .. }), "{err}");
        assert!(message(&err).starts_with("duplicate blob id"));
    }

    #[test]
    fn submission_shape() {
        let err = signed_with(|m| m.submissions[1].blobs.clear()).unwrap_err();
        assert!(matches!(err, BundleError::NoBlobs { .. }), "{err}");
        assert!(message(&err).starts_with("submission without blobs"));

        let err = signed_with(|m| m.submissions[0].blobs.swap(0, 1)).unwrap_err();
        assert!(matches!(err, BundleError::EnvelopeNotFirst { .. }), "{err}");
        assert!(message(&err).starts_with("envelope not first"));
        // A second envelope is refused as well.
        let err = signed_with(|m| m.submissions[0].blobs[1].kind = BlobKind::Envelope).unwrap_err();
        assert!(matches!(err, BundleError::EnvelopeNotFirst { .. }), "{err}");

        let err = signed_with(|m| m.submissions[0].envelope_blob = id(0x12)).unwrap_err();
        assert!(matches!(err, BundleError::EnvelopeMismatch { .. }), "{err}");
        assert!(message(&err).starts_with("envelope_blob mismatch"));
    }

    #[test]
    fn counts_and_sizes_have_bounds() {
        let fx = fixture();
        let small = Limits {
            submissions: 1,
            blobs_per_submission: 1,
            blob_size: 100,
        };
        let err = validate_with(&fx.manifest, &fx.pinned(), &small).unwrap_err();
        assert!(
            matches!(err, BundleError::TooManySubmissions { count: 2, max: 1 }),
            "{err}"
        );
        assert!(message(&err).starts_with("too many submissions"));

        let mut one = fx.manifest.clone();
        one.submissions.truncate(1);
        let err = validate_with(&one, &fx.pinned(), &small).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::TooManyBlobs {
                    count: 2,
                    max: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(message(&err).starts_with("too many blobs"));

        // The real limits, through a signed bundle.
        let err = signed_with(|m| {
            let s = &mut m.submissions[0];
            for n in 0..MAX_BLOBS_PER_SUBMISSION {
                let mut b = s.blobs[1].clone();
                b.id = format!("{n:032x}");
                s.blobs.push(b);
            }
        })
        .unwrap_err();
        assert!(
            matches!(err, BundleError::TooManyBlobs { count, .. } if count == MAX_BLOBS_PER_SUBMISSION + 2),
            "{err}"
        );
        let err = signed_with(|m| m.submissions[1].blobs[0].size = MAX_BLOB_SIZE + 1).unwrap_err();
        assert!(matches!(err, BundleError::BlobTooLarge { .. }), "{err}");
        assert!(message(&err).starts_with("blob too large"));
        // At the limit it is only a size; the file is then simply too short for it.
        let err = signed_with(|m| m.submissions[1].blobs[0].size = MAX_BLOB_SIZE).unwrap_err();
        assert!(matches!(err, BundleError::Truncated { .. }), "{err}");
    }

    #[test]
    fn hash_mismatch_in_a_blob() {
        let fx = fixture();
        let mut bytes = fx.bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        let err = read_all(&bytes, &fx.pinned()).unwrap_err();
        assert!(
            matches!(&err, BundleError::HashMismatch { blob } if *blob == id(0x21)),
            "{err}"
        );
        assert!(message(&err).starts_with("SHA-256 mismatch"));
    }

    #[test]
    fn a_sink_that_stops_early_still_gets_the_blob_checked() {
        let fx = fixture();
        let mut bytes = fx.bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        let reader = open(&bytes, &fx.pinned()).unwrap();
        let err = reader
            .for_each_blob(|_, _, r| {
                let mut one = [0u8; 1];
                r.read_exact(&mut one)
            })
            .unwrap_err();
        assert!(matches!(err, BundleError::HashMismatch { .. }), "{err}");
    }

    #[test]
    fn a_failing_sink_is_reported_as_such() {
        let fx = fixture();
        let reader = open(&fx.bytes(), &fx.pinned()).unwrap();
        let err = reader
            .for_each_blob(|_, _, _| Err(io::Error::other("disk full")))
            .unwrap_err();
        assert!(
            matches!(&err, BundleError::Sink { blob, .. } if *blob == id(0x11)),
            "{err}"
        );
    }

    #[test]
    fn hostile_strings_are_shown_escaped_and_short() {
        let long = "x".repeat(10_000);
        let s = shown(&long);
        assert!(s.len() < 120, "{s}");
        assert_eq!(shown("a\nb\u{1b}[31m"), "\"a\\nb\\u{1b}[31m\"");
        assert_eq!(
            printable("field `\u{1b}[2J\u{202e}x`"),
            "field `\\u{1b}[2J\\u{202e}x`"
        );
        assert!(printable(&long).len() < 310);
    }
}
