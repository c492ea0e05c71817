//! Unit tests of the expectation kinds and the judge on observations recorded by hand: no
//! provider, no intake, no socket. The mailboxes are a map, the trace a fresh one on a virtual
//! clock that the test moves.

use std::collections::BTreeMap;

use demail_sim::clock::VirtualClock;
use demail_sim::demail::MessageType;
use demail_sim::demail::acknowledge::AckKind;
use demail_sim::demail::confirmation::{self, ConfirmationFacts};
use demail_sim::demail::headers::RawMessage;
use demail_sim::demail::integrity::{self, HashAlg, Signer};
use demail_sim::intake::config::IntakeFile;
use demail_sim::law::{Land, Place};
use demail_sim::pki::TestPki;
use demail_sim::provider::StoredMessage;
use demail_sim::trace::{EventKind, Trace};
use jiff::{Span, Timestamp, ZonedDateTime};
use serde::Deserialize;

use super::{ExpectSpec, Expectation, Judge, KINDS, Known, Setting, parse_all};

mod traffic;
use crate::model::{CheckOutcome, Mailboxes, Observation, ReceiveMode, SendOutcome};

const START: &str = "2025-03-03T09:00:00+01:00[Europe/Berlin]";
const SENDER: &str = "erika.mustermann@dmda-a.de-mail.de";
const INTAKE: &str = "gewerbeangelegenheiten@dresden.de-mail.de";
const RFC_ID: &str = "<c1@example>";
const PRIVATE_ID: &str = "GA-4711";

/// Mailboxes recorded by hand.
#[derive(Default)]
struct Recorded(BTreeMap<String, Vec<StoredMessage>>);

impl Mailboxes for Recorded {
    fn mailbox(&self, address: &str) -> anyhow::Result<Vec<StoredMessage>> {
        Ok(self.0.get(address).cloned().unwrap_or_default())
    }
}

impl Recorded {
    fn lay(&mut self, m: StoredMessage) {
        self.0.entry(m.mailbox.clone()).or_default().push(m);
    }
}

/// What a scenario would give the judge: its place, the default intake, a trace.
struct Bench {
    start: ZonedDateTime,
    place: Place,
    intake: IntakeFile,
    clock: VirtualClock,
    trace: Trace,
}

impl Bench {
    fn new() -> Self {
        let start: ZonedDateTime = START.parse().unwrap();
        let clock = VirtualClock::new(&start);
        Self {
            place: Place::municipality(Land::Sachsen, "Dresden"),
            intake: IntakeFile::default_dresden().unwrap(),
            trace: Trace::new(clock.clone()),
            clock,
            start,
        }
    }

    /// Validates `[[expect]]` tables about step "anzeige" as the scenario loader would.
    fn expectations(&self, toml: &str) -> Vec<Expectation> {
        self.expectations_about(toml, &["anzeige"], &[])
    }

    /// Validates `[[expect]]` tables in a file with these steps and traffics.
    fn expectations_about(
        &self,
        toml: &str,
        steps: &[&str],
        traffics: &[&str],
    ) -> Vec<Expectation> {
        #[derive(Deserialize)]
        struct Tables {
            expect: Vec<ExpectSpec>,
        }
        let tables: Tables = toml::from_str(toml).unwrap();
        let procedures: Vec<&str> = self
            .intake
            .procedures
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        parse_all(
            &tables.expect,
            &Known {
                start: &self.start,
                place: &self.place,
                step_ids: steps,
                traffic_ids: traffics,
                procedures: &procedures,
                has_dms: false,
                receive: ReceiveMode::Push,
            },
        )
        .unwrap()
    }

    /// The located error `parse_all` gives for `[[expect]]` tables about step "anzeige".
    fn error(&self, toml: &str) -> String {
        #[derive(Deserialize)]
        struct Tables {
            expect: Vec<ExpectSpec>,
        }
        let tables: Tables = toml::from_str(toml).unwrap();
        let err = parse_all(
            &tables.expect,
            &Known {
                start: &self.start,
                place: &self.place,
                step_ids: &["anzeige"],
                traffic_ids: &[],
                procedures: &[],
                has_dms: false,
                receive: ReceiveMode::Push,
            },
        )
        .expect_err("an error");
        format!("{}: {}", &toml[err.span.clone()], err.message)
    }

    fn judge(&self, expectations: &[Expectation]) -> Judge<'_> {
        let setting = Setting {
            place: &self.place,
            intake: &self.intake,
            citizens: vec![(SENDER.into(), false)],
        };
        Judge::new(expectations, setting, &self.trace)
    }

    /// The instant `offset` after the start; the clock moves there.
    fn at(&self, offset: &str) -> ZonedDateTime {
        let at = self
            .start
            .checked_add(offset.parse::<Span>().unwrap())
            .unwrap();
        self.clock.advance_to(at.timestamp());
        at
    }

    /// The detail the trace holds for a check's verdict.
    fn traced_detail(&self, id: &str) -> String {
        self.trace
            .events()
            .into_iter()
            .find_map(|e| match e.kind {
                EventKind::CheckPassed { check, detail }
                | EventKind::CheckFailed { check, detail }
                    if check == id =>
                {
                    Some(detail)
                }
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The trace's check verdicts and deadlines, in order, as (kind, check or rule).
    fn decisions(&self) -> Vec<(String, String)> {
        self.trace
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::CheckPassed { check, .. } => Some(("passed".into(), check)),
                EventKind::CheckFailed { check, .. } => Some(("failed".into(), check)),
                EventKind::DeadlineComputed { rule, .. } => Some(("deadline".into(), rule)),
                _ => None,
            })
            .collect()
    }
}

/// Erika's Gewerbeanzeige, sent at the start.
fn anzeige(bench: &Bench, refused: Option<demail_sim::refusal::Refusal>) -> SendOutcome {
    SendOutcome {
        step_id: "anzeige".into(),
        citizen: "erika".into(),
        from: SENDER.into(),
        sent_at: bench.start.clone(),
        rfc_message_id: RFC_ID.into(),
        private_id: Some(PRIVATE_ID.into()),
        refused: refused.map(Box::new),
    }
}

/// The provider's Eingangsbestätigung for the Anzeige, signed under a fresh test CA, laid into
/// Erika's mailbox at `stored_at`. Returns it and the CA (DER), the judge's trust anchor.
fn eingangsbestaetigung(stored_at: Timestamp) -> (StoredMessage, Vec<u8>) {
    demail_sim::init_crypto();
    let pki = TestPki::generate("check-tests").unwrap();
    let id = pki
        .issue("dmda-a.de-mail.de", &["dmda-a.de-mail.de"])
        .unwrap();
    let signer = Signer::ecdsa_p256_from_pkcs8_der(&id.key_der, id.cert_der.to_vec()).unwrap();
    let original = format!(
        "From: <{SENDER}>\r\nTo: <{INTAKE}>\r\nSubject: Gewerbeanzeige\r\n\
         Date: Mon, 3 Mar 2025 09:00:00 +0100\r\nMessage-ID: {RFC_ID}\r\n\
         X-de-mail-sender: {SENDER}\r\nX-de-mail-message-type: normal\r\n\
         X-de-mail-message-id: m000001@dmda-a.de-mail.de\r\nX-de-mail-private-id: {PRIVATE_ID}\r\n\r\nHallo\r\n"
    );
    let mut original = RawMessage::parse(original.as_bytes()).unwrap();
    integrity::seal(&mut original, HashAlg::Sha256, None).unwrap();
    let facts = ConfirmationFacts {
        provider_domain: "dmda-a.de-mail.de".into(),
        provider_name: "DMDA A (simuliert)".into(),
        message_id: "m000002@dmda-a.de-mail.de".into(),
        date: "Mon, 3 Mar 2025 09:05:00 +0100".into(),
        time: "2025-03-03T09:05:00+01:00".into(),
        delivery_time: None,
        original_sender: SENDER.into(),
        original_recipient: INTAKE.into(),
        original_subject: "Gewerbeanzeige".into(),
        original_rfc_message_id: Some(RFC_ID.into()),
    };
    let built = confirmation::build(AckKind::Receipt, &facts, &original, Some(&signer)).unwrap();
    let stored = StoredMessage {
        mailbox: SENDER.into(),
        message_id: "m000002@dmda-a.de-mail.de".into(),
        rfc_message_id: Some("<m000002@dmda-a.de-mail.de>".into()),
        in_reply_to: Some(RFC_ID.into()),
        message_type: MessageType::ConfirmationOfReceipt,
        from: built.from,
        subject: built.subject,
        private_id: Some(PRIVATE_ID.into()),
        stored_at,
        raw: built.raw,
    };
    (stored, pki.ca_der().to_vec())
}

fn observation<'a>(
    now: ZonedDateTime,
    sends: &'a [SendOutcome],
    world: &'a Recorded,
    anchor: &'a [u8],
) -> Observation<'a> {
    Observation {
        now,
        steps: sends,
        fresh: &[],
        world,
        intake_address: INTAKE,
        trust_anchor: anchor,
        traffic_totals: &[],
        dms: None,
    }
}

const EINGANG_8H: &str = r#"
[[expect]]
id = "eingangsbestaetigung"
step = "anzeige"
kind = "confirmation"
confirmation = "receipt"
within = "PT8H"
"#;

/// A signed Eingangsbestätigung five minutes after sending passes at the first instant that
/// sees it, with the detail the trace and summary carry.
#[test]
fn a_confirmation_in_time_passes() {
    let bench = Bench::new();
    let expectations = bench.expectations(EINGANG_8H);
    let mut judge = bench.judge(&expectations);
    let sends = [anzeige(&bench, None)];
    let (confirmation, anchor) = eingangsbestaetigung(bench.at("PT5M").timestamp());
    let mut world = Recorded::default();
    world.lay(confirmation);
    judge.observe(&observation(bench.at("PT1H"), &sends, &world, &anchor));
    assert!(judge.all_decided());
    assert_eq!(
        judge.outcomes(),
        [CheckOutcome {
            id: "eingangsbestaetigung".into(),
            passed: true,
            detail: "Eingangsbestätigung m000002@dmda-a.de-mail.de from Eingangsbestaetigung@dmda-a.de-mail.de in the sender's mailbox 0h 5m after sending (limit PT8H), private-id copied, signed by dmda-a.de-mail.de (sha256/ec-dsa)".into(),
        }]
    );
    assert_eq!(
        bench.decisions(),
        [("passed".into(), "eingangsbestaetigung".into())]
    );
}

/// Without a confirmation the expectation stays open up to its limit and fails at the first
/// instant after it.
#[test]
fn a_confirmation_that_does_not_come_fails_after_its_limit() {
    let bench = Bench::new();
    let expectations = bench.expectations(EINGANG_8H);
    let mut judge = bench.judge(&expectations);
    let sends = [anzeige(&bench, None)];
    let world = Recorded::default();
    for offset in ["PT0S", "PT1H", "PT8H"] {
        judge.observe(&observation(bench.at(offset), &sends, &world, &[]));
        assert!(!judge.all_decided(), "decided at {offset}");
    }
    judge.observe(&observation(bench.at("PT9H"), &sends, &world, &[]));
    assert_eq!(
        judge.outcomes(),
        [CheckOutcome {
            id: "eingangsbestaetigung".into(),
            passed: false,
            detail: "no Eingangsbestätigung within PT8H of sending".into(),
        }]
    );
    let events = bench.trace.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].at, "2025-03-03T18:00:00+01:00");
}

/// A confirmation after its limit fails with how late it came, whatever its signature.
#[test]
fn a_late_confirmation_fails() {
    let bench = Bench::new();
    let expectations = bench.expectations(EINGANG_8H);
    let mut judge = bench.judge(&expectations);
    let sends = [anzeige(&bench, None)];
    let (confirmation, _) = eingangsbestaetigung(bench.at("PT9H").timestamp());
    let mut world = Recorded::default();
    world.lay(confirmation);
    judge.observe(&observation(bench.at("PT10H"), &sends, &world, &[]));
    assert_eq!(
        judge.outcomes()[0].detail,
        "Eingangsbestätigung m000002@dmda-a.de-mail.de arrived 9h 0m after sending, later than PT8H"
    );
}

/// A refused message fails every kind about an accepted message, without asking the kind,
/// and passes `refused`; verdicts come in file order.
#[test]
fn a_refusal_fails_the_other_kinds_and_passes_refused() {
    let bench = Bench::new();
    let expectations = bench.expectations(&format!(
        "{EINGANG_8H}
[[expect]]
id = \"abgewiesen\"
step = \"anzeige\"
kind = \"refused\"
code = 550
enhanced = \"5.7.1\"
"
    ));
    let mut judge = bench.judge(&expectations);
    let text = "permanent error (550): 5.7.1 Option authoritative needs a login at level high";
    let sends = [anzeige(
        &bench,
        Some(demail_sim::refusal::Refusal::received(
            550,
            "5.7.1".into(),
            text.into(),
        )),
    )];
    judge.observe(&observation(
        bench.at("PT0S"),
        &sends,
        &Recorded::default(),
        &[],
    ));
    let outcomes = judge.outcomes();
    assert_eq!(
        outcomes[0].detail,
        format!("the provider refused the message: {text}")
    );
    assert!(!outcomes[0].passed);
    assert_eq!(outcomes[1].detail, format!("refused as expected: {text}"));
    assert!(outcomes[1].passed);
    assert_eq!(
        bench.decisions(),
        [
            ("failed".into(), "eingangsbestaetigung".into()),
            ("passed".into(), "abgewiesen".into())
        ]
    );
}

/// A `reply` traces its deadline once, before any verdict, and fails when the deadline of
/// § 15 Abs. 1 GewO passes without a reply.
#[test]
fn a_missing_reply_fails_at_its_deadline_which_is_traced_once() {
    let bench = Bench::new();
    let expectations = bench.expectations(
        r#"
[[expect]]
id = "empfangsbescheinigung"
step = "anzeige"
kind = "reply"
rule = "gewerbe-empfang"
subject_contains = "Empfangsbescheinigung"
"#,
    );
    let mut judge = bench.judge(&expectations);
    let sends = [anzeige(&bench, None)];
    let world = Recorded::default();
    for offset in ["PT0S", "P1D", "P3DT14H59M"] {
        judge.observe(&observation(bench.at(offset), &sends, &world, &[]));
    }
    assert!(!judge.all_decided());
    judge.observe(&observation(bench.at("P3DT15H"), &sends, &world, &[]));
    // The console names the legal last day; the trace keeps the instant after the period.
    let detail = &judge.outcomes()[0].detail;
    assert!(
        detail.starts_with(
            "no reply from gewerbeangelegenheiten@dresden.de-mail.de by the last day Thu 06.03.2025 (gewerbe-empfang: § 15 Abs. 1 GewO"
        ),
        "{detail}"
    );
    assert!(
        bench.traced_detail("empfangsbescheinigung").starts_with(
            "no reply from gewerbeangelegenheiten@dresden.de-mail.de by the deadline 2025-03-07T00:00:00+01:00 (gewerbe-empfang: § 15 Abs. 1 GewO"
        ),
    );
    assert_eq!(
        bench.decisions(),
        [
            ("deadline".into(), "gewerbe-empfang".into()),
            ("failed".into(), "empfangsbescheinigung".into())
        ]
    );
}

/// At the end, what no instant decided fails as not observed, stamped with the end; here
/// the trace knows no reason (the intake got the message and opened a case, nothing more).
#[test]
fn finish_fails_what_was_not_observed() {
    let bench = Bench::new();
    let expectations = bench.expectations(
        r#"
[[expect]]
id = "postweg"
step = "anzeige"
kind = "fallback"
"#,
    );
    let mut judge = bench.judge(&expectations);
    let sends = [anzeige(&bench, None)];
    let mut world = Recorded::default();
    world.lay(intake_copy(&bench));
    received(&bench, "GA-2025-00001", "gewerbeanzeige");
    judge.observe(&observation(bench.at("PT1H"), &sends, &world, &[]));
    judge.finish(&observation(bench.at("P7D"), &sends, &world, &[]));
    assert_eq!(
        judge.outcomes()[0].detail,
        "not observed by the end of the scenario at 2025-03-10T09:00:00+01:00"
    );
}

/// The registry and the `[[expect]]` table agree: kind names are unique, every key a kind
/// takes is a key of the table, and every key of the table belongs to some kind.
#[test]
fn registry_and_expect_table_agree() {
    let mut names: Vec<&str> = KINDS.iter().map(|k| k.shape.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), KINDS.len(), "duplicate kind names");
    let table: ExpectSpec = toml::from_str("id = \"x\"\nkind = \"y\"").unwrap();
    let table_keys: Vec<&str> = table.kind_keys().iter().map(|(k, _)| *k).collect();
    for kind in KINDS {
        for key in kind.shape.keys {
            assert!(table_keys.contains(key), "{}: {key}", kind.shape.name);
        }
    }
    for key in table_keys {
        assert!(
            KINDS.iter().any(|k| k.shape.keys.contains(&key)),
            "no kind takes {key}"
        );
    }
}

/// The intake's reply to the Anzeige from `from`, laid into Erika's mailbox at `stored_at`.
fn intake_reply(from: &str, subject: &str, stored_at: Timestamp) -> StoredMessage {
    StoredMessage {
        mailbox: SENDER.into(),
        message_id: "m000003@dmda-a.de-mail.de".into(),
        rfc_message_id: Some("<r1@dresden.de-mail.de>".into()),
        in_reply_to: Some(RFC_ID.into()),
        message_type: MessageType::Normal,
        from: from.into(),
        subject: subject.into(),
        private_id: None,
        stored_at,
        raw: Vec::new(),
    }
}

/// A `reply` expectation on § 15 Abs. 1 GewO with the given extra key lines.
fn empfang(extra: &str) -> String {
    format!(
        r#"
[[expect]]
id = "empfangsbescheinigung"
step = "anzeige"
kind = "reply"
rule = "gewerbe-empfang"
subject_contains = "Empfangsbescheinigung"
{extra}
"#
    )
}

/// Sent Mon 03.03.2025: §§ 187 Abs. 1, 188 Abs. 1 BGB count Tue, Wed, Thu; the last day is
/// Thu 06.03.2025. A scenario that states it passes, and the detail says so.
#[test]
fn a_stated_last_day_that_agrees_with_the_calendar_passes() {
    let bench = Bench::new();
    let expectations = bench.expectations(&empfang(r#"last_day = "2025-03-06""#));
    let mut judge = bench.judge(&expectations);
    let sends = [anzeige(&bench, None)];
    let mut world = Recorded::default();
    world.lay(intake_reply(
        INTAKE,
        "Empfangsbescheinigung: Gewerbeanzeige",
        bench.at("PT20H").timestamp(),
    ));
    judge.observe(&observation(bench.at("PT20H"), &sends, &world, &[]));
    let outcome = &judge.outcomes()[0];
    assert!(outcome.passed, "{outcome:?}");
    assert!(
        outcome.detail.ends_with(
            "20h 0m after sending, by the last day Thu 06.03.2025 (gewerbe-empfang), as stated"
        ),
        "{outcome:?}"
    );
    assert!(
        bench.traced_detail("empfangsbescheinigung").ends_with(
            "before the deadline 2025-03-07T00:00:00+01:00 (gewerbe-empfang), as stated"
        )
    );
}

/// A stated last day one day later than the calendar's fails at once, even though the reply
/// came in time by both: the disagreement is its own failure and names both days.
#[test]
fn a_stated_last_day_that_disagrees_fails_naming_both_days() {
    let bench = Bench::new();
    let expectations = bench.expectations(&empfang(r#"last_day = "2025-03-07""#));
    let mut judge = bench.judge(&expectations);
    let sends = [anzeige(&bench, None)];
    let mut world = Recorded::default();
    world.lay(intake_reply(
        INTAKE,
        "Empfangsbescheinigung: Gewerbeanzeige",
        bench.at("PT1H").timestamp(),
    ));
    judge.observe(&observation(bench.at("PT1H"), &sends, &world, &[]));
    let outcome = &judge.outcomes()[0];
    assert!(!outcome.passed);
    assert!(
        outcome.detail.starts_with(
            "the scenario states the last day Fri 07.03.2025, but the calendar computes Thu 06.03.2025 (gewerbe-empfang: § 15 Abs. 1 GewO"
        ),
        "{outcome:?}"
    );
    assert_eq!(
        bench.decisions(),
        [
            ("deadline".into(), "gewerbe-empfang".into()),
            ("failed".into(), "empfangsbescheinigung".into())
        ]
    );
}

/// A petition has no statutory deadline for an answer: `within` gives one. A reply after
/// 2 days passes a limit of P3D; without a reply the check fails once P3D is over.
#[test]
fn a_petition_reply_is_checked_with_within() {
    const PETITION: &str = r#"
[[expect]]
id = "antwort"
step = "anzeige"
kind = "reply"
within = "P3D"
subject_contains = "Petition"
"#;
    let bench = Bench::new();
    let expectations = bench.expectations(PETITION);
    let mut judge = bench.judge(&expectations);
    let sends = [anzeige(&bench, None)];
    let mut world = Recorded::default();
    world.lay(intake_reply(
        "petition@dresden.de-mail.de",
        "Empfangsbescheinigung: Petition",
        bench.at("P2D").timestamp(),
    ));
    judge.observe(&observation(bench.at("P2D"), &sends, &world, &[]));
    assert_eq!(
        judge.outcomes()[0].detail,
        "reply \"Empfangsbescheinigung: Petition\" in the sender's mailbox 2d 0h 0m after sending (limit P3D)"
    );
    assert!(judge.outcomes()[0].passed);
    // No deadline of a legal rule is traced for `within`.
    assert_eq!(bench.decisions(), [("passed".into(), "antwort".into())]);

    let bench = Bench::new();
    let expectations = bench.expectations(PETITION);
    let mut judge = bench.judge(&expectations);
    let world = Recorded::default();
    judge.observe(&observation(bench.at("P3D"), &sends, &world, &[]));
    assert!(!judge.all_decided());
    judge.observe(&observation(bench.at("P3DT1H"), &sends, &world, &[]));
    assert_eq!(
        judge.outcomes()[0].detail,
        "no reply from gewerbeangelegenheiten@dresden.de-mail.de within P3D of sending (by 2025-03-06T09:00:00+01:00)"
    );
}

/// Bad explicit dates are located errors at the value: a date that does not parse, a
/// `last_day` on a kind without a deadline, with `within`, or with an hour-based rule, and
/// `rule` together with `within`.
#[test]
fn bad_explicit_dates_are_located_errors() {
    let bench = Bench::new();
    let bad = bench.error(&empfang(r#"last_day = "2025-02-30""#));
    assert!(
        bad.starts_with("\"2025-02-30\": last_day \"2025-02-30\" is not a date: ")
            && bad.ends_with("; expected a day such as \"2025-12-22\""),
        "{bad}"
    );
    let on_confirmation = bench.error(&format!("{EINGANG_8H}last_day = \"2025-03-06\"\n"));
    assert!(
        on_confirmation.starts_with(
            "\"2025-03-06\": key `last_day` does not apply to an expectation of kind \"confirmation\""
        ),
        "{on_confirmation}"
    );
    let with_within = bench.error(
        "[[expect]]\nid = \"a\"\nstep = \"anzeige\"\nkind = \"reply\"\nwithin = \"P3D\"\nlast_day = \"2025-03-06\"\nsubject_contains = \"x\"\n",
    );
    assert!(
        with_within.starts_with("\"2025-03-06\": `last_day` needs a `rule`"),
        "{with_within}"
    );
    let hours = bench.error(
        "[[expect]]\nid = \"a\"\nstep = \"anzeige\"\nkind = \"reply\"\nrule = \"provider-mailbox\"\nlast_day = \"2025-03-03\"\nsubject_contains = \"x\"\n",
    );
    assert!(
        hours.contains("rule \"provider-mailbox\" gives a limit in hours, not a last day"),
        "{hours}"
    );
    let both = bench.error(&empfang(r#"within = "P3D""#));
    assert!(both.starts_with("\"P3D\": give either `rule`"), "{both}");
}

/// The Anzeige as laid into the intake's mailbox (`m000001`), found by its Message-ID.
fn intake_copy(bench: &Bench) -> StoredMessage {
    StoredMessage {
        mailbox: INTAKE.into(),
        message_id: "m000001@dmda-a.de-mail.de".into(),
        rfc_message_id: Some(RFC_ID.into()),
        in_reply_to: None,
        message_type: MessageType::Normal,
        from: SENDER.into(),
        subject: "Gewerbeanzeige".into(),
        private_id: Some(PRIVATE_ID.into()),
        stored_at: bench.start.timestamp(),
        raw: Vec::new(),
    }
}

/// The intake's `intake.received` for the Anzeige as case `aktenzeichen` of `procedure`.
fn received(bench: &Bench, aktenzeichen: &str, procedure: &str) {
    bench.trace.emit(EventKind::IntakeReceived {
        mailbox: INTAKE.into(),
        aktenzeichen: aktenzeichen.into(),
        procedure: procedure.into(),
        message_id: "m000001@dmda-a.de-mail.de".into(),
        citizen: SENDER.into(),
        binding: true,
        reason: "test".into(),
    });
}

/// The intake's document asking for an Abholbestätigung, in Erika's mailbox at `stored_at`.
fn document(stored_at: Timestamp) -> StoredMessage {
    StoredMessage {
        raw: format!(
            "From: <{INTAKE}>\r\nTo: <{SENDER}>\r\nSubject: Bescheid\r\nIn-Reply-To: {RFC_ID}\r\n\
             X-de-mail-confirmation-of-retrieve: yes\r\n\r\nBescheid\r\n"
        )
        .into_bytes(),
        ..intake_reply(INTAKE, "Bescheid", stored_at)
    }
}

/// Runs the judge to the end at `end` (observing once at `end` first) and returns the
/// details, in file order.
fn details_at_end(
    bench: &Bench,
    toml: &str,
    sends: &[SendOutcome],
    world: &Recorded,
    end: &str,
) -> Vec<String> {
    let expectations = bench.expectations(toml);
    let mut judge = bench.judge(&expectations);
    let now = bench.at(end);
    judge.observe(&observation(now.clone(), sends, world, &[]));
    judge.finish(&observation(now, sends, world, &[]));
    judge.outcomes().into_iter().map(|o| o.detail).collect()
}

const FALLBACK: &str = "[[expect]]\nid = \"postweg\"\nstep = \"anzeige\"\nkind = \"fallback\"\n";
const ZUSTELLUNG: &str = "[[expect]]\nid = \"zugestellt\"\nstep = \"anzeige\"\nkind = \"zustellung\"\nmode = \"fiktion\"\n";
const END: &str = "not observed by the end of the scenario at";

/// A step that sent nothing, and (for a kind asked only at the end) a refused message, are
/// named.
#[test]
fn unmet_names_a_missing_send_and_a_refusal() {
    let bench = Bench::new();
    let details = details_at_end(&bench, FALLBACK, &[], &Recorded::default(), "P7D");
    assert_eq!(
        details,
        [format!(
            "{END} 2025-03-10T09:00:00+01:00: step \"anzeige\" sent no message before the end"
        )]
    );
    let bench = Bench::new();
    let expectations = bench.expectations(FALLBACK);
    let mut judge = bench.judge(&expectations);
    let text = "permanent error (554): 5.6.0 not a De-Mail";
    let sends = [anzeige(
        &bench,
        Some(demail_sim::refusal::Refusal::received(
            554,
            "5.6.0".into(),
            text.into(),
        )),
    )];
    judge.finish(&observation(
        bench.at("P7D"),
        &sends,
        &Recorded::default(),
        &[],
    ));
    assert!(
        judge.outcomes()[0]
            .detail
            .ends_with(&format!(": the provider refused the message: {text}")),
        "{:?}",
        judge.outcomes()
    );
}

/// A reply whose deadline is still running and a confirmation whose limit is still running
/// at the end say that the scenario ends before them.
#[test]
fn unmet_says_the_scenario_ends_before_the_deadline() {
    let bench = Bench::new();
    let mut world = Recorded::default();
    world.lay(intake_copy(&bench));
    let sends = [anzeige(&bench, None)];
    let details = details_at_end(
        &bench,
        &format!("{}{EINGANG_8H}", empfang("")),
        &sends,
        &world,
        "PT2H",
    );
    assert_eq!(
        details,
        [
            format!(
                "{END} 2025-03-03T11:00:00+01:00: no reply yet, and the scenario ends before the last day Thu 06.03.2025 (gewerbe-empfang) is over"
            ),
            format!(
                "{END} 2025-03-03T11:00:00+01:00: no Eingangsbestätigung yet, and the scenario ends before the limit of PT8H after sending (2025-03-03T17:00:00+01:00) is over"
            ),
        ]
    );
}

/// A Meldung that came back instead of the message reaching the intake is named, with the
/// provider's reason.
#[test]
fn unmet_names_a_meldung() {
    let bench = Bench::new();
    let mut world = Recorded::default();
    world.lay(StoredMessage {
        message_type: MessageType::Notification,
        from: "Meldung@dmda-a.de-mail.de".into(),
        message_id: "m000002@dmda-a.de-mail.de".into(),
        ..intake_reply(INTAKE, "Meldung", bench.start.timestamp())
    });
    bench.trace.emit(EventKind::NotificationIssued {
        provider: "dmda-a".into(),
        notification_type: "other".into(),
        for_message_id: "m000001@dmda-a.de-mail.de".into(),
        message_id: "m000002@dmda-a.de-mail.de".into(),
        to: SENDER.into(),
        recipient: INTAKE.into(),
        reason: "the mailbox is closed".into(),
        private_id: None,
    });
    let sends = [anzeige(&bench, None)];
    let details = details_at_end(&bench, FALLBACK, &sends, &world, "P7D");
    assert_eq!(
        details,
        [format!(
            "{END} 2025-03-10T09:00:00+01:00: a Meldung came back (other: the mailbox is closed); the message is in none of the intake's mailboxes ({INTAKE})"
        )]
    );
}

/// Failed pushes to the intake, and no case for a kind that reads the intake's record.
#[test]
fn unmet_names_failed_pushes_and_a_missing_case() {
    let bench = Bench::new();
    let mut world = Recorded::default();
    world.lay(intake_copy(&bench));
    for attempt in 1..=2 {
        bench.trace.emit(EventKind::ProviderDeliveryFailed {
            provider: "dmda-a".into(),
            mailbox: INTAKE.into(),
            message_id: "m000001@dmda-a.de-mail.de".into(),
            attempt,
            permanent: attempt == 2,
            reason: format!("554 5.6.0 refused ({attempt})"),
            retry_at: None,
        });
    }
    let sends = [anzeige(&bench, None)];
    let details = details_at_end(&bench, FALLBACK, &sends, &world, "P7D");
    assert_eq!(
        details,
        [format!(
            "{END} 2025-03-10T09:00:00+01:00: the provider could not push m000001@dmda-a.de-mail.de to the intake: 2 failed attempt(s), given up, the last: 554 5.6.0 refused (2); the intake reported no case for m000001@dmda-a.de-mail.de (no intake.received)"
        )]
    );
}

/// A Zustellung that never came: the intake chose the postal fallback, and the provider
/// refused the intake's own message.
#[test]
fn unmet_names_the_postal_fallback_and_a_refused_intake_message() {
    let bench = Bench::new();
    let mut world = Recorded::default();
    world.lay(intake_copy(&bench));
    received(&bench, "WBS-2025-00001", "wohnberechtigungsschein");
    bench.at("P7D");
    bench.trace.emit(EventKind::ProviderRefused {
        provider: "dmda-a".into(),
        stage: "RCPT".into(),
        from: Some(INTAKE.into()),
        code: 550,
        enhanced: "5.1.1".into(),
        reason: "No De-Mail account".into(),
        eml: None,
    });
    bench.trace.emit(EventKind::IntakeFallback {
        aktenzeichen: "WBS-2025-00001".into(),
        channel: "postal".into(),
        reason: "no access opened".into(),
    });
    let sends = [anzeige(&bench, None)];
    let details = details_at_end(&bench, ZUSTELLUNG, &sends, &world, "P8D");
    assert_eq!(
        details,
        [format!(
            "{END} 2025-03-11T09:00:00+01:00: the intake sent no document asking for an Abholbestätigung (a Bescheid, or a reply with `reply_options`) in reply to it; the intake chose the postal fallback for WBS-2025-00001: no access opened; the provider refused a message from the intake's {INTAKE} at RCPT: 550 5.1.1 No De-Mail account"
        )]
    );
}

/// The scenario ends before the fiction day (§ 5a Abs. 4 Satz 1 VwZG: the 4th day after
/// sending on Tue 04.03.2025 is Sat 08.03.2025); and a `fallback` expectation whose case the
/// intake served by De-Mail says so.
#[test]
fn unmet_names_the_fiction_day_and_a_service_by_demail() {
    let bench = Bench::new();
    let mut world = Recorded::default();
    world.lay(intake_copy(&bench));
    world.lay(document(bench.at("P1D").timestamp()));
    received(&bench, "GA-2025-00001", "gewerbeanzeige");
    let sends = [anzeige(&bench, None)];
    let details = details_at_end(&bench, ZUSTELLUNG, &sends, &world, "P4D");
    assert_eq!(details.len(), 1);
    assert!(
        details[0].starts_with(&format!(
            "{END} 2025-03-07T09:00:00+01:00: no Abholbestätigung for m000003@dmda-a.de-mail.de came, and the scenario ends before the fiction day Sat 08.03.2025 is over (sent Tue 04.03.2025; "
        )) && details[0].contains("§ 5a Abs. 4 Satz 1 VwZG (Fassung 2025-01-20)"),
        "{details:?}"
    );
    bench.trace.emit(EventKind::IntakeZustellung {
        aktenzeichen: "GA-2025-00001".into(),
        mode: "abholung".into(),
        date: "2025-03-05".into(),
        rechtsbehelf_until: String::new(),
        source: "test".into(),
    });
    let details = details_at_end(&bench, FALLBACK, &sends, &world, "P5D");
    assert_eq!(
        details,
        [format!(
            "{END} 2025-03-08T09:00:00+01:00: the intake recorded no fallback: it served GA-2025-00001 by De-Mail (abholung on 2025-03-05)"
        )]
    );
}

/// A stated day of Zustellung that differs from the calendar's fails naming both, although
/// the intake recorded the calendar's day.
#[test]
fn a_stated_day_of_zustellung_that_disagrees_fails_naming_both_days() {
    let bench = Bench::new();
    let mut world = Recorded::default();
    world.lay(intake_copy(&bench));
    world.lay(document(bench.at("P1D").timestamp()));
    received(&bench, "GA-2025-00001", "gewerbeanzeige");
    bench.trace.emit(EventKind::IntakeZustellung {
        aktenzeichen: "GA-2025-00001".into(),
        mode: "fiktion".into(),
        date: "2025-03-08".into(),
        rechtsbehelf_until: String::new(),
        source: "test".into(),
    });
    let expectations = bench.expectations(&format!("{ZUSTELLUNG}served_on = \"2025-03-07\"\n"));
    let setting = Setting {
        place: &bench.place,
        intake: &bench.intake,
        citizens: vec![(SENDER.into(), true)],
    };
    let mut judge = Judge::new(&expectations, setting, &bench.trace);
    let sends = [anzeige(&bench, None)];
    judge.observe(&observation(bench.at("P6D"), &sends, &world, &[]));
    let outcome = &judge.outcomes()[0];
    assert!(!outcome.passed);
    assert!(
        outcome.detail.starts_with(
            "the scenario states the day of Zustellung Fri 07.03.2025, but the calendar computes Sat 08.03.2025 for m000003@dmda-a.de-mail.de (sent 2025-03-04, fiktion;"
        ),
        "{outcome:?}"
    );
}

/// `one-case` for an intake that fetches its mail: no `provider.delivered` at all, but the
/// message offered again (`intake.duplicate`, e.g. after a failed POP3 QUIT) with one case
/// passes; without the duplicate it stays undecided; a second case fails.
#[test]
fn one_case_passes_on_a_fetched_duplicate() {
    const ONE: &str = "[[expect]]\nid = \"ein-fall\"\nstep = \"anzeige\"\nkind = \"one-case\"\n";
    let bench = Bench::new();
    let mut world = Recorded::default();
    world.lay(intake_copy(&bench));
    let sends = [anzeige(&bench, None)];
    received(&bench, "GA-2025-00001", "gewerbeanzeige");
    let expectations = bench.expectations(ONE);
    let mut judge = bench.judge(&expectations);
    judge.observe(&observation(bench.at("PT1H"), &sends, &world, &[]));
    assert!(judge.outcomes().is_empty(), "{:?}", judge.outcomes());
    bench.trace.emit(EventKind::IntakeDuplicate {
        mailbox: INTAKE.into(),
        aktenzeichen: "GA-2025-00001".into(),
        message_id: "m000001@dmda-a.de-mail.de".into(),
    });
    judge.observe(&observation(bench.at("PT2H"), &sends, &world, &[]));
    let outcome = &judge.outcomes()[0];
    assert!(outcome.passed, "{outcome:?}");
    assert_eq!(
        outcome.detail,
        "m000001@dmda-a.de-mail.de reached the intake 2 times (1 intake.duplicate); the intake opened one case, GA-2025-00001"
    );

    let bench = Bench::new();
    received(&bench, "GA-2025-00001", "gewerbeanzeige");
    received(&bench, "GA-2025-00002", "gewerbeanzeige");
    let expectations = bench.expectations(ONE);
    let mut judge = bench.judge(&expectations);
    judge.observe(&observation(bench.at("PT1H"), &sends, &world, &[]));
    let outcome = &judge.outcomes()[0];
    assert!(!outcome.passed, "{outcome:?}");
    assert!(outcome.detail.contains("opened 2 cases"), "{outcome:?}");
}

/// Every kind the checks look up with `find_map_of`/`for_each_of` is spelled as the trace
/// spells it: each appears as a `kind` column in the golden traces (a misspelt one would make a
/// long run's look-ups skip every line of its file).
#[test]
fn looked_up_kinds_are_kinds_of_the_golden_traces() {
    fn traces(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                traces(&path, out);
            } else if path.to_string_lossy().ends_with(".trace.snap") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut all = String::new();
    traces(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden"),
        &mut all,
    );
    for kind in super::lookup::kinds::ALL {
        assert!(
            all.contains(&format!("\"kind\":\"{kind}\"")),
            "{kind} is in no golden trace"
        );
    }
}
