//! The inquiry API: public submission with honeypot and rate limit, the
//! queue's status flow and call log, conversion with the duplicate check.

use axum::http::StatusCode;
use clinic_service::DeploymentMode;
use clinic_store::records::AuditFilter;
use clinic_store::Store;
use serde_json::json;

use crate::helpers::{req, spawn_app, FORM};

pub fn inquiry_body(name: &str) -> serde_json::Value {
    json!({
        "name": name, "phone": "555-010-0150", "substances": ["alcohol"], "preferred_contact_time": "after 5 pm",
        "message": "I want to stop drinking", "consent_to_contact": true
    })
}

crate::backend_tests!(
    a_public_inquiry_is_stored_and_audited,
    every_inquiry_field_is_validated,
    honeypot_and_rate_limit_stop_bots_not_staff,
    the_queue_follows_the_status_flow_and_logs_calls,
    conversion_registers_the_patient_with_the_duplicate_check,
    the_pages_work_the_queue_and_are_audited,
    the_overdue_filter_lists_stale_untouched_inquiries,
);

async fn a_public_inquiry_is_stored_and_audited<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let res = app.send(req("POST", "/api/v1/inquiries").json(inquiry_body("Sam Rivers"))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let created = res.json();
    for (field, value) in [("name", json!("Sam Rivers")), ("phone", json!("5550100150")), ("contact_channel", json!("phone")), ("status", json!("new")), ("consent_to_contact", json!(true)), ("substances", json!(["alcohol"]))] {
        assert_eq!(created[field], value, "{field}");
    }
    let id = created["id"].as_str().unwrap().to_string();
    let events = app.audit_events(AuditFilter { action: Some("inquiry.create".into()), ..Default::default() }).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "anonymous");
    assert_eq!(events[0].resource_id.as_deref(), Some(id.as_str()));
    assert_eq!(events[0].client_addr.as_deref(), Some("127.0.0.1"));

    let staff = app.login("frontdesk").await;
    let list = app.send(req("GET", "/api/v1/inquiries").token(&staff)).await.json();
    assert_eq!(list["items"][0]["id"], created["id"]);
    let one = app.send(req("GET", &format!("/api/v1/inquiries/{id}")).token(&staff)).await;
    assert_eq!(one.json()["calls"], json!([]));
    let reads = app.audit_events(AuditFilter { action: Some("inquiry.read".into()), ..Default::default() }).await;
    assert_eq!(reads.len(), 1);
    assert_eq!(app.audit_events(AuditFilter { action: Some("inquiry.list".into()), ..Default::default() }).await.len(), 1);
    // Signed out, the queue is closed.
    assert_eq!(app.send(req("GET", "/api/v1/inquiries")).await.status, StatusCode::UNAUTHORIZED);
}

async fn every_inquiry_field_is_validated<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let staff = app.login("frontdesk").await;
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (json!({"phone": "5550100150", "consent_to_contact": true}), vec!["name"]),
        (json!({"name": "A", "consent_to_contact": true}), vec!["phone", "email", "contact_channel"]),
        (json!({"name": "A", "phone": "12", "consent_to_contact": true}), vec!["phone"]),
        (json!({"name": "A", "email": "nope", "consent_to_contact": true}), vec!["email"]),
        (json!({"name": "A", "phone": "5550100150", "substances": ["glue"], "consent_to_contact": true}), vec!["substances"]),
        (json!({"name": "A", "phone": "5550100150", "contact_channel": "fax", "consent_to_contact": true}), vec!["contact_channel"]),
        (json!({"name": "A", "phone": "5550100150", "contact_channel": "email", "consent_to_contact": true}), vec!["contact_channel"]),
        (json!({"name": "A", "phone": "5550100150", "message": "x".repeat(2001), "consent_to_contact": true}), vec!["message"]),
        (json!({"name": "A", "phone": "5550100150", "preferred_contact_time": "x".repeat(201), "consent_to_contact": true}), vec!["preferred_contact_time"]),
        (json!({"name": "A", "phone": "5550100150"}), vec!["consent_to_contact"]),
        (json!({"name": "A", "phone": "5550100150", "consent_to_contact": false}), vec!["consent_to_contact"]),
    ];
    for (body, fields) in cases {
        let res = app.send(req("POST", "/api/v1/inquiries").token(&staff).json(body.clone())).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.text);
        assert_eq!(res.problem_fields(), fields, "{body}");
    }
    let wrong_type = app.send(req("POST", "/api/v1/inquiries").token(&staff).json(json!({"name": "A", "consent_to_contact": "yes"}))).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.problem_fields(), ["consent_to_contact"]);
    let sms = app.send(req("POST", "/api/v1/inquiries").token(&staff).json(json!({"name": "A", "phone": "5550100150", "contact_channel": "sms", "consent_to_contact": true}))).await;
    assert_eq!(sms.status, StatusCode::CREATED);
    let list = app.send(req("GET", "/api/v1/inquiries").token(&staff)).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "nothing refused was stored");
}

async fn honeypot_and_rate_limit_stop_bots_not_staff<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let mut bot = inquiry_body("Bot");
    bot["website"] = json!("http://spam.example");
    let res = app.send(req("POST", "/api/v1/inquiries").json(bot)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["code"], "spam_suspected");
    // A person may send at least 5 a minute; past the limit, 429 with Retry-After.
    let mut accepted = 0;
    let refused = loop {
        let res = app.send(req("POST", "/api/v1/inquiries").json(inquiry_body("Repeat"))).await;
        if res.status != StatusCode::CREATED {
            break res;
        }
        accepted += 1;
        assert!(accepted <= 100, "no limit");
    };
    assert!(accepted >= 5, "only {accepted} accepted");
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.json()["code"], "throttled");
    assert!(refused.header("retry-after").is_some());
    // Staff typing in phone calls are not limited.
    let staff = app.login("frontdesk").await;
    for _ in 0..3 {
        assert_eq!(app.send(req("POST", "/api/v1/inquiries").token(&staff).json(inquiry_body("Phoned In"))).await.status, StatusCode::CREATED);
    }
    let created = app.audit_events(AuditFilter { action: Some("inquiry.create".into()), ..Default::default() }).await;
    assert_eq!(created.iter().filter(|e| e.actor == "frontdesk").count(), 3);
    assert!(created.iter().filter(|e| e.actor == "frontdesk").all(|e| e.detail.as_deref() == Some(r#"{"source":"phone"}"#)));
}

async fn the_queue_follows_the_status_flow_and_logs_calls<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let staff = app.login("frontdesk").await;
    let created = app.send(req("POST", "/api/v1/inquiries").json(inquiry_body("Jo Park"))).await.json();
    let uri = format!("/api/v1/inquiries/{}", created["id"].as_str().unwrap());

    let bad = app.send(req("POST", &format!("{uri}/calls")).token(&staff).json(json!({"outcome": "busy", "direction": "sideways"}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.problem_fields(), ["direction", "outcome"]);
    let first = app.send(req("POST", &format!("{uri}/calls")).token(&staff).json(json!({"outcome": "no_answer"}))).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.json()["status"], "new", "no answer leaves it new");
    assert!(!first.json()["last_contact_at"].is_null());
    let reached = app.send(req("POST", &format!("{uri}/calls")).token(&staff).json(json!({"outcome": "reached", "note": "wants evening slot"}))).await.json();
    assert_eq!(reached["status"], "contacted");
    let inbound = app.send(req("POST", &format!("{uri}/calls")).token(&staff).json(json!({"direction": "inbound", "outcome": "screening_booked"}))).await.json();
    assert_eq!(inbound["status"], "screening_booked");
    let read = app.send(req("GET", &uri).token(&staff)).await;
    let calls = read.json()["calls"].as_array().unwrap().clone();
    assert_eq!(calls.iter().map(|c| c["outcome"].as_str().unwrap()).collect::<Vec<_>>(), ["no_answer", "reached", "screening_booked"]);
    assert_eq!(calls[2]["direction"], "inbound");
    let etag = read.header("etag").unwrap();

    // Converting by PATCH is refused; closing needs a reason; a stale ETag is 412.
    let to_converted = app.send(req("PATCH", &uri).token(&staff).header("if-match", &etag).json(json!({"status": "converted"}))).await;
    assert_eq!(to_converted.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(to_converted.problem_fields(), ["status"]);
    let no_reason = app.send(req("PATCH", &uri).token(&staff).header("if-match", &etag).json(json!({"status": "closed"}))).await;
    assert_eq!(no_reason.problem_fields(), ["close_reason"]);
    let bad_user = app.send(req("PATCH", &uri).token(&staff).header("if-match", &etag).json(json!({"assigned_to": "nobody"}))).await;
    assert_eq!(bad_user.problem_fields(), ["assigned_to"]);
    let assigned = app.send(req("PATCH", &uri).token(&staff).header("if-match", &etag).json(json!({"assigned_to": "nurse"}))).await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.text);
    let stale = app.send(req("PATCH", &uri).token(&staff).header("if-match", &etag).json(json!({"status": "closed", "close_reason": "unreachable"}))).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let closed = app
        .send(req("PATCH", &uri).token(&staff).header("if-match", &assigned.header("etag").unwrap()).json(json!({"status": "closed", "close_reason": "not_interested"})))
        .await;
    assert_eq!(closed.status, StatusCode::OK);
    assert_eq!(closed.json()["close_reason"], "not_interested");
    let filtered = app.send(req("GET", "/api/v1/inquiries?status=closed").token(&staff)).await.json();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let bad_status = app.send(req("GET", "/api/v1/inquiries?status=open").token(&staff)).await;
    assert_eq!(bad_status.problem_fields(), ["status"]);
    let updates = app.audit_events(AuditFilter { action: Some("inquiry.call".into()), ..Default::default() }).await;
    assert_eq!(updates.len(), 3);
}

async fn conversion_registers_the_patient_with_the_duplicate_check<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let staff = app.login("frontdesk").await;
    let existing = app.create_patient(&staff, json!({"given_name": "Ana", "family_name": "Diaz", "date_of_birth": "1980-01-02"})).await;
    let created = app.send(req("POST", "/api/v1/inquiries").json(json!({"name": "Ana Diaz", "email": "ana@example.org", "substances": ["cocaine"], "consent_to_contact": true}))).await.json();
    let uri = format!("/api/v1/inquiries/{}", created["id"].as_str().unwrap());
    let missing_dob = app.send(req("POST", &format!("{uri}/convert")).token(&staff).header("if-match", "\"1\"").json(json!({}))).await;
    assert_eq!(missing_dob.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing_dob.problem_fields(), ["date_of_birth"]);
    let dup = app.send(req("POST", &format!("{uri}/convert")).token(&staff).header("if-match", "\"1\"").json(json!({"date_of_birth": "1980-01-02"}))).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.json()["duplicates"][0]["patient_id"], existing["id"]);
    let still = app.send(req("GET", &uri).token(&staff)).await.json();
    assert_eq!(still["status"], "new", "a refused conversion changes nothing");
    let ok = app
        .send(req("POST", &format!("{uri}/convert")).token(&staff).header("if-match", "\"1\"").json(json!({"date_of_birth": "1980-01-02", "confirm_not_duplicate": true, "sex_at_birth": "female"})))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let body = ok.json();
    assert_eq!(body["inquiry"]["status"], "converted");
    assert_eq!(body["inquiry"]["patient_id"], body["patient"]["id"]);
    assert_eq!(body["patient"]["given_name"], "Ana");
    assert_eq!(body["patient"]["family_name"], "Diaz");
    assert_eq!(body["patient"]["email"], "ana@example.org");
    assert_eq!(body["patient"]["substances"], json!(["cocaine"]));
    // The consent to be contacted, given on the inquiry's channel, carries over.
    assert_eq!(body["patient"]["contact_channels"], json!(["email"]));
    assert_eq!(body["patient"]["preferred_contact_channel"], "email");
    let again = app.send(req("POST", &format!("{uri}/convert")).token(&staff).header("if-match", "\"2\"").json(json!({"date_of_birth": "1980-01-02"}))).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "a converted inquiry cannot be converted again");
    let patient = app.send(req("GET", &format!("/api/v1/patients/{}", body["patient"]["id"].as_str().unwrap())).token(&staff)).await;
    assert_eq!(patient.status, StatusCode::OK);
}


async fn the_pages_work_the_queue_and_are_audited<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let count = |action: &'static str| {
        let app = &app;
        async move { app.audit_events(AuditFilter { action: Some(action.into()), ..Default::default() }).await.len() }
    };
    // The public form: errors keep what was typed; the honeypot refuses; success confirms.
    let missing = app.send(req("POST", "/inquire").raw("name=Lee+Page&phone=&email=", FORM)).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.text.contains("value=\"Lee Page\""), "the name is kept");
    assert!(missing.text.contains("give a phone number or an email address"));
    let bot = app.send(req("POST", "/inquire").raw("name=Bot&phone=5550100150&consent_to_contact=true&website=x", FORM)).await;
    assert_eq!(bot.status, StatusCode::BAD_REQUEST);
    let ok = app.send(req("POST", "/inquire").raw("name=Lee+Page&phone=555-010-0177&substances=opioids&consent_to_contact=true", FORM)).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert_eq!(ok.header("location").as_deref(), Some("/inquire/thanks"));
    let thanks = app.send(req("GET", "/inquire/thanks")).await;
    assert!(thanks.text.contains("within one business day") && thanks.text.contains("988"));
    assert!(missing.text.contains("Harbor Light Clinic"), "the clinic's name and phone stay on the page after an error");
    assert_eq!(count("inquiry.create").await, 1);

    let staff = app.login("frontdesk").await;
    let queue = app.send(req("GET", "/inquiries").token(&staff)).await;
    assert!(queue.text.contains("Lee Page"));
    assert_eq!(count("inquiry.list").await, 1);
    let id = app.send(req("GET", "/api/v1/inquiries").token(&staff)).await.json()["items"][0]["id"].as_str().unwrap().to_string();
    let page = app.send(req("GET", &format!("/inquiries/{id}")).token(&staff)).await;
    assert!(page.text.contains("Log call") && page.text.contains("Register patient"));
    let reads = count("inquiry.read").await;
    assert!(reads >= 1);

    let call = app.send(req("POST", &format!("/inquiries/{id}/calls")).token(&staff).raw("outcome=reached&direction=outbound&note=ok", FORM)).await;
    assert_eq!(call.status, StatusCode::SEE_OTHER);
    assert_eq!(count("inquiry.call").await, 1);
    let status = app.send(req("POST", &format!("/inquiries/{id}/status")).token(&staff).raw("version=2&status=screening_booked&close_reason=&assigned_to=nurse", FORM)).await;
    assert_eq!(status.status, StatusCode::SEE_OTHER, "{}", status.text);
    let assigned = app.send(req("GET", &format!("/inquiries/{id}")).token(&staff)).await;
    assert!(assigned.text.contains("Test nurse"), "the assignee is shown");
    assert!(app.send(req("GET", "/inquiries").token(&staff)).await.text.contains("Test nurse"), "and in the queue");
    assert_eq!(count("inquiry.update").await, 1);
    let stale = app.send(req("POST", &format!("/inquiries/{id}/status")).token(&staff).raw("version=2&status=closed&close_reason=spam", FORM)).await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stale.text.contains("changed by someone else"));
    let no_dob = app.send(req("POST", &format!("/inquiries/{id}/convert")).token(&staff).raw("version=3&date_of_birth=", FORM)).await;
    assert_eq!(no_dob.status, StatusCode::UNPROCESSABLE_ENTITY);
    let converted = app.send(req("POST", &format!("/inquiries/{id}/convert")).token(&staff).raw("version=3&date_of_birth=1979-03-04&sex_at_birth=male", FORM)).await;
    assert_eq!(converted.status, StatusCode::SEE_OTHER, "{}", converted.text);
    assert!(converted.header("location").unwrap().starts_with("/patients/"));
    assert_eq!(count("inquiry.convert").await, 1);

    // Staff record a phone inquiry through the form.
    assert_eq!(app.send(req("GET", "/inquiries/new").token(&staff)).await.status, StatusCode::OK);
    let phoned = app.send(req("POST", "/inquiries").token(&staff).raw("name=Phone+Caller&phone=5550100199&consent_to_contact=true", FORM)).await;
    assert_eq!(phoned.status, StatusCode::SEE_OTHER, "{}", phoned.text);
    assert_eq!(count("inquiry.create").await, 2);
    let home = app.send(req("GET", "/home").token(&staff)).await;
    assert!(home.text.contains("New inquiries to call back"));
}

async fn the_overdue_filter_lists_stale_untouched_inquiries<S: Store>(store: S) {
    use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
    let app = spawn_app(store, DeploymentMode::Production).await;
    let staff = app.login("frontdesk").await;
    let site = app.clinic.main_site().await.unwrap();
    let system = clinic_domain::audit::Actor { user_id: None, name: "test".into(), role: None, client_addr: None };
    // Two inquiries a week old (one then called back) and one from just now.
    let mut ids = Vec::new();
    for (name, age_days) in [("Old Untouched", 7), ("Old Called", 7), ("Fresh One", 0)] {
        let id = uuid::Uuid::now_v7();
        let created_at = clinic_service::now() - chrono::Duration::days(age_days);
        let input = clinic_domain::inquiry::InquiryInput { name: Some(name.into()), phone: Some("5550100111".into()), consent_to_contact: Some(true), ..Default::default() };
        let details = clinic_domain::inquiry::InquiryDetails::parse(&input).unwrap();
        let event = AuditEvent::new(uuid::Uuid::now_v7(), created_at, &system, AuditAction::InquiryCreate, AuditTarget::resource("inquiry", id.to_string()), Outcome::Success, None);
        app.clinic.store().create_inquiry(&clinic_store::records::NewInquiry { id, site_id: site.id, details, created_at }, &event).await.unwrap();
        ids.push(id);
    }
    let call = app.send(req("POST", &format!("/api/v1/inquiries/{}/calls", ids[1])).token(&staff).json(json!({"outcome": "no_answer"}))).await;
    assert_eq!(call.status, StatusCode::CREATED, "{}", call.text);

    let names = |body: serde_json::Value| body["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let overdue = app.send(req("GET", "/api/v1/inquiries?overdue=true").token(&staff)).await;
    assert_eq!(overdue.status, StatusCode::OK, "{}", overdue.text);
    assert_eq!(names(overdue.json()), ["Old Untouched"]);
    let everything = app.send(req("GET", "/api/v1/inquiries?overdue=false").token(&staff)).await;
    assert_eq!(names(everything.json()).len(), 3);
    let contradictory = app.send(req("GET", "/api/v1/inquiries?overdue=true&status=closed").token(&staff)).await;
    assert_eq!(contradictory.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(contradictory.problem_fields(), ["overdue"]);
    let not_bool = app.send(req("GET", "/api/v1/inquiries?overdue=yes").token(&staff)).await;
    assert_eq!(not_bool.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_bool.problem_fields(), ["overdue"]);

    // The home page counts it and links to the filtered queue, which lists it alone.
    let home = app.send(req("GET", "/home").token(&staff)).await;
    assert!(home.text.contains("href=\"/inquiries?overdue=true\""));
    let queue = app.send(req("GET", "/inquiries?overdue=true").token(&staff)).await;
    assert!(queue.text.contains("Old Untouched"));
    assert!(!queue.text.contains("Old Called") && !queue.text.contains("Fresh One"));
}
