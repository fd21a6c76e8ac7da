//! What counseling needs from a database: one record per counseling
//! appointment (committed with the booking's and the plan event's new status
//! and the audit event), and the counselor's SUD counseling note kept apart.

use std::future::Future;

use chrono::{DateTime, Utc};
use clinic_domain::audit::AuditEvent;
use clinic_domain::plan::EventStatus;
use clinic_domain::schedule::BookingStatus;
use uuid::Uuid;

use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounselingRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub booking_id: Option<Uuid>,
    pub plan_event_id: Option<Uuid>,
    /// `clinic_domain::counseling` wire names.
    pub modality: String,
    pub format: String,
    pub attendance: String,
    pub minutes: Option<i64>,
    pub progress_note: Option<String>,
    pub homework: Option<String>,
    pub reason: Option<String>,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// A SUD counseling note: read by its author only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounselingNoteRow {
    pub id: Uuid,
    pub record_id: Uuid,
    pub patient_id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// One counseling write.
#[derive(Debug, Clone)]
pub struct NewCounseling<'a> {
    pub record: &'a CounselingRow,
    pub note: Option<&'a CounselingNoteRow>,
    pub booking_status: Option<(Uuid, BookingStatus)>,
    pub event_status: Option<(Uuid, EventStatus)>,
    pub audit: &'a [AuditEvent],
}

/// One version of a patient's recovery plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryPlanRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// From 1.
    pub version: i64,
    /// The parts as JSON `[[part, text], …]`.
    pub body: String,
    /// The parts changed from the version before, comma-separated.
    pub changed: String,
    pub written_by: Uuid,
    pub written_at: DateTime<Utc>,
}

/// One state of a referral: the first row makes it, later rows (same
/// `referral_id`) change its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub referral_id: Uuid,
    /// detox, moud, mutual_help, psychiatry or other.
    pub kind: String,
    pub to_whom: String,
    /// suggested, made, accepted, declined or completed.
    pub status: String,
    pub note: Option<String>,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

pub trait CounselingStore: Clone + Send + Sync + 'static {
    fn add_referral(&self, row: &ReferralRow, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every row, oldest first.
    fn patient_referrals(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<ReferralRow>>> + Send;
    /// Adds a version; `Conflict { constraint: "recovery_plans_patient_id_version_key" }`
    /// when another was saved with the same number first.
    fn add_recovery_plan(&self, row: &RecoveryPlanRow, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every version, oldest first.
    fn recovery_plans(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<RecoveryPlanRow>>> + Send;
    /// `Conflict { constraint: "counseling_records_booking_id_key" }` when the booking has a record.
    fn record_counseling(&self, new: NewCounseling<'_>) -> impl Future<Output = StoreResult<()>> + Send;
    /// A patient's records, oldest first.
    fn patient_counseling(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<CounselingRow>>> + Send;
    fn get_counseling(&self, id: Uuid) -> impl Future<Output = StoreResult<CounselingRow>> + Send;
    /// The SUD counseling note of a record, if one was written.
    fn counseling_note(&self, record_id: Uuid) -> impl Future<Output = StoreResult<Option<CounselingNoteRow>>> + Send;
}
