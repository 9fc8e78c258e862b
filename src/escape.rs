//! Server text is not terminal input: the one escaping of control and bidirectional characters.
//!
//! Names, groups, repository names and error texts come from the GIJ site, which gijctl does not
//! trust. Printed raw, `\x1b[2J` clears a reviewer's terminal, `\x1b]8;;…` plants a link, a
//! newline forges a plan line, and U+202E RIGHT-TO-LEFT OVERRIDE makes `exe.txt` read as
//! `txt.exe`. [`shown`] writes each such character as `\u{…}`, the form Rust's `{:?}` already
//! gives display names, so one string looks the same in every rendering. Everything else,
//! accents and emoji included, is printed as is.
//!
//! Two layers use it: renderers and error builders escape each server string where they format
//! it (so a newline cannot forge a line), and [`terminal`] is the last line of defence over a
//! whole rendering before it reaches stdout or stderr.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a character must not reach a terminal raw: C0 and C1 controls and DEL (cursor
/// movement, screen clearing, OSC titles and links), the bidirectional embedding, override and
/// isolate controls and marks (Trojan Source, CVE-2021-42574), and the Unicode line and
/// paragraph separators (which some terminals and viewers break lines at).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

/// `s` with every [`is_unsafe`] character written as `\u{…}` (newlines and tabs too: one server
/// string is one line). Borrows when there is nothing to escape, the usual case.
pub fn shown(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The last line of defence over a whole rendering: escapes like [`shown`] but keeps line
/// breaks and tabs (the rendering's own layout) and, when `keep_colour`, the SGR colour
/// sequences gijctl's own renderers emit (`ESC [ digits;… m`). Any other escape sequence
/// (cursor movement, clear screen, OSC titles and links) is escaped, so even a string a
/// renderer forgot to escape cannot act on the terminal.
pub fn terminal(s: &str, keep_colour: bool) -> Cow<'_, str> {
    let needs = s.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t');
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b'
            && keep_colour
            && let Some(len) = sgr_len(rest)
        {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if is_unsafe(c) && c != '\n' && c != '\t' {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The length of an SGR sequence (`ESC [ 0-9 ; ... m`) at the start of `s`, if there is one.
fn sgr_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(..2) != Some(b"\x1b[") {
        return None;
    }
    let params = b[2..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b';')
        .count();
    (b.get(2 + params) == Some(&b'm') && params <= 32).then_some(3 + params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_controls_and_bidi_like_debug() {
        let hostile = "a\u{1b}[2J\u{202e}b\u{9b}c\n\u{2066}\u{7f}";
        assert_eq!(
            shown(hostile),
            "a\\u{1b}[2J\\u{202e}b\\u{9b}c\\u{a}\\u{2066}\\u{7f}"
        );
        // The same characters the display names' `{:?}` escapes, in the same form.
        let debug = format!("{hostile:?}");
        for c in hostile.chars().filter(|c| is_unsafe(*c) && *c != '\n') {
            let e = format!("\\u{{{:x}}}", c as u32);
            assert!(debug.contains(&e), "{debug} lacks {e}");
        }
        assert!(matches!(shown("GitHub · acme ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_keeps_layout_and_own_colour_only() {
        let s = "\u{1b}[32m+ ok\u{1b}[0m\n\tx\u{1b}[2J\u{1b}]0;t\u{7}\u{202e}\r";
        assert_eq!(
            terminal(s, true),
            "\u{1b}[32m+ ok\u{1b}[0m\n\tx\\u{1b}[2J\\u{1b}]0;t\\u{7}\\u{202e}\\u{d}"
        );
        assert_eq!(
            terminal(s, false),
            "\\u{1b}[32m+ ok\\u{1b}[0m\n\tx\\u{1b}[2J\\u{1b}]0;t\\u{7}\\u{202e}\\u{d}"
        );
    }

    proptest! {
        /// Whatever a server sends, the escaped text holds no unsafe character, and nothing
        /// safe is changed.
        #[test]
        fn shown_leaves_nothing_unsafe(s in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069} a-z]*") {
            let out = shown(&s);
            prop_assert!(!out.chars().any(is_unsafe));
            if !s.chars().any(is_unsafe) {
                prop_assert_eq!(out.as_ref(), s.as_str());
            }
        }

        /// The last line keeps newlines and tabs and lets no other unsafe character through,
        /// except whole SGR sequences when colour is on.
        #[test]
        fn terminal_leaves_only_layout_and_sgr(s in "[\\x00-\\x1f\\x7f-\\u{9f}\\u{202e}\\[0-9;ma ]*", colour in any::<bool>()) {
            let out = terminal(&s, colour);
            let mut rest = out.as_ref();
            while let Some(c) = rest.chars().next() {
                if c == '\x1b' {
                    prop_assert!(colour);
                    let n = sgr_len(rest);
                    prop_assert!(n.is_some(), "{:?}", out);
                    rest = &rest[n.unwrap_or(1)..];
                    continue;
                }
                prop_assert!(!is_unsafe(c) || c == '\n' || c == '\t', "{:?}", out);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
}
