//! The arrival schedule of a load run, deterministic from the profile's seed: when each
//! arrival is intended (offset from the start, on the wall clock), which `[[mix]]` entry it
//! sends and which citizen of the seeded population sends it.
//!
//! The intended rate is a list of [`Segment`]s with a linear rate each (constant, ramp
//! stages, the hours of a compressed day). Arrival `k` is intended where the cumulative
//! intended count Λ(t) reaches `k` (even spacing, as k6's arrival-rate executors) or the
//! `k`-th point of a unit Poisson process in Λ (seeded exponential gaps); Λ is inverted
//! exactly per segment.
//!
//! Shards (`--shard i/n`, k6's execution segments): citizen `c` belongs to shard `c mod n`,
//! and an arrival to the shard of its citizen. Every shard computes the same full schedule
//! and keeps its own arrivals, so the shards are disjoint, their union is the unsharded
//! schedule, and no citizen sends in two shards (its account lives in one shard's world).

use anyhow::{Context, Result, bail};
use demail_sim::provider::AccountKind;
use demail_sim::seed;
use rand_core::Rng as _;

use super::profile::{Profile, RateShape, Senders, Spacing};

/// A stretch of the run with a linearly changing intended rate (arrivals per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// Start and end, seconds from the start of the run.
    pub from: f64,
    pub to: f64,
    /// Rate at `from` and at `to`.
    pub rate_from: f64,
    pub rate_to: f64,
}

impl Segment {
    fn len(&self) -> f64 {
        self.to - self.from
    }

    /// Intended arrivals in the whole segment.
    fn count(&self) -> f64 {
        0.5 * (self.rate_from + self.rate_to) * self.len()
    }

    /// Seconds into the segment where `y` arrivals are intended (0 ≤ y ≤ count).
    fn invert(&self, y: f64) -> f64 {
        let l = self.len();
        let a = (self.rate_to - self.rate_from) / (2.0 * l);
        let b = self.rate_from;
        let x = if a.abs() < 1e-12 {
            if b > 0.0 { y / b } else { 0.0 }
        } else {
            // a x² + b x = y, the root in [0, l].
            let disc = (b * b + 4.0 * a * y).max(0.0);
            (-b + disc.sqrt()) / (2.0 * a)
        };
        x.clamp(0.0, l)
    }
}

/// The intended rate of `profile` as segments covering `0..duration`.
pub fn segments(profile: &Profile) -> Vec<Segment> {
    let total = profile.duration.as_secs_f64();
    let mut out = Vec::new();
    match &profile.rate {
        RateShape::Constant { per_second } => out.push(Segment {
            from: 0.0,
            to: total,
            rate_from: *per_second,
            rate_to: *per_second,
        }),
        RateShape::Ramp { start, stages } => {
            let (mut t, mut r) = (0.0, *start);
            for (d, target) in stages {
                if t >= total {
                    break;
                }
                let end = (t + d.as_secs_f64()).min(total);
                let full = d.as_secs_f64();
                // A stage cut by the end of the run ends at the rate it has reached then.
                let at_end = if full > 0.0 {
                    r + (target - r) * ((end - t) / full)
                } else {
                    *target
                };
                if end > t {
                    out.push(Segment {
                        from: t,
                        to: end,
                        rate_from: r,
                        rate_to: at_end,
                    });
                }
                t = end;
                r = *target;
            }
            if t < total {
                out.push(Segment {
                    from: t,
                    to: total,
                    rate_from: r,
                    rate_to: r,
                });
            }
        }
        RateShape::OfficeHours {
            per_day,
            compress,
            start_hour,
            weights,
        } => {
            let sum: f64 = weights.iter().sum();
            let hour = 3600.0 / compress;
            let (mut t, mut h) = (0.0, *start_hour as usize % 24);
            while t < total {
                let end = (t + hour).min(total);
                // per_day × share of this hour, spread over the compressed hour.
                let rate = per_day * weights[h] / sum / hour;
                out.push(Segment {
                    from: t,
                    to: end,
                    rate_from: rate,
                    rate_to: rate,
                });
                t = end;
                h = (h + 1) % 24;
            }
        }
    }
    out
}

/// Most arrivals one profile may schedule (each shard computes the whole schedule).
pub const MAX_ARRIVALS: usize = 20_000_000;

/// The intended offsets (µs from the start) of every arrival, in order.
pub fn offsets(profile: &Profile) -> Result<Vec<u64>> {
    let segs = segments(profile);
    let total: f64 = segs.iter().map(Segment::count).sum();
    if total > MAX_ARRIVALS as f64 {
        bail!(
            "the profile schedules {total:.0} arrivals; at most {MAX_ARRIVALS} are supported per run"
        );
    }
    let mut rng = seed::rng(profile.seed, "load-arrivals");
    let mut next_y = |k: u64, prev: f64| -> f64 {
        match profile.spacing {
            Spacing::Even => k as f64,
            Spacing::Poisson => {
                // Exponential gap with mean 1 from a uniform in (0, 1].
                let u = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                prev - u.ln()
            }
        }
    };
    let mut out = Vec::new();
    let (mut seg, mut before) = (0usize, 0.0f64);
    let mut y = next_y(0, 0.0);
    let mut k = 0u64;
    while seg < segs.len() {
        let s = &segs[seg];
        let c = s.count();
        if y < before + c {
            let at = s.from + s.invert(y - before);
            out.push((at * 1e6).round() as u64);
            k += 1;
            y = next_y(k, y);
        } else {
            before += c;
            seg += 1;
        }
    }
    Ok(out)
}

/// A generated citizen with a De-Mail account at the load world's provider.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub name: String,
    pub address: String,
    pub kind: AccountKind,
    pub level: demail_sim::demail::AuthLevel,
    pub access_opened: bool,
    pub errors: demail_sim::population::ErrorRates,
}

/// The id of the load world's provider.
pub const PROVIDER_ID: &str = "dmda-a";

/// The De-Mail users of the profile's population (citizen `i` depends only on the seed and
/// `i`), all at the load world's provider.
pub fn users(profile: &Profile) -> Result<Vec<User>> {
    use demail_sim::population::{self, Kind, ProviderShare, Spec};
    let p = &profile.population;
    let mut spec = Spec::new(profile.seed, p.size, &p.municipality)
        .map_err(|e| anyhow::anyhow!("population: {e}"))?;
    spec.adoption.providers = vec![ProviderShare {
        id: PROVIDER_ID.into(),
        domain: profile.world.provider_domain.clone(),
        share: 1.0,
    }];
    if let Some(share) = p.demail_share {
        spec.adoption.person_share = share;
    }
    let mut out = Vec::new();
    for c in population::generate(spec).map_err(|e| anyhow::anyhow!("population: {e}"))? {
        let Some(account) = &c.demail else { continue };
        let name = match &c.business {
            Some(b) => b.name.clone(),
            None => format!("{} {}", c.first_names, c.surname),
        };
        out.push(User {
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
    if out.is_empty() {
        bail!("the population has no De-Mail users; raise [population] size or demail_share");
    }
    Ok(out)
}

/// One arrival of the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Position in the unsharded schedule (0-based); names the message (`LOAD-<index>`).
    pub index: u64,
    /// Intended time, µs from the start.
    pub offset_us: u64,
    /// The `[[mix]]` entry.
    pub mix: usize,
    /// The sender: index into [`users`].
    pub citizen: usize,
    /// The sender's error habit drawn for this message (population behaviour model).
    pub habit: Habit,
}

/// A citizen's mistake in one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Habit {
    None,
    /// Sends without `absenderbestätigt` although the mix asks for it.
    MissingAuthoritative,
    /// Misspells the header (`X-de-mail-absenderbestaetig: yes`).
    MisspeltHeader,
}

/// The whole schedule (every shard computes the same).
pub fn schedule(profile: &Profile, users: &[User]) -> Result<Vec<Arrival>> {
    let offsets = offsets(profile)?;
    // A message `absenderbestätigt` comes only from an account that can log in at level
    // high (§ 5 Abs. 5 De-Mail-G); the provider would refuse it from the others.
    let pool = |m: &super::profile::MixEntry| -> Vec<usize> {
        let high = m
            .options
            .contains(&demail_sim::demail::DeMailOption::Authoritative);
        users
            .iter()
            .enumerate()
            .filter(|(_, u)| match m.senders {
                Senders::Any => true,
                Senders::Person => u.kind == AccountKind::Person,
                Senders::Business => u.kind == AccountKind::Institution,
            })
            .filter(|(_, u)| !high || u.level == demail_sim::demail::AuthLevel::High)
            .map(|(i, _)| i)
            .collect()
    };
    let pools: Vec<Vec<usize>> = profile.mix.iter().map(pool).collect();
    for (m, pool) in profile.mix.iter().zip(&pools) {
        if pool.is_empty() {
            bail!(
                "[[mix]] {:?}: the population has no De-Mail users among senders = {:?} (at level high if the mix is authoritative); raise [population] size",
                m.name,
                m.senders
            );
        }
    }
    let weights: Vec<f64> = profile.mix.iter().map(|m| m.weight).collect();
    let total: f64 = weights.iter().sum();
    let mut rng = seed::rng(profile.seed, "load-mix");
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut out = Vec::with_capacity(offsets.len());
    for (index, offset_us) in offsets.into_iter().enumerate() {
        // Fixed order of draws per arrival: mix, citizen, habits.
        let mut x = unit() * total;
        let mut mix = weights.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                mix = i;
                break;
            }
            x -= w;
        }
        let pool = &pools[mix];
        let citizen = pool[((unit() * pool.len() as f64) as usize).min(pool.len() - 1)];
        let errors = &users[citizen].errors;
        let (missing, misspelt) = (unit(), unit());
        let habit = if missing < errors.missing_absenderbestaetigt {
            Habit::MissingAuthoritative
        } else if misspelt < errors.misspelt_header {
            Habit::MisspeltHeader
        } else {
            Habit::None
        };
        out.push(Arrival {
            index: index as u64,
            offset_us,
            mix,
            citizen,
            habit,
        });
    }
    Ok(out)
}

/// `--shard i/n`: this process runs slice `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole run in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n` (0 ≤ i < n).
    pub fn parse(text: &str) -> Result<Self> {
        let (i, n) = text
            .split_once('/')
            .with_context(|| format!("--shard {text:?}: expected I/N, e.g. 0/4"))?;
        let index: u32 = i
            .trim()
            .parse()
            .with_context(|| format!("--shard {text:?}: {i:?} is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .with_context(|| format!("--shard {text:?}: {n:?} is not a number"))?;
        if count == 0 || index >= count {
            bail!("--shard {text:?}: need 0 ≤ I < N");
        }
        Ok(Self { index, count })
    }

    /// Whether citizen `c` (an index into [`users`]) belongs to this shard.
    pub fn owns_citizen(&self, c: usize) -> bool {
        c % self.count as usize == self.index as usize
    }

    /// This shard's arrivals of the whole schedule.
    pub fn arrivals(&self, all: &[Arrival]) -> Vec<Arrival> {
        all.iter()
            .filter(|a| self.owns_citizen(a.citizen))
            .cloned()
            .collect()
    }
}
