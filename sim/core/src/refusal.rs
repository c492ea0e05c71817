//! A refusal as every face of the world answers it: an SMTP reply code, an enhanced status code
//! (RFC 3463) and a text a person can act on. Shared by the provider, the reference intake and
//! the harness, so that a refusal has one shape wherever it is made or read.

use std::fmt;

/// An SMTP refusal: reply code, enhanced status (RFC 3463) and a text a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub enhanced: &'static str,
    pub text: String,
}

impl Refusal {
    pub fn new(code: u16, enhanced: &'static str, text: &str) -> Self {
        Self {
            code,
            enhanced,
            text: text.to_string(),
        }
    }

    /// Enhanced status and text, as they follow the code on an SMTP reply line
    /// ("5.6.0 not a De-Mail: …").
    pub fn status_text(&self) -> String {
        format!("{} {}", self.enhanced, self.text)
    }
}

/// `code enhanced text`, as on the wire ("554 5.6.0 not a De-Mail: …").
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

impl std::error::Error for Refusal {}
