//! Counseling sessions: the counselor records what happened to a booked
//! therapy or integration session (attendance, minutes, the progress note,
//! homework, and optionally their own SUD counseling note, kept apart). The
//! booking and the planned event follow: attended, no-show, or planned again
//! after a cancellation. Clinicians read the records in the chart; a SUD
//! counseling note is read by its author only, and every attempt is audited.

use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::field::FieldErrors;
use clinic_domain::counseling::{self, Attendance, CounselingInput, CounselingRecord, RecoveryPlan};
use clinic_domain::plan::EventStatus;
use clinic_domain::protocol::EventKind;
use clinic_domain::schedule::BookingStatus;
use clinic_store::Store;
use clinic_store::counseling::{CounselingNoteRow, CounselingRow, NewCounseling, RecoveryPlanRow};
use clinic_store::error::StoreError;
use serde_json::json;
use uuid::Uuid;

use crate::Clinic;
use crate::auth::Principal;
use crate::error::ServiceError;

/// A record as the reader may see it: the note's existence is shown to its author only.
#[derive(Debug, Clone)]
pub struct CounselingView {
    pub record: CounselingRow,
    /// True when the reader wrote a SUD counseling note for this session.
    pub own_note: bool,
}

impl<S: Store> Clinic<S> {
    fn counseling_audit(&self, principal: &Principal, action: AuditAction, patient: Uuid, outcome: Outcome, detail: serde_json::Value) -> AuditEvent {
        AuditEvent::new(Uuid::now_v7(), self.now(), &principal.actor(), action, AuditTarget::patient(patient), outcome, Some(detail.to_string()))
    }

    /// Records a booked therapy or integration session, or a follow-up
    /// contact on the protocol's schedule (reached or not), on or after its
    /// day; the booking and the plan event follow. An attended follow-up is
    /// the patient's last contact for retention and time to relapse.
    pub async fn record_counseling(&self, principal: &Principal, booking_id: Uuid, input: &CounselingInput) -> Result<CounselingRow, ServiceError> {
        self.authorize(principal, Permission::CounselingRecord, "record a counseling session").await?;
        let booking = self.store().get_booking(booking_id).await.map_err(|e| ServiceError::from_store("booking", e))?;
        if !matches!(booking.kind, EventKind::Therapy | EventKind::Integration | EventKind::FollowUp) {
            return Err(ServiceError::Conflict { code: "not_counseling", message: "only a therapy or integration session or a follow-up contact is recorded here".into() });
        }
        if booking.status != BookingStatus::Booked {
            return Err(ServiceError::Conflict {
                code: "not_booked",
                message: format!("this booking is {}; only a booked session is recorded", booking.status.as_str().replace('_', " ")),
            });
        }
        let zone = Self::site_zone(&self.site_by_id(booking.site_id).await?);
        let booked_on = booking.starts_at.with_timezone(&zone).date_naive();
        if booked_on > self.now().with_timezone(&zone).date_naive() {
            return Err(ServiceError::Conflict { code: "not_today", message: format!("this session is booked for {booked_on}; it is recorded on or after that day") });
        }
        let record = CounselingRecord::parse(input)?;
        let now = self.now();
        let row = CounselingRow {
            id: Uuid::now_v7(),
            patient_id: booking.patient_id,
            booking_id: Some(booking.id),
            plan_event_id: booking.plan_event_id,
            modality: record.modality.as_str().into(),
            format: record.format.as_str().into(),
            attendance: record.attendance.as_str().into(),
            minutes: record.minutes.map(i64::from),
            progress_note: record.progress_note.clone(),
            homework: record.homework.clone(),
            reason: record.reason.clone(),
            recorded_by: principal.user.id,
            recorded_at: now,
        };
        let note = record.counseling_note.as_ref().map(|body| CounselingNoteRow {
            id: Uuid::now_v7(),
            record_id: row.id,
            patient_id: booking.patient_id,
            author_id: principal.user.id,
            body: body.clone(),
            created_at: now,
        });
        let (booking_status, event_status) = match record.attendance {
            Attendance::Attended | Attendance::Late => (BookingStatus::Attended, EventStatus::Completed),
            Attendance::NoShow => (BookingStatus::NoShow, EventStatus::NoShow),
            Attendance::CancelledByPatient | Attendance::CancelledByClinic => (BookingStatus::Cancelled, EventStatus::Planned),
        };
        let audit = self.counseling_audit(
            principal,
            AuditAction::CounselingRecord,
            booking.patient_id,
            Outcome::Success,
            json!({ "record_id": row.id, "booking_id": booking.id, "attendance": row.attendance, "counseling_note": note.is_some() }),
        );
        self.store()
            .record_counseling(NewCounseling {
                record: &row,
                note: note.as_ref(),
                booking_status: Some((booking.id, booking_status)),
                event_status: booking.plan_event_id.map(|e| (e, event_status)),
                audit: &[audit],
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => ServiceError::Conflict { code: "recorded", message: "this session is recorded already".into() },
                other => ServiceError::from_store("counseling record", other),
            })?;
        Ok(row)
    }

    /// A patient's counseling records, oldest first (audited).
    pub async fn patient_counseling(&self, principal: &Principal, patient_id: Uuid) -> Result<Vec<CounselingView>, ServiceError> {
        self.authorize(principal, Permission::CounselingRead, "read counseling records").await?;
        let rows = self.store().patient_counseling(patient_id).await?;
        let mut views = Vec::with_capacity(rows.len());
        for record in rows {
            let own_note = record.recorded_by == principal.user.id && self.store().counseling_note(record.id).await?.is_some();
            views.push(CounselingView { record, own_note });
        }
        let audit = self.counseling_audit(principal, AuditAction::CounselingRead, patient_id, Outcome::Success, json!({ "records": views.len() }));
        self.audit_writer().record(vec![audit]).await?;
        Ok(views)
    }

    /// A SUD counseling note, for its author only. Every attempt is audited,
    /// a refused one as denied; others are told it is not theirs to read.
    pub async fn read_counseling_note(&self, principal: &Principal, record_id: Uuid) -> Result<(CounselingRow, CounselingNoteRow), ServiceError> {
        self.authorize(principal, Permission::CounselingRead, "read a counseling note").await?;
        let record = self.store().get_counseling(record_id).await.map_err(|e| ServiceError::from_store("counseling record", e))?;
        let note = self.store().counseling_note(record_id).await?;
        let allowed = note.as_ref().is_some_and(|n| counseling::may_read_counseling_note(principal.user.id, n.author_id));
        let outcome = if allowed { Outcome::Success } else { Outcome::Denied };
        let audit = self.counseling_audit(principal, AuditAction::CounselingNoteRead, record.patient_id, outcome, json!({ "record_id": record_id }));
        self.audit_writer().record(vec![audit]).await?;
        match note {
            Some(note) if allowed => Ok((record, note)),
            // The same answer whether or not a note exists: its existence is the author's too.
            _ => Err(ServiceError::NotFound { resource: "counseling note (only its author reads it)" }),
        }
    }

    /// Saves a new version of the recovery plan at `expected_version` (the
    /// current one; 0 for the first). Counselors and physicians write it.
    pub async fn save_recovery_plan(&self, principal: &Principal, patient_id: Uuid, expected_version: i64, parts: &[(String, String)]) -> Result<RecoveryPlanRow, ServiceError> {
        self.authorize(principal, Permission::CounselingRecord, "write the recovery plan").await?;
        self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let plan = RecoveryPlan::parse(parts)?;
        let versions = self.store().recovery_plans(patient_id).await?;
        let current = versions.last();
        let current_version = current.map_or(0, |r| r.version);
        if current_version != expected_version {
            return Err(ServiceError::StaleVersion { current: current_version });
        }
        let before = current.map(recovery_plan_of);
        let changed = plan.changed_from(before.as_ref());
        if changed.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors::one("plan", "nothing changed from the current version")));
        }
        let row = RecoveryPlanRow {
            id: Uuid::now_v7(),
            patient_id,
            version: current_version + 1,
            body: serde_json::to_string(&plan.parts).map_err(|e| ServiceError::Internal(e.into()))?,
            changed: changed.join(","),
            written_by: principal.user.id,
            written_at: self.now(),
        };
        let audit = self.counseling_audit(principal, AuditAction::CounselingRecord, patient_id, Outcome::Success, json!({ "recovery_plan_version": row.version, "changed": changed }));
        self.store().add_recovery_plan(&row, &audit).await.map_err(|e| match e {
            StoreError::Conflict { .. } => ServiceError::StaleVersion { current: current_version + 1 },
            other => ServiceError::from_store("recovery plan", other),
        })?;
        Ok(row)
    }

    /// Every version of the recovery plan, oldest first (audited).
    pub async fn recovery_plans(&self, principal: &Principal, patient_id: Uuid) -> Result<Vec<(RecoveryPlanRow, RecoveryPlan)>, ServiceError> {
        self.authorize(principal, Permission::CounselingRead, "read the recovery plan").await?;
        let rows = self.store().recovery_plans(patient_id).await?;
        let audit = self.counseling_audit(principal, AuditAction::CounselingRead, patient_id, Outcome::Success, json!({ "recovery_plan_versions": rows.len() }));
        self.audit_writer().record(vec![audit]).await?;
        Ok(rows.into_iter().map(|r| {
            let plan = recovery_plan_of(&r);
            (r, plan)
        }).collect())
    }

    /// The current recovery plan for the patient in the portal (audited as the patient's read).
    pub async fn portal_recovery_plan(&self, view: &crate::screening::PortalView) -> Result<Option<(RecoveryPlanRow, RecoveryPlan)>, ServiceError> {
        let current = self.store().recovery_plans(view.patient.id).await?.pop();
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &crate::screening::portal_actor(&view.patient, None),
            AuditAction::PortalRead,
            AuditTarget::patient(view.patient.id),
            Outcome::Success,
            Some(json!({ "view": "recovery_plan", "version": current.as_ref().map(|r| r.version) }).to_string()),
        );
        self.audit_writer().record(vec![audit]).await?;
        Ok(current.map(|r| {
            let plan = recovery_plan_of(&r);
            (r, plan)
        }))
    }
}

/// A stored version read back (unreadable parts are left out, never invented).
fn recovery_plan_of(row: &RecoveryPlanRow) -> RecoveryPlan {
    RecoveryPlan { parts: serde_json::from_str(&row.body).unwrap_or_default() }
}
