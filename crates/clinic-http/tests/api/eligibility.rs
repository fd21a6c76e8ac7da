//! Medical screening, consents and the signed eligibility decision over HTTP.

use axum::http::StatusCode;
use clinic_service::DeploymentMode;
use clinic_store::records::AuditFilter;
use clinic_store::Store;
use serde_json::{json, Value};

use crate::helpers::{req, spawn_app, TestApp};

crate::backend_tests!(
    screening_consents_and_a_signed_decision,
    an_excluding_answer_needs_a_named_override_and_a_reason,
    the_screening_form_keeps_what_was_typed_and_names_each_field,
    the_part2_consent_is_signed_at_the_tablet_with_every_element,
);

/// A complete screening: every checklist item `no`, unless `changes` say otherwise.
fn screening(changes: &[(&str, &str)]) -> Value {
    let mut items = serde_json::Map::new();
    for c in clinic_domain::screening::CONTRAINDICATIONS {
        items.insert(c.id.as_str().to_string(), json!("no"));
    }
    let mut body = json!({
        "contraindications": items,
        "allergies_reviewed": "yes", "benzodiazepine_use": "no", "lamotrigine_use": "no", "moud": "not_on_moud",
        "systolic_bp_mmhg": "124", "diastolic_bp_mmhg": "78", "heart_rate_bpm": "72", "respiratory_rate_per_min": "14",
        "spo2_percent": "98", "weight_kg": "70", "height_cm": "175", "pregnancy_status": "not_applicable",
        "withdrawal_seizure_history": "no", "delirium_tremens_history": "no",
        "pdmp_checked_on": "2026-11-20", "pdmp_checked_by": "Test nurse", "pdmp_result": "no other controlled prescriptions", "pdmp_concerning": "no"
    });
    for (key, value) in changes {
        if let Some(item) = key.strip_prefix("ci.") {
            body["contraindications"][item] = json!(value);
        } else {
            body[*key] = json!(value);
        }
    }
    body
}

pub(crate) async fn sign_consent<S: Store>(app: &TestApp<S>, token: &str, patient: &str, kind: &str) -> Value {
    let templates = app.send(req("GET", "/api/v1/consent-templates").token(token)).await.json();
    let template = templates["items"].as_array().unwrap().iter().find(|t| t["kind"] == kind).unwrap().clone();
    let res = app
        .send(req("POST", &format!("/api/v1/patients/{patient}/consents")).token(token).json(json!({
            "kind": kind, "signature": "Lee Ward", "signer_capacity": "patient", "shown_text_sha256": template["text_sha256"]
        })))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.json()
}

fn rules(proposal: &Value) -> Vec<String> {
    proposal["body"]["proposal"]["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_string()).collect()
}

async fn screening_consents_and_a_signed_decision<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let nurse = app.login("nurse").await;
    let physician = app.login("physician").await;
    let patient = app.create_patient(&nurse, json!({ "given_name": "Lee", "family_name": "Ward", "date_of_birth": "1984-04-04", "sex_at_birth": "male" })).await;
    let id = patient["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/patients/{id}");

    // The clinicians' home lists patients who cannot be treated until consents are signed.
    let home = app.send(req("GET", "/home").token(&physician)).await;
    assert!(home.text.contains("Patients missing consents") && home.text.contains("Lee Ward"), "home lists missing consents");

    // No proposal before a medical screening.
    let early = app.send(req("POST", &format!("{base}/eligibility")).token(&nurse)).await;
    assert_eq!(early.problem_fields(), ["medical_screening"]);

    // A screening is refused whole, naming each field; stopping MOUD is never accepted.
    let mut incomplete = screening(&[("moud", "stopped"), ("spo2_percent", "140")]);
    incomplete["contraindications"].as_object_mut().unwrap().remove("heart_failure");
    let refused = app.send(req("POST", &format!("{base}/medical-screenings")).token(&nurse).json(incomplete)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    let fields = refused.problem_fields();
    for field in ["contraindications.heart_failure", "moud", "spo2_percent"] {
        assert!(fields.iter().any(|f| f == field), "{field} not named in {fields:?}");
    }
    let saved = app.send(req("POST", &format!("{base}/medical-screenings")).token(&nurse).json(screening(&[]))).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text);
    assert_eq!(saved.json()["body"]["screened_by"], "Test nurse");

    // Without consents: not eligible, and every reason is there, not only the first.
    let first = app.send(req("POST", &format!("{base}/eligibility")).token(&nurse)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let first = first.json();
    assert_eq!(first["subtype"], "not_eligible");
    let first_rules = rules(&first);
    assert!(first_rules.iter().any(|r| r.contains("consent")), "{first_rules:?}");
    assert!(first_rules.len() >= 3, "all reasons, not the first: {first_rules:?}");
    assert!(first["body"]["inputs"]["screening"]["vitals"].is_object(), "the inputs are kept with the proposal");

    // Consents: the text shown must be the current one; Part 2 needs every element.
    let bad_hash = app.send(req("POST", &format!("{base}/consents")).token(&nurse).json(json!({ "kind": "treatment", "signature": "Lee Ward", "signer_capacity": "patient", "shown_text_sha256": "00" }))).await;
    assert_eq!(bad_hash.problem_fields(), ["shown_text_sha256"]);
    let templates = app.send(req("GET", "/api/v1/consent-templates").token(&nurse)).await.json();
    let part2 = templates["items"].as_array().unwrap().iter().find(|t| t["kind"] == "part2_disclosure").unwrap().clone();
    let no_recipients = app
        .send(req("POST", &format!("{base}/consents")).token(&nurse).json(json!({
            "kind": "part2_disclosure", "signature": "Lee Ward", "signer_capacity": "patient", "shown_text_sha256": part2["text_sha256"],
            "part2": { "patient_name": "Lee Ward", "disclosing_party": "Harbor Light Clinic", "information_description": "diagnosis and treatment",
                       "purpose": "treatment_payment_operations", "expiry": "event_or_condition", "expiry_event": "end of treatment" }
        })))
        .await;
    assert_eq!(no_recipients.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_recipients.problem_fields().iter().any(|f| f.contains("recipients")), "{:?}", no_recipients.problem_fields());
    let treatment = sign_consent(&app, &nurse, &id, "treatment").await;
    assert_eq!(treatment["in_force"], true);
    sign_consent(&app, &nurse, &id, "infusion").await;

    // Now the proposal no longer names consents; unset clinic limits ask for review.
    let second = app.send(req("POST", &format!("{base}/eligibility")).token(&nurse)).await.json();
    let second_rules = rules(&second);
    assert!(!second_rules.iter().any(|r| r.contains("consent")), "{second_rules:?}");
    // Blood pressure, BMI and age limits ship unset (clinical.md gives none): review, never a silent pass.
    assert_eq!(second["subtype"], "needs_physician_review", "{second_rules:?}");
    for rule in ["baseline_bp", "bmi", "age"] {
        assert!(second_rules.iter().any(|r| r == rule), "{rule} in {second_rules:?}");
    }

    // Only a physician signs; a decision against the proposal needs a reason; signed once.
    let sign = format!("/api/v1/eligibility/{}/sign", second["id"].as_str().unwrap());
    assert_eq!(app.send(req("POST", &sign).token(&nurse).header("if-match", "\"1\"").json(json!({ "decision": "eligible" }))).await.status, StatusCode::FORBIDDEN);
    let unreasoned = app.send(req("POST", &sign).token(&physician).header("if-match", "\"1\"").json(json!({ "decision": "eligible" }))).await;
    assert_eq!(unreasoned.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unreasoned.text);
    assert_eq!(unreasoned.problem_fields(), ["reason"]);
    let signed = app
        .send(req("POST", &sign).token(&physician).header("if-match", "\"1\"").json(json!({ "decision": "eligible", "reason": "Reviewed: blood pressure and BMI acceptable for this patient." })))
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
    let signed = signed.json();
    assert_eq!(signed["body"]["decision"], "eligible");
    let after = app.send(req("GET", &base).token(&physician)).await.json();
    assert_eq!(after["status"], "eligible", "the signed decision sets the patient's status");
    assert!(signed["body"]["physician"].as_str().unwrap().contains("physician"));
    let again = app.send(req("POST", &sign).token(&physician).header("if-match", "\"2\"").json(json!({ "decision": "not_eligible", "reason": "changed my mind" }))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let history = app.send(req("GET", &format!("{base}/eligibility")).token(&physician)).await.json();
    assert_eq!(history["items"].as_array().unwrap().len(), 2, "every proposal and decision is kept");

    // Revocation takes effect at once, and the next proposal sees it.
    let revoke = format!("/api/v1/consents/{}/revoke", treatment["id"].as_str().unwrap());
    let no_how = app.send(req("POST", &revoke).token(&nurse).header("if-match", "\"1\"").json(json!({}))).await;
    assert_eq!(no_how.problem_fields(), ["how"]);
    let revoked = app.send(req("POST", &revoke).token(&nurse).header("if-match", "\"1\"").json(json!({ "how": "signed note at the desk" }))).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.json()["in_force"], false);
    let consents = app.send(req("GET", &format!("{base}/consents")).token(&nurse)).await.json();
    assert_eq!(consents["items"].as_array().unwrap().iter().filter(|c| c["in_force"] == true).count(), 1);
    let third = app.send(req("POST", &format!("{base}/eligibility")).token(&nurse)).await.json();
    assert_eq!(third["subtype"], "not_eligible");

    for action in ["screening.record", "screening.read", "eligibility.propose", "eligibility.sign", "consent.sign", "consent.read", "consent.revoke"] {
        assert!(!app.audit_events(AuditFilter { action: Some(action.into()), ..Default::default() }).await.is_empty(), "{action} not audited");
    }
    // The chart shows it.
    let tab = app.send(req("GET", &format!("/patients/{id}?tab=screening")).token(&physician)).await;
    assert!(tab.text.contains("Proposal: not eligible"), "the latest proposal is on the chart");
    assert!(tab.text.contains("signed eligible by"), "earlier decisions stay listed");
    let consents_tab = app.send(req("GET", &format!("/patients/{id}?tab=consents")).token(&physician)).await;
    assert!(consents_tab.text.contains("Revoked") && consents_tab.text.contains("signed note at the desk"));
}

async fn an_excluding_answer_needs_a_named_override_and_a_reason<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let nurse = app.login("nurse").await;
    let physician = app.login("physician").await;
    let patient = app.create_patient(&nurse, json!({ "given_name": "Jo", "family_name": "Kell", "date_of_birth": "1979-09-09" })).await;
    let id = patient["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/patients/{id}");
    let saved = app
        .send(req("POST", &format!("{base}/medical-screenings")).token(&nurse).json(screening(&[("ci.active_ketamine_or_pcp_use_disorder", "yes"), ("withdrawal_seizure_history", "yes")])))
        .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text);
    sign_consent(&app, &nurse, &id, "treatment").await;
    sign_consent(&app, &nurse, &id, "infusion").await;
    let proposal = app.send(req("POST", &format!("{base}/eligibility")).token(&nurse)).await.json();
    assert_eq!(proposal["subtype"], "not_eligible");
    let all = rules(&proposal);
    assert!(all.iter().any(|r| r.contains("active_ketamine_or_pcp_use_disorder")), "{all:?}");
    assert!(all.iter().any(|r| r.contains("withdrawal") || r.contains("seizure")), "both excluding answers are reported: {all:?}");

    let sign = format!("/api/v1/eligibility/{}/sign", proposal["id"].as_str().unwrap());
    // Eligible against excluding reasons without naming them: refused.
    let unnamed = app.send(req("POST", &sign).token(&physician).header("if-match", "\"1\"").json(json!({ "decision": "eligible", "reason": "I judge it safe" }))).await;
    assert_eq!(unnamed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unnamed.text);
    assert!(unnamed.problem_fields().iter().any(|f| f == "overridden_rules"), "{:?}", unnamed.problem_fields());
    // Agreeing with the proposal needs no reason.
    let agreed = app.send(req("POST", &sign).token(&physician).header("if-match", "\"1\"").json(json!({ "decision": "not_eligible" }))).await;
    assert_eq!(agreed.status, StatusCode::OK, "{}", agreed.text);
    assert_eq!(agreed.json()["body"]["agrees_with_proposal"], true);
}

async fn the_screening_form_keeps_what_was_typed_and_names_each_field<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let nurse = app.login("nurse").await;
    let patient = app.create_patient(&nurse, json!({ "given_name": "Max", "family_name": "Form", "date_of_birth": "1970-01-01" })).await;
    let id = patient["id"].as_str().unwrap().to_string();
    let form = app.send(req("GET", &format!("/patients/{id}/medical-screening/new")).token(&nurse)).await;
    assert_eq!(form.status, StatusCode::OK);
    for c in clinic_domain::screening::CONTRAINDICATIONS {
        assert!(form.text.contains(&format!("name=\"ci_{}\"", c.id.as_str())), "{} missing from the form", c.id.as_str());
    }
    // Half a form: refused, the typed values kept, the missing ones named.
    let partial = "ci_heart_failure=yes&systolic_bp_mmhg=132&allergies_reviewed=yes";
    let refused = app.send(req("POST", &format!("/patients/{id}/medical-screening")).token(&nurse).raw(partial, crate::helpers::FORM)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("value=\"132\""), "typed values are kept");
    assert!(refused.text.contains("name=\"ci_heart_failure\" value=\"yes\" checked"), "answers are kept");
    assert!(refused.text.contains("Nothing was saved yet"));
    // Complete: saved, and the chart's Screening tab shows it.
    let mut complete: Vec<String> = clinic_domain::screening::CONTRAINDICATIONS.iter().map(|c| format!("ci_{}=no", c.id.as_str())).collect();
    complete.extend(
        [
            "allergies_reviewed=yes", "benzodiazepine_use=no", "lamotrigine_use=no", "moud=not_on_moud", "systolic_bp_mmhg=120", "diastolic_bp_mmhg=80",
            "heart_rate_bpm=70", "respiratory_rate_per_min=14", "spo2_percent=97", "weight_kg=80", "height_cm=180", "pregnancy_status=not_applicable",
            "withdrawal_seizure_history=no", "delirium_tremens_history=no",
        ]
        .map(str::to_string),
    );
    let saved = app.send(req("POST", &format!("/patients/{id}/medical-screening")).token(&nurse).raw(&complete.join("&"), crate::helpers::FORM)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let tab = app.send(req("GET", &format!("/patients/{id}?tab=screening")).token(&nurse)).await;
    assert!(tab.text.contains("every item answered no") && tab.text.contains("24.7 kg/m²"), "BMI 80 / 1.8² = 24.69…");
}

async fn the_part2_consent_is_signed_at_the_tablet_with_every_element<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let frontdesk = app.login("frontdesk").await;
    let patient = app.create_patient(&frontdesk, json!({ "given_name": "Pat", "family_name": "Two", "date_of_birth": "1982-02-02" })).await;
    let id = patient["id"].as_str().unwrap().to_string();
    let tab = app.send(req("GET", &format!("/patients/{id}?tab=consents")).token(&frontdesk)).await;
    assert!(tab.text.contains("42 CFR Part 2 consent to disclose") && tab.text.contains("Sign on this tablet"));
    let sha = tab.text.split("name=\"kind\" value=\"part2_disclosure\"").nth(1).unwrap().split("name=\"shown_text_sha256\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let base = format!("kind=part2_disclosure&shown_text_sha256={sha}&purpose=treatment_payment_operations&expiry=event_or_condition&expiry_event=End+of+treatment&information_description=Diagnosis+and+treatment&signature=Pat+Two&signer_capacity=patient");
    // Recipients are a required element: refused, naming it.
    let refused = app.send(req("POST", &format!("/patients/{id}/consents")).token(&frontdesk).raw(&base, crate::helpers::FORM)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("recipients"), "{}", refused.text);
    let signed = app
        .send(req("POST", &format!("/patients/{id}/consents")).token(&frontdesk).raw(&format!("{base}&recipients=My+treating+providers%0AMy+health+plan"), crate::helpers::FORM))
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
    let consents = app.send(req("GET", &format!("/api/v1/patients/{id}/consents")).token(&frontdesk)).await.json();
    let part2 = &consents["items"][0];
    assert_eq!(part2["in_force"], true);
    assert_eq!(part2["body"]["part2"]["recipients"], json!(["My treating providers", "My health plan"]));
    assert_eq!(part2["body"]["part2"]["patient_name"], "Pat Two", "the patient's name is filled in from the record");
}
