//! Screening in the chart: questionnaire history with trend charts, open
//! safety alerts, entering a questionnaire, and sending a portal link.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use clinic_domain::alert::ClinicalAlert;
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::field::FieldError;
use clinic_domain::instrument::definition::Rater;
use clinic_domain::instrument::wording::item_label;
use clinic_domain::patient::Patient;
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::instruments::LoadedInstrument;
use clinic_service::screening::QuestionnaireInput;
use clinic_store::screening::QuestionnaireResponseRecord;
use clinic_store::Store;
use maud::{html, Markup};

use crate::pages::{site_time, staff_page, Nav};
use crate::routes::CSRF_FIELD;
use crate::pages::{failure, form_field, form_pairs};
use crate::AppState;


/// The items of a questionnaire as radio groups, with the number printed
/// beside each option and the installed wording (or item numbers).
pub fn questionnaire_fields(loaded: &LoadedInstrument, chosen: &[String], errors: &[FieldError]) -> Markup {
    let wording = loaded.wording.as_ref();
    html! {
        @if let Some(stem) = wording.and_then(|w| w.stem.as_deref()) { p.stem { (stem) } }
        @if wording.is_none() {
            p.muted { "The item wording of this instrument is licensed: it shows once the clinic installs it. Ask the items from the licensed form and record the answers by number." }
        }
        @for (idx, item) in loaded.instrument.items().iter().enumerate() {
            @let name = format!("item{}", item.number);
            @let label = item_label(wording, item.number);
            fieldset.item {
                legend { span.item-number { (item.number) ". " } (label) }
                div.options {
                    @for option in &item.options {
                        @let value = option.answer.to_string();
                        @let text = wording.and_then(|w| w.option_label(item.number, &option.answer));
                        label.option {
                            input type="radio" name=(name) value=(value) required checked[chosen.get(idx).is_some_and(|c| *c == value)];
                            " " span.value { (value) } @if let Some(text) = text { " " (text) }
                        }
                    }
                }
                @if let Some(e) = errors.iter().find(|e| e.field == format!("answers[{idx}]") || e.field == format!("items[{}]", item.number)) {
                    span.field-error { (e.message) }
                }
            }
        }
        @for unscored in loaded.instrument.unscored_items() {
            @let text = wording.and_then(|w| w.unscored.iter().find(|u| u.key == unscored.key)).and_then(|u| u.text.as_deref());
            fieldset.item {
                legend { (text.unwrap_or(unscored.key.as_str())) " (optional, not scored)" }
                div.options {
                    @for answer in &unscored.answers {
                        @let value = answer.to_string();
                        @let label = wording.and_then(|w| w.unscored.iter().find(|u| u.key == unscored.key)).and_then(|u| u.options.get(&value));
                        label.option { input type="radio" name=(unscored.key) value=(value); " " span.value { (value) } @if let Some(l) = label { " " (l) } }
                    }
                }
            }
        }
    }
}

/// Answers from a posted questionnaire form, one per item in order (blank when missing).
pub fn answers_from_form(loaded: &LoadedInstrument, pairs: &[(String, String)]) -> Vec<String> {
    loaded
        .instrument
        .items()
        .iter()
        .map(|item| {
            let name = format!("item{}", item.number);
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()).unwrap_or_default()
        })
        .collect()
}

/// Missing answers named by item number, before scoring (which would only count them).
pub fn missing_answers(loaded: &LoadedInstrument, answers: &[String]) -> Vec<FieldError> {
    loaded
        .instrument
        .items()
        .iter()
        .zip(answers)
        .filter(|(_, a)| a.trim().is_empty())
        .map(|(item, _)| FieldError::new(format!("items[{}]", item.number), format!("item {} needs an answer", item.number)))
        .collect()
}

/// A small line chart of one instrument's totals over time, with each point's
/// band written beside it (colour is never the only cue). `None` for
/// instruments without totals.
fn trend_chart(title: &str, range: (i64, i64), points: &[(&QuestionnaireResponseRecord, i64)]) -> Markup {
    let (w, h, pad) = (520.0_f64, 160.0_f64, 34.0_f64);
    let span = f64::from(i32::try_from((range.1 - range.0).max(1)).unwrap_or(1));
    let n = points.len();
    let x = |i: usize| -> f64 {
        let i = f64::from(u32::try_from(i).unwrap_or(0));
        let last = f64::from(u32::try_from(n.saturating_sub(1).max(1)).unwrap_or(1));
        pad + (w - 2.0 * pad) * if n <= 1 { 0.5 } else { i / last }
    };
    let y = |total: i64| -> f64 {
        let v = f64::from(i32::try_from(total - range.0).unwrap_or(0));
        h - pad - (h - 2.0 * pad) * v / span
    };
    let path: String = points.iter().enumerate().map(|(i, (_, t))| format!("{}{:.1},{:.1}", if i == 0 { "M" } else { " L" }, x(i), y(*t))).collect();
    html! {
        figure.trend {
            svg viewBox={ "0 0 " (w) " " (h) } role="img" aria-label={ (title) " totals over time; the table below lists each" } {
                line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) class="axis" {}
                text x="2" y=(y(range.1) + 4.0) class="tick" { (range.1) }
                text x="2" y=(y(range.0) + 4.0) class="tick" { (range.0) }
                path d=(path) class="line" {}
                @for (i, (record, total)) in points.iter().enumerate() {
                    circle cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(*total))) r="4" class={ "dot band-" (record.band.as_deref().unwrap_or("none").replace(' ', "-")) } {}
                    text x=(format!("{:.1}", x(i))) y=(format!("{:.1}", y(*total) - 9.0)) class="label" text-anchor="middle" {
                        (total) @if let Some(band) = &record.band { " " (band) }
                    }
                }
            }
            figcaption { "Totals over time, oldest on the left; each point shows its band." }
        }
    }
}

/// The chart's Screening tab.
pub async fn tab<S: Store>(app: &AppState<S>, principal: &Principal, patient: &Patient, time_zone: &str) -> Markup {
    let role = principal.user.role;
    let can_read = role_allows(role, Permission::ScreeningRead);
    let history = if can_read { app.clinic.list_questionnaires(principal, patient.id).await.unwrap_or_default() } else { Vec::new() };
    let alerts: Vec<ClinicalAlert> =
        if role_allows(role, Permission::AlertRead) { app.clinic.list_alerts(principal, Some(patient.id), false).await.unwrap_or_default() } else { Vec::new() };
    let links = if role_allows(role, Permission::PortalInvite) { app.clinic.list_portal_links(principal, patient.id).await.unwrap_or_default() } else { Vec::new() };
    let instruments: Vec<&LoadedInstrument> = app.clinic.instruments().iter().collect();
    let staff = if alerts.iter().any(|a| !a.is_open()) { app.clinic.list_users().await.unwrap_or_default() } else { Vec::new() };
    let mut by_instrument: Vec<(&str, Vec<&QuestionnaireResponseRecord>)> = Vec::new();
    for record in &history {
        match by_instrument.iter_mut().find(|(id, _)| *id == record.instrument_id) {
            Some((_, list)) => list.push(record),
            None => by_instrument.push((record.instrument_id.as_str(), vec![record])),
        }
    }
    html! {
        @let open: Vec<&ClinicalAlert> = alerts.iter().filter(|a| a.is_open()).collect();
        @if !open.is_empty() {
            section.card.alert-card role="alert" {
                h2 { "Open safety alerts" }
                @for alert in &open {
                    p { strong { "Suicide risk: " } (alert.message) }
                    p { (alert.kind.action()) }
                    p.muted { "Raised " (site_time(alert.raised_at, time_zone)) " · sent to " (alert.routed_to) }
                    @if role_allows(role, Permission::AlertManage) { p { a.button href={ "/alerts#alert-" (alert.id) } { "Record the response" } } }
                }
            }
        }
        @if can_read {
            section.card {
                h2 { "Questionnaires" }
                @if history.is_empty() {
                    p { "No questionnaires yet." }
                } @else {
                    @for (id, records) in &by_instrument {
                        @let loaded = app.clinic.instruments().get(id);
                        @let title = loaded.map(|l| l.instrument.definition().title.clone()).unwrap_or_else(|| id.to_string());
                        @let points: Vec<(&QuestionnaireResponseRecord, i64)> = records.iter().filter_map(|r| r.total.map(|t| (*r, t))).collect();
                        h3 { (title) }
                        @if let (Some(range), true) = (loaded.and_then(|l| l.instrument.total_range()), points.len() >= 2) {
                            (trend_chart(&title, range, &points))
                        }
                        table.stack {
                            caption.visually-hidden { (title) }
                            thead { tr { th { "When" } th { "Total" } th { "Band" } th { "Flags" } th { "By" } } }
                            tbody {
                                @for r in records.iter().rev() {
                                    tr {
                                        td data-label="When" { (site_time(r.created_at, time_zone)) }
                                        td data-label="Total" { (r.total.map(|t| t.to_string()).unwrap_or_else(|| "—".into())) }
                                        td data-label="Band" { @if let Some(b) = &r.band { span class={ "badge band-" (b.replace(' ', "-")) } { (b) } } @else { "—" } }
                                        td data-label="Flags" { @if r.flags.is_empty() { "—" } @else { strong.error { (r.flags.join(", ").replace('_', " ")) } } }
                                        td data-label="By" { (if r.source == clinic_domain::portal::ResponseSource::Portal { "patient, in the portal" } else { "staff" }) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if role_allows(role, Permission::ScreeningRecord) {
                    form.inline method="get" action={ "/patients/" (patient.id) "/questionnaires/new" } {
                        label for="instrument" { "Enter answers for" }
                        select id="instrument" name="instrument" {
                            @for l in &instruments { option value=(l.instrument.id()) { (l.instrument.definition().title) } }
                        }
                        button type="submit" { "Start" }
                    }
                }
            }
        }
        @if role_allows(role, Permission::PortalInvite) {
            section.card {
                h2 { "Send a questionnaire to the patient" }
                form.inline method="post" action={ "/patients/" (patient.id) "/portal-links" } {
                    input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
                    label for="link_instrument" { "Questionnaire" }
                    select id="link_instrument" name="instrument" {
                        @for l in instruments.iter().filter(|l| l.instrument.definition().rater == Rater::SelfReport) {
                            option value=(l.instrument.id()) { (l.instrument.definition().title) }
                        }
                    }
                    button type="submit" { "Send link" }
                }
                p.muted { "The link goes by the patient's consented text or email channel, in neutral wording, and works once within " (app.clinic.safety().link_lifetime.num_hours()) " hours." }
                @if !links.is_empty() {
                    table.stack {
                        caption { "Links sent" }
                        thead { tr { th { "Sent" } th { "For" } th { "Expires" } th { "Status" } } }
                        tbody {
                            @for link in &links {
                                tr {
                                    td data-label="Sent" { (site_time(link.created_at, time_zone)) }
                                    td data-label="For" {
                                        (link.instrument_id.as_deref().and_then(|id| app.clinic.instruments().get(id)).map(|l| l.instrument.definition().title.clone()).unwrap_or_else(|| "portal sign-in".into()))
                                    }
                                    td data-label="Expires" { (site_time(link.expires_at, time_zone)) }
                                    td data-label="Status" {
                                        @match clinic_domain::portal::link_state(link, clinic_service::now()) {
                                            clinic_domain::portal::LinkState::Usable => "waiting",
                                            clinic_domain::portal::LinkState::Used => "answered",
                                            clinic_domain::portal::LinkState::Expired => "expired",
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !alerts.iter().all(|a| a.is_open()) {
            section.card {
                h2 { "Closed alerts" }
                @for alert in alerts.iter().filter(|a| !a.is_open()) {
                    @let closer = alert.closed_by.and_then(|id| staff.iter().find(|u| u.id == id)).map(|u| u.display_name.clone()).unwrap_or_default();
                    p { strong { (alert.kind.as_str().replace('_', " ")) ": " } (alert.message) br;
                        span.muted { "Closed " (alert.closed_at.map(|t| site_time(t, time_zone)).unwrap_or_default()) " by " (closer) ": " } (alert.response.as_deref().unwrap_or("")) }
                }
            }
        }
    }
}

pub async fn entry_form<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    let instrument = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).find(|(k, _)| k == "instrument").map(|(_, v)| v.into_owned()).unwrap_or_default();
    render_entry(&app, &principal, id, &instrument, &[], &[]).await
}

async fn render_entry<S: Store>(app: &AppState<S>, principal: &Principal, id: uuid::Uuid, instrument: &str, chosen: &[String], errors: &[FieldError]) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let patient = match app.clinic.get_patient(principal, id).await {
        Ok(p) => p,
        Err(err) => return failure(err),
    };
    let Some(loaded) = app.clinic.instruments().get(instrument) else {
        return crate::pages::error_page(
            axum::http::StatusCode::BAD_REQUEST,
            "No such questionnaire",
            &format!("instrument must be one of: {}", app.clinic.instruments().ids().join(", ")),
        );
    };
    let d = loaded.instrument.definition();
    let title = format!("{} — {} {}", d.title, patient.details.given_name, patient.details.family_name);
    let body = html! {
        h1 { (d.title) }
        p { "For " a href={ "/patients/" (patient.id) "?tab=screening" } { (patient.details.given_name) " " (patient.details.family_name) } " · recall: " (d.recall) }
        @if !errors.is_empty() {
            div.notice.bad role="alert" {
                p { "Nothing was saved yet. Please check:" }
                ul { @for e in errors { li { (e.message) } } }
            }
        }
        form method="post" action={ "/patients/" (patient.id) "/questionnaires" } novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(principal.csrf_token);
            input type="hidden" name="instrument" value=(loaded.instrument.id());
            @if loaded.instrument.needs_sex() {
                @let recorded = patient.details.sex_at_birth.as_str();
                fieldset.item {
                    legend { "Sex for the cut-off (the record says: " (recorded) ")" }
                    div.options {
                        @for sex in ["female", "male"] {
                            label.option { input type="radio" name="sex" value=(sex) checked[recorded == sex]; " " (sex) }
                        }
                    }
                    @if let Some(e) = errors.iter().find(|e| e.field == "sex") { span.field-error { "Sex " (e.message) } }
                }
            }
            (questionnaire_fields(loaded, chosen, errors))
            div.actions {
                button type="submit" { "Save and score" }
                a.button.secondary href={ "/patients/" (patient.id) "?tab=screening" } { "Cancel" }
            }
        }
        p.muted { "Source: " (d.citation) }
    };
    let status = if errors.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    (status, staff_page(principal, &site.name, &title, Nav::Patients, body)).into_response()
}

pub async fn entry_submit<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    let pairs = form_pairs(&raw);
    let instrument = form_field(&pairs, "instrument").unwrap_or_default();
    let Some(loaded) = app.clinic.instruments().get(&instrument) else {
        return render_entry(&app, &principal, id, &instrument, &[], &[]).await;
    };
    let answers = answers_from_form(loaded, &pairs);
    let missing = missing_answers(loaded, &answers);
    if !missing.is_empty() {
        return render_entry(&app, &principal, id, &instrument, &answers, &missing).await;
    }
    let difficulty = form_field(&pairs, "difficulty");
    let sex = form_field(&pairs, "sex");
    let input = QuestionnaireInput { instrument: instrument.clone(), answers: answers.clone(), sex, substance: None, difficulty };
    match app.clinic.record_questionnaire(&principal, id, &input).await {
        Ok(_) => Redirect::to(&format!("/patients/{id}?tab=screening")).into_response(),
        Err(ServiceError::Invalid(errors)) => render_entry(&app, &principal, id, &instrument, &answers, &errors.0).await,
        Err(err) => failure(err),
    }
}

pub async fn send_link<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = uuid::Uuid::try_parse(&id) else { return failure(ServiceError::NotFound { resource: "patient" }) };
    let pairs = form_pairs(&raw);
    let instrument = form_field(&pairs, "instrument");
    match app.clinic.send_portal_link(&principal, id, "questionnaire", instrument.as_deref()).await {
        Ok(_) => Redirect::to(&format!("/patients/{id}?tab=screening")).into_response(),
        Err(ServiceError::Invalid(errors)) => crate::pages::error_page(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "The link was not sent",
            &errors.0.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "),
        ),
        Err(ServiceError::Conflict { message, .. }) => crate::pages::error_page(axum::http::StatusCode::CONFLICT, "The link was not sent", &message),
        Err(err) => failure(err),
    }
}
