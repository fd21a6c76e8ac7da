//! The JSON API under `/api/v1`.

pub mod audit;
pub mod auth;
pub mod eligibility;
pub mod inquiries;
pub mod openapi;
pub mod orders;
pub mod patients;
pub mod plans;
pub mod scheduling;
pub mod screening;

use axum::routing::{get, patch, post};
use clinic_domain::authz::Permission;
use clinic_store::Store;

use crate::dto::*;
use crate::routes::{Access, RouteSpec, RouteTable};

/// A JSON body with the record's version as its ETag (for `If-Match`).
pub(crate) fn json_with_etag<T: serde::Serialize>(status: axum::http::StatusCode, version: i64, body: T) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut res = (status, axum::Json(body)).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&patients::etag(version)) {
        res.headers_mut().insert(axum::http::header::ETAG, value);
    }
    res
}

/// A DTO that carries its record's version (its ETag).
pub(crate) trait Versioned {
    fn version(&self) -> i64;
}

/// A versioned DTO as JSON with its ETag.
pub(crate) fn with_etag<T: serde::Serialize + Versioned>(status: axum::http::StatusCode, dto: T) -> axum::response::Response {
    json_with_etag(status, dto.version(), dto)
}

/// A JSON string or number as the text it was written with (numbers keep
/// their digits, so an exact decimal is never read through a float).
pub(crate) fn text_of(value: Option<&serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn schema<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

pub fn routes<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    let table = table
        .add(
            RouteSpec {
                request: Some(schema::<LoginRequest>),
                response: Some(schema::<LoginResponse>),
                ..RouteSpec::api("POST", "/api/v1/auth/login", Access::Public, "Sign in; answers a bearer token")
            },
            post(auth::login::<S>),
        )
        .add(RouteSpec { success_status: 204, ..RouteSpec::api("POST", "/api/v1/auth/logout", Access::SignedIn, "End this session") }, post(auth::logout::<S>))
        .add(
            RouteSpec { response: Some(schema::<Me>), ..RouteSpec::api("GET", "/api/v1/me", Access::SignedIn, "The signed-in account and its permissions") },
            get(auth::me::<S>),
        )
        .add(RouteSpec::api("GET", "/api/v1/openapi.json", Access::Public, "This OpenAPI document"), get(openapi::document::<S>))
        .add(
            RouteSpec {
                query: &[
                    ("q", "part of a name, or an MRN"),
                    ("date_of_birth", "YYYY-MM-DD"),
                    ("status", "one patient status"),
                    ("cursor", "next_cursor of the previous page"),
                    ("limit", "page size, 1 to 500 (default 50)"),
                ],
                response: Some(schema::<ListResponse<PatientDto>>),
                ..RouteSpec::api("GET", "/api/v1/patients", Access::Permission(Permission::PatientRead), "Find patients")
            },
            get(patients::list::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<PatientWrite>),
                response: Some(schema::<PatientDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/patients", Access::Permission(Permission::PatientCreate), "Register a patient (likely duplicates answer 409)")
            },
            post(patients::create::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<PatientDto>),
                ..RouteSpec::api("GET", "/api/v1/patients/{id}", Access::Permission(Permission::PatientRead), "Read a patient; the ETag header carries the version")
            },
            get(patients::read::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<PatientWrite>),
                response: Some(schema::<PatientDto>),
                ..RouteSpec::api("PATCH", "/api/v1/patients/{id}", Access::Permission(Permission::PatientUpdate), "Change a patient (JSON merge patch); needs If-Match")
            },
            patch(patients::update::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<InquiryWrite>),
                response: Some(schema::<InquiryDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/inquiries", Access::Public, "Send an inquiry (rate-limited per client unless signed in)")
            },
            post(inquiries::create::<S>),
        )
        .add(
            RouteSpec {
                query: &[
                    ("q", "part of a name, or phone digits"),
                    ("status", "new, contacted, screening_booked, converted or closed (default: every status)"),
                    ("overdue", "true: only new inquiries with no call for more than one business day"),
                    ("cursor", "next_cursor of the previous page"),
                    ("limit", "page size, 1 to 500 (default 50)"),
                ],
                response: Some(schema::<ListResponse<InquiryDto>>),
                ..RouteSpec::api("GET", "/api/v1/inquiries", Access::Permission(Permission::InquiryRead), "The inquiry queue, newest first")
            },
            get(inquiries::list::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<InquiryDto>),
                ..RouteSpec::api("GET", "/api/v1/inquiries/{id}", Access::Permission(Permission::InquiryRead), "An inquiry with its call log")
            },
            get(inquiries::read::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<InquiryPatch>),
                response: Some(schema::<InquiryDto>),
                ..RouteSpec::api("PATCH", "/api/v1/inquiries/{id}", Access::Permission(Permission::InquiryManage), "Change status, close reason or assignment; needs If-Match")
            },
            patch(inquiries::update::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<CallWrite>),
                response: Some(schema::<InquiryDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/inquiries/{id}/calls", Access::Permission(Permission::InquiryManage), "Log a phone call")
            },
            post(inquiries::log_call::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<ConvertWrite>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/inquiries/{id}/convert", Access::Permission(Permission::InquiryManage), "Register the person as a patient (duplicate check); needs If-Match")
            },
            post(inquiries::convert::<S>),
        )
        .add(
            RouteSpec {
                query: &[
                    ("patient_id", "events about this patient"),
                    ("actor", "username"),
                    ("action", "e.g. patient.read"),
                    ("from", "YYYY-MM-DD or RFC 3339, inclusive"),
                    ("to", "YYYY-MM-DD or RFC 3339, exclusive"),
                    ("cursor", "next_cursor of the previous page"),
                    ("limit", "page size, 1 to 500 (default 50)"),
                ],
                response: Some(schema::<ListResponse<AuditEventDto>>),
                ..RouteSpec::api("GET", "/api/v1/audit", Access::Permission(Permission::AuditRead), "The audit log, newest first")
            },
            get(audit::list::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<UserDto>>),
                ..RouteSpec::api("GET", "/api/v1/users", Access::Permission(Permission::UserManage), "Staff accounts")
            },
            get(audit::users::<S>),
        );
    orders::routes(scheduling::routes(plans::routes(eligibility::routes(screening::routes(table)))))
}
