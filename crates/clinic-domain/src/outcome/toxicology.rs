//! Urine drug screens and breath alcohol: each analyte's result, whether a
//! positive is expected (and why) or unexplained, and the conflicts between
//! a positive and the self-report.
//!
//! Expected positives (clinical.md §11.5): ketamine/norketamine within the
//! detection window after a clinic infusion; buprenorphine and methadone in a
//! patient on that MOUD; benzodiazepines after rescue midazolam; any analyte a
//! recorded prescription names (benzodiazepines, a stimulant's amphetamine,
//! …). A positive counts toward lapse, relapse or misuse only when nothing
//! explains it.
//!
//! Detection windows (how long after exposure a positive may come from it)
//! are clinic settings, every one shipped unset: clinical.md §4.1 gives
//! UNVERIFIED ranges or no number (see `reference_window`) and §11.6 chooses
//! no default. While MOUD or a prescription runs, no window is needed.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use uuid::Uuid;

use crate::outcome::tlfb::{DayReport, UseAnswer};
use crate::outcome::{DayWindow, NeedsClinicSetting};
use crate::patient::Substance;

wire_enum!(
    /// What a test measured: urine analytes (clinical.md §4.1) and breath alcohol.
    Analyte, "analyte" {
        Ketamine => "ketamine",
        Norketamine => "norketamine",
        Etg => "etg",
        Ets => "ets",
        Benzoylecgonine => "benzoylecgonine",
        Opioids => "opioids",
        Fentanyl => "fentanyl",
        Buprenorphine => "buprenorphine",
        Methadone => "methadone",
        Benzodiazepines => "benzodiazepines",
        Amphetamines => "amphetamines",
        BreathAlcohol => "breath_alcohol",
    }
);

wire_enum!(
    TestResult, "result" {
        Positive => "positive",
        Negative => "negative",
        Invalid => "invalid",
    }
);

wire_enum!(
    /// MOUD that shows on a urine screen (clinical.md §11.4, §11.5).
    /// Extended-release naltrexone explains no analyte here, so it is not listed.
    MoudMedication, "medication" {
        Buprenorphine => "buprenorphine",
        Methadone => "methadone",
    }
);

wire_enum!(
    /// A rescue medicine given during a session that shows on a urine screen
    /// (clinical.md §11.2: midazolam for severe emergence reactions).
    RescueDrug, "drug" {
        Midazolam => "midazolam",
    }
);

impl Analyte {
    /// The substance of concern a positive points to (clinical.md §4.1:
    /// benzoylecgonine for cocaine, opiates, fentanyl, buprenorphine and
    /// methadone for opioids, EtG/EtS and breath ethanol for alcohol;
    /// amphetamines for stimulants and benzodiazepines for sedatives, §11.5).
    /// Ketamine and norketamine point to none: they belong to the misuse watch.
    pub fn substance(self) -> Option<Substance> {
        match self {
            Analyte::Ketamine | Analyte::Norketamine => None,
            Analyte::Etg | Analyte::Ets | Analyte::BreathAlcohol => Some(Substance::Alcohol),
            Analyte::Benzoylecgonine => Some(Substance::Cocaine),
            Analyte::Opioids | Analyte::Fentanyl | Analyte::Buprenorphine | Analyte::Methadone => {
                Some(Substance::Opioids)
            }
            Analyte::Benzodiazepines => Some(Substance::Sedatives),
            Analyte::Amphetamines => Some(Substance::Stimulants),
        }
    }

    pub fn is_ketamine(self) -> bool {
        matches!(self, Analyte::Ketamine | Analyte::Norketamine)
    }
}

/// What clinical.md §4.1 says about the analyte's window: shown with the
/// "needs clinic setting" refusal, never used as a value. The §4.1 rows are
/// UNVERIFIED with no original source named, except EtG/EtS (lab and
/// consensus summaries, Clin Chem 2023 letter [S47], SECONDARY).
pub fn reference_window(analyte: Analyte) -> &'static str {
    match analyte {
        Analyte::Ketamine => "clinical.md §4.1: ketamine ~2-4 days (UNVERIFIED); §11.6 chooses no default",
        Analyte::Norketamine => "clinical.md §4.1: norketamine longer than ketamine, no number",
        Analyte::Etg | Analyte::Ets => "clinical.md §4.1: up to ~80 h (3-5 days) after heavy use at a high cut-off, longer at lower cut-offs (SECONDARY [S47])",
        Analyte::BreathAlcohol => "clinical.md §4.1: only while alcohol is in blood, generally < 12-24 h (practice)",
        Analyte::Benzoylecgonine => "clinical.md §4.1: ~2-4 days after single use, 1-2 weeks or more with heavy chronic use (UNVERIFIED)",
        Analyte::Opioids => "clinical.md §4.1: opiates 1-3 days (UNVERIFIED)",
        Analyte::Fentanyl => "clinical.md §4.1: ~1-3 days, norfentanyl longer with regular use (UNVERIFIED)",
        Analyte::Buprenorphine | Analyte::Methadone => "clinical.md §4.1: several days (UNVERIFIED)",
        Analyte::Benzodiazepines | Analyte::Amphetamines => "clinical.md §4.1 gives no window",
    }
}

/// The analytes whose positive points to the substance.
pub fn analytes_of(substance: Substance) -> Vec<Analyte> {
    Analyte::ALL
        .iter()
        .copied()
        .filter(|a| a.substance() == Some(substance))
        .collect()
}

/// One analyte's result from one specimen (a screen with eleven analytes is eleven tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabTest {
    pub id: Uuid,
    /// Site-local time the specimen was collected (or the breath test taken).
    pub collected_at: NaiveDateTime,
    pub analyte: Analyte,
    pub result: TestResult,
}

impl LabTest {
    pub fn collected_on(&self) -> NaiveDate {
        self.collected_at.date()
    }
}

/// A course of MOUD: from its first day to its last (`None` while it continues).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoudCourse {
    pub medication: MoudMedication,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// A recorded prescription and the analyte it shows as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prescription {
    pub drug: String,
    pub analyte: Analyte,
    pub from: NaiveDate,
    /// `None` while it continues.
    pub to: Option<NaiveDate>,
}

/// A rescue dose given at the clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RescueDose {
    pub drug: RescueDrug,
    pub given_at: NaiveDateTime,
}

/// Everything that can explain a positive, for one patient.
#[derive(Debug, Clone, Copy)]
pub struct Explanations<'a> {
    /// Start of each clinic ketamine infusion.
    pub infusions_at: &'a [NaiveDateTime],
    pub moud: &'a [MoudCourse],
    pub prescriptions: &'a [Prescription],
    pub rescue_doses: &'a [RescueDose],
}

/// The clinic's detection windows in whole days after exposure, per analyte.
/// `shipped()` has none set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionWindows {
    days: BTreeMap<Analyte, u32>,
}

impl DetectionWindows {
    /// Every window unset: the reference gives no value to ship (clinical.md §4.1, §11.6).
    pub fn shipped() -> DetectionWindows {
        DetectionWindows {
            days: BTreeMap::new(),
        }
    }

    /// The clinic's window for one analyte.
    pub fn with(mut self, analyte: Analyte, days: u32) -> DetectionWindows {
        self.days.insert(analyte, days);
        self
    }

    /// The window, or the refusal naming the setting and what the reference says.
    pub fn days(&self, analyte: Analyte) -> Result<u32, NeedsClinicSetting> {
        self.days
            .get(&analyte)
            .copied()
            .ok_or_else(|| NeedsClinicSetting {
                name: format!("detection_window.{}", analyte.as_str()),
                reason: reference_window(analyte).to_string(),
            })
    }
}

/// Why a positive is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedReason {
    /// Ketamine or norketamine within the window after a clinic infusion.
    Infusion {
        at: NaiveDateTime,
        window_days: u32,
    },
    /// Buprenorphine or methadone in a patient on that MOUD (or within the
    /// window after the course ended: `window_days` is then set).
    Moud {
        course: MoudCourse,
        window_days: Option<u32>,
    },
    Prescription {
        drug: String,
        from: NaiveDate,
        to: Option<NaiveDate>,
        window_days: Option<u32>,
    },
    RescueDose {
        dose: RescueDose,
        window_days: u32,
    },
}

/// What a test means for the outcomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Negative or invalid: counts for nothing.
    NotPositive,
    /// Positive and explained, with every reason.
    Expected(Vec<ExpectedReason>),
    /// Positive; an exposure before it could explain it, but the window that
    /// would decide is unset. Counted neither way; reported for review.
    Undetermined(Vec<NeedsClinicSetting>),
    /// Positive and nothing explains it: this one counts.
    Unexplained,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifiedTest {
    pub test: LabTest,
    pub expectation: Expectation,
}

impl ClassifiedTest {
    pub fn is_unexplained_positive(&self) -> bool {
        self.expectation == Expectation::Unexplained
    }
}

/// Classifies one test against the patient's infusions, MOUD,
/// prescriptions and rescue doses. An exposure explains a positive collected
/// at or after it and no more than its window later (a course or
/// prescription explains every day it runs, and its window after the end).
pub fn classify(
    test: &LabTest,
    explanations: &Explanations<'_>,
    windows: &DetectionWindows,
) -> ClassifiedTest {
    let expectation = if test.result != TestResult::Positive {
        Expectation::NotPositive
    } else {
        let mut reasons = Vec::new();
        let mut needs = Vec::new();
        let analyte = test.analyte;
        if analyte.is_ketamine() {
            for at in explanations
                .infusions_at
                .iter()
                .copied()
                .filter(|at| *at <= test.collected_at)
            {
                match windows.days(analyte) {
                    Ok(days) if within(at, days, test.collected_at) => {
                        reasons.push(ExpectedReason::Infusion {
                            at,
                            window_days: days,
                        })
                    }
                    Ok(_) => {}
                    Err(need) => needs.push(need),
                }
            }
        }
        let on = test.collected_on();
        for course in explanations
            .moud
            .iter()
            .filter(|c| moud_analyte(c.medication) == analyte)
        {
            match running(on, course.from, course.to, analyte, windows) {
                Running::Yes(window_days) => reasons.push(ExpectedReason::Moud {
                    course: *course,
                    window_days,
                }),
                Running::No => {}
                Running::Undetermined(need) => needs.push(need),
            }
        }
        for rx in explanations
            .prescriptions
            .iter()
            .filter(|p| p.analyte == analyte)
        {
            match running(on, rx.from, rx.to, analyte, windows) {
                Running::Yes(window_days) => reasons.push(ExpectedReason::Prescription {
                    drug: rx.drug.clone(),
                    from: rx.from,
                    to: rx.to,
                    window_days,
                }),
                Running::No => {}
                Running::Undetermined(need) => needs.push(need),
            }
        }
        for dose in explanations
            .rescue_doses
            .iter()
            .filter(|d| rescue_analyte(d.drug) == analyte && d.given_at <= test.collected_at)
        {
            match windows.days(analyte) {
                Ok(days) if within(dose.given_at, days, test.collected_at) => {
                    reasons.push(ExpectedReason::RescueDose {
                        dose: *dose,
                        window_days: days,
                    })
                }
                Ok(_) => {}
                Err(need) => needs.push(need),
            }
        }
        needs.sort();
        needs.dedup();
        if !reasons.is_empty() {
            Expectation::Expected(reasons)
        } else if !needs.is_empty() {
            Expectation::Undetermined(needs)
        } else {
            Expectation::Unexplained
        }
    };
    ClassifiedTest {
        test: *test,
        expectation,
    }
}

/// `classify` for each test, in the order given.
pub fn classify_all(
    tests: &[LabTest],
    explanations: &Explanations<'_>,
    windows: &DetectionWindows,
) -> Vec<ClassifiedTest> {
    tests
        .iter()
        .map(|t| classify(t, explanations, windows))
        .collect()
}

/// Whether `collected_at` is at most `days` whole days after `exposure_at`
/// (it is never before: callers pass only earlier exposures).
fn within(exposure_at: NaiveDateTime, days: u32, collected_at: NaiveDateTime) -> bool {
    exposure_at
        .checked_add_signed(Duration::days(i64::from(days)))
        .is_none_or(|end| collected_at <= end)
}

fn moud_analyte(medication: MoudMedication) -> Analyte {
    match medication {
        MoudMedication::Buprenorphine => Analyte::Buprenorphine,
        MoudMedication::Methadone => Analyte::Methadone,
    }
}

/// Midazolam is a benzodiazepine (clinical.md §11.5: benzodiazepines after rescue midazolam).
fn rescue_analyte(drug: RescueDrug) -> Analyte {
    match drug {
        RescueDrug::Midazolam => Analyte::Benzodiazepines,
    }
}

enum Running {
    /// Explains: during the course (`None`) or within the window after it.
    Yes(Option<u32>),
    No,
    Undetermined(NeedsClinicSetting),
}

fn running(
    on: NaiveDate,
    from: NaiveDate,
    to: Option<NaiveDate>,
    analyte: Analyte,
    windows: &DetectionWindows,
) -> Running {
    if on < from {
        return Running::No;
    }
    match to {
        None => Running::Yes(None),
        Some(to) if on <= to => Running::Yes(None),
        Some(to) => match windows.days(analyte) {
            Ok(days) if (on - to).num_days() <= i64::from(days) => Running::Yes(Some(days)),
            Ok(_) => Running::No,
            Err(need) => Running::Undetermined(need),
        },
    }
}

/// Two sources that do not agree, shown rather than resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// An unexplained positive while the self-report says no use over the
    /// days it looked back on and reports no use day there.
    PositiveVersusNoUse {
        test: LabTest,
        substance: Substance,
        /// From the collection day back over the analyte's detection window;
        /// only the collection day while that window is unset (`window_unset`).
        looked_back: DayWindow,
        window_unset: Option<NeedsClinicSetting>,
        /// The reports of no use in `looked_back`.
        no_use: Vec<DayReport>,
    },
    /// The TLFB calendar and the diary (or two entries) disagree on a day.
    SelfReportsDisagree {
        date: NaiveDate,
        substance: Substance,
        reports: Vec<DayReport>,
    },
}

/// Every conflict between the sources, in date order: unexplained positives
/// the self-report denies, then days on which reports disagree.
pub fn conflicts(
    reports: &[DayReport],
    tests: &[ClassifiedTest],
    windows: &DetectionWindows,
) -> Vec<Conflict> {
    let mut found = Vec::new();
    let mut positives: Vec<&ClassifiedTest> = tests
        .iter()
        .filter(|t| t.is_unexplained_positive())
        .collect();
    positives.sort_by_key(|t| (t.test.collected_at, t.test.analyte));
    for classified in positives {
        let test = classified.test;
        let Some(substance) = test.analyte.substance() else {
            continue;
        };
        let on = test.collected_on();
        let (first, window_unset) = match windows.days(test.analyte) {
            Ok(days) => (
                on.checked_sub_days(chrono::Days::new(u64::from(days)))
                    .unwrap_or(on),
                None,
            ),
            Err(need) => (on, Some(need)),
        };
        let looked_back = DayWindow::new(first, on).unwrap_or(DayWindow {
            first: on,
            last: on,
        });
        let in_window: Vec<&DayReport> = reports
            .iter()
            .filter(|r| r.substance == substance && looked_back.contains(r.date))
            .collect();
        let any_use = in_window.iter().any(|r| r.answer == UseAnswer::Yes);
        let no_use: Vec<DayReport> = in_window
            .iter()
            .filter(|r| r.answer == UseAnswer::No)
            .map(|r| **r)
            .collect();
        if !any_use && !no_use.is_empty() {
            found.push(Conflict::PositiveVersusNoUse {
                test,
                substance,
                looked_back,
                window_unset,
                no_use,
            });
        }
    }
    let mut by_day: BTreeMap<(NaiveDate, Substance), Vec<DayReport>> = BTreeMap::new();
    for report in reports {
        by_day
            .entry((report.date, report.substance))
            .or_default()
            .push(*report);
    }
    for ((date, substance), day_reports) in by_day {
        let says = |answer: UseAnswer| day_reports.iter().any(|r| r.answer == answer);
        if says(UseAnswer::Yes) && says(UseAnswer::No) {
            found.push(Conflict::SelfReportsDisagree {
                date,
                substance,
                reports: day_reports,
            });
        }
    }
    found
}
