//! Acknowledgement files: what staff send back so the server may purge what they now hold.
//!
//! UTF-8 text; the first line is exactly `sealdrop-ack v1`; then one submission id (32 lowercase
//! hex digits) per line; lines starting with `#` are comments. Nothing else is accepted: an ack
//! deletes data, so a file that is not clearly one is refused, naming the line.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use sealdrop_core::is_id;

/// The first line of every ack file.
pub const HEADER: &str = "sealdrop-ack v1";
/// The most ids one ack file may hold.
pub const MAX_IDS: usize = 1_000_000;
/// The largest ack file read (a full one with short comments fits easily).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("cannot read the ack file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the ack file is larger than 64 MiB; this is not an ack file written by `sealdesk ack`"
    )]
    TooLarge,
    #[error("ack file line {line}: {problem}")]
    Line { line: usize, problem: &'static str },
}

/// Read and parse an ack file.
pub fn read_file(path: &Path) -> Result<Vec<String>, AckError> {
    let read_err = |source| AckError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(AckError::TooLarge);
    }
    parse(&bytes)
}

/// Parse an ack file's bytes into its submission ids, in file order, each once.
pub fn parse(bytes: &[u8]) -> Result<Vec<String>, AckError> {
    parse_at_most(bytes, MAX_IDS)
}

fn parse_at_most(bytes: &[u8], max_ids: usize) -> Result<Vec<String>, AckError> {
    let text = std::str::from_utf8(bytes).map_err(|e| AckError::Line {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        problem: "not valid UTF-8 text",
    })?;
    // A final line break ends the last line; it does not start an empty one.
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = body.split('\n').enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, HEADER)) => {}
        _ => {
            return Err(AckError::Line {
                line: 1,
                problem: "the first line must be exactly `sealdrop-ack v1` (is this an ack file written by `sealdesk ack`?)",
            })
        }
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for (line, content) in lines {
        if content.starts_with('#') {
            continue;
        }
        if !is_id(content) {
            return Err(AckError::Line {
                line,
                problem: "not a submission id (32 lowercase hex digits) or a `#` comment",
            });
        }
        // Acknowledging an id twice means the same as once.
        if seen.insert(content) {
            if ids.len() == max_ids {
                return Err(AckError::Line {
                    line,
                    problem:
                        "more than 1,000,000 ids; split the acknowledgement into several files",
                });
            }
            ids.push(content.to_owned());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> String {
        format!("{n:02x}").repeat(16)
    }

    #[test]
    fn round_trip_with_comments_and_duplicates() {
        let text = to_text([id(1).as_str(), id(2).as_str()]);
        assert_eq!(parse(text.as_bytes()).unwrap(), [id(1), id(2)]);
        let text = format!("{HEADER}\n# from sealdesk\n{}\n{}\n{}", id(3), id(4), id(3));
        assert_eq!(parse(text.as_bytes()).unwrap(), [id(3), id(4)]);
        assert!(parse(format!("{HEADER}\n").as_bytes()).unwrap().is_empty());
        assert!(parse(HEADER.as_bytes()).unwrap().is_empty());
    }

    fn refused_at(text: &[u8]) -> usize {
        match parse(text) {
            Err(AckError::Line { line, .. }) => line,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(text)),
        }
    }

    #[test]
    fn refuses_anything_else_naming_the_line() {
        assert_eq!(refused_at(b""), 1);
        assert_eq!(refused_at(b"sealdrop-ack v2\n"), 1);
        assert_eq!(refused_at(b"sealdrop-ack v1 \n"), 1);
        assert_eq!(refused_at(b"sealdrop-ack v1\r\n"), 1);
        assert_eq!(refused_at(b"\nsealdrop-ack v1\n"), 1);
        let upper = format!("{HEADER}\n{}\n{}\n", id(1), id(0xab).to_uppercase());
        assert_eq!(refused_at(upper.as_bytes()), 3);
        let spaced = format!("{HEADER}\n{} \n", id(1));
        assert_eq!(refused_at(spaced.as_bytes()), 2);
        let blank = format!("{HEADER}\n\n{}\n", id(1));
        assert_eq!(refused_at(blank.as_bytes()), 2);
        let path = format!("{HEADER}\n# ok\n../../etc/passwd\n");
        assert_eq!(refused_at(path.as_bytes()), 3);
        let mut bad_utf8 = format!("{HEADER}\n# ok\n").into_bytes();
        bad_utf8.extend_from_slice(b"# \xff\n");
        assert_eq!(refused_at(&bad_utf8), 3);
        let err = parse(b"hello").unwrap_err();
        assert!(err.to_string().starts_with("ack file line 1:"), "{err}");
    }

    #[test]
    fn at_most_a_million_ids() {
        assert_eq!(MAX_IDS, 1_000_000);
        let text = format!(
            "{HEADER}\n{}\n# c\n{}\n{}\n{}\n",
            id(1),
            id(2),
            id(1),
            id(3)
        );
        assert_eq!(parse_at_most(text.as_bytes(), 3).unwrap().len(), 3);
        let err = parse_at_most(text.as_bytes(), 2).unwrap_err();
        assert!(matches!(err, AckError::Line { line: 6, .. }), "{err}");
        assert!(err.to_string().contains("more than 1,000,000 ids"));
    }

    #[test]
    fn reads_files_and_refuses_huge_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ack.txt");
        std::fs::write(&path, to_text([id(7).as_str()])).unwrap();
        assert_eq!(read_file(&path).unwrap(), [id(7)]);
        let big = std::fs::File::create(&path).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(matches!(read_file(&path), Err(AckError::TooLarge)));
        let err = read_file(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, AckError::Read { .. }), "{err}");
    }
}
