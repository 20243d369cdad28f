// STAND-IN until the bundle branch is merged.

//! The ack file: the ids staff hold safely, which the server may then purge.
//! UTF-8 text; first line exactly `sealdrop-ack v1`; then one 32-hex id per line; `#` comments.

use std::io::{self, Write};

pub const HEADER: &str = "sealdrop-ack v1";
pub const MAX_IDS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("ack file line {line}: {problem}")]
    Line { line: usize, problem: &'static str },
    #[error("the ack file holds more than 1,000,000 ids")]
    TooMany,
}

/// Write an ack file naming `ids` (each 32 lowercase hex digits).
pub fn write_ack<'a>(
    out: &mut impl Write,
    ids: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    writeln!(out, "{HEADER}")?;
    for id in ids {
        writeln!(out, "{id}")?;
    }
    Ok(())
}

/// Parse an ack file into its ids.
pub fn parse_ack(text: &str) -> Result<Vec<String>, AckError> {
    let mut lines = text.lines().enumerate();
    if lines.next().map(|(_, l)| l) != Some(HEADER) {
        return Err(AckError::Line {
            line: 1,
            problem: "the first line must be `sealdrop-ack v1`",
        });
    }
    let mut ids = Vec::new();
    for (i, line) in lines {
        if line.starts_with('#') {
            continue;
        }
        if !(line.len() == 32 && line.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))) {
            return Err(AckError::Line {
                line: i + 1,
                problem: "not a 32-hex submission id",
            });
        }
        if ids.len() == MAX_IDS {
            return Err(AckError::TooMany);
        }
        ids.push(line.to_owned());
    }
    Ok(ids)
}
