//! Input that contradicts itself or is out of range is refused as
//! `invalid`, naming the field, before any rule is checked: a close before
//! an open, a ratio with no chairs, a booking of no minutes, a chair asked
//! for a therapy session, a clinician of the wrong role.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use crate::protocol::EventKind;
use crate::schedule::conflict::{Conflict, ConflictCode};
use crate::schedule::hours::{weekday_name, WEEK};
use crate::schedule::span::Span;
use crate::schedule::{Request, ResourceKind, SiteSchedule};
use crate::user::Role;

/// The longest event: 31 days (an inpatient stay is the only long one).
pub const MAX_EVENT_MINUTES: i64 = 31 * 24 * 60;
/// The longest recovery a site may set: one day.
pub const MAX_RECOVERY_MINUTES: i64 = 24 * 60;

/// The instants the scheduler works with: 1900-01-01 to 3000-01-01 UTC,
/// far inside what the calendar and the time-zone tables hold, so adding an
/// event's minutes or a few days never overflows.
pub fn supported_range() -> Span {
    let at = |year| {
        NaiveDate::from_ymd_opt(year, 1, 1)
            .map(|date| date.and_time(chrono::NaiveTime::MIN).and_utc())
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    };
    Span {
        start: at(1900),
        end: at(3000),
    }
}

pub(crate) fn in_range(at: DateTime<Utc>) -> bool {
    supported_range().contains(at)
}

/// Every contradiction in the site's settings, resources, staff hours and
/// active bookings. A site that has one refuses every booking until fixed.
pub fn validate_site(schedule: &SiteSchedule) -> Vec<Conflict> {
    let mut problems = Vec::new();
    let rules = &schedule.rules;
    for weekday in WEEK {
        for (idx, interval) in rules.hours.on(weekday).iter().enumerate() {
            if interval.close <= interval.open {
                problems.push(Conflict::invalid(
                    format!("site.hours.{}[{idx}]", weekday_name(weekday)),
                    format!(
                        "closes at {} but opens at {}: the close must be after the open",
                        interval.close.format("%H:%M"),
                        interval.open.format("%H:%M")
                    ),
                ));
            }
        }
    }
    if let Some(minutes) = rules.recovery_minutes {
        if !(0..=MAX_RECOVERY_MINUTES).contains(&minutes) {
            problems.push(Conflict::invalid(
                "site.recovery_minutes",
                format!("is {minutes}: must be 0 to {MAX_RECOVERY_MINUTES}"),
            ));
        }
    }
    if let Some(ratio) = rules.nurses_per_chair {
        if ratio.nurses == 0 || ratio.chairs == 0 {
            problems.push(Conflict::invalid(
                "site.nurses_per_chair",
                format!(
                    "is {} nurses per {} chairs: both must be at least 1",
                    ratio.nurses, ratio.chairs
                ),
            ));
        }
    }
    let mut resource_ids = BTreeSet::new();
    for resource in &schedule.resources {
        if !resource_ids.insert(resource.id) {
            problems.push(Conflict::invalid(
                format!("resources[{}]", resource.id),
                "is listed twice",
            ));
        }
    }
    let mut staff_ids = BTreeSet::new();
    for staff in &schedule.staff {
        if !staff_ids.insert(staff.user_id) {
            problems.push(Conflict::invalid(
                format!("staff[{}]", staff.user_id),
                "is listed twice",
            ));
        }
        for (idx, span) in staff.on_site.iter().enumerate() {
            let field = format!("staff[{}].on_site[{idx}]", staff.user_id);
            if !in_range(span.start) || !in_range(span.end) {
                problems.push(Conflict::invalid(field, "must lie between 1900 and 3000"));
            } else if span.end <= span.start {
                problems.push(Conflict::invalid(
                    field,
                    format!(
                        "ends at {} but starts at {}: the end must be after the start",
                        span.end, span.start
                    ),
                ));
            }
        }
    }
    for booking in schedule.bookings.iter().filter(|b| b.status.is_active()) {
        if !(1..=MAX_EVENT_MINUTES).contains(&booking.minutes) {
            problems.push(Conflict::invalid(
                format!("bookings[{}].minutes", booking.id),
                format!("is {}: must be 1 to {MAX_EVENT_MINUTES}", booking.minutes),
            ));
        }
        if !in_range(booking.start) {
            problems.push(Conflict::invalid(
                format!("bookings[{}].start", booking.id),
                "must lie between 1900 and 3000",
            ));
        }
    }
    problems
}

/// Every contradiction in one request, against the site's resources and staff.
pub fn validate_request(schedule: &SiteSchedule, request: &Request) -> Vec<Conflict> {
    let mut problems = Vec::new();
    let kind = request.kind;
    if !(1..=MAX_EVENT_MINUTES).contains(&request.minutes) {
        problems.push(Conflict::invalid(
            "minutes",
            format!("is {}: must be 1 to {MAX_EVENT_MINUTES}", request.minutes),
        ));
    }
    if !in_range(request.start) {
        problems.push(Conflict::invalid("start", "must lie between 1900 and 3000"));
    }
    let kind_ok = matches!(
        (kind, request.resource_kind),
        (EventKind::Infusion, Some(ResourceKind::Chair))
            | (
                EventKind::Therapy | EventKind::Integration | EventKind::Assessment,
                Some(ResourceKind::Room)
            )
            | (
                EventKind::Inpatient | EventKind::FollowUp,
                None | Some(ResourceKind::Room)
            )
    );
    if !kind_ok {
        let needs = match kind {
            EventKind::Infusion => "an infusion needs a chair",
            EventKind::Therapy | EventKind::Integration | EventKind::Assessment => {
                "this event needs a room"
            }
            EventKind::Inpatient | EventKind::FollowUp => "this event takes a room or nothing",
        };
        let asked = request.resource_kind.map_or("none", ResourceKind::as_str);
        problems.push(Conflict::invalid(
            "resource_kind",
            format!("is {asked}: {needs} ({})", kind.as_str()),
        ));
    }
    if let Some(resource_id) = request.resource_id {
        match schedule.resources.iter().find(|r| r.id == resource_id) {
            None => problems.push(Conflict::invalid(
                "resource_id",
                format!("{resource_id} is not a chair or room of this site"),
            )),
            Some(resource) if Some(resource.kind) != request.resource_kind => {
                problems.push(Conflict::invalid(
                    "resource_id",
                    format!(
                        "{resource_id} ('{}') is a {}, not a {}",
                        resource.name,
                        resource.kind.as_str(),
                        request.resource_kind.map_or("none", ResourceKind::as_str)
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(clinician_id) = request.clinician_id {
        let allowed = clinician_roles(kind);
        if allowed.is_empty() {
            problems.push(Conflict::invalid(
                "clinician_id",
                format!("{} events are staffed by the site's rules (nurse ratio, physician on site): name no clinician", kind.as_str()),
            ));
        } else if let Some(staff) = schedule.staff.iter().find(|s| s.user_id == clinician_id) {
            if !allowed.contains(&staff.role) {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                problems.push(Conflict::invalid(
                    "clinician_id",
                    format!(
                        "{clinician_id} is a {}: a {} event needs a {}",
                        staff.role.as_str(),
                        kind.as_str(),
                        names.join(" or ")
                    ),
                ));
            }
        }
    }
    if let Some(spacing) = &request.spacing {
        if kind != EventKind::Infusion {
            problems.push(Conflict::invalid("spacing", "applies to infusions only"));
        }
        if let Some(min) = spacing.min_spacing_days {
            if min < 0 {
                problems.push(Conflict::invalid(
                    "spacing.min_spacing_days",
                    format!("is {min}: must be 0 or more"),
                ));
            }
        }
        if let Some(max) = spacing.max_spacing_days {
            if max < 0 || spacing.min_spacing_days.is_some_and(|min| max < min) {
                problems.push(Conflict::invalid(
                    "spacing.max_spacing_days",
                    format!("is {max}: must be 0 or more and at least the minimum"),
                ));
            }
        }
    }
    if let Some(window) = request.window {
        if window.latest < window.earliest {
            problems.push(Conflict::invalid(
                "window",
                format!(
                    "ends {} before it starts {}",
                    window.latest, window.earliest
                ),
            ));
        }
    }
    problems
}

/// The roles that may hold an event of this kind; empty when the event
/// names no clinician.
pub fn clinician_roles(kind: EventKind) -> &'static [Role] {
    match kind {
        EventKind::Therapy | EventKind::Integration => &[Role::Counselor, Role::Physician],
        EventKind::Assessment | EventKind::FollowUp => {
            &[Role::Counselor, Role::Physician, Role::Nurse]
        }
        EventKind::Infusion | EventKind::Inpatient => &[],
    }
}

/// The code a busy resource of this kind gives.
pub(crate) fn busy_code(kind: ResourceKind) -> ConflictCode {
    match kind {
        ResourceKind::Chair => ConflictCode::ChairBusy,
        ResourceKind::Room => ConflictCode::RoomBusy,
    }
}
