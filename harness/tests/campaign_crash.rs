//! The crash campaign (issue #18, docs/reliability.md): `demail-testbed serve` is killed with
//! SIGKILL at a seeded random moment while several clients submit De-Mails, then restarted on
//! the same data folder, trial after trial. Counted per run: messages acknowledged with 250
//! but not in the store afterwards (goal 0), messages stored twice (goal 0), and messages
//! stored although their client saw no 250 (allowed: the kill fell between commit and reply).
//! Across trials the X-de-mail-message-ids stay unique and the `messages/NNNNNN.eml` copies of
//! earlier trials are never overwritten.
//!
//! Beside the submitting clients, the Gewerbeamt's own client reads its mailbox over the
//! gateway API and acknowledges what it finds (`POST /api/v1/messages/{id}/ack`): every
//! acknowledgement answered 200 must still be recorded after the kill (goal 0 lost), so a
//! message fetched and acknowledged is never offered again.
//!
//! A peer provider (dmda-b, trusted by `serve` as a configured provider; its certificates from
//! the same persistent test PKI, `serve --pki`) hands sealed De-Mails over on `serve`'s relay
//! face (IT-BInfra-IO §7, PVD-FU Schritt 41–45): every message answered 250 there must be
//! stored once after the kill (goal 0 lost, 0 duplicated), like a submission. Like a sending
//! MTA, the peer hands over again after the restart what got no 250, with the same bytes and
//! X-de-mail-message-id: a message the store already held must not be stored twice.
//!
//! A local message client reads a third mailbox over POP3 (STLS, USER/PASS), RETRs and DELEs
//! what it finds and QUITs; now and then it takes the marks back with RSET first. RFC 1939 §6:
//! the deletions of a session are committed in the UPDATE state, after QUIT; so a DELE whose
//! QUIT was answered `+OK` must stay deleted after the restart (goal 0 resurrected), and a
//! message that was seen but not committed (kept, RSET, or the kill came before QUIT) must
//! still be in the maildrop (goal 0 lost). A DELE whose QUIT got no answer may go either way
//! and is counted apart. The first POP3 listing after every start is judged, also on `serve`
//! restarted once more after the last trial. One client keeps one message in three for good;
//! in every third trial the kill waits for the POP3 client to have DELEd (it then waits
//! 200 ms before its QUIT), so that uncommitted deletions are cut.
//!
//! The short form (3 trials) runs with the tests; `CAMPAIGN_TRIALS=20` and `CAMPAIGN_SEED`
//! for the long form (`scripts/campaign-crash.sh`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use demail_sim::demail::headers::RawMessage;
use demail_sim::demail::integrity::{self, HashAlg, Signer};
use demail_sim::pki::TestPki;

mod serve_common;

use serve_common::{scratch, start_with};

/// The bearer token of the Gewerbeamt's gateway client.
const TOKEN: &str = "token-gewerbeamt-crash";

/// The mailbox the POP3 client reads, and its password.
const POSTSTELLE: &str = "poststelle@dresden.de-mail.de";
const POSTSTELLE_PASSWORD: &str = "post";

/// The peer provider that hands messages over on the relay face, and its sender.
const PEER: &str = "dmda-b.de-mail.de";
const PEER_SENDER: &str = "max.muster@dmda-b.de-mail.de";

/// Erika and the Gewerbeamt (with a gateway API token) and the Poststelle at dmda-a; dmda-b
/// as a second provider, which makes it a trusted peer of dmda-a's relay face (`serve` trusts
/// the providers of its configuration).
fn config() -> String {
    format!(
        "{}api_token = \"{TOKEN}\"\n\n\
         [[provider.account]]\naddress = \"{POSTSTELLE}\"\nholder = \"Poststelle\"\n\
         kind = \"institution\"\nauth_level = \"high\"\npassword = \"{POSTSTELLE_PASSWORD}\"\n\n\
         [[provider]]\nid = \"dmda-b\"\nname = \"DMDA B\"\ndomain = \"{PEER}\"\n\n\
         [[provider.account]]\naddress = \"{PEER_SENDER}\"\nholder = \"Max Muster\"\n\
         kind = \"person\"\nauth_level = \"normal\"\npassword = \"max\"\n",
        serve_common::ERIKA_AND_GEWERBEAMT
    )
}

const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";

/// dmda-a's faces of this start, from `serve.json` (docs/serve.md; stdout lists both
/// providers).
struct Faces {
    smtp: SocketAddr,
    relay: SocketAddr,
    pop3: SocketAddr,
}

fn faces(data: &Path) -> Faces {
    let text = std::fs::read_to_string(data.join("serve.json")).unwrap();
    let listing: serde_json::Value = serde_json::from_str(&text).unwrap();
    let a = &listing["providers"][0];
    assert_eq!(a["id"], "dmda-a", "{listing}");
    let addr = |key: &str| a[key].as_str().unwrap().parse().unwrap();
    Faces {
        smtp: addr("smtp_submission"),
        relay: addr("relay"),
        pop3: addr("pop3"),
    }
}

/// A line-oriented client connection (plain or TLS) with a read timeout.
struct Conn<S: Read + Write> {
    io: BufReader<S>,
}

impl<S: Read + Write> Conn<S> {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let s = self.io.get_mut();
        s.write_all(bytes)
            .and_then(|()| s.flush())
            .map_err(|e| e.to_string())
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.io.read_line(&mut line) {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(line),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A complete SMTP reply (the last line's text); `Err` unless its code is `code`.
    fn smtp(&mut self, command: &[u8], code: &str) -> Result<String, String> {
        if !command.is_empty() {
            self.send(command)?;
        }
        loop {
            let line = self.line()?;
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return if line.starts_with(code) {
                    Ok(line)
                } else {
                    Err(line)
                };
            }
        }
    }

    /// A POP3 status line; `Err` unless `+OK`.
    fn pop3(&mut self, command: &str) -> Result<String, String> {
        self.send(format!("{command}\r\n").as_bytes())?;
        let line = self.line()?;
        if line.starts_with("+OK") {
            Ok(line)
        } else {
            Err(line)
        }
    }

    /// The lines of a POP3 multi-line answer, up to the terminating ".".
    fn multiline(&mut self) -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line()?;
            if line == ".\r\n" {
                return Ok(lines);
            }
            lines.push(line);
        }
    }
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS client on `tcp` for `server_name`, trusting the test CA, with `client` as its
/// certificate if given.
fn tls(
    pki: &TestPki,
    tcp: TcpStream,
    server_name: &str,
    client: Option<&demail_sim::pki::Identity>,
) -> Result<Tls, String> {
    let builder = rustls::ClientConfig::builder().with_root_certificates(pki.root_store().unwrap());
    let config = match client {
        Some(id) => builder
            .with_client_auth_cert(
                vec![id.cert_der.clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(id.key_der.clone().into()),
            )
            .map_err(|e| e.to_string())?,
        None => builder.with_no_client_auth(),
    };
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
        .map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

fn tcp(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// Submits one De-Mail with `subject` to `to`; `Ok(())` only on 250.
fn submit(smtp: SocketAddr, ca: &Path, to: &str, subject: &str) -> Result<(), String> {
    serve_common::try_submit_to(smtp, ca, to, subject)
}

/// One hand-over of the peer: the subject and the bytes of DATA (sealed, ending in CRLF.CRLF).
struct HandOver {
    subject: String,
    data: Vec<u8>,
}

/// The peer provider dmda-b: over one relay session (implicit TLS, its client certificate),
/// hands over sealed De-Mails to the Gewerbeamt one after the other, each after the answer to
/// the one before, until `stop` or the first failure. Like a sending MTA it first hands over
/// again, with the same bytes and X-de-mail-message-id, what got no 250 before the last kill
/// (`retry`). Returns every hand-over and whether it was answered 250 (one not tried counts as
/// not answered).
fn relay_peer(
    pki: &TestPki,
    relay: SocketAddr,
    trial: u64,
    stop: &AtomicBool,
    retry: Vec<HandOver>,
) -> Vec<(HandOver, bool)> {
    let mut out = Vec::new();
    let mut retry = retry.into_iter();
    let id = pki.issue(PEER, &[PEER]).unwrap();
    let signer = Signer::ecdsa_p256_from_pkcs8_der(&id.key_der, id.cert_der.to_vec()).unwrap();
    let mut n = 0;
    let session = tcp(relay).and_then(|t| tls(pki, t, "dmda-a.de-mail.de", Some(&id)));
    if let Ok(stream) = session {
        let mut c = Conn {
            io: BufReader::new(stream),
        };
        let greeted = c.smtp(b"", "220").is_ok()
            && c.smtp(format!("EHLO {PEER}\r\n").as_bytes(), "250").is_ok();
        while greeted && !stop.load(Ordering::SeqCst) {
            let hand_over = retry.next().unwrap_or_else(|| {
                n += 1;
                let subject = format!("trial-{trial}-relay-{n}");
                // The peer's provider fields and seal (PVD-IO Tabelle 1, §3.1.21), as dmda-b
                // would write them for a message of its user to the Gewerbeamt.
                let mut msg = RawMessage::parse(
                    format!(
                        "From: <{PEER_SENDER}>\r\nTo: <{INTAKE}>\r\nSubject: {subject}\r\n\
                         X-de-mail-sender: {PEER_SENDER}\r\n\
                         X-de-mail-message-id: t{trial}r{n}@{PEER}\r\n\
                         X-de-mail-message-type: normal\r\n\r\nHallo\r\n"
                    )
                    .as_bytes(),
                )
                .unwrap();
                integrity::seal(&mut msg, HashAlg::Sha256, Some(&signer)).unwrap();
                // No line of the sealed message starts with "." (no dot-stuffing needed).
                let mut data = msg.to_bytes();
                data.extend_from_slice(b".\r\n");
                HandOver { subject, data }
            });
            let ok = c
                .smtp(format!("MAIL FROM:<{PEER_SENDER}>\r\n").as_bytes(), "250")
                .and_then(|_| c.smtp(format!("RCPT TO:<{INTAKE}>\r\n").as_bytes(), "250"))
                .and_then(|_| c.smtp(b"DATA\r\n", "354"))
                .and_then(|_| c.send(&hand_over.data))
                .and_then(|()| c.smtp(b"", "250"))
                .is_ok();
            out.push((hand_over, ok));
            if !ok {
                break;
            }
        }
    }
    out.extend(retry.map(|h| (h, false)));
    out
}

/// What the POP3 client did and saw.
#[derive(Default)]
struct Pop3Log {
    /// The campaign's seed (which messages the client keeps).
    seed: u64,
    sessions: usize,
    /// X-de-mail-message-ids (UIDL) DELEd in a session whose QUIT was answered `+OK`.
    committed: BTreeSet<String>,
    /// Sessions whose QUIT was answered `+OK` with at least one DELE.
    committing_quits: usize,
    /// Every id a session listed.
    seen: BTreeSet<String>,
    /// Ids DELEd in a session whose QUIT was sent but not answered (either outcome allowed).
    undecided: BTreeSet<String>,
    /// Sessions that took their marks back with RSET before QUIT.
    rsets: usize,
    /// The DELEs of the session in progress.
    marked: Vec<String>,
    /// Ids DELEd in a session cut by the kill before its QUIT was sent.
    cut: BTreeSet<String>,
    /// In a trial whose kill waits for the POP3 client: told once when a session has DELEd
    /// (and not RSET) and is about to QUIT; the session then waits 200 ms before its QUIT.
    on_marked: Option<std::sync::mpsc::Sender<()>>,
    /// The listing (UIDL) of the latest session that got that far.
    listing: Option<BTreeSet<String>>,
    /// Checked at the first listing after each start: ids that were listed before and never
    /// committed (so expected again), those of them missing (lost), and committed ids listed
    /// again (resurrected).
    expected: usize,
    lost: Vec<String>,
    resurrected: Vec<String>,
    restarts_checked: usize,
}

impl Pop3Log {
    /// Ids listed before and neither committed nor undecided: they must be in the maildrop.
    fn must_remain(&self) -> BTreeSet<String> {
        self.seen
            .iter()
            .filter(|id| !self.committed.contains(*id) && !self.undecided.contains(*id))
            .cloned()
            .collect()
    }

    /// The first session after a (re)start: judges its listing against what came before.
    fn first_after_restart(
        &mut self,
        pki: &TestPki,
        pop3: SocketAddr,
        delete: bool,
        rset: bool,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let remain = self.must_remain();
        let committed = self.committed.clone();
        self.listing = None;
        let r = pop3_session(pki, pop3, rset, delete, self, stop);
        if let Some(listed) = self.listing.take() {
            self.restarts_checked += 1;
            self.expected += remain.len();
            self.lost.extend(remain.difference(&listed).cloned());
            self.resurrected
                .extend(committed.intersection(&listed).cloned());
        }
        r.map(drop)
    }
}

/// One POP3 session as the Poststelle over STLS + USER/PASS: UIDL, then (when `delete`) for
/// up to four messages RETR and DELE, RETR only for up to four it keeps; RSET before QUIT
/// when `rset`; QUIT. Returns how many deletions the QUIT committed; records the listing and
/// what was committed in `log`. `Err` when the server went away.
fn pop3_session(
    pki: &TestPki,
    pop3: SocketAddr,
    rset: bool,
    delete: bool,
    log: &mut Pop3Log,
    stop: &AtomicBool,
) -> Result<usize, String> {
    let mut c = Conn {
        io: BufReader::new(tcp(pop3)?),
    };
    let greeting = c.line()?;
    if !greeting.starts_with("+OK") {
        return Err(greeting);
    }
    c.pop3("STLS")?;
    let tcp = c.io.into_inner();
    let mut c = Conn {
        io: BufReader::new(tls(pki, tcp, "localhost", None)?),
    };
    c.pop3(&format!("USER {POSTSTELLE}"))?;
    c.pop3(&format!("PASS {POSTSTELLE_PASSWORD}"))?;
    log.sessions += 1;
    c.pop3("UIDL")?;
    let listed: Vec<(String, String)> = c
        .multiline()?
        .iter()
        .filter_map(|l| {
            let (n, uid) = l.trim_end().split_once(' ')?;
            Some((n.to_string(), uid.to_string()))
        })
        .collect();
    log.seen.extend(listed.iter().map(|(_, uid)| uid.clone()));
    log.listing = Some(listed.iter().map(|(_, uid)| uid.clone()).collect());
    let marked = &mut log.marked;
    marked.clear();
    if delete {
        // The client keeps one message in three for good (chosen by the seed from its id):
        // those must be listed after every restart.
        let seed = log.seed;
        let keeps = |uid: &str| demail_sim::seed::derive(seed, uid).is_multiple_of(3);
        // It reads (RETR) up to four it keeps and up to four others, and DELEs the others.
        let (kept, others): (Vec<_>, Vec<_>) = listed.iter().partition(|(_, uid)| keeps(uid));
        for (n, _) in kept.iter().take(4) {
            c.pop3(&format!("RETR {n}"))?;
            c.multiline()?;
        }
        for (n, uid) in others.iter().take(4) {
            c.pop3(&format!("RETR {n}"))?;
            c.multiline()?;
            c.pop3(&format!("DELE {n}"))?;
            marked.push(uid.clone());
        }
        if rset && !marked.is_empty() {
            c.pop3("RSET")?;
            marked.clear();
            log.rsets += 1;
        }
    }
    if !log.marked.is_empty()
        && let Some(tx) = log.on_marked.take()
        && tx.send(()).is_ok()
    {
        std::thread::sleep(Duration::from_millis(200));
        // The kill came meanwhile (the campaign stops the clients right after it): the
        // session ends without QUIT, its DELEs uncommitted.
        if stop.load(Ordering::SeqCst) {
            return Err("serve was killed before QUIT".into());
        }
    }
    c.send(b"QUIT\r\n")?;
    let marked = std::mem::take(&mut log.marked);
    match c.line() {
        Ok(l) if l.starts_with("+OK") => {
            if !marked.is_empty() {
                log.committing_quits += 1;
            }
            let committed = marked.len();
            log.committed.extend(marked);
            Ok(committed)
        }
        Ok(l) => Err(l),
        Err(e) => {
            log.undecided.extend(marked);
            Err(e)
        }
    }
}

/// The Poststelle's message client: POP3 sessions one after the other until `stop` or the
/// first failure; one session in four (chosen by the seed) ends with RSET. The first session
/// after the (re)start is judged against `log` of the trials before.
fn pop3_reader(
    pki: &TestPki,
    pop3: SocketAddr,
    seed: u64,
    trial: u64,
    stop: &AtomicBool,
    mut log: Pop3Log,
) -> Pop3Log {
    let rset = |k: u64| {
        demail_sim::seed::derive(seed, &format!("crash-pop3:{trial}:{k}")).is_multiple_of(4)
    };
    if log
        .first_after_restart(pki, pop3, true, rset(0), stop)
        .is_err()
    {
        return log;
    }
    let mut k = 0;
    while !stop.load(Ordering::SeqCst) {
        k += 1;
        match pop3_session(pki, pop3, rset(k), true, &mut log, stop) {
            Ok(0) => std::thread::sleep(Duration::from_millis(5)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let cut = std::mem::take(&mut log.marked);
    log.cut.extend(cut);
    log
}

/// One HTTP/1.1 request with the Gewerbeamt's token; the status and the body, or an error when
/// the server is gone.
fn gateway(http: SocketAddr, method: &str, path: &str) -> Result<(u16, String), String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(http).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {http}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {out:?}"))?;
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

/// The Gewerbeamt's client: lists its open messages and acknowledges each; returns the ids
/// whose acknowledgement was answered 200, until `stop` or the first failure.
fn acknowledger(http: SocketAddr, stop: &AtomicBool) -> Vec<String> {
    let mut acked = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let Ok((200, body)) = gateway(http, "GET", "/api/v1/messages?limit=10") else {
            break;
        };
        let list: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let ids: Vec<String> = list["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        if ids.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
        for id in ids {
            match gateway(http, "POST", &format!("/api/v1/messages/{id}/ack")) {
                Ok((200, _)) => acked.push(id),
                _ => return acked,
            }
        }
    }
    acked
}

/// Every message in the Gewerbeamt's and the Poststelle's mailboxes: X-de-mail-message-id
/// and subject.
fn stored(data: &Path) -> Vec<(String, String)> {
    let store =
        demail_sim::provider::store::Store::open(Some(&data.join("dmda-a/store.sqlite")), &[])
            .unwrap();
    [INTAKE, POSTSTELLE]
        .into_iter()
        .flat_map(|mailbox| store.mailbox(mailbox).unwrap())
        .map(|m| (m.message_id, m.subject))
        .collect()
}

/// Of the subjects sent on one face: acknowledged (250) but not stored, stored more than once,
/// and stored although not acknowledged.
fn judge<'a>(
    sent: &'a BTreeMap<String, bool>,
    count: &BTreeMap<&str, usize>,
) -> (Vec<&'a String>, Vec<&'a String>, usize) {
    let lost = sent
        .iter()
        .filter(|(s, ok)| **ok && !count.contains_key(s.as_str()))
        .map(|(s, _)| s)
        .collect();
    let duplicated = sent
        .keys()
        .filter(|s| count.get(s.as_str()).is_some_and(|n| *n > 1))
        .collect();
    let unacked_stored = sent
        .iter()
        .filter(|(s, ok)| !**ok && count.contains_key(s.as_str()))
        .count();
    (lost, duplicated, unacked_stored)
}

/// SHA-256 of every message copy, by file name.
fn copies(data: &Path) -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(data.join("dmda-a/messages")) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                demail_harness::certify::catalogue::sha256_hex(&bytes),
            )
        })
        .collect()
}

#[test]
fn acknowledged_mail_survives_kill_9_at_random_moments() {
    let trials: u64 = std::env::var("CAMPAIGN_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("CAMPAIGN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(18);
    let (tmp, config) = scratch("crash-campaign", &config());
    let data = tmp.join("data");
    // One persistent test PKI for all starts (`serve --pki`): the peer's certificates and the
    // clients' trust anchor come from it.
    let pki_dir = tmp.join("pki");
    let pki = Arc::new(TestPki::load_or_init(&pki_dir).unwrap());
    let mut submitted: BTreeMap<String, bool> = BTreeMap::new();
    let mut relayed: BTreeMap<String, bool> = BTreeMap::new();
    // Hand-overs without a 250, to be handed over again after the restart; how many were.
    let mut relay_pending: Vec<HandOver> = Vec::new();
    let (mut resent, mut resent_acked, mut resent_stored) = (0, 0, 0);
    let mut earlier_copies: BTreeMap<String, String> = BTreeMap::new();
    let mut gateway_acked: BTreeSet<String> = BTreeSet::new();
    let mut pop3 = Pop3Log {
        seed,
        ..Pop3Log::default()
    };
    for trial in 0..trials {
        let mut served = start_with(&config, &data, &["--pki".as_ref(), pki_dir.as_os_str()]);
        let at = faces(&data);
        let ca = data.join("pki/ca.pem");
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        // Two clients submit to the Gewerbeamt, one to the Poststelle.
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let (stop, outcomes, ca, smtp) =
                    (stop.clone(), outcomes.clone(), ca.clone(), at.smtp);
                let to = if c == 2 { POSTSTELLE } else { INTAKE };
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let subject = format!("trial-{trial}-client-{c}-{n}");
                        let r = submit(smtp, &ca, to, &subject);
                        let failed = r.is_err();
                        outcomes.lock().unwrap().push((subject, r.is_ok()));
                        if failed {
                            break;
                        }
                    }
                })
            })
            .collect();
        let reader = {
            let (stop, http) = (stop.clone(), served.http);
            std::thread::spawn(move || acknowledger(http, &stop))
        };
        let peer = {
            let (stop, pki, relay) = (stop.clone(), pki.clone(), at.relay);
            let retry = std::mem::take(&mut relay_pending);
            resent += retry.len();
            std::thread::spawn(move || relay_peer(&pki, relay, trial, &stop, retry))
        };
        // In every third trial (the third, sixth, …) the kill waits for the POP3 client to
        // have DELEd and not yet QUIT, so that uncommitted deletions are cut; the other trials
        // let the client commit.
        let (marked_tx, marked_rx) = std::sync::mpsc::channel();
        let targeted = trial % 3 == 2;
        pop3.on_marked = targeted.then_some(marked_tx);
        let mailer = {
            let (stop, pki, addr, log) = (
                stop.clone(),
                pki.clone(),
                at.pop3,
                std::mem::take(&mut pop3),
            );
            std::thread::spawn(move || pop3_reader(&pki, addr, seed, trial, &stop, log))
        };
        // The kill falls 150 to 900 ms into the load, chosen by the seed; in a targeted trial
        // as soon as the POP3 client has DELEd, if that comes first.
        let delay = 150 + demail_sim::seed::derive(seed, &format!("crash:{trial}")) % 750;
        if targeted {
            let _ = marked_rx.recv_timeout(Duration::from_millis(delay));
        } else {
            std::thread::sleep(Duration::from_millis(delay));
        }
        served.child.kill().unwrap();
        served.child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.join().unwrap();
        }
        gateway_acked.extend(reader.join().unwrap());
        for (hand_over, ok) in peer.join().unwrap() {
            let earlier = relayed.insert(hand_over.subject.clone(), ok);
            if earlier.is_some() && ok {
                resent_acked += 1;
            }
            if !ok {
                relay_pending.push(hand_over);
            }
        }
        pop3 = mailer.join().unwrap();
        pop3.on_marked = None;
        submitted.extend(outcomes.lock().unwrap().drain(..));
        // Hand-overs without a 250 that the store holds all the same (the kill fell between
        // the commit and the answer): handing them over again must not store them twice.
        if !relay_pending.is_empty() {
            let subjects: BTreeSet<String> = stored(&data).into_iter().map(|(_, s)| s).collect();
            resent_stored += relay_pending
                .iter()
                .filter(|h| subjects.contains(&h.subject))
                .count();
        }
        // Copies of earlier trials keep their names and bytes.
        let now = copies(&data);
        for (name, digest) in &earlier_copies {
            assert_eq!(
                now.get(name),
                Some(digest),
                "trial {trial}: copy {name} was overwritten or removed"
            );
        }
        earlier_copies = now;
    }
    // After the last kill: one more start, and the Poststelle's maildrop as a POP3 session
    // sees it (no DELE).
    {
        let served = start_with(&config, &data, &["--pki".as_ref(), pki_dir.as_os_str()]);
        pop3.first_after_restart(
            &pki,
            faces(&data).pop3,
            false,
            false,
            &AtomicBool::new(false),
        )
        .expect("a POP3 session after the restart");
        drop(served);
    }
    let in_store = stored(&data);
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, subject) in &in_store {
        *count.entry(subject.as_str()).or_default() += 1;
    }
    let (lost, duplicated, unacked_stored) = judge(&submitted, &count);
    let (relay_lost, relay_duplicated, relay_unacked_stored) = judge(&relayed, &count);
    let ids: BTreeSet<&String> = in_store.iter().map(|(id, _)| id).collect();
    let store =
        demail_sim::provider::store::Store::open(Some(&data.join("dmda-a/store.sqlite")), &[])
            .unwrap();
    let ack_lost: Vec<&String> = gateway_acked
        .iter()
        .filter(|id| {
            store
                .message_summary(INTAKE, id)
                .ok()
                .flatten()
                .is_none_or(|m| m.acknowledged_at.is_none())
        })
        .collect();
    let acked = |sent: &BTreeMap<String, bool>| sent.values().filter(|ok| **ok).count();
    println!("crash campaign, seed {seed}, {trials} kill -9 trials:");
    println!(
        "  submission: {} acknowledged (250), {} acknowledged but lost, {} duplicated, {} stored but unacknowledged",
        acked(&submitted),
        lost.len(),
        duplicated.len(),
        unacked_stored
    );
    println!(
        "  relay (peer dmda-b): {} acknowledged (250), {} acknowledged but lost, {} duplicated, {} stored but unacknowledged; {} handed over again after a restart ({} of them stored before), {} of them answered 250",
        acked(&relayed),
        relay_lost.len(),
        relay_duplicated.len(),
        relay_unacked_stored,
        resent,
        resent_stored,
        resent_acked
    );
    println!(
        "  POP3: {} sessions, {} deletions committed by {} QUITs answered +OK, {} RSETs, {} deletions cut by the kill before QUIT, {} whose QUIT got no answer; at the first listing after each of {} starts: {} resurrected, {} messages listed before and not committed, {} of them lost",
        pop3.sessions,
        pop3.committed.len(),
        pop3.committing_quits,
        pop3.rsets,
        pop3.cut.len(),
        pop3.undecided.len(),
        pop3.restarts_checked,
        pop3.resurrected.len(),
        pop3.expected,
        pop3.lost.len()
    );
    println!(
        "  gateway: {} acknowledgements, {} of them lost",
        gateway_acked.len(),
        ack_lost.len()
    );
    println!(
        "  store: {} messages, {} copies, {} distinct X-de-mail-message-ids",
        in_store.len(),
        earlier_copies.len(),
        ids.len()
    );
    assert!(
        acked(&submitted) > 0,
        "no submission was acknowledged at all"
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(duplicated.is_empty(), "stored twice: {duplicated:?}");
    assert!(
        acked(&relayed) > 0,
        "no hand-over on the relay face was acknowledged"
    );
    assert!(
        relay_lost.is_empty(),
        "handed over, 250, but lost: {relay_lost:?}"
    );
    assert!(
        relay_duplicated.is_empty(),
        "handed over and stored twice: {relay_duplicated:?}"
    );
    assert!(!pop3.committed.is_empty(), "no POP3 deletion was committed");
    assert_eq!(
        pop3.restarts_checked as u64,
        trials + 1,
        "a POP3 listing after every start"
    );
    assert!(
        pop3.resurrected.is_empty(),
        "deleted and committed by QUIT, but back in the maildrop: {:?}",
        pop3.resurrected
    );
    assert!(
        pop3.expected > 0,
        "no POP3 message was listed and left uncommitted across a restart"
    );
    assert!(
        pop3.lost.is_empty(),
        "never committed, but gone from the maildrop: {:?}",
        pop3.lost
    );
    assert!(
        !gateway_acked.is_empty(),
        "the gateway client acknowledged nothing"
    );
    assert!(
        ack_lost.is_empty(),
        "acknowledged over the gateway but not recorded: {ack_lost:?}"
    );
    assert_eq!(
        ids.len(),
        in_store.len(),
        "an X-de-mail-message-id was reused"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
