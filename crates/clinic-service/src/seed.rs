//! The demo clinic: six staff accounts and synthetic patients.
//!
//! Everything here is invented. Phone numbers use the 555-01xx range that is
//! reserved for fiction; e-mail addresses use example.org (RFC 2606).

use chrono::Datelike;
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::patient::{AllergyInput, ContactInput, MedicationInput, PatientDetails, PatientInput, PatientStatus, Substance};
use clinic_domain::user::{Role, Username};
use clinic_store::records::{NewPatient, Site};
use clinic_store::Store;
use uuid::Uuid;

use crate::auth::DEMO_PASSWORD;
use crate::error::ServiceError;
use crate::Clinic;

pub const DEMO_ACCOUNTS: [(&str, &str, Role); 6] = [
    ("admin", "Alex Admin", Role::Admin),
    ("director", "Dana Director", Role::Director),
    ("physician", "Dr. Priya Physician", Role::Physician),
    ("nurse", "Noah Nurse", Role::Nurse),
    ("counselor", "Casey Counselor", Role::Counselor),
    ("frontdesk", "Frankie Frontdesk", Role::Frontdesk),
];

pub const DEMO_SEED_ACTOR: &str = "system:demo-seed";

const GIVEN: [&str; 16] = [
    "Avery", "Jordan", "Maria", "Samuel", "Keisha", "Luis", "Mei", "Owen", "Priya", "Rosa", "Tariq", "Hannah", "Diego",
    "Grace", "Ivan", "Leila",
];
const FAMILY: [&str; 12] =
    ["Alvarez", "Brooks", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Johnson", "Kowalski", "Lopez"];

pub const N_DEMO_PATIENTS: usize = 48;

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOutcome {
    Seeded { n_users: usize, n_patients: usize, n_inquiries: usize },
    AlreadySeeded,
}

pub fn demo_site() -> Site {
    Site {
        id: Uuid::now_v7(),
        name: "Harbor Light Clinic (demo)".into(),
        time_zone: "America/New_York".into(),
        phone: Some("+1 555 010 0100".into()),
        address: Some("100 Example Street, Springfield".into()),
        hours: Some("Monday to Friday, 8 am to 6 pm".into()),
        created_at: crate::now(),
    }
}

/// The demo clinic's second site.
pub fn demo_second_site() -> Site {
    Site {
        id: Uuid::now_v7(),
        name: "Harbor Light Clinic – Eastside (demo)".into(),
        time_zone: "America/New_York".into(),
        phone: Some("+1 555 010 0200".into()),
        address: Some("200 Sample Avenue, Springfield".into()),
        hours: Some("Tuesday to Saturday, 9 am to 5 pm".into()),
        created_at: crate::now() + chrono::Duration::seconds(1),
    }
}

/// The synthetic patient number `idx`, the same on every run.
pub fn demo_patient(idx: usize, today: chrono::NaiveDate) -> PatientInput {
    let given = GIVEN[idx % GIVEN.len()];
    let family = FAMILY[(idx * 7 + idx / GIVEN.len()) % FAMILY.len()];
    let substance_sets: [&[Substance]; 7] = [
        &[Substance::Alcohol],
        &[Substance::Cocaine],
        &[Substance::Opioids],
        &[Substance::Alcohol, Substance::Cocaine],
        &[Substance::Stimulants],
        &[Substance::Alcohol, Substance::Cannabis],
        &[Substance::Opioids, Substance::Sedatives],
    ];
    let statuses = [
        PatientStatus::Screening,
        PatientStatus::InTreatment,
        PatientStatus::Eligible,
        PatientStatus::InTreatment,
        PatientStatus::FollowUp,
        PatientStatus::Inquiry,
        PatientStatus::NotEligible,
        PatientStatus::Discharged,
    ];
    let status = statuses[idx % statuses.len()];
    let n = u32::try_from(idx).unwrap_or(0);
    let age_years = 22 + (n * 13) % 45;
    let year = today.year() - i32::try_from(age_years).unwrap_or(30);
    let date_of_birth = format!("{year:04}-{:02}-{:02}", 1 + (n * 5) % 12, 1 + (n * 11) % 28);
    let sex = if idx.is_multiple_of(2) { "female" } else { "male" };
    let escort = matches!(status, PatientStatus::InTreatment | PatientStatus::Eligible).then(|| ContactInput {
        name: Some(format!("{} {}", GIVEN[(idx + 5) % GIVEN.len()], family)),
        relationship: Some(if idx.is_multiple_of(3) { "spouse" } else { "friend" }.into()),
        phone: Some(format!("555-010-{:04}", 2000 + idx)),
    });
    PatientInput {
        given_name: Some(given.into()),
        family_name: Some(family.into()),
        date_of_birth: Some(date_of_birth),
        sex_at_birth: Some(sex.into()),
        gender_identity: None,
        phone: Some(format!("555-010-{:04}", 1000 + idx)),
        email: (!idx.is_multiple_of(3)).then(|| format!("{}.{}@example.org", given.to_lowercase(), family.to_lowercase())),
        address: None,
        substances: substance_sets[idx % substance_sets.len()].iter().map(|s| s.as_str().to_string()).collect(),
        status: Some(status.as_str().into()),
        escort,
        emergency_contacts: Vec::new(),
        // Moderate-or-severe use disorder codes for the first substance that has one (clinical.md §8).
        diagnoses: substance_sets[idx % substance_sets.len()]
            .iter()
            .filter_map(|s| match s {
                Substance::Alcohol => Some("F10.20"),
                Substance::Cocaine => Some("F14.20"),
                Substance::Opioids => Some("F11.20"),
                _ => None,
            })
            .map(str::to_string)
            .collect(),
        allergies: match idx % 5 {
            0 => vec![AllergyInput { substance: Some("penicillin".into()), reaction: Some("hives".into()) }],
            3 => vec![AllergyInput { substance: Some("latex".into()), reaction: Some("rash".into()) }],
            _ => Vec::new(),
        },
        // People with opioid use disorder keep their MOUD (clinical.md §11.4).
        medications: if substance_sets[idx % substance_sets.len()].contains(&Substance::Opioids) {
            vec![MedicationInput { name: Some("buprenorphine/naloxone".into()), dose: Some("16/4 mg daily".into()) }]
        } else {
            Vec::new()
        },
        // Most agreed to calls and texts; those with an email address on file
        // mostly prefer it; a few have no contact consent recorded yet.
        contact_channels: match (idx % 7, !idx.is_multiple_of(3)) {
            (6, _) => Vec::new(),
            (_, true) => vec!["phone".into(), "sms".into(), "email".into()],
            (_, false) => vec!["phone".into(), "sms".into()],
        },
        preferred_contact_channel: match (idx % 7, !idx.is_multiple_of(3)) {
            (6, _) => None,
            (_, true) if idx.is_multiple_of(2) => Some("email".into()),
            _ => Some(if idx % 4 == 1 { "phone" } else { "sms" }.into()),
        },
    }
}

impl<S: Store> Clinic<S> {
    /// Seeds the demo clinic once: does nothing when any account exists.
    /// `progress` is told (done, total) after each patient.
    pub async fn seed_demo(&self, progress: &(dyn Fn(u64, u64) + Send + Sync)) -> Result<SeedOutcome, ServiceError> {
        if !self.store().list_users().await?.is_empty() {
            return Ok(SeedOutcome::AlreadySeeded);
        }
        let actor = Actor { user_id: None, name: DEMO_SEED_ACTOR.into(), role: None, client_addr: None };
        let site = self.store().ensure_site(&demo_site()).await?;
        if self.store().list_sites().await?.len() < 2 {
            self.store().add_site(&demo_second_site()).await?;
        }
        for (username, display_name, role) in DEMO_ACCOUNTS {
            let username = Username::parse(username)?;
            self.insert_user(&actor, &username, display_name, role, DEMO_PASSWORD).await?;
        }
        let today = Self::site_today(&site);
        let mut patients = Vec::new();
        for idx in 0..N_DEMO_PATIENTS {
            let details = PatientDetails::parse(&demo_patient(idx, today), today)?;
            let id = Uuid::now_v7();
            let now = crate::now();
            let event = AuditEvent::new(
                Uuid::now_v7(),
                now,
                &actor,
                AuditAction::PatientCreate,
                AuditTarget::patient(id),
                Outcome::Success,
                Some(serde_json::json!({ "source": "demo seed" }).to_string()),
            );
            let new = NewPatient { id, site_id: site.id, details, created_at: now };
            patients.push(self.store().create_patient(&new, &event).await?);
            let done = u64::try_from(idx + 1).unwrap_or(u64::MAX);
            progress(done, u64::try_from(N_DEMO_PATIENTS).unwrap_or(u64::MAX));
        }
        self.seed_demo_inquiries(&actor, &site).await?;
        self.seed_demo_screening(&actor, &patients).await?;
        self.seed_demo_eligibility(&actor, &patients).await?;
        let anchor = crate::seed_sessions::demo_anchor(&site, crate::now());
        let early = self.seed_demo_schedule(&actor, &patients, anchor).await?;
        let skip: Vec<Uuid> = early.iter().map(|e| e.plan_id).collect();
        // The past cohort: patients whose courses ended months ago (seed_alumni.rs).
        let alumni = self.seed_demo_alumni(&actor, anchor).await?;
        self.seed_demo_orders(&skip).await?;
        self.seed_demo_sessions(&early, anchor).await?;
        let event = AuditEvent::new(
            Uuid::now_v7(),
            crate::now(),
            &actor,
            AuditAction::Seed,
            AuditTarget::none("system"),
            Outcome::Success,
            Some(
                serde_json::json!({ "n_users": DEMO_ACCOUNTS.len(), "n_patients": N_DEMO_PATIENTS + alumni.patients, "n_inquiries": N_DEMO_INQUIRIES + alumni.inquiries })
                    .to_string(),
            ),
        );
        self.audit_writer().record(vec![event]).await?;
        Ok(SeedOutcome::Seeded { n_users: DEMO_ACCOUNTS.len(), n_patients: N_DEMO_PATIENTS + alumni.patients, n_inquiries: N_DEMO_INQUIRIES + alumni.inquiries })
    }
}

pub const N_DEMO_INQUIRIES: usize = 20;

impl<S: Store> Clinic<S> {
    /// Twenty inquiries spread over every status, with call logs, created
    /// over the past two weeks so some are overdue.
    async fn seed_demo_inquiries(&self, actor: &Actor, site: &Site) -> Result<(), ServiceError> {
        use clinic_domain::inquiry::{CallDirection, CallOutcome, CloseReason, InquiryCall, InquiryDetails, InquiryInput, InquiryStatus};
        use clinic_store::records::{InquiryChange, NewInquiry};
        let names = [
            "Chris Nolan", "Pat Quinn", "Robin Shah", "Taylor Young", "Morgan Lee", "Jamie Ortiz", "Casey Wright", "Drew Patel",
            "Alexis Kim", "Sky Romero", "Reese Clark", "Kendall Hall", "Quinn Foster", "Rowan Diaz", "Emery Walsh", "Finley Ross",
            "Harper Cole", "Jules Moreno", "Logan Reid", "Sage Turner",
        ];
        let statuses = [
            InquiryStatus::New, InquiryStatus::New, InquiryStatus::New, InquiryStatus::New, InquiryStatus::New, InquiryStatus::New,
            InquiryStatus::Contacted, InquiryStatus::Contacted, InquiryStatus::Contacted, InquiryStatus::Contacted,
            InquiryStatus::ScreeningBooked, InquiryStatus::ScreeningBooked, InquiryStatus::ScreeningBooked,
            InquiryStatus::Converted, InquiryStatus::Converted, InquiryStatus::Converted,
            InquiryStatus::Closed, InquiryStatus::Closed, InquiryStatus::Closed, InquiryStatus::Closed,
        ];
        let substances = ["alcohol", "cocaine", "opioids", "stimulants", "alcohol", "cannabis", "sedatives"];
        let channels = ["phone", "sms", "email"];
        let reasons = [CloseReason::NotInterested, CloseReason::Unreachable, CloseReason::ReferredElsewhere, CloseReason::NotEligible];
        let now = crate::now();
        // Oldest first, so ids (UUIDv7, time-ordered) follow the received times as in real use.
        let seeded: Vec<(usize, (&&str, InquiryStatus))> = names.iter().zip(statuses).enumerate().collect();
        for (idx, (name, status)) in seeded.into_iter().rev() {
            let n = i64::try_from(idx).unwrap_or(0);
            let input = InquiryInput {
                name: Some((*name).to_string()),
                phone: Some(format!("555-010-{:04}", 3000 + idx)),
                email: Some(format!("{}@example.org", name.to_lowercase().replace(' ', "."))),
                substances: vec![substances[idx % substances.len()].to_string()],
                preferred_contact_time: Some(if idx.is_multiple_of(2) { "weekday mornings" } else { "after 5 pm" }.to_string()),
                contact_channel: Some(channels[idx % channels.len()].to_string()),
                message: (idx.is_multiple_of(3)).then(|| "I would like to know if this could help me.".to_string()),
                consent_to_contact: Some(true),
            };
            let details = InquiryDetails::parse(&input)?;
            // New ones range from a few hours to several days old, so some are overdue.
            let created_at = now - chrono::Duration::hours(3 + n * 19);
            let id = Uuid::now_v7();
            let event = AuditEvent::new(Uuid::now_v7(), created_at, actor, AuditAction::InquiryCreate, AuditTarget::resource("inquiry", id.to_string()), Outcome::Success, None);
            let created = self.store().create_inquiry(&NewInquiry { id, site_id: site.id, details, created_at }, &event).await?;
            let mut version = created.version;
            let call = |outcome: CallOutcome, hours: i64, note: &str| InquiryCall {
                id: Uuid::now_v7(),
                inquiry_id: id,
                called_at: created_at + chrono::Duration::hours(hours),
                direction: if outcome == CallOutcome::ScreeningBooked { CallDirection::Inbound } else { CallDirection::Outbound },
                outcome,
                note: Some(note.to_string()),
                user_id: None,
            };
            let mut calls = Vec::new();
            match status {
                InquiryStatus::New => {
                    if idx == 1 {
                        calls.push((call(CallOutcome::NoAnswer, 1, "no voicemail set up"), None));
                    }
                }
                InquiryStatus::Contacted => {
                    calls.push((call(CallOutcome::LeftMessage, 2, "left a neutral message"), None));
                    calls.push((call(CallOutcome::Reached, 20, "interested; will check work schedule"), Some(InquiryStatus::Contacted)));
                }
                InquiryStatus::ScreeningBooked | InquiryStatus::Converted => {
                    calls.push((call(CallOutcome::Reached, 4, "explained the program"), Some(InquiryStatus::Contacted)));
                    calls.push((call(CallOutcome::ScreeningBooked, 26, "screening visit booked"), Some(InquiryStatus::ScreeningBooked)));
                }
                InquiryStatus::Closed => {
                    calls.push((call(CallOutcome::NoAnswer, 3, "no answer"), None));
                    calls.push((call(CallOutcome::WrongNumber, 30, "number not in service"), None));
                }
            }
            for (call, new_status) in calls {
                let event = AuditEvent::new(Uuid::now_v7(), call.called_at, actor, AuditAction::InquiryCall, AuditTarget::resource("inquiry", id.to_string()), Outcome::Success, None);
                version = self.store().add_inquiry_call(&call, new_status, call.called_at, &event).await?.version;
            }
            match status {
                InquiryStatus::Closed => {
                    let change = InquiryChange { status, close_reason: Some(reasons[idx % reasons.len()]), assigned_to: None };
                    let event = AuditEvent::new(Uuid::now_v7(), now, actor, AuditAction::InquiryUpdate, AuditTarget::resource("inquiry", id.to_string()), Outcome::Success, None);
                    self.store().update_inquiry(id, version, &change, now, &event).await?;
                }
                InquiryStatus::Converted => {
                    let (given, family) = crate::inquiries::split_name(name);
                    let patient_input = clinic_domain::patient::PatientInput {
                        given_name: given,
                        family_name: family,
                        date_of_birth: Some(format!("{}-0{}-1{}", 1970 + n, 1 + n % 9, n % 10)),
                        phone: input.phone.clone(),
                        email: input.email.clone(),
                        substances: input.substances.clone(),
                        contact_channels: input.contact_channel.iter().cloned().collect(),
                        preferred_contact_channel: input.contact_channel.clone(),
                        ..Default::default()
                    };
                    let details = PatientDetails::parse(&patient_input, Self::site_today(site))?;
                    let patient = NewPatient { id: Uuid::now_v7(), site_id: site.id, details, created_at: now };
                    let patient_event = AuditEvent::new(Uuid::now_v7(), now, actor, AuditAction::PatientCreate, AuditTarget::patient(patient.id), Outcome::Success, None);
                    let inquiry_event = AuditEvent::new(
                        Uuid::now_v7(),
                        now,
                        actor,
                        AuditAction::InquiryConvert,
                        AuditTarget { resource_type: "inquiry", resource_id: Some(id.to_string()), patient_id: Some(patient.id) },
                        Outcome::Success,
                        None,
                    );
                    self.store().convert_inquiry(id, version, &patient, &patient_event, &inquiry_event).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl<S: Store> Clinic<S> {
    /// Questionnaires for the patients in screening or treatment, a few weeks
    /// apart so the chart shows trends; one recent PHQ-9 with item 9 above 0
    /// leaves an open suicide-risk alert for the physicians.
    async fn seed_demo_screening(&self, actor: &Actor, patients: &[clinic_domain::patient::Patient]) -> Result<(), ServiceError> {
        use clinic_domain::patient::PatientStatus;
        use crate::screening::QuestionnaireInput;
        // PHQ-9 answers at three visits, improving (item 9 last, 0 throughout).
        const PHQ9: [[&str; 9]; 3] = [
            ["2", "2", "1", "2", "1", "1", "1", "1", "0"],
            ["1", "1", "1", "1", "1", "0", "1", "0", "0"],
            ["1", "0", "1", "1", "0", "0", "0", "0", "0"],
        ];
        let now = crate::now();
        let screened: Vec<&clinic_domain::patient::Patient> = patients
            .iter()
            .filter(|p| matches!(p.details.status, PatientStatus::Screening | PatientStatus::Eligible | PatientStatus::InTreatment | PatientStatus::NotEligible))
            .take(16)
            .collect();
        for (n, patient) in screened.iter().enumerate() {
            let visits = 1 + n % 3;
            for visit in 0..visits {
                let at = now - chrono::Duration::days(i64::try_from(7 * (visits - visit)).unwrap_or(7)) - chrono::Duration::hours(i64::try_from(n).unwrap_or(0));
                let mut answers: Vec<String> = PHQ9[visit + (3 - visits)].iter().map(|a| (*a).to_string()).collect();
                // The second screened patient's latest PHQ-9 answers item 9 with "several days".
                let alerting = n == 1 && visit + 1 == visits;
                if alerting {
                    answers[8] = "1".into();
                }
                let at = if alerting { now - chrono::Duration::minutes(40) } else { at };
                let input = QuestionnaireInput { instrument: "phq-9".into(), answers, ..Default::default() };
                self.store_questionnaire_at(patient, &input, actor.clone(), at).await?;
            }
            let substance_check = if patient.details.substances.contains(&clinic_domain::patient::Substance::Alcohol) {
                let drinks = ["3", "2", "2"];
                QuestionnaireInput { instrument: "audit-c".into(), answers: drinks.iter().map(|a| (*a).to_string()).collect(), ..Default::default() }
            } else {
                let yes_no = ["yes", "no", "no", "no", "yes", "yes", "no", "no", "no", "no"];
                QuestionnaireInput { instrument: "dast-10".into(), answers: yes_no.iter().map(|a| (*a).to_string()).collect(), ..Default::default() }
            };
            if matches!(patient.details.sex_at_birth, clinic_domain::patient::SexAtBirth::Female | clinic_domain::patient::SexAtBirth::Male)
                || substance_check.instrument != "audit-c"
            {
                self.store_questionnaire_at(patient, &substance_check, actor.clone(), now - chrono::Duration::days(20)).await?;
            }
        }
        Ok(())
    }
}

impl<S: Store> Clinic<S> {
    /// Medical screenings, signed consents and eligibility for the demo:
    /// eligible patients with signed decisions, one not eligible with its
    /// reasons, and patients in screening whose proposals await a physician.
    async fn seed_demo_eligibility(&self, actor: &Actor, patients: &[clinic_domain::patient::Patient]) -> Result<(), ServiceError> {
        use clinic_domain::patient::PatientStatus;
        let mut n_not_eligible = 0;
        for patient in patients {
            let status = patient.details.status;
            if !matches!(status, PatientStatus::Eligible | PatientStatus::InTreatment | PatientStatus::Screening | PatientStatus::NotEligible) {
                continue;
            }
            // One not-eligible patient carries excluding answers; the others are clear.
            let excluded = status == PatientStatus::NotEligible && n_not_eligible == 0;
            if status == PatientStatus::NotEligible && !excluded {
                continue;
            }
            if excluded {
                n_not_eligible += 1;
            }
            // Consents signed by the patient at the tablet (some in screening still missing them);
            // patients in treatment signed at intake, before the demo's infusion history.
            let consents = (status != PatientStatus::Screening || patient.mrn.as_str().ends_with(['1', '3', '5', '7', '9'])).then(|| {
                if status == PatientStatus::InTreatment { crate::now() - chrono::Duration::weeks(8) } else { crate::now() }
            });
            // Physicians have signed all but those still in screening.
            let at = crate::now();
            let decided = (status != PatientStatus::Screening).then_some(at);
            self.seed_patient_eligibility(actor, patient, EligibilitySeed { at, excluded, consents, decided }).await?;
        }
        Ok(())
    }

    /// One patient's medical screening (recorded at `seed.at`), consents
    /// (signed at `seed.consents`, if given), the eligibility proposal and,
    /// if `seed.decided`, the physician's signed decision then: "eligible",
    /// or "not eligible" for `seed.excluded` (uncontrolled blood pressure and
    /// a withdrawal-seizure history in the answers).
    pub(crate) async fn seed_patient_eligibility(&self, actor: &Actor, patient: &clinic_domain::patient::Patient, seed: EligibilitySeed) -> Result<(), ServiceError> {
        use clinic_domain::consent::{sign, ConsentKind, SignInput};
        use clinic_domain::eligibility::{sign_decision, DecisionInput, EligibilityRecord};
        use clinic_domain::screening::{Screening, ScreeningInput, CONTRAINDICATIONS};
        use clinic_store::screening::{DocumentKind, PatientDocument};
        let EligibilitySeed { at, excluded, consents, decided } = seed;
        let users = self.store().list_users().await?;
        let physician = users.iter().find(|u| u.role == clinic_domain::user::Role::Physician).cloned();
        let nurse = users.iter().find(|u| u.role == clinic_domain::user::Role::Nurse).cloned();
        let site = self.store().list_sites().await?.into_iter().next().ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no site")))?;
        let zone = Self::site_zone(&site);
        let today = at.with_timezone(&zone).date_naive();
        let event = |action: AuditAction, patient_id: Uuid, when: chrono::DateTime<chrono::Utc>| {
            AuditEvent::new(Uuid::now_v7(), when, actor, action, AuditTarget::patient(patient_id), Outcome::Success, Some(serde_json::json!({ "source": "demo seed" }).to_string()))
        };
        let document = |patient_id: Uuid, kind: DocumentKind, subtype: &str, body: String, by: Option<Uuid>, when: chrono::DateTime<chrono::Utc>| PatientDocument {
            id: Uuid::now_v7(),
            patient_id,
            kind,
            subtype: subtype.into(),
            body,
            created_by: by,
            created_at: when,
            closed_at: None,
            closed_by: None,
            version: 1,
        };
        let mut contraindications: std::collections::BTreeMap<String, String> =
            CONTRAINDICATIONS.iter().map(|c| (c.id.as_str().to_string(), "no".to_string())).collect();
        if excluded {
            contraindications.insert("uncontrolled_hypertension".into(), "yes".into());
        }
        let female = patient.details.sex_at_birth == clinic_domain::patient::SexAtBirth::Female;
        let input = ScreeningInput {
            screened_on: Some(today.format("%Y-%m-%d").to_string()),
            screened_by: Some(nurse.as_ref().map(|n| n.display_name.clone()).unwrap_or_else(|| "Demo nurse".into())),
            contraindications,
            allergies_reviewed: Some("yes".into()),
            benzodiazepine_use: Some("no".into()),
            lamotrigine_use: Some("no".into()),
            moud: Some(if clinic_domain::chart::has_opioid_use(&patient.details) { "continued" } else { "not_on_moud" }.into()),
            systolic_bp_mmhg: Some(if excluded { "178" } else { "126" }.into()),
            diastolic_bp_mmhg: Some(if excluded { "104" } else { "80" }.into()),
            heart_rate_bpm: Some("74".into()),
            respiratory_rate_per_min: Some("14".into()),
            spo2_percent: Some("98".into()),
            weight_kg: Some("72.5".into()),
            height_cm: Some("172".into()),
            pregnancy_status: Some(if female { "not_pregnant" } else { "not_applicable" }.into()),
            pregnancy_test_date: female.then(|| today.format("%Y-%m-%d").to_string()),
            pregnancy_test_result: female.then(|| "negative".into()),
            withdrawal_seizure_history: Some(if excluded { "yes" } else { "no" }.into()),
            delirium_tremens_history: Some("no".into()),
            pdmp_checked_on: Some(today.format("%Y-%m-%d").to_string()),
            pdmp_checked_by: Some("Demo nurse".into()),
            pdmp_result: Some("No other controlled-substance prescriptions".into()),
            pdmp_concerning: Some("no".into()),
            ..Default::default()
        };
        let screening = Screening::parse(&input, today)?;
        let body = serde_json::to_string(&screening).map_err(|e| ServiceError::Internal(e.into()))?;
        self.store()
            .add_document(&document(patient.id, DocumentKind::MedicalScreening, "medical_screening", body, nurse.as_ref().map(|n| n.id), at), &event(AuditAction::ScreeningRecord, patient.id, at))
            .await?;
        // Consents signed by the patient at the tablet.
        if let Some(signed_at) = consents {
            for kind in [ConsentKind::Treatment, ConsentKind::Infusion] {
                let Some(template) = self.consent_templates().iter().find(|t| t.kind == kind) else { continue };
                let signed = sign(
                    template,
                    &SignInput {
                        signature: Some(format!("{} {}", patient.details.given_name, patient.details.family_name)),
                        signer_capacity: Some("patient".into()),
                        shown_text_sha256: Some(template.text_sha256()),
                        ..Default::default()
                    },
                    signed_at,
                )?;
                let body = serde_json::to_string(&signed).map_err(|e| ServiceError::Internal(e.into()))?;
                self.store()
                    .add_document(&document(patient.id, DocumentKind::Consent, kind.as_str(), body, nurse.as_ref().map(|n| n.id), signed_at), &event(AuditAction::ConsentSign, patient.id, signed_at))
                    .await?;
            }
        }
        let mut inputs = match self.eligibility_inputs(patient).await {
            Ok(inputs) => inputs,
            Err(ServiceError::Invalid(_)) => return Ok(()),
            Err(err) => return Err(err),
        };
        // Proposed the day of the screening (the record read then).
        inputs.now = at;
        inputs.today = today;
        let record = EligibilityRecord::new(inputs);
        let body = serde_json::to_string(&record).map_err(|e| ServiceError::Internal(e.into()))?;
        let proposal = document(patient.id, DocumentKind::Eligibility, record.proposal.outcome.as_str(), body, nurse.as_ref().map(|n| n.id), at);
        self.store().add_document(&proposal, &event(AuditAction::EligibilityPropose, patient.id, at)).await?;
        if let (Some(physician), Some(decided_at)) = (&physician, decided) {
            let decision = if excluded { "not_eligible" } else { "eligible" };
            let agrees = record.proposal.outcome.as_str() == decision;
            let input = DecisionInput {
                physician: Some(format!("{} ({})", physician.display_name, physician.username)),
                decision: Some(decision.into()),
                reason: (!agrees).then(|| "Reviewed with the patient: blood pressure, BMI and age acceptable; clinic limits not yet set.".into()),
                overridden_rules: Vec::new(),
            };
            let signed = sign_decision(record, &input, decided_at)?;
            let body = serde_json::to_string(&signed).map_err(|e| ServiceError::Internal(e.into()))?;
            let status = crate::eligibility::decided_status(patient, &signed);
            self.store().close_document(proposal.id, 1, &body, Some(physician.id), decided_at, status, &event(AuditAction::EligibilitySign, patient.id, decided_at)).await?;
        }
        Ok(())
    }
}

/// When and how one seeded patient was screened (`seed_patient_eligibility`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EligibilitySeed {
    /// The screening visit: the medical screening and the proposal.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Uncontrolled blood pressure and a withdrawal-seizure history: not eligible.
    pub excluded: bool,
    /// When the patient signed the treatment and infusion consents, if yet.
    pub consents: Option<chrono::DateTime<chrono::Utc>>,
    /// When the physician signed the decision, if yet.
    pub decided: Option<chrono::DateTime<chrono::Utc>>,
}

impl<S: Store> Clinic<S> {
    /// The demo clinic's schedule: its hours, chairs and rooms and the demo
    /// clinic's own settings (60 minutes' recovery, one nurse per two running
    /// chairs, a physician on site during infusions — choices of this
    /// fictitious clinic, not reference values), staff on site on weekdays,
    /// and a signed plan for every patient in treatment, rotating through the
    /// protocols their substances allow, booked by the front desk with
    /// "schedule whole plan" from the Monday after today.
    async fn seed_demo_schedule(
        &self,
        actor: &Actor,
        patients: &[clinic_domain::patient::Patient],
        anchor: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::seed_sessions::EarlyPlan>, ServiceError> {
        use chrono::{Duration, NaiveTime};
        use clinic_domain::plan;
        use clinic_domain::schedule::ResourceKind;
        use clinic_store::schedule::{OpeningRow, ResourceRecord, SiteScheduleRecord};
        let sites = self.store().list_sites().await?;
        let users = self.store().list_users().await?;
        let (Some(physician), Some(desk)) = (users.iter().find(|u| u.role == Role::Physician).cloned(), Self::demo_principal(&users, Role::Frontdesk)) else {
            return Ok(Vec::new());
        };
        let event = |action: AuditAction, target: AuditTarget| {
            AuditEvent::new(Uuid::now_v7(), crate::now(), actor, action, target, Outcome::Success, Some(serde_json::json!({ "source": "demo seed" }).to_string()))
        };
        let time = |h: u32| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN);
        for (n, site) in sites.iter().enumerate() {
            let main = n == 0;
            let days: &[i64] = if main { &[0, 1, 2, 3, 4] } else { &[1, 2, 3, 4, 5] };
            let (opens, closes) = if main { (time(8), time(18)) } else { (time(9), time(17)) };
            let mut resources = Vec::new();
            let chairs = if main { 4 } else { 2 };
            for c in 1..=chairs {
                resources.push(ResourceRecord { id: Uuid::now_v7(), site_id: site.id, kind: ResourceKind::Chair, name: format!("Chair {c}"), position: c });
            }
            for (r, name) in ["Room A", "Room B"].iter().enumerate().take(if main { 2 } else { 1 }) {
                let position = chairs + i64::try_from(r).unwrap_or(0) + 1;
                resources.push(ResourceRecord { id: Uuid::now_v7(), site_id: site.id, kind: ResourceKind::Room, name: (*name).into(), position });
            }
            let year = Self::site_today(site).year();
            let record = SiteScheduleRecord {
                site_id: site.id,
                recovery_minutes: Some(60),
                nurses_per_chairs: Some((1, 2)),
                physician_on_site: Some(true),
                hours: days.iter().map(|d| OpeningRow { weekday: *d, opens, closes }).collect(),
                closures: [(12, 25, "Christmas Day"), (1, 1, "New Year's Day")]
                    .iter()
                    .flat_map(|(m, d, why)| [year - 1, year, year + 1].map(|y| chrono::NaiveDate::from_ymd_opt(y, *m, *d).map(|date| (date, (*why).to_string()))))
                    .flatten()
                    .collect(),
                resources,
                version: 0,
            };
            self.store().save_site_schedule(&record, &event(AuditAction::SiteScheduleUpdate, AuditTarget::resource("site", site.id.to_string()))).await?;
            // Staff on site: seven weeks back (the demo's infusion history) to sixteen weeks ahead, on opening days.
            let zone: chrono_tz::Tz = site.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
            let today = Self::site_today(site);
            let mut rows = Vec::new();
            for staff in users.iter().filter(|u| matches!(u.role, Role::Physician | Role::Nurse | Role::Counselor)) {
                let mut day = today - Duration::weeks(7);
                while day <= today + Duration::weeks(16) {
                    let weekday = i64::from(day.weekday().num_days_from_monday());
                    if days.contains(&weekday) {
                        let at = |t| clinic_domain::schedule::hours::local_instant(zone, day, t);
                        if let (Some(starts_at), Some(ends_at)) = (at(opens), at(closes)) {
                            rows.push(clinic_store::schedule::AvailabilityRecord { id: Uuid::now_v7(), user_id: staff.id, site_id: site.id, starts_at, ends_at });
                        }
                    }
                    day += Duration::days(1);
                }
            }
            self.store().add_availability(&rows, &event(AuditAction::SiteScheduleUpdate, AuditTarget::resource("site", site.id.to_string()))).await?;
        }
        let Some(site) = sites.first() else { return Ok(Vec::new()) };
        let today = Self::site_today(site);
        let zone: chrono_tz::Tz = site.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
        let anchor_day = anchor.with_timezone(&zone).date_naive();
        let anchor_monday = anchor_day - Duration::days(i64::from(anchor_day.weekday().num_days_from_monday()));
        let mut early = Vec::new();
        let next_monday = today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()));
        let mut used: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        let in_treatment: Vec<_> = patients.iter().filter(|p| p.details.status == PatientStatus::InTreatment).collect();
        for (i, patient) in in_treatment.iter().enumerate() {
            // The protocols this patient's substances allow, least used first.
            let mut fitting: Vec<&clinic_domain::protocol::Protocol> = self
                .protocols()
                .iter()
                .filter(|p| p.definition().substances.iter().any(|s| patient.details.substances.iter().any(|ps| ps.as_str() == s)))
                .collect();
            fitting.sort_by_key(|p| (used.get(p.id()).copied().unwrap_or(0), p.id().to_string()));
            let Some(protocol) = fitting.first().copied() else { continue };
            *used.entry(protocol.id()).or_default() += 1;
            // The first patients started earlier: two have infusions behind them (day 0
            // three and five weeks back), one is in the chair now and one is due next
            // (their first infusion on the anchor's day). Their plans were made a week
            // before day 0, on the clinic's clock set back to then.
            let mut at_planning = (*patient).clone();
            at_planning.details.status = PatientStatus::Eligible;
            let role = crate::seed_sessions::EarlyRole::of(i);
            let start = match role {
                Some(crate::seed_sessions::EarlyRole::Completed(weeks)) => anchor_monday - Duration::weeks(weeks),
                Some(crate::seed_sessions::EarlyRole::Running | crate::seed_sessions::EarlyRole::Ready) => {
                    // Day 0 so that the first infusion falls on the anchor's day.
                    let (probe, _) = plan::new_plan(protocol, &at_planning, anchor_day, physician.id, crate::now(), &mut Uuid::now_v7)
                        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("demo plan: {e}")))?;
                    let first = probe.events.iter().filter(|e| e.kind == clinic_domain::protocol::EventKind::Infusion).map(|e| e.date).min().unwrap_or(anchor_day);
                    anchor_day - (first - anchor_day)
                }
                None => next_monday + Duration::weeks(i64::try_from(i / 4).unwrap_or(0)),
            };
            let planned_at = role.map(|_| clinic_domain::schedule::hours::local_instant(zone, start - Duration::days(7), time(10)).unwrap_or(anchor) );
            self.set_clock(planned_at);
            let (new, change) = plan::new_plan(protocol, &at_planning, start, physician.id, self.now(), &mut Uuid::now_v7).map_err(|e| ServiceError::Internal(anyhow::anyhow!("demo plan: {e}")))?;
            self.store().create_plan(&new, &change, &event(AuditAction::PlanCreate, AuditTarget::patient(patient.id))).await?;
            // Sessions the protocol puts on a weekend go to the Monday after, as
            // the physician would do for a site shut at weekends.
            let mut current = new;
            let weekend: Vec<(Uuid, chrono::NaiveDate)> = current
                .events
                .iter()
                .filter(|e| e.kind != clinic_domain::protocol::EventKind::Infusion && e.date.weekday().num_days_from_monday() >= 5)
                .map(|e| (e.id, e.date + Duration::days(7 - i64::from(e.date.weekday().num_days_from_monday()))))
                .collect();
            for (event_id, monday) in weekend {
                let request = plan::EditRequest { edit: plan::PlanEdit::Move { event_id, date: monday }, reason: "the site is closed at weekends".into(), acknowledge_deviation: false };
                let limits = clinic_domain::dose::PlausibilityLimits::shipped();
                let Ok(outcome) = plan::apply_edit(&current, protocol, &request, &limits, physician.id, self.now(), &mut Uuid::now_v7) else { continue };
                let changed: Vec<_> = outcome.plan.events.iter().filter(|e| outcome.changed_events.contains(&e.id)).cloned().collect();
                self.store()
                    .save_plan_change(&outcome.plan.header, current.header.version, &changed, &outcome.change, None, &event(AuditAction::PlanUpdate, AuditTarget::patient(patient.id)))
                    .await?;
                current = outcome.plan;
            }
            let (header, change) = plan::sign(&current, physician.id, self.now(), &mut Uuid::now_v7).map_err(|e| ServiceError::Internal(anyhow::anyhow!("demo plan: {e}")))?;
            self.store().save_plan_change(&header, current.header.version, &[], &change, None, &event(AuditAction::PlanSign, AuditTarget::patient(patient.id))).await?;
            let new = current;
            // Book it the way the front desk would; where the whole plan does
            // not fit (a holiday, a full day), book what fits event by event.
            // The patient in the chair now starts at the anchor; the next one an hour and a half later.
            let at = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&zone).format("%H:%M").to_string();
            let preferred = match role {
                Some(crate::seed_sessions::EarlyRole::Running) => at(anchor),
                Some(crate::seed_sessions::EarlyRole::Ready) => at(anchor + Duration::minutes(90)),
                _ => "09:00".to_string(),
            };
            if let (Some(role), Some(planned_at)) = (role, planned_at) {
                early.push(crate::seed_sessions::EarlyPlan { plan_id: new.header.id, role, planned_at });
            }
            match self.schedule_whole_plan(&desk, new.header.id, Some(&preferred), None).await {
                Ok(_) => {}
                Err(ServiceError::Unbookable(_) | ServiceError::Invalid(_)) => {
                    let plan = self.store().get_plan(new.header.id).await?;
                    for e in plan.events.iter().filter(|e| matches!(e.kind, clinic_domain::protocol::EventKind::Infusion | clinic_domain::protocol::EventKind::Therapy | clinic_domain::protocol::EventKind::Integration)) {
                        let input = crate::scheduling::BookInput { time: Some(preferred.clone()), ..Default::default() };
                        match self.book_event(&desk, e.id, &input).await {
                            Ok(_) => {}
                            Err(ServiceError::Unbookable(problem)) => {
                                if let Some(alt) = problem.alternatives.iter().find(|a| a.local_date == e.date) {
                                    let input = crate::scheduling::BookInput { time: Some(alt.local_time.clone()), ..Default::default() };
                                    let _ = self.book_event(&desk, e.id, &input).await;
                                }
                            }
                            Err(ServiceError::Invalid(_) | ServiceError::Conflict { .. }) => {}
                            Err(other) => return Err(other),
                        }
                    }
                }
                Err(other) => return Err(other),
            }
            self.set_clock(None);
        }
        Ok(early)
    }
}

impl<S: Store> Clinic<S> {
    /// A signed order for every booked infusion, at the plan's dose on the
    /// screening weight (10 mg/mL into 100 mL of 0.9 % NaCl), each
    /// double-checked by the nurse with matching entries.
    async fn seed_demo_orders(&self, skip: &[Uuid]) -> Result<(), ServiceError> {
        let users = self.store().list_users().await?;
        let (Some(physician), Some(nurse)) = (Self::demo_principal(&users, Role::Physician), Self::demo_principal(&users, Role::Nurse)) else { return Ok(()) };
        let patients = self.store().list_patients(&clinic_store::records::PatientFilter { status: Some(PatientStatus::InTreatment), limit: 500, ..Default::default() }).await?;
        for patient in patients.items {
            for header in self.store().list_plans(patient.id).await?.into_iter().filter(|h| !skip.contains(&h.id)) {
                let plan = self.store().get_plan(header.id).await?;
                for event in plan.events.iter().filter(|e| e.kind == clinic_domain::protocol::EventKind::Infusion && e.status == clinic_domain::plan::EventStatus::Booked) {
                    let context = self.order_context(&physician, event.id).await?;
                    let Some((weight, measured)) = context.last_weight.clone() else { continue };
                    let input = clinic_domain::order::OrderInput {
                        weight_kg: Some(weight.clone()),
                        weight_measured_on: Some(measured.to_string()),
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
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_patient_is_valid_and_the_set_is_varied() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let mut statuses = std::collections::BTreeSet::new();
        let mut substances = std::collections::BTreeSet::new();
        let mut names = std::collections::BTreeSet::new();
        for idx in 0..N_DEMO_PATIENTS {
            let details = PatientDetails::parse(&demo_patient(idx, today), today).unwrap();
            statuses.insert(details.status);
            substances.extend(details.substances.iter().copied());
            names.insert((details.given_name.clone(), details.family_name.clone(), details.date_of_birth));
        }
        assert_eq!(statuses.len(), PatientStatus::ALL.len(), "every status appears");
        assert!(substances.len() >= 6);
        assert_eq!(names.len(), N_DEMO_PATIENTS, "no two demo patients look like duplicates");
    }
}
