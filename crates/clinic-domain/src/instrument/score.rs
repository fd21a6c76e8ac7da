//! Scoring: answers as the form records them in, total, band, flags, each
//! item's points, subscales and rules out. A wrong answer count, an answer
//! that is not an option, or missing context is refused, never guessed.

use std::collections::BTreeMap;

use crate::field::{FieldError, FieldErrors};
use crate::instrument::definition::{AnswerValue, Condition, TotalRule};
use crate::instrument::{Instrument, ScoredItem, Sex};
use crate::patient::Substance;
use crate::user::Role;

/// What the answers alone do not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreContext {
    /// Needed where cut-offs differ by sex (AUDIT-C).
    pub sex: Option<Sex>,
    /// The substance rated, for instruments rated per substance (DSM-5 criteria).
    pub substance: Option<Substance>,
    /// Answers to unscored items by key, e.g. `difficulty` on the PHQ-9.
    pub unscored: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    pub instrument: String,
    /// `None` for an instrument without a total (readiness ruler).
    pub total: Option<i64>,
    /// `None` for an instrument without bands (PCL-5).
    pub band: Option<String>,
    pub flags: Vec<RaisedFlag>,
    /// Each item's points, in item order.
    pub items: Vec<i64>,
    /// Subscale totals, in the order the definition lists them.
    pub subscales: Vec<(String, i64)>,
    /// Each rule's outcome (PCL-5 provisional diagnosis), in definition order.
    pub rules: Vec<(String, bool)>,
    pub substance: Option<Substance>,
    /// Unscored answers, canonical form, by key.
    pub unscored: Vec<(String, AnswerValue)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaisedFlag {
    pub id: String,
    pub alerts: Vec<Role>,
    pub message: String,
}

/// Scores `answers` (one per item, in order) against a validated instrument.
pub fn score(
    instrument: &Instrument,
    answers: &[&str],
    context: &ScoreContext,
) -> Result<Score, FieldErrors> {
    let def = instrument.definition();
    if !instrument.unset_scoring_facts().is_empty() {
        return Err(FieldErrors::one(
            "instrument",
            format!(
                "{} cannot be scored yet; needs clinic setting: {}",
                def.id,
                instrument.unset_scoring_facts().join("; ")
            ),
        ));
    }
    let mut errors = Vec::new();
    let items = instrument.items();
    let points = if answers.len() == items.len() {
        item_points(items, answers, &mut errors)
    } else {
        errors.push(FieldError::new(
            "answers",
            format!(
                "{} takes {} answers (items 1–{}), got {}",
                def.id,
                items.len(),
                items.len(),
                answers.len()
            ),
        ));
        Vec::new()
    };
    if instrument.needs_sex() && context.sex.is_none() {
        errors.push(FieldError::new(
            "sex",
            format!(
                "required for {} (its cut-off differs by sex); must be one of: {}",
                def.id,
                Sex::allowed_list()
            ),
        ));
    }
    if context.substance.is_some() && !def.per_substance {
        errors.push(FieldError::new(
            "substance",
            format!("{} is not rated per substance; leave it out", def.id),
        ));
    }
    let unscored = unscored_answers(instrument, context, &mut errors);
    if !errors.is_empty() {
        return Err(FieldErrors(errors));
    }

    let total = match def.scoring.total {
        TotalRule::Sum => Some(points.iter().sum::<i64>()),
        TotalRule::None => None,
    };
    let band = total.and_then(|total| band_for(instrument, total, context.sex));
    let points_of = |number: u32| -> i64 {
        usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|idx| points.get(idx))
            .copied()
            .unwrap_or(0)
    };
    let subscales = def
        .subscales
        .iter()
        .map(|s| (s.id.clone(), s.items.iter().map(|n| points_of(*n)).sum()))
        .collect();
    let rules = def
        .rules
        .iter()
        .map(|rule| {
            let holds = rule.requires.iter().all(|req| {
                let n_endorsed = req
                    .items
                    .iter()
                    .filter(|n| points_of(**n) >= rule.endorsed_at)
                    .count();
                u32::try_from(n_endorsed).unwrap_or(u32::MAX) >= req.at_least
            });
            (rule.id.clone(), holds)
        })
        .collect();
    let flags = def
        .flags
        .iter()
        .filter(|flag| match &flag.when {
            Condition::ItemAtLeast { item, points } => points_of(*item) >= *points,
            Condition::TotalAtLeast { points } => total.is_some_and(|t| t >= *points),
            Condition::BandIn { bands } => band.as_ref().is_some_and(|b| bands.contains(b)),
        })
        .map(|flag| RaisedFlag {
            id: flag.id.clone(),
            alerts: flag
                .alerts
                .iter()
                .filter_map(|r| Role::parse(r).ok())
                .collect(),
            message: flag.message.clone(),
        })
        .collect();
    Ok(Score {
        instrument: def.id.clone(),
        total,
        band,
        flags,
        items: points,
        subscales,
        rules,
        substance: context.substance,
        unscored,
    })
}

fn item_points(items: &[ScoredItem], answers: &[&str], errors: &mut Vec<FieldError>) -> Vec<i64> {
    let mut points = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (item, typed) in items.iter().zip(answers) {
        match AnswerValue::parse(typed)
            .as_ref()
            .and_then(|answer| item.find(answer))
        {
            Some(option) => points.push(option.points),
            None => bad.push(format!(
                "item {}: {:?} is not an option; allowed: {}",
                item.number,
                typed.trim(),
                item.allowed_list()
            )),
        }
    }
    if !bad.is_empty() {
        errors.push(FieldError::new("answers", bad.join("; ")));
    }
    points
}

fn unscored_answers(
    instrument: &Instrument,
    context: &ScoreContext,
    errors: &mut Vec<FieldError>,
) -> Vec<(String, AnswerValue)> {
    let mut answers = Vec::new();
    for (key, typed) in &context.unscored {
        let Some(item) = instrument.unscored_items().iter().find(|i| &i.key == key) else {
            errors.push(FieldError::new(
                key.clone(),
                format!("{} has no {key} item", instrument.id()),
            ));
            continue;
        };
        let allowed = || {
            item.answers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found = AnswerValue::parse(typed)
            .map(|a| a.normalized())
            .filter(|a| item.answers.iter().any(|o| &o.normalized() == a));
        match found {
            Some(answer) => answers.push((key.clone(), answer)),
            None => errors.push(FieldError::new(
                key.clone(),
                format!(
                    "{:?} is not an option; allowed: {}",
                    typed.trim(),
                    allowed()
                ),
            )),
        }
    }
    answers
}

fn band_for(instrument: &Instrument, total: i64, sex: Option<Sex>) -> Option<String> {
    let sex_name = sex.map(Sex::as_str);
    instrument
        .definition()
        .bands
        .iter()
        .filter(|band| band.sex.is_none() || band.sex.as_deref() == sex_name)
        .find(|band| band.min <= total && total <= band.max)
        .map(|band| band.name.clone())
}
