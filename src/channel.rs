//! Messages between the JS facade and a worker thread.
//!
//! JS → worker: [`Request`]s on an unbounded channel (sending never blocks the Node thread).
//! Worker → JS: [`Outgoing`] messages through a sink the binding provides (a threadsafe
//! function in Node, a plain closure in Rust tests), serialized as one JSON string each.

use serde_json::{json, Value};

#[derive(Debug)]
pub struct Request {
    pub id: u32,
    pub method: String,
    pub handler_id: String,
    pub data: Value,
}

#[derive(Debug)]
pub enum ToWorker {
    Request(Request),
    /// Media from a pipe transport on another worker thread, for our pipe transport
    /// `transport_id` (RTCP when `rtcp`).
    Pipe { transport_id: String, data: Vec<u8>, rtcp: bool },
    Close,
}

/// The JS error class a failed request rejects with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Error,
    TypeError,
    UnsupportedError,
    NotFoundError,
    InvalidStateError,
}

impl ErrorClass {
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Error => "Error",
            ErrorClass::TypeError => "TypeError",
            ErrorClass::UnsupportedError => "UnsupportedError",
            ErrorClass::NotFoundError => "NotFoundError",
            ErrorClass::InvalidStateError => "InvalidStateError",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    pub class: ErrorClass,
    pub reason: String,
}

impl RequestError {
    pub fn new(class: ErrorClass, reason: impl Into<String>) -> Self {
        RequestError { class, reason: reason.into() }
    }
    pub fn type_error(reason: impl Into<String>) -> Self {
        Self::new(ErrorClass::TypeError, reason)
    }
    pub fn error(reason: impl Into<String>) -> Self {
        Self::new(ErrorClass::Error, reason)
    }
}

impl From<crate::ortc::OrtcError> for RequestError {
    fn from(e: crate::ortc::OrtcError) -> Self {
        use crate::ortc::OrtcError::*;
        match e {
            Type(m) => RequestError::new(ErrorClass::TypeError, m),
            Unsupported(m) => RequestError::new(ErrorClass::UnsupportedError, m),
            Other(m) => RequestError::new(ErrorClass::Error, m),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// The worker's loop is up: `createWorker()` resolves.
    Running,
    Response { id: u32, result: Result<Value, RequestError> },
    /// A notification for the JS object whose id is `target`.
    Event { target: String, event: String, data: Value },
    /// A native log line; `level` is `D`, `W` or `E` as mediasoup's worker logs.
    Log { level: char, text: String },
    /// The worker thread panicked; nothing more will come.
    Died { reason: String },
    /// The worker thread ended after `close()`; nothing more will come.
    Exited,
}

impl Outgoing {
    pub fn to_json(&self) -> String {
        let v = match self {
            Outgoing::Running => json!({ "type": "running" }),
            Outgoing::Response { id, result: Ok(data) } => {
                json!({ "type": "response", "id": id, "data": data })
            }
            Outgoing::Response { id, result: Err(e) } => {
                json!({ "type": "response", "id": id, "error": e.class.name(), "reason": e.reason })
            }
            Outgoing::Event { target, event, data } => {
                json!({ "type": "event", "target": target, "event": event, "data": data })
            }
            Outgoing::Log { level, text } => {
                json!({ "type": "log", "level": level.to_string(), "text": text })
            }
            Outgoing::Died { reason } => json!({ "type": "died", "reason": reason }),
            Outgoing::Exited => json!({ "type": "exited" }),
        };
        v.to_string()
    }
}

/// Where a worker sends what it has to say. Must not block.
pub type Sink = std::sync::Arc<dyn Fn(Outgoing) + Send + Sync>;
