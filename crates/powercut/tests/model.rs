//! The model through real system calls on a mounted disk: what each flush keeps after a cut,
//! SQLite in WAL mode, the project's durable files, and `syncfs` through the bridge.
//! Needs /dev/fuse and the Debian package `fuse3`.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::Command;

use sealdrop_powercut::{Mounted, SyncfsBridge};

fn mount(dir: &tempfile::TempDir) -> Mounted {
    let point = dir.path().join("disk");
    fs::create_dir_all(&point).unwrap();
    Mounted::fresh(&point).unwrap_or_else(|e| panic!("{e}"))
}

fn sync_dir(dir: &Path) {
    File::open(dir).unwrap().sync_all().unwrap();
}

fn write(path: &Path, data: &[u8]) -> File {
    let mut f = File::create(path).unwrap();
    f.write_all(data).unwrap();
    f
}

#[test]
fn only_what_was_flushed_survives_a_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = mount(&tmp);
    let root = disk.mountpoint().to_owned();
    let dir = root.join("d");
    fs::create_dir(&dir).unwrap();
    sync_dir(&root);

    write(&dir.join("whole"), b"whole").sync_all().unwrap();
    write(&dir.join("name-only"), b"data never flushed");
    write(&dir.join("renamed"), b"renamed").sync_all().unwrap();
    sync_dir(&dir);
    // After the directory's last flush: a new file flushed itself, and a rename, both unflushed.
    write(&dir.join("data-only"), b"data").sync_all().unwrap();
    fs::rename(dir.join("renamed"), dir.join("new-name")).unwrap();
    // Unflushed writes to a flushed file.
    let mut whole = OpenOptions::new()
        .append(true)
        .open(dir.join("whole"))
        .unwrap();
    whole.write_all(b" and more").unwrap();
    drop(whole);

    let disk = disk.reboot().unwrap();
    assert_eq!(fs::read(dir.join("whole")).unwrap(), b"whole");
    assert_eq!(
        fs::read(dir.join("name-only")).unwrap(),
        b"",
        "named, never flushed"
    );
    assert!(!dir.join("data-only").exists(), "flushed, never named");
    assert_eq!(fs::read(dir.join("renamed")).unwrap(), b"renamed");
    assert!(!dir.join("new-name").exists(), "the rename is undone");
    drop(disk);
}

#[test]
fn a_new_directory_needs_its_parent_flushed() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = mount(&tmp);
    let root = disk.mountpoint().to_owned();
    fs::create_dir(root.join("lost")).unwrap();
    write(&root.join("lost/f"), b"x").sync_all().unwrap();
    sync_dir(&root.join("lost"));
    let disk = disk.reboot().unwrap();
    assert!(!root.join("lost").exists());
    drop(disk);
}

#[test]
fn after_a_cut_everything_fails_with_eio() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = mount(&tmp);
    let root = disk.mountpoint().to_owned();
    let mut open = write(&root.join("f"), b"x");
    disk.cut();
    let errors = [
        open.write_all(b"more")
            .and_then(|()| open.sync_all())
            .unwrap_err(),
        fs::read(root.join("f")).unwrap_err(),
        File::create(root.join("g")).unwrap_err(),
    ];
    for e in errors {
        assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
    }
    drop(open);
    drop(disk.reboot().unwrap());
}

#[test]
fn durable_files_survive_and_never_replace() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = mount(&tmp);
    let root = disk.mountpoint().to_owned();
    sealdrop_core::durable::create_private_dir(&root.join("a/b")).unwrap();
    let path = root.join("a/b/key");
    sealdrop_core::durable::write_new(&path, b"secret").unwrap();
    let err = sealdrop_core::durable::write_new(&path, b"other").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    let disk = disk.reboot().unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"secret");
    assert_eq!(
        fs::read_dir(root.join("a/b")).unwrap().count(),
        1,
        "no temporary left"
    );
    drop(disk);
}

fn sqlite(path: &Path, synchronous: &str) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
         CREATE TABLE IF NOT EXISTS t (v TEXT);"
    ))
    .unwrap();
    conn
}

fn rows(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
    let rows = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

#[test]
fn sqlite_in_wal_mode_keeps_what_it_synced_and_loses_what_it_did_not() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = mount(&tmp);
    let db = disk.mountpoint().join("index.sqlite");
    {
        let conn = sqlite(&db, "FULL");
        conn.execute("INSERT INTO t VALUES ('synced')", []).unwrap();
        // A second connection shares the WAL index through the mapped -shm file.
        assert_eq!(rows(&db), ["synced"]);
        let conn2 = sqlite(&db, "FULL");
        conn2
            .execute("INSERT INTO t VALUES ('synced too')", [])
            .unwrap();
        assert_eq!(rows(&db), ["synced", "synced too"]);
        let unsynced = sqlite(&db, "OFF");
        unsynced
            .execute("INSERT INTO t VALUES ('never synced')", [])
            .unwrap();
        assert_eq!(rows(&db).len(), 3);
        disk.cut();
    }
    let disk = disk.reboot().unwrap();
    assert_eq!(rows(&db), ["synced", "synced too"]);
    drop(disk);
}

#[test]
fn syncfs_reaches_the_disk_only_through_the_bridge() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = mount(&tmp);
    let root = disk.mountpoint().to_owned();
    write(&root.join("plain"), b"plain sync");
    let plain = Command::new("sync")
        .arg("-f")
        .arg(root.join("plain"))
        .status();
    assert!(plain.expect("running sync (coreutils)").success());
    assert_eq!(
        disk.switch().flushes().whole,
        0,
        "FUSE does not see a syncfs"
    );

    write(&root.join("bridged"), b"bridged sync");
    let mut cmd = Command::new("sync");
    cmd.arg("-f").arg(root.join("bridged"));
    let bridge = SyncfsBridge::attach(&mut cmd, disk.switch()).unwrap();
    assert!(cmd.status().unwrap().success());
    drop(cmd);
    assert_eq!(bridge.served(), 1);
    drop(bridge);

    let disk = disk.reboot().unwrap();
    // The bridged syncfs flushed everything, the earlier file as well.
    assert_eq!(fs::read(root.join("bridged")).unwrap(), b"bridged sync");
    assert_eq!(fs::read(root.join("plain")).unwrap(), b"plain sync");
    drop(disk);
}

#[test]
fn direct_writes_pass_through_and_need_a_flush_like_any_other() {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let disk = mount(&tmp);
    let root = disk.mountpoint().to_owned();
    let open_direct = |name: &str| {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_DIRECT)
            .open(root.join(name))
            .unwrap()
    };
    // A 4 KiB-aligned buffer, as direct I/O wants.
    let mut storage = vec![0u8; 3 * 4096];
    let start = storage.as_ptr().align_offset(4096);
    let block = &mut storage[start..start + 4096];
    block.fill(7);
    let mut flushed = open_direct("flushed");
    flushed.write_all(block).unwrap();
    flushed.sync_all().unwrap();
    open_direct("unflushed").write_all(block).unwrap();
    sync_dir(&root);
    let disk = disk.reboot().unwrap();
    assert_eq!(fs::read(root.join("flushed")).unwrap(), vec![7; 4096]);
    assert_eq!(
        fs::read(root.join("unflushed")).unwrap(),
        b"",
        "written, never flushed"
    );
    drop(disk);
}
