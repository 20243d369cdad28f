//! What both sides of Sealdrop share, and nothing that needs a network: ids, coarse dates, the
//! envelope and its padding, the group's recipients, durable files, wiped buffers, the schema
//! migration runner, and how a binary reports an error.
//!
//! This crate sits at the bottom of the workspace: it depends on no other Sealdrop crate.
//! See docs/ARCHITECTURE.md for the map and the rule for what may depend on what.

pub mod cli;
pub mod codename;
pub mod day;
pub mod durable;
pub mod envelope;
pub mod id;
pub mod keys;
pub mod migrate;
pub mod padme;
pub mod wiped;
pub mod wiping_alloc;

pub use envelope::{AttachmentInfo, Envelope};
pub use id::{is_id, new_id, BlobKind};
