//! Outcome data in the chart: staff enter the timeline follow-back a week
//! at a time and test results a specimen at a time; the chart shows each
//! substance's days (unknown days kept apart from days without use), every
//! test with whether it counts (a positive that an infusion, MOUD or a
//! rescue dose explains is expected, with the reason; one whose deciding
//! window the clinic has not set is undetermined), the conflicts between
//! sources, and percent days abstinent with its definition, and the craving
//! instruments' totals over time. The arithmetic is `clinic_domain::outcome`.
//! The patient's daily diary gets a reminder on the consented channel, once
//! a day, from the time the clinic sets.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use clinic_domain::alert::{AlertKind, ClinicalAlert};
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::dose::Exact;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::outcome::DayWindow;
use clinic_domain::outcome::measure::{MeasureWindow, PercentDaysAbstinent, percent_days_abstinent};
use clinic_domain::outcome::tlfb::{DayReport, DiaryInput, MergedDay, ReportSource, TlfbWeekInput, UseAnswer, merge_days, validate_diary, validate_week};
use clinic_domain::outcome::toxicology::{
    Analyte, ClassifiedTest, Conflict, DetectionWindows, Expectation, Explanations, LabTest, MoudCourse, MoudMedication, RescueDose, RescueDrug, TestResult,
    classify_all, conflicts,
};
use clinic_domain::patient::{Patient, Substance};
use clinic_store::Store;
use clinic_store::outcomes::{DiaryReminderRow, DiaryRow, LabTestRow, UseReportRow};
use clinic_store::screening::OutboxMessage;
use serde_json::json;
use uuid::Uuid;

use crate::Clinic;
use crate::auth::Principal;
use crate::error::ServiceError;

/// Days shown on the chart's calendar, ending today.
pub const CALENDAR_DAYS: i64 = 28;

/// One substance on the chart.
#[derive(Debug, Clone)]
pub struct SubstanceOutcome {
    pub substance: Substance,
    /// The last `CALENDAR_DAYS` days, every day present.
    pub days: Vec<MergedDay>,
    /// Over the same days, with its definition.
    pub pda: PercentDaysAbstinent,
}

/// A patient's outcome data as the chart shows it.
#[derive(Debug, Clone)]
pub struct OutcomesView {
    pub today: NaiveDate,
    pub substances: Vec<SubstanceOutcome>,
    /// Every test, newest first.
    pub tests: Vec<ClassifiedTest>,
    pub conflicts: Vec<Conflict>,
    /// The patient's diary entries (craving and note), newest first.
    pub diary: Vec<DiaryRow>,
    /// The days a clinic infusion started (site dates).
    pub infusion_days: Vec<NaiveDate>,
}

fn report_of(row: &UseReportRow) -> Option<DayReport> {
    Some(DayReport {
        date: NaiveDate::parse_from_str(&row.day, "%Y-%m-%d").ok()?,
        substance: Substance::parse(&row.substance).ok()?,
        source: ReportSource::parse(&row.source).ok()?,
        answer: UseAnswer::parse(&row.answer).ok()?,
        amount: row.amount.as_deref().and_then(Exact::parse),
    })
}

/// The newest report of each (day, substance, source): a week entered again replaces the earlier answers.
fn latest(rows: &[UseReportRow]) -> Vec<DayReport> {
    let mut by_key = std::collections::BTreeMap::new();
    for row in rows {
        by_key.insert((row.day.clone(), row.substance.clone(), row.source.clone()), row);
    }
    by_key.values().filter_map(|r| report_of(r)).collect()
}

/// What the outcome views are built from (see `Clinic::outcome_facts`).
#[derive(Debug, Clone)]
pub struct OutcomeFacts {
    pub zone: chrono_tz::Tz,
    /// The site's date today.
    pub today: NaiveDate,
    pub reports: Vec<DayReport>,
    pub tests: Vec<ClassifiedTest>,
    pub conflicts: Vec<Conflict>,
    /// When each clinic infusion started (site time).
    pub infusions_at: Vec<NaiveDateTime>,
    /// The severity of each adverse event recorded at the chair, as entered.
    pub adverse_severities: Vec<String>,
    /// The patient's bookings (attended ones are contacts).
    pub bookings: Vec<clinic_store::schedule::BookingRecord>,
    /// When the newest use report was recorded (a contact).
    pub last_report_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What `explanations_of` reads from the chair's charts and the medication list.
pub(crate) struct ChairFacts {
    pub infusions_at: Vec<NaiveDateTime>,
    pub moud: Vec<MoudCourse>,
    pub rescue: Vec<RescueDose>,
    pub adverse_severities: Vec<String>,
}

/// The chart's Outcomes tab, whole.
#[derive(Debug, Clone)]
pub struct OutcomePage {
    pub view: OutcomesView,
    /// `None` without a signed plan.
    pub relapse: Option<crate::relapse::RelapseView>,
    pub measures: Vec<crate::relapse::ProtocolMeasure>,
    pub misuse: crate::misuse::MisuseView,
    /// The craving instruments the patient has answered, each total over time.
    pub trends: Vec<InstrumentTrend>,
}

/// The craving instruments whose totals the Outcomes tab draws over time
/// (data/instruments/craving.toml, pacs.toml, ccq-brief.toml; clinical.md §3.1).
/// The instrument files carry no tag for this, so the list names them.
pub const CRAVING_INSTRUMENTS: [&str; 3] = ["craving", "pacs", "ccq-brief"];

/// One answered questionnaire on a trend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendPoint {
    /// The site's date it was recorded.
    pub date: NaiveDate,
    pub total: i64,
    pub band: Option<String>,
}

/// One craving instrument's totals over time.
#[derive(Debug, Clone)]
pub struct InstrumentTrend {
    pub instrument: String,
    pub title: String,
    /// A per-substance instrument (the craving rating) has one trend per substance rated.
    pub substance: Option<String>,
    /// Lowest and highest possible total, from the instrument file (from the
    /// answers only when the file gives none or is no longer installed).
    pub range: [i64; 2],
    /// Whether the instrument has bands: none of the craving instruments has
    /// validated cut-offs (clinical.md §3.1), so their answers carry none.
    pub has_bands: bool,
    /// Oldest first.
    pub points: Vec<TrendPoint>,
}

/// One test result as typed: `(analyte, result)`.
#[derive(Debug, Clone, Default)]
pub struct SpecimenInput {
    /// Site-local `YYYY-MM-DDTHH:MM`.
    pub collected_at: Option<String>,
    pub results: Vec<(String, String)>,
}

impl<S: Store> Clinic<S> {
    fn outcome_audit(&self, principal: &Principal, action: AuditAction, patient: Uuid, detail: serde_json::Value) -> AuditEvent {
        AuditEvent::new(Uuid::now_v7(), self.now(), &principal.actor(), action, AuditTarget::patient(patient), Outcome::Success, Some(detail.to_string()))
    }

    async fn patient_today(&self, patient: &Patient) -> Result<NaiveDate, ServiceError> {
        let site = self.site_by_id(patient.site_id).await?;
        Ok(self.now().with_timezone(&Self::site_zone(&site)).date_naive())
    }

    /// Records a week of the timeline follow-back for one substance.
    pub async fn record_tlfb_week(&self, principal: &Principal, patient_id: Uuid, input: &TlfbWeekInput) -> Result<usize, ServiceError> {
        self.authorize(principal, Permission::OutcomeRecord, "enter the timeline follow-back").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let today = self.patient_today(&patient).await?;
        let days = validate_week(input, &patient.details.substances, today)?;
        let now = self.now();
        let rows: Vec<UseReportRow> = days
            .iter()
            .map(|d| UseReportRow {
                id: Uuid::now_v7(),
                patient_id,
                day: d.date.to_string(),
                substance: d.substance.as_str().into(),
                source: d.source.as_str().into(),
                answer: d.answer.as_str().into(),
                amount: d.amount.map(|a| a.to_decimal()),
                recorded_by: Some(principal.user.id),
                recorded_at: now,
            })
            .collect();
        let audit = self.outcome_audit(principal, AuditAction::OutcomeRecord, patient_id, json!({ "tlfb_week": input.week_start, "substance": input.substance, "days": rows.len() }));
        self.store().add_use_reports(&rows, &audit).await?;
        Ok(rows.len())
    }

    /// Records the results of one specimen (or breath test).
    pub async fn record_specimen(&self, principal: &Principal, patient_id: Uuid, input: &SpecimenInput) -> Result<usize, ServiceError> {
        self.authorize(principal, Permission::OutcomeRecord, "enter test results").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let today = self.patient_today(&patient).await?;
        let mut errors = Vec::new();
        let collected = match input.collected_at.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => {
                errors.push(FieldError::new("collected_at", "is required: the site's date and time, YYYY-MM-DDTHH:MM"));
                None
            }
            Some(t) => match NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M").or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S")) {
                Ok(at) if at.date() <= today => Some(at),
                Ok(at) => {
                    errors.push(FieldError::new("collected_at", format!("{at} is after today ({today})")));
                    None
                }
                Err(_) => {
                    errors.push(FieldError::new("collected_at", format!("must be YYYY-MM-DDTHH:MM, got {t:?}")));
                    None
                }
            },
        };
        let mut results = Vec::new();
        for (i, (analyte, result)) in input.results.iter().enumerate() {
            let at = |f: &str| format!("results[{}].{f}", i + 1);
            let a = Analyte::parse(analyte.trim()).map_err(|e| errors.push(FieldError::new(at("analyte"), e.message))).ok();
            let r = TestResult::parse(result.trim()).map_err(|e| errors.push(FieldError::new(at("result"), e.message))).ok();
            if let (Some(a), Some(r)) = (a, r) {
                if results.iter().any(|(x, _)| *x == a) {
                    errors.push(FieldError::new(at("analyte"), format!("{} is given twice", a.as_str())));
                }
                results.push((a, r));
            }
        }
        if input.results.is_empty() {
            errors.push(FieldError::new("results", format!("at least one analyte: {}", Analyte::allowed_list())));
        }
        let Some(collected) = collected.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        let now = self.now();
        let rows: Vec<LabTestRow> = results
            .iter()
            .map(|(a, r)| LabTestRow {
                id: Uuid::now_v7(),
                patient_id,
                collected_at: collected.format("%Y-%m-%dT%H:%M:%S").to_string(),
                analyte: a.as_str().into(),
                result: r.as_str().into(),
                recorded_by: principal.user.id,
                recorded_at: now,
            })
            .collect();
        // A ketamine positive that nothing explains (or only an unset window could) raises a misuse alert at once.
        let site = self.site_by_id(patient.site_id).await?;
        let zone = Self::site_zone(&site);
        let chair = self.explanations_of(&patient, zone).await?;
        let explanations = Explanations { infusions_at: &chair.infusions_at, moud: &chair.moud, prescriptions: &[], rescue_doses: &chair.rescue };
        let new_tests: Vec<LabTest> = rows.iter().zip(&results).map(|(r, (a, res))| LabTest { id: r.id, collected_at: collected, analyte: *a, result: *res }).collect();
        let classified = classify_all(&new_tests, &explanations, &self.detection_windows());
        let flagged: Vec<&ClassifiedTest> = classified
            .iter()
            .filter(|t| t.test.analyte.is_ketamine() && matches!(t.expectation, Expectation::Unexplained | Expectation::Undetermined(_)))
            .collect();
        let mut audit = vec![self.outcome_audit(principal, AuditAction::OutcomeRecord, patient_id, json!({ "specimen": rows.first().map(|r| r.collected_at.clone()), "results": rows.len() }))];
        let alerts: Vec<ClinicalAlert> = flagged
            .first()
            .map(|t| {
                let how = if t.is_unexplained_positive() { "that no clinic infusion explains" } else { "that only an unset detection window could explain" };
                self.misuse_alert(&patient, format!("{} positive on {} {how}.", t.test.analyte.as_str(), t.test.collected_on()), t.test.id)
            })
            .into_iter()
            .collect();
        audit.extend(alerts.iter().map(|a| self.outcome_audit(principal, AuditAction::AlertRaise, patient_id, json!({ "alert_id": a.id, "kind": a.kind.as_str(), "routed_to": a.routed_to }))));
        self.store().add_lab_tests(&rows, &alerts, &audit).await?;
        Ok(rows.len())
    }

    /// A ketamine-misuse alert for the physicians (shown on the alerts page until closed with the response taken).
    pub(crate) fn misuse_alert(&self, patient: &Patient, what: String, source: Uuid) -> ClinicalAlert {
        ClinicalAlert {
            id: Uuid::now_v7(),
            patient_id: patient.id,
            kind: AlertKind::KetamineMisuse,
            message: format!("Ketamine-misuse watch, {} {}: {what}", patient.details.given_name, patient.details.family_name),
            source_id: Some(source),
            routed_to: "the physicians (alerts page)".into(),
            raised_at: self.now(),
            closed_at: None,
            closed_by: None,
            response: None,
            version: 1,
        }
    }

    /// The clinic's detection windows (all unset until the clinic sets them:
    /// the reference gives ranges, not values).
    pub fn detection_windows(&self) -> DetectionWindows {
        self.config().detection_windows.clone()
    }

    /// What the chair's charts and the medication list say about a patient,
    /// read once: when each infusion started (one pump start per session) and
    /// midazolam given (both explain positives), MOUD on the medication list,
    /// and the severity of each adverse event recorded.
    pub(crate) async fn explanations_of(&self, patient: &Patient, zone: chrono_tz::Tz) -> Result<ChairFacts, ServiceError> {
        let mut infusions_at = Vec::new();
        let mut rescue = Vec::new();
        let mut adverse_severities = Vec::new();
        for s in self.store().patient_sessions(patient.id).await? {
            for e in self.store().session_entries(s.id).await? {
                let local = e.at.with_timezone(&zone).naive_local();
                if e.kind == "pump" && e.body.contains("\"start\"") {
                    infusions_at.push(local);
                }
                if e.kind == "medication" && e.body.to_ascii_lowercase().contains("midazolam") {
                    rescue.push(RescueDose { drug: RescueDrug::Midazolam, given_at: local });
                }
                if e.kind == "adverse_event" {
                    let body: serde_json::Value = serde_json::from_str(&e.body).unwrap_or_default();
                    adverse_severities.push(body["severity"].as_str().unwrap_or("").to_string());
                }
            }
        }
        // The medication list gives no start date: MOUD on it explains its analyte on any day,
        // so a patient's own MOUD never counts as use (clinical.md §11.4, §11.5).
        let moud: Vec<MoudCourse> = patient
            .details
            .medications
            .iter()
            // Naltrexone shows on no screen: only buprenorphine and methadone parse.
            .filter_map(|m| MoudMedication::parse(clinic_domain::chart::moud_generic(&m.name)?).ok())
            .map(|medication| MoudCourse { medication, from: NaiveDate::MIN, to: None })
            .collect();
        Ok(ChairFacts { infusions_at, moud, rescue, adverse_severities })
    }

    /// Everything the outcome views read about one patient, loaded once: the
    /// use reports (the newest answer of each day), tests classified against
    /// what can explain them, the conflicts, and the infusions given.
    pub(crate) async fn outcome_facts(&self, patient: &Patient) -> Result<OutcomeFacts, ServiceError> {
        let zone = Self::site_zone(&self.site_by_id(patient.site_id).await?);
        let today = self.now().with_timezone(&zone).date_naive();
        let report_rows = self.store().patient_use_reports(patient.id).await?;
        let last_report_at = report_rows.iter().map(|r| r.recorded_at).max();
        let reports = latest(&report_rows);
        let bookings = self.store().patient_bookings(patient.id).await?;
        let tests: Vec<LabTest> = self
            .store()
            .patient_lab_tests(patient.id)
            .await?
            .iter()
            .filter_map(|r| {
                Some(LabTest {
                    id: r.id,
                    collected_at: NaiveDateTime::parse_from_str(&r.collected_at, "%Y-%m-%dT%H:%M:%S").ok()?,
                    analyte: Analyte::parse(&r.analyte).ok()?,
                    result: TestResult::parse(&r.result).ok()?,
                })
            })
            .collect();
        let chair = self.explanations_of(patient, zone).await?;
        let explanations = Explanations { infusions_at: &chair.infusions_at, moud: &chair.moud, prescriptions: &[], rescue_doses: &chair.rescue };
        let windows = self.detection_windows();
        let tests = classify_all(&tests, &explanations, &windows);
        let conflicts = conflicts(&reports, &tests, &windows);
        Ok(OutcomeFacts { zone, today, reports, tests, conflicts, infusions_at: chair.infusions_at, adverse_severities: chair.adverse_severities, bookings, last_report_at })
    }

    /// The chart's view of the facts (no permission check, no audit).
    pub(crate) async fn outcomes_view(&self, patient: &Patient, facts: &OutcomeFacts) -> Result<OutcomesView, ServiceError> {
        let today = facts.today;
        let mut classified = facts.tests.clone();
        classified.sort_by_key(|t| std::cmp::Reverse(t.test.collected_at));
        let window = DayWindow::new(today - Duration::days(CALENDAR_DAYS - 1), today).ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("empty calendar window")))?;
        let measure_window = MeasureWindow { name: format!("the last {CALENDAR_DAYS} days"), days: window, source: "the chart's calendar".into() };
        let substances = patient
            .details
            .substances
            .iter()
            .map(|s| SubstanceOutcome { substance: *s, days: merge_days(&facts.reports, *s, window), pda: percent_days_abstinent(&facts.reports, *s, &measure_window) })
            .collect();
        let mut diary = self.store().patient_diary(patient.id).await?;
        diary.reverse();
        let mut infusion_days: Vec<NaiveDate> = facts.infusions_at.iter().map(|t| t.date()).collect();
        infusion_days.dedup();
        Ok(OutcomesView { today, substances, tests: classified, conflicts: facts.conflicts.clone(), diary, infusion_days })
    }

    /// Everything the chart's Outcomes tab shows, from one load of the facts
    /// (audited once as an outcome read).
    pub async fn patient_outcome_page(&self, principal: &Principal, patient_id: Uuid) -> Result<OutcomePage, ServiceError> {
        self.authorize(principal, Permission::OutcomeRead, "read outcome data").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let facts = self.outcome_facts(&patient).await?;
        let view = self.outcomes_view(&patient, &facts).await?;
        let plan = self.outcome_plan(&patient).await?;
        let relapse = match &plan {
            Some(plan) => Some(self.relapse_view(&patient, plan, &facts).await?),
            None => None,
        };
        let measures = match &plan {
            Some(plan) => self.measures_of(&patient, plan, &facts).await?,
            None => Vec::new(),
        };
        let misuse = self.misuse_of(&patient, &facts).await?;
        let trends = self.instrument_trends(&patient, facts.zone).await?;
        let answered: usize = trends.iter().map(|t| t.points.len()).sum();
        let audit = self.outcome_audit(
            principal,
            AuditAction::OutcomeRead,
            patient_id,
            json!({ "reports": facts.reports.len(), "tests": view.tests.len(), "diary": view.diary.len(), "misuse_flags": misuse.flags.len(), "relapse": relapse.as_ref().map(|r| r.plan_id), "craving_questionnaires": answered }),
        );
        self.audit_writer().record(vec![audit]).await?;
        Ok(OutcomePage { view, relapse, measures, misuse, trends })
    }

    /// Stores a checked diary entry as the patient's own (the portal's path,
    /// for the demo seed, which has no portal session).
    pub(crate) async fn seed_diary_entry(&self, patient: &Patient, entry: &clinic_domain::outcome::tlfb::DiaryEntry) -> Result<(), ServiceError> {
        self.store_diary_entry(patient, entry).await.map(|_| ())
    }

    async fn store_diary_entry(&self, patient: &Patient, entry: &clinic_domain::outcome::tlfb::DiaryEntry) -> Result<DiaryRow, ServiceError> {
        let now = self.now();
        let report = UseReportRow {
            id: Uuid::now_v7(),
            patient_id: patient.id,
            day: entry.report.date.to_string(),
            substance: entry.report.substance.as_str().into(),
            source: entry.report.source.as_str().into(),
            answer: entry.report.answer.as_str().into(),
            amount: entry.report.amount.map(|a| a.to_decimal()),
            recorded_by: None,
            recorded_at: now,
        };
        let diary = DiaryRow {
            id: Uuid::now_v7(),
            patient_id: patient.id,
            use_report_id: report.id,
            day: report.day.clone(),
            substance: report.substance.clone(),
            craving: entry.craving_0_to_10.map(i64::from),
            note: entry.note.clone(),
            recorded_at: now,
        };
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &crate::screening::portal_actor(patient, None),
            AuditAction::OutcomeRecord,
            AuditTarget::patient(patient.id),
            Outcome::Success,
            Some(json!({ "diary": diary.day, "substance": diary.substance }).to_string()),
        );
        self.store().add_diary_entry(&report, &diary, &audit).await?;
        Ok(diary)
    }

    /// The patient's own diary entry from the portal (a sign-in link only): the
    /// use answer joins the other sources; the craving and the note are kept beside it.
    pub async fn portal_diary(&self, view: &crate::screening::PortalView, input: &DiaryInput) -> Result<DiaryRow, ServiceError> {
        if view.link.purpose != clinic_domain::portal::LinkPurpose::Signin {
            return Err(ServiceError::Conflict { code: "wrong_link", message: "this link opens a questionnaire only".into() });
        }
        let patient = &view.patient;
        let today = self.patient_today(patient).await?;
        let entry = validate_diary(input, &patient.details.substances, today)?;
        self.store_diary_entry(patient, &entry).await
    }

    /// The patient's own progress for the portal, in counts: per substance,
    /// the days without use, with use and not known over the last four weeks
    /// (audited as the patient's read).
    pub async fn portal_progress(&self, view: &crate::screening::PortalView) -> Result<Vec<(Substance, usize, usize, usize)>, ServiceError> {
        let patient = &view.patient;
        let zone = Self::site_zone(&self.site_by_id(patient.site_id).await?);
        let today = self.now().with_timezone(&zone).date_naive();
        let reports = latest(&self.store().patient_use_reports(patient.id).await?);
        let window = DayWindow::new(today - Duration::days(CALENDAR_DAYS - 1), today).ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("empty calendar window")))?;
        let out: Vec<(Substance, usize, usize, usize)> = patient
            .details
            .substances
            .iter()
            .map(|s| {
                let days = merge_days(&reports, *s, window);
                let count = |st: clinic_domain::outcome::tlfb::DayStatus| days.iter().filter(|d| d.status == st).count();
                use clinic_domain::outcome::tlfb::DayStatus;
                (*s, count(DayStatus::NoUse), count(DayStatus::Use), count(DayStatus::Unknown))
            })
            .collect();
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &crate::screening::portal_actor(patient, None),
            AuditAction::PortalRead,
            AuditTarget::patient(patient.id),
            Outcome::Success,
            Some(json!({ "view": "progress" }).to_string()),
        );
        self.audit_writer().record(vec![audit]).await?;
        Ok(out)
    }
}

impl<S: Store> Clinic<S> {
    /// The craving instruments the patient has answered (`CRAVING_INSTRUMENTS`),
    /// each total by the site's date it was recorded, oldest first; no
    /// permission check and no audit (the Outcomes tab's read covers it).
    pub(crate) async fn instrument_trends(&self, patient: &Patient, zone: chrono_tz::Tz) -> Result<Vec<InstrumentTrend>, ServiceError> {
        let mut trends: Vec<InstrumentTrend> = Vec::new();
        for record in self.store().list_questionnaires(patient.id).await? {
            if !CRAVING_INSTRUMENTS.contains(&record.instrument_id.as_str()) {
                continue;
            }
            let Some(total) = record.total else { continue };
            let substance = serde_json::from_str::<serde_json::Value>(&record.result_json)
                .ok()
                .and_then(|v| v.get("substance").and_then(serde_json::Value::as_str).map(str::to_string));
            let point = TrendPoint { date: record.created_at.with_timezone(&zone).date_naive(), total, band: record.band.clone() };
            if let Some(trend) = trends.iter_mut().find(|t| t.instrument == record.instrument_id && t.substance == substance) {
                trend.points.push(point);
                continue;
            }
            let definition = self.instruments().get(&record.instrument_id).map(|l| l.instrument.definition());
            trends.push(InstrumentTrend {
                instrument: record.instrument_id.clone(),
                title: definition.map_or_else(|| record.instrument_id.clone(), |d| d.title.clone()),
                substance,
                range: definition.and_then(|d| d.scoring.range).unwrap_or([total, total]),
                has_bands: definition.is_some_and(|d| !d.bands.is_empty()),
                points: vec![point],
            });
        }
        for trend in &mut trends {
            // A range the file does not give spans the answers.
            for p in &trend.points {
                trend.range = [trend.range[0].min(p.total), trend.range[1].max(p.total)];
            }
            trend.points.sort_by_key(|p| p.date);
        }
        let rank = |id: &str| CRAVING_INSTRUMENTS.iter().position(|c| *c == id).unwrap_or(CRAVING_INSTRUMENTS.len());
        trends.sort_by(|a, b| rank(&a.instrument).cmp(&rank(&b.instrument)).then_with(|| a.substance.cmp(&b.substance)));
        Ok(trends)
    }
}

/// The clinic's daily diary reminder. The reference gives no time of day for
/// it, so it ships unset ("needs clinic setting", `[diary] reminder_time`):
/// until the clinic sets one, no reminder is sent and the server says so.
#[derive(Debug, Clone, Default)]
pub struct DiarySettings {
    /// The site-local time from which each day's reminder goes out.
    pub reminder_time: Option<NaiveTime>,
}

/// The diary reminder, in neutral words like the appointment reminder
/// (`scheduling::reminder_text`): the clinic's name and the portal — never
/// the treatment, a drug, a substance or a craving.
pub fn diary_reminder_text(clinic_name: &str, given_name: &str) -> String {
    format!(
        "Hello {given_name}, a reminder from {clinic_name}: yesterday's page of your diary on the patient portal is still empty. \
         If you have no link to the portal, call the clinic."
    )
}

impl<S: Store> Clinic<S> {
    /// Queues the day's diary reminder, from the clinic's reminder time on,
    /// for every patient in treatment (a signed plan that has not ended) with
    /// no diary entry for the day before, on the patient's consented text
    /// channel (none is sent without one; the audit says so). Once per
    /// patient and site-local day, kept in the database, so safe to run
    /// often. Does nothing while the clinic has not set the time. Returns how
    /// many were handled.
    pub async fn queue_diary_reminders(&self, now: DateTime<Utc>) -> Result<u64, ServiceError> {
        let Some(at) = self.config().diary.reminder_time else {
            return Ok(0);
        };
        let actor = clinic_domain::audit::Actor::system_reminders();
        let mut handled = 0;
        for site in self.store().list_sites().await? {
            let local = now.with_timezone(&Self::site_zone(&site));
            if local.time() < at {
                continue;
            }
            let today = local.date_naive();
            let Some(yesterday) = today.pred_opt() else {
                continue;
            };
            let due = self.store().patients_due_diary_reminder(site.id, &today.to_string(), &yesterday.to_string()).await?;
            let mut reminders = Vec::with_capacity(due.len());
            for patient_id in due {
                let patient = self.store().get_patient(patient_id).await?;
                let message = clinic_domain::portal::link_channel(&patient.details).map(|(channel, address)| OutboxMessage {
                    id: Uuid::now_v7(),
                    patient_id: Some(patient.id),
                    channel,
                    address,
                    body: diary_reminder_text(&site.name, &patient.details.given_name),
                    created_at: now,
                    sent_at: None,
                });
                let detail = json!({ "local_date": today.to_string(), "channel": message.as_ref().map(|m| m.channel.as_str()), "sent": message.is_some() });
                let audit = AuditEvent::new(Uuid::now_v7(), now, &actor, AuditAction::DiaryReminderQueue, AuditTarget::patient(patient.id), Outcome::Success, Some(detail.to_string()));
                let row = DiaryReminderRow { patient_id, local_date: today.to_string(), outbox_id: message.as_ref().map(|m| m.id), queued_at: now };
                reminders.push((row, message, audit));
            }
            if !reminders.is_empty() {
                handled += self.store().queue_diary_reminders(&reminders).await?;
            }
        }
        Ok(handled)
    }
}

/// Runs the diary reminders every `interval` until the process ends; while
/// the clinic has not set `[diary] reminder_time` it logs that they are off
/// and runs nothing.
pub fn spawn_diary_reminders<S: Store>(clinic: Clinic<S>, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
    let Some(at) = clinic.config().diary.reminder_time else {
        tracing::warn!("daily diary reminders are off: [diary] reminder_time is not set (needs clinic setting)");
        return tokio::spawn(async {});
    };
    tracing::info!(reminder_time = %at.format("%H:%M"), "daily diary reminders go out from this site-local time");
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = clinic.queue_diary_reminders(clinic.now()).await {
                tracing::warn!(error = %err, "queueing diary reminders failed; will retry");
            }
        }
    })
}
