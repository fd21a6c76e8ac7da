//! Aftercare: referrals (detox, medication for opioid use disorder, mutual
//! help, psychiatry) with where each stands, and the discharge summary a
//! clinician hands on when the patient leaves the program — the protocol,
//! the infusions given, outcomes, adverse events, current medications
//! (MOUD named, never to be stopped for ketamine: clinical.md §11.4) and the
//! referrals.

use chrono::{DateTime, NaiveDate, Utc};
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::dose::Exact;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_store::counseling::ReferralRow;
use clinic_store::Store;
use serde_json::json;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ServiceError;
use crate::Clinic;

pub const REFERRAL_KINDS: [&str; 5] = ["detox", "moud", "mutual_help", "psychiatry", "other"];
pub const REFERRAL_STATUSES: [&str; 5] = ["suggested", "made", "accepted", "declined", "completed"];

/// A referral as it stands, with its history (oldest first).
#[derive(Debug, Clone)]
pub struct Referral {
    pub current: ReferralRow,
    pub history: Vec<ReferralRow>,
}

/// One infusion in the summary.
#[derive(Debug, Clone)]
pub struct InfusionGiven {
    pub date: NaiveDate,
    /// mg the pump record shows delivered (exact; `None` when unknown).
    pub delivered_mg: Option<Exact>,
    pub discharged: bool,
}

/// The discharge summary.
#[derive(Debug, Clone)]
pub struct DischargeSummary {
    pub protocol: Option<String>,
    pub plan_start: Option<NaiveDate>,
    pub plan_ended: Option<(DateTime<Utc>, String)>,
    pub infusions: Vec<InfusionGiven>,
    /// (date, description, severity, outcome).
    pub adverse_events: Vec<(NaiveDate, String, String, String)>,
    /// (name, dose, is MOUD).
    pub medications: Vec<(String, Option<String>, bool)>,
    /// Per substance: percent days abstinent over the last four weeks, as text.
    pub abstinence: Vec<(String, String)>,
    /// Time to relapse in words, or why it is not settled.
    pub relapse: String,
    pub confirmed_misuse: usize,
    pub referrals: Vec<Referral>,
    /// The protocol's follow-up contacts in the plan: (date, status).
    pub follow_ups: Vec<(NaiveDate, String)>,
}

impl<S: Store> Clinic<S> {
    /// Makes a referral (no `referral_id`) or records where one stands now.
    #[allow(clippy::too_many_arguments)] // one argument per field of the form
    pub async fn record_referral(
        &self,
        principal: &Principal,
        patient_id: Uuid,
        referral_id: Option<&str>,
        kind: Option<&str>,
        to_whom: Option<&str>,
        status: &str,
        note: Option<&str>,
    ) -> Result<ReferralRow, ServiceError> {
        self.authorize(principal, Permission::CounselingRecord, "record a referral").await?;
        self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let mut errors = Vec::new();
        let status = status.trim();
        if !REFERRAL_STATUSES.contains(&status) {
            errors.push(FieldError::new("status", format!("must be one of: {}", REFERRAL_STATUSES.join(", "))));
        }
        let existing = self.store().patient_referrals(patient_id).await?;
        let (referral_id, kind, to_whom) = match referral_id.map(str::trim).filter(|r| !r.is_empty()) {
            Some(id) => match Uuid::try_parse(id).ok().and_then(|id| existing.iter().find(|r| r.referral_id == id)) {
                Some(first) => (first.referral_id, first.kind.clone(), first.to_whom.clone()),
                None => return Err(ServiceError::Invalid(FieldErrors::one("referral_id", "is not a referral of this patient"))),
            },
            None => {
                let kind = kind.map(str::trim).unwrap_or("");
                if !REFERRAL_KINDS.contains(&kind) {
                    errors.push(FieldError::new("kind", format!("must be one of: {}", REFERRAL_KINDS.join(", "))));
                }
                let to_whom = to_whom.map(str::trim).unwrap_or("");
                if to_whom.is_empty() {
                    errors.push(FieldError::new("to_whom", "is required: the service or person referred to"));
                }
                (Uuid::now_v7(), kind.to_string(), to_whom.to_string())
            }
        };
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        let row = ReferralRow {
            id: Uuid::now_v7(),
            patient_id,
            referral_id,
            kind,
            to_whom,
            status: status.into(),
            note: note.map(str::trim).filter(|n| !n.is_empty()).map(str::to_string),
            recorded_by: principal.user.id,
            recorded_at: self.now(),
        };
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            row.recorded_at,
            &principal.actor(),
            AuditAction::CounselingRecord,
            AuditTarget::patient(patient_id),
            Outcome::Success,
            Some(json!({ "referral": row.referral_id, "kind": row.kind, "status": row.status }).to_string()),
        );
        self.store().add_referral(&row, &audit).await?;
        Ok(row)
    }

    /// A patient's referrals as they stand (no permission check, no audit).
    async fn referrals_of(&self, patient_id: Uuid) -> Result<Vec<Referral>, ServiceError> {
        let rows = self.store().patient_referrals(patient_id).await?;
        let mut out: Vec<Referral> = Vec::new();
        for row in rows {
            match out.iter_mut().find(|r| r.current.referral_id == row.referral_id) {
                Some(r) => {
                    r.history.push(row.clone());
                    r.current = row;
                }
                None => out.push(Referral { current: row.clone(), history: vec![row] }),
            }
        }
        Ok(out)
    }

    /// A patient's referrals (audited as a counseling read).
    pub async fn referrals(&self, principal: &Principal, patient_id: Uuid) -> Result<Vec<Referral>, ServiceError> {
        self.authorize(principal, Permission::CounselingRead, "read referrals").await?;
        let out = self.referrals_of(patient_id).await?;
        let audit = AuditEvent::new(Uuid::now_v7(), self.now(), &principal.actor(), AuditAction::CounselingRead, AuditTarget::patient(patient_id), Outcome::Success, Some(json!({ "referrals": out.len() }).to_string()));
        self.audit_writer().record(vec![audit]).await?;
        Ok(out)
    }

    /// The discharge summary (audited; clinicians).
    pub async fn discharge_summary(&self, principal: &Principal, patient_id: Uuid) -> Result<DischargeSummary, ServiceError> {
        self.authorize(principal, Permission::CounselingRead, "read the discharge summary").await?;
        self.authorize(principal, Permission::OutcomeRead, "read the discharge summary").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let zone = Self::site_zone(&self.site_by_id(patient.site_id).await?);
        let plan_record = self.outcome_plan(&patient).await?;
        let plan = plan_record.as_ref().map(|p| p.header.clone());
        let mut infusions = Vec::new();
        let mut adverse_events = Vec::new();
        let mut sessions = self.store().patient_sessions(patient_id).await?;
        sessions.sort_by_key(|s| s.opened_at);
        for s in sessions {
            let chart = self.fold_chart(s.clone()).await?;
            if let Some(start) = chart.started_at {
                infusions.push(InfusionGiven {
                    date: start.with_timezone(&zone).date_naive(),
                    delivered_mg: chart.delivered.map(|(_, mg)| mg),
                    discharged: s.status == "discharged",
                });
            }
            for e in chart.entries.iter().filter(|e| e.kind == "adverse_event") {
                let b: serde_json::Value = serde_json::from_str(&e.body).unwrap_or_default();
                let text = |k: &str| b[k].as_str().unwrap_or("").to_string();
                adverse_events.push((e.at.with_timezone(&zone).date_naive(), text("description"), text("severity"), text("outcome")));
            }
        }
        let page = self.patient_outcome_page(principal, patient_id).await?;
        let abstinence = page
            .view
            .substances
            .iter()
            .map(|s| {
                let words = match s.pda.percent {
                    Some(p) => format!("{} % of {} days assessed without use ({})", p.to_decimal().split('.').next().unwrap_or("0"), s.pda.days_assessed, s.pda.definition.window.name),
                    None => "no day assessed".to_string(),
                };
                (s.substance.as_str().to_string(), words)
            })
            .collect();
        let relapse = match page.relapse {
            None => "no signed plan".to_string(),
            Some(v) => match v.outcome {
                Err(why) => format!("not evaluated: {why}"),
                Ok(o) if o.time.point.relapsed => format!("relapse confirmed on day {} from {}", o.time.point.days, o.proposals.index),
                Ok(o) if !o.time.pending.is_empty() => format!("{} proposal(s) await a clinician's decision", o.time.pending.len()),
                Ok(o) => format!("no confirmed relapse in {} days from {}", o.time.point.days, o.proposals.index),
            },
        };
        let confirmed_misuse = page.misuse.confirmed;
        let follow_ups = plan_record
            .iter()
            .flat_map(|p| p.events.iter())
            .filter(|e| e.kind == clinic_domain::protocol::EventKind::FollowUp)
            .map(|e| (e.date, e.status.as_str().replace('_', " ")))
            .collect();
        let medications = patient.details.medications.iter().map(|m| (m.name.clone(), m.dose.clone(), clinic_domain::chart::is_moud(&m.name))).collect();
        let audit = AuditEvent::new(Uuid::now_v7(), self.now(), &principal.actor(), AuditAction::CounselingRead, AuditTarget::patient(patient_id), Outcome::Success, Some(json!({ "discharge_summary": true }).to_string()));
        self.audit_writer().record(vec![audit]).await?;
        Ok(DischargeSummary {
            protocol: plan.as_ref().map(|p| p.protocol_id.clone()),
            plan_start: plan.as_ref().map(|p| p.start_date),
            plan_ended: plan.as_ref().and_then(|p| p.ended_at.map(|at| (at, p.end_reason.clone().unwrap_or_default()))),
            infusions,
            adverse_events,
            medications,
            abstinence,
            relapse,
            confirmed_misuse,
            referrals: self.referrals_of(patient_id).await?,
            follow_ups,
        })
    }
}
