//! The target file's reader: the shipped reference target loads; mistakes are located and
//! say what was expected; the rules between keys hold.

use std::path::Path;

use super::*;

const MINIMAL: &str = r#"
[system]
name = "Vendor intake"
version = "4.2"
level = 1

[accounts]
mailboxes = ["poststelle@stadt.de-mail.de"]
password = "a-long-password"

[provider]
submission = "127.0.0.1:4587"
http = "127.0.0.1:4080"

[receive]
push = "127.0.0.1:2525"
"#;

fn parse(text: &str) -> Result<Target, TargetError> {
    Target::parse(text, Path::new("t.toml"))
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(t) => panic!("expected an error, got {t:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_shipped_reference_target_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets/reference.toml");
    let t = Target::load(&path).unwrap();
    assert_eq!(t.level, Level::Observation);
    assert!(t.scenario_config);
    assert!(t.start.as_ref().is_some_and(|s| s.ready_file));
    assert_eq!(t.idle, Idle::Answer);
    assert_eq!(t.receive, None, "the scenario decides push or pull");
}

#[test]
fn a_minimal_wire_only_target_loads_with_defaults() {
    let t = parse(MINIMAL).unwrap();
    assert_eq!(t.level, Level::Wire);
    assert_eq!(t.receive, Some(ReceiveMode::Push));
    assert_eq!(t.idle, Idle::Quiet(Duration::from_millis(1000)));
    assert_eq!(
        t.push_tls,
        PushTls::StartTls {
            server_name: "localhost".into(),
            ca_file: None
        }
    );
    assert_eq!(t.mailboxes, ["poststelle@stadt.de-mail.de"]);
}

#[test]
fn mistakes_are_located_and_explained() {
    let e = error(&MINIMAL.replace("level = 1", "level = 4"));
    assert!(e.starts_with("t.toml:5:9: level 4: expected 1"), "{e}");
    let e = error(&MINIMAL.replace("\"127.0.0.1:2525\"", "\"localhost:25\""));
    assert!(e.starts_with("t.toml:16:8: push \"localhost:25\""), "{e}");
    let e = error(&MINIMAL.replace("[receive]", "[receive]\nmode = \"fax\""));
    assert!(
        e.contains("mode \"fax\": expected \"push\" or \"pull\""),
        "{e}"
    );
    let e = error(&format!(
        "{MINIMAL}\n[clock]\nurl = \"http://127.0.0.1:9/testbed/clock\"\n"
    ));
    assert!(e.contains("a test clock makes the system level 2"), "{e}");
    let e = error(&MINIMAL.replace("version = \"4.2\"", "colour = \"red\""));
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e = error(&MINIMAL.replace("\"a-long-password\"", "\"short\""));
    assert!(e.contains("at least 8 characters"), "{e}");
}

#[test]
fn rules_between_keys_hold() {
    // A level-2 system without a ready file must name its clock.
    let e = error(&MINIMAL.replace("level = 1", "level = 2"));
    assert!(e.contains("[clock] url"), "{e}");
    // Without scenario_config the mailboxes must be listed.
    let e = error(&MINIMAL.replace("mailboxes = [\"poststelle@stadt.de-mail.de\"]\n", ""));
    assert!(e.contains("[accounts] mailboxes"), "{e}");
    // Plain SMTP only to loopback.
    let e = error(
        &MINIMAL
            .replace("127.0.0.1:2525", "192.0.2.7:25")
            .replace("[receive]", "[receive]\ntls = \"plain\""),
    );
    assert!(e.contains("only to a loopback address"), "{e}");
    let plain = parse(&MINIMAL.replace("[receive]", "[receive]\ntls = \"plain\"")).unwrap();
    assert_eq!(plain.push_tls, PushTls::Plain);
}

#[test]
fn tokens_name_one_mailbox_each() {
    assert_eq!(token_of("t-{mailbox}", "a@b.de"), "t-a@b.de");
    assert_eq!(token_of("fixed", "a@b.de"), "fixed");
}
