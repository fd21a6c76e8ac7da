//! The audit log page for administrators, with filters and CSV download.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use clinic_domain::audit::AuditAction;
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_store::Store;
use maud::html;

use crate::api::audit::to_service_query;
use crate::dto::AuditListQuery;
use crate::extract::ApiQuery;
use crate::pages::{csv_field, site_time, staff_page, Nav};
use crate::pages::failure;
use crate::AppState;


pub async fn page<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, ApiQuery(query): ApiQuery<AuditListQuery>) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let as_csv = query.format.as_deref() == Some("csv");
    let kept = (
        query.patient_id.clone().unwrap_or_default(),
        query.actor.clone().unwrap_or_default(),
        query.action.clone().unwrap_or_default(),
        query.from.clone().unwrap_or_default(),
        query.to.clone().unwrap_or_default(),
    );
    let (page, errors) = match app.clinic.list_audit(&principal, &to_service_query(query)).await {
        Ok(page) => (Some(page), Vec::new()),
        Err(ServiceError::Invalid(errors)) => (None, errors.0),
        Err(err) => return failure(err),
    };
    if as_csv {
        let Some(page) = &page else {
            return crate::pages::error_page(StatusCode::UNPROCESSABLE_ENTITY, "Invalid filter", "Correct the filter and download again.");
        };
        let mut csv = String::from("id,occurred_at,actor,actor_role,action,resource_type,resource_id,patient_id,outcome,client_addr,detail\n");
        for e in &page.items {
            let fields = [
                e.id.to_string(),
                e.occurred_at.to_rfc3339(),
                e.actor.clone(),
                e.actor_role.clone().unwrap_or_default(),
                e.action.clone(),
                e.resource_type.clone(),
                e.resource_id.clone().unwrap_or_default(),
                e.patient_id.map(|id| id.to_string()).unwrap_or_default(),
                e.outcome.clone(),
                e.client_addr.clone().unwrap_or_default(),
                e.detail.clone().unwrap_or_default(),
            ];
            csv.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            csv.push('\n');
        }
        let mut res = csv.into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        res.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit.csv\""));
        return res;
    }
    let error = |name: &str| errors.iter().find(|e| e.field == name).map(|e| e.message.clone());
    let (patient_id, actor, action, from, to) = kept;
    let filter_query = format!(
        "patient_id={}&actor={}&action={}&from={}&to={}",
        enc(&patient_id), enc(&actor), enc(&action), enc(&from), enc(&to)
    );
    let body = html! {
        h1 { "Audit log" }
        p.muted { "Every sign-in, permission denial, and read or change of patient data. Times in " (site.time_zone) "." }
        form.filters method="get" action="/audit" {
            div {
                label for="patient_id" { "Patient id" }
                input id="patient_id" name="patient_id" value=(patient_id);
                @if let Some(m) = error("patient_id") { span.field-error { "Patient id " (m) } }
            }
            div { label for="actor" { "User" } input id="actor" name="actor" value=(actor); }
            div {
                label for="action" { "Action" }
                select id="action" name="action" {
                    option value="" selected[action.is_empty()] { "Any action" }
                    @for a in AuditAction::ALL { option value=(a.as_str()) selected[action == a.as_str()] { (a.as_str()) } }
                }
            }
            div {
                label for="from" { "From (date)" }
                input id="from" name="from" type="date" value=(from);
                @if let Some(m) = error("from") { span.field-error { "From " (m) } }
            }
            div {
                label for="to" { "Before (date)" }
                input id="to" name="to" type="date" value=(to);
                @if let Some(m) = error("to") { span.field-error { "Before " (m) } }
            }
            div { button type="submit" { "Filter" } }
        }
        @if let Some(page) = &page {
            p { a href={ "/audit?" (filter_query) "&format=csv" } { "Download this page as CSV" } }
            div.table-wrap { table {
                caption.visually-hidden { "Audit events, newest first" }
                thead { tr { th { "Time" } th { "User" } th { "Action" } th { "Outcome" } th { "Patient" } th { "Client" } th { "Detail" } } }
                tbody {
                    @for e in &page.items {
                        tr {
                            td { (site_time(e.occurred_at, &site.time_zone)) }
                            td { (e.actor) @if let Some(role) = &e.actor_role { br; span.muted { (role) } } }
                            td { (e.action) }
                            td { span.badge { (e.outcome) } }
                            td { @if let Some(pid) = e.patient_id { a href={ "/audit?patient_id=" (pid) } { (pid.to_string().get(..8).unwrap_or("")) "…" } } }
                            td { (e.client_addr.as_deref().unwrap_or("")) }
                            td { code { (e.detail.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            } }
            @if let Some(cursor) = &page.next_cursor {
                p.pager { a href={ "/audit?" (filter_query) "&cursor=" (cursor) } { "Older events →" } }
            }
        }
    };
    staff_page(&principal, &site.name, "Audit log", Nav::Audit, body)
}

fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
