//! One message in the UI (`/ui/message/{mailbox}/{id}`): its De-Mail header panel as PVD-IO
//! Tabelle 1 names the fields, the integrity verdict of `X-de-mail-integrity` with its reason
//! (verified against the provider's test CA) and the rule violations, both from the De-Mail
//! view `inspect` prints ([`demail_wire::inspect`]); the confirmations and Meldungen about it
//! (their In-Reply-To is its Message-ID) and, for those, the message they answer; the text;
//! the PDF a confirmation carries (`…/pdf`, shown in a frame); and the raw `.eml` (`…/raw`, as
//! stored).

use std::fmt::Write as _;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use demail_wire::headers::{RawMessage, header_block};
use demail_wire::inspect::{Report, inspect};
use demail_wire::table1::{Presence, TABLE_1};
use demail_wire::{MessageType, h};

use super::html::{self, esc, time};
use super::*;
use crate::store::MessageSummary;

/// At most this many characters of a message's text are shown (the `.eml` has all).
const TEXT_CHARS: usize = 100_000;

/// `GET /ui/message/{mailbox}/{id}`.
pub(super) async fn view(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    blocking(move || view_page(&shared, path)).await
}

/// `GET /ui/message/{mailbox}/{id}/raw`: the message exactly as stored, as a download.
pub(super) async fn raw(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    blocking(move || {
        with_stored(&shared, path, |id, bytes| {
            let name: String = id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._@-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .take(100)
                .collect();
            let disposition = format!("attachment; filename=\"{name}.eml\"");
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "message/rfc822")],
                bytes,
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        })
    })
    .await
}

/// The stored message the path names, handed to `found` with its id; 400, 404 or the storage
/// error otherwise.
fn with_stored(
    shared: &Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    found: impl FnOnce(&str, Vec<u8>) -> Response,
) -> Response {
    let Ok(Path((mailbox, id))) = path else {
        return error_page(shared, StatusCode::BAD_REQUEST, "The path cannot be read.");
    };
    let stored = lock(&shared.store).message_raw(&mailbox, &id);
    match stored {
        Ok(Some(bytes)) => found(&id, bytes),
        Ok(None) => not_held(shared, &mailbox, &id),
        Err(e) => storage_error(shared, "reading a message", e),
    }
}

/// `GET /ui/message/{mailbox}/{id}/pdf`: the message's PDF part (a confirmation's PDF of the
/// same content, PVD-IO §3.4.1), shown in the message page's frame.
pub(super) async fn pdf(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    blocking(move || {
        with_stored(&shared, path, |_, bytes| match pdf_part(&bytes) {
            Some(pdf) => pdf_response(pdf),
            None => error_page(
                &shared,
                StatusCode::NOT_FOUND,
                "The message has no PDF part (none of type application/pdf that starts with %PDF-).",
            ),
        })
    })
    .await
}

/// The first `application/pdf` part of a message, decoded, if it is a PDF (starts with
/// `%PDF-`); anything else is not served as a PDF.
pub fn pdf_part(bytes: &[u8]) -> Option<Vec<u8>> {
    use mail_parser::MimeHeaders as _;
    let parsed = mail_parser::MessageParser::default().parse(bytes)?;
    parsed
        .parts
        .iter()
        .filter(|p| {
            p.content_type().is_some_and(|c| {
                c.ctype().eq_ignore_ascii_case("application")
                    && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("pdf"))
            })
        })
        .map(|p| p.contents())
        .find(|c| c.starts_with(b"%PDF-"))
        .map(<[u8]>::to_vec)
}

/// A PDF as an answer to be shown in a frame of this origin: `inline`, no sniffing, framing by
/// this origin only (the pages themselves refuse every frame). No other CSP directive: a
/// policy that forbids plugins would keep the browser's PDF viewer from showing it.
pub fn pdf_response(pdf: Vec<u8>) -> Response {
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/pdf")],
        pdf,
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=\"bestaetigung.pdf\""),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'self'"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    r
}

fn not_held(shared: &Shared, mailbox: &str, id: &str) -> Response {
    error_page(
        shared,
        StatusCode::NOT_FOUND,
        &format!("The mailbox {mailbox} holds no message with X-de-mail-message-id {id}."),
    )
}

fn view_page(shared: &Shared, path: Result<Path<(String, String)>, PathRejection>) -> Response {
    let Ok(Path((mailbox, id))) = path else {
        return error_page(shared, StatusCode::BAD_REQUEST, "The path cannot be read.");
    };
    let (summary, bytes) = {
        let store = lock(&shared.store);
        (
            store.message_summary(&mailbox, &id),
            store.message_raw(&mailbox, &id),
        )
    };
    let (summary, bytes) = match (summary, bytes) {
        (Ok(Some(s)), Ok(Some(b))) => (s, b),
        (Ok(_), Ok(_)) => return not_held(shared, &mailbox, &id),
        (Err(e), _) | (_, Err(e)) => return storage_error(shared, "reading a message", e),
    };
    let related = match related(shared, &summary) {
        Ok(r) => r,
        Err(e) => return storage_error(shared, "looking up related messages", e),
    };
    let tz = shared.clock.time_zone();
    let mut main = String::new();
    let subject = if summary.subject.trim().is_empty() {
        "(ohne Betreff / no subject)".to_string()
    } else {
        summary.subject.clone()
    };
    let _ = writeln!(main, "<h1 id=\"subject\">{}</h1>", esc(&subject));
    let parsed = RawMessage::parse(&bytes);
    let mut kind = html::message_type_label(summary.message_type).to_string();
    if let Ok(raw) = &parsed
        && summary.message_type == MessageType::Notification
        && let Some(t) = raw.first(h::NOTIFICATION_TYPE)
    {
        kind = format!("{kind}: {t}");
    }
    let _ = writeln!(
        main,
        "<dl class=\"facts\">\
         <dt>Typ (type)</dt><dd id=\"type\">{kind}</dd>\
         <dt>Postfach (mailbox)</dt><dd><a href=\"{mhref}\">{mailbox}</a></dd>\
         <dt>Eingang</dt><dd>{eingang}</dd>\
         <dt>Von (from)</dt><dd>{from}</dd>\
         <dt>Abgeholt (acknowledged)</dt><dd>{acked}</dd>\
         <dt>Größe (size)</dt><dd>{size} bytes</dd>\
         <dt>Rohdaten (raw)</dt><dd><a id=\"raw-link\" href=\"{rhref}/raw\" download>.eml herunterladen (download)</a></dd>\
         </dl>",
        kind = esc(&kind),
        mhref = esc(&html::mailbox_href(&summary.mailbox)),
        mailbox = esc(&summary.mailbox),
        eingang = esc(&time(summary.stored_at, tz)),
        from = esc(&summary.from),
        acked = summary
            .acknowledged_at
            .map_or_else(|| "nein (no)".into(), |t| esc(&time(t, tz))),
        size = summary.size,
        rhref = esc(&html::message_href(&summary.mailbox, &summary.message_id)),
    );
    match &parsed {
        Ok(raw) => {
            let cas = [shared.ca_der.clone()];
            let report = inspect(raw, &bytes, Some(&cas));
            verdict_section(&mut main, &report);
            related_section(&mut main, shared, &summary, &related, &report);
            header_panel(&mut main, raw, summary.message_type, &report);
            let pdf = format!(
                "{}/pdf",
                html::message_href(&summary.mailbox, &summary.message_id)
            );
            acknowledge_section(&mut main, &report, &pdf);
        }
        Err(e) => unreadable(&mut main, &e.to_string()),
    }
    text_section(&mut main, &bytes);
    html_response(
        StatusCode::OK,
        html::page(&shared.config.name, &stamp(shared), &subject, &main),
    )
}

/// A message's De-Mail view without the provider's store around it (the run view of
/// `demail-testbed view` renders a run folder's `.eml` files with it): the integrity verdict
/// against `ca_der` (the run's test CA), the header panel of PVD-IO Tabelle 1, a
/// confirmation's Acknowledge-Message with its PDF in a frame from `pdf_href` and the text.
/// HTML, every value escaped.
pub fn sections(bytes: &[u8], ca_der: Option<&[u8]>, pdf_href: &str) -> String {
    let mut main = String::new();
    match RawMessage::parse(bytes) {
        Ok(raw) => {
            let cas: Vec<Vec<u8>> = ca_der.map(|c| vec![c.to_vec()]).unwrap_or_default();
            let report = inspect(&raw, bytes, ca_der.map(|_| cas.as_slice()));
            let t = raw
                .first(h::MESSAGE_TYPE)
                .and_then(|v| MessageType::parse(&v))
                .unwrap_or(MessageType::Normal);
            verdict_section(&mut main, &report);
            header_panel(&mut main, &raw, t, &report);
            acknowledge_section(&mut main, &report, pdf_href);
        }
        Err(e) => unreadable(&mut main, &e.to_string()),
    }
    text_section(&mut main, bytes);
    main
}

/// The verdict box of a message whose header cannot be read.
fn unreadable(main: &mut String, why: &str) {
    let _ = writeln!(
        main,
        "<div class=\"verdict invalid\" id=\"integrity\"><strong class=\"invalid\">\
         Der Kopf ist nicht lesbar (the header cannot be read)</strong>: {}</div>",
        esc(why)
    );
}

/// The integrity verdict and the rule violations.
fn verdict_section(main: &mut String, report: &Report) {
    if report.side == demail_wire::inspect::Side::Client {
        // A citizen's submission as it crossed the wire to the provider (a run folder's
        // messages): no seal yet, judged by what a client may write.
        let _ = writeln!(
            main,
            "<div class=\"verdict\" id=\"integrity\"><strong>Einreichung (client submission)\
             </strong>: as the citizen's program sent it, before the provider stamped and sealed \
             it (PVD-IO §3.1.21); the provider's copy carries the seal.</div>"
        );
    } else {
        provider_verdict(main, report);
    }
    violations_section(main, report);
}

fn provider_verdict(main: &mut String, report: &Report) {
    let (class, word) = if report.integrity_valid {
        ("valid", "gültig (valid)")
    } else {
        ("invalid", "ungültig (invalid)")
    };
    let _ = writeln!(
        main,
        "<div class=\"verdict {class}\" id=\"integrity\"><strong class=\"{class}\">\
         Integritätssicherung (X-de-mail-integrity, PVD-IO §3.1.21): {word}</strong><br>\
         <span class=\"reason\">{}</span><br><span class=\"muted\">Checked against this \
         provider's test CA.</span></div>",
        esc(&report.integrity)
    );
}

fn violations_section(main: &mut String, report: &Report) {
    if !report.violations.is_empty() {
        let _ = writeln!(
            main,
            "<h2>Regelverstöße (rule violations, PVD-IO Tabelle 1)</h2>\n<ul class=\"problems\" id=\"violations\">"
        );
        for v in &report.violations {
            let _ = writeln!(main, "<li>{}</li>", esc(v));
        }
        main.push_str("</ul>\n");
    }
    if !report.unknown_headers.is_empty() {
        main.push_str("<h2>Unbekannte X-de-mail-Felder (unknown X-de-mail-* fields, kept)</h2>\n<ul class=\"notes\">");
        for v in &report.unknown_headers {
            let _ = writeln!(main, "<li><code>{}</code></li>", esc(v));
        }
        main.push_str("</ul>\n");
    }
}

/// The messages this one is about, and those about it.
struct Related {
    /// The copies of the message this one answers (its In-Reply-To).
    answers: Vec<MessageSummary>,
    /// Confirmations, Meldungen and replies whose In-Reply-To is this message's Message-ID.
    about: Vec<MessageSummary>,
}

fn related(shared: &Shared, m: &MessageSummary) -> anyhow::Result<Related> {
    let store = lock(&shared.store);
    let answers = match &m.in_reply_to {
        Some(id) => store.messages_with_id(id)?,
        None => Vec::new(),
    };
    let mut about = match &m.rfc_message_id {
        Some(id) => store.replies_to(id)?,
        None => Vec::new(),
    };
    about.retain(|r| r.seq != m.seq);
    Ok(Related { answers, about })
}

fn related_item(out: &mut String, shared: &Shared, r: &MessageSummary) {
    let _ = writeln!(
        out,
        "<li><a href=\"{href}\">{kind}</a> in {mailbox} · Eingang {at} · {subject}{pid}</li>",
        href = esc(&html::message_href(&r.mailbox, &r.message_id)),
        kind = html::message_type_label(r.message_type),
        mailbox = esc(&r.mailbox),
        at = esc(&time(r.stored_at, shared.clock.time_zone())),
        subject = esc(&r.subject),
        pid = r
            .private_id
            .as_deref()
            .map_or_else(String::new, |p| format!(
                " · private-id <code>{}</code>",
                esc(p)
            )),
    );
}

fn related_section(
    main: &mut String,
    shared: &Shared,
    m: &MessageSummary,
    related: &Related,
    report: &Report,
) {
    main.push_str("<h2>Bezug (related messages)</h2>\n");
    if let Some(irt) = &m.in_reply_to {
        main.push_str("<p>Bezieht sich auf (refers to, In-Reply-To):</p>\n<ul id=\"refers-to\">");
        if related.answers.is_empty() {
            let _ = writeln!(
                main,
                "<li class=\"muted\">{} — not held by this provider (sent from or to another provider){}</li>",
                esc(irt),
                report
                    .private_id
                    .as_deref()
                    .map_or_else(String::new, |p| format!(
                        "; private-id <code>{}</code>",
                        esc(p)
                    ))
            );
        }
        for r in &related.answers {
            related_item(main, shared, r);
        }
        main.push_str("</ul>\n");
    }
    if m.message_type == MessageType::Normal || !related.about.is_empty() {
        main.push_str(
            "<p>Bestätigungen und Meldungen dazu (confirmations and notifications about it):</p>\n<ul id=\"about\">",
        );
        if related.about.is_empty() {
            main.push_str("<li class=\"muted\">keine (none at this provider)</li>");
        }
        for r in &related.about {
            related_item(main, shared, r);
        }
        main.push_str("</ul>\n");
    }
}

/// The De-Mail header panel: the rows of PVD-IO Tabelle 1 the message carries, and the ones
/// its type requires but it lacks.
fn header_panel(main: &mut String, raw: &RawMessage, t: MessageType, report: &Report) {
    let column = match t {
        MessageType::Normal => 0,
        MessageType::Notification => 2,
        _ => 1,
    };
    main.push_str(
        "<h2>De-Mail-Kopf (De-Mail header, PVD-IO Tabelle 1)</h2>\n\
         <table id=\"demail-headers\"><thead><tr><th>Nr.</th><th>Feld (field)</th>\
         <th>Bedeutung (meaning)</th><th>Wert (value)</th></tr></thead>\n<tbody>\n",
    );
    for row in &TABLE_1 {
        let value = if row.name == "subject" {
            raw.subject()
        } else {
            raw.first(row.name)
        };
        let nr = row.nr.map_or_else(|| "—".to_string(), |n| n.to_string());
        let label = html::field_label(row.name).unwrap_or("");
        match value {
            Some(v) => {
                let n = raw.count(row.name);
                let times = if n > 1 {
                    format!(" <span class=\"tag\">{n}× — the first counts</span>")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    main,
                    "<tr data-field=\"{name}\"><td>{nr}</td><td><code>{spelled}</code></td><td>{label}</td><td>{value}{times}</td></tr>",
                    name = row.name,
                    spelled = row.spelled,
                    value = html::value_cell(&v),
                );
            }
            // A client submission lacks the provider's fields by nature.
            None if row.presence[column] == Presence::Must
                && report.side == demail_wire::inspect::Side::Provider =>
            {
                let _ = writeln!(
                    main,
                    "<tr class=\"missing\" data-field=\"{name}\"><td>{nr}</td><td><code>{spelled}</code></td><td>{label}</td><td>fehlt (missing; required for this type)</td></tr>",
                    name = row.name,
                    spelled = row.spelled,
                );
            }
            None => {}
        }
    }
    main.push_str("</tbody></table>\n<p class=\"muted\">Optional fields the message does not carry are not listed.</p>\n");
}

/// A confirmation's Acknowledge-Message (PVD-IO Tabelle 23/24) and its PDF (PVD-IO §3.4.1: the
/// same content as a PDF), shown in a frame from `pdf_href`.
fn acknowledge_section(main: &mut String, report: &Report, pdf_href: &str) {
    let Some(a) = &report.acknowledge else {
        return;
    };
    main.push_str("<h2>Acknowledge-Message (Bestätigungsinhalt, PVD-IO Tabelle 23/24)</h2>\n<dl class=\"facts\" id=\"acknowledge\">");
    for (name, value) in [
        ("Absender (sender)", &a.sender),
        ("Betreff (subject)", &a.subject),
        ("Text", &a.text),
        ("Hashwert (hash)", &a.hash),
        ("Zeit (time)", &a.time),
        ("Zustellzeit (delivery time)", &a.delivery_time),
    ] {
        if let Some(v) = value {
            let _ = write!(main, "<dt>{name}</dt><dd>{}</dd>", html::value_cell(v));
        }
    }
    for (name, value) in &a.metadata {
        let _ = write!(
            main,
            "<dt>{}</dt><dd>{}</dd>",
            esc(name),
            html::value_cell(value)
        );
    }
    main.push_str("</dl>\n");
    if report.has_pdf {
        let _ = writeln!(
            main,
            "<h3>PDF der Bestätigung (the confirmation as PDF)</h3>\n\
             <iframe id=\"pdf\" class=\"pdf\" src=\"{href}\" title=\"PDF der Bestätigung\"></iframe>\n\
             <p class=\"muted\"><a id=\"pdf-link\" href=\"{href}\">PDF öffnen (open the PDF)</a></p>",
            href = esc(pdf_href)
        );
    } else {
        main.push_str("<p class=\"muted\">Kein PDF-Teil (no PDF part).</p>\n");
    }
}

/// The message's first text part and its header block as sent.
fn text_section(main: &mut String, bytes: &[u8]) {
    let parsed = mail_parser::MessageParser::default().parse(bytes);
    let text = parsed
        .as_ref()
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()));
    main.push_str("<h2>Text</h2>\n");
    match text {
        Some(t) => {
            let cut: String = t.chars().take(TEXT_CHARS).collect();
            let more = if cut.len() < t.len() {
                "\n[… cut; the .eml has the whole text]"
            } else {
                ""
            };
            let _ = writeln!(main, "<pre id=\"text\">{}{more}</pre>", esc(&cut));
        }
        None => main.push_str("<p class=\"muted\">Kein Textteil (no text part).</p>\n"),
    }
    let head = String::from_utf8_lossy(header_block(bytes));
    let _ = writeln!(
        main,
        "<details id=\"raw-header\"><summary>Kopf wie gespeichert (header block as stored)</summary><pre>{}</pre></details>",
        esc(&head)
    );
}
