//! Treatment plans: the physician picks a protocol and a start date for an
//! eligible patient, edits the dated events with a reason for each change,
//! and signs; signing the first plan puts the patient in treatment. Every
//! read and write is audited; every write commits with its audit event.

use chrono::NaiveDate;
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::dose::PlausibilityLimits;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::patient::PatientStatus;
use clinic_domain::plan::{self, EditRequest, Plan, PlanChange, PlanEdit, PlanError, PlanHeader};
use clinic_domain::protocol::decimal::Decimal;
use clinic_domain::protocol::definition::Phase;
use clinic_domain::protocol::{EventKind, Protocol};
use clinic_store::Store;
use clinic_store::error::StoreError;
use serde::Deserialize;
use uuid::Uuid;

use crate::Clinic;
use crate::auth::Principal;
use crate::error::ServiceError;

/// A new plan as a form or JSON gives it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPlanInput {
    pub protocol_id: Option<String>,
    /// YYYY-MM-DD, day 0 of the protocol.
    pub start_date: Option<String>,
}

/// One phase as typed: exact decimal text and whole minutes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseInput {
    pub dose_mg_per_kg: Option<String>,
    pub minutes: Option<String>,
}

/// An edit as a form or JSON gives it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditInput {
    /// move, skip, restore, add or dose.
    pub action: Option<String>,
    pub event_id: Option<String>,
    pub date: Option<String>,
    /// For add: the event kind.
    pub kind: Option<String>,
    #[serde(default)]
    pub phases: Vec<PhaseInput>,
    pub modality: Option<String>,
    pub instrument: Option<String>,
    pub reason: Option<String>,
    #[serde(default)]
    pub acknowledge_deviation: bool,
}

pub const EDIT_ACTIONS: &str = "move, skip, restore, add, dose";

/// A plan with its history, as the chart shows it.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub plan: Plan,
    pub changes: Vec<PlanChange>,
}

fn parse_date(errors: &mut Vec<FieldError>, field: &str, text: Option<&str>) -> Option<NaiveDate> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => {
            errors.push(FieldError::new(field, "required, as YYYY-MM-DD"));
            None
        }
        Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                errors.push(FieldError::new(
                    field,
                    format!("{text:?} is not a date as YYYY-MM-DD"),
                ));
                None
            }
        },
    }
}

fn parse_phases(errors: &mut Vec<FieldError>, phases: &[PhaseInput]) -> Vec<Phase> {
    let mut out = Vec::new();
    for (idx, phase) in phases.iter().enumerate() {
        let dose = phase.dose_mg_per_kg.as_deref().map(str::trim).unwrap_or("");
        let minutes = phase.minutes.as_deref().map(str::trim).unwrap_or("");
        if dose.is_empty() && minutes.is_empty() {
            continue; // an empty row of a form
        }
        let dose = match Decimal::parse(dose) {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(
                    format!("phases[{idx}].dose_mg_per_kg"),
                    format!("{dose:?} is not a number of mg/kg with at most 6 decimal places"),
                ));
                None
            }
        };
        let minutes = match minutes.parse::<i64>() {
            Ok(m) => Some(m),
            Err(_) => {
                errors.push(FieldError::new(
                    format!("phases[{idx}].minutes"),
                    format!("{minutes:?} is not a whole number of minutes"),
                ));
                None
            }
        };
        if let (Some(dose_mg_per_kg), Some(minutes)) = (dose, minutes) {
            out.push(Phase {
                dose_mg_per_kg,
                minutes,
            });
        }
    }
    out
}

fn parse_event_id(errors: &mut Vec<FieldError>, text: Option<&str>) -> Option<Uuid> {
    match text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Uuid::parse_str)
    {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(FieldError::new("event_id", "not an event id"));
            None
        }
        None => {
            errors.push(FieldError::new("event_id", "required"));
            None
        }
    }
}

/// Reads an edit, naming every bad field.
pub fn parse_edit(input: &EditInput) -> Result<EditRequest, FieldErrors> {
    let mut errors = Vec::new();
    let action = input.action.as_deref().map(str::trim).unwrap_or("");
    let edit = match action {
        "move" => {
            let event_id = parse_event_id(&mut errors, input.event_id.as_deref());
            let date = parse_date(&mut errors, "date", input.date.as_deref());
            event_id
                .zip(date)
                .map(|(event_id, date)| PlanEdit::Move { event_id, date })
        }
        "skip" => parse_event_id(&mut errors, input.event_id.as_deref())
            .map(|event_id| PlanEdit::Skip { event_id }),
        "restore" => parse_event_id(&mut errors, input.event_id.as_deref())
            .map(|event_id| PlanEdit::Restore { event_id }),
        "dose" => {
            let event_id = parse_event_id(&mut errors, input.event_id.as_deref());
            let phases = parse_phases(&mut errors, &input.phases);
            event_id.map(|event_id| PlanEdit::Dose { event_id, phases })
        }
        "add" => {
            let kind = match EventKind::parse(input.kind.as_deref().map(str::trim).unwrap_or("")) {
                Ok(kind) => Some(kind),
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
            let date = parse_date(&mut errors, "date", input.date.as_deref());
            let phases = parse_phases(&mut errors, &input.phases);
            kind.zip(date).map(|(kind, date)| PlanEdit::Add {
                kind,
                date,
                phases,
                modality: input.modality.clone(),
                instrument: input.instrument.clone(),
            })
        }
        _ => {
            errors.push(FieldError::new(
                "action",
                format!("must be one of: {EDIT_ACTIONS}"),
            ));
            None
        }
    };
    if input.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        errors.push(FieldError::new(
            "reason",
            "required: say why the plan changes",
        ));
    }
    match edit {
        Some(edit) if errors.is_empty() => Ok(EditRequest {
            edit,
            reason: input.reason.clone().unwrap_or_default(),
            acknowledge_deviation: input.acknowledge_deviation,
        }),
        _ => Err(FieldErrors(errors)),
    }
}

fn plan_error(err: PlanError) -> ServiceError {
    match err {
        PlanError::Invalid(errors) => ServiceError::Invalid(errors),
        PlanError::Deviation(deviations) => ServiceError::Invalid(FieldErrors::one(
            "acknowledge_deviation",
            format!(
                "this change deviates from the protocol; acknowledge to go ahead: {}",
                deviations.join("; ")
            ),
        )),
        PlanError::NotAllowed(message) => ServiceError::Conflict {
            code: "not_allowed",
            message,
        },
    }
}

impl<S: Store> Clinic<S> {
    fn plan_event(
        &self,
        principal: &Principal,
        action: AuditAction,
        patient_id: Uuid,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &principal.actor(),
            action,
            AuditTarget::patient(patient_id),
            Outcome::Success,
            Some(detail.to_string()),
        )
    }

    fn plan_protocol(&self, header: &PlanHeader) -> Result<&Protocol, ServiceError> {
        self.protocols().get(&header.protocol_id).ok_or_else(|| ServiceError::Conflict {
            code: "protocol_missing",
            message: format!("the protocol {} this plan follows is no longer installed; restore its file to change the plan", header.protocol_id),
        })
    }

    /// The physician makes a plan from a protocol for an eligible patient.
    pub async fn create_plan(
        &self,
        principal: &Principal,
        patient_id: Uuid,
        input: &NewPlanInput,
    ) -> Result<Plan, ServiceError> {
        self.authorize(principal, Permission::PlanManage, "make a plan")
            .await?;
        let patient = self
            .store()
            .get_patient(patient_id)
            .await
            .map_err(|e| ServiceError::from_store("patient", e))?;
        let mut errors = Vec::new();
        let protocol_id = input.protocol_id.as_deref().map(str::trim).unwrap_or("");
        let protocol = self.protocols().get(protocol_id);
        if protocol.is_none() {
            errors.push(FieldError::new(
                "protocol_id",
                format!("must be one of: {}", self.protocols().ids().join(", ")),
            ));
        }
        let start = parse_date(&mut errors, "start_date", input.start_date.as_deref());
        let (Some(protocol), Some(start), true) = (protocol, start, errors.is_empty()) else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        let (plan, change) = plan::new_plan(
            protocol,
            &patient,
            start,
            principal.user.id,
            self.now(),
            &mut Uuid::now_v7,
        )
        .map_err(plan_error)?;
        let event = self.plan_event(
            principal,
            AuditAction::PlanCreate,
            patient_id,
            serde_json::json!({ "plan_id": plan.header.id, "protocol_id": protocol.id(), "start_date": start.to_string() }),
        );
        self.store().create_plan(&plan, &change, &event).await.map_err(|e| match e {
            StoreError::Conflict { constraint } if constraint == "plans_patient_id_key" => ServiceError::Conflict {
                code: "plan_exists",
                message: "this patient already has a plan that has not ended; end it before making another".into(),
            },
            other => ServiceError::from_store("plan", other),
        })?;
        Ok(plan)
    }

    /// A plan with its history (audited as a read of the patient's plan).
    pub async fn get_plan(
        &self,
        principal: &Principal,
        plan_id: Uuid,
    ) -> Result<PlanView, ServiceError> {
        self.authorize(principal, Permission::PlanRead, "read a plan")
            .await?;
        let plan = self
            .store()
            .get_plan(plan_id)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        let changes = self.store().list_plan_changes(plan_id).await?;
        let event = self.plan_event(
            principal,
            AuditAction::PlanRead,
            plan.header.patient_id,
            serde_json::json!({ "plan_id": plan_id }),
        );
        self.audit_writer().record(vec![event]).await?;
        Ok(PlanView { plan, changes })
    }

    /// A patient's plans, newest first, each with its events (audited).
    pub async fn patient_plans(
        &self,
        principal: &Principal,
        patient_id: Uuid,
    ) -> Result<Vec<Plan>, ServiceError> {
        self.authorize(principal, Permission::PlanRead, "read plans")
            .await?;
        let headers = self.store().list_plans(patient_id).await?;
        let mut plans = Vec::with_capacity(headers.len());
        for header in headers {
            plans.push(self.store().get_plan(header.id).await?);
        }
        let event = self.plan_event(
            principal,
            AuditAction::PlanRead,
            patient_id,
            serde_json::json!({ "plans": plans.len() }),
        );
        self.audit_writer().record(vec![event]).await?;
        Ok(plans)
    }

    /// Applies one edit at `expected_version`.
    pub async fn edit_plan(
        &self,
        principal: &Principal,
        plan_id: Uuid,
        expected_version: i64,
        input: &EditInput,
    ) -> Result<Plan, ServiceError> {
        self.authorize(principal, Permission::PlanManage, "change a plan")
            .await?;
        let request = parse_edit(input)?;
        let current = self
            .store()
            .get_plan(plan_id)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        if current.header.version != expected_version {
            return Err(ServiceError::StaleVersion {
                current: current.header.version,
            });
        }
        let protocol = self.plan_protocol(&current.header)?;
        let limits = PlausibilityLimits::shipped();
        let outcome = plan::apply_edit(
            &current,
            protocol,
            &request,
            &limits,
            principal.user.id,
            self.now(),
            &mut Uuid::now_v7,
        )
        .map_err(plan_error)?;
        let changed: Vec<_> = outcome
            .plan
            .events
            .iter()
            .filter(|e| outcome.changed_events.contains(&e.id))
            .cloned()
            .collect();
        let event = self.plan_event(
            principal,
            AuditAction::PlanUpdate,
            current.header.patient_id,
            serde_json::json!({
                "plan_id": plan_id,
                "action": outcome.change.action.as_str(),
                "event_id": outcome.change.event_id,
                "deviations": outcome.change.deviations.len(),
            }),
        );
        self.store()
            .save_plan_change(
                &outcome.plan.header,
                expected_version,
                &changed,
                &outcome.change,
                None,
                &event,
            )
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        Ok(outcome.plan)
    }

    /// The physician signs the plan as it stands; the first signature puts an
    /// eligible patient in treatment.
    pub async fn sign_plan(
        &self,
        principal: &Principal,
        plan_id: Uuid,
        expected_version: i64,
    ) -> Result<Plan, ServiceError> {
        self.authorize(principal, Permission::PlanManage, "sign a plan")
            .await?;
        let current = self
            .store()
            .get_plan(plan_id)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        if current.header.version != expected_version {
            return Err(ServiceError::StaleVersion {
                current: current.header.version,
            });
        }
        let (header, change) =
            plan::sign(&current, principal.user.id, self.now(), &mut Uuid::now_v7)
                .map_err(plan_error)?;
        let patient = self
            .store()
            .get_patient(current.header.patient_id)
            .await
            .map_err(|e| ServiceError::from_store("patient", e))?;
        let status = (patient.details.status == PatientStatus::Eligible)
            .then_some(PatientStatus::InTreatment);
        let event = self.plan_event(
            principal,
            AuditAction::PlanSign,
            current.header.patient_id,
            serde_json::json!({ "plan_id": plan_id, "version": header.version, "status": status.map(|s| s.as_str()) }),
        );
        self.store()
            .save_plan_change(&header, expected_version, &[], &change, status, &event)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        Ok(Plan {
            header,
            events: current.events,
        })
    }

    /// Ends the plan with a reason (course complete, withdrew, replaced).
    pub async fn end_plan(
        &self,
        principal: &Principal,
        plan_id: Uuid,
        expected_version: i64,
        reason: &str,
    ) -> Result<Plan, ServiceError> {
        self.authorize(principal, Permission::PlanManage, "end a plan")
            .await?;
        let current = self
            .store()
            .get_plan(plan_id)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        if current.header.version != expected_version {
            return Err(ServiceError::StaleVersion {
                current: current.header.version,
            });
        }
        let (header, change) = plan::end(
            &current,
            reason,
            principal.user.id,
            self.now(),
            &mut Uuid::now_v7,
        )
        .map_err(plan_error)?;
        let event = self.plan_event(
            principal,
            AuditAction::PlanUpdate,
            current.header.patient_id,
            serde_json::json!({ "plan_id": plan_id, "action": "end" }),
        );
        self.store()
            .save_plan_change(&header, expected_version, &[], &change, None, &event)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        Ok(Plan {
            header,
            events: current.events,
        })
    }
}
