//! The instrument file format (`data/instruments/<id>.toml`) exactly as read.
//!
//! These types only describe the file; `crate::instrument::validate` turns one
//! into an `Instrument` that is safe to score. Unknown fields are refused, so a
//! misspelt key (say `revers_items`) cannot silently change a score.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Stable id, also the file name: `phq-9` lives in `phq-9.toml`.
    pub id: String,
    /// Our version of this file, raised with every reviewed change.
    pub version: u32,
    pub title: String,
    pub purpose: String,
    /// The original source (author, year, journal), not our documents.
    pub citation: String,
    pub licence: String,
    pub item_wording: ItemWording,
    /// The period the respondent rates, e.g. "past 2 weeks".
    pub recall: String,
    pub rater: Rater,
    /// Where in `reference/clinical.md` the facts in this file come from.
    pub reference: String,
    /// Rated once per substance (DSM-5 criteria): the substance is recorded with the answers.
    #[serde(default)]
    pub per_substance: bool,
    pub loinc_panel: Option<Loinc>,
    pub loinc_total: Option<Loinc>,
    #[serde(default)]
    pub option_sets: BTreeMap<String, Vec<OptionDef>>,
    pub items: Vec<Item>,
    #[serde(default)]
    pub unscored_items: Vec<UnscoredItem>,
    pub scoring: Scoring,
    #[serde(default)]
    pub subscales: Vec<Subscale>,
    #[serde(default)]
    pub bands: Vec<Band>,
    #[serde(default)]
    pub flags: Vec<Flag>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// Whether the item wording may ship with ketaclinic (clinical.md §3.2) or
/// the clinic installs its licensed wording in the override directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemWording {
    Shipped,
    ClinicSupplied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rater {
    /// The patient answers (self-report).
    #[serde(rename = "self")]
    SelfReport,
    Clinician,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loinc {
    pub code: String,
    pub status: LoincStatus,
}

/// How sure the reference is of a LOINC code (clinical.md §3 conventions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoincStatus {
    /// "V": confirmed in HL7, Synthea or terminology-checked material.
    Verified,
    /// "S": seen only in third-party code.
    ThirdParty,
    /// Marked UNVERIFIED in the reference.
    Unverified,
}

/// What the form records for an option: the number printed beside it, or a
/// word such as `yes`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AnswerValue {
    Number(i64),
    Word(String),
}

impl std::fmt::Display for AnswerValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerValue::Number(n) => write!(f, "{n}"),
            AnswerValue::Word(w) => write!(f, "{w}"),
        }
    }
}

impl AnswerValue {
    /// Reads an answer as typed: a whole number (`2`, `+4`, `-5`) or a word,
    /// compared without regard to case.
    pub fn parse(text: &str) -> Option<AnswerValue> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(n) = text.parse::<i64>() {
            return Some(AnswerValue::Number(n));
        }
        Some(AnswerValue::Word(text.to_lowercase()))
    }

    /// The same answer in its canonical form (words in lower case).
    pub fn normalized(&self) -> AnswerValue {
        match self {
            AnswerValue::Number(n) => AnswerValue::Number(*n),
            AnswerValue::Word(w) => AnswerValue::Word(w.trim().to_lowercase()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionDef {
    pub answer: AnswerValue,
    /// Points this option adds to the total; absent for unscored items.
    pub points: Option<i64>,
}

/// An item's options: the name of an option set, or the options themselves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OptionsRef {
    Set(String),
    Inline(Vec<OptionDef>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// 1, 2, 3… in order, as printed on the form.
    pub number: u32,
    pub options: OptionsRef,
    /// What the item is about, in our words, for staff (never shown as the question).
    pub topic: Option<String>,
    pub loinc: Option<Loinc>,
}

/// An item that is recorded but adds nothing to the total (PHQ-9 difficulty).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnscoredItem {
    pub key: String,
    pub options: OptionsRef,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    pub total: TotalRule,
    /// Lowest and highest possible total; checked against the items.
    pub range: Option<[i64; 2]>,
    /// Items whose points run backwards: points = lowest + highest − printed points.
    #[serde(default)]
    pub reverse_items: Vec<u32>,
    /// Scoring facts the reference lacks. While any is listed the instrument
    /// records answers but refuses to score ("needs clinic setting").
    #[serde(default)]
    pub unset: Vec<String>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotalRule {
    /// The total is the sum of the items' points.
    Sum,
    /// No total: each item is read on its own (readiness ruler).
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscale {
    pub id: String,
    pub title: String,
    pub items: Vec<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub name: String,
    pub min: i64,
    pub max: i64,
    /// Set when the cut-offs differ by sex (AUDIT-C): `female` or `male`.
    pub sex: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// Stable id, e.g. `suicide_risk`, `positive_screen`.
    pub id: String,
    pub when: Condition,
    /// Roles whose dashboards show the alert.
    pub alerts: Vec<String>,
    /// What happened, why it matters and what to do.
    pub message: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    ItemAtLeast { item: u32, points: i64 },
    TotalAtLeast { points: i64 },
    BandIn { bands: Vec<String> },
}

/// A yes/no rule over item counts, such as the PCL-5 provisional diagnosis.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub title: String,
    /// An item counts as endorsed when its points are at least this.
    pub endorsed_at: i64,
    /// Every requirement must hold.
    pub requires: Vec<ItemCount>,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemCount {
    pub items: Vec<u32>,
    pub at_least: u32,
}
