//! The nearest starts that would be accepted, for a refused request: the
//! same request at other times on a fixed step through the opening hours
//! of the same and nearby days, nearest first.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};

use crate::protocol::EventKind;
use crate::schedule::conflict::Conflict;
use crate::schedule::hours::{local_date, local_date_time, local_instant, opening_spans};
use crate::schedule::occupancy::Bookings;
use crate::schedule::{check_prepared, time_cannot_fix, Assignment, Request, SiteSchedule};

/// How far and how finely to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    /// Starts are tried every so many minutes from each opening time
    /// (1–1440; 15 gives 08:00, 08:15, …).
    pub step_minutes: i64,
    /// Local dates before and after the requested one to try (0–366 each).
    pub days_before: u32,
    pub days_after: u32,
    /// How many starts to return at most.
    pub max_results: usize,
    /// No start earlier than this (the caller passes the current time).
    pub not_before: DateTime<Utc>,
}

/// A start that passes every rule, with what it gets, and how far it is
/// from the start asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub assignment: Assignment,
    pub distance_minutes: i64,
}

pub const MAX_SEARCH_DAYS: u32 = 366;

pub(crate) fn validate_search(search: &Search) -> Vec<Conflict> {
    let mut problems = Vec::new();
    if !(1..=1440).contains(&search.step_minutes) {
        problems.push(Conflict::invalid(
            "search.step_minutes",
            format!("is {}: must be 1 to 1440", search.step_minutes),
        ));
    }
    for (field, days) in [
        ("search.days_before", search.days_before),
        ("search.days_after", search.days_after),
    ] {
        if days > MAX_SEARCH_DAYS {
            problems.push(Conflict::invalid(
                field,
                format!("is {days}: must be at most {MAX_SEARCH_DAYS}"),
            ));
        }
    }
    problems
}

/// The nearest starts to `request.start` that `check` accepts, keeping
/// everything else of the request (a chair asked for stays asked for):
/// every `step_minutes` from each opening time of the requested local date
/// and of up to `days_before` / `days_after` dates around it (for an
/// inpatient day, the same local time on those dates), not before
/// `not_before`. Sorted by distance, the earlier first on a tie. Refused
/// only for an invalid site, request or search.
pub fn alternatives(
    schedule: &SiteSchedule,
    request: &Request,
    search: &Search,
) -> Result<Vec<Slot>, Vec<Conflict>> {
    let mut problems = validate_search(search);
    problems.extend(crate::schedule::validate::validate_site(schedule));
    if problems.is_empty() {
        problems.extend(crate::schedule::validate::validate_request(
            schedule, request,
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let bookings = Bookings::new(schedule);
    let Some(date) = local_date(schedule.rules.zone, request.start) else {
        return Ok(Vec::new());
    };
    let dates = date_range(date, search.days_before, search.days_after);
    Ok(nearest(schedule, &bookings, request, &dates, search))
}

/// Local dates from `before` days before `date` to `after` days after it,
/// as far as the calendar goes.
pub(crate) fn date_range(date: NaiveDate, before: u32, after: u32) -> Vec<NaiveDate> {
    let first = date
        .checked_sub_days(Days::new(u64::from(before)))
        .unwrap_or(date);
    let last = date
        .checked_add_days(Days::new(u64::from(after)))
        .unwrap_or(date);
    first.iter_days().take_while(|d| *d <= last).collect()
}

/// The accepted starts among the candidates on `dates`, nearest to
/// `request.start` first, at most `search.max_results`. The site must be
/// valid; `search` too.
pub(crate) fn nearest(
    schedule: &SiteSchedule,
    bookings: &Bookings<'_>,
    request: &Request,
    dates: &[NaiveDate],
    search: &Search,
) -> Vec<Slot> {
    let target = request.start;
    if check_prepared(schedule, bookings, request)
        .is_err_and(|conflicts| time_cannot_fix(&conflicts))
    {
        return Vec::new();
    }
    let mut starts = candidate_starts(schedule, request, dates, search.step_minutes);
    starts.retain(|start| *start >= search.not_before);
    starts.sort_by_key(|start| ((*start - target).abs(), *start));
    starts.dedup();
    let mut slots = Vec::new();
    for start in starts {
        if slots.len() >= search.max_results {
            break;
        }
        let moved = Request {
            start,
            ..request.clone()
        };
        if let Ok(assignment) = check_prepared(schedule, bookings, &moved) {
            slots.push(Slot {
                assignment,
                distance_minutes: (start - target).num_minutes().abs(),
            });
        }
    }
    slots
}

/// Every `step_minutes` from each opening time of each date, while the
/// start is before the close; closure dates are skipped. An inpatient day
/// keeps its local time of day instead.
fn candidate_starts(
    schedule: &SiteSchedule,
    request: &Request,
    dates: &[NaiveDate],
    step_minutes: i64,
) -> Vec<DateTime<Utc>> {
    let rules = &schedule.rules;
    let zone = rules.zone;
    if request.kind == EventKind::Inpatient {
        let Some(time) = local_date_time(zone, request.start).map(|local| local.time()) else {
            return Vec::new();
        };
        return dates
            .iter()
            .filter_map(|date| local_instant(zone, *date, time))
            .collect();
    }
    let step = TimeDelta::minutes(step_minutes.clamp(1, 1440));
    let mut starts = Vec::new();
    for date in dates.iter().filter(|date| !rules.closures.contains(date)) {
        for span in opening_spans(zone, &rules.hours, *date) {
            let mut at = span.start;
            while at < span.end {
                starts.push(at);
                at += step;
            }
        }
    }
    starts
}
