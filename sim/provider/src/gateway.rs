//! The provider's HTTP face: the gateway API for an institution's intake (list, fetch raw,
//! acknowledge, webhook), the directory look-up (ÖVD, IT-BInfra-IO §6), and the OpenAPI
//! document. Reference: `docs/gateway.md`.
//!
//! - Gateway API (`/api/v1/…`): `Authorization: Bearer <token>` with the account's
//!   [`api_token`](super::AccountConfig::api_token). A token sees only its own account's
//!   mailbox. A message id that another mailbox holds is a 403 (cross-account access refused);
//!   an id that exists nowhere is a 404.
//! - Directory (`/directory/v1/entries/{address}`): public, the attributes of the TR's LDAP
//!   schema (IT-BInfra-IO §6.2: `mail`, `cn`, `demailMaxAuthLevel`, `demailAccessOpening`).
//! - `GET /testbed/deliveries`: the delivery queue, read-only and open ([`deliveries`]: no
//!   message content).
//! - `GET /openapi.json`: OpenAPI 3.1 description of all of the above ([`openapi`]).
//!
//! Every error is an RFC 9457 problem (`application/problem+json`); a storage failure is a 500
//! with a generic detail and the cause in the log. Input never panics the server.
//!
//! Submodules: [`openapi`] (the document), [`webhook`] (URL rules and the notification
//! client, [`notify_stored`]), [`deliveries`] (the delivery queue).

pub mod deliveries;
pub mod openapi;
mod problem;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::store::{Account, MessageSummary};
use super::{Shared, lock};
use demail_wire::normalize_address;

use problem::*;
pub(crate) use webhook::notify_stored;

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 1000;
/// Largest request body the HTTP face takes (64 KiB; the only body it reads is a webhook
/// registration, `{"url": "…"}`). A request whose `Content-Length` declares more is answered
/// 413 before any of its body is read; a chunked body is cut off at this size and answered
/// 413 too.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every path the HTTP face serves, with its methods (the OpenAPI document lists exactly
/// these; a unit test holds both together).
pub const ROUTES: [(&str, &[&str]); 8] = [
    ("/api/v1/messages", &["get"]),
    ("/api/v1/messages/{id}", &["get"]),
    ("/api/v1/messages/{id}/raw", &["get"]),
    ("/api/v1/messages/{id}/ack", &["post"]),
    ("/api/v1/webhook", &["get", "put", "delete"]),
    ("/directory/v1/entries/{address}", &["get"]),
    ("/testbed/deliveries", &["get"]),
    ("/openapi.json", &["get"]),
];

/// Problem type URIs (RFC 9457 §3.1.1); documented in `docs/gateway.md`.
pub mod problem_type {
    pub const INVALID_QUERY: &str = "urn:demail-testbed:problem:invalid-query";
    pub const INVALID_REQUEST: &str = "urn:demail-testbed:problem:invalid-request";
    pub const UNAUTHORIZED: &str = "urn:demail-testbed:problem:unauthorized";
    pub const NOT_FOUND: &str = "urn:demail-testbed:problem:not-found";
    pub const FORBIDDEN: &str = "urn:demail-testbed:problem:forbidden";
    pub const NO_SUCH_ROUTE: &str = "urn:demail-testbed:problem:no-such-route";
    pub const METHOD_NOT_ALLOWED: &str = "urn:demail-testbed:problem:method-not-allowed";
    pub const INVALID_WEBHOOK: &str = "urn:demail-testbed:problem:invalid-webhook";
    pub const BODY_TOO_LARGE: &str = "urn:demail-testbed:problem:body-too-large";
    pub const INTERNAL: &str = "urn:demail-testbed:problem:internal";
    pub const UNAVAILABLE: &str = "urn:demail-testbed:problem:unavailable";
}

/// The routes of the HTTP face.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/messages", get(list_messages))
        .route("/api/v1/messages/{id}", get(get_message))
        .route("/api/v1/messages/{id}/raw", get(get_raw))
        .route(
            "/api/v1/messages/{id}/ack",
            axum::routing::post(ack_message),
        )
        .route(
            "/api/v1/webhook",
            get(get_webhook).put(put_webhook).delete(delete_webhook),
        )
        .route("/directory/v1/entries/{address}", get(directory_entry))
        .route("/testbed/deliveries", get(deliveries::list_deliveries))
        .route("/openapi.json", get(openapi_document))
        .merge(crate::ui::routes(shared.clone()))
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .with_state(shared)
}

// ---------------------------------------------------------------------------------------------
// Authentication

/// Why a request is not authenticated; answers 401 (RFC 6750 §3: `WWW-Authenticate: Bearer`,
/// with `error="invalid_token"` when a token was presented).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unauthorized {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// A token no account has.
    Invalid,
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let (detail, challenge) = match self {
            Unauthorized::Missing => (
                "This endpoint needs an Authorization: Bearer <token> header with the account's API token",
                "Bearer realm=\"demail-gateway\"",
            ),
            Unauthorized::Malformed => (
                "The Authorization header must have the form \"Bearer <token>\"",
                "Bearer realm=\"demail-gateway\"",
            ),
            Unauthorized::Invalid => (
                "The bearer token is not valid for any account",
                "Bearer realm=\"demail-gateway\", error=\"invalid_token\"",
            ),
        };
        let mut r = problem(
            StatusCode::UNAUTHORIZED,
            problem_type::UNAUTHORIZED,
            "Unauthorized",
            detail,
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        r
    }
}

/// The account whose bearer token the request carries.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Account, Unauthorized> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Unauthorized::Missing);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or(Unauthorized::Malformed)?;
    lock(&shared.store)
        .account_by_token(token)
        .ok_or(Unauthorized::Invalid)
}

// ---------------------------------------------------------------------------------------------
// Messages

/// The JSON of one message (schema `Message` in the OpenAPI document).
fn message_json(m: &MessageSummary) -> Value {
    json!({
        "id": m.message_id,
        "cursor": m.seq.to_string(),
        "mailbox": m.mailbox,
        "message_type": m.message_type.as_str(),
        "from": m.from,
        "subject": m.subject,
        "private_id": m.private_id,
        "rfc_message_id": m.rfc_message_id,
        "in_reply_to": m.in_reply_to,
        "stored_at": m.stored_at.to_string(),
        "size": m.size,
        "acknowledged": m.acknowledged_at.is_some(),
        "acknowledged_at": m.acknowledged_at.map(|t| t.to_string()),
    })
}

/// The query of `GET /api/v1/messages`.
#[derive(Debug, PartialEq, Eq)]
struct ListQuery {
    /// Only messages after this position (0: from the start).
    since: i64,
    limit: usize,
    include_acknowledged: bool,
}

/// Reads the query string strictly: known parameters once each, values checked.
fn parse_list_query(query: Option<&str>) -> Result<ListQuery, String> {
    let mut since = None;
    let mut limit = None;
    let mut include = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name =
            percent_decode(name).ok_or("a parameter name is not valid percent-encoded UTF-8")?;
        let value = percent_decode(value)
            .ok_or_else(|| format!("the value of {name:?} is not valid percent-encoded UTF-8"))?;
        let slot = match name.as_str() {
            "since" => &mut since,
            "limit" => &mut limit,
            "include" => &mut include,
            _ => {
                return Err(format!(
                    "unknown parameter {:?}; known: since, limit, include",
                    truncate(&name, 40)
                ));
            }
        };
        if slot.is_some() {
            return Err(format!("parameter {name:?} given more than once"));
        }
        *slot = Some(value);
    }
    let since = match since {
        None => 0,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && s.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                format!(
                    "since={:?} is not a cursor; use the \"cursor\" or \"next_cursor\" of an earlier answer",
                    truncate(&s, 40)
                )
            })?,
    };
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n) && s.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                format!(
                    "limit={:?} must be a whole number from 1 to {MAX_LIMIT}",
                    truncate(&s, 40)
                )
            })?,
    };
    let include_acknowledged = match include.as_deref() {
        None => false,
        Some("acknowledged") => true,
        Some(other) => {
            return Err(format!(
                "include={:?} is not known; the only value is \"acknowledged\"",
                truncate(other, 40)
            ));
        }
    };
    Ok(ListQuery {
        since,
        limit,
        include_acknowledged,
    })
}

/// Decodes `%XX` escapes and `+` (application/x-www-form-urlencoded); `None` for a broken
/// escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

async fn list_messages(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    off_runtime(move || list_messages_blocking(State(shared), headers, uri)).await
}

fn list_messages_blocking(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let q = match parse_list_query(uri.query()) {
        Ok(q) => q,
        Err(detail) => return bad_query(detail),
    };
    let mailbox = normalize_address(&account.config.address);
    // One more than asked tells whether another page follows.
    let page = lock(&shared.store).message_summaries(
        &mailbox,
        q.since,
        q.limit + 1,
        q.include_acknowledged,
    );
    let mut page = match page {
        Ok(p) => p,
        Err(e) => return internal("listing a mailbox", e),
    };
    let has_more = page.len() > q.limit;
    page.truncate(q.limit);
    let next_cursor = page.last().map_or(q.since, |m| m.seq);
    json_ok(json!({
        "mailbox": mailbox,
        "messages": page.iter().map(message_json).collect::<Vec<_>>(),
        "next_cursor": next_cursor.to_string(),
        "has_more": has_more,
    }))
}

async fn get_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    off_runtime(move || get_message_blocking(State(shared), headers, id)).await
}

fn get_message_blocking(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let Path(id) = match id {
        Ok(p) => p,
        Err(e) => return path_problem(e),
    };
    let found = lock(&shared.store).message_summary(&account.config.address, &id);
    match found {
        Ok(Some(m)) => json_ok(message_json(&m)),
        Ok(None) => absent(&shared, &id),
        Err(e) => internal("reading a message", e),
    }
}

/// The answer for an id the caller's mailbox does not hold: 403 if another mailbox holds it
/// (cross-account access is refused), 404 if it exists nowhere.
fn absent(shared: &Shared, id: &str) -> Response {
    match lock(&shared.store).message_id_exists(id) {
        Ok(true) => problem(
            StatusCode::FORBIDDEN,
            problem_type::FORBIDDEN,
            "Forbidden",
            format!(
                "X-de-mail-message-id {:?} belongs to another account; a token sees only its own mailbox",
                truncate(id, 200)
            ),
        ),
        Ok(false) => not_found(message_absent(id)),
        Err(e) => internal("looking up a message", e),
    }
}

fn message_absent(id: &str) -> String {
    format!(
        "Your mailbox holds no message with X-de-mail-message-id {:?}",
        truncate(id, 200)
    )
}

async fn get_raw(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    off_runtime(move || get_raw_blocking(State(shared), headers, id)).await
}

fn get_raw_blocking(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let Path(id) = match id {
        Ok(p) => p,
        Err(e) => return path_problem(e),
    };
    let found = lock(&shared.store).message_raw(&account.config.address, &id);
    match found {
        Ok(Some(raw)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "message/rfc822")],
            raw,
        )
            .into_response(),
        Ok(None) => absent(&shared, &id),
        Err(e) => internal("reading a message", e),
    }
}

async fn ack_message(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    off_runtime(move || ack_message_blocking(State(shared), headers, id)).await
}

fn ack_message_blocking(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let Path(id) = match id {
        Ok(p) => p,
        Err(e) => return path_problem(e),
    };
    // Acknowledgement time is legal-ish time: the virtual clock, never the system clock.
    let now = shared.clock.timestamp();
    let done = lock(&shared.store).acknowledge(&account.config.address, &id, now);
    match done {
        Ok(Some(m)) => json_ok(message_json(&m)),
        Ok(None) => absent(&shared, &id),
        Err(e) => internal("acknowledging a message", e),
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook

fn webhook_json(mailbox: &str, url: Option<&str>) -> Value {
    json!({"mailbox": mailbox, "url": url})
}

async fn get_webhook(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    off_runtime(move || get_webhook_blocking(State(shared), headers)).await
}

fn get_webhook_blocking(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let mailbox = normalize_address(&account.config.address);
    let url = lock(&shared.store).webhook(&mailbox);
    match url {
        Ok(url) => json_ok(webhook_json(&mailbox, url.as_deref())),
        Err(e) => internal("reading a webhook", e),
    }
}

async fn put_webhook(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    off_runtime(move || put_webhook_blocking(State(shared), headers, body)).await
}

fn put_webhook_blocking(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return body_too_large(&format!(
                "the request body is larger than the {MAX_BODY_BYTES} bytes this face takes"
            ));
        }
        Err(e) => {
            return problem(
                e.status(),
                problem_type::INVALID_REQUEST,
                "Unreadable request body",
                e.body_text(),
            );
        }
    };
    let url = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(o)) => match o.get("url") {
            Some(Value::String(u)) => u.clone(),
            _ => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    problem_type::INVALID_REQUEST,
                    "Invalid webhook request",
                    "expected {\"url\": \"http://127.0.0.1:<port>/<path>\"}",
                );
            }
        },
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                problem_type::INVALID_REQUEST,
                "Invalid webhook request",
                "the body is not a JSON object; expected {\"url\": \"http://127.0.0.1:<port>/<path>\"}",
            );
        }
    };
    if let Err(why) = webhook::WebhookUrl::parse(&url) {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            problem_type::INVALID_WEBHOOK,
            "Webhook URL not accepted",
            why,
        );
    }
    let mailbox = normalize_address(&account.config.address);
    let saved = lock(&shared.store).set_webhook(&mailbox, Some(&url));
    match saved {
        Ok(()) => json_ok(webhook_json(&mailbox, Some(&url))),
        Err(e) => internal("saving a webhook", e),
    }
}

async fn delete_webhook(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    off_runtime(move || delete_webhook_blocking(State(shared), headers)).await
}

fn delete_webhook_blocking(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let mailbox = normalize_address(&account.config.address);
    let saved = lock(&shared.store).set_webhook(&mailbox, None);
    match saved {
        Ok(()) => json_ok(webhook_json(&mailbox, None)),
        Err(e) => internal("removing a webhook", e),
    }
}

// ---------------------------------------------------------------------------------------------
// Directory (ÖVD) and OpenAPI

/// IT-BInfra-IO §6.2: `demailMaxAuthLevel` is "NORMAL" or "HIGH"; `demailAccessOpening` is the
/// Zugangseröffnung (§ 7 Abs. 3 De-Mail-G).
async fn directory_entry(
    State(shared): State<Arc<Shared>>,
    address: Result<Path<String>, PathRejection>,
) -> Response {
    off_runtime(move || directory_entry_blocking(State(shared), address)).await
}

fn directory_entry_blocking(
    State(shared): State<Arc<Shared>>,
    address: Result<Path<String>, PathRejection>,
) -> Response {
    let Path(address) = match address {
        Ok(p) => p,
        Err(e) => return path_problem(e),
    };
    let address = normalize_address(&address);
    let well_formed = address
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if !well_formed {
        return problem(
            StatusCode::BAD_REQUEST,
            problem_type::INVALID_REQUEST,
            "Not a De-Mail address",
            format!(
                "{:?} is not an address of the form local@domain",
                truncate(&address, 200)
            ),
        );
    }
    // A planned fault (docs/faults.md, face "directory"): the look-up is unavailable.
    if let Some(hit) = shared.fault(crate::fault::Face::Directory, None, Some(&address), "")
        && hit.action == crate::fault::Action::Unavailable
    {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            problem_type::UNAVAILABLE,
            "Directory temporarily unavailable",
            format!("planned fault {:?}; try again later", hit.id),
        );
    }
    let account = lock(&shared.store).account(&address);
    match account {
        Some(a) => json_ok(json!({
            "mail": normalize_address(&a.config.address),
            "cn": a.config.holder,
            "demailMaxAuthLevel": a.config.max_auth_level.as_str().to_ascii_uppercase(),
            "demailAccessOpening": a.config.access_opened,
        })),
        None => not_found(format!(
            "This provider's directory has no entry for {address}"
        )),
    }
}

async fn openapi_document() -> Response {
    json_ok(openapi::document())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query reader accepts the documented forms and refuses everything else with a
    /// reason: bad numbers, out-of-range limits, unknown or repeated parameters.
    #[test]
    fn list_query_is_read_strictly() {
        assert_eq!(
            parse_list_query(None).unwrap(),
            ListQuery {
                since: 0,
                limit: DEFAULT_LIMIT,
                include_acknowledged: false
            }
        );
        assert_eq!(
            parse_list_query(Some("since=5&limit=1000&include=acknowledged")).unwrap(),
            ListQuery {
                since: 5,
                limit: 1000,
                include_acknowledged: true
            }
        );
        for bad in [
            "limit=abc",
            "limit=0",
            "limit=1001",
            "limit=-1",
            "limit=+5",
            "limit=99999999999999999999999",
            "since=-1",
            "since=x",
            "since=%zz",
            "include=all",
            "limit=1&limit=2",
            "foo=bar",
            "%ff=1",
        ] {
            assert!(parse_list_query(Some(bad)).is_err(), "{bad}");
        }
    }

    /// Route templates match one segment per parameter, so the 405 answer names the right
    /// methods.
    #[test]
    fn route_templates() {
        assert!(route_matches(
            "/api/v1/messages/{id}/ack",
            "/api/v1/messages/m1@x/ack"
        ));
        assert!(!route_matches("/api/v1/messages/{id}", "/api/v1/messages/"));
        assert!(!route_matches(
            "/api/v1/messages/{id}",
            "/api/v1/messages/a/b"
        ));
        assert_eq!(truncate("abc", 2), "ab…");
        assert_eq!(truncate("äb", 5), "äb");
    }

    /// The OpenAPI document lists exactly the served paths and methods.
    #[test]
    fn openapi_lists_exactly_the_routes() {
        let doc = openapi::document();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), ROUTES.len());
        for (path, methods) in ROUTES {
            let item = paths
                .get(path)
                .unwrap_or_else(|| panic!("{path} missing"))
                .as_object()
                .unwrap();
            let listed: Vec<&str> = item
                .keys()
                .map(String::as_str)
                .filter(|k| ["get", "put", "post", "delete", "patch"].contains(k))
                .collect();
            let mut want = methods.to_vec();
            want.sort_unstable();
            let mut listed = listed;
            listed.sort_unstable();
            assert_eq!(listed, want, "{path}");
        }
    }
}
