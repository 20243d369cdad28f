//! Writing a note in the staff's own text editor ($VISUAL, else $EDITOR), so its text never
//! passes through the command line (and so the shell's history).
//!
//! The editor works on a file in a fresh private folder (mode 0700, in $XDG_RUNTIME_DIR when
//! there is one, a memory-backed folder on Debian, else the system's temporary folder). When the
//! editor is done, every file in that folder (the note, and any swap or backup file the editor
//! left there) is overwritten with zeros, flushed and removed, then the folder itself.
//! Overwriting cannot reach copies an editor keeps elsewhere, nor a journaling or SSD's old
//! blocks: the staff guide says to use an editor without such copies (nano, or vim -n).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use zeroize::Zeroizing;

use super::triage::MAX_NOTE_BYTES;
use super::DeskError;

/// The editor staff chose: $VISUAL, else $EDITOR (a command line, run by `sh` as git does).
pub fn chosen(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["VISUAL", "EDITOR"]
        .into_iter()
        .filter_map(env)
        .find(|e| !e.trim().is_empty())
}

/// Where the private folder is made.
fn base(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    env("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

/// Let staff write a note with `editor`; returns what they saved (at most one byte over the
/// longest note, so that a longer one is refused). Everything on disk is wiped and removed
/// before this returns, also when the editor fails.
pub fn write_note(
    editor: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Zeroizing<String>, DeskError> {
    // A random name, and mode 0700 from the start.
    let dir = tempfile::Builder::new()
        .prefix("sealdesk-note-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(base(env))
        .map_err(DeskError::io("making a private folder for the note"))?;
    let path = dir.path().join("note.txt");
    let result = edit(editor, &path);
    let wiped = wipe_folder(dir.path());
    let removed = dir
        .close()
        .map_err(DeskError::io("removing the note's private folder"));
    let text = result?;
    wiped?;
    removed?;
    Ok(text)
}

fn edit(editor: &str, path: &Path) -> Result<Zeroizing<String>, DeskError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(DeskError::io("making the note's file"))?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .map_err(DeskError::io(format!("starting the editor `{editor}`")))?;
    if !status.success() {
        return Err(DeskError::EditorFailed(editor.to_owned()));
    }
    let mut text = Zeroizing::new(String::with_capacity(MAX_NOTE_BYTES + 1));
    File::open(path)
        .and_then(|f| f.take(MAX_NOTE_BYTES as u64 + 1).read_to_string(&mut text))
        .map_err(DeskError::io("reading the note the editor saved"))?;
    Ok(text)
}

/// Overwrite every regular file in `dir` (not following links) with zeros and flush it.
fn wipe_folder(dir: &Path) -> Result<(), DeskError> {
    let entries = fs::read_dir(dir).map_err(DeskError::io("reading the note's folder"))?;
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !kind.is_file() {
            continue;
        }
        let path = entry.path();
        let wipe = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&path)?;
            let len = f.metadata()?.len();
            let zeros = vec![0u8; 64 * 1024];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                f.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            f.sync_all()
        };
        wipe().map_err(DeskError::io(format!("wiping {}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visual_beats_editor_and_blank_ones_are_skipped() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            chosen(env(&[("EDITOR", "nano"), ("VISUAL", "vim -n")])).as_deref(),
            Some("vim -n")
        );
        assert_eq!(
            chosen(env(&[("EDITOR", "nano"), ("VISUAL", " ")])).as_deref(),
            Some("nano")
        );
        assert_eq!(chosen(env(&[])), None);
    }
}
