#![doc = include_str!("../README.md")]

mod config;
mod dose;
mod pk;
mod protocol;
mod score;
mod stats;

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use clinic_domain::audit::Actor;
use clinic_domain::user::Role;
use clinic_service::data::DataFiles;
use clinic_service::seed::{SeedOutcome, DEMO_ACCOUNTS};
use clinic_service::{Clinic, DeploymentMode, ServiceConfig};
use clinic_store::Store;
use clinic_store_postgres::PgStore;
use clinic_store_sqlite::SqliteStore;

use crate::config::{DatabaseUrl, FileConfig};

#[derive(Parser)]
#[command(name = "ketaclinic", version, about = "Ketamine-assisted addiction treatment, end to end")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DbArgs {
    /// Data directory; the embedded database is DIR/ketaclinic.db.
    #[arg(long, value_name = "DIR", global = true)]
    data: Option<PathBuf>,
    /// sqlite://PATH or postgres://… (overrides --data and DATABASE_URL).
    #[arg(long, value_name = "URL", global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo clinic on 127.0.0.1 with an embedded database, seeded once.
    Demo {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[arg(long, value_name = "DIR", default_value = "./ketaclinic-data")]
        data: PathBuf,
    },
    /// Run the production server (applies pending migrations first).
    Serve {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Address to listen on, e.g. 0.0.0.0:8080 (default from config: 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Apply pending migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage staff accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Write a consistent copy of the embedded database while it runs.
    Backup {
        dest: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Score a screening or rating instrument's answers (no database needed).
    Score(score::ScoreArgs),
    /// Calculate an infusion: dose, stock volume, total volume, pump rate (no database needed).
    Dose(dose::DoseArgs),
    /// Audit trail commands.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Evidence-based protocols: list them, or plan one from a start date (no database needed).
    Protocol {
        #[command(subcommand)]
        action: protocol::ProtocolCommand,
    },
    /// Statistics on an exported cohort (no database needed).
    Stats {
        #[command(subcommand)]
        action: stats::StatsCommand,
    },
    /// Pharmacokinetic prediction of an infusion (approximate; no database needed).
    Pk {
        #[command(subcommand)]
        action: pk::PkCommand,
    },
    /// Research exports from the clinic's own records (pseudonymous, no names).
    Export {
        #[command(subcommand)]
        action: ExportAction,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum ExportAction {
    /// The time-to-relapse cohort as CSV `patient_id,arm,days,relapsed` (arm = protocol id),
    /// the input of `ketaclinic stats survival`. Patients whose time to relapse is not settled
    /// (relapse settings unset, proposals awaiting a decision) are left out and counted on stderr.
    Cohort {
        /// Only this protocol's patients.
        #[arg(long, value_name = "ID")]
        protocol: Option<String>,
        /// Write the CSV here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add an account; the password is read from standard input.
    Add {
        username: String,
        #[arg(long)]
        role: String,
        /// The name shown to colleagues.
        #[arg(long)]
        name: String,
    },
    /// List accounts as JSON.
    List,
    /// Disable an account and end its sessions.
    Disable { username: String },
    /// Set a new password, read from standard input, and end the account's sessions.
    ResetPassword { username: String },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Exit 0 when the hash chain is intact, 1 naming the first bad event.
    Verify,
}

/// How a command failed: bad input (exit 2) or a failure while working (exit 1).
enum CliError {
    Usage(String),
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for CliError {
    fn from(err: anyhow::Error) -> CliError {
        CliError::Failed(err)
    }
}

impl From<clinic_service::error::ServiceError> for CliError {
    fn from(err: clinic_service::error::ServiceError) -> CliError {
        use clinic_service::error::ServiceError as E;
        match err {
            E::Invalid(errors) => CliError::Usage(
                errors.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
            ),
            E::NotFound { resource } => CliError::Usage(format!("{resource}: not found")),
            E::Conflict { message, .. } => CliError::Usage(message),
            other => CliError::Failed(anyhow::Error::new(other)),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
                let _ = err.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first line, without the usage block. For a
            // missing argument clap lists the flags on the lines after it:
            // they join the line, so it names what is missing.
            let rendered = err.render().to_string();
            let mut line = rendered.lines().next().unwrap_or("error: invalid arguments").to_string();
            if err.kind() == ErrorKind::MissingRequiredArgument {
                for missing in rendered.lines().skip(1).take_while(|l| !l.starts_with("Usage")).map(str::trim).filter(|l| !l.is_empty()) {
                    line.push(' ');
                    line.push_str(missing);
                }
            }
            eprintln!("{line}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(CliError::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

async fn open_store(url: &DatabaseUrl) -> anyhow::Result<AnyStore> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let (store, backup) = SqliteStore::open(path).await?;
            if let Some(backup) = backup {
                eprintln!("backed up {} to {} before migrating", path.display(), backup.display());
            }
            Ok(AnyStore::Sqlite(store))
        }
        DatabaseUrl::Postgres(secret) => Ok(AnyStore::Postgres(PgStore::connect(DatabaseUrl::postgres_url(secret)).await?)),
    }
}

/// Picks the database: `--database-url`, else `--data DIR`, else
/// `DATABASE_URL` / config, else the default embedded file.
fn database_url(db: &DbArgs, config: &FileConfig) -> Result<DatabaseUrl, CliError> {
    let text = match (&db.database_url, &db.data, &config.database_url) {
        (Some(url), _, _) => url.clone(),
        (None, Some(dir), _) => format!("sqlite://{}", dir.join("ketaclinic.db").display()),
        (None, None, Some(url)) => url.clone(),
        (None, None, None) => "sqlite://./ketaclinic-data/ketaclinic.db".to_string(),
    };
    DatabaseUrl::parse(&text).map_err(CliError::Usage)
}

fn data_files(config: &FileConfig) -> DataFiles {
    match &config.data_dir {
        Some(dir) => DataFiles::with_override_dir(dir.clone()),
        None => DataFiles::embedded(),
    }
}

/// The demo clinic's scheduling settings: 60-minute sessions from 09:00 (the
/// demo clinic's choice; the reference gives no session length).
fn demo_scheduling(config: &FileConfig) -> Result<clinic_service::scheduling::SchedulingSettings, CliError> {
    let mut scheduling = config.scheduling.clone();
    scheduling.session_minutes.get_or_insert(60);
    scheduling.preferred_start.get_or_insert_with(|| "09:00".into());
    scheduling.settings().map_err(CliError::Usage)
}

/// The demo clinic's relapse settings where its protocols leave them open —
/// choices of this fictitious clinic, not reference values — unless
/// `ketaclinic.toml` sets a protocol's.
fn demo_relapse(config: &FileConfig) -> Result<Vec<(String, clinic_domain::outcome::relapse::ClinicRelapseSettings)>, CliError> {
    let mut relapse = config.relapse.clone();
    let choice = |triggers: Option<&[&str]>, dropout: Option<bool>, index: &str| config::RelapseConfig {
        triggers: triggers.map(|t| t.iter().map(|x| (*x).to_string()).collect()),
        dropout_is_relapse: dropout,
        index_date: Some(index.into()),
        follow_up_end: Some("course_end".into()),
        set_by: Some("the demo clinic's choice (fictitious), not a reference value".into()),
    };
    for (protocol, settings) in [
        ("alcohol-kare-grabski2022", choice(Some(&["heavy_drinking_day", "unexplained_positive_test"]), Some(false), "first_infusion")),
        ("alcohol-met-dakwar2020", choice(Some(&["heavy_drinking_day_dakwar_2020"]), None, "last_infusion")),
        ("cocaine-mbrp-dakwar2019", choice(None, None, "first_infusion")),
        ("clinic-series-6", choice(Some(&["unexplained_positive_test", "consecutive_use_days:3"]), Some(false), "first_infusion")),
        ("opioid-clinic-moud-example", choice(Some(&["unexplained_positive_test", "consecutive_use_days:3"]), Some(false), "first_infusion")),
    ] {
        relapse.entry(protocol.to_string()).or_insert(settings);
    }
    let mut with_demo = config.clone();
    with_demo.relapse = relapse;
    config::relapse_settings(&with_demo).map_err(CliError::Usage)
}

/// The demo clinic's detection window for ketamine after its own infusions:
/// 4 days, the upper end of the reference's range ("~2–4 days", clinical.md
/// §4.1, UNVERIFIED) — the demo clinic's choice; norketamine ("longer", no
/// number) stays unset, so its positives after an infusion are undetermined.
fn demo_windows() -> clinic_domain::outcome::toxicology::DetectionWindows {
    clinic_domain::outcome::toxicology::DetectionWindows::shipped().with(clinic_domain::outcome::toxicology::Analyte::Ketamine, 4)
}

/// The demo clinic's diary reminder at 10:00 site time — the demo clinic's
/// own choice (the reference gives no time of day), unless `ketaclinic.toml` sets one.
fn demo_diary(config: &FileConfig) -> Result<clinic_service::outcomes::DiarySettings, CliError> {
    let mut diary = config.diary.clone();
    diary.reminder_time.get_or_insert_with(|| "10:00".into());
    diary.settings().map_err(CliError::Usage)
}

/// The demo clinic's order settings: its pumps step by 0.1 mL/h and it draws
/// stock with 0.1 mL graduations (the demo clinic's equipment, not reference values).
fn demo_orders(config: &FileConfig) -> Result<clinic_domain::order::OrderSettings, CliError> {
    let mut orders = config.orders.clone();
    orders.pump_step_ml_per_h.get_or_insert_with(|| "0.1".into());
    orders.syringe_step_ml.get_or_insert_with(|| "0.1".into());
    orders.settings().map_err(CliError::Usage)
}

/// The demo clinic's safety settings: its own hours and a fictitious on-call
/// clinician (settings a real clinic makes in `[safety]`), links to this server.
fn demo_safety(config: &FileConfig, local: SocketAddr) -> Result<clinic_service::screening::SafetySettings, CliError> {
    let mut safety = config.safety.clone();
    safety.open_days.get_or_insert_with(|| "mon-fri".into());
    safety.opens.get_or_insert_with(|| "08:00".into());
    safety.closes.get_or_insert_with(|| "18:00".into());
    safety.on_call_name.get_or_insert_with(|| "Dr. Sam Okafor (demo on-call)".into());
    safety.on_call_phone.get_or_insert_with(|| "555-010-0900".into());
    safety.after_hours_phone.get_or_insert_with(|| "555-010-0901".into());
    safety.public_url.get_or_insert_with(|| format!("http://{local}"));
    safety.settings().map_err(CliError::Usage)
}

macro_rules! with_store {
    ($store:expr, |$s:ident| $body:expr) => {
        match $store {
            AnyStore::Sqlite($s) => $body,
            AnyStore::Postgres($s) => $body,
        }
    };
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let config = FileConfig::load().map_err(|err| CliError::Usage(format!("ketaclinic.toml or KETACLINIC_*: {err}")))?;
    match cli.command {
        Command::Score(args) => score::run(&args, &data_files(&config)),
        Command::Dose(args) => dose::run(&args),
        Command::Stats { action } => stats::run(action),
        Command::Pk { action } => pk::run(action, &data_files(&config)),
        Command::Protocol { action } => protocol::run(action, &data_files(&config)),
        Command::Demo { port, data } => {
            init_tracing("pretty");
            let path = data.join("ketaclinic.db");
            let (store, _) = SqliteStore::open(&path).await?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
            let local = listener.local_addr().context("local address")?;
            let mut service = ServiceConfig::standard(DeploymentMode::Demo);
            service.safety = demo_safety(&config, local)?;
            service.scheduling = demo_scheduling(&config)?;
            service.orders = demo_orders(&config)?;
            service.ledger = config.ledger.settings().map_err(CliError::Usage)?;
            service.relapse = demo_relapse(&config)?;
            service.detection_windows = demo_windows();
            service.diary = demo_diary(&config)?;
            let clinic = Clinic::new(store.clone(), service, data_files(&config))?;
            let bar = progress_bar();
            let on_progress = |done: u64, total: u64| {
                if let Some(bar) = &bar {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            };
            let outcome = clinic.seed_demo(&on_progress).await?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            clinic.flush().await?;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ketaclinic demo is running at http://{local}/");
            let _ = writeln!(out, "database: {}", path.display());
            if let SeedOutcome::Seeded { n_users, n_patients, n_inquiries } = outcome {
                let _ = writeln!(out, "seeded a demo clinic: {n_users} staff accounts, {n_patients} synthetic patients, {n_inquiries} inquiries");
            }
            let names: Vec<&str> = DEMO_ACCOUNTS.iter().map(|(name, _, _)| *name).collect();
            let _ = writeln!(out, "staff accounts (password \"demo\"): {}", names.join(", "));
            let _ = writeln!(out, "sign in at http://{local}/login; press Ctrl+C to stop");
            let _ = out.flush();
            drop(out);
            serve_with(clinic, listener, &config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { database_url, bind } => {
            init_tracing(&config.log_format);
            let db = DbArgs { data: None, database_url };
            let url = database_url_for_serve(&db, &config)?;
            let bind = bind.unwrap_or_else(|| config.bind.clone());
            let addr: SocketAddr = bind.parse().map_err(|_| CliError::Usage(format!("bind: {bind:?} is not an address such as 127.0.0.1:8080")))?;
            let store = open_store(&url).await?;
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
            let local = listener.local_addr().context("local address")?;
            println!("ketaclinic listening on http://{local}/");
            with_store!(store, |s| {
                ensure_site(&s, &config).await?;
                let mut service = ServiceConfig::standard(DeploymentMode::Production);
                service.safety = config.safety.settings().map_err(CliError::Usage)?;
                service.scheduling = config.scheduling.settings().map_err(CliError::Usage)?;
                service.orders = config.orders.settings().map_err(CliError::Usage)?;
                service.ledger = config.ledger.settings().map_err(CliError::Usage)?;
                service.relapse = config::relapse_settings(&config).map_err(CliError::Usage)?;
                service.diary = config.diary.settings().map_err(CliError::Usage)?;
                let clinic = Clinic::new(s, service, data_files(&config))?;
                serve_with(clinic, listener, &config).await?;
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { db } => {
            let url = database_url(&db, &config)?;
            open_store(&url).await?;
            println!("{}", serde_json::json!({ "migrated": true }));
            Ok(ExitCode::SUCCESS)
        }
        Command::User { action, db } => {
            let store = open_store(&database_url(&db, &config)?).await?;
            with_store!(store, |s| user_command(Clinic::new(s, ServiceConfig::standard(DeploymentMode::Production), data_files(&config))?, action).await)
        }
        Command::Backup { dest, db } => {
            let store = open_store(&database_url(&db, &config)?).await?;
            match store {
                AnyStore::Sqlite(s) => {
                    if dest.exists() {
                        return Err(CliError::Usage(format!("dest: {} already exists; choose a new file name", dest.display())));
                    }
                    s.backup_to(&dest).await?;
                    let clinic = Clinic::new(s, ServiceConfig::standard(DeploymentMode::Production), data_files(&config))?;
                    record_backup(&clinic, &dest).await?;
                    println!("{}", serde_json::json!({ "backup": dest.display().to_string() }));
                    Ok(ExitCode::SUCCESS)
                }
                AnyStore::Postgres(_) => Err(CliError::Usage(
                    "dest: ketaclinic backup copies the embedded SQLite database; for PostgreSQL use pg_dump --format=custom --file=DEST DATABASE_URL (see docs/DATABASE.md)".into(),
                )),
            }
        }
        Command::Export { action: ExportAction::Cohort { protocol, out }, db } => {
            let store = open_store(&database_url(&db, &config)?).await?;
            with_store!(store, |s| {
                let mut service = ServiceConfig::standard(DeploymentMode::Production);
                // A database the demo seeded is read with the demo clinic's settings, as `demo` shows it.
                let seeded = s
                    .list_audit(&clinic_store::records::AuditFilter { action: Some("system.seed".into()), limit: 1, ..Default::default() })
                    .await
                    .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
                service.relapse = if seeded.items.is_empty() { config::relapse_settings(&config).map_err(CliError::Usage)? } else { demo_relapse(&config)? };
                if !seeded.items.is_empty() {
                    service.detection_windows = demo_windows();
                }
                let clinic = Clinic::new(s, service, data_files(&config))?;
                if let Some(p) = &protocol {
                    if clinic.protocols().get(p).is_none() {
                        let known: Vec<&str> = clinic.protocols().iter().map(|x| x.id()).collect();
                        return Err(CliError::Usage(format!("protocol: {p:?} is not one of {}", known.join(", "))));
                    }
                }
                let (rows, excluded) = clinic.cohort(&Actor::system_cli(), protocol.as_deref()).await?;
                clinic.flush().await?;
                let csv = clinic_service::relapse::cohort_csv(&rows);
                match &out {
                    Some(path) => {
                        std::fs::write(path, csv).map_err(|e| CliError::Usage(format!("out: cannot write {}: {e}", path.display())))?;
                        println!("{}", serde_json::json!({ "out": path.display().to_string(), "rows": rows.len(), "excluded": excluded.len() }));
                    }
                    None => print!("{csv}"),
                }
                for e in &excluded {
                    eprintln!("left out {} ({}): {}", e.pseudonym, e.arm, e.reason);
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Audit { action: AuditAction::Verify, db } => {
            let store = open_store(&database_url(&db, &config)?).await?;
            with_store!(store, |s| {
                let clinic = Clinic::new(s, ServiceConfig::standard(DeploymentMode::Production), data_files(&config))?;
                match clinic.verify_audit().await {
                    Ok(report) => {
                        println!("{}", serde_json::json!({ "intact": true, "sealed_events": report.n_sealed, "unsealed_waiting": report.unsealed_waiting }));
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(clinic_store::verify::VerifyError::Store(err)) => Err(CliError::Failed(anyhow::Error::new(err))),
                    Err(err) => {
                        println!("{}", serde_json::json!({ "intact": false, "problem": err.to_string() }));
                        eprintln!("audit chain broken: {err}");
                        Ok(ExitCode::from(1))
                    }
                }
            })
        }
    }
}

/// `serve` reads `DATABASE_URL` and the config file; `--database-url` wins.
fn database_url_for_serve(db: &DbArgs, config: &FileConfig) -> Result<DatabaseUrl, CliError> {
    database_url(db, config)
}

/// Creates the first site from the configuration when the database has none.
async fn ensure_site<S: Store>(store: &S, config: &FileConfig) -> Result<(), CliError> {
    let site = &config.site;
    if site.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(CliError::Usage(format!("site.time_zone: {:?} is not an IANA time zone such as America/New_York", site.time_zone)));
    }
    let record = clinic_store::records::Site {
        id: uuid::Uuid::now_v7(),
        name: site.name.clone(),
        time_zone: site.time_zone.clone(),
        phone: site.phone.clone(),
        address: site.address.clone(),
        hours: site.hours.clone(),
        created_at: clinic_service::now(),
    };
    store.ensure_site(&record).await.map_err(|err| CliError::Failed(anyhow::Error::new(err)))?;
    Ok(())
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("seeding demo patients {bar:30} {pos}/{len}") {
        bar.set_style(style);
    }
    Some(bar)
}

async fn record_backup<S: Store>(clinic: &Clinic<S>, dest: &std::path::Path) -> Result<(), CliError> {
    use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
    let event = AuditEvent::new(
        uuid::Uuid::now_v7(),
        chrono::Utc::now(),
        &Actor::system_cli(),
        AuditAction::Backup,
        AuditTarget::none("database"),
        Outcome::Success,
        Some(serde_json::json!({ "dest": dest.display().to_string() }).to_string()),
    );
    clinic.audit_writer().record(vec![event]).await?;
    clinic.flush().await?;
    Ok(())
}

async fn serve_with<S: Store>(clinic: Clinic<S>, listener: tokio::net::TcpListener, config: &FileConfig) -> Result<(), CliError> {
    let http_config = clinic_http::HttpConfig { force_secure_cookies: config.force_secure_cookies };
    let app = clinic_http::app(clinic.clone(), http_config);
    let sealer = clinic_service::sealer::spawn(clinic.store().clone(), clinic.config().sealer_interval);
    // The demo logs messages instead of sending them; a clinic plugs in its
    // SMS and email adapters here. Without one, messages wait in the outbox.
    let delivery = (clinic.config().mode == DeploymentMode::Demo).then(|| {
        clinic_service::outbox::spawn(clinic.store().clone(), std::sync::Arc::new(clinic_service::outbox::LogDelivery), std::time::Duration::from_secs(2))
    });
    if delivery.is_none() {
        tracing::warn!("no message delivery adapter configured: messages to patients wait in the outbox (needs clinic setting)");
    }
    // Day-before reminders go to the outbox; checked every 10 minutes.
    let reminders = clinic_service::scheduling::spawn_reminders(clinic.clone(), std::time::Duration::from_secs(600));
    let diary_reminders = clinic_service::outcomes::spawn_diary_reminders(clinic.clone(), std::time::Duration::from_secs(600));
    // Derived outcome summaries from an earlier day are recomputed in the background.
    let outcome_refresh = clinic_service::analytics::spawn_outcome_refresh(clinic.clone(), std::time::Duration::from_secs(600));
    axum::serve(listener, app.router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    // In-flight requests have finished; write and seal what they audited.
    sealer.abort();
    reminders.abort();
    diary_reminders.abort();
    outcome_refresh.abort();
    if let Some(delivery) = delivery {
        delivery.abort();
    }
    clinic.flush().await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

fn read_password() -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(CliError::Usage("password: give the password on standard input".into()));
    }
    Ok(password)
}

async fn user_command<S: Store>(clinic: Clinic<S>, action: UserAction) -> Result<ExitCode, CliError> {
    let actor = Actor::system_cli();
    let res = match action {
        UserAction::Add { username, role, name } => {
            let role = Role::parse(&role).map_err(CliError::from_field_errors)?;
            let password = read_password()?;
            let user = clinic.add_user(&actor, &username, &name, role, &password).await?;
            println!("{}", serde_json::json!({ "id": user.id, "username": user.username, "role": user.role.as_str() }));
            ExitCode::SUCCESS
        }
        UserAction::List => {
            let users: Vec<serde_json::Value> = clinic
                .list_users()
                .await?
                .iter()
                .map(|u| serde_json::json!({ "id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role.as_str(), "disabled": u.disabled }))
                .collect();
            println!("{}", serde_json::Value::Array(users));
            ExitCode::SUCCESS
        }
        UserAction::Disable { username } => {
            let user = clinic.disable_user(&actor, &username).await?;
            println!("{}", serde_json::json!({ "username": user.username, "disabled": user.disabled }));
            ExitCode::SUCCESS
        }
        UserAction::ResetPassword { username } => {
            let password = read_password()?;
            clinic.reset_password(&actor, &username, &password).await?;
            println!("{}", serde_json::json!({ "username": username, "password_reset": true }));
            ExitCode::SUCCESS
        }
    };
    clinic.flush().await?;
    Ok(res)
}

impl CliError {
    fn from_field_errors(errors: clinic_domain::field::FieldErrors) -> CliError {
        CliError::from(clinic_service::error::ServiceError::Invalid(errors))
    }
}
