//! The run summary: a short deterministic text (golden-checked) naming the scenario, seed,
//! times, counts and every check's verdict. Wall times go to the terminal only.

use demail_sim::clock::format_instant;
use demail_sim::trace::{EventKind, Trace};

use crate::model::CheckOutcome;
use crate::scenario::Scenario;

/// Renders the summary from the run's trace (one pass over its events).
pub fn summary(scenario: &Scenario, seed: u64, trace: &Trace, checks: &[CheckOutcome]) -> String {
    let (mut accepted, mut refused, mut stored, mut pushed, mut push_failed) = (0, 0, 0, 0, 0);
    let (mut confirmations, mut notifications, mut warnings) = (0, 0, 0);
    let (mut late, mut overdue, mut events) = (0, 0, 0);
    let mut end = String::new();
    trace.for_each(|e| {
        events += 1;
        end.clone_from(&e.at);
        match &e.kind {
            EventKind::ProviderAccepted { .. } => accepted += 1,
            EventKind::ProviderRefused { .. } => refused += 1,
            EventKind::ProviderStored { .. } => stored += 1,
            EventKind::ProviderDelivered { .. } => pushed += 1,
            EventKind::ProviderDeliveryFailed { .. } => push_failed += 1,
            EventKind::ConfirmationIssued { .. } => confirmations += 1,
            EventKind::NotificationIssued { .. } => notifications += 1,
            EventKind::ProviderWarning { .. } => warnings += 1,
            EventKind::ProviderLate {
                delivered_at: Some(_),
                ..
            } => late += 1,
            EventKind::ProviderLate {
                delivered_at: None, ..
            } => overdue += 1,
            _ => {}
        }
    });
    let passed = checks.iter().filter(|c| c.passed).count();
    let h = &scenario.file.scenario;
    let mut out = String::new();
    out.push_str(&format!("scenario       {}\n", scenario.name));
    out.push_str(&format!("title          {}\n", h.title));
    out.push_str(&format!("seed           {seed}\n"));
    out.push_str(&format!(
        "start          {} (Land {}, {})\n",
        format_instant(&scenario.start),
        h.land.get_ref(),
        h.municipality.get_ref()
    ));
    out.push_str(&format!("end            {end}\n"));
    let regime = demail_sim::law::regime(scenario.start.date());
    if !regime.in_force(demail_sim::law::Provision::DeMailG) {
        out.push_str(&format!(
            "WARNING        De-Mail-G is not in force on {} (§ 26 De-Mail-G, Fassung 2026-07-19): this run simulates a service without a legal basis\n",
            scenario.start.date()
        ));
    }
    out.push_str(&format!("events         {events}\n"));
    out.push_str(&format!(
        "provider       {accepted} accepted, {refused} refused, {stored} stored, {pushed} pushed to the intake, {push_failed} push failures\n"
    ));
    // Only when there is something late, so that summaries without it stay as they were.
    if late + overdue > 0 {
        out.push_str(&format!(
            "late           {late} delivered after the PVD-FU §4.2 limit, {overdue} undelivered when it passed\n"
        ));
    }
    out.push_str(&format!(
        "confirmations  {confirmations} issued; {notifications} Meldungen; {warnings} warnings\n"
    ));
    out.push_str(&format!(
        "checks         {passed} passed, {} failed\n",
        checks.len() - passed
    ));
    for c in checks {
        let verdict = if c.passed { "PASS" } else { "FAIL" };
        out.push_str(&format!("  {verdict} {}: {}\n", c.id, c.detail));
    }
    out
}
