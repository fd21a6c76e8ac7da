//! Conventions every response follows: OpenAPI coverage, security headers, pages.

use axum::http::StatusCode;
use clinic_http::routes::Kind;
use clinic_service::DeploymentMode;

use crate::helpers::{fresh_sqlite, req, spawn_app};

#[tokio::test]
async fn openapi_describes_every_api_route() {
    let app = spawn_app(fresh_sqlite().await, DeploymentMode::Production).await;
    let res = app.send(req("GET", "/api/v1/openapi.json")).await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = res.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut n_api = 0;
    for route in app.routes.iter().filter(|r| r.kind == Kind::Api) {
        assert!(route.path.starts_with("/api/v1/"), "{} is an API route outside /api/v1", route.path);
        let operation = &doc["paths"][route.path][route.method.to_lowercase()];
        assert!(operation.is_object(), "{} {} missing from the OpenAPI document", route.method, route.path);
        assert_eq!(operation["summary"], route.summary);
        n_api += 1;
    }
    let n_documented: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(n_documented, n_api);
    // Schemas are referenced, and the ones referenced exist.
    let patient = &doc["paths"]["/api/v1/patients"]["post"];
    let reference = patient["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().unwrap();
    let name = reference.rsplit('/').next().unwrap();
    let schema = &doc["components"]["schemas"][name];
    assert!(schema["properties"]["given_name"].is_object(), "{schema}");
    assert_eq!(patient["x-permission"], "patient_create");
    assert_eq!(doc["paths"]["/api/v1/patients/{id}"]["patch"]["parameters"][1]["name"], "If-Match");
}

#[tokio::test]
async fn pages_carry_security_headers_and_no_inline_script() {
    let app = spawn_app(fresh_sqlite().await, DeploymentMode::Production).await;
    let token = app.login("frontdesk").await;
    for (uri, token) in [("/", None), ("/login", None), ("/home", Some(&token)), ("/patients", Some(&token)), ("/patients/new", Some(&token)), ("/no-such-page", None)] {
        let mut r = req("GET", uri);
        if let Some(token) = token {
            r = r.token(token);
        }
        let res = app.send(r).await;
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{uri}");
        assert_eq!(res.header("x-content-type-options").as_deref(), Some("nosniff"), "{uri}");
        assert_eq!(res.header("referrer-policy").as_deref(), Some("no-referrer"), "{uri}");
        assert_eq!(res.header("x-frame-options").as_deref(), Some("DENY"), "{uri}");
        assert!(!res.text.contains("<script"), "{uri} has a script tag");
        assert!(!res.text.contains("style=\""), "{uri} has an inline style");
        assert!(!res.text.contains("http://") && !res.text.contains("https://"), "{uri} refers to another site");
    }
    assert_eq!(app.send(req("GET", "/no-such-page")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.send(req("GET", "/healthz")).await.text, "ok");
}
