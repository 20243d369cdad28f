//! The FUSE side: each kernel request becomes one call on the [`Disk`], under one lock, so a
//! cut falls between two requests, never inside one.
//!
//! Left to the kernel on purpose: POSIX and `flock` locks (this filesystem does not ask for
//! them at `init`, so the kernel keeps them locally, which is right for one machine), `lseek`
//! holes, `copy_file_range`, extended attributes (answered `ENOSYS` once, then the kernel stops
//! asking). Page-cache data stays valid across opens ([`FopenFlags::FOPEN_KEEP_CACHE`]): every
//! change passes through this one kernel, so its cache can never be stale, and SQLite's shared
//! memory file keeps its mapping when another connection opens it.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno as FuseErrno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};

use crate::disk::Disk;
use crate::image::{Errno, Image, Ino, Meta, Node, Result};

/// How long the kernel may trust names and attributes: all changes go through it anyway.
const TTL: Duration = Duration::from_secs(1);
/// What `statfs` reports as the disk's size (the server checks free space before it stores).
const CAPACITY: u64 = 64 << 30;
const BLOCK: u64 = 4096;

/// A directory's entries as `readdir` hands them out: inode, type, name.
type Listing = Vec<(Ino, FileType, OsString)>;

/// The filesystem served over FUSE. Clone the [`Arc`] to reach the disk from outside (to cut).
pub struct PowerCutFs {
    disk: Arc<Mutex<Disk>>,
    /// Each open directory's listing as it was when read from its start, so entries removed
    /// while a program walks it (start-up clean-up does) never make it skip others.
    listings: Mutex<HashMap<u64, Listing>>,
    next_handle: Mutex<u64>,
}

impl PowerCutFs {
    pub fn new(disk: Arc<Mutex<Disk>>) -> PowerCutFs {
        PowerCutFs {
            disk,
            listings: Mutex::default(),
            next_handle: Mutex::new(1),
        }
    }

    fn disk(&self) -> MutexGuard<'_, Disk> {
        self.disk.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn handle(&self) -> FileHandle {
        let mut next = self.next_handle.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        FileHandle(*next)
    }
}

fn errno(e: Errno) -> FuseErrno {
    FuseErrno::from_i32(e)
}

fn kind(node: &Node) -> FileType {
    if node.is_dir() {
        FileType::Directory
    } else {
        FileType::RegularFile
    }
}

fn attr(ino: Ino, node: &Node) -> FileAttr {
    let size = node.size();
    FileAttr {
        ino: INodeNo(ino),
        size,
        // Whole 4 KiB blocks, as ext4 allocates them (the server charges quota by blocks).
        blocks: size.div_ceil(BLOCK) * (BLOCK / 512),
        atime: node.meta.atime,
        mtime: node.meta.mtime,
        ctime: node.meta.ctime,
        crtime: node.meta.ctime,
        kind: kind(node),
        perm: node.meta.perm,
        nlink: node.nlink,
        uid: node.meta.uid,
        gid: node.meta.gid,
        rdev: 0,
        blksize: BLOCK as u32,
        flags: 0,
    }
}

fn attr_of(image: &Image, ino: Ino) -> Result<FileAttr> {
    Ok(attr(ino, image.node(ino)?))
}

fn time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

fn new_meta(req: &Request, mode: u32, umask: u32) -> Meta {
    Meta::new((mode & !umask & 0o7777) as u16, req.uid(), req.gid())
}

impl Filesystem for PowerCutFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Fewer, larger writes for multi-MiB uploads; the kernel caps it at what it allows.
        let _ = config.set_max_write(1 << 20);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let disk = self.disk();
        let found = disk
            .volatile()
            .and_then(|img| attr_of(img, img.lookup(parent.0, name)?));
        match found {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.disk().volatile().and_then(|img| attr_of(img, ino.0)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut disk = self.disk();
        let result = disk.volatile_mut().and_then(|img| {
            if let Some(size) = size {
                img.set_size(ino.0, size)?;
            }
            let meta = &mut img.node_mut(ino.0)?.meta;
            if let Some(mode) = mode {
                meta.perm = (mode & 0o7777) as u16;
            }
            meta.uid = uid.unwrap_or(meta.uid);
            meta.gid = gid.unwrap_or(meta.gid);
            if let Some(t) = atime {
                meta.atime = time(t);
            }
            if let Some(t) = mtime {
                meta.mtime = time(t);
            }
            meta.ctime = SystemTime::now();
            attr_of(img, ino.0)
        });
        match result {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut disk = self.disk();
        let made = disk.volatile_mut().and_then(|img| {
            let ino = img.make(parent.0, name, true, new_meta(req, mode, umask))?;
            attr_of(img, ino)
        });
        match made {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, false, reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, true, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        new_parent: INodeNo,
        new_name: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !(flags - RenameFlags::RENAME_NOREPLACE).is_empty() {
            // RENAME_EXCHANGE and RENAME_WHITEOUT: nothing here uses them.
            return reply.error(FuseErrno::EINVAL);
        }
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let mut disk = self.disk();
        let result = disk
            .volatile_mut()
            .and_then(|img| img.rename(parent.0, name, new_parent.0, new_name, noreplace));
        match result {
            Ok(replaced) => {
                if let Some(old) = replaced {
                    disk.unlinked(old);
                }
                reply.ok()
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        new_parent: INodeNo,
        new_name: &OsStr,
        reply: ReplyEntry,
    ) {
        let mut disk = self.disk();
        let result = disk.volatile_mut().and_then(|img| {
            img.link(ino.0, new_parent.0, new_name)?;
            attr_of(img, ino.0)
        });
        match result {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut disk = self.disk();
        if let Err(e) = disk.volatile().and_then(|img| img.node(ino.0).map(drop)) {
            return reply.error(errno(e));
        }
        disk.opened(ino.0);
        reply.opened(self.handle(), FopenFlags::FOPEN_KEEP_CACHE);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut disk = self.disk();
        let made = disk.volatile_mut().and_then(|img| {
            let ino = img.make(parent.0, name, false, new_meta(req, mode, umask))?;
            attr_of(img, ino)
        });
        match made {
            Ok(a) => {
                disk.opened(a.ino.0);
                let fh = self.handle();
                reply.created(&TTL, &a, Generation(0), fh, FopenFlags::FOPEN_KEEP_CACHE)
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let disk = self.disk();
        match disk
            .volatile()
            .and_then(|img| img.read(ino.0, offset, size))
        {
            Ok(bytes) => reply.data(bytes),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut disk = self.disk();
        match disk
            .volatile_mut()
            .and_then(|img| img.write(ino.0, offset, data))
        {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() flushes nothing to the disk, on ext4 as here.
        match self.disk().volatile() {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.disk().closed(ino.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // fdatasync promises the size too whenever it changed, so both flush the same here.
        match self.disk().sync_file(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self
            .disk()
            .volatile()
            .and_then(|img| img.entries(ino.0).map(drop))
        {
            Ok(()) => reply.opened(self.handle(), FopenFlags::empty()),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut listings = self.listings.lock().unwrap_or_else(|e| e.into_inner());
        if offset == 0 || !listings.contains_key(&fh.0) {
            match self.listing(ino.0) {
                Ok(list) => listings.insert(fh.0, list),
                Err(e) => return reply.error(errno(e)),
            };
        }
        for (i, (child, kind, name)) in listings[&fh.0].iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*child), i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        let mut listings = self.listings.lock().unwrap_or_else(|e| e.into_inner());
        listings.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.disk().sync_dir(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let disk = self.disk();
        let img = match disk.volatile() {
            Ok(img) => img,
            Err(e) => return reply.error(errno(e)),
        };
        let blocks = CAPACITY / BLOCK;
        let used = img.bytes().div_ceil(BLOCK).min(blocks);
        let files = 1 << 20;
        let free_files = files - (img.inodes() as u64).min(files);
        let free = blocks - used;
        reply.statfs(
            blocks,
            free,
            free,
            files,
            free_files,
            BLOCK as u32,
            255,
            BLOCK as u32,
        );
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        // Permission checks are the kernel's (the tests run as one user, usually root).
        match self
            .disk()
            .volatile()
            .and_then(|img| img.node(ino.0).map(drop))
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let mut disk = self.disk();
        let result = disk.volatile_mut().and_then(|img| {
            let end = offset.checked_add(length).ok_or(libc::EFBIG)?;
            let size = img.node(ino.0)?.size();
            let keep_size = mode & libc::FALLOC_FL_KEEP_SIZE != 0;
            match mode & !libc::FALLOC_FL_KEEP_SIZE {
                // Space is never short here: reserving it only ever changes the size.
                0 => {}
                libc::FALLOC_FL_PUNCH_HOLE if keep_size => img.zero_range(ino.0, offset, length)?,
                libc::FALLOC_FL_ZERO_RANGE => img.zero_range(ino.0, offset, length)?,
                _ => return Err(libc::EOPNOTSUPP),
            }
            if !keep_size && end > size {
                img.set_size(ino.0, end)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }
}

impl PowerCutFs {
    fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool, reply: ReplyEmpty) {
        let mut disk = self.disk();
        match disk
            .volatile_mut()
            .and_then(|img| img.remove(parent.0, name, dir))
        {
            Ok(ino) => {
                disk.unlinked(ino);
                reply.ok()
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    /// `.`, `..` and every entry of a directory. `..` names the directory itself: inodes here
    /// do not know their parent, and nothing the tests run looks at it.
    fn listing(&self, dir: Ino) -> Result<Listing> {
        let disk = self.disk();
        let img = disk.volatile()?;
        let mut list = vec![
            (dir, FileType::Directory, OsString::from(".")),
            (dir, FileType::Directory, OsString::from("..")),
        ];
        for (name, &child) in img.entries(dir)?.iter() {
            let node = img.node(child)?;
            list.push((child, kind(node), name.clone()));
        }
        Ok(list)
    }
}
