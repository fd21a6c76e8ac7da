//! Outcome data through the router on SQLite and PostgreSQL: a week of the
//! timeline follow-back (every mistake named; unknown days kept apart from
//! days without use in percent days abstinent), test results with an
//! expected positive (MOUD on the medication list) and an unexplained one
//! that the self-report contradicts, shown as a conflict; the daily diary
//! reminder (once a day, only in treatment and only when the day before has
//! no entry, only on a consented channel, in neutral words, audited); the
//! craving instruments' trends on the Outcomes tab.

use axum::http::StatusCode;
use clinic_store::Store;
use clinic_store::records::AuditFilter;

use crate::helpers::{FORM, TestApp, req, spawn_app_with};

crate::backend_tests!(
    staff_enter_use_and_tests_and_the_chart_keeps_them_apart,
    the_misuse_watch_alerts_and_a_physician_decides,
    the_diary_reminder_goes_once_a_day_on_the_consented_channel,
    craving_instruments_trend_on_the_outcomes_tab
);

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

/// A patient in treatment: eligible, on the clinic's six-infusion series, the plan signed.
async fn in_treatment<S: Store>(app: &TestApp<S>, family: &str, contact: serde_json::Value) -> uuid::Uuid {
    let doctor = app.login("physician").await;
    let mut body = serde_json::json!({ "given_name": "Ana", "family_name": family, "date_of_birth": "1980-01-01", "substances": ["alcohol"], "confirm_not_duplicate": true });
    for (k, v) in contact.as_object().unwrap() {
        body[k] = v.clone();
    }
    let id = app.create_patient(&doctor, body).await["id"].as_str().unwrap().to_string();
    let res = app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&doctor).header("if-match", "\"1\"").json(serde_json::json!({"status": "eligible"}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let plan = app.send(req("POST", &format!("/api/v1/patients/{id}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": "clinic-series-6", "start_date": "2030-03-04"}))).await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text);
    let plan_id = plan.json()["id"].as_str().unwrap().to_string();
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/sign")).token(&doctor).header("if-match", "\"1\"")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    id.parse().unwrap()
}

/// The diary reminder goes from the clinic's time on, once per patient and
/// day, to patients in treatment whose day before has no diary entry, on the
/// consented channel only (audited as not sent without one), in neutral words.
async fn the_diary_reminder_goes_once_a_day_on_the_consented_channel<S: Store>(store: S) {
    let mut config = crate::scheduling::config();
    // The test clinic's setting (the reference gives no time of day).
    config.diary.reminder_time = chrono::NaiveTime::from_hms_opt(10, 0, 0);
    let app = spawn_app_with(store, config).await;
    let sms = serde_json::json!({ "phone": "555-010-0199", "contact_channels": ["sms"], "preferred_contact_channel": "sms" });
    let reminded = in_treatment(&app, "Remind", sms.clone()).await;
    let wrote = in_treatment(&app, "Wrote", sms.clone()).await;
    let silent = in_treatment(&app, "Silent", serde_json::json!({ "phone": "555-010-0177" })).await;
    // Registered with a consented channel but not in treatment: never reminded.
    let doctor = app.login("physician").await;
    let mut body = serde_json::json!({ "given_name": "Ana", "family_name": "Waiting", "date_of_birth": "1980-01-01", "substances": ["alcohol"], "confirm_not_duplicate": true });
    body["phone"] = "555-010-0155".into();
    body["contact_channels"] = serde_json::json!(["sms"]);
    let waiting: uuid::Uuid = app.create_patient(&doctor, body).await["id"].as_str().unwrap().parse().unwrap();
    // "Wrote" kept the diary yesterday (2030-03-19).
    let at: chrono::DateTime<chrono::Utc> = "2030-03-19T22:00:00Z".parse().unwrap();
    let report = clinic_store::outcomes::UseReportRow {
        id: uuid::Uuid::now_v7(),
        patient_id: wrote,
        day: "2030-03-19".into(),
        substance: "alcohol".into(),
        source: "diary".into(),
        answer: "no".into(),
        amount: None,
        recorded_by: None,
        recorded_at: at,
    };
    let diary = clinic_store::outcomes::DiaryRow { id: uuid::Uuid::now_v7(), patient_id: wrote, use_report_id: report.id, day: report.day.clone(), substance: "alcohol".into(), craving: Some(2), note: None, recorded_at: at };
    let event = clinic_domain::audit::AuditEvent::new(
        uuid::Uuid::now_v7(),
        at,
        &clinic_domain::audit::Actor::system_cli(),
        clinic_domain::audit::AuditAction::OutcomeRecord,
        clinic_domain::audit::AuditTarget::patient(wrote),
        clinic_domain::audit::Outcome::Success,
        None,
    );
    app.clinic.store().add_diary_entry(&report, &diary, &event).await.unwrap();

    // 09:00 in New York on 2030-03-20: before the clinic's time, nothing.
    let early: chrono::DateTime<chrono::Utc> = "2030-03-20T13:00:00Z".parse().unwrap();
    assert_eq!(app.clinic.queue_diary_reminders(early).await.unwrap(), 0);
    // 11:00: "Remind" gets a message, "Silent" none (no consented channel), "Wrote" and "Waiting" nothing at all.
    let late: chrono::DateTime<chrono::Utc> = "2030-03-20T15:00:00Z".parse().unwrap();
    app.clinic.set_clock(Some(late));
    assert_eq!(app.clinic.queue_diary_reminders(app.clinic.now()).await.unwrap(), 2);
    assert_eq!(app.clinic.queue_diary_reminders("2030-03-20T23:50:00Z".parse().unwrap()).await.unwrap(), 0, "once a day");
    let outbox = app.clinic.store().list_outbox(50).await.unwrap();
    let to = |p: uuid::Uuid| outbox.iter().filter(|m| m.patient_id == Some(p)).cloned().collect::<Vec<_>>();
    let sent = to(reminded);
    assert_eq!(sent.len(), 1, "{outbox:?}");
    assert_eq!((sent[0].channel.as_str(), sent[0].address.as_str()), ("sms", "5550100199"));
    assert!(sent[0].body.starts_with("Hello Ana, a reminder from Harbor Light Clinic (demo): yesterday's page of your diary"), "{}", sent[0].body);
    for word in ["ketamine", "infusion", "alcohol", "drink", "craving", "addiction", "treatment", "substance", "use"] {
        assert!(!sent[0].body.to_lowercase().contains(word), "{word} in {}", sent[0].body);
    }
    assert!(to(silent).is_empty() && to(wrote).is_empty() && to(waiting).is_empty(), "{outbox:?}");
    let kept = app.clinic.store().patient_diary_reminders(silent).await.unwrap();
    assert_eq!((kept.len(), kept[0].local_date.as_str(), kept[0].outbox_id), (1, "2030-03-20", None));
    assert_eq!(app.clinic.store().patient_diary_reminders(reminded).await.unwrap()[0].outbox_id, Some(sent[0].id));
    let audited = app.audit_events(AuditFilter { action: Some("diary.reminder".into()), ..Default::default() }).await;
    assert_eq!(audited.len(), 2);
    let detail = |p: uuid::Uuid| audited.iter().find(|e| e.patient_id == Some(p)).and_then(|e| e.detail.clone()).unwrap();
    assert!(detail(silent).contains("\"sent\":false") && detail(silent).contains("\"channel\":null"), "{}", detail(silent));
    assert!(detail(reminded).contains("\"sent\":true") && detail(reminded).contains("\"local_date\":\"2030-03-20\""), "{}", detail(reminded));
    assert!(audited.iter().all(|e| e.actor == "system:reminders"));
    // The next day: "Wrote" kept no entry for 2030-03-20, so all three in treatment are reminded, each once.
    let next: chrono::DateTime<chrono::Utc> = "2030-03-21T15:00:00Z".parse().unwrap();
    assert_eq!(app.clinic.queue_diary_reminders(next).await.unwrap(), 3);
    assert_eq!(app.clinic.queue_diary_reminders(next).await.unwrap(), 0);
    let outbox = app.clinic.store().list_outbox(50).await.unwrap();
    assert_eq!(outbox.iter().filter(|m| m.patient_id == Some(reminded)).count(), 2);
    assert_eq!(outbox.iter().filter(|m| m.patient_id == Some(wrote)).count(), 1);
    assert!(outbox.iter().all(|m| m.patient_id != Some(waiting)));
}

/// The craving instruments a patient answered are drawn over time on the
/// Outcomes tab, with the same points as a table; other instruments are not.
async fn craving_instruments_trend_on_the_outcomes_tab<S: Store>(store: S) {
    let app = spawn_app_with(store, crate::scheduling::config()).await;
    let doctor = app.login("physician").await;
    let body = serde_json::json!({ "given_name": "Ana", "family_name": "Trend", "date_of_birth": "1980-01-01", "sex_at_birth": "female", "substances": ["alcohol"], "confirm_not_duplicate": true });
    let patient = app.create_patient(&doctor, body).await["id"].as_str().unwrap().to_string();
    let uri = format!("/api/v1/patients/{patient}/questionnaire-responses");
    for answer in [
        serde_json::json!({ "instrument": "pacs", "answers": ["1", "2", "3", "4", "5"] }),
        serde_json::json!({ "instrument": "pacs", "answers": ["0", "1", "0", "1", "0"] }),
        serde_json::json!({ "instrument": "craving", "answers": ["7"], "substance": "alcohol" }),
        serde_json::json!({ "instrument": "gad-7", "answers": ["1", "1", "1", "1", "1", "1", "1"] }),
    ] {
        let res = app.send(req("POST", &uri).token(&doctor).json(answer)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let tab = app.send(req("GET", &format!("/patients/{patient}?tab=outcomes")).token(&doctor)).await.text;
    assert!(tab.contains("data-testid=\"instrument-trends\"") && tab.contains("<h3>Instrument trends</h3>"), "{tab}");
    let table = |key: &str| tab.split(&format!("data-testid=\"trend-{key}\"")).nth(1).unwrap_or_else(|| panic!("no trend-{key}: {tab}")).split("</table>").next().unwrap().to_string();
    // Both PACS answers, oldest first, on the instrument's 0–30 range; PACS has no validated cut-offs, so no band.
    let pacs = table("pacs");
    assert!(pacs.contains("Score (0–30)"), "{pacs}");
    assert_eq!(pacs.matches("<td data-label=\"Date\">").count(), 2, "{pacs}");
    let first = pacs.find("<td data-label=\"Score\">15</td>").expect("the first answer, 15");
    let second = pacs.find("<td data-label=\"Score\">2</td>").expect("the second answer, 2");
    assert!(first < second, "oldest first: {pacs}");
    assert_eq!(pacs.matches("none (no validated cut-offs)").count(), 2, "{pacs}");
    let chart = tab.split("data-testid=\"trend-chart-pacs\"").nth(1).unwrap().split("</svg>").next().unwrap();
    assert_eq!(chart.matches("<circle").count(), 2, "{chart}");
    // The craving rating is per substance: its own trend on 0–10.
    let craving = table("craving-alcohol");
    assert!(craving.contains("Score (0–10)") && craving.contains("<td data-label=\"Score\">7</td>"), "{craving}");
    assert!(!tab.contains("trend-gad-7"), "GAD-7 is not a craving instrument");
    assert!(!tab.contains("trend-ccq-brief"), "not answered, not drawn");
    // The tab's one read is audited with what it showed.
    let read = app.audit_events(AuditFilter { action: Some("outcome.read".into()), ..Default::default() }).await;
    assert!(read[0].detail.as_deref().unwrap_or("").contains("\"craving_questionnaires\":3"), "{:?}", read[0].detail);
}
