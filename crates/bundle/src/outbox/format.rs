//! The outbox's layout: constants, limits, the reply size rule, and the manifest as serde types.
//!
//! Version 1, all integers big-endian (docs/OUTBOX-FORMAT.md describes it field by field):
//! magic (16) | version u32 | desk public key (32) | manifest length u32 | manifest JSON |
//! Ed25519 signature (64) | replies. The signature covers everything before it.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

/// The first 16 bytes of every outbox.
pub const MAGIC: &[u8; 16] = b"sealdrop-outbox\n";
/// The layout version this code reads and writes.
pub const VERSION: u32 = 1;
/// What the manifest's `format` field says.
pub const FORMAT: &str = "sealdrop-outbox";
/// Magic, version, desk public key and manifest length.
pub const HEADER_LEN: usize = 16 + 4 + KEY_LEN + 4;
/// An Ed25519 public key.
pub const KEY_LEN: usize = 32;
/// An Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// The largest manifest accepted, in bytes (it is read into memory before anything else). A
/// full one (100,000 acks, 20,000 replies) takes under 8 MiB.
pub const MAX_MANIFEST_LEN: u32 = 16 * 1024 * 1024;
/// The most acknowledged submission ids one outbox may hold.
pub const MAX_ACKS: usize = 100_000;
/// The most replies one outbox may hold.
pub const MAX_REPLIES: usize = 20_000;
/// The most reply bytes one outbox may carry in all; more waits for the next outbox.
pub const MAX_REPLY_BYTES: u64 = 512 * 1024 * 1024;
/// The sizes a reply's plaintext is padded to before encryption, smallest first.
pub const PADDED_SIZES: [u64; 4] = [4 * 1024, 16 * 1024, 64 * 1024, 256 * 1024];
/// Room for the age header on top of the padded payload: one X25519 stanza takes 168 bytes;
/// this leaves room for a few grease stanzas, not for hiding data.
pub const AGE_HEADER_ALLOWANCE: u64 = 1024;
/// The largest reply ciphertext accepted.
pub const MAX_REPLY_SIZE: u64 = age_payload_len(PADDED_SIZES[3]) + AGE_HEADER_ALLOWANCE;
/// How long after `created` a reply may live at most, in days.
pub const MAX_REPLY_LIFETIME_DAYS: i64 = 366;

/// The signed description of an outbox's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The desk's Ed25519 public key, 64 lowercase hex digits; equal to the one in the header.
    pub desk_key: String,
    /// Strictly increasing per desk key: the server refuses one not above the last it accepted.
    pub sequence: u64,
    /// The UTC day the desk wrote it, `YYYY-MM-DD` (by the desk's clock).
    pub created: String,
    /// Submission ids staff now hold, which the server may purge.
    pub acks: Vec<String>,
    /// In file order: the reply ciphertexts follow the manifest in this order.
    pub replies: Vec<ManifestReply>,
}

/// One reply: a standard age file of `size` bytes, for the mailbox `mailbox`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestReply {
    /// A random id the desk gave the reply (32 lowercase hex digits).
    pub id: String,
    /// The mailbox it goes to (32 lowercase hex digits), derived from the source's codename.
    pub mailbox: String,
    /// The last day the server keeps it, `YYYY-MM-DD`.
    pub expires: String,
    /// The ciphertext's length in bytes: see [`reply_size_allowed`].
    pub size: u64,
    /// SHA-256 of the ciphertext, 64 lowercase hex digits.
    pub sha256: String,
}

impl Manifest {
    /// The sum of all reply sizes (u128: hostile sizes cannot overflow it).
    pub fn reply_bytes(&self) -> u128 {
        self.replies.iter().map(|r| u128::from(r.size)).sum()
    }
}

/// The length of an age payload (nonce, then 64 KiB chunks each with a 16-byte tag; one chunk
/// at least) for `plaintext` bytes.
pub const fn age_payload_len(plaintext: u64) -> u64 {
    let chunks = if plaintext == 0 {
        1
    } else {
        plaintext.div_ceil(64 * 1024)
    };
    16 + plaintext + 16 * chunks
}

/// Whether `size` is the length of an age file whose plaintext is one of [`PADDED_SIZES`]: the
/// payload for that size plus a header of 1 to [`AGE_HEADER_ALLOWANCE`] bytes.
pub fn reply_size_allowed(size: u64) -> bool {
    PADDED_SIZES.iter().any(|&padded| {
        let payload = age_payload_len(padded);
        size > payload && size <= payload + AGE_HEADER_ALLOWANCE
    })
}

/// The padded size for a reply plaintext of `len` bytes (the smallest of [`PADDED_SIZES`] that
/// holds it), or `None` if it is too long for one reply.
pub fn padded_size(len: u64) -> Option<u64> {
    PADDED_SIZES.iter().copied().find(|&p| p >= len)
}

/// The bytes the signature covers before the manifest: magic, version, desk key, manifest length.
pub fn header_bytes(desk_key: &VerifyingKey, manifest_len: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..16].copy_from_slice(MAGIC);
    header[16..20].copy_from_slice(&VERSION.to_be_bytes());
    header[20..52].copy_from_slice(desk_key.as_bytes());
    header[52..].copy_from_slice(&manifest_len.to_be_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_magic_version_key_length_big_endian() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]).verifying_key();
        let h = header_bytes(&key, 0x0102_0304);
        assert_eq!(&h[..16], b"sealdrop-outbox\n");
        assert_eq!(&h[16..20], &[0, 0, 0, 1]);
        assert_eq!(&h[20..52], key.as_bytes());
        assert_eq!(&h[52..], &[1, 2, 3, 4]);
    }

    #[test]
    fn age_payload_lengths() {
        assert_eq!(age_payload_len(0), 32);
        assert_eq!(age_payload_len(4096), 16 + 4096 + 16);
        assert_eq!(age_payload_len(65536), 16 + 65536 + 16);
        assert_eq!(age_payload_len(65537), 16 + 65537 + 32);
        assert_eq!(age_payload_len(256 * 1024), 16 + 256 * 1024 + 64);
    }

    #[test]
    fn reply_sizes_are_padded_sizes_plus_a_bounded_header() {
        for padded in PADDED_SIZES {
            let payload = age_payload_len(padded);
            assert!(!reply_size_allowed(payload));
            assert!(reply_size_allowed(payload + 1));
            assert!(reply_size_allowed(payload + 168));
            assert!(reply_size_allowed(payload + AGE_HEADER_ALLOWANCE));
            assert!(!reply_size_allowed(payload + AGE_HEADER_ALLOWANCE + 1));
        }
        assert!(!reply_size_allowed(0));
        assert!(!reply_size_allowed(10_000));
        assert!(!reply_size_allowed(MAX_REPLY_SIZE + 1));
        assert!(!reply_size_allowed(u64::MAX));
        assert_eq!(padded_size(0), Some(4096));
        assert_eq!(padded_size(4097), Some(16 * 1024));
        assert_eq!(padded_size(256 * 1024), Some(256 * 1024));
        assert_eq!(padded_size(256 * 1024 + 1), None);
    }
}
