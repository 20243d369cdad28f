//! A private Tor network on loopback, built from Debian's `tor` package: three directory
//! authorities (keys from `tor-gencert`, relay fingerprints from `tor --list-fingerprint`), three
//! more relays, one onion service and one client with a SOCKS port. Every node has its own
//! DataDirectory under one temp directory and listens only on 127.0.0.1, on ports picked free at
//! start. The options are the usual testing-network ones (chutney's templates were the model):
//! `TestingTorNetwork`, fast voting, and votes that give every relay the Guard, Exit and HSDir
//! flags at once, so that a network is usable about half a minute after it starts.
//!
//! Every `tor` process is killed when the [`Network`] is dropped, even if the test panics, and
//! each is told (`__OwningControllerProcess`) to exit by itself if the test process disappears.
#![allow(dead_code)]

pub mod source;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fail (never skip) when a program the harness needs is missing, naming the Debian package.
pub fn require(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain(
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(PathBuf::from),
    ) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{program}` is missing: install the Debian package `{package}` \
         (apt-get install {package}); this test needs it and is never skipped"
    );
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// Print a progress line with the time since `start`.
pub fn progress(start: Instant, what: &str) {
    eprintln!("[onion {:>6.1}s] {what}", start.elapsed().as_secs_f64());
}

/// One running `tor`; killed on drop.
pub struct TorNode {
    pub nick: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl TorNode {
    /// The node's notice log so far (for progress lines and failure messages).
    pub fn notices(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The highest "Bootstrapped N%" the node has logged.
    pub fn bootstrap_percent(&self) -> u32 {
        self.notices()
            .lines()
            .filter_map(|l| {
                let rest = &l[l.find("Bootstrapped ")? + "Bootstrapped ".len()..];
                rest[..rest.find('%')?].parse().ok()
            })
            .max()
            .unwrap_or(0)
    }

    /// Fail if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait().expect("waiting on tor") {
                panic!(
                    "tor node {} exited ({status}); its log:\n{}",
                    self.nick,
                    tail(&self.notices(), 40)
                );
            }
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TorNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What the onion-service node needs from the test.
pub struct OnionService {
    /// The node's DataDirectory (it must exist, owned by `user` when one is given).
    pub data_dir: PathBuf,
    /// torrc lines for the service itself (HiddenServiceDir, HiddenServicePort, PoW, ...).
    pub lines: Vec<String>,
    /// `User` for this node: tor starts as root and switches to it, as Debian's tor does.
    pub user: Option<String>,
}

/// The whole network. Drop stops every node.
pub struct Network {
    pub root: PathBuf,
    pub start: Instant,
    /// Authorities, relays, then the onion service, then the client.
    pub nodes: Vec<TorNode>,
    pub socks: SocketAddr,
    hs_index: usize,
    client_index: usize,
}

const AUTHORITIES: usize = 3;
const RELAYS: usize = 3;

struct RelayPorts {
    or: u16,
    dir: u16,
}

impl Network {
    /// Generate keys, write every torrc and start every node under `root`, the onion service
    /// configured by the test.
    pub fn start(root: &Path, service: OnionService) -> Network {
        Network::start_with(root, |tor, testing| {
            // The test's lines, and tor switching to `user` as Debian's does.
            let hs_dir = service.data_dir.clone();
            let mut torrc = testing.torrc("onion", &hs_dir);
            if let Some(user) = &service.user {
                writeln!(torrc, "User {user}").unwrap();
            }
            for line in &service.lines {
                writeln!(torrc, "{line}").unwrap();
            }
            // Tor's log of why a stream to the service failed is at info level.
            writeln!(torrc, "Log info file {}/info.log", hs_dir.display()).unwrap();
            // A process that has switched users may not signal the test process; no owner check.
            spawn(tor, "onion", &hs_dir, &torrc, service.user.is_none())
        })
    }

    /// Start the network with the onion service of an installed Debian system: its tor
    /// instance, started as its `tor@NAME` unit starts it, joined to this network.
    pub fn start_debian_instance(root: &Path, instance: &DebianInstance) -> Network {
        Network::start_with(root, |_, testing| instance.spawn(testing))
    }

    fn start_with(
        root: &Path,
        onion_node: impl FnOnce(&Path, &TestingNetwork) -> TorNode,
    ) -> Network {
        let start = Instant::now();
        let tor = require("tor", "tor");
        let gencert = require("tor-gencert", "tor");

        let ports: Vec<RelayPorts> = (0..AUTHORITIES + RELAYS)
            .map(|_| RelayPorts {
                or: free_port(),
                dir: free_port(),
            })
            .collect();

        // Authority keys and the DirAuthority lines every node shares.
        // tor-gencert makes an RSA-3072 identity key: start all three at once.
        let mut gens = Vec::new();
        for (i, p) in ports.iter().enumerate().take(AUTHORITIES) {
            let dir = root.join(format!("auth{i}"));
            let keys = dir.join("keys");
            std::fs::create_dir_all(&keys).unwrap();
            let mut gen = Command::new(&gencert)
                .current_dir(&dir)
                .args(["--create-identity-key", "--passphrase-fd", "0", "-i"])
                .arg(keys.join("authority_identity_key"))
                .arg("-s")
                .arg(keys.join("authority_signing_key"))
                .arg("-c")
                .arg(keys.join("authority_certificate"))
                .args(["-m", "12", "-a", &format!("127.0.0.1:{}", p.dir)])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("running tor-gencert");
            // An empty passphrase: these keys live only as long as the test.
            gen.stdin.take().unwrap().write_all(b"\n").unwrap();
            gens.push(gen);
        }
        let mut dir_authorities = String::new();
        for (i, (p, gen)) in ports.iter().zip(gens).enumerate() {
            let nick = format!("auth{i}");
            let dir = root.join(&nick);
            let keys = dir.join("keys");
            let out = wait_output(gen, Duration::from_secs(60), "tor-gencert");
            assert!(
                out.status.success(),
                "tor-gencert failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let cert = std::fs::read_to_string(keys.join("authority_certificate")).unwrap();
            let v3ident = cert
                .lines()
                .find_map(|l| l.strip_prefix("fingerprint "))
                .expect("a fingerprint line in the authority certificate")
                .trim()
                .to_owned();
            let fingerprint = relay_fingerprint(&tor, &dir, p.or);
            writeln!(
                dir_authorities,
                "DirAuthority {nick} orport={} no-v2 v3ident={v3ident} 127.0.0.1:{} {fingerprint}",
                p.or, p.dir
            )
            .unwrap();
        }
        progress(start, "authority keys made");

        let testing = TestingNetwork { dir_authorities };
        let mut nodes = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            let authority = i < AUTHORITIES;
            let nick = if authority {
                format!("auth{i}")
            } else {
                format!("relay{}", i - AUTHORITIES)
            };
            let dir = root.join(&nick);
            std::fs::create_dir_all(&dir).unwrap();
            let mut torrc = testing.torrc(&nick, &dir);
            write!(
                torrc,
                "SocksPort 0\n\
                 Address 127.0.0.1\n\
                 ORPort 127.0.0.1:{or}\n\
                 DirPort 127.0.0.1:{dirport}\n\
                 ExitRelay 0\n\
                 ExitPolicy reject *:*\n\
                 TestingServerDownloadInitialDelay 0\n\
                 TestingServerConsensusDownloadInitialDelay 0\n",
                or = p.or,
                dirport = p.dir
            )
            .unwrap();
            if authority {
                torrc.push_str(
                    "AuthoritativeDirectory 1\n\
                     V3AuthoritativeDirectory 1\n\
                     TestingV3AuthInitialVotingInterval 5\n\
                     V3AuthVotingInterval 10\n\
                     TestingV3AuthInitialVoteDelay 2\n\
                     V3AuthVoteDelay 2\n\
                     TestingV3AuthInitialDistDelay 2\n\
                     V3AuthDistDelay 2\n",
                );
            }
            nodes.push(spawn(&tor, &nick, &dir, &torrc, true));
        }

        let hs_index = nodes.len();
        nodes.push(onion_node(&tor, &testing));

        let client_dir = root.join("client");
        std::fs::create_dir_all(&client_dir).unwrap();
        let socks = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let mut torrc = testing.torrc("client", &client_dir);
        writeln!(torrc, "SocksPort {socks}").unwrap();
        let client_index = nodes.len();
        nodes.push(spawn(&tor, "client", &client_dir, &torrc, true));
        progress(start, &format!("{} tor processes started", nodes.len()));

        Network {
            root: root.to_owned(),
            start,
            nodes,
            socks,
            hs_index,
            client_index,
        }
    }

    pub fn onion_service(&mut self) -> &mut TorNode {
        &mut self.nodes[self.hs_index]
    }

    pub fn client(&mut self) -> &mut TorNode {
        &mut self.nodes[self.client_index]
    }

    pub fn assert_all_running(&mut self) {
        for node in &mut self.nodes {
            node.assert_running();
        }
    }

    /// Wait until the client and the onion service have bootstrapped to 100%, printing progress.
    pub fn wait_bootstrapped(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut last = (u32::MAX, u32::MAX);
        loop {
            self.assert_all_running();
            let now = (
                self.client().bootstrap_percent(),
                self.onion_service().bootstrap_percent(),
            );
            if now != last {
                progress(
                    self.start,
                    &format!("bootstrap: client {}%, onion service {}%", now.0, now.1),
                );
                last = now;
            }
            if now == (100, 100) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the private Tor network did not bootstrap within {timeout:?}; client log:\n{}\n\
                     onion service log:\n{}",
                    tail(&self.client().notices(), 30),
                    tail(&self.onion_service().notices(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// What every node of this network needs: the usual testing-network options and the
/// network's own directory authorities.
pub struct TestingNetwork {
    dir_authorities: String,
}

impl TestingNetwork {
    /// The options that make a node part of this network (one per line, no paths).
    fn options(&self) -> String {
        format!(
            "TestingTorNetwork 1\n\
             SafeLogging 0\n\
             ProtocolWarnings 1\n\
             AssumeReachable 1\n\
             PathsNeededToBuildCircuits 0.25\n\
             TestingDirAuthVoteExit *\n\
             TestingDirAuthVoteGuard *\n\
             TestingDirAuthVoteHSDir *\n\
             TestingMinExitFlagThreshold 0\n\
             V3AuthNIntervalsValid 2\n\
             {}",
            self.dir_authorities
        )
    }

    /// The start of a torrc for a node of the harness's own, with its DataDirectory in `dir`.
    fn torrc(&self, nick: &str, dir: &Path) -> String {
        format!(
            "DataDirectory {dir}\n\
             Nickname {nick}\n\
             RunAsDaemon 0\n\
             ShutdownWaitLength 0\n\
             Log notice file {dir}/notice.log\n\
             ContactInfo {nick}@test.invalid\n\
             {}",
            self.options(),
            dir = dir.display()
        )
    }
}

/// The tor instance of an installed Debian system (`tor-instance-create NAME`, unit
/// `tor@NAME`), booted with systemd in a container (`systemd-nspawn --boot`) whose root folder
/// is `root` and whose init is `init_pid` (as this machine sees it).
pub struct DebianInstance {
    pub root: PathBuf,
    pub name: String,
    pub init_pid: u32,
}

impl DebianInstance {
    /// The instance's DataDirectory, seen from outside the container.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("var/lib/tor-instances").join(&self.name)
    }

    /// A command run inside the container (all its namespaces), as root.
    pub fn inside(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.init_pid.to_string(), "-a", program]);
        c
    }

    /// Run `systemctl ARGS` inside the container; fail with its output if it fails.
    pub fn systemctl(&self, args: &[&str]) {
        let out = self
            .inside("systemctl")
            .args(args)
            .output()
            .expect("running nsenter (util-linux)");
        assert!(
            out.status.success(),
            "systemctl {} in the container failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Join the instance to this network and restart it through systemd: a drop-in for
    /// `tor@NAME` gives the installed unit's own `ExecStart=` this network's options on tor's
    /// command line (where they override the installed torrc and Debian's instance defaults,
    /// which stay untouched), and two log files in the instance's DataDirectory for the test to
    /// read. Everything else (the unit's ExecStartPre, its sandbox, its user) is the system's.
    fn spawn(&self, testing: &TestingNetwork) -> TorNode {
        let unit = std::fs::read_to_string(self.root.join("lib/systemd/system/tor@.service"))
            .expect("the container has Debian's tor@.service (the package `tor`)");
        let start: Vec<&str> = unit
            .lines()
            .filter_map(|l| l.strip_prefix("ExecStart="))
            .collect();
        assert_eq!(start.len(), 1, "one ExecStart= in tor@.service");
        let data = format!("/var/lib/tor-instances/{}", self.name);
        let mut exec = start[0].to_owned();
        let extra = format!(
            "{}Log notice file {data}/notice.log\nLog info file {data}/info.log\n",
            testing.options()
        );
        for line in extra.lines().filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once(' ').expect("an option and its value");
            assert!(
                !value.contains(['"', '%', '$', '\\']),
                "a value systemd would read as more than text: {value}"
            );
            write!(exec, " --{key} \"{value}\"").unwrap();
        }
        let drop_in = self
            .root
            .join("etc/systemd/system")
            .join(format!("tor@{}.service.d", self.name));
        std::fs::create_dir_all(&drop_in).unwrap();
        std::fs::write(
            drop_in.join("private-network.conf"),
            format!(
                "# The test's private Tor network (tests/tor_network).\n\
                 [Service]\nExecStart=\nExecStart={exec}\n"
            ),
        )
        .unwrap();
        // Logs of an earlier run would show an old bootstrap as this one's.
        for log in ["notice.log", "info.log"] {
            let _ = std::fs::remove_file(self.data_dir().join(log));
        }
        self.systemctl(&["daemon-reload"]);
        self.systemctl(&["restart", &format!("tor@{}.service", self.name)]);
        TorNode {
            nick: format!("tor@{}", self.name),
            dir: self.data_dir(),
            log: self.data_dir().join("notice.log"),
            // systemd's, not the harness's: the container's power-off ends it.
            child: None,
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
    }
}

/// `tor --list-fingerprint` in `dir`: makes the relay's identity key, returns its fingerprint.
fn relay_fingerprint(tor: &Path, dir: &Path, orport: u16) -> String {
    let child = Command::new(tor)
        .args([
            "--ignore-missing-torrc",
            "-f",
            "/dev/null",
            "--list-fingerprint",
        ])
        .arg("--DataDirectory")
        .arg(dir)
        .args(["--ORPort", &orport.to_string(), "--Log", "err stderr"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running tor --list-fingerprint");
    let out = wait_output(child, Duration::from_secs(60), "tor --list-fingerprint");
    assert!(
        out.status.success(),
        "tor --list-fingerprint failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = std::fs::read_to_string(dir.join("fingerprint")).expect("the fingerprint file");
    let fingerprint = line
        .split_whitespace()
        .nth(1)
        .expect("nickname fingerprint");
    assert_eq!(fingerprint.len(), 40, "a relay fingerprint: {line:?}");
    fingerprint.to_owned()
}

/// Wait (bounded) for a short-lived helper and collect its output; kill it if it hangs.
fn wait_output(mut child: Child, timeout: Duration, what: &str) -> std::process::Output {
    let deadline = Instant::now() + timeout;
    while child.try_wait().expect("waiting").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collecting output")
}

fn spawn(tor: &Path, nick: &str, dir: &Path, torrc: &str, owned: bool) -> TorNode {
    let mut torrc = torrc.to_owned();
    if owned {
        writeln!(torrc, "__OwningControllerProcess {}", std::process::id()).unwrap();
    }
    let path = dir.join("torrc");
    std::fs::write(&path, torrc).unwrap();
    let child = Command::new(tor)
        .arg("-f")
        .arg(&path)
        .args(["--defaults-torrc", "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting tor");
    TorNode {
        nick: nick.to_owned(),
        dir: dir.to_owned(),
        log: dir.join("notice.log"),
        child: Some(child),
    }
}

// ---------------------------------------------------------------------------------------------
// SOCKS5 (RFC 1928), CONNECT with a domain name: what Tor Browser does for an onion address.

/// Why a SOCKS5 CONNECT failed.
#[derive(Debug)]
pub enum SocksError {
    Io(std::io::Error),
    /// The proxy's reply code (tor: 1 general failure, 4 host unreachable, 6 TTL expired, ...).
    Refused(u8),
    Protocol(String),
}

/// Connect to `host:port` through the SOCKS5 proxy at `proxy`; the stream is then the tunnel.
pub fn socks5_connect(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, SocksError> {
    let mut s = TcpStream::connect_timeout(&proxy, timeout).map_err(SocksError::Io)?;
    s.set_read_timeout(Some(timeout)).map_err(SocksError::Io)?;
    s.set_write_timeout(Some(timeout)).map_err(SocksError::Io)?;
    s.write_all(&[5, 1, 0]).map_err(SocksError::Io)?;
    let mut method = [0u8; 2];
    s.read_exact(&mut method).map_err(SocksError::Io)?;
    if method != [5, 0] {
        return Err(SocksError::Protocol(format!(
            "proxy chose method {method:?}"
        )));
    }
    let name = host.as_bytes();
    assert!(name.len() <= 255, "a domain name fits one length byte");
    let mut req = vec![5, 1, 0, 3, name.len() as u8];
    req.extend_from_slice(name);
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).map_err(SocksError::Io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).map_err(SocksError::Io)?;
    if head[0] != 5 {
        return Err(SocksError::Protocol(format!("reply version {}", head[0])));
    }
    let addr_len = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).map_err(SocksError::Io)?;
            len[0] as usize
        }
        other => return Err(SocksError::Protocol(format!("address type {other}"))),
    };
    let mut rest = vec![0u8; addr_len + 2];
    s.read_exact(&mut rest).map_err(SocksError::Io)?;
    if head[1] != 0 {
        return Err(SocksError::Refused(head[1]));
    }
    Ok(s)
}
