//! `sealdrop backup` and `sealdrop restore`, with real keys: a real onion service key made by
//! Debian's tor, the server's real signing key, and the staff identity that alone opens the
//! backup. The backup holds no key in clear; the desk's step (decrypt with the `age` tool,
//! re-encrypt with a passphrase) is done as the guide says; restored on fresh directories it
//! gives the same bundle-signing fingerprint, and tor derives the same onion address from it.

mod common;
mod tor_network;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use age::secrecy::SecretString;
use common::{Setup, BIN};
use tor_network::require;

/// `sealdrop ARGS` with no SEALDROP_* variables: the config file alone says where things are.
fn sealdrop(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Let Debian's tor make (or read) the onion service keys in `hs_dir`, without any network, and
/// return the address it derives.
fn onion_address_from_tor(hs_dir: &Path, work: &Path) -> String {
    let tor = require("tor", "tor");
    let data = work.join("tor-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    // An empty torrc (tor will not read /dev/null), so the system's torrc plays no part.
    let empty = work.join("empty-torrc");
    std::fs::write(&empty, "").unwrap();
    let mut child = Command::new(tor)
        .arg("-f")
        .arg(&empty)
        .arg("--defaults-torrc")
        .arg(&empty)
        .args(["--DisableNetwork", "1", "--SocksPort", "0"])
        .arg("--DataDirectory")
        .arg(&data)
        .arg("--HiddenServiceDir")
        .arg(hs_dir)
        .args(["--HiddenServicePort", "80 127.0.0.1:9"])
        .args(["--Log", "warn stdout"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let hostname = hs_dir.join("hostname");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !hostname.exists() {
        if child.try_wait().unwrap().is_some() {
            let mut said = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut said)
                .unwrap();
            panic!("tor exited before writing the onion address:\n{said}");
        }
        assert!(Instant::now() < deadline, "tor wrote no onion address");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let it finish writing.
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    std::fs::read_to_string(hostname).unwrap().trim().to_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// An installation laid out like the package's, in one temp directory: etc/ (config,
/// recipients), data/ (with the signing key the server made), onion/ (tor's keys).
struct Machine {
    root: PathBuf,
    config: PathBuf,
    torrc: PathBuf,
    hs_dir: PathBuf,
}

fn machine(root: &Path) -> Machine {
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let config = etc.join("sealdrop.toml");
    let torrc = etc.join("torrc");
    let hs_dir = root.join("onion");
    std::fs::write(
        &torrc,
        format!(
            "HiddenServiceDir {}\nHiddenServicePort 80 unix:/run/sealdrop/sealdrop.sock\n",
            hs_dir.display()
        ),
    )
    .unwrap();
    Machine {
        root: root.to_owned(),
        config,
        torrc,
        hs_dir,
    }
}

fn fingerprint(config: &Path) -> String {
    let (ok, out, err) = sealdrop(&["fingerprint", "--config", config.to_str().unwrap()], None);
    assert!(ok, "{err}");
    out.trim().to_owned()
}

#[test]
fn a_backup_holds_no_key_in_clear_and_restores_the_same_onion_address_and_fingerprint() {
    let setup = Setup::new();
    let old = machine(&setup.root.path().join("old"));
    // Relative paths: the restored config puts things beside itself on the new machine.
    std::fs::write(
        &old.config,
        "listen = \"unix:/run/sealdrop/sealdrop.sock\"\ndata_dir = \"../data\"\n\
         keys_file = \"recipients.txt\"\n",
    )
    .unwrap();
    std::fs::copy(
        &setup.keys_file,
        old.config.with_file_name("recipients.txt"),
    )
    .unwrap();
    let data = old.root.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let old_fingerprint = fingerprint(&old.config); // makes the signing key
    let old_onion = onion_address_from_tor(&old.hs_dir, &old.root);
    assert!(old_onion.ends_with(".onion"), "{old_onion}");

    // The backup.
    let backup = setup.root.path().join("backup.age");
    let (ok, out, err) = sealdrop(
        &[
            "backup",
            "--config",
            old.config.to_str().unwrap(),
            "--torrc",
            old.torrc.to_str().unwrap(),
            "--out",
            backup.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("hs_ed25519_secret_key") && out.contains("signing-key"),
        "{out}"
    );
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // No key, and nothing else of what it holds, in clear in the file.
    let sealed = std::fs::read(&backup).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    let onion_key = std::fs::read(old.hs_dir.join("hs_ed25519_secret_key")).unwrap();
    let signing_key = std::fs::read_to_string(data.join("signing-key")).unwrap();
    let signing_secret = signing_key.lines().nth(1).unwrap();
    assert_eq!(signing_secret.len(), 64);
    for (what, secret) in [
        ("the onion key", &onion_key[32..]),
        ("the onion key's header", &onion_key[..29]),
        ("the signing key (hex)", signing_secret.as_bytes()),
        (
            "the signing key (bytes)",
            &hex::decode(signing_secret).unwrap()[..],
        ),
        ("the onion address", old_onion.as_bytes()),
        ("the config", b"keys_file"),
    ] {
        assert!(
            !contains(&sealed, secret),
            "{what} is in clear in the backup"
        );
    }
    // And nothing was written aside in clear (TMPDIR of the machine is the setup's tmp).
    assert_eq!(std::fs::read_dir(&setup.tmp_dir).unwrap().count(), 0);

    // On the desk: decrypt with the staff identity and Debian's `age` tool, re-encrypt with a
    // passphrase for the trip (`age -p` needs a terminal; the age crate writes the same format).
    let tar = common::decrypt_with_cli(&setup.identity_file, &backup);
    assert!(
        contains(&tar, &onion_key[32..]),
        "the desk's copy holds the key"
    );
    let passphrase = "correct horse battery staple";
    let transfer = setup.root.path().join("transfer.age");
    {
        let recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap();
        let mut w = encryptor
            .wrap_output(std::fs::File::create(&transfer).unwrap())
            .unwrap();
        w.write_all(&tar).unwrap();
        w.finish().unwrap();
    }

    // A new machine: nothing there yet.
    let new = machine(&setup.root.path().join("new"));
    let restore = |stdin: &str| {
        sealdrop(
            &[
                "restore",
                transfer.to_str().unwrap(),
                "--config",
                new.config.to_str().unwrap(),
                "--torrc",
                new.torrc.to_str().unwrap(),
            ],
            Some(stdin),
        )
    };
    let (ok, out, err) = restore("not the passphrase\n");
    assert!(!ok, "{out}");
    assert!(err.contains("with this passphrase"), "{err}");
    assert!(
        !new.hs_dir.exists() && !new.config.exists(),
        "nothing written"
    );

    let (ok, out, err) = restore(&format!("{passphrase}\n"));
    assert!(ok, "{out}{err}");
    assert_eq!(fingerprint(&new.config), old_fingerprint);
    let key_mode = std::fs::metadata(new.hs_dir.join("hs_ed25519_secret_key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    // tor derives the address from the restored secret key alone.
    std::fs::remove_file(new.hs_dir.join("hostname")).unwrap();
    std::fs::remove_file(new.hs_dir.join("hs_ed25519_public_key")).unwrap();
    let new_onion = onion_address_from_tor(&new.hs_dir, &new.root);
    assert_eq!(new_onion, old_onion);

    // Restoring again changes nothing; over a different onion key it refuses and writes nothing.
    let (ok, out, err) = restore(&format!("{passphrase}\n"));
    assert!(
        ok && out.contains("unchanged") && !out.contains("restored "),
        "{out}{err}"
    );
    std::fs::write(new.hs_dir.join("hs_ed25519_secret_key"), b"another key").unwrap();
    let (ok, _, err) = restore(&format!("{passphrase}\n"));
    assert!(
        !ok && err.contains("already holds a different key"),
        "{err}"
    );

    // The straight-from-the-server backup does not open with a passphrase.
    let (ok, _, err) = sealdrop(
        &[
            "restore",
            backup.to_str().unwrap(),
            "--config",
            new.config.to_str().unwrap(),
        ],
        Some("x\n"),
    );
    assert!(!ok && err.contains("opens only on the desk"), "{err}");
}
