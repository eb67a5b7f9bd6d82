//! Tracks the outermost dictionary in a token sequence, so that when the `stream` keyword follows
//! it the stream's type, filters and length are known.

use super::lexer::Token;

/// Deepest nesting of dictionaries and arrays that is tracked. PDF readers stop much earlier
/// (pdf.js and PDFium at a few hundred levels), so deeper nesting is reported as uninspectable.
const MAX_NESTING: usize = 512;

/// A filter in a stream's `/Filter` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// `/FlateDecode`, or `/Fl` as abbreviated in inline images.
    Flate,
    /// Any other filter.
    Other,
}

/// The stream dictionary entries that decide how the stream is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StreamDict {
    /// `/Type /ObjStm`, or a `/First` key, which only object streams have.
    pub(crate) object_stream: bool,
    /// The filters in order.
    pub(crate) filters: Vec<Filter>,
    /// `/Filter` is an indirect reference or another value that cannot be read here.
    pub(crate) unknown_filter: bool,
    /// `/Length` when it is a direct integer.
    pub(crate) length: Option<u64>,
    /// A `/Predictor` greater than 1 in the decode parameters.
    pub(crate) predictor: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Type,
    Filter,
    Length,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bracket {
    Dict,
    Array,
}

/// Follows tokens at the top level of a content, object stream or file.
#[derive(Debug, Default)]
pub(crate) struct DictTracker {
    open: Vec<Bracket>,
    current: StreamDict,
    key: Option<Key>,
    /// Tokens seen since `/Length N`, to notice `N G R`.
    after_length: u8,
    after_predictor: bool,
    completed: Option<StreamDict>,
    /// Nesting went past [`MAX_NESTING`].
    pub(crate) too_deep: bool,
}

impl DictTracker {
    /// Returns the dictionary that the previous token closed, if that token closed an outermost
    /// dictionary.
    pub(crate) fn take_completed(&mut self) -> Option<StreamDict> {
        self.completed.take()
    }

    /// Follows one token.
    pub(crate) fn push(&mut self, token: &Token<'_>) {
        self.completed = None;
        let at_top_of_dict = self.open.as_slice() == [Bracket::Dict];
        self.follow_length_reference(token, at_top_of_dict);
        self.follow_predictor(token);

        match token {
            Token::DictOpen => self.open_bracket(Bracket::Dict),
            Token::ArrayOpen => self.open_bracket(Bracket::Array),
            Token::DictClose | Token::ArrayClose => {
                if self.open.pop().is_none() {
                    return;
                }
                match self.open.as_slice() {
                    [] if *token == Token::DictClose => {
                        self.completed = Some(std::mem::take(&mut self.current));
                    }
                    [Bracket::Dict] => self.key = None,
                    _ => {}
                }
            }
            Token::Name(name) if at_top_of_dict => match self.key.take() {
                None => {
                    self.key = Some(match name.as_slice() {
                        b"Type" => Key::Type,
                        b"Filter" => Key::Filter,
                        b"Length" => Key::Length,
                        b"First" => {
                            self.current.object_stream = true;
                            Key::Other
                        }
                        _ => Key::Other,
                    });
                }
                Some(Key::Type) => self.current.object_stream |= name == b"ObjStm",
                Some(Key::Filter) => self.current.filters = vec![filter(name)],
                Some(_) => {}
            },
            Token::Name(name)
                if self.open.as_slice() == [Bracket::Dict, Bracket::Array]
                    && self.key == Some(Key::Filter) =>
            {
                self.current.filters.push(filter(name));
            }
            Token::Integer(value) if at_top_of_dict => match self.key.take() {
                Some(Key::Length) => {
                    self.current.length = Some(*value);
                    self.after_length = 1;
                }
                Some(Key::Filter) => self.current.unknown_filter = true,
                _ => {}
            },
            _ if at_top_of_dict => {
                let key = self.key.take();
                self.current.unknown_filter |= key == Some(Key::Filter);
            }
            _ => {}
        }
    }

    fn open_bracket(&mut self, bracket: Bracket) {
        if self.open.is_empty() {
            if bracket == Bracket::Array {
                // Arrays at the top level hold no stream dictionary; track them for nesting.
                self.open.push(bracket);
                return;
            }
            self.current = StreamDict::default();
            self.key = None;
        }
        if self.open.len() >= MAX_NESTING {
            self.too_deep = true;
            return;
        }
        self.open.push(bracket);
    }

    /// Clears `/Length` when it turns out to be an indirect reference `N G R`.
    fn follow_length_reference(&mut self, token: &Token<'_>, at_top_of_dict: bool) {
        self.after_length = match (self.after_length, token) {
            (1, Token::Integer(_)) if at_top_of_dict => 2,
            (2, Token::Keyword(b"R")) if at_top_of_dict => {
                self.current.length = None;
                0
            }
            _ => 0,
        };
    }

    /// Notes `/Predictor N` with N greater than 1, at any depth.
    fn follow_predictor(&mut self, token: &Token<'_>) {
        if self.after_predictor
            && let Token::Integer(value) = token
            && *value > 1
        {
            self.current.predictor = true;
        }
        self.after_predictor = matches!(token, Token::Name(name) if name == b"Predictor");
    }
}

fn filter(name: &[u8]) -> Filter {
    match name {
        b"FlateDecode" | b"Fl" => Filter::Flate,
        _ => Filter::Other,
    }
}
