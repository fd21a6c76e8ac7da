//! Refuses a malformed instrument definition, naming the file, the place
//! (item, band, flag…) and the problem, and reporting every problem at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::instrument::definition::{
    AnswerValue, Condition, Definition, Loinc, OptionDef, OptionsRef, TotalRule,
};
use crate::instrument::{Instrument, ScoredItem, ScoredOption, Sex, UnscoredItem};
use crate::user::Role;

/// One thing wrong with a definition: where (`item 3`, `band mild`, `id`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: String,
    pub message: String,
}

/// A refused definition file with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}", .problems.iter().map(|p| format!("{}: {}", p.at, p.message)).collect::<Vec<_>>().join("; "))]
pub struct InvalidDefinition {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl InvalidDefinition {
    /// A TOML syntax or shape error, on one line with its line number.
    pub fn from_toml(file_name: &str, text: &str, err: &toml::de::Error) -> InvalidDefinition {
        let at = match err.span() {
            Some(span) => format!(
                "line {}",
                text.get(..span.start).unwrap_or("").matches('\n').count() + 1
            ),
            None => "file".to_string(),
        };
        let message = err
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        InvalidDefinition {
            file: file_name.to_string(),
            problems: vec![Problem { at, message }],
        }
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            at: at.into(),
            message: message.into(),
        });
    }
}

/// Checks a definition and resolves it into an `Instrument`.
pub fn validate(file_name: &str, definition: Definition) -> Result<Instrument, InvalidDefinition> {
    let mut problems = Problems::default();
    check_header(file_name, &definition, &mut problems);
    check_option_sets(&definition, &mut problems);
    let items = resolve_items(&definition, &mut problems);
    let unscored_items = resolve_unscored(&definition, &mut problems);
    let item_numbers: BTreeSet<u32> = definition.items.iter().map(|item| item.number).collect();
    let reachable_totals = reachable(&items);
    let total_range = check_scoring(&definition, &items, &item_numbers, &mut problems);
    check_subscales(&definition, &item_numbers, &mut problems);
    let band_names = check_bands(&definition, total_range, &reachable_totals, &mut problems);
    check_flags(
        &definition,
        &items,
        total_range,
        &reachable_totals,
        &band_names,
        &mut problems,
    );
    check_rules(&definition, &items, &mut problems);
    if problems.0.is_empty() {
        Ok(Instrument {
            definition,
            items,
            unscored_items,
            total_range,
            reachable_totals,
        })
    } else {
        Err(InvalidDefinition {
            file: file_name.to_string(),
            problems: problems.0,
        })
    }
}

fn is_id(text: &str, extra: char) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
}

fn check_header(file_name: &str, def: &Definition, problems: &mut Problems) {
    if !is_id(&def.id, '-') {
        problems.add(
            "id",
            format!(
                "{:?} must be lower-case letters, digits and hyphens",
                def.id
            ),
        );
    }
    let stem = file_name
        .rsplit('/')
        .next()
        .unwrap_or(file_name)
        .trim_end_matches(".toml");
    if stem != def.id {
        problems.add(
            "id",
            format!("{:?} must match the file name ({stem}.toml)", def.id),
        );
    }
    if def.version == 0 {
        problems.add("version", "must be 1 or more");
    }
    for (field, value) in [
        ("title", &def.title),
        ("purpose", &def.purpose),
        ("citation", &def.citation),
        ("licence", &def.licence),
        ("recall", &def.recall),
        ("reference", &def.reference),
        ("scoring.source", &def.scoring.source),
    ] {
        if value.trim().is_empty() {
            problems.add(field, "must not be empty");
        }
    }
    check_loinc("loinc_panel", def.loinc_panel.as_ref(), problems);
    check_loinc("loinc_total", def.loinc_total.as_ref(), problems);
    if def.loinc_total.is_some() && def.scoring.total == TotalRule::None {
        problems.add(
            "loinc_total",
            "an instrument without a total has no total code",
        );
    }
}

fn check_loinc(at: &str, loinc: Option<&Loinc>, problems: &mut Problems) {
    let Some(loinc) = loinc else { return };
    if let Err(message) = loinc_check(&loinc.code) {
        problems.add(at, message);
    }
}

/// A LOINC code is digits, a hyphen and a mod-10 (Luhn) check digit, which
/// catches a mistyped or swapped digit in a data file.
pub fn loinc_check(code: &str) -> Result<(), String> {
    let bad = || format!("{code:?} is not a LOINC code such as 44261-6");
    let (body, check) = code.split_once('-').ok_or_else(bad)?;
    if body.is_empty()
        || check.len() != 1
        || !body
            .chars()
            .chain(check.chars())
            .all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let sum: u32 = body
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(idx, d)| {
            if idx % 2 == 0 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    let expected = (10 - sum % 10) % 10;
    if check.chars().next().and_then(|c| c.to_digit(10)) != Some(expected) {
        return Err(format!("{code:?} has a wrong check digit (expected {body}-{expected}); copy it again from the reference"));
    }
    Ok(())
}

fn check_options(at: &str, options: &[OptionDef], scored: bool, problems: &mut Problems) {
    if options.len() < 2 {
        problems.add(at, "needs at least two options");
    }
    let mut seen = BTreeSet::new();
    for option in options {
        let answer = option.answer.normalized();
        if let AnswerValue::Word(word) = &answer {
            if word.is_empty() || word.contains(',') {
                problems.add(
                    at,
                    format!("option {word:?} must be a non-empty word without commas"),
                );
            } else if word.parse::<i64>().is_ok() {
                problems.add(
                    at,
                    format!("option \"{word}\" is a number: write it without quotes"),
                );
            }
        }
        if !seen.insert(answer.to_string()) {
            problems.add(at, format!("option {} appears twice", option.answer));
        }
        match (scored, option.points) {
            (true, None) => problems.add(at, format!("option {} has no points", option.answer)),
            (false, Some(_)) => problems.add(
                at,
                format!(
                    "option {} is unscored and must not have points",
                    option.answer
                ),
            ),
            _ => {}
        }
    }
}

fn check_option_sets(def: &Definition, problems: &mut Problems) {
    let set_name = |options: &OptionsRef| match options {
        OptionsRef::Set(name) => Some(name.clone()),
        OptionsRef::Inline(_) => None,
    };
    let used_scored: BTreeSet<String> = def
        .items
        .iter()
        .filter_map(|item| set_name(&item.options))
        .collect();
    let used_unscored: BTreeSet<String> = def
        .unscored_items
        .iter()
        .filter_map(|item| set_name(&item.options))
        .collect();
    for (name, options) in &def.option_sets {
        let at = format!("option set {name}");
        match (used_scored.contains(name), used_unscored.contains(name)) {
            (false, false) => problems.add(&at, "is not used by any item"),
            (true, true) => problems.add(&at, "is used by both scored and unscored items"),
            (scored, _) => check_options(&at, options, scored, problems),
        }
    }
}

fn lookup<'a>(
    def: &'a Definition,
    at: &str,
    options: &'a OptionsRef,
    problems: &mut Problems,
) -> Option<&'a [OptionDef]> {
    match options {
        OptionsRef::Inline(options) => Some(options),
        OptionsRef::Set(name) => match def.option_sets.get(name) {
            Some(options) => Some(options),
            None => {
                let known = def
                    .option_sets
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                problems.add(
                    at,
                    format!("option set {name:?} does not exist (defined: {known})"),
                );
                None
            }
        },
    }
}

fn resolve_items(def: &Definition, problems: &mut Problems) -> Vec<ScoredItem> {
    if def.items.is_empty() {
        problems.add("items", "an instrument needs at least one item");
    }
    let reverse: BTreeSet<u32> = def.scoring.reverse_items.iter().copied().collect();
    let mut items = Vec::with_capacity(def.items.len());
    let mut expected_number = 1;
    for item in &def.items {
        let at = format!("item {}", item.number);
        if item.number != expected_number {
            problems.add(
                &at,
                format!(
                    "items must be numbered 1, 2, 3… in order; expected {expected_number} here"
                ),
            );
        }
        expected_number = item.number.saturating_add(1);
        if item.topic.as_deref().is_some_and(|t| t.trim().is_empty()) {
            problems.add(&at, "topic must not be empty when given");
        }
        check_loinc(&format!("{at} loinc"), item.loinc.as_ref(), problems);
        let Some(options) = lookup(def, &at, &item.options, problems) else {
            continue;
        };
        if let OptionsRef::Inline(inline) = &item.options {
            check_options(&at, inline, true, problems);
        }
        let mut scored: Vec<ScoredOption> = options
            .iter()
            .map(|o| ScoredOption {
                answer: o.answer.clone(),
                points: o.points.unwrap_or(0),
            })
            .collect();
        if reverse.contains(&item.number) {
            let lowest = scored.iter().map(|o| o.points).min().unwrap_or(0);
            let highest = scored.iter().map(|o| o.points).max().unwrap_or(0);
            for option in &mut scored {
                option.points = lowest + highest - option.points;
            }
        }
        items.push(ScoredItem {
            number: item.number,
            options: scored,
        });
    }
    items
}

fn resolve_unscored(def: &Definition, problems: &mut Problems) -> Vec<UnscoredItem> {
    let mut keys = BTreeSet::new();
    let mut resolved = Vec::new();
    for item in &def.unscored_items {
        let at = format!("unscored item {}", item.key);
        if !is_id(&item.key, '_') {
            problems.add(
                &at,
                "key must be lower-case letters, digits and underscores",
            );
        }
        if !keys.insert(item.key.as_str()) {
            problems.add(&at, "appears twice");
        }
        let Some(options) = lookup(def, &at, &item.options, problems) else {
            continue;
        };
        if let OptionsRef::Inline(inline) = &item.options {
            check_options(&at, inline, false, problems);
        }
        resolved.push(UnscoredItem {
            key: item.key.clone(),
            answers: options.iter().map(|o| o.answer.clone()).collect(),
        });
    }
    resolved
}

/// Every total the items can add up to.
fn reachable(items: &[ScoredItem]) -> BTreeSet<i64> {
    let mut totals = BTreeSet::from([0]);
    for item in items {
        let points: BTreeSet<i64> = item.options.iter().map(|o| o.points).collect();
        totals = totals
            .iter()
            .flat_map(|t| points.iter().map(move |p| t + p))
            .collect();
    }
    totals
}

fn check_item_refs(at: &str, refs: &[u32], item_numbers: &BTreeSet<u32>, problems: &mut Problems) {
    let mut seen = BTreeSet::new();
    for number in refs {
        if !item_numbers.contains(number) {
            problems.add(at, format!("refers to item {number}, which does not exist"));
        }
        if !seen.insert(number) {
            problems.add(at, format!("lists item {number} twice"));
        }
    }
}

fn check_scoring(
    def: &Definition,
    items: &[ScoredItem],
    item_numbers: &BTreeSet<u32>,
    problems: &mut Problems,
) -> Option<(i64, i64)> {
    let scoring = &def.scoring;
    check_item_refs(
        "scoring.reverse_items",
        &scoring.reverse_items,
        item_numbers,
        problems,
    );
    if scoring.unset.iter().any(|u| u.trim().is_empty()) {
        problems.add("scoring.unset", "entries must say which fact is missing");
    }
    match scoring.total {
        TotalRule::None => {
            if scoring.range.is_some() {
                problems.add(
                    "scoring.range",
                    "an instrument without a total has no range",
                );
            }
            None
        }
        TotalRule::Sum => {
            let lowest: i64 = items.iter().map(ScoredItem::min_points).sum();
            let highest: i64 = items.iter().map(ScoredItem::max_points).sum();
            match scoring.range {
                None => problems.add(
                    "scoring.range",
                    format!("missing; the items give {lowest}–{highest}"),
                ),
                Some([min, max]) if (min, max) != (lowest, highest) => {
                    problems.add(
                        "scoring.range",
                        format!("says {min}–{max} but the items give {lowest}–{highest}"),
                    );
                }
                Some(_) => {}
            }
            Some((lowest, highest))
        }
    }
}

fn check_subscales(def: &Definition, item_numbers: &BTreeSet<u32>, problems: &mut Problems) {
    let mut ids = BTreeSet::new();
    for subscale in &def.subscales {
        let at = format!("subscale {}", subscale.id);
        if !is_id(&subscale.id, '_') {
            problems.add(&at, "id must be lower-case letters, digits and underscores");
        }
        if !ids.insert(subscale.id.as_str()) {
            problems.add(&at, "appears twice");
        }
        if subscale.title.trim().is_empty() {
            problems.add(&at, "title must not be empty");
        }
        if subscale.items.is_empty() {
            problems.add(&at, "lists no items");
        }
        check_item_refs(&at, &subscale.items, item_numbers, problems);
    }
}

/// Checks that the bands of each sex (or of everyone) cover the total range
/// without gap or overlap, and that each can be reached. Returns the band
/// names present in every set.
fn check_bands(
    def: &Definition,
    total_range: Option<(i64, i64)>,
    reachable_totals: &BTreeSet<i64>,
    problems: &mut Problems,
) -> BTreeSet<String> {
    if def.bands.is_empty() {
        return BTreeSet::new();
    }
    let Some((lowest, highest)) = total_range else {
        problems.add("bands", "an instrument without a total cannot have bands");
        return BTreeSet::new();
    };
    let mut sets: BTreeMap<Option<String>, Vec<&crate::instrument::definition::Band>> =
        BTreeMap::new();
    for band in &def.bands {
        sets.entry(band.sex.clone()).or_default().push(band);
    }
    let by_sex = def.bands.iter().any(|b| b.sex.is_some());
    if by_sex && sets.contains_key(&None) {
        problems.add("bands", "either every band names a sex or none does");
    }
    if by_sex {
        for sex in Sex::ALL {
            if !sets.contains_key(&Some(sex.as_str().to_string())) {
                problems.add(
                    "bands",
                    format!(
                        "cut-offs differ by sex but none are given for {}",
                        sex.as_str()
                    ),
                );
            }
        }
    }
    let mut names_in_every_set: Option<BTreeSet<String>> = None;
    for (sex, mut bands) in sets {
        let label = match &sex {
            Some(sex) => {
                if Sex::parse(sex).is_err() {
                    problems.add(
                        "bands",
                        format!("sex {sex:?} must be one of: {}", Sex::allowed_list()),
                    );
                }
                format!("bands ({sex})")
            }
            None => "bands".to_string(),
        };
        let mut names = BTreeSet::new();
        for band in &bands {
            let at = format!("band {}", band.name);
            if band.name.trim().is_empty() {
                problems.add(&label, "a band has no name");
            }
            if !names.insert(band.name.clone()) {
                problems.add(&at, format!("appears twice in {label}"));
            }
            if band.min > band.max {
                problems.add(&at, format!("min {} is above max {}", band.min, band.max));
            }
            if band.source.trim().is_empty() {
                problems.add(&at, "source must name where the cut-off comes from");
            }
            if !reachable_totals.range(band.min..=band.max).any(|_| true) {
                problems.add(
                    &at,
                    format!("{}–{} cannot be reached by any answers", band.min, band.max),
                );
            }
        }
        bands.sort_by_key(|b| (b.min, b.max));
        if let Some(first) = bands.first() {
            if first.min != lowest {
                problems.add(
                    &label,
                    format!("start at {} but the lowest total is {lowest}", first.min),
                );
            }
        }
        if let Some(last) = bands.last() {
            if last.max != highest {
                problems.add(
                    &label,
                    format!("end at {} but the highest total is {highest}", last.max),
                );
            }
        }
        for pair in bands.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b.min > a.max + 1 {
                problems.add(
                    &label,
                    format!(
                        "gap between {} ({}–{}) and {} ({}–{})",
                        a.name, a.min, a.max, b.name, b.min, b.max
                    ),
                );
            } else if b.min <= a.max {
                problems.add(
                    &label,
                    format!(
                        "{} ({}–{}) overlaps {} ({}–{})",
                        a.name, a.min, a.max, b.name, b.min, b.max
                    ),
                );
            }
        }
        names_in_every_set = Some(match names_in_every_set {
            None => names,
            Some(previous) => previous.intersection(&names).cloned().collect(),
        });
    }
    names_in_every_set.unwrap_or_default()
}

fn check_flags(
    def: &Definition,
    items: &[ScoredItem],
    total_range: Option<(i64, i64)>,
    reachable_totals: &BTreeSet<i64>,
    band_names: &BTreeSet<String>,
    problems: &mut Problems,
) {
    let mut ids = BTreeSet::new();
    for flag in &def.flags {
        let at = format!("flag {}", flag.id);
        if !is_id(&flag.id, '_') {
            problems.add(&at, "id must be lower-case letters, digits and underscores");
        }
        if !ids.insert(flag.id.as_str()) {
            problems.add(&at, "appears twice");
        }
        if flag.alerts.is_empty() {
            problems.add(&at, "alerts must name at least one role");
        }
        for role in &flag.alerts {
            if Role::parse(role).is_err() {
                problems.add(
                    &at,
                    format!(
                        "alerts role {role:?}, which does not exist (roles: {})",
                        Role::allowed_list()
                    ),
                );
            }
        }
        if flag.message.trim().is_empty() || flag.source.trim().is_empty() {
            problems.add(&at, "message and source must not be empty");
        }
        match &flag.when {
            Condition::ItemAtLeast { item, points } => match items.iter().find(|i| i.number == *item) {
                None => problems.add(&at, format!("refers to item {item}, which does not exist")),
                Some(scored) if *points <= scored.min_points() || *points > scored.max_points() => problems.add(
                    &at,
                    format!("item {item} at least {points} is always or never true (item scores {}–{})", scored.min_points(), scored.max_points()),
                ),
                Some(_) => {}
            },
            Condition::TotalAtLeast { points } => match total_range {
                None => problems.add(&at, "refers to the total, but this instrument has none"),
                Some((lowest, _)) if *points <= lowest || !reachable_totals.range(*points..).any(|_| true) => {
                    problems.add(&at, format!("total at least {points} is always or never true"));
                }
                Some(_) => {}
            },
            Condition::BandIn { bands } => {
                if bands.is_empty() {
                    problems.add(&at, "names no bands");
                }
                for band in bands {
                    if !band_names.contains(band) {
                        problems.add(&at, format!("refers to band {band:?}, which does not exist"));
                    }
                }
            }
        }
    }
}

fn check_rules(def: &Definition, items: &[ScoredItem], problems: &mut Problems) {
    let item_numbers: BTreeSet<u32> = items.iter().map(|i| i.number).collect();
    let mut ids = BTreeSet::new();
    for rule in &def.rules {
        let at = format!("rule {}", rule.id);
        if !is_id(&rule.id, '_') {
            problems.add(&at, "id must be lower-case letters, digits and underscores");
        }
        if !ids.insert(rule.id.as_str()) {
            problems.add(&at, "appears twice");
        }
        if rule.title.trim().is_empty() || rule.source.trim().is_empty() {
            problems.add(&at, "title and source must not be empty");
        }
        if rule.requires.is_empty() {
            problems.add(&at, "requires nothing");
        }
        for requirement in &rule.requires {
            check_item_refs(&at, &requirement.items, &item_numbers, problems);
            let n_items = u32::try_from(requirement.items.len()).unwrap_or(u32::MAX);
            if requirement.at_least == 0 || requirement.at_least > n_items {
                problems.add(
                    &at,
                    format!(
                        "at least {} of {} items is always or never true",
                        requirement.at_least, n_items
                    ),
                );
            }
            for number in &requirement.items {
                if let Some(item) = items.iter().find(|i| i.number == *number) {
                    if rule.endorsed_at <= item.min_points() || rule.endorsed_at > item.max_points()
                    {
                        problems.add(
                            &at,
                            format!(
                                "endorsed at {} is always or never true for item {number}",
                                rule.endorsed_at
                            ),
                        );
                    }
                }
            }
        }
    }
}
