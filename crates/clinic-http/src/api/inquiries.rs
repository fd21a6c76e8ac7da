//! The inquiry API: public submission and the staff queue.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::inquiry::{Inquiry, InquiryInput};
use clinic_service::auth::Principal;
use clinic_service::inquiries::{CallInput, InquiryQuery, InquiryUpdate, Submitter};
use clinic_service::patients::DuplicatePolicy;
use clinic_store::Store;

use crate::api::patients::{expected_version, parse_id};
use crate::dto::{CallWrite, ConvertWrite, InquiryDto, InquiryListQuery, InquiryPatch, InquiryWrite, ListResponse, PatientDto};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiJson, ApiQuery, ClientAddr};
use crate::AppState;

fn with_etag(status: StatusCode, inquiry: &Inquiry, calls: Option<&[clinic_domain::inquiry::InquiryCall]>) -> Response {
    let mut res = (status, Json(InquiryDto::from_inquiry(inquiry, calls))).into_response();
    if let Ok(value) = HeaderValue::from_str(&crate::api::patients::etag(inquiry.version)) {
        res.headers_mut().insert(header::ETAG, value);
    }
    res
}

/// The honeypot: a field people never see. Anything in it means a bot.
pub fn refuse_honeypot(website: Option<&str>) -> Result<(), ApiError> {
    if website.is_some_and(|w| !w.trim().is_empty()) {
        return Err(ApiError::field(StatusCode::BAD_REQUEST, ErrorCode::SpamSuspected, "Submission refused", "website", "must be left empty"));
    }
    Ok(())
}

pub fn rate_limited(retry_after: chrono::DateTime<chrono::Utc>) -> ApiError {
    let seconds = (retry_after - chrono::Utc::now()).num_seconds().max(1);
    let mut err = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Throttled,
        "Too many submissions",
        format!("too many submissions from this address; try again in {seconds} seconds, or call the clinic"),
    );
    err.retry_after_seconds = Some(seconds);
    err
}

pub fn into_input(body: InquiryWrite) -> (InquiryInput, Option<String>) {
    let input = InquiryInput {
        name: body.name,
        phone: body.phone,
        email: body.email,
        substances: body.substances.unwrap_or_default(),
        preferred_contact_time: body.preferred_contact_time,
        contact_channel: body.contact_channel,
        message: body.message,
        consent_to_contact: body.consent_to_contact,
    };
    (input, body.website)
}

pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InquiryWrite>,
) -> Result<Response, ApiError> {
    // Staff with a token record phone inquiries and are not rate-limited.
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    let principal = match bearer {
        Some(token) => Some(app.clinic.authenticate(token, addr.clone()).await?),
        None => None,
    };
    // A signed-in account that does not work the queue submits like the public.
    let principal = principal.filter(|p| role_allows(p.user.role, Permission::InquiryManage));
    let (input, website) = into_input(body);
    refuse_honeypot(website.as_deref())?;
    let inquiry = match &principal {
        Some(principal) => app.clinic.submit_inquiry(Submitter::Staff(principal), &input).await?,
        None => {
            let client = addr.clone().unwrap_or_else(|| "unknown".into());
            if let Some(retry) = app.limiter.check(&client, chrono::Utc::now()) {
                return Err(rate_limited(retry));
            }
            app.clinic.submit_inquiry(Submitter::Public { client_addr: addr }, &input).await?
        }
    };
    let mut res = with_etag(StatusCode::CREATED, &inquiry, None);
    if let Ok(value) = HeaderValue::from_str(&format!("/api/v1/inquiries/{}", inquiry.id)) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    Ok(res)
}

pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<InquiryListQuery>,
) -> Result<Json<ListResponse<InquiryDto>>, ApiError> {
    let query = InquiryQuery { q: query.q, status: query.status, overdue: query.overdue.unwrap_or(false), cursor: query.cursor, limit: query.limit };
    let page = app.clinic.list_inquiries(&principal, &query).await?;
    Ok(Json(ListResponse { items: page.items.iter().map(|i| InquiryDto::from_inquiry(i, None)).collect(), next_cursor: page.next_cursor }))
}

pub async fn read<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let record = app.clinic.get_inquiry(&principal, parse_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, &record.inquiry, Some(&record.calls)))
}

pub async fn update<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InquiryPatch>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let version = expected_version(&headers)?;
    let update = InquiryUpdate { status: body.status, close_reason: body.close_reason, assigned_to: body.assigned_to };
    let inquiry = app.clinic.update_inquiry(&principal, id, version, &update).await?;
    Ok(with_etag(StatusCode::OK, &inquiry, None))
}

pub async fn log_call<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CallWrite>,
) -> Result<Response, ApiError> {
    let input = CallInput { direction: body.direction, outcome: body.outcome, note: body.note, called_at: body.called_at };
    let inquiry = app.clinic.log_inquiry_call(&principal, parse_id(&id)?, &input).await?;
    Ok(with_etag(StatusCode::CREATED, &inquiry, None))
}

pub async fn convert<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ConvertWrite>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let version = expected_version(&headers)?;
    let duplicates = if body.confirm_not_duplicate == Some(true) { DuplicatePolicy::RegisterAnyway } else { DuplicatePolicy::Refuse };
    let extra = clinic_domain::patient::PatientInput {
        given_name: body.given_name,
        family_name: body.family_name,
        date_of_birth: body.date_of_birth,
        sex_at_birth: body.sex_at_birth,
        ..Default::default()
    };
    let (inquiry, patient) = app.clinic.convert_inquiry(&principal, id, version, &extra, duplicates).await?;
    let body = serde_json::json!({ "inquiry": InquiryDto::from_inquiry(&inquiry, None), "patient": PatientDto::from_patient(&patient) });
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("/api/v1/patients/{}", patient.id)) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    Ok(res)
}
