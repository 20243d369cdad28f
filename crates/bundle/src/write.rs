//! The writer behind `sealdrop export`: blob files in, one signed bundle file out.
//!
//! The manifest (with every blob's SHA-256) comes before the blobs and is signed, so the blobs
//! are read twice: once to check their sizes and hash them, once to copy them, hashing again so
//! the bundle always matches what it signed. The file appears under its name only when
//! complete and durable ([`sealdrop_core::durable`]: temp file, fsync, rename, fsync of the
//! directory).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

use super::format::{
    header_bytes, BlobKind, Manifest, ManifestBlob, ManifestSubmission, FORMAT, MAX_MANIFEST_LEN,
    VERSION,
};
use super::read::{validate, BundleError};
use sealdrop_core::day::Date;
use sealdrop_core::durable::NewFile;
use sealdrop_core::new_id;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("blob {blob} of submission {submission} is missing: cannot open {path}. Restore it from a backup, or purge that submission; nothing was exported")]
    BlobMissing {
        blob: String,
        submission: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("blob {blob} of submission {submission} is damaged: {path} is {found} bytes but the index records {expected}. Restore it from a backup, or purge that submission; nothing was exported")]
    BlobSize {
        blob: String,
        submission: String,
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("reading blob {blob} from {path} failed; nothing was exported")]
    BlobRead {
        blob: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("blob {blob} ({path}) changed while it was being exported; nothing was exported, run the export again")]
    BlobChanged { blob: String, path: PathBuf },
    #[error("{path} already exists; choose a new file name (an export never overwrites a file)")]
    Exists { path: PathBuf },
    #[error("writing the bundle {path} failed; nothing was exported")]
    Output { path: PathBuf, source: io::Error },
    #[error("the manifest would be {len} bytes, more than a bundle allows (64 MiB): too many submissions for one bundle")]
    ManifestTooLarge { len: usize },
    #[error("the index holds something no reader would accept, so nothing was exported")]
    Invalid(#[source] BundleError),
}

/// A submission to export, as the server's index describes it.
#[derive(Debug, Clone)]
pub struct SourceSubmission {
    pub id: String,
    /// The coarse arrival date.
    pub arrived: Date,
    /// The envelope first, then the attachments.
    pub blobs: Vec<SourceBlob>,
}

/// A blob file to export.
#[derive(Debug, Clone)]
pub struct SourceBlob {
    pub id: String,
    pub kind: BlobKind,
    /// The size the index records; the file must have exactly this size.
    pub size: u64,
    pub path: PathBuf,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub bundle_id: String,
    pub submissions: usize,
    pub blobs: usize,
    /// The bundle file's size.
    pub bytes: u64,
}

/// Told how far an export has come (the binary draws a progress bar from it).
pub trait Progress {
    /// A new phase starts, covering `total_bytes` of blob data.
    fn phase(&mut self, _name: &'static str, _total_bytes: u64) {}
    /// `bytes` more of the current phase are done.
    fn advance(&mut self, _bytes: u64) {}
}

/// No progress reporting.
impl Progress for () {}

/// The signed head of a bundle: magic, version, manifest length, manifest, signature.
pub fn signed_head(manifest_json: &[u8], key: &SigningKey) -> Result<Vec<u8>, WriteError> {
    let len = u32::try_from(manifest_json.len())
        .ok()
        .filter(|&l| l > 0 && l <= MAX_MANIFEST_LEN)
        .ok_or(WriteError::ManifestTooLarge {
            len: manifest_json.len(),
        })?;
    let mut head = Vec::with_capacity(24 + manifest_json.len() + 64);
    head.extend_from_slice(&header_bytes(len));
    head.extend_from_slice(manifest_json);
    let signature = key.sign(&head);
    head.extend_from_slice(&signature.to_bytes());
    Ok(head)
}

/// Write a bundle of `submissions` to the new file `out`, signed with `key`.
pub fn write_bundle(
    out: &Path,
    key: &SigningKey,
    created: Date,
    submissions: &[SourceSubmission],
    progress: &mut dyn Progress,
) -> Result<Written, WriteError> {
    if out.symlink_metadata().is_ok() {
        return Err(WriteError::Exists {
            path: out.to_owned(),
        });
    }
    let total: u64 = submissions
        .iter()
        .flat_map(|s| &s.blobs)
        .map(|b| b.size)
        .sum();

    progress.phase("checking blobs", total);
    let mut manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        bundle_id: new_id(),
        server_key: hex::encode(key.verifying_key().as_bytes()),
        created: created.to_string(),
        submissions: Vec::with_capacity(submissions.len()),
    };
    for s in submissions {
        let mut blobs = Vec::with_capacity(s.blobs.len());
        for b in &s.blobs {
            let digest = hash_blob(s, b, &mut io::sink(), progress)?;
            blobs.push(ManifestBlob {
                id: b.id.clone(),
                kind: b.kind,
                size: b.size,
                sha256: hex::encode(digest),
            });
        }
        manifest.submissions.push(ManifestSubmission {
            id: s.id.clone(),
            arrived: s.arrived.to_string(),
            envelope_blob: s.blobs.first().map(|b| b.id.clone()).unwrap_or_default(),
            blobs,
        });
    }
    validate(&manifest, &key.verifying_key()).map_err(WriteError::Invalid)?;
    let json = serde_json::to_vec(&manifest).expect("serialising to memory cannot fail");
    let head = signed_head(&json, key)?;

    progress.phase("writing bundle", total);
    let output_err = |source| WriteError::Output {
        path: out.to_owned(),
        source,
    };
    // Removed unless committed, so a failed export leaves nothing.
    let temp = NewFile::create(out).map_err(output_err)?;
    let mut writer = BufWriter::with_capacity(256 * 1024, temp.as_file());
    writer.write_all(&head).map_err(output_err)?;
    let mut copying = Output {
        inner: &mut writer,
        error: None,
    };
    for (s, entry) in submissions.iter().zip(&manifest.submissions) {
        for (b, signed) in s.blobs.iter().zip(&entry.blobs) {
            let digest = hash_blob(s, b, &mut copying, progress).map_err(|e| {
                // A failed write shows up as a read error of the copy: say which it was.
                match copying.error.take() {
                    Some(source) => output_err(source),
                    None => e,
                }
            })?;
            if hex::encode(digest) != signed.sha256 {
                return Err(WriteError::BlobChanged {
                    blob: b.id.clone(),
                    path: b.path.clone(),
                });
            }
        }
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
        bundle_id: manifest.bundle_id,
        submissions: manifest.submissions.len(),
        blobs: manifest.submissions.iter().map(|s| s.blobs.len()).sum(),
        bytes,
    })
}

/// Copy one blob file into `sink`, checking its size against the index; returns its SHA-256.
fn hash_blob(
    submission: &SourceSubmission,
    blob: &SourceBlob,
    sink: &mut dyn Write,
    progress: &mut dyn Progress,
) -> Result<[u8; 32], WriteError> {
    let read_err = |source| WriteError::BlobRead {
        blob: blob.id.clone(),
        path: blob.path.clone(),
        source,
    };
    let size_err = |found| WriteError::BlobSize {
        blob: blob.id.clone(),
        submission: submission.id.clone(),
        path: blob.path.clone(),
        expected: blob.size,
        found,
    };
    let file = File::open(&blob.path).map_err(|source| WriteError::BlobMissing {
        blob: blob.id.clone(),
        submission: submission.id.clone(),
        path: blob.path.clone(),
        source,
    })?;
    let on_disk = file.metadata().map_err(read_err)?.len();
    if on_disk != blob.size {
        return Err(size_err(on_disk));
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut done: u64 = 0;
    // Read one byte past the recorded size, so a file that grew is noticed.
    let mut limited = file.take(blob.size + 1);
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        done += n as u64;
        if done > blob.size {
            return Err(size_err(done));
        }
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n]).map_err(read_err)?;
        progress.advance(n as u64);
    }
    if done != blob.size {
        return Err(size_err(done));
    }
    Ok(hasher.finalize().into())
}

/// A writer that remembers its own failure, so it is not mistaken for a blob read failure.
struct Output<'a, W: Write> {
    inner: &'a mut W,
    error: Option<io::Error>,
}

impl<W: Write> Write for Output<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| {
            self.error = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BundleReader;
    use std::fs;

    struct Setup {
        dir: tempfile::TempDir,
        key: SigningKey,
        submissions: Vec<SourceSubmission>,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let blob = |n: u8, kind, data: &[u8]| {
            let id = format!("{n:02x}").repeat(16);
            let path = dir.path().join(format!("{id}.age"));
            fs::write(&path, data).unwrap();
            SourceBlob {
                id,
                kind,
                size: data.len() as u64,
                path,
            }
        };
        let submissions = vec![
            SourceSubmission {
                id: "a1".repeat(16),
                arrived: Date::parse("2026-11-20").unwrap(),
                blobs: vec![
                    blob(1, BlobKind::Envelope, b"first envelope"),
                    blob(2, BlobKind::Attachment, &vec![9u8; 300_000]),
                ],
            },
            SourceSubmission {
                id: "a2".repeat(16),
                arrived: Date::parse("2026-11-21").unwrap(),
                blobs: vec![blob(3, BlobKind::Envelope, b"")],
            },
        ];
        Setup {
            dir,
            key: SigningKey::from_bytes(&[3u8; 32]),
            submissions,
        }
    }

    fn today() -> Date {
        Date::parse("2026-11-27").unwrap()
    }

    #[test]
    fn writes_a_bundle_the_reader_accepts() {
        let s = setup();
        let out = s.dir.path().join("out.bundle");
        let written = write_bundle(&out, &s.key, today(), &s.submissions, &mut ()).unwrap();
        assert_eq!((written.submissions, written.blobs), (2, 3));
        assert_eq!(written.bytes, fs::metadata(&out).unwrap().len());
        let reader = BundleReader::open(&out, &s.key.verifying_key()).unwrap();
        assert_eq!(reader.manifest().bundle_id, written.bundle_id);
        assert_eq!(reader.manifest().created, "2026-11-27");
        let mut seen = Vec::new();
        reader
            .for_each_blob(|sub, blob, r| {
                let mut data = Vec::new();
                r.read_to_end(&mut data)?;
                assert_eq!(
                    data,
                    fs::read(s.dir.path().join(format!("{}.age", blob.id)))?
                );
                seen.push((sub.id.clone(), blob.id.clone()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].0, "a1".repeat(16));
        // Nothing but the bundle and the blobs is left in the directory.
        let names: Vec<_> = fs::read_dir(s.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("partial"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn a_damaged_blob_stops_the_export_and_leaves_no_file() {
        let s = setup();
        let victim = &s.submissions[0].blobs[1];
        fs::write(&victim.path, b"short").unwrap();
        let out = s.dir.path().join("out.bundle");
        let err = write_bundle(&out, &s.key, today(), &s.submissions, &mut ()).unwrap_err();
        assert!(
            matches!(&err, WriteError::BlobSize { blob, expected: 300_000, found: 5, .. } if *blob == victim.id),
            "{err}"
        );
        assert!(err.to_string().contains("is damaged"));
        assert!(!out.exists());
        assert_eq!(fs::read_dir(s.dir.path()).unwrap().count(), 3);

        fs::remove_file(&victim.path).unwrap();
        let err = write_bundle(&out, &s.key, today(), &s.submissions, &mut ()).unwrap_err();
        assert!(matches!(err, WriteError::BlobMissing { .. }), "{err}");
    }

    #[test]
    fn never_overwrites() {
        let s = setup();
        let out = s.dir.path().join("out.bundle");
        fs::write(&out, b"precious").unwrap();
        let err = write_bundle(&out, &s.key, today(), &s.submissions, &mut ()).unwrap_err();
        assert!(matches!(err, WriteError::Exists { .. }), "{err}");
        assert_eq!(fs::read(&out).unwrap(), b"precious");
    }

    #[test]
    fn never_overwrites_a_file_made_during_the_export() {
        struct MakeOutput<'a>(&'a Path);
        impl Progress for MakeOutput<'_> {
            fn phase(&mut self, name: &'static str, _total: u64) {
                if name == "writing bundle" {
                    fs::write(self.0, b"precious").unwrap();
                }
            }
        }
        let s = setup();
        let out = s.dir.path().join("out.bundle");
        let err =
            write_bundle(&out, &s.key, today(), &s.submissions, &mut MakeOutput(&out)).unwrap_err();
        assert!(matches!(err, WriteError::Exists { .. }), "{err}");
        assert_eq!(fs::read(&out).unwrap(), b"precious");
        // The three blobs and the file made meanwhile: no partial bundle left.
        assert_eq!(fs::read_dir(s.dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn refuses_to_write_what_readers_refuse() {
        let mut s = setup();
        s.submissions[1].blobs[0].id = "not-an-id".into();
        let out = s.dir.path().join("out.bundle");
        let err = write_bundle(&out, &s.key, today(), &s.submissions, &mut ()).unwrap_err();
        assert!(
            matches!(err, WriteError::Invalid(BundleError::BadId { .. })),
            "{err}"
        );
        assert!(!out.exists());
    }

    #[test]
    fn reports_progress_for_both_passes() {
        #[derive(Default)]
        struct Count {
            phases: Vec<(&'static str, u64)>,
            bytes: u64,
        }
        impl Progress for Count {
            fn phase(&mut self, name: &'static str, total: u64) {
                self.phases.push((name, total));
            }
            fn advance(&mut self, bytes: u64) {
                self.bytes += bytes;
            }
        }
        let s = setup();
        let mut count = Count::default();
        let out = s.dir.path().join("out.bundle");
        write_bundle(&out, &s.key, today(), &s.submissions, &mut count).unwrap();
        let total = 14 + 300_000;
        assert_eq!(
            count.phases,
            [("checking blobs", total), ("writing bundle", total)]
        );
        assert_eq!(count.bytes, 2 * total);
    }
}
