//! The discrete-event loop (`Walk`): at every instant it calls `delivery::retry_due`, tells
//! the intake the time, runs the programmed logins, steps and traffic arrivals due, settles,
//! looks into the programmed citizens' mailboxes, and lets the judge observe; it opens the
//! next arrival's session while the world settles.
//!
//! Programmed logins (docs/scenarios.md "Programmed citizens"): a citizen programmed
//! `high-after:<d>` logs in at level high `<d>` after each De-Mail (message type normal, not
//! a confirmation or Meldung) laid into its mailbox, at the Eingang (`stored_at`) + `<d>` in
//! the scenario's time zone; the login is the same `citizen.login` event as a scripted step,
//! and the provider issues the Abholbestätigungen due (PVD-FU §7.1). Due logins are kept in
//! an ordered set of (instant, citizen), so they run in a fixed order.

use std::collections::BTreeSet;

use demail_sim::demail::{AuthLevel, MessageType};

use super::*;

/// What the judge sees beside the world: the run's CA (DER) and each traffic's arrivals in all.
pub(super) type Observed<'a> = (&'a [u8], &'a [(String, usize)]);

/// The discrete-event loop's state: the world it walks, what is due, and what was sent.
pub(super) struct Walk<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) clock: &'a VirtualClock,
    pub(super) trace: &'a Trace,
    pub(super) world: World<'a>,
    pub(super) dms: Option<&'a crate::run::dms_mock::MockDms>,
    pub(super) http: reqwest::Client,
    /// The system's test clock (level 2 and up); `None`: it runs on its own time.
    pub(super) clock_url: Option<String>,
    pub(super) settler: Settler,
    pub(super) submitter: Submitter,
    pub(super) citizen_passwords: &'a [String],
    /// Draws the Message-ID tokens.
    pub(super) msg_rng: rand_chacha::ChaCha8Rng,
    /// Scripted steps in time order (stable: file order at the same instant), and the next.
    pub(super) step_times: Vec<(Timestamp, usize)>,
    pub(super) next_step: usize,
    /// Traffic arrivals in time order, planned a day at a time.
    pub(super) arrivals: Arrivals<'a>,
    /// The session opened ahead for the next arrival.
    pub(super) held: Option<Held>,
    /// The next clock tick (on the grid start + k × tick).
    pub(super) tick_at: ZonedDateTime,
    pub(super) end: ZonedDateTime,
    /// Walk on to `end` even when everything is decided (`--full-duration`).
    pub(super) full_duration: bool,
    /// The scripted steps' sends, and the arrivals' sends since the judge last observed.
    pub(super) steps_sent: Vec<SendOutcome>,
    pub(super) fresh: Vec<SendOutcome>,
    /// Programmed logins: the messages already seen per citizen (citizen index,
    /// X-de-mail-message-id) and the logins due (instant, citizen index).
    pub(super) seen: BTreeSet<(usize, String)>,
    pub(super) logins_due: BTreeSet<(Timestamp, usize)>,
}

impl Walk<'_> {
    /// Starts an instant: pushes and hand-overs whose retry is due and limits passed
    /// undelivered (docs/delivery.md) first, settled before the intake hears the time, so
    /// that the retried deliveries never race the intake's replies in the trace; then the
    /// DMS's outage state, then the intake's clock, settled (the events its answer carries are
    /// taken when nothing moved after the post, `Settler::settle_after_clock`).
    pub(super) async fn tell_the_time(&mut self, now: Timestamp) -> Result<()> {
        let t = Instant::now();
        let retried = demail_sim::provider::delivery::retry_due(self.world.providers);
        self.settler.phases.clock += t.elapsed();
        if retried > 0 {
            tracing::debug!("instant {now}: {retried} delivery retries due");
            self.settler.settle_and_drain().await?;
        }
        if let Some(dms) = self.dms {
            let scenario = self.scenario;
            let down = scenario.dms_outages.iter().any(|(from, until)| {
                let at = |s: &jiff::Span| scenario.start.checked_add(*s).map(|z| z.timestamp());
                matches!((at(from), at(until)), (Ok(a), Ok(b)) if a <= now && now < b)
            });
            dms.set_available(!down);
        }
        let mut carried = None;
        if let Some(url) = &self.clock_url {
            tracing::trace!("instant {now}: posting the clock");
            let before = self.settler.read();
            let t = Instant::now();
            carried = post_clock(&self.http, url, &self.clock.now())
                .await?
                .map(|page| (before, page));
            self.settler.phases.clock += t.elapsed();
        }
        self.settler.phases.instants += 1;
        self.settler.settle_after_clock(carried).await
    }

    /// Runs the scripted steps due at `now`, settling after each.
    pub(super) async fn run_steps(&mut self, now: Timestamp) -> Result<()> {
        let file = &self.scenario.file;
        while self.next_step < self.step_times.len() && self.step_times[self.next_step].0 <= now {
            let i = self.step_times[self.next_step].1;
            let step = &file.step[i];
            let ci = file
                .citizen
                .iter()
                .position(|c| c.id == *step.citizen.get_ref())
                .context("citizen validated at load")?;
            tracing::debug!("instant {now}: step {}", step.id);
            if let Some(level) = step.login {
                self.login(ci, level).await?;
                self.next_step += 1;
                continue;
            }
            let out = outgoing_of_step(self.scenario, step, ci, &self.citizen_passwords[ci])?;
            let t = Instant::now();
            let token = seed::token(&mut self.msg_rng);
            let outcome = send(
                &self.world,
                &self.submitter,
                self.trace,
                self.clock,
                &out,
                &token,
                None,
            )
            .await?;
            self.settler.phases.send += t.elapsed();
            self.settler.phases.sends += 1;
            self.steps_sent.push(outcome);
            self.settler.settle_and_drain().await?;
            self.next_step += 1;
        }
        Ok(())
    }

    /// Logs citizen `ci` in at `level` (`citizen.login`), then settles. A refused login (the
    /// account's level is lower, the account is closed) is the provider's answer, traced by it
    /// as `provider.refused`; the walk goes on.
    async fn login(&mut self, ci: usize, level: AuthLevel) -> Result<()> {
        let citizen = &self.scenario.file.citizen[ci];
        self.trace.emit(EventKind::CitizenLogin {
            citizen: citizen.id.clone(),
            address: citizen.address.clone(),
            level: level.as_str().to_string(),
        });
        if let Err(r) = self
            .world
            .provider_of(&citizen.address)
            .context("citizen's provider")?
            .login(&citizen.address, level)
        {
            tracing::debug!("login of {} refused: {r}", citizen.id);
        }
        self.settler.settle_and_drain().await
    }

    /// Runs the programmed logins due at `now`, in (instant, citizen) order.
    pub(super) async fn run_logins(&mut self, now: Timestamp) -> Result<()> {
        while let Some(&(at, ci)) = self.logins_due.first()
            && at <= now
        {
            self.logins_due.pop_first();
            tracing::debug!("instant {now}: programmed login of citizen {ci}");
            self.login(ci, AuthLevel::High).await?;
        }
        Ok(())
    }

    /// Looks into the mailboxes of the citizens programmed `high-after:<d>` and schedules a
    /// login at level high at the Eingang + `<d>` for every De-Mail not seen before.
    pub(super) fn watch_mailboxes(&mut self) -> Result<()> {
        let tz = self.scenario.start.time_zone().clone();
        for (ci, c) in self.scenario.citizens.iter().enumerate() {
            let Some(after) = c.programme.as_ref().and_then(Programme::login_after) else {
                continue;
            };
            let address = &self.scenario.file.citizen[ci].address;
            for m in self.world.mailbox(address)? {
                if m.message_type != MessageType::Normal
                    || !self.seen.insert((ci, m.message_id.clone()))
                {
                    continue;
                }
                let at = m
                    .stored_at
                    .to_zoned_datetime(tz.clone())
                    .checked_add(after)
                    .context("programmed login out of range")?
                    .timestamp();
                self.logins_due.insert((at, ci));
            }
        }
        Ok(())
    }

    /// Sends the traffic arrivals due at `now`; while each one's pushes are made, opens the
    /// next arrival's session, and settles.
    pub(super) async fn run_arrivals(&mut self, now: Timestamp) -> Result<()> {
        while let Some((_, (at, _))) = self.arrivals.peek()?
            && *at <= now
        {
            let (index, (_, arrival)) = self.arrivals.take()?.context("an arrival peeked")?;
            tracing::trace!("instant {now}: traffic {}", arrival.step_id);
            let conn = match self.held.take() {
                Some(h) if h.arrival == index => {
                    self.settler.held[h.provider] -= 1;
                    Some(h.conn)
                }
                Some(h) => bail!(
                    "internal: a session was held for arrival {} but arrival {index} came",
                    h.arrival
                ),
                None => None,
            };
            let t = Instant::now();
            let token = seed::token(&mut self.msg_rng);
            let outcome = send(
                &self.world,
                &self.submitter,
                self.trace,
                self.clock,
                &arrival,
                &token,
                conn,
            )
            .await?;
            self.settler.phases.send += t.elapsed();
            self.settler.phases.sends += 1;
            self.fresh.push(outcome);
            let t = Instant::now();
            self.hold_next_arrival().await?;
            self.settler.phases.settle += t.elapsed();
            self.settler.settle_and_drain().await?;
        }
        Ok(())
    }

    /// Opens the session of the next arrival while the current one's pushes are made; the
    /// world is then settled with that session counted as the runner's own.
    pub(super) async fn hold_next_arrival(&mut self) -> Result<()> {
        let Some((index, (_, ahead))) = self.arrivals.peek()? else {
            return Ok(());
        };
        let provider = self
            .world
            .provider_index(&ahead.address)
            .context("the sender's provider")?;
        let addr = self.world.providers[provider].submission_addr();
        let credentials = Credentials::new(ahead.address.to_string(), ahead.password.clone());
        let step_id = ahead.step_id.clone();
        let (opened, done) = tokio::join!(
            self.submitter.open(addr, &credentials),
            self.settler.deliveries_done()
        );
        done?;
        match opened? {
            Ok(conn) => {
                self.settler.held[provider] += 1;
                self.held = Some(Held {
                    arrival: index,
                    provider,
                    conn,
                });
                Ok(())
            }
            // Traffic credentials are right by construction: a refused login is a fault of
            // the world (and would put its event at the wrong place).
            Err(e) => {
                bail!("the provider refused the login of {step_id} ahead of its arrival: {e}")
            }
        }
    }

    /// Walks instant by instant until every step and arrival is done and every expectation
    /// decided, or the scenario's duration is over (only the latter with `full_duration`);
    /// the judge observes after each instant.
    pub(super) async fn until_done(
        &mut self,
        judge: &mut check::Judge<'_>,
        progress: Option<&indicatif::ProgressBar>,
        observed: Observed<'_>,
    ) -> Result<()> {
        loop {
            let now = self.clock.timestamp();
            self.tell_the_time(now).await?;
            self.run_logins(now).await?;
            self.run_steps(now).await?;
            self.run_arrivals(now).await?;
            self.watch_mailboxes()?;
            let t = Instant::now();
            judge.observe(&self.observation(observed));
            self.fresh.clear();
            self.settler.phases.judge += t.elapsed();
            if let Some(pb) = progress {
                let done = self
                    .clock
                    .timestamp()
                    .duration_since(self.scenario.start.timestamp());
                pb.set_position(done.as_secs().max(0) as u64);
            }
            if !self.full_duration && !self.steps_left() && judge.all_decided() {
                return Ok(());
            }
            match self.next_instant(now)? {
                Some(next) => self.clock.advance_to(next),
                None => return Ok(()),
            }
        }
    }

    /// What the judge may look at now.
    pub(super) fn observation<'s>(
        &'s self,
        (trust_anchor, traffic_totals): Observed<'s>,
    ) -> Observation<'s> {
        Observation {
            now: self.clock.now(),
            steps: &self.steps_sent,
            fresh: &self.fresh,
            world: &self.world,
            intake_address: &self.scenario.intake_address,
            trust_anchor,
            traffic_totals,
            dms: self.dms.map(|d| d as &dyn DmsRecords),
        }
    }

    /// Whether scripted steps or arrivals are still to come.
    pub(super) fn steps_left(&self) -> bool {
        self.next_step < self.step_times.len() || self.arrivals.any_left()
    }

    /// The next instant: the next tick, step, arrival, programmed login or delivery retry, whichever is
    /// earliest; `None` past the end. Ticks stay on their own grid (start + k × tick): an
    /// instant of a step or a retry in between does not move the next tick.
    pub(super) fn next_instant(&mut self, now: Timestamp) -> Result<Option<Timestamp>> {
        while self.tick_at.timestamp() <= now {
            self.tick_at = self
                .tick_at
                .checked_add(self.scenario.tick)
                .context("tick out of range")?;
        }
        let mut next = self.tick_at.timestamp();
        if let Some((t, _)) = self.step_times.get(self.next_step) {
            next = next.min(*t);
        }
        if let Some((_, (t, _))) = self.arrivals.peek()? {
            next = next.min(*t);
        }
        if let Some((t, _)) = self.logins_due.first() {
            next = next.min(*t);
        }
        // Never step over a delivery retry or a transport limit (docs/delivery.md).
        if let Some(t) = demail_sim::provider::delivery::next_wakeup(self.world.providers)
            && t > now
        {
            next = next.min(t);
        }
        Ok((next <= self.end.timestamp()).then_some(next))
    }
}

impl Mailboxes for World<'_> {
    /// The mailbox of `address` at its provider.
    fn mailbox(&self, address: &str) -> Result<Vec<StoredMessage>> {
        match self.provider_of(address) {
            Some(p) => p.mailbox(address),
            None => bail!("no provider of this world hosts {address}"),
        }
    }
}
