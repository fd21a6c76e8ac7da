//! The public landing page and the staff home page.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::patient::PatientStatus;
use clinic_service::auth::Principal;
use clinic_store::Store;
use maud::html;

use crate::pages::{bare_page, staff_page, Nav};
use crate::AppState;

/// The public site. The full plain-language site and the inquiry form come
/// with the front-door issue; this page says what the clinic is and how to
/// reach it, and links staff to sign in.
pub async fn public_home() -> Response {
    let body = html! {
        div.card {
            h1 { "Ketamine-assisted treatment for substance use" }
            p { "This clinic treats alcohol, cocaine, opioid and other substance use problems with a short course of "
                "supervised ketamine infusions together with counseling. A doctor checks first whether it is safe for you." }
            // Crisis resources: the 988 Suicide & Crisis Lifeline (call or text, US, since July 2022)
            // and 911 for immediate danger (clinical.md §11.3).
            p { "If you are in crisis or thinking about suicide, call or text 988 (the Suicide & Crisis Lifeline) or call 911." }
            p.muted { "Staff: " a href="/login" { "sign in" } "." }
        }
    };
    bare_page("Ketamine-assisted treatment", body).into_response()
}

fn status_label(status: PatientStatus) -> &'static str {
    match status {
        PatientStatus::Inquiry => "Inquiry",
        PatientStatus::Screening => "In screening",
        PatientStatus::Eligible => "Eligible, awaiting a plan",
        PatientStatus::NotEligible => "Not eligible",
        PatientStatus::InTreatment => "In treatment",
        PatientStatus::FollowUp => "In follow-up",
        PatientStatus::Discharged => "Discharged",
    }
}

pub async fn staff_home<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return crate::error::ApiError::from(err).into_response(),
    };
    let role = principal.user.role;
    let counts = if role_allows(role, Permission::PatientRead) || role_allows(role, Permission::AggregateRead) {
        match app.clinic.store().patient_status_counts().await {
            Ok(counts) => Some(counts),
            Err(err) => return crate::error::ApiError::from(clinic_service::error::ServiceError::from(err)).into_response(),
        }
    } else {
        None
    };
    let can_read = role_allows(role, Permission::PatientRead);
    let body = html! {
        h1 { "Good to see you, " (principal.user.display_name) }
        @if let Some(counts) = &counts {
            h2 { "Patients by status" }
            div.cards {
                @for status in PatientStatus::ALL {
                    @let n = counts.iter().find(|(s, _)| s == status).map(|(_, n)| *n).unwrap_or(0);
                    div.card {
                        span.count { (n) }
                        @if can_read {
                            a href={ "/patients?status=" (status.as_str()) } { (status_label(*status)) }
                        } @else {
                            (status_label(*status))
                        }
                    }
                }
            }
        }
        @if role_allows(role, Permission::PatientCreate) {
            p.actions { a.button href="/patients/new" { "Register a patient" } a.button.secondary href="/patients" { "Find a patient" } }
        }
        @if role_allows(role, Permission::AuditRead) {
            h2 { "Audit trail" }
            p { "Every read and change of patient data is recorded and sealed into a hash chain. "
                a href="/audit" { "Open the audit log" } "." }
        }
    };
    staff_page(&principal, &site.name, "Home", Nav::Home, body)
}
