//! Which workspace and which staff key a command uses, and how the key is unlocked.
//!
//! A flag beats a setting in the environment, which beats the default, so that one command can
//! point elsewhere without changing the shell.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;

use super::identity::{self, IdentityError, Keyring};
use super::prompt;
use super::workspace::{Workspace, DB_FILE};
use super::DeskError;

/// The folder name under the XDG data directory ($XDG_DATA_HOME, or ~/.local/share).
pub const DATA_DIR_NAME: &str = "sealdesk";
/// Where workspaces were made before they had a fixed place: relative to the current folder.
/// Still used when it holds a workspace and the fixed place does not, so that a desk set up
/// that way keeps working (and is told how to move).
pub const LEGACY_WORKSPACE: &str = "sealdesk-workspace";
pub const WORKSPACE_ENV: &str = "SEALDESK_WORKSPACE";
pub const IDENTITY_ENV: &str = "SEALDESK_IDENTITY";

/// Where one command works, and with which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub workspace: PathBuf,
    /// Why this workspace folder.
    pub origin: Origin,
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
        let identity = identity.or_else(|| env(IDENTITY_ENV).map(PathBuf::from));
        let (workspace, origin) = match (workspace, env(WORKSPACE_ENV)) {
            (Some(dir), _) => (dir, Origin::Flag),
            (None, Some(dir)) if !dir.is_empty() => (PathBuf::from(dir), Origin::Environment),
            _ => match default_workspace(&env) {
                Some(dir) if dir.join(DB_FILE).is_file() => (dir, Origin::Default),
                _ if Path::new(LEGACY_WORKSPACE).join(DB_FILE).is_file() => {
                    (PathBuf::from(LEGACY_WORKSPACE), Origin::Legacy)
                }
                Some(dir) => (dir, Origin::Default),
                None => (PathBuf::from(LEGACY_WORKSPACE), Origin::Legacy),
            },
        };
        Session {
            workspace,
            origin,
            identity,
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

    /// The staff key, unlocked (see [`unlock`]).
    pub fn keyring(
        &self,
        ws: &Workspace,
        passphrase_env: Option<String>,
        ask: impl FnMut(&str) -> std::io::Result<SecretString>,
    ) -> Result<Keyring, DeskError> {
        unlock(&self.identity_path(ws)?, passphrase_env, ask)
    }
}

/// Why a command uses the workspace it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// --workspace DIR.
    Flag,
    /// SEALDESK_WORKSPACE.
    Environment,
    /// The fixed place, [`default_workspace`].
    Default,
    /// ./sealdesk-workspace, as before workspaces had a fixed place.
    Legacy,
}

impl Origin {
    pub fn explain(self) -> &'static str {
        match self {
            Origin::Flag => "given with --workspace",
            Origin::Environment => "given by the SEALDESK_WORKSPACE setting",
            Origin::Default => "the default place",
            Origin::Legacy => "the folder sealdesk-workspace in the current folder, where older Sealdesk versions made workspaces",
        }
    }
}

/// The fixed default workspace: `$XDG_DATA_HOME/sealdesk` when that is an absolute path (as
/// the XDG base directory specification says), else `$HOME/.local/share/sealdesk`; `None`
/// when neither is set.
pub fn default_workspace(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let data = env("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            env("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local").join("share"))
        })?;
    Some(data.join(DATA_DIR_NAME))
}

/// The staff key at `path`, unlocked. `ask` gets the question to show; it is called only if
/// the key has a passphrase that SEALDESK_PASSPHRASE does not give, and again after a wrong
/// one, up to [`prompt::TRIES`] times (a passphrase from the environment is tried once).
pub fn unlock(
    path: &Path,
    passphrase_env: Option<String>,
    mut ask: impl FnMut(&str) -> std::io::Result<SecretString>,
) -> Result<Keyring, DeskError> {
    if let Some(p) = passphrase_env {
        return Ok(identity::load(path, || Ok(SecretString::from(p)))?);
    }
    let mut attempt = 1;
    loop {
        let question = if attempt == 1 {
            prompt::unlock(path)
        } else {
            prompt::unlock_again(path, attempt)
        };
        match identity::load(path, || ask(&question).map_err(|e| e.to_string())) {
            Err(IdentityError::WrongPassphrase { .. }) if attempt < prompt::TRIES => attempt += 1,
            other => return Ok(other?),
        }
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
        let none = Session::new(None, None, env(&[("HOME", "/home/staff")]));
        assert_eq!(
            none.workspace,
            PathBuf::from("/home/staff/.local/share/sealdesk")
        );
        assert_eq!(none.origin, Origin::Default);
        assert_eq!(none.identity, None);
        let xdg = Session::new(
            None,
            None,
            env(&[("HOME", "/home/staff"), ("XDG_DATA_HOME", "/data")]),
        );
        assert_eq!(xdg.workspace, PathBuf::from("/data/sealdesk"));
        // A relative XDG_DATA_HOME is ignored, as the specification says.
        let relative = Session::new(
            None,
            None,
            env(&[("HOME", "/home/staff"), ("XDG_DATA_HOME", "data")]),
        );
        assert_eq!(
            relative.workspace,
            PathBuf::from("/home/staff/.local/share/sealdesk")
        );

        let set = &[
            ("SEALDESK_WORKSPACE", "/ws-env"),
            ("SEALDESK_IDENTITY", "/key-env"),
        ];
        let from_env = Session::new(None, None, env(set));
        assert_eq!(from_env.workspace, PathBuf::from("/ws-env"));
        assert_eq!(from_env.origin, Origin::Environment);
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
