//! A one-line description of the legal regime in force on a date, for the trace header.
//!
//! Sources: § 41 Abs. 2 VwVfG and § 5a Abs. 4 VwZG in the texts dated 2024-01-01 (3rd day)
//! and 2025-01-20 (4th day, PostModG); VwZG 2026-07-19 without § 5a; § 26 De-Mail-G
//! (Fassung 2026-07-19): out of force after 31.12.2026. The full regime model with exact
//! periods and errors outside them is issue [3/6].

use jiff::civil::{Date, date};

/// Describes the regime on `day`.
pub fn describe(day: Date) -> String {
    let fiction = if day < date(2025, 1, 1) {
        "Bekanntgabefiktion on the 3rd day (§ 41 Abs. 2 VwVfG, Fassung 2024-01-01)"
    } else {
        "Bekanntgabefiktion on the 4th day (§ 41 Abs. 2 VwVfG, Fassung 2025-01-20, PostModG)"
    };
    let demail = if day > date(2026, 12, 31) {
        "De-Mail-G no longer in force (§ 26 De-Mail-G, Fassung 2026-07-19)"
    } else if day >= date(2026, 7, 19) {
        "§ 5a VwZG repealed (VwZG, Fassung 2026-07-19); De-Mail-G in force until 31.12.2026"
    } else {
        "De-Mail-G in force; § 5a VwZG in force"
    };
    format!("{fiction}; {demail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fiction day changes on 01.01.2025 and De-Mail-G ends after 31.12.2026.
    #[test]
    fn regimes_change_on_their_dates() {
        assert!(describe(date(2024, 12, 31)).contains("3rd day"));
        assert!(describe(date(2025, 1, 1)).contains("4th day"));
        assert!(describe(date(2027, 1, 1)).contains("no longer in force"));
        assert!(describe(date(2025, 3, 3)).contains("§ 5a VwZG in force"));
    }
}
