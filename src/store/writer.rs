//! Writing a blob's ciphertext to disk as it is sealed.
//!
//! A small blob (an envelope, a photo) goes through the page cache like any file and is made
//! durable with its batch at commit. Past its first MiB, a blob (a large upload) moves to a
//! pipeline: the sealing thread fills 256 KiB buffers and a disk thread of the blob's own writes
//! them, with direct I/O where the filesystem allows it.
//!
//! Why: on the 2-core reference machine, copying 1 GiB into the page cache costs the kernel
//! about one core-second, as much as age's cipher, and it ran on the sealing thread. With direct
//! I/O the disk takes the buffer as it is (under 0.1 core-seconds per GiB), and the disk thread
//! waits for the disk while the cipher goes on. Only ciphertext passes through here, so nothing
//! in these buffers needs wiping.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Bytes written through the page cache before a blob moves to the pipeline. A multiple of
/// [`ALIGN`], so every direct write after it starts on an aligned offset.
const SMALL_BLOB: u64 = 1 << 20;
/// Size of each pipeline buffer while few large uploads run at once, a multiple of [`ALIGN`]:
/// direct writes of a MiB keep one upload at the cipher's speed (256 KiB ones made a 1 GiB
/// upload 1.7 times slower on the reference machine).
const BUF_LEN: usize = 1 << 20;
/// Size of each pipeline buffer when more than [`FULL_SIZE_PIPELINES`] run: every upload slot of
/// the default configuration (32) streaming at once must stay inside the server's 64 MiB memory
/// target (1 MiB buffers for all took it to 137 MiB). Many uploads share the disk anyway.
const SMALL_BUF_LEN: usize = 256 << 10;
/// Pipelines that get [`BUF_LEN`] buffers; later ones, while these run, get smaller ones.
const FULL_SIZE_PIPELINES: usize = 2;
/// Pipelines running now, across the server.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Buffers per large blob: one filling, one being written, one spare for the disk's hiccups.
const BUFFERS: usize = 3;
/// Direct I/O wants addresses, offsets and lengths in multiples of the device's logical block.
/// 4 KiB covers common devices; a device wanting more makes the disk thread fall back to the
/// page cache.
const ALIGN: usize = 4096;

/// Writes one blob's ciphertext. Dropping it writes what is still buffered and waits for the
/// disk thread; a failure then is kept for [`super::IncomingBlob::finish`] to report.
pub struct BlobWriter<'a> {
    file: &'a File,
    /// Charged before each write, so an upload never holds more than it has reserved.
    room: Option<&'a super::Room>,
    failure: &'a mut Option<io::Error>,
    written: u64,
    pipeline: Option<Pipeline>,
    /// Off only in tests, to exercise the page-cache path on any filesystem.
    try_direct: bool,
    /// A write failed: the blob is incomplete, whatever happens next.
    broken: bool,
}

impl<'a> BlobWriter<'a> {
    pub(super) fn new(
        file: &'a File,
        failure: &'a mut Option<io::Error>,
        room: Option<&'a super::Room>,
    ) -> Self {
        BlobWriter {
            file,
            room,
            failure,
            written: 0,
            pipeline: None,
            try_direct: true,
            broken: false,
        }
    }

    /// Write what is buffered and wait for the disk thread.
    fn close(&mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("an earlier write to this blob failed"));
        }
        let Some(pipeline) = self.pipeline.take() else {
            return Ok(());
        };
        pipeline.finish()?;
        // The last buffer was padded to an aligned length: cut the file to what was written.
        self.file.set_len(self.written)
    }

    fn write_through(&mut self, mut data: &[u8]) -> io::Result<()> {
        if self.pipeline.is_none() {
            let room = (SMALL_BLOB - self.written) as usize;
            if data.len() <= room {
                return self.file.write_all(data);
            }
            self.file.write_all(&data[..room])?;
            data = &data[room..];
            self.pipeline = Some(Pipeline::start(self.file, SMALL_BLOB, self.try_direct)?);
        }
        self.pipeline.as_mut().expect("started above").write(data)
    }
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.broken {
            return Err(io::Error::other("an earlier write to this blob failed"));
        }
        if let Some(room) = self.room {
            if let Err(e) = room.add_bytes(data.len() as u64) {
                // Nothing more is written: wait for the disk thread, so no write lands after
                // the abandoned file is deleted.
                self.broken = true;
                if let Some(mut pipeline) = self.pipeline.take() {
                    let _ = pipeline.stop();
                }
                return Err(super::blobs::room_error(e));
            }
        }
        if let Err(e) = self.write_through(data) {
            self.broken = true;
            // A pipeline that failed has already waited for its disk thread; the file is
            // abandoned.
            self.pipeline = None;
            return Err(e);
        }
        self.written += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BlobWriter<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            *self.failure = Some(e);
        }
    }
}

/// The sealing side of a large blob's pipeline.
struct Pipeline {
    /// This pipeline's buffer size, chosen at its start.
    buf_len: usize,
    _running: Running,
    fill: AlignedBuf,
    filled: usize,
    /// Where `fill` begins in the file.
    at: u64,
    /// Buffers made so far, up to [`BUFFERS`].
    made: usize,
    jobs: Option<mpsc::SyncSender<Job>>,
    spares: mpsc::Receiver<AlignedBuf>,
    disk: Option<JoinHandle<io::Result<()>>>,
}

/// A buffer for the disk thread to write: its first `len` bytes, at offset `at`.
struct Job {
    buf: AlignedBuf,
    len: usize,
    at: u64,
}

impl Pipeline {
    fn start(file: &File, at: u64, try_direct: bool) -> io::Result<Pipeline> {
        let file = file.try_clone()?;
        let (jobs, queued) = mpsc::sync_channel(BUFFERS);
        let (give_back, spares) = mpsc::sync_channel(BUFFERS);
        let disk = std::thread::Builder::new()
            .name("sealdrop-disk".into())
            .spawn(move || disk_thread(file, try_direct, queued, give_back))?;
        let (running, others) = Running::start();
        let buf_len = if others < FULL_SIZE_PIPELINES {
            BUF_LEN
        } else {
            SMALL_BUF_LEN
        };
        Ok(Pipeline {
            buf_len,
            _running: running,
            fill: AlignedBuf::new(buf_len),
            filled: 0,
            at,
            made: 1,
            jobs: Some(jobs),
            spares,
            disk: Some(disk),
        })
    }

    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = data.len().min(self.buf_len - self.filled);
            self.fill.bytes_mut()[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == self.buf_len {
                let next = self.spare()?;
                self.hand_over(next)?;
            }
        }
        Ok(())
    }

    /// An empty buffer: a new one while fewer than [`BUFFERS`] exist, else one the disk
    /// thread has finished with.
    fn spare(&mut self) -> io::Result<AlignedBuf> {
        if self.made < BUFFERS {
            self.made += 1;
            return Ok(AlignedBuf::new(self.buf_len));
        }
        match self.spares.recv() {
            Ok(buf) => Ok(buf),
            Err(_) => Err(self.failed()),
        }
    }

    /// Send the filled buffer (its first `filled` bytes) to the disk thread; go on with `next`.
    fn hand_over(&mut self, next: AlignedBuf) -> io::Result<()> {
        let job = Job {
            buf: std::mem::replace(&mut self.fill, next),
            len: self.filled,
            at: self.at,
        };
        self.at += self.filled as u64;
        self.filled = 0;
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.failed()),
        }
    }

    /// Write the last, partial buffer (padded with zeros to an aligned length) and wait for
    /// the disk thread to finish.
    fn finish(mut self) -> io::Result<()> {
        if self.filled > 0 {
            let padded = self.filled.next_multiple_of(ALIGN);
            self.fill.bytes_mut()[self.filled..padded].fill(0);
            self.filled = padded;
            self.hand_over(AlignedBuf::empty())?;
        }
        self.stop()
    }

    /// Close the queue and wait for the disk thread: its own error, if it failed, is the one
    /// worth reporting.
    fn stop(&mut self) -> io::Result<()> {
        self.jobs = None;
        match self.disk.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the disk writer thread panicked")),
            None => Err(io::Error::other(
                "the disk writer thread had already stopped",
            )),
        }
    }

    /// The disk thread stopped taking work: why.
    fn failed(&mut self) -> io::Error {
        match self.stop() {
            Err(e) => e,
            Ok(()) => io::Error::other("the disk writer thread stopped early"),
        }
    }
}

/// Write each job at its offset, then give the buffer back. Ends when the sender is gone.
fn disk_thread(
    file: File,
    try_direct: bool,
    jobs: mpsc::Receiver<Job>,
    give_back: mpsc::SyncSender<AlignedBuf>,
) -> io::Result<()> {
    let mut direct = try_direct && set_direct(&file, true).is_ok();
    let mut writeback = Writeback::default();
    for job in jobs {
        let data = &job.buf.bytes()[..job.len];
        if direct {
            match file.write_all_at(data, job.at) {
                // The device wants a coarser alignment than ours: use the page cache from here.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    direct = false;
                    set_direct(&file, false)?;
                    file.write_all_at(data, job.at)?;
                }
                other => other?,
            }
        } else {
            file.write_all_at(data, job.at)?;
            writeback.after_write(&file, job.at + job.len as u64);
        }
        // The sealing side may already be gone (it failed): then the buffer is simply freed.
        let _ = give_back.send(job.buf);
    }
    Ok(())
}

/// Turn direct I/O on or off for the file (shared by every descriptor of this open file).
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> io::Result<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let flags = fcntl_getfl(file)?;
    let flags = if on {
        flags | OFlags::DIRECT
    } else {
        flags - OFlags::DIRECT
    };
    Ok(fcntl_setfl(file, flags)?)
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &File, on: bool) -> io::Result<()> {
    if on {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    } else {
        Ok(())
    }
}

/// How much written data may wait before its writeback is started.
const WRITEBACK_STEP: u64 = 8 << 20;
/// How far behind the newest data writeback is waited for.
const WRITEBACK_LAG: u64 = 4 * WRITEBACK_STEP;

/// Pushes a large blob's pages towards the disk as it is written through the page cache (when
/// direct I/O is not available).
///
/// Left alone, the kernel would keep the pages dirty until the final fsync, which then waits for
/// all of it: disk time added to network and cipher time. Starting writeback every few MiB (and
/// waiting for the stretch well before) overlaps them and keeps dirty memory bounded.
#[derive(Default)]
struct Writeback {
    /// Where the stretch not yet handed to writeback begins.
    started: u64,
}

impl Writeback {
    #[cfg(target_os = "linux")]
    fn after_write(&mut self, file: &File, end: u64) {
        use std::os::fd::AsRawFd;
        if end - self.started < WRITEBACK_STEP {
            return;
        }
        let fd = file.as_raw_fd();
        let (start, len) = (self.started as i64, (end - self.started) as i64);
        // SAFETY: sync_file_range only reads its integer arguments; `fd` is open for the call.
        // Both calls are advisory: the final fsync is what makes the blob durable.
        unsafe {
            libc::sync_file_range(fd, start, len, libc::SYNC_FILE_RANGE_WRITE);
            // Wait only for a stretch well behind, so the disk keeps a deep queue.
            let behind = start - WRITEBACK_LAG as i64;
            if behind > 0 {
                let from = (behind - WRITEBACK_STEP as i64).max(0);
                libc::sync_file_range(
                    fd,
                    from,
                    behind - from,
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE
                        | libc::SYNC_FILE_RANGE_WRITE
                        | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                );
            }
        }
        self.started = end;
    }

    #[cfg(not(target_os = "linux"))]
    fn after_write(&mut self, _file: &File, end: u64) {
        self.started = end;
    }
}

/// Counts a pipeline as running while it lives.
struct Running;

impl Running {
    /// Count one more; also says how many were running before it.
    fn start() -> (Running, usize) {
        (Running, RUNNING.fetch_add(1, Ordering::SeqCst))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A buffer of `len` bytes starting on an [`ALIGN`]-byte boundary, as direct I/O needs.
struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> AlignedBuf {
        let storage = vec![0; len + ALIGN];
        let start = storage.as_ptr().align_offset(ALIGN);
        AlignedBuf {
            storage,
            start,
            len,
        }
    }

    /// A placeholder that owns no memory, for a pipeline that is winding down.
    fn empty() -> AlignedBuf {
        AlignedBuf {
            storage: Vec::new(),
            start: 0,
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 4099) as u8).collect()
    }

    /// Write `data` in pieces of `piece` bytes, drop the writer, and read the file back.
    fn write_and_read(data: &[u8], piece: usize, try_direct: bool) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let file = File::create(&path).unwrap();
        let mut failure = None;
        {
            let mut writer = BlobWriter::new(&file, &mut failure, None);
            writer.try_direct = try_direct;
            for chunk in data.chunks(piece) {
                writer.write_all(chunk).unwrap();
            }
        }
        assert!(failure.is_none(), "{failure:?}");
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn every_size_around_the_boundaries_reads_back_exactly_either_way() {
        let small = SMALL_BLOB as usize;
        for len in [
            0,
            1,
            small - 1,
            small,
            small + 1,
            small + ALIGN,
            small + BUF_LEN,
            small + BUF_LEN + 17,
            small + 5 * BUF_LEN - 3,
        ] {
            let data = pattern(len);
            // age's chunk plus tag, a page, and more than a whole buffer at once.
            for piece in [65_552, 4_096, 1_000_003] {
                for try_direct in [true, false] {
                    let back = write_and_read(&data, piece, try_direct);
                    assert!(
                        back == data,
                        "len {len} piece {piece} direct {try_direct}: {} bytes back",
                        back.len()
                    );
                }
            }
        }
    }

    #[test]
    fn a_failing_disk_thread_reports_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        File::create(&path).unwrap();
        // Opened read-only: every write the disk thread makes fails with EBADF.
        let read_only = File::open(&path).unwrap();
        let mut pipeline = Pipeline::start(&read_only, 0, true).unwrap();
        let data = pattern(BUFFERS * BUF_LEN * 2);
        let error = match pipeline.write(&data) {
            Err(e) => e,
            Ok(()) => pipeline.finish().unwrap_err(),
        };
        assert_eq!(error.raw_os_error(), Some(libc::EBADF), "{error}");
    }

    #[test]
    fn a_direct_write_the_device_refuses_falls_back_to_the_page_cache() {
        // An offset no device aligns to: the first direct write fails with EINVAL (where direct
        // I/O is on at all), and that and every later buffer must still land where they belong.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let file = File::create(&path).unwrap();
        let data = pattern(2 * BUF_LEN + 12_345);
        let mut pipeline = Pipeline::start(&file, 3, true).unwrap();
        pipeline.write(&data).unwrap();
        pipeline.finish().unwrap();
        let back = std::fs::read(&path).unwrap();
        assert_eq!(back[..3], [0; 3]);
        assert!(
            back[3..3 + data.len()] == data[..],
            "{} bytes back",
            back.len()
        );
    }

    #[test]
    fn a_full_disk_is_reported_as_enospc_from_either_side() {
        // /dev/full refuses every write with ENOSPC, as a full filesystem does.
        let full = || File::options().write(true).open("/dev/full").unwrap();
        let mut pipeline = Pipeline::start(&full(), 0, true).unwrap();
        let error = match pipeline.write(&pattern(BUFFERS * BUF_LEN * 2)) {
            Err(e) => e,
            Ok(()) => pipeline.finish().unwrap_err(),
        };
        assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");
        // A last partial buffer, whose failure only the end can find.
        let mut pipeline = Pipeline::start(&full(), 0, true).unwrap();
        pipeline.write(b"ciphertext").unwrap();
        let error = pipeline.finish().unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");

        let file = full();
        let mut failure = None;
        let error = BlobWriter::new(&file, &mut failure, None)
            .write_all(b"ciphertext")
            .unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");
    }

    #[test]
    fn a_disk_thread_failure_found_when_dropped_is_left_as_its_own_os_error() {
        use rustix::fs::{mkfifoat, Mode, CWD};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        mkfifoat(CWD, &path, Mode::from_raw_mode(0o600)).unwrap();
        let reader = {
            let path = path.clone();
            std::thread::spawn(move || io::copy(&mut File::open(path)?, &mut io::sink()))
        };
        // A pipe takes the page-cache writes in order, but the disk thread's positioned writes
        // fail (ESPIPE): a failure the sealer only learns of when the writer is dropped.
        let fifo = File::options().write(true).open(&path).unwrap();
        let mut failure = None;
        {
            let mut writer = BlobWriter::new(&fifo, &mut failure, None);
            writer
                .write_all(&pattern(SMALL_BLOB as usize + 1000))
                .unwrap();
        }
        drop(fifo);
        assert_eq!(reader.join().unwrap().unwrap(), SMALL_BLOB);
        let error = failure.expect("the failure is left for the blob");
        assert_eq!(error.raw_os_error(), Some(libc::ESPIPE), "{error}");
    }

    #[test]
    fn a_writer_that_failed_leaves_its_failure_for_the_blob() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        File::create(&path).unwrap();
        let read_only = File::open(&path).unwrap();
        let mut failure = None;
        {
            let mut writer = BlobWriter::new(&read_only, &mut failure, None);
            assert!(writer.write_all(b"ciphertext").is_err());
        }
        assert!(failure.is_some());
    }
}
