//! Rules for free text that people read later: message bodies and subjects, and the reasons
//! clinicians give for emergency access, which compliance officers review in the audit log.

/// Returns whether `c` reorders or hides text on screen: the bidirectional overrides and
/// isolates (the "Trojan Source" characters) and the tag characters. The marks that
/// right-to-left languages need (U+200E, U+200F, U+061C) are not among them.
pub fn is_deceptive(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{E0000}'..='\u{E007F}')
}

/// Returns whether `c` shows nothing on its own: white space, control characters, zero-width
/// and filler characters, variation selectors, and the deceptive characters.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || is_deceptive(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        )
}

/// Returns the number of characters of `text` that show something.
pub fn visible_chars(text: &str) -> usize {
    text.chars().filter(|c| !is_invisible(*c)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_deceptive_characters_do_not_count() {
        assert_eq!(visible_chars("a\u{200B}b\u{202E}c \u{FEFF}"), 3);
        assert!(is_deceptive('\u{202E}'));
        assert!(!is_deceptive('\u{200F}'));
        assert!(is_invisible('\u{200F}'));
        assert!(!is_invisible('é'));
    }
}
