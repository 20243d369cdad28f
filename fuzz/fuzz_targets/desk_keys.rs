//! The two parsers of desk-key files, on the same bytes:
//! - the server's pinned desk keys (src/ops/desk_keys.rs): fingerprints, comments, blank lines;
//! - the desk's own secret outbox key file (crates/bundle/src/outbox/desk_key.rs), which reads
//!   a mode-0600 file.
//!
//! Invariants: no panic; an age secret key anywhere in the pinned-keys file is refused as
//! such, before anything else, naming its first line; pinned keys are valid, not weak, each
//! once, each named on a line of the file; errors carry no control or direction character; a
//! loaded secret key file is exactly the two-line format, and its key written back gives the
//! same file. The ids, secret keys and fingerprints are recognised by the target's own code,
//! not by the parsers' helpers, so that a fault in those helpers shows.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sealdrop::ops::desk_keys::{parse, DeskKeysError};
use sealdrop_bundle::outbox::desk_key;
use sealdrop_fuzz::{assert_terminal_safe, scratch_file, secret_key_line, write_file};

fn pinned(data: &[u8]) {
    let result = parse(Path::new("desk-keys"), data);
    // Checked independently of the parser's own search (`find_secret_key`), line included.
    if let Some(expected) = secret_key_line(data) {
        assert!(
            matches!(result, Err(DeskKeysError::SecretKey { line, .. }) if line == expected),
            "{result:?}"
        );
    }
    match result {
        Ok(keys) => {
            assert!(!keys.is_empty());
            let text = std::str::from_utf8(data).unwrap();
            for (i, key) in keys.iter().enumerate() {
                assert!(!key.is_weak());
                assert!(!keys[..i].contains(key), "a key pinned twice");
                // A line names the key if it is the key's 64 hex digits, in either case, with
                // spaces and colons anywhere (checked here, not by `parse_fingerprint`).
                let hex = hex::encode(key.as_bytes());
                let named = text.lines().any(|l| {
                    let digits: String = l
                        .chars()
                        .filter(|&c| !c.is_whitespace() && c != ':')
                        .collect();
                    digits.to_ascii_lowercase() == hex
                });
                assert!(named, "a key no line names");
            }
        }
        Err(e) => assert_terminal_safe("a desk-keys error", &format!("{e} {e:?}"), &[]),
    }
}

fn secret(data: &[u8]) {
    let path = scratch_file("outbox-key");
    write_file(&path, data, 0o600);
    match desk_key::load(&path) {
        Ok(key) => {
            let text = format!("sealdesk-outbox-key-v1\n{}\n", hex::encode(key.to_bytes()));
            let text = text.as_bytes();
            assert!(data == text || data == &text[..text.len() - 1], "{data:?}");
        }
        Err(e) => assert_terminal_safe("a desk-key error", &e.to_string(), &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    pinned(data);
    secret(data);
});
