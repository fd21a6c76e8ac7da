//! The authorization matrix, written by hand and checked against the live
//! router: every route × every role, and signed out.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use clinic_domain::user::Role;
use clinic_service::DeploymentMode;
use clinic_store::Store;

use crate::helpers::{patient_body, req, spawn_app, TestApp};

#[derive(Debug, Clone, Copy)]
enum Allowed {
    Public,
    Roles(&'static [Role]),
}

use Role::*;

const EVERY_ROLE: &[Role] = &[Admin, Director, Physician, Nurse, Counselor, Frontdesk, Patient];
const STAFF: &[Role] = &[Admin, Director, Physician, Nurse, Counselor, Frontdesk];
const CHART_READERS: &[Role] = &[Physician, Nurse, Counselor, Frontdesk];
const REGISTRARS: &[Role] = &[Physician, Nurse, Frontdesk];
const CLINICIANS: &[Role] = &[Physician, Nurse, Counselor];

/// Written from DESIGN.md's users table and the least-privilege rule, not
/// generated from the code.
const MATRIX: &[(&str, &str, Allowed)] = &[
    ("GET", "/healthz", Allowed::Public),
    ("GET", "/", Allowed::Public),
    ("GET", "/static/app.css", Allowed::Public),
    ("GET", "/favicon.ico", Allowed::Public),
    ("GET", "/login", Allowed::Public),
    ("POST", "/login", Allowed::Public),
    ("POST", "/logout", Allowed::Roles(EVERY_ROLE)),
    ("GET", "/home", Allowed::Roles(STAFF)),
    ("GET", "/patients", Allowed::Roles(CHART_READERS)),
    ("GET", "/patients/new", Allowed::Roles(REGISTRARS)),
    ("POST", "/patients", Allowed::Roles(REGISTRARS)),
    ("GET", "/patients/{id}", Allowed::Roles(CHART_READERS)),
    ("GET", "/patients/{id}/edit", Allowed::Roles(REGISTRARS)),
    ("POST", "/patients/{id}/edit", Allowed::Roles(REGISTRARS)),
    ("GET", "/audit", Allowed::Roles(&[Admin])),
    ("POST", "/inquire", Allowed::Public),
    ("GET", "/inquire/thanks", Allowed::Public),
    ("GET", "/inquiries", Allowed::Roles(CHART_READERS)),
    ("GET", "/inquiries/new", Allowed::Roles(REGISTRARS)),
    ("POST", "/inquiries", Allowed::Roles(REGISTRARS)),
    ("GET", "/inquiries/{id}", Allowed::Roles(CHART_READERS)),
    ("POST", "/inquiries/{id}/calls", Allowed::Roles(REGISTRARS)),
    ("POST", "/inquiries/{id}/status", Allowed::Roles(REGISTRARS)),
    ("POST", "/inquiries/{id}/convert", Allowed::Roles(REGISTRARS)),
    ("POST", "/api/v1/auth/login", Allowed::Public),
    ("POST", "/api/v1/auth/logout", Allowed::Roles(EVERY_ROLE)),
    ("GET", "/api/v1/me", Allowed::Roles(EVERY_ROLE)),
    ("GET", "/api/v1/openapi.json", Allowed::Public),
    ("GET", "/api/v1/patients", Allowed::Roles(CHART_READERS)),
    ("POST", "/api/v1/patients", Allowed::Roles(REGISTRARS)),
    ("GET", "/api/v1/patients/{id}", Allowed::Roles(CHART_READERS)),
    ("PATCH", "/api/v1/patients/{id}", Allowed::Roles(REGISTRARS)),
    ("GET", "/api/v1/audit", Allowed::Roles(&[Admin])),
    ("GET", "/api/v1/users", Allowed::Roles(&[Admin])),
    ("POST", "/api/v1/inquiries", Allowed::Public),
    ("GET", "/api/v1/inquiries", Allowed::Roles(CHART_READERS)),
    ("GET", "/api/v1/inquiries/{id}", Allowed::Roles(CHART_READERS)),
    ("PATCH", "/api/v1/inquiries/{id}", Allowed::Roles(REGISTRARS)),
    ("POST", "/api/v1/inquiries/{id}/calls", Allowed::Roles(REGISTRARS)),
    ("POST", "/api/v1/inquiries/{id}/convert", Allowed::Roles(REGISTRARS)),
    // Screening: questionnaire results and safety alerts are for clinicians only
    // (not the front desk); sending a questionnaire link is for anyone who reads charts.
    ("GET", "/outbox", Allowed::Roles(&[Admin])),
    ("GET", "/patients/{id}/questionnaires/new", Allowed::Roles(CLINICIANS)),
    ("POST", "/patients/{id}/questionnaires", Allowed::Roles(CLINICIANS)),
    ("POST", "/patients/{id}/portal-links", Allowed::Roles(CHART_READERS)),
    ("GET", "/alerts", Allowed::Roles(CLINICIANS)),
    ("POST", "/alerts/{id}/close", Allowed::Roles(CLINICIANS)),
    ("GET", "/portal/l/{token}", Allowed::Public),
    ("GET", "/portal", Allowed::Public),
    ("POST", "/portal", Allowed::Public),
    ("POST", "/portal/consents", Allowed::Public),
    ("POST", "/portal/diary", Allowed::Public),
    ("GET", "/self-check", Allowed::Public),
    ("POST", "/self-check", Allowed::Public),
    ("GET", "/api/v1/instruments", Allowed::Roles(STAFF)),
    ("GET", "/api/v1/patients/{id}/questionnaire-responses", Allowed::Roles(CLINICIANS)),
    ("POST", "/api/v1/patients/{id}/questionnaire-responses", Allowed::Roles(CLINICIANS)),
    ("GET", "/api/v1/alerts", Allowed::Roles(CLINICIANS)),
    ("POST", "/api/v1/alerts/{id}/close", Allowed::Roles(CLINICIANS)),
    ("POST", "/api/v1/patients/{id}/portal-links", Allowed::Roles(CHART_READERS)),
    // Medical screening and eligibility: clinicians; the decision: physicians
    // only; consents are signed with any chart reader at the tablet.
    ("GET", "/patients/{id}/medical-screening/new", Allowed::Roles(CLINICIANS)),
    ("POST", "/patients/{id}/medical-screening", Allowed::Roles(CLINICIANS)),
    ("POST", "/patients/{id}/eligibility", Allowed::Roles(CLINICIANS)),
    ("POST", "/eligibility/{id}/sign", Allowed::Roles(&[Physician])),
    ("POST", "/patients/{id}/consents", Allowed::Roles(CHART_READERS)),
    ("POST", "/consents/{id}/revoke", Allowed::Roles(CHART_READERS)),
    ("POST", "/api/v1/patients/{id}/medical-screenings", Allowed::Roles(CLINICIANS)),
    ("GET", "/api/v1/patients/{id}/medical-screenings", Allowed::Roles(CLINICIANS)),
    ("GET", "/api/v1/consent-templates", Allowed::Roles(STAFF)),
    ("POST", "/api/v1/patients/{id}/consents", Allowed::Roles(CHART_READERS)),
    ("GET", "/api/v1/patients/{id}/consents", Allowed::Roles(CHART_READERS)),
    ("POST", "/api/v1/consents/{id}/revoke", Allowed::Roles(CHART_READERS)),
    ("POST", "/api/v1/patients/{id}/eligibility", Allowed::Roles(CLINICIANS)),
    ("GET", "/api/v1/patients/{id}/eligibility", Allowed::Roles(CLINICIANS)),
    ("POST", "/api/v1/eligibility/{id}/sign", Allowed::Roles(&[Physician])),
    // Plans: clinicians read them; only physicians make, change, sign or end them.
    ("GET", "/api/v1/protocols", Allowed::Roles(STAFF)),
    ("POST", "/api/v1/patients/{id}/plans", Allowed::Roles(&[Physician])),
    ("GET", "/api/v1/patients/{id}/plans", Allowed::Roles(CLINICIANS)),
    ("GET", "/api/v1/plans/{id}", Allowed::Roles(CLINICIANS)),
    ("POST", "/api/v1/plans/{id}/edits", Allowed::Roles(&[Physician])),
    ("POST", "/api/v1/plans/{id}/sign", Allowed::Roles(&[Physician])),
    ("POST", "/api/v1/plans/{id}/end", Allowed::Roles(&[Physician])),
    ("POST", "/patients/{id}/plans", Allowed::Roles(&[Physician])),
    ("POST", "/plans/{id}/edits", Allowed::Roles(&[Physician])),
    ("POST", "/plans/{id}/sign", Allowed::Roles(&[Physician])),
    ("POST", "/plans/{id}/end", Allowed::Roles(&[Physician])),
    // Scheduling: the front desk and clinicians book; an administrator sets up sites.
    ("GET", "/api/v1/sites/{id}/schedule", Allowed::Roles(CHART_READERS)),
    ("PUT", "/api/v1/sites/{id}/schedule", Allowed::Roles(&[Admin])),
    ("POST", "/api/v1/sites/{id}/staff-hours", Allowed::Roles(&[Admin])),
    ("POST", "/api/v1/plan-events/{id}/booking", Allowed::Roles(CHART_READERS)),
    ("POST", "/api/v1/plans/{id}/schedule", Allowed::Roles(CHART_READERS)),
    ("GET", "/api/v1/bookings/{id}", Allowed::Roles(CHART_READERS)),
    ("POST", "/api/v1/bookings/{id}/cancel", Allowed::Roles(CHART_READERS)),
    ("POST", "/api/v1/bookings/{id}/no-show", Allowed::Roles(CHART_READERS)),
    ("POST", "/api/v1/bookings/{id}/reschedule", Allowed::Roles(CHART_READERS)),
    ("GET", "/api/v1/day-board", Allowed::Roles(CHART_READERS)),
    ("GET", "/api/v1/patients/{id}/bookings", Allowed::Roles(CHART_READERS)),
    ("GET", "/schedule", Allowed::Roles(CHART_READERS)),
    ("GET", "/schedule/week", Allowed::Roles(CHART_READERS)),
    ("GET", "/calendar", Allowed::Roles(CHART_READERS)),
    ("POST", "/calendar-feeds", Allowed::Roles(CHART_READERS)),
    ("POST", "/calendar-feeds/revoke", Allowed::Roles(CHART_READERS)),
    ("GET", "/calendar/{token}", Allowed::Public),
    ("POST", "/plan-events/{id}/booking", Allowed::Roles(CHART_READERS)),
    ("POST", "/plans/{id}/schedule", Allowed::Roles(CHART_READERS)),
    ("POST", "/bookings/{id}/cancel", Allowed::Roles(CHART_READERS)),
    ("POST", "/bookings/{id}/no-show", Allowed::Roles(CHART_READERS)),
    ("POST", "/bookings/{id}/reschedule", Allowed::Roles(CHART_READERS)),
    // Orders: physicians sign and cancel; physicians and nurses read and double-check.
    ("POST", "/api/v1/plan-events/{id}/orders", Allowed::Roles(&[Physician])),
    ("GET", "/api/v1/orders/{id}", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/api/v1/orders/{id}/checks", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/api/v1/orders/{id}/cancel", Allowed::Roles(&[Physician])),
    ("GET", "/api/v1/patients/{id}/orders", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/plan-events/{id}/order", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/plan-events/{id}/order", Allowed::Roles(&[Physician])),
    ("GET", "/orders/{id}", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/orders/{id}/checks", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/orders/{id}/cancel", Allowed::Roles(&[Physician])),
    // The chair-side chart and the floor board: physicians and nurses.
    ("GET", "/bookings/{id}/check-in", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/bookings/{id}/sessions", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/sessions/{id}", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/checklist", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/pump", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/vitals", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/alert-responses", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/discharge", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/floor", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/emergency", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/sessions/{id}/handoff", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/ratings", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/medications", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/adverse-events", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/sessions/{id}/notes", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/static/floor.js", Allowed::Public),
    // Counseling: counselors and physicians record; clinicians read; a counseling note is its author's.
    ("GET", "/bookings/{id}/counseling", Allowed::Roles(&[Physician, Counselor])),
    ("POST", "/bookings/{id}/counseling", Allowed::Roles(&[Physician, Counselor])),
    ("GET", "/counseling/{id}/note", Allowed::Roles(&[Physician, Nurse, Counselor])),
    ("POST", "/patients/{id}/recovery-plan", Allowed::Roles(&[Physician, Counselor])),
    ("POST", "/patients/{id}/referrals", Allowed::Roles(&[Physician, Counselor])),
    ("GET", "/patients/{id}/discharge-summary", Allowed::Roles(&[Physician, Nurse, Counselor])),
    // Outcome data: clinicians.
    ("GET", "/patients/{id}/tlfb/new", Allowed::Roles(&[Physician, Nurse, Counselor])),
    ("POST", "/patients/{id}/tlfb", Allowed::Roles(&[Physician, Nurse, Counselor])),
    ("GET", "/patients/{id}/tests/new", Allowed::Roles(&[Physician, Nurse, Counselor])),
    ("POST", "/patients/{id}/tests", Allowed::Roles(&[Physician, Nurse, Counselor])),
    ("POST", "/patients/{id}/relapse-decisions", Allowed::Roles(&[Physician, Nurse, Counselor])),
    ("POST", "/patients/{id}/misuse-signals", Allowed::Roles(&[Physician, Nurse, Counselor])),
    ("POST", "/patients/{id}/misuse-decisions", Allowed::Roles(&[Physician])),
    // The controlled-substance ledger: physicians and nurses.
    ("POST", "/sessions/{id}/ledger", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/ledger", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/ledger/entries", Allowed::Roles(&[Physician, Nurse])),
    ("POST", "/ledger/discrepancies/{id}/close", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/ledger/reports/administration.csv", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/ledger/reports/inventory.csv", Allowed::Roles(&[Physician, Nurse])),
    ("GET", "/ledger/reports/loss.csv", Allowed::Roles(&[Physician, Nurse])),
    // Program analytics: aggregates for the director and the physicians (DESIGN.md users table).
    ("GET", "/analytics", Allowed::Roles(&[Director, Physician])),
    ("GET", "/analytics/outcomes.csv", Allowed::Roles(&[Director, Physician])),
    ("GET", "/analytics/km.csv", Allowed::Roles(&[Director, Physician])),
    ("GET", "/analytics/cohort.csv", Allowed::Roles(&[Director, Physician])),
    ("GET", "/analytics/funnel.csv", Allowed::Roles(&[Director, Physician])),
    ("GET", "/analytics/utilisation.csv", Allowed::Roles(&[Director, Physician])),
    ("GET", "/analytics/safety.csv", Allowed::Roles(&[Director, Physician])),
];

crate::backend_tests!(every_route_answers_as_the_matrix_says);

#[tokio::test]
async fn the_matrix_lists_exactly_the_routes_of_the_router() {
    let store = crate::helpers::fresh_sqlite().await;
    let app = spawn_app(store, DeploymentMode::Production).await;
    let in_router: BTreeSet<(String, String)> = app.routes.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    let in_matrix: BTreeSet<(String, String)> = MATRIX.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(in_router.len(), app.routes.len(), "a route is declared twice");
    let unlisted: Vec<_> = in_router.difference(&in_matrix).collect();
    let stale: Vec<_> = in_matrix.difference(&in_router).collect();
    assert!(unlisted.is_empty(), "routes missing from the authorization matrix: {unlisted:?}");
    assert!(stale.is_empty(), "matrix rows with no route: {stale:?}");
}

fn request_for<S: Store>(method: &str, path: &str, ids: &(String, String), _app: &TestApp<S>) -> crate::helpers::Req {
    let (patient_id, inquiry_id) = ids;
    let uri = if path.contains("/inquiries/") { path.replace("{id}", inquiry_id) } else { path.replace("{id}", patient_id) };
    let r = req(method, &uri);
    match (method, path) {
        ("POST", "/api/v1/inquiries") => r.json(crate::inquiries::inquiry_body("Matrix Person")),
        ("POST", "/api/v1/inquiries/{id}/calls") => r.json(serde_json::json!({ "outcome": "no_answer" })),
        ("POST", "/api/v1/inquiries/{id}/convert") => r.header("if-match", "\"999\"").json(serde_json::json!({ "date_of_birth": "1990-01-01" })),
        ("POST", "/api/v1/patients") => r.json(patient_body("Matrix", "Test", "1990-05-05")),
        ("PATCH", _) => r.header("if-match", "\"999\"").json(serde_json::json!({ "status": "eligible" })),
        ("POST", "/api/v1/patients/{id}/questionnaire-responses") => r.json(serde_json::json!({ "instrument": "gad-7", "answers": ["0", "0", "0", "0", "0", "0", "0"] })),
        ("POST", "/api/v1/alerts/{id}/close") => r.header("if-match", "\"1\"").json(serde_json::json!({ "response": "called" })),
        ("POST", "/api/v1/patients/{id}/portal-links") => r.json(serde_json::json!({ "purpose": "signin" })),
        ("POST", "/api/v1/patients/{id}/medical-screenings") => r.json(serde_json::json!({})),
        ("POST", "/api/v1/patients/{id}/consents") => r.json(serde_json::json!({ "kind": "treatment" })),
        ("POST", "/api/v1/consents/{id}/revoke") => r.header("if-match", "\"1\"").json(serde_json::json!({ "how": "in writing" })),
        ("POST", "/api/v1/eligibility/{id}/sign") => r.header("if-match", "\"1\"").json(serde_json::json!({ "decision": "eligible" })),
        ("POST", "/api/v1/patients/{id}/plans") => r.json(serde_json::json!({ "protocol_id": "clinic-series-6", "start_date": "2026-12-07" })),
        ("POST", "/api/v1/plans/{id}/edits") => r.header("if-match", "\"1\"").json(serde_json::json!({ "action": "skip", "reason": "matrix" })),
        ("POST", "/api/v1/plans/{id}/sign") => r.header("if-match", "\"1\""),
        ("POST", "/api/v1/plans/{id}/end") => r.header("if-match", "\"1\"").json(serde_json::json!({ "reason": "matrix" })),
        ("POST", "/api/v1/auth/login") => r.json(serde_json::json!({ "username": "nurse", "password": crate::helpers::PASSWORD })),
        ("POST", "/patients" | "/login" | "/inquire" | "/inquiries") => r.raw("given_name=", "application/x-www-form-urlencoded"),
        ("POST", _) if path.starts_with("/inquiries/") || path.ends_with("/edit") => r.raw("version=0", "application/x-www-form-urlencoded"),
        ("POST", _) if !path.starts_with("/api/") => r.raw("instrument=gad-7", "application/x-www-form-urlencoded"),
        _ => r,
    }
}

async fn every_route_answers_as_the_matrix_says<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let registrar = app.login("frontdesk").await;
    let patient = app.create_patient(&registrar, patient_body("Ana", "Matrix", "1980-01-01")).await;
    let patient_id = patient["id"].as_str().unwrap().to_string();
    let inquiry = app.send(req("POST", "/api/v1/inquiries").token(&registrar).json(crate::inquiries::inquiry_body("Queue Person"))).await.json();
    let ids = (patient_id, inquiry["id"].as_str().unwrap().to_string());
    let mut tokens = std::collections::HashMap::new();
    for role in Role::ALL {
        tokens.insert(role, app.login(role.as_str()).await);
    }
    let mut checked = 0;
    for (method, path, allowed) in MATRIX {
        let is_api = path.starts_with("/api/");
        // Signed out.
        let res = app.send(request_for(method, path, &ids, &app)).await;
        match allowed {
            Allowed::Public => assert!(!matches!(res.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "{method} {path} signed out: {}", res.status),
            Allowed::Roles(_) if is_api => assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{method} {path} signed out"),
            Allowed::Roles(_) => {
                assert_eq!(res.status, StatusCode::SEE_OTHER, "{method} {path} signed out");
                assert!(res.header("location").unwrap().starts_with("/login"), "{method} {path}");
            }
        }
        checked += 1;
        for role in Role::ALL {
            // Signing out ends the session, so those routes get a session of their own.
            let token = if path.ends_with("logout") { app.login(role.as_str()).await } else { tokens[&role].clone() };
            let res = app.send(request_for(method, path, &ids, &app).token(&token)).await;
            let may = match allowed {
                Allowed::Public => true,
                Allowed::Roles(roles) => roles.contains(&role),
            };
            if may {
                assert!(
                    !matches!(res.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
                    "{method} {path} as {}: expected allowed, got {} {}",
                    role.as_str(),
                    res.status,
                    res.text.chars().take(200).collect::<String>()
                );
            } else {
                assert_eq!(res.status, StatusCode::FORBIDDEN, "{method} {path} as {}: expected 403", role.as_str());
                if is_api {
                    assert_eq!(res.json()["code"], "forbidden");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, MATRIX.len() * 8);
    // Denials are audited.
    let denied = app.audit_events(clinic_store::records::AuditFilter { action: Some("auth.denied".into()), ..Default::default() }).await;
    let expected_denials: usize = MATRIX
        .iter()
        .map(|(_, _, allowed)| match allowed {
            Allowed::Public => 0,
            Allowed::Roles(roles) => Role::ALL.len() - roles.len(),
        })
        .sum();
    assert_eq!(denied.len(), expected_denials);
    assert!(denied.iter().all(|e| e.outcome == "denied" && e.actor_role.is_some()));
}
