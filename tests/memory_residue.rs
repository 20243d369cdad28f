//! Past plaintext is not left in the server's memory (issue 10's threat: an attacker who later
//! gains code execution on the server must not find earlier tips there).
//!
//! Tips carry unique markers in the message, the contact, the file names and inside files of
//! 1 KiB, 64 KiB, 1 MiB and 5 MiB (one distinct marker every 4 KiB, so the pieces can be counted).
//! After each "received" page, right away and again a second later, every readable anonymous
//! mapping of the live server (heap, thread stacks, mmapped blocks; `/proc/PID/maps` and
//! `/proc/PID/mem`, which root may read although the server is not dumpable) is searched for them.
//!
//! Built with `--features no-wiping-allocator` this test fails, and says how many markers it
//! found: that is what the wiping allocator (`sealdrop_core::wiping_alloc`) prevents.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use common::*;

const MARKER_TAG: usize = 6; // one letter for where it was put, five digits

struct Markers {
    prefix: String,
}

impl Markers {
    fn new() -> Markers {
        Markers {
            prefix: format!("SDMK{}", random_hex(5)),
        }
    }

    fn marker(&self, kind: char, index: usize) -> String {
        format!("{}{kind}{index:05}", self.prefix)
    }

    /// `size` random bytes with a distinct marker at the start of every 4 KiB.
    fn file(&self, kind: char, size: usize) -> Vec<u8> {
        let mut data = random_bytes(size);
        for (i, at) in (0..size).step_by(4096).enumerate() {
            let m = self.marker(kind, i);
            let end = (at + m.len()).min(size);
            data[at..end].copy_from_slice(&m.as_bytes()[..end - at]);
        }
        data
    }
}

/// Every distinct marker found in the readable anonymous mappings of `pid`, with the mapping
/// each was first seen in.
fn scan(pid: u32, prefix: &str) -> BTreeMap<String, String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = File::open(format!("/proc/{pid}/mem")).unwrap();
    let needle = prefix.as_bytes();
    let mut found = BTreeMap::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (range, perms, inode) = (fields[0], fields[1], fields[4]);
        let name = fields.get(5).copied().unwrap_or("");
        if !perms.starts_with('r') || inode != "0" {
            continue; // unreadable, or a file's pages
        }
        if matches!(name, "[vvar]" | "[vsyscall]" | "[vdso]" | "[vvar_vclock]") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut region = vec![0u8; (end - start) as usize];
        let mut read = 0;
        while read < region.len() {
            match mem.read_at(&mut region[read..], start + read as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        region.truncate(read);
        let mut from = 0;
        while let Some(at) = find(&region[from..], needle) {
            let at = from + at;
            let tag_end = (at + needle.len() + MARKER_TAG).min(region.len());
            let marker = String::from_utf8_lossy(&region[at..tag_end]).into_owned();
            found
                .entry(marker)
                .or_insert_with(|| format!("{range} {perms} {name}"));
            from = at + 1;
        }
    }
    found
}

fn report(found: &BTreeMap<String, String>) -> String {
    let mut by_kind: BTreeMap<char, usize> = BTreeMap::new();
    for m in found.keys() {
        let kind = m.chars().nth(14).unwrap_or('?');
        *by_kind.entry(kind).or_default() += 1;
    }
    let mut regions: BTreeMap<&str, usize> = BTreeMap::new();
    for r in found.values() {
        *regions.entry(r.as_str()).or_default() += 1;
    }
    format!(
        "{} distinct markers (by kind: {by_kind:?}; m message, c contact, n file name, \
         a/b/d/e files of 1 KiB/64 KiB/1 MiB/5 MiB); in mappings {regions:#?}; the first: {:?}",
        found.len(),
        found.iter().take(5).collect::<Vec<_>>()
    )
}

#[test]
fn no_marker_of_past_tips_is_left_in_the_servers_memory() {
    let setup = Setup::new()
        .with("SEALDROP_MAX_FILE_BYTES", &(8 << 20).to_string())
        .with("SEALDROP_MAX_SUBMISSION_BYTES", &(16 << 20).to_string());
    let server = setup.start();
    let pid = server.pid();
    let markers = Markers::new();

    let sizes = [
        ('a', 1 << 10),
        ('b', 64 << 10),
        ('d', 1 << 20),
        ('e', 5 << 20),
    ];
    let mut total = 0;
    for (tip, (kind, size)) in sizes.into_iter().enumerate() {
        let message = format!("The report {}: see attached.", markers.marker('m', tip));
        let contact = format!("Signal {}", markers.marker('c', tip));
        let filename = format!("evidence-{}.bin", markers.marker('n', tip));
        let data = markers.file(kind, size);
        total += 3 + size.div_ceil(4096);
        let form = Multipart::new()
            .text("message", &message)
            .text("contact", &contact)
            .file("files", &filename, "application/octet-stream", &data);
        server.post("/submit", &form).assert_received();
    }

    let right_after = scan(pid, &markers.prefix);
    eprintln!(
        "right after the last received page: {}",
        report(&right_after)
    );
    std::thread::sleep(Duration::from_secs(1));
    let later = scan(pid, &markers.prefix);
    eprintln!("1 s later: {}", report(&later));
    eprintln!("({total} distinct markers were sent)");
    assert!(
        right_after.is_empty() && later.is_empty(),
        "plaintext left in the server's memory: right after: {}; 1 s later: {}",
        report(&right_after),
        report(&later)
    );

    // The tips were stored (and so the markers did pass through the server).
    assert_eq!(setup.submissions().len(), sizes.len());
}

// ---------------------------------------------------------------------------------------------
// The desk

/// `sealdesk` is a command that exits when it is done, so there is no long-lived process to read.
/// Instead strace holds it at its final `exit_group` for a while: `main` has returned, every
/// destructor has run, and all its memory is still there to be read, which is the moment an
/// attacker who could read a finished process's memory would see.
fn desk_memory_at_exit(
    root: &std::path::Path,
    ws: &std::path::Path,
    args: &[&str],
    prefix: &str,
) -> (BTreeMap<String, String>, String) {
    use std::process::{Command, Stdio};
    let mut strace = Command::new("strace")
        .args(["-o", "/dev/null", "-e", "trace=exit_group"])
        .args(["-e", "inject=exit_group:delay_enter=30000000"])
        .arg(sealdesk_bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("TMPDIR", root)
        .env("SEALDESK_WORKSPACE", ws)
        .env("COLUMNS", "200")
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace (apt-get install strace)");
    let children = format!("/proc/{0}/task/{0}/children", strace.id());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let pid: u32 = loop {
        let text = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            let syscall =
                std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
            // exit_group: 231 on x86_64, 94 on aarch64.
            if syscall.starts_with("231 ") || syscall.starts_with("94 ") {
                break pid.parse().unwrap();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sealdesk {args:?} did not reach its exit"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let found = scan(pid, prefix);
    // Killing strace lets sealdesk finish its exit.
    let _ = strace.kill();
    let out = strace.wait_with_output().unwrap();
    (found, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn no_marker_is_left_in_sealdesks_memory_when_show_and_search_end() {
    use std::process::Command;
    let desk_dir = tempfile::Builder::new()
        .prefix("sealdesk-residue-")
        .tempdir()
        .unwrap();
    let root = desk_dir.path();
    let identity = root.join("identity.txt");
    let ws = root.join("workspace");
    let desk = |args: &[&str]| {
        let out = Command::new(sealdesk_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", root)
            .env("TMPDIR", root)
            .env("SEALDESK_WORKSPACE", &ws)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sealdesk {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let recipient = desk(&[
        "keygen",
        "--out",
        identity.to_str().unwrap(),
        "--no-passphrase",
    ]);

    let setup = Setup::new();
    std::fs::write(&setup.keys_file, recipient.trim()).unwrap();
    let server = setup.start();
    let markers = Markers::new();
    for tip in 0..2 {
        let form = Multipart::new()
            .text(
                "message",
                &format!("The report {}: see attached.", markers.marker('m', tip)),
            )
            .text("contact", &format!("Signal {}", markers.marker('c', tip)))
            .file(
                "files",
                &format!("evidence-{}.bin", markers.marker('n', tip)),
                "application/octet-stream",
                &markers.file('b', 64 << 10),
            );
        server.post("/submit", &form).assert_received();
    }
    let ids: Vec<String> = setup.submissions().into_iter().map(|r| r.id).collect();
    let fingerprint = setup.run(&["fingerprint"]).stdout.trim().to_owned();
    let bundle = root.join("export.sdb");
    assert!(setup
        .run(&["export", "--out", bundle.to_str().unwrap()])
        .status
        .success());
    let recipients = root.join("recipients.txt");
    std::fs::write(&recipients, &recipient).unwrap();
    desk(&[
        "init",
        "--identity",
        identity.to_str().unwrap(),
        "--recipients",
        recipients.to_str().unwrap(),
        "--server-key",
        &fingerprint,
    ]);
    desk(&["import", bundle.to_str().unwrap()]);

    for args in [vec!["show", &ids[0][..8]], vec!["search", "report"]] {
        let (found, stdout) = desk_memory_at_exit(root, &ws, &args, &markers.prefix);
        assert!(
            stdout.contains(&markers.prefix),
            "sealdesk {args:?} showed no report, so the test proves nothing: {stdout}"
        );
        eprintln!("sealdesk {args:?} at its exit: {}", report(&found));
        assert!(
            found.is_empty(),
            "plaintext left in sealdesk's memory after {args:?}: {}",
            report(&found)
        );
    }
}
