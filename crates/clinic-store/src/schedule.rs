//! What scheduling needs from a database: each site's rules, hours, closures,
//! chairs and rooms; staff time on site; bookings, kept whole with their
//! history; and calendar feeds. Booking writes are serialised per site by the
//! site's schedule version, so two bookings decided on the same view of a
//! site cannot both commit (the second gets `StaleVersion` and re-checks).

use std::future::Future;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clinic_domain::audit::AuditEvent;
use clinic_domain::plan::EventStatus;
use clinic_domain::protocol::EventKind;
use clinic_domain::schedule::{BookingStatus, ResourceKind};
use uuid::Uuid;

use crate::screening::OutboxMessage;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    pub kind: ResourceKind,
    pub name: String,
    /// The order a free one is picked and shown in.
    pub position: i64,
}

/// One opening interval: weekday 0 is Monday; local wall-clock times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningRow {
    pub weekday: i64,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

/// A site's scheduling settings. `None` is unset: needs clinic setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteScheduleRecord {
    pub site_id: Uuid,
    pub recovery_minutes: Option<i64>,
    /// (nurses, chairs): so many nurses per so many running chairs.
    pub nurses_per_chairs: Option<(i64, i64)>,
    pub physician_on_site: Option<bool>,
    pub hours: Vec<OpeningRow>,
    pub closures: Vec<(NaiveDate, String)>,
    pub resources: Vec<ResourceRecord>,
    /// Raised by every booking change at the site.
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub site_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    pub patient_id: Uuid,
    pub plan_event_id: Option<Uuid>,
    pub kind: EventKind,
    pub resource_id: Option<Uuid>,
    pub clinician_id: Option<Uuid>,
    pub starts_at: DateTime<Utc>,
    pub minutes: i64,
    /// The end of recovery for an infusion; the end of the event otherwise.
    pub occupied_until: DateTime<Utc>,
    pub escort_name: Option<String>,
    pub status: BookingStatus,
    /// The booking this one moved (rescheduling).
    pub replaces: Option<Uuid>,
    /// Why it was cancelled, moved or marked a no-show.
    pub reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub updated_at: Option<DateTime<Utc>>,
    pub reminder_queued_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// A change to an existing booking's status, at the version it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingUpdate {
    pub id: Uuid,
    pub expected_version: i64,
    pub status: BookingStatus,
    pub reason: Option<String>,
    pub updated_by: Uuid,
    pub updated_at: DateTime<Utc>,
}

/// Everything one booking decision writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct BookingCommit<'a> {
    pub new: &'a [BookingRecord],
    pub updates: &'a [BookingUpdate],
    /// Plan events whose status follows (booked, planned again, no_show, …).
    pub event_statuses: &'a [(Uuid, EventStatus)],
    pub audit: &'a [AuditEvent],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFeedRecord {
    pub token_hash: String,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub trait ScheduleStore: Clone + Send + Sync + 'static {
    /// The site's settings, hours, closures and resources (`None` before any are saved).
    fn get_site_schedule(&self, site_id: Uuid) -> impl Future<Output = StoreResult<Option<SiteScheduleRecord>>> + Send;
    /// Replaces the rules, hours and closures; adds or renames resources
    /// (never removes one, since bookings point at it). Raises the version.
    fn save_site_schedule(&self, record: &SiteScheduleRecord, audit: &AuditEvent) -> impl Future<Output = StoreResult<SiteScheduleRecord>> + Send;

    fn add_availability(&self, rows: &[AvailabilityRecord], audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// Staff time on site overlapping `[from, to)`, by start.
    fn list_availability(&self, site_id: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<AvailabilityRecord>>> + Send;

    fn get_booking(&self, id: Uuid) -> impl Future<Output = StoreResult<BookingRecord>> + Send;
    /// Bookings (any status) at the site overlapping `[from, to)`, by start.
    fn site_bookings(&self, site_id: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<BookingRecord>>> + Send;
    /// A patient's bookings (any status, any site), by start.
    fn patient_bookings(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<BookingRecord>>> + Send;
    /// A clinician's bookings overlapping `[from, to)` (any site), by start.
    fn clinician_bookings(&self, user_id: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<BookingRecord>>> + Send;
    /// Active bookings starting in `[from, to)` whose reminder is not queued yet, any site.
    fn bookings_needing_reminder(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<BookingRecord>>> + Send;

    /// Commits one booking decision made on the site's schedule at
    /// `expected_site_version`: `StaleVersion` (and nothing written) when
    /// another booking change committed first, or when an updated booking
    /// is no longer at its expected version. Returns the new site version.
    fn commit_bookings(&self, site_id: Uuid, expected_site_version: i64, commit: BookingCommit<'_>) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Marks each booking's reminder queued and puts its message (none when
    /// the patient consented to no channel that carries it) in the outbox with
    /// its audit event, together; a booking already reminded is skipped
    /// whole. Returns how many were marked.
    fn queue_reminders(&self, reminders: &[(Uuid, Option<OutboxMessage>, AuditEvent)], at: DateTime<Utc>) -> impl Future<Output = StoreResult<u64>> + Send;

    fn create_calendar_feed(&self, feed: &CalendarFeedRecord, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    fn find_calendar_feed(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<CalendarFeedRecord>>> + Send;
    /// Revokes every feed of the user; returns how many.
    fn revoke_calendar_feeds(&self, user_id: Uuid, at: DateTime<Utc>, audit: &AuditEvent) -> impl Future<Output = StoreResult<u64>> + Send;
}
