//! The push keys of a `serve` account (`push`, `push_tls`, `push_server_name`, `push_ca`;
//! docs/serve.md "Configuration file"): read into a [`PushTarget`] when the configuration is
//! parsed, so that every mistake is a configuration error with `FILE:LINE:COLUMN` of the value
//! and the key's name, before anything starts.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use anyhow::{Result, bail};
use demail_sim::provider::delivery::{DEFAULT_SERVER_NAME, PushTarget, PushTls};
use toml::Spanned;

use super::serve::AccountEntry;

/// Where a configuration error points: the file's text and path.
pub struct Source<'a> {
    pub text: &'a str,
    pub path: &'a Path,
}

impl Source<'_> {
    /// `FILE:LINE:COLUMN: key: message` at the start of `value`.
    fn error<T>(&self, value: &Spanned<T>, key: &str, message: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "{}: {key}: {message}",
            super::serve::locate(self.text, self.path, value.span().start)
        )
    }
}

/// The push target an account's keys describe (`None` without `push`).
pub fn target(a: &AccountEntry, src: &Source<'_>) -> Result<Option<PushTarget>> {
    a.push_keys_target(src)
}

impl AccountEntry {
    /// The push target of the account's push keys.
    fn push_keys_target(&self, src: &Source<'_>) -> Result<Option<PushTarget>> {
        let account = &self.address;
        let Some(push) = &self.push else {
            let stray = [
                ("push_tls", &self.push_tls),
                ("push_server_name", &self.push_server_name),
                ("push_ca", &self.push_ca),
            ];
            if let Some((key, Some(v))) = stray.into_iter().find(|(_, v)| v.is_some()) {
                return Err(src.error(
                    v,
                    key,
                    &format!("account {account} has no push address; set push = \"host:port\" or remove {key}"),
                ));
            }
            return Ok(None);
        };
        let (addr, host) = resolve(push.get_ref()).map_err(|e| src.error(push, "push", &e))?;
        let mode = self.push_tls.as_ref().map_or("starttls", |m| m.get_ref());
        // Where a push_tls error points (the key is there whenever the mode is not the default).
        let mode_at = self.push_tls.as_ref().unwrap_or(push);
        let tls = match mode {
            "starttls" => PushTls::StartTls {
                server_name: self.server_name(src, host)?,
                ca_pem: self.ca_pem(src)?,
            },
            "plain" => {
                for (key, v) in [
                    ("push_server_name", &self.push_server_name),
                    ("push_ca", &self.push_ca),
                ] {
                    if let Some(v) = v {
                        return Err(src.error(
                            v,
                            key,
                            "has no meaning with push_tls = \"plain\" (no TLS)",
                        ));
                    }
                }
                if !addr.ip().is_loopback() {
                    return Err(src.error(
                        mode_at,
                        "push_tls",
                        &format!("plain SMTP push to {addr} refused: without TLS a push may go only to a loopback address (127.0.0.0/8 or ::1); use \"starttls\""),
                    ));
                }
                PushTls::Plain
            }
            other => {
                return Err(src.error(
                    mode_at,
                    "push_tls",
                    &format!("{other:?} is not known; use \"starttls\" (the default) or \"plain\" (loopback only)"),
                ));
            }
        };
        Ok(Some(PushTarget { addr, tls }))
    }

    /// `push_server_name`, checked, or the default for `host` (the host of `push`; `None`
    /// for an IP address).
    fn server_name(&self, src: &Source<'_>, host: Option<String>) -> Result<String> {
        let Some(name) = &self.push_server_name else {
            return Ok(host.unwrap_or_else(|| DEFAULT_SERVER_NAME.to_string()));
        };
        if rustls::pki_types::ServerName::try_from(name.get_ref().as_str()).is_err() {
            return Err(src.error(
                name,
                "push_server_name",
                &format!(
                    "{:?} is neither a DNS name nor an IP address",
                    name.get_ref()
                ),
            ));
        }
        Ok(name.get_ref().clone())
    }

    /// The text of `push_ca`, read relative to the configuration file's folder; it must hold
    /// a PEM certificate.
    fn ca_pem(&self, src: &Source<'_>) -> Result<Option<String>> {
        let Some(ca) = &self.push_ca else {
            return Ok(None);
        };
        let file = src
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join(ca.get_ref());
        let text = std::fs::read_to_string(&file).map_err(|e| {
            src.error(
                ca,
                "push_ca",
                &format!("cannot read {}: {e}", file.display()),
            )
        })?;
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            bail!(src.error(
                ca,
                "push_ca",
                &format!(
                    "{} holds no PEM certificate (BEGIN CERTIFICATE)",
                    file.display()
                ),
            ));
        }
        Ok(Some(text))
    }
}

/// The socket address of `host:port` (an IP address as is, a name resolved now, the first
/// address it gives) and the host name, if it was one.
fn resolve(push: &str) -> Result<(SocketAddr, Option<String>), String> {
    if let Ok(addr) = push.parse::<SocketAddr>() {
        return Ok((addr, None));
    }
    let Some((host, port)) = push.rsplit_once(':') else {
        return Err(format!(
            "{push:?} is not host:port (e.g. \"127.0.0.1:2525\" or \"intake.example:25\")"
        ));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{push:?}: the port {port:?} is not a number from 0 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host:?} resolves to no address"))?;
    Ok((addr, Some(host.to_ascii_lowercase())))
}

#[cfg(test)]
mod tests {
    use super::super::serve::{DEMO_CONFIG, parse_config};
    use super::*;

    /// The demo configuration with `keys` added to the institution's account.
    fn with(keys: &str) -> String {
        DEMO_CONFIG.replacen(
            "access_opened = true",
            &format!("access_opened = true\n{keys}"),
            1,
        )
    }

    fn target_of(keys: &str) -> Result<Option<PushTarget>> {
        let c = parse_config(&with(keys), Path::new("x.toml"))?;
        Ok(c.provider[0].account[1].push_target.clone())
    }

    /// The error of `keys`, which must start with `x.toml:LINE:COLUMN: KEY:` at the line of
    /// `KEY`.
    fn error_of(keys: &str, key: &str) -> String {
        let text = with(keys);
        let e = format!(
            "{:#}",
            parse_config(&text, Path::new("x.toml")).unwrap_err()
        );
        let line = text
            .lines()
            .position(|l| l.starts_with(&format!("{key} =")))
            .unwrap()
            + 1;
        assert!(e.starts_with(&format!("x.toml:{line}:")), "{e}");
        assert!(e.contains(&format!(": {key}: ")), "{e}");
        e
    }

    /// Defaults: STARTTLS with the test CA; the server name is the host of `push`, or
    /// "localhost" for an IP address.
    #[test]
    fn defaults() {
        assert_eq!(target_of("").unwrap(), None);
        let t = target_of("push = \"127.0.0.1:2525\"").unwrap().unwrap();
        assert_eq!(
            t,
            PushTarget::starttls_test_ca("127.0.0.1:2525".parse().unwrap())
        );
        let t = target_of("push = \"localhost:2525\"").unwrap().unwrap();
        assert!(t.addr.ip().is_loopback() && t.addr.port() == 2525);
        assert_eq!(
            t.tls,
            PushTls::StartTls {
                server_name: "localhost".into(),
                ca_pem: None
            }
        );
        let t = target_of("push = \"127.0.0.1:2525\"\npush_server_name = \"intake.example\"")
            .unwrap()
            .unwrap();
        assert!(
            matches!(t.tls, PushTls::StartTls { server_name, .. } if server_name == "intake.example")
        );
    }

    /// Plain SMTP: accepted on loopback, refused elsewhere, never with TLS keys.
    #[test]
    fn plain_only_on_loopback() {
        let t = target_of("push = \"127.0.0.1:2525\"\npush_tls = \"plain\"")
            .unwrap()
            .unwrap();
        assert_eq!(t.tls, PushTls::Plain);
        let e = error_of("push = \"192.0.2.1:25\"\npush_tls = \"plain\"", "push_tls");
        assert!(e.contains("loopback"), "{e}");
        error_of(
            "push = \"127.0.0.1:2525\"\npush_tls = \"plain\"\npush_server_name = \"x\"",
            "push_server_name",
        );
    }

    /// Every bad value names the file, line, column and key.
    #[test]
    fn bad_values_are_located() {
        let e = error_of("push = \"127.0.0.1:2525\"\npush_tls = \"tls\"", "push_tls");
        assert!(e.contains("\"starttls\""), "{e}");
        let e = error_of(
            "push = \"127.0.0.1:2525\"\npush_ca = \"no-such-ca.pem\"",
            "push_ca",
        );
        assert!(e.contains("no-such-ca.pem"), "{e}");
        let e = error_of("push_server_name = \"intake.example\"", "push_server_name");
        assert!(e.contains("no push address"), "{e}");
        let e = error_of(
            "push = \"127.0.0.1:2525\"\npush_server_name = \"bad name!\"",
            "push_server_name",
        );
        assert!(e.contains("DNS name"), "{e}");
        let e = error_of("push = \"nowhere\"", "push");
        assert!(e.contains("host:port"), "{e}");
        error_of("push = \"localhost:99999\"", "push");
    }
}
