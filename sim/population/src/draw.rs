//! Arithmetic-only random draws for the population (uniform index, chance, weighted pick,
//! piecewise-linear quantile tables).
//!
//! Only integer arithmetic and the correctly rounded IEEE operations (+, −, ×, ÷, `round`) are
//! used, never `ln`, `exp` or `cos`: those come from the platform's libm and may differ in the
//! last bit between machines, which would break "same seed ⇒ byte-identical export" across
//! platforms. The price is that distributions are given as quantile tables (see
//! [`Quantiles`]), which is also the easiest form to document and to calibrate.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// The per-citizen random stream: ChaCha8 seeded from the population seed and the index.
pub(crate) struct Draw {
    rng: ChaCha8Rng,
}

impl Draw {
    /// The stream of citizen `index` under the population sub-seed `population_seed`
    /// (`seed::derive(master, "population")`). It depends on nothing else, so citizen `i` is
    /// the same whatever the size of the population or the shard that generates it.
    pub(crate) fn for_citizen(population_seed: u64, index: u64) -> Self {
        let seed = demail_core::seed::derive(population_seed.wrapping_add(index), "citizen");
        Draw {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A uniform number in `[0, 1)` with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (clamped to `[0, 1]`).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform index in `0..n` (`n > 0`), by multiply-shift (bias below 2⁻³² for the small
    /// `n` used here).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.rng.next_u64()) * n as u128) >> 64) as usize
    }

    /// A uniform integer in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }

    /// One element of a non-empty slice, uniformly.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index drawn with the given non-negative weights (at least one positive).
    pub(crate) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        // Rounding can leave x just above the last weight: take the last positive one.
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }

    /// A draw from a quantile table.
    pub(crate) fn quantile(&mut self, q: &Quantiles) -> f64 {
        q.at(self.unit())
    }
}

/// A distribution given by its quantiles: `points[k] = (p, value)` with `p` rising from 0 to
/// 1; values in between are interpolated linearly (a piecewise-uniform distribution).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantiles {
    pub points: &'static [(f64, f64)],
}

impl Quantiles {
    /// The value at probability `u` in `[0, 1]`.
    pub fn at(&self, u: f64) -> f64 {
        let pts = self.points;
        for w in pts.windows(2) {
            let ((p0, v0), (p1, v1)) = (w[0], w[1]);
            if u <= p1 {
                if p1 <= p0 {
                    return v1;
                }
                return v0 + (v1 - v0) * ((u - p0) / (p1 - p0));
            }
        }
        pts.last().map_or(0.0, |p| p.1)
    }

    /// The mean of the piecewise-uniform distribution (for documentation and tests).
    pub fn mean(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum()
    }

    /// The probability of a value below `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        let pts = self.points;
        if pts.first().is_some_and(|p| x <= p.1) {
            return 0.0;
        }
        for w in pts.windows(2) {
            let ((p0, v0), (p1, v1)) = (w[0], w[1]);
            if x <= v1 {
                if v1 <= v0 {
                    return p1;
                }
                return p0 + (p1 - p0) * ((x - v0) / (v1 - v0));
            }
        }
        1.0
    }
}

/// Rounds to `decimals` places (exact IEEE arithmetic, so the same on every platform).
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    let f = [1.0, 10.0, 100.0, 1_000.0, 10_000.0][decimals.clamp(0, 4) as usize];
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantile tables interpolate linearly, their mean and CDF agree with the table, and
    /// draws stay in range.
    #[test]
    fn quantiles_interpolate() {
        let q = Quantiles {
            points: &[(0.0, 0.0), (0.5, 1.0), (1.0, 3.0)],
        };
        assert_eq!(q.at(0.25), 0.5);
        assert_eq!(q.at(0.75), 2.0);
        assert_eq!(q.at(1.0), 3.0);
        assert_eq!(q.mean(), 0.5 * 0.5 + 0.5 * 2.0);
        assert_eq!(q.cdf(2.0), 0.75);
        let mut d = Draw::for_citizen(1, 2);
        for _ in 0..1000 {
            let i = d.below(7);
            assert!(i < 7);
            let r = d.range(3, 5);
            assert!((3..=5).contains(&r));
            assert!(d.weighted(&[0.0, 1.0, 0.0]) == 1);
        }
    }

    /// The stream of a citizen depends only on (population seed, index).
    #[test]
    fn streams_are_per_index() {
        let a: Vec<u64> = (0..4)
            .map(|_| Draw::for_citizen(9, 5).rng.next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Draw::for_citizen(9, 5).rng.next_u64(),
            Draw::for_citizen(9, 6).rng.next_u64()
        );
    }
}
