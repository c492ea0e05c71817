//! Running `demail-testbed serve` as a separate process, shared by the serve test files
//! (`serve.rs`, `push_stock.rs`; each includes it with `mod serve_common;`, not every file
//! uses every part): a scratch folder, start and stop, the lines it prints, a citizen's
//! submission over STARTTLS + AUTH, and a tiny HTTP GET for its HTTP face.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

/// A running `serve`: the child, its addresses, and the rest of its stdout, line by line.
pub struct Served {
    pub child: Child,
    pub smtp: SocketAddr,
    pub trusted: Option<SocketAddr>,
    /// The first provider's HTTP face.
    pub http: SocketAddr,
    pub stdout: mpsc::Receiver<String>,
    /// Every stderr line so far (each is also copied to the test's stderr).
    pub stderr: Arc<Mutex<Vec<String>>>,
}

/// A `serve` left running by a failing test is killed, not orphaned.
impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fresh scratch folder for test `name` holding `serve.toml` with `config`; the crypto
/// provider installed.
pub fn scratch(name: &str, config: &str) -> (PathBuf, PathBuf) {
    demail_sim::init_crypto();
    let tmp = std::env::temp_dir().join(format!("demail-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let file = tmp.join("serve.toml");
    std::fs::write(&file, config).unwrap();
    (tmp, file)
}

/// Starts `serve` and waits for "ready"; returns the child and its SMTP addresses.
pub fn start(config: &Path, data: &Path) -> Served {
    start_with(config, data, &[])
}

/// [`start`] with more arguments for `serve`.
pub fn start_with(config: &Path, data: &Path, extra: &[&std::ffi::OsStr]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .args(["serve", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = collect_stderr(&mut child);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut smtp = None;
    let mut trusted = None;
    let mut http = None;
    let address = |rest: &str| rest.split_whitespace().next().map(|a| a.parse().unwrap());
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("SMTP submission") {
            smtp = address(rest);
        }
        if let Some(rest) = line.trim().strip_prefix("trusted SMTP") {
            trusted = address(rest);
        }
        if let Some(rest) = line.trim().strip_prefix("HTTP") {
            let rest = rest.trim_start().trim_start_matches("http://");
            http = http.or_else(|| address(rest));
        }
        if line.starts_with("ready") {
            break;
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    let (tx, stdout) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Served {
        child,
        smtp: smtp.expect("serve printed its SMTP address"),
        trusted,
        http: http.expect("serve printed its HTTP address"),
        stdout,
        stderr,
    }
}

/// Waits up to 20 s for the next stdout line of `serve` that starts with `prefix`.
pub fn wait_for_line(served: &Served, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match served.stdout.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return line,
            Ok(_) => {}
            Err(e) => panic!("serve printed no line starting with {prefix:?}: {e}"),
        }
    }
}

/// Waits up to 20 s for `serve` to exit (kills it and fails if it does not).
pub fn wait_for_exit(served: &mut Served) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = served.child.kill();
            panic!("serve did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGTERM to `serve` (what systemd and Kubernetes send to stop a service).
pub fn terminate(served: &Served) {
    let status = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM failed");
}

/// Erika submits a De-Mail to the Gewerbeamt; panics unless the provider answers 250.
pub fn submit(smtp: SocketAddr, ca: &Path, subject: &str) {
    submit_to(
        smtp,
        ca,
        "gewerbeangelegenheiten@dresden.de-mail.de",
        subject,
    );
}

/// One provider `dmda-a` hosting `dresden.de-mail.de`, with Erika (person, password "erika")
/// and the Gewerbeamt (institution, password "amt"), both at level high.
pub const ERIKA_AND_GEWERBEAMT: &str = r#"
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
address = "gewerbeangelegenheiten@dresden.de-mail.de"
holder = "Gewerbeamt"
kind = "institution"
auth_level = "high"
password = "amt"
"#;

/// Erika (password "erika") submits a De-Mail to `to` over STARTTLS + AUTH PLAIN, trusting
/// `ca`; panics unless the provider answers 250.
pub fn submit_to(smtp: SocketAddr, ca: &Path, to: &str, subject: &str) {
    try_submit_to(smtp, ca, to, subject).expect("the provider answers 250");
}

/// [`submit_to`], with the failure as text instead of a panic (the server may be gone).
pub fn try_submit_to(smtp: SocketAddr, ca: &Path, to: &str, subject: &str) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let cert =
        Certificate::from_pem(&std::fs::read(ca).map_err(|e| err(&e))?).map_err(|e| err(&e))?;
    let tls = TlsParameters::builder("localhost".into())
        .add_root_certificate(cert)
        .build_rustls()
        .map_err(|e| err(&e))?;
    let mailer = SmtpTransport::builder_dangerous(smtp.ip().to_string())
        .port(smtp.port())
        .tls(Tls::Required(tls))
        .credentials(Credentials::new(
            "erika.mustermann@dmda-a.de-mail.de".into(),
            "erika".into(),
        ))
        .authentication(vec![Mechanism::Plain])
        .timeout(Some(Duration::from_secs(20)))
        .build();
    let raw = format!(
        "From: <erika.mustermann@dmda-a.de-mail.de>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\nHallo\r\n"
    );
    let envelope = Envelope::new(
        Some("erika.mustermann@dmda-a.de-mail.de".parse().unwrap()),
        vec![to.parse().unwrap()],
    )
    .unwrap();
    mailer
        .send_raw(&envelope, raw.as_bytes())
        .map(drop)
        .map_err(|e| err(&e))
}

/// Reads the child's stderr on a thread: each line is kept and copied to the test's stderr
/// (so a failing test still shows what serve logged).
fn collect_stderr(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let keep = lines.clone();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            eprintln!("serve: {line}");
            keep.lock().unwrap().push(line);
        }
    });
    lines
}

/// Waits up to 20 s until some stderr line of `serve` satisfies `f`; returns it.
pub fn wait_for_stderr(served: &Served, what: &str, f: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(l) = served.stderr.lock().unwrap().iter().find(|l| f(l)) {
            return l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "serve logged no {what} on stderr: {:#?}",
            served.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `serve` with a configuration it must refuse: waits up to 20 s for it to exit (kills it
/// and fails if it does not) and returns its exit code and stderr.
pub fn start_refused(
    config: &Path,
    data: &Path,
    extra: &[&std::ffi::OsStr],
) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .args(["serve", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started although its configuration must be refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// `GET path` on `addr` (HTTP/1.1, `Connection: close`): the status and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}
