//! The server's log: events and counts only.
//!
//! Nothing here ever takes a request, an address, a filename or a submission id. The log sink
//! (usually journald) stamps each line with the time, so a line per submission would itself be a
//! record of when sources spoke: only start-up, shutdown and faults are logged.

use std::fmt::Display;

/// Log one operator-facing event line to standard error.
pub fn event(message: impl Display) {
    eprintln!("sealdrop: {message}");
}
