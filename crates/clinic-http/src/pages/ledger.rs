//! The controlled-substance ledger at the cabinet: open discrepancy alerts
//! first, then every lot with its vials (what is left, discard-by dates),
//! the forms to receive, count, destroy, record a loss or correct an entry
//! (witnessed ones ask the witness for their own password), the entries
//! newest first, and the reports as CSV. The chair-side part (withdraw,
//! administration from the pump record, witnessed waste) is on the session.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use clinic_domain::dose::Exact;
use clinic_domain::ledger::Drug;
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::ledger::{LedgerRequest, ShelfLot, SiteLedger};
use clinic_store::Store;
use clinic_store::ledger::LedgerEntryRecord;
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::pages::{Nav, csrf_input, csv_response, failure, figure, form_field, form_pairs, problem_text, site_time, staff_page};

#[derive(Debug, Deserialize)]
pub struct SiteQuery {
    pub site: Option<String>,
    pub as_of: Option<String>,
    pub count: Option<String>,
}

/// A ledger request from a form's fields (the names are the API's).
pub(crate) fn ledger_request(p: &[(String, String)]) -> LedgerRequest {
    let f = |n: &str| form_field(p, n);
    LedgerRequest {
        entry_type: f("type"),
        lot_id: f("lot_id"),
        session_id: f("session_id"),
        container: f("container"),
        volume_ml: f("volume_ml"),
        drug: f("drug"),
        dosage_form: f("dosage_form"),
        mg_per_ml: f("mg_per_ml"),
        container_ml: f("container_ml"),
        containers: f("containers"),
        lot_number: f("lot_number"),
        expires_on: f("expires_on"),
        supplier: f("supplier"),
        invoice_number: f("invoice_number"),
        maker_discard_after_opening_days: f("maker_discard_after_opening_days"),
        medication_entry_id: f("medication_entry_id"),
        method: f("method"),
        reference: f("reference"),
        count_id: f("count_id"),
        counted_ml: f("counted_ml"),
        estimated: Some(f("estimated").is_some()),
        corrects: f("corrects"),
        reason: f("reason"),
        witness_username: f("witness_username"),
        // A password is never trimmed or dropped when blank-looking.
        witness_password: p.iter().find(|(k, _)| k == "witness_password").map(|(_, v)| v.clone()),
    }
}

/// The witness's own username and password, for a witnessed entry.
pub(crate) fn witness_fields(prefix: &str) -> Markup {
    html! {
        fieldset.witness {
            legend { "Witness (a second nurse or physician signs with their own password)" }
            label for={ (prefix) "-witness-user" } { "Witness username" }
            input id={ (prefix) "-witness-user" } name="witness_username" autocomplete="off" required;
            label for={ (prefix) "-witness-password" } { "Witness password" }
            input id={ (prefix) "-witness-password" } name="witness_password" type="password" autocomplete="off" required;
        }
    }
}

/// Amount in mL and mg of a lot's stock.
pub(crate) fn amount(ml: Exact, mg_per_ml: Exact) -> Markup {
    html! { (figure(ml, 4)) " mL (" (figure(ml.times(mg_per_ml), 2)) " mg)" }
}

/// The words of one stored entry: what moved, how much, and the reference.
pub(crate) fn entry_words(e: &LedgerEntryRecord, shelf: &[ShelfLot], seq_of: &dyn Fn(Uuid) -> Option<i64>) -> Markup {
    let body: serde_json::Value = serde_json::from_str(&e.body).unwrap_or_default();
    let d = &body["detail"];
    let lot = shelf.iter().find(|l| l.id == e.lot_id);
    let strength = lot.map_or(Exact::integer(0), |l| l.mg_per_ml);
    let vol = |k: &str| d[k].as_str().and_then(Exact::parse);
    html! {
        strong { (e.entry_type) }
        " · " (lot.map_or_else(|| e.lot_id.to_string(), ShelfLot::label))
        @if e.entry_type == "received" {
            " · " (d["containers"].as_u64().unwrap_or(0)) " × " (d["container_ml"].as_str().unwrap_or("")) " mL, expires " (d["expires_on"].as_str().unwrap_or(""))
            " · " (d["supplier"].as_str().unwrap_or("")) ", invoice " (d["invoice_number"].as_str().unwrap_or(""))
        }
        @if let Some(v) = vol("volume_ml") { " · " (amount(v, strength)) }
        @if let Some(v) = vol("counted_ml") { " · counted " (amount(v, strength)) @if d["estimated"].as_bool() == Some(true) { " (estimated)" } }
        @if let Some(c) = d["container"].as_u64() { " · vial " (c) }
        @if let Some(m) = d["method"].as_str() { " · " (m.replace('_', " ")) }
        @if let Some(r) = d["reference"].as_str() { " · ref. " (r) }
        @if let Some(c) = d["corrects"].as_str().and_then(|t| Uuid::parse_str(t).ok()) {
            " · corrects entry #" (seq_of(c).map_or_else(|| c.to_string(), |n| n.to_string())) ": " (d["reason"].as_str().unwrap_or(""))
        }
        @if let Some(c) = d["count"].as_str().and_then(|t| Uuid::parse_str(t).ok()) {
            " · against count #" (seq_of(c).map_or_else(|| c.to_string(), |n| n.to_string()))
        }
    }
}

async fn site_of<S: Store>(app: &AppState<S>, site: Option<&str>) -> Result<clinic_store::records::Site, ServiceError> {
    match site.and_then(|s| Uuid::try_parse(s).ok()) {
        Some(id) => app.clinic.store().list_sites().await?.into_iter().find(|s| s.id == id).ok_or(ServiceError::NotFound { resource: "site" }),
        None => app.clinic.main_site().await,
    }
}

/// The site's ledger.
pub async fn show<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Query(q): Query<SiteQuery>) -> Response {
    let site = match site_of(&app, q.site.as_deref()).await {
        Ok(s) => s,
        Err(err) => return failure(err),
    };
    match app.clinic.site_ledger(&principal, site.id).await {
        Ok(view) => ledger_page(&app, &principal, &view, None).await,
        Err(err) => failure(err),
    }
}

async fn ledger_page<S: Store>(app: &AppState<S>, principal: &Principal, view: &SiteLedger, problem: Option<String>) -> Response {
    let site = &view.site;
    let zone = site.time_zone.clone();
    let shelf = view.shelf();
    let users = app.clinic.store().list_users().await.unwrap_or_default();
    let who = |id: Option<Uuid>| id.and_then(|id| users.iter().find(|u| u.id == id)).map(|u| u.display_name.clone()).unwrap_or_default();
    let seq_of = |id: Uuid| view.records.iter().find(|r| r.id == id).map(|r| r.seq);
    let open: Vec<_> = view.discrepancies.iter().filter(|d| d.closed_at.is_none()).collect();
    let live: Vec<&ShelfLot> = shelf.iter().filter(|l| !l.voided).collect();
    let counts: Vec<&LedgerEntryRecord> = view.records.iter().filter(|r| r.entry_type == "count").collect();
    let site_q = format!("site={}", site.id);
    let body = html! {
        h1 { "Controlled-substance ledger" }
        p.muted { "Ketamine (Schedule III) and midazolam (Schedule IV) at " (site.name) ". Entries are never edited: a mistake is corrected by a new entry with a reason (21 CFR 1304; clinical.md §6)." }
        @if let Some(problem) = &problem { div.notice.bad role="alert" #problem { p { (problem) } } }
        @for d in &open {
            section.card.alert-open role="alert" data-testid="discrepancy" {
                h2 { "Count discrepancy" }
                p { (d.message) }
                p.muted { "Raised " (site_time(d.raised_at, &zone)) " · sent to " (d.routed_to) }
                p { a href={ "/ledger/reports/loss.csv?" (site_q) "&count=" (d.count_entry_id) } { "Theft-or-loss report draft (CSV)" } }
                form method="post" action={ "/ledger/discrepancies/" (d.id) "/close" } {
                    (csrf_input(principal))
                    input type="hidden" name="version" value=(d.version);
                    label for={ "disc-" (d.id) } { "What was done" }
                    input id={ "disc-" (d.id) } name="response" required;
                    button type="submit" { "Close the discrepancy" }
                }
            }
        }
        section.card #balances {
            h2 { "On hand" }
            @for drug in [Drug::Ketamine, Drug::Midazolam] {
                @let q = view.ledger.site_balance(site.id, drug);
                p data-testid={ "site-balance-" (drug.as_str()) } { strong { (drug.as_str()) } ": " (figure(q.ml, 4)) " mL = " (figure(q.mg, 2)) " mg on the shelf" }
            }
            table.stack {
                thead { tr { th { "Lot" } th { "Expires" } th { "Vials" } th { "On the shelf" } } }
                tbody {
                    @for l in &live {
                        tr data-testid="lot" {
                            td data-label="Lot" { (l.label()) }
                            td data-label="Expires" { (l.expires_on) }
                            td data-label="Vials" {
                                @for c in &l.containers {
                                    span.vial { "#" (c.number) ": " (figure(c.remaining_ml, 4)) " mL"
                                        @if let Some(by) = c.discard_by { " (opened, discard by " (by) ")" } @else if c.opened { " (opened)" } }
                                    " "
                                }
                            }
                            td data-label="On the shelf" { (amount(l.on_hand_ml, l.mg_per_ml)) }
                        }
                    }
                }
            }
        }
        section.card #reports {
            h2 { "Reports (CSV)" }
            ul {
                li { a href={ "/ledger/reports/administration.csv?" (site_q) } { "Administration log" } " — drug, strength, mg and mL, date, patient name and address, who administered (21 CFR 1304.22(c))" }
                li {
                    form.inline method="get" action="/ledger/reports/inventory.csv" {
                        input type="hidden" name="site" value=(site.id);
                        label for="as-of" { "Inventory as of (the biennial inventory, 21 CFR 1304.11)" }
                        input id="as-of" name="as_of" type="date";
                        button.secondary type="submit" { "Download" }
                    }
                }
            }
        }
        details.card #count {
            summary { "Count a lot" }
            p.muted { "Count what is on the shelf (not drug drawn for a session). An estimate is allowed only for opened Schedule III vials (21 CFR 1304.11)." }
            form method="post" action="/ledger/entries" {
                (csrf_input(principal))
                input type="hidden" name="site" value=(site.id);
                input type="hidden" name="type" value="count";
                label for="count-lot" { "Lot" }
                select id="count-lot" name="lot_id" required { @for l in &live { option value=(l.id) { (l.label()) } } }
                label for="count-ml" { "Counted, mL of stock" }
                input id="count-ml" name="counted_ml" inputmode="decimal" required;
                label { input type="checkbox" name="estimated" value="yes"; " Estimated measure (opened vial)" }
                (witness_fields("count"))
                button type="submit" { "Record the count" }
            }
        }
        details.card #receive {
            summary { "Receive a delivery" }
            form method="post" action="/ledger/entries" {
                (csrf_input(principal))
                input type="hidden" name="site" value=(site.id);
                input type="hidden" name="type" value="received";
                label for="rcv-drug" { "Drug" }
                select id="rcv-drug" name="drug" { option value="ketamine" { "ketamine (Schedule III)" } option value="midazolam" { "midazolam (Schedule IV)" } }
                label for="rcv-form" { "Dosage form" } input id="rcv-form" name="dosage_form" value="injection" required;
                label for="rcv-strength" { "Strength, mg/mL" } input id="rcv-strength" name="mg_per_ml" inputmode="decimal" required;
                label for="rcv-vial" { "Volume of one vial, mL" } input id="rcv-vial" name="container_ml" inputmode="decimal" required;
                label for="rcv-count" { "Number of vials" } input id="rcv-count" name="containers" inputmode="numeric" required;
                label for="rcv-lot" { "Lot number" } input id="rcv-lot" name="lot_number" required;
                label for="rcv-exp" { "Expires" } input id="rcv-exp" name="expires_on" type="date" required;
                label for="rcv-supplier" { "Supplier (name, address, DEA number)" } input id="rcv-supplier" name="supplier" required;
                label for="rcv-invoice" { "Invoice or packing record" } input id="rcv-invoice" name="invoice_number" required;
                label for="rcv-maker" { "Maker's in-use period after opening, days (if the label gives one)" } input id="rcv-maker" name="maker_discard_after_opening_days" inputmode="numeric";
                button type="submit" { "Record the receipt" }
            }
        }
        details.card #destroy {
            summary { "Destroy expired or damaged stock" }
            form method="post" action="/ledger/entries" {
                (csrf_input(principal))
                input type="hidden" name="site" value=(site.id);
                input type="hidden" name="type" value="destroyed";
                label for="dst-lot" { "Lot" }
                select id="dst-lot" name="lot_id" required { @for l in &live { option value=(l.id) { (l.label()) } } }
                label for="dst-vial" { "Vial number" } input id="dst-vial" name="container" inputmode="numeric" required;
                label for="dst-ml" { "Volume, mL" } input id="dst-ml" name="volume_ml" inputmode="decimal" required;
                label for="dst-method" { "Method" }
                select id="dst-method" name="method" { option value="reverse_distributor" { "reverse distributor" } option value="dea_form_41" { "destroyed on DEA Form 41" } }
                label for="dst-ref" { "Reference (form or transfer record)" } input id="dst-ref" name="reference";
                (witness_fields("destroy"))
                button type="submit" { "Record the destruction" }
            }
        }
        @if !counts.is_empty() {
            details.card #lost {
                summary { "Record drug lost (against a count that found it missing)" }
                form method="post" action="/ledger/entries" {
                    (csrf_input(principal))
                    input type="hidden" name="site" value=(site.id);
                    input type="hidden" name="type" value="lost";
                    label for="lost-count" { "Count" }
                    select id="lost-count" name="count_id" required { @for c in counts.iter().rev() { option value=(c.id) { "#" (c.seq) " · " (site_time(c.at, &zone)) } } }
                    label for="lost-lot" { "Lot" }
                    select id="lost-lot" name="lot_id" required { @for l in &live { option value=(l.id) { (l.label()) } } }
                    label for="lost-vial" { "Vial number" } input id="lost-vial" name="container" inputmode="numeric" required;
                    label for="lost-ml" { "Volume, mL" } input id="lost-ml" name="volume_ml" inputmode="decimal" required;
                    (witness_fields("lost"))
                    button type="submit" { "Record the loss" }
                }
            }
        }
        details.card #correct {
            summary { "Correct an entry" }
            p.muted { "The wrong entry stays; the correction reverses it. Record the right entry again after." }
            form method="post" action="/ledger/entries" {
                (csrf_input(principal))
                input type="hidden" name="site" value=(site.id);
                input type="hidden" name="type" value="correction";
                label for="cor-entry" { "Entry" }
                select id="cor-entry" name="corrects" required {
                    @for r in view.records.iter().rev().filter(|r| r.entry_type != "correction") { option value=(r.id) data-lot=(r.lot_id) { "#" (r.seq) " " (r.entry_type) " · " (site_time(r.at, &zone)) } }
                }
                label for="cor-lot" { "Lot of that entry" }
                select id="cor-lot" name="lot_id" required { @for l in &shelf { option value=(l.id) { (l.label()) } } }
                label for="cor-reason" { "Why it was wrong" } input id="cor-reason" name="reason" required;
                button type="submit" { "Record the correction" }
            }
        }
        section.card #entries {
            h2 { "Entries, newest first" }
            table.stack {
                thead { tr { th { "#" } th { "Time" } th { "Entry" } th { "By" } th { "Witness" } th { "Session" } } }
                tbody {
                    @for r in view.records.iter().rev() {
                        tr data-type=(r.entry_type) {
                            td data-label="#" { (r.seq) }
                            td data-label="Time" { (site_time(r.at, &zone)) }
                            td data-label="Entry" { (entry_words(r, &shelf, &seq_of)) }
                            td data-label="By" { (who(Some(r.actor_id))) }
                            td data-label="Witness" data-testid="witness" { (who(r.witness_id)) }
                            td data-label="Session" { @if let Some(s) = r.session_id { a href={ "/sessions/" (s) } { "chart" } } }
                        }
                    }
                }
            }
        }
    };
    let mut res = staff_page(principal, &site.name, "Ledger", Nav::Ledger, body);
    if problem.is_some() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

/// Records an entry typed at the cabinet.
pub async fn record<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, axum::extract::RawForm(raw): axum::extract::RawForm) -> Response {
    let p = form_pairs(&raw);
    let site = match site_of(&app, form_field(&p, "site").as_deref()).await {
        Ok(s) => s,
        Err(err) => return failure(err),
    };
    match app.clinic.record_ledger(&principal, site.id, &ledger_request(&p)).await {
        Ok(_) => Redirect::to(&format!("/ledger?site={}", site.id)).into_response(),
        Err(err) => match problem_text(&err) {
            Some(problem) => match app.clinic.site_ledger(&principal, site.id).await {
                Ok(view) => ledger_page(&app, &principal, &view, Some(problem)).await,
                Err(err) => failure(err),
            },
            None => failure(err),
        },
    }
}

/// Closes a discrepancy alert with the response taken.
pub async fn close_discrepancy<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "ledger discrepancy" });
    };
    let p = form_pairs(&raw);
    let version = form_field(&p, "version").and_then(|v| v.parse().ok()).unwrap_or(0);
    match app.clinic.close_discrepancy(&principal, id, version, form_field(&p, "response").as_deref()).await {
        Ok(d) => Redirect::to(&format!("/ledger?site={}", d.site_id)).into_response(),
        Err(err) => match problem_text(&err) {
            Some(problem) => match app.clinic.main_site().await {
                Ok(site) => match app.clinic.site_ledger(&principal, site.id).await {
                    Ok(view) => ledger_page(&app, &principal, &view, Some(problem)).await,
                    Err(err) => failure(err),
                },
                Err(err) => failure(err),
            },
            None => failure(err),
        },
    }
}

pub async fn administration_csv<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Query(q): Query<SiteQuery>) -> Response {
    let site = match site_of(&app, q.site.as_deref()).await {
        Ok(s) => s,
        Err(err) => return failure(err),
    };
    match app.clinic.administration_csv(&principal, site.id).await {
        Ok(csv) => csv_response("administration-log.csv", csv),
        Err(err) => failure(err),
    }
}

pub async fn inventory_csv<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Query(q): Query<SiteQuery>) -> Response {
    let site = match site_of(&app, q.site.as_deref()).await {
        Ok(s) => s,
        Err(err) => return failure(err),
    };
    match app.clinic.inventory_csv(&principal, site.id, q.as_of.as_deref()).await {
        Ok(csv) => csv_response("inventory.csv", csv),
        Err(err) => failure(err),
    }
}

pub async fn loss_csv<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Query(q): Query<SiteQuery>) -> Response {
    let site = match site_of(&app, q.site.as_deref()).await {
        Ok(s) => s,
        Err(err) => return failure(err),
    };
    let Some(count) = q.count.as_deref().and_then(|c| Uuid::try_parse(c).ok()) else {
        return failure(ServiceError::Invalid(clinic_domain::field::FieldErrors::one("count", "must be the id of a count entry")));
    };
    match app.clinic.loss_report_csv(&principal, site.id, count).await {
        Ok(csv) => csv_response("loss-report-draft.csv", csv),
        Err(err) => failure(err),
    }
}
