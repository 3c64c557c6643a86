//! The core's errors as mediasoup's JS classes. One place: the facade turns `{ error, reason }`
//! into `TypeError`, `UnsupportedError`, `NotFoundError`, `InvalidStateError` or `Error`.

use ferrosoup_sfu::api::{ApiError, ErrorKind};
use napi::bindgen_prelude::*;
use serde_json::{json, Value};

/// mediasoup's JS class for an error kind.
pub fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Type => "TypeError",
        ErrorKind::Unsupported => "UnsupportedError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::InvalidState => "InvalidStateError",
        ErrorKind::Other => "Error",
    }
}

/// `{ error, reason }`, the shape the facade rejects with.
pub fn error_json(e: &ApiError) -> Value {
    json!({ "error": class_name(e.kind), "reason": e.message })
}

/// A JS exception carrying the class name as its `code` (the facade rethrows it as that class).
pub fn to_napi(e: ApiError) -> Error<String> {
    Error::new(class_name(e.kind).to_string(), e.message)
}
