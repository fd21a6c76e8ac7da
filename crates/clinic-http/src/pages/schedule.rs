//! The schedule pages: a site's day board (chairs and rooms × time, as a
//! picture and as a table), a clinician's week, and the booking forms posted
//! from the chart's Plan tab. A refused booking shows every reason and the
//! nearest times that would work, each bookable with one button.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration, NaiveDate, Timelike};
use clinic_domain::authz::{Permission, role_allows};
use clinic_domain::protocol::EventKind;
use clinic_domain::schedule::{BookingStatus, ResourceKind};
use clinic_service::auth::Principal;
use clinic_service::error::{ScheduleProblem, ServiceError};
use clinic_service::scheduling::{BookInput, BookingView};
use clinic_store::Store;
use maud::{Markup, html};
use uuid::Uuid;

use crate::AppState;
use crate::pages::csrf_input;
use crate::pages::{Nav, error_page, failure, form_field, form_pairs, staff_page};
use crate::routes::CSRF_FIELD;

fn query_value(query: &Option<String>, key: &str) -> Option<String> {
    form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

pub fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Infusion => "Infusion",
        EventKind::Therapy => "Therapy",
        EventKind::Integration => "Integration",
        EventKind::Assessment => "Assessment",
        EventKind::Inpatient => "Inpatient",
        EventKind::FollowUp => "Follow-up",
    }
}

fn status_label(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Booked => "Booked",
        BookingStatus::Attended => "Attended",
        BookingStatus::Cancelled => "Cancelled",
        BookingStatus::NoShow => "No-show",
        BookingStatus::Rescheduled => "Moved",
    }
}

/// The day board of a site.
pub async fn day_board<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let site_id = match query_value(&query, "site_id").map(|s| Uuid::try_parse(&s)) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "No such site",
                "site_id is not a site id",
            );
        }
        None => None,
    };
    let main = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let date = match query_value(&query, "date").map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d"))
    {
        Some(Ok(d)) => d,
        Some(Err(_)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Not a date",
                "date must be YYYY-MM-DD",
            );
        }
        None => clinic_service::Clinic::<S>::site_today(&main),
    };
    let board = match app.clinic.day_board(&principal, site_id, date).await {
        Ok(b) => b,
        Err(err) => return failure(err),
    };
    let sites = app.clinic.store().list_sites().await.unwrap_or_default();
    let resources = board
        .schedule
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let active: Vec<&BookingView> = board
        .bookings
        .iter()
        .filter(|b| b.booking.status.is_active())
        .collect();
    let inactive: Vec<&BookingView> = board
        .bookings
        .iter()
        .filter(|b| !b.booking.status.is_active())
        .collect();
    let prev = date - Duration::days(1);
    let next = date + Duration::days(1);
    let site_q = format!("site_id={}", board.site.id);
    let body = html! {
        h1 { "Day board · " (board.site.name) }
        nav.day-nav aria-label="Day" {
            a href={ "/schedule?" (site_q) "&date=" (prev) } { "← " (prev.format("%a %-d %b")) }
            strong { (date.format("%A %-d %B %Y")) }
            a href={ "/schedule?" (site_q) "&date=" (next) } { (next.format("%a %-d %b")) " →" }
            form method="get" action="/schedule" {
                @if sites.len() > 1 {
                    label for="site" { "Site" }
                    select id="site" name="site_id" {
                        @for s in &sites { option value=(s.id) selected[s.id == board.site.id] { (s.name) } }
                    }
                }
                span.field-inline {
                    label for="date" { "Date" }
                    input id="date" name="date" type="date" value=(date);
                }
                button.secondary type="submit" { "Show" }
            }
        }
        @if board.schedule.is_none() {
            p.error { "This site has no opening hours, chairs or rooms yet: needs clinic setting (an administrator sets them)." }
        }
        @if let Some(reason) = &board.closed_reason {
            p.warning { "Closed: " (reason) }
        } @else if board.opening.is_empty() && board.schedule.is_some() {
            p.muted { "The site is not open on " (date.format("%A")) "s." }
        } @else {
            p.muted { "Open " (board.opening.iter().map(|o| format!("{}–{}", o.open.format("%H:%M"), o.close.format("%H:%M"))).collect::<Vec<_>>().join(", ")) " (" (board.site.time_zone) ")"
                " · " (active.len()) " bookings · " (board.recent_no_shows) " no-shows in the last 30 days" }
        }
        @if !resources.is_empty() {
            (timeline(&board, &resources, &active))
        }
        table.stack.day-table data-testid="day-table" {
            caption { "Bookings by chair and room" }
            thead { tr { th { "Where" } th { "Time" } th { "Patient" } th { "What" } th { "With" } th { "Status" } } }
            tbody {
                @for b in board.bookings.iter() {
                    @let local = b.booking.starts_at.with_timezone(&board.zone);
                    @let end = (b.booking.starts_at + Duration::minutes(b.booking.minutes)).with_timezone(&board.zone);
                    tr data-kind=(b.booking.kind.as_str()) data-status=(b.booking.status.as_str()) {
                        td data-label="Where" { (b.resource_name.clone().unwrap_or_else(|| "—".into())) }
                        td data-label="Time" {
                            (local.format("%H:%M")) "–" (end.format("%H:%M"))
                            @if b.booking.kind == EventKind::Infusion && b.booking.occupied_until > b.booking.starts_at + Duration::minutes(b.booking.minutes) {
                                span.muted { " (recovery to " (b.booking.occupied_until.with_timezone(&board.zone).format("%H:%M")) ")" }
                            }
                        }
                        td data-label="Patient" { a href={ "/patients/" (b.booking.patient_id) "?tab=plan" } { (b.patient_name) } " " span.muted { (b.mrn) } }
                        td data-label="What" { (kind_label(b.booking.kind)) @if let Some(e) = &b.booking.escort_name { br; span.muted { "Escort: " (e) } } }
                        td data-label="With" { (b.clinician_name.clone().unwrap_or_default()) }
                        td data-label="Status" {
                            span class={ "badge status-" (b.booking.status.as_str()) } { (status_label(b.booking.status)) }
                            @if b.booking.kind == EventKind::Infusion && b.booking.status == BookingStatus::Booked && role_allows(principal.user.role, Permission::InfusionChart) {
                                " " a href={ "/bookings/" (b.booking.id) "/check-in" } { "Chart" }
                            }
                            @if matches!(b.booking.kind, EventKind::Therapy | EventKind::Integration | EventKind::FollowUp) && b.booking.status == BookingStatus::Booked && role_allows(principal.user.role, Permission::CounselingRecord) {
                                " " a href={ "/bookings/" (b.booking.id) "/counseling" } { "Record" }
                            }
                        }
                    }
                }
                @if board.bookings.is_empty() {
                    tr { td colspan="6" { "Nothing booked." } }
                }
            }
        }
        @if !inactive.is_empty() {
            p.muted { (inactive.len()) " cancelled, moved or missed booking(s) are listed with their status." }
        }
    };
    staff_page(
        &principal,
        &board.site.name,
        "Day board",
        Nav::Schedule,
        body,
    )
}

/// The day as a picture: one row per chair or room, hours across, each
/// booking a block (an infusion's recovery shaded after it). SVG attributes
/// place the blocks, so the page needs no inline style or script.
fn timeline(
    board: &clinic_service::scheduling::DayBoard,
    resources: &[clinic_store::schedule::ResourceRecord],
    active: &[&BookingView],
) -> Markup {
    let first = board
        .opening
        .iter()
        .map(|o| o.open.hour())
        .min()
        .unwrap_or(8);
    let last = board
        .opening
        .iter()
        .map(|o| {
            if o.close.minute() > 0 {
                o.close.hour() + 1
            } else {
                o.close.hour()
            }
        })
        .max()
        .unwrap_or(18)
        .max(first + 1);
    let hours = i64::from(last - first);
    let label_w = 110i64;
    let hour_w = 80i64;
    let row_h = 34i64;
    let width = label_w + hours * hour_w + 44;
    let height = 24 + row_h * i64::try_from(resources.len()).unwrap_or(0) + 4;
    let day_start = clinic_domain::schedule::hours::local_instant(
        board.zone,
        board.date,
        chrono::NaiveTime::from_hms_opt(first, 0, 0).unwrap_or_default(),
    );
    let x_of = |t: chrono::DateTime<chrono::Utc>| -> i64 {
        let minutes = day_start
            .map_or(0, |s| (t - s).num_minutes())
            .clamp(0, hours * 60);
        label_w + minutes * hour_w / 60
    };
    html! {
        figure.timeline {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (width) " " (height) } role="img" aria-labelledby="timeline-title" data-testid="day-board" {
                title id="timeline-title" { "Chairs and rooms through the day" }
                @for h in 0..=hours {
                    line x1=(label_w + h * hour_w) x2=(label_w + h * hour_w) y1="18" y2=(height) class="grid" {}
                    text x=(label_w + h * hour_w + 2) y="13" class="hour" { (format!("{:02}:00", i64::from(first) + h)) }
                }
                @for (i, r) in resources.iter().enumerate() {
                    @let y = 22 + row_h * i64::try_from(i).unwrap_or(0);
                    text x="4" y=(y + 21) class={ "resource " (r.kind.as_str()) } { (r.name) }
                    line x1="0" x2=(width) y1=(y + row_h) y2=(y + row_h) class="grid" {}
                    @for b in active.iter().filter(|b| b.booking.resource_id == Some(r.id)) {
                        @let x = x_of(b.booking.starts_at);
                        @let end = x_of(b.booking.starts_at + Duration::minutes(b.booking.minutes));
                        @let rec = x_of(b.booking.occupied_until);
                        @if rec > end { rect x=(end) y=(y + 4) width=(rec - end) height=(row_h - 8) class="recovery" {} }
                        g class={ "booking " (b.booking.kind.as_str()) } data-booking=(b.booking.id) {
                            rect x=(x) y=(y + 4) width=((end - x).max(2)) height=(row_h - 8) rx="3" {}
                            text x=(x + 3) y=(y + 22) { (b.patient_initials) }
                            title { (b.patient_initials) " · " (kind_label(b.booking.kind)) " · " (b.booking.starts_at.with_timezone(&board.zone).format("%H:%M")) }
                        }
                    }
                }
            }
            figcaption.muted {
                "Dark: the infusion or session · light: recovery in the chair · "
                @let chairs = resources.iter().filter(|r| r.kind == ResourceKind::Chair).count();
                (chairs) " chair(s), " (resources.len() - chairs) " room(s)"
            }
        }
    }
}

/// A clinician's week.
pub async fn week<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let user_id = match query_value(&query, "user_id").map(|s| Uuid::try_parse(&s)) {
        Some(Ok(id)) => id,
        Some(Err(_)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "No such clinician",
                "user_id is not an account id",
            );
        }
        None => principal.user.id,
    };
    let site = match app.clinic.main_site().await {
        Ok(site) => site,
        Err(err) => return failure(err),
    };
    let today = clinic_service::Clinic::<S>::site_today(&site);
    let start = match query_value(&query, "week").map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d"))
    {
        Some(Ok(d)) => d,
        Some(Err(_)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Not a date",
                "week must be YYYY-MM-DD",
            );
        }
        None => today,
    };
    let monday = start - Duration::days(i64::from(start.weekday().num_days_from_monday()));
    let (zone, bookings, shifts) =
        match app.clinic.clinician_week(&principal, user_id, monday).await {
            Ok(v) => v,
            Err(err) => return failure(err),
        };
    let users = app.clinic.store().list_users().await.unwrap_or_default();
    let clinicians: Vec<_> = users
        .iter()
        .filter(|u| {
            matches!(
                u.role,
                clinic_domain::user::Role::Physician
                    | clinic_domain::user::Role::Nurse
                    | clinic_domain::user::Role::Counselor
            ) && !u.disabled
        })
        .collect();
    let who = users
        .iter()
        .find(|u| u.id == user_id)
        .map(|u| u.display_name.clone())
        .unwrap_or_default();
    let body = html! {
        h1 { "Week of " (monday.format("%-d %B %Y")) " · " (who) }
        nav.day-nav aria-label="Week" {
            a href={ "/schedule/week?user_id=" (user_id) "&week=" (monday - Duration::days(7)) } { "← previous week" }
            a href={ "/schedule/week?user_id=" (user_id) "&week=" (monday + Duration::days(7)) } { "next week →" }
            form method="get" action="/schedule/week" {
                label for="who" { "Clinician" }
                select id="who" name="user_id" { @for c in &clinicians { option value=(c.id) selected[c.id == user_id] { (c.display_name) " (" (c.role.as_str()) ")" } } }
                input type="hidden" name="week" value=(monday);
                button.secondary type="submit" { "Show" }
            }
        }
        div.week {
            @for d in 0..7 {
                @let day = monday + Duration::days(d);
                section.weekday data-date=(day) {
                    h2 { (day.format("%a %-d %b")) @if day == today { " " span.badge { "today" } } }
                    @for s in shifts.iter().filter(|s| s.starts_at.with_timezone(&zone).date_naive() == day) {
                        p.muted { "On site " (s.starts_at.with_timezone(&zone).format("%H:%M")) "–" (s.ends_at.with_timezone(&zone).format("%H:%M")) }
                    }
                    ul {
                        @for b in bookings.iter().filter(|b| b.booking.starts_at.with_timezone(&zone).date_naive() == day) {
                            li class={ "status-" (b.booking.status.as_str()) } {
                                strong { (b.booking.starts_at.with_timezone(&zone).format("%H:%M")) } " "
                                (kind_label(b.booking.kind)) " · " a href={ "/patients/" (b.booking.patient_id) "?tab=plan" } { (b.patient_name) }
                                @if let Some(r) = &b.resource_name { " · " (r) }
                                @if !b.booking.status.is_active() { " · " (status_label(b.booking.status)) }
                            }
                        }
                    }
                }
            }
        }
        p.muted { "Sessions led, and for nurses and physicians the infusions running while on site. The whole site is on the " a href="/schedule" { "day board" } ". " a href="/calendar" { "Calendar feed for your phone" } }
    };
    staff_page(&principal, &site.name, "Week", Nav::Schedule, body)
}

fn book_input(p: &[(String, String)]) -> BookInput {
    BookInput {
        date: form_field(p, "date"),
        time: form_field(p, "time"),
        resource_id: form_field(p, "resource_id"),
        clinician_id: form_field(p, "clinician_id"),
        escort_name: form_field(p, "escort_name"),
        minutes: form_field(p, "minutes"),
    }
}

/// Shows why a booking was refused and the nearest times, each a button.
fn refused<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    site_name: &str,
    problem: &ScheduleProblem,
    action: &str,
    pairs: &[(String, String)],
    back: &str,
) -> Response {
    let _ = app;
    let body = html! {
        section.card role="alert" #schedule-conflict {
            h1 { "Not booked" }
            p { (problem.message) }
            ul.conflicts {
                @for (code, _field, message) in &problem.conflicts {
                    li data-code=(code) { (message) }
                }
            }
            @if problem.alternatives.is_empty() {
                p { "No free time was found within a week either side." }
            } @else {
                h2 { "Nearest times that work" }
                ul.alternatives {
                    @for alt in &problem.alternatives {
                        li {
                            form method="post" action=(action) {
                                (csrf_input(principal))
                                @for (k, v) in pairs.iter().filter(|(k, _)| !matches!(k.as_str(), "date" | "time" | "resource_id" | "clinician_id") && k != CSRF_FIELD) {
                                    input type="hidden" name=(k) value=(v);
                                }
                                input type="hidden" name="date" value=(alt.local_date);
                                input type="hidden" name="time" value=(alt.local_time);
                                @if let Some(r) = alt.resource_id { input type="hidden" name="resource_id" value=(r); }
                                @if let Some(c) = alt.clinician_id { input type="hidden" name="clinician_id" value=(c); }
                                button type="submit" { "Book " (alt.local) @if let Some(n) = &alt.resource_name { " · " (n) } }
                            }
                        }
                    }
                }
            }
            p { a href=(back) { "Back to the plan" } }
        }
    };
    let mut res = staff_page(principal, site_name, "Not booked", Nav::Schedule, body);
    *res.status_mut() = StatusCode::CONFLICT;
    res
}

async fn answer<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    result: Result<String, ServiceError>,
    action: &str,
    pairs: &[(String, String)],
    back: &str,
    title: &str,
) -> Response {
    match result {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(ServiceError::Unbookable(problem)) => {
            let site = app
                .clinic
                .main_site()
                .await
                .map(|s| s.name)
                .unwrap_or_default();
            refused(app, principal, &site, &problem, action, pairs, back)
        }
        Err(ServiceError::Invalid(errors)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not saved",
            &format!(
                "{title}: {}",
                errors
                    .0
                    .iter()
                    .map(|e| format!("{}: {}", e.field.replace('_', " "), e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Err(ServiceError::Conflict { message, .. }) => error_page(
            StatusCode::CONFLICT,
            "Not saved",
            &format!("{title}: {message}"),
        ),
        Err(ServiceError::StaleVersion { .. }) => error_page(
            StatusCode::CONFLICT,
            "Not saved",
            "Someone changed this booking since you opened it. Go back and reload.",
        ),
        Err(other) => failure(other),
    }
}

async fn chart_of_event<S: Store>(app: &AppState<S>, event_id: Uuid) -> String {
    match app.clinic.store().plan_of_event(event_id).await {
        Ok(plan_id) => match app.clinic.store().get_plan(plan_id).await {
            Ok(plan) => format!("/patients/{}?tab=plan", plan.header.patient_id),
            Err(_) => "/schedule".into(),
        },
        Err(_) => "/schedule".into(),
    }
}

pub async fn book<S: Store>(
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
    let back = chart_of_event(&app, event_id).await;
    let result = app
        .clinic
        .book_event(&principal, event_id, &book_input(&p))
        .await
        .map(|_| back.clone());
    answer(
        &app,
        &principal,
        result,
        &format!("/plan-events/{event_id}/booking"),
        &p,
        &back,
        "The event was not booked",
    )
    .await
}

pub async fn schedule_plan<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let Ok(plan_id) = Uuid::try_parse(&id) else {
        return failure(ServiceError::NotFound { resource: "plan" });
    };
    let p = form_pairs(&raw);
    let back = match app.clinic.store().get_plan(plan_id).await {
        Ok(plan) => format!("/patients/{}?tab=plan", plan.header.patient_id),
        Err(_) => "/schedule".into(),
    };
    let result = app
        .clinic
        .schedule_whole_plan(
            &principal,
            plan_id,
            form_field(&p, "time").as_deref(),
            form_field(&p, "escort_name").as_deref(),
        )
        .await
        .map(|_| back.clone());
    match result {
        // The alternatives of a whole-plan failure book that one event.
        Err(ServiceError::Unbookable(problem)) if problem.event_id.is_some() => {
            let site = app
                .clinic
                .main_site()
                .await
                .map(|s| s.name)
                .unwrap_or_default();
            let action = format!(
                "/plan-events/{}/booking",
                problem.event_id.unwrap_or_default()
            );
            let pairs: Vec<(String, String)> = p
                .iter()
                .filter(|(k, _)| k == "escort_name")
                .cloned()
                .collect();
            refused(&app, &principal, &site, &problem, &action, &pairs, &back)
        }
        other => {
            answer(
                &app,
                &principal,
                other,
                &format!("/plans/{plan_id}/schedule"),
                &p,
                &back,
                "The plan was not scheduled",
            )
            .await
        }
    }
}

async fn booking_back<S: Store>(app: &AppState<S>, booking_id: Uuid) -> String {
    match app.clinic.store().get_booking(booking_id).await {
        Ok(b) => format!("/patients/{}?tab=plan", b.patient_id),
        Err(_) => "/schedule".into(),
    }
}

pub async fn cancel<S: Store>(
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
    let version = form_field(&p, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let back = booking_back(&app, booking_id).await;
    let result = app
        .clinic
        .cancel_booking(
            &principal,
            booking_id,
            version,
            form_field(&p, "reason").as_deref(),
        )
        .await
        .map(|_| back.clone());
    answer(
        &app,
        &principal,
        result,
        "",
        &p,
        &back,
        "The booking was not cancelled",
    )
    .await
}

pub async fn no_show<S: Store>(
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
    let version = form_field(&p, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let back = booking_back(&app, booking_id).await;
    let result = app
        .clinic
        .record_no_show(
            &principal,
            booking_id,
            version,
            form_field(&p, "reason").as_deref(),
        )
        .await
        .map(|_| back.clone());
    answer(
        &app,
        &principal,
        result,
        "",
        &p,
        &back,
        "The no-show was not recorded",
    )
    .await
}

pub async fn reschedule<S: Store>(
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
    let version = form_field(&p, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let back = booking_back(&app, booking_id).await;
    let result = app
        .clinic
        .reschedule_booking(
            &principal,
            booking_id,
            version,
            &book_input(&p),
            form_field(&p, "reason").as_deref(),
        )
        .await
        .map(|_| back.clone());
    answer(
        &app,
        &principal,
        result,
        &format!("/bookings/{booking_id}/reschedule"),
        &p,
        &back,
        "The booking was not moved",
    )
    .await
}

/// Booking controls of one plan event in the chart: book it, or act on its booking.
pub fn event_booking_controls(
    principal: &Principal,
    event: &clinic_domain::plan::PlanEvent,
    booking: Option<&BookingView>,
    zone: chrono_tz::Tz,
    plan_signed: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Markup {
    if !role_allows(principal.user.role, Permission::ScheduleManage) {
        return html! {};
    }
    let id = event.id;
    match booking {
        Some(b) if b.booking.status == BookingStatus::Booked => {
            let bid = b.booking.id;
            let local = b.booking.starts_at.with_timezone(&zone);
            html! {
                details.event-change {
                    summary { "Booking" }
                    form method="post" action={ "/bookings/" (bid) "/reschedule" } {
                        (csrf_input(principal))
                        input type="hidden" name="version" value=(b.booking.version);
                        label for={ "rs-date-" (bid) } { "Move to" }
                        input id={ "rs-date-" (bid) } name="date" type="date" value=(local.date_naive()) required;
                        label for={ "rs-time-" (bid) } { "at" }
                        input id={ "rs-time-" (bid) } name="time" type="time" value=(local.format("%H:%M")) required;
                        label for={ "rs-reason-" (bid) } { "Reason" }
                        input id={ "rs-reason-" (bid) } name="reason" required;
                        button type="submit" { "Reschedule" }
                    }
                    form method="post" action={ "/bookings/" (bid) "/cancel" } {
                        (csrf_input(principal))
                        input type="hidden" name="version" value=(b.booking.version);
                        label for={ "cx-reason-" (bid) } { "Reason" }
                        input id={ "cx-reason-" (bid) } name="reason" required;
                        button.secondary type="submit" { "Cancel booking" }
                    }
                    @if b.booking.starts_at <= now {
                        form method="post" action={ "/bookings/" (bid) "/no-show" } {
                            (csrf_input(principal))
                            input type="hidden" name="version" value=(b.booking.version);
                            input type="hidden" name="reason" value="";
                            button.secondary type="submit" { "Record no-show" }
                        }
                    }
                }
            }
        }
        _ if plan_signed
            && event.status == clinic_domain::plan::EventStatus::Planned
            && event.kind != EventKind::Inpatient =>
        {
            html! {
                details.event-book {
                    summary { "Book" }
                    form method="post" action={ "/plan-events/" (id) "/booking" } {
                        (csrf_input(principal))
                        label for={ "bk-date-" (id) } { "Date" }
                        input id={ "bk-date-" (id) } name="date" type="date" value=(event.date) required;
                        label for={ "bk-time-" (id) } { "Time" }
                        input id={ "bk-time-" (id) } name="time" type="time" value="09:00" required;
                        @if event.kind == EventKind::Infusion {
                            label for={ "bk-escort-" (id) } { "Escort (who takes the patient home)" }
                            input id={ "bk-escort-" (id) } name="escort_name";
                        }
                        @if matches!(event.kind, EventKind::Assessment | EventKind::FollowUp) {
                            label for={ "bk-min-" (id) } { "Minutes" }
                            input id={ "bk-min-" (id) } name="minutes" inputmode="numeric" required;
                        }
                        button type="submit" { "Book" }
                    }
                }
            }
        }
        _ => html! {},
    }
}

fn feed_host<S: Store>(app: &AppState<S>) -> String {
    app.clinic
        .config()
        .safety
        .public_url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .map(|rest| {
            rest.split(['/', ':'])
                .next()
                .unwrap_or("ketaclinic.local")
                .to_string()
        })
        .unwrap_or_else(|| "ketaclinic.local".into())
}

fn feed_url<S: Store>(app: &AppState<S>, path: &str) -> String {
    match app.clinic.config().safety.public_url.as_deref() {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path.to_string(),
    }
}

/// The clinician's calendar feed page: make a new secret link, or stop all.
pub async fn calendar_page<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
) -> Response {
    calendar_body(&app, &principal, None).await
}

async fn calendar_body<S: Store>(
    app: &AppState<S>,
    principal: &Principal,
    new_link: Option<String>,
) -> Response {
    let site = app
        .clinic
        .main_site()
        .await
        .map(|s| s.name)
        .unwrap_or_default();
    let body = html! {
        h1 { "Your calendar feed" }
        section.card {
            p { "Subscribe to your bookings from a calendar app with a secret link. Titles say the kind of appointment and the chair or room, never the patient. Anyone with the link can read it: keep it private, and stop it if it leaks." }
            @if let Some(link) = &new_link {
                p.ok { "Your new link (shown once; older links no longer work):" }
                p { code data-testid="feed-url" { (link) } }
            }
            form method="post" action="/calendar-feeds" {
                (csrf_input(principal))
                button type="submit" { "Make a new link" }
            }
            form method="post" action="/calendar-feeds/revoke" {
                (csrf_input(principal))
                button.secondary type="submit" { "Stop every link" }
            }
        }
    };
    staff_page(principal, &site, "Calendar feed", Nav::Schedule, body)
}

pub async fn create_feed<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
) -> Response {
    match app.clinic.create_calendar_feed(&principal).await {
        Ok(path) => calendar_body(&app, &principal, Some(feed_url(&app, &path))).await,
        Err(err) => failure(err),
    }
}

pub async fn revoke_feeds<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
) -> Response {
    match app.clinic.revoke_calendar_feeds(&principal).await {
        Ok(_) => Redirect::to("/calendar").into_response(),
        Err(err) => failure(err),
    }
}

/// The feed itself, for calendar apps (the secret token is the only key).
pub async fn feed<S: Store>(State(app): State<AppState<S>>, Path(file): Path<String>) -> Response {
    let Some(token) = file.strip_suffix(".ics") else {
        return error_page(StatusCode::NOT_FOUND, "Not found", "no such calendar");
    };
    match app.clinic.calendar_feed(token, &feed_host(&app)).await {
        Ok(Some(ics)) => {
            let mut res = ics.into_response();
            res.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/calendar; charset=utf-8"),
            );
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("private, no-store"),
            );
            res
        }
        Ok(None) => error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "no such calendar, or the link was stopped",
        ),
        Err(err) => failure(err),
    }
}
