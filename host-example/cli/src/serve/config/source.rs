//! Where in `connections.toml` a mistake is: a refusal with its line.

/// A refused file: where and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The file's text, to turn a span into its line.
pub(super) struct Source<'t> {
    pub(super) text: &'t str,
}

impl Source<'_> {
    pub(super) fn at(&self, span: std::ops::Range<usize>, message: String) -> ConfigError {
        ConfigError {
            line: Some(line_of(self.text, span.start)),
            message,
        }
    }
}

pub(super) fn line_of(text: &str, byte: usize) -> usize {
    text.get(..byte.min(text.len()))
        .map_or(1, |before| before.bytes().filter(|b| *b == b'\n').count() + 1)
}
