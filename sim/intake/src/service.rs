//! Förmliche Zustellung (formal service) by De-Mail against Abholbestätigung, § 5a VwZG, as a
//! careful authority does it:
//!
//! - Before sending a Bescheid: § 5a VwZG must be in force on the day (`law::regime`), and the
//!   recipient must have opened access for it (§ 5 Abs. 5 Satz 1 with § 5a Abs. 1 VwZG; the
//!   provider's directory answers `demailAccessOpening`, IT-BInfra-IO §6.2). Otherwise no
//!   De-Mail service: the intake records a postal fallback.
//! - The Bescheid goes out "persönlich" (X-de-mail-private) with Abholbestätigung requested;
//!   the time and mailbox are noted in the file (§ 5a Abs. 4 Satz 4 VwZG) as `intake.bescheid`.
//! - An Abholbestätigung (§ 5 Abs. 9 De-Mail-G) that arrives by the fiction day makes the day
//!   of pick-up the day of Zustellung (§ 5a Abs. 3 VwZG). Without one, the document counts as
//!   served on the fiction day (3rd day after sending until 31.12.2024, 4th day from
//!   01.01.2025: § 5a Abs. 4 Satz 1 VwZG, `law::procedure_rules` rule `zustellung-abholung`), once that
//!   day is over, provided access was opened; the recipient is then told of the fiction
//!   electronically (§ 5a Abs. 4 Satz 5 VwZG).
//! - A Meldung (notification, PVD-IO Tabelle 22: e.g. the recipient cannot read "persönlich",
//!   unknown recipient) means the document did not arrive: postal fallback.
//! - Bescheide and fiction notices go out in the intake's office hours (`office_hours.rs`): a
//!   Bescheid's due time is moved to the next opening when the case is opened, so the day of
//!   sending, from which the fiction counts, is a working day.
//! - The Zustellung starts the Widerspruchsfrist: one month with a Rechtsbehelfsbelehrung
//!   (§ 70 VwGO), one year without (§ 58 Abs. 2 VwGO).
//!
//! A flawed intake ([`crate::flaw`]) breaks some of these rules on purpose.

use jiff::Timestamp;
use jiff::civil::Date;

use super::flaw::{Flaw, Flaws};
use super::outbound::{Letter, submit};
use super::{Intake, IntakeState, Service, ServiceStatus, berlin};
use demail_calendar::{self as law, Options, Provision, check_in_force};
use demail_core::sync::lock;
use demail_core::trace::EventKind;
use demail_wire::{DeMailOption, MessageType, normalize_address};

/// Options on a Bescheid served förmlich: Abholbestätigung and "persönlich".
pub const SERVICE_OPTIONS: [DeMailOption; 2] =
    [DeMailOption::ConfirmationOfRetrieve, DeMailOption::Private];

/// Starts tracking a document sent for förmliche Zustellung. `rechtsbehelf`: whether the
/// document is a Verwaltungsakt with (true) or without (false) Rechtsbehelfsbelehrung; `None`
/// for other documents (no Widerspruchsfrist).
pub(crate) fn track(
    state: &mut IntakeState,
    aktenzeichen: &str,
    recipient: &str,
    rfc_message_id: &str,
    now: Timestamp,
    rechtsbehelf: impl Into<Option<bool>>,
) {
    state.services.push(Service {
        aktenzeichen: aktenzeichen.to_string(),
        recipient: recipient.to_string(),
        rfc_message_id: rfc_message_id.to_string(),
        sent_at: now,
        rechtsbehelfsbelehrung: rechtsbehelf.into(),
        status: ServiceStatus::Sent,
        fiction_notice_sent: false,
        fiction_notice_due: None,
    });
}

/// Does everything about förmliche Zustellung that is due at `now`: sends due Bescheide, files
/// Abholbestätigungen and Meldungen, applies the fiction, sends fiction notices.
pub(crate) async fn run_due(intake: &Intake, now: Timestamp) {
    send_due_bescheide(intake, now).await;
    file_evidence(
        &mut lock(&intake.state),
        &intake.config.file.city.place,
        &intake.config.flaws,
    );
    apply_fictions(intake, now).await;
    send_fiction_notices(intake, now).await;
}

fn day(t: Timestamp) -> Date {
    t.to_zoned_datetime(berlin()).date()
}

/// What the directory says about a recipient.
enum Access {
    Opened,
    NotOpened(String),
    /// The look-up failed; try again later.
    Unknown(String),
}

async fn access(intake: &Intake, recipient: &str) -> Access {
    let Some(base) = &intake.config.provider_http else {
        return Access::Opened;
    };
    if intake.config.flaws.has(Flaw::NoAccessCheck) {
        return Access::Opened;
    }
    let url = format!("{base}/directory/v1/entries/{recipient}");
    let answer = match intake
        .provider_http_client
        .get(&url)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
    {
        Ok(a) => a,
        Err(e) => return Access::Unknown(format!("directory look-up failed: {e}")),
    };
    if answer.status() == reqwest::StatusCode::NOT_FOUND {
        return Access::NotOpened(format!(
            "{recipient} is not in the provider's directory (ÖVD), so no access is opened"
        ));
    }
    if !answer.status().is_success() {
        return Access::Unknown(format!("directory answered {}", answer.status()));
    }
    match answer.json::<serde_json::Value>().await {
        Ok(v) if v["demailAccessOpening"] == serde_json::Value::Bool(true) => Access::Opened,
        Ok(_) => Access::NotOpened(format!(
            "{recipient} has not opened access for electronic service (demailAccessOpening \
             false; § 5 Abs. 5 Satz 1 with § 5a Abs. 1 VwZG)"
        )),
        Err(e) => Access::Unknown(format!("directory answer unreadable: {e}")),
    }
}

fn fallback(state: &mut IntakeState, aktenzeichen: &str, reason: String) {
    state.events.push(EventKind::IntakeFallback {
        aktenzeichen: aktenzeichen.to_string(),
        channel: "postal".into(),
        reason,
    });
}

async fn send_due_bescheide(intake: &Intake, now: Timestamp) {
    let due: Vec<usize> = {
        let mut state = lock(&intake.state);
        state
            .cases
            .with_work()
            .filter(|(_, c)| !c.bescheid_sent && c.bescheid_due.is_some_and(|t| t <= now))
            .map(|(i, _)| i)
            .collect()
    };
    for i in due {
        let case = lock(&intake.state).cases[i].clone();
        let file = &intake.config.file;
        let Some(bescheid) = file
            .procedure(&case.procedure)
            .and_then(|p| p.bescheid.clone())
        else {
            continue;
        };
        if let Err(e) = check_in_force(Provision::VwZG5aAbs4, day(now)) {
            let mut state = lock(&intake.state);
            state.cases[i].bescheid_sent = true;
            fallback(
                &mut state,
                &case.aktenzeichen,
                format!("förmliche Zustellung by De-Mail impossible: {e}"),
            );
            continue;
        }
        match access(intake, &case.citizen).await {
            Access::Opened => {}
            Access::NotOpened(why) => {
                let mut state = lock(&intake.state);
                state.cases[i].bescheid_sent = true;
                fallback(
                    &mut state,
                    &case.aktenzeichen,
                    format!("no förmliche Zustellung by De-Mail: {why}"),
                );
                continue;
            }
            Access::Unknown(why) => {
                lock(&intake.state).cases[i].last_error = Some(why);
                continue;
            }
        }
        let domain = &file.city.domain;
        let message_id = format!(
            "<bescheid.{}@{domain}>",
            case.aktenzeichen.to_ascii_lowercase()
        );
        let received = case
            .received_at
            .to_zoned_datetime(berlin())
            .strftime("%d.%m.%Y")
            .to_string();
        let mut body = format!(
            "Sehr geehrte Damen und Herren,\n\n\
             auf Ihren Antrag vom {received} (Aktenzeichen {}) ergeht folgender\n\n\
             BESCHEID\n\n\
             Ihrem Antrag wird stattgegeben.\n\n\
             Dieser Bescheid wird Ihnen per De-Mail gegen Abholbestätigung zugestellt \
             (§ 5a VwZG).\n",
            case.aktenzeichen
        );
        if bescheid.rechtsbehelfsbelehrung {
            body.push_str(
                "\nRechtsbehelfsbelehrung: Gegen diesen Bescheid kann innerhalb eines Monats \
                 nach Bekanntgabe Widerspruch erhoben werden (§ 70 VwGO), schriftlich oder zur \
                 Niederschrift bei der Behörde, die den Bescheid erlassen hat.\n",
            );
        }
        body.push_str(&format!(
            "\nMit freundlichen Grüßen\n{}\n",
            file.mailbox(&case.mailbox)
                .map_or(file.city.name.as_str(), |m| m.name.as_str())
        ));
        // Flawed on purpose: Abholbestätigung only, without "persönlich".
        let options: &[DeMailOption] = if intake.config.flaws.has(Flaw::BescheidNotPersoenlich) {
            &SERVICE_OPTIONS[..1]
        } else {
            &SERVICE_OPTIONS
        };
        let letter = Letter {
            from: &case.mailbox,
            to: &case.citizen,
            subject: format!("{}, Az. {}", bescheid.subject, case.aktenzeichen),
            message_id: message_id.clone(),
            in_reply_to: case.rfc_message_id.as_deref(),
            private_id: &case.aktenzeichen,
            options,
            body,
            attachments: Vec::new(),
        };
        let result = submit(intake, &letter, now).await;
        let mut state = lock(&intake.state);
        match result {
            Ok(()) => {
                state.cases[i].bescheid_sent = true;
                state.events.push(EventKind::IntakeBescheid {
                    aktenzeichen: case.aktenzeichen.clone(),
                    recipient: case.citizen.clone(),
                    options: options.iter().map(|o| o.name().into()).collect(),
                });
                track(
                    &mut state,
                    &case.aktenzeichen,
                    &case.citizen,
                    &message_id,
                    now,
                    bescheid.rechtsbehelfsbelehrung,
                );
            }
            Err(e) => state.cases[i].last_error = Some(format!("{e:#}")),
        }
    }
}

/// Files Abholbestätigungen and Meldungen that refer to a document in service. Called when
/// one arrives (and again on every clock step).
///
/// An Abholbestätigung or Meldung whose document is not (yet) in service stays unfiled and is
/// tried again at the next call: a Meldung can arrive while the intake is still submitting the
/// document it is about (the provider refuses "persönlich" and pushes the Meldung before its
/// 250), i.e. before [`track`] has recorded the document. Evidence of other kinds (e.g. the
/// copy of an Eingangsbestätigung) is filed at once.
pub(crate) fn file_evidence(state: &mut IntakeState, place: &law::Place, flaws: &Flaws) {
    for ev in state.evidence.iter_mut().filter(|e| !e.handled) {
        let kind = MessageType::parse(&ev.message_type);
        if !matches!(
            kind,
            Some(MessageType::ConfirmationOfRetrieve | MessageType::Notification)
        ) {
            ev.handled = true;
            continue;
        }
        // The confirmation names the document it confirms; the order in which confirmations
        // and messages arrive says nothing (a provider may push them in any order). First the
        // In-Reply-To our provider sets (the Bescheid's Message-ID, RFC 5322 §3.6.4); without
        // one the X-de-mail-private-id, which the TR gives the sender for exactly this match
        // (PVD-IO §3.1.17: copied unchanged into every confirmation): the Aktenzeichen the
        // intake set on the Bescheid, if it names one document in service (Abholbestätigungen
        // only: a Meldung without a reference is not guessed at). An unmatched confirmation
        // stays unhandled and is looked at again with every later one.
        let found = match ev.in_reply_to.as_deref().map(str::trim) {
            Some(reply_to) => state
                .services
                .iter()
                .position(|s| s.rfc_message_id == reply_to),
            None => {
                let private_id = ev
                    .private_id
                    .as_deref()
                    .filter(|_| kind == Some(MessageType::ConfirmationOfRetrieve));
                let Some(az) = private_id.map(str::trim) else {
                    ev.handled = true;
                    continue;
                };
                let mut named = state
                    .services
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.aktenzeichen == az);
                match (named.next(), named.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            }
        };
        let Some(service) = found.map(|i| &mut state.services[i]) else {
            continue;
        };
        ev.handled = true;
        if service.status != ServiceStatus::Sent {
            continue;
        }
        if kind == Some(MessageType::ConfirmationOfRetrieve) {
            let options = Options {
                collected_on: Some(day(ev.received_at)),
                ..Options::default()
            };
            match law::compute("zustellung-abholung", day(service.sent_at), place, &options) {
                Ok(d) => {
                    let mode = if Some(d.date()) == options.collected_on {
                        "abholung"
                    } else {
                        "fiktion"
                    };
                    served(&mut state.events, service, mode, &d, place, flaws);
                }
                Err(e) => tracing::warn!("intake: Zustellung of {}: {e}", service.aktenzeichen),
            }
        } else if kind == Some(MessageType::Notification) && flaws.has(Flaw::IgnoresMeldungen) {
            // Flawed on purpose: filed and forgotten; the document stays "sent".
        } else if kind == Some(MessageType::Notification) {
            let why = format!(
                "Meldung {} from the provider: the document did not reach the recipient \
                 (PVD-IO Tabelle 22)",
                ev.notification_type.as_deref().unwrap_or("?")
            );
            service.status = ServiceStatus::Fallback {
                reason: why.clone(),
            };
            state.events.push(EventKind::IntakeFallback {
                aktenzeichen: service.aktenzeichen.clone(),
                channel: "postal".into(),
                reason: why,
            });
        }
    }
}

/// Records a Zustellung and the Rechtsbehelfsfrist it starts.
fn served(
    events: &mut Vec<EventKind>,
    service: &mut Service,
    mode: &str,
    d: &law::Deadline,
    place: &law::Place,
    flaws: &Flaws,
) {
    let date = d.date();
    service.status = ServiceStatus::Served {
        mode: mode.into(),
        date: date.to_string(),
    };
    let until = match service.rechtsbehelfsbelehrung {
        None => String::new(),
        Some(with) => {
            let rule = if with || flaws.has(Flaw::OneMonthWithoutBelehrung) {
                "widerspruch"
            } else {
                "ohne-belehrung"
            };
            match law::compute_date(rule, date, place, &Options::default()) {
                Ok((_, law::When::Date(end))) => format!("{end} ({rule})"),
                Ok((_, law::When::DateTime(end))) => format!("{} ({rule})", end.date()),
                Err(e) => format!("not computed: {e}"),
            }
        }
    };
    events.push(EventKind::IntakeZustellung {
        aktenzeichen: service.aktenzeichen.clone(),
        mode: mode.into(),
        date: date.to_string(),
        rechtsbehelf_until: until,
        source: d.sources.join("; "),
    });
}

/// Applies the fiction to documents whose fiction day is over without Abholbestätigung.
async fn apply_fictions(intake: &Intake, now: Timestamp) {
    let place = &intake.config.file.city.place;
    let flaws = &intake.config.flaws;
    let candidates: Vec<(usize, law::Deadline, String)> = {
        let state = lock(&intake.state);
        state
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.status == ServiceStatus::Sent)
            .filter_map(|(i, s)| {
                let d = law::compute(
                    "zustellung-abholung",
                    day(s.sent_at),
                    place,
                    &Options::default(),
                )
                .ok()?;
                let d = if flaws.has(Flaw::FictionThirdDay) {
                    third_day(d, day(s.sent_at))
                } else {
                    d
                };
                // The fiction holds once its day is over: "wenn der Behörde nicht spätestens an
                // diesem Tag eine Abholbestätigung zugeht".
                (day(now) > d.date()).then(|| (i, d, s.recipient.clone()))
            })
            .collect()
    };
    for (i, d, recipient) in candidates {
        let access = access(intake, &normalize_address(&recipient)).await;
        let mut state = lock(&intake.state);
        let state = &mut *state;
        let service = &mut state.services[i];
        match access {
            Access::Opened => served(&mut state.events, service, "fiktion", &d, place, flaws),
            Access::NotOpened(why) => {
                let reason = format!(
                    "no Abholbestätigung by {} and no fiction: {why} (§ 5a Abs. 4 Satz 1 VwZG)",
                    d.date()
                );
                service.status = ServiceStatus::Fallback {
                    reason: reason.clone(),
                };
                let az = service.aktenzeichen.clone();
                fallback(state, &az, reason);
            }
            Access::Unknown(_) => {}
        }
    }
}

/// [`Flaw::FictionThirdDay`]: the fiction day moved to the third day after sending, whatever
/// the date regime.
fn third_day(mut d: law::Deadline, sent: Date) -> law::Deadline {
    if let Ok(third) = sent.checked_add(jiff::Span::new().days(3)) {
        d.when = law::When::Date(third);
    }
    d
}

/// Tells recipients of the fiction (§ 5a Abs. 4 Satz 5 VwZG: "elektronisch zu benachrichtigen").
/// The notice goes out at the first opening of the office hours after the fiction was
/// recorded (a modelling choice: the law sets no time for it).
async fn send_fiction_notices(intake: &Intake, now: Timestamp) {
    let file = &intake.config.file;
    let due: Vec<(usize, Service, String, String)> = {
        let mut state = lock(&intake.state);
        for s in state.services.iter_mut().filter(|s| !s.fiction_notice_sent) {
            if s.fiction_notice_due.is_none()
                && matches!(&s.status, ServiceStatus::Served { mode, .. } if mode == "fiktion")
            {
                s.fiction_notice_due = Some(file.office_hours.next_open(
                    now,
                    &file.city.place,
                    &berlin(),
                ));
            }
        }
        state
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.fiction_notice_sent)
            .filter(|(_, s)| s.fiction_notice_due.is_some_and(|t| t <= now))
            .filter_map(|(i, s)| match &s.status {
                ServiceStatus::Served { mode, date } if mode == "fiktion" => {
                    Some((i, s.clone(), date.clone()))
                }
                _ => None,
            })
            .filter_map(|(i, s, date)| {
                let mailbox = state
                    .cases
                    .by_aktenzeichen(&s.aktenzeichen)
                    .map(|c| c.mailbox.clone())?;
                Some((i, s, date, mailbox))
            })
            .collect()
    };
    for (i, s, date, mailbox) in due {
        let domain = &intake.config.file.city.domain;
        let body = format!(
            "Sehr geehrte Damen und Herren,\n\n\
             das Ihnen am {} per De-Mail übersandte Dokument (Aktenzeichen {}) gilt nach \
             § 5a Abs. 4 Satz 1 VwZG am {date} als zugestellt, da uns bis zu diesem Tag keine \
             Abholbestätigung zugegangen ist. Dies gilt nicht, wenn Sie nachweisen, dass das \
             Dokument nicht oder zu einem späteren Zeitpunkt zugegangen ist (Satz 2).\n\n\
             Diese Benachrichtigung ergeht nach § 5a Abs. 4 Satz 5 VwZG.\n",
            day(s.sent_at),
            s.aktenzeichen
        );
        let letter = Letter {
            from: &mailbox,
            to: &s.recipient,
            subject: format!(
                "Benachrichtigung über den Eintritt der Zustellungsfiktion, Az. {}",
                s.aktenzeichen
            ),
            message_id: format!("<fiktion.{}@{domain}>", s.aktenzeichen.to_ascii_lowercase()),
            in_reply_to: Some(&s.rfc_message_id),
            private_id: &s.aktenzeichen,
            options: &[],
            body,
            attachments: Vec::new(),
        };
        if submit(intake, &letter, now).await.is_ok() {
            lock(&intake.state).services[i].fiction_notice_sent = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Evidence;

    fn retrieve(in_reply_to: Option<&str>, private_id: Option<&str>, at: Timestamp) -> Evidence {
        Evidence {
            message_type: MessageType::ConfirmationOfRetrieve.as_str().to_string(),
            demail_message_id: "a1@dmda-a.de-mail.de".into(),
            private_id: private_id.map(str::to_string),
            in_reply_to: in_reply_to.map(str::to_string),
            notification_type: None,
            received_at: at,
            handled: false,
        }
    }

    /// An Abholbestätigung is matched to the Bescheid it names, whatever the order: by
    /// In-Reply-To, else by the private-id (PVD-IO §3.1.17); one that names no Bescheid in
    /// service yet waits, and is matched once the Bescheid is tracked.
    #[test]
    fn confirmations_match_by_reference_not_by_order() {
        let place = law::Place::municipality(law::Land::Sachsen, "Dresden");
        let sent: Timestamp = "2025-03-10T09:00:00Z".parse().unwrap();
        let picked: Timestamp = "2025-03-12T10:00:00Z".parse().unwrap();
        let mut state = IntakeState::default();
        track(&mut state, "WBS-1", "max@a.de", "<b1@test>", sent, true);
        track(&mut state, "WBS-2", "erika@a.de", "<b2@test>", sent, true);
        // The confirmation of the second Bescheid first, by private-id only; then one that
        // names a Bescheid the intake has not tracked yet.
        state.evidence.push(retrieve(None, Some("WBS-2"), picked));
        state
            .evidence
            .push(retrieve(Some("<b3@test>"), Some("WBS-3"), picked));
        file_evidence(&mut state, &place, &Flaws::default());
        let status = |state: &IntakeState, az: &str| {
            state
                .services
                .iter()
                .find(|s| s.aktenzeichen == az)
                .map(|s| s.status.clone())
                .unwrap()
        };
        assert_eq!(
            status(&state, "WBS-1"),
            ServiceStatus::Sent,
            "not the first one"
        );
        assert!(
            matches!(status(&state, "WBS-2"), ServiceStatus::Served { .. }),
            "{:?}",
            status(&state, "WBS-2")
        );
        assert!(!state.evidence[1].handled, "waits for its Bescheid");
        track(&mut state, "WBS-3", "max@a.de", "<b3@test>", sent, true);
        file_evidence(&mut state, &place, &Flaws::default());
        assert!(state.evidence[1].handled);
        assert!(matches!(
            status(&state, "WBS-3"),
            ServiceStatus::Served { .. }
        ));
        assert_eq!(status(&state, "WBS-1"), ServiceStatus::Sent);
    }
}
