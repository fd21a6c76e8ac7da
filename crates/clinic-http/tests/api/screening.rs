//! Screening over HTTP: questionnaires scored and stored, the suicide-risk
//! alert and its closure, portal links (consented channel, expiry, single
//! use, session scope) and the anonymous self-check.

use axum::http::StatusCode;
use clinic_service::{DeploymentMode, ServiceConfig};
use clinic_store::records::AuditFilter;
use clinic_store::Store;
use serde_json::json;

use crate::helpers::{req, spawn_app, spawn_app_with, TestApp, FORM};

crate::backend_tests!(
    questionnaires_are_scored_and_item_9_raises_an_alert_closed_only_with_a_response,
    portal_links_go_by_consent_expire_are_used_once_and_open_only_the_portal,
    the_self_check_scores_and_stores_nothing,
    a_signin_link_lets_the_patient_sign_consents_in_the_portal,
);

fn phq9(item9: &str) -> serde_json::Value {
    json!({ "instrument": "phq-9", "answers": ["1", "1", "0", "2", "0", "1", "0", "0", item9] })
}

async fn questionnaires_are_scored_and_item_9_raises_an_alert_closed_only_with_a_response<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let nurse = app.login("nurse").await;
    let physician = app.login("physician").await;
    let patient = app.create_patient(&nurse, json!({ "given_name": "Kai", "family_name": "Moss", "date_of_birth": "1985-03-03" })).await;
    let uri = format!("/api/v1/patients/{}/questionnaire-responses", patient["id"].as_str().unwrap());

    // Refusals name the field; nothing is stored.
    let short = app.send(req("POST", &uri).token(&nurse).json(json!({ "instrument": "phq-9", "answers": ["1", "1"] }))).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(short.problem_fields(), ["answers"]);
    let bad = app.send(req("POST", &uri).token(&nurse).json(json!({ "instrument": "phq-9", "answers": ["1", "1", "0", "2", "0", "1", "0", "0", "7"] }))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("0, 1, 2, 3"), "{}", bad.text);
    let unknown = app.send(req("POST", &uri).token(&nurse).json(json!({ "instrument": "phq-99", "answers": [] }))).await;
    assert_eq!(unknown.problem_fields(), ["instrument"]);
    // AUDIT-C needs a sex; this patient's is unknown, so it must be given.
    let audit_c = app.send(req("POST", &uri).token(&nurse).json(json!({ "instrument": "audit-c", "answers": ["2", "1", "0"] }))).await;
    assert_eq!(audit_c.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", audit_c.text);
    assert_eq!(audit_c.problem_fields(), ["sex"]);
    let audit_c = app.send(req("POST", &uri).token(&nurse).json(json!({ "instrument": "audit-c", "answers": ["2", "1", "0"], "sex": "female" }))).await;
    assert_eq!(audit_c.status, StatusCode::CREATED, "{}", audit_c.text);
    assert_eq!(audit_c.json()["band"], "positive", "3 or more for women (clinical.md §3.1)");

    // PHQ-9 without item 9: scored, no alert.
    let calm = app.send(req("POST", &uri).token(&nurse).json(phq9("0"))).await;
    assert_eq!(calm.status, StatusCode::CREATED, "{}", calm.text);
    let calm = calm.json();
    assert_eq!((calm["total"].as_i64(), calm["band"].as_str()), (Some(5), Some("mild")));
    assert_eq!(calm["questionnaire"], "phq-9");
    assert_eq!(calm["loinc_total"], "44261-6");
    assert_eq!(calm["score"]["items"], json!([1, 1, 0, 2, 0, 1, 0, 0, 0]));
    assert!(calm.get("alerts").is_none());

    // Item 9 above 0 raises a suicide_risk alert at once; without hours set it says where it went and why.
    let risk = app.send(req("POST", &uri).token(&nurse).json(phq9("2"))).await.json();
    assert_eq!(risk["flags"], json!(["suicide_risk"]));
    let alert = &risk["alerts"][0];
    assert_eq!(alert["kind"], "suicide_risk");
    assert_eq!(alert["status"], "open");
    assert!(alert["routed_to"].as_str().unwrap().contains("needs clinic setting"), "{alert}");
    let alert_id = alert["id"].as_str().unwrap().to_string();

    // The front desk sees neither the results nor the alerts.
    let frontdesk = app.login("frontdesk").await;
    assert_eq!(app.send(req("GET", &uri).token(&frontdesk)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.send(req("GET", "/api/v1/alerts").token(&frontdesk)).await.status, StatusCode::FORBIDDEN);

    let history = app.send(req("GET", &uri).token(&physician)).await.json();
    assert_eq!(history["items"].as_array().unwrap().len(), 3);
    let open = app.send(req("GET", "/api/v1/alerts").token(&physician)).await.json();
    assert_eq!(open["items"].as_array().unwrap().len(), 1);
    assert!(app.send(req("GET", "/home").token(&physician)).await.text.contains("Open safety alerts"));

    // Closing needs the response taken and the current version.
    let close = format!("/api/v1/alerts/{alert_id}/close");
    let empty = app.send(req("POST", &close).token(&physician).header("if-match", "\"1\"").json(json!({ "response": " " }))).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(empty.problem_fields(), ["response"]);
    let stale = app.send(req("POST", &close).token(&physician).header("if-match", "\"5\"").json(json!({ "response": "Called the patient" }))).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let closed = app.send(req("POST", &close).token(&physician).header("if-match", "\"1\"").json(json!({ "response": "Called the patient; risk assessed; safety plan made." }))).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    assert_eq!(closed.json()["status"], "closed");
    assert_eq!(closed.header("etag").as_deref(), Some("\"2\""));
    let again = app.send(req("POST", &close).token(&physician).header("if-match", "\"2\"").json(json!({ "response": "again" }))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(app.send(req("GET", "/api/v1/alerts").token(&physician)).await.json()["items"], json!([]));
    let all = app.send(req("GET", "/api/v1/alerts?status=all").token(&physician)).await.json();
    assert_eq!(all["items"][0]["response"], "Called the patient; risk assessed; safety plan made.");
    assert_eq!(app.send(req("GET", "/api/v1/alerts?status=closed").token(&physician)).await.problem_fields(), ["status"]);

    for action in ["questionnaire.record", "alert.raise", "alert.read", "alert.close", "questionnaire.read"] {
        assert!(!app.audit_events(AuditFilter { action: Some(action.into()), ..Default::default() }).await.is_empty(), "{action} not audited");
    }

    // The chart's screening tab shows the history; the page form scores and saves too.
    let tab = app.send(req("GET", &format!("/patients/{}?tab=screening", patient["id"].as_str().unwrap())).token(&physician)).await;
    assert!(tab.text.contains("Patient Health Questionnaire-9") && tab.text.contains("suicide risk"));
    let form = app.send(req("GET", &format!("/patients/{}/questionnaires/new?instrument=gad-7", patient["id"].as_str().unwrap())).token(&physician)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("name=\"item7\""));
    let missing = app.send(req("POST", &format!("/patients/{}/questionnaires", patient["id"].as_str().unwrap())).token(&physician).raw("instrument=gad-7&item1=1", FORM)).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.text.contains("item 2 needs an answer"));
    assert!(missing.text.contains("value=\"1\" required checked"), "the given answer is kept");
    let saved = app
        .send(req("POST", &format!("/patients/{}/questionnaires", patient["id"].as_str().unwrap())).token(&physician).raw("instrument=gad-7&item1=1&item2=1&item3=1&item4=1&item5=1&item6=0&item7=0", FORM))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    // AUDIT-C on a patient whose sex at birth is unknown: the form asks, and without an answer says so.
    let form = app.send(req("GET", &format!("/patients/{}/questionnaires/new?instrument=audit-c", patient["id"].as_str().unwrap())).token(&physician)).await;
    assert!(form.text.contains("Sex for the cut-off (the record says: unknown)"));
    let no_sex = app.send(req("POST", &format!("/patients/{}/questionnaires", patient["id"].as_str().unwrap())).token(&physician).raw("instrument=audit-c&item1=1&item2=1&item3=1", FORM)).await;
    assert_eq!(no_sex.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_sex.text.contains("Sex "), "the missing sex is named next to its field");
    let with_sex = app.send(req("POST", &format!("/patients/{}/questionnaires", patient["id"].as_str().unwrap())).token(&physician).raw("instrument=audit-c&sex=male&item1=1&item2=1&item3=1", FORM)).await;
    assert_eq!(with_sex.status, StatusCode::SEE_OTHER, "{}", with_sex.text);
}

async fn portal_app<S: Store>(store: S, link_seconds: i64) -> TestApp<S> {
    let mut config = ServiceConfig::standard(DeploymentMode::Production);
    config.safety.public_url = Some("https://clinic.example.org".into());
    config.safety.link_lifetime = chrono::Duration::seconds(link_seconds);
    config.safety.after_hours_phone = Some("555-010-0901".into());
    spawn_app_with(store, config).await
}

/// The portal link in the newest outbox message, as a path.
pub(crate) async fn link_path<S: Store>(app: &TestApp<S>) -> String {
    let body = app.clinic.store().list_outbox(1).await.unwrap().remove(0).body;
    let start = body.find("/portal/l/").unwrap();
    body[start..].split_whitespace().next().unwrap().to_string()
}

pub(crate) fn cookie(res: &crate::helpers::TestResponse) -> String {
    res.header("set-cookie").unwrap().split(';').next().unwrap().to_string()
}

async fn portal_links_go_by_consent_expire_are_used_once_and_open_only_the_portal<S: Store>(store: S) {
    let app = portal_app(store, 3600).await;
    let frontdesk = app.login("frontdesk").await;
    let consented = app
        .create_patient(
            &frontdesk,
            json!({ "given_name": "Rae", "family_name": "Lind", "date_of_birth": "1990-06-06", "phone": "5550100140",
                    "contact_channels": ["phone", "sms"], "preferred_contact_channel": "phone" }),
        )
        .await;
    let silent = app.create_patient(&frontdesk, json!({ "given_name": "Noa", "family_name": "Quiet", "date_of_birth": "1991-06-06", "phone": "5550100141" })).await;
    let links = |p: &serde_json::Value| format!("/api/v1/patients/{}/portal-links", p["id"].as_str().unwrap());

    // No consented channel that can carry a link: refused, nothing written.
    let refused = app.send(req("POST", &links(&silent)).token(&frontdesk).json(json!({ "purpose": "questionnaire", "instrument": "phq-9" }))).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.problem_fields(), ["contact_channels"]);
    assert!(app.clinic.store().list_outbox(10).await.unwrap().is_empty());
    // A clinician-rated instrument cannot be sent to the patient.
    let ciwa = app.send(req("POST", &links(&consented)).token(&frontdesk).json(json!({ "purpose": "questionnaire", "instrument": "ciwa-ar" }))).await;
    assert_eq!(ciwa.problem_fields(), ["instrument"]);

    let sent = app.send(req("POST", &links(&consented)).token(&frontdesk).json(json!({ "purpose": "questionnaire", "instrument": "phq-9" }))).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    assert_eq!(sent.json()["channel"], "sms", "phone calls cannot carry a link: the consented SMS is used");
    assert!(!sent.text.contains("/portal/l/"), "the link is never in the API response");
    let message = app.clinic.store().list_outbox(1).await.unwrap().remove(0);
    assert_eq!(message.address, "5550100140");
    for word in ["PHQ", "ketamine", "depress", "Lind", "treatment"] {
        assert!(!message.body.contains(word), "message reveals {word}: {}", message.body);
    }
    let path = link_path(&app).await;

    // Opening the link starts a portal session in its own cookie.
    let opened = app.send(req("GET", &path)).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert_eq!(opened.header("location").as_deref(), Some("/portal"));
    let session = cookie(&opened);
    assert!(session.starts_with("kc_portal="));
    assert!(opened.header("set-cookie").unwrap().contains("HttpOnly"));
    let portal = app.send(req("GET", "/portal").header("cookie", &session)).await;
    assert_eq!(portal.status, StatusCode::OK);
    assert!(portal.text.contains("Hello Rae") && portal.text.contains("Feeling down, depressed, or hopeless"));
    assert!(!portal.text.contains("Lind") && !portal.text.contains("Quiet"), "nothing beyond the patient's first name and questionnaire");
    // The portal cookie opens nothing else.
    assert_eq!(app.send(req("GET", "/api/v1/patients").header("cookie", &session)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.send(req("GET", "/home").header("cookie", &session)).await.status, StatusCode::SEE_OTHER);
    // Without the session's form token, a post is refused.
    let forged = app.send(req("POST", "/portal").header("cookie", &session).raw("item1=0", FORM)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Answering with item 9 above 0 shows crisis resources at once and alerts the clinicians.
    let token = portal.text.split("name=\"form_token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let answers = format!("form_token={token}&item1=1&item2=2&item3=1&item4=1&item5=0&item6=1&item7=0&item8=0&item9=1");
    let done = app.send(req("POST", "/portal").header("cookie", &session).raw(&answers, FORM)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    for text in ["Please reach out now", "tel:988", "tel:911", "555-010-0901"] {
        assert!(done.text.contains(text), "crisis page lacks {text}");
    }
    let physician = app.login("physician").await;
    let alerts = app.send(req("GET", "/api/v1/alerts").token(&physician)).await.json();
    assert_eq!(alerts["items"].as_array().unwrap().len(), 1);
    assert!(alerts["items"][0]["message"].as_str().unwrap().contains("in the portal"));
    let history = app.send(req("GET", &format!("/api/v1/patients/{}/questionnaire-responses", consented["id"].as_str().unwrap())).token(&physician)).await.json();
    assert_eq!(history["items"][0]["source"], "portal");

    // Single use: the link and the form are spent.
    let reopened = app.send(req("GET", &path)).await;
    assert_eq!(reopened.status, StatusCode::GONE);
    assert!(reopened.text.contains("already used"));
    let twice = app.send(req("POST", "/portal").header("cookie", &session).raw(&answers, FORM)).await;
    assert_ne!(twice.status, StatusCode::OK, "a second answer is refused");
    assert_eq!(app.send(req("GET", &format!("/api/v1/patients/{}/questionnaire-responses", consented["id"].as_str().unwrap())).token(&physician)).await.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.send(req("GET", "/portal/l/not-a-real-token")).await.status, StatusCode::NOT_FOUND);
    for action in ["portal.link_create", "portal.open", "portal.read", "portal.link_refused", "questionnaire.record", "alert.raise"] {
        assert!(!app.audit_events(AuditFilter { action: Some(action.into()), ..Default::default() }).await.is_empty(), "{action} not audited");
    }
}

/// Links expire: a one-second link, opened after it lapsed, is refused.
#[tokio::test]
async fn an_expired_link_is_refused() {
    let app = portal_app(crate::helpers::fresh_sqlite().await, 1).await;
    let frontdesk = app.login("frontdesk").await;
    let patient = app
        .create_patient(&frontdesk, json!({ "given_name": "Eli", "family_name": "Late", "date_of_birth": "1990-01-01", "email": "eli@example.org", "contact_channels": ["email"] }))
        .await;
    let sent = app.send(req("POST", &format!("/api/v1/patients/{}/portal-links", patient["id"].as_str().unwrap())).token(&frontdesk).json(json!({ "purpose": "signin" }))).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    assert_eq!(sent.json()["channel"], "email");
    let path = link_path(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let late = app.send(req("GET", &path)).await;
    assert_eq!(late.status, StatusCode::GONE);
    assert!(late.text.contains("expired"));
    assert!(late.header("set-cookie").is_none());
}

async fn the_self_check_scores_and_stores_nothing<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let before = app.audit_events(AuditFilter::default()).await.len();
    let page = app.send(req("GET", "/self-check")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("How often do you have a drink containing alcohol?"), "AUDIT-C wording ships (public domain)");
    assert!(page.text.contains("not available yet"), "DAST-10 wording is licensed: not shipped");
    let risky = app.send(req("POST", "/self-check").raw("instrument=audit-c&sex=male&item1=2&item2=1&item3=1", FORM)).await;
    assert_eq!(risky.status, StatusCode::OK, "{}", risky.text);
    assert!(risky.text.contains("may be risky"), "4 or more for men");
    let fine = app.send(req("POST", "/self-check").raw("instrument=audit-c&sex=male&item1=1&item2=1&item3=1", FORM)).await;
    assert!(fine.text.contains("do not point to risky drinking"));
    let unsure = app.send(req("POST", "/self-check").raw("instrument=audit-c&sex=&item1=1&item2=1&item3=1", FORM)).await;
    assert!(unsure.text.contains("For women, a score of 3 or more"), "without a sex both cut-offs are explained");
    let incomplete = app.send(req("POST", "/self-check").raw("instrument=audit-c&item1=1", FORM)).await;
    assert_eq!(incomplete.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(risky.text.contains("Ask us to contact you") && risky.text.contains("988"));
    assert_eq!(app.audit_events(AuditFilter::default()).await.len(), before, "nothing is stored or logged about the person");
}

async fn a_signin_link_lets_the_patient_sign_consents_in_the_portal<S: Store>(store: S) {
    let app = portal_app(store, 3600).await;
    let nurse = app.login("nurse").await;
    let patient = app
        .create_patient(&nurse, json!({ "given_name": "Ida", "family_name": "Sign", "date_of_birth": "1988-08-08", "email": "ida@example.org", "contact_channels": ["email"] }))
        .await;
    let pid = patient["id"].as_str().unwrap().to_string();
    let sent = app.send(req("POST", &format!("/api/v1/patients/{pid}/portal-links")).token(&nurse).json(json!({ "purpose": "signin" }))).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    let opened = app.send(req("GET", &link_path(&app).await)).await;
    let session = cookie(&opened);
    let page = app.send(req("GET", "/portal").header("cookie", &session)).await;
    assert!(page.text.contains("Consent to treatment") && page.text.contains("Consent to ketamine infusions"));
    assert!(!page.text.contains("Consent to share records"), "the Part 2 consent is completed with staff");
    let token = page.text.split("name=\"form_token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let sha = page.text.split("name=\"shown_text_sha256\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // A signature is required; the text shown must be the current one.
    let unsigned = app.send(req("POST", "/portal/consents").header("cookie", &session).raw(&format!("form_token={token}&kind=treatment&shown_text_sha256={sha}&signature="), FORM)).await;
    assert_eq!(unsigned.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unsigned.text.contains("type your full name"));
    let part2 = app.send(req("POST", "/portal/consents").header("cookie", &session).raw(&format!("form_token={token}&kind=part2_disclosure&shown_text_sha256={sha}&signature=Ida+Sign"), FORM)).await;
    assert_eq!(part2.status, StatusCode::UNPROCESSABLE_ENTITY);
    let signed = app.send(req("POST", "/portal/consents").header("cookie", &session).raw(&format!("form_token={token}&kind=treatment&shown_text_sha256={sha}&signature=Ida+Sign"), FORM)).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
    let consents = app.send(req("GET", &format!("/api/v1/patients/{pid}/consents")).token(&nurse)).await.json();
    let items = consents["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!((items[0]["subtype"].as_str(), items[0]["in_force"].as_bool()), (Some("treatment"), Some(true)));
    assert_eq!(items[0]["body"]["signer_name"], "Ida Sign");
    let signed_event = app.audit_events(AuditFilter { action: Some("consent.sign".into()), ..Default::default() }).await;
    assert!(signed_event[0].actor.starts_with("patient:"), "signed by the patient, not staff");
    assert!(app.send(req("GET", "/portal").header("cookie", &session)).await.text.contains("Signed: </strong>Consent to treatment"));
}
