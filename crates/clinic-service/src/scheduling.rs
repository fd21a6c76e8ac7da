//! Scheduling against real capacity: a signed plan's events are booked on a
//! site's chairs and rooms with its staff, one at a time or the whole plan at
//! once, by the pure rules of `clinic_domain::schedule`. Each decision is
//! made on one reading of the site and committed only if no other booking
//! change committed meanwhile (the site's schedule version); otherwise it is
//! decided again on a fresh reading, so two bookings racing for the last
//! chair cannot both win. Rescheduling, cancellation and no-shows keep the
//! old booking with who, when and why.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::plan::{EventStatus, Plan, PlanEvent, PlanState};
use clinic_domain::protocol::{EventKind, Protocol};
use clinic_domain::schedule::conflict::Conflict;
use clinic_domain::schedule::hours::{
    OpeningInterval, WEEK, WeeklyHours, local_date, local_instant,
};
use clinic_domain::schedule::search::{Search, Slot, alternatives};
use clinic_domain::schedule::span::Span;
use clinic_domain::schedule::whole_plan::{PlanRequest, schedule_plan};
use clinic_domain::schedule::{
    Assignment, Booking, BookingStatus, DateWindow, NurseRatio, Request, Resource, ResourceKind,
    SiteRules, SiteSchedule, Spacing, StaffAvailability, check,
};
use clinic_store::Store;
use clinic_store::error::StoreError;
use clinic_store::records::Site;
use clinic_store::schedule::{BookingCommit, BookingRecord, BookingUpdate, SiteScheduleRecord};
use uuid::Uuid;

use crate::Clinic;
use crate::auth::Principal;
use crate::error::{ScheduleProblem, ServiceError};

/// How many times a decision is made again after another booking committed first.
const MAX_ATTEMPTS: usize = 8;

/// How alternatives are searched: every 15 minutes, a week either side, five shown.
fn search(now: DateTime<Utc>) -> Search {
    Search {
        step_minutes: 15,
        days_before: 7,
        days_after: 7,
        max_results: 5,
        not_before: now,
    }
}

/// Scheduling settings of the clinic (not of a site).
#[derive(Debug, Clone, Default)]
pub struct SchedulingSettings {
    /// Length of a therapy or integration session when the protocol gives
    /// none. Unset: needs clinic setting (the reference gives no number).
    pub default_session_minutes: Option<i64>,
    /// The local time "schedule whole plan" tries first each day. Unset: 09:00 is asked of the user.
    pub preferred_start: Option<NaiveTime>,
}

/// A booking request as typed.
#[derive(Debug, Clone, Default)]
pub struct BookInput {
    /// YYYY-MM-DD, local to the site (default: the event's planned date).
    pub date: Option<String>,
    /// HH:MM, local to the site.
    pub time: Option<String>,
    pub resource_id: Option<String>,
    pub clinician_id: Option<String>,
    /// Who takes the patient home (infusions; default: the escort in the chart).
    pub escort_name: Option<String>,
    /// Length, when neither the protocol nor the clinic gives one.
    pub minutes: Option<String>,
}

/// A booking with the names staff see.
#[derive(Debug, Clone)]
pub struct BookingView {
    pub booking: BookingRecord,
    pub patient_name: String,
    pub patient_initials: String,
    pub mrn: String,
    pub resource_name: Option<String>,
    pub clinician_name: Option<String>,
}

/// One site's day: its chairs and rooms, and the bookings on the day.
#[derive(Debug, Clone)]
pub struct DayBoard {
    pub site: Site,
    pub date: NaiveDate,
    pub zone: Tz,
    pub schedule: Option<SiteScheduleRecord>,
    pub opening: Vec<OpeningInterval>,
    pub closed_reason: Option<String>,
    pub bookings: Vec<BookingView>,
    /// No-shows at the site over the 30 days up to this day.
    pub recent_no_shows: usize,
}

fn zone_of(site: &Site) -> Tz {
    site.time_zone.parse().unwrap_or(Tz::UTC)
}

/// The domain's rules from the stored settings.
pub fn rules_from(site: &Site, record: &SiteScheduleRecord) -> SiteRules {
    let mut hours = WeeklyHours::closed();
    let mut by_day: BTreeMap<i64, Vec<OpeningInterval>> = BTreeMap::new();
    for row in &record.hours {
        by_day
            .entry(row.weekday)
            .or_default()
            .push(OpeningInterval {
                open: row.opens,
                close: row.closes,
            });
    }
    for (weekday, intervals) in by_day {
        if let Some(day) = usize::try_from(weekday).ok().and_then(|w| WEEK.get(w)) {
            hours.set(*day, intervals);
        }
    }
    SiteRules {
        zone: zone_of(site),
        hours,
        closures: record.closures.iter().map(|(d, _)| *d).collect(),
        recovery_minutes: record.recovery_minutes,
        nurses_per_chair: record.nurses_per_chairs.and_then(|(n, c)| {
            Some(NurseRatio {
                nurses: u32::try_from(n).ok()?,
                chairs: u32::try_from(c).ok()?,
            })
        }),
        physician_on_site: record.physician_on_site,
    }
}

fn to_domain(b: &BookingRecord) -> Booking {
    Booking {
        id: b.id,
        patient_id: b.patient_id,
        plan_event_id: b.plan_event_id,
        kind: b.kind,
        resource_id: b.resource_id,
        clinician_id: b.clinician_id,
        start: b.starts_at,
        minutes: b.minutes,
        status: b.status,
    }
}

fn problem(
    message: impl Into<String>,
    event_id: Option<Uuid>,
    conflicts: Vec<Conflict>,
    slots: Vec<Slot>,
    zone: Tz,
    names: &BTreeMap<Uuid, String>,
) -> ServiceError {
    ServiceError::Unbookable(Box::new(ScheduleProblem {
        message: message.into(),
        event_id,
        conflicts: conflicts
            .into_iter()
            .map(|c| (c.code.as_str().to_string(), c.field, c.message))
            .collect(),
        alternatives: slots
            .into_iter()
            .map(|s| {
                let local = s.assignment.start.with_timezone(&zone);
                crate::error::AlternativeSlot {
                    start: s.assignment.start,
                    local: local.format("%a %Y-%m-%d %H:%M").to_string(),
                    local_date: local.date_naive(),
                    local_time: local.format("%H:%M").to_string(),
                    resource_id: s.assignment.resource_id,
                    resource_name: s
                        .assignment
                        .resource_id
                        .and_then(|id| names.get(&id).cloned()),
                    clinician_id: s.assignment.clinician_id,
                }
            })
            .collect(),
    }))
}

/// The dates an event may be booked on: the protocol's window, or, when the
/// physician moved it outside (an acknowledged deviation), the planned date.
fn booking_window(event: &PlanEvent) -> DateWindow {
    match event.window {
        Some((earliest, latest)) if event.date >= earliest && event.date <= latest => DateWindow { earliest, latest },
        _ => DateWindow { earliest: event.date, latest: event.date },
    }
}

fn resource_kind_for(kind: EventKind) -> Option<ResourceKind> {
    match kind {
        EventKind::Infusion => Some(ResourceKind::Chair),
        EventKind::Therapy | EventKind::Integration | EventKind::Assessment => {
            Some(ResourceKind::Room)
        }
        EventKind::Inpatient | EventKind::FollowUp => None,
    }
}

/// The read of one site a decision is made on.
struct Reading {
    schedule: SiteSchedule,
    version: i64,
    zone: Tz,
    resource_names: BTreeMap<Uuid, String>,
}

impl<S: Store> Clinic<S> {
    fn schedule_event(
        &self,
        principal: &Principal,
        action: AuditAction,
        patient_id: Uuid,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &principal.actor(),
            action,
            AuditTarget::patient(patient_id),
            Outcome::Success,
            Some(detail.to_string()),
        )
    }

    pub(crate) async fn site_by_id(&self, site_id: Uuid) -> Result<Site, ServiceError> {
        self.store()
            .list_sites()
            .await?
            .into_iter()
            .find(|s| s.id == site_id)
            .ok_or(ServiceError::NotFound { resource: "site" })
    }

    /// Reads the site's rules, resources, staff and the bookings that matter
    /// for `[from, to)`: the site's, the patients' and the clinicians'.
    async fn read_site(
        &self,
        site: &Site,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        patients: &[Uuid],
        clinicians: &[Uuid],
    ) -> Result<Reading, ServiceError> {
        let record = self.store().get_site_schedule(site.id).await?.ok_or_else(|| {
            ServiceError::Invalid(FieldErrors::one(
                "site",
                format!("{} has no opening hours, chairs or rooms yet: needs clinic setting (an administrator sets them)", site.name),
            ))
        })?;
        let rules = rules_from(site, &record);
        let users: BTreeMap<Uuid, clinic_domain::user::Role> = self
            .store()
            .list_users()
            .await?
            .into_iter()
            .filter(|u| !u.disabled)
            .map(|u| (u.id, u.role))
            .collect();
        let mut staff: BTreeMap<Uuid, Vec<Span>> = BTreeMap::new();
        for row in self
            .store()
            .list_availability(site.id, from - Duration::days(1), to + Duration::days(1))
            .await?
        {
            staff.entry(row.user_id).or_default().push(Span {
                start: row.starts_at,
                end: row.ends_at,
            });
        }
        let staff = staff
            .into_iter()
            .filter_map(|(user_id, on_site)| {
                users.get(&user_id).map(|role| StaffAvailability {
                    user_id,
                    role: *role,
                    on_site,
                })
            })
            .collect();
        let mut bookings: BTreeMap<Uuid, Booking> = BTreeMap::new();
        for b in self
            .store()
            .site_bookings(site.id, from - Duration::days(1), to + Duration::days(1))
            .await?
        {
            bookings.insert(b.id, to_domain(&b));
        }
        for patient in patients {
            for b in self.store().patient_bookings(*patient).await? {
                bookings.insert(b.id, to_domain(&b));
            }
        }
        for clinician in clinicians {
            for b in self
                .store()
                .clinician_bookings(*clinician, from - Duration::days(1), to + Duration::days(1))
                .await?
            {
                bookings.insert(b.id, to_domain(&b));
            }
        }
        let resources: Vec<Resource> = record
            .resources
            .iter()
            .map(|r| Resource {
                id: r.id,
                kind: r.kind,
                name: r.name.clone(),
            })
            .collect();
        let resource_names = record
            .resources
            .iter()
            .map(|r| (r.id, r.name.clone()))
            .collect();
        Ok(Reading {
            zone: rules.zone,
            schedule: SiteSchedule {
                rules,
                resources,
                staff,
                bookings: bookings.into_values().collect(),
            },
            version: record.version,
            resource_names,
        })
    }

    fn session_minutes(
        &self,
        protocol: &Protocol,
        kind: EventKind,
        typed: Option<&str>,
    ) -> Result<i64, ServiceError> {
        if let Some(text) = typed.map(str::trim).filter(|t| !t.is_empty()) {
            return text
                .parse::<i64>()
                .ok()
                .filter(|m| (1..=clinic_domain::schedule::validate::MAX_EVENT_MINUTES).contains(m))
                .ok_or_else(|| {
                    ServiceError::Invalid(FieldErrors::one(
                        "minutes",
                        "a whole number of minutes, at least 1",
                    ))
                });
        }
        let def = protocol.definition();
        let from_protocol = match kind {
            EventKind::Infusion => Some(def.infusions.minutes),
            EventKind::Therapy => def.therapy.as_ref().and_then(|t| t.session_minutes),
            EventKind::Integration => def.integration.as_ref().and_then(|i| i.session_minutes),
            EventKind::Inpatient => Some(24 * 60),
            EventKind::Assessment | EventKind::FollowUp => None,
        };
        from_protocol.or(match kind {
            EventKind::Therapy | EventKind::Integration => self.config().scheduling.default_session_minutes,
            _ => None,
        })
        .ok_or_else(|| {
            ServiceError::Invalid(FieldErrors::one(
                "minutes",
                format!(
                    "{} sessions have no length in protocol {} or the clinic's settings (needs clinic setting); give the minutes",
                    kind.as_str().replace('_', " "),
                    protocol.id()
                ),
            ))
        })
    }

    async fn plan_for_booking(
        &self,
        plan_event_id: Uuid,
    ) -> Result<(Plan, PlanEvent), ServiceError> {
        let plan_id = self
            .store()
            .plan_of_event(plan_event_id)
            .await
            .map_err(|e| ServiceError::from_store("plan event", e))?;
        let plan = self
            .store()
            .get_plan(plan_id)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        let event = plan
            .events
            .iter()
            .find(|e| e.id == plan_event_id)
            .cloned()
            .ok_or(ServiceError::NotFound {
                resource: "plan event",
            })?;
        match plan.header.state() {
            PlanState::Signed => Ok((plan, event)),
            PlanState::Draft | PlanState::Amended => Err(ServiceError::Conflict {
                code: "plan_not_signed",
                message: "the plan is not signed as it stands; the physician signs it before its events are booked".into(),
            }),
            PlanState::Ended => Err(ServiceError::Conflict { code: "plan_ended", message: "the plan has ended".into() }),
        }
    }

    /// The local dates of a plan's infusions booked now, except `except`.
    async fn booked_infusion_dates(
        &self,
        plan: &Plan,
        zone: Tz,
        except: Option<Uuid>,
    ) -> Result<Vec<NaiveDate>, ServiceError> {
        let infusions: BTreeSet<Uuid> = plan
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Infusion && Some(e.id) != except)
            .map(|e| e.id)
            .collect();
        let bookings = self
            .store()
            .patient_bookings(plan.header.patient_id)
            .await?;
        Ok(bookings
            .iter()
            .filter(|b| {
                b.status.is_active() && b.plan_event_id.is_some_and(|id| infusions.contains(&id))
            })
            .filter_map(|b| local_date(zone, b.starts_at))
            .collect())
    }

    /// Books one event of a signed plan at a local date and time.
    pub async fn book_event(
        &self,
        principal: &Principal,
        plan_event_id: Uuid,
        input: &BookInput,
    ) -> Result<BookingRecord, ServiceError> {
        self.authorize(principal, Permission::ScheduleManage, "book an event")
            .await?;
        let (plan, event) = self.plan_for_booking(plan_event_id).await?;
        if event.status != EventStatus::Planned {
            return Err(ServiceError::Conflict {
                code: "not_bookable",
                message: format!(
                    "this event is {}; only a planned event is booked",
                    event.status.as_str().replace('_', " ")
                ),
            });
        }
        let patient = self
            .store()
            .get_patient(plan.header.patient_id)
            .await
            .map_err(|e| ServiceError::from_store("patient", e))?;
        let site = self.site_by_id(patient.site_id).await?;
        let protocol = self
            .protocols()
            .get(&plan.header.protocol_id)
            .ok_or_else(|| ServiceError::Conflict {
                code: "protocol_missing",
                message: format!("protocol {} is not installed", plan.header.protocol_id),
            })?;
        let mut errors = Vec::new();
        let date = match input
            .date
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            None => Some(event.date),
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| errors.push(FieldError::new("date", "a date as YYYY-MM-DD")))
                .ok(),
        };
        let time = match input
            .time
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            None => {
                errors.push(FieldError::new(
                    "time",
                    "required, as HH:MM in the site's time zone",
                ));
                None
            }
            Some(text) => NaiveTime::parse_from_str(text, "%H:%M")
                .map_err(|_| errors.push(FieldError::new("time", "a time as HH:MM (24-hour)")))
                .ok(),
        };
        let parse_id = |field: &str, text: Option<&str>, errors: &mut Vec<FieldError>| match text
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => None,
            Some(text) => Uuid::parse_str(text)
                .map_err(|_| errors.push(FieldError::new(field, "not an id")))
                .ok(),
        };
        let resource_id = parse_id("resource_id", input.resource_id.as_deref(), &mut errors);
        let clinician_id = parse_id("clinician_id", input.clinician_id.as_deref(), &mut errors);
        let minutes = match self.session_minutes(protocol, event.kind, input.minutes.as_deref()) {
            Ok(m) => Some(m),
            Err(ServiceError::Invalid(e)) => {
                errors.extend(e.0);
                None
            }
            Err(other) => return Err(other),
        };
        let (Some(date), Some(time), Some(minutes), true) =
            (date, time, minutes, errors.is_empty())
        else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        let zone = zone_of(&site);
        let start = local_instant(zone, date, time).ok_or_else(|| {
            ServiceError::Invalid(FieldErrors::one(
                "time",
                "is not a time on that date in the site's zone",
            ))
        })?;
        let escort_name = input
            .escort_name
            .clone()
            .filter(|e| !e.trim().is_empty())
            .or_else(|| patient.details.escort.as_ref().map(|e| e.name.clone()))
            .filter(|_| event.kind == EventKind::Infusion);
        let def = protocol.definition();
        for _ in 0..MAX_ATTEMPTS {
            let reading = self
                .read_site(
                    &site,
                    start - Duration::days(8),
                    start + Duration::days(8),
                    &[patient.id],
                    &clinician_id.into_iter().collect::<Vec<_>>(),
                )
                .await?;
            let spacing = (event.kind == EventKind::Infusion).then(|| Spacing {
                other_infusion_dates: Vec::new(),
                min_spacing_days: def.infusions.min_spacing_days,
                max_spacing_days: def.infusions.max_spacing_days,
            });
            let spacing = match spacing {
                Some(mut s) => {
                    s.other_infusion_dates = self
                        .booked_infusion_dates(&plan, zone, Some(event.id))
                        .await?;
                    Some(s)
                }
                None => None,
            };
            let request = Request {
                patient_id: patient.id,
                kind: event.kind,
                start,
                minutes,
                resource_kind: resource_kind_for(event.kind),
                resource_id,
                clinician_id,
                escort_name: escort_name.clone(),
                spacing,
                window: (event.kind == EventKind::Infusion).then(|| booking_window(&event)),
                replaces: None,
            };
            let assignment = match check(&reading.schedule, &request) {
                Ok(a) => a,
                Err(conflicts) => {
                    let slots = alternatives(&reading.schedule, &request, &search(self.now()))
                        .unwrap_or_default();
                    let names = self.name_map(&reading).await;
                    return Err(problem(
                        "this time cannot be booked",
                        Some(event.id),
                        conflicts,
                        slots,
                        reading.zone,
                        &names,
                    ));
                }
            };
            let booking = self.new_booking(
                principal,
                &site,
                patient.id,
                Some(event.id),
                event.kind,
                &assignment,
                minutes,
                escort_name.clone(),
                None,
            );
            let audit = self.schedule_event(
                principal,
                AuditAction::BookingCreate,
                patient.id,
                serde_json::json!({ "booking_id": booking.id, "plan_event_id": event.id, "kind": event.kind.as_str() }),
            );
            let commit = BookingCommit {
                new: std::slice::from_ref(&booking),
                event_statuses: &[(event.id, EventStatus::Booked)],
                audit: std::slice::from_ref(&audit),
                ..Default::default()
            };
            match self
                .store()
                .commit_bookings(site.id, reading.version, commit)
                .await
            {
                Ok(_) => return Ok(booking),
                Err(StoreError::StaleVersion { .. }) => continue,
                Err(other) => return Err(ServiceError::from_store("booking", other)),
            }
        }
        Err(ServiceError::Conflict {
            code: "busy",
            message: "the schedule kept changing while booking; try again".into(),
        })
    }

    async fn name_map(&self, reading: &Reading) -> BTreeMap<Uuid, String> {
        let mut names = reading.resource_names.clone();
        if let Ok(users) = self.store().list_users().await {
            for u in users {
                names.insert(u.id, u.display_name);
            }
        }
        names
    }

    #[allow(clippy::too_many_arguments)]
    fn new_booking(
        &self,
        principal: &Principal,
        site: &Site,
        patient_id: Uuid,
        plan_event_id: Option<Uuid>,
        kind: EventKind,
        a: &Assignment,
        minutes: i64,
        escort_name: Option<String>,
        replaces: Option<Uuid>,
    ) -> BookingRecord {
        BookingRecord {
            id: Uuid::now_v7(),
            site_id: site.id,
            patient_id,
            plan_event_id,
            kind,
            resource_id: a.resource_id,
            clinician_id: a.clinician_id,
            starts_at: a.start,
            minutes,
            occupied_until: a.occupied_until,
            escort_name,
            status: BookingStatus::Booked,
            replaces,
            reason: None,
            created_by: principal.user.id,
            created_at: self.now(),
            updated_by: None,
            updated_at: None,
            reminder_queued_at: None,
            version: 1,
        }
    }

    /// Books every planned infusion, therapy and integration session of a
    /// signed plan from today on, at `time` each day (moving within an
    /// infusion's window when needed), or books nothing and names the first
    /// event that cannot fit, why, and the nearest alternatives.
    pub async fn schedule_whole_plan(
        &self,
        principal: &Principal,
        plan_id: Uuid,
        time: Option<&str>,
        escort: Option<&str>,
    ) -> Result<Vec<BookingRecord>, ServiceError> {
        self.authorize(principal, Permission::ScheduleManage, "schedule a plan")
            .await?;
        let plan = self
            .store()
            .get_plan(plan_id)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        if plan.header.state() != PlanState::Signed {
            return Err(ServiceError::Conflict {
                code: "plan_not_signed",
                message: "the plan is not signed as it stands; the physician signs it first".into(),
            });
        }
        let preferred = match time.map(str::trim).filter(|t| !t.is_empty()) {
            Some(text) => NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| {
                ServiceError::Invalid(FieldErrors::one("time", "a time as HH:MM (24-hour)"))
            })?,
            None => self.config().scheduling.preferred_start.ok_or_else(|| {
                ServiceError::Invalid(FieldErrors::one(
                    "time",
                    "required, as HH:MM: the time to try first each day",
                ))
            })?,
        };
        let patient = self
            .store()
            .get_patient(plan.header.patient_id)
            .await
            .map_err(|e| ServiceError::from_store("patient", e))?;
        let site = self.site_by_id(patient.site_id).await?;
        let zone = zone_of(&site);
        let protocol = self
            .protocols()
            .get(&plan.header.protocol_id)
            .ok_or_else(|| ServiceError::Conflict {
                code: "protocol_missing",
                message: format!("protocol {} is not installed", plan.header.protocol_id),
            })?;
        let today = local_date(zone, self.now()).unwrap_or_else(|| self.now().date_naive());
        let wanted: Vec<&PlanEvent> = plan
            .events
            .iter()
            .filter(|e| e.status == EventStatus::Planned && e.date >= today)
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Infusion | EventKind::Therapy | EventKind::Integration
                )
            })
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut events = Vec::with_capacity(wanted.len());
        let mut errors = Vec::new();
        for e in &wanted {
            match self.session_minutes(protocol, e.kind, None) {
                Ok(minutes) => events.push(clinic_domain::schedule::whole_plan::PlanEvent {
                    booking_id: Uuid::now_v7(),
                    plan_event_id: Some(e.id),
                    kind: e.kind,
                    minutes,
                    resource_kind: resource_kind_for(e.kind),
                    resource_id: None,
                    clinician_id: None,
                    preferred_date: e.date,
                    preferred_time: preferred,
                    window: {
                        let w = booking_window(e);
                        DateWindow { earliest: w.earliest.max(today), latest: w.latest }
                    },
                }),
                Err(ServiceError::Invalid(errs)) => {
                    for err in errs.0 {
                        if !errors.contains(&err) {
                            errors.push(err);
                        }
                    }
                }
                Err(other) => return Err(other),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        let escort_name = escort
            .map(str::to_string)
            .filter(|e| !e.trim().is_empty())
            .or_else(|| patient.details.escort.as_ref().map(|e| e.name.clone()));
        let from = events
            .iter()
            .map(|e| e.window.earliest)
            .min()
            .unwrap_or(today);
        let to = events
            .iter()
            .map(|e| e.window.latest)
            .max()
            .unwrap_or(today);
        let span_from = local_instant(zone, from, NaiveTime::MIN).unwrap_or_else(|| self.now())
            - Duration::days(8);
        let span_to =
            local_instant(zone, to, NaiveTime::MIN).unwrap_or_else(|| self.now()) + Duration::days(9);
        let def = protocol.definition();
        for _ in 0..MAX_ATTEMPTS {
            let reading = self
                .read_site(&site, span_from, span_to, &[patient.id], &[])
                .await?;
            let request = PlanRequest {
                patient_id: patient.id,
                escort_name: escort_name.clone(),
                min_spacing_days: def.infusions.min_spacing_days,
                max_spacing_days: def.infusions.max_spacing_days,
                booked_infusion_dates: self.booked_infusion_dates(&plan, zone, None).await?,
                events: events.clone(),
            };
            let placements = match schedule_plan(&reading.schedule, &request, &search(self.now()))
            {
                Ok(p) => p,
                Err(failure) => {
                    let names = self.name_map(&reading).await;
                    let event = failure
                        .plan_event_id
                        .and_then(|id| plan.events.iter().find(|e| e.id == id));
                    let what = event
                        .map(|e| format!("{} on {}", e.kind.as_str().replace('_', " "), e.date))
                        .unwrap_or_else(|| "an event".into());
                    return Err(problem(
                        format!("nothing was booked: {what} cannot fit"),
                        failure.plan_event_id,
                        failure.conflicts,
                        failure.alternatives,
                        zone,
                        &names,
                    ));
                }
            };
            let mut bookings = Vec::with_capacity(placements.len());
            let mut statuses = Vec::with_capacity(placements.len());
            for p in &placements {
                let minutes = events
                    .iter()
                    .find(|e| e.booking_id == p.booking_id)
                    .map_or(0, |e| e.minutes);
                let escort = (p.kind == EventKind::Infusion)
                    .then(|| escort_name.clone())
                    .flatten();
                let mut booking = self.new_booking(
                    principal,
                    &site,
                    patient.id,
                    p.plan_event_id,
                    p.kind,
                    &p.assignment,
                    minutes,
                    escort,
                    None,
                );
                booking.id = p.booking_id;
                bookings.push(booking);
                if let Some(id) = p.plan_event_id {
                    statuses.push((id, EventStatus::Booked));
                }
            }
            let audit = self.schedule_event(
                principal,
                AuditAction::BookingCreate,
                patient.id,
                serde_json::json!({ "plan_id": plan_id, "whole_plan": true, "bookings": bookings.len() }),
            );
            let commit = BookingCommit {
                new: &bookings,
                event_statuses: &statuses,
                audit: std::slice::from_ref(&audit),
                ..Default::default()
            };
            match self
                .store()
                .commit_bookings(site.id, reading.version, commit)
                .await
            {
                Ok(_) => return Ok(bookings),
                Err(StoreError::StaleVersion { .. }) => {
                    for e in &mut events {
                        e.booking_id = Uuid::now_v7();
                    }
                    continue;
                }
                Err(other) => return Err(ServiceError::from_store("booking", other)),
            }
        }
        Err(ServiceError::Conflict {
            code: "busy",
            message: "the schedule kept changing while booking; try again".into(),
        })
    }

    async fn booking_for_change(
        &self,
        booking_id: Uuid,
        expected_version: i64,
    ) -> Result<(BookingRecord, Site), ServiceError> {
        let booking = self
            .store()
            .get_booking(booking_id)
            .await
            .map_err(|e| ServiceError::from_store("booking", e))?;
        if booking.version != expected_version {
            return Err(ServiceError::StaleVersion {
                current: booking.version,
            });
        }
        if booking.status != BookingStatus::Booked {
            return Err(ServiceError::Conflict {
                code: "not_booked",
                message: format!(
                    "this booking is {}; only a booked one changes",
                    booking.status.as_str().replace('_', " ")
                ),
            });
        }
        let site = self.site_by_id(booking.site_id).await?;
        Ok((booking, site))
    }

    fn required_reason(reason: Option<&str>) -> Result<String, ServiceError> {
        match reason.map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) if r.chars().count() <= 2000 => Ok(r.to_string()),
            Some(_) => Err(ServiceError::Invalid(FieldErrors::one(
                "reason",
                "at most 2000 characters",
            ))),
            None => Err(ServiceError::Invalid(FieldErrors::one(
                "reason",
                "required: say why",
            ))),
        }
    }

    /// Cancels a booking with a reason; its plan event is planned again.
    pub async fn cancel_booking(
        &self,
        principal: &Principal,
        booking_id: Uuid,
        expected_version: i64,
        reason: Option<&str>,
    ) -> Result<BookingRecord, ServiceError> {
        self.authorize(principal, Permission::ScheduleManage, "cancel a booking")
            .await?;
        let reason = Self::required_reason(reason)?;
        self.change_status(
            principal,
            booking_id,
            expected_version,
            BookingStatus::Cancelled,
            Some(reason),
            EventStatus::Planned,
            AuditAction::BookingCancel,
        )
        .await
    }

    /// Records that the patient did not come; the plan event shows it.
    pub async fn record_no_show(
        &self,
        principal: &Principal,
        booking_id: Uuid,
        expected_version: i64,
        note: Option<&str>,
    ) -> Result<BookingRecord, ServiceError> {
        self.authorize(principal, Permission::ScheduleManage, "record a no-show")
            .await?;
        let note = note
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        let booking = self
            .store()
            .get_booking(booking_id)
            .await
            .map_err(|e| ServiceError::from_store("booking", e))?;
        if booking.starts_at > self.now() {
            return Err(ServiceError::Conflict {
                code: "not_yet",
                message: "a no-show is recorded once the appointment time has come".into(),
            });
        }
        self.change_status(
            principal,
            booking_id,
            expected_version,
            BookingStatus::NoShow,
            note,
            EventStatus::NoShow,
            AuditAction::BookingNoShow,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_status(
        &self,
        principal: &Principal,
        booking_id: Uuid,
        expected_version: i64,
        status: BookingStatus,
        reason: Option<String>,
        event_status: EventStatus,
        action: AuditAction,
    ) -> Result<BookingRecord, ServiceError> {
        for _ in 0..MAX_ATTEMPTS {
            let (booking, site) = self
                .booking_for_change(booking_id, expected_version)
                .await?;
            let version = self
                .store()
                .get_site_schedule(site.id)
                .await?
                .map_or(0, |r| r.version);
            let update = BookingUpdate {
                id: booking.id,
                expected_version,
                status,
                reason: reason.clone(),
                updated_by: principal.user.id,
                updated_at: self.now(),
            };
            let statuses: Vec<(Uuid, EventStatus)> = booking
                .plan_event_id
                .map(|id| (id, event_status))
                .into_iter()
                .collect();
            let audit = self.schedule_event(
                principal,
                action,
                booking.patient_id,
                serde_json::json!({ "booking_id": booking.id, "status": status.as_str() }),
            );
            let commit = BookingCommit {
                updates: std::slice::from_ref(&update),
                event_statuses: &statuses,
                audit: std::slice::from_ref(&audit),
                ..Default::default()
            };
            match self.store().commit_bookings(site.id, version, commit).await {
                Ok(_) => {
                    return self
                        .store()
                        .get_booking(booking_id)
                        .await
                        .map_err(|e| ServiceError::from_store("booking", e));
                }
                Err(StoreError::StaleVersion { .. }) => {
                    // Either the site moved on (decide again) or this booking did (refused above next time).
                    continue;
                }
                Err(other) => return Err(ServiceError::from_store("booking", other)),
            }
        }
        Err(ServiceError::Conflict {
            code: "busy",
            message: "the schedule kept changing; try again".into(),
        })
    }

    /// Moves a booking to another local date and time with a reason: the old
    /// one is kept as rescheduled, the new one points back at it.
    pub async fn reschedule_booking(
        &self,
        principal: &Principal,
        booking_id: Uuid,
        expected_version: i64,
        input: &BookInput,
        reason: Option<&str>,
    ) -> Result<BookingRecord, ServiceError> {
        self.authorize(
            principal,
            Permission::ScheduleManage,
            "reschedule a booking",
        )
        .await?;
        let reason = Self::required_reason(reason)?;
        let mut errors = Vec::new();
        let date = input
            .date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
        if date.is_none() {
            errors.push(FieldError::new("date", "required, as YYYY-MM-DD"));
        }
        let time = input
            .time
            .as_deref()
            .and_then(|t| NaiveTime::parse_from_str(t.trim(), "%H:%M").ok());
        if time.is_none() {
            errors.push(FieldError::new("time", "required, as HH:MM (24-hour)"));
        }
        let (Some(date), Some(time)) = (date, time) else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        for _ in 0..MAX_ATTEMPTS {
            let (old, site) = self
                .booking_for_change(booking_id, expected_version)
                .await?;
            let zone = zone_of(&site);
            let start = local_instant(zone, date, time).ok_or_else(|| {
                ServiceError::Invalid(FieldErrors::one(
                    "time",
                    "is not a time on that date in the site's zone",
                ))
            })?;
            let (plan, event) = match old.plan_event_id {
                Some(id) => {
                    let plan_id = self.store().plan_of_event(id).await?;
                    let plan = self.store().get_plan(plan_id).await?;
                    let event = plan.events.iter().find(|e| e.id == id).cloned();
                    (Some(plan), event)
                }
                None => (None, None),
            };
            let protocol = plan
                .as_ref()
                .and_then(|p| self.protocols().get(&p.header.protocol_id));
            let spacing = match (&plan, protocol, old.kind) {
                (Some(plan), Some(protocol), EventKind::Infusion) => Some(Spacing {
                    other_infusion_dates: self
                        .booked_infusion_dates(plan, zone, old.plan_event_id)
                        .await?,
                    min_spacing_days: protocol.definition().infusions.min_spacing_days,
                    max_spacing_days: protocol.definition().infusions.max_spacing_days,
                }),
                _ => None,
            };
            let clinicians: Vec<Uuid> = old.clinician_id.into_iter().collect();
            let reading = self
                .read_site(
                    &site,
                    start - Duration::days(8),
                    start + Duration::days(8),
                    &[old.patient_id],
                    &clinicians,
                )
                .await?;
            let request = Request {
                patient_id: old.patient_id,
                kind: old.kind,
                start,
                minutes: old.minutes,
                resource_kind: resource_kind_for(old.kind),
                resource_id: None,
                clinician_id: old.clinician_id,
                escort_name: input
                    .escort_name
                    .clone()
                    .filter(|e| !e.trim().is_empty())
                    .or_else(|| old.escort_name.clone()),
                spacing,
                window: event.as_ref().filter(|e| e.kind == EventKind::Infusion).map(booking_window),
                replaces: Some(old.id),
            };
            let assignment = match check(&reading.schedule, &request) {
                Ok(a) => a,
                Err(conflicts) => {
                    let slots = alternatives(&reading.schedule, &request, &search(self.now()))
                        .unwrap_or_default();
                    let names = self.name_map(&reading).await;
                    return Err(problem(
                        "this time cannot be booked",
                        old.plan_event_id,
                        conflicts,
                        slots,
                        zone,
                        &names,
                    ));
                }
            };
            let new = self.new_booking(
                principal,
                &site,
                old.patient_id,
                old.plan_event_id,
                old.kind,
                &assignment,
                old.minutes,
                request.escort_name.clone(),
                Some(old.id),
            );
            let update = BookingUpdate {
                id: old.id,
                expected_version,
                status: BookingStatus::Rescheduled,
                reason: Some(reason.clone()),
                updated_by: principal.user.id,
                updated_at: self.now(),
            };
            let audit = self.schedule_event(
                principal,
                AuditAction::BookingReschedule,
                old.patient_id,
                serde_json::json!({ "from": old.id, "to": new.id }),
            );
            let commit = BookingCommit {
                new: std::slice::from_ref(&new),
                updates: std::slice::from_ref(&update),
                audit: std::slice::from_ref(&audit),
                ..Default::default()
            };
            match self
                .store()
                .commit_bookings(site.id, reading.version, commit)
                .await
            {
                Ok(_) => return Ok(new),
                Err(StoreError::StaleVersion { .. }) => continue,
                Err(other) => return Err(ServiceError::from_store("booking", other)),
            }
        }
        Err(ServiceError::Conflict {
            code: "busy",
            message: "the schedule kept changing while booking; try again".into(),
        })
    }

    async fn views(
        &self,
        bookings: Vec<BookingRecord>,
        resource_names: &BTreeMap<Uuid, String>,
    ) -> Result<Vec<BookingView>, ServiceError> {
        let users: BTreeMap<Uuid, String> = self
            .store()
            .list_users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect();
        let mut patients = BTreeMap::new();
        let mut out = Vec::with_capacity(bookings.len());
        for b in bookings {
            if let std::collections::btree_map::Entry::Vacant(slot) = patients.entry(b.patient_id) {
                slot.insert(self.store().get_patient(b.patient_id).await?);
            }
            let p = &patients[&b.patient_id];
            let initial = |s: &str| {
                s.chars()
                    .next()
                    .map(|c| c.to_uppercase().to_string())
                    .unwrap_or_default()
            };
            out.push(BookingView {
                patient_name: format!("{} {}", p.details.given_name, p.details.family_name),
                patient_initials: format!(
                    "{}{}",
                    initial(&p.details.given_name),
                    initial(&p.details.family_name)
                ),
                mrn: p.mrn.as_str().to_string(),
                resource_name: b
                    .resource_id
                    .and_then(|id| resource_names.get(&id).cloned()),
                clinician_name: b.clinician_id.and_then(|id| users.get(&id).cloned()),
                booking: b,
            });
        }
        Ok(out)
    }

    /// A site's day board: chairs and rooms × time, with the bookings (names
    /// are shown to staff; reading it is audited per patient shown).
    pub async fn day_board(
        &self,
        principal: &Principal,
        site_id: Option<Uuid>,
        date: NaiveDate,
    ) -> Result<DayBoard, ServiceError> {
        self.authorize(principal, Permission::ScheduleRead, "read the day board")
            .await?;
        let site = match site_id {
            Some(id) => self.site_by_id(id).await?,
            None => self.main_site().await?,
        };
        let zone = zone_of(&site);
        let start = local_instant(zone, date, NaiveTime::MIN)
            .ok_or_else(|| ServiceError::Invalid(FieldErrors::one("date", "out of range")))?;
        let end = local_instant(zone, date.succ_opt().unwrap_or(date), NaiveTime::MIN)
            .unwrap_or(start + Duration::days(1));
        let schedule = self.store().get_site_schedule(site.id).await?;
        let names: BTreeMap<Uuid, String> = schedule
            .as_ref()
            .map(|s| s.resources.iter().map(|r| (r.id, r.name.clone())).collect())
            .unwrap_or_default();
        let all = self
            .store()
            .site_bookings(site.id, start - Duration::days(30), end)
            .await?;
        let recent_no_shows = all
            .iter()
            .filter(|b| b.status == BookingStatus::NoShow)
            .count();
        let day: Vec<BookingRecord> = all
            .into_iter()
            .filter(|b| b.starts_at < end && b.occupied_until > start)
            .collect();
        let bookings = self.views(day, &names).await?;
        let opening = schedule
            .as_ref()
            .map(|s| {
                rules_from(&site, s)
                    .hours
                    .merged(chrono::Datelike::weekday(&date))
            })
            .unwrap_or_default();
        let closed_reason = schedule.as_ref().and_then(|s| {
            s.closures
                .iter()
                .find(|(d, _)| *d == date)
                .map(|(_, r)| r.clone())
        });
        let patients: BTreeSet<Uuid> = bookings.iter().map(|b| b.booking.patient_id).collect();
        let events = patients
            .into_iter()
            .map(|p| {
                AuditEvent::new(
                    Uuid::now_v7(),
                    self.now(),
                    &principal.actor(),
                    AuditAction::PatientList,
                    AuditTarget::patient(p),
                    Outcome::Success,
                    Some(serde_json::json!({ "view": "day_board" }).to_string()),
                )
            })
            .collect();
        self.audit_writer().record(events).await?;
        Ok(DayBoard {
            site,
            date,
            zone,
            schedule,
            opening,
            closed_reason,
            bookings,
            recent_no_shows,
        })
    }

    /// A clinician's bookings over seven days from `week_start` (their own, or
    /// anyone's for schedule managers).
    pub async fn clinician_week(
        &self,
        principal: &Principal,
        user_id: Uuid,
        week_start: NaiveDate,
    ) -> Result<(Tz, Vec<BookingView>, Vec<clinic_store::schedule::AvailabilityRecord>), ServiceError> {
        self.authorize(
            principal,
            Permission::ScheduleRead,
            "read a clinician's week",
        )
        .await?;
        let site = self.main_site().await?;
        let zone = zone_of(&site);
        let start = local_instant(zone, week_start, NaiveTime::MIN)
            .ok_or_else(|| ServiceError::Invalid(FieldErrors::one("week", "out of range")))?;
        let end = start + Duration::days(7);
        let (bookings, shifts, names) = self.clinician_agenda(user_id, start, end).await?;
        let views = self.views(bookings, &names).await?;
        let patients: BTreeSet<Uuid> = views.iter().map(|b| b.booking.patient_id).collect();
        let events = patients
            .into_iter()
            .map(|p| {
                AuditEvent::new(
                    Uuid::now_v7(),
                    self.now(),
                    &principal.actor(),
                    AuditAction::PatientList,
                    AuditTarget::patient(p),
                    Outcome::Success,
                    Some(serde_json::json!({ "view": "week" }).to_string()),
                )
            })
            .collect();
        self.audit_writer().record(events).await?;
        Ok((zone, views, shifts))
    }

    /// One booking with its names (audited as a read of the patient's plan).
    pub async fn get_booking(&self, principal: &Principal, booking_id: Uuid) -> Result<BookingView, ServiceError> {
        self.authorize(principal, Permission::ScheduleRead, "read a booking").await?;
        let booking = self.store().get_booking(booking_id).await.map_err(|e| ServiceError::from_store("booking", e))?;
        let names = self.store().get_site_schedule(booking.site_id).await?.map(|s| s.resources.iter().map(|r| (r.id, r.name.clone())).collect()).unwrap_or_default();
        let patient_id = booking.patient_id;
        let view = self.views(vec![booking], &names).await?.into_iter().next().ok_or(ServiceError::NotFound { resource: "booking" })?;
        let event = self.schedule_event(principal, AuditAction::PlanRead, patient_id, serde_json::json!({ "booking_id": booking_id }));
        self.audit_writer().record(vec![event]).await?;
        Ok(view)
    }

    /// A patient's bookings (any status), for the chart (audited as a plan read).
    pub async fn patient_bookings(
        &self,
        principal: &Principal,
        patient_id: Uuid,
    ) -> Result<Vec<BookingView>, ServiceError> {
        self.authorize(
            principal,
            Permission::ScheduleRead,
            "read a patient's bookings",
        )
        .await?;
        let bookings = self.store().patient_bookings(patient_id).await?;
        let mut names = BTreeMap::new();
        for site in self.store().list_sites().await? {
            if let Some(s) = self.store().get_site_schedule(site.id).await? {
                names.extend(s.resources.iter().map(|r| (r.id, r.name.clone())));
            }
        }
        let views = self.views(bookings, &names).await?;
        let event = self.schedule_event(
            principal,
            AuditAction::PlanRead,
            patient_id,
            serde_json::json!({ "view": "bookings" }),
        );
        self.audit_writer().record(vec![event]).await?;
        Ok(views)
    }
}

/// A site's scheduling settings as typed (JSON or the admin form).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteScheduleInput {
    /// Minutes a chair stays occupied after an infusion; null: needs clinic setting.
    pub recovery_minutes: Option<i64>,
    /// So many nurses per so many running chairs; null: needs clinic setting.
    pub nurses_per_chair: Option<RatioInput>,
    /// Whether a physician must be on site during infusions; null: needs clinic setting.
    pub physician_on_site: Option<bool>,
    #[serde(default)]
    pub hours: Vec<HoursInput>,
    #[serde(default)]
    pub closures: Vec<ClosureInput>,
    #[serde(default)]
    pub resources: Vec<ResourceInput>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioInput {
    pub nurses: i64,
    pub chairs: i64,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursInput {
    /// mon, tue, wed, thu, fri, sat or sun.
    pub weekday: String,
    /// HH:MM local.
    pub opens: String,
    pub closes: String,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosureInput {
    pub date: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceInput {
    /// Keep an existing chair or room (rename it); none adds one.
    pub id: Option<Uuid>,
    /// chair or room.
    pub kind: String,
    pub name: String,
}

/// Staff time on site as typed: local date and times at the site.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffHoursInput {
    pub user_id: Uuid,
    /// YYYY-MM-DD, the first day.
    pub from: String,
    /// YYYY-MM-DD, the last day (included).
    pub to: String,
    /// Which weekdays (mon … sun); empty means every day in the range.
    #[serde(default)]
    pub weekdays: Vec<String>,
    /// HH:MM local.
    pub starts: String,
    pub ends: String,
}

pub const WEEKDAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday_index(text: &str) -> Option<i64> {
    WEEKDAY_NAMES
        .iter()
        .position(|w| *w == text.trim().to_lowercase())
        .and_then(|i| i64::try_from(i).ok())
}

impl<S: Store> Clinic<S> {
    /// The stored settings of a site (none before an administrator sets them).
    pub async fn site_schedule(
        &self,
        principal: &Principal,
        site_id: Uuid,
    ) -> Result<(Site, Option<SiteScheduleRecord>), ServiceError> {
        if !clinic_domain::authz::role_allows(principal.user.role, Permission::SiteManage) {
            self.authorize(
                principal,
                Permission::ScheduleRead,
                "read a site's schedule settings",
            )
            .await?;
        }
        let site = self.site_by_id(site_id).await?;
        let record = self.store().get_site_schedule(site_id).await?;
        Ok((site, record))
    }

    /// Replaces a site's rules, hours and closures and adds or renames its
    /// chairs and rooms, refusing settings that contradict themselves.
    pub async fn save_site_schedule(
        &self,
        principal: &Principal,
        site_id: Uuid,
        input: &SiteScheduleInput,
    ) -> Result<SiteScheduleRecord, ServiceError> {
        self.authorize(
            principal,
            Permission::SiteManage,
            "change a site's schedule settings",
        )
        .await?;
        let site = self.site_by_id(site_id).await?;
        let existing = self.store().get_site_schedule(site_id).await?;
        let mut errors = Vec::new();
        let mut hours = Vec::new();
        for (i, h) in input.hours.iter().enumerate() {
            let weekday = weekday_index(&h.weekday);
            if weekday.is_none() {
                errors.push(FieldError::new(
                    format!("hours[{i}].weekday"),
                    format!("must be one of: {}", WEEKDAY_NAMES.join(", ")),
                ));
            }
            let opens = NaiveTime::parse_from_str(h.opens.trim(), "%H:%M")
                .map_err(|_| {
                    errors.push(FieldError::new(
                        format!("hours[{i}].opens"),
                        "a time as HH:MM",
                    ))
                })
                .ok();
            let closes = NaiveTime::parse_from_str(h.closes.trim(), "%H:%M")
                .map_err(|_| {
                    errors.push(FieldError::new(
                        format!("hours[{i}].closes"),
                        "a time as HH:MM",
                    ))
                })
                .ok();
            if let (Some(weekday), Some(opens), Some(closes)) = (weekday, opens, closes) {
                if closes <= opens {
                    errors.push(FieldError::new(
                        format!("hours[{i}].closes"),
                        "must be after opens",
                    ));
                }
                hours.push(clinic_store::schedule::OpeningRow {
                    weekday,
                    opens,
                    closes,
                });
            }
        }
        let mut closures = Vec::new();
        for (i, c) in input.closures.iter().enumerate() {
            match NaiveDate::parse_from_str(c.date.trim(), "%Y-%m-%d") {
                Ok(date) if !c.reason.trim().is_empty() => {
                    closures.push((date, c.reason.trim().to_string()))
                }
                Ok(_) => errors.push(FieldError::new(format!("closures[{i}].reason"), "required")),
                Err(_) => errors.push(FieldError::new(
                    format!("closures[{i}].date"),
                    "a date as YYYY-MM-DD",
                )),
            }
        }
        closures.sort();
        closures.dedup_by_key(|c| c.0);
        if let Some(m) = input
            .recovery_minutes
            .filter(|m| !(0..=clinic_domain::schedule::validate::MAX_RECOVERY_MINUTES).contains(m))
        {
            errors.push(FieldError::new(
                "recovery_minutes",
                format!(
                    "{m} is outside 0 to {} minutes",
                    clinic_domain::schedule::validate::MAX_RECOVERY_MINUTES
                ),
            ));
        }
        if let Some(r) = &input.nurses_per_chair {
            if r.nurses < 1
                || r.chairs < 1
                || u32::try_from(r.nurses).is_err()
                || u32::try_from(r.chairs).is_err()
            {
                errors.push(FieldError::new(
                    "nurses_per_chair",
                    "nurses and chairs must both be whole numbers of at least 1",
                ));
            }
        }
        let mut resources = existing
            .as_ref()
            .map(|e| e.resources.clone())
            .unwrap_or_default();
        let mut names = BTreeSet::new();
        for (i, r) in input.resources.iter().enumerate() {
            let kind = ResourceKind::parse(r.kind.trim())
                .map_err(|e| {
                    errors.push(FieldError::new(format!("resources[{i}].kind"), e.message))
                })
                .ok();
            let name = r.name.trim().to_string();
            if name.is_empty() || name.chars().count() > 60 {
                errors.push(FieldError::new(
                    format!("resources[{i}].name"),
                    "required, at most 60 characters",
                ));
            } else if !names.insert(name.to_lowercase()) {
                errors.push(FieldError::new(
                    format!("resources[{i}].name"),
                    format!("{name} is named twice"),
                ));
            }
            let position = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
            match (r.id, kind) {
                (Some(id), _) => match resources.iter_mut().find(|x| x.id == id) {
                    Some(x) => {
                        x.name = name;
                        x.position = position;
                    }
                    None => errors.push(FieldError::new(
                        format!("resources[{i}].id"),
                        "no such chair or room at this site",
                    )),
                },
                // Named like an existing one of the same kind: that one, kept.
                (None, Some(kind)) => {
                    match resources.iter_mut().find(|x| x.kind == kind && x.name.to_lowercase() == name.to_lowercase()) {
                        Some(x) => {
                            x.name = name;
                            x.position = position;
                        }
                        None => resources.push(clinic_store::schedule::ResourceRecord { id: Uuid::now_v7(), site_id, kind, name, position }),
                    }
                }
                (None, None) => {}
            }
        }
        let record = SiteScheduleRecord {
            site_id,
            recovery_minutes: input.recovery_minutes,
            nurses_per_chairs: input
                .nurses_per_chair
                .as_ref()
                .map(|r| (r.nurses, r.chairs)),
            physician_on_site: input.physician_on_site,
            hours,
            closures,
            resources,
            version: existing.as_ref().map_or(0, |e| e.version),
        };
        if errors.is_empty() {
            let schedule = SiteSchedule {
                rules: rules_from(&site, &record),
                resources: record
                    .resources
                    .iter()
                    .map(|r| Resource {
                        id: r.id,
                        kind: r.kind,
                        name: r.name.clone(),
                    })
                    .collect(),
                staff: Vec::new(),
                bookings: Vec::new(),
            };
            errors.extend(
                clinic_domain::schedule::validate::validate_site(&schedule)
                    .into_iter()
                    .map(|c| c.field_error()),
            );
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &principal.actor(),
            AuditAction::SiteScheduleUpdate,
            AuditTarget::resource("site", site_id.to_string()),
            Outcome::Success,
            None,
        );
        Ok(self.store().save_site_schedule(&record, &audit).await?)
    }

    /// Adds a staff member's time on site for a run of days, in the site's zone.
    pub async fn add_staff_hours(
        &self,
        principal: &Principal,
        site_id: Uuid,
        input: &StaffHoursInput,
    ) -> Result<usize, ServiceError> {
        self.authorize(principal, Permission::SiteManage, "set staff hours")
            .await?;
        let site = self.site_by_id(site_id).await?;
        let zone = zone_of(&site);
        let mut errors = Vec::new();
        let user = self
            .store()
            .get_user(input.user_id)
            .await
            .map_err(|_| errors.push(FieldError::new("user_id", "no such staff account")))
            .ok();
        if user
            .as_ref()
            .is_some_and(|u| u.role == clinic_domain::user::Role::Patient)
        {
            errors.push(FieldError::new(
                "user_id",
                "a patient account has no staff hours",
            ));
        }
        let from = NaiveDate::parse_from_str(input.from.trim(), "%Y-%m-%d")
            .map_err(|_| errors.push(FieldError::new("from", "a date as YYYY-MM-DD")))
            .ok();
        let to = NaiveDate::parse_from_str(input.to.trim(), "%Y-%m-%d")
            .map_err(|_| errors.push(FieldError::new("to", "a date as YYYY-MM-DD")))
            .ok();
        let starts = NaiveTime::parse_from_str(input.starts.trim(), "%H:%M")
            .map_err(|_| errors.push(FieldError::new("starts", "a time as HH:MM")))
            .ok();
        let ends = NaiveTime::parse_from_str(input.ends.trim(), "%H:%M")
            .map_err(|_| errors.push(FieldError::new("ends", "a time as HH:MM")))
            .ok();
        let mut weekdays = BTreeSet::new();
        for w in &input.weekdays {
            match weekday_index(w) {
                Some(i) => {
                    weekdays.insert(i);
                }
                None => errors.push(FieldError::new(
                    "weekdays",
                    format!("must be among: {}", WEEKDAY_NAMES.join(", ")),
                )),
            }
        }
        if let (Some(from), Some(to)) = (from, to) {
            if to < from || (to - from).num_days() > 366 {
                errors.push(FieldError::new(
                    "to",
                    "must be on or after from, at most a year later",
                ));
            }
        }
        if let (Some(s), Some(e)) = (starts, ends) {
            if e <= s {
                errors.push(FieldError::new("ends", "must be after starts"));
            }
        }
        let (Some(from), Some(to), Some(starts), Some(ends), true) =
            (from, to, starts, ends, errors.is_empty())
        else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        let mut rows = Vec::new();
        let mut day = from;
        while day <= to {
            let index = i64::from(chrono::Datelike::weekday(&day).num_days_from_monday());
            if weekdays.is_empty() || weekdays.contains(&index) {
                if let (Some(s), Some(e)) = (
                    local_instant(zone, day, starts),
                    local_instant(zone, day, ends),
                ) {
                    rows.push(clinic_store::schedule::AvailabilityRecord {
                        id: Uuid::now_v7(),
                        user_id: input.user_id,
                        site_id,
                        starts_at: s,
                        ends_at: e,
                    });
                }
            }
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &principal.actor(),
            AuditAction::SiteScheduleUpdate,
            AuditTarget::resource("site", site_id.to_string()),
            Outcome::Success,
            Some(
                serde_json::json!({ "staff_hours": rows.len(), "user_id": input.user_id })
                    .to_string(),
            ),
        );
        self.store().add_availability(&rows, &audit).await?;
        Ok(rows.len())
    }
}

/// The day-before reminder, in neutral words: the clinic's name, the day and
/// time, and for an infusion the practical instructions (clinical.md §2.3:
/// fasting per the clinic's instructions; an adult to take the patient home;
/// no driving until the next day after a night's sleep, Spravato label) —
/// never the treatment, the drug or a substance.
pub fn reminder_text(
    clinic_name: &str,
    given_name: &str,
    local_start: &str,
    kind: EventKind,
) -> String {
    let mut text = format!(
        "Hello {given_name}, a reminder from {clinic_name}: you have an appointment tomorrow, {local_start}."
    );
    if kind == EventKind::Infusion {
        text.push_str(
            " Please follow the eating and drinking instructions the clinic gave you, come with the adult who will take you home, \
             and do not drive or operate machinery until the next day, after a night's sleep.",
        );
    }
    text.push_str(" To change it, call the clinic.");
    text
}

impl<S: Store> Clinic<S> {
    /// Queues the day-before reminder for every booking that starts on the
    /// next local day at its site and has none yet, on the patient's consented
    /// text channel (none is sent without one; the audit says so). Safe to run
    /// often: a booking is reminded once. Returns how many were handled.
    pub async fn queue_day_before_reminders(
        &self,
        now: DateTime<Utc>,
    ) -> Result<u64, ServiceError> {
        let mut handled = 0;
        for site in self.store().list_sites().await? {
            let zone = zone_of(&site);
            let Some(today) = local_date(zone, now) else {
                continue;
            };
            let Some(tomorrow) = today.succ_opt() else {
                continue;
            };
            let (Some(from), Some(to)) = (
                local_instant(zone, tomorrow, NaiveTime::MIN),
                tomorrow
                    .succ_opt()
                    .and_then(|d| local_instant(zone, d, NaiveTime::MIN)),
            ) else {
                continue;
            };
            let due: Vec<BookingRecord> = self
                .store()
                .bookings_needing_reminder(from, to)
                .await?
                .into_iter()
                .filter(|b| b.site_id == site.id)
                .collect();
            let mut reminders = Vec::with_capacity(due.len());
            for booking in &due {
                let patient = self.store().get_patient(booking.patient_id).await?;
                let local = booking
                    .starts_at
                    .with_timezone(&zone)
                    .format("%A %-d %B at %H:%M")
                    .to_string();
                let message = clinic_domain::portal::link_channel(&patient.details).map(
                    |(channel, address)| clinic_store::screening::OutboxMessage {
                        id: Uuid::now_v7(),
                        patient_id: Some(patient.id),
                        channel,
                        address,
                        body: reminder_text(
                            &site.name,
                            &patient.details.given_name,
                            &local,
                            booking.kind,
                        ),
                        created_at: now,
                        sent_at: None,
                    },
                );
                let detail = serde_json::json!({ "booking_id": booking.id, "channel": message.as_ref().map(|m| m.channel.as_str()), "sent": message.is_some() });
                let audit = AuditEvent::new(
                    Uuid::now_v7(),
                    now,
                    &clinic_domain::audit::Actor::system_reminders(),
                    AuditAction::ReminderQueue,
                    AuditTarget::patient(patient.id),
                    Outcome::Success,
                    Some(detail.to_string()),
                );
                reminders.push((booking.id, message, audit));
            }
            if !reminders.is_empty() {
                handled += self.store().queue_reminders(&reminders, now).await?;
            }
        }
        Ok(handled)
    }
}

/// Runs the reminders every `interval` until the process ends.
pub fn spawn_reminders<S: Store>(
    clinic: Clinic<S>,
    interval: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = clinic.queue_day_before_reminders(clinic.now()).await {
                tracing::warn!(error = %err, "queueing reminders failed; will retry");
            }
        }
    })
}

impl<S: Store> Clinic<S> {
    /// What a clinician is booked for over `[from, to)`: the sessions they
    /// lead and, for nurses and physicians, the infusions running while they
    /// are on site; with their time on site and the names of chairs and rooms.
    pub async fn clinician_agenda(
        &self,
        user_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<BookingRecord>, Vec<clinic_store::schedule::AvailabilityRecord>, BTreeMap<Uuid, String>), ServiceError> {
        let user = self.store().get_user(user_id).await.map_err(|e| ServiceError::from_store("clinician", e))?;
        let mut bookings: BTreeMap<Uuid, BookingRecord> =
            self.store().clinician_bookings(user_id, from, to).await?.into_iter().map(|b| (b.id, b)).collect();
        let mut names = BTreeMap::new();
        let mut shifts = Vec::new();
        for site in self.store().list_sites().await? {
            if let Some(schedule) = self.store().get_site_schedule(site.id).await? {
                names.extend(schedule.resources.iter().map(|r| (r.id, r.name.clone())));
            }
            let mine: Vec<_> = self.store().list_availability(site.id, from, to).await?.into_iter().filter(|a| a.user_id == user_id).collect();
            if matches!(user.role, clinic_domain::user::Role::Nurse | clinic_domain::user::Role::Physician) && !mine.is_empty() {
                for b in self.store().site_bookings(site.id, from, to).await? {
                    let end = b.starts_at + Duration::minutes(b.minutes);
                    if b.kind == EventKind::Infusion && mine.iter().any(|s| s.starts_at < end && s.ends_at > b.starts_at) {
                        bookings.insert(b.id, b);
                    }
                }
            }
            shifts.extend(mine);
        }
        let mut bookings: Vec<BookingRecord> = bookings.into_values().collect();
        bookings.sort_by_key(|b| (b.starts_at, b.id));
        shifts.sort_by_key(|s| s.starts_at);
        Ok((bookings, shifts, names))
    }
}

/// One of a patient's coming appointments, as the portal shows it.
#[derive(Debug, Clone)]
pub struct Appointment {
    pub kind: EventKind,
    /// "Tuesday 8 December at 09:00", in the site's zone.
    pub when: String,
    pub site_name: String,
    pub place: Option<String>,
}

impl<S: Store> Clinic<S> {
    /// The patient's own coming appointments, for the portal (their session
    /// is the authority; the read is audited as a portal read).
    pub async fn portal_appointments(&self, view: &crate::screening::PortalView) -> Result<Vec<Appointment>, ServiceError> {
        let now = self.now();
        let sites: BTreeMap<Uuid, Site> = self.store().list_sites().await?.into_iter().map(|s| (s.id, s)).collect();
        let mut out = Vec::new();
        for b in self.store().patient_bookings(view.patient.id).await? {
            if b.status != BookingStatus::Booked || b.starts_at + Duration::minutes(b.minutes) < now {
                continue;
            }
            let Some(site) = sites.get(&b.site_id) else { continue };
            let place = match b.resource_id {
                Some(id) => self.store().get_site_schedule(site.id).await?.and_then(|s| s.resources.into_iter().find(|r| r.id == id).map(|r| r.name)),
                None => None,
            };
            out.push(Appointment {
                kind: b.kind,
                when: b.starts_at.with_timezone(&zone_of(site)).format("%A %-d %B at %H:%M").to_string(),
                site_name: site.name.clone(),
                place,
            });
        }
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &crate::screening::portal_actor(&view.patient, None),
            AuditAction::PortalRead,
            AuditTarget::patient(view.patient.id),
            Outcome::Success,
            Some(serde_json::json!({ "view": "appointments", "count": out.len() }).to_string()),
        );
        self.audit_writer().record(vec![audit]).await?;
        Ok(out)
    }
}
