//! The chart's Outcomes tab: each substance's last four weeks day by day
//! (use, no use, unknown, not recorded — an unknown day is never counted as
//! abstinent), percent days abstinent with its definition, every test with
//! whether it counts and why, and the conflicts between sources, shown, not
//! hidden; the craving instruments' totals over time (a chart and a table).
//! Staff enter the timeline follow-back a week at a time and test results a
//! specimen at a time on their own pages.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use clinic_domain::authz::{Permission, role_allows};
use clinic_domain::outcome::tlfb::{DayStatus, TlfbDayInput, TlfbWeekInput};
use clinic_domain::outcome::toxicology::{Analyte, Conflict, ExpectedReason, Expectation};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_service::outcomes::SpecimenInput;
use clinic_store::Store;
use maud::{Markup, html};
use uuid::Uuid;

use crate::AppState;
use crate::pages::{Nav, csrf_input, failure, figure, form_field, form_pairs, staff_page};

fn status_cell(status: DayStatus) -> (&'static str, &'static str) {
    match status {
        DayStatus::Use => ("use", "used"),
        DayStatus::NoUse => ("no-use", "none"),
        DayStatus::Unknown => ("unknown", "unknown"),
        DayStatus::Unrecorded => ("unrecorded", "—"),
    }
}

fn expectation_words(e: &Expectation) -> Markup {
    match e {
        Expectation::NotPositive => html! { "counts for nothing" },
        Expectation::Unexplained => html! { strong.error { "unexplained: counts" } },
        Expectation::Expected(reasons) => html! {
            "expected: "
            @for (i, r) in reasons.iter().enumerate() {
                @if i > 0 { "; " }
                @match r {
                    ExpectedReason::Infusion { at, window_days } => { "clinic infusion " (at.format("%Y-%m-%d %H:%M")) " (within " (window_days) " days)" }
                    ExpectedReason::Moud { course, .. } => { "on " (course.medication.as_str()) " (MOUD, medication list)" }
                    ExpectedReason::Prescription { drug, .. } => { "prescribed " (drug) }
                    ExpectedReason::RescueDose { dose, window_days } => { (dose.drug.as_str()) " given " (dose.given_at.format("%Y-%m-%d %H:%M")) " (within " (window_days) " days)" }
                }
            }
        },
        Expectation::Undetermined(needs) => html! {
            span.warning { "undetermined: " (needs.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("; ")) }
        },
    }
}

/// The chart's Outcomes tab.
pub async fn tab<S: Store>(app: &AppState<S>, principal: &Principal, patient: &clinic_domain::patient::Patient) -> Markup {
    if !role_allows(principal.user.role, Permission::OutcomeRead) {
        return html! { section.card { h2 { "Outcomes" } p { "Outcome data is read by the clinicians who treat the patient." } } };
    }
    let page = match app.clinic.patient_outcome_page(principal, patient.id).await {
        Ok(p) => p,
        Err(err) => return html! { section.card { p.error { (err.to_string()) } } },
    };
    let view = &page.view;
    let recorded = view.substances.iter().any(|s| s.days.iter().any(|d| d.status != DayStatus::Unrecorded)) || !view.tests.is_empty();
    html! {
        section.card #outcomes {
            h2 { "Outcomes" }
            p {
                a href={ "/patients/" (patient.id) "/tlfb/new" } { "Enter a week of use (timeline follow-back)" }
                " · "
                a href={ "/patients/" (patient.id) "/tests/new" } { "Enter test results" }
            }
            @if !recorded { p { "Nothing recorded yet." } }
            @if !view.conflicts.is_empty() {
                div.notice.bad role="alert" data-testid="conflicts" {
                    h3 { "Sources disagree" }
                    ul {
                        @for c in &view.conflicts {
                            @match c {
                                Conflict::PositiveVersusNoUse { test, substance, .. } => li { (test.analyte.as_str()) " positive on " (test.collected_at.format("%Y-%m-%d")) " while the self-report says no " (substance.as_str()) " use" },
                                Conflict::SelfReportsDisagree { date, substance, .. } => li { "On " (date) " the timeline follow-back and the diary disagree about " (substance.as_str()) },
                            }
                        }
                    }
                }
            }
            (timeline_svg(view))
            @for s in &view.substances {
                h3 { (s.substance.as_str()) }
                p data-testid={ "pda-" (s.substance.as_str()) } {
                    "Percent days abstinent, " (s.pda.definition.window.name) ": "
                    @match s.pda.percent { Some(p) => strong { (figure(p, 1)) " %" }, None => strong { "no day assessed" } }
                    " (" (s.pda.abstinent_days) " of " (s.pda.days_assessed) " days assessed; " (s.pda.unknown_days) " unknown and " (s.pda.unrecorded_days) " not recorded, left out)"
                }
                table.calendar {
                    tbody {
                        tr {
                            @for d in &s.days {
                                @let (class, word) = status_cell(d.status);
                                td class=(class) title={ (d.date) ": " (word) } data-date=(d.date) {
                                    span.day { (d.date.format("%d")) } br;
                                    (word) @if let Some(a) = d.amount { " " (figure(a, 2)) }
                                }
                            }
                        }
                    }
                }
            }
            @if !view.diary.is_empty() {
                h3 { "The patient's diary" }
                table.stack data-testid="diary" {
                    thead { tr { th { "Day" } th { "About" } th { "Craving (0–10)" } th { "Note" } } }
                    tbody {
                        @for d in view.diary.iter().take(14) {
                            tr {
                                td data-label="Day" { (d.day) }
                                td data-label="About" { (d.substance) }
                                td data-label="Craving (0–10)" { @if let Some(c) = d.craving { (c) } @else { "—" } }
                                td data-label="Note" { (d.note.clone().unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            (trends_section(&page.trends, &view.infusion_days))
            (measures_section(&page.measures))
            (relapse_section(principal, patient, page.relapse.as_ref()))
            (misuse_section(principal, patient, &page.misuse, view.today))
            @if !view.tests.is_empty() {
                h3 { "Tests" }
                // One row per specimen: positives first with whether they count, then the negatives.
                @let specimens = {
                    let mut by: Vec<(chrono::NaiveDateTime, Vec<&clinic_domain::outcome::toxicology::ClassifiedTest>)> = Vec::new();
                    for t in &view.tests {
                        match by.last_mut() {
                            Some((at, list)) if *at == t.test.collected_at => list.push(t),
                            _ => by.push((t.test.collected_at, vec![t])),
                        }
                    }
                    by
                };
                table.stack data-testid="tests" {
                    thead { tr { th { "Collected" } th { "Positive, and whether it counts" } th { "Negative or invalid" } } }
                    tbody {
                        @for (at, tests) in &specimens {
                            tr {
                                td data-label="Collected" { (at.format("%Y-%m-%d %H:%M")) }
                                td data-label="Positive" {
                                    @for t in tests.iter().filter(|t| t.test.result == clinic_domain::outcome::toxicology::TestResult::Positive) {
                                        div data-analyte=(t.test.analyte.as_str()) data-result="positive" { strong { (t.test.analyte.as_str().replace('_', " ")) } ": " (expectation_words(&t.expectation)) }
                                    }
                                }
                                td data-label="Negative or invalid" {
                                    @for t in tests.iter().filter(|t| t.test.result != clinic_domain::outcome::toxicology::TestResult::Positive) {
                                        span data-analyte=(t.test.analyte.as_str()) data-result=(t.test.result.as_str()) { (t.test.analyte.as_str().replace('_', " ")) @if t.test.result.as_str() == "invalid" { " (invalid)" } } " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn patient_of<S: Store>(app: &AppState<S>, principal: &Principal, id: &str) -> Result<clinic_domain::patient::Patient, ServiceError> {
    let id = Uuid::try_parse(id).map_err(|_| ServiceError::NotFound { resource: "patient" })?;
    app.clinic.get_patient(principal, id).await
}

fn problem_block(problem: &Option<String>) -> Markup {
    html! { @if let Some(problem) = problem { div.notice.bad role="alert" #problem { p { (problem) } } } }
}

async fn tlfb_page<S: Store>(app: &AppState<S>, principal: &Principal, patient: &clinic_domain::patient::Patient, input: &TlfbWeekInput, problem: Option<String>) -> Response {
    let site = app.clinic.main_site().await.map(|s| s.name).unwrap_or_default();
    let today = app.clinic.now().date_naive();
    let start = input.week_start.clone().unwrap_or_else(|| (today - chrono::Duration::days(7)).to_string());
    let body = html! {
        h1 { "Timeline follow-back: one week" }
        p { a href={ "/patients/" (patient.id) "?tab=outcomes" } { (patient.details.given_name) " " (patient.details.family_name) } }
        (problem_block(&problem))
        form.card method="post" action={ "/patients/" (patient.id) "/tlfb" } #tlfb-form {
            (csrf_input(principal))
            label for="substance" { "Substance" }
            select id="substance" name="substance" {
                @for s in &patient.details.substances { option value=(s.as_str()) selected[input.substance.as_deref() == Some(s.as_str())] { (s.as_str()) } }
            }
            label for="week_start" { "First day of the week" }
            input id="week_start" name="week_start" type="date" value=(start) required;
            p.muted { "For each day: used, not used, or unknown (the patient cannot say). Unknown is never counted as a day without use. Amount in standard units (standard drinks for alcohol)." }
            table.stack {
                thead { tr { th { "Day" } th { "Use" } th { "Amount" } } }
                tbody {
                    @for i in 0..7 {
                        @let day = input.days.get(i).cloned().unwrap_or_default();
                        tr {
                            td data-label="Day" { "Day " (i + 1) }
                            td data-label="Use" {
                                select name="use" id={ "use-" (i + 1) } aria-label={ "Use on day " (i + 1) } {
                                    @for (v, w) in [("no", "not used"), ("yes", "used"), ("unknown", "unknown")] {
                                        option value=(v) selected[day.used.as_deref() == Some(v)] { (w) }
                                    }
                                }
                            }
                            td data-label="Amount" { input name="amount" id={ "amount-" (i + 1) } aria-label={ "Amount on day " (i + 1) } inputmode="decimal" value=(day.amount.unwrap_or_default()); }
                        }
                    }
                }
            }
            div.actions { button type="submit" { "Save the week" } }
        }
    };
    let mut res = staff_page(principal, &site, "Timeline follow-back", Nav::Patients, body);
    if problem.is_some() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

pub async fn tlfb_form<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    match patient_of(&app, &principal, &id).await {
        Ok(p) => tlfb_page(&app, &principal, &p, &TlfbWeekInput::default(), None).await,
        Err(err) => failure(err),
    }
}

pub async fn tlfb_save<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let patient = match patient_of(&app, &principal, &id).await {
        Ok(p) => p,
        Err(err) => return failure(err),
    };
    let p = form_pairs(&raw);
    let uses: Vec<&String> = p.iter().filter(|(k, _)| k == "use").map(|(_, v)| v).collect();
    let amounts: Vec<&String> = p.iter().filter(|(k, _)| k == "amount").map(|(_, v)| v).collect();
    let input = TlfbWeekInput {
        week_start: form_field(&p, "week_start"),
        substance: form_field(&p, "substance"),
        days: uses
            .iter()
            .enumerate()
            .map(|(i, u)| TlfbDayInput { used: Some((*u).clone()), amount: amounts.get(i).map(|a| a.trim().to_string()).filter(|a| !a.is_empty()) })
            .collect(),
    };
    match app.clinic.record_tlfb_week(&principal, patient.id, &input).await {
        Ok(_) => Redirect::to(&format!("/patients/{}?tab=outcomes", patient.id)).into_response(),
        Err(err) => match crate::pages::problem_text(&err) {
            Some(problem) => tlfb_page(&app, &principal, &patient, &input, Some(problem)).await,
            None => failure(err),
        },
    }
}

async fn tests_page<S: Store>(app: &AppState<S>, principal: &Principal, patient: &clinic_domain::patient::Patient, problem: Option<String>) -> Response {
    let site = app.clinic.main_site().await.map(|s| s.name).unwrap_or_default();
    let body = html! {
        h1 { "Test results" }
        p { a href={ "/patients/" (patient.id) "?tab=outcomes" } { (patient.details.given_name) " " (patient.details.family_name) } }
        (problem_block(&problem))
        form.card method="post" action={ "/patients/" (patient.id) "/tests" } #tests-form {
            (csrf_input(principal))
            label for="collected_at" { "Collected (site time)" }
            input id="collected_at" name="collected_at" type="datetime-local" required;
            p.muted { "Each analyte of the panel or the breath test; leave out those not tested." }
            table.stack {
                thead { tr { th { "Analyte" } th { "Result" } } }
                tbody {
                    @for a in Analyte::ALL {
                        tr {
                            td data-label="Analyte" { label for={ "r-" (a.as_str()) } { (a.as_str().replace('_', " ")) } }
                            td data-label="Result" {
                                select id={ "r-" (a.as_str()) } name={ "result_" (a.as_str()) } {
                                    option value="" { "not tested" } option value="negative" { "negative" } option value="positive" { "positive" } option value="invalid" { "invalid" }
                                }
                            }
                        }
                    }
                }
            }
            div.actions { button type="submit" { "Save the results" } }
        }
    };
    let mut res = staff_page(principal, &site, "Test results", Nav::Patients, body);
    if problem.is_some() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

pub async fn tests_form<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Response {
    match patient_of(&app, &principal, &id).await {
        Ok(p) => tests_page(&app, &principal, &p, None).await,
        Err(err) => failure(err),
    }
}

pub async fn tests_save<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let patient = match patient_of(&app, &principal, &id).await {
        Ok(p) => p,
        Err(err) => return failure(err),
    };
    let p = form_pairs(&raw);
    let input = SpecimenInput {
        collected_at: form_field(&p, "collected_at"),
        results: p
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("result_").filter(|_| !v.trim().is_empty()).map(|a| (a.to_string(), v.clone())))
            .collect(),
    };
    match app.clinic.record_specimen(&principal, patient.id, &input).await {
        Ok(_) => Redirect::to(&format!("/patients/{}?tab=outcomes", patient.id)).into_response(),
        Err(err) => match crate::pages::problem_text(&err) {
            Some(problem) => tests_page(&app, &principal, &patient, Some(problem)).await,
            None => failure(err),
        },
    }
}

/// Proposed lapses, relapses and dropouts with their evidence, each to
/// confirm or reject with a note; time to relapse from the confirmed ones.
fn relapse_section(principal: &Principal, patient: &clinic_domain::patient::Patient, view: Option<&clinic_service::relapse::RelapseView>) -> Markup {
    let Some(view) = view else {
        return html! { h3 { "Relapse" } p.muted { "No signed plan yet: relapse is evaluated against the plan's protocol." } };
    };
    let may_decide = role_allows(principal.user.role, Permission::OutcomeRecord);
    let decided = |key: &clinic_domain::outcome::relapse::EventKey| {
        view.decisions.iter().rev().find(|d| {
            d.event_date == key.date.to_string() && d.kind == key.kind.as_str() && d.substance.as_deref() == key.substance.map(|s| s.as_str())
        })
    };
    html! {
        section #relapse data-testid="relapse" {
            h3 { "Relapse (" (view.protocol_id) ")" }
            @match &view.outcome {
                Err(why) => p.warning data-testid="relapse-unset" { (why) },
                Ok(o) => {
                    p data-testid="time-to-relapse" {
                        "From " (o.proposals.index) " (index date): "
                        @if o.time.point.relapsed { strong { "relapse confirmed on day " (o.time.point.days) } }
                        @else { strong { "no confirmed relapse; followed " (o.time.point.days) " days" } }
                        @if !o.time.pending.is_empty() { " · " span.warning { (o.time.pending.len()) " proposal(s) await a decision: provisional" } }
                    }
                    @if o.proposals.events.is_empty() { p.muted { "No lapse, relapse or dropout proposed." } }
                    @for e in &o.proposals.events {
                        @let key = e.key;
                        div.card.proposal data-kind=(key.kind.as_str()) data-date=(key.date) {
                            p {
                                strong { (key.kind.as_str()) } " on " (key.date) " (day " (e.day) ")"
                                @if let Some(s) = key.substance { " · " (s.as_str()) }
                            }
                            ul { @for r in &e.evidence.reasons { li { (r) } } }
                            @match decided(&key) {
                                Some(d) => p data-testid="decision" { (d.verdict) ": " (d.note) },
                                None => @if may_decide {
                                    form.inline method="post" action={ "/patients/" (patient.id) "/relapse-decisions" } {
                                        (csrf_input(principal))
                                        input type="hidden" name="event_date" value=(key.date);
                                        input type="hidden" name="kind" value=(key.kind.as_str());
                                        input type="hidden" name="substance" value=(key.substance.map(|s| s.as_str()).unwrap_or(""));
                                        label for={ "note-" (key.date) "-" (key.kind.as_str()) } { "Note" }
                                        input id={ "note-" (key.date) "-" (key.kind.as_str()) } name="note" required;
                                        button type="submit" name="verdict" value="confirmed" { "Confirm" }
                                        button.secondary type="submit" name="verdict" value="rejected" { "Reject" }
                                    }
                                },
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Records a clinician's decision on a proposal.
pub async fn decide<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let patient = match patient_of(&app, &principal, &id).await {
        Ok(p) => p,
        Err(err) => return failure(err),
    };
    let p = form_pairs(&raw);
    let f = |n: &str| form_field(&p, n).unwrap_or_default();
    let substance = form_field(&p, "substance");
    match app.clinic.decide_relapse(&principal, patient.id, (&f("event_date"), &f("kind"), substance.as_deref()), &f("verdict"), form_field(&p, "note").as_deref()).await {
        Ok(_) => Redirect::to(&format!("/patients/{}?tab=outcomes#relapse", patient.id)).into_response(),
        Err(err) => match crate::pages::problem_text(&err) {
            Some(problem) => crate::pages::error_page(StatusCode::UNPROCESSABLE_ENTITY, "The decision was not saved", &problem),
            None => failure(err),
        },
    }
}

/// The ketamine-misuse watch: each flag with its evidence, a physician's
/// decision, and the form to record a craving or a request for more ketamine.
fn misuse_section(principal: &Principal, patient: &clinic_domain::patient::Patient, view: &clinic_service::misuse::MisuseView, today: chrono::NaiveDate) -> Markup {
    use clinic_domain::outcome::misuse::MisuseEvidence;
    let may_decide = role_allows(principal.user.role, Permission::MisuseDecide);
    let may_record = role_allows(principal.user.role, Permission::OutcomeRecord);
    html! {
        section #misuse data-testid="misuse" {
            h3 { "Ketamine-misuse watch" }
            p data-testid="misuse-summary" {
                @if view.flags.is_empty() { "No flag raised." } @else { (view.flags.len()) " flag(s); " (view.confirmed) " confirmed as misuse by a physician." }
            }
            @for f in &view.flags {
                div.card.flag data-signal=(f.key.signal.as_str()) {
                    p { strong { (f.key.signal.as_str().replace('_', " ")) } " on " (f.date) }
                    p.muted {
                        @match &f.evidence {
                            MisuseEvidence::Test(t) => { (t.test.analyte.as_str()) " positive, collected " (t.test.collected_at.format("%Y-%m-%d %H:%M")) ": nothing explains it" }
                            MisuseEvidence::UndeterminedTest { test, needs } => { (test.test.analyte.as_str()) " positive, collected " (test.test.collected_at.format("%Y-%m-%d %H:%M")) ": " (needs.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("; ")) }
                            MisuseEvidence::Craving(_) | MisuseEvidence::Request(_) => {
                                (view.signals.iter().find(|s| s.id == f.key.record).map(|s| s.note.clone()).unwrap_or_default())
                            }
                        }
                    }
                    @match view.decision(&f.key) {
                        Some(d) => p data-testid="misuse-decision" { (d.verdict) ": " (d.note) },
                        None => @if may_decide {
                            form.inline method="post" action={ "/patients/" (patient.id) "/misuse-decisions" } {
                                (csrf_input(principal))
                                input type="hidden" name="signal" value=(f.key.signal.as_str());
                                input type="hidden" name="record_id" value=(f.key.record);
                                label for={ "mnote-" (f.key.record) } { "Note" }
                                input id={ "mnote-" (f.key.record) } name="note" required;
                                button type="submit" name="verdict" value="confirmed" { "Confirm misuse" }
                                button.secondary type="submit" name="verdict" value="rejected" { "Reject" }
                            }
                        } @else { p.warning { "Awaiting a physician's decision." } },
                    }
                }
            }
            @if may_record {
                details {
                    summary { "Record a craving for ketamine or a request for more" }
                    form method="post" action={ "/patients/" (patient.id) "/misuse-signals" } {
                        (csrf_input(principal))
                        label for="signal-kind" { "What" }
                        select id="signal-kind" name="kind" {
                            option value="ketamine_craving" { "craving for ketamine" }
                            option value="extra_infusion" { "asked for an extra infusion" }
                            option value="earlier_infusion" { "asked for an earlier infusion" }
                            option value="higher_dose" { "asked for a higher dose" }
                        }
                        label for="signal-on" { "On" }
                        input id="signal-on" name="reported_on" type="date" value=(today) required;
                        label for="signal-note" { "What the patient said or asked" }
                        input id="signal-note" name="note" required;
                        button type="submit" { "Record and alert the physicians" }
                    }
                }
            }
        }
    }
}

/// Records a misuse-watch signal.
pub async fn misuse_signal<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let patient = match patient_of(&app, &principal, &id).await {
        Ok(p) => p,
        Err(err) => return failure(err),
    };
    let p = form_pairs(&raw);
    let f = |n: &str| form_field(&p, n).unwrap_or_default();
    match app.clinic.record_misuse_signal(&principal, patient.id, &f("kind"), &f("reported_on"), form_field(&p, "note").as_deref()).await {
        Ok(_) => Redirect::to(&format!("/patients/{}?tab=outcomes#misuse", patient.id)).into_response(),
        Err(err) => match crate::pages::problem_text(&err) {
            Some(problem) => crate::pages::error_page(StatusCode::UNPROCESSABLE_ENTITY, "The signal was not saved", &problem),
            None => failure(err),
        },
    }
}

/// Records a physician's decision on a misuse flag.
pub async fn misuse_decide<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let patient = match patient_of(&app, &principal, &id).await {
        Ok(p) => p,
        Err(err) => return failure(err),
    };
    let p = form_pairs(&raw);
    let f = |n: &str| form_field(&p, n).unwrap_or_default();
    match app.clinic.decide_misuse(&principal, patient.id, &f("signal"), &f("record_id"), &f("verdict"), form_field(&p, "note").as_deref()).await {
        Ok(_) => Redirect::to(&format!("/patients/{}?tab=outcomes#misuse", patient.id)).into_response(),
        Err(err) => match crate::pages::problem_text(&err) {
            Some(problem) => crate::pages::error_page(StatusCode::UNPROCESSABLE_ENTITY, "The decision was not saved", &problem),
            None => failure(err),
        },
    }
}

/// Use days per substance, craving from the diary (0–10) and infusion days
/// over the calendar's four weeks, as one picture; the calendar tables below
/// carry the same data as text.
fn timeline_svg(view: &clinic_service::outcomes::OutcomesView) -> Markup {
    let Some(first) = view.substances.first().and_then(|s| s.days.first()).map(|d| d.date) else { return html! {} };
    let n = view.substances.first().map_or(0, |s| s.days.len());
    let (left, cell, top) = (90.0_f64, 22.0_f64, 24.0_f64);
    let rows = num(view.substances.len());
    let craving_top = top + rows * cell + 16.0;
    let craving_h = 70.0;
    let width = left + num(n) * cell + 10.0;
    let height = craving_top + craving_h + 28.0;
    let x = |date: chrono::NaiveDate| left + days((date - first).num_days()) * cell;
    let cravings: Vec<(f64, f64)> = {
        let mut by_day: Vec<(chrono::NaiveDate, i64)> = view.diary.iter().filter_map(|d| Some((chrono::NaiveDate::parse_from_str(&d.day, "%Y-%m-%d").ok()?, d.craving?))).collect();
        by_day.sort();
        by_day.into_iter().filter(|(d, _)| *d >= first).map(|(d, c)| (x(d) + cell / 2.0, craving_top + craving_h - days(c) * craving_h / 10.0)).collect()
    };
    let path: String = cravings.iter().enumerate().map(|(i, (px, py))| format!("{}{px:.1},{py:.1}", if i == 0 { "M" } else { " L" })).collect();
    html! {
        figure {
            svg.timeline viewBox={ "0 0 " (width) " " (height) } role="img" aria-labelledby="timeline-title" data-testid="timeline" {
                title #timeline-title { "Use by day, craving from the diary and infusion days, the last " (n) " days" }
                @for (i, s) in view.substances.iter().enumerate() {
                    text x="4" y=(top + num(i) * cell + 15.0) font-size="11" { (s.substance.as_str()) }
                    @for d in &s.days {
                        @let fill = match d.status { DayStatus::Use => "#d9534f", DayStatus::NoUse => "#5cb85c", DayStatus::Unknown => "#b0b7c3", DayStatus::Unrecorded => "#ffffff" };
                        rect x=(x(d.date) + 1.0) y=(top + num(i) * cell + 1.0) width=(cell - 2.0) height=(cell - 2.0) fill=(fill) stroke="#d0d7de" { title { (d.date) ": " (status_cell(d.status).1) } }
                    }
                }
                text x="4" y=(craving_top + 12.0) font-size="11" { "craving" }
                text x="4" y=(craving_top + 26.0) font-size="9" { "0–10" }
                line x1=(left) y1=(craving_top + craving_h) x2=(width - 10.0) y2=(craving_top + craving_h) stroke="#8b949e" {}
                line x1=(left) y1=(craving_top) x2=(left) y2=(craving_top + craving_h) stroke="#8b949e" {}
                @if !path.is_empty() { path d=(path) fill="none" stroke="#1f6feb" stroke-width="2" {} }
                @for (px, py) in &cravings { circle cx=(px) cy=(py) r="3" fill="#1f6feb" {} }
                @for d in view.infusion_days.iter().filter(|d| **d >= first) {
                    @let cx = x(*d) + cell / 2.0;
                    path d={ "M" (cx - 6.0) "," (top - 4.0) " L" (cx + 6.0) "," (top - 4.0) " L" (cx) "," (top - 14.0) " Z" } fill="#8250df" { title { "infusion " (d) } }
                }
                text x=(left) y=(height - 8.0) font-size="10" { (first) }
                text x=(width - 80.0) y=(height - 8.0) font-size="10" { (view.today) }
            }
            figcaption.muted { "Red: use; green: no use; grey: unknown; white: not recorded; ▲ infusion; blue line: craving from the patient's diary." }
        }
    }
}

/// The craving instruments the patient has answered: per instrument (and
/// substance, for the per-substance rating) a small line chart of the total
/// over time on the instrument's own range, infusion days marked as on the
/// timeline, and the same points as a table.
fn trends_section(trends: &[clinic_service::outcomes::InstrumentTrend], infusion_days: &[chrono::NaiveDate]) -> Markup {
    if trends.is_empty() {
        return html! {};
    }
    html! {
        section #instrument-trends data-testid="instrument-trends" {
            h3 { "Instrument trends" }
            @for t in trends {
                @let key = match &t.substance { Some(s) => format!("{}-{s}", t.instrument), None => t.instrument.clone() };
                h4 { (t.title) @if let Some(s) = &t.substance { " — " (s) } }
                (trend_svg(t, infusion_days, &key))
                table.stack data-testid={ "trend-" (key) } {
                    thead { tr { th { "Date" } th { "Score (" (t.range[0]) "–" (t.range[1]) ")" } th { "Band" } } }
                    tbody {
                        @for p in &t.points {
                            tr {
                                td data-label="Date" { (p.date) }
                                td data-label="Score" { (p.total) }
                                td data-label="Band" {
                                    @match &p.band {
                                        Some(b) => { (b) }
                                        None => { @if t.has_bands { "—" } @else { span.muted { "none (no validated cut-offs)" } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One instrument's total over time: the date axis from its first to its
/// last answer, the score axis over the instrument's range, ▲ on infusion days.
fn trend_svg(t: &clinic_service::outcomes::InstrumentTrend, infusion_days: &[chrono::NaiveDate], key: &str) -> Markup {
    let (Some(first), Some(last)) = (t.points.first().map(|p| p.date), t.points.last().map(|p| p.date)) else { return html! {} };
    let (left, right, top, bottom) = (44.0_f64, 12.0_f64, 18.0_f64, 26.0_f64);
    let (width, plot_h) = (520.0_f64, 110.0_f64);
    let plot_w = width - left - right;
    let height = top + plot_h + bottom;
    let span = (last - first).num_days();
    let x = |date: chrono::NaiveDate| if span == 0 { left + plot_w / 2.0 } else { left + days((date - first).num_days()) * plot_w / days(span) };
    let (low, high) = (t.range[0], t.range[1]);
    let y = |score: i64| if high == low { top + plot_h / 2.0 } else { top + plot_h - days(score - low) * plot_h / days(high - low) };
    let path: String = t.points.iter().enumerate().map(|(i, p)| format!("{}{:.1},{:.1}", if i == 0 { "M" } else { " L" }, x(p.date), y(p.total))).collect();
    let title_id = format!("trend-title-{key}");
    html! {
        figure.trend {
            svg viewBox={ "0 0 " (width) " " (height) } role="img" aria-labelledby=(title_id) data-testid={ "trend-chart-" (key) } {
                title id=(title_id) { (t.title) @if let Some(s) = &t.substance { " (" (s) ")" } ": total score by date, " (t.points.len()) " answer(s)" }
                line x1=(left) y1=(top + plot_h) x2=(width - right) y2=(top + plot_h) stroke="#8b949e" {}
                line x1=(left) y1=(top) x2=(left) y2=(top + plot_h) stroke="#8b949e" {}
                text x="4" y=(top + 4.0) font-size="10" { (high) }
                text x="4" y=(top + plot_h) font-size="10" { (low) }
                @for d in infusion_days.iter().filter(|d| **d >= first && **d <= last) {
                    @let cx = x(*d);
                    line x1=(cx) y1=(top) x2=(cx) y2=(top + plot_h) stroke="#8250df" stroke-dasharray="3,3" {}
                    path d={ "M" (cx - 5.0) "," (top - 2.0) " L" (cx + 5.0) "," (top - 2.0) " L" (cx) "," (top - 11.0) " Z" } fill="#8250df" { title { "infusion " (d) } }
                }
                path d=(path) fill="none" stroke="#1f6feb" stroke-width="2" {}
                @for p in &t.points {
                    circle cx=(x(p.date)) cy=(y(p.total)) r="3" fill="#1f6feb" { title { (p.date) ": " (p.total) } }
                }
                text x=(left) y=(height - 8.0) font-size="10" { (first) }
                @if span > 0 { text x=(width - right - 62.0) y=(height - 8.0) font-size="10" { (last) } }
            }
            figcaption.muted { "Blue line: the total at each answer, on the instrument's range " (low) "–" (high) "; ▲ infusion. The table below lists the same points." }
        }
    }
}

/// A count as a coordinate (counts here are small).
fn num(n: usize) -> f64 {
    u32::try_from(n).map(f64::from).unwrap_or(0.0)
}

/// A day offset or a rating as a coordinate.
fn days(n: i64) -> f64 {
    i32::try_from(n).map(f64::from).unwrap_or(0.0)
}

/// The outcomes the protocol measures, each with the definition that produced it.
fn measures_section(measures: &[clinic_service::relapse::ProtocolMeasure]) -> Markup {
    if measures.is_empty() {
        return html! {};
    }
    html! {
        section #protocol-outcomes data-testid="protocol-outcomes" {
            h3 { "The protocol's outcomes" }
            table.stack {
                thead { tr { th { "Outcome" } th { "Value" } th { "Definition" } } }
                tbody {
                    @for m in measures {
                        tr {
                            td data-label="Outcome" { (m.name) }
                            td data-label="Value" { strong { (m.value) } }
                            td data-label="Definition" { details { summary { "how it is counted" } p.muted { (m.definition) } } }
                        }
                    }
                }
            }
        }
    }
}
