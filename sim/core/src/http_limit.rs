//! Request-size guard shared by the HTTP faces (the provider's gateway, the intake's test
//! clock): the length a request declares in `Content-Length`, so that a face can answer 413
//! before it waits for a body it would refuse anyway.
//!
//! Neutral ground: the provider and the intake each use it without calling the other's code.

use http::{HeaderMap, header};

/// The body length `headers` declare in `Content-Length`, if they declare one that is a
/// number (hyper has already refused a malformed or contradictory header with 400).
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    /// A number is read; no header or a header that is not a number gives `None`.
    #[test]
    fn reads_content_length() {
        let mut h = HeaderMap::new();
        assert_eq!(declared_length(&h), None);
        h.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from_static("1000000000000"),
        );
        assert_eq!(declared_length(&h), Some(1_000_000_000_000));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("ten"));
        assert_eq!(declared_length(&h), None);
    }
}
