//! PVD-IO Tabelle 1 (TR 01201 PVD-IO 1.8, §3.1.1) as one table: every header of a De-Mail, its
//! row number, who writes it, and whether it must, may or must not appear in a normal message
//! (N), a Bestätigungsnachricht (B, confirmation) and a Meldungsnachricht (M, notification).
//!
//! Everything that needs a list of De-Mail header names derives it from [`TABLE_1`]: the
//! fields the provider removes from a client's submission before it stamps its own
//! ([`provider_only`]), the known `X-de-mail-*` names ([`is_known_demail`]), the metadata a
//! confirmation copies ([`is_table1`]) and the presence rules `inspect` checks. A new header
//! rule is one row here.
//!
//! The TR's table has no "who writes it" column; [`Origin`] follows from the field
//! definitions (PVD-IO §3.1.2–3.1.22) and the sending steps of PVD-FU §3.3: the sender
//! chooses the options and writes Subject, From, Reply-To, Message-ID and the private-id;
//! everything else is the provider's metadata.

/// Who writes a field of Tabelle 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written by the sender's client and kept as written (Subject, From, …).
    Client,
    /// A sender option (Tabelle 1 Nr. 1–5): chosen by the client, written anew by the
    /// provider as "yes" or "no" (PVD-IO §3.1.2–3.1.6).
    Option,
    /// Provider metadata: a client's copy is removed at submission, so the provider's value is
    /// the only occurrence.
    Provider,
}

/// Presence of a field in one message type (Tabelle 1 footnote 2: "XX" = must be present,
/// "X" = may be present, empty = must not be present).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Must,
    May,
    MustNot,
}

use Presence::{May, Must, MustNot};

/// One row of Tabelle 1.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// Row number in Tabelle 1 (`None`: a name reserved by this test-bed, see [`TABLE_1`]).
    pub nr: Option<u8>,
    /// Header name in lower case (the TR recommends lower case, §3.1).
    pub name: &'static str,
    pub origin: Origin,
    /// Presence in a normal message (N), a confirmation (B) and a notification (M).
    pub presence: [Presence; 3],
}

const fn row(nr: u8, name: &'static str, origin: Origin, presence: [Presence; 3]) -> Row {
    Row {
        nr: Some(nr),
        name,
        origin,
        presence,
    }
}

use super::h;

/// PVD-IO Tabelle 1, in the table's order. Nr. 20 (Resent-*) has four names. Nr. 5
/// (X-de-mail-private) is "wie Original" in B, read here as "may".
///
/// The last row is not a field of the TR: `X-de-mail-signature` is what a line-broken
/// rendering of Nr. 18 ("X-de-mail-signature<br>certificate") shows, and a reader takes it
/// for the provider's signature. It is reserved for the provider (removed from submissions)
/// and must not appear in any message.
pub const TABLE_1: [Row; 30] = [
    row(
        1,
        h::CONFIRMATION_OF_DISPATCH,
        Origin::Option,
        [Must, MustNot, MustNot],
    ),
    row(
        2,
        h::CONFIRMATION_OF_RECEIPT,
        Origin::Option,
        [Must, MustNot, MustNot],
    ),
    row(
        3,
        h::CONFIRMATION_OF_RETRIEVE,
        Origin::Option,
        [Must, MustNot, MustNot],
    ),
    row(
        4,
        h::AUTHORITATIVE,
        Origin::Option,
        [Must, MustNot, MustNot],
    ),
    row(5, h::PRIVATE, Origin::Option, [Must, May, MustNot]),
    row(6, h::SENDER, Origin::Provider, [Must, Must, Must]),
    row(7, h::CHOSEN_RECIPIENT, Origin::Provider, [Must, Must, Must]),
    row(8, "subject", Origin::Client, [Must, Must, Must]),
    row(9, h::PRIVATE_ID, Origin::Client, [May, May, May]),
    row(10, "reply-to", Origin::Client, [May, May, May]),
    row(11, h::AUTH_LEVEL, Origin::Provider, [Must, May, May]),
    row(12, h::AUTH_MECHANISM, Origin::Provider, [Must, May, May]),
    row(13, "date", Origin::Provider, [Must, Must, Must]),
    row(14, h::MESSAGE_ID, Origin::Provider, [Must, Must, Must]),
    row(
        15,
        h::ORIGINATOR_PROVIDER,
        Origin::Provider,
        [Must, Must, Must],
    ),
    row(16, h::MESSAGE_TYPE, Origin::Provider, [Must, Must, Must]),
    row(17, h::INTEGRITY, Origin::Provider, [Must, Must, Must]),
    row(
        18,
        h::SIGNATURE_CERTIFICATE,
        Origin::Provider,
        [May, Must, May],
    ),
    row(
        19,
        h::ACTUAL_RECIPIENT,
        Origin::Provider,
        [Must, Must, Must],
    ),
    // Nr. 20: set when the provider forwards a message (Weiterleitung, column W/F).
    row(20, "resent-to", Origin::Provider, [May, May, May]),
    row(20, "resent-from", Origin::Provider, [May, May, May]),
    row(20, "resent-date", Origin::Provider, [May, May, May]),
    row(20, "resent-message-id", Origin::Provider, [May, May, May]),
    // Nr. 21: set by the receiving provider (§3.1.22).
    row(21, h::ENVELOPE_TO, Origin::Provider, [May, May, May]),
    row(22, h::VERSION, Origin::Provider, [Must, Must, Must]),
    row(
        23,
        h::ACCOUNT_HOLDER,
        Origin::Provider,
        [Must, MustNot, MustNot],
    ),
    row(
        24,
        h::NOTIFICATION_TYPE,
        Origin::Provider,
        [MustNot, MustNot, Must],
    ),
    row(25, "from", Origin::Client, [Must, Must, Must]),
    row(26, "message-id", Origin::Client, [Must, Must, Must]),
    Row {
        nr: None,
        name: "x-de-mail-signature",
        origin: Origin::Provider,
        presence: [MustNot, MustNot, MustNot],
    },
];

/// The row of `name` (case-insensitive).
pub fn find(name: &str) -> Option<&'static Row> {
    TABLE_1.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

/// Whether `name` is a header of Tabelle 1 (case-insensitive).
pub fn is_table1(name: &str) -> bool {
    find(name).is_some()
}

/// Whether `name` is an `X-de-mail-*` header this table knows.
pub fn is_known_demail(name: &str) -> bool {
    find(name).is_some_and(|r| r.name.starts_with("x-de-mail-"))
}

/// The fields only the provider may write: a client's copies are removed at submission.
pub fn provider_only() -> impl Iterator<Item = &'static str> {
    TABLE_1
        .iter()
        .filter(|r| r.origin == Origin::Provider)
        .map(|r| r.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row number 1–26 is present, in order, and no name is listed twice.
    #[test]
    fn rows_cover_the_tr_table_once() {
        let numbers: Vec<u8> = TABLE_1.iter().filter_map(|r| r.nr).collect();
        let mut expected: Vec<u8> = (1..=26).collect();
        expected.splice(19..20, [20, 20, 20, 20]);
        assert_eq!(numbers, expected);
        for (i, r) in TABLE_1.iter().enumerate() {
            assert_eq!(r.name, r.name.to_ascii_lowercase(), "row {i}");
            assert!(
                TABLE_1[i + 1..].iter().all(|o| o.name != r.name),
                "{} twice",
                r.name
            );
        }
    }

    /// The provider-only list holds every metadata field the provider stamps, including the
    /// two a client once could smuggle through (notification-type, signature).
    #[test]
    fn provider_only_fields() {
        let list: Vec<&str> = provider_only().collect();
        for name in [
            h::SENDER,
            h::NOTIFICATION_TYPE,
            "x-de-mail-signature",
            h::INTEGRITY,
            h::SIGNATURE_CERTIFICATE,
            "date",
            h::ENVELOPE_TO,
        ] {
            assert!(list.contains(&name), "{name} missing from {list:?}");
        }
        for name in ["subject", "from", h::PRIVATE_ID, h::AUTHORITATIVE] {
            assert!(!list.contains(&name), "{name} must stay the client's");
        }
        assert!(is_known_demail("X-DE-MAIL-Private-Id"));
        assert!(!is_known_demail("x-de-mail-privat-id"));
        assert!(!is_known_demail("subject"));
        assert!(is_table1("Subject"));
    }
}
