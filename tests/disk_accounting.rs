//! Disk accounting that cannot be faked or probed: declared lengths reserve nothing, the answer
//! before a body is read is the same whatever length is declared, the quota counts what blobs
//! really take, and a free-inode floor refuses with the "full" page before the disk runs out.

mod common;

use std::net::Shutdown;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const MIB: usize = 1024 * 1024;

#[test]
fn declared_lengths_that_never_arrive_do_not_fill_the_disk() {
    // On the old rule (reserve the declared length plus 1/8 plus 1 MiB, or the maximum for a
    // chunked body) these five connections held 47.75 of the 48 MiB quota while sending nothing.
    let setup = Setup::new()
        .with("SEALDROP_STORAGE_QUOTA_MB", "48")
        .with("SEALDROP_MAX_SUBMISSION_BYTES", &(8 * MIB).to_string())
        .with("SEALDROP_MAX_FILE_BYTES", &(8 * MIB).to_string());
    let server = setup.start();
    let form = Multipart::new().text("message", "held open").file(
        "files",
        "big.bin",
        "application/octet-stream",
        &random_bytes(4 * MIB),
    );
    let mut held = Vec::new();
    for declared in [8 * MIB, 8 * MIB, 8 * MIB, 6 * MIB] {
        let mut conn = Conn::open(server.addr);
        assert!(conn.send(&post_head(
            server.addr,
            "/submit",
            &form.content_type(),
            Some(declared)
        )));
        held.push(conn);
    }
    // A chunked upload that sends 200 KB of its file and then nothing.
    let mut chunked_conn = Conn::open(server.addr);
    assert!(chunked_conn.send(&post_head(
        server.addr,
        "/submit",
        &form.content_type(),
        None
    )));
    let start = &form.body()[..200_000];
    let mut partial = format!("{:x}\r\n", start.len()).into_bytes();
    partial.extend_from_slice(start);
    partial.extend_from_slice(b"\r\n");
    assert!(chunked_conn.send(&partial));
    assert!(
        wait_until(Duration::from_secs(10), || !files_under(
            &setup.incoming_dir()
        )
        .is_empty()),
        "the chunked upload never reached the disk"
    );

    // A real tip while they hang: there is room, so it is received.
    let real = random_bytes(MIB);
    let tip = Multipart::new().text("message", "a real tip").file(
        "files",
        "evidence.bin",
        "application/octet-stream",
        &real,
    );
    server.post("/submit", &tip).assert_received();
    let (_, opened) = setup.only_submission();
    assert!(opened.attachments[0].content() == &real[..]);

    for conn in held {
        conn.disconnect();
    }
    chunked_conn.disconnect();
    assert!(wait_until(Duration::from_secs(10), || files_under(
        &setup.incoming_dir()
    )
    .is_empty()));
}

/// Send only a request head declaring `length`, close the sending side, and return the status
/// (`None`: closed without an answer).
fn probe(server: &Server, content_type: &str, length: usize) -> Option<u16> {
    let mut conn = Conn::open(server.addr);
    assert!(conn.send(&post_head(
        server.addr,
        "/submit",
        content_type,
        Some(length)
    )));
    let _ = conn.stream.shutdown(Shutdown::Write);
    conn.read_response().map(|r| r.status)
}

/// The status every declared length gets; fails, listing them, if two lengths are answered
/// differently (which would give away how much room is left).
fn same_answer_for_every_length(server: &Server) -> Option<u16> {
    let content_type = Multipart::new().content_type();
    // (Not 0: a complete empty request, which the client's half-close makes the server drop
    // unanswered, holding its room for a moment: not a probe of the free space.)
    let lengths = [
        1,
        1000,
        MIB / 2,
        MIB,
        MIB + MIB / 2,
        2 * MIB,
        4 * MIB,
        15 * MIB,
        16 * MIB,
        17 * MIB,
        64 * MIB,
        1024 * MIB,
        2048 * MIB,
    ];
    let answers: Vec<(usize, Option<u16>)> = lengths
        .iter()
        .map(|&n| (n, probe(server, &content_type, n)))
        .collect();
    let first = answers[0].1;
    assert!(
        answers.iter().all(|&(_, status)| status == first),
        "the answer depends on the declared length, which reveals the free space: {answers:?}"
    );
    first
}

#[test]
fn probes_with_chosen_lengths_cannot_measure_the_free_space() {
    // A 16 MiB quota: headroom is rounded down to 1 MiB before any decision.
    let setup = Setup::new().with("SEALDROP_STORAGE_QUOTA_MB", "16");
    {
        let server = setup.start();
        // An empty store: plenty of room, so every probe gets as far as its (missing) body.
        assert_eq!(same_answer_for_every_length(&server), Some(400));
        // A victim's tip leaves about 1.5 MiB of room: the old rule answered 507 to any
        // declared length over about 0.4 MiB and not below, so 31 probes gave the room exactly.
        let victim = Multipart::new().text("message", "the victim").file(
            "files",
            "video.bin",
            "application/octet-stream",
            &random_bytes(MIB * 29 / 2),
        );
        server.post("/submit", &victim).assert_received();
        assert_eq!(same_answer_for_every_length(&server), Some(400));
        server.stop();
    }
    // Below the granularity (a smaller quota on the same store): full for every probe alike.
    let setup_full = {
        let mut s = setup;
        s.set("SEALDROP_STORAGE_QUOTA_MB", "15");
        s
    };
    let server = setup_full.start();
    assert_eq!(same_answer_for_every_length(&server), Some(507));
    server
        .post("/submit", &Multipart::new().text("message", "no room"))
        .assert_page(507, "Temporarily full");
}

/// Blocks the blob files really take (st_blocks), and how many there are.
fn allocated_under(dir: &Path) -> (u64, usize) {
    let files = files_under(dir);
    let bytes = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().blocks() * 512)
        .sum();
    (bytes, files.len())
}

fn usage_row(setup: &Setup) -> u64 {
    let db = rusqlite::Connection::open_with_flags(
        setup.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("SELECT bytes FROM usage WHERE id = 1", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap() as u64
}

/// A tip with `n` empty files.
fn empty_files_tip(n: usize) -> Multipart {
    let mut form = Multipart::new().text("message", "many empty files");
    for i in 0..n {
        form = form.file("files", &format!("empty-{i}.txt"), "text/plain", b"");
    }
    form
}

/// Send tips of 20 empty files until one is refused; every answer must be "received" or the
/// "full" page, never an internal error. Returns how many were received.
fn fill_with_empty_files(server: &Server, most: usize) -> usize {
    for sent in 0..most {
        let response = server.post("/submit", &empty_files_tip(20));
        match response.status {
            303 => continue,
            507 => {
                response.assert_page(507, "Temporarily full");
                return sent;
            }
            other => panic!("tip {sent} of empty files got {other}: {}", response.text()),
        }
    }
    panic!("{most} tips of 20 empty files were all received: nothing limits them");
}

#[test]
fn the_quota_counts_the_blocks_and_files_tips_of_empty_files_really_take() {
    let quota = 4u64 << 20;
    let setup = Setup::new().with("SEALDROP_STORAGE_QUOTA_MB", "4");
    let server = setup.start();
    // Each empty file is a few hundred bytes of age header but takes a block and an inode;
    // counting bytes let about 500 such tips into a 4 MiB quota.
    let received = fill_with_empty_files(&server, 100);
    assert!(received > 0, "not even the first tip fitted");
    let (allocated, files) = allocated_under(&setup.blobs_dir());
    assert_eq!(files, received * 21);
    let usage = usage_row(&setup);
    assert!(
        usage >= allocated + 4096 * files as u64,
        "the quota counts {usage} bytes for {files} files taking {allocated} bytes of blocks"
    );
    assert!(allocated <= quota && usage <= quota, "over the quota");
    assert!(files_under(&setup.incoming_dir()).is_empty());
    // The rest of the site still works.
    assert_eq!(server.get("/").status, 200);
}

/// A small ext4 filesystem in a file, loop-mounted for the test; unmounted when dropped.
struct SmallFs {
    dir: tempfile::TempDir,
    mount: PathBuf,
}

impl SmallFs {
    fn new(size_mib: u64, inodes: u64) -> SmallFs {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test loop-mounts a small ext4 filesystem and must run as root (CI does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("sealdrop-smallfs-")
            .tempdir()
            .unwrap();
        let image = dir.path().join("fs.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(size_mib << 20)
            .unwrap();
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        run(
            Command::new("mkfs.ext4")
                .args(["-q", "-F", "-N", &inodes.to_string()])
                .arg(&image),
            "mkfs.ext4 (install the Debian package e2fsprogs)",
        );
        run(
            Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(&mount),
            "mount -o loop (needs root and a loop device)",
        );
        SmallFs { dir, mount }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = &self.dir;
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tips_of_empty_files_on_a_small_filesystem_stop_at_the_inode_floor_with_the_full_page() {
    // 64 MiB but only 512 inodes: bytes are plenty, inodes run out first.
    let fs = SmallFs::new(64, 512);
    let floor = 100u64;
    let mut setup = Setup::new().with("SEALDROP_MIN_FREE_INODES", &floor.to_string());
    setup.data_dir = fs.mount.join("data");
    let data_dir = setup.data_dir.to_str().unwrap().to_owned();
    setup.set("SEALDROP_DATA_DIR", &data_dir);
    let server = setup.start();
    let received = fill_with_empty_files(&server, 100);
    assert!(received > 0, "not even the first tip fitted");
    let st = rustix::fs::statvfs(&fs.mount).unwrap();
    assert!(
        st.f_favail >= floor,
        "free inodes fell to {} below the floor of {floor}",
        st.f_favail
    );
    assert!(
        st.f_bavail * st.f_frsize > 32 << 20,
        "the test meant to run out of inodes, not bytes"
    );
    assert_eq!(files_under(&setup.blobs_dir()).len(), received * 21);
    assert!(files_under(&setup.incoming_dir()).is_empty());
    // The next tip with files is refused alike (the refused tip's own files were deleted, so
    // a tip of text alone may still fit), and the rest of the site works.
    server
        .post("/submit", &empty_files_tip(20))
        .assert_page(507, "Temporarily full");
    assert_eq!(server.get("/").status, 200);
    server.stop();
}
