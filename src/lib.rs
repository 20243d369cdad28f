//! Sealdrop: a secure-drop intake whose submissions are sealed with age as they stream in.
//!
//! The modules follow the path of a submission: `intake` receives it over HTTP, `seal` encrypts
//! and pads it, `store` makes it durable, `bundle` carries it to the staff's offline `desk`.
//! `keys` and `config` are read once at start-up.
//! See `docs/ARCHITECTURE.md` for the map and the reasons behind it.

pub mod bundle;
pub mod cli;
pub mod config;
pub mod day;
pub mod desk;
pub mod events;
pub mod intake;
pub mod keys;
pub mod migrate;
pub mod seal;
pub mod store;
pub mod wiped;
