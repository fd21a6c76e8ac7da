//! Medical screening, consents and eligibility over JSON. Each document is
//! returned with its id, version (the ETag) and its body exactly as kept.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use clinic_domain::authz::Permission;
use clinic_domain::consent::{Part2Input, SignInput};
use clinic_domain::eligibility::DecisionInput;
use clinic_domain::screening::ScreeningInput;
use clinic_service::auth::Principal;
use clinic_service::eligibility::{StoredConsent, StoredEligibility};
use clinic_store::screening::PatientDocument;
use clinic_store::Store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::patients::{expected_version, parse_id};
use crate::dto::ListResponse;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::{Access, RouteSpec, RouteTable};
use crate::api::{with_etag, Versioned};
use crate::AppState;

fn schema<T: JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// A medical screening as entered: every checklist item answered `yes`, `no` or `unknown`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicalScreeningWrite {
    /// YYYY-MM-DD (default today).
    pub screened_on: Option<String>,
    pub screened_by: Option<String>,
    /// Every contraindication id → `yes`, `no` or `unknown`.
    #[serde(default)]
    pub contraindications: BTreeMap<String, String>,
    pub allergies_reviewed: Option<String>,
    pub benzodiazepine_use: Option<String>,
    pub lamotrigine_use: Option<String>,
    /// `continued` or `not_on_moud` (stopping MOUD is refused).
    pub moud: Option<String>,
    pub medication_notes: Option<String>,
    pub systolic_bp_mmhg: Option<String>,
    pub diastolic_bp_mmhg: Option<String>,
    pub heart_rate_bpm: Option<String>,
    pub respiratory_rate_per_min: Option<String>,
    pub spo2_percent: Option<String>,
    pub weight_kg: Option<String>,
    pub height_cm: Option<String>,
    pub pregnancy_status: Option<String>,
    pub pregnancy_test_date: Option<String>,
    pub pregnancy_test_result: Option<String>,
    pub psychiatric_history_notes: Option<String>,
    pub ciwa_ar_total: Option<String>,
    pub ciwa_ar_band: Option<String>,
    pub ciwa_ar_assessed_on: Option<String>,
    pub withdrawal_seizure_history: Option<String>,
    pub delirium_tremens_history: Option<String>,
    pub managed_withdrawal_completed_on: Option<String>,
    pub pdmp_checked_on: Option<String>,
    pub pdmp_checked_by: Option<String>,
    pub pdmp_result: Option<String>,
    pub pdmp_concerning: Option<String>,
}

impl MedicalScreeningWrite {
    pub fn into_input(self) -> ScreeningInput {
        ScreeningInput {
            screened_on: self.screened_on,
            screened_by: self.screened_by,
            contraindications: self.contraindications,
            allergies_reviewed: self.allergies_reviewed,
            benzodiazepine_use: self.benzodiazepine_use,
            lamotrigine_use: self.lamotrigine_use,
            moud: self.moud,
            medication_notes: self.medication_notes,
            systolic_bp_mmhg: self.systolic_bp_mmhg,
            diastolic_bp_mmhg: self.diastolic_bp_mmhg,
            heart_rate_bpm: self.heart_rate_bpm,
            respiratory_rate_per_min: self.respiratory_rate_per_min,
            spo2_percent: self.spo2_percent,
            weight_kg: self.weight_kg,
            height_cm: self.height_cm,
            pregnancy_status: self.pregnancy_status,
            pregnancy_test_date: self.pregnancy_test_date,
            pregnancy_test_result: self.pregnancy_test_result,
            psychiatric_history_notes: self.psychiatric_history_notes,
            ciwa_ar_total: self.ciwa_ar_total,
            ciwa_ar_band: self.ciwa_ar_band,
            ciwa_ar_assessed_on: self.ciwa_ar_assessed_on,
            withdrawal_seizure_history: self.withdrawal_seizure_history,
            delirium_tremens_history: self.delirium_tremens_history,
            managed_withdrawal_completed_on: self.managed_withdrawal_completed_on,
            pdmp_checked_on: self.pdmp_checked_on,
            pdmp_checked_by: self.pdmp_checked_by,
            pdmp_result: self.pdmp_result,
            pdmp_concerning: self.pdmp_concerning,
        }
    }
}

/// A kept document: its body is the domain record as JSON.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// `medical_screening`, `consent` or `eligibility`.
    pub kind: &'static str,
    /// The consent kind, or the proposal's outcome.
    pub subtype: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    /// A consent revoked, or a proposal decided.
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Uuid>,
    /// The ETag is `"<version>"`.
    pub version: i64,
    /// Consents: whether it is in force now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force: Option<bool>,
    /// The record: a screening; a signed consent; an eligibility proposal
    /// (`inputs`, `proposal` with every reason) or its signed decision.
    pub body: serde_json::Value,
}

impl DocumentDto {
    fn from_document(document: &PatientDocument, in_force: Option<bool>) -> DocumentDto {
        DocumentDto {
            id: document.id,
            patient_id: document.patient_id,
            kind: document.kind.as_str(),
            subtype: document.subtype.clone(),
            created_at: document.created_at,
            created_by: document.created_by,
            closed_at: document.closed_at,
            closed_by: document.closed_by,
            version: document.version,
            in_force,
            body: serde_json::from_str(&document.body).unwrap_or(serde_json::Value::Null),
        }
    }

    fn consent(stored: &StoredConsent) -> DocumentDto {
        DocumentDto::from_document(&stored.document, Some(stored.consent.is_in_force(clinic_service::now())))
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConsentTemplateDto {
    /// `treatment`, `infusion` or `part2_disclosure`.
    pub kind: &'static str,
    pub version: u32,
    pub text: String,
    /// Send it back as `shown_text_sha256` when signing.
    pub text_sha256: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Part2Write {
    pub patient_name: Option<String>,
    pub disclosing_party: Option<String>,
    pub information_description: Option<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    /// `treatment_payment_operations`, `at_request_of_patient` or `other`.
    pub purpose: Option<String>,
    pub purpose_text: Option<String>,
    /// `date`, `event_or_condition` or `none` (TPO only).
    pub expiry: Option<String>,
    pub expiry_date: Option<String>,
    pub expiry_event: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentWrite {
    /// `treatment`, `infusion` or `part2_disclosure`.
    pub kind: String,
    /// The signer's typed full name.
    pub signature: Option<String>,
    /// `patient` or `authorized_representative`.
    pub signer_capacity: Option<String>,
    pub representative_authority: Option<String>,
    /// The SHA-256 of the text shown, from `GET /api/v1/consent-templates`.
    pub shown_text_sha256: Option<String>,
    pub part2: Option<Part2Write>,
}

pub fn sign_input(body: ConsentWrite) -> (String, SignInput) {
    let part2 = body.part2.map(|p| Part2Input {
        patient_name: p.patient_name,
        disclosing_party: p.disclosing_party,
        information_description: p.information_description,
        recipients: p.recipients,
        purpose: p.purpose,
        purpose_text: p.purpose_text,
        expiry: p.expiry,
        expiry_date: p.expiry_date,
        expiry_event: p.expiry_event,
    });
    (
        body.kind,
        SignInput {
            signature: body.signature,
            signer_capacity: body.signer_capacity,
            representative_authority: body.representative_authority,
            shown_text_sha256: body.shown_text_sha256,
            part2,
        },
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeWrite {
    /// How the patient revoked it, e.g. "signed note handed in at the desk".
    pub how: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionWrite {
    /// `eligible` or `not_eligible`.
    pub decision: Option<String>,
    /// Required when the decision differs from the proposal.
    pub reason: Option<String>,
    /// Rule ids of excluding reasons overridden (deciding `eligible` against them).
    #[serde(default)]
    pub overridden_rules: Vec<String>,
}

pub fn routes<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    table
        .add(
            RouteSpec {
                request: Some(schema::<MedicalScreeningWrite>),
                response: Some(schema::<DocumentDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/patients/{id}/medical-screenings", Access::Permission(Permission::ScreeningRecord), "Record a medical screening (every checklist item answered)")
            },
            post(create_screening::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<DocumentDto>>),
                ..RouteSpec::api("GET", "/api/v1/patients/{id}/medical-screenings", Access::Permission(Permission::ScreeningRead), "A patient's medical screenings, oldest first")
            },
            get(list_screenings::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<ConsentTemplateDto>>),
                ..RouteSpec::api("GET", "/api/v1/consent-templates", Access::Permission(Permission::StaffHome), "The consent texts in use (clinic settings)")
            },
            get(list_templates::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<ConsentWrite>),
                response: Some(schema::<DocumentDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/patients/{id}/consents", Access::Permission(Permission::ConsentManage), "Sign a consent (Part 2: every 42 CFR 2.31 element)")
            },
            post(create_consent::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<DocumentDto>>),
                ..RouteSpec::api("GET", "/api/v1/patients/{id}/consents", Access::Permission(Permission::PatientRead), "A patient's consents, oldest first, with in_force")
            },
            get(list_consents::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<RevokeWrite>),
                response: Some(schema::<DocumentDto>),
                ..RouteSpec::api("POST", "/api/v1/consents/{id}/revoke", Access::Permission(Permission::ConsentManage), "Revoke a consent, at once; needs If-Match")
            },
            post(revoke_consent::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<DocumentDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/patients/{id}/eligibility", Access::Permission(Permission::ScreeningRecord), "Derive an eligibility proposal from the record now, with every reason")
            },
            post(propose::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<DocumentDto>>),
                ..RouteSpec::api("GET", "/api/v1/patients/{id}/eligibility", Access::Permission(Permission::ScreeningRead), "A patient's proposals and decisions, oldest first")
            },
            get(list_eligibility::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<DecisionWrite>),
                response: Some(schema::<DocumentDto>),
                ..RouteSpec::api("POST", "/api/v1/eligibility/{id}/sign", Access::Permission(Permission::EligibilitySign), "A physician signs the decision; overriding needs a reason; needs If-Match")
            },
            post(sign::<S>),
        )
}

pub async fn create_screening<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MedicalScreeningWrite>,
) -> Result<Response, ApiError> {
    let (document, _) = app.clinic.record_medical_screening(&principal, parse_id(&id)?, &body.into_input()).await?;
    Ok(with_etag(StatusCode::CREATED, DocumentDto::from_document(&document, None)))
}

pub async fn list_screenings<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<DocumentDto>>, ApiError> {
    let list = app.clinic.list_medical_screenings(&principal, parse_id(&id)?).await?;
    Ok(Json(ListResponse { items: list.iter().map(|(d, _)| DocumentDto::from_document(d, None)).collect(), next_cursor: None }))
}

pub async fn list_templates<S: Store>(State(app): State<AppState<S>>) -> Json<ListResponse<ConsentTemplateDto>> {
    let items = app
        .clinic
        .consent_templates()
        .iter()
        .map(|t| ConsentTemplateDto { kind: t.kind.as_str(), version: t.version, text: t.text.clone(), text_sha256: t.text_sha256() })
        .collect();
    Json(ListResponse { items, next_cursor: None })
}

pub async fn create_consent<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConsentWrite>,
) -> Result<Response, ApiError> {
    let (kind, input) = sign_input(body);
    let stored = app.clinic.sign_consent(&principal, parse_id(&id)?, &kind, &input).await?;
    Ok(with_etag(StatusCode::CREATED, DocumentDto::consent(&stored)))
}

pub async fn list_consents<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<DocumentDto>>, ApiError> {
    let list = app.clinic.list_consents(&principal, parse_id(&id)?).await?;
    Ok(Json(ListResponse { items: list.iter().map(DocumentDto::consent).collect(), next_cursor: None }))
}

pub async fn revoke_consent<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RevokeWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let stored = app.clinic.revoke_consent(&principal, parse_id(&id)?, version, body.how.as_deref()).await?;
    Ok(with_etag(StatusCode::OK, DocumentDto::consent(&stored)))
}

fn eligibility_dto(stored: &StoredEligibility) -> DocumentDto {
    DocumentDto::from_document(&stored.document, None)
}

pub async fn propose<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let stored = app.clinic.propose_eligibility(&principal, parse_id(&id)?).await?;
    Ok(with_etag(StatusCode::CREATED, eligibility_dto(&stored)))
}

pub async fn list_eligibility<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<DocumentDto>>, ApiError> {
    let list = app.clinic.list_eligibility(&principal, parse_id(&id)?).await?;
    Ok(Json(ListResponse { items: list.iter().map(eligibility_dto).collect(), next_cursor: None }))
}

pub async fn sign<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DecisionWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let input = DecisionInput { physician: None, decision: body.decision, reason: body.reason, overridden_rules: body.overridden_rules };
    let stored = app.clinic.sign_eligibility(&principal, parse_id(&id)?, version, &input).await?;
    Ok(with_etag(StatusCode::OK, eligibility_dto(&stored)))
}

impl Versioned for DocumentDto {
    fn version(&self) -> i64 {
        self.version
    }
}
