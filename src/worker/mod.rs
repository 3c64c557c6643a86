//! Worker: a native thread with its own single-threaded tokio event loop. It owns its routers
//! (and, in later layers, their sockets), answers requests from JS and reports back through
//! its [`Sink`]. A panic anywhere in the loop ends only this worker: it reports `Died`.

pub mod logger;
pub mod settings;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::channel::{ErrorClass, Outgoing, Request, RequestError, Sink, ToWorker};
use crate::router::Router;
use logger::Logger;
pub use settings::Settings;

static NEXT_WORKER: AtomicU32 = AtomicU32::new(1);

/// The JS side's handle on a running worker thread.
pub struct WorkerHandle {
    tx: mpsc::UnboundedSender<ToWorker>,
    pub number: u32,
}

impl WorkerHandle {
    /// Queues a request; `false` once the worker has gone.
    pub fn request(&self, req: Request) -> bool {
        self.tx.send(ToWorker::Request(req)).is_ok()
    }

    /// Asks the worker to stop; it answers `Exited` when its thread is done.
    pub fn close(&self) {
        let _ = self.tx.send(ToWorker::Close);
    }
}

/// Starts a worker thread. `test_hooks` enables requests that exist only for tests (a
/// deliberate panic).
pub fn spawn(settings: Settings, sink: Sink, test_hooks: bool) -> std::io::Result<WorkerHandle> {
    let (tx, rx) = mpsc::unbounded_channel();
    let number = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
    std::thread::Builder::new().name(format!("ferrosoup-w{number}")).spawn(move || {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let mut worker = Worker::new(settings, sink.clone(), test_hooks);
            rt.block_on(worker.run(rx));
            Ok::<(), std::io::Error>(())
        }));
        match outcome {
            Ok(Ok(())) => sink(Outgoing::Exited),
            Ok(Err(e)) => sink(Outgoing::Died { reason: format!("worker event loop failed: {e}") }),
            Err(payload) => {
                let reason = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                sink(Outgoing::Died { reason: format!("worker thread panicked: {reason}") });
            }
        }
        // Dropping the sink here releases what kept Node alive for this worker.
    })?;
    Ok(WorkerHandle { tx, number })
}

struct Worker {
    sink: Sink,
    logger: Logger,
    routers: HashMap<String, Router>,
    /// Router ids in creation order, for dumps.
    router_order: Vec<String>,
    test_hooks: bool,
}

type Reply = Result<Value, RequestError>;

impl Worker {
    fn new(settings: Settings, sink: Sink, test_hooks: bool) -> Self {
        let logger = Logger::new(sink.clone(), &settings);
        Worker { sink, logger, routers: HashMap::new(), router_order: Vec::new(), test_hooks }
    }

    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<ToWorker>) {
        (self.sink)(Outgoing::Running);
        self.logger.debug("info", format_args!("Worker::run() | worker running"));
        while let Some(msg) = rx.recv().await {
            match msg {
                ToWorker::Request(req) => {
                    let id = req.id;
                    let result = self.handle(req);
                    (self.sink)(Outgoing::Response { id, result });
                }
                ToWorker::Close => break,
            }
        }
        self.logger.debug("info", format_args!("Worker::run() | worker closing"));
    }

    fn handle(&mut self, req: Request) -> Reply {
        self.logger.debug(
            "info",
            format_args!("Worker::HandleRequest() | [method:{}, id:{}]", req.method, req.id),
        );
        match req.method.as_str() {
            "worker.dump" => Ok(self.dump()),
            "worker.getResourceUsage" => Ok(resource_usage()),
            "worker.updateSettings" => self.update_settings(&req.data),
            "worker.createRouter" => self.create_router(&req.data),
            "worker.closeRouter" => {
                let id = req.data.get("routerId").and_then(Value::as_str).unwrap_or_default();
                self.close_router(id);
                Ok(Value::Null)
            }
            "worker.panicForTesting" if self.test_hooks => {
                panic!("panic requested by a test")
            }
            m if m.starts_with("router.") => {
                let Some(router) = self.routers.get_mut(&req.handler_id) else {
                    return Err(RequestError::error(format!(
                        "Channel request handler with ID {} not found",
                        req.handler_id
                    )));
                };
                match m {
                    "router.dump" => Ok(router.dump()),
                    "router.updateRtpCapabilities" => {
                        router.rtp_capabilities =
                            req.data.get("rtpCapabilities").cloned().unwrap_or(Value::Null);
                        Ok(Value::Null)
                    }
                    _ => Err(unknown_method(m)),
                }
            }
            m => {
                self.logger.warn("info", format_args!("unknown method '{m}'"));
                Err(unknown_method(m))
            }
        }
    }

    fn dump(&self) -> Value {
        json!({
            "pid": std::process::id(),
            "webRtcServerIds": [],
            "routerIds": self.router_order,
            "channelMessageHandlers": {
                "channelRequestHandlers": self.router_order,
                "channelNotificationHandlers": [],
            },
        })
    }

    fn update_settings(&mut self, data: &Value) -> Reply {
        let mut level = self.logger.level();
        if let Some(l) = data.get("logLevel").and_then(Value::as_str).filter(|l| !l.is_empty()) {
            level = settings::LogLevel::parse(l)?;
        }
        let tags = if data.get("logTags").is_some() {
            settings::parse_log_tags(data.get("logTags"))
        } else {
            self.logger.tags().to_vec()
        };
        self.logger.update(level, tags);
        Ok(Value::Null)
    }

    fn create_router(&mut self, data: &Value) -> Reply {
        let id = data
            .get("routerId")
            .and_then(Value::as_str)
            .ok_or_else(|| RequestError::type_error("missing routerId"))?
            .to_string();
        if self.routers.contains_key(&id) {
            return Err(RequestError::error(format!("a Router with id {id} already exists")));
        }
        let caps = crate::ortc::generate_router_rtp_capabilities(data.get("mediaCodecs"))?;
        self.logger.debug("info", format_args!("Worker::createRouter() | [routerId:{id}]"));
        self.routers.insert(id.clone(), Router::new(id.clone(), caps.clone()));
        self.router_order.push(id);
        Ok(json!({ "rtpCapabilities": caps }))
    }

    fn close_router(&mut self, id: &str) {
        if self.routers.remove(id).is_some() {
            self.router_order.retain(|r| r != id);
        }
    }
}

fn unknown_method(m: &str) -> RequestError {
    RequestError::new(ErrorClass::Error, format!("unknown method '{m}'"))
}

/// `getrusage()` of the calling thread (this worker), in mediasoup's units (times in ms).
fn resource_usage() -> Value {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let ms = |tv: libc::timeval| tv.tv_sec as i64 * 1000 + tv.tv_usec as i64 / 1000;
    json!({
        "ru_utime": ms(ru.ru_utime),
        "ru_stime": ms(ru.ru_stime),
        "ru_maxrss": ru.ru_maxrss,
        "ru_ixrss": ru.ru_ixrss,
        "ru_idrss": ru.ru_idrss,
        "ru_isrss": ru.ru_isrss,
        "ru_minflt": ru.ru_minflt,
        "ru_majflt": ru.ru_majflt,
        "ru_nswap": ru.ru_nswap,
        "ru_inblock": ru.ru_inblock,
        "ru_oublock": ru.ru_oublock,
        "ru_msgsnd": ru.ru_msgsnd,
        "ru_msgrcv": ru.ru_msgrcv,
        "ru_nsignals": ru.ru_nsignals,
        "ru_nvcsw": ru.ru_nvcsw,
        "ru_nivcsw": ru.ru_nivcsw,
    })
}

#[cfg(test)]
mod tests;
