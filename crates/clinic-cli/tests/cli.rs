//! The `ketaclinic` binary as an operator and a server: exit codes, user
//! commands, audit verification and tampering, backups, graceful shutdown,
//! and a crash (`kill -9`) under concurrent writers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ketaclinic");
const PASSWORD: &str = "Crash-test-passphrase-7";

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ketaclinic-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("ketaclinic.db").display())
}

/// Runs the binary with `stdin` as standard input, in `dir` (so no
/// ketaclinic.toml of the developer's is picked up).
fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
fn assert_usage_error(output: &Output, fragment: &str) {
    assert_eq!(output.status.code(), Some(2), "stdout {} stderr {}", stdout(output), stderr(output));
    let err = stderr(output);
    assert_eq!(err.trim_end().lines().count(), 1, "one line on stderr, got {err:?}");
    assert!(err.contains(fragment), "{err:?} should mention {fragment:?}");
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_field() {
    let dir = temp_dir();
    let url = sqlite_url(&dir);
    assert_usage_error(&run(&dir, &["user", "add", "ann", "--role", "wizard", "--name", "Ann", "--database-url", &url], PASSWORD), "role: must be one of: admin, director");
    assert_usage_error(&run(&dir, &["user", "add", "ann", "--role", "nurse", "--name", "Ann", "--database-url", &url], "short\n"), "password: must be at least 12");
    assert_usage_error(&run(&dir, &["user", "add", "ann", "--role", "nurse", "--name", "Ann", "--database-url", &url], "password1234\n"), "password: is too common");
    assert_usage_error(&run(&dir, &["user", "add", "Bad Name!", "--role", "nurse", "--name", "Ann", "--database-url", &url], PASSWORD), "username: must be");
    assert_usage_error(&run(&dir, &["migrate", "--database-url", "mysql://localhost/x"], ""), "database_url: must start with sqlite:// or postgres://");
    assert_usage_error(&run(&dir, &["serve", "--database-url", &url, "--bind", "not-an-address"], ""), "bind:");
    assert_usage_error(&run(&dir, &["frobnicate"], ""), "frobnicate");
    assert_usage_error(&run(&dir, &["user", "disable", "nobody", "--database-url", &url], ""), "user: not found");
}

fn user_add(dir: &Path, url: &str, username: &str, role: &str) -> Output {
    run(dir, &["user", "add", username, "--role", role, "--name", &format!("Test {username}"), "--database-url", url], &format!("{PASSWORD}\n"))
}

#[test]
fn user_commands_manage_accounts_and_are_audited() {
    let dir = temp_dir();
    let url = sqlite_url(&dir);
    let added = user_add(&dir, &url, "Nurse.Ann", "nurse");
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let json: serde_json::Value = serde_json::from_str(&stdout(&added)).unwrap();
    assert_eq!(json["username"], "nurse.ann");
    assert_usage_error(&user_add(&dir, &url, "nurse.ann", "nurse"), "already taken");
    assert_eq!(user_add(&dir, &url, "admin", "admin").status.code(), Some(0));

    let list = run(&dir, &["user", "list", "--database-url", &url], "");
    let users: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    let names: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "nurse.ann"]);

    let reset = run(&dir, &["user", "reset-password", "nurse.ann", "--database-url", &url], "Another-long-passphrase\n");
    assert_eq!(reset.status.code(), Some(0), "{}", stderr(&reset));
    let disable = run(&dir, &["user", "disable", "nurse.ann", "--database-url", &url], "");
    assert_eq!(disable.status.code(), Some(0), "{}", stderr(&disable));
    let list = run(&dir, &["user", "list", "--data", dir.to_str().unwrap()], "");
    assert!(stdout(&list).contains("\"disabled\":true"));

    let verify = run(&dir, &["audit", "verify", "--database-url", &url], "");
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    let report: serde_json::Value = serde_json::from_str(&stdout(&verify)).unwrap();
    assert_eq!(report["intact"], true);
    assert_eq!(report["sealed_events"], 4, "two adds, a reset and a disable: {report}");
    assert_eq!(report["unsealed_waiting"], false);
}

async fn tamper_and_verify(dir: &Path, url: &str, drop_trigger: &str, tamper: &str) {
    for (username, role) in [("admin", "admin"), ("nurse", "nurse"), ("counselor", "counselor")] {
        let out = user_add(dir, url, username, role);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let verify = run(dir, &["audit", "verify", "--database-url", url], "");
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));

    // Edit the second event with raw SQL, dropping the append-only trigger first.
    let victim = {
        use sqlx::Connection;
        if url.starts_with("sqlite") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            let id: uuid::Uuid = sqlx::query_scalar("SELECT event_id FROM audit_chain WHERE seq = 2").fetch_one(&mut conn).await.unwrap();
            sqlx::query(drop_trigger).execute(&mut conn).await.unwrap();
            sqlx::query(tamper).bind(id).execute(&mut conn).await.unwrap();
            id
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let id: uuid::Uuid = sqlx::query_scalar("SELECT event_id FROM audit_chain WHERE seq = 2").fetch_one(&mut conn).await.unwrap();
            sqlx::query(drop_trigger).execute(&mut conn).await.unwrap();
            sqlx::query(tamper).bind(id).execute(&mut conn).await.unwrap();
            id
        }
    };
    let verify = run(dir, &["audit", "verify", "--database-url", url], "");
    assert_eq!(verify.status.code(), Some(1), "{}", stdout(&verify));
    let err = stderr(&verify);
    assert!(err.contains(&victim.to_string()), "the first bad event is named: {err}");
    assert!(err.contains("position 2"), "{err}");
}

#[tokio::test]
async fn audit_verify_names_an_event_edited_with_raw_sql_on_sqlite() {
    let dir = temp_dir();
    tamper_and_verify(&dir, &sqlite_url(&dir), "DROP TRIGGER audit_events_no_update", "UPDATE audit_events SET outcome = 'denied' WHERE id = $1").await;
}

#[tokio::test]
async fn audit_verify_names_an_event_edited_with_raw_sql_on_postgres() {
    let Some(url) = clinic_store_postgres::testing::fresh_database_url().await.unwrap() else { return };
    let dir = temp_dir();
    tamper_and_verify(&dir, &url, "DROP TRIGGER audit_events_no_update ON audit_events", "UPDATE audit_events SET actor = 'someone-else' WHERE id = $1").await;
}

/// A running `ketaclinic serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(dir: &Path, url: &str) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--database-url", url, "--bind", "127.0.0.1:0"])
            .current_dir(dir)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("the server prints its address").unwrap();
        let base = line.trim_start_matches("ketaclinic listening on ").trim_end_matches('/').to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{line}");
        Server { child, base }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn login(client: &reqwest::Client, base: &str, username: &str) -> String {
    let res = client.post(format!("{base}/api/v1/auth/login")).json(&serde_json::json!({"username": username, "password": PASSWORD})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

async fn crash_during_concurrent_writes(dir: &Path, url: &str) {
    assert_eq!(user_add(dir, url, "frontdesk", "frontdesk").status.code(), Some(0));
    let server = Server::start(dir, url);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let token = login(&client, &server.base, "frontdesk").await;

    // Eight writers as fast as they can, half registering patients and half
    // recording phone inquiries; the server is killed mid-stream.
    let mut writers = Vec::new();
    for writer in 0..8 {
        let client = client.clone();
        let base = server.base.clone();
        let token = token.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let (path, body) = if writer % 2 == 0 {
                    ("patients", serde_json::json!({
                        "given_name": format!("W{writer}"), "family_name": format!("N{n}"),
                        "date_of_birth": format!("19{:02}-01-01", 50 + (n % 40)), "phone": format!("555-01{writer}-{:04}", n),
                        "substances": ["alcohol"]
                    }))
                } else {
                    ("inquiries", serde_json::json!({
                        "name": format!("Caller {writer} {n}"), "phone": format!("555-02{writer}-{:04}", n), "consent_to_contact": true
                    }))
                };
                match client.post(format!("{base}/api/v1/{path}")).bearer_auth(&token).json(&body).send().await {
                    Ok(res) if res.status().is_success() => {
                        let json: serde_json::Value = match res.json().await {
                            Ok(json) => json,
                            Err(_) => break,
                        };
                        acknowledged.push((path, json["id"].as_str().unwrap_or_default().to_string()));
                    }
                    Ok(res) => panic!("writer {writer}: unexpected {}", res.status()),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL: no chance to flush anything.
    server.child.wait().unwrap();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(acknowledged.len() >= 8, "the writers got some writes in before the crash: {}", acknowledged.len());
    drop(server);

    // Restart: every acknowledged patient and inquiry is there, with its audit event.
    let server = Server::start(dir, url);
    let token = login(&client, &server.base, "frontdesk").await;
    for (path, id) in &acknowledged {
        let res = client.get(format!("{}/api/v1/{path}/{id}", server.base)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200, "acknowledged {path} {id} was lost");
    }
    let admin_out = user_add(dir, url, "auditor", "admin");
    assert_eq!(admin_out.status.code(), Some(0));
    let admin = login(&client, &server.base, "auditor").await;
    let mut audited = std::collections::HashSet::new();
    for action in ["patient.create", "inquiry.create"] {
        let mut cursor = String::new();
        loop {
            let page: serde_json::Value = client
                .get(format!("{}/api/v1/audit?action={action}&limit=500&cursor={cursor}", server.base))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for event in page["items"].as_array().unwrap() {
                audited.insert(event["resource_id"].as_str().unwrap_or_default().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => break,
            }
        }
    }
    for (path, id) in &acknowledged {
        assert!(audited.contains(id), "{path} {id} has no create audit event");
    }
    // The restarted server's sealer links what the killed one left unsealed.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let verify = run(dir, &["audit", "verify", "--database-url", url], "");
        if verify.status.code() == Some(0) && stdout(&verify).contains("\"unsealed_waiting\":false") {
            break;
        }
        assert!(Instant::now() < deadline, "the chain did not verify after restart: {} {}", stdout(&verify), stderr(&verify));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let n_inquiries = acknowledged.iter().filter(|(path, _)| *path == "inquiries").count();
    assert!(n_inquiries > 0 && n_inquiries < acknowledged.len(), "both kinds of write were acknowledged");
    eprintln!(
        "crash test: {} acknowledged writes ({} patients, {n_inquiries} inquiries) survived kill -9",
        acknowledged.len(),
        acknowledged.len() - n_inquiries
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_sqlite() {
    let dir = temp_dir();
    crash_during_concurrent_writes(&dir, &sqlite_url(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_postgres() {
    let Some(url) = clinic_store_postgres::testing::fresh_database_url().await.unwrap() else { return };
    crash_during_concurrent_writes(&temp_dir(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_and_seals_the_audit_trail() {
    let dir = temp_dir();
    let url = sqlite_url(&dir);
    assert_eq!(user_add(&dir, &url, "nurse", "nurse").status.code(), Some(0));
    let mut server = Server::start(&dir, &url);
    let client = reqwest::Client::new();
    let token = login(&client, &server.base, "nurse").await;
    let res = client.get(format!("{}/api/v1/patients", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // A backup while the server runs is a consistent, openable copy.
    let dest = dir.join("backup.db");
    let backup = run(&dir, &["backup", dest.to_str().unwrap(), "--database-url", &url], "");
    assert_eq!(backup.status.code(), Some(0), "{}", stderr(&backup));
    assert_usage_error(&run(&dir, &["backup", dest.to_str().unwrap(), "--database-url", &url], ""), "already exists");
    let list = run(&dir, &["user", "list", "--database-url", &format!("sqlite://{}", dest.display())], "");
    assert!(stdout(&list).contains("\"username\":\"nurse\""), "{}", stdout(&list));

    let status = Command::new("kill").args(["-TERM", &server.pid()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit:?}");
    let verify = run(&dir, &["audit", "verify", "--database-url", &url], "");
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    assert!(stdout(&verify).contains("\"unsealed_waiting\":false"), "everything was sealed on shutdown: {}", stdout(&verify));
}

#[test]
fn export_cohort_writes_the_csv_contract_and_refuses_an_unknown_protocol() {
    let dir = temp_dir();
    let url = sqlite_url(&dir);
    assert!(run(&dir, &["migrate", "--database-url", &url], "").status.success());
    // No patient yet: the header of DESIGN.md's contract, nothing else.
    let out = run(&dir, &["export", "cohort", "--database-url", &url], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "patient_id,arm,days,relapsed\n");
    let file = dir.join("cohort.csv");
    let out = run(&dir, &["export", "cohort", "--protocol", "cocaine-mbrp-dakwar2019", "--out", file.to_str().unwrap(), "--database-url", &url], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((summary["rows"].as_u64(), summary["excluded"].as_u64()), (Some(0), Some(0)));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "patient_id,arm,days,relapsed\n");
    assert_usage_error(&run(&dir, &["export", "cohort", "--protocol", "nope", "--database-url", &url], ""), "protocol: \"nope\" is not one of");
    // A relapse setting that is not one of the allowed values is refused naming it.
    std::fs::write(dir.join("ketaclinic.toml"), "[relapse.\"clinic-series-6\"]\nindex_date = \"yesterday\"\n").unwrap();
    assert_usage_error(&run(&dir, &["export", "cohort", "--database-url", &url], ""), "relapse.clinic-series-6.index_date: \"yesterday\" is not one of");
}

/// `export cohort` on the demo's data: the demo clinic's own relapse
/// settings apply to a database the demo seeded, so the patients with
/// infusions behind them come out — the two early patients (one relapsed,
/// one followed without a confirmed relapse) and the 24 of the past cohort
/// (11 relapsed, 13 censored) — and the rest, whose courses have not
/// started, are left out, each named on stderr.
#[test]
fn export_cohort_on_the_demo_data() {
    let dir = temp_dir();
    let data = dir.join("data");
    let mut demo = Command::new(BIN)
        .args(["demo", "--port", "0", "--data", data.to_str().unwrap()])
        .current_dir(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let running = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("ketaclinic demo is running at"))).is_some();
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(running, "the demo started and seeded");
    let out = run(&dir, &["export", "cohort", "--data", data.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "patient_id,arm,days,relapsed");
    assert_eq!(rows.len(), 1 + 26, "{csv}");
    let relapsed: Vec<&str> = rows[1..].iter().map(|r| r.rsplit(',').next().unwrap()).collect();
    assert_eq!(relapsed.iter().filter(|r| **r == "1").count(), 12, "{csv}");
    // Every protocol has rows, with relapses and censored follow-up.
    for arm in ["alcohol-kare-grabski2022", "alcohol-met-dakwar2020", "cocaine-mbrp-dakwar2019", "clinic-series-6", "opioid-clinic-moud-example"] {
        let of: Vec<&&str> = rows[1..].iter().filter(|r| r.split(',').nth(1) == Some(arm)).collect();
        assert!(of.iter().any(|r| r.ends_with(",1")) && of.iter().any(|r| r.ends_with(",0")), "{arm}: {csv}");
    }
    assert!(rows[1..].iter().all(|r| r.starts_with('P') && r.split(',').count() == 4), "pseudonymous ids: {csv}");
    let left_out = stderr(&out);
    assert!(left_out.lines().count() >= 8 && left_out.lines().all(|l| l.starts_with("left out P")), "{left_out}");
    // The same CSV feeds the survival engine.
    let file = dir.join("cohort.csv");
    std::fs::write(&file, &csv).unwrap();
    let stats = run(&dir, &["stats", "survival", "--csv", file.to_str().unwrap()], "");
    assert!(stats.status.success(), "{}", stderr(&stats));
    let report: serde_json::Value = serde_json::from_str(&stdout(&stats)).unwrap();
    assert!(report.is_object(), "{report}");
}
