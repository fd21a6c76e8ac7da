//! Medical record numbers: `K` + seven digits + a Luhn check digit.
//!
//! The check digit catches a mistyped digit or two swapped neighbours when an
//! MRN is read over the phone or typed at the front desk.

use crate::field::FieldErrors;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mrn(String);

/// The largest sequence number that fits in seven digits.
pub const MAX_SEQUENCE: u64 = 9_999_999;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the MRN sequence is exhausted (got {got}, at most {MAX_SEQUENCE})")]
pub struct MrnExhausted {
    pub got: u64,
}

impl Mrn {
    pub fn from_sequence(sequence: u64) -> Result<Mrn, MrnExhausted> {
        if sequence == 0 || sequence > MAX_SEQUENCE {
            return Err(MrnExhausted { got: sequence });
        }
        let digits = format!("{sequence:07}");
        let check = luhn_check_digit(&digits);
        Ok(Mrn(format!("K{digits}{check}")))
    }

    pub fn parse(text: &str) -> Result<Mrn, FieldErrors> {
        let upper = text.trim().to_ascii_uppercase();
        let invalid = || FieldErrors::one("mrn", "must be K followed by 8 digits, e.g. K00000018");
        let digits = upper.strip_prefix('K').ok_or_else(invalid)?;
        if digits.len() != 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        let (body, check) = digits.split_at(7);
        if luhn_check_digit(body).to_string() != check {
            return Err(FieldErrors::one("mrn", "has a wrong check digit; read it again from the record"));
        }
        Ok(Mrn(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn luhn_check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(idx, d)| if idx % 2 == 0 { let dd = d * 2; if dd > 9 { dd - 9 } else { dd } } else { d })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        // Luhn of 0000001 -> "00000018" (the classic 18 example).
        assert_eq!(Mrn::from_sequence(1).unwrap().as_str(), "K00000018");
        assert_eq!(Mrn::parse("k00000018").unwrap().as_str(), "K00000018");
        assert!(Mrn::parse("K00000017").is_err());
        assert!(Mrn::from_sequence(0).is_err());
        assert!(Mrn::from_sequence(MAX_SEQUENCE + 1).is_err());
    }

    proptest! {
        #[test]
        fn every_mrn_parses_and_a_changed_digit_is_caught(seq in 1u64..=MAX_SEQUENCE, pos in 1usize..9, delta in 1u32..10) {
            let mrn = Mrn::from_sequence(seq).unwrap();
            prop_assert_eq!(Mrn::parse(mrn.as_str()).unwrap(), mrn.clone());
            let mut chars: Vec<char> = mrn.as_str().chars().collect();
            let d = chars[pos].to_digit(10).unwrap();
            chars[pos] = char::from_digit((d + delta) % 10, 10).unwrap();
            let typo: String = chars.into_iter().collect();
            prop_assert!(Mrn::parse(&typo).is_err());
        }
    }
}
