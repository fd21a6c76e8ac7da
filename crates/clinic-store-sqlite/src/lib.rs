#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// How long a writer waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending
    /// migrations. Returns the path of the pre-migration backup, if one was made.
    pub async fn open(path: &Path) -> anyhow::Result<(SqliteStore, Option<PathBuf>)> {
        let existed = path.exists();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .context("sqlite options")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        let store = SqliteStore { pool };
        let backup = if existed && store.has_pending_migrations().await? {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let dest = path.with_extension(format!("pre-migrate-{stamp}.db"));
            store.backup_to(&dest).await?;
            tracing::info!(backup.path = %dest.display(), "backed up the database before migrating");
            Some(dest)
        } else {
            None
        };
        MIGRATOR.run(&store.pool).await.context("applying SQLite migrations")?;
        Ok((store, backup))
    }

    async fn has_pending_migrations(&self) -> anyhow::Result<bool> {
        let table: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_optional(&self.pool)
                .await?;
        if table.is_none() {
            // An existing file without our migrations table: not ours, or empty.
            let n_tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
                .fetch_one(&self.pool)
                .await?;
            return Ok(n_tables > 0);
        }
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&self.pool)
            .await?;
        Ok(MIGRATOR.iter().any(|m| !applied.contains(&m.version)))
    }

    /// A consistent copy of the live database, safe while the server runs
    /// (`VACUUM INTO` reads one snapshot). Refuses to overwrite a file.
    pub async fn backup_to(&self, dest: &Path) -> anyhow::Result<()> {
        if dest.exists() {
            anyhow::bail!("{} already exists; choose a new file name", dest.display());
        }
        let dest_text = dest.to_str().context("backup path must be valid UTF-8")?;
        sqlx::query("VACUUM INTO $1").bind(dest_text).execute(&self.pool).await.context("VACUUM INTO")?;
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

clinic_store_sql::impl_store!(crate::SqliteStore, ::sqlx::Sqlite);
