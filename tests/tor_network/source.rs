//! What a source does over the private network: reach the onion service's form page (retrying,
//! bounded, while the descriptor is published and fetched), send a tip with a file through the
//! client's SOCKS port, and what staff then find in the data directory. Shared by the test of
//! the shipped files (tests/onion.rs) and of the installed package (tests/packaged_onion.rs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{progress, socks5_connect, tail, Network};
use crate::common::{self, decrypt_with, parse_envelope, Conn, Multipart, Response};

/// One request through the client's SOCKS port to the onion service.
pub fn onion_exchange(socks: SocketAddr, onion: &str, request: &[u8]) -> Result<Response, String> {
    let stream = socks5_connect(socks, onion, 80, Duration::from_secs(30))
        .map_err(|e| format!("SOCKS5 CONNECT {onion}:80 failed: {e:?}"))?;
    let mut conn = Conn { stream };
    if !conn.send(request) {
        return Err("the onion connection closed while sending".into());
    }
    conn.read_response()
        .ok_or_else(|| "the onion connection closed without a response".into())
}

pub fn get_request(onion: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {onion}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// The strict headers; `cache` is what the response may say (the fresh form may be kept by the
/// browser so Back refills it: docs/ARCHITECTURE.md).
pub fn assert_strict_headers(r: &Response, cache: &str) {
    let csp = r.header("content-security-policy").expect("a CSP header");
    assert!(csp.contains("default-src 'none'"), "CSP {csp:?}");
    assert!(csp.contains("frame-ancestors 'none'"), "CSP {csp:?}");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("cache-control"), Some(cache));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

/// The onion service's address, once its tor has written it (bounded by `deadline`).
pub fn onion_address(net: &mut Network, hostname_file: &Path, deadline: Instant) -> String {
    loop {
        if let Ok(h) = std::fs::read_to_string(hostname_file) {
            return h.trim().to_owned();
        }
        net.assert_all_running();
        assert!(Instant::now() < deadline, "no {}", hostname_file.display());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Fetch the form page through the onion, retrying until `deadline`. Fails at once, naming the
/// socket, if the onion service's info log shows tor may not connect to the intake's socket;
/// `diagnose` adds what the caller knows (the server's output, say) to a failure.
pub fn reach_form_page(
    net: &mut Network,
    onion: &str,
    socket: &Path,
    deadline: Instant,
    diagnose: &dyn Fn() -> String,
) -> (Response, u32) {
    let info_log = net.onion_service().dir.join("info.log");
    let mut attempts = 0;
    let mut last_error = String::new();
    loop {
        attempts += 1;
        match onion_exchange(net.socks, onion, &get_request(onion, "/")) {
            Ok(r) => return (r, attempts),
            Err(e) => {
                if e != last_error {
                    progress(
                        net.start,
                        &format!("not reachable yet (attempt {attempts}): {e}"),
                    );
                    last_error = e;
                }
            }
        }
        net.assert_all_running();
        let info = std::fs::read_to_string(&info_log).unwrap_or_default();
        if let Some(line) = info
            .lines()
            .find(|l| l.contains("connect() to socket failed: Permission denied"))
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(socket).unwrap();
            let dir = std::fs::metadata(socket.parent().unwrap()).unwrap();
            panic!(
                "the onion service's tor may not connect to the intake's socket {} (mode {:o}, \
                 uid {}, gid {}; its directory mode {:o}, uid {}, gid {}). Tor's info log \
                 says:\n{line}",
                socket.display(),
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid(),
                dir.mode() & 0o7777,
                dir.uid(),
                dir.gid()
            );
        }
        if Instant::now() > deadline {
            let denied: Vec<&str> = info
                .lines()
                .filter(|l| l.contains("Permission denied") || l.contains("unix"))
                .take(5)
                .collect();
            panic!(
                "the onion service was not reachable in time ({attempts} attempts; last: \
                 {last_error}).\nThe onion service's info log about the socket:\n{}\n\
                 its notices:\n{}\n{}",
                denied.join("\n"),
                tail(&net.onion_service().notices(), 20),
                diagnose()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A tip as a source sends it: a message with a random marker and a 40 KB file.
pub struct Tip {
    pub message: String,
    pub file_name: &'static str,
    pub file: Vec<u8>,
}

impl Tip {
    pub fn new() -> Tip {
        Tip {
            message: format!("Через луковицу: {}", common::random_hex(8)),
            file_name: "протокол.pdf",
            file: common::random_bytes(40_000),
        }
    }

    /// Send it through the onion; the response (the 303 to the received page, if accepted).
    pub fn send(&self, net: &Network, onion: &str) -> Response {
        let form = Multipart::new()
            .text("message", &self.message)
            .text("contact", "")
            .file("files", self.file_name, "application/pdf", &self.file);
        let body = form.body();
        let mut request = format!(
            "POST /submit HTTP/1.1\r\nHost: {onion}\r\nConnection: close\r\nContent-Type: {}\r\n\
             Content-Length: {}\r\n\r\n",
            form.content_type(),
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        onion_exchange(net.socks, onion, &request)
            .unwrap_or_else(|e| panic!("submitting through the onion: {e}"))
    }

    /// The intake's data directory holds this tip exactly once: one submission that opens with
    /// the staff identity to the message sent, with the file sent.
    pub fn assert_stored(&self, data_dir: &Path, identity: &age::x25519::Identity) {
        let db = rusqlite::Connection::open_with_flags(
            data_dir.join("sealdrop.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let envelopes: Vec<String> = db
            .prepare("SELECT envelope_blob FROM submissions")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let blob = |id: &str| -> PathBuf { data_dir.join("blobs").join(format!("{id}.age")) };
        let mine: Vec<serde_json::Value> = envelopes
            .iter()
            .map(|id| parse_envelope(&decrypt_with(identity, &blob(id))))
            .filter(|e| e["fields"]["message"].as_str() == Some(self.message.as_str()))
            .collect();
        assert_eq!(
            mine.len(),
            1,
            "the tip is stored exactly once (of {} submissions)",
            envelopes.len()
        );
        let attachments = mine[0]["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0]["name"].as_str(), Some(self.file_name));
        let length = attachments[0]["length"].as_u64().unwrap() as usize;
        let file = decrypt_with(identity, &blob(attachments[0]["blob"].as_str().unwrap()));
        assert_eq!(&file[..length], &self.file[..], "the file decrypts intact");
    }
}
