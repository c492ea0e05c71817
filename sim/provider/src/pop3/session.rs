//! The session's plumbing: reading lines (CRLF only, over-long lines dropped, the idle
//! timeout), writing status lines and multi-line responses, refusals with their
//! `provider.refused` event, STLS and CAPA, and the command loop that dispatches by state
//! (AUTHORIZATION here and in `auth.rs`, TRANSACTION and UPDATE in `maildrop.rs`).

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::command::{Bad, Command};
use super::*;
use crate::fault::{Action, Face as FaultFace, Point};
use demail_core::trace::EventKind;

impl Session {
    pub(super) fn new(face: Arc<Face>, stream: Box<dyn Io>, peer: Option<IpAddr>) -> Self {
        Self {
            face,
            io: Some(BufReader::new(stream)),
            tls: false,
            peer,
            cert_accounts: Vec::new(),
            user: None,
            auth_failures: 0,
            open: None,
        }
    }

    fn io(&mut self) -> &mut BufReader<Box<dyn Io>> {
        self.io
            .as_mut()
            .expect("session stream present between commands")
    }

    /// Writes bytes as they are and flushes.
    pub(super) async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.face.shared.activity.bump();
        let io = self.io().get_mut();
        io.write_all(bytes).await?;
        io.flush().await
    }

    /// Writes one status line, `+OK text` or `-ERR text`, cut to [`MAX_RESPONSE_LINE`]. The
    /// text is kept ASCII (a character outside it becomes `?`): this server does not offer the
    /// UTF8 capability of RFC 6856, and an echoed command may hold anything.
    async fn status(&mut self, ok: bool, text: &str) -> std::io::Result<()> {
        let indicator = if ok { "+OK" } else { "-ERR" };
        let room = MAX_RESPONSE_LINE - indicator.len() - 3;
        let ascii: String = text
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        let line = format!("{indicator} {}\r\n", truncate(&ascii, room));
        tracing::trace!("S: {}", line.trim_end());
        self.write_raw(line.as_bytes()).await
    }

    /// `+OK text`.
    pub(super) async fn ok(&mut self, text: &str) -> std::io::Result<()> {
        self.status(true, text).await
    }

    /// `-ERR text`, for a command the client got wrong (not traced).
    pub(super) async fn err(&mut self, text: &str) -> std::io::Result<()> {
        self.status(false, text).await
    }

    /// `-ERR [code] text` for a refusal the provider decided, recorded as a `provider.refused`
    /// event (stage `POP3 <command>`, code 0: POP3 has no reply codes; `enhanced`: the
    /// RFC 3206 response code, empty when there is none).
    pub(super) async fn refuse(
        &mut self,
        command: &str,
        code: Option<&'static str>,
        text: &str,
    ) -> std::io::Result<()> {
        let from = self
            .open
            .as_ref()
            .map(|o| o.address.clone())
            .or_else(|| self.user.clone());
        self.refuse_for(from, command, code, text).await
    }

    /// Like [`Self::refuse`], naming the account the refusal concerns (the trace's `from`).
    pub(super) async fn refuse_for(
        &mut self,
        from: Option<String>,
        command: &str,
        code: Option<&'static str>,
        text: &str,
    ) -> std::io::Result<()> {
        self.face.shared.trace.emit(EventKind::ProviderRefused {
            provider: self.face.shared.config.id.clone(),
            stage: format!("POP3 {command}"),
            from,
            code: 0,
            enhanced: code.unwrap_or_default().to_string(),
            reason: text.to_string(),
            eml: None,
        });
        match code {
            Some(c) => self.err(&format!("[{c}] {text}")).await,
            None => self.err(text).await,
        }
    }

    /// Reads one line of at most `max` octets with its CRLF.
    pub(super) async fn read_line(&mut self, max: usize) -> std::io::Result<Line> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let buf = match tokio::time::timeout(IDLE_TIMEOUT, self.io().fill_buf()).await {
                Ok(r) => r?,
                Err(_) => return Ok(Line::Eof { idle: true }),
            };
            if buf.is_empty() {
                return Ok(Line::Eof { idle: false });
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            if !too_long {
                if line.len() + n > max {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            self.io().consume(n);
            if done {
                self.face.shared.activity.bump();
                if too_long {
                    return Ok(Line::TooLong);
                }
                line.pop();
                if line.pop() != Some(b'\r') {
                    return Ok(Line::BareLf);
                }
                return Ok(Line::Text(line));
            }
        }
    }

    /// The command loop, from the greeting to QUIT, EOF or the idle timeout.
    pub(super) async fn run(&mut self) -> std::io::Result<()> {
        // RFC 1939 §4: the greeting; no APOP timestamp, APOP is not offered.
        let host = format!("pop3.{}", self.face.shared.config.domain);
        match self.planned(Point::Connect, None) {
            // Instead of the greeting; the connection closes after it either way.
            Some(Action::Pop3Err(line)) => return self.write_fault_line(&line).await,
            Some(_) => return Ok(()),
            None => {}
        }
        self.ok(&format!("{host} demail-testbed DMDA POP3 ready"))
            .await?;
        loop {
            let line = match self.read_line(MAX_COMMAND_LINE).await? {
                Line::Eof { idle } => {
                    if idle {
                        let _ = self
                            .err(&format!(
                                "Autologout: idle for {} s; nothing was acknowledged (RFC 1939 section 3)",
                                IDLE_TIMEOUT.as_secs()
                            ))
                            .await;
                    }
                    return Ok(());
                }
                Line::TooLong => {
                    self.err(&format!(
                        "Line too long: a command line has at most {MAX_COMMAND_LINE} octets with its CRLF (RFC 2449 section 4)"
                    ))
                    .await?;
                    continue;
                }
                Line::BareLf => {
                    self.err("Command lines end in CRLF, not in a bare LF (RFC 1939 section 3)")
                        .await?;
                    continue;
                }
                Line::Text(l) => l,
            };
            let command = match Command::parse(&line) {
                Ok(c) => c,
                Err(Bad::Unknown(k)) => {
                    self.err(&format!("Unknown command {:?}", truncate(&k, 40)))
                        .await?;
                    continue;
                }
                Err(Bad::Syntax(text)) => {
                    self.err(&text).await?;
                    continue;
                }
            };
            // Never the arguments: PASS and AUTH carry secrets.
            tracing::trace!(
                "C: {}",
                String::from_utf8_lossy(line.split(|&b| b == b' ').next().unwrap_or_default())
            );
            if let Some(point) = self.point_of(&command) {
                let message_id = self.message_id_of(&command);
                match self.planned(point, message_id.as_deref()) {
                    Some(Action::Pop3Err(line)) => {
                        self.write_fault_line(&line).await?;
                        // A QUIT answered -ERR does not enter UPDATE: nothing is acknowledged
                        // (RFC 1939 §6), and the session ends as the client asked.
                        if point == Point::Quit {
                            self.open = None;
                            return Ok(());
                        }
                        continue;
                    }
                    Some(Action::Drop) => {
                        if point == Point::Retr
                            && let Command::Retr(n) | Command::Top(n, _) = command
                        {
                            self.send_half(n).await?;
                        }
                        // The connection goes without an answer (or in the middle of one);
                        // a session that ends without QUIT acknowledges nothing.
                        return Ok(());
                    }
                    _ => {}
                }
            }
            let go_on = if self.open.is_some() {
                self.transaction(command).await?
            } else {
                self.authorization(command).await?
            };
            if !go_on {
                return Ok(());
            }
        }
    }

    /// The fault plan's point a command is a candidate of (docs/faults.md, face `pop3`).
    fn point_of(&self, command: &Command) -> Option<Point> {
        match (self.open.is_some(), command) {
            (false, Command::Pass(_) | Command::Auth { .. }) => Some(Point::Auth),
            (true, Command::Stat | Command::List(_) | Command::Uidl(_)) => Some(Point::List),
            (true, Command::Retr(_) | Command::Top(..)) => Some(Point::Retr),
            (true, Command::Dele(_)) => Some(Point::Dele),
            (true, Command::Quit) => Some(Point::Quit),
            _ => None,
        }
    }

    /// Asks the fault plan about a candidate at `point` (the session's account as mailbox);
    /// a hit is traced as `fault.injected`.
    fn planned(&self, point: Point, message_id: Option<&str>) -> Option<Action> {
        let mailbox = self
            .open
            .as_ref()
            .map(|o| o.address.clone())
            .or_else(|| self.user.clone());
        self.face
            .shared
            .fault(
                FaultFace::Pop3,
                Some(point),
                mailbox.as_deref(),
                message_id.unwrap_or_default(),
            )
            .map(|h| h.action)
    }

    /// A planned `-ERR` line, written as the plan gives it (ASCII, one line).
    async fn write_fault_line(&mut self, line: &str) -> std::io::Result<()> {
        tracing::trace!("S: {line} (planned fault)");
        self.write_raw(format!("{line}\r\n").as_bytes()).await
    }

    /// A command in AUTHORIZATION state (RFC 1939 §4). `Ok(false)` ends the session.
    async fn authorization(&mut self, command: Command) -> std::io::Result<bool> {
        match command {
            Command::Capa => self.capa().await.map(|()| true),
            Command::Stls => self.stls().await,
            Command::User(name) => self.user_command(name).await.map(|()| true),
            Command::Pass(password) => self.pass(password).await,
            Command::Auth { mechanism, initial } => self.auth(mechanism, initial).await,
            Command::Apop => self
                .err("APOP is not offered; use USER/PASS or AUTH (after STLS)")
                .await
                .map(|()| true),
            Command::Quit => self.ok("Bye").await.map(|()| false),
            Command::Stat
            | Command::List(_)
            | Command::Retr(_)
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Uidl(_)
            | Command::Top(..) => self
                .err("Log in first (USER/PASS or AUTH, after STLS)")
                .await
                .map(|()| true),
        }
    }

    /// CAPA (RFC 2449 §5): what this session can do now.
    pub(super) async fn capa(&mut self) -> std::io::Result<()> {
        let mut lines = vec![
            "TOP".to_string(),
            "UIDL".into(),
            "RESP-CODES".into(),
            "AUTH-RESP-CODE".into(),
            "PIPELINING".into(),
        ];
        if self.open.is_none() {
            if !self.tls {
                lines.push("STLS".into());
            } else {
                lines.push("USER".into());
                let mut sasl = "SASL PLAIN".to_string();
                if !self.cert_accounts.is_empty() {
                    sasl.push_str(" EXTERNAL");
                }
                lines.push(sasl);
            }
        }
        lines.push("IMPLEMENTATION demail-testbed".into());
        let mut out = String::from("+OK Capability list follows\r\n");
        for l in lines {
            out.push_str(&l);
            out.push_str("\r\n");
        }
        out.push_str(".\r\n");
        self.write_raw(out.as_bytes()).await
    }

    /// STLS (RFC 2595 §4). `Ok(false)` ends the session (the handshake failed).
    async fn stls(&mut self) -> std::io::Result<bool> {
        if self.tls {
            self.err("TLS is already active (RFC 2595 section 4)")
                .await?;
            return Ok(true);
        }
        self.ok("Begin TLS negotiation").await?;
        // Whatever the client pipelined after STLS is dropped with the buffer (RFC 2595 §4).
        let Some(reader) = self.io.take() else {
            return Ok(false);
        };
        let acceptor = TlsAcceptor::from(self.face.tls.clone());
        match tokio::time::timeout(IDLE_TIMEOUT, acceptor.accept(reader.into_inner())).await {
            Ok(Ok(tls)) => {
                self.cert_accounts = certificate_accounts(&self.face.shared, tls.get_ref().1);
                self.io = Some(BufReader::new(Box::new(tls)));
                self.tls = true;
                self.user = None;
                Ok(true)
            }
            Ok(Err(e)) => {
                tracing::debug!("POP3 STLS handshake failed: {e}");
                Ok(false)
            }
            Err(_) => {
                tracing::debug!("POP3 STLS handshake timed out");
                Ok(false)
            }
        }
    }
}
