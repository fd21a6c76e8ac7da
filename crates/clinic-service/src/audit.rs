//! Reading and verifying the audit trail.

use chrono::{DateTime, Utc};
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_store::records::{AuditFilter, Page};
use clinic_store::verify::{verify_chain, ChainReport, VerifyError};
use clinic_store::Store;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ServiceError;
use crate::patients::{parse_limit, DEFAULT_LIMIT};
use crate::Clinic;

/// An audit search as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub patient_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// RFC 3339 times or YYYY-MM-DD dates (UTC midnight).
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Extra time allowed beyond the sealer's interval for a flush in progress.
pub const SEAL_GRACE: chrono::Duration = chrono::Duration::seconds(10);

fn parse_time(errors: &mut Vec<FieldError>, field: &str, text: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    errors.push(FieldError::new(field, "must be a date YYYY-MM-DD or an RFC 3339 time"));
    None
}

impl<S: Store> Clinic<S> {
    pub async fn list_audit(&self, principal: &Principal, query: &AuditQuery) -> Result<Page<AuditEvent>, ServiceError> {
        self.authorize(principal, Permission::AuditRead, "read audit log").await?;
        let mut errors = Vec::new();
        let mut parse_id = |field: &str, text: Option<&str>| -> Option<Uuid> {
            let text = text.map(str::trim).filter(|t| !t.is_empty())?;
            Uuid::try_parse(text).map_err(|_| errors.push(FieldError::new(field, "must be an id (UUID)"))).ok()
        };
        let patient_id = parse_id("patient_id", query.patient_id.as_deref());
        let before_id = parse_id("cursor", query.cursor.as_deref());
        let action = query.action.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        if let Some(text) = &action {
            if AuditAction::parse(text).is_none() {
                let allowed: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                errors.push(FieldError::new("action", format!("must be one of: {}", allowed.join(", "))));
            }
        }
        let from = parse_time(&mut errors, "from", query.from.as_deref());
        let to = parse_time(&mut errors, "to", query.to.as_deref());
        let limit = parse_limit(query.limit).map_err(|e| errors.push(e)).unwrap_or(DEFAULT_LIMIT);
        if !errors.is_empty() {
            return Err(FieldErrors(errors).into());
        }
        let actor = query.actor.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        let filter = AuditFilter { patient_id, actor, action, from, to, before_id, limit };
        let page = self.store().list_audit(&filter).await?;
        let event = AuditEvent::new(
            Uuid::now_v7(),
            crate::now(),
            &principal.actor(),
            AuditAction::AuditRead,
            AuditTarget { resource_type: "audit", resource_id: None, patient_id },
            Outcome::Success,
            Some(serde_json::json!({ "n_events": page.items.len() }).to_string()),
        );
        self.audit_writer().record(vec![event]).await?;
        Ok(page)
    }

    /// Verifies the whole chain (the `ketaclinic audit verify` command).
    pub async fn verify_audit(&self) -> Result<ChainReport, VerifyError> {
        let interval = chrono::Duration::from_std(self.config().sealer_interval).unwrap_or(chrono::Duration::seconds(1));
        verify_chain(self.store(), crate::now(), interval + SEAL_GRACE).await
    }
}
