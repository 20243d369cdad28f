//! Export bundles: the one file that carries ciphertext from the server to the staff's
//! air-gapped machine, and the only code both sides share.
//!
//! A bundle is a signed manifest (ids, coarse dates, sizes, SHA-256 digests) followed by the
//! blobs, each a standard age file. The server writes it (`sealdrop export`); `sealdesk` reads it
//! as hostile input, trusting nothing until the signature by the pinned server key checks out.
//! The layout is in `format` and, for people and other tools, in docs/BUNDLE-FORMAT.md.
//!
//! The return channel goes the other way in `outbox`: replies and acknowledgements signed by the
//! desk's own key, hostile input for the server (docs/OUTBOX-FORMAT.md).

pub mod ack;
pub mod format;
mod keyfile;
pub mod outbox;
pub mod read;
pub mod signing;
pub mod write;

pub use format::{BlobKind, Manifest, ManifestBlob, ManifestSubmission};
pub use read::{BundleError, BundleReader};
