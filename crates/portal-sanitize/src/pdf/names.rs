//! PDF names that mark rejected features, `#xx` decoding, and a scanner for names in opaque
//! stream data.

use std::collections::BTreeSet;

use super::lexer::{MAX_DECODED_NAME, is_regular};
use crate::findings::PdfFeature;

/// Returns the feature that the decoded name (without `/`) marks.
pub(crate) fn feature(name: &[u8]) -> Option<PdfFeature> {
    let feature = match name {
        b"JavaScript" | b"JS" => PdfFeature::JavaScript,
        b"OpenAction" => PdfFeature::OpenAction,
        b"AA" => PdfFeature::AdditionalActions,
        // Actions that open another file or program, or send form data out of the document.
        b"Launch" | b"GoToR" | b"GoToE" | b"SubmitForm" | b"ImportData" => PdfFeature::Launch,
        b"EmbeddedFile" | b"EmbeddedFiles" => PdfFeature::EmbeddedFile,
        b"XFA" => PdfFeature::Xfa,
        b"RichMedia" => PdfFeature::RichMedia,
        b"Encrypt" => PdfFeature::Encrypted,
        _ => return None,
    };
    Some(feature)
}

/// Decodes `#xx` escapes in a raw name (ISO 32000-2, 7.3.5), so `J#61vaScript` reads as
/// `JavaScript`. A `#` without two hex digits is kept as it is.
pub(crate) fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'#'
            && let [high, low, after @ ..] = tail
            && let (Some(high), Some(low)) = (hex_value(*high), hex_value(*low))
        {
            decoded.push(high.wrapping_shl(4) | low);
            rest = after;
            continue;
        }
        decoded.push(byte);
        rest = tail;
    }
    decoded
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// Finds feature names in data that is not PDF object syntax, such as content streams, images
/// and fonts, fed in chunks of any size.
///
/// Only names of six or more characters are reported here (`JavaScript`, `OpenAction`,
/// `Launch`, `EmbeddedFile(s)`, `RichMedia`, `Encrypt`). Compressed image data is close to
/// random. There, `/JS` or `/AA` followed by one of the 16 delimiter or whitespace bytes appears
/// about once per 2^28 bytes each, so matching them would reject about one 10 MB scanned
/// document in 13. A six-character name appears about once per 2^60 bytes. The short names `JS`,
/// `AA` and `XFA` only take effect as dictionary keys, which the object scan finds.
#[derive(Debug, Default)]
pub(crate) struct OpaqueNameScanner {
    name: Vec<u8>,
    in_name: bool,
    too_long: bool,
    found: BTreeSet<PdfFeature>,
}

impl OpaqueNameScanner {
    /// Scans the next chunk of data. A name may continue from one chunk into the next.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.in_name {
                let len = rest
                    .iter()
                    .position(|&byte| !is_regular(byte))
                    .unwrap_or(rest.len());
                let Some((part, after)) = rest.split_at_checked(len) else {
                    return;
                };
                let room = MAX_DECODED_NAME.saturating_sub(self.name.len());
                self.too_long |= part.len() > room;
                self.name
                    .extend_from_slice(part.get(..room).unwrap_or(part));
                if after.is_empty() {
                    return;
                }
                self.end_name();
                rest = after;
            } else {
                // Jump to the next `/`, which starts a name; everything before it is skipped.
                let Some(slash) = rest.iter().position(|&byte| byte == b'/') else {
                    return;
                };
                self.in_name = true;
                self.too_long = false;
                self.name.clear();
                rest = rest.get(slash.saturating_add(1)..).unwrap_or_default();
            }
        }
    }

    /// Ends the data and returns the features found.
    pub(crate) fn finish(mut self) -> BTreeSet<PdfFeature> {
        if self.in_name {
            self.end_name();
        }
        self.found
    }

    fn end_name(&mut self) {
        self.in_name = false;
        if self.too_long {
            return;
        }
        let decoded = decode_name(&self.name);
        if decoded.len() >= 6
            && let Some(feature) = feature(&decoded)
        {
            self.found.insert(feature);
        }
    }
}
