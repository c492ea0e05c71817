//! Programmed citizens (`[[citizen]] programme`, docs/scenarios.md "Programmed citizens",
//! issue #16): citizens whose behaviour on receiving a document is fixed and documented, so
//! that a system which serves Bescheide förmlich by De-Mail ("persönlich" with
//! Abholbestätigung, § 5a VwZG) meets every case without further configuration.
//!
//! | programme | account | behaviour |
//! | --- | --- | --- |
//! | `never-logs-in` | high, access opened | never logs in: no Abholbestätigung, the intake must rely on the Zustellungsfiktion (§ 5a Abs. 4 Satz 1 VwZG, Fassung 2025-01-20) |
//! | `normal-only` | normal, access opened | can log in only at level normal: the provider answers "persönlich"/Abholbestätigung with a Meldung (PVD-FU Schritt 42/43) |
//! | `high-after:<duration>` | high, access opened | logs in at level high `<duration>` after each De-Mail is laid into its mailbox (the runner schedules it): the provider issues the Abholbestätigung (PVD-FU §7.1) |
//! | `access-not-opened` | high, access not opened | directory `demailAccessOpening` false (§ 7 Abs. 3 De-Mail-G): no förmliche Zustellung by De-Mail (§ 5a Abs. 1 VwZG) |
//! | `account-closed` | high, access opened | the account is "vollständig gesperrt" after the citizen's own first submission: every later message gets the Meldung of type `closed-account` (PVD-IO Tabelle 22), logins and submissions are refused (5.7.13) |

use demail_sim::demail::AuthLevel;
use jiff::Span;

use crate::located::parse_span;

/// The names of the programmes, as a scenario writes them (`high-after` takes a duration).
pub const PROGRAMMES: [&str; 5] = [
    "never-logs-in",
    "normal-only",
    "high-after:<ISO 8601 duration, e.g. P2D>",
    "access-not-opened",
    "account-closed",
];

/// A citizen's fixed behaviour.
#[derive(Clone, Debug)]
pub enum Programme {
    /// Never logs in.
    NeverLogsIn,
    /// Its account's highest level is normal.
    NormalOnly,
    /// Logs in at level high this long after each De-Mail arrives in its mailbox.
    HighAfter(Span),
    /// Has not opened access for legally binding mail.
    AccessNotOpened,
    /// The account closes after the citizen's own first submission.
    AccountClosed,
}

impl Programme {
    /// Reads a programme; the error says what was expected (the caller locates it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "programme {text:?} is unknown; expected one of: {}",
                PROGRAMMES
                    .iter()
                    .map(|p| format!("{p:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Ok(match text {
            "never-logs-in" => Programme::NeverLogsIn,
            "normal-only" => Programme::NormalOnly,
            "access-not-opened" => Programme::AccessNotOpened,
            "account-closed" => Programme::AccountClosed,
            _ => {
                let Some(after) = text.strip_prefix("high-after:") else {
                    return Err(expected());
                };
                let span = parse_span(after).map_err(|e| {
                    format!(
                        "programme {text:?}: {e}; expected \"high-after:\" with an ISO 8601 duration such as \"high-after:P2D\""
                    )
                })?;
                if !span.is_positive() {
                    return Err(format!(
                        "programme {text:?}: the delay must be longer than zero (the login comes after the message)"
                    ));
                }
                Programme::HighAfter(span)
            }
        })
    }

    /// The highest level the citizen's account can log in at.
    pub fn max_level(&self) -> AuthLevel {
        match self {
            Programme::NormalOnly => AuthLevel::Normal,
            _ => AuthLevel::High,
        }
    }

    /// Whether the citizen opened access for legally binding mail (§ 7 Abs. 3 De-Mail-G).
    pub fn access_opened(&self) -> bool {
        !matches!(self, Programme::AccessNotOpened)
    }

    /// The delay after which the citizen logs in at level high, for `high-after`.
    pub fn login_after(&self) -> Option<Span> {
        match self {
            Programme::HighAfter(s) => Some(*s),
            _ => None,
        }
    }

    /// Whether the provider closes the account after the citizen's first submission.
    pub fn closes_account(&self) -> bool {
        matches!(self, Programme::AccountClosed)
    }

    /// Whether the programme forbids scripted logins (the citizen never logs in).
    pub fn never_logs_in(&self) -> bool {
        matches!(self, Programme::NeverLogsIn)
    }
}

/// A citizen as the run uses it: its account's level and access, and its programme.
#[derive(Clone, Debug)]
pub struct Citizen {
    pub max_level: AuthLevel,
    pub access_opened: bool,
    pub programme: Option<Programme>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programmes_parse() {
        assert!(Programme::parse("never-logs-in").unwrap().never_logs_in());
        let after = Programme::parse("high-after:P2D").unwrap().login_after();
        assert_eq!(after.map(|s| s.get_days()), Some(2));
        assert_eq!(
            Programme::parse("normal-only").unwrap().max_level(),
            AuthLevel::Normal
        );
        assert!(
            !Programme::parse("access-not-opened")
                .unwrap()
                .access_opened()
        );
        assert!(Programme::parse("account-closed").unwrap().closes_account());
        let e = Programme::parse("lazy").unwrap_err();
        assert!(e.contains("\"never-logs-in\""), "{e}");
        let e = Programme::parse("high-after:soon").unwrap_err();
        assert!(e.contains("high-after:P2D"), "{e}");
        let e = Programme::parse("high-after:PT0S").unwrap_err();
        assert!(e.contains("longer than zero"), "{e}");
    }
}
