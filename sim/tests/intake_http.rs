//! The reference intake's HTTP face (the test-clock endpoint, `sim/src/intake/http.rs`) on a
//! real loopback socket, against hostile requests: a body declared larger than the face takes
//! is answered 413 at once instead of being waited for.

use std::time::Duration;

use demail_sim::intake::{IntakeConfig, ReferenceIntake};
use demail_sim::pki::TestPki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";

/// An intake whose provider is nowhere (nothing here submits mail).
async fn start_intake(tag: &str) -> ReferenceIntake {
    demail_sim::init_crypto();
    let pki = TestPki::generate("test").unwrap();
    let dir = std::env::temp_dir().join(format!("demail-intake-http-{tag}-{}", std::process::id()));
    ReferenceIntake::start(IntakeConfig {
        file: demail_sim::intake::config::IntakeFile::default_dresden().unwrap(),
        passwords: [(INTAKE.to_string(), "pw".to_string())].into(),
        provider_submission: "127.0.0.1:9".parse().unwrap(),
        provider_http: None,
        ca_pem: pki.ca_pem().into(),
        ca_der: pki.ca_der().to_vec(),
        identity: pki
            .issue("intake.localhost", &["localhost", "127.0.0.1"])
            .unwrap(),
        tls_dir: dir,
        reply_options: Vec::new(),
        dms_url: None,
        dms_outbox: None,
        pull_tokens: None,
        provider_pop3: None,
        outages: Vec::new(),
        smtp_listen: None,
        http_listen: None,
        flaws: Default::default(),
        archive: None,
    })
    .await
    .unwrap()
}

/// Sends `request` and reads until the server closes (a 5 s guard against hanging).
async fn exchange(base: &str, request: &[u8]) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no answer and no close within 5 s; got {:?}",
                String::from_utf8_lossy(&out)
            )
        })
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /testbed/clock` with `Content-Length: 1000000000000` and 10 bytes of body: 413 with
/// an RFC 9457 problem at once (the limit, `intake::http::MAX_BODY_BYTES`, is in the detail);
/// a normal clock request still works afterwards.
#[tokio::test]
async fn declared_body_over_the_limit_is_413_at_once() {
    let intake = start_intake("413").await;
    let base = intake.base_url();
    let addr = base.trim_start_matches("http://");
    let head = format!(
        "POST /testbed/clock HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{{\"now\": \"2"
    );
    let r = exchange(&base, head.as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 413 "), "{r}");
    assert!(r.contains("content-type: application/problem+json"), "{r}");
    assert!(r.contains(r#""status":413"#), "{r}");
    assert!(
        r.contains(&demail_sim::intake::http::MAX_BODY_BYTES.to_string()),
        "{r}"
    );
    let body = r#"{"now":"2025-03-03T09:00:00+01:00"}"#;
    let ok = format!(
        "POST /testbed/clock HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let r = exchange(&base, ok.as_bytes()).await;
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
}
