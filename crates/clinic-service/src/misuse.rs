//! The ketamine-misuse watch in the chart: staff record what the patient
//! reports or asks for (ketamine craving, an extra or earlier infusion, a
//! higher dose), tests raise flags on their own (a ketamine or norketamine
//! positive nothing explains), each flag alerts the physicians at once, and a
//! physician confirms or rejects it with a note. Only confirmed flags count
//! as misuse (`clinic_domain::outcome::misuse`).

use chrono::NaiveDate;
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::outcome::misuse::{
    confirmed_misuse_count, misuse_flags, FlagKey, InfusionRequest, KetamineCravingReport, MisuseDecision, MisuseFlag, MisuseSignal, RequestKind,
};
use clinic_domain::outcome::Verdict;
use clinic_store::outcomes::{MisuseDecisionRow, MisuseSignalRow};
use clinic_store::Store;
use serde_json::json;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ServiceError;
use crate::Clinic;

/// What staff may record for the watch.
pub const SIGNAL_KINDS: [&str; 4] = ["ketamine_craving", "extra_infusion", "earlier_infusion", "higher_dose"];

/// The watch for one patient.
#[derive(Debug, Clone)]
pub struct MisuseView {
    pub flags: Vec<MisuseFlag>,
    pub decisions: Vec<MisuseDecisionRow>,
    pub signals: Vec<MisuseSignalRow>,
    pub confirmed: usize,
}

impl MisuseView {
    /// The latest decision on a flag.
    pub fn decision(&self, key: &FlagKey) -> Option<&MisuseDecisionRow> {
        self.decisions.iter().rev().find(|d| d.signal == key.signal.as_str() && d.record_id == key.record)
    }
}

fn decision_of(row: &MisuseDecisionRow) -> Option<MisuseDecision> {
    Some(MisuseDecision {
        flag: FlagKey { signal: MisuseSignal::parse(&row.signal).ok()?, record: row.record_id },
        verdict: Verdict::parse(&row.verdict).ok()?,
        note: row.note.clone(),
    })
}

impl<S: Store> Clinic<S> {
    fn misuse_audit(&self, principal: &Principal, action: AuditAction, patient: Uuid, detail: serde_json::Value) -> AuditEvent {
        AuditEvent::new(Uuid::now_v7(), self.now(), &principal.actor(), action, AuditTarget::patient(patient), Outcome::Success, Some(detail.to_string()))
    }

    /// Records a report of ketamine craving or a request for more ketamine; it alerts the physicians.
    pub async fn record_misuse_signal(&self, principal: &Principal, patient_id: Uuid, kind: &str, reported_on: &str, note: Option<&str>) -> Result<MisuseSignalRow, ServiceError> {
        self.authorize(principal, Permission::OutcomeRecord, "record a misuse-watch signal").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let zone = Self::site_zone(&self.site_by_id(patient.site_id).await?);
        let today = self.now().with_timezone(&zone).date_naive();
        let mut errors = Vec::new();
        let kind = kind.trim();
        if !SIGNAL_KINDS.contains(&kind) {
            errors.push(FieldError::new("kind", format!("must be one of: {}", SIGNAL_KINDS.join(", "))));
        }
        let date = match NaiveDate::parse_from_str(reported_on.trim(), "%Y-%m-%d") {
            Ok(d) if d <= today => Some(d),
            Ok(d) => {
                errors.push(FieldError::new("reported_on", format!("{d} is after today ({today})")));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("reported_on", format!("must be a date YYYY-MM-DD, got {reported_on:?}")));
                None
            }
        };
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_none() {
            errors.push(FieldError::new("note", "is required: what the patient said or asked"));
        }
        let (Some(date), Some(note), true) = (date, note, errors.is_empty()) else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        let row = MisuseSignalRow {
            id: Uuid::now_v7(),
            patient_id,
            kind: kind.into(),
            reported_on: date.to_string(),
            note: note.into(),
            recorded_by: principal.user.id,
            recorded_at: self.now(),
        };
        let alert = self.misuse_alert(&patient, format!("{} reported on {date}: {note}", kind.replace('_', " ")), row.id);
        let audit = vec![
            self.misuse_audit(principal, AuditAction::OutcomeRecord, patient_id, json!({ "misuse_signal": row.id, "kind": row.kind })),
            self.misuse_audit(principal, AuditAction::AlertRaise, patient_id, json!({ "alert_id": alert.id, "kind": alert.kind.as_str(), "routed_to": alert.routed_to })),
        ];
        self.store().add_misuse_signal(&row, &[alert], &audit).await?;
        Ok(row)
    }

    /// Every flag for a patient, with the decisions and the confirmed count (no permission check, no audit).
    pub(crate) async fn misuse_of(&self, patient: &clinic_domain::patient::Patient, facts: &crate::outcomes::OutcomeFacts) -> Result<MisuseView, ServiceError> {
        let tests = &facts.tests;
        let signals = self.store().patient_misuse_signals(patient.id).await?;
        let mut cravings = Vec::new();
        let mut requests = Vec::new();
        for s in &signals {
            let Ok(on) = NaiveDate::parse_from_str(&s.reported_on, "%Y-%m-%d") else { continue };
            match s.kind.as_str() {
                "ketamine_craving" => cravings.push(KetamineCravingReport { id: s.id, reported_on: on, craving: true }),
                "extra_infusion" => requests.push(InfusionRequest { id: s.id, requested_on: on, kind: RequestKind::ExtraInfusion }),
                "earlier_infusion" => requests.push(InfusionRequest { id: s.id, requested_on: on, kind: RequestKind::EarlierInfusion }),
                "higher_dose" => requests.push(InfusionRequest { id: s.id, requested_on: on, kind: RequestKind::HigherDose }),
                _ => {}
            }
        }
        let flags = misuse_flags(tests, &cravings, &requests);
        let decisions = self.store().patient_misuse_decisions(patient.id).await?;
        let domain: Vec<MisuseDecision> = decisions.iter().filter_map(decision_of).collect();
        let confirmed = confirmed_misuse_count(&flags, &domain);
        Ok(MisuseView { flags, decisions, signals, confirmed })
    }

    /// A physician confirms or rejects one flag, with a note.
    pub async fn decide_misuse(&self, principal: &Principal, patient_id: Uuid, signal: &str, record: &str, verdict: &str, note: Option<&str>) -> Result<MisuseDecisionRow, ServiceError> {
        self.authorize(principal, Permission::MisuseDecide, "decide on a ketamine-misuse flag").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let mut errors = Vec::new();
        let signal = MisuseSignal::parse(signal.trim()).map_err(|e| errors.push(e)).ok();
        let record = Uuid::try_parse(record.trim()).map_err(|_| errors.push(FieldError::new("record_id", "must be the id of the record that raised the flag"))).ok();
        let verdict = Verdict::parse(verdict.trim()).map_err(|e| errors.push(e)).ok();
        let note = clinic_domain::alert::parse_response(note).map_err(|e| errors.extend(e.0.into_iter().map(|f| FieldError::new("note", f.message)))).ok();
        let (Some(signal), Some(record), Some(verdict), Some(note)) = (signal, record, verdict, note) else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        let view = self.misuse_of(&patient, &self.outcome_facts(&patient).await?).await?;
        let key = FlagKey { signal, record };
        if !view.flags.iter().any(|f| f.key == key) {
            return Err(ServiceError::Invalid(FieldErrors::one("record_id", "no such flag on this patient: the data may have changed; reload the chart")));
        }
        let row = MisuseDecisionRow {
            id: Uuid::now_v7(),
            patient_id,
            signal: signal.as_str().into(),
            record_id: record,
            verdict: verdict.as_str().into(),
            note,
            decided_by: principal.user.id,
            decided_at: self.now(),
        };
        let audit = self.misuse_audit(principal, AuditAction::MisuseDecide, patient_id, json!({ "decision_id": row.id, "signal": row.signal, "verdict": row.verdict }));
        self.store().add_misuse_decision(&row, &audit).await?;
        Ok(row)
    }
}
