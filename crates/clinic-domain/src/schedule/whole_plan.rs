//! "Schedule whole plan": book a plan's events one by one, each against the
//! site's bookings and those already placed in the same run, infusions
//! spaced from the plan's infusions placed before them. Either every event
//! is placed, or the first that cannot fit is named with its conflicts and
//! the nearest alternatives. Greedy, in the order given, and deterministic:
//! no event is moved back once placed.

use chrono::{NaiveDate, NaiveTime};
use uuid::Uuid;

use crate::protocol::EventKind;
use crate::schedule::conflict::{Conflict, ConflictCode};
use crate::schedule::hours::local_instant;
use crate::schedule::occupancy::Bookings;
use crate::schedule::search::{nearest, Search, Slot};
use crate::schedule::{
    check_prepared, local_text, time_cannot_fix, Assignment, Booking, BookingStatus, DateWindow,
    Request, ResourceKind, SiteSchedule, Spacing,
};

/// A whole plan to book for one patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    pub patient_id: Uuid,
    /// Recorded for every infusion of the plan.
    pub escort_name: Option<String>,
    pub min_spacing_days: Option<i64>,
    pub max_spacing_days: Option<i64>,
    /// Local dates of the plan's infusions already booked (not in `events`).
    pub booked_infusion_dates: Vec<NaiveDate>,
    /// In the order to book them (usually by date).
    pub events: Vec<PlanEvent>,
}

/// One event of the plan: where it would best go, and how far it may move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEvent {
    /// The id the booking will have once stored (made by the caller).
    pub booking_id: Uuid,
    pub plan_event_id: Option<Uuid>,
    pub kind: EventKind,
    pub minutes: i64,
    pub resource_kind: Option<ResourceKind>,
    pub resource_id: Option<Uuid>,
    pub clinician_id: Option<Uuid>,
    /// Local date and time in the site's zone.
    pub preferred_date: NaiveDate,
    pub preferred_time: NaiveTime,
    pub window: DateWindow,
}

/// Where one event of the plan goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub booking_id: Uuid,
    pub plan_event_id: Option<Uuid>,
    pub kind: EventKind,
    pub assignment: Assignment,
    /// False when it goes at its preferred date and time.
    pub moved: bool,
}

/// The first event that cannot be placed anywhere in its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFailure {
    /// Its position in `PlanRequest::events`.
    pub event_index: usize,
    pub booking_id: Uuid,
    pub plan_event_id: Option<Uuid>,
    /// Why it cannot go at its preferred date and time.
    pub conflicts: Vec<Conflict>,
    /// The nearest starts (up to `Search::max_results`, within
    /// `Search::days_before` / `days_after` of the preferred date) that pass
    /// every rule but the window: the window would have to widen.
    pub alternatives: Vec<Slot>,
}

/// Books every event of the plan, or names the first that cannot fit. Each
/// event goes at its preferred local date and time when that passes
/// `check`, else at the nearest start in its window (on `search`'s step,
/// not before `search.not_before`), with the earlier infusions of the run
/// counted for spacing and every placed event for capacity.
pub fn schedule_plan(
    schedule: &SiteSchedule,
    plan: &PlanRequest,
    search: &Search,
) -> Result<Vec<Placement>, PlanFailure> {
    let failure = |event_index: usize, conflicts: Vec<Conflict>| {
        let event = plan.events.get(event_index);
        PlanFailure {
            event_index,
            booking_id: event.map_or(Uuid::nil(), |e| e.booking_id),
            plan_event_id: event.and_then(|e| e.plan_event_id),
            conflicts,
            alternatives: Vec::new(),
        }
    };
    let mut problems = crate::schedule::search::validate_search(search);
    problems.extend(crate::schedule::validate::validate_site(schedule));
    if !problems.is_empty() {
        return Err(failure(0, problems));
    }
    let zone = schedule.rules.zone;
    let mut bookings = Bookings::new(schedule);
    let mut placements = Vec::new();
    let mut infusion_dates = plan.booked_infusion_dates.clone();
    for (event_index, event) in plan.events.iter().enumerate() {
        let window_days = (event.window.latest - event.window.earliest).num_days();
        if !(0..=i64::from(crate::schedule::search::MAX_SEARCH_DAYS)).contains(&window_days) {
            let message = format!(
                "{} to {}: must not end before it starts, nor span more than {} days",
                event.window.earliest,
                event.window.latest,
                crate::schedule::search::MAX_SEARCH_DAYS
            );
            return Err(failure(
                event_index,
                vec![Conflict::invalid("window", message)],
            ));
        }
        let Some(start) = local_instant(zone, event.preferred_date, event.preferred_time) else {
            return Err(failure(
                event_index,
                vec![Conflict::invalid(
                    "preferred_date",
                    "is outside the calendar the site's time zone covers",
                )],
            ));
        };
        let is_infusion = event.kind == EventKind::Infusion;
        let request = Request {
            patient_id: plan.patient_id,
            kind: event.kind,
            start,
            minutes: event.minutes,
            resource_kind: event.resource_kind,
            resource_id: event.resource_id,
            clinician_id: event.clinician_id,
            escort_name: if is_infusion {
                plan.escort_name.clone()
            } else {
                None
            },
            spacing: is_infusion.then(|| Spacing {
                other_infusion_dates: infusion_dates.clone(),
                min_spacing_days: plan.min_spacing_days,
                max_spacing_days: plan.max_spacing_days,
            }),
            window: Some(event.window),
            replaces: None,
        };
        let at_preferred = if start < search.not_before {
            Err(vec![Conflict::new(
                ConflictCode::TooEarly,
                "preferred_date",
                format!(
                    "{} is before the earliest start allowed, {}",
                    local_text(&schedule.rules, start),
                    local_text(&schedule.rules, search.not_before)
                ),
            )])
        } else {
            check_prepared(schedule, &bookings, &request)
        };
        let (assignment, moved) = match at_preferred {
            Ok(assignment) => (assignment, false),
            Err(conflicts) if time_cannot_fix(&conflicts) => {
                return Err(failure(event_index, conflicts))
            }
            Err(conflicts) => {
                let window_dates: Vec<NaiveDate> = event
                    .window
                    .earliest
                    .iter_days()
                    .take_while(|d| *d <= event.window.latest)
                    .collect();
                let in_window = nearest(
                    schedule,
                    &bookings,
                    &request,
                    &window_dates,
                    &Search {
                        max_results: 1,
                        ..*search
                    },
                );
                match in_window.first() {
                    Some(slot) => (slot.assignment, true),
                    None => {
                        let unbounded = Request {
                            window: None,
                            ..request.clone()
                        };
                        let dates = crate::schedule::search::date_range(
                            event.preferred_date,
                            search.days_before,
                            search.days_after,
                        );
                        let alternatives = nearest(schedule, &bookings, &unbounded, &dates, search);
                        return Err(PlanFailure {
                            alternatives,
                            ..failure(event_index, conflicts)
                        });
                    }
                }
            }
        };
        if is_infusion {
            if let Some(date) = crate::schedule::hours::local_date(zone, assignment.start) {
                infusion_dates.push(date);
            }
        }
        bookings.place(Booking {
            id: event.booking_id,
            patient_id: plan.patient_id,
            plan_event_id: event.plan_event_id,
            kind: event.kind,
            resource_id: assignment.resource_id,
            clinician_id: assignment.clinician_id,
            start: assignment.start,
            minutes: event.minutes,
            status: BookingStatus::Booked,
        });
        placements.push(Placement {
            booking_id: event.booking_id,
            plan_event_id: event.plan_event_id,
            kind: event.kind,
            assignment,
            moved,
        });
    }
    Ok(placements)
}
