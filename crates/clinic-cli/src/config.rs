//! The typed configuration: defaults, then `ketaclinic.toml`, then
//! `KETACLINIC_*` environment variables (`__` for nesting), then flags.

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileConfig {
    /// `sqlite://PATH` or `postgres://…`. `DATABASE_URL` also sets it.
    pub database_url: Option<String>,
    /// Where `serve` listens.
    pub bind: String,
    /// Override directory for `data/` files.
    pub data_dir: Option<PathBuf>,
    /// Mark cookies Secure even without `X-Forwarded-Proto: https`.
    pub force_secure_cookies: bool,
    /// `pretty` or `json`.
    pub log_format: String,
    /// The clinic's first site, created at the first `serve` (later changes
    /// are made in the application).
    pub site: SiteConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteConfig {
    pub name: String,
    /// IANA time zone, e.g. America/New_York; times are shown in it.
    pub time_zone: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Opening hours as shown on the public site.
    pub hours: Option<String>,
}

impl Default for FileConfig {
    fn default() -> FileConfig {
        FileConfig {
            database_url: None,
            bind: "127.0.0.1:8080".into(),
            data_dir: None,
            force_secure_cookies: false,
            log_format: "pretty".into(),
            site: SiteConfig { name: "Ketamine-assisted treatment clinic".into(), time_zone: "UTC".into(), phone: None, address: None, hours: None },
        }
    }
}

impl FileConfig {
    pub fn load() -> anyhow::Result<FileConfig> {
        let mut figment = Figment::from(Serialized::defaults(FileConfig::default())).merge(Toml::file("ketaclinic.toml"));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        figment = figment.merge(Env::prefixed("KETACLINIC_").split("__"));
        Ok(figment.extract()?)
    }
}

/// A database URL, whose password never appears in `Debug` output or logs.
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(SecretString),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(_) => write!(f, "postgres://[redacted]"),
        }
    }
}

impl DatabaseUrl {
    /// Refuses any scheme but `sqlite:` and `postgres:` rather than guessing.
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        if let Some(path) = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err("database_url: sqlite:// needs a file path, e.g. sqlite://./ketaclinic-data/ketaclinic.db".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(SecretString::from(text.to_string())));
        }
        Err("database_url: must start with sqlite:// or postgres:// (other databases are not supported)".into())
    }

    pub fn postgres_url(secret: &SecretString) -> &str {
        secret.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(matches!(DatabaseUrl::parse("sqlite://./x/ketaclinic.db"), Ok(DatabaseUrl::Sqlite(p)) if p == PathBuf::from("./x/ketaclinic.db")));
        assert!(matches!(DatabaseUrl::parse("postgres://u:secret@h/db"), Ok(DatabaseUrl::Postgres(_))));
        assert!(format!("{:?}", DatabaseUrl::parse("postgres://u:secret@h/db").unwrap()).contains("redacted"));
        for bad in ["mysql://x", "sqlite://", "", "ketaclinic.db"] {
            let err = DatabaseUrl::parse(bad).unwrap_err();
            assert!(err.starts_with("database_url:"), "{err}");
        }
    }
}
