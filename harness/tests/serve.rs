//! `demail-testbed serve` as a separate process: a message the provider acknowledged with 250
//! is still in the store after the process is killed with SIGKILL (kill -9), and a restart on
//! the same data directory continues the message numbering instead of reusing ids, both the
//! X-de-mail-message-ids and the `messages/NNNNNN.eml` copies.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::serve_common;

use serve_common::{scratch, start, start_with, submit, terminate, wait_for_exit, wait_for_line};

const CONFIG: &str = serve_common::ERIKA_AND_GEWERBEAMT;

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
    let (tmp, config) = scratch("kill", CONFIG);
    let data = tmp.join("data");

    let mut served = start(&config, &data);
    submit(served.smtp, &data.join("pki/ca.pem"), "Erste Anzeige");
    served.child.kill().unwrap(); // SIGKILL: no shutdown code runs.
    served.child.wait().unwrap();
    assert_eq!(
        stored(&data),
        vec![("m000001@dmda-a.de-mail.de".into(), "Erste Anzeige".into())]
    );
    let before = copies(&data);
    assert!(!before.is_empty(), "the first run kept its message copies");
    assert!(before.contains_key("000001.eml"), "{:?}", before.keys());

    let mut served = start(&config, &data);
    submit(served.smtp, &data.join("pki/ca.pem"), "Zweite Anzeige");
    served.child.kill().unwrap();
    served.child.wait().unwrap();
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

/// One line-level exchange on a plain SMTP connection: sends `line` (if any) and returns the
/// reply's last line.
fn smtp_line(io: &mut BufReader<TcpStream>, line: Option<&str>) -> String {
    if let Some(l) = line {
        io.get_mut()
            .write_all(format!("{l}\r\n").as_bytes())
            .unwrap();
    }
    loop {
        let mut reply = String::new();
        io.read_line(&mut reply).unwrap();
        assert!(!reply.is_empty(), "connection closed");
        if reply.len() < 4 || reply.as_bytes()[3] == b' ' {
            return reply.trim_end().to_string();
        }
    }
}

/// SIGTERM stops `serve` like Ctrl-C: it prints "stopping", accepts no new connections, lets
/// an SMTP transaction that was open at the signal finish (250 after DATA, stored), and exits
/// with status 0; a message acknowledged before the signal is still in the store.
#[test]
fn sigterm_stops_cleanly_after_open_transactions() {
    let with_trusted = CONFIG.replacen(
        "hosts = [\"dresden.de-mail.de\"]",
        "hosts = [\"dresden.de-mail.de\"]\ntrusted_smtp = \"127.0.0.1:0\"",
        1,
    );
    let (tmp, config) = scratch("term", &with_trusted);
    let data = tmp.join("data");

    let mut served = start(&config, &data);
    let trusted = served
        .trusted
        .expect("serve printed its trusted SMTP address");
    submit(served.smtp, &data.join("pki/ca.pem"), "Vor dem Signal");

    // A transaction is open (envelope given, no DATA yet) when the signal comes.
    let mut c = BufReader::new(TcpStream::connect(trusted).unwrap());
    c.get_mut()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert!(smtp_line(&mut c, None).starts_with("220 "));
    assert!(smtp_line(&mut c, Some("EHLO test")).starts_with("250 "));
    assert_eq!(
        smtp_line(
            &mut c,
            Some("MAIL FROM:<erika.mustermann@dmda-a.de-mail.de>")
        ),
        "250 2.1.0 Sender OK"
    );
    assert_eq!(
        smtp_line(
            &mut c,
            Some("RCPT TO:<gewerbeangelegenheiten@dresden.de-mail.de>")
        ),
        "250 2.1.5 Recipient OK"
    );

    terminate(&served);
    assert_eq!(wait_for_line(&served, "stopping"), "stopping");
    // No new connections once stopping.
    assert!(
        TcpStream::connect(served.smtp).is_err(),
        "the submission port still accepts connections"
    );

    assert!(smtp_line(&mut c, Some("DATA")).starts_with("354 "));
    let reply = smtp_line(
        &mut c,
        Some(
            "From: <erika.mustermann@dmda-a.de-mail.de>\r\nTo: <gewerbeangelegenheiten@dresden.de-mail.de>\r\nSubject: =?utf-8?q?W=C3=A4hrend_des_Anhaltens?=\r\n\r\nHallo\r\n.",
        ),
    );
    assert!(reply.starts_with("250 2.0.0 "), "{reply}");
    assert!(smtp_line(&mut c, Some("QUIT")).starts_with("221 "));
    drop(c);

    let status = wait_for_exit(&mut served);
    assert_eq!(status.code(), Some(0), "{status}");
    let subjects: Vec<String> = stored(&data).into_iter().map(|(_, s)| s).collect();
    assert_eq!(subjects, ["Vor dem Signal", "Während des Anhaltens"]);
}

/// The events of `<data>/trace.jsonl`, parsed.
fn trace_lines(data: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("trace.jsonl"))
        .unwrap_or_else(|e| panic!("{}: {e}", data.join("trace.jsonl").display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `serve` streams its trace to `<data>/trace.jsonl` as events happen (it keeps only a
/// bounded window in memory, docs/serve.md "Memory"): after an accepted message and refused
/// commands of a client that never authenticates (530 each), the file holds their events,
/// numbered 1, 2, 3, … without gaps; a restart appends and continues the numbering.
#[test]
fn trace_streams_to_the_data_directory() {
    let (tmp, config) = scratch("trace", CONFIG);
    let data = tmp.join("data");

    let mut served = start(&config, &data);
    submit(served.smtp, &data.join("pki/ca.pem"), "Erste Anzeige");
    let mut c = BufReader::new(TcpStream::connect(served.smtp).unwrap());
    c.get_mut()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert!(smtp_line(&mut c, None).starts_with("220 "));
    assert!(smtp_line(&mut c, Some("EHLO test")).starts_with("250 "));
    for _ in 0..3 {
        assert_eq!(
            smtp_line(&mut c, Some("MAIL FROM:<x@y>")),
            "530 5.7.0 Authentication required"
        );
    }
    drop(c);

    let events = trace_lines(&data);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"provider.accepted"), "{kinds:?}");
    let refused: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["kind"] == "provider.refused")
        .collect();
    assert_eq!(refused.len(), 3, "{kinds:?}");
    assert!(
        refused
            .iter()
            .all(|e| e["code"] == 530 && e["stage"] == "MAIL")
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
    served.child.kill().unwrap();
    served.child.wait().unwrap();

    let mut served = start(&config, &data);
    submit(served.smtp, &data.join("pki/ca.pem"), "Zweite Anzeige");
    terminate(&served);
    assert_eq!(wait_for_exit(&mut served).code(), Some(0));
    let after = trace_lines(&data);
    assert!(after.len() > events.len(), "the restart appended");
    assert_eq!(after[..events.len()], events[..], "earlier lines unchanged");
    let seqs: Vec<u64> = after.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "seq continues after the restart");
}

/// `<data>/serve.json` lists, for scripts, what `serve` printed: every face's address (the
/// SMTP address the same as on stdout), every account with password and token, the CA and the
/// trace; the CA file it names exists and a client that trusts it can submit.
#[test]
fn serve_json_lists_faces_and_accounts() {
    let (tmp, config) = scratch("json", CONFIG);
    let data = tmp.join("data");

    let mut served = start(&config, &data);
    let text = std::fs::read_to_string(data.join("serve.json")).expect("serve.json written");
    let listing: serde_json::Value = serde_json::from_str(&text).unwrap();
    let provider = &listing["providers"][0];
    assert_eq!(provider["id"], "dmda-a");
    assert_eq!(
        provider["smtp_submission"].as_str().unwrap(),
        served.smtp.to_string()
    );
    for face in ["http", "relay", "pop3", "pop3s"] {
        assert!(
            provider[face]
                .as_str()
                .is_some_and(|a| a.contains("127.0.0.1:")),
            "{face}"
        );
    }
    let erika = provider["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "erika.mustermann@dmda-a.de-mail.de")
        .expect("erika listed");
    assert_eq!(erika["password"], "erika");
    assert_eq!(erika["auth_level"], "high");
    let ca = PathBuf::from(listing["ca_pem"].as_str().unwrap());
    assert!(ca.exists(), "{}", ca.display());
    submit(served.smtp, &ca, "Nach serve.json");
    terminate(&served);
    assert_eq!(wait_for_exit(&mut served).code(), Some(0));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A persistent test PKI: `pki init DIR --host localhost --client ADDRESS` writes the CA, a
/// server and a client certificate; `serve --pki DIR` signs with that CA at every start (the
/// `ca.pem` it writes into its data folder is DIR's, byte for byte, twice), and a client that
/// trusts DIR's `ca.pem` can submit; a second `pki init` keeps the CA.
#[test]
fn persistent_pki_survives_restarts() {
    let (tmp, config) = scratch("pki", CONFIG);
    let pki = tmp.join("pki");
    let init = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
            .args(["pki", "init"])
            .arg(&pki)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let said = init(&[
        "--host",
        "localhost",
        "--client",
        "erika.mustermann@dmda-a.de-mail.de",
    ]);
    assert!(said.starts_with("made the test CA"), "{said}");
    for file in [
        "ca.pem",
        "ca-key.pem",
        "localhost.pem",
        "localhost-key.pem",
        "client-erika.mustermann@dmda-a.de-mail.de.pem",
    ] {
        assert!(pki.join(file).exists(), "{file}");
    }
    let ca = std::fs::read(pki.join("ca.pem")).unwrap();
    assert!(init(&[]).starts_with("kept the test CA"));
    assert_eq!(std::fs::read(pki.join("ca.pem")).unwrap(), ca);

    let data = tmp.join("data");
    for round in ["Erste", "Zweite"] {
        let mut served = start_with(&config, &data, &["--pki".as_ref(), pki.as_os_str()]);
        assert_eq!(
            std::fs::read(data.join("pki/ca.pem")).unwrap(),
            ca,
            "{round}"
        );
        submit(served.smtp, &pki.join("ca.pem"), round);
        terminate(&served);
        assert_eq!(wait_for_exit(&mut served).code(), Some(0));
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .args(["pki", "init"])
        .arg(&pki)
        .args(["--client", "Not An Address"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    // A host name that would leave the folder is refused, nothing is written outside it.
    let outside = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .args(["pki", "init"])
        .arg(&pki)
        .args(["--host", "../outside"])
        .output()
        .unwrap();
    assert_eq!(outside.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&outside.stderr).contains("cannot be a file name"));
    assert!(!tmp.join("outside.pem").exists());
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Python's stock POP3 client (poplib, `scripts/pop3-stock-client.py`) reads the Gewerbeamt's
/// mailbox from `serve`: STLS on the plain port, USER/PASS (level normal), CAPA with UIDL and
/// TOP, UIDL = the X-de-mail-message-id, TOP without the body, RETR, DELE acknowledged at QUIT
/// (the next login sees nothing); and POP3S with the client certificate `pki init --client`
/// issued, logged in by AUTH EXTERNAL (level high).
#[test]
fn a_stock_pop3_client_reads_the_mailbox() {
    if Command::new("python3").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "python3 is needed");
        eprintln!("SKIPPED: python3 missing");
        return;
    }
    let (tmp, config) = scratch("pop3-stock", CONFIG);
    let (data, pki) = (tmp.join("data"), tmp.join("pki"));
    let amt = "gewerbeangelegenheiten@dresden.de-mail.de";
    let init = Command::new(env!("CARGO_BIN_EXE_demail-testbed"))
        .args(["pki", "init"])
        .arg(&pki)
        .args(["--client", amt])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let mut served = start_with(&config, &data, &["--pki".as_ref(), pki.as_os_str()]);
    submit(served.smtp, &pki.join("ca.pem"), "Anzeige per POP3");
    let listing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("serve.json")).unwrap()).unwrap();
    let face = |f: &str| listing["providers"][0][f].as_str().unwrap().to_string();
    let client = |args: &[&str]| -> serde_json::Value {
        let o = Command::new("python3")
            .arg(workspace_file("scripts/pop3-stock-client.py"))
            .arg("--ca")
            .arg(pki.join("ca.pem"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let pop3 = face("pop3");
    let normal = ["--pop3", &pop3, "--user", amt, "--password", "amt"];
    let high = client(&[
        "--pop3s",
        &face("pop3s"),
        "--cert",
        pki.join(format!("client-{amt}.pem")).to_str().unwrap(),
        "--key",
        pki.join(format!("client-{amt}-key.pem")).to_str().unwrap(),
    ]);
    assert!(high["login"].as_str().unwrap().starts_with("+OK"), "{high}");
    assert_eq!(high["count"], 1, "{high}");
    let first = client(&[&normal[..], &["--dele"]].concat());
    assert!(
        first["login"].as_str().unwrap().starts_with("+OK"),
        "{first}"
    );
    let capa: Vec<&str> = first["capa"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(["UIDL", "TOP"].iter().all(|c| capa.contains(c)), "{capa:?}");
    assert!(
        first["capa_before_tls"]
            .as_array()
            .is_some_and(|c| c.contains(&"STLS".into())),
        "{first}"
    );
    assert_eq!(first["count"], 1);
    assert_eq!(first["subject"], "Anzeige per POP3");
    assert_eq!(
        first["uidl"][0], first["message_id"],
        "UIDL is the X-de-mail-message-id"
    );
    assert_eq!(
        first["top_has_body"], false,
        "TOP 1 0 gives the header only"
    );
    let after = client(&normal);
    assert_eq!(
        after["count"], 0,
        "DELE acknowledged the message at QUIT: {after}"
    );
    terminate(&served);
    assert_eq!(wait_for_exit(&mut served).code(), Some(0));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A file of the workspace by its path from the root.
fn workspace_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}
