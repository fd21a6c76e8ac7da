//! Protocol-defined relapse: the definition (what counts, whether dropout
//! counts, the index date, the end of follow-up), the evaluator that
//! proposes lapse, relapse and dropout events with their evidence, and time
//! to relapse from the events a clinician confirmed.
//!
//! Definitions (clinical.md §4.2, §4.4). A lapse is a single, discrete use
//! after starting abstinence; a relapse is what the protocol says it is.
//! Dakwar 2019: first cocaine use (self-report or urine) or dropout — the
//! only structured definition the reference gives. Dakwar 2020 counts
//! dropout but its relapse definition is not in the reference; the KARE
//! definition is not either (§9 item 2); a clinic protocol has none. Those,
//! and every index date and end of follow-up (none is in the reference),
//! are clinic settings: unset, evaluation refuses naming them.
//!
//! Evaluation. Days from every source are merged per substance
//! (`tlfb::merge_days`): unknown and unrecorded days are neither use nor
//! abstinence, and they break a run of consecutive use days. Only
//! unexplained positives count; an undetermined test (a detection window
//! unset) is listed, never counted. Events are proposed only from the index
//! date to the earlier of the last contact and the end of follow-up; a
//! relapse met by a run of days is dated on the run's first day; a test's
//! event is dated on its collection day. A use day or unexplained positive
//! that meets no relapse rule is a lapse. One proposal per kind, date and
//! substance gathers all its evidence (ties between sources are one event).
//!
//! Time to relapse (survival.md's input: whole days ≥ 0 from the index date
//! and relapsed 0/1). Only confirmed relapse or dropout events end follow-up
//! with an event; the earliest wins, and an event on the index date is day 0.
//! Without one, follow-up is censored on the earlier of the last contact and
//! the end of follow-up. Dropout is proposed as an event only when the
//! protocol counts it; otherwise a dropout is censored at the last contact.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;

use chrono::{Days, NaiveDate};
use uuid::Uuid;

use crate::outcome::measure::HeavyDrinkingRule;
use crate::outcome::tlfb::{merge_days, DayReport, DayStatus, MergedDay};
use crate::outcome::toxicology::{ClassifiedTest, DetectionWindows, Expectation, LabTest};
use crate::outcome::{
    whole_days, ContactStatus, CourseDates, DayWindow, FollowUpContact, MissingCourseDate,
    NeedsClinicSetting, Setting, Verdict,
};
use crate::patient::{SexAtBirth, Substance};
use crate::protocol::definition::IndexDate;
use crate::protocol::Protocol;

/// One way a relapse is met; a definition lists one or more (any one suffices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelapseTrigger {
    /// Any day a source reports use.
    SelfReportedUse,
    /// An unexplained positive test for the substance.
    UnexplainedPositiveTest,
    /// A heavy drinking day by the rule (alcohol only; the common AUD
    /// definition, clinical.md §4.2).
    HeavyDrinkingDay(HeavyDrinkingRule),
    /// Use on at least this many consecutive days (an unknown or unrecorded day breaks the run).
    ConsecutiveUseDays(NonZeroU32),
}

/// When follow-up for time to relapse ends, at the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpEnd {
    /// The course's last day.
    CourseEnd,
    /// The protocol's follow-up contact (e.g. 6 months after the start).
    ProtocolFollowUp,
    /// This many days after the index date.
    DaysAfterIndex(u32),
}

/// A protocol's relapse definition: each part set (with its source) or unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelapseDefinition {
    pub protocol_id: String,
    /// The substances the protocol treats.
    pub substances: Vec<Substance>,
    pub triggers: Setting<Vec<RelapseTrigger>>,
    pub dropout_is_relapse: Setting<bool>,
    pub index_date: Setting<IndexDate>,
    pub follow_up_end: Setting<FollowUpEnd>,
}

/// What the clinic has decided where the protocol is silent. `None` leaves
/// the part unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicRelapseSettings {
    /// Any one of these meets a relapse; an empty list counts as unset.
    pub triggers: Option<Vec<RelapseTrigger>>,
    pub dropout_is_relapse: Option<bool>,
    pub index_date: Option<IndexDate>,
    pub follow_up_end: Option<FollowUpEnd>,
    /// Who decided and when (e.g. "medical director, 2025-03-01"), kept as the source.
    pub set_by: String,
}

impl ClinicRelapseSettings {
    /// Nothing set: what ships.
    pub fn unset() -> ClinicRelapseSettings {
        ClinicRelapseSettings {
            triggers: None,
            dropout_is_relapse: None,
            index_date: None,
            follow_up_end: None,
            set_by: String::new(),
        }
    }
}

/// The clinic set a part the protocol already sets, to something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the protocol already sets {}: change the protocol file, not the clinic setting", .fields.join(", "))]
pub struct ContradictsProtocol {
    pub fields: Vec<&'static str>,
}

/// Dakwar 2019's definition as the protocol file words it.
const DAKWAR_2019_ID: &str = "cocaine-mbrp-dakwar2019";
const DAKWAR_2019_TEXT: &str = "first cocaine use (self-report or urine toxicology) or dropout";
/// Dakwar E et al., Am J Psychiatry 2019;176:923-930 [S1]: relapse = first
/// cocaine use (self-report by TLFB or urine toxicology) or dropout
/// (clinical.md §1.1, §4.2, VERIFIED).
const DAKWAR_2019_SOURCE: &str = "Dakwar E et al., Am J Psychiatry 2019;176:923-930: relapse = first cocaine use (self-report or urine toxicology) or dropout (clinical.md §1.1, §4.2, VERIFIED [S1])";
const FOLLOW_UP_SETTING: &str = "outcomes.relapse_follow_up";

/// The structured rule for a protocol whose definition the reference gives.
fn trial_triggers(protocol: &Protocol) -> Option<Vec<RelapseTrigger>> {
    let text = protocol.definition().outcomes.relapse_definition.as_deref();
    (protocol.id() == DAKWAR_2019_ID && text == Some(DAKWAR_2019_TEXT)).then(|| {
        vec![
            RelapseTrigger::SelfReportedUse,
            RelapseTrigger::UnexplainedPositiveTest,
        ]
    })
}

fn unset_reason(protocol: &Protocol, field: &str, otherwise: &str) -> String {
    let reason = protocol
        .unset()
        .iter()
        .find(|u| u.field == field)
        .map_or(otherwise, |u| u.reason.as_str());
    reason
        .strip_prefix("needs clinic setting: ")
        .unwrap_or(reason)
        .to_string()
}

/// The relapse definition of a protocol: the protocol file's parts where it
/// sets them (with its source), the clinic's where it does not, and unset
/// otherwise (with the protocol's own "needs clinic setting" reason).
pub fn relapse_definition(
    protocol: &Protocol,
    clinic: &ClinicRelapseSettings,
) -> Result<RelapseDefinition, ContradictsProtocol> {
    let outcomes = &protocol.definition().outcomes;
    let clinic_source = format!("clinic setting: {}", clinic.set_by);
    let mut contradicted = Vec::new();
    // An empty list of rules would make every patient relapse-free: it counts as unset.
    let clinic_triggers = clinic.triggers.as_ref().filter(|t| !t.is_empty());
    let triggers = match (trial_triggers(protocol), clinic_triggers, &outcomes.relapse_definition) {
        (Some(trial), clinic_value, _) => {
            if clinic_value.is_some_and(|c| *c != trial) {
                contradicted.push("outcomes.relapse_definition");
            }
            Setting::Set { value: trial, source: DAKWAR_2019_SOURCE.to_string() }
        }
        (None, Some(value), Some(text)) => Setting::Set { value: value.clone(), source: format!("{clinic_source}; implements the protocol's definition {text:?}") },
        (None, Some(value), None) => Setting::Set { value: value.clone(), source: clinic_source.clone() },
        (None, None, Some(text)) => Setting::Unset {
            name: "outcomes.relapse_definition".to_string(),
            reason: format!("the protocol's definition {text:?} has no structured rule here: the clinic sets which events meet it"),
        },
        (None, None, None) => Setting::Unset {
            name: "outcomes.relapse_definition".to_string(),
            reason: unset_reason(protocol, "outcomes.relapse_definition", "not in the protocol"),
        },
    };
    let dropout_is_relapse = merge_setting(
        "outcomes.dropout_is_relapse",
        outcomes.dropout_is_relapse,
        clinic.dropout_is_relapse,
        (&outcomes.source, &clinic_source),
        protocol,
        &mut contradicted,
    );
    let index_date = merge_setting(
        "outcomes.index_date",
        outcomes.index_date,
        clinic.index_date,
        (&outcomes.source, &clinic_source),
        protocol,
        &mut contradicted,
    );
    let follow_up_end = match clinic.follow_up_end {
        Some(value) => Setting::Set { value, source: clinic_source },
        None => Setting::Unset {
            name: FOLLOW_UP_SETTING.to_string(),
            reason: "the reference gives no end of follow-up for time to relapse (clinical.md §4.4): the course end, the protocol's follow-up contact or days after the index date".to_string(),
        },
    };
    if !contradicted.is_empty() {
        return Err(ContradictsProtocol {
            fields: contradicted,
        });
    }
    Ok(RelapseDefinition {
        protocol_id: protocol.id().to_string(),
        substances: protocol
            .definition()
            .substances
            .iter()
            .filter_map(|s| Substance::parse(s).ok())
            .collect(),
        triggers,
        dropout_is_relapse,
        index_date,
        follow_up_end,
    })
}

/// The protocol's value with the protocol's source, else the clinic's with
/// the clinic's, else unset; a clinic value that differs from the protocol's
/// is recorded in `contradicted`.
fn merge_setting<T: Copy + PartialEq>(
    field: &'static str,
    from_protocol: Option<T>,
    from_clinic: Option<T>,
    (protocol_source, clinic_source): (&str, &str),
    protocol: &Protocol,
    contradicted: &mut Vec<&'static str>,
) -> Setting<T> {
    match (from_protocol, from_clinic) {
        (Some(value), clinic_value) => {
            if clinic_value.is_some_and(|c| c != value) {
                contradicted.push(field);
            }
            Setting::Set {
                value,
                source: protocol_source.to_string(),
            }
        }
        (None, Some(value)) => Setting::Set {
            value,
            source: clinic_source.to_string(),
        },
        (None, None) => Setting::Unset {
            name: field.to_string(),
            reason: unset_reason(protocol, field, "not in the protocol"),
        },
    }
}

/// Why a relapse evaluation cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelapseError {
    #[error("{}", .0.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("; "))]
    NeedsClinicSetting(Vec<NeedsClinicSetting>),
    #[error(transparent)]
    MissingCourseDate(#[from] MissingCourseDate),
    #[error("the end of follow-up is too late for the calendar")]
    OutOfCalendar,
    /// Nothing to observe: the last contact or the end of follow-up comes before the index date.
    #[error("not followed after the index date {index}: last contact {last_contact}, end of follow-up {follow_up_end}")]
    NotFollowedAfterIndex {
        index: NaiveDate,
        last_contact: NaiveDate,
        follow_up_end: NaiveDate,
    },
    #[error("the patient has none of the protocol's substances ({})", .protocol.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))]
    NoProtocolSubstance { protocol: Vec<Substance> },
}

wire_enum!(
    /// A proposed event.
    EventKind, "kind" {
        Lapse => "lapse",
        Relapse => "relapse",
        Dropout => "dropout",
    }
);

/// Identifies a proposal, so a clinician's decision can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    pub date: NaiveDate,
    pub kind: EventKind,
    /// `None` for dropout.
    pub substance: Option<Substance>,
}

/// A test behind a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestEvidence {
    pub test: LabTest,
    /// The earliest day the use could have been (collection day minus the
    /// detection window), when the clinic set the window: a day before the
    /// index date means the positive may reflect use before it.
    pub earliest_use: Option<NaiveDate>,
}

/// What a proposal rests on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence {
    /// Which rule each piece met, in words.
    pub reasons: Vec<String>,
    pub days: Vec<DayReport>,
    pub tests: Vec<TestEvidence>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedEvent {
    pub key: EventKey,
    /// Whole days from the index date (0 on the index date).
    pub day: u32,
    pub evidence: Evidence,
}

/// Everything the evaluator reads for one patient.
#[derive(Debug, Clone, Copy)]
pub struct RelapseFacts<'a> {
    pub patient_substances: &'a [Substance],
    pub sex_at_birth: SexAtBirth,
    pub reports: &'a [DayReport],
    pub tests: &'a [ClassifiedTest],
    pub windows: &'a DetectionWindows,
    pub course: &'a CourseDates,
    pub contact: FollowUpContact,
}

/// The evaluator's output: proposals for a clinician, in date order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposals {
    pub index: NaiveDate,
    pub last_contact: NaiveDate,
    pub follow_up_end: NaiveDate,
    /// The last day observed: the earlier of the last contact and the end of follow-up.
    pub observed_until: NaiveDate,
    pub events: Vec<ProposedEvent>,
    /// Positives a detection window would decide: counted neither way.
    pub undetermined_tests: Vec<Uuid>,
}

/// Proposes lapse, relapse and dropout events for one patient, over the
/// substances both the protocol and the patient have. Refuses, naming every
/// unset part, while the definition is incomplete.
pub fn propose(
    definition: &RelapseDefinition,
    facts: &RelapseFacts<'_>,
) -> Result<Proposals, RelapseError> {
    let triggers = definition.triggers.require();
    let dropout = definition.dropout_is_relapse.require();
    let index_date = definition.index_date.require();
    let follow_up = definition.follow_up_end.require();
    let (triggers, dropout_is_relapse, index_date, follow_up) =
        match (triggers, dropout, index_date, follow_up) {
            (Ok(t), Ok(d), Ok(i), Ok(f)) => (t, *d, *i, *f),
            (t, d, i, f) => {
                let needs = [t.err(), d.err(), i.err(), f.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                return Err(RelapseError::NeedsClinicSetting(needs));
            }
        };
    let index = facts.course.index(index_date)?;
    let follow_up_end = match follow_up {
        FollowUpEnd::CourseEnd => facts.course.course_end,
        FollowUpEnd::ProtocolFollowUp => facts
            .course
            .protocol_follow_up
            .ok_or(MissingCourseDate("protocol_follow_up"))?,
        FollowUpEnd::DaysAfterIndex(days) => index
            .checked_add_days(Days::new(u64::from(days)))
            .ok_or(RelapseError::OutOfCalendar)?,
    };
    let last_contact = facts.contact.last_contact;
    let observed_until = last_contact.min(follow_up_end);
    let observed =
        DayWindow::new(index, observed_until).ok_or(RelapseError::NotFollowedAfterIndex {
            index,
            last_contact,
            follow_up_end,
        })?;
    let substances: Vec<Substance> = definition
        .substances
        .iter()
        .copied()
        .filter(|s| facts.patient_substances.contains(s))
        .collect();
    if substances.is_empty() {
        return Err(RelapseError::NoProtocolSubstance {
            protocol: definition.substances.clone(),
        });
    }
    let mut events: BTreeMap<EventKey, Evidence> = BTreeMap::new();
    let mut undetermined_tests = Vec::new();
    for substance in substances {
        let days = merge_days(facts.reports, substance, observed);
        let mut covered: BTreeMap<NaiveDate, NaiveDate> = BTreeMap::new();
        let relapse_key = |date| EventKey {
            date,
            kind: EventKind::Relapse,
            substance: Some(substance),
        };
        for trigger in triggers {
            for (start, run, reason) in relapse_days(trigger, substance, facts.sex_at_birth, &days)
            {
                let evidence = events.entry(relapse_key(start)).or_default();
                evidence.reasons.push(reason);
                for day in run {
                    covered.insert(day.date, start);
                    evidence.days.extend(day.reports.iter().copied());
                }
            }
        }
        let mut lapses: Vec<(NaiveDate, Evidence)> = Vec::new();
        for day in days
            .iter()
            .filter(|d| d.status == DayStatus::Use && !covered.contains_key(&d.date))
        {
            lapses.push((
                day.date,
                Evidence {
                    reasons: vec!["reported use that meets no relapse rule".to_string()],
                    days: day.reports.clone(),
                    tests: Vec::new(),
                },
            ));
        }
        let counts_tests = triggers.contains(&RelapseTrigger::UnexplainedPositiveTest);
        let mut tests: Vec<&ClassifiedTest> = facts
            .tests
            .iter()
            .filter(|t| {
                t.test.analyte.substance() == Some(substance)
                    && observed.contains(t.test.collected_on())
            })
            .collect();
        tests.sort_by_key(|t| (t.test.collected_at, t.test.analyte, t.test.id));
        for classified in tests {
            let test = classified.test;
            match classified.expectation {
                Expectation::Unexplained => {}
                Expectation::Undetermined(_) => {
                    undetermined_tests.push(test.id);
                    continue;
                }
                Expectation::NotPositive | Expectation::Expected(_) => continue,
            }
            let on = test.collected_on();
            let earliest_use = facts
                .windows
                .days(test.analyte)
                .ok()
                .and_then(|days| on.checked_sub_days(Days::new(u64::from(days))));
            let item = TestEvidence { test, earliest_use };
            if counts_tests {
                let evidence = events.entry(relapse_key(on)).or_default();
                evidence
                    .reasons
                    .push(format!("unexplained positive {}", test.analyte.as_str()));
                evidence.tests.push(item);
            } else {
                let reason = format!(
                    "unexplained positive {} that meets no relapse rule",
                    test.analyte.as_str()
                );
                lapses.push((
                    on,
                    Evidence {
                        reasons: vec![reason],
                        days: Vec::new(),
                        tests: vec![item],
                    },
                ));
            }
        }
        for (date, lapse) in lapses {
            // A lapse on a day a relapse already covers adds to that relapse.
            let key = match covered.get(&date) {
                Some(start) => relapse_key(*start),
                None if events.contains_key(&relapse_key(date)) => relapse_key(date),
                None => EventKey {
                    date,
                    kind: EventKind::Lapse,
                    substance: Some(substance),
                },
            };
            let evidence = events.entry(key).or_default();
            evidence.reasons.extend(lapse.reasons);
            evidence.days.extend(lapse.days);
            evidence.tests.extend(lapse.tests);
        }
    }
    if dropout_is_relapse
        && facts.contact.status == ContactStatus::DroppedOut
        && last_contact < follow_up_end
    {
        events.insert(
            EventKey { date: last_contact, kind: EventKind::Dropout, substance: None },
            Evidence { reasons: vec![format!("dropped out; last contact {last_contact}; the protocol counts dropout as relapse")], days: Vec::new(), tests: Vec::new() },
        );
    }
    let events = events
        .into_iter()
        .map(|(key, mut evidence)| {
            evidence.reasons.dedup();
            evidence.days.sort_by_key(|d| (d.date, d.source));
            evidence.days.dedup();
            ProposedEvent {
                key,
                day: whole_days(index, key.date),
                evidence,
            }
        })
        .collect();
    Ok(Proposals {
        index,
        last_contact,
        follow_up_end,
        observed_until,
        events,
        undetermined_tests,
    })
}

/// The relapses one day-based trigger finds: (date of the relapse, the days
/// behind it, the rule met). Tests are handled by the caller.
fn relapse_days<'d>(
    trigger: &RelapseTrigger,
    substance: Substance,
    sex: SexAtBirth,
    days: &'d [MergedDay],
) -> Vec<(NaiveDate, Vec<&'d MergedDay>, String)> {
    let use_days = days.iter().filter(|d| d.status == DayStatus::Use);
    match trigger {
        RelapseTrigger::UnexplainedPositiveTest => Vec::new(),
        RelapseTrigger::SelfReportedUse => use_days
            .map(|d| (d.date, vec![d], "reported use".to_string()))
            .collect(),
        RelapseTrigger::HeavyDrinkingDay(rule) if substance == Substance::Alcohol => use_days
            .filter_map(|d| {
                let amount = d.amount.filter(|a| rule.is_heavy(*a, sex))?;
                let reason = format!(
                    "heavy drinking day: {} standard drinks (threshold {} for sex at birth {})",
                    amount.to_decimal(),
                    rule.threshold(sex).to_decimal(),
                    sex.as_str()
                );
                Some((d.date, vec![d], reason))
            })
            .collect(),
        RelapseTrigger::HeavyDrinkingDay(_) => Vec::new(),
        // `days` holds every day of the window in order, so a slice between
        // two days that are not use days is a run of consecutive use days.
        RelapseTrigger::ConsecutiveUseDays(needed) => days
            .split(|d| d.status != DayStatus::Use)
            .filter(|run| run.len() >= usize::try_from(needed.get()).unwrap_or(usize::MAX))
            .filter_map(|run| {
                let first = run.first()?;
                let reason = format!(
                    "{} consecutive use days (the definition needs {})",
                    run.len(),
                    needed.get()
                );
                Some((first.date, run.iter().collect(), reason))
            })
            .collect(),
    }
}

/// A clinician's review of one proposal, with the note they wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub key: EventKey,
    pub verdict: Verdict,
    pub note: String,
}

/// One row of the survival engine's input (survival.md: days ≥ 0, relapsed
/// 0/1; `clinic_survival::cohort::CohortBuilder::add_whole_days` takes it as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurvivalPoint {
    pub days: u32,
    pub relapsed: bool,
}

/// How follow-up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A confirmed relapse or, when the protocol counts it, a confirmed dropout.
    Event(EventKey),
    /// No confirmed event; censored at the last contact.
    CensoredAtLastContact(NaiveDate),
    /// No confirmed event; censored at the end of follow-up.
    CensoredAtFollowUpEnd(NaiveDate),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeToRelapse {
    pub point: SurvivalPoint,
    pub ending: Ending,
    /// Relapse or dropout proposals on or before the ending with no decision:
    /// while any remain, the result is provisional.
    pub pending: Vec<EventKey>,
    /// Decisions that name no current proposal (the data changed since).
    pub unmatched_decisions: Vec<EventKey>,
}

/// Time to relapse from the confirmed events only. When a proposal has more
/// than one decision, the last one given counts.
pub fn time_to_relapse(proposals: &Proposals, decisions: &[Decision]) -> TimeToRelapse {
    let mut verdicts: BTreeMap<EventKey, Verdict> = BTreeMap::new();
    for decision in decisions {
        verdicts.insert(decision.key, decision.verdict);
    }
    let proposed: BTreeSet<EventKey> = proposals.events.iter().map(|e| e.key).collect();
    let unmatched_decisions = verdicts
        .keys()
        .filter(|k| !proposed.contains(k))
        .copied()
        .collect();
    let is_event = |kind: EventKind| matches!(kind, EventKind::Relapse | EventKind::Dropout);
    let confirmed = proposals
        .events
        .iter()
        .find(|e| is_event(e.key.kind) && verdicts.get(&e.key) == Some(&Verdict::Confirmed));
    let (point, ending, end_date) = match confirmed {
        Some(event) => (
            SurvivalPoint {
                days: event.day,
                relapsed: true,
            },
            Ending::Event(event.key),
            event.key.date,
        ),
        None => {
            let end = proposals.observed_until;
            let ending = if proposals.last_contact < proposals.follow_up_end {
                Ending::CensoredAtLastContact(end)
            } else {
                Ending::CensoredAtFollowUpEnd(end)
            };
            (
                SurvivalPoint {
                    days: whole_days(proposals.index, end),
                    relapsed: false,
                },
                ending,
                end,
            )
        }
    };
    let pending = proposals
        .events
        .iter()
        .filter(|e| {
            is_event(e.key.kind) && e.key.date <= end_date && !verdicts.contains_key(&e.key)
        })
        .map(|e| e.key)
        .collect();
    TimeToRelapse {
        point,
        ending,
        pending,
        unmatched_decisions,
    }
}
