//! Counseling at the end of a session: the counselor records attendance,
//! minutes, the progress note, homework and, kept apart, their own SUD
//! counseling note. The chart's Counseling tab lists the records; a
//! counseling note opens for its author only.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use clinic_domain::authz::{Permission, role_allows};
use clinic_domain::counseling::{Attendance, CounselingInput, Format, Modality};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_store::Store;
use maud::{Markup, html};
use uuid::Uuid;

use crate::AppState;
use crate::pages::{Nav, csrf_input, failure, form_field, form_pairs, site_time, staff_page};

fn words(x: &str) -> String {
    x.replace('_', " ")
}

/// The form for a booked therapy or integration session.
pub async fn form<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    let Ok(booking_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "booking" });
    };
    form_page(&app, &principal, booking_id, &CounselingInput::default(), None).await
}

async fn form_page<S: Store>(app: &AppState<S>, principal: &Principal, booking_id: Uuid, input: &CounselingInput, problem: Option<String>) -> Response {
    let booking = match app.clinic.store().get_booking(booking_id).await {
        Ok(b) => b,
        Err(err) => return failure(ServiceError::from_store("booking", err)),
    };
    let site = app.clinic.main_site().await.map(|s| (s.name, s.time_zone)).unwrap_or_default();
    let patient = app.clinic.store().get_patient(booking.patient_id).await.ok();
    // The protocol's therapy prefills the modality.
    let planned = match booking.plan_event_id {
        Some(event) => match app.clinic.store().plan_of_event(event).await {
            Ok(plan) => app.clinic.store().get_plan(plan).await.ok().and_then(|p| p.events.into_iter().find(|e| e.id == event)),
            Err(_) => None,
        },
        None => None,
    };
    let suggested: String = match (&input.modality, booking.kind, planned.as_ref().and_then(|e| e.modality.as_deref())) {
        (Some(m), _, _) => m.clone(),
        (None, clinic_domain::protocol::EventKind::Integration, _) => Modality::Integration.as_str().into(),
        (None, _, Some(modality)) => clinic_domain::counseling::modality_of(modality).as_str().into(),
        _ => Modality::Other.as_str().into(),
    };
    let chosen = |current: &Option<String>, value: &str, default: &str| current.as_deref().unwrap_or(default) == value;
    let body = html! {
        h1 { "Counseling session" }
        p {
            @if let Some(p) = &patient { a href={ "/patients/" (p.id) "?tab=counseling" } { (p.details.given_name) " " (p.details.family_name) } " · " }
            (site_time(booking.starts_at, &site.1)) " · " (booking.minutes) " min booked"
        }
        @if let Some(problem) = &problem { div.notice.bad role="alert" #problem { p { (problem) } } }
        form.card method="post" action={ "/bookings/" (booking_id) "/counseling" } #counseling-form {
            (csrf_input(principal))
            label for="modality" { "Modality" }
            select id="modality" name="modality" {
                @for m in Modality::ALL { option value=(m.as_str()) selected[suggested == m.as_str()] { (words(m.as_str())) } }
            }
            label for="format" { "Format" }
            select id="format" name="format" {
                @for f in Format::ALL { option value=(f.as_str()) selected[chosen(&input.format, f.as_str(), "individual")] { (words(f.as_str())) } }
            }
            fieldset {
                legend { "Attendance" }
                @for a in Attendance::ALL {
                    label { input type="radio" name="attendance" value=(a.as_str()) checked[input.attendance.as_deref() == Some(a.as_str())]; " " (words(a.as_str())) }
                }
            }
            label for="minutes" { "Minutes (when the patient came)" }
            input id="minutes" name="minutes" inputmode="numeric" value=(input.minutes.clone().unwrap_or_default());
            label for="progress_note" { "Progress note (part of the chart; signed as you)" }
            textarea id="progress_note" name="progress_note" rows="5" { (input.progress_note.clone().unwrap_or_default()) }
            label for="homework" { "Homework" }
            input id="homework" name="homework" value=(input.homework.clone().unwrap_or_default());
            label for="reason" { "Reason (when the session did not take place)" }
            input id="reason" name="reason" value=(input.reason.clone().unwrap_or_default());
            details {
                summary { "SUD counseling note (kept apart; only you can read it)" }
                p.muted { "Your own process notes. They are not part of the chart, no one else can open them, and they leave in no export or disclosure without the patient's separate consent (42 CFR Part 2)." }
                label for="counseling_note" { "Counseling note" }
                textarea id="counseling_note" name="counseling_note" rows="4" { (input.counseling_note.clone().unwrap_or_default()) }
            }
            div.actions { button type="submit" { "Sign and save" } }
        }
    };
    let mut res = staff_page(principal, &site.0, "Counseling session", Nav::Schedule, body);
    if problem.is_some() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

/// Signs and saves the record; back to the chart's Counseling tab.
pub async fn record<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(booking_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "booking" });
    };
    let p = form_pairs(&raw);
    let input = CounselingInput {
        modality: form_field(&p, "modality"),
        format: form_field(&p, "format"),
        attendance: form_field(&p, "attendance"),
        minutes: form_field(&p, "minutes"),
        progress_note: form_field(&p, "progress_note"),
        homework: form_field(&p, "homework"),
        counseling_note: form_field(&p, "counseling_note"),
        reason: form_field(&p, "reason"),
    };
    match app.clinic.record_counseling(&principal, booking_id, &input).await {
        Ok(row) => Redirect::to(&format!("/patients/{}?tab=counseling", row.patient_id)).into_response(),
        Err(err) => match crate::pages::ledger::problem_text(&err) {
            Some(problem) => form_page(&app, &principal, booking_id, &input, Some(problem)).await,
            None => failure(err),
        },
    }
}

/// The chart's Counseling tab.
pub async fn tab<S: Store>(app: &AppState<S>, principal: &Principal, patient: &clinic_domain::patient::Patient, time_zone: &str) -> Markup {
    if !role_allows(principal.user.role, Permission::CounselingRead) {
        return html! { section.card { h2 { "Counseling" } p { "Counseling records are read by the clinicians who treat the patient." } } };
    }
    let views = match app.clinic.patient_counseling(principal, patient.id).await {
        Ok(v) => v,
        Err(err) => return html! { section.card { p.error { (err.to_string()) } } },
    };
    let users = app.clinic.store().list_users().await.unwrap_or_default();
    let who = |id: Uuid| users.iter().find(|u| u.id == id).map(|u| u.display_name.clone()).unwrap_or_default();
    let came = views.iter().filter(|v| matches!(v.record.attendance.as_str(), "attended" | "late")).count();
    let plans = app.clinic.recovery_plans(principal, patient.id).await.unwrap_or_default();
    html! {
        (recovery_plan_section(principal, patient, &plans, time_zone, &who))
        section.card #counseling {
            h2 { "Counseling" }
            @if views.is_empty() { p { "No counseling session recorded yet. Sessions are recorded from the day board (Record beside a booked session)." } }
            @else {
                p data-testid="attendance" { (came) " of " (views.len()) " recorded sessions attended" }
                table.stack {
                    thead { tr { th { "Recorded" } th { "Session" } th { "Attendance" } th { "Progress note" } th { "Homework" } th { "By" } } }
                    tbody {
                        @for v in &views {
                            @let r = &v.record;
                            tr data-attendance=(r.attendance) {
                                td data-label="Recorded" { (site_time(r.recorded_at, time_zone)) }
                                td data-label="Session" { (words(&r.modality)) ", " (words(&r.format)) @if let Some(m) = r.minutes { " · " (m) " min" } }
                                td data-label="Attendance" { (words(&r.attendance)) @if let Some(why) = &r.reason { br; span.muted { (why) } } }
                                td data-label="Progress note" { (r.progress_note.clone().unwrap_or_default()) }
                                td data-label="Homework" { (r.homework.clone().unwrap_or_default()) }
                                td data-label="By" {
                                    (who(r.recorded_by))
                                    @if v.own_note { br; a href={ "/counseling/" (r.id) "/note" } { "Your counseling note" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A SUD counseling note, for its author.
pub async fn note<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    let Ok(record_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "counseling note" });
    };
    match app.clinic.read_counseling_note(&principal, record_id).await {
        Ok((record, note)) => {
            let site = app.clinic.main_site().await.map(|s| (s.name, s.time_zone)).unwrap_or_default();
            let body = html! {
                h1 { "Counseling note" }
                p.muted { "Kept apart from the chart: only you can read it (42 CFR Part 2; clinical.md §7.1)." }
                section.card {
                    p { (site_time(note.created_at, &site.1)) " · " (words(&record.modality)) }
                    p data-testid="counseling-note" { (note.body) }
                    p { a href={ "/patients/" (record.patient_id) "?tab=counseling" } { "Back to the chart" } }
                }
            };
            staff_page(&principal, &site.0, "Counseling note", Nav::Patients, body)
        }
        Err(err) => failure(err),
    }
}

/// The current recovery plan, its history, and the form for the next version.
fn recovery_plan_section(
    principal: &Principal,
    patient: &clinic_domain::patient::Patient,
    plans: &[(clinic_store::counseling::RecoveryPlanRow, clinic_domain::counseling::RecoveryPlan)],
    time_zone: &str,
    who: &dyn Fn(Uuid) -> String,
) -> Markup {
    use clinic_domain::counseling::RECOVERY_PLAN_PARTS;
    let current = plans.last();
    let version = current.map_or(0, |(r, _)| r.version);
    let label = |part: &str| RECOVERY_PLAN_PARTS.iter().find(|(p, _)| *p == part).map_or(part.to_string(), |(_, l)| (*l).to_string());
    html! {
        section.card #recovery-plan {
            h2 { "Recovery plan" }
            @match current {
                None => p { "No recovery plan yet. It is built with the patient in the integration sessions." },
                Some((row, plan)) => {
                    p.muted data-testid="recovery-plan-version" { "Version " (row.version) " · " (who(row.written_by)) " · " (site_time(row.written_at, time_zone)) }
                    dl {
                        @for (part, text) in &plan.parts { dt { (label(part)) } dd { (text) } }
                    }
                }
            }
            @if plans.len() > 1 {
                details {
                    summary { "History" }
                    ul { @for (row, _) in plans.iter().rev() { li { "Version " (row.version) ", " (site_time(row.written_at, time_zone)) ", " (who(row.written_by)) ": changed " (row.changed.split(',').map(&label).collect::<Vec<_>>().join(", ")) } } }
                }
            }
            @if role_allows(principal.user.role, Permission::CounselingRecord) {
                details {
                    summary { @if current.is_some() { "Write the next version" } @else { "Write the plan" } }
                    form method="post" action={ "/patients/" (patient.id) "/recovery-plan" } #recovery-plan-form {
                        (csrf_input(principal))
                        input type="hidden" name="version" value=(version);
                        @for (part, text) in RECOVERY_PLAN_PARTS {
                            label for={ "rp-" (part) } { (text) @if part == "goals" || part == "crisis_plan" { " (required)" } }
                            textarea id={ "rp-" (part) } name=(part) rows="3" { (current.and_then(|(_, p)| p.part(part)).unwrap_or("")) }
                        }
                        div.actions { button type="submit" { "Save this version" } }
                    }
                }
            }
        }
    }
}

/// Saves a new version of the recovery plan.
pub async fn save_plan<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(patient_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "patient" });
    };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version").and_then(|v| v.parse().ok()).unwrap_or(0);
    let parts: Vec<(String, String)> = p.into_iter().filter(|(k, _)| k != "version" && k != crate::pages::CSRF_FIELD).collect();
    match app.clinic.save_recovery_plan(&principal, patient_id, version, &parts).await {
        Ok(_) => Redirect::to(&format!("/patients/{patient_id}?tab=counseling#recovery-plan")).into_response(),
        Err(err) => match crate::pages::ledger::problem_text(&err) {
            Some(problem) => crate::pages::error_page(StatusCode::UNPROCESSABLE_ENTITY, "The recovery plan was not saved", &problem),
            None => failure(err),
        },
    }
}
