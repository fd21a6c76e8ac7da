//! Hand-built histories: TLFB and diary validation naming the field, PDA
//! with unknown days, heavy drinking at its exact edges by sex, expected
//! positives and conflicts, relapse per shipped protocol (a lapse short of
//! the definition, unknown days, ties, dropout counted or censored, an
//! expected positive that must not count, a relapse on day 0), and the
//! misuse watch. Expected values are worked out by hand, not computed.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use uuid::Uuid;

use crate::counseling::Attendance;
use crate::dose::Exact;
use crate::outcome::measure::*;
use crate::outcome::misuse::*;
use crate::outcome::relapse::*;
use crate::outcome::tlfb::*;
use crate::outcome::toxicology::*;
use crate::outcome::*;
use crate::patient::{SexAtBirth, Substance};
use crate::protocol::definition::IndexDate;
use crate::protocol::{parse_protocol, Protocol};

// ---- helpers ------------------------------------------------------------

/// Day `n` of the course; day 0 is Monday 2025-03-03.
fn d(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 3).unwrap() + chrono::Duration::days(n)
}

fn at(n: i64, hour: u32) -> NaiveDateTime {
    d(n).and_hms_opt(hour, 0, 0).unwrap()
}

fn ex(text: &str) -> Exact {
    Exact::parse(text).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn report(
    n: i64,
    substance: Substance,
    source: ReportSource,
    answer: UseAnswer,
    amount: Option<&str>,
) -> DayReport {
    DayReport {
        date: d(n),
        substance,
        source,
        answer,
        amount: amount.map(ex),
    }
}

fn tlfb(n: i64, substance: Substance, answer: UseAnswer) -> DayReport {
    report(n, substance, ReportSource::Tlfb, answer, None)
}

fn drinks(n: i64, amount: &str) -> DayReport {
    report(
        n,
        Substance::Alcohol,
        ReportSource::Tlfb,
        UseAnswer::Yes,
        Some(amount),
    )
}

/// TLFB "no use" for every day in `days`.
fn no_use(substance: Substance, days: std::ops::RangeInclusive<i64>) -> Vec<DayReport> {
    days.map(|n| tlfb(n, substance, UseAnswer::No)).collect()
}

fn lab(n: u128, day: i64, hour: u32, analyte: Analyte, result: TestResult) -> LabTest {
    LabTest {
        id: id(n),
        collected_at: at(day, hour),
        analyte,
        result,
    }
}

fn nothing() -> Explanations<'static> {
    Explanations {
        infusions_at: &[],
        moud: &[],
        prescriptions: &[],
        rescue_doses: &[],
    }
}

fn unexplained(n: u128, day: i64, analyte: Analyte) -> ClassifiedTest {
    classify(
        &lab(n, day, 9, analyte, TestResult::Positive),
        &nothing(),
        &DetectionWindows::shipped(),
    )
}

fn window(first: i64, last: i64) -> MeasureWindow {
    MeasureWindow {
        name: "test window".to_string(),
        days: DayWindow::new(d(first), d(last)).unwrap(),
        source: "test".to_string(),
    }
}

fn load(protocol_id: &str) -> Protocol {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let instruments: BTreeSet<String> = std::fs::read_dir(data.join("instruments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let text = std::fs::read_to_string(data.join(format!("protocols/{protocol_id}.toml"))).unwrap();
    parse_protocol(
        &format!("protocols/{protocol_id}.toml"),
        &text,
        &instruments,
    )
    .unwrap_or_else(|err| panic!("{err}"))
}

fn course() -> CourseDates {
    CourseDates {
        start: d(0),
        first_infusion: Some(d(1)),
        last_infusion: Some(d(1)),
        inpatient_discharge: Some(d(4)),
        course_end: d(34),
        protocol_follow_up: None,
    }
}

fn contact(last: i64, status: ContactStatus) -> FollowUpContact {
    FollowUpContact {
        last_contact: d(last),
        status,
    }
}

fn clinic(
    triggers: Option<Vec<RelapseTrigger>>,
    dropout_is_relapse: Option<bool>,
    index_date: Option<IndexDate>,
    follow_up_end: Option<FollowUpEnd>,
) -> ClinicRelapseSettings {
    ClinicRelapseSettings {
        triggers,
        dropout_is_relapse,
        index_date,
        follow_up_end,
        set_by: "medical director, 2025-02-01".to_string(),
    }
}

/// Dakwar 2019 with the two parts the clinic must set: index = the infusion
/// (day 1), follow-up to the course end (day 34).
fn dakwar_2019() -> RelapseDefinition {
    relapse_definition(
        &load("cocaine-mbrp-dakwar2019"),
        &clinic(
            None,
            None,
            Some(IndexDate::FirstInfusion),
            Some(FollowUpEnd::CourseEnd),
        ),
    )
    .unwrap()
}

fn facts<'a>(
    substances: &'a [Substance],
    sex: SexAtBirth,
    reports: &'a [DayReport],
    tests: &'a [ClassifiedTest],
    windows: &'a DetectionWindows,
    course: &'a CourseDates,
    contact: FollowUpContact,
) -> RelapseFacts<'a> {
    RelapseFacts {
        patient_substances: substances,
        sex_at_birth: sex,
        reports,
        tests,
        windows,
        course,
        contact,
    }
}

/// Proposals as "kind day substance" lines, day counted from the index date.
fn lines(proposals: &Proposals) -> Vec<String> {
    proposals
        .events
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e.key.kind.as_str(),
                e.day,
                e.key.substance.map_or("-", |s| s.as_str())
            )
        })
        .collect()
}

fn decide(proposals: &Proposals, kind: EventKind, day: u32, verdict: Verdict) -> Decision {
    let event = proposals
        .events
        .iter()
        .find(|e| e.key.kind == kind && e.day == day)
        .unwrap_or_else(|| panic!("no {kind:?} on day {day}"));
    Decision {
        key: event.key,
        verdict,
        note: "reviewed with the patient".to_string(),
    }
}

#[track_caller]
fn check_fields(result: Result<impl std::fmt::Debug, crate::field::FieldErrors>, expect: &[&str]) {
    let errors = result.expect_err("should be refused");
    let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, expect, "{errors}");
}

// ---- TLFB and diary validation -----------------------------------------

fn week(days: &[(&str, &str)]) -> TlfbWeekInput {
    TlfbWeekInput {
        week_start: Some("2025-03-03".to_string()),
        substance: Some("alcohol".to_string()),
        days: days
            .iter()
            .map(|(used, amount)| TlfbDayInput {
                used: Some(used.to_string()),
                amount: (!amount.is_empty()).then(|| amount.to_string()),
            })
            .collect(),
    }
}

const PATIENT: [Substance; 2] = [Substance::Alcohol, Substance::Cocaine];

#[test]
fn a_valid_week_gives_seven_days_with_unknown_kept_apart() {
    let input = week(&[
        ("no", ""),
        ("yes", "4.5"),
        ("unknown", ""),
        ("yes", ""),
        ("no", ""),
        ("no", ""),
        ("yes", "0"),
    ]);
    let days = validate_week(&input, &PATIENT, d(9)).unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(
        days[0],
        report(
            0,
            Substance::Alcohol,
            ReportSource::Tlfb,
            UseAnswer::No,
            None
        )
    );
    assert_eq!(days[1].amount, Some(ex("4.5")));
    assert_eq!(days[2].answer, UseAnswer::Unknown);
    assert_eq!(
        (days[3].answer, days[3].amount),
        (UseAnswer::Yes, None),
        "an amount is optional on a use day"
    );
    assert_eq!(days[6].date, d(6));
}

#[test]
fn tlfb_week_errors_name_each_field() {
    let ok = [("no", ""); 7];
    // Amount with no use, unknown with an amount, a negative amount, three decimals, a bad answer.
    let input = week(&[
        ("no", "2"),
        ("unknown", "1"),
        ("yes", "-1"),
        ("yes", "1.125"),
        ("maybe", ""),
        ("yes", "two"),
        ("no", ""),
    ]);
    check_fields(
        validate_week(&input, &PATIENT, d(9)),
        &[
            "days[1].amount",
            "days[2].amount",
            "days[3].amount",
            "days[4].amount",
            "days[5].use",
            "days[6].amount",
        ],
    );
    // Six days; a substance the patient does not have; a week running past today.
    let mut input = week(&ok[..6]);
    input.substance = Some("opioids".to_string());
    check_fields(
        validate_week(&input, &PATIENT, d(5)),
        &["week_start", "substance", "days"],
    );
    let mut input = week(&ok);
    input.week_start = Some("03/03/2025".to_string());
    input.substance = None;
    let errors = validate_week(&input, &PATIENT, d(9)).unwrap_err();
    assert_eq!(errors.0[0].field, "week_start");
    assert_eq!(
        errors.0[1].message,
        "required; must be one of: alcohol, cocaine"
    );
    // The last day of the week may be today.
    assert!(validate_week(&week(&ok), &PATIENT, d(6)).is_ok());
    assert!(validate_week(&week(&ok), &PATIENT, d(5)).is_err());
}

#[test]
fn diary_validation_names_each_field() {
    let input = |used: &str, amount: &str, craving: &str| DiaryInput {
        date: Some("2025-03-05".to_string()),
        substance: Some("cocaine".to_string()),
        used: Some(used.to_string()),
        amount: Some(amount.to_string()),
        craving: Some(craving.to_string()),
        note: None,
    };
    let entry = validate_diary(&input("yes", "1", "7"), &PATIENT, d(2)).unwrap();
    assert_eq!(
        entry.report,
        report(
            2,
            Substance::Cocaine,
            ReportSource::Diary,
            UseAnswer::Yes,
            Some("1")
        )
    );
    assert_eq!(entry.craving_0_to_10, Some(7));
    // Craving and amount are optional.
    assert_eq!(
        validate_diary(&input("no", "", ""), &PATIENT, d(2))
            .unwrap()
            .craving_0_to_10,
        None
    );
    // A patient does not answer "unknown": they leave the day out.
    let errors = validate_diary(&input("unknown", "", "3"), &PATIENT, d(2)).unwrap_err();
    assert_eq!(errors.0[0].field, "use");
    assert_eq!(
        errors.0[0].message,
        "\"unknown\" is not allowed; must be one of: yes, no"
    );
    check_fields(
        validate_diary(&input("no", "2", "11"), &PATIENT, d(2)),
        &["amount", "craving"],
    );
    check_fields(
        validate_diary(&input("yes", "0.125", "-1"), &PATIENT, d(2)),
        &["amount", "craving"],
    );
    check_fields(
        validate_diary(&input("yes", "1", "3"), &PATIENT, d(1)),
        &["date"],
    );
    let mut long = input("no", "", "0");
    long.note = Some("x".repeat(NOTE_MAX_CHARS + 1));
    long.substance = Some("ketamine".to_string());
    check_fields(
        validate_diary(&long, &PATIENT, d(2)),
        &["substance", "note"],
    );
}

// ---- percent days abstinent and heavy drinking ---------------------------

#[test]
fn pda_leaves_unknown_and_unrecorded_days_out_of_the_denominator() {
    // Days 0-9: five without use, two with use (one by diary only), two
    // unknown, day 9 unrecorded.
    let mut reports = no_use(Substance::Cocaine, 0..=4);
    reports.push(tlfb(5, Substance::Cocaine, UseAnswer::Yes));
    reports.push(tlfb(6, Substance::Cocaine, UseAnswer::No));
    reports.push(report(
        6,
        Substance::Cocaine,
        ReportSource::Diary,
        UseAnswer::Yes,
        None,
    ));
    reports.push(tlfb(7, Substance::Cocaine, UseAnswer::Unknown));
    reports.push(tlfb(8, Substance::Cocaine, UseAnswer::Unknown));
    // Another substance's days do not count.
    reports.push(tlfb(9, Substance::Alcohol, UseAnswer::No));
    let pda = percent_days_abstinent(&reports, Substance::Cocaine, &window(0, 9));
    assert_eq!(
        (
            pda.days_in_window,
            pda.days_assessed,
            pda.abstinent_days,
            pda.use_days,
            pda.unknown_days,
            pda.unrecorded_days
        ),
        (10, 7, 5, 2, 2, 1)
    );
    // 5 / 7 x 100 = 71.428571428…
    assert_eq!(
        pda.percent,
        Some(Exact::integer(500).checked_div(Exact::integer(7)).unwrap())
    );
    assert_eq!(pda.definition.measure, Measure::PercentDaysAbstinent);
    assert!(pda
        .definition
        .rules
        .iter()
        .any(|r| r.contains("excluded from the denominator")));
    assert!(pda.definition.source.contains("Grabski"));
    // Only unknown days: no percentage at all, never 100 %.
    let unknown = percent_days_abstinent(
        &[tlfb(0, Substance::Cocaine, UseAnswer::Unknown)],
        Substance::Cocaine,
        &window(0, 2),
    );
    assert_eq!(
        (
            unknown.percent,
            unknown.abstinent_days,
            unknown.unknown_days,
            unknown.unrecorded_days
        ),
        (None, 0, 1, 2)
    );
}

#[test]
fn heavy_drinking_thresholds_by_sex_at_their_exact_edges() {
    let niaaa = HeavyDrinkingRule::niaaa();
    // NIAAA (clinical.md §4.2, §11.6): >= 5 men, >= 4 women.
    assert!(niaaa.is_heavy(ex("5"), SexAtBirth::Male));
    assert!(!niaaa.is_heavy(ex("4.99"), SexAtBirth::Male));
    assert!(niaaa.is_heavy(ex("4"), SexAtBirth::Female));
    assert!(!niaaa.is_heavy(ex("3.99"), SexAtBirth::Female));
    // Intersex or unknown: the lower threshold (clinical.md §11.6).
    for sex in [SexAtBirth::Intersex, SexAtBirth::Unknown] {
        assert!(niaaa.is_heavy(ex("4"), sex));
        assert!(!niaaa.is_heavy(ex("3.99"), sex));
    }
    // Dakwar 2020 (clinical.md §1.2): > 4 men, > 3 women; the same for whole
    // drinks, different for 4.5 (heavy here for a man, not under NIAAA).
    let dakwar = HeavyDrinkingRule::dakwar_2020();
    assert!(!dakwar.is_heavy(ex("4"), SexAtBirth::Male));
    assert!(dakwar.is_heavy(ex("4.01"), SexAtBirth::Male));
    assert!(!dakwar.is_heavy(ex("3"), SexAtBirth::Female));
    assert!(dakwar.is_heavy(ex("3.01"), SexAtBirth::Female));
    for whole in 0..=10 {
        for sex in SexAtBirth::ALL {
            assert_eq!(
                niaaa.is_heavy(Exact::integer(whole), *sex),
                dakwar.is_heavy(Exact::integer(whole), *sex),
                "{whole} drinks, {sex:?}"
            );
        }
    }
    assert!(
        dakwar.is_heavy(ex("4.5"), SexAtBirth::Male)
            && !niaaa.is_heavy(ex("4.5"), SexAtBirth::Male)
    );
}

#[test]
fn heavy_drinking_days_over_a_window() {
    // Day 0: 4 drinks; day 1: 5; day 2: use, amount not given; day 3: none; day 4 unknown; day 5 diary 6 vs TLFB 3.
    let reports = vec![
        drinks(0, "4"),
        drinks(1, "5"),
        tlfb(2, Substance::Alcohol, UseAnswer::Yes),
        tlfb(3, Substance::Alcohol, UseAnswer::No),
        tlfb(4, Substance::Alcohol, UseAnswer::Unknown),
        drinks(5, "3"),
        report(
            5,
            Substance::Alcohol,
            ReportSource::Diary,
            UseAnswer::Yes,
            Some("6"),
        ),
    ];
    let man = heavy_drinking_days(
        &reports,
        SexAtBirth::Male,
        &HeavyDrinkingRule::niaaa(),
        &window(0, 5),
    );
    assert_eq!(
        man.heavy_days,
        [d(1), d(5)],
        "the larger amount of a day counts"
    );
    assert_eq!(man.threshold_drinks, ex("5"));
    assert_eq!(
        (man.drinking_days, man.days_assessed, man.days_not_assessed),
        (4, 5, 1)
    );
    assert_eq!(man.drinking_days_without_amount, [d(2)]);
    // PHDD 2 / 5 = 40 %; DDD (4 + 5 + 6) / 3 = 5.
    assert_eq!(
        (man.percent_heavy, man.drinks_per_drinking_day),
        (Some(ex("40")), Some(ex("5")))
    );
    let woman = heavy_drinking_days(
        &reports,
        SexAtBirth::Female,
        &HeavyDrinkingRule::niaaa(),
        &window(0, 5),
    );
    assert_eq!(woman.heavy_days, [d(0), d(1), d(5)]);
    assert!(woman
        .definition
        .heavy_drinking
        .as_ref()
        .unwrap()
        .source
        .contains("NIAAA"));
}

// ---- protocol windows, abstinence, retention, attendance -----------------

#[test]
fn protocol_windows_land_on_the_trials_days() {
    let dates = CourseDates {
        first_infusion: Some(d(9)),
        last_infusion: Some(d(9)),
        protocol_follow_up: None,
        ..course()
    };
    // Dakwar 2019: the last 2 weeks of a 35-day course: days 21-34.
    let dakwar_2019 = load("cocaine-mbrp-dakwar2019");
    let last_two_weeks =
        protocol_window(&dakwar_2019.definition().outcomes.windows[0], &dates).unwrap();
    assert_eq!(
        (
            last_two_weeks.days.first(),
            last_two_weeks.days.last(),
            last_two_weeks.days.len_days()
        ),
        (d(21), d(34), 14)
    );
    // Dakwar 2020: the 21 days after an infusion on day 9: days 10-30.
    let dakwar_2020 = load("alcohol-met-dakwar2020");
    let after = protocol_window(&dakwar_2020.definition().outcomes.windows[0], &dates).unwrap();
    assert_eq!(
        (after.days.first(), after.days.last(), after.days.len_days()),
        (d(10), d(30), 21)
    );
    assert!(after.source.contains("Dakwar 2020"));
    // KARE: 6 months from the start: 2025-03-04 to 2025-09-03.
    let kare = load("alcohol-kare-grabski2022");
    let six_months = protocol_window(&kare.definition().outcomes.windows[0], &dates).unwrap();
    assert_eq!(
        (six_months.days.first(), six_months.days.last()),
        (d(1), NaiveDate::from_ymd_opt(2025, 9, 3).unwrap())
    );
    // No infusion yet: the window cannot be placed.
    let none_yet = CourseDates {
        first_infusion: None,
        ..dates
    };
    assert_eq!(
        protocol_window(&dakwar_2020.definition().outcomes.windows[0], &none_yet),
        Err(WindowError::MissingCourseDate(MissingCourseDate(
            "first_infusion"
        )))
    );
}

#[test]
fn abstinence_over_the_final_window() {
    let w = window(21, 34);
    let negative = classify(
        &lab(1, 28, 9, Analyte::Benzoylecgonine, TestResult::Negative),
        &nothing(),
        &DetectionWindows::shipped(),
    );
    let clean = no_use(Substance::Cocaine, 21..=34);
    let result = window_abstinence(
        &clean,
        std::slice::from_ref(&negative),
        Substance::Cocaine,
        &w,
    );
    assert_eq!(
        (result.verdict, result.biologically_confirmed),
        (AbstinenceVerdict::Abstinent, true)
    );
    // Without a test: abstinent by self-report, not biologically confirmed.
    let result = window_abstinence(&clean, &[], Substance::Cocaine, &w);
    assert_eq!(
        (result.verdict, result.biologically_confirmed),
        (AbstinenceVerdict::Abstinent, false)
    );
    // One unknown day leaves it open; an unexplained positive ends it.
    let mut gap = no_use(Substance::Cocaine, 21..=33);
    gap.push(tlfb(34, Substance::Cocaine, UseAnswer::Unknown));
    let result = window_abstinence(
        &gap,
        std::slice::from_ref(&negative),
        Substance::Cocaine,
        &w,
    );
    assert_eq!(
        (result.verdict, result.unknown_days.clone()),
        (AbstinenceVerdict::Undetermined, vec![d(34)])
    );
    let positive = unexplained(2, 30, Analyte::Benzoylecgonine);
    let result = window_abstinence(&clean, &[negative, positive], Substance::Cocaine, &w);
    assert_eq!(
        (result.verdict, result.unexplained_positive_tests),
        (AbstinenceVerdict::NotAbstinent, vec![id(2)])
    );
    // A positive for another substance's analyte does not touch cocaine abstinence.
    let ethanol = unexplained(3, 30, Analyte::Etg);
    assert_eq!(
        window_abstinence(&clean, &[ethanol], Substance::Cocaine, &w).verdict,
        AbstinenceVerdict::Abstinent
    );
}

#[test]
fn retention_and_attendance() {
    let w = window(0, 34);
    let retained = |last: i64, status: ContactStatus, as_of: i64| {
        retention(&contact(last, status), &w, d(as_of)).status
    };
    assert_eq!(
        retained(34, ContactStatus::InFollowUp, 40),
        RetentionStatus::Retained
    );
    assert_eq!(
        retained(30, ContactStatus::Completed, 40),
        RetentionStatus::Retained
    );
    assert_eq!(
        retained(20, ContactStatus::DroppedOut, 40),
        RetentionStatus::NotRetained
    );
    assert_eq!(
        retained(20, ContactStatus::InFollowUp, 25),
        RetentionStatus::WindowNotOver
    );
    assert_eq!(
        retained(20, ContactStatus::InFollowUp, 40),
        RetentionStatus::NotRetained
    );
    let sessions = [
        SessionRecord {
            date: d(0),
            attendance: Some(Attendance::Attended),
        },
        SessionRecord {
            date: d(3),
            attendance: Some(Attendance::Late),
        },
        SessionRecord {
            date: d(7),
            attendance: Some(Attendance::NoShow),
        },
        SessionRecord {
            date: d(10),
            attendance: Some(Attendance::CancelledByPatient),
        },
        SessionRecord {
            date: d(14),
            attendance: Some(Attendance::CancelledByClinic),
        },
        SessionRecord {
            date: d(17),
            attendance: None,
        },
        SessionRecord {
            date: d(40),
            attendance: Some(Attendance::Attended),
        },
    ];
    let rate = attendance(&sessions, &w);
    assert_eq!(
        (
            rate.expected,
            rate.attended,
            rate.not_recorded,
            rate.percent
        ),
        (4, 2, 1, Some(ex("50")))
    );
}

// ---- expected positives and conflicts ------------------------------------

#[test]
fn a_ketamine_positive_is_expected_only_inside_the_clinics_window() {
    let infusions = [at(1, 10)];
    let explained = Explanations {
        infusions_at: &infusions,
        ..nothing()
    };
    let positive = |day: i64, hour: u32| lab(1, day, hour, Analyte::Ketamine, TestResult::Positive);
    // The window ships unset: undetermined, naming the setting and what the reference says.
    let shipped = classify(&positive(3, 9), &explained, &DetectionWindows::shipped());
    let Expectation::Undetermined(needs) = &shipped.expectation else {
        panic!("{shipped:?}")
    };
    assert_eq!(needs[0].name, "detection_window.ketamine");
    assert!(
        needs[0].to_string().starts_with(
            "needs clinic setting: detection_window.ketamine (clinical.md §4.1: ketamine ~2-4 days"
        ),
        "{}",
        needs[0]
    );
    // With the clinic's 3 days: expected up to 72 h after the start, unexplained after.
    let windows = DetectionWindows::shipped().with(Analyte::Ketamine, 3);
    assert_eq!(
        classify(&positive(4, 10), &explained, &windows).expectation,
        Expectation::Expected(vec![ExpectedReason::Infusion {
            at: at(1, 10),
            window_days: 3
        }])
    );
    assert_eq!(
        classify(&positive(4, 11), &explained, &windows).expectation,
        Expectation::Unexplained
    );
    // A pre-infusion screen the same morning is not explained by the infusion after it.
    assert_eq!(
        classify(&positive(1, 8), &explained, &windows).expectation,
        Expectation::Unexplained
    );
    // Norketamine has its own window (the reference gives no number for it).
    let nor = classify(
        &lab(2, 2, 9, Analyte::Norketamine, TestResult::Positive),
        &explained,
        &windows,
    );
    assert!(
        matches!(&nor.expectation, Expectation::Undetermined(n) if n[0].name == "detection_window.norketamine")
    );
    // Negative and invalid results count for nothing.
    assert_eq!(
        classify(
            &lab(3, 9, 9, Analyte::Ketamine, TestResult::Negative),
            &explained,
            &windows
        )
        .expectation,
        Expectation::NotPositive
    );
    assert_eq!(
        classify(
            &lab(4, 9, 9, Analyte::Ketamine, TestResult::Invalid),
            &explained,
            &windows
        )
        .expectation,
        Expectation::NotPositive
    );
}

#[test]
fn moud_prescriptions_and_rescue_doses_explain_their_analytes() {
    let moud = [MoudCourse {
        medication: MoudMedication::Buprenorphine,
        from: d(0),
        to: Some(d(20)),
    }];
    let rx = [Prescription {
        drug: "lisdexamfetamine".to_string(),
        analyte: Analyte::Amphetamines,
        from: d(5),
        to: None,
    }];
    let rescue = [RescueDose {
        drug: RescueDrug::Midazolam,
        given_at: at(1, 11),
    }];
    let explained = Explanations {
        infusions_at: &[],
        moud: &moud,
        prescriptions: &rx,
        rescue_doses: &rescue,
    };
    let windows = DetectionWindows::shipped().with(Analyte::Benzodiazepines, 2);
    let expectation = |analyte: Analyte, day: i64| {
        classify(
            &lab(1, day, 9, analyte, TestResult::Positive),
            &explained,
            &windows,
        )
        .expectation
    };
    assert_eq!(
        expectation(Analyte::Buprenorphine, 10),
        Expectation::Expected(vec![ExpectedReason::Moud {
            course: moud[0],
            window_days: None
        }])
    );
    // Buprenorphine MOUD does not explain methadone, fentanyl or other opioids.
    for analyte in [Analyte::Methadone, Analyte::Fentanyl, Analyte::Opioids] {
        assert_eq!(
            expectation(analyte, 10),
            Expectation::Unexplained,
            "{analyte:?}"
        );
    }
    // After the course ended, only its (unset) window could explain it; before it began, nothing does.
    assert!(matches!(
        expectation(Analyte::Buprenorphine, 22),
        Expectation::Undetermined(_)
    ));
    assert_eq!(
        classify(
            &lab(1, -1, 9, Analyte::Buprenorphine, TestResult::Positive),
            &explained,
            &windows
        )
        .expectation,
        Expectation::Unexplained
    );
    assert!(
        matches!(expectation(Analyte::Amphetamines, 6), Expectation::Expected(r) if matches!(&r[0], ExpectedReason::Prescription { drug, .. } if drug == "lisdexamfetamine"))
    );
    assert_eq!(
        expectation(Analyte::Amphetamines, 4),
        Expectation::Unexplained
    );
    // Rescue midazolam on day 1 at 11:00, clinic window 2 days.
    assert!(matches!(
        expectation(Analyte::Benzodiazepines, 3),
        Expectation::Expected(_)
    ));
    assert_eq!(
        classify(
            &lab(1, 3, 12, Analyte::Benzodiazepines, TestResult::Positive),
            &explained,
            &windows
        )
        .expectation,
        Expectation::Unexplained
    );
}

#[test]
fn conflicts_are_listed_not_resolved() {
    let mut reports = no_use(Substance::Cocaine, 0..=6);
    reports.push(report(
        3,
        Substance::Cocaine,
        ReportSource::Diary,
        UseAnswer::Yes,
        None,
    ));
    let positive = unexplained(1, 6, Analyte::Benzoylecgonine);
    // Window unset: only the collection day is compared, and the result says so.
    let found = conflicts(
        &reports,
        std::slice::from_ref(&positive),
        &DetectionWindows::shipped(),
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    let Conflict::PositiveVersusNoUse {
        looked_back,
        window_unset,
        no_use: denied,
        ..
    } = &found[0]
    else {
        panic!("{found:?}")
    };
    assert_eq!(
        (looked_back.first(), looked_back.last(), denied.len()),
        (d(6), d(6), 1)
    );
    assert_eq!(
        window_unset.as_ref().unwrap().name,
        "detection_window.benzoylecgonine"
    );
    assert_eq!(
        found[1],
        Conflict::SelfReportsDisagree {
            date: d(3),
            substance: Substance::Cocaine,
            reports: vec![reports[3], reports[7]]
        }
    );
    // With a 4-day window the look-back reaches day 2, where the diary reports use: no conflict with the test.
    let windows = DetectionWindows::shipped().with(Analyte::Benzoylecgonine, 4);
    assert!(
        conflicts(&reports, std::slice::from_ref(&positive), &windows)
            .iter()
            .all(|c| matches!(c, Conflict::SelfReportsDisagree { .. }))
    );
    // A 2-day window (days 4-6) all reported without use: a conflict with three days.
    let windows = DetectionWindows::shipped().with(Analyte::Benzoylecgonine, 2);
    let found = conflicts(&reports, &[positive], &windows);
    assert!(
        matches!(&found[0], Conflict::PositiveVersusNoUse { no_use: denied, window_unset: None, .. } if denied.len() == 3)
    );
    // An expected positive is no conflict: buprenorphine on MOUD while reporting no opioid use.
    let moud = [MoudCourse {
        medication: MoudMedication::Buprenorphine,
        from: d(0),
        to: None,
    }];
    let on_moud = classify(
        &lab(2, 2, 9, Analyte::Buprenorphine, TestResult::Positive),
        &Explanations {
            moud: &moud,
            ..nothing()
        },
        &DetectionWindows::shipped(),
    );
    assert!(conflicts(
        &no_use(Substance::Opioids, 0..=6),
        &[on_moud],
        &DetectionWindows::shipped()
    )
    .is_empty());
}

// ---- relapse definitions per protocol ------------------------------------

#[test]
fn definitions_come_from_the_protocol_or_refuse_naming_the_setting() {
    // Dakwar 2019 gives the rule and counts dropout; index date and end of follow-up are unset.
    let definition = relapse_definition(
        &load("cocaine-mbrp-dakwar2019"),
        &ClinicRelapseSettings::unset(),
    )
    .unwrap();
    assert_eq!(
        definition.triggers.require().unwrap(),
        &vec![
            RelapseTrigger::SelfReportedUse,
            RelapseTrigger::UnexplainedPositiveTest
        ]
    );
    assert!(
        matches!(&definition.triggers, Setting::Set { source, .. } if source.starts_with("Dakwar E et al., Am J Psychiatry 2019"))
    );
    assert_eq!(definition.dropout_is_relapse.require(), Ok(&true));
    assert_eq!(definition.substances, [Substance::Cocaine]);
    let course = course();
    let windows = DetectionWindows::shipped();
    let history = facts(
        &[Substance::Cocaine],
        SexAtBirth::Male,
        &[],
        &[],
        &windows,
        &course,
        contact(20, ContactStatus::InFollowUp),
    );
    let refused = propose(&definition, &history).unwrap_err();
    let RelapseError::NeedsClinicSetting(needs) = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        needs.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["outcomes.index_date", "outcomes.relapse_follow_up"]
    );
    assert!(refused.to_string().starts_with("needs clinic setting: outcomes.index_date (not in reference: the day time to relapse counts from in Dakwar 2019"), "{refused}");
    // KARE: nothing is in the reference; every part is named.
    let kare = relapse_definition(
        &load("alcohol-kare-grabski2022"),
        &ClinicRelapseSettings::unset(),
    )
    .unwrap();
    let history = facts(
        &[Substance::Alcohol],
        SexAtBirth::Female,
        &[],
        &[],
        &windows,
        &course,
        contact(20, ContactStatus::InFollowUp),
    );
    let RelapseError::NeedsClinicSetting(needs) = propose(&kare, &history).unwrap_err() else {
        panic!()
    };
    assert_eq!(
        needs.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        [
            "outcomes.relapse_definition",
            "outcomes.dropout_is_relapse",
            "outcomes.index_date",
            "outcomes.relapse_follow_up"
        ]
    );
    assert!(
        needs[0]
            .reason
            .starts_with("the KARE relapse definition is not in the reference"),
        "{}",
        needs[0].reason
    );
    // Dakwar 2020 counts dropout; the clinic supplies the common AUD rule.
    let hdd = vec![RelapseTrigger::HeavyDrinkingDay(HeavyDrinkingRule::niaaa())];
    let dakwar_2020 = relapse_definition(
        &load("alcohol-met-dakwar2020"),
        &clinic(
            Some(hdd.clone()),
            None,
            Some(IndexDate::FirstInfusion),
            Some(FollowUpEnd::CourseEnd),
        ),
    )
    .unwrap();
    assert!(
        matches!(&dakwar_2020.triggers, Setting::Set { value, source } if *value == hdd && source.starts_with("clinic setting: medical director"))
    );
    assert!(
        matches!(&dakwar_2020.dropout_is_relapse, Setting::Set { value: true, source } if source.contains("Dakwar 2020"))
    );
    // The clinic cannot contradict what the protocol sets.
    let contradiction = relapse_definition(
        &load("cocaine-mbrp-dakwar2019"),
        &clinic(Some(hdd), Some(false), None, None),
    )
    .unwrap_err();
    assert_eq!(
        contradiction.fields,
        ["outcomes.relapse_definition", "outcomes.dropout_is_relapse"]
    );
    // An empty list of rules is no rule.
    let empty = relapse_definition(
        &load("clinic-series-6"),
        &clinic(Some(Vec::new()), None, None, None),
    )
    .unwrap();
    assert!(!empty.triggers.is_set());
    // Agreeing with the protocol is fine.
    assert!(relapse_definition(
        &load("cocaine-mbrp-dakwar2019"),
        &clinic(None, Some(true), None, None)
    )
    .is_ok());
}

#[test]
fn dakwar_2019_first_cocaine_use_by_self_report_or_urine() {
    let definition = dakwar_2019();
    // Index: the infusion on day 1. Use on day 0 is before it. Days 2-9 no
    // use; a positive on day 5 nothing explains; day 12 unknown; use on day 15.
    let mut reports = vec![tlfb(0, Substance::Cocaine, UseAnswer::Yes)];
    reports.extend(no_use(Substance::Cocaine, 1..=9));
    reports.push(tlfb(12, Substance::Cocaine, UseAnswer::Unknown));
    reports.push(tlfb(15, Substance::Cocaine, UseAnswer::Yes));
    let tests = [
        unexplained(1, 5, Analyte::Benzoylecgonine),
        unexplained(2, 5, Analyte::Etg),
    ];
    let windows = DetectionWindows::shipped().with(Analyte::Benzoylecgonine, 4);
    let course = course();
    let history = facts(
        &[Substance::Cocaine, Substance::Alcohol],
        SexAtBirth::Male,
        &reports,
        &tests,
        &windows,
        &course,
        contact(30, ContactStatus::InFollowUp),
    );
    let proposals = propose(&definition, &history).unwrap();
    assert_eq!(proposals.index, d(1));
    // Alcohol is not the protocol's substance: its EtG proposes nothing.
    assert_eq!(
        lines(&proposals),
        ["relapse 4 cocaine", "relapse 14 cocaine"]
    );
    let test_relapse = &proposals.events[0];
    assert_eq!(test_relapse.evidence.tests[0].test.id, id(1));
    // The clinic's 4-day window reaches back to day 1, the index date: the use may have been on any of days 1-5.
    assert_eq!(test_relapse.evidence.tests[0].earliest_use, Some(d(1)));
    assert_eq!(
        proposals.events[1].evidence.days,
        [tlfb(15, Substance::Cocaine, UseAnswer::Yes)]
    );
    // Nothing confirmed yet: censored at the last contact (day 30 = 29 days), with both pending.
    let open = time_to_relapse(&proposals, &[]);
    assert_eq!(
        (open.point, open.ending),
        (
            SurvivalPoint {
                days: 29,
                relapsed: false
            },
            Ending::CensoredAtLastContact(d(30))
        )
    );
    assert_eq!(open.pending.len(), 2);
    // The clinician rejects the test (carry-over) and confirms the reported use.
    let decisions = [
        decide(&proposals, EventKind::Relapse, 4, Verdict::Rejected),
        decide(&proposals, EventKind::Relapse, 14, Verdict::Confirmed),
    ];
    let result = time_to_relapse(&proposals, &decisions);
    assert_eq!(
        result.point,
        SurvivalPoint {
            days: 14,
            relapsed: true
        }
    );
    assert!(result.pending.is_empty() && result.unmatched_decisions.is_empty());
    // A later decision replaces an earlier one for the same proposal.
    let changed = [
        decisions[0].clone(),
        decisions[1].clone(),
        decide(&proposals, EventKind::Relapse, 4, Verdict::Confirmed),
    ];
    assert_eq!(
        time_to_relapse(&proposals, &changed).point,
        SurvivalPoint {
            days: 4,
            relapsed: true
        }
    );
}

#[test]
fn a_relapse_on_the_index_date_is_day_0() {
    let reports = [tlfb(1, Substance::Cocaine, UseAnswer::Yes)];
    let windows = DetectionWindows::shipped();
    let course = course();
    let proposals = propose(
        &dakwar_2019(),
        &facts(
            &[Substance::Cocaine],
            SexAtBirth::Female,
            &reports,
            &[],
            &windows,
            &course,
            contact(10, ContactStatus::InFollowUp),
        ),
    )
    .unwrap();
    assert_eq!(lines(&proposals), ["relapse 0 cocaine"]);
    let result = time_to_relapse(
        &proposals,
        &[decide(
            &proposals,
            EventKind::Relapse,
            0,
            Verdict::Confirmed,
        )],
    );
    assert_eq!(
        result.point,
        SurvivalPoint {
            days: 0,
            relapsed: true
        }
    );
}

#[test]
fn ties_between_sources_are_one_event() {
    // Day 6: TLFB and diary both report use and a positive is collected; the last contact is that day too.
    let reports = [
        tlfb(6, Substance::Cocaine, UseAnswer::Yes),
        report(
            6,
            Substance::Cocaine,
            ReportSource::Diary,
            UseAnswer::Yes,
            None,
        ),
    ];
    let tests = [unexplained(1, 6, Analyte::Benzoylecgonine)];
    let windows = DetectionWindows::shipped();
    let course = course();
    let history = facts(
        &[Substance::Cocaine],
        SexAtBirth::Male,
        &reports,
        &tests,
        &windows,
        &course,
        contact(6, ContactStatus::DroppedOut),
    );
    let proposals = propose(&dakwar_2019(), &history).unwrap();
    // One relapse with both reports and the test; the dropout on the same day is its own proposal.
    assert_eq!(lines(&proposals), ["relapse 5 cocaine", "dropout 5 -"]);
    let evidence = &proposals.events[0].evidence;
    assert_eq!((evidence.days.len(), evidence.tests.len()), (2, 1));
    assert_eq!(
        evidence.reasons,
        ["reported use", "unexplained positive benzoylecgonine"]
    );
    // Both confirmed: one event at day 5 (the relapse, listed first).
    let both = [
        decide(&proposals, EventKind::Dropout, 5, Verdict::Confirmed),
        decide(&proposals, EventKind::Relapse, 5, Verdict::Confirmed),
    ];
    let result = time_to_relapse(&proposals, &both);
    assert_eq!(
        (result.point, result.ending),
        (
            SurvivalPoint {
                days: 5,
                relapsed: true
            },
            Ending::Event(proposals.events[0].key)
        )
    );
}

#[test]
fn dropout_is_an_event_when_the_protocol_counts_it_and_censored_otherwise() {
    let reports = no_use(Substance::Cocaine, 1..=20);
    let windows = DetectionWindows::shipped();
    let course = course();
    let dropped = facts(
        &[Substance::Cocaine],
        SexAtBirth::Male,
        &reports,
        &[],
        &windows,
        &course,
        contact(20, ContactStatus::DroppedOut),
    );
    // Dakwar 2019 counts dropout (clinical.md §1.1).
    let proposals = propose(&dakwar_2019(), &dropped).unwrap();
    assert_eq!(lines(&proposals), ["dropout 19 -"]);
    let unreviewed = time_to_relapse(&proposals, &[]);
    assert_eq!(
        (unreviewed.point, unreviewed.pending.len()),
        (
            SurvivalPoint {
                days: 19,
                relapsed: false
            },
            1
        )
    );
    let confirmed = time_to_relapse(
        &proposals,
        &[decide(
            &proposals,
            EventKind::Dropout,
            19,
            Verdict::Confirmed,
        )],
    );
    assert_eq!(
        confirmed.point,
        SurvivalPoint {
            days: 19,
            relapsed: true
        }
    );
    // The clinic series with dropout as censoring: no dropout event, censored at the last contact.
    let series = relapse_definition(
        &load("clinic-series-6"),
        &clinic(
            Some(vec![RelapseTrigger::SelfReportedUse]),
            Some(false),
            Some(IndexDate::FirstInfusion),
            Some(FollowUpEnd::DaysAfterIndex(90)),
        ),
    )
    .unwrap();
    let proposals = propose(&series, &dropped).unwrap();
    assert!(proposals.events.is_empty());
    let censored = time_to_relapse(&proposals, &[]);
    assert_eq!(
        (censored.point, censored.ending),
        (
            SurvivalPoint {
                days: 19,
                relapsed: false
            },
            Ending::CensoredAtLastContact(d(20))
        )
    );
    // Still followed past the end of follow-up (day 1 + 90): censored there, never after it.
    let long = facts(
        &[Substance::Cocaine],
        SexAtBirth::Male,
        &reports,
        &[],
        &windows,
        &course,
        contact(200, ContactStatus::InFollowUp),
    );
    let proposals = propose(&series, &long).unwrap();
    assert_eq!(
        time_to_relapse(&proposals, &[]).ending,
        Ending::CensoredAtFollowUpEnd(d(91))
    );
    assert_eq!(
        time_to_relapse(&proposals, &[]).point,
        SurvivalPoint {
            days: 90,
            relapsed: false
        }
    );
    // A dropout after the end of follow-up completed it: no dropout event.
    let late = facts(
        &[Substance::Cocaine],
        SexAtBirth::Male,
        &reports,
        &[],
        &windows,
        &course,
        contact(40, ContactStatus::DroppedOut),
    );
    assert!(propose(&dakwar_2019(), &late).unwrap().events.is_empty());
    // Last contact before the index date: nothing to observe.
    let early = facts(
        &[Substance::Cocaine],
        SexAtBirth::Male,
        &reports,
        &[],
        &windows,
        &course,
        contact(0, ContactStatus::DroppedOut),
    );
    assert!(matches!(
        propose(&dakwar_2019(), &early),
        Err(RelapseError::NotFollowedAfterIndex { .. })
    ));
}

#[test]
fn a_lapse_short_of_the_heavy_drinking_definition() {
    // Dakwar 2020 with the common AUD rule (first heavy drinking day, NIAAA), index the infusion on day 9.
    let hdd = vec![RelapseTrigger::HeavyDrinkingDay(HeavyDrinkingRule::niaaa())];
    let definition = relapse_definition(
        &load("alcohol-met-dakwar2020"),
        &clinic(
            Some(hdd),
            None,
            Some(IndexDate::FirstInfusion),
            Some(FollowUpEnd::CourseEnd),
        ),
    )
    .unwrap();
    let course = CourseDates {
        first_infusion: Some(d(9)),
        last_infusion: Some(d(9)),
        ..course()
    };
    // A woman: 3 drinks on day 12 (a lapse), 4 on day 16 (heavy), an EtG positive on day 13 (a lapse: tests are not in the rule).
    let reports = [
        drinks(12, "3"),
        drinks(16, "4"),
        tlfb(20, Substance::Alcohol, UseAnswer::Yes),
    ];
    let tests = [unexplained(1, 13, Analyte::Etg)];
    let windows = DetectionWindows::shipped();
    let history = facts(
        &[Substance::Alcohol],
        SexAtBirth::Female,
        &reports,
        &tests,
        &windows,
        &course,
        contact(30, ContactStatus::InFollowUp),
    );
    let proposals = propose(&definition, &history).unwrap();
    // Day 20: use without an amount cannot be called heavy: a lapse.
    assert_eq!(
        lines(&proposals),
        [
            "lapse 3 alcohol",
            "lapse 4 alcohol",
            "relapse 7 alcohol",
            "lapse 11 alcohol"
        ]
    );
    assert!(proposals.events[2].evidence.reasons[0].starts_with(
        "heavy drinking day: 4 standard drinks (threshold 4 for sex at birth female)"
    ));
    // The same history for a man: 4 drinks is below 5, so no relapse at all.
    let man = facts(
        &[Substance::Alcohol],
        SexAtBirth::Male,
        &reports,
        &tests,
        &windows,
        &course,
        contact(30, ContactStatus::InFollowUp),
    );
    let proposals_man = propose(&definition, &man).unwrap();
    assert!(proposals_man
        .events
        .iter()
        .all(|e| e.key.kind == EventKind::Lapse));
    // Confirming a lapse does not end follow-up.
    let lapse_only = time_to_relapse(
        &proposals_man,
        &[decide(
            &proposals_man,
            EventKind::Lapse,
            3,
            Verdict::Confirmed,
        )],
    );
    assert_eq!(
        lapse_only.point,
        SurvivalPoint {
            days: 21,
            relapsed: false
        }
    );
    // Confirming the woman's relapse gives day 7.
    assert_eq!(
        time_to_relapse(
            &proposals,
            &[decide(
                &proposals,
                EventKind::Relapse,
                7,
                Verdict::Confirmed
            )]
        )
        .point,
        SurvivalPoint {
            days: 7,
            relapsed: true
        }
    );
}

#[test]
fn unknown_days_break_a_run_of_use_days() {
    // Clinic rule: 3 consecutive use days; index the start (day 0).
    let three = NonZeroU32::new(3).unwrap();
    let definition = relapse_definition(
        &load("clinic-series-6"),
        &clinic(
            Some(vec![RelapseTrigger::ConsecutiveUseDays(three)]),
            Some(false),
            Some(IndexDate::Start),
            Some(FollowUpEnd::CourseEnd),
        ),
    )
    .unwrap();
    // Use on days 3 and 4, day 5 unknown, use on 6; day 7 unrecorded; use 8, 9, 10.
    let reports: Vec<DayReport> = [3, 4, 6, 8, 9, 10]
        .into_iter()
        .map(|n| tlfb(n, Substance::Alcohol, UseAnswer::Yes))
        .chain([tlfb(5, Substance::Alcohol, UseAnswer::Unknown)])
        .collect();
    let windows = DetectionWindows::shipped();
    let course = course();
    let history = facts(
        &[Substance::Alcohol],
        SexAtBirth::Male,
        &reports,
        &[],
        &windows,
        &course,
        contact(30, ContactStatus::InFollowUp),
    );
    let proposals = propose(&definition, &history).unwrap();
    assert_eq!(
        lines(&proposals),
        [
            "lapse 3 alcohol",
            "lapse 4 alcohol",
            "lapse 6 alcohol",
            "relapse 8 alcohol"
        ]
    );
    assert_eq!(proposals.events[3].evidence.days.len(), 3);
    assert_eq!(
        proposals.events[3].evidence.reasons,
        ["3 consecutive use days (the definition needs 3)"]
    );
    // Had day 5 been reported as use, days 3-6 would be one run and the relapse day 3.
    let mut filled = reports.clone();
    filled.push(report(
        5,
        Substance::Alcohol,
        ReportSource::Diary,
        UseAnswer::Yes,
        None,
    ));
    let proposals = propose(
        &definition,
        &facts(
            &[Substance::Alcohol],
            SexAtBirth::Male,
            &filled,
            &[],
            &windows,
            &course,
            contact(30, ContactStatus::InFollowUp),
        ),
    )
    .unwrap();
    assert_eq!(
        lines(&proposals),
        ["relapse 3 alcohol", "relapse 8 alcohol"]
    );
}

#[test]
fn an_expected_positive_must_not_count() {
    // The OUD example protocol with a clinic rule: first reported use or unexplained positive.
    let definition = relapse_definition(
        &load("opioid-clinic-moud-example"),
        &clinic(
            Some(vec![
                RelapseTrigger::SelfReportedUse,
                RelapseTrigger::UnexplainedPositiveTest,
            ]),
            Some(false),
            Some(IndexDate::FirstInfusion),
            Some(FollowUpEnd::DaysAfterIndex(60)),
        ),
    )
    .unwrap();
    let moud = [MoudCourse {
        medication: MoudMedication::Buprenorphine,
        from: d(-30),
        to: None,
    }];
    let infusions = [at(1, 10)];
    let explained = Explanations {
        infusions_at: &infusions,
        moud: &moud,
        prescriptions: &[],
        rescue_doses: &[],
    };
    let windows = DetectionWindows::shipped().with(Analyte::Ketamine, 3);
    let tests = classify_all(
        &[
            lab(1, 3, 9, Analyte::Buprenorphine, TestResult::Positive),
            lab(2, 3, 9, Analyte::Ketamine, TestResult::Positive),
            lab(3, 10, 9, Analyte::Methadone, TestResult::Positive),
            lab(4, 20, 9, Analyte::Fentanyl, TestResult::Positive),
        ],
        &explained,
        &windows,
    );
    assert!(matches!(tests[0].expectation, Expectation::Expected(_)));
    let reports = no_use(Substance::Opioids, 1..=30);
    let course = course();
    let history = facts(
        &[Substance::Opioids],
        SexAtBirth::Male,
        &reports,
        &tests,
        &windows,
        &course,
        contact(30, ContactStatus::InFollowUp),
    );
    let proposals = propose(&definition, &history).unwrap();
    // Buprenorphine on MOUD and ketamine after the infusion propose nothing;
    // methadone nobody prescribed and fentanyl do.
    assert_eq!(
        lines(&proposals),
        ["relapse 9 opioids", "relapse 19 opioids"]
    );
    assert!(proposals.events.iter().all(|e| e
        .evidence
        .tests
        .iter()
        .all(|t| t.test.id != id(1) && t.test.id != id(2))));
    // The test conflicts with the TLFB's "no use" on those days.
    let found = conflicts(&reports, &tests, &windows);
    assert_eq!(found.len(), 2);
}

#[test]
fn undetermined_tests_and_stale_decisions_are_reported() {
    let moud = [MoudCourse {
        medication: MoudMedication::Methadone,
        from: d(0),
        to: Some(d(5)),
    }];
    let tests = classify_all(
        &[lab(1, 8, 9, Analyte::Methadone, TestResult::Positive)],
        &Explanations {
            moud: &moud,
            ..nothing()
        },
        &DetectionWindows::shipped(),
    );
    let definition = relapse_definition(
        &load("opioid-clinic-moud-example"),
        &clinic(
            Some(vec![RelapseTrigger::UnexplainedPositiveTest]),
            Some(false),
            Some(IndexDate::Start),
            Some(FollowUpEnd::CourseEnd),
        ),
    )
    .unwrap();
    let windows = DetectionWindows::shipped();
    let course = course();
    let proposals = propose(
        &definition,
        &facts(
            &[Substance::Opioids],
            SexAtBirth::Male,
            &[],
            &tests,
            &windows,
            &course,
            contact(20, ContactStatus::InFollowUp),
        ),
    )
    .unwrap();
    assert!(proposals.events.is_empty());
    assert_eq!(proposals.undetermined_tests, [id(1)]);
    let stale = Decision {
        key: EventKey {
            date: d(8),
            kind: EventKind::Relapse,
            substance: Some(Substance::Opioids),
        },
        verdict: Verdict::Confirmed,
        note: "old".to_string(),
    };
    let result = time_to_relapse(&proposals, std::slice::from_ref(&stale));
    assert_eq!(
        (result.point.relapsed, result.unmatched_decisions),
        (false, vec![stale.key])
    );
    // A patient without the protocol's substance.
    let refused = propose(
        &definition,
        &facts(
            &[Substance::Alcohol],
            SexAtBirth::Male,
            &[],
            &tests,
            &windows,
            &course,
            contact(20, ContactStatus::InFollowUp),
        ),
    );
    assert!(matches!(
        refused,
        Err(RelapseError::NoProtocolSubstance { .. })
    ));
}

// ---- ketamine-misuse watch -----------------------------------------------

#[test]
fn misuse_flags_carry_their_evidence_and_only_confirmed_ones_count() {
    let infusions = [at(1, 10)];
    let explained = Explanations {
        infusions_at: &infusions,
        ..nothing()
    };
    let windows = DetectionWindows::shipped().with(Analyte::Ketamine, 3);
    let tests = classify_all(
        &[
            lab(1, 2, 9, Analyte::Ketamine, TestResult::Positive),
            lab(2, 20, 9, Analyte::Ketamine, TestResult::Positive),
            lab(3, 20, 9, Analyte::Norketamine, TestResult::Positive),
            lab(4, 21, 9, Analyte::Ketamine, TestResult::Negative),
            lab(5, 21, 9, Analyte::Benzoylecgonine, TestResult::Positive),
        ],
        &explained,
        &windows,
    );
    let cravings = [
        KetamineCravingReport {
            id: id(10),
            reported_on: d(15),
            craving: true,
        },
        KetamineCravingReport {
            id: id(11),
            reported_on: d(16),
            craving: false,
        },
    ];
    let requests = [InfusionRequest {
        id: id(20),
        requested_on: d(12),
        kind: RequestKind::EarlierInfusion,
    }];
    let flags = misuse_flags(&tests, &cravings, &requests);
    let summary: Vec<(MisuseSignal, NaiveDate)> =
        flags.iter().map(|f| (f.key.signal, f.date)).collect();
    // The expected positive on day 2, the negative, the cocaine positive and the "no" craving raise nothing.
    assert_eq!(
        summary,
        [
            (MisuseSignal::EarlierInfusionRequest, d(12)),
            (MisuseSignal::KetamineCraving, d(15)),
            (MisuseSignal::UnexplainedKetaminePositive, d(20)),
            (MisuseSignal::UndeterminedKetaminePositive, d(20)),
        ]
    );
    assert!(
        matches!(&flags[3].evidence, MisuseEvidence::UndeterminedTest { needs, .. } if needs[0].name == "detection_window.norketamine")
    );
    assert_eq!(confirmed_misuse_count(&flags, &[]), 0);
    let decisions = [
        MisuseDecision {
            flag: flags[2].key,
            verdict: Verdict::Confirmed,
            note: "admitted street ketamine".to_string(),
        },
        MisuseDecision {
            flag: flags[1].key,
            verdict: Verdict::Confirmed,
            note: "craving".to_string(),
        },
        MisuseDecision {
            flag: flags[1].key,
            verdict: Verdict::Rejected,
            note: "on review, craving for cocaine".to_string(),
        },
    ];
    assert_eq!(confirmed_misuse_count(&flags, &decisions), 1);
    assert_eq!(confirmed_misuse(&flags, &decisions)[0].key.record, id(2));
}
