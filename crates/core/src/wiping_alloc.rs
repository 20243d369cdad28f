//! A global allocator that wipes every block before it is freed.
//!
//! Sealdrop wipes the plaintext buffers it owns (`Zeroizing`, [`crate::wiped`]), but plaintext is
//! also copied into buffers it does not own: hyper's receive buffers, the age crate's chunk
//! buffer, serde_json's scratch space, a `Vec` that grew and left its old buffer behind. Those are
//! freed, not wiped, so an attacker who later gains code execution in the process could find past
//! plaintext in freed heap. Installed with `#[global_allocator]` in both binaries, [`Wiping`]
//! zeroes every block as it is freed, whoever allocated it, so freed heap holds no plaintext.
//!
//! What it cannot cover: memory still *live* (a buffer a connection keeps for its next request),
//! memory not obtained through Rust's allocator (C code calling `malloc` directly, such as
//! SQLite), and copies outside the process (the kernel's socket buffers and page cache). See
//! "Plaintext in memory" in docs/ARCHITECTURE.md.
//!
//! `realloc` is implemented as allocate-new + copy + wipe-old + free-old, never with the backend's
//! own `realloc`. A backend `realloc` that moves the block frees the old one unwiped, and we
//! cannot know beforehand whether it will move; one that shrinks in place splits off the tail and
//! frees it unwiped. Wiping the tail before an in-place shrink would cover only the second case.
//! Always moving costs one copy per resize, which a growing `Vec` amortises (it doubles), and
//! loses glibc's `mremap` shortcut for huge blocks; the intake benchmark measures the total cost
//! (docs/ARCHITECTURE.md).

use std::alloc::{GlobalAlloc, Layout, System};

/// Zero `len` bytes at `ptr` in a way the compiler may not remove.
///
/// A plain `memset` right before `free` is a dead store that LLVM deletes (it knows `free`). This
/// writes with `ptr::write_bytes` (a fast `memset`) and then tells the compiler, through an empty
/// `asm!` block that takes the pointer and may read memory, that the bytes are observed: the
/// same trick as the Linux kernel's `memzero_explicit`. Where inline assembly is not available, it
/// falls back to volatile writes, one byte at a time.
///
/// # Safety
///
/// `ptr` must be valid for writes of `len` bytes.
#[inline]
pub unsafe fn wipe(ptr: *mut u8, len: usize) {
    if len == 0 {
        return;
    }
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64"
    ))]
    {
        // SAFETY: the caller guarantees `ptr..ptr+len` is writable.
        unsafe { std::ptr::write_bytes(ptr, 0, len) };
        // SAFETY: an empty template; it only makes the compiler assume memory behind `ptr` is read.
        unsafe { std::arch::asm!("/* {0} */", in(reg) ptr, options(nostack, preserves_flags)) };
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64"
    )))]
    {
        for i in 0..len {
            // SAFETY: as above, byte by byte.
            unsafe { std::ptr::write_volatile(ptr.add(i), 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// How much of its stack [`wipe_stack`] clears below the caller's frame.
pub const STACK_WIPE_BYTES: usize = 256 * 1024;

/// Zero the [`STACK_WIPE_BYTES`] of stack below the caller's frame, where deeper calls that have
/// returned left their locals: plaintext that the allocator never sees (SIMD loads that `memchr`
/// spills while scanning a part's headers, a cipher's block on the stack). Call it from a
/// shallow frame when the deep work is done: the server's runtime calls it each time a worker
/// thread goes idle, and an upload's sealing thread when the upload ends.
///
/// The thread's stack must have this much room below the caller (tokio's threads have 2 MiB).
#[inline(never)]
pub fn wipe_stack() {
    let mut scratch = [0u8; STACK_WIPE_BYTES];
    // SAFETY: `scratch` is a local of that many bytes.
    unsafe { wipe(scratch.as_mut_ptr(), scratch.len()) };
    std::hint::black_box(&mut scratch);
}

/// Wraps an allocator so that every block is wiped before it is handed back to it.
pub struct Wiping<A>(A);

/// What the binaries install: the system allocator, wiping.
pub type WipingAllocator = Wiping<System>;

impl WipingAllocator {
    /// For `#[global_allocator] static ALLOC: WipingAllocator = WipingAllocator::new();`.
    pub const fn new() -> Self {
        Wiping(System)
    }
}

impl Default for WipingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> Wiping<A> {
    /// Wrap any backend (the tests use one that checks what it is handed).
    pub const fn wrap(backend: A) -> Self {
        Wiping(backend)
    }
}

// SAFETY: every method forwards to the backend with the same layouts; `dealloc` only writes the
// block (which the caller still owns) before freeing it, and `realloc` is an ordinary
// alloc + copy + dealloc, which the `GlobalAlloc` contract allows.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Wiping<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { self.0.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller owns `layout.size()` bytes at `ptr` until this returns.
        unsafe {
            wipe(ptr, layout.size());
            self.0.dealloc(ptr, layout);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to the alignment, does not overflow
        // isize, so this layout is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (the caller's contract).
        let new = unsafe { self.0.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and do not overlap; the old
            // block is then wiped and freed by `dealloc`.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        // On failure the old block stays allocated and untouched, as `realloc` requires.
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A backend over `System` that records, at each free, the block's size and whether every
    /// byte of it was zero at that moment (read before the block is handed back, so sound).
    #[derive(Default)]
    struct Recording {
        freed: Mutex<Vec<(usize, bool)>>,
    }

    unsafe impl GlobalAlloc for Recording {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let bytes = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            let zero = bytes.iter().all(|&b| b == 0);
            self.freed.lock().unwrap().push((layout.size(), zero));
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, _: *mut u8, _: Layout, _: usize) -> *mut u8 {
            panic!(
                "Wiping must never use the backend's realloc: it would free the old block unwiped"
            );
        }
    }

    fn fill(ptr: *mut u8, len: usize, byte: u8) {
        unsafe { std::ptr::write_bytes(ptr, byte, len) };
    }

    #[test]
    fn wipe_stack_runs_on_a_small_thread() {
        // Enough room for the scratch and a little more: it must not need more than it says.
        std::thread::Builder::new()
            .stack_size(STACK_WIPE_BYTES + 128 * 1024)
            .spawn(wipe_stack)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn wipe_zeroes_every_byte_and_nothing_else() {
        let mut buf = [0xAAu8; 100];
        unsafe { wipe(buf.as_mut_ptr().add(10), 80) };
        assert!(buf[..10].iter().all(|&b| b == 0xAA));
        assert!(buf[10..90].iter().all(|&b| b == 0));
        assert!(buf[90..].iter().all(|&b| b == 0xAA));
        unsafe { wipe(buf.as_mut_ptr(), 0) };
        assert_eq!(buf[0], 0xAA);
    }

    #[test]
    fn dealloc_hands_back_a_zeroed_block() {
        let a = Wiping::wrap(Recording::default());
        for size in [1, 7, 64, 4096, 1 << 20] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                fill(p, size, 0x5A);
                a.dealloc(p, layout);
            }
        }
        let freed = a.0.freed.lock().unwrap();
        assert_eq!(
            *freed,
            vec![
                (1, true),
                (7, true),
                (64, true),
                (4096, true),
                (1 << 20, true)
            ]
        );
    }

    #[test]
    fn realloc_grow_and_shrink_keep_the_data_and_wipe_the_old_block() {
        let a = Wiping::wrap(Recording::default());
        let layout = Layout::from_size_align(1000, 16).unwrap();
        unsafe {
            let p = a.alloc(layout);
            for i in 0..1000 {
                *p.add(i) = (i % 251) as u8 + 1;
            }
            // Grow: the data moves, the old block is wiped as it is freed.
            let q = a.realloc(p, layout, 5000);
            assert!(!q.is_null());
            assert_eq!(q as usize % 16, 0, "the alignment is kept");
            for i in 0..1000 {
                assert_eq!(*q.add(i), (i % 251) as u8 + 1);
            }
            // Shrink: the tail must not survive in a block handed back whole or split.
            let grown = Layout::from_size_align(5000, 16).unwrap();
            let r = a.realloc(q, grown, 10);
            for i in 0..10 {
                assert_eq!(*r.add(i), (i % 251) as u8 + 1);
            }
            a.dealloc(r, Layout::from_size_align(10, 16).unwrap());
        }
        let freed = a.0.freed.lock().unwrap();
        assert_eq!(*freed, vec![(1000, true), (5000, true), (10, true)]);
    }

    #[test]
    fn vec_growth_through_the_wrapper_leaves_no_unwiped_block() {
        // The pattern the issue is about: a growing buffer frees its old, smaller copies.
        let a = Wiping::wrap(Recording::default());
        unsafe {
            let mut layout = Layout::from_size_align(8, 1).unwrap();
            let mut p = a.alloc(layout);
            fill(p, 8, b'x');
            for _ in 0..10 {
                let new_size = layout.size() * 2;
                p = a.realloc(p, layout, new_size);
                layout = Layout::from_size_align(new_size, 1).unwrap();
                fill(p, new_size, b'x');
            }
            a.dealloc(p, layout);
        }
        let freed = a.0.freed.lock().unwrap();
        assert_eq!(freed.len(), 11);
        assert!(freed.iter().all(|&(_, zero)| zero), "{freed:?}");
    }
}
