//! The generated population's De-Mail users and the traffic they send: arrivals planned from
//! the seed (`plan_arrivals`), and the outgoing message of a scripted step.

use super::*;

/// A generated citizen with a De-Mail account at the scenario's provider.
pub(super) struct Generated {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) address: String,
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
            id: c.id.clone(),
            name,
            address: account.address.clone(),
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

/// Plans every traffic arrival of the run: `per_day` messages on each working day of the
/// place (not Saturday, Sunday or a holiday, § 193 BGB's notion), at times drawn uniformly in
/// the office-hour window, from citizens drawn uniformly among the generated De-Mail users.
/// Error habits (population behaviour model) are applied per message: a missing
/// absenderbestätigt drops that option, a misspelt header replaces it by a wrong name.
pub(super) fn plan_arrivals(
    scenario: &Scenario,
    master: u64,
    end: &ZonedDateTime,
    generated: &[Generated],
    passwords: &[String],
) -> Result<Vec<(Timestamp, Outgoing)>> {
    use rand_core::Rng as _;
    let file = &scenario.file;
    let mut out: Vec<(Timestamp, Outgoing)> = Vec::new();
    if file.traffic.is_empty() {
        return Ok(out);
    }
    let intake_name = scenario
        .intake
        .mailbox(&scenario.intake_address)
        .map_or(String::new(), |m| m.name.clone());
    if generated.is_empty() {
        bail!("the population has no De-Mail users at the intake's provider to send traffic");
    }
    let mut rng = seed::rng(master, "arrivals");
    let mut uniform = |n: u64| -> u64 { rng.next_u64() % n.max(1) };
    let tz = scenario.start.time_zone().clone();
    for ((t, (from_s, to_s)), until) in file
        .traffic
        .iter()
        .zip(&scenario.office_hours)
        .zip(&scenario.traffic_until)
    {
        let stop = scenario
            .start
            .checked_add(*until)
            .context("traffic `until` out of range")?;
        let stop = if stop < *end { stop } else { end.clone() };
        let mut options = Vec::new();
        for o in &t.options {
            options.push(DeMailOption::from_name(o.get_ref()).context("option validated at load")?);
        }
        let mut n = 0usize;
        let mut day = scenario.start.date();
        while day <= end.date() {
            if demail_sim::law::is_working_day(&scenario.place, day)
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                let midnight = day
                    .to_zoned_datetime(tz.clone())
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let mut times: Vec<u64> = (0..t.per_day)
                    .map(|_| u64::from(*from_s) + uniform(u64::from(to_s - from_s)))
                    .collect();
                times.sort_unstable();
                for secs in times {
                    let at = midnight
                        .checked_add(jiff::SignedDuration::from_secs(secs as i64))
                        .context("arrival time out of range")?;
                    if at < scenario.start || at >= stop {
                        continue;
                    }
                    let who = uniform(generated.len() as u64) as usize;
                    let g = &generated[who];
                    // Error habits: probabilities per message, drawn in a fixed order.
                    let mut opts = options.clone();
                    let mut headers = std::collections::BTreeMap::new();
                    let draw = |p: f64, r: u64| (r % 1_000_000) < (p * 1_000_000.0) as u64;
                    if draw(g.errors.missing_absenderbestaetigt, uniform(1_000_000)) {
                        opts.retain(|o| *o != DeMailOption::Authoritative);
                    }
                    if draw(g.errors.misspelt_header, uniform(1_000_000))
                        && opts.contains(&DeMailOption::Authoritative)
                    {
                        opts.retain(|o| *o != DeMailOption::Authoritative);
                        headers
                            .insert("X-de-mail-absenderbestaetig".to_string(), "yes".to_string());
                    }
                    n += 1;
                    out.push((
                        at.timestamp(),
                        Outgoing {
                            step_id: format!("{}#{n}", t.id),
                            citizen_id: g.id.clone(),
                            name: g.name.clone(),
                            address: g.address.clone(),
                            password: passwords[who].clone(),
                            to_address: scenario.intake_address.clone(),
                            to_name: intake_name.clone(),
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
            }
            day = day.tomorrow().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    // Stable: arrivals at the same instant keep their traffic and draw order.
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

/// One message a simulated citizen submits (from a scripted step or from traffic).
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Step id, or `<traffic id>#<n>` for traffic.
    pub step_id: String,
    pub citizen_id: String,
    pub name: String,
    pub address: String,
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
        citizen_id: citizen.id.clone(),
        name: citizen.name.clone(),
        address: citizen.address.clone(),
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
