//! Programmed citizens through the runner (docs/scenarios.md, "Programmed citizens"): a
//! `high-after:P2D` citizen logs in at level high two days after each De-Mail reaches her
//! mailbox, and the Abholbestätigung follows that login; `never-logs-in` and `account-closed`
//! citizens never log in; a scripted login the provider refuses is traced, not fatal.

use std::path::{Path, PathBuf};

use demail_harness::run::{self, RunOptions};
use demail_harness::scenario;
use demail_sim::trace::{Event, EventKind};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run_text(text: &str, label: &str) -> run::RunResult {
    let root = workspace().join("scenarios");
    let path = root.join("certification/zustellung/programmierte-postfaecher.toml");
    let s = scenario::parse(text, &path, &root).unwrap_or_else(|e| panic!("{e}"));
    let out = std::env::temp_dir().join(format!("demail-test-{label}-{}", std::process::id()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run::run(&s, &RunOptions::new(out)))
        .unwrap_or_else(|e| panic!("run failed: {e:#}"))
}

const SCENARIO: &str =
    include_str!("../../scenarios/certification/zustellung/programmierte-postfaecher.toml");

fn high_logins<'a>(events: &'a [Event], citizen: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::CitizenLogin { citizen: c, level, .. } if c == citizen && level == "high"))
        .collect()
}

#[test]
fn high_after_logs_in_at_the_eingang_plus_the_delay_and_the_abholbestaetigung_follows() {
    let r = run_text(SCENARIO, "programmed");
    assert!(r.passed(), "{}", r.summary);
    let events = r.events();
    let hanna = "hanna.abholer@dmda-a.de-mail.de";
    // Every De-Mail laid into Hanna's mailbox, with its Eingang.
    let stored: Vec<(&Event, &str)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ProviderStored {
                mailbox,
                message_id,
                message_type,
                ..
            } if mailbox == hanna && message_type == "normal" => Some((e, message_id.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(stored.len(), 2, "Empfangsbescheinigung and Bescheid");
    let logins = high_logins(&events, "hanna");
    assert_eq!(logins.len(), 2);
    for ((s, _), login) in stored.iter().zip(&logins) {
        // No change of summer time between (it starts on 30.03.2025): two days are 48 hours.
        let eingang: jiff::Timestamp = s.at.parse().unwrap();
        let expected = eingang.checked_add(jiff::Span::new().hours(48)).unwrap();
        let at: jiff::Timestamp = login.at.parse().unwrap();
        assert_eq!(at, expected, "{} {}", s.at, login.at);
    }
    assert_eq!(logins[1].at, "2025-03-12T09:00:00+01:00");
    // The Abholbestätigung for the Bescheid comes right after the second login.
    let bescheid = stored[1].1;
    let next = events
        .iter()
        .find(|e| e.seq > logins[1].seq)
        .expect("an event after the login");
    match &next.kind {
        EventKind::ConfirmationIssued {
            confirmation,
            for_message_id,
            ..
        } => {
            assert_eq!(confirmation, "retrieve");
            assert_eq!(for_message_id, bescheid);
        }
        other => panic!("expected the Abholbestätigung, got {other:?}"),
    }
    // The first login (after the Empfangsbescheinigung) issued nothing.
    let after_first = events.iter().find(|e| e.seq > logins[0].seq).unwrap();
    assert!(
        !matches!(after_first.kind, EventKind::ConfirmationIssued { .. }),
        "{after_first:?}"
    );
    assert!(high_logins(&events, "max").is_empty(), "never-logs-in");
    assert!(high_logins(&events, "klara").is_empty(), "account-closed");
}

/// A scripted login the provider refuses (a closed account) is its answer: traced as
/// `provider.refused` at stage LOGIN with 525 5.7.13, and the run goes on.
#[test]
fn a_refused_scripted_login_is_traced_and_the_run_goes_on() {
    let text = format!(
        "{SCENARIO}\n[[step]]\nid = \"anmeldung-klara\"\nat = \"P2D\"\ncitizen = \"klara\"\nlogin = \"high\"\n"
    );
    let r = run_text(&text, "programmed-refused-login");
    assert!(r.passed(), "{}", r.summary);
    let events = r.events();
    let refused: Vec<(&str, u16, &str)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ProviderRefused {
                stage,
                code,
                enhanced,
                ..
            } if stage == "LOGIN" => Some((e.at.as_str(), *code, enhanced.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(refused, vec![("2025-03-05T09:00:00+01:00", 525, "5.7.13")]);
}
