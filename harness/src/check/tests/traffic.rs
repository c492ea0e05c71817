//! The kinds about a traffic (`all-replies`, `latency`, `throughput`) through the judge: each
//! send is given once, replies appear in the mailboxes over time, and the judge keeps only the
//! messages still without reply (`check/replies.rs`).

use super::*;
use jiff::SignedDuration;

use crate::check::due::due;

const TRAFFIC_CHECKS: &str = r#"
[[expect]]
id = "alle"
kind = "all-replies"
traffic = "gewerbe"
rule = "gewerbe-empfang"

[[expect]]
id = "p50"
kind = "latency"
traffic = "gewerbe"
percentile = 50
within = "PT5H"

[[expect]]
id = "durchsatz"
kind = "throughput"
traffic = "gewerbe"
per_day = 1
"#;

fn traffic_expectations(bench: &Bench, toml: &str) -> Vec<Expectation> {
    bench.expectations_about(toml, &[], &["gewerbe"])
}

/// Arrival `n` of traffic "gewerbe", from its own citizen, sent `offset` after the start.
fn arrival(bench: &Bench, n: usize, offset: &str, refused: bool) -> SendOutcome {
    SendOutcome {
        step_id: format!("gewerbe#{n}"),
        citizen: format!("c{n}").into(),
        from: format!("c{n}@dmda-a.de-mail.de").into(),
        sent_at: bench
            .start
            .checked_add(offset.parse::<Span>().unwrap())
            .unwrap(),
        rfc_message_id: format!("<a{n}@example>"),
        private_id: None,
        refused: refused.then(|| {
            Box::new(demail_sim::refusal::Refusal::new(
                550,
                "5.7.1",
                "550 5.7.1 refused",
            ))
        }),
    }
}

/// The instant `offset` after the start, the clock left where it is.
fn later(bench: &Bench, offset: &str) -> Timestamp {
    bench
        .start
        .checked_add(offset.parse::<Span>().unwrap())
        .unwrap()
        .timestamp()
}

/// The intake's reply to `send`, laid into the sender's mailbox at `at`.
fn reply(send: &SendOutcome, at: Timestamp) -> StoredMessage {
    StoredMessage {
        mailbox: send.from.to_string(),
        message_id: format!("r-{}", send.step_id),
        rfc_message_id: None,
        in_reply_to: Some(send.rfc_message_id.clone()),
        message_type: MessageType::Normal,
        from: INTAKE.into(),
        subject: "Empfangsbescheinigung".into(),
        private_id: None,
        stored_at: at,
        raw: Vec::new(),
    }
}

/// What the judge sees at `at` after the start (the clock moves there).
fn seen<'a>(
    bench: &Bench,
    at: &str,
    fresh: &'a [SendOutcome],
    world: &'a Recorded,
    totals: &'a [(String, usize)],
) -> Observation<'a> {
    Observation {
        now: bench.at(at),
        steps: &[],
        fresh,
        world,
        intake_address: INTAKE,
        trust_anchor: &[],
        traffic_totals: totals,
        dms: None,
    }
}

fn observe(
    bench: &Bench,
    judge: &mut Judge<'_>,
    at: &str,
    fresh: &[SendOutcome],
    world: &Recorded,
    totals: &[(String, usize)],
) {
    judge.observe(&seen(bench, at, fresh, world, totals));
}

#[test]
fn traffic_kinds_count_each_reply_once_and_in_send_order() {
    let bench = Bench::new();
    let expectations = traffic_expectations(&bench, TRAFFIC_CHECKS);
    let mut judge = bench.judge(&expectations);
    let totals = [("gewerbe".to_string(), 5)];
    let sends = [
        arrival(&bench, 1, "PT0H", false),
        arrival(&bench, 2, "PT0H", true),
        arrival(&bench, 3, "PT1H", false),
        arrival(&bench, 4, "PT2H", false),
        arrival(&bench, 5, "PT3H", false),
    ];
    let due_4 = due("gewerbe-empfang", &sends[3].sent_at, &bench.place)
        .unwrap()
        .due
        .timestamp();
    let mut world = Recorded::default();
    observe(&bench, &mut judge, "PT0H", &sends[..2], &world, &totals);
    // #3 is replied before #1: the late list and the percentiles must not depend on it.
    world.lay(reply(&sends[2], later(&bench, "PT5H")));
    observe(&bench, &mut judge, "PT1H", &sends[2..3], &world, &totals);
    world.lay(reply(&sends[0], later(&bench, "PT2H")));
    observe(&bench, &mut judge, "PT2H", &sends[3..4], &world, &totals);
    observe(&bench, &mut judge, "PT3H", &sends[4..5], &world, &totals);
    // Complete from here on: the judge sweeps at every observation; nothing counts twice.
    for offset in ["PT6H", "P1D", "P2D"] {
        observe(&bench, &mut judge, offset, &[], &world, &totals);
    }
    assert!(bench.traced_detail("alle").is_empty(), "decided too early");
    // #4's reply comes after its deadline; #5 never gets one.
    let late = due_4.checked_add(SignedDuration::from_mins(30)).unwrap();
    world.lay(reply(&sends[3], late));
    observe(&bench, &mut judge, "P7D", &[], &world, &totals);
    assert_eq!(
        bench.traced_detail("alle"),
        "5 sent, 4 accepted, 1 refused by the provider; 2 replied before the gewerbe-empfang deadline (p50 2h 0m, p95 4h 0m, max 4h 0m), 1 late (gewerbe#4), 1 without reply (gewerbe#5)"
    );
    judge.finish(&seen(&bench, "P8D", &[], &world, &totals));
    let outcome =
        |id: &str| -> CheckOutcome { judge.outcomes().into_iter().find(|o| o.id == id).unwrap() };
    let p50 = outcome("p50");
    assert_eq!(
        p50.detail,
        "p50 of the reply time over 4 accepted messages of gewerbe is 4h 0m (limit 5h 0m; 1 without reply, 1 refused)"
    );
    assert!(p50.passed);
    let durchsatz = outcome("durchsatz");
    assert_eq!(
        durchsatz.detail,
        "3 replies to gewerbe over 8.0 days from the first arrival: 0.4 per day (required 1; 4 accepted, 1 refused)"
    );
    assert!(!durchsatz.passed);
    assert!(!outcome("alle").passed);
}

#[test]
fn all_replies_waits_for_open_messages_and_passes_when_all_replied() {
    let bench = Bench::new();
    let expectations = traffic_expectations(&bench, TRAFFIC_CHECKS);
    let mut judge = bench.judge(&expectations);
    let totals = [("gewerbe".to_string(), 2)];
    let sends = [
        arrival(&bench, 1, "PT0H", false),
        arrival(&bench, 2, "PT1H", false),
    ];
    let mut world = Recorded::default();
    observe(&bench, &mut judge, "PT0H", &sends[..1], &world, &totals);
    observe(&bench, &mut judge, "PT1H", &sends[1..], &world, &totals);
    world.lay(reply(&sends[1], later(&bench, "PT3H")));
    observe(&bench, &mut judge, "PT3H", &[], &world, &totals);
    assert!(bench.traced_detail("alle").is_empty(), "#1 is still open");
    world.lay(reply(&sends[0], later(&bench, "P1D")));
    observe(&bench, &mut judge, "P1D", &[], &world, &totals);
    assert_eq!(
        bench.traced_detail("alle"),
        "2 sent, 2 accepted, 0 refused by the provider; 2 replied before the gewerbe-empfang deadline (p50 2h 0m, p95 1d 0h 0m, max 1d 0h 0m), 0 late, 0 without reply"
    );
    assert_eq!(
        bench.decisions(),
        [("passed".to_string(), "alle".to_string())]
    );
}
