//! Auto-scheduling the plans of 500 patients across 2 sites, 10 chairs and
//! 12 weeks (issue 5 part 8): how long "schedule whole plan" takes, and how
//! much of the plans it books.
//!
//! Setup (not timed), through the public service API on a real store: two
//! sites, each open Monday to Friday 08:00–18:00 with 5 chairs and 2 rooms,
//! 60 minutes' recovery, 1 nurse per 2 running chairs and a physician on site
//! during infusions; per site 3 nurses, 2 physicians and 3 counselors on site
//! 08:00–18:00 every weekday of the 12 weeks, plus one front desk and one
//! administrator; 500 eligible synthetic patients (`seed::demo_patient`),
//! half at each site, each with a signed plan of a protocol their substances
//! allow (least used first). Plans start on Mondays, spread round-robin over
//! the first 9 weeks, but never so late that the course would run past the
//! 12 weeks (35-day courses start in the first 8).
//!
//! Timed: 500 sequential `Clinic::schedule_whole_plan` calls by the front
//! desk at 09:00. A plan that does not fit is then booked event by event
//! (`book_event` at 09:00, else the first alternative on the same day), timed
//! separately, to give the fraction of events that can be booked at all.
//!
//! Run: `cargo bench -p clinic-service --bench schedule_plans`
//! (with `TEST_POSTGRES_URL` set, PostgreSQL is measured too).
//! Knobs for sensitivity runs: `SCHEDULE_BENCH_ROOMS` (default 2) sets the
//! rooms per site, `SCHEDULE_BENCH_COUNSELORS` (default 3) the counselors
//! per site; `SCHEDULE_BENCH_MOVE_WEEKEND=1` has the physician move
//! every session the protocol puts on a Saturday or Sunday to the Monday
//! after (a plan edit with a reason, as the demo seed does) before signing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::patient::{ContactInput, PatientDetails};
use clinic_domain::plan::EventStatus;
use clinic_domain::protocol::EventKind;
use clinic_domain::user::Role;
use clinic_service::auth::Principal;
use clinic_service::data::DataFiles;
use clinic_service::error::ServiceError;
use clinic_service::plans::{EditInput, NewPlanInput};
use clinic_service::scheduling::{
    BookInput, HoursInput, RatioInput, ResourceInput, SchedulingSettings, SiteScheduleInput, StaffHoursInput,
};
use clinic_service::{Clinic, DeploymentMode, ServiceConfig};
use clinic_store::records::{NewPatient, User};
use clinic_store::Store;
use uuid::Uuid;

const N_PATIENTS: usize = 500;
const HORIZON_WEEKS: i64 = 12;
const START_WEEKS: i64 = 9;
const CHAIRS_PER_SITE: usize = 5;
const OPENS: &str = "08:00";
const CLOSES: &str = "18:00";
const OPEN_MINUTES_PER_DAY: i64 = 600;
const RECOVERY_MINUTES: i64 = 60;
const DEFAULT_SESSION_MINUTES: i64 = 60;
const PREFERRED_TIME: &str = "09:00";
const WEEKDAYS: [&str; 5] = ["mon", "tue", "wed", "thu", "fri"];
const PASSWORD: &str = "Bench-passphrase-2026";
/// Staff per site: (role, how many, username stem); counselors per `Variant`.
fn staff_per_site(counselors: usize) -> [(Role, usize, &'static str); 3] {
    [(Role::Nurse, 3, "nurse"), (Role::Physician, 2, "physician"), (Role::Counselor, counselors, "counselor")]
}

fn horizon_start() -> anyhow::Result<NaiveDate> {
    // A Monday well in the future, so no event is in the past.
    NaiveDate::from_ymd_opt(2031, 1, 6).ok_or_else(|| anyhow::anyhow!("bad date"))
}

fn principal(user: &User) -> Principal {
    Principal { user: user.clone(), token_hash: "bench".into(), csrf_token: String::new(), client_addr: None }
}

fn wanted_kind(kind: EventKind) -> bool {
    matches!(kind, EventKind::Infusion | EventKind::Therapy | EventKind::Integration)
}

fn count_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn ratio(num: usize, den: usize) -> f64 {
    f64::from(u32::try_from(num).unwrap_or(u32::MAX)) / f64::from(u32::try_from(den.max(1)).unwrap_or(u32::MAX))
}

/// Exact for the magnitudes used here.
fn float(n: i64) -> f64 {
    i32::try_from(n).map(f64::from).unwrap_or(f64::MAX)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One signed plan to schedule.
struct PlanCase {
    plan_id: Uuid,
    site: usize,
    protocol_id: String,
    start: NaiveDate,
    /// Infusion, therapy and integration events: (id, kind).
    wanted: Vec<(Uuid, EventKind)>,
    weekend_events: usize,
    past_horizon_events: usize,
}

/// Minutes of chairs (infusion + recovery) and of rooms (sessions) the plans ask of each site.
#[derive(Default, Clone, Copy)]
struct Demand {
    chair_minutes: i64,
    room_minutes: i64,
    infusions: usize,
    sessions: usize,
    /// Room-minutes asked for on each weekday, Monday first.
    room_minutes_by_weekday: [i64; 7],
}

struct Setup<S: Store> {
    clinic: Clinic<S>,
    frontdesk: Principal,
    plans: Vec<PlanCase>,
    demand: [Demand; 2],
    open_days: i64,
    /// Weekend sessions moved to the Monday after, and moves the plan rules refused.
    moved: usize,
    move_refused: usize,
    setup_time: Duration,
}

/// What a run varies.
#[derive(Clone, Copy)]
struct Variant {
    rooms: usize,
    counselors: usize,
    move_weekend: bool,
}

async fn set_up<S: Store>(store: S, variant: Variant) -> anyhow::Result<Setup<S>> {
    let rooms = variant.rooms;
    let started = Instant::now();
    store.ensure_site(&clinic_service::seed::demo_site()).await?;
    store.add_site(&clinic_service::seed::demo_second_site()).await?;
    let sites = store.list_sites().await?;
    anyhow::ensure!(sites.len() == 2, "expected 2 sites, found {}", sites.len());
    let mut config = ServiceConfig::standard(DeploymentMode::Production);
    config.scheduling = SchedulingSettings { default_session_minutes: Some(DEFAULT_SESSION_MINUTES), preferred_start: None };
    let clinic = Clinic::new(store.clone(), config, DataFiles::embedded())?;

    // Staff.
    let cli = Actor::system_cli();
    clinic.add_user(&cli, "admin", "Bench Admin", Role::Admin, PASSWORD).await?;
    clinic.add_user(&cli, "frontdesk", "Bench Front Desk", Role::Frontdesk, PASSWORD).await?;
    for (s, letter) in ["a", "b"].iter().enumerate() {
        for (role, n, stem) in staff_per_site(variant.counselors) {
            for k in 1..=n {
                let username = format!("{stem}-{letter}{k}");
                clinic.add_user(&cli, &username, &format!("Bench {stem} {k} site {}", s + 1), role, PASSWORD).await?;
            }
        }
    }
    let users = store.list_users().await?;
    let by_name = |name: &str| users.iter().find(|u| u.username == name).map(principal);
    let admin = by_name("admin").ok_or_else(|| anyhow::anyhow!("no admin"))?;
    let frontdesk = by_name("frontdesk").ok_or_else(|| anyhow::anyhow!("no front desk"))?;
    let physician = by_name("physician-a1").ok_or_else(|| anyhow::anyhow!("no physician"))?;

    // Sites: rules, hours, chairs and rooms; staff on site every weekday of the horizon.
    let h0 = horizon_start()?;
    let last_day = h0 + chrono::Duration::weeks(HORIZON_WEEKS) - chrono::Duration::days(1);
    for (s, (site, letter)) in sites.iter().zip(["a", "b"]).enumerate() {
        let mut resources: Vec<ResourceInput> = (1..=CHAIRS_PER_SITE)
            .map(|c| ResourceInput { id: None, kind: "chair".into(), name: format!("Chair {c}") })
            .collect();
        resources.extend((1..=rooms).map(|r| ResourceInput { id: None, kind: "room".into(), name: format!("Room {r}") }));
        let input = SiteScheduleInput {
            recovery_minutes: Some(RECOVERY_MINUTES),
            nurses_per_chair: Some(RatioInput { nurses: 1, chairs: 2 }),
            physician_on_site: Some(true),
            hours: WEEKDAYS
                .iter()
                .map(|d| HoursInput { weekday: (*d).into(), opens: OPENS.into(), closes: CLOSES.into() })
                .collect(),
            closures: Vec::new(),
            resources,
        };
        clinic.save_site_schedule(&admin, site.id, &input).await.map_err(|e| anyhow::anyhow!("site {}: {e:?}", s + 1))?;
        for (_, n, stem) in staff_per_site(variant.counselors) {
            for k in 1..=n {
                let user = users
                    .iter()
                    .find(|u| u.username == format!("{stem}-{letter}{k}"))
                    .ok_or_else(|| anyhow::anyhow!("no {stem}-{letter}{k}"))?;
                let input = StaffHoursInput {
                    user_id: user.id,
                    from: h0.to_string(),
                    to: last_day.to_string(),
                    weekdays: WEEKDAYS.iter().map(|d| (*d).to_string()).collect(),
                    starts: OPENS.into(),
                    ends: CLOSES.into(),
                };
                clinic.add_staff_hours(&admin, site.id, &input).await.map_err(|e| anyhow::anyhow!("staff hours: {e:?}"))?;
            }
        }
    }
    let open_days = count_i64(h0.iter_days().take_while(|d| *d <= last_day).filter(|d| d.weekday().num_days_from_monday() < 5).count());

    // Patients: eligible, with an escort, half at each site (created directly, as the demo seed does).
    let today = chrono::Utc::now().date_naive();
    let seed_actor = Actor { user_id: None, name: "system:bench".into(), role: None, client_addr: None };
    let mut patients = Vec::with_capacity(N_PATIENTS);
    for idx in 0..N_PATIENTS {
        let mut input = clinic_service::seed::demo_patient(idx, today);
        input.status = Some("eligible".into());
        if input.escort.is_none() {
            input.escort = Some(ContactInput {
                name: Some(format!("Escort {idx}")),
                relationship: Some("friend".into()),
                phone: Some(format!("555-010-{:04}", 2000 + idx)),
            });
        }
        let details = PatientDetails::parse(&input, today)?;
        let id = Uuid::now_v7();
        let now = clinic_service::now();
        let event = AuditEvent::new(Uuid::now_v7(), now, &seed_actor, AuditAction::PatientCreate, AuditTarget::patient(id), Outcome::Success, None);
        let site = sites.get(idx % 2).ok_or_else(|| anyhow::anyhow!("site"))?;
        patients.push(store.create_patient(&NewPatient { id, site_id: site.id, details, created_at: now }, &event).await?);
    }

    // Plans: a protocol the patient's substances allow, least used first; signed.
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    let mut plans = Vec::with_capacity(N_PATIENTS);
    let mut demand = [Demand::default(); 2];
    let (mut moved, mut move_refused) = (0usize, 0usize);
    for (idx, patient) in patients.iter().enumerate() {
        let mut fitting: Vec<_> = clinic
            .protocols()
            .iter()
            .filter(|p| p.definition().substances.iter().any(|s| patient.details.substances.iter().any(|ps| ps.as_str() == s)))
            .collect();
        fitting.sort_by_key(|p| (used.get(p.id()).copied().unwrap_or(0), p.id().to_string()));
        let protocol = *fitting.first().ok_or_else(|| anyhow::anyhow!("no protocol for patient {idx}"))?;
        *used.entry(protocol.id().to_string()).or_default() += 1;
        let def = protocol.definition();
        // Mondays on which the whole course still ends inside the horizon, at most the first 9.
        let course_weeks = (def.course_days + 6) / 7;
        let start_weeks = START_WEEKS.min(HORIZON_WEEKS - course_weeks + 1).max(1);
        let week = count_i64(idx / 2) % start_weeks;
        let start = h0 + chrono::Duration::weeks(week);
        let plan = clinic
            .create_plan(&physician, patient.id, &NewPlanInput { protocol_id: Some(protocol.id().into()), start_date: Some(start.to_string()) })
            .await
            .map_err(|e| anyhow::anyhow!("plan for patient {idx}: {e:?}"))?;
        let mut plan = plan;
        if variant.move_weekend {
            let weekend: Vec<(Uuid, NaiveDate)> = plan
                .events
                .iter()
                .filter(|e| wanted_kind(e.kind) && e.date.weekday().num_days_from_monday() >= 5)
                .map(|e| (e.id, e.date + chrono::Duration::days(7 - i64::from(e.date.weekday().num_days_from_monday()))))
                .collect();
            for (event_id, monday) in weekend {
                let input = EditInput {
                    action: Some("move".into()),
                    event_id: Some(event_id.to_string()),
                    date: Some(monday.to_string()),
                    reason: Some("the site is closed at weekends".into()),
                    ..EditInput::default()
                };
                match clinic.edit_plan(&physician, plan.header.id, plan.header.version, &input).await {
                    Ok(edited) => {
                        plan = edited;
                        moved += 1;
                    }
                    Err(ServiceError::Invalid(_) | ServiceError::Conflict { .. }) => move_refused += 1,
                    Err(other) => anyhow::bail!("move: {other:?}"),
                }
            }
        }
        clinic.sign_plan(&physician, plan.header.id, plan.header.version).await.map_err(|e| anyhow::anyhow!("sign: {e:?}"))?;
        let wanted: Vec<_> = plan.events.iter().filter(|e| wanted_kind(e.kind)).collect();
        let site = idx % 2;
        let d = demand.get_mut(site).ok_or_else(|| anyhow::anyhow!("site"))?;
        for e in &wanted {
            let session_minutes = match e.kind {
                EventKind::Infusion => {
                    d.chair_minutes += def.infusions.minutes + RECOVERY_MINUTES;
                    d.infusions += 1;
                    continue;
                }
                EventKind::Therapy => def.therapy.as_ref().and_then(|t| t.session_minutes),
                _ => def.integration.as_ref().and_then(|t| t.session_minutes),
            }
            .unwrap_or(DEFAULT_SESSION_MINUTES);
            d.room_minutes += session_minutes;
            d.sessions += 1;
            let weekday = usize::try_from(e.date.weekday().num_days_from_monday()).unwrap_or(0);
            if let Some(m) = d.room_minutes_by_weekday.get_mut(weekday) {
                *m += session_minutes;
            }
        }
        plans.push(PlanCase {
            plan_id: plan.header.id,
            site,
            protocol_id: protocol.id().to_string(),
            start,
            weekend_events: wanted.iter().filter(|e| e.date.weekday().num_days_from_monday() >= 5).count(),
            past_horizon_events: wanted.iter().filter(|e| e.date > last_day).count(),
            wanted: wanted.iter().map(|e| (e.id, e.kind)).collect(),
        });
    }
    clinic.audit_writer().flush().await?;
    Ok(Setup { clinic, frontdesk, plans, demand, open_days, moved, move_refused, setup_time: started.elapsed() })
}

/// Infusions booked now, and therapy and integration sessions booked now.
async fn booked_by_kind<S: Store>(clinic: &Clinic<S>, plans: &[PlanCase]) -> anyhow::Result<(usize, usize)> {
    let (mut infusions, mut sessions) = (0, 0);
    for p in plans {
        let plan = clinic.store().get_plan(p.plan_id).await?;
        for e in plan.events.iter().filter(|e| wanted_kind(e.kind) && e.status == EventStatus::Booked) {
            if e.kind == EventKind::Infusion {
                infusions += 1;
            } else {
                sessions += 1;
            }
        }
    }
    Ok((infusions, sessions))
}

/// Infusion, therapy and integration events of each plan that are booked now.
async fn booked_events<S: Store>(clinic: &Clinic<S>, plans: &[PlanCase]) -> anyhow::Result<Vec<usize>> {
    let mut booked = Vec::with_capacity(plans.len());
    for p in plans {
        let plan = clinic.store().get_plan(p.plan_id).await?;
        booked.push(plan.events.iter().filter(|e| wanted_kind(e.kind) && e.status == EventStatus::Booked).count());
    }
    Ok(booked)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let n = sorted.len();
    let rank = (q * f64::from(u32::try_from(n).unwrap_or(u32::MAX))).ceil();
    let mut index = 0usize;
    while index + 1 < n && f64::from(u32::try_from(index + 1).unwrap_or(u32::MAX)) < rank {
        index += 1;
    }
    sorted.get(index).copied().unwrap_or(Duration::ZERO)
}

fn summary(label: &str, times: &[Duration]) -> String {
    let mut sorted = times.to_vec();
    sorted.sort();
    let total: Duration = sorted.iter().sum();
    let mean = if sorted.is_empty() { Duration::ZERO } else { total / u32::try_from(sorted.len()).unwrap_or(u32::MAX) };
    format!(
        "| {label} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        sorted.len(),
        ms(total) / 1000.0,
        ms(mean),
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.95)),
        ms(sorted.last().copied().unwrap_or(Duration::ZERO)),
    )
}

struct Figures {
    label: String,
    plans_booked: usize,
    events_wanted: usize,
    events_whole: usize,
    events_after: usize,
    whole_wall: Duration,
    fallback_wall: Duration,
    fallback_calls: usize,
    times: Vec<Duration>,
}

async fn measure<S: Store>(label: &str, store: S, variant: Variant) -> anyhow::Result<Figures> {
    let rooms = variant.rooms;
    println!(
        "\n=== {label}: setting up 2 sites, {N_PATIENTS} patients, {N_PATIENTS} signed plans ({rooms} rooms and {} counselors per site{}) ===",
        variant.counselors,
        if variant.move_weekend { ", weekend sessions moved to Monday" } else { "" }
    );
    let setup = set_up(store, variant).await?;
    let Setup { clinic, frontdesk, plans, demand, open_days, moved, move_refused, setup_time } = setup;
    println!("setup took {:.1} s (not measured below)", setup_time.as_secs_f64());
    if variant.move_weekend {
        println!("weekend sessions moved to the Monday after: {moved}; moves refused by the plan rules: {move_refused}");
    }
    let events_wanted: usize = plans.iter().map(|p| p.wanted.len()).sum();
    let weekend: usize = plans.iter().map(|p| p.weekend_events).sum();
    let past: usize = plans.iter().map(|p| p.past_horizon_events).sum();
    println!("events wanted (infusion + therapy + integration): {events_wanted}; on a weekend: {weekend}; past the 12 weeks: {past}");
    for (s, d) in demand.iter().enumerate() {
        let rooms_i64 = count_i64(rooms);
        let chairs_i64 = count_i64(CHAIRS_PER_SITE);
        let counselors_i64 = count_i64(variant.counselors);
        println!(
            "site {}: {} infusions asking {} chair-minutes (incl. recovery) of {} open ({:.0}%); {} sessions asking {} room-minutes of {} open ({:.0}%), the same of {} counselor-minutes on site ({:.0}%)",
            s + 1,
            d.infusions,
            d.chair_minutes,
            chairs_i64 * OPEN_MINUTES_PER_DAY * open_days,
            100.0 * float(d.chair_minutes) / float(chairs_i64 * OPEN_MINUTES_PER_DAY * open_days),
            d.sessions,
            d.room_minutes,
            rooms_i64 * OPEN_MINUTES_PER_DAY * open_days,
            100.0 * float(d.room_minutes) / float(rooms_i64 * OPEN_MINUTES_PER_DAY * open_days),
            counselors_i64 * OPEN_MINUTES_PER_DAY * open_days,
            100.0 * float(d.room_minutes) / float(counselors_i64 * OPEN_MINUTES_PER_DAY * open_days),
        );
        // Sessions have no date window: each weekday's own room time is what counts.
        let per_weekday = rooms_i64 * OPEN_MINUTES_PER_DAY * HORIZON_WEEKS;
        let by_day: Vec<String> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            .iter()
            .zip(d.room_minutes_by_weekday)
            .filter(|(_, m)| *m > 0)
            .map(|(day, m)| if per_weekday > 0 && !day.starts_with('S') { format!("{day} {:.0}%", 100.0 * float(m) / float(per_weekday)) } else { format!("{day} {m} min (closed)") })
            .collect();
        println!("  room-minutes asked by weekday, of that weekday's room time: {}", by_day.join(", "));
    }

    // Phase 1 (measured): schedule every plan whole, one after another.
    let mut times = Vec::with_capacity(plans.len());
    let mut times_ok = Vec::new();
    let mut times_refused = Vec::new();
    let mut fully = vec![false; plans.len()];
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let wall = Instant::now();
    for (i, p) in plans.iter().enumerate() {
        let t = Instant::now();
        let result = clinic.schedule_whole_plan(&frontdesk, p.plan_id, Some(PREFERRED_TIME), None).await;
        let elapsed = t.elapsed();
        times.push(elapsed);
        match result {
            Ok(bookings) => {
                times_ok.push(elapsed);
                if let Some(flag) = fully.get_mut(i) {
                    *flag = bookings.len() == p.wanted.len();
                }
            }
            Err(ServiceError::Unbookable(problem)) => {
                times_refused.push(elapsed);
                let kind = problem
                    .event_id
                    .and_then(|id| p.wanted.iter().find(|(e, _)| *e == id))
                    .map_or("?", |(_, k)| k.as_str());
                let mut codes: Vec<&str> = problem.conflicts.iter().map(|(code, _, _)| code.as_str()).collect();
                codes.sort_unstable();
                codes.dedup();
                *reasons.entry(format!("{kind}: {}", codes.join(" + "))).or_default() += 1;
            }
            Err(other) => anyhow::bail!("plan {i}: {other:?}"),
        }
    }
    let whole_wall = wall.elapsed();
    clinic.audit_writer().flush().await?;
    let after_whole = booked_events(&clinic, &plans).await?;
    let events_whole: usize = after_whole.iter().sum();
    let plans_booked = fully.iter().filter(|f| **f).count();

    // Phase 2 (timed apart): what does not fit whole, event by event.
    let fallback = Instant::now();
    let mut fallback_calls = 0usize;
    let mut left_out: BTreeMap<String, usize> = BTreeMap::new();
    let codes_of = |problem: &clinic_service::error::ScheduleProblem| {
        let mut codes: Vec<&str> = problem.conflicts.iter().map(|(code, _, _)| code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        codes.join(" + ")
    };
    for (p, done) in plans.iter().zip(&fully) {
        if *done {
            continue;
        }
        let plan = clinic.store().get_plan(p.plan_id).await?;
        for e in plan.events.iter().filter(|e| wanted_kind(e.kind) && e.status == EventStatus::Planned) {
            fallback_calls += 1;
            let input = BookInput { time: Some(PREFERRED_TIME.into()), ..BookInput::default() };
            match clinic.book_event(&frontdesk, e.id, &input).await {
                Ok(_) => {}
                Err(ServiceError::Unbookable(problem)) => {
                    let at_preferred = codes_of(&problem);
                    let outcome = match problem.alternatives.iter().find(|a| a.local_date == e.date) {
                        Some(alt) => {
                            fallback_calls += 1;
                            let input = BookInput { time: Some(alt.local_time.clone()), ..BookInput::default() };
                            match clinic.book_event(&frontdesk, e.id, &input).await {
                                Ok(_) => None,
                                Err(ServiceError::Unbookable(again)) => Some(format!("{}: {at_preferred}; then at {}: {}", e.kind.as_str(), alt.local_time, codes_of(&again))),
                                Err(other) => anyhow::bail!("book event: {other:?}"),
                            }
                        }
                        None => Some(format!("{}: {at_preferred}; no time free that day", e.kind.as_str())),
                    };
                    if let Some(reason) = outcome {
                        *left_out.entry(reason).or_default() += 1;
                    }
                }
                Err(other) => anyhow::bail!("book event: {other:?}"),
            }
        }
    }
    let fallback_wall = fallback.elapsed();
    clinic.audit_writer().flush().await?;
    let after = booked_events(&clinic, &plans).await?;
    let events_after: usize = after.iter().sum();
    let (infusions_booked, sessions_booked) = booked_by_kind(&clinic, &plans).await?;
    let infusions_wanted: usize = demand.iter().map(|d| d.infusions).sum();
    let sessions_wanted: usize = demand.iter().map(|d| d.sessions).sum();

    // Report.
    println!("\nwhole-plan scheduling, {} plans one after another: {:.2} s wall", plans.len(), whole_wall.as_secs_f64());
    println!("| calls | n | total s | mean ms | median ms | p95 ms | max ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!("{}", summary("all", &times));
    println!("{}", summary("booked", &times_ok));
    println!("{}", summary("refused", &times_refused));
    println!(
        "\nplans fully booked: {plans_booked} / {} ({:.1}%); events booked by whole-plan: {events_whole} / {events_wanted} ({:.1}%)",
        plans.len(),
        100.0 * ratio(plans_booked, plans.len()),
        100.0 * ratio(events_whole, events_wanted)
    );
    println!(
        "then event by event ({fallback_calls} book_event calls, {:.2} s): {events_after} / {events_wanted} events booked ({:.1}%)",
        fallback_wall.as_secs_f64(),
        100.0 * ratio(events_after, events_wanted)
    );
    println!(
        "  of which infusions {infusions_booked} / {infusions_wanted} ({:.1}%), therapy and integration sessions {sessions_booked} / {sessions_wanted} ({:.1}%)",
        100.0 * ratio(infusions_booked, infusions_wanted),
        100.0 * ratio(sessions_booked, sessions_wanted)
    );
    println!("\nevents left unbooked after event by event, by kind and rules broken at {PREFERRED_TIME}:");
    let mut left_out: Vec<_> = left_out.into_iter().collect();
    left_out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (reason, n) in &left_out {
        println!("  {n:>4}  {reason}");
    }
    println!("\nfirst event that could not fit, by kind and rules broken (refused plans):");
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (reason, n) in &reasons {
        println!("  {n:>4}  {reason}");
    }
    println!("\nby protocol and site: plans fully booked / plans, events booked after event-by-event / wanted");
    let mut groups: BTreeMap<(String, usize), (usize, usize, usize, usize)> = BTreeMap::new();
    for (i, p) in plans.iter().enumerate() {
        let g = groups.entry((p.protocol_id.clone(), p.site + 1)).or_default();
        g.0 += 1;
        g.1 += usize::from(fully.get(i).copied().unwrap_or(false));
        g.2 += p.wanted.len();
        g.3 += after.get(i).copied().unwrap_or(0);
    }
    for ((protocol, site), (n, ok, wanted, booked)) in &groups {
        println!("  {protocol:<32} site {site}: {ok:>3} / {n:<3} plans, {booked:>4} / {wanted:<4} events");
    }
    println!("\nby start week: plans fully booked / plans");
    let mut weeks: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    let h0 = horizon_start()?;
    for (i, p) in plans.iter().enumerate() {
        let w = weeks.entry((p.start - h0).num_weeks()).or_default();
        w.0 += 1;
        w.1 += usize::from(fully.get(i).copied().unwrap_or(false));
    }
    let line: Vec<String> = weeks.iter().map(|(w, (n, ok))| format!("w{w} {ok}/{n}")).collect();
    println!("  {}", line.join(", "));
    Ok(Figures {
        label: label.to_string(),
        plans_booked,
        events_wanted,
        events_whole,
        events_after,
        whole_wall,
        fallback_wall,
        fallback_calls,
        times,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rooms: usize = std::env::var("SCHEDULE_BENCH_ROOMS").ok().and_then(|r| r.parse().ok()).unwrap_or(2);
    let move_weekend = std::env::var("SCHEDULE_BENCH_MOVE_WEEKEND").is_ok_and(|v| v == "1");
    let counselors: usize = std::env::var("SCHEDULE_BENCH_COUNSELORS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let variant = Variant { rooms, counselors, move_weekend };
    let mut all = Vec::new();
    let dir = std::env::temp_dir().join(format!("ketaclinic-bench-{}", Uuid::now_v7()));
    let (sqlite, _) = clinic_store_sqlite::SqliteStore::open(&dir.join("ketaclinic.db")).await?;
    all.push(measure("sqlite (synchronous=FULL)", sqlite, variant).await?);
    std::fs::remove_dir_all(&dir).ok();
    match clinic_store_postgres::testing::fresh_database().await {
        Ok(Some(options)) => all.push(measure("postgres", clinic_store_postgres::PgStore::connect_with(options).await?, variant).await?),
        Ok(None) => println!("\npostgres: skipped (TEST_POSTGRES_URL not set)"),
        Err(err) => println!("\npostgres: skipped ({err})"),
    }
    println!(
        "\n=== summary: {N_PATIENTS} plans, 2 sites, {} chairs, {} rooms, {} counselors, {HORIZON_WEEKS} weeks{} ===",
        2 * CHAIRS_PER_SITE,
        2 * rooms,
        2 * counselors,
        if move_weekend { ", weekend sessions moved to Monday" } else { "" }
    );
    println!("| backend | plans fully booked | events booked whole-plan | events booked after event-by-event | whole-plan wall s | per plan mean ms | median ms | p95 ms | event-by-event s (calls) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in &all {
        let mut sorted = f.times.clone();
        sorted.sort();
        let total: Duration = sorted.iter().sum();
        let mean = total / u32::try_from(sorted.len().max(1)).unwrap_or(1);
        println!(
            "| {} | {} / {N_PATIENTS} ({:.1}%) | {} / {} ({:.1}%) | {} / {} ({:.1}%) | {:.2} | {:.1} | {:.1} | {:.1} | {:.2} ({}) |",
            f.label,
            f.plans_booked,
            100.0 * ratio(f.plans_booked, N_PATIENTS),
            f.events_whole,
            f.events_wanted,
            100.0 * ratio(f.events_whole, f.events_wanted),
            f.events_after,
            f.events_wanted,
            100.0 * ratio(f.events_after, f.events_wanted),
            f.whole_wall.as_secs_f64(),
            ms(mean),
            ms(percentile(&sorted, 0.5)),
            ms(percentile(&sorted, 0.95)),
            f.fallback_wall.as_secs_f64(),
            f.fallback_calls,
        );
    }
    Ok(())
}
