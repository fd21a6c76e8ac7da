//! Every route that touches patient data writes its audit event.

use axum::http::StatusCode;
use clinic_domain::authz::Permission;
use clinic_http::routes::Access;
use clinic_service::DeploymentMode;
use clinic_store::records::AuditFilter;
use clinic_store::Store;

use crate::helpers::{patient_body, req, spawn_app};

/// The routes this test exercises, by (method, path).
const PATIENT_DATA_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/patients"),
    ("POST", "/api/v1/patients"),
    ("GET", "/api/v1/patients/{id}"),
    ("PATCH", "/api/v1/patients/{id}"),
    ("GET", "/patients"),
    ("GET", "/patients/{id}"),
    ("POST", "/patients"),
    ("GET", "/patients/new"),
    ("GET", "/patients/{id}/edit"),
    ("POST", "/patients/{id}/edit"),
    ("POST", "/api/v1/inquiries"),
    ("GET", "/api/v1/inquiries"),
    ("GET", "/api/v1/inquiries/{id}"),
    ("PATCH", "/api/v1/inquiries/{id}"),
    ("POST", "/api/v1/inquiries/{id}/calls"),
    ("POST", "/api/v1/inquiries/{id}/convert"),
    ("POST", "/inquire"),
    ("GET", "/inquiries"),
    ("GET", "/inquiries/new"),
    ("POST", "/inquiries"),
    ("GET", "/inquiries/{id}"),
    ("POST", "/inquiries/{id}/calls"),
    ("POST", "/inquiries/{id}/status"),
    ("POST", "/inquiries/{id}/convert"),
    // Screening, alerts, portal links, consents and eligibility: their audit
    // events are checked in screening.rs and eligibility.rs.
    ("GET", "/api/v1/patients/{id}/questionnaire-responses"),
    ("POST", "/api/v1/patients/{id}/questionnaire-responses"),
    ("GET", "/api/v1/alerts"),
    ("POST", "/api/v1/alerts/{id}/close"),
    ("POST", "/api/v1/patients/{id}/portal-links"),
    ("GET", "/patients/{id}/questionnaires/new"),
    ("POST", "/patients/{id}/questionnaires"),
    ("POST", "/patients/{id}/portal-links"),
    ("GET", "/alerts"),
    ("POST", "/alerts/{id}/close"),
    ("POST", "/api/v1/patients/{id}/medical-screenings"),
    ("GET", "/api/v1/patients/{id}/medical-screenings"),
    ("POST", "/api/v1/patients/{id}/consents"),
    ("GET", "/api/v1/patients/{id}/consents"),
    ("POST", "/api/v1/consents/{id}/revoke"),
    ("POST", "/api/v1/patients/{id}/eligibility"),
    ("GET", "/api/v1/patients/{id}/eligibility"),
    ("POST", "/api/v1/eligibility/{id}/sign"),
    // Plans: their audit events are checked in plans.rs.
    ("POST", "/api/v1/patients/{id}/plans"),
    ("GET", "/api/v1/patients/{id}/plans"),
    ("GET", "/api/v1/plans/{id}"),
    ("POST", "/api/v1/plans/{id}/edits"),
    ("POST", "/api/v1/plans/{id}/sign"),
    ("POST", "/api/v1/plans/{id}/end"),
    ("POST", "/patients/{id}/plans"),
    ("POST", "/plans/{id}/edits"),
    ("POST", "/plans/{id}/sign"),
    ("POST", "/plans/{id}/end"),
    // Scheduling: audit events checked in scheduling.rs.
    ("POST", "/api/v1/plan-events/{id}/booking"),
    ("POST", "/api/v1/plans/{id}/schedule"),
    ("GET", "/api/v1/bookings/{id}"),
    ("POST", "/api/v1/bookings/{id}/cancel"),
    ("POST", "/api/v1/bookings/{id}/no-show"),
    ("POST", "/api/v1/bookings/{id}/reschedule"),
    ("GET", "/api/v1/day-board"),
    ("GET", "/api/v1/patients/{id}/bookings"),
    ("GET", "/api/v1/sites/{id}/schedule"),
    ("GET", "/schedule"),
    ("GET", "/schedule/week"),
    ("GET", "/calendar"),
    ("POST", "/calendar-feeds"),
    ("POST", "/calendar-feeds/revoke"),
    ("POST", "/plan-events/{id}/booking"),
    ("POST", "/plans/{id}/schedule"),
    ("POST", "/bookings/{id}/cancel"),
    ("POST", "/bookings/{id}/no-show"),
    ("POST", "/bookings/{id}/reschedule"),
    // Orders: audit events checked in orders.rs.
    ("POST", "/api/v1/plan-events/{id}/orders"),
    ("GET", "/api/v1/orders/{id}"),
    ("POST", "/api/v1/orders/{id}/checks"),
    ("POST", "/api/v1/orders/{id}/cancel"),
    ("GET", "/api/v1/patients/{id}/orders"),
    ("GET", "/plan-events/{id}/order"),
    ("POST", "/plan-events/{id}/order"),
    ("GET", "/orders/{id}"),
    ("POST", "/orders/{id}/checks"),
    ("POST", "/orders/{id}/cancel"),
    // The chair-side chart: audit events checked in chair.rs.
    ("GET", "/bookings/{id}/check-in"),
    ("POST", "/bookings/{id}/sessions"),
    ("GET", "/sessions/{id}"),
    ("POST", "/sessions/{id}/checklist"),
    ("POST", "/sessions/{id}/pump"),
    ("POST", "/sessions/{id}/vitals"),
    ("POST", "/sessions/{id}/alert-responses"),
    ("POST", "/sessions/{id}/discharge"),
    ("GET", "/floor"),
    ("POST", "/sessions/{id}/emergency"),
    ("GET", "/sessions/{id}/handoff"),
    ("POST", "/sessions/{id}/ratings"),
    ("POST", "/sessions/{id}/medications"),
    ("POST", "/sessions/{id}/adverse-events"),
    ("POST", "/sessions/{id}/notes"),
    // Counseling: checked in counseling.rs.
    ("POST", "/bookings/{id}/counseling"),
    ("GET", "/counseling/{id}/note"),
    ("POST", "/patients/{id}/recovery-plan"),
    ("POST", "/patients/{id}/referrals"),
    ("GET", "/patients/{id}/discharge-summary"),
    // Outcome data: checked in outcomes.rs.
    ("GET", "/patients/{id}/tlfb/new"),
    ("POST", "/patients/{id}/tlfb"),
    ("GET", "/patients/{id}/tests/new"),
    ("POST", "/patients/{id}/tests"),
    ("POST", "/patients/{id}/relapse-decisions"),
    ("POST", "/patients/{id}/misuse-signals"),
    ("POST", "/patients/{id}/misuse-decisions"),
    // The ledger: entries, reads and reports audited; checked in ledger.rs.
    ("POST", "/sessions/{id}/ledger"),
    ("GET", "/ledger"),
    ("POST", "/ledger/entries"),
    ("GET", "/ledger/reports/administration.csv"),
    ("GET", "/patients/{id}/medical-screening/new"),
    ("POST", "/patients/{id}/medical-screening"),
    ("POST", "/patients/{id}/eligibility"),
    ("POST", "/eligibility/{id}/sign"),
    ("POST", "/patients/{id}/consents"),
    ("POST", "/consents/{id}/revoke"),
];

crate::backend_tests!(every_patient_data_route_writes_its_audit_event, the_audit_log_is_for_admins_and_filters);

#[tokio::test]
async fn every_patient_route_is_covered_here() {
    let app = spawn_app(crate::helpers::fresh_sqlite().await, DeploymentMode::Production).await;
    for route in &app.routes {
        let touches_patients = matches!(
            route.access,
            Access::Permission(
                Permission::PatientRead
                    | Permission::PatientCreate
                    | Permission::PatientUpdate
                    | Permission::InquiryRead
                    | Permission::InquiryManage
                    | Permission::ScreeningRead
                    | Permission::ScreeningRecord
                    | Permission::AlertRead
                    | Permission::AlertManage
                    | Permission::PortalInvite
                    | Permission::ConsentManage
                    | Permission::EligibilitySign
                    | Permission::PlanRead
                    | Permission::PlanManage
                    | Permission::ScheduleRead
                    | Permission::ScheduleManage
                    | Permission::OrderRead
                    | Permission::OrderSign
                    | Permission::OrderCheck
                    | Permission::InfusionChart
                    | Permission::DischargeOverride
            )
        ) || (route.path.contains("inquir") && route.method == "POST");
        if touches_patients {
            assert!(
                PATIENT_DATA_ROUTES.contains(&(route.method, route.path)),
                "{} {} touches patient data but has no audit check",
                route.method,
                route.path
            );
        }
    }
}

async fn every_patient_data_route_writes_its_audit_event<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let token = app.login("nurse").await;
    let user_id = app.send(req("GET", "/api/v1/me").token(&token)).await.json()["id"].as_str().unwrap().to_string();
    let latest = |action: &'static str| {
        let app = &app;
        async move {
            let events = app.audit_events(AuditFilter { action: Some(action.into()), ..Default::default() }).await;
            events.into_iter().next().unwrap_or_else(|| panic!("no {action} event"))
        }
    };

    let created = app.create_patient(&token, patient_body("Ana", "Audit", "1980-01-01")).await;
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let event = latest("patient.create").await;
    assert_eq!(event.patient_id, Some(id));
    assert_eq!(event.actor, "nurse");
    assert_eq!(event.actor_role.as_deref(), Some("nurse"));
    assert_eq!(event.actor_user_id.map(|u| u.to_string()), Some(user_id));
    assert_eq!(event.client_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(event.outcome, "success");

    let before = app.audit_events(AuditFilter { action: Some("patient.read".into()), ..Default::default() }).await.len();
    assert_eq!(app.send(req("GET", &format!("/api/v1/patients/{id}")).token(&token)).await.status, StatusCode::OK);
    assert_eq!(app.send(req("GET", &format!("/patients/{id}")).token(&token)).await.status, StatusCode::OK);
    let reads = app.audit_events(AuditFilter { action: Some("patient.read".into()), patient_id: Some(id), ..Default::default() }).await;
    assert_eq!(reads.len(), before + 2);

    assert_eq!(app.send(req("GET", "/api/v1/patients").token(&token)).await.status, StatusCode::OK);
    assert_eq!(latest("patient.list").await.patient_id, Some(id));
    let n_lists = app.audit_events(AuditFilter { action: Some("patient.list".into()), ..Default::default() }).await.len();
    assert_eq!(app.send(req("GET", "/patients?q=audit").token(&token)).await.status, StatusCode::OK);
    assert_eq!(app.audit_events(AuditFilter { action: Some("patient.list".into()), ..Default::default() }).await.len(), n_lists + 1);

    let res = app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&token).header("if-match", "\"1\"").json(serde_json::json!({"phone": "555 010 0123"}))).await;
    assert_eq!(res.status, StatusCode::OK);
    let update = latest("patient.update").await;
    assert_eq!(update.patient_id, Some(id));
    assert_eq!(update.detail.as_deref(), Some(r#"{"fields":["phone"],"from_version":1}"#));

    // The registration form writes patient.create, and a duplicate warning when refused.
    let form = "given_name=Bo&family_name=Form&date_of_birth=1991-02-03&sex_at_birth=male&substances=alcohol&substances=cocaine";
    let res = app.send(req("POST", "/patients").token(&token).raw(form, "application/x-www-form-urlencoded")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let new_id: uuid::Uuid = res.header("location").unwrap().trim_start_matches("/patients/").parse().unwrap();
    assert_eq!(latest("patient.create").await.patient_id, Some(new_id));
    let again = app.send(req("POST", "/patients").token(&token).raw(form, "application/x-www-form-urlencoded")).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text.contains("may already be registered"));
    let warning = latest("patient.duplicate_warning").await;
    assert_eq!(warning.outcome, "denied");
    assert!(warning.detail.unwrap().contains(&new_id.to_string()));
    // The edit form reads the record (audited as a read); saving it is an update.
    let reads_before = app.audit_events(AuditFilter { action: Some("patient.read".into()), patient_id: Some(new_id), ..Default::default() }).await.len();
    let edit = app.send(req("GET", &format!("/patients/{new_id}/edit")).token(&token)).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.text.contains("value=\"Form\""));
    let reads_after = app.audit_events(AuditFilter { action: Some("patient.read".into()), patient_id: Some(new_id), ..Default::default() }).await.len();
    assert_eq!(reads_after, reads_before + 1);
    let save = "version=1&given_name=Bo&family_name=Form&date_of_birth=1991-02-03&sex_at_birth=male&gender_identity=man&status=eligible&substances=alcohol\
                &diagnoses=F10.20&allergy_substance=latex&allergy_reaction=rash&allergy_substance=&allergy_reaction=&medication_name=&medication_dose=";
    let saved = app.send(req("POST", &format!("/patients/{new_id}/edit")).token(&token).raw(save, "application/x-www-form-urlencoded")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let update = latest("patient.update").await;
    assert_eq!(update.patient_id, Some(new_id));
    assert_eq!(update.detail.as_deref(), Some(r#"{"fields":["gender_identity","substances","status","diagnoses","allergies"],"from_version":1}"#));
    let chart = app.send(req("GET", &format!("/patients/{new_id}")).token(&token)).await;
    assert!(chart.text.contains("latex (rash)"), "allergies are in the chart header");
    assert!(chart.text.contains("F10.20"));
    // A second save from the same old version is a conflict: shown, not lost.
    let stale = app
        .send(req("POST", &format!("/patients/{new_id}/edit")).token(&token).raw(&save.replace("status=eligible", "status=discharged"), "application/x-www-form-urlencoded"))
        .await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stale.text.contains("Someone else changed this record"));
    assert!(stale.text.contains("value=\"discharged\" selected"), "what the user typed is kept");
    assert!(stale.text.contains("name=\"version\" value=\"2\""), "saving again goes over the current version");

    // The empty form shows no patient data, so it writes no patient event.
    assert_eq!(app.send(req("GET", "/patients/new").token(&token)).await.status, StatusCode::OK);

    // No event carries a patient's name or date of birth.
    for event in app.audit_events(AuditFilter::default()).await {
        let texts = [event.detail.unwrap_or_default(), event.resource_id.unwrap_or_default(), event.actor];
        for text in texts {
            for phi in ["Ana", "Audit", "Form", "1980-01-01", "1991-02-03"] {
                assert!(!text.contains(phi), "{phi} in an audit event: {text}");
            }
        }
    }
}

async fn the_audit_log_is_for_admins_and_filters<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let nurse = app.login("nurse").await;
    let created = app.create_patient(&nurse, patient_body("Ana", "Log", "1980-01-01")).await;
    let id = created["id"].as_str().unwrap();
    app.send(req("GET", &format!("/api/v1/patients/{id}")).token(&nurse)).await;
    let admin = app.login("admin").await;
    let res = app.send(req("GET", &format!("/api/v1/audit?patient_id={id}")).token(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let actions: Vec<String> = res.json()["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["patient.read", "patient.create"]);
    let res = app.send(req("GET", "/api/v1/audit?actor=nurse&action=auth.login&limit=1").token(&admin)).await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 1);
    let bad = app.send(req("GET", "/api/v1/audit?action=patient.eat&from=yesterday&patient_id=7").token(&admin)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.problem_fields(), ["patient_id", "action", "from"]);
    let page = app.send(req("GET", "/audit?actor=nurse").token(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("patient.create"));
    let csv = app.send(req("GET", "/audit?actor=nurse&format=csv").token(&admin)).await;
    assert_eq!(csv.header("content-type").as_deref(), Some("text/csv; charset=utf-8"));
    assert!(csv.text.starts_with("id,occurred_at,actor"));
    assert!(csv.text.lines().count() >= 3);
}
