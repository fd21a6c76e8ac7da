//! The patient registry: register, find, read and update patients.

use chrono::NaiveDate;
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::patient::{likely_duplicate, Patient, PatientDetails, PatientInput, PatientStatus};
use clinic_store::records::{NewPatient, Page, PatientCursor, PatientFilter, Site};
use clinic_store::Store;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{DuplicateCandidate, ServiceError};
use crate::Clinic;

/// What to do when the new patient looks like one already registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicatePolicy {
    /// Refuse and report the likely duplicates (the default).
    Refuse,
    /// The user has looked at the candidates and confirmed this is someone else.
    RegisterAnyway,
}

/// A patient search as the client sent it; `list_patients` validates it.
#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    pub q: Option<String>,
    pub date_of_birth: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

pub fn parse_limit(limit: Option<i64>) -> Result<i64, FieldError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(FieldError::new("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
    }
}

impl<S: Store> Clinic<S> {
    /// The clinic's main site (patients are registered there).
    pub async fn main_site(&self) -> Result<Site, ServiceError> {
        self.store()
            .list_sites()
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no site is configured")))
    }

    /// Today's date in the site's time zone.
    pub fn site_today(site: &Site) -> NaiveDate {
        crate::now().with_timezone(&Self::site_zone(site)).date_naive()
    }

    /// The site's time zone (checked when the site is saved; UTC if a stored
    /// name is no longer known to the time-zone database).
    pub fn site_zone(site: &Site) -> chrono_tz::Tz {
        site.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    async fn audit_reads(&self, principal: &Principal, action: AuditAction, patient_ids: &[Uuid]) -> Result<(), ServiceError> {
        let now = crate::now();
        let actor = principal.actor();
        let events = patient_ids
            .iter()
            .map(|id| AuditEvent::new(Uuid::now_v7(), now, &actor, action, AuditTarget::patient(*id), Outcome::Success, None))
            .collect();
        self.audit_writer().record(events).await
    }

    /// Registered patients who look like `details` (the registry's duplicate rule).
    pub(crate) async fn likely_duplicates(&self, details: &PatientDetails) -> Result<Vec<DuplicateCandidate>, ServiceError> {
        let candidates = self.store().find_duplicate_candidates(details.date_of_birth, details.phone.as_deref()).await?;
        Ok(candidates
            .iter()
            .filter_map(|existing| {
                likely_duplicate(&details.duplicate_key(), &existing.details.duplicate_key()).map(|reason| DuplicateCandidate {
                    patient_id: existing.id,
                    mrn: existing.mrn.as_str().to_string(),
                    reason: reason.as_str(),
                })
            })
            .collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn register_patient(
        &self,
        principal: &Principal,
        input: &PatientInput,
        duplicates: DuplicatePolicy,
    ) -> Result<Patient, ServiceError> {
        self.authorize(principal, Permission::PatientCreate, "register patient").await?;
        let site = self.main_site().await?;
        let details = PatientDetails::parse(input, Self::site_today(&site))?;
        let likely = self.likely_duplicates(&details).await?;
        let now = crate::now();
        if !likely.is_empty() {
            let ids: Vec<String> = likely.iter().map(|c| c.patient_id.to_string()).collect();
            let outcome = match duplicates {
                DuplicatePolicy::Refuse => Outcome::Denied,
                DuplicatePolicy::RegisterAnyway => Outcome::Success,
            };
            let event = AuditEvent::new(
                Uuid::now_v7(),
                now,
                &principal.actor(),
                AuditAction::PatientDuplicateWarning,
                AuditTarget::none("patient"),
                outcome,
                Some(serde_json::json!({ "candidates": ids }).to_string()),
            );
            self.audit_writer().record(vec![event]).await?;
            if duplicates == DuplicatePolicy::Refuse {
                return Err(ServiceError::LikelyDuplicate(likely));
            }
        }
        let id = Uuid::now_v7();
        let new = NewPatient { id, site_id: site.id, details, created_at: now };
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &principal.actor(),
            AuditAction::PatientCreate,
            AuditTarget::patient(id),
            Outcome::Success,
            None,
        );
        self.store().create_patient(&new, &event).await.map_err(|e| ServiceError::from_store("patient", e))
    }

    #[tracing::instrument(skip_all, fields(patient.id = %id))]
    pub async fn get_patient(&self, principal: &Principal, id: Uuid) -> Result<Patient, ServiceError> {
        self.authorize(principal, Permission::PatientRead, "read patient").await?;
        let patient = self.store().get_patient(id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        self.audit_reads(principal, AuditAction::PatientRead, &[patient.id]).await?;
        Ok(patient)
    }

    #[tracing::instrument(skip_all)]
    pub async fn list_patients(&self, principal: &Principal, query: &PatientQuery) -> Result<Page<Patient>, ServiceError> {
        self.authorize(principal, Permission::PatientRead, "list patients").await?;
        let mut errors = Vec::new();
        let date_of_birth = match query.date_of_birth.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => {
                    errors.push(FieldError::new("date_of_birth", "must be a real date written YYYY-MM-DD"));
                    None
                }
            },
        };
        let status = match query.status.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => PatientStatus::parse(text).map_err(|e| errors.push(e)).ok(),
        };
        let after = match query.cursor.as_deref().filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => {
                let cursor = PatientCursor::decode(text);
                if cursor.is_none() {
                    errors.push(FieldError::new("cursor", "must be a next_cursor value from a previous page"));
                }
                cursor
            }
        };
        let limit = parse_limit(query.limit).map_err(|e| errors.push(e)).unwrap_or(DEFAULT_LIMIT);
        if let Some(q) = &query.q {
            if q.chars().count() > 100 {
                errors.push(FieldError::new("q", "must be at most 100 characters"));
            }
        }
        if !errors.is_empty() {
            return Err(FieldErrors(errors).into());
        }
        let filter = PatientFilter { q: query.q.clone(), date_of_birth, status, after, limit };
        let page = self.store().list_patients(&filter).await?;
        let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
        self.audit_reads(principal, AuditAction::PatientList, &ids).await?;
        Ok(page)
    }

    /// The stored patient, for a client about to apply a partial update. The
    /// update itself is audited; this read returns nothing to the client.
    pub async fn patient_for_update(&self, principal: &Principal, id: Uuid) -> Result<Patient, ServiceError> {
        self.authorize(principal, Permission::PatientUpdate, "update patient").await?;
        self.store().get_patient(id).await.map_err(|e| ServiceError::from_store("patient", e))
    }

    /// Replaces the patient's details with `input` (the caller has applied a
    /// partial update on top of the stored details), if `expected_version` is current.
    #[tracing::instrument(skip_all, fields(patient.id = %id))]
    pub async fn update_patient(
        &self,
        principal: &Principal,
        id: Uuid,
        expected_version: i64,
        input: &PatientInput,
    ) -> Result<Patient, ServiceError> {
        self.authorize(principal, Permission::PatientUpdate, "update patient").await?;
        let current = self.store().get_patient(id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let site = self.main_site().await?;
        let details = PatientDetails::parse(input, Self::site_today(&site))?;
        let changed = current.details.changed_fields(&details);
        let now = crate::now();
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &principal.actor(),
            AuditAction::PatientUpdate,
            AuditTarget::patient(id),
            Outcome::Success,
            Some(serde_json::json!({ "fields": changed, "from_version": expected_version }).to_string()),
        );
        self.store()
            .update_patient(id, expected_version, &details, now, &event)
            .await
            .map_err(|e| ServiceError::from_store("patient", e))
    }
}

