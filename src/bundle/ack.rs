// STAND-IN until the bundle branch is merged (same function names as BUNDLE's `ack.rs`).

//! The ack file: the ids staff hold safely, which the server may then purge.
//! UTF-8 text; first line exactly `sealdrop-ack v1`; then one 32-hex id per line; `#` comments.

use std::path::{Path, PathBuf};

use crate::store::blobs::is_id;

pub const HEADER: &str = "sealdrop-ack v1";
pub const MAX_IDS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("cannot read the ack file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ack file line {line}: {problem}")]
    Line { line: usize, problem: &'static str },
}

/// Read and parse an ack file.
pub fn read_file(path: &Path) -> Result<Vec<String>, AckError> {
    let bytes = std::fs::read(path).map_err(|source| AckError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes)
}

/// Parse an ack file's bytes into its ids.
pub fn parse(bytes: &[u8]) -> Result<Vec<String>, AckError> {
    let text = std::str::from_utf8(bytes).map_err(|_| AckError::Line {
        line: 1,
        problem: "not UTF-8 text",
    })?;
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
        if !is_id(line) {
            return Err(AckError::Line {
                line: i + 1,
                problem: "not a 32-hex submission id",
            });
        }
        if ids.len() == MAX_IDS {
            return Err(AckError::Line {
                line: i + 1,
                problem: "more than 1,000,000 ids",
            });
        }
        ids.push(line.to_owned());
    }
    Ok(ids)
}

/// The text of an ack file for `ids`, which must be submission ids.
pub fn to_text<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = format!("{HEADER}\n");
    for id in ids {
        assert!(is_id(id), "an ack names submission ids only");
        out.push_str(id);
        out.push('\n');
    }
    out
}
