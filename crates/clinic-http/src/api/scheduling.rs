//! Scheduling over JSON: a site's settings, staff hours, booking a plan
//! event or a whole plan, rescheduling, cancelling, no-shows, the day board
//! and a patient's bookings. A refused booking answers 409
//! `schedule_conflict` with every conflict and the nearest alternatives.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use clinic_domain::authz::Permission;
use clinic_service::auth::Principal;
use clinic_service::scheduling::{BookInput, BookingView, SiteScheduleInput, StaffHoursInput};
use clinic_store::Store;
use clinic_store::schedule::{BookingRecord, SiteScheduleRecord};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
use crate::api::patients::{expected_version, parse_id};
use crate::api::{Versioned, with_etag};
use crate::dto::ListResponse;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{Access, RouteSpec, RouteTable};

fn schema<T: JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

fn any_id(text: &str, what: &'static str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text).map_err(|_| {
        ApiError::field(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "Not found",
            "id",
            what,
        )
    })
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BookWrite {
    /// YYYY-MM-DD in the site's zone (default: the event's planned date).
    pub date: Option<String>,
    /// HH:MM in the site's zone.
    pub time: Option<String>,
    pub resource_id: Option<String>,
    pub clinician_id: Option<String>,
    /// Who takes the patient home after an infusion (default: the chart's escort).
    pub escort_name: Option<String>,
    /// Length in minutes when neither the protocol nor the clinic gives one.
    pub minutes: Option<String>,
}

impl BookWrite {
    fn input(self) -> BookInput {
        BookInput {
            date: self.date,
            time: self.time,
            resource_id: self.resource_id,
            clinician_id: self.clinician_id,
            escort_name: self.escort_name,
            minutes: self.minutes,
        }
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WholePlanWrite {
    /// HH:MM: the time tried first each day.
    pub time: Option<String>,
    pub escort_name: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonWrite {
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleWrite {
    pub date: Option<String>,
    pub time: Option<String>,
    pub escort_name: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BookingDto {
    pub id: Uuid,
    pub site_id: Uuid,
    pub patient_id: Uuid,
    pub plan_event_id: Option<Uuid>,
    pub kind: &'static str,
    pub resource_id: Option<Uuid>,
    pub resource_name: Option<String>,
    pub clinician_id: Option<Uuid>,
    pub clinician_name: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub minutes: i64,
    /// The end of recovery for an infusion.
    pub occupied_until: DateTime<Utc>,
    pub escort_name: Option<String>,
    /// booked, attended, cancelled, no_show, rescheduled.
    pub status: &'static str,
    pub replaces: Option<Uuid>,
    pub reason: Option<String>,
    /// The ETag.
    pub version: i64,
}

impl BookingDto {
    fn from_record(
        b: &BookingRecord,
        resource_name: Option<String>,
        clinician_name: Option<String>,
    ) -> BookingDto {
        BookingDto {
            id: b.id,
            site_id: b.site_id,
            patient_id: b.patient_id,
            plan_event_id: b.plan_event_id,
            kind: b.kind.as_str(),
            resource_id: b.resource_id,
            resource_name,
            clinician_id: b.clinician_id,
            clinician_name,
            starts_at: b.starts_at,
            minutes: b.minutes,
            occupied_until: b.occupied_until,
            escort_name: b.escort_name.clone(),
            status: b.status.as_str(),
            replaces: b.replaces,
            reason: b.reason.clone(),
            version: b.version,
        }
    }

    fn from_view(v: &BookingView) -> BookingDto {
        BookingDto::from_record(
            &v.booking,
            v.resource_name.clone(),
            v.clinician_name.clone(),
        )
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DayBoardDto {
    pub site_id: Uuid,
    pub date: NaiveDate,
    pub time_zone: String,
    /// Opening intervals of the day, local HH:MM.
    pub opening: Vec<(String, String)>,
    pub closed_reason: Option<String>,
    pub bookings: Vec<BookingDto>,
    pub recent_no_shows: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteScheduleDto {
    pub site_id: Uuid,
    pub time_zone: String,
    /// null: needs clinic setting.
    pub recovery_minutes: Option<i64>,
    pub nurses_per_chair: Option<(i64, i64)>,
    pub physician_on_site: Option<bool>,
    /// Settings not yet set by the clinic.
    pub needs_clinic_setting: Vec<&'static str>,
    pub hours: Vec<(String, String, String)>,
    pub closures: Vec<(NaiveDate, String)>,
    pub resources: Vec<(Uuid, &'static str, String)>,
    pub version: i64,
}

fn site_dto(time_zone: &str, r: &SiteScheduleRecord) -> SiteScheduleDto {
    let mut unset = Vec::new();
    if r.recovery_minutes.is_none() {
        unset.push("recovery_minutes");
    }
    if r.nurses_per_chairs.is_none() {
        unset.push("nurses_per_chair");
    }
    if r.physician_on_site.is_none() {
        unset.push("physician_on_site");
    }
    SiteScheduleDto {
        site_id: r.site_id,
        time_zone: time_zone.to_string(),
        recovery_minutes: r.recovery_minutes,
        nurses_per_chair: r.nurses_per_chairs,
        physician_on_site: r.physician_on_site,
        needs_clinic_setting: unset,
        hours: r
            .hours
            .iter()
            .map(|h| {
                let day = usize::try_from(h.weekday)
                    .ok()
                    .and_then(|i| clinic_service::scheduling::WEEKDAY_NAMES.get(i))
                    .copied()
                    .unwrap_or("?");
                (
                    day.to_string(),
                    h.opens.format("%H:%M").to_string(),
                    h.closes.format("%H:%M").to_string(),
                )
            })
            .collect(),
        closures: r.closures.clone(),
        resources: r
            .resources
            .iter()
            .map(|x| (x.id, x.kind.as_str(), x.name.clone()))
            .collect(),
        version: r.version,
    }
}

pub fn routes<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    table
        .add(
            RouteSpec {
                response: Some(schema::<SiteScheduleDto>),
                ..RouteSpec::api("GET", "/api/v1/sites/{id}/schedule", Access::Permission(Permission::ScheduleRead), "A site's opening hours, closures, chairs, rooms and rules (unset ones listed)")
            },
            get(site_schedule::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<SiteScheduleDto>),
                ..RouteSpec::api("PUT", "/api/v1/sites/{id}/schedule", Access::Permission(Permission::SiteManage), "Set a site's hours, closures, chairs, rooms and rules")
            },
            put(save_site_schedule::<S>),
        )
        .add(
            RouteSpec { success_status: 201, ..RouteSpec::api("POST", "/api/v1/sites/{id}/staff-hours", Access::Permission(Permission::SiteManage), "Add a staff member's time on site over a run of days") },
            post(staff_hours::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<BookWrite>),
                response: Some(schema::<BookingDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/plan-events/{id}/booking", Access::Permission(Permission::ScheduleManage), "Book a signed plan's event at a local date and time")
            },
            post(book::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<WholePlanWrite>),
                response: Some(schema::<ListResponse<BookingDto>>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/plans/{id}/schedule", Access::Permission(Permission::ScheduleManage), "Book every planned infusion and session of a signed plan, or nothing and the event that cannot fit")
            },
            post(schedule_plan::<S>),
        )
        .add(
            RouteSpec { response: Some(schema::<BookingDto>), ..RouteSpec::api("GET", "/api/v1/bookings/{id}", Access::Permission(Permission::ScheduleRead), "A booking") },
            get(read_booking::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<ReasonWrite>),
                response: Some(schema::<BookingDto>),
                ..RouteSpec::api("POST", "/api/v1/bookings/{id}/cancel", Access::Permission(Permission::ScheduleManage), "Cancel with a reason; needs If-Match")
            },
            post(cancel::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<ReasonWrite>),
                response: Some(schema::<BookingDto>),
                ..RouteSpec::api("POST", "/api/v1/bookings/{id}/no-show", Access::Permission(Permission::ScheduleManage), "Record a no-show once the time has come; needs If-Match")
            },
            post(no_show::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<RescheduleWrite>),
                response: Some(schema::<BookingDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/bookings/{id}/reschedule", Access::Permission(Permission::ScheduleManage), "Move to another date and time with a reason; needs If-Match")
            },
            post(reschedule::<S>),
        )
        .add(
            RouteSpec {
                query: &[("site_id", "a site id (default: the main site)"), ("date", "YYYY-MM-DD (default: today at the site)")],
                response: Some(schema::<DayBoardDto>),
                ..RouteSpec::api("GET", "/api/v1/day-board", Access::Permission(Permission::ScheduleRead), "A site's bookings on a day, chair by chair")
            },
            get(day_board::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<BookingDto>>),
                ..RouteSpec::api("GET", "/api/v1/patients/{id}/bookings", Access::Permission(Permission::ScheduleRead), "A patient's bookings, any status, by start")
            },
            get(patient_bookings::<S>),
        )
}

pub async fn site_schedule<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<SiteScheduleDto>, ApiError> {
    let (site, record) = app
        .clinic
        .site_schedule(&principal, any_id(&id, "is not a site id")?)
        .await?;
    let record = record.ok_or_else(|| ApiError::not_found("schedule settings for this site"))?;
    Ok(Json(site_dto(&site.time_zone, &record)))
}

pub async fn save_site_schedule<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SiteScheduleInput>,
) -> Result<Json<SiteScheduleDto>, ApiError> {
    let site_id = any_id(&id, "is not a site id")?;
    let record = app
        .clinic
        .save_site_schedule(&principal, site_id, &body)
        .await?;
    let (site, _) = app.clinic.site_schedule(&principal, site_id).await?;
    Ok(Json(site_dto(&site.time_zone, &record)))
}

pub async fn staff_hours<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StaffHoursInput>,
) -> Result<Response, ApiError> {
    let n = app
        .clinic
        .add_staff_hours(&principal, any_id(&id, "is not a site id")?, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "added": n }))).into_response())
}

pub async fn book<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BookWrite>,
) -> Result<Response, ApiError> {
    let booking = app
        .clinic
        .book_event(
            &principal,
            any_id(&id, "is not a plan event id")?,
            &body.input(),
        )
        .await?;
    Ok(with_etag(
        StatusCode::CREATED,
        BookingDto::from_record(&booking, None, None),
    ))
}

pub async fn schedule_plan<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WholePlanWrite>,
) -> Result<Response, ApiError> {
    let bookings = app
        .clinic
        .schedule_whole_plan(
            &principal,
            any_id(&id, "is not a plan id")?,
            body.time.as_deref(),
            body.escort_name.as_deref(),
        )
        .await?;
    let items: Vec<BookingDto> = bookings
        .iter()
        .map(|b| BookingDto::from_record(b, None, None))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(ListResponse {
            items,
            next_cursor: None,
        }),
    )
        .into_response())
}

pub async fn read_booking<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let booking = app
        .clinic
        .get_booking(&principal, any_id(&id, "is not a booking id")?)
        .await?;
    Ok(with_etag(StatusCode::OK, BookingDto::from_view(&booking)))
}

pub async fn cancel<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ReasonWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let booking = app
        .clinic
        .cancel_booking(
            &principal,
            any_id(&id, "is not a booking id")?,
            version,
            body.reason.as_deref(),
        )
        .await?;
    Ok(with_etag(
        StatusCode::OK,
        BookingDto::from_record(&booking, None, None),
    ))
}

pub async fn no_show<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ReasonWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let booking = app
        .clinic
        .record_no_show(
            &principal,
            any_id(&id, "is not a booking id")?,
            version,
            body.reason.as_deref(),
        )
        .await?;
    Ok(with_etag(
        StatusCode::OK,
        BookingDto::from_record(&booking, None, None),
    ))
}

pub async fn reschedule<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RescheduleWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let input = BookInput {
        date: body.date,
        time: body.time,
        escort_name: body.escort_name,
        ..Default::default()
    };
    let booking = app
        .clinic
        .reschedule_booking(
            &principal,
            any_id(&id, "is not a booking id")?,
            version,
            &input,
            body.reason.as_deref(),
        )
        .await?;
    Ok(with_etag(
        StatusCode::CREATED,
        BookingDto::from_record(&booking, None, None),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayBoardQuery {
    pub site_id: Option<String>,
    pub date: Option<String>,
}

pub async fn day_board<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<DayBoardQuery>,
) -> Result<Json<DayBoardDto>, ApiError> {
    let mut errors = Vec::new();
    let site_id = match query.site_id.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Uuid::try_parse(text)
            .map_err(|_| {
                errors.push(clinic_domain::field::FieldError::new(
                    "site_id",
                    "not a site id",
                ))
            })
            .ok(),
        None => None,
    };
    let date = match query.date.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| {
                errors.push(clinic_domain::field::FieldError::new(
                    "date",
                    "a date as YYYY-MM-DD",
                ))
            })
            .ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(clinic_domain::field::FieldErrors(
            errors,
        )));
    }
    let site = match site_id {
        Some(_) => None,
        None => Some(app.clinic.main_site().await?),
    };
    let date = match (date, &site) {
        (Some(d), _) => d,
        (None, Some(site)) => clinic_service::Clinic::<S>::site_today(site),
        (None, None) => clinic_service::now().date_naive(),
    };
    let board = app.clinic.day_board(&principal, site_id, date).await?;
    Ok(Json(DayBoardDto {
        site_id: board.site.id,
        date: board.date,
        time_zone: board.site.time_zone.clone(),
        opening: board
            .opening
            .iter()
            .map(|o| {
                (
                    o.open.format("%H:%M").to_string(),
                    o.close.format("%H:%M").to_string(),
                )
            })
            .collect(),
        closed_reason: board.closed_reason.clone(),
        bookings: board.bookings.iter().map(BookingDto::from_view).collect(),
        recent_no_shows: board.recent_no_shows,
    }))
}

pub async fn patient_bookings<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<BookingDto>>, ApiError> {
    let views = app
        .clinic
        .patient_bookings(&principal, parse_id(&id)?)
        .await?;
    Ok(Json(ListResponse {
        items: views.iter().map(BookingDto::from_view).collect(),
        next_cursor: None,
    }))
}

impl Versioned for BookingDto {
    fn version(&self) -> i64 {
        self.version
    }
}
