//! The database itself refuses to change or delete audit events.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_store::Store;
use clinic_store::ledger::LedgerStore;
use clinic_store_postgres::testing::fresh_database;
use clinic_store_postgres::PgStore;

#[tokio::test]
async fn audit_rows_cannot_be_updated_or_deleted() {
    let Some(options) = fresh_database().await.unwrap() else { return };
    let store = PgStore::connect_with(options).await.unwrap();
    let event = AuditEvent::new(uuid::Uuid::now_v7(), chrono::Utc::now(), &Actor::system_cli(), AuditAction::Seed, AuditTarget::none("system"), Outcome::Success, None);
    store.append_audit(std::slice::from_ref(&event)).await.unwrap();
    store.seal_audit(10, chrono::Utc::now()).await.unwrap();
    for sql in [
        "UPDATE audit_events SET outcome = 'denied'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events CASCADE",
        "UPDATE audit_chain SET seq = 7",
        "DELETE FROM audit_chain",
    ] {
        let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let page = store.list_audit(&clinic_store::records::AuditFilter { limit: 5, ..Default::default() }).await.unwrap();
    assert_eq!(page.items, vec![event]);
}

#[tokio::test]
async fn ledger_entries_cannot_be_updated_or_deleted() {
    let Some(options) = fresh_database().await.unwrap() else { return };
    let store = PgStore::connect_with(options).await.unwrap();
    let entry = clinic_store::conformance::one_ledger_entry(&store).await;
    for sql in ["UPDATE ledger_entries SET body = '{}'", "DELETE FROM ledger_entries", "TRUNCATE ledger_entries CASCADE"] {
        let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(store.ledger_entries(entry.site_id).await.unwrap(), vec![entry]);
}
