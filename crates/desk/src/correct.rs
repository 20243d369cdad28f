//! Correcting a workspace after `init`: re-pinning the server's bundle-signing key (after the
//! operator rotated it, or when the fingerprint typed at `init` was wrong), replacing the
//! group's keys, and naming the author of notes.
//!
//! Re-pinning is a security decision: the pinned key is what tells a genuine bundle from a
//! forged one. So the tool shows the old and the new fingerprint, says how to check the new one
//! out of band, and changes nothing until staff type a confirmation word (Enter alone is not
//! enough). Every change is recorded in the workspace with its time and both values.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use sealdrop_bundle::signing::{format_fingerprint, parse_fingerprint};
use sealdrop_core::keys::Recipients;

use super::conversation::group_includes;
use super::identity::Keyring;
use super::workspace::Workspace;
use super::DeskError;

/// What staff type to confirm re-pinning the server key.
pub const REPIN_WORD: &str = "re-pin";
/// What staff type to confirm replacing the group's keys.
pub const RECIPIENTS_WORD: &str = "replace";

/// A re-pinning waiting for confirmation.
#[derive(Debug, Clone)]
pub struct Repin {
    pub old: VerifyingKey,
    pub new: VerifyingKey,
}

/// Check a new fingerprint against the pinned one; nothing changes yet.
pub fn plan_repin(ws: &Workspace, fingerprint: &str) -> Result<Repin, DeskError> {
    let new = parse_fingerprint(fingerprint).map_err(DeskError::BadServerKey)?;
    let old = ws.settings()?.server_key;
    if new == old {
        return Err(DeskError::SameServerKey);
    }
    Ok(Repin { old, new })
}

/// What staff read before confirming a re-pin.
pub fn repin_question(r: &Repin) -> String {
    format!(
        "You are about to change which server this workspace trusts.\n\
         Pinned now:  {}\n\
         New:         {}\n\
         Only do this if the operator rotated the server's signing key, or if the fingerprint\n\
         typed at `init` was wrong. Check the NEW fingerprint out of band first: the operator\n\
         reads `sealdrop fingerprint` from the server to you in person or by phone (a voice you\n\
         know), and you compare every group of digits. Never take it from the same USB stick or\n\
         message as a bundle: whoever could forge a bundle could forge that too.\n\
         Type {REPIN_WORD} to trust the new key (anything else changes nothing): ",
        format_fingerprint(&r.old),
        format_fingerprint(&r.new),
    )
}

/// Whether `typed` confirms, exactly (trimmed), the `word` asked for.
pub fn confirmed(typed: &str, word: &str) -> bool {
    typed.trim() == word
}

/// Pin the new key and record the change.
pub fn apply_repin(ws: &mut Workspace, r: &Repin) -> Result<(), DeskError> {
    ws.change_setting(
        "server_key",
        &hex::encode(r.old.as_bytes()),
        &hex::encode(r.new.as_bytes()),
    )
}

/// A replacement of the group's keys waiting for confirmation.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub old_text: String,
    pub new_text: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub keys: usize,
}

fn key_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Read and check a new group keys file. Refused if the staff key is not among them: notes
/// locked to that group could not be read back by their author.
pub fn plan_recipients(
    ws: &Workspace,
    path: &Path,
    keyring: &Keyring,
) -> Result<NewGroup, DeskError> {
    let new_text =
        std::fs::read_to_string(path).map_err(|source| DeskError::GroupKeysUnreadable {
            path: path.to_owned(),
            source,
        })?;
    let group = Recipients::parse(path, new_text.as_bytes())?;
    if !group_includes(&group, keyring) {
        return Err(DeskError::LockedAway {
            what: "every new note",
        });
    }
    let old_text = ws.settings()?.recipients;
    let (old, new) = (key_lines(&old_text), key_lines(&new_text));
    if old == new {
        return Err(DeskError::SameRecipients);
    }
    Ok(NewGroup {
        added: new.iter().filter(|k| !old.contains(k)).cloned().collect(),
        removed: old.iter().filter(|k| !new.contains(k)).cloned().collect(),
        keys: group.len(),
        old_text,
        new_text,
    })
}

pub fn recipients_question(g: &NewGroup) -> String {
    let mut text =
        String::from("New notes and reply copies will be locked to the group keys in this file.\n");
    for k in &g.added {
        text.push_str(&format!("  added:   {k}\n"));
    }
    for k in &g.removed {
        text.push_str(&format!("  removed: {k}\n"));
    }
    text.push_str(&format!(
        "Check each added key with its owner in person or by phone. Notes written before keep their \
         old keys.\nType {RECIPIENTS_WORD} to use these {} key(s) (anything else changes nothing): ",
        g.keys
    ));
    text
}

pub fn apply_recipients(ws: &mut Workspace, g: &NewGroup) -> Result<(), DeskError> {
    ws.change_setting("recipients", &g.old_text, &g.new_text)
}

/// Longest author name, in characters.
pub const MAX_AUTHOR_CHARS: usize = 64;

/// Name the author of this desk's notes (one line, printable).
pub fn set_author(ws: &mut Workspace, name: &str) -> Result<String, DeskError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_AUTHOR_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(DeskError::BadAuthor);
    }
    let old = ws.optional_setting("author")?.unwrap_or_default();
    ws.change_setting("author", &old, name)?;
    Ok(name.to_owned())
}

/// Who writes notes here: the name set with `sealdesk author`, else the computer's user name.
pub fn author(ws: &Workspace, env: impl Fn(&str) -> Option<String>) -> Result<String, DeskError> {
    if let Some(name) = ws.optional_setting("author")? {
        return Ok(name);
    }
    Ok(env("USER")
        .or_else(|| env("LOGNAME"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw())))
}

/// One recorded change.
#[derive(Debug, Clone)]
pub struct Change {
    pub changed: String,
    pub setting: String,
    pub old: String,
    pub new: String,
}

/// Every recorded change, oldest first.
pub fn history(ws: &Workspace) -> Result<Vec<Change>, DeskError> {
    let mut stmt = ws
        .conn()
        .prepare("SELECT changed, setting, old, new FROM setting_changes ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Change {
            changed: r.get(0)?,
            setting: r.get(1)?,
            old: r.get(2)?,
            new: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A recorded server key as staff compare it (a fingerprint), or the text as stored.
pub fn shown_key(hex_key: &str) -> String {
    let mut bytes = [0u8; 32];
    match hex::decode_to_slice(hex_key, &mut bytes)
        .ok()
        .and_then(|()| VerifyingKey::from_bytes(&bytes).ok())
    {
        Some(key) => format_fingerprint(&key),
        None => hex_key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::Settings;

    fn ws(dir: &Path) -> Workspace {
        let id = dir.join("staff.age");
        let recipient = crate::identity::generate(&id, None).unwrap();
        Workspace::create(
            &dir.join("ws"),
            &Settings {
                server_key: ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key(),
                identity: id,
                recipients: format!("{recipient}\n"),
            },
        )
        .unwrap()
    }

    #[test]
    fn repinning_changes_the_key_and_records_old_and_new() {
        let tmp = tempfile::tempdir().unwrap();
        let mut ws = ws(tmp.path());
        let new = ed25519_dalek::SigningKey::from_bytes(&[2; 32]).verifying_key();
        let same = format_fingerprint(&ws.settings().unwrap().server_key);
        assert!(matches!(
            plan_repin(&ws, &same),
            Err(DeskError::SameServerKey)
        ));
        let plan = plan_repin(&ws, &format_fingerprint(&new)).unwrap();
        let question = repin_question(&plan);
        assert!(
            question.contains(&format_fingerprint(&plan.old)),
            "{question}"
        );
        assert!(question.contains(&format_fingerprint(&new)), "{question}");
        assert!(!confirmed("", REPIN_WORD) && !confirmed("yes", REPIN_WORD));
        assert!(confirmed(" re-pin\n", REPIN_WORD));
        apply_repin(&mut ws, &plan).unwrap();
        assert_eq!(ws.settings().unwrap().server_key, new);
        let h = history(&ws).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].setting, "server_key");
        assert_eq!(shown_key(&h[0].old), format_fingerprint(&plan.old));
        assert_eq!(shown_key(&h[0].new), format_fingerprint(&new));
        assert_eq!(h[0].changed.len(), 20, "{}", h[0].changed);
    }
}
