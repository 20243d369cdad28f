//! One data directory, one writer at a time: a second server refuses to start (and, above all,
//! does not run its start-up clean-up under the first); operator commands never change the
//! schema; a live socket is never removed.

mod common;

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;

/// Wait until `dir` holds at least one file, or fail.
fn wait_for_a_file(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let files = files_under(dir);
        if !files.is_empty() {
            return files;
        }
        assert!(
            Instant::now() < deadline,
            "no upload file appeared in {dir:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_server_on_one_data_directory_refuses_naming_the_first() {
    let setup = Setup::new();
    let first = setup.start();
    let acknowledged = first.submit_good();

    // An upload in flight on the first server: its file sits in incoming/, which a second
    // server's start-up clean-up would delete.
    let message = format!(
        "sent while a second server tried to start {}",
        random_hex(8)
    );
    let data = random_bytes((2 << 20) + 123);
    let form = Multipart::new().text("message", &message).file(
        "files",
        "in-flight.bin",
        "application/octet-stream",
        &data,
    );
    let body = form.body();
    let split = body.len() - 1000;
    let mut upload = Conn::open(first.addr);
    let mut request = post_head(
        first.addr,
        "/submit",
        &form.content_type(),
        Some(body.len()),
    );
    request.extend_from_slice(&body[..split]);
    assert!(upload.send(&request));
    let in_flight = wait_for_a_file(&setup.incoming_dir());

    let second = setup.run(&["serve"]);
    assert!(!second.status.success(), "the second server must refuse");
    let expected = format!("another sealdrop server (pid {})", first.pid());
    assert!(
        second.stderr.contains(&expected),
        "the refusal names the first server ({expected}); stderr:\n{}",
        second.stderr
    );
    assert!(
        !second.stdout.contains("listening"),
        "it never listened: {}",
        second.stdout
    );
    for file in &in_flight {
        assert!(
            file.exists(),
            "the second server deleted {file:?} of an upload in flight"
        );
    }

    // The first server goes on: the upload in flight completes and is acknowledged.
    assert!(upload.send(&body[split..]));
    upload
        .read_response()
        .expect("a response to the upload")
        .assert_received();
    first.stop();

    // Both acknowledged submissions are there after both have stopped, and decrypt.
    let rows = setup.submissions();
    assert_eq!(rows.len(), 2);
    let opened: Vec<Opened> = rows.iter().map(|r| setup.open_submission(r)).collect();
    assert!(opened
        .iter()
        .any(|o| o.field("message") == Some(acknowledged.as_str())));
    let late = opened
        .iter()
        .find(|o| o.field("message") == Some(message.as_str()))
        .expect("the upload in flight was kept");
    assert!(late.attachments[0].content() == &data[..]);

    // And with the first gone, a server starts on the directory again.
    setup.start().stop();
}

#[test]
fn operator_commands_refuse_an_index_of_another_schema_and_change_nothing() {
    let setup = Setup::new();
    let server = setup.start();
    server.submit_good();
    server.stop();
    let db = || rusqlite::Connection::open(setup.db_path()).unwrap();
    let versions = || -> Vec<u32> {
        db().prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let current = versions();
    let newest = *current.last().unwrap();
    let bundle = setup.root.path().join("out.bundle");
    let bundle_arg = bundle.to_str().unwrap();

    // As if the index had been left by an older release.
    db().execute("DELETE FROM schema_migrations WHERE version = ?1", [newest])
        .unwrap();
    let ran = setup.run(&["export", "--out", bundle_arg]);
    assert!(!ran.status.success());
    assert!(
        ran.stderr.contains("older than this release")
            && ran
                .stderr
                .contains("start this release's `sealdrop serve` once"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        versions(),
        &current[..current.len() - 1],
        "no migration ran"
    );
    assert!(!bundle.exists());

    // As if a newer release had written it.
    db().execute(
        "INSERT INTO schema_migrations (version, name) VALUES (?1, 'future.sql'), (?2, 'x.sql')",
        [newest, newest + 50],
    )
    .unwrap();
    let ran = setup.run(&["purge", "--older-than", "0"]);
    assert!(!ran.status.success());
    assert!(
        ran.stderr.contains("written by a newer release"),
        "{}",
        ran.stderr
    );
    assert_eq!(setup.submissions().len(), 1, "nothing was purged");

    // Put right, the commands work again; only `serve` would ever have migrated.
    db().execute(
        "DELETE FROM schema_migrations WHERE version = ?1",
        [newest + 50],
    )
    .unwrap();
    let ran = setup.run(&["export", "--out", bundle_arg]);
    assert!(ran.status.success(), "{}", ran.stderr);
}

#[test]
fn a_live_socket_is_never_removed() {
    let mut setup = Setup::new();
    let socket = setup.root.path().join("run").join("sealdrop.sock");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    // Another process listening there (for example a server on another data directory).
    let live = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    setup.set("SEALDROP_LISTEN", &format!("unix:{}", socket.display()));
    let ran = setup.run(&["serve"]);
    assert!(!ran.status.success());
    assert!(
        ran.stderr.contains("another process is listening on"),
        "{}",
        ran.stderr
    );
    assert!(socket.exists(), "the live socket was removed");
    let _client = UnixStream::connect(&socket).expect("the first listener still answers");
    drop(live);
}
