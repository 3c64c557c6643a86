//! Worker: a native thread with its own single-threaded tokio event loop. It owns its routers
//! (and, in later layers, their sockets), answers requests from JS and reports back through
//! its [`Sink`]. A panic anywhere in the loop ends only this worker: it reports `Died`.

pub mod io;
pub mod logger;
pub mod settings;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::panic::AssertUnwindSafe;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use tokio::task::AbortHandle;

use crate::certificate::LocalCertificate;
use crate::channel::{ErrorClass, Outgoing, Request, RequestError, Sink, ToWorker};
use crate::ice::{Protocol, Tuple};
use crate::router::Router;
use crate::router::Output;
use crate::transport::webrtc::{Received, WebRtcTransport};
use crate::transport::pipe::PipeTransport;
use crate::transport::ListenInfo;
use logger::Logger;
pub use settings::Settings;

static NEXT_WORKER: AtomicU32 = AtomicU32::new(1);

/// Every live worker's inbound channel, by worker number: how a pipe transport reaches its peer
/// on another worker thread of this process.
fn worker_senders() -> &'static std::sync::Mutex<HashMap<u32, mpsc::UnboundedSender<ToWorker>>> {
    static SENDERS: std::sync::OnceLock<std::sync::Mutex<HashMap<u32, mpsc::UnboundedSender<ToWorker>>>> =
        std::sync::OnceLock::new();
    SENDERS.get_or_init(Default::default)
}

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

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Starts a worker thread. `test_hooks` enables requests that exist only for tests (a
/// deliberate panic). Certificate files are loaded here so that bad ones reject at once.
pub fn spawn(settings: Settings, sink: Sink, test_hooks: bool) -> Result<WorkerHandle, RequestError> {
    let cert = match (&settings.dtls_certificate_file, &settings.dtls_private_key_file) {
        (Some(c), Some(k)) => Some(LocalCertificate::load(c, k).map_err(RequestError::type_error)?),
        _ => None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let number = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut senders) = worker_senders().lock() {
        senders.insert(number, tx.clone());
    }
    std::thread::Builder::new()
        .name(format!("ferrosoup-w{number}"))
        .spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let cert = match cert {
                    Some(c) => c,
                    None => LocalCertificate::generate().map_err(std::io::Error::other)?,
                };
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let local = tokio::task::LocalSet::new();
                let worker = Worker::new(settings, sink.clone(), cert, test_hooks);
                local.block_on(&rt, Worker::run(worker, rx));
                Ok::<(), std::io::Error>(())
            }));
            if let Ok(mut senders) = worker_senders().lock() {
                senders.remove(&number);
            }
            match outcome {
                Ok(Ok(())) => sink(Outgoing::Exited),
                Ok(Err(e)) => sink(Outgoing::Died { reason: format!("worker event loop failed: {e}") }),
                Err(payload) => sink(Outgoing::Died {
                    reason: format!("worker thread panicked: {}", panic_message(payload.as_ref())),
                }),
            }
            // Dropping the sink here releases what kept Node alive for this worker.
        })
        .map_err(|e| RequestError::error(format!("cannot start worker thread: {e}")))?;
    Ok(WorkerHandle { tx, number })
}

struct TransportEntry {
    router_id: String,
    transport: WebRtcTransport,
    io: io::TransportIo,
    /// The deadline queued in the timer heap for this transport.
    deadline: Option<Instant>,
}

/// A PipeTransport: in-process (media goes straight to its peer on another worker thread) or
/// over UDP (plain RTP/RTCP or SRTP to a remote set by `connect()`).
struct PipeEntry {
    router_id: String,
    link: PipeLink,
    rtp_packets_sent: u64,
    rtp_packets_received: u64,
    bytes_sent: u64,
    bytes_received: u64,
}

enum PipeLink {
    /// The peer worker's channel and the peer transport's id, once connected.
    Memory(Option<(mpsc::UnboundedSender<ToWorker>, String)>),
    Udp { transport: PipeTransport, io: io::TransportIo },
}

impl PipeEntry {
    /// Hands media to the peer (dropped until connected).
    fn send(&mut self, now: Instant, data: Vec<u8>, rtcp: bool) {
        match &mut self.link {
            PipeLink::Memory(Some((tx, peer_id))) => {
                self.rtp_packets_sent += u64::from(!rtcp);
                self.bytes_sent += data.len() as u64;
                let _ = tx.send(ToWorker::Pipe { transport_id: peer_id.clone(), data, rtcp });
            }
            PipeLink::Memory(None) => {}
            PipeLink::Udp { transport, io } => {
                if transport.send_media(now, &data, rtcp) {
                    self.rtp_packets_sent += u64::from(!rtcp);
                    self.bytes_sent += data.len() as u64;
                }
                let local = transport.local();
                while let Some((remote, bytes)) = transport.poll_transmit() {
                    io.send(&Tuple { protocol: Protocol::Udp, local, remote }, bytes);
                }
            }
        }
    }

    fn stats_json(&mut self, now: Instant, id: &str) -> Value {
        if let PipeLink::Udp { transport, .. } = &mut self.link {
            return transport.stats_json(now);
        }
        json!([{
            "type": "pipe-transport",
            "transportId": id,
            "timestamp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            "bytesReceived": self.bytes_received,
            "recvBitrate": 0,
            "bytesSent": self.bytes_sent,
            "sendBitrate": 0,
            "rtpBytesReceived": self.bytes_received,
            "rtpRecvBitrate": 0,
            "rtpBytesSent": self.bytes_sent,
            "rtpSendBitrate": 0,
            "rtxBytesReceived": 0, "rtxRecvBitrate": 0, "rtxBytesSent": 0, "rtxSendBitrate": 0,
            "probationBytesSent": 0, "probationSendBitrate": 0,
            "tuple": pipe_tuple(),
        }])
    }
}

/// The tuple an in-process pipe reports (it has no socket).
fn pipe_tuple() -> Value {
    json!({ "localIp": "127.0.0.1", "localAddress": "127.0.0.1", "localPort": 0, "protocol": "udp" })
}

pub struct Worker {
    sink: Sink,
    /// UDP datagrams to send at the end of this turn (see `io::SendQueue`).
    out: io::SharedSendQueue,
    /// RTP packets sent to transports (consumers' media), for benchmarks (in `dump()`).
    rtp_sent: u64,
    pipes: HashMap<String, PipeEntry>,
    logger: Logger,
    settings: Settings,
    cert: Arc<LocalCertificate>,
    routers: HashMap<String, Router>,
    /// Router ids in creation order, for dumps.
    router_order: Vec<String>,
    transports: HashMap<String, TransportEntry>,
    timers: BinaryHeap<Reverse<(Instant, String)>>,
    /// Router tick deadlines queued in `timers` (key `r:<router id>`).
    router_deadlines: HashMap<String, Instant>,
    /// The deadline the event loop sleeps until; earlier ones must wake it.
    armed: Option<Instant>,
    wake: Rc<Notify>,
    /// A panic caught in a socket task: the event loop re-raises it so the worker dies.
    poisoned: Option<String>,
    self_ref: Weak<RefCell<Worker>>,
    test_hooks: bool,
}

type Reply = Result<Value, RequestError>;

impl Worker {
    fn new(settings: Settings, sink: Sink, cert: Arc<LocalCertificate>, test_hooks: bool) -> Rc<RefCell<Self>> {
        let logger = Logger::new(sink.clone(), &settings);
        Rc::new_cyclic(|me| {
            RefCell::new(Worker {
                sink,
                out: Default::default(),
                rtp_sent: 0,
                pipes: HashMap::new(),
                logger,
                settings,
                cert,
                routers: HashMap::new(),
                router_order: Vec::new(),
                transports: HashMap::new(),
                timers: BinaryHeap::new(),
                router_deadlines: HashMap::new(),
                armed: None,
                wake: Rc::new(Notify::new()),
                poisoned: None,
                self_ref: me.clone(),
                test_hooks,
            })
        })
    }

    /// Runs `f` on the worker from a socket task. A panic there is recorded and re-raised by
    /// the event loop, so it kills the worker as a panic anywhere else would.
    pub(crate) fn guarded(me: &Rc<RefCell<Worker>>, f: impl FnOnce(&mut Worker)) {
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut me.borrow_mut())));
        if let Err(payload) = r {
            let mut w = me.borrow_mut();
            w.poisoned = Some(panic_message(payload.as_ref()));
            w.wake.notify_one();
        }
    }

    async fn run(me: Rc<RefCell<Worker>>, mut rx: mpsc::UnboundedReceiver<ToWorker>) {
        let (sink, wake) = {
            let w = me.borrow();
            (w.sink.clone(), w.wake.clone())
        };
        sink(Outgoing::Running);
        me.borrow().logger.debug("info", format_args!("Worker::run() | worker running"));
        loop {
            let next = {
                let mut w = me.borrow_mut();
                if let Some(reason) = w.poisoned.take() {
                    panic!("{reason}");
                }
                let next = w.timers.peek().map(|Reverse((t, _))| *t);
                w.armed = next;
                next
            };
            let sleep = async move {
                match next {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending::<()>().await,
                }
            };
            let mut closing = false;
            tokio::select! {
                biased;
                msg = rx.recv() => {
                    // Media from in-memory pipes comes a packet per message: take what is
                    // queued (up to a bound) before flushing, so sends batch per socket.
                    let mut msg = msg;
                    for _ in 0..64 {
                        match msg {
                            Some(ToWorker::Request(req)) => {
                                let id = req.id;
                                let result = me.borrow_mut().handle(req);
                                // Before answering: a closed transport's socket leaves the
                                // queue with this, so its port is free when JS hears back.
                                me.borrow_mut().flush_sends();
                                sink(Outgoing::Response { id, result });
                                // Let aborted socket tasks drop now, so closed ports are free at once.
                                tokio::task::yield_now().await;
                                break;
                            }
                            Some(ToWorker::Pipe { transport_id, data, rtcp }) => {
                                me.borrow_mut().on_pipe(&transport_id, &data, rtcp);
                            }
                            Some(ToWorker::Close) | None => {
                                closing = true;
                                break;
                            }
                        }
                        match rx.try_recv() {
                            Ok(m) => msg = Some(m),
                            Err(_) => break,
                        }
                    }
                    me.borrow_mut().flush_sends();
                    // Pipe media can arrive without pause: let sockets and timers have a turn.
                    tokio::task::yield_now().await;
                }
                _ = wake.notified() => {}
                _ = sleep => {
                    let mut w = me.borrow_mut();
                    w.fire_timers(Instant::now());
                    w.flush_sends();
                }
            }
            if closing {
                break;
            }
        }
        let mut w = me.borrow_mut();
        w.logger.debug("info", format_args!("Worker::run() | worker closing"));
        let ids: Vec<String> = w.transports.keys().chain(w.pipes.keys()).cloned().collect();
        for id in ids {
            w.close_transport(&id);
        }
        w.flush_sends();
    }

    // ----- network and timers ---------------------------------------------------------------

    /// Sends the UDP datagrams queued this turn (one sendmmsg per socket).
    pub(crate) fn flush_sends(&mut self) {
        self.out.borrow_mut().flush();
    }

    pub(crate) fn on_datagram(&mut self, id: &str, tuple: Tuple, data: &[u8]) {
        let Some(entry) = self.transports.get_mut(id) else {
            self.on_pipe_datagram(id, tuple, data);
            return;
        };
        entry.transport.handle_datagram(Instant::now(), tuple, data);
        self.flush(id);
    }

    fn on_pipe_datagram(&mut self, id: &str, tuple: Tuple, data: &[u8]) {
        let Some(PipeEntry { link: PipeLink::Udp { transport, .. }, router_id, rtp_packets_received, bytes_received, .. }) = self.pipes.get_mut(id) else { return };
        let now = Instant::now();
        transport.handle_datagram(now, tuple.remote, data);
        let router_id = router_id.clone();
        let mut received = Vec::new();
        while let Some(r) = transport.poll_received() {
            if let Received::Rtp(d) = &r {
                *rtp_packets_received += 1;
                *bytes_received += d.len() as u64;
            }
            received.push(r);
        }
        if let Some(router) = self.routers.get_mut(&router_id) {
            for r in received {
                match r {
                    Received::Rtp(d) => router.on_rtp(now, id, &d),
                    Received::Rtcp(d) => router.on_rtcp(now, id, &d),
                }
            }
        }
        self.drain_router(&router_id);
    }

    fn on_pipe(&mut self, id: &str, data: &[u8], rtcp: bool) {
        let Some(entry) = self.pipes.get_mut(id) else { return };
        entry.rtp_packets_received += u64::from(!rtcp);
        entry.bytes_received += data.len() as u64;
        let router_id = entry.router_id.clone();
        if let Some(router) = self.routers.get_mut(&router_id) {
            if rtcp {
                router.on_rtcp(Instant::now(), id, data);
            } else {
                router.on_rtp(Instant::now(), id, data);
            }
        }
        self.drain_router(&router_id);
    }

    pub(crate) fn on_tcp_closed(&mut self, id: &str, tuple: Tuple) {
        let Some(entry) = self.transports.get_mut(id) else { return };
        entry.io.remove_tcp_conn(tuple.local, tuple.remote);
        entry.transport.tcp_closed(Instant::now(), &tuple);
        self.flush(id);
    }

    pub(crate) fn register_tcp_conn(
        &mut self,
        id: &str,
        local: std::net::SocketAddr,
        remote: std::net::SocketAddr,
        tx: mpsc::UnboundedSender<Vec<u8>>,
        tasks: [AbortHandle; 2],
    ) -> bool {
        let Some(entry) = self.transports.get_mut(id) else { return false };
        entry.io.add_tcp_conn(local, remote, tx);
        for t in tasks {
            entry.io.add_task(t);
        }
        true
    }

    /// Sends what the transport produced, forwards its notifications, hands received media
    /// to its router (and sends what the router outputs), re-arms timers.
    fn flush(&mut self, id: &str) {
        let Some(entry) = self.transports.get_mut(id) else { return };
        let now = Instant::now();
        let router_id = entry.router_id.clone();
        let mut connected = false;
        while let Some((event, data)) = entry.transport.poll_notification() {
            connected |= event == "dtlsstatechange" && data["dtlsState"] == "connected";
            (self.sink)(Outgoing::Event { target: id.to_string(), event: event.to_string(), data });
        }
        let mut received = Vec::new();
        while let Some(r) = entry.transport.poll_received() {
            received.push(r);
        }
        if let Some(router) = self.routers.get_mut(&router_id) {
            if connected {
                router.transport_connected(now, id);
            }
            for r in received {
                match r {
                    Received::Rtp(data) => router.on_rtp(now, id, &data),
                    Received::Rtcp(data) => router.on_rtcp(now, id, &data),
                }
            }
        }
        self.drain_router(&router_id);
        self.send_transmits(id);
        self.arm_transport(id);
    }

    fn send_transmits(&mut self, id: &str) {
        let Some(entry) = self.transports.get_mut(id) else { return };
        while let Some(tx) = entry.transport.poll_transmit() {
            entry.io.send(&tx.tuple, tx.data);
        }
    }

    /// Sends the router's media and notifications, and re-arms its timer.
    fn drain_router(&mut self, router_id: &str) {
        let now = Instant::now();
        let Some(router) = self.routers.get_mut(router_id) else { return };
        while let Some(out) = router.poll_output() {
            match out {
                Output::Rtp { transport_id, data } => {
                    if let Some(pipe) = self.pipes.get_mut(&transport_id) {
                        pipe.send(now, data, false);
                    } else if let Some(e) = self.transports.get_mut(&transport_id) {
                        self.rtp_sent += u64::from(e.transport.send_media(now, &data, false));
                        while let Some(tx) = e.transport.poll_transmit() {
                            e.io.send(&tx.tuple, tx.data);
                        }
                    }
                }
                Output::Rtcp { transport_id, data } => {
                    if let Some(pipe) = self.pipes.get_mut(&transport_id) {
                        pipe.send(now, data, true);
                    } else if let Some(e) = self.transports.get_mut(&transport_id) {
                        e.transport.send_media(now, &data, true);
                        while let Some(tx) = e.transport.poll_transmit() {
                            e.io.send(&tx.tuple, tx.data);
                        }
                    }
                }
                Output::Notify { target, event, data } => {
                    (self.sink)(Outgoing::Event { target, event: event.to_string(), data });
                }
            }
        }
        let next = router.poll_timeout();
        let key = format!("r:{router_id}");
        let current = self.router_deadlines.get(&key).copied();
        // Re-armed only when due sooner (the stale heap entry is skipped when it fires).
        if let Some(d) = next.filter(|d| current.is_none_or(|c| *d < c)) {
            self.router_deadlines.insert(key.clone(), d);
            self.push_timer(d, key);
        }
    }

    fn arm_transport(&mut self, id: &str) {
        let Some(entry) = self.transports.get_mut(id) else { return };
        let next = entry.transport.poll_timeout();
        if next != entry.deadline {
            entry.deadline = next;
            if let Some(d) = next {
                self.push_timer(d, id.to_string());
            }
        }
    }

    fn push_timer(&mut self, d: Instant, key: String) {
        self.timers.push(Reverse((d, key)));
        if self.armed.is_none_or(|a| d < a) {
            self.wake.notify_one();
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(Reverse((t, _))) = self.timers.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((t, id))) = self.timers.pop() else { break };
            if let Some(router_id) = id.strip_prefix("r:") {
                if self.router_deadlines.get(&id) != Some(&t) {
                    continue;
                }
                self.router_deadlines.remove(&id);
                let router_id = router_id.to_string();
                if let Some(router) = self.routers.get_mut(&router_id) {
                    router.tick(now);
                }
                self.drain_router(&router_id);
                continue;
            }
            let Some(entry) = self.transports.get_mut(&id) else { continue };
            // Stale entries (re-armed since) are skipped.
            if entry.deadline != Some(t) {
                continue;
            }
            entry.deadline = None;
            entry.transport.handle_timeout(now);
            self.flush(&id);
        }
    }

    fn close_transport(&mut self, id: &str) {
        if let Some(mut pipe) = self.pipes.remove(id) {
            if let PipeLink::Udp { io, .. } = &mut pipe.link {
                io.abort();
            }
            if let Some(router) = self.routers.get_mut(&pipe.router_id) {
                router.close_transport(id);
            }
            self.drain_router(&pipe.router_id);
            return;
        }
        let Some(mut entry) = self.transports.remove(id) else { return };
        entry.transport.close(Instant::now());
        while let Some(tx) = entry.transport.poll_transmit() {
            entry.io.send(&tx.tuple, tx.data);
        }
        entry.io.abort();
        if let Some(router) = self.routers.get_mut(&entry.router_id) {
            router.close_transport(id);
        }
        self.drain_router(&entry.router_id);
    }

    // ----- requests -------------------------------------------------------------------------

    fn handle(&mut self, req: Request) -> Reply {
        self.logger.debug(
            "info",
            format_args!("Worker::HandleRequest() | [method:{}, id:{}]", req.method, req.id),
        );
        let method = req.method.as_str();
        match method {
            "worker.dump" => Ok(self.dump()),
            "worker.getResourceUsage" => Ok(resource_usage()),
            "worker.updateSettings" => self.update_settings(&req.data),
            "worker.createRouter" => self.create_router(&req.data),
            "worker.closeRouter" => {
                let id = req.data.get("routerId").and_then(Value::as_str).unwrap_or_default().to_string();
                self.close_router(&id);
                Ok(Value::Null)
            }
            "worker.panicForTesting" if self.test_hooks => {
                panic!("panic requested by a test")
            }
            m if m.starts_with("router.") => self.handle_router(&req),
            m if m.starts_with("transport.") || m.starts_with("webRtcTransport.") || m.starts_with("pipeTransport.") => self.handle_transport(&req),
            m if m.starts_with("producer.") || m.starts_with("consumer.") => self.handle_media(&req),
            m => {
                self.logger.warn("info", format_args!("unknown method '{m}'"));
                Err(unknown_method(m))
            }
        }
    }

    fn handle_router(&mut self, req: &Request) -> Reply {
        if !self.routers.contains_key(&req.handler_id) {
            return Err(not_found(&req.handler_id));
        }
        match req.method.as_str() {
            "router.dump" => Ok(self.routers[&req.handler_id].dump()),
            "router.updateRtpCapabilities" => {
                let router = self.routers.get_mut(&req.handler_id).expect("checked");
                router.rtp_capabilities = req.data.get("rtpCapabilities").cloned().unwrap_or(Value::Null);
                Ok(Value::Null)
            }
            "router.createWebRtcTransport" => self.create_webrtc_transport(&req.handler_id, &req.data),
            "router.createPipeTransport" => self.create_pipe_transport(&req.handler_id, &req.data),
            "router.closeTransport" => {
                let id = req.data.get("transportId").and_then(Value::as_str).unwrap_or_default().to_string();
                self.close_transport(&id);
                Ok(Value::Null)
            }
            m => Err(unknown_method(m)),
        }
    }

    fn handle_transport(&mut self, req: &Request) -> Reply {
        let id = req.handler_id.as_str();
        if self.pipes.contains_key(id) {
            return self.handle_pipe(req);
        }
        let Some(entry) = self.transports.get_mut(id) else {
            return Err(not_found(id));
        };
        let now = Instant::now();
        let router_id = entry.router_id.clone();
        match req.method.as_str() {
            "transport.produce" | "transport.consume" | "transport.closeProducer" | "transport.closeConsumer" => {
                let router = self.routers.get_mut(&router_id).ok_or_else(|| not_found(&router_id))?;
                let result = match req.method.as_str() {
                    "transport.produce" => router.produce(id, &req.data),
                    "transport.consume" => router.consume(now, id, &req.data),
                    "transport.closeProducer" => {
                        router.close_producer(req.data["producerId"].as_str().unwrap_or_default());
                        Ok(Value::Null)
                    }
                    _ => {
                        router.close_consumer(req.data["consumerId"].as_str().unwrap_or_default());
                        Ok(Value::Null)
                    }
                };
                self.drain_router(&router_id);
                return result;
            }
            _ => {}
        }
        let (producer_ids, consumer_ids) =
            self.routers.get(&router_id).map(|r| r.transport_dump_ids(id)).unwrap_or_default();
        let entry = self.transports.get_mut(id).expect("checked");
        let t = &mut entry.transport;
        let bitrate = || req.data.get("bitrate").and_then(Value::as_u64).unwrap_or(0);
        let result = match req.method.as_str() {
            "transport.dump" => {
                let mut d = t.dump_json();
                d["producerIds"] = json!(producer_ids);
                d["consumerIds"] = json!(consumer_ids);
                Ok(d)
            }
            "transport.getStats" => Ok(t.stats_json(now)),
            "transport.restartIce" => Ok(t.restart_ice()),
            "transport.setMaxIncomingBitrate" => t.set_bitrate("max_incoming", bitrate()).map(|()| Value::Null),
            "transport.setMaxOutgoingBitrate" => t.set_bitrate("max_outgoing", bitrate()).map(|()| Value::Null),
            "transport.setMinOutgoingBitrate" => t.set_bitrate("min_outgoing", bitrate()).map(|()| Value::Null),
            "transport.enableTraceEvent" => {
                let types = req
                    .data
                    .get("types")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                    .unwrap_or_default();
                t.enable_trace_event(types);
                Ok(Value::Null)
            }
            "webRtcTransport.connect" => t.connect(now, &req.data),
            m => Err(unknown_method(m)),
        };
        self.flush(id);
        result
    }

    fn handle_pipe(&mut self, req: &Request) -> Reply {
        let id = req.handler_id.as_str();
        let now = Instant::now();
        let router_id = self.pipes[id].router_id.clone();
        let result = match req.method.as_str() {
            "pipeTransport.connectInMemory" => {
                let worker = req.data["peerWorker"].as_u64().ok_or_else(|| RequestError::type_error("missing peerWorker"))? as u32;
                let peer_id = req.data["peerTransportId"].as_str().ok_or_else(|| RequestError::type_error("missing peerTransportId"))?.to_string();
                let tx = worker_senders().lock().ok().and_then(|s| s.get(&worker).cloned()).ok_or_else(|| RequestError::error("peer worker not found"))?;
                let entry = self.pipes.get_mut(id).expect("checked");
                let PipeLink::Memory(peer) = &mut entry.link else {
                    return Err(RequestError::error("not an in-memory pipe"));
                };
                *peer = Some((tx, peer_id));
                if let Some(router) = self.routers.get_mut(&router_id) {
                    router.transport_connected(now, id);
                }
                Ok(Value::Null)
            }
            "pipeTransport.connect" => {
                let entry = self.pipes.get_mut(id).expect("checked");
                let PipeLink::Udp { transport, .. } = &mut entry.link else {
                    return Err(RequestError::new(ErrorClass::InvalidStateError, "an in-memory pipe is connected by pipeToRouter()"));
                };
                let reply = transport.connect(&req.data)?;
                // No handshake: connected once the remote is known, as in mediasoup.
                if let Some(router) = self.routers.get_mut(&router_id) {
                    router.transport_connected(now, id);
                }
                Ok(reply)
            }
            "transport.produce" | "transport.consume" | "transport.closeProducer" | "transport.closeConsumer" => {
                let rtx = match &self.pipes[id].link {
                    PipeLink::Udp { transport, .. } => transport.rtx(),
                    PipeLink::Memory(_) => false,
                };
                let router = self.routers.get_mut(&router_id).ok_or_else(|| not_found(&router_id))?;
                match req.method.as_str() {
                    "transport.produce" => router.produce(id, &req.data),
                    "transport.consume" => {
                        let mut data = req.data.clone();
                        data["pipe"] = json!(true);
                        data["pipeTransport"] = json!(true);
                        data["pipeRtx"] = json!(rtx);
                        router.consume(now, id, &data)
                    }
                    "transport.closeProducer" => {
                        router.close_producer(req.data["producerId"].as_str().unwrap_or_default());
                        Ok(Value::Null)
                    }
                    _ => {
                        router.close_consumer(req.data["consumerId"].as_str().unwrap_or_default());
                        Ok(Value::Null)
                    }
                }
            }
            "transport.dump" => {
                let (producer_ids, consumer_ids) = self.routers.get(&router_id).map(|r| r.transport_dump_ids(id)).unwrap_or_default();
                let mut d = match &self.pipes[id].link {
                    PipeLink::Udp { transport, .. } => transport.dump_json(),
                    PipeLink::Memory(_) => json!({ "id": id, "tuple": pipe_tuple(), "rtx": false, "inMemory": true }),
                };
                d["producerIds"] = json!(producer_ids);
                d["consumerIds"] = json!(consumer_ids);
                Ok(d)
            }
            "transport.getStats" => Ok(self.pipes.get_mut(id).expect("checked").stats_json(now, id)),
            "transport.enableTraceEvent" => {
                if let PipeLink::Udp { transport, .. } = &mut self.pipes.get_mut(id).expect("checked").link {
                    let types = req.data.get("types").and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
                    transport.enable_trace_event(types);
                }
                Ok(Value::Null)
            }
            "transport.setMaxIncomingBitrate" | "transport.setMaxOutgoingBitrate" | "transport.setMinOutgoingBitrate" => Ok(Value::Null),
            m => Err(unknown_method(m)),
        };
        self.drain_router(&router_id);
        result
    }

    /// `router.createPipeTransport()`: in memory (for pipeToRouter within this process) or a
    /// UDP socket bound as `listenInfo` says.
    fn create_pipe_transport(&mut self, router_id: &str, data: &Value) -> Reply {
        let id = data["transportId"].as_str().ok_or_else(|| RequestError::type_error("missing transportId"))?.to_string();
        if self.pipes.contains_key(&id) || self.transports.contains_key(&id) {
            return Err(RequestError::error(format!("a Transport with id {id} already exists")));
        }
        let new_entry = |link| PipeEntry { router_id: router_id.to_string(), link, rtp_packets_sent: 0, rtp_packets_received: 0, bytes_sent: 0, bytes_received: 0 };
        let reply;
        if data["inMemory"].as_bool().unwrap_or(false) {
            self.pipes.insert(id.clone(), new_entry(PipeLink::Memory(None)));
            reply = json!({ "tuple": pipe_tuple(), "rtx": false });
        } else {
            if data["enableSctp"].as_bool().unwrap_or(false) {
                return Err(RequestError::new(ErrorClass::UnsupportedError, "SCTP (DataChannels) is not implemented in ferrosoup yet: createPipeTransport() needs enableSctp: false"));
            }
            let info = ListenInfo::from_json(data.get("listenInfo").unwrap_or(&Value::Null))?;
            if info.protocol != Protocol::Udp {
                return Err(RequestError::type_error("unsupported listen protocol"));
            }
            let rc_id: Rc<str> = Rc::from(id.as_str());
            let range = (self.settings.rtc_min_port, self.settings.rtc_max_port);
            let (sockets, io) = io::open(&self.self_ref, &rc_id, std::slice::from_ref(&info), range, &self.out)
                .map_err(|e| RequestError::error(format!("cannot bind pipe transport socket: {e}")))?;
            let local = sockets[0].local;
            let transport = PipeTransport::new(
                id.clone(),
                local,
                info.announced_address.clone(),
                data["enableRtx"].as_bool().unwrap_or(false),
                data["enableSrtp"].as_bool().unwrap_or(false),
            );
            reply = transport.data_json();
            self.logger.debug("info", format_args!("Router::createPipeTransport() | [transportId:{id}, local:{local}]"));
            self.pipes.insert(id.clone(), new_entry(PipeLink::Udp { transport, io }));
        }
        self.routers.get_mut(router_id).expect("checked").add_transport(&id);
        Ok(reply)
    }

    fn handle_media(&mut self, req: &Request) -> Reply {
        let id = req.handler_id.as_str();
        let is_producer = req.method.starts_with("producer.");
        let router_id = self
            .routers
            .iter()
            .find(|(_, r)| if is_producer { r.has_producer(id) } else { r.has_consumer(id) })
            .map(|(rid, _)| rid.clone())
            .ok_or_else(|| not_found(id))?;
        let now = Instant::now();
        let router = self.routers.get_mut(&router_id).expect("found");
        let result = if is_producer {
            router.producer_request(now, &req.method, id, &req.data)
        } else {
            router.consumer_request(now, &req.method, id, &req.data)
        };
        self.drain_router(&router_id);
        result
    }

    fn dump(&self) -> Value {
        let mut handlers: Vec<&String> = self.router_order.iter().collect();
        handlers.extend(self.transports.keys());
        json!({
            "pid": std::process::id(),
            "webRtcServerIds": [],
            "routerIds": self.router_order,
            "channelMessageHandlers": {
                "channelRequestHandlers": handlers,
                "channelNotificationHandlers": [],
            },
            // ferrosoup: RTP packets this worker has sent to its transports.
            "rtpPacketsSent": self.rtp_sent,
            // ferrosoup: UDP datagrams sent, and the send syscalls that carried them.
            "udpDatagramsSent": self.out.borrow().datagrams,
            "udpSendSyscalls": self.out.borrow().syscalls,
            "udpSendFailures": self.out.borrow().failures,
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
        let mut router = Router::new(id.clone(), caps.clone());
        // ferrosoup extension: router-wide key frame cache default (`false` turns it off).
        router.key_frame_cache = crate::producer::KeyFrameCacheConfig::from_json(
            data.get("keyFrameCache"),
            Some(crate::producer::KeyFrameCacheConfig::default()),
        );
        self.routers.insert(id.clone(), router);
        self.router_order.push(id);
        Ok(json!({ "rtpCapabilities": caps }))
    }

    fn close_router(&mut self, id: &str) {
        if let Some(router) = self.routers.remove(id) {
            self.router_order.retain(|r| r != id);
            for t in router.transport_ids {
                self.close_transport(&t);
            }
        }
    }

    fn create_webrtc_transport(&mut self, router_id: &str, data: &Value) -> Reply {
        let id = data
            .get("transportId")
            .and_then(Value::as_str)
            .ok_or_else(|| RequestError::type_error("missing transportId"))?
            .to_string();
        if self.transports.contains_key(&id) {
            return Err(RequestError::error(format!("a Transport with id {id} already exists")));
        }
        let infos = data
            .get("listenInfos")
            .and_then(Value::as_array)
            .ok_or_else(|| RequestError::type_error("missing listenInfos"))?
            .iter()
            .map(ListenInfo::from_json)
            .collect::<Result<Vec<_>, _>>()?;
        if infos.is_empty() {
            return Err(RequestError::type_error("empty listenInfos"));
        }
        let consent = data.get("iceConsentTimeout").and_then(Value::as_u64).unwrap_or(30).min(255) as u8;
        let bitrate = data.get("initialAvailableOutgoingBitrate").and_then(Value::as_u64).unwrap_or(600_000);
        let rc_id: Rc<str> = Rc::from(id.as_str());
        let range = (self.settings.rtc_min_port, self.settings.rtc_max_port);
        let (sockets, io) = io::open(&self.self_ref, &rc_id, &infos, range, &self.out)
            .map_err(|e| RequestError::error(format!("cannot bind transport sockets: {e}")))?;
        let transport = WebRtcTransport::new(id.clone(), self.cert.clone(), sockets, consent, bitrate);
        let reply = transport.data_json();
        self.logger.debug("info", format_args!("Router::createWebRtcTransport() | [transportId:{id}]"));
        self.transports.insert(
            id.clone(),
            TransportEntry { router_id: router_id.to_string(), transport, io, deadline: None },
        );
        self.routers.get_mut(router_id).expect("checked").add_transport(&id);
        Ok(reply)
    }
}

fn not_found(id: &str) -> RequestError {
    RequestError::error(format!("Channel request handler with ID {id} not found"))
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
