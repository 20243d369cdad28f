//! The unit's system call filter against what the server really calls: `strace -f` the real
//! server through start-up, pages, tips with files, a reload, an export and a purge beside it,
//! and a graceful stop; every system call seen must be allowed by the `SystemCallFilter=` lines
//! of the shipped deploy/sealdrop.service, expanded by systemd's own tables
//! (`systemd-analyze syscall-filter`). A call outside the filter would get EPERM under systemd
//! (SystemCallErrorNumber=EPERM), a failure no other test would see.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// Fail (never skip) when a program is missing, naming its Debian package.
fn require(program: &str, package: &str) {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{program}` is missing: install the Debian package `{package}` (apt-get install \
         {package}); this test needs it and is never skipped"
    );
}

/// systemd's named system call sets, as `systemd-analyze syscall-filter` prints them.
fn syscall_sets() -> BTreeMap<String, Vec<String>> {
    let out = Command::new("systemd-analyze")
        .arg("syscall-filter")
        .output()
        .expect("running systemd-analyze");
    assert!(out.status.success());
    let mut sets = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with('@') {
            current = Some(line.trim().to_owned());
            sets.insert(line.trim().to_owned(), Vec::new());
        } else if let Some(set) = &current {
            let word = line.trim();
            if !word.is_empty() && !word.starts_with('#') {
                sets.get_mut(set).unwrap().push(word.to_owned());
            }
        }
    }
    sets
}

fn expand(name: &str, sets: &BTreeMap<String, Vec<String>>, out: &mut BTreeSet<String>) {
    if let Some(members) = sets.get(name) {
        for m in members {
            expand(m, sets, out);
        }
    } else if !name.starts_with('@') {
        out.insert(name.to_owned());
    } else {
        panic!("systemd knows no set {name}");
    }
}

/// What the unit's `SystemCallFilter=` lines allow, as systemd combines them: the first line
/// without `~` is the allow list, each `~` line removes from it.
fn allowed_by_unit(unit: &str, sets: &BTreeMap<String, Vec<String>>) -> BTreeSet<String> {
    let mut allowed = BTreeSet::new();
    for line in unit.lines() {
        let Some(value) = line.trim().strip_prefix("SystemCallFilter=") else {
            continue;
        };
        let (deny, list) = match value.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let mut names = BTreeSet::new();
        for word in list.split_whitespace() {
            expand(word, sets, &mut names);
        }
        if deny {
            allowed.retain(|n| !names.contains(n));
        } else {
            allowed.extend(names);
        }
    }
    assert!(!allowed.is_empty(), "the unit has no SystemCallFilter=");
    // systemd always permits these, whatever the filter (systemd.exec(5)).
    for always in [
        "execve",
        "exit",
        "exit_group",
        "getrlimit",
        "rt_sigreturn",
        "sigreturn",
    ] {
        allowed.insert(always.to_owned());
    }
    allowed
}

/// The system calls in an `strace -f` log.
fn syscalls_in(log: &Path) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut seen = BTreeMap::new();
    for line in text.lines() {
        // "PID name(args..." or "PID <... name resumed>"; signals and exits are not calls.
        let rest = line.split_once(' ').map_or(line, |(_, r)| r).trim_start();
        if rest.starts_with("---") || rest.starts_with("+++") || rest.starts_with("<...") {
            continue;
        }
        if let Some((name, _)) = rest.split_once('(') {
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                *seen.entry(name.to_owned()).or_insert(0) += 1;
            }
        }
    }
    seen
}

#[test]
fn every_system_call_the_server_makes_is_allowed_by_the_unit() {
    require("strace", "strace");
    require("systemd-analyze", "systemd");
    let sets = syscall_sets();
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sealdrop.service"),
    )
    .unwrap();
    let allowed = allowed_by_unit(&unit, &sets);

    let setup = Setup::new();
    let logs = setup.root.path().join("strace");
    std::fs::create_dir(&logs).unwrap();
    // As the unit runs it: never as root (SQLite, for one, calls fchown only as root). strace
    // -u runs the command as that user, without tracing a privilege change of its own.
    let as_root = rustix::process::geteuid().is_root();
    if as_root {
        chown_tree(setup.root.path(), 65534, 65534);
    }
    // The same environment the tests give `sealdrop`, under strace.
    let traced = |args: &[&str], log: &str| {
        let plain = setup.command(args);
        let mut cmd = Command::new("strace");
        if as_root {
            cmd.args(["-u", "nobody"]);
        }
        cmd.args(["-f", "-qq", "-o"])
            .arg(logs.join(log))
            .arg("--")
            .arg(plain.get_program())
            .args(plain.get_args())
            .env_clear()
            .current_dir(setup.root.path())
            .stdin(Stdio::null());
        for (k, v) in plain.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        cmd
    };

    let mut server = traced(&["serve"], "serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("sealdrop: listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();

    // Pages, tips with files (a large one goes through direct I/O), a reload.
    assert_eq!(get(addr, "/?lang=ru").status, 200);
    for i in 0..3 {
        let form = Multipart::new()
            .text("message", &format!("tip {i}: Мой брат задержан"))
            .file("files", "photo.jpg", "image/jpeg", &random_bytes(3 << 20))
            .file("files", "note.txt", "text/plain", b"small");
        post(addr, "/submit", &form).assert_received();
    }
    // SAFETY: a plain kill(2) on our child (strace passes the signal on to the server).
    let server_pid = wait_for_child_of(server.id());
    unsafe { libc::kill(server_pid, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(500));
    post(
        addr,
        "/submit",
        &Multipart::new().text("message", "after the reload"),
    )
    .assert_received();

    // Operator commands beside the running server (they run under the same user in practice).
    let bundle = setup.root.path().join("bundle.sdb");
    let status = traced(&["export", "--out", bundle.to_str().unwrap()], "export")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let status = traced(&["purge", "--older-than", "0"], "purge")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    // A graceful stop (systemd's SIGTERM).
    unsafe { libc::kill(server_pid, libc::SIGTERM) };
    let status = server.wait().unwrap();
    assert!(
        status.success(),
        "the server did not stop cleanly: {status}"
    );

    let mut report = Vec::new();
    let mut refused = BTreeSet::new();
    for log in ["serve", "export", "purge"] {
        let seen = syscalls_in(&logs.join(log));
        assert!(seen.len() > 20, "strace saw too little of {log}: {seen:?}");
        report.push(format!("{log}: {} distinct calls", seen.len()));
        for name in seen.keys() {
            if !allowed.contains(name) {
                refused.insert(format!("{name} ({log})"));
            }
        }
    }
    eprintln!("{}", report.join("; "));
    assert!(
        refused.is_empty(),
        "the server makes system calls its unit's SystemCallFilter refuses (EPERM under \
         systemd): {refused:?}"
    );
}

/// The pid strace started (its only child), found in /proc.
fn wait_for_child_of(strace_pid: u32) -> libc::pid_t {
    let children = format!("/proc/{strace_pid}/task/{strace_pid}/children");
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(&children) {
            if let Some(pid) = text.split_whitespace().next() {
                return pid.parse().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("strace started no server");
}

/// Hand a whole tree to `uid:gid` (the test's files, to the unprivileged user it runs as).
fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}
