//! Relapse as the patient's protocol defines it: the evaluator in
//! `clinic_domain::outcome::relapse` proposes lapse, relapse and dropout
//! events from all sources; a clinician confirms or rejects each with a
//! note; time to relapse comes from the confirmed events only. Where the
//! protocol leaves the definition open and the clinic has not set it, the
//! answer names every missing setting instead of guessing. The cohort
//! export (`ketaclinic export cohort`) is built from the same numbers.

use chrono::{NaiveDate, Utc};
use clinic_domain::analytics::RelapseSummary;
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::outcome::relapse::{
    propose, relapse_definition, time_to_relapse, ClinicRelapseSettings, Decision, EventKey, EventKind, Proposals, RelapseDefinition, RelapseFacts,
    TimeToRelapse,
};
use clinic_domain::outcome::{ContactStatus, CourseDates, FollowUpContact, Verdict};
use clinic_domain::patient::{Patient, Substance};
use clinic_domain::plan::{EventStatus, PlanState};
use clinic_domain::protocol::EventKind as PlanEventKind;
use clinic_domain::schedule::BookingStatus;
use clinic_store::outcomes::RelapseDecisionRow;
use clinic_domain::plan::Plan as PlanRecord;
use clinic_store::Store;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ServiceError;
use crate::Clinic;

/// The evaluation for one patient's plan.
#[derive(Debug, Clone)]
pub struct RelapseOutcome {
    pub definition: RelapseDefinition,
    pub proposals: Proposals,
    pub time: TimeToRelapse,
}

/// What the chart shows: the plan and either the evaluation or why there is none.
#[derive(Debug, Clone)]
pub struct RelapseView {
    pub plan_id: Uuid,
    pub protocol_id: String,
    pub outcome: Result<RelapseOutcome, String>,
    /// Every decision, oldest first.
    pub decisions: Vec<RelapseDecisionRow>,
}

/// One row of the cohort export: `patient_id,arm,days,relapsed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortRow {
    pub pseudonym: String,
    pub arm: String,
    pub days: u32,
    pub relapsed: bool,
}

/// A patient left out of the cohort, and why (no names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    pub pseudonym: String,
    pub arm: String,
    pub reason: String,
}

/// A stable pseudonym for the export: not the MRN, not the name.
pub fn pseudonym(patient_id: Uuid) -> String {
    let digest = Sha256::digest(format!("ketaclinic-cohort:{patient_id}").as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("P{hex}")
}

fn decision_of(row: &RelapseDecisionRow) -> Option<Decision> {
    Some(Decision {
        key: EventKey {
            date: NaiveDate::parse_from_str(&row.event_date, "%Y-%m-%d").ok()?,
            kind: EventKind::parse(&row.kind).ok()?,
            substance: match &row.substance {
                Some(s) => Some(Substance::parse(s).ok()?),
                None => None,
            },
        },
        verdict: Verdict::parse(&row.verdict).ok()?,
        note: row.note.clone(),
    })
}

impl<S: Store> Clinic<S> {
    /// The clinic's settings for a protocol (unset when it has none).
    fn relapse_settings(&self, protocol_id: &str) -> ClinicRelapseSettings {
        self.config().relapse.iter().find(|(id, _)| id == protocol_id).map(|(_, s)| s.clone()).unwrap_or_else(ClinicRelapseSettings::unset)
    }

    /// The patient's treatment plan for outcomes: the newest signed one.
    pub(crate) async fn outcome_plan(&self, patient: &Patient) -> Result<Option<PlanRecord>, ServiceError> {
        let mut headers = self.store().list_plans(patient.id).await?;
        headers.retain(|h| h.signed_at.is_some());
        headers.sort_by_key(|h| h.created_at);
        match headers.last() {
            Some(h) => Ok(Some(self.store().get_plan(h.id).await?)),
            None => Ok(None),
        }
    }

    /// The last contact (an attended appointment, a report or a test, up to
    /// today) and where follow-up stands: completed once the plan is ended on or
    /// after the course's last day, dropped out when it ended before with no
    /// contact since.
    fn follow_up_contact(&self, plan: &PlanRecord, facts: &crate::outcomes::OutcomeFacts) -> FollowUpContact {
        let (zone, today) = (facts.zone, facts.today);
        let mut last_contact = plan.header.start_date;
        for b in facts.bookings.iter().filter(|b| b.status == BookingStatus::Attended) {
            last_contact = last_contact.max(b.starts_at.with_timezone(&zone).date_naive());
        }
        if let Some(at) = facts.last_report_at {
            last_contact = last_contact.max(at.with_timezone(&zone).date_naive());
        }
        for t in &facts.tests {
            last_contact = last_contact.max(t.test.collected_on());
        }
        // A plan ended before the course's last day, with no contact from that
        // day on, is a dropout (withdrew, lost); ended later, the course was completed.
        let status = if plan.header.state() == PlanState::Ended {
            let ended_on = plan.header.ended_at.map(|t| t.with_timezone(&zone).date_naive());
            let course_end = self.protocols().get(&plan.header.protocol_id).map(|p| course_dates(plan, p.definition().course_days).course_end);
            match (ended_on, course_end) {
                (Some(ended), Some(end)) if ended < end && last_contact < end => ContactStatus::DroppedOut,
                _ => ContactStatus::Completed,
            }
        } else {
            ContactStatus::InFollowUp
        };
        FollowUpContact { last_contact: last_contact.min(today), status }
    }

    /// Evaluates a patient's plan (no permission check, no audit: callers do both).
    pub(crate) async fn evaluate_relapse(&self, patient: &Patient, plan: &PlanRecord, facts: &crate::outcomes::OutcomeFacts) -> Result<(Result<RelapseOutcome, String>, Vec<RelapseDecisionRow>), ServiceError> {
        let decisions = self.store().patient_relapse_decisions(patient.id).await?.into_iter().filter(|d| d.plan_id == plan.header.id).collect::<Vec<_>>();
        let Some(protocol) = self.protocols().get(&plan.header.protocol_id) else {
            return Ok((Err(format!("protocol {} is not installed", plan.header.protocol_id)), decisions));
        };
        let definition = match relapse_definition(protocol, &self.relapse_settings(&plan.header.protocol_id)) {
            Ok(d) => d,
            Err(e) => return Ok((Err(format!("the clinic's relapse settings contradict the protocol: {}", e.fields.join(", "))), decisions)),
        };
        let course = course_dates(plan, protocol.definition().course_days);
        let (reports, tests) = (&facts.reports, &facts.tests);
        let contact = self.follow_up_contact(plan, facts);
        let windows = self.detection_windows();
        let facts = RelapseFacts {
            patient_substances: &patient.details.substances,
            sex_at_birth: patient.details.sex_at_birth,
            reports,
            tests,
            windows: &windows,
            course: &course,
            contact,
        };
        let outcome = match propose(&definition, &facts) {
            Ok(proposals) => {
                let domain: Vec<Decision> = decisions.iter().filter_map(decision_of).collect();
                let time = time_to_relapse(&proposals, &domain);
                Ok(RelapseOutcome { definition, proposals, time })
            }
            Err(e) => Err(e.to_string()),
        };
        Ok((outcome, decisions))
    }

    /// The relapse section for a plan, from the facts (no permission check, no audit).
    pub(crate) async fn relapse_view(&self, patient: &Patient, plan: &PlanRecord, facts: &crate::outcomes::OutcomeFacts) -> Result<RelapseView, ServiceError> {
        let (outcome, decisions) = self.evaluate_relapse(patient, plan, facts).await?;
        Ok(RelapseView { plan_id: plan.header.id, protocol_id: plan.header.protocol_id.clone(), outcome, decisions })
    }

    /// A clinician confirms or rejects one proposed event, with a note.
    pub async fn decide_relapse(
        &self,
        principal: &Principal,
        patient_id: Uuid,
        key: (&str, &str, Option<&str>),
        verdict: &str,
        note: Option<&str>,
    ) -> Result<RelapseDecisionRow, ServiceError> {
        self.authorize(principal, Permission::OutcomeRecord, "decide on a relapse proposal").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let mut errors = Vec::new();
        let verdict = Verdict::parse(verdict.trim()).map_err(|e| errors.push(e)).ok();
        let note = match clinic_domain::alert::parse_response(note) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.extend(e.0.into_iter().map(|f| FieldError::new("note", f.message)));
                None
            }
        };
        let date = NaiveDate::parse_from_str(key.0.trim(), "%Y-%m-%d").map_err(|_| errors.push(FieldError::new("event_date", format!("must be a date YYYY-MM-DD, got {:?}", key.0)))).ok();
        let kind = EventKind::parse(key.1.trim()).map_err(|e| errors.push(e)).ok();
        let substance = match key.2.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Substance::parse(s).map(Some).map_err(|e| errors.push(e)).unwrap_or(None),
            None => None,
        };
        let (Some(verdict), Some(note), Some(date), Some(kind)) = (verdict, note, date, kind) else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        let Some(plan) = self.outcome_plan(&patient).await? else {
            return Err(ServiceError::Conflict { code: "no_plan", message: "the patient has no signed plan to evaluate relapse against".into() });
        };
        let (outcome, _) = self.evaluate_relapse(&patient, &plan, &self.outcome_facts(&patient).await?).await?;
        let outcome = outcome.map_err(|why| ServiceError::Conflict { code: "needs_clinic_setting", message: why })?;
        let wanted = EventKey { date, kind, substance };
        if !outcome.proposals.events.iter().any(|e| e.key == wanted) {
            return Err(ServiceError::Invalid(FieldErrors::one("event_date", format!("no {} is proposed on {date}: the data may have changed; reload the chart", kind.as_str()))));
        }
        let row = RelapseDecisionRow {
            id: Uuid::now_v7(),
            patient_id,
            plan_id: plan.header.id,
            event_date: date.to_string(),
            kind: kind.as_str().into(),
            substance: substance.map(|s| s.as_str().into()),
            verdict: verdict.as_str().into(),
            note,
            decided_by: principal.user.id,
            decided_at: self.now(),
        };
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            row.decided_at,
            &principal.actor(),
            AuditAction::RelapseDecide,
            AuditTarget::patient(patient_id),
            Outcome::Success,
            Some(json!({ "decision_id": row.id, "event_date": row.event_date, "kind": row.kind, "verdict": row.verdict }).to_string()),
        );
        self.store().add_relapse_decision(&row, &audit).await?;
        Ok(row)
    }

    /// The clinic's time-to-relapse cohort: one row per patient with a signed
    /// plan whose time to relapse is settled (pseudonymous, no names), and
    /// those left out with the reason (settings unset, decisions pending).
    /// An operator's export, audited as such.
    pub async fn cohort(&self, actor: &Actor, protocol: Option<&str>) -> Result<(Vec<CohortRow>, Vec<Excluded>), ServiceError> {
        self.cohort_filtered(actor, &clinic_domain::analytics::Filters { protocol: protocol.map(str::to_string), ..Default::default() }, true).await
    }

    /// The cohort of the patients the filters admit (the dashboard's download
    /// uses the dashboard's filters and, like the dashboard, leaves summaries
    /// only from an earlier day to the background refresh: `whole_day` false).
    pub async fn cohort_filtered(&self, actor: &Actor, filters: &clinic_domain::analytics::Filters, whole_day: bool) -> Result<(Vec<CohortRow>, Vec<Excluded>), ServiceError> {
        let protocol = filters.protocol.as_deref();
        // The same stored summaries the dashboard reads (stale ones recomputed
        // first), so the export reproduces the dashboard's curve.
        let (summaries, _, _) = self.outcome_summaries(self.clinic_today().await?, whole_day).await?;
        let mut rows = Vec::new();
        let mut excluded = Vec::new();
        for s in summaries.iter().filter(|s| filters.admits(s)) {
            let (pseudonym, arm) = (pseudonym(s.patient_id), s.protocol_id.clone());
            match &s.relapse {
                RelapseSummary::Unavailable { reason } => excluded.push(Excluded { pseudonym, arm, reason: reason.clone() }),
                RelapseSummary::Pending { proposals } => excluded.push(Excluded { pseudonym, arm, reason: format!("{proposals} proposed relapse or dropout event(s) await a clinician's decision") }),
                RelapseSummary::Settled { days, relapsed } => rows.push(CohortRow { pseudonym, arm, days: *days, relapsed: *relapsed }),
            }
        }
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            Utc::now(),
            actor,
            AuditAction::CohortExport,
            AuditTarget::none("cohort"),
            Outcome::Success,
            Some(json!({ "protocol": protocol, "substance": filters.substance, "site": filters.site, "from": filters.from, "to": filters.to, "rows": rows.len(), "excluded": excluded.len() }).to_string()),
        );
        self.audit_writer().record(vec![audit]).await?;
        Ok((rows, excluded))
    }
}

/// The course as it happened: infusions given (completed), the protocol's
/// course length and its follow-up contact.
pub(crate) fn course_dates(plan: &PlanRecord, course_days: i64) -> CourseDates {
    let dates = |kind: PlanEventKind, done: bool| plan.events.iter().filter(move |e| e.kind == kind && (!done || e.status == EventStatus::Completed)).map(|e| e.date);
    CourseDates {
        start: plan.header.start_date,
        first_infusion: dates(PlanEventKind::Infusion, true).min(),
        last_infusion: dates(PlanEventKind::Infusion, true).max(),
        inpatient_discharge: dates(PlanEventKind::Inpatient, false).max(),
        course_end: plan.header.start_date + chrono::Duration::days((course_days - 1).max(0)),
        protocol_follow_up: dates(PlanEventKind::FollowUp, false).min(),
    }
}

/// One outcome of the patient's protocol, with the definition that produced it.
#[derive(Debug, Clone)]
pub struct ProtocolMeasure {
    pub name: String,
    pub value: String,
    /// The window, the counting rules and the source, in words.
    pub definition: String,
}

/// The same without the patient's dates: for figures over many patients.
pub(crate) fn described_rule(d: &clinic_domain::outcome::measure::OutcomeDefinition) -> String {
    format!("over {}: {}. Source: {}", d.window.name, d.rules.join("; "), d.source)
}

pub(crate) fn described(d: &clinic_domain::outcome::measure::OutcomeDefinition) -> String {
    format!("{} to {} ({}). {}. Source: {}", d.window.days.first(), d.window.days.last(), d.window.name, d.rules.join("; "), d.source)
}

/// One substance over one of the protocol's windows.
pub(crate) struct WindowResult {
    pub substance: Substance,
    pub abstinence: clinic_domain::outcome::measure::WindowAbstinence,
    pub pda: clinic_domain::outcome::measure::PercentDaysAbstinent,
    /// Alcohol only.
    pub heavy: Option<clinic_domain::outcome::measure::HeavyDrinkingDays>,
}

/// Retention through the course and counseling attendance over it so far.
pub(crate) struct CourseResult {
    pub retention: Option<clinic_domain::outcome::measure::Retention>,
    pub attendance: Option<clinic_domain::outcome::measure::AttendanceRate>,
}

impl<S: Store> Clinic<S> {
    /// The patient's substances the plan's protocol treats.
    pub(crate) fn treated_substances(&self, patient: &Patient, plan: &PlanRecord) -> Vec<Substance> {
        let Some(protocol) = self.protocols().get(&plan.header.protocol_id) else { return Vec::new() };
        patient.details.substances.iter().copied().filter(|s| protocol.definition().substances.iter().any(|p| p == s.as_str())).collect()
    }

    /// Abstinence, PDA and (alcohol) heavy drinking for each treated substance over one window.
    pub(crate) fn window_results(&self, patient: &Patient, plan: &PlanRecord, facts: &crate::outcomes::OutcomeFacts, window: &clinic_domain::outcome::measure::MeasureWindow) -> Vec<WindowResult> {
        use clinic_domain::outcome::measure::{heavy_drinking_days, percent_days_abstinent, window_abstinence, HeavyDrinkingRule};
        self.treated_substances(patient, plan)
            .into_iter()
            .map(|s| {
                let heavy = (s == Substance::Alcohol).then(|| {
                    let rule = if plan.header.protocol_id == "alcohol-met-dakwar2020" { HeavyDrinkingRule::dakwar_2020() } else { HeavyDrinkingRule::niaaa() };
                    heavy_drinking_days(&facts.reports, patient.details.sex_at_birth, &rule, window)
                });
                WindowResult { substance: s, abstinence: window_abstinence(&facts.reports, &facts.tests, s, window), pda: percent_days_abstinent(&facts.reports, s, window), heavy }
            })
            .collect()
    }

    /// Retention through the course and counseling attendance over the course so far.
    pub(crate) async fn course_results(&self, patient: &Patient, plan: &PlanRecord, facts: &crate::outcomes::OutcomeFacts, course: &CourseDates) -> Result<CourseResult, ServiceError> {
        use clinic_domain::outcome::measure::{attendance, retention, MeasureWindow, SessionRecord};
        let retention = match clinic_domain::outcome::DayWindow::new(course.start, course.course_end) {
            Some(days) => {
                let window = MeasureWindow { name: "the course".into(), days, source: "the signed plan".into() };
                let contact = self.follow_up_contact(plan, facts);
                Some(retention(&contact, &window, facts.today))
            }
            None => None,
        };
        let attendance = match clinic_domain::outcome::DayWindow::new(course.start, course.course_end.min(facts.today)) {
            Some(days) => {
                let window = MeasureWindow { name: "the course so far".into(), days, source: "the signed plan".into() };
                // Follow-up contacts are recorded like sessions but are not counseling.
                let follow_ups: Vec<Uuid> = facts.bookings.iter().filter(|b| b.kind == PlanEventKind::FollowUp).map(|b| b.id).collect();
                let sessions: Vec<SessionRecord> = self
                    .store()
                    .patient_counseling(patient.id)
                    .await?
                    .iter()
                    .filter(|r| r.booking_id.is_none_or(|b| !follow_ups.contains(&b)))
                    .map(|r| SessionRecord { date: r.recorded_at.with_timezone(&facts.zone).date_naive(), attendance: clinic_domain::counseling::Attendance::parse(&r.attendance).ok() })
                    .collect();
                Some(attendance(&sessions, &window))
            }
            None => None,
        };
        Ok(CourseResult { retention, attendance })
    }

    /// The outcomes the patient's protocol measures, over its own windows as
    /// the course happened: abstinence in each window, percent days
    /// abstinent, heavy drinking days for alcohol, retention and counseling
    /// attendance over the course; a window not yet reached says so (no
    /// permission check, no audit).
    pub(crate) async fn measures_of(&self, patient: &Patient, plan: &PlanRecord, facts: &crate::outcomes::OutcomeFacts) -> Result<Vec<ProtocolMeasure>, ServiceError> {
        use clinic_domain::outcome::measure::{protocol_window, AbstinenceVerdict, RetentionStatus};
        let Some(protocol) = self.protocols().get(&plan.header.protocol_id) else { return Ok(Vec::new()) };
        let today = facts.today;
        let course = course_dates(plan, protocol.definition().course_days);
        let mut out = Vec::new();
        for w in &protocol.definition().outcomes.windows {
            match protocol_window(w, &course) {
                Err(e) => out.push(ProtocolMeasure { name: w.name.clone(), value: format!("not yet: {e}"), definition: w.source.clone() }),
                Ok(window) if window.days.first() > today => out.push(ProtocolMeasure {
                    name: w.name.clone(),
                    value: format!("from {}: not reached yet", window.days.first()),
                    definition: w.source.clone(),
                }),
                Ok(window) => {
                    let so_far = if window.days.last() > today { format!(" — in progress, to {}", window.days.last()) } else { String::new() };
                    for r in self.window_results(patient, plan, facts, &window) {
                        let (s, a) = (r.substance, &r.abstinence);
                        let verdict = match a.verdict {
                            AbstinenceVerdict::Abstinent if a.biologically_confirmed => "abstinent, confirmed by a negative test".to_string(),
                            AbstinenceVerdict::Abstinent => "abstinent by self-report".to_string(),
                            AbstinenceVerdict::NotAbstinent => format!("not abstinent ({} use days, {} unexplained positive tests)", a.use_days.len(), a.unexplained_positive_tests.len()),
                            AbstinenceVerdict::Undetermined => format!("undetermined ({} unknown or unrecorded days, {} undetermined tests)", a.unknown_days.len(), a.undetermined_tests.len()),
                        };
                        out.push(ProtocolMeasure { name: format!("{} — {}: abstinence{so_far}", w.name, s.as_str()), value: verdict, definition: described(&a.definition) });
                        let pda = &r.pda;
                        out.push(ProtocolMeasure {
                            name: format!("{} — {}: percent days abstinent", w.name, s.as_str()),
                            value: pda.percent.map_or_else(|| "no day assessed".to_string(), |p| format!("{} % ({} of {} days assessed)", p.to_decimal().split('.').next().unwrap_or("0"), pda.abstinent_days, pda.days_assessed)),
                            definition: described(&pda.definition),
                        });
                        if let Some(h) = &r.heavy {
                            out.push(ProtocolMeasure {
                                name: format!("{} — heavy drinking days", w.name),
                                value: format!("{} heavy of {} days assessed (threshold {} drinks)", h.heavy_days.len(), h.days_assessed, h.threshold_drinks.to_decimal()),
                                definition: described(&h.definition),
                            });
                        }
                    }
                }
            }
        }
        let c = self.course_results(patient, plan, facts, &course).await?;
        if let Some(r) = c.retention {
            let value = match r.status {
                RetentionStatus::Retained => format!("retained (last contact {})", r.last_contact),
                RetentionStatus::NotRetained => format!("not retained (last contact {})", r.last_contact),
                RetentionStatus::WindowNotOver => format!("course runs to {}; last contact {}", course.course_end, r.last_contact),
            };
            out.push(ProtocolMeasure { name: "Retention".into(), value, definition: described(&r.definition) });
        }
        if let Some(a) = c.attendance {
            out.push(ProtocolMeasure {
                name: "Counseling attendance".into(),
                value: a.percent.map_or_else(|| "no session recorded".to_string(), |p| format!("{} % ({} of {} expected)", p.to_decimal().split('.').next().unwrap_or("0"), a.attended, a.expected)),
                definition: described(&a.definition),
            });
        }
        Ok(out)
    }
}

/// The cohort as CSV: `patient_id,arm,days,relapsed` (DESIGN.md).
pub fn cohort_csv(rows: &[CohortRow]) -> String {
    let mut out = String::from("patient_id,arm,days,relapsed\n");
    for r in rows {
        out.push_str(&format!("{},{},{},{}\n", r.pseudonym, r.arm, r.days, u8::from(r.relapsed)));
    }
    out
}

/// The cohort as the dashboard offers it: the same rows in the same format,
/// sorted by arm, days and outcome, numbered `row-1`, `row-2`… instead of
/// pseudonyms, so the download carries no more than the curve's own table
/// (analytics show aggregates only) and still runs through `stats survival`.
pub fn unlinked_cohort_csv(rows: &[CohortRow]) -> String {
    let mut sorted: Vec<&CohortRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (&a.arm, a.days, a.relapsed).cmp(&(&b.arm, b.days, b.relapsed)));
    let mut out = String::from("patient_id,arm,days,relapsed\n");
    for (i, r) in sorted.iter().enumerate() {
        out.push_str(&format!("row-{},{},{},{}\n", i + 1, r.arm, r.days, u8::from(r.relapsed)));
    }
    out
}
