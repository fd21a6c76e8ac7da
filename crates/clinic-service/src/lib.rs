#![doc = include_str!("../README.md")]

pub mod aftercare;
pub mod analytics;
pub mod audit;
pub mod audit_writer;
pub mod auth;
pub mod calendar;
pub mod counseling;
pub mod data;
pub mod eligibility;
pub mod infusions;
pub mod inquiries;
pub mod instruments;
pub mod ledger;
pub mod misuse;
pub mod orders;
pub mod outcomes;
pub mod outbox;
pub mod error;
pub mod patients;
pub mod plans;
pub mod protocols;
pub mod relapse;
pub mod scheduling;
pub mod screening;
pub mod sealer;
pub mod seed;
mod seed_sessions;
mod seed_alumni;
pub mod users;

use std::sync::Arc;

use clinic_domain::session::SessionPolicy;
use clinic_domain::throttle::ThrottlePolicy;
use clinic_store::Store;

use crate::audit_writer::AuditWriter;
use crate::auth::Throttles;
use crate::data::DataFiles;

/// Where the server runs. In `Production` the demo password never signs
/// anyone in (DESIGN.md: under `serve`, no account can sign in with `demo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentMode {
    Demo,
    Production,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub mode: DeploymentMode,
    pub session: SessionPolicy,
    pub throttle_per_account: ThrottlePolicy,
    pub throttle_per_client: ThrottlePolicy,
    /// How often the sealer links new audit events into the chain.
    pub sealer_interval: std::time::Duration,
    /// Alert routing, crisis resources and portal links.
    pub safety: crate::screening::SafetySettings,
    /// Limits the eligibility rules compare against (unset ones ask for review).
    pub eligibility: clinic_domain::eligibility::ClinicSettings,
    /// Session lengths and the time whole-plan scheduling tries first.
    pub scheduling: crate::scheduling::SchedulingSettings,
    /// Weight basis, plausibility limits and the pump and syringe steps orders are rounded to.
    pub orders: clinic_domain::order::OrderSettings,
    /// Alert thresholds, the monitoring schedule and the discharge score.
    pub infusion: crate::infusions::InfusionSettings,
    /// The controlled-substance ledger's settings (the in-use period of opened vials).
    pub ledger: clinic_domain::ledger::LedgerSettings,
    /// The clinic's relapse settings per protocol id, where the protocol leaves them open (shipped: none).
    pub relapse: Vec<(String, clinic_domain::outcome::relapse::ClinicRelapseSettings)>,
    /// Days after an exposure a positive is explained by it, per analyte (shipped: none set;
    /// the reference gives ranges, clinical.md §4.1).
    pub detection_windows: clinic_domain::outcome::toxicology::DetectionWindows,
    /// When the daily diary reminder goes out (shipped: unset, so none is sent).
    pub diary: crate::outcomes::DiarySettings,
}

impl ServiceConfig {
    /// The shipped security settings: 30 min idle and 12 h absolute session
    /// timeouts, 5 failed sign-ins per account or 20 per client address in
    /// 15 minutes, sealing every second. Security settings, not clinical ones.
    pub fn standard(mode: DeploymentMode) -> ServiceConfig {
        ServiceConfig {
            mode,
            session: SessionPolicy {
                idle_timeout: chrono::Duration::minutes(30),
                absolute_timeout: chrono::Duration::hours(12),
            },
            throttle_per_account: ThrottlePolicy { max_failures: 5, window: chrono::Duration::minutes(15) },
            throttle_per_client: ThrottlePolicy { max_failures: 20, window: chrono::Duration::minutes(15) },
            sealer_interval: std::time::Duration::from_secs(1),
            safety: crate::screening::SafetySettings::default(),
            eligibility: crate::eligibility::shipped_eligibility_settings(),
            scheduling: crate::scheduling::SchedulingSettings::default(),
            orders: clinic_domain::order::OrderSettings::shipped(),
            infusion: crate::infusions::InfusionSettings::default(),
            ledger: clinic_domain::ledger::LedgerSettings::shipped(),
            relapse: Vec::new(),
            detection_windows: clinic_domain::outcome::toxicology::DetectionWindows::shipped(),
            diary: crate::outcomes::DiarySettings::default(),
        }
    }
}

/// The running service: the store, its settings, the audit writer and the
/// sign-in throttles. Cheap to clone.
#[derive(Clone)]
pub struct Clinic<S: Store> {
    inner: Arc<Inner<S>>,
}

struct Inner<S: Store> {
    store: S,
    config: ServiceConfig,
    data: DataFiles,
    instruments: crate::instruments::InstrumentRegistry,
    consent_templates: Vec<clinic_domain::consent::ConsentTemplate>,
    protocols: crate::protocols::ProtocolRegistry,
    /// Published ketamine-arm results (data/analytics/published.toml).
    published: Vec<clinic_domain::analytics::Published>,
    audit: AuditWriter,
    throttles: Throttles,
    /// The instant the clinic's clock is stopped at, in microseconds since
    /// 1970 (`CLOCK_UNSET`: the wall clock); see `Clinic::set_clock`.
    clock_set_us: std::sync::atomic::AtomicI64,
}

impl<S: Store> Clinic<S> {
    /// Loads and validates the instruments, consent texts and protocols (a
    /// malformed file refuses the start, naming the file) and starts the audit writer. Call
    /// `sealer::spawn` as well in a long-running process.
    pub fn new(store: S, config: ServiceConfig, data: DataFiles) -> anyhow::Result<Clinic<S>> {
        let instruments = crate::instruments::InstrumentRegistry::load(&data)?;
        let consent_templates = crate::eligibility::load_templates(&data)?;
        let protocols = crate::protocols::ProtocolRegistry::load(&data)?;
        let published = clinic_domain::analytics::parse_published(&data.read_text("analytics/published.toml")?).map_err(|e| anyhow::anyhow!("data/analytics/published.toml: {e}"))?;
        let audit = AuditWriter::spawn(store.clone());
        Ok(Clinic { inner: Arc::new(Inner { store, config, data, instruments, consent_templates, protocols, published, audit, throttles: Throttles::default(), clock_set_us: std::sync::atomic::AtomicI64::new(CLOCK_UNSET) }) })
    }

    /// The published ketamine-arm results the dashboard compares with, validated at start.
    pub fn published(&self) -> &[clinic_domain::analytics::Published] {
        &self.inner.published
    }

    pub fn instruments(&self) -> &crate::instruments::InstrumentRegistry {
        &self.inner.instruments
    }

    /// The treatment protocols (data/protocols, embedded plus the override directory), validated at start.
    pub fn protocols(&self) -> &crate::protocols::ProtocolRegistry {
        &self.inner.protocols
    }

    pub fn store(&self) -> &S {
        &self.inner.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    pub fn data(&self) -> &DataFiles {
        &self.inner.data
    }

    /// The clinic's clock: the wall clock (`crate::now`), unless the demo
    /// seed or a test has set it (`set_clock`).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let set = self.inner.clock_set_us.load(std::sync::atomic::Ordering::Relaxed);
        if set == CLOCK_UNSET {
            now()
        } else {
            chrono::DateTime::from_timestamp_micros(set).unwrap_or_else(now)
        }
    }

    /// Stops the clinic's clock at `at` (every write until the next call
    /// carries that time), or gives it back to the wall clock with `None`.
    /// Only the demo seed (before the clinic serves anyone) and tests use
    /// it: every chart entry, ledger line and audit event of a seeded past
    /// session then carries its own time while going through the same
    /// checks as a real one. Sign-in sessions keep the wall clock.
    pub fn set_clock(&self, at: Option<chrono::DateTime<chrono::Utc>>) {
        let value = at.map_or(CLOCK_UNSET, |at| at.timestamp_micros());
        self.inner.clock_set_us.store(value, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn audit_writer(&self) -> &AuditWriter {
        &self.inner.audit
    }

    /// Flushes the audit writer and seals everything committed. Called on
    /// shutdown and at the end of every operator command.
    pub async fn flush(&self) -> Result<(), crate::error::ServiceError> {
        self.inner.audit.flush().await?;
        sealer::seal_all(self.store()).await?;
        Ok(())
    }
}

/// The current time, truncated to the microseconds both databases keep, so a
/// value reads back exactly as it was written.
const CLOCK_UNSET: i64 = i64::MIN;

pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
