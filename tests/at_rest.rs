//! No plaintext at rest: unique markers sent in every part of several submissions (accepted,
//! refused, and cut off) appear nowhere on disk (data dir with SQLite and its WAL, the server's
//! TMPDIR, its working directory) nor in its output; and no time of day is kept.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use sealdrop_core::day::{arrival_date, Date, Granularity};

/// Every marker sent, as bytes, with a label for the failure message.
struct Markers(Vec<(String, Vec<u8>)>);

impl Markers {
    fn new_short(&mut self, label: &str, prefix: &str) -> String {
        let m = format!("{prefix}{}", random_hex(12));
        self.0.push((label.to_owned(), m.clone().into_bytes()));
        m
    }

    /// A marker longer than age's 64 KiB chunk, placed so it spans chunk boundaries. Searched
    /// for in many short windows, so that any leaked piece of it is found, not only the whole.
    fn new_long(&mut self, label: &str, len: usize) -> String {
        let m = random_hex(len / 2);
        let bytes = m.as_bytes();
        for at in (0..len - 48).step_by(2048) {
            self.0
                .push((format!("{label}[{at}..]"), bytes[at..at + 48].to_vec()));
        }
        m
    }

    /// Where any marker occurs in `bytes`.
    /// Which markers occur in `bytes` (the first few, by label).
    fn found_in(&self, bytes: &[u8]) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(_, m)| find(bytes, m).is_some())
            .map(|(label, _)| label.as_str())
            .take(8)
            .collect()
    }
}

fn post_with_headers(server: &Server, form: &Multipart, extra: &str) -> Option<Response> {
    let body = form.body();
    let head = String::from_utf8(post_head(
        server.addr,
        "/submit",
        &form.content_type(),
        Some(body.len()),
    ))
    .unwrap();
    let head = head.replacen("\r\n", &format!("\r\n{extra}"), 1);
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    exchange(server.addr, request)
}

#[test]
fn no_marker_reaches_the_disk_or_the_logs() {
    let setup = Setup::new()
        .with("SEALDROP_MAX_FILES", "3")
        .with("SEALDROP_MAX_MESSAGE_BYTES", "200000");
    let server = setup.start();
    let day_before = arrival_date(SystemTime::now(), Granularity::Day);
    let mut markers = Markers(Vec::new());

    // Three accepted submissions, markers in every part a source controls, and in the request
    // headers a browser or a proxy would add.
    for n in 0..3 {
        let ua = markers.new_short(&format!("user-agent {n}"), "UA-");
        let fwd = markers.new_short(&format!("forwarded-for {n}"), "10.");
        let message = format!(
            "{} and in Cyrillic {}; end",
            markers.new_short(&format!("message {n}"), "MSG-"),
            markers.new_short(&format!("cyrillic message {n}"), "МЕТКА-"),
        );
        let contact = markers.new_short(&format!("contact {n}"), "CONTACT-");
        let filename = format!(
            "{}.pdf",
            markers.new_short(&format!("filename {n}"), "FILE-")
        );
        let cyr_filename = format!(
            "{}.jpg",
            markers.new_short(&format!("cyrillic filename {n}"), "ИМЯ-")
        );
        let mime = format!(
            "application/{}",
            markers.new_short(&format!("type {n}"), "x-type-")
        );
        let mut content = random_bytes(20_000);
        content.extend_from_slice(
            markers
                .new_short(&format!("content {n}"), "CONTENT-")
                .as_bytes(),
        );
        content.extend_from_slice(&random_bytes(20_000));
        // A long marker straddling the first 64 KiB chunk boundary of the file.
        let mut long_content = random_bytes(30_000);
        long_content.extend_from_slice(
            markers
                .new_long(&format!("long content {n}"), 100_000)
                .as_bytes(),
        );
        long_content.extend_from_slice(&random_bytes(1000));
        let long_message = markers.new_long(&format!("long message {n}"), 70_000);
        let form = Multipart::new()
            .text("message", &format!("{message}\n{long_message}"))
            .text("contact", &contact)
            .file("files", &filename, &mime, &content)
            .file("files", &cyr_filename, "image/jpeg", &long_content);
        let extra = format!("User-Agent: {ua}\r\nX-Forwarded-For: {fwd}\r\n");
        post_with_headers(&server, &form, &extra)
            .expect("an answer")
            .assert_received();
    }

    // A refused submission (too many files) that carried markers too.
    let mut refused =
        Multipart::new().text("message", &markers.new_short("refused message", "REFUSED-"));
    for i in 0..4 {
        let name = markers.new_short(&format!("refused filename {i}"), "RFILE-");
        let content = markers.new_short(&format!("refused content {i}"), "RCONTENT-");
        refused = refused.file("files", &name, "text/plain", content.as_bytes());
    }
    server
        .post("/submit", &refused)
        .assert_page(400, "Too many files");

    // And one cut off half-way through a file.
    let mut cut_content = markers.new_long("cut-off content", 80_000).into_bytes();
    cut_content.extend_from_slice(&random_bytes(200_000));
    let cut = Multipart::new()
        .text("message", &markers.new_short("cut-off message", "CUT-"))
        .file("files", "cut.bin", "application/octet-stream", &cut_content);
    let body = cut.body();
    let mut conn = Conn::open(server.addr);
    conn.send(&post_head(
        server.addr,
        "/submit",
        &cut.content_type(),
        Some(body.len()),
    ));
    conn.send(&body[..body.len() - 100_000]);
    assert!(wait_until(Duration::from_secs(10), || !files_under(
        &setup.incoming_dir()
    )
    .is_empty()));
    conn.disconnect();
    assert!(wait_until(Duration::from_secs(10), || files_under(
        &setup.incoming_dir()
    )
    .is_empty()));

    // The submissions really are stored (so there was plaintext to leak): decrypt one marker.
    let rows = setup.submissions();
    assert_eq!(rows.len(), 3);
    let opened = setup.open_submission(&rows[0]);
    assert!(!markers.found_in(&opened.envelope_plain).is_empty());

    // Search while running: the WAL holds the recent transactions.
    let everything = files_under(setup.root.path());
    assert!(
        everything
            .iter()
            .any(|p| p.to_string_lossy().ends_with("sealdrop.sqlite-wal")),
        "the search must cover the WAL; files: {everything:?}"
    );
    assert_no_marker(&markers, &setup, "while running");
    let (stdout, stderr) = server.stop();
    // After a graceful stop (WAL checkpointed into the main file).
    assert_no_marker(&markers, &setup, "after stopping");
    for (what, output) in [("stdout", &stdout), ("stderr", &stderr)] {
        let found = markers.found_in(output);
        assert!(
            found.is_empty(),
            "markers in the server's {what}: {found:?}"
        );
    }

    // Blob files carry the arrival day as their time: midnight UTC, nothing finer.
    let day_after = arrival_date(SystemTime::now(), Granularity::Day);
    for row in &rows {
        let arrived = Date::parse(&row.arrived).expect("a YYYY-MM-DD date");
        assert!(arrived == day_before || arrived == day_after, "{arrived}");
    }
    let blobs = files_under(&setup.blobs_dir());
    assert_eq!(blobs.len(), 3 * 3);
    for blob in &blobs {
        let mtime = std::fs::metadata(blob).unwrap().modified().unwrap();
        let secs = mtime.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(
            secs.as_nanos() % (86_400 * 1_000_000_000),
            0,
            "{} mtime {secs:?}",
            blob.display()
        );
        assert!(
            mtime == day_before.start() || mtime == day_after.start(),
            "{}: {secs:?}",
            blob.display()
        );
    }

    assert_index_holds_no_time_of_day(&setup);
}

fn assert_no_marker(markers: &Markers, setup: &Setup, when: &str) {
    // The whole temp root: data dir (SQLite, -wal, -shm, blobs, incoming), the server's TMPDIR
    // and its working directory.
    let files = files_under(setup.root.path());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let found = markers.found_in(&bytes);
        assert!(
            found.is_empty(),
            "{when}: plaintext markers {found:?} in {}",
            path.display()
        );
    }
}

fn assert_index_holds_no_time_of_day(setup: &Setup) {
    for (table, column, ty) in setup.db_columns() {
        let name = column.to_ascii_lowercase();
        for word in [
            "time", "ts", "hour", "created", "updated", "ip", "agent", "addr", "seen",
        ] {
            assert!(
                !name.split('_').any(|part| part == word) && !name.contains("time"),
                "column {table}.{column} ({ty}) looks like it holds {word}"
            );
        }
        assert!(
            !matches!(
                ty.to_ascii_uppercase().as_str(),
                "DATETIME" | "TIMESTAMP" | "TIME"
            ),
            "column {table}.{column} is declared {ty}"
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut arrived_values = 0;
    for (table, column, value) in setup.every_db_value() {
        use rusqlite::types::Value;
        match value {
            Value::Integer(i) => {
                // No Unix time near now, in seconds, milliseconds or microseconds, nor a Julian day.
                for scale in [1.0, 1e3, 1e6] {
                    let as_secs = i as f64 / scale;
                    assert!(
                        (as_secs - now).abs() > 3.0 * 86_400.0,
                        "{table}.{column} = {i} looks like a timestamp"
                    );
                }
            }
            Value::Real(r) => {
                let julian_now = now / 86_400.0 + 2_440_587.5;
                assert!(
                    (r - julian_now).abs() > 3.0,
                    "{table}.{column} = {r}: a Julian day?"
                );
                assert!((r - now).abs() > 3.0 * 86_400.0, "{table}.{column} = {r}");
            }
            Value::Text(t) => {
                let b = t.as_bytes();
                let clock = b.windows(5).any(|w| {
                    w[0].is_ascii_digit()
                        && w[1].is_ascii_digit()
                        && w[2] == b':'
                        && w[3].is_ascii_digit()
                        && w[4].is_ascii_digit()
                });
                assert!(!clock, "{table}.{column} = {t:?} holds a time of day");
                if column == "arrived" {
                    assert!(Date::parse(&t).is_some(), "arrived = {t:?}");
                    arrived_values += 1;
                }
            }
            Value::Blob(_) | Value::Null => {}
        }
    }
    assert_eq!(arrived_values, 3, "the scan saw the arrival dates");
}
