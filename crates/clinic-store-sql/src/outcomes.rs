//! The shared SQL of `OutcomeStore`, expanded by `impl_store!` inside its own module.

/// Expands `OutcomeStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_outcome_store {
    ($store:ty) => {
        use ::clinic_store::outcomes::{DiaryReminderRow, DiaryRow, LabTestRow, MisuseDecisionRow, MisuseSignalRow, NewDiaryReminder, OutcomeStore, RelapseDecisionRow, UseReportRow};

        const DIARY_COLUMNS: &str = "id, patient_id, use_report_id, day, substance, craving, note, recorded_at";

        fn diary_from_row(row: &DbRow) -> StoreResult<DiaryRow> {
            Ok(DiaryRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                use_report_id: row.try_get("use_report_id").map_err(db_err)?,
                day: row.try_get("day").map_err(db_err)?,
                substance: row.try_get("substance").map_err(db_err)?,
                craving: row.try_get("craving").map_err(db_err)?,
                note: row.try_get("note").map_err(db_err)?,
                recorded_at: row.try_get("recorded_at").map_err(db_err)?,
            })
        }

        const MISUSE_SIGNAL_COLUMNS: &str = "id, patient_id, kind, reported_on, note, recorded_by, recorded_at";
        const MISUSE_DECISION_COLUMNS: &str = "id, patient_id, signal, record_id, verdict, note, decided_by, decided_at";

        fn misuse_signal_from_row(row: &DbRow) -> StoreResult<MisuseSignalRow> {
            Ok(MisuseSignalRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                kind: row.try_get("kind").map_err(db_err)?,
                reported_on: row.try_get("reported_on").map_err(db_err)?,
                note: row.try_get("note").map_err(db_err)?,
                recorded_by: row.try_get("recorded_by").map_err(db_err)?,
                recorded_at: row.try_get("recorded_at").map_err(db_err)?,
            })
        }

        fn misuse_decision_from_row(row: &DbRow) -> StoreResult<MisuseDecisionRow> {
            Ok(MisuseDecisionRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                signal: row.try_get("signal").map_err(db_err)?,
                record_id: row.try_get("record_id").map_err(db_err)?,
                verdict: row.try_get("verdict").map_err(db_err)?,
                note: row.try_get("note").map_err(db_err)?,
                decided_by: row.try_get("decided_by").map_err(db_err)?,
                decided_at: row.try_get("decided_at").map_err(db_err)?,
            })
        }

        const RELAPSE_DECISION_COLUMNS: &str = "id, patient_id, plan_id, event_date, kind, substance, verdict, note, decided_by, decided_at";

        fn relapse_decision_from_row(row: &DbRow) -> StoreResult<RelapseDecisionRow> {
            Ok(RelapseDecisionRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                plan_id: row.try_get("plan_id").map_err(db_err)?,
                event_date: row.try_get("event_date").map_err(db_err)?,
                kind: row.try_get("kind").map_err(db_err)?,
                substance: row.try_get("substance").map_err(db_err)?,
                verdict: row.try_get("verdict").map_err(db_err)?,
                note: row.try_get("note").map_err(db_err)?,
                decided_by: row.try_get("decided_by").map_err(db_err)?,
                decided_at: row.try_get("decided_at").map_err(db_err)?,
            })
        }

        const USE_REPORT_COLUMNS: &str = "id, patient_id, day, substance, source, answer, amount, recorded_by, recorded_at";
        const LAB_TEST_COLUMNS: &str = "id, patient_id, collected_at, analyte, result, recorded_by, recorded_at";

        fn use_report_from_row(row: &DbRow) -> StoreResult<UseReportRow> {
            Ok(UseReportRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                day: row.try_get("day").map_err(db_err)?,
                substance: row.try_get("substance").map_err(db_err)?,
                source: row.try_get("source").map_err(db_err)?,
                answer: row.try_get("answer").map_err(db_err)?,
                amount: row.try_get("amount").map_err(db_err)?,
                recorded_by: row.try_get("recorded_by").map_err(db_err)?,
                recorded_at: row.try_get("recorded_at").map_err(db_err)?,
            })
        }

        fn lab_test_from_row(row: &DbRow) -> StoreResult<LabTestRow> {
            Ok(LabTestRow {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                collected_at: row.try_get("collected_at").map_err(db_err)?,
                analyte: row.try_get("analyte").map_err(db_err)?,
                result: row.try_get("result").map_err(db_err)?,
                recorded_by: row.try_get("recorded_by").map_err(db_err)?,
                recorded_at: row.try_get("recorded_at").map_err(db_err)?,
            })
        }

        impl OutcomeStore for $store {
            async fn add_diary_entry(&self, r: &UseReportRow, d: &DiaryRow, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO use_reports ({USE_REPORT_COLUMNS}) VALUES ({})", placeholders(1, 9));
                ::sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.patient_id)
                    .bind(&r.day)
                    .bind(&r.substance)
                    .bind(&r.source)
                    .bind(&r.answer)
                    .bind(&r.amount)
                    .bind(r.recorded_by)
                    .bind(r.recorded_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let sql = format!("INSERT INTO diary_entries ({DIARY_COLUMNS}) VALUES ({})", placeholders(1, 8));
                ::sqlx::query(&sql)
                    .bind(d.id)
                    .bind(d.patient_id)
                    .bind(d.use_report_id)
                    .bind(&d.day)
                    .bind(&d.substance)
                    .bind(d.craving)
                    .bind(&d.note)
                    .bind(d.recorded_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn patient_diary(&self, patient_id: Uuid) -> StoreResult<Vec<DiaryRow>> {
                let sql = format!("SELECT {DIARY_COLUMNS} FROM diary_entries WHERE patient_id = $1 ORDER BY day, recorded_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(diary_from_row).collect()
            }

            async fn patients_due_diary_reminder(&self, site_id: Uuid, today: &str, yesterday: &str) -> StoreResult<Vec<Uuid>> {
                let rows = ::sqlx::query(
                    "SELECT pt.id FROM patients pt WHERE pt.site_id = $1 \
                     AND EXISTS (SELECT 1 FROM plans pl WHERE pl.patient_id = pt.id AND pl.signed_at IS NOT NULL AND pl.ended_at IS NULL) \
                     AND NOT EXISTS (SELECT 1 FROM diary_entries d WHERE d.patient_id = pt.id AND d.day = $3) \
                     AND NOT EXISTS (SELECT 1 FROM diary_reminders r WHERE r.patient_id = pt.id AND r.local_date = $2) \
                     ORDER BY pt.id",
                )
                .bind(site_id)
                .bind(today)
                .bind(yesterday)
                .fetch_all(self.pool())
                .await
                .map_err(db_err)?;
                rows.iter().map(|r| r.try_get("id").map_err(db_err)).collect()
            }

            async fn queue_diary_reminders(&self, reminders: &[NewDiaryReminder]) -> StoreResult<u64> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let mut written = 0;
                for (row, message, audit) in reminders {
                    // The key decides: a day already reminded writes nothing, message and event included.
                    let done = ::sqlx::query(
                        "INSERT INTO diary_reminders (patient_id, local_date, outbox_id, queued_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (patient_id, local_date) DO NOTHING",
                    )
                    .bind(row.patient_id)
                    .bind(&row.local_date)
                    .bind(row.outbox_id)
                    .bind(row.queued_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        continue;
                    }
                    written += 1;
                    if let Some(message) = message {
                        insert_outbox(&mut tx, message).await?;
                    }
                    insert_audit(&mut tx, audit).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(written)
            }

            async fn patient_diary_reminders(&self, patient_id: Uuid) -> StoreResult<Vec<DiaryReminderRow>> {
                let rows = ::sqlx::query("SELECT patient_id, local_date, outbox_id, queued_at FROM diary_reminders WHERE patient_id = $1 ORDER BY local_date")
                    .bind(patient_id)
                    .fetch_all(self.pool())
                    .await
                    .map_err(db_err)?;
                rows.iter()
                    .map(|r| {
                        Ok(DiaryReminderRow {
                            patient_id: r.try_get("patient_id").map_err(db_err)?,
                            local_date: r.try_get("local_date").map_err(db_err)?,
                            outbox_id: r.try_get("outbox_id").map_err(db_err)?,
                            queued_at: r.try_get("queued_at").map_err(db_err)?,
                        })
                    })
                    .collect()
            }

            async fn add_misuse_signal(&self, r: &MisuseSignalRow, alerts: &[ClinicalAlert], audit: &[AuditEvent]) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO misuse_signals ({MISUSE_SIGNAL_COLUMNS}) VALUES ({})", placeholders(1, 7));
                ::sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.patient_id)
                    .bind(&r.kind)
                    .bind(&r.reported_on)
                    .bind(&r.note)
                    .bind(r.recorded_by)
                    .bind(r.recorded_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                for alert in alerts {
                    insert_alert(&mut tx, alert).await?;
                }
                for event in audit {
                    insert_audit(&mut tx, event).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn patient_misuse_signals(&self, patient_id: Uuid) -> StoreResult<Vec<MisuseSignalRow>> {
                let sql = format!("SELECT {MISUSE_SIGNAL_COLUMNS} FROM misuse_signals WHERE patient_id = $1 ORDER BY reported_on, recorded_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(misuse_signal_from_row).collect()
            }

            async fn add_misuse_decision(&self, r: &MisuseDecisionRow, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO misuse_decisions ({MISUSE_DECISION_COLUMNS}) VALUES ({})", placeholders(1, 8));
                ::sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.patient_id)
                    .bind(&r.signal)
                    .bind(r.record_id)
                    .bind(&r.verdict)
                    .bind(&r.note)
                    .bind(r.decided_by)
                    .bind(r.decided_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn patient_misuse_decisions(&self, patient_id: Uuid) -> StoreResult<Vec<MisuseDecisionRow>> {
                let sql = format!("SELECT {MISUSE_DECISION_COLUMNS} FROM misuse_decisions WHERE patient_id = $1 ORDER BY decided_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(misuse_decision_from_row).collect()
            }

            async fn add_relapse_decision(&self, r: &RelapseDecisionRow, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO relapse_decisions ({RELAPSE_DECISION_COLUMNS}) VALUES ({})", placeholders(1, 10));
                ::sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.patient_id)
                    .bind(r.plan_id)
                    .bind(&r.event_date)
                    .bind(&r.kind)
                    .bind(&r.substance)
                    .bind(&r.verdict)
                    .bind(&r.note)
                    .bind(r.decided_by)
                    .bind(r.decided_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn patient_relapse_decisions(&self, patient_id: Uuid) -> StoreResult<Vec<RelapseDecisionRow>> {
                let sql = format!("SELECT {RELAPSE_DECISION_COLUMNS} FROM relapse_decisions WHERE patient_id = $1 ORDER BY decided_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(relapse_decision_from_row).collect()
            }

            async fn add_use_reports(&self, rows: &[UseReportRow], audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO use_reports ({USE_REPORT_COLUMNS}) VALUES ({})", placeholders(1, 9));
                for r in rows {
                    ::sqlx::query(&sql)
                        .bind(r.id)
                        .bind(r.patient_id)
                        .bind(&r.day)
                        .bind(&r.substance)
                        .bind(&r.source)
                        .bind(&r.answer)
                        .bind(&r.amount)
                        .bind(r.recorded_by)
                        .bind(r.recorded_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn patient_use_reports(&self, patient_id: Uuid) -> StoreResult<Vec<UseReportRow>> {
                let sql = format!("SELECT {USE_REPORT_COLUMNS} FROM use_reports WHERE patient_id = $1 ORDER BY day, recorded_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(use_report_from_row).collect()
            }

            async fn add_lab_tests(&self, rows: &[LabTestRow], alerts: &[ClinicalAlert], audit: &[AuditEvent]) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO lab_tests ({LAB_TEST_COLUMNS}) VALUES ({})", placeholders(1, 7));
                for r in rows {
                    ::sqlx::query(&sql)
                        .bind(r.id)
                        .bind(r.patient_id)
                        .bind(&r.collected_at)
                        .bind(&r.analyte)
                        .bind(&r.result)
                        .bind(r.recorded_by)
                        .bind(r.recorded_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                for alert in alerts {
                    insert_alert(&mut tx, alert).await?;
                }
                for event in audit {
                    insert_audit(&mut tx, event).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn patient_lab_tests(&self, patient_id: Uuid) -> StoreResult<Vec<LabTestRow>> {
                let sql = format!("SELECT {LAB_TEST_COLUMNS} FROM lab_tests WHERE patient_id = $1 ORDER BY collected_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(lab_test_from_row).collect()
            }
        }
    };
}
