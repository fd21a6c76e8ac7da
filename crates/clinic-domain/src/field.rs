//! A validation failure that names the field and says what is allowed.

/// One failing field. `field` is the wire name (snake_case) so every layer can
/// report it unchanged; `message` says what is allowed, in a clinician's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Every failing field of one input, reported together (not just the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> FieldErrors {
        FieldErrors(vec![FieldError::new(field, message)])
    }
}
