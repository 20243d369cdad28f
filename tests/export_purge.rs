//! `sealdrop export`, `fingerprint` and `purge` through the real binary on a real data
//! directory, with real age ciphertext opened by a real staff identity.

mod bundle_support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;
use sealdrop_bundle::{ack, signing, BlobKind, BundleReader};

use bundle_support::*;

/// The fingerprint as `sealdrop fingerprint` prints it, parsed as staff would.
fn pinned_key(data: &Path) -> ed25519_dalek::VerifyingKey {
    let out = sealdrop_ok(data, &["fingerprint"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    signing::parse_fingerprint(&out).unwrap()
}

/// The bundle id from an export's summary line: the word after "bundle".
fn bundle_id_of(summary: &str) -> String {
    let mut words = summary.split_whitespace();
    words.find(|w| *w == "bundle").expect("a bundle id");
    let id = words.next().unwrap().trim_end_matches(':').to_owned();
    assert!(sealdrop_core::is_id(&id), "{summary}");
    id
}

/// Open a bundle, decrypt every blob, check it against what was submitted; returns the
/// submission ids it carries, in order.
fn check_bundle(
    path: &Path,
    pinned: &ed25519_dalek::VerifyingKey,
    staff: &Staff,
    made: &[Made],
) -> Vec<String> {
    let reader = BundleReader::open(path, pinned).unwrap();
    let ids: Vec<String> = reader
        .manifest()
        .submissions
        .iter()
        .map(|s| s.id.clone())
        .collect();
    let mut seen_blobs = 0;
    reader
        .for_each_blob(|submission, blob, r| {
            let made = made
                .iter()
                .find(|m| m.id == submission.id)
                .expect("only submissions we made");
            assert_eq!(submission.arrived, made.arrived.to_string());
            let mut ciphertext = Vec::new();
            r.read_to_end(&mut ciphertext)?;
            let plain = decrypt(staff, &ciphertext);
            match blob.kind {
                BlobKind::Envelope => {
                    assert_eq!(blob.id, made.blob_ids[0]);
                    let envelope: serde_json::Value = serde_json::from_slice(&plain).unwrap();
                    assert_eq!(envelope["submission"], made.id.as_str());
                    assert_eq!(envelope["fields"]["message"], made.message.as_str());
                    let attachments = envelope["attachments"].as_array().unwrap();
                    assert_eq!(attachments.len(), made.attachments.len());
                }
                BlobKind::Attachment => {
                    let at = made.blob_ids.iter().position(|b| *b == blob.id).unwrap();
                    let content = &made.attachments[at - 1].1;
                    assert_eq!(&plain[..content.len()], &content[..]);
                    assert!(plain[content.len()..].iter().all(|&b| b == 0));
                }
            }
            seen_blobs += 1;
            Ok(())
        })
        .unwrap();
    let expected_blobs: usize = made
        .iter()
        .filter(|m| ids.contains(&m.id))
        .map(|m| m.blob_ids.len())
        .sum();
    assert_eq!(seen_blobs, expected_blobs);
    ids
}

fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

fn ids_of(made: &[Made]) -> BTreeSet<String> {
    made.iter().map(|m| m.id.clone()).collect()
}

#[test]
fn export_new_then_nothing_then_since_then_all() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let staff = staff();
    let mut made = add_submissions(
        &data,
        &staff,
        &[
            spec(
                days_ago(3),
                "Брат задержан в Москве",
                &[("photo.jpg", &[0xff; 70_000])],
            ),
            spec(
                days_ago(1),
                "second",
                &[("a.txt", b"alpha"), ("b.bin", &[0u8, 1, 2, 3])],
            ),
            spec(today(), "third, text only", &[]),
        ],
    );
    let pinned = pinned_key(&data);

    // 1. The first export carries everything, and its blobs open with the staff identity.
    let b1 = dir.path().join("b1.bundle");
    let summary = sealdrop_ok(&data, &["export", "--out", b1.to_str().unwrap()]);
    assert!(summary.contains("3 submission(s), 6 blob(s)"), "{summary}");
    let b1_id = bundle_id_of(&summary);
    let carried = check_bundle(&b1, &pinned, &staff, &made);
    assert_eq!(set(&carried), ids_of(&made));
    assert_eq!(
        BundleReader::open(&b1, &pinned)
            .unwrap()
            .manifest()
            .bundle_id,
        b1_id
    );
    // The bundle is private to the operator, and no temporary file is left next to it.
    assert_eq!(
        std::fs::metadata(&b1).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    // 2. Nothing new: an empty (valid) bundle, and the summary says so.
    let b2 = dir.path().join("b2.bundle");
    let summary = sealdrop_ok(&data, &["export", "--out", b2.to_str().unwrap()]);
    assert!(summary.starts_with("Nothing to export"), "{summary}");
    assert!(check_bundle(&b2, &pinned, &staff, &made).is_empty());

    // 3. A new submission goes into the next default export; then `--since b1` carries it
    //    (first exported after b1) and a newer one (never exported), but not b1's.
    made.extend(add_submissions(
        &data,
        &staff,
        &[spec(today(), "fourth", &[("d", b"d")])],
    ));
    let b3 = dir.path().join("b3.bundle");
    sealdrop_ok(&data, &["export", "--out", b3.to_str().unwrap()]);
    assert_eq!(
        check_bundle(&b3, &pinned, &staff, &made),
        [made[3].id.clone()]
    );
    made.extend(add_submissions(
        &data,
        &staff,
        &[spec(today(), "fifth", &[])],
    ));
    let b4 = dir.path().join("b4.bundle");
    let summary = sealdrop_ok(
        &data,
        &["export", "--out", b4.to_str().unwrap(), "--since", &b1_id],
    );
    assert!(summary.contains("2 submission(s)"), "{summary}");
    assert_eq!(
        set(&check_bundle(&b4, &pinned, &staff, &made)),
        set(&[made[3].id.clone(), made[4].id.clone()])
    );

    // 4. `--all` carries everything again.
    let b5 = dir.path().join("b5.bundle");
    sealdrop_ok(&data, &["export", "--all", "--out", b5.to_str().unwrap()]);
    assert_eq!(
        set(&check_bundle(&b5, &pinned, &staff, &made)),
        ids_of(&made)
    );

    // An existing file is never overwritten; an unknown --since is refused by name.
    let before = std::fs::read(&b5).unwrap();
    let out = sealdrop(&data, &["export", "--all", "--out", b5.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&b5).unwrap(), before);
    let b6 = dir.path().join("b6.bundle");
    let out = sealdrop(
        &data,
        &[
            "export",
            "--out",
            b6.to_str().unwrap(),
            "--since",
            &"0".repeat(32),
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no export with that bundle id"),
        "{}",
        stderr(&out)
    );
    assert!(!b6.exists());
}

#[test]
fn export_refuses_a_damaged_blob_and_marks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let staff = staff();
    let made = add_submissions(
        &data,
        &staff,
        &[
            spec(today(), "one", &[("x.bin", &[7u8; 1000])]),
            spec(today(), "two", &[]),
        ],
    );
    let victim = &made[0].blob_ids[1];
    let path = blob_path(&data, victim);
    let original = std::fs::read(&path).unwrap();
    std::fs::write(&path, &original[..original.len() - 1]).unwrap();

    let out_file = dir.path().join("b.bundle");
    let out = sealdrop(&data, &["export", "--out", out_file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(victim) && err.contains("is damaged"), "{err}");
    assert!(!out_file.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );

    // Restored, the export carries both: the failed one marked nothing as exported.
    std::fs::write(&path, &original).unwrap();
    let summary = sealdrop_ok(&data, &["export", "--out", out_file.to_str().unwrap()]);
    assert!(summary.contains("2 submission(s)"), "{summary}");
    let pinned = pinned_key(&data);
    assert_eq!(
        set(&check_bundle(&out_file, &pinned, &staff, &made)),
        ids_of(&made)
    );
}

/// Submission ids in the index, and blob files on disk.
fn stored(data: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let conn = Connection::open(data.join("sealdrop.sqlite")).unwrap();
    let mut q = conn.prepare("SELECT id FROM submissions").unwrap();
    let rows = q
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let blobs = std::fs::read_dir(data.join("blobs"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .into_string()
                .unwrap()
                .trim_end_matches(".age")
                .to_owned()
        })
        .collect();
    (rows, blobs)
}

fn blob_rows(data: &Path) -> usize {
    let conn = Connection::open(data.join("sealdrop.sqlite")).unwrap();
    conn.query_row("SELECT count(*) FROM blobs", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

#[test]
fn purge_ack_deletes_exactly_the_acked_exported_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let staff = staff();
    let mut made = add_submissions(
        &data,
        &staff,
        &[
            spec(today(), "one", &[("a", b"aaaa")]),
            spec(today(), "two", &[("b", b"bb"), ("c", b"c")]),
            spec(today(), "three", &[]),
        ],
    );
    let bundle = dir.path().join("b.bundle");
    sealdrop_ok(&data, &["export", "--out", bundle.to_str().unwrap()]);
    // Arrived after the export: never exported.
    made.extend(add_submissions(
        &data,
        &staff,
        &[spec(today(), "four", &[("d", b"d")])],
    ));

    // A malformed ack file deletes nothing.
    let bad = dir.path().join("bad.ack");
    std::fs::write(&bad, format!("sealdrop-ack v1\n{}\n../../x\n", made[0].id)).unwrap();
    let out = sealdrop(&data, &["purge", "--ack", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
    assert_eq!(stored(&data).0, ids_of(&made));

    let unknown = "f".repeat(32);
    let ack_file = dir.path().join("staff.ack");
    std::fs::write(
        &ack_file,
        ack::to_text([
            made[0].id.as_str(),
            made[1].id.as_str(),
            made[3].id.as_str(),
            unknown.as_str(),
        ]),
    )
    .unwrap();
    let report = sealdrop_ok(&data, &["purge", "--ack", ack_file.to_str().unwrap()]);
    assert!(
        report.contains("Purged 2 acknowledged submission(s) (5 blob file(s) deleted)"),
        "{report}"
    );
    assert!(
        report.contains("1 acknowledged id(s) were never exported"),
        "{report}"
    );
    assert!(report.contains(&made[3].id), "{report}");
    assert!(
        report.contains("1 acknowledged id(s) are not on this server"),
        "{report}"
    );

    let (rows, files) = stored(&data);
    assert_eq!(rows, set(&[made[2].id.clone(), made[3].id.clone()]));
    let kept_blobs: BTreeSet<String> = made[2..]
        .iter()
        .flat_map(|m| m.blob_ids.iter().cloned())
        .collect();
    assert_eq!(files, kept_blobs);
    assert_eq!(blob_rows(&data), kept_blobs.len());

    // Acknowledging again changes nothing.
    let report = sealdrop_ok(&data, &["purge", "--ack", ack_file.to_str().unwrap()]);
    assert!(report.contains("Purged 0"), "{report}");
    assert_eq!(stored(&data).0.len(), 2);
}

#[test]
fn purge_older_than_goes_by_arrival_day() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let staff = staff();
    let made = add_submissions(
        &data,
        &staff,
        &[
            spec(days_ago(40), "old", &[("a", b"a")]),
            spec(days_ago(31), "just past", &[]),
            spec(days_ago(30), "on the line", &[("b", b"b")]),
            spec(days_ago(1), "recent", &[]),
        ],
    );
    let report = sealdrop_ok(&data, &["purge", "--older-than", "30"]);
    assert!(
        report.contains(&format!(
            "Purged 2 submission(s) that arrived before {} (3 blob file(s) deleted)",
            days_ago(30)
        )),
        "{report}"
    );
    assert!(
        report.contains("2 of them had never been exported"),
        "{report}"
    );
    let (rows, files) = stored(&data);
    assert_eq!(rows, set(&[made[2].id.clone(), made[3].id.clone()]));
    let kept: BTreeSet<String> = made[2..]
        .iter()
        .flat_map(|m| m.blob_ids.iter().cloned())
        .collect();
    assert_eq!(files, kept);

    let out = sealdrop(&data, &["purge"]);
    assert!(!out.status.success(), "purge needs --ack or --older-than");
    let out = sealdrop(&data, &["purge", "--older-than", "3", "--ack", "x"]);
    assert!(!out.status.success(), "not both");
}

#[test]
fn commands_refuse_a_missing_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    for args in [
        &["fingerprint"][..],
        &["export", "--out", "x.bundle"],
        &["purge", "--older-than", "1"],
    ] {
        let out = sealdrop(&missing, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("no data directory"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!missing.exists());
}

/// Start `sealdrop serve` and wait for it to listen.
fn start_server(data: &Path, keys: &Path) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealdrop"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SEALDROP_") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd
        .arg("serve")
        .env("SEALDROP_DATA_DIR", data)
        .env("SEALDROP_KEYS_FILE", keys)
        .env("SEALDROP_LISTEN", "127.0.0.1:0")
        .env("SEALDROP_MIN_FREE_DISK_MB", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) if line.contains("listening on") => child,
        other => {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the server did not start: {other:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn serve_creates_the_signing_key_and_restarts_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = dir.path().join("recipients.txt");
    std::fs::write(&keys, format!("{}\n", staff().identity.to_public())).unwrap();

    let mut server = start_server(&data, &keys);
    let key_file = data.join(signing::KEY_FILE);
    let key = signing::load(&key_file).unwrap();
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    server.kill().unwrap();
    server.wait().unwrap();

    // The second start reads its own key file during the secret-key scan and must not take
    // it for an age secret key; the key stays the same.
    let mut server = start_server(&data, &keys);
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(signing::load(&key_file).unwrap().to_bytes(), key.to_bytes());
    assert_eq!(pinned_key(&data), key.verifying_key());
}

#[test]
fn bundle_blobs_open_with_dd_and_plain_age() {
    // docs/BUNDLE-FORMAT.md promises a bundle can be unpacked without Sealdrop: cut each blob
    // out with `dd` at the documented offsets and open it with the `age` command alone.
    let age_ok = Command::new("age").arg("--version").output();
    assert!(
        age_ok.is_ok_and(|o| o.status.success()),
        "this test needs the `age` command: install the Debian package `age`"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let staff = staff();
    let made = add_submissions(
        &data,
        &staff,
        &[spec(
            today(),
            "read me with age",
            &[("f.bin", &[42u8; 100_000])],
        )],
    );
    let identity = dir.path().join("identity.txt");
    {
        use age::secrecy::ExposeSecret;
        std::fs::write(&identity, staff.identity.to_string().expose_secret()).unwrap();
    }
    let bundle = dir.path().join("b.bundle");
    sealdrop_ok(&data, &["export", "--out", bundle.to_str().unwrap()]);
    let bytes = std::fs::read(&bundle).unwrap();
    let m = u32::from_be_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes[24..24 + m]).unwrap();
    let mut offset = 24 + m + 64;
    for blob in manifest["submissions"][0]["blobs"].as_array().unwrap() {
        let size = blob["size"].as_u64().unwrap() as usize;
        let cut = dir.path().join("blob.age");
        let dd = Command::new("dd")
            .arg(format!("if={}", bundle.display()))
            .arg(format!("of={}", cut.display()))
            .args(["iflag=skip_bytes,count_bytes", "status=none"])
            .arg(format!("skip={offset}"))
            .arg(format!("count={size}"))
            .status()
            .unwrap();
        assert!(dd.success());
        let out = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&identity)
            .arg(&cut)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if blob["kind"] == "envelope" {
            let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(envelope["fields"]["message"], made[0].message.as_str());
        } else {
            assert!(out.stdout.starts_with(&[42u8; 100_000]));
        }
        offset += size;
    }
    assert_eq!(offset, bytes.len());
}
