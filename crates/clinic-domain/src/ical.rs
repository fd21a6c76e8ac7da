//! A clinician's calendar feed in iCalendar form (RFC 5545): one VEVENT per
//! booking, ready to serve behind the clinician's revocable feed URL. Pure:
//! the caller passes the events, the time the feed is made and the host name
//! used in event ids.
//!
//! Calendars read these feeds outside the clinic, so an event carries only
//! what the caller puts in it: the caller builds each summary ("Ketamine
//! infusion (chair 2)") and never puts a patient's name there. Cancelled
//! bookings stay in the feed with `STATUS:CANCELLED`, so a calendar that
//! already shows one removes it; `SEQUENCE` is the booking's version, so a
//! changed booking replaces the old copy.
//!
//! The text follows RFC 5545 to the letter: every line ends in CRLF; a line
//! longer than 75 octets is folded (a CRLF and one space) between two
//! characters, never inside a multi-byte UTF-8 character; text values escape
//! backslash, semicolon, comma and newline; times are written in UTC
//! (`20260302T143000Z`, whole seconds). Control characters other than
//! newline and tab are dropped from every text value. Events come in start
//! order, then by booking id, so the same input gives the same bytes.
//!
//! Two edges. RFC 5545's grammar asks for at least one component in a
//! calendar, but a clinician with no bookings gets a calendar with none:
//! calendar programs accept it, and an invented event would be worse. An
//! event that cannot be written faithfully (a time outside the years
//! 0000–9999, an end not after its start, a sequence outside 0 to
//! 2147483647) is left out rather than written wrong; [`check_event`] says
//! which field is at fault, so the caller can log the booking id.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Datelike, Timelike, Utc};
use uuid::Uuid;

use crate::field::{FieldError, FieldErrors};

/// The `PRODID` of every feed.
pub const PRODID: &str = "-//ketaclinic//clinician feed//EN";

/// Longest physical line, in octets, not counting its CRLF (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// The largest `SEQUENCE`: RFC 5545 integers are 32-bit signed.
const MAX_SEQUENCE: i64 = 2_147_483_647;

/// The years a `DATE-TIME` can hold: it has a four-digit year.
const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

/// The HTTP `Content-Type` of a feed.
pub fn content_type() -> &'static str {
    "text/calendar; charset=utf-8"
}

/// Whether a booking still stands. A cancelled one stays in the feed so
/// that calendars remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedStatus {
    Confirmed,
    Cancelled,
}

impl FeedStatus {
    /// The `STATUS` value (RFC 5545 §3.8.1.11).
    fn ical_text(self) -> &'static str {
        match self {
            FeedStatus::Confirmed => "CONFIRMED",
            FeedStatus::Cancelled => "CANCELLED",
        }
    }
}

/// One booking as a calendar event. The text fields are shown to anyone who
/// can read the feed: never a patient's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    /// The booking id; the event's `UID` is `<uuid>@<host>`.
    pub uid: Uuid,
    pub start: DateTime<Utc>,
    /// Must be after `start`.
    pub end: DateTime<Utc>,
    /// What the event is, e.g. "Ketamine infusion (chair 2)".
    pub summary: String,
    /// The site and room.
    pub location: Option<String>,
    pub description: Option<String>,
    pub status: FeedStatus,
    /// The booking's version (0 to 2147483647), so a change replaces the
    /// copy a calendar already holds.
    pub sequence: i64,
    pub last_modified: DateTime<Utc>,
}

/// A clinician's whole feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The calendar's name as calendar programs show it (`X-WR-CALNAME`).
    pub name: String,
    /// The host name that makes event ids unique ("ketaclinic.example").
    pub host: String,
    /// When the feed is made (every event's `DTSTAMP`).
    pub generated_at: DateTime<Utc>,
    /// In any order: the feed sorts them.
    pub events: Vec<FeedEvent>,
}

/// Every reason `event` cannot be written faithfully, or `Ok` when it can.
/// [`render`] leaves out the events this refuses.
pub fn check_event(event: &FeedEvent) -> Result<(), FieldErrors> {
    let mut errors = Vec::new();
    let times = [
        ("start", event.start),
        ("end", event.end),
        ("last_modified", event.last_modified),
    ];
    for (field, time) in times {
        if !YEARS.contains(&time.year()) {
            errors.push(FieldError::new(
                field,
                format!("must be in the years 0000 to 9999, got {time}"),
            ));
        }
    }
    if event.end <= event.start {
        errors.push(FieldError::new(
            "end",
            format!("must be after the start {}, got {}", event.start, event.end),
        ));
    }
    if !(0..=MAX_SEQUENCE).contains(&event.sequence) {
        errors.push(FieldError::new(
            "sequence",
            format!("must be 0 to {MAX_SEQUENCE}, got {}", event.sequence),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(FieldErrors(errors))
    }
}

/// The feed as iCalendar text. Events [`check_event`] refuses are left out.
/// A `generated_at` outside the years 0000–9999 is written as the nearest
/// time that fits (it only says when the feed was made).
pub fn render(feed: &Feed) -> String {
    let mut events: Vec<&FeedEvent> = feed
        .events
        .iter()
        .filter(|event| check_event(event).is_ok())
        .collect();
    events.sort_by(|a, b| a.start.cmp(&b.start).then(a.uid.cmp(&b.uid)));

    let stamp = utc_text(feed.generated_at);
    let host = text(&feed.host);
    let mut out = String::new();
    push_line(&mut out, "BEGIN", "VCALENDAR");
    push_line(&mut out, "VERSION", "2.0");
    push_line(&mut out, "PRODID", PRODID);
    push_line(&mut out, "CALSCALE", "GREGORIAN");
    push_line(&mut out, "METHOD", "PUBLISH");
    push_line(&mut out, "X-WR-CALNAME", &text(&feed.name));
    for event in events {
        push_line(&mut out, "BEGIN", "VEVENT");
        push_line(
            &mut out,
            "UID",
            &format!("{}@{host}", event.uid.hyphenated()),
        );
        push_line(&mut out, "DTSTAMP", &stamp);
        push_line(&mut out, "DTSTART", &utc_text(event.start));
        push_line(&mut out, "DTEND", &utc_text(event.end));
        push_line(&mut out, "SUMMARY", &text(&event.summary));
        if let Some(location) = &event.location {
            push_line(&mut out, "LOCATION", &text(location));
        }
        if let Some(description) = &event.description {
            push_line(&mut out, "DESCRIPTION", &text(description));
        }
        push_line(&mut out, "STATUS", event.status.ical_text());
        push_line(&mut out, "SEQUENCE", &event.sequence.to_string());
        push_line(&mut out, "LAST-MODIFIED", &utc_text(event.last_modified));
        push_line(&mut out, "END", "VEVENT");
    }
    push_line(&mut out, "END", "VCALENDAR");
    out
}

/// Appends the content line `name:value`, folded so that no physical line
/// is longer than 75 octets: a fold goes before the character that would
/// not fit, and the continuation line starts with one space.
fn push_line(out: &mut String, name: &str, value: &str) {
    let mut octets = 0;
    for c in name
        .chars()
        .chain(std::iter::once(':'))
        .chain(value.chars())
    {
        if octets + c.len_utf8() > MAX_LINE_OCTETS {
            out.push_str("\r\n ");
            octets = 1;
        }
        out.push(c);
        octets += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// A TEXT value (RFC 5545 §3.3.11): control characters other than newline
/// and tab dropped; backslash, semicolon and comma escaped with a
/// backslash; a newline written as `\n`.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A `DATE-TIME` in UTC form, `YYYYMMDDTHHMMSSZ`, to the whole second. A
/// time outside the years 0000–9999 becomes the nearest one inside.
fn utc_text(time: DateTime<Utc>) -> String {
    let (year, month, day, hour, minute, second) = if time.year() < *YEARS.start() {
        (0, 1, 1, 0, 0, 0)
    } else if time.year() > *YEARS.end() {
        (9999, 12, 31, 23, 59, 59)
    } else {
        (
            time.year(),
            time.month(),
            time.day(),
            time.hour(),
            time.minute(),
            time.second(),
        )
    };
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
}
