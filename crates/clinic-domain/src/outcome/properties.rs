//! Property tests over random histories (reports from both sources on any
//! day, any answer; tests of every analyte and result; random infusions,
//! MOUD, prescriptions and rescue doses; windows set or unset; any mix of
//! relapse rules; any contact and end of follow-up). Checked against simple
//! models written here: PDA is between 0 and 100 and an unknown or
//! unrecorded day is never abstinent; the evaluator never proposes an event
//! before the index date or after the last day observed, and never from a
//! positive that is expected or undetermined; censoring never falls after
//! the last contact, and an event only comes from a confirmed relapse or dropout.

use std::collections::BTreeSet;
use std::num::NonZeroU32;

use chrono::{NaiveDate, NaiveDateTime};
use proptest::prelude::*;
use uuid::Uuid;

use crate::dose::Exact;
use crate::outcome::measure::{percent_days_abstinent, HeavyDrinkingRule, MeasureWindow};
use crate::outcome::relapse::*;
use crate::outcome::tlfb::{DayReport, ReportSource, UseAnswer};
use crate::outcome::toxicology::*;
use crate::outcome::*;
use crate::patient::{SexAtBirth, Substance};
use crate::protocol::definition::IndexDate;

const SUBSTANCES: [Substance; 2] = [Substance::Alcohol, Substance::Cocaine];
const ANSWERS: [UseAnswer; 3] = [UseAnswer::Yes, UseAnswer::No, UseAnswer::Unknown];
const SOURCES: [ReportSource; 2] = [ReportSource::Tlfb, ReportSource::Diary];
const RESULTS: [TestResult; 3] = [
    TestResult::Positive,
    TestResult::Negative,
    TestResult::Invalid,
];

fn d(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 3).unwrap() + chrono::Duration::days(n)
}

fn at(n: i64, hour: u32) -> NaiveDateTime {
    d(n).and_hms_opt(hour, 0, 0).unwrap()
}

/// (day, substance, source, answer, amount in hundredths of a standard unit)
type RawReport = (i64, usize, usize, usize, Option<i128>);

fn reports(raw: &[RawReport]) -> Vec<DayReport> {
    raw.iter()
        .map(|(day, substance, source, answer, hundredths)| {
            let answer = ANSWERS[*answer];
            DayReport {
                date: d(*day),
                substance: SUBSTANCES[*substance],
                source: SOURCES[*source],
                answer,
                amount: hundredths
                    .filter(|_| answer == UseAnswer::Yes)
                    .and_then(|h| Exact::integer(h).checked_div(Exact::integer(100))),
            }
        })
        .collect()
}

fn raw_reports(days: std::ops::Range<i64>, max: usize) -> impl Strategy<Value = Vec<RawReport>> {
    prop::collection::vec(
        (
            days,
            0..SUBSTANCES.len(),
            0..SOURCES.len(),
            0..ANSWERS.len(),
            prop::option::of(0i128..1500),
        ),
        0..max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pda_is_a_percentage_and_unknown_days_are_never_abstinent(raw in raw_reports(-5..70, 160), first in 0i64..20, len in 1i64..50) {
        let reports = reports(&raw);
        let window = MeasureWindow { name: "w".to_string(), days: DayWindow::new(d(first), d(first + len - 1)).unwrap(), source: "property".to_string() };
        let pda = percent_days_abstinent(&reports, Substance::Cocaine, &window);
        // The model: per day, the cocaine answers of every source.
        let (mut abstinent, mut used, mut neither) = (0usize, 0usize, 0usize);
        for day in window.days.days() {
            let answers: Vec<UseAnswer> = reports.iter().filter(|r| r.date == day && r.substance == Substance::Cocaine).map(|r| r.answer).collect();
            if answers.contains(&UseAnswer::Yes) {
                used += 1;
            } else if answers.contains(&UseAnswer::No) {
                abstinent += 1;
            } else {
                // Only unknown answers, or none at all: never abstinent.
                neither += 1;
            }
        }
        prop_assert_eq!(pda.abstinent_days, abstinent);
        prop_assert_eq!(pda.use_days, used);
        prop_assert_eq!(pda.unknown_days + pda.unrecorded_days, neither);
        prop_assert_eq!(pda.days_assessed, abstinent + used);
        prop_assert_eq!(pda.days_in_window, usize::try_from(len).unwrap());
        match pda.percent {
            None => prop_assert_eq!(pda.days_assessed, 0),
            Some(percent) => {
                prop_assert!(percent.cmp_value(Exact::integer(0)).is_ge());
                prop_assert!(percent.cmp_value(Exact::integer(100)).is_le());
                prop_assert_eq!(percent.times(Exact::integer(i128::try_from(pda.days_assessed).unwrap())), Exact::integer(i128::try_from(abstinent * 100).unwrap()));
            }
        }
    }
}

/// One random patient history and relapse definition.
#[derive(Debug, Clone)]
struct History {
    index: i64,
    follow_up_days: u32,
    last_contact: i64,
    status: ContactStatus,
    dropout_is_relapse: bool,
    triggers: Vec<RelapseTrigger>,
    reports: Vec<DayReport>,
    tests: Vec<LabTest>,
    infusions: Vec<NaiveDateTime>,
    moud: Vec<MoudCourse>,
    prescriptions: Vec<Prescription>,
    rescue: Vec<RescueDose>,
    windows: DetectionWindows,
    sex: SexAtBirth,
    /// Per event, in the evaluator's order: 0 no decision, 1 confirmed, 2 rejected.
    verdicts: Vec<u8>,
}

prop_compose! {
    fn history()(
        index in 0i64..10,
        follow_up_days in 0u32..60,
        last_contact in 0i64..80,
        status in 0usize..3,
        dropout_is_relapse in any::<bool>(),
        trigger_mask in 0u8..16,
        run in 1u32..4,
        raw in raw_reports(-10..90, 120),
        raw_tests in prop::collection::vec((-10i64..90, 0u32..24, 0..Analyte::ALL.len(), 0..RESULTS.len()), 0..40),
        infusion_days in prop::collection::vec((-10i64..40, 0u32..24), 0..4),
        moud in prop::collection::vec((0usize..2, -20i64..40, prop::option::of(0i64..30)), 0..2),
        rx in prop::collection::vec((0..Analyte::ALL.len(), -20i64..40, prop::option::of(0i64..30)), 0..2),
        rescue in prop::collection::vec((-10i64..40, 0u32..24), 0..2),
        window_days in prop::collection::vec(prop::option::of(0u32..10), Analyte::ALL.len()),
        sex in 0..SexAtBirth::ALL.len(),
        verdicts in prop::collection::vec(0u8..3, 200),
    ) -> History {
        let candidates = [
            RelapseTrigger::SelfReportedUse,
            RelapseTrigger::UnexplainedPositiveTest,
            RelapseTrigger::HeavyDrinkingDay(HeavyDrinkingRule::niaaa()),
            RelapseTrigger::ConsecutiveUseDays(NonZeroU32::new(run).unwrap()),
        ];
        let triggers = candidates.iter().enumerate().filter(|(i, _)| trigger_mask & (1 << i) != 0).map(|(_, t)| t.clone()).collect();
        let mut windows = DetectionWindows::shipped();
        for (analyte, days) in Analyte::ALL.iter().zip(window_days) {
            if let Some(days) = days {
                windows = windows.with(*analyte, days);
            }
        }
        let medications = [MoudMedication::Buprenorphine, MoudMedication::Methadone];
        History {
            index,
            follow_up_days,
            last_contact,
            status: ContactStatus::ALL[status],
            dropout_is_relapse,
            triggers,
            reports: reports(&raw),
            tests: raw_tests
                .iter()
                .enumerate()
                .map(|(n, (day, hour, analyte, result))| LabTest {
                    id: Uuid::from_u128(u128::try_from(n).unwrap() + 1),
                    collected_at: at(*day, *hour),
                    analyte: Analyte::ALL[*analyte],
                    result: RESULTS[*result],
                })
                .collect(),
            infusions: infusion_days.iter().map(|(day, hour)| at(*day, *hour)).collect(),
            moud: moud.iter().map(|(m, from, length)| MoudCourse { medication: medications[*m], from: d(*from), to: length.map(|l| d(from + l)) }).collect(),
            prescriptions: rx.iter().map(|(a, from, length)| Prescription { drug: "rx".to_string(), analyte: Analyte::ALL[*a], from: d(*from), to: length.map(|l| d(from + l)) }).collect(),
            rescue: rescue.iter().map(|(day, hour)| RescueDose { drug: RescueDrug::Midazolam, given_at: at(*day, *hour) }).collect(),
            windows,
            sex: SexAtBirth::ALL[sex],
            verdicts,
        }
    }
}

fn set<T>(value: T) -> Setting<T> {
    Setting::Set {
        value,
        source: "property".to_string(),
    }
}

impl History {
    fn definition(&self) -> RelapseDefinition {
        RelapseDefinition {
            protocol_id: "property".to_string(),
            substances: SUBSTANCES.to_vec(),
            triggers: set(self.triggers.clone()),
            dropout_is_relapse: set(self.dropout_is_relapse),
            index_date: set(IndexDate::FirstInfusion),
            follow_up_end: set(FollowUpEnd::DaysAfterIndex(self.follow_up_days)),
        }
    }

    fn course(&self) -> CourseDates {
        CourseDates {
            start: d(0),
            first_infusion: Some(d(self.index)),
            last_infusion: Some(d(self.index)),
            inpatient_discharge: None,
            course_end: d(35),
            protocol_follow_up: None,
        }
    }

    fn classified(&self) -> Vec<ClassifiedTest> {
        let explanations = Explanations {
            infusions_at: &self.infusions,
            moud: &self.moud,
            prescriptions: &self.prescriptions,
            rescue_doses: &self.rescue,
        };
        classify_all(&self.tests, &explanations, &self.windows)
    }

    /// The proposals, or `None` when the patient was not followed after the index date.
    fn propose(&self, classified: &[ClassifiedTest]) -> Option<Proposals> {
        let course = self.course();
        let facts = RelapseFacts {
            patient_substances: &SUBSTANCES,
            sex_at_birth: self.sex,
            reports: &self.reports,
            tests: classified,
            windows: &self.windows,
            course: &course,
            contact: FollowUpContact {
                last_contact: d(self.last_contact),
                status: self.status,
            },
        };
        match propose(&self.definition(), &facts) {
            Ok(proposals) => Some(proposals),
            Err(RelapseError::NotFollowedAfterIndex { .. }) => {
                assert!(
                    self.last_contact < self.index,
                    "refused although followed: {self:?}"
                );
                None
            }
            Err(other) => panic!("unexpected refusal {other}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_evaluator_never_proposes_before_the_index_date_or_from_an_expected_positive(history in history()) {
        let classified = history.classified();
        let Some(proposals) = history.propose(&classified) else { return Ok(()) };
        let index = d(history.index);
        prop_assert_eq!(proposals.index, index);
        prop_assert!(proposals.observed_until <= d(history.last_contact));
        let unexplained: BTreeSet<Uuid> = classified.iter().filter(|t| t.is_unexplained_positive()).map(|t| t.test.id).collect();
        let undetermined: BTreeSet<Uuid> = classified.iter().filter(|t| matches!(t.expectation, Expectation::Undetermined(_))).map(|t| t.test.id).collect();
        for event in &proposals.events {
            prop_assert!(event.key.date >= index, "{:?} before the index date {}", event.key, index);
            prop_assert!(event.key.date <= proposals.observed_until, "{:?} after the last day observed", event.key);
            prop_assert_eq!(event.day, whole_days(index, event.key.date));
            for test in &event.evidence.tests {
                prop_assert!(unexplained.contains(&test.test.id), "test {} is not an unexplained positive", test.test.id);
                prop_assert!(test.test.collected_on() >= index);
            }
            // A day in evidence is a use day: some report of it says yes (all its reports are shown).
            for day in &event.evidence.days {
                prop_assert!(day.date >= index);
                prop_assert!(event.evidence.days.iter().any(|r| r.date == day.date && r.substance == day.substance && r.answer == UseAnswer::Yes));
            }
            if event.key.kind == EventKind::Dropout {
                prop_assert!(history.dropout_is_relapse && history.status == ContactStatus::DroppedOut);
            }
        }
        for test in &proposals.undetermined_tests {
            prop_assert!(undetermined.contains(test));
        }
    }

    #[test]
    fn censoring_never_falls_after_the_last_contact(history in history()) {
        let classified = history.classified();
        let Some(proposals) = history.propose(&classified) else { return Ok(()) };
        let decisions: Vec<Decision> = proposals
            .events
            .iter()
            .zip(&history.verdicts)
            .filter_map(|(event, verdict)| {
                let verdict = match verdict {
                    1 => Verdict::Confirmed,
                    2 => Verdict::Rejected,
                    _ => return None,
                };
                Some(Decision { key: event.key, verdict, note: "property".to_string() })
            })
            .collect();
        let result = time_to_relapse(&proposals, &decisions);
        let index = d(history.index);
        let follow_up_end = index + chrono::Duration::days(i64::from(history.follow_up_days));
        prop_assert!(result.point.days <= whole_days(index, d(history.last_contact)));
        prop_assert!(result.point.days <= history.follow_up_days);
        let confirmed_events: Vec<&ProposedEvent> = proposals
            .events
            .iter()
            .filter(|e| e.key.kind != EventKind::Lapse && decisions.iter().any(|dec| dec.key == e.key && dec.verdict == Verdict::Confirmed))
            .collect();
        match confirmed_events.first() {
            None => {
                prop_assert!(!result.point.relapsed);
                prop_assert_eq!(result.point.days, whole_days(index, d(history.last_contact).min(follow_up_end)));
            }
            Some(first) => {
                prop_assert!(result.point.relapsed);
                prop_assert_eq!(result.point.days, first.day);
                prop_assert_eq!(result.ending, Ending::Event(first.key));
            }
        }
        prop_assert!(result.unmatched_decisions.is_empty());
    }
}
