//! Fresh PostgreSQL databases for tests, one per test.
//!
//! Tests find the server through `TEST_POSTGRES_URL`. Without it they skip
//! with a loud message, except under `CI=true`, where a missing server is a
//! failure. Databases are named `kc_test_<uuidv7>`; ones older than an hour
//! (read from the UUIDv7's timestamp) are dropped, so crashed runs do not pile up.

use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// The options of a new, empty database, or `None` when tests should skip.
pub async fn fresh_database() -> anyhow::Result<Option<PgConnectOptions>> {
    let Ok(url) = std::env::var("TEST_POSTGRES_URL") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            anyhow::bail!("TEST_POSTGRES_URL is not set, and CI=true requires the PostgreSQL tests to run");
        }
        eprintln!("\n*** SKIPPING a PostgreSQL test: TEST_POSTGRES_URL is not set (the README's test command sets it) ***\n");
        return Ok(None);
    };
    let admin_options = PgConnectOptions::from_str(&url).context("parsing TEST_POSTGRES_URL")?;
    let mut admin = PgConnection::connect_with(&admin_options).await.context("connecting to TEST_POSTGRES_URL")?;
    drop_stale_databases(&mut admin).await?;
    let name = format!("kc_test_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.context("CREATE DATABASE")?;
    admin.close().await.ok();
    Ok(Some(admin_options.database(&name)))
}

/// Like `fresh_database`, as a `postgres://` URL for tools that take one.
pub async fn fresh_database_url() -> anyhow::Result<Option<String>> {
    let Some(options) = fresh_database().await? else { return Ok(None) };
    let url = std::env::var("TEST_POSTGRES_URL").context("TEST_POSTGRES_URL")?;
    let name = options.get_database().context("database name")?;
    // Replace the path (the database) and keep user, host, port and query.
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base.to_string(), format!("?{query}")),
        None => (url.clone(), String::new()),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base.as_str(),
    };
    Ok(Some(format!("{host_part}/{name}{query}")))
}

async fn drop_stale_databases(admin: &mut PgConnection) -> anyhow::Result<()> {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'kc\\_test\\_%'")
        .fetch_all(&mut *admin)
        .await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    for name in names {
        let Some(created) = name.strip_prefix("kc_test_").and_then(|id| uuid::Uuid::try_parse(id).ok()).and_then(|id| id.get_timestamp()) else {
            continue;
        };
        if now.saturating_sub(created.to_unix().0) > 3600 {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut *admin).await.ok();
        }
    }
    Ok(())
}
