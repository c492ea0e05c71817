//! Virtual time shared by the simulated world.
//!
//! Architecture invariant: nothing in `sim/` reads the system clock to decide legal time. The
//! provider stamps `Date` and the Eingang (arrival in a mailbox) from this clock, the trace
//! stamps every event from it, and the runner alone moves it forward. The one exception is the
//! wall-clock adapter [`VirtualClock::wall`], used only by `serve` (a provider for manual work,
//! where time is real time) and `load` (a load test on the wall clock); scenario runs never
//! use it.

use std::sync::{Arc, Mutex};

use jiff::{Timestamp, ZonedDateTime, tz::TimeZone};

/// The time zone of German legal time (§ 187 ff. BGB count days in local time).
pub const LEGAL_TIME_ZONE: &str = "Europe/Berlin";

/// A clock that only moves when the runner says so. Cloning shares the same time.
#[derive(Clone, Debug)]
pub struct VirtualClock {
    /// Current virtual instant; `None` for the wall-clock adapter.
    now: Option<Arc<Mutex<Timestamp>>>,
    /// Zone used to render instants (Europe/Berlin).
    tz: TimeZone,
}

impl VirtualClock {
    /// Starts a clock at `start`; instants are rendered in `start`'s time zone.
    pub fn new(start: &ZonedDateTime) -> Self {
        Self {
            now: Some(Arc::new(Mutex::new(start.timestamp()))),
            tz: start.time_zone().clone(),
        }
    }

    /// The wall-clock adapter: real time in Europe/Berlin, for `serve` and `load` only (see
    /// the module doc). It cannot be moved.
    pub fn wall() -> Self {
        Self {
            now: None,
            tz: TimeZone::get(LEGAL_TIME_ZONE).unwrap_or(TimeZone::UTC),
        }
    }

    /// The current virtual instant.
    pub fn timestamp(&self) -> Timestamp {
        match &self.now {
            Some(now) => *now.lock().unwrap_or_else(|e| e.into_inner()),
            None => Timestamp::now(),
        }
    }

    /// The current virtual instant in the clock's time zone.
    pub fn now(&self) -> ZonedDateTime {
        self.timestamp().to_zoned_datetime(self.tz.clone())
    }

    /// The clock's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Moves the clock to `to`. Virtual time never runs backwards: a move into the past is a
    /// broken invariant of the runner, so it panics (kept on in release builds on purpose).
    pub fn advance_to(&self, to: Timestamp) {
        let Some(now) = &self.now else {
            panic!("the wall-clock adapter cannot be moved");
        };
        let mut now = now.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            to >= *now,
            "virtual clock moved backwards: {} -> {}",
            *now,
            to
        );
        *now = to;
    }
}

/// Formats an instant for traces and reports: RFC 3339 with the local offset, to the second.
pub fn format_instant(at: &ZonedDateTime) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Formats an instant as an RFC 5322 `Date` header value.
pub fn format_rfc5322(at: &ZonedDateTime) -> String {
    jiff::fmt::rfc2822::to_string(at).unwrap_or_else(|_| at.timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock starts where it is told, renders in Europe/Berlin with the right offset
    /// (CET in March, CEST in July) and moves only forward.
    #[test]
    fn clock_renders_local_time_and_moves_forward() {
        let start: ZonedDateTime = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let clock = VirtualClock::new(&start);
        assert_eq!(format_instant(&clock.now()), "2025-03-03T09:00:00+01:00");
        let summer: ZonedDateTime = "2025-07-01T10:00:00+02:00[Europe/Berlin]".parse().unwrap();
        clock.advance_to(summer.timestamp());
        assert_eq!(format_instant(&clock.now()), "2025-07-01T10:00:00+02:00");
        assert_eq!(
            format_rfc5322(&clock.now()),
            "Tue, 1 Jul 2025 10:00:00 +0200"
        );
    }

    /// Moving the clock backwards is a runner bug and must not pass silently.
    #[test]
    #[should_panic(expected = "virtual clock moved backwards")]
    fn clock_refuses_to_move_backwards() {
        let start: ZonedDateTime = "2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let clock = VirtualClock::new(&start);
        clock.advance_to(start.timestamp() - jiff::SignedDuration::from_secs(1));
    }
}
