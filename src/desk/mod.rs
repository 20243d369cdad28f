//! The staff side, used only by `sealdesk` on the air-gapped machine.

pub mod identity;
