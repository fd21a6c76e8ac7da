//! The shared SQL of `PlanStore`, expanded by `impl_store!` inside its own
//! module (so `insert_audit`, `db_err`, `other` and the `Db`/`Tx` aliases are
//! in scope).

/// Expands `PlanStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_plan_store {
    ($store:ty) => {
        use ::clinic_domain::plan::{ChangeAction, EventOrigin, EventStatus, Plan, PlanChange, PlanEvent, PlanHeader};
        use ::clinic_domain::protocol::decimal::Decimal;
        use ::clinic_domain::protocol::definition::Phase;
        use ::clinic_domain::protocol::EventKind;
        use ::clinic_store::plans::PlanStore;

        const PLAN_COLUMNS: &str = "id, patient_id, protocol_id, protocol_version, start_date, created_by, created_at, signed_by, \
             signed_at, signed_version, ended_by, ended_at, end_reason, version";
        const PLAN_EVENT_COLUMNS: &str = "id, plan_id, seq, kind, status, origin, protocol_date, date, infusion_number, phases, \
             window_start, window_end, modality, instrument, deviations";
        const PLAN_CHANGE_COLUMNS: &str =
            "id, plan_id, version, action, event_id, summary, reason, deviations, changed_by, changed_at";

        fn phases_to_text(phases: &[Phase]) -> String {
            phases.iter().map(|p| format!("{}@{}", p.dose_mg_per_kg, p.minutes)).collect::<Vec<_>>().join(";")
        }

        fn phases_from_text(text: &str) -> StoreResult<Vec<Phase>> {
            text.split(';')
                .filter(|part| !part.is_empty())
                .map(|part| {
                    let (dose, minutes) = part.split_once('@').ok_or_else(|| other(format!("stored phase {part}")))?;
                    Ok(Phase {
                        dose_mg_per_kg: Decimal::parse(dose).map_err(|e| other(e.to_string()))?,
                        minutes: minutes.parse().map_err(|_| other(format!("stored phase {part}")))?,
                    })
                })
                .collect()
        }

        fn lines(text: &str) -> Vec<String> {
            text.lines().filter(|line| !line.is_empty()).map(str::to_string).collect()
        }

        fn plan_header_from_row(row: &DbRow) -> StoreResult<PlanHeader> {
            Ok(PlanHeader {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                protocol_id: row.try_get("protocol_id").map_err(db_err)?,
                protocol_version: row.try_get("protocol_version").map_err(db_err)?,
                start_date: row.try_get("start_date").map_err(db_err)?,
                created_by: row.try_get("created_by").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
                signed_by: row.try_get("signed_by").map_err(db_err)?,
                signed_at: row.try_get("signed_at").map_err(db_err)?,
                signed_version: row.try_get("signed_version").map_err(db_err)?,
                ended_by: row.try_get("ended_by").map_err(db_err)?,
                ended_at: row.try_get("ended_at").map_err(db_err)?,
                end_reason: row.try_get("end_reason").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
            })
        }

        fn plan_event_from_row(row: &DbRow) -> StoreResult<PlanEvent> {
            let kind: String = row.try_get("kind").map_err(db_err)?;
            let status: String = row.try_get("status").map_err(db_err)?;
            let origin: String = row.try_get("origin").map_err(db_err)?;
            let phases: String = row.try_get("phases").map_err(db_err)?;
            let deviations: String = row.try_get("deviations").map_err(db_err)?;
            let window_start: Option<NaiveDate> = row.try_get("window_start").map_err(db_err)?;
            let window_end: Option<NaiveDate> = row.try_get("window_end").map_err(db_err)?;
            Ok(PlanEvent {
                id: row.try_get("id").map_err(db_err)?,
                plan_id: row.try_get("plan_id").map_err(db_err)?,
                seq: row.try_get("seq").map_err(db_err)?,
                kind: EventKind::parse(&kind).map_err(|e| other(e.message))?,
                status: EventStatus::parse(&status).map_err(|e| other(e.message))?,
                origin: EventOrigin::parse(&origin).map_err(|e| other(e.message))?,
                protocol_date: row.try_get("protocol_date").map_err(db_err)?,
                date: row.try_get("date").map_err(db_err)?,
                infusion_number: row.try_get("infusion_number").map_err(db_err)?,
                phases: phases_from_text(&phases)?,
                window: window_start.zip(window_end),
                modality: row.try_get("modality").map_err(db_err)?,
                instrument: row.try_get("instrument").map_err(db_err)?,
                deviations: lines(&deviations),
            })
        }

        fn plan_change_from_row(row: &DbRow) -> StoreResult<PlanChange> {
            let action: String = row.try_get("action").map_err(db_err)?;
            let deviations: String = row.try_get("deviations").map_err(db_err)?;
            Ok(PlanChange {
                id: row.try_get("id").map_err(db_err)?,
                plan_id: row.try_get("plan_id").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
                action: ChangeAction::parse(&action).map_err(|e| other(e.message))?,
                event_id: row.try_get("event_id").map_err(db_err)?,
                summary: row.try_get("summary").map_err(db_err)?,
                reason: row.try_get("reason").map_err(db_err)?,
                deviations: lines(&deviations),
                changed_by: row.try_get("changed_by").map_err(db_err)?,
                changed_at: row.try_get("changed_at").map_err(db_err)?,
            })
        }

        async fn upsert_plan_event(tx: &mut Tx, event: &PlanEvent) -> StoreResult<()> {
            let sql = format!(
                "INSERT INTO plan_events ({PLAN_EVENT_COLUMNS}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET \
                 status = excluded.status, date = excluded.date, phases = excluded.phases, deviations = excluded.deviations",
                placeholders(1, 15)
            );
            ::sqlx::query(&sql)
                .bind(event.id)
                .bind(event.plan_id)
                .bind(event.seq)
                .bind(event.kind.as_str())
                .bind(event.status.as_str())
                .bind(event.origin.as_str())
                .bind(event.protocol_date)
                .bind(event.date)
                .bind(event.infusion_number)
                .bind(phases_to_text(&event.phases))
                .bind(event.window.map(|w| w.0))
                .bind(event.window.map(|w| w.1))
                .bind(&event.modality)
                .bind(&event.instrument)
                .bind(event.deviations.join("\n"))
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            Ok(())
        }

        async fn insert_plan_change(tx: &mut Tx, change: &PlanChange) -> StoreResult<()> {
            let sql = format!("INSERT INTO plan_changes ({PLAN_CHANGE_COLUMNS}) VALUES ({})", placeholders(1, 10));
            ::sqlx::query(&sql)
                .bind(change.id)
                .bind(change.plan_id)
                .bind(change.version)
                .bind(change.action.as_str())
                .bind(change.event_id)
                .bind(&change.summary)
                .bind(&change.reason)
                .bind(change.deviations.join("\n"))
                .bind(change.changed_by)
                .bind(change.changed_at)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            Ok(())
        }

        impl PlanStore for $store {
            async fn create_plan(&self, plan: &Plan, change: &PlanChange, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let h = &plan.header;
                let sql = format!("INSERT INTO plans ({PLAN_COLUMNS}) VALUES ({})", placeholders(1, 14));
                ::sqlx::query(&sql)
                    .bind(h.id)
                    .bind(h.patient_id)
                    .bind(&h.protocol_id)
                    .bind(h.protocol_version)
                    .bind(h.start_date)
                    .bind(h.created_by)
                    .bind(h.created_at)
                    .bind(h.signed_by)
                    .bind(h.signed_at)
                    .bind(h.signed_version)
                    .bind(h.ended_by)
                    .bind(h.ended_at)
                    .bind(&h.end_reason)
                    .bind(h.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                for event in &plan.events {
                    upsert_plan_event(&mut tx, event).await?;
                }
                insert_plan_change(&mut tx, change).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn get_plan(&self, id: Uuid) -> StoreResult<Plan> {
                let sql = format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                let header = row.as_ref().map(plan_header_from_row).transpose()?.ok_or(StoreError::NotFound)?;
                let sql = format!(
                    "SELECT {PLAN_EVENT_COLUMNS} FROM plan_events WHERE plan_id = $1 ORDER BY date, \
                     CASE kind WHEN 'inpatient' THEN 0 WHEN 'infusion' THEN 1 WHEN 'therapy' THEN 2 WHEN 'integration' THEN 3 \
                     WHEN 'assessment' THEN 4 ELSE 5 END, seq"
                );
                let rows = ::sqlx::query(&sql).bind(id).fetch_all(self.pool()).await.map_err(db_err)?;
                let events = rows.iter().map(plan_event_from_row).collect::<StoreResult<Vec<_>>>()?;
                Ok(Plan { header, events })
            }

            async fn plan_of_event(&self, event_id: Uuid) -> StoreResult<Uuid> {
                ::sqlx::query_scalar("SELECT plan_id FROM plan_events WHERE id = $1")
                    .bind(event_id)
                    .fetch_optional(self.pool())
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)
            }

            async fn list_plans(&self, patient_id: Uuid) -> StoreResult<Vec<PlanHeader>> {
                let sql = format!("SELECT {PLAN_COLUMNS} FROM plans WHERE patient_id = $1 ORDER BY created_at DESC, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(plan_header_from_row).collect()
            }

            async fn list_plan_changes(&self, plan_id: Uuid) -> StoreResult<Vec<PlanChange>> {
                let sql = format!("SELECT {PLAN_CHANGE_COLUMNS} FROM plan_changes WHERE plan_id = $1 ORDER BY version");
                let rows = ::sqlx::query(&sql).bind(plan_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(plan_change_from_row).collect()
            }

            async fn save_plan_change(
                &self,
                header: &PlanHeader,
                expected_version: i64,
                events: &[PlanEvent],
                change: &PlanChange,
                patient_status: Option<::clinic_domain::patient::PatientStatus>,
                audit: &AuditEvent,
            ) -> StoreResult<()> {
                if header.version != expected_version + 1 || events.iter().any(|e| e.plan_id != header.id) {
                    return Err(other("save_plan_change: the new header must be one version on, with its own events".into()));
                }
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let updated = ::sqlx::query(
                    "UPDATE plans SET signed_by = $1, signed_at = $2, signed_version = $3, ended_by = $4, ended_at = $5, \
                     end_reason = $6, version = $7 WHERE id = $8 AND version = $9",
                )
                .bind(header.signed_by)
                .bind(header.signed_at)
                .bind(header.signed_version)
                .bind(header.ended_by)
                .bind(header.ended_at)
                .bind(&header.end_reason)
                .bind(header.version)
                .bind(header.id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if updated.rows_affected() == 0 {
                    let current: Option<i64> = ::sqlx::query_scalar("SELECT version FROM plans WHERE id = $1")
                        .bind(header.id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    return Err(match current {
                        Some(current) => StoreError::StaleVersion { current },
                        None => StoreError::NotFound,
                    });
                }
                for event in events {
                    upsert_plan_event(&mut tx, event).await?;
                }
                insert_plan_change(&mut tx, change).await?;
                if let Some(status) = patient_status {
                    ::sqlx::query("UPDATE patients SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                        .bind(status.as_str())
                        .bind(change.changed_at)
                        .bind(header.patient_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }
        }
    };
}
