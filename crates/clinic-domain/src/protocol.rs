//! Evidence-based treatment protocols (Dakwar 2019, Dakwar 2020, KARE, a
//! clinic series, …) and the dated plan one expands into.
//!
//! A protocol is data: `data/protocols/<id>.toml`, reviewed like code, with
//! every dose, count and day beside its original source. This module reads
//! such a file (`parse_protocol`), refuses a malformed or self-contradicting
//! one naming the file, the place and the problem (`validate`), and expands it
//! from a start date into dated events (`plan`). Doses are exact decimals.

pub mod decimal;
pub mod definition;
pub mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::{Days, Months, NaiveDate};

use crate::protocol::decimal::Decimal;
use crate::protocol::definition::{Anchor, AssessmentAnchor, Definition, Phase, Unset};
use crate::protocol::validate::InvalidProtocol;

wire_enum!(
    /// What a planned event is, in the order events of one day are listed.
    EventKind, "kind" {
        Inpatient => "inpatient",
        Infusion => "infusion",
        Therapy => "therapy",
        Integration => "integration",
        Assessment => "assessment",
        FollowUp => "follow_up",
    }
);

/// A definition that passed `validate`. Only `validate` makes one.
#[derive(Debug, Clone)]
pub struct Protocol {
    definition: Definition,
}

impl Protocol {
    pub fn id(&self) -> &str {
        &self.definition.id
    }

    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// Facts the reference lacks, each with its reason ("needs clinic setting: …").
    pub fn unset(&self) -> &[Unset] {
        &self.definition.unset
    }
}

/// Reads and validates one protocol file. `file_name` is the path shown in
/// errors (e.g. `protocols/clinic-series-6.toml`); its stem must equal the id.
/// `instrument_ids` are the instruments assessments may name.
pub fn parse_protocol(file_name: &str, text: &str, instrument_ids: &BTreeSet<String>) -> Result<Protocol, InvalidProtocol> {
    let definition: Definition = toml::from_str(text).map_err(|err| InvalidProtocol::from_toml(file_name, text, &err))?;
    crate::protocol::validate::validate(file_name, definition, instrument_ids)
}

/// One dated event of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub date: NaiveDate,
    pub kind: EventKind,
    pub detail: EventDetail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDetail {
    /// Inpatient days, integration sessions and the follow-up carry nothing more.
    None,
    Infusion(PlannedInfusion),
    Therapy {
        modality: String,
    },
    Assessment {
        instrument: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedInfusion {
    /// 1 for the first infusion of the protocol, 2 for the second, …
    pub number: usize,
    /// The total dose and length; `phases` add up to them.
    pub dose_mg_per_kg: Decimal,
    pub minutes: i64,
    pub phases: Vec<Phase>,
    /// The dates the infusion may move within, when the protocol gives a window.
    pub window: Option<(NaiveDate, NaiveDate)>,
}

/// The start date is so late that the plan would run past the last date the calendar holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("start: {start} is too late for this protocol's calendar")]
pub struct PlanError {
    pub start: NaiveDate,
}

/// Expands a protocol from `start` (day 0) into its dated events, sorted by
/// date, then kind (inpatient, infusion, therapy, integration, assessment,
/// follow_up), then the order of the file. The same input always gives the
/// same plan.
pub fn plan(protocol: &Protocol, start: NaiveDate) -> Result<Vec<PlannedEvent>, PlanError> {
    let def = &protocol.definition;
    let on_day = |day: i64| -> Result<NaiveDate, PlanError> { u64::try_from(day).ok().and_then(|day| start.checked_add_days(Days::new(day))).ok_or(PlanError { start }) };
    let mut events = Vec::new();
    if let Some(inpatient) = &def.inpatient {
        for day in inpatient.first_day..=inpatient.last_day {
            events.push(PlannedEvent {
                date: on_day(day)?,
                kind: EventKind::Inpatient,
                detail: EventDetail::None,
            });
        }
    }
    let infusions = &def.infusions;
    for (idx, scheduled) in infusions.schedule.iter().enumerate() {
        let window = match (scheduled.earliest_day, scheduled.latest_day) {
            (None, None) => None,
            (earliest, latest) => Some((on_day(earliest.unwrap_or(scheduled.day))?, on_day(latest.unwrap_or(scheduled.day))?)),
        };
        events.push(PlannedEvent {
            date: on_day(scheduled.day)?,
            kind: EventKind::Infusion,
            detail: EventDetail::Infusion(PlannedInfusion {
                number: idx + 1,
                dose_mg_per_kg: infusions.dose_mg_per_kg,
                minutes: infusions.minutes,
                phases: infusions.phases.clone(),
                window,
            }),
        });
    }
    if let Some(therapy) = &def.therapy {
        for day in &therapy.days {
            events.push(PlannedEvent {
                date: on_day(*day)?,
                kind: EventKind::Therapy,
                detail: EventDetail::Therapy { modality: therapy.modality.clone() },
            });
        }
    }
    if let Some(integration) = &def.integration {
        for scheduled in &infusions.schedule {
            events.push(PlannedEvent {
                date: on_day(scheduled.day.saturating_add(integration.days_after_each_infusion))?,
                kind: EventKind::Integration,
                detail: EventDetail::None,
            });
        }
    }
    for assessment in &def.assessments {
        let anchors: Vec<i64> = match assessment.relative_to {
            AssessmentAnchor::Start => vec![0],
            AssessmentAnchor::EachInfusion => infusions.schedule.iter().map(|s| s.day).collect(),
        };
        for anchor in anchors {
            let day = anchor.saturating_add(assessment.offset_hours.div_euclid(24));
            events.push(PlannedEvent {
                date: on_day(day)?,
                kind: EventKind::Assessment,
                detail: EventDetail::Assessment {
                    instrument: assessment.instrument.clone(),
                },
            });
        }
    }
    if let Some(follow_up) = &def.follow_up {
        let anchor = on_day(anchor_day(def, follow_up.anchor))?;
        let date = match (follow_up.days, follow_up.months) {
            (Some(days), _) => u64::try_from(days).ok().and_then(|days| anchor.checked_add_days(Days::new(days))),
            (None, Some(months)) => u32::try_from(months).ok().and_then(|months| anchor.checked_add_months(Months::new(months))),
            (None, None) => None,
        };
        events.push(PlannedEvent {
            date: date.ok_or(PlanError { start })?,
            kind: EventKind::FollowUp,
            detail: EventDetail::None,
        });
    }
    // A stable sort keeps the file's order among events of one date and kind.
    events.sort_by_key(|event| (event.date, event.kind));
    Ok(events)
}

/// The day an anchor names, counted from the start.
fn anchor_day(def: &Definition, anchor: Anchor) -> i64 {
    let schedule = &def.infusions.schedule;
    match anchor {
        Anchor::Start => 0,
        Anchor::FirstInfusion => schedule.first().map_or(0, |s| s.day),
        Anchor::LastInfusion => schedule.last().map_or(0, |s| s.day),
        Anchor::CourseEnd => def.course_days - 1,
    }
}
