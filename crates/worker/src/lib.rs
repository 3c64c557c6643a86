//! ferrosoup's runtime: one native thread per worker with a single-threaded tokio loop that
//! drives one sans-IO [`Engine`]. The loop only feeds inputs (requests, datagrams, pipe
//! messages, timeouts) and performs outputs (sends, replies, events, binds). A panic anywhere
//! ends only this worker: it reports `Died`.

pub mod handshakes;
pub mod send_queue;
pub mod sockets;

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ferrosoup_sfu::api::{ApiError, Body, Reply, Request, Settings};
use ferrosoup_sfu::engine::{BoundSocket, Engine, EngineConfig, Input, Output, PipeMessage};
use ferrosoup_sfu::net::certificate::LocalCertificate;
use ferrosoup_sfu::net::framing::Deframer;
use ferrosoup_sfu::net::SocketId;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, Notify};

use send_queue::SendQueue;
use sockets::{Opened, Socket, Sockets};

/// What a worker says to the app (through the binding's sink).
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// The worker's loop is up: `createWorker()` resolves. `pid` is the thread's kernel id.
    Running { pid: u32 },
    Response { id: u32, result: Result<Reply, ApiError> },
    /// A notification for the app's object `target`.
    Event { target: Arc<str>, event: &'static str, data: Value },
    /// A native log line; `level` is `D`, `W` or `E` as mediasoup's worker logs.
    Log { level: char, text: String },
    /// The worker thread panicked; nothing more will come.
    Died { reason: String },
    /// The worker thread ended after `close()`; nothing more will come.
    Exited,
}

/// Where a worker sends what it has to say. Must not block. Returns `false` when it shed the
/// message (only ever a trace or score event or a log line, when the app is far behind).
pub type Sink = Arc<dyn Fn(Outgoing) -> bool + Send + Sync>;

impl Outgoing {
    /// Whether the app can do without it when it falls far behind (never answers, lifecycle
    /// or state events).
    pub fn sheddable(&self) -> bool {
        match self {
            // A DirectTransport's packets to the app are media: lost under overload, like UDP.
            Outgoing::Event { event, .. } => matches!(*event, "trace" | "score" | "rtp" | "rtcp"),
            Outgoing::Log { .. } => true,
            _ => false,
        }
    }
}

/// Media between workers of this process (in-memory pipes) waiting in a worker's queue at most;
/// beyond it, messages are dropped and counted (a stalled worker must not grow memory).
const PIPE_QUEUE: usize = 8192;

enum Control {
    /// A request and when the app queued it (to measure how long requests wait).
    Request(Request, Instant),
    Close,
}

/// A worker's inbound channels: requests (never dropped) and pipe media (bounded).
#[derive(Clone)]
struct Inbound {
    control: mpsc::UnboundedSender<Control>,
    pipe: mpsc::Sender<PipeMessage>,
}

static NEXT_WORKER: AtomicU32 = AtomicU32::new(1);

/// Every live worker's inbound channels, by worker number: how a pipe transport reaches its
/// peer on another worker thread of this process.
fn registry() -> &'static std::sync::Mutex<HashMap<u32, Inbound>> {
    static REGISTRY: std::sync::OnceLock<std::sync::Mutex<HashMap<u32, Inbound>>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The app's handle on a running worker thread.
pub struct WorkerHandle {
    inbound: Inbound,
    pub number: u32,
}

impl WorkerHandle {
    /// Queues a request; `false` once the worker has gone.
    pub fn request(&self, req: Request) -> bool {
        self.inbound.control.send(Control::Request(req, Instant::now())).is_ok()
    }

    /// Asks the worker to stop; it answers `Exited` when its thread is done.
    pub fn close(&self) {
        let _ = self.inbound.control.send(Control::Close);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The worker's certificate: from the settings' files, or generated.
fn certificate(settings: &Settings) -> Result<Option<Arc<LocalCertificate>>, ApiError> {
    let (Some(c), Some(k)) = (&settings.dtls_certificate_file, &settings.dtls_private_key_file) else { return Ok(None) };
    let read = |name: &str, path: &str| std::fs::read_to_string(path).map_err(|e| ApiError::type_error(format!("cannot read {name} '{path}': {e}")));
    let cert_pem = read("dtlsCertificateFile", c)?;
    let key_pem = read("dtlsPrivateKeyFile", k)?;
    LocalCertificate::from_pem(c, &cert_pem, k, &key_pem).map(Some).map_err(ApiError::type_error)
}

/// Starts a worker thread. `test_hooks` enables requests that exist only for tests (a
/// deliberate panic). Certificate files are read here so that bad ones reject at once.
pub fn spawn(settings: Settings, sink: Sink, test_hooks: bool) -> Result<WorkerHandle, ApiError> {
    let cert = certificate(&settings)?;
    let (control, control_rx) = mpsc::unbounded_channel();
    let (pipe, pipe_rx) = mpsc::channel(PIPE_QUEUE);
    let inbound = Inbound { control, pipe };
    let number = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut r) = registry().lock() {
        r.insert(number, inbound.clone());
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
                let video_padding = if send_queue::gso() { 16 } else { 0 };
                let config = EngineConfig { settings: settings.clone(), certificate: cert, seed: seed(), worker: number, video_padding };
                let runtime = Runtime::new(config, sink.clone(), test_hooks, control_rx);
                local.block_on(&rt, run(runtime, pipe_rx));
                Ok::<(), std::io::Error>(())
            }));
            if let Ok(mut r) = registry().lock() {
                r.remove(&number);
            }
            match outcome {
                Ok(Ok(())) => sink(Outgoing::Exited),
                Ok(Err(e)) => sink(Outgoing::Died { reason: format!("worker event loop failed: {e}") }),
                Err(payload) => sink(Outgoing::Died { reason: format!("worker thread panicked: {}", panic_message(payload.as_ref())) }),
            };
            // Dropping the sink here releases what kept Node alive for this worker.
        })
        .map_err(|e| ApiError::other(format!("cannot start worker thread: {e}")))?;
    Ok(WorkerHandle { inbound, number })
}

fn seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    ferrosoup_sfu::net::crypto().random().fill(&mut s).expect("OS randomness");
    s
}

/// The calling thread's kernel id: a worker's `pid` (unique per worker, unlike the process's).
fn thread_id() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// The worker's state on its thread: the engine and the sockets it drives.
struct Runtime {
    engine: Engine,
    sockets: Sockets,
    sends: SendQueue,
    sink: Sink,
    pid: u32,
    test_hooks: bool,
    /// Other workers' channels, as used (looked up in the registry on first use).
    peers: HashMap<u32, mpsc::Sender<PipeMessage>>,
    pipe_dropped: u64,
    /// Events and logs the sink shed because the app was far behind.
    events_shed: u64,
    /// How long the latest requests waited between the app and the engine.
    request_waits: RequestWaits,
    /// When each request awaiting its answer was queued, and how long the latest took from
    /// there to their answer going to the app.
    answering: HashMap<u32, Instant>,
    answer_times: RequestWaits,
    /// How long the worker spent on each kind of request since the last dump.
    request_service: std::collections::BTreeMap<&'static str, (u64, u64, u64, u64)>,
    /// How long the thread went without looking at requests, and what held it longest.
    holds: Holds,
    /// Requests from the app: the loop waits on them, and socket readers serve what is queued
    /// before each batch, so a request never waits behind every socket's turn.
    control: mpsc::UnboundedReceiver<Control>,
    /// The app asked the worker to stop (seen by a reader: the loop ends at its next turn).
    closing: bool,
    /// What to tell the app, in order, once this turn's sends are out.
    to_app: Vec<Outgoing>,
    /// The engine's next deadline, and whether the loop must re-arm its sleep.
    deadline: Option<Instant>,
    wake: Rc<Notify>,
    /// A panic caught in a socket task: the event loop re-raises it so the worker dies.
    poisoned: Option<String>,
    /// DTLS handshake work back from the pool (`handshakes`), and where the pool sends it.
    handshakes_back: handshakes::Back,
    handshakes_done: mpsc::UnboundedReceiver<ferrosoup_sfu::engine::HandshakeWork>,
    me: Weak<RefCell<Runtime>>,
}

impl Runtime {
    fn new(config: EngineConfig, sink: Sink, test_hooks: bool, control: mpsc::UnboundedReceiver<Control>) -> Rc<RefCell<Self>> {
        let mut engine = Engine::new(config, Instant::now(), SystemTime::now());
        engine.set_handshake_offload(true);
        let (handshakes_back, handshakes_done) = mpsc::unbounded_channel();
        Rc::new_cyclic(|me| {
            RefCell::new(Runtime {
                engine,
                sockets: Sockets::default(),
                sends: SendQueue::default(),
                sink,
                pid: thread_id(),
                test_hooks,
                peers: HashMap::new(),
                pipe_dropped: 0,
                events_shed: 0,
                request_waits: RequestWaits::default(),
                answering: HashMap::new(),
                answer_times: RequestWaits::default(),
                request_service: Default::default(),
                holds: Holds::new(),
                control,
                closing: false,
                to_app: Vec::new(),
                deadline: None,
                wake: Rc::new(Notify::new()),
                poisoned: None,
                handshakes_back,
                handshakes_done,
                me: me.clone(),
            })
        })
    }

    /// Runs `f` on the runtime from a socket task. A panic there is recorded and re-raised by
    /// the event loop, so it kills the worker as a panic anywhere else would.
    fn guarded(me: &Rc<RefCell<Runtime>>, f: impl FnOnce(&mut Runtime)) {
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut r = me.borrow_mut();
            r.holds.begin();
            f(&mut r);
            r.holds.look(true);
        }));
        if let Err(payload) = r {
            let mut rt = me.borrow_mut();
            rt.poisoned = Some(panic_message(payload.as_ref()));
            rt.wake.notify_one();
        }
    }

    /// Feeds one input and performs everything the engine wants done.
    fn feed(&mut self, input: Input<'_>) {
        self.engine.handle_input(Instant::now(), input);
        self.drain();
    }

    /// Goes on with a packet's fan-out to many consumers a chunk at a time, serving requests
    /// between chunks once the thread has held on for `LOOK_EVERY`.
    fn fan_out(&mut self) {
        while self.engine.has_more() {
            if self.holds.held() >= LOOK_EVERY {
                self.serve_requests();
            }
            let (started, cpu) = (Instant::now(), thread_cpu());
            self.engine.handle_input(Instant::now(), Input::Resume);
            self.drain();
            self.holds.work_cpu("fan-out", started, cpu);
        }
    }

    fn drain(&mut self) {
        loop {
            match self.engine.poll_output() {
                Output::Transmit(t) => match self.sockets.get(t.socket) {
                    Some(Socket::Udp { sock, .. }) => self.sends.push(sock, t.to, t.data),
                    Some(Socket::TcpConn { .. }) => {
                        self.sockets.send_tcp(t.socket, &t.data);
                    }
                    _ => {}
                },
                Output::Reply { id, result } => self.to_app.push(Outgoing::Response { id, result }),
                Output::Event(e) => self.to_app.push(Outgoing::Event { target: e.target, event: e.name, data: e.data }),
                Output::Log(l) => self.to_app.push(Outgoing::Log { level: l.level, text: l.text }),
                Output::Pipe { worker, message } => self.send_pipe(worker, message),
                Output::Bind { token, sockets } => {
                    let result = self.bind(&sockets);
                    self.engine.handle_input(Instant::now(), Input::Bound { token, result });
                }
                Output::CloseSocket(id) => self.sockets.close(id),
                Output::Handshake(work) => {
                    if let Err(mut work) = handshakes::submit(work, &self.handshakes_back) {
                        work.run();
                        self.engine.handle_input(Instant::now(), Input::HandshakeDone(work));
                    }
                }
                Output::Timeout(t) => {
                    if t != self.deadline {
                        let sooner = match (t, self.deadline) {
                            (Some(new), Some(old)) => new < old,
                            (Some(_), None) => true,
                            _ => false,
                        };
                        self.deadline = t;
                        if sooner {
                            self.wake.notify_one();
                        }
                    }
                    return;
                }
            }
        }
    }

    /// Sends what this turn queued (UDP batched per socket) and tells the app what happened.
    fn flush(&mut self) {
        let started = Instant::now();
        loop {
            // Requests are served between send syscalls once the thread has held on for
            // `LOOK_EVERY`: a fan-out of thousands of datagrams does not make them wait.
            // What they queue goes to a fresh queue, sent after this one.
            let stand_in = self.sends.stand_in();
            let mut sends = std::mem::replace(&mut self.sends, stand_in);
            sends.flush(&mut || {
                if self.holds.held() >= LOOK_EVERY {
                    self.serve_requests();
                    self.tell_app();
                }
            });
            let more = std::mem::replace(&mut self.sends, sends);
            if more.is_empty() {
                break;
            }
            self.sends.take_from(more);
        }
        self.holds.work("flush", started);
        self.engine.recycle(self.sends.spent());
        self.tell_app();
    }

    fn tell_app(&mut self) {
        for o in self.to_app.drain(..) {
            if let Outgoing::Response { id, .. } = &o {
                if let Some(queued) = self.answering.remove(id) {
                    self.answer_times.record(queued.elapsed());
                }
            }
            if !(self.sink)(o) {
                self.events_shed += 1;
            }
        }
    }

    fn send_pipe(&mut self, worker: u32, message: PipeMessage) {
        let tx = match self.peers.get(&worker) {
            Some(tx) => tx.clone(),
            None => {
                let Some(tx) = registry().lock().ok().and_then(|r| r.get(&worker).map(|i| i.pipe.clone())) else {
                    self.pipe_dropped += 1;
                    return;
                };
                self.peers.insert(worker, tx.clone());
                tx
            }
        };
        match tx.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.pipe_dropped += 1,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.pipe_dropped += 1;
                self.peers.remove(&worker);
            }
        }
    }

    /// Opens the sockets the engine asked for and starts serving them.
    fn bind(&mut self, specs: &[ferrosoup_sfu::engine::BindSpec]) -> Result<Vec<BoundSocket>, String> {
        let opened = sockets::bind_all(specs)?;
        let mut out = Vec::new();
        for (o, protocol, local) in opened {
            let id = self.sockets.next_id();
            match o {
                Opened::Udp(sock) => {
                    let task = tokio::task::spawn_local(udp_reader(self.me.clone(), id, sock.clone()));
                    self.sockets.insert(id, Socket::Udp { sock, task: task.abort_handle() });
                }
                Opened::Tcp(listener) => {
                    let task = tokio::task::spawn_local(tcp_acceptor(self.me.clone(), id, listener));
                    self.sockets.insert(id, Socket::TcpListener { task: task.abort_handle() });
                }
            }
            out.push(sockets::bound(id, protocol, local));
        }
        Ok(out)
    }

    /// Requests only the runtime can answer (it knows the thread and the sockets).
    fn handle_request(&mut self, req: Request) {
        let id = req.id;
        let result = match req.body {
            Body::WorkerDump => {
                let extra = self.dump_extra();
                self.engine.set_dump_extra(extra);
                self.feed(Input::Request(req));
                return;
            }
            Body::WorkerGetResourceUsage => {
                self.engine.log_request(&req);
                self.drain();
                Ok(Reply::Value(resource_usage()))
            }
            Body::WorkerPanicForTesting if self.test_hooks => panic!("panic requested by a test"),
            Body::WorkerPanicForTesting => Err(ApiError::other("unknown method 'worker.panicForTesting'")),
            _ => {
                self.feed(Input::Request(req));
                return;
            }
        };
        self.to_app.push(Outgoing::Response { id, result });
    }

    /// Handles the requests queued now: at most `REQUEST_BATCH`, for at most `REQUEST_SLICE`,
    /// and none after one that closed sockets (the loop turns first, so that their ports are
    /// free for the next request).
    fn serve_requests(&mut self) {
        self.holds.look(false);
        let started = Instant::now();
        let mut handled = 0;
        while !self.closing {
            let Ok(msg) = self.control.try_recv() else { break };
            if !self.serve(msg) {
                break;
            }
            handled += 1;
            if handled >= REQUEST_BATCH || started.elapsed() >= REQUEST_SLICE {
                break;
            }
        }
        // Answers leave now, not after the rest of the turn's datagrams and sends.
        if !self.to_app.is_empty() {
            self.tell_app();
        }
    }

    /// One message from the app; `false` when no other should follow in this turn.
    fn serve(&mut self, msg: Control) -> bool {
        match msg {
            Control::Request(req, queued) => {
                let closed = self.sockets.closed;
                self.request_waits.record(queued.elapsed());
                if req.wants_reply() {
                    self.answering.insert(req.id, queued);
                }
                let (method, started, cpu) = (req.method, Instant::now(), thread_cpu());
                self.handle_request(req);
                let us = started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
                let cpu_us = thread_cpu().saturating_sub(cpu).as_micros().min(u128::from(u64::MAX)) as u64;
                let e = self.request_service.entry(method).or_default();
                *e = (e.0 + 1, e.1 + us, e.2.max(us), e.3 + cpu_us);
                self.sockets.closed == closed
            }
            Control::Close => {
                self.closing = true;
                self.wake.notify_one();
                false
            }
        }
    }

    fn dump_extra(&mut self) -> Value {
        json!({
            "pid": self.pid,
            // ferrosoup: UDP datagrams sent, the send syscalls that carried them, and drops.
            "udpDatagramsSent": self.sends.datagrams,
            "udpSendSyscalls": self.sends.syscalls,
            // ... and how many of those datagrams left by segmentation offload, in how many messages.
            "udpGsoDatagrams": self.sends.gso_datagrams,
            "udpGsoMessages": self.sends.gso_messages,
            "udpSendFailures": self.sends.failures,
            "tcpFramesDropped": self.sockets.tcp_dropped,
            "pipeMessagesDropped": self.pipe_dropped,
            "eventsShed": self.events_shed,
            // ferrosoup: how long requests waited for the worker thread since the last dump (µs).
            "requestWait": self.request_waits.take_json(),
            // ferrosoup: ... and from there to their answer leaving for the app.
            "requestAnswer": self.answer_times.take_json(),
            // ferrosoup: per method, how many requests and the worker's time on them since the last
            // dump (µs: elapsed in total and at most, and the thread's CPU time in total).
            // ferrosoup: the longest stretches without a look at requests since the last dump.
            "holds": self.holds.take_json(),
            "requestService": std::mem::take(&mut self.request_service).into_iter().map(|(m, (n, total, max, cpu))| (m.to_string(), json!({ "count": n, "totalUs": total, "maxUs": max, "cpuUs": cpu }))).collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// The wait of the latest requests (queued by the app → taken by the worker thread).
#[derive(Default)]
struct RequestWaits {
    latest: std::collections::VecDeque<u32>,
    count: u64,
}

impl RequestWaits {
    const KEEP: usize = 4096;

    fn record(&mut self, wait: Duration) {
        if self.latest.len() == Self::KEEP {
            self.latest.pop_front();
        }
        self.latest.push_back(wait.as_micros().min(u128::from(u32::MAX)) as u32);
        self.count += 1;
    }

    /// The waits since the last call (the latest 4,096 at most).
    fn take_json(&mut self) -> Value {
        let mut v: Vec<u32> = self.latest.drain(..).collect();
        v.sort_unstable();
        let at = |q: f64| v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1))).copied();
        json!({ "count": self.count, "latest": v.len(), "p50Us": at(0.5), "p99Us": at(0.99), "maxUs": v.last() })
    }
}

/// What a datagram is (RFC 7983's demultiplexing), to say which kind of work held the thread.
fn datagram_kind(d: &[u8]) -> &'static str {
    match (d.first(), d.get(1)) {
        (Some(0..=3), _) => "stun",
        (Some(20..=63), _) => "dtls",
        (Some(128..=191), Some(192..=223)) => "rtcp",
        (Some(128..=191), _) => "rtp",
        _ => "other",
    }
}

/// How long the thread held on between two looks at the app's requests (a request that
/// arrives meanwhile waits at least that long), and the longest single pieces of work by kind.
struct Holds {
    since: Option<Instant>,
    count: u64,
    max_us: u64,
    over_1ms: u64,
    /// Per kind of work ("flush", "timer", ...): how many, the longest (µs), how many over 1 ms,
    /// and the most CPU time one took (µs; measured for the kinds that are few per second: a
    /// long one that took little CPU was the thread waiting for a CPU).
    kinds: std::collections::BTreeMap<&'static str, (u64, u64, u64, u64)>,
}

impl Holds {
    fn new() -> Self {
        Holds { since: None, count: 0, max_us: 0, over_1ms: 0, kinds: Default::default() }
    }

    /// The thread starts working (woken by a socket, a timer or the app).
    fn begin(&mut self) {
        self.since = Some(Instant::now());
    }

    /// The thread looks at requests (or goes idle): the stretch since the last look ends.
    fn look(&mut self, idle: bool) {
        let now = Instant::now();
        if let Some(since) = self.since {
            let us = now.saturating_duration_since(since).as_micros().min(u128::from(u64::MAX)) as u64;
            self.count += 1;
            self.max_us = self.max_us.max(us);
            self.over_1ms += u64::from(us > 1000);
        }
        self.since = (!idle).then_some(now);
    }

    /// How long since the thread last looked at requests.
    fn held(&self) -> Duration {
        self.since.map_or(Duration::ZERO, |s| s.elapsed())
    }

    fn work(&mut self, kind: &'static str, started: Instant) {
        self.record(kind, started, None);
    }

    /// As `work`, with the thread's CPU time at the start.
    fn work_cpu(&mut self, kind: &'static str, started: Instant, cpu: Duration) {
        self.record(kind, started, Some(thread_cpu().saturating_sub(cpu)));
    }

    fn record(&mut self, kind: &'static str, started: Instant, cpu: Option<Duration>) {
        let us = |d: Duration| d.as_micros().min(u128::from(u64::MAX)) as u64;
        let wall = us(started.elapsed());
        let e = self.kinds.entry(kind).or_default();
        *e = (e.0 + 1, e.1.max(wall), e.2 + u64::from(wall > 1000), e.3.max(cpu.map_or(0, us)));
    }

    fn take_json(&mut self) -> Value {
        let kinds = std::mem::take(&mut self.kinds).into_iter().map(|(k, (n, max, over, cpu))| (k.to_string(), json!({ "count": n, "maxUs": max, "over1ms": over, "maxCpuUs": cpu }))).collect::<serde_json::Map<_, _>>();
        let v = json!({ "count": self.count, "maxUs": self.max_us, "over1ms": self.over_1ms, "work": kinds });
        (self.count, self.max_us, self.over_1ms) = (0, 0, 0);
        v
    }
}

/// A long piece of work (a flush of many sends) stops to serve requests this often.
const LOOK_EVERY: Duration = Duration::from_micros(500);

/// At most this many requests, for at most this long, are handled in one turn of the loop.
const REQUEST_BATCH: usize = 64;
const REQUEST_SLICE: Duration = Duration::from_millis(2);

/// How long one reader turn may drain its socket before the next datagram waits for a new turn.
const READER_SLICE: Duration = Duration::from_millis(20);

thread_local! {
    /// The receive buffer of every UDP reader of this worker thread: readers take turns on one
    /// thread and a datagram is handled before the next is read, so one buffer serves them all
    /// (not 64 KiB per socket, i.e. per WebRtcTransport).
    static RECV_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; 65536]);
}

async fn udp_reader(rt: Weak<RefCell<Runtime>>, id: SocketId, sock: Rc<UdpSocket>) {
    loop {
        if sock.readable().await.is_err() {
            continue;
        }
        let Some(me) = rt.upgrade() else { return };
        Runtime::guarded(&me, |r| {
            RECV_BUF.with_borrow_mut(|buf| {
                // Drain what is queued without going back to the scheduler, for a bounded time.
                let started = Instant::now();
                for i in 0..65 {
                    if i > 0 && started.elapsed() >= READER_SLICE {
                        break;
                    }
                    match sock.try_recv_from(buf) {
                        Ok((n, from)) => {
                            // Requests queued meanwhile go first, and between datagrams too: they
                            // must not wait for every socket's turn, and a datagram may be a
                            // costly handshake step.
                            r.serve_requests();
                            let started = Instant::now();
                            r.feed(Input::Datagram { socket: id, from, data: &buf[..n] });
                            r.holds.work(datagram_kind(&buf[..n]), started);
                            r.fan_out();
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        // Transient errors (e.g. ICMP-induced) must not end the reader.
                        Err(_) => {}
                    }
                }
            });
            // What this batch made the worker send leaves now, batched per socket.
            r.flush();
        });
        drop(me);
        // A socket that never runs dry (a saturated worker) must not keep the thread: tokio's
        // budget would let this loop run ~128 batches (tens of seconds at full fan-out) before
        // requests, timers and other sockets get a turn.
        tokio::task::yield_now().await;
    }
}

/// Pause after a failed accept (e.g. out of file descriptors), so a listener cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

async fn tcp_acceptor(rt: Weak<RefCell<Runtime>>, listener_id: SocketId, listener: TcpListener) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(r) => r,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some(me) = rt.upgrade() else { return };
        let (mut reader, mut writer) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(sockets::TCP_WRITE_QUEUE);
        let write_task = tokio::task::spawn_local(async move {
            while let Some(frame) = rx.recv().await {
                if writer.write_all(&frame).await.is_err() {
                    break;
                }
            }
        });
        let conn = me.borrow_mut().sockets.next_id();
        let rt2 = rt.clone();
        let read_task = tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 65536];
            let mut frames = Deframer::default();
            loop {
                let n = match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                frames.push(&buf[..n]);
                let Some(me) = rt2.upgrade() else { return };
                Runtime::guarded(&me, |r| {
                    while let Some(f) = frames.next_frame() {
                        r.feed(Input::Datagram { socket: conn, from: remote, data: f });
                        r.fan_out();
                    }
                    r.flush();
                });
                drop(me);
                // As for UDP: a busy connection must not keep the thread (see udp_reader).
                tokio::task::yield_now().await;
            }
            if let Some(me) = rt2.upgrade() {
                Runtime::guarded(&me, |r| {
                    r.sockets.close(conn);
                    r.feed(Input::TcpClosed { conn });
                    r.flush();
                });
            }
        });
        Runtime::guarded(&me, |r| {
            r.sockets.insert(conn, Socket::TcpConn { writer: tx, tasks: [write_task.abort_handle(), read_task.abort_handle()] });
            r.feed(Input::TcpAccepted { listener: listener_id, conn, remote });
            r.flush();
        });
    }
}

async fn run(rt: Rc<RefCell<Runtime>>, mut pipe: mpsc::Receiver<PipeMessage>) {
    let (sink, wake, pid) = {
        let r = rt.borrow();
        (r.sink.clone(), r.wake.clone(), r.pid)
    };
    sink(Outgoing::Running { pid });
    {
        let mut r = rt.borrow_mut();
        r.drain();
        r.flush();
    }
    loop {
        let deadline = {
            let mut r = rt.borrow_mut();
            if let Some(reason) = r.poisoned.take() {
                panic!("{reason}");
            }
            if r.closing {
                break;
            }
            r.deadline
        };
        let sleep = async move {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            msg = std::future::poll_fn(|cx| rt.borrow_mut().control.poll_recv(cx)) => {
                let mut r = rt.borrow_mut();
                r.holds.begin();
                match msg {
                    // Requests that arrive together are answered together.
                    Some(msg) => {
                        if r.serve(msg) {
                            r.serve_requests();
                        }
                    }
                    None => r.closing = true,
                }
                r.flush();
                r.holds.look(true);
                let closing = r.closing;
                drop(r);
                if closing {
                    break;
                }
                // Aborted socket tasks are dropped now, before the next request is handled, so
                // a closed transport's ports are free for it.
                tokio::task::yield_now().await;
            }
            work = std::future::poll_fn(|cx| rt.borrow_mut().handshakes_done.poll_recv(cx)) => {
                // DTLS handshakes back from the pool: flights out, transports connected.
                let mut r = rt.borrow_mut();
                r.holds.begin();
                let (mut work, mut n) = (work, 0);
                while let Some(w) = work {
                    r.feed(Input::HandshakeDone(w));
                    r.fan_out();
                    n += 1;
                    work = if n < 16 { r.handshakes_done.try_recv().ok() } else { None };
                }
                r.flush();
                r.holds.look(true);
            }
            msg = pipe.recv() => {
                // Media from in-memory pipes comes a packet per message: take what is queued
                // (up to a bound) before flushing, so sends batch per socket.
                let mut r = rt.borrow_mut();
                r.holds.begin();
                let (mut msg, mut n) = (msg, 0);
                while let Some(m) = msg {
                    r.feed(Input::Pipe(m));
                    r.fan_out();
                    n += 1;
                    // Not one more than taken: a message received is a message fed.
                    msg = if n < 64 { pipe.try_recv().ok() } else { None };
                }
                r.flush();
                r.holds.look(true);
                drop(r);
                // Pipe media can arrive without pause: let sockets and timers have a turn.
                tokio::task::yield_now().await;
            }
            _ = wake.notified() => {}
            _ = sleep => {
                let mut r = rt.borrow_mut();
                r.holds.begin();
                let (started, cpu) = (Instant::now(), thread_cpu());
                r.feed(Input::Timeout);
                r.holds.work_cpu("timer", started, cpu);
                r.flush();
                r.holds.look(true);
            }
        }
    }
    let mut r = rt.borrow_mut();
    r.engine.close(Instant::now());
    r.drain();
    r.flush();
    r.sockets.close_all();
}

/// `getrusage()` of the calling thread (this worker), in mediasoup's units (times in ms).
fn resource_usage() -> Value {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let ms = |tv: libc::timeval| tv.tv_sec * 1000 + tv.tv_usec / 1000;
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
