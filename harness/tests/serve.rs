//! `demail-testbed serve` as a separate process: a message the provider acknowledged with 250
//! is still in the store after the process is killed with SIGKILL (kill -9), and a restart on
//! the same data directory continues the message numbering instead of reusing ids, both the
//! X-de-mail-message-ids and the `messages/NNNNNN.eml` copies.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

const CONFIG: &str = r#"
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

/// Starts `serve` and waits for "ready"; returns the child and its SMTP address.
fn start(config: &Path, data: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .args(["serve", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut smtp = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("SMTP submission") {
            smtp = rest.split_whitespace().next().map(|a| a.parse().unwrap());
        }
        if line.starts_with("ready") {
            break;
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, smtp.expect("serve printed its SMTP address"))
}

fn submit(smtp: SocketAddr, ca: &Path, subject: &str) {
    let cert = Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let tls = TlsParameters::builder("localhost".into())
        .add_root_certificate(cert)
        .build_rustls()
        .unwrap();
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
        "From: <erika.mustermann@dmda-a.de-mail.de>\r\nTo: <gewerbeangelegenheiten@dresden.de-mail.de>\r\nSubject: {subject}\r\n\r\nHallo\r\n"
    );
    let envelope = Envelope::new(
        Some("erika.mustermann@dmda-a.de-mail.de".parse().unwrap()),
        vec!["gewerbeangelegenheiten@dresden.de-mail.de".parse().unwrap()],
    )
    .unwrap();
    mailer
        .send_raw(&envelope, raw.as_bytes())
        .expect("the provider answers 250");
}

fn stored(data: &Path) -> Vec<(String, String)> {
    let store =
        demail_sim::provider::store::Store::open(Some(&data.join("dmda-a/store.sqlite")), &[])
            .unwrap();
    store
        .mailbox("gewerbeangelegenheiten@dresden.de-mail.de")
        .unwrap()
        .into_iter()
        .map(|m| (m.message_id, m.subject))
        .collect()
}

/// The `messages/NNNNNN.eml` copies of one provider: file name → bytes.
fn copies(data: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let dir = data.join("dmda-a/messages");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Default::default();
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A 250 survives kill -9, and a restart continues the numbering (no id is reused): the
/// message copies written before the restart keep their files and bytes, the ones after it
/// get new numbers after the highest one there.
#[test]
fn acknowledged_mail_survives_kill_9() {
    demail_sim::init_crypto();
    let tmp: PathBuf = std::env::temp_dir().join(format!("demail-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let config = tmp.join("serve.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = tmp.join("data");

    let (mut child, smtp) = start(&config, &data);
    submit(smtp, &data.join("pki/ca.pem"), "Erste Anzeige");
    child.kill().unwrap(); // SIGKILL: no shutdown code runs.
    child.wait().unwrap();
    assert_eq!(
        stored(&data),
        vec![("m000001@dmda-a.de-mail.de".into(), "Erste Anzeige".into())]
    );
    let before = copies(&data);
    assert!(!before.is_empty(), "the first run kept its message copies");
    assert!(before.contains_key("000001.eml"), "{:?}", before.keys());

    let (mut child, smtp) = start(&config, &data);
    submit(smtp, &data.join("pki/ca.pem"), "Zweite Anzeige");
    child.kill().unwrap();
    child.wait().unwrap();
    let after = stored(&data);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[1].0, "m000002@dmda-a.de-mail.de");
    assert_eq!(after[1].1, "Zweite Anzeige");
    let now = copies(&data);
    for (name, bytes) in &before {
        assert!(
            now.get(name) == Some(bytes),
            "{name} was overwritten or removed by the second run"
        );
    }
    let highest = before.keys().max().unwrap().clone();
    let added: Vec<&String> = now.keys().filter(|n| !before.contains_key(*n)).collect();
    assert!(!added.is_empty(), "the second run kept no copy: {now:?}");
    assert!(
        added.iter().all(|n| **n > highest),
        "new copies {added:?} must be numbered after {highest}"
    );
    assert!(
        added
            .iter()
            .any(|n| String::from_utf8_lossy(&now[*n]).contains("Zweite Anzeige")),
        "the second message has a copy of its own"
    );
}
