//! The single sealer that links committed audit events into the hash chain.
//!
//! Sealers serialise on the chain head inside the database, so the server's
//! sealer and one run by a command-line process never fork the chain.

use std::time::Duration;

use clinic_store::Store;

use crate::error::ServiceError;

const BATCH: i64 = 1_000;

/// Seals until nothing committed is left unsealed.
pub async fn seal_all<S: Store>(store: &S) -> Result<i64, ServiceError> {
    let mut total = 0;
    loop {
        let n_sealed = store.seal_audit(BATCH, crate::now()).await?;
        total += n_sealed;
        if n_sealed < BATCH {
            return Ok(total);
        }
    }
}

/// Runs `seal_all` every `interval` until the returned handle is aborted.
pub fn spawn<S: Store>(store: S, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = seal_all(&store).await {
                tracing::warn!(error = %err, "audit sealing failed; will retry");
            }
        }
    })
}
