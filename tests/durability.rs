//! Durability: once the source sees "received", the submission survives a SIGKILL of the server;
//! and start-up removes what unacknowledged uploads left behind, and nothing else.

mod common;

use common::*;

#[test]
fn a_received_submission_survives_sigkill_and_restart() {
    let setup = Setup::new();
    // Over a MiB, so its tail goes through the disk thread and the padded last buffer.
    let data = random_bytes((3 << 20) + 777);
    let message = format!("survives a crash {}", random_hex(8));
    {
        let server = setup.start();
        let form = Multipart::new().text("message", &message).file(
            "files",
            "evidence.bin",
            "application/octet-stream",
            &data,
        );
        server.post("/submit", &form).assert_received();
        // No graceful shutdown, no checkpoint: only what was made durable before the answer.
        server.kill_hard();
    }
    let server = setup.start();
    let (_, opened) = setup.only_submission();
    assert_eq!(opened.field("message"), Some(message.as_str()));
    assert!(opened.attachments[0].content() == &data[..]);
    assert_eq!(setup.blob_rows().len(), 2);
    assert_eq!(files_under(&setup.blobs_dir()).len(), 2);
    // And the restarted server goes on receiving.
    server.submit_good();
    assert_eq!(setup.submissions().len(), 2);
}

#[test]
fn start_up_removes_unfinished_uploads_and_unrecorded_blobs_only() {
    let setup = Setup::new();
    let kept_message = format!("kept {}", random_hex(8));
    {
        let server = setup.start();
        let form = Multipart::new().text("message", &kept_message).file(
            "files",
            "kept.txt",
            "text/plain",
            b"kept",
        );
        server.post("/submit", &form).assert_received();
        server.kill_hard();
    }
    let committed = files_under(&setup.blobs_dir());
    assert_eq!(committed.len(), 2);

    // Debris as a crash would leave it: partial uploads, a folder, and a blob that was moved
    // into blobs/ but never recorded (a crash between the move and the transaction).
    let incoming = setup.incoming_dir();
    std::fs::write(
        incoming.join(format!("{}.age.part", random_hex(16))),
        random_bytes(5000),
    )
    .unwrap();
    std::fs::write(incoming.join("stray"), b"x").unwrap();
    std::fs::create_dir_all(incoming.join("nested/deeper")).unwrap();
    std::fs::write(incoming.join("nested/deeper/f"), b"y").unwrap();
    let orphan = setup.blobs_dir().join(format!("{}.age", random_hex(16)));
    std::fs::write(&orphan, random_bytes(1000)).unwrap();

    let server = setup.start();
    assert!(
        std::fs::read_dir(&incoming).unwrap().next().is_none(),
        "incoming/ must be empty after start-up"
    );
    assert!(!orphan.exists(), "the unrecorded blob must be removed");
    assert_eq!(
        files_under(&setup.blobs_dir()),
        committed,
        "committed blobs stay"
    );
    let (_, opened) = setup.only_submission();
    assert_eq!(opened.field("message"), Some(kept_message.as_str()));
    // The start-up line goes to stderr before the server listens; its reader may lag a little.
    let said = "removed 3 unfinished upload(s) and 1 unrecorded blob(s)";
    let logged = wait_until(std::time::Duration::from_secs(5), || {
        String::from_utf8_lossy(&server.output().1).contains(said)
    });
    assert!(
        logged,
        "start-up should say what it removed: {}",
        String::from_utf8_lossy(&server.output().1)
    );
}
