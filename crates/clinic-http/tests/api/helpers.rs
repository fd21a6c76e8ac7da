//! `TestApp`: the real router over a fresh database, called in-process.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use clinic_domain::audit::Actor;
use clinic_domain::user::Role;
use clinic_http::routes::RouteSpec;
use clinic_http::{app, HttpConfig};
use clinic_service::data::DataFiles;
use clinic_service::{Clinic, DeploymentMode, ServiceConfig};
use clinic_store::records::AuditFilter;
use clinic_store::Store;
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const PASSWORD: &str = "Test-passphrase-2026!";

pub struct TestApp<S: Store> {
    pub router: Router,
    pub routes: Vec<RouteSpec>,
    pub clinic: Clinic<S>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// The `field` names of a problem+json body.
    pub fn problem_fields(&self) -> Vec<String> {
        let json = self.json();
        json["errors"].as_array().unwrap_or(&Vec::new()).iter().map(|e| e["field"].as_str().unwrap_or("").to_string()).collect()
    }
}

pub async fn spawn_app<S: Store>(store: S, mode: DeploymentMode) -> TestApp<S> {
    spawn_app_with(store, ServiceConfig::standard(mode)).await
}

pub async fn spawn_app_with<S: Store>(store: S, config: ServiceConfig) -> TestApp<S> {
    store.ensure_site(&clinic_service::seed::demo_site()).await.unwrap();
    let clinic = Clinic::new(store, config, DataFiles::embedded()).unwrap();
    for role in Role::ALL {
        clinic.add_user(&Actor::system_cli(), role.as_str(), &format!("Test {}", role.as_str()), role, PASSWORD).await.unwrap();
    }
    let app = app(clinic.clone(), HttpConfig { force_secure_cookies: false });
    TestApp { router: app.router, routes: app.routes, clinic }
}

pub struct Req {
    pub method: Method,
    pub uri: String,
    pub token: Option<String>,
    pub body: Option<(String, &'static str)>,
    pub headers: Vec<(String, String)>,
}

pub fn req(method: &str, uri: &str) -> Req {
    Req { method: Method::from_bytes(method.as_bytes()).unwrap(), uri: uri.to_string(), token: None, body: None, headers: Vec::new() }
}

impl Req {
    pub fn token(mut self, token: &str) -> Req {
        self.token = Some(token.to_string());
        self
    }

    pub fn json(mut self, value: serde_json::Value) -> Req {
        self.body = Some((value.to_string(), "application/json"));
        self
    }

    pub fn raw(mut self, body: &str, content_type: &'static str) -> Req {
        self.body = Some((body.to_string(), content_type));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

impl<S: Store> TestApp<S> {
    pub async fn send(&self, r: Req) -> TestResponse {
        let mut builder = Request::builder().method(r.method).uri(&r.uri);
        if let Some(token) = &r.token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in &r.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = match r.body {
            Some((text, content_type)) => {
                builder = builder.header(header::CONTENT_TYPE, content_type);
                Body::from(text)
            }
            None => Body::empty(),
        };
        let mut request = builder.body(body).unwrap();
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let res = self.router.clone().oneshot(request).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        TestResponse { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn login(&self, username: &str) -> String {
        let res = self.send(req("POST", "/api/v1/auth/login").json(serde_json::json!({ "username": username, "password": PASSWORD }))).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.json()["token"].as_str().unwrap().to_string()
    }

    pub async fn create_patient(&self, token: &str, body: serde_json::Value) -> serde_json::Value {
        let res = self.send(req("POST", "/api/v1/patients").token(token).json(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.json()
    }

    /// Audit events (newest first) after everything pending has been written.
    /// Every audit event the filter matches, newest first (all pages of the store's 500).
    pub async fn audit_events(&self, filter: AuditFilter) -> Vec<clinic_domain::audit::AuditEvent> {
        self.clinic.audit_writer().flush().await.unwrap();
        let mut all = Vec::new();
        let mut before_id = None;
        loop {
            let page = self.clinic.store().list_audit(&AuditFilter { limit: 500, before_id, ..filter.clone() }).await.unwrap().items;
            let full = page.len() == 500;
            before_id = page.last().map(|e| e.id);
            all.extend(page);
            if !full {
                return all;
            }
        }
    }
}

/// Runs each named test (an `async fn name<S: Store>(app: TestApp<S>)`) on a
/// fresh SQLite file and a fresh PostgreSQL database.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = $crate::helpers::fresh_sqlite().await;
                    super::$name(store).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = $crate::helpers::fresh_postgres().await {
                        super::$name(store).await;
                    }
                }
            )+
        }
    };
}

pub async fn fresh_sqlite() -> clinic_store_sqlite::SqliteStore {
    let dir = std::env::temp_dir().join(format!("ketaclinic-http-{}", uuid::Uuid::now_v7()));
    clinic_store_sqlite::SqliteStore::open(&dir.join("ketaclinic.db")).await.unwrap().0
}

pub async fn fresh_postgres() -> Option<clinic_store_postgres::PgStore> {
    let options = clinic_store_postgres::testing::fresh_database().await.unwrap()?;
    Some(clinic_store_postgres::PgStore::connect_with(options).await.unwrap())
}

pub fn patient_body(given: &str, family: &str, dob: &str) -> serde_json::Value {
    serde_json::json!({ "given_name": given, "family_name": family, "date_of_birth": dob, "substances": ["alcohol"] })
}

/// The content type of an HTML form post.
pub const FORM: &str = "application/x-www-form-urlencoded";
