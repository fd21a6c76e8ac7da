//! Request extractors that answer bad input with problem+json naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};
use crate::routes::MAX_BODY_BYTES;

/// A JSON body. Wrong types and unknown fields are refused with the path of
/// the offending field (`escort.phone`), not just a line and column.
pub struct ApiJson<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence == "application/merge-patch+json"
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        if !is_json(&content_type) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "Unsupported media type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, "Too large", format!("bodies are limited to {MAX_BODY_BYTES} bytes"))
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        if let Some(name) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            let field = if path == "." { name.to_string() } else { format!("{path}.{name}") };
            return ApiError::field(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, "Missing field", &field, "is required");
        }
        if inner.is_syntax() || inner.is_eof() || path == "." {
            let message = if inner.is_data() { describe(&inner) } else { format!("is not valid JSON ({inner})") };
            let field = if path == "." { "body" } else { path.as_str() };
            return ApiError::field(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, "Malformed JSON", field, &message);
        }
        ApiError::field(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, "Wrong JSON type", &path, &describe(&inner))
    })
}

/// serde's message without its "at line N column M" suffix.
fn describe(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(idx) => text[..idx].to_string(),
        None => text,
    }
}

/// Query parameters, refused with the failing parameter named.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|err| {
            let path = err.path().to_string();
            let field = if path == "." { "query".to_string() } else { path };
            ApiError::field(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, "Invalid query", &field, &err.into_inner().to_string())
        })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// The client's IP address, when the server knows it.
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|axum::extract::ConnectInfo(addr)| addr.ip().to_string());
        Ok(ClientAddr(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        phone: Option<String>,
    }

    #[track_caller]
    fn check(body: &str, field: &str, status: StatusCode) {
        let err = parse_json::<Body>(body.as_bytes()).unwrap_err();
        assert_eq!(err.status, status);
        assert_eq!(err.errors[0].field, field, "{}", err.errors[0].message);
    }

    #[test]
    fn errors_name_the_field() {
        check(r#"{"name": 5}"#, "name", StatusCode::BAD_REQUEST);
        check(r#"{"name": "a", "inner": {"phone": 7}}"#, "inner.phone", StatusCode::BAD_REQUEST);
        check(r#"{"name": "a", "bogus": 1}"#, "bogus", StatusCode::BAD_REQUEST);
        check(r#"{"name": "#, "name", StatusCode::BAD_REQUEST);
        check(r#"{"inner": {}}"#, "name", StatusCode::BAD_REQUEST);
        check("5", "body", StatusCode::BAD_REQUEST);
        assert!(parse_json::<Body>(br#"{"name": "a"}"#).is_ok());
    }
}
