//! The group's recipients: public age keys, one per line, `#` comments.
//!
//! The server never needs a key that opens submissions, so a file that holds one is refused
//! outright: finding one means a staff key has leaked onto the server and must be replaced.

use std::path::{Path, PathBuf};

use age::x25519;

/// How every age secret key begins (bech32 may be written in either case).
pub const SECRET_KEY_PREFIX: &str = "AGE-SECRET-KEY-";

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read the recipients file {path}. It must hold one age public key (age1...) per line; `sealdesk keygen` prints one")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line} holds an age SECRET key. Delete this file from the server now, make a new staff identity with `sealdesk keygen` (the old one must be treated as compromised), and put only its public `age1...` line here")]
    SecretKey { path: PathBuf, line: usize },
    #[error("{path} line {line} is not an age public key (expected one `age1...` key per line, or a `#` comment): {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path} holds no recipients. Add at least one staff public key (age1...), one per line; `sealdesk keygen` prints one")]
    Empty { path: PathBuf },
}

/// The recipients every submission is sealed to.
#[derive(Clone)]
pub struct Recipients {
    keys: Vec<x25519::Recipient>,
}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recipients({} keys)", self.keys.len())
    }
}

impl Recipients {
    /// Read and check a recipients file.
    pub fn load(path: &Path) -> Result<Recipients, KeysError> {
        let text = std::fs::read(path).map_err(|source| KeysError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parse recipients from the bytes of a file named `path` (for messages only).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Recipients, KeysError> {
        // Look for secret keys before anything else, in the raw bytes, so that no other error
        // (bad encoding, a malformed line before it) can hide one.
        if let Some(line) = find_secret_key(bytes) {
            return Err(KeysError::SecretKey {
                path: path.to_owned(),
                line,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| KeysError::Malformed {
            path: path.to_owned(),
            line: 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            reason: "not valid UTF-8 text".into(),
        })?;
        let mut keys = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = line
                .parse::<x25519::Recipient>()
                .map_err(|reason| KeysError::Malformed {
                    path: path.to_owned(),
                    line: index + 1,
                    reason: reason.to_string(),
                })?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(KeysError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Recipients { keys })
    }

    /// The recipients, as the age crate wants them.
    pub fn iter(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.keys.iter().map(|k| k as &dyn age::Recipient)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The 1-based line of the first age secret key in `bytes`, in any letter case.
pub fn find_secret_key(bytes: &[u8]) -> Option<usize> {
    let needle = SECRET_KEY_PREFIX.as_bytes();
    bytes
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|at| 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Recipients, KeysError> {
        Recipients::parse(Path::new("keys/recipients.txt"), text.as_bytes())
    }

    #[test]
    fn reads_several_recipients_and_skips_comments() {
        let a = x25519::Identity::generate().to_public();
        let b = x25519::Identity::generate().to_public();
        let r = parse(&format!("# staff\n\n{a}\n  {b}  # trailing spaces\n")).err();
        // A trailing comment on a key line is not allowed: one key per line, nothing else.
        assert!(matches!(r, Some(KeysError::Malformed { line: 4, .. })));
        let r = parse(&format!("# staff\n\n{a}\n  {b}  \n")).unwrap();
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn refuses_secret_keys_in_any_case_and_names_the_line() {
        let id = x25519::Identity::generate();
        use age::secrecy::ExposeSecret;
        let secret = id.to_string().expose_secret().to_owned();
        let err = parse(&format!("{}\n# ok\n{secret}\n", id.to_public())).unwrap_err();
        assert!(matches!(err, KeysError::SecretKey { line: 3, .. }), "{err}");
        let err = parse(&format!("# {}\n", secret.to_lowercase())).unwrap_err();
        assert!(matches!(err, KeysError::SecretKey { line: 1, .. }), "{err}");
    }

    #[test]
    fn the_shipped_template_only_needs_a_key() {
        let template = include_str!("../../../keys/recipients.txt");
        // As shipped: no recipient yet, which is the error that says what to add.
        assert!(matches!(parse(template), Err(KeysError::Empty { .. })));
        let key = x25519::Identity::generate().to_public();
        let filled = format!("{template}{key}\n");
        assert_eq!(parse(&filled).unwrap().len(), 1);
    }

    #[test]
    fn refuses_empty_and_malformed() {
        assert!(matches!(
            parse("# nobody\n\n"),
            Err(KeysError::Empty { .. })
        ));
        let err = parse("# one\nage1notakey\n").unwrap_err();
        assert!(matches!(err, KeysError::Malformed { line: 2, .. }), "{err}");
        assert!(err.to_string().contains("line 2"));
    }
}
