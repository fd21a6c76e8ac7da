//! The OpenAPI 3.1 document, generated from the route declarations.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clinic_store::Store;
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::routes::{Access, Kind, RouteSpec};
use crate::AppState;

pub async fn document<S: Store>(State(app): State<AppState<S>>) -> Response {
    Json(app.openapi.as_ref().clone()).into_response()
}

/// Builds the document for every `/api/v1` route in `specs`.
pub fn build(specs: &[RouteSpec]) -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for spec in specs.iter().filter(|s| s.kind == Kind::Api && s.path.starts_with("/api/v1")) {
        let mut parameters: Vec<Value> = spec
            .query
            .iter()
            .map(|(name, description)| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } }))
            .collect();
        for segment in spec.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                parameters.push(json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }));
            }
        }
        if spec.method == "PATCH" {
            parameters.push(json!({ "name": "If-Match", "in": "header", "required": true, "description": "the ETag from the last read", "schema": { "type": "string" } }));
        }
        let mut responses = Map::new();
        let success = match spec.response {
            Some(schema) => json!({ "description": "success", "content": { "application/json": { "schema": schema(&mut generator) } } }),
            None => json!({ "description": "success" }),
        };
        responses.insert(spec.success_status.to_string(), success);
        responses.insert("4XX".into(), json!({ "description": "a client mistake", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }));
        let mut operation = json!({
            "summary": spec.summary,
            "operationId": format!("{} {}", spec.method.to_lowercase(), spec.path),
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(schema) = spec.request {
            operation["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema(&mut generator) } } });
        }
        let (security, permission) = match spec.access {
            Access::Public => (json!([]), None),
            Access::SignedIn => (json!([{ "bearer": [] }]), None),
            Access::Permission(p) => (json!([{ "bearer": [] }]), Some(p.as_str())),
        };
        operation["security"] = security;
        if let Some(permission) = permission {
            operation["x-permission"] = json!(permission);
        }
        let entry = paths.entry(spec.path.to_string()).or_insert_with(|| json!({}));
        entry[spec.method.to_lowercase()] = operation;
    }
    let mut schemas: Map<String, Value> =
        generator.take_definitions(true).into_iter().collect();
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail", "code", "errors"],
            "properties": {
                "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                "detail": { "type": "string" }, "code": { "type": "string" },
                "errors": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } }
            }
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": { "title": "ketaclinic API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}
