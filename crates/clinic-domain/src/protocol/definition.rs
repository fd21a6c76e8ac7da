//! The protocol file format (`data/protocols/<id>.toml`) exactly as read.
//!
//! These types only describe the file; `crate::protocol::validate` turns one
//! into a `Protocol` that is safe to plan from. Unknown fields are refused,
//! so a misspelt key (say `dose_mg_per_kilo`) cannot silently drop a dose.
//! Day offsets count from the start date as day 0.

use serde::Deserialize;

use crate::protocol::decimal::Decimal;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Stable id, also the file name: `clinic-series-6` lives in `clinic-series-6.toml`.
    pub id: String,
    /// Our version of this file, raised with every reviewed change.
    pub version: u32,
    pub title: String,
    /// Wire names of `crate::patient::Substance` (`alcohol`, `cocaine`, …).
    pub substances: Vec<String>,
    /// `true` for a published trial's protocol, `false` for a clinic-defined one.
    pub trial_protocol: bool,
    /// Medications for opioid use disorder: required (`continue`) when
    /// `opioids` is among the substances (clinical.md §11.4).
    pub moud: Option<Moud>,
    /// The original source (author, year, journal), not our documents.
    pub citation: String,
    /// Where in `reference/clinical.md` the facts in this file come from.
    pub reference: String,
    pub notes: Option<String>,
    /// Length of the treatment course in days: days 0 to `course_days - 1`.
    pub course_days: i64,
    pub inpatient: Option<Inpatient>,
    pub infusions: Infusions,
    pub therapy: Option<Therapy>,
    pub integration: Option<Integration>,
    #[serde(default)]
    pub assessments: Vec<Assessment>,
    pub outcomes: Outcomes,
    pub follow_up: Option<FollowUp>,
    /// Optional facts the reference lacks, each with why ("needs clinic setting").
    #[serde(default)]
    pub unset: Vec<Unset>,
}

/// The only allowed value: MOUD is continued, never stopped for ketamine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moud {
    Continue,
}

/// An inpatient stay: one `inpatient` event per day, `first_day..=last_day`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inpatient {
    pub first_day: i64,
    pub last_day: i64,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Infusions {
    pub count: i64,
    /// The total dose of one infusion.
    pub dose_mg_per_kg: Decimal,
    /// The total length of one infusion.
    pub minutes: i64,
    /// In order; they add up to `dose_mg_per_kg` and `minutes` (one phase for a plain infusion).
    pub phases: Vec<Phase>,
    /// An absolute cap per infusion, unset unless the clinic sets one.
    pub max_mg: Option<Decimal>,
    /// A weight-based cap; when set, the dose may not exceed it.
    pub max_dose_mg_per_kg: Option<Decimal>,
    /// Fewest and most days between two consecutive infusions.
    pub min_spacing_days: Option<i64>,
    pub max_spacing_days: Option<i64>,
    /// One entry per infusion, in order.
    pub schedule: Vec<ScheduledInfusion>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub dose_mg_per_kg: Decimal,
    pub minutes: i64,
}

/// An infusion's default day and, when the protocol allows a choice, the window it may move within.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledInfusion {
    pub day: i64,
    pub earliest_day: Option<i64>,
    pub latest_day: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Therapy {
    pub modality: String,
    /// In words, as the source gives it ("twice weekly, three visits in week 2").
    pub frequency: String,
    pub sessions: i64,
    pub session_minutes: Option<i64>,
    /// The day of each session, ascending.
    pub days: Vec<i64>,
    /// Sessions in week 1, week 2, …; checked against `days`.
    pub sessions_per_week: Option<Vec<i64>>,
    pub source: String,
}

/// Integration sessions, one a fixed number of days after each infusion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    pub sessions: i64,
    pub days_after_each_infusion: i64,
    pub session_minutes: Option<i64>,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// An id from `data/instruments/`.
    pub instrument: String,
    pub relative_to: AssessmentAnchor,
    /// Hours after the anchor (0 = the same day, before the infusion); the plan keeps the day.
    pub offset_hours: i64,
    pub purpose: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentAnchor {
    /// Once, counted from the start date.
    Start,
    /// Once per infusion, counted from that infusion's day.
    EachInfusion,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    pub relapse_definition: Option<String>,
    pub dropout_is_relapse: Option<bool>,
    /// The day time to relapse counts from (clinical.md §4.4).
    pub index_date: Option<IndexDate>,
    #[serde(default)]
    pub windows: Vec<OutcomeWindow>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexDate {
    Start,
    FirstInfusion,
    LastInfusion,
    InpatientDischarge,
    CourseEnd,
}

/// A period an outcome is measured over: the `days`/`months` after the
/// anchor, or, for `course_end`, the ones ending on the course's last day.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeWindow {
    pub name: String,
    pub measure: String,
    pub anchor: Anchor,
    pub days: Option<i64>,
    pub months: Option<i64>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    Start,
    FirstInfusion,
    LastInfusion,
    CourseEnd,
}

/// One `follow_up` event, `days` or `months` after the anchor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    pub days: Option<i64>,
    pub months: Option<i64>,
    pub anchor: Anchor,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unset {
    /// One of `UNSETTABLE` (e.g. `infusions.max_mg`).
    pub field: String,
    /// Why: "needs clinic setting: …" or "not in reference: …".
    pub reason: String,
}

/// The optional facts a file must either set or list under `unset`, so a
/// missing value is always a decision someone wrote down.
pub const UNSETTABLE: &[&str] = &[
    "infusions.max_mg",
    "infusions.min_spacing_days",
    "infusions.max_spacing_days",
    "therapy.session_minutes",
    "integration.session_minutes",
    "outcomes.relapse_definition",
    "outcomes.dropout_is_relapse",
    "outcomes.index_date",
    "follow_up",
];
