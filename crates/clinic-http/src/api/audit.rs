//! The audit log and the account list, for administrators.

use axum::extract::State;
use axum::{Extension, Json};
use clinic_service::audit::AuditQuery;
use clinic_service::auth::Principal;
use clinic_store::Store;

use crate::dto::{AuditEventDto, AuditListQuery, ListResponse, UserDto};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

pub fn to_service_query(query: AuditListQuery) -> AuditQuery {
    AuditQuery {
        patient_id: query.patient_id,
        actor: query.actor,
        action: query.action,
        from: query.from,
        to: query.to,
        cursor: query.cursor,
        limit: query.limit,
    }
}

pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<AuditListQuery>,
) -> Result<Json<ListResponse<AuditEventDto>>, ApiError> {
    let page = app.clinic.list_audit(&principal, &to_service_query(query)).await?;
    Ok(Json(ListResponse { items: page.items.iter().map(AuditEventDto::from_event).collect(), next_cursor: page.next_cursor }))
}

pub async fn users<S: Store>(State(app): State<AppState<S>>) -> Result<Json<ListResponse<UserDto>>, ApiError> {
    let users = app.clinic.list_users().await?;
    Ok(Json(ListResponse { items: users.iter().map(UserDto::from_user).collect(), next_cursor: None }))
}
