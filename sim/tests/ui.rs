//! The web UI on the provider's HTTP face (`/ui/`, docs/ui.md) at the HTTP level: off unless
//! switched on, loopback `Host` only, a strict Content-Security-Policy on every page, a
//! hostile subject escaped in the list and the message view, a tampered message judged
//! "invalid" with the reason, a confirmation linked to its message and back with its PDF shown
//! in a frame, the raw `.eml` as stored, located 4xx answers, and the gateway API's tokens untouched. Mail is submitted
//! over SMTP as a citizen would; HTTP is spoken by a tiny HTTP/1.1 client over `TcpStream`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use demail_sim::demail::AuthLevel;
use demail_sim::provider::AccountKind;
use demail_sim::provider::fault::SealFault;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common;

use common::{World, WorldBuilder};

const CITIZEN: &str = "erika.mustermann@dmda-a.de-mail.de";
const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
const HOSTILE: &str = "<script>alert(1)</script>";

struct Resp {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET target` with the given `Host` header.
async fn get_as(addr: SocketAddr, target: &str, host: &str) -> Resp {
    let req = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&out[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: out[end + 4..].to_vec(),
    }
}

async fn get(w: &World, target: &str) -> Resp {
    let addr = w.provider.http_addr();
    get_as(addr, target, &addr.to_string()).await
}

async fn start() -> World {
    WorldBuilder::new()
        .account(CITIZEN, AccountKind::Person, AuthLevel::High)
        .account(INTAKE, AccountKind::Institution, AuthLevel::High)
        .start()
        .await
}

async fn submit(w: &World, subject: &str, n: u32) {
    let raw = format!(
        "From: <{CITIZEN}>\r\nTo: <{INTAKE}>\r\nSubject: {subject}\r\n\
         Message-ID: <ui-{n}@test>\r\nX-de-mail-confirmation-of-receipt: yes\r\n\
         X-de-mail-private-id: GA-{n}\r\n\r\nAnzeige nach \u{a7} 14 GewO\r\n"
    );
    common::submit(w.provider.submission_addr(), &w.pki, CITIZEN, INTAKE, &raw).await;
}

/// The UI's link to the intake's copy of the citizen's message with this subject (the
/// mailbox also holds the Eingangsbestätigung's copy).
fn original_href(w: &World, subject: &str) -> String {
    let m = w
        .provider
        .mailbox(INTAKE)
        .unwrap()
        .into_iter()
        .find(|m| m.subject == subject)
        .unwrap_or_else(|| panic!("no message {subject:?} in {INTAKE}"));
    format!("/ui/message/{INTAKE}/{}", m.message_id)
}

/// The href of the first link in `html` that starts with `prefix`.
fn first_href(html: &str, prefix: &str) -> String {
    let at = html
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("no link to {prefix} in {html}"));
    let rest = &html[at + 6..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

/// Off by default: `/ui/` is a 404 while the gateway API and directory answer as before.
#[tokio::test]
async fn the_ui_is_off_unless_switched_on() {
    let w = start().await;
    let r = get(&w, "/ui/").await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().contains("--ui"), "{}", r.text());
    let r = get(&w, &format!("/directory/v1/entries/{INTAKE}")).await;
    assert_eq!(r.status, 200);
}

/// Switched on: loopback `Host` only, the CSP on every page and asset, a hostile subject
/// escaped in the list and the view, the raw `.eml` exactly as stored, located 4xx answers,
/// and the gateway API still asks for its token.
#[tokio::test]
async fn pages_escape_hostile_values_and_carry_the_csp() {
    let w = start().await;
    w.provider.enable_ui().unwrap();
    submit(&w, &format!("{HOSTILE} Gewerbeanmeldung"), 1).await;

    let index = get(&w, "/ui/").await;
    assert_eq!(index.status, 200);
    assert!(index.text().contains(INTAKE));
    for path in [
        "/ui/",
        "/ui/deliveries",
        "/ui/assets/ui.css",
        "/ui/assets/live.js",
        "/ui/changes",
    ] {
        let r = get(&w, path).await;
        assert_eq!(r.status, 200, "{path}");
        let csp = r.headers.get("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
    }
    assert_eq!(get(&w, "/ui").await.status, 308);

    let list = get(&w, &format!("/ui/mailbox/{INTAKE}")).await;
    assert_eq!(list.status, 200);
    let html = list.text();
    assert!(html.contains("text/html") || list.headers["content-type"].starts_with("text/html"));
    assert!(!html.contains(HOSTILE), "the subject is escaped: {html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Gewerbeanmeldung"));
    assert!(html.contains("GA-1"), "private-id column");
    assert!(html.contains("Eingangsbest."), "options column");
    assert!(html.contains("<td>high</td>"), "auth level column");
    assert!(html.contains("seal valid"), "the seal holds: {html}");
    // Only the page's own script: no inline script anywhere.
    assert_eq!(html.matches("<script").count(), 1, "{html}");

    let href = original_href(&w, &format!("{HOSTILE} Gewerbeanmeldung"));
    assert!(html.contains(&href), "{html}");
    let view = get(&w, &href).await;
    assert_eq!(view.status, 200);
    let v = view.text();
    assert!(!v.contains(HOSTILE), "escaped in the view: {v}");
    assert!(v.contains("<h1 id=\"subject\">&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(v.contains("gültig (valid)"), "{v}");
    assert!(v.contains("X-de-mail-auth-level"), "{v}");
    assert!(v.contains("Authentisierungsniveau (authentication level)"));

    let raw = get(&w, &format!("{href}/raw")).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.headers["content-type"], "message/rfc822");
    assert!(raw.headers["content-disposition"].starts_with("attachment; filename=\"m"));
    let stored = &w.provider.mailbox(INTAKE).unwrap()[0].raw;
    assert_eq!(&raw.body, stored, "the .eml is the message as stored");

    // A foreign Host (DNS rebinding) is refused; so are unknown mailboxes and messages.
    let addr = w.provider.http_addr();
    let r = get_as(addr, "/ui/", &format!("evil.example:{}", addr.port())).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = get_as(addr, "/ui/", &format!("localhost:{}", addr.port())).await;
    assert_eq!(r.status, 200);
    let r = get(&w, "/ui/mailbox/nobody@dmda-a.de-mail.de").await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("no account nobody@dmda-a.de-mail.de"));
    let r = get(&w, &format!("/ui/message/{INTAKE}/%3Cscript%3E")).await;
    assert_eq!(r.status, 404);
    assert!(!r.text().contains("<script>"), "{}", r.text());
    assert!(r.text().contains("&lt;script&gt;"));
    let r = get(&w, &format!("/ui/mailbox/{INTAKE}?before=x")).await;
    assert_eq!(r.status, 400);
    let r = get(&w, "/ui/nothing").await;
    assert_eq!(r.status, 404);

    // The gateway API's authentication is unchanged by the UI.
    let r = get(&w, "/api/v1/messages").await;
    assert_eq!(r.status, 401);
}

/// A message whose body was changed after sealing is judged "invalid" in the list and on its
/// page, with the reason (the body hash).
#[tokio::test]
async fn a_tampered_message_shows_invalid_with_the_reason() {
    let w = start().await;
    w.provider.enable_ui().unwrap();
    w.provider.arm_seal_fault(CITIZEN, SealFault::Broken);
    submit(&w, "Manipuliert", 2).await;
    let list = get(&w, &format!("/ui/mailbox/{INTAKE}")).await.text();
    assert!(list.contains("seal invalid"), "{list}");
    let href = original_href(&w, "Manipuliert");
    let v = get(&w, &href).await.text();
    assert!(
        v.contains("<div class=\"verdict invalid\" id=\"integrity\">"),
        "{v}"
    );
    assert!(v.contains("ungültig (invalid)"), "{v}");
    assert!(
        v.contains("invalid: body hash mismatch"),
        "the reason is shown: {v}"
    );
}

/// A confirmation is linked to the message it confirms and back (In-Reply-To = Message-ID),
/// across mailboxes; the change stamp moves when a message arrives.
#[tokio::test]
async fn confirmations_link_to_their_message_and_back() {
    let w = start().await;
    w.provider.enable_ui().unwrap();
    let before = get(&w, "/ui/changes").await.text();
    submit(&w, "Gewerbeanmeldung", 3).await;
    let after = get(&w, "/ui/changes").await.text();
    assert_ne!(before, after, "the change stamp moved");

    let list = get(&w, &format!("/ui/mailbox/{INTAKE}")).await.text();
    let original_href = original_href(&w, "Gewerbeanmeldung");
    assert!(list.contains(&original_href), "{list}");
    let v = get(&w, &original_href).await.text();
    let about = &v[v.find("<ul id=\"about\">").expect("the about list")..];
    assert!(
        about.contains("Eingangsbestätigung (confirmation of receipt)"),
        "{v}"
    );
    let confirmation = first_href(about, &format!("/ui/message/{CITIZEN}/"));
    let c = get(&w, &confirmation).await.text();
    assert!(
        c.contains("Eingangsbestätigung (confirmation of receipt)"),
        "{c}"
    );
    let refers = &c[c.find("<ul id=\"refers-to\">").expect("the refers-to list")..];
    assert!(
        refers.contains(&original_href),
        "the confirmation links back: {c}"
    );
    assert!(c.contains("GA-3"), "the private-id is copied: {c}");
    assert!(c.contains("Acknowledge-Message"), "{c}");

    // The confirmation's PDF is shown in a frame of its page and served as a PDF that only
    // this origin may frame.
    let pdf_href = format!("{confirmation}/pdf");
    assert!(
        c.contains(&format!(
            "<iframe id=\"pdf\" class=\"pdf\" src=\"{pdf_href}\""
        )),
        "{c}"
    );
    let pdf = get(&w, &pdf_href).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.body.starts_with(b"%PDF-"), "a PDF");
    assert_eq!(
        pdf.headers["content-security-policy"],
        "frame-ancestors 'self'"
    );
    assert_eq!(pdf.headers["x-frame-options"], "SAMEORIGIN");
    assert_eq!(pdf.headers["x-content-type-options"], "nosniff");
    // The pages themselves still refuse every frame; a message without a PDF has none to show.
    let page = get(&w, &confirmation).await;
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(page.headers["content-security-policy"].contains("frame-ancestors 'none'"));
    let none = get(&w, &format!("{original_href}/pdf")).await;
    assert_eq!(none.status, 404, "{}", none.text());
    assert!(!v.contains("<iframe"), "no frame on a message without PDF");
}
