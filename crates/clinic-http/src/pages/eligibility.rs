//! Medical screening, eligibility and consents in the chart. Forms keep what
//! was typed on error and name each field; signed records are shown whole.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::consent::{ConsentKind, Part2Input, SignInput};
use clinic_domain::eligibility::{DecisionInput, Severity};
use clinic_domain::field::FieldError;
use clinic_domain::patient::Patient;
use clinic_domain::screening::{Answer, ScreeningInput, CONTRAINDICATIONS};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_store::Store;
use maud::{html, Markup};

use crate::pages::{site_time, staff_page, Nav};
use crate::routes::CSRF_FIELD;
use crate::pages::{failure, form_field, form_pairs};
use crate::AppState;


fn label(text: &str) -> String {
    text.replace('_', " ")
}

/// The medical screening and eligibility cards of the Screening tab.
pub async fn screening_cards<S: Store>(app: &AppState<S>, principal: &Principal, patient: &Patient, time_zone: &str) -> Markup {
    let role = principal.user.role;
    if !role_allows(role, Permission::ScreeningRead) {
        return html! {};
    }
    let screenings = app.clinic.list_medical_screenings(principal, patient.id).await.unwrap_or_default();
    let proposals = app.clinic.list_eligibility(principal, patient.id).await.unwrap_or_default();
    html! {
        section.card {
            h2 { "Medical screening" }
            @match screenings.last() {
                None => p { "No medical screening recorded yet." },
                Some((doc, s)) => {
                    p.muted { "Recorded " (site_time(doc.created_at, time_zone)) " by " (s.screened_by) " (screened on " (s.screened_on) ")" }
                    @let flagged: Vec<String> = CONTRAINDICATIONS.iter().filter(|c| s.answer(c.id) != Answer::No)
                        .map(|c| format!("{} — {} ({})", c.label, s.answer(c.id).as_str(), c.kind.as_str().replace('_', " "))).collect();
                    dl.facts {
                        dt { "Checklist" } dd { @if flagged.is_empty() { "every item answered no" } @else { ul { @for f in &flagged { li { (f) } } } } }
                        dt { "Vitals" } dd { "BP " (s.vitals.systolic_bp_mmhg) "/" (s.vitals.diastolic_bp_mmhg) " mmHg · HR " (s.vitals.heart_rate_bpm) " · RR " (s.vitals.respiratory_rate_per_min) " · SpO2 " (s.vitals.spo2_percent) " %" }
                        dt { "BMI" } dd { (s.vitals.bmi().rounded_half_up(1)) " kg/m² (rounded to 0.1 for display)" }
                        dt { "Pregnancy" } dd { (label(s.pregnancy.status.as_str())) }
                        dt { "MOUD" } dd { (label(s.medications.moud.as_str())) }
                        dt { "PDMP check" } dd { @match &s.pdmp { Some(p) => { (p.checked_on) " by " (p.checked_by) ": " (p.result) @if p.concerning { strong.error { " (concerning)" } } }, None => span.error { "not recorded" } } }
                    }
                }
            }
            @if role_allows(role, Permission::ScreeningRecord) {
                p { a.button.secondary href={ "/patients/" (patient.id) "/medical-screening/new" } { "Record a medical screening" } }
            }
        }
        section.card id="eligibility" {
            h2 { "Eligibility" }
            @match proposals.last() {
                None => p { "No eligibility proposal yet." },
                Some(latest) => {
                    @let proposal = &latest.record.proposal;
                    p {
                        strong { "Proposal: " (label(proposal.outcome.as_str())) }
                        span.muted { " · derived " (site_time(latest.document.created_at, time_zone)) " from the record at that time" }
                    }
                    @if let Some(decision) = &latest.decision {
                        p.notice { strong { "Signed: " (label(decision.decision.as_str())) } " by " (decision.physician) ", " (site_time(decision.signed_at, time_zone))
                            @if let Some(reason) = &decision.reason { br; "Reason: " (reason) }
                            @if !decision.overridden_rules.is_empty() { br; "Overrode: " (decision.overridden_rules.join(", ")) } }
                    }
                    table.stack {
                        caption.visually-hidden { "Every reason behind the proposal, worst first" }
                        thead { tr { th { "Severity" } th { "Reason" } th { "Based on" } th { "Source" } } }
                        tbody {
                            @for r in &proposal.reasons {
                                tr {
                                    td data-label="Severity" { span class={ "badge sev-" (r.severity.as_str()) } { (label(r.severity.as_str())) } }
                                    td data-label="Reason" { (r.message) br; span.muted { (r.rule) } }
                                    td data-label="Based on" { (r.basis) }
                                    td data-label="Source" { span.muted { (r.source) } }
                                }
                            }
                        }
                    }
                    @if latest.decision.is_none() && role_allows(role, Permission::EligibilitySign) {
                        form method="post" action={ "/eligibility/" (latest.document.id) "/sign" } {
                            input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                            input type="hidden" name="version" value=(latest.document.version);
                            input type="hidden" name="patient_id" value=(patient.id);
                            fieldset {
                                legend { "Your decision" }
                                label.option { input type="radio" name="decision" value="eligible"; " Eligible" }
                                label.option { input type="radio" name="decision" value="not_eligible"; " Not eligible" }
                            }
                            @let excluding: Vec<_> = proposal.reasons.iter().filter(|r| r.severity == Severity::NotEligible).collect();
                            @if !excluding.is_empty() {
                                fieldset {
                                    legend { "Override (only to decide eligible against these)" }
                                    @for r in &excluding {
                                        label { input type="checkbox" name="overridden_rules" value=(r.rule) disabled[!r.overridable]; " " (r.rule) @if !r.overridable { " — cannot be overridden" } }
                                    }
                                }
                            }
                            label for="decision_reason" { "Reason (required when your decision differs from the proposal)" }
                            textarea id="decision_reason" name="reason" rows="3" {}
                            div.actions { button type="submit" { "Sign decision" } }
                        }
                    }
                }
            }
            @if role_allows(role, Permission::ScreeningRecord) {
                form method="post" action={ "/patients/" (patient.id) "/eligibility" } {
                    input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                    button.secondary type="submit" { "Propose from the record now" }
                }
            }
            @if proposals.len() > 1 {
                details {
                    summary { "Earlier proposals and decisions (" (proposals.len() - 1) ")" }
                    ul { @for p in proposals.iter().rev().skip(1) {
                        li { (site_time(p.document.created_at, time_zone)) ": proposed " (label(p.record.proposal.outcome.as_str()))
                            @if let Some(d) = &p.decision { ", signed " (label(d.decision.as_str())) " by " (d.physician) } }
                    } }
                }
            }
        }
    }
}

pub async fn propose<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    match app.clinic.propose_eligibility(&principal, id).await {
        Ok(_) => Redirect::to(&format!("/patients/{id}?tab=screening#eligibility")).into_response(),
        Err(ServiceError::Invalid(errors)) => crate::pages::error_page(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "No proposal yet",
            &errors.0.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "),
        ),
        Err(err) => failure(err),
    }
}

pub async fn sign<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "eligibility proposal" }) };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version").and_then(|v| v.parse().ok()).unwrap_or(0);
    let patient_id = form_field(&p, "patient_id").unwrap_or_default();
    let input = DecisionInput {
        physician: None,
        decision: form_field(&p, "decision"),
        reason: form_field(&p, "reason"),
        overridden_rules: p.iter().filter(|(k, _)| k == "overridden_rules").map(|(_, v)| v.clone()).collect(),
    };
    match app.clinic.sign_eligibility(&principal, id, version, &input).await {
        Ok(_) => Redirect::to(&format!("/patients/{patient_id}?tab=screening#eligibility")).into_response(),
        Err(ServiceError::Invalid(errors)) => crate::pages::error_page(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "The decision was not signed",
            &errors.0.iter().map(|e| format!("{}: {}", label(&e.field), e.message)).collect::<Vec<_>>().join("; "),
        ),
        Err(ServiceError::Conflict { message, .. }) => crate::pages::error_page(axum::http::StatusCode::CONFLICT, "The decision was not signed", &message),
        Err(err) => failure(err),
    }
}

/// The medical screening form: every checklist item answered yes, no or unknown.
pub async fn screening_form<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    render_screening_form(&app, &principal, id, &[], &[]).await
}

const VITALS: [(&str, &str); 7] = [
    ("systolic_bp_mmhg", "Systolic BP (mmHg)"),
    ("diastolic_bp_mmhg", "Diastolic BP (mmHg)"),
    ("heart_rate_bpm", "Heart rate (beats/min)"),
    ("respiratory_rate_per_min", "Respiratory rate (breaths/min)"),
    ("spo2_percent", "SpO2 (%)"),
    ("weight_kg", "Weight (kg)"),
    ("height_cm", "Height (cm)"),
];

async fn render_screening_form<S: Store>(app: &AppState<S>, principal: &Principal, id: uuid::Uuid, typed: &[(String, String)], errors: &[FieldError]) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let patient = match app.clinic.get_patient(principal, id).await {
        Ok(p) => p,
        Err(err) => return failure(err),
    };
    let value = |name: &str| typed.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let error = |name: &str| errors.iter().find(|e| e.field == name || e.field.starts_with(&format!("{name}."))).map(|e| e.message.clone());
    let choice = |name: &str, options: &[&str]| {
        let current = value(name);
        html! {
            div.options {
                @for option in options {
                    label.option { input type="radio" name=(name) value=(option) checked[current == *option]; " " (label(option)) }
                }
            }
            @if let Some(e) = error(name) { span.field-error { (label(name)) " " (e) } }
        }
    };
    let text = |name: &str, title: &str, kind: &str| {
        html! {
            label for=(name) { (title) }
            input id=(name) name=(name) type=(kind) value=(value(name)) autocomplete="off";
            @if let Some(e) = error(name) { span.field-error { (title) " " (e) } }
        }
    };
    let body = html! {
        h1 { "Medical screening" }
        p { "For " a href={ "/patients/" (patient.id) "?tab=screening" } { (patient.details.given_name) " " (patient.details.family_name) } ". Answer every item; " em { "unknown" } " is an honest answer and asks the physician to review." }
        @if !errors.is_empty() { div.notice.bad role="alert" { "Nothing was saved yet. Please correct the " (errors.len()) " fields marked below." } }
        form method="post" action={ "/patients/" (patient.id) "/medical-screening" } novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
            section.card {
                h2 { "Contraindications (clinical.md §2.6)" }
                @for c in CONTRAINDICATIONS {
                    fieldset.item {
                        legend { (c.label) " " span.muted { "(" (c.kind.as_str().replace('_', " ")) ")" } }
                        (choice(&format!("ci_{}", c.id.as_str()), &["yes", "no", "unknown"]))
                        @if let Some(e) = error(&format!("contraindications.{}", c.id.as_str())) { span.field-error { (e) } }
                    }
                }
            }
            section.card {
                h2 { "Allergies and medications" }
                fieldset.item { legend { "Allergy list reviewed with the patient (including none)" } (choice("allergies_reviewed", &["yes", "no"])) }
                fieldset.item { legend { "Takes a benzodiazepine" } (choice("benzodiazepine_use", &["yes", "no", "unknown"])) }
                fieldset.item { legend { "Takes lamotrigine" } (choice("lamotrigine_use", &["yes", "no", "unknown"])) }
                fieldset.item { legend { "Medication for opioid use disorder (MOUD is continued, never stopped)" } (choice("moud", &["continued", "not_on_moud"])) }
                (text("medication_notes", "Medication notes", "text"))
            }
            section.card {
                h2 { "Baseline vitals" }
                div.grid2 { @for (name, title) in VITALS { div { (text(name, title, "text")) } } }
            }
            section.card {
                h2 { "Pregnancy" }
                fieldset.item { legend { "Status" } (choice("pregnancy_status", &["not_applicable", "not_pregnant", "pregnant", "unknown"])) }
                (text("pregnancy_test_date", "Pregnancy test date (YYYY-MM-DD)", "date"))
                fieldset.item { legend { "Test result" } (choice("pregnancy_test_result", &["negative", "positive"])) }
            }
            section.card {
                h2 { "Psychiatric history and alcohol withdrawal" }
                (text("psychiatric_history_notes", "Psychosis or mania history, notes", "text"))
                (text("ciwa_ar_total", "Latest CIWA-Ar total (0–67), if any", "text"))
                fieldset.item { legend { "CIWA-Ar band" } (choice("ciwa_ar_band", &["minimal", "moderate", "severe"])) }
                (text("ciwa_ar_assessed_on", "CIWA-Ar assessed on", "date"))
                fieldset.item { legend { "History of withdrawal seizures" } (choice("withdrawal_seizure_history", &["yes", "no", "unknown"])) }
                fieldset.item { legend { "History of delirium tremens" } (choice("delirium_tremens_history", &["yes", "no", "unknown"])) }
                (text("managed_withdrawal_completed_on", "Medically managed withdrawal completed on (if so)", "date"))
            }
            section.card {
                h2 { "Prescription monitoring program (PDMP) check" }
                (text("pdmp_checked_on", "Checked on", "date"))
                (text("pdmp_checked_by", "Checked by", "text"))
                (text("pdmp_result", "Result", "text"))
                fieldset.item { legend { "Concerning" } (choice("pdmp_concerning", &["yes", "no"])) }
            }
            div.actions {
                button type="submit" { "Save medical screening" }
                a.button.secondary href={ "/patients/" (patient.id) "?tab=screening" } { "Cancel" }
            }
        }
    };
    let status = if errors.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    (status, staff_page(principal, &site.name, "Medical screening", Nav::Patients, body)).into_response()
}

pub async fn screening_submit<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    let p = form_pairs(&raw);
    let f = |name: &str| form_field(&p, name);
    let input = ScreeningInput {
        screened_on: f("screened_on"),
        screened_by: None,
        contraindications: CONTRAINDICATIONS
            .iter()
            .map(|c| (c.id.as_str().to_string(), f(&format!("ci_{}", c.id.as_str())).unwrap_or_default()))
            .collect(),
        allergies_reviewed: f("allergies_reviewed"),
        benzodiazepine_use: f("benzodiazepine_use"),
        lamotrigine_use: f("lamotrigine_use"),
        moud: f("moud"),
        medication_notes: f("medication_notes"),
        systolic_bp_mmhg: f("systolic_bp_mmhg"),
        diastolic_bp_mmhg: f("diastolic_bp_mmhg"),
        heart_rate_bpm: f("heart_rate_bpm"),
        respiratory_rate_per_min: f("respiratory_rate_per_min"),
        spo2_percent: f("spo2_percent"),
        weight_kg: f("weight_kg"),
        height_cm: f("height_cm"),
        pregnancy_status: f("pregnancy_status"),
        pregnancy_test_date: f("pregnancy_test_date"),
        pregnancy_test_result: f("pregnancy_test_result"),
        psychiatric_history_notes: f("psychiatric_history_notes"),
        ciwa_ar_total: f("ciwa_ar_total"),
        ciwa_ar_band: f("ciwa_ar_band"),
        ciwa_ar_assessed_on: f("ciwa_ar_assessed_on"),
        withdrawal_seizure_history: f("withdrawal_seizure_history"),
        delirium_tremens_history: f("delirium_tremens_history"),
        managed_withdrawal_completed_on: f("managed_withdrawal_completed_on"),
        pdmp_checked_on: f("pdmp_checked_on"),
        pdmp_checked_by: f("pdmp_checked_by"),
        pdmp_result: f("pdmp_result"),
        pdmp_concerning: f("pdmp_concerning"),
    };
    match app.clinic.record_medical_screening(&principal, id, &input).await {
        Ok(_) => Redirect::to(&format!("/patients/{id}?tab=screening")).into_response(),
        Err(ServiceError::Invalid(errors)) => render_screening_form(&app, &principal, id, &p, &errors.0).await,
        Err(err) => failure(err),
    }
}

/// The chart's Consents tab: each kind's status, signing on the clinic tablet, revocation.
pub async fn consents_tab<S: Store>(app: &AppState<S>, principal: &Principal, patient: &Patient, time_zone: &str) -> Markup {
    let consents = app.clinic.list_consents(principal, patient.id).await.unwrap_or_default();
    let now = clinic_service::now();
    let can_manage = role_allows(principal.user.role, Permission::ConsentManage);
    html! {
        @for template in app.clinic.consent_templates() {
            @let of_kind: Vec<_> = consents.iter().filter(|c| c.consent.kind == template.kind).collect();
            @let in_force = of_kind.iter().rev().find(|c| c.consent.is_in_force(now));
            section.card id={ "consent-" (template.kind.as_str()) } {
                h2 { (consent_title(template.kind)) }
                @match in_force {
                    Some(c) => p { strong { "In force" } " — signed by " (c.consent.signer_name) " " (site_time(c.consent.signed_at, time_zone)) " (text version " (c.consent.template_version) ")" },
                    None => p.error { "Not signed, or revoked" },
                }
                @for c in &of_kind {
                    @if let Some(r) = &c.consent.revocation {
                        p.muted { "Revoked " (site_time(r.revoked_at, time_zone)) " (" (r.how) "), recorded by " (r.recorded_by) }
                    }
                }
                @if let (Some(c), true) = (in_force, can_manage) {
                    form.inline method="post" action={ "/consents/" (c.document.id) "/revoke" } {
                        input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                        input type="hidden" name="version" value=(c.document.version);
                        input type="hidden" name="patient_id" value=(patient.id);
                        label for={ "how-" (c.document.id) } { "How the patient revoked it" }
                        input id={ "how-" (c.document.id) } name="how" placeholder="e.g. signed note at the desk";
                        button.secondary type="submit" { "Record revocation (takes effect at once)" }
                    }
                }
                @if in_force.is_none() && can_manage {
                    details {
                        summary { "Sign on this tablet" }
                        form method="post" action={ "/patients/" (patient.id) "/consents" } {
                            input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                            input type="hidden" name="kind" value=(template.kind.as_str());
                            input type="hidden" name="shown_text_sha256" value=(template.text_sha256());
                            pre.consent-text { (template.text) }
                            @if template.kind == ConsentKind::Part2Disclosure {
                                label for="p2_recipients" { "Recipients (one per line: names or a class such as my treating providers and health plan)" }
                                textarea id="p2_recipients" name="recipients" rows="3" {}
                                label for="p2_information" { "Information to be disclosed" }
                                input id="p2_information" name="information_description" value="Substance use disorder diagnosis, treatment plan, medications and progress";
                                label for="p2_purpose" { "Purpose" }
                                select id="p2_purpose" name="purpose" {
                                    option value="treatment_payment_operations" { "Treatment, payment and health care operations" }
                                    option value="at_request_of_patient" { "At the request of the patient" }
                                }
                                label for="p2_expiry" { "Expires" }
                                select id="p2_expiry" name="expiry" {
                                    option value="event_or_condition" { "At an event or condition (below)" }
                                    option value="date" { "On a date (below)" }
                                    option value="none" { "None (TPO consents only)" }
                                }
                                input name="expiry_event" value="End of treatment" aria-label="Expiry event or condition";
                                input name="expiry_date" type="date" aria-label="Expiry date";
                            }
                            label for={ "sig-" (template.kind.as_str()) } { "Signature: the patient types their full name" }
                            input id={ "sig-" (template.kind.as_str()) } name="signature" autocomplete="off";
                            input type="hidden" name="signer_capacity" value="patient";
                            div.actions { button type="submit" { "Sign " (consent_title(template.kind)) } }
                        }
                    }
                }
            }
        }
    }
}

fn consent_title(kind: ConsentKind) -> &'static str {
    match kind {
        ConsentKind::Treatment => "Consent to treatment",
        ConsentKind::Infusion => "Informed consent to ketamine infusion",
        ConsentKind::Part2Disclosure => "42 CFR Part 2 consent to disclose",
    }
}

pub async fn sign_consent<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(patient_id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    let p = form_pairs(&raw);
    let f = |name: &str| form_field(&p, name);
    let kind = f("kind").unwrap_or_default();
    let part2 = (kind == ConsentKind::Part2Disclosure.as_str()).then(|| Part2Input {
        patient_name: None,
        disclosing_party: None,
        information_description: f("information_description"),
        recipients: f("recipients").map(|r| r.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()).unwrap_or_default(),
        purpose: f("purpose"),
        purpose_text: f("purpose_text"),
        expiry: f("expiry"),
        expiry_date: f("expiry_date"),
        expiry_event: f("expiry_event"),
    });
    let mut input = SignInput { signature: f("signature"), signer_capacity: f("signer_capacity"), representative_authority: f("representative_authority"), shown_text_sha256: f("shown_text_sha256"), part2 };
    if let Some(part2) = input.part2.as_mut() {
        // Elements the system knows: the patient's name and the disclosing program.
        if let Ok(patient) = app.clinic.store().get_patient(patient_id).await {
            part2.patient_name = Some(format!("{} {}", patient.details.given_name, patient.details.family_name));
        }
        if let Ok(site) = app.clinic.main_site().await {
            part2.disclosing_party = Some(site.name);
        }
    }
    match app.clinic.sign_consent(&principal, patient_id, &kind, &input).await {
        Ok(_) => Redirect::to(&format!("/patients/{patient_id}?tab=consents")).into_response(),
        Err(ServiceError::Invalid(errors)) => crate::pages::error_page(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "The consent was not signed",
            &errors.0.iter().map(|e| format!("{}: {}", label(&e.field), e.message)).collect::<Vec<_>>().join("; "),
        ),
        Err(err) => failure(err),
    }
}

pub async fn revoke_consent<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "consent" }) };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version").and_then(|v| v.parse().ok()).unwrap_or(0);
    let patient_id = form_field(&p, "patient_id").unwrap_or_default();
    match app.clinic.revoke_consent(&principal, id, version, form_field(&p, "how").as_deref()).await {
        Ok(_) => Redirect::to(&format!("/patients/{patient_id}?tab=consents")).into_response(),
        Err(ServiceError::Invalid(errors)) => crate::pages::error_page(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "The revocation was not recorded",
            &errors.0.iter().map(|e| format!("{}: {}", label(&e.field), e.message)).collect::<Vec<_>>().join("; "),
        ),
        Err(ServiceError::Conflict { message, .. }) => crate::pages::error_page(axum::http::StatusCode::CONFLICT, "The revocation was not recorded", &message),
        Err(err) => failure(err),
    }
}
