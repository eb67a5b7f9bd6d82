//! Plain text: UTF-8 with a limited set of control characters and no markup that a browser or
//! image viewer would render.

use crate::bytes::{find, prefix};
use crate::detect::Detection;
use crate::{FileType, findings};

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Tags that make a browser sniff a file as HTML when one starts it, followed by a space or `>`
/// (WHATWG MIME Sniffing Standard, section 7.1, "identifying a resource with an unknown MIME
/// type").
const HTML_START_TAGS: [&[u8]; 17] = [
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
];

/// Tags that reject a text file wherever they appear, because a viewer that guesses the type
/// would render or run them.
const HTML_ANYWHERE: [&[u8]; 4] = [b"<script", b"<html", b"<iframe", b"<!doctype html"];

/// The XHTML namespace, which makes an XML file render as a web page.
const XHTML_NAMESPACE: &[u8] = b"http://www.w3.org/1999/xhtml";

/// Markup found in a text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup {
    /// HTML or XHTML.
    Html,
    /// An SVG image.
    Svg,
}

/// Classifies bytes that matched no binary signature: plain text, markup, or unknown binary.
pub(crate) fn classify(bytes: &[u8]) -> Detection {
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let binary = body.contains(&0);

    if std::str::from_utf8(body).is_err() {
        let finding = if binary {
            findings::unknown_type()
        } else {
            findings::text_not_utf8()
        };
        return Detection::Rejected {
            detected: None,
            finding,
        };
    }
    if body.iter().any(|&byte| is_forbidden_control(byte)) {
        let finding = if binary {
            findings::unknown_type()
        } else {
            findings::text_control_characters()
        };
        return Detection::Rejected {
            detected: None,
            finding,
        };
    }

    match markup(body) {
        Some(Markup::Html) => Detection::Rejected {
            detected: Some("text/html"),
            finding: findings::html(),
        },
        Some(Markup::Svg) => Detection::Rejected {
            detected: Some("image/svg+xml"),
            finding: findings::svg(),
        },
        None => Detection::Allowed(FileType::Text),
    }
}

/// Returns whether `bytes` is valid UTF-8 with no control characters other than tab, line
/// feed, form feed and carriage return.
pub(crate) fn is_plain_text(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    std::str::from_utf8(body).is_ok() && !body.iter().any(|&byte| is_forbidden_control(byte))
}

/// C0 control characters other than tab, line feed, form feed and carriage return.
fn is_forbidden_control(byte: u8) -> bool {
    byte < 0x20 && !matches!(byte, b'\t' | b'\n' | 0x0C | b'\r')
}

/// Finds HTML or SVG markup: a start that browsers sniff as HTML, an `<svg` element, a
/// `<script`, `<html`, `<iframe` or HTML doctype anywhere, or the XHTML namespace.
pub(crate) fn markup(bytes: &[u8]) -> Option<Markup> {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .and_then(|at| bytes.get(at..))
        .unwrap_or(&[]);
    let head = prefix(start, 64);

    let sniffed_html = HTML_START_TAGS.iter().any(|tag| {
        starts_with_ignore_case(head, tag) && matches!(head.get(tag.len()), Some(b' ' | b'>'))
    });
    if starts_with_ignore_case(head, b"<svg") {
        return Some(Markup::Svg);
    }
    if sniffed_html {
        return Some(Markup::Html);
    }

    let mut from = 0;
    while let Some(position) = find(bytes, b"<", from) {
        let rest = bytes.get(position..).unwrap_or(&[]);
        if starts_with_ignore_case(rest, b"<svg") {
            return Some(Markup::Svg);
        }
        if HTML_ANYWHERE
            .iter()
            .any(|tag| starts_with_ignore_case(rest, tag))
        {
            return Some(Markup::Html);
        }
        let Some(next) = position.checked_add(1) else {
            break;
        };
        from = next;
    }
    find(bytes, XHTML_NAMESPACE, 0).map(|_| Markup::Html)
}

/// Returns whether `bytes` starts with `lowercase`, comparing ASCII letters without case.
pub(crate) fn starts_with_ignore_case(bytes: &[u8], lowercase: &[u8]) -> bool {
    bytes
        .get(..lowercase.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(lowercase))
}

/// Returns whether the first `window` bytes contain any of `lowercase_markers`, ignoring case.
pub(crate) fn head_contains_any(bytes: &[u8], window: usize, lowercase_markers: &[&[u8]]) -> bool {
    let head = prefix(bytes, window);
    let mut from = 0;
    while let Some(position) = find(head, b"<", from) {
        if lowercase_markers.iter().any(|marker| {
            head.get(position..)
                .is_some_and(|rest| starts_with_ignore_case(rest, marker))
        }) {
            return true;
        }
        let Some(next) = position.checked_add(1) else {
            break;
        };
        from = next;
    }
    false
}
