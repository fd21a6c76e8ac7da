//! The anonymous self-check on the public site: AUDIT-C and DAST-10, scored
//! on the server, explained in plain words, and never stored. It offers the
//! inquiry form and crisis resources.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clinic_service::error::ServiceError;
use clinic_service::screening::QuestionnaireInput;
use clinic_store::Store;
use maud::{html, Markup};

use crate::pages::bare_page;
use crate::pages::home::crisis_notice;
use crate::pages::screening::{answers_from_form, missing_answers, questionnaire_fields};
use crate::pages::{failure, form_field, form_pairs};
use crate::AppState;

/// The instruments offered, in order (issue 4: AUDIT-C and DAST-10).
const SELF_CHECKS: [(&str, &str); 2] = [("audit-c", "Alcohol"), ("dast-10", "Drugs other than alcohol")];

fn page(body: Markup) -> Markup {
    bare_page(
        "Check your drinking or drug use",
        html! {
            (crisis_notice())
            (body)
            p.muted { "Nothing you enter here is saved or sent to anyone. " a href="/" { "Back to the clinic's page" } }
        },
    )
}

fn forms<S: Store>(app: &AppState<S>, chosen: Option<(&str, &[String])>, errors: &[clinic_domain::field::FieldError]) -> Markup {
    html! {
        div.card {
            h1 { "A quick, private check" }
            p { "Answer a few questions about the past year. You will see what your answers may mean. This is not a diagnosis." }
        }
        @for (id, label) in SELF_CHECKS {
            @if let Some(loaded) = app.clinic.instruments().get(id) {
                section.card id=(id) {
                    h2 { (label) }
                    @if loaded.wording.is_none() {
                        p { "This check is not available yet: the clinic has not installed the licensed questions. You can still "
                            a href="/#contact" { "ask us to contact you" } "." }
                    } @else {
                        form method="post" action={ "/self-check#" (id) } {
                            input type="hidden" name="instrument" value=(id);
                            @if loaded.instrument.needs_sex() {
                                fieldset.item {
                                    legend { "Your sex at birth (the safe limits differ)" }
                                    div.options {
                                        label.option { input type="radio" name="sex" value="female"; " Female" }
                                        label.option { input type="radio" name="sex" value="male"; " Male" }
                                        label.option { input type="radio" name="sex" value=""; " I'd rather not say" }
                                    }
                                }
                            }
                            @let mine = chosen.filter(|(c, _)| *c == id).map(|(_, a)| a).unwrap_or(&[]);
                            @let my_errors = if chosen.is_some_and(|(c, _)| c == id) { errors } else { &[] };
                            (questionnaire_fields(loaded, mine, my_errors))
                            div.actions { button type="submit" { "See my result" } }
                        }
                    }
                }
            }
        }
    }
}

pub async fn form<S: Store>(State(app): State<AppState<S>>) -> Response {
    page(forms(&app, None, &[])).into_response()
}

/// What a result means, in plain words.
fn explain(instrument: &str, total: Option<i64>, band: Option<&str>, sex_known: bool) -> Markup {
    let total = total.unwrap_or(0);
    match instrument {
        "audit-c" if sex_known => html! {
            @if band == Some("positive") {
                p { strong { "Your drinking may be risky for your health." } " Your score was " (total) ". At this score, doctors suggest talking with someone about your drinking." }
            } @else {
                p { strong { "Your answers do not point to risky drinking." } " Your score was " (total) ". If you are still worried, you can talk with us." }
            }
        },
        // Cut-offs: 3 or more for women, 4 or more for men (clinical.md §3.1, §11.6).
        "audit-c" => html! {
            p { "Your score was " (total) " out of 12. For women, a score of 3 or more means drinking may be risky; for men, 4 or more. "
                "If your score is at or above the number for you, doctors suggest talking with someone about your drinking." }
        },
        _ => html! {
            @match band {
                Some("none") => p { strong { "Your answers do not point to drug problems." } " Your score was " (total) " out of 10." },
                Some("low") => p { strong { "Your answers point to a low level of drug problems." } " Your score was " (total) " out of 10. It may help to keep an eye on your use." },
                _ => p { strong { "Your answers point to drug problems that are worth talking about." } " Your score was " (total) " out of 10. A doctor or counselor can help you look at your options." },
            }
        },
    }
}

pub async fn submit<S: Store>(State(app): State<AppState<S>>, axum::extract::RawForm(raw): axum::extract::RawForm) -> Response {
    let pairs = form_pairs(&raw);
    let field = |name: &str| form_field(&pairs, name);
    let instrument = field("instrument").unwrap_or_default();
    let Some(loaded) = SELF_CHECKS.iter().find(|(id, _)| *id == instrument).and_then(|(id, _)| app.clinic.instruments().get(id)) else {
        return (StatusCode::BAD_REQUEST, page(html! { p.notice.bad { "instrument must be one of: audit-c, dast-10" } })).into_response();
    };
    let answers = answers_from_form(loaded, &pairs);
    let missing = missing_answers(loaded, &answers);
    if !missing.is_empty() {
        return (StatusCode::UNPROCESSABLE_ENTITY, page(forms(&app, Some((instrument.as_str(), &answers)), &missing))).into_response();
    }
    let sex = field("sex").filter(|s| !s.trim().is_empty());
    let sex_known = sex.is_some();
    // Without a sex the AUDIT-C cut-off is unknown: score with each and explain both.
    let scoring_sex = if loaded.instrument.needs_sex() && sex.is_none() { Some("female".to_string()) } else { sex };
    let input = QuestionnaireInput { instrument: instrument.clone(), answers: answers.clone(), sex: scoring_sex, substance: None, difficulty: None };
    match app.clinic.score_answers(&input, None) {
        Ok((scored, _)) => {
            let body = html! {
                div.card role="status" {
                    h1 { "Your result" }
                    (explain(&instrument, scored.total, if sex_known || !loaded.instrument.needs_sex() { scored.band.as_deref() } else { None }, sex_known || !loaded.instrument.needs_sex()))
                    p { "This check cannot tell you if you have a problem. Only a talk with a doctor or counselor can." }
                    p { a.button href="/#contact" { "Ask us to contact you" } " " a.button.secondary href="/self-check" { "Start again" } }
                }
            };
            page(body).into_response()
        }
        Err(ServiceError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, page(forms(&app, Some((instrument.as_str(), &answers)), &errors.0))).into_response(),
        Err(err) => failure(err),
    }
}
