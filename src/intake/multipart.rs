//! Reading a `multipart/form-data` body (RFC 7578) as it streams in.
//!
//! A part's content is handed out as slices of the very buffers the body arrived in, never
//! copied. Only when a buffer ends in what could be the start of a boundary is that short tail
//! held back and joined to the next buffer. (The general-purpose parser this replaced copied
//! every byte into a growing buffer of its own: on a 1 GiB upload that cost about a quarter of
//! a core-second in copies and page faults, on a 2-core server.)
//!
//! Everything here is hostile input. The whole body is bounded in length, part headers in size
//! and count, and anything that is not a well-formed form is an error, never a guess.

use std::future::poll_fn;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use memchr::memmem;
use zeroize::Zeroizing;

/// Longest header block of one part. A part's headers carry its name, file name and type;
/// file names are bounded separately, well below this.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header lines in one part (browsers send two or three).
const MAX_HEADERS: usize = 16;
/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY: usize = 70;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormError {
    #[error("the body is larger than allowed")]
    TooLarge,
    #[error("the body is not a well-formed multipart form: {0}")]
    Malformed(&'static str),
    #[error("the body ended before the form did")]
    Truncated,
    #[error("reading the body failed")]
    Body,
}

/// What a part's headers say about it. File names are sensitive: wiped when dropped, and not
/// `Debug`, so that no log line can print one by accident.
#[derive(Default, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct PartHead {
    pub name: Option<String>,
    pub file_name: Option<String>,
    /// The declared type's essence (`type/subtype`, lower case), if it is well-formed.
    pub content_type: Option<String>,
}

/// The boundary named by a `multipart/form-data` Content-Type, if it is one and well-formed.
pub fn boundary(content_type: &str) -> Option<String> {
    let (essence, params) = parameters(content_type).ok()?;
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let mut named = params
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("boundary"));
    let boundary = named.next()?.1;
    if named.next().is_some() {
        return None;
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
    let ok = (1..=MAX_BOUNDARY).contains(&boundary.len())
        && boundary.bytes().all(allowed)
        && !boundary.ends_with(' ');
    ok.then(|| boundary.to_owned())
}

enum State {
    /// Before the first boundary: anything here is ignored.
    Preamble,
    /// Inside a part's content.
    InPart,
    /// `pending` starts with a delimiter.
    AtDelimiter,
    /// After the closing delimiter.
    End,
}

/// A streaming reader of one form body.
pub struct FormReader<S> {
    body: S,
    /// CRLF, two dashes and the boundary: what ends every part.
    delimiter: Box<[u8]>,
    finder: memmem::Finder<'static>,
    /// Received and not yet consumed.
    pending: Bytes,
    received: u64,
    limit: u64,
    state: State,
    /// Bytes of the body searched, and copied onto a block, while reading header blocks: a
    /// measure of that work that tests can hold to linear.
    #[cfg(test)]
    header_work: usize,
}

impl<S, E> FormReader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    /// Read `body` as a form delimited by `boundary`, refusing it past `limit` bytes.
    pub fn new(body: S, boundary: &str, limit: u64) -> Self {
        let delimiter: Box<[u8]> = [b"\r\n--", boundary.as_bytes()].concat().into();
        FormReader {
            body,
            finder: memmem::Finder::new(&delimiter[..]).into_owned(),
            delimiter,
            pending: Bytes::new(),
            received: 0,
            limit,
            state: State::Preamble,
            #[cfg(test)]
            header_work: 0,
        }
    }

    /// Move to the next part and read its headers; `None` after the last part. Whatever was
    /// left unread of the current part is skipped.
    pub async fn next_part(&mut self) -> Result<Option<PartHead>, FormError> {
        let first = matches!(self.state, State::Preamble);
        // How long the boundary line `pending` starts with is, up to the boundary's end.
        let boundary_len = loop {
            match self.state {
                State::Preamble => {
                    // A body normally opens with the boundary itself, no line break before it.
                    let opening = self.delimiter.len() - 2;
                    self.fill_to(opening).await?;
                    if self.pending.starts_with(&self.delimiter[2..]) {
                        break opening;
                    }
                    while self.content().await?.is_some() {}
                    self.state = State::AtDelimiter;
                }
                State::InPart => {
                    while self.content().await?.is_some() {}
                    self.state = State::AtDelimiter;
                }
                State::AtDelimiter => break self.delimiter.len(),
                State::End => return Ok(None),
            }
        };
        // Then "--" after the last one, or a line break before the next part's headers.
        self.fill_to(boundary_len + 2).await?;
        let _ = self.pending.split_to(boundary_len);
        if self.pending.starts_with(b"--") {
            if first {
                return Err(FormError::Malformed(
                    "the form closes before its first part",
                ));
            }
            self.state = State::End;
            return Ok(None);
        }
        self.skip_padding().await?;
        let headers = self.header_block().await?;
        let head = parse_headers(&headers)?;
        self.state = State::InPart;
        Ok(Some(head))
    }

    /// The next piece of the current part's content; `None` at its end.
    pub async fn read(&mut self) -> Result<Option<Bytes>, FormError> {
        if !matches!(self.state, State::InPart) {
            return Ok(None);
        }
        let piece = self.content().await?;
        if piece.is_none() {
            self.state = State::AtDelimiter;
        }
        Ok(piece)
    }

    /// Read and discard the rest of the body (bounded by the limit), so that a browser still
    /// sending is still listening when the answer comes.
    pub async fn drain(&mut self) -> Result<(), FormError> {
        self.pending = Bytes::new();
        while self.next_chunk().await?.is_some() {}
        self.state = State::End;
        Ok(())
    }

    /// Content up to the next delimiter, in the pieces it arrived in; `None` once `pending`
    /// starts with the delimiter.
    async fn content(&mut self) -> Result<Option<Bytes>, FormError> {
        loop {
            if let Some(at) = self.finder.find(&self.pending) {
                return Ok((at > 0).then(|| self.pending.split_to(at)));
            }
            // Hand out all but a tail that might be the start of a delimiter.
            let safe = self.pending.len() - partial_delimiter_len(&self.pending, &self.delimiter);
            if safe > 0 {
                return Ok(Some(self.pending.split_to(safe)));
            }
            if !self.append_next().await? {
                return Err(FormError::Truncated);
            }
        }
    }

    /// Skip spaces and tabs after a boundary (RFC 2046 allows them), then its line break.
    async fn skip_padding(&mut self) -> Result<(), FormError> {
        loop {
            let blanks = self
                .pending
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            let _ = self.pending.split_to(blanks);
            if self.pending.len() >= 2 {
                break;
            }
            if !self.append_next().await? {
                return Err(FormError::Truncated);
            }
        }
        if !self.pending.starts_with(b"\r\n") {
            return Err(FormError::Malformed(
                "a boundary line has trailing characters",
            ));
        }
        let _ = self.pending.split_to(2);
        Ok(())
    }

    /// A part's header lines, up to and including the blank line that ends them.
    ///
    /// Linear in the block's length whatever pieces it comes in: each piece is searched once
    /// (with the last three bytes before it, for an end split between pieces) and copied
    /// once, onto a block reserved once up to the bound (while it holds no header bytes yet, so
    /// that no reallocation leaves a copy of them behind in freed memory).
    async fn header_block(&mut self) -> Result<Zeroizing<Vec<u8>>, FormError> {
        const END: &[u8] = b"\r\n\r\n";
        // The boundary line's CRLF starts the block, so that "no headers at all" (the blank
        // line at once) is found as an ordinary end. It is taken off on the way out.
        let mut block = Zeroizing::new(b"\r\n".to_vec());
        loop {
            let taken = block.len();
            // Where the end finishes, counted from the start of `block` followed by `pending`.
            let straddling = (1..END.len())
                .rev()
                .find(|&k| block.ends_with(&END[..k]) && self.pending.starts_with(&END[k..]))
                .map(|k| taken - k + END.len());
            let end = straddling
                .or_else(|| memmem::find(&self.pending, END).map(|at| taken + at + END.len()));
            #[cfg(test)]
            {
                self.header_work += end.map_or(self.pending.len(), |end| end - taken);
            }
            if let Some(end) = end {
                // The lines end with the first CRLF of the end; the second is the blank line.
                let lines = end - 2;
                if lines - 2 > MAX_HEADER_BYTES {
                    return Err(FormError::Malformed("a part's headers are too long"));
                }
                if lines <= taken {
                    block.truncate(lines);
                } else {
                    block.extend_from_slice(&self.pending[..lines - taken]);
                    #[cfg(test)]
                    {
                        self.header_work += lines - taken;
                    }
                }
                let _ = self.pending.split_to(end - taken);
                block.drain(..2);
                return Ok(block);
            }
            if taken - 2 + self.pending.len() > MAX_HEADER_BYTES + 2 {
                return Err(FormError::Malformed("a part's headers are too long"));
            }
            if taken == 2 {
                block.reserve_exact(MAX_HEADER_BYTES + 4);
            }
            block.extend_from_slice(&self.pending);
            #[cfg(test)]
            {
                self.header_work += self.pending.len();
            }
            self.pending = Bytes::new();
            if !self.append_next().await? {
                return Err(FormError::Truncated);
            }
        }
    }

    /// Make `pending` at least `len` bytes long.
    async fn fill_to(&mut self, len: usize) -> Result<(), FormError> {
        while self.pending.len() < len {
            if !self.append_next().await? {
                return Err(FormError::Truncated);
            }
        }
        Ok(())
    }

    /// Append the next buffer of the body to `pending`; `false` at the end of the body.
    ///
    /// When `pending` is empty (nearly always) the buffer is taken as it is. Otherwise the
    /// two are joined, which copies: that happens only after a buffer ended in what looked
    /// like the start of a delimiter, or within the few bytes of a boundary line. (Header
    /// blocks are gathered by [`Self::header_block`] itself, without joining.)
    async fn append_next(&mut self) -> Result<bool, FormError> {
        let Some(next) = self.next_chunk().await? else {
            return Ok(false);
        };
        if self.pending.is_empty() {
            self.pending = next;
        } else {
            let mut joined = BytesMut::with_capacity(self.pending.len() + next.len());
            joined.extend_from_slice(&self.pending);
            joined.extend_from_slice(&next);
            self.pending = joined.freeze();
        }
        Ok(true)
    }

    /// The next non-empty buffer of the body, counted against the limit.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, FormError> {
        loop {
            let next = poll_fn(|cx| Pin::new(&mut self.body).poll_next(cx)).await;
            let Some(chunk) = next.transpose().map_err(|_| FormError::Body)? else {
                return Ok(None);
            };
            self.received += chunk.len() as u64;
            if self.received > self.limit {
                return Err(FormError::TooLarge);
            }
            if !chunk.is_empty() {
                return Ok(Some(chunk));
            }
        }
    }
}

/// The length of the longest tail of `data` that is a proper start of `delimiter`.
fn partial_delimiter_len(data: &[u8], delimiter: &[u8]) -> usize {
    let longest = data.len().min(delimiter.len() - 1);
    // Every delimiter starts with CR: no CR in the tail, nothing to hold back.
    let tail = &data[data.len() - longest..];
    let Some(first_cr) = memchr::memchr(b'\r', tail) else {
        return 0;
    };
    (1..=longest - first_cr)
        .rev()
        .find(|&len| data.ends_with(&delimiter[..len]))
        .unwrap_or(0)
}

fn parse_headers(block: &[u8]) -> Result<PartHead, FormError> {
    let mut head = PartHead::default();
    let mut seen_disposition = false;
    let mut rest = block;
    let mut count = 0;
    while !rest.is_empty() {
        let end = memmem::find(rest, b"\r\n")
            .ok_or(FormError::Malformed("a header line ends without CRLF"))?;
        let line = &rest[..end];
        rest = &rest[end + 2..];
        count += 1;
        if count > MAX_HEADERS {
            return Err(FormError::Malformed("a part has too many headers"));
        }
        if line.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(FormError::Malformed(
                "a header line holds a bare line break",
            ));
        }
        let colon =
            memchr::memchr(b':', line).ok_or(FormError::Malformed("a header has no colon"))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
            return Err(FormError::Malformed("a header name is not a token"));
        }
        // Browsers send UTF-8 here; a stray byte must not cost a source the whole report.
        let value = Zeroizing::new(String::from_utf8_lossy(value).into_owned());
        if name.eq_ignore_ascii_case(b"content-disposition") {
            if std::mem::replace(&mut seen_disposition, true) {
                return Err(FormError::Malformed(
                    "a part has two Content-Disposition headers",
                ));
            }
            parse_disposition(&value, &mut head)?;
        } else if name.eq_ignore_ascii_case(b"content-type") {
            head.content_type = essence(&value);
        }
    }
    if !seen_disposition {
        return Err(FormError::Malformed("a part has no Content-Disposition"));
    }
    Ok(head)
}

/// `form-data; name="..."; filename="..."`. Parameter names are case-insensitive; `name` and
/// `filename` may each come once; others (`filename*` among them) are ignored, but must be
/// well-formed too.
fn parse_disposition(value: &str, head: &mut PartHead) -> Result<(), FormError> {
    let (kind, params) = parameters(value)?;
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err(FormError::Malformed("a part is not form-data"));
    }
    for (name, value) in params {
        let slot = if name.eq_ignore_ascii_case("name") {
            &mut head.name
        } else if name.eq_ignore_ascii_case("filename") {
            &mut head.file_name
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(FormError::Malformed("a part names a parameter twice"));
        }
        *slot = Some(value.to_owned());
    }
    Ok(())
}

/// A parameter's name and its value (unquoted).
type Parameter<'a> = (&'a str, &'a str);

/// A header value's leading token (`form-data`, `multipart/form-data`) and its parameters,
/// `; name=value` each (RFC 7578, 2183, 9110): the name a token, the value a token or a
/// quoted string, spaces and tabs allowed around `;` and `=`, empty parameters skipped.
///
/// Browsers do not escape in quoted strings (HTML's form encoding): they send a quote in a
/// name as `%22`, CR and LF as `%0D` and `%0A`, and a backslash as it is. So a backslash here
/// is an ordinary character and a quoted string ends at the very next quote, which must be
/// followed by the end or a `;`. Anything else is an error, never a guess.
fn parameters(value: &str) -> Result<(&str, Vec<Parameter<'_>>), FormError> {
    let token_len = |s: &str| s.find(|c: char| !is_tchar(c)).unwrap_or(s.len());
    let (first, mut rest) = value.split_once(';').unwrap_or((value, ""));
    let first = first.trim_matches([' ', '\t']);
    let essence_ok = !first.is_empty() && first.chars().all(|c| is_tchar(c) || c == '/');
    if !essence_ok {
        return Err(FormError::Malformed(
            "a header value does not start with a token",
        ));
    }
    let mut params = Vec::new();
    loop {
        rest = ows(rest);
        if rest.is_empty() {
            return Ok((first, params));
        }
        if let Some(after) = rest.strip_prefix(';') {
            rest = after;
            continue;
        }
        let (name, after) = rest.split_at(token_len(rest));
        if name.is_empty() {
            return Err(FormError::Malformed("a parameter name is not a token"));
        }
        let after = ows(after)
            .strip_prefix('=')
            .ok_or(FormError::Malformed("a parameter has no value"))?;
        let after = ows(after);
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').ok_or(FormError::Malformed(
                "a quoted parameter value is not closed",
            ))?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let (token, after) = after.split_at(token_len(after));
            if token.is_empty() {
                return Err(FormError::Malformed(
                    "a parameter value is neither a token nor a quoted string",
                ));
            }
            (token, after)
        };
        params.push((name, value));
        rest = ows(after);
        if !rest.is_empty() {
            rest = rest.strip_prefix(';').ok_or(FormError::Malformed(
                "a parameter value is followed by more than a semicolon",
            ))?;
        }
    }
}

/// `s` less its leading spaces and tabs.
fn ows(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// A token character (RFC 9110): visible ASCII but for separators.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A content type's `type/subtype`, lower-cased, if it is made of token characters.
fn essence(value: &str) -> Option<String> {
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    (token(kind) && token(sub)).then_some(essence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::task::{Context, Poll};

    /// A body arriving in the given pieces.
    struct Pieces(VecDeque<Bytes>);

    impl Stream for Pieces {
        type Item = Result<Bytes, ()>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    const B: &str = "----WebKitFormBoundaryQx3b8Yk1";

    #[derive(Debug, PartialEq)]
    struct Part {
        name: Option<String>,
        file_name: Option<String>,
        content_type: Option<String>,
        content: Vec<u8>,
        /// How many slices the content came in.
        pieces: usize,
    }

    fn read_all(pieces: Vec<Bytes>, limit: u64) -> Result<Vec<Part>, FormError> {
        let mut form = FormReader::new(Pieces(pieces.into()), B, limit);
        block_on(async move {
            let mut parts = Vec::new();
            while let Some(mut head) = form.next_part().await? {
                let mut part = Part {
                    name: head.name.take(),
                    file_name: head.file_name.take(),
                    content_type: head.content_type.take(),
                    content: Vec::new(),
                    pieces: 0,
                };
                while let Some(piece) = form.read().await? {
                    assert!(!piece.is_empty());
                    part.content.extend_from_slice(&piece);
                    part.pieces += 1;
                }
                parts.push(part);
            }
            Ok(parts)
        })
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn form(file: &[u8]) -> Vec<u8> {
        let mut body = format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n\
             Он пропал 3 марта.\r\n--{B}\r\n\
             Content-Disposition: form-data; name=\"files\"; filename=\"фото; \\x.jpg\"\r\n\
             Content-Type: Image/JPEG; q=1\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{B}--\r\n").as_bytes());
        body
    }

    /// Content that keeps almost meeting the delimiter: CRs, CRLFs, dashes, the boundary
    /// without its dashes, and the delimiter less its last byte.
    fn nasty_file() -> Vec<u8> {
        let mut file = b"\r\r\n\r\n-\r\n--\r\n---".to_vec();
        file.extend_from_slice(B.as_bytes());
        file.extend_from_slice(format!("\r\n--{}", &B[..B.len() - 1]).as_bytes());
        file.extend_from_slice(b"x\r\n");
        file.extend((0..3000u32).map(|i| (i * 7 % 251) as u8));
        file.extend_from_slice(b"\r\n-");
        file
    }

    fn expected(file: &[u8]) -> Vec<Part> {
        vec![
            Part {
                name: Some("message".into()),
                file_name: None,
                content_type: None,
                content: "Он пропал 3 марта.".as_bytes().to_vec(),
                pieces: 0,
            },
            Part {
                name: Some("files".into()),
                file_name: Some("фото; \\x.jpg".into()),
                content_type: Some("image/jpeg".into()),
                content: file.to_vec(),
                pieces: 0,
            },
        ]
    }

    fn without_pieces(mut parts: Vec<Part>) -> Vec<Part> {
        parts.iter_mut().for_each(|p| p.pieces = 0);
        parts
    }

    #[test]
    fn a_form_split_at_every_byte_reads_the_same() {
        let file = nasty_file();
        let body = form(&file);
        let whole = read_all(vec![Bytes::from(body.clone())], u64::MAX).unwrap();
        assert_eq!(without_pieces(whole), expected(&file));
        for cut in 0..=body.len() {
            let pieces = vec![
                Bytes::copy_from_slice(&body[..cut]),
                Bytes::copy_from_slice(&body[cut..]),
            ];
            let parts = read_all(pieces, u64::MAX).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            assert_eq!(without_pieces(parts), expected(&file), "cut at {cut}");
        }
    }

    #[test]
    fn a_form_in_pieces_of_every_small_size_reads_the_same() {
        let file = nasty_file();
        let body = form(&file);
        for size in 1..=80 {
            let pieces = body.chunks(size).map(Bytes::copy_from_slice).collect();
            let parts = read_all(pieces, u64::MAX).unwrap_or_else(|e| panic!("size {size}: {e}"));
            assert_eq!(without_pieces(parts), expected(&file), "pieces of {size}");
        }
    }

    #[test]
    fn file_content_is_handed_out_in_the_pieces_it_arrived_in() {
        // Large pieces without a CR at their ends: each comes out whole, as the same memory.
        let file: Vec<u8> = (0..3 * 65536u32).map(|i| (i % 13) as u8 + b'a').collect();
        let body = form(&file);
        let head_len = body.len() - file.len() - format!("\r\n--{B}--\r\n").len();
        let body = Bytes::from(body);
        let pieces = vec![
            body.slice(..head_len),
            body.slice(head_len..head_len + 65536),
            body.slice(head_len + 65536..head_len + 2 * 65536),
            body.slice(head_len + 2 * 65536..),
        ];
        let parts = read_all(pieces, u64::MAX).unwrap();
        assert_eq!(parts[1].content, file);
        assert_eq!(parts[1].pieces, 3);
    }

    #[test]
    fn content_in_the_first_piece_is_not_copied_either() {
        let body = Bytes::from(form(b"file content"));
        let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
        let mut form = FormReader::new(Pieces(vec![body.clone()].into()), B, u64::MAX);
        block_on(async move {
            while form.next_part().await.unwrap().is_some() {
                while let Some(piece) = form.read().await.unwrap() {
                    assert!(
                        range.contains(&(piece.as_ptr() as usize)),
                        "a copy was made"
                    );
                }
            }
        });
    }

    #[test]
    fn a_body_over_the_limit_is_refused() {
        let body = form(&[7; 5000]);
        let limit = body.len() as u64 - 1;
        let pieces = body.chunks(1000).map(Bytes::copy_from_slice).collect();
        assert_eq!(read_all(pieces, limit), Err(FormError::TooLarge));
        assert!(read_all(vec![Bytes::from(body.clone())], body.len() as u64).is_ok());
    }

    #[test]
    fn malformed_and_truncated_forms_are_errors() {
        let ok = form(b"content");
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("cut short", ok[..ok.len() - 10].to_vec()),
            ("cut in headers", ok[..60].to_vec()),
            ("no boundary", b"just some text".to_vec()),
            ("empty", Vec::new()),
            (
                "junk after boundary",
                format!("--{B}junk\r\n\r\nx\r\n--{B}--").into_bytes(),
            ),
            (
                "no disposition",
                format!("--{B}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{B}--").into_bytes(),
            ),
            (
                "not form-data",
                format!("--{B}\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--{B}--")
                    .into_bytes(),
            ),
            (
                "two names",
                format!(
                    "--{B}\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nx\r\n--{B}--"
                )
                .into_bytes(),
            ),
            (
                "bare LF",
                format!("--{B}\r\nContent-Disposition: form-data; name=\"a\"\n\r\n\r\nx\r\n--{B}--")
                    .into_bytes(),
            ),
            (
                "endless headers",
                format!("--{B}\r\nX: {}", "y".repeat(MAX_HEADER_BYTES + 10)).into_bytes(),
            ),
            (
                "many headers",
                format!(
                    "--{B}\r\nContent-Disposition: form-data; name=\"a\"\r\n{}\r\nx\r\n--{B}--",
                    "X: y\r\n".repeat(MAX_HEADERS)
                )
                .into_bytes(),
            ),
        ];
        for (what, body) in cases {
            let result = read_all(vec![Bytes::from(body)], u64::MAX);
            assert!(result.is_err(), "{what}: {result:?}");
        }
    }

    fn disposition(value: &str) -> Result<(Option<String>, Option<String>), FormError> {
        let mut head = PartHead::default();
        parse_disposition(value, &mut head)?;
        Ok((head.name.take(), head.file_name.take()))
    }

    #[test]
    fn dispositions_as_browsers_send_them_are_read() {
        let named = |name: &str, file: Option<&str>| Ok((Some(name.into()), file.map(Into::into)));
        let cases = [
            (
                " form-data; name=\"files\"; filename=\"a.jpg\"",
                named("files", Some("a.jpg")),
            ),
            (
                " Form-Data;NAME=\"m\" ;\tFileName = \"x\" ",
                named("m", Some("x")),
            ),
            (
                " form-data; name=files; filename=a.jpg",
                named("files", Some("a.jpg")),
            ),
            // Backslashes are not escapes: browsers send them as they are.
            (" form-data; name=\"a\\b\\\"", named("a\\b\\", None)),
            (
                " form-data; name=\"f\"; filename=\"C:\\x\\\"",
                named("f", Some("C:\\x\\")),
            ),
            // A semicolon inside quotes is part of the value, even one that looks like more.
            (
                " form-data; name=\"f\"; filename=\"a; filename=b\"",
                named("f", Some("a; filename=b")),
            ),
            (" form-data; name=\"\"", named("", None)),
            (
                " form-data; name=\"x\"; filename*=UTF-8''%D1%84.jpg",
                named("x", None),
            ),
            (" form-data; name=\"x\"; other=\"y\";", named("x", None)),
        ];
        for (value, want) in cases {
            assert_eq!(disposition(value), want, "{value:?}");
        }
    }

    #[test]
    fn malformed_disposition_parameters_are_errors_not_guesses() {
        let accepted = [
            " form-data; name=\"f\"; filename=\"\"x",
            " form-data; name=a b",
            " form-data; name=\"f\"; filename=a; filename=b",
            " form-data; name=\"f\"; FILENAME=\"a\"; filename=\"b\"",
            " form-data; name=\"f\"; filename=\"a",
            " form-data; name=\"f\"; filename=a\"",
            " form-data; name=\"f\"; filename=\"a\"b\"",
            " form-data; name=\"f\"; filename=a\"; filename=\"b",
            " form-data; name=\"f\" \"g\"",
            " form-data; name=",
            " form-data; name",
            " form-data; =x",
            " form-data; name=\"f\"; filename=a/b",
            " form-data; na me=\"f\"",
            " form-data name=\"f\"",
        ]
        .into_iter()
        .filter_map(|value| {
            let result = disposition(value);
            let refused = matches!(result, Err(FormError::Malformed(_)));
            (!refused).then(|| format!("{value:?}: {result:?}"))
        })
        .collect::<Vec<_>>();
        assert!(accepted.is_empty(), "accepted:\n{}", accepted.join("\n"));
    }

    #[test]
    fn a_form_that_opens_with_its_closing_boundary_is_malformed() {
        for body in [
            format!("--{B}--"),
            format!("--{B}--\r\n"),
            format!("a preamble\r\n--{B}--\r\nan epilogue"),
        ] {
            for size in [1, 3, body.len()] {
                let pieces = body.as_bytes().chunks(size).map(Bytes::copy_from_slice);
                let result = read_all(pieces.collect(), u64::MAX);
                assert!(
                    matches!(result, Err(FormError::Malformed(_))),
                    "{body:?} in pieces of {size}: {result:?}"
                );
            }
        }
    }

    /// A part whose header block (its lines, without the blank line) is `len` bytes long.
    fn form_with_headers_of(len: usize) -> Vec<u8> {
        let mut head = "Content-Disposition: form-data; name=\"m\"\r\n".to_owned();
        for _ in 0..MAX_HEADERS - 2 {
            head.push_str(&format!("X-Pad: {}\r\n", "y".repeat(1000)));
        }
        let rest = len - head.len() - "X-End: \r\n".len();
        head.push_str(&format!("X-End: {}\r\n", "y".repeat(rest)));
        assert_eq!(head.len(), len);
        format!("--{B}\r\n{head}\r\nhi\r\n--{B}--").into_bytes()
    }

    #[test]
    fn headers_in_one_byte_pieces_take_linear_work() {
        let body = form_with_headers_of(MAX_HEADER_BYTES);
        let pieces = body.iter().map(|&b| Bytes::copy_from_slice(&[b])).collect();
        let mut form = FormReader::new(Pieces(pieces), B, u64::MAX);
        let started = std::time::Instant::now();
        let head = block_on(form.next_part()).unwrap().unwrap();
        let took = started.elapsed();
        assert_eq!(head.name.as_deref(), Some("m"));
        eprintln!(
            "{MAX_HEADER_BYTES} bytes of headers in 1-byte pieces: {took:?}, {} bytes of work",
            form.header_work
        );
        assert!(
            form.header_work <= 4 * MAX_HEADER_BYTES,
            "{} bytes searched and copied for {MAX_HEADER_BYTES} bytes of headers",
            form.header_work
        );
    }

    #[test]
    fn headers_read_the_same_in_pieces_of_every_size_up_to_the_limit() {
        for len in [MAX_HEADER_BYTES - 1, MAX_HEADER_BYTES, MAX_HEADER_BYTES + 1] {
            let body = form_with_headers_of(len);
            for size in (1..=70).chain([1000, 1460, 4096, 16 * 1024, body.len()]) {
                let pieces = body.chunks(size).map(Bytes::copy_from_slice).collect();
                let result = read_all(pieces, u64::MAX);
                if len > MAX_HEADER_BYTES {
                    assert!(
                        matches!(result, Err(FormError::Malformed(_))),
                        "{len} in pieces of {size}: {result:?}"
                    );
                } else {
                    let parts = result.unwrap_or_else(|e| panic!("{len} in {size}: {e}"));
                    assert_eq!(parts.len(), 1, "{len} in pieces of {size}");
                    assert_eq!(parts[0].name.as_deref(), Some("m"));
                    assert_eq!(parts[0].content, b"hi");
                }
            }
        }
    }

    #[test]
    fn preamble_padding_and_epilogue_are_ignored() {
        let body = format!(
            "a preamble\r\n--{B} \t\r\nContent-Disposition: form-data; name=\"m\"\r\n\r\nhi\r\n\
             --{B}--\r\nan epilogue"
        );
        let parts = read_all(vec![Bytes::from(body)], u64::MAX).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].content, b"hi");
    }

    #[test]
    fn boundaries_are_read_from_the_content_type_and_checked() {
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={B}")).as_deref(),
            Some(B)
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b=c\"").as_deref(),
            Some("a b=c")
        );
        for bad in [
            "text/plain; boundary=abc",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\"ends with space \"",
            "multipart/form-data; boundary=bad\r\nheader",
            "multipart/form-data; boundary=\"abc",
            "multipart/form-data; boundary=abc\"",
            "multipart/form-data; boundary=a b",
            "multipart/form-data; boundary=abc; boundary=abd",
            "multipart/form-data; boundary=\"a\"; x=\"b; boundary=c\"; boundary=d",
            &format!("multipart/form-data; boundary={}", "x".repeat(71)),
        ] {
            assert_eq!(boundary(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types_keep_only_a_well_formed_essence() {
        assert_eq!(
            essence(" Video/MP4 ; codecs=x").as_deref(),
            Some("video/mp4")
        );
        assert_eq!(essence("text/plain\"<x>"), None);
        assert_eq!(essence("nonsense"), None);
    }

    /// A small deterministic generator (xorshift64*), so failures can be replayed by seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
            items[self.below(items.len())]
        }
    }

    /// Bytes made of fragments that keep almost forming the delimiter, never the whole of it.
    fn near_misses(rng: &mut Rng, max_fragments: usize) -> Vec<u8> {
        let delimiter = format!("\r\n--{B}");
        loop {
            let mut out = Vec::new();
            for _ in 0..rng.below(max_fragments + 1) {
                match rng.below(9) {
                    0 => out.push(b'\r'),
                    1 => out.push(b'\n'),
                    2 => out.push(b'-'),
                    3 => out.extend_from_slice(b"\r\n"),
                    4 => out.extend_from_slice(b"\r\n--"),
                    5 => {
                        let cut = 1 + rng.below(delimiter.len() - 1);
                        out.extend_from_slice(&delimiter.as_bytes()[..cut]);
                    }
                    6 => out.extend_from_slice(format!("--{B}").as_bytes()),
                    7 => out.extend((0..rng.below(40)).map(|_| rng.next() as u8)),
                    _ => out.extend_from_slice("й\\%22 \t".as_bytes()),
                }
            }
            // Content may not hold the delimiter (RFC 2046): draw again if it does.
            let with_lead = [b"\r\n".as_slice(), &out].concat();
            if memmem::find(&with_lead, delimiter.as_bytes()).is_none() {
                return out;
            }
        }
    }

    fn random_form(rng: &mut Rng) -> (Vec<u8>, Vec<Part>) {
        let mut body = Vec::new();
        if rng.below(3) == 0 {
            body.extend(near_misses(rng, 6));
            body.extend_from_slice(b"\r\n");
        }
        let mut parts = Vec::new();
        for _ in 0..rng.below(5) {
            body.extend_from_slice(format!("--{B}").as_bytes());
            body.extend((0..rng.below(3)).map(|_| if rng.below(2) == 0 { b' ' } else { b'\t' }));
            body.extend_from_slice(b"\r\n");
            // What browsers put in names: UTF-8, raw backslashes, quotes as %22, semicolons.
            let names: [&str; 6] = ["message", "files", "фото; 1.jpg", "a\\b\\", "x%22y=z", ""];
            let name = rng.pick(&names).to_owned();
            let file_name = (rng.below(2) == 0).then(|| rng.pick(&names).to_owned());
            let disposition = rng.pick(&["Content-Disposition", "content-disposition"]);
            body.extend_from_slice(format!("{disposition}: form-data; name=\"{name}\"").as_bytes());
            if let Some(file_name) = &file_name {
                body.extend_from_slice(format!("; filename=\"{file_name}\"").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            let content_type = match rng.below(3) {
                0 => None,
                1 => {
                    body.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
                    Some("application/octet-stream".to_owned())
                }
                _ => {
                    body.extend_from_slice(b"content-type: Text/Plain; charset=UTF-8\r\n");
                    Some("text/plain".to_owned())
                }
            };
            body.extend_from_slice(b"\r\n");
            let content = near_misses(rng, 12);
            body.extend_from_slice(&content);
            body.extend_from_slice(b"\r\n");
            parts.push(Part {
                name: Some(name),
                file_name,
                content_type,
                content,
                pieces: 0,
            });
        }
        body.extend_from_slice(format!("--{B}--").as_bytes());
        if rng.below(2) == 0 {
            body.extend_from_slice(b"\r\n");
            body.extend(near_misses(rng, 4));
        }
        (body, parts)
    }

    /// Cut `body` at random places, with an empty piece now and then.
    fn random_pieces(rng: &mut Rng, body: &[u8]) -> Vec<Bytes> {
        let body = Bytes::copy_from_slice(body);
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < body.len() {
            if rng.below(8) == 0 {
                pieces.push(Bytes::new());
            }
            let max = [1, 2, 3, 8, 40, 500][rng.below(6)];
            let len = (1 + rng.below(max)).min(body.len() - at);
            pieces.push(body.slice(at..at + len));
            at += len;
        }
        pieces
    }

    #[test]
    fn random_forms_in_random_pieces_read_as_they_were_written() {
        let mut rng = Rng(0x5ea1_d40b_2026_0001);
        for round in 0..4000 {
            let (body, expected) = random_form(&mut rng);
            let pieces = random_pieces(&mut rng, &body);
            if expected.is_empty() {
                // A form of no parts at all is not one.
                let result = read_all(pieces, body.len() as u64);
                assert!(
                    matches!(result, Err(FormError::Malformed(_))),
                    "round {round}: {result:?}"
                );
                continue;
            }
            let parts = read_all(pieces, body.len() as u64).unwrap_or_else(|e| {
                panic!(
                    "round {round}: {e} for {:?}",
                    String::from_utf8_lossy(&body)
                )
            });
            assert_eq!(
                without_pieces(parts),
                expected,
                "round {round}: {:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    /// Damaged forms (bytes dropped, inserted, changed, the end cut off), in random pieces and
    /// under random limits: an answer every time, never a panic.
    #[test]
    fn damaged_forms_are_answered_without_a_panic() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..20_000 {
            let (mut body, _) = random_form(&mut rng);
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(body.len() + 1);
                match rng.below(4) {
                    0 if at < body.len() => {
                        body.remove(at);
                    }
                    1 => body.insert(
                        at,
                        *rng.pick(&[&b'\r', &b'\n', &b'-', &b'"', &b';', &b' ', &b':']),
                    ),
                    2 if at < body.len() => body[at] = rng.next() as u8,
                    _ => body.truncate(at),
                }
            }
            let pieces = random_pieces(&mut rng, &body);
            let limit = if rng.below(4) == 0 {
                rng.below(body.len() + 1) as u64
            } else {
                u64::MAX
            };
            let answer = std::panic::catch_unwind(|| read_all(pieces, limit));
            assert!(
                answer.is_ok(),
                "round {round}: {:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn content_of_nothing_but_line_break_bytes_is_held_back_by_at_most_a_delimiter() {
        let head = format!("--{B}\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\n");
        let almost = format!("\r\n--{}", &B[..B.len() - 1]);
        for fill in [&b"\r"[..], b"\r\n", b"\r\n-", b"\r\n--", almost.as_bytes()] {
            for size in [1, 7, 4096] {
                let mut body = head.clone().into_bytes();
                body.extend(fill.iter().cycle().take(1 << 18));
                let body = Bytes::from(body);
                let pieces: VecDeque<Bytes> = (0..body.len())
                    .step_by(size)
                    .map(|at| body.slice(at..(at + size).min(body.len())))
                    .collect();
                let mut form = FormReader::new(Pieces(pieces), B, u64::MAX);
                let result: Result<(), FormError> = block_on(async {
                    form.next_part().await?;
                    let mut out = 0;
                    while let Some(piece) = form.read().await? {
                        out += piece.len();
                        let held = form.pending.len();
                        assert!(held < B.len() + 4 + size, "{held} bytes held back");
                    }
                    panic!("the part ended after {out} bytes without a delimiter");
                });
                assert_eq!(
                    result,
                    Err(FormError::Truncated),
                    "{fill:?} in pieces of {size}"
                );
            }
        }
    }

    #[test]
    fn the_held_back_tail_is_only_ever_a_start_of_the_delimiter() {
        let d = b"\r\n--abc";
        assert_eq!(partial_delimiter_len(b"xyz", d), 0);
        assert_eq!(partial_delimiter_len(b"xyz\r", d), 1);
        assert_eq!(partial_delimiter_len(b"xyz\r\n-", d), 3);
        assert_eq!(partial_delimiter_len(b"xyz\r\n--ab", d), 6);
        assert_eq!(partial_delimiter_len(b"\r\n--abx", d), 0);
        assert_eq!(partial_delimiter_len(b"\r", d), 1);
        assert_eq!(partial_delimiter_len(b"", d), 0);
    }
}
