//! The shared conformance suite on a fresh PostgreSQL database per test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use clinic_store_postgres::testing::fresh_database;
use clinic_store_postgres::PgStore;

async fn fresh() -> Option<PgStore> {
    let options = fresh_database().await.expect("a PostgreSQL test database")?;
    Some(PgStore::connect_with(options).await.expect("connect and migrate"))
}

clinic_store::conformance_tests!(fresh);
