//! The outbox: the one signed file that carries staff's replies and acknowledgements from the
//! air-gapped desk back to the server (the return channel, project issue 9).
//!
//! It mirrors the export bundle in the other direction, and is hostile input for the server
//! exactly as a bundle is for the desk. The desk signs it with its own key (`desk_key`), whose
//! fingerprint the operator pins on the server; a sequence number that only goes up refuses
//! replays and reordering ([`check_sequence`]). Each reply is a standard age file, already
//! encrypted by the desk to the source: opaque ciphertext here, bound to the signed manifest by
//! its SHA-256. docs/OUTBOX-FORMAT.md describes it field by field.
//!
//! - the desk (`sealdesk outbox`): [`desk_key::load`], then [`OutboxWriter`].
//! - the server (`sealdrop import-outbox`): [`OutboxReader::open`] with the pinned desk keys,
//!   [`OutboxReader::check_sequence`] with the last sequence accepted from that key, then
//!   [`OutboxReader::for_each_reply`], which hands over only replies whose digest matched.

pub mod desk_key;
pub mod format;
pub mod read;
pub mod write;

pub use format::{Manifest, ManifestReply};
pub use read::{check_sequence, OutboxError, OutboxReader};
pub use write::{OutboxWriter, Reply, WriteError, Written};
