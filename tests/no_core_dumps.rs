//! Both real binaries turn core dumps off themselves, whatever the unit file says: their
//! `/proc/PID/limits` show a core size of 0 (soft and hard), and they are not dumpable
//! (`PR_SET_DUMPABLE` 0).
//!
//! Dumpable is not printed in `/proc/PID/status`; what shows it is who owns the process's
//! `/proc/PID` files: the process's own user when dumpable, root when not. So the binaries run
//! here as `nobody` (the tests run as root), and a plain `sleep` as `nobody` shows the other case.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Setup;

const NOBODY: u32 = 65534;

fn core_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("a core size line")
        .to_owned();
    line.split_whitespace()
        .skip(4)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The owner of `/proc/PID/status`, and the process's real uid from inside it.
fn proc_owner_and_uid(pid: u32) -> (u32, u32) {
    let path = format!("/proc/{pid}/status");
    let owner = std::fs::metadata(&path).unwrap().uid();
    let status = std::fs::read_to_string(&path).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    (owner, uid)
}

fn must_run_as_root() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root, to run the binaries as another user");
        return false;
    }
    true
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_process_of_nobody_that_stays_dumpable_is_told_apart() {
    if !must_run_as_root() {
        return;
    }
    let sleep = Kill(
        Command::new("sleep")
            .arg("30")
            .uid(NOBODY)
            .gid(NOBODY)
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(proc_owner_and_uid(sleep.0.id()), (NOBODY, NOBODY));
}

#[test]
fn the_server_has_no_core_dumps_and_is_not_dumpable() {
    if !must_run_as_root() {
        return;
    }
    let setup = Setup::new();
    let chown = Command::new("chown")
        .args(["-R", &format!("{NOBODY}:{NOBODY}")])
        .arg(setup.root.path())
        .status()
        .unwrap();
    assert!(chown.success());
    let mut cmd = setup.command(&["serve"]);
    cmd.uid(NOBODY)
        .gid(NOBODY)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut server = Kill(cmd.spawn().unwrap());
    let mut out = BufReader::new(server.0.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the server exited");
        if line.contains("listening on") {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    let pid = server.0.id();
    assert_eq!(core_limit(pid), "0 0");
    assert_eq!(
        proc_owner_and_uid(pid),
        (0, NOBODY),
        "a dumpable server's /proc files would belong to its own user"
    );
}

#[test]
fn sealdesk_has_no_core_dumps_and_is_not_dumpable() {
    if !must_run_as_root() {
        return;
    }
    // sealdesk is a command that exits at once: strace holds it at its exit_group for 20 s,
    // after main has returned, with everything it set still in place.
    let strace = Kill(
        Command::new("strace")
            .args(["-o", "/dev/null", "-u", "nobody", "-e", "trace=exit_group"])
            .args(["-e", "inject=exit_group:delay_enter=20000000"])
            .arg(common::sealdesk_bin())
            .arg("--help")
            .stdout(Stdio::null())
            .spawn()
            .expect("strace (apt-get install strace)"),
    );
    let children = format!("/proc/{0}/task/{0}/children", strace.0.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid: u32 = loop {
        let text = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            let pid: u32 = pid.parse().unwrap();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "sealdesk" {
                // Wait until it has reached its exit (its main has run).
                let syscall =
                    std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
                if syscall.starts_with("231 ") || syscall.starts_with("94 ") {
                    break pid;
                }
            }
        }
        assert!(Instant::now() < deadline, "sealdesk did not reach its exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(core_limit(pid), "0 0");
    assert_eq!(proc_owner_and_uid(pid), (0, NOBODY));
}
