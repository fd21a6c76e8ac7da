//! Staff and patient accounts: roles and usernames.

use crate::field::FieldErrors;

/// A role decides, through `authz::role_allows`, what an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Admin,
    Director,
    Physician,
    Nurse,
    Counselor,
    Frontdesk,
    Patient,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Director,
        Role::Physician,
        Role::Nurse,
        Role::Counselor,
        Role::Frontdesk,
        Role::Patient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Director => "director",
            Role::Physician => "physician",
            Role::Nurse => "nurse",
            Role::Counselor => "counselor",
            Role::Frontdesk => "frontdesk",
            Role::Patient => "patient",
        }
    }

    pub fn parse(text: &str) -> Result<Role, FieldErrors> {
        Role::ALL.into_iter().find(|role| role.as_str() == text).ok_or_else(|| {
            FieldErrors::one("role", format!("must be one of: {}", Role::allowed_list()))
        })
    }

    pub fn allowed_list() -> String {
        Role::ALL.map(Role::as_str).join(", ")
    }
}

/// A username: 2–64 characters of lower-case letters, digits, `.`, `_` or `-`,
/// starting with a letter. Stored lower-case so sign-in is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Username, FieldErrors> {
        let lowered = text.trim().to_ascii_lowercase();
        let valid_chars = lowered
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        let starts_with_letter = lowered.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if (2..=64).contains(&lowered.len()) && valid_chars && starts_with_letter {
            Ok(Username(lowered))
        } else {
            Err(FieldErrors::one(
                "username",
                "must be 2 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        let err = Role::parse("doctor").unwrap_err();
        assert_eq!(err.0[0].field, "role");
        assert!(err.0[0].message.contains("physician"));
    }

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(Username::parse(" Nurse.Ann ").unwrap().as_str(), "nurse.ann");
        for bad in ["", "a", "1abc", "bad name", "x@y", &"a".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
