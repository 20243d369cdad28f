//! A disk that loses power, for Sealdrop's tests: a FUSE filesystem held in memory that keeps
//! every change volatile until it is flushed, and on a cut throws away all that was not.
//!
//! Killing a process with SIGKILL proves nothing about durability: the kernel's page cache
//! outlives the process, so a program that never calls fsync passes such a test. This
//! filesystem is the page cache and the disk at once, and it forgets the page cache on demand.
//!
//! # The model
//!
//! Two layers ([`disk`]), each a whole filesystem image ([`image`]): the volatile one, which
//! every operation reads and changes, and the durable one, which only flushes change:
//!
//! | call | made durable |
//! | --- | --- |
//! | `fsync`/`fdatasync` of a file | that file's contents, size and attributes (not its names) |
//! | `fsync` of a directory | its entries: names created, renamed in or out, removed |
//! | `syncfs`, `sync` | everything (passed on by [`SyncfsBridge`]: FUSE never sees them) |
//! | `close`, `sync_file_range`, `rename`, `link`, anything else | nothing |
//!
//! This is the strict reading of POSIX that careful programs are written against, stricter than
//! ext4 (whose fsync commits the whole journal, and so often every other pending name as well):
//!
//! - a new file whose directory was never fsynced is gone after a cut, whatever was done to the
//!   file; one whose directory was fsynced but whose data was not comes back empty;
//! - a rename not followed by an fsync of its directories is undone (an fsync of only the target
//!   directory leaves the file under both names, each a hard link);
//! - a directory made durable by its parent but never fsynced itself comes back empty;
//! - an unlink not followed by a directory fsync is undone.
//!
//! [`Mounted::cut`] fails every later operation with `EIO` at one instant (between two FUSE
//! requests, under one lock), freezes the durable layer, and [`Mounted::reboot`] mounts a new
//! FUSE session on the durable image, less the inodes no surviving name reaches (as a filesystem
//! check would drop them), with link counts counted again.
//!
//! What SQLite and the server need works: write-ahead logging, the `-shm` file SQLite maps with
//! `mmap` (page-cache data is kept across opens, so the mapping stays coherent), POSIX and `flock`
//! locks (left to the kernel, which keeps them locally), `O_EXCL` creates, `renameat2` with
//! `RENAME_NOREPLACE`, `link`, `fallocate`, `O_DIRECT` writes, `statfs` (a 64 GiB disk).
//!
//! # What it does not simulate
//!
//! - Torn or reordered writes inside a file: a flushed file is durable whole, an unflushed write
//!   is lost whole. A real disk may persist part of an unflushed write, some sectors but not
//!   others, or (on power loss mid-write) a torn sector. Programs relying on sector atomicity
//!   are not tested here; SQLite's WAL checksums are designed for it, and are not exercised.
//! - Partly flushed state between flushes: on a real disk, writeback may make *more* durable than
//!   was flushed (a rename may land before the data it names). Only the pessimistic outcome is
//!   tested (nothing unflushed survives), not every mixture of the two; so "new data under an old
//!   name" cases that ext4's `auto_da_alloc` exists for are not produced.
//! - Flush errors: an fsync either succeeds fully or the power is already off; no `EIO` from a
//!   failing disk while it is still powered, no lost flushes from a lying disk cache.
//! - Space: `ENOSPC` never happens; `statfs` reports a fixed 64 GiB.
//! - Extended attributes, symlinks, device nodes, `RENAME_EXCHANGE`: not implemented.
//! - Timestamps are kept but nothing here checks them; `..` entries name the directory itself.
//! - `syncfs`/`sync` reach the disk only from a process started through [`SyncfsBridge`] (a
//!   seccomp filter); from any other process they flush nothing.

pub mod disk;
mod fs;
pub mod image;
mod mount;
mod syncfs;

pub use disk::Flushes;
pub use mount::{check_fuse, MountError, Mounted, PowerSwitch};
pub use syncfs::SyncfsBridge;
