//! The intake on a Unix socket, as Tor's `HiddenServicePort 80 unix:PATH` reaches it: a real
//! server, a real socket, a real submission that decrypts.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Multipart, Setup};

/// One request over the socket; returns the raw response.
fn exchange(socket: &std::path::Path, request: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).expect("connecting to the intake's socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn serves_and_receives_on_a_unix_socket_then_removes_it() {
    let mut setup = Setup::new();
    let socket = setup.root.path().join("run").join("sealdrop.sock");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    // A stale socket from an earlier run must not stop the server from starting.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    setup.set("SEALDROP_LISTEN", &format!("unix:{}", socket.display()));

    let mut child = setup
        .command(&["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        format!("sealdrop: listening on unix:{}", socket.display())
    );

    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o660,
        "only the service and Tor's group may connect"
    );

    let page = exchange(
        &socket,
        b"GET /?lang=ru HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("lang=\"ru\""), "{page}");

    let form = Multipart::new()
        .text("message", "Через сокет: брат задержан")
        .file("files", "фото.jpg", "image/jpeg", b"\xff\xd8 jpeg bytes");
    let body = form.body();
    let mut request = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {}\r\n\
         Content-Length: {}\r\n\r\n",
        form.content_type(),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let received = exchange(&socket, &request);
    // Stored: post/redirect/get to the received page.
    assert!(received.starts_with("HTTP/1.1 303"), "{received}");
    assert!(
        received.contains("\r\nlocation: /received?lang="),
        "{received}"
    );

    let (_, opened) = setup.only_submission();
    assert_eq!(opened.field("message"), Some("Через сокет: брат задержан"));
    assert_eq!(opened.attachments[0].name, "фото.jpg");
    assert_eq!(opened.attachments[0].content(), b"\xff\xd8 jpeg bytes");

    // A graceful stop removes the socket, so the next start finds nothing in the way.
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("running kill (Debian package procps)")
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!socket.exists(), "the socket is removed at shutdown");
}
