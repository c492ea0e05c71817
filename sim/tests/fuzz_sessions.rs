//! Property-based fuzzing on the stable toolchain (issue #18, docs/reliability.md) of the
//! provider's session loops, over real loopback sockets: the SMTP submission face before TLS
//! and after STARTTLS + AUTH (where DATA is reachable), the relay face (mutual TLS as a trusted
//! peer provider) and the POP3 face (plain port; logged in after STLS or on the POP3S port).
//! Each case starts a fresh provider and plays a generated session: commands from a grammar
//! that mixes valid and hostile pieces (over-long parameters, NUL, bare CR and LF, 8-bit
//! bytes, duplicated header fields and dot-stuffing edge cases in DATA, over-size DATA, odd
//! POP3 arguments, several commands in one write).
//!
//! The properties, for every generated session: the server answers every complete command
//! line within [`SESSION_TIMEOUT`] (no hang, no panic: a dead session task closes the
//! connection, which fails the case) and closes the connection only after QUIT or a reply
//! that says so (SMTP 421, the third failed POP3 login); every reply line is well formed
//! (SMTP: a code 2xx to 5xx followed by space or '-', the same code on every line of a reply,
//! and, as the faces announce ENHANCEDSTATUSCODES, an enhanced status x.y.z of the same class
//! on every 4xx/5xx reply after the greeting; POP3: "+OK" or "-ERR" status lines in ASCII of
//! at most 512 octets, multi-line answers dot-stuffed and ended by "."); a final QUIT is
//! answered 221 or +OK (no reply left over), and afterwards a fresh normal session works (a
//! De-Mail submitted and accepted with 250; a POP3 login and STAT). A failing case prints the
//! transcript of the session.
//!
//! `FUZZ_CASES` sets the cases per property (default 32 in CI); `PROPTEST_RNG_SEED` replays a
//! run; `scripts/fuzz.sh` runs them for a set time with changing seeds.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use demail_sim::demail::AuthLevel;
use demail_sim::pki::{Identity, TestPki};
use demail_sim::provider::AccountKind;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common;

use common::{Io, PASSWORD, World, WorldBuilder};

const CITIZEN: &str = "erika.mustermann@dmda-a.de-mail.de";
const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
/// The peer provider of the relay face's sessions (on the trust list).
const PEER: &str = "dmda-b.de-mail.de";
/// A generated session must be over within this time.
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);
/// The setup before and the normal session after a generated one (TLS, AUTH, sealing).
const NORMAL_TIMEOUT: Duration = Duration::from_secs(20);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // A hang costs SESSION_TIMEOUT per try: shrink a little, not for ever.
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Bytes as generated, shown escaped and cut in a failure report.

#[derive(Clone, PartialEq, Eq)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", shown(&self.0))
    }
}

fn shown(bytes: &[u8]) -> String {
    const SHOW: usize = 160;
    if bytes.len() > SHOW {
        format!("{}…({} bytes)", bytes[..SHOW].escape_ascii(), bytes.len())
    } else {
        bytes.escape_ascii().to_string()
    }
}

fn count_lf(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

// ---------------------------------------------------------------------------------------
// A connection that keeps its transcript.

struct Conn {
    io: Option<BufReader<Box<dyn Io>>>,
    log: String,
}

impl Conn {
    async fn tcp(addr: SocketAddr, log: &mut String) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        Ok(Conn {
            io: Some(BufReader::new(Box::new(stream))),
            log: std::mem::take(log),
        })
    }

    fn note(&mut self, who: &str, bytes: &[u8]) {
        self.log.push_str(&format!("{who} {}\n", shown(bytes)));
    }

    fn io(&mut self) -> Result<&mut BufReader<Box<dyn Io>>, String> {
        self.io
            .as_mut()
            .ok_or_else(|| "no connection (TLS handshake failed)".to_string())
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.note("C:", bytes);
        let io = self.io()?.get_mut();
        io.write_all(bytes)
            .await
            .map_err(|e| format!("write failed (the server closed?): {e}"))?;
        io.flush().await.map_err(|e| format!("flush failed: {e}"))
    }

    /// One line as the server sent it (with its LF, if it has one), or `None` when the
    /// connection ended.
    async fn line(&mut self) -> Result<Option<Vec<u8>>, String> {
        let mut line = Vec::new();
        match self.io()?.read_until(b'\n', &mut line).await {
            Ok(0) => {
                self.log.push_str("S: <closed>\n");
                Ok(None)
            }
            Ok(_) => {
                self.note("S:", &line);
                Ok(Some(line))
            }
            Err(e) => {
                self.log.push_str(&format!("S: <closed: {e}>\n"));
                Ok(None)
            }
        }
    }

    /// The connection must end now, with nothing more from the server.
    async fn expect_eof(&mut self, after: &str) -> Result<(), String> {
        match self.line().await? {
            None => Ok(()),
            Some(l) => Err(format!("after {after} the server sent more: {}", shown(&l))),
        }
    }

    /// TLS over this connection, as `name`, with `cert` as client certificate if given.
    async fn tls(
        &mut self,
        pki: &TestPki,
        name: &str,
        cert: Option<&Identity>,
    ) -> Result<(), String> {
        let stream = self.io.take().ok_or("no connection")?.into_inner();
        self.log.push_str("   <TLS handshake>\n");
        match tls_connect(pki, name, cert, stream).await {
            Ok(tls) => {
                self.io = Some(BufReader::new(tls));
                Ok(())
            }
            Err(e) => {
                self.log
                    .push_str(&format!("   <TLS handshake failed: {e}>\n"));
                Err(format!("TLS handshake failed: {e}"))
            }
        }
    }
}

async fn tls_connect(
    pki: &TestPki,
    name: &str,
    cert: Option<&Identity>,
    stream: Box<dyn Io>,
) -> std::io::Result<Box<dyn Io>> {
    let builder = rustls::ClientConfig::builder().with_root_certificates(pki.root_store().unwrap());
    let config = match cert {
        Some(id) => builder
            .with_client_auth_cert(
                vec![id.cert_der.clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(id.key_der.clone().into()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    Ok(Box::new(connector.connect(name, stream).await?))
}

/// Runs one case on a runtime of its own: `play` gets the transcript to write into and
/// returns why the case failed; the failure message carries the transcript.
fn run_case<F, Fut>(play: F) -> Result<(), TestCaseError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), (String, String)>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(play());
    rt.shutdown_background();
    result.map_err(|(why, transcript)| {
        TestCaseError::fail(format!("{why}\n--- transcript ---\n{transcript}---"))
    })
}

// ---------------------------------------------------------------------------------------
// SMTP: the grammar.

/// One thing the client does in an SMTP session.
#[derive(Clone, Debug)]
enum Step {
    /// One line (or what the server will read as lines), sent alone.
    Line(Bytes),
    /// Several lines in one write (RFC 2920), none of which opens a dialogue (DATA, AUTH,
    /// STARTTLS, QUIT).
    Pipeline(Vec<Bytes>),
    /// DATA and, if answered 354, the message text: ending in CRLF.CRLF, perhaps also
    /// earlier (then the rest is read as commands); `oversize` adds 21 MiB of lines.
    Data { text: Bytes, oversize: bool },
    /// An AUTH line and the answers to the server's 334 challenges (then "*").
    Auth(Bytes, Vec<Bytes>),
    /// STARTTLS with bytes pipelined after it in the same write (to be discarded, RFC 3207
    /// §4.2).
    StartTls(Bytes),
}

/// Bytes for parameters: letters and the bytes that hurt (NUL, CR, 8-bit), never LF.
fn hostile_text(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(b"abcXYZ019<>@.:=-_ ,;\"".to_vec()),
            1 => Just(b'\r'),
            1 => Just(0u8),
            1 => Just(b'\t'),
            1 => 0x80u8..=0xff,
            1 => (1u8..0x20).prop_filter("no LF", |b| *b != b'\n'),
        ],
        len,
    )
}

fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![
        12 => Just(&b"\r\n"[..]),
        1 => Just(&b"\n"[..]),
        1 => Just(&b"\r\r\n"[..]),
        1 => Just(&b" \r\n"[..]),
        1 => Just(&b"\0\r\n"[..]),
    ]
}

fn smtp_param() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(b(&format!("<{CITIZEN}>"))),
        3 => Just(b(&format!("<{INTAKE}>"))),
        1 => Just(b("<>")),
        1 => Just(b("<nobody@dmda-a.de-mail.de>")),
        1 => Just(b("<someone@example.org>")),
        1 => Just(b(&format!("<postmaster@{PEER}>"))),
        1 => Just(b(&format!("<{CITIZEN}> SIZE=99999999999999999999999"))),
        1 => Just(b(&format!("<{CITIZEN}> SIZE=-1"))),
        1 => Just(b(&format!("<{CITIZEN}> SIZE=1000 BODY=8BITMIME"))),
        1 => Just(b(&format!("<{CITIZEN}> SMTPUTF8 BODY=BINARYMIME"))),
        1 => Just(b(CITIZEN)),
        1 => Just(b(&format!("<{CITIZEN}"))),
        1 => Just(b("<erika\0mustermann@dmda-a.de-mail.de>")),
        1 => Just(b("<erika.mustermann@dmda-a.de-mail.de\r>")),
        1 => Just(b("<grüße@dmda-a.de-mail.de>")),
        1 => Just(b"<\xff\xfe@dmda-a.de-mail.de>".to_vec()),
        1 => (1usize..6000).prop_map(|n| vec![b'a'; n]),
        1 => Just(cat(&[b"<", &vec![b'x'; 5000], b"@dmda-a.de-mail.de>"])),
        3 => hostile_text(0..40),
    ]
}

/// Verbs after which the server answers with one reply and reads the next command.
const SAFE_VERBS: &[&str] = &[
    "EHLO ",
    "HELO ",
    "MAIL FROM:",
    "RCPT TO:",
    "RSET",
    "NOOP",
    "NOOP ",
    "VRFY ",
    "EXPN ",
    "HELP",
    "ETRN ",
    "BDAT ",
    "TURN",
    "XYZZY ",
    "ehlo ",
    "mail from:",
    "rcpt to: ",
    "MAIL ",
    "RCPT",
    "RSET ",
    "",
    " ",
];
/// Verbs that may open a dialogue (354, 334, 220) or end the session.
const OTHER_VERBS: &[&str] = &[
    "DATA",
    "DATA ",
    "data",
    "QUIT ",
    "STARTTLS ",
    "AUTH ",
    "auth ",
];

fn safe_line() -> impl Strategy<Value = Bytes> {
    (prop::sample::select(SAFE_VERBS), smtp_param(), line_end())
        .prop_map(|(verb, param, end)| Bytes(cat(&[verb.as_bytes(), &param, end])))
}

fn any_line() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => safe_line(),
        2 => (prop::sample::select(OTHER_VERBS), smtp_param(), line_end())
            .prop_map(|(verb, param, end)| Bytes(cat(&[verb.as_bytes(), &param, end]))),
        1 => Just(Bytes(b("QUIT\r\n"))),
        1 => Just(Bytes(b("STARTTLS\r\n"))),
        2 => (hostile_text(0..300), line_end()).prop_map(|(t, end)| Bytes(cat(&[&t, end]))),
        // An over-long line (the limit is 4096 octets), and a command split by a bare CR.
        1 => (4000usize..9000).prop_map(|n| Bytes(cat(&[b"NOOP ", &vec![b'y'; n], b"\r\n"]))),
        1 => Just(Bytes(b("NOOP\rRSET\r\n"))),
    ]
}

fn plain_response(user: &str, password: &str) -> Vec<u8> {
    b(&B64.encode(format!("\0{user}\0{password}")))
}

fn auth_response() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        2 => Just(plain_response(CITIZEN, PASSWORD)),
        2 => Just(plain_response(CITIZEN, "wrong")),
        1 => Just(b(&B64.encode(CITIZEN))),
        1 => Just(b(&B64.encode(PASSWORD))),
        1 => Just(b("*")),
        1 => Just(b("=")),
        1 => Just(b("")),
        1 => Just(vec![b'A'; 5000]),
        2 => hostile_text(0..60),
    ]
    .prop_map(|r| Bytes(cat(&[&r, b"\r\n"])))
}

fn auth_step() -> impl Strategy<Value = Step> {
    let line = prop_oneof![
        Just(b("AUTH PLAIN\r\n")),
        Just(b("AUTH LOGIN\r\n")),
        Just(cat(&[
            b"AUTH PLAIN ",
            &plain_response(CITIZEN, PASSWORD),
            b"\r\n"
        ])),
        Just(cat(&[
            b"AUTH PLAIN ",
            &plain_response(CITIZEN, "wrong"),
            b"\r\n"
        ])),
        Just(cat(&[b"AUTH LOGIN ", &b(&B64.encode(CITIZEN)), b"\r\n"])),
        Just(b("AUTH PLAIN =\r\n")),
        Just(b("AUTH CRAM-MD5\r\n")),
        Just(b("AUTH EXTERNAL\r\n")),
        Just(b("AUTH\r\n")),
        hostile_text(0..80).prop_map(|t| cat(&[b"AUTH PLAIN ", &t, b"\r\n"])),
    ];
    (line, prop::collection::vec(auth_response(), 0..3))
        .prop_map(|(l, responses)| Step::Auth(Bytes(l), responses))
}

fn header_field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b("Subject: Zweiter Betreff\r\n")),
        Just(b(&format!("From: <{CITIZEN}>\r\n"))),
        Just(b(&format!("To: <{INTAKE}>\r\n"))),
        Just(b("X-de-mail-sender: forged@dmda-a.de-mail.de\r\n")),
        Just(b("X-de-mail-authoritative: yes\r\n")),
        Just(b("X-de-mail-authoritative: Yes\r\n")),
        Just(b("X-de-mail-confirmation-of-receipt: yes\r\n")),
        Just(b("X-de-mail-private-id: P-1\r\n")),
        Just(b("Message-ID: <a@test>\r\n")),
        Just(b("Subject: a\0b\r\n")),
        Just(b"Subject: Gr\xc3\xbc\xc3\x9fe\r\n".to_vec()),
        Just(b("X-Folded: a\r\n\tb\r\n")),
        Just(b("Kein Feld\r\n")),
        Just(b(": kein Name\r\n")),
        Just(b("X-Bare: lf\n")),
        Just(cat(&[b"X-Long: ", &vec![b'h'; 2000], b"\r\n"])),
    ]
}

fn body_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => Just(b("Hallo\r\n")),
        2 => Just(b(".Zeile mit Punkt\r\n")),
        2 => Just(b("..\r\n")),
        1 => Just(b(".\n")),
        1 => Just(b("\n.\n")),
        1 => Just(b("\r\n.\n")),
        1 => Just(b("\n.\r\n")),
        1 => Just(b(".\r")),
        1 => Just(b(".\r\n")),
        1 => Just(b("\r\n.\r\n")),
        1 => Just(b(" .\r\n")),
        1 => Just(b("x\ry\r\n")),
        1 => Just(b("bare lf\n")),
        1 => Just(b("nul \0 byte\r\n")),
        1 => Just(b"8bit \xc3\xa4 \xff\r\n".to_vec()),
        1 => Just(b("\r\n")),
        1 => Just(b("\r\r\n")),
        1 => Just(cat(&[&vec![b'z'; 70 * 1024], b"\r\n"])),
        2 => hostile_text(0..200),
    ]
}

/// A message text for DATA (the driver ends it in CRLF.CRLF), and whether it grows over the
/// size limit: hostile pieces, or a valid message (then over-size a quarter of the time).
fn message_text() -> impl Strategy<Value = (Bytes, bool)> {
    let clean = (0u8..4).prop_map(|big| {
        let text = format!(
            "From: <{CITIZEN}>\r\nTo: <{INTAKE}>\r\nSubject: Gewerbeanzeige\r\n\r\n..Zeile mit Punkt\r\nHallo\r\n"
        );
        (Bytes(b(&text)), big == 0)
    });
    prop_oneof![3 => hostile_message_text(), 1 => clean]
}

fn hostile_message_text() -> impl Strategy<Value = (Bytes, bool)> {
    (
        any::<bool>(),
        prop::collection::vec(header_field(), 0..4),
        prop::collection::vec(body_piece(), 0..8),
        0u8..48,
    )
        .prop_map(|(head, extra, pieces, big)| {
            let mut t = Vec::new();
            if head {
                t.extend_from_slice(
                    format!("From: <{CITIZEN}>\r\nTo: <{INTAKE}>\r\nSubject: Gewerbeanzeige\r\n")
                        .as_bytes(),
                );
            }
            for f in extra {
                t.extend_from_slice(&f);
            }
            t.extend_from_slice(b"\r\n");
            for p in pieces {
                t.extend_from_slice(&p);
            }
            (Bytes(t), big == 0)
        })
}

fn smtp_chunk() -> impl Strategy<Value = Vec<Step>> {
    let mail = prop_oneof![
        4 => Just(b(&format!("<{CITIZEN}>"))),
        1 => smtp_param(),
    ];
    let rcpt = prop_oneof![
        4 => Just(b(&format!("<{INTAKE}>"))),
        1 => smtp_param(),
    ];
    prop_oneof![
        6 => any_line().prop_map(|l| vec![Step::Line(l)]),
        2 => prop::collection::vec(safe_line(), 2..6).prop_map(|ls| vec![Step::Pipeline(ls)]),
        4 => (mail, prop::collection::vec(rcpt, 1..3), message_text(), any::<bool>()).prop_map(
            |(m, rs, (text, oversize), pipelined)| {
                let mut lines = vec![Bytes(cat(&[b"MAIL FROM:", &m, b"\r\n"]))];
                lines.extend(rs.iter().map(|r| Bytes(cat(&[b"RCPT TO:", r, b"\r\n"]))));
                let mut steps = if pipelined {
                    vec![Step::Pipeline(lines)]
                } else {
                    lines.into_iter().map(Step::Line).collect()
                };
                steps.push(Step::Data { text, oversize });
                steps
            }
        ),
        1 => message_text().prop_map(|(text, oversize)| vec![Step::Data { text, oversize }]),
        2 => auth_step().prop_map(|s| vec![s]),
        // Three wrong passwords: the third is answered 421 and the session ends.
        1 => Just(vec![
            Step::Auth(
                Bytes(cat(&[b"AUTH PLAIN ", &plain_response(CITIZEN, "wrong"), b"\r\n"])),
                Vec::new()
            );
            3
        ]),
        1 => prop_oneof![3 => Just(Bytes(Vec::new())), 1 => safe_line()]
            .prop_map(|tail| vec![Step::StartTls(tail)]),
    ]
}

fn smtp_session() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(smtp_chunk(), 1..8)
        .prop_map(|chunks| chunks.into_iter().flatten().collect())
}

/// Where DATA ends for a server that reads it by the rules (RFC 5321 §4.1.1.4): after the
/// first line "." CRLF that follows a CRLF (or starts the text). `None`: it does not end.
fn data_end(text: &[u8]) -> Option<usize> {
    let mut after_crlf = true;
    let mut at = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        at += line.len();
        if after_crlf && line == b".\r\n" {
            return Some(at);
        }
        after_crlf = line.ends_with(b"\r\n");
    }
    None
}

/// The message text as sent: `text`, 21 MiB of lines if `oversize`, and CRLF.CRLF.
fn data_bytes(text: &[u8], oversize: bool) -> Vec<u8> {
    let mut out = text.to_vec();
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    if oversize {
        let line = cat(&[&vec![b'o'; 1022], b"\r\n"]);
        for _ in 0..21 * 1024 {
            out.extend_from_slice(&line);
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

// ---------------------------------------------------------------------------------------
// SMTP: the session driver and its checks.

/// One SMTP reply line, checked: CRLF at the end and nowhere else, no NUL, a code 2xx to 5xx
/// and space or '-' after it; on a 4xx/5xx, an enhanced status code of the same class
/// (RFC 2034, RFC 3463). Returns the code and whether the reply goes on.
fn check_smtp_line(line: &[u8]) -> Result<(u16, bool), String> {
    let bad = |why: &str| Err(format!("malformed reply line ({why}): {}", shown(line)));
    let Some(content) = line.strip_suffix(b"\r\n") else {
        return bad("does not end in CRLF");
    };
    if content.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return bad("CR, LF or NUL inside");
    }
    if content.len() < 4
        || !(b'2'..=b'5').contains(&content[0])
        || !content[1..3].iter().all(u8::is_ascii_digit)
        || !matches!(content[3], b' ' | b'-')
    {
        return bad("no code 2xx-5xx followed by space or '-'");
    }
    let code: u16 = std::str::from_utf8(&content[..3]).unwrap().parse().unwrap();
    if code >= 400 {
        let status = content[4..]
            .split(|&b| b == b' ')
            .next()
            .unwrap_or_default();
        let parts: Vec<&[u8]> = status.split(|&b| b == b'.').collect();
        let ok = parts.len() == 3
            && parts[0] == [content[0]]
            && parts[1..]
                .iter()
                .all(|p| (1..=3).contains(&p.len()) && p.iter().all(u8::is_ascii_digit));
        if !ok {
            return bad("4xx/5xx without an enhanced status code x.y.z of its class");
        }
    }
    Ok((code, content[3] == b'-'))
}

/// Which SMTP face a session talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SmtpFace {
    /// The submission face, from the greeting on (before TLS).
    SubmissionPlain,
    /// The submission face after EHLO, STARTTLS and EHLO, before AUTH.
    SubmissionTls,
    /// The submission face after EHLO, STARTTLS, EHLO and AUTH PLAIN as [`CITIZEN`].
    SubmissionLoggedIn,
    /// The relay face, as the trusted peer [`PEER`].
    Relay,
}

struct Smtp<'a> {
    c: Conn,
    w: &'a World,
    /// The connection has ended as the server said it would (221, 421).
    over: bool,
}

impl Smtp<'_> {
    /// One whole reply; `None` if the connection ended before it began.
    async fn reply(&mut self) -> Result<Option<u16>, String> {
        let mut first: Option<u16> = None;
        loop {
            let Some(line) = self.c.line().await? else {
                return match first {
                    None => Ok(None),
                    Some(_) => Err("the connection ended inside a multi-line reply".into()),
                };
            };
            let (code, more) = check_smtp_line(&line)?;
            if let Some(f) = first
                && f != code
            {
                return Err(format!(
                    "a multi-line reply changes its code from {f} to {code}"
                ));
            }
            first = Some(code);
            if !more {
                return Ok(first);
            }
        }
    }

    /// Reads the replies to `lines` command lines just sent, answering what they open:
    /// 354 with `data` (its early end makes the rest commands) or an empty message, 334 with
    /// the next of `responses` or "*", 220 to STARTTLS with the TLS handshake (anything sent
    /// after STARTTLS is then discarded, so no more replies are due). `tail`: bytes were
    /// pipelined after STARTTLS (then a failed handshake may be the server reading them).
    async fn answers(
        &mut self,
        mut lines: usize,
        mut data: Option<Vec<u8>>,
        responses: &[Bytes],
        tail: bool,
    ) -> Result<(), String> {
        let mut responses = responses.iter();
        while lines > 0 {
            let Some(code) = self.reply().await? else {
                return Err(format!(
                    "the server closed the connection with {lines} command line(s) unanswered"
                ));
            };
            match code {
                354 => {
                    let text = data.take().unwrap_or_else(|| b(".\r\n"));
                    let end = data_end(&text).ok_or("test bug: DATA without its end")?;
                    lines += count_lf(&text[end..]);
                    self.c.send(&text).await?;
                    continue;
                }
                334 => {
                    let r = responses.next().map_or(&b"*\r\n"[..], |r| &r.0[..]);
                    lines += count_lf(r).saturating_sub(1);
                    self.c.send(r).await?;
                    continue;
                }
                _ => {}
            }
            lines -= 1;
            match code {
                221 | 421 => {
                    self.c.expect_eof(&code.to_string()).await?;
                    self.over = true;
                    return Ok(());
                }
                220 => {
                    let tls = self.c.tls(&self.w.pki, "localhost", None).await;
                    if tls.is_err() && tail {
                        self.over = true;
                        return Ok(());
                    }
                    return tls;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Line(l) => {
                self.c.send(&l.0).await?;
                self.answers(count_lf(&l.0), None, &[], false).await
            }
            Step::Pipeline(ls) => {
                let all: Vec<u8> = ls.iter().flat_map(|l| l.0.iter().copied()).collect();
                self.c.send(&all).await?;
                self.answers(count_lf(&all), None, &[], false).await
            }
            Step::Data { text, oversize } => {
                self.c.send(b"DATA\r\n").await?;
                let data = data_bytes(&text.0, *oversize);
                self.answers(1, Some(data), &[], false).await
            }
            Step::Auth(l, responses) => {
                self.c.send(&l.0).await?;
                self.answers(count_lf(&l.0), None, responses, false).await
            }
            Step::StartTls(tail) => {
                self.c.send(&cat(&[b"STARTTLS\r\n", &tail.0])).await?;
                self.answers(1 + count_lf(&tail.0), None, &[], !tail.0.is_empty())
                    .await
            }
        }
    }

    /// The generated steps, then QUIT (answered 221, nothing left over, then closed).
    async fn play(&mut self, steps: &[Step]) -> Result<(), String> {
        for step in steps {
            if self.over {
                return Ok(());
            }
            self.step(step).await?;
        }
        if self.over {
            return Ok(());
        }
        self.c.send(b"QUIT\r\n").await?;
        match self.reply().await? {
            Some(221) => self.c.expect_eof("221").await,
            Some(code) => Err(format!(
                "QUIT answered {code}, not 221 (a reply left over?)"
            )),
            None => Err("the server closed the connection without answering QUIT".into()),
        }
    }
}

/// Sends a command and wants the reply code `want`; for the normal sessions.
async fn smtp_expect(s: &mut Smtp<'_>, line: &str, want: u16) -> Result<(), String> {
    s.c.send(format!("{line}\r\n").as_bytes()).await?;
    match s.reply().await? {
        Some(code) if code == want => Ok(()),
        other => Err(format!("{line:?} answered {other:?}, wanted {want}")),
    }
}

/// A submission session after EHLO, STARTTLS, EHLO.
async fn smtp_tls<'a>(w: &'a World, log: &mut String) -> Result<Smtp<'a>, String> {
    let c = Conn::tcp(w.provider.submission_addr(), log).await?;
    let mut s = Smtp { c, w, over: false };
    match s.reply().await? {
        Some(220) => {}
        other => return Err(format!("greeting {other:?}")),
    }
    smtp_expect(&mut s, "EHLO fuzz.localhost", 250).await?;
    smtp_expect(&mut s, "STARTTLS", 220).await?;
    s.c.tls(&w.pki, "localhost", None).await?;
    smtp_expect(&mut s, "EHLO fuzz.localhost", 250).await?;
    Ok(s)
}

/// A submission session up to AUTH as `user` (EHLO, STARTTLS, EHLO, AUTH PLAIN).
async fn smtp_login<'a>(w: &'a World, user: &str, log: &mut String) -> Result<Smtp<'a>, String> {
    let mut s = smtp_tls(w, log).await?;
    let token = B64.encode(format!("\0{user}\0{PASSWORD}"));
    smtp_expect(&mut s, &format!("AUTH PLAIN {token}"), 235).await?;
    Ok(s)
}

/// The normal session after a generated one: `from` submits a De-Mail to `to`, accepted
/// with 250 (`body`: the message's body lines, dot-stuffed as needed).
async fn submit(
    w: &World,
    from: &str,
    to: &str,
    body: &str,
    log: &mut String,
) -> Result<(), String> {
    let mut s = smtp_login(w, from, log).await?;
    let r = async {
        smtp_expect(&mut s, &format!("MAIL FROM:<{from}>"), 250).await?;
        smtp_expect(&mut s, &format!("RCPT TO:<{to}>"), 250).await?;
        smtp_expect(&mut s, "DATA", 354).await?;
        let text = format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: Gewerbeanzeige\r\nMessage-ID: <normal@test>\r\n\r\n{body}\r\n."
        );
        smtp_expect(&mut s, &text, 250).await?;
        smtp_expect(&mut s, "QUIT", 221).await
    }
    .await;
    *log = std::mem::take(&mut s.c.log);
    r
}

async fn smtp_world() -> World {
    WorldBuilder::new()
        .account(CITIZEN, AccountKind::Person, AuthLevel::High)
        .account(INTAKE, AccountKind::Institution, AuthLevel::High)
        .trusted_peers(&[PEER])
        .start()
        .await
}

/// One case on an SMTP face: the generated session, then a normal submission.
async fn smtp_case(face: SmtpFace, steps: Vec<Step>) -> Result<(), (String, String)> {
    let w = smtp_world().await;
    let mut log = String::new();
    let start = async {
        let s = match face {
            SmtpFace::SubmissionPlain => {
                let c = Conn::tcp(w.provider.submission_addr(), &mut log).await?;
                let mut s = Smtp {
                    c,
                    w: &w,
                    over: false,
                };
                match s.reply().await? {
                    Some(220) => s,
                    other => return Err(format!("greeting {other:?}")),
                }
            }
            SmtpFace::SubmissionTls => smtp_tls(&w, &mut log).await?,
            SmtpFace::SubmissionLoggedIn => smtp_login(&w, CITIZEN, &mut log).await?,
            SmtpFace::Relay => {
                let id = w.pki.issue(PEER, &[PEER]).unwrap();
                let mut c = Conn::tcp(w.provider.relay_addr(), &mut log).await?;
                c.tls(&w.pki, "dmda-a.de-mail.de", Some(&id)).await?;
                let mut s = Smtp {
                    c,
                    w: &w,
                    over: false,
                };
                match s.reply().await? {
                    Some(220) => s,
                    other => return Err(format!("greeting {other:?}")),
                }
            }
        };
        Ok::<_, String>(s)
    };
    let mut s = match timed(NORMAL_TIMEOUT, start, "setup: ", "setup: no answer").await {
        Ok(s) => s,
        Err(e) => return Err((e, log)),
    };
    s.c.log.push_str("   --- generated session ---\n");
    let hang = format!("no answer within {SESSION_TIMEOUT:?}: the session hangs");
    let played = timed(SESSION_TIMEOUT, s.play(&steps), "", &hang).await;
    let mut log = std::mem::take(&mut s.c.log);
    if let Err(e) = played {
        return Err((e, log));
    }
    log.push_str("   --- a normal session afterwards ---\n");
    let normal = async {
        submit(&w, CITIZEN, INTAKE, "Hallo", &mut log).await?;
        if face == SmtpFace::Relay {
            // The relay face itself still greets its peer and answers EHLO.
            let id = w.pki.issue(PEER, &[PEER]).unwrap();
            let mut c = Conn::tcp(w.provider.relay_addr(), &mut log).await?;
            c.tls(&w.pki, "dmda-a.de-mail.de", Some(&id)).await?;
            let mut s = Smtp {
                c,
                w: &w,
                over: false,
            };
            let r = async {
                match s.reply().await? {
                    Some(220) => {}
                    other => return Err(format!("relay greeting {other:?}")),
                }
                smtp_expect(&mut s, &format!("EHLO {PEER}"), 250).await?;
                smtp_expect(&mut s, "QUIT", 221).await
            }
            .await;
            log = std::mem::take(&mut s.c.log);
            r?;
        }
        Ok::<_, String>(())
    };
    let afterwards = normal_afterwards(normal).await;
    afterwards.map_err(|e| (e, log))
}

// ---------------------------------------------------------------------------------------
// POP3: the grammar.

#[derive(Clone, Debug)]
enum PopStep {
    /// One line (or what the server will read as lines), sent alone.
    Line(Bytes),
    /// Several lines in one write (the PIPELINING capability, RFC 2449), none of which
    /// opens a dialogue (STLS, AUTH without initial response) or ends the session (QUIT).
    Pipeline(Vec<Bytes>),
    /// STLS with bytes pipelined after it (to be discarded, RFC 2595 §4).
    Stls(Bytes),
}

fn pop_arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(b("1")),
        2 => Just(b("2")),
        1 => Just(b("0")),
        1 => Just(b("-1")),
        1 => Just(b("3")),
        1 => Just(b("99999999999999999999999")),
        1 => Just(b("18446744073709551616")),
        1 => Just(b("1 2")),
        1 => Just(b("1 0")),
        1 => Just(b("1  5")),
        1 => Just(b("x")),
        1 => Just(b("1\0")),
        1 => Just(b"\xff\xc3".to_vec()),
        1 => Just(b(" 1")),
        1 => Just(b("1\t2")),
        2 => Just(b(CITIZEN)),
        2 => Just(b(PASSWORD)),
        1 => Just(b("PLAIN")),
        1 => Just(b("EXTERNAL")),
        1 => Just(b("CRAM-MD5")),
        1 => Just(cat(&[b"PLAIN ", &plain_response(CITIZEN, PASSWORD)])),
        1 => Just(cat(&[b"PLAIN ", &plain_response(CITIZEN, "wrong")])),
        1 => Just(b("PLAIN =")),
        1 => (200usize..400).prop_map(|n| vec![b'9'; n]),
        2 => hostile_text(0..40),
    ]
}

const POP_SAFE: &[&str] = &[
    "USER ", "PASS ", "APOP ", "STAT", "LIST", "LIST ", "RETR ", "DELE ", "TOP ", "UIDL", "UIDL ",
    "RSET", "NOOP", "CAPA", "NOOP ", "list ", "retr ", "XTND ", "", "STAT ",
];

fn pop_safe_line() -> impl Strategy<Value = Bytes> {
    (prop::sample::select(POP_SAFE), pop_arg(), line_end()).prop_map(|(verb, arg, end)| {
        let arg = if verb.ends_with(' ') { arg } else { Vec::new() };
        Bytes(cat(&[verb.as_bytes(), &arg, end]))
    })
}

fn pop_line() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => pop_safe_line(),
        1 => (prop::sample::select(&["AUTH ", "auth ", "STLS ", "QUIT "][..]), pop_arg(), line_end())
            .prop_map(|(verb, arg, end)| Bytes(cat(&[verb.as_bytes(), &arg, end]))),
        1 => Just(Bytes(b("AUTH PLAIN\r\n"))),
        1 => Just(Bytes(b("QUIT\r\n"))),
        1 => Just(Bytes(b(&format!("USER {CITIZEN}\r\nPASS {PASSWORD}\r\n")))),
        // Three wrong passwords in one write: the third ends the session.
        1 => Just(Bytes(b(&format!("USER {CITIZEN}\r\nPASS wrong\r\n").repeat(3)))),
        2 => (hostile_text(0..300), line_end()).prop_map(|(t, end)| Bytes(cat(&[&t, end]))),
        1 => Just(Bytes(b("NOOP\rSTAT\r\n"))),
    ]
}

fn pop_chunk() -> impl Strategy<Value = PopStep> {
    prop_oneof![
        6 => pop_line().prop_map(PopStep::Line),
        2 => prop::collection::vec(pop_safe_line(), 2..6).prop_map(PopStep::Pipeline),
        1 => prop_oneof![3 => Just(Bytes(Vec::new())), 1 => pop_safe_line()].prop_map(PopStep::Stls),
    ]
}

/// How a POP3 session starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PopStart {
    /// The plain port, from the greeting on.
    Plain,
    /// The plain port, STLS, USER/PASS as [`CITIZEN`].
    Stls,
    /// The POP3S port, AUTH PLAIN as [`CITIZEN`].
    Pop3s,
    /// The POP3S port, not logged in.
    Pop3sGreeted,
}

// ---------------------------------------------------------------------------------------
// POP3: the session driver and its checks.

/// A POP3 status line, checked: CRLF at the end and nowhere else, printable ASCII, at most
/// 512 octets (RFC 2449 §4), "+OK" or "-ERR" followed by space or the end, or the SASL
/// continuation "+ ". Returns the line without its CRLF.
fn check_pop_status(line: &[u8]) -> Result<Vec<u8>, String> {
    let bad = |why: &str| Err(format!("malformed status line ({why}): {}", shown(line)));
    let Some(content) = line.strip_suffix(b"\r\n") else {
        return bad("does not end in CRLF");
    };
    if line.len() > 512 {
        return bad("longer than 512 octets");
    }
    if content.iter().any(|&b| !(0x20..0x7f).contains(&b)) {
        return bad("not printable ASCII");
    }
    let ok = |ind: &[u8]| {
        content.starts_with(ind) && (content.len() == ind.len() || content[ind.len()] == b' ')
    };
    if !(ok(b"+OK") || ok(b"-ERR") || content.starts_with(b"+ ")) {
        return bad("neither +OK nor -ERR");
    }
    Ok(content.to_vec())
}

/// What a command line asks, as the server will read it: its keyword (upper case) and
/// whether it has arguments; `None` for a line the server cannot read as a command.
fn pop_keyword(line: &[u8]) -> Option<(String, bool)> {
    let content = line.strip_suffix(b"\r\n")?;
    if content.iter().any(|b| b.is_ascii_control()) {
        return None;
    }
    let text = std::str::from_utf8(content).ok()?;
    let (k, args) = match text.split_once(' ') {
        Some((k, _)) => (k, true),
        None => (text, false),
    };
    Some((k.to_ascii_uppercase(), args))
}

struct Pop<'a> {
    c: Conn,
    w: &'a World,
    over: bool,
    tls: bool,
    /// `-ERR [AUTH]` answers so far: the third ends the session.
    auth_failures: u32,
}

impl Pop<'_> {
    /// The status line; `None` if the connection ended.
    async fn status(&mut self) -> Result<Option<Vec<u8>>, String> {
        match self.c.line().await? {
            None => Ok(None),
            Some(l) => check_pop_status(&l).map(Some),
        }
    }

    /// The body of a multi-line answer up to "." CRLF: lines in CRLF, dot-stuffed.
    async fn multi_line(&mut self) -> Result<(), String> {
        loop {
            let Some(l) = self.c.line().await? else {
                return Err("the connection ended inside a multi-line answer".into());
            };
            let Some(content) = l.strip_suffix(b"\r\n") else {
                return Err(format!(
                    "a line of a multi-line answer without CRLF: {}",
                    shown(&l)
                ));
            };
            if content.iter().any(|&b| b == b'\r' || b == b'\n') {
                return Err(format!(
                    "bare CR or LF in a multi-line answer: {}",
                    shown(&l)
                ));
            }
            if content == b"." {
                return Ok(());
            }
            if content.starts_with(b".") && !content.starts_with(b"..") {
                return Err(format!(
                    "a line starting with '.' is not dot-stuffed: {}",
                    shown(&l)
                ));
            }
        }
    }

    /// Reads the answers to the lines of `sent` (split as the server splits them), with the
    /// body of every multi-line one; answers a SASL continuation with the next of
    /// `responses` or "*"; does the handshake after STLS's +OK (what followed STLS is then
    /// discarded); `tail`: bytes were pipelined after STLS.
    async fn answers(
        &mut self,
        sent: &[u8],
        responses: &[Bytes],
        tail: bool,
    ) -> Result<(), String> {
        let mut lines: Vec<Vec<u8>> = sent
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| l.ends_with(b"\n"))
            .map(<[u8]>::to_vec)
            .collect();
        lines.reverse();
        let mut responses = responses.iter();
        while let Some(line) = lines.pop() {
            let Some(status) = self.status().await? else {
                return Err(format!(
                    "the server closed the connection with {} command line(s) unanswered",
                    lines.len() + 1
                ));
            };
            if status.starts_with(b"+ ") {
                let r = responses.next().map_or(&b"*\r\n"[..], |r| &r.0[..]);
                let mut more: Vec<Vec<u8>> = r
                    .split_inclusive(|&b| b == b'\n')
                    .filter(|l| l.ends_with(b"\n"))
                    .map(<[u8]>::to_vec)
                    .collect();
                // The first line is the response, the rest are commands again.
                if !more.is_empty() {
                    more.remove(0);
                }
                more.reverse();
                lines.extend(more);
                // The status of the AUTH command itself comes after the response.
                lines.push(line);
                self.c.send(r).await?;
                continue;
            }
            let ok = status.starts_with(b"+OK");
            let keyword = pop_keyword(&line);
            let kw = keyword.as_ref().map(|(k, a)| (k.as_str(), *a));
            if ok {
                match kw {
                    Some(("CAPA", false))
                    | Some(("LIST", false))
                    | Some(("UIDL", false))
                    | Some(("RETR", true))
                    | Some(("TOP", true)) => self.multi_line().await?,
                    Some(("QUIT", false)) => {
                        self.c.expect_eof("+OK to QUIT").await?;
                        self.over = true;
                        return Ok(());
                    }
                    Some(("STLS", false)) if !self.tls => {
                        let tls = self.c.tls(&self.w.pki, "localhost", None).await;
                        if tls.is_err() && tail {
                            self.over = true;
                            return Ok(());
                        }
                        self.tls = true;
                        return tls;
                    }
                    _ => {}
                }
            } else if status.starts_with(b"-ERR [AUTH]") {
                self.auth_failures += 1;
                if self.auth_failures >= 3 {
                    self.c.expect_eof("the third failed login").await?;
                    self.over = true;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    async fn step(&mut self, step: &PopStep) -> Result<(), String> {
        match step {
            PopStep::Line(l) => {
                self.c.send(&l.0).await?;
                self.answers(&l.0, &[], false).await
            }
            PopStep::Pipeline(ls) => {
                let all: Vec<u8> = ls.iter().flat_map(|l| l.0.iter().copied()).collect();
                self.c.send(&all).await?;
                self.answers(&all, &[], false).await
            }
            PopStep::Stls(tail) => {
                let all = cat(&[b"STLS\r\n", &tail.0]);
                self.c.send(&all).await?;
                self.answers(&all, &[], !tail.0.is_empty()).await
            }
        }
    }

    async fn play(&mut self, steps: &[PopStep]) -> Result<(), String> {
        for step in steps {
            if self.over {
                return Ok(());
            }
            self.step(step).await?;
        }
        if self.over {
            return Ok(());
        }
        self.c.send(b"QUIT\r\n").await?;
        match self.status().await? {
            Some(s) if s.starts_with(b"+OK") => self.c.expect_eof("+OK to QUIT").await,
            Some(s) => Err(format!(
                "QUIT answered {} (an answer left over?)",
                shown(&s)
            )),
            None => Err("the server closed the connection without answering QUIT".into()),
        }
    }
}

async fn pop_expect(p: &mut Pop<'_>, line: &str, ok: bool) -> Result<(), String> {
    p.c.send(format!("{line}\r\n").as_bytes()).await?;
    match p.status().await? {
        Some(s) if s.starts_with(b"+OK") == ok => Ok(()),
        other => Err(format!("{line:?} answered {:?}", other.map(|s| shown(&s)))),
    }
}

async fn pop_greeted<'a>(w: &'a World, c: Conn, tls: bool) -> Result<Pop<'a>, String> {
    let mut p = Pop {
        c,
        w,
        over: false,
        tls,
        auth_failures: 0,
    };
    match p.status().await? {
        Some(s) if s.starts_with(b"+OK") => Ok(p),
        other => Err(format!("greeting {:?}", other.map(|s| shown(&s)))),
    }
}

/// The POP3S port, greeted.
async fn pop3s<'a>(w: &'a World, log: &mut String) -> Result<Pop<'a>, String> {
    let mut c = Conn::tcp(w.provider.pop3s_addr(), log).await?;
    c.tls(&w.pki, "localhost", None).await?;
    pop_greeted(w, c, true).await
}

async fn pop_start<'a>(w: &'a World, start: PopStart, log: &mut String) -> Result<Pop<'a>, String> {
    match start {
        PopStart::Plain => {
            let c = Conn::tcp(w.provider.pop3_addr(), log).await?;
            pop_greeted(w, c, false).await
        }
        PopStart::Stls => {
            let c = Conn::tcp(w.provider.pop3_addr(), log).await?;
            let mut p = pop_greeted(w, c, false).await?;
            pop_expect(&mut p, "STLS", true).await?;
            p.c.tls(&w.pki, "localhost", None).await?;
            p.tls = true;
            pop_expect(&mut p, &format!("USER {CITIZEN}"), true).await?;
            pop_expect(&mut p, &format!("PASS {PASSWORD}"), true).await?;
            Ok(p)
        }
        PopStart::Pop3sGreeted => pop3s(w, log).await,
        PopStart::Pop3s => {
            let mut p = pop3s(w, log).await?;
            let token = B64.encode(format!("\0{CITIZEN}\0{PASSWORD}"));
            pop_expect(&mut p, &format!("AUTH PLAIN {token}"), true).await?;
            Ok(p)
        }
    }
}

/// Awaits `step` for at most `limit`: its value, or its error prefixed with `prefix`, or
/// `silent` when it gave no answer in time.
async fn timed<T>(
    limit: std::time::Duration,
    step: impl std::future::Future<Output = Result<T, String>>,
    prefix: &str,
    silent: &str,
) -> Result<T, String> {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{prefix}{e}")),
        Err(_) => Err(silent.to_string()),
    }
}

/// The normal session after a generated one, within [`NORMAL_TIMEOUT`].
async fn normal_afterwards(
    normal: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    timed(
        NORMAL_TIMEOUT,
        normal,
        "the normal session afterwards failed: ",
        "the normal session afterwards got no answer",
    )
    .await
}

/// One case on the POP3 face: two messages in the maildrop, the generated session, then a
/// normal login and STAT.
async fn pop_case(start: PopStart, steps: Vec<PopStep>) -> Result<(), (String, String)> {
    let w = smtp_world().await;
    let mut log = String::new();
    let setup = async {
        // Lines that start with "." (dot-stuffed on the way in and out).
        submit(
            &w,
            INTAKE,
            CITIZEN,
            "Erste Zeile\r\n..Punkt\r\n..",
            &mut log,
        )
        .await?;
        submit(&w, INTAKE, CITIZEN, "Zweite Nachricht", &mut log).await?;
        pop_start(&w, start, &mut log).await
    };
    let mut p = match timed(NORMAL_TIMEOUT, setup, "setup: ", "setup: no answer").await {
        Ok(p) => p,
        Err(e) => return Err((e, log)),
    };
    p.c.log.push_str("   --- generated session ---\n");
    let hang = format!("no answer within {SESSION_TIMEOUT:?}: the session hangs");
    let played = timed(SESSION_TIMEOUT, p.play(&steps), "", &hang).await;
    let mut log = std::mem::take(&mut p.c.log);
    if let Err(e) = played {
        return Err((e, log));
    }
    log.push_str("   --- a normal session afterwards ---\n");
    let normal = async {
        let mut p = pop_start(&w, PopStart::Stls, &mut log).await?;
        let r = async {
            pop_expect(&mut p, "STAT", true).await?;
            pop_expect(&mut p, "QUIT", true).await
        }
        .await;
        log = std::mem::take(&mut p.c.log);
        r
    };
    let afterwards = normal_afterwards(normal).await;
    afterwards.map_err(|e| (e, log))
}

// ---------------------------------------------------------------------------------------
// The properties.

proptest! {
    #![proptest_config(config())]

    /// The submission face before TLS: STARTTLS and AUTH may come up in the session itself.
    #[test]
    fn submission_before_tls(steps in smtp_session()) {
        run_case(|| smtp_case(SmtpFace::SubmissionPlain, steps))?;
    }

    /// The submission face after STARTTLS, before AUTH: the AUTH exchanges reachable.
    #[test]
    fn submission_after_starttls(steps in smtp_session()) {
        run_case(|| smtp_case(SmtpFace::SubmissionTls, steps))?;
    }

    /// The submission face after STARTTLS and AUTH PLAIN: MAIL, RCPT and DATA reachable.
    #[test]
    fn submission_after_login(steps in smtp_session()) {
        run_case(|| smtp_case(SmtpFace::SubmissionLoggedIn, steps))?;
    }

    /// The relay face, as a trusted peer provider with its client certificate.
    #[test]
    fn relay_face(steps in smtp_session()) {
        run_case(|| smtp_case(SmtpFace::Relay, steps))?;
    }

    /// The POP3 face: the plain port before STLS, the POP3S port before a login, and logged
    /// in (after STLS, or POP3S).
    #[test]
    fn pop3_face(
        start in prop_oneof![
            Just(PopStart::Plain),
            Just(PopStart::Stls),
            Just(PopStart::Pop3s),
            Just(PopStart::Pop3sGreeted),
        ],
        steps in prop::collection::vec(pop_chunk(), 1..12),
    ) {
        run_case(|| pop_case(start, steps))?;
    }
}

/// The oracle of DATA's end that the driver relies on.
#[test]
fn data_ends_at_crlf_dot_crlf_only() {
    assert_eq!(data_end(b".\r\n"), Some(3));
    assert_eq!(data_end(b"a\r\n.\r\nb\r\n"), Some(6));
    assert_eq!(data_end(b"a\n.\r\n.\n\r\n.\r\n"), Some(12));
    assert_eq!(data_end(b"a\r\n.\n"), None);
    assert_eq!(pop_keyword(b"list\r\n"), Some(("LIST".into(), false)));
    assert_eq!(pop_keyword(b"RETR 1\r\n"), Some(("RETR".into(), true)));
    assert_eq!(pop_keyword(b"LIST\n"), None);
}
