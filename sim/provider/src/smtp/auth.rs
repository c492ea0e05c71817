//! AUTH PLAIN and LOGIN (RFC 4954, RFC 4616) after STARTTLS, and the limits on failures: per
//! session ([`MAX_AUTH_FAILURES_PER_SESSION`]) and per client address ([`AuthThrottle`]).

use super::*;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

impl Session {
    /// AUTH PLAIN or LOGIN (RFC 4954). Returns `Ok(false)` when the session must end (too
    /// many failures).
    pub(super) async fn auth(&mut self, mechanism: u64, initial: String) -> std::io::Result<bool> {
        if self.trusted {
            return self
                .reply(
                    503,
                    "5.5.1",
                    "AUTH is not used on the trusted submission listener: MAIL FROM names the account",
                )
                .await
                .map(|()| true);
        }
        if self.relay_peer.is_some() {
            // A peer provider is authenticated by its client certificate (IT-BInfra-IO
            // Tabelle 1); an account login has no place on the relay face (found by the
            // bad-input campaign: it used to start the exchange with 334).
            return self
                .reply(
                    503,
                    "5.5.1",
                    "AUTH is not used on the relay face: the peer provider is authenticated by its certificate",
                )
                .await
                .map(|()| true);
        }
        if !self.tls {
            return self
                .refuse(
                    "AUTH",
                    Refusal::new(
                        538,
                        "5.7.11",
                        "Encryption required: issue STARTTLS before AUTH",
                    ),
                )
                .await
                .map(|()| true);
        }
        if self.login.is_some() {
            return self
                .reply(503, "5.5.1", "Already authenticated")
                .await
                .map(|()| true);
        }
        let (user, password, mech) = if mechanism == smtp_proto::AUTH_PLAIN {
            let response = if initial.is_empty() {
                self.write("334 \r\n").await?;
                self.read_auth_line().await?
            } else {
                Some(initial)
            };
            let Some(response) = response else {
                return self
                    .reply(501, "5.5.2", "Authentication cancelled")
                    .await
                    .map(|()| true);
            };
            match decode_plain(&response) {
                Some((u, p)) => (u, p, "smtp-auth-plain"),
                None => {
                    return self
                        .reply(501, "5.5.2", "AUTH PLAIN response is not valid base64 of authzid\\0authcid\\0password")
                        .await
                        .map(|()| true);
                }
            }
        } else if mechanism == smtp_proto::AUTH_LOGIN {
            let user = if initial.is_empty() {
                self.write("334 VXNlcm5hbWU6\r\n").await?;
                self.read_auth_line().await?
            } else {
                Some(initial)
            };
            self.write("334 UGFzc3dvcmQ6\r\n").await?;
            let pass = self.read_auth_line().await?;
            match (
                user.and_then(|u| b64_text(&u)),
                pass.and_then(|p| b64_text(&p)),
            ) {
                (Some(u), Some(p)) => (u, p, "smtp-auth-login"),
                _ => {
                    return self
                        .reply(501, "5.5.2", "AUTH LOGIN response is not valid base64")
                        .await
                        .map(|()| true);
                }
            }
        } else {
            return self
                .reply(
                    504,
                    "5.5.4",
                    "Unrecognized authentication mechanism; use PLAIN or LOGIN",
                )
                .await
                .map(|()| true);
        };
        let (account, closed) = {
            let store = lock(&self.shared.store);
            let account = store.account(&user).map(|a| a.config.clone());
            // Only asked for a right password: a closed account answers as such only to its
            // holder (RFC 5248 X.7.13 comes "after a successful authentication").
            let closed = match &account {
                Some(a) if a.password == password => store.closed_at(&user).map(|c| c.is_some()),
                _ => Ok(false),
            };
            (account, closed)
        };
        let closed = match closed {
            Ok(c) => c,
            Err(e) => {
                let r = crate::accept::storage_refusal(e);
                return self.refuse("AUTH", r).await.map(|()| true);
            }
        };
        match account {
            Some(a) if a.password == password && closed => self
                .refuse("AUTH", crate::accept::closed_refusal(525, &a.address))
                .await
                .map(|()| true),
            Some(a) if a.password == password => {
                self.login = Some(Login {
                    address: normalize_address(&a.address),
                    level: a.max_auth_level,
                    mechanism: mech,
                });
                self.reply(235, "2.7.0", "Authentication successful")
                    .await
                    .map(|()| true)
            }
            _ => self.auth_failed().await,
        }
    }

    /// A wrong user name or password: the answer waits as long as the client's address has
    /// earned ([`AuthThrottle`]); the third failure in a session ends it with 421 4.7.0.
    pub(super) async fn auth_failed(&mut self) -> std::io::Result<bool> {
        self.auth_failures += 1;
        let delay = match self.peer {
            Some(ip) => self
                .shared
                .auth_throttle
                .failed(ip, std::time::Instant::now()),
            None => Duration::ZERO,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if self.auth_failures >= MAX_AUTH_FAILURES_PER_SESSION {
            self.refuse(
                "AUTH",
                Refusal::new(
                    421,
                    "4.7.0",
                    &format!("Too many failed authentication attempts ({MAX_AUTH_FAILURES_PER_SESSION}) in this session; closing the connection"),
                ),
            )
            .await?;
            return Ok(false);
        }
        self.refuse(
            "AUTH",
            Refusal::new(535, "5.7.8", "Authentication credentials invalid"),
        )
        .await
        .map(|()| true)
    }

    pub(super) async fn read_auth_line(&mut self) -> std::io::Result<Option<String>> {
        match self.read_line(MAX_COMMAND_LINE).await? {
            Line::Text(l) => {
                let s = String::from_utf8_lossy(&l).trim().to_string();
                Ok(if s == "*" { None } else { Some(s) })
            }
            _ => Ok(None),
        }
    }
}

/// Slows down password guessing per client address: the first [`AuthThrottle::FREE`] failures
/// within [`AuthThrottle::WINDOW`] are answered at once, each further one waits twice as long
/// as the one before (1 s, 2 s, 4 s, …, at most [`AuthThrottle::MAX_DELAY`]). An address is
/// forgotten a window after its last failure; at most [`AuthThrottle::MAX_ADDRESSES`] are
/// remembered (the oldest is dropped), so a flood of addresses costs bounded memory. Policy
/// in docs/serve.md. Wall-clock time: this is network defence, not legal time.
#[derive(Debug, Default)]
pub(crate) struct AuthThrottle {
    failures:
        std::sync::Mutex<std::collections::BTreeMap<std::net::IpAddr, (u32, std::time::Instant)>>,
}

impl AuthThrottle {
    /// Failures per address answered without delay.
    pub const FREE: u32 = 3;
    /// How long an address's failures are remembered after the last one.
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// The longest delay before a 535.
    pub const MAX_DELAY: Duration = Duration::from_secs(8);
    /// Addresses remembered at most.
    pub const MAX_ADDRESSES: usize = 4096;

    /// Records a failure of `ip` at `now`; returns how long to wait before answering it.
    pub fn failed(&self, ip: std::net::IpAddr, now: std::time::Instant) -> Duration {
        let mut map = lock(&self.failures);
        map.retain(|_, (_, last)| now.saturating_duration_since(*last) < Self::WINDOW);
        if !map.contains_key(&ip)
            && map.len() >= Self::MAX_ADDRESSES
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, last))| *last)
                .map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        let entry = map.entry(ip).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        let over = entry.0.saturating_sub(Self::FREE);
        if over == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1u64 << (over - 1).min(3)).min(Self::MAX_DELAY)
        }
    }
}

pub(crate) fn b64_text(s: &str) -> Option<String> {
    B64.decode(s.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// Decodes an AUTH PLAIN response (RFC 4616): authzid NUL authcid NUL passwd.
pub(crate) fn decode_plain(response: &str) -> Option<(String, String)> {
    let text = b64_text(response)?;
    let mut parts = text.split('\0');
    let _authzid = parts.next()?;
    let user = parts.next()?.to_string();
    let pass = parts.next()?.to_string();
    if parts.next().is_some() {
        return None;
    }
    Some((user, pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AUTH PLAIN decodes per RFC 4616 and rejects malformed input without panicking.
    #[test]
    fn plain_decoding() {
        let ok = B64.encode("\0user@x\0secret");
        assert_eq!(decode_plain(&ok), Some(("user@x".into(), "secret".into())));
        assert_eq!(decode_plain("!!!"), None);
        assert_eq!(decode_plain(&B64.encode("only-one-part")), None);
    }

    /// #12 item 4, the per-address policy: three failures free, then 1, 2, 4, 8, 8 s; an
    /// address is forgotten a window after its last failure; other addresses are not slowed;
    /// at most MAX_ADDRESSES are remembered.
    #[test]
    fn auth_throttle_slows_repeated_failures_per_address() {
        let t = AuthThrottle::default();
        let a: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        let b: std::net::IpAddr = "127.0.0.3".parse().unwrap();
        let now = std::time::Instant::now();
        let delays: Vec<u64> = (0..8).map(|_| t.failed(a, now).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 1, 2, 4, 8, 8]);
        assert_eq!(t.failed(b, now), Duration::ZERO);
        let later = now + AuthThrottle::WINDOW + Duration::from_secs(1);
        assert_eq!(t.failed(a, later), Duration::ZERO);
        for i in 0..(AuthThrottle::MAX_ADDRESSES as u32 + 50) {
            t.failed(std::net::IpAddr::from(i.to_be_bytes()), later);
        }
        assert!(lock(&t.failures).len() <= AuthThrottle::MAX_ADDRESSES);
    }
}
