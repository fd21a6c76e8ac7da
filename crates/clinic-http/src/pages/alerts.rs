//! The clinicians' alert list: each open safety alert with what happened, why
//! it matters and what to do, closed only by recording the response taken.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use clinic_domain::authz::{role_allows, Permission};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_store::Store;
use maud::html;

use crate::pages::{site_time, staff_page, Nav};
use crate::routes::CSRF_FIELD;
use crate::pages::{failure, form_field, form_pairs};
use crate::AppState;

pub async fn page<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>) -> Response {
    render(&app, &principal, None).await
}

async fn render<S: Store>(app: &AppState<S>, principal: &Principal, error: Option<(uuid::Uuid, String)>) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let alerts = match app.clinic.list_alerts(principal, None, true).await {
        Ok(alerts) => alerts,
        Err(err) => return failure(err),
    };
    let mut names = std::collections::BTreeMap::new();
    for alert in &alerts {
        if let std::collections::btree_map::Entry::Vacant(entry) = names.entry(alert.patient_id) {
            if let Ok(patient) = app.clinic.store().get_patient(alert.patient_id).await {
                entry.insert(format!("{} {} (MRN {})", patient.details.given_name, patient.details.family_name, patient.mrn.as_str()));
            }
        }
    }
    let can_close = role_allows(principal.user.role, Permission::AlertManage);
    let body = html! {
        h1 { "Open safety alerts" }
        @if alerts.is_empty() {
            p.notice { "No open alerts." }
        }
        @for alert in &alerts {
            section.card.alert-card id={ "alert-" (alert.id) } {
                h2 { "Suicide risk — " a href={ "/patients/" (alert.patient_id) "?tab=screening" } { (names.get(&alert.patient_id).cloned().unwrap_or_default()) } }
                p { strong { "What happened: " } (alert.message) }
                p { strong { "What to do: " } (alert.kind.action()) }
                p.muted { "Raised " (site_time(alert.raised_at, &site.time_zone)) " · sent to " (alert.routed_to) }
                @if can_close {
                    form method="post" action={ "/alerts/" (alert.id) "/close" } {
                        input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                        input type="hidden" name="version" value=(alert.version);
                        label for={ "response-" (alert.id) } { "Response taken (required to close)" }
                        textarea id={ "response-" (alert.id) } name="response" rows="3" {}
                        @if let Some((id, message)) = &error { @if *id == alert.id { span.field-error role="alert" { (message) } } }
                        div.actions { button type="submit" { "Close alert with this response" } }
                    }
                }
            }
        }
        p.muted { "A safety alert stays open until a clinician records the response taken; every view and closure is in the audit log." }
    };
    let status = if error.is_some() { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    (status, staff_page(principal, &site.name, "Alerts", Nav::Alerts, body)).into_response()
}

pub async fn close<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "alert" }) };
    let pairs = form_pairs(&raw);
    let field = |name: &str| form_field(&pairs, name);
    let version = field("version").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    match app.clinic.close_alert(&principal, id, version, field("response").as_deref()).await {
        Ok(_) => Redirect::to("/alerts").into_response(),
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.0.iter().map(|e| format!("Response {}", e.message)).collect::<Vec<_>>().join("; ");
            render(&app, &principal, Some((id, message))).await
        }
        Err(ServiceError::StaleVersion { .. }) | Err(ServiceError::Conflict { .. }) => {
            render(&app, &principal, Some((id, "This alert changed or was closed by someone else meanwhile; check it again.".into()))).await
        }
        Err(err) => failure(err),
    }
}
