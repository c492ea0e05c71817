//! `[[fault]]`: a scenario's fault plan (docs/faults.md, issue #18). Each fault names a face
//! of the simulated provider, what happens there, which candidate events it hits (the n-th,
//! or each with a probability drawn from the scenario's seed), and optionally which mailbox.
//! Validated here with located errors; carried out by `demail_provider::fault::FaultPlan`.

use demail_sim::provider::fault::{
    Action, CertFault, Face, PlannedFault, Point, SealFault, Select,
};
use serde::Deserialize;
use toml::Spanned;

use crate::located::{Located, duration, quoted};

/// One `[[fault]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Unique; trace events name it.
    pub id: Spanned<String>,
    /// "submission", "relay", "push", "retrieval", "seal", "directory", "dms" or "pop3".
    pub face: Spanned<String>,
    /// Submission and relay: "connect", "ehlo", "mail", "rcpt", "data" or "after-data";
    /// pop3: "connect", "auth", "list", "retr", "dele" or "quit".
    #[serde(default)]
    pub point: Option<Spanned<String>>,
    /// What happens: "reply", "drop", "duplicate", "delay", "reorder", "withhold", "seal-broken",
    /// "seal-foreign", "unavailable", "cert-expired", "cert-unknown".
    pub action: Spanned<String>,
    /// For "reply": the whole reply, e.g. "451 4.3.0 Testfehler"; on the pop3 face a `-ERR`
    /// line, e.g. "-ERR [SYS/TEMP] Testfehler".
    #[serde(default)]
    pub reply: Option<Spanned<String>>,
    /// For "delay": how long the push is held back (ISO 8601 duration).
    #[serde(default)]
    pub delay: Option<Spanned<String>>,
    /// Only events about this mailbox are candidates.
    #[serde(default)]
    pub mailbox: Option<Spanned<String>>,
    /// The n-th candidate (1-based) …
    #[serde(default)]
    pub nth: Option<Spanned<i64>>,
    /// … or each candidate with this probability (0 < p ≤ 1), from the seed.
    #[serde(default)]
    pub probability: Option<Spanned<f64>>,
    /// … or a rate limit: every candidate beyond `rate` within `per` (virtual time).
    #[serde(default)]
    pub rate: Option<Spanned<i64>>,
    /// The window of `rate`, e.g. "PT1H".
    #[serde(default)]
    pub per: Option<Spanned<String>>,
    /// At most this many hits (default 1 with `nth`, unlimited with `probability`).
    #[serde(default)]
    pub limit: Option<Spanned<i64>>,
}

/// Which actions each face takes.
fn actions_of(face: Face) -> &'static [&'static str] {
    match face {
        Face::Submission => &["reply", "drop"],
        Face::Push => &["drop", "duplicate", "delay", "reorder"],
        Face::Retrieval => &["withhold"],
        Face::Seal => &["seal-broken", "seal-foreign"],
        Face::Relay => &["reply", "drop", "cert-expired", "cert-unknown"],
        Face::Directory => &["unavailable"],
        Face::Dms => &["unavailable"],
        Face::Pop3 => &["reply", "drop"],
    }
}

/// The points a face's fault names (empty: the face takes no `point`). The relay's
/// certificate faults strike at the TLS handshake, before any command, and take none.
fn points_of(face: Face, action: &str) -> &'static [Point] {
    match face {
        Face::Submission => &Point::ALL,
        Face::Relay if !action.starts_with("cert-") => &Point::ALL,
        Face::Pop3 => &Point::POP3,
        _ => &[],
    }
}

/// Validates the plan: every fault's face, point, action and its keys, the selection.
pub fn plan(specs: &[FaultSpec]) -> Result<Vec<PlannedFault>, Located> {
    let mut ids: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for s in specs {
        if ids.contains(&s.id.get_ref().as_str()) {
            return Err(Located::new(
                s.id.span(),
                format!("duplicate fault id {:?}", s.id.get_ref()),
            ));
        }
        ids.push(s.id.get_ref());
        out.push(one(s)?);
    }
    Ok(out)
}

fn one(s: &FaultSpec) -> Result<PlannedFault, Located> {
    let Some(face) = Face::parse(s.face.get_ref()) else {
        let names: Vec<&str> = Face::ALL.iter().map(|f| f.as_str()).collect();
        return Err(Located::new(
            s.face.span(),
            format!(
                "unknown face {:?}; expected one of: {}",
                s.face.get_ref(),
                quoted(&names)
            ),
        ));
    };
    let allowed = actions_of(face);
    let name = s.action.get_ref().as_str();
    if !allowed.contains(&name) {
        return Err(Located::new(
            s.action.span(),
            format!(
                "face {:?} takes the actions {}, not {name:?}",
                face.as_str(),
                quoted(allowed)
            ),
        ));
    }
    let points = points_of(face, s.action.get_ref());
    let point = match (&s.point, points.is_empty()) {
        (None, false) => {
            return Err(Located::new(
                s.face.span(),
                format!(
                    "fault {:?}: face {:?} needs a `point`: one of {}",
                    s.id.get_ref(),
                    face.as_str(),
                    quoted(&points.iter().map(|p| p.as_str()).collect::<Vec<_>>())
                ),
            ));
        }
        (None, true) => None,
        (Some(p), false) => Some(
            points
                .iter()
                .copied()
                .find(|q| q.as_str() == p.get_ref())
                .ok_or_else(|| {
                    Located::new(
                        p.span(),
                        format!(
                            "unknown point {:?}; expected one of: {}",
                            p.get_ref(),
                            quoted(&points.iter().map(|p| p.as_str()).collect::<Vec<_>>())
                        ),
                    )
                })?,
        ),
        (Some(p), true) if face == Face::Relay => {
            return Err(Located::new(
                p.span(),
                format!(
                    "fault {:?}: action {:?} strikes at the TLS handshake and takes no `point`",
                    s.id.get_ref(),
                    s.action.get_ref()
                ),
            ));
        }
        (Some(p), true) => {
            return Err(Located::new(
                p.span(),
                format!(
                    "`point` applies to faces \"submission\", \"relay\" and \"pop3\" only, not {:?}",
                    face.as_str()
                ),
            ));
        }
    };
    let unwanted = |key: &str, present: bool| -> Result<(), Located> {
        if present {
            Err(Located::new(
                s.action.span(),
                format!(
                    "fault {:?}: `{key}` does not apply to action {name:?}",
                    s.id.get_ref()
                ),
            ))
        } else {
            Ok(())
        }
    };
    unwanted("reply", name != "reply" && s.reply.is_some())?;
    unwanted("delay", name != "delay" && s.delay.is_some())?;
    // Before the handshake the relay face does not know the peer yet.
    unwanted("mailbox", name.starts_with("cert-") && s.mailbox.is_some())?;
    let action = match name {
        "reply" => {
            let r = s.reply.as_ref().ok_or_else(|| {
                Located::new(
                    s.action.span(),
                    format!(
                        "fault {:?}: action \"reply\" needs `reply`, e.g. \"451 4.3.0 Testfehler\"",
                        s.id.get_ref()
                    ),
                )
            })?;
            if face == Face::Pop3 {
                pop3_reply(r)?
            } else {
                reply(r)?
            }
        }
        "drop" => Action::Drop,
        "duplicate" => Action::Duplicate,
        "reorder" => Action::Reorder,
        "delay" => {
            let d = s.delay.as_ref().ok_or_else(|| {
                Located::new(
                    s.action.span(),
                    format!(
                        "fault {:?}: action \"delay\" needs `delay`, e.g. \"PT2H\"",
                        s.id.get_ref()
                    ),
                )
            })?;
            let span = duration(d, "delay")?;
            let signed = jiff::SignedDuration::try_from(span)
                .ok()
                .filter(|d| d.is_positive())
                .ok_or_else(|| {
                    Located::new(d.span(), "delay: must be a positive time without days' calendar units, e.g. \"PT2H\"")
                })?;
            Action::Delay(signed)
        }
        "withhold" => Action::Withhold,
        "unavailable" => Action::Unavailable,
        "seal-broken" => Action::Seal(SealFault::Broken),
        "cert-expired" => Action::Cert(CertFault::Expired),
        "cert-unknown" => Action::Cert(CertFault::Unknown),
        _ => Action::Seal(SealFault::Foreign),
    };
    if s.per.is_some() != s.rate.is_some() {
        let at = s
            .per
            .as_ref()
            .map(|p| p.span())
            .unwrap_or_else(|| s.id.span());
        return Err(Located::new(
            at,
            format!("fault {:?}: `rate` and `per` go together", s.id.get_ref()),
        ));
    }
    let select = match (&s.nth, &s.probability, &s.rate) {
        (None, None, Some(r)) => {
            let max = *r.get_ref();
            if !(0..=i64::from(u32::MAX)).contains(&max) {
                return Err(Located::new(r.span(), "rate: expected 0 or more"));
            }
            let per = s.per.as_ref().expect("checked above");
            let span = duration(per, "per")?;
            let secs = jiff::SignedDuration::try_from(span)
                .ok()
                .map(|d| d.as_secs())
                .filter(|s| *s > 0)
                .ok_or_else(|| {
                    Located::new(per.span(), "per: must be a positive time, e.g. \"PT1H\"")
                })?;
            Select::Above {
                max: max as u32,
                per_secs: secs,
            }
        }
        (Some(n), None, None) => {
            let v = *n.get_ref();
            if !(1..=i64::from(u32::MAX)).contains(&v) {
                return Err(Located::new(n.span(), "nth: expected 1 or more"));
            }
            Select::Nth(v as u32)
        }
        (None, Some(p), None) => {
            let v = *p.get_ref();
            if !(v > 0.0 && v <= 1.0) {
                return Err(Located::new(
                    p.span(),
                    format!("probability {v}: expected more than 0 and at most 1"),
                ));
            }
            Select::Probability(v)
        }
        _ => {
            return Err(Located::new(
                s.id.span(),
                format!(
                    "fault {:?} needs exactly one of `nth` (the n-th candidate), `probability` or `rate` with `per`",
                    s.id.get_ref()
                ),
            ));
        }
    };
    let limit = match &s.limit {
        None => None,
        Some(l) if (1..=i64::from(u32::MAX)).contains(l.get_ref()) => Some(*l.get_ref() as u32),
        Some(l) => return Err(Located::new(l.span(), "limit: expected 1 or more")),
    };
    Ok(PlannedFault {
        id: s.id.get_ref().clone(),
        face,
        point,
        action,
        mailbox: s
            .mailbox
            .as_ref()
            .map(|m| demail_sim::demail::normalize_address(m.get_ref())),
        select,
        limit,
    })
}

/// "451 4.3.0 text": a 4xx or 5xx code, an enhanced status of the same class, a text.
fn reply(r: &Spanned<String>) -> Result<Action, Located> {
    let bad = |why: &str| {
        Located::new(
            r.span(),
            format!(
                "reply {:?}: {why}; expected e.g. \"451 4.3.0 Testfehler\"",
                r.get_ref()
            ),
        )
    };
    let mut parts = r.get_ref().splitn(3, ' ');
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|c| (400..600).contains(c))
        .ok_or_else(|| bad("the code must be 400 to 599"))?;
    let enhanced = parts.next().unwrap_or_default();
    let fields: Vec<&str> = enhanced.split('.').collect();
    if fields.len() != 3
        || fields[0] != (code / 100).to_string()
        || !fields[1..]
            .iter()
            .all(|f| !f.is_empty() && f.len() <= 3 && f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad(
            "the enhanced status must follow the code's class, e.g. 4.3.0 for 451 (RFC 3463)",
        ));
    }
    let text = parts.next().unwrap_or("").trim();
    if text.is_empty() || text.contains(['\r', '\n']) {
        return Err(bad("the text must be one line, not empty"));
    }
    Ok(Action::Reply {
        code,
        enhanced: enhanced.to_string(),
        text: text.to_string(),
    })
}

/// "-ERR [SYS/TEMP] text": a POP3 negative answer, optionally with a response code in
/// brackets (RFC 2449 §8; the codes of RFC 2449 and RFC 3206), and a one-line ASCII text.
fn pop3_reply(r: &Spanned<String>) -> Result<Action, Located> {
    const CODES: [&str; 5] = ["SYS/TEMP", "SYS/PERM", "IN-USE", "LOGIN-DELAY", "AUTH"];
    let bad = |why: &str| {
        Located::new(
            r.span(),
            format!(
                "reply {:?}: {why}; expected e.g. \"-ERR [SYS/TEMP] Testfehler\"",
                r.get_ref()
            ),
        )
    };
    let line = r.get_ref();
    let Some(rest) = line.strip_prefix("-ERR ") else {
        return Err(bad(
            "a POP3 fault answers with a line that starts \"-ERR \"",
        ));
    };
    if !line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(bad("the line must be printable ASCII, one line"));
    }
    let text = match rest.strip_prefix('[') {
        Some(coded) => {
            let Some((code, text)) = coded.split_once(']') else {
                return Err(bad("the response code's \"]\" is missing"));
            };
            if !CODES.contains(&code) {
                return Err(bad(&format!(
                    "unknown response code {code:?} (RFC 2449 §8, RFC 3206: {})",
                    quoted(&CODES)
                )));
            }
            text
        }
        None => rest,
    };
    if text.trim().is_empty() {
        return Err(bad("the text must not be empty"));
    }
    // RFC 2449 §4: a status line has at most 512 octets with its CRLF.
    if line.len() + 2 > 512 {
        return Err(bad("longer than the 512 octets of a POP3 status line"));
    }
    Ok(Action::Pop3Err(line.clone()))
}
