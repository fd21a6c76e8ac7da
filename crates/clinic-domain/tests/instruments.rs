//! Every shipped instrument in `data/instruments/`, scored on hand-worked
//! answers: all minimum, all maximum, each reverse or special item, and both
//! sides of every band edge. Expected totals were added up by hand from the
//! scoring rules in reference/clinical.md §3 and §11, not computed here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clinic_domain::instrument::score::{score, Score, ScoreContext};
use clinic_domain::instrument::{parse_definition, Instrument, Sex};
use clinic_domain::patient::Substance;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/instruments")
}

fn load(id: &str) -> Instrument {
    let text = std::fs::read_to_string(data_dir().join(format!("{id}.toml"))).unwrap();
    parse_definition(&format!("instruments/{id}.toml"), &text).unwrap_or_else(|err| panic!("{err}"))
}

fn no_context() -> ScoreContext {
    ScoreContext {
        sex: None,
        substance: None,
        unscored: BTreeMap::new(),
    }
}

fn run(id: &str, answers: &str, context: &ScoreContext) -> Result<Score, String> {
    let answers: Vec<&str> = answers.split(',').collect();
    score(&load(id), &answers, context).map_err(|err| {
        err.0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// `total band [flags]`, or `error: …`.
fn render(res: Result<Score, String>) -> String {
    match res {
        Ok(s) => {
            let total = s.total.map_or("-".to_string(), |t| t.to_string());
            let band = s.band.unwrap_or_else(|| "-".to_string());
            let flags: Vec<String> = s.flags.iter().map(|f| f.id.clone()).collect();
            format!("{total} {band} [{}]", flags.join(","))
        }
        Err(err) => format!("error: {err}"),
    }
}

#[track_caller]
fn check(id: &str, answers: &str, expect: &str) {
    assert_eq!(
        render(run(id, answers, &no_context())),
        expect,
        "{id} {answers}"
    );
}

#[track_caller]
fn check_with(id: &str, answers: &str, context: &ScoreContext, expect: &str) {
    assert_eq!(render(run(id, answers, context)), expect, "{id} {answers}");
}

fn with_sex(sex: Sex) -> ScoreContext {
    ScoreContext {
        sex: Some(sex),
        ..no_context()
    }
}

#[test]
fn phq_9_bands_and_item_9() {
    check("phq-9", "0,0,0,0,0,0,0,0,0", "0 minimal []");
    check("phq-9", "1,1,1,1,0,0,0,0,0", "4 minimal []");
    check("phq-9", "1,1,1,1,1,0,0,0,0", "5 mild []");
    check("phq-9", "3,3,3,0,0,0,0,0,0", "9 mild []");
    check("phq-9", "3,3,3,1,0,0,0,0,0", "10 moderate []");
    check("phq-9", "3,3,3,3,2,0,0,0,0", "14 moderate []");
    check("phq-9", "3,3,3,3,3,0,0,0,0", "15 moderately severe []");
    check("phq-9", "3,3,3,3,3,3,1,0,0", "19 moderately severe []");
    check("phq-9", "3,3,3,3,3,3,2,0,0", "20 severe []");
    check("phq-9", "3,3,3,3,3,3,3,3,3", "27 severe [suicide_risk]");
    // Item 9 above 0 raises the flag whatever the total (clinical.md §3.2).
    check("phq-9", "0,0,0,0,0,0,0,0,1", "1 minimal [suicide_risk]");
    check("phq-9", "3,3,3,3,3,3,3,3,0", "24 severe []");
    let s = run("phq-9", "0,0,0,0,0,0,0,0,2", &no_context()).unwrap();
    assert_eq!(s.items, [0, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(s.flags[0].alerts, [clinic_domain::user::Role::Physician]);
    assert!(s.flags[0].message.contains("same-day"));
}

#[test]
fn phq_9_difficulty_is_recorded_not_scored() {
    let mut context = no_context();
    context.unscored.insert("difficulty".into(), "2".into());
    let s = run("phq-9", "1,1,1,1,1,0,0,0,0", &context).unwrap();
    assert_eq!((s.total, s.unscored.len()), (Some(5), 1));
    assert_eq!(s.unscored[0].1.to_string(), "2");
    context.unscored.insert("difficulty".into(), "4".into());
    check_with(
        "phq-9",
        "1,1,1,1,1,0,0,0,0",
        &context,
        "error: difficulty: \"4\" is not an option; allowed: 0, 1, 2, 3",
    );
    check_with(
        "gad-7",
        "0,0,0,0,0,0,0",
        &context,
        "error: difficulty: gad-7 has no difficulty item",
    );
}

#[test]
fn gad_7_bands() {
    check("gad-7", "0,0,0,0,0,0,0", "0 minimal []");
    check("gad-7", "3,1,0,0,0,0,0", "4 minimal []");
    check("gad-7", "3,2,0,0,0,0,0", "5 mild []");
    check("gad-7", "3,3,3,0,0,0,0", "9 mild []");
    check("gad-7", "3,3,3,1,0,0,0", "10 moderate []");
    check("gad-7", "3,3,3,3,2,0,0", "14 moderate []");
    check("gad-7", "3,3,3,3,3,0,0", "15 severe []");
    check("gad-7", "3,3,3,3,3,3,3", "21 severe []");
}

#[test]
fn audit_zones_and_items_9_and_10() {
    check("audit", "0,0,0,0,0,0,0,0,0,0", "0 low risk []");
    check("audit", "4,3,0,0,0,0,0,0,0,0", "7 low risk []");
    check("audit", "4,4,0,0,0,0,0,0,0,0", "8 hazardous []");
    check("audit", "4,4,4,3,0,0,0,0,0,0", "15 hazardous []");
    check("audit", "4,4,4,4,0,0,0,0,0,0", "16 harmful []");
    check("audit", "4,4,4,4,3,0,0,0,0,0", "19 harmful []");
    check("audit", "4,4,4,4,4,0,0,0,0,0", "20 possible dependence []");
    check("audit", "4,4,4,4,4,4,4,4,4,4", "40 possible dependence []");
    // Items 9-10 take 0, 2 or 4 (clinical.md §3.2).
    let s = run("audit", "0,0,0,0,0,0,0,0,2,4", &no_context()).unwrap();
    assert_eq!((s.total, s.items[8], s.items[9]), (Some(6), 2, 4));
    check("audit", "0,0,0,0,0,0,0,0,1,3", "error: answers: item 9: \"1\" is not an option; allowed: 0, 2, 4; item 10: \"3\" is not an option; allowed: 0, 2, 4");
    check(
        "audit",
        "5,0,0,0,0,0,0,0,0,0",
        "error: answers: item 1: \"5\" is not an option; allowed: 0, 1, 2, 3, 4",
    );
}

#[test]
fn audit_c_cut_off_depends_on_sex() {
    check_with("audit-c", "0,0,0", &with_sex(Sex::Female), "0 negative []");
    check_with("audit-c", "1,1,0", &with_sex(Sex::Female), "2 negative []");
    check_with(
        "audit-c",
        "1,1,1",
        &with_sex(Sex::Female),
        "3 positive [positive_screen]",
    );
    check_with("audit-c", "1,1,1", &with_sex(Sex::Male), "3 negative []");
    check_with(
        "audit-c",
        "2,1,1",
        &with_sex(Sex::Male),
        "4 positive [positive_screen]",
    );
    check_with(
        "audit-c",
        "4,4,4",
        &with_sex(Sex::Male),
        "12 positive [positive_screen]",
    );
    check_with(
        "audit-c",
        "4,4,4",
        &with_sex(Sex::Female),
        "12 positive [positive_screen]",
    );
    check("audit-c", "1,1,1", "error: sex: required for audit-c (its cut-off differs by sex); must be one of: female, male");
}

#[test]
fn dast_10_item_3_scores_no() {
    check("dast-10", "no,no,no,no,no,no,no,no,no,no", "1 low []");
    check("dast-10", "no,no,yes,no,no,no,no,no,no,no", "0 none []");
    check("dast-10", "yes,yes,yes,no,no,no,no,no,no,no", "2 low []");
    check(
        "dast-10",
        "yes,yes,no,no,no,no,no,no,no,no",
        "3 moderate [positive_screen]",
    );
    check(
        "dast-10",
        "yes,yes,yes,yes,yes,yes,no,no,no,no",
        "5 moderate [positive_screen]",
    );
    check(
        "dast-10",
        "yes,yes,yes,yes,yes,yes,yes,no,no,no",
        "6 substantial [positive_screen]",
    );
    check(
        "dast-10",
        "yes,yes,yes,yes,yes,yes,yes,yes,yes,no",
        "8 substantial [positive_screen]",
    );
    check(
        "dast-10",
        "yes,yes,yes,yes,yes,yes,yes,yes,yes,yes",
        "9 severe [positive_screen]",
    );
    check(
        "dast-10",
        "yes,yes,no,yes,yes,yes,yes,yes,yes,yes",
        "10 severe [positive_screen]",
    );
    check(
        "dast-10",
        "YES,Yes,no,no,no,no,no,no,no,no",
        "3 moderate [positive_screen]",
    );
    check("dast-10", "yes,maybe,no,no,no,no,no,no,no,1", "error: answers: item 2: \"maybe\" is not an option; allowed: yes, no; item 10: \"1\" is not an option; allowed: yes, no");
}

#[test]
fn pcl_5_screen_clusters_and_provisional_diagnosis() {
    let zero = run("pcl-5", &["0"; 20].join(","), &no_context()).unwrap();
    assert_eq!(
        (zero.total, zero.band.as_deref(), zero.flags.len()),
        (Some(0), None, 0)
    );
    assert_eq!(zero.rules, [("provisional_diagnosis".to_string(), false)]);
    let max = run("pcl-5", &["4"; 20].join(","), &no_context()).unwrap();
    assert_eq!(render(Ok(max.clone())), "80 - [positive_screen]");
    let clusters: Vec<(&str, i64)> = max
        .subscales
        .iter()
        .map(|(id, v)| (id.as_str(), *v))
        .collect();
    assert_eq!(
        clusters,
        [
            ("cluster_b", 20),
            ("cluster_c", 8),
            ("cluster_d", 28),
            ("cluster_e", 24)
        ]
    );
    assert_eq!(max.rules, [("provisional_diagnosis".to_string(), true)]);
    // 8 items at 4 = 32, then one more point = 33 (clinical.md §11.6).
    check(
        "pcl-5",
        "4,4,4,4,4,4,4,4,0,0,0,0,0,0,0,0,0,0,0,0",
        "32 - []",
    );
    check(
        "pcl-5",
        "4,4,4,4,4,4,4,4,1,0,0,0,0,0,0,0,0,0,0,0",
        "33 - [positive_screen]",
    );
    // The smallest pattern meeting the rule: 1 of B, 1 of C, 2 of D, 2 of E at 2 each.
    let minimal = "2,0,0,0,0,2,0,2,2,0,0,0,0,0,2,2,0,0,0,0";
    let s = run("pcl-5", minimal, &no_context()).unwrap();
    assert_eq!((s.total, s.flags.len(), s.rules[0].1), (Some(12), 0, true));
    // Item 1 at 1 is not endorsed, so cluster B is missing.
    let s = run(
        "pcl-5",
        "1,0,0,0,0,2,0,2,2,0,0,0,0,0,2,2,0,0,0,0",
        &no_context(),
    )
    .unwrap();
    assert!(!s.rules[0].1);
    // Only one of items 15-20 endorsed.
    let s = run(
        "pcl-5",
        "2,0,0,0,0,2,0,2,2,0,0,0,0,0,2,1,1,1,1,1",
        &no_context(),
    )
    .unwrap();
    assert!(!s.rules[0].1);
}

#[test]
fn dsm5_sud_counts_criteria_per_substance() {
    let no = ["no"; 11];
    let mut answers = no.to_vec();
    check("dsm5-sud", &answers.join(","), "0 none []");
    let expected = [
        "1 none []",
        "2 mild []",
        "3 mild []",
        "4 moderate []",
        "5 moderate []",
        "6 severe []",
    ];
    for (idx, expect) in expected.iter().enumerate() {
        answers[idx * 2 % 11] = "yes";
        check("dsm5-sud", &answers.join(","), expect);
    }
    check("dsm5-sud", &["yes"; 11].join(","), "11 severe []");
    let context = ScoreContext {
        substance: Some(Substance::Alcohol),
        ..no_context()
    };
    let s = run("dsm5-sud", &no.join(","), &context).unwrap();
    assert_eq!(s.substance, Some(Substance::Alcohol));
    let context = ScoreContext {
        substance: Some(Substance::Cocaine),
        ..no_context()
    };
    check_with(
        "phq-9",
        "0,0,0,0,0,0,0,0,0",
        &context,
        "error: substance: phq-9 is not rated per substance; leave it out",
    );
}

#[test]
fn ciwa_ar_bands_and_orientation_item() {
    check("ciwa-ar", "0,0,0,0,0,0,0,0,0,0", "0 minimal []");
    check("ciwa-ar", "7,0,0,0,0,0,0,0,0,0", "7 minimal []");
    check("ciwa-ar", "7,1,0,0,0,0,0,0,0,0", "8 moderate []");
    check("ciwa-ar", "7,7,0,0,0,0,0,0,0,1", "15 moderate []");
    check("ciwa-ar", "7,7,0,0,0,0,0,0,0,2", "16 severe []");
    check("ciwa-ar", "7,7,7,7,7,7,7,7,7,4", "67 severe []");
    check("ciwa-ar", "8,0,0,0,0,0,0,0,0,5", "error: answers: item 1: \"8\" is not an option; allowed: 0, 1, 2, 3, 4, 5, 6, 7; item 10: \"5\" is not an option; allowed: 0, 1, 2, 3, 4");
}

#[test]
fn single_scales_without_bands() {
    check("bprs-positive", "1,1,1,1", "4 - []");
    check("bprs-positive", "7,7,7,7", "28 - []");
    check(
        "bprs-positive",
        "0,1,1,1",
        "error: answers: item 1: \"0\" is not an option; allowed: 1, 2, 3, 4, 5, 6, 7",
    );
    check("rass", "-5", "-5 - []");
    check("rass", "+4", "4 - []");
    check("rass", "0", "0 - []");
    check("rass", "5", "error: answers: item 1: \"5\" is not an option; allowed: 4, 3, 2, 1, 0, -1, -2, -3, -4, -5");
    check("craving", "0", "0 - []");
    check("craving", "10", "10 - []");
    check("craving", "11", "error: answers: item 1: \"11\" is not an option; allowed: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10");
    check("pacs", "0,0,0,0,0", "0 - []");
    check("pacs", "6,6,6,6,6", "30 - []");
    check(
        "pacs",
        "6,6,6,6,7",
        "error: answers: item 5: \"7\" is not an option; allowed: 0, 1, 2, 3, 4, 5, 6",
    );
}

#[test]
fn readiness_ruler_has_items_but_no_total() {
    let s = run("readiness-ruler", "7,5,10", &no_context()).unwrap();
    assert_eq!((s.total, s.band, s.items), (None, None, vec![7, 5, 10]));
    check(
        "readiness-ruler",
        "7,5",
        "error: answers: readiness-ruler takes 3 answers (items 1–3), got 2",
    );
}

#[test]
fn ccq_brief_is_structure_only_until_the_clinic_sets_reverse_items() {
    let err = render(run("ccq-brief", &["4"; 10].join(","), &no_context()));
    assert!(err.starts_with("error: instrument: ccq-brief cannot be scored yet; needs clinic setting: reverse-keyed items"), "{err}");
    assert_eq!(load("ccq-brief").total_range(), Some((10, 70)));
}

#[test]
fn wrong_count_and_empty_answers_are_refused() {
    check(
        "phq-9",
        "0,0,0,0,0,0,0,0",
        "error: answers: phq-9 takes 9 answers (items 1–9), got 8",
    );
    check(
        "phq-9",
        "0,0,0,0,0,0,0,0,0,0",
        "error: answers: phq-9 takes 9 answers (items 1–9), got 10",
    );
    check(
        "phq-9",
        "0,,0,0,0,0,0,0,0",
        "error: answers: item 2: \"\" is not an option; allowed: 0, 1, 2, 3",
    );
    check(
        "phq-9",
        "0,1.5,0,0,0,0,0,0,0",
        "error: answers: item 2: \"1.5\" is not an option; allowed: 0, 1, 2, 3",
    );
    // Every problem is reported at once.
    check("audit-c", "1,1", "error: answers: audit-c takes 3 answers (items 1–3), got 2; sex: required for audit-c (its cut-off differs by sex); must be one of: female, male");
}
