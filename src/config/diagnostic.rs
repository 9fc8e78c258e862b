//! Problems found in a config file and their rendering with miette.
//!
//! Every check in `load` and `validate` produces a [`Problem`] (message, primary span, related
//! spans, help). Rendering is separate so that the CLI can choose colour while tests render
//! without it, and so that secret-looking values are masked in one place before anything is
//! shown: the source snippet of a line holding a pasted token must not print the token.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// Where (byte range in the source); `None` for whole-file problems (unreadable file).
    pub span: Option<Range<usize>>,
    /// Short label under the primary span.
    pub label: String,
    /// Other places that matter (the first of two duplicates).
    pub related: Vec<(Range<usize>, String)>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Problem {
    /// A problem at `span` with a label.
    pub fn at(span: Range<usize>, label: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            span: Some(span),
            label: label.into(),
            related: Vec::new(),
            help: None,
        }
    }

    /// A problem about the whole file.
    pub fn file(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            span: None,
            label: String::new(),
            related: Vec::new(),
            help: None,
        }
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a related span.
    pub fn related(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }
}

/// How many problems of one kind are shown; the rest are counted in one "and N more" line. A
/// generated or hostile file can hold hundreds of thousands of the same mistake, and nobody
/// reads past the first screenful: twenty show the pattern and keep the output bounded.
pub const MAX_SHOWN_PER_KIND: usize = 20;

/// Echoed keys and values (the text between backticks in a message, label or help) are cut to
/// this many characters and `…`: the snippet shows where the value is, the message only needs
/// to be recognisable.
pub const MAX_ECHO_CHARS: usize = 40;

/// The same limit in a help, whose backticks mostly quote examples of what to write
/// (`repositories = { include = [...], exclude = [...] }`), and which echoes a value rarely.
const MAX_HELP_ECHO_CHARS: usize = 80;

/// A message, label or help longer than this (after [`MAX_ECHO_CHARS`]) is cut as well, for
/// echoes that are not between backticks, such as a table path.
const MAX_TEXT_CHARS: usize = 400;

/// Labels covering more lines than this are shown on their first line only, and two labels
/// further apart than [`MAX_SNIPPET_LINES`] get a snippet each: a snippet is a few lines of
/// context, never a page of the file.
const MAX_LABEL_LINES: usize = 8;

/// The most lines one snippet may cover (see [`MAX_LABEL_LINES`]).
const MAX_SNIPPET_LINES: usize = 12;

impl Problem {
    /// The kind of problem, for capping repeated diagnostics: its label, which each check
    /// writes as a fixed phrase ("unknown key", "duplicate", "wrong value").
    pub fn kind(&self) -> &str {
        &self.label
    }

    /// The problem with every echoed key or value shortened ([`shorten_echoes`]).
    fn shortened(&self) -> Problem {
        Problem {
            message: shorten_echoes(&self.message),
            span: self.span.clone(),
            label: shorten_echoes(&self.label),
            related: self
                .related
                .iter()
                .map(|(r, l)| (r.clone(), shorten_echoes(l)))
                .collect(),
            help: self
                .help
                .as_deref()
                .map(|h| shorten_quoted(h, MAX_HELP_ECHO_CHARS)),
        }
    }
}

/// Cuts every backtick-quoted part of `text` longer than [`MAX_ECHO_CHARS`] to that many
/// characters and `…`, then the whole text to [`MAX_TEXT_CHARS`]. Messages quote the keys and
/// values they echo, so this is the one place that bounds echoes whatever check wrote them (a
/// 1,000,000-character key was printed in full, several times).
pub fn shorten_echoes(text: &str) -> String {
    shorten_quoted(text, MAX_ECHO_CHARS)
}

/// [`shorten_echoes`] with `max` characters per quoted part.
fn shorten_quoted(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT_CHARS + 8));
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let (quoted, tail) = match after.find('`') {
            Some(close) => (&after[..close], &after[close..]),
            None => (after, ""),
        };
        out.push_str(&shorten(quoted, max));
        if tail.is_empty() {
            rest = "";
            break;
        }
        out.push('`');
        rest = &tail[1..];
    }
    out.push_str(rest);
    shorten(&out, MAX_TEXT_CHARS)
}

/// `s` cut to `max` characters and `…` (unchanged when it is short enough).
pub fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// Where each line of a source starts, counted as miette counts lines (`\n`, `\r\n` and a lone
/// `\r` each end one), so that a snippet's line numbers can be found by binary search instead
/// of a scan from the top of the file for every diagnostic.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(source: &str) -> Lines {
        let bytes = source.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    starts.push(i + 2);
                    i += 1;
                }
                b'\r' => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        Lines { starts }
    }

    /// The 0-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// The byte range of line `line` (without its line break), clamped to `len`.
    fn range(&self, line: usize, source: &str) -> Range<usize> {
        let start = self.starts.get(line).copied().unwrap_or(source.len());
        let end = self
            .starts
            .get(line + 1)
            .copied()
            .unwrap_or(source.len())
            .max(start);
        let text = &source.as_bytes()[start..end];
        let trimmed = text
            .iter()
            .rposition(|b| !matches!(b, b'\n' | b'\r'))
            .map_or(0, |i| i + 1);
        start..start + trimmed
    }
}

/// The source as miette reads it, through a window of the few lines a snippet needs: miette's
/// own `SourceCode` for `str` scans from the top of the file for every read, which made
/// rendering quadratic (8,000 unknown keys took 6 s). Within the window miette's reader runs
/// unchanged, and the window's line count is added back, so snippets are byte-for-byte what
/// they were.
struct Windowed<'a> {
    name: &'a str,
    source: &'a str,
    lines: &'a Lines,
}

impl miette::SourceCode for Windowed<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let (start, end) = (span.offset(), span.offset() + span.len());
        if end > self.source.len() {
            return Err(miette::MietteError::OutOfBounds);
        }
        let (first_line, last_line) = (self.lines.line_of(start), self.lines.line_of(end));
        if last_line - first_line > MAX_SNIPPET_LINES {
            // Only a merge of two labels' snippets asks for this much (labels themselves are
            // clipped): miette then shows them separately.
            return Err(miette::MietteError::OutOfBounds);
        }
        // One line more on each side than asked for, so that miette's reader sees the same
        // line starts around the span as it would in the whole file.
        let from = first_line.saturating_sub(context_lines_before + 1);
        let to = last_line + context_lines_after + 2;
        let w_start = self.lines.starts[from];
        let w_end = self
            .lines
            .starts
            .get(to)
            .copied()
            .unwrap_or(self.source.len());
        let window = &self.source.as_bytes()[w_start..w_end];
        let inner = <[u8] as miette::SourceCode>::read_span(
            window,
            &SourceSpan::new((start - w_start).into(), span.len()),
            context_lines_before,
            context_lines_after,
        )?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_owned(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + w_start).into(), inner.span().len()),
            inner.line() + from,
            inner.column(),
            inner.line_count() + from,
        )))
    }
}

/// A problem bound to its (masked) source, as miette wants it.
struct Report<'a> {
    problem: &'a Problem,
    source: &'a Windowed<'a>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl std::error::Error for Report<'_> {}

impl Report<'_> {
    /// `span`, or its first line when it covers more than [`MAX_LABEL_LINES`] lines (a whole
    /// array or table: the start says where it is).
    fn clipped(&self, span: &Range<usize>) -> SourceSpan {
        let w = self.source;
        let first = w.lines.line_of(span.start);
        if w.lines.line_of(span.end) - first <= MAX_LABEL_LINES {
            return SourceSpan::from(span.clone());
        }
        let line = w.lines.range(first, w.source);
        SourceSpan::from(span.start..line.end.max(span.start))
    }
}

impl Diagnostic for Report<'_> {
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.problem
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.problem.span.as_ref().map(|_| self.source as _)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = self.problem.span.clone()?;
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(self.problem.label.clone()).filter(|l| !l.is_empty()),
            self.clipped(&primary),
        )];
        for (span, label) in &self.problem.related {
            labels.push(LabeledSpan::new_with_span(
                Some(label.clone()),
                self.clipped(span),
            ));
        }
        Some(Box::new(labels.into_iter()))
    }
}

/// Renders problems against `source` (already masked), one block per problem, at most
/// [`MAX_SHOWN_PER_KIND`] of each kind (then one line per kind counting the rest), with echoed
/// keys and values shortened; every exact value in `secrets` and every token-shaped string is
/// masked before anything is shortened or shown.
///
/// `name` is the path shown in `╭─[name:line:col]`. Output is deterministic for a given width:
/// tests render with `color = false`. The cost is linear in the source and the problems: one
/// line index, then a few lines of source per shown problem.
pub fn render(
    problems: &[Problem],
    name: &str,
    source: &str,
    secrets: &[String],
    color: bool,
) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        .with_context_lines(1);
    let scrubber = super::load::Scrubber::new(secrets);
    let lines = Lines::new(source);
    let windowed = Windowed {
        name,
        source,
        lines: &lines,
    };
    // Per kind: how many were seen, in first-seen order for the summary lines.
    let mut seen: Vec<(&str, usize)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out = String::new();
    for p in problems {
        let slot = *index.entry(p.kind()).or_insert_with(|| {
            seen.push((p.kind(), 0));
            seen.len() - 1
        });
        seen[slot].1 += 1;
        if seen[slot].1 > MAX_SHOWN_PER_KIND {
            continue;
        }
        let p = scrubber.scrub_problem(p).shortened();
        if !out.is_empty() {
            out.push('\n');
        }
        if let Some(block) = long_line_block(&p, name, source, &lines) {
            out.push_str(&block);
            continue;
        }
        let report = Report {
            problem: &p,
            source: &windowed,
        };
        let mut block = String::new();
        if handler.render_report(&mut block, &report).is_err() {
            block = format!("error: {}\n", p.message);
        }
        if !block.ends_with('\n') {
            block.push('\n');
        }
        let block = if p.span.is_some() {
            block
        } else {
            // miette has no place for the file name without a snippet: prefix it.
            block.replacen("× ", &format!("× {name}: "), 1)
        };
        out.push_str(&block);
    }
    for (kind, n) in seen {
        if n > MAX_SHOWN_PER_KIND {
            let what = if kind.is_empty() {
                "problems".to_owned()
            } else {
                format!("\"{}\" problems", shorten_echoes(kind))
            };
            out.push_str(&format!(
                "\n  × and {} more {what} like the ones above (the first {MAX_SHOWN_PER_KIND} are shown)\n",
                n - MAX_SHOWN_PER_KIND
            ));
        }
    }
    scrubber.scrub(&out)
}

/// Source lines longer than this are not shown in snippets (a hostile or generated file could
/// otherwise print megabytes); the diagnostic then gives only the position.
const MAX_SNIPPET_LINE: usize = 300;

/// For a problem whose line (or a context line next to it) is too long to show, a compact
/// rendering with the position only.
fn long_line_block(p: &Problem, name: &str, source: &str, lines: &Lines) -> Option<String> {
    let span = p.span.as_ref()?;
    let start = span.start.min(source.len());
    let line = lines.line_of(start);
    let too_long = (line.saturating_sub(1)..=line + 1)
        .chain(p.related.iter().map(|(r, _)| lines.line_of(r.start)))
        .any(|l| {
            let r = lines.range(l, source);
            r.end - r.start > MAX_SNIPPET_LINE
        });
    if !too_long {
        return None;
    }
    let mut out = format!(
        "  × {}\n   ╭─[{}] (the line is too long to show)\n",
        p.message,
        location_in(name, source, lines, start)
    );
    if let Some(h) = &p.help {
        out.push_str(&format!("  help: {h}\n"));
    }
    Some(out)
}

/// [`location`] with the line index at hand.
fn location_in(name: &str, source: &str, lines: &Lines, offset: usize) -> String {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = lines.line_of(offset);
    let col = source[lines.starts[line]..offset].chars().count() + 1;
    format!("{name}:{}:{col}", line + 1)
}

/// Whether diagnostics on stderr should be coloured: a terminal, and `NO_COLOR` unset or empty.
pub fn stderr_wants_color() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Where byte `offset` of `source` is, for messages: `gij.toml:41:1` (columns count
/// characters, as editors do).
pub fn location(name: &str, source: &str, offset: usize) -> String {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before, |i| &before[i + 1..])
        .chars()
        .count()
        + 1;
    format!("{name}:{line}:{col}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_snippet_and_help() {
        let src = "version = 1\nfoo = 2\n";
        let p = Problem::at(12..15, "here", "unknown key `foo`").help("remove it");
        let out = render(&[p], "gij.toml", src, &[], false);
        assert!(out.contains("gij.toml:2:1"), "{out}");
        assert!(out.contains("foo = 2"), "{out}");
        assert!(out.contains("help: remove it"), "{out}");
        assert!(!out.contains('\u{1b}'), "no colour codes: {out}");
    }

    #[test]
    fn whole_file_problems_name_the_file() {
        let out = render(&[Problem::file("not utf-8")], "x.toml", "", &[], false);
        assert!(out.contains("x.toml: not utf-8"), "{out}");
    }
}
