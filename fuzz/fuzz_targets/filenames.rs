//! The desk's file name normaliser (crates/desk/src/filenames.rs): every attachment name a
//! source's browser sent becomes one file name in the extraction folder.
//!
//! Invariants: no panic; the output is NFC, idempotent (normalising it again changes nothing),
//! never empty, at most MAX_NAME_BYTES bytes, not `.` or `..`, without a leading dot or space or
//! a trailing dot or space, without a path separator, a control character, a direction
//! character or a character Windows forbids; names claimed in one folder never clash, and stay
//! safe; `risk` does not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdesk::filenames::{normalise, numbered, risk, NameSet, MAX_NAME_BYTES};
use sealdrop_fuzz::assert_terminal_safe;
use unicode_normalization::{is_nfc, UnicodeNormalization};

fn check_safe(raw: &str, name: &str) {
    assert!(!name.is_empty());
    assert!(
        name.len() <= MAX_NAME_BYTES + 8,
        "{} bytes from {raw:?}",
        name.len()
    );
    assert!(name != "." && name != "..");
    assert!(
        !name.starts_with(['.', ' ']) && !name.ends_with(['.', ' ']),
        "{name:?} from {raw:?}"
    );
    assert!(
        !name.contains(['/', '\\', '<', '>', ':', '"', '|', '?', '*']),
        "{name:?}"
    );
    assert!(!name.contains(".."), "{name:?}");
    assert_terminal_safe("a normalised name", name, &[]);
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let name = normalise(&raw);
    check_safe(&raw, &name);
    assert!(
        name.len() <= MAX_NAME_BYTES,
        "{} bytes from {raw:?}",
        name.len()
    );
    assert!(is_nfc(&name), "not NFC: {name:?} from {raw:?}");
    assert_eq!(normalise(&name), name, "not idempotent, from {raw:?}");

    // The same raw name several times, and its halves, claimed in one folder.
    let mut set = NameSet::new();
    let half = raw
        .char_indices()
        .nth(raw.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    let mut given = Vec::new();
    for candidate in [&raw[..], &raw[..], &raw[..half], &raw[half..], &name[..]] {
        let claimed = set.claim(&normalise(candidate));
        check_safe(candidate, &claimed);
        given.push(claimed);
    }
    for (i, a) in given.iter().enumerate() {
        for b in &given[..i] {
            // The clash rule: same letters up to case and compatibility form.
            let key = |s: &str| s.nfkc().flat_map(char::to_lowercase).collect::<String>();
            assert_ne!(key(a), key(b), "two claimed names clash");
        }
    }
    check_safe(&raw, &numbered(&name, 2));
    let _ = risk(&name, data, &raw);
});
