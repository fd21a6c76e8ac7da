//! What a service operation can fail with.

use clinic_domain::authz::Permission;
use clinic_domain::field::FieldErrors;
use clinic_store::error::StoreError;
use uuid::Uuid;

/// A record that looks like the patient being registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateCandidate {
    pub patient_id: Uuid,
    pub mrn: String,
    pub reason: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed sign-ins; try again after {retry_after}")]
    Throttled { retry_after: chrono::DateTime<chrono::Utc> },
    #[error("your role may not {}", .permission.as_str())]
    Forbidden { permission: Permission },
    #[error("{resource} not found")]
    NotFound { resource: &'static str },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the record changed since you read it (now version {current})")]
    StaleVersion { current: i64 },
    #[error("this looks like a patient already registered")]
    LikelyDuplicate(Vec<DuplicateCandidate>),
    /// A booking the schedule's rules refuse: every conflict and the nearest times that would work.
    #[error("{}", .0.message)]
    Unbookable(Box<ScheduleProblem>),
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ServiceError {
    /// Maps a store error for an operation on `resource`.
    pub fn from_store(resource: &'static str, err: StoreError) -> ServiceError {
        match err {
            StoreError::NotFound => ServiceError::NotFound { resource },
            StoreError::Conflict { constraint } => ServiceError::Conflict {
                code: "conflict",
                message: format!("the {resource} conflicts with an existing one ({constraint})"),
            },
            StoreError::StaleVersion { current } => ServiceError::StaleVersion { current },
            StoreError::Unavailable(source) => ServiceError::Unavailable(source),
            StoreError::Other(source) => ServiceError::Internal(source),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> ServiceError {
        ServiceError::from_store("record", err)
    }
}

/// Why a booking cannot be made, and where it could go instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleProblem {
    pub message: String,
    /// The plan event that could not be booked.
    pub event_id: Option<Uuid>,
    /// (code, field, message) of every rule broken.
    pub conflicts: Vec<(String, String, String)>,
    pub alternatives: Vec<AlternativeSlot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlternativeSlot {
    pub start: chrono::DateTime<chrono::Utc>,
    /// The start in the site's zone, as staff read it ("Tue 2026-12-08 09:15").
    pub local: String,
    pub local_date: chrono::NaiveDate,
    /// HH:MM in the site's zone.
    pub local_time: String,
    pub resource_id: Option<Uuid>,
    pub resource_name: Option<String>,
    pub clinician_id: Option<Uuid>,
}
