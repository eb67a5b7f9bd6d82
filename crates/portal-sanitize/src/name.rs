//! File names: the safe display name stored with a file, and the note when the name or declared
//! media type disagrees with the bytes.

use crate::{FileType, Finding, findings};

/// Maximum length of the stem, in characters.
const MAX_STEM_CHARS: usize = 100;

/// A safe display name: the stem of `name` with path parts, control and bidi characters
/// removed, at most 100 chars, plus the detected type's extension (so "scan.jpg" holding PNG
/// becomes "scan.png"; an empty stem becomes "file").
///
/// Only the part after the last `/` or `\` is kept, and the stem is what precedes its last
/// `.`, so `.png` has an empty stem. Besides control characters (C0, DEL and C1) and the Unicode
/// bidirectional formatting characters, zero-width characters and the characters Windows
/// reserves in file names (`< > : " | ? *`) are removed. Leading and trailing dots and
/// whitespace are trimmed, so `..` alone becomes `file`.
pub fn corrected_name(name: &str, file_type: FileType) -> String {
    let last_part = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last_part.chars().filter(|&c| !is_removed(c)).collect();
    let stem = match cleaned.rfind('.') {
        Some(dot) => cleaned.get(..dot).unwrap_or_default(),
        None => cleaned.as_str(),
    };

    let stem = trim_name(stem);
    let truncated: String = stem.chars().take(MAX_STEM_CHARS).collect();
    let stem = match trim_name(&truncated) {
        "" => "file",
        stem => stem,
    };
    format!("{stem}.{}", file_type.extension())
}

/// Returns a `type-mismatch` finding when the extension of `name`, or else `declared_type`,
/// names a different type than the bytes are.
///
/// A name without an extension, and an empty or `application/octet-stream` declared type, say
/// nothing about the type and never disagree.
pub(crate) fn type_mismatch(name: &str, declared_type: &str, actual: FileType) -> Option<Finding> {
    if let Some(extension) = extension(name) {
        let claimed = type_for_extension(&extension);
        if claimed != Some(actual) {
            return Some(findings::type_mismatch(actual, claimed));
        }
    }

    let essence = declared_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() || essence == "application/octet-stream" {
        return None;
    }
    let claimed = type_for_media_type(&essence);
    (claimed != Some(actual)).then(|| findings::type_mismatch(actual, claimed))
}

/// Returns the lowercase extension of the last path part of `name`, if it has one.
fn extension(name: &str) -> Option<String> {
    let last_part = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let dot = last_part.rfind('.')?;
    let extension = last_part.get(dot..)?.trim_start_matches('.').trim();
    (!extension.is_empty()).then(|| extension.to_ascii_lowercase())
}

fn type_for_extension(extension: &str) -> Option<FileType> {
    match extension {
        "pdf" => Some(FileType::Pdf),
        "jpg" | "jpeg" | "jpe" | "jfif" => Some(FileType::Jpeg),
        "png" => Some(FileType::Png),
        "heic" | "heif" | "hif" => Some(FileType::Heic),
        "txt" | "text" => Some(FileType::Text),
        _ => None,
    }
}

fn type_for_media_type(essence: &str) -> Option<FileType> {
    match essence {
        "application/pdf" | "application/x-pdf" => Some(FileType::Pdf),
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(FileType::Jpeg),
        "image/png" | "image/x-png" => Some(FileType::Png),
        "image/heic" | "image/heif" | "image/heic-sequence" | "image/heif-sequence" => {
            Some(FileType::Heic)
        }
        "text/plain" => Some(FileType::Text),
        _ => None,
    }
}

/// Trims dots and whitespace from both ends.
fn trim_name(stem: &str) -> &str {
    stem.trim_matches(|c: char| c == '.' || c.is_whitespace())
}

/// Characters removed from display names.
fn is_removed(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidirectional formatting characters (Unicode Standard Annex #9).
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            // Zero-width characters and the byte order mark.
            | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
            // Reserved in Windows file names; `/` and `\` never reach here.
            | '<' | '>' | ':' | '"' | '|' | '?' | '*'
        )
}
