//! Malformed instrument definitions and wording files are refused with a
//! message naming the file, the place (item, band, flag…) and the problem.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use clinic_domain::instrument::parse_definition;
use clinic_domain::instrument::validate::loinc_check;
use clinic_domain::instrument::wording::{item_label, parse_wording};

/// A small valid instrument; each test breaks one thing in it.
const BASE: &str = r#"
id = "toy"
version = 1
title = "Toy scale"
purpose = "Testing"
citation = "Nobody 2024"
licence = "Test only"
item_wording = "clinic_supplied"
recall = "now"
rater = "self"
reference = "none"
loinc_total = { code = "44261-6", status = "verified" }

items = [
  { number = 1, options = "zero_to_two" },
  { number = 2, options = "zero_to_two" },
  { number = 3, options = [{ answer = "yes", points = 1 }, { answer = "no", points = 0 }] },
]

[option_sets]
zero_to_two = [
  { answer = 0, points = 0 },
  { answer = 1, points = 1 },
  { answer = 2, points = 2 },
]

[scoring]
total = "sum"
range = [0, 5]
source = "test"

[[subscales]]
id = "first_two"
title = "Items 1-2"
items = [1, 2]

[[bands]]
name = "low"
min = 0
max = 2
source = "test"
[[bands]]
name = "high"
min = 3
max = 5
source = "test"

[[flags]]
id = "item_two_high"
when = { kind = "item_at_least", item = 2, points = 2 }
alerts = ["physician"]
message = "m"
source = "s"
"#;

#[track_caller]
fn check(replace: &str, with: &str, expect: &str) {
    assert!(
        BASE.contains(replace),
        "test setup: {replace:?} not in BASE"
    );
    let text = BASE.replacen(replace, with, 1);
    let err = parse_definition("instruments/toy.toml", &text)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert_eq!(err, expect);
}

#[test]
fn the_base_definition_is_valid() {
    let toy = parse_definition("instruments/toy.toml", BASE).unwrap();
    assert_eq!(
        (toy.id(), toy.total_range(), toy.items().len()),
        ("toy", Some((0, 5)), 3)
    );
}

#[test]
fn option_problems_name_the_item_or_set() {
    check(
        "{ answer = 1, points = 1 },",
        "{ answer = 1, points = 1 },\n  { answer = 1, points = 2 },",
        "instruments/toy.toml: option set zero_to_two: option 1 appears twice",
    );
    check(
        r#"{ answer = "no", points = 0 }"#,
        r#"{ answer = "Yes", points = 0 }"#,
        "instruments/toy.toml: item 3: option Yes appears twice",
    );
    check(
        r#"{ answer = "no", points = 0 }"#,
        r#"{ answer = "no" }"#,
        "instruments/toy.toml: item 3: option no has no points",
    );
    check(r#"{ number = 2, options = "zero_to_two" }"#, r#"{ number = 2, options = "zero_to_three" }"#, "instruments/toy.toml: item 2: option set \"zero_to_three\" does not exist (defined: zero_to_two); scoring.range: says 0–5 but the items give 0–3; bands: end at 5 but the highest total is 3; flag item_two_high: refers to item 2, which does not exist");
    check(
        r#"{ answer = "yes", points = 1 }"#,
        r#"{ answer = "7", points = 1 }"#,
        "instruments/toy.toml: item 3: option \"7\" is a number: write it without quotes",
    );
}

#[test]
fn item_numbering_and_references() {
    check(
        "{ number = 3,",
        "{ number = 4,",
        "instruments/toy.toml: item 4: items must be numbered 1, 2, 3… in order; expected 3 here",
    );
    check(
        "items = [1, 2]",
        "items = [1, 9]",
        "instruments/toy.toml: subscale first_two: refers to item 9, which does not exist",
    );
    check(
        "items = [1, 2]",
        "items = [1, 1]",
        "instruments/toy.toml: subscale first_two: lists item 1 twice",
    );
    check(
        "item = 2, points = 2",
        "item = 12, points = 2",
        "instruments/toy.toml: flag item_two_high: refers to item 12, which does not exist",
    );
    check("item = 2, points = 2", "item = 2, points = 3", "instruments/toy.toml: flag item_two_high: item 2 at least 3 is always or never true (item scores 0–2)");
    check(
        "source = \"test\"\n\n[[subscales]]",
        "source = \"test\"\nreverse_items = [5]\n\n[[subscales]]",
        "instruments/toy.toml: scoring.reverse_items: refers to item 5, which does not exist",
    );
}

#[test]
fn bands_must_cover_the_range_without_gap_or_overlap() {
    check(
        "min = 3",
        "min = 4",
        "instruments/toy.toml: bands: gap between low (0–2) and high (4–5)",
    );
    check(
        "min = 3",
        "min = 2",
        "instruments/toy.toml: bands: low (0–2) overlaps high (2–5)",
    );
    check(
        "max = 5\nsource",
        "max = 4\nsource",
        "instruments/toy.toml: bands: end at 4 but the highest total is 5",
    );
    check(
        "range = [0, 5]",
        "range = [0, 6]",
        "instruments/toy.toml: scoring.range: says 0–6 but the items give 0–5",
    );
    check(
        "name = \"high\"",
        "name = \"low\"",
        "instruments/toy.toml: band low: appears twice in bands",
    );
    check("name = \"high\"\nmin = 3\nmax = 5\n", "name = \"high\"\nmin = 3\nmax = 5\nsex = \"female\"\n", "instruments/toy.toml: bands: either every band names a sex or none does; bands: cut-offs differ by sex but none are given for male; bands: end at 2 but the highest total is 5; bands (female): start at 3 but the lowest total is 0");
}

#[test]
fn flags_and_header_problems() {
    check(r#"alerts = ["physician"]"#, r#"alerts = ["janitor"]"#, "instruments/toy.toml: flag item_two_high: alerts role \"janitor\", which does not exist (roles: admin, director, physician, nurse, counselor, frontdesk, patient)");
    check(
        r#"when = { kind = "item_at_least", item = 2, points = 2 }"#,
        r#"when = { kind = "band_in", bands = ["middle"] }"#,
        "instruments/toy.toml: flag item_two_high: refers to band \"middle\", which does not exist",
    );
    check(
        r#"when = { kind = "item_at_least", item = 2, points = 2 }"#,
        r#"when = { kind = "total_at_least", points = 0 }"#,
        "instruments/toy.toml: flag item_two_high: total at least 0 is always or never true",
    );
    check(
        "id = \"toy\"",
        "id = \"toy-2\"",
        "instruments/toy.toml: id: \"toy-2\" must match the file name (toy.toml)",
    );
    check("44261-6", "44261-5", "instruments/toy.toml: loinc_total: \"44261-5\" has a wrong check digit (expected 44261-6); copy it again from the reference");
}

#[test]
fn typos_and_wrong_types_are_refused_with_the_line() {
    check("total = \"sum\"", "total = \"sum\"\nrevers_items = [1]", "instruments/toy.toml: line 29: unknown field `revers_items`, expected one of `total`, `range`, `reverse_items`, `unset`, `source`");
    check(
        "version = 1",
        "version = \"one\"",
        "instruments/toy.toml: line 3: invalid type: string \"one\", expected u32",
    );
    check(r#"kind = "item_at_least""#, r#"kind = "item_above""#, "instruments/toy.toml: line 50: unknown variant `item_above`, expected one of `item_at_least`, `total_at_least`, `band_in`");
}

#[test]
fn reverse_keyed_items_score_backwards() {
    let text = BASE.replacen(
        "source = \"test\"\n\n[[subscales]]",
        "source = \"test\"\nreverse_items = [1]\n\n[[subscales]]",
        1,
    );
    let toy = parse_definition("instruments/toy.toml", &text).unwrap();
    let context = clinic_domain::instrument::score::ScoreContext {
        sex: None,
        substance: None,
        unscored: Default::default(),
    };
    let s = clinic_domain::instrument::score::score(&toy, &["0", "0", "no"], &context).unwrap();
    assert_eq!((s.items.clone(), s.total), (vec![2, 0, 0], Some(2)));
    let s = clinic_domain::instrument::score::score(&toy, &["2", "2", "yes"], &context).unwrap();
    assert_eq!(
        (s.items.clone(), s.total, s.band.as_deref()),
        (vec![0, 2, 1], Some(3), Some("high"))
    );
}

#[test]
fn loinc_check_digits() {
    for good in ["44261-6", "44249-1", "72110-0", "101698-9", "68527-1"] {
        assert_eq!(loinc_check(good), Ok(()), "{good}");
    }
    for bad in ["44261", "44261-66", "4426x-6", "-6", "44216-6"] {
        assert!(loinc_check(bad).is_err(), "{bad}");
    }
}

#[test]
fn wording_is_checked_against_its_instrument() {
    let toy = parse_definition("instruments/toy.toml", BASE).unwrap();
    let wording = r#"
instrument = "toy"
licence = "ours"
source = "test"
[options]
"0" = "Never"
[[items]]
number = 3
text = "Question three"
options = { "yes" = "Yes", "no" = "No" }
"#;
    let parsed = parse_wording("instruments/wording/toy.toml", wording, &toy).unwrap();
    assert_eq!(item_label(Some(&parsed), 3), "Question three");
    assert_eq!(item_label(Some(&parsed), 1), "Item 1");
    assert_eq!(item_label(None, 2), "Item 2");
    let err = parse_wording(
        "instruments/wording/toy.toml",
        &wording.replace("number = 3", "number = 4"),
        &toy,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("instruments/wording/toy.toml: item 4: does not exist in the instrument"),
        "{err}"
    );
    let err = parse_wording(
        "instruments/wording/toy.toml",
        &wording.replace("\"0\" = \"Never\"", "\"5\" = \"Always\""),
        &toy,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("options (shared, item 1): labels option \"5\", which is not an option (options: 0, 1, 2)"), "{err}");
}
