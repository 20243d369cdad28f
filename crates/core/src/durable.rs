//! Durable files: how both sides make a write survive a power cut.
//!
//! A new file appears under its name only complete and on disk, in this order:
//!
//! 1. create a temporary file `.<name>.<random>.partial` in the final file's own directory
//!    (the same filesystem, so step 4 is one atomic rename), mode 0600;
//! 2. write it;
//! 3. fsync the temporary file: its contents and size reach the disk before any name points at
//!    them (otherwise a crash can leave the final name on an empty or short file);
//! 4. rename it to its final name, never replacing an existing file (`renameat2` with
//!    `RENAME_NOREPLACE`, or a hard link where that is missing);
//! 5. fsync the directory: the rename itself is a change to the directory, lost in a crash
//!    until the directory is flushed.
//!
//! A temporary file that is never committed is removed when dropped; one left by a crash
//! keeps the `.partial` suffix, so it is recognisable debris.
//!
//! A new directory is made durable the same way: after each directory [`create_private_dir`]
//! creates, it fsyncs the parent that now holds its entry.
//!
//! `tests/durable_order.rs` checks this order against the system calls a real process makes.

use std::ffi::OsString;
use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Make a directory's entries durable (new names, renames and removals in it).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Create a directory (and any missing parents) readable by its owner only, fsyncing the parent
/// of each directory created. An existing directory is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    // Without `.` components, so each step up is a real parent.
    let dir: PathBuf = dir.components().collect();
    create_missing(&dir)
}

fn create_missing(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = parent_dir(dir);
    create_missing(parent)?;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => sync_dir(parent),
        // Made meanwhile by someone else, who flushes its parent.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new file being written under a temporary name beside its final one.
///
/// Write to it (it is [`Write`], and [`NewFile::as_file`] gives the file itself), then
/// [`NewFile::commit`]. Dropped uncommitted, it is removed.
#[derive(Debug)]
pub struct NewFile {
    temp: NamedTempFile,
    path: PathBuf,
}

impl NewFile {
    /// Start the file that will be `path` (steps 1 and 2 of the module's order).
    pub fn create(path: &Path) -> io::Result<NewFile> {
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a new file needs a file name")
        })?;
        let mut prefix = OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".partial")
            .permissions(Permissions::from_mode(0o600))
            .tempfile_in(parent_dir(path))?;
        Ok(NewFile {
            temp,
            path: path.to_owned(),
        })
    }

    /// The file being written.
    pub fn as_file(&self) -> &File {
        self.temp.as_file()
    }

    /// Where the file is being written until it is committed.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Steps 3 to 5: fsync, rename to the final name, fsync the directory. Returns the file.
    ///
    /// An existing file at the final name is never replaced: that fails with
    /// [`io::ErrorKind::AlreadyExists`] and the temporary file is removed.
    pub fn commit(self) -> io::Result<File> {
        self.temp.as_file().sync_all()?;
        // On failure the error holds the temporary file, removed as it is dropped.
        let file = self
            .temp
            .persist_noclobber(&self.path)
            .map_err(|e| e.error)?;
        sync_dir(parent_dir(&self.path))?;
        Ok(file)
    }
}

impl Write for NewFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// Write `contents` to the new file `path` durably, never replacing an existing file.
pub fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = NewFile::create(path)?;
    file.write_all(contents)?;
    file.commit().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_a_private_file_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        write_new(&path, b"secret").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"secret");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(names(dir.path()), ["key"]);
    }

    #[test]
    fn writes_beside_the_final_name_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bundle");
        let mut file = NewFile::create(&path).unwrap();
        file.write_all(b"half").unwrap();
        let temp = file.temp_path().to_owned();
        assert_eq!(temp.parent(), Some(dir.path()));
        let temp_name = temp.file_name().unwrap().to_str().unwrap();
        assert!(
            temp_name.starts_with(".out.bundle.") && temp_name.ends_with(".partial"),
            "{temp_name}"
        );
        assert!(!path.exists());
        file.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"half");
        assert!(!temp.exists());
    }

    #[test]
    fn never_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("precious");
        fs::write(&path, b"keep me").unwrap();
        let err = write_new(&path, b"intruder").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"keep me");
        assert_eq!(names(dir.path()), ["precious"]);
    }

    #[test]
    fn an_uncommitted_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = NewFile::create(&dir.path().join("never")).unwrap();
        file.write_all(b"abandoned").unwrap();
        drop(file);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_bare_file_name_is_written_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("out.bundle")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/b")), Path::new("a"));
        let err = NewFile::create(Path::new("/")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn creates_private_directories_and_parents() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/./b/c");
        create_private_dir(&deep).unwrap();
        for made in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&dir.path().join(made)), 0o700, "{made}");
        }
        // Existing: nothing to do, and its mode is left alone.
        fs::set_permissions(&deep, Permissions::from_mode(0o750)).unwrap();
        create_private_dir(&deep).unwrap();
        assert_eq!(mode(&deep), 0o750);
    }

    #[test]
    fn a_file_in_the_way_of_a_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), b"").unwrap();
        create_private_dir(&dir.path().join("a/b")).unwrap_err();
        assert!(dir.path().join("a").is_file());
    }
}
