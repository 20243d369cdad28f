// STAND-IN until the bundle branch is merged.
//
// A minimal implementation of exactly the API in notes/BUNDLE-SPEC.md, so that `sealdesk` can be
// built and tested before BUNDLE's `src/bundle/` lands. The integrator replaces this whole folder
// with BUNDLE's version; nothing desk-specific lives here.

//! The export bundle: one signed file carrying ciphertext blobs from the server to the desk.

pub mod ack;
pub mod format;
pub mod read;
pub mod signing;
pub mod write;

pub use format::{BlobKind, Manifest, ManifestBlob, ManifestSubmission};
pub use read::{BundleError, BundleReader};
