//! What program analytics needs from a database: the stored per-patient
//! outcome summaries (derived data, replaced when recomputed), which of them
//! are stale, and the front door's funnel in one read.

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::StoreResult;

/// One patient's derived outcomes, kept whole as JSON (`summary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeSnapshotRow {
    pub patient_id: Uuid,
    pub plan_id: Uuid,
    pub protocol_id: String,
    pub site_id: Option<Uuid>,
    /// YYYY-MM-DD.
    pub start_date: String,
    /// Audited changes to the patient's record after this event id make the row stale.
    pub mark: Uuid,
    /// YYYY-MM-DD: the clinic day it was computed for.
    pub computed_on: String,
    pub computed_at: DateTime<Utc>,
    pub summary: String,
}

/// One inquiry's way through the front door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelRow {
    pub inquiry_at: DateTime<Utc>,
    /// The first questionnaire or medical screening of the patient it became.
    pub screened_at: Option<DateTime<Utc>>,
    /// When the first infusion given (a session discharged) was opened.
    pub treated_at: Option<DateTime<Utc>>,
}

pub trait AnalyticsStore {
    /// Patients with a signed plan whose summary is missing, was computed
    /// before `stale_before` (when given), or predates a successful audited
    /// event that may change the record (its action not in `unchanging_actions`).
    fn stale_outcome_snapshots(&self, stale_before: Option<NaiveDate>, unchanging_actions: &[&'static str]) -> impl Future<Output = StoreResult<Vec<Uuid>>> + Send;
    /// Inserts or replaces a patient's summary (an upsert, so two refreshes racing both succeed).
    fn put_outcome_snapshot(&self, row: &OutcomeSnapshotRow) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every stored summary.
    fn outcome_snapshots(&self) -> impl Future<Output = StoreResult<Vec<OutcomeSnapshotRow>>> + Send;
    /// Every inquiry with the first screening and first infusion of the patient it became.
    fn funnel_rows(&self) -> impl Future<Output = StoreResult<Vec<FunnelRow>>> + Send;
}
