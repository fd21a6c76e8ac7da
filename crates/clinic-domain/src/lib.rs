#![doc = include_str!("../README.md")]

/// An enum with stable wire names: `as_str`, `parse` (refusing with the
/// field name and every allowed value) and `ALL`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Result<$name, $crate::field::FieldError> {
                $name::ALL.iter().copied().find(|v| v.as_str() == text).ok_or_else(|| {
                    $crate::field::FieldError::new($field, format!("must be one of: {}", $name::allowed_list()))
                })
            }

            pub fn allowed_list() -> String {
                $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}



pub mod analytics;
pub mod audit;
pub mod alert;
pub mod authz;
pub mod chart;
pub mod consent;
pub mod counseling;
pub mod dose;
pub mod eligibility;
pub mod field;
pub mod ical;
pub mod infusion;
pub mod inquiry;
pub mod instrument;
pub mod ledger;
pub mod mrn;
pub mod order;
pub mod outcome;
pub mod password;
pub mod patient;
pub mod plan;
pub mod portal;
pub mod protocol;
pub mod schedule;
pub mod screening;
pub mod session;
pub mod throttle;
pub mod user;
