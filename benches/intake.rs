//! Intake benchmarks. They print figures and assert nothing; run them on a quiet machine:
//!
//!     cargo bench --bench intake
//!
//! Each figure is reported against a baseline measured in the same run:
//! - small tips: durable submissions per second from 32 concurrent clients over loopback, with
//!   group commit against the same server with group commit off (`commit_batch_max = 1`);
//! - large upload: one 1 GiB file end to end until the "received" page, against two baselines:
//!   the time age alone takes to encrypt the same bytes in memory on one core (the bar: one
//!   upload is one standard age stream, which the age crate encrypts on one thread; target at
//!   most 1.5 times that), and `cp` of the same file followed by `sync` (target at least 0.8 of
//!   its speed when the disk runs at its sustained speed; a disk that absorbs 1 GiB faster than
//!   the cipher can encrypt it makes that ratio the cipher's, not the intake's);
//! - memory: the server's peak RSS (VmHWM) during 4 concurrent 1 GiB uploads, and during 32
//!   concurrent 64 MiB uploads (every upload slot of the default configuration);
//!
//! - flood: small tips per second from 8 clients while 32 slow uploads (a few bytes a second,
//!   below the progress rule's minimum) and 2,000 idle or slow-header connections attack,
//!   against the same server unattacked (target: at least half); and the server's peak RSS
//!   under the 2,000 hostile connections.
//!
//! - conversation: codename logins per second over HTTP (every one costs an Argon2id derivation),
//!   new codenames per second (opted-in tips) against plain tips in the same run, and the time to
//!   render an inbox of 50 replies (each decrypted in memory); SecureDrop's figures on the same
//!   kind of machine, about 7 logins/s and 0.27 new sources/s, for reference.
//!
//! Baseline and measurement alternate over BENCH_ROUNDS rounds (default 5) and medians are
//! reported, since this machine's disk speed drifts from minute to minute.
//!
//! - allocator: the wiping global allocator's cost. The benchmark builds a second server with
//!   `--features no-wiping-allocator` (never for production) into target/allocator-baseline, then
//!   small tips per second and one large upload's time alternate between the two servers, round
//!   by round; it prints both medians and the ratio (target: at most 10% slower).
//!
//! Settings: BENCH_UPLOAD_MIB (default 1024), BENCH_TIPS_SECS (default 5), BENCH_DIR (default
//! target/bench, on the same disk as the build), BENCH_ONLY (tips, large, conversation, flood, memory or
//! allocator: run one part).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BOUNDARY: &str = "----sealdropbench7MA4YWxkTrZu0gW";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    child: Child,
    port: u16,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path, name: &str, extra_env: &[(&str, &str)]) -> Server {
        Server::start_binary(
            Path::new(env!("CARGO_BIN_EXE_sealdrop")),
            dir,
            name,
            extra_env,
        )
    }

    fn start_binary(binary: &Path, dir: &Path, name: &str, extra_env: &[(&str, &str)]) -> Server {
        let data_dir = dir.join(name);
        std::fs::create_dir_all(&data_dir).unwrap();
        let keys = dir.join(format!("{name}-recipients.txt"));
        let id = age::x25519::Identity::generate();
        std::fs::write(&keys, format!("{}\n", id.to_public())).unwrap();
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .env("SEALDROP_LISTEN", "127.0.0.1:0")
            .env("SEALDROP_DATA_DIR", &data_dir)
            .env("SEALDROP_KEYS_FILE", &keys)
            .env("SEALDROP_MIN_FREE_DISK_MB", "512")
            .env("SEALDROP_MAX_CONCURRENT_UPLOADS", "64")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start sealdrop");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected start-up line: {line:?}"));
        Server {
            child,
            port,
            data_dir,
        }
    }

    /// CPU time the server has used so far (user + system), in seconds.
    fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name, which is in parentheses and may contain spaces.
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Read one HTTP response; returns its status.
fn read_response(reader: &mut BufReader<TcpStream>) -> u16 {
    try_read_response(reader).expect("a well-formed response")
}

/// Read one HTTP response; its status, or why there is none (the server closed the connection).
fn try_read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().map_err(std::io::Error::other)?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))
}

fn small_tip_request(n: u64) -> Vec<u8> {
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n\
         Tip number {n}: my brother was detained at the airport on Tuesday and taken away \
         by three men in plain clothes. Nobody has heard from him since.\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"contact\"\r\n\r\n\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n\r\n--{BOUNDARY}--\r\n"
    );
    let mut req = format!(
        "POST /submit HTTP/1.1\r\nHost: bench\r\nContent-Type: multipart/form-data; \
         boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    req
}

/// Durable submissions per second from `clients` keep-alive connections for `secs` seconds.
fn small_tips(server: &Server, clients: usize, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (done, stop, port) = (done.clone(), stop.clone(), server.port);
            std::thread::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut n = c as u64 * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    writer.write_all(&small_tip_request(n)).unwrap();
                    let status = read_response(&mut reader);
                    assert_eq!(
                        status, 303,
                        "a small tip was refused (a stored one is a 303)"
                    );
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Upload `file` as one attachment; returns the HTTP status.
fn upload(port: u16, file: &Path) -> u16 {
    let len = std::fs::metadata(file).unwrap().len();
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nA large video.\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"video.mp4\"\r\n\
         Content-Type: video/mp4\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let total = head.len() as u64 + len + tail.len() as u64;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /submit HTTP/1.1\r\nHost: bench\r\nContent-Type: multipart/form-data; \
         boundary={BOUNDARY}\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n{head}"
    )
    .unwrap();
    // sendfile, as `cp` copies in the kernel too: a read/write loop would spend most of a
    // core of this 2-core machine in the client, which is not what is being measured.
    let source = std::fs::File::open(file).unwrap();
    let mut left = len;
    while left > 0 {
        let sent = rustix::fs::sendfile(&stream, &source, None, left.min(1 << 30) as usize)
            .expect("sendfile to the server");
        assert!(sent > 0, "the server stopped reading");
        left -= sent as u64;
    }
    stream.write_all(tail.as_bytes()).unwrap();
    read_response(&mut BufReader::new(stream))
}

fn make_file(path: &Path, mib: u64) {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == mib << 20) {
        return;
    }
    // Incompressible-looking bytes from a cheap generator: the disk and cipher see real work.
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        out.write_all(&block).unwrap();
    }
    out.flush().unwrap();
}

fn sync_all() {
    Command::new("sync").status().unwrap();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would run this too: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let base = PathBuf::from(
        std::env::var("BENCH_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench").into()),
    );
    // Servers' data directories live under runs/, and a previous run's are deleted before this
    // one measures anything: ext4 skips inodes freed in the last ~30 s when it allocates new
    // ones, so creating thousands of files right after deleting thousands is far slower than a
    // server's normal state.
    let runs = base.join("runs");
    if runs.exists() {
        std::fs::remove_dir_all(&runs).unwrap();
        println!("(removed a previous run's data; waiting 35 s for ext4 to settle)");
        std::thread::sleep(Duration::from_secs(35));
    }
    let dir = runs.join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let mib = env_u64("BENCH_UPLOAD_MIB", 1024);
    let secs = env_u64("BENCH_TIPS_SECS", 5);
    let rounds = env_u64("BENCH_ROUNDS", 5) as usize;
    println!("sealdrop intake benchmarks ({} cores)", num_cpus());

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |part: &str| only.is_empty() || only == part;

    // 1. Small tips.
    if run("tips") {
        small_tips_report(&dir, secs, rounds);
    }
    if run("large") {
        large_upload_report(&dir, mib, rounds);
    }
    if run("conversation") {
        conversation_report(&dir, secs);
    }
    if run("flood") {
        flood_report(&dir, secs, rounds);
    }
    if run("allocator") {
        allocator_report(&dir, secs, mib, rounds);
    }
    if run("memory") {
        memory_report(&dir, 4, mib);
        // As many uploads as the default allows at once (max_concurrent_uploads = 32).
        memory_report(&dir, 32, 64);
    }
    // Large files go now (few inodes); the small tips' thousands stay until the next run's
    // start, which waits after deleting them.
    let _ = std::fs::remove_file(dir.join("upload.bin"));
}

fn small_tips_report(dir: &Path, secs: u64, rounds: usize) {
    // Submissions per second and the server's CPU microseconds per submission, for one server.
    let measure = |name: String, env: &[(&str, &str)]| {
        let server = Server::start(dir, &name, env);
        let cpu = server.cpu_secs();
        let rate = small_tips(&server, 32, secs);
        let cpu_us = (server.cpu_secs() - cpu) * 1e6 / (rate * secs as f64);
        (rate, cpu_us)
    };
    // Baseline and group commit take turns, so a slow spell of the disk hits both alike.
    let (mut naive, mut grouped) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        naive.push(measure(
            format!("tips-naive-{round}"),
            &[("SEALDROP_COMMIT_BATCH_MAX", "1")],
        ));
        grouped.push(measure(format!("tips-grouped-{round}"), &[]));
    }
    let rate = |v: &[(f64, f64)]| median(v.iter().map(|m| m.0).collect());
    let cpu = |v: &[(f64, f64)]| median(v.iter().map(|m| m.1).collect());
    let range = |v: &[(f64, f64)]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), m| (lo.min(m.0), hi.max(m.0)));
        format!("{lo:.0}-{hi:.0}")
    };
    println!(
        "small tips, 32 clients, median of {rounds} rounds: {:.0}/s with group commit ({} ; \
         {:.0} us server CPU each); {:.0}/s with one commit per submission (baseline; {} ; \
         {:.0} us); ratio {:.2}",
        rate(&grouped),
        range(&grouped),
        cpu(&grouped),
        rate(&naive),
        range(&naive),
        cpu(&naive),
        rate(&grouped) / rate(&naive)
    );
}

/// Tips per second that `clients` real clients get through for `secs` seconds, reconnecting when
/// the server closes an idle connection for room and retrying when it says "busy".
fn tips_under_attack(port: u16, clients: usize, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (done, stop) = (done.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = c as u64 * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
                        continue;
                    };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    while !stop.load(Ordering::Relaxed) {
                        if writer.write_all(&small_tip_request(n)).is_err() {
                            break;
                        }
                        match try_read_response(&mut reader) {
                            Ok(303) => {
                                done.fetch_add(1, Ordering::Relaxed);
                                n += 1;
                            }
                            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
                            Err(_) => break,
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// The attackers: 32 uploads that trickle, and 2,000 connections that stay silent or send a
/// request head that never ends. Each thread stops by itself at `until`.
fn attack(port: u16, until: Instant) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    for _ in 0..32 {
        threads.push(std::thread::spawn(move || {
            while Instant::now() < until {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                let head = format!(
                    "POST /submit HTTP/1.1\r\nHost: b\r\nContent-Type: multipart/form-data; \
                     boundary={BOUNDARY}\r\nContent-Length: 100000000\r\n\r\n--{BOUNDARY}\r\n\
                     Content-Disposition: form-data; name=\"message\"\r\n\r\nslow\r\n--{BOUNDARY}\r\n\
                     Content-Disposition: form-data; name=\"files\"; filename=\"x\"\r\n\r\n"
                );
                if s.write_all(head.as_bytes()).is_err() {
                    continue;
                }
                // A few bytes a second until cut off, then again (a persistent attacker).
                while Instant::now() < until && s.write_all(b"xxxxxxxx").is_ok() {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }));
    }
    threads.push(std::thread::spawn(move || {
        let mut idle = Vec::new();
        for i in 0..2000 {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                if i % 2 == 1 {
                    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: b\r\nX-Slow: ");
                }
                idle.push(s);
            }
        }
        while Instant::now() < until {
            // Closed ones come back: the flood keeps its size.
            for s in idle.iter_mut() {
                if s.write_all(b"a").is_err() {
                    if let Ok(new) = TcpStream::connect(("127.0.0.1", port)) {
                        *s = new;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }));
    threads
}

fn flood_report(dir: &Path, secs: u64, rounds: usize) {
    let (mut calm, mut attacked, mut peak) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // The default configuration (32 upload slots), as an operator runs it.
        let env = [("SEALDROP_MAX_CONCURRENT_UPLOADS", "32")];
        let server = Server::start(dir, &format!("flood-calm-{round}"), &env);
        calm.push(tips_under_attack(server.port, 8, secs));
        drop(server);

        let server = Server::start(dir, &format!("flood-attacked-{round}"), &env);
        let until = Instant::now() + Duration::from_secs(secs + 8);
        let attackers = attack(server.port, until);
        // Let the flood build up first.
        std::thread::sleep(Duration::from_secs(4));
        attacked.push(tips_under_attack(server.port, 8, secs));
        peak.push(server.peak_rss_kib() as f64 / 1024.0);
        for t in attackers {
            let _ = t.join();
        }
    }
    let (c, a) = (median(calm.clone()), median(attacked.clone()));
    println!(
        "flood, median of {rounds} rounds: {a:.0} tips/s from 8 clients while 32 slow uploads \
         and 2,000 idle or slow-header connections attack; {c:.0}/s unattacked (baseline); \
         ratio {:.2} (target at least 0.5); server peak RSS under the flood {:.1} MiB (target at \
         most 64 MiB)",
        a / c,
        median(peak)
    );
}

/// One request on a fresh connection; its status and body.
fn one_request(port: u16, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    writer.write_all(head.as_bytes()).unwrap();
    writer.write_all(body).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body)
}

/// Requests a second that `clients` threads get from `make(n)` for `secs` seconds, each
/// answered with `want`.
fn rate(
    port: u16,
    clients: usize,
    secs: u64,
    want: u16,
    make: fn(u64) -> (String, Vec<u8>),
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (done, stop) = (done.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = c as u64 * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    let (head, body) = make(n);
                    let (status, _) = one_request(port, &head, &body);
                    assert_eq!(status, want, "request {n}");
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn tip_request(opt_in: bool, n: u64) -> (String, Vec<u8>) {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nTip {n}\r\n"
    );
    if opt_in {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"codename\"\r\n\r\n1\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    let head = format!(
        "POST /submit HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: \
         multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body.into_bytes())
}

/// The codename every login of the benchmark types, set once before the clients start.
static BENCH_CODENAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn login_request(_: u64) -> (String, Vec<u8>) {
    let typed = BENCH_CODENAME.get().unwrap();
    let body = format!("codename={}", typed.replace(' ', "+")).into_bytes();
    let head = format!(
        "POST /codename HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body)
}

fn conversation_report(dir: &Path, secs: u64) {
    use sealdrop_core::codename::{Codename, DerivationGate, Lang};
    let server = Server::start(dir, "conversation", &[]);
    let codename = Codename::generate();
    BENCH_CODENAME
        .set(codename.to_string_in(Lang::En).to_string())
        .unwrap();
    let logins = rate(server.port, 4, secs, 303, login_request);
    let plain = rate(server.port, 32, secs, 303, |n| tip_request(false, n));
    let opted_in = rate(server.port, 32, secs, 303, |n| tip_request(true, n));

    // An inbox of 50 replies, each a 4 KiB-class age file to the codename's recipient.
    let derived = codename.derive(&DerivationGate::new(1));
    let conn = rusqlite::Connection::open(server.data_dir.join("sealdrop.sqlite")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    for i in 0..50 {
        let id = format!("{:032x}", 0xbe_u128 << 64 | i as u128);
        let mut plain = format!("Reply {i}: thank you, we read your report.").into_bytes();
        plain.resize(4096, 0);
        let recipient = derived.reply_recipient();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap();
        let mut sealed = Vec::new();
        let mut w = encryptor.wrap_output(&mut sealed).unwrap();
        w.write_all(&plain).unwrap();
        w.finish().unwrap();
        std::fs::write(
            server.data_dir.join("replies").join(format!("{id}.age")),
            &sealed,
        )
        .unwrap();
        conn.execute(
            "INSERT INTO replies (id, mailbox, ordinal, expires, size) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![id, derived.mailbox_id, i, "2999-12-31", sealed.len() as i64],
        )
        .unwrap();
    }
    let (head, body) = login_request(0);
    let (status, _) = one_request(server.port, &head, &body);
    assert_eq!(status, 303);
    // The session cookie comes back in the login answer's headers; read it with a raw request.
    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut w = stream.try_clone().unwrap();
    w.write_all(head.as_bytes()).unwrap();
    w.write_all(&body).unwrap();
    let mut reader = BufReader::new(stream);
    let mut cookie = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line
            .strip_prefix("set-cookie: ")
            .or(line.strip_prefix("Set-Cookie: "))
        {
            cookie = v.split(';').next().unwrap().to_owned();
        }
    }
    let inbox_head = format!(
        "GET /inbox HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    );
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let (status, page) = one_request(server.port, &inbox_head, b"");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&page).contains("Reply 49:"));
    }
    println!(
        "conversation: {logins:.0} codename logins/s over HTTP (4 clients; SecureDrop about 7/s; \
         target at least 200/s); {opted_in:.0} new codenames/s (opted-in tips, 32 clients) against {plain:.0} \
         plain tips/s in the same run (ratio {:.2}; SecureDrop about 0.27 new sources/s; target \
         at least 200/s); an inbox of 50 replies renders in {:.1} ms (median of 20)",
        opted_in / plain,
        median(times)
    );
}

/// One large upload against cp + sync, in alternating rounds.
fn large_upload_report(dir: &Path, mib: u64, rounds: usize) {
    let file = dir.join("upload.bin");
    make_file(&file, mib);
    sync_all();
    let (mut ceiling, mut ours, mut server_cpu) = (Vec::new(), Vec::new(), Vec::new());
    let mut alone = Vec::new();
    for round in 0..rounds {
        // The bar (issue 7): one attachment is one age stream, encrypted on one core.
        alone.push(cipher_alone(mib));
        let copy = dir.join("upload-copy.bin");
        sync_all();
        let t = Instant::now();
        assert!(Command::new("cp")
            .arg(&file)
            .arg(&copy)
            .status()
            .unwrap()
            .success());
        sync_all();
        ceiling.push(t.elapsed().as_secs_f64());
        std::fs::remove_file(&copy).unwrap();

        let server = Server::start(dir, &format!("large-{round}"), &[]);
        sync_all();
        let cpu = server.cpu_secs();
        let t = Instant::now();
        assert_eq!(
            upload(server.port, &file),
            303,
            "the large upload was refused"
        );
        ours.push(t.elapsed().as_secs_f64());
        server_cpu.push(server.cpu_secs() - cpu);
        let _ = std::fs::remove_dir_all(&server.data_dir);
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (c, o) = (median(ceiling.clone()), median(ours.clone()));
    let per_round = ceiling
        .iter()
        .zip(&ours)
        .map(|(c, o)| format!("{:.2}", c / o))
        .collect::<Vec<_>>()
        .join(" ");
    let a = median(alone.clone());
    println!(
        "large upload, {mib} MiB, median of {rounds} rounds: {o:.2} s ({:.0} MiB/s) to \
         \"received\" [{}] using {:.2} s of server CPU",
        mib as f64 / o,
        list(&ours),
        median(server_cpu),
    );
    println!(
        "  against age alone, in memory on one core: {a:.2} s [{}]; upload / age alone {:.2} \
         (target at most 1.5)",
        list(&alone),
        o / a
    );
    println!(
        "  against cp + sync: {c:.2} s ({:.0} MiB/s) [{}]; cp+sync / upload {:.2} (per round: \
         {per_round}; target at least 0.8 when the disk runs at its sustained speed)",
        mib as f64 / c,
        list(&ceiling),
        c / o,
    );
}

/// The same server built without the wiping allocator, for the allocator part. Built by cargo
/// into its own target directory (the first time takes a full release build), so it never
/// replaces the binary under test.
fn server_without_wiping_allocator() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target"))
        .join("allocator-baseline");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!(
        "(building the server without the wiping allocator into {})",
        target.display()
    );
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--bin",
            "sealdrop",
            "--features",
            "no-wiping-allocator",
        ])
        .arg("--manifest-path")
        .arg(manifest.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo to build the allocator baseline");
    assert!(status.success(), "building the allocator baseline failed");
    target.join("release/sealdrop")
}

/// Small tips per second and one large upload, with and without the wiping allocator, in
/// alternating rounds (so a slow spell of the disk or a busy neighbour hits both alike).
fn allocator_report(dir: &Path, secs: u64, mib: u64, rounds: usize) {
    let without = server_without_wiping_allocator();
    let with = PathBuf::from(env!("CARGO_BIN_EXE_sealdrop"));
    let file = dir.join("upload.bin");
    make_file(&file, mib);
    sync_all();
    let tips = |binary: &Path, name: String| {
        let server = Server::start_binary(binary, dir, &name, &[]);
        small_tips(&server, 32, secs)
    };
    let large = |binary: &Path, name: String| {
        let server = Server::start_binary(binary, dir, &name, &[]);
        sync_all();
        let t = Instant::now();
        assert_eq!(
            upload(server.port, &file),
            303,
            "the large upload was refused (a stored one is a 303)"
        );
        let took = t.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&server.data_dir);
        took
    };
    let (mut tips_with, mut tips_without) = (Vec::new(), Vec::new());
    let (mut large_with, mut large_without) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        tips_without.push(tips(&without, format!("alloc-tips-without-{round}")));
        tips_with.push(tips(&with, format!("alloc-tips-with-{round}")));
        large_without.push(large(&without, format!("alloc-large-without-{round}")));
        large_with.push(large(&with, format!("alloc-large-with-{round}")));
    }
    let list = |v: &[f64], precision: usize| {
        v.iter()
            .map(|x| format!("{x:.precision$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (tw, to) = (median(tips_with.clone()), median(tips_without.clone()));
    let (lw, lo) = (median(large_with.clone()), median(large_without.clone()));
    println!(
        "wiping allocator, median of {rounds} alternating rounds: small tips {tw:.0}/s with it \
         [{}], {to:.0}/s without [{}]: {:.1}% slower",
        list(&tips_with, 0),
        list(&tips_without, 0),
        (1.0 - tw / to) * 100.0
    );
    println!(
        "  one {mib} MiB upload: {lw:.2} s with it [{}], {lo:.2} s without [{}]: {:.1}% slower \
         (target for both: at most 10%)",
        list(&large_with, 2),
        list(&large_without, 2),
        (lw / lo - 1.0) * 100.0
    );
}

/// Seconds age takes to encrypt `mib` MiB in memory on this thread, output discarded.
fn cipher_alone(mib: u64) -> f64 {
    let id = age::x25519::Identity::generate();
    let line = format!("{}\n", id.to_public());
    let recipients =
        sealdrop_core::keys::Recipients::parse(Path::new("bench"), line.as_bytes()).unwrap();
    let block = vec![0x5a; 1 << 20];
    let mut sealer = sealdrop::seal::Sealer::new(&recipients, std::io::sink()).unwrap();
    let t = Instant::now();
    for _ in 0..mib {
        sealer.write(&block).unwrap();
    }
    sealer.finish(0).unwrap();
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Peak memory during `count` concurrent uploads of `mib` MiB each.
fn memory_report(dir: &Path, count: usize, mib: u64) {
    let file = dir.join(format!("upload-{mib}.bin"));
    make_file(&file, mib);
    let server = Server::start(dir, &format!("memory-{count}"), &[]);
    let idle = server.peak_rss_kib();
    let t = Instant::now();
    let uploads: Vec<_> = (0..count)
        .map(|_| {
            let (port, file) = (server.port, file.clone());
            std::thread::spawn(move || upload(port, &file))
        })
        .collect();
    for u in uploads {
        assert_eq!(
            u.join().unwrap(),
            303,
            "a concurrent upload was refused (a stored one is a 303)"
        );
    }
    println!(
        "memory, {count} concurrent {mib} MiB uploads ({:.1} s): server peak RSS {:.1} MiB \
         (at start {:.1} MiB; target at most 64 MiB)",
        t.elapsed().as_secs_f64(),
        server.peak_rss_kib() as f64 / 1024.0,
        idle as f64 / 1024.0
    );
    let data = server.data_dir.clone();
    drop(server);
    let _ = std::fs::remove_dir_all(data);
    let _ = std::fs::remove_file(file);
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
