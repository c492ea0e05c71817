//! One HTTP attempt to hand a record to the DMS, classified as stored, already stored,
//! temporary or permanent failure, with the DMS's problem text kept short.

use super::*;

/// Why a hand-over failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DmsError {
    /// Try again later: no connection, no answer in time, 408, 429, 5xx or an unexpected status.
    #[error("temporary failure: {reason}")]
    Temporary {
        /// The HTTP status, if the DMS answered.
        status: Option<u16>,
        reason: String,
    },
    /// The DMS refused this record (a 4xx other than 408, 409 and 429), or the record cannot
    /// be sent at all. Retrying the same request will not help.
    #[error("refused: {problem}")]
    Permanent {
        /// The HTTP status, if the DMS answered.
        status: Option<u16>,
        /// The DMS's problem text (RFC 9457 `title: detail`, or the body).
        problem: String,
    },
}

impl DmsError {
    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, DmsError::Permanent { .. })
    }

    /// The HTTP status, if the DMS answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DmsError::Temporary { status, .. } | DmsError::Permanent { status, .. } => *status,
        }
    }
}

/// A successful hand-over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// 200 or 201: the DMS stored the document now.
    Created,
    /// 409: the DMS already had a document with this `Idempotency-Key`.
    AlreadyStored,
}

/// Longest problem text kept from a DMS answer, in characters.
pub(super) const PROBLEM_MAX_CHARS: usize = 500;
/// Longest answer body read, in bytes.
pub(super) const BODY_MAX_BYTES: usize = 64 * 1024;

/// The DMS's HTTP face: `POST {base}/documents`.
#[derive(Clone, Debug)]
pub struct DmsClient {
    base_url: String,
    http: reqwest::Client,
}

impl DmsClient {
    /// Time limit for one attempt (connect, send, answer), wall-clock: a network timeout, not
    /// legal time.
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    /// A client for the DMS at `base_url` (e.g. `http://127.0.0.1:8080/dms`) with the 10 s
    /// timeout and no redirects.
    pub fn new(base_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Self::TIMEOUT)
            .connect_timeout(Self::TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the DMS HTTP client")?;
        Self::with_client(base_url, http)
    }

    /// A client using the caller's `reqwest::Client` (its timeout applies).
    pub fn with_client(base_url: &str, http: reqwest::Client) -> Result<Self> {
        let url = reqwest::Url::parse(base_url)
            .with_context(|| format!("DMS base URL {base_url:?} is not a URL"))?;
        if url.scheme() != "http" {
            bail!(
                "DMS base URL {base_url:?}: only http:// is supported (this build has no TLS in \
                 its HTTP client)"
            );
        }
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `{base}/documents`.
    pub fn documents_url(&self) -> String {
        format!("{}/documents", self.base_url)
    }

    /// One attempt to hand `record` over.
    pub async fn store(&self, record: &EvidenceRecord) -> Result<Stored, DmsError> {
        let key = record.demail_message_id.trim();
        if key.is_empty() {
            return Err(DmsError::Permanent {
                status: None,
                problem: "the record has no demail_message_id (the Idempotency-Key)".into(),
            });
        }
        let key = reqwest::header::HeaderValue::from_str(key).map_err(|_| DmsError::Permanent {
            status: None,
            problem: format!(
                "demail_message_id {:?} cannot be sent as an Idempotency-Key header",
                truncate(key, 80)
            ),
        })?;
        let body = serde_json::to_vec(record).map_err(|e| DmsError::Permanent {
            status: None,
            problem: format!("the record cannot be serialised: {e}"),
        })?;
        let url = self.documents_url();
        let response = self
            .http
            .post(&url)
            .header("Idempotency-Key", key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/problem+json",
            )
            .body(body)
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                return Err(DmsError::Temporary {
                    status: None,
                    reason: describe_transport_error(&url, &e),
                });
            }
        };
        let status = response.status().as_u16();
        // Read (a bounded amount of) the answer; a broken body does not change the verdict.
        let mut body = Vec::new();
        while body.len() < BODY_MAX_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        classify(status, &body)
    }
}

/// Turns a status and answer body into the verdict of the wire contract.
pub(super) fn classify(status: u16, body: &[u8]) -> Result<Stored, DmsError> {
    match status {
        200 | 201 => Ok(Stored::Created),
        409 => Ok(Stored::AlreadyStored),
        408 | 429 | 500..=599 => Err(DmsError::Temporary {
            status: Some(status),
            reason: format!("HTTP {status}: {}", problem_text(status, body)),
        }),
        400..=499 => Err(DmsError::Permanent {
            status: Some(status),
            problem: format!("HTTP {status}: {}", problem_text(status, body)),
        }),
        _ => Err(DmsError::Temporary {
            status: Some(status),
            reason: format!(
                "unexpected HTTP {status} (only 200, 201 and 409 mean stored): {}",
                problem_text(status, body)
            ),
        }),
    }
}

/// The problem text of an answer: RFC 9457 `title: detail` if the body is a problem JSON,
/// otherwise the body's text, otherwise the status's reason phrase. Bounded in length.
pub(super) fn problem_text(status: u16, body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |k: &str| {
            map.get(k)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let text = match (field("title"), field("detail")) {
            (Some(t), Some(d)) => Some(format!("{t}: {d}")),
            (Some(t), None) => Some(t.to_string()),
            (None, Some(d)) => Some(d.to_string()),
            (None, None) => field("error").or(field("message")).map(str::to_string),
        };
        if let Some(text) = text {
            return truncate(&text, PROBLEM_MAX_CHARS);
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        return truncate(&text, PROBLEM_MAX_CHARS);
    }
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("no reason given")
        .to_string()
}

pub(super) fn describe_transport_error(url: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        format!(
            "no answer from {url} within {} s",
            DmsClient::TIMEOUT.as_secs()
        )
    } else if e.is_connect() {
        format!("cannot connect to {url}")
    } else {
        format!("request to {url} failed")
    };
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = s.source();
    }
    truncate(&format!("{what}: {}", chain.join(": ")), PROBLEM_MAX_CHARS)
}

pub(super) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
