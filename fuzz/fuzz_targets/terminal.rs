//! The desk's terminal sanitiser (crates/desk/src/view.rs, `Safe` and `terminal_safe`): all
//! source text reaches the staff's terminal through it.
//!
//! Invariants: no panic; the output holds no control character (but newline and tab in a
//! multi-line block) and no direction character (Unicode Bidi_Control: overrides, embeddings,
//! isolates, marks); a single line holds no line break; a cut text is at most its length in
//! characters; text that needs nothing replaced comes out unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdesk::view::{terminal_safe, Safe};
use sealdrop_fuzz::{assert_terminal_safe, is_bidi_control};

fuzz_target!(|data: &[u8]| {
    let (max, text) = match data.split_first() {
        Some((&max, rest)) => (usize::from(max), String::from_utf8_lossy(rest)),
        None => return,
    };
    let line = terminal_safe(&text, false);
    assert_terminal_safe("a safe line", &line, &[]);
    let block = terminal_safe(&text, true);
    assert_terminal_safe("a safe block", &block, &['\n', '\t']);
    assert_eq!(Safe::line(&text).to_string(), *line);
    assert_eq!(Safe::block(&text).to_string(), *block);
    let cut = Safe::cut(&text, max).to_string();
    assert_terminal_safe("a cut line", &cut, &[]);
    assert!(cut.chars().count() <= max.max(1), "{max}: {cut:?}");
    let harmless = |c: char| !c.is_control() && !is_bidi_control(c);
    if text.chars().all(harmless) {
        assert_eq!(*line, *text);
        assert_eq!(*block, *text);
    }
});
