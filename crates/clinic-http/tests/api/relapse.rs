//! Relapse through the router on SQLite and PostgreSQL: a protocol with a
//! structured definition (Dakwar 2019: first cocaine use or dropout) and the
//! clinic's index date proposes a relapse from the timeline follow-back; it
//! stays provisional (and out of the cohort) until a clinician confirms it
//! with a note; then the chart and the cohort export agree on the day. A
//! protocol the clinic has not set is refused naming the missing settings.

use axum::http::StatusCode;
use clinic_domain::outcome::relapse::{ClinicRelapseSettings, FollowUpEnd};
use clinic_domain::protocol::definition::IndexDate;
use clinic_store::Store;
use clinic_store::records::AuditFilter;

use crate::helpers::{FORM, TestApp, req, spawn_app_with};

crate::backend_tests!(a_relapse_is_proposed_confirmed_and_exported, a_plan_ended_before_the_course_ends_is_a_dropout);

async fn planned<S: Store>(app: &TestApp<S>, family: &str, substance: &str, protocol: &str) -> String {
    let doctor = app.login("physician").await;
    let body = serde_json::json!({ "given_name": "Ana", "family_name": family, "date_of_birth": "1980-01-01", "sex_at_birth": "female", "substances": [substance], "confirm_not_duplicate": true });
    let patient = app.create_patient(&doctor, body).await["id"].as_str().unwrap().to_string();
    let res = app.send(req("PATCH", &format!("/api/v1/patients/{patient}")).token(&doctor).header("if-match", "\"1\"").json(serde_json::json!({"status": "eligible"}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let plan = app.send(req("POST", &format!("/api/v1/patients/{patient}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": protocol, "start_date": "2030-03-04"}))).await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text);
    let plan_id = plan.json()["id"].as_str().unwrap().to_string();
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/sign")).token(&doctor).header("if-match", "\"1\"")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    patient
}

async fn a_relapse_is_proposed_confirmed_and_exported<S: Store>(store: S) {
    let mut config = crate::scheduling::config();
    // The clinic's choice where Dakwar 2019 leaves it open: count from the plan's day 0 to the course's end.
    config.relapse = vec![(
        "cocaine-mbrp-dakwar2019".into(),
        ClinicRelapseSettings { index_date: Some(IndexDate::Start), follow_up_end: Some(FollowUpEnd::CourseEnd), set_by: "test clinic".into(), ..ClinicRelapseSettings::unset() },
    )];
    let app = spawn_app_with(store, config).await;
    let counselor = app.login("counselor").await;
    let patient = planned(&app, "Relapse", "cocaine", "cocaine-mbrp-dakwar2019").await;
    let unset = planned(&app, "Unset", "alcohol", "alcohol-kare-grabski2022").await;
    app.clinic.set_clock(Some("2030-03-25T20:00:00Z".parse().unwrap()));

    // No use reported yet: nothing proposed, followed to the last contact.
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&counselor)).await.text;
    assert!(tab.contains("No lapse, relapse or dropout proposed."), "{tab}");
    // Cocaine on 2030-03-14, day 10: Dakwar 2019's first use is a relapse.
    let mut week = "week_start=2030-03-11&substance=cocaine".to_string();
    for (i, used) in ["no", "no", "no", "yes", "no", "no", "no"].iter().enumerate() {
        week.push_str(&format!("&use={used}&amount={}", if i == 3 { "1" } else { "" }));
    }
    assert_eq!(app.send(req("POST", &format!("/patients/{patient}/tlfb")).token(&counselor).raw(&week, FORM)).await.status, StatusCode::SEE_OTHER);
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&counselor)).await.text;
    assert!(tab.contains("data-kind=\"relapse\" data-date=\"2030-03-14\"") && tab.contains("(day 10)"), "{tab}");
    assert!(tab.contains("1 proposal(s) await a decision: provisional"), "{tab}");
    let principal = clinic_domain::audit::Actor::system_cli();
    let (rows, excluded) = app.clinic.cohort(&principal, None).await.unwrap();
    assert!(rows.is_empty(), "an undecided relapse keeps the patient out of the cohort");
    assert_eq!(excluded.len(), 2);
    assert!(excluded.iter().any(|e| e.arm == "alcohol-kare-grabski2022" && e.reason.contains("needs clinic setting")), "{excluded:?}");
    assert!(excluded.iter().any(|e| e.arm == "cocaine-mbrp-dakwar2019" && e.reason.contains("await a clinician's decision")), "{excluded:?}");

    // A decision needs a note; a proposal that does not exist is refused.
    let decide = |body: &str| app.send(req("POST", &format!("/patients/{patient}/relapse-decisions")).token(&counselor).raw(body, FORM));
    let res = decide("event_date=2030-03-14&kind=relapse&substance=cocaine&verdict=confirmed&note=").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text.contains("note"), "{}", res.text);
    let res = decide("event_date=2030-03-15&kind=relapse&substance=cocaine&verdict=confirmed&note=reported+in+session").await;
    assert!(res.text.contains("no relapse is proposed on 2030-03-15"), "{}", res.text);
    let res = decide("event_date=2030-03-14&kind=relapse&substance=cocaine&verdict=confirmed&note=confirmed+with+the+patient+in+session").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&counselor)).await.text;
    assert!(tab.contains("relapse confirmed on day 10") && tab.contains("confirmed: confirmed with the patient in session"), "{tab}");
    // The export agrees: one row, day 10, relapsed; pseudonymous.
    let (rows, _) = app.clinic.cohort(&principal, Some("cocaine-mbrp-dakwar2019")).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].arm.as_str(), rows[0].days, rows[0].relapsed), ("cocaine-mbrp-dakwar2019", 10, true));
    let csv = clinic_service::relapse::cohort_csv(&rows);
    assert_eq!(csv, format!("patient_id,arm,days,relapsed\n{},cocaine-mbrp-dakwar2019,10,1\n", rows[0].pseudonym));
    assert!(!csv.contains("Relapse") && !csv.contains(&patient), "no names, no internal ids");
    // The protocol's own outcome window (Dakwar 2019: the last two weeks of the course) has just begun and
    // nothing is recorded in it: undetermined, never abstinent; attendance over the course so far, with definitions.
    assert!(tab.contains("end-of-study abstinence — cocaine: abstinence — in progress, to 2030-04-07") && tab.contains("undetermined (14 unknown or unrecorded days"), "{tab}");
    assert!(tab.contains("Counseling attendance") && tab.contains("Dakwar E et al., Am J Psychiatry 2019"), "{tab}");
    assert!(tab.contains("Retention") && tab.contains("course runs to 2030-04-07; last contact 2030-03-25"), "{tab}");
    // The protocol the clinic has not set says what is missing.
    let tab = app.send(req("GET", &format!("/patients/{unset}?tab=outcomes")).token(&counselor)).await.text;
    assert!(tab.contains("data-testid=\"relapse-unset\"") && tab.contains("needs clinic setting"), "{tab}");
    assert_eq!(app.audit_events(AuditFilter { action: Some("relapse.decide".into()), ..Default::default() }).await.len(), 1);
    assert_eq!(app.audit_events(AuditFilter { action: Some("export.cohort".into()), ..Default::default() }).await.len(), 2);
}

/// Dakwar 2019 counts dropout as relapse: a plan ended before the course's
/// last day, with no contact since, proposes a dropout on the last contact and
/// the patient is not retained; a plan ended after the course is a completion.
async fn a_plan_ended_before_the_course_ends_is_a_dropout<S: Store>(store: S) {
    let mut config = crate::scheduling::config();
    config.relapse = vec![(
        "cocaine-mbrp-dakwar2019".into(),
        ClinicRelapseSettings { index_date: Some(IndexDate::Start), follow_up_end: Some(FollowUpEnd::CourseEnd), set_by: "test clinic".into(), ..ClinicRelapseSettings::unset() },
    )];
    let app = spawn_app_with(store, config).await;
    let counselor = app.login("counselor").await;
    let doctor = app.login("physician").await;
    let dropped = planned(&app, "Leftearly", "cocaine", "cocaine-mbrp-dakwar2019").await;
    let completed = planned(&app, "Stayed", "cocaine", "cocaine-mbrp-dakwar2019").await;
    let end = |patient: String, at: &'static str| {
        let app = &app;
        let doctor = doctor.clone();
        async move {
            app.clinic.set_clock(Some(at.parse().unwrap()));
            let plans = app.send(req("GET", &format!("/api/v1/patients/{patient}/plans")).token(&doctor)).await.json();
            let plan = &plans["items"][0];
            let res = app
                .send(req("POST", &format!("/api/v1/plans/{}/end", plan["id"].as_str().unwrap())).token(&doctor).header("if-match", &format!("\"{}\"", plan["version"])).json(serde_json::json!({"reason": "course over or patient gone"})))
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        }
    };
    // Both report no use for the first week; one stops coming and the plan is ended on day 20.
    app.clinic.set_clock(Some("2030-03-12T12:00:00Z".parse().unwrap()));
    for p in [&dropped, &completed] {
        let mut week = "week_start=2030-03-04&substance=cocaine".to_string();
        for _ in 0..7 {
            week.push_str("&use=no&amount=");
        }
        assert_eq!(app.send(req("POST", &format!("/patients/{p}/tlfb")).token(&counselor).raw(&week, FORM)).await.status, StatusCode::SEE_OTHER);
    }
    end(dropped.clone(), "2030-03-24T12:00:00Z").await;
    end(completed.clone(), "2030-04-08T12:00:00Z").await;
    let tab = app.send(req("GET", &format!("/patients/{dropped}?tab=outcomes")).token(&counselor)).await.text;
    assert!(tab.contains("data-kind=\"dropout\""), "a dropout is proposed: {tab}");
    assert!(tab.contains("not retained (last contact 2030-03-12)"), "{tab}");
    let tab = app.send(req("GET", &format!("/patients/{completed}?tab=outcomes")).token(&counselor)).await.text;
    assert!(!tab.contains("data-kind=\"dropout\""), "a completed course is no dropout: {tab}");
    assert!(tab.contains("retained (last contact"), "{tab}");
}
