//! The provider's push into a STOCK SMTP receiver, Python's aiosmtpd
//! (`scripts/stock-receiver.py`), through `demail-testbed serve`: over STARTTLS with the
//! persistent test PKI of `pki init`, over plain SMTP on loopback (with a warning; refused
//! beyond loopback at start), and refused pushes (a 550, a certificate for another name) shown
//! by `GET /testbed/deliveries` and in serve's log at warn.
//!
//! Needs `python3` with aiosmtpd (`python3 -m pip install aiosmtpd==1.4.6`, as `.ci/run`
//! does). Without it each test prints "SKIPPED: aiosmtpd missing" and passes, unless the
//! environment variable CI is set: then it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve_common;

use serve_common::{
    http_get, scratch, start, start_refused, start_with, submit_to, terminate, wait_for_exit,
    wait_for_stderr,
};

const INSTITUTION: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
/// Answered 550 5.1.1 by the stock receiver (its `--refuse` prefix).
const REFUSED: &str = "abweisen@dresden.de-mail.de";

/// Whether aiosmtpd can be imported; without it the test is skipped loudly, or fails on CI.
fn aiosmtpd_available(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: python3 cannot import aiosmtpd; install it with `python3 -m pip install aiosmtpd==1.4.6` (.ci/run does)"
        );
        eprintln!(
            "\n*** SKIPPED: aiosmtpd missing: {test} needs `python3 -m pip install aiosmtpd==1.4.6` ***\n"
        );
    }
    ok
}

/// A running `scripts/stock-receiver.py`, killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    /// Starts the receiver writing into `out`; with `tls` (certificate, key) STARTTLS is
    /// required.
    fn start(out: &Path, tls: Option<(&Path, &Path)>) -> Receiver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/stock-receiver.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg("--out").arg(out);
        if let Some((cert, key)) = tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the stock receiver did not start: {line:?}"));
        Receiver {
            child,
            port,
            out: out.to_path_buf(),
        }
    }

    /// Waits up to 20 s for `n` messages; returns each message's text and metadata.
    fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut got: Vec<(String, Value)> = Vec::new();
            for i in 1..=n {
                let eml = self.out.join(format!("{i:06}.eml"));
                let meta = std::fs::read_to_string(self.out.join(format!("{i:06}.json")));
                if let (Ok(eml), Ok(meta)) = (std::fs::read_to_string(eml), meta) {
                    got.push((eml, serde_json::from_str(&meta).unwrap()));
                }
            }
            if got.len() == n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} of {n} messages",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `demail-testbed pki init DIR --host localhost`.
fn pki_init(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .args(["pki", "init"])
        .arg(dir)
        .args(["--host", "localhost"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One provider with Erika, the Gewerbeamt and the account the receiver refuses; both
/// institutions are pushed with `push` (the keys for the Gewerbeamt) and `refused_push`.
fn config(push: &str, refused_push: &str) -> String {
    format!(
        r#"
[[provider]]
id = "dmda-a"
name = "DMDA A"
domain = "dmda-a.de-mail.de"
hosts = ["dresden.de-mail.de"]

[[provider.account]]
address = "erika.mustermann@dmda-a.de-mail.de"
holder = "Erika Mustermann"
kind = "person"
auth_level = "high"
password = "erika"

[[provider.account]]
address = "{INSTITUTION}"
holder = "Gewerbeamt"
kind = "institution"
auth_level = "high"
password = "amt"
{push}

[[provider.account]]
address = "{REFUSED}"
holder = "Abweisestelle"
kind = "institution"
auth_level = "high"
password = "amt"
{refused_push}
"#
    )
}

/// The jobs of `GET /testbed/deliveries` for `mailbox`.
fn jobs(http: std::net::SocketAddr, mailbox: &str) -> Vec<Value> {
    let (status, body) = http_get(http, "/testbed/deliveries");
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    list["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["mailbox"] == mailbox)
        .cloned()
        .collect()
}

/// Waits up to 20 s for the first job of `mailbox` to satisfy `f`; returns it.
fn wait_for_job(http: std::net::SocketAddr, mailbox: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = jobs(http, mailbox);
        if let Some(j) = all.iter().find(|j| f(j)) {
            return j.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no such job for {mailbox}: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A stock aiosmtpd receiver that requires STARTTLS, with the server certificate `pki init
/// --host localhost` wrote, gets the De-Mail pushed by `serve --pki` (server name "localhost",
/// the CA named by `push_ca`): the message with its X-de-mail headers, over TLS, for the
/// institution's address; the delivery queue shows it delivered.
#[test]
fn stock_receiver_gets_pushes_over_starttls_with_the_persistent_pki() {
    if !aiosmtpd_available("stock_receiver_gets_pushes_over_starttls_with_the_persistent_pki") {
        return;
    }
    let (tmp, config_file) = scratch("stock-tls", "");
    let pki = tmp.join("pki");
    pki_init(&pki);
    let receiver = Receiver::start(
        &tmp.join("received"),
        Some((&pki.join("localhost.pem"), &pki.join("localhost-key.pem"))),
    );
    let push = format!(
        "push = \"127.0.0.1:{}\"\npush_tls = \"starttls\"\npush_server_name = \"localhost\"\npush_ca = \"pki/ca.pem\"",
        receiver.port
    );
    std::fs::write(&config_file, config(&push, "")).unwrap();
    let data = tmp.join("data");
    let mut served = start_with(&config_file, &data, &["--pki".as_ref(), pki.as_os_str()]);
    submit_to(
        served.smtp,
        &pki.join("ca.pem"),
        INSTITUTION,
        "Gewerbeanmeldung",
    );

    let got = receiver.wait_for(1);
    let (eml, meta) = &got[0];
    let lower = eml.to_ascii_lowercase();
    for header in [
        "x-de-mail-message-id: m000001@dmda-a.de-mail.de",
        "x-de-mail-message-type:",
        "x-de-mail-integrity:",
        "subject: gewerbeanmeldung",
    ] {
        assert!(lower.contains(header), "{header} missing:\n{eml}");
    }
    assert_eq!(meta["tls"], true, "{meta}");
    assert_eq!(meta["rcpt_tos"], serde_json::json!([INSTITUTION]));
    let job = wait_for_job(served.http, INSTITUTION, |j| j["state"] == "delivered");
    assert_eq!(job["target"], format!("127.0.0.1:{}", receiver.port));
    assert_eq!(job["attempts"], 1);
    terminate(&served);
    assert_eq!(wait_for_exit(&mut served).code(), Some(0));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `push_tls = "plain"` pushes into a plain stock receiver on loopback, and serve's stderr
/// warns that the push is unencrypted; the same to a non-loopback address is refused at
/// start (exit 2) with the file, line and key.
#[test]
fn plain_push_only_on_loopback_with_a_warning() {
    if !aiosmtpd_available("plain_push_only_on_loopback_with_a_warning") {
        return;
    }
    let (tmp, config_file) = scratch("stock-plain", "");
    let receiver = Receiver::start(&tmp.join("received"), None);
    let push = format!(
        "push = \"127.0.0.1:{}\"\npush_tls = \"plain\"",
        receiver.port
    );
    std::fs::write(&config_file, config(&push, "")).unwrap();
    let data = tmp.join("data");
    let mut served = start(&config_file, &data);
    wait_for_stderr(&served, "warning about the unencrypted push", |l| {
        l.contains("unencrypted") && l.contains(INSTITUTION)
    });
    submit_to(
        served.smtp,
        &data.join("pki/ca.pem"),
        INSTITUTION,
        "Klartext",
    );
    let got = receiver.wait_for(1);
    assert_eq!(got[0].1["tls"], false);
    assert!(
        got[0]
            .0
            .to_ascii_lowercase()
            .contains("x-de-mail-message-id:")
    );
    terminate(&served);
    assert_eq!(wait_for_exit(&mut served).code(), Some(0));

    let beyond = config("push = \"192.0.2.1:25\"\npush_tls = \"plain\"", "");
    std::fs::write(&config_file, &beyond).unwrap();
    let (code, err) = start_refused(&config_file, &tmp.join("data2"), &[]);
    assert_eq!(code, Some(2), "{err}");
    let line = beyond
        .lines()
        .position(|l| l.starts_with("push_tls"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "serve.toml:{line}:12: push_tls: plain SMTP push to 192.0.2.1:25 refused"
        )),
        "{err}"
    );
    assert!(err.contains("loopback"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Refused pushes are visible: a recipient the stock receiver answers with 550 5.1.1 is a
/// permanent failure, and a receiver whose certificate does not carry the configured server
/// name fails the TLS handshake (to be retried); `GET /testbed/deliveries` shows both with
/// the reply or the TLS error, and serve's log has a WARN line for each naming mailbox and
/// target.
#[test]
fn refused_pushes_show_in_deliveries_and_log() {
    if !aiosmtpd_available("refused_pushes_show_in_deliveries_and_log") {
        return;
    }
    let (tmp, config_file) = scratch("stock-refused", "");
    let pki = tmp.join("pki");
    pki_init(&pki);
    let receiver = Receiver::start(
        &tmp.join("received"),
        Some((&pki.join("localhost.pem"), &pki.join("localhost-key.pem"))),
    );
    let target = format!("127.0.0.1:{}", receiver.port);
    let wrong_name = format!("push = \"{target}\"\npush_server_name = \"intake.example\"");
    let refused = format!("push = \"{target}\"");
    std::fs::write(&config_file, config(&wrong_name, &refused)).unwrap();
    let data = tmp.join("data");
    let mut served = start_with(&config_file, &data, &["--pki".as_ref(), pki.as_os_str()]);

    submit_to(served.smtp, &pki.join("ca.pem"), REFUSED, "Abzuweisen");
    let job = wait_for_job(served.http, REFUSED, |j| j["state"] == "failed");
    assert_eq!(job["target"], target);
    assert_eq!(job["attempts"], 1);
    let reply = job["last_error"].as_str().unwrap();
    assert!(reply.contains("550") && reply.contains("5.1.1"), "{reply}");
    assert!(reply.contains("mailbox unavailable"), "{reply}");
    wait_for_stderr(&served, "WARN line for the 550", |l| {
        l.contains("WARN") && l.contains(REFUSED) && l.contains(&target) && l.contains("550")
    });

    submit_to(
        served.smtp,
        &pki.join("ca.pem"),
        INSTITUTION,
        "Falscher Name",
    );
    let job = wait_for_job(served.http, INSTITUTION, |j| j["state"] == "retry");
    assert!(job["next_attempt_at"].is_string(), "{job}");
    let error = job["last_error"].as_str().unwrap();
    assert!(
        error.contains("STARTTLS") && error.contains("not valid for name \"intake.example\""),
        "{error}"
    );
    wait_for_stderr(&served, "WARN line for the TLS failure", |l| {
        l.contains("WARN") && l.contains(INSTITUTION) && l.contains("STARTTLS")
    });
    assert!(
        std::fs::read_dir(&receiver.out).unwrap().next().is_none(),
        "the receiver got nothing"
    );
    terminate(&served);
    assert_eq!(wait_for_exit(&mut served).code(), Some(0));
    let _ = std::fs::remove_dir_all(&tmp);
}
