//! The UI's list pages: the accounts with their directory entries (ÖVD, IT-BInfra-IO §6.2)
//! and mailboxes (`/ui/`), a mailbox's messages with the De-Mail columns
//! (`/ui/mailbox/{address}`), and the push queue (`/ui/deliveries`).

use std::fmt::Write as _;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::Uri;
use demail_wire::headers::RawMessage;
use demail_wire::integrity::{self, VerifyOptions};
use demail_wire::{DeMailOption, MessageType, h, normalize_address, parse_option};

use super::html::{self, esc, time};
use super::*;
use crate::delivery::PushTls;
use crate::store::{DeliveryState, UiMessage};

/// Messages per page of a mailbox list.
pub const PAGE: usize = 100;
/// Jobs shown on the push queue page (the newest).
pub const QUEUE_ROWS: usize = 200;

/// `GET /ui/`: every account with its directory entry, push target and message counts.
pub(super) async fn accounts(State(shared): State<Arc<Shared>>) -> Response {
    blocking(move || accounts_page(&shared)).await
}

fn accounts_page(shared: &Shared) -> Response {
    let (accounts, counts, closed) = {
        let store = lock(&shared.store);
        let accounts = store.accounts();
        let counts = match store.mailbox_counts() {
            Ok(c) => c,
            Err(e) => return storage_error(shared, "counting messages", e),
        };
        let closed: Vec<bool> = accounts
            .iter()
            .map(|a| store.closed_at(&a.config.address).ok().flatten().is_some())
            .collect();
        (accounts, counts, closed)
    };
    let mut rows = String::new();
    for (a, closed) in accounts.iter().zip(closed) {
        let address = normalize_address(&a.config.address);
        let (all, open) = counts.get(&address).copied().unwrap_or((0, 0));
        let push = match &a.push_target {
            None => "—".to_string(),
            Some(t) => match &t.tls {
                PushTls::Plain => format!("{} (plain SMTP)", t.addr),
                PushTls::StartTls { server_name, .. } => {
                    format!("{} (STARTTLS, {server_name})", t.addr)
                }
            },
        };
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"{href}\">{addr}</a>{closed}</td><td>{holder}</td><td>{kind}</td>\
             <td>{level}</td><td>{opened}</td><td>{push}</td><td class=\"num\">{open} / {all}</td>\
             <td><a href=\"/directory/v1/entries/{seg}\">JSON</a></td></tr>",
            href = esc(&html::mailbox_href(&address)),
            addr = esc(&address),
            closed = if closed {
                " <span class=\"tag\">vollständig gesperrt (closed)</span>"
            } else {
                ""
            },
            holder = esc(&a.config.holder),
            kind = match a.config.kind {
                crate::AccountKind::Person => "Person",
                crate::AccountKind::Institution => "Institution",
            },
            level = a.config.max_auth_level.as_str().to_ascii_uppercase(),
            opened = if a.config.access_opened {
                "ja (yes)"
            } else {
                "nein (no)"
            },
            push = esc(&push),
            seg = esc(&html::seg(&address)),
        );
    }
    let main = format!(
        "<h1>Konten und Postfächer (accounts and mailboxes)</h1>\n\
         <p class=\"muted\">Provider {name} ({domain}). Directory columns as the ÖVD publishes \
         them (IT-BInfra-IO §6.2).</p>\n\
         <table id=\"accounts\"><thead><tr><th>Adresse (address)</th><th>Inhaber (holder)</th>\
         <th>Art (kind)</th><th>demailMaxAuthLevel</th><th>demailAccessOpening<br>\
         Zugang eröffnet</th><th>Push</th><th>offen / alle (open / all)</th>\
         <th>Verzeichnis (directory)</th></tr></thead>\n<tbody>\n{rows}</tbody></table>",
        name = esc(&shared.config.name),
        domain = esc(&shared.config.domain),
    );
    html_response(
        StatusCode::OK,
        html::page(
            &shared.config.name,
            &stamp(shared),
            "Konten (accounts)",
            &main,
        ),
    )
}

/// Reads `?before=N` of a mailbox list; nothing else is accepted.
fn parse_before(query: Option<&str>) -> Result<Option<i64>, String> {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    let value = q
        .strip_prefix("before=")
        .ok_or("the only query parameter is before=<position>")?;
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && value.bytes().all(|b| b.is_ascii_digit()))
        .map(Some)
        .ok_or_else(|| "before= must be a positive whole number".to_string())
}

/// The verdict of a message's seal for a list cell.
pub(super) fn seal_cell(shared: &Shared, m: &UiMessage, raw: Option<&RawMessage>) -> String {
    let Some(raw) = raw.filter(|_| m.whole) else {
        return "<span class=\"seal unchecked\" title=\"larger than 1 MiB: checked on the message's page\">—</span>".into();
    };
    let cas = [shared.ca_der.clone()];
    let verdict = integrity::verify_with(
        raw,
        &VerifyOptions {
            trusted_cas: Some(&cas),
            at_unix: None,
        },
    );
    let (class, word) = if verdict.is_valid() {
        ("valid", "gültig (valid)")
    } else {
        ("invalid", "ungültig (invalid)")
    };
    format!(
        "<span class=\"seal {class}\" title=\"{}\">{word}</span>",
        esc(&verdict.to_string())
    )
}

/// The options set to "yes", as short German tags.
pub(super) fn option_tags(raw: &RawMessage) -> String {
    let mut out = String::new();
    for o in DeMailOption::ALL {
        if parse_option(o.header(), raw.first(o.header()).as_deref()) == Ok(true) {
            let _ = write!(
                out,
                "<span class=\"tag\" title=\"{}\">{}</span>",
                o.header(),
                html::option_short(o.header())
            );
        }
    }
    out
}

/// `GET /ui/mailbox/{address}`: the mailbox's messages, newest first, [`PAGE`] at a time.
pub(super) async fn mailbox(
    State(shared): State<Arc<Shared>>,
    address: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    blocking(move || mailbox_page(&shared, address, &uri)).await
}

fn mailbox_page(
    shared: &Shared,
    address: Result<Path<String>, PathRejection>,
    uri: &Uri,
) -> Response {
    let Ok(Path(address)) = address else {
        return error_page(
            shared,
            StatusCode::BAD_REQUEST,
            "The address cannot be read.",
        );
    };
    let before = match parse_before(uri.query()) {
        Ok(b) => b,
        Err(why) => return error_page(shared, StatusCode::BAD_REQUEST, &why),
    };
    let address = normalize_address(&address);
    let (account, page) = {
        let store = lock(&shared.store);
        (
            store.account(&address),
            store.ui_messages(&address, before, PAGE + 1),
        )
    };
    let Some(account) = account else {
        return error_page(
            shared,
            StatusCode::NOT_FOUND,
            &format!("This provider has no account {address}."),
        );
    };
    let mut page = match page {
        Ok(p) => p,
        Err(e) => return storage_error(shared, "listing a mailbox", e),
    };
    let more = page.len() > PAGE;
    page.truncate(PAGE);
    let tz = shared.clock.time_zone();
    let mut rows = String::new();
    for m in &page {
        let s = &m.summary;
        let raw = RawMessage::parse(&m.raw).ok();
        let level = raw
            .as_ref()
            .and_then(|r| r.first(h::AUTH_LEVEL))
            .unwrap_or_default();
        let mut kind = html::message_type_short(s.message_type).to_string();
        if s.message_type == MessageType::Notification
            && let Some(t) = raw.as_ref().and_then(|r| r.first(h::NOTIFICATION_TYPE))
        {
            kind = format!("{kind}: {t}");
        }
        let _ = writeln!(
            rows,
            "<tr class=\"{class}\" data-seq=\"{seq}\"><td>{eingang}</td><td>{kind}</td><td>{from}</td>\
             <td><a href=\"{href}\">{subject}</a></td><td>{options}</td><td>{level}</td>\
             <td>{pid}</td><td>{seal}</td><td>{acked}</td></tr>",
            class = if s.acknowledged_at.is_some() {
                "acked"
            } else {
                "open"
            },
            seq = s.seq,
            eingang = esc(&time(s.stored_at, tz)),
            kind = esc(&kind),
            from = esc(&s.from),
            href = esc(&html::message_href(&s.mailbox, &s.message_id)),
            subject = if s.subject.trim().is_empty() {
                "(ohne Betreff / no subject)".to_string()
            } else {
                esc(&s.subject)
            },
            options = raw.as_ref().map(option_tags).unwrap_or_default(),
            level = esc(&level),
            pid = esc(s.private_id.as_deref().unwrap_or("")),
            seal = seal_cell(shared, m, raw.as_ref()),
            acked = match s.acknowledged_at {
                Some(t) => esc(&time(t, tz)),
                None => "—".into(),
            },
        );
    }
    let pager = match (more, page.last()) {
        (true, Some(last)) => format!(
            "<p class=\"pager\"><a href=\"{}?before={}\">ältere (older) →</a></p>",
            esc(&html::mailbox_href(&address)),
            last.summary.seq
        ),
        _ => String::new(),
    };
    let empty = if page.is_empty() {
        "<p class=\"muted\" id=\"empty\">Keine Nachrichten (no messages yet). New ones appear here without a reload.</p>"
    } else {
        ""
    };
    let main = format!(
        "<h1>Postfach (mailbox) {address}</h1>\n\
         <p class=\"muted\">{holder} · newest first · Eingang = when the provider laid the message \
         into the mailbox (PVD-FU §3.3) · Abgeholt = acknowledged over the gateway API or POP3</p>\n\
         <table id=\"messages\"><thead><tr><th>Eingang</th><th>Typ (type)</th><th>Von (from)</th>\
         <th>Betreff (subject)</th><th>Optionen (options)</th><th>Niveau (auth level)</th>\
         <th>Private-ID</th><th>Siegel (seal)</th><th>Abgeholt (acknowledged)</th></tr></thead>\n\
         <tbody>\n{rows}</tbody></table>\n{empty}{pager}",
        address = esc(&address),
        holder = esc(&account.config.holder),
    );
    html_response(
        StatusCode::OK,
        html::page(&shared.config.name, &stamp(shared), &address, &main),
    )
}

/// The German name of a delivery state with its English gloss.
fn state_label(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Pending => "wird zugestellt (pending)",
        DeliveryState::Retry => "neuer Versuch geplant (retry)",
        DeliveryState::Delivered => "zugestellt (delivered)",
        DeliveryState::Failed => "gescheitert (failed)",
    }
}

/// `GET /ui/deliveries`: the newest [`QUEUE_ROWS`] jobs of the push queue (pushes into
/// intakes and hand-overs to peer providers).
pub(super) async fn deliveries(State(shared): State<Arc<Shared>>) -> Response {
    blocking(move || deliveries_page(&shared)).await
}

fn deliveries_page(shared: &Shared) -> Response {
    let jobs = lock(&shared.store).latest_deliveries(QUEUE_ROWS);
    let jobs = match jobs {
        Ok(j) => j,
        Err(e) => return storage_error(shared, "reading the delivery queue", e),
    };
    let tz = shared.clock.time_zone();
    let t = |t: Option<jiff::Timestamp>| t.map_or_else(|| "—".to_string(), |t| esc(&time(t, tz)));
    let mut rows = String::new();
    for j in &jobs {
        let push = shared.hosts(&j.mailbox);
        let message = if push {
            format!(
                "<a href=\"{}\">{}</a>",
                esc(&html::message_href(&j.mailbox, &j.message_id)),
                esc(&j.message_id)
            )
        } else {
            esc(&j.message_id)
        };
        let _ = writeln!(
            rows,
            "<tr><td>{id}</td><td>{kind}</td><td>{mailbox}</td><td>{message}</td><td>{target}</td>\
             <td class=\"state-{state_class}\">{state}</td><td>{attempts}</td><td>{queued}</td>\
             <td>{next}</td><td>{delivered}</td><td>{due}</td><td>{last}</td></tr>",
            id = j.id,
            kind = if push {
                "Push (into the intake)"
            } else {
                "Übergabe (hand-over to a provider)"
            },
            mailbox = esc(&j.mailbox),
            target = esc(&j.target),
            state_class = j.state.as_str(),
            state = state_label(j.state),
            attempts = j.attempts,
            queued = t(j.queued_at),
            next = t(j.next_attempt_at),
            delivered = t(j.delivered_at),
            due = t(j.due_at),
            last = j.last_error.as_deref().map_or_else(|| "—".into(), esc),
        );
    }
    let empty = if jobs.is_empty() {
        "<p class=\"muted\">The queue is empty: no mailbox of this provider is pushed, or nothing was sent yet.</p>"
    } else {
        ""
    };
    let main = format!(
        "<h1>Zustellwarteschlange (push queue)</h1>\n\
         <p class=\"muted\">Newest first, at most {QUEUE_ROWS}. Retries after 5, 10, 20, 40 min, then \
         hourly, for 24 h; Frist = the PVD-FU §4.2 limit (docs/delivery.md). The same data as JSON: \
         <a href=\"/testbed/deliveries\">/testbed/deliveries</a>.</p>\n\
         <table id=\"deliveries\"><thead><tr><th>Nr.</th><th>Art (kind)</th><th>Postfach (mailbox)</th>\
         <th>Nachricht (message)</th><th>Ziel (target)</th><th>Zustand (state)</th>\
         <th>Versuche (attempts)</th><th>eingereiht (queued)</th><th>nächster Versuch (next retry)</th>\
         <th>zugestellt (delivered)</th><th>Frist (limit)</th><th>letzte Antwort (last reply)</th>\
         </tr></thead>\n<tbody>\n{rows}</tbody></table>\n{empty}"
    );
    html_response(
        StatusCode::OK,
        html::page(
            &shared.config.name,
            &stamp(shared),
            "Zustellwarteschlange (push queue)",
            &main,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list's only parameter is read strictly.
    #[test]
    fn before_is_read_strictly() {
        assert_eq!(parse_before(None), Ok(None));
        assert_eq!(parse_before(Some("")), Ok(None));
        assert_eq!(parse_before(Some("before=12")), Ok(Some(12)));
        for bad in [
            "before=",
            "before=-1",
            "before=0",
            "before=+1",
            "x=1",
            "before=1&x=2",
        ] {
            assert!(parse_before(Some(bad)).is_err(), "{bad}");
        }
    }
}
