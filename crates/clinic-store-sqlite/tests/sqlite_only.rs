//! What only the SQLite backend does: pragmas, append-only triggers,
//! backups, and the backup before migrating an existing file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_store::Store;
use clinic_store::ledger::LedgerStore;
use clinic_store_sqlite::SqliteStore;

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ketaclinic-sqlite-{}", uuid::Uuid::now_v7()))
}

#[tokio::test]
async fn pragmas_are_set_on_every_connection() {
    let (store, _) = SqliteStore::open(&temp_dir().join("ketaclinic.db")).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(store.pool()).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(store.pool()).await.unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(store.pool()).await.unwrap();
    assert!(busy >= 5_000, "busy_timeout {busy}");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(store.pool()).await.unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[tokio::test]
async fn audit_rows_cannot_be_updated_or_deleted() {
    let (store, _) = SqliteStore::open(&temp_dir().join("ketaclinic.db")).await.unwrap();
    let event = AuditEvent::new(uuid::Uuid::now_v7(), chrono::Utc::now(), &Actor::system_cli(), AuditAction::Seed, AuditTarget::none("system"), Outcome::Success, None);
    store.append_audit(std::slice::from_ref(&event)).await.unwrap();
    store.seal_audit(10, chrono::Utc::now()).await.unwrap();
    for sql in ["UPDATE audit_events SET outcome = 'denied'", "DELETE FROM audit_events", "UPDATE audit_chain SET seq = 7", "DELETE FROM audit_chain"] {
        let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn backup_is_a_consistent_copy_and_never_overwrites() {
    let dir = temp_dir();
    let (store, _) = SqliteStore::open(&dir.join("ketaclinic.db")).await.unwrap();
    let event = AuditEvent::new(uuid::Uuid::now_v7(), chrono::Utc::now(), &Actor::system_cli(), AuditAction::Seed, AuditTarget::none("system"), Outcome::Success, None);
    store.append_audit(std::slice::from_ref(&event)).await.unwrap();
    let dest = dir.join("copy.db");
    store.backup_to(&dest).await.unwrap();
    assert!(store.backup_to(&dest).await.unwrap_err().to_string().contains("already exists"));
    let (copy, backup) = SqliteStore::open(&dest).await.unwrap();
    assert_eq!(backup, None, "an up-to-date copy needs no pre-migration backup");
    let page = copy.list_audit(&clinic_store::records::AuditFilter { limit: 5, ..Default::default() }).await.unwrap();
    assert_eq!(page.items, vec![event]);
}

#[tokio::test]
async fn an_existing_file_is_backed_up_before_migrating() {
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ketaclinic.db");
    // An older database: one table and a migrations table without our migrations.
    {
        let (store, _) = SqliteStore::open(&dir.join("scratch.db")).await.unwrap();
        store.close().await;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::query("CREATE TABLE legacy (x INTEGER)").execute(&pool).await.unwrap();
        pool.close().await;
    }
    let (_store, backup) = SqliteStore::open(&path).await.unwrap();
    let backup = backup.expect("a backup before migrating");
    assert!(backup.exists());
    assert!(backup.file_name().unwrap().to_string_lossy().starts_with("ketaclinic.pre-migrate-"));
    // Opening again finds nothing to migrate and makes no new backup.
    let (_again, second) = SqliteStore::open(&path).await.unwrap();
    assert_eq!(second, None);
}

#[tokio::test]
async fn ledger_entries_cannot_be_updated_or_deleted() {
    let (store, _) = SqliteStore::open(&temp_dir().join("ketaclinic.db")).await.unwrap();
    let entry = clinic_store::conformance::one_ledger_entry(&store).await;
    for sql in ["UPDATE ledger_entries SET body = '{}'", "DELETE FROM ledger_entries"] {
        let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(store.ledger_entries(entry.site_id).await.unwrap(), vec![entry]);
}
