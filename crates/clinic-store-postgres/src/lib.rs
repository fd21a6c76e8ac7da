#![doc = include_str!("../README.md")]

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

pub mod testing;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and applies pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<PgStore> {
        let options = PgConnectOptions::from_str(url).context("parsing the PostgreSQL URL")?;
        PgStore::connect_with(options).await
    }

    pub async fn connect_with(options: PgConnectOptions) -> anyhow::Result<PgStore> {
        // JIT off for our sessions: every query here is a short OLTP lookup,
        // and the planner's cost estimates (a correlated subquery over many
        // rows) would make PostgreSQL spend ~200 ms compiling what runs in
        // ~30 ms (docs/BENCHMARKS.md, the analytics dashboard).
        let options = options.options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        MIGRATOR.run(&pool).await.context("applying PostgreSQL migrations")?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

clinic_store_sql::impl_store!(crate::PgStore, ::sqlx::Postgres);
