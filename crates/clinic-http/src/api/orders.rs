//! Infusion orders over JSON. Doses and volumes are exact decimals sent and
//! returned as strings (a figure without a finite decimal form is printed to
//! nine places and marked `"exact": false`). Writes need `If-Match`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use clinic_domain::authz::Permission;
use clinic_domain::dose::Exact;
use clinic_domain::order::OrderInput;
use clinic_service::auth::Principal;
use clinic_service::orders::OrderView;
use clinic_store::Store;
use clinic_store::orders::OrderRecord;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
use crate::api::patients::{expected_version, parse_id};
use crate::api::text_of;
use crate::api::{Versioned, with_etag};
use crate::dto::ListResponse;
use crate::error::{ApiError, ErrorCode};
use crate::extract::ApiJson;
use crate::routes::{Access, RouteSpec, RouteTable};

fn schema<T: JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

fn id_of(text: &str, what: &'static str) -> Result<Uuid, ApiError> {
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPhaseWrite {
    /// mg/kg as an exact decimal ("0.6"); a JSON number is read by its digits.
    pub dose_mg_per_kg: Option<serde_json::Value>,
    pub minutes: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderWrite {
    pub weight_kg: Option<serde_json::Value>,
    /// YYYY-MM-DD.
    pub weight_measured_on: Option<String>,
    #[serde(default)]
    pub phases: Vec<OrderPhaseWrite>,
    /// 10, 50 or 100.
    pub stock_mg_per_ml: Option<serde_json::Value>,
    /// Bag of 0.9% NaCl in mL; absent: a syringe.
    pub bag_ml: Option<serde_json::Value>,
    #[serde(default)]
    pub withdraw_from_bag: bool,
    pub override_reason: Option<String>,
    /// Go ahead with a dose other than the plan's or the protocol's (the 422 answer names it).
    #[serde(default)]
    pub acknowledge_warnings: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckWrite {
    pub weight_kg: Option<serde_json::Value>,
    /// Each phase's mg/kg, in order.
    #[serde(default)]
    pub phases: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelWrite {
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Figure {
    pub value: String,
    /// False when the value has no finite decimal form and `value` is rounded to nine places.
    pub exact: bool,
}

fn fig(x: Exact) -> Figure {
    Figure {
        value: x.to_decimal(),
        exact: x.terminates(),
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderPhaseDto {
    pub dose_mg_per_kg: Figure,
    pub minutes: Figure,
    pub dose_mg: Figure,
    pub volume_ml: Figure,
    pub rate_ml_per_h: Figure,
    pub mg_per_min: Figure,
    /// The pump setting rounded to the clinic's step, when set.
    pub pump_setting_ml_per_h: Option<Figure>,
    pub pump_delivers_mg: Option<Figure>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckDto {
    pub checked_by: Uuid,
    pub checked_at: DateTime<Utc>,
    pub matches: bool,
    pub differences: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub plan_event_id: Uuid,
    /// awaiting_check, verified, check_failed, cancelled.
    pub status: &'static str,
    /// True only when verified: the infusion may start.
    pub ready: bool,
    /// True for a second clinician who may make the independent double check
    /// while no check has matched: the ordered weight, doses, volumes and
    /// phases are then left out (null or empty), as on the page.
    pub blind: bool,
    pub weight_kg: Option<String>,
    pub weight_measured_on: NaiveDate,
    pub weight_basis: &'static str,
    pub stock_mg_per_ml: String,
    pub bag_ml: Option<String>,
    pub withdraw_from_bag: bool,
    pub dose_mg: Option<Figure>,
    pub stock_volume_ml: Option<Figure>,
    pub total_volume_ml: Option<Figure>,
    pub final_mg_per_ml: Option<Figure>,
    pub phases: Vec<OrderPhaseDto>,
    pub warnings: Vec<String>,
    pub rounding_note: Option<String>,
    pub ordered_by: Uuid,
    pub signed_at: DateTime<Utc>,
    pub checks: Vec<CheckDto>,
    /// The ETag.
    pub version: i64,
}

impl OrderDto {
    /// The order as `principal` may see it (blind for the independent checker).
    fn from_view(v: &OrderView, principal: &Principal) -> OrderDto {
        let o = &v.order;
        let c = &v.calc;
        let blind = v.blind_for(principal);
        let shown = |x: Exact| (!blind).then(|| fig(x));
        OrderDto {
            id: o.id,
            patient_id: o.patient_id,
            plan_event_id: o.plan_event_id,
            status: o.status.as_str(),
            ready: v.ready(),
            blind,
            weight_kg: (!blind).then(|| o.weight_kg.clone()),
            weight_measured_on: o.weight_measured_on,
            weight_basis: o.weight_basis.as_str(),
            stock_mg_per_ml: o.stock_mg_per_ml.clone(),
            bag_ml: o.bag_ml.clone(),
            withdraw_from_bag: o.withdraw_from_bag,
            dose_mg: shown(c.total.dose_mg),
            stock_volume_ml: shown(c.total.stock_volume_ml),
            total_volume_ml: shown(c.total.total_volume_ml),
            final_mg_per_ml: shown(c.total.final_mg_per_ml),
            phases: if blind {
                Vec::new()
            } else {
                c.phases
                    .iter()
                    .map(|p| OrderPhaseDto {
                        dose_mg_per_kg: fig(p.dose_mg_per_kg),
                        minutes: fig(p.minutes),
                        dose_mg: fig(p.dose_mg),
                        volume_ml: fig(p.volume_ml),
                        rate_ml_per_h: fig(p.rate_ml_per_h),
                        mg_per_min: fig(p.mg_per_min),
                        pump_setting_ml_per_h: p.pump.map(|r| fig(r.setting)),
                        pump_delivers_mg: p.pump.map(|r| fig(r.delivers_mg)),
                    })
                    .collect()
            },
            // Warnings quote the ordered dose: left out while blind.
            warnings: if blind { Vec::new() } else { o.warnings.clone() },
            rounding_note: c.rounding_note.clone(),
            ordered_by: o.ordered_by,
            signed_at: o.signed_at,
            checks: v
                .checks
                .iter()
                .map(|c| CheckDto {
                    checked_by: c.checked_by,
                    checked_at: c.checked_at,
                    matches: c.matches,
                    differences: c.differences.clone(),
                })
                .collect(),
            version: o.version,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderSummaryDto {
    pub id: Uuid,
    pub plan_event_id: Uuid,
    pub status: &'static str,
    pub signed_at: DateTime<Utc>,
    pub version: i64,
}

fn summary(o: &OrderRecord) -> OrderSummaryDto {
    OrderSummaryDto {
        id: o.id,
        plan_event_id: o.plan_event_id,
        status: o.status.as_str(),
        signed_at: o.signed_at,
        version: o.version,
    }
}

pub fn routes<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    table
        .add(
            RouteSpec {
                request: Some(schema::<OrderWrite>),
                response: Some(schema::<OrderDto>),
                success_status: 201,
                ..RouteSpec::api(
                    "POST",
                    "/api/v1/plan-events/{id}/orders",
                    Access::Permission(Permission::OrderSign),
                    "Sign a weight-based order for a planned infusion",
                )
            },
            post(sign::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<OrderDto>),
                ..RouteSpec::api(
                    "GET",
                    "/api/v1/orders/{id}",
                    Access::Permission(Permission::OrderRead),
                    "An order with its exact arithmetic and checks",
                )
            },
            get(read::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<CheckWrite>),
                response: Some(schema::<OrderDto>),
                ..RouteSpec::api(
                    "POST",
                    "/api/v1/orders/{id}/checks",
                    Access::Permission(Permission::OrderCheck),
                    "The independent double check (a second clinician); needs If-Match",
                )
            },
            post(check::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<CancelWrite>),
                response: Some(schema::<OrderDto>),
                ..RouteSpec::api(
                    "POST",
                    "/api/v1/orders/{id}/cancel",
                    Access::Permission(Permission::OrderSign),
                    "Cancel an order with a reason; needs If-Match",
                )
            },
            post(cancel::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<OrderSummaryDto>>),
                ..RouteSpec::api(
                    "GET",
                    "/api/v1/patients/{id}/orders",
                    Access::Permission(Permission::OrderRead),
                    "A patient's orders, newest first",
                )
            },
            get(list::<S>),
        )
}

pub async fn sign<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OrderWrite>,
) -> Result<Response, ApiError> {
    let input = OrderInput {
        weight_kg: text_of(body.weight_kg.as_ref()),
        weight_measured_on: body.weight_measured_on,
        phases: body
            .phases
            .iter()
            .map(|p| {
                (
                    text_of(p.dose_mg_per_kg.as_ref()),
                    text_of(p.minutes.as_ref()),
                )
            })
            .collect(),
        stock_mg_per_ml: text_of(body.stock_mg_per_ml.as_ref()),
        bag_ml: text_of(body.bag_ml.as_ref()),
        withdraw_from_bag: body.withdraw_from_bag,
        override_reason: body.override_reason,
        acknowledge_warnings: body.acknowledge_warnings,
    };
    let view = app
        .clinic
        .sign_order(&principal, id_of(&id, "is not a plan event id")?, &input)
        .await?;
    Ok(with_etag(StatusCode::CREATED, OrderDto::from_view(&view, &principal)))
}

pub async fn read<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = app
        .clinic
        .get_order(&principal, id_of(&id, "is not an order id")?)
        .await?;
    Ok(with_etag(StatusCode::OK, OrderDto::from_view(&view, &principal)))
}

pub async fn check<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let phases: Vec<String> = body
        .phases
        .iter()
        .map(|p| text_of(Some(p)).unwrap_or_default())
        .collect();
    let weight = text_of(body.weight_kg.as_ref()).unwrap_or_default();
    let view = app
        .clinic
        .check_order(
            &principal,
            id_of(&id, "is not an order id")?,
            version,
            &weight,
            &phases,
        )
        .await?;
    Ok(with_etag(StatusCode::OK, OrderDto::from_view(&view, &principal)))
}

pub async fn cancel<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CancelWrite>,
) -> Result<Response, ApiError> {
    let version = expected_version(&headers)?;
    let view = app
        .clinic
        .cancel_order(
            &principal,
            id_of(&id, "is not an order id")?,
            version,
            body.reason.as_deref(),
        )
        .await?;
    Ok(with_etag(StatusCode::OK, OrderDto::from_view(&view, &principal)))
}

pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<OrderSummaryDto>>, ApiError> {
    let orders = app
        .clinic
        .patient_orders(&principal, parse_id(&id)?)
        .await?;
    Ok(Json(ListResponse {
        items: orders.iter().map(summary).collect(),
        next_cursor: None,
    }))
}

impl Versioned for OrderDto {
    fn version(&self) -> i64 {
        self.version
    }
}
