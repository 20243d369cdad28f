//! Sealdrop's server: the intake and the operator's commands.
//!
//! The modules follow the path of a submission: `intake` receives it over HTTP, `seal` encrypts
//! and pads it, `store` makes it durable, and `ops` holds the operator's commands (the checks
//! before the server starts, export, purge, the demo). What the desk shares with the server
//! lives below this crate, in `sealdrop-core` and `sealdrop-bundle`.
//! See `docs/ARCHITECTURE.md` for the map and the rule for what may depend on what.

pub mod config;
pub mod events;
pub mod intake;
pub mod ops;
pub mod seal;
pub mod store;
