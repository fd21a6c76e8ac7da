//! Infusion orders: the physician signs a weight-based order for a planned
//! infusion of a signed plan; a second clinician, not the one who ordered,
//! re-enters the weight and each phase's dose without seeing them; the
//! infusion may start only when an order is verified. Each read and write
//! is audited; writes commit with their audit event.

use chrono::NaiveDate;
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::dose::Exact;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::order::{self, OrderCalc, OrderError, OrderInput, OrderSettings, OrderStatus};
use clinic_domain::plan::{PlanEvent, PlanState};
use clinic_domain::protocol::EventKind;
use clinic_domain::protocol::definition::Phase;
use clinic_store::Store;
use clinic_store::error::StoreError;
use clinic_store::orders::{OrderCheckRecord, OrderRecord};
use clinic_store::screening::DocumentKind;
use uuid::Uuid;

use crate::Clinic;
use crate::auth::Principal;
use crate::error::ServiceError;

/// What the order form starts from: the planned infusion, the protocol's
/// phases, and the last weight measured at screening.
#[derive(Debug, Clone)]
pub struct OrderContext {
    pub event: PlanEvent,
    pub plan_id: Uuid,
    pub patient_id: Uuid,
    pub protocol_id: String,
    pub protocol_phases: Vec<Phase>,
    /// kg as an exact decimal and the date it was measured.
    pub last_weight: Option<(String, NaiveDate)>,
    /// Allergies recorded in the chart; empty means none recorded.
    pub allergies: Vec<String>,
    pub settings: OrderSettings,
}

/// An order with everything worked out again from its inputs, and its checks.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub order: OrderRecord,
    pub calc: OrderCalc,
    pub checks: Vec<OrderCheckRecord>,
    pub event: PlanEvent,
}

impl OrderView {
    /// Ready for the infusion to start: verified by a matching independent check.
    pub fn ready(&self) -> bool {
        self.order.status == OrderStatus::Verified
    }

    /// Whether `principal` sees the order blind: a second clinician who may
    /// make the independent double check, while no check has matched, sees
    /// nothing of the ordered weight and doses (on the page and over the
    /// API alike), so the check stays independent.
    pub fn blind_for(&self, principal: &Principal) -> bool {
        clinic_domain::authz::role_allows(principal.user.role, Permission::OrderCheck)
            && principal.user.id != self.order.ordered_by
            && matches!(self.order.status, OrderStatus::AwaitingCheck | OrderStatus::CheckFailed)
    }
}

fn input_of(order: &OrderRecord) -> OrderInput {
    OrderInput {
        weight_kg: Some(order.weight_kg.clone()),
        weight_measured_on: Some(order.weight_measured_on.to_string()),
        phases: order
            .phases
            .iter()
            .map(|(d, m)| (Some(d.clone()), Some(m.clone())))
            .collect(),
        stock_mg_per_ml: Some(order.stock_mg_per_ml.clone()),
        bag_ml: order.bag_ml.clone(),
        withdraw_from_bag: order.withdraw_from_bag,
        override_reason: order.override_reason.clone(),
        acknowledge_warnings: true,
    }
}

fn order_error(err: OrderError) -> ServiceError {
    match err {
        OrderError::Invalid(errors) => ServiceError::Invalid(errors),
        OrderError::NeedsAcknowledgement(warnings) => ServiceError::Invalid(FieldErrors::one(
            "acknowledge_warnings",
            format!("acknowledge before signing: {}", warnings.join("; ")),
        )),
    }
}

impl<S: Store> Clinic<S> {
    fn order_audit(
        &self,
        principal: &Principal,
        action: AuditAction,
        patient_id: Uuid,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &principal.actor(),
            action,
            AuditTarget::patient(patient_id),
            Outcome::Success,
            Some(detail.to_string()),
        )
    }

    /// The clinic's order settings.
    pub fn order_settings(&self) -> OrderSettings {
        self.config().orders
    }

    /// The planned infusion an order is for, with the protocol and the last screening weight.
    pub async fn order_context(
        &self,
        principal: &Principal,
        plan_event_id: Uuid,
    ) -> Result<OrderContext, ServiceError> {
        self.authorize(principal, Permission::OrderRead, "read an infusion's order")
            .await?;
        let plan_id = self
            .store()
            .plan_of_event(plan_event_id)
            .await
            .map_err(|e| ServiceError::from_store("plan event", e))?;
        let plan = self
            .store()
            .get_plan(plan_id)
            .await
            .map_err(|e| ServiceError::from_store("plan", e))?;
        let event = plan
            .events
            .iter()
            .find(|e| e.id == plan_event_id)
            .cloned()
            .ok_or(ServiceError::NotFound {
                resource: "plan event",
            })?;
        if event.kind != EventKind::Infusion {
            return Err(ServiceError::Conflict {
                code: "not_an_infusion",
                message: "only an infusion is ordered".into(),
            });
        }
        let protocol = self
            .protocols()
            .get(&plan.header.protocol_id)
            .ok_or_else(|| ServiceError::Conflict {
                code: "protocol_missing",
                message: format!("protocol {} is not installed", plan.header.protocol_id),
            })?;
        let patient = self
            .store()
            .get_patient(plan.header.patient_id)
            .await
            .map_err(|e| ServiceError::from_store("patient", e))?;
        let mut last_weight = None;
        for doc in self
            .store()
            .list_documents(patient.id, DocumentKind::MedicalScreening)
            .await?
        {
            if let Ok(s) = serde_json::from_str::<clinic_domain::screening::Screening>(&doc.body) {
                let kg = Exact::integer(i128::from(s.vitals.weight_g))
                    .checked_div(Exact::integer(1000))
                    .map(|w| w.to_decimal());
                if let Some(kg) = kg {
                    if last_weight
                        .as_ref()
                        .is_none_or(|(_, d): &(String, NaiveDate)| *d <= s.screened_on)
                    {
                        last_weight = Some((kg, s.screened_on));
                    }
                }
            }
        }
        Ok(OrderContext {
            event,
            plan_id,
            patient_id: patient.id,
            protocol_id: protocol.id().to_string(),
            protocol_phases: protocol.definition().infusions.phases.clone(),
            last_weight,
            allergies: patient
                .details
                .allergies
                .iter()
                .map(|a| a.substance.clone())
                .collect(),
            settings: self.order_settings(),
        })
    }

    /// The physician signs an order for a planned infusion of a signed plan.
    pub async fn sign_order(
        &self,
        principal: &Principal,
        plan_event_id: Uuid,
        input: &OrderInput,
    ) -> Result<OrderView, ServiceError> {
        self.authorize(principal, Permission::OrderSign, "sign an infusion order")
            .await?;
        let context = self.order_context(principal, plan_event_id).await?;
        let plan = self.store().get_plan(context.plan_id).await?;
        if plan.header.state() != PlanState::Signed {
            return Err(ServiceError::Conflict {
                code: "plan_not_signed",
                message: "the plan is not signed as it stands; sign it before ordering".into(),
            });
        }
        if !context.event.is_active() {
            return Err(ServiceError::Conflict {
                code: "not_orderable",
                message: format!(
                    "this infusion is {}; only a planned or booked one is ordered",
                    context.event.status.as_str().replace('_', " ")
                ),
            });
        }
        let protocol =
            self.protocols()
                .get(&context.protocol_id)
                .ok_or(ServiceError::NotFound {
                    resource: "protocol",
                })?;
        let today = self.now().with_timezone(&Self::site_zone(&self.main_site().await?)).date_naive();
        let calc = order::compute(
            input,
            &context.event.phases,
            &context.protocol_phases,
            protocol.definition().infusions.max_dose_mg_per_kg,
            &context.settings,
            today,
        )
        .map_err(order_error)?;
        let record = OrderRecord {
            id: Uuid::now_v7(),
            patient_id: context.patient_id,
            plan_event_id,
            weight_kg: calc.weight_kg.to_decimal(),
            weight_measured_on: calc.weight_measured_on,
            weight_basis: calc.weight_basis,
            phases: calc
                .phases
                .iter()
                .map(|p| (p.dose_mg_per_kg.to_decimal(), p.minutes.to_decimal()))
                .collect(),
            stock_mg_per_ml: calc.total.stock_mg_per_ml.to_decimal(),
            bag_ml: calc.total.bag_ml.map(|b| b.to_decimal()),
            withdraw_from_bag: calc.total.withdraw_from_bag,
            override_reason: input
                .override_reason
                .clone()
                .filter(|r| !r.trim().is_empty() && !calc.total.warnings.is_empty()),
            warnings: calc.warnings.clone(),
            status: OrderStatus::AwaitingCheck,
            ordered_by: principal.user.id,
            signed_at: self.now(),
            cancelled_by: None,
            cancelled_at: None,
            cancel_reason: None,
            version: 1,
        };
        let audit = self.order_audit(
            principal,
            AuditAction::OrderSign,
            context.patient_id,
            serde_json::json!({ "order_id": record.id, "plan_event_id": plan_event_id, "dose_mg": calc.total.dose_mg.to_decimal(), "warnings": record.warnings.len() }),
        );
        self.store().create_order(&record, &audit).await.map_err(|e| match e {
            StoreError::Conflict { constraint } if constraint == "infusion_orders_plan_event_id_key" => ServiceError::Conflict {
                code: "order_exists",
                message: "this infusion already has an order; cancel it (with a reason) before ordering again".into(),
            },
            other => ServiceError::from_store("order", other),
        })?;
        Ok(OrderView {
            order: record,
            calc,
            checks: Vec::new(),
            event: context.event,
        })
    }

    /// A stored order's arithmetic, worked out again from its inputs (the same
    /// exact arithmetic gives the same figures; the warnings shown are the ones
    /// stored at signing).
    pub fn order_calc(&self, order: &OrderRecord) -> Result<OrderCalc, ServiceError> {
        let phases: Vec<Phase> = order
            .phases
            .iter()
            .filter_map(|(d, m)| {
                Some(Phase {
                    dose_mg_per_kg: clinic_domain::protocol::decimal::Decimal::parse(d).ok()?,
                    minutes: m.parse().ok()?,
                })
            })
            .collect();
        let on = order.weight_measured_on.max(order.signed_at.date_naive());
        order::compute(
            &input_of(order),
            &phases,
            &phases,
            None,
            &self.order_settings(),
            on,
        )
        .map_err(|e| {
            ServiceError::Internal(anyhow::anyhow!(
                "stored order {} no longer computes: {e}",
                order.id
            ))
        })
    }

    async fn view_of(&self, order: OrderRecord) -> Result<OrderView, ServiceError> {
        let plan_id = self.store().plan_of_event(order.plan_event_id).await?;
        let plan = self.store().get_plan(plan_id).await?;
        let event = plan
            .events
            .iter()
            .find(|e| e.id == order.plan_event_id)
            .cloned()
            .ok_or(ServiceError::NotFound {
                resource: "plan event",
            })?;
        let calc = self.order_calc(&order)?;
        let checks = self.store().order_checks(order.id).await?;
        Ok(OrderView {
            order,
            calc,
            checks,
            event,
        })
    }

    /// An order with its arithmetic and checks (audited).
    pub async fn get_order(
        &self,
        principal: &Principal,
        order_id: Uuid,
    ) -> Result<OrderView, ServiceError> {
        self.authorize(principal, Permission::OrderRead, "read an infusion order")
            .await?;
        let order = self
            .store()
            .get_order(order_id)
            .await
            .map_err(|e| ServiceError::from_store("order", e))?;
        let audit = self.order_audit(
            principal,
            AuditAction::OrderRead,
            order.patient_id,
            serde_json::json!({ "order_id": order_id }),
        );
        self.audit_writer().record(vec![audit]).await?;
        self.view_of(order).await
    }

    /// A patient's orders, newest first (audited once).
    pub async fn patient_orders(
        &self,
        principal: &Principal,
        patient_id: Uuid,
    ) -> Result<Vec<OrderRecord>, ServiceError> {
        self.authorize(principal, Permission::OrderRead, "read infusion orders")
            .await?;
        let orders = self.store().patient_orders(patient_id).await?;
        let audit = self.order_audit(
            principal,
            AuditAction::OrderRead,
            patient_id,
            serde_json::json!({ "orders": orders.len() }),
        );
        self.audit_writer().record(vec![audit]).await?;
        Ok(orders)
    }

    /// A second clinician re-enters the weight and each phase's mg/kg. The
    /// entries are compared with the order exactly; a match verifies it, a
    /// difference blocks the infusion until a matching check.
    pub async fn check_order(
        &self,
        principal: &Principal,
        order_id: Uuid,
        expected_version: i64,
        weight_kg: &str,
        phases: &[String],
    ) -> Result<OrderView, ServiceError> {
        self.authorize(
            principal,
            Permission::OrderCheck,
            "double-check an infusion order",
        )
        .await?;
        let order = self
            .store()
            .get_order(order_id)
            .await
            .map_err(|e| ServiceError::from_store("order", e))?;
        if order.version != expected_version {
            return Err(ServiceError::StaleVersion {
                current: order.version,
            });
        }
        if order.ordered_by == principal.user.id {
            return Err(ServiceError::Conflict { code: "not_independent", message: "the double check is made by a second clinician, not the one who signed the order".into() });
        }
        match order.status {
            OrderStatus::Cancelled => {
                return Err(ServiceError::Conflict {
                    code: "cancelled",
                    message: "this order was cancelled".into(),
                });
            }
            OrderStatus::Verified => {
                return Err(ServiceError::Conflict {
                    code: "verified",
                    message: "this order is verified already".into(),
                });
            }
            OrderStatus::AwaitingCheck | OrderStatus::CheckFailed => {}
        }
        let mut errors = Vec::new();
        if weight_kg.trim().is_empty() {
            errors.push(FieldError::new(
                "weight_kg",
                "required: weigh or read the weight yourself",
            ));
        }
        if phases.iter().all(|p| p.trim().is_empty()) {
            errors.push(FieldError::new(
                "phases",
                "required: the mg/kg of each phase",
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        let ordered_weight = Exact::parse(&order.weight_kg).ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("stored weight {}", order.weight_kg))
        })?;
        let ordered_phases: Vec<Exact> = order
            .phases
            .iter()
            .filter_map(|(d, _)| Exact::parse(d))
            .collect();
        let entered: Vec<String> = phases.iter().map(|p| p.trim().to_string()).collect();
        let differences =
            order::compare(ordered_weight, &ordered_phases, weight_kg.trim(), &entered);
        let matches = differences.is_empty();
        let check = OrderCheckRecord {
            id: Uuid::now_v7(),
            order_id,
            checked_by: principal.user.id,
            weight_kg: weight_kg.trim().to_string(),
            phases: entered,
            matches,
            differences: differences.clone(),
            checked_at: self.now(),
        };
        let status = if matches {
            OrderStatus::Verified
        } else {
            OrderStatus::CheckFailed
        };
        let audit = self.order_audit(principal, AuditAction::OrderCheck, order.patient_id, serde_json::json!({ "order_id": order_id, "matches": matches, "differences": differences.len() }));
        let order = self
            .store()
            .record_order_check(&check, status, expected_version, &audit)
            .await
            .map_err(|e| ServiceError::from_store("order", e))?;
        self.view_of(order).await
    }

    /// The physician cancels an order with a reason (a new one may then be signed).
    pub async fn cancel_order(
        &self,
        principal: &Principal,
        order_id: Uuid,
        expected_version: i64,
        reason: Option<&str>,
    ) -> Result<OrderView, ServiceError> {
        self.authorize(principal, Permission::OrderSign, "cancel an infusion order")
            .await?;
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                ServiceError::Invalid(FieldErrors::one("reason", "required: say why"))
            })?;
        let order = self
            .store()
            .get_order(order_id)
            .await
            .map_err(|e| ServiceError::from_store("order", e))?;
        let audit = self.order_audit(
            principal,
            AuditAction::OrderCancel,
            order.patient_id,
            serde_json::json!({ "order_id": order_id }),
        );
        let order = self
            .store()
            .cancel_order(
                order_id,
                expected_version,
                principal.user.id,
                self.now(),
                reason,
                &audit,
            )
            .await
            .map_err(|e| ServiceError::from_store("order", e))?;
        self.view_of(order).await
    }

    /// The order an infusion may start on, or why not (issue 7's start checks this).
    pub async fn ready_order(
        &self,
        plan_event_id: Uuid,
        patient_id: Uuid,
    ) -> Result<OrderRecord, String> {
        let orders = self
            .store()
            .patient_orders(patient_id)
            .await
            .map_err(|e| e.to_string())?;
        let live = orders
            .into_iter()
            .find(|o| o.plan_event_id == plan_event_id && o.status != OrderStatus::Cancelled);
        match live {
            None => Err("no signed order for this infusion".into()),
            Some(o) if o.status == OrderStatus::Verified => Ok(o),
            Some(o) if o.status == OrderStatus::CheckFailed => {
                Err("the double check did not match the order: a matching check is needed".into())
            }
            Some(_) => Err("the order awaits its independent double check".into()),
        }
    }
}
