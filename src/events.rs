//! The server's log: events and counts only.
//!
//! Nothing here ever takes a request, an address, a filename or a submission id. The log sink
//! (usually journald) stamps each line with the time, so a line per submission would itself be a
//! record of when sources spoke: only start-up, shutdown and faults are logged.

use std::fmt::Display;

/// An error and each of its causes on one line (`a: b: c`), for a log line.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// Log one operator-facing event line to standard error.
pub fn event(message: impl Display) {
    eprintln!("sealdrop: {message}");
}
