//! What the controlled-substance ledger needs from a database: each site's
//! entries in order (the domain folds them into balances), appended one at a
//! time at the next number with its audit event (and, for a count that
//! differs, the discrepancy alert and the page to the physician), and the
//! discrepancy alerts closed with the response taken.

use std::future::Future;

use chrono::{DateTime, Utc};
use clinic_domain::audit::AuditEvent;
use uuid::Uuid;

use crate::screening::OutboxMessage;
use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntryRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    /// The entry's number within its site's ledger, from 1.
    pub seq: i64,
    pub lot_id: Uuid,
    /// `clinic_domain::ledger::entry::EntryType` as text.
    pub entry_type: String,
    pub at: DateTime<Utc>,
    pub actor_id: Uuid,
    pub witness_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    /// The entry kept whole as JSON.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscrepancyRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    pub count_entry_id: Uuid,
    pub lot_id: Uuid,
    /// What the count found, in one sentence.
    pub message: String,
    pub routed_to: String,
    pub raised_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Uuid>,
    pub response: Option<String>,
    pub version: i64,
}

/// One ledger write.
#[derive(Debug, Clone)]
pub struct LedgerAppend<'a> {
    /// Its `seq` must be one more than the site's last (`StaleVersion {
    /// current: last }` and nothing written otherwise).
    pub entry: &'a LedgerEntryRecord,
    pub discrepancy: Option<&'a DiscrepancyRecord>,
    pub outbox: &'a [OutboxMessage],
    pub audit: &'a [AuditEvent],
}

pub trait LedgerStore: Clone + Send + Sync + 'static {
    /// A site's entries in order.
    fn ledger_entries(&self, site_id: Uuid) -> impl Future<Output = StoreResult<Vec<LedgerEntryRecord>>> + Send;
    /// The entries tied to an infusion session, in order.
    fn session_ledger_entries(&self, session_id: Uuid) -> impl Future<Output = StoreResult<Vec<LedgerEntryRecord>>> + Send;
    fn append_ledger(&self, append: LedgerAppend<'_>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Discrepancy alerts, newest first; a site's or every site's.
    fn list_discrepancies(&self, site_id: Option<Uuid>, open_only: bool) -> impl Future<Output = StoreResult<Vec<DiscrepancyRecord>>> + Send;
    /// Closes an open discrepancy at `expected_version`; `StaleVersion`
    /// otherwise, `Conflict` when it is closed already.
    fn close_discrepancy(
        &self,
        id: Uuid,
        expected_version: i64,
        closed_by: Uuid,
        response: &str,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<DiscrepancyRecord>> + Send;
}
