//! The chart's Plan tab: make a plan from a protocol, see each planned event
//! beside what happened to it, change events with a reason (a change that
//! leaves the protocol asks the physician to acknowledge the named
//! deviation first), sign, end, and read the whole history.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use clinic_domain::authz::{Permission, role_allows};
use clinic_domain::patient::{Patient, PatientStatus};
use clinic_domain::plan::{EventStatus, Plan, PlanEvent, PlanState};
use clinic_domain::protocol::EventKind;
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::plans::{EditInput, NewPlanInput, PhaseInput};
use clinic_store::Store;
use maud::{Markup, html};
use uuid::Uuid;

use crate::AppState;
use crate::pages::csrf_input;
use crate::pages::{Nav, error_page, failure, form_field, form_pairs, site_time, staff_page};
use crate::routes::CSRF_FIELD;

fn kind_label(event: &PlanEvent) -> String {
    match event.kind {
        EventKind::Infusion => match event.infusion_number {
            Some(n) => format!("Ketamine infusion {n}"),
            None => "Ketamine infusion".into(),
        },
        EventKind::Therapy => {
            let modality = event.modality.as_deref().unwrap_or("therapy");
            let mut chars = modality.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => "Therapy".into(),
            }
        }
        EventKind::Integration => "Integration session".into(),
        EventKind::Assessment => {
            format!("Assessment: {}", event.instrument.as_deref().unwrap_or(""))
        }
        EventKind::Inpatient => "Inpatient day".into(),
        EventKind::FollowUp => "Follow-up".into(),
    }
}

/// What happened to the event, in words, for the "what happened" column.
fn happened(event: &PlanEvent, today: NaiveDate) -> (&'static str, &'static str) {
    match event.status {
        EventStatus::Skipped => ("Skipped", "muted"),
        EventStatus::Booked => ("Booked", "ok"),
        EventStatus::Completed => ("Done", "ok"),
        EventStatus::NoShow => ("No-show", "error"),
        EventStatus::Planned if event.date < today => ("Not booked, date passed", "warning"),
        EventStatus::Planned => ("Not booked yet", "muted"),
    }
}

fn booking_word(status: clinic_domain::schedule::BookingStatus) -> &'static str {
    use clinic_domain::schedule::BookingStatus as B;
    match status {
        B::Booked => "Booked",
        B::Attended => "Attended",
        B::Cancelled => "Cancelled",
        B::NoShow => "No-show",
        B::Rescheduled => "Moved",
    }
}

fn dose_text(event: &PlanEvent) -> String {
    if event.kind != EventKind::Infusion {
        return String::new();
    }
    let phases: Vec<String> = event
        .phases
        .iter()
        .map(|p| format!("{} mg/kg over {} min", p.dose_mg_per_kg, p.minutes))
        .collect();
    phases.join(", then ")
}

/// The Plan tab of a patient's chart.
pub async fn plan_tab<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    patient: &Patient,
    time_zone: &str,
    today: NaiveDate,
) -> Markup {
    if !role_allows(principal.user.role, Permission::PlanRead) {
        return html! { section.card { h2 { "Plan" } p { "Your role does not show treatment plans." } } };
    }
    let plans = match app.clinic.patient_plans(principal, patient.id).await {
        Ok(plans) => plans,
        Err(err) => return html! { section.card { h2 { "Plan" } p.error { (err.to_string()) } } },
    };
    let open = plans.iter().find(|p| p.header.state() != PlanState::Ended);
    let can_manage = role_allows(principal.user.role, Permission::PlanManage);
    html! {
        @match open {
            Some(plan) => (plan_card(app, principal, plan, time_zone, today, can_manage).await),
            None => (new_plan_card(app, principal, patient, today, can_manage)),
        }
        @for plan in plans.iter().filter(|p| p.header.state() == PlanState::Ended) {
            section.card {
                h2 { "Ended plan: " (plan.header.protocol_id) }
                p { "Started " (plan.header.start_date) " · ended " (plan.header.ended_at.map(|t| site_time(t, time_zone)).unwrap_or_default())
                    " · " (plan.header.end_reason.clone().unwrap_or_default()) }
            }
        }
    }
}

fn new_plan_card<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    patient: &Patient,
    today: NaiveDate,
    can_manage: bool,
) -> Markup {
    let substances: Vec<&str> = patient
        .details
        .substances
        .iter()
        .map(|s| s.as_str())
        .collect();
    let protocols: Vec<_> = app.clinic.protocols().iter().collect();
    let fitting: Vec<_> = protocols
        .iter()
        .filter(|p| {
            p.definition()
                .substances
                .iter()
                .any(|s| substances.contains(&s.as_str()))
        })
        .collect();
    html! {
        section.card #new-plan {
            h2 { "Treatment plan" }
            @if patient.details.status != PatientStatus::Eligible {
                p { "No plan. A plan is made once the physician has signed the patient eligible (status now: "
                    (patient.details.status.as_str().replace('_', " ")) ")." }
            } @else if !can_manage {
                p { "No plan yet. The physician makes the plan from a protocol." }
            } @else if fitting.is_empty() {
                p.error { "No installed protocol treats this patient's substances (" (substances.join(", ")) "). Record the substances, or install a clinic protocol." }
            } @else {
                p { "Pick the protocol and the start date (day 0). The plan is a draft until you sign it." }
                form method="post" action={ "/patients/" (patient.id) "/plans" } {
                    (csrf_input(principal))
                    label for="protocol_id" { "Protocol" }
                    select id="protocol_id" name="protocol_id" {
                        @for protocol in &fitting {
                            option value=(protocol.id()) { (protocol.definition().title) }
                        }
                    }
                    label for="start_date" { "Start date (day 0)" }
                    input id="start_date" name="start_date" type="date" value=(today) required;
                    div.actions { button type="submit" { "Make the plan" } }
                }
                details {
                    summary { "What each protocol is" }
                    dl {
                        @for protocol in &fitting {
                            dt { (protocol.id()) }
                            dd { (protocol.definition().citation) }
                        }
                    }
                }
            }
        }
    }
}

async fn plan_card<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    plan: &Plan,
    time_zone: &str,
    today: NaiveDate,
    can_manage: bool,
) -> Markup {
    let h = &plan.header;
    let zone: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let can_book = role_allows(principal.user.role, Permission::ScheduleManage);
    let bookings = if role_allows(principal.user.role, Permission::ScheduleRead) {
        app.clinic
            .patient_bookings(principal, h.patient_id)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // The booking that stands for each event: the active one, else the latest.
    let mut by_event: std::collections::BTreeMap<Uuid, &clinic_service::scheduling::BookingView> =
        std::collections::BTreeMap::new();
    for b in &bookings {
        if let Some(event_id) = b.booking.plan_event_id {
            let keep = by_event
                .get(&event_id)
                .is_some_and(|old| old.booking.status.is_active() && !b.booking.status.is_active());
            if !keep {
                by_event.insert(event_id, b);
            }
        }
    }
    let no_shows = bookings
        .iter()
        .filter(|b| b.booking.status == clinic_domain::schedule::BookingStatus::NoShow)
        .count();
    let now = clinic_service::now();
    // Days the patient's site is shut (no opening hours that weekday, or a closure).
    let closed_days: Option<(
        std::collections::BTreeSet<u32>,
        std::collections::BTreeSet<NaiveDate>,
    )> = match app.clinic.store().get_patient(h.patient_id).await {
        Ok(patient) => app
            .clinic
            .store()
            .get_site_schedule(patient.site_id)
            .await
            .ok()
            .flatten()
            .map(|s| {
                let open: std::collections::BTreeSet<u32> = s
                    .hours
                    .iter()
                    .filter_map(|r| u32::try_from(r.weekday).ok())
                    .collect();
                (
                    (0..7).filter(|d| !open.contains(d)).collect(),
                    s.closures.iter().map(|(d, _)| *d).collect(),
                )
            }),
        Err(_) => None,
    };
    let site_closed = |date: NaiveDate| {
        closed_days.as_ref().is_some_and(|(weekdays, closures)| {
            weekdays.contains(&chrono::Datelike::weekday(&date).num_days_from_monday())
                || closures.contains(&date)
        })
    };
    let orders = if role_allows(principal.user.role, Permission::OrderRead) {
        app.clinic
            .patient_orders(principal, h.patient_id)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let state = h.state();
    let protocol = app.clinic.protocols().get(&h.protocol_id);
    let history = app
        .clinic
        .store()
        .list_plan_changes(h.id)
        .await
        .unwrap_or_default();
    let unset: Vec<String> = protocol
        .map(|p| {
            p.unset()
                .iter()
                .map(|u| format!("{}: {}", u.field, u.reason))
                .collect()
        })
        .unwrap_or_default();
    let active = plan.events.iter().filter(|e| e.is_active()).count();
    html! {
        section.card #plan data-plan-state=(state.as_str()) {
            h2 { "Treatment plan " span.badge data-testid="plan-state" { (state.as_str()) } }
            p {
                strong { (protocol.map(|p| p.definition().title.clone()).unwrap_or_else(|| h.protocol_id.clone())) }
                br;
                "Protocol " (h.protocol_id) " version " (h.protocol_version) " · day 0 " (h.start_date) " · " (active) " active events · plan version " (h.version)
            }
            @match state {
                PlanState::Draft => p.warning { "Draft: not signed. Nothing is booked from a plan until the physician signs it." },
                PlanState::Amended => p.warning { "Changed since it was signed: the physician signs again before new bookings." },
                PlanState::Signed => p.ok { "Signed " (h.signed_at.map(|t| site_time(t, time_zone)).unwrap_or_default()) "." },
                PlanState::Ended => p { "Ended." },
            }
            @if no_shows > 0 { p.warning data-testid="no-shows" { (no_shows) " missed appointment(s) (no-show)." } }
            @if can_book && state == PlanState::Signed && plan.events.iter().any(|e| e.status == EventStatus::Planned && e.date >= today && matches!(e.kind, EventKind::Infusion | EventKind::Therapy | EventKind::Integration)) {
                form.inline method="post" action={ "/plans/" (h.id) "/schedule" } #schedule-plan {
                    (csrf_input(principal))
                    label for="plan-time" { "Schedule whole plan, each day from" }
                    input id="plan-time" name="time" type="time" value="09:00" required;
                    label for="plan-escort" { "Escort" }
                    input id="plan-escort" name="escort_name" placeholder="the chart's escort";
                    button type="submit" { "Schedule whole plan" }
                }
            }
            @if !unset.is_empty() {
                details {
                    summary { "Needs clinic setting (" (unset.len()) ")" }
                    ul { @for u in &unset { li { (u) } } }
                }
            }
            @if can_manage && matches!(state, PlanState::Draft | PlanState::Amended) {
                form method="post" action={ "/plans/" (h.id) "/sign" } {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(h.version);
                    div.actions { button type="submit" { "Sign the plan" } }
                }
            }
            table.stack.plan-events {
                caption { "The plan beside what happened" }
                thead { tr { th { "Date" } th { "Day" } th { "Event" } th { "Dose" } th { "What happened" } @if can_manage || can_book { th { "Change" } } } }
                tbody {
                    @for event in &plan.events {
                        @let (what, class) = happened(event, today);
                        tr data-kind=(event.kind.as_str()) data-status=(event.status.as_str()) class=[(event.status == EventStatus::Skipped).then_some("skipped")] {
                            td data-label="Date" {
                                (event.date.format("%a %Y-%m-%d"))
                                @if let Some(pd) = event.protocol_date.filter(|pd| *pd != event.date) { br; span.muted { "protocol: " (pd) } }
                            }
                            td data-label="Day" { ((event.date - h.start_date).num_days()) }
                            td data-label="Event" {
                                (kind_label(event))
                                @if event.origin == clinic_domain::plan::EventOrigin::Added { " " span.badge { "added" } }
                                @for d in &event.deviations { br; span.warning { "Deviation: " (d) } }
                            }
                            td data-label="Dose" {
                                (dose_text(event))
                                @if event.kind == EventKind::Infusion && role_allows(principal.user.role, Permission::OrderRead) && state != PlanState::Draft {
                                    @match orders.iter().find(|o| o.plan_event_id == event.id && o.status != clinic_domain::order::OrderStatus::Cancelled) {
                                        Some(o) => { br; a href={ "/orders/" (o.id) } data-order-status=(o.status.as_str()) { "Order: " (o.status.as_str().replace('_', " ")) } }
                                        None => @if event.is_active() {
                                            br;
                                            @if role_allows(principal.user.role, Permission::OrderSign) { a href={ "/plan-events/" (event.id) "/order" } { "Order this infusion" } }
                                            @else { span.muted { "No order yet" } }
                                        },
                                    }
                                }
                            }
                            td data-label="What happened" {
                                @match by_event.get(&event.id) {
                                    Some(b) => {
                                        span class={ "badge status-" (b.booking.status.as_str()) } { (booking_word(b.booking.status)) }
                                        " " (b.booking.starts_at.with_timezone(&zone).format("%a %-d %b %H:%M"))
                                        @if let Some(r) = &b.resource_name { " · " (r) }
                                        @if let Some(c) = &b.clinician_name { " · " (c) }
                                        @if let Some(reason) = &b.booking.reason { br; span.muted { (reason) } }
                                    }
                                    None => {
                                        span class=(class) { (what) }
                                        @if event.is_active() && event.kind != EventKind::Inpatient && site_closed(event.date) {
                                            br; span.warning data-testid="site-closed" { "The site is closed that day: move it" }
                                        }
                                    },
                                }
                            }
                            @if can_manage || can_book {
                                td data-label="Change" {
                                    @if can_manage { (event_controls(principal, plan, event)) }
                                    (crate::pages::schedule::event_booking_controls(principal, event, by_event.get(&event.id).copied(), zone, state == PlanState::Signed, now))
                                }
                            }
                        }
                    }
                }
            }
            @if can_manage {
                details #add-event {
                    summary { "Add an event" }
                    form method="post" action={ "/plans/" (h.id) "/edits" } {
                        (csrf_input(principal))
                        input type="hidden" name="version" value=(h.version);
                        input type="hidden" name="action" value="add";
                        label for="add-kind" { "Kind" }
                        select id="add-kind" name="kind" {
                            @for kind in EventKind::ALL { option value=(kind.as_str()) { (kind.as_str().replace('_', " ")) } }
                        }
                        label for="add-date" { "Date" }
                        input id="add-date" name="date" type="date" required;
                        fieldset {
                            legend { "For an infusion: dose and length" }
                            label for="add-dose" { "mg/kg" }
                            input id="add-dose" name="dose_mg_per_kg" inputmode="decimal";
                            label for="add-minutes" { "minutes" }
                            input id="add-minutes" name="minutes" inputmode="numeric";
                        }
                        label for="add-instrument" { "For an assessment: instrument id" }
                        input id="add-instrument" name="instrument";
                        label for="add-reason" { "Reason" }
                        input id="add-reason" name="reason" required;
                        div.actions { button type="submit" { "Add" } }
                    }
                }
                details #end-plan {
                    summary { "End this plan" }
                    form method="post" action={ "/plans/" (h.id) "/end" } {
                        (csrf_input(principal))
                        input type="hidden" name="version" value=(h.version);
                        label for="end-reason" { "Reason (course complete, withdrew, replaced by another plan …)" }
                        input id="end-reason" name="reason" required;
                        div.actions { button.secondary type="submit" { "End the plan" } }
                    }
                }
            }
            h3 { "History" }
            table.stack.plan-history {
                thead { tr { th { "When" } th { "Version" } th { "Change" } th { "Why" } } }
                tbody {
                    @for change in &history {
                        tr data-action=(change.action.as_str()) {
                            td data-label="When" { (site_time(change.changed_at, time_zone)) }
                            td data-label="Version" { (change.version) }
                            td data-label="Change" {
                                (change.summary)
                                @for d in &change.deviations { br; span.warning { "Deviation acknowledged: " (d) } }
                            }
                            td data-label="Why" { (change.reason.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

fn event_controls(principal: &Principal, plan: &Plan, event: &PlanEvent) -> Markup {
    let h = &plan.header;
    if h.state() == PlanState::Ended
        || matches!(
            event.status,
            EventStatus::Booked | EventStatus::Completed | EventStatus::NoShow
        )
    {
        return html! {};
    }
    let form = |action: &str, inner: Markup| {
        html! {
            form method="post" action={ "/plans/" (h.id) "/edits" } {
                (csrf_input(principal))
                input type="hidden" name="version" value=(h.version);
                input type="hidden" name="event_id" value=(event.id);
                input type="hidden" name="action" value=(action);
                (inner)
            }
        }
    };
    let id = event.id;
    html! {
        details.event-change {
            summary { "Change" }
            @if event.status == EventStatus::Skipped {
                (form("restore", html! {
                    label for={ "restore-reason-" (id) } { "Reason" }
                    input id={ "restore-reason-" (id) } name="reason" required;
                    button type="submit" { "Restore" }
                }))
            } @else {
                (form("move", html! {
                    label for={ "move-date-" (id) } { "Move to" }
                    input id={ "move-date-" (id) } name="date" type="date" value=(event.date) required;
                    label for={ "move-reason-" (id) } { "Reason" }
                    input id={ "move-reason-" (id) } name="reason" required;
                    button type="submit" { "Move" }
                }))
                @if event.kind == EventKind::Infusion {
                    (form("dose", html! {
                        @for (idx, phase) in event.phases.iter().enumerate() {
                            fieldset {
                                legend { "Phase " (idx + 1) }
                                label for={ "dose-" (id) "-" (idx) } { "mg/kg" }
                                input id={ "dose-" (id) "-" (idx) } name="dose_mg_per_kg" value=(phase.dose_mg_per_kg) inputmode="decimal" required;
                                label for={ "minutes-" (id) "-" (idx) } { "minutes" }
                                input id={ "minutes-" (id) "-" (idx) } name="minutes" value=(phase.minutes) inputmode="numeric" required;
                            }
                        }
                        label for={ "dose-reason-" (id) } { "Reason" }
                        input id={ "dose-reason-" (id) } name="reason" required;
                        button type="submit" { "Change dose" }
                    }))
                }
                (form("skip", html! {
                    label for={ "skip-reason-" (id) } { "Reason" }
                    input id={ "skip-reason-" (id) } name="reason" required;
                    button.secondary type="submit" { "Skip" }
                }))
            }
        }
    }
}

pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(patient_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound {
            resource: "patient",
        });
    };
    let p = form_pairs(&raw);
    let input = NewPlanInput {
        protocol_id: form_field(&p, "protocol_id"),
        start_date: form_field(&p, "start_date"),
    };
    match app.clinic.create_plan(&principal, patient_id, &input).await {
        Ok(_) => Redirect::to(&format!("/patients/{patient_id}?tab=plan")).into_response(),
        Err(err) => refused("The plan was not made", err),
    }
}

fn refused(title: &str, err: ServiceError) -> Response {
    match err {
        ServiceError::Invalid(errors) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            title,
            &errors
                .0
                .iter()
                .map(|e| format!("{}: {}", e.field.replace('_', " "), e.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ServiceError::Conflict { message, .. } => error_page(StatusCode::CONFLICT, title, &message),
        ServiceError::StaleVersion { .. } => error_page(
            StatusCode::CONFLICT,
            title,
            "Someone changed this plan since you opened it. Go back, reload, and make the change again.",
        ),
        other => failure(other),
    }
}

async fn chart_link<S: Store>(app: &AppState<S>, plan_id: Uuid) -> String {
    match app.clinic.store().get_plan(plan_id).await {
        Ok(plan) => format!("/patients/{}?tab=plan", plan.header.patient_id),
        Err(_) => "/patients".into(),
    }
}

pub async fn edit<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(plan_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "plan" });
    };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let doses: Vec<&String> = p
        .iter()
        .filter(|(k, _)| k == "dose_mg_per_kg")
        .map(|(_, v)| v)
        .collect();
    let minutes: Vec<&String> = p
        .iter()
        .filter(|(k, _)| k == "minutes")
        .map(|(_, v)| v)
        .collect();
    let phases = doses
        .iter()
        .zip(minutes.iter())
        .map(|(d, m)| PhaseInput {
            dose_mg_per_kg: Some((*d).clone()),
            minutes: Some((*m).clone()),
        })
        .collect();
    let input = EditInput {
        action: form_field(&p, "action"),
        event_id: form_field(&p, "event_id"),
        date: form_field(&p, "date"),
        kind: form_field(&p, "kind"),
        phases,
        modality: form_field(&p, "modality"),
        instrument: form_field(&p, "instrument"),
        reason: form_field(&p, "reason"),
        acknowledge_deviation: form_field(&p, "acknowledge_deviation").is_some(),
    };
    let back = chart_link(&app, plan_id).await;
    match app
        .clinic
        .edit_plan(&principal, plan_id, version, &input)
        .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(ServiceError::Invalid(errors))
            if errors.0.len() == 1 && errors.0[0].field == "acknowledge_deviation" =>
        {
            confirm_deviation(&app, &principal, &p, &errors.0[0].message, &back).await
        }
        Err(err) => refused("The plan was not changed", err),
    }
}

/// Asks the physician to acknowledge a deviation: the same change again, with
/// the acknowledgement, or back to the plan.
async fn confirm_deviation<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    pairs: &[(String, String)],
    message: &str,
    back: &str,
) -> Response {
    let site_name = app
        .clinic
        .main_site()
        .await
        .map(|s| s.name)
        .unwrap_or_default();
    let action = pairs
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let target = back.to_string();
    let body = html! {
        section.card role="alert" #deviation {
            h1 { "This change leaves the protocol" }
            p.warning { (message.trim_start_matches("this change deviates from the protocol; acknowledge to go ahead: ")) }
            p { "Change: " strong { (action) } ". Reason given: " em { (pairs.iter().find(|(k, _)| k == "reason").map(|(_, v)| v.as_str()).unwrap_or("")) } }
            form method="post" {
                @for (k, v) in pairs.iter().filter(|(k, _)| k != "acknowledge_deviation" && k != CSRF_FIELD) {
                    input type="hidden" name=(k) value=(v);
                }
                (csrf_input(principal))
                label {
                    input type="checkbox" name="acknowledge_deviation" value="yes" required;
                    " I acknowledge this deviation from the protocol and take responsibility for it"
                }
                div.actions {
                    button type="submit" { "Save with the deviation" }
                    " "
                    a href=(target) { "Cancel" }
                }
            }
        }
    };
    let mut res = staff_page(
        principal,
        &site_name,
        "Acknowledge a deviation",
        Nav::Patients,
        body,
    );
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    res
}

pub async fn sign<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(plan_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "plan" });
    };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match app.clinic.sign_plan(&principal, plan_id, version).await {
        Ok(plan) => {
            Redirect::to(&format!("/patients/{}?tab=plan", plan.header.patient_id)).into_response()
        }
        Err(err) => refused("The plan was not signed", err),
    }
}

pub async fn end<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(plan_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "plan" });
    };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match app
        .clinic
        .end_plan(
            &principal,
            plan_id,
            version,
            &form_field(&p, "reason").unwrap_or_default(),
        )
        .await
    {
        Ok(plan) => {
            Redirect::to(&format!("/patients/{}?tab=plan", plan.header.patient_id)).into_response()
        }
        Err(err) => refused("The plan was not ended", err),
    }
}
