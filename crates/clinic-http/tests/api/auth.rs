//! Sign-in, throttling, sessions, cookies and CSRF.

use axum::http::StatusCode;
use clinic_service::{DeploymentMode, ServiceConfig};
use clinic_store::records::AuditFilter;
use clinic_store::Store;

use crate::helpers::{req, spawn_app, spawn_app_with, PASSWORD};

crate::backend_tests!(
    api_login_gives_a_token_and_bad_credentials_get_401,
    repeated_failures_are_throttled_per_account,
    repeated_failures_are_throttled_per_client_address,
    demo_password_never_signs_in_under_serve,
    idle_sessions_expire,
    logout_ends_the_session,
    browser_sign_in_uses_a_strict_httponly_cookie_and_csrf,
    database_down_answers_503,
);

async fn api_login_gives_a_token_and_bad_credentials_get_401<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let res = app.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": "Nurse", "password": PASSWORD}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let body = res.json();
    assert_eq!(body["token"].as_str().unwrap().len(), 64);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let me = app.send(req("GET", "/api/v1/me").token(body["token"].as_str().unwrap())).await;
    assert_eq!(me.json()["role"], "nurse");
    assert!(me.json()["permissions"].as_array().unwrap().iter().any(|p| p == "patient_read"));

    for (username, password) in [("nurse", "wrong password!"), ("nobody", PASSWORD)] {
        let res = app.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": username, "password": password}))).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.header("content-type").as_deref(), Some("application/problem+json"));
        assert_eq!(res.json()["code"], "bad_credentials");
    }
    let res = app.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": "nurse"}))).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.problem_fields(), ["password"]);

    let actions: Vec<(String, String)> = app
        .audit_events(AuditFilter::default())
        .await
        .into_iter()
        .filter(|e| e.action.starts_with("auth.login"))
        .map(|e| (e.action, e.actor))
        .collect();
    assert_eq!(
        actions,
        [("auth.login_failed".into(), "nobody".into()), ("auth.login_failed".into(), "nurse".into()), ("auth.login".into(), "nurse".into())]
    );
}

async fn repeated_failures_are_throttled_per_account<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let attempt = |password: &'static str| req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": "nurse", "password": password}));
    for _ in 0..5 {
        assert_eq!(app.send(attempt("wrong password!")).await.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused while the account is throttled.
    let res = app.send(attempt(PASSWORD)).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text);
    assert_eq!(res.json()["code"], "throttled");
    assert!(res.header("retry-after").unwrap().parse::<i64>().unwrap() > 0);
    // Another account from the same address is not locked out by these five.
    let other = app.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": "physician", "password": PASSWORD}))).await;
    assert_eq!(other.status, StatusCode::OK);
    let denied = app.audit_events(AuditFilter { action: Some("auth.login_failed".into()), ..Default::default() }).await;
    assert_eq!(denied.iter().filter(|e| e.outcome == "denied").count(), 1);
}

async fn repeated_failures_are_throttled_per_client_address<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    // Twenty failures spread over many usernames, four per name (below the per-account limit).
    for idx in 0..20 {
        let username = format!("guess{}", idx / 4);
        let res = app.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": username, "password": "not it at all"}))).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {idx}");
    }
    // The address is now throttled, whatever account it tries.
    let res = app.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": "nurse", "password": PASSWORD}))).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text);
}

async fn demo_password_never_signs_in_under_serve<S: Store>(store: S) {
    // The demo seeder gives accounts the password "demo"; a production server refuses it.
    let clinic = clinic_service::Clinic::new(store.clone(), ServiceConfig::standard(DeploymentMode::Demo), clinic_service::data::DataFiles::embedded()).unwrap();
    clinic.seed_demo(&|_, _| {}).await.unwrap();
    clinic.flush().await.unwrap();
    let production = clinic_service::Clinic::new(store, ServiceConfig::standard(DeploymentMode::Production), clinic_service::data::DataFiles::embedded()).unwrap();
    let app = clinic_http::app(production, clinic_http::HttpConfig { force_secure_cookies: false });
    let demo_app = crate::helpers::TestApp { router: app.router, routes: app.routes, clinic };
    let res = demo_app.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({"username": "admin", "password": "demo"}))).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text);
}

async fn idle_sessions_expire<S: Store>(store: S) {
    let mut config = ServiceConfig::standard(DeploymentMode::Production);
    config.session.idle_timeout = chrono::Duration::seconds(1);
    let app = spawn_app_with(store, config).await;
    let token = app.login("nurse").await;
    assert_eq!(app.send(req("GET", "/api/v1/me").token(&token)).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = app.send(req("GET", "/api/v1/me").token(&token)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["code"], "unauthenticated");
}

async fn logout_ends_the_session<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let token = app.login("counselor").await;
    assert_eq!(app.send(req("POST", "/api/v1/auth/logout").token(&token)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.send(req("GET", "/api/v1/me").token(&token)).await.status, StatusCode::UNAUTHORIZED);
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

async fn browser_sign_in_uses_a_strict_httponly_cookie_and_csrf<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let form = app.send(req("GET", "/login")).await;
    assert_eq!(form.status, StatusCode::OK);
    let login_cookie = cookie_value(&form.header("set-cookie").unwrap());
    let csrf = login_cookie.split('=').nth(1).unwrap().to_string();
    assert!(form.text.contains(&csrf));

    // Without the form's token the sign-in is refused.
    let bad = app
        .send(req("POST", "/login").raw(&format!("username=nurse&password={PASSWORD}&csrf=forged"), "application/x-www-form-urlencoded").header("cookie", &login_cookie))
        .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);

    let body = format!("username=nurse&password={}&csrf={csrf}&next=%2Fpatients", PASSWORD.replace('!', "%21"));
    let ok = app.send(req("POST", "/login").raw(&body, "application/x-www-form-urlencoded").header("cookie", &login_cookie)).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert_eq!(ok.header("location").as_deref(), Some("/patients"));
    let set_cookies: Vec<String> = ok.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let session = set_cookies.iter().find(|c| c.starts_with("kc_session=")).expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP without a TLS proxy: {session}");
    let session_cookie = cookie_value(session);

    let page = app.send(req("GET", "/patients").header("cookie", &session_cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf_field = "name=\"csrf\" value=\"";
    let start = page.text.find(csrf_field).unwrap() + csrf_field.len();
    let session_csrf = &page.text[start..start + 64];

    // A cookie-signed change without the session's CSRF token is refused.
    let forged = app.send(req("POST", "/logout").header("cookie", &session_cookie)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let logout = app
        .send(req("POST", "/logout").raw(&format!("csrf={session_csrf}"), "application/x-www-form-urlencoded").header("cookie", &session_cookie))
        .await;
    assert_eq!(logout.status, StatusCode::SEE_OTHER);
    let after = app.send(req("GET", "/patients").header("cookie", &session_cookie)).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.header("location").unwrap().starts_with("/login"));

    // Behind a TLS proxy the cookie is Secure.
    let form = app.send(req("GET", "/login").header("x-forwarded-proto", "https")).await;
    assert!(form.header("set-cookie").unwrap().contains("Secure"));
}

async fn database_down_answers_503<S: Store>(store: S) {
    let app = spawn_app(store, DeploymentMode::Production).await;
    let token = app.login("nurse").await;
    close_store(app.clinic.store()).await;
    let res = app.send(req("GET", "/api/v1/patients").token(&token)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    assert_eq!(res.json()["code"], "unavailable");
}

async fn close_store<S: Store>(store: &S) {
    // Both backends are closed through their pool; the trait has no close, so go by type.
    let any: &dyn std::any::Any = store;
    if let Some(sqlite) = any.downcast_ref::<clinic_store_sqlite::SqliteStore>() {
        sqlite.close().await;
    } else if let Some(pg) = any.downcast_ref::<clinic_store_postgres::PgStore>() {
        pg.close().await;
    } else {
        panic!("unknown store type");
    }
}
