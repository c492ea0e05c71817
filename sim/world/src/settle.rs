//! Settling: waiting until the world is idle at the current virtual instant (no provider has
//! an SMTP session open other than the runner's held ones, no delivery queued or in flight),
//! woken by the providers' `Activity` signals, never by polling; then copying the system under
//! test's events into the trace (read with `GET`, or taken from the clock answer when nothing
//! moved after it). And the wall-time accounting of a run's phases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use demail_core::trace::Trace;
use demail_provider::{Activity, ActivitySnapshot};

use crate::clock_link::{EventsPage, IntakeEvents};

/// How long settling may take, and an optional quiet window on top of the idle signal.
#[derive(Clone, Copy, Debug)]
pub struct SettleLimits {
    /// Extra quiet window after the world is idle (0: settle on the idle signal alone).
    pub quiet: Duration,
    /// Longest wait for the world to settle at one instant.
    pub limit: Duration,
}

/// Waits for the world to settle and copies the intake's events into the trace. Knows the
/// SMTP sessions the runner itself holds open ahead of an arrival (`held`, per provider):
/// those are idle by construction and do not count as activity.
pub struct Settler {
    pub activity: Vec<Arc<Activity>>,
    /// Sessions the runner holds open, per provider (in `activity` order).
    pub held: Vec<usize>,
    pub limits: SettleLimits,
    pub http: reqwest::Client,
    pub trace: Trace,
    /// The system's events (level 3); `None`: it offers none.
    pub intake_events: Option<IntakeEvents>,
    pub phases: Phases,
}

impl Settler {
    /// The providers' activity now (one reading per provider).
    pub fn read(&self) -> Vec<ActivitySnapshot> {
        self.activity.iter().map(|a| a.snapshot()).collect()
    }

    /// Waits until the world is idle: no provider has an SMTP session open (other than the
    /// runner's held ones) or a delivery queued or in flight (module documentation). With
    /// several providers, idle must be read twice in a row with the same generations, so that
    /// no hand-over between two readings is missed. Then waits `settle_quiet` more if asked,
    /// and starts over if anything moved meanwhile.
    pub async fn settle(&self) -> Result<()> {
        self.settle_reading().await.map(|_| ())
    }

    /// [`Settler::settle`], returning the providers' idle reading.
    async fn settle_reading(&self) -> Result<Vec<ActivitySnapshot>> {
        let started = Instant::now();
        loop {
            let left = self.limits.limit.saturating_sub(started.elapsed());
            let idle = demail_provider::wait_idle(&self.activity, &self.held, left)
                .await
                .map_err(|last| self.not_settled(&last))?;
            if self.limits.quiet.is_zero() || self.quiet_for(&idle).await {
                return Ok(idle);
            }
        }
    }

    /// Waits until no provider has a delivery queued or in flight (sessions may be open).
    pub async fn deliveries_done(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            let wakeups: Vec<_> = self.activity.iter().map(|a| a.changed()).collect();
            let busy = self.read().iter().position(|s| s.pending_deliveries > 0);
            let Some(busy) = busy else {
                return Ok(());
            };
            self.wait(started, wakeups.into_iter().nth(busy)).await?;
        }
    }

    /// Waits for `wakeup`, or fails when the settle limit since `started` has passed.
    async fn wait(
        &self,
        started: Instant,
        wakeup: Option<tokio::sync::futures::Notified<'_>>,
    ) -> Result<()> {
        let wakeup = wakeup.context("one wake-up per provider")?;
        let left = self.limits.limit.saturating_sub(started.elapsed());
        if tokio::time::timeout(left, wakeup).await.is_err() {
            return Err(self.not_settled(&self.read()));
        }
        Ok(())
    }

    /// The error when the world did not settle within the limit, with the last readings.
    fn not_settled(&self, s: &[ActivitySnapshot]) -> anyhow::Error {
        anyhow::anyhow!(
            "the world did not settle within {} s: {} SMTP sessions open ({} of them the runner's, waiting for their arrival), {} deliveries pending",
            self.limits.limit.as_secs(),
            s.iter().map(|s| s.open_sessions).sum::<usize>(),
            self.held.iter().sum::<usize>(),
            s.iter().map(|s| s.pending_deliveries).sum::<usize>()
        )
    }

    /// Whether nothing moved (same generations) for the quiet window after `idle` was read.
    async fn quiet_for(&self, idle: &[ActivitySnapshot]) -> bool {
        tokio::time::sleep(self.limits.quiet).await;
        self.read() == idle
    }

    /// Settles, then copies what the intake did into the trace (at the current virtual time).
    pub async fn settle_and_drain(&mut self) -> Result<()> {
        self.settle_after_clock(None).await
    }

    /// Settles after a clock post, then copies what the intake did into the trace. `carried`
    /// is the page of events the clock answer carried (`clock_link::post_clock`) with the
    /// providers' reading ([`Settler::read`]) taken before the post. The page is taken
    /// instead of a `GET` when nothing moved at any provider from before the post until idle
    /// (no session opened or closed, no delivery queued or done: the system submitted nothing
    /// and nothing was pushed to it, so it cannot have done anything after its answer) and
    /// it starts where the reading stands. A step in which the system submits mail is always
    /// read with `GET`. The events land at the same place in the trace either way: after the
    /// settle.
    pub async fn settle_after_clock(
        &mut self,
        carried: Option<(Vec<ActivitySnapshot>, EventsPage)>,
    ) -> Result<()> {
        let t = Instant::now();
        let idle = self.settle_reading().await?;
        let settled = Instant::now();
        if let Some(events) = &mut self.intake_events {
            let taken = carried
                .is_some_and(|(before, page)| idle == before && events.take(page, &self.trace));
            if !taken {
                events.drain(&self.http, &self.trace).await?;
            }
        }
        self.phases.settle += settled - t;
        self.phases.drain += settled.elapsed();
        Ok(())
    }
}

/// Wall time of the runner's phases, for the debug log at the end of a run: where the time
/// of a run goes (docs/benchmarks.md). Never reaches the trace.
#[derive(Default)]
pub struct Phases {
    pub instants: u64,
    pub sends: u64,
    /// `POST /testbed/clock` until answered (the intake's due work).
    pub clock: Duration,
    /// Citizen submissions until the provider's answer.
    pub send: Duration,
    /// Waiting for idle after a clock post or a send (pushes into the intake and the like).
    pub settle: Duration,
    /// `GET /testbed/events`.
    pub drain: Duration,
    /// The judge's observations.
    pub judge: Duration,
    /// The process's resident memory when the walk ended, before the reports (Linux:
    /// `VmRSS` of /proc/self/status), so that a benchmark tells the walk's growth from the
    /// end's peak.
    pub rss_after_walk_kb: Option<u64>,
}

/// `VmRSS` of /proc/self/status in kB; `None` where there is none (not Linux).
pub fn vm_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Phases {
    pub fn report(&self, wall: Duration) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let accounted = self.clock + self.send + self.settle + self.drain + self.judge;
        format!(
            "wall {:.0} ms over {} instants and {} sends: clock {:.0} ms, send {:.0} ms, settle {:.0} ms, drain {:.0} ms, judge {:.0} ms, rest (set-up, planning, report) {:.0} ms",
            ms(wall),
            self.instants,
            self.sends,
            ms(self.clock),
            ms(self.send),
            ms(self.settle),
            ms(self.drain),
            ms(self.judge),
            ms(wall.saturating_sub(accounted)),
        ) + &self
            .rss_after_walk_kb
            .map(|kb| format!("; VmRSS at the end of the walk {} MB", kb / 1024))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock_link::IntakeEvents;

    /// A settler of a world without providers whose events URL answers nothing (port 9 on
    /// loopback, closed): any `GET` of the events fails, so a test sees whether one was made.
    fn settler(trace: &Trace) -> Settler {
        Settler {
            activity: Vec::new(),
            held: Vec::new(),
            limits: SettleLimits {
                quiet: Duration::ZERO,
                limit: Duration::from_secs(5),
            },
            http: reqwest::Client::new(),
            trace: trace.clone(),
            intake_events: Some(IntakeEvents::new(
                "http://127.0.0.1:9/testbed/events".into(),
            )),
            phases: Phases::default(),
        }
    }

    fn page(from: usize) -> EventsPage {
        let body = format!(
            r#"{{"events_from":{from},"events":[{{"kind":"intake.acknowledged","aktenzeichen":"GEW-1","reply":"empfangsbescheinigung","deadlines":[]}}],"next":{}}}"#,
            from + 1
        );
        serde_json::from_str(&body).unwrap()
    }

    /// The clock answer's events are taken without a `GET` when nothing moved and the page
    /// starts at the reading; otherwise the events are read with `GET` (which fails here).
    #[tokio::test]
    async fn the_clock_answer_spares_the_get_only_when_nothing_moved() {
        let clock = demail_core::clock::VirtualClock::new(
            &"2025-03-03T09:00:00+01:00[Europe/Berlin]".parse().unwrap(),
        );
        let trace = Trace::new(clock);
        let mut s = settler(&trace);
        s.settle_after_clock(Some((Vec::new(), page(0))))
            .await
            .expect("taken from the answer, no GET");
        assert_eq!(trace.events().len(), 1);

        // The page does not start where the reading stands (1): GET.
        let e = s.settle_after_clock(Some((Vec::new(), page(0)))).await;
        assert!(e.is_err(), "a GET was made");

        // Something moved at a provider between the reading before the post and idle: GET.
        let moved = vec![demail_provider::ActivitySnapshot {
            open_sessions: 0,
            pending_deliveries: 0,
            generation: 1,
        }];
        let e = s.settle_after_clock(Some((moved, page(1)))).await;
        assert!(e.is_err(), "a GET was made");

        // No events in the answer (a system that does not carry them): GET.
        let e = s.settle_after_clock(None).await;
        assert!(e.is_err(), "a GET was made");
        assert_eq!(trace.events().len(), 1);
    }
}
