//! The judge: asks each undecided expectation's kind at every instant, in file order, and
//! records each verdict once, as `check.passed` or `check.failed` in the trace.
//!
//! The order is part of the trace: at one instant the expectations are asked in file order,
//! and a kind's own events (a computed deadline, a Zustellung) come right before its verdict.
//! At the end the kinds decided only then ([`Timing::AtEnd`]) are asked first, then the
//! observed ones get their last call, then whatever is left fails as not observed, with the
//! reasons the trace knows (`unmet.rs`).

use demail_sim::clock::format_instant;
use demail_sim::intake::config::IntakeFile;
use demail_sim::law::Place;
use demail_sim::trace::{EventKind, Trace};

use super::{About, Cx, Expectation, Timing, Verdict};
use crate::model::{CheckOutcome, Observation};

/// What the judge knows of the scenario beyond its expectations.
pub struct Setting<'a> {
    /// Where deadlines run (holidays of the Land and municipality).
    pub place: &'a Place,
    /// The intake's configuration: its Funktionspostfächer and procedures.
    pub intake: &'a IntakeFile,
    /// The scripted citizens' addresses and whether each opened access (Zugang eröffnet, § 7
    /// Abs. 3 De-Mail-G), in file order.
    pub citizens: Vec<(String, bool)>,
}

/// Judges the expectations of one scenario over one run.
pub struct Judge<'a> {
    /// The scenario's expectations, cloned: their judging state belongs to this run.
    expectations: Vec<Expectation>,
    setting: Setting<'a>,
    trace: &'a Trace,
    verdicts: Vec<Option<CheckOutcome>>,
}

impl<'a> Judge<'a> {
    pub fn new(expectations: &[Expectation], setting: Setting<'a>, trace: &'a Trace) -> Self {
        Self {
            expectations: expectations.to_vec(),
            setting,
            trace,
            verdicts: vec![None; expectations.len()],
        }
    }

    /// Whether every expectation is decided.
    pub fn all_decided(&self) -> bool {
        self.verdicts.iter().all(Option::is_some)
    }

    fn decide(&mut self, i: usize, verdict: Verdict) {
        let Verdict {
            passed,
            detail,
            trace,
        } = verdict;
        let id = self.expectations[i].id.clone();
        let traced = trace.unwrap_or_else(|| detail.clone());
        self.trace.emit(if passed {
            EventKind::CheckPassed {
                check: id.clone(),
                detail: traced,
            }
        } else {
            EventKind::CheckFailed {
                check: id.clone(),
                detail: traced,
            }
        });
        self.verdicts[i] = Some(CheckOutcome { id, passed, detail });
    }

    /// Decides what can be decided at this instant.
    pub fn observe(&mut self, obs: &Observation<'_>) {
        for i in 0..self.expectations.len() {
            if self.verdicts[i].is_some() {
                continue;
            }
            let cx = Cx {
                obs,
                setting: &self.setting,
                trace: self.trace,
            };
            let e = &mut self.expectations[i];
            let verdict = match (e.shape.timing, e.shape.about) {
                (Timing::AtEnd, _) => None,
                (Timing::Observed, About::Traffic) => e.kind.observe_traffic(&cx),
                (Timing::Observed, about) => {
                    let Some(send) = e
                        .step
                        .as_ref()
                        .and_then(|step| obs.sends.iter().find(|s| s.step_id == *step))
                    else {
                        continue;
                    };
                    match &send.refused {
                        Some(r) if about == About::AcceptedMessage => Some(Verdict::fail(format!(
                            "the provider refused the message: {}",
                            r.text
                        ))),
                        _ => e.kind.observe(&cx, send),
                    }
                }
            };
            if let Some(v) = verdict {
                self.decide(i, v);
            }
        }
    }

    /// Gives every undecided expectation its last call at the end of the scenario, and
    /// fails what is still undecided.
    pub fn finish(&mut self, obs: &Observation<'_>) {
        for timing in [Timing::AtEnd, Timing::Observed] {
            for i in 0..self.expectations.len() {
                if self.verdicts[i].is_some() || self.expectations[i].shape.timing != timing {
                    continue;
                }
                let cx = Cx {
                    obs,
                    setting: &self.setting,
                    trace: self.trace,
                };
                if let Some(v) = self.expectations[i].kind.finish(&cx) {
                    self.decide(i, v);
                }
            }
        }
        for i in 0..self.expectations.len() {
            if self.verdicts[i].is_some() {
                continue;
            }
            let cx = Cx {
                obs,
                setting: &self.setting,
                trace: self.trace,
            };
            let reasons = super::unmet::reasons(&cx, &self.expectations[i]);
            let why = if reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", reasons.join("; "))
            };
            self.decide(
                i,
                Verdict::fail(format!(
                    "not observed by the end of the scenario at {}{why}",
                    format_instant(&obs.now)
                )),
            );
        }
    }

    /// The verdicts in the order of the file.
    pub fn outcomes(&self) -> Vec<CheckOutcome> {
        self.verdicts.iter().flatten().cloned().collect()
    }
}
