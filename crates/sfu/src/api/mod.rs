//! What crosses the boundary between an app and a worker: typed requests (parsed once, at the
//! edge), typed ids, the core's error type, worker settings.

pub mod error;
pub mod ids;
pub mod reply;
pub mod request;
pub mod settings;

pub use error::{ApiError, ApiResult, ErrorKind};
pub use ids::*;
pub use reply::{JsonObject, Reply};
pub use request::{Body, Request};
pub use settings::{LogLevel, Settings};
