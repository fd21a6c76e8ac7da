//! The JSON API under `/api/v1`.

pub mod audit;
pub mod auth;
pub mod openapi;
pub mod patients;

use axum::routing::{get, patch, post};
use clinic_domain::authz::Permission;
use clinic_store::Store;

use crate::dto::*;
use crate::routes::{Access, RouteSpec, RouteTable};

fn schema<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

pub fn routes<S: Store>(table: RouteTable<S>) -> RouteTable<S> {
    table
        .add(
            RouteSpec {
                request: Some(schema::<LoginRequest>),
                response: Some(schema::<LoginResponse>),
                ..RouteSpec::api("POST", "/api/v1/auth/login", Access::Public, "Sign in; answers a bearer token")
            },
            post(auth::login::<S>),
        )
        .add(RouteSpec { success_status: 204, ..RouteSpec::api("POST", "/api/v1/auth/logout", Access::SignedIn, "End this session") }, post(auth::logout::<S>))
        .add(
            RouteSpec { response: Some(schema::<Me>), ..RouteSpec::api("GET", "/api/v1/me", Access::SignedIn, "The signed-in account and its permissions") },
            get(auth::me::<S>),
        )
        .add(RouteSpec::api("GET", "/api/v1/openapi.json", Access::Public, "This OpenAPI document"), get(openapi::document::<S>))
        .add(
            RouteSpec {
                query: &[
                    ("q", "part of a name, or an MRN"),
                    ("date_of_birth", "YYYY-MM-DD"),
                    ("status", "one patient status"),
                    ("cursor", "next_cursor of the previous page"),
                    ("limit", "page size, 1 to 500 (default 50)"),
                ],
                response: Some(schema::<ListResponse<PatientDto>>),
                ..RouteSpec::api("GET", "/api/v1/patients", Access::Permission(Permission::PatientRead), "Find patients")
            },
            get(patients::list::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<PatientWrite>),
                response: Some(schema::<PatientDto>),
                success_status: 201,
                ..RouteSpec::api("POST", "/api/v1/patients", Access::Permission(Permission::PatientCreate), "Register a patient (likely duplicates answer 409)")
            },
            post(patients::create::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<PatientDto>),
                ..RouteSpec::api("GET", "/api/v1/patients/{id}", Access::Permission(Permission::PatientRead), "Read a patient; the ETag header carries the version")
            },
            get(patients::read::<S>),
        )
        .add(
            RouteSpec {
                request: Some(schema::<PatientWrite>),
                response: Some(schema::<PatientDto>),
                ..RouteSpec::api("PATCH", "/api/v1/patients/{id}", Access::Permission(Permission::PatientUpdate), "Change a patient (JSON merge patch); needs If-Match")
            },
            patch(patients::update::<S>),
        )
        .add(
            RouteSpec {
                query: &[
                    ("patient_id", "events about this patient"),
                    ("actor", "username"),
                    ("action", "e.g. patient.read"),
                    ("from", "YYYY-MM-DD or RFC 3339, inclusive"),
                    ("to", "YYYY-MM-DD or RFC 3339, exclusive"),
                    ("cursor", "next_cursor of the previous page"),
                    ("limit", "page size, 1 to 500 (default 50)"),
                ],
                response: Some(schema::<ListResponse<AuditEventDto>>),
                ..RouteSpec::api("GET", "/api/v1/audit", Access::Permission(Permission::AuditRead), "The audit log, newest first")
            },
            get(audit::list::<S>),
        )
        .add(
            RouteSpec {
                response: Some(schema::<ListResponse<UserDto>>),
                ..RouteSpec::api("GET", "/api/v1/users", Access::Permission(Permission::UserManage), "Staff accounts")
            },
            get(audit::users::<S>),
        )
}
