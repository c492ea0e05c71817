//! A citizen's submission: the message composed deterministically from the virtual time
//! and a seeded token, `citizen.sent` traced, then submitted over SMTP (held session or a new
//! one) and the provider's answer kept as the send's outcome.

use super::*;

/// A citizen's session the runner opened ahead of the citizen's arrival, while the world
/// settled from the previous one (STARTTLS and AUTH done, waiting before MAIL): the TLS
/// handshake is then off the arrival's critical path. A provider emits nothing for a
/// successful login, so the trace is the same as with a session opened at the arrival; the
/// runner opens one ahead only for traffic, whose credentials are right by construction.
pub(super) struct Held {
    /// Index of the arrival it is for.
    pub(super) arrival: usize,
    /// Index of the provider it is open at.
    pub(super) provider: usize,
    pub(super) conn: AsyncSmtpConnection,
}

/// Composes a citizen's message and submits it over SMTP (STARTTLS + AUTH PLAIN).
pub(super) async fn send(
    world: &World<'_>,
    submitter: &Submitter,
    trace: &Trace,
    clock: &VirtualClock,
    out: &Outgoing,
    token: &str,
    held: Option<AsyncSmtpConnection>,
) -> Result<SendOutcome> {
    let domain = out.address.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let rfc_message_id = format!("<{token}@{domain}>");
    let now = clock.now();
    let mut draft = Draft::new()
        .header_raw("From", &mailbox(&out.name, &out.address))
        .header_raw("To", &mailbox(&out.to_name, &out.to_address))
        .header("Subject", &out.subject)
        .header_raw("Date", &demail_sim::clock::format_rfc5322(&now))
        .header_raw("Message-ID", &rfc_message_id);
    for opt in &out.options {
        draft = draft.header_raw(opt.header(), "yes");
    }
    if let Some(pid) = &out.private_id {
        draft = draft.header_raw(h::PRIVATE_ID, pid);
    }
    for (name, value) in &out.headers {
        draft = draft.header(name, value);
    }
    let raw = draft.text_body(&out.body).to_bytes();
    trace.emit(EventKind::CitizenSent {
        citizen: out.citizen_id.to_string(),
        from: out.address.to_string(),
        to: vec![out.to_address.clone()],
        subject: out.subject.clone(),
        private_id: out.private_id.clone(),
        options: out.options.iter().map(|o| o.name().to_string()).collect(),
    });
    if out.plain {
        return send_plain(world, out, raw, now, rfc_message_id).await;
    }
    let provider = world
        .provider_of(&out.address)
        .context("the sender's provider")?;
    let addr = provider.submission_addr();
    // A seal fault is armed for this one submission and taken back if it did not happen.
    if let Some(fault) = out.seal {
        provider.arm_seal_fault(&out.address, fault);
    }
    let from: Address = out.address.parse().context("citizen address")?;
    let to: Address = out.to_address.parse().context("recipient address")?;
    let envelope = Envelope::new(Some(from), vec![to])?;
    let submission = async {
        let conn = match held {
            Some(conn) => conn,
            None => {
                let credentials = Credentials::new(out.address.to_string(), out.password.clone());
                match submitter.open(addr, &credentials).await? {
                    Ok(conn) => conn,
                    Err(e) => return Ok(Err(e)),
                }
            }
        };
        anyhow::Ok(Submitter::deliver(conn, &envelope, &raw).await)
    };
    let answer = tokio::time::timeout(Duration::from_secs(60), submission).await;
    if out.seal.is_some() {
        provider.disarm_seal_fault(&out.address);
    }
    let refused = match answer.context("the provider did not answer within 60 s")?? {
        Ok(()) => None,
        Err(e) => match e.status() {
            Some(code) => Some(Box::new(Refusal::received(
                u16::from(code),
                enhanced_of(&e.to_string()),
                e.to_string(),
            ))),
            None => return Err(anyhow::Error::new(e).context("submitting to the provider")),
        },
    };
    Ok(SendOutcome {
        step_id: out.step_id.clone(),
        citizen: out.citizen_id.clone(),
        from: out.address.clone(),
        sent_at: now,
        rfc_message_id,
        private_id: out.private_id.clone(),
        refused,
    })
}

/// A plain e-mail (`plain = true`): no De-Mail, so it does not go through the citizen's
/// provider; the intake's provider hands it straight to the intake's listener
/// (`Provider::push_plain`), and the listener's answer is the send's outcome.
async fn send_plain(
    world: &World<'_>,
    out: &Outgoing,
    raw: Vec<u8>,
    now: ZonedDateTime,
    rfc_message_id: String,
) -> Result<SendOutcome> {
    use demail_sim::provider::delivery::push::PlainOutcome;
    let provider = world
        .provider_of(&out.to_address)
        .context("the intake's provider")?;
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        provider.push_plain(&out.to_address, &out.address, &raw),
    )
    .await
    .context("the intake's listener did not answer within 60 s")?
    .map_err(|e| anyhow::anyhow!("a plain e-mail to {}: {e}", out.to_address))?;
    let refused = match answer {
        PlainOutcome::Accepted => None,
        PlainOutcome::Refused { code, text } => {
            Some(Box::new(Refusal::received(code, enhanced_of(&text), text)))
        }
    };
    Ok(SendOutcome {
        step_id: out.step_id.clone(),
        citizen: out.citizen_id.clone(),
        from: out.address.clone(),
        sent_at: now,
        rfc_message_id,
        private_id: None,
        refused,
    })
}
