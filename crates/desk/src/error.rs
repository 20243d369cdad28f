//! What can go wrong on the desk, each message saying what to do next.

use std::path::PathBuf;

use super::identity::IdentityError;
use sealdrop_bundle::BundleError;
use sealdrop_core::keys::KeysError;

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("there is no Sealdesk workspace in {dir}. Create one with `sealdesk init`, or point to yours with --workspace DIR (or the SEALDESK_WORKSPACE setting)")]
    NoWorkspace { dir: PathBuf },
    #[error("{dir} already holds a Sealdesk workspace; use it as it is, or choose another folder with --workspace")]
    WorkspaceExists { dir: PathBuf },
    #[error("{dir} is not empty; a new workspace needs an empty or new folder")]
    NotEmpty { dir: PathBuf },
    #[error("the workspace database failed")]
    Db(#[from] rusqlite::Error),
    #[error("the workspace database could not be opened")]
    Migrate(#[from] sealdrop_core::migrate::MigrateError),
    #[error("{what}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the workspace settings are damaged ({0}); make a new workspace with `sealdesk init`")]
    Settings(String),
    #[error(transparent)]
    Recipients(#[from] KeysError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the bundle was refused: {}. Nothing was imported and the workspace is unchanged", likely_cause(.0))]
    Bundle(#[from] BundleError),
    #[error("the bundle was refused: {0}. Nothing was imported and the workspace is unchanged; tell the operator")]
    Conflict(String),
    #[error("`{0}` is not a submission id: give at least 4 of its hex digits (0-9, a-f), as `sealdesk list` shows them")]
    BadIdPrefix(String),
    #[error("no submission id starts with `{0}`; `sealdesk list` shows them")]
    NoSuchSubmission(String),
    #[error("`{prefix}` matches {} submissions ({}); type more digits", matches.len(), matches.join(", "))]
    Ambiguous {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("cannot decrypt {what}: {reason}")]
    Decrypt { what: String, reason: String },
    #[error("submission {id} is damaged: {problem}")]
    Envelope { id: String, problem: String },
    #[error("`{tag}` cannot be a tag: {why}")]
    BadTag { tag: String, why: &'static str },
    #[error(
        "`{0}` is not a status; use one of: new, in-review, verified, follow-up, closed, spam"
    )]
    BadStatus(String),
    #[error("`{0}` is not a day; write it as YYYY-MM-DD, for example 2026-11-27")]
    BadDay(String),
    #[error("give some text to search for")]
    EmptySearch,
    #[error("a note cannot be empty")]
    EmptyNote,
    #[error("encrypting the note failed: {0}")]
    Encrypt(String),
    #[error("{0} is inside the workspace, which must hold locked (encrypted) files only; choose a place outside it")]
    InsideWorkspace(PathBuf),
    #[error("{0} already exists; choose a new file name (Sealdesk never overwrites a file)")]
    OutputExists(PathBuf),
    #[error("give your staff key file with --identity FILE (make one with `sealdesk keygen`)")]
    NoIdentityGiven,
    #[error("cannot find the staff key {path}; check the path")]
    IdentityNotFound {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the group's keys file {path}; copy keys/recipients.txt from the server")]
    GroupKeysUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "that is not a server fingerprint: it has 64 letters (a-f) and digits; spaces are fine"
    )]
    BadServerKey(#[source] BundleError),
    #[error("could not read the passphrase; run Sealdesk in a terminal window so it can ask you")]
    ReadPassphrase(#[source] std::io::Error),
    #[error("`{0}` is not a number of days from 1 to 366 (how long the server keeps a reply for its source)")]
    BadReplyDays(String),
    #[error("a reply cannot be empty")]
    EmptyReply,
    #[error("this reply cannot be sent: {0}")]
    BadReply(&'static str),
    #[error("submission {0} cannot be answered: its source did not choose a codename, so there is nowhere to send a reply")]
    NoConversation(String),
    #[error("{what} would be locked to the group's keys, but your own staff key is not among them, so you could never read it again. Nothing was saved. Ask for a workspace made with a group keys file that includes your public key")]
    LockedAway { what: &'static str },
    #[error("nothing to send: no reply is queued and every report this desk can open was acknowledged already")]
    NothingToSend,
    #[error("no outbox was written yet, so there is none to write again")]
    NoOutboxYet,
    #[error("this workspace has no outbox key ({0}); workspaces made before outboxes existed need a new `sealdesk init`")]
    NoDeskKey(String),
    #[error("the outbox could not be written")]
    Outbox(#[from] sealdrop_bundle::outbox::WriteError),
    #[error("that is the fingerprint this workspace trusts already; nothing changed")]
    SameServerKey,
    #[error(
        "the group's keys in that file are the ones this workspace uses already; nothing changed"
    )]
    SameRecipients,
    #[error("not confirmed; nothing changed")]
    NotConfirmed,
    #[error("the editor `{0}` did not finish normally; nothing was saved (its file was wiped). Check $VISUAL or $EDITOR, or unset both to type the note here")]
    EditorFailed(String),
    #[error("an author name is one line of 1 to 64 characters")]
    BadAuthor,
    #[error("the passphrase and its repetition differed {tries} times; nothing was written. Run `sealdesk keygen` again when ready")]
    PassphraseMismatch { tries: usize },
    #[error("the passphrase is shorter than {min} characters; choose a longer one (several words work well)")]
    ShortPassphrase { min: usize },
}

/// What a bundle refusal most likely means, and what to do. Only a signature that does not
/// verify speaks of tampering; a wrong file, an interrupted copy or an old program do not.
fn likely_cause(e: &BundleError) -> String {
    use BundleError as B;
    match e {
        B::Open { .. } => "the file cannot be opened; check its name and that the USB stick is mounted".into(),
        B::Read { .. } => "the file could not be read to its end (a failing USB stick?); copy it again".into(),
        B::BadMagic => "this is not a Sealdrop export bundle; check that you chose the file that `sealdrop export` wrote, not another one".into(),
        B::UnknownVersion { found } if *found > sealdrop_bundle::format::VERSION => format!(
            "it was written by a newer Sealdrop (bundle format {found}) than this sealdesk reads; upgrade sealdesk to the server's release, then import it again"
        ),
        B::Truncated { .. } | B::ManifestLength { .. } | B::UnknownVersion { .. } => "the file is incomplete or damaged, most likely an interrupted copy; copy it again, wait until the copy is finished and eject the USB stick before pulling it out".into(),
        B::BadSignature => "its signature does not match the server fingerprint this workspace trusts. Either the fingerprint pinned here is wrong (mistyped at `sealdesk init`, or the operator made a new server key) or the file was changed after the server signed it (tampering). Compare `sealdesk where` with the operator's `sealdrop fingerprint`, in person or by phone; if the operator confirms a new key, run `sealdesk repin`; if they match, do not import this file and tell the operator".into(),
        B::ServerKeyMismatch { .. } => "it was signed by a server key other than the one this workspace trusts: a bundle from another server, or the operator made a new key. Compare `sealdesk where` with the operator's `sealdrop fingerprint`, in person or by phone; if the operator confirms a new key, run `sealdesk repin`".into(),
        B::HashMismatch { .. } | B::TrailingData => "part of the file differs from what the server signed, most likely damaged while copying; copy it again, and if a fresh copy fails the same way, tell the operator".into(),
        _ => "the server signed a bundle this sealdesk cannot read (a version mismatch or a server fault); tell the operator, with the reason below".into(),
    }
}

impl DeskError {
    /// This error and each of its causes on one line, for one report among many (a list line,
    /// a search or report failure) where the tool's own chain printing does not reach.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DeskError {
        let what = what.into();
        move |source| DeskError::Io { what, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_holds_each_cause_once() {
        let e = DeskError::io("reading the blob")(std::io::Error::other("disk on fire"));
        assert_eq!(e.to_string(), "reading the blob");
        assert_eq!(e.with_causes(), "reading the blob: disk on fire");
        assert_eq!(DeskError::EmptyNote.with_causes(), "a note cannot be empty");
    }
}
