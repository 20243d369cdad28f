//! The PROXY protocol header (version 1) that Tor writes before each stream of an onion service
//! configured with `HiddenServiceExportCircuitID haproxy`:
//!
//! ```text
//! PROXY TCP6 fc00:dead:beef:4dad::ffff:ffff ::1 65535 42\r\n
//! ```
//!
//! The last 32 bits of the source address are Tor's global circuit id. Sealdrop uses it only to
//! count what one circuit holds at once (connections, uploads, requests a minute), in memory: it
//! is never logged, stored, or put in a page. A circuit id says nothing about who a source is;
//! it lets the server tell one client's streams from another's, nothing more.
//!
//! The header is hostile input like everything else: read byte by byte up to the protocol's
//! 107-byte maximum (so not one byte of the request after it is consumed), under a deadline,
//! and parsed by the `ppp` crate.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest version-1 header, `\r\n` included (the protocol's own bound).
const MAX_HEADER_LEN: usize = 107;

/// Who a connection belongs to, for per-client limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// No PROXY header is expected: every connection is the one local peer (Tor without
    /// circuit ids, or a direct connection). Only the global limits apply.
    Unnamed,
    /// The source address a PROXY header named: behind Tor, one circuit.
    Named(IpAddr),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error("no PROXY header arrived in time")]
    Timeout,
    #[error("the connection closed before its PROXY header ended")]
    Closed,
    #[error("the PROXY header is longer than the protocol allows")]
    TooLong,
    #[error("the PROXY header is not well-formed")]
    Malformed,
    #[error("reading the PROXY header failed")]
    Read,
}

/// Read one PROXY v1 header from the start of `stream`, consuming exactly its bytes.
pub async fn read_header<S>(stream: &mut S, deadline: Duration) -> Result<ClientKey, ProxyError>
where
    S: AsyncRead + Unpin,
{
    let mut line = [0u8; MAX_HEADER_LEN];
    let read = async {
        let mut len = 0;
        loop {
            if len == MAX_HEADER_LEN {
                return Err(ProxyError::TooLong);
            }
            // One byte at a time: what follows the header is the HTTP request, which belongs to
            // hyper. A header is at most 107 reads, once per connection.
            match stream.read(&mut line[len..len + 1]).await {
                Ok(0) => return Err(ProxyError::Closed),
                Ok(_) => len += 1,
                Err(_) => return Err(ProxyError::Read),
            }
            if line[..len].ends_with(b"\r\n") {
                return Ok(len);
            }
        }
    };
    let len = tokio::time::timeout(deadline, read)
        .await
        .map_err(|_| ProxyError::Timeout)??;
    parse(&line[..len])
}

/// Parse one complete header line, `\r\n` included.
pub fn parse(line: &[u8]) -> Result<ClientKey, ProxyError> {
    use ppp::v1::{Addresses, Header};
    let header = Header::try_from(line).map_err(|_| ProxyError::Malformed)?;
    // The parser accepts a line that stops short of `\r\n`; a header must be whole.
    if header.header.len() != line.len() || !line.ends_with(b"\r\n") {
        return Err(ProxyError::Malformed);
    }
    match header.addresses {
        Addresses::Tcp6(a) => Ok(ClientKey::Named(IpAddr::V6(a.source_address))),
        Addresses::Tcp4(a) => Ok(ClientKey::Named(IpAddr::V4(a.source_address))),
        // `PROXY UNKNOWN` names nobody; letting it pass would let a client escape its limits.
        Addresses::Unknown => Err(ProxyError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;
    use tokio::io::AsyncWriteExt;

    fn circuit(id: u32) -> ClientKey {
        let mut octets = [0u8; 16];
        octets[..8].copy_from_slice(&[0xfc, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x4d, 0xad]);
        octets[12..].copy_from_slice(&id.to_be_bytes());
        ClientKey::Named(IpAddr::V6(Ipv6Addr::from(octets)))
    }

    #[test]
    fn tors_header_names_the_circuit() {
        assert_eq!(
            parse(b"PROXY TCP6 fc00:dead:beef:4dad::ffff:ffff ::1 65535 42\r\n"),
            Ok(circuit(0xffff_ffff))
        );
        assert_eq!(
            parse(b"PROXY TCP6 fc00:dead:beef:4dad::0:2a ::1 42 80\r\n"),
            Ok(circuit(42))
        );
        assert_ne!(
            parse(b"PROXY TCP6 fc00:dead:beef:4dad::0:2b ::1 43 80\r\n"),
            Ok(circuit(42))
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY TCP6 fc00:dead:beef:4dad::1 ::1 1 80\n",
            b"PROXY TCP6 fc00:dead:beef:4dad::1 ::1 1 80",
            b"PROXY TCP6 not-an-address ::1 1 80\r\n",
            b"PROXY TCP4 1.2.3.4 ::1 1 80\r\n",
            b"PROXY TCP6 fc00::1 ::1 99999 80\r\n",
            b"GET / HTTP/1.1\r\n",
            b"\r\n",
            b"PROXY TCP6 fc00::1 ::1 1 80\r\nGET",
        ] {
            assert_eq!(
                parse(bad),
                Err(ProxyError::Malformed),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test]
    async fn reads_exactly_the_header_and_leaves_the_request() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        client
            .write_all(b"PROXY TCP6 fc00:dead:beef:4dad::0:7 ::1 7 80\r\nGET / HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let key = read_header(&mut server, Duration::from_secs(5)).await;
        assert_eq!(key, Ok(circuit(7)));
        let mut rest = [0u8; 18];
        server.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"GET / HTTP/1.1\r\n\r\n");
    }

    #[tokio::test]
    async fn slow_long_and_cut_headers_are_refused() {
        let (_client, mut server) = tokio::io::duplex(1024);
        assert_eq!(
            read_header(&mut server, Duration::from_millis(50)).await,
            Err(ProxyError::Timeout)
        );

        let (mut client, mut server) = tokio::io::duplex(4096);
        client.write_all(&[b'P'; 500]).await.unwrap();
        assert_eq!(
            read_header(&mut server, Duration::from_secs(5)).await,
            Err(ProxyError::TooLong)
        );

        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"PROXY TCP6 fc00::1").await.unwrap();
        drop(client);
        assert_eq!(
            read_header(&mut server, Duration::from_secs(5)).await,
            Err(ProxyError::Closed)
        );
    }
}
