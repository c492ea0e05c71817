//! The behaviour model of a citizen (data only; the runner samples from it later) and **the one
//! place where its defaults live**: [`DEFAULT_ERROR_RATES`], [`LOGIN_INTERVAL_DAYS`],
//! [`RESPONSE_MEDIAN_HOURS`], [`RESPONSE_SIGMA`] and [`CARELESSNESS`]. `docs/population.md`
//! explains each value.
//!
//! - Login habit: the mean number of days between two logins to the De-Mail mailbox. It
//!   decides whether a message sent to the citizen is fetched (Abholbestätigung, § 5 Abs. 9
//!   De-Mail-G) before the Zustellungsfiktion takes over (§ 5a Abs. 4 VwZG: the 3rd day after
//!   sending, the 4th for messages sent from 2025-01-01; `law::fiction` decides).
//! - Response time: the citizen's replies take a log-normal time with the given median (hours)
//!   and shape σ; the runner draws from it.
//! - Error habits: per-message probabilities of six mistakes. Each citizen's rates are the
//!   defaults times a personal carelessness factor (mean 1), so some people err often and most
//!   seldom.

use super::draw::{Draw, Quantiles, round_to};

/// Per-message probabilities of the mistakes the test-bed knows how to make.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorRates {
    /// Sends an ordinary e-mail instead of a De-Mail (the intake must not treat it as
    /// written form).
    pub plain_email: f64,
    /// Sends a De-Mail without `absenderbestätigt` (no login at level high, § 5 Abs. 5
    /// De-Mail-G) for a procedure that needs the Schriftform substitute (§ 3a Abs. 2 Satz 4
    /// Nr. 2 VwVfG).
    pub missing_absenderbestaetigt: f64,
    /// Writes to the wrong Funktionspostfach of the municipality.
    pub wrong_funktionspostfach: f64,
    /// Attaches more than the provider accepts.
    pub oversized_attachment: f64,
    /// Produces a malformed message (broken MIME structure, missing required header).
    pub malformed_message: f64,
    /// Misspells a De-Mail header (`X-de-mail-absenderbestaetig`), which the TR's reading
    /// rules then ignore.
    pub misspelt_header: f64,
}

/// The default error rates (per message sent). Rationale in `docs/population.md`: plain
/// e-mail and the missing absenderbestätigt are the mistakes municipalities report most; the
/// technical faults are rare because a De-Mail client or web mailer builds the message.
pub const DEFAULT_ERROR_RATES: ErrorRates = ErrorRates {
    plain_email: 0.05,
    missing_absenderbestaetigt: 0.10,
    wrong_funktionspostfach: 0.03,
    oversized_attachment: 0.02,
    malformed_message: 0.005,
    misspelt_header: 0.005,
};

/// Mean days between logins, over the population: a quarter log in at least daily, the median
/// citizen every 4 days, one in seven only monthly or less (De-Mail was a mailbox people
/// rarely opened).
pub const LOGIN_INTERVAL_DAYS: Quantiles = Quantiles {
    points: &[
        (0.0, 0.5),
        (0.10, 0.8),
        (0.25, 1.0),
        (0.40, 2.5),
        (0.50, 4.0),
        (0.70, 10.0),
        (0.85, 30.0),
        (0.95, 60.0),
        (1.0, 120.0),
    ],
};

/// Median response time in hours, over the population: from the same morning to two weeks.
pub const RESPONSE_MEDIAN_HOURS: Quantiles = Quantiles {
    points: &[
        (0.0, 2.0),
        (0.20, 8.0),
        (0.50, 24.0),
        (0.80, 72.0),
        (0.95, 168.0),
        (1.0, 336.0),
    ],
};

/// Shape σ of each citizen's log-normal response time (how variable one person is).
pub const RESPONSE_SIGMA: Quantiles = Quantiles {
    points: &[(0.0, 0.4), (0.5, 0.8), (1.0, 1.4)],
};

/// The personal carelessness factor the error rates are multiplied by; its mean is 1.0, so the
/// population's average rates equal the configured ones (up to capping at 1).
pub const CARELESSNESS: Quantiles = Quantiles {
    points: &[
        (0.0, 0.0),
        (0.30, 0.3),
        (0.60, 0.8),
        (0.85, 1.6),
        (0.97, 3.5),
        (1.0, 8.7),
    ],
};

/// The behaviour of one citizen.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Behaviour {
    /// Mean days between two logins (one decimal).
    pub login_interval_days: f64,
    /// Median hours until the citizen answers (one decimal).
    pub response_median_hours: f64,
    /// Shape σ of the log-normal response time (two decimals).
    pub response_sigma: f64,
    /// This citizen's per-message error probabilities (four decimals).
    pub errors: ErrorRates,
}

/// Draws one citizen's behaviour around the population `rates`.
pub(crate) fn draw(draw: &mut Draw, rates: &ErrorRates) -> Behaviour {
    let login = round_to(draw.quantile(&LOGIN_INTERVAL_DAYS), 1);
    let median = round_to(draw.quantile(&RESPONSE_MEDIAN_HOURS), 1);
    let sigma = round_to(draw.quantile(&RESPONSE_SIGMA), 2);
    let f = draw.quantile(&CARELESSNESS);
    let r = |base: f64| round_to((base * f).min(1.0), 4);
    Behaviour {
        login_interval_days: login,
        response_median_hours: median,
        response_sigma: sigma,
        errors: ErrorRates {
            plain_email: r(rates.plain_email),
            missing_absenderbestaetigt: r(rates.missing_absenderbestaetigt),
            wrong_funktionspostfach: r(rates.wrong_funktionspostfach),
            oversized_attachment: r(rates.oversized_attachment),
            malformed_message: r(rates.malformed_message),
            misspelt_header: r(rates.misspelt_header),
        },
    }
}

impl ErrorRates {
    /// The rates as (name, value) pairs in column order.
    pub fn named(&self) -> [(&'static str, f64); 6] {
        [
            ("plain_email", self.plain_email),
            (
                "missing_absenderbestaetigt",
                self.missing_absenderbestaetigt,
            ),
            ("wrong_funktionspostfach", self.wrong_funktionspostfach),
            ("oversized_attachment", self.oversized_attachment),
            ("malformed_message", self.malformed_message),
            ("misspelt_header", self.misspelt_header),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The carelessness factor has mean 1, so population averages equal the configured rates;
    /// the tables rise monotonically.
    #[test]
    fn tables_are_calibrated() {
        assert!(
            (CARELESSNESS.mean() - 1.0).abs() < 0.01,
            "{}",
            CARELESSNESS.mean()
        );
        for q in [
            LOGIN_INTERVAL_DAYS,
            RESPONSE_MEDIAN_HOURS,
            RESPONSE_SIGMA,
            CARELESSNESS,
        ] {
            assert_eq!(q.points.first().unwrap().0, 0.0);
            assert_eq!(q.points.last().unwrap().0, 1.0);
            assert!(
                q.points
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
            );
        }
        assert!((LOGIN_INTERVAL_DAYS.at(0.5) - 4.0).abs() < 1e-9);
    }
}
