//! Server-rendered pages for staff (maud). No inline script or style.

pub mod alerts;
pub mod audit;
pub mod chair;
pub mod counseling;
pub mod eligibility;
pub mod home;
pub mod ledger;
pub mod analytics;
pub mod inquiries;
pub mod login;
pub mod orders;
pub mod outbox;
pub mod outcomes;
pub mod patients;
pub mod pk_chart;
pub mod plans;
pub mod portal;
pub mod schedule;
pub mod screening;
pub mod selfcheck;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use clinic_domain::authz::{role_allows, Permission};
use clinic_service::auth::Principal;
use clinic_store::Store;
use maud::{html, Markup, DOCTYPE};

use crate::routes::{Access, RouteSpec, RouteTable, CSRF_FIELD};

pub fn routes<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    table
        .add(RouteSpec::page("GET", "/", Access::Public, "The public site and inquiry form"), get(home::public_home::<S>))
        .add(RouteSpec::page("POST", "/inquire", Access::Public, "Send the public inquiry form"), post(inquiries::public_submit::<S>))
        .add(RouteSpec::page("GET", "/inquire/thanks", Access::Public, "Inquiry confirmation"), get(inquiries::thanks::<S>))
        .add(RouteSpec::page("GET", "/inquiries", Access::Permission(Permission::InquiryRead), "The inquiry queue"), get(inquiries::queue::<S>))
        .add(RouteSpec::page("GET", "/inquiries/new", Access::Permission(Permission::InquiryManage), "Record a phone inquiry"), get(inquiries::new_phone_form::<S>))
        .add(RouteSpec::page("POST", "/inquiries", Access::Permission(Permission::InquiryManage), "Record a phone inquiry"), post(inquiries::staff_submit::<S>))
        .add(RouteSpec::page("GET", "/inquiries/{id}", Access::Permission(Permission::InquiryRead), "An inquiry and its call log"), get(inquiries::show::<S>))
        .add(RouteSpec::page("POST", "/inquiries/{id}/calls", Access::Permission(Permission::InquiryManage), "Log a call"), post(inquiries::log_call::<S>))
        .add(RouteSpec::page("POST", "/inquiries/{id}/status", Access::Permission(Permission::InquiryManage), "Change an inquiry's status"), post(inquiries::change_status::<S>))
        .add(RouteSpec::page("POST", "/inquiries/{id}/convert", Access::Permission(Permission::InquiryManage), "Register the person as a patient"), post(inquiries::convert::<S>))
        .add(RouteSpec::page("GET", "/static/app.css", Access::Public, "Stylesheet"), get(stylesheet))
        .add(RouteSpec::page("GET", "/static/floor.js", Access::Public, "The floor board's refresh script"), get(floor_script))
        .add(RouteSpec::page("GET", "/favicon.ico", Access::Public, "Site icon"), get(favicon))
        .add(RouteSpec::page("GET", "/login", Access::Public, "Sign-in form"), get(login::form::<S>))
        .add(RouteSpec::page("POST", "/login", Access::Public, "Sign in"), post(login::submit::<S>))
        .add(RouteSpec::page("POST", "/logout", Access::SignedIn, "Sign out"), post(login::logout::<S>))
        .add(RouteSpec::page("GET", "/home", Access::Permission(Permission::StaffHome), "Staff home: what needs me now"), get(home::staff_home::<S>))
        .add(RouteSpec::page("GET", "/patients", Access::Permission(Permission::PatientRead), "Patient list and search"), get(patients::list::<S>))
        .add(RouteSpec::page("GET", "/patients/new", Access::Permission(Permission::PatientCreate), "Register a patient"), get(patients::new_form::<S>))
        .add(RouteSpec::page("POST", "/patients", Access::Permission(Permission::PatientCreate), "Register a patient"), post(patients::create::<S>))
        .add(RouteSpec::page("GET", "/patients/{id}", Access::Permission(Permission::PatientRead), "A patient's record"), get(patients::show::<S>))
        .add(RouteSpec::page("GET", "/patients/{id}/edit", Access::Permission(Permission::PatientUpdate), "Edit a patient's record"), get(patients::edit_form::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/edit", Access::Permission(Permission::PatientUpdate), "Save a patient's record"), post(patients::update::<S>))
        .add(RouteSpec::page("GET", "/audit", Access::Permission(Permission::AuditRead), "The audit log"), get(audit::page::<S>))
        .add(RouteSpec::page("GET", "/outbox", Access::Permission(Permission::AuditRead), "Messages to patients and pages to staff"), get(outbox::page::<S>))
        .add(RouteSpec::page("GET", "/patients/{id}/questionnaires/new", Access::Permission(Permission::ScreeningRecord), "Enter a questionnaire"), get(screening::entry_form::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/questionnaires", Access::Permission(Permission::ScreeningRecord), "Score and save a questionnaire"), post(screening::entry_submit::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/portal-links", Access::Permission(Permission::PortalInvite), "Send a questionnaire link"), post(screening::send_link::<S>))
        .add(RouteSpec::page("GET", "/alerts", Access::Permission(Permission::AlertRead), "Open safety alerts"), get(alerts::page::<S>))
        .add(RouteSpec::page("POST", "/alerts/{id}/close", Access::Permission(Permission::AlertManage), "Close an alert with the response taken"), post(alerts::close::<S>))
        .add(RouteSpec::page("GET", "/portal/l/{token}", Access::Public, "Open a portal link"), get(portal::open_link::<S>))
        .add(RouteSpec::page("GET", "/portal", Access::Public, "The patient portal (its own session cookie)"), get(portal::home::<S>))
        .add(RouteSpec::page("POST", "/portal", Access::Public, "Send questionnaire answers from the portal"), post(portal::submit::<S>))
        .add(RouteSpec::page("POST", "/portal/consents", Access::Public, "Sign a consent in the portal (its own session)"), post(portal::sign_consent::<S>))
        .add(RouteSpec::page("POST", "/portal/diary", Access::Public, "The patient's daily diary in the portal (its own session)"), post(portal::diary::<S>))
        .add(RouteSpec::page("GET", "/patients/{id}/medical-screening/new", Access::Permission(Permission::ScreeningRecord), "Record a medical screening"), get(eligibility::screening_form::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/medical-screening", Access::Permission(Permission::ScreeningRecord), "Save a medical screening"), post(eligibility::screening_submit::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/eligibility", Access::Permission(Permission::ScreeningRecord), "Propose eligibility from the record"), post(eligibility::propose::<S>))
        .add(RouteSpec::page("POST", "/eligibility/{id}/sign", Access::Permission(Permission::EligibilitySign), "Sign the eligibility decision"), post(eligibility::sign::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/consents", Access::Permission(Permission::ConsentManage), "Sign a consent on the clinic tablet"), post(eligibility::sign_consent::<S>))
        .add(RouteSpec::page("POST", "/consents/{id}/revoke", Access::Permission(Permission::ConsentManage), "Record a consent's revocation"), post(eligibility::revoke_consent::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/plans", Access::Permission(Permission::PlanManage), "Make a plan from a protocol"), post(plans::create::<S>))
        .add(RouteSpec::page("POST", "/plans/{id}/edits", Access::Permission(Permission::PlanManage), "Change a plan event, with a reason"), post(plans::edit::<S>))
        .add(RouteSpec::page("POST", "/plans/{id}/sign", Access::Permission(Permission::PlanManage), "Sign the plan"), post(plans::sign::<S>))
        .add(RouteSpec::page("POST", "/plans/{id}/end", Access::Permission(Permission::PlanManage), "End the plan"), post(plans::end::<S>))
        .add(RouteSpec::page("GET", "/schedule", Access::Permission(Permission::ScheduleRead), "A site's day board"), get(schedule::day_board::<S>))
        .add(RouteSpec::page("GET", "/schedule/week", Access::Permission(Permission::ScheduleRead), "A clinician's week"), get(schedule::week::<S>))
        .add(RouteSpec::page("GET", "/calendar", Access::Permission(Permission::ScheduleRead), "Your calendar feed link"), get(schedule::calendar_page::<S>))
        .add(RouteSpec::page("POST", "/calendar-feeds", Access::Permission(Permission::ScheduleRead), "Make a new calendar feed link"), post(schedule::create_feed::<S>))
        .add(RouteSpec::page("POST", "/calendar-feeds/revoke", Access::Permission(Permission::ScheduleRead), "Stop every calendar feed link"), post(schedule::revoke_feeds::<S>))
        .add(RouteSpec::page("GET", "/calendar/{token}", Access::Public, "A clinician's iCalendar feed (secret link)"), get(schedule::feed::<S>))
        .add(RouteSpec::page("POST", "/plan-events/{id}/booking", Access::Permission(Permission::ScheduleManage), "Book a plan event"), post(schedule::book::<S>))
        .add(RouteSpec::page("POST", "/plans/{id}/schedule", Access::Permission(Permission::ScheduleManage), "Schedule a whole plan"), post(schedule::schedule_plan::<S>))
        .add(RouteSpec::page("POST", "/bookings/{id}/cancel", Access::Permission(Permission::ScheduleManage), "Cancel a booking"), post(schedule::cancel::<S>))
        .add(RouteSpec::page("POST", "/bookings/{id}/no-show", Access::Permission(Permission::ScheduleManage), "Record a no-show"), post(schedule::no_show::<S>))
        .add(RouteSpec::page("POST", "/bookings/{id}/reschedule", Access::Permission(Permission::ScheduleManage), "Move a booking"), post(schedule::reschedule::<S>))
        .add(RouteSpec::page("GET", "/plan-events/{id}/order", Access::Permission(Permission::OrderRead), "An infusion's order, or the form to sign one"), get(orders::for_event::<S>))
        .add(RouteSpec::page("POST", "/plan-events/{id}/order", Access::Permission(Permission::OrderSign), "Sign an infusion order"), post(orders::sign::<S>))
        .add(RouteSpec::page("GET", "/orders/{id}", Access::Permission(Permission::OrderRead), "An infusion order with its arithmetic, prediction and checks"), get(orders::show::<S>))
        .add(RouteSpec::page("POST", "/orders/{id}/checks", Access::Permission(Permission::OrderCheck), "Record the independent double check"), post(orders::check::<S>))
        .add(RouteSpec::page("POST", "/orders/{id}/cancel", Access::Permission(Permission::OrderSign), "Cancel an order with a reason"), post(orders::cancel::<S>))
        .add(RouteSpec::page("GET", "/bookings/{id}/check-in", Access::Permission(Permission::InfusionChart), "Check a patient in for a booked infusion"), get(chair::check_in_form::<S>))
        .add(RouteSpec::page("POST", "/bookings/{id}/sessions", Access::Permission(Permission::InfusionChart), "Open the infusion chart after checking two identifiers"), post(chair::open::<S>))
        .add(RouteSpec::page("GET", "/sessions/{id}", Access::Permission(Permission::InfusionChart), "The chair-side chart"), get(chair::show::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/checklist", Access::Permission(Permission::InfusionChart), "Save the pre-infusion checklist"), post(chair::checklist::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/pump", Access::Permission(Permission::InfusionChart), "Record a pump event"), post(chair::pump::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/vitals", Access::Permission(Permission::InfusionChart), "Save vital signs (alerts evaluated)"), post(chair::vitals::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/alert-responses", Access::Permission(Permission::InfusionChart), "Close an alert with the response taken"), post(chair::alert_response::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/discharge", Access::Permission(Permission::InfusionChart), "Discharge (criteria or a physician's reason)"), post(chair::discharge::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/emergency", Access::Permission(Permission::InfusionChart), "Emergency: stop the infusion, timestamp, page the physician"), post(chair::emergency::<S>))
        .add(RouteSpec::page("GET", "/sessions/{id}/handoff", Access::Permission(Permission::InfusionChart), "The hand-off summary for emergency services (a logged disclosure)"), get(chair::handoff::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/ratings", Access::Permission(Permission::InfusionChart), "Record a CADSS or BPRS positive rating"), post(chair::rating::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/medications", Access::Permission(Permission::InfusionChart), "Record a rescue or supportive medicine given"), post(chair::medication::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/adverse-events", Access::Permission(Permission::InfusionChart), "Record an adverse event"), post(chair::adverse_event::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/notes", Access::Permission(Permission::InfusionChart), "Sign the session note, or an addendum"), post(chair::note::<S>))
        .add(RouteSpec::page("POST", "/sessions/{id}/ledger", Access::Permission(Permission::LedgerRecord), "Record a withdrawal, the administration from the pump record, or a witnessed waste or return"), post(chair::ledger_entry::<S>))
        .add(RouteSpec::page("GET", "/bookings/{id}/counseling", Access::Permission(Permission::CounselingRecord), "Record a counseling session"), get(counseling::form::<S>))
        .add(RouteSpec::page("POST", "/bookings/{id}/counseling", Access::Permission(Permission::CounselingRecord), "Sign and save a counseling session"), post(counseling::record::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/recovery-plan", Access::Permission(Permission::CounselingRecord), "Save a new version of the recovery plan"), post(counseling::save_plan::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/referrals", Access::Permission(Permission::CounselingRecord), "Make a referral or record where it stands"), post(counseling::referral::<S>))
        .add(RouteSpec::page("GET", "/patients/{id}/discharge-summary", Access::Permission(Permission::CounselingRead), "The discharge summary for aftercare"), get(counseling::discharge_summary::<S>))
        .add(RouteSpec::page("GET", "/counseling/{id}/note", Access::Permission(Permission::CounselingRead), "A SUD counseling note, for its author only"), get(counseling::note::<S>))
        .add(RouteSpec::page("GET", "/patients/{id}/tlfb/new", Access::Permission(Permission::OutcomeRecord), "Enter a week of the timeline follow-back"), get(outcomes::tlfb_form::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/tlfb", Access::Permission(Permission::OutcomeRecord), "Save a week of the timeline follow-back"), post(outcomes::tlfb_save::<S>))
        .add(RouteSpec::page("GET", "/patients/{id}/tests/new", Access::Permission(Permission::OutcomeRecord), "Enter a specimen's test results"), get(outcomes::tests_form::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/tests", Access::Permission(Permission::OutcomeRecord), "Save a specimen's test results"), post(outcomes::tests_save::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/relapse-decisions", Access::Permission(Permission::OutcomeRecord), "Confirm or reject a proposed lapse, relapse or dropout"), post(outcomes::decide::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/misuse-signals", Access::Permission(Permission::OutcomeRecord), "Record a craving for ketamine or a request for more (alerts the physicians)"), post(outcomes::misuse_signal::<S>))
        .add(RouteSpec::page("POST", "/patients/{id}/misuse-decisions", Access::Permission(Permission::MisuseDecide), "Confirm or reject a ketamine-misuse flag"), post(outcomes::misuse_decide::<S>))
        .add(RouteSpec::page("GET", "/analytics", Access::Permission(Permission::AnalyticsRead), "The director's dashboard: program outcomes beside the trials, funnel, utilisation, safety (aggregates only)"), get(analytics::show::<S>))
        .add(RouteSpec::page("GET", "/analytics/outcomes.csv", Access::Permission(Permission::AnalyticsRead), "Program outcomes by protocol (CSV)"), get(analytics::outcomes_download::<S>))
        .add(RouteSpec::page("GET", "/analytics/km.csv", Access::Permission(Permission::AnalyticsRead), "Kaplan-Meier tables by protocol (CSV)"), get(analytics::km_download::<S>))
        .add(RouteSpec::page("GET", "/analytics/cohort.csv", Access::Permission(Permission::AnalyticsRead), "The time-to-relapse cohort behind the curves (CSV, pseudonymous)"), get(analytics::cohort_download::<S>))
        .add(RouteSpec::page("GET", "/analytics/funnel.csv", Access::Permission(Permission::AnalyticsRead), "The inquiry to treatment funnel (CSV)"), get(analytics::funnel_download::<S>))
        .add(RouteSpec::page("GET", "/analytics/utilisation.csv", Access::Permission(Permission::AnalyticsRead), "Chair utilisation by site (CSV)"), get(analytics::utilisation_download::<S>))
        .add(RouteSpec::page("GET", "/analytics/safety.csv", Access::Permission(Permission::AnalyticsRead), "Safety events by protocol (CSV)"), get(analytics::safety_download::<S>))
        .add(RouteSpec::page("GET", "/ledger", Access::Permission(Permission::LedgerRead), "The controlled-substance ledger of a site"), get(ledger::show::<S>))
        .add(RouteSpec::page("POST", "/ledger/entries", Access::Permission(Permission::LedgerRecord), "Record a receipt, count, destruction, loss or correction"), post(ledger::record::<S>))
        .add(RouteSpec::page("POST", "/ledger/discrepancies/{id}/close", Access::Permission(Permission::LedgerRecord), "Close a count discrepancy with the response taken"), post(ledger::close_discrepancy::<S>))
        .add(RouteSpec::page("GET", "/ledger/reports/administration.csv", Access::Permission(Permission::LedgerRead), "The administration log (CSV)"), get(ledger::administration_csv::<S>))
        .add(RouteSpec::page("GET", "/ledger/reports/inventory.csv", Access::Permission(Permission::LedgerRead), "The inventory as of a date (CSV)"), get(ledger::inventory_csv::<S>))
        .add(RouteSpec::page("GET", "/ledger/reports/loss.csv", Access::Permission(Permission::LedgerRead), "A theft-or-loss report draft for a count (CSV)"), get(ledger::loss_csv::<S>))
        .add(RouteSpec::page("GET", "/floor", Access::Permission(Permission::InfusionChart), "The live floor board"), get(chair::floor::<S>))
        .add(RouteSpec::page("GET", "/self-check", Access::Public, "Anonymous self-check (AUDIT-C, DAST-10)"), get(selfcheck::form::<S>))
        .add(RouteSpec::page("POST", "/self-check", Access::Public, "Score the anonymous self-check; nothing is stored"), post(selfcheck::submit::<S>))
}

async fn stylesheet() -> Response {
    let mut res = include_str!("../../static/app.css").into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res
}

async fn floor_script() -> Response {
    let mut res = include_str!("../../static/floor.js").into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res
}

/// A small SVG icon (browsers ask for /favicon.ico on every site).
async fn favicon() -> Response {
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f5fa8"/><path d="M7 3h2v4h4v2H9v4H7V9H3V7h4z" fill="#fff"/></svg>"##;
    let mut res = svg.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    res
}

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Inquiries,
    Patients,
    Alerts,
    Schedule,
    Floor,
    Ledger,
    Analytics,
    Audit,
    Outbox,
    None,
}

/// A staff page with the navigation the principal's role allows.
pub fn staff_page(principal: &Principal, site_name: &str, title: &str, nav: Nav, body: Markup) -> Response {
    let role = principal.user.role;
    let link = |href: &str, label: &str, this: Nav| {
        html! { a href=(href) aria-current=[(nav == this).then_some("page")] { (label) } }
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (site_name) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header.top {
                    a.brand href="/home" { (site_name) }
                    nav aria-label="Main" {
                        (link("/home", "Home", Nav::Home))
                        @if role_allows(role, Permission::InquiryRead) { (link("/inquiries", "Inquiries", Nav::Inquiries)) }
                        @if role_allows(role, Permission::PatientRead) { (link("/patients", "Patients", Nav::Patients)) }
                        @if role_allows(role, Permission::ScheduleRead) { (link("/schedule", "Schedule", Nav::Schedule)) }
                        @if role_allows(role, Permission::InfusionChart) { (link("/floor", "Floor", Nav::Floor)) }
                        @if role_allows(role, Permission::LedgerRead) { (link("/ledger", "Ledger", Nav::Ledger)) }
                        @if role_allows(role, Permission::AlertRead) { (link("/alerts", "Alerts", Nav::Alerts)) }
                        @if role_allows(role, Permission::AnalyticsRead) { (link("/analytics", "Analytics", Nav::Analytics)) }
                        @if role_allows(role, Permission::AuditRead) { (link("/audit", "Audit log", Nav::Audit)) }
                        @if role_allows(role, Permission::AuditRead) { (link("/outbox", "Outbox", Nav::Outbox)) }
                    }
                    span.who { (principal.user.display_name) " · " (role.as_str()) }
                    form method="post" action="/logout" {
                        input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                        button.secondary type="submit" { "Sign out" }
                    }
                }
                main id="main" { (body) }
            }
        }
    };
    markup.into_response()
}

/// A bare page (sign-in, errors) without staff navigation.
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/static/app.css";
            }
            body { main id="main" { (body) } }
        }
    }
}

/// A CSV download with its file name.
pub(crate) fn csv_response(name: &str, body: String) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// A posted form as (name, value) pairs, repeated names kept (checkboxes).
pub(crate) fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(raw).unwrap_or_default()
}

/// The first value of `name`, `None` when missing or blank.
pub(crate) fn form_field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.trim().is_empty())
}

/// The hidden field carrying the session's CSRF token, for every staff form.
pub(crate) fn csrf_input(principal: &Principal) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token); }
}

/// An exact figure as staff read it: exact when it has a finite decimal form
/// with at most `places` decimals, otherwise "≈" and `places` decimals with
/// the exact value (nine places) on hover. Never silently rounded.
pub(crate) fn figure(x: clinic_domain::dose::Exact, places: u32) -> Markup {
    let full = x.to_decimal();
    let (num, den) = x.fraction();
    let scale = 10i128.pow(places);
    if x.terminates() && (num * scale) % den == 0 {
        return html! { (full) };
    }
    let sign = if num < 0 { "-" } else { "" };
    let scaled = (num.abs() * scale * 2 + den).div_euclid(2 * den);
    let width = usize::try_from(places).unwrap_or(0);
    let short = if places == 0 { format!("{sign}{scaled}") } else { format!("{sign}{}.{:0width$}", scaled / scale, scaled % scale) };
    html! { span title={ (full) @if !x.terminates() { " (not a finite decimal)" } } { "≈" (short) } }
}

/// A service error as a page: the problem's status, title and detail in words.
/// A refusal a form page shows on itself, as one line: every field and its
/// message, a conflict's message, or the concurrent change; `None` for the
/// rest (answered as an error page by `failure`).
pub(crate) fn problem_text(err: &clinic_service::error::ServiceError) -> Option<String> {
    match err {
        clinic_service::error::ServiceError::Invalid(errors) => Some(errors.0.iter().map(|e| format!("{}: {}", e.field.replace('_', " "), e.message)).collect::<Vec<_>>().join("; ")),
        clinic_service::error::ServiceError::Conflict { message, .. } => Some(message.clone()),
        clinic_service::error::ServiceError::StaleVersion { .. } => Some("Someone else saved a change at the same moment: reload the page, check it and enter again.".into()),
        _ => None,
    }
}

pub(crate) fn failure(err: clinic_service::error::ServiceError) -> Response {
    let api = crate::error::ApiError::from(err);
    error_page(api.status, api.title, &api.detail)
}

pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = html! {
        div.card {
            h1 { (title) }
            p { (detail) }
            p { a href="/home" { "Go to the home page" } " · " a href="/login" { "Sign in" } }
        }
    };
    (status, bare_page(title, body)).into_response()
}

/// A time in the site's time zone, with the date and the zone's abbreviation.
pub fn site_time(time: DateTime<Utc>, time_zone: &str) -> String {
    match time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => time.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => time.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// Escapes a CSV field (RFC 4180) and neutralises spreadsheet formulas.
pub fn csv_field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_string() };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}
