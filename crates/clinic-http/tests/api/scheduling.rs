//! Scheduling through the real router on SQLite and PostgreSQL: site
//! settings, staff hours, booking a signed plan's events against chairs,
//! rooms, staff and rules (across New York's 2030 spring change), refusals
//! with alternatives, two bookings racing for the last chair, "schedule whole
//! plan" all-or-nothing, cancel/reschedule/no-show history, the day board,
//! the calendar feed, and day-before reminders.

use axum::http::StatusCode;
use clinic_service::scheduling::SchedulingSettings;
use clinic_service::{DeploymentMode, ServiceConfig};
use clinic_store::Store;

use crate::helpers::{req, spawn_app_with, TestApp, FORM};

crate::backend_tests!(booking_rules_history_and_views, two_bookings_race_for_the_last_chair, whole_plan_is_all_or_nothing);

pub(crate) fn config() -> ServiceConfig {
    let mut config = ServiceConfig::standard(DeploymentMode::Production);
    config.scheduling = SchedulingSettings { default_session_minutes: Some(60), preferred_start: None };
    config.safety.public_url = Some("https://clinic.example.org".into());
    config
}

/// The demo site with one chair and one room (or `chairs`), weekday hours,
/// 60 minutes' recovery, one nurse per chair, a physician on site; and a
/// nurse, physician and counselor on site 08:00–18:00 on weekdays of March 2030.
pub(crate) async fn set_up_site<S: Store>(app: &TestApp<S>, chairs: usize, closures: serde_json::Value) -> String {
    let admin = app.login("admin").await;
    let site_id = app.clinic.main_site().await.unwrap().id.to_string();
    let mut resources: Vec<serde_json::Value> = (1..=chairs).map(|c| serde_json::json!({"kind": "chair", "name": format!("Chair {c}")})).collect();
    resources.push(serde_json::json!({"kind": "room", "name": "Room A"}));
    let hours: Vec<serde_json::Value> = ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| serde_json::json!({"weekday": d, "opens": "08:00", "closes": "18:00"})).collect();
    let body = serde_json::json!({
        "recovery_minutes": 60, "nurses_per_chair": {"nurses": 1, "chairs": 1}, "physician_on_site": true,
        "hours": hours, "closures": closures, "resources": resources,
    });
    let res = app.send(req("PUT", &format!("/api/v1/sites/{site_id}/schedule")).token(&admin).json(body)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json()["needs_clinic_setting"], serde_json::json!([]));
    for username in ["nurse", "physician", "counselor"] {
        let user_id = app.clinic.store().list_users().await.unwrap().into_iter().find(|u| u.username == username).unwrap().id;
        let body = serde_json::json!({"user_id": user_id, "from": "2030-02-25", "to": "2030-04-05", "weekdays": ["mon", "tue", "wed", "thu", "fri"], "starts": "08:00", "ends": "18:00"});
        let res = app.send(req("POST", &format!("/api/v1/sites/{site_id}/staff-hours")).token(&admin).json(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        assert_eq!(res.json()["added"], 30);
    }
    site_id
}

/// An eligible patient with an escort and SMS consent, and a signed
/// clinic-series-6 plan starting Monday 2030-03-04. Returns (patient, plan, plan json).
pub(crate) async fn signed_plan<S: Store>(app: &TestApp<S>, family: &str, start: &str) -> (String, String, serde_json::Value) {
    let doctor = app.login("physician").await;
    let body = serde_json::json!({
        "given_name": "Ana", "family_name": family, "date_of_birth": "1980-01-01", "substances": ["alcohol"],
        "phone": "555-010-0199", "contact_channels": ["sms"], "preferred_contact_channel": "sms",
        "escort": {"name": format!("Luis {family}"), "relationship": "brother", "phone": "555-010-0198"},
        "confirm_not_duplicate": true,
    });
    let patient = app.create_patient(&doctor, body).await;
    let id = patient["id"].as_str().unwrap().to_string();
    let res = app.send(req("PATCH", &format!("/api/v1/patients/{id}")).token(&doctor).header("if-match", "\"1\"").json(serde_json::json!({"status": "eligible"}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app.send(req("POST", &format!("/api/v1/patients/{id}/plans")).token(&doctor).json(serde_json::json!({"protocol_id": "clinic-series-6", "start_date": start}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let plan_id = res.json()["id"].as_str().unwrap().to_string();
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/sign")).token(&doctor).header("if-match", "\"1\"")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    (id, plan_id, res.json())
}

fn infusion_ids(plan: &serde_json::Value) -> Vec<String> {
    plan["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "infusion").map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

async fn booking_rules_history_and_views<S: Store>(store: S) {
    let app = spawn_app_with(store, config()).await;
    let desk = app.login("frontdesk").await;
    let admin = app.login("admin").await;
    let site_id = app.clinic.main_site().await.unwrap().id.to_string();
    // Settings that contradict themselves are refused, naming each field.
    let bad = serde_json::json!({"recovery_minutes": 5000, "nurses_per_chair": {"nurses": 0, "chairs": 2},
        "hours": [{"weekday": "funday", "opens": "08:00", "closes": "07:00"}, {"weekday": "mon", "opens": "09:00", "closes": "08:00"}],
        "resources": [{"kind": "sofa", "name": "Chair 1"}]});
    let res = app.send(req("PUT", &format!("/api/v1/sites/{site_id}/schedule")).token(&admin).json(bad)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(res.problem_fields(), ["hours[0].weekday", "hours[1].closes", "recovery_minutes", "nurses_per_chair", "resources[0].kind"]);
    assert_eq!(app.send(req("PUT", &format!("/api/v1/sites/{site_id}/schedule")).token(&desk).json(serde_json::json!({}))).await.status, StatusCode::FORBIDDEN);
    // Unset settings are listed as needing the clinic's setting.
    let res = app.send(req("PUT", &format!("/api/v1/sites/{site_id}/schedule")).token(&admin).json(serde_json::json!({"resources": [{"kind": "chair", "name": "Chair 1"}]}))).await;
    assert_eq!(res.json()["needs_clinic_setting"], serde_json::json!(["recovery_minutes", "nurses_per_chair", "physician_on_site"]));
    set_up_site(&app, 1, serde_json::json!([])).await;

    let (patient, plan_id, plan) = signed_plan(&app, "Sched", "2030-03-04").await;
    let infusions = infusion_ids(&plan);
    let book = |event: &str, body: serde_json::Value| req("POST", &format!("/api/v1/plan-events/{event}/booking")).token(&desk).json(body);

    // Outside opening hours: every reason, and the nearest times that work.
    let res = app.send(book(&infusions[0], serde_json::json!({"time": "07:30"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    let problem = res.json();
    assert_eq!(problem["code"], "schedule_conflict");
    assert_eq!(problem["schedule"]["conflicts"][0]["code"], "outside_hours");
    let alternatives = problem["schedule"]["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty());
    assert_eq!(alternatives[0]["local"], "Mon 2030-03-04 08:00", "the nearest start that works");
    // Bad input names the field.
    let res = app.send(book(&infusions[0], serde_json::json!({"time": "9am", "date": "tomorrow"}))).await;
    assert_eq!(res.problem_fields(), ["date", "time"]);

    // Booked at 09:00 New York time: 14:00 UTC before the spring change, 13:00 UTC after it.
    let res = app.send(book(&infusions[0], serde_json::json!({"time": "09:00"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let first = res.json();
    assert_eq!(first["starts_at"], "2030-03-04T14:00:00Z");
    assert_eq!(first["occupied_until"], "2030-03-04T15:40:00Z", "40 minutes and 60 of recovery");
    assert_eq!(first["escort_name"], "Luis Sched", "the chart's escort is recorded");
    let res = app.send(book(&infusions[3], serde_json::json!({"time": "09:00"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json()["starts_at"], "2030-03-11T13:00:00Z");
    // The event is booked now, so it cannot be booked twice.
    let res = app.send(book(&infusions[0], serde_json::json!({"time": "11:00"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT);

    // A second patient's infusion during the first one's recovery: the only chair is busy.
    let (_, _, other_plan) = signed_plan(&app, "Other", "2030-03-04").await;
    let other = infusion_ids(&other_plan);
    let res = app.send(book(&other[0], serde_json::json!({"time": "09:30"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    let codes: Vec<String> = res.json()["schedule"]["conflicts"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_string()).collect();
    assert!(codes.contains(&"no_free_resource".to_string()) || codes.contains(&"chair_busy".to_string()), "{codes:?}");
    let res = app.send(book(&other[0], serde_json::json!({"time": "10:40"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "back to back after the recovery: {}", res.text);

    // Cancel (with a reason) returns the event to planned; the booking keeps its history.
    let id = first["id"].as_str().unwrap();
    let res = app.send(req("POST", &format!("/api/v1/bookings/{id}/cancel")).token(&desk).header("if-match", "\"1\"").json(serde_json::json!({}))).await;
    assert_eq!(res.problem_fields(), ["reason"]);
    // Another day is outside the protocol's day for this infusion: the physician moves the plan first.
    let res = app.send(req("POST", &format!("/api/v1/bookings/{id}/reschedule")).token(&desk).header("if-match", "\"1\"").json(serde_json::json!({"date": "2030-03-05", "time": "09:00", "reason": "patient asked"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.json()["schedule"]["conflicts"][0]["code"], "outside_window");
    let res = app.send(req("POST", &format!("/api/v1/bookings/{id}/reschedule")).token(&desk).header("if-match", "\"1\"").json(serde_json::json!({"date": "2030-03-04", "time": "13:00", "reason": "patient asked"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let moved = res.json();
    assert_eq!(moved["replaces"], id);
    let old = app.send(req("GET", &format!("/api/v1/bookings/{id}")).token(&desk)).await.json();
    assert_eq!((old["status"].as_str(), old["reason"].as_str()), (Some("rescheduled"), Some("patient asked")));
    let moved_id = moved["id"].as_str().unwrap();
    let res = app.send(req("POST", &format!("/api/v1/bookings/{moved_id}/cancel")).token(&desk).header("if-match", "\"1\"").json(serde_json::json!({"reason": "unwell"}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let plan_now = app.send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&app.login("physician").await)).await.json();
    let event = plan_now["events"].as_array().unwrap().iter().find(|e| e["id"] == infusions[0].as_str()).unwrap().clone();
    assert_eq!(event["status"], "planned", "a cancelled booking frees its event");
    // A no-show is recorded only once the time has come; these are in 2030.
    let second_id = app.send(req("GET", &format!("/api/v1/patients/{patient}/bookings")).token(&desk)).await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["status"] == "booked")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app.send(req("POST", &format!("/api/v1/bookings/{second_id}/no-show")).token(&desk).header("if-match", "\"1\"").json(serde_json::json!({}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.text.contains("once the appointment time has come"));
    let history: Vec<(String, String)> = app.send(req("GET", &format!("/api/v1/patients/{patient}/bookings")).token(&desk)).await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["starts_at"].as_str().unwrap().to_string(), b["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        history,
        [
            ("2030-03-04T14:00:00Z".to_string(), "rescheduled".to_string()),
            ("2030-03-04T18:00:00Z".to_string(), "cancelled".to_string()),
            ("2030-03-11T13:00:00Z".to_string(), "booked".to_string())
        ]
    );

    // The day board: the other patient's infusion on the chair.
    let board = app.send(req("GET", "/api/v1/day-board?date=2030-03-04").token(&desk)).await;
    assert_eq!(board.status, StatusCode::OK, "{}", board.text);
    let board = board.json();
    assert_eq!(board["opening"], serde_json::json!([["08:00", "18:00"]]));
    let active: Vec<&serde_json::Value> = board["bookings"].as_array().unwrap().iter().filter(|b| b["status"] == "booked").collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["resource_name"], "Chair 1");
    let page = app.send(req("GET", "/schedule?date=2030-03-04").token(&desk)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("data-testid=\"day-board\"") && page.text.contains(">AO<"), "the other patient's initials on the board");
    assert!(app.send(req("GET", "/api/v1/day-board?date=03/04/2030").token(&desk)).await.problem_fields() == ["date"]);

    // The nurse's calendar feed: no patient names; a revoked link stops working.
    let nurse = app.login("nurse").await;
    let made = app.send(req("POST", "/calendar-feeds").token(&nurse).raw("", FORM)).await;
    assert_eq!(made.status, StatusCode::OK);
    let start = made.text.find("/calendar/").unwrap();
    let link = &made.text[start..start + made.text[start..].find(".ics").unwrap() + 4];
    let feed = app.send(req("GET", link)).await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    assert_eq!(feed.header("content-type").as_deref(), Some("text/calendar; charset=utf-8"));
    assert!(feed.text.contains("SUMMARY:Ketamine infusion · Chair 1"), "{}", feed.text);
    // The nurse's infusions while on site: two booked, the cancelled one marked so calendars drop it, the moved one left out.
    assert_eq!(feed.text.matches("BEGIN:VEVENT").count(), 3, "{}", feed.text);
    assert_eq!(feed.text.matches("STATUS:CANCELLED").count(), 1, "{}", feed.text);
    for name in ["Ana", "Sched", "Other", "Luis"] {
        assert!(!feed.text.contains(name), "{name} in the feed");
    }
    let again = app.send(req("POST", "/calendar-feeds").token(&nurse).raw("", FORM)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(app.send(req("GET", link)).await.status, StatusCode::NOT_FOUND, "a new link stops the old one");
    assert_eq!(app.send(req("POST", "/calendar-feeds/revoke").token(&nurse).raw("", FORM)).await.status, StatusCode::SEE_OTHER);
    let start = again.text.find("/calendar/").unwrap();
    let link2 = &again.text[start..start + again.text[start..].find(".ics").unwrap() + 4];
    assert_eq!(app.send(req("GET", link2)).await.status, StatusCode::NOT_FOUND);

    // The patient sees the coming appointment in the portal, in plain words.
    let sent = app.send(req("POST", &format!("/api/v1/patients/{patient}/portal-links")).token(&desk).json(serde_json::json!({ "purpose": "signin" }))).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    let opened = app.send(req("GET", &crate::screening::link_path(&app).await)).await;
    let portal = app.send(req("GET", "/portal").header("cookie", &crate::screening::cookie(&opened))).await;
    assert!(portal.text.contains("Your appointments"), "{}", portal.text);
    assert!(portal.text.contains("Monday 11 March at 09:00</strong> — Ketamine infusion at Harbor Light Clinic (demo) (Chair 1)"), "{}", portal.text);
    assert!(portal.text.contains("come with the adult who will take you home"));

    // Reminders the day before, once, on the consented channel, in neutral words.
    let eve = chrono::DateTime::parse_from_rfc3339("2030-03-10T20:00:00-04:00").unwrap().with_timezone(&chrono::Utc);
    assert_eq!(app.clinic.queue_day_before_reminders(eve).await.unwrap(), 1);
    assert_eq!(app.clinic.queue_day_before_reminders(eve).await.unwrap(), 0, "once");
    let outbox = app.clinic.store().list_outbox(10).await.unwrap();
    let reminder = outbox.iter().find(|m| m.body.contains("reminder")).unwrap();
    assert_eq!((reminder.channel.as_str(), reminder.address.as_str()), ("sms", "5550100199"));
    assert!(reminder.body.contains("Monday 11 March at 09:00"), "{}", reminder.body);
    assert!(reminder.body.contains("do not drive"));
    for word in ["ketamine", "Ketamine", "infusion", "alcohol", "addiction"] {
        assert!(!reminder.body.contains(word), "{word} in {}", reminder.body);
    }
}

async fn two_bookings_race_for_the_last_chair<S: Store>(store: S) {
    let app = spawn_app_with(store, config()).await;
    set_up_site(&app, 1, serde_json::json!([])).await;
    let desk = app.login("frontdesk").await;
    let nurse = app.login("nurse").await;
    let (_, _, a) = signed_plan(&app, "Racer-a", "2030-03-04").await;
    let (_, _, b) = signed_plan(&app, "Racer-b", "2030-03-04").await;
    let (a, b) = (infusion_ids(&a), infusion_ids(&b));
    for round in 0..3 {
        let ra = req("POST", &format!("/api/v1/plan-events/{}/booking", a[round])).token(&desk).json(serde_json::json!({"time": "09:00"}));
        let rb = req("POST", &format!("/api/v1/plan-events/{}/booking", b[round])).token(&nurse).json(serde_json::json!({"time": "09:00"}));
        let (x, y) = tokio::join!(app.send(ra), app.send(rb));
        let statuses = [x.status, y.status];
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "round {round}: {statuses:?} {} {}", x.text, y.text);
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 1, "round {round}: {statuses:?}");
    }
    // Exactly one active booking per infusion time on the chair.
    let board = app.send(req("GET", "/api/v1/day-board?date=2030-03-04").token(&desk)).await.json();
    assert_eq!(board["bookings"].as_array().unwrap().iter().filter(|b| b["status"] == "booked").count(), 1);
}

async fn whole_plan_is_all_or_nothing<S: Store>(store: S) {
    let app = spawn_app_with(store, config()).await;
    // Friday 2030-03-08 (day 4: the third infusion) is closed.
    set_up_site(&app, 2, serde_json::json!([{"date": "2030-03-08", "reason": "staff training"}])).await;
    let desk = app.login("frontdesk").await;
    let (patient, plan_id, plan) = signed_plan(&app, "Whole", "2030-03-04").await;
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/schedule")).token(&desk).json(serde_json::json!({"time": "10:00"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    let problem = res.json();
    let third = &infusion_ids(&plan)[2];
    assert_eq!(problem["schedule"]["event_id"], third.as_str(), "the event that cannot fit is named");
    assert_eq!(problem["schedule"]["conflicts"][0]["code"], "closed");
    assert!(!problem["schedule"]["alternatives"].as_array().unwrap().is_empty());
    let bookings = app.send(req("GET", &format!("/api/v1/patients/{patient}/bookings")).token(&desk)).await.json();
    assert_eq!(bookings["items"].as_array().unwrap().len(), 0, "nothing was booked");
    // The physician moves that infusion to Thursday (acknowledging the deviation) and signs again.
    let doctor = app.login("physician").await;
    let version = app.send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&doctor)).await.json()["version"].as_i64().unwrap();
    let res = app
        .send(req("POST", &format!("/api/v1/plans/{plan_id}/edits")).token(&doctor).header("if-match", &format!("\"{version}\"")).json(serde_json::json!({
            "action": "move", "event_id": third, "date": "2030-03-07", "reason": "site closed for training", "acknowledge_deviation": true
        })))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/schedule")).token(&desk).json(serde_json::json!({"time": "10:00"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "an amended plan is signed again before booking");
    assert!(res.text.contains("not signed"), "{}", res.text);
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/sign")).token(&doctor).header("if-match", &format!("\"{}\"", version + 1))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // The integration sessions the day after the Friday infusions fall on Saturdays, when the site is shut.
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/schedule")).token(&desk).json(serde_json::json!({"time": "10:00"}))).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    let problem = res.json();
    assert!(problem["detail"].as_str().unwrap().contains("integration on 2030-03-09"), "{problem}");
    assert_eq!(problem["schedule"]["conflicts"][0]["code"], "outside_hours");
    let mut version = version + 2;
    let events = app.send(req("GET", &format!("/api/v1/plans/{plan_id}")).token(&doctor)).await.json()["events"].clone();
    for (saturday, monday) in [("2030-03-09", "2030-03-11"), ("2030-03-16", "2030-03-18")] {
        let id = events.as_array().unwrap().iter().find(|e| e["kind"] == "integration" && e["date"] == saturday).unwrap()["id"].as_str().unwrap().to_string();
        let res = app
            .send(req("POST", &format!("/api/v1/plans/{plan_id}/edits")).token(&doctor).header("if-match", &format!("\"{version}\"")).json(serde_json::json!({
                "action": "move", "event_id": id, "date": monday, "reason": "site closed at weekends"
            })))
            .await;
        assert_eq!(res.status, StatusCode::OK, "moving a session is no deviation: {}", res.text);
        version += 1;
    }
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/sign")).token(&doctor).header("if-match", &format!("\"{version}\""))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app.send(req("POST", &format!("/api/v1/plans/{plan_id}/schedule")).token(&desk).json(serde_json::json!({"time": "10:00"}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let booked = res.json();
    let items = booked["items"].as_array().unwrap();
    assert_eq!(items.iter().filter(|b| b["kind"] == "infusion").count(), 6);
    assert_eq!(items.iter().filter(|b| b["kind"] == "integration").count(), 6, "an integration session after each infusion");
    assert!(items.iter().all(|b| b["status"] == "booked"));
    // Every infusion has an escort and a chair; every session a room and the counselor.
    assert!(items.iter().filter(|b| b["kind"] == "infusion").all(|b| b["escort_name"] == "Luis Whole" && b["resource_id"].is_string()));
    assert!(items.iter().filter(|b| b["kind"] == "integration").all(|b| b["clinician_id"].is_string() && b["minutes"] == 60));
    // The chart shows the bookings beside the plan.
    let chart = app.send(req("GET", &format!("/patients/{patient}?tab=plan")).token(&desk)).await;
    assert_eq!(chart.status, StatusCode::OK);
    let chart = app.send(req("GET", &format!("/patients/{patient}?tab=plan")).token(&doctor)).await;
    assert!(chart.text.contains("status-booked"), "{}", chart.text);
    assert!(chart.text.contains("Thu 7 Mar 10:00 · Chair 1"), "{}", chart.text);
}
