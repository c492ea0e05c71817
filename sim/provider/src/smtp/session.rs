//! The session's plumbing: reading lines (CRLF kept, over-long lines dropped), writing replies
//! and refusals (with their `provider.refused` event), and the command loop that dispatches
//! to the other parts of this module.

use super::*;
use crate::fault::{Action, Face, Point};

impl Session {
    pub(super) fn new(shared: Arc<Shared>, stream: Box<dyn Io>) -> Self {
        Self {
            shared,
            io: Some(BufReader::new(stream)),
            tls: false,
            greeted: false,
            login: None,
            mail_from: None,
            rcpts: Vec::new(),
            relay_peer: None,
            trusted: false,
            peer: None,
            helo: None,
            ehlo: false,
            auth_failures: 0,
        }
    }

    pub(super) fn io(&mut self) -> &mut BufReader<Box<dyn Io>> {
        self.io
            .as_mut()
            .expect("session stream present between commands")
    }

    pub(super) async fn write(&mut self, text: &str) -> std::io::Result<()> {
        self.shared.activity.bump();
        tracing::trace!("S: {}", text.trim_end());
        let io = self.io().get_mut();
        io.write_all(text.as_bytes()).await?;
        io.flush().await
    }

    pub(super) async fn reply(
        &mut self,
        code: u16,
        enhanced: &str,
        text: &str,
    ) -> std::io::Result<()> {
        self.write(&format!("{code} {enhanced} {}\r\n", printable(text)))
            .await
    }

    /// The planned fault, if one hits this command: on the submission face of this session's
    /// account, on the relay face of the peer provider's domain.
    pub(super) fn planned_fault(&self, point: Point) -> Option<crate::fault::Hit> {
        let (face, who) = match &self.relay_peer {
            Some(peer) => (Face::Relay, Some(peer.clone())),
            None => (
                Face::Submission,
                self.login.as_ref().map(|l| l.address.clone()),
            ),
        };
        self.shared.fault(face, Some(point), who.as_deref(), "")
    }

    /// Replies with an error and records it in the trace.
    pub(super) async fn refuse(&mut self, stage: &str, r: Refusal) -> std::io::Result<()> {
        self.refuse_with(stage, r, None).await
    }

    /// Like [`Self::refuse`], naming the kept copy of a refused message.
    pub(super) async fn refuse_with(
        &mut self,
        stage: &str,
        r: Refusal,
        eml: Option<String>,
    ) -> std::io::Result<()> {
        self.shared.trace.emit(EventKind::ProviderRefused {
            provider: self.shared.config.id.clone(),
            stage: stage.to_string(),
            from: self.login.as_ref().map(|l| l.address.clone()),
            code: r.code,
            enhanced: r.enhanced.to_string(),
            reason: r.text.clone(),
            eml,
        });
        self.reply(r.code, &r.enhanced, &r.text).await
    }

    pub(super) async fn read_line(&mut self, max: usize) -> std::io::Result<Line> {
        let mut line = Vec::new();
        let mut too_long = false;
        // The last byte consumed, to tell CRLF from a bare LF in a line that was dropped.
        let mut last: Option<u8> = None;
        loop {
            let buf = match tokio::time::timeout(IDLE_TIMEOUT, self.io().fill_buf()).await {
                Ok(r) => r?,
                Err(_) => return Ok(Line::Eof),
            };
            if buf.is_empty() {
                return Ok(Line::Eof);
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            let before_lf = if n >= 2 { Some(chunk[n - 2]) } else { last };
            last = chunk.last().copied();
            if !too_long {
                if line.len() + n > max {
                    too_long = true;
                    line.clear();
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            self.io().consume(n);
            if done {
                self.shared.activity.bump();
                return Ok(if too_long {
                    Line::TooLong {
                        crlf: before_lf == Some(b'\r'),
                    }
                } else {
                    Line::Text(line)
                });
            }
        }
    }

    pub(super) async fn run(&mut self) -> std::io::Result<()> {
        let host = format!("smtp.{}", self.shared.config.domain);
        // A planned fault at connect: its reply instead of the greeting, then the connection
        // is closed (a client must not go on after a refused greeting, RFC 5321 §3.1).
        if let Some(hit) = self.planned_fault(Point::Connect) {
            if let Action::Reply {
                code,
                enhanced,
                text,
            } = &hit.action
            {
                self.reply(*code, enhanced, text).await?;
            }
            return Ok(());
        }
        self.write(&format!("220 {host} ESMTP demail-testbed DMDA ready\r\n"))
            .await?;
        loop {
            let line = match self.read_line(MAX_COMMAND_LINE).await? {
                Line::Eof => return Ok(()),
                Line::TooLong { .. } => {
                    self.reply(500, "5.5.2", "Line too long").await?;
                    continue;
                }
                Line::Text(l) => l,
            };
            tracing::trace!("C: {}", String::from_utf8_lossy(&line).trim_end());
            if let Some(verb) = parameter_on_bare_command(&line) {
                self.reply(
                    501,
                    "5.5.4",
                    &format!("{verb} takes no parameters (RFC 5321 §4.1.1, RFC 3207 §4)"),
                )
                .await?;
                continue;
            }
            // smtp-proto reads an over-long SIZE= as some smaller number or as a syntax error:
            // judge the declared size here, on the digits as written (RFC 1870).
            let (line, size_over) = match oversized_size_parameter(&line) {
                Some(stripped) => (stripped, true),
                None => (line, false),
            };
            let parsed = Request::parse(&mut line.iter()).map(|r| r.into_owned());
            let request = match parsed {
                Ok(r) => r,
                Err(smtp_proto::Error::UnknownCommand) => {
                    self.reply(500, "5.5.1", "Command unrecognized").await?;
                    continue;
                }
                Err(e) => {
                    self.reply(501, "5.5.4", &format!("Syntax error in parameters: {e:?}"))
                        .await?;
                    continue;
                }
            };
            let is_ehlo = matches!(request, Request::Ehlo { .. });
            // A planned fault at this command answers instead of the provider, or closes the
            // connection (docs/faults.md, faces "submission" and "relay").
            let point = match &request {
                Request::Ehlo { .. } | Request::Helo { .. } => Some(Point::Ehlo),
                Request::Mail { .. } => Some(Point::Mail),
                Request::Rcpt { .. } => Some(Point::Rcpt),
                Request::Data => Some(Point::Data),
                _ => None,
            };
            if let Some(point) = point
                && let Some(hit) = self.planned_fault(point)
            {
                match hit.action {
                    Action::Reply {
                        code,
                        enhanced,
                        text,
                    } => {
                        self.reply(code, &enhanced, &text).await?;
                        // 421: the service closes the channel (RFC 5321 §3.8).
                        if code == 421 {
                            return Ok(());
                        }
                        continue;
                    }
                    Action::Drop => return Ok(()),
                    _ => {}
                }
            }
            match request {
                Request::Ehlo { host: client } | Request::Helo { host: client } => {
                    self.greeted = true;
                    self.ehlo = is_ehlo;
                    self.helo = Some(client.clone());
                    self.reset();
                    let mut lines = vec![format!("{host} greets {}", printable(&client))];
                    lines.push(format!("SIZE {MAX_MESSAGE_BYTES}"));
                    lines.push("8BITMIME".into());
                    lines.push("ENHANCEDSTATUSCODES".into());
                    lines.push("PIPELINING".into());
                    if self.relay_peer.is_some() || self.trusted {
                        // Provider to provider: already mutually authenticated by TLS. Trusted
                        // listener: the loopback interface is trusted, MAIL FROM names the
                        // account.
                    } else if self.tls {
                        lines.push("AUTH PLAIN LOGIN".into());
                    } else {
                        lines.push("STARTTLS".into());
                    }
                    let mut out = String::new();
                    for (i, l) in lines.iter().enumerate() {
                        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
                        out.push_str(&format!("250{sep}{l}\r\n"));
                    }
                    self.write(&out).await?;
                }
                Request::StartTls => {
                    if self.trusted {
                        self.reply(
                            502,
                            "5.5.1",
                            "STARTTLS is not offered on the trusted submission listener",
                        )
                        .await?;
                        continue;
                    }
                    if self.tls {
                        self.reply(503, "5.5.1", "TLS already active").await?;
                        continue;
                    }
                    self.reply(220, "2.0.0", "Ready to start TLS").await?;
                    // RFC 3207 §4.2: anything the client pipelined after STARTTLS is discarded.
                    let reader = self.io.take().expect("stream present");
                    let stream = reader.into_inner();
                    let acceptor = TlsAcceptor::from(self.shared.tls.clone());
                    match acceptor.accept(stream).await {
                        Ok(tls) => {
                            self.io = Some(BufReader::new(Box::new(tls)));
                            self.tls = true;
                            self.greeted = false;
                            self.login = None;
                            self.reset();
                        }
                        Err(e) => {
                            tracing::debug!("TLS handshake failed: {e}");
                            return Ok(());
                        }
                    }
                }
                Request::Auth {
                    mechanism,
                    initial_response,
                } => {
                    if !self.auth(mechanism, initial_response).await? {
                        return Ok(());
                    }
                }
                Request::Mail { from } => {
                    let size = if size_over { usize::MAX } else { from.size };
                    self.mail(from.address, size).await?
                }
                Request::Rcpt { to } => self.rcpt(to.address).await?,
                Request::Data => self.data().await?,
                Request::Rset => {
                    self.reset();
                    self.reply(250, "2.0.0", "Reset").await?;
                }
                Request::Noop { .. } => self.reply(250, "2.0.0", "OK").await?,
                Request::Quit => {
                    self.reply(221, "2.0.0", "Bye").await?;
                    return Ok(());
                }
                Request::Vrfy { .. } | Request::Expn { .. } => {
                    self.reply(252, "2.5.0", "Cannot verify; send the message and see")
                        .await?;
                }
                other => {
                    let name = other.name();
                    self.reply(502, "5.5.1", &format!("{name} not implemented"))
                        .await?;
                }
            }
        }
    }

    pub(super) fn reset(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
    }
}

/// `text` with every control character but HT (NUL, CR, LF, …) replaced by `?`: a reply line
/// ends in its CRLF and its text is HT and printable characters (RFC 5321 §4.2 `textstring`),
/// also where it echoes what the client sent (an EHLO name, an address). Found by `sim/tests/fuzz_sessions.rs`:
/// `EHLO <NUL>` was answered `250-… greets <NUL>`.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let control = |c: char| c.is_control() && c != '\t';
    if text.chars().any(control) {
        text.chars()
            .map(|c| if control(c) { '?' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}
