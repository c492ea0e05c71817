//! The one error type of the `law` module.
//!
//! Every public function of the module returns `Result<_, LawError>` instead of
//! panicking on bad input. Each variant's message says what was wrong and what
//! the caller can do about it (valid values, supported range, in-force dates).

use jiff::civil::Date;

/// Errors of the legal calendar (holidays, Fristberechnung, regimes, rules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LawError {
    /// A Land name or code could not be parsed.
    #[error(
        "unknown Land {input:?}: use one of the two-letter codes {codes} (case-insensitive) \
         or a full name such as \"Sachsen\" or \"Nordrhein-Westfalen\""
    )]
    UnknownLand {
        /// The text that was given.
        input: String,
        /// The valid codes, comma-separated.
        codes: String,
    },

    /// The year lies outside the range for which holidays are modelled.
    #[error(
        "year {year} is outside the supported range {min}–{max}: holidays (and so \
         Fristberechnung) are only modelled for these years"
    )]
    YearOutOfRange {
        /// The requested year.
        year: i32,
        /// First supported year.
        min: i16,
        /// Last supported year.
        max: i16,
    },

    /// A provision (rule, Fiktion, law) is asked for on a date on which it is not in force.
    #[error("{provision} not in force on {date} ({detail})")]
    NotInForce {
        /// The provision, e.g. "§ 5a Abs. 4 VwZG".
        provision: String,
        /// The date asked for.
        date: Date,
        /// Why: not yet enacted, repealed with effect from …, or outside the covered texts.
        detail: String,
    },

    /// A rule id is not known.
    #[error("unknown rule id {id:?}; known rule ids: {known}")]
    UnknownRule {
        /// The id that was given.
        id: String,
        /// All known ids, comma-separated.
        known: String,
    },

    /// A rule got the wrong kind of event (e.g. a date where hours need a date and time).
    #[error("rule {rule:?} needs {expected}, but got {got}")]
    WrongEvent {
        /// The rule id.
        rule: String,
        /// What the rule needs.
        expected: String,
        /// What was given.
        got: String,
    },

    /// An option was set that the rule does not use (never silently ignored).
    #[error("option {option} does not apply to rule {rule:?}: {reason}")]
    InvalidOption {
        /// The option name.
        option: String,
        /// The rule id.
        rule: String,
        /// Why it does not apply.
        reason: String,
    },

    /// A period (Frist) is malformed, e.g. of length zero.
    #[error("invalid period: {reason}")]
    InvalidPeriod {
        /// What is wrong.
        reason: String,
    },

    /// A scenario override of a local holiday contradicts the Land's law.
    #[error("local holiday override {holiday} = {observed} is not possible in {land}: {reason}")]
    OverrideNotApplicable {
        /// The holiday, e.g. "Fronleichnam".
        holiday: String,
        /// The override value.
        observed: bool,
        /// The Land code.
        land: String,
        /// Why the Land's law does not allow it.
        reason: String,
    },

    /// Date arithmetic left jiff's range (only for absurd inputs).
    #[error("date arithmetic out of range: {detail}")]
    DateArithmetic {
        /// What was being computed.
        detail: String,
    },
}

impl LawError {
    /// Wraps a jiff arithmetic error with a description of the computation.
    pub(crate) fn arithmetic(what: impl std::fmt::Display, err: jiff::Error) -> Self {
        LawError::DateArithmetic {
            detail: format!("{what}: {err}"),
        }
    }
}
