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
}

impl Drop for Envelope {
    fn drop(&mut self) {
        for value in self.fields.values_mut() {
            value.zeroize();
        }
        self.attachments.zeroize();
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
