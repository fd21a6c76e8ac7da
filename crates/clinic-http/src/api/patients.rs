//! The patient registry API.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use clinic_domain::patient::Patient;
use clinic_service::auth::Principal;
use clinic_service::patients::{DuplicatePolicy, PatientQuery};
use clinic_store::Store;
use uuid::Uuid;

use crate::dto::{ListResponse, PatientDto, PatientListQuery, PatientWrite};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

fn with_etag(status: StatusCode, patient: &Patient) -> Response {
    let mut res = (status, Json(PatientDto::from_patient(patient))).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(patient.version)) {
        res.headers_mut().insert(header::ETAG, value);
    }
    res
}

pub fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text).map_err(|_| ApiError::field(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not found", "id", "is not a patient id"))
}

pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<PatientListQuery>,
) -> Result<Json<ListResponse<PatientDto>>, ApiError> {
    let query = PatientQuery { q: query.q, date_of_birth: query.date_of_birth, status: query.status, cursor: query.cursor, limit: query.limit };
    let page = app.clinic.list_patients(&principal, &query).await?;
    Ok(Json(ListResponse { items: page.items.iter().map(PatientDto::from_patient).collect(), next_cursor: page.next_cursor }))
}

pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<PatientWrite>,
) -> Result<Response, ApiError> {
    let duplicates = if body.confirm_not_duplicate == Some(true) { DuplicatePolicy::RegisterAnyway } else { DuplicatePolicy::Refuse };
    let patient = app.clinic.register_patient(&principal, &body.into_input(), duplicates).await?;
    let mut res = with_etag(StatusCode::CREATED, &patient);
    if let Ok(value) = HeaderValue::from_str(&format!("/api/v1/patients/{}", patient.id)) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    Ok(res)
}

pub async fn read<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let patient = app.clinic.get_patient(&principal, parse_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, &patient))
}

/// RFC 7396 JSON merge patch: `null` removes, objects merge, anything else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target_map), serde_json::Value::Object(patch_map)) => {
            for (key, value) in patch_map {
                if value.is_null() {
                    target_map.remove(key);
                } else {
                    let slot = target_map.entry(key.clone()).or_insert(serde_json::Value::Null);
                    if !slot.is_object() {
                        *slot = serde_json::Value::Null;
                    }
                    merge_patch(slot, value);
                }
            }
        }
        (target, patch) => {
            if patch.is_object() {
                *target = serde_json::Value::Object(serde_json::Map::new());
                merge_patch(target, patch);
            } else {
                *target = patch.clone();
            }
        }
    }
}

pub fn expected_version(headers: &HeaderMap) -> Result<i64, ApiError> {
    let value = headers.get(header::IF_MATCH).ok_or_else(|| {
        ApiError::field(
            StatusCode::PRECONDITION_REQUIRED,
            ErrorCode::PreconditionRequired,
            "If-Match required",
            "If-Match",
            "send the ETag from your last read, so changes made meanwhile are not overwritten",
        )
    })?;
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().trim_start_matches("W/").trim_matches('"').parse::<i64>().ok())
        .ok_or_else(|| {
            ApiError::field(StatusCode::PRECONDITION_FAILED, ErrorCode::PreconditionFailed, "The record changed", "If-Match", "does not match the current ETag")
        })
}

pub async fn update<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let version = expected_version(&headers)?;
    if !patch.is_object() {
        return Err(ApiError::field(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, "Malformed JSON", "body", "must be a JSON object"));
    }
    let current = app.clinic.patient_for_update(&principal, id).await?;
    if current.version != version {
        return Err(clinic_service::error::ServiceError::StaleVersion { current: current.version }.into());
    }
    let mut merged = serde_json::to_value(PatientWrite::from_patient(&current))
        .map_err(|err| clinic_service::error::ServiceError::Internal(err.into()))?;
    merge_patch(&mut merged, &patch);
    let body: PatientWrite = crate::extract::parse_json(merged.to_string().as_bytes())?;
    if body.confirm_not_duplicate.is_some() {
        return Err(ApiError::field(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, "Invalid input", "confirm_not_duplicate", "applies only when registering"));
    }
    let patient = app.clinic.update_patient(&principal, id, version, &body.into_input()).await?;
    Ok(with_etag(StatusCode::OK, &patient))
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // Examples from RFC 7396 Appendix A.
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":{"b":"c"}}), json!({"a":{"b":"d","c":null}}), json!({"a":{"b":"d"}})),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!({}), json!({"a":{"bb":{"ccc":null}}}), json!({"a":{"bb":{}}})),
        ];
        for (mut target, patch, expect) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expect);
        }
    }
}
