//! Security headers on the answers hyper writes by itself.
//!
//! When a request's head cannot be parsed (malformed, URI too long, headers too large), hyper
//! answers `400`, `414` or `431` on its own, before the router ever sees a request, so the
//! router's header layer cannot reach those answers. This wrapper around the connection watches
//! what hyper writes: a response head that does not carry Sealdrop's Content-Security-Policy
//! can only be one of hyper's own, and gets the security headers added to its head.
//!
//! It asks hyper for flat writes (not vectored), so a response head always begins a write.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::headers::header_lines;

/// A connection whose hyper-made error answers carry the security headers.
pub struct SecureErrors<S> {
    inner: S,
    /// Rewritten bytes not yet written (their original length already reported to hyper).
    pending: Vec<u8>,
    written: usize,
}

impl<S> SecureErrors<S> {
    pub fn new(inner: S) -> Self {
        SecureErrors {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// If `buf` begins a response head without our headers, the head with them added.
fn with_security_headers(buf: &[u8]) -> Option<Vec<u8>> {
    if !buf.starts_with(b"HTTP/1.1 ") && !buf.starts_with(b"HTTP/1.0 ") {
        return None;
    }
    let head_end = memchr::memmem::find(buf, b"\r\n\r\n")?;
    let head = &buf[..head_end];
    let ours = memchr::memmem::find(&head.to_ascii_lowercase(), b"\r\ncontent-security-policy:");
    if ours.is_some() {
        return None;
    }
    let status_end = memchr::memmem::find(head, b"\r\n").unwrap_or(head_end);
    let mut out = Vec::with_capacity(buf.len() + 512);
    out.extend_from_slice(&buf[..status_end]);
    out.extend_from_slice(header_lines().as_bytes());
    out.extend_from_slice(&buf[status_end..]);
    Some(out)
}

impl<S: AsyncWrite + Unpin> SecureErrors<S> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SecureErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SecureErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        match with_security_headers(buf) {
            None => Pin::new(&mut self.inner).poll_write(cx, buf),
            Some(rewritten) => {
                // Taken whole: hyper is told all of `buf` went, and the rewrite drains from here.
                self.pending = rewritten;
                self.written = 0;
                let _ = self.poll_pending(cx)?;
                Poll::Ready(Ok(buf.len()))
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_own_answers_get_the_headers() {
        let out = with_security_headers(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        )
        .expect("rewritten");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains("\r\ncontent-security-policy: default-src 'none'"));
        assert!(text.contains("\r\nreferrer-policy: no-referrer\r\n"));
        assert!(text.ends_with("\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"));
    }

    #[test]
    fn our_answers_and_bodies_pass_untouched() {
        let ours = b"HTTP/1.1 200 OK\r\nContent-Security-Policy: default-src 'none'\r\n\r\n<html>";
        assert!(with_security_headers(ours).is_none());
        assert!(with_security_headers(b"<html>HTTP/1.1 400 x\r\n\r\n").is_none());
        assert!(with_security_headers(b"HTTP/1.1 400 Bad Request\r\ncontent-le").is_none());
    }
}
