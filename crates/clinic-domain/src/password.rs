//! The password policy for staff accounts.
//!
//! Follows NIST SP 800-63B §5.1.1.2 (memorized secrets): a minimum length, no
//! composition rules, and refusal of passwords found in a list of commonly
//! used or compromised values, or equal to the username. The minimum length
//! is a security setting, not a clinical number.

use crate::field::FieldErrors;

/// Minimum number of characters (Unicode scalar values).
pub const MIN_LENGTH: usize = 12;
/// Maximum, so hashing cost stays bounded.
pub const MAX_LENGTH: usize = 256;

/// Checks a proposed password. `common` is the list of refused passwords (one
/// per entry, compared case-insensitively), loaded by the caller from
/// `data/security/common-passwords.txt`.
pub fn check_password(username: &str, password: &str, common: &[&str]) -> Result<(), FieldErrors> {
    let n_chars = password.chars().count();
    if n_chars < MIN_LENGTH {
        return Err(FieldErrors::one(
            "password",
            format!("must be at least {MIN_LENGTH} characters long (got {n_chars})"),
        ));
    }
    if n_chars > MAX_LENGTH {
        return Err(FieldErrors::one("password", format!("must be at most {MAX_LENGTH} characters long")));
    }
    let lowered = password.to_lowercase();
    if lowered == username.to_lowercase() || lowered.contains(&username.to_lowercase()) {
        return Err(FieldErrors::one("password", "must not contain the username"));
    }
    if common.iter().any(|entry| entry.trim().to_lowercase() == lowered) {
        return Err(FieldErrors::one("password", "is too common; choose a longer passphrase"));
    }
    let distinct: std::collections::BTreeSet<char> = lowered.chars().collect();
    if distinct.len() < 4 {
        return Err(FieldErrors::one("password", "uses too few different characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMON: &[&str] = &["password1234", "qwertyuiop123"];

    #[track_caller]
    fn check(username: &str, password: &str, expect: Option<&str>) {
        let res = check_password(username, password, COMMON);
        match expect {
            None => assert!(res.is_ok(), "{password:?} refused: {res:?}"),
            Some(fragment) => {
                let err = res.unwrap_err();
                assert_eq!(err.0[0].field, "password");
                assert!(err.0[0].message.contains(fragment), "{}", err.0[0].message);
            }
        }
    }

    #[test]
    fn policy() {
        check("nurse", "correct horse battery", None);
        check("nurse", "demo", Some("at least 12"));
        check("nurse", "Password1234", Some("too common"));
        check("nurse.ann", "nurse.ann.2026!", Some("username"));
        check("nurse", "aaaaaaaaaaaaaaa", Some("different characters"));
        check("nurse", &"xy12".repeat(70), Some("at most"));
    }
}
