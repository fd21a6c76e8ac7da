#![doc = include_str!("../README.md")]
// A refused request builds one error and answers with it; boxing it would buy nothing.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod dto;
pub mod error;
pub mod extract;
pub mod pages;
pub mod rate_limit;
pub mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clinic_service::Clinic;
use clinic_store::Store;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::{ApiError, ErrorCode};
use crate::routes::{Access, RouteSpec, RouteTable, MAX_BODY_BYTES};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Mark cookies `Secure` even without `X-Forwarded-Proto: https` (set
    /// when TLS is terminated in front of the server).
    pub force_secure_cookies: bool,
}

#[derive(Clone)]
pub struct AppState<S: Store> {
    pub clinic: Clinic<S>,
    pub config: Arc<HttpConfig>,
    pub openapi: Arc<serde_json::Value>,
    pub limiter: Arc<rate_limit::SubmissionLimiter>,
}

/// The application: its router and the declaration of every route in it.
pub struct App {
    pub router: Router,
    pub routes: Vec<RouteSpec>,
}

/// The Content-Security-Policy of every response: nothing inline, nothing
/// from elsewhere, never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn app<S: Store>(clinic: Clinic<S>, config: HttpConfig) -> App {
    // The OpenAPI document is built from the same declarations as the router;
    // a first pass collects them with a placeholder document.
    let limiter = Arc::new(rate_limit::SubmissionLimiter::default());
    let placeholder =
        AppState { clinic: clinic.clone(), config: Arc::new(config.clone()), openapi: Arc::new(serde_json::Value::Null), limiter: limiter.clone() };
    let (_, specs) = declare(RouteTable::new(placeholder)).finish();
    let state = AppState { clinic, config: Arc::new(config), openapi: Arc::new(api::openapi::build(&specs)), limiter };
    let (router, routes) = declare(RouteTable::new(state.clone())).finish();
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    App { router, routes }
}

fn declare<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    let table = table.add(RouteSpec::page("GET", "/healthz", Access::Public, "Liveness"), get(healthz));
    let table = api::routes(table);
    pages::routes(table)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::RouteNotFound, "No such route", format!("no route {}", uri.path())).into_response()
    } else {
        pages::error_page(StatusCode::NOT_FOUND, "Page not found", "There is no page at this address.")
    }
}

async fn method_not_allowed(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed, "Method not allowed", format!("{} does not accept this method", uri.path()))
            .into_response()
    } else {
        pages::error_page(StatusCode::METHOD_NOT_ALLOWED, "Not allowed", "This page does not accept that kind of request.")
    }
}
