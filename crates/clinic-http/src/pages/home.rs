//! The public landing page and the staff home page.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::patient::PatientStatus;
use clinic_service::auth::Principal;
use clinic_store::Store;
use maud::html;

use crate::pages::{bare_page, staff_page, Nav};
use crate::AppState;

/// The public site: plain language (aimed at a sixth-grade reading level),
/// what the treatment is and is not, who it may suit, what the trials found,
/// what a course involves, safety, how to reach each site, and the inquiry form.
pub async fn public_home<S: Store>(State(app): State<AppState<S>>) -> Response {
    let sites = app.clinic.store().list_sites().await.unwrap_or_default();
    public_page(&[], &[], &sites).into_response()
}

/// The crisis line, shown on every public page (clinical.md §11.3: the 988
/// Suicide & Crisis Lifeline, call or text, US, since July 2022; 911 for danger).
pub fn crisis_notice() -> maud::Markup {
    html! {
        div.notice.bad role="note" {
            strong { "In a crisis? " }
            "Call or text " a href="tel:988" { "988" } " (Suicide & Crisis Lifeline), any time. "
            "If you are in danger, call " a href="tel:911" { "911" } "."
        }
    }
}

pub fn public_page(values: &[(String, String)], errors: &[clinic_domain::field::FieldError], sites: &[clinic_store::records::Site]) -> maud::Markup {
    let body = html! {
        (crisis_notice())
        div.card {
            h1 { "Ketamine-assisted treatment for alcohol and drug problems" }
            p { "We help adults who want to stop or cut down drinking or drug use. "
                "Treatment is a short series of ketamine infusions, given by our medical team, together with counseling." }
            @if let Some(site) = sites.first() {
                @if let Some(phone) = &site.phone { p { "Questions? Call us at " a href={ "tel:" (phone) } { (phone) } "." } }
            }
            p { a.button href="#contact" { "Ask us to contact you" } }
        }
        div.card {
            h2 { "What it is" }
            ul {
                li { "Ketamine is a medicine. Doctors have used it for many years. At low doses it can help the brain form new habits." }
                li { "You get it through a small tube in your arm (an IV drip). It takes about 40 to 50 minutes." }
                li { "You also meet with a counselor. The counseling is a key part of the treatment." }
            }
            h2 { "What it is not" }
            ul {
                li { "It is not a cure, and it is not a pill to take at home. You only get it here, with staff watching you." }
                li { "It is not approved by the FDA for addiction. Doctors use it \"off label\", as in the research studies below." }
                li { "It does not replace medicines for opioid use, like methadone or buprenorphine. If you take one, you keep taking it." }
            }
        }
        div.card {
            h2 { "Who it may help" }
            p { "Adults with an alcohol, cocaine, opioid or other drug problem who want to change, and who are willing to do counseling." }
            h2 { "Who should not have it" }
            p { "A doctor checks your health first. Ketamine may not be safe for you if you:" }
            ul {
                li { "are pregnant or breast-feeding" }
                li { "have very high blood pressure, a recent heart attack or stroke, or a weak blood vessel in the brain or body (aneurysm)" }
                li { "have psychosis, such as hearing voices, or schizophrenia" }
                li { "had a bad reaction to ketamine before" }
            }
            p { "Some other health problems need extra care, such as heart disease, bipolar disorder, liver disease, "
                "or past misuse of ketamine. Tell us about them. We will talk it through with you." }
        }
        // Trial figures from clinical.md §1.1 (Dakwar 2019: 48.2% vs 10.7%, HR 0.47), §1.2 (Dakwar 2020:
        // effect sizes not in the reference, so described without numbers), §1.3 (Grabski 2022: PDA
        // +10.1%, relapse OR 0.80, not different) and §1.4 (Krupitsky 2007: 50% vs 22.2% at 1 year).
        div.card {
            h2 { "What the studies found" }
            p { "These studies were small. They are promising, but your results may be different." }
            ul {
                li { strong { "Cocaine: " }
                    "In a study of 55 people, 48 out of 100 who got ketamine used no cocaine in the last 2 weeks, compared with 11 out of 100 who got another medicine. "
                    "Their risk of going back to cocaine was about half. "
                    span.muted { "(Dakwar and others, American Journal of Psychiatry, 2019)" } }
                li { strong { "Alcohol: " }
                    "In a study of 40 people, those who got one ketamine infusion with counseling were more likely to stay away from alcohol, and went back to drinking later. "
                    span.muted { "(Dakwar and others, American Journal of Psychiatry, 2020)" } }
                li { strong { "Alcohol: " }
                    "In a study of 96 people, those who got three ketamine infusions had more days without alcohol over 6 months: about 10 more days out of every 100. "
                    "The number of people who went back to drinking was about the same. "
                    span.muted { "(Grabski and others, American Journal of Psychiatry, 2022)" } }
                li { strong { "Heroin: " }
                    "In a study of 59 people, 50 out of 100 who got more ketamine sessions stayed off heroin for a year, compared with 22 out of 100. "
                    span.muted { "(Krupitsky and others, Journal of Psychoactive Drugs, 2007)" } }
            }
        }
        div.card {
            h2 { "What a course looks like" }
            ol {
                li { strong { "Talk with us. " } "We call you back and answer your questions." }
                li { strong { "Check-up. " } "You fill in some questions and see a doctor, who checks your health and your medicines." }
                li { strong { "Infusions. " } "Most plans have 1 to 6 infusions over a few weeks. You must not drink or use on the day." }
                li { strong { "Counseling. " } "You meet a counselor, often twice a week, to plan how to stay well." }
                li { strong { "Follow-up. " } "We keep in touch for months after, to help you stay on track." }
            }
            p { strong { "Bring someone to take you home. " }
                "After an infusion you cannot drive or use machines until the next day, after a night's sleep. An adult must take you home." }
        }
        div.card {
            h2 { "Safety" }
            ul {
                li { "A doctor and a nurse are on site for every infusion. A nurse stays with you." }
                li { "We check your blood pressure, heart rate and breathing the whole time, and after." }
                li { "During the drip you may feel dreamy, floaty or far away. This fades within an hour or two. Some people feel sick to their stomach." }
                li { "You go home only when you are fully awake, steady on your feet, and with your adult." }
            }
        }
        div.card {
            h2 { "Where to find us" }
            @if sites.is_empty() { p { "Call or write to us using the form below." } }
            @for site in sites {
                div.site {
                    h3 { (site.name) }
                    p {
                        @if let Some(address) = &site.address { (address) br; }
                        @if let Some(phone) = &site.phone { "Phone: " a href={ "tel:" (phone) } { (phone) } br; }
                        @if let Some(hours) = &site.hours { "Open: " (hours) }
                    }
                }
            }
        }
        div.card id="contact" {
            h2 { "Ask us to contact you" }
            p.muted { "Your message is private. We only use it to contact you. Our messages never say what they are about." }
            (crate::pages::inquiries::public_form(values, errors))
        }
        p.muted { "Staff: " a href="/login" { "sign in" } "." }
    };
    bare_page("Ketamine-assisted treatment", body)
}

fn status_label(status: PatientStatus) -> &'static str {
    match status {
        PatientStatus::Inquiry => "Inquiry",
        PatientStatus::Screening => "In screening",
        PatientStatus::Eligible => "Eligible, awaiting a plan",
        PatientStatus::NotEligible => "Not eligible",
        PatientStatus::InTreatment => "In treatment",
        PatientStatus::FollowUp => "In follow-up",
        PatientStatus::Discharged => "Discharged",
    }
}

pub async fn staff_home<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return crate::error::ApiError::from(err).into_response(),
    };
    let role = principal.user.role;
    let counts = if role_allows(role, Permission::PatientRead) || role_allows(role, Permission::AggregateRead) {
        match app.clinic.store().patient_status_counts().await {
            Ok(counts) => Some(counts),
            Err(err) => return crate::error::ApiError::from(clinic_service::error::ServiceError::from(err)).into_response(),
        }
    } else {
        None
    };
    let can_read = role_allows(role, Permission::PatientRead);
    // Front desk first: new and overdue inquiries (counts only; no names on the home page).
    let inquiry_counts = if role_allows(role, Permission::InquiryManage) {
        let filter = clinic_store::records::InquiryFilter { status: Some(clinic_domain::inquiry::InquiryStatus::New), limit: 500, ..Default::default() };
        match app.clinic.store().list_inquiries(&filter).await {
            Ok(page) => {
                let cutoff = clinic_domain::inquiry::overdue_cutoff(clinic_service::now(), &clinic_service::Clinic::<S>::site_zone(&site));
                let overdue = page.items.iter().filter(|i| i.last_contact_at.is_none() && i.created_at < cutoff).count();
                // More than a page: say so rather than show a number that is too low.
                let more = if page.next_cursor.is_some() { "+" } else { "" };
                Some((format!("{}{more}", page.items.len()), format!("{overdue}{more}")))
            }
            Err(err) => return crate::error::ApiError::from(clinic_service::error::ServiceError::from(err)).into_response(),
        }
    } else {
        None
    };
    let open_alerts = if role_allows(role, Permission::AlertRead) {
        match app.clinic.store().list_alerts(&clinic_store::screening::AlertFilter { open_only: true, limit: 500, ..Default::default() }).await {
            Ok(alerts) => Some(alerts.len()),
            Err(err) => return crate::error::ApiError::from(clinic_service::error::ServiceError::from(err)).into_response(),
        }
    } else {
        None
    };
    // Physicians: proposals awaiting their signature, oldest first.
    let unsigned = if role_allows(role, Permission::EligibilitySign) {
        match app.clinic.unsigned_eligibility(&principal).await {
            Ok(documents) => {
                let mut list = Vec::new();
                for d in documents {
                    // Showing a name is a read of the record: audited.
                    if let Ok(p) = app.clinic.get_patient(&principal, d.patient_id).await {
                        list.push((p.id, format!("{} {} ({})", p.details.given_name, p.details.family_name, d.subtype.replace('_', " "))));
                    }
                }
                Some(list)
            }
            Err(err) => return crate::error::ApiError::from(err).into_response(),
        }
    } else {
        None
    };
    // Clinicians: patients who cannot be treated until consents are signed.
    let missing_consents = if role_allows(role, Permission::ScreeningRead) {
        match app.clinic.patients_missing_consents(&principal).await {
            Ok(found) => Some(found),
            Err(err) => return crate::error::ApiError::from(err).into_response(),
        }
    } else {
        None
    };
    let body = html! {
        h1 { "Good to see you, " (principal.user.display_name) }
        @let clinical = matches!(role, clinic_domain::user::Role::Physician | clinic_domain::user::Role::Nurse | clinic_domain::user::Role::Counselor);
        @if inquiry_counts.is_some() || clinical {
            h2 { "Needs you now" }
            div.cards {
                @if let Some((n_new, n_overdue)) = inquiry_counts {
                    div.card { span.count { (n_new) } a href="/inquiries?status=new" { "New inquiries to call back" } }
                    div.card { span.count { (n_overdue) } a href="/inquiries?overdue=true" { "Overdue: untouched for over one business day" } }
                }
                @if clinical {
                    @if let Some(n) = open_alerts {
                        div class={ "card" @if n > 0 { " urgent" } } { span.count { (n) } a href="/alerts" { "Open safety alerts" } br; span.muted { "Each stays open until the response is recorded." } }
                    }
                    @if let Some((missing, more)) = &missing_consents {
                        div.card {
                            span.count { (missing.len()) @if *more { "+" } } "Patients missing consents"
                            @if !missing.is_empty() {
                                ul.compact { @for (p, kinds) in missing.iter().take(5) {
                                    li { a href={ "/patients/" (p.id) "?tab=consents" } { (p.details.given_name) " " (p.details.family_name) }
                                        " " span.muted { "(" (kinds.iter().map(|k| k.as_str().replace('_', " ")).collect::<Vec<_>>().join(", ")) ")" } }
                                } }
                            }
                        }
                    }
                    @if let Some(unsigned) = &unsigned {
                        div.card {
                            span.count { (unsigned.len()) } "Eligibility decisions to sign"
                            @if !unsigned.is_empty() {
                                ul.compact { @for (id, name) in unsigned.iter().take(5) { li { a href={ "/patients/" (id) "?tab=screening#eligibility" } { (name) } } } }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(counts) = &counts {
            h2 { "Patients by status" }
            div.cards {
                @for status in PatientStatus::ALL {
                    @let n = counts.iter().find(|(s, _)| s == status).map(|(_, n)| *n).unwrap_or(0);
                    div.card {
                        span.count { (n) }
                        @if can_read {
                            a href={ "/patients?status=" (status.as_str()) } { (status_label(*status)) }
                        } @else {
                            (status_label(*status))
                        }
                    }
                }
            }
        }
        @if role_allows(role, Permission::PatientCreate) {
            p.actions { a.button href="/patients/new" { "Register a patient" } a.button.secondary href="/patients" { "Find a patient" } }
        }
        @if role_allows(role, Permission::AuditRead) {
            h2 { "Audit trail" }
            p { "Every read and change of patient data is recorded and sealed into a hash chain. "
                a href="/audit" { "Open the audit log" } "." }
        }
    };
    staff_page(&principal, &site.name, "Home", Nav::Home, body)
}
