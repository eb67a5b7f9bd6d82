//! Finding codes and the messages shown to patients.
//!
//! Messages are fixed sentences. They may mention the configured limits but never bytes, names or
//! values taken from the uploaded file.

use crate::{Finding, Limits};

fn finding(code: &'static str, message: &str) -> Finding {
    Finding {
        code,
        message: message.to_owned(),
    }
}

/// Returns the finding for a file with no bytes.
pub(crate) fn empty() -> Finding {
    finding(
        "empty",
        "This file is empty; choose the file again and re-upload.",
    )
}

/// Returns the finding for a known type outside the allowlist, which `noun` names (such as
/// "a GIF image").
pub(crate) fn type_not_allowed(noun: &str) -> Finding {
    Finding {
        code: "type-not-allowed",
        message: format!(
            "This file is {noun}, which is not accepted; convert it to JPEG, PNG or PDF and \
             re-upload."
        ),
    }
}

/// Returns the finding for a binary file of no known type.
pub(crate) fn unknown_type() -> Finding {
    finding(
        "type-not-allowed",
        "This type of file is not accepted; convert it to JPEG, PNG or PDF and re-upload.",
    )
}

/// Returns the finding for text that is not valid UTF-8.
pub(crate) fn text_not_utf8() -> Finding {
    finding(
        "type-not-allowed",
        "This text file is not saved as UTF-8; save it as UTF-8 text or PDF and re-upload.",
    )
}

/// Returns the finding for UTF-8 text with control characters other than tab, line feed,
/// carriage return and form feed.
pub(crate) fn text_control_characters() -> Finding {
    finding(
        "type-not-allowed",
        "This text file contains control characters; save it as plain text or PDF and re-upload.",
    )
}

/// Returns the finding for an archive, which `noun` names. `over_limit` is set when its entries
/// declare more than `limits.max_inflated_bytes` of content.
pub(crate) fn archive(noun: &str, over_limit: bool, limits: &Limits) -> Finding {
    let message = if over_limit {
        format!(
            "This file is {noun}, whose contents would expand to more than {} MiB; archives are \
             not accepted or unpacked, so upload the files inside it one at a time.",
            limits.max_inflated_bytes / (1024 * 1024)
        )
    } else {
        format!(
            "This file is {noun}, and archives are not accepted or unpacked; upload the files \
             inside it one at a time."
        )
    };
    Finding {
        code: "archive",
        message,
    }
}

/// Returns the finding for an Office document with VBA or Basic macros.
pub(crate) fn office_macros() -> Finding {
    finding(
        "office-macros",
        "This Office document contains macros, which are not accepted; save it as PDF and \
         re-upload.",
    )
}

/// Returns the finding for an Office document without macros.
pub(crate) fn office_document() -> Finding {
    finding(
        "office-document",
        "Office documents are not accepted; save it as PDF and re-upload.",
    )
}

/// Returns the finding for a program or script.
pub(crate) fn executable() -> Finding {
    finding(
        "executable",
        "Programs and scripts are not accepted; upload a photo, a PDF or a text file instead.",
    )
}

/// Returns the finding for an SVG image.
pub(crate) fn svg() -> Finding {
    finding(
        "svg",
        "SVG images are not accepted; export it as PNG or PDF and re-upload.",
    )
}

/// Returns the finding for an HTML page or other markup that a browser would render.
pub(crate) fn html() -> Finding {
    finding(
        "html",
        "Web pages are not accepted; print the page to PDF and re-upload.",
    )
}

/// Returns the finding for a file that is also valid as another type.
pub(crate) fn polyglot() -> Finding {
    finding(
        "polyglot",
        "This file also contains another type of file; export it again as a plain JPEG, PNG or \
         PDF and re-upload.",
    )
}

/// Returns the finding for a damaged image, or one that uses structures that cannot be checked.
pub(crate) fn corrupt_image() -> Finding {
    finding(
        "corrupt-image",
        "This image is damaged; export it again and re-upload.",
    )
}

/// Returns the finding for an image past `limits.max_dimension` or `limits.max_pixels`.
pub(crate) fn image_too_large(limits: &Limits) -> Finding {
    Finding {
        code: "image-too-large",
        message: format!(
            "This image is larger than the limit of {} pixels per side or {} million pixels in \
             total; resize it and re-upload.",
            limits.max_dimension,
            limits.max_pixels / 1_000_000
        ),
    }
}

/// Returns the finding for compressed data that expands past `limits.max_inflated_bytes`.
pub(crate) fn decompression_limit(limits: &Limits) -> Finding {
    Finding {
        code: "decompression-limit",
        message: format!(
            "This file expands to more than {} MiB when opened; save it again at a lower \
             resolution or with fewer pages and re-upload.",
            limits.max_inflated_bytes / (1024 * 1024)
        ),
    }
}

/// Returns the note that metadata or trailing data was removed from an accepted file.
pub(crate) fn metadata_removed() -> Finding {
    finding(
        "metadata-removed",
        "Hidden details such as location, camera and date were removed from this file; the \
         picture itself is unchanged.",
    )
}

/// Returns the note that the name or declared type disagrees with the bytes. `claimed` is the
/// claimed type when it is on the allowlist.
pub(crate) fn type_mismatch(actual: crate::FileType, claimed: Option<crate::FileType>) -> Finding {
    let noun = actual.noun();
    let extension = actual.extension();
    let message = match claimed {
        Some(claimed) => format!(
            "This file is {noun}, not {}; it was renamed to end in .{extension}.",
            claimed.noun()
        ),
        None => format!(
            "This file is {noun}, not the type its name or upload said; it was renamed to end \
             in .{extension}."
        ),
    };
    Finding {
        code: "type-mismatch",
        message,
    }
}

/// PDF features that are rejected; each maps to one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PdfFeature {
    /// `/JavaScript` or `/JS`.
    JavaScript,
    /// `/OpenAction` with an action, not a destination array.
    OpenAction,
    /// `/AA`.
    AdditionalActions,
    /// `/Launch`.
    Launch,
    /// `/EmbeddedFile` or `/EmbeddedFiles`.
    EmbeddedFile,
    /// `/XFA`.
    Xfa,
    /// `/RichMedia`.
    RichMedia,
    /// `/Encrypt`.
    Encrypted,
    /// An object stream or header that cannot be read, so objects could hide in it.
    Uninspectable,
}

impl PdfFeature {
    /// Returns the finding reported for the feature.
    pub(crate) fn finding(self) -> Finding {
        let (code, message) = match self {
            Self::JavaScript => (
                "pdf-javascript",
                "This PDF contains scripts; print it to a new PDF and re-upload.",
            ),
            Self::OpenAction => (
                "pdf-open-action",
                "This PDF runs an action when it is opened; print it to a new PDF and re-upload.",
            ),
            Self::AdditionalActions => (
                "pdf-additional-actions",
                "This PDF runs actions when pages or form fields are used; print it to a new PDF \
                 and re-upload.",
            ),
            Self::Launch => (
                "pdf-launch",
                "This PDF can start other programs, open other files or send data out; print it to a new PDF and re-upload.",
            ),
            Self::EmbeddedFile => (
                "pdf-embedded-file",
                "This PDF has attached files; upload each attachment on its own and print the \
                 PDF to a new PDF.",
            ),
            Self::Xfa => (
                "pdf-xfa",
                "This PDF is an XFA form, which cannot be checked; print it to a new PDF and \
                 re-upload.",
            ),
            Self::RichMedia => (
                "pdf-rich-media",
                "This PDF contains embedded media such as video or Flash; print it to a new PDF \
                 and re-upload.",
            ),
            Self::Encrypted => (
                "pdf-encrypted",
                "This PDF is encrypted or password-protected, so it cannot be checked; remove \
                 the password and re-upload.",
            ),
            Self::Uninspectable => (
                "pdf-uninspectable",
                "This PDF stores its content in a form that cannot be checked; print it to a new \
                 PDF and re-upload.",
            ),
        };
        finding(code, message)
    }
}
