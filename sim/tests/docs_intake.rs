//! docs/intake.md shows the reference intake's embedded default configuration
//! (`sim/intake/src/dresden.toml`) as a table: this test renders the table from the parsed
//! configuration and compares it with the block between the markers in the document, so the
//! documentation cannot drift from what the intake does. On a difference it fails and prints
//! the block the document should hold.

use demail_sim::intake::config::{GENERAL, IntakeFile, Mailbox, Procedure};

const BEGIN: &str = "<!-- intake-config:begin (generated from sim/intake/src/dresden.toml; sim/tests/docs_intake.rs checks it) -->";
const END: &str = "<!-- intake-config:end -->";

fn keywords(mailbox: &Mailbox, p: &Procedure) -> String {
    if mailbox.procedure.is_some() {
        return "– (every message)".into();
    }
    if p.keywords.is_empty() {
        return if p.id == GENERAL {
            "– (what fits no other)".into()
        } else {
            "–".into()
        };
    }
    p.keywords
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn row(file: &IntakeFile, mailbox: &Mailbox, p: &Procedure) -> String {
    format!(
        "| `{}` | `{}` | {} | {} | {} | `{}` | {} | {} | {} | {} |\n",
        mailbox.address,
        p.id,
        p.prefix,
        keywords(mailbox, p),
        if p.schriftform { "yes" } else { "no" },
        p.reply_after,
        p.receipt_rule
            .as_deref()
            .map_or("–".to_string(), |r| format!("`{r}`")),
        p.bescheid
            .as_ref()
            .map_or("–".to_string(), |b| format!("`{}`", b.after)),
        file.office_hours,
        p.legal_basis,
    )
}

fn render(file: &IntakeFile) -> String {
    let mut out = String::from(
        "| Funktionspostfach | procedure | Aktenzeichen prefix | keywords (subject) | Schriftform | reply after | receipt rule | Bescheid after | office hours | legal basis |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for mailbox in &file.mailboxes {
        match &mailbox.procedure {
            Some(id) => {
                if let Some(p) = file.procedure(id) {
                    out.push_str(&row(file, mailbox, p));
                }
            }
            None => {
                for p in &file.procedures {
                    out.push_str(&row(file, mailbox, p));
                }
            }
        }
    }
    out.push_str(&format!(
        "\nCity: {}, De-Mail domain `{}`; holidays of the Land {} and the municipality {}.\n",
        file.city.name,
        file.city.domain,
        file.city.place.land.code(),
        file.city.place.municipality.as_deref().unwrap_or("–"),
    ));
    out
}

/// The generated block of docs/intake.md equals the table rendered from the embedded default.
#[test]
fn docs_intake_table_is_the_embedded_configuration() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/intake.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let file = IntakeFile::default_dresden().unwrap();
    let expected = render(&file);
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len() + 1;
    let end = doc.find(END).expect("end marker");
    assert!(
        doc[start..end] == expected,
        "docs/intake.md is out of date; the block between the markers should read:\n{expected}"
    );
}
