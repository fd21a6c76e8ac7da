//! Weekly opening hours in the site's local time, and the real instants they
//! mean on one date in the site's time zone (which differ across a
//! daylight-saving change).

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};

use crate::schedule::span::Span;

/// The days of the week, Monday first, as `WeeklyHours` keeps them.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// One stretch of a day when the site is open, in local wall-clock time:
/// from `open` up to (not including) `close`, on the same date. `close` must
/// be after `open`; a site open past midnight gives two intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpeningInterval {
    pub open: NaiveTime,
    pub close: NaiveTime,
}

/// The opening intervals of each day of the week (zero or more a day, e.g.
/// 08:00–12:00 and 13:00–17:00 around a lunch break). Intervals of one day
/// that overlap or meet are taken as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyHours {
    /// Indexed Monday first, as `WEEK`.
    pub by_weekday: [Vec<OpeningInterval>; 7],
}

impl WeeklyHours {
    /// A week with no opening hours; add days with `set`.
    pub fn closed() -> WeeklyHours {
        WeeklyHours {
            by_weekday: Default::default(),
        }
    }

    pub fn set(&mut self, weekday: Weekday, intervals: Vec<OpeningInterval>) {
        *self.day_mut(weekday) = intervals;
    }

    pub fn on(&self, weekday: Weekday) -> &[OpeningInterval] {
        let [mon, tue, wed, thu, fri, sat, sun] = &self.by_weekday;
        match weekday {
            Weekday::Mon => mon,
            Weekday::Tue => tue,
            Weekday::Wed => wed,
            Weekday::Thu => thu,
            Weekday::Fri => fri,
            Weekday::Sat => sat,
            Weekday::Sun => sun,
        }
    }

    fn day_mut(&mut self, weekday: Weekday) -> &mut Vec<OpeningInterval> {
        let [mon, tue, wed, thu, fri, sat, sun] = &mut self.by_weekday;
        match weekday {
            Weekday::Mon => mon,
            Weekday::Tue => tue,
            Weekday::Wed => wed,
            Weekday::Thu => thu,
            Weekday::Fri => fri,
            Weekday::Sat => sat,
            Weekday::Sun => sun,
        }
    }

    /// The day's intervals sorted, with overlapping or touching ones joined.
    /// Intervals that do not close after they open are left out (validation
    /// refuses them before this is used).
    pub fn merged(&self, weekday: Weekday) -> Vec<OpeningInterval> {
        let mut intervals: Vec<OpeningInterval> = self
            .on(weekday)
            .iter()
            .copied()
            .filter(|i| i.close > i.open)
            .collect();
        intervals.sort();
        let mut merged: Vec<OpeningInterval> = Vec::new();
        for interval in intervals {
            match merged.last_mut() {
                Some(last) if interval.open <= last.close => {
                    last.close = last.close.max(interval.close)
                }
                _ => merged.push(interval),
            }
        }
        merged
    }
}

/// The lower-case English name of a weekday, as used in field names
/// (`site.hours.monday[0]`).
pub fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// The real instant a local date and wall-clock time mean in `zone`. A time
/// the clock passes twice (the autumn change) means its first occurrence; a
/// time the clock skips (the spring change, e.g. 02:30 in New York on
/// 2026-03-08) means the instant the clock jumps to (03:00 there). `None`
/// only where the zone's tables end.
pub fn local_instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(time);
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => GapInfo::new(&local, &zone)
            .and_then(|gap| gap.end)
            .map(|at| at.with_timezone(&Utc)),
    }
}

/// The local date and wall-clock time of an instant in `zone`; `None` only
/// when it falls outside the calendar chrono can hold.
pub fn local_date_time(zone: Tz, at: DateTime<Utc>) -> Option<NaiveDateTime> {
    let offset = zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc().checked_add_offset(offset)
}

pub fn local_date(zone: Tz, at: DateTime<Utc>) -> Option<NaiveDate> {
    local_date_time(zone, at).map(|local| local.date())
}

/// The real spans the site is open on one local date (closures aside),
/// from the weekday's merged intervals. An interval that the clock change
/// empties (both ends inside a skipped hour) is left out.
pub(crate) fn opening_spans(zone: Tz, hours: &WeeklyHours, date: NaiveDate) -> Vec<Span> {
    use chrono::Datelike;
    hours
        .merged(date.weekday())
        .into_iter()
        .filter_map(|interval| {
            let start = local_instant(zone, date, interval.open)?;
            let end = local_instant(zone, date, interval.close)?;
            (start < end).then_some(Span { start, end })
        })
        .collect()
}

/// An instant as the site's staff read it: `2026-03-09 09:00 EDT`.
pub(crate) fn at_text(zone: Tz, at: DateTime<Utc>) -> String {
    match local_date_time(zone, at) {
        Some(_) => at
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
        None => at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// A span as the site's staff read it: `2026-03-09 09:00 EDT to 10:10 EDT`
/// (the end's date is repeated only when it differs).
pub(crate) fn span_text(zone: Tz, span: Span) -> String {
    let same_date = local_date(zone, span.start).is_some()
        && local_date(zone, span.start) == local_date(zone, span.end);
    if same_date {
        format!(
            "{} to {}",
            at_text(zone, span.start),
            span.end.with_timezone(&zone).format("%H:%M %Z")
        )
    } else {
        format!(
            "{} to {}",
            at_text(zone, span.start),
            at_text(zone, span.end)
        )
    }
}

/// The intervals of one day as `08:00–12:00, 13:00–17:00`.
pub(crate) fn intervals_text(intervals: &[OpeningInterval]) -> String {
    intervals
        .iter()
        .map(|i| format!("{}–{}", i.open.format("%H:%M"), i.close.format("%H:%M")))
        .collect::<Vec<_>>()
        .join(", ")
}
