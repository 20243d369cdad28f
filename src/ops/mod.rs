//! The operator's commands and the checks around the server: what runs beside (or before) the
//! server on the same data directory. The binary only parses arguments and prints.

pub mod demo;
pub mod export;
pub mod preflight;
pub mod purge;
