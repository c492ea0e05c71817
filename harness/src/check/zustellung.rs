//! `zustellung`: the intake's document in reply to the step's message that asks for an
//! Abholbestätigung (a Bescheid, or a reply sent with `reply_options`) is served under § 5a
//! VwZG in the expected mode: by Abholbestätigung (the day of the high login), or by the
//! fiction when no Abholbestätigung came by its day and the citizen opened access (Abs. 4
//! Satz 1). The day comes from the legal calendar (`zustellung-abholung`) and is traced as
//! `zustellung.abholung` / `zustellung.fiktion`; the intake must have recorded the same day
//! and mode (`intake.zustellung`), and for a Bescheid the same last day for a remedy.

use std::fmt;

use super::lookup::kinds::*;
use demail_sim::demail::{MessageType, normalize_address};
use demail_sim::law::{self, Options, When};
use demail_sim::provider::StoredMessage;
use demail_sim::trace::EventKind;
use jiff::civil::Date;

use super::lookup::legal_day;
use super::{About, Cx, Entry, Kind, Level, ParseCx, Shape, Timing, Verdict};
use crate::check::due::RuleId;
use crate::located::Located;
use crate::model::SendOutcome;

pub const ENTRY: Entry = Entry::new::<Zustellung>(Shape {
    name: "zustellung",
    keys: &["mode", "served_on", "widerspruch_last_day"],
    about: About::AcceptedMessage,
    timing: Timing::Observed,
    level: Level::Observation,
});

/// Key `mode = "abholung" | "fiktion"`, and the days the tester computed by hand:
/// `served_on` (the day of Zustellung) and `widerspruch_last_day` (for a Bescheid).
#[derive(Clone, Debug)]
pub struct Zustellung {
    mode: Mode,
    served_on: Option<Date>,
    widerspruch_last_day: Option<Date>,
}

/// How a document is served under § 5a VwZG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// By Abholbestätigung (§ 5a VwZG).
    Abholung,
    /// By the Zustellungsfiktion (§ 5a Abs. 4 VwZG).
    Fiktion,
}

impl Mode {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "abholung" => Some(Self::Abholung),
            "fiktion" => Some(Self::Fiktion),
            _ => None,
        }
    }

    /// The name in scenario files and in `intake.zustellung`.
    fn as_str(self) -> &'static str {
        match self {
            Self::Abholung => "abholung",
            Self::Fiktion => "fiktion",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Undecided (`Err(None)`) or decided early (`Err(Some(_))`).
type Pending<T> = Result<T, Option<Verdict>>;

/// The Zustellung the calendar computes for the served document.
struct Service {
    /// The document's X-de-mail-message-id.
    message_id: String,
    /// The day it was laid into the citizen's mailbox.
    sent_on: Date,
    /// The day of Zustellung.
    day: Date,
    mode: Mode,
    /// The calendar's sources, joined with "; ".
    source: String,
}

impl Kind for Zustellung {
    fn parse(cx: &ParseCx<'_>) -> Result<Self, Located> {
        let mode = cx.need(&cx.spec.mode, "mode")?;
        let Some(mode) = Mode::from_name(mode.get_ref()) else {
            return Err(Located::new(
                mode.span(),
                format!(
                    "mode {:?}: expected \"abholung\" or \"fiktion\"",
                    mode.get_ref()
                ),
            ));
        };
        Ok(Self {
            mode,
            served_on: cx.date(&cx.spec.served_on, "served_on")?,
            widerspruch_last_day: cx.date(&cx.spec.widerspruch_last_day, "widerspruch_last_day")?,
        })
    }

    fn observe(&mut self, cx: &Cx<'_>, send: &SendOutcome) -> Option<Verdict> {
        match self.judge(cx, send) {
            Ok(v) => Some(v),
            Err(pending) => pending,
        }
    }

    fn unmet(&self, cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
        unmet(cx, send)
    }
}

impl Zustellung {
    fn judge(&self, cx: &Cx<'_>, send: &SendOutcome) -> Pending<Verdict> {
        let s = service(cx, send)?;
        let remedy = remedy(cx, send, s.day);
        let intake_note = intake_record(cx, send, &s, &remedy)?;
        let by_retrieval = s.mode == Mode::Abholung;
        let (message_id, date, source) =
            (s.message_id.clone(), s.day.to_string(), s.source.clone());
        cx.trace.emit(if by_retrieval {
            EventKind::ZustellungAbholung {
                message_id,
                date,
                source,
            }
        } else {
            EventKind::ZustellungFiktion {
                message_id,
                date,
                source,
            }
        });
        let detail = format!(
            "{} served on {} by {} (sent {}){intake_note}; {}",
            s.message_id,
            s.day,
            if by_retrieval {
                "Abholbestätigung"
            } else {
                "Zustellungsfiktion"
            },
            s.sent_on,
            s.source
        );
        if let Some(disagreement) = self.stated_disagrees(&s, &remedy) {
            return Ok(Verdict::fail(disagreement));
        }
        let stated: Vec<String> = [
            self.served_on
                .map(|d| format!("served on {}", legal_day(d))),
            self.widerspruch_last_day
                .map(|d| format!("last day for a Widerspruch {}", legal_day(d))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let detail = if stated.is_empty() {
            detail
        } else {
            format!("{detail}; as stated: {}", stated.join(", "))
        };
        Ok(if s.mode == self.mode {
            Verdict::pass(detail)
        } else {
            Verdict::fail(format!(
                "expected Zustellung by {}, but: {detail}",
                self.mode
            ))
        })
    }
}

impl Zustellung {
    /// Compares the days the scenario states with the calendar's: the day of Zustellung
    /// (§ 5a VwZG) and the last day for a Widerspruch (§ 70 VwGO, § 58 Abs. 2 VwGO without a
    /// Rechtsbehelfsbelehrung). Returns the failure naming both days, if any.
    fn stated_disagrees(&self, s: &Service, remedy: &Option<Remedy>) -> Option<String> {
        if let Some(stated) = self.served_on
            && stated != s.day
        {
            return Some(format!(
                "the scenario states the day of Zustellung {}, but the calendar computes {} for {} (sent {}, {}; {})",
                legal_day(stated),
                legal_day(s.day),
                s.message_id,
                s.sent_on,
                s.mode,
                s.source
            ));
        }
        let stated = self.widerspruch_last_day?;
        Some(match remedy {
            None => format!(
                "the scenario states a last day for a Widerspruch ({}), but {} is not a Bescheid: no remedy period runs from its Zustellung",
                legal_day(stated),
                s.message_id
            ),
            Some(Remedy {
                rule,
                last_day: Ok(d),
            }) if *d != stated => format!(
                "the scenario states the last day for a Widerspruch {}, but the calendar computes {} ({rule} from the Zustellung on {})",
                legal_day(stated),
                legal_day(*d),
                legal_day(s.day)
            ),
            Some(Remedy {
                last_day: Ok(_), ..
            }) => return None,
            Some(Remedy {
                rule,
                last_day: Err(e),
            }) => format!(
                "the scenario states the last day for a Widerspruch {}, but the calendar cannot compute {rule}: {e}",
                legal_day(stated)
            ),
        })
    }
}

/// The period for a remedy against a served Bescheid: its rule and last day.
struct Remedy {
    rule: RuleId,
    last_day: Result<Date, String>,
}

impl Remedy {
    /// As the intake records it in `intake.zustellung`: `2025-04-14 (widerspruch)`.
    fn recorded_form(&self) -> String {
        match &self.last_day {
            Ok(d) => format!("{d} ({})", self.rule),
            Err(e) => format!("not computable: {e}"),
        }
    }
}

/// For a Bescheid, the period for a remedy from the day of Zustellung: § 70 Abs. 1 VwGO with
/// a Rechtsbehelfsbelehrung, § 58 Abs. 2 VwGO without (both Fassung 2026-08-19, the
/// calendar's `widerspruch` and `ohne-belehrung`); `None` for another document.
fn remedy(cx: &Cx<'_>, send: &SendOutcome, day: Date) -> Option<Remedy> {
    let case = cx.intake_case(send)?;
    let bescheid = cx
        .setting
        .intake
        .procedure(&case.procedure)?
        .bescheid
        .as_ref()?;
    let rule = if bescheid.rechtsbehelfsbelehrung {
        RuleId::WIDERSPRUCH
    } else {
        RuleId::OHNE_BELEHRUNG
    };
    let last_day =
        match law::compute_date(rule.as_str(), day, cx.setting.place, &Options::default()) {
            Ok((_, When::Date(d))) => Ok(d),
            Ok((_, When::DateTime(d))) => Ok(d.date()),
            Err(e) => Err(e.to_string()),
        };
    Some(Remedy { rule, last_day })
}

/// The intake's message in reply to the step's message that asks for an Abholbestätigung.
fn document<'m>(
    cx: &Cx<'_>,
    send: &SendOutcome,
    mailbox: &'m [StoredMessage],
) -> Option<&'m StoredMessage> {
    mailbox.iter().find(|m| {
        cx.is_reply(m, send)
            && demail_sim::demail::headers::RawMessage::parse(&m.raw).is_ok_and(|r| {
                r.first(demail_sim::demail::h::CONFIRMATION_OF_RETRIEVE)
                    .as_deref()
                    == Some("yes")
            })
    })
}

/// Why the Zustellung is undecided at the end: no document asking for an Abholbestätigung,
/// the fiction day not over yet (§ 5a Abs. 4 Satz 1 VwZG), or no record of the intake.
fn unmet(cx: &Cx<'_>, send: &SendOutcome) -> Option<String> {
    let mailbox = cx.obs.world.mailbox(&send.from).ok()?;
    let Some(doc) = document(cx, send, &mailbox) else {
        return Some(
            "the intake sent no document asking for an Abholbestätigung (a Bescheid, or a reply with `reply_options`) in reply to it"
                .into(),
        );
    };
    match service(cx, send) {
        Err(Some(_)) => None,
        Err(None) => {
            let tz = cx.obs.now.time_zone().clone();
            let sent = doc.stored_at.to_zoned_datetime(tz).date();
            let (day, sources) = match law::compute(
                RuleId::ZUSTELLUNG_ABHOLUNG.as_str(),
                sent,
                cx.setting.place,
                &Options::default(),
            ) {
                Ok(d) => (
                    legal_day(match d.when {
                        When::Date(d) => d,
                        When::DateTime(d) => d.date(),
                    }),
                    d.sources.join("; "),
                ),
                Err(e) => ("(not computable)".into(), e.to_string()),
            };
            Some(format!(
                "no Abholbestätigung for {} came, and the scenario ends before the fiction day {day} is over (sent {}; {sources})",
                doc.message_id,
                legal_day(sent)
            ))
        }
        Ok(s) => Some(format!(
            "the intake recorded no Zustellung (intake.zustellung) of {}; the calendar gives {} on {}",
            s.message_id,
            s.mode,
            legal_day(s.day)
        )),
    }
}

/// Finds the served document (the intake's message in reply to the step's message that asks
/// for an Abholbestätigung) and computes its day and mode of Zustellung.
fn service(cx: &Cx<'_>, send: &SendOutcome) -> Pending<Service> {
    let mailbox = cx.obs.world.mailbox(&send.from).map_err(|e| {
        Some(Verdict::fail(format!(
            "cannot read the sender's mailbox: {e:#}"
        )))
    })?;
    let reply = document(cx, send, &mailbox).ok_or(None)?;
    let tz = cx.obs.now.time_zone().clone();
    let sent = reply.stored_at.to_zoned_datetime(tz.clone());
    let retrieval = mailbox.iter().find(|m| {
        m.message_type == MessageType::ConfirmationOfRetrieve
            && m.in_reply_to.is_some()
            && m.in_reply_to == reply.rfc_message_id
    });
    let collected_on = retrieval.map(|r| r.stored_at.to_zoned_datetime(tz.clone()).date());
    let options = Options {
        collected_on,
        ..Options::default()
    };
    let served = law::compute(
        RuleId::ZUSTELLUNG_ABHOLUNG.as_str(),
        sent.date(),
        cx.setting.place,
        &options,
    )
    .map_err(|e| {
        Some(Verdict::fail(format!(
            "{}: {e}",
            RuleId::ZUSTELLUNG_ABHOLUNG
        )))
    })?;
    let day = match served.when {
        When::Date(d) => d,
        When::DateTime(dt) => dt.date(),
    };
    let by_retrieval = collected_on.is_some_and(|c| c <= day) && retrieval.is_some();
    if !by_retrieval {
        // Without an Abholbestätigung the fiction holds only once its day is over, and only
        // for a recipient who opened access (§ 5a Abs. 4 Satz 1 VwZG).
        let end = day
            .tomorrow()
            .and_then(|d| d.to_zoned_datetime(tz))
            .map_err(|_| None)?;
        if cx.obs.now.timestamp() < end.timestamp() {
            return Err(None);
        }
        let opened = cx
            .setting
            .citizens
            .iter()
            .find(|(address, _)| normalize_address(address) == normalize_address(&send.from))
            .is_some_and(|(_, opened)| *opened);
        if !opened {
            return Err(Some(Verdict::fail(format!(
                "no Zustellung of {}: no Abholbestätigung, and {} has not opened access, so the fiction of § 5a Abs. 4 Satz 1 VwZG does not apply",
                reply.message_id, send.from
            ))));
        }
    }
    Ok(Service {
        message_id: reply.message_id.clone(),
        sent_on: sent.date(),
        day,
        mode: if by_retrieval {
            Mode::Abholung
        } else {
            Mode::Fiktion
        },
        source: served.sources.join("; "),
    })
}

/// Compares the intake's own record (`intake.zustellung` for the case the document belongs
/// to) with the computed service; returns the note for the detail when they agree. Not yet
/// recorded is undecided: an intake that pulls its mail sees the Abholbestätigung only at its
/// next poll (at the end it fails as "not observed").
fn intake_record(
    cx: &Cx<'_>,
    send: &SendOutcome,
    s: &Service,
    remedy: &Option<Remedy>,
) -> Pending<String> {
    let (day, mode) = (s.day, s.mode);
    let case = cx.intake_case(send);
    let recorded = case.as_ref().and_then(|c| {
        cx.trace
            .find_map_of(&[INTAKE_ZUSTELLUNG], |e| match &e.kind {
                EventKind::IntakeZustellung {
                    aktenzeichen,
                    mode,
                    date,
                    rechtsbehelf_until,
                    ..
                } if *aktenzeichen == c.aktenzeichen => {
                    Some((mode.clone(), date.clone(), rechtsbehelf_until.clone()))
                }
                _ => None,
            })
    });
    // For a Bescheid the intake must also have computed the period for a remedy from the
    // day of Zustellung.
    let remedy = remedy
        .as_ref()
        .map(Remedy::recorded_form)
        .unwrap_or_default();
    match recorded {
        Some((m, d, until)) if m == mode.as_str() && d == day.to_string() && until == remedy => {
            Ok(if until.is_empty() {
                format!("; the intake recorded the same ({m}, {d})")
            } else {
                format!(
                    "; the intake recorded the same ({m}, {d}) and a remedy period until {until}"
                )
            })
        }
        Some((m, d, until)) if m == mode.as_str() && d == day.to_string() => {
            Err(Some(Verdict::fail(format!(
                "{} is served on {day} by {mode}, as the intake recorded, but the intake computed the remedy period until {until:?} instead of {remedy:?}",
                s.message_id
            ))))
        }
        Some((m, d, _)) => Err(Some(Verdict::fail(format!(
            "{} is served on {day} by {mode} under § 5a VwZG, but the intake recorded {m} on {d}",
            s.message_id
        )))),
        None => Err(None),
    }
}
