//! Staff identities: standard age identity files, passphrase-protected (scrypt) by default.
//!
//! The file `sealdesk keygen` writes is exactly what `age -d -i FILE` accepts (an armored age
//! file, encrypted with a passphrase, holding an `AGE-SECRET-KEY-` line), so staff never depend
//! on Sealdrop to open what the server stores. Loading accepts the same three kinds `age -i`
//! does without SSH: passphrase-protected identity files, plain identity files, and plugin
//! identities (`AGE-PLUGIN-...`, e.g. a hardware key) whose `age-plugin-NAME` binary is installed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::cli_common::UiCallbacks;
use age::plugin::IdentityPluginV1;
use age::secrecy::{ExposeSecret, SecretString};
use age::{x25519, DecryptError, Decryptor};
use sealdrop_core::durable::NewFile;
use zeroize::Zeroizing;

/// Largest identity file read (age's own limit is 16 MiB; real ones are a few hundred bytes).
const MAX_IDENTITY_FILE: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{path} already exists; choose another file name (an identity is never overwritten)")]
    Exists { path: PathBuf },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("encryption failed: {0}")]
    Encrypt(String),
    #[error(
        "cannot read the staff key {path}. Check the path (give another with --identity FILE)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is too large to be a staff key file; check --identity")]
    TooLarge { path: PathBuf },
    #[error("{path} is an encrypted age file but not a passphrase-protected key; give the staff key file made by `sealdesk keygen`")]
    NotAKeyFile { path: PathBuf },
    #[error("could not read the passphrase for {path}: {reason}. Type it in a terminal, or set SEALDESK_PASSPHRASE for scripts")]
    Passphrase { path: PathBuf, reason: String },
    #[error("wrong passphrase for the staff key {path}; try again")]
    WrongPassphrase { path: PathBuf },
    #[error("cannot open the staff key {path}: {reason}")]
    Unlock { path: PathBuf, reason: String },
    #[error("{path} line {line} is not an age identity (expected AGE-SECRET-KEY-... or AGE-PLUGIN-...); check --identity")]
    NotAnIdentity { path: PathBuf, line: usize },
    #[error("{path} holds no identity; check --identity")]
    NoIdentity { path: PathBuf },
    #[error("the staff key {path} needs the program `{binary}`, which is not installed on this computer. Install it (see the staff guide), then try again")]
    MissingPlugin { path: PathBuf, binary: String },
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
    let exists = || IdentityError::Exists {
        path: path.to_owned(),
    };
    // Checked first, to refuse before the slow passphrase encryption; the commit checks again.
    if path.symlink_metadata().is_ok() {
        return Err(exists());
    }
    let mut file = NewFile::create(path).map_err(write_err)?;
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
    file.commit().map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => exists(),
        _ => write_err(e),
    })?;
    Ok(recipient)
}

/// The identities that open submissions, loaded once per command.
pub struct Keyring {
    native: Vec<x25519::Identity>,
    plugins: Vec<IdentityPluginV1<UiCallbacks>>,
}

impl Keyring {
    /// A keyring of native identities (for tests and tools that already hold them).
    pub fn from_native(native: Vec<x25519::Identity>) -> Keyring {
        Keyring {
            native,
            plugins: Vec::new(),
        }
    }

    /// Start decrypting an age file.
    pub fn decrypt<R: std::io::BufRead>(
        &self,
        input: R,
    ) -> Result<age::stream::StreamReader<R>, DecryptError> {
        let identities = self
            .native
            .iter()
            .map(|i| i as &dyn age::Identity)
            .chain(self.plugins.iter().map(|p| p as &dyn age::Identity));
        Decryptor::new_buffered(input)?.decrypt(identities)
    }

    /// How many threads may decrypt at once: plugins (hardware keys) may talk to the user, so
    /// they get one; native keys get every core.
    pub fn threads(&self) -> usize {
        if self.plugins.is_empty() {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            1
        }
    }
}

/// Load the staff identity file at `path`. `passphrase` is called only if the file is
/// passphrase-protected, so staff are asked at most once per command.
pub fn load(
    path: &Path,
    passphrase: impl FnOnce() -> Result<SecretString, String>,
) -> Result<Keyring, IdentityError> {
    let read_err = |source| IdentityError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_IDENTITY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_IDENTITY_FILE {
        return Err(IdentityError::TooLarge {
            path: path.to_owned(),
        });
    }
    // An age file (armored or binary) is an encrypted identity; anything else must be a plain
    // identity file.
    let text = match Decryptor::new(ArmoredReader::new(&bytes[..])) {
        Ok(decryptor) if decryptor.is_scrypt() => {
            let secret = passphrase().map_err(|reason| IdentityError::Passphrase {
                path: path.to_owned(),
                reason,
            })?;
            let identity = age::scrypt::Identity::new(secret);
            let mut reader = decryptor
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .map_err(|e| match e {
                    DecryptError::DecryptionFailed | DecryptError::KeyDecryptionFailed => {
                        IdentityError::WrongPassphrase {
                            path: path.to_owned(),
                        }
                    }
                    other => IdentityError::Unlock {
                        path: path.to_owned(),
                        reason: other.to_string(),
                    },
                })?;
            let mut plain = Zeroizing::new(Vec::with_capacity(bytes.len()));
            reader
                .read_to_end(&mut plain)
                .map_err(|e| IdentityError::Unlock {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
            plain
        }
        Ok(_) => {
            return Err(IdentityError::NotAKeyFile {
                path: path.to_owned(),
            })
        }
        Err(_) => bytes,
    };
    parse_identities(path, &text)
}

fn parse_identities(path: &Path, bytes: &[u8]) -> Result<Keyring, IdentityError> {
    let not_identity = |line| IdentityError::NotAnIdentity {
        path: path.to_owned(),
        line,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| not_identity(1))?;
    let mut native = Vec::new();
    let mut plugin_ids: Vec<age::plugin::Identity> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Ok(identity) = line.parse::<x25519::Identity>() {
            native.push(identity);
        } else if let Ok(identity) = line.parse::<age::plugin::Identity>() {
            plugin_ids.push(identity);
        } else {
            // The line number only: never echo a line that may hold part of a secret.
            return Err(not_identity(index + 1));
        }
    }
    let mut plugins = Vec::new();
    let mut names: Vec<&str> = plugin_ids.iter().map(|i| i.plugin()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let plugin =
            IdentityPluginV1::new(name, &plugin_ids, UiCallbacks).map_err(|e| match e {
                DecryptError::MissingPlugin { binary_name } => IdentityError::MissingPlugin {
                    path: path.to_owned(),
                    binary: binary_name,
                },
                other => IdentityError::Unlock {
                    path: path.to_owned(),
                    reason: other.to_string(),
                },
            })?;
        plugins.push(plugin);
    }
    if native.is_empty() && plugins.is_empty() {
        return Err(IdentityError::NoIdentity {
            path: path.to_owned(),
        });
    }
    Ok(Keyring { native, plugins })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_to(recipient: &x25519::Recipient, plain: &[u8]) -> Vec<u8> {
        let enc =
            age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
                .unwrap();
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap();
        out
    }

    fn open(keyring: &Keyring, ciphertext: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        keyring
            .decrypt(ciphertext)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn loads_a_plain_identity_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("id.txt");
        let recipient = generate(&path, None).unwrap();
        let keyring = load(&path, || panic!("a plain file needs no passphrase")).unwrap();
        let sealed = seal_to(&recipient.parse().unwrap(), b"hello");
        assert_eq!(open(&keyring, &sealed), b"hello");
    }

    #[test]
    fn loads_a_passphrase_protected_file_and_names_a_wrong_passphrase() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("id.age");
        let pass = "correct horse battery staple";
        let recipient = generate(&path, Some(SecretString::from(pass.to_owned()))).unwrap();
        let err = load(&path, || Ok(SecretString::from("wrong".to_owned())))
            .err()
            .unwrap();
        assert!(
            matches!(err, IdentityError::WrongPassphrase { .. }),
            "{err}"
        );
        let err = load(&path, || Err("no terminal".into())).err().unwrap();
        assert!(err.to_string().contains("SEALDESK_PASSPHRASE"), "{err}");
        let keyring = load(&path, || Ok(SecretString::from(pass.to_owned()))).unwrap();
        let sealed = seal_to(&recipient.parse().unwrap(), b"secret");
        assert_eq!(open(&keyring, &sealed), b"secret");
    }

    #[test]
    fn refuses_junk_without_echoing_it_and_names_a_missing_plugin() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("junk");
        std::fs::write(&path, "# comment\nAGE-SECRET-KEY-NOTREALLY\n").unwrap();
        let err = load(&path, || unreachable!()).err().unwrap();
        assert!(matches!(err, IdentityError::NotAnIdentity { line: 2, .. }));
        assert!(!err.to_string().contains("NOTREALLY"));

        // A syntactically valid plugin identity for a plugin that is surely not installed.
        let plugin_line = bech32_plugin_identity("sealdesktestnone");
        std::fs::write(&path, format!("{plugin_line}\n")).unwrap();
        let err = load(&path, || unreachable!()).err().unwrap();
        match err {
            IdentityError::MissingPlugin { binary, .. } => {
                assert_eq!(binary, "age-plugin-sealdesktestnone")
            }
            other => panic!("expected a missing plugin, got {other}"),
        }
    }

    /// `AGE-PLUGIN-NAME-1...` with an empty payload, as age's own `default_for_plugin` writes.
    fn bech32_plugin_identity(name: &str) -> String {
        age::plugin::Identity::default_for_plugin(name).to_string()
    }
}
