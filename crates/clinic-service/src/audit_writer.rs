//! Group commit for audit events of reads.
//!
//! Many staff read charts at once; giving each read its own transaction would
//! cost one disk flush per read. The writer takes every event that arrived
//! while the previous flush ran and commits them together, then answers each
//! caller. A read returns its data only after its event has committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clinic_domain::audit::AuditEvent;
use clinic_store::Store;
use tokio::sync::{mpsc, oneshot};

use crate::error::ServiceError;

/// The most events one flush commits.
const MAX_BATCH_EVENTS: usize = 2_000;

enum Job {
    Append { events: Vec<AuditEvent>, done: oneshot::Sender<Result<(), String>> },
    Flush { done: oneshot::Sender<Result<(), String>> },
}

#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::UnboundedSender<Job>,
    stats: Arc<WriterStats>,
}

#[derive(Default)]
struct WriterStats {
    flushes: AtomicU64,
    events: AtomicU64,
}

impl AuditWriter {
    pub fn spawn<S: Store>(store: S) -> AuditWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(run(store, rx, stats.clone()));
        AuditWriter { tx, stats }
    }

    /// Commits the events (in a batch with others) and returns once they are durable.
    pub async fn record(&self, events: Vec<AuditEvent>) -> Result<(), ServiceError> {
        if events.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.tx.send(Job::Append { events, done }).map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?.map_err(|message| ServiceError::Unavailable(anyhow::anyhow!(message)))
    }

    /// Returns once everything sent before has committed.
    pub async fn flush(&self) -> Result<(), ServiceError> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Job::Flush { done }).map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?.map_err(|message| ServiceError::Unavailable(anyhow::anyhow!(message)))
    }

    /// Transactions committed so far (for the benchmark and metrics).
    pub fn flush_count(&self) -> u64 {
        self.stats.flushes.load(Ordering::Relaxed)
    }

    pub fn event_count(&self) -> u64 {
        self.stats.events.load(Ordering::Relaxed)
    }
}

fn stopped() -> ServiceError {
    ServiceError::Unavailable(anyhow::anyhow!("the audit writer has stopped"))
}

async fn run<S: Store>(store: S, mut rx: mpsc::UnboundedReceiver<Job>, stats: Arc<WriterStats>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut n_events = 0usize;
        while n_events < MAX_BATCH_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    if let Job::Append { events, .. } = &job {
                        n_events += events.len();
                    }
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let events: Vec<AuditEvent> = jobs
            .iter()
            .flat_map(|job| match job {
                Job::Append { events, .. } => events.clone(),
                Job::Flush { .. } => Vec::new(),
            })
            .collect();
        let res = if events.is_empty() {
            Ok(())
        } else {
            let res = store.append_audit(&events).await;
            stats.flushes.fetch_add(1, Ordering::Relaxed);
            if res.is_ok() {
                stats.events.fetch_add(u64::try_from(events.len()).unwrap_or(u64::MAX), Ordering::Relaxed);
            }
            res.map_err(|err| {
                tracing::error!(error = %err, audit.n_events = events.len(), "audit group commit failed");
                "audit events could not be stored".to_string()
            })
        };
        for job in jobs {
            let done = match job {
                Job::Append { done, .. } | Job::Flush { done } => done,
            };
            // The caller may have gone away (request cancelled); the events are committed regardless.
            let _ = done.send(res.clone());
        }
    }
}
