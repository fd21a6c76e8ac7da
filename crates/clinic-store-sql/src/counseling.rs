//! The shared SQL of `CounselingStore`, expanded by `impl_store!` inside its own module.

/// Expands `CounselingStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_counseling_store {
    ($store:ty) => {
        use ::clinic_store::counseling::{CounselingNoteRow, CounselingRow, CounselingStore, NewCounseling, RecoveryPlanRow, ReferralRow};

        const REFERRAL_COLUMNS: &str = "id, patient_id, referral_id, kind, to_whom, status, note, recorded_by, recorded_at";

        fn referral_from_row(row: &DbRow) -> StoreResult<ReferralRow> {
            Ok(ReferralRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                referral_id: row.try_get("referral_id").map_err(db_err)?,
                kind: row.try_get("kind").map_err(db_err)?,
                to_whom: row.try_get("to_whom").map_err(db_err)?,
                status: row.try_get("status").map_err(db_err)?,
                note: row.try_get("note").map_err(db_err)?,
                recorded_by: row.try_get("recorded_by").map_err(db_err)?,
                recorded_at: row.try_get("recorded_at").map_err(db_err)?,
            })
        }

        const RECOVERY_PLAN_COLUMNS: &str = "id, patient_id, version, body, changed, written_by, written_at";

        fn recovery_plan_from_row(row: &DbRow) -> StoreResult<RecoveryPlanRow> {
            Ok(RecoveryPlanRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
                changed: row.try_get("changed").map_err(db_err)?,
                written_by: row.try_get("written_by").map_err(db_err)?,
                written_at: row.try_get("written_at").map_err(db_err)?,
            })
        }

        const COUNSELING_COLUMNS: &str =
            "id, patient_id, booking_id, plan_event_id, modality, format, attendance, minutes, progress_note, homework, reason, recorded_by, recorded_at";
        const COUNSELING_NOTE_COLUMNS: &str = "id, record_id, patient_id, author_id, body, created_at";

        fn counseling_from_row(row: &DbRow) -> StoreResult<CounselingRow> {
            Ok(CounselingRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                booking_id: row.try_get("booking_id").map_err(db_err)?,
                plan_event_id: row.try_get("plan_event_id").map_err(db_err)?,
                modality: row.try_get("modality").map_err(db_err)?,
                format: row.try_get("format").map_err(db_err)?,
                attendance: row.try_get("attendance").map_err(db_err)?,
                minutes: row.try_get("minutes").map_err(db_err)?,
                progress_note: row.try_get("progress_note").map_err(db_err)?,
                homework: row.try_get("homework").map_err(db_err)?,
                reason: row.try_get("reason").map_err(db_err)?,
                recorded_by: row.try_get("recorded_by").map_err(db_err)?,
                recorded_at: row.try_get("recorded_at").map_err(db_err)?,
            })
        }

        fn counseling_note_from_row(row: &DbRow) -> StoreResult<CounselingNoteRow> {
            Ok(CounselingNoteRow {
                id: row.try_get("id").map_err(db_err)?,
                record_id: row.try_get("record_id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                author_id: row.try_get("author_id").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
            })
        }

        impl CounselingStore for $store {
            async fn add_referral(&self, r: &ReferralRow, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO referrals ({REFERRAL_COLUMNS}) VALUES ({})", placeholders(1, 9));
                ::sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.patient_id)
                    .bind(r.referral_id)
                    .bind(&r.kind)
                    .bind(&r.to_whom)
                    .bind(&r.status)
                    .bind(&r.note)
                    .bind(r.recorded_by)
                    .bind(r.recorded_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn patient_referrals(&self, patient_id: Uuid) -> StoreResult<Vec<ReferralRow>> {
                let sql = format!("SELECT {REFERRAL_COLUMNS} FROM referrals WHERE patient_id = $1 ORDER BY recorded_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(referral_from_row).collect()
            }

            async fn add_recovery_plan(&self, r: &RecoveryPlanRow, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO recovery_plans ({RECOVERY_PLAN_COLUMNS}) VALUES ({})", placeholders(1, 7));
                ::sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.patient_id)
                    .bind(r.version)
                    .bind(&r.body)
                    .bind(&r.changed)
                    .bind(r.written_by)
                    .bind(r.written_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn recovery_plans(&self, patient_id: Uuid) -> StoreResult<Vec<RecoveryPlanRow>> {
                let sql = format!("SELECT {RECOVERY_PLAN_COLUMNS} FROM recovery_plans WHERE patient_id = $1 ORDER BY version");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(recovery_plan_from_row).collect()
            }

            async fn record_counseling(&self, new: NewCounseling<'_>) -> StoreResult<()> {
                let r = new.record;
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO counseling_records ({COUNSELING_COLUMNS}) VALUES ({})", placeholders(1, 13));
                ::sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.patient_id)
                    .bind(r.booking_id)
                    .bind(r.plan_event_id)
                    .bind(&r.modality)
                    .bind(&r.format)
                    .bind(&r.attendance)
                    .bind(r.minutes)
                    .bind(&r.progress_note)
                    .bind(&r.homework)
                    .bind(&r.reason)
                    .bind(r.recorded_by)
                    .bind(r.recorded_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if let Some(n) = new.note {
                    let sql = format!("INSERT INTO counseling_notes ({COUNSELING_NOTE_COLUMNS}) VALUES ({})", placeholders(1, 6));
                    ::sqlx::query(&sql)
                        .bind(n.id)
                        .bind(n.record_id)
                        .bind(n.patient_id)
                        .bind(n.author_id)
                        .bind(&n.body)
                        .bind(n.created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                if let Some((booking_id, status)) = new.booking_status {
                    ::sqlx::query("UPDATE bookings SET status = $1, version = version + 1 WHERE id = $2")
                        .bind(status.as_str())
                        .bind(booking_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                if let Some((event_id, status)) = new.event_status {
                    ::sqlx::query("UPDATE plan_events SET status = $1 WHERE id = $2").bind(status.as_str()).bind(event_id).execute(&mut *tx).await.map_err(db_err)?;
                }
                for event in new.audit {
                    insert_audit(&mut tx, event).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn patient_counseling(&self, patient_id: Uuid) -> StoreResult<Vec<CounselingRow>> {
                let sql = format!("SELECT {COUNSELING_COLUMNS} FROM counseling_records WHERE patient_id = $1 ORDER BY recorded_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(counseling_from_row).collect()
            }

            async fn get_counseling(&self, id: Uuid) -> StoreResult<CounselingRow> {
                let sql = format!("SELECT {COUNSELING_COLUMNS} FROM counseling_records WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(counseling_from_row).transpose()?.ok_or(StoreError::NotFound)
            }

            async fn counseling_note(&self, record_id: Uuid) -> StoreResult<Option<CounselingNoteRow>> {
                let sql = format!("SELECT {COUNSELING_NOTE_COLUMNS} FROM counseling_notes WHERE record_id = $1");
                let row = ::sqlx::query(&sql).bind(record_id).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(counseling_note_from_row).transpose()
            }
        }
    };
}
