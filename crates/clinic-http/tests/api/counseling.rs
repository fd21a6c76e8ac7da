//! Counseling sessions through the router on SQLite and PostgreSQL: the
//! counselor records a booked session on or after its day (every mistake
//! named), the booking and the planned event follow, clinicians read the
//! record in the chart, and a SUD counseling note opens for its author only —
//! every role tried, every attempt audited.

use axum::http::StatusCode;
use clinic_store::Store;
use clinic_store::records::AuditFilter;

use crate::helpers::{FORM, req, spawn_app_with};

crate::backend_tests!(a_counselor_records_sessions_and_keeps_a_note_apart, the_protocol_follow_up_contact_is_booked_and_recorded);

async fn a_counselor_records_sessions_and_keeps_a_note_apart<S: Store>(store: S) {
    let app = spawn_app_with(store, crate::scheduling::config()).await;
    crate::scheduling::set_up_site(&app, 1, serde_json::json!([])).await;
    let desk = app.login("frontdesk").await;
    let counselor = app.login("counselor").await;
    let (patient, _plan, plan) = crate::scheduling::signed_plan(&app, "Talk", "2030-03-04").await;
    // Two of the plan's sessions on weekdays, booked by the front desk.
    let sessions: Vec<String> = plan["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| (e["kind"] == "integration" || e["kind"] == "therapy") && !["2030-03-09", "2030-03-16", "2030-03-23", "2030-03-30"].contains(&e["date"].as_str().unwrap()))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .take(2)
        .collect();
    assert_eq!(sessions.len(), 2, "{plan}");
    let mut bookings = Vec::new();
    for event in &sessions {
        let res = app.send(req("POST", &format!("/api/v1/plan-events/{event}/booking")).token(&desk).json(serde_json::json!({"time": "10:00"}))).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        bookings.push(res.json());
    }
    let booking = bookings[0]["id"].as_str().unwrap().to_string();
    let starts_at: chrono::DateTime<chrono::Utc> = bookings[0]["starts_at"].as_str().unwrap().parse().unwrap();
    let form = |body: &str| format!("modality=integration&format=individual&{body}");
    let post = |b: &str, body: String| app.send(req("POST", &format!("/bookings/{b}/counseling")).token(&counselor).raw(&body, FORM));

    // Not before the session's day.
    let res = post(&booking, form("attendance=attended&minutes=50&progress_note=fine")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("it is recorded on or after that day"), "{}", res.text);
    app.clinic.set_clock(Some(starts_at + chrono::Duration::minutes(65)));
    // The day board offers it; the form is prefilled with the session's modality.
    let board = app.send(req("GET", &format!("/schedule?date={}", starts_at.date_naive())).token(&counselor)).await.text;
    assert!(board.contains(&format!("/bookings/{booking}/counseling")), "{board}");
    assert_eq!(app.send(req("GET", &format!("/bookings/{booking}/counseling")).token(&desk)).await.status, StatusCode::FORBIDDEN);
    // Every mistake named, nothing written.
    let res = post(&booking, form("attendance=attended&minutes=900")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("minutes: must be a whole number from 1 to 480") && res.text.contains("progress note: is required"), "{}", res.text);
    assert!(app.clinic.store().patient_counseling(patient.parse().unwrap()).await.unwrap().is_empty());
    // Attended, with a progress note, homework and the counselor's own note.
    let res = post(
        &booking,
        form("attendance=attended&minutes=55&progress_note=Integrated+the+infusion:+named+two+triggers.&homework=Urge+surfing+daily&counseling_note=Transference+worth+watching;+discuss+in+supervision."),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(res.header("location").unwrap(), format!("/patients/{patient}?tab=counseling"));
    let b = app.send(req("GET", &format!("/api/v1/bookings/{booking}")).token(&desk)).await.json();
    assert_eq!(b["status"], "attended");
    let again = post(&booking, form("attendance=attended&minutes=55&progress_note=again")).await;
    assert!(again.text.contains("this booking is attended; only a booked session is recorded"), "{}", again.text);
    // The second: a no-show, with what was tried.
    let second = bookings[1]["id"].as_str().unwrap().to_string();
    let second_at: chrono::DateTime<chrono::Utc> = bookings[1]["starts_at"].as_str().unwrap().parse().unwrap();
    app.clinic.set_clock(Some(second_at + chrono::Duration::minutes(30)));
    let res = post(&second, form("attendance=no_show")).await;
    assert!(res.text.contains("reason: is required"), "{}", res.text);
    assert_eq!(post(&second, form("attendance=no_show&reason=called+twice,+voicemail")).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.send(req("GET", &format!("/api/v1/bookings/{second}")).token(&desk)).await.json()["status"], "no_show");

    // The chart: clinicians read the progress notes; only the author sees a link to the counseling note.
    let record = app.clinic.store().patient_counseling(patient.parse().unwrap()).await.unwrap()[0].id;
    let note_link = format!("/counseling/{record}/note");
    for role in ["counselor", "physician", "nurse"] {
        let token = app.login(role).await;
        let tab = app.send(req("GET", &format!("/patients/{patient}?tab=counseling")).token(&token)).await.text;
        assert!(tab.contains("Integrated the infusion: named two triggers.") && tab.contains("1 of 2 recorded sessions attended"), "{role}: {tab}");
        assert_eq!(tab.contains(&note_link), role == "counselor", "{role}");
        assert!(!tab.contains("Transference"), "{role}: the counseling note is never in the chart");
    }
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=counseling")).token(&desk)).await.text;
    assert!(tab.contains("Counseling records are read by the clinicians") && !tab.contains("triggers"), "{tab}");
    // The counseling note: its author only, every role tried.
    for (role, status) in [
        ("counselor", StatusCode::OK),
        ("physician", StatusCode::NOT_FOUND),
        ("nurse", StatusCode::NOT_FOUND),
        ("frontdesk", StatusCode::FORBIDDEN),
        ("director", StatusCode::FORBIDDEN),
        ("admin", StatusCode::FORBIDDEN),
    ] {
        let token = app.login(role).await;
        let res = app.send(req("GET", &note_link).token(&token)).await;
        assert_eq!(res.status, status, "{role}");
        assert_eq!(res.text.contains("Transference worth watching"), role == "counselor", "{role}");
    }
    // Audited: the records, the reads of the tab, each attempt at the note (two refused).
    let events = app.audit_events(AuditFilter { action: Some("counseling_note.read".into()), ..Default::default() }).await;
    let mut outcomes: Vec<String> = events.iter().map(|e| e.outcome.clone()).collect();
    outcomes.sort();
    assert_eq!(outcomes, ["denied", "denied", "success"]);
    assert_eq!(app.audit_events(AuditFilter { action: Some("counseling.record".into()), ..Default::default() }).await.len(), 2);

    // The recovery plan: goals and a crisis plan required; each version keeps who changed what; the patient sees the current one.
    let save = |version: i64, body: &str| app.send(req("POST", &format!("/patients/{patient}/recovery-plan")).token(&counselor).raw(&format!("version={version}&{body}"), FORM));
    let res = save(0, "values=my+kids&goals=").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("goals: is required") && res.text.contains("crisis plan: is required"), "{}", res.text);
    let v1 = "values=my+kids&goals=90+days+without+a+drink&strategies=urge+surfing&triggers=payday+Fridays&warning_signs=skipping+meals&supports=Luis+555-010-0198&crisis_plan=call+Luis,+then+988";
    assert_eq!(save(0, v1).await.status, StatusCode::SEE_OTHER);
    let res = save(0, v1).await;
    assert!(res.text.contains("Someone else saved a change at the same moment"), "a stale version is refused: {}", res.text);
    assert!(save(1, v1).await.text.contains("nothing changed from the current version"));
    assert_eq!(save(1, &v1.replace("payday+Fridays", "payday+Fridays,+the+old+bar")).await.status, StatusCode::SEE_OTHER);
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=counseling")).token(&app.login("physician").await)).await.text;
    assert!(tab.contains("Version 2") && tab.contains("payday Fridays, the old bar") && tab.contains(": changed My triggers"), "{tab}");
    assert_eq!(app.clinic.store().recovery_plans(patient.parse().unwrap()).await.unwrap().len(), 2, "every version kept");
    // In the portal (a sign-in link on the consented channel), the current version only.
    let res = app.send(req("POST", &format!("/api/v1/patients/{patient}/portal-links")).token(&desk).json(serde_json::json!({ "purpose": "signin" }))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let opened = app.send(req("GET", &crate::screening::link_path(&app).await)).await;
    let portal = app.send(req("GET", "/portal").header("cookie", &crate::screening::cookie(&opened))).await.text;
    assert!(portal.contains("Your recovery plan") && portal.contains("payday Fridays, the old bar") && portal.contains("call Luis, then 988"), "{portal}");
    assert!(!portal.contains("Transference") && !portal.contains("Integrated the infusion"), "no counseling notes in the portal");
    // The patient's diary: a mistake named in plain words; an entry joins the outcome data, craving and note beside it.
    let form_token = portal.split("name=\"form_token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let cookie = crate::screening::cookie(&opened);
    let diary = |body: String| app.send(req("POST", "/portal/diary").header("cookie", &cookie).raw(&body, FORM));
    let bad = diary(format!("form_token={form_token}&date=2030-03-20&substance=alcohol&use=no&amount=2&craving=11")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("not a whole number from 0 to 10"), "{}", bad.text);
    assert_eq!(diary("form_token=forged&date=2030-03-20&substance=alcohol&use=no".to_string()).await.status, StatusCode::FORBIDDEN);
    let day = app.clinic.now().date_naive().to_string();
    let ok = diary(format!("form_token={form_token}&date={day}&substance=alcohol&use=no&craving=6&note=hard+evening,+went+for+a+run")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&counselor)).await.text;
    assert!(tab.contains("data-testid=\"diary\"") && tab.contains("hard evening, went for a run") && tab.contains(">6<"), "{tab}");
    assert!(tab.contains("data-testid=\"timeline\"") && tab.contains("<circle") && tab.contains("</circle>"), "the craving is drawn on the timeline (SVG elements closed, or the HTML parser nests the rest inside them): {tab}");
    // The patient's progress in plain words.
    let portal = app.send(req("GET", "/portal").header("cookie", &cookie)).await.text;
    assert!(portal.contains("Your progress") && portal.contains("you told us about 1 day for alcohol: <strong>1 without it</strong>"), "{portal}");

    // Aftercare: a referral made and followed; the discharge summary hands it on.
    let refer = |body: &str| app.send(req("POST", &format!("/patients/{patient}/referrals")).token(&counselor).raw(body, FORM));
    let bad = refer("kind=spa&to_whom=&status=maybe").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for says in ["status: must be one of: suggested, made, accepted, declined, completed", "kind: must be one of: detox, moud, mutual_help, psychiatry, other", "to whom: is required"] {
        assert!(bad.text.contains(says), "{says}: {}", bad.text);
    }
    assert_eq!(refer("kind=mutual_help&to_whom=Tuesday+SMART+Recovery+group&status=made&note=first+meeting+on+the+5th").await.status, StatusCode::SEE_OTHER);
    let referral = app.clinic.store().patient_referrals(patient.parse().unwrap()).await.unwrap()[0].referral_id;
    assert_eq!(refer(&format!("referral_id={referral}&status=accepted&note=went+twice")).await.status, StatusCode::SEE_OTHER);
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=counseling")).token(&counselor)).await.text;
    assert!(tab.contains("Tuesday SMART Recovery group") && tab.contains("data-status=\"accepted\""), "{tab}");
    let summary = app.send(req("GET", &format!("/patients/{patient}/discharge-summary")).token(&counselor)).await;
    assert_eq!(summary.status, StatusCode::OK);
    for says in ["Protocol: clinic-series-6", "mutual help → Tuesday SMART Recovery group: accepted", "Relapse: ", "Ketamine misuse confirmed by a physician: 0", "Follow-up contacts (the protocol's schedule)"] {
        assert!(summary.text.contains(says), "{says}: {}", summary.text);
    }
    assert!(!summary.text.contains("Transference"), "SUD counseling notes are never in the summary");
    assert_eq!(app.send(req("GET", &format!("/patients/{patient}/discharge-summary")).token(&desk)).await.status, StatusCode::FORBIDDEN);
    assert!(app.audit_events(AuditFilter { action: Some("counseling.read".into()), ..Default::default() }).await.len() >= 3);
}


/// Dakwar 2019's 6-month follow-up contact: booked from the plan, recorded
/// from the day board as reached, it completes the plan event, shows on the
/// discharge summary and is not counted as a counseling session.
async fn the_protocol_follow_up_contact_is_booked_and_recorded<S: Store>(store: S) {
    let app = spawn_app_with(store, crate::scheduling::config()).await;
    let site_id = crate::scheduling::set_up_site(&app, 1, serde_json::json!([])).await;
    let desk = app.login("frontdesk").await;
    let counselor = app.login("counselor").await;
    let doctor = app.login("physician").await;
    let body = serde_json::json!({
        "given_name": "Ana", "family_name": "Sixmonths", "date_of_birth": "1980-01-01", "substances": ["cocaine"],
        "phone": "555-010-0177", "contact_channels": ["sms"], "preferred_contact_channel": "sms", "confirm_not_duplicate": true,
    });
    let patient = app.create_patient(&doctor, body).await["id"].as_str().unwrap().to_string();
    let res = app.send(req("PATCH", &format!("/api/v1/patients/{patient}")).token(&doctor).header("if-match", "\"1\"").json(serde_json::json!({"status": "eligible"}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app.send(req("POST", &format!("/api/v1/patients/{patient}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": "cocaine-mbrp-dakwar2019", "start_date": "2030-03-04"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let plan_id = res.json()["id"].as_str().unwrap().to_string();
    let plan = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/sign")).token(&doctor).header("if-match", "\"1\"")).await.json();
    let follow_up = plan["events"].as_array().unwrap().iter().find(|e| e["kind"] == "follow_up").cloned().unwrap_or_else(|| panic!("no follow-up in {plan}"));
    let date = follow_up["date"].as_str().unwrap().to_string();
    // The counselor is on site that day; the front desk books a 20-minute call.
    let counselor_id = app.clinic.store().list_users().await.unwrap().into_iter().find(|u| u.username == "counselor").unwrap().id;
    let admin = app.login("admin").await;
    let hours = serde_json::json!({"user_id": counselor_id, "from": date, "to": date, "weekdays": ["mon", "tue", "wed", "thu", "fri"], "starts": "08:00", "ends": "18:00"});
    assert_eq!(app.send(req("POST", &format!("/api/v1/sites/{site_id}/staff-hours")).token(&admin).json(hours)).await.status, StatusCode::CREATED);
    let res = app
        .send(req("POST", &format!("/api/v1/plan-events/{}/booking", follow_up["id"].as_str().unwrap())).token(&desk).json(serde_json::json!({"time": "10:00", "minutes": "20", "clinician_id": counselor_id.to_string()})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let booking = res.json()["id"].as_str().unwrap().to_string();
    let starts_at: chrono::DateTime<chrono::Utc> = res.json()["starts_at"].as_str().unwrap().parse().unwrap();

    app.clinic.set_clock(Some(starts_at + chrono::Duration::minutes(30)));
    let board = app.send(req("GET", &format!("/schedule?date={date}")).token(&counselor)).await.text;
    assert!(board.contains(&format!("/bookings/{booking}/counseling")), "{board}");
    let form = app.send(req("GET", &format!("/bookings/{booking}/counseling")).token(&counselor)).await.text;
    assert!(form.contains("Follow-up contact"), "{form}");
    let res = app
        .send(req("POST", &format!("/bookings/{booking}/counseling")).token(&counselor).raw("modality=other&format=individual&attendance=attended&minutes=20&progress_note=Reached+by+phone:+no+use+since+the+last+visit", FORM))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(app.send(req("GET", &format!("/api/v1/bookings/{booking}")).token(&desk)).await.json()["status"], "attended");
    let plan = app.send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&doctor)).await.json();
    let event = plan["events"].as_array().unwrap().iter().find(|e| e["id"] == follow_up["id"]).cloned().unwrap();
    assert_eq!(event["status"], "completed", "{event}");
    let summary = app.send(req("GET", &format!("/patients/{patient}/discharge-summary")).token(&counselor)).await.text;
    assert!(summary.contains(&format!("{date}: completed")), "{summary}");
    // Not a counseling session: the Outcomes tab's attendance counts none.
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&counselor)).await.text;
    assert!(tab.contains("no session recorded"), "{tab}");
}
