//! Property tests over random sites, staff hours, bookings and requests in
//! the week of 2026-03-02 (which holds New York's spring change). Whatever
//! `check` accepts is verified by a brute-force checker written here
//! separately, minute by minute (every generated time is on a 5-minute
//! grid, so minutes are exact): no chair, room, patient or clinician is
//! double-booked, the nurse ratio holds, a physician is on site, the event
//! lies in the opening hours. `alternatives` and `schedule_plan` give only
//! what `check` accepts, and nothing panics on arbitrary input.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use uuid::Uuid;

use crate::protocol::EventKind;
use crate::schedule::conflict::ConflictCode;
use crate::schedule::hours::{OpeningInterval, WeeklyHours, WEEK};
use crate::schedule::search::{alternatives, Search};
use crate::schedule::span::Span;
use crate::schedule::whole_plan::{schedule_plan, PlanEvent, PlanRequest};
use crate::schedule::{
    check, Assignment, Booking, BookingStatus, DateWindow, NurseRatio, Request, Resource,
    ResourceKind, SiteRules, SiteSchedule, Spacing, StaffAvailability,
};
use crate::user::Role;

const ZONES: [Tz; 5] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::UTC,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kathmandu,
];

const KINDS: [EventKind; 6] = [
    EventKind::Infusion,
    EventKind::Infusion,
    EventKind::Therapy,
    EventKind::Integration,
    EventKind::Assessment,
    EventKind::FollowUp,
];

const MINUTES: [i64; 6] = [15, 30, 40, 52, 60, 90];

/// 5-minute slots in the week (and a day more).
const SLOTS: u32 = 8 * 24 * 12;

/// Monday 2026-03-02 00:00 in New York.
fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T05:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn slot(n: u32) -> DateTime<Utc> {
    base() + TimeDelta::minutes(i64::from(n) * 5)
}

fn chair_id(n: usize) -> Uuid {
    Uuid::from_u128(0xc0 + u128::try_from(n).unwrap())
}

fn room_id(n: usize) -> Uuid {
    Uuid::from_u128(0x70 + u128::try_from(n).unwrap())
}

fn staff_id(n: usize) -> Uuid {
    Uuid::from_u128(0x10 + u128::try_from(n).unwrap())
}

fn patient_id(n: u8) -> Uuid {
    Uuid::from_u128(0xa0 + u128::from(n))
}

fn resource_kind_for(kind: EventKind, alt: bool) -> Option<ResourceKind> {
    match kind {
        EventKind::Infusion => Some(ResourceKind::Chair),
        EventKind::Therapy | EventKind::Integration | EventKind::Assessment => {
            Some(ResourceKind::Room)
        }
        EventKind::FollowUp | EventKind::Inpatient => alt.then_some(ResourceKind::Room),
    }
}

fn any_hours() -> impl Strategy<Value = WeeklyHours> {
    // Per weekday, up to two intervals on the 5-minute grid, possibly
    // overlapping; mostly a working day, sometimes anywhere in the day.
    let slots = prop_oneof![3 => (60_u32..140, 24_u32..160), 1 => (0_u32..280, 1_u32..288)];
    let interval = slots.prop_map(|(open, len)| {
        let close = (open + len).min(287);
        OpeningInterval {
            open: time_of_slot(open),
            close: time_of_slot(close),
        }
    });
    proptest::collection::vec(proptest::collection::vec(interval, 0..3), 7).prop_map(|days| {
        let mut hours = WeeklyHours::closed();
        for (weekday, intervals) in WEEK.into_iter().zip(days) {
            hours.set(weekday, intervals);
        }
        hours
    })
}

fn time_of_slot(n: u32) -> NaiveTime {
    NaiveTime::from_num_seconds_from_midnight_opt(n * 300, 0).unwrap()
}

/// A local date of the week (0 = Monday 2026-03-02) and a 5-minute slot of
/// that day, as a real instant in `zone`.
fn local_slot(zone: Tz, day: u64, slot_of_day: u32) -> DateTime<Utc> {
    let date = NaiveDate::from_ymd_opt(2026, 3, 2)
        .unwrap()
        .checked_add_days(Days::new(day))
        .unwrap();
    crate::schedule::hours::local_instant(zone, date, time_of_slot(slot_of_day)).unwrap()
}

fn any_rules() -> impl Strategy<Value = SiteRules> {
    (
        0_usize..ZONES.len(),
        any_hours(),
        proptest::collection::btree_set(0_u64..8, 0..2),
        prop::option::weighted(0.95, 0_i64..13),
        prop::option::weighted(0.95, (1_u32..3, 1_u32..4)),
        prop::option::weighted(0.95, any::<bool>()),
    )
        .prop_map(
            |(zone, hours, closures, recovery, ratio, physician)| SiteRules {
                zone: ZONES[zone],
                hours,
                closures: closures
                    .into_iter()
                    .map(|d| {
                        NaiveDate::from_ymd_opt(2026, 3, 2)
                            .unwrap()
                            .checked_add_days(Days::new(d))
                            .unwrap()
                    })
                    .collect(),
                recovery_minutes: recovery.map(|r| r * 5),
                nurses_per_chair: ratio.map(|(nurses, chairs)| NurseRatio { nurses, chairs }),
                physician_on_site: physician,
            },
        )
}

/// Staff as (role, spans as (local day, start slot, length in slots)).
type StaffSeed = Vec<(usize, Vec<(u64, u32, u32)>)>;

fn any_staff() -> impl Strategy<Value = StaffSeed> {
    let span = (0_u64..7, 60_u32..150, 24_u32..170);
    proptest::collection::vec(
        (
            0_usize..STAFF_ROLES.len(),
            proptest::collection::vec(span, 1..5),
        ),
        0..8,
    )
}

const STAFF_ROLES: [Role; 5] = [
    Role::Nurse,
    Role::Nurse,
    Role::Physician,
    Role::Counselor,
    Role::Counselor,
];

fn staff_from(zone: Tz, seed: StaffSeed) -> Vec<StaffAvailability> {
    seed.into_iter()
        .enumerate()
        .map(|(idx, (role, spans))| StaffAvailability {
            user_id: staff_id(idx),
            role: STAFF_ROLES[role],
            on_site: spans
                .into_iter()
                .map(|(day, start, len)| {
                    let start = local_slot(zone, day, start);
                    Span {
                        start,
                        end: start + TimeDelta::minutes(i64::from(len) * 5),
                    }
                })
                .collect(),
        })
        .collect()
}

#[derive(Debug, Clone)]
struct World {
    schedule: SiteSchedule,
    request: Request,
}

fn any_world() -> impl Strategy<Value = World> {
    let booking = (
        0_u8..3,
        0_usize..KINDS.len(),
        0_usize..6,
        0_usize..9,
        (0_u64..7, 84_u32..204),
        0_usize..MINUTES.len(),
        0_u8..10,
    );
    let request = (
        0_u8..3,
        prop_oneof![2 => Just(0_usize), 3 => 0_usize..KINDS.len() + 1],
        any::<bool>(),
        prop::option::weighted(0.3, 0_usize..6),
        prop::option::weighted(0.3, 0_usize..9),
        (0_u64..7, 84_u32..204),
        0_usize..MINUTES.len(),
        prop::option::weighted(0.95, prop_oneof![3 => "[a-z]{1,4}", 1 => "[ a-z]{0,4}"]),
        prop::option::weighted(0.1, 0_usize..25),
        prop::option::weighted(
            0.3,
            (
                proptest::collection::vec(-10_i64..17, 0..3),
                prop::option::of(0_i64..8),
                prop::option::of(0_i64..10),
            ),
        ),
        prop::option::weighted(0.2, (0_u64..7, 0_u64..4)),
    );
    (
        any_rules(),
        1_usize..4,
        1_usize..3,
        (
            any_staff(),
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.8),
        ),
        proptest::collection::vec(booking, 0..25),
        request,
    )
        .prop_map(|(rules, n_chairs, n_rooms, staff, bookings, request)| {
            let zone = rules.zone;
            // Mostly a nurse and a physician on site 06:00-20:00 every day, besides the others.
            let (staff, core_nurse, core_physician) = staff;
            let mut staff = staff;
            let whole_days = |role: usize| (role, (0..7).map(|day| (day, 72, 168)).collect());
            staff.extend(core_nurse.then(|| whole_days(0)));
            staff.extend(core_physician.then(|| whole_days(2)));
            let staff = staff_from(zone, staff);
            let mut resources: Vec<Resource> = (0..n_chairs)
                .map(|n| Resource {
                    id: chair_id(n),
                    kind: ResourceKind::Chair,
                    name: format!("Chair {n}"),
                })
                .collect();
            resources.extend((0..n_rooms).map(|n| Resource {
                id: room_id(n),
                kind: ResourceKind::Room,
                name: format!("Room {n}"),
            }));
            let pick_resource = |idx: usize| resources.get(idx).map(|r| r.id);
            let pick_staff = |idx: usize| staff.get(idx).map(|s| s.user_id);
            let statuses = [
                BookingStatus::Booked,
                BookingStatus::Booked,
                BookingStatus::Booked,
                BookingStatus::Booked,
                BookingStatus::Booked,
                BookingStatus::Booked,
                BookingStatus::Attended,
                BookingStatus::Cancelled,
                BookingStatus::NoShow,
                BookingStatus::Rescheduled,
            ];
            let bookings: Vec<Booking> = bookings
                .into_iter()
                .enumerate()
                .map(
                    |(idx, (patient, kind, resource, clinician, start, minutes, status))| Booking {
                        id: Uuid::from_u128(0xb000 + u128::try_from(idx).unwrap()),
                        patient_id: patient_id(patient),
                        plan_event_id: None,
                        kind: KINDS[kind],
                        resource_id: pick_resource(resource),
                        clinician_id: pick_staff(clinician),
                        start: local_slot(zone, start.0, start.1),
                        minutes: MINUTES[minutes],
                        status: statuses[usize::from(status)],
                    },
                )
                .collect();
            let (
                patient,
                kind,
                alt,
                resource,
                clinician,
                start,
                minutes,
                escort,
                replaces,
                spacing,
                window,
            ) = request;
            let monday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
            // One index more than KINDS: an inpatient day.
            let kind = KINDS.get(kind).copied().unwrap_or(EventKind::Inpatient);
            let request = Request {
                patient_id: patient_id(patient),
                kind,
                start: local_slot(zone, start.0, start.1),
                minutes: if kind == EventKind::Inpatient {
                    24 * 60
                } else {
                    MINUTES[minutes]
                },
                resource_kind: resource_kind_for(kind, alt),
                // Mostly a chair or room of the kind needed, sometimes any.
                resource_id: resource.and_then(|idx| {
                    let fitting: Vec<Uuid> = resources
                        .iter()
                        .filter(|r| Some(r.kind) == resource_kind_for(kind, alt))
                        .map(|r| r.id)
                        .collect();
                    match idx {
                        0 => pick_resource(idx + 3),
                        _ => fitting.get(idx % fitting.len().max(1)).copied(),
                    }
                }),
                // Infusions and inpatient days name no clinician (but sometimes do).
                clinician_id: clinician
                    .filter(|idx| {
                        *idx == 0 || !matches!(kind, EventKind::Infusion | EventKind::Inpatient)
                    })
                    .and_then(pick_staff),
                escort_name: escort,
                spacing: spacing.filter(|_| kind == EventKind::Infusion).map(
                    |(days, min, extra)| Spacing {
                        other_infusion_dates: days
                            .into_iter()
                            .map(|d| monday + TimeDelta::days(d))
                            .collect(),
                        min_spacing_days: min,
                        max_spacing_days: extra.map(|extra| min.unwrap_or(0) + extra),
                    },
                ),
                window: window.map(|(first, width)| DateWindow {
                    earliest: monday + TimeDelta::days(i64::try_from(first).unwrap()),
                    latest: monday + TimeDelta::days(i64::try_from(first + width).unwrap()),
                }),
                replaces: replaces.and_then(|idx| bookings.get(idx).map(|b| b.id)),
            };
            World {
                schedule: SiteSchedule {
                    rules,
                    resources,
                    staff,
                    bookings,
                },
                request,
            }
        })
}

// ---- The brute-force checker: minute by minute, sharing nothing with the module but its types. ----

fn minutes_between(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        out.push(at);
        at += TimeDelta::minutes(1);
    }
    out
}

fn counts(booking: &Booking, replaces: Option<Uuid>) -> bool {
    matches!(
        booking.status,
        BookingStatus::Booked | BookingStatus::Attended
    ) && Some(booking.id) != replaces
}

/// Whether a booking holds its chair, room or patient at the minute `at`.
fn holds_at(booking: &Booking, recovery: i64, at: DateTime<Utc>) -> bool {
    let extra = if booking.kind == EventKind::Infusion {
        recovery
    } else {
        0
    };
    booking.start <= at && at < booking.start + TimeDelta::minutes(booking.minutes + extra)
}

fn on_site(spans: &[Span], at: DateTime<Utc>) -> bool {
    spans.iter().any(|s| s.start <= at && at < s.end)
}

fn local(zone: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&zone).naive_local()
}

/// The first minute (scanning real time) at which the site's clock shows
/// `date` `time` or later.
fn first_minute_showing(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let wanted = date.and_time(time);
    let mut at = wanted.and_utc() - TimeDelta::hours(16);
    while local(zone, at) < wanted {
        at += TimeDelta::minutes(1);
    }
    at
}

/// Asserts everything an accepted booking promises.
fn verify_accepted(schedule: &SiteSchedule, request: &Request, assignment: &Assignment) {
    let rules = &schedule.rules;
    let is_infusion = request.kind == EventKind::Infusion;
    let recovery = if is_infusion {
        rules
            .recovery_minutes
            .expect("an infusion is accepted only with a recovery time")
    } else {
        0
    };
    assert_eq!(assignment.start, request.start);
    assert_eq!(
        assignment.end,
        request.start + TimeDelta::minutes(request.minutes)
    );
    assert_eq!(
        assignment.occupied_until,
        assignment.end + TimeDelta::minutes(recovery)
    );
    let held = minutes_between(assignment.start, assignment.occupied_until);
    let own = minutes_between(assignment.start, assignment.end);
    let recovery_of_others = rules.recovery_minutes.unwrap_or(0);
    let others: Vec<&Booking> = schedule
        .bookings
        .iter()
        .filter(|b| counts(b, request.replaces))
        .collect();

    // The chair or room.
    match (request.resource_kind, assignment.resource_id) {
        (None, None) => {}
        (Some(kind), Some(resource_id)) => {
            let resource = schedule
                .resources
                .iter()
                .find(|r| r.id == resource_id)
                .unwrap();
            assert_eq!(resource.kind, kind);
            if let Some(asked) = request.resource_id {
                assert_eq!(asked, resource_id);
            }
            for at in &held {
                for b in others.iter().filter(|b| b.resource_id == Some(resource_id)) {
                    assert!(
                        !holds_at(b, recovery_of_others, *at),
                        "{resource_id} double-booked at {at} with {b:?}"
                    );
                }
            }
        }
        other => panic!("resource kind and assignment disagree: {other:?}"),
    }

    // The patient (inpatient days block only inpatient days).
    let inpatient = request.kind == EventKind::Inpatient;
    for at in &held {
        for b in others.iter().filter(|b| {
            b.patient_id == request.patient_id && (b.kind == EventKind::Inpatient) == inpatient
        }) {
            assert!(
                !holds_at(b, recovery_of_others, *at),
                "patient double-booked at {at} with {b:?}"
            );
        }
    }

    if is_infusion {
        assert!(request
            .escort_name
            .as_deref()
            .is_some_and(|e| !e.trim().is_empty()));
        // Nurses: on site × chairs ≥ running × nurses, at every minute of the occupied span.
        let ratio = rules
            .nurses_per_chair
            .expect("an infusion is accepted only with a nurse ratio");
        let chairs: BTreeSet<Uuid> = schedule
            .resources
            .iter()
            .filter(|r| r.kind == ResourceKind::Chair)
            .map(|r| r.id)
            .collect();
        for at in &held {
            let running = 1 + others
                .iter()
                .filter(|b| {
                    b.kind == EventKind::Infusion
                        && b.resource_id.is_some_and(|r| chairs.contains(&r))
                })
                .filter(|b| holds_at(b, recovery, *at))
                .count();
            let nurses = schedule
                .staff
                .iter()
                .filter(|s| s.role == Role::Nurse && on_site(&s.on_site, *at))
                .count();
            assert!(
                u64::try_from(nurses).unwrap() * u64::from(ratio.chairs)
                    >= u64::try_from(running).unwrap() * u64::from(ratio.nurses),
                "{running} chairs and {nurses} nurses at {at}"
            );
        }
        // A physician through the infusion itself.
        match rules.physician_on_site {
            Some(true) => {
                for at in &own {
                    assert!(schedule
                        .staff
                        .iter()
                        .any(|s| s.role == Role::Physician && on_site(&s.on_site, *at)));
                }
            }
            Some(false) => {}
            None => panic!("an infusion is accepted only when the physician rule is set"),
        }
    }

    // The clinician: on site throughout, no other session.
    if let Some(clinician) = assignment.clinician_id {
        let staff = schedule
            .staff
            .iter()
            .find(|s| s.user_id == clinician)
            .unwrap();
        for at in &own {
            assert!(on_site(&staff.on_site, *at), "{clinician} away at {at}");
            for b in others.iter().filter(|b| b.clinician_id == Some(clinician)) {
                assert!(!holds_at(b, 0, *at), "{clinician} double-booked at {at}");
            }
        }
    } else {
        assert!(!matches!(
            request.kind,
            EventKind::Therapy | EventKind::Integration
        ));
    }

    // The date window and the spacing, by calendar days.
    let date = local(rules.zone, assignment.start).date();
    if let Some(window) = request.window {
        assert!(window.earliest <= date && date <= window.latest);
    }
    if let Some(spacing) = &request.spacing {
        for other in &spacing.other_infusion_dates {
            let gap = (date - *other).num_days().abs();
            assert!(
                spacing.min_spacing_days.is_none_or(|min| gap >= min),
                "{date} and {other}"
            );
        }
        // The maximum: to the nearest other infusion on or before the date, and on or after it.
        let others = &spacing.other_infusion_dates;
        let before = others.iter().filter(|d| **d <= date).max();
        let after = others.iter().filter(|d| **d >= date).min();
        for neighbour in [before, after].into_iter().flatten() {
            let gap = (date - *neighbour).num_days().abs();
            assert!(
                spacing.max_spacing_days.is_none_or(|max| gap <= max),
                "{date} and {neighbour}"
            );
        }
    }

    // Opening hours: every minute after an opening and before its closing, on
    // the local date the event starts, which is not a closure.
    if !inpatient {
        let zone = rules.zone;
        let date = local(zone, assignment.start).date();
        assert!(!rules.closures.contains(&date));
        use chrono::Datelike;
        let intervals: Vec<(DateTime<Utc>, DateTime<Utc>)> = rules
            .hours
            .on(date.weekday())
            .iter()
            .map(|i| {
                (
                    first_minute_showing(zone, date, i.open),
                    first_minute_showing(zone, date, i.close),
                )
            })
            .collect();
        for at in &held {
            assert!(
                intervals
                    .iter()
                    .any(|(open, close)| open <= at && at < close),
                "{at} is outside the hours of {date}"
            );
        }
    }
}

fn search(not_before: DateTime<Utc>) -> Search {
    Search {
        step_minutes: 30,
        days_before: 1,
        days_after: 1,
        max_results: 3,
        not_before,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn schedule_what_check_accepts_holds_minute_by_minute(world in any_world()) {
        let result = check(&world.schedule, &world.request);
        prop_assert_eq!(&result, &check(&world.schedule, &world.request));
        if let Ok(assignment) = result {
            verify_accepted(&world.schedule, &world.request, &assignment);
            // The same place at the same time is then taken for anyone else.
            if let Some(resource_id) = assignment.resource_id {
                let mut taken = world.schedule.clone();
                taken.bookings.push(Booking {
                    id: Uuid::from_u128(0xfeed),
                    patient_id: world.request.patient_id,
                    plan_event_id: None,
                    kind: world.request.kind,
                    resource_id: Some(resource_id),
                    clinician_id: assignment.clinician_id,
                    start: assignment.start,
                    minutes: world.request.minutes,
                    status: BookingStatus::Booked,
                });
                let again = Request { patient_id: Uuid::from_u128(0xbeef), resource_id: Some(resource_id), replaces: None, ..world.request.clone() };
                let conflicts = check(&taken, &again).unwrap_err();
                prop_assert!(conflicts.iter().any(|c| matches!(c.code, ConflictCode::ChairBusy | ConflictCode::RoomBusy)), "{:?}", conflicts);
            }
        }
    }

    #[test]
    fn schedule_alternatives_pass_check_nearest_first(world in any_world(), not_before in 0_u32..SLOTS) {
        let search = search(slot(not_before));
        if let Ok(slots) = alternatives(&world.schedule, &world.request, &search) {
            prop_assert!(slots.len() <= search.max_results);
            for slot in &slots {
                let moved = Request { start: slot.assignment.start, ..world.request.clone() };
                prop_assert_eq!(check(&world.schedule, &moved), Ok(slot.assignment));
                prop_assert!(slot.assignment.start >= search.not_before);
                prop_assert_eq!(slot.distance_minutes, (slot.assignment.start - world.request.start).num_minutes().abs());
            }
            for pair in slots.windows(2) {
                let key = |s: &crate::schedule::search::Slot| (s.distance_minutes, s.assignment.start);
                prop_assert!(key(&pair[0]) < key(&pair[1]));
            }
        }
    }

    #[test]
    fn schedule_a_placed_plan_passes_check_event_by_event(
        world in any_world(),
        events in proptest::collection::vec((0_usize..KINDS.len(), 0_u64..5, 0_u32..288, 0_u64..3, any::<bool>()), 1..5),
        spacing in (prop::option::of(0_i64..4), prop::option::of(4_i64..9)),
    ) {
        let zone = world.schedule.rules.zone;
        let monday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let plan = PlanRequest {
            patient_id: world.request.patient_id,
            escort_name: Some("Escort".into()),
            min_spacing_days: spacing.0,
            max_spacing_days: spacing.1,
            booked_infusion_dates: Vec::new(),
            events: events.iter().enumerate().map(|(idx, (kind, day, clock, width, alt))| {
                let kind = KINDS[*kind];
                let preferred = monday.checked_add_days(Days::new(*day)).unwrap();
                PlanEvent {
                    booking_id: Uuid::from_u128(0xd000 + u128::try_from(idx).unwrap()),
                    plan_event_id: None,
                    kind,
                    minutes: 40,
                    resource_kind: resource_kind_for(kind, *alt),
                    resource_id: None,
                    clinician_id: None,
                    preferred_date: preferred,
                    preferred_time: NaiveTime::from_num_seconds_from_midnight_opt(clock * 300, 0).unwrap(),
                    window: DateWindow { earliest: preferred, latest: preferred.checked_add_days(Days::new(*width)).unwrap() },
                }
            }).collect(),
        };
        match schedule_plan(&world.schedule, &plan, &search(base())) {
            Ok(placements) => {
                prop_assert_eq!(placements.len(), plan.events.len());
                let mut schedule = world.schedule.clone();
                let mut infusion_dates = Vec::new();
                for (event, placement) in plan.events.iter().zip(&placements) {
                    let is_infusion = event.kind == EventKind::Infusion;
                    let request = Request {
                        patient_id: plan.patient_id,
                        kind: event.kind,
                        start: placement.assignment.start,
                        minutes: event.minutes,
                        resource_kind: event.resource_kind,
                        resource_id: None,
                        clinician_id: None,
                        escort_name: is_infusion.then(|| "Escort".to_string()),
                        spacing: is_infusion.then(|| Spacing { other_infusion_dates: infusion_dates.clone(), min_spacing_days: plan.min_spacing_days, max_spacing_days: plan.max_spacing_days }),
                        window: Some(event.window),
                        replaces: None,
                    };
                    let accepted = check(&schedule, &request);
                    prop_assert_eq!(&accepted, &Ok(placement.assignment));
                    verify_accepted(&schedule, &request, &placement.assignment);
                    if is_infusion {
                        infusion_dates.push(local(zone, placement.assignment.start).date());
                    }
                    schedule.bookings.push(Booking {
                        id: placement.booking_id,
                        patient_id: plan.patient_id,
                        plan_event_id: None,
                        kind: event.kind,
                        resource_id: placement.assignment.resource_id,
                        clinician_id: placement.assignment.clinician_id,
                        start: placement.assignment.start,
                        minutes: event.minutes,
                        status: BookingStatus::Booked,
                    });
                }
            }
            Err(failure) => {
                prop_assert!(failure.event_index < plan.events.len());
                prop_assert!(!failure.conflicts.is_empty());
                prop_assert_eq!(failure.booking_id, plan.events[failure.event_index].booking_id);
            }
        }
    }
}

// ---- Arbitrary input: nothing panics. ----

const ODD_ZONES: [Tz; 8] = [
    chrono_tz::Pacific::Apia,
    chrono_tz::Pacific::Kiritimati,
    chrono_tz::America::Santiago,
    chrono_tz::Antarctica::Troll,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Gaza,
    chrono_tz::America::New_York,
    chrono_tz::Etc::GMTPlus12,
];

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (0_u32..SLOTS).prop_map(slot),
        (-8_000_000_000_000_i64..8_000_000_000_000)
            .prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)),
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::MAX_UTC),
    ]
}

fn any_time() -> impl Strategy<Value = NaiveTime> {
    (
        0_u32..86_400,
        prop_oneof![Just(0_u32), 0_u32..2_000_000_000],
    )
        .prop_map(|(secs, nanos)| {
            NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).unwrap_or(NaiveTime::MIN)
        })
}

fn any_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        (0_u64..10).prop_map(|d| NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .checked_add_days(Days::new(d))
            .unwrap()),
        any::<i32>()
            .prop_map(|days| NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MIN)),
        Just(NaiveDate::MIN),
        Just(NaiveDate::MAX),
    ]
}

fn any_i64() -> impl Strategy<Value = i64> {
    prop_oneof![-100_i64..2000, any::<i64>(), Just(i64::MIN), Just(i64::MAX)]
}

#[derive(Debug, Clone)]
struct Wild {
    schedule: SiteSchedule,
    request: Request,
    search: Search,
    plan: PlanRequest,
}

fn any_wild() -> impl Strategy<Value = Wild> {
    let rules = (
        0_usize..ODD_ZONES.len(),
        proptest::collection::vec(proptest::collection::vec((any_time(), any_time()), 0..3), 7),
        proptest::collection::btree_set(any_date(), 0..3),
        prop::option::of(any_i64()),
        prop::option::of((any::<u32>(), any::<u32>())),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(zone, days, closures, recovery, ratio, physician)| {
            let mut hours = WeeklyHours::closed();
            for (weekday, intervals) in WEEK.into_iter().zip(days) {
                hours.set(
                    weekday,
                    intervals
                        .into_iter()
                        .map(|(open, close)| OpeningInterval { open, close })
                        .collect(),
                );
            }
            SiteRules {
                zone: ODD_ZONES[zone],
                hours,
                closures,
                recovery_minutes: recovery,
                nurses_per_chair: ratio.map(|(nurses, chairs)| NurseRatio { nurses, chairs }),
                physician_on_site: physician,
            }
        });
    let staff = proptest::collection::vec(
        (
            0_usize..4,
            proptest::collection::vec((any_instant(), any_instant()), 0..3),
        ),
        0..4,
    );
    let bookings = proptest::collection::vec(
        (
            0_u8..3,
            0_usize..KINDS.len(),
            0_usize..5,
            any_instant(),
            any_i64(),
            any::<bool>(),
        ),
        0..8,
    );
    let request = (
        0_usize..KINDS.len() + 1,
        any::<bool>(),
        any_instant(),
        any_i64(),
        prop::option::of(".{0,3}"),
        prop::option::of((
            proptest::collection::vec(any_date(), 0..3),
            prop::option::of(any_i64()),
            prop::option::of(any_i64()),
        )),
        prop::option::of((any_date(), any_date())),
        prop::option::of(0_usize..5),
    );
    let search = (
        prop_oneof![Just(30_i64), any_i64()],
        0_u32..3,
        0_u32..3,
        0_usize..4,
        any_instant(),
    );
    let plan = proptest::collection::vec(
        (
            0_usize..KINDS.len() + 1,
            any_i64(),
            any_date(),
            any_time(),
            any_date(),
            any_date(),
        ),
        0..3,
    );
    (rules, staff, bookings, request, search, plan).prop_map(
        |(rules, staff, bookings, request, search, plan)| {
            let roles = [
                Role::Nurse,
                Role::Physician,
                Role::Counselor,
                Role::Frontdesk,
            ];
            let resources = vec![
                Resource {
                    id: chair_id(0),
                    kind: ResourceKind::Chair,
                    name: "Chair".into(),
                },
                Resource {
                    id: room_id(0),
                    kind: ResourceKind::Room,
                    name: "Room".into(),
                },
            ];
            let staff: Vec<StaffAvailability> = staff
                .into_iter()
                .enumerate()
                .map(|(idx, (role, spans))| StaffAvailability {
                    user_id: staff_id(idx),
                    role: roles[role],
                    on_site: spans
                        .into_iter()
                        .map(|(start, end)| Span { start, end })
                        .collect(),
                })
                .collect();
            let ids = [
                Some(chair_id(0)),
                Some(room_id(0)),
                Some(staff_id(0)),
                Some(Uuid::nil()),
                None,
            ];
            let bookings: Vec<Booking> = bookings
                .into_iter()
                .enumerate()
                .map(
                    |(idx, (patient, kind, resource, start, minutes, clinician))| Booking {
                        id: Uuid::from_u128(0xb000 + u128::try_from(idx).unwrap()),
                        patient_id: patient_id(patient),
                        plan_event_id: None,
                        kind: KINDS[kind],
                        resource_id: ids[resource],
                        clinician_id: clinician.then(|| staff_id(0)),
                        start,
                        minutes,
                        status: BookingStatus::Booked,
                    },
                )
                .collect();
            let (kind, alt, start, minutes, escort, spacing, window, resource) = request;
            let kind = KINDS.get(kind).copied().unwrap_or(EventKind::Inpatient);
            let request = Request {
                patient_id: patient_id(0),
                kind,
                start,
                minutes,
                resource_kind: resource_kind_for(kind, alt),
                resource_id: resource.and_then(|idx| ids[idx]),
                clinician_id: resource.and_then(|idx| ids[4 - idx]),
                escort_name: escort,
                spacing: spacing.map(|(dates, min, max)| Spacing {
                    other_infusion_dates: dates,
                    min_spacing_days: min,
                    max_spacing_days: max,
                }),
                window: window.map(|(earliest, latest)| DateWindow { earliest, latest }),
                replaces: None,
            };
            let (step_minutes, days_before, days_after, max_results, not_before) = search;
            let search = Search {
                step_minutes: if step_minutes > 0 {
                    step_minutes.max(15)
                } else {
                    step_minutes
                },
                days_before,
                days_after,
                max_results,
                not_before,
            };
            let plan = PlanRequest {
                patient_id: patient_id(1),
                escort_name: Some("E".into()),
                min_spacing_days: Some(7),
                max_spacing_days: None,
                booked_infusion_dates: vec![NaiveDate::MIN, NaiveDate::MAX],
                events: plan
                    .into_iter()
                    .enumerate()
                    .map(
                        |(
                            idx,
                            (kind, minutes, preferred_date, preferred_time, earliest, latest),
                        )| {
                            let kind = KINDS.get(kind).copied().unwrap_or(EventKind::Inpatient);
                            PlanEvent {
                                booking_id: Uuid::from_u128(0xd000 + u128::try_from(idx).unwrap()),
                                plan_event_id: None,
                                kind,
                                minutes,
                                resource_kind: resource_kind_for(kind, idx == 0),
                                resource_id: None,
                                clinician_id: None,
                                preferred_date,
                                preferred_time,
                                window: DateWindow { earliest, latest },
                            }
                        },
                    )
                    .collect(),
            };
            Wild {
                schedule: SiteSchedule {
                    rules,
                    resources,
                    staff,
                    bookings,
                },
                request,
                search,
                plan,
            }
        },
    )
}

proptest! {
    #[test]
    fn schedule_nothing_panics_on_arbitrary_input(wild in any_wild()) {
        let _ = check(&wild.schedule, &wild.request);
        let _ = alternatives(&wild.schedule, &wild.request, &wild.search);
        let _ = schedule_plan(&wild.schedule, &wild.plan, &wild.search);
        for date in [NaiveDate::MIN, NaiveDate::MAX] {
            let _ = crate::schedule::hours::local_instant(wild.schedule.rules.zone, date, NaiveTime::MIN);
        }
    }
}
