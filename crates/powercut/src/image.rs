//! The inode table: one whole image of the filesystem, as `ls`, `stat` and `read` see it.
//!
//! Both layers of the disk ([`crate::disk`]) are an [`Image`]. File contents and directory
//! listings sit behind `Arc`s, so copying an image (or a node into the other layer) costs a
//! reference count per node, and a write copies a file's bytes only while the other layer still
//! shares them.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::sync::Arc;
use std::time::SystemTime;

/// An inode number. [`ROOT`] is the root directory.
pub type Ino = u64;
pub const ROOT: Ino = 1;

/// A failed operation, as the errno the kernel passes on.
pub type Errno = i32;
pub type Result<T> = std::result::Result<T, Errno>;

/// What `stat` shows beside the size and the link count.
#[derive(Debug, Clone)]
pub struct Meta {
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
}

impl Meta {
    pub fn new(perm: u16, uid: u32, gid: u32) -> Meta {
        let now = SystemTime::now();
        Meta {
            perm,
            uid,
            gid,
            atime: now,
            mtime: now,
            ctime: now,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Body {
    File(Arc<Vec<u8>>),
    Dir(Arc<BTreeMap<OsString, Ino>>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub meta: Meta,
    pub body: Body,
    /// Names pointing at it (for a directory: 2 plus its subdirectories, as on ext4).
    pub nlink: u32,
}

impl Node {
    pub fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    pub fn size(&self) -> u64 {
        match &self.body {
            Body::File(data) => data.len() as u64,
            Body::Dir(entries) => entries.len() as u64,
        }
    }

    /// The same inode as it was just made, without contents: a file empty, a directory with no
    /// entries. What a name made durable points at when the inode itself never was.
    pub fn skeleton(&self) -> Node {
        let body = match self.body {
            Body::File(_) => Body::File(Arc::default()),
            Body::Dir(_) => Body::Dir(Arc::default()),
        };
        Node {
            meta: self.meta.clone(),
            body,
            nlink: 0,
        }
    }
}

/// Every inode of one filesystem image.
#[derive(Debug, Clone)]
pub struct Image {
    nodes: HashMap<Ino, Node>,
    next: Ino,
}

impl Image {
    /// A freshly made filesystem: an empty root directory.
    pub fn new(uid: u32, gid: u32) -> Image {
        let root = Node {
            meta: Meta::new(0o755, uid, gid),
            body: Body::Dir(Arc::default()),
            nlink: 2,
        };
        Image {
            nodes: HashMap::from([(ROOT, root)]),
            next: ROOT + 1,
        }
    }

    pub fn node(&self, ino: Ino) -> Result<&Node> {
        self.nodes.get(&ino).ok_or(libc::ENOENT)
    }

    pub fn node_mut(&mut self, ino: Ino) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(libc::ENOENT)
    }

    pub fn contains(&self, ino: Ino) -> bool {
        self.nodes.contains_key(&ino)
    }

    /// Put a node in as it is (the durable layer copying from the volatile one).
    pub fn put(&mut self, ino: Ino, node: Node) {
        self.next = self.next.max(ino + 1);
        self.nodes.insert(ino, node);
    }

    pub fn entries(&self, dir: Ino) -> Result<&Arc<BTreeMap<OsString, Ino>>> {
        match &self.node(dir)?.body {
            Body::Dir(entries) => Ok(entries),
            Body::File(_) => Err(libc::ENOTDIR),
        }
    }

    fn entries_mut(&mut self, dir: Ino) -> Result<&mut BTreeMap<OsString, Ino>> {
        match &mut self.node_mut(dir)?.body {
            Body::Dir(entries) => Ok(Arc::make_mut(entries)),
            Body::File(_) => Err(libc::ENOTDIR),
        }
    }

    pub fn lookup(&self, dir: Ino, name: &OsStr) -> Result<Ino> {
        self.entries(dir)?.get(name).copied().ok_or(libc::ENOENT)
    }

    /// Make a new file or directory `name` in `dir` (`EEXIST` if the name is taken).
    pub fn make(&mut self, dir: Ino, name: &OsStr, is_dir: bool, meta: Meta) -> Result<Ino> {
        if self.entries(dir)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next;
        self.next += 1;
        let (body, nlink) = if is_dir {
            (Body::Dir(Arc::default()), 2)
        } else {
            (Body::File(Arc::default()), 1)
        };
        self.nodes.insert(ino, Node { meta, body, nlink });
        self.entries_mut(dir)?.insert(name.to_owned(), ino);
        if is_dir {
            self.node_mut(dir)?.nlink += 1;
        }
        self.touch(dir);
        Ok(ino)
    }

    /// A second name for a file.
    pub fn link(&mut self, ino: Ino, dir: Ino, name: &OsStr) -> Result<()> {
        if self.node(ino)?.is_dir() {
            return Err(libc::EPERM);
        }
        if self.entries(dir)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        self.entries_mut(dir)?.insert(name.to_owned(), ino);
        self.node_mut(ino)?.nlink += 1;
        self.touch(dir);
        Ok(())
    }

    /// Remove a name: a file's (`unlink`) or an empty directory's (`rmdir`). Returns the inode
    /// it named, which the caller frees once nothing uses it.
    pub fn remove(&mut self, dir: Ino, name: &OsStr, want_dir: bool) -> Result<Ino> {
        let ino = self.lookup(dir, name)?;
        let node = self.node(ino)?;
        match (want_dir, node.is_dir()) {
            (false, true) => return Err(libc::EISDIR),
            (true, false) => return Err(libc::ENOTDIR),
            (true, true) if !self.entries(ino)?.is_empty() => return Err(libc::ENOTEMPTY),
            _ => {}
        }
        self.entries_mut(dir)?.remove(name);
        self.unlinked(ino, dir)?;
        self.touch(dir);
        Ok(ino)
    }

    /// Account for one name of `ino` (in `dir`) gone.
    fn unlinked(&mut self, ino: Ino, dir: Ino) -> Result<()> {
        let node = self.node_mut(ino)?;
        if node.is_dir() {
            node.nlink = 0;
            self.node_mut(dir)?.nlink -= 1;
        } else {
            node.nlink -= 1;
        }
        Ok(())
    }

    /// `renameat2`: move `name` in `dir` to `new_name` in `new_dir`, replacing what is there
    /// (unless `noreplace`) as `rename(2)` does. Returns the replaced inode, if any.
    pub fn rename(
        &mut self,
        dir: Ino,
        name: &OsStr,
        new_dir: Ino,
        new_name: &OsStr,
        noreplace: bool,
    ) -> Result<Option<Ino>> {
        let ino = self.lookup(dir, name)?;
        self.entries(new_dir)?;
        let moving_dir = self.node(ino)?.is_dir();
        if moving_dir && (ino == new_dir || self.is_below(new_dir, ino)) {
            return Err(libc::EINVAL);
        }
        let replaced = match self.lookup(new_dir, new_name) {
            Ok(_) if noreplace => return Err(libc::EEXIST),
            Ok(old) if old == ino => return Ok(None),
            Ok(old) => {
                let old_is_dir = self.node(old)?.is_dir();
                match (moving_dir, old_is_dir) {
                    (true, false) => return Err(libc::ENOTDIR),
                    (false, true) => return Err(libc::EISDIR),
                    (true, true) if !self.entries(old)?.is_empty() => return Err(libc::ENOTEMPTY),
                    _ => {}
                }
                self.unlinked(old, new_dir)?;
                Some(old)
            }
            Err(_) => None,
        };
        self.entries_mut(dir)?.remove(name);
        self.entries_mut(new_dir)?.insert(new_name.to_owned(), ino);
        if moving_dir && dir != new_dir {
            self.node_mut(dir)?.nlink -= 1;
            self.node_mut(new_dir)?.nlink += 1;
        }
        self.touch(dir);
        self.touch(new_dir);
        Ok(replaced)
    }

    /// Whether `ino` lies somewhere inside the directory `top`.
    fn is_below(&self, ino: Ino, top: Ino) -> bool {
        let Ok(entries) = self.entries(top) else {
            return false;
        };
        entries
            .values()
            .any(|&child| child == ino || self.is_below(ino, child))
    }

    /// Free an inode no name points at (the caller knows no open file uses it).
    pub fn forget_if_unlinked(&mut self, ino: Ino) {
        if ino != ROOT && self.nodes.get(&ino).is_some_and(|n| n.nlink == 0) {
            self.nodes.remove(&ino);
        }
    }

    fn file_mut(&mut self, ino: Ino) -> Result<&mut Vec<u8>> {
        match &mut self.node_mut(ino)?.body {
            Body::File(data) => Ok(Arc::make_mut(data)),
            Body::Dir(_) => Err(libc::EISDIR),
        }
    }

    pub fn read(&self, ino: Ino, offset: u64, len: u32) -> Result<&[u8]> {
        match &self.node(ino)?.body {
            Body::File(data) => {
                let start = (offset as usize).min(data.len());
                let end = start.saturating_add(len as usize).min(data.len());
                Ok(&data[start..end])
            }
            Body::Dir(_) => Err(libc::EISDIR),
        }
    }

    pub fn write(&mut self, ino: Ino, offset: u64, bytes: &[u8]) -> Result<()> {
        let end = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(bytes.len()))
            .ok_or(libc::EFBIG)?;
        let data = self.file_mut(ino)?;
        if data.len() < end {
            data.resize(end, 0);
        }
        data[end - bytes.len()..end].copy_from_slice(bytes);
        self.modified(ino);
        Ok(())
    }

    /// `truncate`, and `fallocate` that grows a file: the new bytes read as zeros.
    pub fn set_size(&mut self, ino: Ino, size: u64) -> Result<()> {
        let size = usize::try_from(size).map_err(|_| libc::EFBIG)?;
        self.file_mut(ino)?.resize(size, 0);
        self.modified(ino);
        Ok(())
    }

    /// Zeros over a range inside the file (`fallocate` punching a hole or zeroing a range).
    pub fn zero_range(&mut self, ino: Ino, offset: u64, len: u64) -> Result<()> {
        let data = self.file_mut(ino)?;
        let start = (offset as usize).min(data.len());
        let end = (offset.saturating_add(len) as usize).min(data.len());
        data[start..end].fill(0);
        self.modified(ino);
        Ok(())
    }

    fn modified(&mut self, ino: Ino) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            let now = SystemTime::now();
            node.meta.mtime = now;
            node.meta.ctime = now;
        }
    }

    fn touch(&mut self, dir: Ino) {
        self.modified(dir);
    }

    /// The image as a filesystem check would leave it after a crash: only inodes reachable
    /// from the root, with link counts counted again from the names that survived.
    pub fn reachable(&self) -> Image {
        let mut nodes: HashMap<Ino, Node> = HashMap::new();
        let mut stack = vec![ROOT];
        while let Some(ino) = stack.pop() {
            let Some(node) = self.nodes.get(&ino) else {
                continue;
            };
            if nodes.contains_key(&ino) {
                continue;
            }
            let mut node = node.clone();
            node.nlink = if node.is_dir() { 2 } else { 0 };
            if let Body::Dir(entries) = &node.body {
                stack.extend(entries.values().copied());
            }
            nodes.insert(ino, node);
        }
        // Count the names again. A name whose inode is not in the image is dropped (the durable
        // layer never leaves one, but a dangling name must not survive a reboot).
        let dirs: Vec<Ino> = nodes
            .iter()
            .filter(|(_, n)| n.is_dir())
            .map(|(&i, _)| i)
            .collect();
        for dir in dirs {
            let Body::Dir(entries) = &nodes[&dir].body else {
                unreachable!("listed as a directory");
            };
            let mut entries = (**entries).clone();
            entries.retain(|_, child| nodes.contains_key(child));
            for child in entries.values() {
                let parent = if nodes[child].is_dir() { dir } else { *child };
                nodes.get_mut(&parent).expect("present").nlink += 1;
            }
            nodes.get_mut(&dir).expect("present").body = Body::Dir(Arc::new(entries));
        }
        let next = nodes.keys().max().map_or(ROOT, |&m| m) + 1;
        Image { nodes, next }
    }

    pub fn inodes(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes of file contents (for `statfs`).
    pub fn bytes(&self) -> u64 {
        self.nodes.values().map(|n| n.size()).sum()
    }
}
