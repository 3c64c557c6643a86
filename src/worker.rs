//! `NativeWorker`: the JS facade's handle on a worker thread. Requests are parsed here, once,
//! into the core's typed requests (a malformed one is refused at once, as data); answers and
//! events come back through one threadsafe function per worker, as JSON strings. The worker
//! thread holds that function, so Node's event loop stays alive exactly while the worker runs,
//! as mediasoup's worker subprocess keeps it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferrosoup_sfu::api::{ApiError, Request, Settings};
use ferrosoup_worker::{Outgoing, Sink, WorkerHandle};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{json, Value};

use crate::error::{error_json, to_napi};

type Callback = ThreadsafeFunction<String, (), String, Status, false>;

/// Messages queued for the Node thread beyond which trace/score events and logs are shed (a
/// worker must not grow memory when the app stops keeping up).
const MAX_PENDING: usize = 20_000;

/// One message to the facade, as JSON. Answers and events are written around their data
/// (serialized once, never copied into a wrapper `Value` first: a reply's deep copy was a third
/// of a join's worker time).
fn outgoing_json(o: &Outgoing) -> String {
    let wrapped = |head: String, size: usize, write: &dyn Fn(&mut Vec<u8>)| {
        let mut text = Vec::with_capacity(head.len() + size + 1);
        text.extend_from_slice(head.as_bytes());
        write(&mut text);
        text.push(b'}');
        // Only UTF-8 went in (format!, serde_json, engine-written JSON text).
        String::from_utf8(text).unwrap_or_default()
    };
    let v = match o {
        Outgoing::Running { pid } => json!({ "type": "running", "pid": pid }),
        Outgoing::Response { id, result: Ok(data) } => {
            // Room for the answer: engine-written text is of known size.
            let size = if let ferrosoup_sfu::api::Reply::Json(text) = data { text.len() } else { 256 };
            return wrapped(format!(r#"{{"type":"response","id":{id},"data":"#), size, &|out| data.write_json(out));
        }
        Outgoing::Response { id, result: Err(e) } => {
            let mut v = error_json(e);
            v["type"] = json!("response");
            v["id"] = json!(id);
            v
        }
        Outgoing::Event { target, event, data } => {
            // Ids and event names are JSON-escaped as any string.
            let head = format!(r#"{{"type":"event","target":{},"event":{},"data":"#, Value::from(&**target), Value::from(*event));
            // Writing a `Value` into a Vec cannot fail.
            return wrapped(head, 256, &|out| {
                let _ = serde_json::to_writer(out, data);
            });
        }
        Outgoing::Log { level, text } => json!({ "type": "log", "level": level.to_string(), "text": text }),
        Outgoing::Died { reason } => json!({ "type": "died", "reason": reason }),
        Outgoing::Exited => json!({ "type": "exited" }),
    };
    v.to_string()
}

/// Why a request was not queued: `{ error, reason }` (or `{ closed: true }`).
#[napi(object)]
pub struct Rejection {
    pub error: String,
    pub reason: String,
}

#[napi]
pub struct NativeWorker {
    handle: Option<WorkerHandle>,
}

#[napi]
impl NativeWorker {
    /// Validates the settings and starts the worker thread. Messages arrive in `callback` as
    /// JSON strings; the first is `running`. Bad settings throw with the error class as `code`.
    #[napi(constructor, catch_unwind)]
    pub fn new(settings_json: String, callback: Function<'_, String, ()>) -> Result<Self, String> {
        let value: Value = serde_json::from_str(&settings_json).map_err(|e| to_napi(ApiError::type_error(format!("invalid settings: {e}"))))?;
        let settings = Settings::from_json(&value).map_err(to_napi)?;
        let pending = Arc::new(AtomicUsize::new(0));
        let delivered = pending.clone();
        let tsfn: Callback = callback
            .build_threadsafe_function::<String>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                delivered.fetch_sub(1, Ordering::Relaxed);
                Ok(ctx.value)
            })
            .map_err(|e| Error::new("Error".to_string(), e.reason))?;
        let tsfn = Arc::new(tsfn);
        let sink: Sink = Arc::new(move |msg: Outgoing| {
            if msg.sheddable() && pending.load(Ordering::Relaxed) > MAX_PENDING {
                return false;
            }
            pending.fetch_add(1, Ordering::Relaxed);
            // NonBlocking on an unbounded queue: never waits. Fails only while Node shuts down.
            tsfn.call(outgoing_json(&msg), ThreadsafeFunctionCallMode::NonBlocking);
            true
        });
        let test_hooks = std::env::var("FERROSOUP_TEST_HOOKS").map(|v| v == "1").unwrap_or(false);
        let handle = ferrosoup_worker::spawn(settings, sink, test_hooks).map_err(to_napi)?;
        Ok(NativeWorker { handle: Some(handle) })
    }

    /// Parses and queues a request. `null` when queued; otherwise why not: a malformed request
    /// (`{ error: 'TypeError', ... }`) or a closed worker (`{ error: 'WorkerClosedError' }`).
    #[napi(catch_unwind)]
    pub fn request(&self, id: u32, method: String, handler_id: String, data: String) -> Option<Rejection> {
        let closed = || Some(Rejection { error: "WorkerClosedError".into(), reason: format!("Channel closed, cannot send request [method:{method}]") });
        let Some(handle) = &self.handle else { return closed() };
        let req = match Request::parse(id, &method, &handler_id, &data) {
            Ok(r) => r,
            Err(e) => {
                let v = error_json(&e);
                return Some(Rejection { error: v["error"].as_str().unwrap_or("Error").into(), reason: e.message });
            }
        };
        if handle.request(req) {
            None
        } else {
            closed()
        }
    }

    /// Queues a notification with a binary payload (`producer.send`, `transport.sendRtcp`):
    /// no answer comes. `null` when queued, else why not (as `request()`).
    #[napi(catch_unwind)]
    pub fn notify(&self, method: String, handler_id: String, payload: Buffer, meta: Option<String>) -> Option<Rejection> {
        let closed = || Some(Rejection { error: "WorkerClosedError".into(), reason: format!("Channel closed, cannot send notification [method:{}]", ferrosoup_sfu::api::request::mediasoup_method_name(&method)) });
        let Some(handle) = &self.handle else { return closed() };
        let req = match Request::notification(&method, &handler_id, payload.to_vec(), meta.as_deref().unwrap_or_default()) {
            Ok(r) => r,
            Err(e) => {
                let v = error_json(&e);
                return Some(Rejection { error: v["error"].as_str().unwrap_or("Error").into(), reason: e.message });
            }
        };
        if handle.request(req) {
            None
        } else {
            closed()
        }
    }

    /// Asks the worker thread to finish; it reports `exited` when done.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.close();
        }
    }

    #[napi(getter)]
    pub fn number(&self) -> u32 {
        self.handle.as_ref().map(|h| h.number).unwrap_or(0)
    }
}
