//! What the store reads and writes besides the domain's own types.

use chrono::{DateTime, Utc};
use clinic_domain::inquiry::{CloseReason, Inquiry, InquiryCall, InquiryDetails, InquiryStatus};
use clinic_domain::patient::{PatientDetails, PatientStatus};
use clinic_domain::user::Role;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: Uuid,
    pub name: String,
    /// IANA time zone name, e.g. `America/New_York`.
    pub time_zone: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Opening hours as shown to the public, e.g. "Mon–Fri 8:00–17:00".
    pub hours: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredential {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the bearer token, hex; the token itself is never stored.
    pub token_hash: String,
    pub user_id: Uuid,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub client_addr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user: User,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatient {
    pub id: Uuid,
    pub site_id: Uuid,
    pub details: PatientDetails,
    pub created_at: DateTime<Utc>,
}

/// A page of a list and the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatientFilter {
    /// Matches a part of the given or family name, or the whole MRN.
    pub q: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub status: Option<PatientStatus>,
    pub after: Option<PatientCursor>,
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub patient_id: Option<Uuid>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The id of the last event of the previous page (events run newest first).
    pub before_id: Option<Uuid>,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: [u8; 32],
}

/// The position after which the next page of patients starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientCursor {
    pub sort_key: String,
    pub id: Uuid,
}

impl PatientCursor {
    /// An opaque text: hex of the sort key, a dot, then the id.
    pub fn encode(&self) -> String {
        format!("{}.{}", hex_encode(self.sort_key.as_bytes()), self.id.simple())
    }

    pub fn decode(text: &str) -> Option<PatientCursor> {
        let (key_hex, id) = text.split_once('.')?;
        let sort_key = String::from_utf8(hex_decode(key_hex)?).ok()?;
        let id = Uuid::try_parse(id).ok()?;
        Some(PatientCursor { sort_key, id })
    }
}

/// The sort key of a patient in lists: family name, then given name, folded.
pub fn patient_sort_key(family_name: &str, given_name: &str) -> String {
    format!("{}, {}", family_name.trim(), given_name.trim()).to_lowercase()
}

/// What `q` searches: given then family name, folded.
pub fn patient_search_name(family_name: &str, given_name: &str) -> String {
    format!("{} {}", given_name.trim(), family_name.trim()).to_lowercase()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|idx| text.get(idx..idx + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = PatientCursor { sort_key: "o'neil, zoë".into(), id: Uuid::now_v7() };
        assert_eq!(PatientCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "abc", "zz.0000", "61.not-a-uuid", "6.0190f3f0-0000-7000-8000-000000000000"] {
            assert_eq!(PatientCursor::decode(bad), None, "{bad}");
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInquiry {
    pub id: Uuid,
    pub site_id: Uuid,
    pub details: InquiryDetails,
    pub created_at: DateTime<Utc>,
}

/// An inquiry with its call log, oldest call first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryRecord {
    pub inquiry: Inquiry,
    pub calls: Vec<InquiryCall>,
}

/// The queue fields a worker changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryChange {
    pub status: InquiryStatus,
    pub close_reason: Option<CloseReason>,
    pub assigned_to: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InquiryFilter {
    /// Part of the name, or a phone number's digits.
    pub q: Option<String>,
    pub status: Option<InquiryStatus>,
    /// Only inquiries with no call logged, created before this moment (the
    /// overdue filter, with `inquiry::overdue_cutoff`).
    pub untouched_created_before: Option<DateTime<Utc>>,
    /// The id of the last inquiry of the previous page (newest first).
    pub before_id: Option<Uuid>,
    pub limit: i64,
}
