//! Text a client sends: one rule for control characters, used by the
//! validation of every input that carries text (usernames, passwords,
//! auction titles and descriptions, request ids).
//!
//! A control character is refused wherever it appears: PostgreSQL refuses a
//! NUL in a text column (the request would fail as a 500) while SQLite
//! stores it, and the others hide or rearrange text in logs, pages and
//! terminals. Multi-line fields keep `\n`, `\r` and `\t`.

/// Whether a field is one line of text or may span several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// No control character at all (titles, names, ids, passwords).
    Single,
    /// Line feed, carriage return and tab are allowed (descriptions).
    Multi,
}

/// A control character (C0, DEL or C1) where none may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must not contain control characters (found U+{code:04X})")]
pub struct ControlCharacter {
    /// The first offending character's code point.
    pub code: u32,
}

/// Checks `text` for control characters (Unicode category Cc: U+0000 to
/// U+001F, U+007F to U+009F), allowing `\n`, `\r` and `\t` in
/// [`Lines::Multi`] fields.
pub fn check_text(text: &str, lines: Lines) -> Result<(), ControlCharacter> {
    let allowed = |c: char| lines == Lines::Multi && matches!(c, '\n' | '\r' | '\t');
    match text.chars().find(|&c| c.is_control() && !allowed(c)) {
        Some(c) => Err(ControlCharacter { code: u32::from(c) }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_refused_in_one_line_text() {
        for code in (0u32..0x20).chain(0x7f..0xa0) {
            let c = char::from_u32(code).expect("a char");
            let text = format!("a{c}b");
            assert_eq!(
                check_text(&text, Lines::Single),
                Err(ControlCharacter { code }),
                "U+{code:04X}"
            );
        }
    }

    #[test]
    fn multi_line_text_keeps_line_breaks_and_tabs_only() {
        assert_eq!(check_text("one\ntwo\r\n\tthree", Lines::Multi), Ok(()));
        assert!(check_text("one\ntwo", Lines::Single).is_err());
        assert!(check_text("nul\0", Lines::Multi).is_err());
        assert!(check_text("esc\u{1b}[31m", Lines::Multi).is_err());
        assert!(check_text("c1\u{85}", Lines::Multi).is_err());
        assert!(check_text("del\u{7f}", Lines::Multi).is_err());
    }

    #[test]
    fn ordinary_text_passes() {
        for text in [
            "",
            "Teapot, 1890",
            "Émile’s “vase” — 50 €",
            "日本語",
            "emoji 🦀",
        ] {
            assert_eq!(check_text(text, Lines::Single), Ok(()), "{text}");
        }
    }
}
