//! The one suite every backend runs, each test on a fresh database.
//!
//! A backend's test file calls `conformance_tests!(async_fn_returning_store)`,
//! which expands one `#[tokio::test]` per story below.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test-support code: a failed step is a failed test.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::patient::{Contact, PatientDetails, PatientStatus, SexAtBirth, Substance};
use clinic_domain::inquiry::ContactChannel;
use clinic_domain::user::Role;
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::*;
use crate::verify::verify_chain;
use crate::Store;

#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make,
            sites, users_and_credentials, sessions, disabling_and_password_changes_end_sessions,
            patients_create_read_update, patient_list_search_and_paging, duplicate_candidates,
            audit_commits_with_each_change, audit_list_filters_and_paging, sealing_builds_a_verifiable_chain,
            concurrent_sealers_never_fork_the_chain, inquiries_queue_calls_and_conversion,
            questionnaires_alerts_and_portal_links, patient_documents_close_once, plans_events_and_history,
            schedule_settings_bookings_and_feeds, orders_and_double_checks, ledger_appends_in_order_once);
    };
    (@each $make:path, $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(store) = $make().await {
                    $crate::conformance::$name(store).await;
                }
            }
        )+
    };
}

pub fn t0() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

fn event(action: AuditAction, target: AuditTarget, at: DateTime<Utc>) -> AuditEvent {
    let actor = Actor { user_id: None, name: "tester".into(), role: Some("physician".into()), client_addr: Some("127.0.0.1".into()) };
    AuditEvent::new(Uuid::now_v7(), at, &actor, action, target, Outcome::Success, None)
}

fn site() -> Site {
    Site {
        id: Uuid::now_v7(),
        name: "Demo Clinic".into(),
        time_zone: "America/New_York".into(),
        phone: Some("+15550100100".into()),
        address: None,
        hours: Some("Mon-Fri 8:00-17:00".into()),
        created_at: t0(),
    }
}

fn details(given: &str, family: &str, dob: (i32, u32, u32)) -> PatientDetails {
    PatientDetails {
        given_name: given.into(),
        family_name: family.into(),
        date_of_birth: NaiveDate::from_ymd_opt(dob.0, dob.1, dob.2).unwrap_or_default(),
        sex_at_birth: SexAtBirth::Female,
        gender_identity: None,
        phone: None,
        email: None,
        address: None,
        substances: vec![Substance::Alcohol],
        status: PatientStatus::Screening,
        escort: None,
        emergency_contacts: Vec::new(),
        diagnoses: Vec::new(),
        allergies: Vec::new(),
        medications: Vec::new(),
        contact_channels: Vec::new(),
        preferred_contact_channel: None,
    }
}

async fn new_user<S: Store>(store: &S, username: &str, role: Role) -> User {
    let id = Uuid::now_v7();
    let user = NewUser {
        id,
        username: username.into(),
        display_name: format!("{username} display"),
        role,
        password_hash: "$argon2id$fake".into(),
        created_at: t0(),
    };
    store
        .create_user(&user, &event(AuditAction::UserCreate, AuditTarget::resource("user", id.to_string()), t0()))
        .await
        .unwrap()
}

async fn new_patient<S: Store>(store: &S, site_id: Uuid, details: PatientDetails) -> clinic_domain::patient::Patient {
    let id = Uuid::now_v7();
    let new = NewPatient { id, site_id, details, created_at: t0() };
    store.create_patient(&new, &event(AuditAction::PatientCreate, AuditTarget::patient(id), t0())).await.unwrap()
}

pub async fn sites<S: Store>(store: S) {
    assert!(store.list_sites().await.unwrap().is_empty());
    let first = site();
    assert_eq!(store.ensure_site(&first).await.unwrap(), first);
    // A second call returns the existing site rather than adding one.
    assert_eq!(store.ensure_site(&site()).await.unwrap(), first);
    assert_eq!(store.list_sites().await.unwrap(), vec![first.clone()]);
    let mut second = site();
    second.name = "Second site".into();
    second.hours = None;
    second.created_at = t0() + Duration::minutes(1);
    store.add_site(&second).await.unwrap();
    assert_eq!(store.list_sites().await.unwrap(), vec![first, second]);
}

pub async fn users_and_credentials<S: Store>(store: S) {
    let nurse = new_user(&store, "nurse", Role::Nurse).await;
    let admin = new_user(&store, "admin", Role::Admin).await;
    assert_eq!(store.get_user(nurse.id).await.unwrap(), nurse);
    assert!(matches!(store.get_user(Uuid::now_v7()).await, Err(StoreError::NotFound)));
    let cred = store.find_credential("nurse").await.unwrap().unwrap();
    assert_eq!(cred.user, nurse);
    assert_eq!(cred.password_hash, "$argon2id$fake");
    assert_eq!(store.find_credential("nobody").await.unwrap(), None);
    let names: Vec<String> = store.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["admin", "nurse"]);
    assert!(!admin.disabled);

    let dup = NewUser {
        id: Uuid::now_v7(),
        username: "nurse".into(),
        display_name: "Other".into(),
        role: Role::Nurse,
        password_hash: "x".into(),
        created_at: t0(),
    };
    let audit = event(AuditAction::UserCreate, AuditTarget::resource("user", dup.id.to_string()), t0());
    match store.create_user(&dup, &audit).await {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "users_username_key"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The refused change left no audit event behind.
    let page = store.list_audit(&AuditFilter { limit: 50, ..AuditFilter::default() }).await.unwrap();
    assert!(page.items.iter().all(|e| e.id != audit.id));
    assert_eq!(page.items.len(), 2);
}

fn session(user_id: Uuid, token_hash: &str) -> NewSession {
    NewSession {
        token_hash: token_hash.into(),
        user_id,
        csrf_token: format!("csrf-{token_hash}"),
        created_at: t0(),
        client_addr: Some("127.0.0.1".into()),
    }
}

pub async fn sessions<S: Store>(store: S) {
    let nurse = new_user(&store, "nurse", Role::Nurse).await;
    let login = event(AuditAction::LoginSuccess, AuditTarget::resource("user", nurse.id.to_string()), t0());
    store.create_session(&session(nurse.id, "h1"), &login).await.unwrap();
    let got = store.get_session("h1").await.unwrap().unwrap();
    assert_eq!(got.user, nurse);
    assert_eq!(got.csrf_token, "csrf-h1");
    assert_eq!(got.created_at, t0());
    assert_eq!(got.last_seen_at, t0());
    let later = t0() + Duration::minutes(5);
    store.touch_session("h1", later).await.unwrap();
    assert_eq!(store.get_session("h1").await.unwrap().unwrap().last_seen_at, later);
    let logout = event(AuditAction::Logout, AuditTarget::resource("user", nurse.id.to_string()), later);
    store.delete_session("h1", Some(&logout)).await.unwrap();
    assert_eq!(store.get_session("h1").await.unwrap(), None);
    assert_eq!(store.get_session("never").await.unwrap(), None);
    let actions: Vec<String> =
        store.list_audit(&AuditFilter { limit: 10, ..AuditFilter::default() }).await.unwrap().items.into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["auth.logout", "auth.login", "user.create"]);
}

pub async fn disabling_and_password_changes_end_sessions<S: Store>(store: S) {
    let nurse = new_user(&store, "nurse", Role::Nurse).await;
    let audit = || event(AuditAction::LoginSuccess, AuditTarget::none("session"), t0());
    store.create_session(&session(nurse.id, "a"), &audit()).await.unwrap();
    store.set_password(nurse.id, "$argon2id$new", t0(), &audit()).await.unwrap();
    assert_eq!(store.get_session("a").await.unwrap(), None);
    assert_eq!(store.find_credential("nurse").await.unwrap().unwrap().password_hash, "$argon2id$new");
    assert!(matches!(store.set_password(Uuid::now_v7(), "x", t0(), &audit()).await, Err(StoreError::NotFound)));

    store.create_session(&session(nurse.id, "b"), &audit()).await.unwrap();
    let later = t0() + Duration::hours(1);
    let disabled = store.set_user_disabled(nurse.id, true, later, &audit()).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.updated_at, later);
    assert_eq!(store.get_session("b").await.unwrap(), None);
    let enabled = store.set_user_disabled(nurse.id, false, later, &audit()).await.unwrap();
    assert!(!enabled.disabled);
    assert!(matches!(store.set_user_disabled(Uuid::now_v7(), true, later, &audit()).await, Err(StoreError::NotFound)));
}

pub async fn patients_create_read_update<S: Store>(store: S) {
    let site = store.ensure_site(&site()).await.unwrap();
    let mut full = details("Ana", "Díaz", (1980, 2, 29));
    full.phone = Some("5550100199".into());
    full.email = Some("ana@example.org".into());
    full.gender_identity = Some("woman".into());
    full.address = Some("1 Main St".into());
    full.substances = vec![Substance::Alcohol, Substance::Cocaine];
    full.escort = Some(Contact { name: "Ben Díaz".into(), relationship: Some("brother".into()), phone: Some("5550100198".into()) });
    full.diagnoses = vec!["F10.20".into(), "F14.20".into()];
    full.allergies = vec![
        clinic_domain::patient::Allergy { substance: "penicillin".into(), reaction: Some("hives".into()) },
        clinic_domain::patient::Allergy { substance: "latex".into(), reaction: None },
    ];
    full.medications = vec![clinic_domain::patient::Medication { name: "naltrexone".into(), dose: Some("50 mg daily".into()) }];
    full.contact_channels = vec![ContactChannel::Phone, ContactChannel::Sms, ContactChannel::Email];
    full.preferred_contact_channel = Some(ContactChannel::Sms);
    full.emergency_contacts = vec![
        Contact { name: "Cara".into(), relationship: None, phone: Some("5550100197".into()) },
        Contact { name: "Dan".into(), relationship: Some("friend".into()), phone: None },
    ];
    let first = new_patient(&store, site.id, full.clone()).await;
    let second = new_patient(&store, site.id, details("Bo", "Li", (1990, 1, 1))).await;
    assert_eq!(first.mrn.as_str(), "K00000018");
    assert_eq!(second.mrn.as_str(), "K00000026");
    assert_eq!(first.version, 1);
    let read = store.get_patient(first.id).await.unwrap();
    assert_eq!(read, first);
    assert_eq!(read.details, full);
    assert_eq!(store.count_patients().await.unwrap(), 2);
    assert!(matches!(store.get_patient(Uuid::now_v7()).await, Err(StoreError::NotFound)));

    let mut changed = full.clone();
    changed.status = PatientStatus::InTreatment;
    changed.escort = None;
    changed.substances = vec![Substance::Opioids];
    changed.allergies.truncate(1);
    changed.medications.clear();
    changed.diagnoses = vec!["F11.20".into()];
    changed.contact_channels = vec![ContactChannel::Email];
    changed.preferred_contact_channel = None;
    let later = t0() + Duration::days(1);
    let audit = event(AuditAction::PatientUpdate, AuditTarget::patient(first.id), later);
    let updated = store.update_patient(first.id, 1, &changed, later, &audit).await.unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.details, changed);
    assert_eq!(store.get_patient(first.id).await.unwrap(), updated);

    // A second writer holding version 1 is refused and changes nothing.
    let stale_audit = event(AuditAction::PatientUpdate, AuditTarget::patient(first.id), later);
    match store.update_patient(first.id, 1, &full, later, &stale_audit).await {
        Err(StoreError::StaleVersion { current }) => assert_eq!(current, 2),
        other => panic!("expected a stale version, got {other:?}"),
    }
    assert_eq!(store.get_patient(first.id).await.unwrap(), updated);
    assert!(matches!(
        store.update_patient(Uuid::now_v7(), 1, &full, later, &stale_audit).await,
        Err(StoreError::NotFound)
    ));
    let page = store.list_audit(&AuditFilter { patient_id: Some(first.id), limit: 10, ..AuditFilter::default() }).await.unwrap();
    let actions: Vec<&str> = page.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["patient.update", "patient.create"]);
}

pub async fn patient_list_search_and_paging<S: Store>(store: S) {
    let site = store.ensure_site(&site()).await.unwrap();
    let names = [("Ana", "Diaz"), ("Bo", "Li"), ("Cy", "Abbott"), ("Di", "Zhou"), ("Ed", "Li"), ("Fay", "O'Neil_x")];
    let mut created = Vec::new();
    for (idx, (given, family)) in names.iter().enumerate() {
        let mut d = details(given, family, (1980, 1, 1 + u32::try_from(idx).unwrap_or(0)));
        if idx == 3 {
            d.status = PatientStatus::Eligible;
        }
        created.push(new_patient(&store, site.id, d).await);
    }
    // Paging: two at a time, in name order, with no repeats or gaps.
    let mut seen = Vec::new();
    let mut filter = PatientFilter { limit: 2, ..PatientFilter::default() };
    loop {
        let page = store.list_patients(&filter).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|p| p.details.family_name.clone()));
        match page.next_cursor {
            None => break,
            Some(cursor) => filter.after = Some(PatientCursor::decode(&cursor).unwrap()),
        }
    }
    assert_eq!(seen, ["Abbott", "Diaz", "Li", "Li", "O'Neil_x", "Zhou"]);

    let search = |q: &str| PatientFilter { q: Some(q.into()), limit: 50, ..PatientFilter::default() };
    let found = |page: Page<clinic_domain::patient::Patient>| -> Vec<String> {
        page.items.into_iter().map(|p| format!("{} {}", p.details.given_name, p.details.family_name)).collect()
    };
    assert_eq!(found(store.list_patients(&search("li")).await.unwrap()), ["Bo Li", "Ed Li"]);
    assert_eq!(found(store.list_patients(&search("ANA d")).await.unwrap()), ["Ana Diaz"]);
    assert_eq!(found(store.list_patients(&search("li, ed")).await.unwrap()), ["Ed Li"]);
    // LIKE wildcards in the query are taken literally.
    assert_eq!(found(store.list_patients(&search("_")).await.unwrap()), ["Fay O'Neil_x"]);
    assert_eq!(found(store.list_patients(&search("%")).await.unwrap()), Vec::<String>::new());
    let mrn = created[2].mrn.as_str().to_ascii_lowercase();
    assert_eq!(found(store.list_patients(&search(&mrn)).await.unwrap()), ["Cy Abbott"]);
    let by_dob = PatientFilter { date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 2), limit: 50, ..PatientFilter::default() };
    assert_eq!(found(store.list_patients(&by_dob).await.unwrap()), ["Bo Li"]);
    let by_status = PatientFilter { status: Some(PatientStatus::Eligible), limit: 50, ..PatientFilter::default() };
    assert_eq!(found(store.list_patients(&by_status).await.unwrap()), ["Di Zhou"]);
    let mut counts = store.patient_status_counts().await.unwrap();
    counts.sort();
    assert_eq!(counts, vec![(PatientStatus::Screening, 5), (PatientStatus::Eligible, 1)]);
    let all = store.list_patients(&PatientFilter { limit: 50, ..PatientFilter::default() }).await.unwrap();
    assert_eq!(all.items.len(), 6);
    assert_eq!(all.next_cursor, None);
    assert!(all.items.iter().all(|p| p.details.substances == vec![Substance::Alcohol]));
}

pub async fn duplicate_candidates<S: Store>(store: S) {
    let site = store.ensure_site(&site()).await.unwrap();
    let mut a = details("Ana", "Diaz", (1980, 1, 1));
    a.phone = Some("5550100199".into());
    let a = new_patient(&store, site.id, a).await;
    let b = new_patient(&store, site.id, details("Bo", "Li", (1990, 1, 1))).await;
    let dob = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let ids = |v: Vec<clinic_domain::patient::Patient>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(ids(store.find_duplicate_candidates(dob(1980, 1, 1), None).await.unwrap()), [a.id]);
    assert_eq!(ids(store.find_duplicate_candidates(dob(2000, 1, 1), Some("5550100199")).await.unwrap()), [a.id]);
    assert_eq!(ids(store.find_duplicate_candidates(dob(1990, 1, 1), Some("5550100199")).await.unwrap()), [a.id, b.id]);
    assert!(store.find_duplicate_candidates(dob(2000, 1, 1), Some("999")).await.unwrap().is_empty());
}

pub async fn audit_commits_with_each_change<S: Store>(store: S) {
    let site = store.ensure_site(&site()).await.unwrap();
    let patient = new_patient(&store, site.id, details("Ana", "Diaz", (1980, 1, 1))).await;
    // A failed change (a patient on a missing site) writes no audit event.
    let bad = NewPatient { id: Uuid::now_v7(), site_id: Uuid::now_v7(), details: details("X", "Y", (1980, 1, 1)), created_at: t0() };
    let bad_audit = event(AuditAction::PatientCreate, AuditTarget::patient(bad.id), t0());
    assert!(store.create_patient(&bad, &bad_audit).await.is_err());
    let reads: Vec<AuditEvent> =
        (0..3).map(|_| event(AuditAction::PatientRead, AuditTarget::patient(patient.id), t0())).collect();
    store.append_audit(&reads).await.unwrap();
    store.append_audit(&[]).await.unwrap();
    let page = store.list_audit(&AuditFilter { limit: 50, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(page.items.len(), 4);
    assert!(page.items.iter().all(|e| e.id != bad_audit.id));
    let stored = page.items.iter().find(|e| e.id == reads[0].id).unwrap();
    assert_eq!(stored, &reads[0]);
    // The failed create did not consume an MRN.
    let next = new_patient(&store, site.id, details("Bo", "Li", (1990, 1, 1))).await;
    assert_eq!(next.mrn.as_str(), "K00000026");
}

pub async fn audit_list_filters_and_paging<S: Store>(store: S) {
    let p1 = Uuid::now_v7();
    let p2 = Uuid::now_v7();
    let mut events = Vec::new();
    for idx in 0..7i64 {
        let patient = if idx % 2 == 0 { p1 } else { p2 };
        let action = if idx < 5 { AuditAction::PatientRead } else { AuditAction::PatientUpdate };
        let mut ev = event(action, AuditTarget::patient(patient), t0() + Duration::minutes(idx));
        if idx == 6 {
            ev.actor = "other".into();
        }
        events.push(ev);
    }
    store.append_audit(&events).await.unwrap();
    let list = |filter: AuditFilter| {
        let store = store.clone();
        async move { store.list_audit(&filter).await.unwrap().items.into_iter().map(|e| e.id).collect::<Vec<_>>() }
    };
    let ids = |idxs: &[usize]| idxs.iter().map(|i| events[*i].id).collect::<Vec<_>>();
    assert_eq!(list(AuditFilter { patient_id: Some(p1), limit: 50, ..Default::default() }).await, ids(&[6, 4, 2, 0]));
    assert_eq!(list(AuditFilter { action: Some("patient.update".into()), limit: 50, ..Default::default() }).await, ids(&[6, 5]));
    assert_eq!(list(AuditFilter { actor: Some("other".into()), limit: 50, ..Default::default() }).await, ids(&[6]));
    let window = AuditFilter { from: Some(t0() + Duration::minutes(2)), to: Some(t0() + Duration::minutes(4)), limit: 50, ..Default::default() };
    assert_eq!(list(window).await, ids(&[3, 2]));
    let mut filter = AuditFilter { limit: 3, ..Default::default() };
    let mut seen = Vec::new();
    loop {
        let page = store.list_audit(&filter).await.unwrap();
        seen.extend(page.items.iter().map(|e| e.id));
        match page.next_cursor {
            None => break,
            Some(cursor) => filter.before_id = Some(Uuid::try_parse(&cursor).unwrap()),
        }
    }
    assert_eq!(seen, ids(&[6, 5, 4, 3, 2, 1, 0]));
}

pub async fn sealing_builds_a_verifiable_chain<S: Store>(store: S) {
    let patient = Uuid::now_v7();
    let events: Vec<AuditEvent> =
        (0..5).map(|i| event(AuditAction::PatientRead, AuditTarget::patient(patient), t0() + Duration::seconds(i))).collect();
    store.append_audit(&events).await.unwrap();
    assert_eq!(store.oldest_unsealed().await.unwrap().map(|e| e.id), Some(events[0].id));
    assert_eq!(store.orphan_audit_event().await.unwrap(), None);
    assert_eq!(store.seal_audit(3, t0()).await.unwrap(), 3);
    assert_eq!(store.oldest_unsealed().await.unwrap().map(|e| e.id), Some(events[3].id));
    assert_eq!(store.seal_audit(100, t0()).await.unwrap(), 2);
    assert_eq!(store.seal_audit(100, t0()).await.unwrap(), 0);
    assert_eq!(store.oldest_unsealed().await.unwrap(), None);
    let chain = store.audit_chain(0, 100).await.unwrap();
    let seqs: Vec<i64> = chain.iter().map(|(link, _)| link.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let chained: Vec<Uuid> = chain.iter().map(|(link, _)| link.event_id).collect();
    assert_eq!(chained, events.iter().map(|e| e.id).collect::<Vec<_>>());
    assert_eq!(chain[2].1.as_ref(), Some(&events[2]));
    assert_eq!(store.audit_chain(3, 1).await.unwrap().len(), 1);
    let head = store.audit_chain_head().await.unwrap();
    assert_eq!(head.seq, 5);
    assert_eq!(head.hash, chain[4].0.hash);
    let report = verify_chain(&store, t0(), Duration::minutes(1)).await.unwrap();
    assert_eq!(report.n_sealed, 5);
    assert!(!report.unsealed_waiting);

    // An event left unsealed for too long fails verification.
    let late = event(AuditAction::PatientRead, AuditTarget::patient(patient), t0());
    store.append_audit(std::slice::from_ref(&late)).await.unwrap();
    assert!(verify_chain(&store, t0() + Duration::seconds(30), Duration::minutes(1)).await.unwrap().unsealed_waiting);
    let err = verify_chain(&store, t0() + Duration::minutes(2), Duration::minutes(1)).await.unwrap_err();
    assert!(err.to_string().contains(&late.id.to_string()), "{err}");
}

pub async fn concurrent_sealers_never_fork_the_chain<S: Store>(store: S) {
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for batch in 0..10 {
                let events: Vec<AuditEvent> = (0..3)
                    .map(|i| event(AuditAction::PatientRead, AuditTarget::patient(Uuid::now_v7()), t0() + Duration::seconds(worker * 100 + batch * 3 + i)))
                    .collect();
                store.append_audit(&events).await.unwrap();
                store.seal_audit(5, t0()).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    while store.seal_audit(100, t0()).await.unwrap() > 0 {}
    let report = verify_chain(&store, t0(), Duration::minutes(1)).await.unwrap();
    assert_eq!(report.n_sealed, 120);
    assert!(!report.unsealed_waiting);
}

fn inquiry_details(name: &str, phone: Option<&str>) -> clinic_domain::inquiry::InquiryDetails {
    clinic_domain::inquiry::InquiryDetails {
        name: name.into(),
        phone: phone.map(str::to_string),
        email: None,
        substances: vec![Substance::Cocaine, Substance::Alcohol],
        preferred_contact_time: Some("evenings".into()),
        contact_channel: clinic_domain::inquiry::ContactChannel::Phone,
        message: None,
    }
}

pub async fn inquiries_queue_calls_and_conversion<S: Store>(store: S) {
    use clinic_domain::inquiry::{CallDirection, CallOutcome, CloseReason, InquiryCall, InquiryStatus};
    let site = store.ensure_site(&site()).await.unwrap();
    let worker = new_user(&store, "frontdesk", Role::Frontdesk).await;
    let mut ids = Vec::new();
    for (idx, name) in ["Sam Rivers", "Alex Moss", "Jo Park"].iter().enumerate() {
        let id = Uuid::now_v7();
        let new = NewInquiry {
            id,
            site_id: site.id,
            details: inquiry_details(name, Some(&format!("55501001{idx:02}"))),
            created_at: t0() + Duration::minutes(i64::try_from(idx).unwrap_or(0)),
        };
        let created = store.create_inquiry(&new, &event(AuditAction::InquiryCreate, AuditTarget::resource("inquiry", id.to_string()), t0())).await.unwrap();
        assert_eq!(created.status, InquiryStatus::New);
        assert_eq!(created.version, 1);
        assert_eq!(created.details.substances, vec![Substance::Alcohol, Substance::Cocaine]);
        ids.push(id);
    }
    // Newest first; search by name or phone digits; filter by status; paging.
    let list = |filter: InquiryFilter| {
        let store = store.clone();
        async move { store.list_inquiries(&filter).await.unwrap() }
    };
    let names = |page: &Page<clinic_domain::inquiry::Inquiry>| page.items.iter().map(|i| i.details.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&list(InquiryFilter { limit: 50, ..Default::default() }).await), ["Jo Park", "Alex Moss", "Sam Rivers"]);
    assert_eq!(names(&list(InquiryFilter { q: Some("moss".into()), limit: 50, ..Default::default() }).await), ["Alex Moss"]);
    assert_eq!(names(&list(InquiryFilter { q: Some("010-0102".into()), limit: 50, ..Default::default() }).await), ["Jo Park"]);
    let first_page = list(InquiryFilter { limit: 2, ..Default::default() }).await;
    let cursor = Uuid::try_parse(first_page.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(names(&list(InquiryFilter { limit: 2, before_id: Some(cursor), ..Default::default() }).await), ["Sam Rivers"]);

    // A call moves it to contacted and records the last contact.
    let call = InquiryCall {
        id: Uuid::now_v7(),
        inquiry_id: ids[0],
        called_at: t0() + Duration::hours(2),
        direction: CallDirection::Outbound,
        outcome: CallOutcome::Reached,
        note: Some("will call back".into()),
        user_id: Some(worker.id),
    };
    let audit = event(AuditAction::InquiryCall, AuditTarget::resource("inquiry", ids[0].to_string()), t0());
    let after_call = store.add_inquiry_call(&call, Some(InquiryStatus::Contacted), t0() + Duration::hours(2), &audit).await.unwrap();
    assert_eq!(after_call.status, InquiryStatus::Contacted);
    assert_eq!(after_call.version, 2);
    assert_eq!(after_call.last_contact_at, Some(call.called_at));
    let record = store.get_inquiry(ids[0]).await.unwrap();
    assert_eq!(record.calls, vec![call]);
    assert_eq!(record.inquiry, after_call);
    assert_eq!(list(InquiryFilter { status: Some(InquiryStatus::Contacted), limit: 50, ..Default::default() }).await.items.len(), 1);
    // The overdue filter: untouched (no call) and created before a cutoff.
    let untouched = |cutoff| InquiryFilter { untouched_created_before: Some(cutoff), limit: 50, ..Default::default() };
    assert_eq!(names(&list(untouched(t0() + Duration::seconds(90))).await), ["Alex Moss"], "Sam was called; Jo came after the cutoff");
    assert_eq!(names(&list(untouched(t0() + Duration::minutes(3))).await), ["Jo Park", "Alex Moss"]);
    assert!(list(untouched(t0())).await.items.is_empty(), "the cutoff is exclusive");

    // Closing with a reason; a stale version is refused.
    let change = InquiryChange { status: InquiryStatus::Closed, close_reason: Some(CloseReason::Unreachable), assigned_to: Some(worker.id) };
    let audit = event(AuditAction::InquiryUpdate, AuditTarget::resource("inquiry", ids[1].to_string()), t0());
    let closed = store.update_inquiry(ids[1], 1, &change, t0(), &audit).await.unwrap();
    assert_eq!((closed.status, closed.close_reason, closed.assigned_to, closed.version), (InquiryStatus::Closed, Some(CloseReason::Unreachable), Some(worker.id), 2));
    assert!(matches!(store.update_inquiry(ids[1], 1, &change, t0(), &audit).await, Err(StoreError::StaleVersion { current: 2 })));
    assert!(matches!(store.update_inquiry(Uuid::now_v7(), 1, &change, t0(), &audit).await, Err(StoreError::NotFound)));

    // Conversion creates the patient and links it, atomically.
    let patient = NewPatient { id: Uuid::now_v7(), site_id: site.id, details: details("Sam", "Rivers", (1985, 5, 5)), created_at: t0() };
    let patient_audit = event(AuditAction::PatientCreate, AuditTarget::patient(patient.id), t0());
    let inquiry_audit = event(AuditAction::InquiryConvert, AuditTarget::resource("inquiry", ids[0].to_string()), t0());
    assert!(matches!(store.convert_inquiry(ids[0], 1, &patient, &patient_audit, &inquiry_audit).await, Err(StoreError::StaleVersion { .. })));
    assert_eq!(store.count_patients().await.unwrap(), 0, "a refused conversion creates no patient");
    let (converted, created) = store.convert_inquiry(ids[0], 2, &patient, &patient_audit, &inquiry_audit).await.unwrap();
    assert_eq!(converted.status, InquiryStatus::Converted);
    assert_eq!(converted.patient_id, Some(created.id));
    assert_eq!(store.get_patient(created.id).await.unwrap(), created);
    let actions: Vec<String> = store.list_audit(&AuditFilter { limit: 3, ..Default::default() }).await.unwrap().items.into_iter().map(|e| e.action).collect();
    assert_eq!(actions[..2], ["inquiry.convert".to_string(), "patient.create".to_string()]);
}

pub async fn questionnaires_alerts_and_portal_links<S: Store>(store: S) {
    use crate::screening::*;
    use clinic_domain::alert::{AlertKind, ClinicalAlert};
    use clinic_domain::portal::{LinkPurpose, PortalLink, ResponseSource};
    let site = store.ensure_site(&site()).await.unwrap();
    let nurse = new_user(&store, "nurse", Role::Nurse).await;
    let patient = new_patient(&store, site.id, details("Ana", "Díaz", (1980, 2, 29))).await;

    // A link, stored by the hash of its token, with the message carrying it.
    let link = PortalLink {
        id: Uuid::now_v7(),
        patient_id: patient.id,
        purpose: LinkPurpose::Questionnaire,
        instrument_id: Some("phq-9".into()),
        expires_at: t0() + Duration::hours(72),
        used_at: None,
        created_by: Some(nurse.id),
        created_at: t0(),
    };
    let message = OutboxMessage {
        id: Uuid::now_v7(),
        patient_id: Some(patient.id),
        channel: ContactChannel::Sms,
        address: "5550100199".into(),
        body: "Hello Ana".into(),
        created_at: t0(),
        sent_at: None,
    };
    store.create_portal_link(&link, "hash-1", &message, &event(AuditAction::PortalLinkCreate, AuditTarget::patient(patient.id), t0())).await.unwrap();
    assert_eq!(store.find_portal_link("hash-1").await.unwrap(), Some(link.clone()));
    assert_eq!(store.find_portal_link("hash-2").await.unwrap(), None);
    assert_eq!(store.get_portal_link(link.id).await.unwrap(), link);
    assert_eq!(store.list_portal_links(patient.id).await.unwrap(), vec![link.clone()]);
    assert_eq!(store.list_outbox(10).await.unwrap(), vec![message.clone()]);
    assert_eq!(store.list_unsent_outbox(10).await.unwrap(), vec![message.clone()]);
    store.mark_outbox_sent(message.id, t0() + Duration::seconds(1)).await.unwrap();
    assert!(store.list_unsent_outbox(10).await.unwrap().is_empty());
    assert_eq!(store.list_outbox(10).await.unwrap()[0].sent_at, Some(t0() + Duration::seconds(1)));
    assert!(matches!(store.mark_outbox_sent(message.id, t0()).await, Err(StoreError::NotFound)), "sent once");
    assert!(matches!(store.create_portal_link(&link, "hash-3", &store.list_outbox(1).await.unwrap()[0], &event(AuditAction::PortalLinkCreate, AuditTarget::patient(patient.id), t0())).await, Err(StoreError::Conflict { .. })));

    let session = PortalSession { token_hash: "session-1".into(), patient_id: patient.id, link_id: link.id, created_at: t0(), expires_at: t0() + Duration::minutes(30) };
    store.create_portal_session(&session, &event(AuditAction::PortalOpen, AuditTarget::patient(patient.id), t0())).await.unwrap();
    assert_eq!(store.get_portal_session("session-1").await.unwrap(), Some(session));
    assert_eq!(store.get_portal_session("nope").await.unwrap(), None);

    // A response answering the link uses it up, raises its alert and commits its audit, together.
    let response = QuestionnaireResponseRecord {
        id: Uuid::now_v7(),
        patient_id: patient.id,
        instrument_id: "phq-9".into(),
        instrument_version: 1,
        answers: vec!["1".into(), "0".into(), "2".into(), "0".into(), "0".into(), "1".into(), "0".into(), "0".into(), "1".into()],
        total: Some(5),
        band: Some("mild".into()),
        flags: vec!["suicide_risk".into()],
        result_json: "{\"items\":[1,0,2,0,0,1,0,0,1]}".into(),
        source: ResponseSource::Portal,
        entered_by: None,
        created_at: t0() + Duration::minutes(5),
    };
    let alert = ClinicalAlert {
        id: Uuid::now_v7(),
        patient_id: patient.id,
        kind: AlertKind::SuicideRisk,
        message: "PHQ-9 item 9 answered 1".into(),
        source_id: Some(response.id),
        routed_to: "physicians on site".into(),
        raised_at: response.created_at,
        closed_at: None,
        closed_by: None,
        response: None,
        version: 1,
    };
    let audit = [event(AuditAction::QuestionnaireRecord, AuditTarget::patient(patient.id), response.created_at)];
    let new = NewQuestionnaire { response: &response, alerts: std::slice::from_ref(&alert), link_id: Some(link.id), outbox: &[], audit: &audit };
    store.record_questionnaire(new.clone()).await.unwrap();
    assert_eq!(store.list_questionnaires(patient.id).await.unwrap(), vec![response.clone()]);
    assert_eq!(store.get_portal_link(link.id).await.unwrap().used_at, Some(response.created_at));
    // The link cannot be used twice: the second answer is refused and stores nothing.
    let mut again = response.clone();
    again.id = Uuid::now_v7();
    let retry = NewQuestionnaire { response: &again, alerts: &[], link_id: Some(link.id), outbox: &[], audit: &audit };
    assert!(matches!(store.record_questionnaire(retry).await, Err(StoreError::Conflict { .. })));
    assert_eq!(store.list_questionnaires(patient.id).await.unwrap().len(), 1);

    let open = store.list_alerts(&AlertFilter { open_only: true, limit: 50, ..Default::default() }).await.unwrap();
    assert_eq!(open, vec![alert.clone()]);
    assert_eq!(store.list_alerts(&AlertFilter { patient_id: Some(Uuid::now_v7()), limit: 50, ..Default::default() }).await.unwrap(), vec![]);
    let close_audit = event(AuditAction::AlertClose, AuditTarget::patient(patient.id), t0());
    assert!(matches!(store.close_alert(alert.id, 7, nurse.id, "called", t0(), &close_audit).await, Err(StoreError::StaleVersion { current: 1 })));
    let closed = store.close_alert(alert.id, 1, nurse.id, "Called the patient; safety plan made.", t0() + Duration::hours(1), &close_audit).await.unwrap();
    assert_eq!((closed.closed_by, closed.response.as_deref(), closed.version), (Some(nurse.id), Some("Called the patient; safety plan made."), 2));
    assert!(matches!(store.close_alert(alert.id, 2, nurse.id, "again", t0(), &close_audit).await, Err(StoreError::Conflict { .. })));
    assert!(store.list_alerts(&AlertFilter { open_only: true, limit: 50, ..Default::default() }).await.unwrap().is_empty());
    assert_eq!(store.list_alerts(&AlertFilter { patient_id: Some(patient.id), limit: 50, ..Default::default() }).await.unwrap(), vec![closed.clone()]);
    assert_eq!(store.get_alert(alert.id).await.unwrap(), closed);
    assert!(matches!(store.get_alert(Uuid::now_v7()).await, Err(StoreError::NotFound)));
    let actions: Vec<String> = store.list_audit(&AuditFilter { limit: 100, ..Default::default() }).await.unwrap().items.iter().map(|e| e.action.clone()).collect();
    for action in ["portal.link_create", "portal.open", "questionnaire.record", "alert.close"] {
        assert!(actions.iter().any(|a| a == action), "{action} missing from {actions:?}");
    }
}

pub async fn patient_documents_close_once<S: Store>(store: S) {
    use crate::screening::*;
    let site = store.ensure_site(&site()).await.unwrap();
    let physician = new_user(&store, "physician", Role::Physician).await;
    let patient = new_patient(&store, site.id, details("Ana", "Díaz", (1980, 2, 29))).await;
    let doc = |kind: DocumentKind, subtype: &str, minutes: i64| PatientDocument {
        id: Uuid::now_v7(),
        patient_id: patient.id,
        kind,
        subtype: subtype.into(),
        body: format!("{{\"n\":{minutes}}}"),
        created_by: Some(physician.id),
        created_at: t0() + Duration::minutes(minutes),
        closed_at: None,
        closed_by: None,
        version: 1,
    };
    let audit = || event(AuditAction::PatientUpdate, AuditTarget::patient(patient.id), t0());
    let screening = doc(DocumentKind::MedicalScreening, "medical_screening", 0);
    let first = doc(DocumentKind::Eligibility, "needs_physician_review", 1);
    let second = doc(DocumentKind::Eligibility, "eligible", 2);
    for d in [&screening, &first, &second] {
        store.add_document(d, &audit()).await.unwrap();
    }
    assert_eq!(store.list_documents(patient.id, DocumentKind::Eligibility).await.unwrap(), vec![first.clone(), second.clone()]);
    assert_eq!(store.list_documents(patient.id, DocumentKind::Consent).await.unwrap(), vec![]);
    assert_eq!(store.list_open_documents(DocumentKind::Eligibility, 10).await.unwrap().len(), 2);
    assert_eq!(store.get_document(screening.id).await.unwrap(), screening);

    assert!(matches!(store.close_document(first.id, 3, "{}", Some(physician.id), t0(), None, &audit()).await, Err(StoreError::StaleVersion { current: 1 })));
    let closed = store
        .close_document(first.id, 1, "{\"decided\":true}", Some(physician.id), t0() + Duration::hours(1), Some(PatientStatus::Eligible), &audit())
        .await
        .unwrap();
    // The decision sets the patient's status in the same transaction.
    let decided = store.get_patient(patient.id).await.unwrap();
    assert_eq!((decided.details.status, decided.version), (PatientStatus::Eligible, patient.version + 1));
    assert_eq!((closed.version, closed.closed_by, closed.body.as_str()), (2, Some(physician.id), "{\"decided\":true}"));
    assert_eq!(closed.closed_at, Some(t0() + Duration::hours(1)));
    // Closed once: a second decision is refused and changes nothing.
    assert!(matches!(store.close_document(first.id, 2, "{}", Some(physician.id), t0(), Some(PatientStatus::NotEligible), &audit()).await, Err(StoreError::Conflict { .. })));
    assert_eq!(store.get_document(first.id).await.unwrap(), closed);
    assert_eq!(store.get_patient(patient.id).await.unwrap().details.status, PatientStatus::Eligible, "a refused close changes nothing");
    assert_eq!(store.list_open_documents(DocumentKind::Eligibility, 10).await.unwrap(), vec![second]);
    assert!(matches!(store.get_document(Uuid::now_v7()).await, Err(StoreError::NotFound)));
}

pub async fn plans_events_and_history<S: Store>(store: S) {
    use clinic_domain::plan::*;
    use clinic_domain::protocol::decimal::Decimal;
    use clinic_domain::protocol::definition::Phase;
    use clinic_domain::protocol::EventKind;
    let site = store.ensure_site(&site()).await.unwrap();
    let physician = new_user(&store, "physician", Role::Physician).await;
    let patient = new_patient(&store, site.id, details("Ana", "Díaz", (1980, 2, 29))).await;
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let plan_id = Uuid::now_v7();
    let header = PlanHeader {
        id: plan_id,
        patient_id: patient.id,
        protocol_id: "alcohol-met-dakwar2020".into(),
        protocol_version: 1,
        start_date: day(7),
        created_by: physician.id,
        created_at: t0(),
        signed_by: None,
        signed_at: None,
        signed_version: None,
        ended_by: None,
        ended_at: None,
        end_reason: None,
        version: 1,
    };
    let event = |seq: i64, kind: EventKind, date: NaiveDate| PlanEvent {
        id: Uuid::now_v7(),
        plan_id,
        seq,
        kind,
        status: EventStatus::Planned,
        origin: EventOrigin::Protocol,
        protocol_date: Some(date),
        date,
        infusion_number: None,
        phases: Vec::new(),
        window: None,
        modality: None,
        instrument: None,
        deviations: Vec::new(),
    };
    let mut infusion = event(2, EventKind::Infusion, day(16));
    infusion.infusion_number = Some(1);
    infusion.phases = vec![
        Phase { dose_mg_per_kg: Decimal::parse("0.11").unwrap(), minutes: 2 },
        Phase { dose_mg_per_kg: Decimal::parse("0.6").unwrap(), minutes: 50 },
    ];
    infusion.window = Some((day(14), day(20)));
    let mut therapy = event(1, EventKind::Therapy, day(7));
    therapy.modality = Some("motivational enhancement therapy".into());
    let plan = Plan { header: header.clone(), events: vec![therapy.clone(), infusion.clone()] };
    let change = |version: i64, action: ChangeAction, event_id: Option<Uuid>, deviations: Vec<String>| PlanChange {
        id: Uuid::now_v7(),
        plan_id,
        version,
        action,
        event_id,
        summary: format!("{} v{version}", action.as_str()),
        reason: Some("why".into()),
        deviations,
        changed_by: physician.id,
        changed_at: t0() + Duration::minutes(version),
    };
    let audit = || event_for(patient.id);
    store.create_plan(&plan, &change(1, ChangeAction::Create, None, vec![]), &audit()).await.unwrap();
    assert_eq!(store.get_plan(plan_id).await.unwrap(), plan, "events come back in date order with exact phases and windows");
    assert_eq!(store.list_plans(patient.id).await.unwrap(), vec![header.clone()]);

    // A second open plan for the same patient is refused.
    let other = Plan { header: PlanHeader { id: Uuid::now_v7(), ..header.clone() }, events: vec![] };
    let refused = store.create_plan(&other, &PlanChange { plan_id: other.header.id, ..change(1, ChangeAction::Create, None, vec![]) }, &audit()).await;
    assert!(matches!(&refused, Err(StoreError::Conflict { constraint }) if constraint == "plans_patient_id_key"), "{refused:?}");

    // A move with an acknowledged deviation, stored with its history.
    let mut moved = infusion.clone();
    moved.date = day(21);
    moved.deviations = vec!["infusion 1 on 2026-12-21 is outside the protocol's window".into(), "second line".into()];
    let v2 = PlanHeader { version: 2, ..header.clone() };
    store.save_plan_change(&v2, 1, std::slice::from_ref(&moved), &change(2, ChangeAction::Move, Some(moved.id), moved.deviations.clone()), None, &audit()).await.unwrap();
    // A stale writer changes nothing.
    let stale = store.save_plan_change(&v2, 1, &[], &change(2, ChangeAction::Skip, None, vec![]), None, &audit()).await;
    assert!(matches!(stale, Err(StoreError::StaleVersion { current: 2 })), "{stale:?}");
    // Signing sets the patient's status in the same transaction.
    let v3 = PlanHeader { version: 3, signed_by: Some(physician.id), signed_at: Some(t0()), signed_version: Some(3), ..header.clone() };
    store.save_plan_change(&v3, 2, &[], &change(3, ChangeAction::Sign, None, vec![]), Some(PatientStatus::InTreatment), &audit()).await.unwrap();
    let stored = store.get_plan(plan_id).await.unwrap();
    assert_eq!(stored.header, v3);
    assert_eq!(stored.header.state(), PlanState::Signed);
    assert_eq!(stored.events, vec![therapy.clone(), moved.clone()]);
    assert_eq!(store.get_patient(patient.id).await.unwrap().details.status, PatientStatus::InTreatment);
    let history = store.list_plan_changes(plan_id).await.unwrap();
    assert_eq!(history.iter().map(|c| (c.version, c.action)).collect::<Vec<_>>(), vec![(1, ChangeAction::Create), (2, ChangeAction::Move), (3, ChangeAction::Sign)]);
    assert_eq!(history[1].deviations, moved.deviations);
    assert_eq!(history[1].event_id, Some(moved.id));
    // A failing write leaves nothing behind: a history entry whose version already exists.
    let v4 = PlanHeader { version: 4, ..v3.clone() };
    let mut skipped = therapy.clone();
    skipped.status = EventStatus::Skipped;
    let failed = store.save_plan_change(&v4, 3, std::slice::from_ref(&skipped), &change(3, ChangeAction::Skip, Some(skipped.id), vec![]), None, &audit()).await;
    assert!(failed.is_err());
    assert_eq!(store.get_plan(plan_id).await.unwrap(), stored, "rolled back");
    // Ending the plan frees the patient for a new one.
    let ended = PlanHeader { version: 4, ended_by: Some(physician.id), ended_at: Some(t0()), end_reason: Some("moved away".into()), ..v3.clone() };
    store.save_plan_change(&ended, 3, &[], &change(4, ChangeAction::End, None, vec![]), None, &audit()).await.unwrap();
    store.create_plan(&other, &PlanChange { plan_id: other.header.id, ..change(1, ChangeAction::Create, None, vec![]) }, &audit()).await.unwrap();
    assert_eq!(store.list_plans(patient.id).await.unwrap().len(), 2);
    assert!(matches!(store.get_plan(Uuid::now_v7()).await, Err(StoreError::NotFound)));
    // Every write came with its audit event: create, move, sign, end, create.
    let audits = store.list_audit(&AuditFilter { patient_id: Some(patient.id), limit: 100, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(audits.items.iter().filter(|e| e.action == AuditAction::PatientUpdate.as_str()).count(), 5);
}

fn event_for(patient_id: Uuid) -> AuditEvent {
    event(AuditAction::PatientUpdate, AuditTarget::patient(patient_id), t0())
}

pub async fn schedule_settings_bookings_and_feeds<S: Store>(store: S) {
    use crate::schedule::*;
    use crate::screening::OutboxMessage;
    use chrono::NaiveTime;
    use clinic_domain::protocol::EventKind;
    use clinic_domain::schedule::{BookingStatus, ResourceKind};
    let site = store.ensure_site(&site()).await.unwrap();
    let nurse = new_user(&store, "nurse", Role::Nurse).await;
    let patient = new_patient(&store, site.id, details("Ana", "Díaz", (1980, 2, 29))).await;
    assert_eq!(store.get_site_schedule(site.id).await.unwrap(), None);
    let time = |h: u32| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
    let chair = ResourceRecord { id: Uuid::now_v7(), site_id: site.id, kind: ResourceKind::Chair, name: "Chair 1".into(), position: 1 };
    let room = ResourceRecord { id: Uuid::now_v7(), site_id: site.id, kind: ResourceKind::Room, name: "Room A".into(), position: 2 };
    let record = SiteScheduleRecord {
        site_id: site.id,
        recovery_minutes: Some(60),
        nurses_per_chairs: Some((1, 2)),
        physician_on_site: Some(true),
        hours: vec![OpeningRow { weekday: 0, opens: time(8), closes: time(12) }, OpeningRow { weekday: 0, opens: time(13), closes: time(17) }],
        closures: vec![(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap(), "Christmas Day".into())],
        resources: vec![chair.clone(), room.clone()],
        version: 0,
    };
    let audit = || event(AuditAction::PatientUpdate, AuditTarget::patient(patient.id), t0());
    let saved = store.save_site_schedule(&record, &audit()).await.unwrap();
    assert_eq!(saved, SiteScheduleRecord { version: 1, ..record.clone() });
    // Unset settings stay unset; resources are renamed, never dropped.
    let renamed = ResourceRecord { name: "Chair one".into(), ..chair.clone() };
    let unset = SiteScheduleRecord { recovery_minutes: None, nurses_per_chairs: None, physician_on_site: None, resources: vec![renamed.clone()], closures: vec![], ..record.clone() };
    let saved = store.save_site_schedule(&unset, &audit()).await.unwrap();
    assert_eq!((saved.recovery_minutes, saved.nurses_per_chairs, saved.physician_on_site, saved.version), (None, None, None, 2));
    assert_eq!(saved.resources, vec![renamed, room.clone()]);
    assert!(saved.closures.is_empty());

    let shift = AvailabilityRecord { id: Uuid::now_v7(), user_id: nurse.id, site_id: site.id, starts_at: t0(), ends_at: t0() + Duration::hours(8) };
    store.add_availability(std::slice::from_ref(&shift), &audit()).await.unwrap();
    assert_eq!(store.get_site_schedule(site.id).await.unwrap().unwrap().version, 3, "staff hours raise the site version");
    assert_eq!(store.list_availability(site.id, t0() + Duration::hours(7), t0() + Duration::hours(9)).await.unwrap(), vec![shift.clone()]);
    assert!(store.list_availability(site.id, t0() + Duration::hours(8), t0() + Duration::hours(9)).await.unwrap().is_empty(), "half-open");

    let booking = |start: DateTime<Utc>| BookingRecord {
        id: Uuid::now_v7(),
        site_id: site.id,
        patient_id: patient.id,
        plan_event_id: None,
        kind: EventKind::Infusion,
        resource_id: Some(chair.id),
        clinician_id: None,
        starts_at: start,
        minutes: 40,
        occupied_until: start + Duration::minutes(100),
        escort_name: Some("Luis Díaz".into()),
        status: BookingStatus::Booked,
        replaces: None,
        reason: None,
        created_by: nurse.id,
        created_at: t0(),
        updated_by: None,
        updated_at: None,
        reminder_queued_at: None,
        version: 1,
    };
    let first = booking(t0() + Duration::hours(1));
    let second = booking(t0() + Duration::hours(1));
    // Two decisions made on version 3: the first commits, the second is stale and writes nothing.
    let v = store.commit_bookings(site.id, 3, BookingCommit { new: std::slice::from_ref(&first), audit: &[audit()], ..Default::default() }).await.unwrap();
    assert_eq!(v, 4);
    let stale = store.commit_bookings(site.id, 3, BookingCommit { new: std::slice::from_ref(&second), audit: &[audit()], ..Default::default() }).await;
    assert!(matches!(stale, Err(StoreError::StaleVersion { current: 4 })), "{stale:?}");
    assert!(matches!(store.get_booking(second.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.get_booking(first.id).await.unwrap(), first);
    // Racing commits at one version: exactly one wins.
    let (a, b) = (booking(t0() + Duration::hours(3)), booking(t0() + Duration::hours(3)));
    let (s1, s2) = (store.clone(), store.clone());
    let audit_a = audit();
    let audit_b = audit();
    let site_id = site.id;
    let ta = tokio::spawn(async move { s1.commit_bookings(site_id, 4, BookingCommit { new: std::slice::from_ref(&a), audit: std::slice::from_ref(&audit_a), ..Default::default() }).await.is_ok() });
    let tb = tokio::spawn(async move { s2.commit_bookings(site_id, 4, BookingCommit { new: std::slice::from_ref(&b), audit: std::slice::from_ref(&audit_b), ..Default::default() }).await.is_ok() });
    let wins = [ta.await.unwrap(), tb.await.unwrap()];
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");

    // A cancellation keeps the row with who, when and why; a stale one writes nothing.
    let cancel = BookingUpdate { id: first.id, expected_version: 1, status: BookingStatus::Cancelled, reason: Some("patient ill".into()), updated_by: nurse.id, updated_at: t0() + Duration::hours(2) };
    let v = store.commit_bookings(site.id, 5, BookingCommit { updates: std::slice::from_ref(&cancel), audit: &[audit()], ..Default::default() }).await.unwrap();
    let cancelled = store.get_booking(first.id).await.unwrap();
    assert_eq!((cancelled.status, cancelled.reason.as_deref(), cancelled.updated_by, cancelled.version), (BookingStatus::Cancelled, Some("patient ill"), Some(nurse.id), 2));
    let again = store.commit_bookings(site.id, v, BookingCommit { updates: std::slice::from_ref(&cancel), audit: &[audit()], ..Default::default() }).await;
    assert!(matches!(again, Err(StoreError::StaleVersion { current: 2 })));
    assert_eq!(store.get_site_schedule(site.id).await.unwrap().unwrap().version, v, "the failed commit did not raise the site version");

    let all = store.site_bookings(site.id, t0(), t0() + Duration::days(1)).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(store.patient_bookings(patient.id).await.unwrap().len(), 2);
    // Reminders: queued once, with the outbox message and audit in the same transaction.
    let due = store.bookings_needing_reminder(t0(), t0() + Duration::days(1)).await.unwrap();
    assert_eq!(due.len(), 1, "the cancelled booking gets no reminder");
    let message = OutboxMessage { id: Uuid::now_v7(), patient_id: Some(patient.id), channel: ContactChannel::Sms, address: "5550100".into(), body: "reminder".into(), created_at: t0(), sent_at: None };
    let n = store.queue_reminders(&[(due[0].id, Some(message.clone()), audit())], t0()).await.unwrap();
    assert_eq!(n, 1);
    let n = store.queue_reminders(&[(due[0].id, Some(OutboxMessage { id: Uuid::now_v7(), ..message.clone() }), audit())], t0()).await.unwrap();
    assert_eq!(n, 0, "a second run sends nothing");
    assert_eq!(store.list_outbox(10).await.unwrap(), vec![message]);
    assert!(store.bookings_needing_reminder(t0(), t0() + Duration::days(1)).await.unwrap().is_empty());

    // Feeds: found by hash, revoked.
    let feed = CalendarFeedRecord { token_hash: "abc".into(), user_id: nurse.id, created_at: t0(), revoked_at: None };
    store.create_calendar_feed(&feed, &audit()).await.unwrap();
    assert_eq!(store.find_calendar_feed("abc").await.unwrap(), Some(feed.clone()));
    assert_eq!(store.revoke_calendar_feeds(nurse.id, t0(), &audit()).await.unwrap(), 1);
    assert_eq!(store.find_calendar_feed("abc").await.unwrap().unwrap().revoked_at, Some(t0()));
    assert_eq!(store.find_calendar_feed("nope").await.unwrap(), None);
}

pub async fn orders_and_double_checks<S: Store>(store: S) {
    use crate::orders::*;
    use clinic_domain::order::{OrderStatus, WeightBasis};
    use clinic_domain::plan::*;
    use clinic_domain::protocol::EventKind;
    let site = store.ensure_site(&site()).await.unwrap();
    let physician = new_user(&store, "physician", Role::Physician).await;
    let nurse = new_user(&store, "nurse", Role::Nurse).await;
    let patient = new_patient(&store, site.id, details("Ana", "Díaz", (1980, 2, 29))).await;
    let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    let plan_id = Uuid::now_v7();
    let event_id = Uuid::now_v7();
    let plan = Plan {
        header: PlanHeader {
            id: plan_id, patient_id: patient.id, protocol_id: "clinic-series-6".into(), protocol_version: 1, start_date: day, created_by: physician.id,
            created_at: t0(), signed_by: None, signed_at: None, signed_version: None, ended_by: None, ended_at: None, end_reason: None, version: 1,
        },
        events: vec![PlanEvent {
            id: event_id, plan_id, seq: 1, kind: EventKind::Infusion, status: EventStatus::Planned, origin: EventOrigin::Protocol, protocol_date: Some(day),
            date: day, infusion_number: Some(1), phases: Vec::new(), window: None, modality: None, instrument: None, deviations: Vec::new(),
        }],
    };
    let change = PlanChange { id: Uuid::now_v7(), plan_id, version: 1, action: ChangeAction::Create, event_id: None, summary: "made".into(), reason: None, deviations: vec![], changed_by: physician.id, changed_at: t0() };
    let audit = || event(AuditAction::PatientUpdate, AuditTarget::patient(patient.id), t0());
    store.create_plan(&plan, &change, &audit()).await.unwrap();
    let order = OrderRecord {
        id: Uuid::now_v7(),
        patient_id: patient.id,
        plan_event_id: event_id,
        weight_kg: "72.5".into(),
        weight_measured_on: day,
        weight_basis: WeightBasis::Actual,
        phases: vec![("0.11".into(), "2".into()), ("0.6".into(), "50".into())],
        stock_mg_per_ml: "10".into(),
        bag_ml: Some("100".into()),
        withdraw_from_bag: true,
        override_reason: None,
        warnings: vec!["first warning".into(), "second".into()],
        status: OrderStatus::AwaitingCheck,
        ordered_by: physician.id,
        signed_at: t0(),
        cancelled_by: None,
        cancelled_at: None,
        cancel_reason: None,
        version: 1,
    };
    store.create_order(&order, &audit()).await.unwrap();
    assert_eq!(store.get_order(order.id).await.unwrap(), order, "phases, booleans and warnings round-trip");
    let second = OrderRecord { id: Uuid::now_v7(), ..order.clone() };
    let refused = store.create_order(&second, &audit()).await;
    assert!(matches!(&refused, Err(StoreError::Conflict { constraint }) if constraint == "infusion_orders_plan_event_id_key"), "{refused:?}");
    let check = |weight: &str, matches: bool| OrderCheckRecord {
        id: Uuid::now_v7(),
        order_id: order.id,
        checked_by: nurse.id,
        weight_kg: weight.into(),
        phases: vec!["0.11".into(), "0.6".into()],
        matches,
        differences: if matches { vec![] } else { vec!["weight: entered 725 kg, the order says 72.5 kg".into()] },
        checked_at: t0() + Duration::minutes(1),
    };
    let failed = store.record_order_check(&check("725", false), OrderStatus::CheckFailed, 1, &audit()).await.unwrap();
    assert_eq!((failed.status, failed.version), (OrderStatus::CheckFailed, 2));
    assert!(matches!(store.record_order_check(&check("72.5", true), OrderStatus::Verified, 1, &audit()).await, Err(StoreError::StaleVersion { current: 2 })));
    let verified = store.record_order_check(&check("72.5", true), OrderStatus::Verified, 2, &audit()).await.unwrap();
    assert_eq!(verified.status, OrderStatus::Verified);
    let checks = store.order_checks(order.id).await.unwrap();
    assert_eq!(checks.iter().map(|c| (c.weight_kg.as_str(), c.matches)).collect::<Vec<_>>(), [("725", false), ("72.5", true)]);
    assert_eq!(checks[0].differences.len(), 1);
    assert_eq!(checks[1].phases, ["0.11", "0.6"]);
    let cancelled = store.cancel_order(order.id, 3, physician.id, t0(), "weight changed", &audit()).await.unwrap();
    assert_eq!((cancelled.status, cancelled.cancel_reason.as_deref()), (OrderStatus::Cancelled, Some("weight changed")));
    assert!(matches!(store.record_order_check(&check("72.5", true), OrderStatus::Verified, 4, &audit()).await, Err(StoreError::StaleVersion { .. })), "a cancelled order takes no check");
    store.create_order(&second, &audit()).await.unwrap();
    assert_eq!(store.patient_orders(patient.id).await.unwrap().len(), 2);
    assert!(matches!(store.get_order(Uuid::now_v7()).await, Err(StoreError::NotFound)));
}

/// The ledger: entries numbered without gaps per site, a second writer at
/// the same number refused whole (nothing of its discrepancy, page or audit
/// kept), discrepancies closed once.
pub async fn ledger_appends_in_order_once<S: Store>(store: S) {
    use crate::ledger::{DiscrepancyRecord, LedgerAppend, LedgerEntryRecord};
    let site = store.ensure_site(&site()).await.unwrap();
    let nurse = new_user(&store, "nurse", Role::Nurse).await;
    let witness = new_user(&store, "physician", Role::Physician).await;
    let lot = Uuid::now_v7();
    let entry = |seq: i64, entry_type: &str, witness_id: Option<Uuid>| LedgerEntryRecord {
        id: Uuid::now_v7(),
        site_id: site.id,
        seq,
        lot_id: lot,
        entry_type: entry_type.into(),
        at: t0() + chrono::Duration::minutes(seq),
        actor_id: nurse.id,
        witness_id,
        session_id: None,
        patient_id: None,
        body: format!("{{\"seq\":{seq}}}"),
    };
    let audit = |at| event(AuditAction::LedgerRecord, AuditTarget::none("ledger"), at);
    let first = entry(1, "received", None);
    store.append_ledger(LedgerAppend { entry: &first, discrepancy: None, outbox: &[], audit: &[audit(first.at)] }).await.unwrap();
    // The same number again, or a gap: refused with the last number, nothing written.
    for seq in [1, 3] {
        let late = entry(seq, "count", Some(witness.id));
        let d = DiscrepancyRecord {
            id: Uuid::now_v7(),
            site_id: site.id,
            count_entry_id: late.id,
            lot_id: lot,
            message: "counted less".into(),
            routed_to: "on call".into(),
            raised_at: late.at,
            closed_at: None,
            closed_by: None,
            response: None,
            version: 0,
        };
        let err = store.append_ledger(LedgerAppend { entry: &late, discrepancy: Some(&d), outbox: &[], audit: &[audit(late.at)] }).await.unwrap_err();
        assert!(matches!(err, StoreError::StaleVersion { current: 1 }), "{seq}: {err:?}");
    }
    assert!(store.list_discrepancies(None, false).await.unwrap().is_empty());
    let count = entry(2, "count", Some(witness.id));
    let d = DiscrepancyRecord {
        id: Uuid::now_v7(),
        site_id: site.id,
        count_entry_id: count.id,
        lot_id: lot,
        message: "counted 9.5 mL, 0.5 mL less than the ledger".into(),
        routed_to: "Dr On Call (+15550000000)".into(),
        raised_at: count.at,
        closed_at: None,
        closed_by: None,
        response: None,
        version: 0,
    };
    store.append_ledger(LedgerAppend { entry: &count, discrepancy: Some(&d), outbox: &[], audit: &[audit(count.at)] }).await.unwrap();
    assert_eq!(store.ledger_entries(site.id).await.unwrap(), vec![first.clone(), count.clone()]);
    assert_eq!(store.ledger_entries(Uuid::now_v7()).await.unwrap(), vec![]);
    assert_eq!(store.list_discrepancies(Some(site.id), true).await.unwrap(), vec![d.clone()]);
    assert_eq!(store.list_discrepancies(Some(Uuid::now_v7()), false).await.unwrap(), vec![]);
    let close = audit(t0());
    assert!(matches!(store.close_discrepancy(d.id, 7, witness.id, "recounted", t0(), &close).await, Err(StoreError::StaleVersion { current: 0 })));
    let closed = store.close_discrepancy(d.id, 0, witness.id, "recounted with the pharmacist", t0(), &close).await.unwrap();
    assert_eq!((closed.closed_by, closed.response.as_deref(), closed.version), (Some(witness.id), Some("recounted with the pharmacist"), 1));
    assert!(matches!(store.close_discrepancy(d.id, 1, witness.id, "again", t0(), &close).await, Err(StoreError::Conflict { .. })));
    assert!(store.list_discrepancies(None, true).await.unwrap().is_empty());
    assert_eq!(store.list_discrepancies(None, false).await.unwrap(), vec![closed]);
}

/// One stored ledger entry (for the backends' append-only checks).
pub async fn one_ledger_entry<S: Store>(store: &S) -> crate::ledger::LedgerEntryRecord {
    let site = store.ensure_site(&site()).await.unwrap();
    let nurse = new_user(store, "nurse", Role::Nurse).await;
    let entry = crate::ledger::LedgerEntryRecord {
        id: Uuid::now_v7(),
        site_id: site.id,
        seq: 1,
        lot_id: Uuid::now_v7(),
        entry_type: "received".into(),
        at: t0(),
        actor_id: nurse.id,
        witness_id: None,
        session_id: None,
        patient_id: None,
        body: "{}".into(),
    };
    let audit = event(AuditAction::LedgerRecord, AuditTarget::none("ledger"), t0());
    store.append_ledger(crate::ledger::LedgerAppend { entry: &entry, discrepancy: None, outbox: &[], audit: &[audit] }).await.unwrap();
    entry
}
