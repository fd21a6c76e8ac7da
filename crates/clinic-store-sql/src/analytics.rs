//! The shared SQL of `AnalyticsStore`, expanded by `impl_store!` inside its own module.

/// Expands `AnalyticsStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_analytics_store {
    ($store:ty) => {
        use ::clinic_store::analytics::{AnalyticsStore, FunnelRow, OutcomeSnapshotRow};

        const SNAPSHOT_COLUMNS: &str = "patient_id, plan_id, protocol_id, site_id, start_date, mark, computed_on, computed_at, summary";

        fn snapshot_from_row(row: &DbRow) -> StoreResult<OutcomeSnapshotRow> {
            Ok(OutcomeSnapshotRow {
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                plan_id: row.try_get("plan_id").map_err(db_err)?,
                protocol_id: row.try_get("protocol_id").map_err(db_err)?,
                site_id: row.try_get("site_id").map_err(db_err)?,
                start_date: row.try_get("start_date").map_err(db_err)?,
                mark: row.try_get("mark").map_err(db_err)?,
                computed_on: row.try_get("computed_on").map_err(db_err)?,
                computed_at: row.try_get("computed_at").map_err(db_err)?,
                summary: row.try_get("summary").map_err(db_err)?,
            })
        }

        impl AnalyticsStore for $store {
            async fn stale_outcome_snapshots(&self, stale_before: Option<NaiveDate>, unchanging_actions: &[&'static str]) -> StoreResult<Vec<Uuid>> {
                // The action names are the domain's own constants (letters, dots
                // and underscores), checked here before they enter the text.
                if let Some(bad) = unchanging_actions.iter().find(|a| !a.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')) {
                    return Err(StoreError::Other(::anyhow::anyhow!("audit action name {bad:?} is not a plain name")));
                }
                let list = if unchanging_actions.is_empty() { "''".to_string() } else { unchanging_actions.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ") };
                let sql = format!(
                    "SELECT DISTINCT p.patient_id AS patient_id FROM plans p \
                     WHERE p.signed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM outcome_snapshots s WHERE s.patient_id = p.patient_id) \
                     UNION \
                     SELECT s.patient_id AS patient_id FROM outcome_snapshots s \
                     WHERE s.computed_on < $1 OR EXISTS (SELECT 1 FROM audit_events a WHERE a.patient_id = s.patient_id AND a.id > s.mark \
                       AND a.outcome = 'success' AND a.action NOT IN ({list}))"
                );
                // Without a day, '' makes the day condition false for every row.
                let before = stale_before.map(|d| d.to_string()).unwrap_or_default();
                let rows = ::sqlx::query(&sql).bind(before).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(|r| r.try_get("patient_id").map_err(db_err)).collect()
            }

            async fn put_outcome_snapshot(&self, r: &OutcomeSnapshotRow) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!(
                    "INSERT INTO outcome_snapshots ({SNAPSHOT_COLUMNS}) VALUES ({}) ON CONFLICT (patient_id) DO UPDATE SET \
                     plan_id = excluded.plan_id, protocol_id = excluded.protocol_id, site_id = excluded.site_id, start_date = excluded.start_date, \
                     mark = excluded.mark, computed_on = excluded.computed_on, computed_at = excluded.computed_at, summary = excluded.summary",
                    placeholders(1, 9)
                );
                ::sqlx::query(&sql)
                    .bind(r.patient_id)
                    .bind(r.plan_id)
                    .bind(&r.protocol_id)
                    .bind(r.site_id)
                    .bind(&r.start_date)
                    .bind(r.mark)
                    .bind(&r.computed_on)
                    .bind(r.computed_at)
                    .bind(&r.summary)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn outcome_snapshots(&self) -> StoreResult<Vec<OutcomeSnapshotRow>> {
                let sql = format!("SELECT {SNAPSHOT_COLUMNS} FROM outcome_snapshots ORDER BY protocol_id, start_date, patient_id");
                let rows = ::sqlx::query(&sql).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(snapshot_from_row).collect()
            }

            async fn funnel_rows(&self) -> StoreResult<Vec<FunnelRow>> {
                let sql = "SELECT i.created_at AS inquiry_at, \
                    (SELECT MIN(q.created_at) FROM questionnaire_responses q WHERE q.patient_id = i.patient_id) AS first_questionnaire, \
                    (SELECT MIN(d.created_at) FROM patient_documents d WHERE d.patient_id = i.patient_id AND d.kind = 'medical_screening') AS first_screening, \
                    (SELECT MIN(s.opened_at) FROM infusion_sessions s WHERE s.patient_id = i.patient_id AND s.status = 'discharged') AS first_infusion \
                    FROM inquiries i ORDER BY i.created_at";
                let rows = ::sqlx::query(sql).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter()
                    .map(|r| {
                        let q: Option<DateTime<Utc>> = r.try_get("first_questionnaire").map_err(db_err)?;
                        let d: Option<DateTime<Utc>> = r.try_get("first_screening").map_err(db_err)?;
                        let screened_at = match (q, d) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        Ok(FunnelRow { inquiry_at: r.try_get("inquiry_at").map_err(db_err)?, screened_at, treated_at: r.try_get("first_infusion").map_err(db_err)? })
                    })
                    .collect()
            }
        }
    };
}
