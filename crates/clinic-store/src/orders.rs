//! What infusion orders need from a database: the signed order (inputs as
//! typed exact decimals) and each double check, every write one transaction
//! with its audit event.

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use clinic_domain::audit::AuditEvent;
use clinic_domain::order::{OrderStatus, WeightBasis};
use uuid::Uuid;

use crate::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub plan_event_id: Uuid,
    /// Exact decimals as text ("72.5").
    pub weight_kg: String,
    pub weight_measured_on: NaiveDate,
    pub weight_basis: WeightBasis,
    /// (mg/kg, minutes) per phase, exact decimal text.
    pub phases: Vec<(String, String)>,
    pub stock_mg_per_ml: String,
    pub bag_ml: Option<String>,
    pub withdraw_from_bag: bool,
    pub override_reason: Option<String>,
    pub warnings: Vec<String>,
    pub status: OrderStatus,
    pub ordered_by: Uuid,
    pub signed_at: DateTime<Utc>,
    pub cancelled_by: Option<Uuid>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCheckRecord {
    pub id: Uuid,
    pub order_id: Uuid,
    pub checked_by: Uuid,
    /// As the checker typed them.
    pub weight_kg: String,
    pub phases: Vec<String>,
    pub matches: bool,
    pub differences: Vec<String>,
    pub checked_at: DateTime<Utc>,
}

pub trait OrderStore: Clone + Send + Sync + 'static {
    /// Stores a signed order. `Conflict { constraint: "infusion_orders_plan_event_id_key" }`
    /// when the infusion has a live order already.
    fn create_order(&self, order: &OrderRecord, audit: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_order(&self, id: Uuid) -> impl Future<Output = StoreResult<OrderRecord>> + Send;
    /// A patient's orders, newest first.
    fn patient_orders(&self, patient_id: Uuid) -> impl Future<Output = StoreResult<Vec<OrderRecord>>> + Send;
    /// An order's checks, oldest first.
    fn order_checks(&self, order_id: Uuid) -> impl Future<Output = StoreResult<Vec<OrderCheckRecord>>> + Send;
    /// Stores a check and sets the order's status, at `expected_version`
    /// (`StaleVersion` and nothing written otherwise).
    fn record_order_check(&self, check: &OrderCheckRecord, status: OrderStatus, expected_version: i64, audit: &AuditEvent)
        -> impl Future<Output = StoreResult<OrderRecord>> + Send;
    fn cancel_order(&self, id: Uuid, expected_version: i64, by: Uuid, at: DateTime<Utc>, reason: &str, audit: &AuditEvent)
        -> impl Future<Output = StoreResult<OrderRecord>> + Send;
}
