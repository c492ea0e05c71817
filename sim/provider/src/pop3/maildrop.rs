//! The maildrop of a logged-in session (TRANSACTION state, RFC 1939 §5) and its commands:
//! STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, RSET; QUIT enters UPDATE state (RFC 1939 §6),
//! where the messages marked by DELE are acknowledged in the store in one transaction.
//!
//! The maildrop is fixed at login: the mailbox's messages that are neither acknowledged nor in
//! the Papierkorb ([`crate::store::Store::maildrop`]), without those a login at level normal
//! must not access ([`crate::login::needs_level_high`], PVD-FU §3.1.2.3), numbered from 1 in
//! Eingang order. A message's unique id (UIDL) is its X-de-mail-message-id ([`unique_id`]).

use sha2::{Digest as _, Sha256};

use super::command::{Command, Msg};
use super::*;
use crate::store::MaildropEntry;

/// The session's view of the mailbox.
pub(super) struct Maildrop {
    /// The messages this session may access, numbered from 1.
    messages: Vec<Entry>,
    /// Messages left out because they need a login at level high.
    hidden: usize,
}

/// One message of the maildrop.
struct Entry {
    /// X-de-mail-message-id.
    message_id: String,
    /// The UIDL unique id.
    uid: String,
    /// Size in octets as stored (every stored line ends in CRLF, so this is what RETR sends
    /// before dot-stuffing).
    size: u64,
    /// Marked by DELE in this session.
    deleted: bool,
}

impl Maildrop {
    /// The maildrop a login at `level` sees of `entries`.
    pub(super) fn new(level: AuthLevel, entries: Vec<MaildropEntry>) -> Self {
        let mut messages = Vec::new();
        let mut hidden = 0;
        for e in entries {
            if level != AuthLevel::High && crate::login::needs_level_high(e.message_type, &e.header)
            {
                hidden += 1;
                continue;
            }
            messages.push(Entry {
                uid: unique_id(&e.message_id),
                message_id: e.message_id,
                size: e.size,
                deleted: false,
            });
        }
        Self { messages, hidden }
    }

    /// Messages not marked deleted.
    pub(super) fn count(&self) -> usize {
        self.messages.iter().filter(|m| !m.deleted).count()
    }

    /// Their size in octets.
    pub(super) fn octets(&self) -> u64 {
        self.messages
            .iter()
            .filter(|m| !m.deleted)
            .map(|m| m.size)
            .sum()
    }

    /// Messages left out at level normal.
    pub(super) fn hidden(&self) -> usize {
        self.hidden
    }

    /// Marks message `n` deleted (DELE), or the `-ERR` text.
    fn delete(&mut self, n: Msg) -> Result<(), String> {
        self.get(n)?;
        if let Some(m) = n.0.checked_sub(1).and_then(|i| self.messages.get_mut(i)) {
            m.deleted = true;
        }
        Ok(())
    }

    /// The multi-line answer of LIST or UIDL without an argument: `+OK`, then one line per
    /// message not marked deleted, `number value`.
    fn listing(&self, value: impl Fn(&Entry) -> String) -> String {
        let mut out = format!(
            "+OK {} messages ({} octets)\r\n",
            self.count(),
            self.octets()
        );
        for (i, m) in self.messages.iter().enumerate() {
            if !m.deleted {
                out.push_str(&format!("{} {}\r\n", i + 1, value(m)));
            }
        }
        out.push_str(".\r\n");
        out
    }

    /// Message `n`, or the `-ERR` text (RFC 1939 §5: no such message, or marked deleted).
    fn get(&self, Msg(n): Msg) -> Result<&Entry, String> {
        match n.checked_sub(1).and_then(|i| self.messages.get(i)) {
            None => Err(format!(
                "No such message; the maildrop numbers its messages 1 to {}",
                self.messages.len()
            )),
            Some(m) if m.deleted => Err(format!("Message {n} is already deleted")),
            Some(m) => Ok(m),
        }
    }
}

/// The UIDL unique id of a message (RFC 1939 §7: 1 to 70 characters 0x21 to 0x7E, the same
/// in every session): the X-de-mail-message-id itself when it fits, else `sha256-` and 48 hex
/// digits of its SHA-256.
pub(super) fn unique_id(message_id: &str) -> String {
    let fits = (1..=70).contains(&message_id.len())
        && message_id.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if fits {
        return message_id.to_string();
    }
    let digest = Sha256::digest(message_id.as_bytes());
    let hex: String = digest[..24].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256-{hex}")
}

/// The lines of `raw` as the body of a multi-line response (RFC 1939 §3): every line ends in
/// CRLF (a bare LF or CR, which no stored message should have, ends a line too), a line that
/// starts with "." gets another one in front, and `.` CRLF ends the response. With
/// `body_lines`, only the header block, the empty line after it and that many lines of the
/// body (TOP).
pub(super) fn multi_line(raw: &[u8], body_lines: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 512 + 8);
    let mut in_body = false;
    let mut body_left = body_lines;
    let mut rest = raw;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
            Some(i) => {
                let end = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                (&rest[..i], &rest[end..])
            }
            None => (rest, &rest[rest.len()..]),
        };
        if in_body && let Some(left) = body_left.as_mut() {
            if *left == 0 {
                break;
            }
            *left -= 1;
        }
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        if line.is_empty() {
            in_body = true;
        }
        rest = next;
    }
    out.extend_from_slice(b".\r\n");
    out
}

impl Session {
    fn open(&mut self) -> Option<&mut Open> {
        self.open.as_mut()
    }

    /// A command in TRANSACTION state (RFC 1939 §5); QUIT enters UPDATE. `Ok(false)` ends the
    /// session.
    pub(super) async fn transaction(&mut self, command: Command) -> std::io::Result<bool> {
        let Some(open) = self.open() else {
            return Ok(false);
        };
        let md = &mut open.maildrop;
        let reply: Result<String, String> = match command {
            Command::Capa => return self.capa().await.map(|()| true),
            Command::Retr(n) => return self.send_message(n, None).await.map(|()| true),
            Command::Top(n, lines) => {
                return self.send_message(n, Some(lines)).await.map(|()| true);
            }
            Command::Quit => return self.update().await.map(|()| false),
            Command::List(None) => {
                let listing = md.listing(|m| m.size.to_string());
                return self.write_raw(listing.as_bytes()).await.map(|()| true);
            }
            Command::Uidl(None) => {
                let listing = md.listing(|m| m.uid.clone());
                return self.write_raw(listing.as_bytes()).await.map(|()| true);
            }
            Command::Stat => Ok(format!("{} {}", md.count(), md.octets())),
            Command::List(Some(n)) => md.get(n).map(|m| format!("{} {}", n.0, m.size)),
            Command::Uidl(Some(n)) => md.get(n).map(|m| format!("{} {}", n.0, m.uid)),
            Command::Dele(n) => md.delete(n).map(|()| {
                format!(
                    "Message {} deleted; it is acknowledged at QUIT, not purged",
                    n.0
                )
            }),
            Command::Noop => Ok(String::new()),
            Command::Rset => {
                for m in &mut md.messages {
                    m.deleted = false;
                }
                Ok(format!(
                    "maildrop has {} messages ({} octets)",
                    md.count(),
                    md.octets()
                ))
            }
            Command::Stls
            | Command::User(_)
            | Command::Pass(_)
            | Command::Auth { .. }
            | Command::Apop => {
                Err("Already logged in; the command belongs to the AUTHORIZATION state".into())
            }
        };
        match reply {
            Ok(t) => self.ok(&t).await?,
            Err(t) => self.err(&t).await?,
        }
        Ok(true)
    }

    /// The X-de-mail-message-id of the message a RETR, TOP or DELE names, if there is one
    /// (for the fault plan's trace event).
    pub(super) fn message_id_of(&self, command: &Command) -> Option<String> {
        let (Command::Retr(n) | Command::Top(n, _) | Command::Dele(n)) = command else {
            return None;
        };
        let open = self.open.as_ref()?;
        open.maildrop.get(*n).ok().map(|m| m.message_id.clone())
    }

    /// A planned `drop` in RETR or TOP (docs/faults.md): the `+OK` line and the first half of
    /// the message's lines, then nothing more (the caller closes the connection), so the
    /// client holds a multi-line answer without its terminating `.` (RFC 1939 §3).
    pub(super) async fn send_half(&mut self, n: Msg) -> std::io::Result<()> {
        let Some(open) = self.open.as_ref() else {
            return Ok(());
        };
        let Ok(entry) = open.maildrop.get(n) else {
            return Ok(());
        };
        let (message_id, size) = (entry.message_id.clone(), entry.size);
        let mailbox = open.address.clone();
        let shared = self.face.shared.clone();
        let read = tokio::task::spawn_blocking(move || {
            lock(&shared.store).message_raw(&mailbox, &message_id)
        })
        .await;
        let Ok(Ok(Some(raw))) = read else {
            return Ok(());
        };
        let all = multi_line(&raw, None);
        let lines = all.split_inclusive(|&b| b == b'\n').count();
        let half: usize = all
            .split_inclusive(|&b| b == b'\n')
            .take(lines / 2)
            .map(<[u8]>::len)
            .sum();
        let mut out = format!("+OK {size} octets\r\n").into_bytes();
        out.extend_from_slice(&all[..half]);
        self.write_raw(&out).await
    }

    /// RETR (`body_lines` = None) or TOP: the message as stored, dot-stuffed.
    async fn send_message(&mut self, n: Msg, body_lines: Option<usize>) -> std::io::Result<()> {
        let Some(open) = self.open() else {
            return Ok(());
        };
        let (message_id, size) = match open.maildrop.get(n) {
            Ok(m) => (m.message_id.clone(), m.size),
            Err(e) => return self.err(&e).await,
        };
        let mailbox = open.address.clone();
        let shared = self.face.shared.clone();
        let read = tokio::task::spawn_blocking(move || {
            lock(&shared.store).message_raw(&mailbox, &message_id)
        })
        .await;
        let raw = match read {
            Ok(Ok(Some(raw))) => raw,
            Ok(Ok(None)) => {
                return self
                    .err(&format!(
                        "Message {} is no longer in the mailbox (deleted by another access since this session began)",
                        n.0
                    ))
                    .await;
            }
            Ok(Err(e)) => {
                tracing::error!("reading a message for POP3: {e:#}");
                return self
                    .refuse(
                        if body_lines.is_some() { "TOP" } else { "RETR" },
                        Some("SYS/TEMP"),
                        "Temporary storage failure; please try again",
                    )
                    .await;
            }
            Err(e) => {
                tracing::error!("reading a message for POP3: {e}");
                return self
                    .refuse(
                        if body_lines.is_some() { "TOP" } else { "RETR" },
                        Some("SYS/TEMP"),
                        "Local error in reading the message; please try again",
                    )
                    .await;
            }
        };
        let first = match body_lines {
            None => format!("+OK {size} octets\r\n"),
            Some(_) => "+OK top of message follows\r\n".to_string(),
        };
        let mut out = first.into_bytes();
        out.extend_from_slice(&multi_line(&raw, body_lines));
        self.write_raw(&out).await
    }

    /// QUIT in TRANSACTION state: the UPDATE state (RFC 1939 §6). The messages marked by DELE
    /// are acknowledged in one transaction, at the virtual time, in the state the gateway
    /// API's acknowledge uses; nothing is purged. The mailbox's lock is released before the
    /// answer goes out, so a client that reconnects at once finds the mailbox free.
    async fn update(&mut self) -> std::io::Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let marked: Vec<String> = open
            .maildrop
            .messages
            .iter()
            .filter(|m| m.deleted)
            .map(|m| m.message_id.clone())
            .collect();
        let address = open.address.clone();
        if marked.is_empty() {
            drop(open);
            return self.ok("Bye; nothing acknowledged").await;
        }
        let n_marked = marked.len();
        let shared = self.face.shared.clone();
        let mailbox = address.clone();
        let done = tokio::task::spawn_blocking(move || {
            // Acknowledgement time is virtual time, as in the gateway API.
            let at = shared.clock.timestamp();
            lock(&shared.store).acknowledge_all(&mailbox, &marked, at)
        })
        .await;
        drop(open);
        let failure = match done {
            Ok(Ok(_)) => {
                return self
                    .ok(&format!(
                        "Bye; {n_marked} messages acknowledged (they stay in the store)"
                    ))
                    .await;
            }
            Ok(Err(e)) => format!("{e:#}"),
            Err(e) => e.to_string(),
        };
        tracing::error!("acknowledging at POP3 QUIT: {failure}");
        self.refuse_for(
            Some(address),
            "QUIT",
            Some("SYS/TEMP"),
            "Temporary storage failure; nothing was acknowledged, please try again",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dot-stuffing and line ends: a CRLF message comes back byte-identical after un-stuffing;
    /// a line starting with "." gets a second one; a missing last line end is added; bare LF
    /// and CR become CRLF; TOP sends the header block, the empty line and n body lines.
    #[test]
    fn multi_line_responses() {
        let raw = b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend\r\n";
        let out = multi_line(raw, None);
        assert_eq!(
            out,
            b"Subject: x\r\n\r\n..hidden\r\n...two\r\nend\r\n.\r\n".to_vec()
        );
        assert_eq!(multi_line(b"a\r\nb", None), b"a\r\nb\r\n.\r\n".to_vec());
        assert_eq!(
            multi_line(b"a\nb\rc\r\n", None),
            b"a\r\nb\r\nc\r\n.\r\n".to_vec()
        );
        assert_eq!(multi_line(b"", None), b".\r\n".to_vec());
        assert_eq!(multi_line(b".\r\n", None), b"..\r\n.\r\n".to_vec());
        assert_eq!(
            multi_line(raw, Some(0)),
            b"Subject: x\r\n\r\n.\r\n".to_vec()
        );
        assert_eq!(
            multi_line(raw, Some(1)),
            b"Subject: x\r\n\r\n..hidden\r\n.\r\n".to_vec()
        );
        assert_eq!(multi_line(raw, Some(usize::MAX)), out);
        assert_eq!(
            multi_line(b"A: b\r\nC: d\r\n", Some(3)),
            b"A: b\r\nC: d\r\n.\r\n".to_vec()
        );
    }

    /// UIDL: an X-de-mail-message-id that fits RFC 1939 §7 is the id; others get a stable
    /// derived one that fits.
    #[test]
    fn unique_ids() {
        assert_eq!(
            unique_id("m000001@dmda-a.de-mail.de"),
            "m000001@dmda-a.de-mail.de"
        );
        for odd in ["", "mit leerzeichen@x", &"m".repeat(71), "ümlaut@x"] {
            let u = unique_id(odd);
            assert_eq!(u, unique_id(odd), "stable");
            assert!(
                u.len() <= 70 && u.bytes().all(|b| (0x21..=0x7e).contains(&b)),
                "{u}"
            );
        }
        assert_ne!(unique_id(""), unique_id(" "));
    }
}
