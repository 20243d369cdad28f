//! Sealing: Padmé padding, the submission envelope, and streaming age encryption.
//!
//! Everything here writes standard age files, so `age -d` alone can open what the server stores.

pub mod envelope;
pub mod padme;
pub mod sealer;

pub use envelope::{AttachmentInfo, Envelope};
pub use sealer::{SealError, Sealed, Sealer};
