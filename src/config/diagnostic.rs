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

/// Whether diagnostics on stderr should be coloured: a terminal, and `NO_COLOR` unset or empty.
pub fn stderr_wants_color() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
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
