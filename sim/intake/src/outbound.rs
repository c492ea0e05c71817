//! The intake's outgoing mail: replies to cases (Empfangsbescheinigung, or a notice of a form
//! defect), Bescheide and notices of the Zustellungsfiktion, submitted to the provider over SMTP
//! submission with STARTTLS and AUTH PLAIN (lettre) as the Funktionspostfach they belong to.
//!
//! The Empfangsbescheinigung (certificate of receipt; for a Gewerbeanzeige § 15 Abs. 1 GewO)
//! names the Aktenzeichen and carries a machine-readable attachment
//! `empfangsbescheinigung.json`: `{"aktenzeichen", "procedure", "received_at",
//! "binding", "deadlines": [{"rule", "title", "kind", "date", "sources"}]}`
//! (documented in `docs/intake.md`).

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use jiff::Timestamp;
use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use serde_json::json;

use super::{Case, Intake, Verdict, berlin, service};
use demail_core::clock::format_rfc5322;
use demail_core::sync::lock;
use demail_core::trace::EventKind;
use demail_wire::compose::{Draft, mailbox};
use demail_wire::multipart::{Part, multipart_mixed};
use demail_wire::{DeMailOption, h};

/// A message the intake sends.
pub(crate) struct Letter<'a> {
    /// The Funktionspostfach it is sent from.
    pub from: &'a str,
    pub to: &'a str,
    pub subject: String,
    /// RFC 5322 Message-ID with angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<&'a str>,
    /// X-de-mail-private-id: the Aktenzeichen, so confirmations can be filed.
    pub private_id: &'a str,
    /// Options set to "yes".
    pub options: &'a [DeMailOption],
    pub body: String,
    /// Attachments (file name, content type, bytes).
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// Submits every reply due at `now`, oldest first. Returns how many went out.
pub(crate) async fn send_due(intake: &Intake, now: Timestamp) -> usize {
    let due: Vec<(usize, Case)> = {
        let mut state = lock(&intake.state);
        state
            .cases
            .with_work()
            .filter(|(_, c)| !c.replied && c.reply_due <= now)
            .map(|(i, c)| (i, c.clone()))
            .collect()
    };
    let mut sent = 0;
    for (i, case) in due {
        let (letter, kind) = reply_letter(intake, &case, now);
        let result = submit(intake, &letter, now).await;
        let mut state = lock(&intake.state);
        match result {
            Ok(()) => {
                state.cases[i].replied = true;
                state.cases[i].last_error = None;
                state.events.push(EventKind::IntakeAcknowledged {
                    aktenzeichen: case.aktenzeichen.clone(),
                    reply: kind.into(),
                    deadlines: case.deadlines.iter().map(|d| d.label()).collect(),
                });
                if letter
                    .options
                    .contains(&DeMailOption::ConfirmationOfRetrieve)
                {
                    service::track(
                        &mut state,
                        &case.aktenzeichen,
                        &case.citizen,
                        &letter.message_id,
                        now,
                        None,
                    );
                }
                sent += 1;
            }
            Err(e) => state.cases[i].last_error = Some(format!("{e:#}")),
        }
    }
    sent
}

/// The reply for a case and its kind ("empfangsbescheinigung" or "formmangel").
pub(crate) fn reply_letter<'a>(
    intake: &'a Intake,
    case: &'a Case,
    _now: Timestamp,
) -> (Letter<'a>, &'static str) {
    let cfg = &intake.config;
    let file = &cfg.file;
    let sender_name = file
        .mailbox(&case.mailbox)
        .map_or(file.city.name.as_str(), |m| m.name.as_str());
    let procedure = file.procedure(&case.procedure);
    let title = procedure.map_or("Anfrage", |p| p.title.as_str());
    let received = case
        .received_at
        .to_zoned_datetime(berlin())
        .strftime("%d.%m.%Y um %H:%M Uhr")
        .to_string();
    let private_id = case.private_id.as_deref().unwrap_or("-");
    let (subject, body, kind, attachments) = match &case.verdict {
        Verdict::Accepted => {
            let basis = procedure.map_or("", |p| p.legal_basis.as_str());
            let mut body = format!(
                "Sehr geehrte Damen und Herren,\n\n\
                 hiermit bescheinigen wir den Empfang Ihrer Nachricht ({title}, {basis}).\n\n\
                 Eingegangen am: {received}\n\
                 Betreff:        {}\n\
                 Aktenzeichen:   {}\n\
                 Ihre Kennung:   {private_id}\n",
                case.subject, case.aktenzeichen,
            );
            if !case.deadlines.is_empty() {
                body.push_str("\nFristen, die mit dem Eingang beginnen:\n");
                for d in &case.deadlines {
                    body.push_str(&format!("- {} ({}): {}\n", d.title, d.kind, d.date));
                }
            }
            if procedure.is_some_and(|p| p.bescheid.is_some()) {
                // § 5a Abs. 4 Satz 3 VwZG: the recipient is told of the legal consequences
                // before the document is transmitted.
                body.push_str(
                    "\nBelehrung (§ 5a Abs. 4 Satz 3 VwZG): Den Bescheid stellen wir Ihnen per \
                     De-Mail gegen Abholbestätigung zu. Holen Sie ihn nicht ab, gilt er am \
                     vierten Tag nach der Absendung als zugestellt (bis 31.12.2024: am dritten \
                     Tag), es sei denn, Sie weisen nach, dass er nicht oder später zugegangen \
                     ist.\n",
                );
            }
            body.push_str(&format!("\nMit freundlichen Grüßen\n{sender_name}\n"));
            let receipt = json!({
                "aktenzeichen": case.aktenzeichen,
                "procedure": case.procedure,
                "received_at": case.received_at.to_zoned_datetime(berlin()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                "binding": true,
                "deadlines": case.deadlines,
            });
            let json = serde_json::to_vec_pretty(&receipt).unwrap_or_default();
            (
                format!("Empfangsbescheinigung: {title}, Az. {}", case.aktenzeichen),
                body,
                "empfangsbescheinigung",
                vec![(
                    "empfangsbescheinigung.json".to_string(),
                    "application/json; charset=utf-8".to_string(),
                    json,
                )],
            )
        }
        Verdict::FormDefect { reason, remedy } => (
            format!(
                "Formerfordernis nicht erfüllt: {title}, Az. {}",
                case.aktenzeichen
            ),
            format!(
                "Sehr geehrte Damen und Herren,\n\n\
                 Ihre Nachricht vom {received} (Betreff: {}) kann nicht als {title} \
                 bearbeitet werden: {reason}.\n\
                 {remedy}\n\n\
                 Aktenzeichen: {}\n\nMit freundlichen Grüßen\n{sender_name}\n",
                case.subject, case.aktenzeichen
            ),
            "formmangel",
            Vec::new(),
        ),
    };
    let domain = cfg.file.city.domain.as_str();
    (
        Letter {
            from: &case.mailbox,
            to: &case.citizen,
            subject,
            message_id: format!("<{}@{domain}>", case.aktenzeichen.to_ascii_lowercase()),
            in_reply_to: case.rfc_message_id.as_deref(),
            private_id: &case.aktenzeichen,
            options: &cfg.reply_options,
            body,
            attachments,
        },
        kind,
    )
}

/// The message bytes of a letter dated `now`.
pub(crate) fn compose(intake: &Intake, letter: &Letter<'_>, now: Timestamp) -> Vec<u8> {
    let file = &intake.config.file;
    let name = file
        .mailbox(letter.from)
        .map_or(file.city.name.as_str(), |m| m.name.as_str());
    let date = format_rfc5322(&now.to_zoned_datetime(berlin()));
    let mut d = Draft::new()
        .header_raw("From", &mailbox(name, letter.from))
        .header_raw("To", &format!("<{}>", letter.to))
        .header("Subject", &letter.subject)
        .header_raw("Date", &date)
        .header_raw("Message-ID", &letter.message_id);
    if let Some(id) = letter.in_reply_to {
        d = d.header_raw("In-Reply-To", id).header_raw("References", id);
    }
    d = d
        .header_raw(
            DeMailOption::ConfirmationOfReceipt.header(),
            if letter
                .options
                .contains(&DeMailOption::ConfirmationOfReceipt)
            {
                "yes"
            } else {
                "no"
            },
        )
        .header_raw(h::PRIVATE_ID, letter.private_id);
    for o in letter.options {
        if *o != DeMailOption::ConfirmationOfReceipt {
            d = d.header_raw(o.header(), "yes");
        }
    }
    if letter.attachments.is_empty() {
        return d.text_body(&letter.body).to_bytes();
    }
    let mut parts = vec![Part {
        content_type: "text/plain; charset=utf-8".into(),
        filename: None,
        data: letter.body.as_bytes().to_vec(),
    }];
    for (name, content_type, data) in &letter.attachments {
        parts.push(Part {
            content_type: content_type.clone(),
            filename: Some(name.clone()),
            data: data.clone(),
        });
    }
    let body = multipart_mixed(&letter.message_id, &parts);
    d.mime_body(&body.content_type, body.body).to_bytes()
}

/// An open submission session (STARTTLS, AUTH PLAIN as `from`). The letters of one clock
/// step from the same Funktionspostfach share it (SMTP allows many transactions per session,
/// RFC 5321 § 3.3); [`end_session`] closes it at the end of the step.
pub(crate) struct Session {
    from: String,
    conn: AsyncSmtpConnection,
}

/// Submits one letter to the provider as its Funktionspostfach, over the step's open session
/// when it belongs to the same mailbox, else over a new one.
pub(crate) async fn submit(intake: &Intake, letter: &Letter<'_>, now: Timestamp) -> Result<()> {
    let raw = compose(intake, letter, now);
    let cfg = &intake.config;
    let password = cfg
        .passwords
        .get(letter.from)
        .with_context(|| format!("no password for {}", letter.from))?;
    let tls = match intake.submission_tls.get() {
        Some(t) => t.clone(),
        None => {
            let t = TlsParameters::builder("localhost".to_string())
                .add_root_certificate(
                    Certificate::from_pem(cfg.ca_pem.as_bytes()).context("provider CA")?,
                )
                .build_rustls()
                .context("TLS parameters")?;
            intake.submission_tls.get_or_init(|| t).clone()
        }
    };
    let from: Address = letter.from.parse().context("intake address")?;
    let to: Address = letter
        .to
        .parse()
        .with_context(|| format!("recipient {}", letter.to))?;
    let envelope = Envelope::new(Some(from), vec![to])?;
    let hello = ClientId::Domain("intake.localhost".into());
    let creds = Credentials::new(letter.from.to_string(), password.clone());
    let addr = cfg.provider_submission;
    let mut slot = intake.session.lock().await;
    let open = slot.take();
    let fut = async {
        let reused = match open {
            Some(s) if s.from == letter.from => Some(s.conn),
            Some(mut s) => {
                let _ = s.conn.quit().await;
                None
            }
            None => None,
        };
        let mut conn = match reused {
            Some(c) => c,
            None => {
                // TCP_NODELAY: the small SMTP commands must not wait for delayed ACKs.
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello).await?;
                conn.starttls(tls, &hello).await?;
                conn.auth(&[Mechanism::Plain], &creds).await?;
                conn
            }
        };
        match conn.send(&envelope, &raw).await {
            Ok(_) => anyhow::Ok(conn),
            Err(e) => {
                conn.abort().await;
                Err(e.into())
            }
        }
    };
    let conn = tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .map_err(|_| anyhow!("provider did not answer within 30 s"))?
        .with_context(|| format!("submitting {}", letter.message_id))?;
    *slot = Some(Session {
        from: letter.from.to_string(),
        conn,
    });
    Ok(())
}

/// Closes the step's submission session, if one is open (QUIT, waiting for the 221).
pub(crate) async fn end_session(intake: &Intake) {
    if let Some(mut s) = intake.session.lock().await.take() {
        let _ = tokio::time::timeout(Duration::from_secs(30), s.conn.quit()).await;
    }
}
