//! The generated population's De-Mail users and the traffic they send: arrivals planned from
//! the seed a working day at a time ([`Arrivals`]), and the outgoing message of a scripted
//! step.

use super::*;

/// A generated citizen with a De-Mail account at the scenario's provider.
pub(super) struct Generated {
    pub(super) id: std::sync::Arc<str>,
    pub(super) name: String,
    pub(super) address: std::sync::Arc<str>,
    pub(super) kind: AccountKind,
    pub(super) level: demail_sim::demail::AuthLevel,
    pub(super) access_opened: bool,
    pub(super) errors: demail_sim::population::behaviour::ErrorRates,
}

/// Generates the scenario's population (if any) and keeps the De-Mail users at `provider`.
pub(super) fn generate_population(
    scenario: &Scenario,
    master: u64,
    provider: &crate::scenario::ProviderSpec,
) -> Result<Vec<Generated>> {
    use demail_sim::population::{self, Kind, ProviderShare, Spec};
    let Some(p) = &scenario.file.population else {
        return Ok(Vec::new());
    };
    let mut spec = Spec::new(
        master,
        p.size,
        scenario.file.scenario.municipality.get_ref(),
    )
    .map_err(|e| anyhow::anyhow!("population: {e}"))?;
    spec.reference_date = scenario.start.date();
    spec.adoption.providers = vec![ProviderShare {
        id: provider.id.clone(),
        domain: provider.domain.clone(),
        share: 1.0,
    }];
    if let Some(share) = p.demail_share {
        spec.adoption.person_share = share;
    }
    if let Some(share) = p.high_share {
        spec.adoption.person_high_share = share;
        spec.adoption.business_high_share = share;
    }
    let mut out = Vec::new();
    for c in population::generate(spec).map_err(|e| anyhow::anyhow!("population: {e}"))? {
        let Some(account) = &c.demail else { continue };
        if account.provider != provider.id {
            continue;
        }
        let name = match &c.business {
            Some(b) => b.name.clone(),
            None => format!("{} {}", c.first_names, c.surname),
        };
        out.push(Generated {
            id: c.id.as_str().into(),
            name,
            address: account.address.as_str().into(),
            kind: if c.kind == Kind::Business {
                AccountKind::Institution
            } else {
                AccountKind::Person
            },
            level: account.auth_level,
            access_opened: account.access_opened,
            errors: c.behaviour.errors,
        });
    }
    Ok(out)
}

/// Every traffic arrival of the run, planned lazily: `per_day` messages on each working day
/// of the place (not Saturday, Sunday or a holiday, § 193 BGB's notion), at times drawn
/// uniformly in the office-hour window, from citizens drawn uniformly among the generated
/// De-Mail users. Error habits (population behaviour model) are applied per message: a
/// missing absenderbestätigt drops that option, a misspelt header replaces it by a wrong name.
///
/// The plan is the one a single pass would make: one RNG (`arrivals`) draws traffic after
/// traffic in file order, day after day; arrivals are ordered by instant, at the same instant
/// by traffic and then by draw order. But only the arrivals of the current working day of
/// each traffic are held in memory (a year of a city of 500,000 held 163,000 composed
/// messages before): [`Arrivals::plan`] makes every draw once without composing anything
/// (so that an arrival out of range is an error before the run, each traffic's total is
/// known and each traffic's copy of the RNG starts where the single pass would), and each
/// traffic then composes its arrivals a day at a time as the walk reaches them.
pub(super) struct Arrivals<'a> {
    cx: PlanCx<'a>,
    plans: Vec<TrafficPlan>,
    /// The next arrival, composed, until it is taken.
    ahead: Option<(Timestamp, Outgoing)>,
    /// How many arrivals left `ahead` so far: the index of its front among all arrivals.
    taken: usize,
    /// Arrivals per traffic in all (id, count), in file order.
    totals: Vec<(String, usize)>,
}

/// What every traffic's planning reads.
struct PlanCx<'a> {
    scenario: &'a Scenario,
    generated: &'a [Generated],
    passwords: &'a [String],
    end: ZonedDateTime,
    intake_name: String,
}

/// One traffic's planning state: its own copy of the arrival RNG, the next day to plan and
/// the composed arrivals of the day planned last.
struct TrafficPlan {
    /// Index in `[[traffic]]` (file order).
    index: usize,
    rng: rand_chacha::ChaCha8Rng,
    day: jiff::civil::Date,
    /// Arrivals numbered so far (`<id>#<n>`).
    n: usize,
    /// Arrivals stop here (`until`, at most the end).
    stop: ZonedDateTime,
    options: Vec<DeMailOption>,
    ready: std::collections::VecDeque<(Timestamp, Outgoing)>,
}

impl<'a> Arrivals<'a> {
    /// Makes every draw of the run's traffic once (see the type's documentation).
    pub(super) fn plan(
        scenario: &'a Scenario,
        master: u64,
        end: &ZonedDateTime,
        generated: &'a [Generated],
        passwords: &'a [String],
    ) -> Result<Self> {
        let file = &scenario.file;
        let cx = PlanCx {
            scenario,
            generated,
            passwords,
            end: end.clone(),
            intake_name: scenario
                .intake
                .mailbox(&scenario.intake_address)
                .map_or(String::new(), |m| m.name.clone()),
        };
        if !file.traffic.is_empty() && generated.is_empty() {
            bail!("the population has no De-Mail users at the intake's provider to send traffic");
        }
        let mut rng = seed::rng(master, "arrivals");
        let mut plans = Vec::new();
        let mut totals = Vec::new();
        for (index, t) in file.traffic.iter().enumerate() {
            let plan = TrafficPlan::new(index, rng.clone(), scenario, end)?;
            let mut dry = TrafficPlan::new(index, rng, scenario, end)?;
            while dry.plan_day(&cx, false)? {}
            totals.push((t.id.clone(), dry.n));
            rng = dry.rng;
            plans.push(plan);
        }
        Ok(Self {
            cx,
            plans,
            ahead: Default::default(),
            taken: 0,
            totals,
        })
    }

    /// Arrivals per traffic in all (id, count), in file order.
    pub(super) fn totals(&self) -> &[(String, usize)] {
        &self.totals
    }

    /// Whether arrivals are still to come.
    pub(super) fn any_left(&self) -> bool {
        self.taken < self.totals.iter().map(|(_, n)| n).sum::<usize>()
    }

    /// The next arrival and its index among all arrivals.
    pub(super) fn peek(&mut self) -> Result<Option<(usize, &(Timestamp, Outgoing))>> {
        if self.ahead.is_none() {
            self.ahead = self.merge_next()?;
        }
        Ok(self.ahead.as_ref().map(|a| (self.taken, a)))
    }

    /// Takes the next arrival, with its index among all arrivals.
    pub(super) fn take(&mut self) -> Result<Option<(usize, (Timestamp, Outgoing))>> {
        self.peek()?;
        let Some(a) = self.ahead.take() else {
            return Ok(None);
        };
        self.taken += 1;
        Ok(Some((self.taken - 1, a)))
    }

    /// The earliest arrival of all traffics; at the same instant the one of the traffic
    /// earlier in the file (each traffic's own arrivals come in time and draw order).
    fn merge_next(&mut self) -> Result<Option<(Timestamp, Outgoing)>> {
        let mut best: Option<(Timestamp, usize)> = None;
        for (i, plan) in self.plans.iter_mut().enumerate() {
            while plan.ready.is_empty() && plan.plan_day(&self.cx, true)? {}
            if let Some((t, _)) = plan.ready.front()
                && best.is_none_or(|(b, _)| *t < b)
            {
                best = Some((*t, i));
            }
        }
        Ok(best.and_then(|(_, i)| self.plans[i].ready.pop_front()))
    }
}

impl TrafficPlan {
    /// Traffic `index`'s plan from its first day, drawing from `rng`.
    fn new(
        index: usize,
        rng: rand_chacha::ChaCha8Rng,
        scenario: &Scenario,
        end: &ZonedDateTime,
    ) -> Result<Self> {
        let t = &scenario.file.traffic[index];
        let stop = scenario
            .start
            .checked_add(scenario.traffic_until[index])
            .context("traffic `until` out of range")?;
        let mut options = Vec::new();
        for o in &t.options {
            options.push(DeMailOption::from_name(o.get_ref()).context("option validated at load")?);
        }
        Ok(Self {
            index,
            rng,
            day: scenario.start.date(),
            n: 0,
            stop: if stop < *end { stop } else { end.clone() },
            options,
            ready: Default::default(),
        })
    }

    /// Plans the next day (arrivals only on working days), composing its arrivals into
    /// `ready` if `compose`; `false` once the days to the end are all planned.
    fn plan_day(&mut self, cx: &PlanCx<'_>, compose: bool) -> Result<bool> {
        use rand_core::Rng as _;
        let scenario = cx.scenario;
        if self.day > cx.end.date() {
            return Ok(false);
        }
        let day = self.day;
        self.day = day.tomorrow().map_err(|e| anyhow::anyhow!("{e}"))?;
        if !demail_sim::law::is_working_day(&scenario.place, day)
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            return Ok(true);
        }
        let t = &scenario.file.traffic[self.index];
        let (from_s, to_s) = scenario.office_hours[self.index];
        let rng = &mut self.rng;
        let mut uniform = |n: u64| -> u64 { rng.next_u64() % n.max(1) };
        let midnight = day
            .to_zoned_datetime(scenario.start.time_zone().clone())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut times: Vec<u64> = (0..t.per_day)
            .map(|_| u64::from(from_s) + uniform(u64::from(to_s - from_s)))
            .collect();
        times.sort_unstable();
        for secs in times {
            let at = midnight
                .checked_add(jiff::SignedDuration::from_secs(secs as i64))
                .context("arrival time out of range")?;
            if at < scenario.start || at >= self.stop {
                continue;
            }
            let who = uniform(cx.generated.len() as u64) as usize;
            let g = &cx.generated[who];
            // Error habits: probabilities per message, drawn in a fixed order.
            let draw = |p: f64, r: u64| (r % 1_000_000) < (p * 1_000_000.0) as u64;
            let missing = draw(g.errors.missing_absenderbestaetigt, uniform(1_000_000));
            let misspelt = draw(g.errors.misspelt_header, uniform(1_000_000));
            self.n += 1;
            if !compose {
                continue;
            }
            let mut opts = self.options.clone();
            let mut headers = std::collections::BTreeMap::new();
            if missing {
                opts.retain(|o| *o != DeMailOption::Authoritative);
            }
            if misspelt && opts.contains(&DeMailOption::Authoritative) {
                opts.retain(|o| *o != DeMailOption::Authoritative);
                headers.insert("X-de-mail-absenderbestaetig".to_string(), "yes".to_string());
            }
            let n = self.n;
            self.ready.push_back((
                at.timestamp(),
                Outgoing {
                    step_id: format!("{}#{n}", t.id),
                    citizen_id: g.id.clone(),
                    name: g.name.clone(),
                    address: g.address.clone(),
                    password: cx.passwords[who].clone(),
                    to_address: scenario.intake_address.clone(),
                    to_name: cx.intake_name.clone(),
                    subject: t.subject.clone(),
                    body: t.body.clone(),
                    options: opts,
                    private_id: Some(format!("{}-{n}", t.id.to_uppercase())),
                    headers,
                    seal: None,
                    plain: false,
                },
            ));
        }
        Ok(true)
    }
}

/// One message a simulated citizen submits (from a scripted step or from traffic).
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Step id, or `<traffic id>#<n>` for traffic.
    pub step_id: String,
    /// Shared with the citizen's other messages and sends.
    pub citizen_id: std::sync::Arc<str>,
    pub name: String,
    pub address: std::sync::Arc<str>,
    pub password: String,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub body: String,
    pub options: Vec<DeMailOption>,
    pub private_id: Option<String>,
    pub headers: std::collections::BTreeMap<String, String>,
    /// A seal fault the sender's provider makes on this message (`seal = …`).
    pub seal: Option<SealFault>,
    /// A plain e-mail pushed straight to the intake's listener (`plain = true`).
    pub plain: bool,
}

/// The [`Outgoing`] of a scripted send step.
pub(super) fn outgoing_of_step(
    scenario: &Scenario,
    step: &crate::scenario::StepSpec,
    citizen_index: usize,
    password: &str,
) -> Result<Outgoing> {
    let file = &scenario.file;
    let citizen = &file.citizen[citizen_index];
    let spec = step.send.as_ref().context("a send step")?;
    let (to_address, to_name) = if spec.to == "intake" {
        let name = scenario
            .intake
            .mailbox(&scenario.intake_address)
            .map_or(String::new(), |m| m.name.clone());
        (scenario.intake_address.clone(), name)
    } else if let Some(m) = scenario.intake.mailbox(&spec.to) {
        (m.address.clone(), m.name.clone())
    } else {
        let name = file
            .citizen
            .iter()
            .find(|c| c.address == spec.to)
            .map_or(String::new(), |c| c.name.clone());
        (spec.to.clone(), name)
    };
    let mut options = Vec::new();
    for o in &spec.options {
        options.push(DeMailOption::from_name(o.get_ref()).context("option validated at load")?);
    }
    Ok(Outgoing {
        step_id: step.id.clone(),
        citizen_id: citizen.id.as_str().into(),
        name: citizen.name.clone(),
        address: citizen.address.as_str().into(),
        password: password.to_string(),
        to_address,
        to_name,
        subject: spec.subject.clone(),
        body: spec.body.clone(),
        options,
        private_id: spec.private_id.clone(),
        headers: spec.headers.clone(),
        seal: spec
            .seal
            .as_ref()
            .and_then(|f| SealFault::parse(f.get_ref())),
        plain: spec.plain.as_ref().is_some_and(|p| *p.get_ref()),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Two traffics in overlapping one-minute windows, so that many arrivals share an instant.
    const TWO_TRAFFICS: &str = r#"
[scenario]
title = "two traffics"
seed = 7
start = "2025-03-03T00:00:00+01:00[Europe/Berlin]"
land = "SN"
municipality = "Dresden"
duration = "P9D"
tick = "PT2H"

[[provider]]
id = "dmda-a"
name = "DMDA A"
domain = "dmda-a.de-mail.de"
hosts = ["dresden.de-mail.de"]

[intake]
address = "gewerbeangelegenheiten@dresden.de-mail.de"
name = "Gewerbeamt"
provider = "dmda-a"

[population]
size = 100

[[traffic]]
id = "a"
per_day = 40
office_hours = "08:00-08:01"
until = "P8D"
subject = "Gewerbeanzeige"
body = "a"
options = ["authoritative"]

[[traffic]]
id = "b"
per_day = 25
office_hours = "08:00-08:02"
subject = "Anfrage"
body = "b"
"#;

    fn citizens() -> Vec<Generated> {
        (0..7)
            .map(|i| Generated {
                id: format!("c{i}").into(),
                name: format!("Citizen {i}"),
                address: format!("c{i}@dmda-a.de-mail.de").into(),
                kind: AccountKind::Person,
                level: demail_sim::demail::AuthLevel::Normal,
                access_opened: true,
                errors: demail_sim::population::behaviour::ErrorRates {
                    missing_absenderbestaetigt: 0.3,
                    misspelt_header: 0.3,
                    ..demail_sim::population::behaviour::DEFAULT_ERROR_RATES
                },
            })
            .collect()
    }

    /// What an arrival is, for comparing plans.
    fn key(t: &Timestamp, o: &Outgoing) -> String {
        format!(
            "{t} {} {} {:?} {:?}",
            o.step_id, o.citizen_id, o.options, o.headers
        )
    }

    /// The lazy plan equals the single pass: one RNG composing every traffic in file order,
    /// then a stable sort by instant. This catches a dry pass that draws differently from
    /// composing, and a merge that breaks a tie the wrong way.
    #[test]
    fn the_lazy_plan_is_the_single_pass() {
        let scenario =
            crate::scenario::parse(TWO_TRAFFICS, Path::new("two.toml"), Path::new(".")).unwrap();
        let generated = citizens();
        let passwords: Vec<String> = generated.iter().map(|g| format!("pw-{}", g.id)).collect();
        let end = scenario.start.checked_add(scenario.duration).unwrap();
        let mut lazy = Arrivals::plan(&scenario, 99, &end, &generated, &passwords).unwrap();
        let cx = PlanCx {
            scenario: &scenario,
            generated: &generated,
            passwords: &passwords,
            end: end.clone(),
            intake_name: String::new(),
        };
        let mut rng = seed::rng(99, "arrivals");
        let mut single = Vec::new();
        for index in 0..2 {
            let mut plan = TrafficPlan::new(index, rng, &scenario, &end).unwrap();
            while plan.plan_day(&cx, true).unwrap() {}
            single.extend(plan.ready.drain(..));
            rng = plan.rng;
        }
        single.sort_by_key(|(t, _)| *t);
        let expected: Vec<String> = single.iter().map(|(t, o)| key(t, o)).collect();
        let totals = lazy.totals().to_vec();
        let mut got = Vec::new();
        while let Some((i, (t, o))) = lazy.take().unwrap() {
            assert_eq!(i, got.len(), "arrival index");
            got.push(key(&t, &o));
        }
        assert!(!lazy.any_left());
        assert_eq!(got, expected);
        // a until P8D: 3.–7. and 10.3.; b to the end (12.3. 00:00): also 11.3.
        assert_eq!(totals, vec![("a".into(), 6 * 40), ("b".into(), 7 * 25)]);
        // Ties exist, and at a tie traffic a comes first.
        let ties = single
            .windows(2)
            .filter(|w| {
                w[0].0 == w[1].0
                    && w[0].1.step_id.starts_with('a')
                    && w[1].1.step_id.starts_with('b')
            })
            .count();
        assert!(ties > 0, "the test needs instants shared by both traffics");
        // The error habits changed some arrivals' options.
        assert!(got.iter().any(|k| k.contains("absenderbestaetig\"")));
    }
}
