//! `sealdesk init`: a new workspace that trusts one server key and locks notes to the group.
//!
//! Everything is checked before the workspace is made, so a typo leaves nothing behind.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use sealdrop_bundle::signing::parse_fingerprint;
use sealdrop_core::keys::Recipients;

use super::conversation::group_includes;
use super::identity::Keyring;
use super::outbox;
use super::workspace::{Settings, Workspace};
use super::DeskError;
use sealdrop_bundle::outbox::desk_key;

/// What `init` set up.
#[derive(Debug)]
pub struct Initialised {
    /// The staff key, as an absolute path (the workspace is used from other folders too).
    pub identity: PathBuf,
    pub server_key: VerifyingKey,
    /// How many group keys notes are locked to.
    pub group_keys: usize,
    /// The desk's new outbox key, for the operator to pin on the server.
    pub desk_key: VerifyingKey,
    /// Whether the staff key can open what is locked to the group (notes, reply copies), or
    /// why that could not be checked (the key could not be unlocked).
    pub own_key_in_group: Result<bool, String>,
}

/// Create the workspace `dir`. `server_key` is the fingerprint given on the command line; if
/// there is none, `ask_fingerprint` is called for it, after the files check out. `unlock` opens
/// the staff key, to check that the group's keys include it (a warning, not a refusal).
/// The workspace gets its outbox signing key (`outbox-key`, mode 0600).
pub fn init(
    dir: &Path,
    identity: Option<&Path>,
    recipients: &Path,
    server_key: Option<String>,
    ask_fingerprint: impl FnOnce() -> std::io::Result<String>,
    unlock: impl FnOnce(&Path) -> Result<Keyring, DeskError>,
) -> Result<Initialised, DeskError> {
    let identity = identity.ok_or(DeskError::NoIdentityGiven)?;
    let identity =
        std::fs::canonicalize(identity).map_err(|source| DeskError::IdentityNotFound {
            path: identity.to_owned(),
            source,
        })?;
    let recipients_text =
        std::fs::read_to_string(recipients).map_err(|source| DeskError::GroupKeysUnreadable {
            path: recipients.to_owned(),
            source,
        })?;
    let group = Recipients::parse(recipients, recipients_text.as_bytes())?;
    let fingerprint = match server_key {
        Some(text) => text,
        None => ask_fingerprint().map_err(DeskError::io("reading the fingerprint"))?,
    };
    let server_key = parse_fingerprint(&fingerprint).map_err(DeskError::BadServerKey)?;
    let own_key_in_group = unlock(&identity)
        .map(|keyring| group_includes(&group, &keyring))
        .map_err(|e| e.with_causes());
    Workspace::create(
        dir,
        &Settings {
            server_key,
            identity: identity.clone(),
            recipients: recipients_text,
        },
    )?;
    let desk_key = desk_key::create(&outbox::key_path(dir))
        .map_err(|e| DeskError::NoDeskKey(e.to_string()))?
        .verifying_key();
    Ok(Initialised {
        identity,
        server_key,
        group_keys: group.len(),
        desk_key,
        own_key_in_group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_bundle::signing::format_fingerprint;

    struct Files {
        dir: tempfile::TempDir,
        identity: PathBuf,
        recipients: PathBuf,
        fingerprint: String,
    }

    fn files() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let identity = dir.path().join("staff.age");
        let one = crate::identity::generate(&identity, None).unwrap();
        let two = crate::identity::generate(&dir.path().join("colleague.age"), None).unwrap();
        let recipients = dir.path().join("recipients.txt");
        std::fs::write(&recipients, format!("# group\n{one}\n{two}\n")).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
        Files {
            dir,
            identity,
            recipients,
            fingerprint: format_fingerprint(&key),
        }
    }

    fn unlock(path: &Path) -> Result<Keyring, DeskError> {
        Ok(crate::identity::load(path, || {
            Err("no passphrase here".into())
        })?)
    }

    #[test]
    fn creates_a_workspace_that_pins_the_typed_fingerprint() {
        let f = files();
        let ws = f.dir.path().join("ws");
        let typed = f.fingerprint.clone();
        let done = init(
            &ws,
            Some(&f.identity),
            &f.recipients,
            None,
            || Ok(typed),
            unlock,
        )
        .unwrap();
        assert_eq!(done.group_keys, 2);
        assert!(done.identity.is_absolute());
        assert_eq!(format_fingerprint(&done.server_key), f.fingerprint);
        let settings = Workspace::open(&ws).unwrap().settings().unwrap();
        assert_eq!(settings.server_key, done.server_key);
        assert_eq!(settings.identity, done.identity);
        assert_eq!(done.own_key_in_group, Ok(true));
        let ws = Workspace::open(&ws).unwrap();
        assert_eq!(
            crate::outbox::fingerprint(&ws).unwrap(),
            format_fingerprint(&done.desk_key)
        );
    }

    #[test]
    fn notices_when_the_group_keys_leave_out_the_staff_key() {
        let f = files();
        let other = f.dir.path().join("other.txt");
        let stranger = crate::identity::generate(&f.dir.path().join("s.age"), None).unwrap();
        std::fs::write(&other, format!("{stranger}\n")).unwrap();
        let given = Some(f.fingerprint.clone());
        let ws = f.dir.path().join("ws");
        let done = init(&ws, Some(&f.identity), &other, given, || panic!(), unlock).unwrap();
        assert_eq!(done.own_key_in_group, Ok(false));
    }

    #[test]
    fn a_fingerprint_on_the_command_line_is_not_asked_for() {
        let f = files();
        let ws = f.dir.path().join("ws");
        let given = Some(f.fingerprint.clone());
        init(
            &ws,
            Some(&f.identity),
            &f.recipients,
            given,
            || panic!("asked for the fingerprint"),
            unlock,
        )
        .unwrap();
    }

    #[test]
    fn refuses_before_making_anything() {
        let f = files();
        let ws = f.dir.path().join("ws");
        let typed = || Ok(f.fingerprint.clone());

        let err = init(&ws, None, &f.recipients, None, typed, unlock).unwrap_err();
        assert!(matches!(err, DeskError::NoIdentityGiven), "{err}");

        let missing = f.dir.path().join("missing.age");
        let err = init(&ws, Some(&missing), &f.recipients, None, typed, unlock).unwrap_err();
        assert!(matches!(err, DeskError::IdentityNotFound { .. }), "{err}");

        let err = init(&ws, Some(&f.identity), &missing, None, typed, unlock).unwrap_err();
        assert!(
            matches!(err, DeskError::GroupKeysUnreadable { .. }),
            "{err}"
        );

        let wrong = || Ok("not a fingerprint".to_owned());
        let err = init(&ws, Some(&f.identity), &f.recipients, None, wrong, unlock).unwrap_err();
        assert!(matches!(err, DeskError::BadServerKey(_)), "{err}");

        assert!(!ws.exists(), "nothing was made");
    }
}
