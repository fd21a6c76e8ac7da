//! Both backends have the same migrations and the same logical schema:
//! the same tables, columns and nullability (types differ by design, see
//! docs/DATABASE.md). In the spirit of lemmy's diff_check.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::collections::BTreeSet;

use clinic_store_postgres::testing::fresh_database;
use clinic_store_postgres::PgStore;
use clinic_store_sqlite::SqliteStore;

type Column = (String, String, bool);

#[test]
fn migration_file_names_match() {
    let names = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let pg = names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
    let sqlite = names(concat!(env!("CARGO_MANIFEST_DIR"), "/../clinic-store-sqlite/migrations"));
    assert!(!pg.is_empty());
    assert_eq!(pg, sqlite);
}

#[tokio::test]
async fn tables_and_columns_match() {
    let Some(options) = fresh_database().await.unwrap() else { return };
    let pg = PgStore::connect_with(options).await.unwrap();
    let pg_columns: BTreeSet<Column> = sqlx::query_as::<_, (String, String, String)>(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(table, column, nullable)| (table, column, nullable == "YES"))
    .collect();

    let dir = std::env::temp_dir().join(format!("ketaclinic-parity-{}", uuid::Uuid::now_v7()));
    let (sqlite, _) = SqliteStore::open(&dir.join("ketaclinic.db")).await.unwrap();
    let sqlite_columns: BTreeSet<Column> = sqlx::query_as::<_, (String, String, i64, i64)>(
        "SELECT m.name, p.name, p.\"notnull\", p.pk FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(sqlite.pool())
    .await
    .unwrap()
    .into_iter()
    // SQLite marks primary-key columns NOT NULL only when written so; we always write it.
    .map(|(table, column, not_null, pk)| (table, column, not_null == 0 && pk == 0))
    .collect();

    let only_pg: Vec<_> = pg_columns.difference(&sqlite_columns).collect();
    let only_sqlite: Vec<_> = sqlite_columns.difference(&pg_columns).collect();
    assert!(only_pg.is_empty() && only_sqlite.is_empty(), "only in PostgreSQL: {only_pg:?}\nonly in SQLite: {only_sqlite:?}");
    assert!(pg_columns.len() > 50, "{} columns", pg_columns.len());
}
