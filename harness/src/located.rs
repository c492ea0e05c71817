//! A problem at a place in a TOML text, and the readers of values that report one.
//!
//! Validation code that knows only a value's byte span (the expectation kinds in
//! [`crate::check`], the scenario loader) returns a [`Located`]; the scenario loader turns
//! its span into `FILE:LINE:COLUMN` ([`FileError`], which the target file and catalogue readers share). A
//! leaf: it names nothing else of the crate.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use jiff::Span;
use toml::Spanned;

/// A message about the text at a byte span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// Byte range in the TOML text; the error points at its start.
    pub span: Range<usize>,
    pub message: String,
}

impl Located {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{}: {}",
            self.span.start, self.span.end, self.message
        )
    }
}

/// A problem in a file (a scenario, a target file), at `FILE:LINE:COLUMN` (line and column
/// 1-based; 0 when the file could not be read at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl FileError {
    /// The error at `located`'s span in `text`, the content of `path`.
    pub fn at(path: &std::path::Path, text: &str, located: Located) -> Self {
        let (line, column) = demail_sim::line_col(text, located.span.start);
        Self {
            path: path.to_path_buf(),
            line,
            column,
            message: located.message,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for FileError {}

/// Parses a duration: ISO 8601 (`P3D`, `PT20H`) or jiff's friendly form (`3d`, `20h`).
pub fn parse_span(text: &str) -> Result<Span, String> {
    text.trim().parse::<Span>().map_err(|e| e.to_string())
}

/// Reads the duration value of key `what`; the error says which forms are expected.
pub fn duration(value: &Spanned<String>, what: &str) -> Result<Span, Located> {
    parse_span(value.get_ref()).map_err(|e| {
        Located::new(
            value.span(),
            format!("{what}: {e}; expected an ISO 8601 duration such as \"P3D\" or \"PT20H\", or \"3d\", \"20h\""),
        )
    })
}

/// `"a", "b"` for a message that lists what a file defines, or `(none)`.
pub fn quoted(items: &[&str]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
