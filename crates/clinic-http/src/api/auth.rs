//! Sign-in and the current account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use clinic_service::auth::Principal;
use clinic_store::Store;

use crate::dto::{LoginRequest, LoginResponse, Me};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientAddr};
use crate::AppState;

pub async fn login<S: Store>(
    State(app): State<AppState<S>>,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let signed_in = app.clinic.login(&body.username, &body.password, addr).await?;
    Ok(Json(LoginResponse { token: signed_in.token, expires_at: signed_in.expires_at }))
}

pub async fn logout<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>) -> Result<Response, ApiError> {
    app.clinic.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn me<S: Store>(Extension(principal): Extension<Principal>) -> Json<Me> {
    Json(Me::from_user(&principal.user))
}
