//! What outcome data needs from a database: use reports (timeline
//! follow-back and diary) and test results, added with their audit event
//! and never changed; the newest report of a day, substance and source wins.

use std::future::Future;

use chrono::{DateTime, Utc};
use clinic_domain::audit::AuditEvent;
use uuid::Uuid;

use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseReportRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// YYYY-MM-DD, the site's date.
    pub day: String,
    pub substance: String,
    /// tlfb or diary.
    pub source: String,
    /// yes, no or unknown.
    pub answer: String,
    /// Standard units, exact decimal text.
    pub amount: Option<String>,
    pub recorded_by: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabTestRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// The site's local date and time, `YYYY-MM-DDTHH:MM:SS`.
    pub collected_at: String,
    pub analyte: String,
    pub result: String,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// A clinician's decision on a proposed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelapseDecisionRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub plan_id: Uuid,
    /// YYYY-MM-DD.
    pub event_date: String,
    /// lapse, relapse or dropout.
    pub kind: String,
    pub substance: Option<String>,
    /// confirmed or rejected.
    pub verdict: String,
    pub note: String,
    pub decided_by: Uuid,
    pub decided_at: DateTime<Utc>,
}

pub trait OutcomeStore: Clone + Send + Sync + 'static {
    fn add_relapse_decision(&self, row: &RelapseDecisionRow, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// A patient's decisions in the order they were made.
    fn patient_relapse_decisions(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<RelapseDecisionRow>>> + Send;
    fn add_use_reports(&self, rows: &[UseReportRow], audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every report of a patient, by day then by when it was recorded.
    fn patient_use_reports(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<UseReportRow>>> + Send;
    fn add_lab_tests(&self, rows: &[LabTestRow], audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// A patient's test results by collection time.
    fn patient_lab_tests(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<LabTestRow>>> + Send;
}
