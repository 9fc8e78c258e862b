//! The "titled section of symbol-prefixed lines" shape shared by the text renderings of
//! `gijctl drift` and `gijctl review`: a blank line, `Title:`, then one indented line per item
//! whose leading symbol (`~ . ! ?`) carries the meaning, as in the plan's text rendering; and
//! their Markdown counterpart, table rows capped so an issue or comment stays under GitHub's
//! size limit.

use std::fmt::Write as _;

/// Appends a titled section, or nothing when `items` is empty (an empty heading would read as
/// "something is wrong here"). Each item renders as `  {symbol} {line}`, or `  {line}` when
/// `symbol` is empty.
pub fn section<T>(
    out: &mut String,
    title: &str,
    symbol: &str,
    items: &[T],
    line: impl Fn(&T) -> String,
) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}:");
    for item in items {
        if symbol.is_empty() {
            let _ = writeln!(out, "  {}", line(item));
        } else {
            let _ = writeln!(out, "  {symbol} {}", line(item));
        }
    }
}

/// Appends one Markdown table row per item, at most `max`, then a note that counts the rest and
/// names the JSON output of `gijctl {command}` (which has everything), then a blank line that
/// ends the table.
pub fn capped_rows<T>(
    out: &mut String,
    items: &[T],
    max: usize,
    command: &str,
    row: impl Fn(&T) -> String,
) {
    for item in items.iter().take(max) {
        let _ = writeln!(out, "{}", row(item));
    }
    if items.len() > max {
        let _ = writeln!(
            out,
            "\n_{} more not shown; see `gijctl {command} --format json`._",
            items.len() - max
        );
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::{capped_rows, section};

    #[test]
    fn writes_title_and_prefixed_lines_or_nothing() {
        let mut out = String::from("head\n");
        section(&mut out, "Empty", "~", &[] as &[u8], |n| n.to_string());
        assert_eq!(out, "head\n");
        section(&mut out, "Numbers", "~", &[1, 2], |n| format!("n{n}"));
        section(&mut out, "Bare", "", &[3], |n| format!("n{n}"));
        assert_eq!(out, "head\n\nNumbers:\n  ~ n1\n  ~ n2\n\nBare:\n  n3\n");
    }

    #[test]
    fn capped_rows_counts_what_is_left_out() {
        let mut out = String::new();
        capped_rows(&mut out, &[1, 2, 3], 2, "drift", |n| format!("| {n} |"));
        assert_eq!(
            out,
            "| 1 |\n| 2 |\n\n_1 more not shown; see `gijctl drift --format json`._\n\n"
        );
        let mut out = String::new();
        capped_rows(&mut out, &[1], 2, "drift", |n| format!("| {n} |"));
        assert_eq!(out, "| 1 |\n\n");
    }
}
