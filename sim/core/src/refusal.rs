//! A refusal as every face of the world answers it: an SMTP reply code, an enhanced status code
//! (RFC 3463) and a text a person can act on. Shared by the provider, the reference intake and
//! the harness, so that a refusal has one shape wherever it is made or read.

use std::borrow::Cow;
use std::fmt;

/// An SMTP refusal: reply code, enhanced status (RFC 3463) and a text a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    /// The enhanced status code ("5.7.1"): a constant where the test-bed refuses, the peer's
    /// text where the harness reads a refusal off the wire.
    pub enhanced: Cow<'static, str>,
    pub text: String,
}

impl Refusal {
    pub fn new(code: u16, enhanced: &'static str, text: &str) -> Self {
        Self {
            code,
            enhanced: Cow::Borrowed(enhanced),
            text: text.to_string(),
        }
    }

    /// A refusal read off the wire (the harness's view of a provider's answer): the code, the
    /// enhanced status found in the reply and the reply's whole text as the client saw it.
    pub fn received(code: u16, enhanced: String, text: String) -> Self {
        Self {
            code,
            enhanced: Cow::Owned(enhanced),
            text,
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
