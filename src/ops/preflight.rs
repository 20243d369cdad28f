//! What the server checks before it listens, shared by `serve` and `check-config`.
//!
//! The server must never hold a key that opens submissions (DESIGN.md), so besides the
//! recipients file itself it looks where a misplaced staff key would most likely land: beside
//! the recipients file and at the top of the data directory.

use std::path::{Path, PathBuf};

use sealdrop_core::keys::{find_secret_key, KeysError, Recipients};

use crate::config::Config;
use crate::store::free_bytes;

/// Files larger than this are not key files; they are not read.
const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(
        "{path} line {line} holds an age SECRET key. The server must never hold one: delete it \
         from this machine, treat that staff key as compromised, and make a new one with \
         `sealdesk keygen` on the staff machine"
    )]
    SecretKeyNearby { path: PathBuf, line: usize },
    #[error("{0} exists but is not a directory; set data_dir to a folder")]
    DataDirNotADirectory(PathBuf),
    #[error("cannot inspect {path}")]
    Inspect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is read-only; the server needs to write there")]
    ReadOnly(PathBuf),
    #[error(
        "only {free_mib} MiB are free on the data disk, at or below min_free_disk_mb \
         ({floor_mib} MiB): every submission would get the \"temporarily full\" page. Free space \
         or lower the setting"
    )]
    LowSpace { free_mib: u64, floor_mib: u64 },
}

/// Check the recipients and refuse any secret key nearby; returns the recipients to seal to.
pub fn preflight(config: &Config) -> Result<Recipients, PreflightError> {
    let recipients = Recipients::load(&config.keys_file)?;
    refuse_secret_keys_near(config)?;
    Ok(recipients)
}

fn refuse_secret_keys_near(config: &Config) -> Result<(), PreflightError> {
    let keys_dir = config.keys_file.parent().unwrap_or(Path::new("."));
    for dir in [keys_dir, config.data_dir.as_path()] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let small_file = entry
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() <= MAX_KEY_FILE_BYTES);
            // The index is SQLite and holds no keys; reading it would be slow, not safer. Its
            // -wal and -shm files must not even be opened: closing any descriptor of a file
            // drops every POSIX lock this process holds on it, so a reload (which runs this
            // inside the server) would silently undo SQLite's own locks (seen in tests/reload.rs:
            // acknowledged submissions that readers could no longer see).
            let sqlite = entry
                .file_name()
                .to_string_lossy()
                .starts_with(crate::store::DB_FILE);
            if !small_file || sqlite {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_default();
            if let Some(line) = find_secret_key(&bytes) {
                return Err(PreflightError::SecretKeyNearby { path, line });
            }
        }
    }
    Ok(())
}

/// What `check-config` learned about the data directory.
#[derive(Debug, PartialEq, Eq)]
pub struct DataDirState {
    pub exists: bool,
    pub free_mib: u64,
    pub floor_mib: u64,
}

impl std::fmt::Display for DataDirState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let created = if self.exists {
            "exists"
        } else {
            "will be created at start"
        };
        write!(
            f,
            "{created}; {} MiB free, floor {} MiB",
            self.free_mib, self.floor_mib
        )
    }
}

/// Can the server use its data directory, and how much room is there? Creates nothing.
pub fn check_data_dir(config: &Config) -> Result<DataDirState, PreflightError> {
    let dir = &config.data_dir;
    let existing = if dir.is_dir() {
        dir.as_path()
    } else if dir.exists() {
        return Err(PreflightError::DataDirNotADirectory(dir.clone()));
    } else {
        // The server creates it at start; its nearest existing parent must allow that.
        dir.ancestors()
            .skip(1)
            .find(|a| a.is_dir())
            .unwrap_or(Path::new("."))
    };
    let inspect = |source| PreflightError::Inspect {
        path: existing.to_owned(),
        source,
    };
    let meta = std::fs::metadata(existing).map_err(inspect)?;
    if meta.permissions().readonly() {
        return Err(PreflightError::ReadOnly(existing.to_owned()));
    }
    let free_mib = free_bytes(existing).map_err(inspect)? >> 20;
    let floor_mib = config.limits.min_free_disk_mb;
    if free_mib <= floor_mib {
        return Err(PreflightError::LowSpace {
            free_mib,
            floor_mib,
        });
    }
    Ok(DataDirState {
        exists: dir.is_dir(),
        free_mib,
        floor_mib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    fn setup() -> (tempfile::TempDir, Config) {
        let root = tempfile::tempdir().unwrap();
        let keys_dir = root.path().join("keys");
        std::fs::create_dir(&keys_dir).unwrap();
        std::fs::write(keys_dir.join("recipients.txt"), format!("{RECIPIENT}\n")).unwrap();
        let config = Config {
            keys_file: keys_dir.join("recipients.txt"),
            data_dir: root.path().join("data"),
            ..Config::default()
        };
        (root, config)
    }

    fn secret_key() -> String {
        use age::secrecy::ExposeSecret;
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_string()
    }

    #[test]
    fn clean_setup_passes() {
        let (_root, config) = setup();
        assert_eq!(preflight(&config).unwrap().len(), 1);
    }

    #[test]
    fn a_secret_key_beside_the_recipients_is_refused() {
        let (_root, config) = setup();
        let stray = config.keys_file.with_file_name("staff-identity.txt");
        std::fs::write(&stray, format!("# my key\n{}\n", secret_key())).unwrap();
        match preflight(&config) {
            Err(PreflightError::SecretKeyNearby { path, line }) => {
                assert_eq!((path, line), (stray, 2));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_secret_key_in_the_data_directory_is_refused() {
        let (_root, config) = setup();
        std::fs::create_dir(&config.data_dir).unwrap();
        let stray = config.data_dir.join("key.txt");
        std::fs::write(&stray, secret_key().to_lowercase()).unwrap();
        assert!(matches!(
            preflight(&config),
            Err(PreflightError::SecretKeyNearby { line: 1, .. })
        ));
    }

    #[test]
    fn a_secret_key_in_the_recipients_file_itself_is_refused() {
        let (_root, config) = setup();
        std::fs::write(
            &config.keys_file,
            format!("{RECIPIENT}\n{}\n", secret_key()),
        )
        .unwrap();
        assert!(matches!(
            preflight(&config),
            Err(PreflightError::Keys(KeysError::SecretKey { line: 2, .. }))
        ));
    }

    #[test]
    fn data_dir_checks_create_nothing_and_say_what_is_wrong() {
        let (root, mut config) = setup();
        let state = check_data_dir(&config).unwrap();
        assert!(!state.exists);
        assert!(!config.data_dir.exists(), "check-config creates nothing");

        std::fs::write(&config.data_dir, b"not a folder").unwrap();
        assert!(matches!(
            check_data_dir(&config),
            Err(PreflightError::DataDirNotADirectory(_))
        ));
        std::fs::remove_file(&config.data_dir).unwrap();

        config.limits.min_free_disk_mb = u64::MAX >> 21;
        assert!(matches!(
            check_data_dir(&config),
            Err(PreflightError::LowSpace { .. })
        ));
        config.limits.min_free_disk_mb = 0;

        let locked = root.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        config.data_dir = locked.join("data");
        assert!(matches!(
            check_data_dir(&config),
            Err(PreflightError::ReadOnly(_))
        ));
    }
}
