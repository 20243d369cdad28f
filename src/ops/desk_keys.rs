//! The pinned desk keys: the desks whose outboxes `sealdrop import-outbox` accepts.
//!
//! A text file (`desk_keys_file`), one desk fingerprint per line as `sealdesk init` prints it
//! (64 hex digits, in groups of 4 or not; [`sealdrop_bundle::signing::parse_fingerprint`]),
//! `#` comments and blank lines allowed. The operator writes it from a fingerprint taken over a
//! channel an attacker cannot alter, never from an outbox. Anything else on a line is refused
//! with the line's number, and an age secret key anywhere in the file is refused outright, as
//! the recipients file does.

use std::io;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use sealdrop_bundle::signing::parse_fingerprint;
use sealdrop_bundle::BundleError;
use sealdrop_core::keys::find_secret_key;

#[derive(Debug, thiserror::Error)]
pub enum DeskKeysError {
    #[error("cannot read the pinned desk keys file {path}. It must hold the fingerprint `sealdesk init` printed on the desk, one per line; set `desk_keys_file` (or SEALDROP_DESK_KEYS_FILE) if it lives elsewhere")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} line {line} holds an age SECRET key. Delete this file from the server now, treat that staff identity as compromised (make a new one with `sealdesk keygen`), and put only desk fingerprints here")]
    SecretKey { path: PathBuf, line: usize },
    #[error("{path} line {line} is not a desk fingerprint (expected one fingerprint of 64 hex digits per line, as `sealdesk init` prints it, or a `#` comment)")]
    Malformed {
        path: PathBuf,
        line: usize,
        source: BundleError,
    },
    #[error(
        "{path} line {line} is not UTF-8 text; write the fingerprint as `sealdesk init` prints it"
    )]
    NotText { path: PathBuf, line: usize },
    #[error("{path} is larger than {max} bytes; a desk-keys file holds one fingerprint a line, so check that it names the right file")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{path} pins no desk key, so no outbox can be imported. Add the fingerprint `sealdesk init` printed on the desk, taken over a channel you trust (in person, read aloud)")]
    Empty { path: PathBuf },
}

/// Most bytes a desk-keys file may hold: about a thousand fingerprints with comments.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Read and check the pinned desk keys file at `path`.
pub fn load(path: &Path) -> Result<Vec<VerifyingKey>, DeskKeysError> {
    use std::io::Read;
    let read_err = |source| DeskKeysError::Read {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DeskKeysError::TooLarge {
            path: path.to_owned(),
            max: MAX_FILE_BYTES,
        });
    }
    parse(path, &bytes)
}

/// Parse the file's bytes (`path` only names it in errors). Duplicates are kept once.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<VerifyingKey>, DeskKeysError> {
    // First, before anything else can fail: a secret key must never pass unnoticed.
    if let Some(line) = find_secret_key(bytes) {
        return Err(DeskKeysError::SecretKey {
            path: path.to_owned(),
            line,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| DeskKeysError::NotText {
        path: path.to_owned(),
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
    })?;
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = parse_fingerprint(line).map_err(|source| DeskKeysError::Malformed {
            path: path.to_owned(),
            line: index + 1,
            source,
        })?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err(DeskKeysError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_bundle::signing::format_fingerprint;

    fn key(n: u8) -> VerifyingKey {
        ed25519_dalek::SigningKey::from_bytes(&[n; 32]).verifying_key()
    }

    #[test]
    fn fingerprints_comments_and_blank_lines() {
        let text = format!(
            "# the newsroom desk\n\n{}\n  {}  \n{}\n",
            format_fingerprint(&key(1)),
            hex::encode(key(2).as_bytes()),
            format_fingerprint(&key(1)),
        );
        let keys = parse(Path::new("d.txt"), text.as_bytes()).unwrap();
        assert_eq!(keys, [key(1), key(2)]);
    }

    #[test]
    fn refuses_secret_keys_malformed_lines_and_empty_files() {
        let p = Path::new("d.txt");
        let text = format!("{}\n# AGE-SECRET-KEY-1XYZ\n", format_fingerprint(&key(1)));
        let err = parse(p, text.as_bytes()).unwrap_err();
        assert!(
            matches!(err, DeskKeysError::SecretKey { line: 2, .. }),
            "{err}"
        );
        let text = format!("{}\n# ok\nabcd 1234\n", format_fingerprint(&key(1)));
        let err = parse(p, text.as_bytes()).unwrap_err();
        assert!(
            matches!(err, DeskKeysError::Malformed { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = parse(p, b"# nothing yet\n\n").unwrap_err();
        assert!(matches!(err, DeskKeysError::Empty { .. }), "{err}");
    }

    #[test]
    fn an_oversized_file_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk-keys.txt");
        std::fs::write(&path, "# padding\n".repeat(10_000)).unwrap();
        assert!(matches!(load(&path), Err(DeskKeysError::TooLarge { .. })));
    }
}
