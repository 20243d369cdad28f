//! The server refuses to start, without listening and without touching its data directory, when
//! its recipients are wrong or a secret key is within reach; and says why, and what to do.

mod common;

use age::secrecy::ExposeSecret;
use common::*;

/// `sealdrop serve` must exit non-zero, never listen, never create the data directory, and say
/// every one of `reasons` on stderr.
fn assert_refuses(setup: &Setup, reasons: &[&str]) {
    let ran = setup.run(&["serve"]);
    assert!(
        !ran.status.success(),
        "the server must not start; stderr:\n{}",
        ran.stderr
    );
    assert!(
        !ran.stdout.contains("listening"),
        "it listened: {}",
        ran.stdout
    );
    assert!(
        !setup.data_dir.exists(),
        "the data directory was created before the keys were checked"
    );
    for reason in reasons {
        assert!(
            ran.stderr.contains(reason),
            "stderr should say {reason:?}:\n{}",
            ran.stderr
        );
    }
}

fn secret_line() -> String {
    age::x25519::Identity::generate()
        .to_string()
        .expose_secret()
        .to_owned()
}

#[test]
fn a_good_setup_starts() {
    // The refusals below differ from this only in the keys.
    let setup = Setup::new();
    let server = setup.start();
    assert_eq!(server.get("/").status, 200);
}

#[test]
fn a_secret_key_in_the_recipients_file_is_refused_naming_the_line() {
    let setup = Setup::new();
    let public = setup.identity.to_public();
    std::fs::write(
        &setup.keys_file,
        format!("# staff\n{public}\n{}\n", secret_line()),
    )
    .unwrap();
    assert_refuses(
        &setup,
        &["recipients.txt line 3", "SECRET key", "sealdesk keygen"],
    );
}

#[test]
fn a_lower_case_secret_key_in_a_comment_is_refused_too() {
    let setup = Setup::new();
    let public = setup.identity.to_public();
    std::fs::write(
        &setup.keys_file,
        format!("{public}\n# {}\n", secret_line().to_lowercase()),
    )
    .unwrap();
    assert_refuses(&setup, &["line 2", "SECRET key"]);
}

#[test]
fn a_secret_key_file_next_to_the_recipients_is_refused() {
    let setup = Setup::new();
    // The recipients themselves are fine; a staff identity was copied beside them.
    let stray = setup.keys_file.with_file_name("staff-identity.txt");
    std::fs::write(
        &stray,
        format!(
            "# created: 2026-01-01\n# public key: age1...\n{}\n",
            secret_line()
        ),
    )
    .unwrap();
    assert_refuses(&setup, &["staff-identity.txt line 3", "SECRET key"]);
}

#[test]
fn a_recipients_file_without_recipients_is_refused() {
    let setup = Setup::new();
    std::fs::write(&setup.keys_file, "# nobody yet\n\n   \n# still nobody\n").unwrap();
    assert_refuses(&setup, &["holds no recipients", "sealdesk keygen"]);
}

#[test]
fn a_malformed_recipient_line_is_refused_naming_the_line() {
    let setup = Setup::new();
    let public = setup.identity.to_public();
    std::fs::write(
        &setup.keys_file,
        format!("# staff\n{public}\nage1thisisnotarecipient\n"),
    )
    .unwrap();
    assert_refuses(&setup, &["line 3", "is not an age public key"]);
}

#[test]
fn a_missing_recipients_file_is_refused() {
    let setup = Setup::new();
    std::fs::remove_file(&setup.keys_file).unwrap();
    assert_refuses(
        &setup,
        &["cannot read the recipients file", "recipients.txt"],
    );
}

#[test]
fn check_config_accepts_a_good_config_and_explains_a_bad_one() {
    let setup = Setup::new();
    let dir = setup.root.path();
    // Relative paths in the file are relative to the file.
    let good = dir.join("sealdrop.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nkeys_file = \"keys/recipients.txt\"\n\
         [limits]\nmax_files = 7\n",
    )
    .unwrap();
    // check-config reads only the file here: no SEALDROP_* overrides.
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env_clear()
            .current_dir(dir)
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (status, stdout, stderr) = run(&["check-config", "--config", good.to_str().unwrap()]);
    assert!(status.success(), "good config refused: {stderr}");
    assert!(stdout.contains("The configuration is valid."), "{stdout}");
    assert!(stdout.contains("2 key(s)"), "{stdout}");
    assert!(stdout.contains("7 files"), "{stdout}");
    assert!(
        !setup.data_dir.exists(),
        "check-config must not create data"
    );

    // A typo in a setting name.
    let typo = dir.join("typo.toml");
    std::fs::write(
        &typo,
        "data_dri = \"data\"\nkeys_file = \"keys/recipients.txt\"\n",
    )
    .unwrap();
    let (status, _, stderr) = run(&["check-config", "--config", typo.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains("data_dri"), "{stderr}");

    // A good file pointing at recipients with a malformed line.
    std::fs::write(&setup.keys_file, "# staff\nage1broken\n").unwrap();
    let (status, stdout, stderr) = run(&["check-config", "--config", good.to_str().unwrap()]);
    assert!(!status.success(), "{stdout}");
    assert!(!stdout.contains("valid"), "{stdout}");
    assert!(stderr.contains("line 2"), "{stderr}");

    // A limit that cannot work.
    std::fs::write(
        &setup.keys_file,
        format!("{}\n", setup.identity.to_public()),
    )
    .unwrap();
    let bad_limit = dir.join("limit.toml");
    std::fs::write(
        &bad_limit,
        "keys_file = \"keys/recipients.txt\"\n[limits]\nbody_timeout_secs = 1\n",
    )
    .unwrap();
    let (status, _, stderr) = run(&["check-config", "--config", bad_limit.to_str().unwrap()]);
    assert!(!status.success());
    assert!(stderr.contains("limits.body_timeout_secs"), "{stderr}");
}

#[test]
fn check_config_checks_the_data_directory_without_creating_it() {
    let setup = Setup::new();
    let check = |extra: &[(&str, &str)]| {
        let mut cmd = setup.command(&["check-config"]);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = check(&[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("will be created at start"), "{stdout}");
    assert!(stdout.contains("MiB free"), "{stdout}");
    assert!(
        !setup.data_dir.exists(),
        "check-config must not create data"
    );

    // A floor above the free space: every submission would be refused as "full".
    let (ok, _, stderr) = check(&[("SEALDROP_MIN_FREE_DISK_MB", "999999999")]);
    assert!(!ok);
    assert!(stderr.contains("min_free_disk_mb"), "{stderr}");

    // A data directory that is a file.
    let file = setup.root.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let (ok, _, stderr) = check(&[("SEALDROP_DATA_DIR", file.to_str().unwrap())]);
    assert!(!ok);
    assert!(stderr.contains("is not a directory"), "{stderr}");
}
