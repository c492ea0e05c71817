//! Webhooks of the gateway API: which URLs are accepted, and the notification POST.
//!
//! An account may register one URL (`PUT /api/v1/webhook`). Only plain `http://` URLs on the
//! loopback interface are accepted (`127.0.0.0/8`, `[::1]`, `localhost`): the test-bed never
//! sends mail data off the machine, and a provider that POSTs to arbitrary hosts would be a
//! request-forgery tool. On each new message laid into the mailbox the provider POSTs
//! `{"event":"message.stored","id":…,"mailbox":…}` once, fire-and-forget: a timeout of
//! [`TIMEOUT`], no retry, failures only logged. The notification is a hint; the listing
//! (`GET /api/v1/messages`) is the truth.
//!
//! The client is a hand-written HTTP/1.1 request over a tokio `TcpStream` (`Connection:
//! close`); it reads only the status line of the answer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use demail_wire::normalize_address;

/// The whole notification (connect, send, read the status line) must finish within this.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// A parsed, accepted webhook URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header value (as written in the URL).
    pub host: String,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl WebhookUrl {
    /// Accepts `http://<loopback host>[:port][/path][?query]`; the error says why not.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.len() > MAX_URL_LEN {
            return Err(format!("the URL is longer than {MAX_URL_LEN} characters"));
        }
        if url.chars().any(|c| c.is_control() || c == ' ') {
            return Err("the URL contains spaces or control characters".into());
        }
        let Some(rest) = strip_prefix_ignore_case(url, "http://") else {
            return Err(
                "only http:// URLs are accepted (loopback only, so no TLS is needed)".into(),
            );
        };
        if url.contains('#') {
            return Err("the URL must not have a fragment".into());
        }
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let target = if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_string()
        };
        if authority.contains('@') {
            return Err("the URL must not carry user information".into());
        }
        let (host, port) = split_host_port(authority)?;
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            bare.parse()
                .map_err(|_| format!("host {host:?} is not loopback; only 127.0.0.0/8, [::1] and localhost are accepted"))?
        };
        if !ip.is_loopback() {
            return Err(format!(
                "host {host} is not loopback; only 127.0.0.0/8, [::1] and localhost are accepted"
            ));
        }
        if port == 0 {
            return Err("port 0 is not a port one can connect to".into());
        }
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            host: authority.to_string(),
            target,
        })
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `host[:port]` or `[v6][:port]`; the port defaults to 80.
fn split_host_port(authority: &str) -> Result<(&str, u16), String> {
    if authority.is_empty() {
        return Err("the URL has no host".into());
    }
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let after = &authority[end + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => Some(p),
                    None if after.is_empty() => None,
                    None => return Err(format!("{authority:?} is not host[:port]")),
                };
                (&authority[..=end], port)
            }
            None => return Err(format!("{authority:?}: unclosed IPv6 bracket")),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|_| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("port {p:?} is not a number from 1 to 65535"))?,
    };
    Ok((host, port))
}

/// Tells the webhook at `url` (the mailbox's, as [`super::super::store::Store::webhook`] read
/// it) that `message_id` was laid into `mailbox`.
///
/// Call it **after the transaction that stored the message committed**. It does not touch the
/// store, so the caller may read the URL under the store's lock and call this after releasing
/// it. The POST runs in a spawned task and never delays or fails the caller; it needs a tokio
/// runtime (without one, it logs and does nothing).
pub(crate) fn notify_stored(url: &str, mailbox: &str, message_id: &str) {
    let mailbox = normalize_address(mailbox);
    let url = match WebhookUrl::parse(url) {
        Ok(u) => u,
        Err(why) => {
            tracing::warn!("webhook of {mailbox}: stored URL {url:?} refused: {why}");
            return;
        }
    };
    let body = serde_json::json!({
        "event": "message.stored",
        "id": message_id,
        "mailbox": mailbox,
    })
    .to_string();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("webhook of {mailbox}: no tokio runtime, notification dropped");
        return;
    };
    let message_id = message_id.to_string();
    runtime.spawn(async move {
        match tokio::time::timeout(TIMEOUT, post(&url, &body)).await {
            Ok(Ok(status)) if (200..300).contains(&status) => {
                tracing::debug!("webhook of {mailbox}: {message_id} notified ({status})");
            }
            Ok(Ok(status)) => {
                tracing::warn!("webhook of {mailbox}: {message_id}: answered {status}");
            }
            Ok(Err(e)) => tracing::warn!("webhook of {mailbox}: {message_id}: {e}"),
            Err(_) => {
                tracing::warn!("webhook of {mailbox}: {message_id}: timed out after {TIMEOUT:?}")
            }
        }
    });
}

/// One HTTP/1.1 POST of a JSON body; returns the status code of the answer.
async fn post(url: &WebhookUrl, body: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(url.addr).await?;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: demail-sim-provider\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.target,
        url.host,
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    // Only the status line matters: "HTTP/1.1 204 No Content".
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .filter(|_| line.starts_with("HTTP/"))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the webhook's answer is not HTTP",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback http URLs are accepted with a default port and path; anything that could reach
    /// another machine, or is not plain http, is refused.
    #[test]
    fn only_loopback_http_urls() {
        let u = WebhookUrl::parse("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!(u.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(u.target, "/hook?x=1");
        assert_eq!(u.host, "127.0.0.1:8080");
        let u = WebhookUrl::parse("HTTP://localhost").unwrap();
        assert_eq!(u.addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(u.target, "/");
        let u = WebhookUrl::parse("http://[::1]:9?q").unwrap();
        assert_eq!(u.addr, "[::1]:9".parse().unwrap());
        assert_eq!(u.target, "/?q");
        assert!(WebhookUrl::parse("http://127.8.9.10:1/").is_ok());
        for bad in [
            "https://127.0.0.1:1/",
            "http://10.0.0.1:1/",
            "http://example.org/",
            "http://127.0.0.1.example.org/",
            "http://user@127.0.0.1:1/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:/",
            "http://127.0.0.1:1/#frag",
            "http:///x",
            "http://[::1/",
            "http://[::2]:1/",
            "http://127.0.0.1:1/a b",
            "ftp://127.0.0.1/",
            "",
            "é",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
