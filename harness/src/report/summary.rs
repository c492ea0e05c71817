//! The run summary: a short deterministic text (golden-checked) naming the scenario, seed,
//! times, counts and every check's verdict. Wall times go to the terminal only.

use demail_sim::clock::format_instant;
use demail_sim::trace::{Event, EventKind};

use crate::model::CheckOutcome;
use crate::scenario::Scenario;

/// Renders the summary.
pub fn summary(
    scenario: &Scenario,
    seed: u64,
    events: &[Event],
    checks: &[CheckOutcome],
) -> String {
    let count = |f: fn(&EventKind) -> bool| events.iter().filter(|e| f(&e.kind)).count();
    let accepted = count(|k| matches!(k, EventKind::ProviderAccepted { .. }));
    let refused = count(|k| matches!(k, EventKind::ProviderRefused { .. }));
    let stored = count(|k| matches!(k, EventKind::ProviderStored { .. }));
    let pushed = count(|k| matches!(k, EventKind::ProviderDelivered { .. }));
    let push_failed = count(|k| matches!(k, EventKind::ProviderDeliveryFailed { .. }));
    let confirmations = count(|k| matches!(k, EventKind::ConfirmationIssued { .. }));
    let notifications = count(|k| matches!(k, EventKind::NotificationIssued { .. }));
    let warnings = count(|k| matches!(k, EventKind::ProviderWarning { .. }));
    let late = count(|k| {
        matches!(
            k,
            EventKind::ProviderLate {
                delivered_at: Some(_),
                ..
            }
        )
    });
    let overdue = count(|k| {
        matches!(
            k,
            EventKind::ProviderLate {
                delivered_at: None,
                ..
            }
        )
    });
    let passed = checks.iter().filter(|c| c.passed).count();
    let end = events.last().map(|e| e.at.clone()).unwrap_or_default();
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
    out.push_str(&format!("events         {}\n", events.len()));
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
