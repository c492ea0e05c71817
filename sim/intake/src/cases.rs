//! The intake's cases in memory, with the look-ups its hot paths need: by Aktenzeichen (file
//! number; a confirmation's private-id names it), by X-de-mail-message-id (duplicate check of a
//! pushed message, the DMS hand-over) and the cases that still have work due (a reply not yet
//! sent, a Bescheid due and not yet sent).
//!
//! Without these every pushed message and every clock step scanned all cases of the run, so a
//! run's cost per application grew with its length (a simulated year of 32,604 applications
//! spent about a fifth of its CPU in those scans; docs/benchmarks.md, issue #20).
//!
//! Invariants: the list is append-only between [`Cases::replace`] calls (the archive sweep),
//! so an index into it stays valid for a whole clock step; the look-ups return the first case
//! in list order, as a scan of the list would; [`Cases::with_work`] yields in list order, so
//! the order of what the intake sends (and hence the trace) is the one a scan gives.

use std::collections::{BTreeSet, HashMap};
use std::ops::{Deref, Index, IndexMut};

use serde::{Serialize, Serializer};

use crate::Case;

/// The cases in arrival order, indexed.
#[derive(Debug, Default)]
pub struct Cases {
    list: Vec<Case>,
    /// Aktenzeichen → the first case carrying it.
    by_aktenzeichen: HashMap<String, usize>,
    /// X-de-mail-message-id → the cases carrying it, ascending (one per Funktionspostfach).
    by_message_id: HashMap<String, Vec<usize>>,
    /// Every case that may still have work due, ascending; a superset, pruned by
    /// [`Cases::with_work`].
    open: BTreeSet<usize>,
}

impl Case {
    /// Whether the intake still owes this case a reply or a Bescheid.
    fn has_work(&self) -> bool {
        !self.replied || (self.bescheid_due.is_some() && !self.bescheid_sent)
    }
}

impl Cases {
    /// Appends a case (a new application).
    pub fn push(&mut self, case: Case) {
        let i = self.list.len();
        self.add_to_lookups(i, &case);
        self.list.push(case);
    }

    fn add_to_lookups(&mut self, i: usize, case: &Case) {
        self.by_aktenzeichen
            .entry(case.aktenzeichen.clone())
            .or_insert(i);
        self.by_message_id
            .entry(case.demail_message_id.clone())
            .or_default()
            .push(i);
        if case.has_work() {
            self.open.insert(i);
        }
    }

    /// Takes every case out (the archive sweep partitions them).
    pub fn take(&mut self) -> Vec<Case> {
        let list = std::mem::take(&mut self.list);
        *self = Self::default();
        list
    }

    /// Puts `cases` in place of the current ones and rebuilds the look-ups.
    pub fn replace(&mut self, cases: Vec<Case>) {
        *self = Self::default();
        for case in cases {
            self.push(case);
        }
    }

    /// The first case with this Aktenzeichen.
    pub fn by_aktenzeichen(&self, aktenzeichen: &str) -> Option<&Case> {
        self.by_aktenzeichen
            .get(aktenzeichen)
            .map(|&i| &self.list[i])
    }

    /// The cases opened for this X-de-mail-message-id, in arrival order.
    pub fn by_message_id<'a>(&'a self, message_id: &str) -> impl Iterator<Item = &'a Case> + 'a {
        self.by_message_id
            .get(message_id)
            .into_iter()
            .flatten()
            .map(|&i| &self.list[i])
    }

    /// The cases that still have a reply or a Bescheid due, with their index, in arrival
    /// order. Forgets the cases whose work is done.
    pub fn with_work(&mut self) -> impl Iterator<Item = (usize, &Case)> {
        let list = &self.list;
        self.open.retain(|&i| list[i].has_work());
        self.open.iter().map(move |&i| (i, &list[i]))
    }
}

impl Deref for Cases {
    type Target = [Case];

    fn deref(&self) -> &[Case] {
        &self.list
    }
}

impl Index<usize> for Cases {
    type Output = Case;

    fn index(&self, i: usize) -> &Case {
        &self.list[i]
    }
}

/// Mutable access for the state flags (`replied`, `bescheid_sent`, `last_error`). The fields
/// the look-ups use (Aktenzeichen, message id) never change after [`Cases::push`]; a flag that
/// opens work again (clearing `replied`) is not noticed by [`Cases::with_work`].
impl IndexMut<usize> for Cases {
    fn index_mut(&mut self, i: usize) -> &mut Case {
        &mut self.list[i]
    }
}

impl Serialize for Cases {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(s)
    }
}

/// A case for tests: Aktenzeichen `az`, message `id` in `mailbox`, replied or not, with a
/// Bescheid due or not.
#[cfg(test)]
pub(crate) fn case_for_test(
    az: &str,
    id: &str,
    mailbox: &str,
    replied: bool,
    bescheid: bool,
) -> Case {
    use jiff::Timestamp;
    Case {
        aktenzeichen: az.into(),
        mailbox: mailbox.into(),
        procedure: "p".into(),
        received_at: Timestamp::UNIX_EPOCH,
        citizen: "c".into(),
        subject: "s".into(),
        demail_message_id: id.into(),
        rfc_message_id: None,
        private_id: None,
        integrity: String::new(),
        verdict: crate::Verdict::Accepted,
        deadlines: vec![],
        reply_due: Timestamp::UNIX_EPOCH,
        replied,
        bescheid_due: bescheid.then_some(Timestamp::UNIX_EPOCH),
        bescheid_sent: false,
        last_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::case_for_test as case;
    use super::*;

    #[test]
    fn look_ups_find_what_a_scan_finds() {
        let mut cases = Cases::default();
        cases.push(case("A-1", "m1", "x@", false, false));
        cases.push(case("A-2", "m1", "y@", false, false));
        cases.push(case("A-1", "m3", "x@", false, false));
        for az in ["A-1", "A-2", "A-9"] {
            let scan = cases.iter().find(|c| c.aktenzeichen == az);
            assert_eq!(
                cases.by_aktenzeichen(az).map(|c| &c.mailbox),
                scan.map(|c| &c.mailbox),
                "{az}"
            );
        }
        let mailboxes: Vec<_> = cases.by_message_id("m1").map(|c| &c.mailbox).collect();
        assert_eq!(mailboxes, ["x@", "y@"]);
        assert_eq!(cases.by_message_id("m9").count(), 0);
    }

    #[test]
    fn with_work_yields_open_cases_in_order_and_forgets_done_ones() {
        let mut cases = Cases::default();
        cases.push(case("A-1", "m1", "x@", false, false));
        cases.push(case("A-2", "m2", "x@", true, false));
        cases.push(case("A-3", "m3", "x@", true, true));
        cases.push(case("A-4", "m4", "x@", false, true));
        let open: Vec<usize> = cases.with_work().map(|(i, _)| i).collect();
        assert_eq!(open, [0, 2, 3]);
        cases[0].replied = true;
        cases[2].bescheid_sent = true;
        cases[3].replied = true;
        let open: Vec<usize> = cases.with_work().map(|(i, _)| i).collect();
        assert_eq!(open, [3]);
        cases[3].bescheid_sent = true;
        assert_eq!(cases.with_work().count(), 0);
        assert_eq!(cases.len(), 4, "done cases stay in the list");
    }

    #[test]
    fn replace_rebuilds_the_look_ups() {
        let mut cases = Cases::default();
        cases.push(case("A-1", "m1", "x@", true, false));
        cases.push(case("A-2", "m2", "x@", false, false));
        let mut all = cases.take();
        assert!(cases.is_empty() && cases.by_aktenzeichen("A-1").is_none());
        all.remove(0);
        cases.replace(all);
        assert!(cases.by_aktenzeichen("A-1").is_none());
        assert_eq!(
            cases
                .by_aktenzeichen("A-2")
                .map(|c| c.demail_message_id.as_str()),
            Some("m2")
        );
        assert_eq!(cases.with_work().map(|(i, _)| i).collect::<Vec<_>>(), [0]);
    }
}
