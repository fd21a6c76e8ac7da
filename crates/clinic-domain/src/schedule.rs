//! Capacity-aware booking rules: may this event be booked at this time, on
//! which chair or room and with which clinician; if not, every reason why
//! and the nearest times that would work; and booking a whole plan event by
//! event. Pure: the caller passes the site, its staff's hours, the bookings
//! and (for searches) the current time.
//!
//! Semantics. Every stretch of time is half-open, `[start, end)`: a booking
//! ending at 10:00 and one starting at 10:00 do not overlap. An infusion
//! holds its chair for its own minutes and then for the site's
//! `recovery_minutes`; the patient is still in the chair, so the recovery
//! counts for the chair, the opening hours, the nurse ratio and the
//! patient's other bookings, but not for the physician (who must be on site
//! while the drug runs) or a clinician. Nurses needed at an instant are
//! ceil(running chairs × nurses ÷ chairs), rounded up: at one nurse per two
//! chairs, three running chairs need two nurses. The count is checked at
//! every instant where a chair starts or stops running or a nurse arrives or
//! leaves, so it is exact, not sampled. Opening hours are local wall-clock
//! times in the site's zone, turned into real instants date by date, so an
//! 08:00–17:00 day stays 08:00–17:00 across a daylight-saving change; a
//! local time the clock skips means the instant it jumps to, and one it
//! passes twice means the first. An event belongs to the local date it
//! starts on. Inpatient days are all-day events at the inpatient unit:
//! they follow neither the outpatient opening hours nor closures, and they
//! do not block the patient's other events (Dakwar 2019 infuses and holds
//! therapy during the stay), though two inpatient bookings of one patient
//! may not overlap. Only `booked` and `attended` bookings hold anything.
//!
//! The reference (clinical.md §11.6) gives no number for chair recovery
//! time, the nurse ratio or whether a physician must be on site, so they
//! ship unset; a booking that needs one is refused with
//! `needs_clinic_setting` naming it, never given a default.

pub mod conflict;
pub mod hours;
pub mod search;
pub mod span;
pub mod validate;
pub mod whole_plan;

mod occupancy;
mod spacing;
mod staffing;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::protocol::EventKind;
use crate::schedule::conflict::{Conflict, ConflictCode};
use crate::schedule::hours::{
    at_text, intervals_text, local_date, span_text, weekday_name, WeeklyHours,
};
use crate::schedule::occupancy::Bookings;
use crate::schedule::span::Span;
use crate::user::Role;

wire_enum!(
    /// What a site's bookable place is: an infusion chair or a room.
    ResourceKind, "resource_kind" {
        Chair => "chair",
        Room => "room",
    }
);

wire_enum!(
    /// Where a booking stands. Only `booked` and `attended` hold a chair,
    /// room, clinician or patient; the others keep the history.
    BookingStatus, "status" {
        Booked => "booked",
        Attended => "attended",
        Cancelled => "cancelled",
        NoShow => "no_show",
        Rescheduled => "rescheduled",
    }
);

impl BookingStatus {
    pub fn is_active(self) -> bool {
        matches!(self, BookingStatus::Booked | BookingStatus::Attended)
    }
}

/// So many nurses for so many running chairs (1 nurse per 2 chairs is
/// `{ nurses: 1, chairs: 2 }`). Both must be at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NurseRatio {
    pub nurses: u32,
    pub chairs: u32,
}

impl NurseRatio {
    /// Nurses needed for `running` chairs: ceil(running × nurses ÷ chairs).
    /// `None` for a ratio with no chairs.
    pub fn nurses_needed(self, running: usize) -> Option<u128> {
        let running = u128::try_from(running).ok()?;
        let chairs = u128::from(self.chairs);
        let product = running.checked_mul(u128::from(self.nurses))?;
        (chairs > 0).then(|| product.div_ceil(chairs))
    }
}

/// A site's booking rules. `None` settings are unset ("needs clinic
/// setting"): the reference gives no number for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRules {
    pub zone: Tz,
    pub hours: WeeklyHours,
    /// Local dates the site is closed.
    pub closures: BTreeSet<NaiveDate>,
    /// Minutes a chair stays occupied after an infusion ends (0–1440).
    pub recovery_minutes: Option<i64>,
    pub nurses_per_chair: Option<NurseRatio>,
    /// Whether a physician must be on site during every infusion.
    pub physician_on_site: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub id: Uuid,
    pub kind: ResourceKind,
    /// What the staff call it ("Chair 2"); shown in messages.
    pub name: String,
}

/// When one staff member is on site (UTC spans; they may meet or overlap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAvailability {
    pub user_id: Uuid,
    pub role: Role,
    pub on_site: Vec<Span>,
}

/// A booking already made. `minutes` is the event's own length; an
/// infusion also holds its chair for the site's recovery time after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub plan_event_id: Option<Uuid>,
    pub kind: EventKind,
    pub resource_id: Option<Uuid>,
    pub clinician_id: Option<Uuid>,
    pub start: DateTime<Utc>,
    pub minutes: i64,
    pub status: BookingStatus,
}

/// Everything a booking is checked against. `bookings` holds the site's
/// bookings and, wherever they are, those of the patient and of the
/// clinicians concerned; an infusion counts toward this site's nurse load
/// only when it is on one of `resources`. `resources` and `staff` are in the
/// order a free one is picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSchedule {
    pub rules: SiteRules,
    pub resources: Vec<Resource>,
    pub staff: Vec<StaffAvailability>,
    pub bookings: Vec<Booking>,
}

/// The dates an event may fall on (local dates, both included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
}

/// The protocol's spacing between consecutive infusions of one plan, and
/// the local dates of the plan's other booked infusions (not the one being
/// moved). An unset limit is no rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spacing {
    pub other_infusion_dates: Vec<NaiveDate>,
    pub min_spacing_days: Option<i64>,
    pub max_spacing_days: Option<i64>,
}

/// An event to book. Infusions need a chair; therapy, integration and
/// assessment a room; inpatient days and follow-ups a room or nothing.
/// Therapy and integration need a clinician (counselor or physician): the
/// one named, or the first free counselor. Assessments and follow-ups may
/// name one (counselor, physician or nurse); infusions and inpatient days
/// are staffed by the site's rules and name none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub patient_id: Uuid,
    pub kind: EventKind,
    pub start: DateTime<Utc>,
    /// The event's own length (1 to `validate::MAX_EVENT_MINUTES`).
    pub minutes: i64,
    pub resource_kind: Option<ResourceKind>,
    /// A specific chair or room; otherwise the first free one of the kind.
    pub resource_id: Option<Uuid>,
    pub clinician_id: Option<Uuid>,
    /// Required, not blank, for an infusion.
    pub escort_name: Option<String>,
    /// Infusions of a plan only.
    pub spacing: Option<Spacing>,
    pub window: Option<DateWindow>,
    /// The booking this one moves (rescheduling): it is not counted.
    pub replaces: Option<Uuid>,
}

/// What an accepted booking gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub start: DateTime<Utc>,
    /// The end of the event itself.
    pub end: DateTime<Utc>,
    /// The end of the recovery for an infusion; `end` otherwise.
    pub occupied_until: DateTime<Utc>,
    pub resource_id: Option<Uuid>,
    pub clinician_id: Option<Uuid>,
}

/// Checks a request against every rule and returns the chair or room and
/// clinician it gets, or every conflict found (not just the first).
pub fn check(schedule: &SiteSchedule, request: &Request) -> Result<Assignment, Vec<Conflict>> {
    let site_problems = crate::schedule::validate::validate_site(schedule);
    if !site_problems.is_empty() {
        return Err(site_problems);
    }
    let bookings = Bookings::new(schedule);
    check_prepared(schedule, &bookings, request)
}

/// `check` for a site already validated, against prepared bookings.
pub(crate) fn check_prepared(
    schedule: &SiteSchedule,
    bookings: &Bookings<'_>,
    request: &Request,
) -> Result<Assignment, Vec<Conflict>> {
    let problems = crate::schedule::validate::validate_request(schedule, request);
    if !problems.is_empty() {
        return Err(problems);
    }
    let rules = &schedule.rules;
    let zone = rules.zone;
    let is_infusion = request.kind == EventKind::Infusion;
    let mut conflicts = Vec::new();
    let unset = |field: &str, what: &str| {
        Conflict::new(
            ConflictCode::NeedsClinicSetting,
            format!("site.{field}"),
            format!("needs clinic setting: {what}; the reference gives no number, so an infusion cannot be booked until the clinic sets it"),
        )
    };
    // Validation bounds minutes and the start, so this arithmetic stays in range.
    let own = Span {
        start: request.start,
        end: request.start + TimeDelta::minutes(request.minutes),
    };
    let recovery_minutes = if is_infusion {
        rules.recovery_minutes
    } else {
        Some(0)
    };
    if is_infusion {
        if rules.recovery_minutes.is_none() {
            conflicts.push(unset(
                "recovery_minutes",
                "how long a chair stays occupied after an infusion",
            ));
        }
        if rules.nurses_per_chair.is_none() {
            conflicts.push(unset(
                "nurses_per_chair",
                "how many nurses are needed per running chair",
            ));
        }
        if rules.physician_on_site.is_none() {
            conflicts.push(unset(
                "physician_on_site",
                "whether a physician must be on site during infusions",
            ));
        }
        let has_escort = request
            .escort_name
            .as_deref()
            .is_some_and(|name| !name.trim().is_empty());
        if !has_escort {
            conflicts.push(Conflict::new(
                ConflictCode::EscortMissing,
                "escort_name",
                "an infusion needs the name of the responsible adult who takes the patient home (no driving until the next day)",
            ));
        }
    }
    if let Some(date) = local_date(zone, request.start) {
        conflicts.extend(crate::schedule::spacing::spacing_conflicts(request, date));
    }
    let occupied = recovery_minutes.map(|minutes| Span {
        start: own.start,
        end: own.end + TimeDelta::minutes(minutes),
    });
    let mut resource_id = None;
    if let Some(occupied) = occupied {
        if request.kind != EventKind::Inpatient {
            conflicts.extend(hours_conflicts(rules, request, occupied));
        }
        match crate::schedule::occupancy::choose_resource(schedule, bookings, request, occupied) {
            Ok(chosen) => resource_id = chosen,
            Err(found) => conflicts.extend(found),
        }
        if let (true, Some(ratio)) = (is_infusion, rules.nurses_per_chair) {
            conflicts.extend(crate::schedule::staffing::nurse_conflicts(
                schedule, bookings, request, occupied, ratio,
            ));
        }
        conflicts.extend(crate::schedule::occupancy::patient_conflicts(
            schedule, bookings, request, occupied,
        ));
    }
    if is_infusion && rules.physician_on_site == Some(true) {
        conflicts.extend(crate::schedule::staffing::physician_conflicts(
            schedule, own,
        ));
    }
    let clinician_id =
        match crate::schedule::staffing::choose_clinician(schedule, bookings, request, own) {
            Ok(chosen) => chosen,
            Err(found) => {
                conflicts.extend(found);
                None
            }
        };
    match occupied {
        Some(occupied) if conflicts.is_empty() => Ok(Assignment {
            start: own.start,
            end: own.end,
            occupied_until: occupied.end,
            resource_id,
            clinician_id,
        }),
        _ => Err(conflicts),
    }
}

/// Whether no other start could help: the input is invalid, a setting is
/// unset or the escort is missing.
pub(crate) fn time_cannot_fix(conflicts: &[Conflict]) -> bool {
    conflicts.iter().any(|c| {
        matches!(
            c.code,
            ConflictCode::Invalid | ConflictCode::NeedsClinicSetting | ConflictCode::EscortMissing
        )
    })
}

/// Rule 1: the whole occupied span lies in one opening interval of the
/// local date it starts on, and that date is not a closure.
fn hours_conflicts(rules: &SiteRules, request: &Request, occupied: Span) -> Vec<Conflict> {
    use chrono::Datelike;
    let zone = rules.zone;
    let Some(date) = local_date(zone, occupied.start) else {
        return vec![Conflict::invalid(
            "start",
            "is outside the calendar the site's time zone covers",
        )];
    };
    if rules.closures.contains(&date) {
        return vec![Conflict::new(
            ConflictCode::Closed,
            "start",
            format!("the site is closed on {date} (a closure date)"),
        )];
    }
    let spans = crate::schedule::hours::opening_spans(zone, &rules.hours, date);
    if spans.iter().any(|span| span.covers(occupied)) {
        return Vec::new();
    }
    let weekday = date.weekday();
    let what = if request.kind == EventKind::Infusion {
        "the infusion with its recovery"
    } else {
        "the event"
    };
    let hours = rules.hours.merged(weekday);
    let message = if hours.is_empty() {
        format!(
            "{what} ({}) falls on a {}, when the site does not open",
            span_text(zone, occupied),
            weekday_name(weekday)
        )
    } else {
        format!(
            "{what} ({}) is not within one opening interval of {} {date} ({})",
            span_text(zone, occupied),
            weekday_name(weekday),
            intervals_text(&hours)
        )
    };
    vec![Conflict::new(ConflictCode::OutsideHours, "start", message)]
}

/// The message text for a booking that collides: `booking <id> (an infusion, 2026-03-09 09:00 EDT to 10:10 EDT)`.
pub(crate) fn booking_text(zone: Tz, booking: &Booking, occupied: Span) -> String {
    format!(
        "booking {} ({}, {})",
        booking.id,
        booking.kind.as_str(),
        span_text(zone, occupied)
    )
}

/// An instant in the site's local time, for messages.
pub(crate) fn local_text(rules: &SiteRules, at: DateTime<Utc>) -> String {
    at_text(rules.zone, at)
}
