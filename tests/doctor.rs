//! `sealdrop doctor` against a real server on a real Unix socket, in a temp world laid out like
//! the package's: each test breaks one thing an operator can get wrong and sees doctor name it
//! (and exit non-zero), and a healthy world passes.
//!
//! The tests run as root (as CI does), because the check that matters most is whether *tor's
//! user* can connect: the world stands in `nobody` (group `nogroup`) for tor's user, and doctor,
//! as root, really connects as it.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::Setup;

const TOR_USER: &str = "nobody";

struct World {
    setup: Setup,
    socket: PathBuf,
    torrc: PathBuf,
    systemd: PathBuf,
    hs_dir: PathBuf,
    /// The system whose swap and journal doctor judges (`--host-root`): no swap, no journald
    /// config, no /var/log/journal, until a test lays them out.
    host: PathBuf,
    server: Option<Child>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop();
    }
}

fn nogroup() -> u32 {
    sealdrop::ops::doctor::lookup_user(TOR_USER)
        .expect("the user `nobody` (Debian's base-passwd) is missing")
        .gid
}

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the doctor tests need root (they hand the socket's directory to another group and \
         connect as another user); run them as root, as .ci/run does on a clean machine"
    );
}

fn world() -> World {
    require_root();
    let mut setup = Setup::new();
    let root = setup.root.path().to_owned();
    // tor's user must be able to walk down to the socket, as it can to /run.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = root.join("run");
    std::fs::create_dir(&run).unwrap();
    // What the unit's ExecStartPre does: setgid, in tor's group.
    std::os::unix::fs::chown(&run, Some(0), Some(nogroup())).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o2750)).unwrap();
    let socket = run.join("sealdrop.sock");
    let hs_dir = root.join("onion");
    let torrc = root.join("torrc");
    std::fs::write(
        &torrc,
        format!(
            "HiddenServiceDir {}/\nHiddenServicePort 80 unix:{}\n\
             HiddenServiceExportCircuitID haproxy\n",
            hs_dir.display(),
            socket.display()
        ),
    )
    .unwrap();
    let systemd = root.join("systemd");
    std::fs::create_dir(&systemd).unwrap();
    setup.set("SEALDROP_LISTEN", &format!("unix:{}", socket.display()));
    setup.set("SEALDROP_PROXY_PROTOCOL", "true");
    setup.set("SEALDROP_MIN_FREE_INODES", "100");
    let host = root.join("host");
    std::fs::create_dir_all(host.join("proc")).unwrap();
    std::fs::write(
        host.join("proc/swaps"),
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
    )
    .unwrap();
    let desk_keys = root.join("keys").join("desk-keys.txt");
    setup.set("SEALDROP_DESK_KEYS_FILE", desk_keys.to_str().unwrap());
    World {
        setup,
        socket,
        torrc,
        systemd,
        hs_dir,
        host,
        server: None,
    }
}

impl World {
    fn start(&mut self) {
        let mut child = self
            .setup
            .command(&["serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening on unix:"), "{line}");
        self.server = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Run doctor; returns whether it passed and what it printed.
    fn doctor(&self) -> (bool, String) {
        let ran = self.setup.run(&[
            "doctor",
            "--torrc",
            self.torrc.to_str().unwrap(),
            "--tor-user",
            TOR_USER,
            "--service-user",
            "root",
            "--systemd-dir",
            self.systemd.to_str().unwrap(),
            "--host-root",
            self.host.to_str().unwrap(),
        ]);
        (
            ran.status.success(),
            format!("{}{}", ran.stdout, ran.stderr),
        )
    }

    /// Doctor must fail, and its line for `check` must be a PROBLEM holding `words`.
    fn expect_problem(&self, check: &str, words: &[&str]) -> String {
        let (passed, out) = self.doctor();
        assert!(!passed, "doctor passed although {check} is broken:\n{out}");
        let line = line_for(&out, check);
        assert!(line.starts_with("PROBLEM"), "{check} not a problem:\n{out}");
        for w in words {
            assert!(line.contains(w), "{check}: {w:?} not said:\n{out}");
        }
        line
    }
}

fn line_for(out: &str, check: &str) -> String {
    out.lines()
        .find(|l| l.get(8..).is_some_and(|rest| rest.starts_with(check)))
        .unwrap_or_else(|| panic!("no line for {check}:\n{out}"))
        .to_owned()
}

#[test]
fn a_healthy_installation_passes() {
    let mut w = world();
    w.start();
    let (passed, out) = w.doctor();
    assert!(passed, "{out}");
    for check in [
        "recipients",
        "data directory",
        "disk",
        "socket",
        "tor access",
        "tor config",
        "swap",
        "journal",
    ] {
        assert!(line_for(&out, check).starts_with("ok"), "{check}:\n{out}");
    }
    assert!(
        line_for(&out, "tor access").contains("connects to"),
        "as root it really connected as tor's user:\n{out}"
    );
    // Not faults, but said: no desk pinned, no retention, no backup yet.
    for check in ["desk keys", "retention", "backup"] {
        assert!(line_for(&out, check).starts_with("note"), "{check}:\n{out}");
    }
}

#[test]
fn a_socket_tor_cannot_use_is_named() {
    let mut w = world();
    // The shipped mistake: the socket's directory in the service's own group, not tor's.
    let run = w.socket.parent().unwrap().to_owned();
    std::os::unix::fs::chown(&run, Some(0), Some(0)).unwrap();
    w.start();
    let line = w.expect_problem("tor access", &["nobody", "cannot enter", "2750"]);
    assert!(line.contains(run.to_str().unwrap()), "{line}");
    // The server itself answers: only tor is shut out, which is why it went unnoticed.
    let (_, out) = w.doctor();
    assert!(line_for(&out, "socket").starts_with("ok"), "{out}");

    // Directory right, socket not writable by the group.
    w.stop();
    std::os::unix::fs::chown(&run, Some(0), Some(nogroup())).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o2750)).unwrap();
    w.start();
    std::fs::set_permissions(&w.socket, std::fs::Permissions::from_mode(0o640)).unwrap();
    w.expect_problem("tor access", &["cannot write to the socket", "0660"]);
}

#[test]
fn a_server_that_is_not_running_is_named() {
    let w = world();
    w.expect_problem("socket", &["not running", "systemctl start sealdrop"]);
}

#[test]
fn a_secret_key_beside_the_recipients_is_named() {
    let mut w = world();
    w.start();
    let stray = w.setup.keys_file.with_file_name("staff.txt");
    std::fs::copy(&w.setup.identity_file, &stray).unwrap();
    w.expect_problem("recipients", &["SECRET key", "staff.txt"]);
}

#[test]
fn a_bad_recipients_file_is_named() {
    let mut w = world();
    w.start();
    std::fs::write(&w.setup.keys_file, "age1notakey\n").unwrap();
    w.expect_problem("recipients", &["line 1", "not an age public key"]);
}

#[test]
fn a_desk_key_not_pinned_yet_is_said_and_a_bad_one_is_a_problem() {
    let mut w = world();
    w.start();
    let (_, out) = w.doctor();
    let line = line_for(&out, "desk keys");
    assert!(
        line.starts_with("note") && line.contains("no desk is pinned"),
        "{out}"
    );
    let desk_keys = w.setup.keys_file.with_file_name("desk-keys.txt");
    std::fs::write(&desk_keys, "7ebe 3e32 not a fingerprint\n").unwrap();
    w.expect_problem("desk keys", &["line 1", "not a desk fingerprint"]);
}

#[test]
fn a_data_directory_others_can_read_is_named() {
    let mut w = world();
    w.start();
    std::fs::set_permissions(&w.setup.data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    w.expect_problem("data directory", &["755", "chmod 700"]);
}

#[test]
fn a_data_directory_of_another_user_is_named() {
    let mut w = world();
    w.start();
    std::os::unix::fs::chown(&w.setup.data_dir, Some(65534), None).unwrap();
    w.expect_problem(
        "data directory",
        &["not to the service user root", "chown -R root:"],
    );
}

#[test]
fn low_disk_space_and_inodes_are_named() {
    let mut w = world();
    w.start();
    w.setup
        .set("SEALDROP_MIN_FREE_DISK_MB", &(1u64 << 40).to_string());
    w.expect_problem("disk", &["MiB free", "min_free_disk_mb"]);
    w.setup.set("SEALDROP_MIN_FREE_DISK_MB", "1");
    w.setup
        .set("SEALDROP_MIN_FREE_INODES", &(1u64 << 60).to_string());
    w.expect_problem("disk", &["inodes", "min_free_inodes"]);
}

#[test]
fn a_torrc_without_circuit_ids_or_pointing_elsewhere_is_named() {
    let mut w = world();
    w.start();
    let good = std::fs::read_to_string(&w.torrc).unwrap();
    std::fs::write(
        &w.torrc,
        good.replace("HiddenServiceExportCircuitID haproxy\n", ""),
    )
    .unwrap();
    w.expect_problem(
        "tor config",
        &["HiddenServiceExportCircuitID haproxy", "proxy_protocol"],
    );
    std::fs::write(&w.torrc, good.replace("sealdrop.sock", "other.sock")).unwrap();
    w.expect_problem("tor config", &["no HiddenServicePort", "points at"]);
    std::fs::write(&w.torrc, format!("{good}{good}")).unwrap();
    w.expect_problem("tor config", &["appears twice", "tor refuses to start"]);
    std::fs::remove_file(&w.torrc).unwrap();
    w.expect_problem("tor config", &["cannot read the tor configuration"]);
    // The reverse of the first: tor sends PROXY headers the server does not expect.
    std::fs::write(&w.torrc, &good).unwrap();
    w.setup.set("SEALDROP_PROXY_PROTOCOL", "false");
    w.expect_problem("tor config", &["does not expect one"]);
}

#[test]
fn retention_and_its_timer_must_go_together() {
    let mut w = world();
    w.start();
    w.setup.set("SEALDROP_RETENTION_DAYS", "90");
    w.expect_problem(
        "retention",
        &["90", "systemctl enable --now sealdrop-purge.timer"],
    );
    let wants = w.systemd.join("timers.target.wants");
    std::fs::create_dir(&wants).unwrap();
    std::os::unix::fs::symlink("/dev/null", wants.join("sealdrop-purge.timer")).unwrap();
    let (passed, out) = w.doctor();
    assert!(
        passed && line_for(&out, "retention").starts_with("ok"),
        "{out}"
    );
}

#[test]
fn an_enabled_timer_without_a_retention_period_is_named() {
    let mut w = world();
    w.start();
    let wants = w.systemd.join("timers.target.wants");
    std::fs::create_dir(&wants).unwrap();
    std::os::unix::fs::symlink("/dev/null", wants.join("sealdrop-purge.timer")).unwrap();
    w.expect_problem("retention", &["no retention_days is set"]);
}

#[test]
fn keys_changed_after_the_last_backup_are_named() {
    let mut w = world();
    w.start();
    make_onion_key(&w.hs_dir);
    let config = write_config_file(&w);
    let out = w.setup.root.path().join("backup.age");
    let ran = w.setup.run(&[
        "backup",
        "--config",
        config.to_str().unwrap(),
        "--torrc",
        w.torrc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ran.status.success(), "{}{}", ran.stdout, ran.stderr);
    let (passed, doctor_out) = w.doctor();
    assert!(passed, "{doctor_out}");
    assert!(
        line_for(&doctor_out, "backup").starts_with("ok"),
        "{doctor_out}"
    );
    // A new onion key (the old directory lost, tor made another): the backup no longer has it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(w.hs_dir.join("hs_ed25519_secret_key"), b"another key").unwrap();
    w.expect_problem(
        "backup",
        &["hs_ed25519_secret_key", "changed after the last backup"],
    );
}

/// A stand-in onion key directory (the backup tests use real tor).
fn make_onion_key(hs_dir: &Path) {
    std::fs::create_dir_all(hs_dir).unwrap();
    std::fs::write(hs_dir.join("hs_ed25519_secret_key"), b"onion key").unwrap();
    std::fs::write(hs_dir.join("hostname"), b"x.onion\n").unwrap();
}

/// The world's settings as a config file (backup archives the file).
fn write_config_file(w: &World) -> PathBuf {
    let path = w.setup.root.path().join("keys").join("sealdrop.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"unix:{}\"\ndata_dir = {:?}\nkeys_file = {:?}\n[abuse]\nproxy_protocol = true\n",
            w.socket.display(),
            w.setup.data_dir.to_str().unwrap(),
            w.setup.keys_file.to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

/// The line for `check` of a doctor run (which may pass or fail for other reasons).
fn doctor_line(w: &World, check: &str) -> String {
    line_for(&w.doctor().1, check)
}

#[test]
fn swap_in_clear_is_named_and_encrypted_or_in_memory_swap_is_not() {
    use std::os::unix::fs::{symlink, MetadataExt};
    let mut w = world();
    w.start();
    let host = w.host.clone();
    // A swap file on this test's filesystem, which the fake /sys shows as a plain disk.
    std::fs::write(host.join("swapfile"), b"").unwrap();
    let dev = std::fs::metadata(host.join("swapfile")).unwrap().dev();
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    let block = host.join("sys/dev/block").join(format!("{major}:{minor}"));
    std::fs::create_dir_all(&block).unwrap();
    std::fs::write(
        host.join("proc/swaps"),
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
         /swapfile                               file\t\t1048572\t\t0\t\t-2\n",
    )
    .unwrap();
    let line = w.expect_problem("swap", &["/swapfile", "not encrypted", "swapoff /swapfile"]);
    assert!(line.contains("deploy/README.md"), "{line}");

    // The same file on dm-crypt.
    std::fs::create_dir_all(block.join("dm")).unwrap();
    std::fs::write(block.join("dm/uuid"), "CRYPT-PLAIN-swap\n").unwrap();
    std::fs::write(block.join("dm/name"), "swap\n").unwrap();
    let line = doctor_line(&w, "swap");
    assert!(line.starts_with("ok"), "{line}");
    assert!(line.contains("encrypted, /dev/mapper/swap"), "{line}");
    let (passed, out) = w.doctor();
    assert!(passed, "{out}");

    // LVM on LUKS: the logical volume is not dm-crypt, the device under it is.
    std::fs::write(block.join("dm/uuid"), "LVM-abc\n").unwrap();
    let line = doctor_line(&w, "swap");
    assert!(
        line.starts_with("PROBLEM"),
        "LVM alone is not encryption: {line}"
    );
    let crypt = host.join("sys/devices/virtual/block/dm-0");
    std::fs::create_dir_all(crypt.join("dm")).unwrap();
    std::fs::write(crypt.join("dm/uuid"), "CRYPT-LUKS2-0123-sda3_crypt\n").unwrap();
    std::fs::write(crypt.join("dm/name"), "sda3_crypt\n").unwrap();
    std::fs::create_dir_all(block.join("slaves")).unwrap();
    symlink(&crypt, block.join("slaves/dm-0")).unwrap();
    let line = doctor_line(&w, "swap");
    assert!(line.starts_with("ok"), "{line}");
    assert!(line.contains("/dev/mapper/sda3_crypt"), "{line}");

    // A swap partition in compressed memory (zram): its device node's sysfs entry is zram0.
    symlink("/dev/null", host.join("zram0")).unwrap();
    let rdev = std::fs::metadata("/dev/null").unwrap().rdev();
    let zram = host.join("sys/devices/virtual/block/zram0");
    std::fs::create_dir_all(&zram).unwrap();
    symlink(
        &zram,
        host.join("sys/dev/block").join(format!(
            "{}:{}",
            rustix::fs::major(rdev),
            rustix::fs::minor(rdev)
        )),
    )
    .unwrap();
    std::fs::write(
        host.join("proc/swaps"),
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
         /zram0                                  partition\t1048572\t\t0\t\t100\n",
    )
    .unwrap();
    let line = doctor_line(&w, "swap");
    assert!(
        line.starts_with("ok") && line.contains("in memory"),
        "{line}"
    );
}

#[test]
fn a_journal_kept_on_disk_is_said() {
    let w = world();
    let host = w.host.clone();
    assert!(doctor_line(&w, "journal").starts_with("ok"));
    // Debian 12 as installed: Storage=auto, and /var/log/journal exists.
    std::fs::create_dir_all(host.join("var/log/journal")).unwrap();
    std::fs::create_dir_all(host.join("etc/systemd")).unwrap();
    std::fs::write(
        host.join("etc/systemd/journald.conf"),
        "[Journal]\n#Storage=auto\n",
    )
    .unwrap();
    let line = doctor_line(&w, "journal");
    assert!(line.starts_with("note"), "{line}");
    assert!(line.contains("Storage=volatile"), "{line}");
    // As the guide says to set it.
    std::fs::write(
        host.join("etc/systemd/journald.conf"),
        "[Journal]\nStorage=volatile\n",
    )
    .unwrap();
    let line = doctor_line(&w, "journal");
    assert!(line.starts_with("ok"), "{line}");
}
