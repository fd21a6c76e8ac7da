//! What outcome data needs from a database: use reports (timeline
//! follow-back and diary) and test results, added with their audit event
//! and never changed; the newest report of a day, substance and source wins.
//! The daily diary reminder is kept once per patient and local day.

use std::future::Future;

use chrono::{DateTime, Utc};
use clinic_domain::alert::ClinicalAlert;
use clinic_domain::audit::AuditEvent;
use uuid::Uuid;

use crate::StoreResult;
use crate::screening::OutboxMessage;

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

/// Something staff recorded for the misuse watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisuseSignalRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// ketamine_craving, extra_infusion, earlier_infusion or higher_dose.
    pub kind: String,
    /// YYYY-MM-DD.
    pub reported_on: String,
    pub note: String,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// A physician's decision on a misuse flag (`signal` and `record_id` name it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisuseDecisionRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub signal: String,
    pub record_id: Uuid,
    pub verdict: String,
    pub note: String,
    pub decided_by: Uuid,
    pub decided_at: DateTime<Utc>,
}

/// A diary entry's craving and note (its use answer is a `UseReportRow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiaryRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub use_report_id: Uuid,
    pub day: String,
    pub substance: String,
    pub craving: Option<i64>,
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// The daily diary reminder of one patient on one clinic-local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiaryReminderRow {
    pub patient_id: Uuid,
    /// YYYY-MM-DD, the site's date the reminder belongs to.
    pub local_date: String,
    /// The message queued; `None` when the patient has no consented channel (nothing sent).
    pub outbox_id: Option<Uuid>,
    pub queued_at: DateTime<Utc>,
}

/// A diary reminder to write: the row, its message (none without a consented channel) and its audit event.
pub type NewDiaryReminder = (DiaryReminderRow, Option<OutboxMessage>, AuditEvent);

pub trait OutcomeStore: Clone + Send + Sync + 'static {
    /// The diary's use answer and its craving and note, in one transaction.
    fn add_diary_entry(&self, report: &UseReportRow, diary: &DiaryRow, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// A patient's diary entries by day.
    fn patient_diary(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<DiaryRow>>> + Send;
    /// The patients of a site due a diary reminder on `today`: in treatment (a
    /// signed plan that has not ended), no diary entry for `yesterday`, and no
    /// reminder for `today` yet. Dates are YYYY-MM-DD.
    fn patients_due_diary_reminder(&self, site_id: Uuid, today: &str, yesterday: &str) -> impl Future<Output = StoreResult<Vec<Uuid>>> + Send;
    /// Writes each reminder with its message and audit event, in one
    /// transaction; a (patient, day) reminded already is skipped, message and
    /// event included. Returns how many were written.
    fn queue_diary_reminders(&self, reminders: &[NewDiaryReminder]) -> impl Future<Output = StoreResult<u64>> + Send;
    /// A patient's diary reminders by day.
    fn patient_diary_reminders(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<DiaryReminderRow>>> + Send;
    /// A signal with the alert it raises, in one transaction.
    fn add_misuse_signal(&self, row: &MisuseSignalRow, alerts: &[ClinicalAlert], audit: &[AuditEvent]) -> impl Future<Output = StoreResult<()>> + Send;
    fn patient_misuse_signals(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<MisuseSignalRow>>> + Send;
    fn add_misuse_decision(&self, row: &MisuseDecisionRow, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// In the order they were made.
    fn patient_misuse_decisions(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<MisuseDecisionRow>>> + Send;
    fn add_relapse_decision(&self, row: &RelapseDecisionRow, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// A patient's decisions in the order they were made.
    fn patient_relapse_decisions(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<RelapseDecisionRow>>> + Send;
    fn add_use_reports(&self, rows: &[UseReportRow], audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every report of a patient, by day then by when it was recorded.
    fn patient_use_reports(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<UseReportRow>>> + Send;
    /// A specimen's results with the alerts they raise (a ketamine positive nothing explains), in one transaction.
    fn add_lab_tests(&self, rows: &[LabTestRow], alerts: &[ClinicalAlert], audit: &[AuditEvent]) -> impl Future<Output = StoreResult<()>> + Send;
    /// A patient's test results by collection time.
    fn patient_lab_tests(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<LabTestRow>>> + Send;
}
