//! Self-reported use per day and substance: the timeline follow-back (TLFB)
//! calendar entered by staff a week at a time (Sobell & Sobell 1992,
//! clinical.md §3.1, §4.3), and the patient's daily diary. A day is `yes`,
//! `no` or `unknown`; unknown is kept apart from no use and is never an
//! abstinent day. Amounts are standard units (standard drinks for alcohol)
//! as exact decimals, given only on a use day.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};

use crate::dose::Exact;
use crate::field::{FieldError, FieldErrors};
use crate::patient::Substance;

wire_enum!(
    /// Whether the substance was used that day.
    UseAnswer, "use" {
        Yes => "yes",
        No => "no",
        Unknown => "unknown",
    }
);

wire_enum!(
    /// Who reported a day.
    ReportSource, "source" {
        Tlfb => "tlfb",
        Diary => "diary",
    }
);

/// Decimal places accepted in an amount: an input guard against typing
/// errors, not a clinical number (a TLFB amount is an estimate).
pub const AMOUNT_DECIMALS: usize = 2;
/// Longest diary note, in characters: an input guard.
pub const NOTE_MAX_CHARS: usize = 2000;
/// Days in one TLFB entry screen.
pub const WEEK_DAYS: usize = 7;

/// One source's answer for one day and substance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayReport {
    pub date: NaiveDate,
    pub substance: Substance,
    pub source: ReportSource,
    pub answer: UseAnswer,
    /// Standard units; only on a `yes` day, and optional there.
    pub amount: Option<Exact>,
}

/// One TLFB day as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlfbDayInput {
    /// Wire field `use`: `yes`, `no` or `unknown`.
    pub used: Option<String>,
    pub amount: Option<String>,
}

/// A week of the TLFB calendar for one substance, as typed on one screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlfbWeekInput {
    /// `YYYY-MM-DD`, the first of the seven days.
    pub week_start: Option<String>,
    pub substance: Option<String>,
    /// Exactly seven, from `week_start` on.
    pub days: Vec<TlfbDayInput>,
}

/// Reads a TLFB week: seven days from `week_start`, none after `today`, a
/// substance from the patient's, `use` on every day, and an amount (≥ 0, at
/// most `AMOUNT_DECIMALS` places) only on a `yes` day. Every failing field
/// is named (`days[3].amount` is the third day's amount).
pub fn validate_week(
    input: &TlfbWeekInput,
    patient_substances: &[Substance],
    today: NaiveDate,
) -> Result<Vec<DayReport>, FieldErrors> {
    let mut errors = Vec::new();
    let week_start = parse_date("week_start", input.week_start.as_deref(), &mut errors);
    if let Some(start) = week_start {
        match start.checked_add_days(Days::new(6)) {
            Some(last) if last > today => errors.push(FieldError::new(
                "week_start",
                format!("the week {start} to {last} runs past today ({today}); enter only days that have passed"),
            )),
            Some(_) => {}
            None => errors.push(FieldError::new("week_start", format!("{start} is too late for the calendar"))),
        }
    }
    let substance = parse_substance(input.substance.as_deref(), patient_substances, &mut errors);
    if input.days.len() != WEEK_DAYS {
        errors.push(FieldError::new(
            "days",
            format!("a week has {WEEK_DAYS} days, got {}", input.days.len()),
        ));
    }
    let mut answers = Vec::new();
    for (idx, day) in input.days.iter().enumerate() {
        let at = format!("days[{}]", idx + 1);
        answers.push(
            parse_use(
                &format!("{at}.use"),
                day.used.as_deref(),
                UseAnswer::ALL,
                &mut errors,
            )
            .and_then(|answer| {
                parse_amount(
                    &format!("{at}.amount"),
                    answer,
                    day.amount.as_deref(),
                    &mut errors,
                )
                .map(|amount| (answer, amount))
            }),
        );
    }
    match (week_start, substance, errors.is_empty()) {
        (Some(start), Some(substance), true) => Ok(start
            .iter_days()
            .zip(answers.into_iter().flatten())
            .map(|(date, (answer, amount))| DayReport {
                date,
                substance,
                source: ReportSource::Tlfb,
                answer,
                amount,
            })
            .collect()),
        _ => Err(FieldErrors(errors)),
    }
}

/// A diary entry as the patient typed it in the portal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiaryInput {
    /// `YYYY-MM-DD`, the day the entry is about.
    pub date: Option<String>,
    pub substance: Option<String>,
    /// Wire field `use`: `yes` or `no` (a patient who does not know leaves the day out).
    pub used: Option<String>,
    pub amount: Option<String>,
    /// 0–10, the craving numeric rating scale (clinical.md §3.1); optional.
    pub craving: Option<String>,
    pub note: Option<String>,
}

/// A validated diary entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiaryEntry {
    pub report: DayReport,
    /// 0–10, when given.
    pub craving_0_to_10: Option<u8>,
    pub note: Option<String>,
}

/// Reads a diary entry: a day not after `today`, one of the patient's
/// substances, `use` yes or no, an amount only with use, craving 0–10 and a
/// note of at most `NOTE_MAX_CHARS` characters. Every failing field is named.
pub fn validate_diary(
    input: &DiaryInput,
    patient_substances: &[Substance],
    today: NaiveDate,
) -> Result<DiaryEntry, FieldErrors> {
    let mut errors = Vec::new();
    let date = parse_date("date", input.date.as_deref(), &mut errors);
    if let Some(date) = date {
        if date > today {
            errors.push(FieldError::new(
                "date",
                format!("{date} is after today ({today}); the diary is about days that have begun"),
            ));
        }
    }
    let substance = parse_substance(input.substance.as_deref(), patient_substances, &mut errors);
    let answer = parse_use(
        "use",
        input.used.as_deref(),
        &[UseAnswer::Yes, UseAnswer::No],
        &mut errors,
    );
    let amount = answer
        .and_then(|answer| parse_amount("amount", answer, input.amount.as_deref(), &mut errors));
    let craving = match input
        .craving
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => Some(None),
        Some(text) => match text.parse::<u8>() {
            Ok(value) if value <= 10 => Some(Some(value)),
            _ => {
                errors.push(FieldError::new(
                    "craving",
                    format!("{text:?} is not a whole number from 0 to 10"),
                ));
                None
            }
        },
    };
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    if let Some(text) = &note {
        let chars = text.chars().count();
        if chars > NOTE_MAX_CHARS {
            errors.push(FieldError::new(
                "note",
                format!("at most {NOTE_MAX_CHARS} characters, got {chars}"),
            ));
        }
    }
    match (date, substance, answer, amount, craving, errors.is_empty()) {
        (Some(date), Some(substance), Some(answer), Some(amount), Some(craving_0_to_10), true) => {
            Ok(DiaryEntry {
                report: DayReport {
                    date,
                    substance,
                    source: ReportSource::Diary,
                    answer,
                    amount,
                },
                craving_0_to_10,
                note,
            })
        }
        _ => Err(FieldErrors(errors)),
    }
}

/// What all sources together say about one day and substance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedDay {
    pub date: NaiveDate,
    pub status: DayStatus,
    /// The largest amount any use report gave; `None` when no use report gave one.
    pub amount: Option<Exact>,
    /// Every report of the day, TLFB first.
    pub reports: Vec<DayReport>,
}

/// One day, all sources merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStatus {
    /// At least one source says use.
    Use,
    /// No source says use and at least one says no use.
    NoUse,
    /// Every source that recorded the day said unknown.
    Unknown,
    /// No source recorded the day.
    Unrecorded,
}

/// The substance's days in `window`, every day present, all sources merged:
/// a yes from any source makes a use day (with the largest amount given),
/// otherwise a no makes a day without use, otherwise the day is unknown or
/// unrecorded.
pub fn merge_days(
    reports: &[DayReport],
    substance: Substance,
    window: crate::outcome::DayWindow,
) -> Vec<MergedDay> {
    let mut by_day: BTreeMap<NaiveDate, Vec<DayReport>> = BTreeMap::new();
    for report in reports
        .iter()
        .filter(|r| r.substance == substance && window.contains(r.date))
    {
        by_day.entry(report.date).or_default().push(*report);
    }
    window
        .days()
        .map(|date| {
            let mut day_reports = by_day.remove(&date).unwrap_or_default();
            day_reports.sort_by_key(|r| r.source);
            let says = |answer: UseAnswer| day_reports.iter().any(|r| r.answer == answer);
            let status = if says(UseAnswer::Yes) {
                DayStatus::Use
            } else if says(UseAnswer::No) {
                DayStatus::NoUse
            } else if day_reports.is_empty() {
                DayStatus::Unrecorded
            } else {
                DayStatus::Unknown
            };
            let amount = day_reports
                .iter()
                .filter(|r| r.answer == UseAnswer::Yes)
                .filter_map(|r| r.amount)
                .fold(None, |best: Option<Exact>, a| match best {
                    Some(b) if b.cmp_value(a).is_ge() => Some(b),
                    _ => Some(a),
                });
            MergedDay {
                date,
                status,
                amount,
                reports: day_reports,
            }
        })
        .collect()
}

fn parse_date(field: &str, text: Option<&str>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => {
            errors.push(FieldError::new(field, "required, a date YYYY-MM-DD"));
            None
        }
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().or_else(|| {
            errors.push(FieldError::new(
                field,
                format!("{t:?} is not a date YYYY-MM-DD"),
            ));
            None
        }),
    }
}

fn parse_substance(
    text: Option<&str>,
    allowed: &[Substance],
    errors: &mut Vec<FieldError>,
) -> Option<Substance> {
    let allowed_list = allowed
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    let found = text
        .and_then(|t| Substance::parse(t).ok())
        .filter(|s| allowed.contains(s));
    if found.is_none() {
        let got = text.map_or_else(
            || "required".to_string(),
            |t| format!("{t:?} is not one of this patient's substances"),
        );
        errors.push(FieldError::new(
            "substance",
            format!("{got}; must be one of: {allowed_list}"),
        ));
    }
    found
}

fn parse_use(
    field: &str,
    text: Option<&str>,
    allowed: &[UseAnswer],
    errors: &mut Vec<FieldError>,
) -> Option<UseAnswer> {
    let allowed_list = allowed
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    let found = text
        .and_then(|t| UseAnswer::parse(t).ok())
        .filter(|a| allowed.contains(a));
    if found.is_none() {
        let got = text.map_or_else(
            || "required".to_string(),
            |t| format!("{t:?} is not allowed"),
        );
        errors.push(FieldError::new(
            field,
            format!("{got}; must be one of: {allowed_list}"),
        ));
    }
    found
}

/// `Some(None)` when no amount is given (and none is needed), `Some(Some(_))`
/// for a valid amount on a use day, `None` after recording an error.
fn parse_amount(
    field: &str,
    answer: UseAnswer,
    text: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Option<Exact>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Some(None);
    };
    if answer != UseAnswer::Yes {
        errors.push(FieldError::new(
            field,
            format!(
                "leave empty: an amount is given only when use is yes (use is {})",
                answer.as_str()
            ),
        ));
        return None;
    }
    let decimals = text.split_once('.').map_or(0, |(_, frac)| frac.len());
    let refuse = |errors: &mut Vec<FieldError>, why: String| {
        errors.push(FieldError::new(field, why));
        None
    };
    if decimals > AMOUNT_DECIMALS {
        return refuse(
            errors,
            format!("{text:?} has more than {AMOUNT_DECIMALS} decimal places"),
        );
    }
    match Exact::parse(text) {
        None => refuse(
            errors,
            format!("{text:?} is not a number of standard units, such as 2 or 1.5"),
        ),
        Some(amount) if amount.cmp_value(Exact::integer(0)).is_lt() => {
            refuse(errors, format!("{text:?} is below 0"))
        }
        Some(amount) => Some(Some(amount)),
    }
}
