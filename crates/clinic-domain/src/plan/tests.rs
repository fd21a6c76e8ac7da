//! Plans made from the shipped protocols, every kind of edit with its history
//! and deviation rules, signing and amending, and properties of dose edits
//! over the whole input range (never silently accepted outside the protocol,
//! never accepted outside the plausibility limits, never altered).

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use crate::dose::PlausibilityLimits;
use crate::mrn::Mrn;
use crate::patient::{Patient, PatientDetails, PatientStatus, SexAtBirth, Substance};
use crate::plan::*;
use crate::protocol::decimal::Decimal;
use crate::protocol::definition::Phase;
use crate::protocol::{EventKind, Protocol, parse_protocol};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

fn load(id: &str) -> Protocol {
    let instruments: BTreeSet<String> = std::fs::read_dir(data_dir().join("instruments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let text = std::fs::read_to_string(data_dir().join(format!("protocols/{id}.toml"))).unwrap();
    parse_protocol(&format!("protocols/{id}.toml"), &text, &instruments).unwrap()
}

fn patient(status: PatientStatus, substances: Vec<Substance>) -> Patient {
    let now = t0();
    Patient {
        id: Uuid::from_u128(7),
        mrn: Mrn::from_sequence(1).unwrap(),
        site_id: Uuid::from_u128(1),
        details: PatientDetails {
            given_name: "Ana".into(),
            family_name: "Diaz".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
            sex_at_birth: SexAtBirth::Female,
            gender_identity: None,
            phone: None,
            email: None,
            address: None,
            substances,
            status,
            escort: None,
            emergency_contacts: Vec::new(),
            diagnoses: Vec::new(),
            allergies: Vec::new(),
            medications: Vec::new(),
            contact_channels: Vec::new(),
            preferred_contact_channel: None,
        },
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ids() -> impl FnMut() -> Uuid {
    let mut n = 100u128;
    move || {
        n += 1;
        Uuid::from_u128(n)
    }
}

const DOCTOR: Uuid = Uuid::from_u128(42);

fn make(protocol_id: &str, substance: Substance, start: NaiveDate) -> (Protocol, Plan) {
    let protocol = load(protocol_id);
    let (plan, change) = new_plan(
        &protocol,
        &patient(PatientStatus::Eligible, vec![substance]),
        start,
        DOCTOR,
        t0(),
        &mut ids(),
    )
    .unwrap();
    assert_eq!(change.action, ChangeAction::Create);
    assert_eq!(change.version, 1);
    (protocol, plan)
}

fn infusions(plan: &Plan) -> Vec<&PlanEvent> {
    plan.events
        .iter()
        .filter(|e| e.kind == EventKind::Infusion)
        .collect()
}

fn phase(dose: &str, minutes: i64) -> Phase {
    Phase {
        dose_mg_per_kg: Decimal::parse(dose).unwrap(),
        minutes,
    }
}

fn edit(
    plan: &Plan,
    protocol: &Protocol,
    edit: PlanEdit,
    ack: bool,
) -> Result<EditOutcome, PlanError> {
    let request = EditRequest {
        edit,
        reason: "patient asked".into(),
        acknowledge_deviation: ack,
    };
    apply_edit(
        plan,
        protocol,
        &request,
        &PlausibilityLimits::shipped(),
        DOCTOR,
        t0(),
        &mut ids(),
    )
}

#[test]
fn a_plan_copies_the_protocol_events_with_windows_and_phases() {
    let (_, plan) = make(
        "alcohol-met-dakwar2020",
        Substance::Alcohol,
        date(2026, 12, 7),
    );
    assert_eq!(plan.header.state(), PlanState::Draft);
    assert_eq!(plan.header.version, 1);
    let inf = infusions(&plan);
    assert_eq!(inf.len(), 1);
    // Dakwar 2020: the quit day in week 2 (days 7–13), default day 9; 0.11 over 2 then 0.60 over 50.
    assert_eq!(inf[0].date, date(2026, 12, 16));
    assert_eq!(
        inf[0].window,
        Some((date(2026, 12, 14), date(2026, 12, 20)))
    );
    assert_eq!(inf[0].phases, vec![phase("0.11", 2), phase("0.6", 50)]);
    assert_eq!(
        inf[0].dose_mg_per_kg(),
        Some(Decimal::parse("0.71").unwrap())
    );
    assert_eq!(inf[0].minutes(), Some(52));
    assert_eq!(
        plan.events
            .iter()
            .filter(|e| e.kind == EventKind::Therapy)
            .count(),
        11
    );
    assert!(
        plan.events
            .iter()
            .all(|e| e.status == EventStatus::Planned && e.origin == EventOrigin::Protocol)
    );
    assert!(
        plan.events.windows(2).all(|w| w[0].date <= w[1].date),
        "events in date order"
    );
}

#[test]
fn a_plan_needs_a_signed_eligibility_and_a_substance_the_protocol_treats() {
    let protocol = load("alcohol-kare-grabski2022");
    for status in [
        PatientStatus::Screening,
        PatientStatus::NotEligible,
        PatientStatus::InTreatment,
        PatientStatus::Inquiry,
    ] {
        let err = new_plan(
            &protocol,
            &patient(status, vec![Substance::Alcohol]),
            date(2026, 12, 7),
            DOCTOR,
            t0(),
            &mut ids(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, PlanError::NotAllowed(m) if m.contains("eligib")),
            "{status:?}: {err}"
        );
    }
    let err = new_plan(
        &protocol,
        &patient(PatientStatus::Eligible, vec![Substance::Cocaine]),
        date(2026, 12, 7),
        DOCTOR,
        t0(),
        &mut ids(),
    )
    .unwrap_err();
    let PlanError::Invalid(errors) = err else {
        panic!("expected a field error")
    };
    assert_eq!(errors.0[0].field, "protocol_id");
    assert!(
        errors.0[0].message.contains("cocaine"),
        "{}",
        errors.0[0].message
    );
}

#[test]
fn moving_within_the_window_is_plain_and_outside_needs_acknowledgement() {
    let (protocol, plan) = make(
        "alcohol-met-dakwar2020",
        Substance::Alcohol,
        date(2026, 12, 7),
    );
    let id = infusions(&plan)[0].id;
    let ok = edit(
        &plan,
        &protocol,
        PlanEdit::Move {
            event_id: id,
            date: date(2026, 12, 20),
        },
        false,
    )
    .unwrap();
    assert!(ok.change.deviations.is_empty());
    assert_eq!(ok.change.action, ChangeAction::Move);
    assert_eq!(
        ok.change.summary,
        "infusion 1 moved from 2026-12-16 to 2026-12-20"
    );
    assert_eq!(ok.change.reason.as_deref(), Some("patient asked"));
    assert_eq!(ok.plan.header.version, 2);
    assert_eq!(ok.changed_events, vec![id]);

    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Move {
            event_id: id,
            date: date(2026, 12, 21),
        },
        false,
    )
    .unwrap_err();
    let PlanError::Deviation(d) = &err else {
        panic!("{err}")
    };
    assert_eq!(
        d,
        &vec![
            "infusion 1 on 2026-12-21 is outside the protocol's window 2026-12-14 to 2026-12-20"
                .to_string()
        ]
    );
    assert!(err.to_string().starts_with("acknowledge_deviation: "));
    let acked = edit(
        &plan,
        &protocol,
        PlanEdit::Move {
            event_id: id,
            date: date(2026, 12, 21),
        },
        true,
    )
    .unwrap();
    assert_eq!(acked.change.deviations, *d);
    assert_eq!(infusions(&acked.plan)[0].deviations, *d);
}

#[test]
fn spacing_and_count_are_checked_against_the_protocol() {
    // KARE has no windows: each infusion's day is its own window; spacing is unset.
    let (protocol, plan) = make(
        "alcohol-kare-grabski2022",
        Substance::Alcohol,
        date(2026, 12, 7),
    );
    let second = infusions(&plan)[1].id;
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Move {
            event_id: second,
            date: date(2026, 12, 18),
        },
        false,
    )
    .unwrap_err();
    assert!(
        matches!(&err, PlanError::Deviation(d) if d[0].contains("off the protocol's day 2026-12-17")),
        "{err}"
    );
    let added = edit(
        &plan,
        &protocol,
        PlanEdit::Add {
            kind: EventKind::Infusion,
            date: date(2027, 1, 4),
            phases: vec![phase("0.8", 40)],
            modality: None,
            instrument: None,
        },
        false,
    )
    .unwrap_err();
    assert!(
        matches!(&added, PlanError::Deviation(d) if d.iter().any(|x| x == "4 infusions planned, more than the protocol's 3")),
        "{added}"
    );
}

#[test]
fn spacing_rules_flag_too_close_and_too_far() {
    // A protocol with spacing: clinic-series-6 with min 2 and max 4 days set by the clinic (an override file).
    let text = std::fs::read_to_string(data_dir().join("protocols/clinic-series-6.toml"))
        .unwrap()
        .replace(
            "[infusions]\n",
            "[infusions]\nmin_spacing_days = 2\nmax_spacing_days = 4\n",
        )
        .replace(
            "[[unset]]\nfield = \"infusions.min_spacing_days\"",
            "[[unset]]\nfield = \"x-removed-min\"",
        )
        .replace(
            "[[unset]]\nfield = \"infusions.max_spacing_days\"",
            "[[unset]]\nfield = \"x-removed-max\"",
        );
    let text = remove_unset(&text, "x-removed-min");
    let text = remove_unset(&text, "x-removed-max");
    let instruments: BTreeSet<String> = ["phq-9".to_string()].into();
    let protocol = parse_protocol("protocols/clinic-series-6.toml", &text, &instruments)
        .unwrap_or_else(|e| panic!("{e}"));
    let (plan, _) = new_plan(
        &protocol,
        &patient(PatientStatus::Eligible, vec![Substance::Opioids]),
        date(2026, 12, 7),
        DOCTOR,
        t0(),
        &mut ids(),
    )
    .unwrap();
    // Infusions on days 0, 2, 4, 7, 9, 11. Removing the window check: skip moves only.
    let third = infusions(&plan)[2].id;
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Move {
            event_id: third,
            date: date(2026, 12, 10),
        },
        false,
    )
    .unwrap_err();
    let PlanError::Deviation(d) = err else {
        panic!()
    };
    assert!(d.iter().any(|x| x == "infusions on 2026-12-09 and 2026-12-10 are 1 days apart, fewer than the protocol's 2"), "{d:?}");
    // Skipping the third leaves 2026-12-09 → 2026-12-14: 5 days, more than 4; skipping is not refused
    // (no deviation is demanded for a skip) but restoring it back is fine.
    let skipped = edit(&plan, &protocol, PlanEdit::Skip { event_id: third }, false).unwrap();
    assert_eq!(
        skipped
            .plan
            .events
            .iter()
            .find(|e| e.id == third)
            .unwrap()
            .status,
        EventStatus::Skipped
    );
    let restored = edit(
        &skipped.plan,
        &protocol,
        PlanEdit::Restore { event_id: third },
        false,
    )
    .unwrap();
    assert_eq!(
        restored
            .plan
            .events
            .iter()
            .find(|e| e.id == third)
            .unwrap()
            .status,
        EventStatus::Planned
    );
    assert_eq!(restored.plan.header.version, 3);
}

fn remove_unset(text: &str, field: &str) -> String {
    let marker = format!("[[unset]]\nfield = \"{field}\"\n");
    let start = text.find(&marker).unwrap();
    let rest = &text[start + marker.len()..];
    let end = rest.find("\n\n").map_or(rest.len(), |i| i + 2);
    format!("{}{}", &text[..start], &rest[end..])
}

#[test]
fn dose_changes_follow_the_protocol_or_need_acknowledgement() {
    let (protocol, plan) = make(
        "cocaine-mbrp-dakwar2019",
        Substance::Cocaine,
        date(2026, 12, 7),
    );
    let id = infusions(&plan)[0].id;
    // No maximum in the file: any other dose deviates.
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Dose {
            event_id: id,
            phases: vec![phase("0.6", 40)],
        },
        false,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PlanError::Deviation(vec![
            "dose 0.6 mg/kg differs from the protocol's 0.5 mg/kg".into()
        ])
    );
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Dose {
            event_id: id,
            phases: vec![phase("0.5", 50)],
        },
        false,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PlanError::Deviation(vec![
            "length 50 min differs from the protocol's 40 min".into()
        ])
    );
    let ok = edit(
        &plan,
        &protocol,
        PlanEdit::Dose {
            event_id: id,
            phases: vec![phase("0.6", 40)],
        },
        true,
    )
    .unwrap();
    assert_eq!(
        ok.change.summary,
        "infusion 1 dose changed from 0.5 mg/kg over 40 min to 0.6 mg/kg over 40 min"
    );
    assert_eq!(infusions(&ok.plan)[0].phases, vec![phase("0.6", 40)]);
    // Plausibility limits refuse outright, even acknowledged.
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Dose {
            event_id: id,
            phases: vec![phase("5", 40)],
        },
        true,
    )
    .unwrap_err();
    let PlanError::Invalid(e) = err else { panic!() };
    assert_eq!(e.0[0].field, "dose_mg_per_kg");
    assert!(
        e.0[0].message.contains("0.05–2.5 mg/kg"),
        "{}",
        e.0[0].message
    );
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Dose {
            event_id: id,
            phases: vec![phase("0", 40)],
        },
        true,
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Invalid(e) if e.0[0].field == "phases[0].dose_mg_per_kg"));
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Dose {
            event_id: id,
            phases: vec![],
        },
        true,
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Invalid(e) if e.0[0].field == "phases"));
    // Only infusions have doses.
    let therapy = plan
        .events
        .iter()
        .find(|e| e.kind == EventKind::Therapy)
        .unwrap()
        .id;
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Dose {
            event_id: therapy,
            phases: vec![phase("0.5", 40)],
        },
        true,
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Invalid(e) if e.0[0].field == "event_id"));
}

#[test]
fn a_phase_split_other_than_the_protocols_is_a_deviation() {
    let (protocol, plan) = make(
        "alcohol-met-dakwar2020",
        Substance::Alcohol,
        date(2026, 12, 7),
    );
    let id = infusions(&plan)[0].id;
    let err = edit(
        &plan,
        &protocol,
        PlanEdit::Dose {
            event_id: id,
            phases: vec![phase("0.71", 52)],
        },
        false,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PlanError::Deviation(vec![
            "phases differ from the protocol's (0.11 mg/kg over 2 min, then 0.6 mg/kg over 50 min)"
                .into()
        ])
    );
}

#[test]
fn every_edit_needs_a_reason_and_ended_plans_do_not_change() {
    let (protocol, plan) = make("clinic-series-6", Substance::Alcohol, date(2026, 12, 7));
    let id = infusions(&plan)[0].id;
    let request = EditRequest {
        edit: PlanEdit::Skip { event_id: id },
        reason: "  ".into(),
        acknowledge_deviation: false,
    };
    let err = apply_edit(
        &plan,
        &protocol,
        &request,
        &PlausibilityLimits::shipped(),
        DOCTOR,
        t0(),
        &mut ids(),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::Invalid(e) if e.0[0].field == "reason"));
    let (header, change) = end(&plan, "patient moved away", DOCTOR, t0(), &mut ids()).unwrap();
    assert_eq!(change.action, ChangeAction::End);
    let ended = Plan {
        header,
        events: plan.events.clone(),
    };
    assert_eq!(ended.header.state(), PlanState::Ended);
    assert!(matches!(
        edit(&ended, &protocol, PlanEdit::Skip { event_id: id }, false),
        Err(PlanError::NotAllowed(_))
    ));
    assert!(matches!(
        sign(&ended, DOCTOR, t0(), &mut ids()),
        Err(PlanError::NotAllowed(_))
    ));
    // Not before the start date, not an unknown event.
    assert!(
        matches!(edit(&plan, &protocol, PlanEdit::Move { event_id: id, date: date(2026, 12, 6) }, true), Err(PlanError::Invalid(e)) if e.0[0].field == "date")
    );
    assert!(
        matches!(edit(&plan, &protocol, PlanEdit::Skip { event_id: Uuid::nil() }, true), Err(PlanError::Invalid(e)) if e.0[0].field == "event_id")
    );
}

#[test]
fn signing_then_editing_makes_the_plan_amended() {
    let (protocol, plan) = make("clinic-series-6", Substance::Alcohol, date(2026, 12, 7));
    let (header, change) = sign(&plan, DOCTOR, t0(), &mut ids()).unwrap();
    assert_eq!(header.state(), PlanState::Signed);
    assert_eq!(header.signed_version, Some(2));
    assert_eq!(
        change.summary,
        format!("plan signed with {} active events", plan.events.len())
    );
    let signed = Plan {
        header,
        events: plan.events.clone(),
    };
    assert!(
        matches!(
            sign(&signed, DOCTOR, t0(), &mut ids()),
            Err(PlanError::NotAllowed(_))
        ),
        "signed twice"
    );
    let therapy = signed
        .events
        .iter()
        .find(|e| e.kind == EventKind::Integration)
        .unwrap()
        .id;
    let changed = edit(
        &signed,
        &protocol,
        PlanEdit::Skip { event_id: therapy },
        false,
    )
    .unwrap();
    assert_eq!(changed.plan.header.state(), PlanState::Amended);
    let (again, _) = sign(&changed.plan, DOCTOR, t0(), &mut ids()).unwrap();
    assert_eq!(again.state(), PlanState::Signed);
    assert_eq!(again.signed_version, Some(4));
}

#[test]
fn booked_and_completed_events_are_not_edited_by_the_plan() {
    let (protocol, mut plan) = make("clinic-series-6", Substance::Alcohol, date(2026, 12, 7));
    for status in [
        EventStatus::Booked,
        EventStatus::Completed,
        EventStatus::NoShow,
    ] {
        plan.events[0].status = status;
        let id = plan.events[0].id;
        let err = edit(&plan, &protocol, PlanEdit::Skip { event_id: id }, true).unwrap_err();
        assert!(
            matches!(&err, PlanError::NotAllowed(m) if m.contains(status.as_str())),
            "{err}"
        );
    }
}

#[test]
fn added_events_need_their_details() {
    let (protocol, plan) = make(
        "alcohol-kare-grabski2022",
        Substance::Alcohol,
        date(2026, 12, 7),
    );
    let add = |kind, phases: Vec<Phase>, modality: Option<&str>, instrument: Option<&str>| {
        edit(
            &plan,
            &protocol,
            PlanEdit::Add {
                kind,
                date: date(2026, 12, 30),
                phases,
                modality: modality.map(Into::into),
                instrument: instrument.map(Into::into),
            },
            false,
        )
    };
    let therapy = add(EventKind::Therapy, vec![], None, None).unwrap();
    let added = therapy
        .plan
        .events
        .iter()
        .find(|e| e.origin == EventOrigin::Added)
        .unwrap();
    assert_eq!(
        added.modality.as_deref(),
        Some(
            protocol
                .definition()
                .therapy
                .as_ref()
                .unwrap()
                .modality
                .as_str()
        )
    );
    assert!(
        matches!(add(EventKind::Assessment, vec![], None, None), Err(PlanError::Invalid(e)) if e.0[0].field == "instrument")
    );
    assert!(
        matches!(add(EventKind::Therapy, vec![phase("0.5", 40)], None, None), Err(PlanError::Invalid(e)) if e.0[0].field == "phases")
    );
    let assessment = add(EventKind::Assessment, vec![], None, Some("phq-9")).unwrap();
    assert_eq!(
        assessment.change.summary,
        "phq-9 assessment added on 2026-12-30"
    );
}

fn dose_strategy() -> impl Strategy<Value = Vec<Phase>> {
    // Any phases: doses 0–5 mg/kg in millionths (beyond the plausibility range on both sides), 0–300 min.
    prop::collection::vec((0i64..=5_000_000, 0i64..=300), 0..4).prop_map(|v| {
        v.into_iter()
            .map(|(micros, minutes)| Phase {
                dose_mg_per_kg: Decimal::from_micros(micros),
                minutes,
            })
            .collect()
    })
}

proptest! {
    /// Whatever the phases, an edit is either refused, or accepted exactly as
    /// asked; accepted without acknowledgement only when it matches the
    /// protocol; never accepted outside the plausibility limits.
    #[test]
    fn dose_edits_are_exact_and_never_silently_outside_the_protocol(phases in dose_strategy(), ack in any::<bool>(), which in 0usize..5) {
        let ids_list = ["cocaine-mbrp-dakwar2019", "alcohol-met-dakwar2020", "alcohol-kare-grabski2022", "clinic-series-6", "opioid-clinic-moud-example"];
        let protocol_id = ids_list[which];
        let substance = match protocol_id { "cocaine-mbrp-dakwar2019" => Substance::Cocaine, "opioid-clinic-moud-example" => Substance::Opioids, _ => Substance::Alcohol };
        let (protocol, plan) = make(protocol_id, substance, date(2026, 12, 7));
        let id = infusions(&plan)[0].id;
        let before = infusions(&plan)[0].phases.clone();
        let result = edit(&plan, &protocol, PlanEdit::Dose { event_id: id, phases: phases.clone() }, ack);
        let total: i64 = phases.iter().map(|p| p.dose_mg_per_kg.micros()).sum();
        let minutes: i64 = phases.iter().map(|p| p.minutes).sum();
        let plausible = !phases.is_empty()
            && phases.iter().all(|p| p.dose_mg_per_kg.micros() > 0 && p.minutes > 0)
            && (50_000..=2_500_000).contains(&total)
            && (2..=240).contains(&minutes);
        let def = &protocol.definition().infusions;
        let matches_protocol = phases == def.phases;
        match result {
            Ok(outcome) => {
                prop_assert!(plausible);
                prop_assert_ne!(&phases, &before);
                let event = outcome.plan.events.iter().find(|e| e.id == id).unwrap();
                prop_assert_eq!(&event.phases, &phases);
                prop_assert_eq!(event.dose_mg_per_kg().unwrap().micros(), total);
                prop_assert!(ack || (total == def.dose_mg_per_kg.micros() && minutes == def.minutes));
                if !matches_protocol {
                    prop_assert!(!outcome.change.deviations.is_empty() || def.max_dose_mg_per_kg.is_some());
                }
            }
            Err(PlanError::Invalid(_)) => prop_assert!(!plausible || phases == before),
            Err(PlanError::Deviation(d)) => {
                prop_assert!(plausible && !ack && !d.is_empty());
            }
            Err(PlanError::NotAllowed(m)) => prop_assert!(false, "unexpected refusal {}", m),
        }
    }

    /// Moves never lose or duplicate events, keep date order, and raise the version by one.
    #[test]
    fn moves_keep_every_event(offset in 0i64..60, which in 0usize..6, ack in any::<bool>()) {
        let (protocol, plan) = make("clinic-series-6", Substance::Alcohol, date(2026, 12, 7));
        let target = infusions(&plan)[which].id;
        let to = date(2026, 12, 7) + chrono::Days::new(u64::try_from(offset).unwrap());
        match edit(&plan, &protocol, PlanEdit::Move { event_id: target, date: to }, ack) {
            Ok(outcome) => {
                prop_assert_eq!(outcome.plan.events.len(), plan.events.len());
                let mut a: Vec<Uuid> = outcome.plan.events.iter().map(|e| e.id).collect();
                let mut b: Vec<Uuid> = plan.events.iter().map(|e| e.id).collect();
                a.sort();
                b.sort();
                prop_assert_eq!(a, b);
                prop_assert!(outcome.plan.events.windows(2).all(|w| w[0].date <= w[1].date));
                prop_assert_eq!(outcome.plan.header.version, 2);
                prop_assert_eq!(outcome.plan.events.iter().find(|e| e.id == target).unwrap().date, to);
                // Off its protocol day means an acknowledged deviation.
                let original = infusions(&plan)[which].date;
                prop_assert_eq!(to != original, !outcome.change.deviations.is_empty());
            }
            Err(PlanError::Deviation(_)) => prop_assert!(!ack),
            Err(PlanError::Invalid(e)) => prop_assert_eq!(&e.0[0].field, "date"),
            Err(other) => prop_assert!(false, "{}", other),
        }
    }
}
