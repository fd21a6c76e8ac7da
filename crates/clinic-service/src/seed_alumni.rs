//! The demo's past cohort ("alumni"): synthetic patients whose courses
//! started between about nine and three months before the anchor and are
//! over, so the program's outcomes have months of data behind them.
//!
//! Everything goes through the calls staff make, on the clinic's clock set
//! back to each moment: the inquiry and its calls, the conversion, the
//! screening visit (questionnaires, medical screening, consents, the
//! eligibility proposal and the physician's decision), the plan made and
//! signed by the physician a week before day 0, booked whole by the front
//! desk, orders signed and double-checked, every infusion at the chair
//! (`replay_session`), counseling sessions with their attendance, the
//! timeline follow-back a week at a time from a week before day 0 to the
//! follow-up, urine screens, the relapse proposals a clinician confirms or
//! rejects, referrals, the plan ended and the patient discharged or in
//! follow-up. A few inquiries never convert and a few patients leave at
//! screening, so the funnel has drop-off at each stage.
//!
//! Who relapses, when, who drops out and which session had an adverse event
//! is fixed in `ALUMNI`; the rest (attendance, unknown days, vital-sign
//! variants, heavy-day amounts, times) comes from a pseudo-random generator
//! seeded with a constant, so every run seeds the same story. The use
//! amounts, vital signs and notes are synthetic demo data, not reference
//! values; doses are the plans' and orders' own.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::inquiry::{
    CallDirection, CallOutcome, CloseReason, InquiryCall, InquiryDetails, InquiryInput,
    InquiryStatus,
};
use clinic_domain::patient::{
    ContactInput, MedicationInput, Patient, PatientDetails, PatientInput, Substance,
};
use clinic_domain::plan::EventStatus;
use clinic_domain::protocol::EventKind;
use clinic_domain::schedule::BookingStatus;
use clinic_domain::user::Role;
use clinic_store::records::{InquiryChange, NewInquiry, NewPatient, Site};
use clinic_store::schedule::{AvailabilityRecord, BookingRecord};
use clinic_store::Store;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ServiceError;
use crate::ledger::LedgerRequest;
use crate::seed::EligibilitySeed;
use crate::Clinic;

/// What the past cohort added to the demo.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AlumniSeeded {
    pub patients: usize,
    pub inquiries: usize,
}

/// How an alumnus's course went (days count from the relapse index date
/// the demo clinic set for the protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Course {
    /// No use through the follow-up.
    Abstinent,
    /// One day of light use this many days after the index: meets no relapse rule.
    Lapse(i64),
    /// Use from this many days after the index, this many days in a row
    /// (heavy drinking for alcohol), then now and then after.
    Relapse(i64, i64),
    /// Denies use, but the first screen on or after this many days from the
    /// index is positive (the conflict shows on the chart).
    PositiveTest(i64),
    /// Stops coming after this many infusions and is lost to follow-up.
    DropOut(usize),
}

/// Something more in one alumnus's story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extra {
    None,
    /// An adverse event at this infusion (0-based).
    Nausea(usize),
    Anxiety(usize),
    /// The blood-pressure alert at this infusion, answered at the chair.
    BpAlert(usize),
    /// A ketamine positive the day after the first infusion: expected.
    KetaminePositive,
    /// An EtG positive at the first visit this many days after the index
    /// that the clinician rejects as a relapse (incidental exposure).
    RejectedEtg(i64),
}

const KARE: &str = "alcohol-kare-grabski2022";
const MET: &str = "alcohol-met-dakwar2020";
const MBRP: &str = "cocaine-mbrp-dakwar2019";
const SERIES: &str = "clinic-series-6";
const OUD: &str = "opioid-clinic-moud-example";

const ALC: &[Substance] = &[Substance::Alcohol];
const COC: &[Substance] = &[Substance::Cocaine];
const OPI: &[Substance] = &[Substance::Opioids];
const STIM: &[Substance] = &[Substance::Stimulants];
const ALC_CANN: &[Substance] = &[Substance::Alcohol, Substance::Cannabis];

/// The treated alumni, oldest course first: protocol, substances, the
/// second site or not, the course and one extra.
const ALUMNI: [(&str, &[Substance], bool, Course, Extra); 24] = [
    (KARE, ALC, false, Course::Relapse(5, 2), Extra::Nausea(1)),
    (MBRP, COC, false, Course::Relapse(6, 1), Extra::None),
    (SERIES, ALC, true, Course::Relapse(8, 3), Extra::BpAlert(2)),
    (MET, ALC, false, Course::Abstinent, Extra::None),
    (OUD, OPI, false, Course::PositiveTest(9), Extra::None),
    (KARE, ALC, true, Course::Abstinent, Extra::None),
    (MBRP, COC, false, Course::Abstinent, Extra::KetaminePositive),
    (SERIES, STIM, false, Course::PositiveTest(7), Extra::None),
    (MET, ALC, true, Course::Relapse(4, 1), Extra::None),
    (KARE, ALC, false, Course::DropOut(2), Extra::None),
    (OUD, OPI, true, Course::Abstinent, Extra::Anxiety(3)),
    (MBRP, COC, false, Course::PositiveTest(20), Extra::None),
    (MET, ALC, false, Course::Lapse(6), Extra::None),
    (SERIES, ALC_CANN, false, Course::DropOut(3), Extra::None),
    (KARE, ALC, false, Course::Abstinent, Extra::RejectedEtg(7)),
    (OUD, OPI, false, Course::DropOut(4), Extra::None),
    (MBRP, COC, true, Course::Abstinent, Extra::None),
    (MET, ALC, false, Course::Relapse(15, 2), Extra::BpAlert(0)),
    (SERIES, ALC, false, Course::Abstinent, Extra::Nausea(4)),
    (KARE, ALC, true, Course::Relapse(12, 1), Extra::None),
    (OUD, OPI, false, Course::Lapse(13), Extra::None),
    (MBRP, COC, false, Course::Relapse(27, 2), Extra::None),
    (SERIES, ALC, false, Course::Lapse(10), Extra::None),
    (MET, ALC, true, Course::Relapse(9, 3), Extra::None),
];

/// The index date the demo clinic set for each protocol (`demo_relapse` in
/// the CLI): the last infusion for Dakwar 2020, the first for the others.
fn index_is_last_infusion(protocol: &str) -> bool {
    protocol == MET
}

/// Synthetic names for the alumni and the past inquiries (none is a demo patient's, and
/// every family name sorts after the demo's first patient, Alvarez, whom browser tests open first).
const GIVEN: [&str; 35] = [
    "Adrian", "Beatriz", "Callum", "Dalia", "Emeka", "Farah", "Gavin", "Hana", "Isaac", "Jun",
    "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Paula", "Rhys", "Sofia", "Theo", "Uma", "Victor",
    "Wen", "Xavier", "Yara", "Zane", "Amara", "Bruno", "Celia", "Dmitri", "Elif", "Felix", "Gita",
    "Hugo", "Ines", "Jonas",
];
const FAMILY: [&str; 25] = [
    "Morales",
    "Baker",
    "Castillo",
    "Delgado",
    "Ellis",
    "Ferreira",
    "Gallagher",
    "Haddad",
    "Iverson",
    "Jensen",
    "Khan",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Osei",
    "Petrov",
    "Quintero",
    "Rahman",
    "Sato",
    "Tanaka",
    "Usman",
    "Varga",
    "Walker",
    "Yilmaz",
    "Zimmer",
];

/// Synthetic progress notes.
const NOTES: [&str; 6] = [
    "Reviewed the week's cravings and what helped; urge surfing used twice. Named evenings alone as the main risk.",
    "Integration: talked through the infusion; a sense of distance from old habits; linked it to what matters to them.",
    "High-risk situations list updated; rehearsed saying no at a family event. Confidence 7/10.",
    "Mindfulness practice most days; sleep better. Planned the weekend hour by hour.",
    "Motivation reviewed: pros and cons written down; goal restated in their own words.",
    "Relapse-prevention plan reviewed; practised the three calls to make when a craving is strong.",
];
const RELAPSE_NOTE: &str = "Talked through the recent use without judgement: what led up to it, what to change; plan reviewed and supports named again.";

/// Synthetic recovery plan for the alumni.
const RECOVERY_PLAN: [(&str, &str); 6] = [
    ("values", "My health; my kids; keeping my word at work"),
    (
        "goals",
        "No use through the program; walk every morning; rebuild trust at home",
    ),
    (
        "strategies",
        "Urge surfing; call before, not after; keep evenings planned",
    ),
    (
        "triggers",
        "Evenings alone; payday; old friends from the bar",
    ),
    (
        "supports",
        "My partner; my counselor at the clinic; the Thursday group",
    ),
    (
        "crisis_plan",
        "Call my partner; if I cannot reach them, call or text 988; if I am in danger, call 911",
    ),
];

/// A deterministic generator (SplitMix64) seeded with a constant: the same demo on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        clinic_pk::rng::splitmix64(&mut self.0)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick(&mut self, n: usize) -> usize {
        usize::try_from(self.below(u64::try_from(n).unwrap_or(1))).unwrap_or(0)
    }
}

fn local(zone: chrono_tz::Tz, day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    NaiveTime::from_hms_opt(h, m, 0)
        .and_then(|t| clinic_domain::schedule::hours::local_instant(zone, day, t))
        .unwrap_or_else(|| day.and_time(NaiveTime::MIN).and_utc())
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn event(actor: &Actor, at: DateTime<Utc>, action: AuditAction, target: AuditTarget) -> AuditEvent {
    AuditEvent::new(
        Uuid::now_v7(),
        at,
        actor,
        action,
        target,
        Outcome::Success,
        Some(serde_json::json!({ "source": "demo seed" }).to_string()),
    )
}

/// One treated alumnus while seeding.
struct Treated {
    n: usize,
    patient: Patient,
    plan_id: Uuid,
    protocol: &'static str,
    course: Course,
    extra: Extra,
}

/// The staff the seed acts as.
struct Staff {
    physician: Principal,
    nurse: Principal,
    counselor: Principal,
    desk: Principal,
}

impl<S: Store> Clinic<S> {
    /// Seeds the past cohort (see the module); returns what it added.
    pub(crate) async fn seed_demo_alumni(
        &self,
        actor: &Actor,
        anchor: DateTime<Utc>,
    ) -> Result<AlumniSeeded, ServiceError> {
        let result = self.seed_demo_alumni_inner(actor, anchor).await;
        self.set_clock(None);
        result
    }

    async fn seed_demo_alumni_inner(
        &self,
        actor: &Actor,
        anchor: DateTime<Utc>,
    ) -> Result<AlumniSeeded, ServiceError> {
        let users = self.store().list_users().await?;
        let principal = |role| Self::demo_principal(&users, role);
        let (Some(physician), Some(nurse), Some(counselor), Some(desk)) = (
            principal(Role::Physician),
            principal(Role::Nurse),
            principal(Role::Counselor),
            principal(Role::Frontdesk),
        ) else {
            return Ok(AlumniSeeded::default());
        };
        let staff = Staff {
            physician,
            nurse,
            counselor,
            desk,
        };
        let sites = self.store().list_sites().await?;
        let Some(main) = sites.first().cloned() else {
            return Ok(AlumniSeeded::default());
        };
        let second = sites.get(1).cloned().unwrap_or_else(|| main.clone());
        let zone = Self::site_zone(&main);
        let anchor_day = anchor.with_timezone(&zone).date_naive();
        let anchor_monday =
            anchor_day - days(i64::from(anchor_day.weekday().num_days_from_monday()));
        let mut rng = Rng(0x6B65_7461_636C_696E);
        let mut seeded = AlumniSeeded::default();

        // Day 0 of each course: a Monday (main site) or Tuesday (the second
        // site, open Tuesday to Saturday), from 39 to 13 weeks before the anchor's week.
        let n_alumni = i64::try_from(ALUMNI.len()).unwrap_or(1);
        let start_of = |i: usize, second_site: bool| {
            let i = i64::try_from(i).unwrap_or(0);
            anchor_monday - Duration::weeks(39 - i * 26 / (n_alumni - 1).max(1))
                + days(i64::from(second_site))
        };
        let first_start = start_of(0, false);
        // Staff on site over those months (seed_demo_schedule covers the last seven weeks on).
        self.seed_alumni_staff_hours(
            actor,
            &sites,
            first_start - days(35),
            anchor_day - Duration::weeks(7) - days(1),
        )
        .await?;

        // Inquiries, screening and plans, in the order they happened.
        let mut treated = Vec::new();
        let mut name = 0usize;
        for (i, (protocol, substances, on_second, course, extra)) in ALUMNI.iter().enumerate() {
            let site = if *on_second { &second } else { &main };
            let start = start_of(i, *on_second);
            let patient = self
                .seed_alumnus_intake(actor, &mut rng, name, site, substances, start)
                .await?;
            name += 1;
            seeded.inquiries += 1;
            seeded.patients += 1;
            let Some(patient) = patient else { continue };
            let plan_id = self
                .seed_alumnus_plan(&staff, &patient, protocol, start)
                .await?;
            if let Some(plan_id) = plan_id {
                treated.push(Treated {
                    n: i,
                    patient,
                    plan_id,
                    protocol,
                    course: *course,
                    extra: *extra,
                });
            }
        }
        // The funnel's drop-off after conversion: one not eligible, one eligible who declined, one who never came to screening.
        for (k, leaves) in ["not_eligible", "declined", "no_screening"]
            .iter()
            .enumerate()
        {
            let start = start_of(4 + k * 8, false);
            let substances: &[Substance] = [ALC, COC, OPI][k];
            let patient = self
                .seed_alumnus_intake(actor, &mut rng, name, &main, substances, start)
                .await?;
            name += 1;
            seeded.inquiries += 1;
            seeded.patients += 1;
            if let Some(patient) = patient {
                self.seed_alumnus_leaves(actor, &staff, patient, leaves, start)
                    .await?;
            }
        }
        // Inquiries that never became patients.
        seeded.inquiries += self
            .seed_alumni_lost_inquiries(actor, &mut rng, &main, name, first_start)
            .await?;

        // Every infusion at the chair, in the order they happened.
        self.seed_alumni_infusions(&staff, &treated, &mut rng, zone)
            .await?;
        // Counseling, outcomes, decisions and discharge, patient by patient.
        for t in &treated {
            self.seed_alumnus_outcomes(&staff, t, &mut rng, anchor)
                .await?;
        }
        Ok(seeded)
    }

    /// Physician, nurse and counselor on site on each site's opening days from `from` to `to`.
    async fn seed_alumni_staff_hours(
        &self,
        actor: &Actor,
        sites: &[Site],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(), ServiceError> {
        let users = self.store().list_users().await?;
        for (n, site) in sites.iter().enumerate() {
            let main = n == 0;
            // As seed_demo_schedule sets them: Monday to Friday 8 to 6; the second site Tuesday to Saturday 9 to 5.
            let open_days: [u32; 5] = if main {
                [0, 1, 2, 3, 4]
            } else {
                [1, 2, 3, 4, 5]
            };
            let (opens, closes) = if main { (8, 18) } else { (9, 17) };
            let zone = Self::site_zone(site);
            let mut rows = Vec::new();
            for staff in users
                .iter()
                .filter(|u| matches!(u.role, Role::Physician | Role::Nurse | Role::Counselor))
            {
                let mut day = from;
                while day <= to {
                    if open_days.contains(&day.weekday().num_days_from_monday()) {
                        rows.push(AvailabilityRecord {
                            id: Uuid::now_v7(),
                            user_id: staff.id,
                            site_id: site.id,
                            starts_at: local(zone, day, opens, 0),
                            ends_at: local(zone, day, closes, 0),
                        });
                    }
                    day += days(1);
                }
            }
            if !rows.is_empty() {
                self.store()
                    .add_availability(
                        &rows,
                        &event(
                            actor,
                            crate::now(),
                            AuditAction::SiteScheduleUpdate,
                            AuditTarget::resource("site", site.id.to_string()),
                        ),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// The inquiry (a month before day 0), its calls, the conversion at the
    /// screening visit three weeks before day 0 and the questionnaires then.
    async fn seed_alumnus_intake(
        &self,
        actor: &Actor,
        rng: &mut Rng,
        k: usize,
        site: &Site,
        substances: &[Substance],
        start: NaiveDate,
    ) -> Result<Option<Patient>, ServiceError> {
        let zone = Self::site_zone(site);
        let given = GIVEN[k % GIVEN.len()];
        let family = FAMILY[(k * 3) % FAMILY.len()];
        let received = local(
            zone,
            start - days(30 + rng.below(6).try_into().unwrap_or(0)),
            9 + u32::try_from(rng.below(8)).unwrap_or(0),
            15,
        );
        let channel = ["phone", "sms", "email"][k % 3];
        let input = InquiryInput {
            name: Some(format!("{given} {family}")),
            phone: Some(format!("555-010-{:04}", 4000 + k)),
            email: Some(format!(
                "{}.{}@example.org",
                given.to_lowercase(),
                family.to_lowercase()
            )),
            substances: substances.iter().map(|s| s.as_str().to_string()).collect(),
            preferred_contact_time: Some(
                if k.is_multiple_of(2) {
                    "weekday mornings"
                } else {
                    "after 5 pm"
                }
                .to_string(),
            ),
            contact_channel: Some(channel.to_string()),
            message: k
                .is_multiple_of(4)
                .then(|| "A friend told me about the program. Could someone call me?".to_string()),
            consent_to_contact: Some(true),
        };
        let details = InquiryDetails::parse(&input)?;
        let main = self.main_site().await?;
        let id = Uuid::now_v7();
        let created = self
            .store()
            .create_inquiry(
                &NewInquiry {
                    id,
                    site_id: main.id,
                    details,
                    created_at: received,
                },
                &event(
                    actor,
                    received,
                    AuditAction::InquiryCreate,
                    AuditTarget::resource("inquiry", id.to_string()),
                ),
            )
            .await?;
        let mut version = created.version;
        let calls = [
            (
                CallOutcome::Reached,
                4,
                "explained the program; sent the information pack",
                Some(InquiryStatus::Contacted),
            ),
            (
                CallOutcome::ScreeningBooked,
                30,
                "screening visit booked",
                Some(InquiryStatus::ScreeningBooked),
            ),
        ];
        for (outcome, hours, note, status) in calls {
            let called_at = received + Duration::hours(hours);
            let call = InquiryCall {
                id: Uuid::now_v7(),
                inquiry_id: id,
                called_at,
                direction: if outcome == CallOutcome::ScreeningBooked {
                    CallDirection::Inbound
                } else {
                    CallDirection::Outbound
                },
                outcome,
                note: Some(note.to_string()),
                user_id: None,
            };
            version = self
                .store()
                .add_inquiry_call(
                    &call,
                    status,
                    called_at,
                    &event(
                        actor,
                        called_at,
                        AuditAction::InquiryCall,
                        AuditTarget::resource("inquiry", id.to_string()),
                    ),
                )
                .await?
                .version;
        }
        // The screening visit, three weeks before day 0: registered from the inquiry.
        let visit = local(zone, start - days(21), 10, 0);
        let n = u32::try_from(k).unwrap_or(0);
        let year = start.year() - i32::try_from(24 + (n * 7) % 38).unwrap_or(30);
        let female = k % 2 == 1;
        let opioid = substances.contains(&Substance::Opioids);
        let patient_input = PatientInput {
            given_name: Some(given.into()),
            family_name: Some(family.into()),
            date_of_birth: Some(format!(
                "{year:04}-{:02}-{:02}",
                1 + (n * 5) % 12,
                1 + (n * 11) % 28
            )),
            sex_at_birth: Some(if female { "female" } else { "male" }.into()),
            phone: input.phone.clone(),
            email: input.email.clone(),
            substances: input.substances.clone(),
            status: Some("screening".into()),
            escort: Some(ContactInput {
                name: Some(format!("{} {family}", GIVEN[(k + 11) % GIVEN.len()])),
                relationship: Some(
                    if k.is_multiple_of(3) {
                        "spouse"
                    } else {
                        "friend"
                    }
                    .into(),
                ),
                phone: Some(format!("555-010-{:04}", 5000 + k)),
            }),
            diagnoses: substances
                .iter()
                .filter_map(|s| match s {
                    Substance::Alcohol => Some("F10.20"),
                    Substance::Cocaine => Some("F14.20"),
                    Substance::Opioids => Some("F11.20"),
                    _ => None,
                })
                .map(str::to_string)
                .collect(),
            // MOUD continues through the program (clinical.md §11.4).
            medications: if opioid {
                vec![MedicationInput {
                    name: Some("buprenorphine/naloxone".into()),
                    dose: Some("16/4 mg daily".into()),
                }]
            } else {
                Vec::new()
            },
            contact_channels: vec!["phone".into(), "sms".into()],
            preferred_contact_channel: Some("sms".into()),
            ..Default::default()
        };
        let details =
            PatientDetails::parse(&patient_input, visit.with_timezone(&zone).date_naive())?;
        let patient = NewPatient {
            id: Uuid::now_v7(),
            site_id: site.id,
            details,
            created_at: visit,
        };
        let patient_event = event(
            actor,
            visit,
            AuditAction::PatientCreate,
            AuditTarget::patient(patient.id),
        );
        let inquiry_event = AuditEvent::new(
            Uuid::now_v7(),
            visit,
            actor,
            AuditAction::InquiryConvert,
            AuditTarget {
                resource_type: "inquiry",
                resource_id: Some(id.to_string()),
                patient_id: Some(patient.id),
            },
            Outcome::Success,
            None,
        );
        let (_, patient) = self
            .store()
            .convert_inquiry(id, version, &patient, &patient_event, &inquiry_event)
            .await?;
        // The questionnaires at the visit: PHQ-9 and the substance screen.
        use crate::screening::QuestionnaireInput;
        let phq9: Vec<String> = ["1", "1", "2", "1", "0", "1", "1", "0", "0"]
            .iter()
            .map(|a| (*a).to_string())
            .collect();
        self.store_questionnaire_at(
            &patient,
            &QuestionnaireInput {
                instrument: "phq-9".into(),
                answers: phq9,
                ..Default::default()
            },
            actor.clone(),
            visit + Duration::minutes(10),
        )
        .await?;
        let check = if substances.contains(&Substance::Alcohol) {
            QuestionnaireInput {
                instrument: "audit-c".into(),
                answers: ["3", "3", "2"].iter().map(|a| (*a).to_string()).collect(),
                ..Default::default()
            }
        } else {
            let yes_no = [
                "yes", "yes", "no", "no", "yes", "yes", "no", "no", "yes", "no",
            ];
            QuestionnaireInput {
                instrument: "dast-10".into(),
                answers: yes_no.iter().map(|a| (*a).to_string()).collect(),
                ..Default::default()
            }
        };
        self.store_questionnaire_at(
            &patient,
            &check,
            actor.clone(),
            visit + Duration::minutes(20),
        )
        .await?;
        Ok(Some(patient))
    }

    /// Eligibility at the screening visit, then a plan made and signed a
    /// week before day 0, booked whole, with its orders signed and checked.
    async fn seed_alumnus_plan(
        &self,
        staff: &Staff,
        patient: &Patient,
        protocol: &str,
        start: NaiveDate,
    ) -> Result<Option<Uuid>, ServiceError> {
        let site = self.site_by_id(patient.site_id).await?;
        let zone = Self::site_zone(&site);
        let actor = Actor {
            user_id: None,
            name: crate::seed::DEMO_SEED_ACTOR.into(),
            role: None,
            client_addr: None,
        };
        let visit = local(zone, start - days(21), 10, 30);
        let seed = EligibilitySeed {
            at: visit,
            excluded: false,
            consents: Some(visit + Duration::minutes(30)),
            decided: Some(local(zone, start - days(18), 16, 0)),
        };
        self.seed_patient_eligibility(&actor, patient, seed).await?;
        let planned = local(zone, start - days(7), 10, 0);
        self.set_clock(Some(planned));
        let input = crate::plans::NewPlanInput {
            protocol_id: Some(protocol.into()),
            start_date: Some(start.to_string()),
        };
        let plan = match self.create_plan(&staff.physician, patient.id, &input).await {
            Ok(plan) => plan,
            // Not eligible after all (a clinic's own limits): no plan.
            Err(ServiceError::Invalid(_) | ServiceError::Conflict { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        let plan = self
            .sign_plan(&staff.physician, plan.header.id, plan.header.version)
            .await?;
        self.set_clock(Some(planned + Duration::minutes(20)));
        let preferred = "09:00";
        match self
            .schedule_whole_plan(&staff.desk, plan.header.id, Some(preferred), None)
            .await
        {
            Ok(_) => {}
            // Where the whole plan does not fit (or a session length is unset), book what fits event by event.
            Err(ServiceError::Unbookable(_) | ServiceError::Invalid(_)) => {
                let current = self.store().get_plan(plan.header.id).await?;
                for e in current.events.iter().filter(|e| {
                    matches!(
                        e.kind,
                        EventKind::Infusion | EventKind::Therapy | EventKind::Integration
                    )
                }) {
                    let input = crate::scheduling::BookInput {
                        time: Some(preferred.into()),
                        ..Default::default()
                    };
                    match self.book_event(&staff.desk, e.id, &input).await {
                        Ok(_) => {}
                        Err(ServiceError::Unbookable(problem)) => {
                            if let Some(alt) =
                                problem.alternatives.iter().find(|a| a.local_date == e.date)
                            {
                                let input = crate::scheduling::BookInput {
                                    time: Some(alt.local_time.clone()),
                                    ..Default::default()
                                };
                                let _ = self.book_event(&staff.desk, e.id, &input).await;
                            }
                        }
                        Err(ServiceError::Invalid(_) | ServiceError::Conflict { .. }) => {}
                        Err(other) => return Err(other),
                    }
                }
            }
            Err(other) => return Err(other),
        }
        // Orders for every booked infusion, signed and double-checked that day on the screening weight.
        self.set_clock(Some(planned + Duration::hours(2)));
        let current = self.store().get_plan(plan.header.id).await?;
        for e in current
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Infusion && e.status == EventStatus::Booked)
        {
            let context = self.order_context(&staff.physician, e.id).await?;
            let Some((weight, _)) = context.last_weight.clone() else {
                continue;
            };
            let input = clinic_domain::order::OrderInput {
                weight_kg: Some(weight.clone()),
                weight_measured_on: Some((start - days(7)).to_string()),
                phases: e
                    .phases
                    .iter()
                    .map(|p| {
                        (
                            Some(p.dose_mg_per_kg.to_string()),
                            Some(p.minutes.to_string()),
                        )
                    })
                    .collect(),
                stock_mg_per_ml: Some("10".into()),
                bag_ml: Some("100".into()),
                ..Default::default()
            };
            let view = self.sign_order(&staff.physician, e.id, &input).await?;
            let doses: Vec<String> = e
                .phases
                .iter()
                .map(|p| p.dose_mg_per_kg.to_string())
                .collect();
            self.check_order(
                &staff.nurse,
                view.order.id,
                view.order.version,
                &weight,
                &doses,
            )
            .await?;
        }
        Ok(Some(plan.header.id))
    }

    /// A patient who leaves the funnel after conversion.
    async fn seed_alumnus_leaves(
        &self,
        actor: &Actor,
        staff: &Staff,
        patient: Patient,
        how: &str,
        start: NaiveDate,
    ) -> Result<(), ServiceError> {
        let site = self.site_by_id(patient.site_id).await?;
        let zone = Self::site_zone(&site);
        let visit = local(zone, start - days(21), 10, 30);
        match how {
            "not_eligible" => {
                let seed = EligibilitySeed {
                    at: visit,
                    excluded: true,
                    consents: Some(visit + Duration::minutes(30)),
                    decided: Some(local(zone, start - days(18), 16, 0)),
                };
                self.seed_patient_eligibility(actor, &patient, seed).await?;
            }
            "declined" => {
                let seed = EligibilitySeed {
                    at: visit,
                    excluded: false,
                    consents: Some(visit + Duration::minutes(30)),
                    decided: Some(local(zone, start - days(18), 16, 0)),
                };
                self.seed_patient_eligibility(actor, &patient, seed).await?;
                let patient = self.store().get_patient(patient.id).await?;
                let mut input = patient.details.to_input();
                input.status = Some("discharged".into());
                self.set_clock(Some(local(zone, start - days(10), 11, 0)));
                self.update_patient(&staff.desk, patient.id, patient.version, &input)
                    .await?;
            }
            _ => {
                let mut input = patient.details.to_input();
                input.status = Some("discharged".into());
                self.update_patient(&staff.desk, patient.id, patient.version, &input)
                    .await?;
            }
        }
        Ok(())
    }

    /// Inquiries that never became patients: unreachable, not interested,
    /// referred elsewhere, or a screening visit booked and never kept.
    async fn seed_alumni_lost_inquiries(
        &self,
        actor: &Actor,
        rng: &mut Rng,
        site: &Site,
        first_name: usize,
        first: NaiveDate,
    ) -> Result<usize, ServiceError> {
        let zone = Self::site_zone(site);
        let endings = [
            (CloseReason::Unreachable, 0),
            (CloseReason::NotInterested, 1),
            (CloseReason::Unreachable, 0),
            (CloseReason::ReferredElsewhere, 1),
            (CloseReason::NotInterested, 2),
            (CloseReason::Unreachable, 0),
            (CloseReason::NotInterested, 1),
            (CloseReason::NotInterested, 2),
        ];
        let substances = [
            "alcohol",
            "cocaine",
            "opioids",
            "stimulants",
            "alcohol",
            "cannabis",
            "alcohol",
            "opioids",
        ];
        for (j, (reason, stage)) in endings.iter().enumerate() {
            let k = first_name + j;
            let given = GIVEN[k % GIVEN.len()];
            let family = FAMILY[(k * 3) % FAMILY.len()];
            let day = first + days(i64::try_from(j * 23).unwrap_or(0));
            let received = local(zone, day, 8 + u32::try_from(rng.below(9)).unwrap_or(0), 40);
            let input = InquiryInput {
                name: Some(format!("{given} {family}")),
                phone: Some(format!("555-010-{:04}", 4000 + k)),
                email: Some(format!(
                    "{}.{}@example.org",
                    given.to_lowercase(),
                    family.to_lowercase()
                )),
                substances: vec![substances[j % substances.len()].to_string()],
                preferred_contact_time: Some("any time".into()),
                contact_channel: Some(["phone", "sms", "email"][j % 3].to_string()),
                message: None,
                consent_to_contact: Some(true),
            };
            let details = InquiryDetails::parse(&input)?;
            let id = Uuid::now_v7();
            let target = || AuditTarget::resource("inquiry", id.to_string());
            let mut version = self
                .store()
                .create_inquiry(
                    &NewInquiry {
                        id,
                        site_id: site.id,
                        details,
                        created_at: received,
                    },
                    &event(actor, received, AuditAction::InquiryCreate, target()),
                )
                .await?
                .version;
            let calls: &[(CallOutcome, i64, &str, Option<InquiryStatus>)] = match stage {
                0 => &[
                    (CallOutcome::NoAnswer, 3, "no answer", None),
                    (CallOutcome::LeftMessage, 27, "left a neutral message", None),
                    (CallOutcome::NoAnswer, 75, "no answer; third try", None),
                ],
                1 => &[
                    (
                        CallOutcome::Reached,
                        5,
                        "explained the program; will think about it",
                        Some(InquiryStatus::Contacted),
                    ),
                    (
                        CallOutcome::Reached,
                        96,
                        "decided not to go ahead for now",
                        None,
                    ),
                ],
                _ => &[
                    (
                        CallOutcome::Reached,
                        4,
                        "explained the program",
                        Some(InquiryStatus::Contacted),
                    ),
                    (
                        CallOutcome::ScreeningBooked,
                        28,
                        "screening visit booked",
                        Some(InquiryStatus::ScreeningBooked),
                    ),
                    (
                        CallOutcome::NoAnswer,
                        200,
                        "did not come to the screening visit; no answer",
                        None,
                    ),
                ],
            };
            let mut last = received;
            for (outcome, hours, note, status) in calls {
                let called_at = received + Duration::hours(*hours);
                last = called_at;
                let call = InquiryCall {
                    id: Uuid::now_v7(),
                    inquiry_id: id,
                    called_at,
                    direction: if *outcome == CallOutcome::ScreeningBooked {
                        CallDirection::Inbound
                    } else {
                        CallDirection::Outbound
                    },
                    outcome: *outcome,
                    note: Some((*note).to_string()),
                    user_id: None,
                };
                version = self
                    .store()
                    .add_inquiry_call(
                        &call,
                        *status,
                        called_at,
                        &event(actor, called_at, AuditAction::InquiryCall, target()),
                    )
                    .await?
                    .version;
            }
            let closed = last + Duration::hours(2);
            let change = InquiryChange {
                status: InquiryStatus::Closed,
                close_reason: Some(*reason),
                assigned_to: None,
            };
            self.store()
                .update_inquiry(
                    id,
                    version,
                    &change,
                    closed,
                    &event(actor, closed, AuditAction::InquiryUpdate, target()),
                )
                .await?;
        }
        Ok(endings.len())
    }

    /// Every alumni infusion replayed at the chair, in time order across
    /// patients and sites; a lot received at each site before the first and
    /// opened vials past their discard-by date destroyed, witnessed.
    async fn seed_alumni_infusions(
        &self,
        staff: &Staff,
        treated: &[Treated],
        rng: &mut Rng,
        zone: chrono_tz::Tz,
    ) -> Result<(), ServiceError> {
        // (booking, patient's index in ALUMNI, which infusion of the course)
        let mut sessions: Vec<(BookingRecord, usize, usize)> = Vec::new();
        for t in treated {
            let mut infusions: Vec<BookingRecord> = self
                .store()
                .patient_bookings(t.patient.id)
                .await?
                .into_iter()
                .filter(|b| b.kind == EventKind::Infusion && b.status == BookingStatus::Booked)
                .collect();
            infusions.sort_by_key(|b| b.starts_at);
            let given = match t.course {
                Course::DropOut(k) => k,
                _ => infusions.len(),
            };
            sessions.extend(
                infusions
                    .into_iter()
                    .take(given)
                    .enumerate()
                    .map(|(k, b)| (b, t.n, k)),
            );
        }
        sessions.sort_by_key(|s| s.0.starts_at);
        let Some(first) = sessions.first().map(|s| s.0.starts_at) else {
            return Ok(());
        };
        // One delivery per site, two weeks before the first infusion.
        let mut lots: std::collections::BTreeMap<Uuid, Uuid> = std::collections::BTreeMap::new();
        let received = first - days(14);
        let received_day = received.with_timezone(&zone).date_naive();
        let site_ids: std::collections::BTreeSet<Uuid> =
            sessions.iter().map(|s| s.0.site_id).collect();
        for (k, site_id) in site_ids.iter().enumerate() {
            self.set_clock(Some(
                received + Duration::minutes(i64::try_from(k).unwrap_or(0) * 30),
            ));
            let receipt = LedgerRequest {
                entry_type: Some("received".into()),
                drug: Some("ketamine".into()),
                dosage_form: Some("injection".into()),
                mg_per_ml: Some("10".into()),
                container_ml: Some("20".into()),
                containers: Some(if k == 0 { "60" } else { "30" }.into()),
                lot_number: Some(format!(
                    "KT{}-{:04} (demo)",
                    received_day.format("%y"),
                    31 + k
                )),
                expires_on: Some((received_day + days(730)).to_string()),
                supplier: Some("Example Pharma Distribution (demo), DEA RX0000000".into()),
                invoice_number: Some(format!("INV-DEMO-{:04}", 31 + k)),
                ..Default::default()
            };
            let lot = self
                .record_ledger(&staff.nurse, *site_id, &receipt)
                .await?
                .entry
                .lot_id;
            lots.insert(*site_id, lot);
        }
        let mut variant = 0u32;
        for (booking, n, k) in &sessions {
            let Some(lot) = lots.get(&booking.site_id).copied() else {
                continue;
            };
            if !self.pump_can_run(booking).await? {
                continue;
            }
            self.destroy_expired_vials(
                staff,
                booking.site_id,
                lot,
                booking.starts_at - Duration::minutes(45),
            )
            .await?;
            let extra = ALUMNI.get(*n).map_or(Extra::None, |a| a.4);
            // Vital-sign variants that do not cross the alert, except the one session that does.
            variant += if rng.chance(50) { 3 } else { 2 };
            let alert = extra == Extra::BpAlert(*k);
            let v = if alert {
                variant - variant % 3 + 1
            } else if variant % 3 == 1 {
                variant + 1
            } else {
                variant
            };
            let adverse: Option<[&str; 4]> = match extra {
                Extra::Nausea(at) if at == *k => Some([
                    "Nausea near the end of the infusion; no vomiting.",
                    "mild",
                    "Pump rate kept; reassured; settled in recovery.",
                    "resolved",
                ]),
                Extra::Anxiety(at) if at == *k => Some([
                    "Anxious during the dissociation; asked for the music to stop.",
                    "mild",
                    "Reassured at the chair, lights dimmed, music off; calm within 15 minutes.",
                    "resolved",
                ]),
                _ => None,
            };
            self.replay_session(
                &staff.nurse,
                &staff.physician,
                booking,
                lot,
                v,
                None,
                adverse.as_ref(),
            )
            .await?;
        }
        // Whatever is left in opened vials past their date, once the last course is over.
        if let Some(last) = sessions.last().map(|s| s.0.starts_at) {
            for (site_id, lot) in &lots {
                self.destroy_expired_vials(staff, *site_id, *lot, last + days(30))
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether the booking's live order gives a pump rate the pump takes (at
    /// most 4 decimals): a clinic without a pump step set gets the exact rate,
    /// which for a split dose (0.11 then 0.60 mg/kg) has no finite decimal,
    /// and the nurse could not start the pump. Such an infusion is not given.
    async fn pump_can_run(&self, booking: &BookingRecord) -> Result<bool, ServiceError> {
        let Some(event_id) = booking.plan_event_id else {
            return Ok(false);
        };
        let orders = self.store().patient_orders(booking.patient_id).await?;
        let Some(order) = orders
            .iter()
            .find(|o| o.plan_event_id == event_id && o.cancelled_at.is_none())
        else {
            return Ok(false);
        };
        let calc = self.order_calc(order)?;
        Ok(calc.phases.iter().all(|p| {
            let rate = p.pump.map_or(p.rate_ml_per_h, |r| r.setting).to_decimal();
            rate.split('.').nth(1).is_none_or(|f| f.len() <= 4)
        }))
    }

    /// Opened vials of `lot` past their discard-by date at `at`, destroyed (witnessed).
    async fn destroy_expired_vials(
        &self,
        staff: &Staff,
        site_id: Uuid,
        lot: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        self.set_clock(Some(at));
        let view = self.load_ledger(site_id).await?;
        let today = at.with_timezone(&Self::site_zone(&view.site)).date_naive();
        let expired: Vec<(u32, String)> = view
            .shelf()
            .iter()
            .filter(|l| l.id == lot)
            .flat_map(|l| {
                l.containers
                    .iter()
                    .filter(|c| {
                        c.opened
                            && c.remaining_ml.is_positive()
                            && c.discard_by.is_some_and(|d| d < today)
                    })
                    .map(|c| (c.number, c.remaining_ml.to_decimal()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (number, ml) in expired {
            let destroy = LedgerRequest {
                entry_type: Some("destroyed".into()),
                lot_id: Some(lot.to_string()),
                container: Some(number.to_string()),
                volume_ml: Some(ml),
                method: Some("reverse_distributor".into()),
                reference: Some(format!("RD-DEMO-{}", today.format("%Y%m%d"))),
                witness_username: Some(staff.physician.user.username.clone()),
                witness_password: Some(crate::auth::DEMO_PASSWORD.into()),
                ..Default::default()
            };
            self.record_ledger(&staff.nurse, site_id, &destroy).await?;
        }
        Ok(())
    }
}

/// The analytes a positive for the substance shows (for a test the patient's account does not explain).
fn marker(substance: Substance) -> &'static [&'static str] {
    match substance {
        Substance::Alcohol => &["etg", "ets"],
        Substance::Cocaine => &["benzoylecgonine"],
        Substance::Opioids => &["fentanyl"],
        Substance::Stimulants => &["amphetamines"],
        Substance::Sedatives => &["benzodiazepines"],
        _ => &[],
    }
}

impl<S: Store> Clinic<S> {
    /// One alumnus's course after the chair: counseling, the recovery plan,
    /// urine screens, the weekly timeline follow-back, relapse decisions,
    /// referrals, the plan ended and the patient's status.
    async fn seed_alumnus_outcomes(
        &self,
        staff: &Staff,
        t: &Treated,
        rng: &mut Rng,
        anchor: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let patient = self.store().get_patient(t.patient.id).await?;
        let site = self.site_by_id(patient.site_id).await?;
        let zone = Self::site_zone(&site);
        let yesterday = anchor.with_timezone(&zone).date_naive() - days(1);
        let plan = self.store().get_plan(t.plan_id).await?;
        let Some(protocol) = self.protocols().get(t.protocol) else {
            return Ok(());
        };
        let start = plan.header.start_date;
        let course_end = start + days(protocol.definition().course_days - 1);
        let infusion_days: Vec<NaiveDate> = plan
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Infusion && e.status == EventStatus::Completed)
            .map(|e| e.date)
            .collect();
        let index = if index_is_last_infusion(t.protocol) {
            infusion_days.iter().max()
        } else {
            infusion_days.iter().min()
        }
        .copied()
        .unwrap_or(start);
        let follow_up = plan
            .events
            .iter()
            .filter(|e| e.kind == EventKind::FollowUp)
            .map(|e| e.date)
            .min()
            .unwrap_or(course_end + days(28));
        let substances = patient.details.substances.clone();
        let Some(primary) = substances.first().copied() else {
            return Ok(());
        };
        let mut bookings = self.store().patient_bookings(patient.id).await?;
        bookings.sort_by_key(|b| b.starts_at);
        let dropped_on: Option<NaiveDate> = match t.course {
            Course::DropOut(_) => bookings
                .iter()
                .filter(|b| b.kind == EventKind::Infusion && b.status == BookingStatus::Attended)
                .map(|b| b.starts_at.with_timezone(&zone).date_naive())
                .max(),
            _ => None,
        };
        let on_day = |b: &BookingRecord| b.starts_at.with_timezone(&zone).date_naive();

        // Counseling, recorded by the counselor after each session.
        let mut visits: Vec<(DateTime<Utc>, bool)> = bookings
            .iter()
            .filter(|b| b.kind == EventKind::Infusion && b.status == BookingStatus::Attended)
            .map(|b| (b.starts_at, true))
            .collect();
        let mut missed_after_dropout = 0;
        let mut to_cancel = Vec::new();
        let mut attended_sessions = Vec::new();
        for b in bookings.iter().filter(|b| {
            matches!(b.kind, EventKind::Therapy | EventKind::Integration)
                && b.status == BookingStatus::Booked
        }) {
            let gone = dropped_on.is_some_and(|d| on_day(b) > d);
            if gone && missed_after_dropout >= 2 {
                to_cancel.push(b.id);
                continue;
            }
            let roll = rng.below(100);
            let attendance = if gone {
                missed_after_dropout += 1;
                "no_show"
            } else if roll < 8 {
                "no_show"
            } else if roll < 15 {
                "late"
            } else {
                "attended"
            };
            let came = attendance != "no_show";
            let minutes = if attendance == "late" {
                b.minutes - 15
            } else {
                b.minutes
            };
            let relapsed_before =
                matches!(t.course, Course::Relapse(off, _) if on_day(b) > index + days(off));
            let modality = match (b.kind, t.protocol) {
                (EventKind::Integration, _) => "integration",
                (_, MET) => "motivational_enhancement_therapy",
                (_, MBRP) => "mindfulness_based_relapse_prevention",
                _ => "relapse_prevention_therapy",
            };
            self.set_clock(Some(b.starts_at + Duration::minutes(b.minutes + 10)));
            let input = clinic_domain::counseling::CounselingInput {
                modality: Some(modality.into()),
                format: Some("individual".into()),
                attendance: Some(attendance.into()),
                minutes: came.then(|| minutes.to_string()),
                progress_note: came.then(|| {
                    if relapsed_before {
                        RELAPSE_NOTE.to_string()
                    } else {
                        NOTES[rng.pick(NOTES.len())].to_string()
                    }
                }),
                homework: came.then(|| "Daily practice; note cravings and what helped".to_string()),
                counseling_note: None,
                reason: (!came).then(|| {
                    if gone {
                        "Did not come; phone and text unanswered"
                    } else {
                        "Did not come; called and left a message; seen at the next visit"
                    }
                    .to_string()
                }),
            };
            self.record_counseling(&staff.counselor, b.id, &input)
                .await?;
            if came {
                visits.push((b.starts_at, false));
                attended_sessions.push(b.starts_at + Duration::minutes(b.minutes + 20));
            }
        }
        visits.sort_by_key(|v| v.0);
        // The recovery plan: written at the first session attended, revised at the last.
        let written = [
            attended_sessions.first(),
            attended_sessions
                .last()
                .filter(|_| attended_sessions.len() > 2),
        ];
        for (plan_version, at) in (0i64..).zip(written.into_iter().flatten()) {
            self.set_clock(Some(*at));
            let mut parts: Vec<(String, String)> = RECOVERY_PLAN
                .iter()
                .map(|(p, x)| ((*p).to_string(), (*x).to_string()))
                .collect();
            if plan_version == 1 {
                parts.push((
                    "warning_signs".into(),
                    "Skipping meals; isolating; telling myself one will not matter".into(),
                ));
            }
            self.save_recovery_plan(&staff.counselor, patient.id, plan_version, &parts)
                .await?;
        }

        // Use, as the patient reports it (synthetic): use before treatment, then the course's story.
        let mut used: std::collections::BTreeMap<(NaiveDate, Substance), Option<String>> =
            std::collections::BTreeMap::new();
        let drinks = |n: u64| Some(n.to_string());
        let mut day = start - days(7);
        while day <= start - days(2) {
            if rng.chance(55) {
                used.insert(
                    (day, primary),
                    if primary == Substance::Alcohol {
                        drinks(4 + rng.below(5))
                    } else {
                        None
                    },
                );
            }
            day += days(1);
        }
        if index_is_last_infusion(t.protocol) {
            // Cutting down before the quit day.
            let mut day = start;
            while day <= index - days(2) {
                if rng.chance(30) {
                    used.insert((day, primary), drinks(2 + rng.below(3)));
                }
                day += days(1);
            }
        }
        let amount = |rng: &mut Rng, heavy: bool| {
            if primary == Substance::Alcohol {
                Some((if heavy { 6 + rng.below(3) } else { 2 }).to_string())
            } else {
                None
            }
        };
        match t.course {
            Course::Lapse(off) => {
                let light = amount(rng, false);
                used.insert((index + days(off), primary), light);
            }
            Course::Relapse(off, run) => {
                for k in 0..run {
                    let heavy = amount(rng, true);
                    used.insert((index + days(off + k), primary), heavy);
                }
                // Now and then after.
                let mut day = index + days(off + run + 1);
                while day <= follow_up.min(yesterday) {
                    if rng.chance(12) {
                        let heavy = rng.chance(50);
                        let a = amount(rng, heavy);
                        used.insert((day, primary), a);
                    }
                    day += days(1);
                }
            }
            Course::Abstinent | Course::PositiveTest(_) | Course::DropOut(_) => {}
        }

        // Urine screens (and breath alcohol) at visits: each infusion, the course's last
        // visit and, for Dakwar 2019, every outpatient visit (twice weekly after discharge).
        let last_visit = visits
            .iter()
            .filter(|v| v.0.with_timezone(&zone).date_naive() <= course_end)
            .map(|v| v.0)
            .max();
        let mut positive_test_done = false;
        let mut etg_done = false;
        let mut ketamine_done = false;
        let first_infusion = infusion_days.iter().min().copied();
        for (at, infusion) in &visits {
            let d = at.with_timezone(&zone).date_naive();
            let ketamine = t.extra == Extra::KetaminePositive
                && !ketamine_done
                && first_infusion.is_some_and(|f| d > f && d <= f + days(3));
            let tested = *infusion
                || Some(*at) == last_visit
                || (t.protocol == MBRP && d >= start + days(5) && d <= course_end)
                || ketamine;
            if !tested {
                continue;
            }
            let mut results: Vec<(String, String)> = substances
                .iter()
                .flat_map(|s| clinic_domain::outcome::toxicology::analytes_of(*s))
                .map(|a| (a.as_str().to_string(), "negative".to_string()))
                .collect();
            results.sort();
            results.dedup();
            let on: Vec<&str> = patient
                .details
                .medications
                .iter()
                .filter_map(|m| clinic_domain::chart::moud_generic(&m.name))
                .collect();
            let recent_use = |s: Substance| (0..=2).any(|k| used.contains_key(&(d - days(k), s)));
            let relapsing = matches!(t.course, Course::Relapse(..));
            let flag_test = matches!(t.course, Course::PositiveTest(off) if d >= index + days(off))
                && !positive_test_done;
            let flag_etg =
                matches!(t.extra, Extra::RejectedEtg(off) if d >= index + days(off)) && !etg_done;
            for (analyte, result) in results.iter_mut() {
                let substance = clinic_domain::outcome::toxicology::Analyte::parse(analyte)
                    .ok()
                    .and_then(|a| a.substance());
                let marks = substance.is_some_and(|s| marker(s).contains(&analyte.as_str()));
                if on.contains(&analyte.as_str())
                    || (marks && relapsing && substance.is_some_and(recent_use) && d >= index)
                    || (marks && flag_test && substance == Some(primary))
                    || (flag_etg && analyte == "etg")
                {
                    *result = "positive".into();
                }
            }
            positive_test_done |= flag_test;
            etg_done |= flag_etg;
            if ketamine {
                ketamine_done = true;
                results.push(("ketamine".into(), "positive".into()));
            }
            let collected = *at - Duration::minutes(20);
            self.set_clock(Some(*at + Duration::minutes(30)));
            let input = crate::outcomes::SpecimenInput {
                collected_at: Some(
                    collected
                        .with_timezone(&zone)
                        .format("%Y-%m-%dT%H:%M")
                        .to_string(),
                ),
                results,
            };
            self.record_specimen(&staff.counselor, patient.id, &input)
                .await?;
        }

        // The timeline follow-back, a week at a time from a week before day 0,
        // entered the day after each week; to the follow-up, or the last visit for a dropout.
        let mut week = start - days(7);
        loop {
            let entered = week + days(7);
            if week + days(6) > follow_up.min(yesterday)
                || entered > yesterday
                || dropped_on.is_some_and(|d| entered > d)
            {
                break;
            }
            self.set_clock(Some(local(zone, entered, 11, 0)));
            for s in &substances {
                let days_input = (0..7)
                    .map(|i| {
                        let day = week + days(i);
                        let (answer, amount) = match used.get(&(day, *s)) {
                            Some(a) => ("yes", a.clone()),
                            None if rng.chance(2) => ("unknown", None),
                            None => ("no", None),
                        };
                        clinic_domain::outcome::tlfb::TlfbDayInput {
                            used: Some(answer.into()),
                            amount,
                        }
                    })
                    .collect();
                let input = clinic_domain::outcome::tlfb::TlfbWeekInput {
                    week_start: Some(week.to_string()),
                    substance: Some(s.as_str().into()),
                    days: days_input,
                };
                self.record_tlfb_week(&staff.counselor, patient.id, &input)
                    .await?;
            }
            week += days(7);
        }

        // Relapse proposals decided by a clinician, in date order, up to the first confirmed.
        self.seed_alumnus_decisions(staff, t, &patient, zone, course_end, anchor)
            .await?;

        // Aftercare at the end of the course (not for those lost to follow-up).
        let wrap_up = dropped_on.map_or(course_end + days(1), |d| d + days(14));
        if dropped_on.is_none() {
            self.set_clock(Some(local(zone, course_end + days(1), 14, 0)));
            self.record_referral(
                &staff.counselor,
                patient.id,
                None,
                Some("mutual_help"),
                Some("Community mutual-help group (demo)"),
                "made",
                Some("First meeting this week"),
            )
            .await?;
            if matches!(t.course, Course::Relapse(..) | Course::PositiveTest(_)) {
                self.record_referral(
                    &staff.counselor,
                    patient.id,
                    None,
                    Some("psychiatry"),
                    Some("Community psychiatry clinic (demo)"),
                    "suggested",
                    Some("Mood and sleep after the use during the course"),
                )
                .await?;
            }
        }
        // Sessions left after a dropout are cancelled; the plan ends.
        self.set_clock(Some(local(zone, wrap_up, 10, 0)));
        let reason = if dropped_on.is_some() {
            "Not reachable after two missed visits; lost to follow-up"
        } else {
            "Course complete"
        };
        for b in self
            .store()
            .patient_bookings(patient.id)
            .await?
            .into_iter()
            .filter(|b| {
                b.status == BookingStatus::Booked
                    && (to_cancel.contains(&b.id) || b.kind == EventKind::Infusion)
            })
        {
            self.cancel_booking(&staff.desk, b.id, b.version, Some(reason))
                .await?;
        }
        let plan = self.store().get_plan(t.plan_id).await?;
        self.end_plan(
            &staff.physician,
            plan.header.id,
            plan.header.version,
            reason,
        )
        .await?;
        // In follow-up until the protocol's follow-up is behind them; then discharged.
        let discharged = dropped_on.is_some() || follow_up <= yesterday;
        if discharged && dropped_on.is_none() {
            self.set_clock(Some(local(zone, follow_up.max(wrap_up), 15, 0)));
        }
        let patient = self.store().get_patient(patient.id).await?;
        let mut input = patient.details.to_input();
        input.status = Some(
            if discharged {
                "discharged"
            } else {
                "follow_up"
            }
            .into(),
        );
        self.update_patient(&staff.desk, patient.id, patient.version, &input)
            .await?;
        Ok(())
    }

    /// The clinician's decisions on the relapse proposals: each, in date
    /// order, a week or so after it (once the week's follow-back is in), up
    /// to the first confirmed; the incidental EtG is rejected. Nothing when
    /// the clinic has not set the protocol's relapse definition.
    async fn seed_alumnus_decisions(
        &self,
        staff: &Staff,
        t: &Treated,
        patient: &Patient,
        zone: chrono_tz::Tz,
        course_end: NaiveDate,
        anchor: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        use clinic_domain::outcome::relapse::EventKind as Proposed;
        let settled = local(zone, course_end + days(10), 12, 0).min(anchor - Duration::hours(2));
        self.set_clock(Some(settled));
        let Some(plan) = self.outcome_plan(patient).await? else {
            return Ok(());
        };
        let facts = self.outcome_facts(patient).await?;
        let view = self.relapse_view(patient, &plan, &facts).await?;
        let Ok(outcome) = view.outcome else {
            return Ok(());
        };
        for e in outcome
            .proposals
            .events
            .iter()
            .filter(|e| matches!(e.key.kind, Proposed::Relapse | Proposed::Dropout))
        {
            let incidental = matches!(t.extra, Extra::RejectedEtg(_))
                && e.evidence.days.is_empty()
                && e.evidence
                    .tests
                    .iter()
                    .all(|x| x.test.analyte.as_str() == "etg");
            let (verdict, note) = if incidental {
                ("rejected", "Low EtG only, no EtS; breath alcohol negative and no drinking reported; uses an alcohol-based mouthwash daily. Incidental exposure, not a relapse; mouthwash changed")
            } else if !e.evidence.days.is_empty() {
                ("confirmed", "Confirmed with the patient in session: the use days as reported; what led up to it reviewed and the plan updated")
            } else {
                ("confirmed", "Confirmed: the screen was positive; the patient acknowledged use when we discussed it; plan reviewed")
            };
            let date = e.key.date.to_string();
            let kind = e.key.kind.as_str();
            let substance = e.key.substance.map(|s| s.as_str().to_string());
            let by = if incidental {
                &staff.physician
            } else {
                &staff.counselor
            };
            self.set_clock(Some(local(zone, e.key.date + days(8), 12, 0).min(settled)));
            let decided = match self
                .decide_relapse(
                    by,
                    patient.id,
                    (&date, kind, substance.as_deref()),
                    verdict,
                    Some(note),
                )
                .await
            {
                Ok(row) => Ok(row),
                // Not yet proposed then (the evidence came later): decided once the course is settled.
                Err(ServiceError::Invalid(_)) => {
                    self.set_clock(Some(settled));
                    self.decide_relapse(
                        by,
                        patient.id,
                        (&date, kind, substance.as_deref()),
                        verdict,
                        Some(note),
                    )
                    .await
                }
                Err(other) => Err(other),
            };
            decided?;
            if verdict == "confirmed" {
                break;
            }
        }
        Ok(())
    }
}
