//! Walks the audit hash chain and reports the first bad event.

use chrono::{DateTime, Duration, Utc};
use clinic_domain::audit::{verify_link, ChainBreak, GENESIS_HASH};

use crate::error::StoreError;
use crate::Store;

/// What an intact chain looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainReport {
    pub n_sealed: i64,
    /// Some events are committed and waiting for the sealer's next run.
    pub unsealed_waiting: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Broken(#[from] ChainBreak),
    #[error("the chain head says position {head_seq} but the chain ends at {last_seq}")]
    HeadMismatch { head_seq: i64, last_seq: i64 },
    #[error("audit event {0} is neither sealed nor waiting to be sealed: it was inserted or unlinked outside the application")]
    Orphan(uuid::Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks every link from the start, that the head matches the last link,
/// that no event escaped the chain, and that no event has waited longer than
/// `max_unsealed_age` for the sealer.
pub async fn verify_chain<S: Store>(store: &S, now: DateTime<Utc>, max_unsealed_age: Duration) -> Result<ChainReport, VerifyError> {
    const PAGE: i64 = 5_000;
    let mut prev_hash = GENESIS_HASH;
    let mut last_seq = 0i64;
    loop {
        let links = store.audit_chain(last_seq, PAGE).await?;
        if links.is_empty() {
            break;
        }
        for (link, event) in &links {
            verify_link(last_seq + 1, &prev_hash, link, event.as_ref())?;
            prev_hash = link.hash;
            last_seq = link.seq;
        }
    }
    let head = store.audit_chain_head().await?;
    if head.seq != last_seq || head.hash != prev_hash {
        return Err(VerifyError::HeadMismatch { head_seq: head.seq, last_seq });
    }
    if let Some(event_id) = store.orphan_audit_event().await? {
        return Err(VerifyError::Orphan(event_id));
    }
    let mut unsealed_waiting = false;
    if let Some(oldest) = store.oldest_unsealed().await? {
        unsealed_waiting = true;
        if now - oldest.occurred_at > max_unsealed_age {
            return Err(ChainBreak::Unsealed { event_id: oldest.id, occurred_at: oldest.occurred_at }.into());
        }
    }
    Ok(ChainReport { n_sealed: last_seq, unsealed_waiting })
}
