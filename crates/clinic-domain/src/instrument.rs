//! Validated screening and rating instruments (PHQ-9, AUDIT, DAST-10, …).
//!
//! An instrument is data: `data/instruments/<id>.toml`, reviewed like code,
//! with every cut-off beside its original source. This module reads such a
//! file (`parse_definition`), refuses a malformed one naming the file, the
//! item and the problem (`validate`), and scores answers (`score`). Item
//! wording lives apart (`wording`), because many licences forbid shipping it.

pub mod definition;
pub mod score;
pub mod validate;
pub mod wording;

use std::collections::BTreeSet;

use crate::instrument::definition::{AnswerValue, Definition};
use crate::instrument::validate::InvalidDefinition;

wire_enum!(
    /// Sex for instruments whose cut-offs differ by sex (AUDIT-C, clinical.md §3.1).
    Sex, "sex" { Female => "female", Male => "male" }
);

/// A definition that passed `validate`: options resolved, reverse keying
/// applied, the total range checked. Only `validate` makes one.
#[derive(Debug, Clone)]
pub struct Instrument {
    definition: Definition,
    items: Vec<ScoredItem>,
    unscored_items: Vec<UnscoredItem>,
    total_range: Option<(i64, i64)>,
    reachable_totals: BTreeSet<i64>,
}

/// An item with its options and the points each one scores (reverse keying applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoredItem {
    pub number: u32,
    pub options: Vec<ScoredOption>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoredOption {
    pub answer: AnswerValue,
    pub points: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnscoredItem {
    pub key: String,
    pub answers: Vec<AnswerValue>,
}

impl ScoredItem {
    pub fn min_points(&self) -> i64 {
        self.options.iter().map(|o| o.points).min().unwrap_or(0)
    }

    pub fn max_points(&self) -> i64 {
        self.options.iter().map(|o| o.points).max().unwrap_or(0)
    }

    /// The option the typed answer names, if any.
    pub fn find(&self, typed: &AnswerValue) -> Option<&ScoredOption> {
        let typed = typed.normalized();
        self.options.iter().find(|o| o.answer.normalized() == typed)
    }

    pub fn allowed_list(&self) -> String {
        self.options
            .iter()
            .map(|o| o.answer.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Instrument {
    pub fn id(&self) -> &str {
        &self.definition.id
    }

    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    pub fn items(&self) -> &[ScoredItem] {
        &self.items
    }

    pub fn unscored_items(&self) -> &[UnscoredItem] {
        &self.unscored_items
    }

    /// Lowest and highest total; `None` when the instrument has no total.
    pub fn total_range(&self) -> Option<(i64, i64)> {
        self.total_range
    }

    /// Every total some set of answers produces (AUDIT's 0/2/4 items leave gaps).
    pub fn reachable_totals(&self) -> &BTreeSet<i64> {
        &self.reachable_totals
    }

    /// True when the cut-offs depend on sex (AUDIT-C), so scoring needs it.
    pub fn needs_sex(&self) -> bool {
        self.definition.bands.iter().any(|band| band.sex.is_some())
    }

    /// Scoring facts the reference lacks; non-empty means "needs clinic setting".
    pub fn unset_scoring_facts(&self) -> &[String] {
        &self.definition.scoring.unset
    }
}

/// Reads and validates one instrument file. `file_name` is the path shown in
/// errors (e.g. `instruments/phq-9.toml`); its stem must equal the id.
pub fn parse_definition(file_name: &str, text: &str) -> Result<Instrument, InvalidDefinition> {
    let definition: Definition =
        toml::from_str(text).map_err(|err| InvalidDefinition::from_toml(file_name, text, &err))?;
    crate::instrument::validate::validate(file_name, definition)
}
