//! `sealdesk extract`: write a submission's attachments, in clear, into a fresh folder.
//!
//! This is the one place Sealdesk writes plaintext, and only because staff asked. Names are
//! normalised (see `filenames`), each file is created inside the new folder only (openat
//! relative to that folder, O_EXCL and O_NOFOLLOW, never a path built from source input), with
//! its true length: the Padmé padding is stripped and checked.

use std::collections::HashSet;
use std::fs::{DirBuilder, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use rustix::fs::{Mode, OFlags};
use zeroize::Zeroizing;

use super::cases;
use super::decrypt::{open_attachment, open_envelope};
use super::filenames::{self, NameSet};
use super::identity::Keyring;
use super::workspace::Workspace;
use super::DeskError;
use sealdrop_core::durable::{create_private_dir, sync_dir};
use sealdrop_core::padme::padded_len;

/// One attachment as written.
#[derive(Debug, Clone)]
pub struct ExtractedFile {
    /// What the source's browser called it (hostile: print only through `view::terminal_safe`).
    pub original: String,
    /// The name written inside the folder.
    pub written: String,
    pub size: u64,
    pub declared_type: String,
    /// Why it may run code if opened.
    pub risk: Option<String>,
    /// Set when its content is a program its name hid (it was written under a name that ends
    /// in [`filenames::DISGUISED_SUFFIX`]): what the content is.
    pub disguised: Option<&'static str>,
    /// Something wrong with the stored file (incomplete, unexpected padding).
    pub problem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Extracted {
    /// The new folder; `None` when the submission has no attachments (nothing is written).
    pub folder: Option<PathBuf>,
    pub files: Vec<ExtractedFile>,
}

/// Bytes inspected to recognise programs by their content.
const HEAD: usize = 16;

/// Write submission `id`'s attachments into a new folder in `to`. `progress` is told the total
/// and each decrypted chunk's bytes.
pub fn extract(
    ws: &Workspace,
    keyring: &Keyring,
    id: &str,
    to: &Path,
    progress: &ProgressBar,
) -> Result<Extracted, DeskError> {
    ws.refuse_inside(to)?;
    let case = cases::get(ws.conn(), id)?;
    let blobs = ws.blobs_dir();
    let envelope = open_envelope(&blobs, keyring, &case)?;
    let mut known: HashSet<String> = cases::attachment_blobs(ws.conn(), id)?
        .into_iter()
        .collect();
    for a in &envelope.attachments {
        // The envelope may only point at this submission's own blobs, each once. Not by
        // position: the bundle lists attachments by blob id, not in the envelope's order.
        if !known.remove(&a.blob) {
            return Err(DeskError::Envelope {
                id: case.id.clone(),
                problem: "its envelope names an attachment that is not part of it".into(),
            });
        }
    }

    if envelope.attachments.is_empty() {
        return Ok(Extracted {
            folder: None,
            files: Vec::new(),
        });
    }
    create_private_dir(to).map_err(DeskError::io(format!("creating {}", to.display())))?;
    let folder = fresh_folder(to, &format!("sealdrop-{}-{}", case.arrived, &case.id[..8]))?;
    let dir = rustix::fs::open(
        &folder,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| DeskError::io(format!("opening {}", folder.display()))(e.into()))?;

    progress.set_length(envelope.attachments.iter().map(|a| a.length).sum());
    let mut names = NameSet::new();
    let mut files = Vec::new();
    for a in &envelope.attachments {
        // The first bytes decide the name: a program under a picture's name is renamed.
        let mut plain = open_attachment(&blobs, keyring, &a.blob)?;
        let mut first = Zeroizing::new([0u8; HEAD]);
        let got = read_up_to(&mut plain, &mut first[..]).map_err(DeskError::io(format!(
            "decrypting an attachment of {}",
            &case.id[..8]
        )))?;
        let real = got.min(usize::try_from(a.length).unwrap_or(usize::MAX));
        let disguised = filenames::disguised(&filenames::normalise(&a.name), &first[..real]);
        let base = filenames::extracted_name(&filenames::normalise(&a.name), &first[..real]);
        let (written, mut file) = loop {
            let name = names.claim(&base);
            match rustix::fs::openat(
                &dir,
                name.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => break (name, File::from(fd)),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => {
                    return Err(DeskError::io(format!(
                        "creating {name} in {}",
                        folder.display()
                    ))(e.into()))
                }
            }
        };
        let mut rest = (&first[..got]).chain(plain);
        let copied = copy_unpadded(&mut rest, &mut file, a.length, progress)
            .map_err(DeskError::io(format!("writing {written}")))?;
        file.sync_all()
            .map_err(DeskError::io(format!("writing {written}")))?;
        files.push(ExtractedFile {
            original: a.name.clone(),
            risk: filenames::risk(&written, &copied.head, &a.content_type),
            disguised,
            written,
            size: copied.written,
            declared_type: a.content_type.clone(),
            problem: copied.problem,
        });
    }
    rustix::fs::fsync(&dir).map_err(|e| DeskError::io("flushing the folder")(e.into()))?;
    Ok(Extracted {
        folder: Some(folder),
        files,
    })
}

/// Create `parent/name`, or `parent/name (2)`, ...: a folder that did not exist before.
fn fresh_folder(parent: &Path, name: &str) -> Result<PathBuf, DeskError> {
    for n in 1u32.. {
        let folder = if n == 1 {
            parent.join(name)
        } else {
            parent.join(format!("{name} ({n})"))
        };
        match DirBuilder::new().mode(0o700).create(&folder) {
            // Its name in `parent` is made durable like the files in it.
            Ok(()) => {
                return sync_dir(parent)
                    .map(|()| folder)
                    .map_err(DeskError::io(format!("flushing {}", parent.display())))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(DeskError::io(format!("creating {}", folder.display()))(e)),
        }
    }
    unreachable!("some folder name is free")
}

struct Copied {
    written: u64,
    head: Zeroizing<Vec<u8>>,
    problem: Option<String>,
}

/// Write the first `length` plaintext bytes; check that the rest is the zero padding that
/// Padmé adds.
/// Read until `buf` is full or the input ends; returns how many bytes were read.
fn read_up_to(from: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match from.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The first bytes of an attachment's content (at most 16, none of its padding), to tell what
/// it is without writing it anywhere.
pub fn attachment_head(
    blobs: &Path,
    keyring: &Keyring,
    attachment: &sealdrop_core::envelope::AttachmentInfo,
) -> Result<Zeroizing<Vec<u8>>, DeskError> {
    let mut plain = open_attachment(blobs, keyring, &attachment.blob)?;
    let mut first = Zeroizing::new(vec![0u8; HEAD]);
    let got =
        read_up_to(&mut plain, &mut first).map_err(DeskError::io("decrypting an attachment"))?;
    first.truncate(got.min(usize::try_from(attachment.length).unwrap_or(usize::MAX)));
    Ok(first)
}

fn copy_unpadded(
    from: &mut impl Read,
    to: &mut impl Write,
    length: u64,
    progress: &ProgressBar,
) -> io::Result<Copied> {
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut head = Zeroizing::new(Vec::with_capacity(HEAD));
    let mut total = 0u64;
    let mut nonzero_padding = false;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        let keep = length.saturating_sub(total).min(n as u64) as usize;
        to.write_all(&chunk[..keep])?;
        if head.len() < HEAD {
            let more = (HEAD - head.len()).min(keep);
            head.extend_from_slice(&chunk[..more]);
        }
        nonzero_padding |= chunk[keep..].iter().any(|&b| b != 0);
        total += n as u64;
        progress.inc(keep as u64);
    }
    let written = total.min(length);
    let problem = if total < length {
        Some(format!(
            "the stored file is shorter than the source's file ({written} of {length} bytes): it is incomplete"
        ))
    } else if nonzero_padding || total != padded_len(length) {
        Some("the stored file has unexpected bytes after its end; they were left out".into())
    } else {
        None
    };
    Ok(Copied {
        written,
        head,
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_padding_and_reports_damage() {
        let mut data = b"hello".to_vec();
        data.resize(padded_len(5) as usize, 0);
        let mut out = Vec::new();
        let c = copy_unpadded(&mut &data[..], &mut out, 5, &ProgressBar::hidden()).unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(c.head.as_slice(), b"hello");
        assert!(c.problem.is_none());

        let big = vec![7u8; 100_000];
        let mut padded = big.clone();
        padded.resize(padded_len(100_000) as usize, 0);
        let mut out = Vec::new();
        let c = copy_unpadded(&mut &padded[..], &mut out, 100_000, &ProgressBar::hidden()).unwrap();
        assert_eq!(out, big);
        assert!(c.problem.is_none());

        let mut out = Vec::new();
        let c = copy_unpadded(&mut &b"hel"[..], &mut out, 5, &ProgressBar::hidden()).unwrap();
        assert!(c.problem.unwrap().contains("incomplete"));

        let mut out = Vec::new();
        let c = copy_unpadded(
            &mut &b"hello\x01\x00\x00"[..],
            &mut out,
            5,
            &ProgressBar::hidden(),
        )
        .unwrap();
        assert_eq!(out, b"hello");
        assert!(c.problem.unwrap().contains("unexpected"));
    }
}
