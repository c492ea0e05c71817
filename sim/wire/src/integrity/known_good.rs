//! A small memo of certificate checks that passed, keyed by the exact bytes checked.
//!
//! Two checks of the seal (PVD-IO §3.1.21) give the same answer for the same bytes every
//! time and cost a public-key parse or a signature verification each: that a signer's
//! certificate holds its key (on every seal) and that a certificate was issued by a trusted
//! CA (on every verification). The provider seals and the intake verifies with the same few
//! certificates, message after message (perf: 4 % of `serve`'s CPU for the first, 3 % of a
//! scenario run's for the second). Only successes are remembered, so every failure is
//! computed and explained afresh; time-dependent checks (validity period) are not memoised.
//!
//! The memo holds at most [`CAPACITY`] pairs; the oldest goes first.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Pairs remembered per memo.
pub(super) const CAPACITY: usize = 32;

/// Pairs of byte strings for which a pure check passed.
pub(super) struct KnownGood(Mutex<VecDeque<(Vec<u8>, Vec<u8>)>>);

impl KnownGood {
    pub(super) const fn new() -> Self {
        Self(Mutex::new(VecDeque::new()))
    }

    fn pairs(&self) -> std::sync::MutexGuard<'_, VecDeque<(Vec<u8>, Vec<u8>)>> {
        // A panic while holding the lock cannot leave a wrong pair behind (pairs are pushed
        // whole), so a poisoned memo is still right.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The second element of a remembered pair whose first is `a` and whose second passes
    /// `b`, if any.
    pub(super) fn find(&self, a: &[u8], b: impl Fn(&[u8]) -> bool) -> bool {
        self.pairs().iter().any(|(x, y)| x == a && b(y))
    }

    /// Remembers that the check passed for `(a, b)`.
    pub(super) fn remember(&self, a: &[u8], b: &[u8]) {
        let mut pairs = self.pairs();
        if pairs.iter().any(|(x, y)| x == a && y == b) {
            return;
        }
        if pairs.len() == CAPACITY {
            pairs.pop_front();
        }
        pairs.push_back((a.to_vec(), b.to_vec()));
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.pairs().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_pairs_once_and_forgets_the_oldest() {
        let memo = KnownGood::new();
        assert!(!memo.find(b"a", |_| true));
        memo.remember(b"a", b"1");
        memo.remember(b"a", b"1");
        assert_eq!(memo.len(), 1);
        assert!(memo.find(b"a", |y| y == b"1"));
        assert!(!memo.find(b"a", |y| y == b"2"));
        assert!(!memo.find(b"b", |_| true));
        for i in 0..CAPACITY {
            memo.remember(format!("k{i}").as_bytes(), b"v");
        }
        assert_eq!(memo.len(), CAPACITY);
        assert!(!memo.find(b"a", |_| true), "the oldest pair went first");
        assert!(memo.find(format!("k{}", CAPACITY - 1).as_bytes(), |_| true));
    }
}
