//! The shared conformance suite on a fresh SQLite file per test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use clinic_store_sqlite::SqliteStore;

async fn fresh() -> Option<SqliteStore> {
    let dir = std::env::temp_dir().join(format!("ketaclinic-conformance-{}", uuid::Uuid::now_v7()));
    let (store, backup) = SqliteStore::open(&dir.join("ketaclinic.db")).await.expect("open");
    assert_eq!(backup, None);
    Some(store)
}

clinic_store::conformance_tests!(fresh);
