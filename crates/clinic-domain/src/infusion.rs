//! The infusion under close medical care: vital-sign sets and the alert rules
//! evaluated on every entry, the monitoring schedule and what is overdue, the
//! pump record and the mg it actually delivered, and the discharge criteria
//! with the modified Aldrete score.
//!
//! Numbers and their sources (reference/clinical.md):
//! - SpO2 alert below 92 % (§11.6, a setting; matches the modified Aldrete
//!   "> 92 % on room air" for a score of 2, §2.5).
//! - Pause/stop when BP > 180/100 mmHg or HR > 110 bpm (§2.4: widely used,
//!   often attributed to the APA consensus, Sanacora 2017 — the attribution is
//!   UNVERIFIED, so these ship as documented default settings a clinic changes).
//! - Respiratory rate and RASS have no threshold in the reference: unset,
//!   "needs clinic setting"; they are recorded with every set (§11.2).
//! - BP every 10 min during the infusion and every 15 min after (§2.4, the
//!   Emory series) — default settings.
//! - Discharge: modified Aldrete ≥ 9 (§2.5, Aldrete 1995, a setting), dissociation
//!   resolved, steady gait, escort present, written instructions (§2.5, §2.3).
//!
//! Everything is total: impossible readings are refused naming the field,
//! never clamped; an alert rule that is unset raises nothing and says so.

use chrono::{DateTime, Duration, Utc};

use crate::dose::Exact;
use crate::field::{FieldError, FieldErrors};

/// One set of vital signs as entered at the chair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VitalSet {
    pub systolic_mmhg: u32,
    pub diastolic_mmhg: u32,
    pub heart_rate_bpm: u32,
    pub respiratory_rate_per_min: u32,
    pub spo2_percent: u32,
    /// Richmond Agitation–Sedation Scale, −5 (unarousable) to +4 (combative) (§11.2).
    pub rass: i32,
}

/// Vital signs as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VitalInput {
    pub systolic_mmhg: Option<String>,
    pub diastolic_mmhg: Option<String>,
    pub heart_rate_bpm: Option<String>,
    pub respiratory_rate_per_min: Option<String>,
    pub spo2_percent: Option<String>,
    pub rass: Option<String>,
}

/// Input guards, not clinical thresholds: readings outside these ranges are
/// typing errors (a digit too many or too few) and are refused, like the dose
/// calculator's plausibility limits. The alert thresholds above are the
/// clinical numbers, each with its source.
pub const SYSTOLIC_RANGE: (u32, u32) = (40, 300);
pub const DIASTOLIC_RANGE: (u32, u32) = (20, 200);
pub const HEART_RATE_RANGE: (u32, u32) = (20, 250);
pub const RESPIRATORY_RANGE: (u32, u32) = (0, 80);
pub const SPO2_RANGE: (u32, u32) = (50, 100);

impl VitalSet {
    /// Reads a set, naming every field that is missing or impossible.
    pub fn parse(input: &VitalInput) -> Result<VitalSet, FieldErrors> {
        let mut errors = Vec::new();
        let mut number =
            |field: &str, text: Option<&str>, (low, high): (u32, u32), unit: &str| -> Option<u32> {
                match text.map(str::trim).filter(|t| !t.is_empty()) {
                    None => {
                        errors.push(FieldError::new(
                            field,
                            format!("required, {low}–{high} {unit}"),
                        ));
                        None
                    }
                    Some(t) => match t.parse::<u32>() {
                        Ok(v) if (low..=high).contains(&v) => Some(v),
                        _ => {
                            errors.push(FieldError::new(
                                field,
                                format!("{t:?} is not a reading of {low}–{high} {unit}"),
                            ));
                            None
                        }
                    },
                }
            };
        let sys = number(
            "systolic_mmhg",
            input.systolic_mmhg.as_deref(),
            SYSTOLIC_RANGE,
            "mmHg",
        );
        let dia = number(
            "diastolic_mmhg",
            input.diastolic_mmhg.as_deref(),
            DIASTOLIC_RANGE,
            "mmHg",
        );
        let hr = number(
            "heart_rate_bpm",
            input.heart_rate_bpm.as_deref(),
            HEART_RATE_RANGE,
            "beats/min",
        );
        let rr = number(
            "respiratory_rate_per_min",
            input.respiratory_rate_per_min.as_deref(),
            RESPIRATORY_RANGE,
            "breaths/min",
        );
        let spo2 = number(
            "spo2_percent",
            input.spo2_percent.as_deref(),
            SPO2_RANGE,
            "%",
        );
        let rass = match input
            .rass
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => {
                errors.push(FieldError::new("rass", "required, −5 to +4 (RASS)"));
                None
            }
            Some(t) => match t.trim_start_matches('+').replace('−', "-").parse::<i32>() {
                Ok(v) if (-5..=4).contains(&v) => Some(v),
                _ => {
                    errors.push(FieldError::new(
                        "rass",
                        format!("{t:?} is not a RASS score of −5 to +4"),
                    ));
                    None
                }
            },
        };
        if let (Some(s), Some(d)) = (sys, dia) {
            if d >= s {
                errors.push(FieldError::new(
                    "diastolic_mmhg",
                    format!("{d} is not below the systolic {s}"),
                ));
            }
        }
        match (sys, dia, hr, rr, spo2, rass, errors.is_empty()) {
            (
                Some(systolic_mmhg),
                Some(diastolic_mmhg),
                Some(heart_rate_bpm),
                Some(respiratory_rate_per_min),
                Some(spo2_percent),
                Some(rass),
                true,
            ) => Ok(VitalSet {
                systolic_mmhg,
                diastolic_mmhg,
                heart_rate_bpm,
                respiratory_rate_per_min,
                spo2_percent,
                rass,
            }),
            _ => Err(FieldErrors(errors)),
        }
    }
}

wire_enum!(
    /// Which rule an alert comes from.
    AlertRule, "rule" {
        BloodPressureHigh => "bp_high",
        HeartRateHigh => "hr_high",
        Spo2Low => "spo2_low",
        RespiratoryRateLow => "rr_low",
        Oversedation => "oversedation",
        Agitation => "agitation",
    }
);

/// The clinic's alert thresholds. `None` means the rule is off and the
/// setting needs the clinic (the reference gives no number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertThresholds {
    /// Alert when systolic is above this (mmHg).
    pub systolic_above: Option<u32>,
    /// Alert when diastolic is above this (mmHg).
    pub diastolic_above: Option<u32>,
    pub heart_rate_above: Option<u32>,
    /// Alert when SpO2 is below this (%).
    pub spo2_below: Option<u32>,
    pub respiratory_rate_below: Option<u32>,
    /// Alert when RASS is at or below this (e.g. −3, moderate sedation).
    pub rass_at_or_below: Option<i32>,
    /// Alert when RASS is at or above this (e.g. +3, very agitated).
    pub rass_at_or_above: Option<i32>,
}

impl AlertThresholds {
    /// The shipped defaults: BP > 180/100 and HR > 110 (§2.4, UNVERIFIED
    /// attribution to Sanacora 2017: documented defaults), SpO2 < 92 % (§11.6);
    /// respiratory rate and RASS unset (needs clinic setting).
    pub fn shipped() -> AlertThresholds {
        AlertThresholds {
            systolic_above: Some(180),
            diastolic_above: Some(100),
            heart_rate_above: Some(110),
            spo2_below: Some(92),
            respiratory_rate_below: None,
            rass_at_or_below: None,
            rass_at_or_above: None,
        }
    }

    /// Rules that are off because the clinic has not set them.
    pub fn unset(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.systolic_above.is_none() || self.diastolic_above.is_none() {
            out.push("blood pressure");
        }
        if self.heart_rate_above.is_none() {
            out.push("heart rate");
        }
        if self.spo2_below.is_none() {
            out.push("SpO2");
        }
        if self.respiratory_rate_below.is_none() {
            out.push("respiratory rate");
        }
        if self.rass_at_or_below.is_none() || self.rass_at_or_above.is_none() {
            out.push("RASS");
        }
        out
    }
}

/// An alert raised by a set: the rule, what was seen, the limit, and the response advised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VitalAlert {
    pub rule: AlertRule,
    pub message: String,
    pub advice: &'static str,
}

/// What the reference advises (§2.4, §11.2): hold or stop and call the
/// physician for BP or HR; stimulate and give oxygen for low SpO2.
fn advice(rule: AlertRule) -> &'static str {
    match rule {
        AlertRule::BloodPressureHigh | AlertRule::HeartRateHigh => {
            "pause or stop the infusion, recheck, and call the physician (clinical.md §2.4)"
        }
        AlertRule::Spo2Low => {
            "stimulate the patient, give oxygen, pause the infusion and call the physician (clinical.md §2.4)"
        }
        AlertRule::RespiratoryRateLow | AlertRule::Oversedation => {
            "pause the infusion, stimulate, support the airway and call the physician"
        }
        AlertRule::Agitation => {
            "reduce stimulation; the physician decides on a short-acting benzodiazepine if severe (clinical.md §2.4, §11.2)"
        }
    }
}

/// Every alert one set raises (empty when none).
pub fn evaluate(set: &VitalSet, t: &AlertThresholds) -> Vec<VitalAlert> {
    let mut alerts = Vec::new();
    let mut raise = |rule: AlertRule, message: String| {
        alerts.push(VitalAlert {
            rule,
            message,
            advice: advice(rule),
        })
    };
    let sys_high = t.systolic_above.is_some_and(|l| set.systolic_mmhg > l);
    let dia_high = t.diastolic_above.is_some_and(|l| set.diastolic_mmhg > l);
    if sys_high || dia_high {
        raise(
            AlertRule::BloodPressureHigh,
            format!(
                "BP {}/{} mmHg is above {}/{}",
                set.systolic_mmhg,
                set.diastolic_mmhg,
                t.systolic_above.map_or("–".into(), |v| v.to_string()),
                t.diastolic_above.map_or("–".into(), |v| v.to_string())
            ),
        );
    }
    if let Some(l) = t.heart_rate_above.filter(|l| set.heart_rate_bpm > *l) {
        raise(
            AlertRule::HeartRateHigh,
            format!("heart rate {} /min is above {l}", set.heart_rate_bpm),
        );
    }
    if let Some(l) = t.spo2_below.filter(|l| set.spo2_percent < *l) {
        raise(
            AlertRule::Spo2Low,
            format!("SpO2 {} % is below {l} %", set.spo2_percent),
        );
    }
    if let Some(l) = t
        .respiratory_rate_below
        .filter(|l| set.respiratory_rate_per_min < *l)
    {
        raise(
            AlertRule::RespiratoryRateLow,
            format!(
                "respiratory rate {} /min is below {l}",
                set.respiratory_rate_per_min
            ),
        );
    }
    if let Some(l) = t.rass_at_or_below.filter(|l| set.rass <= *l) {
        raise(
            AlertRule::Oversedation,
            format!("RASS {} is at or below {l}", set.rass),
        );
    }
    if let Some(l) = t.rass_at_or_above.filter(|l| set.rass >= *l) {
        raise(
            AlertRule::Agitation,
            format!("RASS {:+} is at or above {l:+}", set.rass),
        );
    }
    alerts
}

/// How often vitals are due: every `during` minutes while the drug runs and
/// every `after` minutes afterwards (§2.4: 10 and 15, the Emory series).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitoringSchedule {
    pub during_minutes: i64,
    pub after_minutes: i64,
}

impl MonitoringSchedule {
    pub fn shipped() -> MonitoringSchedule {
        MonitoringSchedule {
            during_minutes: 10,
            after_minutes: 15,
        }
    }
}

/// When the next set is due, given when the pump started, when it stopped
/// (if it has) and the last set. While the drug runs: `during` minutes after
/// the last set (or the start). After the stop: `after` minutes after the last
/// set taken since the stop; until one is, the running cadence still holds.
/// `None` before the infusion starts.
pub fn next_vitals_due(
    schedule: &MonitoringSchedule,
    started: Option<DateTime<Utc>>,
    stopped: Option<DateTime<Utc>>,
    last_set: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let started = started?;
    let base = last_set.filter(|l| *l >= started).unwrap_or(started);
    match stopped {
        Some(stop) if base >= stop => Some(base + Duration::minutes(schedule.after_minutes)),
        _ => Some(base + Duration::minutes(schedule.during_minutes)),
    }
}

wire_enum!(
    /// One event of the pump record.
    PumpAction, "action" {
        Start => "start",
        Pause => "pause",
        Resume => "resume",
        RateChange => "rate_change",
        Stop => "stop",
    }
);

/// A pump event: what, when, and the rate (mL/h) from then on (start, resume, rate change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpEvent {
    pub action: PumpAction,
    pub at: DateTime<Utc>,
    pub rate_ml_per_h: Option<Exact>,
}

/// The pump's state after a record, or why the next event is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpState {
    NotStarted,
    Running {
        rate_ml_per_h: Exact,
        since: DateTime<Utc>,
    },
    Paused,
    Stopped,
}

/// Checks that `next` may follow `record` (in time order, a valid transition, a positive rate where one is needed).
pub fn check_pump_event(record: &[PumpEvent], next: &PumpEvent) -> Result<(), FieldErrors> {
    if record.last().is_some_and(|last| next.at < last.at) {
        return Err(FieldErrors::one("at", "is before the pump's last event"));
    }
    let state = pump_state(record);
    let needs_rate = matches!(
        next.action,
        PumpAction::Start | PumpAction::Resume | PumpAction::RateChange
    );
    if needs_rate && !next.rate_ml_per_h.is_some_and(Exact::is_positive) {
        return Err(FieldErrors::one(
            "rate_ml_per_h",
            "required: the rate in mL/h, more than 0",
        ));
    }
    if !needs_rate && next.rate_ml_per_h.is_some() {
        return Err(FieldErrors::one(
            "rate_ml_per_h",
            "only start, resume and rate change carry a rate",
        ));
    }
    let allowed = matches!(
        (state, next.action),
        (PumpState::NotStarted, PumpAction::Start)
            | (PumpState::Running { .. }, PumpAction::Pause | PumpAction::RateChange | PumpAction::Stop)
            | (PumpState::Paused, PumpAction::Resume | PumpAction::Stop)
    );
    if allowed {
        Ok(())
    } else {
        let now = match state {
            PumpState::NotStarted => "not started",
            PumpState::Running { .. } => "running",
            PumpState::Paused => "paused",
            PumpState::Stopped => "stopped",
        };
        Err(FieldErrors::one(
            "action",
            format!(
                "the pump is {now}; {} is not possible now",
                next.action.as_str().replace('_', " ")
            ),
        ))
    }
}

pub fn pump_state(record: &[PumpEvent]) -> PumpState {
    let mut state = PumpState::NotStarted;
    for e in record {
        state = match (e.action, e.rate_ml_per_h) {
            (PumpAction::Start | PumpAction::Resume | PumpAction::RateChange, Some(rate)) => {
                PumpState::Running {
                    rate_ml_per_h: rate,
                    since: e.at,
                }
            }
            (PumpAction::Pause, _) => PumpState::Paused,
            (PumpAction::Stop, _) => PumpState::Stopped,
            (_, None) => state,
        };
    }
    state
}

/// The volume (mL) the pump delivered up to `until` (the stop, or now for a
/// running pump): the sum of rate × time while running, exact to the second.
pub fn delivered_ml(record: &[PumpEvent], until: DateTime<Utc>) -> Exact {
    let mut total = Exact::integer(0);
    let mut running: Option<(Exact, DateTime<Utc>)> = None;
    let add = |total: Exact, rate: Exact, from: DateTime<Utc>, to: DateTime<Utc>| {
        let seconds = (to - from).num_seconds().max(0);
        total.plus(
            rate.times(Exact::integer(i128::from(seconds)))
                .checked_div(Exact::integer(3600))
                .unwrap_or(Exact::integer(0)),
        )
    };
    for e in record {
        if let Some((rate, since)) = running.take() {
            total = add(total, rate, since, e.at.min(until).max(since));
        }
        if e.at > until {
            return total;
        }
        running = match (e.action, e.rate_ml_per_h) {
            (PumpAction::Start | PumpAction::Resume | PumpAction::RateChange, Some(rate)) => {
                Some((rate, e.at))
            }
            _ => None,
        };
    }
    if let Some((rate, since)) = running {
        total = add(total, rate, since, until.max(since));
    }
    total
}

/// One modified Aldrete item, 0–2 (§2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aldrete {
    pub activity: u8,
    pub respiration: u8,
    pub circulation: u8,
    pub consciousness: u8,
    pub spo2: u8,
}

/// The version of the score used (§2.5: versions differ on BP in % or mmHg; store it).
pub const ALDRETE_VERSION: &str =
    "modified Aldrete (Aldrete 1995), circulation: BP within ±20% of pre-procedure";

impl Aldrete {
    pub fn parse(items: [Option<&str>; 5]) -> Result<Aldrete, FieldErrors> {
        let names = [
            "activity",
            "respiration",
            "circulation",
            "consciousness",
            "spo2",
        ];
        let mut values = [0u8; 5];
        let mut errors = Vec::new();
        for (i, (text, name)) in items.iter().zip(names).enumerate() {
            match text
                .map(str::trim)
                .and_then(|t| t.parse::<u8>().ok())
                .filter(|v| *v <= 2)
            {
                Some(v) => values[i] = v,
                None => errors.push(FieldError::new(
                    format!("aldrete.{name}"),
                    "required: 0, 1 or 2",
                )),
            }
        }
        if errors.is_empty() {
            Ok(Aldrete {
                activity: values[0],
                respiration: values[1],
                circulation: values[2],
                consciousness: values[3],
                spo2: values[4],
            })
        } else {
            Err(FieldErrors(errors))
        }
    }

    pub fn total(&self) -> u8 {
        self.activity + self.respiration + self.circulation + self.consciousness + self.spo2
    }
}

/// The discharge assessment as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DischargeAssessment {
    pub aldrete: Aldrete,
    pub dissociation_resolved: bool,
    pub steady_gait: bool,
    /// Who takes the patient home (must be present).
    pub escort_name: Option<String>,
    pub escort_present: bool,
    pub written_instructions_given: bool,
}

/// Every discharge criterion not met, in words (empty: the patient may go).
pub fn unmet_discharge_criteria(a: &DischargeAssessment, aldrete_minimum: u8) -> Vec<String> {
    let mut unmet = Vec::new();
    if a.aldrete.total() < aldrete_minimum {
        unmet.push(format!(
            "modified Aldrete score {} is below {aldrete_minimum}",
            a.aldrete.total()
        ));
    }
    if !a.dissociation_resolved {
        unmet.push("dissociation has not resolved".into());
    }
    if !a.steady_gait {
        unmet.push("gait is not steady".into());
    }
    if !a.escort_present || a.escort_name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        unmet.push("no escort present and named".into());
    }
    if !a.written_instructions_given {
        unmet.push("written instructions not given".into());
    }
    unmet
}

/// The shipped discharge threshold: Aldrete ≥ 9 (clinical.md §2.5, a setting).
pub const DEFAULT_ALDRETE_MINIMUM: u8 = 9;

#[cfg(test)]
mod tests;
