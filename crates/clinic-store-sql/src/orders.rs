//! The shared SQL of `OrderStore`, expanded by `impl_store!` inside its own
//! module (so `insert_audit`, `db_err`, `other` and the aliases are in scope).

/// Expands `OrderStore` for `$store`; used only from `impl_store!`.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_order_store {
    ($store:ty) => {
        use ::clinic_domain::order::{OrderStatus, WeightBasis};
        use ::clinic_store::orders::{OrderCheckRecord, OrderRecord, OrderStore};

        const ORDER_COLUMNS: &str = "id, patient_id, plan_event_id, weight_kg, weight_measured_on, weight_basis, phases, stock_mg_per_ml, \
             bag_ml, withdraw_from_bag, override_reason, warnings, status, ordered_by, signed_at, cancelled_by, cancelled_at, cancel_reason, version";
        const CHECK_COLUMNS: &str = "id, order_id, checked_by, weight_kg, phases, matches, differences, checked_at";

        fn order_from_row(row: &DbRow) -> StoreResult<OrderRecord> {
            let basis: String = row.try_get("weight_basis").map_err(db_err)?;
            let status: String = row.try_get("status").map_err(db_err)?;
            let phases: String = row.try_get("phases").map_err(db_err)?;
            let warnings: String = row.try_get("warnings").map_err(db_err)?;
            Ok(OrderRecord {
                id: row.try_get("id").map_err(db_err)?,
                patient_id: row.try_get("patient_id").map_err(db_err)?,
                plan_event_id: row.try_get("plan_event_id").map_err(db_err)?,
                weight_kg: row.try_get("weight_kg").map_err(db_err)?,
                weight_measured_on: row.try_get("weight_measured_on").map_err(db_err)?,
                weight_basis: WeightBasis::parse(&basis).map_err(|e| other(e.message))?,
                phases: phases
                    .split(';')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.split_once('@').map(|(d, m)| (d.to_string(), m.to_string())).ok_or_else(|| other(format!("stored phase {p}"))))
                    .collect::<StoreResult<Vec<_>>>()?,
                stock_mg_per_ml: row.try_get("stock_mg_per_ml").map_err(db_err)?,
                bag_ml: row.try_get("bag_ml").map_err(db_err)?,
                withdraw_from_bag: row.try_get("withdraw_from_bag").map_err(db_err)?,
                override_reason: row.try_get("override_reason").map_err(db_err)?,
                warnings: warnings.lines().filter(|l| !l.is_empty()).map(str::to_string).collect(),
                status: OrderStatus::parse(&status).map_err(|e| other(e.message))?,
                ordered_by: row.try_get("ordered_by").map_err(db_err)?,
                signed_at: row.try_get("signed_at").map_err(db_err)?,
                cancelled_by: row.try_get("cancelled_by").map_err(db_err)?,
                cancelled_at: row.try_get("cancelled_at").map_err(db_err)?,
                cancel_reason: row.try_get("cancel_reason").map_err(db_err)?,
                version: row.try_get("version").map_err(db_err)?,
            })
        }

        fn check_from_row(row: &DbRow) -> StoreResult<OrderCheckRecord> {
            let phases: String = row.try_get("phases").map_err(db_err)?;
            let differences: String = row.try_get("differences").map_err(db_err)?;
            Ok(OrderCheckRecord {
                id: row.try_get("id").map_err(db_err)?,
                order_id: row.try_get("order_id").map_err(db_err)?,
                checked_by: row.try_get("checked_by").map_err(db_err)?,
                weight_kg: row.try_get("weight_kg").map_err(db_err)?,
                phases: phases.split('\n').map(str::to_string).filter(|p| !p.is_empty()).collect(),
                matches: row.try_get("matches").map_err(db_err)?,
                differences: differences.lines().filter(|l| !l.is_empty()).map(str::to_string).collect(),
                checked_at: row.try_get("checked_at").map_err(db_err)?,
            })
        }

        impl OrderStore for $store {
            async fn create_order(&self, o: &OrderRecord, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let sql = format!("INSERT INTO infusion_orders ({ORDER_COLUMNS}) VALUES ({})", placeholders(1, 19));
                ::sqlx::query(&sql)
                    .bind(o.id)
                    .bind(o.patient_id)
                    .bind(o.plan_event_id)
                    .bind(&o.weight_kg)
                    .bind(o.weight_measured_on)
                    .bind(o.weight_basis.as_str())
                    .bind(o.phases.iter().map(|(d, m)| format!("{d}@{m}")).collect::<Vec<_>>().join(";"))
                    .bind(&o.stock_mg_per_ml)
                    .bind(&o.bag_ml)
                    .bind(o.withdraw_from_bag)
                    .bind(&o.override_reason)
                    .bind(o.warnings.join("\n"))
                    .bind(o.status.as_str())
                    .bind(o.ordered_by)
                    .bind(o.signed_at)
                    .bind(o.cancelled_by)
                    .bind(o.cancelled_at)
                    .bind(&o.cancel_reason)
                    .bind(o.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn get_order(&self, id: Uuid) -> StoreResult<OrderRecord> {
                let sql = format!("SELECT {ORDER_COLUMNS} FROM infusion_orders WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                row.as_ref().map(order_from_row).transpose()?.ok_or(StoreError::NotFound)
            }

            async fn patient_orders(&self, patient_id: Uuid) -> StoreResult<Vec<OrderRecord>> {
                let sql = format!("SELECT {ORDER_COLUMNS} FROM infusion_orders WHERE patient_id = $1 ORDER BY signed_at DESC, id DESC");
                let rows = ::sqlx::query(&sql).bind(patient_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(order_from_row).collect()
            }

            async fn order_checks(&self, order_id: Uuid) -> StoreResult<Vec<OrderCheckRecord>> {
                let sql = format!("SELECT {CHECK_COLUMNS} FROM order_checks WHERE order_id = $1 ORDER BY checked_at, id");
                let rows = ::sqlx::query(&sql).bind(order_id).fetch_all(self.pool()).await.map_err(db_err)?;
                rows.iter().map(check_from_row).collect()
            }

            async fn record_order_check(&self, c: &OrderCheckRecord, status: OrderStatus, expected_version: i64, audit: &AuditEvent) -> StoreResult<OrderRecord> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let updated = ::sqlx::query("UPDATE infusion_orders SET status = $1, version = version + 1 WHERE id = $2 AND version = $3 AND status <> 'cancelled'")
                    .bind(status.as_str())
                    .bind(c.order_id)
                    .bind(expected_version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if updated.rows_affected() == 0 {
                    let current: Option<i64> = ::sqlx::query_scalar("SELECT version FROM infusion_orders WHERE id = $1").bind(c.order_id).fetch_optional(&mut *tx).await.map_err(db_err)?;
                    return Err(match current {
                        Some(current) => StoreError::StaleVersion { current },
                        None => StoreError::NotFound,
                    });
                }
                let sql = format!("INSERT INTO order_checks ({CHECK_COLUMNS}) VALUES ({})", placeholders(1, 8));
                ::sqlx::query(&sql)
                    .bind(c.id)
                    .bind(c.order_id)
                    .bind(c.checked_by)
                    .bind(&c.weight_kg)
                    .bind(c.phases.join("\n"))
                    .bind(c.matches)
                    .bind(c.differences.join("\n"))
                    .bind(c.checked_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut tx, audit).await?;
                let sql = format!("SELECT {ORDER_COLUMNS} FROM infusion_orders WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(c.order_id).fetch_one(&mut *tx).await.map_err(db_err)?;
                let order = order_from_row(&row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(order)
            }

            async fn cancel_order(&self, id: Uuid, expected_version: i64, by: Uuid, at: DateTime<Utc>, reason: &str, audit: &AuditEvent) -> StoreResult<OrderRecord> {
                let mut tx = self.begin_write().await.map_err(db_err)?;
                let updated = ::sqlx::query(
                    "UPDATE infusion_orders SET status = 'cancelled', cancelled_by = $1, cancelled_at = $2, cancel_reason = $3, version = version + 1 \
                     WHERE id = $4 AND version = $5 AND status <> 'cancelled'",
                )
                .bind(by)
                .bind(at)
                .bind(reason)
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if updated.rows_affected() == 0 {
                    let current: Option<i64> = ::sqlx::query_scalar("SELECT version FROM infusion_orders WHERE id = $1").bind(id).fetch_optional(&mut *tx).await.map_err(db_err)?;
                    return Err(match current {
                        Some(current) => StoreError::StaleVersion { current },
                        None => StoreError::NotFound,
                    });
                }
                insert_audit(&mut tx, audit).await?;
                let sql = format!("SELECT {ORDER_COLUMNS} FROM infusion_orders WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await.map_err(db_err)?;
                let order = order_from_row(&row)?;
                tx.commit().await.map_err(db_err)?;
                Ok(order)
            }
        }
    };
}
