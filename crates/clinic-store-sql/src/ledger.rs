//! The shared SQL of `LedgerStore`, expanded by `impl_store!` inside its own
//! module (after `impl_screening_store!`, whose `insert_outbox` it uses).

/// Expands `LedgerStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_ledger_store {
    ($store:ty) => {
        use ::clinic_store::ledger::{DiscrepancyRecord, LedgerAppend, LedgerEntryRecord, LedgerStore};

        const LEDGER_ENTRY_COLUMNS: &str = "id, site_id, seq, lot_id, entry_type, at, actor_id, witness_id, session_id, patient_id, body";
        const DISCREPANCY_COLUMNS: &str =
            "id, site_id, count_entry_id, lot_id, message, routed_to, raised_at, closed_at, closed_by, response, version";

        fn ledger_entry_from_row(row: &DbRow) -> StoreResult<LedgerEntryRecord> {
            Ok(LedgerEntryRecord {
                id: row.try_get("id").map_err(db_err)?,
                site_id: row.try_get("site_id").map_err(db_err)?,
                seq: row.try_get("seq").map_err(db_err)?,
                lot_id: row.try_get("lot_id").map_err(db_err)?,
                entry_type: row.try_get("entry_type").map_err(db_err)?,
                at: row.try_get("at").map_err(db_err)?,
                actor_id: row.try_get("actor_id").map_err(db_err)?,
                witness_id: row.try_get("witness_id").map_err(db_err)?,
                session_id: row.try_get("session_id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
            })
        }

        fn discrepancy_from_row(row: &DbRow) -> StoreResult<DiscrepancyRecord> {
            Ok(DiscrepancyRecord {
                id: row.try_get("id").map_err(db_err)?,
                site_id: row.try_get("site_id").map_err(db_err)?,
                count_entry_id: row.try_get("count_entry_id").map_err(db_err)?,
                lot_id: row.try_get("lot_id").map_err(db_err)?,
                message: row.try_get("message").map_err(db_err)?,
                routed_to: row.try_get("routed_to").map_err(db_err)?,
                raised_at: row.try_get("raised_at").map_err(db_err)?,
                closed_at: row.try_get("closed_at").map_err(db_err)?,
                closed_by: row.try_get("closed_by").map_err(db_err)?,
                response: row.try_get("response").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
            })
        }

        impl LedgerStore for $store {
            async fn ledger_entries(&self, site_id: Uuid) -> StoreResult<Vec<LedgerEntryRecord>> {
                let sql = format!("SELECT {LEDGER_ENTRY_COLUMNS} FROM ledger_entries WHERE site_id = $1 ORDER BY seq");
                let rows = ::sqlx::query(&sql).bind(site_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(ledger_entry_from_row).collect()
            }

            async fn session_ledger_entries(&self, session_id: Uuid) -> StoreResult<Vec<LedgerEntryRecord>> {
                let sql = format!("SELECT {LEDGER_ENTRY_COLUMNS} FROM ledger_entries WHERE session_id = $1 ORDER BY seq");
                let rows = ::sqlx::query(&sql).bind(session_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(ledger_entry_from_row).collect()
            }

            async fn append_ledger(&self, append: LedgerAppend<'_>) -> StoreResult<()> {
                let e = append.entry;
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let last: Option<i64> = ::sqlx::query_scalar("SELECT MAX(seq) FROM ledger_entries WHERE site_id = $1")
                    .bind(e.site_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let last = last.unwrap_or(0);
                if e.seq != last + 1 {
                    return Err(StoreError::StaleVersion { current: last });
                }
                let sql = format!("INSERT INTO ledger_entries ({LEDGER_ENTRY_COLUMNS}) VALUES ({})", placeholders(1, 11));
                let inserted = ::sqlx::query(&sql)
                    .bind(e.id)
                    .bind(e.site_id)
                    .bind(e.seq)
                    .bind(e.lot_id)
                    .bind(&e.entry_type)
                    .bind(e.at)
                    .bind(e.actor_id)
                    .bind(e.witness_id)
                    .bind(e.session_id)
                    .bind(e.patient_id)
                    .bind(&e.body)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err);
                match inserted {
                    // A writer that took the same number first: the caller re-reads and tries again.
                    Err(StoreError::Conflict { constraint }) if constraint.contains("seq") => {
                        return Err(StoreError::StaleVersion { current: last + 1 });
                    }
                    Err(other) => return Err(other),
                    Ok(_) => {}
                }
                if let Some(d) = append.discrepancy {
                    let sql = format!("INSERT INTO ledger_discrepancies ({DISCREPANCY_COLUMNS}) VALUES ({})", placeholders(1, 11));
                    ::sqlx::query(&sql)
                        .bind(d.id)
                        .bind(d.site_id)
                        .bind(d.count_entry_id)
                        .bind(d.lot_id)
                        .bind(&d.message)
                        .bind(&d.routed_to)
                        .bind(d.raised_at)
                        .bind(d.closed_at)
                        .bind(d.closed_by)
                        .bind(&d.response)
                        .bind(d.version)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                for message in append.outbox {
                    insert_outbox(&mut tx, message).await?;
                }
                for event in append.audit {
                    insert_audit(&mut tx, event).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn list_discrepancies(&self, site_id: Option<Uuid>, open_only: bool) -> StoreResult<Vec<DiscrepancyRecord>> {
                let sql = format!(
                    "SELECT {DISCREPANCY_COLUMNS} FROM ledger_discrepancies WHERE ($1 IS NULL OR site_id = $1) AND (NOT $2 OR closed_at IS NULL) \
                     ORDER BY raised_at DESC, id"
                );
                let rows = ::sqlx::query(&sql).bind(site_id).bind(open_only).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(discrepancy_from_row).collect()
            }

            async fn close_discrepancy(
                &self,
                id: Uuid,
                expected_version: i64,
                closed_by: Uuid,
                response: &str,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> StoreResult<DiscrepancyRecord> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("SELECT {DISCREPANCY_COLUMNS} FROM ledger_discrepancies WHERE id = $1");
                let current = ::sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await.map_err(db_err)?;
                let current = current.as_ref().map(discrepancy_from_row).transpose()?.ok_or(StoreError::NotFound)?;
                if current.closed_at.is_some() {
                    return Err(StoreError::Conflict { constraint: "ledger_discrepancies_closed".into() });
                }
                if current.version != expected_version {
                    return Err(StoreError::StaleVersion { current: current.version });
                }
                ::sqlx::query(
                    "UPDATE ledger_discrepancies SET closed_at = $1, closed_by = $2, response = $3, version = version + 1 \
                     WHERE id = $4 AND version = $5",
                )
                .bind(now)
                .bind(closed_by)
                .bind(response)
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                let row = ::sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await.map_err(db_err)?;
                let closed = discrepancy_from_row(&row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(closed)
            }
        }
    };
}
