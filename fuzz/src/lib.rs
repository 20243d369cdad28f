//! What the fuzz targets share: how an input is cut into pieces, the invariants on text, a
//! fixed test key to sign fuzzer-made manifests with, and a scratch file for the readers that
//! take a path.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

/// The boundaries the multipart targets choose from (by the input's first byte): a browser's,
/// the shortest, and one made of the odd characters RFC 2046 allows, space included.
pub const BOUNDARIES: [&str; 3] = ["----WebKitFormBoundaryQx3b8Yk1", "x", "'()+_,-./:=? z"];

/// A multipart input, as the fuzzer writes it:
///
/// ```text
/// byte 0       the boundary (index into BOUNDARIES, modulo 3)
/// byte 1       k, how many piece lengths follow (0: the body arrives in one piece)
/// k bytes      piece lengths, used in turn and over again until the body is used up
///              (0 is an empty piece, which a stream may send too)
/// the rest     the body
/// ```
///
/// So the fuzzer chooses the split points itself, and one-byte pieces are one byte away.
pub struct MultipartInput<'a> {
    pub boundary: &'static str,
    pub lengths: &'a [u8],
    pub body: &'a [u8],
}

impl<'a> MultipartInput<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&which, rest) = data.split_first()?;
        let (&k, rest) = rest.split_first()?;
        let k = usize::from(k).min(rest.len());
        let (lengths, body) = rest.split_at(k);
        Some(MultipartInput {
            boundary: BOUNDARIES[usize::from(which) % BOUNDARIES.len()],
            lengths,
            body,
        })
    }

    /// The body in the pieces the input chose.
    pub fn pieces(&self) -> Vec<Bytes> {
        let piece = |range: std::ops::Range<usize>| Bytes::copy_from_slice(&self.body[range]);
        if self.lengths.iter().all(|&l| l == 0) {
            // Empty pieces (if any), then the whole body.
            let mut pieces: Vec<Bytes> = self.lengths.iter().map(|_| Bytes::new()).collect();
            pieces.push(piece(0..self.body.len()));
            return pieces;
        }
        let mut pieces = Vec::new();
        let mut at = 0;
        for &len in self.lengths.iter().cycle() {
            if at >= self.body.len() {
                break;
            }
            let end = (at + usize::from(len)).min(self.body.len());
            pieces.push(piece(at..end));
            at = end;
        }
        pieces
    }
}

/// A body arriving in the given pieces, each at once (a stream that never waits).
pub struct Pieces(pub VecDeque<Bytes>);

impl futures_util::Stream for Pieces {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// Run a future on a fresh single-threaded runtime (with time, for the PROXY deadline).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
        .block_on(future)
}

/// The characters that change the direction of text around them (Unicode's Bidi_Control
/// property): the overrides and embeddings that make `invoice\u{202e}fdp.exe` read as
/// `invoiceexe.pdf`, the isolates, and the marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Is `s` shaped like a Sealdrop id: 32 lowercase hex digits? Written out here rather than
/// taken from `sealdrop_core::is_id`, which the readers under test use themselves: a target
/// that asks the code under test whether its output is right cannot catch that code being wrong.
pub fn is_id_shape(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The line (counted from 1) of the first age secret key prefix (`AGE-SECRET-KEY-`, in any
/// case) in `bytes`; independent of `sealdrop_core::keys::find_secret_key`, for the same reason.
pub fn secret_key_line(bytes: &[u8]) -> Option<usize> {
    const PREFIX: &[u8] = b"AGE-SECRET-KEY-";
    let at = bytes
        .windows(PREFIX.len())
        .position(|w| w.eq_ignore_ascii_case(PREFIX))?;
    Some(1 + bytes[..at].iter().filter(|&&b| b == b'\n').count())
}

/// Panic, quoting the text escaped, if `text` holds a control character (other than those in
/// `allowed`) or a direction character.
pub fn assert_terminal_safe(what: &str, text: &str, allowed: &[char]) {
    if let Some(c) = text
        .chars()
        .find(|&c| (c.is_control() && !allowed.contains(&c)) || is_bidi_control(c))
    {
        panic!("{what} holds {c:?}: {text:?}");
    }
}

/// The fixed key the targets sign fuzzer-made manifests with, so that the fuzzer gets past the
/// signature check to the parsing and validation behind it. A test key: never a real one.
pub fn test_key(n: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[n; 32])
}

/// A scratch file of this process (on /dev/shm when it exists, so that no disk is worn), for
/// readers that open a path.
pub fn scratch_file(name: &str) -> PathBuf {
    let dir = ["/dev/shm"]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("sealdrop-fuzz-{}-{name}", std::process::id()))
}

/// Write `bytes` to `path` (replacing it) with file mode `mode`.
pub fn write_file(path: &std::path::Path, bytes: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).expect("the scratch file can be written");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .expect("the scratch file's mode can be set");
}

/// Hand `bytes` to `read` as a file, or through a FIFO when `through_pipe` (the bundle and outbox
/// targets take it from the top bit of the input's first byte). `read` gets the path and whether
/// it is a pipe, whose length the reader cannot check at opening.
pub fn as_file_or_pipe(
    name: &str,
    bytes: &[u8],
    through_pipe: bool,
    read: impl FnOnce(&std::path::Path, bool),
) {
    if through_pipe {
        through_fifo(name, bytes.to_vec(), |path| read(path, true));
    } else {
        let path = scratch_file(name);
        write_file(&path, bytes, 0o600);
        read(&path, false);
    }
}

/// Run `read` on a FIFO that a thread fills with `bytes`: the readers take a pipe (`sealdesk
/// import /dev/stdin`, a process substitution) as well as a file, and a pipe has no length to
/// check a header's claims against. `read` must close the FIFO before it returns (drop the
/// reader), so that a writer blocked on a full pipe gets EPIPE and ends.
pub fn through_fifo<R>(name: &str, bytes: Vec<u8>, read: impl FnOnce(&std::path::Path) -> R) -> R {
    use std::ffi::CString;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    static IGNORE_SIGPIPE: std::sync::Once = std::sync::Once::new();
    // libFuzzer's main, not Rust's, starts these targets, so SIGPIPE still kills by default.
    IGNORE_SIGPIPE.call_once(|| unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    });
    let path = scratch_file(&format!("{name}.fifo"));
    let _ = std::fs::remove_file(&path);
    let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
    assert_eq!(
        unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        // Opening blocks until the reader opens; EPIPE when the reader stopped early is fine.
        if let Ok(mut fifo) = std::fs::OpenOptions::new().write(true).open(&writer_path) {
            let _ = fifo.write_all(&bytes);
        }
    });
    let result = read(&path);
    // A reader that never opened the FIFO leaves the writer waiting for one: open and close it.
    if !writer.is_finished() {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path);
    }
    writer.join().expect("the FIFO writer");
    let _ = std::fs::remove_file(&path);
    result
}
