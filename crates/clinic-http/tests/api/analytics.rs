//! Program analytics through the router on SQLite and PostgreSQL: the
//! dashboard is for the director and the physicians, names no patient,
//! is audited, refuses a bad filter naming the field; confirming a relapse
//! changes the dashboard and the cohort at once; and the cohort CSV run
//! through the survival engine `ketaclinic stats survival` uses gives
//! exactly the dashboard's Kaplan–Meier table.

use axum::http::StatusCode;
use clinic_domain::outcome::relapse::{ClinicRelapseSettings, FollowUpEnd};
use clinic_domain::protocol::definition::IndexDate;
use clinic_store::Store;
use clinic_store::records::AuditFilter;

use crate::helpers::{FORM, TestApp, req, spawn_app_with};

crate::backend_tests!(the_dashboard_follows_a_confirmed_relapse_and_names_no_one);

const FAMILIES: [&str; 3] = ["Quillfeather", "Marchbanks", "Oddleigh"];

async fn planned<S: Store>(app: &TestApp<S>, family: &str) -> String {
    let doctor = app.login("physician").await;
    let body = serde_json::json!({ "given_name": "Ana", "family_name": family, "date_of_birth": "1980-01-01", "sex_at_birth": "female", "substances": ["cocaine"], "confirm_not_duplicate": true });
    let patient = app.create_patient(&doctor, body).await["id"].as_str().unwrap().to_string();
    let res = app.send(req("PATCH", &format!("/api/v1/patients/{patient}")).token(&doctor).header("if-match", "\"1\"").json(serde_json::json!({"status": "eligible"}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let plan = app.send(req("POST", &format!("/api/v1/patients/{patient}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": "cocaine-mbrp-dakwar2019", "start_date": "2030-03-04"}))).await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text);
    let plan_id = plan.json()["id"].as_str().unwrap().to_string();
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/sign")).token(&doctor).header("if-match", "\"1\"")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    patient
}

/// A week of the timeline follow-back from 2030-03-11; `yes` on the given weekday (0 = Monday).
async fn week<S: Store>(app: &TestApp<S>, token: &str, patient: &str, start: &str, use_on: Option<usize>) {
    let mut body = format!("week_start={start}&substance=cocaine");
    for i in 0..7 {
        let used = use_on == Some(i);
        body.push_str(&format!("&use={}&amount={}", if used { "yes" } else { "no" }, if used { "1" } else { "" }));
    }
    let res = app.send(req("POST", &format!("/patients/{patient}/tlfb")).token(token).raw(&body, FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
}

fn km_rows(csv: &str, arm: &str) -> Vec<Vec<String>> {
    csv.lines().skip(1).filter(|l| l.starts_with(&format!("{arm},"))).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

async fn the_dashboard_follows_a_confirmed_relapse_and_names_no_one<S: Store>(store: S) {
    let mut config = crate::scheduling::config();
    config.relapse = vec![(
        "cocaine-mbrp-dakwar2019".into(),
        ClinicRelapseSettings { index_date: Some(IndexDate::Start), follow_up_end: Some(FollowUpEnd::CourseEnd), set_by: "test clinic".into(), ..ClinicRelapseSettings::unset() },
    )];
    let app = spawn_app_with(store, config).await;
    let counselor = app.login("counselor").await;
    let mut patients = Vec::new();
    for f in FAMILIES {
        patients.push(planned(&app, f).await);
    }
    app.clinic.set_clock(Some("2030-03-25T20:00:00Z".parse().unwrap()));
    // Three weeks each; the first patient used on 2030-03-14 (day 10).
    for (k, p) in patients.iter().enumerate() {
        week(&app, &counselor, p, "2030-03-04", None).await;
        week(&app, &counselor, p, "2030-03-11", (k == 0).then_some(3)).await;
        week(&app, &counselor, p, "2030-03-18", None).await;
    }

    // Roles: the director and the physicians only, pages and downloads alike.
    for role in ["nurse", "counselor", "frontdesk", "admin"] {
        let token = app.login(role).await;
        for path in ["/analytics", "/analytics/cohort.csv", "/analytics/km.csv"] {
            let res = app.send(req("GET", path).token(&token)).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{role} {path}");
        }
    }
    let director = app.login("director").await;
    let page = app.send(req("GET", "/analytics").token(&director)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    // The undecided relapse keeps the patient out of the curve, and says so.
    assert!(page.text.contains("2 patients settled, 0 relapsed") && page.text.contains("1 awaiting a clinician's decision (left out)"), "{}", page.text);
    // Aggregates only: no name, no link to a chart.
    for f in FAMILIES {
        assert!(!page.text.contains(f), "the dashboard names {f}");
    }
    assert!(!page.text.contains("/patients/"), "the dashboard links to a chart");
    // The trial's ketamine arm is beside the clinic's figure; the last two weeks have not ended yet.
    assert!(page.text.contains("48.2 %") && page.text.contains("(n = 27)"), "{}", page.text);
    assert!(page.text.contains("has reached the end of the window yet, so there is nothing to compare"), "{}", page.text);
    // Audited as the director's read of analytics.
    let events = app.audit_events(AuditFilter { action: Some("analytics.read".into()), ..Default::default() }).await;
    assert!(events.iter().any(|e| e.actor == "director"), "{events:?}");

    // A bad filter names the field and the allowed values; nothing is shown.
    let res = app.send(req("GET", "/analytics?protocol=nonesuch&from=2030-13-01").token(&director)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert!(res.text.contains("protocol") && res.text.contains("cocaine-mbrp-dakwar2019") && res.text.contains("from"), "{}", res.text);

    // The counselor confirms the relapse: the dashboard and the cohort change at once.
    let res = app
        .send(req("POST", &format!("/patients/{}/relapse-decisions", patients[0])).token(&counselor).raw("event_date=2030-03-14&kind=relapse&substance=cocaine&verdict=confirmed&note=confirmed+in+session", FORM))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = app.send(req("GET", "/analytics?protocol=cocaine-mbrp-dakwar2019").token(&director)).await;
    assert!(page.text.contains("3 patients settled, 1 relapsed"), "{}", page.text);
    let cohort = app.send(req("GET", "/analytics/cohort.csv?protocol=cocaine-mbrp-dakwar2019").token(&director)).await;
    assert_eq!(cohort.status, StatusCode::OK);
    let lines: Vec<&str> = cohort.text.lines().collect();
    assert_eq!(lines[0], "patient_id,arm,days,relapsed");
    assert_eq!(lines.len(), 4, "{}", cohort.text);
    assert!(lines.iter().any(|l| l.ends_with(",cocaine-mbrp-dakwar2019,10,1")), "{}", cohort.text);
    for f in FAMILIES {
        assert!(!cohort.text.contains(f));
    }
    // Rows are numbered, not pseudonymous: nothing links them to a patient.
    assert!(lines[1..].iter().enumerate().all(|(i, l)| l.starts_with(&format!("row-{},", i + 1))), "{}", cohort.text);
    // The export CLI's function gives the same times (with pseudonyms).
    let (rows, _) = app.clinic.cohort(&clinic_domain::audit::Actor::system_cli(), Some("cocaine-mbrp-dakwar2019")).await.unwrap();
    let mut exported: Vec<(u32, bool)> = rows.iter().map(|r| (r.days, r.relapsed)).collect();
    exported.sort();
    let mut downloaded: Vec<(u32, bool)> = lines[1..].iter().map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        (f[2].parse().unwrap(), f[3] == "1")
    }).collect();
    downloaded.sort();
    assert_eq!(exported, downloaded);
    assert!(rows.iter().all(|r| !cohort.text.contains(&r.pseudonym)));

    // The survival engine of `ketaclinic stats survival`, run on the cohort CSV, gives the dashboard's table exactly.
    let km = app.send(req("GET", "/analytics/km.csv?protocol=cocaine-mbrp-dakwar2019").token(&director)).await;
    assert_eq!(km.status, StatusCode::OK);
    let parsed = clinic_survival::csv::read_cohort(std::io::Cursor::new(cohort.text.as_bytes()), &mut |_| {}).unwrap();
    let analysis = clinic_survival::analysis::analyse(&parsed, clinic_survival::analysis::ArmChoice { treatment: None, reference: None }).unwrap();
    let (arm, curve) = &analysis.km[0];
    assert_eq!(arm, "cocaine-mbrp-dakwar2019");
    let rows = km_rows(&km.text, arm);
    assert_eq!(rows.len(), curve.timeline.len(), "{}", km.text);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[1].parse::<f64>().unwrap(), curve.timeline[i]);
        assert_eq!(r[2].parse::<u64>().unwrap(), curve.at_risk[i]);
        assert_eq!(r[5].parse::<f64>().unwrap(), curve.survival[i], "survival at row {i}");
        assert_eq!(r[6].parse::<f64>().unwrap(), curve.ci_lower[i]);
        assert_eq!(r[7].parse::<f64>().unwrap(), curve.ci_upper[i]);
    }
    // Three followed, one relapse at day 10 of 3 at risk: S = 2/3 from day 10.
    let day10 = curve.timeline.iter().position(|&t| t == 10.0).unwrap();
    assert!((curve.survival[day10] - 2.0 / 3.0).abs() < 1e-12);

    // Every download answers with CSV.
    for file in ["outcomes.csv", "funnel.csv", "utilisation.csv", "safety.csv"] {
        let res = app.send(req("GET", &format!("/analytics/{file}")).token(&director)).await;
        assert_eq!(res.status, StatusCode::OK, "{file}");
        assert!(res.text.lines().count() >= 2, "{file}: {}", res.text);
    }
    let outcomes = app.send(req("GET", "/analytics/outcomes.csv?protocol=cocaine-mbrp-dakwar2019").token(&director)).await.text;
    let row: Vec<&str> = outcomes.lines().nth(1).unwrap().split(',').collect();
    assert_eq!((row[0], row[1]), ("cocaine-mbrp-dakwar2019", "3"), "{outcomes}");

    // After the course's last two weeks, all three abstinent: the reading sets the
    // clinic's interval beside the trial's arm and claims no effect.
    app.clinic.set_clock(Some("2030-04-09T20:00:00Z".parse().unwrap()));
    for p in &patients {
        week(&app, &counselor, p, "2030-03-25", None).await;
        week(&app, &counselor, p, "2030-04-01", None).await;
    }
    // A summary computed within 5 s of a change to the record is recomputed on
    // the next view whatever the day; let these writes age so the view below
    // leaves fresh summaries (checked the next day).
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let page = app.send(req("GET", "/analytics?protocol=cocaine-mbrp-dakwar2019").token(&director)).await.text;
    assert!(page.contains("100.0 % (3 of 3; 95 % CI 43.9–100.0 %)"), "{page}");
    assert!(page.contains("is consistent with the trial&#39;s ketamine arm (48.2 %, n = 27)") || page.contains("is consistent with the trial's ketamine arm (48.2 %, n = 27)"), "{page}");
    assert!(page.contains("cannot show that ketamine caused any difference"), "{page}");
    assert!(!page.to_lowercase().contains("hazard ratio"));

    // The next day, nothing changed: the dashboard answers from yesterday's
    // summaries and says so; the background refresh brings them up to date.
    app.clinic.set_clock(Some("2030-04-10T20:00:00Z".parse().unwrap()));
    let page = app.send(req("GET", "/analytics").token(&director)).await.text;
    assert!(page.contains("3 patient summaries were computed on an earlier day"), "{page}");
    assert_eq!(app.clinic.refresh_outcome_summaries().await.unwrap(), 3);
    let page = app.send(req("GET", "/analytics").token(&director)).await.text;
    assert!(!page.contains("computed on an earlier day"), "{page}");
}
