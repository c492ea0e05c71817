//! The intake's replies: Empfangsbescheinigung or a notice of a form defect, submitted to the
//! provider over SMTP submission with STARTTLS and AUTH PLAIN (lettre).

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use jiff::Timestamp;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Case, Intake, Verdict, berlin};
use crate::clock::format_rfc5322;
use crate::demail::compose::{Draft, mailbox};
use crate::demail::{DeMailOption, h};
use crate::provider::lock;

/// Submits every reply due at `now`, oldest first. Returns how many went out.
pub(crate) async fn send_due(intake: &Intake, now: Timestamp) -> usize {
    let due: Vec<(usize, Case)> = {
        let state = lock(&intake.state);
        state
            .cases
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.replied && c.reply_due <= now)
            .map(|(i, c)| (i, c.clone()))
            .collect()
    };
    let mut sent = 0;
    for (i, case) in due {
        let result = submit(intake, &compose_reply(intake, &case, now), &case.citizen).await;
        let mut state = lock(&intake.state);
        match result {
            Ok(()) => {
                state.cases[i].replied = true;
                state.cases[i].last_error = None;
                sent += 1;
            }
            Err(e) => state.cases[i].last_error = Some(format!("{e:#}")),
        }
    }
    sent
}

/// The reply for a case, as message bytes.
pub(crate) fn compose_reply(intake: &Intake, case: &Case, now: Timestamp) -> Vec<u8> {
    let cfg = &intake.config;
    let received = case
        .received_at
        .to_zoned_datetime(berlin())
        .strftime("%d.%m.%Y um %H:%M Uhr")
        .to_string();
    let (subject, body) = match &case.verdict {
        Verdict::Accepted => (
            format!(
                "Empfangsbescheinigung zu Ihrer Gewerbeanzeige, Az. {}",
                case.aktenzeichen
            ),
            format!(
                "Sehr geehrte Damen und Herren,\n\n\
                 hiermit bescheinigen wir den Empfang Ihrer Gewerbeanzeige (§ 15 Abs. 1 GewO).\n\n\
                 Eingegangen am: {received}\n\
                 Betreff:        {}\n\
                 Aktenzeichen:   {}\n\
                 Ihre Kennung:   {}\n\n\
                 Mit freundlichen Grüßen\n{}\n",
                case.subject,
                case.aktenzeichen,
                case.private_id.as_deref().unwrap_or("-"),
                cfg.display_name
            ),
        ),
        Verdict::FormDefect(defect) => (
            format!(
                "Ihre Gewerbeanzeige: Formerfordernis nicht erfüllt, Az. {}",
                case.aktenzeichen
            ),
            format!(
                "Sehr geehrte Damen und Herren,\n\n\
                 Ihre Nachricht vom {received} (Betreff: {}) kann nicht als Gewerbeanzeige \
                 bearbeitet werden: {defect}.\n\
                 Bitte senden Sie die Anzeige als absenderbestätigte De-Mail.\n\n\
                 Aktenzeichen: {}\n\nMit freundlichen Grüßen\n{}\n",
                case.subject, case.aktenzeichen, cfg.display_name
            ),
        ),
    };
    let date = format_rfc5322(&now.to_zoned_datetime(berlin()));
    let domain = cfg
        .address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    let mut d = Draft::new()
        .header_raw("From", &mailbox(&cfg.display_name, &cfg.address))
        .header_raw("To", &format!("<{}>", case.citizen))
        .header("Subject", &subject)
        .header_raw("Date", &date)
        .header_raw(
            "Message-ID",
            &format!("<{}@{domain}>", case.aktenzeichen.to_ascii_lowercase()),
        );
    if let Some(id) = &case.rfc_message_id {
        d = d.header_raw("In-Reply-To", id).header_raw("References", id);
    }
    d = d
        .header_raw(
            DeMailOption::ConfirmationOfReceipt.header(),
            if cfg
                .reply_options
                .contains(&DeMailOption::ConfirmationOfReceipt)
            {
                "yes"
            } else {
                "no"
            },
        )
        .header_raw(h::PRIVATE_ID, &case.aktenzeichen);
    for o in &cfg.reply_options {
        if *o != DeMailOption::ConfirmationOfReceipt {
            d = d.header_raw(o.header(), "yes");
        }
    }
    d.text_body(&body).to_bytes()
}

/// Submits one message to the provider as the intake's account.
async fn submit(intake: &Intake, raw: &[u8], to: &str) -> Result<()> {
    let cfg = &intake.config;
    let tls = TlsParameters::builder("localhost".to_string())
        .add_root_certificate(Certificate::from_pem(cfg.ca_pem.as_bytes()).context("provider CA")?)
        .build_rustls()
        .context("TLS parameters")?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
        cfg.provider_submission.ip().to_string(),
    )
    .port(cfg.provider_submission.port())
    .tls(Tls::Required(tls))
    .credentials(Credentials::new(cfg.address.clone(), cfg.password.clone()))
    .authentication(vec![Mechanism::Plain])
    .hello_name(lettre::transport::smtp::extension::ClientId::Domain(
        "intake.localhost".into(),
    ))
    .timeout(Some(Duration::from_secs(30)))
    .build();
    let from: Address = cfg.address.parse().context("intake address")?;
    let to: Address = to.parse().with_context(|| format!("recipient {to}"))?;
    let envelope = Envelope::new(Some(from), vec![to])?;
    tokio::time::timeout(Duration::from_secs(30), transport.send_raw(&envelope, raw))
        .await
        .map_err(|_| anyhow!("provider did not answer within 30 s"))?
        .context("submitting the reply")?;
    Ok(())
}
