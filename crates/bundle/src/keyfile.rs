//! An Ed25519 secret key in a small text file, private to its owner (mode 0600): the one format
//! behind the server's signing key (`signing`) and the desk's outbox key (`outbox::desk_key`).
//!
//! Two lines: a first line naming what the key is for (with its version), then the 32-byte
//! secret (RFC 8032 seed) as 64 lowercase hex digits. The secret only ever sits in zeroized
//! buffers.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

use sealdrop_core::durable::write_new;

/// Why a key file could not be read; each owner turns it into its own error and message.
#[derive(Debug)]
pub(crate) enum KeyFileError {
    Read(io::Error),
    /// Other users may read it: the mode's permission bits.
    Exposed(u32),
    /// The first line is not the expected one.
    BadFirstLine,
    /// The second line is not 64 lowercase hex digits.
    BadSecret,
}

/// The file's text for `key`, kept in a zeroized buffer.
fn encode(first_line: &str, key: &SigningKey) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{first_line}\n{}\n",
        Zeroizing::new(hex::encode(key.as_bytes())).as_str()
    ))
}

/// Write `key` to the new file `path` durably, mode 0600. An existing file is never replaced:
/// that fails with [`io::ErrorKind::AlreadyExists`].
pub(crate) fn save_new(path: &Path, first_line: &str, key: &SigningKey) -> io::Result<()> {
    write_new(path, encode(first_line, key).as_bytes())
}

/// Read a key file, refusing it if other users can read it or it is not exactly the format.
pub(crate) fn load(path: &Path, first_line: &str) -> Result<SigningKey, KeyFileError> {
    let file = fs::File::open(path).map_err(KeyFileError::Read)?;
    let mode = file
        .metadata()
        .map_err(KeyFileError::Read)?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Exposed(mode & 0o777));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(128));
    file.take(4096)
        .read_to_end(&mut bytes)
        .map_err(KeyFileError::Read)?;
    let rest = bytes
        .strip_prefix(first_line.as_bytes())
        .and_then(|r| r.strip_prefix(b"\n"))
        .ok_or(KeyFileError::BadFirstLine)?;
    let hex_part = rest.strip_suffix(b"\n").unwrap_or(rest);
    if hex_part.len() != 64
        || !hex_part
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(KeyFileError::BadSecret);
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_part, &mut secret[..]).map_err(|_| KeyFileError::BadSecret)?;
    Ok(SigningKey::from_bytes(&secret))
}
