//! Derived outcomes per patient and window, each returned with the
//! `OutcomeDefinition` that produced it (clinical.md §4.2: store the
//! definition with each computed outcome).
//!
//! - Percent days abstinent (PDA) = abstinent days ÷ days assessed × 100
//!   (clinical.md §4.3); KARE's primary outcome (Grabski 2022, §1.3).
//! - Heavy drinking days by sex (clinical.md §4.2, §11.6): NIAAA ≥ 5 drinks
//!   (men) / ≥ 4 (women); Dakwar 2020 wrote > 4 / > 3.
//! - Abstinence over a window (clinical.md §4.2), e.g. Dakwar 2019's last
//!   2 weeks or Dakwar 2020's 21 days after the infusion (`protocol_window`).
//! - Retention and attendance: plain counts; the reference gives no number.
//!
//! Unknown and unrecorded days are never abstinent: they are left out of
//! every denominator and reported separately.

use chrono::{Days, Months, NaiveDate};
use uuid::Uuid;

use crate::counseling::Attendance;
use crate::dose::Exact;
use crate::outcome::tlfb::{merge_days, DayReport, DayStatus, MergedDay};
use crate::outcome::toxicology::{analytes_of, ClassifiedTest, Expectation, TestResult};
use crate::outcome::{ContactStatus, CourseDates, DayWindow, FollowUpContact, MissingCourseDate};
use crate::patient::{SexAtBirth, Substance};
use crate::protocol::definition::{Anchor, OutcomeWindow};

wire_enum!(
    /// What an outcome measures.
    Measure, "measure" {
        PercentDaysAbstinent => "percent_days_abstinent",
        HeavyDrinkingDays => "heavy_drinking_days",
        WindowAbstinence => "window_abstinence",
        Retention => "retention",
        Attendance => "attendance",
    }
);

/// The days an outcome is measured over, with the name and source of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureWindow {
    pub name: String,
    pub days: DayWindow,
    pub source: String,
}

/// A protocol window that cannot be placed on the patient's calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error(transparent)]
    MissingCourseDate(#[from] MissingCourseDate),
    #[error("{0}: the window falls outside the calendar")]
    OutOfCalendar(String),
}

/// Places a protocol's outcome window on the patient's dates. The window is
/// the `days` or `months` after the anchor day (the anchor day itself not
/// included: Dakwar 2020's "21 days after the infusion" are days 1–21 after
/// it); for `course_end` it is the days ending on the course's last day,
/// that day included (Dakwar 2019's "last 2 weeks of the trial").
pub fn protocol_window(
    window: &OutcomeWindow,
    dates: &CourseDates,
) -> Result<MeasureWindow, WindowError> {
    let anchor = dates.anchor(window.anchor)?;
    let outside = || WindowError::OutOfCalendar(window.name.clone());
    let days = window
        .days
        .map(|d| u64::try_from(d).map_err(|_| outside()))
        .transpose()?;
    let months = window
        .months
        .map(|m| u32::try_from(m).map_err(|_| outside()))
        .transpose()?;
    let range = if window.anchor == Anchor::CourseEnd {
        let first = match (days, months) {
            (Some(days), _) => anchor.checked_sub_days(Days::new(days)),
            (None, Some(months)) => anchor.checked_sub_months(Months::new(months)),
            (None, None) => None,
        }
        .and_then(|before| before.succ_opt());
        first.and_then(|first| DayWindow::new(first, anchor))
    } else {
        let last = match (days, months) {
            (Some(days), _) => anchor.checked_add_days(Days::new(days)),
            (None, Some(months)) => anchor.checked_add_months(Months::new(months)),
            (None, None) => None,
        };
        anchor
            .succ_opt()
            .zip(last)
            .and_then(|(first, last)| DayWindow::new(first, last))
    };
    Ok(MeasureWindow {
        name: window.name.clone(),
        days: range.ok_or_else(outside)?,
        source: window.source.clone(),
    })
}

/// What produced an outcome: the measure, the window, the substance, the
/// thresholds (for heavy drinking), how days are counted, and the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeDefinition {
    pub measure: Measure,
    pub window: MeasureWindow,
    pub substance: Option<Substance>,
    pub heavy_drinking: Option<HeavyDrinkingRule>,
    /// How days, tests or sessions are counted, in words.
    pub rules: Vec<&'static str>,
    /// The original source of the measure (author, year, journal) and the reference section.
    pub source: &'static str,
}

const UNKNOWN_DAYS_RULE: &str = "unknown and unrecorded days are excluded from the denominator and reported separately; they never count as abstinent";
const MERGE_RULE: &str = "a day is a use day when any source (TLFB, diary) reports use, abstinent when none does and at least one reports no use";
const SELF_REPORT_RULE: &str = "self-reported (TLFB and diary); a positive test does not change a day here (the clinical.md §4.3 override is a clinic rule, not applied): see the conflicts list";

/// Whether whole drinks at or above, or strictly above, the threshold make a heavy day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    AtLeast,
    MoreThan,
}

/// Which threshold applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdFor {
    Men,
    Women,
}

/// A heavy-drinking-day rule: standard drinks in a day, by sex at birth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeavyDrinkingRule {
    pub men_drinks: Exact,
    pub women_drinks: Exact,
    pub comparison: Comparison,
    /// The threshold used for intersex or unknown sex at birth.
    pub intersex_or_unknown: ThresholdFor,
    pub source: &'static str,
}

impl HeavyDrinkingRule {
    /// The system default (clinical.md §11.6): ≥ 5 standard drinks in a day
    /// for men, ≥ 4 for women, the lower threshold for intersex or unknown
    /// sex at birth unless the clinic sets otherwise.
    pub fn niaaa() -> HeavyDrinkingRule {
        HeavyDrinkingRule {
            // NIAAA heavy drinking day: >= 5 standard drinks (men) / >= 4
            // (women) (clinical.md §4.2, §11.6; the reference names NIAAA
            // without a document or year).
            men_drinks: Exact::integer(5),
            women_drinks: Exact::integer(4),
            comparison: Comparison::AtLeast,
            // Lower threshold for intersex or unknown sex at birth: the
            // system's default (clinical.md §11.6).
            intersex_or_unknown: ThresholdFor::Women,
            source: "NIAAA heavy drinking day: >= 5 standard drinks in a day (men), >= 4 (women) (clinical.md §4.2, §11.6; US standard drink = 14 g ethanol); intersex or unknown sex at birth: the lower threshold (clinical.md §11.6 default)",
        }
    }

    /// Dakwar 2020's wording: > 4 drinks a day for men, > 3 for women. The
    /// same as `niaaa` for whole drinks; differs for fractional amounts
    /// (4.5 drinks is heavy for a man here, not under `niaaa`).
    pub fn dakwar_2020() -> HeavyDrinkingRule {
        HeavyDrinkingRule {
            // Dakwar E et al., Am J Psychiatry 2020;177:125-133 [S4]:
            // heavy drinking days > 4 drinks/day men, > 3 women (clinical.md §1.2, §4.2).
            men_drinks: Exact::integer(4),
            women_drinks: Exact::integer(3),
            comparison: Comparison::MoreThan,
            // clinical.md §11.6 default for intersex or unknown sex at birth.
            intersex_or_unknown: ThresholdFor::Women,
            source: "Dakwar E et al., Am J Psychiatry 2020;177:125-133: heavy drinking day > 4 drinks (men), > 3 (women) (clinical.md §1.2, §4.2, VERIFIED [S4]); intersex or unknown sex at birth: the lower threshold (clinical.md §11.6 default)",
        }
    }

    /// The threshold that applies to the sex at birth.
    pub fn threshold(&self, sex: SexAtBirth) -> Exact {
        let band = match sex {
            SexAtBirth::Male => ThresholdFor::Men,
            SexAtBirth::Female => ThresholdFor::Women,
            SexAtBirth::Intersex | SexAtBirth::Unknown => self.intersex_or_unknown,
        };
        match band {
            ThresholdFor::Men => self.men_drinks,
            ThresholdFor::Women => self.women_drinks,
        }
    }

    pub fn is_heavy(&self, drinks: Exact, sex: SexAtBirth) -> bool {
        let order = drinks.cmp_value(self.threshold(sex));
        match self.comparison {
            Comparison::AtLeast => order.is_ge(),
            Comparison::MoreThan => order.is_gt(),
        }
    }
}

/// `part / whole × 100`, exact; `None` when `whole` is 0.
fn percent(part: usize, whole: usize) -> Option<Exact> {
    let part = i128::try_from(part).ok()?;
    let whole = i128::try_from(whole).ok()?;
    Exact::integer(part.checked_mul(100)?).checked_div(Exact::integer(whole))
}

fn count(days: &[MergedDay], status: DayStatus) -> usize {
    days.iter().filter(|d| d.status == status).count()
}

/// PDA for one substance over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PercentDaysAbstinent {
    pub definition: OutcomeDefinition,
    pub days_in_window: usize,
    /// Use days + abstinent days: the denominator.
    pub days_assessed: usize,
    pub abstinent_days: usize,
    pub use_days: usize,
    /// Days every source marked unknown.
    pub unknown_days: usize,
    /// Days no source recorded.
    pub unrecorded_days: usize,
    /// 0–100; `None` when no day was assessed.
    pub percent: Option<Exact>,
}

pub fn percent_days_abstinent(
    reports: &[DayReport],
    substance: Substance,
    window: &MeasureWindow,
) -> PercentDaysAbstinent {
    let days = merge_days(reports, substance, window.days);
    let abstinent_days = count(&days, DayStatus::NoUse);
    let use_days = count(&days, DayStatus::Use);
    let days_assessed = abstinent_days + use_days;
    PercentDaysAbstinent {
        definition: OutcomeDefinition {
            measure: Measure::PercentDaysAbstinent,
            window: window.clone(),
            substance: Some(substance),
            heavy_drinking: None,
            rules: vec!["PDA = abstinent days / days assessed x 100", MERGE_RULE, UNKNOWN_DAYS_RULE, SELF_REPORT_RULE],
            source: "PDA = abstinent days / days assessed x 100 (clinical.md §4.3); TLFB, Sobell & Sobell 1992 (clinical.md §3.1); KARE primary outcome, Grabski M et al., Am J Psychiatry 2022 (clinical.md §1.3)",
        },
        days_in_window: days.len(),
        days_assessed,
        abstinent_days,
        use_days,
        unknown_days: count(&days, DayStatus::Unknown),
        unrecorded_days: count(&days, DayStatus::Unrecorded),
        percent: percent(abstinent_days, days_assessed),
    }
}

/// Heavy drinking over a window (alcohol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeavyDrinkingDays {
    pub definition: OutcomeDefinition,
    pub sex_at_birth: SexAtBirth,
    /// The threshold applied, in standard drinks.
    pub threshold_drinks: Exact,
    pub heavy_days: Vec<NaiveDate>,
    pub drinking_days: usize,
    /// Drinking days whose amount no source gave: heavy or not is unknown.
    pub drinking_days_without_amount: Vec<NaiveDate>,
    /// Drinking days + abstinent days.
    pub days_assessed: usize,
    /// Unknown and unrecorded days.
    pub days_not_assessed: usize,
    /// Percent heavy drinking days (PHDD) = heavy days / days assessed x 100.
    pub percent_heavy: Option<Exact>,
    /// Drinks per drinking day (DDD), over drinking days with an amount.
    pub drinks_per_drinking_day: Option<Exact>,
}

pub fn heavy_drinking_days(
    reports: &[DayReport],
    sex: SexAtBirth,
    rule: &HeavyDrinkingRule,
    window: &MeasureWindow,
) -> HeavyDrinkingDays {
    let days = merge_days(reports, Substance::Alcohol, window.days);
    let drinking: Vec<&MergedDay> = days.iter().filter(|d| d.status == DayStatus::Use).collect();
    let heavy_days = drinking
        .iter()
        .filter(|d| d.amount.is_some_and(|a| rule.is_heavy(a, sex)))
        .map(|d| d.date)
        .collect::<Vec<_>>();
    let with_amount: Vec<Exact> = drinking.iter().filter_map(|d| d.amount).collect();
    let total = with_amount
        .iter()
        .fold(Exact::integer(0), |sum, a| sum.plus(*a));
    let days_assessed = drinking.len() + count(&days, DayStatus::NoUse);
    HeavyDrinkingDays {
        definition: OutcomeDefinition {
            measure: Measure::HeavyDrinkingDays,
            window: window.clone(),
            substance: Some(Substance::Alcohol),
            heavy_drinking: Some(rule.clone()),
            rules: vec![
                "PHDD = heavy days / days assessed x 100; DDD = total drinks / drinking days with an amount",
                "a drinking day without an amount is neither heavy nor not heavy: listed separately",
                "the amount of a day is the largest any source gave",
                MERGE_RULE,
                UNKNOWN_DAYS_RULE,
                SELF_REPORT_RULE,
            ],
            source: "PHDD and DDD (clinical.md §4.3); the threshold's own source is in heavy_drinking",
        },
        sex_at_birth: sex,
        threshold_drinks: rule.threshold(sex),
        percent_heavy: percent(heavy_days.len(), days_assessed),
        heavy_days,
        drinking_days: drinking.len(),
        drinking_days_without_amount: drinking.iter().filter(|d| d.amount.is_none()).map(|d| d.date).collect(),
        days_assessed,
        days_not_assessed: count(&days, DayStatus::Unknown) + count(&days, DayStatus::Unrecorded),
        drinks_per_drinking_day: i128::try_from(with_amount.len()).ok().and_then(|n| total.checked_div(Exact::integer(n))),
    }
}

/// Whether the window was free of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbstinenceVerdict {
    /// Every day reported without use, no unexplained positive, nothing undetermined.
    Abstinent,
    /// A use day or an unexplained positive in the window.
    NotAbstinent,
    /// No use found, but unknown or unrecorded days or undetermined tests leave it open.
    Undetermined,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowAbstinence {
    pub definition: OutcomeDefinition,
    pub verdict: AbstinenceVerdict,
    /// Abstinent, and at least one valid negative test for the substance in the window.
    pub biologically_confirmed: bool,
    pub use_days: Vec<NaiveDate>,
    pub unknown_days: Vec<NaiveDate>,
    pub unexplained_positive_tests: Vec<Uuid>,
    pub undetermined_tests: Vec<Uuid>,
    pub negative_tests: Vec<Uuid>,
}

/// Abstinence from one substance over a window, by self-report and the
/// substance's tests (expected positives do not count).
pub fn window_abstinence(
    reports: &[DayReport],
    tests: &[ClassifiedTest],
    substance: Substance,
    window: &MeasureWindow,
) -> WindowAbstinence {
    let days = merge_days(reports, substance, window.days);
    let analytes = analytes_of(substance);
    let tests: Vec<&ClassifiedTest> = tests
        .iter()
        .filter(|t| {
            analytes.contains(&t.test.analyte) && window.days.contains(t.test.collected_on())
        })
        .collect();
    let ids = |keep: &dyn Fn(&ClassifiedTest) -> bool| {
        tests
            .iter()
            .filter(|t| keep(t))
            .map(|t| t.test.id)
            .collect::<Vec<_>>()
    };
    let unexplained_positive_tests = ids(&|t| t.is_unexplained_positive());
    let undetermined_tests = ids(&|t| matches!(t.expectation, Expectation::Undetermined(_)));
    let negative_tests = ids(&|t| t.test.result == TestResult::Negative);
    let use_days: Vec<NaiveDate> = days
        .iter()
        .filter(|d| d.status == DayStatus::Use)
        .map(|d| d.date)
        .collect();
    let unknown_days: Vec<NaiveDate> = days
        .iter()
        .filter(|d| matches!(d.status, DayStatus::Unknown | DayStatus::Unrecorded))
        .map(|d| d.date)
        .collect();
    let verdict = if !use_days.is_empty() || !unexplained_positive_tests.is_empty() {
        AbstinenceVerdict::NotAbstinent
    } else if !unknown_days.is_empty() || !undetermined_tests.is_empty() {
        AbstinenceVerdict::Undetermined
    } else {
        AbstinenceVerdict::Abstinent
    };
    WindowAbstinence {
        definition: OutcomeDefinition {
            measure: Measure::WindowAbstinence,
            window: window.clone(),
            substance: Some(substance),
            heavy_drinking: None,
            rules: vec![
                "abstinent: every day of the window reported without use, no unexplained positive test, no undetermined test",
                "biologically confirmed: abstinent and at least one negative test for the substance in the window",
                "expected positives (clinical.md §11.5) do not count; invalid results count for nothing",
                MERGE_RULE,
                UNKNOWN_DAYS_RULE,
            ],
            source: "Abstinence = no use in a window, biologically confirmed (clinical.md §4.2): e.g. last 2 weeks, Dakwar E et al., Am J Psychiatry 2019 (§1.1); 21 days after the infusion, Dakwar E et al., Am J Psychiatry 2020 (§1.2). The window's own source is in window",
        },
        biologically_confirmed: verdict == AbstinenceVerdict::Abstinent && !negative_tests.is_empty(),
        verdict,
        use_days,
        unknown_days,
        unexplained_positive_tests,
        undetermined_tests,
        negative_tests,
    }
}

/// Whether the patient stayed in treatment through a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionStatus {
    Retained,
    NotRetained,
    /// The window has not ended by `as_of` and the patient is still followed.
    WindowNotOver,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub definition: OutcomeDefinition,
    pub status: RetentionStatus,
    pub last_contact: NaiveDate,
}

/// Retained: completed, or in contact on or after the window's last day.
pub fn retention(contact: &FollowUpContact, window: &MeasureWindow, as_of: NaiveDate) -> Retention {
    let status = if contact.status == ContactStatus::Completed
        || contact.last_contact >= window.days.last()
    {
        RetentionStatus::Retained
    } else if contact.status == ContactStatus::InFollowUp && as_of < window.days.last() {
        RetentionStatus::WindowNotOver
    } else {
        RetentionStatus::NotRetained
    };
    Retention {
        definition: OutcomeDefinition {
            measure: Measure::Retention,
            window: window.clone(),
            substance: None,
            heavy_drinking: None,
            rules: vec![
                "retained: completed, or last contact on or after the window's last day",
                "not yet decided while the patient is followed and the window has not ended",
            ],
            source: "clinic definition: the reference reports retention (clinical.md §1.5, NCT06943859) without a definition",
        },
        status,
        last_contact: contact.last_contact,
    }
}

/// A scheduled session and its attendance (`None` until recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRecord {
    pub date: NaiveDate,
    pub attendance: Option<Attendance>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceRate {
    pub definition: OutcomeDefinition,
    /// Sessions the patient was expected at: all but those the clinic cancelled or not yet recorded.
    pub expected: usize,
    /// Attended, on time or late.
    pub attended: usize,
    pub not_recorded: usize,
    pub percent: Option<Exact>,
}

pub fn attendance(sessions: &[SessionRecord], window: &MeasureWindow) -> AttendanceRate {
    let in_window: Vec<&SessionRecord> = sessions
        .iter()
        .filter(|s| window.days.contains(s.date))
        .collect();
    let not_recorded = in_window.iter().filter(|s| s.attendance.is_none()).count();
    let expected = in_window
        .iter()
        .filter(|s| {
            s.attendance
                .is_some_and(|a| a != Attendance::CancelledByClinic)
        })
        .count();
    let attended = in_window
        .iter()
        .filter(|s| s.attendance.is_some_and(Attendance::met))
        .count();
    AttendanceRate {
        definition: OutcomeDefinition {
            measure: Measure::Attendance,
            window: window.clone(),
            substance: None,
            heavy_drinking: None,
            rules: vec![
                "attendance = attended (on time or late) / expected x 100",
                "expected: every recorded session except those the clinic cancelled; a patient's cancellation or no-show is expected and not attended",
                "sessions not yet recorded are reported separately",
            ],
            source: "clinic definition: the reference gives no attendance measure",
        },
        expected,
        attended,
        not_recorded,
        percent: percent(attended, expected),
    }
}
