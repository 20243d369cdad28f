//! The staff side, used only by `sealdesk` on the air-gapped machine. It never uses the network.
//!
//! A workspace (`workspace`) holds ciphertext exactly as the server stored it plus the staff's
//! triage; `import` brings bundles in, `decrypt` opens envelopes in memory with the staff
//! `identity`, and the commands' logic lives one concern per module: `session` (which workspace
//! and key), `prompt` (what staff are asked, and the rules for answers), `setup` (`init`) and
//! `outcome` (what each command says when done). The `sealdesk` binary only parses arguments,
//! does terminal I/O and calls these.

pub mod ack;
pub mod cases;
pub mod conversation;
pub mod correct;
pub mod decrypt;
pub mod editor;
mod error;
pub mod extract;
pub mod filenames;
pub mod identity;
pub mod import;
pub mod migrations;
pub mod outbox;
pub mod outcome;
pub mod prompt;
pub mod report;
pub mod search;
pub mod session;
pub mod setup;
pub mod triage;
pub mod view;
pub mod workspace;

pub use error::DeskError;
