//! Outcome data through the router on SQLite and PostgreSQL: a week of the
//! timeline follow-back (every mistake named; unknown days kept apart from
//! days without use in percent days abstinent), test results with an
//! expected positive (MOUD on the medication list) and an unexplained one
//! that the self-report contradicts, shown as a conflict.

use axum::http::StatusCode;
use clinic_store::Store;
use clinic_store::records::AuditFilter;

use crate::helpers::{FORM, req, spawn_app_with};

crate::backend_tests!(staff_enter_use_and_tests_and_the_chart_keeps_them_apart, the_misuse_watch_alerts_and_a_physician_decides);

async fn staff_enter_use_and_tests_and_the_chart_keeps_them_apart<S: Store>(store: S) {
    let app = spawn_app_with(store, crate::scheduling::config()).await;
    let doctor = app.login("physician").await;
    let counselor = app.login("counselor").await;
    let body = serde_json::json!({ "given_name": "Ana", "family_name": "Outcome", "date_of_birth": "1980-01-01", "sex_at_birth": "female",
        "substances": ["alcohol", "opioids"], "medications": [{"name": "buprenorphine-naloxone", "dose": "16 mg daily"}], "confirm_not_duplicate": true });
    let patient = app.create_patient(&doctor, body).await["id"].as_str().unwrap().to_string();
    // The clinic's clock on a fixed day, so the week and the calendar are known (the record was made
    // before it: MOUD on the medication list explains its positive whatever day it was collected).
    let today: chrono::NaiveDate = "2030-03-20".parse().unwrap();
    app.clinic.set_clock(Some(today.and_hms_opt(16, 0, 0).unwrap().and_utc()));

    let week = |start: &str, substance: &str, days: &[(&str, &str)]| {
        let mut body = format!("week_start={start}&substance={substance}");
        for (u, a) in days {
            body.push_str(&format!("&use={u}&amount={a}"));
        }
        body
    };
    // Mistakes, every one named: a week running past today, amounts on days without use, a substance not the patient's.
    let bad = app
        .send(req("POST", &format!("/patients/{patient}/tlfb")).token(&counselor).raw(&week("2030-03-18", "cocaine", &[("no", "2"); 7]), FORM))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for says in ["week start: the week 2030-03-18 to 2030-03-24 runs past today", "substance:", "days[1].amount:"] {
        assert!(bad.text.contains(says), "{says}: {}", bad.text);
    }
    // A week of alcohol: 4 days without use, 1 use day (3 drinks), 2 unknown.
    let days = [("no", ""), ("no", ""), ("yes", "3"), ("no", ""), ("unknown", ""), ("unknown", ""), ("no", "")];
    let res = app.send(req("POST", &format!("/patients/{patient}/tlfb")).token(&counselor).raw(&week("2030-03-13", "alcohol", &days), FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    // Test results of 2030-03-16 (a day reported without use): EtG positive, buprenorphine positive, fentanyl negative.
    let res = app
        .send(req("POST", &format!("/patients/{patient}/tests")).token(&counselor).raw("collected_at=2030-03-16T10:30&result_etg=positive&result_buprenorphine=positive&result_fentanyl=negative&result_ketamine=", FORM))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let res = app.send(req("POST", &format!("/patients/{patient}/tests")).token(&counselor).raw("collected_at=2030-03-21T10:30&result_etg=maybe", FORM)).await;
    assert!(res.text.contains("collected at: 2030-03-21 10:30:00 is after today") && res.text.contains("results[1].result: must be one of: positive, negative, invalid"), "{}", res.text);

    // A screen from before the record was made (entered late): the MOUD still explains it.
    let res = app.send(req("POST", &format!("/patients/{patient}/tests")).token(&counselor).raw("collected_at=2026-01-05T09:00&result_buprenorphine=positive", FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&doctor)).await.text;
    assert_eq!(tab.matches("<strong>buprenorphine</strong>: expected: on buprenorphine (MOUD, medication list)").count(), 2, "{tab}");
    // 4 of 5 days assessed were without use: 80 %; the two unknown days are left out, never counted as abstinent.
    assert!(tab.contains("data-testid=\"pda-alcohol\"") && tab.contains("80 %</strong> (4 of 5 days assessed; 2 unknown and 21 not recorded, left out)"), "{tab}");
    assert!(tab.contains("data-date=\"2030-03-20\""), "the calendar ends today");
    // Buprenorphine on the medication list explains its positive; EtG is unexplained and contradicts the report of no use.
    let cell = |analyte: &str| tab.split(&format!("data-analyte=\"{analyte}\"")).nth(1).unwrap().split("</").next().unwrap().to_string();
    let positive = |analyte: &str| tab.split(&format!("data-analyte=\"{analyte}\" data-result=\"positive\">")).nth(1).unwrap().split("</div>").next().unwrap().to_string();
    assert!(positive("buprenorphine").contains("expected: on buprenorphine (MOUD, medication list)"), "{}", positive("buprenorphine"));
    assert!(positive("etg").contains("unexplained: counts"), "{}", positive("etg"));
    assert!(tab.contains("data-analyte=\"fentanyl\" data-result=\"negative\""), "{}", cell("fentanyl"));
    assert!(tab.contains("data-testid=\"conflicts\"") && tab.contains("etg positive on 2030-03-16 while the self-report says no alcohol use"), "{tab}");
    // Entering the week again replaces its answers (the earlier rows are kept).
    let fixed = [("no", ""), ("no", ""), ("yes", "3"), ("no", ""), ("no", ""), ("no", ""), ("no", "")];
    app.send(req("POST", &format!("/patients/{patient}/tlfb")).token(&counselor).raw(&week("2030-03-13", "alcohol", &fixed), FORM)).await;
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&doctor)).await.text;
    assert!(tab.contains("(6 of 7 days assessed; 0 unknown and 21 not recorded, left out)"), "{tab}");
    assert_eq!(app.clinic.store().patient_use_reports(patient.parse().unwrap()).await.unwrap().len(), 14);
    // The front desk reads none of it; every entry and read is audited.
    let desk = app.login("frontdesk").await;
    assert_eq!(app.send(req("GET", &format!("/patients/{patient}/tlfb/new")).token(&desk)).await.status, StatusCode::FORBIDDEN);
    let desk_tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&desk)).await.text;
    assert!(desk_tab.contains("Outcome data is read by the clinicians") && !desk_tab.contains("etg"), "{desk_tab}");
    assert_eq!(app.audit_events(AuditFilter { action: Some("outcome.record".into()), ..Default::default() }).await.len(), 4);
    assert!(app.audit_events(AuditFilter { action: Some("outcome.read".into()), ..Default::default() }).await.len() >= 2);
}

/// A ketamine positive with no clinic infusion behind it and a request for a
/// higher dose each raise a flag and alert the physicians at once; only a
/// physician confirms or rejects, and only confirmed flags count.
async fn the_misuse_watch_alerts_and_a_physician_decides<S: Store>(store: S) {
    let app = spawn_app_with(store, crate::scheduling::config()).await;
    let doctor = app.login("physician").await;
    let counselor = app.login("counselor").await;
    let body = serde_json::json!({ "given_name": "Ana", "family_name": "Watch", "date_of_birth": "1980-01-01", "substances": ["alcohol"], "confirm_not_duplicate": true });
    let patient = app.create_patient(&doctor, body).await["id"].as_str().unwrap().to_string();
    app.clinic.set_clock(Some("2030-03-20T16:00:00Z".parse().unwrap()));
    let alerts = || async { app.clinic.store().list_alerts(&clinic_store::screening::AlertFilter { open_only: true, limit: 50, ..Default::default() }).await.unwrap() };
    assert!(alerts().await.is_empty());
    // A ketamine positive and nothing to explain it: flagged, and the physicians alerted.
    let res = app.send(req("POST", &format!("/patients/{patient}/tests")).token(&counselor).raw("collected_at=2030-03-18T09:00&result_ketamine=positive&result_etg=negative", FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let open = alerts().await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind.as_str(), "ketamine_misuse");
    assert!(open[0].message.contains("ketamine positive on 2030-03-18 that no clinic infusion explains"), "{}", open[0].message);
    // A request for a higher dose, recorded by the counselor: a second flag and alert; mistakes named.
    let signal = |body: &str| app.send(req("POST", &format!("/patients/{patient}/misuse-signals")).token(&counselor).raw(body, FORM));
    let res = signal("kind=more&reported_on=2030-04-01&note=").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    for says in ["kind: must be one of: ketamine_craving, extra_infusion, earlier_infusion, higher_dose", "reported on: 2030-04-01 is after today", "note: is required"] {
        assert!(res.text.contains(says), "{says}: {}", res.text);
    }
    assert_eq!(signal("kind=higher_dose&reported_on=2030-03-19&note=asked+whether+the+dose+could+be+doubled").await.status, StatusCode::SEE_OTHER);
    assert_eq!(alerts().await.len(), 2);
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&counselor)).await.text;
    assert!(tab.contains("2 flag(s); 0 confirmed as misuse by a physician."), "{tab}");
    assert_eq!(tab.matches("Awaiting a physician").count(), 2, "{tab}");
    assert!(tab.contains("data-signal=\"unexplained_ketamine_positive\"") && tab.contains("data-signal=\"higher_dose_request\""), "{tab}");
    assert!(!tab.contains("Confirm misuse"), "only a physician decides");
    // The physician confirms the test's flag with a note; the counselor cannot.
    let test_id = app.clinic.store().patient_lab_tests(patient.parse().unwrap()).await.unwrap().into_iter().find(|t| t.analyte == "ketamine").unwrap().id;
    let decide = |token: &str, body: String| app.send(req("POST", &format!("/patients/{patient}/misuse-decisions")).token(token).raw(&body, FORM));
    assert_eq!(decide(&counselor, format!("signal=unexplained_ketamine_positive&record_id={test_id}&verdict=confirmed&note=x")).await.status, StatusCode::FORBIDDEN);
    let res = decide(&doctor, format!("signal=unexplained_ketamine_positive&record_id={}&verdict=confirmed&note=used+a+friend%27s+supply", uuid::Uuid::now_v7())).await;
    assert!(res.text.contains("no such flag on this patient"), "{}", res.text);
    let res = decide(&doctor, format!("signal=unexplained_ketamine_positive&record_id={test_id}&verdict=confirmed&note=admitted+using+a+friend%27s+supply;+plan+reviewed")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&doctor)).await.text;
    assert!(tab.contains("2 flag(s); 1 confirmed as misuse by a physician."), "{tab}");
    assert_eq!(app.audit_events(AuditFilter { action: Some("misuse.decide".into()), ..Default::default() }).await.len(), 1);
    assert_eq!(app.audit_events(AuditFilter { action: Some("alert.raise".into()), ..Default::default() }).await.len(), 2);
}
