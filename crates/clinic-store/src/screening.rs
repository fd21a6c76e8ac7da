//! What screening needs from a database: questionnaire responses, safety
//! alerts, portal links and sessions, and the outbox. Every method is one
//! transaction committed with its audit events.

use std::future::Future;

use chrono::{DateTime, Utc};
use clinic_domain::alert::ClinicalAlert;
use clinic_domain::audit::AuditEvent;
use clinic_domain::inquiry::ContactChannel;
use clinic_domain::portal::{PortalLink, ResponseSource};
use uuid::Uuid;

use crate::StoreResult;

/// One scored questionnaire, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionnaireResponseRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub instrument_id: String,
    pub instrument_version: i64,
    /// What the form recorded, in item order.
    pub answers: Vec<String>,
    pub total: Option<i64>,
    pub band: Option<String>,
    /// Raised flag ids.
    pub flags: Vec<String>,
    /// The full score as JSON (items, subscales, rules, context).
    pub result_json: String,
    pub source: ResponseSource,
    pub entered_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A message to a patient, or a page to staff, awaiting delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub patient_id: Option<Uuid>,
    pub channel: ContactChannel,
    pub address: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    pub token_hash: String,
    pub patient_id: Uuid,
    pub link_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A clinical document kept whole as JSON (a medical screening, a signed
/// consent, an eligibility proposal and its decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientDocument {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub kind: DocumentKind,
    /// The consent kind, or the proposal's outcome.
    pub subtype: String,
    pub body: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// A consent revoked, or a proposal decided.
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Uuid>,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    MedicalScreening,
    Consent,
    Eligibility,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::MedicalScreening => "medical_screening",
            DocumentKind::Consent => "consent",
            DocumentKind::Eligibility => "eligibility",
        }
    }

    pub fn parse(text: &str) -> Option<DocumentKind> {
        [DocumentKind::MedicalScreening, DocumentKind::Consent, DocumentKind::Eligibility].into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub patient_id: Option<Uuid>,
    pub open_only: bool,
    pub limit: i64,
}

/// A questionnaire to store with what it causes, in one transaction.
#[derive(Debug, Clone)]
pub struct NewQuestionnaire<'a> {
    pub response: &'a QuestionnaireResponseRecord,
    pub alerts: &'a [ClinicalAlert],
    /// A questionnaire link this answers: used up now, and refused
    /// (`StoreError::Conflict`) if it was used already.
    pub link_id: Option<Uuid>,
    pub outbox: &'a [OutboxMessage],
    pub audit: &'a [AuditEvent],
}

pub trait ScreeningStore: Clone + Send + Sync + 'static {
    fn record_questionnaire(&self, new: NewQuestionnaire<'_>) -> impl Future<Output = StoreResult<()>> + Send;
    /// A patient's questionnaires, oldest first.
    fn list_questionnaires(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<QuestionnaireResponseRecord>>> + Send;

    /// Newest first.
    fn list_alerts(&self, filter: &AlertFilter) -> impl Future<Output = StoreResult<Vec<ClinicalAlert>>> + Send;
    fn get_alert(&self, id: Uuid) -> impl Future<Output = StoreResult<ClinicalAlert>> + Send;
    /// Closes an open alert at `expected_version`; `StaleVersion` otherwise,
    /// `Conflict` when it is closed already.
    fn close_alert(
        &self,
        id: Uuid,
        expected_version: i64,
        closed_by: Uuid,
        response: &str,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<ClinicalAlert>> + Send;

    /// Stores a link (only its token's hash) with the message that carries it.
    fn create_portal_link(
        &self,
        link: &PortalLink,
        token_hash: &str,
        message: &OutboxMessage,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn find_portal_link(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<PortalLink>>> + Send;
    fn get_portal_link(&self, id: Uuid) -> impl Future<Output = StoreResult<PortalLink>> + Send;
    /// A patient's links, newest first.
    fn list_portal_links(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<PortalLink>>> + Send;
    fn create_portal_session(&self, session: &PortalSession, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_portal_session(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<PortalSession>>> + Send;

    fn add_document(&self, document: &PatientDocument, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// Closes an open document (revokes a consent, decides a proposal) with a
    /// new body, at `expected_version`; `Conflict` when it is closed already.
    /// `patient_status`, when given, becomes the patient's status in the same
    /// transaction (a signed eligibility decision).
    #[allow(clippy::too_many_arguments)]
    fn close_document(
        &self,
        id: Uuid,
        expected_version: i64,
        body: &str,
        closed_by: Option<Uuid>,
        closed_at: DateTime<Utc>,
        patient_status: Option<clinic_domain::patient::PatientStatus>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<PatientDocument>> + Send;
    fn get_document(&self, id: Uuid) -> impl Future<Output = StoreResult<PatientDocument>> + Send;
    /// A patient's documents of one kind, oldest first.
    fn list_documents(&self, patient_id: Uuid, kind: DocumentKind) -> impl Future<Output = StoreResult<Vec<PatientDocument>>> + Send;
    /// Open documents of one kind across patients (unsigned proposals), oldest first.
    fn list_open_documents(&self, kind: DocumentKind, limit: i64) -> impl Future<Output = StoreResult<Vec<PatientDocument>>> + Send;

    /// Messages not yet delivered, oldest first.
    fn list_unsent_outbox(&self, limit: i64) -> impl Future<Output = StoreResult<Vec<OutboxMessage>>> + Send;
    /// Records that a delivery adapter handed the message on.
    fn mark_outbox_sent(&self, id: Uuid, sent_at: DateTime<Utc>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Newest first.
    fn list_outbox(&self, limit: i64) -> impl Future<Output = StoreResult<Vec<OutboxMessage>>> + Send;
}
