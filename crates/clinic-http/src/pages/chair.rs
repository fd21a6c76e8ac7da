//! The chair-side chart on a tablet, and the live floor board. Every form
//! posts back to the session and returns to it; errors come back on the same
//! page naming the field. Alerts show at the top, in red, until a response is
//! recorded for each.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use clinic_domain::authz::{Permission, role_allows};
use clinic_domain::infusion::{PumpAction, PumpState, VitalInput};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::infusions::{Chart, ChecklistInput};
use clinic_store::Store;
use maud::{Markup, html};
use uuid::Uuid;

use crate::AppState;
use crate::pages::csrf_input;
use crate::pages::{Nav, error_page, failure, form_field, form_pairs, site_time, staff_page};

fn minutes_since(at: chrono::DateTime<Utc>) -> i64 {
    (clinic_service::now() - at).num_minutes()
}

/// The check-in form for a booked infusion (or its open session).
pub async fn check_in_form<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let Ok(booking_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound {
            resource: "booking",
        });
    };
    match app.clinic.session_for_booking(booking_id).await {
        Ok(Some(s)) => return Redirect::to(&format!("/sessions/{}", s.id)).into_response(),
        Ok(None) => {}
        Err(err) => return failure(err),
    }
    check_in_page(&app, &principal, booking_id, &[]).await
}

async fn check_in_page<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    booking_id: Uuid,
    errors: &[clinic_domain::field::FieldError],
) -> Response {
    let site = app
        .clinic
        .main_site()
        .await
        .map(|s| s.name)
        .unwrap_or_default();
    let body = html! {
        h1 { "Check in for the infusion" }
        section.card {
            p { "Ask the patient to state their full name and date of birth. Do not read them out." }
            @if !errors.is_empty() { div.notice.bad role="alert" { ul { @for e in errors { li { (e.field.replace('_', " ")) ": " (e.message) } } } } }
            form method="post" action={ "/bookings/" (booking_id) "/sessions" } #check-in {
                (csrf_input(principal))
                label for="full_name" { "Full name, as stated" }
                input id="full_name" name="full_name" autocomplete="off" required;
                label for="date_of_birth" { "Date of birth, as stated" }
                input id="date_of_birth" name="date_of_birth" type="date" required;
                div.actions { button type="submit" { "Check in" } }
            }
        }
    };
    let mut res = staff_page(principal, &site, "Check in", Nav::Schedule, body);
    if !errors.is_empty() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

pub async fn open<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(booking_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound {
            resource: "booking",
        });
    };
    let p = form_pairs(&raw);
    match app
        .clinic
        .open_session(
            &principal,
            booking_id,
            &form_field(&p, "full_name").unwrap_or_default(),
            &form_field(&p, "date_of_birth").unwrap_or_default(),
        )
        .await
    {
        Ok(s) => Redirect::to(&format!("/sessions/{}", s.id)).into_response(),
        Err(ServiceError::Invalid(errors)) => {
            check_in_page(&app, &principal, booking_id, &errors.0).await
        }
        Err(ServiceError::Conflict { message, .. }) => {
            error_page(StatusCode::CONFLICT, "Not checked in", &message)
        }
        Err(err) => failure(err),
    }
}

/// The chair page.
pub async fn show<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let Ok(session_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound {
            resource: "infusion session",
        });
    };
    match app.clinic.get_chart(&principal, session_id).await {
        Ok(chart) => chair_page(&app, &principal, &chart, None).await,
        Err(err) => failure(err),
    }
}

async fn chair_page<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    c: &Chart,
    problem: Option<String>,
) -> Response {
    let (site, zone) = match app.clinic.main_site().await {
        Ok(s) => (s.name, s.time_zone),
        Err(_) => (String::new(), "UTC".into()),
    };
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let s = &c.session;
    let patient = app.clinic.store().get_patient(s.patient_id).await.ok();
    let order = match s.order_id {
        Some(id) => app.clinic.store().get_order(id).await.ok(),
        None => None,
    };
    let chair = match s.resource_id {
        Some(r) => app
            .clinic
            .store()
            .get_site_schedule(s.site_id)
            .await
            .ok()
            .flatten()
            .and_then(|sch| {
                sch.resources
                    .into_iter()
                    .find(|x| x.id == r)
                    .map(|x| x.name)
            }),
        None => None,
    };
    let ledger = app.clinic.session_ledger(c).await.ok();
    let c_delivered = c.delivered;
    // The stock volume to draw: the syringe-rounded figure when the clinic sets a step, else the exact one.
    let calc = order.as_ref().and_then(|o| app.clinic.order_calc(o).ok());
    let draw_ml = calc.as_ref().map(|calc| calc.stock_draw.map_or(calc.total.stock_volume_ml, |r| r.setting).to_decimal());
    // The ordered pump rates, phase by phase (the pump setting when the clinic sets a step).
    let ordered_rates = calc.as_ref().map(|calc| {
        calc.phases.iter().map(|p| format!("{} mL/h for {} min", p.pump.map_or(p.rate_ml_per_h, |r| r.setting).to_decimal(), p.minutes.to_decimal())).collect::<Vec<_>>().join(", then ")
    });
    let today = app.clinic.now().with_timezone(&tz).date_naive();
    let state = clinic_domain::infusion::pump_state(&c.pump);
    let now = clinic_service::now();
    let overdue = c.next_vitals_due.is_some_and(|d| d < now);
    let closed = matches!(s.status.as_str(), "discharged" | "closed");
    let users = app.clinic.store().list_users().await.unwrap_or_default();
    let who = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.display_name.clone())
            .unwrap_or_default()
    };
    let body = html! {
        header.chair-header {
            h1 {
                @if let Some(p) = &patient { (p.details.given_name) " " (p.details.family_name) }
                " " span.badge data-testid="phase" { (c.phase()) }
            }
            p {
                @if let Some(p) = &patient { "MRN " (p.mrn.as_str()) " · born " (p.details.date_of_birth) " · " }
                (chair.clone().unwrap_or_else(|| "no chair".into()))
                @if let (Some(start), false) = (c.started_at, closed) { " · " strong data-testid="elapsed" { (minutes_since(start).max(0)) " min" } " since the start" }
                @if let (Some(start), Some(stop)) = (c.started_at, c.stopped_at) { " · infused " (site_time(start, &zone)) " to " (stop.with_timezone(&tz).format("%H:%M")) }
                @if let Some(e) = &c.escort_name { " · escort " (e) }
            }
            @if let Some(p) = &patient {
                @if p.details.allergies.is_empty() { p.error { "Allergies: none recorded" } }
                @else { p { strong { "Allergies: " } (p.details.allergies.iter().map(|a| a.substance.clone()).collect::<Vec<_>>().join(", ")) } }
            }
            p {
                @match &order {
                    Some(o) => { a href={ "/orders/" (o.id) } { "Order" } ": " (o.status.as_str().replace('_', " ")) " · " (o.weight_kg) " kg · "
                        (o.phases.iter().map(|(d, m)| format!("{d} mg/kg over {m} min")).collect::<Vec<_>>().join(", then ")) }
                    None => span.error { "No order for this infusion." },
                }
            }
        }
        @if let Some(problem) = &problem { div.notice.bad role="alert" #problem { p { (problem) } } }
        @if let Some(at) = c.emergency_at {
            section.card.emergency role="alert" data-testid="emergency" {
                h2 { "Emergency declared at " (at.with_timezone(&tz).format("%H:%M:%S")) }
                @let paged = c.entries.iter().rev().find(|e| e.kind == "emergency").and_then(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok()).and_then(|b| b["paged"].as_str().map(str::to_string));
                p { @match paged { Some(to) => { "The physician was paged at " (to) "." } None => strong { "No pager number is set (needs clinic setting): call the physician on site now." } } }
                p { "Call " (app.clinic.safety().emergency_number) " if needed. " a href={ "/sessions/" (s.id) "/handoff" } { "Hand-off summary for emergency services" } }
            }
        }
        @if !closed {
            form.emergency-button method="post" action={ "/sessions/" (s.id) "/emergency" } {
                (csrf_input(principal))
                input type="hidden" name="version" value=(s.version);
                label for="emergency-what" { "What is happening (optional)" }
                input id="emergency-what" name="what";
                button.danger type="submit" { "EMERGENCY: stop the infusion and page the physician" }
            }
        }
        @for (alert_id, message, advice, at) in &c.open_alerts {
            section.card.alert-open role="alert" data-testid="open-alert" {
                h2 { "Alert: " (message) }
                p { (advice) " · raised " (at.with_timezone(&tz).format("%H:%M")) }
                @if !closed {
                    form method="post" action={ "/sessions/" (s.id) "/alert-responses" } {
                        (csrf_input(principal))
                        input type="hidden" name="version" value=(s.version);
                        input type="hidden" name="alert_id" value=(alert_id);
                        label for={ "response-" (alert_id) } { "Response taken" }
                        input id={ "response-" (alert_id) } name="response" required;
                        button type="submit" { "Record the response" }
                    }
                }
            }
        }
        @if s.status == "pre_check" {
            section.card #checklist {
                h2 { "Before the infusion" }
                @if !c.checklist_unmet.is_empty() {
                    ul.unmet data-testid="unmet" { @for u in &c.checklist_unmet { li.warning { (u) } } }
                } @else { p.ok { "Checklist complete." } }
                form method="post" action={ "/sessions/" (s.id) "/checklist" } {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(s.version);
                    label { input type="checkbox" name="fasting_confirmed" value="yes"; " Fasting as the clinic instructs: confirmed" }
                    label for="escort_name" { "Escort (who takes the patient home)" }
                    input id="escort_name" name="escort_name" value=(c.escort_name.clone().or_else(|| patient.as_ref().and_then(|p| p.details.escort.as_ref().map(|e| e.name.clone()))).unwrap_or_default()) required;
                    label { input type="checkbox" name="escort_present" value="yes"; " The escort is here" }
                    label for="breath_alcohol" { "Breath alcohol" }
                    input id="breath_alcohol" name="breath_alcohol" inputmode="decimal" placeholder="0.000";
                    label for="hours_since_last_drink" { "Hours since the last drink (alcohol)" }
                    input id="hours_since_last_drink" name="hours_since_last_drink" inputmode="numeric";
                    label for="pregnancy_test" { "Pregnancy test" }
                    select id="pregnancy_test" name="pregnancy_test" {
                        option value="" { "—" } option value="negative" { "negative" } option value="positive" { "positive" } option value="not_applicable" { "not applicable" }
                    }
                    fieldset { legend { "Baseline vital signs" } (vital_fields("b_")) }
                    div.actions { button type="submit" { "Save the checklist" } }
                }
            }
        }
        @if !closed {
            section.card #pump {
                h2 { "Pump" }
                p { @match state {
                    PumpState::NotStarted => "Not started.",
                    PumpState::Running { rate_ml_per_h, since } => { "Running at " strong { (rate_ml_per_h.to_decimal()) " mL/h" } " since " (since.with_timezone(&tz).format("%H:%M")) "." },
                    PumpState::Paused => "Paused.",
                    PumpState::Stopped => "Stopped.",
                } }
                @if let Some(rates) = &ordered_rates { p data-testid="ordered-rate" { "Ordered: " strong { (rates) } } }
                @if let Some((ml, mg)) = c.delivered { p { "Delivered so far: " strong data-testid="delivered" { (crate::pages::figure(ml, 2)) " mL = " (crate::pages::figure(mg, 2)) " mg" } } }
                div.pump-controls {
                    @for (action, label, needs_rate) in pump_buttons(state) {
                        form method="post" action={ "/sessions/" (s.id) "/pump" } {
                            (csrf_input(principal))
                            input type="hidden" name="version" value=(s.version);
                            input type="hidden" name="action" value=(action.as_str());
                            @if needs_rate {
                                label for={ "rate-" (action.as_str()) } { "Rate, mL/h" }
                                input id={ "rate-" (action.as_str()) } name="rate_ml_per_h" inputmode="decimal" required;
                            }
                            button type="submit" class=[(action == PumpAction::Stop).then_some("secondary")] { (label) }
                        }
                    }
                }
            }
            @if matches!(s.status.as_str(), "infusing" | "recovery") {
                section.card #vitals class=[overdue.then_some("overdue")] {
                    h2 { "Vital signs" }
                    @if let Some(due) = c.next_vitals_due {
                        p class=(if overdue { "error" } else { "muted" }) data-testid="vitals-due" {
                            @if overdue { "Overdue since " } @else { "Next set due at " } (due.with_timezone(&tz).format("%H:%M"))
                        }
                    }
                    form method="post" action={ "/sessions/" (s.id) "/vitals" } {
                        (csrf_input(principal))
                        input type="hidden" name="version" value=(s.version);
                        (vital_fields(""))
                        div.actions { button type="submit" { "Save vital signs" } }
                    }
                }
            }
            @if s.status == "recovery" {
                section.card #discharge {
                    h2 { "Discharge" }
                    p.muted { "Modified Aldrete (each item 0–2); at least " (app.clinic.config().infusion.aldrete_minimum) " to leave." }
                    form method="post" action={ "/sessions/" (s.id) "/discharge" } {
                        (csrf_input(principal))
                        input type="hidden" name="version" value=(s.version);
                        @for (name, label) in [("activity", "Activity"), ("respiration", "Respiration"), ("circulation", "Circulation (BP within ±20% of baseline = 2)"), ("consciousness", "Consciousness"), ("spo2", "SpO2 (> 92% on room air = 2)")] {
                            label for={ "ald-" (name) } { (label) }
                            select id={ "ald-" (name) } name={ "aldrete_" (name) } required { option value="" { "—" } option value="2" { "2" } option value="1" { "1" } option value="0" { "0" } }
                        }
                        label { input type="checkbox" name="dissociation_resolved" value="yes"; " Dissociation resolved" }
                        label { input type="checkbox" name="steady_gait" value="yes"; " Steady gait" }
                        label { input type="checkbox" name="escort_present" value="yes"; " Escort present: " (c.escort_name.clone().unwrap_or_else(|| "none named".into())) }
                        label { input type="checkbox" name="written_instructions_given" value="yes"; " Written instructions given" }
                        @if role_allows(principal.user.role, Permission::DischargeOverride) {
                            label for="override_reason" { "Physician: reason to discharge with a criterion unmet" }
                            input id="override_reason" name="override_reason";
                        }
                        div.actions { button type="submit" { "Discharge" } }
                    }
                }
            }
        }
        @if let Some(l) = &ledger {
            section.card #ledger {
                h2 { "Controlled substances" }
                @let lot_of = |id: Uuid| l.shelf.iter().find(|x| x.id == id);
                @if l.custody.is_empty() { p.muted data-testid="custody" { "Nothing drawn for this session is held." } }
                @else {
                    ul data-testid="custody" {
                        @for c in &l.custody {
                            li { "Held: " (crate::pages::figure(c.held.ml, 4)) " mL = " (crate::pages::figure(c.held.mg, 2)) " mg of "
                                (lot_of(c.lot).map_or_else(|| c.lot.to_string(), |x| x.label())) }
                        }
                    }
                }
                @if !l.entries.is_empty() {
                    table.stack data-testid="session-ledger" {
                        thead { tr { th { "Time" } th { "Entry" } th { "By" } th { "Witness" } } }
                        tbody {
                            @for e in &l.entries {
                                tr data-type=(e.entry_type) {
                                    td data-label="Time" { (site_time(e.at, &zone)) }
                                    td data-label="Entry" { (crate::pages::ledger::entry_words(e, &l.shelf, &|_| None)) }
                                    td data-label="By" { (who(e.actor_id)) }
                                    td data-label="Witness" { (e.witness_id.map(&who).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
                @if !closed {
                    @let usable: Vec<_> = l.shelf.iter().filter(|x| !x.voided && x.on_hand_ml.is_positive()).collect();
                    @if s.status == "pre_check" || s.status == "infusing" {
                        form method="post" action={ "/sessions/" (s.id) "/ledger" } #withdraw {
                            (csrf_input(principal))
                            input type="hidden" name="type" value="withdrawn";
                            label for="wd-lot" { "Draw from lot" }
                            select id="wd-lot" name="lot_id" required {
                                @for x in &usable { option value=(x.id) { (x.label()) " · " (crate::pages::figure(x.on_hand_ml, 4)) " mL on the shelf" } }
                            }
                            label for="wd-vial" { "Vial number" }
                            input id="wd-vial" name="container" inputmode="numeric" value=(usable.first().and_then(|x| x.next_container(draw_ml.as_deref().and_then(clinic_domain::dose::Exact::parse), today)).map(|n| n.to_string()).unwrap_or_default()) required;
                            label for="wd-ml" { "Stock volume drawn, mL" }
                            input id="wd-ml" name="volume_ml" inputmode="decimal" value=(draw_ml.clone().unwrap_or_default()) required;
                            button type="submit" { "Record the withdrawal" }
                        }
                    }
                    @if s.status == "recovery" {
                        @for c in l.custody.iter().filter(|c| c.drug == clinic_domain::ledger::Drug::Ketamine) {
                            @if !l.ketamine_administered_mg.is_positive() && c_delivered.is_some_and(|(_, mg)| mg.is_positive()) {
                                form method="post" action={ "/sessions/" (s.id) "/ledger" } {
                                    (csrf_input(principal))
                                    input type="hidden" name="type" value="administered";
                                    input type="hidden" name="lot_id" value=(c.lot);
                                    p { "The pump record shows "
                                        @if let Some((_, mg)) = c_delivered { strong { (crate::pages::figure(mg, 2)) " mg" } } @else { "no delivery" }
                                        " given." }
                                    button type="submit" { "Record the administration from the pump record" }
                                }
                            }
                        }
                        @for c in &l.custody {
                            form method="post" action={ "/sessions/" (s.id) "/ledger" } #waste {
                                (csrf_input(principal))
                                input type="hidden" name="type" value="wasted";
                                input type="hidden" name="lot_id" value=(c.lot);
                                label for={ "waste-" (c.lot) } { "Waste the rest of " (lot_of(c.lot).map_or_else(String::new, |x| x.label())) ", mL" }
                                input id={ "waste-" (c.lot) } name="volume_ml" inputmode="decimal" value=(c.held.ml.to_decimal()) required;
                                (crate::pages::ledger::witness_fields(&format!("waste-{}", c.lot)))
                                button type="submit" { "Record the witnessed waste" }
                            }
                        }
                    }
                    // Drug drawn but not mixed (the infusion did not go ahead) goes back to the vial it came from.
                    @for c in &l.custody {
                        @let vial = l.entries.iter().rev().filter(|e| e.entry_type == "withdrawn" && e.lot_id == c.lot).find_map(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok().and_then(|b| b["detail"]["container"].as_u64()));
                        details #return {
                            summary { "Return unused drug to its vial (not mixed into a bag)" }
                            form method="post" action={ "/sessions/" (s.id) "/ledger" } {
                                (csrf_input(principal))
                                input type="hidden" name="type" value="returned";
                                input type="hidden" name="lot_id" value=(c.lot);
                                label for={ "ret-vial-" (c.lot) } { "Vial number" }
                                input id={ "ret-vial-" (c.lot) } name="container" inputmode="numeric" value=(vial.map(|v| v.to_string()).unwrap_or_default()) required;
                                label for={ "ret-ml-" (c.lot) } { "Volume returned, mL" }
                                input id={ "ret-ml-" (c.lot) } name="volume_ml" inputmode="decimal" value=(c.held.ml.to_decimal()) required;
                                (crate::pages::ledger::witness_fields(&format!("return-{}", c.lot)))
                                button.secondary type="submit" { "Record the witnessed return" }
                            }
                        }
                    }
                }
            }
        }
        @if !closed {
            details.card #ratings {
                summary { "Dissociation and side effects" }
                form method="post" action={ "/sessions/" (s.id) "/ratings" } {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(s.version);
                    input type="hidden" name="instrument" value="bprs_positive";
                    p { "BPRS positive subscale, each 1–7 (Overall & Gorham 1962)" }
                    div.vitals-grid {
                        @for (i, item) in clinic_service::infusions::BPRS_POSITIVE_ITEMS.iter().enumerate() {
                            span.field { label for={ "bprs-" (i) } { (item) } input id={ "bprs-" (i) } name="item" inputmode="numeric" required; }
                        }
                    }
                    button type="submit" { "Save BPRS" }
                }
                form method="post" action={ "/sessions/" (s.id) "/ratings" } {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(s.version);
                    input type="hidden" name="instrument" value="cadss";
                    p { "CADSS, 23 subject-rated items, each 0–4 (Bremner 1998; the item text is licensed and not shown)" }
                    div.vitals-grid {
                        @for i in 1..=23 { span.field { label for={ "cadss-" (i) } { "Item " (i) } input id={ "cadss-" (i) } name="item" inputmode="numeric" required; } }
                    }
                    button type="submit" { "Save CADSS" }
                }
            }
            details.card #medicines {
                summary { "Medicine given" }
                form method="post" action={ "/sessions/" (s.id) "/medications" } {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(s.version);
                    label for="med-drug" { "Drug (e.g. midazolam, ondansetron)" } input id="med-drug" name="drug" required;
                    label for="med-dose" { "Dose with unit" } input id="med-dose" name="dose" required;
                    label for="med-route" { "Route" }
                    select id="med-route" name="route" { @for r in clinic_service::infusions::ROUTES { option value=(r) { (r) } } }
                    label for="med-reason" { "Reason" } input id="med-reason" name="reason" required;
                    button type="submit" { "Record the medicine" }
                }
            }
            details.card #adverse-event {
                summary { "Adverse event" }
                form method="post" action={ "/sessions/" (s.id) "/adverse-events" } {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(s.version);
                    label for="ae-what" { "What happened" } input id="ae-what" name="description" required;
                    label for="ae-sev" { "Severity" } select id="ae-sev" name="severity" { @for x in clinic_service::infusions::SEVERITIES { option value=(x) { (x) } } }
                    label for="ae-action" { "Action taken" } input id="ae-action" name="action" required;
                    label for="ae-outcome" { "Outcome" } select id="ae-outcome" name="outcome" { @for x in clinic_service::infusions::OUTCOMES { option value=(x) { (x) } } }
                    button type="submit" { "Record the adverse event" }
                }
            }
        }
        details.card #note open[closed] {
            @let signed = c.entries.iter().any(|e| e.kind == "note");
            summary { @if signed { "Add an addendum to the signed note" } @else { "Session note" } }
            form method="post" action={ "/sessions/" (s.id) "/notes" } {
                (csrf_input(principal))
                input type="hidden" name="version" value=(s.version);
                label for="note-text" { @if signed { "Addendum (the signed note is never edited)" } @else { "Note" } }
                textarea id="note-text" name="text" rows="4" required {}
                button type="submit" { @if signed { "Sign the addendum" } @else { "Sign the note" } }
            }
        }
        section.card #chart-log {
            h2 { "Chart" }
            table.stack {
                thead { tr { th { "Time" } th { "Entry" } th { "By" } } }
                tbody {
                    @for e in &c.entries {
                        tr data-kind=(e.kind) {
                            td data-label="Time" { (site_time(e.at, &zone)) }
                            td data-label="Entry" { (entry_words(&e.kind, &e.body)) }
                            td data-label="By" { (who(e.recorded_by)) }
                        }
                    }
                }
            }
        }
        p { a href="/floor" { "Floor board" } }
    };
    let mut res = staff_page(principal, &site, "Infusion chart", Nav::Floor, body);
    if problem.is_some() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

fn pump_buttons(state: PumpState) -> Vec<(PumpAction, &'static str, bool)> {
    match state {
        PumpState::NotStarted => vec![(PumpAction::Start, "Start the pump", true)],
        PumpState::Running { .. } => vec![
            (PumpAction::RateChange, "Change the rate", true),
            (PumpAction::Pause, "Pause", false),
            (PumpAction::Stop, "Stop the pump", false),
        ],
        PumpState::Paused => vec![
            (PumpAction::Resume, "Resume", true),
            (PumpAction::Stop, "Stop the pump", false),
        ],
        PumpState::Stopped => vec![],
    }
}

fn vital_fields(prefix: &str) -> Markup {
    html! {
        div.vitals-grid {
            @for (name, label, mode) in [("systolic_mmhg", "Systolic, mmHg", "numeric"), ("diastolic_mmhg", "Diastolic, mmHg", "numeric"), ("heart_rate_bpm", "Heart rate, /min", "numeric"), ("respiratory_rate_per_min", "Resp. rate, /min", "numeric"), ("spo2_percent", "SpO2, %", "numeric"), ("rass", "RASS (−5 to +4)", "text")] {
                span.field {
                    label for={ (prefix) (name) } { (label) }
                    input id={ (prefix) (name) } name={ (prefix) (name) } inputmode=(mode) required;
                }
            }
        }
    }
}

fn entry_words(kind: &str, body: &str) -> Markup {
    let b: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let set = |v: &serde_json::Value| {
        format!(
            "BP {}/{} · HR {} · RR {} · SpO2 {}% · RASS {}",
            v["systolic_mmhg"],
            v["diastolic_mmhg"],
            v["heart_rate_bpm"],
            v["respiratory_rate_per_min"],
            v["spo2_percent"],
            v["rass"]
        )
    };
    match kind {
        "check_in" => html! { "Checked in: identity confirmed by full name and date of birth" },
        "checklist" => html! {
            "Checklist: " @if b["unmet"].as_array().is_some_and(|u| u.is_empty()) { "complete" } @else { "incomplete (" (b["unmet"].as_array().map_or(0, Vec::len)) " unmet)" }
            " · baseline " (set(&b["baseline"]))
        },
        "pump" => {
            html! { "Pump " (b["action"].as_str().unwrap_or("").replace('_', " ")) @if let Some(r) = b["rate_ml_per_h"].as_str() { " at " (r) " mL/h" } }
        }
        "vitals" => html! {
            (set(&b["set"]))
            @for a in b["alerts"].as_array().into_iter().flatten() { br; span.error { "Alert: " (a["message"].as_str().unwrap_or("")) } }
        },
        "alert_response" => html! { "Alert response: " (b["response"].as_str().unwrap_or("")) },
        "rating" => {
            html! { (if b["instrument"] == "cadss" { "CADSS" } else { "BPRS positive" }) " total " (b["total"]) }
        }
        "medication" => {
            html! { "Medicine: " (b["drug"].as_str().unwrap_or("")) " " (b["dose"].as_str().unwrap_or("")) " " (b["route"].as_str().unwrap_or("")) " for " (b["reason"].as_str().unwrap_or("")) }
        }
        "adverse_event" => {
            html! { span.error { "Adverse event (" (b["severity"].as_str().unwrap_or("")) "): " } (b["description"].as_str().unwrap_or("")) " · action: " (b["action"].as_str().unwrap_or("")) " · outcome: " (b["outcome"].as_str().unwrap_or("")) }
        }
        "note" => {
            html! { "Note, signed by " (b["signed_by"].as_str().unwrap_or("")) ": " (b["text"].as_str().unwrap_or("")) }
        }
        "addendum" => {
            html! { "Addendum, signed by " (b["signed_by"].as_str().unwrap_or("")) ": " (b["text"].as_str().unwrap_or("")) }
        }
        "discharge" => html! {
            "Discharged · Aldrete " (b["aldrete"]["total"]) "/10"
            @if let Some(r) = b["override_reason"].as_str() { " · physician override: " (r) }
            @if let Some(d) = b["delivered"].as_object() {
                // Stored exact when it terminates, else to nine places ("exact": false): shown to two.
                @let fig = |k: &str| {
                    let raw = d[k].as_str().unwrap_or("");
                    match clinic_domain::dose::Exact::parse(raw) {
                        Some(x) => crate::pages::figure(x, 2),
                        None => html! { "≈" (raw.find('.').map_or(raw, |p| &raw[..(p + 3).min(raw.len())])) },
                    }
                };
                " · delivered " (fig("ml")) " mL = " (fig("mg")) " mg"
            }
        },
        other => html! { (other) },
    }
}

async fn after<S: Store, T>(
    app: &AppState<S>,
    principal: &Principal,
    session_id: Uuid,
    result: Result<T, ServiceError>,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/sessions/{session_id}")).into_response(),
        Err(err) => match crate::pages::problem_text(&err) {
            Some(problem) => match app.clinic.get_chart(principal, session_id).await {
                Ok(chart) => chair_page(app, principal, &chart, Some(problem)).await,
                Err(err) => failure(err),
            },
            None => failure(err),
        },
    }
}

fn vital_input(p: &[(String, String)], prefix: &str) -> VitalInput {
    let f = |name: &str| form_field(p, &format!("{prefix}{name}"));
    VitalInput {
        systolic_mmhg: f("systolic_mmhg"),
        diastolic_mmhg: f("diastolic_mmhg"),
        heart_rate_bpm: f("heart_rate_bpm"),
        respiratory_rate_per_min: f("respiratory_rate_per_min"),
        spo2_percent: f("spo2_percent"),
        rass: f("rass"),
    }
}

macro_rules! session_form {
    ($name:ident, |$app:ident, $principal:ident, $id:ident, $version:ident, $p:ident| $body:expr) => {
        pub async fn $name<S: Store>(
            State($app): State<AppState<S>>,
            Extension($principal): Extension<Principal>,
            Path(id): Path<String>,
            axum::extract::RawForm(raw): axum::extract::RawForm,
        ) -> Response {
            let Ok($id) = Uuid::try_parse(&id) else {
                return failure(ServiceError::NotFound {
                    resource: "infusion session",
                });
            };
            let $p = form_pairs(&raw);
            let $version = form_field(&$p, "version")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let result = $body;
            after(&$app, &$principal, $id, result).await
        }
    };
}

session_form!(checklist, |app, principal, id, version, p| {
    let input = ChecklistInput {
        fasting_confirmed: form_field(&p, "fasting_confirmed").is_some(),
        escort_name: form_field(&p, "escort_name"),
        escort_present: form_field(&p, "escort_present").is_some(),
        breath_alcohol: form_field(&p, "breath_alcohol"),
        hours_since_last_drink: form_field(&p, "hours_since_last_drink"),
        pregnancy_test: form_field(&p, "pregnancy_test"),
        baseline: vital_input(&p, "b_"),
    };
    app.clinic
        .record_checklist(&principal, id, version, &input)
        .await
});

session_form!(pump, |app, principal, id, version, p| {
    app.clinic
        .pump_event(
            &principal,
            id,
            version,
            &form_field(&p, "action").unwrap_or_default(),
            form_field(&p, "rate_ml_per_h").as_deref(),
        )
        .await
});

session_form!(vitals, |app, principal, id, version, p| {
    app.clinic
        .record_vitals(&principal, id, version, &vital_input(&p, ""))
        .await
});

session_form!(alert_response, |app, principal, id, version, p| {
    app.clinic
        .respond_to_alert(
            &principal,
            id,
            version,
            &form_field(&p, "alert_id").unwrap_or_default(),
            &form_field(&p, "response").unwrap_or_default(),
        )
        .await
});

session_form!(emergency, |app, principal, id, version, p| {
    app.clinic
        .emergency(
            &principal,
            id,
            version,
            &form_field(&p, "what").unwrap_or_default(),
        )
        .await
});

session_form!(rating, |app, principal, id, version, p| {
    let items: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.clone())
        .collect();
    app.clinic
        .record_rating(
            &principal,
            id,
            version,
            &form_field(&p, "instrument").unwrap_or_default(),
            &items,
        )
        .await
});

session_form!(medication, |app, principal, id, version, p| {
    let f = |n: &str| form_field(&p, n).unwrap_or_default();
    app.clinic
        .record_medication(
            &principal,
            id,
            version,
            &f("drug"),
            &f("dose"),
            &f("route"),
            &f("reason"),
        )
        .await
});

session_form!(adverse_event, |app, principal, id, version, p| {
    let f = |n: &str| form_field(&p, n).unwrap_or_default();
    app.clinic
        .record_adverse_event(
            &principal,
            id,
            version,
            &f("description"),
            &f("severity"),
            &f("action"),
            &f("outcome"),
        )
        .await
});

/// A ledger entry typed at the chair: withdrawal, administration from the pump record, witnessed waste or return.
pub async fn ledger_entry<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "infusion session" });
    };
    let session = match app.clinic.store().get_infusion_session(id).await {
        Ok(s) => s,
        Err(err) => return failure(ServiceError::from_store("infusion session", err)),
    };
    let mut request = crate::pages::ledger::ledger_request(&form_pairs(&raw));
    request.session_id = Some(id.to_string());
    let result = app.clinic.record_ledger(&principal, session.site_id, &request).await;
    after(&app, &principal, id, result).await
}

session_form!(note, |app, principal, id, version, p| {
    app.clinic
        .write_note(
            &principal,
            id,
            version,
            &form_field(&p, "text").unwrap_or_default(),
        )
        .await
});

session_form!(discharge, |app, principal, id, version, p| {
    let a = |n: &str| form_field(&p, &format!("aldrete_{n}"));
    let (act, res, cir, con, spo) = (
        a("activity"),
        a("respiration"),
        a("circulation"),
        a("consciousness"),
        a("spo2"),
    );
    app.clinic
        .discharge(
            &principal,
            id,
            version,
            [
                act.as_deref(),
                res.as_deref(),
                cir.as_deref(),
                con.as_deref(),
                spo.as_deref(),
            ],
            form_field(&p, "dissociation_resolved").is_some(),
            form_field(&p, "steady_gait").is_some(),
            form_field(&p, "escort_present").is_some(),
            form_field(&p, "written_instructions_given").is_some(),
            form_field(&p, "override_reason").as_deref(),
        )
        .await
});

/// The live floor board: every chair with an open session.
pub async fn floor<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let fragment = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|kv| kv == "fragment=1"));
    let rows = match app.clinic.floor(&principal, None).await {
        Ok(rows) => rows,
        Err(err) => return failure(err),
    };
    let site = app
        .clinic
        .main_site()
        .await
        .map(|s| (s.name, s.time_zone))
        .unwrap_or_default();
    let tz: chrono_tz::Tz = site.1.parse().unwrap_or(chrono_tz::Tz::UTC);
    let now = clinic_service::now();
    let board = html! {
        div #floor-board data-testid="floor-board" data-updated=(now.to_rfc3339()) {
            @if rows.is_empty() { p { "No patient in a chair now." } }
            div.floor-grid {
                @for (c, initials, chair) in &rows {
                    @let overdue = c.next_vitals_due.is_some_and(|d| d < now);
                    a.floor-chair href={ "/sessions/" (c.session.id) } class=[(!c.open_alerts.is_empty()).then_some("alerting")] data-phase=(c.phase()) {
                        strong { (chair.clone().unwrap_or_else(|| "—".into())) } " · " (initials)
                        br; span { (c.phase()) }
                        @if let Some(start) = c.started_at { " · " (minutes_since(start).max(0)) " min" }
                        @if let Some((at, v)) = c.last_vitals { br; span.muted { (at.with_timezone(&tz).format("%H:%M")) " BP " (v.systolic_mmhg) "/" (v.diastolic_mmhg) " HR " (v.heart_rate_bpm) " SpO2 " (v.spo2_percent) "%" } }
                        @if let Some(due) = c.next_vitals_due { br; span class=(if overdue { "error" } else { "muted" }) { @if overdue { "vitals overdue" } @else { "vitals due " (due.with_timezone(&tz).format("%H:%M")) } } }
                        @if !c.open_alerts.is_empty() { br; span.error { (c.open_alerts.len()) " open alert(s)" } }
                    }
                }
            }
        }
    };
    if fragment {
        let mut res = board.into_response();
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return res;
    }
    let body = html! {
        h1 { "Floor board" }
        p.muted { "Updates every 10 seconds without reloading." }
        (board)
        script src="/static/floor.js" defer {}
    };
    staff_page(&principal, &site.0, "Floor board", Nav::Floor, body)
}

/// The chart's Infusions tab: every session with its state and a link to its chart.
pub async fn infusions_tab<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    patient: &clinic_domain::patient::Patient,
    time_zone: &str,
) -> Markup {
    if !role_allows(principal.user.role, Permission::InfusionChart) {
        return html! { section.card { h2 { "Infusions" } p { "Infusion charts are kept by physicians and nurses." } } };
    }
    let sessions = app
        .clinic
        .store()
        .patient_sessions(patient.id)
        .await
        .unwrap_or_default();
    let mut charts = Vec::new();
    for s in sessions {
        match app.clinic.fold_chart(s).await {
            Ok(c) => charts.push(c),
            Err(err) => return html! { section.card { p.error { (err.to_string()) } } },
        }
    }
    let audit = clinic_domain::audit::AuditEvent::new(
        Uuid::now_v7(),
        clinic_service::now(),
        &principal.actor(),
        clinic_domain::audit::AuditAction::SessionRead,
        clinic_domain::audit::AuditTarget::patient(patient.id),
        clinic_domain::audit::Outcome::Success,
        Some(serde_json::json!({ "view": "infusions_tab", "sessions": charts.len() }).to_string()),
    );
    if let Err(err) = app.clinic.audit_writer().record(vec![audit]).await {
        return html! { section.card { p.error { (err.to_string()) } } };
    }
    html! {
        section.card #infusions {
            h2 { "Infusions" }
            @if charts.is_empty() { p { "No infusion yet. Sessions open from the day board on the day (Chart link beside a booked infusion)." } }
            @else {
                table.stack {
                    thead { tr { th { "Opened" } th { "State" } th { "Delivered" } th { "Alerts" } } }
                    tbody {
                        @for c in &charts {
                            tr {
                                td data-label="Opened" { a href={ "/sessions/" (c.session.id) } { (site_time(c.session.opened_at, time_zone)) } }
                                td data-label="State" { (c.phase()) }
                                td data-label="Delivered" { @if let Some((ml, mg)) = c.delivered { (crate::pages::figure(ml, 2)) " mL = " (crate::pages::figure(mg, 2)) " mg" } }
                                td data-label="Alerts" { @if c.open_alerts.is_empty() { "none open" } @else { span.error { (c.open_alerts.len()) " open" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The hand-off summary for emergency services (printable).
pub async fn handoff<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let Ok(session_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound {
            resource: "infusion session",
        });
    };
    let h = match app.clinic.handoff(&principal, session_id).await {
        Ok(h) => h,
        Err(ServiceError::Conflict { message, .. }) => {
            return error_page(StatusCode::CONFLICT, "No hand-off summary", &message);
        }
        Err(err) => return failure(err),
    };
    let zone = app
        .clinic
        .main_site()
        .await
        .map(|s| s.time_zone)
        .unwrap_or_else(|_| "UTC".into());
    let d = &h.patient.details;
    let order = match h.chart.session.order_id {
        Some(id) => app.clinic.store().get_order(id).await.ok(),
        None => None,
    };
    let body = html! {
        article.handoff data-testid="handoff" {
            h1 { "Emergency hand-off: " (d.given_name) " " (d.family_name) }
            p { "Born " (d.date_of_birth) " · MRN " (h.patient.mrn.as_str()) " · " (h.site_name) }
            p.muted { "Disclosed to emergency medical services under the medical-emergency exception (42 CFR 2.51); the disclosure is logged." }
            h2 { "Allergies" }
            p { @if d.allergies.is_empty() { "None recorded." } @else { (d.allergies.iter().map(|a| match &a.reaction { Some(r) => format!("{} ({r})", a.substance), None => a.substance.clone() }).collect::<Vec<_>>().join(", ")) } }
            h2 { "Current medicines" }
            p { @if d.medications.is_empty() { "None recorded." } @else { (d.medications.iter().map(|m| match &m.dose { Some(x) => format!("{} {x}", m.name), None => m.name.clone() }).collect::<Vec<_>>().join(", ")) } }
            h2 { "Ketamine given (IV)" }
            p {
                @if let Some(o) = &order { "Ordered: " (o.phases.iter().map(|(d, m)| format!("{d} mg/kg over {m} min")).collect::<Vec<_>>().join(", then ")) " for " (o.weight_kg) " kg. " }
                @match h.chart.delivered { Some((ml, mg)) => { "Delivered by the pump: " (crate::pages::figure(ml, 2)) " mL = " strong { (crate::pages::figure(mg, 2)) " mg" } "." } None => "Nothing delivered." }
                @if let Some(s) = h.chart.started_at { " Started " (site_time(s, &zone)) "." }
                @if let Some(s) = h.chart.stopped_at { " Stopped " (site_time(s, &zone)) "." }
            }
            h2 { "Timeline" }
            table.stack {
                thead { tr { th { "Time" } th { "What" } } }
                tbody { @for (at, _, words) in &h.timeline { tr { td data-label="Time" { (site_time(*at, &zone)) } td data-label="What" { (words) } } } }
            }
        }
    };
    let site = app
        .clinic
        .main_site()
        .await
        .map(|s| s.name)
        .unwrap_or_default();
    staff_page(&principal, &site, "Emergency hand-off", Nav::Floor, body)
}
