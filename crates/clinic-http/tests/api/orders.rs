//! Infusion orders through the router on SQLite and PostgreSQL: the exact
//! arithmetic per phase, refusals naming the field, warnings acknowledged,
//! one live order per infusion, and the independent double check that blocks
//! the start until a second clinician's entries match.

use axum::http::StatusCode;
use clinic_service::DeploymentMode;
use clinic_store::records::AuditFilter;
use clinic_store::Store;

use crate::helpers::{req, spawn_app, TestApp, FORM};

crate::backend_tests!(an_order_is_signed_checked_and_verified, order_pages_hide_the_order_from_the_checker);

/// An eligible alcohol patient with a signed Dakwar 2020 plan; returns (patient, infusion event id).
async fn planned_infusion<S: Store>(app: &TestApp<S>, family: &str) -> (String, String) {
    let doctor = app.login("physician").await;
    let body = serde_json::json!({ "given_name": "Ana", "family_name": family, "date_of_birth": "1980-01-01", "substances": ["alcohol"], "confirm_not_duplicate": true });
    let id = app.create_patient(&doctor, body).await["id"].as_str().unwrap().to_string();
    app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&doctor).header("if-match", "\"1\"").json(serde_json::json!({"status": "eligible"}))).await;
    let plan = app.send(req("POST", &format!("/api/v1/patients/{id}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": "alcohol-met-dakwar2020", "start_date": "2030-03-04"}))).await.json();
    let plan_id = plan["id"].as_str().unwrap();
    let event = plan["events"].as_array().unwrap().iter().find(|e| e["kind"] == "infusion").unwrap()["id"].as_str().unwrap().to_string();
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/sign")).token(&doctor).header("if-match", "\"1\"")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    (id, event)
}

fn order_body(weight: &str) -> serde_json::Value {
    serde_json::json!({
        "weight_kg": weight, "weight_measured_on": "2026-11-20",
        "phases": [{"dose_mg_per_kg": "0.11", "minutes": 2}, {"dose_mg_per_kg": "0.6", "minutes": 50}],
        "stock_mg_per_ml": 10, "bag_ml": 100,
    })
}

async fn an_order_is_signed_checked_and_verified<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let doctor = app.login("physician").await;
    let nurse = app.login("nurse").await;
    let (patient, event) = planned_infusion(&app, "Order").await;
    let orders = format!("/api/v1/plan-events/{event}/orders");
    // Refusals name the field.
    let mut bad = order_body("80");
    bad["stock_mg_per_ml"] = serde_json::json!(100);
    bad["bag_ml"] = serde_json::Value::Null;
    bad["weight_measured_on"] = serde_json::json!("2999-01-01");
    let res = app.send(req("POST", &orders).token(&doctor).json(bad)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(res.problem_fields(), ["weight_measured_on", "stock_mg_per_ml"]);
    let res = app.send(req("POST", &orders).token(&doctor).json(order_body("300"))).await;
    assert_eq!(res.problem_fields(), ["weight_kg"], "outside the plausibility limits without a reason");
    assert_eq!(app.send(req("POST", &orders).token(&nurse).json(order_body("80"))).await.status, StatusCode::FORBIDDEN);

    let res = app.send(req("POST", &orders).token(&doctor).json(order_body("80"))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let order = res.json();
    assert_eq!((order["status"].as_str(), order["ready"].as_bool()), (Some("awaiting_check"), Some(false)));
    assert_eq!(order["dose_mg"]["value"], "56.8");
    assert_eq!(order["total_volume_ml"]["value"], "105.68");
    assert_eq!(order["phases"][0]["mg_per_min"]["value"], "4.4");
    assert_eq!(order["phases"][1]["rate_ml_per_h"], serde_json::json!({"value": "107.168450704", "exact": false}));
    assert!(order["rounding_note"].as_str().unwrap().contains("needs clinic setting"));
    let order_id = order["id"].as_str().unwrap().to_string();
    let res = app.send(req("POST", &orders).token(&doctor).json(order_body("80"))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "one live order per infusion");

    // The double check: not by the one who ordered; a mismatch blocks; a match clears.
    let checks = format!("/api/v1/orders/{order_id}/checks");
    let res = app.send(req("POST", &checks).token(&doctor).header("if-match", "\"1\"").json(serde_json::json!({"weight_kg": "80", "phases": ["0.11", "0.6"]}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.text.contains("second clinician"));
    let res = app.send(req("POST", &checks).token(&nurse).header("if-match", "\"1\"").json(serde_json::json!({"weight_kg": "8", "phases": ["0.11", "0.06"]}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let failed = res.json();
    assert_eq!((failed["status"].as_str(), failed["ready"].as_bool()), (Some("check_failed"), Some(false)));
    assert_eq!(failed["checks"][0]["differences"], serde_json::json!(["weight: entered 8 kg, which does not match the order", "phase 2: entered 0.06 mg/kg, which does not match the order"]));
    assert!(app.clinic.ready_order(event.parse().unwrap(), patient.parse().unwrap()).await.unwrap_err().contains("did not match"));
    let res = app.send(req("POST", &checks).token(&nurse).header("if-match", "\"1\"").json(serde_json::json!({"weight_kg": "80", "phases": ["0.11", "0.6"]}))).await;
    assert_eq!(res.status, StatusCode::PRECONDITION_FAILED, "a check on an old version is refused");
    let res = app.send(req("POST", &checks).token(&nurse).header("if-match", "\"2\"").json(serde_json::json!({"weight_kg": "80.0", "phases": ["0.110", 0.6]}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!((res.json()["status"].as_str(), res.json()["ready"].as_bool()), (Some("verified"), Some(true)));
    assert!(app.clinic.ready_order(event.parse().unwrap(), patient.parse().unwrap()).await.is_ok());

    // A dose other than the plan's is a warning the physician acknowledges.
    let (_, other) = planned_infusion(&app, "Other").await;
    let mut higher = order_body("80");
    higher["phases"][1]["dose_mg_per_kg"] = serde_json::json!("0.7");
    let res = app.send(req("POST", &format!("/api/v1/plan-events/{other}/orders")).token(&doctor).json(higher.clone())).await;
    assert_eq!(res.problem_fields(), ["acknowledge_warnings"]);
    assert!(res.text.contains("differs from the signed plan"), "{}", res.text);
    higher["acknowledge_warnings"] = serde_json::json!(true);
    let res = app.send(req("POST", &format!("/api/v1/plan-events/{other}/orders")).token(&doctor).json(higher)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json()["warnings"].as_array().unwrap().len(), 2, "plan and protocol differences kept");
    let other_id = res.json()["id"].as_str().unwrap().to_string();
    let res = app.send(req("POST", &format!("/api/v1/orders/{other_id}/cancel")).token(&doctor).header("if-match", "\"1\"").json(serde_json::json!({"reason": "wrong dose"}))).await;
    assert_eq!(res.json()["status"], "cancelled");
    assert_eq!(app.send(req("POST", &format!("/api/v1/plan-events/{other}/orders")).token(&doctor).json(order_body("80"))).await.status, StatusCode::CREATED, "a new order after cancelling");

    // Counselors and the front desk do not see orders; every step is audited.
    assert_eq!(app.send(req("GET", &format!("/api/v1/orders/{order_id}")).token(&app.login("counselor").await)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.send(req("GET", &format!("/api/v1/orders/{order_id}")).token(&app.login("frontdesk").await)).await.status, StatusCode::FORBIDDEN);
    for (action, n) in [("order.sign", 1), ("order.check", 2)] {
        let events = app.audit_events(AuditFilter { action: Some(action.into()), patient_id: Some(patient.parse().unwrap()), ..Default::default() }).await;
        assert_eq!(events.len(), n, "{action}");
    }
}

async fn order_pages_hide_the_order_from_the_checker<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let doctor = app.login("physician").await;
    let nurse = app.login("nurse").await;
    let (patient, event) = planned_infusion(&app, "Pages").await;
    let form = app.send(req("GET", &format!("/plan-events/{event}/order")).token(&doctor)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("Sign the order") && form.text.contains("Allergies: none recorded"), "{}", form.text);
    let body = "weight_kg=72.5&weight_measured_on=2026-11-20&dose_mg_per_kg=0.11&minutes=2&dose_mg_per_kg=0.6&minutes=50&stock_mg_per_ml=10&bag_ml=100";
    let res = app.send(req("POST", &format!("/plan-events/{event}/order")).token(&doctor).raw(body, FORM)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let location = res.header("location").unwrap();
    let page = app.send(req("GET", &location).token(&doctor)).await;
    assert!(page.text.contains("data-testid=\"pk-chart\"") && page.text.contains("not a target"), "the physician sees the prediction");
    let page = app.send(req("GET", &location).token(&nurse)).await;
    assert!(!page.text.contains("72.5"), "the checker does not see the ordered weight anywhere on the page before checking");
    let check_form = page.text.split("id=\"check-form\"").nth(1).unwrap().split("</form>").next().unwrap();
    assert!(!check_form.contains("72.5") && !check_form.contains("value=\"0.6\""), "the checker does not see the ordered values: {check_form}");
    let mismatch = app.send(req("POST", &format!("{location}/checks")).token(&nurse).raw("version=1&weight_kg=72.5&dose_mg_per_kg=0.11&dose_mg_per_kg=0.06", FORM)).await;
    assert_eq!(mismatch.status, StatusCode::SEE_OTHER);
    let page = app.send(req("GET", &location).token(&nurse)).await;
    assert!(page.text.contains("data-status=\"check_failed\"") && page.text.contains("phase 2: entered 0.06 mg/kg, which does not match the order"));
    // Until the check matches, the checker's page shows neither the ordered weight nor the dose.
    assert!(!page.text.contains("72.5") && !page.text.contains("0.6 mg/kg") && !page.text.contains("data-testid=\"pk-chart\""), "the check stays blind");
    let chart = app.send(req("GET", &format!("/patients/{patient}?tab=plan")).token(&doctor)).await;
    assert!(chart.text.contains("data-order-status=\"check_failed\""), "the plan shows the order's state");
    // The API is as blind as the page for the checker, and shows everything to the orderer.
    let order_id = location.trim_start_matches("/orders/");
    let seen = app.send(req("GET", &format!("/api/v1/orders/{order_id}")).token(&nurse)).await.json();
    assert_eq!(seen["blind"], true);
    for field in ["weight_kg", "dose_mg", "stock_volume_ml", "total_volume_ml", "final_mg_per_ml"] {
        assert!(seen[field].is_null(), "{field} hidden: {seen}");
    }
    assert_eq!(seen["phases"], serde_json::json!([]));
    assert!(!seen.to_string().contains("72.5"), "{seen}");
    let own = app.send(req("GET", &format!("/api/v1/orders/{order_id}")).token(&doctor)).await.json();
    assert_eq!((own["blind"].as_bool(), own["weight_kg"].as_str()), (Some(false), Some("72.5")));
    // A matching check lifts it.
    let matched = app.send(req("POST", &format!("{location}/checks")).token(&nurse).raw("version=2&weight_kg=72.5&dose_mg_per_kg=0.11&dose_mg_per_kg=0.6", FORM)).await;
    assert_eq!(matched.status, StatusCode::SEE_OTHER, "{}", matched.text);
    let seen = app.send(req("GET", &format!("/api/v1/orders/{order_id}")).token(&nurse)).await.json();
    assert_eq!((seen["blind"].as_bool(), seen["weight_kg"].as_str(), seen["status"].as_str()), (Some(false), Some("72.5"), Some("verified")));
}
