//! The demo's infusion history, recorded through the same service calls a
//! nurse makes at the chair (check-in, checklist, withdrawal, pump, vital
//! signs, ratings, administration from the pump record, witnessed waste,
//! note, discharge), on the clinic's clock set back to each moment, so every
//! entry carries its own time and passed the same checks as a real one.
//!
//! Four patients in treatment started earlier than the rest: two have
//! completed infusions behind them (day 0 three and five weeks before the
//! anchor's week), one is in the chair now (the "anchor": 40 minutes ago on
//! an open weekday, else the last open day's afternoon) and one is booked an
//! hour and a half after, ready to be checked in. The ledger holds one
//! ketamine delivery, every session's withdrawal, administration and
//! witnessed waste, and a count that reconciles before the running session.
//!
//! Vital signs are synthetic demo data (a modest rise in blood pressure and
//! heart rate during the infusion, back to baseline in recovery; one
//! session's reading crosses the shipped 180/100 alert and is answered),
//! not reference values.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use clinic_domain::dose::Exact;
use clinic_domain::infusion::VitalInput;
use clinic_domain::patient::SexAtBirth;
use clinic_domain::protocol::EventKind;
use clinic_domain::schedule::BookingStatus;
use clinic_domain::user::Role;
use clinic_store::Store;
use clinic_store::records::Site;
use clinic_store::schedule::BookingRecord;
use uuid::Uuid;

use crate::Clinic;
use crate::auth::Principal;
use crate::error::ServiceError;
use crate::infusions::ChecklistInput;
use crate::ledger::LedgerRequest;

/// Synthetic progress notes for the demo's counseling sessions.
const DEMO_NOTES: [&str; 4] = [
    "Reviewed the week: two cravings after work, both surfed without use. Named stress at home as the main trigger.",
    "Integration after the infusion: described a sense of distance from the urge to drink; linked it to values (family, health).",
    "Worked on the high-risk situations list; rehearsed refusing a drink with a colleague. Motivated; confidence 7/10.",
    "Mindfulness practice reviewed (body scan most days). Discussed sleep; referred the question of medication to the physician.",
];

/// A synthetic recovery plan for the demo.
const DEMO_RECOVERY_PLAN: [(&str, &str); 6] = [
    ("values", "My children; my health; being someone my team can count on"),
    ("goals", "Ninety days without using; back to running twice a week; repair things with my sister"),
    ("strategies", "Urge surfing for every craving; the body scan each evening; no cash on me on payday"),
    ("triggers", "Payday Fridays; arguments at home; the bar on the way home"),
    ("supports", "My sister (on my phone under 'Sis'); my counselor at the clinic; the Tuesday group"),
    ("crisis_plan", "Call my sister; if I cannot reach her, call or text 988; if I am in danger, call 911"),
];

/// Synthetic homework for the demo's counseling sessions.
const DEMO_HOMEWORK: [&str; 3] = [
    "Body scan daily (10 minutes); note cravings and what helped",
    "Write the three people to call when a craving is strong",
    "Urge surfing at each craving; fill in the diary",
];

/// What an early patient's plan is for in the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EarlyRole {
    /// Day 0 this many weeks before the anchor's Monday; infusions before the anchor completed.
    Completed(i64),
    /// The first infusion at the anchor: in the chair now.
    Running,
    /// The first infusion 90 minutes after the anchor: booked, not yet checked in.
    Ready,
}

impl EarlyRole {
    /// The role of the `i`-th patient in treatment, for the first four.
    pub(crate) fn of(i: usize) -> Option<EarlyRole> {
        match i {
            0 => Some(EarlyRole::Running),
            1 => Some(EarlyRole::Completed(3)),
            2 => Some(EarlyRole::Completed(5)),
            3 => Some(EarlyRole::Ready),
            _ => None,
        }
    }
}

/// An early patient's plan and when it was made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EarlyPlan {
    pub plan_id: Uuid,
    pub role: EarlyRole,
    pub planned_at: DateTime<Utc>,
}

fn local(zone: chrono_tz::Tz, day: NaiveDate, h: u32, m: u32) -> Option<DateTime<Utc>> {
    clinic_domain::schedule::hours::local_instant(zone, day, NaiveTime::from_hms_opt(h, m, 0)?)
}

/// The demo site is open Monday to Friday (closed 25 December and 1 January).
fn open_day(day: NaiveDate) -> bool {
    let holiday = matches!((day.month(), day.day()), (12, 25) | (1, 1));
    !holiday && !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// When the demo's running infusion started: 40 minutes before `now` (to
/// the 5 minutes) on an open day between 09:00 and 14:30 at the site;
/// 14:30 when later that day; otherwise 14:30 on the last open day.
pub(crate) fn demo_anchor(site: &Site, now: DateTime<Utc>) -> DateTime<Utc> {
    let zone: chrono_tz::Tz = site.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let today = now.with_timezone(&zone).date_naive();
    let earlier = now - Duration::minutes(40);
    let earlier = earlier - Duration::minutes(i64::from(earlier.with_timezone(&zone).minute() % 5)) - Duration::seconds(i64::from(earlier.second()));
    if let (true, Some(opens), Some(latest)) = (open_day(today), local(zone, today, 9, 0), local(zone, today, 14, 30)) {
        if earlier >= opens {
            return earlier.min(latest);
        }
    }
    let mut day = today - Duration::days(1);
    while !open_day(day) {
        day -= Duration::days(1);
    }
    local(zone, day, 14, 30).unwrap_or(earlier)
}


/// Synthetic vital signs for demo session `variant` at `minute` from the
/// pump's start (negative: before it), `alert` for the one reading that
/// crosses the blood-pressure alert.
fn vitals(variant: u32, minute: i64, infusion_minutes: i64, alert: bool) -> VitalInput {
    let base_sys = 116 + 4 * (variant % 4);
    let base_dia = 74 + 2 * (variant % 3);
    let base_hr = 68 + 3 * (variant % 5);
    // Up to +16/+8 mmHg and +10/min at the end of the infusion, back down over the hour after.
    let rise = if minute <= 0 {
        0
    } else if minute <= infusion_minutes {
        u32::try_from(16 * minute / infusion_minutes.max(1)).unwrap_or(0)
    } else {
        u32::try_from((16 - 16 * (minute - infusion_minutes) / 60).max(0)).unwrap_or(0)
    };
    let (sys, dia) = if alert { (184, 102) } else { (base_sys + rise, base_dia + rise / 2) };
    let n = |x: u32| Some(x.to_string());
    VitalInput {
        systolic_mmhg: n(sys),
        diastolic_mmhg: n(dia),
        heart_rate_bpm: n(base_hr + rise * 10 / 16),
        respiratory_rate_per_min: n(14 + variant % 3),
        spo2_percent: n(97 + variant % 3),
        rass: Some(if minute > 0 && minute <= infusion_minutes + 15 { "-1" } else { "0" }.into()),
    }
}

impl<S: Store> Clinic<S> {
    /// The demo account of `role`, acting as itself (the seed's principal).
    pub(crate) fn demo_principal(users: &[clinic_store::records::User], role: Role) -> Option<Principal> {
        users.iter().find(|u| u.role == role).map(|u| Principal {
            user: u.clone(),
            token_hash: "demo-seed".into(),
            csrf_token: String::new(),
            client_addr: Some("demo seed".into()),
        })
    }

    /// Orders, ledger and sessions for the early patients (see the module).
    pub(crate) async fn seed_demo_sessions(&self, early: &[EarlyPlan], anchor: DateTime<Utc>) -> Result<(), ServiceError> {
        let result = self.seed_demo_sessions_inner(early, anchor).await;
        self.set_clock(None);
        result
    }

    async fn seed_demo_sessions_inner(&self, early: &[EarlyPlan], anchor: DateTime<Utc>) -> Result<(), ServiceError> {
        let users = self.store().list_users().await?;
        let (Some(physician), Some(nurse)) = (Self::demo_principal(&users, Role::Physician), Self::demo_principal(&users, Role::Nurse)) else {
            return Ok(());
        };
        let Some(first) = early.iter().map(|e| e.planned_at).min() else { return Ok(()) };
        let site = self.main_site().await?;
        let zone = Self::site_zone(&site);
        // One delivery of ketamine 10 mg/mL in 20 mL multi-dose vials, the day the first plan was made.
        self.set_clock(Some(first + Duration::hours(1)));
        let expires = (first + Duration::days(730)).with_timezone(&zone).date_naive();
        let receipt = LedgerRequest {
            entry_type: Some("received".into()),
            drug: Some("ketamine".into()),
            dosage_form: Some("injection".into()),
            mg_per_ml: Some("10".into()),
            container_ml: Some("20".into()),
            containers: Some("25".into()),
            lot_number: Some("KT24-0117 (demo)".into()),
            expires_on: Some(expires.to_string()),
            supplier: Some("Example Pharma Distribution (demo), DEA RX0000000".into()),
            invoice_number: Some("INV-DEMO-0001".into()),
            ..Default::default()
        };
        let lot = self.record_ledger(&nurse, site.id, &receipt).await?.entry.lot_id;

        // Each early plan's orders, signed and double-checked the day it was made (weighed that day).
        let mut ordered: Vec<&EarlyPlan> = early.iter().collect();
        ordered.sort_by_key(|e| e.planned_at);
        for e in &ordered {
            self.set_clock(Some(e.planned_at + Duration::hours(2)));
            let plan = self.store().get_plan(e.plan_id).await?;
            for event in plan.events.iter().filter(|x| x.kind == EventKind::Infusion && x.status == clinic_domain::plan::EventStatus::Booked) {
                let context = self.order_context(&physician, event.id).await?;
                let Some((weight, _)) = context.last_weight.clone() else { continue };
                let weighed = self.now().with_timezone(&zone).date_naive();
                let input = clinic_domain::order::OrderInput {
                    weight_kg: Some(weight.clone()),
                    weight_measured_on: Some(weighed.to_string()),
                    phases: event.phases.iter().map(|p| (Some(p.dose_mg_per_kg.to_string()), Some(p.minutes.to_string()))).collect(),
                    stock_mg_per_ml: Some("10".into()),
                    bag_ml: Some("100".into()),
                    ..Default::default()
                };
                let view = self.sign_order(&physician, event.id, &input).await?;
                let doses: Vec<String> = event.phases.iter().map(|p| p.dose_mg_per_kg.to_string()).collect();
                self.check_order(&nurse, view.order.id, view.order.version, &weight, &doses).await?;
            }
        }

        // The completed infusions, in the order they happened.
        let mut past: Vec<BookingRecord> = Vec::new();
        let mut running: Option<BookingRecord> = None;
        for e in early {
            let plan = self.store().get_plan(e.plan_id).await?;
            let bookings = self.store().patient_bookings(plan.header.patient_id).await?;
            let infusions = bookings.into_iter().filter(|b| b.kind == EventKind::Infusion && b.status == BookingStatus::Booked);
            match e.role {
                EarlyRole::Completed(_) => past.extend(infusions.filter(|b| b.starts_at + Duration::hours(3) < anchor)),
                // Booked at the anchor (where the whole plan fitted at its preferred time).
                EarlyRole::Running => running = infusions.filter(|b| (b.starts_at - anchor).num_minutes().abs() <= 60).min_by_key(|b| b.starts_at),
                EarlyRole::Ready => {}
            }
        }
        past.sort_by_key(|b| b.starts_at);
        for (n, booking) in past.iter().enumerate() {
            let variant = u32::try_from(n).unwrap_or(0);
            self.replay_session(&nurse, &physician, booking, lot, variant, None, None).await?;
        }
        // The counseling sessions before the anchor, recorded by the counselor after each (one missed).
        if let Some(counselor) = Self::demo_principal(&users, Role::Counselor) {
            let mut sessions: Vec<BookingRecord> = Vec::new();
            for e in early {
                let plan = self.store().get_plan(e.plan_id).await?;
                let bookings = self.store().patient_bookings(plan.header.patient_id).await?;
                sessions.extend(bookings.into_iter().filter(|b| {
                    matches!(b.kind, EventKind::Therapy | EventKind::Integration) && b.status == BookingStatus::Booked && b.starts_at + Duration::hours(2) < anchor
                }));
            }
            sessions.sort_by_key(|b| b.starts_at);
            for (n, b) in sessions.iter().enumerate() {
                self.set_clock(Some(b.starts_at + Duration::minutes(b.minutes + 10)));
                let missed = n % 7 == 3;
                let input = clinic_domain::counseling::CounselingInput {
                    modality: Some(if b.kind == EventKind::Integration { "integration" } else { "relapse_prevention_therapy" }.into()),
                    format: Some("individual".into()),
                    attendance: Some(if missed { "no_show" } else { "attended" }.into()),
                    minutes: (!missed).then(|| b.minutes.to_string()),
                    progress_note: (!missed).then(|| DEMO_NOTES[n % DEMO_NOTES.len()].to_string()),
                    homework: (!missed).then(|| DEMO_HOMEWORK[n % DEMO_HOMEWORK.len()].to_string()),
                    counseling_note: None,
                    reason: missed.then(|| "Did not come; called twice and left a message; rebooked".to_string()),
                };
                self.record_counseling(&counselor, b.id, &input).await?;
            }
            // The recovery plan, written in the first session and revised in the next.
            let mut versions: std::collections::BTreeMap<Uuid, i64> = std::collections::BTreeMap::new();
            for b in &sessions {
                let version = versions.get(&b.patient_id).copied().unwrap_or(0);
                if version >= 2 {
                    continue;
                }
                self.set_clock(Some(b.starts_at + Duration::minutes(b.minutes + 20)));
                let mut parts: Vec<(String, String)> = DEMO_RECOVERY_PLAN.iter().map(|(p, t)| ((*p).to_string(), (*t).to_string())).collect();
                if version == 1 {
                    parts.push(("warning_signs".into(), "Skipping meals; staying late at work; not answering my sister".into()));
                }
                self.save_recovery_plan(&counselor, b.patient_id, version, &parts).await?;
                versions.insert(b.patient_id, version + 1);
            }
        }
        // Opened vials past their discard-by date go to the reverse distributor, witnessed.
        self.set_clock(Some(anchor - Duration::minutes(40)));
        let view = self.load_ledger(site.id).await?;
        let today = self.now().with_timezone(&zone).date_naive();
        for lot_view in view.shelf().iter().filter(|l| l.id == lot) {
            for c in lot_view.containers.iter().filter(|c| c.remaining_ml.is_positive() && c.discard_by.is_some_and(|d| d < today)) {
                let destroy = LedgerRequest {
                    entry_type: Some("destroyed".into()),
                    lot_id: Some(lot.to_string()),
                    container: Some(c.number.to_string()),
                    volume_ml: Some(c.remaining_ml.to_decimal()),
                    method: Some("reverse_distributor".into()),
                    reference: Some("RD-DEMO-0001".into()),
                    witness_username: Some(physician.user.username.clone()),
                    witness_password: Some(crate::auth::DEMO_PASSWORD.into()),
                    ..Default::default()
                };
                self.record_ledger(&nurse, site.id, &destroy).await?;
            }
        }
        // A count of the lot before the running session: it matches the ledger.
        self.set_clock(Some(anchor - Duration::minutes(30)));
        let view = self.load_ledger(site.id).await?;
        let on_shelf = view.ledger.lot_balance(lot).map_or(Exact::integer(0), |q| q.ml);
        let count = LedgerRequest {
            entry_type: Some("count".into()),
            lot_id: Some(lot.to_string()),
            counted_ml: Some(on_shelf.to_decimal()),
            estimated: Some(false),
            witness_username: Some(physician.user.username.clone()),
            witness_password: Some(crate::auth::DEMO_PASSWORD.into()),
            ..Default::default()
        };
        self.record_ledger(&nurse, site.id, &count).await?;
        if let Some(booking) = running {
            // Up to now, or 40 minutes in when the anchor is an earlier day (the demo started out of hours).
            let until = crate::now().min(anchor + Duration::minutes(40));
            self.replay_session(&nurse, &physician, &booking, lot, 7, Some(until), None).await?;
        }
        self.seed_demo_outcomes(early, anchor).await
    }

    /// The early patients' outcome data, entered by the counselor a week at a
    /// time: one stays abstinent (a ketamine-positive screen the day after an
    /// infusion is expected), one relapses (three heavy use days in a row,
    /// confirmed where the clinic's settings define relapse for the
    /// protocol), the one in the chair has one day they could not recall.
    /// Synthetic data.
    async fn seed_demo_outcomes(&self, early: &[EarlyPlan], anchor: DateTime<Utc>) -> Result<(), ServiceError> {
        let users = self.store().list_users().await?;
        let Some(counselor) = Self::demo_principal(&users, Role::Counselor) else { return Ok(()) };
        let site = self.main_site().await?;
        let zone = Self::site_zone(&site);
        let at = |day: NaiveDate, h: u32| local(zone, day, h, 0).unwrap_or(anchor);
        let last_day = anchor.with_timezone(&zone).date_naive() - Duration::days(1);
        for e in early.iter().filter(|e| e.role != EarlyRole::Ready) {
            let plan = self.store().get_plan(e.plan_id).await?;
            let patient = self.store().get_patient(plan.header.patient_id).await?;
            let relapses = e.role == EarlyRole::Completed(5);
            let start = plan.header.start_date - Duration::days(7);
            // Weeks from a week before day 0, each entered the day after it ends.
            let mut week = start;
            while week + Duration::days(6) <= last_day {
                self.set_clock(Some(at(week + Duration::days(7), 11)));
                for substance in &patient.details.substances {
                    let days = (0..7)
                        .map(|i| {
                            let day = week + Duration::days(i);
                            let n = (day - plan.header.start_date).num_days();
                            let (used, amount) = if relapses && (16..19).contains(&n) {
                                ("yes", Some("6".to_string()))
                            } else if e.role == EarlyRole::Running && n == -2 {
                                ("unknown", None)
                            } else {
                                ("no", None)
                            };
                            clinic_domain::outcome::tlfb::TlfbDayInput { used: Some(used.into()), amount }
                        })
                        .collect();
                    let input = clinic_domain::outcome::tlfb::TlfbWeekInput { week_start: Some(week.to_string()), substance: Some(substance.as_str().into()), days };
                    self.record_tlfb_week(&counselor, patient.id, &input).await?;
                }
                week += Duration::days(7);
            }
            // The abstinent patient keeps the portal diary for the last ten days: cravings easing.
            if e.role == EarlyRole::Completed(3) {
                if let Some(substance) = patient.details.substances.first() {
                    for k in 0..10i64 {
                        let day = last_day - Duration::days(9 - k);
                        self.set_clock(Some(at(day, 21)));
                        let input = clinic_domain::outcome::tlfb::DiaryInput {
                            date: Some(day.to_string()),
                            substance: Some(substance.as_str().into()),
                            used: Some("no".into()),
                            amount: None,
                            craving: Some((7 - k * 6 / 9).to_string()),
                            note: (k == 2).then(|| "Payday; walked past the bar and kept going".to_string()),
                        };
                        let entry = clinic_domain::outcome::tlfb::validate_diary(&input, &patient.details.substances, day)?;
                        self.seed_diary_entry(&patient, &entry).await?;
                    }
                }
            }
            // A urine screen at each infusion before the anchor, and the day after the first.
            let infusions: Vec<NaiveDate> = plan
                .events
                .iter()
                .filter(|x| x.kind == EventKind::Infusion && x.status == clinic_domain::plan::EventStatus::Completed)
                .map(|x| x.date)
                .collect();
            for (k, day) in infusions.iter().enumerate() {
                let mut results: Vec<(String, String)> = patient
                    .details
                    .substances
                    .iter()
                    .flat_map(|s| clinic_domain::outcome::toxicology::analytes_of(*s))
                    .map(|a| (a.as_str().to_string(), "negative".to_string()))
                    .collect();
                results.sort();
                results.dedup();
                // A patient on MOUD shows it (expected: the medication list explains it).
                let on: Vec<&str> = patient.details.medications.iter().filter_map(|m| clinic_domain::chart::moud_generic(&m.name)).collect();
                for (analyte, result) in results.iter_mut() {
                    if on.contains(&analyte.as_str()) {
                        *result = "positive".into();
                    }
                }
                self.set_clock(Some(at(*day, 8)));
                let input = crate::outcomes::SpecimenInput { collected_at: Some(format!("{day}T08:30")), results: results.clone() };
                self.record_specimen(&counselor, patient.id, &input).await?;
                if k == 0 && !relapses {
                    let next = *day + Duration::days(1);
                    self.set_clock(Some(at(next, 10)));
                    let mut after = results;
                    after.push(("ketamine".into(), "positive".into()));
                    let input = crate::outcomes::SpecimenInput { collected_at: Some(format!("{next}T10:00")), results: after };
                    self.record_specimen(&counselor, patient.id, &input).await?;
                }
            }
            // The patient who relapses also asked for an extra infusion "to feel it again"; the physician confirms the flag.
            if relapses {
                let asked = plan.header.start_date + Duration::days(19);
                self.set_clock(Some(at(asked, 15)));
                let signal = self.record_misuse_signal(&counselor, patient.id, "extra_infusion", &asked.to_string(), Some("Asked for an extra infusion this week to feel the effect again")).await?;
                if let Some(physician) = Self::demo_principal(&users, Role::Physician) {
                    self.set_clock(Some(at(asked + Duration::days(1), 9)));
                    self.decide_misuse(&physician, patient.id, "extra_infusion_request", &signal.id.to_string(), "confirmed", Some("Seeking ketamine for its effect; discussed; infusions kept as planned, no extra doses"))
                        .await?;
                }
            }
            // Aftercare: a mutual-help group for everyone with infusions behind them; the patient who relapsed also to psychiatry.
            if e.role != EarlyRole::Running {
                self.set_clock(Some(at(plan.header.start_date + Duration::days(22), 14)));
                self.record_referral(&counselor, patient.id, None, Some("mutual_help"), Some("Tuesday evening SMART Recovery group (demo)"), "made", Some("First meeting next Tuesday")).await?;
                if relapses {
                    self.record_referral(&counselor, patient.id, None, Some("psychiatry"), Some("Community psychiatry clinic (demo)"), "suggested", Some("Mood and sleep after the relapse")).await?;
                }
            }
            // The relapse confirmed in the next session, where the clinic defines relapse for the protocol.
            if relapses {
                self.set_clock(Some(at(plan.header.start_date + Duration::days(21), 12)));
                if let Some(view) = self.patient_outcome_page(&counselor, patient.id).await?.relapse {
                    if let Ok(o) = &view.outcome {
                        // The relapse the use days meet (the timeline follow-back is its evidence).
                        if let Some(event) = o.proposals.events.iter().find(|x| x.key.kind == clinic_domain::outcome::relapse::EventKind::Relapse && !x.evidence.days.is_empty()) {
                            let date = event.key.date.to_string();
                            let substance = event.key.substance.map(|s| s.as_str().to_string());
                            self.decide_relapse(&counselor, patient.id, (&date, "relapse", substance.as_deref()), "confirmed", Some("Confirmed with the patient in session: three days of heavy use after a family conflict; plan reviewed"))
                                .await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One infusion at the chair from check-in to discharge, or up to `until`;
    /// `adverse` (description, severity, action, outcome) is recorded 25
    /// minutes into the infusion and named in the note.
    #[allow(clippy::too_many_arguments)] // the seed's knobs for one session
    pub(crate) async fn replay_session(
        &self,
        nurse: &Principal,
        physician: &Principal,
        booking: &BookingRecord,
        lot: Uuid,
        variant: u32,
        until: Option<DateTime<Utc>>,
        adverse: Option<&[&str; 4]>,
    ) -> Result<(), ServiceError> {
        let start = booking.starts_at;
        let due = |at: DateTime<Utc>| until.is_none_or(|u| at <= u);
        let patient = self.store().get_patient(booking.patient_id).await?;
        self.set_clock(Some(start - Duration::minutes(12)));
        let name = format!("{} {}", patient.details.given_name, patient.details.family_name);
        let session = self.open_session(nurse, booking.id, &name, &patient.details.date_of_birth.to_string()).await?;
        let mut version = session.version;
        self.set_clock(Some(start - Duration::minutes(9)));
        let checklist = ChecklistInput {
            fasting_confirmed: true,
            escort_name: Some(patient.details.escort.as_ref().map_or_else(|| "Family member (demo)".to_string(), |e| e.name.clone())),
            escort_present: true,
            breath_alcohol: Some("0.000".into()),
            hours_since_last_drink: Some("48".into()),
            pregnancy_test: (patient.details.sex_at_birth == SexAtBirth::Female).then(|| "negative".into()),
            baseline: vitals(variant, -10, 40, false),
        };
        let chart = self.record_checklist(nurse, session.id, version, &checklist).await?;
        version = chart.session.version;
        let Some(order_id) = chart.session.order_id else { return Ok(()) };
        let order = self.store().get_order(order_id).await?;
        let calc = self.order_calc(&order)?;
        let draw = calc.stock_draw.map_or(calc.total.stock_volume_ml, |r| r.setting);
        // The dose drawn from a vial in date with enough left, opened ones first.
        self.set_clock(Some(start - Duration::minutes(5)));
        let view = self.load_ledger(booking.site_id).await?;
        let today = self.now().with_timezone(&Self::site_zone(&view.site)).date_naive();
        let shelf = view.shelf();
        let vial = shelf.iter().find(|l| l.id == lot).and_then(|l| l.next_container(Some(draw), today));
        let Some(vial) = vial else { return Ok(()) };
        let withdraw = LedgerRequest {
            entry_type: Some("withdrawn".into()),
            lot_id: Some(lot.to_string()),
            session_id: Some(session.id.to_string()),
            container: Some(vial.to_string()),
            volume_ml: Some(draw.to_decimal()),
            ..Default::default()
        };
        self.record_ledger(nurse, booking.site_id, &withdraw).await?;

        // The pump, phase by phase, with vital signs every 10 minutes.
        let rate = |p: &clinic_domain::order::PhaseCalc| p.pump.map_or(p.rate_ml_per_h, |r| r.setting).to_decimal();
        let mut boundaries = Vec::new();
        let mut elapsed = 0i64;
        for (i, p) in calc.phases.iter().enumerate() {
            boundaries.push((elapsed, if i == 0 { "start" } else { "rate_change" }, Some(rate(p))));
            let (num, den) = p.minutes.fraction();
            elapsed += i64::try_from(num / den.max(1)).unwrap_or(0);
        }
        let total = elapsed;
        boundaries.push((total, "stop", None));
        let mut steps: Vec<(i64, u8)> = boundaries.iter().enumerate().map(|(i, b)| (b.0, u8::try_from(i).unwrap_or(0))).collect();
        let pump_steps = steps.len();
        let vital_minutes: Vec<i64> = (1..).map(|k| k * 10).take_while(|m| *m < total).chain((1..=4).map(|k| total + k * 15)).collect();
        steps.extend(vital_minutes.iter().map(|m| (*m, 200u8)));
        // Dissociation rated at the end of the infusion.
        steps.push((total + 5, 100));
        if adverse.is_some() {
            steps.push((25.min(total - 1), 150));
        }
        steps.sort_by_key(|s| (s.0, s.1));
        let alert_at = (variant % 3 == 1).then_some(20);
        for (minute, what) in steps {
            let at = start + Duration::minutes(minute);
            if !due(at) {
                break;
            }
            self.set_clock(Some(at));
            let chart = if what == 100 {
                // CADSS items 0–4, BPRS positive items 1–7.
                let cadss: Vec<String> = (0..23u32).map(|i| ((i + variant) % 5 / 3).to_string()).collect();
                let v = self.record_rating(nurse, session.id, version, "cadss", &cadss).await?.session.version;
                let bprs: Vec<String> = (0..4u32).map(|i| (1 + (i + variant) % 3 / 2).to_string()).collect();
                self.record_rating(nurse, session.id, v, "bprs_positive", &bprs).await?
            } else if what == 150 {
                let [description, severity, action, outcome] = adverse.copied().unwrap_or(["", "", "", ""]);
                self.record_adverse_event(nurse, session.id, version, description, severity, action, outcome).await?
            } else if usize::from(what) < pump_steps {
                let (_, action, rate) = &boundaries[usize::from(what)];
                self.pump_event(nurse, session.id, version, action, rate.as_deref()).await?
            } else {
                let alert = alert_at == Some(minute);
                let chart = self.record_vitals(nurse, session.id, version, &vitals(variant, minute, total, alert)).await?;
                match chart.open_alerts.first().cloned().filter(|_| alert) {
                    Some((alert_id, ..)) => {
                        self.set_clock(Some(at + Duration::minutes(3)));
                        self.respond_to_alert(nurse, session.id, chart.session.version, &alert_id, "Rate kept; BP rechecked after 5 min 164/94; Dr. Physician informed at the chair")
                            .await?
                    }
                    None => chart,
                }
            };
            version = chart.session.version;
        }
        let end = start + Duration::minutes(total);
        let Some(until_end) = Some(end + Duration::minutes(64)).filter(|t| due(*t)) else { return Ok(()) };
        // The administration from the pump record and the rest wasted before the physician.
        self.set_clock(Some(until_end - Duration::minutes(3)));
        let administer = LedgerRequest {
            entry_type: Some("administered".into()),
            lot_id: Some(lot.to_string()),
            session_id: Some(session.id.to_string()),
            ..Default::default()
        };
        self.record_ledger(nurse, booking.site_id, &administer).await?;
        let view = self.load_ledger(booking.site_id).await?;
        let held = view.ledger.session_held(session.id, lot);
        if held.is_positive() {
            let waste = LedgerRequest {
                entry_type: Some("wasted".into()),
                lot_id: Some(lot.to_string()),
                session_id: Some(session.id.to_string()),
                volume_ml: Some(held.to_decimal()),
                witness_username: Some(physician.user.username.clone()),
                witness_password: Some(crate::auth::DEMO_PASSWORD.into()),
                ..Default::default()
            };
            self.record_ledger(nurse, booking.site_id, &waste).await?;
        }
        self.set_clock(Some(until_end));
        let note = match adverse {
            None => "Infusion given as ordered. Mild dissociation during the infusion, resolved within 30 minutes after. No adverse event. Discharged to the escort with written instructions.".to_string(),
            Some([description, _, action, _]) => format!(
                "Infusion given as ordered. Adverse event during the infusion: {description} {action} Mild dissociation, resolved within 30 minutes after. Discharged to the escort with written instructions."
            ),
        };
        version = self.write_note(nurse, session.id, version, &note).await?.session.version;
        self.set_clock(Some(until_end + Duration::minutes(2)));
        self.discharge(nurse, session.id, version, [Some("2"); 5], true, true, true, true, None).await?;
        Ok(())
    }
}
