//! Shared helpers for the integration tests: a real `sealdrop` server in a temp directory, a
//! raw HTTP/1.1 client over `TcpStream` (so tests can send any bytes, stop half-way, or trickle),
//! multipart bodies, the SQLite index, and decryption with real age identities.
//!
//! Each test binary uses a subset of these.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use age::secrecy::ExposeSecret;
use rand::RngCore;

pub const BIN: &str = env!("CARGO_BIN_EXE_sealdrop");

/// The real `sealdesk`, which the desk crate builds beside `sealdrop` (a package's tests are only
/// given its own binaries' paths). `cargo test` at the top of the workspace builds both.
#[allow(dead_code)]
pub fn sealdesk_bin() -> PathBuf {
    let path = Path::new(BIN).with_file_name("sealdesk");
    assert!(
        path.is_file(),
        "{} is missing: run the tests from the top of the workspace with `cargo test`, which \
         builds sealdesk too (or `cargo build -p sealdesk` first)",
        path.display()
    );
    path
}

/// How long a test waits for a start-up, an exit or a response before failing.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Keys and the server's temp world

/// A temp directory laid out like an installation: `keys/recipients.txt` (two staff recipients),
/// `staff/identity.txt` (the first staff identity, as `age-keygen` writes it: never next to the
/// recipients, where the server would rightly refuse it), `data/`, and `tmp/` (the server's
/// TMPDIR).
pub struct Setup {
    pub root: tempfile::TempDir,
    pub keys_file: PathBuf,
    pub data_dir: PathBuf,
    pub tmp_dir: PathBuf,
    pub identity: age::x25519::Identity,
    pub identity_file: PathBuf,
    /// A second staff key: submissions are sealed to both.
    pub second_identity: age::x25519::Identity,
    env: Vec<(String, String)>,
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

impl Setup {
    pub fn new() -> Setup {
        let root = tempfile::Builder::new()
            .prefix("sealdrop-test-")
            .tempdir()
            .unwrap();
        let keys_dir = root.path().join("keys");
        let staff_dir = root.path().join("staff");
        let tmp_dir = root.path().join("tmp");
        for d in [&keys_dir, &staff_dir, &tmp_dir] {
            std::fs::create_dir_all(d).unwrap();
        }
        let identity = age::x25519::Identity::generate();
        let second_identity = age::x25519::Identity::generate();
        let keys_file = keys_dir.join("recipients.txt");
        std::fs::write(
            &keys_file,
            format!(
                "# test staff keys\n{}\n\n# the second desk\n{}\n",
                identity.to_public(),
                second_identity.to_public()
            ),
        )
        .unwrap();
        let identity_file = staff_dir.join("identity.txt");
        std::fs::write(
            &identity_file,
            format!(
                "# created: by the sealdrop tests\n# public key: {}\n{}\n",
                identity.to_public(),
                identity.to_string().expose_secret()
            ),
        )
        .unwrap();
        let data_dir = root.path().join("data");
        let mut setup = Setup {
            keys_file,
            data_dir: data_dir.clone(),
            tmp_dir,
            identity,
            identity_file,
            second_identity,
            env: Vec::new(),
            root,
        };
        setup.set("SEALDROP_LISTEN", "127.0.0.1:0");
        setup.set("SEALDROP_DATA_DIR", data_dir.to_str().unwrap());
        let keys = setup.keys_file.to_str().unwrap().to_owned();
        setup.set("SEALDROP_KEYS_FILE", &keys);
        // The tests measure their own disk use; the production floor (2 GiB) is not what they test.
        setup.set("SEALDROP_MIN_FREE_DISK_MB", "1");
        setup
    }

    /// Set (or replace) one `SEALDROP_*` variable for the server.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.set(name, value);
        self
    }

    /// The limits most bad-input tests use: small enough to cross quickly.
    pub fn small_limits(self) -> Self {
        self.with("SEALDROP_MAX_MESSAGE_BYTES", "10000")
            .with("SEALDROP_MAX_FILES", "3")
            .with("SEALDROP_MAX_FILE_BYTES", &(1 << 20).to_string())
            .with("SEALDROP_MAX_SUBMISSION_BYTES", &(2 << 20).to_string())
    }

    /// `sealdrop ARGS` with a clean environment (no stray `SEALDROP_*` from outside), this
    /// setup's variables, TMPDIR inside the setup, and the setup's root as working directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root.path())
            .env("TMPDIR", &self.tmp_dir)
            .current_dir(self.root.path())
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Start `sealdrop serve` and wait until it says where it listens.
    pub fn start(&self) -> Server<'_> {
        self.start_with(|_| {})
    }

    /// Start `sealdrop serve --config FILE`.
    pub fn start_with_config(&self, file: &Path) -> Server<'_> {
        self.start_args_with(&["serve", "--config", file.to_str().unwrap()], |_| {})
    }

    /// [`Setup::start`], with a last change to the command before it runs.
    pub fn start_with(&self, prepare: impl FnOnce(&mut Command)) -> Server<'_> {
        self.start_args_with(&["serve"], prepare)
    }

    fn start_args_with(&self, args: &[&str], prepare: impl FnOnce(&mut Command)) -> Server<'_> {
        let mut cmd = self.command(args);
        prepare(&mut cmd);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the sealdrop binary");
        drop(cmd);
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let out_pipe = child.stdout.take().unwrap();
        let out_buf = stdout.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(out_pipe);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                out_buf.lock().unwrap().extend_from_slice(&line);
                let text = String::from_utf8_lossy(&line);
                if let Some(rest) = text.trim().strip_prefix("sealdrop: listening on http://") {
                    let _ = tx.send(rest.parse::<SocketAddr>().expect("a socket address"));
                }
                line.clear();
            }
        });
        let err_pipe = child.stderr.take().unwrap();
        let err_buf = stderr.clone();
        thread::spawn(move || {
            let mut pipe = err_pipe;
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err_buf.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr,
                Err(_) => {
                    if let Some(status) = child.try_wait().unwrap() {
                        thread::sleep(Duration::from_millis(100));
                        panic!(
                            "the server exited ({status}) before listening; stderr:\n{}",
                            String::from_utf8_lossy(&stderr.lock().unwrap())
                        );
                    }
                    assert!(
                        Instant::now() < deadline,
                        "the server did not say where it listens"
                    );
                }
            }
        };
        Server {
            setup: self,
            child: Some(child),
            addr,
            stdout,
            stderr,
        }
    }

    /// Run `sealdrop ARGS` to its end (it must end within the patience), capturing its output.
    pub fn run(&self, args: &[&str]) -> Ran {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the sealdrop binary");
        let deadline = Instant::now() + PATIENCE;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "`sealdrop {}` did not exit (it should have refused to start); stdout:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        Ran {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }

    pub fn incoming_dir(&self) -> PathBuf {
        self.data_dir.join("incoming")
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("sealdrop.sqlite")
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .expect("opening the index read-only")
    }

    /// Every row of `submissions`.
    pub fn submissions(&self) -> Vec<SubmissionRow> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT id, arrived, envelope_blob FROM submissions")
            .unwrap();
        stmt.query_map([], |r| {
            Ok(SubmissionRow {
                id: r.get(0)?,
                arrived: r.get(1)?,
                envelope_blob: r.get(2)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// Every row of `blobs`.
    pub fn blob_rows(&self) -> Vec<BlobRow> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT id, submission_id, kind, size FROM blobs")
            .unwrap();
        stmt.query_map([], |r| {
            Ok(BlobRow {
                id: r.get(0)?,
                submission_id: r.get(1)?,
                kind: r.get(2)?,
                size: r.get(3)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// Every value in every user table, as text, with its table and column (for metadata checks).
    pub fn every_db_value(&self) -> Vec<(String, String, rusqlite::types::Value)> {
        let db = self.db();
        let tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut out = Vec::new();
        for table in tables {
            let mut stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                for (i, column) in columns.iter().enumerate() {
                    let value: rusqlite::types::Value = row.get(i).unwrap();
                    out.push((table.clone(), column.clone(), value));
                }
            }
        }
        out
    }

    /// Column names of every user table, as `table.column` with the declared type.
    pub fn db_columns(&self) -> Vec<(String, String, String)> {
        let db = self.db();
        let tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut out = Vec::new();
        for table in tables {
            let mut stmt = db
                .prepare(&format!(
                    "SELECT name, type FROM pragma_table_info('{table}')"
                ))
                .unwrap();
            let cols: Vec<(String, String)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for (name, ty) in cols {
                out.push((table.clone(), name, ty));
            }
        }
        out
    }

    /// Decrypt a stored blob with the first staff identity through the age crate.
    pub fn decrypt(&self, blob_id: &str) -> Vec<u8> {
        decrypt_with(
            &self.identity,
            &self.blobs_dir().join(format!("{blob_id}.age")),
        )
    }

    /// Open a committed submission: its envelope and every attachment, through the age crate.
    pub fn open_submission(&self, row: &SubmissionRow) -> Opened {
        let envelope_plain = self.decrypt(&row.envelope_blob);
        let envelope = parse_envelope(&envelope_plain);
        let attachments = envelope["attachments"]
            .as_array()
            .expect("attachments is an array")
            .iter()
            .map(|a| {
                let blob = a["blob"].as_str().unwrap().to_owned();
                let padded = self.decrypt(&blob);
                OpenedAttachment {
                    name: a["name"].as_str().unwrap().to_owned(),
                    content_type: a["type"].as_str().unwrap().to_owned(),
                    length: a["length"].as_u64().unwrap(),
                    blob,
                    padded,
                }
            })
            .collect();
        Opened {
            envelope,
            envelope_plain,
            attachments,
        }
    }

    /// The one committed submission (fails if there is not exactly one).
    pub fn only_submission(&self) -> (SubmissionRow, Opened) {
        let rows = self.submissions();
        assert_eq!(rows.len(), 1, "expected exactly one stored submission");
        let row = rows.into_iter().next().unwrap();
        let opened = self.open_submission(&row);
        (row, opened)
    }

    /// Assert that nothing was stored: no rows, nothing in `blobs/`, and `incoming/` empties
    /// (the upload task's clean-up runs when it ends, so give it a moment).
    pub fn assert_nothing_stored(&self) {
        let incoming = self.incoming_dir();
        let emptied = wait_until(Duration::from_secs(10), || {
            files_under(&incoming).is_empty()
        });
        assert!(
            emptied,
            "incoming/ still holds {:?}",
            files_under(&incoming)
        );
        assert_eq!(files_under(&self.blobs_dir()), Vec::<PathBuf>::new());
        assert_eq!(self.submissions().len(), 0, "a submission row was left");
        assert_eq!(self.blob_rows().len(), 0, "a blob row was left");
    }
}

pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionRow {
    pub id: String,
    pub arrived: String,
    pub envelope_blob: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    pub id: String,
    pub submission_id: String,
    pub kind: String,
    pub size: i64,
}

pub struct Opened {
    /// The envelope's JSON (padding removed by the parser).
    pub envelope: serde_json::Value,
    /// The decrypted envelope, padding included.
    pub envelope_plain: Vec<u8>,
    pub attachments: Vec<OpenedAttachment>,
}

impl Opened {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.envelope["fields"][name].as_str()
    }
}

pub struct OpenedAttachment {
    pub name: String,
    pub content_type: String,
    pub length: u64,
    pub blob: String,
    /// The decrypted blob, padding included.
    pub padded: Vec<u8>,
}

impl OpenedAttachment {
    pub fn content(&self) -> &[u8] {
        &self.padded[..self.length as usize]
    }
}

/// Parse a decrypted envelope: JSON followed by nothing but ASCII spaces.
pub fn parse_envelope(plain: &[u8]) -> serde_json::Value {
    let json_len = json_len(plain);
    assert!(
        plain[json_len..].iter().all(|&b| b == b' '),
        "envelope padding must be ASCII spaces"
    );
    let value: serde_json::Value = serde_json::from_slice(&plain[..json_len]).expect("JSON");
    assert_eq!(value["format"], "sealdrop-envelope");
    assert_eq!(value["version"], 1);
    value
}

/// The length of the envelope's JSON, without its trailing space padding.
pub fn json_len(plain: &[u8]) -> usize {
    plain.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1)
}

/// A running `sealdrop serve`; killed when dropped.
pub struct Server<'a> {
    pub setup: &'a Setup,
    child: Option<Child>,
    pub addr: SocketAddr,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server<'_> {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// What the server printed so far (stdout, stderr).
    pub fn output(&self) -> (Vec<u8>, Vec<u8>) {
        (
            self.stdout.lock().unwrap().clone(),
            self.stderr.lock().unwrap().clone(),
        )
    }

    /// SIGKILL: no chance to clean up or flush anything.
    pub fn kill_hard(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM and wait for a graceful exit; returns the full (stdout, stderr).
    pub fn stop(mut self) -> (Vec<u8>, Vec<u8>) {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("running `kill` (install the Debian package `procps`)")
            .success();
        assert!(ok, "kill -TERM failed");
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the server did not stop on SIGTERM");
            }
            thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "graceful stop exited with {status}");
        // Let the pipe readers drain.
        thread::sleep(Duration::from_millis(100));
        self.output()
    }

    pub fn get(&self, path: &str) -> Response {
        get(self.addr, path)
    }

    pub fn post(&self, path: &str, form: &Multipart) -> Response {
        post(self.addr, path, form)
    }

    /// A good submission (message and one small file) that must be received and stored.
    /// Returns its message, so callers can find it again.
    pub fn submit_good(&self) -> String {
        let message = format!("A good report after the bad one: {}", random_hex(8));
        let form = Multipart::new()
            .text("message", &message)
            .text("contact", "")
            .file("files", "note.txt", "text/plain", b"some evidence");
        let response = self.post("/submit", &form);
        response.assert_received();
        message
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    /// The content-hashed stylesheet path a page links to.
    pub fn stylesheet_path(&self) -> String {
        let text = self.text();
        let start = text
            .find("href=\"/static/style-")
            .expect("a stylesheet link")
            + 6;
        let end = text[start..].find('"').unwrap() + start;
        text[start..end].to_owned()
    }

    /// The page's `<title>` text.
    pub fn title(&self) -> String {
        let text = self.text();
        let start = text.find("<title>").expect("a <title>") + "<title>".len();
        let end = text[start..].find("</title>").expect("a </title>") + start;
        text[start..end].to_owned()
    }

    /// Assert a stored submission's answer: post/redirect/get, a 303 to `/received` with the
    /// receipt's cookie, and nothing about the submission on the URL.
    pub fn assert_received(&self) {
        assert_eq!(
            self.status,
            303,
            "a stored submission answers 303; page:\n{}",
            String::from_utf8_lossy(&self.body)
        );
        let location = self.header("location").expect("a Location");
        assert!(
            location.starts_with("/received?lang=") && !location.contains('&'),
            "the received page's URL says only its language: {location}"
        );
        let cookie = self.header("set-cookie").expect("the receipt's cookie");
        assert!(cookie.starts_with("sealdrop_receipt="), "{cookie}");
    }

    /// The `name=value` of the receipt cookie this answer set.
    pub fn receipt_cookie(&self) -> String {
        self.header("set-cookie")
            .expect("a Set-Cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    /// Assert the status and that the page's title begins with `title` (the error's own words).
    pub fn assert_page(&self, status: u16, title: &str) {
        assert_eq!(
            self.status,
            status,
            "unexpected status; page:\n{}",
            String::from_utf8_lossy(&self.body)
        );
        let got = self.title();
        assert!(
            got.starts_with(title),
            "title {got:?} should start with {title:?}"
        );
        assert!(
            self.text().contains(&format!("<h1>{title}</h1>")),
            "the page should say {title:?} as its heading"
        );
    }
}

/// Parse a complete response, if `buf` holds one. `eof` says the peer has closed.
fn parse_response(buf: &[u8], eof: bool) -> Option<Response> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).expect("an ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(
        parts.next(),
        Some("HTTP/1.1"),
        "status line {status_line:?}"
    );
    let status: u16 = parts.next().unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("a header line");
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let rest = &buf[head_end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = find("content-length") {
        let len: usize = len.parse().unwrap();
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(rest)?
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

fn decode_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// One connection, driven by hand.
pub struct Conn {
    pub stream: TcpStream,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connecting to the server");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        Conn { stream }
    }

    /// Write bytes; false if the server has closed the connection.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok() && self.stream.flush().is_ok()
    }

    /// Read one response; `None` if the server closed the connection without one.
    pub fn read_response(&mut self) -> Option<Response> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(r) = parse_response(&buf, false) {
                return Some(r);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return parse_response(&buf, true),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!("no response within {PATIENCE:?}")
                }
                // A reset after (part of) a response: use what arrived.
                Err(_) => return parse_response(&buf, true),
            }
        }
    }

    /// Close both directions at once: the client went away.
    pub fn disconnect(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Send `bytes` on a fresh connection while reading the answer at the same time (the server
/// may answer, and stop reading, before the body is all sent). `None`: closed without an answer.
pub fn exchange(addr: SocketAddr, bytes: Vec<u8>) -> Option<Response> {
    let mut conn = Conn::open(addr);
    let mut writer = conn.stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        for chunk in bytes.chunks(64 * 1024) {
            if writer.write_all(chunk).is_err() {
                return;
            }
        }
    });
    let response = conn.read_response();
    drop(conn);
    let _ = sender.join();
    response
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    get_with(addr, path, &[])
}

/// Follow a stored submission's redirect to the received page, with its cookie.
pub fn follow_received(addr: SocketAddr, posted: &Response) -> Response {
    posted.assert_received();
    get_with(
        addr,
        posted.header("location").unwrap(),
        &[("Cookie", &posted.receipt_cookie())],
    )
}

pub fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    exchange(addr, req.into_bytes()).expect("a response to GET")
}

/// A request head for a POST with the given content type and (if any) length.
pub fn post_head(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    content_length: Option<usize>,
) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\n"
    );
    match content_length {
        Some(n) => req.push_str(&format!("Content-Length: {n}\r\n")),
        None => req.push_str("Transfer-Encoding: chunked\r\n"),
    }
    req.push_str("\r\n");
    req.into_bytes()
}

pub fn post_raw(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Option<Response> {
    let mut req = post_head(addr, path, content_type, Some(body.len()));
    req.extend_from_slice(body);
    exchange(addr, req)
}

pub fn post(addr: SocketAddr, path: &str, form: &Multipart) -> Response {
    post_raw(addr, path, &form.content_type(), &form.body())
        .expect("a response to a multipart POST")
}

/// Encode `body` as HTTP/1.1 chunked transfer coding, in chunks of `size`.
pub fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / size * 12 + 16);
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A `multipart/form-data` body, built the way a browser builds it.
#[derive(Clone)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    pub fn new() -> Self {
        let boundary = format!("----SealdropTestBoundary{}", random_hex(8));
        Multipart {
            boundary,
            body: Vec::new(),
        }
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A file part. The name is sent as raw UTF-8, as browsers do.
    pub fn file(mut self, name: &str, filename: &str, content_type: &str, data: &[u8]) -> Self {
        self.body.extend_from_slice(
            format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n",
                self.boundary
            )
            .as_bytes(),
        );
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The whole body, closing boundary included.
    pub fn body(&self) -> Vec<u8> {
        [
            &self.body[..],
            format!("--{}--\r\n", self.boundary).as_bytes(),
        ]
        .concat()
    }
}

// ---------------------------------------------------------------------------------------------
// Files, decryption, randomness

/// Every file (not directory) under `dir`, recursively, sorted; empty if `dir` is missing.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let ty = entry.file_type().unwrap();
            if ty.is_dir() {
                stack.push(entry.path());
            } else {
                out.insert(entry.path());
            }
        }
    }
    out.into_iter().collect()
}

/// Poll `cond` until it holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(25));
    }
}

/// Decrypt an age file with an identity, through the age crate.
pub fn decrypt_with(identity: &age::x25519::Identity, path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).expect("an age file");
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .expect("decryptable with the staff identity")
        .read_to_end(&mut plain)
        .expect("an intact age payload");
    plain
}

/// Decrypt an age file with Debian's `age` command-line tool (a separate implementation).
pub fn decrypt_with_cli(identity_file: &Path, path: &Path) -> Vec<u8> {
    let out = match Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity_file)
        .arg(path)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("the `age` command is missing: install the Debian package `age` (apt-get install age)")
        }
        Err(e) => panic!("running age: {e}"),
    };
    assert!(
        out.status.success(),
        "age -d failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut v);
    v
}

pub fn random_hex(bytes: usize) -> String {
    hex::encode(random_bytes(bytes))
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = haystack.len() - needle.len();
    let mut at = 0;
    while at <= last_start {
        let next = haystack[at..=last_start].iter().position(|&b| b == first)?;
        at += next;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// The length of an age file's header: up to and including its `---` MAC line. Measured per
/// file because age adds a random-length "grease" stanza to every header.
pub fn age_header_len(file: &[u8]) -> u64 {
    assert!(
        file.starts_with(b"age-encryption.org/v1\n"),
        "not a binary age file"
    );
    let mac_line = find(file, b"\n---").expect("an age header ends with a --- line") + 1;
    let end = file[mac_line..].iter().position(|&b| b == b'\n').unwrap();
    (mac_line + end + 1) as u64
}
