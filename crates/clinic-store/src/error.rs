//! The error every backend returns.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique or foreign-key constraint refused the change.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// Someone else changed the record since it was read.
    #[error("stale version: the record is now at version {current}")]
    StaleVersion { current: i64 },
    /// The database cannot be reached or is shutting down.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}
