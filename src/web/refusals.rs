//! The answers hyper writes by itself, before the site sees a request (a head it cannot
//! parse: 400; one larger than its buffer: 431; a version it does not speak: 505), carry
//! the same security headers as every page. hyper has no hook for them, so the connection's
//! writes are watched: a response head written without the headers is given them on its
//! way out. The site's own responses always have them (the `security_headers` layer) and
//! pass untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::SECURITY_HEADERS;

pub struct WithSecurityHeaders<S> {
    inner: S,
    /// A head being written with the headers added, and how much of the caller's buffer
    /// it stands for.
    rewritten: Vec<u8>,
    written: usize,
    stands_for: usize,
}

impl<S> WithSecurityHeaders<S> {
    pub fn new(inner: S) -> Self {
        WithSecurityHeaders {
            inner,
            rewritten: Vec::new(),
            written: 0,
            stands_for: 0,
        }
    }
}

/// `bytes` with the security headers added, if it starts with a response head that has
/// none of them.
fn with_headers_added(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(b"HTTP/1.") {
        return None;
    }
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = bytes[..head_end].to_ascii_lowercase();
    let marker = SECURITY_HEADERS[1].0.as_str().as_bytes();
    if head.windows(marker.len()).any(|w| w == marker) {
        return None;
    }
    let mut rewritten = Vec::with_capacity(bytes.len() + 256);
    rewritten.extend_from_slice(&bytes[..head_end]);
    for (name, value) in SECURITY_HEADERS {
        rewritten.extend_from_slice(b"\r\n");
        rewritten.extend_from_slice(name.as_str().as_bytes());
        rewritten.extend_from_slice(b": ");
        rewritten.extend_from_slice(value.as_bytes());
    }
    rewritten.extend_from_slice(&bytes[head_end..]);
    Some(rewritten)
}

impl<S: AsyncRead + Unpin> AsyncRead for WithSecurityHeaders<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WithSecurityHeaders<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rewritten.is_empty() {
            match with_headers_added(buf) {
                Some(rewritten) => {
                    this.rewritten = rewritten;
                    this.written = 0;
                    this.stands_for = buf.len();
                }
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        while this.written < this.rewritten.len() {
            let n =
                ready!(Pin::new(&mut this.inner).poll_write(cx, &this.rewritten[this.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.written += n;
        }
        this.rewritten.clear();
        Poll::Ready(Ok(this.stands_for))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_hyper_wrote_by_itself_is_given_the_security_headers() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let given = String::from_utf8(with_headers_added(bare).unwrap()).unwrap();
        assert!(given.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(given.contains("\r\nx-frame-options: DENY\r\n"), "{given}");
        assert!(
            given.ends_with("\r\nreferrer-policy: same-origin\r\n\r\n"),
            "{given}"
        );
        let site = b"HTTP/1.1 200 OK\r\nx-content-type-options: nosniff\r\n\r\n<p>HTTP/1.1</p>";
        assert_eq!(with_headers_added(site), None);
        assert_eq!(with_headers_added(b"<!doctype html>"), None);
    }

    #[test]
    fn the_caller_is_told_its_whole_buffer_was_written() {
        let mut out = WithSecurityHeaders::new(Vec::new());
        let mut write = |bytes: &[u8]| {
            let mut context = Context::from_waker(std::task::Waker::noop());
            match Pin::new(&mut out).poll_write(&mut context, bytes) {
                Poll::Ready(written) => written.unwrap(),
                Poll::Pending => panic!("a Vec takes every write at once"),
            }
        };
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(write(bare), bare.len());
        assert_eq!(write(b"more"), 4);
        let sent = String::from_utf8(out.inner).unwrap();
        assert!(
            sent.contains("content-security-policy: default-src 'self'"),
            "{sent}"
        );
        assert!(sent.ends_with("\r\n\r\nmore"));
    }
}
