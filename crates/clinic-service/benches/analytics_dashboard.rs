//! The director's dashboard over 10,000 patients (issue 9 part 7): how long
//! `Clinic::program_dashboard` takes once every patient's outcome summary is
//! stored and fresh, on SQLite and (with `TEST_POSTGRES_URL`) PostgreSQL.
//!
//! Setup (not timed), on a real store: the two demo sites; 10,000 synthetic
//! patients (`seed::demo_patient`), each with a signed plan of a protocol
//! their substances allow, made through the service (`create_plan`,
//! `sign_plan`); 10,000 inquiries. Each patient's stored summary is then
//! written directly with synthetic figures from a constant-seeded generator
//! (retention, attendance, the first window's verdicts, a settled, pending
//! or unavailable time to relapse, adverse events, misuse), because deriving
//! real summaries would need months of records per patient. The summaries
//! are written after every other write and for today, so none is stale.
//!
//! Timed: `program_dashboard` by the director, unfiltered and filtered by one
//! protocol, 10 runs each (the first is reported apart as the cold read);
//! and its parts: the staleness check (`refresh_outcome_summaries`, which
//! finds nothing to recompute), reading the summary rows, and parsing them.
//! Then, with the clinic's clock a day later: the dashboard's first view
//! (every summary from an earlier day, left to the background refresh) and
//! the background refresh recomputing all 10,000 from the records.
//!
//! Run: `cargo bench -p clinic-service --bench analytics_dashboard`
//! (`ANALYTICS_BENCH_PATIENTS` changes the 10,000).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clinic_domain::analytics::{PatientSummary, RelapseSummary, RetentionSummary, SubstanceWindow, WindowSummary, WindowVerdict};
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::inquiry::{InquiryDetails, InquiryInput};
use clinic_domain::patient::PatientDetails;
use clinic_domain::user::Role;
use clinic_service::analytics::FilterInput;
use clinic_service::auth::Principal;
use clinic_service::data::DataFiles;
use clinic_service::plans::NewPlanInput;
use clinic_service::{Clinic, DeploymentMode, ServiceConfig};
use clinic_store::Store;
use clinic_store::analytics::OutcomeSnapshotRow;
use clinic_store::records::{NewInquiry, NewPatient, User};
use uuid::Uuid;

const PASSWORD: &str = "Bench-passphrase-2026";
const RUNS: usize = 10;

/// The project's seeded generator (`clinic_pk::rng`), so every run has the same data.
struct Rng(clinic_pk::rng::Rng);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        u32::try_from(self.0.next_u64() % u64::from(n.max(1))).unwrap_or(0)
    }
}

fn principal(user: &User) -> Principal {
    Principal { user: user.clone(), token_hash: "bench".into(), csrf_token: String::new(), client_addr: None }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| 1000.0 * d.as_secs_f64();
    (ms(v[0]), ms(v[v.len() / 2]), ms(v[v.len() - 1]))
}

fn synthetic_summary(rng: &mut Rng, patient: Uuid, plan: Uuid, protocol: &str, substances: &[String], site: Uuid, start: chrono::NaiveDate) -> PatientSummary {
    let verdict = |r: u32| match r {
        0..=4 => WindowVerdict::Abstinent,
        5..=7 => WindowVerdict::NotAbstinent,
        _ => WindowVerdict::Undetermined,
    };
    let relapse = match rng.below(10) {
        0 => RelapseSummary::Pending { proposals: 1 },
        1 => RelapseSummary::Unavailable { reason: "first_infusion: the patient has no such date yet".into() },
        _ => RelapseSummary::Settled { days: 1 + rng.below(180), relapsed: rng.below(2) == 0 },
    };
    let mut definitions = BTreeMap::new();
    definitions.insert("retention".into(), "synthetic benchmark definition text of a realistic length, about as long as the rules a real summary carries".into());
    definitions.insert("time to relapse".into(), "synthetic benchmark definition text of a realistic length, about as long as the rules a real summary carries".into());
    PatientSummary {
        patient_id: patient,
        plan_id: plan,
        protocol_id: protocol.into(),
        substances: substances.to_vec(),
        site_id: Some(site),
        start_date: start,
        infusions_given: 1 + rng.below(6),
        adverse_events: u32::from(rng.below(20) == 0),
        severe_adverse_events: 0,
        retention: match rng.below(10) {
            0..=6 => RetentionSummary::Retained,
            7..=8 => RetentionSummary::NotRetained,
            _ => RetentionSummary::NotOver,
        },
        sessions_expected: 10,
        sessions_attended: 5 + rng.below(6),
        window: Some(WindowSummary {
            name: "end-of-study abstinence".into(),
            first: start,
            last: start + chrono::Duration::days(13),
            over: true,
            substances: substances
                .iter()
                .map(|s| {
                    let assessed = 10 + rng.below(5);
                    SubstanceWindow {
                        substance: s.clone(),
                        verdict: verdict(rng.below(10)),
                        biologically_confirmed: rng.below(2) == 0,
                        abstinent_days: rng.below(assessed + 1),
                        days_assessed: assessed,
                        heavy_days: (s == "alcohol").then(|| rng.below(4)),
                    }
                })
                .collect(),
        }),
        relapse,
        misuse_confirmed: u32::from(rng.below(100) == 0),
        definitions,
    }
}

struct Figures {
    label: String,
    patients: usize,
    setup: Duration,
    cold: Duration,
    warm: Vec<Duration>,
    filtered: Vec<Duration>,
    stale_check: Vec<Duration>,
    read_rows: Vec<Duration>,
    parse: Vec<Duration>,
    shown: u32,
    next_day_view: Duration,
    recompute_all: Duration,
}

async fn measure<S: Store>(label: &str, store: S, n: usize) -> anyhow::Result<Figures> {
    let started = Instant::now();
    store.ensure_site(&clinic_service::seed::demo_site()).await?;
    store.add_site(&clinic_service::seed::demo_second_site()).await?;
    let sites = store.list_sites().await?;
    let clinic = Clinic::new(store.clone(), ServiceConfig::standard(DeploymentMode::Production), DataFiles::embedded())?;
    let cli = Actor::system_cli();
    let physician = principal(&clinic.add_user(&cli, "physician", "Bench Physician", Role::Physician, PASSWORD).await?);
    let director = principal(&clinic.add_user(&cli, "director", "Bench Director", Role::Director, PASSWORD).await?);
    let today = clinic_service::now().date_naive();
    let seed_actor = Actor::system_cli();
    let mut rng = Rng(clinic_pk::rng::Rng::seeded(2026));
    let mut planned = Vec::with_capacity(n);
    let protocols: Vec<_> = clinic.protocols().iter().collect();
    println!("\n=== {label}: setting up {n} patients with signed plans and {n} inquiries ===");
    for idx in 0..n {
        let mut input = clinic_service::seed::demo_patient(idx, today);
        input.status = Some("eligible".into());
        let details = PatientDetails::parse(&input, today)?;
        let id = Uuid::now_v7();
        let now = clinic_service::now();
        let event = AuditEvent::new(Uuid::now_v7(), now, &seed_actor, AuditAction::PatientCreate, AuditTarget::patient(id), Outcome::Success, None);
        let site = sites.get(idx % sites.len()).ok_or_else(|| anyhow::anyhow!("site"))?;
        let patient = store.create_patient(&NewPatient { id, site_id: site.id, details, created_at: now }, &event).await?;
        let fitting: Vec<_> = protocols.iter().filter(|p| p.definition().substances.iter().any(|s| patient.details.substances.iter().any(|ps| ps.as_str() == s))).collect();
        let protocol = fitting.get(idx % fitting.len().max(1)).ok_or_else(|| anyhow::anyhow!("no protocol for patient {idx}"))?;
        let start = today + chrono::Duration::days(7 + i64::from(rng.below(180)));
        let plan = clinic
            .create_plan(&physician, patient.id, &NewPlanInput { protocol_id: Some(protocol.id().into()), start_date: Some(start.to_string()) })
            .await
            .map_err(|e| anyhow::anyhow!("plan for patient {idx}: {e:?}"))?;
        clinic.sign_plan(&physician, plan.header.id, plan.header.version).await.map_err(|e| anyhow::anyhow!("sign: {e:?}"))?;
        let substances: Vec<String> = patient.details.substances.iter().map(|s| s.as_str().to_string()).filter(|s| protocol.definition().substances.iter().any(|p| p == s)).collect();
        planned.push((patient.id, plan.header.id, protocol.id().to_string(), substances, site.id, start));
        let inquiry = InquiryInput {
            name: Some(format!("Bench Inquirer {idx}")),
            phone: Some(format!("555-020-{:04}", idx % 10_000)),
            email: None,
            substances: vec!["alcohol".into()],
            preferred_contact_time: None,
            contact_channel: Some("phone".into()),
            message: None,
            consent_to_contact: Some(true),
        };
        let inquiry_id = Uuid::now_v7();
        let audit = AuditEvent::new(Uuid::now_v7(), now, &seed_actor, AuditAction::InquiryCreate, AuditTarget::none("inquiry"), Outcome::Success, None);
        store.create_inquiry(&NewInquiry { id: inquiry_id, site_id: site.id, details: InquiryDetails::parse(&inquiry).map_err(|e| anyhow::anyhow!("{e:?}"))?, created_at: now - chrono::Duration::days(i64::from(rng.below(365))) }, &audit).await?;
        if (idx + 1) % 2000 == 0 {
            println!("  {} patients, {:.0} s", idx + 1, secs(started.elapsed()));
        }
    }
    // The summaries, after every other write, for today: fresh.
    let mark = Uuid::now_v7();
    for (patient, plan, protocol, substances, site, start) in &planned {
        let summary = synthetic_summary(&mut rng, *patient, *plan, protocol, substances, *site, *start);
        store
            .put_outcome_snapshot(&OutcomeSnapshotRow {
                patient_id: *patient,
                plan_id: *plan,
                protocol_id: protocol.clone(),
                site_id: Some(*site),
                start_date: start.to_string(),
                mark,
                computed_on: today.to_string(),
                computed_at: clinic_service::now(),
                summary: serde_json::to_string(&summary)?,
            })
            .await?;
    }
    let setup = started.elapsed();
    println!("  set up in {:.0} s", secs(setup));

    let t = Instant::now();
    let first = clinic.program_dashboard(&director, &FilterInput::default()).await.map_err(|e| anyhow::anyhow!("dashboard: {e:?}"))?;
    let cold = t.elapsed();
    anyhow::ensure!(first.refreshed == 0, "{} summaries were stale", first.refreshed);
    anyhow::ensure!(usize::try_from(first.overall.patients)? == n, "the dashboard counts {} patients of {n}", first.overall.patients);
    let mut figures = Figures { label: label.into(), patients: n, setup, cold, warm: Vec::new(), filtered: Vec::new(), stale_check: Vec::new(), read_rows: Vec::new(), parse: Vec::new(), shown: first.overall.patients, next_day_view: Duration::ZERO, recompute_all: Duration::ZERO };
    let filter = FilterInput { protocol: Some("cocaine-mbrp-dakwar2019".into()), ..FilterInput::default() };
    for _ in 0..RUNS {
        let t = Instant::now();
        let d = clinic.program_dashboard(&director, &FilterInput::default()).await.map_err(|e| anyhow::anyhow!("dashboard: {e:?}"))?;
        figures.warm.push(t.elapsed());
        anyhow::ensure!(d.refreshed == 0);
        let t = Instant::now();
        clinic.program_dashboard(&director, &filter).await.map_err(|e| anyhow::anyhow!("dashboard: {e:?}"))?;
        figures.filtered.push(t.elapsed());
        let t = Instant::now();
        anyhow::ensure!(clinic.refresh_outcome_summaries().await.map_err(|e| anyhow::anyhow!("{e:?}"))? == 0);
        figures.stale_check.push(t.elapsed());
        let t = Instant::now();
        let rows = store.outcome_snapshots().await?;
        figures.read_rows.push(t.elapsed());
        let t = Instant::now();
        let parsed: Vec<PatientSummary> = rows.iter().map(|r| serde_json::from_str(&r.summary)).collect::<Result<_, _>>()?;
        figures.parse.push(t.elapsed());
        anyhow::ensure!(parsed.len() == n);
    }
    // A day later every summary is from an earlier day: the dashboard still
    // answers from them at once, and the background refresh recomputes all.
    clinic.set_clock(Some(clinic_service::now() + chrono::Duration::days(1)));
    let t = Instant::now();
    let d = clinic.program_dashboard(&director, &FilterInput::default()).await.map_err(|e| anyhow::anyhow!("dashboard: {e:?}"))?;
    figures.next_day_view = t.elapsed();
    anyhow::ensure!(d.refreshed == 0 && d.earlier_day == n, "next day: {} recomputed, {} from an earlier day", d.refreshed, d.earlier_day);
    let t = Instant::now();
    let recomputed = clinic.refresh_outcome_summaries().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    figures.recompute_all = t.elapsed();
    anyhow::ensure!(recomputed == n, "recomputed {recomputed} of {n}");
    Ok(figures)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("ANALYTICS_BENCH_PATIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let mut all = Vec::new();
    let dir = std::env::temp_dir().join(format!("ketaclinic-bench-{}", Uuid::now_v7()));
    let (sqlite, _) = clinic_store_sqlite::SqliteStore::open(&dir.join("ketaclinic.db")).await?;
    all.push(measure("sqlite (synchronous=FULL)", sqlite, n).await?);
    std::fs::remove_dir_all(&dir).ok();
    match clinic_store_postgres::testing::fresh_database().await {
        Ok(Some(options)) => all.push(measure("postgres", clinic_store_postgres::PgStore::connect_with(options).await?, n).await?),
        Ok(None) => println!("\npostgres: skipped (TEST_POSTGRES_URL not set)"),
        Err(err) => println!("\npostgres: skipped ({err})"),
    }
    println!("\n=== summary: the dashboard over {n} patients with fresh stored summaries; ms min / median / max of {RUNS} runs ===");
    println!("| backend | set-up s | first view ms | dashboard, all | dashboard, one protocol | staleness check | read summary rows | parse summaries | next day's first view ms | recompute all s |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        let fmt = |v: Vec<Duration>| {
            let (a, b, c) = stats(v);
            format!("{a:.0} / {b:.0} / {c:.0}")
        };
        println!(
            "| {} ({} patients shown of {}) | {:.0} | {:.0} | {} | {} | {} | {} | {} | {:.0} | {:.1} |",
            f.label,
            f.shown,
            f.patients,
            secs(f.setup),
            1000.0 * secs(f.cold),
            fmt(f.warm),
            fmt(f.filtered),
            fmt(f.stale_check),
            fmt(f.read_rows),
            fmt(f.parse),
            1000.0 * secs(f.next_day_view),
            secs(f.recompute_all)
        );
    }
    Ok(())
}
