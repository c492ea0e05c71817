//! The HTTP face's answers that are not a handler's own: RFC 9457 problems, the 413 before any
//! body is read, the fallbacks for unknown routes and methods, and running a handler's store
//! work off the async runtime.

use super::*;

/// Answers 413 at once when the request's `Content-Length` declares more than
/// [`MAX_BODY_BYTES`], before routing, authentication or reading any of the body: a client
/// that announces a terabyte and sends ten bytes is not kept waiting for the rest.
pub(super) async fn refuse_declared_oversize(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match demail_core::http_limit::declared_length(request.headers()) {
        Some(declared) if declared > MAX_BODY_BYTES as u64 => body_too_large(&format!(
            "the request declares a body of {declared} bytes (Content-Length); this face takes at most {MAX_BODY_BYTES} bytes"
        )),
        _ => next.run(request).await,
    }
}

/// 413 with a problem; the connection is closed after it (the rest of the body is not read).
pub(super) fn body_too_large(detail: &str) -> Response {
    let mut r = problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        problem_type::BODY_TOO_LARGE,
        "Request body too large",
        detail,
    );
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

// ---------------------------------------------------------------------------------------------
// Problems (RFC 9457)

/// Runs a handler's store work on tokio's blocking pool, like SMTP DATA: SQLite and the
/// store's lock never hold up the runtime's workers (ARCHITECTURE.md, provider internals).
pub(super) async fn off_runtime(f: impl FnOnce() -> Response + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => internal("a gateway handler", anyhow::anyhow!("{e}")),
    }
}

/// An RFC 9457 problem response.
pub(super) fn problem(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: impl Into<String>,
) -> Response {
    let body = json!({
        "type": kind,
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// 500 for an infrastructure failure: the cause goes to the log, the client gets a generic
/// detail.
pub(super) fn internal(what: &str, e: anyhow::Error) -> Response {
    tracing::error!("gateway: {what}: {e:#}");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        problem_type::INTERNAL,
        "Internal error",
        "The provider could not read or write its store; nothing was changed. Try again later.",
    )
}

pub(super) fn bad_query(detail: impl Into<String>) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        problem_type::INVALID_QUERY,
        "Invalid query parameter",
        detail,
    )
}

pub(super) fn not_found(detail: impl Into<String>) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        problem_type::NOT_FOUND,
        "Not found",
        detail,
    )
}

pub(super) fn json_ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(super) async fn no_such_route(uri: Uri) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        problem_type::NO_SUCH_ROUTE,
        "No such resource",
        format!(
            "{} is not served here; GET /openapi.json lists every path",
            truncate(uri.path(), 200)
        ),
    )
}

pub(super) async fn method_not_allowed(uri: Uri) -> Response {
    let path = uri.path();
    let allowed = ROUTES
        .iter()
        .chain(crate::ui::ROUTES.iter())
        .find(|(p, _)| route_matches(p, path))
        .map(|(_, m)| {
            let mut m: Vec<String> = m.iter().map(|m| m.to_ascii_uppercase()).collect();
            if m.iter().any(|m| m == "GET") {
                m.push("HEAD".into());
            }
            m.join(", ")
        })
        .unwrap_or_default();
    let mut r = problem(
        StatusCode::METHOD_NOT_ALLOWED,
        problem_type::METHOD_NOT_ALLOWED,
        "Method not allowed",
        format!("{} allows {allowed}", truncate(path, 200)),
    );
    if let Ok(v) = HeaderValue::from_str(&allowed) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

/// Whether `path` matches the route template `template` (`{x}` matches one segment).
pub(super) fn route_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

/// At most `max` characters of `s` (for echoing input in a detail).
pub(super) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

pub(super) fn path_problem(e: PathRejection) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        problem_type::INVALID_REQUEST,
        "Invalid path",
        e.body_text(),
    )
}
