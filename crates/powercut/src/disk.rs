//! The two layers of the disk and the power switch.
//!
//! Every operation reads and changes the volatile layer, as a kernel's caches would. Only the
//! flushes copy state into the durable layer, and each copies only what it promises to:
//!
//! - `fsync`/`fdatasync` of a file: that file's contents, size and attributes; not any name of it.
//! - `fsync` of a directory: its names (new, renamed, removed), pointing at the inodes they name.
//!   An inode whose own contents were never flushed comes along empty (a file of size 0, a
//!   directory without entries), as ext4 may leave a file whose name reached the journal but whose
//!   data blocks did not.
//! - a flush of the whole filesystem (`syncfs`, `sync`): everything.
//!
//! A cut turns every later operation into `EIO` and leaves the durable layer as it was at that
//! instant; [`Disk::after_power_cut`] is what a reboot finds.

use std::collections::HashMap;

use crate::image::{Body, Errno, Image, Ino, Result};

/// How many flushes of each kind reached the disk (to show a run exercised them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushes {
    pub files: u64,
    pub dirs: u64,
    pub whole: u64,
}

#[derive(Debug)]
pub struct Disk {
    volatile: Image,
    durable: Image,
    /// Open handles per inode: an unlinked file lives on while one is open.
    open: HashMap<Ino, u32>,
    powered: bool,
    flushes: Flushes,
}

impl Disk {
    /// A freshly made, empty filesystem, all of it durable.
    pub fn new(uid: u32, gid: u32) -> Disk {
        Disk::boot(Image::new(uid, gid))
    }

    /// Start from `image`, which is all durable (what the disk held when it was mounted).
    pub fn boot(image: Image) -> Disk {
        Disk {
            volatile: image.clone(),
            durable: image,
            open: HashMap::new(),
            powered: true,
            flushes: Flushes::default(),
        }
    }

    /// The state every operation sees; `EIO` once the power is cut.
    pub fn volatile(&self) -> Result<&Image> {
        self.check_power()?;
        Ok(&self.volatile)
    }

    pub fn volatile_mut(&mut self) -> Result<&mut Image> {
        self.check_power()?;
        Ok(&mut self.volatile)
    }

    fn check_power(&self) -> Result<()> {
        if self.powered {
            Ok(())
        } else {
            Err(libc::EIO as Errno)
        }
    }

    pub fn opened(&mut self, ino: Ino) {
        *self.open.entry(ino).or_default() += 1;
    }

    pub fn closed(&mut self, ino: Ino) {
        if let Some(count) = self.open.get_mut(&ino) {
            *count -= 1;
            if *count == 0 {
                self.open.remove(&ino);
                self.volatile.forget_if_unlinked(ino);
            }
        }
    }

    /// A name of `ino` went away: free it if that was its last and no one has it open.
    pub fn unlinked(&mut self, ino: Ino) {
        if !self.open.contains_key(&ino) {
            self.volatile.forget_if_unlinked(ino);
        }
    }

    /// `fsync`/`fdatasync` of a file.
    pub fn sync_file(&mut self, ino: Ino) -> Result<()> {
        let node = self.volatile()?.node(ino)?.clone();
        if node.is_dir() {
            return self.sync_dir(ino);
        }
        self.durable.put(ino, node);
        self.flushes.files += 1;
        Ok(())
    }

    /// `fsync` of a directory.
    pub fn sync_dir(&mut self, ino: Ino) -> Result<()> {
        let node = self.volatile()?.node(ino)?.clone();
        let Body::Dir(entries) = &node.body else {
            return self.sync_file(ino);
        };
        for &child in entries.values() {
            if !self.durable.contains(child) {
                let skeleton = self.volatile.node(child)?.skeleton();
                self.durable.put(child, skeleton);
            }
        }
        self.durable.put(ino, node);
        self.flushes.dirs += 1;
        Ok(())
    }

    /// `syncfs`/`sync`: everything.
    pub fn sync_all(&mut self) -> Result<()> {
        self.check_power()?;
        self.durable = self.volatile.clone();
        self.flushes.whole += 1;
        Ok(())
    }

    /// Cut the power: from now on every operation fails, and nothing more becomes durable.
    pub fn cut(&mut self) {
        self.powered = false;
    }

    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// What a reboot finds: the durable layer, less inodes no surviving name reaches.
    pub fn after_power_cut(&self) -> Image {
        self.durable.reachable()
    }

    pub fn flushes(&self) -> Flushes {
        self.flushes
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;
    use crate::image::{Meta, ROOT};

    fn disk() -> Disk {
        Disk::new(0, 0)
    }

    fn file(disk: &mut Disk, dir: Ino, name: &str, data: &[u8]) -> Ino {
        let img = disk.volatile_mut().unwrap();
        let ino = img
            .make(dir, OsStr::new(name), false, Meta::new(0o600, 0, 0))
            .unwrap();
        img.write(ino, 0, data).unwrap();
        ino
    }

    fn rebooted(disk: &Disk) -> Image {
        disk.after_power_cut()
    }

    fn read_at(img: &Image, dir: Ino, name: &str) -> Option<Vec<u8>> {
        let ino = img.lookup(dir, OsStr::new(name)).ok()?;
        Some(img.read(ino, 0, u32::MAX).unwrap().to_vec())
    }

    #[test]
    fn a_new_file_needs_its_data_and_its_directory_flushed() {
        let mut d = disk();
        let ino = file(&mut d, ROOT, "a", b"data");
        assert_eq!(read_at(&rebooted(&d), ROOT, "a"), None, "nothing flushed");
        d.sync_file(ino).unwrap();
        assert_eq!(
            read_at(&rebooted(&d), ROOT, "a"),
            None,
            "name never flushed"
        );
        d.sync_dir(ROOT).unwrap();
        assert_eq!(read_at(&rebooted(&d), ROOT, "a").unwrap(), b"data");
    }

    #[test]
    fn a_name_flushed_without_its_data_is_an_empty_file() {
        let mut d = disk();
        let ino = file(&mut d, ROOT, "a", b"data");
        d.sync_dir(ROOT).unwrap();
        assert_eq!(read_at(&rebooted(&d), ROOT, "a").unwrap(), b"");
        // Later writes are lost until the file is flushed.
        d.sync_file(ino).unwrap();
        d.volatile_mut().unwrap().write(ino, 4, b" more").unwrap();
        assert_eq!(read_at(&rebooted(&d), ROOT, "a").unwrap(), b"data");
    }

    #[test]
    fn a_rename_is_undone_until_its_directories_are_flushed() {
        let mut d = disk();
        let img = d.volatile_mut().unwrap();
        let from = img
            .make(ROOT, OsStr::new("from"), true, Meta::new(0o700, 0, 0))
            .unwrap();
        let to = img
            .make(ROOT, OsStr::new("to"), true, Meta::new(0o700, 0, 0))
            .unwrap();
        let ino = file(&mut d, from, "f", b"x");
        d.sync_file(ino).unwrap();
        d.sync_dir(from).unwrap();
        d.sync_dir(ROOT).unwrap();
        d.volatile_mut()
            .unwrap()
            .rename(from, OsStr::new("f"), to, OsStr::new("g"), true)
            .unwrap();
        let img = rebooted(&d);
        assert_eq!(read_at(&img, from, "f").unwrap(), b"x");
        assert_eq!(read_at(&img, to, "g"), None);
        d.sync_dir(to).unwrap();
        d.sync_dir(from).unwrap();
        let img = rebooted(&d);
        assert_eq!(read_at(&img, from, "f"), None);
        assert_eq!(read_at(&img, to, "g").unwrap(), b"x");
    }

    #[test]
    fn an_unlink_comes_back_until_the_directory_is_flushed() {
        let mut d = disk();
        let ino = file(&mut d, ROOT, "a", b"kept");
        d.sync_all().unwrap();
        d.volatile_mut()
            .unwrap()
            .remove(ROOT, OsStr::new("a"), false)
            .unwrap();
        d.unlinked(ino);
        assert_eq!(read_at(&rebooted(&d), ROOT, "a").unwrap(), b"kept");
        d.sync_dir(ROOT).unwrap();
        assert_eq!(read_at(&rebooted(&d), ROOT, "a"), None);
    }

    #[test]
    fn a_cut_fails_everything_and_freezes_the_durable_layer() {
        let mut d = disk();
        let ino = file(&mut d, ROOT, "a", b"one");
        d.sync_all().unwrap();
        d.volatile_mut().unwrap().write(ino, 0, b"two").unwrap();
        d.cut();
        assert_eq!(d.volatile().unwrap_err(), libc::EIO);
        assert_eq!(d.sync_file(ino).unwrap_err(), libc::EIO);
        assert_eq!(d.sync_all().unwrap_err(), libc::EIO);
        let after = Disk::boot(rebooted(&d));
        assert_eq!(
            read_at(after.volatile().unwrap(), ROOT, "a").unwrap(),
            b"one"
        );
    }

    #[test]
    fn a_reboot_counts_links_again_and_drops_unreachable_inodes() {
        let mut d = disk();
        let ino = file(&mut d, ROOT, "a", b"x");
        d.volatile_mut()
            .unwrap()
            .link(ino, ROOT, OsStr::new("b"))
            .unwrap();
        let orphan = file(&mut d, ROOT, "c", b"y");
        d.sync_all().unwrap();
        d.volatile_mut()
            .unwrap()
            .remove(ROOT, OsStr::new("c"), false)
            .unwrap();
        d.sync_dir(ROOT).unwrap();
        let img = rebooted(&d);
        assert_eq!(img.node(ino).unwrap().nlink, 2);
        assert!(!img.contains(orphan));
    }
}
