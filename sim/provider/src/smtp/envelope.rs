//! The envelope: MAIL (sender = the logged-in account, SIZE judged on its digits, RFC 1870)
//! and RCPT (accounts of this provider or routed domains, at most
//! [`MAX_RECIPIENTS_PER_MESSAGE`]), and the command-line checks the loop applies first.

use super::*;

impl Session {
    pub(super) async fn mail(&mut self, address: String, size: usize) -> std::io::Result<()> {
        if !self.greeted {
            return self.reply(503, "5.5.1", "Send EHLO first").await;
        }
        if self.relay_peer.is_some() {
            if self.mail_from.is_some() {
                return self.reply(503, "5.5.1", "Nested MAIL command").await;
            }
            self.mail_from = Some(normalize_address(&address));
            return self.reply(250, "2.1.0", "Sender OK").await;
        }
        if self.trusted && self.mail_from.is_none() {
            // Each transaction logs in as the account its envelope sender names.
            self.login = None;
            let account = lock(&self.shared.store).account(&address);
            match account {
                Some(a) => {
                    self.login = Some(Login {
                        address: normalize_address(&a.config.address),
                        level: a.config.max_auth_level,
                        mechanism: TRUSTED_MECHANISM,
                    });
                }
                None => {
                    return self
                        .refuse(
                            "MAIL",
                            Refusal::new(
                                550,
                                "5.7.1",
                                &format!("Sender <{address}> is not an account of this provider; the trusted submission listener accepts MAIL FROM of an existing account only"),
                            ),
                        )
                        .await;
                }
            }
        }
        let Some(login) = self.login.clone() else {
            return self
                .refuse(
                    "MAIL",
                    Refusal::new(530, "5.7.0", "Authentication required"),
                )
                .await;
        };
        if self.mail_from.is_some() {
            return self.reply(503, "5.5.1", "Nested MAIL command").await;
        }
        if size > MAX_MESSAGE_BYTES {
            return self
                .refuse(
                    "MAIL",
                    Refusal::new(
                        552,
                        "5.3.4",
                        &format!("Message size {size} exceeds the limit of {MAX_MESSAGE_BYTES} bytes (PVD-FU §4.1)"),
                    ),
                )
                .await;
        }
        if normalize_address(&address) != login.address {
            return self
                .refuse(
                    "MAIL",
                    Refusal::new(
                        550,
                        "5.7.1",
                        &format!(
                            "Sender <{address}> is not the logged-in account <{}>",
                            login.address
                        ),
                    ),
                )
                .await;
        }
        self.mail_from = Some(login.address);
        self.reply(250, "2.1.0", "Sender OK").await
    }

    pub(super) async fn rcpt(&mut self, address: String) -> std::io::Result<()> {
        if self.mail_from.is_none() {
            return self.reply(503, "5.5.1", "Send MAIL first").await;
        }
        if self.rcpts.len() >= MAX_RECIPIENTS_PER_MESSAGE
            && !self.rcpts.contains(&normalize_address(&address))
        {
            return self
                .refuse(
                    "RCPT",
                    Refusal::new(
                        452,
                        "4.5.3",
                        &format!("Too many recipients: at most {MAX_RECIPIENTS_PER_MESSAGE} per message (RFC 5321 §4.5.3.1.8); send the rest in another message"),
                    ),
                )
                .await;
        }
        if self.relay_peer.is_some() {
            // The deliverability check (unknown recipient → Meldung) happens after DATA
            // (PVD-FU Schritt 42); here only the domain must be one this provider hosts.
            if !self.shared.hosts(&address) {
                return self
                    .refuse(
                        "RCPT",
                        Refusal::new(
                            550,
                            "5.1.2",
                            &format!("<{address}> is not a domain of this provider"),
                        ),
                    )
                    .await;
            }
            let address = normalize_address(&address);
            if !self.rcpts.contains(&address) {
                self.rcpts.push(address);
            }
            return self.reply(250, "2.1.5", "Recipient OK").await;
        }
        let known = lock(&self.shared.store).account(&address).is_some()
            || (!self.shared.hosts(&address) && self.shared.route(&address).is_some());
        if !known {
            return self
                .refuse(
                    "RCPT",
                    Refusal::new(
                        550,
                        "5.1.1",
                        &format!("No De-Mail account <{address}> at this provider"),
                    ),
                )
                .await;
        }
        let address = normalize_address(&address);
        if !self.rcpts.contains(&address) {
            self.rcpts.push(address);
        }
        self.reply(250, "2.1.5", "Recipient OK").await
    }
}

/// The verb of a command that takes no parameters but was given some (`STARTTLS now`), else
/// `None`. RFC 3207 §4: "STARTTLS" CRLF; RFC 5321 §4.1.1: "DATA", "RSET", "QUIT" CRLF.
pub(super) fn parameter_on_bare_command(line: &[u8]) -> Option<&'static str> {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let verb_end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    let (verb, rest) = text.split_at(verb_end);
    if rest.iter().all(|&b| b == b' ') {
        return None;
    }
    ["STARTTLS", "DATA", "RSET", "QUIT"]
        .into_iter()
        .find(|v| verb.eq_ignore_ascii_case(v.as_bytes()))
}

/// For a MAIL command whose `SIZE=` (RFC 1870) declares more than [`MAX_MESSAGE_BYTES`]: the
/// line without that parameter (smtp-proto would read a number too long for 64 bits as a
/// smaller one, or fail), so that MAIL is judged as over the limit. `None` otherwise.
pub(super) fn oversized_size_parameter(line: &[u8]) -> Option<Vec<u8>> {
    if line.len() < 5 || !line[..5].eq_ignore_ascii_case(b"MAIL ") {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    for (i, word) in text.split(' ').enumerate() {
        let value = word
            .get(..5)
            .filter(|k| k.eq_ignore_ascii_case("SIZE="))
            .map(|_| word[5..].trim_end_matches(['\r', '\n']));
        if let Some(digits) = value
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            let significant = digits.trim_start_matches('0');
            let over = significant.len() > 19
                || significant
                    .parse::<u64>()
                    .is_ok_and(|n| n > MAX_MESSAGE_BYTES as u64);
            if over {
                found = true;
                if word.ends_with('\n') {
                    out.push_str(if word.ends_with("\r\n") { "\r\n" } else { "\n" });
                }
                continue;
            }
        }
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    found.then(|| out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #12 items 5 and 7 at the line level: SIZE judged on its digits, parameters on
    /// parameterless commands found.
    #[test]
    fn command_line_checks() {
        assert_eq!(
            parameter_on_bare_command(b"STARTTLS now\r\n"),
            Some("STARTTLS")
        );
        assert_eq!(parameter_on_bare_command(b"starttls\r\n"), None);
        assert_eq!(parameter_on_bare_command(b"STARTTLS \r\n"), None);
        assert_eq!(parameter_on_bare_command(b"NOOP hello\r\n"), None);
        assert_eq!(
            oversized_size_parameter(b"MAIL FROM:<a@b> SIZE=99999999999999999999999\r\n")
                .as_deref(),
            Some(&b"MAIL FROM:<a@b>\r\n"[..])
        );
        assert!(oversized_size_parameter(b"MAIL FROM:<a@b> SIZE=20971521\r\n").is_some());
        assert!(oversized_size_parameter(b"MAIL FROM:<a@b> SIZE=20971520\r\n").is_none());
        assert!(
            oversized_size_parameter(b"MAIL FROM:<a@b> SIZE=0000000000000000000000001\r\n")
                .is_none()
        );
        assert!(oversized_size_parameter(b"RCPT TO:<a@b> SIZE=99999999999\r\n").is_none());
    }
}
