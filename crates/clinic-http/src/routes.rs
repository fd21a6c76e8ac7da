//! Route declarations and the guard that enforces their access rule.
//!
//! A route is added only through `RouteTable::add`, which records its
//! `RouteSpec`. The router, the OpenAPI document and the authorization-matrix
//! test all read the same list, so no route can exist without an access rule.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use axum::Router;
use clinic_domain::authz::Permission;
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_store::Store;

use crate::error::{ApiError, ErrorCode};
use crate::AppState;

pub const SESSION_COOKIE: &str = "kc_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf";
/// Largest body accepted anywhere (JSON and forms).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any signed-in account.
    SignedIn,
    Permission(Permission),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Api,
    Page,
}

pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// One route: what it is, who may call it, and what it takes and answers.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub kind: Kind,
    pub summary: &'static str,
    /// Query parameters: name and description.
    pub query: &'static [(&'static str, &'static str)],
    pub request: Option<SchemaFn>,
    pub response: Option<SchemaFn>,
    pub success_status: u16,
}

impl RouteSpec {
    pub const fn api(method: &'static str, path: &'static str, access: Access, summary: &'static str) -> RouteSpec {
        RouteSpec { method, path, access, kind: Kind::Api, summary, query: &[], request: None, response: None, success_status: 200 }
    }

    pub const fn page(method: &'static str, path: &'static str, access: Access, summary: &'static str) -> RouteSpec {
        RouteSpec { method, path, access, kind: Kind::Page, summary, query: &[], request: None, response: None, success_status: 200 }
    }
}

pub struct RouteTable<S: Store> {
    router: Router<AppState<S>>,
    specs: Vec<RouteSpec>,
    state: AppState<S>,
}

impl<S: Store> RouteTable<S> {
    pub fn new(state: AppState<S>) -> RouteTable<S> {
        RouteTable { router: Router::new(), specs: Vec::new(), state }
    }

    pub fn add(mut self, spec: RouteSpec, handler: MethodRouter<AppState<S>>) -> RouteTable<S> {
        let guarded = handler.route_layer(from_fn_with_state((self.state.clone(), spec), guard::<S>));
        self.router = self.router.route(spec.path, guarded);
        self.specs.push(spec);
        self
    }

    pub fn finish(self) -> (Router<AppState<S>>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}

pub fn client_addr(req: &Request) -> Option<String> {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Bearer,
    Cookie,
}

fn credentials(req: &Request) -> Option<(String, Via)> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return value.strip_prefix("Bearer ").map(|token| (token.trim().to_string(), Via::Bearer));
    }
    let jar = axum_extra::extract::cookie::CookieJar::from_headers(req.headers());
    jar.get(SESSION_COOKIE).map(|cookie| (cookie.value().to_string(), Via::Cookie))
}

fn refuse(kind: Kind, err: ApiError, path: &str) -> Response {
    match (kind, err.status) {
        (Kind::Page, StatusCode::UNAUTHORIZED) => {
            let next: String = path.chars().filter(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c)).collect();
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        (Kind::Page, _) => crate::pages::error_page(err.status, err.title, &err.detail),
        (Kind::Api, _) => err.into_response(),
    }
}

/// Checks the route's access rule, then the CSRF token of cookie-signed
/// requests that change something, then runs the handler with the `Principal`.
async fn guard<S: Store>(State((app, spec)): State<(AppState<S>, RouteSpec)>, req: Request, next: Next) -> Response {
    if spec.access == Access::Public {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let Some((token, via)) = credentials(&req) else {
        return refuse(spec.kind, ApiError::unauthenticated(), &path);
    };
    let principal = match app.clinic.authenticate(&token, client_addr(&req)).await {
        Ok(principal) => principal,
        Err(err @ (ServiceError::Unauthenticated | ServiceError::Unavailable(_) | ServiceError::Internal(_))) => {
            return refuse(spec.kind, err.into(), &path)
        }
        Err(other) => return refuse(spec.kind, other.into(), &path),
    };
    if let Access::Permission(permission) = spec.access {
        if let Err(err) = app.clinic.authorize(&principal, permission, spec.path).await {
            return refuse(spec.kind, err.into(), &path);
        }
    }
    let req = if via == Via::Cookie && !matches!(*req.method(), Method::GET | Method::HEAD) {
        match check_csrf(req, &principal).await {
            Ok(req) => req,
            Err(err) => return refuse(spec.kind, err, &path),
        }
    } else {
        req
    };
    let mut req = req;
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// A cookie-signed request that changes something must carry the session's
/// CSRF token, in the `X-CSRF-Token` header or the form field `csrf`.
async fn check_csrf(req: Request, principal: &Principal) -> Result<Request, ApiError> {
    let refused = || ApiError::new(StatusCode::FORBIDDEN, ErrorCode::CsrfFailed, "Form expired", "reload the page and submit the form again");
    if let Some(value) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if constant_time_eq(value, &principal.csrf_token) { Ok(req) } else { Err(refused()) };
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, "Too large", format!("bodies are limited to {MAX_BODY_BYTES} bytes"))
    })?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let ok = fields.iter().any(|(name, value)| name == CSRF_FIELD && constant_time_eq(value, &principal.csrf_token));
    if !ok {
        return Err(refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
