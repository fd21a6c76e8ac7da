//! An exact decimal for doses (mg/kg, mg): a whole number of millionths, so
//! 0.11 + 0.60 is 0.71 exactly and a phase check never meets float noise.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Millionths per unit: six decimal places, far finer than any pump or syringe.
const SCALE: i64 = 1_000_000;
const PLACES: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal {
    micros: i64,
}

/// Why a text is not a decimal we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a decimal number with at most 6 decimal places")]
pub struct InvalidDecimal {
    pub text: String,
}

impl Decimal {
    pub const ZERO: Decimal = Decimal { micros: 0 };

    pub fn from_micros(micros: i64) -> Decimal {
        Decimal { micros }
    }

    pub fn micros(self) -> i64 {
        self.micros
    }

    pub fn is_positive(self) -> bool {
        self.micros > 0
    }

    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        self.micros.checked_add(other.micros).map(Decimal::from_micros)
    }

    /// Reads `0.71`, `-2`, `1.000001`; refuses exponents, more than six
    /// decimal places, empty parts and anything else.
    pub fn parse(text: &str) -> Result<Decimal, InvalidDecimal> {
        let invalid = || InvalidDecimal { text: text.to_string() };
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match rest.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (rest, ""),
        };
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) || fraction.len() > PLACES || (rest.contains('.') && fraction.is_empty()) {
            return Err(invalid());
        }
        let whole: i64 = whole.parse().map_err(|_| invalid())?;
        let mut padded = fraction.to_string();
        while padded.len() < PLACES {
            padded.push('0');
        }
        let fraction: i64 = padded.parse().map_err(|_| invalid())?;
        let micros = whole.checked_mul(SCALE).and_then(|m| m.checked_add(fraction)).ok_or_else(invalid)?;
        Ok(Decimal::from_micros(if negative { -micros } else { micros }))
    }
}

/// The shortest exact form: `0.71`, `0.6`, `40`, `-0.5`.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.micros < 0 { "-" } else { "" };
        let magnitude = self.micros.unsigned_abs();
        let scale = SCALE.unsigned_abs();
        let whole = magnitude / scale;
        let fraction = magnitude % scale;
        if fraction == 0 {
            return write!(f, "{sign}{whole}");
        }
        let fraction = format!("{fraction:06}");
        write!(f, "{sign}{whole}.{}", fraction.trim_end_matches('0'))
    }
}

/// A TOML number (`0.71`, `1`) or string (`"0.71"`). A TOML float is read
/// through its shortest decimal form, which for a literal with at most 15
/// significant digits is the literal itself, so `0.71` stays 0.71.
impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        struct DecimalVisitor;

        impl Visitor<'_> for DecimalVisitor {
            type Value = Decimal;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number with at most 6 decimal places")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
                Decimal::parse(&v.to_string()).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
                Decimal::parse(&v.to_string()).map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
                Decimal::parse(&v.to_string()).map_err(E::custom)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
                Decimal::parse(v.trim()).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(DecimalVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: &str) {
        let got = match Decimal::parse(text) {
            Ok(d) => format!("{} ({})", d, d.micros()),
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn protocol_decimals_parse_and_print_exactly() {
        check("0.71", "0.71 (710000)");
        check("0.60", "0.6 (600000)");
        check("0.11", "0.11 (110000)");
        check("40", "40 (40000000)");
        check("-0.5", "-0.5 (-500000)");
        check("1.000001", "1.000001 (1000001)");
        check("0.0000001", "error: \"0.0000001\" is not a decimal number with at most 6 decimal places");
        check("1e-3", "error: \"1e-3\" is not a decimal number with at most 6 decimal places");
        check(".5", "error: \".5\" is not a decimal number with at most 6 decimal places");
        check("5.", "error: \"5.\" is not a decimal number with at most 6 decimal places");
        check("NaN", "error: \"NaN\" is not a decimal number with at most 6 decimal places");
        check("99999999999999", "error: \"99999999999999\" is not a decimal number with at most 6 decimal places");
    }

    #[test]
    fn protocol_decimal_phases_add_exactly_where_floats_do_not() {
        let sum = Decimal::parse("0.11").unwrap().checked_add(Decimal::parse("0.60").unwrap()).unwrap();
        assert_eq!(sum, Decimal::parse("0.71").unwrap());
        let sum = Decimal::parse("0.1").unwrap().checked_add(Decimal::parse("0.2").unwrap()).unwrap();
        assert_eq!(sum.to_string(), "0.3");
        #[derive(Deserialize)]
        struct Row {
            a: Decimal,
            b: Decimal,
        }
        let row: Row = toml::from_str("a = 0.71\nb = \"0.60\"").unwrap();
        assert_eq!((row.a.micros(), row.b.micros()), (710_000, 600_000));
    }
}
