//! Delivering the outbox: messages are written in the transaction that caused
//! them; a delivery adapter (SMS gateway, email) hands each on and the message
//! is marked sent. Adapters are pluggable: implement `Delivery`. The demo's
//! adapter only logs the message's id (its text is on the Outbox page). Without an adapter messages wait in the outbox.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use clinic_store::screening::OutboxMessage;
use clinic_store::Store;

use crate::error::ServiceError;

/// Hands one message on to its channel.
pub trait Delivery: Send + Sync + 'static {
    fn deliver<'a>(&'a self, message: &'a OutboxMessage) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;
}

/// The demo's adapter: writes the message to the log instead of sending it.
pub struct LogDelivery;

impl Delivery for LogDelivery {
    fn deliver<'a>(&'a self, message: &'a OutboxMessage) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            // Ids only (docs/LOGGING.md): the text holds a name and a private link; the demo's Outbox page shows it.
            tracing::info!(message.id = %message.id, message.channel = message.channel.as_str(), "outbox (demo): message not sent; read it on the Outbox page");
            Ok(())
        })
    }
}

/// Delivers every waiting message once; returns how many were handed on. A
/// failed delivery stays waiting and is retried on the next round.
pub async fn deliver_pending<S: Store>(store: &S, delivery: &dyn Delivery) -> Result<usize, ServiceError> {
    let mut delivered = 0;
    for message in store.list_unsent_outbox(100).await? {
        match delivery.deliver(&message).await {
            Ok(()) => {
                store.mark_outbox_sent(message.id, crate::now()).await?;
                delivered += 1;
            }
            Err(err) => tracing::warn!(error = %err, message.id = %message.id, "message delivery failed; will retry"),
        }
    }
    Ok(delivered)
}

/// Runs `deliver_pending` every `interval` until the handle is aborted.
pub fn spawn<S: Store>(store: S, delivery: Arc<dyn Delivery>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = deliver_pending(&store, delivery.as_ref()).await {
                tracing::warn!(error = %err, "outbox delivery failed; will retry");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinic_domain::inquiry::ContactChannel;
    use clinic_store::screening::ScreeningStore;

    /// Fails the first time it sees each message, then succeeds.
    struct Flaky(std::sync::Mutex<Vec<uuid::Uuid>>);

    impl Delivery for Flaky {
        fn deliver<'a>(&'a self, message: &'a OutboxMessage) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
            Box::pin(async move {
                let mut seen = self.0.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                if seen.contains(&message.id) {
                    Ok(())
                } else {
                    seen.push(message.id);
                    anyhow::bail!("gateway down")
                }
            })
        }
    }

    #[tokio::test]
    async fn a_failed_delivery_waits_and_is_retried_once_delivered_it_is_not_sent_again() {
        let dir = std::env::temp_dir().join(format!("ketaclinic-outbox-{}", uuid::Uuid::now_v7()));
        let (store, _) = clinic_store_sqlite::SqliteStore::open(&dir.join("k.db")).await.unwrap();
        let site = store.ensure_site(&crate::seed::demo_site()).await.unwrap();
        let details = clinic_domain::patient::PatientDetails::parse(
            &clinic_domain::patient::PatientInput {
                given_name: Some("Ana".into()),
                family_name: Some("Out".into()),
                date_of_birth: Some("1980-01-01".into()),
                phone: Some("5550100100".into()),
                contact_channels: vec!["sms".into()],
                ..Default::default()
            },
            chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
        )
        .unwrap();
        let id = uuid::Uuid::now_v7();
        let actor = clinic_domain::audit::Actor::system_cli();
        let event = |action| clinic_domain::audit::AuditEvent::new(uuid::Uuid::now_v7(), crate::now(), &actor, action, clinic_domain::audit::AuditTarget::patient(id), clinic_domain::audit::Outcome::Success, None);
        store
            .create_patient(&clinic_store::records::NewPatient { id, site_id: site.id, details, created_at: crate::now() }, &event(clinic_domain::audit::AuditAction::PatientCreate))
            .await
            .unwrap();
        let link = clinic_domain::portal::PortalLink {
            id: uuid::Uuid::now_v7(),
            patient_id: id,
            purpose: clinic_domain::portal::LinkPurpose::Signin,
            instrument_id: None,
            expires_at: crate::now() + chrono::Duration::hours(1),
            used_at: None,
            created_by: None,
            created_at: crate::now(),
        };
        let message = OutboxMessage { id: uuid::Uuid::now_v7(), patient_id: Some(id), channel: ContactChannel::Sms, address: "5550100100".into(), body: "Hello".into(), created_at: crate::now(), sent_at: None };
        store.create_portal_link(&link, "h", &message, &event(clinic_domain::audit::AuditAction::PortalLinkCreate)).await.unwrap();

        let flaky = Flaky(std::sync::Mutex::new(Vec::new()));
        assert_eq!(deliver_pending(&store, &flaky).await.unwrap(), 0, "the gateway failed: nothing marked sent");
        assert_eq!(store.list_unsent_outbox(10).await.unwrap().len(), 1);
        assert_eq!(deliver_pending(&store, &flaky).await.unwrap(), 1, "retried and delivered");
        assert!(store.list_unsent_outbox(10).await.unwrap().is_empty());
        assert_eq!(deliver_pending(&store, &LogDelivery).await.unwrap(), 0, "never sent twice");
        let _ = std::fs::remove_dir_all(dir);
    }
}
