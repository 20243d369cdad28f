//! What the machine around the server does with memory and logs, for `sealdrop doctor`: whether
//! swap could page what sources send out to disk, and whether the journal outlives a power-off.
//!
//! The server's own memory is kept out of swap by its unit (`MemorySwapMax=0`), but tor's is
//! not, and tor holds each request in clear between the onion circuit and the socket. So swap
//! must be absent, encrypted (dm-crypt, under any layers) or in memory (zram).
//!
//! Every path is read under `root` (`/` on a real system), so tests can lay out a system of
//! their own: `proc/swaps`, `sys/dev/block/MAJOR:MINOR`, `etc/systemd/journald.conf` and its
//! drop-in folders, `var/log/journal`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One line of /proc/swaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapArea {
    pub path: String,
    /// `partition` or `file`.
    pub kind: String,
}

/// How a swap area keeps what is paged out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapKind {
    /// On a dm-crypt device (the name of the device that encrypts).
    Encrypted(String),
    /// In compressed memory (zram): gone at power-off.
    InMemory,
    /// On a disk in clear.
    Clear,
    /// Could not tell, and why.
    Unknown(String),
}

/// The swap areas in use, from `root/proc/swaps` (the kernel escapes spaces as `\040`).
pub fn swap_areas(root: &Path) -> std::io::Result<Vec<SwapArea>> {
    let text = std::fs::read_to_string(root.join("proc/swaps"))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let path = fields.next()?.replace("\\040", " ");
            let kind = fields.next()?.to_owned();
            Some(SwapArea { path, kind })
        })
        .collect())
}

/// Whether `area` keeps its pages encrypted, in memory, or in clear: the block device behind it
/// (the partition itself, or the one holding the file), and the devices under that, looked up
/// in `root/sys/dev/block`.
pub fn swap_kind(root: &Path, area: &SwapArea) -> SwapKind {
    let at = root.join(area.path.trim_start_matches('/'));
    let meta = match std::fs::metadata(&at) {
        Ok(meta) => meta,
        Err(e) => return SwapKind::Unknown(format!("{}: {e}", at.display())),
    };
    let device = if area.kind == "partition" {
        meta.rdev()
    } else {
        meta.dev()
    };
    let (major, minor) = (rustix::fs::major(device), rustix::fs::minor(device));
    let sys = root.join("sys/dev/block").join(format!("{major}:{minor}"));
    if !sys.exists() {
        return SwapKind::Unknown(format!(
            "no {} for its device {major}:{minor}",
            sys.display()
        ));
    }
    classify_device(&sys, 0)
}

/// A block device in sysfs: zram, dm-crypt, or (through `slaves/`, as LVM on LUKS is) built on
/// one of those; otherwise in clear.
fn classify_device(sys: &Path, depth: usize) -> SwapKind {
    let name = device_name(sys);
    if name.starts_with("zram") {
        return SwapKind::InMemory;
    }
    let uuid = std::fs::read_to_string(sys.join("dm/uuid")).unwrap_or_default();
    if uuid.starts_with("CRYPT-") {
        let mapped = std::fs::read_to_string(sys.join("dm/name")).unwrap_or_default();
        let mapped = mapped.trim();
        return SwapKind::Encrypted(if mapped.is_empty() {
            name
        } else {
            format!("/dev/mapper/{mapped}")
        });
    }
    // A partition's sysfs entry has no slaves/, its disk's has: look at both. Stacks are shallow
    // (LVM on LUKS on RAID is three); a loop in a fake tree must not hang doctor.
    if depth < 8 {
        let mut under: Vec<PathBuf> = std::fs::read_dir(sys.join("slaves"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        under.sort();
        let kinds: Vec<SwapKind> = under
            .iter()
            .map(|u| classify_device(u, depth + 1))
            .collect();
        if !kinds.is_empty() && kinds.iter().all(|k| !matches!(k, SwapKind::Clear)) {
            return kinds.into_iter().next().unwrap();
        }
    }
    SwapKind::Clear
}

/// A sysfs block entry's device name (`sda2`, `dm-0`): the link's target's last part.
fn device_name(sys: &Path) -> String {
    let target = std::fs::read_link(sys).unwrap_or_else(|_| sys.to_owned());
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where journald keeps the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalStorage {
    /// `Storage=volatile` or `none`: gone at power-off.
    Volatile(String),
    /// On disk, and the setting that says so.
    Persistent(String),
}

/// journald's `Storage=` as configured under `root`: journald.conf, then its drop-ins
/// (`/etc`, `/run`, `/usr/lib` `systemd/journald.conf.d/*.conf`, in file-name order, a name in
/// `/etc` hiding the same name further down), the last setting winning. `auto` (the default)
/// means on disk when /var/log/journal exists.
pub fn journal_storage(root: &Path) -> JournalStorage {
    let mut files = vec![root.join("etc/systemd/journald.conf")];
    let mut drop_ins: std::collections::BTreeMap<std::ffi::OsString, PathBuf> = Default::default();
    for dir in [
        "usr/lib/systemd/journald.conf.d",
        "run/systemd/journald.conf.d",
        "etc/systemd/journald.conf.d",
    ] {
        for entry in std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name();
            if Path::new(&name).extension().is_some_and(|e| e == "conf") {
                drop_ins.insert(name, entry.path());
            }
        }
    }
    files.extend(drop_ins.into_values());
    let mut storage = ("auto".to_owned(), "the default".to_owned());
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let mut in_journal = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_journal = line == "[Journal]";
            } else if let Some(value) = line.strip_prefix("Storage=").filter(|_| in_journal) {
                storage = (
                    value.trim().to_ascii_lowercase(),
                    format!("Storage={} in {}", value.trim(), file.display()),
                );
            }
        }
    }
    let (value, source) = storage;
    match value.as_str() {
        "volatile" | "none" => JournalStorage::Volatile(source),
        "persistent" => JournalStorage::Persistent(source),
        _ if root.join("var/log/journal").is_dir() => JournalStorage::Persistent(format!(
            "Storage={value} ({source}) with {} present",
            root.join("var/log/journal").display()
        )),
        _ => JournalStorage::Volatile(format!(
            "Storage={value} ({source}) with no /var/log/journal"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_are_read_with_escaped_spaces() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("proc")).unwrap();
        std::fs::write(
            root.path().join("proc/swaps"),
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
             /dev/sda3                               partition\t1048572\t\t0\t\t-2\n\
             /swap\\040file                          file\t\t1048572\t\t0\t\t-3\n",
        )
        .unwrap();
        assert_eq!(
            swap_areas(root.path()).unwrap(),
            vec![
                SwapArea {
                    path: "/dev/sda3".into(),
                    kind: "partition".into()
                },
                SwapArea {
                    path: "/swap file".into(),
                    kind: "file".into()
                },
            ]
        );
    }

    #[test]
    fn the_last_storage_setting_wins_and_etc_hides_usr_lib() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for d in [
            "etc/systemd/journald.conf.d",
            "usr/lib/systemd/journald.conf.d",
        ] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(
            r.join("etc/systemd/journald.conf"),
            "[Journal]\n#Storage=auto\n",
        )
        .unwrap();
        assert!(matches!(journal_storage(r), JournalStorage::Volatile(_)));
        std::fs::create_dir_all(r.join("var/log/journal")).unwrap();
        assert!(matches!(journal_storage(r), JournalStorage::Persistent(_)));
        std::fs::write(
            r.join("usr/lib/systemd/journald.conf.d/50-x.conf"),
            "[Journal]\nStorage=volatile\n",
        )
        .unwrap();
        assert!(matches!(journal_storage(r), JournalStorage::Volatile(_)));
        // The same name in /etc hides the vendor's file.
        std::fs::write(
            r.join("etc/systemd/journald.conf.d/50-x.conf"),
            "[Journal]\nStorage=persistent\n",
        )
        .unwrap();
        assert!(matches!(journal_storage(r), JournalStorage::Persistent(_)));
        // A setting outside [Journal] is not journald's.
        std::fs::write(
            r.join("etc/systemd/journald.conf.d/60-y.conf"),
            "[Other]\nStorage=volatile\n",
        )
        .unwrap();
        assert!(matches!(journal_storage(r), JournalStorage::Persistent(_)));
    }
}
