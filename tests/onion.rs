//! The shipped deployment, end to end through a real onion service: a private Tor network on
//! loopback (tests/tor_network), the onion service configured with the lines of the shipped
//! `deploy/torrc` (proof-of-work on) and running as Debian's tor does (started as root, `User
//! debian-tor`, no supplementary groups), and `sealdrop serve` started the way the shipped
//! `deploy/sealdrop.service` starts it: its User, Group, SupplementaryGroups, UMask,
//! NoNewPrivileges, LimitNOFILE, its RuntimeDirectory/StateDirectory laid out as systemd lays
//! them out before *each* command it spawns, and its `ExecStartPre=` commands, all read from the
//! unit file. A source's request goes through the client's SOCKS port to the onion address;
//! the tip and its file must arrive, and decrypt with the staff key.
//!
//! Paths the shipped files name (`/run/...`, `/var/lib/...`, `/etc/...`) are moved under a
//! temp directory, and nothing else about those files is changed. It needs root (to switch
//! users, as systemd and tor do) and the Debian packages `tor` and `util-linux`; it fails, never
//! skips, without them. One test, so the heavy network is built once.

mod common;
mod tor_network;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tor_network::{progress, require, source, Network, OnionService};

/// The whole test must end well inside CI's time; each phase has its own bound too.
const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(120);
const REACH_TIMEOUT: Duration = Duration::from_secs(120);
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);

fn deploy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name)
}

// ---------------------------------------------------------------------------------------------
// The shipped systemd unit

/// What of `[Service]` this test applies, read from the unit file.
#[derive(Debug)]
struct Unit {
    user: String,
    group: String,
    supplementary_groups: Vec<String>,
    umask: u32,
    no_new_privileges: bool,
    limit_nofile: Option<u64>,
    runtime_dirs: Vec<String>,
    runtime_mode: u32,
    state_dirs: Vec<String>,
    state_mode: u32,
    exec_start_pre: Vec<String>,
    exec_start: String,
}

impl Unit {
    fn parse(text: &str) -> Unit {
        let mut section = String::new();
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                section = line.to_owned();
                continue;
            }
            if section != "[Service]" {
                continue;
            }
            let (key, value) = line.split_once('=').expect("key=value in [Service]");
            values
                .entry(key.trim().to_owned())
                .or_default()
                .push(value.trim().to_owned());
        }
        let one = |key: &str| values.get(key).and_then(|v| v.last()).cloned();
        let list = |key: &str| -> Vec<String> {
            values
                .get(key)
                .into_iter()
                .flatten()
                .flat_map(|v| v.split_whitespace().map(str::to_owned))
                .collect()
        };
        let octal = |key: &str, default: u32| {
            one(key).map_or(default, |v| {
                u32::from_str_radix(&v, 8).unwrap_or_else(|_| panic!("{key}={v} is not octal"))
            })
        };
        Unit {
            user: one("User").expect("the unit names a User"),
            group: one("Group").expect("the unit names a Group"),
            supplementary_groups: list("SupplementaryGroups"),
            // systemd's defaults where the unit is silent.
            umask: octal("UMask", 0o022),
            no_new_privileges: one("NoNewPrivileges").is_some_and(|v| v == "yes" || v == "true"),
            limit_nofile: one("LimitNOFILE").map(|v| v.parse().expect("LimitNOFILE=N")),
            runtime_dirs: list("RuntimeDirectory"),
            runtime_mode: octal("RuntimeDirectoryMode", 0o755),
            state_dirs: list("StateDirectory"),
            state_mode: octal("StateDirectoryMode", 0o755),
            exec_start_pre: values.get("ExecStartPre").cloned().unwrap_or_default(),
            exec_start: one("ExecStart").expect("the unit has an ExecStart"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Users, groups and the fake root

fn getent(db: &str, name: &str) -> Option<Vec<String>> {
    let out = Command::new("getent").args([db, name]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .split(':')
            .map(str::to_owned)
            .collect(),
    )
}

fn uid_of(user: &str) -> u32 {
    getent("passwd", user).expect("the user exists")[2]
        .parse()
        .unwrap()
}

fn gid_of(group: &str) -> u32 {
    getent("group", group).unwrap_or_else(|| panic!("group {group} is missing"))[2]
        .parse()
        .unwrap()
}

/// The user the package's tor instance (tor@sealdrop) runs as.
const TOR_USER: &str = "_tor-sealdrop";

/// A system user with its own group, made as the package's postinst makes it when it is missing.
fn ensure_system_user(user: &str) {
    if getent("passwd", user).is_some() {
        return;
    }
    require("useradd", "passwd");
    let status = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            user,
        ])
        .status()
        .expect("running useradd");
    assert!(status.success(), "useradd {user} failed");
}

/// The real filesystem paths the shipped files name, moved under `root`.
struct FakeRoot {
    root: PathBuf,
}

impl FakeRoot {
    /// `/run/x` -> `ROOT/run/x`; other paths (programs, relative paths) are left alone.
    fn map(&self, path: &str) -> String {
        if ["/run/", "/var/", "/etc/"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            format!("{}{path}", self.root.display())
        } else {
            path.to_owned()
        }
    }

    /// Map every path-like word of a line (and `unix:PATH`).
    fn map_words(&self, line: &str) -> String {
        line.split_whitespace()
            .map(|w| match w.strip_prefix("unix:") {
                Some(p) => format!("unix:{}", self.map(p)),
                None => self.map(w),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A root-owned directory everyone may traverse, like `/run` or `/etc`.
    fn system_dir(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(self.map(path));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

/// What systemd's setup_exec_directory() does before every command of a unit (ExecStartPre
/// and ExecStart alike): create the directory with its mode, or reset the mode if it exists;
/// then, unless the top directory already has the unit's User and Group, give the whole tree to
/// them (keeping each entry's mode).
fn systemd_exec_directory(path: &Path, mode: u32, uid: u32, gid: u32) {
    if !path.exists() {
        std::fs::create_dir_all(path).unwrap();
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    let meta = std::fs::metadata(path).unwrap();
    if meta.uid() == uid && meta.gid() == gid {
        return;
    }
    let mut stack = vec![path.to_owned()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid)).unwrap();
        if !meta.file_type().is_symlink() {
            // chown may drop set-id bits; systemd puts the mode back.
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
                .unwrap();
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&p).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
}

/// The unit's runtime and state directories, as systemd sets them up before each command.
fn systemd_directories(unit: &Unit, fake: &FakeRoot) {
    let uid = uid_of(&unit.user);
    let gid = gid_of(&unit.group);
    for name in &unit.runtime_dirs {
        let p = PathBuf::from(fake.map(&format!("/run/{name}")));
        systemd_exec_directory(&p, unit.runtime_mode, uid, gid);
    }
    for name in &unit.state_dirs {
        let p = PathBuf::from(fake.map(&format!("/var/lib/{name}")));
        systemd_exec_directory(&p, unit.state_mode, uid, gid);
    }
}

/// A command of the unit, as systemd would start it: `+` with full privileges (root here),
/// otherwise as the unit's user and groups with its umask, NoNewPrivileges and LimitNOFILE.
fn unit_command(unit: &Unit, fake: &FakeRoot, line: &str, program: Option<&Path>) -> Command {
    let mut line = line;
    let mut privileged = false;
    while let Some(c) = line.chars().next().filter(|c| "+-@:!".contains(*c)) {
        assert!(
            c == '+' || c == '-',
            "the test does not emulate the {c} prefix in {line:?}"
        );
        privileged |= c == '+';
        line = &line[1..];
    }
    let words: Vec<String> = line.split_whitespace().map(|w| fake.map(w)).collect();
    let program = program.map_or_else(|| PathBuf::from(&words[0]), Path::to_owned);
    let mut cmd = if privileged {
        let mut cmd = Command::new(program);
        cmd.args(&words[1..]);
        cmd
    } else {
        let mut cmd = Command::new(require("setpriv", "util-linux"));
        cmd.arg(format!("--reuid={}", unit.user))
            .arg(format!("--regid={}", unit.group));
        if unit.supplementary_groups.is_empty() {
            cmd.arg("--clear-groups");
        } else {
            cmd.arg(format!("--groups={}", unit.supplementary_groups.join(",")));
        }
        if unit.no_new_privileges {
            cmd.arg("--no-new-privs");
        }
        cmd.arg("--").arg(program).args(&words[1..]);
        cmd
    };
    let umask = unit.umask;
    // LimitNOFILE as systemd sets it, capped at what this machine lets root raise it to
    // (a container may withhold CAP_SYS_RESOURCE).
    let nofile = unit.limit_nofile.map(|n| {
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct it is given.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut now) }, 0);
        let hard = now.rlim_max;
        if n > hard && !can_raise_limits() {
            eprintln!(
                "[onion] LimitNOFILE={n} is above this machine's hard limit {hard}; using {hard}"
            );
            hard
        } else {
            n
        }
    });
    // SAFETY: only async-signal-safe calls (umask, setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            if let Some(n) = nofile {
                let lim = libc::rlimit {
                    rlim_cur: n as libc::rlim_t,
                    rlim_max: n as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .current_dir("/")
        .stdin(Stdio::null());
    cmd
}

/// Whether this process holds CAP_SYS_RESOURCE (may raise a hard resource limit).
fn can_raise_limits() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_owned();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

// ---------------------------------------------------------------------------------------------
// The server process

/// `sealdrop serve`, started as the unit starts it; killed on drop.
struct ServerGuard {
    child: Option<Child>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl ServerGuard {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// SIGTERM, then wait (bounded) for a clean exit.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_server(mut cmd: Command) -> (ServerGuard, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting sealdrop serve");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let err_buf = stderr.clone();
    let mut err_pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            err_buf.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let (tx, rx) = mpsc::channel();
    let out_pipe = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out_pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.trim().strip_prefix("sealdrop: listening on ") {
                let _ = tx.send(rest.to_owned());
            }
        }
    });
    let mut guard = ServerGuard {
        child: Some(child),
        stderr,
    };
    let deadline = Instant::now() + SERVER_START_TIMEOUT;
    let listening = loop {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            break l;
        }
        if let Some(status) = guard.child.as_mut().unwrap().try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "the server exited ({status}) before listening; stderr:\n{}",
                guard.stderr()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the server did not say where it listens; stderr:\n{}",
            guard.stderr()
        );
    };
    (guard, listening)
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_source_submits_through_a_real_onion_service_as_shipped() {
    let t0 = Instant::now();
    require("tor", "tor");
    require("tor-gencert", "tor");
    require("setpriv", "util-linux");
    assert!(
        rustix::process::geteuid().is_root(),
        "this test switches users as systemd and tor do, so it must run as root"
    );
    // The package's tor instance user, made as Debian's `tor-instance-create sealdrop` makes it
    // (a system user with its own group) when it is missing.
    ensure_system_user(TOR_USER);

    let unit = Unit::parse(&std::fs::read_to_string(deploy("sealdrop.service")).unwrap());
    progress(
        t0,
        &format!(
            "unit: User={} Group={} SupplementaryGroups={:?} UMask={:04o} \
             RuntimeDirectory={:?} mode {:04o}, ExecStartPre={:?}",
            unit.user,
            unit.group,
            unit.supplementary_groups,
            unit.umask,
            unit.runtime_dirs,
            unit.runtime_mode,
            unit.exec_start_pre
        ),
    );
    ensure_system_user(&unit.user);

    let temp = tempfile::Builder::new()
        .prefix("sealdrop-onion-")
        .tempdir()
        .unwrap();
    // Like `/`: every service user may traverse it.
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let fake = FakeRoot {
        root: temp.path().join("root"),
    };
    for d in ["/run/", "/var/lib/", "/etc/sealdrop/"] {
        fake.system_dir(d);
    }

    // Staff keys: the identity stays with the test, only the recipient goes to the server.
    let identity = age::x25519::Identity::generate();
    let keys_file = fake.map("/etc/sealdrop/recipients.txt");

    // The config: the shipped file, with its paths under the fake root.
    let mut config: toml::Table =
        toml::from_str(&std::fs::read_to_string(deploy("sealdrop.toml")).unwrap()).unwrap();
    for key in ["listen", "data_dir", "keys_file"] {
        let value = config[key].as_str().expect("a string").to_owned();
        config.insert(key.into(), fake.map_words(&value).into());
    }
    // The free-space floor is not what this test is about; a CI disk may be small.
    config["limits"]
        .as_table_mut()
        .unwrap()
        .insert("min_free_disk_mb".into(), 1.into());
    assert_eq!(config["keys_file"].as_str(), Some(keys_file.as_str()));
    std::fs::write(
        &keys_file,
        format!("# the test's staff key\n{}\n", identity.to_public()),
    )
    .unwrap();
    let config_path = fake.map("/etc/sealdrop/sealdrop.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    for f in [&keys_file, &config_path] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let socket = PathBuf::from(
        config["listen"]
            .as_str()
            .unwrap()
            .strip_prefix("unix:")
            .expect("the shipped config listens on a Unix socket"),
    );
    let data_dir = PathBuf::from(config["data_dir"].as_str().unwrap());

    // The tor lines: the shipped snippet, paths under the fake root. Debian's tor keeps its
    // The package's tor instance keeps its DataDirectory (and so the HiddenServiceDir) in
    // /var/lib/tor-instances/sealdrop, owned by its user.
    let torrc = std::fs::read_to_string(deploy("torrc")).unwrap();
    let tor_lines: Vec<String> = torrc
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| fake.map_words(l))
        .collect();
    assert!(
        tor_lines
            .iter()
            .any(|l| l.starts_with("HiddenServicePoWDefensesEnabled 1")),
        "the shipped torrc turns proof-of-work on"
    );
    let hs_dir = tor_lines
        .iter()
        .find_map(|l| l.strip_prefix("HiddenServiceDir "))
        .expect("a HiddenServiceDir line")
        .to_owned();
    let tor_data = PathBuf::from(fake.map("/var/lib/tor-instances/sealdrop"));
    std::fs::create_dir_all(&tor_data).unwrap();
    std::os::unix::fs::chown(&tor_data, Some(uid_of(TOR_USER)), Some(gid_of(TOR_USER))).unwrap();
    std::fs::set_permissions(&tor_data, std::fs::Permissions::from_mode(0o2700)).unwrap();

    // The server, as systemd starts it: directories, each ExecStartPre, directories again, then
    // ExecStart.
    let phase = Instant::now();
    for pre in &unit.exec_start_pre {
        systemd_directories(&unit, &fake);
        let out = unit_command(&unit, &fake, pre, None)
            .output()
            .expect("running an ExecStartPre command");
        assert!(
            out.status.success() || pre.starts_with('-') || pre.starts_with("+-"),
            "ExecStartPre={pre} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    systemd_directories(&unit, &fake);
    let server_cmd = unit_command(&unit, &fake, &unit.exec_start, Some(Path::new(common::BIN)));
    let (mut server, listening) = start_server(server_cmd);
    assert_eq!(listening, format!("unix:{}", socket.display()));
    let meta = std::fs::metadata(&socket).unwrap();
    let dir_meta = std::fs::metadata(socket.parent().unwrap()).unwrap();
    progress(
        t0,
        &format!(
            "server listening after {:.1}s; socket {:o} uid {} gid {}, its directory {:o} uid {} gid {}",
            phase.elapsed().as_secs_f64(),
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid(),
            dir_meta.mode() & 0o7777,
            dir_meta.uid(),
            dir_meta.gid()
        ),
    );

    // The network, with the onion service switching to its user as Debian's tor does.
    let phase = Instant::now();
    let mut net = Network::start(
        &temp.path().join("tor"),
        OnionService {
            data_dir: tor_data.clone(),
            lines: tor_lines,
            user: Some(TOR_USER.into()),
        },
    );
    net.wait_bootstrapped(BOOTSTRAP_TIMEOUT);
    let bootstrap = phase.elapsed();
    progress(
        t0,
        &format!("network bootstrapped in {:.1}s", bootstrap.as_secs_f64()),
    );

    // Reach the onion: the descriptor must be published and fetched, so retry (bounded).
    let phase = Instant::now();
    let hostname_file = PathBuf::from(&hs_dir).join("hostname");
    let deadline = Instant::now() + REACH_TIMEOUT;
    let onion = source::onion_address(&mut net, &hostname_file, deadline);
    progress(t0, &format!("onion address {onion}"));
    let (form_page, attempts) =
        source::reach_form_page(&mut net, &onion, &socket, deadline, &|| {
            format!("server stderr:\n{}", server.stderr())
        });
    let reach = phase.elapsed();
    progress(
        t0,
        &format!(
            "form page over the onion after {:.1}s ({attempts} attempts)",
            reach.as_secs_f64()
        ),
    );
    assert_eq!(form_page.status, 200, "{}", form_page.text());
    assert!(
        form_page.title().contains("Send us information safely"),
        "title {:?}",
        form_page.title()
    );
    assert!(form_page.text().contains("multipart/form-data"));
    source::assert_strict_headers(&form_page, "private, no-cache");

    // The tip, with a file, through the onion.
    let phase = Instant::now();
    let tip = source::Tip::new();
    let received = tip.send(&net, &onion);
    received.assert_received();
    source::assert_strict_headers(&received, "no-store");
    progress(
        t0,
        &format!("tip submitted in {:.1}s", phase.elapsed().as_secs_f64()),
    );

    // What arrived: one submission that opens with the staff key and holds what was sent.
    tip.assert_stored(&data_dir, &identity);

    server.stop();
    drop(net);
    progress(
        t0,
        &format!(
            "done: bootstrap {:.1}s, onion reachable {:.1}s later, whole test {:.1}s",
            bootstrap.as_secs_f64(),
            reach.as_secs_f64(),
            t0.elapsed().as_secs_f64()
        ),
    );
}
