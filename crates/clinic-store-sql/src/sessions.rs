//! The shared SQL of `SessionStore`, expanded by `impl_store!` inside its own
//! module (after `impl_screening_store!`, whose `insert_outbox` it uses).

/// Expands `SessionStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_session_store {
    ($store:ty) => {
        use ::clinic_store::sessions::{SessionEntryRecord, SessionEntryChange, InfusionSessionRecord, SessionStore};

        const INFUSION_SESSION_COLUMNS: &str =
            "id, patient_id, site_id, booking_id, plan_event_id, order_id, resource_id, status, opened_by, opened_at, closed_at, version";
        const SESSION_ENTRY_COLUMNS: &str = "id, session_id, seq, kind, at, recorded_by, body";

        fn infusion_session_from_row(row: &DbRow) -> StoreResult<InfusionSessionRecord> {
            Ok(InfusionSessionRecord {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                site_id: row.try_get("site_id").map_err(db_err)?,
                booking_id: row.try_get("booking_id").map_err(db_err)?,
                plan_event_id: row.try_get("plan_event_id").map_err(db_err)?,
                order_id: row.try_get("order_id").map_err(db_err)?,
                resource_id: row.try_get("resource_id").map_err(db_err)?,
                status: row.try_get("status").map_err(db_err)?,
                opened_by: row.try_get("opened_by").map_err(db_err)?,
                opened_at: row.try_get("opened_at").map_err(db_err)?,
                closed_at: row.try_get("closed_at").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
            })
        }

        fn session_entry_from_row(row: &DbRow) -> StoreResult<SessionEntryRecord> {
            Ok(SessionEntryRecord {
                id: row.try_get("id").map_err(db_err)?,
                session_id: row.try_get("session_id").map_err(db_err)?,
                seq: row.try_get("seq").map_err(db_err)?,
                kind: row.try_get("kind").map_err(db_err)?,
                at: row.try_get("at").map_err(db_err)?,
                recorded_by: row.try_get("recorded_by").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
            })
        }

        async fn insert_session_entries(tx: &mut Tx, session_id: Uuid, entries: &[SessionEntryRecord]) -> StoreResult<()> {
            let last: Option<i64> = ::sqlx::query_scalar("SELECT MAX(seq) FROM session_entries WHERE session_id = $1")
                .bind(session_id)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err)?;
            let mut seq = last.unwrap_or(0);
            let sql = format!("INSERT INTO session_entries ({SESSION_ENTRY_COLUMNS}) VALUES ({})", placeholders(1, 7));
            for e in entries {
                seq += 1;
                ::sqlx::query(&sql)
                    .bind(e.id)
                    .bind(session_id)
                    .bind(seq)
                    .bind(&e.kind)
                    .bind(e.at)
                    .bind(e.recorded_by)
                    .bind(&e.body)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
            }
            Ok(())
        }

        impl SessionStore for $store {
            async fn open_session(&self, s: &InfusionSessionRecord, entries: &[SessionEntryRecord], audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO infusion_sessions ({INFUSION_SESSION_COLUMNS}) VALUES ({})", placeholders(1, 12));
                ::sqlx::query(&sql)
                    .bind(s.id)
                    .bind(s.patient_id)
                    .bind(s.site_id)
                    .bind(s.booking_id)
                    .bind(s.plan_event_id)
                    .bind(s.order_id)
                    .bind(s.resource_id)
                    .bind(&s.status)
                    .bind(s.opened_by)
                    .bind(s.opened_at)
                    .bind(s.closed_at)
                    .bind(s.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_session_entries(&mut tx, s.id, entries).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn get_infusion_session(&self, id: Uuid) -> StoreResult<InfusionSessionRecord> {
                let sql = format!("SELECT {INFUSION_SESSION_COLUMNS} FROM infusion_sessions WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(infusion_session_from_row).transpose()?.ok_or(StoreError::NotFound)
            }

            async fn session_entries(&self, id: Uuid) -> StoreResult<Vec<SessionEntryRecord>> {
                let sql = format!("SELECT {SESSION_ENTRY_COLUMNS} FROM session_entries WHERE session_id = $1 ORDER BY seq");
                let rows = ::sqlx::query(&sql).bind(id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(session_entry_from_row).collect()
            }

            async fn append_session(&self, id: Uuid, expected_version: i64, change: SessionEntryChange<'_>) -> StoreResult<InfusionSessionRecord> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let updated = ::sqlx::query(
                    "UPDATE infusion_sessions SET version = version + 1, status = COALESCE($1, status), closed_at = COALESCE($2, closed_at) \
                     WHERE id = $3 AND version = $4",
                )
                .bind(change.status)
                .bind(change.closed_at)
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if updated.rows_affected() == 0 {
                    let current: Option<i64> = ::sqlx::query_scalar("SELECT version FROM infusion_sessions WHERE id = $1").bind(id).fetch_optional(&mut *tx).await.map_err(db_err)?;
                    return Err(match current {
                        Some(current) => StoreError::StaleVersion { current },
                        None => StoreError::NotFound,
                    });
                }
                insert_session_entries(&mut tx, id, change.entries).await?;
                if let Some((booking_id, status)) = change.booking_status {
                    ::sqlx::query("UPDATE bookings SET status = $1, version = version + 1 WHERE id = $2")
                        .bind(status.as_str())
                        .bind(booking_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                if let Some((event_id, status)) = change.event_status {
                    ::sqlx::query("UPDATE plan_events SET status = $1 WHERE id = $2").bind(status.as_str()).bind(event_id).execute(&mut *tx).await.map_err(db_err)?;
                }
                for message in change.outbox {
                    insert_outbox(&mut tx, message).await?;
                }
                for event in change.audit {
                    insert_audit(&mut tx, event).await?;
                }
                let sql = format!("SELECT {INFUSION_SESSION_COLUMNS} FROM infusion_sessions WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await.map_err(db_err)?;
                let session = infusion_session_from_row(&row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(session)
            }

            async fn open_sessions(&self, site_id: Uuid) -> StoreResult<Vec<InfusionSessionRecord>> {
                let sql = format!(
                    "SELECT {INFUSION_SESSION_COLUMNS} FROM infusion_sessions WHERE site_id = $1 AND status IN ('pre_check', 'infusing', 'recovery') ORDER BY opened_at, id"
                );
                let rows = ::sqlx::query(&sql).bind(site_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(infusion_session_from_row).collect()
            }

            async fn patient_sessions(&self, patient_id: Uuid) -> StoreResult<Vec<InfusionSessionRecord>> {
                let sql = format!("SELECT {INFUSION_SESSION_COLUMNS} FROM infusion_sessions WHERE patient_id = $1 ORDER BY opened_at DESC, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(infusion_session_from_row).collect()
            }
        }
    };
}
