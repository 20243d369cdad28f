//! The ack reader (crates/bundle/src/ack.rs): the file that lets the server delete data.
//!
//! Invariants: no panic; an accepted file starts with the exact header line and yields ids of
//! 32 lowercase hex digits, each once, in file order, each on a line of its own; a refusal names
//! a line that exists.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use sealdrop_bundle::ack::{parse, AckError, HEADER};
use sealdrop_fuzz::is_id_shape;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count();
    match parse(data) {
        Ok(ids) => {
            let text = std::str::from_utf8(data).expect("accepted text is UTF-8");
            assert!(text.starts_with(HEADER));
            let file_lines: HashSet<&str> = text.split('\n').collect();
            let mut seen = HashSet::new();
            for id in &ids {
                assert!(is_id_shape(id), "{id:?}");
                assert!(seen.insert(id), "{id} twice");
                assert!(file_lines.contains(id.as_str()));
            }
            // In file order: each id's first line comes after the previous one's.
            let firsts: Vec<usize> = ids
                .iter()
                .map(|id| text.split('\n').position(|l| l == id).unwrap())
                .collect();
            assert!(firsts.windows(2).all(|w| w[0] < w[1]));
        }
        Err(AckError::Line { line, .. }) => assert!((1..=lines).contains(&line), "{line}"),
        Err(e) => panic!("parsing bytes gave {e}"),
    }
});
