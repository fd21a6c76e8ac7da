//! The outbox: every message to a patient and page to staff, as written. A
//! delivery adapter sends them; the demo has none and shows them here.

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use clinic_service::auth::Principal;
use clinic_store::Store;
use maud::html;

use crate::pages::{site_time, staff_page, Nav};
use crate::pages::failure;
use crate::AppState;

pub async fn page<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>) -> Response {
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let messages = match app.clinic.outbox(&principal).await {
        Ok(messages) => messages,
        Err(err) => return failure(err),
    };
    let demo = app.clinic.config().mode == clinic_service::DeploymentMode::Demo;
    let body = html! {
        h1 { "Outbox" }
        @if demo {
            p.notice { "Demo: no messages leave this computer. Links below open the patient portal as the patient would." }
        }
        @if messages.is_empty() { p { "No messages yet." } } @else {
            table.stack {
                thead { tr { th { "Written" } th { "Channel" } th { "To" } th { "Message" } th { "Sent" } } }
                tbody {
                    @for m in &messages {
                        tr {
                            td data-label="Written" { (site_time(m.created_at, &site.time_zone)) }
                            td data-label="Channel" { (m.channel.as_str()) }
                            td data-label="To" { (m.address) }
                            td data-label="Message" {
                                // Only the demo shows links whole: in a real clinic the link is the patient's key.
                                @if demo { (linkify(&m.body)) } @else { (redact_links(&m.body)) }
                            }
                            td data-label="Sent" { (m.sent_at.map(|t| site_time(t, &site.time_zone)).unwrap_or_else(|| "waiting".into())) }
                        }
                    }
                }
            }
        }
    };
    staff_page(&principal, &site.name, "Outbox", Nav::Outbox, body)
}

fn linkify(body: &str) -> maud::Markup {
    html! {
        @for (idx, word) in body.split(' ').enumerate() {
            @if idx > 0 { " " }
            @if word.starts_with("http://") || word.starts_with("https://") { a href=(word) { (word) } } @else { (word) }
        }
    }
}

fn redact_links(body: &str) -> String {
    body.split(' ')
        .map(|word| if word.contains("/portal/l/") { "[private link]" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}
