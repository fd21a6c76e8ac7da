//! The shared SQL of `ScreeningStore`. `impl_store!` expands
//! `impl_screening_store!` inside its own module, so the helpers there
//! (`insert_audit`, `db_err`, `other`, the `Db`/`Tx` aliases) are in scope.

/// Expands `ScreeningStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_screening_store {
    ($store:ty) => {
        use ::clinic_domain::alert::{AlertKind, ClinicalAlert};
        use ::clinic_domain::portal::{LinkPurpose, PortalLink, ResponseSource};
        use ::clinic_store::screening::{
            AlertFilter, DocumentKind, NewQuestionnaire, OutboxMessage, PatientDocument, PortalSession, QuestionnaireResponseRecord,
            ScreeningStore,
        };

        const QUESTIONNAIRE_COLUMNS: &str = "id, patient_id, instrument_id, instrument_version, answers, total, band, flags, result, \
             source, entered_by, created_at";
        const ALERT_COLUMNS: &str =
            "id, patient_id, kind, message, source_id, routed_to, raised_at, closed_at, closed_by, response, version";
        const LINK_COLUMNS: &str = "id, patient_id, purpose, instrument_id, expires_at, used_at, created_by, created_at";

        fn split_list(text: &str) -> Vec<String> {
            text.split(',').filter(|part| !part.is_empty()).map(str::to_string).collect()
        }

        fn questionnaire_from_row(row: &DbRow) -> StoreResult<QuestionnaireResponseRecord> {
            let answers: String = row.try_get("answers").map_err(db_err)?;
            let flags: String = row.try_get("flags").map_err(db_err)?;
            let source: String = row.try_get("source").map_err(db_err)?;
            Ok(QuestionnaireResponseRecord {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                instrument_id: row.try_get("instrument_id").map_err(db_err)?,
                instrument_version: row.try_get("instrument_version").map_err(db_err)?,
                answers: split_list(&answers),
                total: row.try_get("total").map_err(db_err)?,
                band: row.try_get("band").map_err(db_err)?,
                flags: split_list(&flags),
                result_json: row.try_get("result").map_err(db_err)?,
                source: ResponseSource::parse(&source).map_err(|e| other(e.message))?,
                entered_by: row.try_get("entered_by").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
            })
        }

        fn alert_from_row(row: &DbRow) -> StoreResult<ClinicalAlert> {
            let kind: String = row.try_get("kind").map_err(db_err)?;
            Ok(ClinicalAlert {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                kind: AlertKind::parse(&kind).map_err(|e| other(e.message))?,
                message: row.try_get("message").map_err(db_err)?,
                source_id: row.try_get("source_id").map_err(db_err)?,
                routed_to: row.try_get("routed_to").map_err(db_err)?,
                raised_at: row.try_get("raised_at").map_err(db_err)?,
                closed_at: row.try_get("closed_at").map_err(db_err)?,
                closed_by: row.try_get("closed_by").map_err(db_err)?,
                response: row.try_get("response").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
            })
        }

        fn link_from_row(row: &DbRow) -> StoreResult<PortalLink> {
            let purpose: String = row.try_get("purpose").map_err(db_err)?;
            Ok(PortalLink {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                purpose: LinkPurpose::parse(&purpose).map_err(|e| other(e.message))?,
                instrument_id: row.try_get("instrument_id").map_err(db_err)?,
                expires_at: row.try_get("expires_at").map_err(db_err)?,
                used_at: row.try_get("used_at").map_err(db_err)?,
                created_by: row.try_get("created_by").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
            })
        }

        const DOCUMENT_COLUMNS: &str =
            "id, patient_id, kind, subtype, body, created_by, created_at, closed_at, closed_by, version";

        fn document_from_row(row: &DbRow) -> StoreResult<PatientDocument> {
            let kind: String = row.try_get("kind").map_err(db_err)?;
            Ok(PatientDocument {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                kind: DocumentKind::parse(&kind).ok_or_else(|| other(format!("stored document kind {kind}")))?,
                subtype: row.try_get("subtype").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
                created_by: row.try_get("created_by").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
                closed_at: row.try_get("closed_at").map_err(db_err)?,
                closed_by: row.try_get("closed_by").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
            })
        }

        fn outbox_from_row(row: &DbRow) -> StoreResult<OutboxMessage> {
            let channel: String = row.try_get("channel").map_err(db_err)?;
            Ok(OutboxMessage {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                channel: ContactChannel::parse(&channel).map_err(|e| other(e.message))?,
                address: row.try_get("address").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
                sent_at: row.try_get("sent_at").map_err(db_err)?,
            })
        }

        async fn insert_alert(tx: &mut Tx, alert: &ClinicalAlert) -> StoreResult<()> {
            let sql = format!("INSERT INTO clinical_alerts ({ALERT_COLUMNS}) VALUES ({})", placeholders(1, 11));
            ::sqlx::query(&sql)
                .bind(alert.id)
                .bind(alert.patient_id)
                .bind(alert.kind.as_str())
                .bind(&alert.message)
                .bind(alert.source_id)
                .bind(&alert.routed_to)
                .bind(alert.raised_at)
                .bind(alert.closed_at)
                .bind(alert.closed_by)
                .bind(&alert.response)
                .bind(alert.version)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            Ok(())
        }

        async fn insert_outbox(tx: &mut Tx, message: &OutboxMessage) -> StoreResult<()> {
            ::sqlx::query(
                "INSERT INTO outbox (id, patient_id, channel, address, body, created_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(message.id)
            .bind(message.patient_id)
            .bind(message.channel.as_str())
            .bind(&message.address)
            .bind(&message.body)
            .bind(message.created_at)
            .bind(message.sent_at)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        impl ScreeningStore for $store {
            async fn record_questionnaire(&self, new: NewQuestionnaire<'_>) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                if let Some(link_id) = new.link_id {
                    let used = ::sqlx::query("UPDATE portal_links SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                        .bind(new.response.created_at)
                        .bind(link_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if used.rows_affected() == 0 {
                        return Err(StoreError::Conflict { constraint: "portal_links_used".into() });
                    }
                }
                let r = new.response;
                let sql = format!("INSERT INTO questionnaire_responses ({QUESTIONNAIRE_COLUMNS}) VALUES ({})", placeholders(1, 12));
                ::sqlx::query(&sql)
                    .bind(r.id)
                    .bind(r.patient_id)
                    .bind(&r.instrument_id)
                    .bind(r.instrument_version)
                    .bind(r.answers.join(","))
                    .bind(r.total)
                    .bind(&r.band)
                    .bind(r.flags.join(","))
                    .bind(&r.result_json)
                    .bind(r.source.as_str())
                    .bind(r.entered_by)
                    .bind(r.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                for alert in new.alerts {
                    insert_alert(&mut tx, alert).await?;
                }
                for message in new.outbox {
                    insert_outbox(&mut tx, message).await?;
                }
                for event in new.audit {
                    insert_audit(&mut tx, event).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn list_questionnaires(&self, patient_id: Uuid) -> StoreResult<Vec<QuestionnaireResponseRecord>> {
                let sql = format!(
                    "SELECT {QUESTIONNAIRE_COLUMNS} FROM questionnaire_responses WHERE patient_id = $1 ORDER BY created_at, id"
                );
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(questionnaire_from_row).collect()
            }

            async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Vec<ClinicalAlert>> {
                let mut conditions = Vec::new();
                if filter.open_only {
                    conditions.push("closed_at IS NULL".to_string());
                }
                if filter.patient_id.is_some() {
                    conditions.push("patient_id = $2".to_string());
                }
                let sql = format!(
                    "SELECT {ALERT_COLUMNS} FROM clinical_alerts {} ORDER BY raised_at DESC, id DESC LIMIT $1",
                    where_clause(&conditions)
                );
                let mut query = ::sqlx::query(&sql).bind(filter.limit.clamp(1, 500));
                if let Some(patient_id) = filter.patient_id {
                    query = query.bind(patient_id);
                }
                let rows = query.fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(alert_from_row).collect()
            }

            async fn get_alert(&self, id: Uuid) -> StoreResult<ClinicalAlert> {
                let sql = format!("SELECT {ALERT_COLUMNS} FROM clinical_alerts WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(alert_from_row).transpose()?.ok_or(StoreError::NotFound)
            }

            async fn close_alert(
                &self,
                id: Uuid,
                expected_version: i64,
                closed_by: Uuid,
                response: &str,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> StoreResult<ClinicalAlert> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("SELECT {ALERT_COLUMNS} FROM clinical_alerts WHERE id = $1");
                let current = ::sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await.map_err(db_err)?;
                let current = current.as_ref().map(alert_from_row).transpose()?.ok_or(StoreError::NotFound)?;
                if current.closed_at.is_some() {
                    return Err(StoreError::Conflict { constraint: "clinical_alerts_closed".into() });
                }
                if current.version != expected_version {
                    return Err(StoreError::StaleVersion { current: current.version });
                }
                ::sqlx::query(
                    "UPDATE clinical_alerts SET closed_at = $1, closed_by = $2, response = $3, version = version + 1 \
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
                let closed = alert_from_row(&row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(closed)
            }

            async fn create_portal_link(
                &self,
                link: &PortalLink,
                token_hash: &str,
                message: &OutboxMessage,
                audit: &AuditEvent,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO portal_links ({LINK_COLUMNS}, token_hash) VALUES ({})", placeholders(1, 9));
                ::sqlx::query(&sql)
                    .bind(link.id)
                    .bind(link.patient_id)
                    .bind(link.purpose.as_str())
                    .bind(&link.instrument_id)
                    .bind(link.expires_at)
                    .bind(link.used_at)
                    .bind(link.created_by)
                    .bind(link.created_at)
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_outbox(&mut tx, message).await?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn find_portal_link(&self, token_hash: &str) -> StoreResult<Option<PortalLink>> {
                let sql = format!("SELECT {LINK_COLUMNS} FROM portal_links WHERE token_hash = $1");
                let row = ::sqlx::query(&sql).bind(token_hash).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(link_from_row).transpose()
            }

            async fn get_portal_link(&self, id: Uuid) -> StoreResult<PortalLink> {
                let sql = format!("SELECT {LINK_COLUMNS} FROM portal_links WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(link_from_row).transpose()?.ok_or(StoreError::NotFound)
            }

            async fn list_portal_links(&self, patient_id: Uuid) -> StoreResult<Vec<PortalLink>> {
                let sql = format!("SELECT {LINK_COLUMNS} FROM portal_links WHERE patient_id = $1 ORDER BY created_at DESC, id DESC");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(link_from_row).collect()
            }

            async fn create_portal_session(&self, session: &PortalSession, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                ::sqlx::query(
                    "INSERT INTO portal_sessions (token_hash, patient_id, link_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&session.token_hash)
                .bind(session.patient_id)
                .bind(session.link_id)
                .bind(session.created_at)
                .bind(session.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn get_portal_session(&self, token_hash: &str) -> StoreResult<Option<PortalSession>> {
                let row = ::sqlx::query(
                    "SELECT token_hash, patient_id, link_id, created_at, expires_at FROM portal_sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await
                .map_err(db_err)?;
                row.map(|row| {
                    Ok(PortalSession {
                        token_hash: row.try_get("token_hash").map_err(db_err)?,
                        patient_id: row.try_get("patient_id").map_err(db_err)?,
                        link_id: row.try_get("link_id").map_err(db_err)?,
                        created_at: row.try_get("created_at").map_err(db_err)?,
                        expires_at: row.try_get("expires_at").map_err(db_err)?,
                    })
                })
                .transpose()
            }

            async fn add_document(&self, document: &PatientDocument, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO patient_documents ({DOCUMENT_COLUMNS}) VALUES ({})", placeholders(1, 10));
                ::sqlx::query(&sql)
                    .bind(document.id)
                    .bind(document.patient_id)
                    .bind(document.kind.as_str())
                    .bind(&document.subtype)
                    .bind(&document.body)
                    .bind(document.created_by)
                    .bind(document.created_at)
                    .bind(document.closed_at)
                    .bind(document.closed_by)
                    .bind(document.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn close_document(
                &self,
                id: Uuid,
                expected_version: i64,
                body: &str,
                closed_by: Option<Uuid>,
                closed_at: DateTime<Utc>,
                patient_status: Option<::clinic_domain::patient::PatientStatus>,
                audit: &AuditEvent,
            ) -> StoreResult<PatientDocument> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM patient_documents WHERE id = $1");
                let current = ::sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await.map_err(db_err)?;
                let current = current.as_ref().map(document_from_row).transpose()?.ok_or(StoreError::NotFound)?;
                if current.closed_at.is_some() {
                    return Err(StoreError::Conflict { constraint: "patient_documents_closed".into() });
                }
                if current.version != expected_version {
                    return Err(StoreError::StaleVersion { current: current.version });
                }
                ::sqlx::query(
                    "UPDATE patient_documents SET body = $1, closed_by = $2, closed_at = $3, version = version + 1 \
                     WHERE id = $4 AND version = $5 AND closed_at IS NULL",
                )
                .bind(body)
                .bind(closed_by)
                .bind(closed_at)
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if let Some(status) = patient_status {
                    ::sqlx::query("UPDATE patients SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                        .bind(status.as_str())
                        .bind(closed_at)
                        .bind(current.patient_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                insert_audit(&mut tx, audit).await?;
                let row = ::sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await.map_err(db_err)?;
                let closed = document_from_row(&row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(closed)
            }

            async fn get_document(&self, id: Uuid) -> StoreResult<PatientDocument> {
                let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM patient_documents WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(document_from_row).transpose()?.ok_or(StoreError::NotFound)
            }

            async fn list_documents(&self, patient_id: Uuid, kind: DocumentKind) -> StoreResult<Vec<PatientDocument>> {
                let sql = format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM patient_documents WHERE patient_id = $1 AND kind = $2 ORDER BY created_at, id"
                );
                let rows = ::sqlx::query(&sql).bind(patient_id).bind(kind.as_str()).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(document_from_row).collect()
            }

            async fn list_open_documents(&self, kind: DocumentKind, limit: i64) -> StoreResult<Vec<PatientDocument>> {
                let sql = format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM patient_documents WHERE kind = $1 AND closed_at IS NULL ORDER BY created_at, id LIMIT $2"
                );
                let rows = ::sqlx::query(&sql).bind(kind.as_str()).bind(limit.clamp(1, 500)).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(document_from_row).collect()
            }

            async fn list_unsent_outbox(&self, limit: i64) -> StoreResult<Vec<OutboxMessage>> {
                let rows = ::sqlx::query(
                    "SELECT id, patient_id, channel, address, body, created_at, sent_at FROM outbox WHERE sent_at IS NULL ORDER BY created_at, id LIMIT $1",
                )
                .bind(limit.clamp(1, 500))
                .fetch_all(self.pool())
                .await
                .map_err(db_err)?;
                rows.iter().map(outbox_from_row).collect()
            }

            async fn mark_outbox_sent(&self, id: Uuid, sent_at: DateTime<Utc>) -> StoreResult<()> {
                let res = ::sqlx::query("UPDATE outbox SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL")
                    .bind(sent_at)
                    .bind(id)
                    .execute(self.pool())
                    .await
                    .map_err(db_err)?;
                if res.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn list_outbox(&self, limit: i64) -> StoreResult<Vec<OutboxMessage>> {
                let rows = ::sqlx::query(
                    "SELECT id, patient_id, channel, address, body, created_at, sent_at FROM outbox ORDER BY created_at DESC, id DESC LIMIT $1",
                )
                .bind(limit.clamp(1, 500))
                .fetch_all(self.pool())
                .await
                .map_err(db_err)?;
                rows.iter().map(outbox_from_row).collect()
            }
        }
    };
}
