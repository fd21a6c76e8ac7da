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

/// The public site: what the clinic offers, how to reach it, and the inquiry
/// form. The full plain-language site comes with the rest of the front-door issue.
pub async fn public_home<S: Store>(State(app): State<AppState<S>>) -> Response {
    let site = app.clinic.main_site().await.ok();
    public_page(&[], &[], site.as_ref()).into_response()
}

pub fn public_page(values: &[(String, String)], errors: &[clinic_domain::field::FieldError], site: Option<&clinic_store::records::Site>) -> maud::Markup {
    let body = html! {
        div.card {
            h1 { "Ketamine-assisted treatment for substance use" }
            p { "This clinic treats alcohol, cocaine, opioid and other substance use problems with a short course of "
                "supervised ketamine infusions together with counseling. A doctor checks first whether it is safe for you." }
            @if let Some(site) = site {
                p { strong { (site.name) } @if let Some(phone) = &site.phone { " · Call us: " a href={ "tel:" (phone) } { (phone) } }
                    @if let Some(address) = &site.address { br; (address) } }
            }
            // Crisis resources: the 988 Suicide & Crisis Lifeline (call or text, US, since July 2022)
            // and 911 for immediate danger (clinical.md §11.3).
            p { "If you are in crisis or thinking about suicide, call or text 988 (the Suicide & Crisis Lifeline) or call 911." }
        }
        div.card {
            h2 { "Ask us to contact you" }
            p.muted { "Your message is private. We only use it to contact you." }
            (crate::pages::inquiries::public_form(values, errors))
        }
        p.muted { "Staff: " a href="/login" { "sign in" } "." }
    };
    bare_page("Ketamine-assisted treatment", body)
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
    // Front desk first: new and overdue inquiries (counts only; no names on the home page).
    let inquiry_counts = if role_allows(role, Permission::InquiryManage) {
        let filter = clinic_store::records::InquiryFilter { status: Some(clinic_domain::inquiry::InquiryStatus::New), limit: 500, ..Default::default() };
        match app.clinic.store().list_inquiries(&filter).await {
            Ok(page) => {
                let zone: chrono_tz::Tz = site.time_zone.parse().unwrap_or(chrono_tz::UTC);
                let now = clinic_service::now();
                let overdue = page.items.iter().filter(|i| clinic_domain::inquiry::is_overdue(i, now, &zone)).count();
                Some((page.items.len(), overdue))
            }
            Err(err) => return crate::error::ApiError::from(clinic_service::error::ServiceError::from(err)).into_response(),
        }
    } else {
        None
    };
    let body = html! {
        h1 { "Good to see you, " (principal.user.display_name) }
        @if let Some((n_new, n_overdue)) = inquiry_counts {
            h2 { "Needs you now" }
            div.cards {
                div.card { span.count { (n_new) } a href="/inquiries?status=new" { "New inquiries to call back" } }
                div.card { span.count { (n_overdue) } a href="/inquiries?status=new" { "Overdue: untouched for over one business day" } }
            }
        }
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
