//! The shipped protocols expanded event by event against issue 5 and
//! reference/clinical.md (expected days written by hand, not computed),
//! malformed files refused with the place and the problem, and properties of
//! `plan` over any start date and any valid phase split.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::NaiveDate;
use proptest::prelude::*;

use crate::protocol::decimal::Decimal;
use crate::protocol::{parse_protocol, plan, EventDetail, EventKind, PlannedEvent, Protocol};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// The instrument ids shipped in data/instruments (file stems).
fn instrument_ids() -> BTreeSet<String> {
    std::fs::read_dir(data_dir().join("instruments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn shipped_text(id: &str) -> String {
    std::fs::read_to_string(data_dir().join(format!("protocols/{id}.toml"))).unwrap()
}

fn load(id: &str) -> Protocol {
    parse_protocol(&format!("protocols/{id}.toml"), &shipped_text(id), &instrument_ids()).unwrap_or_else(|err| panic!("{err}"))
}

const SHIPPED: [&str; 5] = [
    "cocaine-mbrp-dakwar2019",
    "alcohol-met-dakwar2020",
    "alcohol-kare-grabski2022",
    "clinic-series-6",
    "opioid-clinic-moud-example",
];

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 3).unwrap()
}

fn day_of(event: &PlannedEvent) -> i64 {
    (event.date - start()).num_days()
}

/// The days of one kind of event (with a detail filter), in plan order.
fn days(events: &[PlannedEvent], kind: EventKind) -> Vec<i64> {
    events.iter().filter(|e| e.kind == kind).map(day_of).collect()
}

fn assessment_days(events: &[PlannedEvent], instrument: &str) -> Vec<i64> {
    events
        .iter()
        .filter(|e| matches!(&e.detail, EventDetail::Assessment { instrument: i } if i == instrument))
        .map(day_of)
        .collect()
}

/// Each infusion as `dose/minutes [phase dose/minutes, …]`.
fn infusions(events: &[PlannedEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.detail {
            EventDetail::Infusion(inf) => {
                let phases: Vec<String> = inf.phases.iter().map(|p| format!("{}/{}", p.dose_mg_per_kg, p.minutes)).collect();
                Some(format!("day {} #{} {}/{} [{}]", day_of(e), inf.number, inf.dose_mg_per_kg, inf.minutes, phases.join(", ")))
            }
            _ => None,
        })
        .collect()
}

fn unset_fields(protocol: &Protocol) -> Vec<&str> {
    protocol.unset().iter().map(|u| u.field.as_str()).collect()
}

#[test]
fn protocol_cocaine_mbrp_dakwar2019_expands_as_the_trial() {
    let protocol = load("cocaine-mbrp-dakwar2019");
    let events = plan(&protocol, start()).unwrap();
    // A 5-day inpatient stay, days 0-4 (clinical.md §1.1).
    assert_eq!(days(&events, EventKind::Inpatient), [0, 1, 2, 3, 4]);
    // One 0.5 mg/kg 40-minute infusion on day 1 (the stay's day 2).
    assert_eq!(infusions(&events), ["day 1 #1 0.5/40 [0.5/40]"]);
    // MBRP daily while inpatient, then twice weekly in weeks 2-5 (days 7-34).
    assert_eq!(days(&events, EventKind::Therapy), [0, 1, 2, 3, 4, 7, 10, 14, 17, 21, 24, 28, 31]);
    assert!(events
        .iter()
        .filter(|e| e.kind == EventKind::Therapy)
        .all(|e| matches!(&e.detail, EventDetail::Therapy { modality } if modality.contains("MBRP"))));
    assert_eq!(days(&events, EventKind::Integration), Vec::<i64>::new());
    assert_eq!(assessment_days(&events, "phq-9"), [1]);
    assert_eq!(assessment_days(&events, "ccq-brief"), [2]);
    // 6-month follow-up from the start date.
    let follow_up: Vec<NaiveDate> = events.iter().filter(|e| e.kind == EventKind::FollowUp).map(|e| e.date).collect();
    assert_eq!(follow_up, [NaiveDate::from_ymd_opt(2025, 9, 3).unwrap()]);
    assert_eq!(events.len(), 5 + 1 + 13 + 2 + 1);
    let def = protocol.definition();
    assert_eq!(def.outcomes.dropout_is_relapse, Some(true));
    assert!(def.outcomes.relapse_definition.as_deref().unwrap().contains("first cocaine use"));
    assert_eq!((def.outcomes.windows.len(), def.outcomes.windows[0].days), (1, Some(14)));
    assert!(def.trial_protocol);
    assert_eq!(
        unset_fields(&protocol),
        [
            "infusions.max_mg",
            "infusions.min_spacing_days",
            "infusions.max_spacing_days",
            "therapy.session_minutes",
            "outcomes.index_date"
        ]
    );
}

#[test]
fn protocol_alcohol_met_dakwar2020_expands_as_the_trial() {
    let protocol = load("alcohol-met-dakwar2020");
    let events = plan(&protocol, start()).unwrap();
    assert_eq!(days(&events, EventKind::Inpatient), Vec::<i64>::new());
    // One infusion, 0.11 mg/kg over 2 min then 0.60 mg/kg over 50 min: 0.71 mg/kg over 52 min.
    assert_eq!(infusions(&events), ["day 9 #1 0.71/52 [0.11/2, 0.6/50]"]);
    let EventDetail::Infusion(infusion) = &events.iter().find(|e| e.kind == EventKind::Infusion).unwrap().detail else {
        panic!("not an infusion")
    };
    // The quit day in week 2: days 7-13.
    let (earliest, latest) = infusion.window.unwrap();
    assert_eq!(((earliest - start()).num_days(), (latest - start()).num_days()), (7, 13));
    // MET twice weekly for 5 weeks, three visits in week 2.
    let therapy = days(&events, EventKind::Therapy);
    assert_eq!(therapy, [0, 3, 7, 9, 11, 14, 17, 21, 24, 28, 31]);
    let per_week: Vec<usize> = (0..5).map(|week| therapy.iter().filter(|d| **d / 7 == week).count()).collect();
    assert_eq!(per_week, [2, 3, 2, 2, 2]);
    assert_eq!(assessment_days(&events, "ciwa-ar"), [9]);
    assert_eq!(assessment_days(&events, "phq-9"), [9]);
    assert_eq!(assessment_days(&events, "craving"), [10]);
    assert_eq!(days(&events, EventKind::FollowUp), Vec::<i64>::new());
    let def = protocol.definition();
    assert_eq!(def.outcomes.dropout_is_relapse, Some(true));
    assert_eq!(def.outcomes.windows[0].days, Some(21));
    assert_eq!(
        unset_fields(&protocol),
        [
            "infusions.max_mg",
            "infusions.min_spacing_days",
            "infusions.max_spacing_days",
            "therapy.session_minutes",
            "outcomes.relapse_definition",
            "outcomes.index_date",
            "follow_up"
        ]
    );
}

#[test]
fn protocol_alcohol_kare_grabski2022_expands_as_the_trial() {
    let protocol = load("alcohol-kare-grabski2022");
    let events = plan(&protocol, start()).unwrap();
    // Three 0.8 mg/kg 40-minute infusions one week apart.
    assert_eq!(infusions(&events), ["day 3 #1 0.8/40 [0.8/40]", "day 10 #2 0.8/40 [0.8/40]", "day 17 #3 0.8/40 [0.8/40]"]);
    // Seven relapse-prevention therapy sessions of 1.5 h.
    assert_eq!(days(&events, EventKind::Therapy), [0, 3, 7, 10, 14, 17, 21]);
    assert_eq!(protocol.definition().therapy.as_ref().unwrap().session_minutes, Some(90));
    assert_eq!(assessment_days(&events, "ciwa-ar"), [3, 10, 17]);
    let follow_up: Vec<NaiveDate> = events.iter().filter(|e| e.kind == EventKind::FollowUp).map(|e| e.date).collect();
    assert_eq!(follow_up, [NaiveDate::from_ymd_opt(2025, 9, 3).unwrap()]);
    // The KARE relapse definition is not in the reference: unset, marked.
    let def = protocol.definition();
    assert_eq!((def.outcomes.relapse_definition.as_deref(), def.outcomes.dropout_is_relapse), (None, None));
    let relapse = protocol.unset().iter().find(|u| u.field == "outcomes.relapse_definition").unwrap();
    assert!(relapse.reason.starts_with("needs clinic setting"), "{}", relapse.reason);
}

#[test]
fn protocol_clinic_series_6_expands_with_integration_after_each_infusion() {
    let protocol = load("clinic-series-6");
    assert!(!protocol.definition().trial_protocol);
    let events = plan(&protocol, start()).unwrap();
    // Six 0.5 mg/kg 40-minute infusions over 2-3 weeks (the last by day 20).
    let infusion_days = days(&events, EventKind::Infusion);
    assert_eq!(infusion_days, [0, 2, 4, 7, 9, 11]);
    assert!(infusions(&events).iter().all(|line| line.ends_with(" 0.5/40 [0.5/40]")), "{:?}", infusions(&events));
    assert_eq!(days(&events, EventKind::Integration), [1, 3, 5, 8, 10, 12]);
    assert_eq!(days(&events, EventKind::Therapy), Vec::<i64>::new());
    // Sorted by date, then kind: the infusion before that day's assessment.
    let day0: Vec<EventKind> = events.iter().filter(|e| day_of(e) == 0).map(|e| e.kind).collect();
    assert_eq!(day0, [EventKind::Infusion, EventKind::Assessment]);
}

#[test]
fn protocol_opioid_example_keeps_moud_and_is_not_a_trial() {
    let protocol = load("opioid-clinic-moud-example");
    let def = protocol.definition();
    assert!(!def.trial_protocol);
    assert_eq!(def.moud, Some(crate::protocol::definition::Moud::Continue));
    assert_eq!(def.substances, ["opioids"]);
    assert!(def.title.contains("not a trial"), "{}", def.title);
    let events = plan(&protocol, start()).unwrap();
    assert_eq!(days(&events, EventKind::Infusion), [0, 2, 4, 7, 9, 11]);
    assert_eq!(days(&events, EventKind::Integration), [1, 3, 5, 8, 10, 12]);
    assert_eq!(assessment_days(&events, "craving"), [0]);
}

#[test]
fn protocol_every_shipped_file_sorts_by_date_then_kind() {
    for id in SHIPPED {
        let events = plan(&load(id), start()).unwrap();
        for pair in events.windows(2) {
            assert!((pair[0].date, pair[0].kind) <= (pair[1].date, pair[1].kind), "{id}: {pair:?}");
        }
    }
}

/// A valid clinic protocol to break, one problem at a time.
const BASE: &str = r#"
id = "test-series"
version = 1
title = "Test series"
substances = ["alcohol"]
trial_protocol = false
citation = "Clinic protocol"
reference = "clinical.md §2.1"
course_days = 21

[infusions]
count = 2
dose_mg_per_kg = 0.71
minutes = 52
phases = [{ dose_mg_per_kg = 0.11, minutes = 2 }, { dose_mg_per_kg = 0.60, minutes = 50 }]
min_spacing_days = 3
max_spacing_days = 7
source = "test"
schedule = [{ day = 0 }, { day = 7 }]

[therapy]
modality = "MET"
frequency = "weekly"
sessions = 3
days = [0, 7, 14]
sessions_per_week = [1, 1, 1]
source = "test"

[[assessments]]
instrument = "phq-9"
relative_to = "each_infusion"
offset_hours = 0
purpose = "pre-infusion"
source = "test"

[outcomes]
relapse_definition = "first heavy drinking day"
dropout_is_relapse = false
index_date = "first_infusion"
source = "test"

[[unset]]
field = "infusions.max_mg"
reason = "needs clinic setting"

[[unset]]
field = "therapy.session_minutes"
reason = "needs clinic setting"

[[unset]]
field = "follow_up"
reason = "needs clinic setting"
"#;

/// Parses `text` as `protocols/test-series.toml`: `ok`, or the error message.
#[track_caller]
fn check(text: &str, expect: &str) {
    let got = match parse_protocol("protocols/test-series.toml", text, &instrument_ids()) {
        Ok(_) => "ok".to_string(),
        Err(err) => err.to_string(),
    };
    assert_eq!(got, expect);
}

#[track_caller]
fn check_edit(from: &str, to: &str, expect: &str) {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    check(&BASE.replacen(from, to, 1), expect);
}

#[test]
fn protocol_base_test_file_is_valid() {
    check(BASE, "ok");
}

#[test]
fn protocol_phases_must_add_up_to_the_totals_exactly() {
    check_edit(
        "dose_mg_per_kg = 0.60",
        "dose_mg_per_kg = 0.61",
        "protocols/test-series.toml: infusions.phases: phase doses add up to 0.72 mg/kg, not the total dose_mg_per_kg 0.71",
    );
    check_edit(
        "minutes = 50",
        "minutes = 49",
        "protocols/test-series.toml: infusions.phases: phase minutes add up to 51, not the total minutes 52",
    );
    check_edit(
        "phases = [{ dose_mg_per_kg = 0.11, minutes = 2 }, { dose_mg_per_kg = 0.60, minutes = 50 }]",
        "phases = []",
        "protocols/test-series.toml: infusions.phases: list at least one phase (one phase for a plain infusion)",
    );
    // 0.1 + 0.2 is 0.3 here, as on paper (in f64 it is 0.30000000000000004).
    check(
        &BASE
            .replacen("dose_mg_per_kg = 0.71", "dose_mg_per_kg = 0.3", 1)
            .replacen("dose_mg_per_kg = 0.11", "dose_mg_per_kg = 0.1", 1)
            .replacen("dose_mg_per_kg = 0.60", "dose_mg_per_kg = 0.2", 1),
        "ok",
    );
}

#[test]
fn protocol_zero_and_negative_doses_and_minutes_are_refused() {
    check_edit(
        "dose_mg_per_kg = 0.71",
        "dose_mg_per_kg = 0",
        "protocols/test-series.toml: infusions.dose_mg_per_kg: 0 must be more than 0; infusions.phases: phase doses add up to 0.71 mg/kg, not the total dose_mg_per_kg 0",
    );
    check_edit(
        "dose_mg_per_kg = 0.11, minutes = 2",
        "dose_mg_per_kg = -0.11, minutes = 2",
        "protocols/test-series.toml: infusions.phases[1].dose_mg_per_kg: -0.11 must be more than 0; infusions.phases: phase doses add up to 0.49 mg/kg, not the total dose_mg_per_kg 0.71",
    );
    check_edit(
        "minutes = 52",
        "minutes = -52",
        "protocols/test-series.toml: infusions.minutes: -52 must be more than 0; infusions.phases: phase minutes add up to 52, not the total minutes -52",
    );
    check_edit(
        "dose_mg_per_kg = 0.71",
        "dose_mg_per_kg = 0.7100001",
        "protocols/test-series.toml: line 13: \"0.7100001\" is not a decimal number with at most 6 decimal places",
    );
}

#[test]
fn protocol_a_dose_above_its_own_maximum_is_refused() {
    check_edit(
        "min_spacing_days = 3",
        "max_dose_mg_per_kg = 0.5\nmin_spacing_days = 3",
        "protocols/test-series.toml: infusions.dose_mg_per_kg: 0.71 mg/kg is above the protocol's own max_dose_mg_per_kg 0.5",
    );
    check(
        &BASE
            .replacen("min_spacing_days = 3", "max_mg = 0\nmin_spacing_days = 3", 1)
            .replacen("field = \"infusions.max_mg\"", "field = \"outcomes.index_date\"", 1)
            .replacen("index_date = \"first_infusion\"\n", "", 1),
        "protocols/test-series.toml: infusions.max_mg: 0 must be more than 0",
    );
}

#[test]
fn protocol_days_outside_the_course_and_broken_spacing_are_refused() {
    check_edit("{ day = 7 }]", "{ day = 21 }]", "protocols/test-series.toml: infusions.schedule[2].day: day 21 is outside the course (days 0-20); infusions.schedule[2].day: day 21 is 21 days after the previous infusion (day 0); max_spacing_days is 7; assessments[1].offset_hours: 0 h from day 21 falls on day 21, outside the course (days 0-20)");
    check_edit(
        "{ day = 7 }]",
        "{ day = 2 }]",
        "protocols/test-series.toml: infusions.schedule[2].day: day 2 is 2 days after the previous infusion (day 0); min_spacing_days is 3",
    );
    check_edit(
        "{ day = 7 }]",
        "{ day = 0 }]",
        "protocols/test-series.toml: infusions.schedule[2].day: day 0 does not come after the previous infusion (day 0)",
    );
    check_edit("min_spacing_days = 3\nmax_spacing_days = 7", "min_spacing_days = 8\nmax_spacing_days = 7", "protocols/test-series.toml: infusions.max_spacing_days: 7 is less than min_spacing_days 8; infusions.schedule[2].day: day 7 is 7 days after the previous infusion (day 0); min_spacing_days is 8");
    check_edit("min_spacing_days = 3\nmax_spacing_days = 7", "min_spacing_days = 21\nmax_spacing_days = 30", "protocols/test-series.toml: infusions.min_spacing_days: 2 infusions at least 21 days apart need 21 days after the first, but the course has days 0-20; infusions.schedule[2].day: day 7 is 7 days after the previous infusion (day 0); min_spacing_days is 21");
    check_edit(
        "{ day = 7 }]",
        "{ day = 7, earliest_day = 8, latest_day = 25 }]",
        "protocols/test-series.toml: infusions.schedule[2].day: day 7 is before earliest_day 8; infusions.schedule[2].latest_day: day 25 is outside the course (days 0-20)",
    );
    check_edit("count = 2", "count = 3", "protocols/test-series.toml: infusions.schedule: lists 2 infusions but count is 3");
    check_edit(
        "days = [0, 7, 14]",
        "days = [0, 14, 7]",
        "protocols/test-series.toml: therapy.days[3]: day 7 does not come after the previous session (day 14)",
    );
    check_edit("sessions_per_week = [1, 1, 1]", "sessions_per_week = [2, 0, 1]", "protocols/test-series.toml: therapy.sessions_per_week: week 1 has 1 sessions in days but sessions_per_week says 2; therapy.sessions_per_week: week 2 has 1 sessions in days but sessions_per_week says 0");
    check_edit("sessions = 3", "sessions = 4", "protocols/test-series.toml: therapy.days: lists 3 sessions but sessions is 4");
}

#[test]
fn protocol_unknown_keys_kinds_and_instruments_are_refused() {
    check_edit("minutes = 52", "minutes = 52\ndose_mg_per_kilo = 1", "protocols/test-series.toml: line 15: unknown field `dose_mg_per_kilo`, expected one of `count`, `dose_mg_per_kg`, `minutes`, `phases`, `max_mg`, `max_dose_mg_per_kg`, `min_spacing_days`, `max_spacing_days`, `schedule`, `source`");
    check_edit(
        "relative_to = \"each_infusion\"",
        "relative_to = \"each_therapy\"",
        "protocols/test-series.toml: line 31: unknown variant `each_therapy`, expected `start` or `each_infusion`",
    );
    check_edit(
        "instrument = \"phq-9\"",
        "instrument = \"phq-10\"",
        &format!(
            "protocols/test-series.toml: assessments[1].instrument: \"phq-10\" is not an instrument in data/instruments; must be one of: {}",
            instrument_ids().into_iter().collect::<Vec<_>>().join(", ")
        ),
    );
    check_edit(
        "substances = [\"alcohol\"]",
        "substances = [\"alcohol\", \"tobacco\", \"alcohol\"]",
        "protocols/test-series.toml: substances: \"tobacco\": must be one of: alcohol, cocaine, opioids, stimulants, cannabis, sedatives, other; substances: alcohol is listed twice",
    );
    check_edit(
        "id = \"test-series\"",
        "id = \"other-series\"",
        "protocols/test-series.toml: id: \"other-series\" must match the file name (test-series.toml)",
    );
    check_edit(
        "offset_hours = 0",
        "offset_hours = -24",
        "protocols/test-series.toml: assessments[1].offset_hours: -24 h from day 0 falls on day -1, outside the course (days 0-20)",
    );
}

#[test]
fn protocol_duplicate_assessments_and_unset_fields_are_refused() {
    let duplicate = "[[assessments]]\ninstrument = \"phq-9\"\nrelative_to = \"each_infusion\"\noffset_hours = 0\npurpose = \"again\"\nsource = \"test\"\n\n[outcomes]";
    check_edit("[outcomes]", duplicate, "protocols/test-series.toml: assessments[2]: phq-9 at the same time is listed twice");
    check_edit(
        "field = \"follow_up\"",
        "field = \"therapy.session_minutes\"",
        "protocols/test-series.toml: unset[3].field: therapy.session_minutes is listed twice; follow_up: is missing: set it, or list it under [[unset]] with the reason (\"needs clinic setting: …\")",
    );
    check_edit("field = \"follow_up\"", "field = \"follow_up_months\"", &format!("protocols/test-series.toml: unset[3].field: \"follow_up_months\" must be one of: {}; follow_up: is missing: set it, or list it under [[unset]] with the reason (\"needs clinic setting: …\")", crate::protocol::definition::UNSETTABLE.join(", ")));
    check_edit(
        "dropout_is_relapse = false\n",
        "",
        "protocols/test-series.toml: outcomes.dropout_is_relapse: is missing: set it, or list it under [[unset]] with the reason (\"needs clinic setting: …\")",
    );
    check_edit(
        "min_spacing_days = 3",
        "max_mg = 70\nmin_spacing_days = 3",
        "protocols/test-series.toml: infusions.max_mg: is set and also listed under unset",
    );
}

#[test]
fn protocol_for_opioids_must_keep_moud_going() {
    check_edit(
        "substances = [\"alcohol\"]",
        "substances = [\"opioids\"]",
        "protocols/test-series.toml: moud: a protocol for opioids must keep MOUD going: set moud = \"continue\" (clinical.md §11.4)",
    );
    check_edit("substances = [\"alcohol\"]", "substances = [\"opioids\"]\nmoud = \"continue\"", "ok");
    check_edit(
        "substances = [\"alcohol\"]",
        "substances = [\"opioids\"]\nmoud = \"stop\"",
        "protocols/test-series.toml: line 6: unknown variant `stop`, expected `continue`",
    );
}

#[test]
fn protocol_plan_refuses_a_start_date_the_calendar_cannot_hold() {
    let err = plan(&load("alcohol-kare-grabski2022"), NaiveDate::MAX).unwrap_err();
    assert_eq!(err.to_string(), format!("start: {} is too late for this protocol's calendar", NaiveDate::MAX));
}

fn any_start() -> impl Strategy<Value = NaiveDate> {
    // 1900-01-01 to about 2199.
    (0_u64..110_000).prop_map(|offset| NaiveDate::from_ymd_opt(1900, 1, 1).unwrap().checked_add_days(chrono::Days::new(offset)).unwrap())
}

/// A split of a total into 1-4 positive phases, as (dose micros, minutes) pairs.
fn any_phases() -> impl Strategy<Value = Vec<(i64, i64)>> {
    proptest::collection::vec((1_i64..2_000_000, 1_i64..120), 1..5)
}

fn phase_sums(events: &[PlannedEvent]) {
    for event in events {
        if let EventDetail::Infusion(inf) = &event.detail {
            let dose = inf.phases.iter().try_fold(Decimal::ZERO, |sum, p| sum.checked_add(p.dose_mg_per_kg)).unwrap();
            let minutes: i64 = inf.phases.iter().map(|p| p.minutes).sum();
            assert_eq!((dose, minutes), (inf.dose_mg_per_kg, inf.minutes));
        }
    }
}

proptest! {
    #[test]
    fn protocol_plans_are_deterministic_start_on_or_after_the_start_and_phases_add_up(start in any_start(), idx in 0_usize..5) {
        let protocol = load(SHIPPED[idx]);
        let first = plan(&protocol, start).unwrap();
        let second = plan(&protocol, start).unwrap();
        prop_assert_eq!(&first, &second);
        prop_assert!(first.iter().all(|event| event.date >= start));
        phase_sums(&first);
        // Moving the start moves every event by the same number of days, except month-based follow-ups.
        let later = plan(&protocol, start.succ_opt().unwrap()).unwrap();
        for (a, b) in first.iter().zip(&later) {
            if a.kind != EventKind::FollowUp {
                prop_assert_eq!((b.date - a.date).num_days(), 1);
            }
        }
    }

    #[test]
    fn protocol_any_exact_phase_split_validates_and_plans_with_its_totals(phases in any_phases(), start in any_start()) {
        let total_micros: i64 = phases.iter().map(|(dose, _)| dose).sum();
        let total_minutes: i64 = phases.iter().map(|(_, minutes)| minutes).sum();
        let phase_toml: Vec<String> = phases.iter().map(|(dose, minutes)| format!("{{ dose_mg_per_kg = {}, minutes = {minutes} }}", Decimal::from_micros(*dose))).collect();
        let text = BASE
            .replacen("dose_mg_per_kg = 0.71", &format!("dose_mg_per_kg = {}", Decimal::from_micros(total_micros)), 1)
            .replacen("minutes = 52", &format!("minutes = {total_minutes}"), 1)
            .replacen("phases = [{ dose_mg_per_kg = 0.11, minutes = 2 }, { dose_mg_per_kg = 0.60, minutes = 50 }]", &format!("phases = [{}]", phase_toml.join(", ")), 1);
        let protocol = parse_protocol("protocols/test-series.toml", &text, &instrument_ids()).unwrap();
        let events = plan(&protocol, start).unwrap();
        phase_sums(&events);
        // One micro-unit more in the total is refused.
        let off = text.replacen(&format!("dose_mg_per_kg = {}\n", Decimal::from_micros(total_micros)), &format!("dose_mg_per_kg = {}\n", Decimal::from_micros(total_micros + 1)), 1);
        prop_assert!(parse_protocol("protocols/test-series.toml", &off, &instrument_ids()).is_err());
    }
}
