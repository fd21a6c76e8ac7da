//! How many database flushes 1,000 concurrent audited chart reads cost.
//!
//! Each read of a patient commits an audit event before it returns. The audit
//! writer groups events that arrive together into one transaction, so the
//! number of commits ("flushes") is far below one per read.
//!
//! Run: `cargo bench -p clinic-service --bench audit_group_commit`
//! (with `TEST_POSTGRES_URL` set, PostgreSQL is measured too).

use std::time::Instant;

use clinic_domain::audit::Actor;
use clinic_domain::patient::PatientInput;
use clinic_domain::user::Role;
use clinic_service::data::DataFiles;
use clinic_service::patients::DuplicatePolicy;
use clinic_service::{Clinic, DeploymentMode, ServiceConfig};
use clinic_store::Store;

const N_READS: usize = 1_000;
const PASSWORD: &str = "Bench-passphrase-2026";

async fn measure<S: Store>(label: &str, store: S) -> anyhow::Result<()> {
    store.ensure_site(&clinic_service::seed::demo_site()).await?;
    let clinic = Clinic::new(store, ServiceConfig::standard(DeploymentMode::Production), DataFiles::embedded())?;
    clinic.add_user(&Actor::system_cli(), "nurse", "Bench Nurse", Role::Nurse, PASSWORD).await?;
    let principal = {
        let signed_in = clinic.login("nurse", PASSWORD, None).await?;
        clinic.authenticate(&signed_in.token, None).await?
    };
    let input = PatientInput {
        given_name: Some("Bench".into()),
        family_name: Some("Patient".into()),
        date_of_birth: Some("1980-01-01".into()),
        ..PatientInput::default()
    };
    let patient = clinic.register_patient(&principal, &input, DuplicatePolicy::Refuse).await?;
    clinic.audit_writer().flush().await?;
    let flushes_before = clinic.audit_writer().flush_count();
    let events_before = clinic.audit_writer().event_count();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(N_READS);
    for _ in 0..N_READS {
        let clinic = clinic.clone();
        let principal = principal.clone();
        tasks.push(tokio::spawn(async move { clinic.get_patient(&principal, patient.id).await.map(|_| ()) }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    let flushes = clinic.audit_writer().flush_count() - flushes_before;
    let events = clinic.audit_writer().event_count() - events_before;
    println!(
        "{label}: {N_READS} concurrent audited reads -> {events} audit events in {flushes} flushes ({:.1} events per flush), {:.0} ms, {:.0} reads/s",
        f64::from(u32::try_from(events).unwrap_or(u32::MAX)) / f64::from(u32::try_from(flushes.max(1)).unwrap_or(1)),
        elapsed.as_secs_f64() * 1000.0,
        f64::from(u32::try_from(N_READS).unwrap_or(0)) / elapsed.as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ketaclinic-bench-{}", uuid::Uuid::now_v7()));
    let (sqlite, _) = clinic_store_sqlite::SqliteStore::open(&dir.join("ketaclinic.db")).await?;
    measure("sqlite (synchronous=FULL)", sqlite).await?;
    match clinic_store_postgres::testing::fresh_database().await {
        Ok(Some(options)) => measure("postgres", clinic_store_postgres::PgStore::connect_with(options).await?).await?,
        Ok(None) => println!("postgres: skipped (TEST_POSTGRES_URL not set)"),
        Err(err) => println!("postgres: skipped ({err})"),
    }
    Ok(())
}
