//! The installed Debian package, booted with systemd, reached as a source reaches it: through
//! its own onion service.
//!
//! `deploy/test-package` makes a clean Debian 12 chroot, installs the package in it, configures
//! a staff key as the operator guide says, and boots it with `systemd-nspawn --boot` (systemd
//! as PID 1: the package's units start as they would on a server); then it runs this test,
//! naming the container's root folder (`SEALDROP_PACKAGE_ROOT`), its init process
//! (`SEALDROP_PACKAGE_INIT_PID`, as this machine sees it; the container's own /run, a tmpfs, is
//! seen through `/proc/PID/root`) and the staff identity whose recipient it put in
//! `/etc/sealdrop/recipients.txt` (`SEALDROP_PACKAGE_IDENTITY`, a file outside the container). The test starts a private Tor network on loopback (tests/tor_network) and joins
//! the package's `tor@sealdrop` to it through systemd (a drop-in adds the network's options to
//! the unit's own command; the installed torrc and units stay as they are). A tip with a file
//! then goes through the network's client to the onion address the package made, and must
//! arrive in the container's `/var/lib/sealdrop`, opening with the staff identity to what was
//! sent.
//!
//! Without that container there is nothing to test, so the test is ignored in `cargo test`;
//! `deploy/test-package` (which `.ci/run` runs) runs it with `--ignored`. Run that way without
//! the variables, it fails saying what is missing.

mod common;
mod tor_network;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tor_network::{progress, require, source, DebianInstance, Network};

const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(120);
const REACH_TIMEOUT: Duration = Duration::from_secs(120);

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the chroot with the package installed and running \
             that deploy/test-package makes; run `deploy/test-package` (as root)"
        )
    })
}

#[test]
#[ignore = "needs the chroot with the installed package that deploy/test-package makes; it runs this test"]
fn a_tip_reaches_the_installed_package_through_its_own_onion_service() {
    let t0 = Instant::now();
    require("tor", "tor");
    require("tor-gencert", "tor");
    require("nsenter", "util-linux");
    let init_pid: u32 = var("SEALDROP_PACKAGE_INIT_PID")
        .parse()
        .expect("SEALDROP_PACKAGE_INIT_PID is a process id");
    // The container's files on disk (SQLite must open the index by a real path), and as its
    // processes see them (its /run is a tmpfs of its own).
    let root = PathBuf::from(var("SEALDROP_PACKAGE_ROOT"));
    let live = PathBuf::from(format!("/proc/{init_pid}/root"));
    let identity: age::x25519::Identity = std::fs::read_to_string(var("SEALDROP_PACKAGE_IDENTITY"))
        .expect("reading the staff identity")
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an age identity in SEALDROP_PACKAGE_IDENTITY")
        .parse()
        .expect("a valid age identity");

    // Where the package put things: the paths its own config and torrc name.
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("etc/sealdrop/sealdrop.toml")).unwrap())
            .unwrap();
    let inside = |path: &str| root.join(path.trim_start_matches('/'));
    let socket = live.join(
        config["listen"]
            .as_str()
            .unwrap()
            .strip_prefix("unix:")
            .expect("the packaged config listens on a Unix socket")
            .trim_start_matches('/'),
    );
    let data_dir = inside(config["data_dir"].as_str().unwrap());
    assert!(
        socket.exists(),
        "the intake is not listening on {} in the container: is sealdrop.service running?",
        socket.display()
    );
    let recipients = std::fs::read_to_string(inside(config["keys_file"].as_str().unwrap()))
        .expect("the packaged recipients file");
    assert!(
        recipients.contains(&identity.to_public().to_string()),
        "the staff recipient is not in the package's recipients file"
    );
    let torrc = std::fs::read_to_string(root.join("etc/tor/instances/sealdrop/torrc")).unwrap();
    let hs_dir = torrc
        .lines()
        .find_map(|l| l.trim().strip_prefix("HiddenServiceDir "))
        .expect("a HiddenServiceDir line in the packaged torrc")
        .trim();

    let temp = tempfile::Builder::new()
        .prefix("sealdrop-packaged-onion-")
        .tempdir()
        .unwrap();
    let instance = DebianInstance {
        root: root.clone(),
        name: "sealdrop".into(),
        init_pid,
    };
    let mut net = Network::start_debian_instance(temp.path(), &instance);
    net.wait_bootstrapped(BOOTSTRAP_TIMEOUT);
    progress(
        t0,
        "network bootstrapped, the container's tor@sealdrop among it",
    );

    let deadline = Instant::now() + REACH_TIMEOUT;
    let onion = source::onion_address(&mut net, &inside(hs_dir).join("hostname"), deadline);
    progress(t0, &format!("the package's onion address: {onion}"));
    let (form_page, attempts) =
        source::reach_form_page(&mut net, &onion, &socket, deadline, &|| {
            let journal = instance
                .inside("journalctl")
                .args([
                    "-u",
                    "sealdrop",
                    "-u",
                    "tor@sealdrop",
                    "-n",
                    "40",
                    "--no-pager",
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            format!("the container's journal (sealdrop, tor@sealdrop):\n{journal}")
        });
    progress(
        t0,
        &format!("form page over the onion ({attempts} attempts)"),
    );
    assert_eq!(form_page.status, 200, "{}", form_page.text());
    assert!(form_page.text().contains("multipart/form-data"));
    source::assert_strict_headers(&form_page, "private, no-cache");

    let tip = source::Tip::new();
    let received = tip.send(&net, &onion);
    received.assert_received();
    source::assert_strict_headers(&received, "no-store");
    tip.assert_stored(&data_dir, &identity);
    progress(
        t0,
        "the tip arrived in the package's data directory and opens with the staff key",
    );
}
