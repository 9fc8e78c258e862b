//! Problems found in a config file and their rendering with miette.
//!
//! Every check in `load` and `validate` produces a [`Problem`] (message, primary span, related
//! spans, help). Rendering is separate so that the CLI can choose colour while tests render
//! without it, and so that secret-looking values are masked in one place before anything is
//! shown: the source snippet of a line holding a pasted token must not print the token.

use std::fmt;
use std::ops::Range;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan,
};

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

/// A problem bound to its (masked) source, as miette wants it.
struct Report<'a> {
    problem: &'a Problem,
    source: &'a NamedSource<String>,
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
            SourceSpan::from(primary),
        )];
        for (span, label) in &self.problem.related {
            labels.push(LabeledSpan::new_with_span(
                Some(label.clone()),
                SourceSpan::from(span.clone()),
            ));
        }
        Some(Box::new(labels.into_iter()))
    }
}

/// Renders problems against `source` (already masked), one block per problem.
///
/// `name` is the path shown in `╭─[name:line:col]`. Output is deterministic for a given width:
/// tests render with `color = false`.
pub fn render(problems: &[Problem], name: &str, source: &str, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        .with_context_lines(1);
    let named = NamedSource::new(name, source.to_owned());
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let report = Report {
            problem: p,
            source: &named,
        };
        let mut block = String::new();
        if let Some(block) = long_line_block(p, name, source) {
            out.push_str(&block);
            continue;
        }
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
    out
}

/// Source lines longer than this are not shown in snippets (a hostile or generated file could
/// otherwise print megabytes); the diagnostic then gives only the position.
const MAX_SNIPPET_LINE: usize = 300;

/// For a problem whose line (or a context line next to it) is too long to show, a compact
/// rendering with the position only.
fn long_line_block(p: &Problem, name: &str, source: &str) -> Option<String> {
    let span = p.span.as_ref()?;
    let start = span.start.min(source.len());
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_no = source[..line_start].matches('\n').count() + 1;
    let col = source
        .get(line_start..start)
        .map_or(1, |s| s.chars().count() + 1);
    let too_long = source
        .lines()
        .skip(line_no.saturating_sub(2))
        .take(3)
        .chain(p.related.iter().filter_map(|(r, _)| {
            let s = r.start.min(source.len());
            let ls = source[..s].rfind('\n').map_or(0, |i| i + 1);
            source[ls..].lines().next()
        }))
        .any(|l| l.len() > MAX_SNIPPET_LINE);
    if !too_long {
        return None;
    }
    let mut out = format!(
        "  × {}\n   ╭─[{name}:{line_no}:{col}] (the line is too long to show)\n",
        p.message
    );
    if let Some(h) = &p.help {
        out.push_str(&format!("  help: {h}\n"));
    }
    Some(out)
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
        let out = render(&[p], "gij.toml", src, false);
        assert!(out.contains("gij.toml:2:1"), "{out}");
        assert!(out.contains("foo = 2"), "{out}");
        assert!(out.contains("help: remove it"), "{out}");
        assert!(!out.contains('\u{1b}'), "no colour codes: {out}");
    }

    #[test]
    fn whole_file_problems_name_the_file() {
        let out = render(&[Problem::file("not utf-8")], "x.toml", "", false);
        assert!(out.contains("x.toml: not utf-8"), "{out}");
    }
}
