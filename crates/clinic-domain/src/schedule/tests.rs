//! Each booking rule at its edges (times written by hand in New York local
//! time), daylight-saving days in New York, unset settings, invalid input,
//! the alternatives search and whole-plan scheduling.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use uuid::Uuid;

use crate::protocol::EventKind;
use crate::schedule::conflict::{Conflict, ConflictCode};
use crate::schedule::hours::{local_instant, OpeningInterval, WeeklyHours, WEEK};
use crate::schedule::search::{alternatives, Search};
use crate::schedule::span::Span;
use crate::schedule::whole_plan::{schedule_plan, PlanEvent, PlanRequest};
use crate::schedule::{
    check, Assignment, Booking, BookingStatus, DateWindow, NurseRatio, Request, Resource,
    ResourceKind, SiteRules, SiteSchedule, Spacing, StaffAvailability,
};
use crate::user::Role;

const NY: chrono_tz::Tz = chrono_tz::America::New_York;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const CHAIR_1: u128 = 0xc1;
const CHAIR_2: u128 = 0xc2;
const CHAIR_3: u128 = 0xc3;
const ROOM_1: u128 = 0x71;
const ROOM_2: u128 = 0x72;
const PATIENT: u128 = 0xa1;
const OTHER_PATIENT: u128 = 0xa2;
const THIRD_PATIENT: u128 = 0xa3;
const NURSE_1: u128 = 0x01;
const NURSE_2: u128 = 0x02;
const PHYSICIAN: u128 = 0x0d;
const PHYSICIAN_2: u128 = 0x0e;
const COUNSELOR_1: u128 = 0x0c;
const COUNSELOR_2: u128 = 0x0f;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn time(text: &str) -> NaiveTime {
    NaiveTime::parse_from_str(text, "%H:%M").unwrap()
}

/// A New York wall-clock time as a real instant.
fn at(day: &str, clock: &str) -> DateTime<Utc> {
    local_instant(NY, date(day), time(clock)).unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn hours(days: &[Weekday], open: &str, close: &str) -> WeeklyHours {
    let mut hours = WeeklyHours::closed();
    for day in days {
        hours.set(
            *day,
            vec![OpeningInterval {
                open: time(open),
                close: time(close),
            }],
        );
    }
    hours
}

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

/// All of 2026, so staff are on site whenever a test does not say otherwise.
fn all_year() -> Vec<Span> {
    vec![Span {
        start: utc("2026-01-01T00:00:00Z"),
        end: utc("2027-01-01T00:00:00Z"),
    }]
}

fn staff(user: u128, role: Role, on_site: Vec<Span>) -> StaffAvailability {
    StaffAvailability {
        user_id: id(user),
        role,
        on_site,
    }
}

/// New York, Monday to Friday 08:00–17:00, 60 minutes' recovery, one nurse
/// per two chairs, a physician on site; three chairs and two rooms; one
/// nurse, one physician and two counselors on site all year.
fn site() -> SiteSchedule {
    SiteSchedule {
        rules: SiteRules {
            zone: NY,
            hours: hours(&WEEKDAYS, "08:00", "17:00"),
            closures: BTreeSet::from([date("2026-12-25")]),
            recovery_minutes: Some(60),
            nurses_per_chair: Some(NurseRatio {
                nurses: 1,
                chairs: 2,
            }),
            physician_on_site: Some(true),
        },
        resources: vec![
            Resource {
                id: id(CHAIR_1),
                kind: ResourceKind::Chair,
                name: "Chair 1".into(),
            },
            Resource {
                id: id(CHAIR_2),
                kind: ResourceKind::Chair,
                name: "Chair 2".into(),
            },
            Resource {
                id: id(CHAIR_3),
                kind: ResourceKind::Chair,
                name: "Chair 3".into(),
            },
            Resource {
                id: id(ROOM_1),
                kind: ResourceKind::Room,
                name: "Room A".into(),
            },
            Resource {
                id: id(ROOM_2),
                kind: ResourceKind::Room,
                name: "Room B".into(),
            },
        ],
        staff: vec![
            staff(NURSE_1, Role::Nurse, all_year()),
            staff(PHYSICIAN, Role::Physician, all_year()),
            staff(COUNSELOR_1, Role::Counselor, all_year()),
            staff(COUNSELOR_2, Role::Counselor, all_year()),
        ],
        bookings: Vec::new(),
    }
}

fn infusion(start: DateTime<Utc>) -> Request {
    Request {
        patient_id: id(PATIENT),
        kind: EventKind::Infusion,
        start,
        minutes: 40,
        resource_kind: Some(ResourceKind::Chair),
        resource_id: None,
        clinician_id: None,
        escort_name: Some("Responsible Adult".into()),
        spacing: None,
        window: None,
        replaces: None,
    }
}

fn therapy(start: DateTime<Utc>) -> Request {
    Request {
        kind: EventKind::Therapy,
        minutes: 60,
        resource_kind: Some(ResourceKind::Room),
        escort_name: None,
        ..infusion(start)
    }
}

fn on(request: Request, resource: u128) -> Request {
    Request {
        resource_id: Some(id(resource)),
        ..request
    }
}

fn booking(
    booking_id: u128,
    patient: u128,
    kind: EventKind,
    resource: Option<u128>,
    start: DateTime<Utc>,
    minutes: i64,
) -> Booking {
    Booking {
        id: id(booking_id),
        patient_id: id(patient),
        plan_event_id: None,
        kind,
        resource_id: resource.map(id),
        clinician_id: None,
        start,
        minutes,
        status: BookingStatus::Booked,
    }
}

fn with_bookings(bookings: Vec<Booking>) -> SiteSchedule {
    SiteSchedule { bookings, ..site() }
}

fn codes(result: &Result<Assignment, Vec<Conflict>>) -> Vec<&'static str> {
    match result {
        Ok(_) => Vec::new(),
        Err(conflicts) => conflicts.iter().map(|c| c.code.as_str()).collect(),
    }
}

/// Checks the request and compares the conflict codes (empty: accepted).
#[track_caller]
fn checked(
    schedule: &SiteSchedule,
    request: &Request,
    expect: &[&str],
) -> Result<Assignment, Vec<Conflict>> {
    let result = check(schedule, request);
    assert_eq!(codes(&result), expect, "{result:#?}");
    result
}

#[track_caller]
fn check_codes(schedule: &SiteSchedule, request: &Request, expect: &[&str]) {
    checked(schedule, request, expect).ok();
}

#[track_caller]
fn only_conflict(result: Result<Assignment, Vec<Conflict>>) -> Conflict {
    let mut conflicts = result.unwrap_err();
    assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
    conflicts.remove(0)
}

// Monday 2026-03-09 (New York is on EDT from 2026-03-08).
const MON: &str = "2026-03-09";

#[test]
fn an_accepted_infusion_gets_a_chair_and_holds_it_through_recovery() {
    let assignment = checked(&site(), &infusion(at(MON, "09:00")), &[]).unwrap();
    assert_eq!(
        assignment,
        Assignment {
            start: utc("2026-03-09T13:00:00Z"),
            end: utc("2026-03-09T13:40:00Z"),
            occupied_until: utc("2026-03-09T14:40:00Z"),
            resource_id: Some(id(CHAIR_1)),
            clinician_id: None,
        }
    );
}

#[test]
fn a_chair_is_held_through_recovery_and_free_back_to_back() {
    // Infusion 09:00-09:40, recovery to 10:40.
    let schedule = with_bookings(vec![booking(
        1,
        OTHER_PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:00"),
        40,
    )]);
    check_codes(&schedule, &on(infusion(at(MON, "10:40")), CHAIR_1), &[]);
    let busy = only_conflict(checked(
        &schedule,
        &on(infusion(at(MON, "10:39")), CHAIR_1),
        &["chair_busy"],
    ));
    assert_eq!(busy.field, "resource_id");
    assert!(
        busy.message.contains(&id(1).to_string()),
        "{}",
        busy.message
    );
    assert!(
        busy.message.contains("2026-03-09 09:00 EDT to 10:40 EDT"),
        "{}",
        busy.message
    );
    // Inside the recovery, after the infusion itself ended.
    check_codes(
        &schedule,
        &on(infusion(at(MON, "09:45")), CHAIR_1),
        &["chair_busy"],
    );
    // 08:00 + 40 + 60 minutes runs to 09:40, into the other infusion.
    check_codes(
        &schedule,
        &on(infusion(at(MON, "08:00")), CHAIR_1),
        &["chair_busy"],
    );
    // A new booking whose recovery ends as the existing one starts.
    let later = with_bookings(vec![booking(
        1,
        OTHER_PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:40"),
        40,
    )]);
    check_codes(&later, &on(infusion(at(MON, "08:00")), CHAIR_1), &[]);
    check_codes(
        &later,
        &on(infusion(at(MON, "08:01")), CHAIR_1),
        &["chair_busy"],
    );
}

#[test]
fn cancelled_and_no_show_bookings_and_the_one_rescheduled_hold_nothing() {
    let mut cancelled = booking(
        1,
        OTHER_PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:00"),
        40,
    );
    cancelled.status = BookingStatus::Cancelled;
    let mut no_show = booking(
        2,
        OTHER_PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:00"),
        40,
    );
    no_show.status = BookingStatus::NoShow;
    check_codes(
        &with_bookings(vec![cancelled, no_show]),
        &on(infusion(at(MON, "09:00")), CHAIR_1),
        &[],
    );
    let own = booking(
        3,
        PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:00"),
        40,
    );
    let schedule = with_bookings(vec![own]);
    check_codes(
        &schedule,
        &on(infusion(at(MON, "09:30")), CHAIR_1),
        &["chair_busy", "patient_double_booked"],
    );
    check_codes(
        &schedule,
        &Request {
            replaces: Some(id(3)),
            ..on(infusion(at(MON, "09:30")), CHAIR_1)
        },
        &[],
    );
}

#[test]
fn without_a_chair_asked_for_the_first_free_one_in_order_is_picked() {
    let busy = |n: u128, chair: u128| {
        booking(
            n,
            OTHER_PATIENT,
            EventKind::Infusion,
            Some(chair),
            at(MON, "09:00"),
            40,
        )
    };
    let mut schedule = with_bookings(vec![busy(1, CHAIR_1)]);
    schedule.staff.push(staff(NURSE_2, Role::Nurse, all_year()));
    assert_eq!(
        check(&schedule, &infusion(at(MON, "09:00")))
            .unwrap()
            .resource_id,
        Some(id(CHAIR_2))
    );
    schedule.bookings.push(busy(2, CHAIR_2));
    assert_eq!(
        check(&schedule, &infusion(at(MON, "09:00")))
            .unwrap()
            .resource_id,
        Some(id(CHAIR_3))
    );
    schedule.bookings.push(Booking {
        patient_id: id(THIRD_PATIENT),
        ..busy(3, CHAIR_3)
    });
    let conflict = only_conflict(checked(
        &schedule,
        &infusion(at(MON, "09:00")),
        &["no_free_resource"],
    ));
    assert!(
        conflict.message.contains("no chair is free"),
        "{}",
        conflict.message
    );
    // A room for therapy is picked the same way.
    let room_busy = with_bookings(vec![booking(
        4,
        OTHER_PATIENT,
        EventKind::Therapy,
        Some(ROOM_1),
        at(MON, "10:00"),
        60,
    )]);
    assert_eq!(
        check(&room_busy, &therapy(at(MON, "10:30")))
            .unwrap()
            .resource_id,
        Some(id(ROOM_2))
    );
    check_codes(
        &room_busy,
        &on(therapy(at(MON, "10:30")), ROOM_1),
        &["room_busy"],
    );
    check_codes(&room_busy, &on(therapy(at(MON, "11:00")), ROOM_1), &[]);
}

#[test]
fn the_event_and_its_recovery_lie_within_opening_hours() {
    // 40 minutes + 60 recovery from 15:20 ends at 17:00 sharp.
    check_codes(&site(), &infusion(at(MON, "15:20")), &[]);
    let late = only_conflict(checked(
        &site(),
        &infusion(at(MON, "15:21")),
        &["outside_hours"],
    ));
    assert_eq!(late.field, "start");
    assert!(
        late.message.contains("2026-03-09 15:21 EDT to 17:01 EDT")
            && late.message.contains("08:00–17:00"),
        "{}",
        late.message
    );
    check_codes(&site(), &infusion(at(MON, "07:59")), &["outside_hours"]);
    check_codes(&site(), &infusion(at(MON, "08:00")), &[]);
    // A therapy session has no recovery: 16:00-17:00 fits.
    check_codes(&site(), &therapy(at(MON, "16:00")), &[]);
    check_codes(&site(), &therapy(at(MON, "16:01")), &["outside_hours"]);
    let saturday = only_conflict(checked(
        &site(),
        &therapy(at("2026-03-14", "10:00")),
        &["outside_hours"],
    ));
    assert!(
        saturday
            .message
            .contains("saturday, when the site does not open"),
        "{}",
        saturday.message
    );
}

#[test]
fn an_event_must_fit_one_interval_not_straddle_a_break() {
    let mut schedule = site();
    schedule.rules.hours.set(
        Weekday::Mon,
        vec![
            OpeningInterval {
                open: time("13:00"),
                close: time("17:00"),
            },
            OpeningInterval {
                open: time("08:00"),
                close: time("12:00"),
            },
        ],
    );
    check_codes(&schedule, &therapy(at(MON, "11:00")), &[]);
    check_codes(&schedule, &therapy(at(MON, "11:30")), &["outside_hours"]);
    check_codes(&schedule, &therapy(at(MON, "13:00")), &[]);
    // Intervals that meet are one.
    schedule.rules.hours.set(
        Weekday::Mon,
        vec![
            OpeningInterval {
                open: time("08:00"),
                close: time("12:00"),
            },
            OpeningInterval {
                open: time("12:00"),
                close: time("17:00"),
            },
        ],
    );
    check_codes(&schedule, &therapy(at(MON, "11:30")), &[]);
}

#[test]
fn nothing_is_booked_on_a_closure_date() {
    let closed = only_conflict(checked(
        &site(),
        &therapy(at("2026-12-25", "10:00")),
        &["closed"],
    ));
    assert!(closed.message.contains("2026-12-25"), "{}", closed.message);
    check_codes(&site(), &therapy(at("2026-12-24", "10:00")), &[]);
}

#[test]
fn a_third_running_chair_needs_a_second_nurse_from_the_instant_it_starts() {
    // Two infusions on chairs 1 and 2, 09:00-09:40 with recovery to 10:40; one nurse per two chairs, one nurse on site.
    let two_running = vec![
        booking(
            1,
            OTHER_PATIENT,
            EventKind::Infusion,
            Some(CHAIR_1),
            at(MON, "09:00"),
            40,
        ),
        booking(
            2,
            THIRD_PATIENT,
            EventKind::Infusion,
            Some(CHAIR_2),
            at(MON, "09:00"),
            40,
        ),
    ];
    let schedule = with_bookings(two_running.clone());
    let nurses = only_conflict(checked(
        &schedule,
        &infusion(at(MON, "10:00")),
        &["nurse_capacity"],
    ));
    assert!(nurses.message.contains("from 2026-03-09 10:00 EDT to 10:40 EDT 3 chairs would be running, which needs 2 nurses"), "{}", nurses.message);
    assert!(nurses.message.contains("1 on site"), "{}", nurses.message);
    // Starting as the others' recovery ends: two chairs at most, one nurse is enough.
    check_codes(&schedule, &infusion(at(MON, "10:40")), &[]);
    // A second nurse from 10:00 covers it; one arriving at 10:01 leaves 10:00-10:01 short.
    let mut staffed = schedule.clone();
    staffed.staff.push(staff(
        NURSE_2,
        Role::Nurse,
        vec![Span {
            start: at(MON, "10:00"),
            end: at(MON, "17:00"),
        }],
    ));
    check_codes(&staffed, &infusion(at(MON, "10:00")), &[]);
    let mut late_nurse = schedule.clone();
    late_nurse.staff.push(staff(
        NURSE_2,
        Role::Nurse,
        vec![Span {
            start: at(MON, "10:01"),
            end: at(MON, "17:00"),
        }],
    ));
    let short = only_conflict(checked(
        &late_nurse,
        &infusion(at(MON, "10:00")),
        &["nurse_capacity"],
    ));
    assert!(
        short
            .message
            .contains("from 2026-03-09 10:00 EDT to 10:01 EDT"),
        "{}",
        short.message
    );
    // Infusions on another site's chairs do not count here.
    let elsewhere: Vec<Booking> = two_running
        .iter()
        .map(|b| Booking {
            resource_id: Some(id(0xee)),
            ..*b
        })
        .collect();
    check_codes(&with_bookings(elsewhere), &infusion(at(MON, "10:00")), &[]);
}

#[test]
fn a_nurse_leaving_mid_recovery_is_caught_at_the_breakpoint() {
    let mut schedule = site();
    schedule.staff[0] = staff(
        NURSE_1,
        Role::Nurse,
        vec![Span {
            start: at(MON, "08:00"),
            end: at(MON, "10:20"),
        }],
    );
    // 09:00 to 10:40 with recovery: no nurse from 10:20.
    let gap = only_conflict(checked(
        &schedule,
        &infusion(at(MON, "09:00")),
        &["nurse_capacity"],
    ));
    assert!(gap.message.contains("from 2026-03-09 10:20 EDT to 10:40 EDT 1 chairs would be running, which needs 1 nurses"), "{}", gap.message);
    // Two spans that meet count as one stretch on site.
    schedule.staff[0].on_site.push(Span {
        start: at(MON, "10:20"),
        end: at(MON, "12:00"),
    });
    check_codes(&schedule, &infusion(at(MON, "09:00")), &[]);
}

#[test]
fn a_physician_must_be_on_site_for_the_whole_infusion() {
    let mut schedule = site();
    schedule.staff[1] = staff(
        PHYSICIAN,
        Role::Physician,
        vec![Span {
            start: at(MON, "08:00"),
            end: at(MON, "09:20"),
        }],
    );
    let gone = only_conflict(checked(
        &schedule,
        &infusion(at(MON, "09:00")),
        &["no_physician"],
    ));
    assert!(
        gone.message
            .contains("from 2026-03-09 09:20 EDT to 09:40 EDT"),
        "{}",
        gone.message
    );
    // Leaving as the infusion ends (the recovery continues) is fine.
    check_codes(&schedule, &infusion(at(MON, "08:40")), &[]);
    // A handover to another physician at 09:20 is fine.
    schedule.staff.push(staff(
        PHYSICIAN_2,
        Role::Physician,
        vec![Span {
            start: at(MON, "09:20"),
            end: at(MON, "17:00"),
        }],
    ));
    check_codes(&schedule, &infusion(at(MON, "09:00")), &[]);
    // No physician rule when the site says so; therapy never needs one.
    let mut no_rule = site();
    no_rule.staff.retain(|s| s.role != Role::Physician);
    check_codes(&no_rule, &infusion(at(MON, "09:00")), &["no_physician"]);
    check_codes(&no_rule, &therapy(at(MON, "09:00")), &[]);
    no_rule.rules.physician_on_site = Some(false);
    check_codes(&no_rule, &infusion(at(MON, "09:00")), &[]);
}

#[test]
fn a_clinician_cannot_be_in_two_sessions() {
    let held = Booking {
        clinician_id: Some(id(COUNSELOR_1)),
        ..booking(
            1,
            OTHER_PATIENT,
            EventKind::Therapy,
            Some(ROOM_1),
            at(MON, "10:00"),
            60,
        )
    };
    let schedule = with_bookings(vec![held]);
    let named = |start| Request {
        clinician_id: Some(id(COUNSELOR_1)),
        ..therapy(start)
    };
    let busy = only_conflict(checked(
        &schedule,
        &named(at(MON, "10:30")),
        &["clinician_busy"],
    ));
    assert_eq!(busy.field, "clinician_id");
    assert!(
        busy.message.contains(&id(1).to_string()),
        "{}",
        busy.message
    );
    assert_eq!(
        check(&schedule, &named(at(MON, "11:00")))
            .unwrap()
            .clinician_id,
        Some(id(COUNSELOR_1))
    );
    check_codes(&schedule, &named(at(MON, "09:00")), &[]);
    check_codes(&schedule, &named(at(MON, "09:01")), &["clinician_busy"]);
    // Unnamed: the first free counselor.
    assert_eq!(
        check(&schedule, &therapy(at(MON, "10:30")))
            .unwrap()
            .clinician_id,
        Some(id(COUNSELOR_2))
    );
    assert_eq!(
        check(&schedule, &therapy(at(MON, "11:00")))
            .unwrap()
            .clinician_id,
        Some(id(COUNSELOR_1))
    );
    // Both counselors busy (the second in a session without a room): none is free.
    let mut both = schedule.clone();
    both.bookings.push(Booking {
        clinician_id: Some(id(COUNSELOR_2)),
        ..booking(
            2,
            THIRD_PATIENT,
            EventKind::Integration,
            None,
            at(MON, "10:15"),
            30,
        )
    });
    let none = only_conflict(checked(
        &both,
        &therapy(at(MON, "10:30")),
        &["no_free_clinician"],
    ));
    assert_eq!(none.field, "clinician_id");
    assert!(
        none.message
            .contains("no counselor is on site and free from 2026-03-09 10:30 EDT to 11:30 EDT"),
        "{}",
        none.message
    );
}

#[test]
fn a_clinician_must_be_on_site_and_of_a_role_that_holds_the_session() {
    let mut schedule = site();
    schedule.staff[2] = staff(
        COUNSELOR_1,
        Role::Counselor,
        vec![Span {
            start: at(MON, "08:00"),
            end: at(MON, "10:30"),
        }],
    );
    let named = |start| Request {
        clinician_id: Some(id(COUNSELOR_1)),
        ..therapy(start)
    };
    check_codes(&schedule, &named(at(MON, "09:30")), &[]);
    let away = only_conflict(checked(
        &schedule,
        &named(at(MON, "10:00")),
        &["clinician_unavailable"],
    ));
    assert!(
        away.message
            .contains("from 2026-03-09 10:30 EDT to 11:00 EDT"),
        "{}",
        away.message
    );
    check_codes(
        &schedule,
        &Request {
            clinician_id: Some(id(0x99)),
            ..therapy(at(MON, "10:00"))
        },
        &["clinician_unavailable"],
    );
    let nurse = only_conflict(checked(
        &schedule,
        &Request {
            clinician_id: Some(id(NURSE_1)),
            ..therapy(at(MON, "10:00"))
        },
        &["invalid"],
    ));
    assert_eq!(nurse.field, "clinician_id");
    // A physician may hold therapy; an infusion names no clinician.
    check_codes(
        &schedule,
        &Request {
            clinician_id: Some(id(PHYSICIAN)),
            ..therapy(at(MON, "10:00"))
        },
        &[],
    );
    check_codes(
        &schedule,
        &Request {
            clinician_id: Some(id(PHYSICIAN)),
            ..infusion(at(MON, "10:00"))
        },
        &["invalid"],
    );
}

#[test]
fn a_patient_is_not_double_booked_and_is_in_the_chair_through_recovery() {
    let schedule = with_bookings(vec![booking(
        1,
        PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:00"),
        40,
    )]);
    let during = only_conflict(checked(
        &schedule,
        &therapy(at(MON, "10:00")),
        &["patient_double_booked"],
    ));
    assert!(
        during.message.contains(&id(1).to_string())
            && during.message.contains(&id(PATIENT).to_string()),
        "{}",
        during.message
    );
    check_codes(&schedule, &therapy(at(MON, "10:40")), &[]);
    check_codes(&schedule, &therapy(at(MON, "08:00")), &[]);
    check_codes(
        &schedule,
        &therapy(at(MON, "08:01")),
        &["patient_double_booked"],
    );
    // Another patient is not affected.
    check_codes(
        &schedule,
        &Request {
            patient_id: id(OTHER_PATIENT),
            ..therapy(at(MON, "10:00"))
        },
        &[],
    );
}

#[test]
fn inpatient_days_block_only_each_other() {
    let stay = booking(
        1,
        PATIENT,
        EventKind::Inpatient,
        None,
        at(MON, "00:00"),
        24 * 60,
    );
    let schedule = with_bookings(vec![stay]);
    check_codes(&schedule, &infusion(at(MON, "09:00")), &[]);
    check_codes(&schedule, &therapy(at(MON, "13:00")), &[]);
    let inpatient = |start| Request {
        kind: EventKind::Inpatient,
        minutes: 24 * 60,
        resource_kind: None,
        escort_name: None,
        ..infusion(start)
    };
    // Outside opening hours and on a weekend: inpatient days follow neither.
    check_codes(&schedule, &inpatient(at("2026-03-10", "00:00")), &[]);
    check_codes(&schedule, &inpatient(at("2026-03-14", "00:00")), &[]);
    check_codes(
        &schedule,
        &inpatient(at(MON, "12:00")),
        &["patient_double_booked"],
    );
}

fn spaced(start: DateTime<Utc>, others: &[&str], min: Option<i64>, max: Option<i64>) -> Request {
    Request {
        spacing: Some(Spacing {
            other_infusion_dates: others.iter().map(|d| date(d)).collect(),
            min_spacing_days: min,
            max_spacing_days: max,
        }),
        ..infusion(start)
    }
}

#[test]
fn infusions_keep_the_protocols_spacing_from_their_neighbours() {
    // Monday 03-09 against Monday 03-02: 7 days.
    check_codes(
        &site(),
        &spaced(at(MON, "09:00"), &["2026-03-02"], Some(7), None),
        &[],
    );
    let close = only_conflict(checked(
        &site(),
        &spaced(at(MON, "09:00"), &["2026-03-03"], Some(7), None),
        &["spacing_too_close"],
    ));
    assert!(
        close
            .message
            .contains("6 days from this plan's infusion on 2026-03-03")
            && close.message.contains("at least 7"),
        "{}",
        close.message
    );
    // The neighbour after counts too.
    check_codes(
        &site(),
        &spaced(at(MON, "09:00"), &["2026-03-16"], Some(7), None),
        &[],
    );
    check_codes(
        &site(),
        &spaced(at(MON, "09:00"), &["2026-03-15"], Some(7), None),
        &["spacing_too_close"],
    );
    // Same day as another infusion: 0 days.
    check_codes(
        &site(),
        &spaced(at(MON, "13:00"), &[MON], Some(1), None),
        &["spacing_too_close"],
    );
    // Maximum 14: 14 days is fine, 15 is not; only the nearest neighbour on each side counts.
    check_codes(
        &site(),
        &spaced(
            at(MON, "09:00"),
            &["2026-02-23", "2026-02-09"],
            Some(7),
            Some(14),
        ),
        &[],
    );
    let far = only_conflict(checked(
        &site(),
        &spaced(at(MON, "09:00"), &["2026-02-22"], Some(7), Some(14)),
        &["spacing_too_far"],
    ));
    assert!(
        far.message.contains("15 days") && far.message.contains("at most 14"),
        "{}",
        far.message
    );
    // Between two: each side is checked.
    check_codes(
        &site(),
        &spaced(
            at(MON, "09:00"),
            &["2026-03-02", "2026-03-12"],
            Some(7),
            Some(14),
        ),
        &["spacing_too_close"],
    );
    check_codes(
        &site(),
        &spaced(
            at(MON, "09:00"),
            &["2026-02-20", "2026-03-16"],
            Some(7),
            Some(14),
        ),
        &["spacing_too_far"],
    );
    // An infusion on the same date as another has that one as its neighbour on both
    // sides: the gap to the one after it is not the new infusion's doing.
    check_codes(
        &site(),
        &spaced(at(MON, "13:00"), &[MON, "2026-03-12"], None, Some(0)),
        &[],
    );
    // No limits, no rule.
    check_codes(&site(), &spaced(at(MON, "09:00"), &[MON], None, None), &[]);
}

#[test]
fn an_event_falls_within_its_window_both_ends_included() {
    let windowed = |start| Request {
        window: Some(DateWindow {
            earliest: date("2026-03-09"),
            latest: date("2026-03-13"),
        }),
        ..infusion(start)
    };
    check_codes(&site(), &windowed(at("2026-03-09", "09:00")), &[]);
    check_codes(&site(), &windowed(at("2026-03-13", "09:00")), &[]);
    let outside = only_conflict(checked(
        &site(),
        &windowed(at("2026-03-16", "09:00")),
        &["outside_window"],
    ));
    assert!(
        outside.message.contains(
            "2026-03-16 is outside the dates this event may fall on, 2026-03-09 to 2026-03-13"
        ),
        "{}",
        outside.message
    );
    check_codes(
        &site(),
        &windowed(at("2026-03-06", "09:00")),
        &["outside_window"],
    );
    // The local date decides: 23:30 EDT on the 13th is 03:30 UTC on the 14th (and outside hours).
    check_codes(
        &site(),
        &windowed(at("2026-03-13", "23:30")),
        &["outside_hours"],
    );
}

#[test]
fn an_infusion_needs_an_escort_named() {
    for escort in [None, Some(""), Some("   "), Some("\t\n")] {
        let request = Request {
            escort_name: escort.map(String::from),
            ..infusion(at(MON, "09:00"))
        };
        let missing = only_conflict(checked(&site(), &request, &["escort_missing"]));
        assert_eq!(missing.field, "escort_name");
    }
    check_codes(
        &site(),
        &Request {
            escort_name: Some(" A ".into()),
            ..infusion(at(MON, "09:00"))
        },
        &[],
    );
    // Therapy needs none.
    check_codes(&site(), &therapy(at(MON, "09:00")), &[]);
}

#[test]
fn unset_settings_refuse_infusions_and_name_the_setting() {
    let mut schedule = site();
    schedule.rules.recovery_minutes = None;
    schedule.rules.nurses_per_chair = None;
    schedule.rules.physician_on_site = None;
    let conflicts = check(&schedule, &infusion(at(MON, "09:00"))).unwrap_err();
    let fields: Vec<(&str, &str)> = conflicts
        .iter()
        .map(|c| (c.code.as_str(), c.field.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("needs_clinic_setting", "site.recovery_minutes"),
            ("needs_clinic_setting", "site.nurses_per_chair"),
            ("needs_clinic_setting", "site.physician_on_site"),
        ]
    );
    assert!(conflicts
        .iter()
        .all(|c| c.message.starts_with("needs clinic setting")));
    assert_eq!(conflicts[0].field_error().field, "site.recovery_minutes");
    // Each alone.
    for field in ["recovery_minutes", "nurses_per_chair", "physician_on_site"] {
        let mut one = site();
        match field {
            "recovery_minutes" => one.rules.recovery_minutes = None,
            "nurses_per_chair" => one.rules.nurses_per_chair = None,
            _ => one.rules.physician_on_site = None,
        }
        let conflict = only_conflict(check(&one, &infusion(at(MON, "09:00"))));
        assert_eq!(
            (conflict.code, conflict.field.as_str()),
            (
                ConflictCode::NeedsClinicSetting,
                format!("site.{field}").as_str()
            )
        );
    }
    // Therapy needs none of them, unless it follows the patient's own infusion that day.
    check_codes(&schedule, &therapy(at(MON, "09:00")), &[]);
    schedule.bookings.push(booking(
        1,
        PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:00"),
        40,
    ));
    let unknown = only_conflict(checked(
        &schedule,
        &therapy(at(MON, "13:00")),
        &["needs_clinic_setting"],
    ));
    assert_eq!(unknown.field, "site.recovery_minutes");
    check_codes(&schedule, &therapy(at("2026-03-10", "09:00")), &[]);
    check_codes(
        &schedule,
        &therapy(at(MON, "09:20")),
        &["patient_double_booked"],
    );
    check_codes(&schedule, &therapy(at(MON, "08:00")), &[]);
}

#[test]
fn every_conflict_is_reported_not_just_the_first() {
    let mut schedule = with_bookings(vec![booking(
        1,
        PATIENT,
        EventKind::Therapy,
        Some(ROOM_1),
        at(MON, "16:00"),
        60,
    )]);
    schedule.staff.retain(|s| s.role != Role::Physician);
    let request = Request {
        escort_name: None,
        ..spaced(at(MON, "16:00"), &["2026-03-08"], Some(7), None)
    };
    check_codes(
        &schedule,
        &request,
        &[
            "escort_missing",
            "spacing_too_close",
            "outside_hours",
            "patient_double_booked",
            "no_physician",
        ],
    );
}

#[test]
fn bad_input_is_refused_naming_the_field() {
    let fields = |schedule: &SiteSchedule, request: &Request| -> Vec<String> {
        let conflicts = check(schedule, request).unwrap_err();
        assert!(
            conflicts.iter().all(|c| c.code == ConflictCode::Invalid),
            "{conflicts:#?}"
        );
        conflicts.into_iter().map(|c| c.field).collect()
    };
    let ok = infusion(at(MON, "09:00"));
    for minutes in [0, -5, i64::MIN, i64::MAX, 31 * 24 * 60 + 1] {
        assert_eq!(
            fields(
                &site(),
                &Request {
                    minutes,
                    ..ok.clone()
                }
            ),
            ["minutes"]
        );
    }
    assert_eq!(
        fields(
            &site(),
            &Request {
                start: DateTime::<Utc>::MAX_UTC,
                ..ok.clone()
            }
        ),
        ["start"]
    );
    assert_eq!(
        fields(
            &site(),
            &Request {
                resource_kind: Some(ResourceKind::Room),
                ..ok.clone()
            }
        ),
        ["resource_kind"]
    );
    assert_eq!(
        fields(
            &site(),
            &Request {
                resource_kind: None,
                ..ok.clone()
            }
        ),
        ["resource_kind"]
    );
    assert_eq!(fields(&site(), &on(ok.clone(), ROOM_1)), ["resource_id"]);
    assert_eq!(fields(&site(), &on(ok.clone(), 0x404)), ["resource_id"]);
    assert_eq!(
        fields(
            &site(),
            &Request {
                spacing: Some(Spacing {
                    other_infusion_dates: vec![],
                    min_spacing_days: None,
                    max_spacing_days: None
                }),
                ..therapy(at(MON, "09:00"))
            }
        ),
        ["spacing"]
    );
    assert_eq!(
        fields(&site(), &spaced(at(MON, "09:00"), &[], Some(-1), None)),
        ["spacing.min_spacing_days"]
    );
    assert_eq!(
        fields(&site(), &spaced(at(MON, "09:00"), &[], Some(7), Some(6))),
        ["spacing.max_spacing_days"]
    );
    assert_eq!(
        fields(
            &site(),
            &Request {
                window: Some(DateWindow {
                    earliest: date("2026-03-10"),
                    latest: date("2026-03-09")
                }),
                ..ok.clone()
            }
        ),
        ["window"]
    );

    let mut bad_site = site();
    bad_site.rules.hours.set(
        Weekday::Tue,
        vec![OpeningInterval {
            open: time("17:00"),
            close: time("08:00"),
        }],
    );
    bad_site.rules.hours.set(
        Weekday::Wed,
        vec![OpeningInterval {
            open: time("08:00"),
            close: time("08:00"),
        }],
    );
    bad_site.rules.recovery_minutes = Some(-1);
    bad_site.rules.nurses_per_chair = Some(NurseRatio {
        nurses: 1,
        chairs: 0,
    });
    bad_site.staff[0].on_site.push(Span {
        start: at(MON, "10:00"),
        end: at(MON, "09:00"),
    });
    bad_site.resources.push(bad_site.resources[0].clone());
    bad_site.bookings.push(booking(
        7,
        OTHER_PATIENT,
        EventKind::Therapy,
        Some(ROOM_1),
        at(MON, "10:00"),
        0,
    ));
    let fields = fields(&bad_site, &ok);
    assert_eq!(
        fields,
        [
            "site.hours.tuesday[0]".to_string(),
            "site.hours.wednesday[0]".into(),
            "site.recovery_minutes".into(),
            "site.nurses_per_chair".into(),
            format!("resources[{}]", id(CHAIR_1)),
            format!("staff[{}].on_site[1]", id(NURSE_1)),
            format!("bookings[{}].minutes", id(7)),
        ]
    );
    assert_eq!(
        NurseRatio {
            nurses: 1,
            chairs: 0
        }
        .nurses_needed(3),
        None
    );
    assert_eq!(
        NurseRatio {
            nurses: 1,
            chairs: 2
        }
        .nurses_needed(3),
        Some(2)
    );
    assert_eq!(
        NurseRatio {
            nurses: 1,
            chairs: 2
        }
        .nurses_needed(4),
        Some(2)
    );
    assert_eq!(
        NurseRatio {
            nurses: 2,
            chairs: 3
        }
        .nurses_needed(2),
        Some(2)
    );
}

/// Every day open 08:00–17:00, for the daylight-saving Sundays.
fn seven_days() -> SiteSchedule {
    let mut schedule = site();
    schedule.rules.hours = hours(&WEEK, "08:00", "17:00");
    schedule
}

#[test]
fn opening_hours_follow_the_clock_across_the_spring_change() {
    let schedule = seven_days();
    // Saturday 2026-03-07 (EST, UTC-5): 08:00 local is 13:00 UTC.
    check_codes(&schedule, &infusion(utc("2026-03-07T13:00:00Z")), &[]);
    check_codes(
        &schedule,
        &infusion(utc("2026-03-07T12:59:00Z")),
        &["outside_hours"],
    );
    // Sunday 2026-03-08, after 02:00 EST became 03:00 EDT: 08:00 local is 12:00 UTC.
    check_codes(&schedule, &infusion(utc("2026-03-08T12:00:00Z")), &[]);
    check_codes(
        &schedule,
        &infusion(utc("2026-03-08T11:59:00Z")),
        &["outside_hours"],
    );
    // The day is 9 hours of real time: 08:00-17:00 EDT is 12:00-21:00 UTC, so a
    // 40 + 60 minute infusion starting 19:20 UTC ends exactly at closing.
    check_codes(&schedule, &infusion(utc("2026-03-08T19:20:00Z")), &[]);
    check_codes(
        &schedule,
        &infusion(utc("2026-03-08T19:21:00Z")),
        &["outside_hours"],
    );
    assert_eq!(at("2026-03-07", "08:00"), utc("2026-03-07T13:00:00Z"));
    assert_eq!(at("2026-03-08", "08:00"), utc("2026-03-08T12:00:00Z"));
}

#[test]
fn opening_hours_follow_the_clock_across_the_autumn_change() {
    let schedule = seven_days();
    // Saturday 2026-10-31 (EDT, UTC-4): 08:00 local is 12:00 UTC.
    check_codes(&schedule, &infusion(utc("2026-10-31T12:00:00Z")), &[]);
    check_codes(
        &schedule,
        &infusion(utc("2026-10-31T11:59:00Z")),
        &["outside_hours"],
    );
    // Sunday 2026-11-01, after 02:00 EDT became 01:00 EST: 08:00 local is 13:00 UTC.
    check_codes(&schedule, &infusion(utc("2026-11-01T13:00:00Z")), &[]);
    check_codes(
        &schedule,
        &infusion(utc("2026-11-01T12:59:00Z")),
        &["outside_hours"],
    );
    // Closing is 17:00 EST = 22:00 UTC.
    check_codes(&schedule, &infusion(utc("2026-11-01T20:20:00Z")), &[]);
    let late = only_conflict(checked(
        &schedule,
        &infusion(utc("2026-11-01T20:21:00Z")),
        &["outside_hours"],
    ));
    assert!(
        late.message.contains("2026-11-01 15:21 EST to 17:01 EST"),
        "{}",
        late.message
    );
}

#[test]
fn skipped_and_repeated_local_times_resolve_without_panicking() {
    // 02:30 does not exist in New York on 2026-03-08: it means 03:00 EDT.
    assert_eq!(at("2026-03-08", "02:30"), utc("2026-03-08T07:00:00Z"));
    // 01:30 happens twice on 2026-11-01: the first (EDT) is meant.
    assert_eq!(at("2026-11-01", "01:30"), utc("2026-11-01T05:30:00Z"));
    let mut schedule = seven_days();
    schedule.rules.hours.set(
        Weekday::Sun,
        vec![OpeningInterval {
            open: time("01:30"),
            close: time("02:30"),
        }],
    );
    // Spring: 01:30 EST to 03:00 EDT is 06:30-07:00 UTC, half an hour.
    check_codes(
        &schedule,
        &therapy(utc("2026-03-08T06:30:00Z")),
        &["outside_hours"],
    );
    check_codes(
        &schedule,
        &Request {
            minutes: 30,
            ..therapy(utc("2026-03-08T06:30:00Z"))
        },
        &[],
    );
    // Autumn: 01:30 EDT to 02:30 EST is 05:30-07:30 UTC, two hours.
    check_codes(
        &schedule,
        &Request {
            minutes: 120,
            ..therapy(utc("2026-11-01T05:30:00Z"))
        },
        &[],
    );
    check_codes(
        &schedule,
        &Request {
            minutes: 121,
            ..therapy(utc("2026-11-01T05:30:00Z"))
        },
        &["outside_hours"],
    );
    // Hours entirely inside the skipped hour are empty that day.
    schedule.rules.hours.set(
        Weekday::Sun,
        vec![OpeningInterval {
            open: time("02:10"),
            close: time("02:50"),
        }],
    );
    check_codes(
        &schedule,
        &Request {
            minutes: 10,
            ..therapy(utc("2026-03-08T07:00:00Z"))
        },
        &["outside_hours"],
    );
}

fn search(step_minutes: i64, max_results: usize) -> Search {
    Search {
        step_minutes,
        days_before: 2,
        days_after: 3,
        max_results,
        not_before: utc("2026-01-01T00:00:00Z"),
    }
}

#[test]
fn alternatives_are_feasible_and_nearest_first() {
    // Chair 1 busy 09:00-10:40 (with recovery); chairs 2 and 3 are out of the picture: the request names chair 1.
    let schedule = with_bookings(vec![booking(
        1,
        OTHER_PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:00"),
        40,
    )]);
    let request = on(infusion(at(MON, "09:30")), CHAIR_1);
    check_codes(&schedule, &request, &["chair_busy"]);
    let slots = alternatives(&schedule, &request, &search(15, 4)).unwrap();
    let starts: Vec<DateTime<Utc>> = slots.iter().map(|s| s.assignment.start).collect();
    // Ending by 09:00 would mean starting by 07:20, before opening, so the nearest
    // starts are after 10:40 on the step from 08:00: 10:45 (75 minutes away), 11:00, ...
    assert_eq!(
        starts,
        [
            at(MON, "10:45"),
            at(MON, "11:00"),
            at(MON, "11:15"),
            at(MON, "11:30")
        ]
    );
    assert_eq!(
        slots.iter().map(|s| s.distance_minutes).collect::<Vec<_>>(),
        [75, 90, 105, 120]
    );
    for slot in &slots {
        assert_eq!(
            check(
                &schedule,
                &Request {
                    start: slot.assignment.start,
                    ..request.clone()
                }
            ),
            Ok(slot.assignment)
        );
    }
}

#[test]
fn alternatives_take_the_earlier_of_two_equally_near_and_reach_other_days() {
    // 15 minutes in room A at 12:00, blocked 11:15-12:45 by two sessions: 12:45 is 45 minutes
    // away; 11:00 and 13:00 are both 60 away, and the earlier comes first.
    let schedule = with_bookings(vec![
        booking(
            1,
            OTHER_PATIENT,
            EventKind::Therapy,
            Some(ROOM_1),
            at(MON, "11:15"),
            45,
        ),
        booking(
            2,
            OTHER_PATIENT,
            EventKind::Therapy,
            Some(ROOM_1),
            at(MON, "12:00"),
            45,
        ),
    ]);
    let request = Request {
        minutes: 15,
        ..on(therapy(at(MON, "12:00")), ROOM_1)
    };
    let slots = alternatives(&schedule, &request, &search(15, 3)).unwrap();
    let starts: Vec<DateTime<Utc>> = slots.iter().map(|s| s.assignment.start).collect();
    assert_eq!(
        starts,
        [at(MON, "12:45"), at(MON, "11:00"), at(MON, "13:00")]
    );
    // Nothing free on Monday afternoon: the search reaches Tuesday, and never a weekend or a time before not_before.
    let full_day = with_bookings(vec![booking(
        1,
        OTHER_PATIENT,
        EventKind::Therapy,
        Some(ROOM_1),
        at(MON, "08:00"),
        9 * 60,
    )]);
    let slots = alternatives(
        &full_day,
        &Request {
            minutes: 60,
            ..on(therapy(at(MON, "16:00")), ROOM_1)
        },
        &Search {
            not_before: at(MON, "12:00"),
            ..search(60, 2)
        },
    )
    .unwrap();
    let starts: Vec<DateTime<Utc>> = slots.iter().map(|s| s.assignment.start).collect();
    assert_eq!(
        starts,
        [at("2026-03-10", "08:00"), at("2026-03-10", "09:00")]
    );
    // An invalid search or request is refused; a request no time can fix has no alternatives.
    let refused = alternatives(&site(), &therapy(at(MON, "09:00")), &search(0, 3)).unwrap_err();
    assert_eq!(refused[0].field, "search.step_minutes");
    assert!(alternatives(
        &site(),
        &Request {
            escort_name: None,
            ..infusion(at(MON, "09:00"))
        },
        &search(15, 3)
    )
    .unwrap()
    .is_empty());
}

fn plan_event(
    n: u128,
    kind: EventKind,
    day: &str,
    clock: &str,
    earliest: &str,
    latest: &str,
) -> PlanEvent {
    let (minutes, resource_kind) = match kind {
        EventKind::Infusion => (40, Some(ResourceKind::Chair)),
        _ => (60, Some(ResourceKind::Room)),
    };
    PlanEvent {
        booking_id: id(0x1000 + n),
        plan_event_id: Some(id(0x2000 + n)),
        kind,
        minutes,
        resource_kind,
        resource_id: None,
        clinician_id: None,
        preferred_date: date(day),
        preferred_time: time(clock),
        window: DateWindow {
            earliest: date(earliest),
            latest: date(latest),
        },
    }
}

/// Three weekly infusions (7 days apart, exactly) with an integration session the day after each.
fn weekly_plan() -> PlanRequest {
    PlanRequest {
        patient_id: id(PATIENT),
        escort_name: Some("Responsible Adult".into()),
        min_spacing_days: Some(7),
        max_spacing_days: Some(7),
        booked_infusion_dates: Vec::new(),
        events: vec![
            plan_event(
                1,
                EventKind::Infusion,
                "2026-03-09",
                "09:00",
                "2026-03-09",
                "2026-03-13",
            ),
            plan_event(
                2,
                EventKind::Integration,
                "2026-03-10",
                "10:00",
                "2026-03-10",
                "2026-03-11",
            ),
            plan_event(
                3,
                EventKind::Infusion,
                "2026-03-16",
                "09:00",
                "2026-03-16",
                "2026-03-20",
            ),
            plan_event(
                4,
                EventKind::Integration,
                "2026-03-17",
                "10:00",
                "2026-03-17",
                "2026-03-18",
            ),
            plan_event(
                5,
                EventKind::Infusion,
                "2026-03-23",
                "09:00",
                "2026-03-23",
                "2026-03-27",
            ),
        ],
    }
}

#[test]
fn a_whole_plan_is_placed_at_its_preferred_times_when_they_are_free() {
    let placements = schedule_plan(&site(), &weekly_plan(), &search(15, 3)).unwrap();
    let placed: Vec<(Uuid, DateTime<Utc>, bool)> = placements
        .iter()
        .map(|p| (p.booking_id, p.assignment.start, p.moved))
        .collect();
    assert_eq!(
        placed,
        [
            (id(0x1001), at("2026-03-09", "09:00"), false),
            (id(0x1002), at("2026-03-10", "10:00"), false),
            (id(0x1003), at("2026-03-16", "09:00"), false),
            (id(0x1004), at("2026-03-17", "10:00"), false),
            (id(0x1005), at("2026-03-23", "09:00"), false),
        ]
    );
    assert!(placements
        .iter()
        .all(|p| p.assignment.resource_id.is_some()));
    assert_eq!(placements[1].assignment.clinician_id, Some(id(COUNSELOR_1)));
}

#[test]
fn a_plan_moves_an_event_within_its_window_and_keeps_spacing_with_what_it_placed() {
    // Every chair is taken all Monday 03-16: the second infusion moves to Tuesday,
    // and the third (exactly 7 days after) then has to go on Tuesday 03-24.
    let mut schedule = site();
    for (n, chair) in [CHAIR_1, CHAIR_2, CHAIR_3].into_iter().enumerate() {
        schedule.bookings.push(booking(
            u128::try_from(n).unwrap() + 1,
            OTHER_PATIENT,
            EventKind::Infusion,
            Some(chair),
            at("2026-03-16", "08:00"),
            8 * 60,
        ));
    }
    schedule.staff.push(staff(NURSE_2, Role::Nurse, all_year()));
    let mut plan = weekly_plan();
    plan.max_spacing_days = Some(8);
    plan.events.retain(|e| e.kind == EventKind::Infusion);
    let placements = schedule_plan(&schedule, &plan, &search(15, 3)).unwrap();
    let placed: Vec<(DateTime<Utc>, bool)> = placements
        .iter()
        .map(|p| (p.assignment.start, p.moved))
        .collect();
    assert_eq!(
        placed,
        [
            (at("2026-03-09", "09:00"), false),
            (at("2026-03-17", "08:00"), true),
            (at("2026-03-24", "08:00"), true)
        ]
    );
}

#[test]
fn a_plan_that_cannot_fit_names_the_event_its_conflicts_and_alternatives() {
    // The second infusion's window is Monday 03-16 only, and every chair is taken that day.
    let mut schedule = site();
    for (n, chair) in [CHAIR_1, CHAIR_2, CHAIR_3].into_iter().enumerate() {
        schedule.bookings.push(booking(
            u128::try_from(n).unwrap() + 1,
            OTHER_PATIENT,
            EventKind::Infusion,
            Some(chair),
            at("2026-03-16", "08:00"),
            8 * 60,
        ));
    }
    schedule.staff.push(staff(NURSE_2, Role::Nurse, all_year()));
    let mut plan = weekly_plan();
    plan.min_spacing_days = Some(6);
    plan.max_spacing_days = Some(8);
    plan.events[2].window = DateWindow {
        earliest: date("2026-03-16"),
        latest: date("2026-03-16"),
    };
    let failure = schedule_plan(&schedule, &plan, &search(60, 3)).unwrap_err();
    assert_eq!(
        (
            failure.event_index,
            failure.booking_id,
            failure.plan_event_id
        ),
        (2, id(0x1003), Some(id(0x2003)))
    );
    assert_eq!(
        failure.conflicts.iter().map(|c| c.code).collect::<Vec<_>>(),
        [ConflictCode::NoFreeResource]
    );
    // Outside the window but within the spacing (6 to 8 days after 03-09): Tuesday 03-17;
    // the weekend before is closed.
    let starts: Vec<DateTime<Utc>> = failure
        .alternatives
        .iter()
        .map(|s| s.assignment.start)
        .collect();
    assert_eq!(
        starts,
        [
            at("2026-03-17", "08:00"),
            at("2026-03-17", "09:00"),
            at("2026-03-17", "10:00")
        ]
    );
    assert!(failure
        .alternatives
        .iter()
        .all(|s| s.assignment.resource_id.is_some()));
    // An unfixable problem fails at once, with no alternatives.
    let mut no_escort = weekly_plan();
    no_escort.escort_name = Some(" ".into());
    let failure = schedule_plan(&site(), &no_escort, &search(15, 3)).unwrap_err();
    assert_eq!((failure.event_index, failure.alternatives.len()), (0, 0));
    assert_eq!(failure.conflicts[0].code, ConflictCode::EscortMissing);
    // A preferred start before not_before is moved, never booked in the past.
    let later = schedule_plan(
        &site(),
        &weekly_plan(),
        &Search {
            not_before: at("2026-03-09", "12:00"),
            ..search(15, 3)
        },
    )
    .unwrap();
    assert_eq!(
        (later[0].assignment.start, later[0].moved),
        (at("2026-03-09", "12:00"), true)
    );
}

#[test]
fn the_same_input_gives_the_same_answer() {
    let schedule = with_bookings(vec![booking(
        1,
        OTHER_PATIENT,
        EventKind::Infusion,
        Some(CHAIR_1),
        at(MON, "09:00"),
        40,
    )]);
    let request = infusion(at(MON, "09:30"));
    assert_eq!(check(&schedule, &request), check(&schedule, &request));
    assert_eq!(
        alternatives(&schedule, &request, &search(15, 5)),
        alternatives(&schedule, &request, &search(15, 5))
    );
    assert_eq!(
        schedule_plan(&schedule, &weekly_plan(), &search(15, 3)),
        schedule_plan(&schedule, &weekly_plan(), &search(15, 3))
    );
}
