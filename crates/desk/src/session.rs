//! Which workspace and which staff key a command uses, and how the key is unlocked.
//!
//! A flag beats a setting in the environment, which beats the default, so that one command can
//! point elsewhere without changing the shell.

use std::ffi::OsString;
use std::path::PathBuf;

use age::secrecy::SecretString;

use super::identity::{self, Keyring};
use super::prompt;
use super::workspace::Workspace;
use super::DeskError;

/// The workspace folder, when neither --workspace nor SEALDESK_WORKSPACE names one.
pub const DEFAULT_WORKSPACE: &str = "sealdesk-workspace";
pub const WORKSPACE_ENV: &str = "SEALDESK_WORKSPACE";
pub const IDENTITY_ENV: &str = "SEALDESK_IDENTITY";

/// Where one command works, and with which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub workspace: PathBuf,
    /// The staff key given for this command; `None` means the one `init` recorded.
    pub identity: Option<PathBuf>,
}

impl Session {
    /// Resolve the flags against the settings `env` returns (`std::env::var_os` in the tool).
    pub fn new(
        workspace: Option<PathBuf>,
        identity: Option<PathBuf>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Session {
        Session {
            workspace: workspace
                .or_else(|| env(WORKSPACE_ENV).map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_WORKSPACE)),
            identity: identity.or_else(|| env(IDENTITY_ENV).map(PathBuf::from)),
        }
    }

    pub fn open(&self) -> Result<Workspace, DeskError> {
        Workspace::open(&self.workspace)
    }

    /// The staff key file: the one given for this command, else the one `init` recorded.
    pub fn identity_path(&self, ws: &Workspace) -> Result<PathBuf, DeskError> {
        match &self.identity {
            Some(path) => Ok(path.clone()),
            None => Ok(ws.settings()?.identity),
        }
    }

    /// The staff key, unlocked. `ask` gets the prompt to show and is called at most once, and
    /// only if the key has a passphrase that SEALDESK_PASSPHRASE does not give.
    pub fn keyring(
        &self,
        ws: &Workspace,
        passphrase_env: Option<String>,
        ask: impl FnOnce(&str) -> std::io::Result<SecretString>,
    ) -> Result<Keyring, DeskError> {
        let path = self.identity_path(ws)?;
        let shown = prompt::unlock(&path);
        Ok(identity::load(&path, || {
            prompt::staff_passphrase(passphrase_env, || ask(&shown)).map_err(|e| e.to_string())
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn a_flag_beats_the_environment_which_beats_the_default() {
        let none = Session::new(None, None, env(&[]));
        assert_eq!(none.workspace, PathBuf::from("sealdesk-workspace"));
        assert_eq!(none.identity, None);

        let set = &[
            ("SEALDESK_WORKSPACE", "/ws-env"),
            ("SEALDESK_IDENTITY", "/key-env"),
        ];
        let from_env = Session::new(None, None, env(set));
        assert_eq!(from_env.workspace, PathBuf::from("/ws-env"));
        assert_eq!(from_env.identity, Some(PathBuf::from("/key-env")));

        let flags = Session::new(Some("/ws".into()), Some("/key".into()), env(set));
        assert_eq!(flags.workspace, PathBuf::from("/ws"));
        assert_eq!(flags.identity, Some(PathBuf::from("/key")));
    }

    #[test]
    fn the_recorded_key_is_used_unless_one_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("staff.age");
        identity::generate(&key, None).unwrap();
        let ws_dir = dir.path().join("ws");
        crate::workspace::Workspace::create(&ws_dir, &test_settings(&key)).unwrap();

        let recorded = Session::new(Some(ws_dir.clone()), None, env(&[]));
        let ws = recorded.open().unwrap();
        assert_eq!(recorded.identity_path(&ws).unwrap(), key);
        // A key without a passphrase never asks.
        recorded
            .keyring(&ws, None, |_| panic!("asked for a passphrase"))
            .unwrap();

        let given = Session::new(Some(ws_dir), Some("/other.age".into()), env(&[]));
        assert_eq!(
            given.identity_path(&ws).unwrap(),
            PathBuf::from("/other.age")
        );
    }

    fn test_settings(identity: &std::path::Path) -> crate::workspace::Settings {
        let recipient = identity::generate(&identity.with_extension("other"), None).unwrap();
        crate::workspace::Settings {
            server_key: ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key(),
            identity: identity.to_owned(),
            recipients: format!("{recipient}\n"),
        }
    }
}
