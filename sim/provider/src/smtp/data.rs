//! DATA: reading the message up to CRLF.CRLF only (RFC 5321 §2.3.8, no smuggling), its size
//! limit, and handing it to [`super::accept`] off the session task (`super::blocking`).

use super::*;
use demail_wire::received::Protocol;

impl Session {
    pub(super) async fn data(&mut self) -> std::io::Result<()> {
        if self.mail_from.is_none() || self.rcpts.is_empty() {
            return self.reply(503, "5.5.1", "Send MAIL and RCPT first").await;
        }
        self.write("354 Start mail input; end with <CRLF>.<CRLF>\r\n")
            .await?;
        let Some(DataRead {
            message,
            overflow,
            bare_line_end,
        }) = self.read_data().await?
        else {
            return Ok(());
        };
        if let Some(line) = bare_line_end {
            self.rcpts.clear();
            self.mail_from = None;
            return self
                .refuse(
                    "DATA",
                    Refusal::new(
                        554,
                        "5.6.0",
                        &format!("Bare LF or bare CR in line {line} of the message; lines end in CRLF only (RFC 5321 §2.3.8)"),
                    ),
                )
                .await;
        }
        // A planned fault after the message text: its reply instead of accepting, or the
        // connection closed without one; nothing is stored either way (docs/faults.md).
        if let Some(hit) = self.planned_fault(crate::fault::Point::AfterData) {
            match hit.action {
                crate::fault::Action::Reply {
                    code,
                    enhanced,
                    text,
                } => return self.reply(code, &enhanced, &text).await,
                crate::fault::Action::Drop => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        format!("planned fault {:?}: connection dropped after DATA", hit.id),
                    ));
                }
                _ => {}
            }
        }
        let rcpts = std::mem::take(&mut self.rcpts);
        let envelope_from = self.mail_from.take().unwrap_or_default();
        let arrival = self.arrival();
        if let Some(peer) = self.relay_peer.clone() {
            if overflow {
                return self
                    .refuse("DATA", Refusal::new(552, "5.3.4", "Message too large"))
                    .await;
            }
            // Seal verification and the SQLite commit block: off the runtime's workers, like
            // a submission's DATA.
            let shared = self.shared.clone();
            let judged = super::blocking(move || {
                let verdict = accept::accept_relayed(
                    &shared,
                    &peer,
                    &arrival,
                    &envelope_from,
                    &rcpts,
                    &message,
                );
                (verdict, message)
            })
            .await;
            return match judged {
                Ok((Ok(id), _)) => self.reply(250, "2.0.0", &format!("Accepted {id}")).await,
                Ok((Err(r), message)) => {
                    let eml = self.shared.wire_log.record(&message);
                    self.refuse_with("DATA", r, Some(eml)).await
                }
                Err(e) => {
                    tracing::error!("accepting a hand-over failed: {e}");
                    self.refuse(
                        "DATA",
                        Refusal::new(
                            451,
                            "4.3.0",
                            "Local error in processing; nothing was stored",
                        ),
                    )
                    .await
                }
            };
        }
        let login = self.login.clone().expect("MAIL required a login");
        if overflow {
            return self
                .refuse(
                    "DATA",
                    Refusal::new(
                        552,
                        "5.3.4",
                        &format!("Message exceeds {MAX_MESSAGE_BYTES} bytes or has a line over {MAX_DATA_LINE} bytes"),
                    ),
                )
                .await;
        }
        // The PVD rules, sealing and the SQLite commit block (the store is behind a mutex), so
        // they run on tokio's blocking pool: the runtime's workers keep serving the other
        // sessions meanwhile. The wire-log copy is written after the store's lock is released,
        // before the reply; the reply waits for the commit (a 250 is durable).
        let shared = self.shared.clone();
        let judged = super::blocking(move || {
            let submission = Submission {
                login: &login,
                arrival: &arrival,
                recipients: &rcpts,
                data: &message,
            };
            let verdict = accept::accept(&shared, submission);
            (verdict, message)
        })
        .await;
        let (verdict, message) = match judged {
            Ok(v) => v,
            Err(e) => {
                // A panic inside accept is a provider bug: no 250, the client may try again.
                tracing::error!("accepting a submission failed: {e}");
                return self
                    .refuse(
                        "DATA",
                        Refusal::new(
                            451,
                            "4.3.0",
                            "Local error in processing; nothing was stored",
                        ),
                    )
                    .await;
            }
        };
        match verdict {
            Ok(id) => self.reply(250, "2.0.0", &format!("Accepted as {id}")).await,
            Err(r) => {
                let eml = self.shared.wire_log.record(&message);
                self.refuse_with("DATA", r, Some(eml)).await
            }
        }
    }

    /// How this session's message came in, for the provider's Received stamp (RFC 5321 §4.4):
    /// the EHLO name and address of the client, and the RFC 3848 keyword: TLS on the
    /// submission face (STARTTLS) and the relay face (implicit TLS), SMTP AUTH on the
    /// submission face only (the trusted listener has none; a peer provider is authenticated
    /// by its TLS certificate, which is not SMTP AUTH).
    fn arrival(&self) -> Arrival {
        let auth = self.login.is_some() && !self.trusted && self.relay_peer.is_none();
        Arrival {
            helo: self.helo.clone(),
            peer: self.peer,
            protocol: Protocol::of(self.ehlo, self.tls, auth),
        }
    }

    /// Reads DATA up to CRLF.CRLF; `None` when the connection ended first.
    async fn read_data(&mut self) -> std::io::Result<Option<DataRead>> {
        let mut message = Vec::new();
        let mut overflow = false;
        // RFC 5321 §2.3.8 and §4.1.1.4: DATA ends only at CRLF "." CRLF. A line that ends in a
        // bare LF, or holds a bare CR, is never a line end: reading goes on to the real
        // CRLF.CRLF and the message is refused (no SMTP smuggling: `\n.\r\n`, `\r\n.\n` and
        // `\n.\n` stay inside the message). The bytes are kept as sent, only un-dot-stuffed.
        let mut bare_line_end: Option<usize> = None;
        let mut lines = 0usize;
        let mut after_crlf = true;
        loop {
            let line = match self.read_line(MAX_DATA_LINE).await? {
                Line::Eof => return Ok(None),
                Line::TooLong { crlf } => {
                    overflow = true;
                    lines += 1;
                    after_crlf = crlf;
                    continue;
                }
                Line::Text(l) => l,
            };
            lines += 1;
            if after_crlf && line == b".\r\n" {
                break;
            }
            let crlf = line.ends_with(b"\r\n");
            let content = &line[..line.len() - if crlf { 2 } else { 0 }];
            if bare_line_end.is_none() && (!crlf || content.contains(&b'\r')) {
                bare_line_end = Some(lines);
            }
            let text = if after_crlf {
                line.strip_prefix(b".").unwrap_or(&line)
            } else {
                &line[..]
            };
            after_crlf = crlf;
            if message.len() + text.len() > MAX_MESSAGE_BYTES {
                overflow = true;
            }
            if !overflow {
                message.extend_from_slice(text);
            }
        }
        Ok(Some(DataRead {
            message,
            overflow,
            bare_line_end,
        }))
    }
}

/// What DATA brought: the message (un-dot-stuffed, empty once over the limit), whether it was
/// over [`MAX_MESSAGE_BYTES`] or had an over-long line, and the first line with a bare LF/CR.
struct DataRead {
    message: Vec<u8>,
    overflow: bool,
    bare_line_end: Option<usize>,
}
