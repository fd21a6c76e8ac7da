//! The chair-side chart: a nurse opens the session for a booked infusion by
//! checking two patient identifiers, completes the pre-infusion checklist,
//! runs the pump (start only with a complete checklist and a verified order),
//! enters vital-sign sets (every alert rule is evaluated on each, shown at
//! once, and closed only with the response taken), and discharges the patient
//! when every criterion is met — or a physician records why not. Everything
//! is an append-only chart entry committed with its audit event.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::dose::Exact;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::infusion::{
    self, Aldrete, AlertThresholds, DischargeAssessment, MonitoringSchedule, PumpAction, PumpEvent,
    VitalInput, VitalSet,
};
use clinic_domain::patient::SexAtBirth;
use clinic_domain::plan::EventStatus;
use clinic_domain::protocol::EventKind;
use clinic_domain::schedule::BookingStatus;
use clinic_store::Store;
use clinic_store::error::StoreError;
use clinic_store::sessions::{InfusionSessionRecord, SessionEntryChange, SessionEntryRecord};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Clinic;
use crate::auth::Principal;
use crate::error::ServiceError;

/// The clinic's chart settings (shipped values from clinical.md, see `clinic_domain::infusion`).
#[derive(Debug, Clone, Copy)]
pub struct InfusionSettings {
    pub thresholds: AlertThresholds,
    pub monitoring: MonitoringSchedule,
    pub aldrete_minimum: u8,
    /// Hours since the last drink before an alcohol-protocol infusion (Dakwar 2020, KARE: 24 h, clinical.md §2.3).
    pub hours_since_last_drink: i64,
}

impl Default for InfusionSettings {
    fn default() -> InfusionSettings {
        InfusionSettings {
            thresholds: AlertThresholds::shipped(),
            monitoring: MonitoringSchedule::shipped(),
            aldrete_minimum: infusion::DEFAULT_ALDRETE_MINIMUM,
            hours_since_last_drink: 24,
        }
    }
}

/// A session's chart, folded from its entries.
#[derive(Debug, Clone)]
pub struct Chart {
    pub session: InfusionSessionRecord,
    pub entries: Vec<SessionEntryRecord>,
    pub checklist_complete: bool,
    pub checklist_unmet: Vec<String>,
    pub pump: Vec<PumpEvent>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub last_vitals: Option<(DateTime<Utc>, VitalSet)>,
    /// Alerts raised and not yet closed with a response: (alert id, message, advice, raised at).
    pub open_alerts: Vec<(String, String, String, DateTime<Utc>)>,
    pub next_vitals_due: Option<DateTime<Utc>>,
    /// mL the pump delivered and the mg that is at the order's concentration.
    pub delivered: Option<(Exact, Exact)>,
    pub escort_name: Option<String>,
    /// When the emergency button was pressed, if it was.
    pub emergency_at: Option<DateTime<Utc>>,
}

impl Chart {
    /// pre-check, infusing, recovery, ready for discharge, discharged, closed.
    pub fn phase(&self) -> &'static str {
        match self.session.status.as_str() {
            _ if self.emergency_at.is_some()
                && !matches!(self.session.status.as_str(), "discharged" | "closed") =>
            {
                "EMERGENCY"
            }
            "pre_check" => "pre-check",
            "infusing" => "infusing",
            "recovery" if self.open_alerts.is_empty() => "recovery",
            "recovery" => "recovery (open alert)",
            "discharged" => "discharged",
            _ => "closed",
        }
    }
}

fn body(entry: &SessionEntryRecord) -> Value {
    serde_json::from_str(&entry.body).unwrap_or(Value::Null)
}

fn vital_set_of(v: &Value) -> Option<VitalSet> {
    let n = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|x| u32::try_from(x).ok())
    };
    Some(VitalSet {
        systolic_mmhg: n("systolic_mmhg")?,
        diastolic_mmhg: n("diastolic_mmhg")?,
        heart_rate_bpm: n("heart_rate_bpm")?,
        respiratory_rate_per_min: n("respiratory_rate_per_min")?,
        spo2_percent: n("spo2_percent")?,
        rass: v
            .get("rass")
            .and_then(Value::as_i64)
            .and_then(|x| i32::try_from(x).ok())?,
    })
}

/// The checklist as typed at the chair.
#[derive(Debug, Clone, Default)]
pub struct ChecklistInput {
    pub fasting_confirmed: bool,
    pub escort_name: Option<String>,
    pub escort_present: bool,
    /// Breath alcohol as read, e.g. "0.000".
    pub breath_alcohol: Option<String>,
    /// Hours since the last drink, as the patient reports.
    pub hours_since_last_drink: Option<String>,
    /// negative, positive, not_applicable.
    pub pregnancy_test: Option<String>,
    pub baseline: VitalInput,
}

impl<S: Store> Clinic<S> {
    /// Writes one chart change at `expected_version` and returns the chart as it now stands.
    async fn commit_chart(
        &self,
        session_id: Uuid,
        expected_version: i64,
        change: SessionEntryChange<'_>,
    ) -> Result<Chart, ServiceError> {
        let updated = self
            .store()
            .append_session(session_id, expected_version, change)
            .await
            .map_err(|e| ServiceError::from_store("infusion session", e))?;
        self.fold_chart(updated).await
    }

    fn chart_audit(
        &self,
        principal: &Principal,
        action: AuditAction,
        patient_id: Uuid,
        detail: Value,
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

    fn entry(&self, principal: &Principal, kind: &str, body: Value) -> SessionEntryRecord {
        SessionEntryRecord {
            id: Uuid::now_v7(),
            session_id: Uuid::nil(),
            seq: 0,
            kind: kind.into(),
            at: self.now(),
            recorded_by: principal.user.id,
            body: body.to_string(),
        }
    }

    /// Folds a session's entries into its chart.
    pub async fn fold_chart(&self, session: InfusionSessionRecord) -> Result<Chart, ServiceError> {
        let entries = self.store().session_entries(session.id).await?;
        let mut chart = Chart {
            checklist_complete: false,
            checklist_unmet: vec!["the pre-infusion checklist is not done".into()],
            pump: Vec::new(),
            started_at: None,
            stopped_at: None,
            last_vitals: None,
            open_alerts: Vec::new(),
            next_vitals_due: None,
            delivered: None,
            escort_name: None,
            emergency_at: None,
            session,
            entries: Vec::new(),
        };
        let mut alerts: BTreeMap<String, (String, String, DateTime<Utc>)> = BTreeMap::new();
        for e in &entries {
            let b = body(e);
            match e.kind.as_str() {
                "checklist" => {
                    chart.checklist_unmet = b["unmet"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    chart.checklist_complete = chart.checklist_unmet.is_empty();
                    chart.escort_name = b["escort_name"].as_str().map(str::to_string);
                }
                "pump" => {
                    let action = b["action"].as_str().and_then(|a| PumpAction::parse(a).ok());
                    if let Some(action) = action {
                        let rate = b["rate_ml_per_h"].as_str().and_then(Exact::parse);
                        chart.pump.push(PumpEvent {
                            action,
                            at: e.at,
                            rate_ml_per_h: rate,
                        });
                        match action {
                            PumpAction::Start => chart.started_at = Some(e.at),
                            PumpAction::Stop => chart.stopped_at = Some(e.at),
                            _ => {}
                        }
                    }
                }
                "vitals" => {
                    if let Some(set) = vital_set_of(&b["set"]) {
                        chart.last_vitals = Some((e.at, set));
                    }
                    for a in b["alerts"].as_array().into_iter().flatten() {
                        if let Some(id) = a["id"].as_str() {
                            alerts.insert(
                                id.to_string(),
                                (
                                    a["message"].as_str().unwrap_or("").to_string(),
                                    a["advice"].as_str().unwrap_or("").to_string(),
                                    e.at,
                                ),
                            );
                        }
                    }
                }
                "emergency" => chart.emergency_at = chart.emergency_at.or(Some(e.at)),
                "alert_response" => {
                    if let Some(id) = b["alert_id"].as_str() {
                        alerts.remove(id);
                    }
                }
                _ => {}
            }
        }
        chart.open_alerts = alerts
            .into_iter()
            .map(|(id, (m, a, at))| (id, m, a, at))
            .collect();
        let settings = self.config().infusion;
        let last_set_after_start = chart.last_vitals.map(|(at, _)| at);
        chart.next_vitals_due = if matches!(chart.session.status.as_str(), "infusing" | "recovery")
        {
            infusion::next_vitals_due(
                &settings.monitoring,
                chart.started_at,
                chart.stopped_at,
                last_set_after_start,
            )
        } else {
            None
        };
        if let Some(order) = self.session_order(&chart.session).await? {
            if !chart.pump.is_empty() {
                let conc = self
                    .order_calc(&order)
                    .ok()
                    .map(|c| c.total.final_mg_per_ml);
                let ml = infusion::delivered_ml(
                    &chart.pump,
                    chart.stopped_at.unwrap_or_else(|| self.now()),
                );
                chart.delivered = conc.map(|c| (ml, ml.times(c)));
            }
        }
        chart.entries = entries;
        Ok(chart)
    }

    /// The order an infusion session runs on: the one linked at check-in,
    /// else the live order signed for the planned infusion since.
    pub(crate) async fn session_order(
        &self,
        session: &InfusionSessionRecord,
    ) -> Result<Option<clinic_store::orders::OrderRecord>, ServiceError> {
        Ok(match (session.order_id, session.plan_event_id) {
            (Some(id), _) => self.store().get_order(id).await.ok(),
            (None, Some(event)) => self
                .store()
                .patient_orders(session.patient_id)
                .await?
                .into_iter()
                .find(|o| o.plan_event_id == event && o.status != clinic_domain::order::OrderStatus::Cancelled),
            (None, None) => None,
        })
    }

    /// A session's chart (audited as a read of the patient's chart).
    pub async fn get_chart(
        &self,
        principal: &Principal,
        session_id: Uuid,
    ) -> Result<Chart, ServiceError> {
        self.authorize(
            principal,
            Permission::InfusionChart,
            "read an infusion chart",
        )
        .await?;
        let session = self
            .store()
            .get_infusion_session(session_id)
            .await
            .map_err(|e| ServiceError::from_store("infusion session", e))?;
        let audit = self.chart_audit(
            principal,
            AuditAction::SessionRead,
            session.patient_id,
            json!({ "session_id": session_id }),
        );
        self.audit_writer().record(vec![audit]).await?;
        self.fold_chart(session).await
    }

    /// Opens the chart for a booked infusion, after checking two identifiers
    /// (full name and date of birth) against the record.
    pub async fn open_session(
        &self,
        principal: &Principal,
        booking_id: Uuid,
        full_name: &str,
        date_of_birth: &str,
    ) -> Result<InfusionSessionRecord, ServiceError> {
        self.authorize(
            principal,
            Permission::InfusionChart,
            "open an infusion session",
        )
        .await?;
        let booking = self
            .store()
            .get_booking(booking_id)
            .await
            .map_err(|e| ServiceError::from_store("booking", e))?;
        if booking.kind != EventKind::Infusion || booking.status != BookingStatus::Booked {
            return Err(ServiceError::Conflict {
                code: "not_bookable",
                message: "only a booked infusion opens a session".into(),
            });
        }
        // Not before the booking's day at its site: next week's booking is never opened by mistake.
        let zone = Self::site_zone(&self.site_by_id(booking.site_id).await?);
        let booked_on = booking.starts_at.with_timezone(&zone).date_naive();
        let today = self.now().with_timezone(&zone).date_naive();
        if booked_on > today {
            return Err(ServiceError::Conflict {
                code: "not_today",
                message: format!("this infusion is booked for {booked_on}; check-in opens on that day"),
            });
        }
        let patient = self
            .store()
            .get_patient(booking.patient_id)
            .await
            .map_err(|e| ServiceError::from_store("patient", e))?;
        let normal = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let mut errors = Vec::new();
        if normal(full_name)
            != normal(&format!(
                "{} {}",
                patient.details.given_name, patient.details.family_name
            ))
        {
            errors.push(FieldError::new(
                "full_name",
                "does not match the chart: ask the patient to state their full name",
            ));
        }
        match NaiveDate::parse_from_str(date_of_birth.trim(), "%Y-%m-%d") {
            Ok(d) if d == patient.details.date_of_birth => {}
            Ok(_) => errors.push(FieldError::new("date_of_birth", "does not match the chart")),
            Err(_) => errors.push(FieldError::new("date_of_birth", "a date as YYYY-MM-DD")),
        }
        if !errors.is_empty() {
            let audit = AuditEvent::new(
                Uuid::now_v7(),
                self.now(),
                &principal.actor(),
                AuditAction::SessionOpen,
                AuditTarget::patient(patient.id),
                Outcome::Denied,
                Some(json!({ "booking_id": booking_id, "identifiers": "mismatch" }).to_string()),
            );
            self.audit_writer().record(vec![audit]).await?;
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        let order = match booking.plan_event_id {
            Some(event) => self
                .store()
                .patient_orders(patient.id)
                .await?
                .into_iter()
                .find(|o| {
                    o.plan_event_id == event
                        && o.status != clinic_domain::order::OrderStatus::Cancelled
                }),
            None => None,
        };
        let session = InfusionSessionRecord {
            id: Uuid::now_v7(),
            patient_id: patient.id,
            site_id: booking.site_id,
            booking_id: Some(booking.id),
            plan_event_id: booking.plan_event_id,
            order_id: order.map(|o| o.id),
            resource_id: booking.resource_id,
            status: "pre_check".into(),
            opened_by: principal.user.id,
            opened_at: self.now(),
            closed_at: None,
            version: 1,
        };
        let check_in = self.entry(
            principal,
            "check_in",
            json!({ "identifiers": ["full name", "date of birth"], "booking_id": booking.id }),
        );
        let audit = self.chart_audit(
            principal,
            AuditAction::SessionOpen,
            patient.id,
            json!({ "session_id": session.id, "booking_id": booking_id }),
        );
        self.store()
            .open_session(&session, &[check_in], &audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => ServiceError::Conflict {
                    code: "session_open",
                    message: "this booking already has an open session".into(),
                },
                other => ServiceError::from_store("infusion session", other),
            })?;
        Ok(session)
    }

    async fn session_for_write(
        &self,
        session_id: Uuid,
        expected_version: i64,
    ) -> Result<InfusionSessionRecord, ServiceError> {
        let session = self
            .store()
            .get_infusion_session(session_id)
            .await
            .map_err(|e| ServiceError::from_store("infusion session", e))?;
        if matches!(session.status.as_str(), "discharged" | "closed") {
            return Err(ServiceError::Conflict {
                code: "session_closed",
                message: "this session is closed; nothing more is entered in its chart".into(),
            });
        }
        if session.version != expected_version {
            return Err(ServiceError::StaleVersion {
                current: session.version,
            });
        }
        Ok(session)
    }

    /// Records the pre-infusion checklist; returns the chart with what is still unmet.
    pub async fn record_checklist(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        input: &ChecklistInput,
    ) -> Result<Chart, ServiceError> {
        self.authorize(
            principal,
            Permission::InfusionChart,
            "record the pre-infusion checklist",
        )
        .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        if session.status != "pre_check" {
            return Err(ServiceError::Conflict {
                code: "started",
                message: "the infusion has started; the checklist is done".into(),
            });
        }
        let patient = self.store().get_patient(session.patient_id).await?;
        let baseline = VitalSet::parse(&input.baseline).map_err(|e| {
            ServiceError::Invalid(FieldErrors(
                e.0.into_iter()
                    .map(|f| FieldError::new(format!("baseline.{}", f.field), f.message))
                    .collect(),
            ))
        })?;
        let mut unmet = Vec::new();
        let mut warnings = Vec::new();
        if !input.fasting_confirmed {
            unmet.push("fasting as the clinic instructs is not confirmed".to_string());
        }
        let escort = input
            .escort_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if escort.is_none() || !input.escort_present {
            unmet.push("no escort present and named".into());
        }
        // Consents in force now.
        let signed: Vec<_> = self
            .stored_consents(patient.id)
            .await?
            .into_iter()
            .map(|c| c.consent)
            .collect();
        let missing = clinic_domain::consent::missing_consents(&signed, self.now());
        if !missing.is_empty() {
            unmet.push(format!(
                "consents not in force: {}",
                missing
                    .iter()
                    .map(|k| k.as_str().replace('_', " "))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // Sobriety for alcohol protocols: breath alcohol 0.000 and at least 24 h since the last drink (clinical.md §2.3).
        let alcohol_protocol = match session.plan_event_id {
            Some(event) => {
                let plan = self
                    .store()
                    .get_plan(self.store().plan_of_event(event).await?)
                    .await?;
                self.protocols()
                    .get(&plan.header.protocol_id)
                    .is_some_and(|p| p.definition().substances.iter().any(|s| s == "alcohol"))
            }
            None => false,
        } && patient
            .details
            .substances
            .iter()
            .any(|s| s.as_str() == "alcohol");
        let breath = input
            .breath_alcohol
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        match breath.map(Exact::parse) {
            Some(Some(v)) if v == Exact::integer(0) => {}
            Some(Some(v)) => unmet.push(format!("breath alcohol {} is not 0.000", v.to_decimal())),
            Some(None) => {
                return Err(ServiceError::Invalid(FieldErrors::one(
                    "breath_alcohol",
                    "a reading such as 0.000",
                )));
            }
            None if alcohol_protocol => unmet.push("breath alcohol not measured".into()),
            None => {}
        }
        if alcohol_protocol {
            let need = self.config().infusion.hours_since_last_drink;
            match input
                .hours_since_last_drink
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::parse::<i64>)
            {
                Some(Ok(h)) if h >= need => {}
                Some(Ok(h)) => unmet.push(format!(
                    "{h} hours since the last drink; at least {need} are needed"
                )),
                Some(Err(_)) => {
                    return Err(ServiceError::Invalid(FieldErrors::one(
                        "hours_since_last_drink",
                        "whole hours",
                    )));
                }
                None => unmet.push("hours since the last drink not recorded".into()),
            }
        }
        if patient.details.sex_at_birth == SexAtBirth::Female {
            match input.pregnancy_test.as_deref() {
                Some("negative") => {}
                Some("positive") => {
                    unmet.push("pregnancy test positive: no infusion (clinical.md §2.6)".into())
                }
                Some("not_applicable") => {
                    warnings.push("pregnancy test marked not applicable".to_string())
                }
                _ => unmet.push("pregnancy test result not recorded".into()),
            }
        }
        // Baseline vitals: the alert rules must not fire; BP above 140/90 is weighed (clinical.md §2.3, Spravato numbers UNVERIFIED).
        for alert in infusion::evaluate(&baseline, &self.config().infusion.thresholds) {
            unmet.push(format!("baseline: {}", alert.message));
        }
        if baseline.systolic_mmhg > 140 || baseline.diastolic_mmhg > 90 {
            warnings.push(format!("baseline BP {}/{} is above 140/90: the physician weighs the risk (clinical.md §2.3)", baseline.systolic_mmhg, baseline.diastolic_mmhg));
        }
        // The order's independent double check.
        let order_ok = match session.plan_event_id {
            Some(event) => self.ready_order(event, session.patient_id).await,
            None => Err("no planned infusion".into()),
        };
        if let Err(why) = &order_ok {
            unmet.push(format!("order: {why}"));
        }
        let b = json!({
            "fasting_confirmed": input.fasting_confirmed,
            "escort_name": escort,
            "escort_present": input.escort_present,
            "consents_in_force": missing.is_empty(),
            "breath_alcohol": breath,
            "hours_since_last_drink": input.hours_since_last_drink,
            "pregnancy_test": input.pregnancy_test,
            "baseline": vital_json(&baseline),
            "order_verified": order_ok.is_ok(),
            "unmet": unmet,
            "warnings": warnings,
        });
        let entry = self.entry(principal, "checklist", b);
        let audit = self.chart_audit(
            principal,
            AuditAction::SessionUpdate,
            session.patient_id,
            json!({ "session_id": session_id, "entry": "checklist", "complete": unmet.is_empty() }),
        );
        self.commit_chart(
            session_id,
            expected_version,
            SessionEntryChange {
                entries: &[entry],
                audit: &[audit],
                ..Default::default()
            },
        )
        .await
    }

    /// A pump event: start (only with a complete checklist and a verified order), pause, resume, rate change, stop.
    pub async fn pump_event(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        action: &str,
        rate: Option<&str>,
    ) -> Result<Chart, ServiceError> {
        self.authorize(principal, Permission::InfusionChart, "record a pump event")
            .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        let chart = self.fold_chart(session.clone()).await?;
        let action = PumpAction::parse(action.trim())
            .map_err(|e| ServiceError::Invalid(FieldErrors(vec![e])))?;
        let rate_ml_per_h = match rate.map(str::trim).filter(|r| !r.is_empty()) {
            None => None,
            Some(text) => Some(Exact::parse(text).ok_or_else(|| {
                ServiceError::Invalid(FieldErrors::one(
                    "rate_ml_per_h",
                    "a rate in mL/h with at most 4 decimals",
                ))
            })?),
        };
        if action == PumpAction::Start {
            let mut blockers = chart.checklist_unmet.clone();
            if let Some(event) = session.plan_event_id {
                if let Err(why) = self.ready_order(event, session.patient_id).await {
                    let line = format!("order: {why}");
                    if !blockers.contains(&line) {
                        blockers.push(line);
                    }
                }
            }
            if !blockers.is_empty() {
                return Err(ServiceError::Conflict {
                    code: "not_ready",
                    message: format!("the infusion cannot start: {}", blockers.join("; ")),
                });
            }
        }
        // Never faster than ordered: a rate above the order's highest phase rate (the pump
        // setting when the clinic sets a step) is refused, naming the ordered rates.
        if let (Some(rate), Some(event)) = (rate_ml_per_h, session.plan_event_id) {
            if let Ok(order) = self.ready_order(event, session.patient_id).await {
                let calc = self.order_calc(&order)?;
                let ordered: Vec<Exact> = calc.phases.iter().map(|p| p.pump.map_or(p.rate_ml_per_h, |r| r.setting)).collect();
                if let Some(max) = ordered.iter().copied().max_by(|a, b| a.cmp_value(*b)) {
                    if rate.cmp_value(max).is_gt() {
                        return Err(ServiceError::Invalid(FieldErrors::one(
                            "rate_ml_per_h",
                            format!(
                                "{} mL/h is faster than the order ({} mL/h); a faster rate needs a new order",
                                rate.to_decimal(),
                                ordered.iter().map(|r| r.to_decimal()).collect::<Vec<_>>().join(" then ")
                            ),
                        )));
                    }
                }
            }
        }
        let event = PumpEvent {
            action,
            at: self.now(),
            rate_ml_per_h,
        };
        infusion::check_pump_event(&chart.pump, &event)?;
        let status = match action {
            PumpAction::Start => Some("infusing"),
            PumpAction::Stop => Some("recovery"),
            _ => None,
        };
        let entry = self.entry(
            principal,
            "pump",
            json!({ "action": action.as_str(), "rate_ml_per_h": rate_ml_per_h.map(|r| r.to_decimal()) }),
        );
        let audit = self.chart_audit(
            principal,
            AuditAction::SessionUpdate,
            session.patient_id,
            json!({ "session_id": session_id, "entry": "pump", "action": action.as_str() }),
        );
        self.commit_chart(
            session_id,
            expected_version,
            SessionEntryChange {
                entries: &[entry],
                status,
                audit: &[audit],
                ..Default::default()
            },
        )
        .await
    }

    /// A vital-sign set: every alert rule is evaluated and each alert is raised at once.
    pub async fn record_vitals(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        input: &VitalInput,
    ) -> Result<Chart, ServiceError> {
        self.authorize(principal, Permission::InfusionChart, "record vital signs")
            .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        let set = VitalSet::parse(input)?;
        let alerts: Vec<Value> = infusion::evaluate(&set, &self.config().infusion.thresholds)
            .into_iter()
            .map(|a| json!({ "id": Uuid::now_v7().to_string(), "rule": a.rule.as_str(), "message": a.message, "advice": a.advice }))
            .collect();
        let entry = self.entry(
            principal,
            "vitals",
            json!({ "set": vital_json(&set), "alerts": alerts }),
        );
        let mut audits = vec![self.chart_audit(
            principal,
            AuditAction::SessionUpdate,
            session.patient_id,
            json!({ "session_id": session_id, "entry": "vitals", "alerts": alerts.len() }),
        )];
        for a in &alerts {
            audits.push(self.chart_audit(
                principal,
                AuditAction::AlertRaise,
                session.patient_id,
                json!({ "session_id": session_id, "rule": a["rule"] }),
            ));
        }
        self.commit_chart(
            session_id,
            expected_version,
            SessionEntryChange {
                entries: &[entry],
                audit: &audits,
                ..Default::default()
            },
        )
        .await
    }

    /// Closes an alert with the response taken (required).
    pub async fn respond_to_alert(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        alert_id: &str,
        response: &str,
    ) -> Result<Chart, ServiceError> {
        self.authorize(principal, Permission::InfusionChart, "respond to an alert")
            .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        let chart = self.fold_chart(session.clone()).await?;
        if !chart.open_alerts.iter().any(|(id, ..)| id == alert_id) {
            return Err(ServiceError::Invalid(FieldErrors::one(
                "alert_id",
                "no open alert with this id in this session",
            )));
        }
        let response = response.trim();
        if response.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors::one(
                "response",
                "required: what was done (paused, rechecked, oxygen, physician called …)",
            )));
        }
        let entry = self.entry(
            principal,
            "alert_response",
            json!({ "alert_id": alert_id, "response": response }),
        );
        let audit = self.chart_audit(
            principal,
            AuditAction::AlertClose,
            session.patient_id,
            json!({ "session_id": session_id, "alert_id": alert_id }),
        );
        self.commit_chart(
            session_id,
            expected_version,
            SessionEntryChange {
                entries: &[entry],
                audit: &[audit],
                ..Default::default()
            },
        )
        .await
    }

    /// Discharges the patient: only after the pump stopped, with every alert
    /// answered and every criterion met — or by a physician who writes why not.
    #[allow(clippy::too_many_arguments)] // each argument is one field of the chart entry
    pub async fn discharge(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        aldrete: [Option<&str>; 5],
        dissociation_resolved: bool,
        steady_gait: bool,
        escort_present: bool,
        written_instructions_given: bool,
        override_reason: Option<&str>,
    ) -> Result<Chart, ServiceError> {
        self.authorize(principal, Permission::InfusionChart, "discharge a patient")
            .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        let chart = self.fold_chart(session.clone()).await?;
        if session.status != "recovery" {
            return Err(ServiceError::Conflict {
                code: "not_in_recovery",
                message: "discharge comes after the pump is stopped".into(),
            });
        }
        if !chart.open_alerts.is_empty() {
            return Err(ServiceError::Conflict {
                code: "open_alerts",
                message: "record the response to every open alert before discharge".into(),
            });
        }
        // The controlled-substance record is not a clinical criterion: no override passes it.
        let unaccounted = self.session_ledger(&chart).await?.unaccounted();
        if !unaccounted.is_empty() {
            return Err(ServiceError::Conflict {
                code: "ledger_unaccounted",
                message: format!(
                    "the controlled-substance record of this session is not complete: {}. Record the administration from the pump record and waste the rest with a witness first",
                    unaccounted.join("; ")
                ),
            });
        }
        let aldrete = Aldrete::parse(aldrete)?;
        let assessment = DischargeAssessment {
            aldrete,
            dissociation_resolved,
            steady_gait,
            escort_name: chart.escort_name.clone(),
            escort_present,
            written_instructions_given,
        };
        let unmet =
            infusion::unmet_discharge_criteria(&assessment, self.config().infusion.aldrete_minimum);
        let reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        if !unmet.is_empty() {
            match reason {
                None => {
                    return Err(ServiceError::Invalid(FieldErrors::one(
                        "discharge",
                        format!("not met: {}", unmet.join("; ")),
                    )));
                }
                Some(_)
                    if !clinic_domain::authz::role_allows(
                        principal.user.role,
                        Permission::DischargeOverride,
                    ) =>
                {
                    return Err(ServiceError::Conflict {
                        code: "physician_needed",
                        message: format!(
                            "only a physician may discharge with criteria unmet ({})",
                            unmet.join("; ")
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        let now = self.now();
        let delivered = chart.delivered.map(|(ml, mg)| json!({ "ml": ml.to_decimal(), "mg": mg.to_decimal(), "exact": ml.terminates() && mg.terminates() }));
        let entry = self.entry(
            principal,
            "discharge",
            json!({
                "aldrete": { "activity": aldrete.activity, "respiration": aldrete.respiration, "circulation": aldrete.circulation, "consciousness": aldrete.consciousness, "spo2": aldrete.spo2, "total": aldrete.total(), "version": infusion::ALDRETE_VERSION },
                "dissociation_resolved": dissociation_resolved,
                "steady_gait": steady_gait,
                "escort_name": chart.escort_name,
                "escort_present": escort_present,
                "written_instructions_given": written_instructions_given,
                "unmet": unmet,
                "override_reason": reason,
                "discharged_at": now,
                "delivered": delivered,
            }),
        );
        let audit = self.chart_audit(
            principal,
            AuditAction::SessionDischarge,
            session.patient_id,
            json!({ "session_id": session_id, "override": reason.is_some() }),
        );
        self.commit_chart(
            session_id,
            expected_version,
            SessionEntryChange {
                entries: &[entry],
                status: Some("discharged"),
                closed_at: Some(now),
                booking_status: session.booking_id.map(|b| (b, BookingStatus::Attended)),
                event_status: session.plan_event_id.map(|e| (e, EventStatus::Completed)),
                audit: &[audit],
                ..Default::default()
            },
        )
        .await
    }

    /// Every open session at a site, for the floor board (audited per patient shown).
    pub async fn floor(
        &self,
        principal: &Principal,
        site_id: Option<Uuid>,
    ) -> Result<Vec<(Chart, String, Option<String>)>, ServiceError> {
        self.authorize(principal, Permission::InfusionChart, "read the floor board")
            .await?;
        let site = match site_id {
            Some(id) => self
                .store()
                .list_sites()
                .await?
                .into_iter()
                .find(|s| s.id == id)
                .ok_or(ServiceError::NotFound { resource: "site" })?,
            None => self.main_site().await?,
        };
        let chairs: BTreeMap<Uuid, String> = self
            .store()
            .get_site_schedule(site.id)
            .await?
            .map(|s| s.resources.into_iter().map(|r| (r.id, r.name)).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut audits = Vec::new();
        for session in self.store().open_sessions(site.id).await? {
            let patient = self.store().get_patient(session.patient_id).await?;
            let initials: String = [&patient.details.given_name, &patient.details.family_name]
                .iter()
                .filter_map(|n| n.chars().next())
                .flat_map(char::to_uppercase)
                .collect();
            audits.push(AuditEvent::new(
                Uuid::now_v7(),
                self.now(),
                &principal.actor(),
                AuditAction::PatientList,
                AuditTarget::patient(patient.id),
                Outcome::Success,
                Some(json!({ "view": "floor" }).to_string()),
            ));
            let chair = session.resource_id.and_then(|r| chairs.get(&r).cloned());
            out.push((self.fold_chart(session).await?, initials, chair));
        }
        self.audit_writer().record(audits).await?;
        Ok(out)
    }

    /// The session open for a booking, if any.
    pub async fn session_for_booking(
        &self,
        booking_id: Uuid,
    ) -> Result<Option<InfusionSessionRecord>, ServiceError> {
        let booking = self
            .store()
            .get_booking(booking_id)
            .await
            .map_err(|e| ServiceError::from_store("booking", e))?;
        Ok(self
            .store()
            .patient_sessions(booking.patient_id)
            .await?
            .into_iter()
            .find(|s| s.booking_id == Some(booking_id)))
    }
}

fn vital_json(s: &VitalSet) -> Value {
    json!({
        "systolic_mmhg": s.systolic_mmhg,
        "diastolic_mmhg": s.diastolic_mmhg,
        "heart_rate_bpm": s.heart_rate_bpm,
        "respiratory_rate_per_min": s.respiratory_rate_per_min,
        "spo2_percent": s.spo2_percent,
        "rass": s.rass,
    })
}

/// What emergency services need, in one place (42 CFR 2.51 permits the
/// disclosure in a medical emergency; it is logged as such).
#[derive(Debug, Clone)]
pub struct Handoff {
    pub patient: clinic_domain::patient::Patient,
    pub site_name: String,
    pub chart: Chart,
    /// (time, entry kind, words) of every chart entry, in order.
    pub timeline: Vec<(DateTime<Utc>, String, String)>,
}

impl<S: Store> Clinic<S> {
    /// The emergency button: stops the pump if it runs, timestamps the
    /// emergency, and pages the physician (the on-call number in the
    /// clinic's settings; without one the page says to call, needs clinic
    /// setting). The page names no patient.
    pub async fn emergency(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        what: &str,
    ) -> Result<Chart, ServiceError> {
        self.authorize(principal, Permission::InfusionChart, "declare an emergency")
            .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        let chart = self.fold_chart(session.clone()).await?;
        let now = self.now();
        let mut entries = Vec::new();
        let running = matches!(
            infusion::pump_state(&chart.pump),
            infusion::PumpState::Running { .. } | infusion::PumpState::Paused
        );
        if running {
            entries.push(SessionEntryRecord {
                at: now,
                ..self.entry(
                    principal,
                    "pump",
                    json!({ "action": "stop", "rate_ml_per_h": null, "reason": "emergency" }),
                )
            });
        }
        let site = self
            .store()
            .list_sites()
            .await?
            .into_iter()
            .find(|s| s.id == session.site_id);
        let chair = match session.resource_id {
            Some(r) => self
                .store()
                .get_site_schedule(session.site_id)
                .await?
                .and_then(|s| s.resources.into_iter().find(|x| x.id == r).map(|x| x.name)),
            None => None,
        };
        let page = self.config().safety.on_call.as_ref().map(|(_, phone)| {
            clinic_store::screening::OutboxMessage {
                id: Uuid::now_v7(),
                patient_id: None,
                channel: clinic_domain::inquiry::ContactChannel::Sms,
                address: phone.clone(),
                body: format!(
                    "EMERGENCY at {}{}: a physician is needed at once. Open the floor board.",
                    site.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
                    chair.as_ref().map(|c| format!(", {c}")).unwrap_or_default()
                ),
                created_at: now,
                sent_at: None,
            }
        });
        let what = what.trim();
        entries.push(SessionEntryRecord {
            at: now,
            ..self.entry(principal, "emergency", json!({ "what": if what.is_empty() { None } else { Some(what) }, "pump_stopped": running, "paged": page.as_ref().map(|p| p.address.clone()) }))
        });
        let status = if running { Some("recovery") } else { None };
        let audit = self.chart_audit(
            principal,
            AuditAction::SessionEmergency,
            session.patient_id,
            json!({ "session_id": session_id, "pump_stopped": running, "paged": page.is_some() }),
        );
        let outbox: Vec<_> = page.into_iter().collect();
        self.commit_chart(
            session_id,
            expected_version,
            SessionEntryChange {
                entries: &entries,
                status,
                outbox: &outbox,
                audit: &[audit],
                ..Default::default()
            },
        )
        .await
    }

    /// The hand-off summary for emergency services: allergies, medicines,
    /// the ketamine given and when, vital signs and alerts. Producing it is
    /// a disclosure under the medical-emergency exception, logged as such.
    pub async fn handoff(
        &self,
        principal: &Principal,
        session_id: Uuid,
    ) -> Result<Handoff, ServiceError> {
        self.authorize(
            principal,
            Permission::InfusionChart,
            "produce an emergency hand-off",
        )
        .await?;
        let session = self
            .store()
            .get_infusion_session(session_id)
            .await
            .map_err(|e| ServiceError::from_store("infusion session", e))?;
        let patient = self.store().get_patient(session.patient_id).await?;
        let chart = self.fold_chart(session.clone()).await?;
        if chart.emergency_at.is_none() {
            return Err(ServiceError::Conflict {
                code: "no_emergency",
                message:
                    "the hand-off summary is for an emergency: press the emergency button first"
                        .into(),
            });
        }
        let site_name = self
            .store()
            .list_sites()
            .await?
            .into_iter()
            .find(|s| s.id == session.site_id)
            .map(|s| s.name)
            .unwrap_or_default();
        let timeline = chart
            .entries
            .iter()
            .map(|e| {
                let b = body(e);
                let words = match e.kind.as_str() {
                    "pump" => format!(
                        "pump {}{}",
                        b["action"].as_str().unwrap_or(""),
                        b["rate_ml_per_h"]
                            .as_str()
                            .map(|r| format!(" at {r} mL/h"))
                            .unwrap_or_default()
                    ),
                    "vitals" => {
                        let v = &b["set"];
                        format!(
                            "BP {}/{} HR {} RR {} SpO2 {}% RASS {}",
                            v["systolic_mmhg"],
                            v["diastolic_mmhg"],
                            v["heart_rate_bpm"],
                            v["respiratory_rate_per_min"],
                            v["spo2_percent"],
                            v["rass"]
                        )
                    }
                    "alert_response" => {
                        format!("alert response: {}", b["response"].as_str().unwrap_or(""))
                    }
                    "medication" => format!(
                        "medicine: {} {} {} ({})",
                        b["drug"].as_str().unwrap_or(""),
                        b["dose"].as_str().unwrap_or(""),
                        b["route"].as_str().unwrap_or(""),
                        b["reason"].as_str().unwrap_or("")
                    ),
                    "adverse_event" => format!(
                        "adverse event ({}): {}",
                        b["severity"].as_str().unwrap_or(""),
                        b["description"].as_str().unwrap_or("")
                    ),
                    "emergency" => format!(
                        "EMERGENCY{}",
                        b["what"]
                            .as_str()
                            .map(|w| format!(": {w}"))
                            .unwrap_or_default()
                    ),
                    other => other.replace('_', " "),
                };
                (e.at, e.kind.clone(), words)
            })
            .collect();
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &principal.actor(),
            AuditAction::EmergencyDisclosure,
            AuditTarget::patient(patient.id),
            Outcome::Success,
            Some(json!({ "session_id": session_id, "basis": "42 CFR 2.51 medical emergency", "recipient": "emergency medical services" }).to_string()),
        );
        self.audit_writer().record(vec![audit]).await?;
        Ok(Handoff {
            patient,
            site_name,
            chart,
            timeline,
        })
    }
}

/// Ratings kept at the chair (clinical.md §3): the CADSS's 23 subject-rated
/// items, each 0–4 (Bremner 1998; item text is licensed, so only the item
/// numbers are shown unless the clinic installs it), and the BPRS positive
/// subscale's 4 items, each 1–7 (Overall & Gorham 1962).
pub const RATINGS: [(&str, usize, u32, u32); 2] = [("cadss", 23, 0, 4), ("bprs_positive", 4, 1, 7)];

/// The BPRS positive subscale items (public domain), in order.
pub const BPRS_POSITIVE_ITEMS: [&str; 4] = [
    "conceptual disorganisation",
    "hallucinatory behaviour",
    "suspiciousness",
    "unusual thought content",
];

pub const ROUTES: [&str; 5] = ["IV", "IM", "PO", "SL", "IN"];
pub const SEVERITIES: [&str; 4] = ["mild", "moderate", "severe", "serious"];
pub const OUTCOMES: [&str; 3] = ["resolved", "ongoing", "transferred"];

impl<S: Store> Clinic<S> {
    async fn append_simple(
        &self,
        principal: &Principal,
        session: &InfusionSessionRecord,
        expected_version: i64,
        kind: &str,
        body: Value,
    ) -> Result<Chart, ServiceError> {
        let entry = self.entry(principal, kind, body);
        let audit = self.chart_audit(
            principal,
            AuditAction::SessionUpdate,
            session.patient_id,
            json!({ "session_id": session.id, "entry": kind }),
        );
        self.commit_chart(
            session.id,
            expected_version,
            SessionEntryChange {
                entries: &[entry],
                audit: &[audit],
                ..Default::default()
            },
        )
        .await
    }

    /// A dissociation or psychotomimetic rating: every item scored, in range.
    pub async fn record_rating(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        instrument: &str,
        scores: &[String],
    ) -> Result<Chart, ServiceError> {
        self.authorize(principal, Permission::InfusionChart, "record a rating")
            .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        let Some(&(id, items, low, high)) = RATINGS.iter().find(|r| r.0 == instrument) else {
            return Err(ServiceError::Invalid(FieldErrors::one(
                "instrument",
                "must be one of: cadss, bprs_positive",
            )));
        };
        let mut errors = Vec::new();
        let mut values = Vec::with_capacity(items);
        for i in 0..items {
            match scores
                .get(i)
                .map(|s| s.trim())
                .and_then(|s| s.parse::<u32>().ok())
                .filter(|v| (low..=high).contains(v))
            {
                Some(v) => values.push(v),
                None => errors.push(FieldError::new(
                    format!("items[{}]", i + 1),
                    format!("required, {low}–{high}"),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        let total: u32 = values.iter().sum();
        self.append_simple(
            principal,
            &session,
            expected_version,
            "rating",
            json!({ "instrument": id, "items": values, "total": total }),
        )
        .await
    }

    /// A rescue or supportive medicine given: drug, dose, route, reason (the time is now).
    #[allow(clippy::too_many_arguments)] // each argument is one field of the chart entry
    pub async fn record_medication(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        drug: &str,
        dose: &str,
        route: &str,
        reason: &str,
    ) -> Result<Chart, ServiceError> {
        self.authorize(
            principal,
            Permission::InfusionChart,
            "record a medicine given",
        )
        .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        let mut errors = Vec::new();
        if drug.trim().is_empty() {
            errors.push(FieldError::new("drug", "required"));
        }
        if dose.trim().is_empty() {
            errors.push(FieldError::new(
                "dose",
                "required, with its unit (e.g. 2 mg)",
            ));
        }
        if !ROUTES.contains(&route.trim()) {
            errors.push(FieldError::new(
                "route",
                format!("must be one of: {}", ROUTES.join(", ")),
            ));
        }
        if reason.trim().is_empty() {
            errors.push(FieldError::new("reason", "required"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        self.append_simple(principal, &session, expected_version, "medication", json!({ "drug": drug.trim(), "dose": dose.trim(), "route": route.trim(), "reason": reason.trim() })).await
    }

    /// An adverse event with its severity, the action taken and the outcome.
    #[allow(clippy::too_many_arguments)] // each argument is one field of the chart entry
    pub async fn record_adverse_event(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        description: &str,
        severity: &str,
        action: &str,
        outcome: &str,
    ) -> Result<Chart, ServiceError> {
        self.authorize(
            principal,
            Permission::InfusionChart,
            "record an adverse event",
        )
        .await?;
        let session = self.session_for_write(session_id, expected_version).await?;
        let mut errors = Vec::new();
        if description.trim().is_empty() {
            errors.push(FieldError::new("description", "required"));
        }
        if !SEVERITIES.contains(&severity) {
            errors.push(FieldError::new(
                "severity",
                format!("must be one of: {}", SEVERITIES.join(", ")),
            ));
        }
        if action.trim().is_empty() {
            errors.push(FieldError::new("action", "required: what was done"));
        }
        if !OUTCOMES.contains(&outcome) {
            errors.push(FieldError::new(
                "outcome",
                format!("must be one of: {}", OUTCOMES.join(", ")),
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        self.append_simple(principal, &session, expected_version, "adverse_event", json!({ "description": description.trim(), "severity": severity, "action": action.trim(), "outcome": outcome })).await
    }

    /// The session note, signed by whoever writes it; once signed, later text
    /// is an addendum (allowed after discharge too). Nothing is edited.
    pub async fn write_note(
        &self,
        principal: &Principal,
        session_id: Uuid,
        expected_version: i64,
        text: &str,
    ) -> Result<Chart, ServiceError> {
        self.authorize(
            principal,
            Permission::InfusionChart,
            "sign the session note",
        )
        .await?;
        let session = self
            .store()
            .get_infusion_session(session_id)
            .await
            .map_err(|e| ServiceError::from_store("infusion session", e))?;
        if session.version != expected_version {
            return Err(ServiceError::StaleVersion {
                current: session.version,
            });
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors::one("text", "required")));
        }
        let entries = self.store().session_entries(session_id).await?;
        let kind = if entries.iter().any(|e| e.kind == "note") {
            "addendum"
        } else {
            "note"
        };
        let signer = format!(
            "{} ({})",
            principal.user.display_name,
            principal.user.role.as_str()
        );
        self.append_simple(
            principal,
            &session,
            expected_version,
            kind,
            json!({ "text": text, "signed_by": signer }),
        )
        .await
    }
}
