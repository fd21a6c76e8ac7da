#![doc = include_str!("../README.md")]

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod analytics;
pub mod counseling;
pub mod error;
pub mod ledger;
pub mod orders;
pub mod outcomes;
pub mod plans;
pub mod records;
pub mod schedule;
pub mod screening;
pub mod sessions;
pub mod verify;

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use clinic_domain::audit::{AuditEvent, ChainLink};
use clinic_domain::inquiry::{Inquiry, InquiryCall, InquiryStatus};
use clinic_domain::patient::{Patient, PatientDetails, PatientStatus};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{
    AuditFilter, ChainHead, InquiryChange, InquiryFilter, InquiryRecord, NewInquiry, NewPatient, NewSession, NewUser, Page,
    PatientFilter, SessionRecord, Site, User, UserCredential,
};

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the service needs from a database. Every method is one
/// transaction; methods that change data take the audit event that records the
/// change and commit both together.
pub trait Store: screening::ScreeningStore + plans::PlanStore + schedule::ScheduleStore + orders::OrderStore + sessions::SessionStore + ledger::LedgerStore + counseling::CounselingStore + outcomes::OutcomeStore + analytics::AnalyticsStore + Clone + Send + Sync + 'static {
    // Sites.
    /// Returns the clinic's first site, creating it from `site` when there is none.
    fn ensure_site(&self, site: &Site) -> impl Future<Output = StoreResult<Site>> + Send;
    fn list_sites(&self) -> impl Future<Output = StoreResult<Vec<Site>>> + Send;
    /// Adds another site of the clinic.
    fn add_site(&self, site: &Site) -> impl Future<Output = StoreResult<Site>> + Send;

    // Accounts.
    /// Fails with `Conflict { constraint: "users_username_key" }` when the username is taken.
    fn create_user(&self, user: &NewUser, audit: &AuditEvent) -> impl Future<Output = StoreResult<User>> + Send;
    fn get_user(&self, id: Uuid) -> impl Future<Output = StoreResult<User>> + Send;
    fn find_credential(&self, username: &str) -> impl Future<Output = StoreResult<Option<UserCredential>>> + Send;
    fn list_users(&self) -> impl Future<Output = StoreResult<Vec<User>>> + Send;
    /// Disabling also ends every session of the account.
    fn set_user_disabled(&self, id: Uuid, disabled: bool, now: DateTime<Utc>, audit: &AuditEvent)
        -> impl Future<Output = StoreResult<User>> + Send;
    /// Replaces the password hash and ends every session of the account.
    fn set_password(&self, id: Uuid, password_hash: &str, now: DateTime<Utc>, audit: &AuditEvent)
        -> impl Future<Output = StoreResult<()>> + Send;

    // Sessions.
    /// Stores a new session together with the sign-in audit event.
    fn create_session(&self, session: &NewSession, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_session(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<SessionRecord>>> + Send;
    fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Ends a session; `audit` is the sign-out event, or `None` for an expiry sweep.
    fn delete_session(&self, token_hash: &str, audit: Option<&AuditEvent>) -> impl Future<Output = StoreResult<()>> + Send;

    // Patients.
    /// Assigns the next MRN and stores the patient with its audit event.
    fn create_patient(&self, patient: &NewPatient, audit: &AuditEvent) -> impl Future<Output = StoreResult<Patient>> + Send;
    /// Patients with this date of birth or this normalised phone number.
    fn find_duplicate_candidates(&self, date_of_birth: NaiveDate, phone: Option<&str>)
        -> impl Future<Output = StoreResult<Vec<Patient>>> + Send;
    fn get_patient(&self, id: Uuid) -> impl Future<Output = StoreResult<Patient>> + Send;
    fn list_patients(&self, filter: &PatientFilter) -> impl Future<Output = StoreResult<Page<Patient>>> + Send;
    /// Fails with `StaleVersion` when the stored version is not `expected_version`.
    fn update_patient(
        &self,
        id: Uuid,
        expected_version: i64,
        details: &PatientDetails,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<Patient>> + Send;
    fn count_patients(&self) -> impl Future<Output = StoreResult<i64>> + Send;
    /// How many patients are in each status (statuses with none are left out).
    fn patient_status_counts(&self) -> impl Future<Output = StoreResult<Vec<(PatientStatus, i64)>>> + Send;

    // Inquiries.
    fn create_inquiry(&self, inquiry: &NewInquiry, audit: &AuditEvent) -> impl Future<Output = StoreResult<Inquiry>> + Send;
    fn get_inquiry(&self, id: Uuid) -> impl Future<Output = StoreResult<InquiryRecord>> + Send;
    /// Newest first.
    fn list_inquiries(&self, filter: &InquiryFilter) -> impl Future<Output = StoreResult<Page<Inquiry>>> + Send;
    /// Fails with `StaleVersion` when the stored version is not `expected_version`.
    fn update_inquiry(&self, id: Uuid, expected_version: i64, change: &InquiryChange, now: DateTime<Utc>, audit: &AuditEvent)
        -> impl Future<Output = StoreResult<Inquiry>> + Send;
    /// Logs a call, sets the inquiry's last contact and, when given, its new status.
    fn add_inquiry_call(&self, call: &InquiryCall, new_status: Option<InquiryStatus>, now: DateTime<Utc>, audit: &AuditEvent)
        -> impl Future<Output = StoreResult<Inquiry>> + Send;
    /// Creates the patient and marks the inquiry converted and linked, in one transaction.
    fn convert_inquiry(
        &self,
        id: Uuid,
        expected_version: i64,
        patient: &NewPatient,
        patient_audit: &AuditEvent,
        inquiry_audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<(Inquiry, Patient)>> + Send;

    // Audit.
    /// Appends audit events in one transaction (the group commit for reads).
    fn append_audit(&self, events: &[AuditEvent]) -> impl Future<Output = StoreResult<()>> + Send;
    /// Links up to `max_events` committed, unsealed events into the hash chain,
    /// oldest first. Safe to call from several processes at once: sealers
    /// serialise on the chain head. Returns how many were sealed.
    fn seal_audit(&self, max_events: i64, now: DateTime<Utc>) -> impl Future<Output = StoreResult<i64>> + Send;
    fn list_audit(&self, filter: &AuditFilter) -> impl Future<Output = StoreResult<Page<AuditEvent>>> + Send;
    /// Chain links with `seq > after_seq` in order, each with its event if it still exists.
    fn audit_chain(&self, after_seq: i64, limit: i64)
        -> impl Future<Output = StoreResult<Vec<(ChainLink, Option<AuditEvent>)>>> + Send;
    fn audit_chain_head(&self) -> impl Future<Output = StoreResult<ChainHead>> + Send;
    /// The oldest event not yet sealed, and any event that is neither sealed
    /// nor waiting to be (which only tampering produces).
    fn oldest_unsealed(&self) -> impl Future<Output = StoreResult<Option<AuditEvent>>> + Send;
    fn orphan_audit_event(&self) -> impl Future<Output = StoreResult<Option<Uuid>>> + Send;
}
