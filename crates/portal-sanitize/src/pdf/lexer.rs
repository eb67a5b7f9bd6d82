//! Tokens of PDF object syntax (ISO 32000-2, section 7.2 and 7.3), read leniently: bytes that
//! form no token are skipped, so damaged files are still scanned to the end.

use super::names::decode_name;
use crate::bytes::find;

/// A token. String contents and comments are not returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// `<<`
    DictOpen,
    /// `>>`
    DictClose,
    /// `[`
    ArrayOpen,
    /// `]`
    ArrayClose,
    /// A name with `#xx` escapes decoded, without the leading `/`. Names longer than
    /// [`MAX_DECODED_NAME`] raw bytes are returned empty, since no name of interest is that long.
    Name(Vec<u8>),
    /// A non-negative integer that fits `u64`.
    Integer(u64),
    /// Any other regular token: keywords such as `obj`, `stream` and `R`, and other numbers.
    Keyword(&'a [u8]),
    /// A literal or hexadecimal string.
    String,
}

/// Maximum length of a raw name that is decoded: three bytes (`#xx`) for each of the 13 characters of
/// `EmbeddedFiles`, the longest name the scanner looks for, with room to spare.
pub(crate) const MAX_DECODED_NAME: usize = 48;

/// Returns whether `byte` is PDF whitespace.
pub(crate) fn is_whitespace(byte: u8) -> bool {
    matches!(byte, 0 | b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}

/// Returns whether `byte` is a PDF delimiter.
pub(crate) fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// Returns whether `byte` is a regular character, one that continues a name or keyword.
pub(crate) fn is_regular(byte: u8) -> bool {
    !is_whitespace(byte) && !is_delimiter(byte)
}

/// A cursor that returns tokens from `data`.
pub(crate) struct Lexer<'a> {
    data: &'a [u8],
    position: usize,
    /// Literal strings are read only from this offset on. After an unterminated or suspicious
    /// string every `(` before it is read as junk, which keeps lexing linear in the data length.
    strings_from: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            position: 0,
            strings_from: 0,
        }
    }

    /// Returns the offset of the next unread byte.
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    /// Continues reading at `position`, such as after stream data.
    pub(crate) fn set_position(&mut self, position: usize) {
        self.position = position;
    }

    /// Returns the next token, or None at the end of the data.
    pub(crate) fn next_token(&mut self) -> Option<Token<'a>> {
        loop {
            let byte = *self.data.get(self.position)?;
            let next = self.data.get(self.position.checked_add(1)?).copied();
            match byte {
                _ if is_whitespace(byte) => self.advance(1),
                b'%' => self.skip_comment(),
                b'(' if self.position < self.strings_from => self.advance(1),
                b'(' => match literal_string(self.data, self.position) {
                    LiteralString::Closed(end) => {
                        self.position = end;
                        return Some(Token::String);
                    }
                    // A suspicious or unterminated `(` is read as junk, so what follows it is
                    // scanned as objects.
                    LiteralString::Suspicious(end) => {
                        self.strings_from = end;
                        self.advance(1);
                    }
                    LiteralString::Unterminated => {
                        self.strings_from = usize::MAX;
                        self.advance(1);
                    }
                },
                b'<' if next == Some(b'<') => {
                    self.advance(2);
                    return Some(Token::DictOpen);
                }
                b'<' => match hex_string_end(self.data, self.position) {
                    Some(end) => {
                        self.position = end;
                        return Some(Token::String);
                    }
                    None => self.advance(1),
                },
                b'>' if next == Some(b'>') => {
                    self.advance(2);
                    return Some(Token::DictClose);
                }
                b'[' => {
                    self.advance(1);
                    return Some(Token::ArrayOpen);
                }
                b']' => {
                    self.advance(1);
                    return Some(Token::ArrayClose);
                }
                b'/' => {
                    self.advance(1);
                    let raw = self.take_regular();
                    let name = if raw.len() <= MAX_DECODED_NAME {
                        decode_name(raw)
                    } else {
                        Vec::new()
                    };
                    return Some(Token::Name(name));
                }
                _ if is_delimiter(byte) => self.advance(1),
                _ => {
                    let raw = self.take_regular();
                    return Some(match parse_integer(raw) {
                        Some(value) => Token::Integer(value),
                        None => Token::Keyword(raw),
                    });
                }
            }
        }
    }

    fn advance(&mut self, count: usize) {
        self.position = self.position.saturating_add(count);
    }

    /// Skips a comment up to the end of its line (CR or LF).
    fn skip_comment(&mut self) {
        let rest = self.data.get(self.position..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&byte| byte == b'\r' || byte == b'\n')
            .unwrap_or(rest.len());
        self.advance(len);
    }

    /// Returns the run of regular characters at the cursor and moves past it.
    fn take_regular(&mut self) -> &'a [u8] {
        let rest = self.data.get(self.position..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&byte| !is_regular(byte))
            .unwrap_or(rest.len());
        self.advance(len);
        rest.get(..len).unwrap_or_default()
    }
}

/// The end of a literal string that starts with `(`.
enum LiteralString {
    /// Balanced; the offset after its closing `)`.
    Closed(usize),
    /// Balanced, but its contents look like object definitions (`N G obj` or `endobj`);
    /// the offset after its closing `)`. Readers locate objects through the cross-reference
    /// table, so a stray `(` between objects would otherwise hide the objects after it from a
    /// linear scan.
    Suspicious(usize),
    /// Never closes.
    Unterminated,
}

/// Finds the end of the literal string opening at `open`, honouring nested parentheses and
/// backslash escapes.
fn literal_string(data: &[u8], open: usize) -> LiteralString {
    let mut depth = 0_usize;
    let mut position = open;
    while let Some(&byte) = data.get(position) {
        match byte {
            b'\\' => position = position.saturating_add(1),
            b'(' => depth = depth.saturating_add(1),
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let end = position.saturating_add(1);
                    let contents = data.get(open..end).unwrap_or_default();
                    return if looks_like_objects(contents) {
                        LiteralString::Suspicious(end)
                    } else {
                        LiteralString::Closed(end)
                    };
                }
            }
            _ => {}
        }
        position = position.saturating_add(1);
    }
    LiteralString::Unterminated
}

/// Returns whether `contents` contains `endobj` or an `obj` keyword after a generation number.
fn looks_like_objects(contents: &[u8]) -> bool {
    if find(contents, b"endobj", 0).is_some() {
        return true;
    }
    let mut from = 0;
    while let Some(position) = find(contents, b"obj", from) {
        let before = position
            .checked_sub(2)
            .and_then(|at| contents.get(at..position));
        let after = position.checked_add(3).and_then(|at| contents.get(at));
        let keyword_before = matches!(before, Some([digit, space]) if digit.is_ascii_digit() && is_whitespace(*space));
        if keyword_before && after.is_none_or(|&byte| !is_regular(byte)) {
            return true;
        }
        let Some(next) = position.checked_add(1) else {
            return false;
        };
        from = next;
    }
    false
}

/// Returns the offset after the `>` that closes the hexadecimal string opening at `open`, or
/// None when a byte other than a hex digit or whitespace comes first.
fn hex_string_end(data: &[u8], open: usize) -> Option<usize> {
    let contents = data.get(open.checked_add(1)?..)?;
    let len = contents
        .iter()
        .position(|&byte| !(byte.is_ascii_hexdigit() || is_whitespace(byte)))?;
    if contents.get(len) != Some(&b'>') {
        return None;
    }
    open.checked_add(len)?.checked_add(2)
}

/// Parses an unsigned decimal integer token.
fn parse_integer(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    raw.iter().try_fold(0_u64, |value, &digit| {
        value
            .checked_mul(10)?
            .checked_add(u64::from(digit.checked_sub(b'0')?))
    })
}
