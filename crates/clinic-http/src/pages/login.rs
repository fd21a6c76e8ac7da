//! The sign-in form, sign-out, and the session cookie.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use clinic_service::auth::Principal;
use clinic_service::error::ServiceError;
use clinic_store::Store;
use maud::html;
use rand::RngCore;
use serde::Deserialize;

use crate::extract::ClientAddr;
use crate::pages::bare_page;
use crate::routes::{constant_time_eq, CSRF_FIELD, SESSION_COOKIE};
use crate::AppState;

const LOGIN_CSRF_COOKIE: &str = "kc_login_csrf";

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// Only local paths, so the form cannot be used to redirect elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && path != "/login" => path.to_string(),
        _ => "/home".to_string(),
    }
}

fn is_https(headers: &HeaderMap, force: bool) -> bool {
    force || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value)).http_only(true).same_site(SameSite::Strict).secure(secure).path("/").build()
}

fn render(csrf: &str, next: &str, username: &str, message: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        div.login.card {
            h1 { "Sign in" }
            p.muted { "Staff sign-in for the clinic's records." }
            @if let Some(message) = message {
                p.error role="alert" id="login-error" { (message) }
            }
            form method="post" action="/login" {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="username" { "Username" }
                input id="username" name="username" autocomplete="username" required autofocus value=(username)
                    aria-describedby=[message.map(|_| "login-error")];
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                div.actions { button type="submit" { "Sign in" } }
            }
        }
    };
    (status, bare_page("Sign in", body)).into_response()
}

fn new_csrf() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn form<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, jar: CookieJar, Query(query): Query<LoginQuery>) -> Response {
    let csrf = new_csrf();
    let secure = is_https(&headers, app.config.force_secure_cookies);
    let jar = jar.add(cookie(LOGIN_CSRF_COOKIE, csrf.clone(), secure));
    (jar, render(&csrf, &safe_next(query.next.as_deref()), "", None, StatusCode::OK)).into_response()
}

pub async fn submit<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let secure = is_https(&headers, app.config.force_secure_cookies);
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    let fresh = new_csrf();
    let jar = jar.add(cookie(LOGIN_CSRF_COOKIE, fresh.clone(), secure));
    if expected.is_empty() || !constant_time_eq(&expected, &form.csrf) {
        let message = "This sign-in form expired. Please sign in again.";
        return (jar, render(&fresh, &next, &form.username, Some(message), StatusCode::FORBIDDEN)).into_response();
    }
    match app.clinic.login(&form.username, &form.password, addr).await {
        Ok(signed_in) => {
            let jar = jar.remove(Cookie::from(LOGIN_CSRF_COOKIE)).add(cookie(SESSION_COOKIE, signed_in.token, secure));
            (jar, Redirect::to(&next)).into_response()
        }
        Err(ServiceError::Throttled { retry_after }) => {
            let minutes = ((retry_after - chrono::Utc::now()).num_seconds().max(1) + 59) / 60;
            let message = format!("Too many failed sign-ins. Try again in {minutes} minute(s), or ask an administrator.");
            let mut res = render(&fresh, &next, &form.username, Some(&message), StatusCode::TOO_MANY_REQUESTS);
            res.headers_mut().insert(header::RETRY_AFTER, (minutes * 60).into());
            (jar, res).into_response()
        }
        Err(ServiceError::BadCredentials) => {
            let message = "Wrong username or password.";
            (jar, render(&fresh, &next, &form.username, Some(message), StatusCode::UNAUTHORIZED)).into_response()
        }
        Err(err) => {
            let api: crate::error::ApiError = err.into();
            (jar, crate::pages::error_page(api.status, api.title, &api.detail)).into_response()
        }
    }
}

pub async fn logout<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, jar: CookieJar) -> Response {
    if let Err(err) = app.clinic.logout(&principal).await {
        let api: crate::error::ApiError = err.into();
        return crate::pages::error_page(api.status, api.title, &api.detail);
    }
    (jar.remove(Cookie::build(SESSION_COOKIE).path("/").build()), Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/patients/1")), "/patients/1");
        for bad in [None, Some("//evil.example"), Some("https://evil.example"), Some("/\\evil"), Some("/login")] {
            assert_eq!(safe_next(bad), "/home", "{bad:?}");
        }
    }
}
