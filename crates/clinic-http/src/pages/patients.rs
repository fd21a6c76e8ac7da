//! Patient pages: the list with search, a patient's record, registration.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::field::FieldError;
use clinic_domain::patient::{Patient, PatientStatus, SexAtBirth, Substance};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::patients::{DuplicatePolicy, PatientQuery};
use clinic_store::Store;
use maud::{html, Markup};
use serde::Deserialize;

use crate::dto::{ContactDto, PatientListQuery, PatientWrite};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::pages::{site_time, staff_page, Nav};
use crate::routes::CSRF_FIELD;
use crate::AppState;

fn failure(err: ServiceError) -> Response {
    let api = ApiError::from(err);
    crate::pages::error_page(api.status, api.title, &api.detail)
}

fn age_years(patient: &Patient, today: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    let dob = patient.details.date_of_birth;
    let mut age = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    age
}

pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<PatientListQuery>,
) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let service_query = PatientQuery {
        q: query.q.clone(),
        date_of_birth: query.date_of_birth.clone(),
        status: query.status.clone(),
        cursor: query.cursor.clone(),
        limit: query.limit,
    };
    let (page, errors) = match app.clinic.list_patients(&principal, &service_query).await {
        Ok(page) => (Some(page), Vec::new()),
        Err(ServiceError::Invalid(errors)) => (None, errors.0),
        Err(err) => return failure(err),
    };
    let today = clinic_service::Clinic::<S>::site_today(&site);
    let field_error = |name: &str| errors.iter().find(|e| e.field == name).map(|e| e.message.clone());
    let q = query.q.clone().unwrap_or_default();
    let dob = query.date_of_birth.clone().unwrap_or_default();
    let status = query.status.clone().unwrap_or_default();
    let body = html! {
        h1 { "Patients" }
        form.filters method="get" action="/patients" role="search" {
            div { label for="q" { "Name or MRN" } input id="q" name="q" value=(q) autofocus; }
            div {
                label for="date_of_birth" { "Date of birth" }
                input id="date_of_birth" name="date_of_birth" type="date" value=(dob);
                @if let Some(message) = field_error("date_of_birth") { span.field-error { "Date of birth " (message) } }
            }
            div {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" selected[status.is_empty()] { "Any status" }
                    @for s in PatientStatus::ALL {
                        option value=(s.as_str()) selected[status == s.as_str()] { (s.as_str().replace('_', " ")) }
                    }
                }
            }
            div { button type="submit" { "Search" } }
        }
        @if role_allows(principal.user.role, Permission::PatientCreate) {
            p { a.button.secondary href="/patients/new" { "Register a patient" } }
        }
        @if let Some(page) = &page {
            @if page.items.is_empty() {
                p.notice { "No patients match this search." }
            } @else {
                table.stack {
                    caption.visually-hidden { "Patients" }
                    thead { tr { th { "Name" } th { "MRN" } th { "Date of birth" } th { "Substances" } th { "Status" } } }
                    tbody {
                        @for patient in &page.items {
                            tr {
                                td { a href={ "/patients/" (patient.id) } { (patient.details.family_name) ", " (patient.details.given_name) } }
                                td data-label="MRN" { (patient.mrn.as_str()) }
                                td.nowrap data-label="Born" { (patient.details.date_of_birth.format("%Y-%m-%d")) " (" (age_years(patient, today)) ")" }
                                td data-label="Substances" { (patient.details.substances.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                                td data-label="Status" { span.badge { (patient.details.status.as_str().replace('_', " ")) } }
                            }
                        }
                    }
                }
                @if let Some(cursor) = &page.next_cursor {
                    p.pager {
                        a href={ "/patients?q=" (urlencode(&q)) "&date_of_birth=" (urlencode(&dob)) "&status=" (urlencode(&status)) "&cursor=" (cursor) } { "Next page →" }
                    }
                }
            }
        }
    };
    staff_page(&principal, &site.name, "Patients", Nav::Patients, body)
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Ten-digit North American numbers as (555) 010-0199; others as stored.
pub fn display_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    if digits.len() == 10 && digits.iter().all(char::is_ascii_digit) {
        let part = |range: std::ops::Range<usize>| digits[range].iter().collect::<String>();
        format!("({}) {}-{}", part(0..3), part(3..6), part(6..10))
    } else {
        phone.to_string()
    }
}

fn contact_text(contact: &clinic_domain::patient::Contact) -> Markup {
    html! {
        (contact.name)
        @if let Some(rel) = &contact.relationship { " (" (rel) ")" }
        @if let Some(phone) = &contact.phone { " · " a href={ "tel:" (phone) } { (display_phone(phone)) } }
    }
}

pub async fn show<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    let id = match crate::api::patients::parse_id(&id) {
        Ok(id) => id,
        Err(_) => return failure(ServiceError::NotFound { resource: "patient" }),
    };
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let patient = match app.clinic.get_patient(&principal, id).await {
        Ok(patient) => patient,
        Err(err) => return failure(err),
    };
    let d = &patient.details;
    let today = clinic_service::Clinic::<S>::site_today(&site);
    let body = html! {
        h1 { (d.given_name) " " (d.family_name) " " span.badge { (d.status.as_str().replace('_', " ")) } }
        div.grid2 {
            div.card {
                h2 { "Identity" }
                dl.facts {
                    dt { "MRN" } dd { (patient.mrn.as_str()) }
                    dt { "Date of birth" } dd { span.nowrap { (d.date_of_birth.format("%Y-%m-%d")) } " " span.nowrap { "(age " (age_years(&patient, today)) ")" } }
                    dt { "Sex at birth" } dd { (d.sex_at_birth.as_str()) }
                    dt { "Gender identity" } dd { (d.gender_identity.as_deref().unwrap_or("—")) }
                }
            }
            div.card {
                h2 { "Contact" }
                dl.facts {
                    dt { "Phone" } dd { @if let Some(phone) = &d.phone { a href={ "tel:" (phone) } { (display_phone(phone)) } } @else { "—" } }
                    dt { "Email" } dd { (d.email.as_deref().unwrap_or("—")) }
                    dt { "Address" } dd { (d.address.as_deref().unwrap_or("—")) }
                }
            }
            div.card {
                h2 { "Treatment" }
                dl.facts {
                    dt { "Substances" } dd { @if d.substances.is_empty() { "none recorded" } @else { (d.substances.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) } }
                    dt { "Status" } dd { (d.status.as_str().replace('_', " ")) }
                }
            }
            div.card {
                h2 { "Escort and emergency contacts" }
                dl.facts {
                    dt { "Escort home" } dd { @if let Some(escort) = &d.escort { (contact_text(escort)) } @else { span.error { "No escort recorded" } } }
                    @for contact in &d.emergency_contacts { dt { "Emergency contact" } dd { (contact_text(contact)) } }
                }
            }
        }
        p.muted {
            "Registered " (site_time(patient.created_at, &site.time_zone)) " · last changed " (site_time(patient.updated_at, &site.time_zone))
            " · version " (patient.version)
        }
    };
    staff_page(&principal, &site.name, &format!("{} {}", d.given_name, d.family_name), Nav::Patients, body)
}

/// The registration form's fields, kept as typed so an error loses nothing.
#[derive(Debug, Default, Deserialize)]
pub struct NewPatientForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    sex_at_birth: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    substances: Vec<String>,
    #[serde(default)]
    escort_name: String,
    #[serde(default)]
    escort_phone: String,
    #[serde(default)]
    confirm_not_duplicate: Option<String>,
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

fn render_form(principal: &Principal, site_name: &str, form: &NewPatientForm, errors: &[FieldError], duplicates: &[(uuid::Uuid, String)]) -> Response {
    let error = |name: &str| errors.iter().filter(|e| e.field == name || e.field.starts_with(&format!("{name}."))).map(|e| e.message.clone()).next();
    let text_field = |id: &str, label: &str, value: &str, kind: &str, autocomplete: &str| {
        let message = error(id);
        html! {
            label for=(id) { (label) }
            input id=(id) name=(id) type=(kind) value=(value) autocomplete=(autocomplete)
                aria-invalid=[message.as_ref().map(|_| "true")] aria-describedby=[message.as_ref().map(|_| format!("{id}-error"))];
            @if let Some(message) = message { span.field-error id={ (id) "-error" } { (label) " " (message) } }
        }
    };
    let body = html! {
        h1 { "Register a patient" }
        @if !errors.is_empty() {
            div.notice.bad role="alert" { "Please correct the fields marked below. Nothing was saved yet." }
        }
        @if !duplicates.is_empty() {
            div.notice.bad role="alert" {
                p { "This person may already be registered:" }
                ul { @for (id, mrn) in duplicates { li { a href={ "/patients/" (id) } { "MRN " (mrn) } } } }
                p { "Open the record to check. If this is someone else, tick the box at the bottom and register again." }
            }
        }
        form method="post" action="/patients" novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
            div.grid2 {
                div {
                    (text_field("given_name", "Given name", &form.given_name, "text", "off"))
                    (text_field("family_name", "Family name", &form.family_name, "text", "off"))
                    (text_field("date_of_birth", "Date of birth", &form.date_of_birth, "date", "off"))
                    label for="sex_at_birth" { "Sex at birth" }
                    select id="sex_at_birth" name="sex_at_birth" {
                        @for sex in SexAtBirth::ALL { option value=(sex.as_str()) selected[form.sex_at_birth == sex.as_str()] { (sex.as_str()) } }
                    }
                }
                div {
                    (text_field("phone", "Phone", &form.phone, "tel", "off"))
                    (text_field("email", "Email", &form.email, "email", "off"))
                    fieldset {
                        legend { "Substances of concern" }
                        @for substance in Substance::ALL {
                            label {
                                input type="checkbox" name="substances" value=(substance.as_str()) checked[form.substances.iter().any(|s| s == substance.as_str())];
                                " " (substance.as_str())
                            }
                        }
                        @if let Some(message) = error("substances") { span.field-error { (message) } }
                    }
                    (text_field("escort_name", "Escort's name (takes the patient home)", &form.escort_name, "text", "off"))
                    @if let Some(message) = error("escort") { span.field-error { "Escort " (message) } }
                    (text_field("escort_phone", "Escort's phone", &form.escort_phone, "tel", "off"))
                }
            }
            @if !duplicates.is_empty() {
                label { input type="checkbox" name="confirm_not_duplicate" value="yes"; " I checked: this is a different person" }
            }
            div.actions { button type="submit" { "Register" } a.button.secondary href="/patients" { "Cancel" } }
        }
    };
    let status = if errors.is_empty() && duplicates.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    (status, staff_page(principal, site_name, "Register a patient", Nav::Patients, body)).into_response()
}

pub async fn new_form<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>) -> Response {
    match app.clinic.main_site().await {
        Ok(site) => render_form(&principal, &site.name, &NewPatientForm { sex_at_birth: "unknown".into(), ..NewPatientForm::default() }, &[], &[]),
        Err(err) => failure(err),
    }
}

pub async fn create<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, axum::extract::RawForm(raw): axum::extract::RawForm) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    // Repeated checkbox fields (substances) need a pair list, not a struct decoder.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&raw).unwrap_or_default();
    let mut form = NewPatientForm::default();
    for (name, value) in pairs {
        match name.as_str() {
            "given_name" => form.given_name = value,
            "family_name" => form.family_name = value,
            "date_of_birth" => form.date_of_birth = value,
            "sex_at_birth" => form.sex_at_birth = value,
            "phone" => form.phone = value,
            "email" => form.email = value,
            "substances" => form.substances.push(value),
            "escort_name" => form.escort_name = value,
            "escort_phone" => form.escort_phone = value,
            "confirm_not_duplicate" => form.confirm_not_duplicate = Some(value),
            _ => {}
        }
    }
    let escort = (non_empty(&form.escort_name).is_some() || non_empty(&form.escort_phone).is_some())
        .then(|| ContactDto { name: non_empty(&form.escort_name), relationship: None, phone: non_empty(&form.escort_phone) });
    let write = PatientWrite {
        given_name: non_empty(&form.given_name),
        family_name: non_empty(&form.family_name),
        date_of_birth: non_empty(&form.date_of_birth),
        sex_at_birth: non_empty(&form.sex_at_birth),
        phone: non_empty(&form.phone),
        email: non_empty(&form.email),
        substances: Some(form.substances.clone()),
        escort,
        ..PatientWrite::default()
    };
    let policy = if form.confirm_not_duplicate.is_some() { DuplicatePolicy::RegisterAnyway } else { DuplicatePolicy::Refuse };
    match app.clinic.register_patient(&principal, &write.into_input(), policy).await {
        Ok(patient) => Redirect::to(&format!("/patients/{}", patient.id)).into_response(),
        Err(ServiceError::Invalid(errors)) => render_form(&principal, &site.name, &form, &errors.0, &[]),
        Err(ServiceError::LikelyDuplicate(candidates)) => {
            let duplicates: Vec<(uuid::Uuid, String)> = candidates.into_iter().map(|c| (c.patient_id, c.mrn)).collect();
            render_form(&principal, &site.name, &form, &[], &duplicates)
        }
        Err(err) => failure(err),
    }
}
