//! The web UI on the provider's HTTP face (`/ui/`, `docs/ui.md`): a tester who submitted a
//! De-Mail finds and judges it in the browser. Server-rendered HTML, assets built into the
//! binary (no external URL, works offline), every value from a message escaped
//! ([`html::esc`]), a strict Content-Security-Policy on every answer ([`CSP`]).
//!
//! Pages: the accounts with their directory entries and mailboxes ([`pages`]), a mailbox's
//! messages with the De-Mail columns, one message with PVD-IO Tabelle 1's header panel, the
//! integrity verdict and the confirmations and Meldungen linked to it ([`message`]), the push
//! queue. New messages appear without a reload: `assets/live.js` polls `/ui/changes`.
//!
//! Access: off unless switched on ([`crate::Provider::enable_ui`], `serve --ui`); then it
//! answers only requests from a loopback peer whose `Host` names a loopback address or
//! `localhost` (so a web page elsewhere cannot read it by DNS rebinding). It shows every
//! mailbox and changes nothing; the gateway API's bearer tokens are untouched by it.

pub mod html;
mod message;
mod pages;

pub use message::{pdf_part, pdf_response, sections as message_sections};

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{Shared, lock};

/// The Content-Security-Policy of every UI answer: nothing but this origin's stylesheet and
/// script, no inline script or style, frames of this origin only (a confirmation's PDF), no
/// forms, no base URI; no page may be framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Every path the UI serves (all GET); the HTTP face's 405 answer names the method from here.
pub const ROUTES: [(&str, &[&str]); 10] = [
    ("/ui", &["get"]),
    ("/ui/", &["get"]),
    ("/ui/mailbox/{address}", &["get"]),
    ("/ui/message/{mailbox}/{id}", &["get"]),
    ("/ui/message/{mailbox}/{id}/raw", &["get"]),
    ("/ui/message/{mailbox}/{id}/pdf", &["get"]),
    ("/ui/deliveries", &["get"]),
    ("/ui/changes", &["get"]),
    ("/ui/assets/ui.css", &["get"]),
    ("/ui/assets/live.js", &["get"]),
];

/// The UI's stylesheet (also served by the run view, `demail-testbed view`).
pub const CSS: &str = include_str!("assets/ui.css");
/// The UI's live script (also served by the run view).
pub const LIVE_JS: &str = include_str!("assets/live.js");

/// The UI's routes, guarded by [`guard`]; merged into the HTTP face's router.
pub(crate) fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/ui",
            get(|| async { axum::response::Redirect::permanent("/ui/") }),
        )
        .route("/ui/", get(pages::accounts))
        .route("/ui/mailbox/{address}", get(pages::mailbox))
        .route("/ui/message/{mailbox}/{id}", get(message::view))
        .route("/ui/message/{mailbox}/{id}/raw", get(message::raw))
        .route("/ui/message/{mailbox}/{id}/pdf", get(message::pdf))
        .route("/ui/deliveries", get(pages::deliveries))
        .route("/ui/changes", get(changes))
        .route(
            "/ui/assets/ui.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/ui/assets/live.js",
            get(|| async { asset("text/javascript; charset=utf-8", LIVE_JS) }),
        )
        .route_layer(axum::middleware::from_fn_with_state(shared, guard))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Whether `host` (a `Host` header value) names the loopback interface: `localhost`,
/// `127.0.0.0/8` or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, tail)) if tail.is_empty() || tail.starts_with(':') => inside,
            _ => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(n, _)| n)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Lets a request through only when the UI is on, the peer is on loopback and the `Host`
/// names loopback; sets the security headers on every answer.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if !shared.ui_enabled.load(Ordering::Relaxed) {
        return plain(
            StatusCode::NOT_FOUND,
            "The web UI is off; start serve with --ui (docs/ui.md).",
        );
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !peer.is_some_and(|p| p.ip().is_loopback()) {
        return plain(
            StatusCode::FORBIDDEN,
            "The web UI answers only on the loopback interface (docs/ui.md, \"Access\").",
        );
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !is_loopback_host(host) {
        return plain(
            StatusCode::FORBIDDEN,
            "The web UI answers only to Host localhost, 127.0.0.1 or [::1] (docs/ui.md, \"Access\").",
        );
    }
    let mut r = next.run(request).await;
    secure(r.headers_mut());
    r
}

/// The headers every UI answer carries (the run view of `demail-testbed view` too, with a
/// CSP of its own).
/// A policy or frame rule the answer set itself (a PDF shown in a frame) is kept.
pub fn secure(h: &mut HeaderMap) {
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// A plain-text answer (refusals before any page is rendered).
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response();
    secure(r.headers_mut());
    r
}

/// An HTML answer.
fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// An error page (404 for an unknown mailbox or message, 400 for a bad query, 500 for a
/// storage failure, whose cause goes to the log).
fn error_page(shared: &Shared, status: StatusCode, text: &str) -> Response {
    let main = format!(
        "<h1>{} {}</h1>\n<p>{}</p>\n<p><a href=\"/ui/\">Konten (accounts)</a></p>",
        status.as_u16(),
        html::esc(status.canonical_reason().unwrap_or("")),
        html::esc(text)
    );
    html_response(
        status,
        html::page(&shared.config.name, &stamp(shared), "Fehler (error)", &main),
    )
}

fn storage_error(shared: &Shared, what: &str, e: anyhow::Error) -> Response {
    tracing::error!("ui: {what}: {e:#}");
    error_page(
        shared,
        StatusCode::INTERNAL_SERVER_ERROR,
        "The provider could not read its store; try again.",
    )
}

/// The change stamp: the store's latest message position and the provider's activity
/// counter (sessions, commands, delivery steps). It moves when anything the UI shows may
/// have changed.
fn stamp(shared: &Shared) -> String {
    let seq = lock(&shared.store).latest_message_seq().unwrap_or(-1);
    format!("{seq}-{}", shared.activity.snapshot().generation)
}

/// `GET /ui/changes`: the change stamp as text, for `assets/live.js`.
async fn changes(State(shared): State<Arc<Shared>>) -> Response {
    blocking(move || {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            stamp(&shared),
        )
            .into_response()
    })
    .await
}

/// Runs a page's store work on tokio's blocking pool, as the gateway's handlers do.
async fn blocking(f: impl FnOnce() -> Response + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("ui: a page handler failed: {e}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only loopback names pass the Host check (DNS rebinding gets a foreign name).
    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "localhost:8025",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:8025",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8025",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8025",
            "localhost.evil.example",
            "10.0.0.1:8025",
            "[::2]:1",
            "[::1]x",
            "127.0.0.1.evil:80",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
