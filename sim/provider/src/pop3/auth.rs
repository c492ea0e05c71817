//! Logins in AUTHORIZATION state (RFC 1939 §4, RFC 5034): USER/PASS and AUTH PLAIN with the
//! account's password at level normal, AUTH EXTERNAL with a client certificate of the account
//! at level high; the limits on failures (per session and, shared with the SMTP face, per
//! client address); and opening the maildrop: its lock, the Abholbestätigungen a level-high
//! login issues, and the snapshot the session works on.

use super::maildrop::Maildrop;
use super::*;
use crate::accept::{Refusal, storage_refusal};
use crate::smtp::{MAX_AUTH_FAILURES_PER_SESSION, b64_text, decode_plain};

/// Why a login is refused before TLS (PVD-FU §3.2.2: messages are retrieved over a secure
/// channel).
const USE_STLS: &str =
    "Use STLS first: logins are accepted only over TLS (PVD-FU section 3.2.2, RFC 2595)";

/// What came back for a SASL challenge.
enum Sasl {
    /// The client's response (base64 as sent).
    Response(String),
    /// The exchange ends with `-ERR` and this text; the session goes on.
    Cancelled(&'static str),
    /// The connection closed or went idle: end the session.
    Closed,
}

impl Session {
    /// USER (RFC 1939 §7). Any name is answered `+OK`, so that USER does not tell which
    /// accounts exist; PASS decides.
    pub(super) async fn user_command(&mut self, name: String) -> std::io::Result<()> {
        if !self.tls {
            return self.refuse("USER", None, USE_STLS).await;
        }
        self.user = Some(name);
        self.ok("Send PASS").await
    }

    /// PASS (RFC 1939 §7): a login at level normal. `Ok(false)` ends the session.
    pub(super) async fn pass(&mut self, password: String) -> std::io::Result<bool> {
        if !self.tls {
            return self.refuse("PASS", None, USE_STLS).await.map(|()| true);
        }
        let Some(user) = self.user.take() else {
            return self.err("Send USER first").await.map(|()| true);
        };
        self.password_login("PASS", &user, &password).await
    }

    /// AUTH (RFC 5034): PLAIN (RFC 4616) at level normal, EXTERNAL (RFC 4422 appendix A) with
    /// the client certificate at level high. `Ok(false)` ends the session.
    pub(super) async fn auth(
        &mut self,
        mechanism: Option<String>,
        initial: Option<String>,
    ) -> std::io::Result<bool> {
        if !self.tls {
            return self.refuse("AUTH", None, USE_STLS).await.map(|()| true);
        }
        self.user = None;
        match mechanism.as_deref() {
            None => self
                .err("AUTH needs a mechanism; CAPA lists them (SASL)")
                .await
                .map(|()| true),
            Some("PLAIN") => {
                let response = match self.sasl_response(initial).await? {
                    Sasl::Response(r) => r,
                    Sasl::Cancelled(why) => return self.err(why).await.map(|()| true),
                    Sasl::Closed => return Ok(false),
                };
                match decode_plain(&response) {
                    Some((user, password)) => self.password_login("AUTH", &user, &password).await,
                    None => self
                        .err("AUTH PLAIN response is not valid base64 of authzid NUL authcid NUL password (RFC 4616)")
                        .await
                        .map(|()| true),
                }
            }
            Some("EXTERNAL") => {
                let response = match self.sasl_response(initial).await? {
                    Sasl::Response(r) => r,
                    Sasl::Cancelled(why) => return self.err(why).await.map(|()| true),
                    Sasl::Closed => return Ok(false),
                };
                let authzid = if response.is_empty() {
                    String::new()
                } else {
                    match b64_text(&response) {
                        Some(a) => a,
                        None => {
                            return self
                                .err("AUTH EXTERNAL response is not valid base64 of the authorization identity (RFC 4422 appendix A)")
                                .await
                                .map(|()| true);
                        }
                    }
                };
                self.external(&authzid).await
            }
            Some(_) => {
                let offered = if self.cert_accounts.is_empty() {
                    "PLAIN"
                } else {
                    "PLAIN, EXTERNAL"
                };
                self.err(&format!(
                    "Unrecognized authentication mechanism; offered: {offered}"
                ))
                .await
                .map(|()| true)
            }
        }
    }

    /// The SASL response: the initial response if given (`=` is an empty one, RFC 5034 §4),
    /// else one line after a `+ ` continuation; `*` cancels (RFC 5034 §4).
    async fn sasl_response(&mut self, initial: Option<String>) -> std::io::Result<Sasl> {
        if let Some(i) = initial {
            return Ok(Sasl::Response(if i == "=" { String::new() } else { i }));
        }
        self.write_raw(b"+ \r\n").await?;
        Ok(match self.read_line(MAX_SASL_LINE).await? {
            Line::Text(l) if l == b"*" => Sasl::Cancelled("Authentication cancelled"),
            Line::Text(l) => Sasl::Response(String::from_utf8_lossy(&l).trim().to_string()),
            Line::TooLong => {
                Sasl::Cancelled("Authentication cancelled: the response line is too long")
            }
            Line::BareLf => Sasl::Cancelled("Authentication cancelled: lines end in CRLF"),
            Line::Eof { .. } => Sasl::Closed,
        })
    }

    /// The account's password: a login at level normal, whatever certificate was presented.
    async fn password_login(
        &mut self,
        command: &str,
        user: &str,
        password: &str,
    ) -> std::io::Result<bool> {
        let account = lock(&self.face.shared.store)
            .account(user)
            .map(|a| a.config);
        match account {
            Some(a) if a.password == password => {
                self.open_maildrop(command, &a.address, AuthLevel::Normal)
                    .await?;
                Ok(true)
            }
            _ => {
                self.auth_failed(command, user, "Authentication credentials invalid")
                    .await
            }
        }
    }

    /// AUTH EXTERNAL: the account the client certificate names (the one named by `authzid`
    /// if it is not empty) logs in at level high.
    async fn external(&mut self, authzid: &str) -> std::io::Result<bool> {
        let address = if authzid.is_empty() {
            match self.cert_accounts.as_slice() {
                [one] => one.clone(),
                [] => {
                    return self
                        .auth_failed(
                            "AUTH",
                            "",
                            "No client certificate naming an account of this provider was presented in the TLS handshake",
                        )
                        .await;
                }
                _ => {
                    return self
                        .auth_failed(
                            "AUTH",
                            "",
                            "The client certificate names several accounts; send the one to log in as as authorization identity",
                        )
                        .await;
                }
            }
        } else {
            let wanted = normalize_address(authzid);
            if !self.cert_accounts.contains(&wanted) {
                return self
                    .auth_failed(
                        "AUTH",
                        authzid,
                        "The client certificate presented does not name this account",
                    )
                    .await;
            }
            wanted
        };
        let max = lock(&self.face.shared.store)
            .account(&address)
            .map(|a| a.config.max_auth_level);
        if max != Some(AuthLevel::High) {
            self.refuse_for(
                Some(address.clone()),
                "AUTH",
                Some("SYS/PERM"),
                &format!("{address} cannot log in at level high (its highest level is normal); log in with its password at level normal"),
            )
            .await?;
            return Ok(true);
        }
        self.open_maildrop("AUTH", &address, AuthLevel::High)
            .await?;
        Ok(true)
    }

    /// A failed login: answered `-ERR [AUTH]` after the delay the client's address has earned
    /// ([`crate::smtp::AuthThrottle`], shared with the SMTP face); the
    /// [`MAX_AUTH_FAILURES_PER_SESSION`]th failure in a session ends it. `Ok(false)`: end the
    /// session.
    async fn auth_failed(
        &mut self,
        command: &str,
        user: &str,
        text: &str,
    ) -> std::io::Result<bool> {
        self.auth_failures += 1;
        let delay = match self.peer {
            Some(ip) => self
                .face
                .shared
                .auth_throttle
                .failed(ip, std::time::Instant::now()),
            None => Duration::ZERO,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let from = (!user.is_empty()).then(|| truncate(user, 200).to_string());
        if self.auth_failures >= MAX_AUTH_FAILURES_PER_SESSION {
            self.refuse_for(
                from,
                command,
                Some("AUTH"),
                &format!("{text}. Too many failed authentication attempts ({MAX_AUTH_FAILURES_PER_SESSION}) in this session; closing the connection"),
            )
            .await
            .map(|()| false)
        } else {
            self.refuse_for(from, command, Some("AUTH"), text)
                .await
                .map(|()| true)
        }
    }

    /// Enters TRANSACTION state for `address` at `level` (RFC 1939 §4): locks the mailbox
    /// (`[IN-USE]` if another session holds it), logs in ([`crate::login::login`]: at level
    /// high this issues the Abholbestätigungen due) and takes the maildrop.
    async fn open_maildrop(
        &mut self,
        command: &str,
        address: &str,
        level: AuthLevel,
    ) -> std::io::Result<()> {
        let address = normalize_address(address);
        // A closed account ("vollständig gesperrt", PVD-FU Schritt 43) cannot log in.
        let closed = lock(&self.face.shared.store).closed_at(&address);
        if !matches!(closed, Ok(None)) {
            let text = match closed {
                Ok(_) => format!(
                    "The De-Mail account {address} is closed (vollständig gesperrt): it can neither log in nor send"
                ),
                Err(e) => {
                    tracing::error!("storage failure: {e:#}");
                    "Temporary storage failure; please try again".to_string()
                }
            };
            return self
                .refuse_for(Some(address.clone()), command, Some("SYS/PERM"), &text)
                .await;
        }
        let Some(guard) = Maildrops::acquire(&self.face, &address) else {
            return self
                .refuse_for(
                    Some(address.clone()),
                    command,
                    Some("IN-USE"),
                    &format!("The mailbox {address} is in use by another POP3 session; try again when it has ended"),
                )
                .await;
        };
        let shared = self.face.shared.clone();
        let who = address.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let issued = crate::login::login(&shared, &who, level)?;
            let entries = lock(&shared.store)
                .maildrop(&who)
                .map_err(storage_refusal)?;
            Ok::<_, Refusal>((issued, entries))
        })
        .await;
        let (issued, entries) = match opened {
            Ok(Ok(v)) => v,
            Ok(Err(r)) => {
                let code = if r.code < 500 { "SYS/TEMP" } else { "SYS/PERM" };
                return self
                    .refuse_for(Some(address), command, Some(code), &r.text)
                    .await;
            }
            Err(e) => {
                tracing::error!("opening the maildrop of {address} failed: {e}");
                return self
                    .refuse_for(
                        Some(address),
                        command,
                        Some("SYS/TEMP"),
                        "Local error in opening the maildrop; please try again",
                    )
                    .await;
            }
        };
        let maildrop = Maildrop::new(level, entries);
        let mut text = format!(
            "{address} logged in at level {level}; maildrop has {} messages ({} octets)",
            maildrop.count(),
            maildrop.octets()
        );
        if maildrop.hidden() > 0 {
            text.push_str(&format!(
                "; {} more need a login at level high (PVD-FU section 3.1.2.3)",
                maildrop.hidden()
            ));
        }
        if !issued.is_empty() {
            text.push_str(&format!(
                "; {} Abholbestaetigung(en) issued (PVD-FU section 3.3.5)",
                issued.len()
            ));
        }
        self.open = Some(Open {
            address,
            maildrop,
            _lock: guard,
        });
        self.ok(&text).await
    }
}
