//! Treatment plans over JSON: make one from a protocol, read it with its
//! history, edit, sign and end it. Writes need `If-Match` with the plan's
//! ETag (its version). Doses are exact decimals, sent and returned as strings
//! ("0.71"); a JSON number is read by its written digits, never as a float.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use clinic_domain::authz::Permission;
use clinic_domain::plan::{Plan, PlanChange, PlanEvent};
use clinic_service::auth::Principal;
use clinic_service::plans::{EditInput, NewPlanInput, PhaseInput};
use clinic_store::Store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
use crate::api::patients::{expected_version, parse_id};
use crate::api::text_of;
use crate::api::{Versioned, with_etag};
use crate::dto::ListResponse;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::{Access, RouteSpec, RouteTable};

fn schema<T: JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanWrite {
    /// A protocol id (`GET /api/v1/protocols`).
    pub protocol_id: Option<String>,
    /// YYYY-MM-DD: day 0 of the protocol.
    pub start_date: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseWrite {
    /// mg/kg as an exact decimal, e.g. "0.6" (a JSON number is read by its digits).
    pub dose_mg_per_kg: Option<serde_json::Value>,
    /// Whole minutes.
    pub minutes: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanEditWrite {
    /// `move`, `skip`, `restore`, `add` or `dose`.
    pub action: Option<String>,
    /// The event to move, skip, restore or re-dose.
    pub event_id: Option<String>,
    /// YYYY-MM-DD, for move and add.
    pub date: Option<String>,
    /// For add: inpatient, infusion, therapy, integration, assessment or follow_up.
    pub kind: Option<String>,
    /// For dose, and for adding an infusion: the phases in order.
    #[serde(default)]
    pub phases: Vec<PhaseWrite>,
    /// For adding therapy (default: the protocol's modality).
    pub modality: Option<String>,
    /// For adding an assessment: an instrument id.
    pub instrument: Option<String>,
    /// Why the plan changes (required).
    pub reason: Option<String>,
    /// Go ahead with a change that leaves the protocol (the 422 answer names the deviation).
    #[serde(default)]
    pub acknowledge_deviation: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanEndWrite {
    pub reason: Option<String>,
}

impl PlanEditWrite {
    fn into_input(self) -> EditInput {
        EditInput {
            action: self.action,
            event_id: self.event_id,
            date: self.date,
            kind: self.kind,
            phases: self
                .phases
                .iter()
                .map(|p| PhaseInput {
                    dose_mg_per_kg: text_of(p.dose_mg_per_kg.as_ref()),
                    minutes: text_of(p.minutes.as_ref()),
                })
                .collect(),
            modality: self.modality,
            instrument: self.instrument,
            reason: self.reason,
            acknowledge_deviation: self.acknowledge_deviation,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PhaseDto {
    pub dose_mg_per_kg: String,
    pub minutes: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanEventDto {
    pub id: Uuid,
    pub seq: i64,
    /// inpatient, infusion, therapy, integration, assessment, follow_up.
    pub kind: &'static str,
    /// planned, skipped, booked, completed, no_show.
    pub status: &'static str,
    /// protocol or added.
    pub origin: &'static str,
    pub protocol_date: Option<NaiveDate>,
    pub date: NaiveDate,
    pub infusion_number: Option<i64>,
    /// Total of the phases, exact.
    pub dose_mg_per_kg: Option<String>,
    pub minutes: Option<i64>,
    pub phases: Vec<PhaseDto>,
    pub window_start: Option<NaiveDate>,
    pub window_end: Option<NaiveDate>,
    pub modality: Option<String>,
    pub instrument: Option<String>,
    /// Acknowledged deviations from the protocol.
    pub deviations: Vec<String>,
}

impl PlanEventDto {
    fn from_event(e: &PlanEvent) -> PlanEventDto {
        PlanEventDto {
            id: e.id,
            seq: e.seq,
            kind: e.kind.as_str(),
            status: e.status.as_str(),
            origin: e.origin.as_str(),
            protocol_date: e.protocol_date,
            date: e.date,
            infusion_number: e.infusion_number,
            dose_mg_per_kg: e.dose_mg_per_kg().map(|d| d.to_string()),
            minutes: e.minutes(),
            phases: e
                .phases
                .iter()
                .map(|p| PhaseDto {
                    dose_mg_per_kg: p.dose_mg_per_kg.to_string(),
                    minutes: p.minutes,
                })
                .collect(),
            window_start: e.window.map(|w| w.0),
            window_end: e.window.map(|w| w.1),
            modality: e.modality.clone(),
            instrument: e.instrument.clone(),
            deviations: e.deviations.clone(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanChangeDto {
    pub version: i64,
    /// create, move, skip, restore, add, dose, sign, end.
    pub action: &'static str,
    pub event_id: Option<Uuid>,
    pub summary: String,
    pub reason: Option<String>,
    pub deviations: Vec<String>,
    pub changed_by: Uuid,
    pub changed_at: DateTime<Utc>,
}

impl PlanChangeDto {
    fn from_change(c: &PlanChange) -> PlanChangeDto {
        PlanChangeDto {
            version: c.version,
            action: c.action.as_str(),
            event_id: c.event_id,
            summary: c.summary.clone(),
            reason: c.reason.clone(),
            deviations: c.deviations.clone(),
            changed_by: c.changed_by,
            changed_at: c.changed_at,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub protocol_id: String,
    pub protocol_version: i64,
    pub start_date: NaiveDate,
    /// draft, signed, amended (changed since signed) or ended.
    pub state: &'static str,
    /// The ETag.
    pub version: i64,
    pub signed_by: Option<Uuid>,
    pub signed_at: Option<DateTime<Utc>>,
    pub signed_version: Option<i64>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    pub events: Vec<PlanEventDto>,
    /// Every change, oldest first (on single-plan reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<PlanChangeDto>>,
}

impl PlanDto {
    fn from_plan(plan: &Plan, history: Option<&[PlanChange]>) -> PlanDto {
        let h = &plan.header;
        PlanDto {
            id: h.id,
            patient_id: h.patient_id,
            protocol_id: h.protocol_id.clone(),
            protocol_version: h.protocol_version,
            start_date: h.start_date,
            state: h.state().as_str(),
            version: h.version,
            signed_by: h.signed_by,
            signed_at: h.signed_at,
            signed_version: h.signed_version,
            ended_at: h.ended_at,
            end_reason: h.end_reason.clone(),
            events: plan.events.iter().map(PlanEventDto::from_event).collect(),
            history: history
                .map(|changes| changes.iter().map(PlanChangeDto::from_change).collect()),
        }
    }
}

fn plan_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text).map_err(|_| {
        ApiError::field(
            StatusCode::NOT_FOUND,
            crate::error::ErrorCode::NotFound,
            "Not found",
            "id",
            "is not a plan id",
        )
    })
}

pub fn routes<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    table
        .add(
            RouteSpec::api(
                "GET",
                "/api/v1/protocols",
                Access::Permission(Permission::StaffHome),
                "The installed protocols (as `ketaclinic protocol list`)",
            ),
            get(list_protocols::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<PlanWrite>),
                response: Some(schema::<PlanDto>),
                success_status: 201,
                ..RouteSpec::api(
                    "POST",
                    "/api/v1/patients/{id}/plans",
                    Access::Permission(Permission::PlanManage),
                    "Make a plan from a protocol and a start date (eligible patients only)",
                )
            },
            post(create::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<PlanDto>>),
                ..RouteSpec::api(
                    "GET",
                    "/api/v1/patients/{id}/plans",
                    Access::Permission(Permission::PlanRead),
                    "A patient's plans, newest first, with their events",
                )
            },
            get(list::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<PlanDto>),
                ..RouteSpec::api(
                    "GET",
                    "/api/v1/plans/{id}",
                    Access::Permission(Permission::PlanRead),
                    "A plan with its events and history",
                )
            },
            get(read::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<PlanEditWrite>),
                response: Some(schema::<PlanDto>),
                ..RouteSpec::api(
                    "POST",
                    "/api/v1/plans/{id}/edits",
                    Access::Permission(Permission::PlanManage),
                    "Move, skip, restore, add or re-dose an event, with a reason; needs If-Match",
                )
            },
            post(edit::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<PlanDto>),
                ..RouteSpec::api(
                    "POST",
                    "/api/v1/plans/{id}/sign",
                    Access::Permission(Permission::PlanManage),
                    "Sign the plan as it stands; needs If-Match",
                )
            },
            post(sign::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<PlanEndWrite>),
                response: Some(schema::<PlanDto>),
                ..RouteSpec::api(
                    "POST",
                    "/api/v1/plans/{id}/end",
                    Access::Permission(Permission::PlanManage),
                    "End the plan with a reason; needs If-Match",
                )
            },
            post(end::<S>),
        )
}

pub async fn list_protocols<S: Store>(State(app): State<AppState<S>>) -> Json<serde_json::Value> {
    Json(clinic_service::protocols::list_json(app.clinic.protocols()))
}

pub async fn create<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlanWrite>,
) -> Result<Response, ApiError> {
    let input = NewPlanInput {
        protocol_id: body.protocol_id,
        start_date: body.start_date,
    };
    let plan = app
        .clinic
        .create_plan(&principal, parse_id(&id)?, &input)
        .await?;
    Ok(with_etag(
        StatusCode::CREATED,
        PlanDto::from_plan(&plan, None),
    ))
}

pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<PlanDto>>, ApiError> {
    let plans = app.clinic.patient_plans(&principal, parse_id(&id)?).await?;
    Ok(Json(ListResponse {
        items: plans.iter().map(|p| PlanDto::from_plan(p, None)).collect(),
        next_cursor: None,
    }))
}

pub async fn read<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = app.clinic.get_plan(&principal, plan_id(&id)?).await?;
    Ok(with_etag(
        StatusCode::OK,
        PlanDto::from_plan(&view.plan, Some(&view.changes)),
    ))
}

pub async fn edit<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlanEditWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let plan = app
        .clinic
        .edit_plan(&principal, plan_id(&id)?, version, &body.into_input())
        .await?;
    Ok(with_etag(StatusCode::OK, PlanDto::from_plan(&plan, None)))
}

pub async fn sign<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let plan = app
        .clinic
        .sign_plan(&principal, plan_id(&id)?, version)
        .await?;
    Ok(with_etag(StatusCode::OK, PlanDto::from_plan(&plan, None)))
}

pub async fn end<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlanEndWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let plan = app
        .clinic
        .end_plan(
            &principal,
            plan_id(&id)?,
            version,
            body.reason.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(with_etag(StatusCode::OK, PlanDto::from_plan(&plan, None)))
}

impl Versioned for PlanDto {
    fn version(&self) -> i64 {
        self.version
    }
}
