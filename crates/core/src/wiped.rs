//! Building plaintext in memory that is wiped when dropped.
//!
//! Each builder measures its output first and then writes into a buffer of exactly that size:
//! a growing `Vec` or `String` reallocates and frees its old buffer unwiped, leaving a copy of the
//! plaintext behind in the heap.

use std::fmt;
use std::io;

use serde::Serialize;
use zeroize::Zeroizing;

/// Text written by `f` (called twice: once to measure, once to write).
pub fn render(f: impl Fn(&mut dyn fmt::Write) -> fmt::Result) -> Zeroizing<String> {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    f(&mut count).expect("formatting into memory cannot fail");
    let mut out = Zeroizing::new(String::with_capacity(count.0));
    f(&mut *out).expect("formatting into memory cannot fail");
    debug_assert_eq!(out.capacity(), count.0);
    out
}

/// How [`json`] lays out its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonStyle {
    /// One line, no spaces (what the envelope uses).
    Compact,
    /// Indented, ending with a newline (for staff to read).
    Pretty,
}

/// `value` as JSON.
pub fn json(value: &impl Serialize, style: JsonStyle) -> Zeroizing<Vec<u8>> {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    fn write(out: &mut impl io::Write, value: &impl Serialize, style: JsonStyle) {
        match style {
            JsonStyle::Compact => serde_json::to_writer(&mut *out, value),
            JsonStyle::Pretty => serde_json::to_writer_pretty(&mut *out, value),
        }
        .expect("serialising to memory cannot fail");
        if style == JsonStyle::Pretty {
            out.write_all(b"\n").expect("writing to memory cannot fail");
        }
    }
    let mut count = Count(0);
    write(&mut count, value, style);
    let mut out = Zeroizing::new(Vec::with_capacity(count.0));
    write(&mut *out, value, style);
    debug_assert_eq!(out.capacity(), count.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_exactly_sized() {
        let city = "Москва";
        let text = render(|w| write!(w, "{city} {}", 42));
        assert_eq!(&*text, "Москва 42");
        assert_eq!(text.capacity(), text.len());
        let value = serde_json::json!({"message": "Душанбе", "n": [1, 2]});
        let compact = json(&value, JsonStyle::Compact);
        assert_eq!(compact.capacity(), compact.len());
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&compact).unwrap(),
            value
        );
        let pretty = json(&value, JsonStyle::Pretty);
        assert!(pretty.ends_with(b"}\n"));
        assert_eq!(pretty.capacity(), pretty.len());
    }
}
