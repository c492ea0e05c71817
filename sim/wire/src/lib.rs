//! The De-Mail wire profile (BSI TR 01201 PVD-IO, version 1.8): header names, option values,
//! message types, authentication levels and system addresses.
//!
//! Submodules:
//! - [`headers`]: a raw header block with the TR's reading rules (case-insensitive names,
//!   first occurrence wins, PVD-IO Tabelle 1 note and §3.1.21).
//! - [`address`]: De-Mail address syntax and formation (ACM-FU §2.1, ICAO transliteration).
//! - [`compose`]: builds RFC 5322 messages byte for byte, deterministically.
//! - [`confirmation`]: Bestätigungsnachrichten (confirmations) as the provider issues them.
//! - [`integrity`]: `X-de-mail-integrity`, DKIM-style hash and signature (PVD-IO §3.1.21).
//! - [`acknowledge`]: the `urn:de-mail` Acknowledge-Message XML and the confirmation text.
//! - [`pdf`]: a small deterministic PDF with the confirmation's content.
//! - [`inspect`]: the De-Mail view of a message (`demail-testbed inspect`).
//! - [`notification`]: Meldungsnachrichten about undeliverable messages (PVD-FU Schritt 45).
//! - [`multipart`]: multipart/mixed bodies with deterministic boundaries.
//! - [`received`]: the `Received` trace field the provider stamps at acceptance (RFC 5321
//!   §4.4) and the reading of the Eingang from it.
//! - [`table1`]: PVD-IO Tabelle 1 as one table (who writes each header, where it must be);
//!   every list of De-Mail header names derives from it.

pub mod acknowledge;
pub mod address;
pub mod compose;
pub mod confirmation;
pub mod headers;
pub mod inspect;
pub mod integrity;
pub mod multipart;
pub mod notification;
pub mod pdf;
pub mod received;
pub mod table1;

use std::fmt;

/// Header names of PVD-IO Tabelle 1, in lower case as the TR recommends (§3.1).
pub mod h {
    pub const CONFIRMATION_OF_DISPATCH: &str = "x-de-mail-confirmation-of-dispatch";
    pub const CONFIRMATION_OF_RECEIPT: &str = "x-de-mail-confirmation-of-receipt";
    pub const CONFIRMATION_OF_RETRIEVE: &str = "x-de-mail-confirmation-of-retrieve";
    pub const AUTHORITATIVE: &str = "x-de-mail-authoritative";
    pub const PRIVATE: &str = "x-de-mail-private";
    pub const SENDER: &str = "x-de-mail-sender";
    pub const CHOSEN_RECIPIENT: &str = "x-de-mail-chosen-recipient";
    pub const PRIVATE_ID: &str = "x-de-mail-private-id";
    pub const AUTH_LEVEL: &str = "x-de-mail-auth-level";
    pub const AUTH_MECHANISM: &str = "x-de-mail-auth-mechanism";
    pub const MESSAGE_ID: &str = "x-de-mail-message-id";
    pub const ORIGINATOR_PROVIDER: &str = "x-de-mail-originator-provider";
    pub const MESSAGE_TYPE: &str = "x-de-mail-message-type";
    pub const INTEGRITY: &str = "x-de-mail-integrity";
    pub const SIGNATURE_CERTIFICATE: &str = "x-de-mail-signature-certificate";
    pub const ACTUAL_RECIPIENT: &str = "x-de-mail-actual-recipient";
    pub const VERSION: &str = "x-de-mail-version";
    pub const ACCOUNT_HOLDER: &str = "x-de-mail-account-holder";
    pub const NOTIFICATION_TYPE: &str = "x-de-mail-notification-type";
    pub const ENVELOPE_TO: &str = "envelope-to";
}

/// The TR version this test-bed emits in `X-de-mail-version` (PVD-IO §3.1.19, Tabelle 26).
pub const TR_VERSION: &str = "1.8";

/// The five sender options of PVD-FU §3.3 (PVD-IO Tabelle 1, rows 1–5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeMailOption {
    /// Versandbestätigung (confirmation of dispatch).
    ConfirmationOfDispatch,
    /// Eingangsbestätigung (confirmation of receipt in the recipient's mailbox).
    ConfirmationOfReceipt,
    /// Abholbestätigung (confirmation of retrieval at the recipient's first high login).
    ConfirmationOfRetrieve,
    /// Absenderbestätigt (sender confirmed at level high, provider-signed).
    Authoritative,
    /// Persönlich (recipient must log in at level high to read).
    Private,
}

impl DeMailOption {
    /// All options in Tabelle 1 order.
    pub const ALL: [DeMailOption; 5] = [
        DeMailOption::ConfirmationOfDispatch,
        DeMailOption::ConfirmationOfReceipt,
        DeMailOption::ConfirmationOfRetrieve,
        DeMailOption::Authoritative,
        DeMailOption::Private,
    ];

    /// The header that carries the option.
    pub fn header(self) -> &'static str {
        match self {
            DeMailOption::ConfirmationOfDispatch => h::CONFIRMATION_OF_DISPATCH,
            DeMailOption::ConfirmationOfReceipt => h::CONFIRMATION_OF_RECEIPT,
            DeMailOption::ConfirmationOfRetrieve => h::CONFIRMATION_OF_RETRIEVE,
            DeMailOption::Authoritative => h::AUTHORITATIVE,
            DeMailOption::Private => h::PRIVATE,
        }
    }

    /// Short name used in traces and scenarios.
    pub fn name(self) -> &'static str {
        &self.header()["x-de-mail-".len()..]
    }

    /// Parses a short name ("authoritative", "confirmation-of-receipt", ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// Reads an option value: "yes" or "no", case-sensitive; a missing header means "no"
/// (PVD-IO §3.1.2–3.1.6). Any other value is an error naming the header and value.
pub fn parse_option(header: &str, value: Option<&str>) -> Result<bool, String> {
    match value.map(str::trim) {
        None => Ok(false),
        Some("yes") => Ok(true),
        Some("no") => Ok(false),
        Some(other) => Err(format!(
            "{header}: value {other:?} is neither \"yes\" nor \"no\" (values are case-sensitive, PVD-IO §3.1.2)"
        )),
    }
}

/// Authentication level of a login (ACM-FU; header values per PVD-IO §3.1.10).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum AuthLevel {
    /// "normal": one factor.
    Normal,
    /// "high" ("hoch" in the TR's prose): two factors.
    High,
}

impl AuthLevel {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthLevel::Normal => "normal",
            AuthLevel::High => "high",
        }
    }
}

impl fmt::Display for AuthLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Values of `X-de-mail-message-type` (PVD-IO Tabelle 12; the confirmation types contain
/// spaces as printed in the TR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Normal,
    ConfirmationOfDispatch,
    ConfirmationOfReceipt,
    ConfirmationOfRetrieve,
    Notification,
}

impl MessageType {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Normal => "normal",
            MessageType::ConfirmationOfDispatch => "confirmation of dispatch",
            MessageType::ConfirmationOfReceipt => "confirmation of receipt",
            MessageType::ConfirmationOfRetrieve => "confirmation of retrieve",
            MessageType::Notification => "notification",
        }
    }

    /// Parses a header value.
    pub fn parse(value: &str) -> Option<Self> {
        [
            MessageType::Normal,
            MessageType::ConfirmationOfDispatch,
            MessageType::ConfirmationOfReceipt,
            MessageType::ConfirmationOfRetrieve,
            MessageType::Notification,
        ]
        .into_iter()
        .find(|t| t.as_str() == value.trim())
    }
}

/// System addresses of a provider (PVD-FU §4.3, Tabelle 1).
///
/// **One spelling everywhere: the one of PVD-FU §4.3 Tabelle 1** (`Eingangsbestaetigung@<DMDA>`,
/// capital first letter), on the wire, in the store, in traces and in check details, also
/// after a relay. ACM-FU §2.1.3 asks for lower case letters in De-Mail addresses, but
/// §2.1.4 exempts system addresses: they "unterliegen nicht den besonderen Formatvorgaben
/// einer De-Mail-Adresse für natürliche Personen oder Institutionen". Readers compare them
/// case-insensitively ([`is_system`], [`canonical`], [`super::normalize_address`]), since
/// another provider may write them in any case.
pub mod system_address {
    /// Sender of a Versandbestätigung.
    pub const VERSAND: &str = "Versandbestaetigung";
    /// Sender of an Eingangsbestätigung.
    pub const EINGANG: &str = "Eingangsbestaetigung";
    /// Sender of an Abholbestätigung.
    pub const ABHOL: &str = "Abholbestaetigung";
    /// Sender of a warning about malware.
    pub const SCHADSOFTWARE: &str = "Schadsoftware-Warnung";
    /// Sender of a Meldungsnachricht.
    pub const MELDUNG: &str = "Meldung";

    /// Local parts of the system addresses, spelt as in Tabelle 1.
    pub const LOCAL_PARTS: [&str; 5] = [VERSAND, EINGANG, ABHOL, SCHADSOFTWARE, MELDUNG];

    /// `Eingangsbestaetigung@<provider domain>`.
    pub fn eingang(provider_domain: &str) -> String {
        at(EINGANG, provider_domain)
    }

    /// `<local part>@<provider domain>`, the domain in lower case.
    pub fn at(local_part: &str, provider_domain: &str) -> String {
        format!("{local_part}@{}", provider_domain.to_ascii_lowercase())
    }

    /// The Tabelle 1 spelling of `local` if it names a system address in any case.
    fn tabelle1(local: &str) -> Option<&'static str> {
        LOCAL_PARTS
            .iter()
            .copied()
            .find(|l| l.eq_ignore_ascii_case(local))
    }

    /// Whether `address` is one of the system addresses of any provider (any case).
    pub fn is_system(address: &str) -> bool {
        address
            .split_once('@')
            .is_some_and(|(local, _)| tabelle1(local.trim().trim_start_matches('<')).is_some())
    }

    /// The Tabelle 1 spelling of a system address written in any case
    /// (`eingangsbestaetigung@DMDA-A.de-mail.de` → `Eingangsbestaetigung@dmda-a.de-mail.de`);
    /// `None` for any other address.
    pub fn canonical(address: &str) -> Option<String> {
        let bare = address.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = bare.rsplit_once('@')?;
        tabelle1(local).map(|l| at(l, domain))
    }
}

/// The domain part of an address, lower-cased.
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
}

/// Normalises an address for comparison and storage: trims angle brackets and spaces and
/// lower-cases it (De-Mail addresses are lower case, ACM-FU §2.1.3), except that a system
/// address gets its Tabelle 1 spelling (PVD-FU §4.3; ACM-FU §2.1.4 exempts it from the
/// lower-case rule; see [`system_address`]). Two spellings of one address normalise alike,
/// so comparing normalised addresses is case-insensitive.
pub fn normalize_address(address: &str) -> String {
    system_address::canonical(address).unwrap_or_else(|| {
        address
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_ascii_lowercase()
    })
}

/// Whether two addresses are the same address, whatever their case or angle brackets.
pub fn same_address(a: &str, b: &str) -> bool {
    normalize_address(a) == normalize_address(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A system address has one spelling, Tabelle 1's, however it was written (a relay
    /// may lower-case it); other addresses are lower case; reading compares without case.
    #[test]
    fn system_addresses_have_the_tabelle1_spelling() {
        for written in [
            "eingangsbestaetigung@dmda-a.de-mail.de",
            "EINGANGSBESTAETIGUNG@DMDA-A.DE-MAIL.DE",
            " <Eingangsbestaetigung@dmda-a.de-mail.de> ",
        ] {
            assert_eq!(
                normalize_address(written),
                "Eingangsbestaetigung@dmda-a.de-mail.de"
            );
            assert!(same_address(
                written,
                &system_address::eingang("dmda-a.de-mail.de")
            ));
        }
        assert_eq!(
            system_address::canonical("meldung@dmda-b.de-mail.de").as_deref(),
            Some("Meldung@dmda-b.de-mail.de")
        );
        assert_eq!(system_address::canonical("max@dmda-b.de-mail.de"), None);
        assert_eq!(
            normalize_address("<Erika.Mustermann@DMDA-A.de-mail.de>"),
            "erika.mustermann@dmda-a.de-mail.de"
        );
        // A system local part under another name is not a system address.
        assert!(!system_address::is_system("meldungen@dmda-a.de-mail.de"));
    }

    /// Option values are "yes"/"no", case-sensitive, and missing means "no" (PVD-IO §3.1.2).
    #[test]
    fn option_values_follow_the_tr() {
        assert_eq!(parse_option(h::AUTHORITATIVE, Some("yes")), Ok(true));
        assert_eq!(parse_option(h::AUTHORITATIVE, Some(" no ")), Ok(false));
        assert_eq!(parse_option(h::AUTHORITATIVE, None), Ok(false));
        let err = parse_option(h::AUTHORITATIVE, Some("Yes")).unwrap_err();
        assert!(err.contains("\"Yes\""), "{err}");
    }

    /// Option names round-trip and system addresses are recognised in any case.
    #[test]
    fn names_and_system_addresses() {
        for o in DeMailOption::ALL {
            assert_eq!(DeMailOption::from_name(o.name()), Some(o));
        }
        assert_eq!(DeMailOption::Authoritative.name(), "authoritative");
        assert!(system_address::is_system(
            "eingangsbestaetigung@dmda-a.de-mail.de"
        ));
        assert!(!system_address::is_system(
            "erika.mustermann@dmda-a.de-mail.de"
        ));
        assert!(system_address::is_system("<MELDUNG@dmda-a.de-mail.de>"));
        assert_eq!(
            MessageType::parse("confirmation of receipt"),
            Some(MessageType::ConfirmationOfReceipt)
        );
    }
}
