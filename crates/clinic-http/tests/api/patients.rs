//! The patient registry API.

use axum::http::StatusCode;
use clinic_service::DeploymentMode;
use clinic_store::Store;
use serde_json::json;

use crate::helpers::{patient_body, req, spawn_app, FORM};

crate::backend_tests!(
    create_read_and_update_with_etags,
    validation_names_every_failing_field,
    malformed_requests_are_4xx_problems,
    likely_duplicates_are_reported_not_added,
    list_search_and_paging,
    the_chart_shows_alerts_tabs_and_contact_consent,
);

async fn create_read_and_update_with_etags<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let token = app.login("frontdesk").await;
    let body = json!({
        "given_name": "Ana", "family_name": "Díaz", "date_of_birth": "1980-02-29", "sex_at_birth": "female",
        "phone": "(555) 010-0199", "email": "ana@example.org", "substances": ["cocaine", "alcohol", "alcohol"],
        "escort": { "name": "Ben Díaz", "relationship": "brother", "phone": "555 010 0198" },
        "emergency_contacts": [{ "name": "Cara" }],
        "diagnoses": ["F14.20", "f10.20"],
        "allergies": [{ "substance": "penicillin", "reaction": "hives" }],
        "medications": [{ "name": "naltrexone", "dose": "50 mg daily" }],
        "contact_channels": ["sms", "email"], "preferred_contact_channel": "sms"
    });
    let res = app.send(req("POST", "/api/v1/patients").token(&token).json(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let created = res.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(res.header("location").unwrap(), format!("/api/v1/patients/{id}"));
    assert_eq!(res.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(created["mrn"], "K00000018");
    assert_eq!(created["status"], "screening");
    assert_eq!(created["substances"], json!(["alcohol", "cocaine"]));
    assert_eq!(created["phone"], "5550100199");
    assert_eq!(created["escort"]["phone"], "5550100198");
    assert_eq!(created["diagnoses"][0]["code"], "F10.20");
    assert_eq!(created["diagnoses"][0]["substance"], "alcohol");
    assert_eq!(created["diagnoses"][1]["code"], "F14.20");
    assert_eq!(created["allergies"], json!([{ "substance": "penicillin", "reaction": "hives" }]));
    assert_eq!(created["medications"], json!([{ "name": "naltrexone", "dose": "50 mg daily" }]));
    assert_eq!(created["contact_channels"], json!(["sms", "email"]));
    assert_eq!(created["preferred_contact_channel"], "sms");
    assert_eq!(created["alerts"], json!([]), "a complete record raises no alerts");
    assert!(uuid::Uuid::try_parse(&id).unwrap().get_version_num() == 7);

    let read = app.send(req("GET", &format!("/api/v1/patients/{id}")).token(&token)).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json(), created);
    let etag = read.header("etag").unwrap();

    // A merge patch: change the status, drop the escort, keep everything else.
    let patch = json!({ "status": "eligible", "escort": null });
    let missing = app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&token).json(patch.clone())).await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(missing.json()["code"], "precondition_required");
    let ok = app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&token).header("if-match", &etag).json(patch)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let updated = ok.json();
    assert_eq!(updated["status"], "eligible");
    assert_eq!(updated["escort"], serde_json::Value::Null);
    assert_eq!(updated["email"], "ana@example.org");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["contact_channels"], json!(["sms", "email"]), "a merge patch keeps what it does not name");
    let alerts: Vec<&str> = updated["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(alerts, ["no_escort"], "eligible without an escort");
    assert_eq!(ok.header("etag").as_deref(), Some("\"2\""));

    // A second writer still holding the first ETag gets 412 and changes nothing.
    let stale = app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&token).header("if-match", &etag).json(json!({ "status": "discharged" }))).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.json()["code"], "precondition_failed");
    let reread = app.send(req("GET", &format!("/api/v1/patients/{id}")).token(&token)).await;
    assert_eq!(reread.json()["status"], "eligible");

    // Patching in an invalid value is refused with the field named.
    let bad = app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&token).header("if-match", "\"2\"").json(json!({ "status": "cured" }))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.problem_fields(), ["status"]);
    let bad_code = app
        .send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&token).header("if-match", "\"2\"").json(json!({ "diagnoses": ["F99.9"], "allergies": [{ "reaction": "rash" }] })))
        .await;
    assert_eq!(bad_code.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_code.problem_fields(), ["diagnoses", "allergies[0].substance"]);
    let mrn_change = app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&token).header("if-match", "\"2\"").json(json!({ "mrn": "K00000026" }))).await;
    assert_eq!(mrn_change.status, StatusCode::BAD_REQUEST);
    assert_eq!(mrn_change.problem_fields(), ["mrn"]);

    for uri in ["/api/v1/patients/01900000-0000-7000-8000-000000000000", "/api/v1/patients/not-an-id"] {
        let res = app.send(req("GET", uri).token(&token)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(res.header("content-type").as_deref(), Some("application/problem+json"));
    }
}

async fn validation_names_every_failing_field<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let token = app.login("physician").await;
    let body = json!({
        "family_name": "", "date_of_birth": "2999-01-01", "sex_at_birth": "f", "substances": ["heroin"],
        "status": "active", "email": "nope", "escort": { "phone": "12" }, "contact_channels": ["sms"], "preferred_contact_channel": "fax"
    });
    let res = app.send(req("POST", "/api/v1/patients").token(&token).json(body)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem = res.json();
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(problem["status"], 422);
    assert_eq!(
        res.problem_fields(),
        ["given_name", "family_name", "date_of_birth", "sex_at_birth", "status", "email", "substances", "escort.name", "escort.phone", "contact_channels", "preferred_contact_channel"]
    );
    let channels = problem["errors"].as_array().unwrap().iter().find(|e| e["field"] == "contact_channels").unwrap();
    assert_eq!(channels["message"], "sms needs a phone number on the record");
    let substances = problem["errors"].as_array().unwrap().iter().find(|e| e["field"] == "substances").unwrap();
    assert_eq!(substances["message"], "must be one of: alcohol, cocaine, opioids, stimulants, cannabis, sedatives, other");
    // Nothing was stored.
    let list = app.send(req("GET", "/api/v1/patients").token(&token)).await;
    assert_eq!(list.json()["items"], json!([]));
}

async fn malformed_requests_are_4xx_problems<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let token = app.login("nurse").await;
    let cases: Vec<(crate::helpers::Req, StatusCode, &str, Option<&str>)> = vec![
        (req("POST", "/api/v1/patients").token(&token).raw("{\"given_name\": ", "application/json"), StatusCode::BAD_REQUEST, "malformed_json", None),
        (req("POST", "/api/v1/patients").token(&token).json(json!({"given_name": 7})), StatusCode::BAD_REQUEST, "malformed_json", Some("given_name")),
        (req("POST", "/api/v1/patients").token(&token).json(json!({"substances": "alcohol"})), StatusCode::BAD_REQUEST, "malformed_json", Some("substances")),
        (req("POST", "/api/v1/patients").token(&token).json(json!({"favourite_colour": "blue"})), StatusCode::BAD_REQUEST, "malformed_json", Some("favourite_colour")),
        (req("POST", "/api/v1/patients").token(&token).raw("given_name=Ana", "text/plain"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None),
        (req("POST", "/api/v1/patients").token(&token).raw(&format!("{{\"address\": \"{}\"}}", "x".repeat(300_000)), "application/json"), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
        (req("GET", "/api/v1/patients?limit=0").token(&token), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("limit")),
        (req("GET", "/api/v1/patients?limit=501").token(&token), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("limit")),
        (req("GET", "/api/v1/patients?limit=ten").token(&token), StatusCode::BAD_REQUEST, "validation_failed", Some("limit")),
        (req("GET", "/api/v1/patients?cursor=garbage").token(&token), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("cursor")),
        (req("GET", "/api/v1/patients?date_of_birth=1980-13-01").token(&token), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("date_of_birth")),
        (req("GET", "/api/v1/patients?status=happy").token(&token), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("status")),
        (req("GET", "/api/v1/nothing-here").token(&token), StatusCode::NOT_FOUND, "route_not_found", None),
        (req("DELETE", "/api/v1/patients").token(&token), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
        (req("GET", "/api/v1/patients").token("not-a-token"), StatusCode::UNAUTHORIZED, "unauthenticated", None),
    ];
    for (request, status, code, field) in cases {
        let label = format!("{} {}", request.method, request.uri.chars().take(60).collect::<String>());
        let res = app.send(request).await;
        assert_eq!(res.status, status, "{label}: {}", res.text);
        assert_eq!(res.header("content-type").as_deref(), Some("application/problem+json"), "{label}");
        let problem = res.json();
        assert_eq!(problem["code"], code, "{label}");
        for key in ["type", "title", "status", "detail", "errors"] {
            assert!(!problem[key].is_null(), "{label}: {key} missing");
        }
        if let Some(field) = field {
            assert_eq!(res.problem_fields(), [field], "{label}");
        }
    }
}

async fn likely_duplicates_are_reported_not_added<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let token = app.login("frontdesk").await;
    let first = app.create_patient(&token, json!({"given_name": "Ana", "family_name": "Diaz", "date_of_birth": "1980-01-02", "phone": "555-010-0111"})).await;
    for body in [
        json!({"given_name": "ana", "family_name": "DIAZ", "date_of_birth": "1980-01-02"}),
        json!({"given_name": "Someone", "family_name": "Else", "date_of_birth": "1999-09-09", "phone": "(555) 010 0111"}),
    ] {
        let res = app.send(req("POST", "/api/v1/patients").token(&token).json(body.clone())).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
        let problem = res.json();
        assert_eq!(problem["code"], "likely_duplicate");
        assert_eq!(problem["duplicates"][0]["patient_id"], first["id"]);
        assert_eq!(problem["duplicates"][0]["mrn"], first["mrn"]);
    }
    let list = app.send(req("GET", "/api/v1/patients").token(&token)).await;
    assert_eq!(list.json()["items"].as_array().unwrap().len(), 1);
    let mut confirmed = json!({"given_name": "Ana", "family_name": "Diaz", "date_of_birth": "1980-01-02"});
    confirmed["confirm_not_duplicate"] = json!(true);
    let second = app.create_patient(&token, confirmed).await;
    assert_ne!(second["id"], first["id"]);
}

async fn list_search_and_paging<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let token = app.login("frontdesk").await;
    let mut mrns = Vec::new();
    for idx in 0..7 {
        let created = app.create_patient(&token, patient_body(&format!("Given{idx}"), &format!("Family{idx}"), &format!("1970-01-0{}", idx + 1))).await;
        mrns.push(created["mrn"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut uri = "/api/v1/patients?limit=3".to_string();
    loop {
        let page = app.send(req("GET", &uri).token(&token)).await.json();
        assert!(page["items"].as_array().unwrap().len() <= 3);
        for item in page["items"].as_array().unwrap() {
            seen.push(item["family_name"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/api/v1/patients?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("Family{i}")).collect::<Vec<_>>());
    let by_name = app.send(req("GET", "/api/v1/patients?q=given3%20fam").token(&token)).await.json();
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_name["items"][0]["given_name"], "Given3");
    let by_mrn = app.send(req("GET", &format!("/api/v1/patients?q={}", mrns[5])).token(&token)).await.json();
    assert_eq!(by_mrn["items"][0]["mrn"], mrns[5]);
    let by_dob = app.send(req("GET", "/api/v1/patients?date_of_birth=1970-01-02").token(&token)).await.json();
    assert_eq!(by_dob["items"][0]["given_name"], "Given1");
    assert_eq!(by_dob["next_cursor"], serde_json::Value::Null);
}

async fn the_chart_shows_alerts_tabs_and_contact_consent<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let staff = app.login("nurse").await;
    let created = app
        .create_patient(
            &staff,
            json!({"given_name": "Olu", "family_name": "Ade", "date_of_birth": "1975-05-05", "phone": "5550100150",
                   "status": "eligible", "diagnoses": ["F11.20"]}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let kinds: Vec<&str> = created["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["allergies_not_recorded", "opioid_use_without_moud", "no_escort", "no_contact_consent"]);

    let chart = app.send(req("GET", &format!("/patients/{id}")).token(&staff)).await;
    assert_eq!(chart.status, StatusCode::OK);
    for text in ["Allergies: none recorded", "data-alert=\"opioid_use_without_moud\"", "data-alert=\"no_escort\"", "no consent recorded", "?tab=screening"] {
        assert!(chart.text.contains(text), "chart lacks {text}");
    }
    let tab = app.send(req("GET", &format!("/patients/{id}?tab=outcomes")).token(&staff)).await;
    assert_eq!(tab.status, StatusCode::OK);
    assert!(tab.text.contains("aria-current=\"page\">Outcomes"));
    assert!(tab.text.contains("Nothing recorded yet"), "a tab not in use yet says so");
    let tab = app.send(req("GET", &format!("/patients/{id}?tab=infusions")).token(&staff)).await;
    assert_eq!(tab.status, StatusCode::OK);
    assert!(tab.text.contains("aria-current=\"page\">Infusions") && tab.text.contains("<h2>Infusions</h2>"));
    let bad_tab = app.send(req("GET", &format!("/patients/{id}?tab=billing")).token(&staff)).await;
    assert_eq!(bad_tab.status, StatusCode::BAD_REQUEST);
    assert!(bad_tab.text.contains("summary, screening, consents"));

    // Recording consent, MOUD and an escort through the edit form clears those alerts.
    let form = "version=1&given_name=Olu&family_name=Ade&date_of_birth=1975-05-05&sex_at_birth=male&phone=5550100150\
                &status=eligible&diagnoses=F11.20&contact_channels=phone&contact_channels=sms&preferred_contact_channel=sms\
                &medication_name=methadone&medication_dose=80+mg+daily&escort_name=Ife+Ade&allergy_substance=latex&allergy_reaction=rash";
    let saved = app.send(req("POST", &format!("/patients/{id}/edit")).token(&staff).raw(form, FORM)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let read = app.send(req("GET", &format!("/api/v1/patients/{id}")).token(&staff)).await.json();
    assert_eq!(read["contact_channels"], json!(["phone", "sms"]));
    assert_eq!(read["preferred_contact_channel"], "sms");
    let kinds: Vec<&str> = read["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["moud_continue"]);

    // A channel without the detail it needs is refused next to the field, and the typed input is kept.
    let bad = "version=2&given_name=Olu&family_name=Ade&date_of_birth=1975-05-05&status=eligible&phone=5550100150&contact_channels=email";
    let refused = app.send(req("POST", &format!("/patients/{id}/edit")).token(&staff).raw(bad, FORM)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("email needs an email address on the record"));
    assert!(refused.text.contains("value=\"email\" checked"));
}
