//! The server's signing key: an Ed25519 key in `DATA_DIR/signing-key` that signs export
//! bundles, so staff can tell a bundle really came from their server unaltered.
//!
//! It is NOT an age key and cannot open submissions: holding it on the server does not break
//! "the server never holds a key that opens submissions". Whoever steals it can forge bundles,
//! so it is private to the server's user (mode 0600), like any secret.

use std::io;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::keyfile::{self, KeyFileError};
use super::read::BundleError;

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "signing-key";
/// The key file's first line.
const FIRST_LINE: &str = "sealdrop-signing-key-v1";

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("cannot read the server's signing key {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot create the server's signing key {path}")]
    Create { path: PathBuf, source: io::Error },
    #[error("{path} is not a Sealdrop signing key ({problem}). Restore it from a backup. Only if it is lost for good, move it away so a new one is made, and give staff the new `sealdrop fingerprint`")]
    Malformed {
        path: PathBuf,
        problem: &'static str,
    },
    #[error("{path} (the server's signing key) can be read by other users (mode {mode:o}); anyone who copies it can forge export bundles. Run `chmod 600 {path}`")]
    Exposed { path: PathBuf, mode: u32 },
}

/// Load the server's signing key from `data_dir`, creating it on first use.
///
/// The data directory must exist. Two processes starting at once end up with the same key:
/// the new key is written aside and moved into place only if no key appeared meanwhile.
pub fn load_or_create(data_dir: &Path) -> Result<SigningKey, SigningKeyError> {
    let path = data_dir.join(KEY_FILE);
    match load(&path) {
        Err(SigningKeyError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let create_err = |source| SigningKeyError::Create {
        path: path.clone(),
        source,
    };
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    // Never replacing a key file: if one appeared meanwhile, that one is kept.
    match keyfile::save_new(&path, FIRST_LINE, &key) {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => load(&path),
        Err(e) => Err(create_err(e)),
    }
}

/// Read an existing key file.
pub fn load(path: &Path) -> Result<SigningKey, SigningKeyError> {
    let malformed = |problem| SigningKeyError::Malformed {
        path: path.to_owned(),
        problem,
    };
    keyfile::load(path, FIRST_LINE).map_err(|e| match e {
        KeyFileError::Read(source) => SigningKeyError::Read {
            path: path.to_owned(),
            source,
        },
        KeyFileError::Exposed(mode) => SigningKeyError::Exposed {
            path: path.to_owned(),
            mode,
        },
        KeyFileError::BadFirstLine => malformed("its first line is not `sealdrop-signing-key-v1`"),
        KeyFileError::BadSecret => malformed("its second line is not 64 lowercase hex digits"),
    })
}

/// The fingerprint staff pin: 64 hex digits in groups of 4 separated by spaces.
pub fn format_fingerprint(key: &VerifyingKey) -> String {
    let hex = hex::encode(key.as_bytes());
    let groups: Vec<&str> = (0..hex.len())
        .step_by(4)
        .map(|at| &hex[at..at + 4])
        .collect();
    groups.join(" ")
}

/// Parse a fingerprint as staff may type or paste it: 64 hex digits in either case; spaces,
/// line breaks and colons are ignored.
pub fn parse_fingerprint(text: &str) -> Result<VerifyingKey, BundleError> {
    let bad = |reason: String| BundleError::BadFingerprint { reason };
    let mut digits = String::with_capacity(64);
    for c in text.chars() {
        if c.is_whitespace() || c == ':' {
            continue;
        }
        if !c.is_ascii_hexdigit() {
            return Err(bad(format!("{c:?} is not a hex digit")));
        }
        if digits.len() == 64 {
            return Err(bad("it has more than 64 hex digits".into()));
        }
        digits.push(c.to_ascii_lowercase());
    }
    if digits.len() != 64 {
        return Err(bad(format!("it has {} hex digits, not 64", digits.len())));
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(&digits, &mut bytes).expect("64 hex digits");
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| bad("it is not a valid Ed25519 public key".into()))?;
    if key.is_weak() {
        return Err(bad("it is a weak Ed25519 key no server would use".into()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_then_loaded_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(again.to_bytes(), key.to_bytes());
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("sealdrop-signing-key-v1\n"));
        assert_eq!(text.lines().nth(1).unwrap().len(), 64);
        // Only the key file is left: no temp file.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // The server's scan for age secret keys must not take it for one.
        assert_eq!(sealdrop_core::keys::find_secret_key(text.as_bytes()), None);
    }

    #[test]
    fn racing_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| load_or_create(dir.path()).unwrap().to_bytes()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn refuses_exposed_or_malformed_key_files() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(err, SigningKeyError::Exposed { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "sealdrop-signing-key-v1\nnothex\n").unwrap();
        let err = load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, SigningKeyError::Malformed { .. }), "{err}");
        fs::write(&path, format!("AGE-SECRET-KEY-1\n{}\n", "a".repeat(64))).unwrap();
        let err = load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, SigningKeyError::Malformed { .. }), "{err}");
    }

    #[test]
    fn missing_data_dir_is_an_error_not_a_new_dir() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = load_or_create(&missing).unwrap_err();
        assert!(matches!(err, SigningKeyError::Create { .. }), "{err}");
        assert!(!missing.exists());
    }

    #[test]
    fn fingerprint_round_trip_and_leniency() {
        let key = SigningKey::from_bytes(&[5u8; 32]).verifying_key();
        let fp = format_fingerprint(&key);
        assert_eq!(fp.len(), 64 + 15);
        assert_eq!(fp.split(' ').count(), 16);
        assert!(fp.split(' ').all(|g| g.len() == 4));
        assert_eq!(parse_fingerprint(&fp).unwrap(), key);
        let colons = hex::encode(key.as_bytes())
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_fingerprint(&format!("  {colons}\n")).unwrap(), key);
    }

    #[test]
    fn fingerprint_refusals() {
        let key = SigningKey::from_bytes(&[5u8; 32]).verifying_key();
        let hex = hex::encode(key.as_bytes());
        for (text, reason) in [
            (&hex[..62], "62 hex digits"),
            (&format!("{hex}00")[..], "more than 64"),
            (&format!("{}g", &hex[..63])[..], "'g' is not a hex digit"),
            // The identity point: a valid encoding, but a weak key.
            (&format!("01{}", "0".repeat(62))[..], "weak Ed25519 key"),
        ] {
            let err = parse_fingerprint(text).unwrap_err();
            assert!(
                matches!(&err, BundleError::BadFingerprint { reason: r } if r.contains(reason)),
                "{text}: {err}"
            );
        }
    }
}
