//! German telephone numbers in international notation: landlines with the city's area code
//! (`+49 351 4881234`) and mobiles with the real mobile prefixes (`+49 151 23456789`), plus a
//! regex-free checker used by the tests and available to checks.
//!
//! Mobile prefixes and subscriber lengths follow the Bundesnetzagentur numbering plan for
//! 015x/016x/017x: 015x numbers have 8 digits after the prefix, 016x/017x mostly 7 (0176 has
//! 8; 0160, 0170–0179 occur with 7 or 8).

use super::city::CityProfile;
use super::draw::Draw;

/// Mobile prefixes (without the trunk 0) with the subscriber length this generator uses.
pub const MOBILE_PREFIXES: &[(&str, u32)] = &[
    ("151", 8),
    ("152", 8),
    ("157", 8),
    ("160", 7),
    ("170", 7),
    ("171", 7),
    ("172", 7),
    ("173", 7),
    ("174", 7),
    ("175", 7),
    ("176", 8),
    ("177", 7),
    ("178", 7),
    ("179", 7),
];

/// What a checked number is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneKind {
    /// A landline number with this area code (without the trunk 0).
    Landline { area_code: String },
    /// A mobile number with this prefix (`151`).
    Mobile { prefix: String },
}

/// Checks a number in the format this module writes: `+49`, a space, the area code or mobile
/// prefix, a space, the subscriber number; digits only otherwise. Mobile numbers need a known
/// prefix and its subscriber length (7 or 8 digits for 016x/017x); landlines need an area
/// code of 2–5 digits not starting with 0 or 1, a subscriber number not starting with 0, and
/// 9–11 national digits in all. No regular expressions.
pub fn check(number: &str) -> Result<PhoneKind, String> {
    let rest = number
        .strip_prefix("+49 ")
        .ok_or_else(|| format!("{number:?}: does not start with \"+49 \""))?;
    let mut parts = rest.split(' ');
    let (Some(code), Some(subscriber), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "{number:?}: expected \"+49 <code> <subscriber>\" with exactly two spaces"
        ));
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(code) || !digits(subscriber) {
        return Err(format!("{number:?}: code and subscriber must be digits"));
    }
    if subscriber.starts_with('0') {
        return Err(format!("{number:?}: subscriber number starts with 0"));
    }
    if code.starts_with('1') {
        let Some((_, len)) = MOBILE_PREFIXES.iter().find(|(p, _)| *p == code) else {
            return Err(format!("{number:?}: {code} is not a known mobile prefix"));
        };
        let flexible = code.starts_with("16") || code.starts_with("17");
        let ok =
            subscriber.len() as u32 == *len || (flexible && (7..=8).contains(&subscriber.len()));
        if !ok {
            return Err(format!(
                "{number:?}: a {code} number has {len} digits after the prefix"
            ));
        }
        return Ok(PhoneKind::Mobile {
            prefix: code.to_string(),
        });
    }
    if code.starts_with('0') || !(2..=5).contains(&code.len()) {
        return Err(format!(
            "{number:?}: area code {code} must have 2–5 digits and not start with 0"
        ));
    }
    let national = code.len() + subscriber.len();
    if !(9..=11).contains(&national) {
        return Err(format!(
            "{number:?}: {national} national digits, expected 9–11"
        ));
    }
    Ok(PhoneKind::Landline {
        area_code: code.to_string(),
    })
}

fn subscriber(draw: &mut Draw, len: u32) -> String {
    let mut s = String::with_capacity(len as usize);
    // The first digit is 2–9: 0 is the trunk prefix and 1 opens special services.
    s.push(char::from(b'0' + draw.range(2, 9) as u8));
    for _ in 1..len {
        s.push(char::from(b'0' + draw.range(0, 9) as u8));
    }
    s
}

/// A landline number in `city`.
pub(crate) fn landline(draw: &mut Draw, city: &CityProfile) -> String {
    let sub = subscriber(draw, city.subscriber_digits);
    format!("+49 {} {sub}", city.area_code)
}

/// A mobile number with one of [`MOBILE_PREFIXES`].
pub(crate) fn mobile(draw: &mut Draw) -> String {
    let (prefix, len) = *draw.pick(MOBILE_PREFIXES);
    let sub = subscriber(draw, len);
    format!("+49 {prefix} {sub}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checker accepts the documented formats and names what is wrong otherwise.
    #[test]
    fn checker_accepts_and_refuses() {
        assert_eq!(
            check("+49 351 4881234"),
            Ok(PhoneKind::Landline {
                area_code: "351".into()
            })
        );
        assert_eq!(
            check("+49 151 23456789"),
            Ok(PhoneKind::Mobile {
                prefix: "151".into()
            })
        );
        assert!(check("+49 171 12345678").is_ok());
        assert!(check("+49 151 2345678").is_err());
        assert!(check("0351 4881234").is_err());
        assert!(check("+49 0351 4881234").is_err());
        assert!(check("+49 351 0881234").is_err());
        assert!(check("+49 155 23456789").is_err());
        assert!(check("+49 351 488-1234").is_err());
        assert!(check("+49 351 48812345678").is_err());
    }
}
