//! The PROXY protocol header (src/intake/proxy.rs): the first bytes of every connection when
//! Tor exports circuit ids, read before anything else.
//!
//! Invariants: no panic; a header is accepted only whole (`PROXY `, at most 107 bytes, ending
//! in CRLF) and names an address (never `UNKNOWN`); reading from a stream consumes exactly the
//! header's bytes and not one of the request after it, and agrees with parsing the line.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sealdrop::intake::proxy::{parse, read_header, ClientKey, ProxyError};
use sealdrop_fuzz::block_on;
use tokio::io::AsyncReadExt;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = parse(data) {
        assert!(data.len() <= 107 && data.starts_with(b"PROXY ") && data.ends_with(b"\r\n"));
        assert!(matches!(key, ClientKey::Named(_)));
    }
    let mut stream = data;
    let result = block_on(async { read_header(&mut stream, Duration::from_secs(5)).await });
    let consumed = data.len() - stream.len();
    assert!(consumed <= 107);
    match result {
        Ok(key) => {
            let line = &data[..consumed];
            assert!(line.ends_with(b"\r\n"));
            // Nothing after the first CRLF was read.
            assert_eq!(memchr::memmem::find(line, b"\r\n"), Some(consumed - 2));
            assert_eq!(parse(line), Ok(key));
            let mut rest = Vec::new();
            block_on(async { stream.read_to_end(&mut rest).await }).unwrap();
            assert_eq!(rest, data[consumed..]);
        }
        Err(ProxyError::Malformed) => {
            assert!(data[..consumed].ends_with(b"\r\n"));
            assert!(parse(&data[..consumed]).is_err());
        }
        Err(ProxyError::Closed) => assert_eq!(consumed, data.len()),
        Err(ProxyError::TooLong) => assert_eq!(consumed, 107),
        Err(e) => panic!("reading from memory gave {e}"),
    }
});
