//! Treatment plans over HTTP: made by the physician for an eligible patient
//! only, edited with a reason (deviations acknowledged or refused), signed
//! (putting the patient in treatment), versioned with If-Match, audited, and
//! shown in the chart's Plan tab; on SQLite and PostgreSQL.

use axum::http::StatusCode;
use clinic_service::DeploymentMode;
use clinic_store::Store;
use clinic_store::records::AuditFilter;

use crate::helpers::{FORM, patient_body, req, spawn_app};

crate::backend_tests!(
    a_physician_plans_edits_and_signs,
    plan_pages_ask_before_a_deviation
);

async fn eligible_patient<S: Store>(
    app: &crate::helpers::TestApp<S>,
    token: &str,
    family: &str,
) -> String {
    let created = app
        .create_patient(token, patient_body("Ana", family, "1980-01-01"))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let res = app
        .send(
            req("PATCH", &format!("/api/v1/patients/{id}"))
                .token(token)
                .header("if-match", "\"1\"")
                .json(serde_json::json!({"status": "eligible"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    id
}

async fn a_physician_plans_edits_and_signs<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let doctor = app.login("physician").await;
    let nurse = app.login("nurse").await;
    let desk = app.login("frontdesk").await;

    // Not yet eligible: refused, naming why.
    let created = app
        .create_patient(&doctor, patient_body("Ana", "Plan", "1980-01-01"))
        .await;
    let early = created["id"].as_str().unwrap();
    let res = app.send(req("POST", &format!("/api/v1/patients/{early}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": "alcohol-kare-grabski2022", "start_date": "2026-12-07"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    assert!(res.text.contains("eligib"), "{}", res.text);

    let id = eligible_patient(&app, &doctor, "Plan-two").await;
    let plans = format!("/api/v1/patients/{id}/plans");
    // Bad input names every field and the allowed protocols.
    let bad = app
        .send(
            req("POST", &plans)
                .token(&doctor)
                .json(serde_json::json!({"protocol_id": "magic", "start_date": "07/12/2026"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.problem_fields(), ["protocol_id", "start_date"]);
    assert!(
        bad.text.contains("alcohol-kare-grabski2022"),
        "the allowed values are listed: {}",
        bad.text
    );
    // A protocol for another substance is refused.
    let wrong = app.send(req("POST", &plans).token(&doctor).json(serde_json::json!({"protocol_id": "cocaine-mbrp-dakwar2019", "start_date": "2026-12-07"}))).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.problem_fields(), ["protocol_id"]);
    // Only physicians make plans.
    let res = app.send(req("POST", &plans).token(&nurse).json(serde_json::json!({"protocol_id": "alcohol-kare-grabski2022", "start_date": "2026-12-07"}))).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    let res = app.send(req("POST", &plans).token(&doctor).json(serde_json::json!({"protocol_id": "alcohol-kare-grabski2022", "start_date": "2026-12-07"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.header("etag").as_deref(), Some("\"1\""));
    let plan = res.json();
    assert_eq!(plan["state"], "draft");
    let plan_id = plan["id"].as_str().unwrap().to_string();
    let infusions: Vec<&serde_json::Value> = plan["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "infusion")
        .collect();
    // KARE: three 0.8 mg/kg 40-minute infusions one week apart (days 3, 10, 17 of the file).
    assert_eq!(
        infusions
            .iter()
            .map(|e| e["date"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["2026-12-10", "2026-12-17", "2026-12-24"]
    );
    assert!(
        infusions.iter().all(|e| e["dose_mg_per_kg"] == "0.8"
            && e["minutes"] == 40
            && e["status"] == "planned")
    );
    let second = infusions[1]["id"].as_str().unwrap().to_string();

    // A second open plan is refused.
    let again = app.send(req("POST", &plans).token(&doctor).json(serde_json::json!({"protocol_id": "alcohol-kare-grabski2022", "start_date": "2026-12-08"}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text.contains("already has a plan"), "{}", again.text);

    let edits = format!("/api/v1/plans/{plan_id}/edits");
    let dose = serde_json::json!({"action": "dose", "event_id": second, "phases": [{"dose_mg_per_kg": "0.9", "minutes": 40}], "reason": "partial response after infusion 1"});
    let res = app
        .send(req("POST", &edits).token(&doctor).json(dose.clone()))
        .await;
    assert_eq!(
        res.status,
        StatusCode::PRECONDITION_REQUIRED,
        "If-Match is required"
    );
    let res = app
        .send(
            req("POST", &edits)
                .token(&doctor)
                .header("if-match", "\"1\"")
                .json(dose.clone()),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(res.problem_fields(), ["acknowledge_deviation"]);
    assert!(
        res.text
            .contains("dose 0.9 mg/kg differs from the protocol's 0.8 mg/kg"),
        "{}",
        res.text
    );
    let mut acked = dose.clone();
    acked["acknowledge_deviation"] = serde_json::json!(true);
    // A JSON number is read by its digits.
    acked["phases"][0]["dose_mg_per_kg"] = serde_json::json!(0.9);
    let res = app
        .send(
            req("POST", &edits)
                .token(&doctor)
                .header("if-match", "\"1\"")
                .json(acked.clone()),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.header("etag").as_deref(), Some("\"2\""));
    let changed = res.json();
    let event = changed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == second.as_str())
        .unwrap()
        .clone();
    assert_eq!(event["dose_mg_per_kg"], "0.9");
    assert_eq!(
        event["deviations"][0],
        "dose 0.9 mg/kg differs from the protocol's 0.8 mg/kg"
    );
    // The same edit from the old version is refused, not applied twice.
    let stale = app
        .send(
            req("POST", &edits)
                .token(&doctor)
                .header("if-match", "\"1\"")
                .json(acked),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    // A dose outside the plausibility limits is refused even acknowledged.
    let huge = serde_json::json!({"action": "dose", "event_id": second, "phases": [{"dose_mg_per_kg": "8", "minutes": 40}], "reason": "typo", "acknowledge_deviation": true});
    let res = app
        .send(
            req("POST", &edits)
                .token(&doctor)
                .header("if-match", "\"2\"")
                .json(huge),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.problem_fields(), ["dose_mg_per_kg"]);
    let no_reason = app
        .send(
            req("POST", &edits)
                .token(&doctor)
                .header("if-match", "\"2\"")
                .json(serde_json::json!({"action": "skip", "event_id": second})),
        )
        .await;
    assert_eq!(no_reason.problem_fields(), ["reason"]);
    let bad_action = app
        .send(
            req("POST", &edits)
                .token(&doctor)
                .header("if-match", "\"2\"")
                .json(serde_json::json!({"action": "explode", "reason": "x"})),
        )
        .await;
    assert_eq!(bad_action.problem_fields(), ["action"]);
    assert!(bad_action.text.contains("move, skip, restore, add, dose"));

    // Nurses read plans; the front desk does not; nobody but the physician signs.
    assert_eq!(
        app.send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&nurse))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&desk))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.send(
            req("POST", &format!("/api/v1/plans/{plan_id}/sign"))
                .token(&nurse)
                .header("if-match", "\"2\"")
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    let res = app
        .send(
            req("POST", &format!("/api/v1/plans/{plan_id}/sign"))
                .token(&doctor)
                .header("if-match", "\"2\""),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json()["state"], "signed");
    let patient = app
        .send(req("GET", &format!("/api/v1/patients/{id}")).token(&doctor))
        .await
        .json();
    assert_eq!(
        patient["status"], "in_treatment",
        "signing the first plan puts the patient in treatment"
    );

    let read = app
        .send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&doctor))
        .await
        .json();
    let history: Vec<(&str, i64)> = read["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(history, [("create", 1), ("dose", 2), ("sign", 3)]);
    assert_eq!(
        read["history"][1]["reason"],
        "partial response after infusion 1"
    );
    assert_eq!(
        read["history"][1]["deviations"][0],
        "dose 0.9 mg/kg differs from the protocol's 0.8 mg/kg"
    );

    // Every step is audited against the patient, without names.
    for (action, n) in [("plan.create", 1), ("plan.update", 1), ("plan.sign", 1)] {
        let events = app
            .audit_events(AuditFilter {
                action: Some(action.into()),
                patient_id: Some(id.parse().unwrap()),
                ..Default::default()
            })
            .await;
        assert_eq!(events.len(), n, "{action}");
        assert!(!events[0].detail.clone().unwrap_or_default().contains("Ana"));
    }
    let reads = app
        .audit_events(AuditFilter {
            action: Some("plan.read".into()),
            patient_id: Some(id.parse().unwrap()),
            ..Default::default()
        })
        .await;
    assert_eq!(reads.len(), 2, "the nurse's and the physician's reads");

    // The chart's Plan tab shows the plan beside what happened, with the history.
    let chart = app
        .send(req("GET", &format!("/patients/{id}?tab=plan")).token(&doctor))
        .await;
    assert_eq!(chart.status, StatusCode::OK);
    assert!(
        chart.text.contains("data-plan-state=\"signed\""),
        "{}",
        chart.text
    );
    assert!(chart.text.contains("The plan beside what happened"));
    assert!(chart.text.contains("0.9 mg/kg over 40 min"));
    assert!(chart.text.contains("Deviation: dose 0.9 mg/kg differs"));
    assert!(chart.text.contains("partial response after infusion 1"));

    // Ending frees the patient for a new plan.
    let res = app
        .send(
            req("POST", &format!("/api/v1/plans/{plan_id}/end"))
                .token(&doctor)
                .header("if-match", "\"3\"")
                .json(serde_json::json!({"reason": ""})),
        )
        .await;
    assert_eq!(res.problem_fields(), ["reason"]);
    let res = app
        .send(
            req("POST", &format!("/api/v1/plans/{plan_id}/end"))
                .token(&doctor)
                .header("if-match", "\"3\"")
                .json(serde_json::json!({"reason": "replaced"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["state"], "ended");
    let list = app.send(req("GET", &plans).token(&doctor)).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let protocols = app
        .send(req("GET", "/api/v1/protocols").token(&nurse))
        .await;
    assert_eq!(protocols.status, StatusCode::OK);
    assert!(protocols.text.contains("clinic-series-6"));
}

async fn plan_pages_ask_before_a_deviation<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let doctor = app.login("physician").await;
    let id = eligible_patient(&app, &doctor, "Pages").await;
    let empty = app
        .send(req("GET", &format!("/patients/{id}?tab=plan")).token(&doctor))
        .await;
    assert!(empty.text.contains("Make the plan"), "{}", empty.text);
    assert!(empty.text.contains("value=\"alcohol-met-dakwar2020\""));
    assert!(
        !empty.text.contains("value=\"cocaine-mbrp-dakwar2019\""),
        "only protocols for the patient's substances are offered"
    );
    let res = app
        .send(
            req("POST", &format!("/patients/{id}/plans"))
                .token(&doctor)
                .raw(
                    "protocol_id=alcohol-met-dakwar2020&start_date=2026-12-07",
                    FORM,
                ),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    let plans = app
        .send(req("GET", &format!("/api/v1/patients/{id}/plans")).token(&doctor))
        .await
        .json();
    let plan = &plans["items"][0];
    let plan_id = plan["id"].as_str().unwrap();
    let infusion = plan["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "infusion")
        .unwrap();
    let infusion_id = infusion["id"].as_str().unwrap();
    // Dakwar 2020's quit-day window is days 7-13: 2026-12-14 to 2026-12-20.
    let form =
        format!("version=1&action=move&event_id={infusion_id}&date=2026-12-22&reason=holiday");
    let ask = app
        .send(
            req("POST", &format!("/plans/{plan_id}/edits"))
                .token(&doctor)
                .raw(&form, FORM),
        )
        .await;
    assert_eq!(ask.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(ask.text.contains("This change leaves the protocol"));
    assert!(
        ask.text
            .contains("outside the protocol&#39;s window 2026-12-14 to 2026-12-20")
            || ask
                .text
                .contains("outside the protocol's window 2026-12-14 to 2026-12-20"),
        "{}",
        ask.text
    );
    assert!(ask.text.contains("name=\"acknowledge_deviation\""));
    let unchanged = app
        .send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&doctor))
        .await
        .json();
    assert_eq!(
        unchanged["version"], 1,
        "nothing saved before the acknowledgement"
    );
    let res = app
        .send(
            req("POST", &format!("/plans/{plan_id}/edits"))
                .token(&doctor)
                .raw(&format!("{form}&acknowledge_deviation=yes"), FORM),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(
        res.header("location"),
        Some(format!("/patients/{id}?tab=plan"))
    );
    let sign = app
        .send(
            req("POST", &format!("/plans/{plan_id}/sign"))
                .token(&doctor)
                .raw("version=2", FORM),
        )
        .await;
    assert_eq!(sign.status, StatusCode::SEE_OTHER);
    let chart = app
        .send(req("GET", &format!("/patients/{id}?tab=plan")).token(&doctor))
        .await;
    assert!(chart.text.contains("data-plan-state=\"signed\""));
    assert!(
        chart.text.contains("protocol: 2026-12-16"),
        "the protocol's date is shown beside the planned one"
    );
    // A stale form is refused with a clear page.
    let stale = app
        .send(
            req("POST", &format!("/plans/{plan_id}/edits"))
                .token(&doctor)
                .raw(&form, FORM),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.text.contains("Someone changed this plan"));
}
