//! `sealdrop backup` and `sealdrop restore`: the keys whose loss is final (the onion service's
//! key, which IS the address sources know, and the bundle-signing key staff pinned) and the
//! config, in one file sealed to the group's age recipients.
//!
//! The backup is a tar streamed straight into age: no byte of it is ever on disk in clear. It
//! opens only with a staff identity, which the server must never hold (invariant 2), so restoring
//! goes through the desk: staff decrypt it there with the standard `age` tool and re-encrypt it
//! with a passphrase for the trip (`age -d -i KEY backup.age | age -p > transfer.age`), and
//! `sealdrop restore` on the new machine opens that with the passphrase alone.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use sealdrop_bundle::signing;
use sealdrop_core::keys::Recipients;

/// The stamp `backup` leaves in the data directory, which `doctor` compares with the keys.
pub const STAMP_FILE: &str = "last-backup";
/// Any file larger than this is not one of ours; a backup holds a few small files.
const MAX_ENTRY_BYTES: u64 = 1 << 20;
/// Most entries a backup to restore may hold.
const MAX_ENTRIES: usize = 64;
/// The onion service's key file: what the address is derived from.
pub const ONION_SECRET_KEY: &str = "hs_ed25519_secret_key";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a regular file of at most 1 MiB; it is not something a backup holds")]
    NotAKeyFile { path: PathBuf },
    #[error("{0} holds no {ONION_SECRET_KEY}: give the onion service's HiddenServiceDir (--hs-dir), and run as root, which can read it")]
    NoOnionKey(PathBuf),
    #[error("cannot write the backup {path} (an existing file is never overwritten)")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start age encryption")]
    Encrypt(#[source] age::EncryptError),
    #[error("cannot open {path} with this passphrase: check the passphrase, and that the file is the one re-encrypted for transport with `age -p` (a backup straight from the server opens only on the desk)")]
    Decrypt {
        path: PathBuf,
        #[source]
        source: age::DecryptError,
    },
    #[error("{path} is not a Sealdrop backup ({why})")]
    NotABackup { path: PathBuf, why: String },
    #[error("{path} already holds a different key than the backup. Restoring never replaces a key: stop the service that uses it (tor@sealdrop or sealdrop), move it away, and run restore again")]
    KeyExists { path: PathBuf },
    #[error("cannot write {path}")]
    Restore {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the things to back up are.
pub struct Sources<'a> {
    pub config_file: &'a Path,
    pub keys_file: &'a Path,
    pub desk_keys_file: &'a Path,
    pub data_dir: &'a Path,
    pub hs_dir: &'a Path,
}

/// Read one small file, as the bytes to archive.
fn read_small(path: &Path) -> Result<Zeroizing<Vec<u8>>, BackupError> {
    let read_err = |source| BackupError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() || meta.len() > MAX_ENTRY_BYTES {
        return Err(BackupError::NotAKeyFile {
            path: path.to_owned(),
        });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    file.take(MAX_ENTRY_BYTES)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    Ok(bytes)
}

/// One file in a backup: its name in the archive, and its bytes (wiped when dropped).
type Entry = (String, Zeroizing<Vec<u8>>);

/// What goes in.
fn collect(sources: &Sources) -> Result<Vec<Entry>, BackupError> {
    let mut entries = Vec::new();
    if !sources.hs_dir.join(ONION_SECRET_KEY).is_file() {
        return Err(BackupError::NoOnionKey(sources.hs_dir.to_owned()));
    }
    for sub in ["", "authorized_clients"] {
        let dir = sources.hs_dir.join(sub);
        let Ok(list) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<_> = list
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let archived = if sub.is_empty() {
                format!("onion/{name}")
            } else {
                format!("onion/{sub}/{name}")
            };
            entries.push((archived, read_small(&dir.join(&name))?));
        }
    }
    entries.push((
        "signing-key".to_owned(),
        read_small(&sources.data_dir.join(signing::KEY_FILE))?,
    ));
    entries.push((
        "config/sealdrop.toml".into(),
        read_small(sources.config_file)?,
    ));
    entries.push((
        "config/recipients.txt".into(),
        read_small(sources.keys_file)?,
    ));
    if sources.desk_keys_file.is_file() {
        entries.push((
            "config/desk-keys.txt".into(),
            read_small(sources.desk_keys_file)?,
        ));
    }
    Ok(entries)
}

/// Write the backup to `out` (a new file, mode 0600), sealed to `recipients`, and leave the stamp
/// `doctor` looks at. Returns the archived names.
pub fn backup(
    sources: &Sources,
    recipients: &Recipients,
    out: &Path,
    today: &str,
) -> Result<Vec<String>, BackupError> {
    let entries = collect(sources)?;
    let write_err = |source| BackupError::Write {
        path: out.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(write_err)?;
    let written = (|| {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter()).map_err(BackupError::Encrypt)?;
        let sealed = encryptor.wrap_output(&file).map_err(write_err)?;
        let mut tar = tar::Builder::new(sealed);
        for (name, bytes) in &entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, bytes.as_slice())
                .map_err(write_err)?;
        }
        let sealed = tar.into_inner().map_err(write_err)?;
        sealed.finish().map_err(write_err)?;
        file.sync_all().map_err(write_err)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(out);
        return Err(e);
    }
    write_stamp(sources.data_dir, today);
    Ok(entries.into_iter().map(|(name, _)| name).collect())
}

/// Best effort: a stamp that cannot be written only makes doctor say "no backup".
fn write_stamp(data_dir: &Path, today: &str) {
    let path = data_dir.join(STAMP_FILE);
    let _ = std::fs::remove_file(&path);
    if std::fs::write(&path, format!("{today}\n")).is_ok() {
        give_to_owner_of(&path, data_dir);
    }
}

/// What doctor learns about backups.
#[derive(Debug, PartialEq, Eq)]
pub enum BackupState {
    Never,
    /// This key file changed after the last backup.
    Stale(PathBuf),
    /// The date of the last backup.
    Current(String),
}

/// Has a backup been made since the keys last changed? The onion key is compared when this
/// user can see it (root).
pub fn last_backup_state(data_dir: &Path, hs_dir: Option<&Path>) -> BackupState {
    let stamp = data_dir.join(STAMP_FILE);
    let Ok(stamp_meta) = std::fs::metadata(&stamp) else {
        return BackupState::Never;
    };
    let keys = [
        Some(data_dir.join(signing::KEY_FILE)),
        hs_dir.map(|d| d.join(ONION_SECRET_KEY)),
    ];
    for key in keys.into_iter().flatten() {
        if let Ok(meta) = std::fs::metadata(&key) {
            if (meta.mtime(), meta.mtime_nsec()) > (stamp_meta.mtime(), stamp_meta.mtime_nsec()) {
                return BackupState::Stale(key);
            }
        }
    }
    let date = std::fs::read_to_string(&stamp).unwrap_or_default();
    BackupState::Current(date.trim().chars().take(32).collect())
}

/// Where a restore puts things.
pub struct Targets<'a> {
    pub config_file: &'a Path,
    pub hs_dir: &'a Path,
}

/// What a restore did, for the operator.
#[derive(Debug, Default)]
pub struct Restored {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Files that already held the same bytes.
    pub unchanged: Vec<PathBuf>,
    /// Config files that differed: the backup's copy is beside them as NAME.restored.
    pub set_aside: Vec<PathBuf>,
}

/// Open a backup re-encrypted with a passphrase and read its entries (bounded: names from a
/// fixed set, few and small).
pub fn open(
    path: &Path,
    passphrase: SecretString,
) -> Result<BTreeMap<String, Zeroizing<Vec<u8>>>, BackupError> {
    let not_backup = |why: String| BackupError::NotABackup {
        path: path.to_owned(),
        why,
    };
    let file = std::fs::File::open(path).map_err(|source| BackupError::Read {
        path: path.to_owned(),
        source,
    })?;
    let decrypt_err = |source| BackupError::Decrypt {
        path: path.to_owned(),
        source,
    };
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).map_err(decrypt_err)?;
    let identity = age::scrypt::Identity::new(passphrase);
    let reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(decrypt_err)?;
    let mut archive = tar::Archive::new(reader);
    let mut entries = BTreeMap::new();
    for entry in archive
        .entries()
        .map_err(|e| not_backup(format!("not a tar archive: {e}")))?
    {
        let mut entry = entry.map_err(|e| not_backup(format!("a damaged entry: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| not_backup(format!("an entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        if !allowed_name(&name) || entries.len() >= MAX_ENTRIES {
            return Err(not_backup(format!("unexpected entry {name:?}")));
        }
        if entry.header().entry_type() != tar::EntryType::Regular || entry.size() > MAX_ENTRY_BYTES
        {
            return Err(not_backup(format!("{name:?} is not a small file")));
        }
        let mut bytes = Zeroizing::new(Vec::new());
        entry
            .by_ref()
            .take(MAX_ENTRY_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| not_backup(format!("{name:?}: {e}")))?;
        entries.insert(name, bytes);
    }
    for needed in [
        "signing-key",
        "config/sealdrop.toml",
        "config/recipients.txt",
    ] {
        if !entries.contains_key(needed) {
            return Err(not_backup(format!("{needed} is missing")));
        }
    }
    if !entries.contains_key(&format!("onion/{ONION_SECRET_KEY}")) {
        return Err(not_backup("the onion key is missing".into()));
    }
    Ok(entries)
}

/// Names a backup may hold: a fixed few, and plain file names under `onion/`.
fn allowed_name(name: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["signing-key"] => true,
        ["config", "sealdrop.toml" | "recipients.txt" | "desk-keys.txt"] => true,
        ["onion", file] => plain(file),
        ["onion", "authorized_clients", file] => plain(file),
        _ => false,
    }
}

/// The paths a config names: data directory, recipients file, desk-keys file.
pub struct ConfigPaths {
    pub data_dir: PathBuf,
    pub keys_file: PathBuf,
    pub desk_keys_file: PathBuf,
}

/// Put a backup's entries in place: the config first (written if there is none; a differing one
/// is kept and the backup's copy set beside it as NAME.restored), whose paths say where the rest
/// goes; then the keys, which never replace different ones: nothing is written to a key's place
/// unless every key can be.
pub fn restore(
    entries: &BTreeMap<String, Zeroizing<Vec<u8>>>,
    targets: &Targets,
    paths_of: impl Fn(&Path) -> Option<ConfigPaths>,
) -> Result<Restored, BackupError> {
    let mut restored = Restored::default();
    write_config(
        targets.config_file,
        &entries["config/sealdrop.toml"],
        &mut restored,
    )?;
    let Some(paths) = paths_of(targets.config_file) else {
        return Err(BackupError::NotABackup {
            path: targets.config_file.to_owned(),
            why: "the config in place cannot be read; fix it and restore again".into(),
        });
    };
    let mut keys: Vec<(PathBuf, &[u8])> = vec![(
        paths.data_dir.join(signing::KEY_FILE),
        &entries["signing-key"],
    )];
    for (name, bytes) in entries {
        if let Some(file) = name.strip_prefix("onion/") {
            keys.push((targets.hs_dir.join(file), bytes));
        }
    }
    for (path, bytes) in &keys {
        if std::fs::read(path).is_ok_and(|existing| existing != *bytes) {
            return Err(BackupError::KeyExists { path: path.clone() });
        }
    }
    write_config(
        &paths.keys_file,
        &entries["config/recipients.txt"],
        &mut restored,
    )?;
    if let Some(desk) = entries.get("config/desk-keys.txt") {
        write_config(&paths.desk_keys_file, desk, &mut restored)?;
    }
    for (path, bytes) in keys {
        write_key(&path, bytes, &mut restored)?;
    }
    Ok(restored)
}

fn restore_err(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Restore {
        path: path.to_owned(),
        source,
    }
}

/// A config file: written if absent (or empty, as the package ships the recipients file);
/// kept if it holds the same bytes; else the backup's copy goes beside it.
fn write_config(path: &Path, bytes: &[u8], restored: &mut Restored) -> Result<(), BackupError> {
    match std::fs::read(path) {
        Ok(existing) if existing == bytes => {
            restored.unchanged.push(path.to_owned());
            Ok(())
        }
        Ok(existing) if !existing.iter().any(|b| !b.is_ascii_whitespace()) => {
            std::fs::write(path, bytes).map_err(restore_err(path))?;
            restored.written.push(path.to_owned());
            Ok(())
        }
        Ok(_) => {
            let mut aside = path.as_os_str().to_owned();
            aside.push(".restored");
            let aside = PathBuf::from(aside);
            std::fs::write(&aside, bytes).map_err(restore_err(&aside))?;
            restored.set_aside.push(aside);
            Ok(())
        }
        Err(_) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(restore_err(parent))?;
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(path)
                .and_then(|mut f| f.write_all(bytes))
                .map_err(restore_err(path))?;
            restored.written.push(path.to_owned());
            Ok(())
        }
    }
}

/// A key file: mode 0600 in a 0700 directory, owned by whoever owns the directory above (tor's
/// user for the onion key, sealdrop for the signing key) when restore runs as root.
fn write_key(path: &Path, bytes: &[u8], restored: &mut Restored) -> Result<(), BackupError> {
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        restored.unchanged.push(path.to_owned());
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(restore_err(dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(restore_err(dir))?;
        if let Some(above) = dir.parent() {
            give_to_owner_of(dir, above);
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(restore_err(path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(restore_err(path))?;
    give_to_owner_of(path, dir);
    restored.written.push(path.to_owned());
    Ok(())
}

/// As root, hand `path` to the owner of `dir`; as anyone else there is nothing to do.
fn give_to_owner_of(path: &Path, dir: &Path) {
    if !rustix::process::geteuid().is_root() {
        return;
    }
    if let Ok(meta) = std::fs::metadata(dir) {
        let _ = std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()));
    }
}
