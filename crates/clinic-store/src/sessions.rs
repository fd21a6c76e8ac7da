//! What the chair-side chart needs from a database: a session per infusion
//! and its append-only entries, each write one transaction with its audit
//! event (and, when the session ends, the booking and plan event it closes).

use std::future::Future;

use chrono::{DateTime, Utc};
use clinic_domain::audit::AuditEvent;
use clinic_domain::plan::EventStatus;
use clinic_domain::schedule::BookingStatus;
use uuid::Uuid;

use crate::screening::OutboxMessage;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfusionSessionRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub site_id: Uuid,
    pub booking_id: Option<Uuid>,
    pub plan_event_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub resource_id: Option<Uuid>,
    /// pre_check, infusing, recovery, discharged, closed.
    pub status: String,
    pub opened_by: Uuid,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntryRecord {
    pub id: Uuid,
    pub session_id: Uuid,
    /// Order within the session, from 1 (set by the store).
    pub seq: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub recorded_by: Uuid,
    /// The entry kept whole as JSON.
    pub body: String,
}

/// What one chart write changes besides its entries.
#[derive(Debug, Clone, Default)]
pub struct SessionEntryChange<'a> {
    pub entries: &'a [SessionEntryRecord],
    pub status: Option<&'a str>,
    pub closed_at: Option<DateTime<Utc>>,
    pub booking_status: Option<(Uuid, BookingStatus)>,
    pub event_status: Option<(Uuid, EventStatus)>,
    pub outbox: &'a [OutboxMessage],
    pub audit: &'a [AuditEvent],
}

pub trait SessionStore: Clone + Send + Sync + 'static {
    /// Opens a session with its first entries. `Conflict { constraint:
    /// "infusion_sessions_booking_id_key" }` when the booking has an open session.
    fn open_session(&self, session: &InfusionSessionRecord, entries: &[SessionEntryRecord], audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_infusion_session(&self, id: Uuid) -> impl Future<Output = StoreResult<InfusionSessionRecord>> + Send;
    /// A session's entries in order.
    fn session_entries(&self, id: Uuid) -> impl Future<Output = StoreResult<Vec<SessionEntryRecord>>> + Send;
    /// Appends entries (numbered after the last) and applies the change, at
    /// `expected_version` (`StaleVersion` and nothing written otherwise).
    fn append_session(&self, id: Uuid, expected_version: i64, change: SessionEntryChange<'_>) -> impl Future<Output = StoreResult<InfusionSessionRecord>> + Send;
    /// Sessions at a site not yet discharged or closed, by opening time.
    fn open_sessions(&self, site_id: Uuid) -> impl Future<Output = StoreResult<Vec<InfusionSessionRecord>>> + Send;
    /// A patient's sessions, newest first.
    fn patient_sessions(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<InfusionSessionRecord>>> + Send;
}
