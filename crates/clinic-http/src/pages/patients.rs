//! Patient pages: the list with search, a patient's record, registration.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::chart::{chart_alerts, AlertSeverity};
use clinic_domain::field::FieldError;
use clinic_domain::inquiry::ContactChannel;
use clinic_domain::patient::{Patient, PatientDetails, PatientStatus, SexAtBirth, Substance};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::patients::{DuplicatePolicy, PatientQuery};
use clinic_store::Store;
use maud::{html, Markup};

use crate::dto::{AllergyDto, ContactDto, MedicationDto, PatientListQuery, PatientWrite};
use crate::extract::ApiQuery;
use crate::pages::{site_time, staff_page, Nav};
use crate::routes::CSRF_FIELD;
use crate::pages::failure;
use crate::AppState;


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

pub fn channel_label(channel: ContactChannel) -> &'static str {
    match channel {
        ContactChannel::Phone => "phone call",
        ContactChannel::Sms => "text message (SMS)",
        ContactChannel::Email => "email",
    }
}

/// The chart's tabs: `(query value, label, what later fills it)`. Tabs not
/// yet in use say what will appear there.
const CHART_TABS: [(&str, &str, &str); 7] = [
    ("summary", "Summary", ""),
    ("screening", "Screening", "Questionnaire scores, medical screening and the signed eligibility decision"),
    ("consents", "Consents", "Consent to treatment, informed consent to the infusions and the 42 CFR Part 2 consent, with every version signed"),
    ("plan", "Plan", "The treatment plan from the chosen protocol and the booked infusions and sessions"),
    ("infusions", "Infusions", "Signed orders and each infusion's chart: vitals, alerts, doses given and discharge"),
    ("counseling", "Counseling", "Counseling sessions, attendance and the recovery plan"),
    ("outcomes", "Outcomes", "Substance use, cravings, urine and breath tests, and relapse"),
];

pub async fn show<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
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
    let requested = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "tab")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| "summary".into());
    let Some(&(tab, tab_label, coming)) = CHART_TABS.iter().find(|(key, _, _)| *key == requested) else {
        let allowed: Vec<&str> = CHART_TABS.iter().map(|(key, _, _)| *key).collect();
        return crate::pages::error_page(
            axum::http::StatusCode::BAD_REQUEST,
            "No such chart tab",
            &format!("tab must be one of: {}", allowed.join(", ")),
        );
    };
    let d = &patient.details;
    let today = clinic_service::Clinic::<S>::site_today(&site);
    let alerts = chart_alerts(d);
    let screening_tab = if tab == "screening" {
        let questionnaires = crate::pages::screening::tab(&app, &principal, &patient, &site.time_zone).await;
        let cards = crate::pages::eligibility::screening_cards(&app, &principal, &patient, &site.time_zone).await;
        html! { (cards) (questionnaires) }
    } else if tab == "consents" {
        crate::pages::eligibility::consents_tab(&app, &principal, &patient, &site.time_zone).await
    } else if tab == "plan" {
        crate::pages::plans::plan_tab(&app, &principal, &patient, &site.time_zone, today).await
    } else if tab == "infusions" {
        crate::pages::chair::infusions_tab(&app, &principal, &patient, &site.time_zone).await
    } else if tab == "counseling" {
        crate::pages::counseling::tab(&app, &principal, &patient, &site.time_zone).await
    } else if tab == "outcomes" {
        crate::pages::outcomes::tab(&app, &principal, &patient).await
    } else {
        html! {}
    };
    let open_alerts = if role_allows(principal.user.role, Permission::AlertRead) {
        app.clinic.list_alerts(&principal, Some(patient.id), true).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    // Consents needed before treatment that are not in force now.
    let missing_consents: Vec<clinic_domain::consent::ConsentKind> = if matches!(d.status, PatientStatus::Screening | PatientStatus::Eligible | PatientStatus::InTreatment) {
        match app.clinic.list_consents(&principal, patient.id).await {
            Ok(consents) => {
                let signed: Vec<_> = consents.into_iter().map(|c| c.consent).collect();
                clinic_domain::consent::missing_consents(&signed, clinic_service::now())
            }
            Err(err) => return failure(err),
        }
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { (d.given_name) " " (d.family_name) " " span.badge { (d.status.as_str().replace('_', " ")) } }
        div.chart-header {
            span { "Age " (age_years(&patient, today)) } " · " span { "MRN " (patient.mrn.as_str()) } " · "
            @if d.allergies.is_empty() {
                span.error { "Allergies: none recorded — ask and record" }
            } @else {
                strong { "Allergies: " }
                (d.allergies.iter().map(|a| match &a.reaction { Some(r) => format!("{} ({r})", a.substance), None => a.substance.clone() }).collect::<Vec<_>>().join(", "))
            }
        }
        @if !alerts.is_empty() || !open_alerts.is_empty() || !missing_consents.is_empty() {
            ul.chart-alerts aria-label="Alerts" {
                @if !missing_consents.is_empty() {
                    li class="chart-alert warning" data-alert="consents_missing" {
                        strong { "Warning: consents not in force: " (missing_consents.iter().map(|k| k.as_str().replace('_', " ")).collect::<Vec<_>>().join(", ")) "." }
                        " No infusion until they are signed. " a href={ "/patients/" (patient.id) "?tab=consents" } { "Open consents" }
                    }
                }
                @for alert in &open_alerts {
                    li class="chart-alert urgent" data-alert=(alert.kind.as_str()) {
                        strong { "Safety alert: " (alert.message) } " " (alert.kind.action()) " "
                        @if role_allows(principal.user.role, Permission::AlertManage) { a href={ "/alerts#alert-" (alert.id) } { "Record the response" } }
                    }
                }
                @for alert in alerts.iter().filter(|a| a.kind != clinic_domain::chart::ChartAlertKind::AllergiesNotRecorded) {
                    li class={ "chart-alert " (alert.severity.as_str()) } data-alert=(alert.kind.as_str()) {
                        strong { @match alert.severity { AlertSeverity::Warning => "Warning: ", AlertSeverity::Info => "Note: " } (alert.what) }
                        " " (alert.action)
                    }
                }
            }
        }
        nav.tabs aria-label="Chart sections" {
            @for (key, label, _) in CHART_TABS {
                a href={ "/patients/" (patient.id) @if key != "summary" { "?tab=" (key) } } aria-current=[(key == tab).then_some("page")] { (label) }
            }
            @if role_allows(principal.user.role, Permission::AuditRead) {
                a href={ "/audit?patient_id=" (patient.id) } { "Access log" }
            }
        }
        @if tab == "summary" {
            (summary_tab(&principal, &patient, today))
            p.muted {
                "Registered " (site_time(patient.created_at, &site.time_zone)) " · last changed " (site_time(patient.updated_at, &site.time_zone))
                " · version " (patient.version)
            }
        } @else if tab == "screening" || tab == "consents" || tab == "plan" || tab == "infusions" || tab == "counseling" || tab == "outcomes" {
            (screening_tab)
        } @else {
            section.card {
                h2 { (tab_label) }
                p { "Nothing recorded yet." }
                p.muted { (coming) " will be shown here once that part of the program is in use." }
            }
        }
    };
    staff_page(&principal, &site.name, &format!("{} {}", d.given_name, d.family_name), Nav::Patients, body)
}

fn summary_tab(principal: &Principal, patient: &Patient, today: chrono::NaiveDate) -> Markup {
    let d = &patient.details;
    html! {
        @if role_allows(principal.user.role, Permission::PatientUpdate) {
            p { a.button.secondary href={ "/patients/" (patient.id) "/edit" } { "Edit record" } }
        }
        div.grid2 {
            div.card {
                h2 { "Identity" }
                dl.facts {
                    dt { "MRN" } dd { (patient.mrn.as_str()) }
                    dt { "Date of birth" } dd { span.nowrap { (d.date_of_birth.format("%Y-%m-%d")) } " " span.nowrap { "(age " (age_years(patient, today)) ")" } }
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
                    dt { "May contact by" } dd {
                        @if d.contact_channels.is_empty() { span.error { "no consent recorded" } }
                        @else { (d.contact_channels.iter().map(|c| channel_label(*c)).collect::<Vec<_>>().join(", ")) }
                    }
                    dt { "Preferred" } dd { (d.preferred_contact_channel.map(channel_label).unwrap_or("—")) }
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
                h2 { "Diagnoses and medications" }
                dl.facts {
                    dt { "Diagnoses" } dd {
                        @if d.diagnoses.is_empty() { "none recorded" }
                        @for code in &d.diagnoses { (code) " " span.muted { (clinic_domain::patient::diagnosis_display(code).map(|(_, t)| t).unwrap_or("")) } br; }
                    }
                    dt { "Medications" } dd {
                        @if d.medications.is_empty() { "none recorded" }
                        @for m in &d.medications { (m.name) @if let Some(dose) = &m.dose { " — " (dose) } br; }
                    }
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
    }
}

/// The patient form's fields, kept as typed so an error loses nothing.
#[derive(Debug, Default, Clone)]
pub struct PatientForm {
    given_name: String,
    family_name: String,
    date_of_birth: String,
    sex_at_birth: String,
    gender_identity: String,
    phone: String,
    email: String,
    address: String,
    substances: Vec<String>,
    status: String,
    escort_name: String,
    escort_relationship: String,
    escort_phone: String,
    contact_name: String,
    contact_relationship: String,
    contact_phone: String,
    diagnoses: Vec<String>,
    /// (substance, reaction) rows as typed, blank rows included.
    allergies: Vec<(String, String)>,
    /// (name, dose) rows as typed, blank rows included.
    medications: Vec<(String, String)>,
    contact_channels: Vec<String>,
    preferred_contact_channel: String,
    confirm_not_duplicate: Option<String>,
    version: i64,
}

impl PatientForm {
    fn from_pairs(raw: &[u8]) -> PatientForm {
        // Repeated checkbox fields (substances) need a pair list, not a struct decoder.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).unwrap_or_default();
        let mut form = PatientForm::default();
        let (mut allergy_substances, mut allergy_reactions, mut medication_names, mut medication_doses) = (vec![], vec![], vec![], vec![]);
        for (name, value) in pairs {
            match name.as_str() {
                "given_name" => form.given_name = value,
                "family_name" => form.family_name = value,
                "date_of_birth" => form.date_of_birth = value,
                "sex_at_birth" => form.sex_at_birth = value,
                "gender_identity" => form.gender_identity = value,
                "phone" => form.phone = value,
                "email" => form.email = value,
                "address" => form.address = value,
                "substances" => form.substances.push(value),
                "status" => form.status = value,
                "escort_name" => form.escort_name = value,
                "escort_relationship" => form.escort_relationship = value,
                "escort_phone" => form.escort_phone = value,
                "contact_name" => form.contact_name = value,
                "contact_relationship" => form.contact_relationship = value,
                "contact_phone" => form.contact_phone = value,
                "confirm_not_duplicate" => form.confirm_not_duplicate = Some(value),
                "version" => form.version = value.parse().unwrap_or(0),
                "diagnoses" => form.diagnoses.push(value),
                "contact_channels" => form.contact_channels.push(value),
                "preferred_contact_channel" => form.preferred_contact_channel = value,
                "allergy_substance" => allergy_substances.push(value),
                "allergy_reaction" => allergy_reactions.push(value),
                "medication_name" => medication_names.push(value),
                "medication_dose" => medication_doses.push(value),
                _ => {}
            }
        }
        let rows = |firsts: Vec<String>, seconds: Vec<String>| -> Vec<(String, String)> {
            firsts.into_iter().zip(seconds.into_iter().chain(std::iter::repeat(String::new()))).collect()
        };
        form.allergies = rows(allergy_substances, allergy_reactions);
        form.medications = rows(medication_names, medication_doses);
        form
    }

    fn from_patient(patient: &Patient) -> PatientForm {
        let d = &patient.details;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let first_contact = d.emergency_contacts.first();
        PatientForm {
            given_name: d.given_name.clone(),
            family_name: d.family_name.clone(),
            date_of_birth: d.date_of_birth.format("%Y-%m-%d").to_string(),
            sex_at_birth: d.sex_at_birth.as_str().to_string(),
            gender_identity: text(&d.gender_identity),
            phone: text(&d.phone),
            email: text(&d.email),
            address: text(&d.address),
            substances: d.substances.iter().map(|s| s.as_str().to_string()).collect(),
            status: d.status.as_str().to_string(),
            escort_name: d.escort.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
            escort_relationship: d.escort.as_ref().and_then(|c| c.relationship.clone()).unwrap_or_default(),
            escort_phone: d.escort.as_ref().and_then(|c| c.phone.clone()).unwrap_or_default(),
            contact_name: first_contact.map(|c| c.name.clone()).unwrap_or_default(),
            contact_relationship: first_contact.and_then(|c| c.relationship.clone()).unwrap_or_default(),
            contact_phone: first_contact.and_then(|c| c.phone.clone()).unwrap_or_default(),
            diagnoses: d.diagnoses.clone(),
            allergies: d.allergies.iter().map(|a| (a.substance.clone(), a.reaction.clone().unwrap_or_default())).collect(),
            medications: d.medications.iter().map(|m| (m.name.clone(), m.dose.clone().unwrap_or_default())).collect(),
            contact_channels: d.contact_channels.iter().map(|c| c.as_str().to_string()).collect(),
            preferred_contact_channel: d.preferred_contact_channel.map(|c| c.as_str().to_string()).unwrap_or_default(),
            confirm_not_duplicate: None,
            version: patient.version,
        }
    }

    fn contact(name: &str, relationship: &str, phone: &str) -> Option<ContactDto> {
        (non_empty(name).is_some() || non_empty(phone).is_some())
            .then(|| ContactDto { name: non_empty(name), relationship: non_empty(relationship), phone: non_empty(phone) })
    }

    /// The form as a patient write. Emergency contacts beyond the first are
    /// kept from `existing` (the form edits the first one only).
    fn to_write(&self, existing: Option<&Patient>) -> PatientWrite {
        let mut contacts: Vec<ContactDto> = Vec::new();
        if let Some(first) = PatientForm::contact(&self.contact_name, &self.contact_relationship, &self.contact_phone) {
            contacts.push(first);
        }
        if let Some(patient) = existing {
            contacts.extend(patient.details.emergency_contacts.iter().skip(1).map(|c| ContactDto {
                name: Some(c.name.clone()),
                relationship: c.relationship.clone(),
                phone: c.phone.clone(),
            }));
        }
        PatientWrite {
            given_name: non_empty(&self.given_name),
            family_name: non_empty(&self.family_name),
            date_of_birth: non_empty(&self.date_of_birth),
            sex_at_birth: non_empty(&self.sex_at_birth),
            gender_identity: non_empty(&self.gender_identity),
            phone: non_empty(&self.phone),
            email: non_empty(&self.email),
            address: non_empty(&self.address),
            substances: Some(self.substances.clone()),
            status: non_empty(&self.status),
            escort: PatientForm::contact(&self.escort_name, &self.escort_relationship, &self.escort_phone),
            emergency_contacts: Some(contacts),
            diagnoses: Some(self.diagnoses.clone()),
            // Rows left blank are not entries.
            allergies: Some(
                self.allergies
                    .iter()
                    .filter(|(a, b)| non_empty(a).is_some() || non_empty(b).is_some())
                    .map(|(a, b)| AllergyDto { substance: non_empty(a), reaction: non_empty(b) })
                    .collect(),
            ),
            medications: Some(
                self.medications
                    .iter()
                    .filter(|(a, b)| non_empty(a).is_some() || non_empty(b).is_some())
                    .map(|(a, b)| MedicationDto { name: non_empty(a), dose: non_empty(b) })
                    .collect(),
            ),
            contact_channels: Some(self.contact_channels.clone()),
            preferred_contact_channel: non_empty(&self.preferred_contact_channel),
            confirm_not_duplicate: None,
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// How one list of two-field rows (allergies, medications) is shown.
struct PairRows {
    legend: &'static str,
    item: &'static str,
    list_field: &'static str,
    names: (&'static str, &'static str),
    labels: (&'static str, &'static str),
    hints: (&'static str, &'static str),
}

/// The entered rows plus two blank ones, each with its error next to it.
fn pair_rows(spec: &PairRows, rows: &[(String, String)], errors: &[FieldError]) -> Markup {
    // Rows left blank come back from the form: show the filled ones (numbered as
    // the error paths number them) and two blank ones, not an ever-growing list.
    let filled = rows.iter().filter(|(a, b)| !a.trim().is_empty() || !b.trim().is_empty()).cloned();
    let blank = std::iter::repeat_n((String::new(), String::new()), 2);
    html! {
        fieldset {
            legend { (spec.legend) }
            @for (idx, (first, second)) in filled.chain(blank).enumerate() {
                div.pair {
                    input name=(spec.names.0) value=(first) aria-label={ (spec.item) " " (idx + 1) " " (spec.labels.0) } placeholder=(spec.hints.0);
                    input name=(spec.names.1) value=(second) aria-label={ (spec.item) " " (idx + 1) " " (spec.labels.1) } placeholder=(spec.hints.1);
                }
                @let prefix = format!("{}[{idx}]", spec.list_field);
                @if let Some(e) = errors.iter().find(|e| e.field.starts_with(&prefix)) {
                    span.field-error { (spec.item) " " (idx + 1) " " (e.message) }
                }
            }
        }
    }
}

/// A field's name as the form labels it.
fn field_label(field: &str) -> &'static str {
    match field {
        "given_name" => "Given name",
        "family_name" => "Family name",
        "date_of_birth" => "Date of birth",
        "sex_at_birth" => "Sex at birth",
        "gender_identity" => "Gender identity",
        "phone" => "Phone",
        "email" => "Email",
        "address" => "Address",
        "substances" => "Substances of concern",
        "status" => "Status",
        "escort" => "Escort",
        "emergency_contacts" => "Emergency contacts",
        "diagnoses" => "Diagnoses",
        "allergies" => "Allergies",
        "medications" => "Medications",
        "contact_channels" => "May contact by",
        "preferred_contact_channel" => "Preferred channel",
        _ => "Other",
    }
}

/// A field's value as one line of text, `—` when empty.
fn field_text(d: &PatientDetails, field: &str) -> String {
    let or_dash = |text: String| if text.is_empty() { "—".to_string() } else { text };
    let contact = |c: &clinic_domain::patient::Contact| {
        [Some(c.name.clone()), c.relationship.clone(), c.phone.as_deref().map(display_phone)].into_iter().flatten().collect::<Vec<_>>().join(", ")
    };
    or_dash(match field {
        "given_name" => d.given_name.clone(),
        "family_name" => d.family_name.clone(),
        "date_of_birth" => d.date_of_birth.format("%Y-%m-%d").to_string(),
        "sex_at_birth" => d.sex_at_birth.as_str().to_string(),
        "gender_identity" => d.gender_identity.clone().unwrap_or_default(),
        "phone" => d.phone.as_deref().map(display_phone).unwrap_or_default(),
        "email" => d.email.clone().unwrap_or_default(),
        "address" => d.address.clone().unwrap_or_default(),
        "substances" => d.substances.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        "status" => d.status.as_str().replace('_', " "),
        "escort" => d.escort.as_ref().map(contact).unwrap_or_default(),
        "emergency_contacts" => d.emergency_contacts.iter().map(contact).collect::<Vec<_>>().join("; "),
        "diagnoses" => d.diagnoses.join(", "),
        "allergies" => d.allergies.iter().map(|a| match &a.reaction { Some(r) => format!("{} ({r})", a.substance), None => a.substance.clone() }).collect::<Vec<_>>().join(", "),
        "medications" => d.medications.iter().map(|m| match &m.dose { Some(dose) => format!("{} {dose}", m.name), None => m.name.clone() }).collect::<Vec<_>>().join(", "),
        "contact_channels" => d.contact_channels.iter().map(|c| channel_label(*c)).collect::<Vec<_>>().join(", "),
        "preferred_contact_channel" => d.preferred_contact_channel.map(channel_label).unwrap_or("").to_string(),
        _ => String::new(),
    })
}

/// Registering a new patient, or editing one at a known version.
enum FormMode<'a> {
    Register,
    Edit { patient: &'a Patient, conflict: Option<&'a Patient> },
}

fn render_form(principal: &Principal, site_name: &str, mode: FormMode<'_>, form: &PatientForm, errors: &[FieldError], duplicates: &[(uuid::Uuid, String)]) -> Response {
    let error = |name: &str| errors.iter().filter(|e| e.field == name || e.field.starts_with(&format!("{name}."))).map(|e| e.message.clone()).next();
    let text_field = |id: &str, label: &str, value: &str, kind: &str, error_key: &str| {
        let message = error(error_key);
        html! {
            label for=(id) { (label) }
            input id=(id) name=(id) type=(kind) value=(value) autocomplete="off"
                aria-invalid=[message.as_ref().map(|_| "true")] aria-describedby=[message.as_ref().map(|_| format!("{id}-error"))];
            @if let Some(message) = message { span.field-error id={ (id) "-error" } { (label) " " (message) } }
        }
    };
    // For a conflict: each field where the saved record differs from what was typed.
    let conflict_rows: Vec<(&str, String, String)> = match &mode {
        FormMode::Edit { conflict: Some(current), .. } => {
            let typed = PatientDetails::parse(&form.to_write(Some(current)).into_input(), clinic_service::now().date_naive());
            match typed {
                Ok(typed) => current
                    .details
                    .changed_fields(&typed)
                    .into_iter()
                    .map(|field| (field_label(field), field_text(&current.details, field), field_text(&typed, field)))
                    .collect(),
                Err(_) => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let (title, action, submit) = match &mode {
        FormMode::Register => ("Register a patient".to_string(), "/patients".to_string(), "Register"),
        FormMode::Edit { patient, .. } => (
            format!("Edit {} {}", patient.details.given_name, patient.details.family_name),
            format!("/patients/{}/edit", patient.id),
            "Save changes",
        ),
    };
    let body = html! {
        h1 { (title) }
        @if let FormMode::Edit { conflict: Some(current), .. } = &mode {
            div.notice.bad role="alert" {
                p { strong { "Someone else changed this record while you were editing." } " Nothing you typed was saved or lost: it is still in the form below." }
                @if conflict_rows.is_empty() {
                    p { "The record now says: " (current.details.given_name) " " (current.details.family_name) ", born " (current.details.date_of_birth.format("%Y-%m-%d"))
                        ", phone " (current.details.phone.as_deref().unwrap_or("—")) ", status " (current.details.status.as_str().replace('_', " ")) " (version " (current.version) ")." }
                } @else {
                    table.conflict {
                        caption { "Where the saved record (version " (current.version) ") and your form differ" }
                        thead { tr { th { "Field" } th { "Saved now" } th { "In your form" } } }
                        tbody { @for (field, saved, typed) in &conflict_rows { tr { th scope="row" { (field) } td { (saved) } td { (typed) } } } }
                    }
                }
                p { "Check both. Saving again replaces the record with what is in the form, so copy over anything from the saved record you want to keep." }
            }
        }
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
        form method="post" action=(action) novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
            input type="hidden" name="version" value=(form.version);
            div.grid2 {
                div {
                    (text_field("given_name", "Given name", &form.given_name, "text", "given_name"))
                    (text_field("family_name", "Family name", &form.family_name, "text", "family_name"))
                    (text_field("date_of_birth", "Date of birth", &form.date_of_birth, "date", "date_of_birth"))
                    label for="sex_at_birth" { "Sex at birth (used for AUDIT-C and drinking limits)" }
                    select id="sex_at_birth" name="sex_at_birth" {
                        @for sex in SexAtBirth::ALL { option value=(sex.as_str()) selected[form.sex_at_birth == sex.as_str()] { (sex.as_str()) } }
                    }
                    (text_field("gender_identity", "Gender identity (as the patient describes it)", &form.gender_identity, "text", "gender_identity"))
                    (text_field("phone", "Phone", &form.phone, "tel", "phone"))
                    (text_field("email", "Email", &form.email, "email", "email"))
                    (text_field("address", "Address", &form.address, "text", "address"))
                    fieldset {
                        legend { "The patient agrees to be contacted by" }
                        @for channel in ContactChannel::ALL {
                            label {
                                input type="checkbox" name="contact_channels" value=(channel.as_str()) checked[form.contact_channels.iter().any(|c| c == channel.as_str())];
                                " " (channel_label(*channel))
                            }
                        }
                        @if let Some(message) = error("contact_channels") { span.field-error { "Contact channels: " (message) } }
                        label for="preferred_contact_channel" { "Preferred" }
                        select id="preferred_contact_channel" name="preferred_contact_channel" {
                            option value="" selected[form.preferred_contact_channel.is_empty()] { "— none —" }
                            @for channel in ContactChannel::ALL {
                                option value=(channel.as_str()) selected[form.preferred_contact_channel == channel.as_str()] { (channel_label(*channel)) }
                            }
                        }
                        @if let Some(message) = error("preferred_contact_channel") { span.field-error { "Preferred channel " (message) } }
                        p.muted { "Messages go only by a channel ticked here, in neutral wording." }
                    }
                    @if let FormMode::Edit { .. } = &mode {
                        label for="status" { "Status" }
                        select id="status" name="status" {
                            @for s in PatientStatus::ALL { option value=(s.as_str()) selected[form.status == s.as_str()] { (s.as_str().replace('_', " ")) } }
                        }
                    }
                }
                div {
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
                    (text_field("escort_name", "Escort's name (takes the patient home)", &form.escort_name, "text", "escort"))
                    (text_field("escort_relationship", "Escort's relationship", &form.escort_relationship, "text", "escort.relationship"))
                    (text_field("escort_phone", "Escort's phone", &form.escort_phone, "tel", "escort.phone"))
                    (text_field("contact_name", "Emergency contact's name", &form.contact_name, "text", "emergency_contacts[0]"))
                    (text_field("contact_relationship", "Emergency contact's relationship", &form.contact_relationship, "text", "emergency_contacts[0].relationship"))
                    (text_field("contact_phone", "Emergency contact's phone", &form.contact_phone, "tel", "emergency_contacts[0].phone"))
                }
            }
            div.grid2 {
                div {
                    fieldset {
                        legend { "Substance use diagnoses (ICD-10-CM)" }
                        @for (code, _, display) in clinic_domain::patient::SUD_DIAGNOSES {
                            label { input type="checkbox" name="diagnoses" value=(code) checked[form.diagnoses.iter().any(|d| d == code)]; " " (code) " — " (display) }
                        }
                        @if let Some(message) = error("diagnoses") { span.field-error { (message) } }
                    }
                }
                div {
                    (pair_rows(&PairRows { legend: "Allergies (substance and reaction)", item: "Allergy", list_field: "allergies", names: ("allergy_substance", "allergy_reaction"), labels: ("substance", "reaction"), hints: ("e.g. penicillin", "reaction, e.g. hives") }, &form.allergies, errors))
                    (pair_rows(&PairRows { legend: "Current medications (name and dose)", item: "Medication", list_field: "medications", names: ("medication_name", "medication_dose"), labels: ("name", "dose"), hints: ("e.g. buprenorphine", "dose, e.g. 16 mg daily") }, &form.medications, errors))
                }
            }
            @if !duplicates.is_empty() {
                label { input type="checkbox" name="confirm_not_duplicate" value="yes"; " I checked: this is a different person" }
            }
            div.actions {
                button type="submit" { (submit) }
                @match &mode {
                    FormMode::Register => a.button.secondary href="/patients" { "Cancel" },
                    FormMode::Edit { patient, .. } => a.button.secondary href={ "/patients/" (patient.id) } { "Cancel" },
                }
            }
        }
    };
    let failed = !errors.is_empty() || !duplicates.is_empty() || matches!(mode, FormMode::Edit { conflict: Some(_), .. });
    let status = if failed { axum::http::StatusCode::UNPROCESSABLE_ENTITY } else { axum::http::StatusCode::OK };
    (status, staff_page(principal, site_name, &title, Nav::Patients, body)).into_response()
}

pub async fn new_form<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>) -> Response {
    match app.clinic.main_site().await {
        Ok(site) => {
            let form = PatientForm { sex_at_birth: "unknown".into(), ..PatientForm::default() };
            render_form(&principal, &site.name, FormMode::Register, &form, &[], &[])
        }
        Err(err) => failure(err),
    }
}

pub async fn create<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, axum::extract::RawForm(raw): axum::extract::RawForm) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let form = PatientForm::from_pairs(&raw);
    let policy = if form.confirm_not_duplicate.is_some() { DuplicatePolicy::RegisterAnyway } else { DuplicatePolicy::Refuse };
    match app.clinic.register_patient(&principal, &form.to_write(None).into_input(), policy).await {
        Ok(patient) => Redirect::to(&format!("/patients/{}", patient.id)).into_response(),
        Err(ServiceError::Invalid(errors)) => render_form(&principal, &site.name, FormMode::Register, &form, &errors.0, &[]),
        Err(ServiceError::LikelyDuplicate(candidates)) => {
            let duplicates: Vec<(uuid::Uuid, String)> = candidates.into_iter().map(|c| (c.patient_id, c.mrn)).collect();
            render_form(&principal, &site.name, FormMode::Register, &form, &[], &duplicates)
        }
        Err(err) => failure(err),
    }
}

pub async fn edit_form<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    // Reading the record to edit it is a read of patient data.
    match app.clinic.get_patient(&principal, id).await {
        Ok(patient) => render_form(&principal, &site.name, FormMode::Edit { patient: &patient, conflict: None }, &PatientForm::from_patient(&patient), &[], &[]),
        Err(err) => failure(err),
    }
}

pub async fn update<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let form = PatientForm::from_pairs(&raw);
    let current = match app.clinic.patient_for_update(&principal, id).await {
        Ok(patient) => patient,
        Err(err) => return failure(err),
    };
    let input = form.to_write(Some(&current)).into_input();
    match app.clinic.update_patient(&principal, id, form.version, &input).await {
        Ok(_) => Redirect::to(&format!("/patients/{id}")).into_response(),
        Err(ServiceError::Invalid(errors)) => render_form(&principal, &site.name, FormMode::Edit { patient: &current, conflict: None }, &form, &errors.0, &[]),
        Err(ServiceError::StaleVersion { .. }) => {
            // Show the conflict, keep what was typed, and let the user save over the current version.
            let mut kept = form.clone();
            kept.version = current.version;
            render_form(&principal, &site.name, FormMode::Edit { patient: &current, conflict: Some(&current) }, &kept, &[], &[])
        }
        Err(err) => failure(err),
    }
}
