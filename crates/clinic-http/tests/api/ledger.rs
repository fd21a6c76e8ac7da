//! The controlled-substance ledger at the cabinet, on SQLite and PostgreSQL:
//! a receipt refused naming every bad field, counts that match and one that
//! does not (the discrepancy alert, the page to the physician without patient
//! data, the loss report draft, the loss recorded, the alert closed only with
//! a response), a correction, the inventory as CSV, and every write audited.
//! The chair-side part (withdrawal, administration from the pump record,
//! witnessed waste, the discharge hard stop) is in chair.rs.

use axum::http::StatusCode;
use clinic_store::Store;
use clinic_store::records::AuditFilter;

use crate::helpers::{FORM, PASSWORD, TestApp, req, spawn_app_with};

crate::backend_tests!(the_cabinet_counts_and_a_shortfall_raises_an_alert, the_demo_has_infusions_behind_it_and_a_balanced_ledger);

/// Receives a ketamine lot at the main site; returns its id.
pub(crate) async fn receive<S: Store>(app: &TestApp<S>, token: &str, mg_per_ml: &str, vial_ml: &str, vials: &str) -> String {
    let body = format!(
        "type=received&drug=ketamine&dosage_form=injection&mg_per_ml={mg_per_ml}&container_ml={vial_ml}&containers={vials}&lot_number=K{}&expires_on=2030-06-30&supplier=Example+Pharma,+DEA+RX0000000&invoice_number=INV-1",
        &uuid::Uuid::now_v7().simple().to_string()[24..]
    );
    let res = app.send(req("POST", "/ledger/entries").token(token).raw(&body, FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let site = app.clinic.main_site().await.unwrap().id;
    let entries = app.clinic.store().ledger_entries(site).await.unwrap();
    entries.iter().rev().find(|e| e.entry_type == "received").unwrap().lot_id.to_string()
}

fn witnessed(body: &str, who: &str) -> String {
    format!("{body}&witness_username={who}&witness_password={}", PASSWORD.replace('!', "%21"))
}

async fn the_cabinet_counts_and_a_shortfall_raises_an_alert<S: Store>(store: S) {
    let mut config = crate::scheduling::config();
    config.safety.on_call = Some(("Dr On Call".into(), "+15550000999".into()));
    let app = spawn_app_with(store, config).await;
    let nurse = app.login("nurse").await;
    let doctor = app.login("physician").await;
    let desk = app.login("frontdesk").await;
    let site = app.clinic.main_site().await.unwrap().id;

    // A receipt with mistakes: every one named, nothing written.
    let res = app
        .send(req("POST", "/ledger/entries").token(&nurse).raw("type=received&drug=heroin&mg_per_ml=ten&containers=0&expires_on=next+year", FORM))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    for says in ["drug: must be one of: ketamine, midazolam", "mg per ml: must be a decimal number", "container ml: is required", "expires on: must be a date YYYY-MM-DD"] {
        assert!(res.text.contains(says), "{says}: {}", res.text);
    }
    let res = app.send(req("POST", "/ledger/entries").token(&nurse).raw("type=gift", FORM)).await;
    assert!(res.text.contains("type: must be one of: received, withdrawn, administered, wasted, returned, destroyed, lost, count, correction"), "{}", res.text);
    assert!(app.clinic.store().ledger_entries(site).await.unwrap().is_empty());
    assert_eq!(app.send(req("GET", "/ledger").token(&desk)).await.status, StatusCode::FORBIDDEN);

    // Two vials of 100 mg/mL × 5 mL: 10 mL = 1000 mg on the shelf.
    let lot = receive(&app, &nurse, "100", "5", "2").await;
    let page = app.send(req("GET", "/ledger").token(&nurse)).await.text;
    assert!(page.contains("data-testid=\"site-balance-ketamine\"><strong>ketamine</strong>: 10 mL = 1000 mg on the shelf"), "{page}");

    // A count needs a witness; a matching count raises nothing.
    let count = format!("type=count&lot_id={lot}&counted_ml=10");
    let res = app.send(req("POST", "/ledger/entries").token(&nurse).raw(&count, FORM)).await;
    assert!(res.text.contains("witness username: is required"), "{}", res.text);
    let res = app.send(req("POST", "/ledger/entries").token(&nurse).raw(&witnessed(&count, "physician"), FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert!(app.clinic.store().list_discrepancies(None, false).await.unwrap().is_empty());
    // An estimate of an unopened Schedule III lot is refused (21 CFR 1304.11 allows it for opened vials only).
    let res = app.send(req("POST", "/ledger/entries").token(&nurse).raw(&witnessed(&format!("{count}&estimated=yes"), "physician"), FORM)).await;
    assert!(res.text.contains("an estimated measure is allowed only for opened Schedule III containers"), "{}", res.text);

    // A count 0.5 mL short: kept, and the physician in charge is alerted and paged (no patient data).
    let short = format!("type=count&lot_id={lot}&counted_ml=9.5");
    let res = app.send(req("POST", "/ledger/entries").token(&nurse).raw(&witnessed(&short, "physician"), FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let open = app.clinic.store().list_discrepancies(Some(site), true).await.unwrap();
    assert_eq!(open.len(), 1);
    let d = &open[0];
    assert!(d.message.contains("counted 9.5 mL (950 mg), 0.5 mL (50 mg) less than the ledger's 10 mL (1000 mg)"), "{}", d.message);
    assert_eq!(d.routed_to, "Dr On Call (+15550000999)");
    let outbox = app.clinic.store().list_outbox(10).await.unwrap();
    let paged = outbox.iter().find(|m| m.address == "+15550000999").expect("the page");
    assert!(paged.body.contains("count discrepancy") && paged.patient_id.is_none(), "{}", paged.body);
    let page = app.send(req("GET", "/ledger").token(&doctor)).await.text;
    assert!(page.contains("data-testid=\"discrepancy\""), "{page}");

    // The loss report draft for that count, as CSV.
    let res = app.send(req("GET", &format!("/ledger/reports/loss.csv?count={}", d.count_entry_id)).token(&doctor)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers["content-type"], "text/csv; charset=utf-8");
    assert!(res.text.starts_with("field,value") && res.text.contains("lost_ml,0.5") && res.text.contains("lost_mg,50"), "{}", res.text);

    // The loss recorded against the count (at most what it found missing), witnessed.
    let lost = |ml: &str| format!("type=lost&lot_id={lot}&count_id={}&container=2&volume_ml={ml}", d.count_entry_id);
    let res = app.send(req("POST", "/ledger/entries").token(&nurse).raw(&witnessed(&lost("0.6"), "physician"), FORM)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "more than the count found missing");
    let res = app.send(req("POST", "/ledger/entries").token(&nurse).raw(&witnessed(&lost("0.5"), "physician"), FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let page = app.send(req("GET", "/ledger").token(&nurse)).await.text;
    assert!(page.contains("ketamine</strong>: 9.5 mL = 950 mg on the shelf"), "{page}");

    // The alert closes only with the response taken.
    let close = |response: &str| format!("version={}&response={response}", d.version);
    let res = app.send(req("POST", &format!("/ledger/discrepancies/{}/close", d.id)).token(&doctor).raw(&close(""), FORM)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .send(req("POST", &format!("/ledger/discrepancies/{}/close", d.id)).token(&doctor).raw(&close("vial+2+cracked+in+the+cabinet,+recorded+lost;+no+theft+suspected"), FORM))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert!(app.clinic.store().list_discrepancies(None, true).await.unwrap().is_empty());

    // A correction reverses the loss whole; the wrong entry stays in the ledger.
    let entries = app.clinic.store().ledger_entries(site).await.unwrap();
    let loss = entries.iter().find(|e| e.entry_type == "lost").unwrap();
    let res = app.send(req("POST", "/ledger/entries").token(&nurse).raw(&format!("type=correction&lot_id={lot}&corrects={}&reason=", loss.id), FORM)).await;
    assert!(res.text.contains("reason: is required"), "{}", res.text);
    let res = app
        .send(req("POST", "/ledger/entries").token(&nurse).raw(&format!("type=correction&lot_id={lot}&corrects={}&reason=recorded+on+the+wrong+lot", loss.id), FORM))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let types: Vec<String> = app.clinic.store().ledger_entries(site).await.unwrap().into_iter().map(|e| e.entry_type).collect();
    assert_eq!(types, ["received", "count", "count", "lost", "correction"]);

    // The inventory as CSV: the lot with 10 mL on hand again.
    let res = app.send(req("GET", "/ledger/reports/inventory.csv").token(&nurse)).await;
    assert_eq!(res.status, StatusCode::OK);
    let row = res.text.lines().nth(1).unwrap_or_default().to_string();
    assert!(row.contains(",ketamine,III,") && row.contains(",10,1000,0,0"), "{}", res.text);
    let res = app.send(req("GET", "/ledger/reports/inventory.csv?as_of=yesterday").token(&nurse)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Audited: each entry written, each read of the ledger, each report.
    for (action, at_least) in [("ledger.record", 5), ("ledger.read", 3), ("ledger.report", 2), ("ledger.discrepancy_close", 1)] {
        let n = app.audit_events(AuditFilter { action: Some(action.into()), limit: 100, ..Default::default() }).await.len();
        assert!(n >= at_least, "{action}: {n}");
    }
}

/// The demo seed's infusion history: completed sessions with vital signs
/// and a discharge, one session still open on the floor board, and a ledger
/// whose every movement adds up, with one count that reconciles.
async fn the_demo_has_infusions_behind_it_and_a_balanced_ledger<S: Store>(store: S) {
    use clinic_service::{DeploymentMode, ServiceConfig};
    let clinic = clinic_service::Clinic::new(store, ServiceConfig::standard(DeploymentMode::Demo), clinic_service::data::DataFiles::embedded()).unwrap();
    clinic.seed_demo(&|_, _| {}).await.unwrap();
    let app = clinic_http::app(clinic.clone(), clinic_http::HttpConfig { force_secure_cookies: false });
    let app = TestApp { router: app.router, routes: app.routes, clinic: clinic.clone() };
    let res = app.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": "nurse", "password": "demo"}))).await;
    let nurse = res.json()["token"].as_str().unwrap().to_string();
    let site = clinic.main_site().await.unwrap().id;

    // Sessions: every one of the demo's patients' sessions, closed or open.
    let patients = clinic.store().list_patients(&clinic_store::records::PatientFilter { limit: 500, ..Default::default() }).await.unwrap().items;
    let mut discharged = 0;
    // The main site's (the past cohort was also treated at the second site, with its own ledger).
    let mut discharged_here = 0;
    let mut open = Vec::new();
    for p in &patients {
        for s in clinic.store().patient_sessions(p.id).await.unwrap() {
            let chart = clinic.fold_chart(s.clone()).await.unwrap();
            let vitals = chart.entries.iter().filter(|e| e.kind == "vitals").count();
            if s.status == "discharged" {
                discharged += 1;
                discharged_here += usize::from(s.site_id == site);
                assert!(vitals >= 5, "a completed session has its vital signs: {vitals}");
                assert!(chart.entries.iter().any(|e| e.kind == "note") && chart.delivered.is_some());
                assert!(clinic.session_ledger(&chart).await.unwrap().unaccounted().is_empty(), "every completed session is accounted for");
            } else {
                open.push(s);
            }
        }
    }
    // The four early patients' completed infusions and the past cohort's (about seventy).
    assert!(discharged >= 60 && discharged_here < discharged, "{discharged} completed sessions, {discharged_here} at the main site");
    assert_eq!(open.len(), 1, "one session on the floor board");
    let floor = app.send(req("GET", "/floor?fragment=1").token(&nurse)).await.text;
    assert!(floor.contains("Chair 1") && !floor.contains("No patient in a chair now."), "{floor}");

    // The ledger adds up: received = on the shelf + held by the open session + administered + wasted + destroyed.
    let entries = clinic.store().ledger_entries(site).await.unwrap();
    let ml = |t: &str| -> f64 {
        entries
            .iter()
            .filter(|e| e.entry_type == t)
            .map(|e| {
                let b: serde_json::Value = serde_json::from_str(&e.body).unwrap();
                let d = &b["detail"];
                match t {
                    "received" => d["container_ml"].as_str().unwrap().parse::<f64>().unwrap() * d["containers"].as_f64().unwrap(),
                    _ => d["volume_ml"].as_str().unwrap().parse::<f64>().unwrap(),
                }
            })
            .sum()
    };
    let principal = clinic.authenticate(&nurse, None).await.unwrap();
    let view = clinic.site_ledger(&principal, site).await.unwrap();
    let shelf: f64 = view.shelf().iter().map(|l| l.on_hand_ml.to_decimal().parse::<f64>().unwrap()).sum();
    let held: f64 = clinic.session_ledger(&clinic.fold_chart(open[0].clone()).await.unwrap()).await.unwrap().custody.iter().map(|c| c.held.ml.to_decimal().parse::<f64>().unwrap()).sum();
    assert!(held > 0.0, "the running session holds its dose");
    assert!((ml("withdrawn") - ml("administered") - ml("wasted") - held).abs() < 1e-9);
    assert!((ml("received") - shelf - held - ml("administered") - ml("wasted") - ml("destroyed")).abs() < 1e-9, "{shelf} {held}");
    assert_eq!(entries.iter().filter(|e| e.entry_type == "administered").count(), discharged_here);
    assert!(entries.iter().filter(|e| e.entry_type == "wasted").all(|e| e.witness_id.is_some() && e.witness_id != Some(e.actor_id)));
    // One count, reconciled: no discrepancy alert.
    assert_eq!(entries.iter().filter(|e| e.entry_type == "count").count(), 1);
    assert!(clinic.store().list_discrepancies(None, false).await.unwrap().is_empty());
    // The counseling sessions before now are recorded, one of them missed.
    let mut counseling = Vec::new();
    for p in &patients {
        counseling.extend(clinic.store().patient_counseling(p.id).await.unwrap());
    }
    assert!(counseling.len() >= 3, "{} counseling records", counseling.len());
    assert!(counseling.iter().any(|r| r.attendance == "no_show" && r.reason.is_some()));
    assert!(counseling.iter().filter(|r| r.attendance == "attended").all(|r| r.progress_note.is_some() && r.minutes.is_some()));
    // Recovery plans written in the integration sessions, revised once.
    let mut versions = Vec::new();
    for p in &patients {
        versions.push(clinic.store().recovery_plans(p.id).await.unwrap().len());
    }
    assert!(versions.contains(&2), "{versions:?}");
    // The misuse watch: one flag confirmed by a physician, its alert open for the physicians.
    let mut confirmed = 0;
    for p in &patients {
        confirmed += clinic.store().patient_misuse_decisions(p.id).await.unwrap().iter().filter(|d| d.verdict == "confirmed").count();
    }
    assert_eq!(confirmed, 1);
    let alerts = clinic.store().list_alerts(&clinic_store::screening::AlertFilter { open_only: true, limit: 100, ..Default::default() }).await.unwrap();
    assert!(alerts.iter().any(|a| a.kind.as_str() == "ketamine_misuse"));
    // The administration log names each administration's patient.
    let csv = app.send(req("GET", "/ledger/reports/administration.csv").token(&nurse)).await.text;
    assert_eq!(csv.lines().count(), 1 + discharged_here, "{csv}");
}
