//! RFC 9457 problem details with stable error codes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_service::error::ServiceError;
use serde::Serialize;

/// The stable machine-readable codes clients can rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationFailed,
    MalformedJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthenticated,
    BadCredentials,
    Forbidden,
    CsrfFailed,
    NotFound,
    RouteNotFound,
    MethodNotAllowed,
    Conflict,
    UsernameTaken,
    LikelyDuplicate,
    ScheduleConflict,
    PreconditionRequired,
    PreconditionFailed,
    Throttled,
    SpamSuspected,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::LikelyDuplicate => "likely_duplicate",
            ErrorCode::ScheduleConflict => "schedule_conflict",
            ErrorCode::PreconditionRequired => "precondition_required",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::Throttled => "throttled",
            ErrorCode::SpamSuspected => "spam_suspected",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

/// An error answered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<ProblemField>,
    /// Extra members of the problem object (e.g. `duplicates`).
    pub extra: Option<(&'static str, serde_json::Value)>,
    pub retry_after_seconds: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code, title, detail: detail.into(), errors: Vec::new(), extra: None, retry_after_seconds: None }
    }

    pub fn with_fields(mut self, errors: Vec<FieldError>) -> ApiError {
        self.errors = errors.into_iter().map(|e| ProblemField { field: e.field, message: e.message }).collect();
        self
    }

    pub fn validation(errors: FieldErrors) -> ApiError {
        let detail = errors.0.iter().map(|e| format!("{} {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed, "Invalid input", detail).with_fields(errors.0)
    }

    pub fn field(status: StatusCode, code: ErrorCode, title: &'static str, field: &str, message: &str) -> ApiError {
        ApiError::new(status, code, title, format!("{field} {message}")).with_fields(vec![FieldError::new(field, message)])
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, "Sign in required", "sign in and send the token as Authorization: Bearer")
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not found", format!("no {what} with this id"))
    }

    fn type_uri(&self) -> String {
        format!("https://ketaclinic.invalid/problems/{}", self.code.as_str())
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> ApiError {
        match err {
            ServiceError::Invalid(errors) => ApiError::validation(errors),
            ServiceError::Unauthenticated => ApiError::unauthenticated(),
            ServiceError::BadCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::BadCredentials, "Sign-in failed", "wrong username or password")
            }
            ServiceError::Throttled { retry_after } => {
                let seconds = (retry_after - chrono::Utc::now()).num_seconds().max(1);
                let mut res = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::Throttled,
                    "Too many attempts",
                    format!("too many failed sign-ins; try again in {seconds} seconds"),
                );
                res.retry_after_seconds = Some(seconds);
                res
            }
            ServiceError::Forbidden { permission } => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "Not allowed",
                format!("your role does not have the permission {}", permission.as_str()),
            ),
            ServiceError::NotFound { resource } => ApiError::not_found(resource),
            ServiceError::Conflict { code, message } => {
                let code = if code == "username_taken" { ErrorCode::UsernameTaken } else { ErrorCode::Conflict };
                ApiError::new(StatusCode::CONFLICT, code, "Conflict", message)
            }
            ServiceError::StaleVersion { current } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                ErrorCode::PreconditionFailed,
                "The record changed",
                format!("someone changed this record since you read it (now version {current}); read it again and reapply your change"),
            ),
            ServiceError::Unbookable(problem) => {
                let fields = problem.conflicts.iter().map(|(_, field, message)| FieldError::new(field.clone(), message.clone())).collect();
                let mut res = ApiError::new(StatusCode::CONFLICT, ErrorCode::ScheduleConflict, "Cannot be booked", problem.message.clone()).with_fields(fields);
                res.extra = Some((
                    "schedule",
                    serde_json::json!({
                        "event_id": problem.event_id,
                        "conflicts": problem.conflicts.iter().map(|(code, field, message)| serde_json::json!({ "code": code, "field": field, "message": message })).collect::<Vec<_>>(),
                        "alternatives": problem.alternatives.iter().map(|a| serde_json::json!({
                            "start": a.start, "local": a.local, "resource_id": a.resource_id, "resource_name": a.resource_name, "clinician_id": a.clinician_id,
                        })).collect::<Vec<_>>(),
                    }),
                ));
                res
            }
            ServiceError::LikelyDuplicate(candidates) => {
                let duplicates: Vec<serde_json::Value> = candidates
                    .iter()
                    .map(|c| serde_json::json!({ "patient_id": c.patient_id, "mrn": c.mrn, "reason": c.reason }))
                    .collect();
                let mut res = ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::LikelyDuplicate,
                    "Possible duplicate patient",
                    format!(
                        "{} registered patient(s) look like this person; check them, and resend with \"confirm_not_duplicate\": true if this is someone else",
                        candidates.len()
                    ),
                );
                res.extra = Some(("duplicates", serde_json::Value::Array(duplicates)));
                res
            }
            ServiceError::Unavailable(source) => {
                tracing::error!(error = %format!("{source:#}"), "service unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable, "Service unavailable", "the database is unavailable; try again shortly")
            }
            ServiceError::Internal(source) => {
                tracing::error!(error = %format!("{source:#}"), "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "Internal error", "something went wrong on our side; it has been logged")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code.as_str(),
            "errors": self.errors,
        });
        if let (Some((key, value)), Some(object)) = (self.extra, body.as_object_mut()) {
            object.insert(key.to_string(), value);
        }
        let mut res = (self.status, body.to_string()).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after_seconds {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        res
    }
}
