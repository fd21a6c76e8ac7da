//! The patient portal, reached only through a link sent to the patient: a
//! short session in its own cookie, the one questionnaire the link is for,
//! and crisis resources shown at once when an answer calls for them
//! (clinical.md §11.3). Pages use plain words and show nothing but the
//! patient's own first name and questionnaire.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use clinic_service::auth::hash_token;
use clinic_service::error::ServiceError;
use clinic_service::screening::{LinkRefusal, PortalView};
use clinic_store::Store;
use maud::{html, Markup};

use crate::extract::ClientAddr;
use crate::pages::bare_page;
use crate::pages::screening::{answers_from_form, missing_answers, questionnaire_fields};
use crate::pages::{failure, form_field, form_pairs};
use crate::AppState;

pub const PORTAL_COOKIE: &str = "kc_portal";

fn portal_page(title: &str, body: Markup) -> Markup {
    bare_page(title, html! { div.portal { (body) } })
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    axum_extra::extract::cookie::CookieJar::from_headers(headers).get(PORTAL_COOKIE).map(|c| c.value().to_string())
}

/// The form token: derived from the session, so only the session's own page can post.
fn form_token(session_token: &str) -> String {
    hash_token(&format!("portal-form:{session_token}"))
}

/// Crisis resources, first on the page (site settings; US defaults from clinical.md §11.3).
fn crisis_resources<S: Store>(app: &AppState<S>, urgent: bool) -> Markup {
    let safety = app.clinic.safety();
    html! {
        section class={ "crisis" @if urgent { " urgent" } } role=[urgent.then_some("alert")] {
            @if urgent {
                h1 { "Please reach out now" }
                p { "Some of your answers tell us you may be having thoughts of hurting yourself or that you would be better off dead. "
                    "You do not have to wait for us. Help is available right now, day and night." }
            } @else {
                h2 { "If you need help now" }
            }
            ul {
                li { "Call or text " a href={ "tel:" (safety.crisis_line) } { strong { (safety.crisis_line) } } " — the Suicide & Crisis Lifeline. It is free and open all the time." }
                li { "If you are in danger or might act on these thoughts, call " a href={ "tel:" (safety.emergency_number) } { strong { (safety.emergency_number) } } " or go to the nearest emergency room." }
                @if let Some(phone) = &safety.after_hours_phone {
                    li { "Our clinic's after-hours line: " a.nowrap href={ "tel:" (phone) } { (phone) } "." }
                }
            }
            @if urgent { p { "We have let your care team know. Someone from the clinic will contact you." } }
        }
    }
}

fn refused(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! {
        div.card {
            h1 { (title) }
            p { (text) }
            p { "If you need help now, call or text " a href="tel:988" { "988" } ". If you are in danger, call " a href="tel:911" { "911" } "." }
        }
    };
    (status, portal_page(title, body)).into_response()
}

pub async fn open_link<S: Store>(State(app): State<AppState<S>>, ClientAddr(addr): ClientAddr, Path(token): Path<String>) -> Response {
    match app.clinic.open_portal_link(&token, addr).await {
        Ok(Ok((session_token, _))) => {
            let max_age = app.clinic.safety().portal_session.num_seconds();
            let cookie = format!("{PORTAL_COOKIE}={session_token}; Path=/portal; HttpOnly; SameSite=Strict; Max-Age={max_age}");
            let mut res = Redirect::to("/portal").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, value);
            }
            res.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            res
        }
        Ok(Err(LinkRefusal::Expired)) => refused(StatusCode::GONE, "This link has expired", "Links work for a limited time. Please call the clinic and we will send you a new one."),
        Ok(Err(LinkRefusal::Used)) => refused(StatusCode::GONE, "This link was already used", "Thank you, we already have your answers. If you want to tell us something more, please call the clinic."),
        Ok(Err(LinkRefusal::Unknown)) => refused(StatusCode::NOT_FOUND, "This link does not work", "Please check that you opened the whole link from your message, or call the clinic."),
        Err(err) => failure(err),
    }
}

async fn session<S: Store>(app: &AppState<S>, headers: &HeaderMap, addr: Option<String>) -> Result<Option<(String, PortalView)>, ServiceError> {
    let Some(token) = cookie_token(headers) else { return Ok(None) };
    Ok(app.clinic.portal_view(&token, addr).await?.map(|view| (token, view)))
}

fn session_ended() -> Response {
    // Not a staff sign-in failure: a patient page explaining what to do (200).
    refused(StatusCode::OK, "Please open your link again", "For your privacy, this page closes after a short time. Open the link in your message again.")
}

/// Consents the patient can sign here (treatment, infusion), each with its full text.
fn consents_section<S: Store>(app: &AppState<S>, token: &str, signed: &[clinic_service::eligibility::StoredConsent]) -> Markup {
    let now = clinic_service::now();
    html! {
        @for template in app.clinic.consent_templates().iter().filter(|t| t.kind != clinic_domain::consent::ConsentKind::Part2Disclosure) {
            @let in_force = signed.iter().any(|c| c.consent.kind == template.kind && c.consent.is_in_force(now));
            section.card {
                @if in_force {
                    p { strong { "Signed: " } (consent_name(template.kind)) ". Thank you." }
                } @else {
                    h2 { (consent_name(template.kind)) }
                    p { "Please read this. If you agree, type your full name and press the button. You can ask us questions first." }
                    pre.consent-text { (template.text) }
                    form method="post" action="/portal/consents" {
                        input type="hidden" name="form_token" value=(form_token(token));
                        input type="hidden" name="kind" value=(template.kind.as_str());
                        input type="hidden" name="shown_text_sha256" value=(template.text_sha256());
                        label for={ "sig-" (template.kind.as_str()) } { "Type your full name to sign" }
                        input id={ "sig-" (template.kind.as_str()) } name="signature" autocomplete="name";
                        div.actions { button type="submit" { "I agree and sign" } }
                    }
                }
            }
        }
    }
}

fn consent_name(kind: clinic_domain::consent::ConsentKind) -> &'static str {
    match kind {
        clinic_domain::consent::ConsentKind::Treatment => "Consent to treatment",
        clinic_domain::consent::ConsentKind::Infusion => "Consent to ketamine infusions",
        clinic_domain::consent::ConsentKind::Part2Disclosure => "Consent to share records",
    }
}

pub async fn sign_consent<S: Store>(
    State(app): State<AppState<S>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let (token, view) = match session(&app, &headers, addr.clone()).await {
        Ok(Some(found)) => found,
        Ok(None) => return session_ended(),
        Err(err) => return failure(err),
    };
    let pairs = form_pairs(&raw);
    let field = |name: &str| form_field(&pairs, name);
    if field("form_token").as_deref() != Some(form_token(&token).as_str()) {
        return refused(StatusCode::FORBIDDEN, "Please try again", "This form was not sent from your page. Open the link in your message again.");
    }
    let input = clinic_domain::consent::SignInput {
        signature: field("signature"),
        signer_capacity: Some("patient".into()),
        representative_authority: None,
        shown_text_sha256: field("shown_text_sha256"),
        part2: None,
    };
    match app.clinic.portal_sign_consent(&view, &field("kind").unwrap_or_default(), &input, addr).await {
        Ok(_) => Redirect::to("/portal").into_response(),
        Err(ServiceError::Invalid(errors)) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please check and try again",
            &errors.0.iter().map(|e| if e.field == "signature" { "Please type your full name to sign.".to_string() } else { e.message.clone() }).collect::<Vec<_>>().join(" "),
        ),
        Err(ServiceError::Conflict { message, .. }) => refused(StatusCode::CONFLICT, "This page cannot sign consents", &message),
        Err(err) => failure(err),
    }
}

fn render_form<S: Store>(app: &AppState<S>, token: &str, view: &PortalView, chosen: &[String], errors: &[clinic_domain::field::FieldError]) -> Response {
    render_page(app, token, view, chosen, errors, &SigninParts::default())
}

/// What a sign-in link shows besides the crisis line: appointments, the recovery plan, consents.
#[derive(Default)]
struct SigninParts<'a> {
    consents: &'a [clinic_service::eligibility::StoredConsent],
    appointments: &'a [clinic_service::scheduling::Appointment],
    recovery: Option<&'a clinic_domain::counseling::RecoveryPlan>,
    /// Per substance: days without use, with use, not known (last four weeks).
    progress: &'a [(clinic_domain::patient::Substance, usize, usize, usize)],
}

fn render_page<S: Store>(
    app: &AppState<S>,
    token: &str,
    view: &PortalView,
    chosen: &[String],
    errors: &[clinic_domain::field::FieldError],
    signin: &SigninParts<'_>,
) -> Response {
    let (consents, appointments, recovery, progress) = (signin.consents, signin.appointments, signin.recovery, signin.progress);
    let instrument = view.link.instrument_id.as_deref().and_then(|id| app.clinic.instruments().get(id));
    let used = clinic_domain::portal::link_state(&view.link, clinic_service::now()) != clinic_domain::portal::LinkState::Usable;
    let crisis_line = app.clinic.safety().crisis_line.clone();
    let body = html! {
        h1 { "Hello " (view.patient.details.given_name) }
        p.crisis-line { "In a crisis? Call or text " a.nowrap href={ "tel:" (crisis_line) } { (crisis_line) } " any time." }
        @match (instrument, used) {
            (Some(loaded), false) => {
                p { "Please answer these questions about how you have been. There are no right or wrong answers. Your answers go to your care team." }
                @if !errors.is_empty() {
                    div.notice.bad role="alert" { p { "Please answer every question:" } ul { @for e in errors { li { (e.message) } } } }
                }
                form method="post" action="/portal" {
                    input type="hidden" name="form_token" value=(form_token(token));
                    (questionnaire_fields(loaded, chosen, errors))
                    div.actions { button type="submit" { "Send my answers" } }
                }
            }
            _ if view.link.purpose == clinic_domain::portal::LinkPurpose::Signin => {
                (appointments_section(appointments))
                @if let Some(plan) = recovery {
                    section.card #recovery-plan {
                        h2 { "Your recovery plan" }
                        dl {
                            @for (part, text) in &plan.parts {
                                dt { (clinic_domain::counseling::RECOVERY_PLAN_PARTS.iter().find(|(p, _)| p == part).map_or(part.as_str(), |(_, l)| *l)) }
                                dd { (text) }
                            }
                        }
                    }
                }
                @if progress.iter().any(|(_, no, yes, unknown)| no + yes + unknown > 0) {
                    section.card #progress {
                        h2 { "Your progress" }
                        @for (substance, no, yes, unknown) in progress {
                            @let total = no + yes + unknown;
                            p { "In the last four weeks you told us about " (total) @if total == 1 { " day" } @else { " days" } " for " (substance.as_str()) ": "
                                strong { (no) " without it" } @if *yes > 0 { ", " (yes) " with it" } @if *unknown > 0 { ", " (unknown) " you could not recall" } "." }
                        }
                        p.muted { "Every day counts, and a day with use is something to talk about with your counselor, not a reason to stop." }
                    }
                }
                (diary_section(token, view))
                (consents_section(app, token, consents))
            }
            _ => { p { "There is nothing for you to do here right now. Thank you." } }
        }
        (crisis_resources(app, false))
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut res = (status, portal_page("Your clinic", body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub async fn home<S: Store>(State(app): State<AppState<S>>, ClientAddr(addr): ClientAddr, headers: HeaderMap) -> Response {
    match session(&app, &headers, addr).await {
        Ok(Some((token, view))) => {
            let consents = match app.clinic.portal_consents(&view).await {
                Ok(consents) => consents,
                Err(err) => return failure(err),
            };
            let appointments = match app.clinic.portal_appointments(&view).await {
                Ok(a) => a,
                Err(err) => return failure(err),
            };
            let recovery = match app.clinic.portal_recovery_plan(&view).await {
                Ok(r) => r.map(|(_, plan)| plan),
                Err(err) => return failure(err),
            };
            let progress = match app.clinic.portal_progress(&view).await {
                Ok(p) => p,
                Err(err) => return failure(err),
            };
            render_page(&app, &token, &view, &[], &[], &SigninParts { consents: &consents, appointments: &appointments, recovery: recovery.as_ref(), progress: &progress })
        }
        Ok(None) => session_ended(),
        Err(err) => failure(err),
    }
}

pub async fn submit<S: Store>(
    State(app): State<AppState<S>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let (token, view) = match session(&app, &headers, addr.clone()).await {
        Ok(Some(found)) => found,
        Ok(None) => return session_ended(),
        Err(err) => return failure(err),
    };
    let pairs = form_pairs(&raw);
    if form_field(&pairs, "form_token") != Some(form_token(&token)) {
        return refused(StatusCode::FORBIDDEN, "Please try again", "This form was not sent from your page. Open the link in your message again.");
    }
    let Some(loaded) = view.link.instrument_id.as_deref().and_then(|id| app.clinic.instruments().get(id)) else {
        return render_form(&app, &token, &view, &[], &[]);
    };
    let answers = answers_from_form(loaded, &pairs);
    let missing = missing_answers(loaded, &answers);
    if !missing.is_empty() {
        return render_form(&app, &token, &view, &answers, &missing);
    }
    let difficulty = form_field(&pairs, "difficulty");
    match app.clinic.portal_submit(&view, answers.clone(), difficulty, addr).await {
        Ok(recorded) => {
            let urgent = recorded.record.flags.iter().any(|f| f == "suicide_risk");
            let body = html! {
                @if urgent { (crisis_resources(&app, true)) }
                div.card {
                    @if urgent { h2 { "Thank you, " (view.patient.details.given_name) } } @else { h1 { "Thank you, " (view.patient.details.given_name) } }
                    p { "Your answers were sent to your care team." }
                }
                @if !urgent { (crisis_resources(&app, false)) }
            };
            let mut res = portal_page("Thank you", body).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(ServiceError::Invalid(errors)) => render_form(&app, &token, &view, &answers, &errors.0),
        Err(ServiceError::Conflict { .. }) => {
            refused(StatusCode::CONFLICT, "These answers were already sent", "Thank you, we already have your answers. If something changed, please call the clinic.")
        }
        Err(err) => failure(err),
    }
}

/// The patient's coming appointments in plain words, with what to bring to an infusion.
fn appointments_section(appointments: &[clinic_service::scheduling::Appointment]) -> Markup {
    use clinic_domain::protocol::EventKind;
    let what = |kind: EventKind| match kind {
        EventKind::Infusion => "Ketamine infusion",
        EventKind::Therapy => "Counseling session",
        EventKind::Integration => "Integration session (talking about your infusion)",
        EventKind::Assessment => "Check-in questionnaire",
        EventKind::Inpatient => "Stay at the clinic",
        EventKind::FollowUp => "Follow-up",
    };
    html! {
        section.card #appointments {
            h2 { "Your appointments" }
            @if appointments.is_empty() {
                p { "No appointments are booked right now. The clinic will contact you." }
            } @else {
                ul {
                    @for a in appointments {
                        li {
                            strong { (a.when) } " — " (what(a.kind)) " at " (a.site_name)
                            @if let Some(place) = &a.place { " (" (place) ")" }
                        }
                    }
                }
                @if appointments.iter().any(|a| a.kind == EventKind::Infusion) {
                    p { "For an infusion: follow the eating and drinking instructions the clinic gave you, come with the adult who will take you home, and do not drive or use machinery until the next day, after a night's sleep." }
                }
            }
            p { "To change an appointment, call the clinic." }
        }
    }
}

/// The daily diary: one substance a day, in plain words.
fn diary_section(token: &str, view: &PortalView) -> Markup {
    let today = clinic_service::now().date_naive();
    html! {
        section.card #diary {
            h2 { "Your diary" }
            p { "A minute a day helps you and your care team see how things are going. There are no right or wrong answers." }
            form method="post" action="/portal/diary" {
                input type="hidden" name="form_token" value=(form_token(token));
                label for="diary-date" { "Day" }
                input id="diary-date" name="date" type="date" value=(today) required;
                label for="diary-substance" { "About" }
                select id="diary-substance" name="substance" {
                    @for s in &view.patient.details.substances { option value=(s.as_str()) { (s.as_str()) } }
                }
                fieldset {
                    legend { "Did you use it that day?" }
                    label { input type="radio" name="use" value="no" required; " No" }
                    label { input type="radio" name="use" value="yes"; " Yes" }
                }
                label for="diary-amount" { "How much, if you did (for alcohol: standard drinks)" }
                input id="diary-amount" name="amount" inputmode="decimal";
                label for="diary-craving" { "How strong was the craving? 0 none – 10 the strongest" }
                select id="diary-craving" name="craving" { option value="" { "—" } @for n in 0..=10 { option value=(n) { (n) } } }
                label for="diary-note" { "Anything you want to note (optional)" }
                textarea id="diary-note" name="note" rows="2" {}
                div.actions { button type="submit" { "Save today's diary" } }
            }
        }
    }
}

/// Saves the patient's diary entry.
pub async fn diary<S: Store>(
    State(app): State<AppState<S>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let (token, view) = match session(&app, &headers, addr).await {
        Ok(Some(found)) => found,
        Ok(None) => return session_ended(),
        Err(err) => return failure(err),
    };
    let pairs = form_pairs(&raw);
    let field = |name: &str| form_field(&pairs, name);
    if field("form_token").as_deref() != Some(form_token(&token).as_str()) {
        return refused(StatusCode::FORBIDDEN, "Please try again", "This form was not sent from your page. Open the link in your message again.");
    }
    let input = clinic_domain::outcome::tlfb::DiaryInput {
        date: field("date"),
        substance: field("substance"),
        used: field("use"),
        amount: field("amount"),
        craving: field("craving"),
        note: field("note"),
    };
    match app.clinic.portal_diary(&view, &input).await {
        Ok(_) => Redirect::to("/portal#diary").into_response(),
        Err(ServiceError::Invalid(errors)) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please check and try again",
            &errors.0.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join(" "),
        ),
        Err(ServiceError::Conflict { message, .. }) => refused(StatusCode::CONFLICT, "This page cannot keep a diary", &message),
        Err(err) => failure(err),
    }
}
