//! Screening over JSON: instruments (FHIR Questionnaire ids), questionnaire
//! responses with their scores (LOINC codes on totals), safety alerts, and
//! portal links.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use clinic_domain::alert::ClinicalAlert;
use clinic_domain::authz::Permission;
use clinic_service::auth::Principal;
use clinic_service::instruments::LoadedInstrument;
use clinic_service::screening::{QuestionnaireInput, RecordedQuestionnaire};
use clinic_store::screening::QuestionnaireResponseRecord;
use clinic_store::Store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::patients::{expected_version, parse_id};
use crate::dto::ListResponse;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::{Access, RouteSpec, RouteTable};
use crate::AppState;

fn schema<T: JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// An instrument, shaped so it maps to a FHIR `Questionnaire` (`id`, `version`, `title`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct InstrumentDto {
    /// Also the FHIR Questionnaire id, e.g. `phq-9`.
    pub id: String,
    pub version: u32,
    pub title: String,
    pub citation: String,
    pub licence: String,
    /// `self` (the patient answers) or `clinician`.
    pub rater: &'static str,
    pub items: usize,
    /// LOINC code of the total score, where the reference gives one.
    pub loinc_total: Option<String>,
    /// Whether licensed item wording is installed; without it forms show item numbers.
    pub wording_installed: bool,
}

impl InstrumentDto {
    pub fn from_loaded(loaded: &LoadedInstrument) -> InstrumentDto {
        let d = loaded.instrument.definition();
        InstrumentDto {
            id: d.id.clone(),
            version: d.version,
            title: d.title.clone(),
            citation: d.citation.clone(),
            licence: d.licence.clone(),
            rater: match d.rater {
                clinic_domain::instrument::definition::Rater::SelfReport => "self",
                clinic_domain::instrument::definition::Rater::Clinician => "clinician",
            },
            items: loaded.instrument.items().len(),
            loinc_total: d.loinc_total.as_ref().map(|l| l.code.clone()),
            wording_installed: loaded.wording.is_some(),
        }
    }
}

/// Answers to one questionnaire, as the form records them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionnaireWrite {
    /// An instrument id from `GET /api/v1/instruments`.
    pub instrument: String,
    /// One per item, in order: the number printed beside the chosen option, or `yes`/`no`.
    pub answers: Vec<String>,
    /// `female` or `male`, for sex-specific cut-offs (AUDIT-C); defaults to the patient's sex at birth.
    pub sex: Option<String>,
    /// The substance rated, for instruments rated per substance.
    pub substance: Option<String>,
    /// PHQ-9's unscored difficulty item, 0–3.
    pub difficulty: Option<String>,
}

/// A scored questionnaire, shaped so it maps to a FHIR `QuestionnaireResponse`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QuestionnaireResponseDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// The FHIR Questionnaire id (the instrument id).
    pub questionnaire: String,
    pub questionnaire_version: i64,
    pub answers: Vec<String>,
    pub total: Option<i64>,
    pub band: Option<String>,
    pub flags: Vec<String>,
    /// The full score: `instrument`, `total`, `band`, `flags`, `items`, `subscales`, and per instrument `rules`, `substance`, `unscored`.
    pub score: serde_json::Value,
    /// LOINC code of the total score, where the reference gives one.
    pub loinc_total: Option<String>,
    /// `staff` or `portal`.
    pub source: &'static str,
    pub entered_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Alerts this response raised (on creation only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertDto>,
}

impl QuestionnaireResponseDto {
    pub fn from_record<S: Store>(app: &AppState<S>, record: &QuestionnaireResponseRecord, alerts: &[ClinicalAlert]) -> QuestionnaireResponseDto {
        let loinc_total = app
            .clinic
            .instruments()
            .get(&record.instrument_id)
            .and_then(|l| l.instrument.definition().loinc_total.as_ref().map(|l| l.code.clone()));
        QuestionnaireResponseDto {
            id: record.id,
            patient_id: record.patient_id,
            questionnaire: record.instrument_id.clone(),
            questionnaire_version: record.instrument_version,
            answers: record.answers.clone(),
            total: record.total,
            band: record.band.clone(),
            flags: record.flags.clone(),
            score: serde_json::from_str(&record.result_json).unwrap_or(serde_json::Value::Null),
            loinc_total,
            source: record.source.as_str(),
            entered_by: record.entered_by,
            created_at: record.created_at,
            alerts: alerts.iter().map(AlertDto::from_alert).collect(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AlertDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// `suicide_risk` or `positive_screen`.
    pub kind: &'static str,
    /// What happened.
    pub message: String,
    /// Why it matters and what to do.
    pub action: &'static str,
    /// The questionnaire response that raised it.
    pub source_id: Option<Uuid>,
    /// Who it went to when raised.
    pub routed_to: String,
    /// `open` or `closed`.
    pub status: &'static str,
    pub raised_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Uuid>,
    /// The response taken.
    pub response: Option<String>,
    /// The ETag is `"<version>"`.
    pub version: i64,
}

impl AlertDto {
    pub fn from_alert(alert: &ClinicalAlert) -> AlertDto {
        AlertDto {
            id: alert.id,
            patient_id: alert.patient_id,
            kind: alert.kind.as_str(),
            message: alert.message.clone(),
            action: alert.kind.action(),
            source_id: alert.source_id,
            routed_to: alert.routed_to.clone(),
            status: if alert.is_open() { "open" } else { "closed" },
            raised_at: alert.raised_at,
            closed_at: alert.closed_at,
            closed_by: alert.closed_by,
            response: alert.response.clone(),
            version: alert.version,
        }
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertListQuery {
    /// `open` (default) or `all`.
    pub status: Option<String>,
    pub patient_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertClose {
    /// What was done (required), e.g. "Called the patient; risk assessed; safety plan made".
    pub response: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalLinkWrite {
    /// `signin` or `questionnaire`.
    pub purpose: String,
    /// For a questionnaire link: a self-report instrument id, e.g. `phq-9`.
    pub instrument: Option<String>,
}

/// A link sent; the link itself is only in the message to the patient.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PortalLinkDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub purpose: &'static str,
    pub instrument: Option<String>,
    /// The consented channel it went by: `sms` or `email`.
    pub channel: &'static str,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub fn routes<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    table
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<InstrumentDto>>),
                ..RouteSpec::api("GET", "/api/v1/instruments", Access::Permission(Permission::StaffHome), "The instruments (FHIR Questionnaire ids)")
            },
            get(list_instruments::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<QuestionnaireResponseDto>>),
                ..RouteSpec::api("GET", "/api/v1/patients/{id}/questionnaire-responses", Access::Permission(Permission::ScreeningRead), "A patient's scored questionnaires, oldest first")
            },
            get(list_responses::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<QuestionnaireWrite>),
                response: Some(schema::<QuestionnaireResponseDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/patients/{id}/questionnaire-responses", Access::Permission(Permission::ScreeningRecord), "Score and store a patient's answers; PHQ-9 item 9 above 0 raises a suicide_risk alert")
            },
            post(create_response::<S>),
        )
        .add(
            RouteSpec {
                query: &[("status", "open (default) or all"), ("patient_id", "one patient's alerts")],
                response: Some(schema::<ListResponse<AlertDto>>),
                ..RouteSpec::api("GET", "/api/v1/alerts", Access::Permission(Permission::AlertRead), "Safety alerts, newest first")
            },
            get(list_alerts::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<AlertClose>),
                response: Some(schema::<AlertDto>),
                ..RouteSpec::api("POST", "/api/v1/alerts/{id}/close", Access::Permission(Permission::AlertManage), "Close an alert with the response taken; needs If-Match")
            },
            post(close_alert::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<PortalLinkWrite>),
                response: Some(schema::<PortalLinkDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/patients/{id}/portal-links", Access::Permission(Permission::PortalInvite), "Send the patient a portal or questionnaire link on a consented channel")
            },
            post(create_link::<S>),
        )
}

pub async fn list_instruments<S: Store>(State(app): State<AppState<S>>) -> Json<ListResponse<InstrumentDto>> {
    Json(ListResponse { items: app.clinic.instruments().iter().map(InstrumentDto::from_loaded).collect(), next_cursor: None })
}

pub async fn list_responses<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<QuestionnaireResponseDto>>, ApiError> {
    let list = app.clinic.list_questionnaires(&principal, parse_id(&id)?).await?;
    Ok(Json(ListResponse { items: list.iter().map(|r| QuestionnaireResponseDto::from_record(&app, r, &[])).collect(), next_cursor: None }))
}

pub async fn create_response<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<QuestionnaireWrite>,
) -> Result<Response, ApiError> {
    let input = QuestionnaireInput { instrument: body.instrument, answers: body.answers, sex: body.sex, substance: body.substance, difficulty: body.difficulty };
    let RecordedQuestionnaire { record, alerts, .. } = app.clinic.record_questionnaire(&principal, parse_id(&id)?, &input).await?;
    Ok((StatusCode::CREATED, Json(QuestionnaireResponseDto::from_record(&app, &record, &alerts))).into_response())
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::from(clinic_service::error::ServiceError::from(clinic_domain::field::FieldErrors::one(field, message)))
}

fn alert_response(alert: &ClinicalAlert) -> Response {
    let mut res = Json(AlertDto::from_alert(alert)).into_response();
    if let Ok(value) = HeaderValue::from_str(&crate::api::patients::etag(alert.version)) {
        res.headers_mut().insert(header::ETAG, value);
    }
    res
}

pub async fn list_alerts<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<AlertListQuery>,
) -> Result<Json<ListResponse<AlertDto>>, ApiError> {
    let open_only = match query.status.as_deref().map(str::trim) {
        None | Some("") | Some("open") => true,
        Some("all") => false,
        Some(_) => return Err(invalid("status", "must be open or all")),
    };
    let patient_id = match query.patient_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(Uuid::try_parse(text).map_err(|_| invalid("patient_id", "must be a patient id (UUID)"))?),
    };
    let alerts = app.clinic.list_alerts(&principal, patient_id, open_only).await?;
    Ok(Json(ListResponse { items: alerts.iter().map(AlertDto::from_alert).collect(), next_cursor: None }))
}

pub async fn close_alert<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AlertClose>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let version = expected_version(&headers)?;
    let closed = app.clinic.close_alert(&principal, id, version, body.response.as_deref()).await?;
    Ok(alert_response(&closed))
}

pub async fn create_link<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PortalLinkWrite>,
) -> Result<Response, ApiError> {
    let (link, message) = app.clinic.send_portal_link(&principal, parse_id(&id)?, &body.purpose, body.instrument.as_deref()).await?;
    let dto = PortalLinkDto {
        id: link.id,
        patient_id: link.patient_id,
        purpose: link.purpose.as_str(),
        instrument: link.instrument_id,
        channel: message.channel.as_str(),
        expires_at: link.expires_at,
        used_at: link.used_at,
        created_at: link.created_at,
    };
    Ok((StatusCode::CREATED, Json(dto)).into_response())
}
