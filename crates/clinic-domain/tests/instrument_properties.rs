//! Properties of every instrument file in `data/instruments/`, including any
//! added later: each total lies in the declared range, every band is reached
//! at both of its edges, and scoring is deterministic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clinic_domain::instrument::score::{score, ScoreContext};
use clinic_domain::instrument::{parse_definition, Instrument, Sex};
use proptest::prelude::*;

fn all_instruments() -> Vec<Instrument> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/instruments");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = format!(
                "instruments/{}",
                path.file_name().unwrap().to_string_lossy()
            );
            parse_definition(&name, &std::fs::read_to_string(path).unwrap())
                .unwrap_or_else(|err| panic!("{err}"))
        })
        .collect()
}

/// Parsed once: the property tests run hundreds of cases.
static SCORABLE: std::sync::LazyLock<Vec<Instrument>> = std::sync::LazyLock::new(|| {
    all_instruments()
        .into_iter()
        .filter(|i| i.unset_scoring_facts().is_empty())
        .collect()
});

fn scorable() -> &'static [Instrument] {
    &SCORABLE
}

fn context(sex: Option<Sex>) -> ScoreContext {
    ScoreContext {
        sex,
        substance: None,
        unscored: BTreeMap::new(),
    }
}

#[test]
fn the_required_instruments_are_all_shipped() {
    let ids: BTreeSet<String> = all_instruments()
        .iter()
        .map(|i| i.id().to_string())
        .collect();
    for id in [
        "audit",
        "audit-c",
        "dast-10",
        "phq-9",
        "gad-7",
        "pcl-5",
        "dsm5-sud",
        "ciwa-ar",
        "bprs-positive",
        "rass",
        "craving",
        "readiness-ruler",
        "pacs",
        "ccq-brief",
    ] {
        assert!(ids.contains(id), "{id} missing from data/instruments");
    }
}

/// Answers (as typed) whose points add up to `target`, found by working
/// back through the reachable sums item by item.
fn answers_for_total(instrument: &Instrument, target: i64) -> Option<Vec<String>> {
    let items = instrument.items();
    // reach[k] = totals reachable with the first k items.
    let mut reach = vec![BTreeSet::from([0_i64])];
    for item in items {
        let next = reach
            .last()
            .unwrap()
            .iter()
            .flat_map(|t| item.options.iter().map(move |o| t + o.points))
            .collect();
        reach.push(next);
    }
    if !reach.last().unwrap().contains(&target) {
        return None;
    }
    let mut remaining = target;
    let mut answers = vec![String::new(); items.len()];
    for (idx, item) in items.iter().enumerate().rev() {
        let option = item
            .options
            .iter()
            .find(|o| reach[idx].contains(&(remaining - o.points)))
            .unwrap();
        answers[idx] = option.answer.to_string();
        remaining -= option.points;
    }
    Some(answers)
}

#[test]
fn every_band_is_reached_at_both_edges() {
    let mut n_checked = 0;
    for instrument in scorable() {
        let reachable = instrument.reachable_totals().clone();
        for band in &instrument.definition().bands {
            let sex = band.sex.as_deref().map(|s| Sex::parse(s).unwrap());
            let lowest = reachable.range(band.min..=band.max).next().copied();
            let highest = reachable.range(band.min..=band.max).next_back().copied();
            for edge in [lowest, highest] {
                let edge = edge.unwrap_or_else(|| {
                    panic!("{} band {} unreachable", instrument.id(), band.name)
                });
                let answers = answers_for_total(instrument, edge).unwrap();
                let refs: Vec<&str> = answers.iter().map(String::as_str).collect();
                let s = score(instrument, &refs, &context(sex)).unwrap();
                assert_eq!(s.total, Some(edge));
                assert_eq!(
                    s.band.as_deref(),
                    Some(band.name.as_str()),
                    "{} total {edge}",
                    instrument.id()
                );
                n_checked += 1;
            }
        }
    }
    // PHQ-9 (5), GAD-7 (4), AUDIT (4), AUDIT-C (2 × 2), DAST-10 (5), DSM-5 (4), CIWA-Ar (3) bands, two edges each.
    assert_eq!(n_checked, 2 * (5 + 4 + 4 + 4 + 5 + 4 + 3));
}

#[test]
fn band_edges_in_the_files_are_reachable_exactly() {
    // Every band edge in the shipped files is itself a reachable total (no band starts on a gap).
    for instrument in scorable() {
        for band in &instrument.definition().bands {
            for edge in [band.min, band.max] {
                assert!(
                    instrument.reachable_totals().contains(&edge),
                    "{} band {} edge {edge}",
                    instrument.id(),
                    band.name
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_valid_answers_score_within_range_deterministically(
        instrument_idx in 0usize..64,
        picks in proptest::collection::vec(0usize..64, 20),
        female in any::<bool>(),
    ) {
        let instruments = scorable();
        let instrument = &instruments[instrument_idx % instruments.len()];
        let answers: Vec<String> = instrument
            .items()
            .iter()
            .zip(picks.iter().cycle())
            .map(|(item, pick)| item.options[pick % item.options.len()].answer.to_string())
            .collect();
        let refs: Vec<&str> = answers.iter().map(String::as_str).collect();
        let sex = Some(if female { Sex::Female } else { Sex::Male });
        let first = score(instrument, &refs, &context(sex)).unwrap();
        let second = score(instrument, &refs, &context(sex)).unwrap();
        prop_assert_eq!(&first, &second);
        for (item, points) in instrument.items().iter().zip(&first.items) {
            prop_assert!(item.min_points() <= *points && *points <= item.max_points());
        }
        match instrument.total_range() {
            Some((lowest, highest)) => {
                let total = first.total.unwrap();
                prop_assert!(lowest <= total && total <= highest, "{} total {total}", instrument.id());
                prop_assert_eq!(total, first.items.iter().sum::<i64>());
                let bands = &instrument.definition().bands;
                prop_assert_eq!(first.band.is_some(), !bands.is_empty());
                if let Some(name) = &first.band {
                    let matching = bands
                        .iter()
                        .filter(|b| b.sex.is_none() || b.sex.as_deref() == sex.map(Sex::as_str))
                        .filter(|b| b.min <= total && total <= b.max)
                        .count();
                    prop_assert_eq!(matching, 1, "{} total {} band {}", instrument.id(), total, name);
                }
            }
            None => prop_assert_eq!(first.total, None),
        }
    }

    #[test]
    fn an_answer_outside_the_options_is_always_refused(
        instrument_idx in 0usize..64,
        item_pick in 0usize..64,
        typed in -20i64..40,
    ) {
        let instruments = scorable();
        let instrument = &instruments[instrument_idx % instruments.len()];
        let items = instrument.items();
        let bad_idx = item_pick % items.len();
        let is_option = items[bad_idx].options.iter().any(|o| o.answer.to_string() == typed.to_string());
        prop_assume!(!is_option);
        let mut answers: Vec<String> = items.iter().map(|item| item.options[0].answer.to_string()).collect();
        answers[bad_idx] = typed.to_string();
        let refs: Vec<&str> = answers.iter().map(String::as_str).collect();
        let err = score(instrument, &refs, &context(Some(Sex::Female))).unwrap_err();
        let expected = format!("item {}: \"{typed}\" is not an option", bad_idx + 1);
        prop_assert!(err.0[0].message.contains(&expected), "{:?}", err);
    }
}
