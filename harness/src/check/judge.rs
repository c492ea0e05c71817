//! The judge: asks each undecided expectation's kind at every instant, in file order, and
//! records each verdict once, as `check.passed` or `check.failed` in the trace.
//!
//! The order is part of the trace: at one instant the expectations are asked in file order,
//! and a kind's own events (a computed deadline, a Zustellung) come right before its verdict.
//! At the end the kinds decided only then ([`Timing::AtEnd`]) are asked first, then the
//! observed ones get their last call, then whatever is left fails as not observed, with the
//! reasons the trace knows (`unmet.rs`).
//!
//! The kinds about a traffic read the traffic's [`Ledger`] (`replies.rs`): the judge takes in
//! each arrival's send once and hands the replies its sweeps find to those kinds, before it
//! asks them at that instant.

use std::collections::BTreeMap;

use demail_sim::clock::format_instant;
use demail_sim::intake::config::IntakeFile;
use demail_sim::law::Place;
use demail_sim::trace::{EventKind, Trace};

use super::replies::Ledger;
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
    verdicts: Vec<Option<CheckOutcome>>,
    reads: Reads<'a>,
}

/// What every kind reads besides the observation (apart from the expectations, so that a
/// kind may be asked while the others' context is lent out).
struct Reads<'a> {
    setting: Setting<'a>,
    trace: &'a Trace,
    /// One ledger per traffic an expectation names (`replies.rs`).
    ledgers: BTreeMap<String, Ledger>,
}

impl Reads<'_> {
    fn cx<'s>(&'s self, obs: &'s Observation<'s>) -> Cx<'s> {
        Cx {
            obs,
            setting: &self.setting,
            trace: self.trace,
            ledgers: &self.ledgers,
        }
    }
}

impl<'a> Judge<'a> {
    pub fn new(expectations: &[Expectation], setting: Setting<'a>, trace: &'a Trace) -> Self {
        let ledgers = expectations
            .iter()
            .filter_map(|e| e.traffic.clone())
            .map(|t| (t, Ledger::default()))
            .collect();
        Self {
            expectations: expectations.to_vec(),
            verdicts: vec![None; expectations.len()],
            reads: Reads {
                setting,
                trace,
                ledgers,
            },
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
        self.reads.trace.emit(if passed {
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

    /// Takes in the traffic sends made since the last observation, and sweeps each ledger
    /// that wants it (`all`: every ledger, before the last call), handing the replies found
    /// to the undecided expectations of the traffic.
    fn keep_ledgers(&mut self, obs: &Observation<'_>, all: bool) {
        for s in obs.fresh {
            if let Some((traffic, _)) = s.step_id.rsplit_once('#')
                && let Some(ledger) = self.reads.ledgers.get_mut(traffic)
            {
                ledger.absorb(s);
            }
        }
        let traffics: Vec<String> = self.reads.ledgers.keys().cloned().collect();
        for traffic in traffics {
            let ledger = &self.reads.ledgers[&traffic];
            // An expectation observed at each instant decides once the traffic is complete,
            // from every message's reply as of now.
            let watched = ledger.sent() >= obs.traffic_total(&traffic)
                && (0..self.expectations.len()).any(|i| {
                    self.verdicts[i].is_none()
                        && self.expectations[i].shape.timing == Timing::Observed
                        && self.expectations[i].traffic.as_deref() == Some(&traffic)
                });
            if !(all || watched || ledger.wants_sweep()) {
                continue;
            }
            let setting = &self.reads.setting;
            let Some(ledger) = self.reads.ledgers.get_mut(&traffic) else {
                continue;
            };
            let replied = ledger.sweep(obs.world, |m, id| {
                super::lookup::is_reply_to(setting, m, id)
            });
            if replied.is_empty() {
                continue;
            }
            let cx = self.reads.cx(obs);
            for (e, verdict) in self.expectations.iter_mut().zip(&self.verdicts) {
                if verdict.is_none() && e.traffic.as_deref() == Some(&traffic) {
                    for r in &replied {
                        e.kind.replied(&cx, r);
                    }
                }
            }
        }
    }

    /// Decides what can be decided at this instant.
    pub fn observe(&mut self, obs: &Observation<'_>) {
        self.keep_ledgers(obs, false);
        for i in 0..self.expectations.len() {
            if self.verdicts[i].is_some() {
                continue;
            }
            let cx = self.reads.cx(obs);
            let e = &mut self.expectations[i];
            let verdict = match (e.shape.timing, e.shape.about) {
                (Timing::AtEnd, _) => None,
                (Timing::Observed, About::Traffic) => e.kind.observe_traffic(&cx),
                (Timing::Observed, about) => {
                    let Some(send) = e
                        .step
                        .as_ref()
                        .and_then(|step| obs.steps.iter().find(|s| s.step_id == *step))
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
        self.keep_ledgers(obs, true);
        for timing in [Timing::AtEnd, Timing::Observed] {
            for i in 0..self.expectations.len() {
                if self.verdicts[i].is_some() || self.expectations[i].shape.timing != timing {
                    continue;
                }
                let cx = self.reads.cx(obs);
                if let Some(v) = self.expectations[i].kind.finish(&cx) {
                    self.decide(i, v);
                }
            }
        }
        for i in 0..self.expectations.len() {
            if self.verdicts[i].is_some() {
                continue;
            }
            let cx = self.reads.cx(obs);
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
