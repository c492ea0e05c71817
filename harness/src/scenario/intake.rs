//! The `[intake]` section of a scenario: which configuration the reference intake runs with,
//! the scenario's overrides of it (`processing_time`, `bescheid_after`,
//! `rechtsbehelfsbelehrung`, `aktenzeichen_prefix`, `name`), and how mail reaches it. Format: `docs/scenarios.md`.

use std::path::Path;

use demail_sim::intake::config::{IntakeFile, bescheid_after_reply};
use serde::Deserialize;
use toml::Spanned;

use super::{OutageSpec, Problem, ScenarioError};
use crate::located::{Located, duration, quoted};
use crate::model::ReceiveMode;

/// `[intake]`: the reference intake's configuration and the Funktionspostfach that steps
/// address as `to = "intake"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSpec {
    /// A Funktionspostfach of the intake configuration.
    pub address: Spanned<String>,
    /// Overrides the mailbox's display name.
    #[serde(default)]
    pub name: Option<String>,
    pub provider: Spanned<String>,
    /// The intake configuration file (relative to the scenario); default: the embedded
    /// Dresden-like configuration (`docs/intake.md`).
    #[serde(default)]
    pub config: Option<Spanned<String>>,
    /// Overrides every procedure's time from receipt to the reply (e.g. `PT20H`).
    #[serde(default)]
    pub processing_time: Option<Spanned<String>>,
    /// Overrides the time from receipt to the Bescheid of every procedure that ends with one
    /// (e.g. `P7D`).
    #[serde(default)]
    pub bescheid_after: Option<Spanned<String>>,
    /// Overrides whether the Bescheide carry a Rechtsbehelfsbelehrung (instructions on
    /// remedies); without one the Widerspruchsfrist is one year (§ 58 Abs. 2 VwGO).
    #[serde(default)]
    pub rechtsbehelfsbelehrung: Option<bool>,
    /// Overrides the Aktenzeichen prefix of the procedure of `address`.
    #[serde(default)]
    pub aktenzeichen_prefix: Option<String>,
    /// De-Mail options the intake sets on its replies.
    #[serde(default)]
    pub reply_options: Vec<Spanned<String>>,
    /// How mail reaches the intake: "push" (SMTP to its listener, default) or "pull" (it
    /// polls the provider's HTTP gateway API on every clock step).
    #[serde(default)]
    pub receive: Option<Spanned<String>>,
    /// Windows (offsets from the start) in which the intake's SMTP listener answers 451.
    #[serde(default)]
    pub outages: Vec<OutageSpec>,
}

/// `[intake]`: the configuration with the scenario's overrides, the Funktionspostfach that
/// `to = "intake"` means, and how mail reaches the intake.
pub(super) fn intake(
    spec: &IntakeSpec,
    path: &Path,
) -> Result<(IntakeFile, String, ReceiveMode), Problem> {
    let mut intake_file = match &spec.config {
        None => IntakeFile::default_dresden(),
        Some(p) => {
            let config_path = path.parent().unwrap_or(Path::new(".")).join(p.get_ref());
            if !config_path.is_file() {
                return Err(Located::new(
                    p.span(),
                    format!(
                        "intake config {} does not exist (paths are relative to the scenario file)",
                        config_path.display()
                    ),
                )
                .into());
            }
            IntakeFile::load(&config_path)
        }
    }
    .map_err(|e| {
        Problem::Elsewhere(ScenarioError {
            path: e.path.clone(),
            line: e.line,
            column: e.column,
            message: e.message.clone(),
        })
    })?;
    if let Some(pt) = &spec.processing_time {
        let processing = duration(pt, "processing_time")?;
        for p in &mut intake_file.procedures {
            p.reply_after = processing;
        }
    }
    if let Some(after) = &spec.bescheid_after {
        bescheid_after(&mut intake_file, after)?;
    }
    if let Some(with) = spec.rechtsbehelfsbelehrung {
        for b in intake_file
            .procedures
            .iter_mut()
            .filter_map(|p| p.bescheid.as_mut())
        {
            b.rechtsbehelfsbelehrung = with;
        }
    }
    let intake_address = demail_sim::demail::normalize_address(spec.address.get_ref());
    let Some(mailbox_index) = intake_file
        .mailboxes
        .iter()
        .position(|m| m.address == intake_address)
    else {
        let known: Vec<&str> = intake_file
            .mailboxes
            .iter()
            .map(|m| m.address.as_str())
            .collect();
        return Err(Located::new(
            spec.address.span(),
            format!(
                "{intake_address:?} is not a Funktionspostfach of the intake configuration; expected one of: {}",
                quoted(&known)
            ),
        )
        .into());
    };
    let receive = match &spec.receive {
        None => ReceiveMode::Push,
        Some(r) => ReceiveMode::from_name(r.get_ref()).ok_or_else(|| {
            Located::new(
                r.span(),
                format!(
                    "receive {:?}: expected \"push\", \"pull\" or \"pop3\"",
                    r.get_ref()
                ),
            )
        })?,
    };
    if let Some(name) = &spec.name {
        intake_file.mailboxes[mailbox_index].name = name.clone();
    }
    if let Some(prefix) = &spec.aktenzeichen_prefix {
        let fixed = intake_file.mailboxes[mailbox_index].procedure.clone();
        if let Some(p) = intake_file
            .procedures
            .iter_mut()
            .find(|p| Some(&p.id) == fixed.as_ref())
        {
            p.prefix = prefix.clone();
        }
    }
    Ok((intake_file, intake_address, receive))
}

/// `bescheid_after`: the time from receipt to the Bescheid of every procedure that ends with
/// one; it must be positive and longer than the procedure's time to the reply, which carries
/// the Belehrung of § 5a Abs. 4 Satz 3 VwZG.
fn bescheid_after(file: &mut IntakeFile, value: &Spanned<String>) -> Result<(), Located> {
    let after = duration(value, "bescheid_after")?;
    if after.is_negative() || after.is_zero() {
        return Err(Located::new(
            value.span(),
            format!(
                "bescheid_after {:?}: expected a positive duration, e.g. \"P7D\"",
                value.get_ref()
            ),
        ));
    }
    let mut any = false;
    for p in file.procedures.iter_mut() {
        let Some(b) = p.bescheid.as_mut() else {
            continue;
        };
        bescheid_after_reply(after, p.reply_after)
            .map_err(|m| Located::new(value.span(), format!("bescheid_after for {}: {m}", p.id)))?;
        b.after = after;
        any = true;
    }
    if !any {
        return Err(Located::new(
            value.span(),
            "bescheid_after: no procedure of the intake configuration ends with a Bescheid \
             ([procedure.bescheid]), so there is nothing to time",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Scenario, ScenarioError, parse};

    const WBS: &str = include_str!("../../../scenarios/intake/wbs-fiktion-2025.toml");
    const GEWERBE: &str =
        include_str!("../../../scenarios/gewerbe/anzeige-absenderbestaetigt.toml");
    const DRESDEN: &str = demail_sim::intake::config::DEFAULT_TOML;

    fn parse_str(text: &str) -> Result<Scenario, ScenarioError> {
        parse(
            text,
            Path::new("scenarios/x/y.toml"),
            Path::new("scenarios"),
        )
    }

    fn with_key(text: &str, line: &str) -> String {
        text.replacen("[intake]\n", &format!("[intake]\n{line}\n"), 1)
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    /// `bescheid_after` retimes the Bescheid of every procedure that ends with one and is
    /// listed among the settings that configure the reference intake.
    #[test]
    fn bescheid_after_overrides_the_timing() {
        let s = parse_str(&with_key(WBS, "bescheid_after = \"P10D\"")).unwrap();
        let wbs = s.intake.procedure("wohnberechtigungsschein").unwrap();
        assert_eq!(
            wbs.bescheid.as_ref().unwrap().after.to_string(),
            "P10D",
            "{wbs:?}"
        );
        assert!(s.configures_intake().contains(&"[intake] bescheid_after"));
        let short = parse_str(&with_key(WBS, "bescheid_after = \"3d\"")).unwrap();
        let wbs = short.intake.procedure("wohnberechtigungsschein").unwrap();
        assert_eq!(wbs.bescheid.as_ref().unwrap().after.to_string(), "P3D");
    }

    /// Every mistake is an error at the value, saying what was expected.
    #[test]
    fn bescheid_after_errors_are_located() {
        let cases = [
            (
                WBS,
                "bescheid_after = \"sieben Tage\"",
                "expected an ISO 8601 duration",
            ),
            (
                WBS,
                "bescheid_after = \"-P7D\"",
                "expected a positive duration",
            ),
            (WBS, "bescheid_after = \"PT10H\"", "§ 5a Abs. 4 Satz 3 VwZG"),
        ];
        for (base, line, expected) in cases {
            let text = with_key(base, line);
            let err = parse_str(&text).unwrap_err();
            assert!(err.message.contains(expected), "{line}: {err}");
            assert_eq!(err.line, line_of(&text, "bescheid_after"), "{err}");
            assert_eq!(err.column, line.find('"').unwrap() + 1, "{err}");
        }
    }

    /// A configuration without any Bescheid has nothing to time: an error at the key.
    #[test]
    fn bescheid_after_needs_a_bescheid() {
        let dir = std::env::temp_dir().join(format!("bescheid-after-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let start = DRESDEN.find("[procedure.bescheid]").unwrap();
        let end = DRESDEN[start..].find("\n\n").unwrap() + start;
        std::fs::write(
            dir.join("ohne-bescheid.toml"),
            format!("{}{}", &DRESDEN[..start], &DRESDEN[end..]),
        )
        .unwrap();
        let text = with_key(
            GEWERBE,
            "config = \"ohne-bescheid.toml\"\nbescheid_after = \"P7D\"",
        );
        let path = dir.join("y.toml");
        let err = parse(&text, &path, &dir).unwrap_err();
        assert!(
            err.message
                .contains("no procedure of the intake configuration ends with a Bescheid"),
            "{err}"
        );
        assert_eq!(err.line, line_of(&text, "bescheid_after"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
