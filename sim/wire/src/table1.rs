//! PVD-IO Tabelle 1 (TR 01201 PVD-IO 1.8, §3.1.1) as one table: every header of a De-Mail, its
//! row number, who writes it, and whether it must, may or must not appear in a normal message
//! (N), a Bestätigungsnachricht (B, confirmation) and a Meldungsnachricht (M, notification).
//!
//! Everything that needs a list of De-Mail header names derives it from [`TABLE_1`]: the
//! fields the provider removes from a client's submission before it stamps its own
//! ([`provider_only`]), the known `X-de-mail-*` names ([`is_known_demail`]), the metadata a
//! confirmation copies ([`is_table1`]), the presence rules `inspect` checks and the seal's
//! `h=` list ([`SEALED`], PVD-IO §3.1.21). A new header
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
    /// The name as the TR spells it (`X-de-mail-sender`, `Message-ID`).
    pub spelled: &'static str,
    pub origin: Origin,
    /// Position in the seal's `h=` list (PVD-IO §3.1.21), if the seal covers the field.
    pub sealed: Option<usize>,
    /// Presence in a normal message (N), a confirmation (B) and a notification (M).
    pub presence: [Presence; 3],
}

const fn row(
    nr: u8,
    name: &'static str,
    spelled: &'static str,
    origin: Origin,
    presence: [Presence; 3],
) -> Row {
    Row {
        nr: Some(nr),
        name,
        spelled,
        origin,
        sealed: None,
        presence,
    }
}

impl Row {
    /// The same row, covered by the seal at position `at` of `h=`.
    const fn sealed(self, at: usize) -> Row {
        Row {
            sealed: Some(at),
            ..self
        }
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
#[rustfmt::skip]
pub const TABLE_1: [Row; 30] = [
    row(1, h::CONFIRMATION_OF_DISPATCH, "X-de-mail-confirmation-of-dispatch", Origin::Option, [Must, MustNot, MustNot]).sealed(5),
    row(2, h::CONFIRMATION_OF_RECEIPT, "X-de-mail-confirmation-of-receipt", Origin::Option, [Must, MustNot, MustNot]).sealed(6),
    row(3, h::CONFIRMATION_OF_RETRIEVE, "X-de-mail-confirmation-of-retrieve", Origin::Option, [Must, MustNot, MustNot]).sealed(7),
    row(4, h::AUTHORITATIVE, "X-de-mail-authoritative", Origin::Option, [Must, MustNot, MustNot]).sealed(8),
    row(5, h::PRIVATE, "X-de-mail-private", Origin::Option, [Must, May, MustNot]).sealed(9),
    row(6, h::SENDER, "X-de-mail-sender", Origin::Provider, [Must, Must, Must]).sealed(10),
    row(7, h::CHOSEN_RECIPIENT, "X-de-mail-chosen-recipient", Origin::Provider, [Must, Must, Must]).sealed(11),
    row(8, "subject", "Subject", Origin::Client, [Must, Must, Must]).sealed(3),
    row(9, h::PRIVATE_ID, "X-de-mail-private-id", Origin::Client, [May, May, May]).sealed(17),
    row(10, "reply-to", "Reply-To", Origin::Client, [May, May, May]).sealed(4),
    row(11, h::AUTH_LEVEL, "X-de-mail-auth-level", Origin::Provider, [Must, May, May]).sealed(13),
    row(12, h::AUTH_MECHANISM, "X-de-mail-auth-mechanism", Origin::Provider, [Must, May, May]).sealed(12),
    row(13, "date", "Date", Origin::Provider, [Must, Must, Must]).sealed(1),
    row(14, h::MESSAGE_ID, "X-de-mail-message-id", Origin::Provider, [Must, Must, Must]).sealed(18),
    row(15, h::ORIGINATOR_PROVIDER, "X-de-mail-originator-provider", Origin::Provider, [Must, Must, Must]).sealed(14),
    row(16, h::MESSAGE_TYPE, "X-de-mail-message-type", Origin::Provider, [Must, Must, Must]).sealed(15),
    // Nr. 17: the seal itself.
    row(17, h::INTEGRITY, "X-de-mail-integrity", Origin::Provider, [Must, Must, Must]),
    row(18, h::SIGNATURE_CERTIFICATE, "X-de-mail-signature-certificate", Origin::Provider, [May, Must, May]),
    // Nr. 19: differs per copy (Bcc, §3.1.8), so not sealed.
    row(19, h::ACTUAL_RECIPIENT, "X-de-mail-actual-recipient", Origin::Provider, [Must, Must, Must]),
    // Nr. 20: set when the provider forwards a message (Weiterleitung, column W/F).
    row(20, "resent-to", "Resent-To", Origin::Provider, [May, May, May]),
    row(20, "resent-from", "Resent-From", Origin::Provider, [May, May, May]),
    row(20, "resent-date", "Resent-Date", Origin::Provider, [May, May, May]),
    row(20, "resent-message-id", "Resent-Message-ID", Origin::Provider, [May, May, May]),
    // Nr. 21: set by the receiving provider (§3.1.22), after the seal.
    row(21, h::ENVELOPE_TO, "Envelope-to", Origin::Provider, [May, May, May]),
    row(22, h::VERSION, "X-de-mail-version", Origin::Provider, [Must, Must, Must]).sealed(16),
    row(23, h::ACCOUNT_HOLDER, "X-de-mail-account-holder", Origin::Provider, [Must, MustNot, MustNot]).sealed(19),
    row(24, h::NOTIFICATION_TYPE, "X-de-mail-notification-type", Origin::Provider, [MustNot, MustNot, Must]),
    row(25, "from", "From", Origin::Client, [Must, Must, Must]).sealed(0),
    row(26, "message-id", "Message-ID", Origin::Client, [Must, Must, Must]).sealed(2),
    Row {
        nr: None,
        name: "x-de-mail-signature",
        spelled: "X-de-mail-signature",
        origin: Origin::Provider,
        sealed: None,
        presence: [MustNot, MustNot, MustNot],
    },
];

/// The fields the seal covers, in the order of its `h=` list (PVD-IO §3.1.21), spelt as in the
/// TR: the rows with [`Row::sealed`], by position.
pub const SEALED: [&str; 20] = sealed_in_order();

const fn sealed_in_order() -> [&'static str; 20] {
    let mut out = [""; 20];
    let mut i = 0;
    while i < TABLE_1.len() {
        if let Some(at) = TABLE_1[i].sealed {
            assert!(out[at].is_empty(), "two rows at one h= position");
            out[at] = TABLE_1[i].spelled;
        }
        i += 1;
    }
    let mut at = 0;
    while at < out.len() {
        assert!(!out[at].is_empty(), "a gap in the h= positions");
        at += 1;
    }
    out
}

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
            assert!(r.spelled.eq_ignore_ascii_case(r.name), "row {i}");
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

    /// The seal's h= list in the TR's order (PVD-IO §3.1.21), written out as the TR prints it.
    #[test]
    fn sealed_list_is_the_trs() {
        assert_eq!(
            SEALED.join(":"),
            "From:Date:Message-ID:Subject:Reply-To:X-de-mail-confirmation-of-dispatch:\
             X-de-mail-confirmation-of-receipt:X-de-mail-confirmation-of-retrieve:\
             X-de-mail-authoritative:X-de-mail-private:X-de-mail-sender:\
             X-de-mail-chosen-recipient:X-de-mail-auth-mechanism:X-de-mail-auth-level:\
             X-de-mail-originator-provider:X-de-mail-message-type:X-de-mail-version:\
             X-de-mail-private-id:X-de-mail-message-id:X-de-mail-account-holder"
        );
    }
}
