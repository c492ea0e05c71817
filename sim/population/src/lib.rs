//! A seeded fake population of citizens and businesses for the simulated municipality
//! (issue [5/6]).
//!
//! [`generate`] streams [`Citizen`]s (people and businesses; both are "citizens" in the
//! intake's sense: they file things) from a [`Spec`]. Each carries a name (the `fake` crate's
//! German locale), a street address with a real postcode of the city, a German telephone
//! number, a birth date (people) or firm details (businesses), perhaps a De-Mail account
//! (address per TR 01201 ACM-FU §2.1, provider, login level, Zugang eröffnet), and a
//! behaviour model the runner samples from later. `docs/population.md` documents the model,
//! its defaults and the export columns.
//!
//! Determinism: everything comes from the master seed. Citizen `i` is drawn from its own
//! ChaCha8 stream seeded by `seed::derive(seed::derive(master, "population") + i, "citizen")`,
//! so it depends only on (spec, i), not on the population size or on the shard that makes it.
//! The one exception is the collision number of a De-Mail address (`.1`, `.2`, … per ACM-FU
//! §2.1.1, or `-2` for a firm's domain): it depends on the earlier citizens that took the same
//! name, so a shard that starts at `i > 0` must still allocate addresses from citizen 0 on.
//!
//! Submodules: [`city`] (profiles, streets), [`phone`] (numbers and their checker), [`names`]
//! (people and firms), [`behaviour`] (the behaviour model and its defaults), [`export`] (CSV
//! and JSON Lines), `draw` (arithmetic-only random draws).

pub mod behaviour;
pub mod city;
mod draw;
pub mod export;
pub mod names;
pub mod phone;

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::{Span, ToSpan};

pub use behaviour::{Behaviour, DEFAULT_ERROR_RATES, ErrorRates};
pub use city::CityProfile;
use demail_wire::AuthLevel;
use demail_wire::address;
use draw::Draw;
pub use names::{Gewerbe, LegalForm};

/// Reference date used when none is given: ages are counted relative to it (no clock reads).
pub const DEFAULT_REFERENCE_DATE: Date = Date::constant(2025, 1, 1);

/// Adult age bands (inclusive years) and their weights, roughly the German adult population
/// by age (Destatis, population 2023, rounded): ages are uniform inside a band.
pub const AGE_BANDS: &[(i16, i16, f64)] = &[
    (18, 29, 0.15),
    (30, 39, 0.16),
    (40, 49, 0.15),
    (50, 59, 0.19),
    (60, 69, 0.17),
    (70, 79, 0.11),
    (80, 90, 0.07),
];

/// Share of people whose main telephone number is a mobile number.
pub const MOBILE_SHARE: f64 = 0.65;

/// Local parts of business addresses (institution Funktionspostfächer) with weights.
pub const BUSINESS_MAILBOXES: &[(&str, f64)] =
    &[("info", 0.6), ("poststelle", 0.25), ("kontakt", 0.15)];

/// Errors in a population spec or export request. Each message says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PopulationError {
    #[error("the population size must be at least 1")]
    ZeroSize,
    #[error("unknown city {name:?}: the built-in profiles are {known}")]
    UnknownCity { name: String, known: String },
    #[error("{what} must be a share between 0 and 1, got {value}")]
    BadShare { what: String, value: f64 },
    #[error("at least one De-Mail provider with a share above 0 is needed")]
    NoProviders,
    #[error("provider {spec:?}: {reason}")]
    BadProvider { spec: String, reason: String },
    #[error("unknown format {0:?}: use csv or json (JSON Lines)")]
    UnknownFormat(String),
    #[error("reference date {date}: {reason}")]
    BadReferenceDate { date: Date, reason: String },
}

/// A De-Mail provider with its share of the accounts.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderShare {
    /// Provider id as used in scenarios and traces (`dmda-a`).
    pub id: String,
    /// The provider's De-Mail domain (`dmda-a.de-mail.de`).
    pub domain: String,
    /// Relative share of the accounts (shares are normalised over all providers).
    pub share: f64,
}

impl ProviderShare {
    /// Parses `id:domain:share`, e.g. `dmda-a:dmda-a.de-mail.de:0.6`.
    pub fn parse(text: &str) -> Result<ProviderShare, PopulationError> {
        let bad = |reason: &str| PopulationError::BadProvider {
            spec: text.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = text.split(':');
        let (Some(id), Some(domain), Some(share), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(
                "expected id:domain:share, e.g. dmda-a:dmda-a.de-mail.de:0.6",
            ));
        };
        let share: f64 = share
            .trim()
            .parse()
            .map_err(|_| bad("the share is not a number"))?;
        let p = ProviderShare {
            id: id.trim().to_string(),
            domain: domain.trim().to_string(),
            share,
        };
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), PopulationError> {
        let bad = |reason: String| PopulationError::BadProvider {
            spec: format!("{}:{}:{}", self.id, self.domain, self.share),
            reason,
        };
        if self.id.is_empty() {
            return Err(bad("empty provider id".into()));
        }
        if !(self.share.is_finite() && self.share >= 0.0) {
            return Err(bad("the share must be a number ≥ 0".into()));
        }
        // A business gets `<slug>.<domain>` (one label of up to 40 characters more).
        if self.domain.len() > address::MAX_DOMAIN - 41 {
            return Err(bad(format!(
                "domain longer than {} characters leaves no room for firm subdomains",
                address::MAX_DOMAIN - 41
            )));
        }
        address::validate(&format!("info@{}", self.domain))
            .map_err(|e| bad(format!("not a De-Mail domain: {}", e.reason)))?;
        Ok(())
    }
}

/// Who has De-Mail, where, and how they use it.
#[derive(Clone, Debug, PartialEq)]
pub struct Adoption {
    /// Share of people with a De-Mail account.
    pub person_share: f64,
    /// Share of businesses with a De-Mail account.
    pub business_share: f64,
    /// Providers and their shares of the accounts.
    pub providers: Vec<ProviderShare>,
    /// Share of people with an account who can log in at level "high" (eID or token; needed
    /// for `absenderbestätigt`, § 5 Abs. 5 De-Mail-G).
    pub person_high_share: f64,
    /// Same for businesses.
    pub business_high_share: f64,
    /// Share of people with an account who opened access (Zugang eröffnet, § 7 Abs. 3
    /// De-Mail-G), so authorities may send them De-Mail with legal effect.
    pub person_access_opened_share: f64,
    /// Same for businesses.
    pub business_access_opened_share: f64,
}

impl Default for Adoption {
    /// The defaults (rationale in `docs/population.md`).
    fn default() -> Self {
        Adoption {
            person_share: 0.10,
            business_share: 0.30,
            providers: vec![
                ProviderShare {
                    id: "dmda-a".into(),
                    domain: "dmda-a.de-mail.de".into(),
                    share: 0.5,
                },
                ProviderShare {
                    id: "dmda-b".into(),
                    domain: "dmda-b.de-mail.de".into(),
                    share: 0.3,
                },
                ProviderShare {
                    id: "dmda-c".into(),
                    domain: "dmda-c.de-mail.de".into(),
                    share: 0.2,
                },
            ],
            person_high_share: 0.30,
            business_high_share: 0.50,
            person_access_opened_share: 0.25,
            business_access_opened_share: 0.60,
        }
    }
}

/// What population to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Master seed.
    pub seed: u64,
    /// Number of citizens (people and businesses).
    pub size: u64,
    /// The city everybody lives in.
    pub city: &'static CityProfile,
    /// Ages are counted relative to this date.
    pub reference_date: Date,
    /// Share of businesses among the citizens.
    pub business_share: f64,
    /// De-Mail adoption.
    pub adoption: Adoption,
    /// Population-wide error rates per message (each citizen's are scattered around them).
    pub error_rates: ErrorRates,
}

impl Spec {
    /// A spec with the defaults for `size` citizens of the built-in city `city`.
    pub fn new(seed: u64, size: u64, city: &str) -> Result<Spec, PopulationError> {
        let profile = city::find(city).ok_or_else(|| PopulationError::UnknownCity {
            name: city.to_string(),
            known: city::known_names(),
        })?;
        let spec = Spec {
            seed,
            size,
            city: profile,
            reference_date: DEFAULT_REFERENCE_DATE,
            business_share: 0.07,
            adoption: Adoption::default(),
            error_rates: DEFAULT_ERROR_RATES,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks sizes, shares, providers and the reference date.
    pub fn validate(&self) -> Result<(), PopulationError> {
        if self.size == 0 {
            return Err(PopulationError::ZeroSize);
        }
        let a = &self.adoption;
        let e = &self.error_rates;
        let mut shares = vec![
            ("the business share", self.business_share),
            ("the De-Mail share of people", a.person_share),
            ("the De-Mail share of businesses", a.business_share),
            (
                "the share of people with login level high",
                a.person_high_share,
            ),
            (
                "the share of businesses with login level high",
                a.business_high_share,
            ),
            (
                "the share of people with access opened",
                a.person_access_opened_share,
            ),
            (
                "the share of businesses with access opened",
                a.business_access_opened_share,
            ),
        ];
        for (name, v) in e.named() {
            shares.push((name, v));
        }
        for (what, value) in shares {
            if !(0.0..=1.0).contains(&value) {
                return Err(PopulationError::BadShare {
                    what: what.to_string(),
                    value,
                });
            }
        }
        for p in &a.providers {
            p.check()?;
        }
        if !a.providers.iter().any(|p| p.share > 0.0) {
            return Err(PopulationError::NoProviders);
        }
        let mut ids = BTreeSet::new();
        for p in &a.providers {
            if !ids.insert(p.id.as_str()) {
                return Err(PopulationError::BadProvider {
                    spec: p.id.clone(),
                    reason: "provider id given twice".into(),
                });
            }
        }
        let oldest = AGE_BANDS.iter().map(|b| b.1).max().unwrap_or(90);
        if self
            .reference_date
            .checked_sub(i64::from(oldest + 1).years())
            .is_err()
        {
            return Err(PopulationError::BadReferenceDate {
                date: self.reference_date,
                reason: "too early to count adult ages back from".into(),
            });
        }
        Ok(())
    }
}

/// Person or business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Person,
    Business,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Business => "business",
        }
    }
}

/// Firm details of a business.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Business {
    /// Firm name with legal form ("Krause Elektrotechnik GmbH").
    pub name: String,
    pub legal_form: LegalForm,
    /// Gewerbe id ([`names::GEWERBE`]).
    pub gewerbe: &'static str,
    /// Gewerbe as described on a Gewerbeanmeldung.
    pub gewerbe_description: &'static str,
}

/// A De-Mail account.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DeMailAccount {
    /// Provider id.
    pub provider: String,
    /// The De-Mail address (passes [`address::validate`]).
    pub address: String,
    /// Highest level the holder can log in at.
    pub auth_level: AuthLevel,
    /// Zugang eröffnet (§ 7 Abs. 3 De-Mail-G).
    pub access_opened: bool,
}

/// One generated citizen: a person or a business.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Citizen {
    /// Position in the population, from 0.
    pub index: u64,
    /// Stable id (`c<index>`), usable as a scenario citizen id.
    pub id: String,
    pub kind: Kind,
    /// Given names (of the owner or managing director for a business).
    pub first_names: String,
    /// Surname (of the owner or managing director for a business).
    pub surname: String,
    /// Birth date (people only).
    pub birth_date: Option<Date>,
    /// Firm details (businesses only).
    pub business: Option<Business>,
    pub street: String,
    pub house_number: String,
    pub postcode: &'static str,
    pub city: &'static str,
    /// Telephone number in international notation (see [`phone::check`]).
    pub phone: String,
    /// The De-Mail account, if any.
    pub demail: Option<DeMailAccount>,
    pub behaviour: Behaviour,
}

/// The streaming generator returned by [`generate`]: an iterator of [`Citizen`]s that keeps
/// only the set of allocated De-Mail addresses in memory.
pub struct Population {
    spec: Spec,
    population_seed: u64,
    next: u64,
    taken: BTreeSet<String>,
    firm_domains: BTreeSet<String>,
    /// (earliest birth date, days in band, weight) per age band.
    bands: Vec<(Date, i32, f64)>,
    band_weights: Vec<f64>,
    provider_weights: Vec<f64>,
    form_weights: Vec<f64>,
    mailbox_weights: Vec<f64>,
}

/// Starts generating the population described by `spec` (checked first).
pub fn generate(spec: Spec) -> Result<Population, PopulationError> {
    spec.validate()?;
    let r = spec.reference_date;
    let arith = |e: jiff::Error| PopulationError::BadReferenceDate {
        date: r,
        reason: e.to_string(),
    };
    let mut bands = Vec::new();
    for &(lo, hi, w) in AGE_BANDS {
        // Age in lo..=hi on the reference date: born after r − (hi+1) years, at most r − lo.
        let earliest = r
            .checked_sub(i64::from(hi + 1).years())
            .and_then(|d| d.checked_add(1.day()))
            .map_err(arith)?;
        let latest = r.checked_sub(i64::from(lo).years()).map_err(arith)?;
        let days = earliest.until(latest).map_err(arith)?.get_days();
        bands.push((earliest, days, w));
    }
    Ok(Population {
        population_seed: demail_core::seed::derive(spec.seed, "population"),
        next: 0,
        taken: BTreeSet::new(),
        firm_domains: BTreeSet::new(),
        band_weights: bands.iter().map(|b| b.2).collect(),
        bands,
        provider_weights: spec.adoption.providers.iter().map(|p| p.share).collect(),
        form_weights: names::LEGAL_FORMS.iter().map(|f| f.1).collect(),
        mailbox_weights: BUSINESS_MAILBOXES.iter().map(|m| m.1).collect(),
        spec,
    })
}

/// What the random stream decides about an account, before an address is allocated.
struct AccountDraw {
    provider: usize,
    high: bool,
    access_opened: bool,
    mailbox: usize,
}

impl Population {
    /// The spec this population is generated from.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    fn birth_date(&self, draw: &mut Draw) -> Option<Date> {
        let (earliest, days, _) = self.bands[draw.weighted(&self.band_weights)];
        let k = draw.below(days.max(0) as usize + 1);
        earliest.checked_add(Span::new().days(k as i64)).ok()
    }

    fn account_draw(&self, draw: &mut Draw, kind: Kind) -> Option<AccountDraw> {
        let a = &self.spec.adoption;
        let (share, high, opened) = match kind {
            Kind::Person => (
                a.person_share,
                a.person_high_share,
                a.person_access_opened_share,
            ),
            Kind::Business => (
                a.business_share,
                a.business_high_share,
                a.business_access_opened_share,
            ),
        };
        // Always draw all four, so the stream's position does not depend on the outcome.
        let has = draw.chance(share);
        let provider = draw.weighted(&self.provider_weights);
        let high = draw.chance(high);
        let access_opened = draw.chance(opened);
        let mailbox = draw.weighted(&self.mailbox_weights);
        has.then_some(AccountDraw {
            provider,
            high,
            access_opened,
            mailbox,
        })
    }

    fn make(&mut self, index: u64) -> Citizen {
        let mut draw = Draw::for_citizen(self.population_seed, index);
        let city = self.spec.city;
        let kind = if draw.chance(self.spec.business_share) {
            Kind::Business
        } else {
            Kind::Person
        };
        let first_names = names::person_first_names(&mut draw);
        let surname = names::surname(&mut draw);
        let (street, house_number) = city::street_address(&mut draw, city);
        let postcode = *draw.pick(city.postcodes);
        let mobile = draw.chance(MOBILE_SHARE);
        let phone = if kind == Kind::Person && mobile {
            phone::mobile(&mut draw)
        } else {
            phone::landline(&mut draw, city)
        };
        let (birth_date, business) = match kind {
            Kind::Person => (self.birth_date(&mut draw), None),
            Kind::Business => {
                let form = names::LEGAL_FORMS[draw.weighted(&self.form_weights)].0;
                let gewerbe = draw.pick(names::GEWERBE);
                let partner = names::surname(&mut draw);
                let given = first_names.split(' ').next().unwrap_or("");
                let (name, _) = names::firm_name(&mut draw, surname, given, partner, form, gewerbe);
                (
                    None,
                    Some(Business {
                        name,
                        legal_form: form,
                        gewerbe: gewerbe.id,
                        gewerbe_description: gewerbe.description,
                    }),
                )
            }
        };
        let account = self.account_draw(&mut draw, kind);
        let behaviour = behaviour::draw(&mut draw, &self.spec.error_rates);
        // No random draws below this line: address allocation depends on earlier citizens.
        let demail = account.and_then(|acc| {
            let provider = &self.spec.adoption.providers[acc.provider];
            let address = match &business {
                None => address::allocate(&first_names, surname, &provider.domain, &mut self.taken)
                    .ok()?,
                Some(b) => business_address(
                    &mut self.taken,
                    &mut self.firm_domains,
                    b,
                    &provider.domain,
                    acc.mailbox,
                )?,
            };
            Some(DeMailAccount {
                provider: provider.id.clone(),
                address,
                auth_level: if acc.high {
                    AuthLevel::High
                } else {
                    AuthLevel::Normal
                },
                access_opened: acc.access_opened,
            })
        });
        Citizen {
            index,
            id: format!("c{index}"),
            kind,
            first_names,
            surname: surname.to_string(),
            birth_date,
            business,
            street,
            house_number,
            postcode,
            city: city.name,
            phone,
            demail,
            behaviour,
        }
    }
}

/// `<mailbox>@<firm-slug>.<provider domain>`; a firm domain already given to an earlier
/// business gets `-2`, `-3`, … (an institution has its own third-level domain, ACM-FU
/// §2.1.2).
fn business_address(
    taken: &mut BTreeSet<String>,
    firm_domains: &mut BTreeSet<String>,
    b: &Business,
    domain: &str,
    mailbox: usize,
) -> Option<String> {
    let core = b
        .name
        .strip_suffix(b.legal_form.as_str())
        .unwrap_or(&b.name)
        .trim();
    let base = names::slug(core);
    let mut n = 1u32;
    let firm_domain = loop {
        let label = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let d = format!("{label}.{domain}");
        if !firm_domains.contains(&d) {
            break d;
        }
        n += 1;
    };
    let addr = format!("{}@{firm_domain}", BUSINESS_MAILBOXES[mailbox].0);
    address::validate(&addr).ok()?;
    firm_domains.insert(firm_domain);
    taken.insert(addr.clone());
    Some(addr)
}

impl Iterator for Population {
    type Item = Citizen;

    fn next(&mut self) -> Option<Citizen> {
        if self.next >= self.spec.size {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(self.make(i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.spec.size - self.next).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bad specs are refused with a message naming the problem; unknown cities list the
    /// known ones.
    #[test]
    fn bad_specs_are_refused() {
        assert_eq!(Spec::new(1, 0, "Dresden"), Err(PopulationError::ZeroSize));
        let e = Spec::new(1, 5, "Gotham").unwrap_err().to_string();
        assert!(
            e.contains("Dresden, Leipzig, Chemnitz, Berlin, München"),
            "{e}"
        );
        let mut s = Spec::new(1, 5, "Dresden").unwrap();
        s.adoption.person_share = 1.5;
        assert!(s.validate().unwrap_err().to_string().contains("1.5"));
        let mut s = Spec::new(1, 5, "Dresden").unwrap();
        s.adoption.providers.iter_mut().for_each(|p| p.share = 0.0);
        assert_eq!(s.validate(), Err(PopulationError::NoProviders));
        assert!(ProviderShare::parse("x:de-mail.de:1").is_err());
        assert!(ProviderShare::parse("x:x.de-mail.de").is_err());
        assert_eq!(
            ProviderShare::parse("x:x.de-mail.de:0.5").unwrap().share,
            0.5
        );
    }

    /// Birth dates honour the band limits exactly: the oldest is 90, the youngest 18 on the
    /// reference date.
    #[test]
    fn age_band_bounds() {
        let p = generate(Spec::new(1, 1, "Dresden").unwrap()).unwrap();
        let (first, _, _) = p.bands[0];
        let (last, days, _) = *p.bands.last().unwrap();
        assert_eq!(
            first.checked_add(p.bands[0].1.days()).unwrap(),
            Date::constant(2007, 1, 1)
        );
        assert_eq!(last, Date::constant(1934, 1, 2));
        assert_eq!(
            last.checked_add(days.days()).unwrap(),
            Date::constant(1945, 1, 1)
        );
    }
}
