//! The provider's HTTP face on real loopback sockets (`docs/gateway.md`): the gateway API for
//! an institution's intake (bearer tokens, list, fetch raw, acknowledge, webhook), the
//! directory look-up (IT-BInfra-IO §6), the delivery queue and the OpenAPI document. Mail is submitted over SMTP
//! as a citizen would; HTTP is spoken by a tiny HTTP/1.1 client over `TcpStream`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use demail_sim::demail::AuthLevel;
use demail_sim::provider::{AccountConfig, AccountKind};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common;

use common::{Client, World, WorldBuilder};

const CITIZEN: &str = "erika.mustermann@dmda-a.de-mail.de";
const NORMAL_CITIZEN: &str = "max.normal@dmda-a.de-mail.de";
const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
const OTHER_INTAKE: &str = "bauamt@dresden.de-mail.de";

fn token(address: &str) -> String {
    format!("token-{address}")
}

/// An account of this world (password and API token as `common::account` gives them).
fn account(
    address: &str,
    holder: &str,
    kind: AccountKind,
    level: AuthLevel,
    opened: bool,
) -> AccountConfig {
    AccountConfig {
        holder: holder.into(),
        access_opened: opened,
        closes_after_first_submission: false,
        ..common::account(address, kind, level)
    }
}

async fn start_world() -> World {
    WorldBuilder::new()
        .accounts([
            account(
                CITIZEN,
                "Erika Mustermann",
                AccountKind::Person,
                AuthLevel::High,
                false,
            ),
            account(
                NORMAL_CITIZEN,
                "Max Normal",
                AccountKind::Person,
                AuthLevel::Normal,
                false,
            ),
            account(
                INTAKE,
                "Landeshauptstadt Dresden, Gewerbeamt",
                AccountKind::Institution,
                AuthLevel::High,
                true,
            ),
            account(
                OTHER_INTAKE,
                "Landeshauptstadt Dresden, Bauamt",
                AccountKind::Institution,
                AuthLevel::High,
                true,
            ),
        ])
        .start()
        .await
}

// ---------------------------------------------------------------------------------------------
// SMTP submission (the shared transcript client)

/// The citizen submits one message to `to`; returns its X-de-mail-message-id.
async fn submit(w: &World, to: &str, subject: &str, private_id: &str) -> String {
    let mut c = Client::login(w.provider.submission_addr(), &w.pki, CITIZEN).await;
    let msg = format!(
        "From: <{CITIZEN}>\nTo: <{to}>\nSubject: {subject}\nX-de-mail-private-id: {private_id}\n\
         Message-ID: <{private_id}@test>\n\nHallo\n"
    );
    let r = c.send(CITIZEN, to, &msg).await;
    assert!(r.starts_with("250"), "{r}");
    let stored = w.provider.mailbox(to).unwrap();
    stored
        .iter()
        .rev()
        .find(|m| m.private_id.as_deref() == Some(private_id))
        .expect("the message is in the mailbox")
        .message_id
        .clone()
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client

#[derive(Debug)]
struct Resp {
    status: u16,
    /// Lower-case names.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with `status` and returns it.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), "application/problem+json");
        let p = self.json();
        assert_eq!(p["status"], status);
        for field in ["type", "title", "detail"] {
            assert!(
                p[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field} in {p}"
            );
        }
        p
    }
}

async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> Resp {
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body_head = body
        .map(|b| {
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            )
        })
        .unwrap_or_default();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\n{auth}{body_head}Connection: close\r\n\r\n{}",
        body.unwrap_or("")
    );
    raw_http(addr, req.as_bytes()).await
}

async fn raw_http(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the server answers and closes")
        .unwrap();
    parse_response(&out)
}

fn parse_response(out: &[u8]) -> Resp {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(out)));
    let head = String::from_utf8_lossy(&out[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = out[end + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(
            std::str::from_utf8(&rest[..line_end])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

async fn get(w: &World, target: &str, who: &str) -> Resp {
    http(
        w.provider.http_addr(),
        "GET",
        target,
        Some(&token(who)),
        None,
    )
    .await
}

async fn post(w: &World, target: &str, who: &str) -> Resp {
    http(
        w.provider.http_addr(),
        "POST",
        target,
        Some(&token(who)),
        None,
    )
    .await
}

/// Percent-encodes a path segment (ids contain `@`, which is fine, but be strict).
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ids(list: &Value) -> Vec<String> {
    list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

/// The listing shows the messages laid into the token's mailbox in Eingang order with their
/// metadata (id = X-de-mail-message-id, type, from, subject, private id, RFC 3339 Eingang,
/// size), and pages with a stable cursor: `limit` cuts, `next_cursor` as `since` continues.
#[tokio::test]
async fn list_shows_messages_in_eingang_order_and_pages() {
    let w = start_world().await;
    let first = submit(&w, INTAKE, "Gewerbeanzeige", "P-1").await;
    let second = submit(&w, INTAKE, "Nachtrag", "P-2").await;
    let stored = w.provider.mailbox(INTAKE).unwrap();

    let r = get(&w, "/api/v1/messages", INTAKE).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/json");
    let list = r.json();
    assert_eq!(list["mailbox"], INTAKE);
    assert_eq!(ids(&list), [first.clone(), second.clone()]);
    assert_eq!(list["has_more"], false);
    let m = &list["messages"][0];
    assert_eq!(m["message_type"], "normal");
    assert_eq!(m["from"], CITIZEN);
    assert_eq!(m["subject"], "Gewerbeanzeige");
    assert_eq!(m["private_id"], "P-1");
    assert_eq!(m["rfc_message_id"], "<P-1@test>");
    assert_eq!(m["mailbox"], INTAKE);
    assert_eq!(m["acknowledged"], false);
    assert_eq!(m["acknowledged_at"], Value::Null);
    assert_eq!(m["size"], stored[0].raw.len());
    let at: jiff::Timestamp = m["stored_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, stored[0].stored_at);
    assert_eq!(at.to_string(), "2025-03-03T08:00:00Z");

    // Paging: one at a time.
    let page1 = get(&w, "/api/v1/messages?limit=1", INTAKE).await.json();
    assert_eq!(ids(&page1), [first]);
    assert_eq!(page1["has_more"], true);
    assert_eq!(page1["next_cursor"], page1["messages"][0]["cursor"]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = get(
        &w,
        &format!("/api/v1/messages?since={cursor}&limit=1"),
        INTAKE,
    )
    .await
    .json();
    assert_eq!(ids(&page2), [second]);
    assert_eq!(page2["has_more"], false);
    // Polling past the end: empty page, the cursor stays put.
    let cursor2 = page2["next_cursor"].as_str().unwrap();
    let page3 = get(&w, &format!("/api/v1/messages?since={cursor2}"), INTAKE)
        .await
        .json();
    assert!(ids(&page3).is_empty());
    assert_eq!(page3["next_cursor"], cursor2);
}

/// `GET /api/v1/messages/{id}/raw` answers `message/rfc822` with exactly the bytes the mailbox
/// holds; `GET /api/v1/messages/{id}` the same metadata as the listing.
#[tokio::test]
async fn raw_is_exactly_what_the_mailbox_holds() {
    let w = start_world().await;
    let id = submit(&w, INTAKE, "Gewerbeanzeige", "P-1").await;
    let stored = w.provider.mailbox(INTAKE).unwrap();
    let r = get(&w, &format!("/api/v1/messages/{}/raw", seg(&id)), INTAKE).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "message/rfc822");
    assert_eq!(r.body, stored[0].raw);

    let meta = get(&w, &format!("/api/v1/messages/{}", seg(&id)), INTAKE).await;
    assert_eq!(meta.status, 200);
    let listed = get(&w, "/api/v1/messages", INTAKE).await.json();
    assert_eq!(meta.json(), listed["messages"][0]);
}

/// An acknowledged message leaves the default listing but shows with
/// `include=acknowledged`; a second acknowledgement is 200 with the same body (idempotent,
/// the first time is kept); an unknown id is a 404 problem.
#[tokio::test]
async fn ack_removes_from_listing_and_is_idempotent() {
    let w = start_world().await;
    let first = submit(&w, INTAKE, "Gewerbeanzeige", "P-1").await;
    let second = submit(&w, INTAKE, "Nachtrag", "P-2").await;
    let ack = post(&w, &format!("/api/v1/messages/{}/ack", seg(&first)), INTAKE).await;
    assert_eq!(ack.status, 200, "{}", String::from_utf8_lossy(&ack.body));
    let body = ack.json();
    assert_eq!(body["id"], first);
    assert_eq!(body["acknowledged"], true);
    assert_eq!(body["acknowledged_at"], "2025-03-03T08:00:00Z");
    let again = post(&w, &format!("/api/v1/messages/{}/ack", seg(&first)), INTAKE).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, ack.body, "a second ack answers the same body");

    let open = get(&w, "/api/v1/messages", INTAKE).await.json();
    assert_eq!(ids(&open), [second.as_str()]);
    let all = get(&w, "/api/v1/messages?include=acknowledged", INTAKE)
        .await
        .json();
    assert_eq!(ids(&all), [first.clone(), second]);
    assert_eq!(all["messages"][0]["acknowledged"], true);
    // The message itself is still fetchable after the ack.
    assert_eq!(
        get(&w, &format!("/api/v1/messages/{}/raw", seg(&first)), INTAKE)
            .await
            .status,
        200
    );

    let p = post(&w, "/api/v1/messages/nope@x/ack", INTAKE)
        .await
        .problem(404);
    assert_eq!(p["type"], "urn:demail-testbed:problem:not-found");
}

/// No token, a wrong token, an empty one, or another scheme: 401 problem with a
/// `WWW-Authenticate: Bearer` challenge (RFC 6750 §3), `error="invalid_token"` for a wrong one.
#[tokio::test]
async fn missing_or_wrong_token_is_401_with_challenge() {
    let w = start_world().await;
    let addr = w.provider.http_addr();
    let none = http(addr, "GET", "/api/v1/messages", None, None).await;
    let p = none.problem(401);
    assert_eq!(p["type"], "urn:demail-testbed:problem:unauthorized");
    assert!(
        none.header("www-authenticate").starts_with("Bearer"),
        "{:?}",
        none.headers
    );
    let wrong = http(addr, "GET", "/api/v1/messages", Some("nope"), None).await;
    wrong.problem(401);
    assert!(
        wrong
            .header("www-authenticate")
            .contains("error=\"invalid_token\""),
        "{:?}",
        wrong.headers
    );
    for header in [
        "Authorization: Basic dXNlcjpwdw==\r\n",
        "Authorization: Bearer\r\n",
        "Authorization: Bearer \r\n",
        "Authorization: \r\n",
    ] {
        let req = format!(
            "POST /api/v1/messages/x/ack HTTP/1.1\r\nHost: t\r\n{header}Connection: close\r\n\r\n"
        );
        let r = raw_http(addr, req.as_bytes()).await;
        r.problem(401);
        assert!(
            r.header("www-authenticate").starts_with("Bearer"),
            "{header}"
        );
    }
    // The right token, in a case-insensitive scheme, is accepted.
    let req = format!(
        "GET /api/v1/messages HTTP/1.1\r\nHost: t\r\nAuthorization: bearer {}\r\nConnection: close\r\n\r\n",
        token(INTAKE)
    );
    assert_eq!(raw_http(addr, req.as_bytes()).await.status, 200);
}

/// A token sees only its own mailbox: another account's message is neither listed nor
/// fetchable nor acknowledgeable; cross-account access is refused with 403, while an id that
/// exists nowhere is a 404.
#[tokio::test]
async fn other_accounts_message_is_not_visible() {
    let w = start_world().await;
    let id = submit(&w, INTAKE, "Gewerbeanzeige", "P-1").await;
    let list = get(&w, "/api/v1/messages?include=acknowledged", OTHER_INTAKE)
        .await
        .json();
    assert_eq!(list["mailbox"], OTHER_INTAKE);
    assert!(ids(&list).is_empty());
    let elsewhere = get(&w, &format!("/api/v1/messages/{}", seg(&id)), OTHER_INTAKE)
        .await
        .problem(403);
    assert!(
        elsewhere["detail"]
            .as_str()
            .unwrap()
            .contains("another account"),
        "{elsewhere}"
    );
    let nowhere = get(
        &w,
        "/api/v1/messages/m999999@dmda-a.de-mail.de",
        OTHER_INTAKE,
    )
    .await
    .problem(404);
    assert_ne!(elsewhere["type"], nowhere["type"]);
    get(
        &w,
        &format!("/api/v1/messages/{}/raw", seg(&id)),
        OTHER_INTAKE,
    )
    .await
    .problem(403);
    post(
        &w,
        &format!("/api/v1/messages/{}/ack", seg(&id)),
        OTHER_INTAKE,
    )
    .await
    .problem(403);
    // The other account's attempt did not acknowledge it for its owner.
    let own = get(&w, "/api/v1/messages", INTAKE).await.json();
    assert_eq!(ids(&own), [id]);
}

/// Bad query values are 400 problems naming the parameter: limit=abc, limit over 1000,
/// limit=0, a negative or non-numeric cursor, an unknown include, unknown or repeated
/// parameters.
#[tokio::test]
async fn bad_query_values_are_400_problems() {
    let w = start_world().await;
    for (query, names) in [
        ("limit=abc", "limit"),
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("since=-1", "since"),
        ("since=abc", "since"),
        ("include=everything", "include"),
        ("limt=5", "limt"),
        ("limit=1&limit=2", "limit"),
        ("since=%FF", "since"),
    ] {
        let r = get(&w, &format!("/api/v1/messages?{query}"), INTAKE).await;
        let p = r.problem(400);
        assert_eq!(
            p["type"], "urn:demail-testbed:problem:invalid-query",
            "{query}"
        );
        assert!(
            p["detail"].as_str().unwrap().contains(names),
            "{query}: {p}"
        );
    }
    // The limits themselves are fine.
    for query in ["limit=1", "limit=1000", "since=0", "since=123456789"] {
        let r = get(&w, &format!("/api/v1/messages?{query}"), INTAKE).await;
        assert_eq!(r.status, 200, "{query}");
    }
}

/// The directory answers with the attribute names of the TR's LDAP schema (IT-BInfra-IO
/// §6.2): mail, cn (holder), demailMaxAuthLevel NORMAL/HIGH, demailAccessOpening; it is
/// public (no token) and case-insensitive in the address; an unknown address is a 404 problem.
#[tokio::test]
async fn directory_entry_has_the_tr_attributes() {
    let w = start_world().await;
    let addr = w.provider.http_addr();
    let r = http(
        addr,
        "GET",
        &format!("/directory/v1/entries/{INTAKE}"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({
            "mail": INTAKE,
            "cn": "Landeshauptstadt Dresden, Gewerbeamt",
            "demailMaxAuthLevel": "HIGH",
            "demailAccessOpening": true,
        })
    );
    let normal = http(
        addr,
        "GET",
        "/directory/v1/entries/Max.Normal@DMDA-A.de-mail.de",
        None,
        None,
    )
    .await
    .json();
    assert_eq!(normal["mail"], NORMAL_CITIZEN);
    assert_eq!(normal["cn"], "Max Normal");
    assert_eq!(normal["demailMaxAuthLevel"], "NORMAL");
    assert_eq!(normal["demailAccessOpening"], false);
    let p = http(
        addr,
        "GET",
        "/directory/v1/entries/nobody@dmda-a.de-mail.de",
        None,
        None,
    )
    .await
    .problem(404);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("nobody@dmda-a.de-mail.de")
    );
    http(
        addr,
        "GET",
        "/directory/v1/entries/not-an-address",
        None,
        None,
    )
    .await
    .problem(400);
}

/// `/openapi.json` is an OpenAPI 3.1 document with a bearer security scheme and problem
/// responses; it lists every path this face serves, and every operation it lists is served
/// (calling it is neither "no such route" nor 405).
#[tokio::test]
async fn openapi_lists_every_served_path() {
    let w = start_world().await;
    let addr = w.provider.http_addr();
    let r = http(addr, "GET", "/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["schemas"]["Problem"]["required"],
        serde_json::json!(["type", "title", "status", "detail"])
    );
    let paths = doc["paths"].as_object().unwrap();
    let served = [
        ("/api/v1/messages", "get"),
        ("/api/v1/messages/{id}", "get"),
        ("/api/v1/messages/{id}/raw", "get"),
        ("/api/v1/messages/{id}/ack", "post"),
        ("/api/v1/webhook", "get"),
        ("/api/v1/webhook", "put"),
        ("/api/v1/webhook", "delete"),
        ("/directory/v1/entries/{address}", "get"),
        ("/testbed/deliveries", "get"),
        ("/openapi.json", "get"),
    ];
    for (path, method) in served {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} not listed"
        );
    }
    // Every $ref points into the document.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(s)) => out.push(s.clone()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "dangling {r}");
    }
    // Every listed operation is served.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let target = path
                .replace("{id}", "m1@dmda-a.de-mail.de")
                .replace("{address}", INTAKE);
            let body = (method == "put").then_some(r#"{"url":"http://127.0.0.1:9/x"}"#);
            let r = http(
                addr,
                &method.to_ascii_uppercase(),
                &target,
                Some(&token(INTAKE)),
                body,
            )
            .await;
            assert_ne!(r.status, 405, "{method} {path}");
            if r.status == 404 {
                assert_ne!(
                    r.json()["type"],
                    "urn:demail-testbed:problem:no-such-route",
                    "{method} {path}"
                );
            }
        }
    }
}

/// `PUT /api/v1/webhook` accepts only loopback http URLs (anything else is a 422 problem, a
/// body without "url" a 400 problem); GET shows the setting and DELETE removes it.
#[tokio::test]
async fn webhook_registration_accepts_only_loopback() {
    let w = start_world().await;
    let addr = w.provider.http_addr();
    let t = token(INTAKE);
    for url in [
        "http://example.org/hook",
        "http://10.1.2.3:8080/hook",
        "https://127.0.0.1:8443/hook",
        "http://user@127.0.0.1:1/",
        "file:///etc/passwd",
    ] {
        let body = serde_json::json!({ "url": url }).to_string();
        let p = http(addr, "PUT", "/api/v1/webhook", Some(&t), Some(&body))
            .await
            .problem(422);
        assert_eq!(
            p["type"], "urn:demail-testbed:problem:invalid-webhook",
            "{url}"
        );
    }
    for body in [
        "",
        "not json",
        "[]",
        r#"{"uri":"http://127.0.0.1:1/"}"#,
        r#"{"url":5}"#,
    ] {
        http(addr, "PUT", "/api/v1/webhook", Some(&t), Some(body))
            .await
            .problem(400);
    }
    let none = http(addr, "GET", "/api/v1/webhook", Some(&t), None)
        .await
        .json();
    assert_eq!(none["url"], Value::Null);
    let body = r#"{"url":"http://127.0.0.1:4711/demail"}"#;
    let set = http(addr, "PUT", "/api/v1/webhook", Some(&t), Some(body)).await;
    assert_eq!(set.status, 200);
    assert_eq!(set.json()["url"], "http://127.0.0.1:4711/demail");
    let shown = http(addr, "GET", "/api/v1/webhook", Some(&t), None)
        .await
        .json();
    assert_eq!(shown, set.json());
    // Another account does not see it.
    let other = http(
        addr,
        "GET",
        "/api/v1/webhook",
        Some(&token(OTHER_INTAKE)),
        None,
    )
    .await
    .json();
    assert_eq!(other["url"], Value::Null);
    let gone = http(addr, "DELETE", "/api/v1/webhook", Some(&t), None).await;
    assert_eq!(gone.status, 200);
    assert_eq!(gone.json()["url"], Value::Null);
    http(addr, "PUT", "/api/v1/webhook", None, Some(body))
        .await
        .problem(401);
}

/// When a message is laid into a mailbox with a webhook, the provider POSTs
/// `{"event":"message.stored","id":…,"mailbox":…}` to it; mail for another mailbox does not
/// trigger it (`accept.rs` calls `gateway::notify_stored` after the commit; `docs/gateway.md`,
/// "Wiring the webhook").
#[tokio::test]
async fn webhook_receives_post_for_new_message() {
    let w = start_world().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                // Read the head, then Content-Length bytes of body.
                let body = loop {
                    let n = s.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break (head, buf[end + 4..end + 4 + len].to_vec());
                        }
                    }
                };
                s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tx.send(body);
            });
        }
    });
    let body = format!(r#"{{"url":"http://127.0.0.1:{port}/hooks/demail"}}"#);
    let set = http(
        w.provider.http_addr(),
        "PUT",
        "/api/v1/webhook",
        Some(&token(INTAKE)),
        Some(&body),
    )
    .await;
    assert_eq!(set.status, 200);
    submit(&w, OTHER_INTAKE, "Bauantrag", "P-0").await;
    let id = submit(&w, INTAKE, "Gewerbeanzeige", "P-1").await;
    let (head, payload) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the webhook is called")
        .unwrap();
    assert!(head.starts_with("post /hooks/demail http/1.1"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let event: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        event,
        serde_json::json!({"event": "message.stored", "id": id, "mailbox": INTAKE})
    );
    // Nothing else arrives (the other mailbox's message did not notify).
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err()
    );
}

/// Hostile or odd requests get problem answers, never a crash: unknown routes (404
/// no-such-route), wrong methods (405 with Allow), broken percent-encoding, huge ids, a
/// request that is not HTTP; the server keeps answering afterwards.
#[tokio::test]
async fn odd_input_gets_problems_not_crashes() {
    let w = start_world().await;
    let addr = w.provider.http_addr();
    assert_eq!(
        http(addr, "HEAD", "/openapi.json", None, None).await.status,
        200,
        "HEAD works where GET does"
    );
    let p = http(addr, "GET", "/nothing/here", None, None)
        .await
        .problem(404);
    assert_eq!(p["type"], "urn:demail-testbed:problem:no-such-route");
    let r = http(
        addr,
        "DELETE",
        "/api/v1/messages",
        Some(&token(INTAKE)),
        None,
    )
    .await;
    r.problem(405);
    assert!(r.header("allow").contains("GET"), "{:?}", r.headers);
    let r = http(
        addr,
        "GET",
        "/api/v1/messages/x/ack",
        Some(&token(INTAKE)),
        None,
    )
    .await;
    r.problem(405);
    assert_eq!(r.header("allow"), "POST");
    let r = get(&w, "/api/v1/messages/%FF%FE", INTAKE).await;
    assert!(r.status == 400 || r.status == 404, "{r:?}");
    r.problem(r.status);
    let long = "a".repeat(20_000);
    let r = get(&w, &format!("/api/v1/messages/{long}"), INTAKE).await;
    assert!(r.status >= 400 && r.status < 500, "{}", r.status);
    let r = http(
        addr,
        "GET",
        &format!("/directory/v1/entries/{long}@x"),
        None,
        None,
    )
    .await;
    r.problem(404);
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        raw_http_lossy(addr, b"\x00\x01garbage\r\n\r\n"),
    )
    .await;
    assert_eq!(
        http(addr, "GET", "/openapi.json", None, None).await.status,
        200
    );
}

/// Sends bytes and reads whatever comes back (may be nothing).
async fn raw_http_lossy(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    out
}

/// A request that declares a body larger than the HTTP face accepts (`docs/gateway.md`:
/// [`gateway::MAX_BODY_BYTES`](demail_sim::provider::gateway::MAX_BODY_BYTES)) is answered
/// 413 with a problem at once, before the body arrives, whatever the route and token: the
/// client sends the head with `Content-Length: 1000000000000` and 10 bytes, and waits. The
/// server closes the connection after the answer (the rest of the body is never read).
#[tokio::test]
async fn declared_body_over_the_limit_is_413_at_once() {
    let w = start_world().await;
    let addr = w.provider.http_addr();
    let intake = token(INTAKE);
    for (method, target, auth) in [
        ("PUT", "/api/v1/webhook", Some(intake.as_str())),
        ("POST", "/api/v1/messages/m1@x/ack", Some(intake.as_str())),
        ("PUT", "/api/v1/webhook", None),
        ("POST", "/nothing/here", None),
    ] {
        let auth = auth
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{{\"url\": \"h"
        );
        assert_eq!(head.len() - head.find("\r\n\r\n").unwrap() - 4, 10);
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        // A guard against hanging, not a duration assertion: the answer comes at once.
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{method} {target}: no answer and no close within 5 s; got {:?}",
                    String::from_utf8_lossy(&out)
                )
            })
            .unwrap();
        assert!(
            out.starts_with(b"HTTP/1.1 413 "),
            "{method} {target}: {}",
            String::from_utf8_lossy(&out)
        );
        let r = parse_response(&out);
        let p = r.problem(413);
        assert_eq!(p["type"], "urn:demail-testbed:problem:body-too-large");
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains(&demail_sim::provider::gateway::MAX_BODY_BYTES.to_string()),
            "{p}"
        );
    }
    // The face keeps serving.
    assert_eq!(
        http(addr, "GET", "/openapi.json", None, None).await.status,
        200
    );
}

/// `GET /testbed/deliveries` shows a failed push without a token: the job's queue id,
/// mailbox, message id, target, state `retry`, one attempt, the next attempt in virtual time
/// and the connection error; no subject or body. `state` filters, `limit` and `since` page,
/// and a bad parameter is a 400 problem.
#[tokio::test]
async fn deliveries_show_a_failed_push_without_content() {
    let w = start_world().await;
    // A port nobody listens on: the push is refused at connect, a temporary failure.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    w.provider.set_push_target(INTAKE, closed).unwrap();
    let id = submit(&w, INTAKE, "Geheimer Betreff", "P-push").await;
    let addr = w.provider.http_addr();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let job = loop {
        let r = http(addr, "GET", "/testbed/deliveries", None, None).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let list = r.json();
        let job = list["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["message_id"] == id.as_str() && d["attempts"].as_u64() >= Some(1))
            .cloned();
        if let Some(job) = job {
            assert_eq!(list["provider"], "dmda-a");
            assert!(
                !String::from_utf8_lossy(&r.body).contains("Geheimer Betreff"),
                "no message content on this endpoint"
            );
            break job;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(job["kind"], "push");
    assert_eq!(job["mailbox"], INTAKE);
    assert_eq!(job["target"], closed.to_string());
    assert_eq!(job["state"], "retry");
    assert!(job["queue_id"].as_i64().unwrap() >= 1);
    assert!(job["next_attempt_at"].is_string(), "{job}");
    assert!(job["delivered_at"].is_null());
    let error = job["last_error"].as_str().unwrap();
    assert!(error.contains(&closed.to_string()), "{error}");
    assert!(job.get("subject").is_none());

    let delivered = http(
        addr,
        "GET",
        "/testbed/deliveries?state=delivered",
        None,
        None,
    )
    .await;
    assert_eq!(delivered.json()["deliveries"], serde_json::json!([]));
    let page = http(addr, "GET", "/testbed/deliveries?limit=1", None, None).await;
    let page = page.json();
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = http(
        addr,
        "GET",
        &format!("/testbed/deliveries?since={next}"),
        None,
        None,
    )
    .await;
    assert_eq!(rest.json()["deliveries"], serde_json::json!([]));
    for bad in ["state=late", "limit=0", "since=x", "who=me"] {
        let r = http(
            addr,
            "GET",
            &format!("/testbed/deliveries?{bad}"),
            None,
            None,
        )
        .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["type"], "urn:demail-testbed:problem:invalid-query");
    }
}
