//! A patient's treatment plan: a protocol expanded from a start date into
//! dated events, edited by the physician (move, skip, restore, add, change a
//! dose) with every change kept — who, when, what and why — and signed.
//!
//! The rules here are pure. A plan is only made for an eligible patient with a
//! substance the protocol treats. Every edit carries a written reason. An edit
//! that leaves the protocol — a dose or length other than the protocol's (or
//! above its own maximum), an infusion outside its window (the protocol's day
//! when it gives no window), consecutive infusions closer or further apart
//! than its spacing, more infusions than it has — is refused until the
//! physician acknowledges the named deviation; then the deviation stays on the
//! event and in the history. Doses outside the plausibility limits
//! (`dose::PlausibilityLimits`) are refused outright: they are typing errors,
//! not choices. Nothing is rounded or clamped.
//!
//! Every change raises the plan's version. Signing records the version
//! signed; a plan changed after its signature is "amended" and needs signing
//! again before anything new is booked from it.

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::dose::{Exact, PlausibilityLimits};
use crate::field::{FieldError, FieldErrors};
use crate::patient::{Patient, PatientStatus};
use crate::protocol::decimal::Decimal;
use crate::protocol::definition::Phase;
use crate::protocol::{EventDetail, EventKind, Protocol};

wire_enum!(
    /// Where an event stands. `booked`, `completed` and `no_show` are set by
    /// scheduling and the infusion chart, never by a plan edit.
    EventStatus, "status" {
        Planned => "planned",
        Skipped => "skipped",
        Booked => "booked",
        Completed => "completed",
        NoShow => "no_show",
    }
);

wire_enum!(
    /// Whether an event came from the protocol or was added by the physician.
    EventOrigin, "origin" {
        Protocol => "protocol",
        Added => "added",
    }
);

wire_enum!(
    /// One entry of a plan's history.
    ChangeAction, "action" {
        Create => "create",
        Move => "move",
        Skip => "skip",
        Restore => "restore",
        Add => "add",
        Dose => "dose",
        Sign => "sign",
        End => "end",
    }
);

wire_enum!(
    /// A plan as a whole: never signed, signed as it stands, changed since its
    /// signature, or ended.
    PlanState, "state" {
        Draft => "draft",
        Signed => "signed",
        Amended => "amended",
        Ended => "ended",
    }
);

/// The plan itself, without its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanHeader {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub protocol_id: String,
    pub protocol_version: i64,
    /// Day 0 of the protocol.
    pub start_date: NaiveDate,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub signed_by: Option<Uuid>,
    pub signed_at: Option<DateTime<Utc>>,
    /// The version the signature covers.
    pub signed_version: Option<i64>,
    pub ended_by: Option<Uuid>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    /// Raised by every change; guards concurrent edits.
    pub version: i64,
}

impl PlanHeader {
    pub fn state(&self) -> PlanState {
        if self.ended_at.is_some() {
            PlanState::Ended
        } else {
            match self.signed_version {
                None => PlanState::Draft,
                Some(v) if v == self.version => PlanState::Signed,
                Some(_) => PlanState::Amended,
            }
        }
    }
}

/// One dated event of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEvent {
    pub id: Uuid,
    pub plan_id: Uuid,
    /// The order events were created in, from 1.
    pub seq: i64,
    pub kind: EventKind,
    pub status: EventStatus,
    pub origin: EventOrigin,
    /// The date the protocol gave (none for an added event).
    pub protocol_date: Option<NaiveDate>,
    /// The date it is planned for now.
    pub date: NaiveDate,
    /// For an infusion: its number in the plan (1, 2, …).
    pub infusion_number: Option<i64>,
    /// For an infusion: its phases, in order (total dose and minutes are their sums).
    pub phases: Vec<Phase>,
    /// For an infusion: the dates it may move within without deviating.
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// For therapy: the modality.
    pub modality: Option<String>,
    /// For an assessment: the instrument id.
    pub instrument: Option<String>,
    /// Deviations from the protocol the physician acknowledged for this event.
    pub deviations: Vec<String>,
}

impl PlanEvent {
    pub fn dose_mg_per_kg(&self) -> Option<Decimal> {
        total_dose(&self.phases)
    }

    pub fn minutes(&self) -> Option<i64> {
        if self.phases.is_empty() {
            None
        } else {
            self.phases
                .iter()
                .try_fold(0i64, |sum, phase| sum.checked_add(phase.minutes))
        }
    }

    /// Planned or booked: the event is still meant to happen.
    pub fn is_active(&self) -> bool {
        matches!(self.status, EventStatus::Planned | EventStatus::Booked)
    }

    /// Booked, completed or missed: scheduling owns it, a plan edit may not change it.
    fn is_locked(&self) -> bool {
        matches!(
            self.status,
            EventStatus::Booked | EventStatus::Completed | EventStatus::NoShow
        )
    }
}

fn total_dose(phases: &[Phase]) -> Option<Decimal> {
    if phases.is_empty() {
        None
    } else {
        phases.iter().try_fold(Decimal::ZERO, |sum, phase| {
            sum.checked_add(phase.dose_mg_per_kg)
        })
    }
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanChange {
    pub id: Uuid,
    pub plan_id: Uuid,
    /// The plan's version this change produced.
    pub version: i64,
    pub action: ChangeAction,
    pub event_id: Option<Uuid>,
    /// What changed, in words ("infusion 2 moved from 2026-12-03 to 2026-12-04").
    pub summary: String,
    /// Why, as the physician wrote it (none for creating and signing).
    pub reason: Option<String>,
    /// Deviations acknowledged with this change.
    pub deviations: Vec<String>,
    pub changed_by: Uuid,
    pub changed_at: DateTime<Utc>,
}

/// A plan with its events, in date order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub header: PlanHeader,
    pub events: Vec<PlanEvent>,
}

/// An edit as the physician asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanEdit {
    Move {
        event_id: Uuid,
        date: NaiveDate,
    },
    Skip {
        event_id: Uuid,
    },
    Restore {
        event_id: Uuid,
    },
    /// Adds an event; an infusion needs its phases, therapy its modality, an
    /// assessment its instrument.
    Add {
        kind: EventKind,
        date: NaiveDate,
        phases: Vec<Phase>,
        modality: Option<String>,
        instrument: Option<String>,
    },
    Dose {
        event_id: Uuid,
        phases: Vec<Phase>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditRequest {
    pub edit: PlanEdit,
    pub reason: String,
    pub acknowledge_deviation: bool,
}

/// Why an edit, a new plan or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// The edit leaves the protocol; repeat it with `acknowledge_deviation`.
    #[error("acknowledge_deviation: this change deviates from the protocol: {}", .0.join("; "))]
    Deviation(Vec<String>),
    /// The plan or event is in a state that does not allow this.
    #[error("{0}")]
    NotAllowed(String),
}

/// What an accepted edit produces: the new plan, the history entry, and the
/// events it created or changed (the ones to store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditOutcome {
    pub plan: Plan,
    pub change: PlanChange,
    pub changed_events: Vec<Uuid>,
}

/// Longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// Makes the plan for `patient` from `protocol`, starting on `start` (day 0).
/// The patient must be eligible (a signed eligibility decision) with at least
/// one substance the protocol treats. `new_id` gives fresh ids.
pub fn new_plan(
    protocol: &Protocol,
    patient: &Patient,
    start: NaiveDate,
    actor: Uuid,
    now: DateTime<Utc>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<(Plan, PlanChange), PlanError> {
    if patient.details.status != PatientStatus::Eligible {
        return Err(PlanError::NotAllowed(format!(
            "patient: a plan needs a patient whose eligibility is signed (status eligible); this patient's status is {}",
            patient.details.status.as_str()
        )));
    }
    let def = protocol.definition();
    let treats = |s: &crate::patient::Substance| def.substances.iter().any(|t| t == s.as_str());
    if !patient.details.substances.iter().any(treats) {
        let patient_substances: Vec<&str> = patient
            .details
            .substances
            .iter()
            .map(|s| s.as_str())
            .collect();
        return Err(PlanError::Invalid(FieldErrors::one(
            "protocol_id",
            format!(
                "{} treats {}; the patient's substances are {}",
                protocol.id(),
                def.substances.join(", "),
                if patient_substances.is_empty() {
                    "not recorded".to_string()
                } else {
                    patient_substances.join(", ")
                }
            ),
        )));
    }
    let planned = crate::protocol::plan(protocol, start)
        .map_err(|e| PlanError::Invalid(FieldErrors::one("start_date", e.to_string())))?;
    let plan_id = new_id();
    let header = PlanHeader {
        id: plan_id,
        patient_id: patient.id,
        protocol_id: protocol.id().to_string(),
        protocol_version: i64::from(def.version),
        start_date: start,
        created_by: actor,
        created_at: now,
        signed_by: None,
        signed_at: None,
        signed_version: None,
        ended_by: None,
        ended_at: None,
        end_reason: None,
        version: 1,
    };
    let mut events = Vec::with_capacity(planned.len());
    for (idx, planned) in planned.into_iter().enumerate() {
        let mut event = PlanEvent {
            id: new_id(),
            plan_id,
            seq: i64::try_from(idx).unwrap_or(i64::MAX).saturating_add(1),
            kind: planned.kind,
            status: EventStatus::Planned,
            origin: EventOrigin::Protocol,
            protocol_date: Some(planned.date),
            date: planned.date,
            infusion_number: None,
            phases: Vec::new(),
            window: None,
            modality: None,
            instrument: None,
            deviations: Vec::new(),
        };
        match planned.detail {
            EventDetail::None => {}
            EventDetail::Infusion(infusion) => {
                event.infusion_number = i64::try_from(infusion.number).ok();
                event.phases = infusion.phases;
                event.window = Some(infusion.window.unwrap_or((planned.date, planned.date)));
            }
            EventDetail::Therapy { modality } => event.modality = Some(modality),
            EventDetail::Assessment { instrument } => event.instrument = Some(instrument),
        }
        events.push(event);
    }
    let change = PlanChange {
        id: new_id(),
        plan_id,
        version: 1,
        action: ChangeAction::Create,
        event_id: None,
        summary: format!(
            "plan made from {} version {} starting {start}, {} events",
            protocol.id(),
            def.version,
            events.len()
        ),
        reason: None,
        deviations: Vec::new(),
        changed_by: actor,
        changed_at: now,
    };
    Ok((Plan { header, events }, change))
}

fn reason_text(reason: &str) -> Result<String, PlanError> {
    let trimmed = reason.trim();
    if trimmed.is_empty() {
        return Err(PlanError::Invalid(FieldErrors::one(
            "reason",
            "required: say why the plan changes",
        )));
    }
    if trimmed.chars().count() > MAX_REASON_CHARS {
        return Err(PlanError::Invalid(FieldErrors::one(
            "reason",
            format!("at most {MAX_REASON_CHARS} characters"),
        )));
    }
    Ok(trimmed.to_string())
}

fn editable(plan: &Plan) -> Result<(), PlanError> {
    if plan.header.state() == PlanState::Ended {
        return Err(PlanError::NotAllowed(
            "plan: this plan has ended and can no longer change".into(),
        ));
    }
    Ok(())
}

/// Checks phases of an infusion against the plausibility limits: every phase
/// a positive dose and length, the totals within the limits.
fn check_phases(phases: &[Phase], limits: &PlausibilityLimits) -> Result<(), PlanError> {
    let mut errors = Vec::new();
    if phases.is_empty() {
        errors.push(FieldError::new(
            "phases",
            "an infusion needs at least one phase (dose_mg_per_kg and minutes)",
        ));
    }
    for (idx, phase) in phases.iter().enumerate() {
        if !phase.dose_mg_per_kg.is_positive() {
            errors.push(FieldError::new(
                format!("phases[{idx}].dose_mg_per_kg"),
                "must be more than 0",
            ));
        }
        if phase.minutes <= 0 {
            errors.push(FieldError::new(
                format!("phases[{idx}].minutes"),
                "must be more than 0",
            ));
        }
    }
    if errors.is_empty() {
        let total = total_dose(phases).and_then(|d| {
            Exact::integer(i128::from(d.micros())).checked_div(Exact::integer(1_000_000))
        });
        let minutes = phases
            .iter()
            .try_fold(0i64, |sum, p| sum.checked_add(p.minutes))
            .map(|m| Exact::integer(i128::from(m)));
        let within = |value: &Exact, (low, high): &(Exact, Exact)| {
            value.cmp_value(*low).is_ge() && value.cmp_value(*high).is_le()
        };
        match total {
            Some(total) if within(&total, &limits.dose_mg_per_kg) => {}
            _ => errors.push(FieldError::new(
                "dose_mg_per_kg",
                format!(
                    "the total dose must be within the plausibility limits {}–{} mg/kg",
                    limits.dose_mg_per_kg.0.to_decimal(),
                    limits.dose_mg_per_kg.1.to_decimal()
                ),
            )),
        }
        match minutes {
            Some(minutes) if within(&minutes, &limits.minutes) => {}
            _ => errors.push(FieldError::new(
                "minutes",
                format!(
                    "the total length must be within the plausibility limits {}–{} minutes",
                    limits.minutes.0.to_decimal(),
                    limits.minutes.1.to_decimal()
                ),
            )),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Invalid(FieldErrors(errors)))
    }
}

/// How an infusion's phases leave the protocol, in words (empty when they do not).
pub fn dose_deviations(protocol: &Protocol, phases: &[Phase]) -> Vec<String> {
    let infusions = &protocol.definition().infusions;
    let mut out = Vec::new();
    let Some(total) = total_dose(phases) else {
        return out;
    };
    let minutes: i64 = phases
        .iter()
        .fold(0i64, |sum, p| sum.saturating_add(p.minutes));
    match infusions.max_dose_mg_per_kg {
        Some(max) if total > max => out.push(format!(
            "dose {total} mg/kg is above the protocol's maximum {max} mg/kg"
        )),
        Some(_) => {}
        None if total != infusions.dose_mg_per_kg => out.push(format!(
            "dose {total} mg/kg differs from the protocol's {} mg/kg",
            infusions.dose_mg_per_kg
        )),
        None => {}
    }
    if minutes != infusions.minutes {
        out.push(format!(
            "length {minutes} min differs from the protocol's {} min",
            infusions.minutes
        ));
    } else if phases.len() != infusions.phases.len()
        || phases
            .iter()
            .zip(&infusions.phases)
            .any(|(a, b)| a.minutes != b.minutes)
    {
        let protocol_phases: Vec<String> = infusions
            .phases
            .iter()
            .map(|p| format!("{} mg/kg over {} min", p.dose_mg_per_kg, p.minutes))
            .collect();
        out.push(format!(
            "phases differ from the protocol's ({})",
            protocol_phases.join(", then ")
        ));
    }
    out
}

/// How the active infusions of `events` leave the protocol's spacing and
/// count, and how `event` sits against its window, in words.
fn schedule_deviations(
    protocol: &Protocol,
    events: &[PlanEvent],
    event: Option<&PlanEvent>,
) -> Vec<String> {
    let infusions = &protocol.definition().infusions;
    let mut out = Vec::new();
    if let Some(event) = event.filter(|e| e.kind == EventKind::Infusion) {
        if let Some((earliest, latest)) = event.window {
            if event.date < earliest || event.date > latest {
                let label = infusion_label(event);
                if earliest == latest {
                    out.push(format!(
                        "{label} on {} is off the protocol's day {earliest}",
                        event.date
                    ));
                } else {
                    out.push(format!(
                        "{label} on {} is outside the protocol's window {earliest} to {latest}",
                        event.date
                    ));
                }
            }
        }
    }
    let mut dates: Vec<NaiveDate> = events
        .iter()
        .filter(|e| e.kind == EventKind::Infusion && e.is_active())
        .map(|e| e.date)
        .collect();
    dates.sort();
    for pair in dates.windows(2) {
        let gap = (pair[1] - pair[0]).num_days();
        if let Some(min) = infusions.min_spacing_days.filter(|min| gap < *min) {
            out.push(format!(
                "infusions on {} and {} are {gap} days apart, fewer than the protocol's {min}",
                pair[0], pair[1]
            ));
        }
        if let Some(max) = infusions.max_spacing_days.filter(|max| gap > *max) {
            out.push(format!(
                "infusions on {} and {} are {gap} days apart, more than the protocol's {max}",
                pair[0], pair[1]
            ));
        }
    }
    let count = i64::try_from(dates.len()).unwrap_or(i64::MAX);
    if count > infusions.count {
        out.push(format!(
            "{count} infusions planned, more than the protocol's {}",
            infusions.count
        ));
    }
    out
}

fn infusion_label(event: &PlanEvent) -> String {
    match event.infusion_number {
        Some(n) => format!("infusion {n}"),
        None => "infusion".to_string(),
    }
}

fn event_label(event: &PlanEvent) -> String {
    match event.kind {
        EventKind::Infusion => infusion_label(event),
        EventKind::Therapy => format!("{} session", event.modality.as_deref().unwrap_or("therapy")),
        EventKind::Assessment => {
            format!("{} assessment", event.instrument.as_deref().unwrap_or(""))
        }
        other => other.as_str().replace('_', "-"),
    }
}

fn phases_text(phases: &[Phase]) -> String {
    phases
        .iter()
        .map(|p| format!("{} mg/kg over {} min", p.dose_mg_per_kg, p.minutes))
        .collect::<Vec<_>>()
        .join(", then ")
}

fn sort_events(events: &mut [PlanEvent]) {
    events.sort_by_key(|e| (e.date, e.kind, e.seq));
}

/// Applies one edit. Nothing is changed when it is refused.
pub fn apply_edit(
    plan: &Plan,
    protocol: &Protocol,
    request: &EditRequest,
    limits: &PlausibilityLimits,
    actor: Uuid,
    now: DateTime<Utc>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<EditOutcome, PlanError> {
    editable(plan)?;
    if plan.header.protocol_id != protocol.id() {
        return Err(PlanError::NotAllowed(format!(
            "protocol: this plan follows {}, not {}",
            plan.header.protocol_id,
            protocol.id()
        )));
    }
    let reason = reason_text(&request.reason)?;
    let mut events = plan.events.clone();
    let find = |events: &[PlanEvent], id: Uuid| -> Result<usize, PlanError> {
        events.iter().position(|e| e.id == id).ok_or_else(|| {
            PlanError::Invalid(FieldErrors::one("event_id", "no such event in this plan"))
        })
    };
    let unlocked = |event: &PlanEvent| -> Result<(), PlanError> {
        if event.is_locked() {
            Err(PlanError::NotAllowed(format!(
                "event_id: {} is {}; a plan edit cannot change it (reschedule or cancel the booking instead)",
                event_label(event),
                event.status.as_str()
            )))
        } else {
            Ok(())
        }
    };
    let not_before_start = |date: NaiveDate| -> Result<(), PlanError> {
        if date < plan.header.start_date {
            Err(PlanError::Invalid(FieldErrors::one(
                "date",
                format!(
                    "must be on or after the plan's start date {}",
                    plan.header.start_date
                ),
            )))
        } else {
            Ok(())
        }
    };
    let (action, event_id, summary, deviations) = match &request.edit {
        PlanEdit::Move { event_id, date } => {
            let idx = find(&events, *event_id)?;
            unlocked(&events[idx])?;
            not_before_start(*date)?;
            if events[idx].date == *date {
                return Err(PlanError::Invalid(FieldErrors::one(
                    "date",
                    format!("the event is already on {date}"),
                )));
            }
            let from = events[idx].date;
            events[idx].date = *date;
            let deviations = schedule_deviations(protocol, &events, Some(&events[idx]));
            let summary = format!("{} moved from {from} to {date}", event_label(&events[idx]));
            (ChangeAction::Move, Some(*event_id), summary, deviations)
        }
        PlanEdit::Skip { event_id } => {
            let idx = find(&events, *event_id)?;
            unlocked(&events[idx])?;
            if events[idx].status == EventStatus::Skipped {
                return Err(PlanError::NotAllowed(
                    "event_id: the event is skipped already".into(),
                ));
            }
            events[idx].status = EventStatus::Skipped;
            let summary = format!(
                "{} on {} skipped",
                event_label(&events[idx]),
                events[idx].date
            );
            (ChangeAction::Skip, Some(*event_id), summary, Vec::new())
        }
        PlanEdit::Restore { event_id } => {
            let idx = find(&events, *event_id)?;
            if events[idx].status != EventStatus::Skipped {
                return Err(PlanError::NotAllowed(
                    "event_id: only a skipped event can be restored".into(),
                ));
            }
            events[idx].status = EventStatus::Planned;
            let deviations = schedule_deviations(protocol, &events, Some(&events[idx]));
            let summary = format!(
                "{} on {} restored",
                event_label(&events[idx]),
                events[idx].date
            );
            (ChangeAction::Restore, Some(*event_id), summary, deviations)
        }
        PlanEdit::Dose { event_id, phases } => {
            let idx = find(&events, *event_id)?;
            unlocked(&events[idx])?;
            if events[idx].kind != EventKind::Infusion {
                return Err(PlanError::Invalid(FieldErrors::one(
                    "event_id",
                    "only an infusion has a dose",
                )));
            }
            check_phases(phases, limits)?;
            if events[idx].phases == *phases {
                return Err(PlanError::Invalid(FieldErrors::one(
                    "phases",
                    "the dose is unchanged",
                )));
            }
            let before = phases_text(&events[idx].phases);
            events[idx].phases = phases.clone();
            let summary = format!(
                "{} dose changed from {before} to {}",
                event_label(&events[idx]),
                phases_text(phases)
            );
            (
                ChangeAction::Dose,
                Some(*event_id),
                summary,
                dose_deviations(protocol, phases),
            )
        }
        PlanEdit::Add {
            kind,
            date,
            phases,
            modality,
            instrument,
        } => {
            not_before_start(*date)?;
            let seq = events
                .iter()
                .map(|e| e.seq)
                .max()
                .unwrap_or(0)
                .saturating_add(1);
            let mut event = PlanEvent {
                id: new_id(),
                plan_id: plan.header.id,
                seq,
                kind: *kind,
                status: EventStatus::Planned,
                origin: EventOrigin::Added,
                protocol_date: None,
                date: *date,
                infusion_number: None,
                phases: Vec::new(),
                window: None,
                modality: None,
                instrument: None,
                deviations: Vec::new(),
            };
            let mut deviations = Vec::new();
            match kind {
                EventKind::Infusion => {
                    check_phases(phases, limits)?;
                    let number = events
                        .iter()
                        .filter(|e| e.kind == EventKind::Infusion)
                        .count();
                    event.infusion_number = i64::try_from(number).ok().map(|n| n.saturating_add(1));
                    event.phases = phases.clone();
                    deviations.extend(dose_deviations(protocol, phases));
                }
                EventKind::Therapy => {
                    let given = modality.as_deref().map(str::trim).filter(|m| !m.is_empty());
                    let default = protocol
                        .definition()
                        .therapy
                        .as_ref()
                        .map(|t| t.modality.clone());
                    match given.map(str::to_string).or(default) {
                        Some(m) => event.modality = Some(m),
                        None => {
                            return Err(PlanError::Invalid(FieldErrors::one(
                                "modality",
                                "required: this protocol has no therapy to copy it from",
                            )));
                        }
                    }
                }
                EventKind::Assessment => match instrument
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                {
                    Some(i) => event.instrument = Some(i.to_string()),
                    None => {
                        return Err(PlanError::Invalid(FieldErrors::one(
                            "instrument",
                            "required for an assessment",
                        )));
                    }
                },
                EventKind::Inpatient | EventKind::Integration | EventKind::FollowUp => {}
            }
            if *kind != EventKind::Infusion && !phases.is_empty() {
                return Err(PlanError::Invalid(FieldErrors::one(
                    "phases",
                    "only an infusion has a dose",
                )));
            }
            let summary = format!("{} added on {date}", event_label(&event));
            let id = event.id;
            events.push(event);
            let idx = events.len() - 1;
            deviations.extend(schedule_deviations(protocol, &events, Some(&events[idx])));
            (ChangeAction::Add, Some(id), summary, deviations)
        }
    };
    // Spacing and count deviations that were there before this edit are not new.
    let before = schedule_deviations(protocol, &plan.events, None);
    let new_deviations: Vec<String> = deviations
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    if !new_deviations.is_empty() && !request.acknowledge_deviation {
        return Err(PlanError::Deviation(new_deviations));
    }
    let version = plan.header.version.saturating_add(1);
    if let Some(id) = event_id {
        if let Some(event) = events.iter_mut().find(|e| e.id == id) {
            for d in &new_deviations {
                if !event.deviations.contains(d) {
                    event.deviations.push(d.clone());
                }
            }
        }
    }
    sort_events(&mut events);
    let header = PlanHeader {
        version,
        ..plan.header.clone()
    };
    let change = PlanChange {
        id: new_id(),
        plan_id: plan.header.id,
        version,
        action,
        event_id,
        summary,
        reason: Some(reason),
        deviations: new_deviations,
        changed_by: actor,
        changed_at: now,
    };
    Ok(EditOutcome {
        plan: Plan { header, events },
        change,
        changed_events: event_id.into_iter().collect(),
    })
}

/// The physician signs the plan as it stands.
pub fn sign(
    plan: &Plan,
    actor: Uuid,
    now: DateTime<Utc>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<(PlanHeader, PlanChange), PlanError> {
    editable(plan)?;
    if plan.header.state() == PlanState::Signed {
        return Err(PlanError::NotAllowed(
            "plan: this version is signed already".into(),
        ));
    }
    let version = plan.header.version.saturating_add(1);
    let header = PlanHeader {
        signed_by: Some(actor),
        signed_at: Some(now),
        signed_version: Some(version),
        version,
        ..plan.header.clone()
    };
    let active = plan.events.iter().filter(|e| e.is_active()).count();
    let change = PlanChange {
        id: new_id(),
        plan_id: plan.header.id,
        version,
        action: ChangeAction::Sign,
        event_id: None,
        summary: format!("plan signed with {active} active events"),
        reason: None,
        deviations: Vec::new(),
        changed_by: actor,
        changed_at: now,
    };
    Ok((header, change))
}

/// Ends the plan (course finished, patient withdrew, plan replaced), with a reason.
pub fn end(
    plan: &Plan,
    reason: &str,
    actor: Uuid,
    now: DateTime<Utc>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<(PlanHeader, PlanChange), PlanError> {
    editable(plan)?;
    let reason = reason_text(reason)?;
    let version = plan.header.version.saturating_add(1);
    let header = PlanHeader {
        ended_by: Some(actor),
        ended_at: Some(now),
        end_reason: Some(reason.clone()),
        version,
        ..plan.header.clone()
    };
    let change = PlanChange {
        id: new_id(),
        plan_id: plan.header.id,
        version,
        action: ChangeAction::End,
        event_id: None,
        summary: "plan ended".into(),
        reason: Some(reason),
        deviations: Vec::new(),
        changed_by: actor,
        changed_at: now,
    };
    Ok((header, change))
}
