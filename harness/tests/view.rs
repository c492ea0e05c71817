//! The run view (`demail-testbed view`, docs/ui.md "Run view") over a real socket: a scenario
//! is run into a scratch folder with the binary, then the view serves that folder. The index
//! lists it with its verdict; its page shows the checks with their evidence and the trace as a
//! timeline whose messages link to the De-Mail view; a sealed message is valid, the citizen's
//! submission is shown as such, a tampered copy is invalid; paths cannot leave the folder; a
//! foreign Host is refused; the CSP is on every answer.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SCENARIO: &str = "gewerbe/anzeige-absenderbestaetigt";

fn run_into(out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .current_dir(&root)
        .args(["run", &format!("scenarios/{SCENARIO}.toml"), "--out"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the scenario run failed");
}

/// GET `path` with `host` as Host; returns (status, head, body).
async fn get(addr: std::net::SocketAddr, host: &str, path: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("demail-view-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_run_view_shows_checks_timeline_and_messages() {
    let out = scratch("folder");
    run_into(&out);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let root = out.canonicalize().unwrap();
    tokio::spawn(demail_harness::cmd::view::serve(listener, root));
    let host = addr.to_string();

    let (status, head, body) = get(addr, &host, "/").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains(&format!(
            "content-security-policy: {}",
            demail_harness::cmd::view::CSP
        )),
        "{head}"
    );
    assert!(
        body.contains(&format!("href=\"/run/{SCENARIO}\"")),
        "{body}"
    );
    assert!(body.contains("bestanden (passed)"), "{body}");

    let (status, _, body) = get(addr, &host, &format!("/run/{SCENARIO}")).await;
    assert_eq!(status, 200, "{body}");
    for want in [
        "<code>eingangsbestaetigung</code>",
        "<code>empfangsbescheinigung</code>",
        "private-id copied",
        "<code>citizen.sent</code>",
        "<code>intake.received</code>",
        "2025-03-03T09:00:00+01:00",
    ] {
        assert!(body.contains(want), "{want} missing on the scenario page");
    }
    let first = format!("/message/{SCENARIO}/messages/000001.eml");
    let second = format!("/message/{SCENARIO}/messages/000002.eml");
    assert!(body.contains(&format!("href=\"{second}\"")), "{body}");

    let (status, _, body) = get(addr, &host, &first).await;
    assert_eq!(status, 200);
    assert!(body.contains("Einreichung (client submission)"), "{body}");
    let (status, _, body) = get(addr, &host, &second).await;
    assert_eq!(status, 200);
    assert!(body.contains("gültig (valid)"), "{body}");
    assert!(body.contains("id=\"demail-headers\""), "{body}");
    assert!(body.contains("X-de-mail-message-type"), "{body}");

    // The change stamps the live pages poll: the scenario's moves when its trace grows, and
    // so does the index's.
    let (status, head, stamp) = get(addr, &host, &format!("/changes/{SCENARIO}")).await;
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: no-store"), "{head}");
    let (_, _, index_stamp) = get(addr, &host, "/changes").await;
    let trace = out.join(SCENARIO).join("trace.jsonl");
    let mut t = std::fs::read_to_string(&trace).unwrap();
    t.push_str("{}\n");
    std::fs::write(&trace, t).unwrap();
    assert_ne!(
        get(addr, &host, &format!("/changes/{SCENARIO}")).await.2,
        stamp
    );
    assert_ne!(get(addr, &host, "/changes").await.2, index_stamp);

    // A tampered copy: one changed byte in the text breaks the seal.
    let file = out.join(SCENARIO).join("messages/000002.eml");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 10;
    bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
    std::fs::write(&file, bytes).unwrap();
    let (_, _, body) = get(addr, &host, &second).await;
    assert!(body.contains("ungültig (invalid)"), "{body}");

    // Nothing outside the run folder, nothing but numbered messages.
    for path in [
        "/run/../../etc",
        "/run/%2e%2e/%2e%2e/etc",
        "/message/../../etc/passwd",
        &format!("/message/{SCENARIO}/messages/../../../../etc/passwd"),
        &format!("/message/{SCENARIO}/messages/..%2f..%2f..%2fetc%2fpasswd"),
        &format!("/message/{SCENARIO}/pki/ca.pem"),
        &format!("/message/{SCENARIO}/messages/provider-dmda-a.sqlite"),
        "/run/.hidden",
        "/run/",
        "/pdf/../../etc/passwd",
        &format!("/pdf/{SCENARIO}/messages/../../../../etc/passwd"),
        &format!("/pdf/{SCENARIO}/pki/ca.pem"),
        // A message without a PDF part has none to serve.
        &format!("/pdf/{SCENARIO}/messages/000001.eml"),
        "/changes/../../etc",
        "/changes/.hidden",
    ] {
        let (status, _, body) = get(addr, &host, path).await;
        assert!(
            status == 404 || status == 400,
            "{path}: {status} {}",
            &body[..body.len().min(200)]
        );
        assert!(!body.contains("root:"), "{path} leaked a file");
    }
    // A foreign Host (DNS rebinding) is refused.
    let (status, head, _) = get(addr, "evil.example", "/").await;
    assert_eq!(status, 403);
    assert!(head.contains("content-security-policy"), "{head}");
    let _ = std::fs::remove_dir_all(&out);
}

/// `run --ui ADDR` serves the same view of its out folder while it runs and after, until
/// Ctrl-C: once the run reports its totals, the index lists the scenario with its verdict.
#[test]
fn run_ui_serves_the_view_of_its_out_folder() {
    use std::io::{BufRead, Read, Write};
    let out = scratch("ui-run");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .current_dir(&root)
        .args(["run", &format!("scenarios/{SCENARIO}.toml"), "--out"])
        .arg(&out)
        .args(["--ui", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut at = None;
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("run view: http://") {
            at = rest.split('/').next().map(str::to_string);
        }
        if line.starts_with("run view still at") {
            break;
        }
    }
    let at = at.expect("the run printed its view's address");
    let mut s = std::net::TcpStream::connect(&at).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {at}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains(&format!("href=\"/run/{SCENARIO}\"")),
        "{page}"
    );
    assert!(page.contains("bestanden (passed)"), "{page}");
    // The index follows the run by its change stamp, never by reloading itself.
    assert!(page.contains("data-changes=\"/changes\""), "{page}");
    assert!(!page.contains("http-equiv=\"refresh\""), "{page}");
    let _ = std::fs::remove_dir_all(&out);
}
