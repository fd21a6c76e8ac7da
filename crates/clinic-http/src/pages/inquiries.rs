//! The inquiry queue for front-desk staff, an inquiry's page with its call
//! log, and the public inquiry form with its confirmation page.

use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::field::FieldError;
use clinic_domain::inquiry::{is_overdue, CallOutcome, CloseReason, InquiryStatus};
use clinic_domain::patient::Substance;
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::inquiries::{CallInput, InquiryQuery, InquiryUpdate, Submitter};
use clinic_service::patients::DuplicatePolicy;
use clinic_store::Store;
use maud::{html, Markup};

use crate::dto::{InquiryListQuery, InquiryWrite};
use crate::extract::{ApiQuery, ClientAddr};
use crate::pages::{bare_page, site_time, staff_page, Nav};
use crate::routes::CSRF_FIELD;
use crate::pages::failure;
use crate::AppState;


fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(raw).unwrap_or_default()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The inquiry form's fields (public and staff forms share them).
fn inquiry_from_form(pairs: &[(String, String)]) -> InquiryWrite {
    let get = |name: &str| field(pairs, name).map(str::to_string);
    InquiryWrite {
        name: get("name"),
        phone: get("phone"),
        email: get("email"),
        substances: Some(pairs.iter().filter(|(k, _)| k == "substances").map(|(_, v)| v.clone()).collect()),
        preferred_contact_time: get("preferred_contact_time"),
        contact_channel: get("contact_channel"),
        message: get("message"),
        consent_to_contact: Some(field(pairs, "consent_to_contact") == Some("true")),
        website: get("website"),
    }
}

fn tz(time_zone: &str) -> chrono_tz::Tz {
    time_zone.parse().unwrap_or(chrono_tz::UTC)
}

fn label(text: &str) -> String {
    text.replace('_', " ")
}

pub async fn queue<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, ApiQuery(query): ApiQuery<InquiryListQuery>) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let status = query.status.clone().unwrap_or_default();
    let q = query.q.clone().unwrap_or_default();
    let overdue_only = query.overdue.unwrap_or(false);
    let service_query = InquiryQuery { q: query.q, status: query.status, overdue: query.overdue.unwrap_or(false), cursor: query.cursor, limit: query.limit };
    let page = match app.clinic.list_inquiries(&principal, &service_query).await {
        Ok(page) => page,
        Err(err) => return failure(err),
    };
    let now = clinic_service::now();
    let zone = tz(&site.time_zone);
    let staff = app.clinic.list_users().await.unwrap_or_default();
    let staff_name = |id: Option<uuid::Uuid>| id.and_then(|id| staff.iter().find(|u| u.id == id)).map(|u| u.display_name.clone());
    let body = html! {
        h1 { "Inquiries" }
        form.filters method="get" action="/inquiries" role="search" {
            div { label for="q" { "Name or phone" } input id="q" name="q" value=(q); }
            div {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" selected[status.is_empty()] { "Every status" }
                    @for s in InquiryStatus::ALL { option value=(s.as_str()) selected[status == s.as_str()] { (label(s.as_str())) } }
                }
            }
            div.check { label { input type="checkbox" name="overdue" value="true" checked[overdue_only]; " Overdue only" } }
            div { button type="submit" { "Show" } }
        }
        @if overdue_only {
            p.muted { "New inquiries with no call logged for more than one business day (Monday to Friday, in the site's time zone). "
                a href="/inquiries" { "Show all" } }
        }
        @if role_allows(principal.user.role, Permission::InquiryManage) {
            p { a.button.secondary href="/inquiries/new" { "Record a phone inquiry" } }
        }
        @if page.items.is_empty() {
            p.notice { "No inquiries match." }
        } @else {
            table.stack {
                caption.visually-hidden { "Inquiries, newest first" }
                thead { tr { th { "Received" } th { "Name" } th { "Phone" } th { "Substances" } th { "Contact by" } th { "Status" } th { "Last call" } th { "Assigned" } } }
                tbody {
                    @for i in &page.items {
                        @let overdue = is_overdue(i, now, &zone);
                        tr {
                            td data-label="Received" { (site_time(i.created_at, &site.time_zone)) }
                            td { a href={ "/inquiries/" (i.id) } { (i.details.name) } }
                            td.nowrap data-label="Phone" { (i.details.phone.as_deref().map(crate::pages::patients::display_phone).unwrap_or_else(|| "—".into())) }
                            td data-label="Substances" { (i.details.substances.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                            td data-label="Contact by" { (i.details.contact_channel.as_str()) }
                            td data-label="Status" {
                                span.badge { (label(i.status.as_str())) }
                                @if overdue { " " span.badge.overdue { "Overdue" } }
                            }
                            td data-label="Last call" { @if let Some(at) = i.last_contact_at { (site_time(at, &site.time_zone)) } @else { "none yet" } }
                            td data-label="Assigned" { (staff_name(i.assigned_to).unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
            }
            @if let Some(cursor) = &page.next_cursor {
                p.pager { a href={ "/inquiries?status=" (status) "&cursor=" (cursor) } { "Older inquiries →" } }
            }
        }
    };
    staff_page(&principal, &site.name, "Inquiries", Nav::Inquiries, body)
}

fn detail_page(
    principal: &Principal,
    site: &clinic_store::records::Site,
    record: &clinic_store::records::InquiryRecord,
    staff: &[clinic_store::records::User],
    errors: &[FieldError],
    duplicates: &[(uuid::Uuid, String)],
) -> Response {
    let staff_name = |id: Option<uuid::Uuid>| id.and_then(|id| staff.iter().find(|u| u.id == id)).map(|u| u.display_name.clone());
    let i = &record.inquiry;
    let can_manage = role_allows(principal.user.role, Permission::InquiryManage);
    let error = |name: &str| errors.iter().find(|e| e.field == name).map(|e| e.message.clone());
    let overdue = is_overdue(i, clinic_service::now(), &tz(&site.time_zone));
    let body = html! {
        h1 { (i.details.name) " " span.badge { (label(i.status.as_str())) } @if overdue { " " span.badge.overdue { "Overdue" } } }
        @if !errors.is_empty() {
            div.notice.bad role="alert" {
                "Nothing was saved: "
                @for e in errors { (label(&e.field)) " " (e.message) ". " }
            }
        }
        div.grid2 {
            div.card {
                h2 { "Inquiry" }
                dl.facts {
                    dt { "Received" } dd { (site_time(i.created_at, &site.time_zone)) }
                    dt { "Phone" } dd { @if let Some(p) = &i.details.phone { a href={ "tel:" (p) } { (crate::pages::patients::display_phone(p)) } } @else { "—" } }
                    dt { "Email" } dd { (i.details.email.as_deref().unwrap_or("—")) }
                    dt { "Contact by" } dd { (i.details.contact_channel.as_str()) " (agreed)" }
                    dt { "Best time" } dd { (i.details.preferred_contact_time.as_deref().unwrap_or("—")) }
                    dt { "Substances" } dd { (i.details.substances.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                    dt { "Message" } dd { (i.details.message.as_deref().unwrap_or("—")) }
                    dt { "Assigned to" } dd { (staff_name(i.assigned_to).unwrap_or_else(|| "nobody yet".into())) }
                    @if let Some(reason) = i.close_reason { dt { "Closed because" } dd { (label(reason.as_str())) } }
                    @if let Some(pid) = i.patient_id { dt { "Patient" } dd { a href={ "/patients/" (pid) } { "Open the chart" } } }
                }
            }
            div.card {
                h2 { "Call log" }
                @if record.calls.is_empty() { p.muted { "No calls yet." } }
                @else {
                    ul {
                        @for c in &record.calls {
                            li { (site_time(c.called_at, &site.time_zone)) " · "
                                (match c.direction { clinic_domain::inquiry::CallDirection::Outbound => "we called them", clinic_domain::inquiry::CallDirection::Inbound => "they called us" })
                                " · " strong { (label(c.outcome.as_str())) }
                                @if let Some(note) = &c.note { br; span.muted { (note) } } }
                        }
                    }
                }
                @if can_manage && i.status != InquiryStatus::Converted {
                    form method="post" action={ "/inquiries/" (i.id) "/calls" } {
                        input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                        label for="outcome" { "Call outcome" }
                        select id="outcome" name="outcome" {
                            @for o in CallOutcome::ALL { option value=(o.as_str()) { (label(o.as_str())) } }
                        }
                        label for="direction" { "Direction" }
                        select id="direction" name="direction" { option value="outbound" { "we called them" } option value="inbound" { "they called us" } }
                        label for="note" { "Note" }
                        input id="note" name="note";
                        @if let Some(m) = error("outcome") { span.field-error { (m) } }
                        div.actions { button type="submit" { "Log call" } }
                    }
                }
            }
        }
        @if can_manage && clinic_domain::inquiry::conversion_allowed(i.status) {
            div.grid2 {
                div.card {
                    h2 { "Register as a patient" }
                    @if !duplicates.is_empty() {
                        div.notice.bad role="alert" {
                            "This person may already be registered: "
                            @for (id, mrn) in duplicates { a href={ "/patients/" (id) } { "MRN " (mrn) } " " }
                        }
                    }
                    form method="post" action={ "/inquiries/" (i.id) "/convert" } novalidate {
                        input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                        input type="hidden" name="version" value=(i.version);
                        label for="date_of_birth" { "Date of birth" }
                        input id="date_of_birth" name="date_of_birth" type="date";
                        @if let Some(m) = error("date_of_birth") { span.field-error { "Date of birth " (m) } }
                        label for="sex_at_birth" { "Sex at birth" }
                        select id="sex_at_birth" name="sex_at_birth" {
                            @for s in clinic_domain::patient::SexAtBirth::ALL { option value=(s.as_str()) selected[*s == clinic_domain::patient::SexAtBirth::Unknown] { (s.as_str()) } }
                        }
                        @if !duplicates.is_empty() {
                            label { input type="checkbox" name="confirm_not_duplicate" value="yes"; " I checked: this is a different person" }
                        }
                        div.actions { button type="submit" { "Register patient" } }
                    }
                }
                div.card {
                    h2 { "Status and assignment" }
                    form method="post" action={ "/inquiries/" (i.id) "/status" } {
                        input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                        input type="hidden" name="version" value=(i.version);
                        label for="status" { "Status" }
                        select id="status" name="status" {
                            @for s in [InquiryStatus::Contacted, InquiryStatus::ScreeningBooked, InquiryStatus::Closed] {
                                option value=(s.as_str()) selected[i.status == s] { (label(s.as_str())) }
                            }
                        }
                        label for="assigned_to" { "Assigned to" }
                        select id="assigned_to" name="assigned_to" {
                            option value="" { "nobody" }
                            @for u in staff.iter().filter(|u| !u.disabled && role_allows(u.role, Permission::InquiryManage)) {
                                option value=(u.username) selected[i.assigned_to == Some(u.id)] { (u.display_name) " (" (u.role.as_str()) ")" }
                            }
                        }
                        label for="close_reason" { "Reason (when closing)" }
                        select id="close_reason" name="close_reason" {
                            option value="" { "—" }
                            @for r in CloseReason::ALL { option value=(r.as_str()) { (label(r.as_str())) } }
                        }
                        div.actions { button.secondary type="submit" { "Save" } }
                    }
                }
            }
        }
    };
    let status = if errors.is_empty() && duplicates.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (status, staff_page(principal, &site.name, &i.details.name, Nav::Inquiries, body)).into_response()
}

async fn show_with<S: Store>(app: &AppState<S>, principal: &Principal, id: uuid::Uuid, errors: &[FieldError], duplicates: &[(uuid::Uuid, String)]) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let staff = app.clinic.list_users().await.unwrap_or_default();
    match app.clinic.get_inquiry(principal, id).await {
        Ok(record) => detail_page(principal, &site, &record, &staff, errors, duplicates),
        Err(err) => failure(err),
    }
}

fn parse_id(id: &str) -> Result<uuid::Uuid, Response> {
    uuid::Uuid::try_parse(id).map_err(|_| failure(ServiceError::NotFound { resource: "inquiry" }))
}

pub async fn show<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    match parse_id(&id) {
        Ok(id) => show_with(&app, &principal, id, &[], &[]).await,
        Err(res) => res,
    }
}

pub async fn log_call<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>, RawForm(raw): RawForm) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(res) => return res,
    };
    let pairs = form_pairs(&raw);
    let input = CallInput {
        direction: field(&pairs, "direction").map(str::to_string),
        outcome: field(&pairs, "outcome").map(str::to_string),
        note: field(&pairs, "note").map(str::to_string),
        called_at: None,
    };
    match app.clinic.log_inquiry_call(&principal, id, &input).await {
        Ok(_) => Redirect::to(&format!("/inquiries/{id}")).into_response(),
        Err(ServiceError::Invalid(errors)) => show_with(&app, &principal, id, &errors.0, &[]).await,
        Err(err) => failure(err),
    }
}

fn version(pairs: &[(String, String)]) -> i64 {
    field(pairs, "version").and_then(|v| v.parse().ok()).unwrap_or(0)
}

pub async fn change_status<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>, RawForm(raw): RawForm) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(res) => return res,
    };
    let pairs = form_pairs(&raw);
    let update = InquiryUpdate {
        status: field(&pairs, "status").map(str::to_string),
        close_reason: field(&pairs, "close_reason").map(str::to_string),
        assigned_to: field(&pairs, "assigned_to").map(str::to_string),
    };
    match app.clinic.update_inquiry(&principal, id, version(&pairs), &update).await {
        Ok(_) => Redirect::to(&format!("/inquiries/{id}")).into_response(),
        Err(ServiceError::Invalid(errors)) => show_with(&app, &principal, id, &errors.0, &[]).await,
        Err(ServiceError::StaleVersion { .. }) => {
            let stale = [FieldError::new("status", "was changed by someone else meanwhile; check the page and try again")];
            show_with(&app, &principal, id, &stale, &[]).await
        }
        Err(err) => failure(err),
    }
}

pub async fn convert<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>, RawForm(raw): RawForm) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(res) => return res,
    };
    let pairs = form_pairs(&raw);
    let extra = clinic_domain::patient::PatientInput {
        date_of_birth: field(&pairs, "date_of_birth").map(str::to_string),
        sex_at_birth: field(&pairs, "sex_at_birth").map(str::to_string),
        ..Default::default()
    };
    let policy = if field(&pairs, "confirm_not_duplicate").is_some() { DuplicatePolicy::RegisterAnyway } else { DuplicatePolicy::Refuse };
    match app.clinic.convert_inquiry(&principal, id, version(&pairs), &extra, policy).await {
        Ok((_, patient)) => Redirect::to(&format!("/patients/{}", patient.id)).into_response(),
        Err(ServiceError::Invalid(errors)) => show_with(&app, &principal, id, &errors.0, &[]).await,
        Err(ServiceError::LikelyDuplicate(candidates)) => {
            let duplicates: Vec<(uuid::Uuid, String)> = candidates.into_iter().map(|c| (c.patient_id, c.mrn)).collect();
            show_with(&app, &principal, id, &[], &duplicates).await
        }
        Err(ServiceError::StaleVersion { .. }) => {
            let stale = [FieldError::new("status", "was changed by someone else meanwhile; check the page and try again")];
            show_with(&app, &principal, id, &stale, &[]).await
        }
        Err(err) => failure(err),
    }
}

/// The public inquiry form, with what the person typed kept on error.
pub fn public_form(values: &[(String, String)], errors: &[FieldError]) -> Markup {
    let value = |name: &str| field(values, name).unwrap_or("").to_string();
    let error = |name: &str| errors.iter().find(|e| e.field == name).map(|e| e.message.clone());
    let text = |id: &str, text: &str, kind: &str, autocomplete: &str| {
        let message = error(id);
        html! {
            label for=(id) { (text) }
            input id=(id) name=(id) type=(kind) autocomplete=(autocomplete) value=(value(id)) aria-invalid=[message.as_ref().map(|_| "true")];
            @if let Some(m) = message { span.field-error { (m) } }
        }
    };
    html! {
        form method="post" action="/inquire" novalidate {
            @if !errors.is_empty() { div.notice.bad role="alert" { "Please check the fields marked below." } }
            (text("name", "Your name", "text", "name"))
            (text("phone", "Phone", "tel", "tel"))
            (text("email", "Email", "email", "email"))
            fieldset {
                legend { "What would you like help with? (optional)" }
                @for s in Substance::ALL {
                    label { input type="checkbox" name="substances" value=(s.as_str()) checked[values.iter().any(|(k, v)| k == "substances" && v == s.as_str())]; " " (s.as_str()) }
                }
                @if let Some(m) = error("substances") { span.field-error { (m) } }
            }
            (text("preferred_contact_time", "When is a good time to reach you?", "text", "off"))
            label for="contact_channel" { "How may we contact you?" }
            select id="contact_channel" name="contact_channel" {
                option value="" { "Phone call (or email if no phone)" }
                option value="phone" selected[value("contact_channel") == "phone"] { "Phone call" }
                option value="sms" selected[value("contact_channel") == "sms"] { "Text message" }
                option value="email" selected[value("contact_channel") == "email"] { "Email" }
            }
            @if let Some(m) = error("contact_channel") { span.field-error { (m) } }
            label for="message" { "Anything you want us to know (optional)" }
            textarea id="message" name="message" rows="4" { (value("message")) }
            @if let Some(m) = error("message") { span.field-error { (m) } }
            div.hp aria-hidden="true" {
                label for="website" { "Leave this empty" }
                input id="website" name="website" tabindex="-1" autocomplete="off";
            }
            label {
                input type="checkbox" name="consent_to_contact" value="true" checked[value("consent_to_contact") == "true"]
                aria-invalid=[error("consent_to_contact").map(|_| "true")];
                " I agree that the clinic may contact me the way I chose. Our messages never say what they are about."
            }
            @if let Some(m) = error("consent_to_contact") { span.field-error { "Consent " (m) } }
            div.actions { button type="submit" { "Send" } }
        }
    }
}

pub async fn public_submit<S: Store>(State(app): State<AppState<S>>, ClientAddr(addr): ClientAddr, RawForm(raw): RawForm) -> Response {
    let pairs = form_pairs(&raw);
    let (input, website) = crate::api::inquiries::into_input(inquiry_from_form(&pairs));
    if let Err(err) = crate::api::inquiries::refuse_honeypot(website.as_deref()) {
        return crate::pages::error_page(err.status, "We could not send this", "Please call the clinic instead.");
    }
    if let Some(retry) = app.limiter.check(addr.as_deref().unwrap_or("unknown"), chrono::Utc::now()) {
        let err = crate::api::inquiries::rate_limited(retry);
        return crate::pages::error_page(err.status, "Please wait a moment", &err.detail);
    }
    match app.clinic.submit_inquiry(Submitter::Public { client_addr: addr }, &input).await {
        // Post/redirect/get: reloading the thank-you page does not send the form again.
        Ok(_) => Redirect::to("/inquire/thanks").into_response(),
        Err(ServiceError::Invalid(errors)) => {
            let sites = app.clinic.store().list_sites().await.unwrap_or_default();
            (StatusCode::UNPROCESSABLE_ENTITY, crate::pages::home::public_page(&pairs, &errors.0, &sites)).into_response()
        }
        Err(err) => failure(err),
    }
}

pub async fn thanks<S: Store>(State(app): State<AppState<S>>) -> Response {
    let site = app.clinic.main_site().await.ok();
    let phone = site.as_ref().and_then(|s| s.phone.clone());
    let body = html! {
        div.card {
            h1 { "Thank you. We got your message." }
            p { "Someone from our team will contact you within one business day, the way you chose." }
            @if let Some(phone) = &phone { p { "You can also call us: " a href={ "tel:" (phone) } { (phone) } } }
            div.notice.bad {
                strong { "In a crisis, do not wait for our call. " }
                "Call or text " a href="tel:988" { "988" } " (Suicide & Crisis Lifeline), or call " a href="tel:911" { "911" } " if you are in danger."
            }
            p { a href="/" { "Back to the start" } }
        }
    };
    bare_page("Thank you", body).into_response()
}

pub async fn new_phone_form<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let body = html! {
        h1 { "Record a phone inquiry" }
        p.muted { "For someone who called the clinic. Ask for consent to call back and how they want to be contacted." }
        div.card { (staff_inquiry_form(&principal, &[], &[])) }
    };
    staff_page(&principal, &site.name, "Record a phone inquiry", Nav::Inquiries, body)
}

fn staff_inquiry_form(principal: &Principal, values: &[(String, String)], errors: &[FieldError]) -> Markup {
    let public = public_form(values, errors);
    html! {
        // The same fields as the public form, posted by staff with their CSRF token.
        form method="post" action="/inquiries" novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
            (strip_form(public))
        }
    }
}

/// The public form's fields without its own <form> wrapper.
fn strip_form(markup: Markup) -> Markup {
    let text = markup.into_string();
    let inner = text
        .split_once('>')
        .map(|(_, rest)| rest.strip_suffix("</form>").unwrap_or(rest).to_string())
        .unwrap_or_default();
    maud::PreEscaped(inner)
}

pub async fn staff_submit<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, RawForm(raw): RawForm) -> Response {
    let pairs = form_pairs(&raw);
    let (input, _) = crate::api::inquiries::into_input(inquiry_from_form(&pairs));
    match app.clinic.submit_inquiry(Submitter::Staff(&principal), &input).await {
        Ok(inquiry) => Redirect::to(&format!("/inquiries/{}", inquiry.id)).into_response(),
        Err(ServiceError::Invalid(errors)) => {
            let site_name = app.clinic.main_site().await.map(|s| s.name).unwrap_or_default();
            let body = html! { h1 { "Record a phone inquiry" } div.card { (staff_inquiry_form(&principal, &pairs, &errors.0)) } };
            (StatusCode::UNPROCESSABLE_ENTITY, staff_page(&principal, &site_name, "Record a phone inquiry", Nav::Inquiries, body)).into_response()
        }
        Err(err) => failure(err),
    }
}
