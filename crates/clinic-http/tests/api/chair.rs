//! The chair-side chart through the router on SQLite and PostgreSQL: two
//! identifiers to check in, a checklist that blocks the pump until complete
//! (consents, escort, sobriety, baseline vitals, the order's double check),
//! pump events, vital signs whose alerts stay open until a response is
//! recorded, the discharge hard stop, and the floor board.

use axum::http::StatusCode;
use clinic_store::Store;
use clinic_store::records::AuditFilter;

use crate::helpers::{FORM, TestApp, req, spawn_app_with};

crate::backend_tests!(
    a_nurse_runs_an_infusion_from_check_in_to_discharge,
    the_emergency_button_stops_pages_and_hands_off
);

fn field_of(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in the page"))
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

async fn version<S: Store>(app: &TestApp<S>, token: &str, session: &str) -> String {
    field_of(
        &app.send(req("GET", &format!("/sessions/{session}")).token(token))
            .await
            .text,
        "version",
    )
}

async fn post<S: Store>(
    app: &TestApp<S>,
    token: &str,
    session: &str,
    path: &str,
    body: &str,
) -> crate::helpers::TestResponse {
    let v = version(app, token, session).await;
    app.send(
        req("POST", &format!("/sessions/{session}/{path}"))
            .token(token)
            .raw(&format!("version={v}&{body}"), FORM),
    )
    .await
}

const VITALS_OK: &str = "systolic_mmhg=128&diastolic_mmhg=82&heart_rate_bpm=76&respiratory_rate_per_min=14&spo2_percent=98&rass=0";

async fn a_nurse_runs_an_infusion_from_check_in_to_discharge<S: Store>(store: S) {
    let app = spawn_app_with(store, crate::scheduling::config()).await;
    crate::scheduling::set_up_site(&app, 1, serde_json::json!([])).await;
    let doctor = app.login("physician").await;
    let nurse = app.login("nurse").await;
    let desk = app.login("frontdesk").await;
    // An eligible patient on KARE (0.8 mg/kg over 40 min), the first infusion booked.
    let body = serde_json::json!({ "given_name": "Ana", "family_name": "Chair", "date_of_birth": "1980-01-01", "sex_at_birth": "male", "substances": ["alcohol"],
        "escort": {"name": "Luis Chair", "relationship": "brother", "phone": "555-010-0198"}, "confirm_not_duplicate": true });
    let patient = app.create_patient(&doctor, body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.send(
        req("PATCH", &format!("/api/v1/patients/{patient}"))
            .token(&doctor)
            .header("if-match", "\"1\"")
            .json(serde_json::json!({"status": "eligible"})),
    )
    .await;
    let plan = app.send(req("POST", &format!("/api/v1/patients/{patient}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": "alcohol-kare-grabski2022", "start_date": "2030-03-04"}))).await.json();
    let plan_id = plan["id"].as_str().unwrap();
    app.send(
        req("POST", &format!("/api/v1/plans/{plan_id}/sign"))
            .token(&doctor)
            .header("if-match", "\"1\""),
    )
    .await;
    let event = plan["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "infusion")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let booking = app
        .send(
            req("POST", &format!("/api/v1/plan-events/{event}/booking"))
                .token(&desk)
                .json(serde_json::json!({"time": "09:00"})),
        )
        .await;
    assert_eq!(booking.status, StatusCode::CREATED, "{}", booking.text);
    let booked = booking.json();
    let booking = booked["id"].as_str().unwrap().to_string();
    let starts_at: chrono::DateTime<chrono::Utc> = booked["starts_at"].as_str().unwrap().parse().unwrap();
    // Check-in opens on the booking's day, not before.
    let early = app
        .send(req("POST", &format!("/bookings/{booking}/sessions")).token(&nurse).raw("full_name=Ana+Chair&date_of_birth=1980-01-01", FORM))
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert!(early.text.contains("check-in opens on that day"), "{}", early.text);
    // The clinic's clock on the day, a quarter of an hour before the booking.
    app.clinic.set_clock(Some(starts_at - chrono::Duration::minutes(15)));

    // Two identifiers, as the patient states them.
    let wrong = app
        .send(
            req("POST", &format!("/bookings/{booking}/sessions"))
                .token(&nurse)
                .raw("full_name=Anna+Chair&date_of_birth=1980-01-02", FORM),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.text.contains("full name: does not match the chart")
            && wrong
                .text
                .contains("date of birth: does not match the chart")
    );
    let opened = app
        .send(
            req("POST", &format!("/bookings/{booking}/sessions"))
                .token(&nurse)
                .raw("full_name=+ana++chair&date_of_birth=1980-01-01", FORM),
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.text);
    let session = opened
        .header("location")
        .unwrap()
        .trim_start_matches("/sessions/")
        .to_string();
    assert_eq!(
        app.send(req("GET", &format!("/bookings/{booking}/check-in")).token(&nurse))
            .await
            .header("location"),
        Some(format!("/sessions/{session}")),
        "one open session per booking"
    );

    // The checklist: consents missing, no order, sobriety not shown → the pump cannot start.
    let checklist = format!(
        "fasting_confirmed=yes&escort_name=Luis+Chair&escort_present=yes&breath_alcohol=0.000&hours_since_last_drink=12&{}",
        VITALS_OK
            .replace("systolic", "b_systolic")
            .replace("&diastolic", "&b_diastolic")
            .replace("&heart", "&b_heart")
            .replace("&respiratory", "&b_respiratory")
            .replace("&spo2", "&b_spo2")
            .replace("&rass", "&b_rass")
    );
    let res = post(&app, &nurse, &session, "checklist", &checklist).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = app
        .send(req("GET", &format!("/sessions/{session}")).token(&nurse))
        .await
        .text;
    for unmet in [
        "consents not in force: treatment, infusion",
        "12 hours since the last drink; at least 24 are needed",
        "order: no signed order for this infusion",
    ] {
        assert!(page.contains(unmet), "{unmet} in {page}");
    }
    let res = post(
        &app,
        &nurse,
        &session,
        "pump",
        "action=start&rate_ml_per_h=156",
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text.contains("the infusion cannot start"),
        "{}",
        res.text
    );
    // Consents signed, an order signed and double-checked, the checklist again.
    for kind in ["treatment", "infusion"] {
        crate::eligibility::sign_consent(&app, &nurse, &patient, kind).await;
    }
    let order = app.send(req("POST", &format!("/api/v1/plan-events/{event}/orders")).token(&doctor).json(serde_json::json!({
        "weight_kg": "75", "weight_measured_on": starts_at.date_naive().to_string(), "phases": [{"dose_mg_per_kg": "0.8", "minutes": 40}], "stock_mg_per_ml": 10, "bag_ml": 100 }))).await.json();
    let order_id = order["id"].as_str().unwrap();
    app.send(
        req("POST", &format!("/api/v1/orders/{order_id}/checks"))
            .token(&nurse)
            .header("if-match", "\"1\"")
            .json(serde_json::json!({"weight_kg": "75", "phases": ["0.8"]})),
    )
    .await;
    let res = post(
        &app,
        &nurse,
        &session,
        "checklist",
        &checklist.replace("hours_since_last_drink=12", "hours_since_last_drink=30"),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // The session was opened before the order: the chart links it now that it exists.
    // Never faster than the order: 0.8 mg/kg × 75 kg in 106 mL over 40 min is 159 mL/h.
    let fast = post(&app, &nurse, &session, "pump", "action=start&rate_ml_per_h=159.1").await;
    assert_eq!(fast.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fast.text.contains("159.1 mL/h is faster than the order (159 mL/h)"), "{}", fast.text);
    let res = post(
        &app,
        &nurse,
        &session,
        "pump",
        "action=start&rate_ml_per_h=159",
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = app
        .send(req("GET", &format!("/sessions/{session}")).token(&nurse))
        .await
        .text;
    assert!(page.contains("data-testid=\"phase\">infusing"), "{page}");
    assert!(page.contains("Next set due at"));
    // The ledger: a delivery of ketamine 10 mg/mL, and the 60 mg (6 mL) drawn for this session
    // with a little over; a frontdesk user cannot draw.
    // A lot of another strength is refused for this order (10 mg/mL stock): a tenfold error caught at the draw.
    let strong = crate::ledger::receive(&app, &nurse, "100", "5", "2").await;
    let res = app.send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&format!("type=withdrawn&lot_id={strong}&container=1&volume_ml=0.6"), FORM)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("this lot is 100 mg/mL; the order is for 10 mg/mL stock"), "{}", res.text);
    let lot = crate::ledger::receive(&app, &nurse, "10", "20", "5").await;
    // Drawn by mistake and put back before the witness: the vial holds it again.
    let res = app.send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&format!("type=withdrawn&lot_id={lot}&container=2&volume_ml=1"), FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = app.send(req("GET", &format!("/sessions/{session}")).token(&nurse)).await.text;
    assert!(page.contains("Return unused drug to its vial") && page.contains("name=\"container\" inputmode=\"numeric\" value=\"2\""), "the return form names the vial drawn from");
    let res = app
        .send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&format!("type=returned&lot_id={lot}&container=2&volume_ml=1&witness_username=physician&witness_password={}", crate::helpers::PASSWORD.replace('!', "%21")), FORM))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let draw = format!("type=withdrawn&lot_id={lot}&container=1&volume_ml=6.1");
    assert_eq!(
        app.send(req("POST", &format!("/sessions/{session}/ledger")).token(&desk).raw(&draw, FORM)).await.status,
        StatusCode::FORBIDDEN
    );
    let res = app.send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&draw, FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);

    // Vital signs: the first is fine, the second raises SpO2 and BP alerts at once.
    assert_eq!(
        post(&app, &nurse, &session, "vitals", VITALS_OK)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let bad = post(&app, &nurse, &session, "vitals", "systolic_mmhg=400&diastolic_mmhg=82&heart_rate_bpm=76&respiratory_rate_per_min=14&spo2_percent=98&rass=0").await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an impossible reading is refused"
    );
    assert!(bad.text.contains("systolic mmhg"));
    assert_eq!(post(&app, &nurse, &session, "vitals", "systolic_mmhg=186&diastolic_mmhg=104&heart_rate_bpm=98&respiratory_rate_per_min=14&spo2_percent=90&rass=-1").await.status, StatusCode::SEE_OTHER);
    let page = app
        .send(req("GET", &format!("/sessions/{session}")).token(&nurse))
        .await
        .text;
    assert_eq!(
        page.matches("data-testid=\"open-alert\"").count(),
        2,
        "{page}"
    );
    assert!(
        page.contains("Alert: BP 186/104 mmHg is above 180/100")
            && page.contains("Alert: SpO2 90 % is below 92 %")
    );
    let floor = app
        .send(req("GET", "/floor?fragment=1").token(&nurse))
        .await;
    assert!(
        floor.text.contains("2 open alert(s)") && floor.text.contains("Chair 1</strong> · AC"),
        "{}",
        floor.text
    );
    assert!(
        !floor.text.contains("<html"),
        "the fragment is the board only"
    );
    // Forty minutes on (the clinic's clock), the pump pauses and stops; discharge waits for every alert's response.
    app.clinic.set_clock(Some(app.clinic.now() + chrono::Duration::minutes(40)));
    assert_eq!(
        post(&app, &nurse, &session, "pump", "action=pause")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(&app, &nurse, &session, "pump", "action=stop")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let discharge = "aldrete_activity=2&aldrete_respiration=2&aldrete_circulation=2&aldrete_consciousness=2&aldrete_spo2=2&dissociation_resolved=yes&steady_gait=yes&escort_present=yes&written_instructions_given=yes";
    let res = post(&app, &nurse, &session, "discharge", discharge).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("record the response to every open alert"));
    let page = app
        .send(req("GET", &format!("/sessions/{session}")).token(&nurse))
        .await
        .text;
    for id in page
        .split("name=\"alert_id\" value=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect::<Vec<_>>()
    {
        let empty = post(
            &app,
            &nurse,
            &session,
            "alert-responses",
            &format!("alert_id={id}&response="),
        )
        .await;
        assert_eq!(
            empty.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a response is required"
        );
        assert_eq!(
            post(
                &app,
                &nurse,
                &session,
                "alert-responses",
                &format!("alert_id={id}&response=paused,+oxygen+2+L,+physician+called")
            )
            .await
            .status,
            StatusCode::SEE_OTHER
        );
    }
    // The controlled-substance record is a hard stop no one overrides: the pump's 60 mg is not yet
    // recorded and 6.1 mL is held.
    let res = post(&app, &nurse, &session, "discharge", discharge).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("controlled-substance record of this session is not complete") && res.text.contains("6.1 mL (61 mg) of ketamine"), "{}", res.text);
    let res = post(&app, &doctor, &session, "discharge", &format!("{discharge}&override_reason=urgent")).await;
    assert!(res.text.contains("not complete"), "a physician's reason does not pass it");
    // A rescue dose of midazolam (Schedule IV) is drawn from its own lot and administered against
    // the chart's medication entry (test figures, not a dosing recommendation).
    let mid = app.send(req("POST", "/ledger/entries").token(&nurse).raw("type=received&drug=midazolam&dosage_form=injection&mg_per_ml=1&container_ml=10&containers=2&lot_number=M-TEST&expires_on=2031-01-31&supplier=Example+Pharma&invoice_number=INV-M", FORM)).await;
    assert_eq!(mid.status, StatusCode::SEE_OTHER, "{}", mid.text);
    let site_id = app.clinic.main_site().await.unwrap().id;
    let mid_lot = app.clinic.store().ledger_entries(site_id).await.unwrap().into_iter().rev().find(|e| e.entry_type == "received").unwrap().lot_id;
    let res = post(&app, &nurse, &session, "medications", "drug=midazolam&dose=1+mg&route=IV&reason=agitation+on+emergence").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let med_entry = app.clinic.store().session_entries(session.parse().unwrap()).await.unwrap().into_iter().find(|e| e.kind == "medication").unwrap().id;
    let ledger = |body: String| app.send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&body, FORM));
    assert_eq!(ledger(format!("type=withdrawn&lot_id={mid_lot}&container=1&volume_ml=1")).await.status, StatusCode::SEE_OTHER);
    let res = ledger(format!("type=administered&lot_id={mid_lot}&volume_ml=1")).await;
    assert!(res.text.contains("medication entry id: is required"), "{}", res.text);
    let res = ledger(format!("type=administered&lot_id={mid_lot}&volume_ml=1.5&medication_entry_id={med_entry}")).await;
    assert!(res.text.contains("the session holds 1 mL of this lot; 1.5 mL cannot be given from it"), "{}", res.text);
    assert_eq!(ledger(format!("type=administered&lot_id={mid_lot}&volume_ml=1&medication_entry_id={med_entry}")).await.status, StatusCode::SEE_OTHER);
    // The administration comes from the pump record: about 159 mL/h × 40 min = 106 mL at 60/106 mg/mL = 60 mg = 6 mL.
    let typed = app
        .send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&format!("type=administered&lot_id={lot}&volume_ml=6.1"), FORM))
        .await;
    assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(typed.text.contains("the pump record gives 6"), "a typed figure other than the pump's is refused: {}", typed.text);
    let res = app.send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&format!("type=administered&lot_id={lot}"), FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let held = app.clinic.store().session_ledger_entries(session.parse().unwrap()).await.unwrap();
    let administered = held.iter().find(|e| e.entry_type == "administered" && e.lot_id.to_string() == lot).expect("the administration");
    let body: serde_json::Value = serde_json::from_str(&administered.body).unwrap();
    let given: f64 = body["detail"]["volume_ml"].as_str().unwrap().parse().unwrap();
    assert!((6.0..6.001).contains(&given), "{given}");
    // The rest is wasted before a witness who signs with their own password.
    let rest = format!("{:.4}", 6.1 - given);
    let waste = |who: &str, password: &str| format!("type=wasted&lot_id={lot}&volume_ml={rest}&witness_username={who}&witness_password={password}");
    for (who, password, says) in [
        ("nurse", crate::helpers::PASSWORD, "must be a second person"),
        ("physician", "wrong-password", "were not accepted"),
        ("frontdesk", crate::helpers::PASSWORD, "may not witness"),
    ] {
        let res = app.send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&waste(who, password), FORM)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{who}");
        assert!(res.text.contains(says), "{who}: {}", res.text);
    }
    let res = app.send(req("POST", &format!("/sessions/{session}/ledger")).token(&nurse).raw(&waste("physician", crate::helpers::PASSWORD), FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = app.send(req("GET", &format!("/sessions/{session}")).token(&nurse)).await.text;
    assert!(page.contains("Nothing drawn for this session is held."), "{page}");
    // The hard stop: an Aldrete of 8 is refused for the nurse; a physician may go ahead with a reason.
    let low = discharge.replace("aldrete_spo2=2", "aldrete_spo2=0");
    let res = post(&app, &nurse, &session, "discharge", &low).await;
    assert!(
        res.text.contains("modified Aldrete score 8 is below 9"),
        "{}",
        res.text
    );
    let res = post(
        &app,
        &nurse,
        &session,
        "discharge",
        &format!("{low}&override_reason=fine"),
    )
    .await;
    assert!(
        res.text.contains("only a physician may discharge"),
        "{}",
        res.text
    );
    assert_eq!(
        post(&app, &nurse, &session, "discharge", discharge)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = app
        .send(req("GET", &format!("/sessions/{session}")).token(&nurse))
        .await
        .text;
    assert!(
        page.contains("data-testid=\"phase\">discharged")
            && page.contains("Discharged · Aldrete 10/10"),
        "{page}"
    );
    assert!(
        page.contains("mL = "),
        "the delivered amount from the pump record"
    );
    // The booking is attended and the planned infusion completed; the floor no longer shows the chair.
    let b = app
        .send(req("GET", &format!("/api/v1/bookings/{booking}")).token(&desk))
        .await
        .json();
    assert_eq!(b["status"], "attended");
    let plan_now = app
        .send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&doctor))
        .await
        .json();
    assert_eq!(
        plan_now["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == event.as_str())
            .unwrap()["status"],
        "completed"
    );
    assert!(
        app.send(req("GET", "/floor?fragment=1").token(&nurse))
            .await
            .text
            .contains("No patient in a chair now.")
    );
    // Closed: no more entries. Audited: opening, each update, the discharge.
    let closed = app
        .send(
            req("POST", &format!("/sessions/{session}/vitals"))
                .token(&nurse)
                .raw(&format!("version=0&{VITALS_OK}"), FORM),
        )
        .await;
    assert_eq!(closed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        closed.text.contains("this session is closed"),
        "{}",
        closed.text
    );
    let pid: uuid::Uuid = patient.parse().unwrap();
    // session.open: the refused identifiers (denied) and the check-in; session.update: two checklists,
    // start, two accepted vital sets, pause, stop, the midazolam given (the refused ones write nothing);
    // ledger.record about this patient: three withdrawals, a return, two administrations, one waste (the receipts name no patient).
    for (action, expected) in [
        ("session.open", 2),
        ("session.update", 8),
        ("ledger.record", 7),
        ("session.discharge", 1),
        ("alert.raise", 2),
        ("alert.close", 2),
    ] {
        let n = app
            .audit_events(AuditFilter {
                action: Some(action.into()),
                patient_id: Some(pid),
                ..Default::default()
            })
            .await
            .len();
        assert_eq!(n, expected, "{action}");
    }
    // Only physicians and nurses keep the chart.
    assert_eq!(
        app.send(req("GET", &format!("/sessions/{session}")).token(&desk))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

/// A patient checked in with a complete checklist and a verified order; returns (patient, session).
async fn ready_session<S: Store>(app: &TestApp<S>, family: &str) -> (String, String) {
    let doctor = app.login("physician").await;
    let nurse = app.login("nurse").await;
    let desk = app.login("frontdesk").await;
    let body = serde_json::json!({ "given_name": "Ana", "family_name": family, "date_of_birth": "1980-01-01", "sex_at_birth": "male", "substances": ["alcohol"],
        "allergies": [{"substance": "latex", "reaction": "rash"}], "medications": [{"name": "naltrexone", "dose": "50 mg daily"}],
        "escort": {"name": "Luis Chair", "relationship": "brother", "phone": "555-010-0198"}, "confirm_not_duplicate": true });
    let patient = app.create_patient(&doctor, body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.send(
        req("PATCH", &format!("/api/v1/patients/{patient}"))
            .token(&doctor)
            .header("if-match", "\"1\"")
            .json(serde_json::json!({"status": "eligible"})),
    )
    .await;
    let plan = app.send(req("POST", &format!("/api/v1/patients/{patient}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": "alcohol-kare-grabski2022", "start_date": "2030-03-04"}))).await.json();
    let plan_id = plan["id"].as_str().unwrap();
    app.send(
        req("POST", &format!("/api/v1/plans/{plan_id}/sign"))
            .token(&doctor)
            .header("if-match", "\"1\""),
    )
    .await;
    let event = plan["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "infusion")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let booking = app
        .send(
            req("POST", &format!("/api/v1/plan-events/{event}/booking"))
                .token(&desk)
                .json(serde_json::json!({"time": "09:00"})),
        )
        .await
        .json();
    let starts_at: chrono::DateTime<chrono::Utc> = booking["starts_at"].as_str().unwrap().parse().unwrap();
    let booking = booking["id"].as_str().unwrap().to_string();
    for kind in ["treatment", "infusion"] {
        crate::eligibility::sign_consent(app, &nurse, &patient, kind).await;
    }
    let order = app.send(req("POST", &format!("/api/v1/plan-events/{event}/orders")).token(&doctor).json(serde_json::json!({
        "weight_kg": "75", "weight_measured_on": "2026-11-20", "phases": [{"dose_mg_per_kg": "0.8", "minutes": 40}], "stock_mg_per_ml": 10, "bag_ml": 100 }))).await.json();
    let order_id = order["id"].as_str().unwrap();
    app.send(
        req("POST", &format!("/api/v1/orders/{order_id}/checks"))
            .token(&nurse)
            .header("if-match", "\"1\"")
            .json(serde_json::json!({"weight_kg": "75", "phases": ["0.8"]})),
    )
    .await;
    app.clinic.set_clock(Some(starts_at - chrono::Duration::minutes(15)));
    let opened = app
        .send(
            req("POST", &format!("/bookings/{booking}/sessions"))
                .token(&nurse)
                .raw(
                    &format!("full_name=Ana+{family}&date_of_birth=1980-01-01"),
                    FORM,
                ),
        )
        .await;
    let session = opened
        .header("location")
        .unwrap()
        .trim_start_matches("/sessions/")
        .to_string();
    let checklist = "fasting_confirmed=yes&escort_name=Luis+Chair&escort_present=yes&breath_alcohol=0.000&hours_since_last_drink=30&b_systolic_mmhg=128&b_diastolic_mmhg=82&b_heart_rate_bpm=76&b_respiratory_rate_per_min=14&b_spo2_percent=98&b_rass=0";
    assert_eq!(
        post(app, &nurse, &session, "checklist", checklist)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    (patient, session)
}

async fn the_emergency_button_stops_pages_and_hands_off<S: Store>(store: S) {
    let mut config = crate::scheduling::config();
    config.safety.on_call = Some(("Dr. On Call".into(), "555-010-0900".into()));
    let app = spawn_app_with(store, config).await;
    crate::scheduling::set_up_site(&app, 1, serde_json::json!([])).await;
    let nurse = app.login("nurse").await;
    let (patient, session) = ready_session(&app, "Emergency").await;
    // Before an emergency there is no hand-off.
    assert_eq!(
        app.send(req("GET", &format!("/sessions/{session}/handoff")).token(&nurse))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        post(
            &app,
            &nurse,
            &session,
            "pump",
            "action=start&rate_ml_per_h=159"
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(post(&app, &nurse, &session, "vitals", "systolic_mmhg=150&diastolic_mmhg=90&heart_rate_bpm=96&respiratory_rate_per_min=8&spo2_percent=93&rass=-3").await.status, StatusCode::SEE_OTHER);
    // Ratings: every item in range, or refused naming the item.
    let bad = post(
        &app,
        &nurse,
        &session,
        "ratings",
        "instrument=bprs_positive&item=1&item=9&item=2",
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text.contains("items[2]: required, 1–7") && bad.text.contains("items[4]"),
        "{}",
        bad.text
    );
    assert_eq!(
        post(
            &app,
            &nurse,
            &session,
            "ratings",
            "instrument=bprs_positive&item=1&item=3&item=2&item=1"
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let cadss: String = (1..=23).map(|i| format!("&item={}", i % 5)).collect();
    assert_eq!(
        post(
            &app,
            &nurse,
            &session,
            "ratings",
            &format!("instrument=cadss{cadss}")
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let bad = post(
        &app,
        &nurse,
        &session,
        "medications",
        "drug=midazolam&dose=&route=IP&reason=",
    )
    .await;
    assert!(
        bad.text.contains("dose: required")
            && bad
                .text
                .contains("route: must be one of: IV, IM, PO, SL, IN")
            && bad.text.contains("reason: required"),
        "{}",
        bad.text
    );
    assert_eq!(
        post(
            &app,
            &nurse,
            &session,
            "medications",
            "drug=midazolam&dose=2+mg&route=IV&reason=severe+emergence+reaction"
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(post(&app, &nurse, &session, "adverse-events", "description=hypertension+186%2F104&severity=moderate&action=paused,+rechecked&outcome=resolved").await.status, StatusCode::SEE_OTHER);
    let page = app
        .send(req("GET", &format!("/sessions/{session}")).token(&nurse))
        .await
        .text;
    for needle in [
        "BPRS positive total 7",
        "CADSS total 46",
        "Medicine: midazolam 2 mg IV for severe emergence reaction",
        "hypertension 186/104 · action: paused, rechecked · outcome: resolved",
    ] {
        assert!(page.contains(needle), "{needle} not in the chart log");
    }
    let res = post(
        &app,
        &nurse,
        &session,
        "emergency",
        "what=unresponsive+to+voice",
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = app
        .send(req("GET", &format!("/sessions/{session}")).token(&nurse))
        .await
        .text;
    assert!(
        page.contains("data-testid=\"phase\">EMERGENCY")
            && page.contains("Emergency declared at")
            && page.contains("paged at 555-010-0900"),
        "{page}"
    );
    assert!(
        page.contains("Pump stop"),
        "the pump was stopped by the emergency"
    );
    // The page names no patient.
    let outbox = app.clinic.store().list_outbox(5).await.unwrap();
    let pager = outbox
        .iter()
        .find(|m| m.address == "5550100900" || m.address == "555-010-0900")
        .expect("a page to the physician");
    assert!(
        pager.body.contains("EMERGENCY")
            && !pager.body.contains("Ana")
            && !pager.body.contains("Emergency,"),
        "{}",
        pager.body
    );
    // The hand-off summary: allergies, medicines, the ketamine and the times; logged as a disclosure.
    let handoff = app
        .send(req("GET", &format!("/sessions/{session}/handoff")).token(&nurse))
        .await;
    assert_eq!(handoff.status, StatusCode::OK);
    for needle in [
        "latex (rash)",
        "naltrexone 50 mg daily",
        "0.8 mg/kg over 40 min",
        "Delivered by the pump",
        "EMERGENCY: unresponsive to voice",
        "42 CFR 2.51",
        "BP 150/90",
    ] {
        assert!(
            handoff.text.contains(needle),
            "{needle} missing from the hand-off"
        );
    }
    let disclosures = app
        .audit_events(AuditFilter {
            action: Some("disclosure.medical_emergency".into()),
            patient_id: Some(patient.parse().unwrap()),
            ..Default::default()
        })
        .await;
    assert_eq!(disclosures.len(), 1);
    assert!(
        disclosures[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("42 CFR 2.51")
    );
    assert!(
        handoff.text.contains("midazolam 2 mg IV"),
        "rescue medicines are in the timeline"
    );
    // The note is signed once; later text is an addendum; nothing is edited.
    assert_eq!(
        post(
            &app,
            &nurse,
            &session,
            "notes",
            "text=Emergence+reaction,+midazolam+given."
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(
            &app,
            &nurse,
            &session,
            "notes",
            "text=Physician+reviewed+at+10:20."
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let page = app
        .send(req("GET", &format!("/sessions/{session}")).token(&nurse))
        .await
        .text;
    assert!(
        page.contains("Note, signed by Test nurse (nurse): Emergence reaction, midazolam given.")
            && page
                .contains("Addendum, signed by Test nurse (nurse): Physician reviewed at 10:20."),
        "{page}"
    );
    // The floor board shows the chair in emergency.
    assert!(
        app.send(req("GET", "/floor?fragment=1").token(&nurse))
            .await
            .text
            .contains("data-phase=\"EMERGENCY\"")
    );
}
