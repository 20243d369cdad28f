//! Bad input: every way a submission can be wrong gets its error page (or a closed connection),
//! leaves no row and no file behind, and the server goes on to receive the next good submission.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;

const MIB: usize = 1024 * 1024;

/// After a refusal: nothing stored, then a good submission is received and decrypts.
fn assert_clean_then_serves(server: &Server) {
    let setup = server.setup;
    setup.assert_nothing_stored();
    let message = server.submit_good();
    let (_, opened) = setup.only_submission();
    assert_eq!(opened.field("message"), Some(message.as_str()));
    assert_eq!(opened.attachments[0].content(), b"some evidence");
}

#[test]
fn a_file_over_the_per_file_limit_is_refused() {
    let setup = Setup::new().small_limits();
    let server = setup.start();
    let form = Multipart::new()
        .text("message", "a large file")
        .file(
            "files",
            "small.bin",
            "application/octet-stream",
            &[1u8; 1000],
        )
        .file(
            "files",
            "big.bin",
            "application/octet-stream",
            &random_bytes(MIB + 1),
        );
    server.post("/submit", &form).assert_page(413, "Too large");
    assert_clean_then_serves(&server);
}

#[test]
fn a_file_exactly_at_the_per_file_limit_is_accepted() {
    // The boundary of the limit above: the refusal is about the limit, not about big files.
    let setup = Setup::new().small_limits();
    let server = setup.start();
    let data = random_bytes(MIB);
    let form = Multipart::new().text("message", "at the limit").file(
        "files",
        "exact.bin",
        "application/octet-stream",
        &data,
    );
    server.post("/submit", &form).assert_received();
    let (_, opened) = setup.only_submission();
    assert!(opened.attachments[0].content() == &data[..]);
}

#[test]
fn more_files_than_allowed_are_refused() {
    let setup = Setup::new().small_limits(); // 3 files at most
    let server = setup.start();
    let mut form = Multipart::new().text("message", "four files");
    for i in 0..4 {
        form = form.file("files", &format!("f{i}.txt"), "text/plain", b"data");
    }
    server
        .post("/submit", &form)
        .assert_page(400, "Too many files");
    assert_clean_then_serves(&server);
}

#[test]
fn an_empty_message_is_refused() {
    let setup = Setup::new().small_limits();
    let server = setup.start();
    let blank =
        Multipart::new()
            .text("message", " \r\n\t ")
            .file("files", "a.txt", "text/plain", b"data");
    server
        .post("/submit", &blank)
        .assert_page(400, "The message is empty");
    // No message field at all: the same page.
    let missing = Multipart::new().file("files", "a.txt", "text/plain", b"data");
    server
        .post("/submit", &missing)
        .assert_page(400, "The message is empty");
    assert_clean_then_serves(&server);
}

#[test]
fn a_message_over_the_limit_is_refused() {
    let setup = Setup::new().small_limits(); // 10,000 bytes
    let server = setup.start();
    // 5,001 Cyrillic letters are 10,002 bytes of UTF-8: the limit is in bytes.
    let long = "ж".repeat(5001);
    let form = Multipart::new().text("message", &long);
    server
        .post("/submit", &form)
        .assert_page(413, "The message is too long");
    assert_clean_then_serves(&server);
}

#[test]
fn malformed_multipart_is_refused() {
    let setup = Setup::new().small_limits();
    let server = setup.start();
    let ct = "multipart/form-data; boundary=XyZ";
    // Not multipart at all under a multipart content type.
    let garbage = b"this is not a multipart body at all\r\n\r\n--";
    post_raw(server.addr, "/submit", ct, garbage)
        .unwrap()
        .assert_page(400, "The form could not be read");
    // Well-formed parts but no closing boundary.
    let unterminated =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nabc";
    post_raw(server.addr, "/submit", ct, unterminated)
        .unwrap()
        .assert_page(400, "The form could not be read");
    // A field the form does not have.
    let unknown = Multipart::new()
        .text("message", "hello")
        .text("password", "x");
    post(server.addr, "/submit", &unknown).assert_page(400, "The form could not be read");
    // A content type claiming multipart without a boundary.
    post_raw(server.addr, "/submit", "multipart/form-data", b"--\r\n")
        .unwrap()
        .assert_page(400, "The form could not be read");
    assert_clean_then_serves(&server);
}

#[test]
fn a_wrong_content_type_is_refused() {
    let setup = Setup::new().small_limits();
    let server = setup.start();
    for (ct, body) in [
        (
            "application/x-www-form-urlencoded",
            &b"message=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82&contact="[..],
        ),
        ("text/plain", b"message=hello"),
        ("application/json", b"{\"message\":\"hello\"}"),
    ] {
        post_raw(server.addr, "/submit", ct, body)
            .unwrap()
            .assert_page(400, "The form could not be read");
    }
    assert_clean_then_serves(&server);
}

#[test]
fn a_body_that_stops_half_way_leaves_nothing() {
    let setup = Setup::new().small_limits();
    let server = setup.start();
    let form = Multipart::new()
        .text("message", "cut off")
        .file(
            "files",
            "whole.bin",
            "application/octet-stream",
            &random_bytes(200_000),
        )
        .file(
            "files",
            "half.bin",
            "application/octet-stream",
            &random_bytes(600_000),
        );
    let body = form.body();
    let mut conn = Conn::open(server.addr);
    assert!(conn.send(&post_head(
        server.addr,
        "/submit",
        &form.content_type(),
        Some(body.len())
    )));
    // Everything up to the middle of the second file, then the client goes away.
    assert!(conn.send(&body[..body.len() - 300_000]));
    // Let the first file be sealed and the second begin, so there is something to clean up.
    let started = wait_until(Duration::from_secs(10), || {
        files_under(&setup.incoming_dir()).len() >= 2
    });
    assert!(started, "the upload should have reached the second file");
    conn.disconnect();
    assert_clean_then_serves(&server);
}

#[test]
fn a_large_upload_cut_off_after_it_reached_the_disk_thread_leaves_nothing() {
    // Past a blob's first MiB the ciphertext is written by a disk thread of its own (direct
    // I/O): a client that goes away must leave nothing of that path behind either.
    let setup = Setup::new();
    let server = setup.start();
    let form = Multipart::new().text("message", "cut off late").file(
        "files",
        "video.mp4",
        "video/mp4",
        &random_bytes(6 << 20),
    );
    let body = form.body();
    let mut conn = Conn::open(server.addr);
    assert!(conn.send(&post_head(
        server.addr,
        "/submit",
        &form.content_type(),
        Some(body.len())
    )));
    assert!(conn.send(&body[..4 << 20]));
    let past_first_mib = wait_until(Duration::from_secs(10), || {
        files_under(&setup.incoming_dir())
            .iter()
            .any(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 2 << 20))
    });
    assert!(
        past_first_mib,
        "the upload should have gone past its first MiB"
    );
    conn.disconnect();
    assert_clean_then_serves(&server);
}

#[test]
fn a_declared_length_over_the_total_limit_is_refused_at_once() {
    let setup = Setup::new().small_limits(); // 2 MiB a submission
    let server = setup.start();
    let mut conn = Conn::open(server.addr);
    let form = Multipart::new()
        .text("message", "kept for the source")
        .file("files", "big.bin", "application/octet-stream", b"XYZ");
    let body = form.body();
    assert!(conn.send(&post_head(
        server.addr,
        "/submit",
        &form.content_type(),
        Some(3 * MIB)
    )));
    // Only the text and the head of the first file are sent: the answer comes from the declared
    // length, once the text is read (to give it back), before any of the file.
    let file_head_end = find(&body, b"XYZ").unwrap();
    assert!(conn.send(&body[..file_head_end]));
    let response = conn.read_response().expect("an answer");
    response.assert_page(413, "Too large");
    assert!(response.text().contains("kept for the source"));
    assert_clean_then_serves(&server);
}

#[test]
fn a_chunked_body_over_the_total_limit_is_refused() {
    let setup = Setup::new().small_limits(); // 1 MiB a file, 2 MiB a submission
    let server = setup.start();
    // Three files each under the per-file limit: only the total crosses its limit.
    let mut form = Multipart::new().text("message", "chunked and too much");
    for i in 0..3 {
        form = form.file(
            "files",
            &format!("part{i}.bin"),
            "application/octet-stream",
            &random_bytes(900 * 1024),
        );
    }
    let mut request = post_head(server.addr, "/submit", &form.content_type(), None);
    request.extend_from_slice(&chunked(&form.body(), 16 * 1024));
    // A closed connection (no answer) is also acceptable for an unbounded body.
    if let Some(response) = exchange(server.addr, request) {
        response.assert_page(413, "Too large");
    }
    assert_clean_then_serves(&server);
}

#[test]
fn a_chunked_body_within_the_limits_is_received() {
    // Chunked bodies are not refused as such: the limit above is what refused.
    let setup = Setup::new().small_limits();
    let server = setup.start();
    let data = random_bytes(300_000);
    let form = Multipart::new().text("message", "chunked, fine").file(
        "files",
        "ok.bin",
        "application/octet-stream",
        &data,
    );
    let mut request = post_head(server.addr, "/submit", &form.content_type(), None);
    request.extend_from_slice(&chunked(&form.body(), 10_000));
    exchange(server.addr, request).unwrap().assert_received();
    let (_, opened) = setup.only_submission();
    assert!(opened.attachments[0].content() == &data[..]);
}

#[test]
fn a_slow_body_is_cut_off_after_the_body_timeout() {
    const TIMEOUT_SECS: u64 = 10; // the lowest the configuration accepts
    let setup = Setup::new()
        .small_limits()
        .with("SEALDROP_BODY_TIMEOUT_SECS", &TIMEOUT_SECS.to_string());
    let server = setup.start();
    let form = Multipart::new().text("message", "slow").file(
        "files",
        "slow.bin",
        "application/octet-stream",
        &random_bytes(100_000),
    );
    let body = form.body();
    let mut conn = Conn::open(server.addr);
    let started = Instant::now();
    assert!(conn.send(&post_head(
        server.addr,
        "/submit",
        &form.content_type(),
        Some(body.len())
    )));
    assert!(conn.send(&body[..1000]));
    // Trickle the rest, a few bytes at a time, far slower than the timeout allows.
    let mut writer = conn.stream.try_clone().unwrap();
    let rest = body[1000..].to_vec();
    let trickle = thread::spawn(move || {
        use std::io::Write;
        for piece in rest.chunks(16) {
            if writer.write_all(piece).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    let response = conn.read_response();
    let elapsed = started.elapsed();
    conn.disconnect();
    let _ = trickle.join();
    // The page, or (if the server closes first) no answer at all; never a stored submission.
    if let Some(response) = response {
        response.assert_page(408, "The upload took too long");
    }
    assert!(
        elapsed >= Duration::from_secs(TIMEOUT_SECS) - Duration::from_millis(500),
        "cut off too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(TIMEOUT_SECS + 10),
        "not cut off in time: {elapsed:?}"
    );
    assert_clean_then_serves(&server);
}

#[test]
fn a_full_disk_gets_the_temporarily_full_page_and_the_site_still_works() {
    let probe = Setup::new();
    let free_mib = sealdrop::store::free_bytes(probe.root.path()).unwrap() >> 20;
    let setup = Setup::new().with(
        "SEALDROP_MIN_FREE_DISK_MB",
        &(free_mib + 1_000_000).to_string(),
    );
    let server = setup.start();
    let form = Multipart::new().text("message", "nowhere to put it");
    let response = server.post("/submit", &form);
    response.assert_page(507, "Temporarily full");
    assert!(response.header("retry-after").is_some());
    setup.assert_nothing_stored();
    // The rest of the site keeps working.
    let form_page = server.get("/");
    assert_eq!(form_page.status, 200);
    assert_eq!(server.get(&form_page.stylesheet_path()).status, 200);
}

#[test]
fn a_busy_server_says_so_while_an_upload_holds_the_only_slot() {
    let setup = Setup::new()
        .small_limits()
        .with("SEALDROP_MAX_CONCURRENT_UPLOADS", "1");
    let server = setup.start();
    let held = Multipart::new().text("message", "held open").file(
        "files",
        "held.bin",
        "application/octet-stream",
        &random_bytes(500_000),
    );
    let body = held.body();
    let mut conn = Conn::open(server.addr);
    assert!(conn.send(&post_head(
        server.addr,
        "/submit",
        &held.content_type(),
        Some(body.len())
    )));
    assert!(conn.send(&body[..200_000]));
    // The held upload is streaming a file: it has the slot.
    assert!(wait_until(Duration::from_secs(10), || !files_under(
        &setup.incoming_dir()
    )
    .is_empty()));

    let second = Multipart::new().text("message", "while busy");
    let response = server.post("/submit", &second);
    response.assert_page(503, "Busy right now");
    assert!(response.header("retry-after").is_some());
    // Pages other than the upload still work while busy.
    assert_eq!(server.get("/").status, 200);

    conn.disconnect();
    assert_clean_then_serves(&server);
}

#[test]
fn the_storage_quota_refuses_with_the_full_page_once_reached() {
    // 4 MiB of ciphertext at most. An upload reserves its declared size plus Padmé headroom
    // (1/8) plus 1 MiB of slack, on top of what is already stored.
    let setup = Setup::new().with("SEALDROP_STORAGE_QUOTA_MB", "4");
    let server = setup.start();
    let first = random_bytes(MIB * 3 / 2);
    let form = Multipart::new().text("message", "fits").file(
        "files",
        "first.bin",
        "application/octet-stream",
        &first,
    );
    server.post("/submit", &form).assert_received();
    // 1.4 MiB would fit an empty store (about 2.6 MiB reserved), not on top of the first.
    let second = Multipart::new().text("message", "over the quota").file(
        "files",
        "second.bin",
        "application/octet-stream",
        &random_bytes(MIB * 14 / 10),
    );
    server
        .post("/submit", &second)
        .assert_page(507, "Temporarily full");
    // Only the first report is stored, and it is intact.
    let (_, opened) = setup.only_submission();
    assert!(opened.attachments[0].content() == &first[..]);
    assert_eq!(files_under(&setup.blobs_dir()).len(), 2);
    assert!(files_under(&setup.incoming_dir()).is_empty());
    assert_eq!(server.get("/").status, 200);
}

#[test]
fn a_purge_frees_quota_for_the_running_server() {
    let setup = Setup::new().with("SEALDROP_STORAGE_QUOTA_MB", "4");
    let server = setup.start();
    let upload = |name: &str, size: usize| {
        Multipart::new().text("message", name).file(
            "files",
            name,
            "application/octet-stream",
            &random_bytes(size),
        )
    };
    server
        .post("/submit", &upload("first.bin", MIB * 3 / 2))
        .assert_received();
    let second = upload("second.bin", MIB * 14 / 10);
    server
        .post("/submit", &second)
        .assert_page(507, "Temporarily full");

    // Staff take the first report and acknowledge it; the operator purges it, with the server
    // still running (purge is another process writing the same index).
    let first = setup.only_submission().0;
    let bundle = setup.root.path().join("out.bundle");
    let exported = setup.run(&["export", "--out", bundle.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", exported.stderr);
    let ack = setup.root.path().join("ack.txt");
    std::fs::write(&ack, format!("sealdrop-ack v1\n{}\n", first.id)).unwrap();
    let purged = setup.run(&["purge", "--ack", ack.to_str().unwrap()]);
    assert!(purged.status.success(), "{}", purged.stderr);
    assert!(setup.submissions().is_empty());

    // The running server sees the room at once.
    server.post("/submit", &second).assert_received();
    assert_eq!(setup.submissions().len(), 1);
}

#[test]
fn the_same_upload_fits_under_the_quota_in_an_empty_store() {
    // The control for the test above: the second upload alone is accepted.
    let setup = Setup::new().with("SEALDROP_STORAGE_QUOTA_MB", "4");
    let server = setup.start();
    let form = Multipart::new().text("message", "alone").file(
        "files",
        "second.bin",
        "application/octet-stream",
        &random_bytes(MIB * 14 / 10),
    );
    server.post("/submit", &form).assert_received();
}
