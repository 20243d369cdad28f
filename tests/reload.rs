//! Keys reload without a restart: after SIGHUP (what `systemctl reload sealdrop` sends) a new
//! recipients file takes effect for the next submission, checked with real age identities; a
//! bad file on reload changes nothing and the log says why.

mod common;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// The plaintext if `identity` opens the age file at `path`, None if it cannot.
fn opens_with(identity: &age::x25519::Identity, path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap();
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).unwrap();
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .ok()?;
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).unwrap();
    Some(plain)
}

/// Submit one message and return the path of its envelope blob.
fn submit(setup: &Setup, server: &Server, message: &str) -> std::path::PathBuf {
    let before: Vec<String> = setup.submissions().into_iter().map(|r| r.id).collect();
    server
        .post("/submit", &Multipart::new().text("message", message))
        .assert_received();
    let row = setup
        .submissions()
        .into_iter()
        .find(|r| !before.contains(&r.id))
        .unwrap_or_else(|| {
            panic!(
                "no new submission among {:?} (before: {before:?})",
                setup
                    .submissions()
                    .iter()
                    .map(|r| &r.id)
                    .collect::<Vec<_>>()
            )
        });
    setup.blobs_dir().join(format!("{}.age", row.envelope_blob))
}

fn hangup(server: &Server) {
    // SAFETY: a plain kill(2) on the child's pid.
    let sent = unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGHUP) };
    assert_eq!(sent, 0, "sending SIGHUP");
}

/// Wait until the server's log holds `needle` `times` times.
fn wait_for_log(server: &Server, needle: &str, times: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = String::from_utf8_lossy(&server.output().1).into_owned();
        if log.matches(needle).count() >= times {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_reload_seals_new_submissions_to_the_new_recipients_only_and_a_bad_file_changes_nothing() {
    let setup = Setup::new();
    let server = setup.start();
    let old = &setup.identity;

    let first = submit(&setup, &server, "before the reload");
    assert!(opens_with(old, &first).is_some());

    // Key rotation: the group replaces both keys with a new one.
    let new = age::x25519::Identity::generate();
    std::fs::write(
        &setup.keys_file,
        format!("# rotated\n{}\n", new.to_public()),
    )
    .unwrap();
    hangup(&server);
    let log = wait_for_log(&server, "reloaded the recipients", 1);
    assert!(log.contains("sealing to 1 recipient(s)"), "{log}");

    let second = submit(&setup, &server, "after the reload");
    let plain = opens_with(&new, &second).expect("the new key opens what came after the reload");
    assert!(String::from_utf8_lossy(&plain).contains("after the reload"));
    assert!(
        opens_with(old, &second).is_none(),
        "the old key must not open what came after the reload"
    );
    assert!(opens_with(&setup.second_identity, &second).is_none());
    // What came before stays sealed to the keys of its time.
    assert!(opens_with(old, &first).is_some());

    // A broken file on reload: the server keeps the new key and says why.
    std::fs::write(&setup.keys_file, "age1 this is not a key\n").unwrap();
    hangup(&server);
    let log = wait_for_log(&server, "reload refused", 1);
    assert!(
        log.contains("still sealing to the 1 recipient(s)") && log.contains("line 1"),
        "{log}"
    );
    let third = submit(&setup, &server, "after a bad reload");
    assert!(opens_with(&new, &third).is_some());

    // A secret key put beside the recipients is refused on reload as at start.
    std::fs::write(&setup.keys_file, format!("{}\n", old.to_public())).unwrap();
    std::fs::copy(
        &setup.identity_file,
        setup.keys_file.with_file_name("identity.txt"),
    )
    .unwrap();
    hangup(&server);
    let log = wait_for_log(&server, "reload refused", 2);
    assert!(log.contains("SECRET key"), "{log}");
    let fourth = submit(&setup, &server, "after a refused secret key");
    assert!(opens_with(&new, &fourth).is_some());
    assert!(opens_with(old, &fourth).is_none());
}
