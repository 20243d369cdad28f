//! Disk accounting that a client can neither fake nor probe.
//!
//! Nothing here trusts what a client declares. A submission starts with a small fixed
//! reservation ([`BASE`]), and its reservation grows in [`STEP`]s as its ciphertext is really
//! written; a step that does not fit stops the upload with the "full" page. Every decision
//! compares against *coarse* headroom: free space above the floor and room under the quota,
//! rounded down to [`Space::granularity`], and free inodes above their floor, rounded down to
//! [`INODE_GRANULARITY`]. So the answer before a body is read is the same for every request,
//! whatever length it declares, and even an upload that runs into the limit learns the headroom
//! only to within that granularity. See docs/ARCHITECTURE.md ("Disk accounting").

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::StoreError;

/// A submission's reservation grows in steps of this many bytes.
pub const STEP: u64 = 1 << 20;
/// Set aside when a submission starts: its envelope (sealed in memory, written at commit; a few
/// KiB, some hundreds with the longest message and names) and that file's charge.
pub const BASE: u64 = STEP;
/// What the quota charges per blob file beyond its allocated blocks: its inode, directory entry
/// and journal share, counted as one 4 KiB block.
pub const FILE_CHARGE: u64 = 4096;
/// Reserved per attachment file before its first byte: the per-file charge and its last,
/// partly filled block.
const FILE_RESERVE: u64 = 2 * FILE_CHARGE;
/// The coarsest rounding of byte headroom.
const MAX_GRANULARITY: u64 = 64 << 20;
/// Free inodes are rounded down to a multiple of this before any decision (a submission has at
/// most `max_files` + 1 files, 21 by default).
pub const INODE_GRANULARITY: u64 = 64;

/// What keeps the disk from filling.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// Bytes that must stay free on the data disk.
    pub min_free_bytes: u64,
    /// Most bytes the blobs may take (allocated blocks plus [`FILE_CHARGE`] each); `None` for
    /// no quota beyond free space.
    pub max_stored_bytes: Option<u64>,
    /// Inodes that must stay free on the data disk (ignored on filesystems without a fixed
    /// inode count, such as btrfs).
    pub min_free_inodes: u64,
}

/// Why a reservation was refused. Only coarse figures went into the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoRoom {
    #[error("the storage quota is reached")]
    Quota,
    #[error("the disk is nearly full")]
    Disk,
    #[error("the disk is nearly out of inodes")]
    Inodes,
    /// The filesystem itself said so (ENOSPC), whatever the figures promised.
    #[error("the disk filled up")]
    Filled,
}

impl From<NoRoom> for io::Error {
    /// The upload path already turns "storage full" I/O errors into the "full" page.
    fn from(e: NoRoom) -> io::Error {
        io::Error::new(io::ErrorKind::StorageFull, e)
    }
}

/// Totals over every submission in flight, or one submission's own figures.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    /// Bytes set aside.
    reserved: u64,
    /// Ciphertext bytes already written (the filesystem's free count already shows them).
    written: u64,
    /// Bytes of per-file charges taken so far.
    charges: u64,
    /// Files still to be created (the envelope, written at commit).
    pending_inodes: u64,
}

pub(super) struct Space {
    data_dir: PathBuf,
    quota: Quota,
    granularity: u64,
    /// A read connection: `usage` is kept by triggers, so it is current whichever process wrote
    /// last (a purge frees room at once).
    reader: Mutex<Connection>,
    totals: Mutex<Figures>,
}

impl Space {
    pub(super) fn new(data_dir: PathBuf, quota: Quota, reader: Connection) -> io::Result<Space> {
        let total = {
            let st = rustix::fs::statvfs(&data_dir)?;
            st.f_blocks.saturating_mul(st.f_frsize)
        };
        Ok(Space {
            granularity: granularity(total, quota.max_stored_bytes),
            data_dir,
            quota,
            reader: Mutex::new(reader),
            totals: Mutex::new(Figures::default()),
        })
    }

    pub(super) fn granularity(&self) -> u64 {
        self.granularity
    }

    /// Bytes the blobs take, as the index says now.
    pub(super) fn stored_bytes(&self) -> Result<u64, StoreError> {
        let reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: i64 = reader
            .prepare_cached("SELECT bytes FROM usage WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        Ok(bytes.max(0) as u64)
    }

    /// Would `own` (one submission's figures after a change) fit beside everything else in
    /// flight? `old` is what that submission held before, already in `totals`.
    fn admit(&self, totals: &Figures, old: &Figures, own: &Figures) -> Result<(), StoreError> {
        let others_reserved = totals.reserved - old.reserved;
        let others_unwritten = (totals.reserved - totals.written) - (old.reserved - old.written);
        let others_inodes = totals.pending_inodes - old.pending_inodes;
        let st = rustix::fs::statvfs(&self.data_dir).map_err(io::Error::from)?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        // This submission's written bytes are already gone from `free`: add them back so the
        // headroom is the same figure whichever submission asks.
        let disk = (free + old.written)
            .saturating_sub(self.quota.min_free_bytes.saturating_add(others_unwritten));
        if round_down(disk, self.granularity) < own.reserved {
            return Err(StoreError::Full(NoRoom::Disk));
        }
        if let Some(max) = self.quota.max_stored_bytes {
            let room = max.saturating_sub(self.stored_bytes()? + others_reserved);
            if round_down(room, self.granularity) < own.reserved {
                return Err(StoreError::Full(NoRoom::Quota));
            }
        }
        // A filesystem without a fixed inode table reports none at all.
        if st.f_files > 0 {
            let inodes = st
                .f_favail
                .saturating_sub(self.quota.min_free_inodes.saturating_add(others_inodes));
            if round_down(inodes, INODE_GRANULARITY) < own.pending_inodes.max(1) {
                return Err(StoreError::Full(NoRoom::Inodes));
            }
        }
        Ok(())
    }
}

/// How coarsely byte headroom is rounded: 1/64 of the filesystem (its size is no secret) and
/// 1/32 of the quota, as a power of two between [`STEP`] and 64 MiB. What it costs is at most
/// that much headroom left unused.
fn granularity(filesystem: u64, quota: Option<u64>) -> u64 {
    let limit = quota.map_or(filesystem / 64, |q| (q / 32).min(filesystem / 64));
    let pow2 = if limit == 0 {
        0
    } else {
        1u64 << (63 - limit.leading_zeros())
    };
    pow2.clamp(STEP, MAX_GRANULARITY)
}

fn round_down(n: u64, to: u64) -> u64 {
    n - n % to
}

/// Room held by one submission in flight; grows as its ciphertext is written, and is given back
/// when the last handle drops (by then the commit has counted the blobs in `usage`, or the
/// files are gone).
#[derive(Clone)]
pub struct Room {
    inner: Arc<RoomInner>,
}

struct RoomInner {
    space: Arc<Space>,
    own: Mutex<Figures>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Room")
    }
}

impl Room {
    /// The check before a body is read: [`BASE`] bytes and one inode, against coarse figures.
    /// Since [`BASE`] is at most the granularity, this says only whether the coarse headroom
    /// is zero: the same answer for every request.
    pub(super) fn open(space: &Arc<Space>) -> Result<Room, StoreError> {
        let want = Figures {
            reserved: BASE,
            pending_inodes: 1,
            ..Figures::default()
        };
        let mut totals = space.totals.lock().unwrap_or_else(|e| e.into_inner());
        space.admit(&totals, &Figures::default(), &want)?;
        totals.reserved += want.reserved;
        totals.pending_inodes += want.pending_inodes;
        Ok(Room {
            inner: Arc::new(RoomInner {
                space: Arc::clone(space),
                own: Mutex::new(want),
            }),
        })
    }

    /// Before an attachment's file is created: its charge and one inode.
    pub fn add_file(&self) -> Result<(), StoreError> {
        self.change(|own| {
            own.charges += FILE_RESERVE;
        })
    }

    /// Before `bytes` more ciphertext is written.
    pub fn add_bytes(&self, bytes: u64) -> Result<(), StoreError> {
        self.change(|own| own.written += bytes)
    }

    /// Apply `f` to this submission's figures, growing the reservation in steps if it no longer
    /// covers them; on refusal nothing changes.
    fn change(&self, f: impl FnOnce(&mut Figures)) -> Result<(), StoreError> {
        let space = &self.inner.space;
        let mut totals = space.totals.lock().unwrap_or_else(|e| e.into_inner());
        let mut own = self.inner.own.lock().unwrap_or_else(|e| e.into_inner());
        let old = *own;
        let mut new = old;
        f(&mut new);
        let needed = BASE + new.charges + new.written;
        let grows = needed > new.reserved || new.charges > old.charges;
        if needed > new.reserved {
            new.reserved = needed.next_multiple_of(STEP);
        }
        if grows {
            // A new file needs an inode now (checked as one more pending).
            let mut asked = new;
            if new.charges > old.charges {
                asked.pending_inodes += 1;
            }
            space.admit(&totals, &old, &asked)?;
        }
        totals.reserved = totals.reserved - old.reserved + new.reserved;
        totals.written = totals.written - old.written + new.written;
        totals.charges = totals.charges - old.charges + new.charges;
        *own = new;
        Ok(())
    }
}

impl Drop for RoomInner {
    fn drop(&mut self) {
        let own = *self.own.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut totals = self.space.totals.lock().unwrap_or_else(|e| e.into_inner());
        totals.reserved -= own.reserved;
        totals.written -= own.written;
        totals.charges -= own.charges;
        totals.pending_inodes -= own.pending_inodes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granularity_follows_the_filesystem_and_the_quota() {
        const MIB: u64 = 1 << 20;
        assert_eq!(granularity(20_000 * MIB, None), 64 * MIB);
        assert_eq!(granularity(256 * MIB, None), 4 * MIB);
        assert_eq!(granularity(20_000 * MIB, Some(4 * MIB)), MIB);
        assert_eq!(granularity(20_000 * MIB, Some(100 * MIB)), 2 * MIB);
        assert_eq!(granularity(0, Some(0)), MIB);
    }
}
