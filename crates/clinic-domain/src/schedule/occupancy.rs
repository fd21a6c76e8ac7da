//! What existing bookings hold: the chair or room (an infusion through its
//! recovery) and the patient. Active bookings are kept sorted by start, so
//! a check looks only at those that can reach the span in question.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::protocol::EventKind;
use crate::schedule::conflict::{Conflict, ConflictCode};
use crate::schedule::hours::local_date;
use crate::schedule::span::Span;
use crate::schedule::validate::busy_code;
use crate::schedule::{booking_text, Booking, Request, ResourceKind, SiteSchedule};

/// The span a booking holds, and whether its recovery is unknown (an
/// infusion while the site's recovery time is unset: then only its own
/// minutes are known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    pub span: Span,
    pub recovery_unknown: bool,
}

/// The span a booking holds its chair and patient for. `None` only for a
/// booking validation refuses (minutes or start out of range).
pub(crate) fn held(booking: &Booking, recovery_minutes: Option<i64>) -> Option<Held> {
    let own_end = booking
        .start
        .checked_add_signed(TimeDelta::try_minutes(booking.minutes)?)?;
    let (extra, recovery_unknown) = match (booking.kind, recovery_minutes) {
        (EventKind::Infusion, Some(minutes)) => (minutes, false),
        (EventKind::Infusion, None) => (0, true),
        _ => (0, false),
    };
    let end = own_end.checked_add_signed(TimeDelta::try_minutes(extra)?)?;
    Some(Held {
        span: Span {
            start: booking.start,
            end,
        },
        recovery_unknown,
    })
}

/// The active bookings of a check: the site's, sorted by start, plus those
/// placed earlier in the same run (`schedule_plan`).
pub(crate) struct Bookings<'a> {
    sorted: Vec<(&'a Booking, Held)>,
    /// No held span is longer than this, so a booking that starts earlier
    /// than `span.start - reach` cannot reach `span`.
    reach: TimeDelta,
    placed: Vec<(Booking, Held)>,
    recovery_minutes: Option<i64>,
}

impl<'a> Bookings<'a> {
    pub(crate) fn new(schedule: &'a SiteSchedule) -> Bookings<'a> {
        let recovery_minutes = schedule.rules.recovery_minutes;
        let mut sorted: Vec<(&Booking, Held)> = schedule
            .bookings
            .iter()
            .filter(|b| b.status.is_active())
            .filter_map(|b| held(b, recovery_minutes).map(|h| (b, h)))
            .collect();
        sorted.sort_by_key(|(b, held)| (held.span.start, b.id));
        let longest = sorted
            .iter()
            .map(|(_, held)| held.span.end - held.span.start)
            .max()
            .unwrap_or(TimeDelta::zero());
        Bookings {
            sorted,
            // A day more, so an earlier infusion of the same local date with
            // an unknown recovery is seen too.
            reach: longest + TimeDelta::days(1),
            placed: Vec::new(),
            recovery_minutes,
        }
    }

    /// Counts a booking placed in this run from now on (an inactive or
    /// out-of-range one holds nothing).
    pub(crate) fn place(&mut self, booking: Booking) {
        if let Some(held) =
            held(&booking, self.recovery_minutes).filter(|_| booking.status.is_active())
        {
            self.placed.push((booking, held));
        }
    }

    /// Active bookings that can hold something in `span` or end on the
    /// same day before it, other than the one a request replaces: a
    /// superset; callers test the overlap they need.
    pub(crate) fn near(
        &self,
        span: Span,
        replaces: Option<Uuid>,
    ) -> impl Iterator<Item = (&Booking, Held)> + '_ {
        let from = span
            .start
            .checked_sub_signed(self.reach)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let first = self
            .sorted
            .partition_point(|(_, held)| held.span.start < from);
        let last = self
            .sorted
            .partition_point(|(_, held)| held.span.start < span.end);
        let site = self.sorted.get(first..last).unwrap_or(&[]).iter().copied();
        let placed = self.placed.iter().map(|(b, held)| (b, *held));
        site.chain(placed)
            .filter(move |(b, _)| Some(b.id) != replaces)
    }
}

/// Rule 2: the chair or room asked for is free over `occupied`, or the first
/// free one of the kind in the site's order. `Ok(None)` when the event
/// needs none.
pub(crate) fn choose_resource(
    schedule: &SiteSchedule,
    bookings: &Bookings<'_>,
    request: &Request,
    occupied: Span,
) -> Result<Option<Uuid>, Vec<Conflict>> {
    let Some(kind) = request.resource_kind else {
        return Ok(None);
    };
    let zone = schedule.rules.zone;
    let holders = |resource_id: Uuid| -> Vec<(&Booking, Held)> {
        bookings
            .near(occupied, request.replaces)
            .filter(|(b, held)| {
                b.resource_id == Some(resource_id)
                    && (held.span.overlaps(occupied)
                        || unknown_recovery_reaches(zone, *held, occupied))
            })
            .collect()
    };
    if let Some(resource_id) = request.resource_id {
        let found = holders(resource_id);
        if found.is_empty() {
            return Ok(Some(resource_id));
        }
        let name = schedule
            .resources
            .iter()
            .find(|r| r.id == resource_id)
            .map_or("", |r| r.name.as_str());
        return Err(found
            .into_iter()
            .map(|(booking, held)| {
                if held.span.overlaps(occupied) {
                    Conflict::new(
                        busy_code(kind),
                        "resource_id",
                        format!(
                            "{} '{name}' ({resource_id}) is held by {}",
                            kind.as_str(),
                            booking_text(zone, booking, held.span)
                        ),
                    )
                } else {
                    recovery_unset(zone, booking)
                }
            })
            .collect());
    }
    let candidates: Vec<_> = schedule
        .resources
        .iter()
        .filter(|r| r.kind == kind)
        .collect();
    if let Some(free) = candidates.iter().find(|r| holders(r.id).is_empty()) {
        return Ok(Some(free.id));
    }
    let what = match kind {
        ResourceKind::Chair => "chair",
        ResourceKind::Room => "room",
    };
    let message = if candidates.is_empty() {
        format!("the site has no {what}")
    } else {
        format!(
            "no {what} is free from {}: all {} are booked",
            crate::schedule::hours::span_text(zone, occupied),
            candidates.len()
        )
    };
    Err(vec![Conflict::new(
        ConflictCode::NoFreeResource,
        "resource_id",
        message,
    )])
}

/// Rule 6: the patient has no other active booking over `occupied` (an
/// infusion with its recovery). Inpatient days block only each other.
pub(crate) fn patient_conflicts(
    schedule: &SiteSchedule,
    bookings: &Bookings<'_>,
    request: &Request,
    occupied: Span,
) -> Vec<Conflict> {
    let zone = schedule.rules.zone;
    let is_inpatient = |kind: EventKind| kind == EventKind::Inpatient;
    bookings
        .near(occupied, request.replaces)
        .filter(|(b, _)| {
            b.patient_id == request.patient_id && is_inpatient(b.kind) == is_inpatient(request.kind)
        })
        .filter_map(|(booking, held)| {
            if held.span.overlaps(occupied) {
                Some(Conflict::new(
                    ConflictCode::PatientDoubleBooked,
                    "start",
                    format!(
                        "patient {} already has {} at that time",
                        request.patient_id,
                        booking_text(zone, booking, held.span)
                    ),
                ))
            } else if unknown_recovery_reaches(zone, held, occupied) {
                Some(recovery_unset(zone, booking))
            } else {
                None
            }
        })
        .collect()
}

/// Whether an infusion whose recovery is unknown might still hold its chair
/// or patient at `span`: it ended before `span` starts, on the same local
/// date (a recovery cannot outlast the opening hours of its day).
fn unknown_recovery_reaches(zone: chrono_tz::Tz, held: Held, span: Span) -> bool {
    held.recovery_unknown
        && held.span.end <= span.start
        && local_date(zone, held.span.end) == local_date(zone, span.start)
}

fn recovery_unset(zone: chrono_tz::Tz, booking: &Booking) -> Conflict {
    Conflict::new(
        ConflictCode::NeedsClinicSetting,
        "site.recovery_minutes",
        format!(
            "needs clinic setting: {} is followed by a recovery of unknown length, so what it holds after it cannot be known",
            booking_text(zone, booking, held(booking, Some(0)).map_or(Span { start: booking.start, end: booking.start }, |h| h.span))
        ),
    )
}
