//! A differential target: Sealdrop's multipart reader against multer, an independent parser,
//! on the same body in the same pieces (input layout: `sealdrop_fuzz::MultipartInput`).
//!
//! Where both accept a form, both must yield the same parts: the same names, file names and
//! contents, in the same order. Where one refuses, nothing is compared (Sealdrop is the stricter
//! of the two on purpose: "not well-formed is an error, never a guess").
//!
//! Where both accept and differ, Sealdrop follows RFC 2046/7578 and what browsers send, and
//! multer does not. Each such difference is one of the `EXCEPTIONS` below, checked on the input
//! itself (fuzz/README.md, "The differential's exceptions"); any other difference is a finding.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use memchr::memmem;
use sealdrop::intake::multipart::FormReader;
use sealdrop_fuzz::{block_on, MultipartInput, Pieces};

#[derive(Debug, PartialEq)]
struct Part {
    name: Option<String>,
    file_name: Option<String>,
    content: Vec<u8>,
}

fn sealdrop_parts(pieces: Vec<Bytes>, boundary: &str) -> Option<Vec<Part>> {
    let mut form = FormReader::new(Pieces(pieces.into()), boundary, u64::MAX);
    block_on(async move {
        let mut parts = Vec::new();
        while let Some(mut head) = form.next_part().await.ok()? {
            let mut content = Vec::new();
            while let Some(piece) = form.read().await.ok()? {
                content.extend_from_slice(&piece);
            }
            parts.push(Part {
                name: head.name.take(),
                file_name: head.file_name.take(),
                content,
            });
        }
        Some(parts)
    })
}

fn multer_parts(pieces: Vec<Bytes>, boundary: &str) -> Option<Vec<Part>> {
    let mut form = multer::Multipart::new(Pieces(pieces.into()), boundary);
    block_on(async move {
        let mut parts = Vec::new();
        while let Some(field) = form.next_field().await.ok()? {
            let name = field.name().map(str::to_owned);
            let file_name = field.file_name().map(str::to_owned);
            let content = field.bytes().await.ok()?.to_vec();
            parts.push(Part {
                name,
                file_name,
                content,
            });
        }
        Some(parts)
    })
}

/// A form Sealdrop accepted, as it read it: the raw Content-Disposition value of each part.
/// (A plain walk over the whole body, valid only for a body Sealdrop accepted.)
fn dispositions(body: &[u8], boundary: &str) -> Vec<Vec<u8>> {
    let delimiter = [b"\r\n--", boundary.as_bytes()].concat();
    let mut at = if body.starts_with(&delimiter[2..]) {
        delimiter.len() - 2
    } else {
        memmem::find(body, &delimiter).expect("an accepted form has a boundary") + delimiter.len()
    };
    let mut found = Vec::new();
    while !body[at..].starts_with(b"--") {
        while matches!(body[at], b' ' | b'\t') {
            at += 1;
        }
        at += 2; // CRLF
                 // The header block ends at the first blank line; the boundary line's CRLF counts.
        let end = at - 2 + memmem::find(&body[at - 2..], b"\r\n\r\n").expect("headers end");
        if end > at {
            for line in body[at..end].split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let colon = memchr::memchr(b':', line).expect("a header has a colon");
                if line[..colon].eq_ignore_ascii_case(b"content-disposition") {
                    found.push(line[colon + 1..].to_vec());
                }
            }
        }
        let content = end + 4;
        at = content
            + memmem::find(&body[content..], &delimiter).expect("a part ends")
            + delimiter.len();
    }
    found
}

/// One parameter of a disposition Sealdrop accepted: its name, its value, whether the value was
/// quoted, and where its name starts in the header value.
struct Param<'a> {
    name: &'a str,
    value: &'a str,
    quoted: bool,
    at: usize,
}

/// The parameters of a disposition value Sealdrop accepted (so: a token, then `; name=value`
/// each, the value a token or a quoted string without quotes inside, spaces and tabs around).
fn params(value: &str) -> Vec<Param<'_>> {
    let mut out = Vec::new();
    let Some(mut at) = value.find(';') else {
        return out;
    };
    let bytes = value.as_bytes();
    while at < bytes.len() {
        if matches!(bytes[at], b';' | b' ' | b'\t') {
            at += 1;
            continue;
        }
        let name_at = at;
        let eq = name_at + value[name_at..].find('=').expect("name=value");
        let name = value[name_at..eq].trim_end_matches([' ', '\t']);
        let mut v = eq + 1;
        while matches!(bytes[v], b' ' | b'\t') {
            v += 1;
        }
        let (val, quoted, end) = if bytes[v] == b'"' {
            let close = v + 1 + value[v + 1..].find('"').expect("closed");
            (&value[v + 1..close], true, close + 1)
        } else {
            let end = value[v..]
                .find([';', ' ', '\t'])
                .map_or(value.len(), |e| v + e);
            (&value[v..end], false, end)
        };
        out.push(Param {
            name,
            value: val,
            quoted,
            at: name_at,
        });
        at = end;
    }
    out
}

type Check = fn(&[u8], &str, &[Vec<u8>]) -> bool;

/// The known, deliberate differences. Each is checked on the input; a difference that none of
/// them explains is a finding.
const EXCEPTIONS: &[(&str, Check)] = &[
    // RFC 2046 §5.1.1: a boundary delimiter must be at the start of a line (or of the body).
    // multer takes the first `--boundary` anywhere before the form, even mid-line.
    (
        "boundary only at the start of a line",
        |body, boundary, _| {
            let opening = [b"--", boundary.as_bytes()].concat();
            let delimiter = [b"\r\n".as_slice(), &opening].concat();
            !body.starts_with(&opening)
                && memmem::find(body, &opening).is_some_and(|first| {
                    memmem::find(body, &delimiter).is_none_or(|line| first < line + 2)
                })
        },
    ),
    // RFC 7578 §4.2 / RFC 2183: parameter names are case-insensitive. multer matches `name`
    // and `filename` in lower case only.
    ("case-insensitive parameter names", |_, _, dispositions| {
        each_param(dispositions, |p, _| {
            let lower = p.name.to_ascii_lowercase();
            (lower == "name" || lower == "filename") && p.name != lower
        })
    }),
    // multer finds `name` and `filename` by searching the header value for the word, so it
    // reads `filename*=...` (RFC 7578 §4.2: not to be used; Sealdrop ignores it) as a broken
    // `filename` and gives up on the parameter, reads `names=` likewise, reads a quoted
    // value holding `; name=x` as a parameter, and finds `name=` at the end of a longer
    // parameter name such as `namename=`. Sealdrop reads parameters, not words.
    (
        "`filename*` ignored; parameters are not words in a value",
        |_, _, dispositions| {
            dispositions.iter().any(|raw| {
                let value = String::from_utf8_lossy(raw);
                let params = params(&value);
                ["name", "filename"].into_iter().any(|word| {
                    let real = params.iter().find(|p| p.name == word).map(|p| p.at);
                    first_word_multer_sees(&value, word) != real
                })
            })
        },
    ),
    // Browsers do not escape in quoted strings (HTML's form encoding sends `"` as `%22`), so a
    // backslash is an ordinary character and `"a\"` is the value `a\`. multer reads `\"` as an
    // escaped quote and runs on to the next quote.
    ("backslashes kept", |_, _, dispositions| {
        each_param(dispositions, |p, _| p.quoted && p.value.ends_with('\\'))
    }),
    // A stray byte that is not UTF-8 must not cost a source the report: Sealdrop decodes the
    // header lossily (U+FFFD); multer drops a parameter that is not UTF-8.
    ("header values decoded lossily", |_, _, dispositions| {
        dispositions
            .iter()
            .any(|raw| std::str::from_utf8(raw).is_err())
    }),
    // RFC 9110 §5.6.6: a token value ends at the first character that is not a token
    // character, and spaces or tabs may follow before `;`. multer's ends only at `;` or a
    // space, so it keeps a tab after the value as part of it.
    ("a token value ends at whitespace", |_, _, dispositions| {
        each_param(dispositions, |p, value| {
            !p.quoted
                && value[p.at..]
                    .split_once(p.value)
                    .is_some_and(|(_, after)| after.starts_with('\t'))
        })
    }),
];

/// Whether any parameter of any part's disposition meets `test`.
fn each_param(dispositions: &[Vec<u8>], test: impl Fn(&Param<'_>, &str) -> bool) -> bool {
    dispositions.iter().any(|raw| {
        let value = String::from_utf8_lossy(raw);
        params(&value).iter().any(|p| test(p, &value))
    })
}

/// Where multer's search for `word` lands in a disposition value (multer 3.1,
/// `ContentDispositionAttr::extract_from`): the first occurrence at the start of the value or
/// after whitespace or `;`, if `=` follows it (past whitespace). After skipping an occurrence
/// that is part of a longer word, multer searches on from the end of that occurrence and no
/// longer checks the byte before a match found right there: in `` `namename= `` the second
/// `name` counts. The model follows it exactly.
fn first_word_multer_sees(value: &str, word: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    let mut from = 0;
    while let Some(i) = value[from..].find(word).map(|i| from + i) {
        // multer looks at the byte before only when the match is not at its slice's start.
        let checked = i > from;
        from = i + word.len();
        if checked && !(bytes[i - 1].is_ascii_whitespace() || bytes[i - 1] == b';') {
            continue;
        }
        // multer gives up (no value) when `=` does not follow: a miss all the same.
        let rest = value[from..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        return rest.starts_with('=').then_some(i).or(Some(usize::MAX));
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = MultipartInput::parse(data) else {
        return;
    };
    let Some(ours) = sealdrop_parts(input.pieces(), input.boundary) else {
        return;
    };
    let Some(theirs) = multer_parts(input.pieces(), input.boundary) else {
        return;
    };
    if ours == theirs {
        return;
    }
    let dispositions = dispositions(input.body, input.boundary);
    let explained: Vec<&str> = EXCEPTIONS
        .iter()
        .filter(|(_, applies)| applies(input.body, input.boundary, &dispositions))
        .map(|(name, _)| *name)
        .collect();
    assert!(
        !explained.is_empty(),
        "Sealdrop and multer read one form differently, and no documented exception explains it:\n\
         Sealdrop: {ours:?}\nmulter:   {theirs:?}\ndispositions: {:?}",
        dispositions
            .iter()
            .map(|d| String::from_utf8_lossy(d))
            .collect::<Vec<_>>()
    );
});
