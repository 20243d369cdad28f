//! The envelope: one age file per submission holding JSON with the form's text fields and, for
//! each attachment, its original name, declared type, true length and blob id.
//!
//! Trailing padding is ASCII spaces, so a padded envelope is still valid JSON for `age -d | jq`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::{Zeroize, Zeroizing};

/// What `format` says in every envelope this version writes.
pub const FORMAT: &str = "sealdrop-envelope";
pub const VERSION: u32 = 1;

/// One attachment as the source's browser declared it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize)]
pub struct AttachmentInfo {
    /// Blob id of the age file holding this attachment.
    pub blob: String,
    /// The filename the browser sent: hostile, never used as a path by the server.
    pub name: String,
    /// The MIME type the browser declared: a claim, not a fact.
    #[serde(rename = "type")]
    pub content_type: String,
    /// True length in bytes; the blob's plaintext is padded with zero bytes beyond it.
    pub length: u64,
}

/// What ties a submission to a conversation, for a source who chose to come back with a
/// codename. It travels only inside the sealed envelope: nothing on the server links a source's
/// submissions to each other or to a mailbox. All three values are derived from the codename
/// (docs/CODENAMES.md), so every submission made with one codename carries the same ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// Groups the submissions of one codename into a thread (an id: 32 lowercase hex digits).
    pub thread: String,
    /// Where the group's replies are stored on the server (an id).
    pub mailbox: String,
    /// The age recipient (`age1...`) replies are encrypted to.
    pub reply_to: String,
}

/// The decrypted content of a submission's envelope blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub format: String,
    pub version: u32,
    /// The submission's random id, as the server's index knows it.
    pub submission: String,
    /// The coarse arrival date, `YYYY-MM-DD`.
    pub arrived: String,
    /// The form's text fields by name (`message`, and `contact` when given).
    pub fields: BTreeMap<String, String>,
    pub attachments: Vec<AttachmentInfo>,
    /// Present only when the source chose a codename (added in the same version: readers that
    /// predate it ignore it, and envelopes without it are as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
}

impl Drop for Envelope {
    fn drop(&mut self) {
        for value in self.fields.values_mut() {
            value.zeroize();
        }
        self.attachments.zeroize();
        self.conversation.zeroize();
    }
}

impl Envelope {
    pub fn new(submission: String, arrived: String) -> Self {
        Envelope {
            format: FORMAT.to_owned(),
            version: VERSION,
            submission,
            arrived,
            fields: BTreeMap::new(),
            attachments: Vec::new(),
            conversation: None,
        }
    }

    /// Serialise into a buffer that is wiped when dropped.
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        crate::wiped::json(self, crate::wiped::JsonStyle::Compact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_with_trailing_space_padding() {
        let mut e = Envelope::new("ab".repeat(16), "2026-11-27".into());
        e.fields
            .insert("message".into(), "Брат задержан в Москве".into());
        e.attachments.push(AttachmentInfo {
            blob: "cd".repeat(16),
            name: "../../etc/passwd".into(),
            content_type: "image/jpeg".into(),
            length: 12,
        });
        let mut json = e.to_json().to_vec();
        json.extend_from_slice(&[b' '; 37]);
        let back: Envelope = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, e);
    }
}
