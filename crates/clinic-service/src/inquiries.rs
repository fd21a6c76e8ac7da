//! The front door: inquiries from the public form or typed in from a phone
//! call, the queue that works them, and conversion into a patient.

use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::inquiry::{
    conversion_allowed, transition_allowed, CallDirection, CallOutcome, CloseReason, Inquiry, InquiryCall, InquiryDetails,
    InquiryInput, InquiryStatus, overdue_cutoff,
};
use clinic_domain::patient::{Patient, PatientDetails, PatientInput};
use clinic_store::records::{InquiryChange, InquiryFilter, InquiryRecord, NewInquiry, NewPatient, Page};
use clinic_store::Store;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ServiceError;
use crate::patients::{parse_limit, DuplicatePolicy, DEFAULT_LIMIT};
use crate::Clinic;

/// Who is submitting an inquiry.
pub enum Submitter<'a> {
    /// A member of the public on the website.
    Public { client_addr: Option<String> },
    /// Staff typing in an inbound phone call.
    Staff(&'a Principal),
}

#[derive(Debug, Clone, Default)]
pub struct InquiryQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    /// Only new inquiries untouched for more than one business day.
    pub overdue: bool,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// A queue change as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct InquiryUpdate {
    pub status: Option<String>,
    pub close_reason: Option<String>,
    /// A username, or empty to unassign.
    pub assigned_to: Option<String>,
}

/// A call as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct CallInput {
    pub direction: Option<String>,
    pub outcome: Option<String>,
    pub note: Option<String>,
    /// RFC 3339; defaults to now. A later entry of an earlier call says so by its time.
    pub called_at: Option<String>,
}

fn inquiry_target(id: Uuid) -> AuditTarget {
    AuditTarget::resource("inquiry", id.to_string())
}

impl<S: Store> Clinic<S> {
    #[tracing::instrument(skip_all)]
    pub async fn submit_inquiry(&self, submitter: Submitter<'_>, input: &InquiryInput) -> Result<Inquiry, ServiceError> {
        let actor = match &submitter {
            Submitter::Public { client_addr } => Actor::anonymous(client_addr.clone()),
            Submitter::Staff(principal) => {
                self.authorize(principal, Permission::InquiryManage, "record an inquiry").await?;
                principal.actor()
            }
        };
        let details = InquiryDetails::parse(input)?;
        let site = self.main_site().await?;
        let id = Uuid::now_v7();
        let now = crate::now();
        let source = match submitter {
            Submitter::Public { .. } => "web",
            Submitter::Staff(_) => "phone",
        };
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &actor,
            AuditAction::InquiryCreate,
            inquiry_target(id),
            Outcome::Success,
            Some(serde_json::json!({ "source": source }).to_string()),
        );
        let new = NewInquiry { id, site_id: site.id, details, created_at: now };
        Ok(self.store().create_inquiry(&new, &event).await?)
    }

    pub async fn list_inquiries(&self, principal: &Principal, query: &InquiryQuery) -> Result<Page<Inquiry>, ServiceError> {
        self.authorize(principal, Permission::InquiryRead, "list inquiries").await?;
        let mut errors = Vec::new();
        let status = match query.status.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => InquiryStatus::parse(text).map_err(|e| errors.push(e)).ok(),
        };
        let before_id = match query.cursor.as_deref().filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => Uuid::try_parse(text)
                .map_err(|_| errors.push(FieldError::new("cursor", "must be a next_cursor value from a previous page")))
                .ok(),
        };
        let limit = parse_limit(query.limit).map_err(|e| errors.push(e)).unwrap_or(DEFAULT_LIMIT);
        if query.q.as_deref().is_some_and(|q| q.chars().count() > 100) {
            errors.push(FieldError::new("q", "must be at most 100 characters"));
        }
        if query.overdue && status.is_some_and(|s| s != InquiryStatus::New) {
            errors.push(FieldError::new("overdue", "applies to new inquiries only: leave status empty or set it to new"));
        }
        if !errors.is_empty() {
            return Err(FieldErrors(errors).into());
        }
        let now = crate::now();
        let (status, untouched_created_before) = if query.overdue {
            let site = self.main_site().await?;
            (Some(InquiryStatus::New), Some(overdue_cutoff(now, &Self::site_zone(&site))))
        } else {
            (status, None)
        };
        let filter = InquiryFilter { q: query.q.clone(), status, untouched_created_before, before_id, limit };
        let page = self.store().list_inquiries(&filter).await?;
        let actor = principal.actor();
        let events = page
            .items
            .iter()
            .map(|i| AuditEvent::new(Uuid::now_v7(), now, &actor, AuditAction::InquiryList, inquiry_target(i.id), Outcome::Success, None))
            .collect();
        self.audit_writer().record(events).await?;
        Ok(page)
    }

    pub async fn get_inquiry(&self, principal: &Principal, id: Uuid) -> Result<InquiryRecord, ServiceError> {
        self.authorize(principal, Permission::InquiryRead, "read inquiry").await?;
        let record = self.store().get_inquiry(id).await.map_err(|e| ServiceError::from_store("inquiry", e))?;
        let event = AuditEvent::new(Uuid::now_v7(), crate::now(), &principal.actor(), AuditAction::InquiryRead, inquiry_target(id), Outcome::Success, None);
        self.audit_writer().record(vec![event]).await?;
        Ok(record)
    }

    /// Changes status, close reason or assignment, checking the status flow.
    pub async fn update_inquiry(&self, principal: &Principal, id: Uuid, expected_version: i64, update: &InquiryUpdate) -> Result<Inquiry, ServiceError> {
        self.authorize(principal, Permission::InquiryManage, "update inquiry").await?;
        let current = self.store().get_inquiry(id).await.map_err(|e| ServiceError::from_store("inquiry", e))?.inquiry;
        let mut errors = Vec::new();
        let status = match update.status.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => current.status,
            Some(text) => InquiryStatus::parse(text).map_err(|e| errors.push(e)).unwrap_or(current.status),
        };
        if status != current.status && !transition_allowed(current.status, status) {
            let hint = if status == InquiryStatus::Converted { "; use convert, which registers the patient" } else { "" };
            errors.push(FieldError::new("status", format!("cannot go from {} to {}{hint}", current.status.as_str(), status.as_str())));
        }
        let close_reason = match update.close_reason.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => CloseReason::parse(text).map_err(|e| errors.push(e)).ok(),
        };
        let close_reason = match (status, close_reason) {
            (InquiryStatus::Closed, None) if current.close_reason.is_none() => {
                errors.push(FieldError::new("close_reason", "is required to close an inquiry"));
                None
            }
            (InquiryStatus::Closed, None) => current.close_reason,
            (InquiryStatus::Closed, Some(reason)) => Some(reason),
            (_, Some(_)) => {
                errors.push(FieldError::new("close_reason", "is given only when closing"));
                None
            }
            (_, None) => None,
        };
        let assigned_to = match update.assigned_to.as_deref().map(str::trim) {
            None => current.assigned_to,
            Some("") => None,
            Some(username) => match self.store().find_credential(&username.to_ascii_lowercase()).await? {
                Some(c) if !c.user.disabled && c.user.role != clinic_domain::user::Role::Patient => Some(c.user.id),
                _ => {
                    errors.push(FieldError::new("assigned_to", "must be the username of an active staff member"));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(FieldErrors(errors).into());
        }
        let change = InquiryChange { status, close_reason, assigned_to };
        let now = crate::now();
        let detail = serde_json::json!({ "from": current.status.as_str(), "to": status.as_str(), "close_reason": close_reason.map(|r| r.as_str()) });
        let event = AuditEvent::new(Uuid::now_v7(), now, &principal.actor(), AuditAction::InquiryUpdate, inquiry_target(id), Outcome::Success, Some(detail.to_string()));
        self.store()
            .update_inquiry(id, expected_version, &change, now, &event)
            .await
            .map_err(|e| ServiceError::from_store("inquiry", e))
    }

    /// Logs a call. A first call that reaches the person moves a new inquiry
    /// to `contacted`; an outcome of `screening_booked` moves it there.
    pub async fn log_inquiry_call(&self, principal: &Principal, id: Uuid, input: &CallInput) -> Result<Inquiry, ServiceError> {
        self.authorize(principal, Permission::InquiryManage, "log a call").await?;
        let current = self.store().get_inquiry(id).await.map_err(|e| ServiceError::from_store("inquiry", e))?.inquiry;
        let mut errors = Vec::new();
        let direction = CallDirection::parse(input.direction.as_deref().unwrap_or("outbound").trim()).map_err(|e| errors.push(e)).ok();
        let outcome = match input.outcome.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => {
                errors.push(FieldError::new("outcome", "is required: reached, left_message, no_answer, wrong_number or screening_booked"));
                None
            }
            Some(text) => CallOutcome::parse(text).map_err(|e| errors.push(e)).ok(),
        };
        let note = input.note.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        if note.as_deref().is_some_and(|n| n.chars().count() > 2_000) {
            errors.push(FieldError::new("note", "must be at most 2000 characters"));
        }
        let now = crate::now();
        let called_at = match input.called_at.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => Some(now),
            Some(text) => match chrono::DateTime::parse_from_rfc3339(text) {
                Ok(t) if t.with_timezone(&chrono::Utc) <= now + chrono::Duration::minutes(5) => {
                    Some(chrono::SubsecRound::trunc_subsecs(t.with_timezone(&chrono::Utc), 6))
                }
                Ok(_) => {
                    errors.push(FieldError::new("called_at", "must not be in the future"));
                    None
                }
                Err(_) => {
                    errors.push(FieldError::new("called_at", "must be an RFC 3339 time such as 2026-11-27T09:30:00-05:00"));
                    None
                }
            },
        };
        if matches!(current.status, InquiryStatus::Converted) {
            errors.push(FieldError::new("status", "the inquiry is converted; log calls in the patient's chart"));
        }
        let (Some(direction), Some(outcome), Some(called_at)) = (direction, outcome, called_at) else {
            return Err(FieldErrors(errors).into());
        };
        if !errors.is_empty() {
            return Err(FieldErrors(errors).into());
        }
        let new_status = match (current.status, outcome) {
            (InquiryStatus::New | InquiryStatus::Contacted | InquiryStatus::Closed, CallOutcome::ScreeningBooked) => Some(InquiryStatus::ScreeningBooked),
            (InquiryStatus::New, CallOutcome::Reached) => Some(InquiryStatus::Contacted),
            (InquiryStatus::Closed, CallOutcome::Reached) => Some(InquiryStatus::Contacted),
            _ => None,
        };
        let call = InquiryCall { id: Uuid::now_v7(), inquiry_id: id, called_at, direction, outcome, note, user_id: Some(principal.user.id) };
        let detail = serde_json::json!({ "direction": direction.as_str(), "outcome": outcome.as_str(), "late_entry": called_at < now - chrono::Duration::minutes(30) });
        let event = AuditEvent::new(Uuid::now_v7(), now, &principal.actor(), AuditAction::InquiryCall, inquiry_target(id), Outcome::Success, Some(detail.to_string()));
        self.store().add_inquiry_call(&call, new_status, now, &event).await.map_err(|e| ServiceError::from_store("inquiry", e))
    }

    /// Registers the person as a patient from the inquiry's details plus the
    /// fields an inquiry lacks (date of birth at least), with the registry's
    /// duplicate check, and links the inquiry to the patient.
    pub async fn convert_inquiry(
        &self,
        principal: &Principal,
        id: Uuid,
        expected_version: i64,
        extra: &PatientInput,
        duplicates: DuplicatePolicy,
    ) -> Result<(Inquiry, Patient), ServiceError> {
        self.authorize(principal, Permission::InquiryManage, "convert inquiry").await?;
        self.authorize(principal, Permission::PatientCreate, "convert inquiry").await?;
        let current = self.store().get_inquiry(id).await.map_err(|e| ServiceError::from_store("inquiry", e))?.inquiry;
        if !conversion_allowed(current.status) {
            return Err(FieldErrors::one("status", format!("a {} inquiry cannot be converted", current.status.as_str())).into());
        }
        if current.version != expected_version {
            return Err(ServiceError::StaleVersion { current: current.version });
        }
        let (given, family) = split_name(&current.details.name);
        let mut input = extra.clone();
        input.given_name = input.given_name.or(given);
        input.family_name = input.family_name.or(family);
        input.phone = input.phone.or_else(|| current.details.phone.clone());
        input.email = input.email.or_else(|| current.details.email.clone());
        if input.substances.is_empty() {
            input.substances = current.details.substances.iter().map(|s| s.as_str().to_string()).collect();
        }
        // The person consented to be contacted on the inquiry's channel; that
        // consent carries over (and is the preferred channel) unless staff
        // recorded the patient's channels at conversion.
        if input.contact_channels.is_empty() {
            input.contact_channels = vec![current.details.contact_channel.as_str().to_string()];
            input.preferred_contact_channel = Some(current.details.contact_channel.as_str().to_string());
        }
        if input.status.is_none() {
            input.status = Some("screening".into());
        }
        let site = self.main_site().await?;
        let details = PatientDetails::parse(&input, Self::site_today(&site))?;
        let likely = self.likely_duplicates(&details).await?;
        if !likely.is_empty() && duplicates == DuplicatePolicy::Refuse {
            return Err(ServiceError::LikelyDuplicate(likely));
        }
        let now = crate::now();
        let patient_id = Uuid::now_v7();
        let patient = NewPatient { id: patient_id, site_id: current.site_id, details, created_at: now };
        let actor = principal.actor();
        let patient_event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &actor,
            AuditAction::PatientCreate,
            AuditTarget::patient(patient_id),
            Outcome::Success,
            Some(serde_json::json!({ "source": "inquiry", "inquiry_id": id }).to_string()),
        );
        let inquiry_event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &actor,
            AuditAction::InquiryConvert,
            AuditTarget { resource_type: "inquiry", resource_id: Some(id.to_string()), patient_id: Some(patient_id) },
            Outcome::Success,
            None,
        );
        self.store()
            .convert_inquiry(id, expected_version, &patient, &patient_event, &inquiry_event)
            .await
            .map_err(|e| ServiceError::from_store("inquiry", e))
    }
}

/// "Ana María Díaz" → ("Ana María", "Díaz"); one word → given name only.
pub fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.as_slice() {
        [] => (None, None),
        [only] => (Some((*only).to_string()), None),
        [given @ .., family] => (Some(given.join(" ")), Some((*family).to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::split_name;

    #[test]
    fn names_split_at_the_last_word() {
        assert_eq!(split_name("Ana María Díaz"), (Some("Ana María".into()), Some("Díaz".into())));
        assert_eq!(split_name("  Sam  "), (Some("Sam".into()), None));
        assert_eq!(split_name(""), (None, None));
    }
}
