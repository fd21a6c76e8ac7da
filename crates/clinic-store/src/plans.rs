//! What treatment plans need from a database: a plan with its events and the
//! history of its changes, each write one transaction with its audit event.

use std::future::Future;

use clinic_domain::audit::AuditEvent;
use clinic_domain::patient::PatientStatus;
use clinic_domain::plan::{Plan, PlanChange, PlanEvent, PlanHeader};
use uuid::Uuid;

use crate::StoreResult;

pub trait PlanStore: Clone + Send + Sync + 'static {
    /// Stores a new plan, its events and its first history entry. Fails with
    /// `Conflict { constraint: "plans_patient_id_key" }` when the patient has
    /// a plan that has not ended.
    fn create_plan(
        &self,
        plan: &Plan,
        change: &PlanChange,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A plan with its events in date order.
    fn get_plan(&self, id: Uuid) -> impl Future<Output = StoreResult<Plan>> + Send;
    /// The plan an event belongs to.
    fn plan_of_event(&self, event_id: Uuid) -> impl Future<Output = StoreResult<Uuid>> + Send;
    /// A patient's plans, newest first, without events.
    fn list_plans(
        &self,
        patient_id: Uuid,
    ) -> impl Future<Output = StoreResult<Vec<PlanHeader>>> + Send;
    /// A plan's history, oldest first.
    fn list_plan_changes(
        &self,
        plan_id: Uuid,
    ) -> impl Future<Output = StoreResult<Vec<PlanChange>>> + Send;
    /// Writes a change: the new header (whose version must be
    /// `expected_version + 1`), the events it created or changed, the history
    /// entry and, when given, the patient's new status — or nothing, with
    /// `StaleVersion`, when the plan is no longer at `expected_version`.
    fn save_plan_change(
        &self,
        header: &PlanHeader,
        expected_version: i64,
        events: &[PlanEvent],
        change: &PlanChange,
        patient_status: Option<PatientStatus>,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
