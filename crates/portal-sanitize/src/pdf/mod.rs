//! PDF: finds scripts, actions, attachments, XFA forms, rich media and encryption by their name
//! tokens, including inside FlateDecode streams. PDFs that pass are stored unchanged.
//!
//! The file is read as a sequence of tokens, not through its cross-reference table, so objects
//! that no table points to are checked too. Every name in object syntax is checked: the file
//! itself outside stream data, and object streams (`/Type /ObjStm`) after inflating them. Other
//! stream data (page contents, images, fonts) is not object syntax and can hold any bytes, so it
//! is only searched for the longer feature names, after inflating it when it is FlateDecode (see
//! [`names::OpaqueNameScanner`]). Names inside string literals are not checked, because URLs such
//! as `https://developer.mozilla.org/docs/Web/JavaScript` are common in printed web pages.
//!
//! All FlateDecode output of a file counts against [`Limits::max_inflated_bytes`].
//!
//! `/OpenAction` followed by an array is a destination (open at a page and zoom), which LaTeX and
//! other writers add to ordinary documents. Only an `/OpenAction` that is an action dictionary,
//! or a reference to one, is rejected.
//!
//! NOTE: A font or other resource named `/AA` or `/JS` in a resource dictionary is reported as
//! additional actions or JavaScript; such names are rare but legal.

mod dict;
mod lexer;
mod names;

use std::collections::BTreeSet;

use dict::{DictTracker, Filter, StreamDict};
use lexer::{Lexer, Token, is_whitespace};
use names::OpaqueNameScanner;

use crate::bytes::{find, has_at, rfind};
use crate::findings::{self, PdfFeature};
use crate::inflate::{InflateError, Inflater};
use crate::{Checked, Finding, Limits};

/// Object streams cannot contain streams (ISO 32000-2, 7.5.7), so object syntax is scanned at
/// most this many levels deep.
const MAX_DEPTH: u8 = 2;

/// Checks a PDF and reports every rejected feature it contains.
pub(crate) fn check<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Checked<'a>, Vec<Finding>> {
    if !has_supported_header(bytes) {
        return Err(vec![PdfFeature::Uninspectable.finding()]);
    }

    let mut scanner = Scanner::new(limits);
    scanner.scan_objects(bytes, 0);

    let mut findings: Vec<Finding> = scanner
        .features
        .iter()
        .map(|feature| feature.finding())
        .collect();
    if scanner.over_limit {
        findings.push(findings::decompression_limit(limits));
    }
    if !findings.is_empty() {
        return Err(findings);
    }
    Ok(Checked {
        cleaned: None,
        metadata_removed: false,
        trailer: trailer(bytes),
    })
}

/// Checks for `%PDF-1.x` or `%PDF-2.0` at offset 0.
fn has_supported_header(bytes: &[u8]) -> bool {
    let minor = bytes.get(7).copied().unwrap_or(0);
    (has_at(bytes, 0, b"%PDF-1.") && minor.is_ascii_digit()) || has_at(bytes, 0, b"%PDF-2.0")
}

/// Returns the bytes after the last `%%EOF` marker.
fn trailer(bytes: &[u8]) -> &[u8] {
    rfind(bytes, b"%%EOF")
        .and_then(|at| bytes.get(at.saturating_add(5)..))
        .unwrap_or_default()
}

/// State shared by the scan of one file.
struct Scanner {
    inflater: Inflater,
    features: BTreeSet<PdfFeature>,
    over_limit: bool,
}

impl Scanner {
    fn new(limits: &Limits) -> Self {
        Self {
            inflater: Inflater::new(limits.max_inflated_bytes),
            features: BTreeSet::new(),
            over_limit: false,
        }
    }

    /// Scans PDF object syntax: the file itself, or the contents of an object stream.
    fn scan_objects(&mut self, data: &[u8], depth: u8) {
        let mut lexer = Lexer::new(data);
        let mut tracker = DictTracker::default();
        let mut open_action_pending = false;

        while let Some(token) = lexer.next_token() {
            if self.over_limit {
                return;
            }
            if open_action_pending && token != Token::ArrayOpen {
                self.features.insert(PdfFeature::OpenAction);
            }
            open_action_pending = false;

            match &token {
                Token::Name(name) => match names::feature(name) {
                    Some(PdfFeature::OpenAction) => open_action_pending = true,
                    Some(feature) => {
                        self.features.insert(feature);
                    }
                    None => {}
                },
                Token::Keyword(b"stream") => {
                    let stream_dict = tracker.take_completed();
                    let resume = self.scan_stream(data, lexer.position(), stream_dict, depth);
                    lexer.set_position(resume);
                    continue;
                }
                _ => {}
            }
            tracker.push(&token);
        }

        if open_action_pending {
            self.features.insert(PdfFeature::OpenAction);
        }
        if tracker.too_deep {
            self.features.insert(PdfFeature::Uninspectable);
        }
    }

    /// Scans the stream whose `stream` keyword ends at `after_keyword` and returns the offset
    /// after its `endstream`.
    fn scan_stream(
        &mut self,
        data: &[u8],
        after_keyword: usize,
        stream_dict: Option<StreamDict>,
        depth: u8,
    ) -> usize {
        let stream_dict = stream_dict.unwrap_or_default();
        let start = skip_end_of_line(data, after_keyword);
        let (end, resume, verified) = stream_extent(data, start, stream_dict.length);
        let contents = data.get(start..end).unwrap_or_default();

        if stream_dict.object_stream {
            self.scan_object_stream(contents, &stream_dict, depth);
        } else {
            self.scan_opaque_stream(contents, &stream_dict);
        }
        // Without a length that lands on `endstream`, the data may run over objects that a
        // reader parses on their own (a stray `stream` keyword swallowing the catalog), so
        // the raw bytes are also searched as object syntax, short names included.
        if !verified {
            let next_depth = depth.saturating_add(1);
            if next_depth <= MAX_DEPTH {
                self.scan_objects(contents, next_depth);
            } else {
                self.features.insert(PdfFeature::Uninspectable);
            }
        }
        resume
    }

    /// Inflates an object stream and scans the objects in it. An object stream that is not
    /// plain or FlateDecode without a predictor cannot be read here, so it is reported.
    fn scan_object_stream(&mut self, contents: &[u8], stream_dict: &StreamDict, depth: u8) {
        let next_depth = depth.saturating_add(1);
        let readable = next_depth <= MAX_DEPTH
            && !stream_dict.unknown_filter
            && !stream_dict.predictor
            && matches!(stream_dict.filters.as_slice(), [] | [Filter::Flate]);
        if !readable {
            self.features.insert(PdfFeature::Uninspectable);
            return;
        }
        if stream_dict.filters.is_empty() {
            self.scan_objects(contents, next_depth);
            return;
        }

        let mut inflated = Vec::new();
        match self
            .inflater
            .inflate(contents, |chunk| inflated.extend_from_slice(chunk))
        {
            Ok(()) => {}
            Err(InflateError::OverLimit) => {
                self.over_limit = true;
                return;
            }
            // The objects after the damage cannot be read.
            Err(InflateError::Corrupt) => {
                self.features.insert(PdfFeature::Uninspectable);
            }
        }
        self.scan_objects(&inflated, next_depth);
    }

    /// Searches stream data that is not object syntax for the longer feature names, after
    /// inflating it when its first filter is FlateDecode.
    fn scan_opaque_stream(&mut self, contents: &[u8], stream_dict: &StreamDict) {
        let mut scanner = OpaqueNameScanner::default();
        let flate_first = stream_dict.filters.first() == Some(&Filter::Flate);
        if flate_first && !stream_dict.unknown_filter {
            // A damaged stream is scanned as far as it inflates; readers show it broken at most.
            let result = self.inflater.inflate(contents, |chunk| scanner.feed(chunk));
            if result == Err(InflateError::OverLimit) {
                self.over_limit = true;
            }
        } else {
            scanner.feed(contents);
        }
        self.features.extend(scanner.finish());
    }
}

/// Skips the end-of-line marker after the `stream` keyword (CRLF or LF; a lone CR is accepted
/// too, as readers do).
fn skip_end_of_line(data: &[u8], position: usize) -> usize {
    let skip = if has_at(data, position, b"\r\n") {
        2
    } else if has_at(data, position, b"\n") || has_at(data, position, b"\r") {
        1
    } else {
        0
    };
    position.saturating_add(skip)
}

/// Returns where the stream data starting at `start` ends and where scanning resumes.
///
/// A direct `/Length` is used when `endstream` follows the data at that length. Otherwise the
/// data runs to the next `endstream`, which is how readers repair a wrong length. Without any
/// `endstream` the data runs to the end. The caller also searches unconfirmed data as object
/// syntax, at most `MAX_DEPTH` levels deep.
/// The third value is true when the direct `/Length` was confirmed.
fn stream_extent(data: &[u8], start: usize, length: Option<u64>) -> (usize, usize, bool) {
    let declared_end = length
        .and_then(|length| usize::try_from(length).ok())
        .and_then(|length| start.checked_add(length))
        .filter(|&end| end <= data.len());
    if let Some(end) = declared_end {
        let keyword = data
            .get(end..)
            .unwrap_or_default()
            .iter()
            .position(|&byte| !is_whitespace(byte))
            .and_then(|offset| end.checked_add(offset));
        if let Some(keyword) = keyword
            && has_at(data, keyword, b"endstream")
        {
            return (end, keyword.saturating_add(9), true);
        }
    }

    match find(data, b"endstream", start) {
        Some(keyword) => {
            let mut end = keyword;
            if end > start && data.get(end.saturating_sub(1)) == Some(&b'\n') {
                end = end.saturating_sub(1);
            }
            if end > start && data.get(end.saturating_sub(1)) == Some(&b'\r') {
                end = end.saturating_sub(1);
            }
            (end, keyword.saturating_add(9), false)
        }
        None => (data.len(), data.len(), false),
    }
}
