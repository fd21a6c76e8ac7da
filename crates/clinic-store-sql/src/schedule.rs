//! The shared SQL of `ScheduleStore`, expanded by `impl_store!` inside its
//! own module (after `impl_screening_store!`, whose `insert_outbox` it uses).

/// Expands `ScheduleStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_schedule_store {
    ($store:ty) => {
        use ::chrono::NaiveTime;
        use ::clinic_domain::schedule::{BookingStatus, ResourceKind};
        use ::clinic_store::schedule::{
            AvailabilityRecord, BookingCommit, BookingRecord, CalendarFeedRecord, OpeningRow, ResourceRecord, ScheduleStore,
            SiteScheduleRecord,
        };

        const BOOKING_COLUMNS: &str = "id, site_id, patient_id, plan_event_id, kind, resource_id, clinician_id, starts_at, minutes, \
             occupied_until, escort_name, status, replaces, reason, created_by, created_at, updated_by, updated_at, reminder_queued_at, version";

        fn booking_from_row(row: &DbRow) -> StoreResult<BookingRecord> {
            let kind: String = row.try_get("kind").map_err(db_err)?;
            let status: String = row.try_get("status").map_err(db_err)?;
            Ok(BookingRecord {
                id: row.try_get("id").map_err(db_err)?,
                site_id: row.try_get("site_id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                plan_event_id: row.try_get("plan_event_id").map_err(db_err)?,
                kind: ::clinic_domain::protocol::EventKind::parse(&kind).map_err(|e| other(e.message))?,
                resource_id: row.try_get("resource_id").map_err(db_err)?,
                clinician_id: row.try_get("clinician_id").map_err(db_err)?,
                starts_at: row.try_get("starts_at").map_err(db_err)?,
                minutes: row.try_get("minutes").map_err(db_err)?,
                occupied_until: row.try_get("occupied_until").map_err(db_err)?,
                escort_name: row.try_get("escort_name").map_err(db_err)?,
                status: BookingStatus::parse(&status).map_err(|e| other(e.message))?,
                replaces: row.try_get("replaces").map_err(db_err)?,
                reason: row.try_get("reason").map_err(db_err)?,
                created_by: row.try_get("created_by").map_err(db_err)?,
                created_at: row.try_get("created_at").map_err(db_err)?,
                updated_by: row.try_get("updated_by").map_err(db_err)?,
                updated_at: row.try_get("updated_at").map_err(db_err)?,
                reminder_queued_at: row.try_get("reminder_queued_at").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
            })
        }

        fn hhmm(time: NaiveTime) -> String {
            time.format("%H:%M").to_string()
        }

        fn parse_hhmm(text: &str) -> StoreResult<NaiveTime> {
            NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| other(format!("stored time {text}")))
        }

        async fn bump_site_version(tx: &mut Tx, site_id: Uuid, expected: i64) -> StoreResult<i64> {
            let updated = ::sqlx::query("UPDATE site_schedule SET version = version + 1 WHERE site_id = $1 AND version = $2")
                .bind(site_id)
                .bind(expected)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            if updated.rows_affected() == 0 {
                let current: Option<i64> = ::sqlx::query_scalar("SELECT version FROM site_schedule WHERE site_id = $1")
                    .bind(site_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db_err)?;
                return Err(match current {
                    Some(current) => StoreError::StaleVersion { current },
                    None => StoreError::NotFound,
                });
            }
            Ok(expected + 1)
        }

        impl ScheduleStore for $store {
            async fn get_site_schedule(&self, site_id: Uuid) -> StoreResult<Option<SiteScheduleRecord>> {
                let row = ::sqlx::query(
                    "SELECT recovery_minutes, ratio_nurses, ratio_chairs, physician_on_site, version FROM site_schedule WHERE site_id = $1",
                )
                .bind(site_id)
                .fetch_optional(self.pool())
                .await
                .map_err(db_err)?;
                let Some(row) = row else { return Ok(None) };
                let ratio_nurses: Option<i64> = row.try_get("ratio_nurses").map_err(db_err)?;
                let ratio_chairs: Option<i64> = row.try_get("ratio_chairs").map_err(db_err)?;
                let hours = ::sqlx::query("SELECT weekday, opens, closes FROM site_opening_hours WHERE site_id = $1 ORDER BY weekday, opens")
                    .bind(site_id)
                    .fetch_all(self.pool())
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(|r| {
                        let opens: String = r.try_get("opens").map_err(db_err)?;
                        let closes: String = r.try_get("closes").map_err(db_err)?;
                        Ok(OpeningRow { weekday: r.try_get("weekday").map_err(db_err)?, opens: parse_hhmm(&opens)?, closes: parse_hhmm(&closes)? })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                let closures = ::sqlx::query("SELECT date, reason FROM site_closures WHERE site_id = $1 ORDER BY date")
                    .bind(site_id)
                    .fetch_all(self.pool())
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(|r| Ok((r.try_get("date").map_err(db_err)?, r.try_get("reason").map_err(db_err)?)))
                    .collect::<StoreResult<Vec<_>>>()?;
                let resources = ::sqlx::query("SELECT id, site_id, kind, name, position FROM site_resources WHERE site_id = $1 ORDER BY position, name")
                    .bind(site_id)
                    .fetch_all(self.pool())
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(|r| {
                        let kind: String = r.try_get("kind").map_err(db_err)?;
                        Ok(ResourceRecord {
                            id: r.try_get("id").map_err(db_err)?,
                            site_id: r.try_get("site_id").map_err(db_err)?,
                            kind: ResourceKind::parse(&kind).map_err(|e| other(e.message))?,
                            name: r.try_get("name").map_err(db_err)?,
                            position: r.try_get("position").map_err(db_err)?,
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(Some(SiteScheduleRecord {
                    site_id,
                    recovery_minutes: row.try_get("recovery_minutes").map_err(db_err)?,
                    nurses_per_chairs: ratio_nurses.zip(ratio_chairs),
                    physician_on_site: row.try_get("physician_on_site").map_err(db_err)?,
                    hours,
                    closures,
                    resources,
                    version: row.try_get("version").map_err(db_err)?,
                }))
            }

            async fn save_site_schedule(&self, record: &SiteScheduleRecord, audit: &AuditEvent) -> StoreResult<SiteScheduleRecord> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let existing: Option<i64> = ::sqlx::query_scalar("SELECT version FROM site_schedule WHERE site_id = $1")
                    .bind(record.site_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let (nurses, chairs) = record.nurses_per_chairs.map_or((None, None), |(n, c)| (Some(n), Some(c)));
                match existing {
                    Some(version) => {
                        ::sqlx::query(
                            "UPDATE site_schedule SET recovery_minutes = $1, ratio_nurses = $2, ratio_chairs = $3, physician_on_site = $4, \
                             version = $5 WHERE site_id = $6",
                        )
                        .bind(record.recovery_minutes)
                        .bind(nurses)
                        .bind(chairs)
                        .bind(record.physician_on_site)
                        .bind(version + 1)
                        .bind(record.site_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    }
                    None => {
                        ::sqlx::query(
                            "INSERT INTO site_schedule (site_id, recovery_minutes, ratio_nurses, ratio_chairs, physician_on_site, version) \
                             VALUES ($1, $2, $3, $4, $5, 1)",
                        )
                        .bind(record.site_id)
                        .bind(record.recovery_minutes)
                        .bind(nurses)
                        .bind(chairs)
                        .bind(record.physician_on_site)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    }
                }
                ::sqlx::query("DELETE FROM site_opening_hours WHERE site_id = $1").bind(record.site_id).execute(&mut *tx).await.map_err(db_err)?;
                for row in &record.hours {
                    ::sqlx::query("INSERT INTO site_opening_hours (site_id, weekday, opens, closes) VALUES ($1, $2, $3, $4)")
                        .bind(record.site_id)
                        .bind(row.weekday)
                        .bind(hhmm(row.opens))
                        .bind(hhmm(row.closes))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                ::sqlx::query("DELETE FROM site_closures WHERE site_id = $1").bind(record.site_id).execute(&mut *tx).await.map_err(db_err)?;
                for (date, reason) in &record.closures {
                    ::sqlx::query("INSERT INTO site_closures (site_id, date, reason) VALUES ($1, $2, $3)")
                        .bind(record.site_id)
                        .bind(*date)
                        .bind(reason)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                for resource in &record.resources {
                    ::sqlx::query(
                        "INSERT INTO site_resources (id, site_id, kind, name, position) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, position = excluded.position",
                    )
                    .bind(resource.id)
                    .bind(record.site_id)
                    .bind(resource.kind.as_str())
                    .bind(&resource.name)
                    .bind(resource.position)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                self.get_site_schedule(record.site_id).await?.ok_or(StoreError::NotFound)
            }

            async fn add_availability(&self, rows: &[AvailabilityRecord], audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                for row in rows {
                    ::sqlx::query("INSERT INTO staff_availability (id, user_id, site_id, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(row.id)
                        .bind(row.user_id)
                        .bind(row.site_id)
                        .bind(row.starts_at)
                        .bind(row.ends_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                // Staff hours change who may be booked: decisions made on the old hours must re-check.
                let mut sites: Vec<Uuid> = rows.iter().map(|r| r.site_id).collect();
                sites.sort();
                sites.dedup();
                for site_id in sites {
                    ::sqlx::query("UPDATE site_schedule SET version = version + 1 WHERE site_id = $1")
                        .bind(site_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn list_availability(&self, site_id: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<AvailabilityRecord>> {
                let rows = ::sqlx::query(
                    "SELECT id, user_id, site_id, starts_at, ends_at FROM staff_availability \
                     WHERE site_id = $1 AND starts_at < $2 AND ends_at > $3 ORDER BY starts_at, id",
                )
                .bind(site_id)
                .bind(to)
                .bind(from)
                .fetch_all(self.pool())
                .await
                .map_err(db_err)?;
                rows.iter()
                    .map(|r| {
                        Ok(AvailabilityRecord {
                            id: r.try_get("id").map_err(db_err)?,
                            user_id: r.try_get("user_id").map_err(db_err)?,
                            site_id: r.try_get("site_id").map_err(db_err)?,
                            starts_at: r.try_get("starts_at").map_err(db_err)?,
                            ends_at: r.try_get("ends_at").map_err(db_err)?,
                        })
                    })
                    .collect()
            }

            async fn get_booking(&self, id: Uuid) -> StoreResult<BookingRecord> {
                let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(booking_from_row).transpose()?.ok_or(StoreError::NotFound)
            }

            async fn site_bookings(&self, site_id: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BookingRecord>> {
                let sql = format!(
                    "SELECT {BOOKING_COLUMNS} FROM bookings WHERE site_id = $1 AND starts_at < $2 AND occupied_until > $3 ORDER BY starts_at, id"
                );
                let rows = ::sqlx::query(&sql).bind(site_id).bind(to).bind(from).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(booking_from_row).collect()
            }

            async fn patient_bookings(&self, patient_id: Uuid) -> StoreResult<Vec<BookingRecord>> {
                let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE patient_id = $1 ORDER BY starts_at, id");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(booking_from_row).collect()
            }

            async fn clinician_bookings(&self, user_id: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BookingRecord>> {
                let sql = format!(
                    "SELECT {BOOKING_COLUMNS} FROM bookings WHERE clinician_id = $1 AND starts_at < $2 AND occupied_until > $3 ORDER BY starts_at, id"
                );
                let rows = ::sqlx::query(&sql).bind(user_id).bind(to).bind(from).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(booking_from_row).collect()
            }

            async fn bookings_needing_reminder(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BookingRecord>> {
                let sql = format!(
                    "SELECT {BOOKING_COLUMNS} FROM bookings WHERE status = 'booked' AND reminder_queued_at IS NULL \
                     AND starts_at >= $1 AND starts_at < $2 ORDER BY starts_at, id"
                );
                let rows = ::sqlx::query(&sql).bind(from).bind(to).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(booking_from_row).collect()
            }

            async fn commit_bookings(&self, site_id: Uuid, expected_site_version: i64, commit: BookingCommit<'_>) -> StoreResult<i64> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let version = bump_site_version(&mut tx, site_id, expected_site_version).await?;
                for update in commit.updates {
                    let done = ::sqlx::query(
                        "UPDATE bookings SET status = $1, reason = $2, updated_by = $3, updated_at = $4, version = version + 1 \
                         WHERE id = $5 AND version = $6",
                    )
                    .bind(update.status.as_str())
                    .bind(&update.reason)
                    .bind(update.updated_by)
                    .bind(update.updated_at)
                    .bind(update.id)
                    .bind(update.expected_version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        let current: Option<i64> = ::sqlx::query_scalar("SELECT version FROM bookings WHERE id = $1")
                            .bind(update.id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        return Err(match current {
                            Some(current) => StoreError::StaleVersion { current },
                            None => StoreError::NotFound,
                        });
                    }
                }
                for b in commit.new {
                    let sql = format!("INSERT INTO bookings ({BOOKING_COLUMNS}) VALUES ({})", placeholders(1, 20));
                    ::sqlx::query(&sql)
                        .bind(b.id)
                        .bind(b.site_id)
                        .bind(b.patient_id)
                        .bind(b.plan_event_id)
                        .bind(b.kind.as_str())
                        .bind(b.resource_id)
                        .bind(b.clinician_id)
                        .bind(b.starts_at)
                        .bind(b.minutes)
                        .bind(b.occupied_until)
                        .bind(&b.escort_name)
                        .bind(b.status.as_str())
                        .bind(b.replaces)
                        .bind(&b.reason)
                        .bind(b.created_by)
                        .bind(b.created_at)
                        .bind(b.updated_by)
                        .bind(b.updated_at)
                        .bind(b.reminder_queued_at)
                        .bind(b.version)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                for (event_id, status) in commit.event_statuses {
                    ::sqlx::query("UPDATE plan_events SET status = $1 WHERE id = $2")
                        .bind(status.as_str())
                        .bind(event_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                for event in commit.audit {
                    insert_audit(&mut tx, event).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(version)
            }

            async fn queue_reminders(
                &self,
                reminders: &[(Uuid, Option<::clinic_store::screening::OutboxMessage>, AuditEvent)],
                at: DateTime<Utc>,
            ) -> StoreResult<u64> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let mut marked = 0;
                for (booking_id, message, audit) in reminders {
                    let done = ::sqlx::query("UPDATE bookings SET reminder_queued_at = $1 WHERE id = $2 AND reminder_queued_at IS NULL")
                        .bind(at)
                        .bind(booking_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        continue;
                    }
                    marked += 1;
                    if let Some(message) = message {
                        insert_outbox(&mut tx, message).await?;
                    }
                    insert_audit(&mut tx, audit).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(marked)
            }

            async fn create_calendar_feed(&self, feed: &CalendarFeedRecord, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                ::sqlx::query("INSERT INTO calendar_feeds (token_hash, user_id, created_at, revoked_at) VALUES ($1, $2, $3, $4)")
                    .bind(&feed.token_hash)
                    .bind(feed.user_id)
                    .bind(feed.created_at)
                    .bind(feed.revoked_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn find_calendar_feed(&self, token_hash: &str) -> StoreResult<Option<CalendarFeedRecord>> {
                let row = ::sqlx::query("SELECT token_hash, user_id, created_at, revoked_at FROM calendar_feeds WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(self.pool())
                    .await
                    .map_err(db_err)?;
                row.map(|r| {
                    Ok(CalendarFeedRecord {
                        token_hash: r.try_get("token_hash").map_err(db_err)?,
                        user_id: r.try_get("user_id").map_err(db_err)?,
                        created_at: r.try_get("created_at").map_err(db_err)?,
                        revoked_at: r.try_get("revoked_at").map_err(db_err)?,
                    })
                })
                .transpose()
            }

            async fn revoke_calendar_feeds(&self, user_id: Uuid, at: DateTime<Utc>, audit: &AuditEvent) -> StoreResult<u64> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let done = ::sqlx::query("UPDATE calendar_feeds SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                    .bind(at)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}
