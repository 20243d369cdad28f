//! The desk's outbox key: an Ed25519 key, made once at `sealdesk init`, that signs outboxes so
//! the server can tell they came from this desk unaltered. The operator pins its fingerprint on
//! the server (the same fingerprint format as the server's own key, [`crate::signing`]).
//!
//! It is NOT an age key and opens nothing. Whoever steals it can make outboxes the server
//! accepts (store replies, purge acknowledged submissions), so it is private (mode 0600) and
//! stays on the air-gapped machine.

use std::io;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

use crate::keyfile::{self, KeyFileError};

/// The key file's usual name inside the desk's workspace.
pub const KEY_FILE: &str = "outbox-key";
/// The key file's first line.
const FIRST_LINE: &str = "sealdesk-outbox-key-v1";

#[derive(Debug, thiserror::Error)]
pub enum DeskKeyError {
    #[error("cannot read the desk's outbox key {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot create the desk's outbox key {path}")]
    Create { path: PathBuf, source: io::Error },
    #[error("{path} already exists; the desk's outbox key is made only once (a new key must be pinned on the server again)")]
    Exists { path: PathBuf },
    #[error("{path} is not a desk outbox key ({problem}). Restore it from a backup; only if it is lost for good, make a new one and have the operator pin its fingerprint instead of the old one")]
    Malformed {
        path: PathBuf,
        problem: &'static str,
    },
    #[error("{path} (the desk's outbox key) can be read by other users (mode {mode:o}); anyone who copies it can send replies and purges to the server. Run `chmod 600 {path}`")]
    Exposed { path: PathBuf, mode: u32 },
}

/// A new random key.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// Save `key` to the new file `path` (mode 0600, durable); an existing file is never replaced.
pub fn save(path: &Path, key: &SigningKey) -> Result<(), DeskKeyError> {
    keyfile::save_new(path, FIRST_LINE, key).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            DeskKeyError::Exists {
                path: path.to_owned(),
            }
        } else {
            DeskKeyError::Create {
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// Make and save a new key at `path` (for `sealdesk init`); refuses if one exists.
pub fn create(path: &Path) -> Result<SigningKey, DeskKeyError> {
    let key = generate();
    save(path, &key)?;
    Ok(key)
}

/// Read the key file at `path`.
pub fn load(path: &Path) -> Result<SigningKey, DeskKeyError> {
    let malformed = |problem| DeskKeyError::Malformed {
        path: path.to_owned(),
        problem,
    };
    keyfile::load(path, FIRST_LINE).map_err(|e| match e {
        KeyFileError::Read(source) => DeskKeyError::Read {
            path: path.to_owned(),
            source,
        },
        KeyFileError::Exposed(mode) => DeskKeyError::Exposed {
            path: path.to_owned(),
            mode,
        },
        KeyFileError::BadFirstLine => malformed("its first line is not `sealdesk-outbox-key-v1`"),
        KeyFileError::BadSecret => malformed("its second line is not 64 lowercase hex digits"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{format_fingerprint, parse_fingerprint};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_private_and_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let key = create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load(&path).unwrap().to_bytes(), key.to_bytes());
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("sealdesk-outbox-key-v1\n"));
        assert_eq!(sealdrop_core::keys::find_secret_key(text.as_bytes()), None);
        // Never replaced.
        let err = create(&path).unwrap_err();
        assert!(matches!(err, DeskKeyError::Exists { .. }), "{err}");
        assert_eq!(load(&path).unwrap().to_bytes(), key.to_bytes());
        // The fingerprint the operator pins, in the server's format.
        let fp = format_fingerprint(&key.verifying_key());
        assert_eq!(parse_fingerprint(&fp).unwrap(), key.verifying_key());
    }

    #[test]
    fn refuses_exposed_malformed_or_server_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = load(&path).unwrap_err();
        assert!(
            matches!(err, DeskKeyError::Exposed { mode: 0o640, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        // The server's key file is not a desk key, even though the shape is the same.
        fs::write(
            &path,
            format!("sealdrop-signing-key-v1\n{}\n", "a".repeat(64)),
        )
        .unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, DeskKeyError::Malformed { .. }), "{err}");
        fs::write(&path, "sealdesk-outbox-key-v1\nshort\n").unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, DeskKeyError::Malformed { .. }), "{err}");
        let err = load(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, DeskKeyError::Read { .. }), "{err}");
    }
}
