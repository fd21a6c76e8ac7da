//! Item wording, kept apart from the definition because many licences forbid
//! shipping it. `data/instruments/wording/<id>.toml` ships only where the
//! reference says the licence allows (clinical.md §3.2); otherwise a clinic
//! puts its licensed wording at the same path in its override directory, and
//! until then forms show item numbers (`item_label`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::instrument::definition::AnswerValue;
use crate::instrument::validate::{InvalidDefinition, Problem};
use crate::instrument::Instrument;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wording {
    /// The id of the instrument this wording belongs to.
    pub instrument: String,
    /// Why this wording may be shown (the licence, or the clinic's permission).
    pub licence: String,
    pub source: String,
    pub note: Option<String>,
    /// Text shown above the items.
    pub stem: Option<String>,
    /// Option labels shared by every item, keyed by the answer (`"0"`, `"yes"`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub items: Vec<ItemWording>,
    #[serde(default)]
    pub unscored: Vec<UnscoredWording>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemWording {
    pub number: u32,
    pub text: Option<String>,
    /// Labels for this item's options, instead of the shared ones.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnscoredWording {
    pub key: String,
    pub text: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Wording {
    pub fn item_text(&self, number: u32) -> Option<&str> {
        self.items
            .iter()
            .find(|i| i.number == number)
            .and_then(|i| i.text.as_deref())
    }

    /// The label of one option of an item: its own label, else the shared one.
    pub fn option_label(&self, number: u32, answer: &AnswerValue) -> Option<&str> {
        let key = answer.normalized().to_string();
        let own = self
            .items
            .iter()
            .find(|i| i.number == number)
            .and_then(|i| label(&i.options, &key));
        own.or_else(|| label(&self.options, &key))
    }
}

fn label<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| AnswerValue::parse(k).map(|a| a.to_string()).as_deref() == Some(key))
        .map(|(_, v)| v.as_str())
}

/// What a form shows for an item: the installed wording, or "Item N" when the
/// clinic has not installed licensed wording.
pub fn item_label(wording: Option<&Wording>, number: u32) -> String {
    wording
        .and_then(|w| w.item_text(number))
        .map_or_else(|| format!("Item {number}"), str::to_string)
}

/// Reads a wording file and checks it against its instrument: the id, item
/// numbers, and that every labelled answer is an option of the item.
pub fn parse_wording(
    file_name: &str,
    text: &str,
    instrument: &Instrument,
) -> Result<Wording, InvalidDefinition> {
    let wording: Wording =
        toml::from_str(text).map_err(|err| InvalidDefinition::from_toml(file_name, text, &err))?;
    let mut problems = Vec::new();
    let mut add = |at: String, message: String| problems.push(Problem { at, message });
    if wording.instrument != instrument.id() {
        add(
            "instrument".into(),
            format!(
                "{:?} must match the file name ({}.toml)",
                wording.instrument,
                instrument.id()
            ),
        );
    }
    if wording.licence.trim().is_empty() || wording.source.trim().is_empty() {
        add(
            "licence".into(),
            "licence and source must say why this wording may be shown".into(),
        );
    }
    let mut seen = BTreeSet::new();
    for item in &wording.items {
        if !seen.insert(item.number) {
            add(format!("item {}", item.number), "appears twice".into());
        }
        match instrument.items().iter().find(|i| i.number == item.number) {
            None => add(
                format!("item {}", item.number),
                "does not exist in the instrument".into(),
            ),
            Some(scored) => {
                let answers: Vec<AnswerValue> =
                    scored.options.iter().map(|o| o.answer.clone()).collect();
                check_labels(
                    &format!("item {}", item.number),
                    &item.options,
                    &answers,
                    &mut add,
                );
            }
        }
    }
    for item in instrument.items() {
        let has_own = wording
            .items
            .iter()
            .any(|w| w.number == item.number && !w.options.is_empty());
        if !has_own {
            let answers: Vec<AnswerValue> = item.options.iter().map(|o| o.answer.clone()).collect();
            check_labels(
                &format!("options (shared, item {})", item.number),
                &wording.options,
                &answers,
                &mut add,
            );
        }
    }
    for unscored in &wording.unscored {
        match instrument
            .unscored_items()
            .iter()
            .find(|i| i.key == unscored.key)
        {
            None => add(
                format!("unscored {}", unscored.key),
                "does not exist in the instrument".into(),
            ),
            Some(item) => check_labels(
                &format!("unscored {}", unscored.key),
                &unscored.options,
                &item.answers,
                &mut add,
            ),
        }
    }
    if problems.is_empty() {
        Ok(wording)
    } else {
        Err(InvalidDefinition {
            file: file_name.to_string(),
            problems,
        })
    }
}

fn check_labels(
    at: &str,
    labels: &BTreeMap<String, String>,
    answers: &[AnswerValue],
    add: &mut impl FnMut(String, String),
) {
    let allowed: Vec<String> = answers.iter().map(|a| a.normalized().to_string()).collect();
    for (key, text) in labels {
        let known = AnswerValue::parse(key).is_some_and(|a| allowed.contains(&a.to_string()));
        if !known {
            add(
                at.to_string(),
                format!(
                    "labels option {key:?}, which is not an option (options: {})",
                    allowed.join(", ")
                ),
            );
        }
        if text.trim().is_empty() {
            add(
                at.to_string(),
                format!("the label of option {key:?} is empty"),
            );
        }
    }
}
