//! The multipart reader (src/intake/multipart.rs), the one parser facing the network, fed a
//! body in the pieces the fuzzer chose (input layout: `sealdrop_fuzz::MultipartInput`).
//!
//! Invariants:
//! - no panic, and memory bounded (run with -rss_limit_mb / -malloc_limit_mb);
//! - the result does not depend on how the body was cut: the same parts (or the same error)
//!   in the chosen pieces as in one piece;
//! - a limit one byte short of the body gives the same result or `TooLarge`, nothing else;
//! - no content piece is empty, and the content read is never more than the body;
//! - names and file names hold no line break and no quote; a content type is a lower-case
//!   `type/subtype` essence;
//! - `boundary()` accepts only what RFC 2046 allows (1 to 70 characters of its set, not ending
//!   in a space).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sealdrop::intake::multipart::{boundary, FormError, FormReader};
use sealdrop_fuzz::{block_on, MultipartInput, Pieces};

#[derive(Debug, PartialEq)]
struct Part {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    content: Vec<u8>,
}

fn read(pieces: Vec<Bytes>, boundary: &str, limit: u64) -> Result<Vec<Part>, FormError> {
    let mut form = FormReader::new(Pieces(pieces.into()), boundary, limit);
    block_on(async move {
        let mut parts = Vec::new();
        while let Some(mut head) = form.next_part().await? {
            let mut part = Part {
                name: head.name.take(),
                file_name: head.file_name.take(),
                content_type: head.content_type.take(),
                content: Vec::new(),
            };
            while let Some(piece) = form.read().await? {
                assert!(!piece.is_empty(), "an empty content piece");
                part.content.extend_from_slice(&piece);
            }
            parts.push(part);
        }
        Ok(parts)
    })
}

fn check_part(part: &Part) {
    for text in [&part.name, &part.file_name].into_iter().flatten() {
        assert!(!text.contains(['\r', '\n', '"']), "{text:?}");
    }
    if let Some(essence) = &part.content_type {
        let (kind, sub) = essence.split_once('/').expect("type/subtype");
        assert!(!kind.is_empty() && !sub.is_empty(), "{essence:?}");
        assert_eq!(essence, &essence.to_ascii_lowercase());
        assert!(essence.bytes().all(|b| b.is_ascii_graphic()), "{essence:?}");
    }
}

fn check_boundary(content_type: &[u8]) {
    let Ok(text) = std::str::from_utf8(content_type) else {
        return;
    };
    if let Some(b) = boundary(text) {
        assert!((1..=70).contains(&b.len()), "{b:?}");
        assert!(!b.ends_with(' '), "{b:?}");
        let allowed = |c: u8| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c);
        assert!(b.bytes().all(allowed), "{b:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = MultipartInput::parse(data) else {
        return;
    };
    check_boundary(input.body);
    let pieces = input.pieces();
    assert_eq!(pieces.concat(), input.body);

    let whole = read(
        vec![Bytes::copy_from_slice(input.body)],
        input.boundary,
        u64::MAX,
    );
    let in_pieces = read(pieces.clone(), input.boundary, u64::MAX);
    assert_eq!(in_pieces, whole, "the pieces changed the result");
    if let Ok(parts) = &whole {
        let content: usize = parts.iter().map(|p| p.content.len()).sum();
        assert!(content <= input.body.len());
        parts.iter().for_each(check_part);
    }

    if let Some(short) = (input.body.len() as u64).checked_sub(1) {
        let limited = read(pieces, input.boundary, short);
        assert!(
            limited == whole || limited == Err(FormError::TooLarge),
            "a limit gave {limited:?}, without it {whole:?}"
        );
    }
});
