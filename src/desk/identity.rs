//! Staff identities: standard age identity files, passphrase-protected (scrypt) by default.
//!
//! The file `sealdesk keygen` writes is exactly what `age -d -i FILE` accepts (an armored age
//! file, encrypted with a passphrase, holding an `AGE-SECRET-KEY-` line), so staff never depend
//! on Sealdrop to open what the server stores.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use age::armor::{ArmoredWriter, Format};
use age::secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{path} already exists; choose another file name (an identity is never overwritten)")]
    Exists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

/// A new identity written to `path`; returns its public recipient (`age1...`).
///
/// With `passphrase`, the file is an armored age file sealed with it; without, a plain identity
/// file readable by anyone who can read the file.
pub fn generate(path: &Path, passphrase: Option<SecretString>) -> Result<String, IdentityError> {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let contents = Zeroizing::new(format!(
        "# Sealdrop staff identity. Keep it secret; never copy it to the server.\n\
         # public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    ));
    let write_err = |source| IdentityError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => IdentityError::Exists {
                path: path.to_owned(),
            },
            _ => write_err(e),
        })?;
    match passphrase {
        None => file.write_all(contents.as_bytes()).map_err(write_err)?,
        Some(passphrase) => {
            let armor =
                ArmoredWriter::wrap_output(&mut file, Format::AsciiArmor).map_err(write_err)?;
            let mut writer = age::Encryptor::with_user_passphrase(passphrase)
                .wrap_output(armor)
                .map_err(|e| IdentityError::Encrypt(e.to_string()))?;
            writer.write_all(contents.as_bytes()).map_err(write_err)?;
            writer
                .finish()
                .and_then(|armor| armor.finish())
                .map_err(write_err)?;
        }
    }
    file.sync_all().map_err(write_err)?;
    Ok(recipient)
}
