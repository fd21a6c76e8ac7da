//! The infusion order pages: the physician's order form (prefilled from the
//! signed plan and the last screening weight), the order with its exact
//! arithmetic per phase, any rounding shown beside it, the predicted curve,
//! and the independent double check, whose form never shows the ordered
//! weight or dose.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use clinic_domain::authz::{Permission, role_allows};
use clinic_domain::field::FieldError;
use clinic_domain::order::{OrderInput, OrderStatus};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::orders::{OrderContext, OrderView};
use clinic_store::Store;
use maud::html;
use uuid::Uuid;

use crate::AppState;
use crate::pages::csrf_input;
use crate::pages::{Nav, error_page, failure, form_field, form_pairs, site_time, staff_page};

fn status_words(status: OrderStatus) -> (&'static str, &'static str) {
    match status {
        OrderStatus::AwaitingCheck => (
            "Awaiting the independent double check: the infusion may not start yet",
            "warning",
        ),
        OrderStatus::Verified => ("Double-checked: entries match the order", "ok"),
        OrderStatus::CheckFailed => (
            "Double check did not match: the infusion may not start until a matching check",
            "error",
        ),
        OrderStatus::Cancelled => ("Cancelled", "muted"),
    }
}

async fn site_name<S: Store>(app: &AppState<S>) -> (String, String) {
    match app.clinic.main_site().await {
        Ok(site) => (site.name, site.time_zone),
        Err(_) => (String::new(), "UTC".into()),
    }
}

/// The order of a planned infusion: its live order, or the form to sign one.
pub async fn for_event<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let Ok(event_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound {
            resource: "plan event",
        });
    };
    let context = match app.clinic.order_context(&principal, event_id).await {
        Ok(c) => c,
        Err(err) => return failure(err),
    };
    let orders = match app
        .clinic
        .patient_orders(&principal, context.patient_id)
        .await
    {
        Ok(o) => o,
        Err(err) => return failure(err),
    };
    if let Some(live) = orders
        .iter()
        .find(|o| o.plan_event_id == event_id && o.status != OrderStatus::Cancelled)
    {
        return Redirect::to(&format!("/orders/{}", live.id)).into_response();
    }
    form_page(&app, &principal, &context, &[], &[], None).await
}

async fn form_page<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    c: &OrderContext,
    typed: &[(String, String)],
    errors: &[FieldError],
    warnings: Option<&str>,
) -> Response {
    let (site, _) = site_name(app).await;
    let patient = app.clinic.store().get_patient(c.patient_id).await.ok();
    let value = |name: &str| {
        typed
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let can_sign = role_allows(principal.user.role, Permission::OrderSign);
    let weight = value("weight_kg")
        .or_else(|| c.last_weight.as_ref().map(|w| w.0.clone()))
        .unwrap_or_default();
    let measured = value("weight_measured_on")
        .or_else(|| c.last_weight.as_ref().map(|w| w.1.to_string()))
        .unwrap_or_default();
    let typed_doses: Vec<String> = typed
        .iter()
        .filter(|(k, _)| k == "dose_mg_per_kg")
        .map(|(_, v)| v.clone())
        .collect();
    let typed_minutes: Vec<String> = typed
        .iter()
        .filter(|(k, _)| k == "minutes")
        .map(|(_, v)| v.clone())
        .collect();
    let error_for = |field: &str| {
        errors
            .iter()
            .filter(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let body = html! {
        h1 { "Order: ketamine infusion " (c.event.infusion_number.unwrap_or(1)) }
        @if let Some(p) = &patient {
            p { strong { (p.details.given_name) " " (p.details.family_name) } " · MRN " (p.mrn.as_str()) " · planned for " (c.event.date.format("%a %-d %b %Y")) " · protocol " (c.protocol_id) }
        }
        @if c.allergies.is_empty() {
            p.error role="alert" { "Allergies: none recorded. Ask the patient and record allergies (or none known) in the chart before the infusion." }
        } @else {
            p { strong { "Allergies: " } (c.allergies.join(", ")) }
        }
        @if !can_sign {
            section.card { p { "No order yet. The physician signs the order; you will then make the independent double check." } }
        } @else {
            @if !errors.is_empty() {
                div.notice.bad role="alert" { p { "The order was not signed:" } ul { @for e in errors { li { (e.field.replace('_', " ")) ": " (e.message) } } } }
            }
            @if let Some(w) = warnings {
                div.notice role="alert" #order-warnings { p { strong { "Check before signing: " } (w) } }
            }
            form.card method="post" action={ "/plan-events/" (c.event.id) "/order" } #order-form {
                (csrf_input(principal))
                fieldset {
                    legend { "Dosing weight (" (c.settings.weight_basis.as_str()) " body weight, clinic policy)" }
                    label for="weight_kg" { "Weight, kg" }
                    input id="weight_kg" name="weight_kg" inputmode="decimal" value=(weight) required aria-describedby="weight-help";
                    @let e = error_for("weight_kg"); @if !e.is_empty() { p.error { (e) } }
                    label for="weight_measured_on" { "Measured on" }
                    input id="weight_measured_on" name="weight_measured_on" type="date" value=(measured) required;
                    @let e = error_for("weight_measured_on"); @if !e.is_empty() { p.error { (e) } }
                    p.muted id="weight-help" { @match &c.last_weight { Some((kg, on)) => { "Last weight at screening: " (kg) " kg on " (on) "." } None => "No weight recorded at screening." } }
                }
                @for (i, phase) in c.event.phases.iter().enumerate() {
                    fieldset {
                        legend { "Phase " (i + 1) " (plan: " (phase.dose_mg_per_kg) " mg/kg over " (phase.minutes) " min)" }
                        label for={ "dose-" (i) } { "Dose, mg/kg" }
                        input id={ "dose-" (i) } name="dose_mg_per_kg" inputmode="decimal" value=(typed_doses.get(i).cloned().unwrap_or_else(|| phase.dose_mg_per_kg.to_string())) required;
                        label for={ "minutes-" (i) } { "Minutes" }
                        input id={ "minutes-" (i) } name="minutes" inputmode="numeric" value=(typed_minutes.get(i).cloned().unwrap_or_else(|| phase.minutes.to_string())) required;
                        @let e = error_for(&format!("phases[{i}]")); @if !e.is_empty() { p.error { (e) } }
                    }
                }
                fieldset {
                    legend { "Preparation" }
                    label for="stock" { "Stock strength" }
                    select id="stock" name="stock_mg_per_ml" {
                        @for s in ["10", "50", "100"] { option value=(s) selected[value("stock_mg_per_ml").as_deref().unwrap_or("10") == s] { (s) " mg/mL" } }
                    }
                    @let e = error_for("stock_mg_per_ml"); @if !e.is_empty() { p.error { (e) } }
                    label for="bag_ml" { "Bag of 0.9% NaCl, mL (empty: syringe, 10 or 50 mg/mL only)" }
                    input id="bag_ml" name="bag_ml" inputmode="numeric" value=(value("bag_ml").unwrap_or_else(|| "100".into()));
                    @let e = error_for("bag_ml"); @if !e.is_empty() { p.error { (e) } }
                    label { input type="checkbox" name="withdraw_from_bag" value="yes" checked[value("withdraw_from_bag").is_some()]; " Withdraw the stock's volume from the bag first" }
                }
                label for="override_reason" { "Reason, only if a value is outside the plausibility limits" }
                input id="override_reason" name="override_reason" value=(value("override_reason").unwrap_or_default());
                @if warnings.is_some() {
                    label { input type="checkbox" name="acknowledge_warnings" value="yes" required; " I have read the warnings above and order this dose" }
                }
                div.actions { button type="submit" { "Sign the order" } }
            }
        }
        p { a href={ "/patients/" (c.patient_id) "?tab=plan" } { "Back to the plan" } }
    };
    let status = if errors.is_empty() && warnings.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = staff_page(principal, &site, "Infusion order", Nav::Patients, body);
    *res.status_mut() = status;
    res
}

pub async fn sign<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(event_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound {
            resource: "plan event",
        });
    };
    let p = form_pairs(&raw);
    let doses: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "dose_mg_per_kg")
        .map(|(_, v)| v.clone())
        .collect();
    let minutes: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "minutes")
        .map(|(_, v)| v.clone())
        .collect();
    let input = OrderInput {
        weight_kg: form_field(&p, "weight_kg"),
        weight_measured_on: form_field(&p, "weight_measured_on"),
        phases: doses
            .iter()
            .zip(minutes.iter())
            .map(|(d, m)| (Some(d.clone()), Some(m.clone())))
            .collect(),
        stock_mg_per_ml: form_field(&p, "stock_mg_per_ml"),
        bag_ml: form_field(&p, "bag_ml"),
        withdraw_from_bag: form_field(&p, "withdraw_from_bag").is_some(),
        override_reason: form_field(&p, "override_reason"),
        acknowledge_warnings: form_field(&p, "acknowledge_warnings").is_some(),
    };
    match app.clinic.sign_order(&principal, event_id, &input).await {
        Ok(view) => Redirect::to(&format!("/orders/{}", view.order.id)).into_response(),
        Err(ServiceError::Invalid(errors)) => {
            let context = match app.clinic.order_context(&principal, event_id).await {
                Ok(c) => c,
                Err(err) => return failure(err),
            };
            match errors.0.iter().find(|e| e.field == "acknowledge_warnings") {
                Some(w) => {
                    let text = w
                        .message
                        .trim_start_matches("acknowledge before signing: ")
                        .to_string();
                    form_page(&app, &principal, &context, &p, &[], Some(&text)).await
                }
                None => form_page(&app, &principal, &context, &p, &errors.0, None).await,
            }
        }
        Err(ServiceError::Conflict { message, .. }) => {
            error_page(StatusCode::CONFLICT, "The order was not signed", &message)
        }
        Err(err) => failure(err),
    }
}

/// The order page.
pub async fn show<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let Ok(order_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "order" });
    };
    match app.clinic.get_order(&principal, order_id).await {
        Ok(view) => order_page(&app, &principal, &view, &[]).await,
        Err(err) => failure(err),
    }
}

async fn order_page<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    v: &OrderView,
    errors: &[FieldError],
) -> Response {
    let (site, zone) = site_name(app).await;
    let o = &v.order;
    let c = &v.calc;
    let patient = app.clinic.store().get_patient(o.patient_id).await.ok();
    let users = app.clinic.store().list_users().await.unwrap_or_default();
    let name = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.display_name.clone())
            .unwrap_or_else(|| "unknown".into())
    };
    let (words, class) = status_words(o.status);
    // The checker works blind: nothing of the order is shown until a check matches.
    let may_check = v.blind_for(principal);
    let blind = may_check;
    let phases: Vec<(f64, f64)> = c
        .phases
        .iter()
        .filter_map(|p| {
            Some((
                p.dose_mg_per_kg.to_decimal().parse().ok()?,
                p.minutes.to_decimal().parse().ok()?,
            ))
        })
        .collect();
    let weight: f64 = c.weight_kg.to_decimal().parse().unwrap_or(0.0);
    let prediction = crate::pages::pk_chart::predict(weight, &phases);
    let body = html! {
        h1 { "Order: ketamine infusion " (v.event.infusion_number.unwrap_or(1)) }
        @if let Some(p) = &patient {
            p { a href={ "/patients/" (p.id) "?tab=plan" } { (p.details.given_name) " " (p.details.family_name) } " · MRN " (p.mrn.as_str()) " · planned for " (v.event.date.format("%a %-d %b %Y")) }
        }
        p class={ "order-status " (class) } data-testid="order-status" data-status=(o.status.as_str()) { (words) }
        @if let Some(p) = &patient {
            @if p.details.allergies.is_empty() { p.error { "Allergies: none recorded. Ask the patient and record them in the chart before the infusion." } }
            @else { p { strong { "Allergies: " } (p.details.allergies.iter().map(|a| match &a.reaction { Some(r) => format!("{} ({r})", a.substance), None => a.substance.clone() }).collect::<Vec<_>>().join(", ")) } }
        }
        @if blind {
            section.card #blind {
                h2 { "Signed order" }
                p { "The ordered weight and dose are hidden from you until your entries match: this is an independent double check. Weigh or read the weight yourself and work out each phase's mg/kg from the signed plan." }
            }
        } @else {
        section.card {
            h2 { "Signed order" }
            p { "Signed by " (name(o.ordered_by)) " on " (site_time(o.signed_at, &zone)) " · dosing weight " strong { (o.weight_kg) " kg" } " (" (o.weight_basis.as_str()) ", measured " (o.weight_measured_on) ")" }
            table.stack.order-phases {
                caption { "Per phase (exact)" }
                thead { tr { th { "Phase" } th { "mg/kg" } th { "Minutes" } th { "Dose, mg" } th { "Volume, mL" } th { "Pump, mL/h" } th { "mg/min" } @if c.phases.iter().any(|p| p.pump.is_some()) { th { "Pump setting" } } } }
                tbody {
                    @for (i, p) in c.phases.iter().enumerate() {
                        tr {
                            td data-label="Phase" { (i + 1) }
                            td data-label="mg/kg" { (crate::pages::figure(p.dose_mg_per_kg, 3)) }
                            td data-label="Minutes" { (crate::pages::figure(p.minutes, 3)) }
                            td data-label="Dose, mg" { strong { (crate::pages::figure(p.dose_mg, 3)) } }
                            td data-label="Volume, mL" { (crate::pages::figure(p.volume_ml, 3)) }
                            td data-label="Pump, mL/h" { strong data-testid="rate" { (crate::pages::figure(p.rate_ml_per_h, 3)) } }
                            td data-label="mg/min" { (crate::pages::figure(p.mg_per_min, 3)) }
                            @if let Some(r) = p.pump {
                                td data-label="Pump setting" { (crate::pages::figure(r.setting, 3)) " mL/h delivers " (crate::pages::figure(r.delivers_mg, 3)) " mg (" (crate::pages::figure(r.difference_mg, 3)) " mg against the order)" }
                            }
                        }
                    }
                }
            }
            table.compact {
                caption { "Preparation" }
                tr { th { "Total dose" } td { strong data-testid="dose-mg" { (crate::pages::figure(c.total.dose_mg, 3)) " mg" } } }
                tr { th { "Stock" } td { (crate::pages::figure(c.total.stock_mg_per_ml, 3)) " mg/mL: draw " strong { (crate::pages::figure(c.total.stock_volume_ml, 3)) " mL" }
                    @if let Some(d) = c.stock_draw { " (drawn with the syringe: " (crate::pages::figure(d.setting, 3)) " mL = " (crate::pages::figure(d.delivers_mg, 3)) " mg, " (crate::pages::figure(d.difference_mg, 3)) " mg against the order)" } } }
                tr { th { "Diluent" } td { @match c.total.bag_ml { Some(b) => { (crate::pages::figure(b, 3)) " mL 0.9% NaCl" @if c.total.withdraw_from_bag { ", the stock's volume withdrawn first" } } None => "none: from a syringe" } } }
                tr { th { "Total volume" } td { (crate::pages::figure(c.total.total_volume_ml, 3)) " mL at " (crate::pages::figure(c.total.final_mg_per_ml, 3)) " mg/mL" } }
            }
            @if let Some(note) = &c.rounding_note { p.muted { "Rounding: " (note) "." } }
            @if !o.warnings.is_empty() {
                ul.warnings { @for w in &o.warnings { li.warning { (w) } } }
            }
        }
        section.card {
            h2 { "Predicted concentration" }
            @match &prediction {
                Some(p) => (crate::pages::pk_chart::chart(p)),
                None => p.muted { "No prediction for this order." },
            }
        }
        }
        section.card #double-check {
            h2 { "Independent double check" }
            @if v.checks.is_empty() { p { "No check yet." } }
            @else {
                table.stack {
                    thead { tr { th { "When" } th { "By" } th { "Result" } } }
                    tbody {
                        @for ch in &v.checks {
                            tr data-matches=(ch.matches) {
                                td data-label="When" { (site_time(ch.checked_at, &zone)) }
                                td data-label="By" { (name(ch.checked_by)) }
                                td data-label="Result" { @if ch.matches { span.ok { "Match" } } @else { span.error { "Mismatch: " } (ch.differences.join("; ")) } }
                            }
                        }
                    }
                }
            }
            @if may_check {
                @if !errors.is_empty() { div.notice.bad role="alert" { ul { @for e in errors { li { (e.field.replace('_', " ")) ": " (e.message) } } } } }
                p { "Enter the weight and each phase's mg/kg as you found them." }
                form method="post" action={ "/orders/" (o.id) "/checks" } #check-form {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(o.version);
                    label for="check-weight" { "Weight, kg" }
                    input id="check-weight" name="weight_kg" inputmode="decimal" autocomplete="off" required;
                    @for i in 0..o.phases.len() {
                        label for={ "check-dose-" (i) } { "Phase " (i + 1) " dose, mg/kg" }
                        input id={ "check-dose-" (i) } name="dose_mg_per_kg" inputmode="decimal" autocomplete="off" required;
                    }
                    div.actions { button type="submit" { "Record the double check" } }
                }
            } @else if matches!(o.status, OrderStatus::AwaitingCheck | OrderStatus::CheckFailed) && principal.user.id == o.ordered_by {
                p.muted { "A second clinician (nurse or physician) makes the check." }
            }
        }
        @if role_allows(principal.user.role, Permission::OrderSign) && o.status != OrderStatus::Cancelled {
            details {
                summary { "Cancel this order" }
                form method="post" action={ "/orders/" (o.id) "/cancel" } {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(o.version);
                    label for="cancel-reason" { "Reason" }
                    input id="cancel-reason" name="reason" required;
                    button.secondary type="submit" { "Cancel the order" }
                }
            }
        }
        @if o.status == OrderStatus::Cancelled {
            p.muted { "Cancelled by " (o.cancelled_by.map(name).unwrap_or_default()) ": " (o.cancel_reason.clone().unwrap_or_default()) }
        }
    };
    let mut res = staff_page(principal, &site, "Infusion order", Nav::Patients, body);
    if !errors.is_empty() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

pub async fn check<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(order_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "order" });
    };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let doses: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "dose_mg_per_kg")
        .map(|(_, v)| v.clone())
        .collect();
    match app
        .clinic
        .check_order(
            &principal,
            order_id,
            version,
            &form_field(&p, "weight_kg").unwrap_or_default(),
            &doses,
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/orders/{order_id}")).into_response(),
        Err(ServiceError::Invalid(errors)) => {
            match app.clinic.get_order(&principal, order_id).await {
                Ok(view) => order_page(&app, &principal, &view, &errors.0).await,
                Err(err) => failure(err),
            }
        }
        Err(ServiceError::Conflict { message, .. }) => {
            error_page(StatusCode::CONFLICT, "The check was not recorded", &message)
        }
        Err(ServiceError::StaleVersion { .. }) => error_page(
            StatusCode::CONFLICT,
            "The check was not recorded",
            "The order changed since you opened it. Go back and reload.",
        ),
        Err(err) => failure(err),
    }
}

pub async fn cancel<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(order_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "order" });
    };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    match app
        .clinic
        .cancel_order(
            &principal,
            order_id,
            version,
            form_field(&p, "reason").as_deref(),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/orders/{order_id}")).into_response(),
        Err(ServiceError::Invalid(errors)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not cancelled",
            &errors.to_string(),
        ),
        Err(ServiceError::StaleVersion { .. }) => error_page(
            StatusCode::CONFLICT,
            "Not cancelled",
            "The order changed since you opened it. Go back and reload.",
        ),
        Err(err) => failure(err),
    }
}
