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
    let follow_up = booking.kind == clinic_domain::protocol::EventKind::FollowUp;
    let body = html! {
        h1 { @if follow_up { "Follow-up contact" } @else { "Counseling session" } }
        @if follow_up { p.muted { "The protocol's follow-up: record whether the patient was reached (attended) or not (no-show), and what they reported; enter their use since the last contact as a week of the timeline follow-back." } }
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
        Err(err) => match crate::pages::problem_text(&err) {
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
    let referrals = app.clinic.referrals(principal, patient.id).await.unwrap_or_default();
    html! {
        p { a href={ "/patients/" (patient.id) "/discharge-summary" } { "Discharge summary (for aftercare and the next provider)" } }
        (recovery_plan_section(principal, patient, &plans, time_zone, &who))
        (referrals_section(principal, patient, &referrals, time_zone))
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
        Err(err) => match crate::pages::problem_text(&err) {
            Some(problem) => crate::pages::error_page(StatusCode::UNPROCESSABLE_ENTITY, "The recovery plan was not saved", &problem),
            None => failure(err),
        },
    }
}

/// Referrals and where each stands, with the forms to make one and to record its progress.
fn referrals_section(principal: &Principal, patient: &clinic_domain::patient::Patient, referrals: &[clinic_service::aftercare::Referral], time_zone: &str) -> Markup {
    use clinic_service::aftercare::{REFERRAL_KINDS, REFERRAL_STATUSES};
    let may = role_allows(principal.user.role, Permission::CounselingRecord);
    html! {
        section.card #referrals {
            h2 { "Referrals" }
            @if referrals.is_empty() { p { "No referral yet." } }
            @else {
                table.stack data-testid="referrals" {
                    thead { tr { th { "To" } th { "For" } th { "Status" } th { "Since" } @if may { th { "Update" } } } }
                    tbody {
                        @for r in referrals {
                            tr data-status=(r.current.status) {
                                td data-label="To" { (r.current.to_whom) }
                                td data-label="For" { (words(&r.current.kind)) }
                                td data-label="Status" { (r.current.status) @if let Some(n) = &r.current.note { br; span.muted { (n) } } }
                                td data-label="Since" { (site_time(r.current.recorded_at, time_zone)) }
                                @if may {
                                    td data-label="Update" {
                                        form.inline method="post" action={ "/patients/" (patient.id) "/referrals" } {
                                            (csrf_input(principal))
                                            input type="hidden" name="referral_id" value=(r.current.referral_id);
                                            select name="status" aria-label="New status" { @for st in REFERRAL_STATUSES { option value=(st) selected[st == r.current.status] { (st) } } }
                                            input name="note" aria-label="Note" placeholder="note";
                                            button.secondary type="submit" { "Save" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if may {
                details {
                    summary { "Make a referral" }
                    form method="post" action={ "/patients/" (patient.id) "/referrals" } {
                        (csrf_input(principal))
                        label for="ref-kind" { "For" }
                        select id="ref-kind" name="kind" { @for k in REFERRAL_KINDS { option value=(k) { (words(k)) } } }
                        label for="ref-to" { "To (service or person)" }
                        input id="ref-to" name="to_whom" required;
                        label for="ref-status" { "Status" }
                        select id="ref-status" name="status" { @for st in REFERRAL_STATUSES { option value=(st) { (st) } } }
                        label for="ref-note" { "Note" }
                        input id="ref-note" name="note";
                        button type="submit" { "Save the referral" }
                    }
                }
            }
        }
    }
}

/// Makes or updates a referral.
pub async fn referral<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(patient_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "patient" });
    };
    let p = form_pairs(&raw);
    let f = |n: &str| form_field(&p, n);
    match app
        .clinic
        .record_referral(&principal, patient_id, f("referral_id").as_deref(), f("kind").as_deref(), f("to_whom").as_deref(), &f("status").unwrap_or_default(), f("note").as_deref())
        .await
    {
        Ok(_) => Redirect::to(&format!("/patients/{patient_id}?tab=counseling#referrals")).into_response(),
        Err(err) => match crate::pages::problem_text(&err) {
            Some(problem) => crate::pages::error_page(StatusCode::UNPROCESSABLE_ENTITY, "The referral was not saved", &problem),
            None => failure(err),
        },
    }
}

/// The discharge summary, printable.
pub async fn discharge_summary<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    let Ok(patient_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "patient" });
    };
    let patient = match app.clinic.get_patient(&principal, patient_id).await {
        Ok(p) => p,
        Err(err) => return failure(err),
    };
    let summary = match app.clinic.discharge_summary(&principal, patient_id).await {
        Ok(s) => s,
        Err(err) => return failure(err),
    };
    let site = app.clinic.main_site().await.map(|s| (s.name, s.time_zone)).unwrap_or_default();
    let body = html! {
        h1 { "Discharge summary" }
        p { strong { (patient.details.given_name) " " (patient.details.family_name) } " · MRN " (patient.mrn.as_str()) " · born " (patient.details.date_of_birth) }
        p.muted { "Part of the patient's SUD treatment record (42 CFR Part 2): disclose only with the patient's consent or as the rule allows. SUD counseling notes are never included." }
        section.card {
            h2 { "Treatment" }
            p { "Protocol: " (summary.protocol.clone().unwrap_or_else(|| "none signed".into()))
                @if let Some(start) = summary.plan_start { " · from " (start) }
                @if let Some((at, why)) = &summary.plan_ended { " · ended " (site_time(*at, &site.1)) ": " (why) } }
            h3 { "Infusions given (" (summary.infusions.len()) ")" }
            @if summary.infusions.is_empty() { p { "None." } }
            ul { @for i in &summary.infusions { li { (i.date) @if let Some(mg) = i.delivered_mg { ": " (crate::pages::figure(mg, 1)) " mg ketamine delivered" } @if !i.discharged { " (session still open)" } } } }
            h3 { "Adverse events" }
            @if summary.adverse_events.is_empty() { p { "None recorded." } }
            ul { @for (d, what, sev, outcome) in &summary.adverse_events { li { (d) ": " (what) " (" (sev) ", " (outcome) ")" } } }
        }
        section.card {
            h2 { "Outcomes" }
            ul { @for (s, w) in &summary.abstinence { li { (s) ": " (w) } } }
            p { "Relapse: " (summary.relapse) }
            p { "Ketamine misuse confirmed by a physician: " (summary.confirmed_misuse) }
        }
        section.card {
            h2 { "Current medications" }
            @if summary.medications.is_empty() { p { "None recorded." } }
            ul { @for (name, dose, moud) in &summary.medications { li { (name) @if let Some(d) = dose { ", " (d) } @if *moud { strong { " — MOUD: continue; never stop it for ketamine treatment (clinical.md §11.4)" } } } } }
        }
        section.card {
            h2 { "Follow-up contacts (the protocol's schedule)" }
            @if summary.follow_ups.is_empty() { p { "The protocol schedules none." } }
            ul { @for (d, status) in &summary.follow_ups { li { (d) ": " (status) } } }
        }
        section.card {
            h2 { "Referrals" }
            @if summary.referrals.is_empty() { p { "None." } }
            ul { @for r in &summary.referrals { li { (words(&r.current.kind)) " → " (r.current.to_whom) ": " (r.current.status) } } }
        }
    };
    staff_page(&principal, &site.0, "Discharge summary", Nav::Patients, body)
}
