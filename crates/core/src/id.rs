//! Random ids: what names every submission, blob and bundle.
//!
//! An id is 128 random bits as 32 lowercase hex digits. Ids say nothing about when or in what
//! order things arrived, and the strict shape lets any reader refuse a path-like name at once.

use rand::RngCore;

/// A new random id.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Is `s` a Sealdrop id: 32 lowercase hex digits?
pub fn is_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The role of a blob in its submission, as the server's index and export bundles spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    /// The encrypted envelope: JSON with the form's fields and the attachments' names.
    Envelope,
    /// One encrypted attachment, zero-padded after its true length.
    Attachment,
}

impl BlobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlobKind::Envelope => "envelope",
            BlobKind::Attachment => "attachment",
        }
    }

    /// The kind as the index spells it; `None` for anything else.
    pub fn from_index(s: &str) -> Option<BlobKind> {
        match s {
            "envelope" => Some(BlobKind::Envelope),
            "attachment" => Some(BlobKind::Attachment),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_ids_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert!(is_id(&a) && is_id(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn path_like_and_odd_names_are_not_ids() {
        for bad in [
            "",
            "../../etc/passwd",
            "0123456789abcdef0123456789ABCDEF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef/123456789abcdef",
        ] {
            assert!(!is_id(bad), "{bad:?}");
        }
    }
}
