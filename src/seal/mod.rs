//! Sealing: streaming age encryption of a submission's parts, padded with Padmé.
//!
//! Everything here writes standard age files, so `age -d` alone can open what the server stores.
//! The envelope format and the padding rule live in `sealdrop-core`, which the desk reads too.

pub mod keyring;
pub mod sealer;

pub use keyring::Keyring;
pub use sealdrop_core::envelope::{self, AttachmentInfo, Envelope};
pub use sealdrop_core::padme;
pub use sealer::{SealError, Sealed, Sealer};
