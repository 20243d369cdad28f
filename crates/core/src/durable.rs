//! Durable files: how both sides make a write survive a power cut.
//!
//! The order of operations is written down here once (see [`write_new`]).

use std::fs::{self, File};
use std::io;
use std::path::Path;

/// Make a directory's entries durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Create a directory (and parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
