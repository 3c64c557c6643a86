//! Engine: everything one worker does, sans-IO. Inputs (requests, datagrams with the socket
//! and remote address, pipe messages, time) go in through [`Engine::handle_input`]; outputs
//! (datagrams to send, replies, events, pipe messages, sockets to open or close, the next
//! timeout) come out of [`Engine::poll_output`]. Mutate, then drain to the timeout.
//!
//! The engine owns the worker's routers and transports; routers own their producers and
//! consumers. It dispatches typed requests by handler id (a map, no scans), routes datagrams
//! by socket, and keeps one deadline per router and transport.

pub mod io;
pub mod timers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use crate::api::request::{CreatePipeTransport, CreatePlainTransport, CreateWebRtcServer, CreateWebRtcTransport, CreateWebRtcTransportWithServer};
use crate::api::settings::{parse_log_tags, LogLevel, Settings};
use crate::api::request::Consume;
use crate::api::{ApiError, ApiResult, Body, Reply, Request, RouterId, TransportId};
use crate::arena::Arena;
use crate::clock::Clock;
use crate::log::Logger;
use crate::net::certificate::LocalCertificate;
use crate::net::rng::Rng;
use crate::net::{Protocol, SocketId, Tuple};
use crate::router::consumer::ConsumerKey;
use crate::router::producer::{KeyFrameCacheConfig, ProducerKey};
use crate::router::{Router, RouterKey};
use crate::transport::congestion::Congestion;
use crate::transport::direct::DirectTransport;
use crate::transport::pipe::{MemoryPipe, PipeTransport};
use crate::transport::plain::{PlainSocket, PlainTransport};
use crate::transport::webrtc::WebRtcTransport;
use crate::transport::webrtc_server::{Route, ServerSocket, WebRtcServer, WebRtcServerKey};
use crate::transport::{Link, LocalSocket, Received, Transport, TransportKey};

pub use io::{BindSpec, BindToken, BoundSocket, Event, HandshakeWork, Input, Outbox, Output, PipeMessage};
use timers::{TimerKey, Timers};

/// Receive buffer a WebRtcServer's UDP socket asks for unless its listen info names one (the
/// kernel caps it at `net.core.rmem_max`).
pub const SERVER_RECV_BUFFER: usize = 4 * 1024 * 1024;

pub struct EngineConfig {
    pub settings: Settings,
    pub certificate: Arc<LocalCertificate>,
    /// Seed of the engine's random source (SSRCs, ICE credentials, pipe keys...).
    pub seed: [u8; 32],
    /// This worker's number (where other workers' pipes send to).
    pub worker: u32,
    /// Video packets to viewers padded (RTP padding) to a multiple of this many bytes, 0 for
    /// none: the runtime sends a viewer's consecutive datagrams of one size as one message
    /// (UDP segmentation offload), and a browser's packets of a frame differ by a byte or so.
    pub video_padding: u8,
}

/// What a request's handler id names.
#[derive(Clone, Copy, Debug)]
enum Handler {
    WebRtcServer(WebRtcServerKey),
    Router(RouterKey),
    Transport(TransportKey),
    Producer(RouterKey, ProducerKey),
    Consumer(RouterKey, ConsumerKey),
    RtpObserver(RouterKey, crate::router::observer::ObserverKey),
    DataProducer(RouterKey, crate::router::data::DataProducerKey),
    DataConsumer(RouterKey, crate::router::data::DataConsumerKey),
}

/// Who a socket belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Transport(TransportKey),
    /// A WebRtcServer's (its transports are found per datagram).
    Server(WebRtcServerKey),
}

struct SocketInfo {
    owner: Owner,
    protocol: Protocol,
    local: SocketAddr,
    /// A TCP connection: its remote.
    remote: Option<SocketAddr>,
}

/// A transport waiting for its sockets.
enum Pending {
    WebRtc { id: u32, router: RouterKey, req: CreateWebRtcTransport },
    Pipe { id: u32, router: RouterKey, req: CreatePipeTransport },
    Plain { id: u32, router: RouterKey, req: CreatePlainTransport },
    Server { id: u32, req: CreateWebRtcServer },
}

pub struct Engine {
    clock: Clock,
    rng: Rng,
    logger: Logger,
    settings: Settings,
    cert: Arc<LocalCertificate>,
    worker: u32,
    routers: Arena<Router>,
    router_order: Vec<RouterKey>,
    transports: Arena<Transport>,
    servers: Arena<WebRtcServer>,
    server_order: Vec<WebRtcServerKey>,
    handlers: HashMap<String, Handler>,
    sockets: HashMap<SocketId, SocketInfo>,
    pending: HashMap<BindToken, Pending>,
    next_token: u64,
    timers: Timers,
    touched: Vec<TimerKey>,
    out: Outbox,
    now: Instant,
    /// RTP packets sent by transports that have since closed (for the worker's count).
    rtp_sent_closed: u64,
    /// What the runtime adds to `worker.dump()` (its pid, socket counters).
    dump_extra: Value,
    /// The router whose packet fan-out is under way (`Input::Resume` continues it).
    resuming: Option<RouterKey>,
    /// DTLS handshake reads go out as `Output::Handshake` (see `set_handshake_offload`).
    offload_handshakes: bool,
}

impl Engine {
    pub fn new(config: EngineConfig, now: Instant, wall: SystemTime) -> Self {
        Engine {
            clock: Clock::new(now, wall),
            rng: Rng::from_seed(config.seed),
            logger: Logger::new(&config.settings),
            settings: config.settings,
            cert: config.certificate,
            worker: config.worker,
            routers: Arena::default(),
            router_order: Vec::new(),
            transports: Arena::default(),
            servers: Arena::default(),
            server_order: Vec::new(),
            handlers: HashMap::new(),
            resuming: None,
            offload_handshakes: false,
            sockets: HashMap::new(),
            pending: HashMap::new(),
            next_token: 1,
            timers: Timers::default(),
            touched: Vec::new(),
            out: Outbox::padding_video(config.video_padding),
            now,
            rtp_sent_closed: 0,
            dump_extra: Value::Null,
        }
    }

    /// From now on, WebRtcTransports' DTLS handshake reads (~0.3 ms of CPU a handshake) come
    /// out as `Output::Handshake` for the runtime to run on another thread and give back as
    /// `Input::HandshakeDone`; the media thread meanwhile serves requests and forwards.
    pub fn set_handshake_offload(&mut self, on: bool) {
        self.offload_handshakes = on;
    }

    /// Fields the runtime adds to `worker.dump()`.
    pub fn set_dump_extra(&mut self, extra: Value) {
        self.dump_extra = extra;
    }

    /// Logs a request as mediasoup's worker does (also for the ones the runtime answers).
    pub fn log_request(&mut self, r: &Request) {
        self.log(LogLevel::Debug, "info", format_args!("Worker::HandleRequest() | [method:{}, id:{}]", r.method, r.id));
    }

    pub fn worker(&self) -> u32 {
        self.worker
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The one entry point for everything that happens to the worker.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.now = now;
        // Media and time come in order: a fan-out under way ends before anything else happens
        // to the media (requests and bind answers may come between its chunks).
        if !matches!(input, Input::Request(_) | Input::Bound { .. } | Input::Resume) {
            while self.resuming.is_some() {
                self.resume(now);
            }
        }
        match input {
            Input::Resume => self.resume(now),
            Input::Request(r) => {
                self.log_request(&r);
                let (id, wants_reply) = (r.id, r.wants_reply());
                if let Some(result) = self.handle_request(now, r) {
                    if wants_reply {
                        self.out.push(Output::Reply { id, result });
                    }
                }
            }
            Input::Datagram { socket, from, data } => self.on_datagram(now, socket, from, data),
            Input::TcpAccepted { listener, conn, remote } => self.on_tcp_accepted(listener, conn, remote),
            Input::TcpClosed { conn } => self.on_tcp_closed(now, conn),
            Input::Bound { token, result } => self.on_bound(now, token, result),
            Input::Pipe(msg) => self.on_pipe(now, msg),
            Input::Timeout => self.on_timeout(now),
            Input::HandshakeDone(work) => self.on_handshake_done(now, work),
        }
    }

    /// Datagram buffers that went out, for the engine to write the next ones into.
    pub fn recycle(&mut self, buffers: &mut Vec<Vec<u8>>) {
        self.out.recycle(buffers);
    }

    /// The next output; `Output::Timeout` when there is nothing more until then.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop() {
            return o;
        }
        for key in std::mem::take(&mut self.touched) {
            let deadline = match key {
                TimerKey::Router(rk) => self.routers.get(rk).and_then(|r| r.poll_timeout(self.now)),
                TimerKey::Transport(tk) => self.transports.get(tk).and_then(|t| t.poll_timeout()),
                TimerKey::Server(sk) => self.servers.get(sk).and_then(|s| s.poll_timeout()),
            };
            self.timers.set(key, deadline);
        }
        Output::Timeout(self.timers.next())
    }

    fn touch(&mut self, key: TimerKey) {
        if self.touched.last() != Some(&key) {
            self.touched.push(key);
        }
    }

    fn log(&mut self, level: LogLevel, tag: &str, text: std::fmt::Arguments<'_>) {
        if let Some(line) = self.logger.line(level, Some(tag), text) {
            self.out.push(Output::Log(line));
        }
    }

    // ----- network and time ----------------------------------------------------------------

    fn on_datagram(&mut self, now: Instant, socket: SocketId, from: SocketAddr, data: &[u8]) {
        let Some(info) = self.sockets.get(&socket) else { return };
        let tuple = Tuple { socket, protocol: info.protocol, local: info.local, remote: from };
        let tk = match info.owner {
            Owner::Transport(tk) => tk,
            Owner::Server(sk) => {
                let Some(server) = self.servers.get_mut(sk) else { return };
                match server.route(socket, from, data) {
                    Route::Transport(tk) => tk,
                    Route::Drop => return,
                }
            }
        };
        let Some(t) = self.transports.get_mut(tk) else { return };
        let rk = t.router;
        let via_server = t.server.is_some();
        let received = match &mut t.link {
            Link::WebRtc(w) => {
                let r = w.handle_datagram(now, tuple, data, &mut self.out);
                let connected = w.take_newly_connected();
                if let Some(job) = w.take_handshake_job() {
                    self.out.push(Output::Handshake(HandshakeWork { transport: tk, job }));
                }
                self.touch(TimerKey::Transport(tk));
                if via_server && r.is_none() {
                    self.sync_server(tk);
                }
                if connected {
                    self.transport_connected(now, rk, tk);
                }
                r
            }
            Link::Pipe(p) => p.handle_datagram(now, from, data),
            Link::Plain(p) => {
                let r = p.handle_datagram(now, socket, from, data, &mut self.out);
                if p.take_newly_connected() {
                    self.transport_connected(now, rk, tk);
                }
                r
            }
            _ => None,
        };
        match received {
            Some(Received::Rtp(d)) => self.route_rtp(now, rk, tk, &d, false),
            Some(Received::Rtcp(d)) => self.route_rtp(now, rk, tk, &d, true),
            Some(Received::Sctp(d)) => self.sctp_packets(now, tk, vec![d]),
            None => {}
        }
        // SCTP arrives as DTLS application data on a WebRtcTransport.
        if let Some(Link::WebRtc(w)) = self.transports.get_mut(tk).map(|t| &mut t.link) {
            let mut packets = Vec::new();
            while let Some(p) = w.poll_sctp() {
                packets.push(p.to_vec());
            }
            if !packets.is_empty() {
                self.sctp_packets(now, tk, packets);
            }
        }
    }

    /// A transport's DTLS handshake reads back from another thread: as a DTLS datagram would
    /// (flights out, connected, SCTP that came meanwhile).
    fn on_handshake_done(&mut self, now: Instant, work: HandshakeWork) {
        let tk = work.transport;
        // Gone (closed) meanwhile: the key names no transport, or another of the same kind.
        let Some(t) = self.transports.get_mut(tk) else { return };
        let rk = t.router;
        let Link::WebRtc(w) = &mut t.link else { return };
        w.handshake_done(now, work.job, &mut self.out);
        let connected = w.take_newly_connected();
        if let Some(job) = w.take_handshake_job() {
            self.out.push(Output::Handshake(HandshakeWork { transport: tk, job }));
        }
        let mut packets = Vec::new();
        while let Some(p) = w.poll_sctp() {
            packets.push(p.to_vec());
        }
        self.touch(TimerKey::Transport(tk));
        if connected {
            self.transport_connected(now, rk, tk);
        }
        if !packets.is_empty() {
            self.sctp_packets(now, tk, packets);
        }
    }

    /// SCTP packets for transport `tk`'s association.
    fn sctp_packets(&mut self, now: Instant, tk: TransportKey, packets: Vec<Vec<u8>>) {
        let Some(t) = self.transports.get_mut(tk) else { return };
        let Some(sctp) = t.data.sctp.as_mut() else { return };
        for p in &packets {
            sctp.handle_packet(now, p);
        }
        self.sctp_progress(now, tk);
    }

    /// After anything happened to transport `tk`'s association: what it sends goes out, and its
    /// events reach the router and the app.
    fn sctp_progress(&mut self, now: Instant, tk: TransportKey) {
        loop {
            let Some(t) = self.transports.get_mut(tk) else { return };
            t.flush_sctp(now, &mut self.out);
            let rk = t.router;
            let target = t.id.arc().clone();
            let Some(ev) = t.data.sctp.as_mut().and_then(|s| s.poll_event()) else { break };
            use crate::net::sctp::{SctpEvent, SctpState};
            match ev {
                SctpEvent::State(s) => {
                    if matches!(s, SctpState::Closed | SctpState::Failed) {
                        // Its data consumers never send again.
                        if let Some(router) = self.routers.get_mut(rk) {
                            for ck in &t.data.consumers {
                                if let Some(c) = router.data.consumers.get_mut(*ck) {
                                    c.association_closed = true;
                                }
                            }
                        }
                    }
                    self.out.event(&target, "sctpstatechange", json!({ "sctpState": s.name() }));
                }
                SctpEvent::Capabilities { outbound, inbound } => {
                    t.data.negotiated = Some((outbound, inbound));
                    self.out.event(&target, "sctpnegotiatedcapabilities", json!({ "negotiatedMaxOutboundStreams": outbound, "negotiatedMaxInboundStreams": inbound }));
                }
                SctpEvent::Message { stream, ppid, data } => {
                    let pipe = t.is_pipe();
                    if let Some(router) = self.routers.get_mut(rk) {
                        router.on_data(now, tk, stream, ppid, &data, pipe, &mut self.transports, &mut self.out);
                    }
                }
                SctpEvent::BufferedAmountLow { stream, amount } => {
                    let ck = t.data.consumer_streams.get(&stream).copied();
                    if let Some(c) = ck.and_then(|k| self.routers.get(rk)?.data.consumers.get(k)) {
                        self.out.event(c.target(), "bufferedamountlow", json!({ "bufferedAmount": amount }));
                    }
                }
                SctpEvent::StreamReset(stream) => {
                    // A DataChannel closed by the peer: the data consumer on that stream goes
                    // (without a word to the app, as mediasoup).
                    if t.data.is_data_channel {
                        if let Some(ck) = t.data.consumer_streams.get(&stream).copied() {
                            if let Some(router) = self.routers.get_mut(rk) {
                                router.data.remove_consumer(now, ck, &mut self.transports, &mut self.out);
                            }
                            self.forget_removed(rk);
                        }
                    }
                }
            }
        }
        self.touch(TimerKey::Transport(tk));
    }

    /// mediasoup's MayConnect: a Plain/Pipe transport's association starts once the remote is
    /// known and it has a data producer or consumer; of two ferrosoup ends, the one with the
    /// lower address sends the INIT (the other answers). A WebRtcTransport waits for the
    /// browser's INIT.
    fn sctp_may_connect(&mut self, now: Instant, tk: TransportKey) {
        let Some(t) = self.transports.get_mut(tk) else { return };
        if t.data.producers.is_empty() && t.data.consumers.is_empty() {
            return;
        }
        let client = match &t.link {
            Link::Plain(p) => p.remote().is_some_and(|r| p.local() < r),
            Link::Pipe(p) => p.remote().is_some_and(|r| p.local() < r),
            _ => false,
        };
        if let (true, Some(s)) = (client, t.data.sctp.as_mut()) {
            s.become_client();
            s.connect(now);
            self.sctp_progress(now, tk);
        }
    }

    /// Tells a transport's WebRtcServer what its ICE validated or forgot and whether a restart
    /// finished (STUN and timeouts only: media changes neither). A TCP connection ICE forgot
    /// is closed, as mediasoup does.
    fn sync_server(&mut self, tk: TransportKey) {
        let Some(t) = self.transports.get_mut(tk) else { return };
        let (Some(sk), Link::WebRtc(w)) = (t.server, &mut t.link) else { return };
        let Some(server) = self.servers.get_mut(sk) else { return };
        for (tuple, valid) in w.take_tuple_changes() {
            server.tuple_changed(tk, tuple.socket, tuple.remote, valid);
            if !valid && tuple.protocol == Protocol::Tcp && server.tcp_closed(tuple.socket).is_some() {
                self.sockets.remove(&tuple.socket);
                self.out.push(Output::CloseSocket(tuple.socket));
            }
        }
        if server.restarting(tk) && w.old_username_fragment().is_none() {
            server.set_ufrags(tk, w.username_fragment(), None);
        }
    }

    fn route_rtp(&mut self, now: Instant, rk: RouterKey, tk: TransportKey, data: &[u8], rtcp: bool) {
        let Some(router) = self.routers.get_mut(rk) else { return };
        if rtcp {
            router.on_rtcp(now, &self.clock, tk, data, &mut self.transports, &mut self.out);
        } else {
            router.on_rtp(now, &self.clock, tk, data, &mut self.transports, &mut self.out);
            if router.fanout_pending() {
                self.resuming = Some(rk);
            }
        }
        self.touch(TimerKey::Router(rk));
    }

    /// Whether a packet's fan-out is under way: the runtime feeds `Input::Resume` (serving
    /// requests between) until it ends, before other media.
    pub fn has_more(&self) -> bool {
        self.resuming.is_some()
    }

    fn resume(&mut self, now: Instant) {
        let Some(rk) = self.resuming else { return };
        let more = self.routers.get_mut(rk).is_some_and(|r| r.resume(now, &self.clock, &mut self.transports, &mut self.out));
        if !more {
            self.resuming = None;
        }
        self.touch(TimerKey::Router(rk));
    }

    fn transport_connected(&mut self, now: Instant, rk: RouterKey, tk: TransportKey) {
        if let Some(router) = self.routers.get_mut(rk) {
            router.transport_connected(now, &self.clock, tk, &mut self.transports, &mut self.out);
            self.touch(TimerKey::Router(rk));
        }
        self.sctp_may_connect(now, tk);
    }

    fn on_tcp_accepted(&mut self, listener: SocketId, conn: SocketId, remote: SocketAddr) {
        let Some(info) = self.sockets.get(&listener) else {
            self.out.push(Output::CloseSocket(conn));
            return;
        };
        let (owner, local) = (info.owner, info.local);
        let accepted = match owner {
            Owner::Server(sk) => {
                let now = self.now;
                let accepted = self.servers.get_mut(sk).is_some_and(|s| s.tcp_accepted(now, conn));
                self.touch(TimerKey::Server(sk));
                accepted
            }
            Owner::Transport(tk) => {
                let connections = self.sockets.values().filter(|s| s.owner == owner && s.remote.is_some()).count() + 1;
                let now = self.now;
                let accepted = match self.transports.get_mut(tk).map(|t| &mut t.link) {
                    Some(Link::WebRtc(w)) => w.tcp_accepted(now, Tuple { socket: conn, protocol: Protocol::Tcp, local, remote }, connections),
                    _ => false,
                };
                if accepted {
                    self.transports[tk].sockets.push(conn);
                    self.touch(TimerKey::Transport(tk));
                }
                accepted
            }
        };
        if !accepted {
            self.out.push(Output::CloseSocket(conn));
            return;
        }
        self.sockets.insert(conn, SocketInfo { owner, protocol: Protocol::Tcp, local, remote: Some(remote) });
    }

    fn on_tcp_closed(&mut self, now: Instant, conn: SocketId) {
        let Some(info) = self.sockets.remove(&conn) else { return };
        let Some(remote) = info.remote else { return };
        let tk = match info.owner {
            Owner::Transport(tk) => tk,
            Owner::Server(sk) => match self.servers.get_mut(sk).and_then(|s| s.tcp_closed(conn)) {
                Some(tk) => tk,
                None => return,
            },
        };
        let Some(t) = self.transports.get_mut(tk) else { return };
        t.sockets.retain(|s| *s != conn);
        if let Link::WebRtc(w) = &mut t.link {
            w.tcp_closed(now, &Tuple { socket: conn, protocol: Protocol::Tcp, local: info.local, remote }, &mut self.out);
            // The server already forgot the connection's tuple.
            let _ = w.take_tuple_changes();
            self.touch(TimerKey::Transport(tk));
        }
    }

    fn on_pipe(&mut self, now: Instant, msg: PipeMessage) {
        let Some(Handler::Transport(tk)) = self.handlers.get(&*msg.transport).copied() else { return };
        let Some(t) = self.transports.get_mut(tk) else { return };
        let Link::Memory(m) = &mut t.link else { return };
        let rk = t.router;
        match msg.kind {
            crate::engine::io::PipeKind::Rtp | crate::engine::io::PipeKind::Rtcp => {
                let rtcp = msg.kind == crate::engine::io::PipeKind::Rtcp;
                m.received(msg.data.len(), rtcp);
                self.route_rtp(now, rk, tk, &msg.data, rtcp);
            }
            crate::engine::io::PipeKind::Data { stream, ppid } => {
                m.received(msg.data.len(), true);
                if let Some(router) = self.routers.get_mut(rk) {
                    router.on_data(now, tk, stream, ppid, &msg.data, true, &mut self.transports, &mut self.out);
                }
            }
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_due(now) {
            match key {
                TimerKey::Router(rk) => {
                    if let Some(router) = self.routers.get_mut(rk) {
                        router.tick(now, &self.clock, &mut self.transports, &mut self.out);
                    }
                }
                TimerKey::Transport(tk) => {
                    let Some(t) = self.transports.get_mut(tk) else { continue };
                    let rk = t.router;
                    let via_server = t.server.is_some();
                    if let Link::WebRtc(w) = &mut t.link {
                        w.handle_timeout(now, &mut self.out);
                        let connected = w.take_newly_connected();
                        for socket in w.take_sockets_to_close() {
                            self.sockets.remove(&socket);
                            t.sockets.retain(|s| *s != socket);
                            self.out.push(Output::CloseSocket(socket));
                        }
                        if via_server {
                            self.sync_server(tk);
                        }
                        if connected {
                            self.transport_connected(now, rk, tk);
                        }
                    }
                    if let Some(s) = self.transports.get_mut(tk).and_then(|t| t.data.sctp.as_mut()) {
                        s.handle_timeout(now);
                        self.sctp_progress(now, tk);
                    }
                }
                TimerKey::Server(sk) => {
                    let Some(server) = self.servers.get_mut(sk) else { continue };
                    for conn in server.handle_timeout(now) {
                        self.sockets.remove(&conn);
                        self.out.push(Output::CloseSocket(conn));
                    }
                }
            }
            self.touch(key);
        }
    }

    // ----- requests -------------------------------------------------------------------------

    /// Handles a request; `None` when its answer comes later (after sockets are bound).
    fn handle_request(&mut self, now: Instant, mut r: Request) -> Option<ApiResult<Reply>> {
        // The requests of a join answer with text they write themselves (see api::reply).
        if matches!(r.body, Body::TransportConsume(_) | Body::RouterCreateWebRtcTransportWithServer(_)) {
            match (r.body, self.handlers.get(&r.handler).copied()) {
                (Body::TransportConsume(req), Some(Handler::Transport(tk))) => return Some(self.transport_consume(now, tk, req)),
                (Body::RouterCreateWebRtcTransportWithServer(req), Some(Handler::Router(rk))) => {
                    self.routers.get(rk)?;
                    return Some(self.create_webrtc_transport_with_server(rk, req).map(Reply::Json));
                }
                (body, _) => r.body = body,
            }
        }
        self.handle_value_request(now, r).map(|result| result.map(Reply::Value))
    }

    fn handle_value_request(&mut self, now: Instant, r: Request) -> Option<ApiResult<Value>> {
        let handler = match r.body.target() {
            crate::api::request::Target::Worker => None,
            _ => match self.handlers.get(&r.handler).copied() {
                Some(h) => Some(h),
                None => return Some(Err(ApiError::not_found(format!("Channel request handler with ID {} not found [method:{}]", r.handler, r.method)))),
            },
        };
        Some(match (r.body, handler) {
            (Body::WorkerDump, _) => Ok(self.dump()),
            (Body::WorkerGetResourceUsage, _) | (Body::WorkerPanicForTesting, _) => Err(ApiError::other("handled by the runtime")),
            (Body::WorkerUpdateSettings(s), _) => self.update_settings(s),
            (Body::WorkerCreateRouter(c), _) => self.create_router(c.router_id, c.media_codecs, c.key_frame_cache),
            (Body::WorkerCreateWebRtcServer(c), _) => return self.create_webrtc_server(r.id, c),
            (Body::WorkerCloseWebRtcServer(c), _) => match self.handlers.get(c.web_rtc_server_id.as_str()).copied() {
                Some(Handler::WebRtcServer(sk)) => {
                    self.close_webrtc_server(now, sk);
                    Ok(Value::Null)
                }
                _ => Err(ApiError::not_found(format!("WebRtcServer not found [method:{}]", r.method))),
            },
            (Body::WebRtcServerDump, Some(Handler::WebRtcServer(sk))) => {
                let transports = &self.transports;
                Ok(self.servers[sk].dump_json(|tk| transports.get(tk).map(|t| t.id.to_string())))
            }
            (Body::WorkerCloseRouter(c), _) => {
                if let Some(Handler::Router(rk)) = self.handlers.get(c.router_id.as_str()).copied() {
                    self.close_router(now, rk);
                }
                Ok(Value::Null)
            }
            (body, Some(Handler::Router(rk))) => return self.router_request(now, r.id, rk, body),
            (body, Some(Handler::Transport(tk))) => self.transport_request(now, tk, body),
            (Body::ProducerSend(packet), Some(Handler::Producer(rk, pk))) => {
                // Into the producer's transport as if it came from the network: the RTP
                // listener picks the producer (mediasoup does the same).
                let tk = self.routers.get(rk)?.producer(pk)?.transport();
                if let Some(Link::Direct(d)) = self.transports.get_mut(tk).map(|t| &mut t.link) {
                    if !d.from_app(now, packet.len(), false) {
                        return None;
                    }
                }
                self.route_rtp(now, rk, tk, &packet, false);
                return None;
            }
            (body, Some(Handler::Producer(rk, pk))) => {
                let router = self.routers.get_mut(rk)?;
                let result = router.producer_request(now, &self.clock, pk, body, &mut self.transports, &mut self.out);
                self.touch(TimerKey::Router(rk));
                result
            }
            (body, Some(Handler::Consumer(rk, ck))) => {
                let router = self.routers.get_mut(rk)?;
                let result = router.consumer_request(now, &self.clock, ck, body, &mut self.transports, &mut self.out);
                self.touch(TimerKey::Router(rk));
                result
            }
            (body, Some(Handler::DataProducer(rk, k))) => {
                let router = self.routers.get_mut(rk)?;
                let result = router.data_producer_request(now, &self.clock, k, body, &mut self.transports, &mut self.out);
                self.touch(TimerKey::Router(rk));
                result
            }
            (body, Some(Handler::DataConsumer(rk, k))) => {
                let router = self.routers.get_mut(rk)?;
                let result = router.data_consumer_request(now, &self.clock, k, body, &mut self.transports, &mut self.out);
                self.touch(TimerKey::Router(rk));
                result
            }
            (body, Some(Handler::RtpObserver(rk, ok))) => {
                let router = self.routers.get_mut(rk)?;
                let result = router.observer_request(now, ok, body, &mut self.out);
                self.touch(TimerKey::Router(rk));
                result
            }
            (_, Some(Handler::WebRtcServer(_))) => Err(ApiError::other("not a WebRtcServer request")),
            (_, None) => Err(ApiError::other("no handler")),
        })
    }

    /// `worker.dump()` as the engine knows it (the runtime adds what only it knows).
    pub fn dump(&self) -> Value {
        let server_ids: Vec<&str> = self.server_order.iter().filter_map(|k| self.servers.get(*k)).map(|s| s.id.as_str()).collect();
        // As mediasoup lists them: every entity that takes requests; transports and producers
        // also take notifications.
        let mut handlers: Vec<String> = server_ids.iter().map(|s| s.to_string()).collect();
        handlers.extend(self.router_order.iter().filter_map(|k| self.routers.get(*k)).map(|r| r.id().to_string()));
        let transport_ids: Vec<String> = self.transports.iter().map(|(_, t)| t.id.to_string()).collect();
        handlers.extend(transport_ids.iter().cloned());
        let mut notification_handlers = transport_ids;
        for r in self.router_order.iter().filter_map(|k| self.routers.get(*k)) {
            let producers = r.producer_ids();
            handlers.extend(producers.iter().cloned());
            handlers.extend(r.consumer_ids());
            handlers.extend(r.observers.ids());
            notification_handlers.extend(producers);
        }
        let rtp_sent: u64 = self.rtp_sent_closed + self.transports.iter().map(|(_, t)| t.media.rtp_packets_sent).sum::<u64>();
        let mut d = json!({
            "pid": 0,
            "webRtcServerIds": server_ids,
            "routerIds": self.router_order.iter().filter_map(|k| self.routers.get(*k)).map(|r| r.id().as_str()).collect::<Vec<_>>(),
            "channelMessageHandlers": {
                "channelRequestHandlers": handlers,
                "channelNotificationHandlers": notification_handlers,
            },
            // ferrosoup: RTP packets this worker has sent to its transports.
            "rtpPacketsSent": rtp_sent,
        });
        if let (Value::Object(d), Value::Object(extra)) = (&mut d, &self.dump_extra) {
            for (k, v) in extra {
                d.insert(k.clone(), v.clone());
            }
        }
        d
    }

    fn update_settings(&mut self, s: crate::api::request::UpdateSettings) -> ApiResult<Value> {
        let mut level = self.logger.level();
        if let Some(l) = s.log_level.as_deref().filter(|l| !l.is_empty()) {
            level = LogLevel::parse(l)?;
        }
        let tags = match &s.log_tags {
            Some(v) => parse_log_tags(Some(v)),
            None => self.logger.tags().to_vec(),
        };
        self.logger.update(level, tags);
        Ok(Value::Null)
    }

    fn create_router(&mut self, id: RouterId, media_codecs: Option<Value>, key_frame_cache: Option<Value>) -> ApiResult<Value> {
        if self.handlers.contains_key(id.as_str()) {
            return Err(ApiError::other(format!("a Router with id {id} already exists")));
        }
        let caps = crate::ortc::generate_router_rtp_capabilities(media_codecs.as_ref())?;
        self.log(LogLevel::Debug, "info", format_args!("Worker::createRouter() | [routerId:{id}]"));
        // ferrosoup extension: router-wide key frame cache default (`false` turns it off).
        let cache = KeyFrameCacheConfig::from_json(key_frame_cache.as_ref(), Some(KeyFrameCacheConfig::default()));
        let rk = self.routers.insert(Router::new(id.clone(), caps.clone(), cache));
        self.router_order.push(rk);
        self.handlers.insert(id.to_string(), Handler::Router(rk));
        Ok(json!({ "rtpCapabilities": caps }))
    }

    fn close_router(&mut self, now: Instant, rk: RouterKey) {
        let Some(router) = self.routers.get(rk) else { return };
        for tk in router.transports().to_vec() {
            self.close_transport(now, tk);
        }
        if let Some(router) = self.routers.remove(rk) {
            self.handlers.remove(router.id().as_str());
            for id in router.ids() {
                self.handlers.remove(&id);
            }
        }
        self.router_order.retain(|k| *k != rk);
        self.timers.set(TimerKey::Router(rk), None);
    }

    fn router_request(&mut self, now: Instant, id: u32, rk: RouterKey, body: Body) -> Option<ApiResult<Value>> {
        let router = self.routers.get_mut(rk)?;
        Some(match body {
            Body::RouterDump => Ok(router.dump(&self.transports)),
            Body::RouterUpdateRtpCapabilities(u) => {
                router.rtp_capabilities = u.rtp_capabilities;
                Ok(Value::Null)
            }
            Body::RouterCreateWebRtcTransport(req) => {
                if let Err(e) = self.check_new_transport(&req.transport_id) {
                    return Some(Err(e));
                }
                if req.listen_infos.is_empty() {
                    return Some(Err(ApiError::type_error("empty listenInfos")));
                }
                let specs = req.listen_infos.iter().map(|i| self.bind_spec(i.clone())).collect();
                self.bind(specs, Pending::WebRtc { id, router: rk, req });
                return None;
            }
            Body::RouterCreateWebRtcTransportWithServer(req) => {
                return Some(self.create_webrtc_transport_with_server(rk, req).map(|text| Reply::Json(text).into_value()));
            }
            Body::RouterCreatePipeTransport(req) => {
                if let Err(e) = self.check_new_transport(&req.transport_id) {
                    return Some(Err(e));
                }
                if req.in_memory {
                    let tk = self.add_transport(rk, req.transport_id.clone(), Link::Memory(MemoryPipe::default()), Vec::new());
                    // Data messages cross in memory too (no SCTP needed between workers).
                    self.transports[tk].data.in_memory = true;
                    return Some(Ok(json!({ "tuple": crate::transport::pipe::memory_tuple(), "rtx": false })));
                }
                let Some(info) = req.listen_info.clone() else { return Some(Err(ApiError::type_error("missing listenInfo"))) };
                if info.protocol != Protocol::Udp {
                    return Some(Err(ApiError::type_error("unsupported listen protocol")));
                }
                let spec = self.bind_spec(info);
                self.bind(vec![spec], Pending::Pipe { id, router: rk, req });
                return None;
            }
            Body::RouterCreatePlainTransport(req) => {
                if let Err(e) = self.check_new_transport(&req.transport_id) {
                    return Some(Err(e));
                }
                if req.listen_info.protocol != Protocol::Udp {
                    return Some(Err(ApiError::type_error("unsupported listen protocol")));
                }
                let rtcp_info = (!req.rtcp_mux).then(|| req.rtcp_listen_info.clone().unwrap_or_else(|| req.listen_info.clone()));
                if rtcp_info.as_ref().is_some_and(|i| i.protocol != Protocol::Udp) {
                    return Some(Err(ApiError::type_error("unsupported RTCP listen protocol")));
                }
                if let Some(s) = req.srtp_crypto_suite.as_deref().filter(|_| req.enable_srtp) {
                    if crate::net::srtp::Profile::from_name(s).is_none() {
                        return Some(Err(ApiError::type_error(format!("invalid SrtpCryptoSuite: {s}"))));
                    }
                }
                let mut specs = vec![self.bind_spec(req.listen_info.clone())];
                specs.extend(rtcp_info.map(|i| self.bind_spec(i)));
                self.bind(specs, Pending::Plain { id, router: rk, req });
                return None;
            }
            Body::RouterCreateDirectTransport(req) => {
                if let Err(e) = self.check_new_transport(&req.transport_id) {
                    return Some(Err(e));
                }
                let d = DirectTransport::new(req.transport_id.clone(), req.max_send_message_size, req.max_receive_message_size);
                let tk = self.add_transport(rk, req.transport_id, Link::Direct(Box::new(d)), Vec::new());
                self.transports[tk].data = crate::transport::TransportData::new(None, false, req.max_send_message_size as usize, req.max_receive_message_size as usize);
                // Nothing to wait for: its consumers send at once.
                self.transport_connected(now, rk, tk);
                return Some(Ok(Value::Null));
            }
            Body::RouterCreateAudioLevelObserver(c) => {
                let id = c.rtp_observer_id.clone();
                let r = router.observers.create_audio_level(c.rtp_observer_id, c.max_entries, c.threshold, c.interval, now);
                self.observer_created(rk, id, r)
            }
            Body::RouterCreateActiveSpeakerObserver(c) => {
                let id = c.rtp_observer_id.clone();
                let r = router.observers.create_active_speaker(c.rtp_observer_id, c.interval, now);
                self.observer_created(rk, id, r)
            }
            Body::RouterCloseRtpObserver(c) => match router.observers.key(c.rtp_observer_id.as_str()) {
                Some(ok) => {
                    router.observers.close(ok);
                    self.handlers.remove(c.rtp_observer_id.as_str());
                    Ok(Value::Null)
                }
                None => Err(ApiError::not_found("RtpObserver not found")),
            },
            Body::RouterCloseTransport(c) => {
                if let Some(Handler::Transport(tk)) = self.handlers.get(c.transport_id.as_str()).copied() {
                    self.close_transport(now, tk);
                }
                Ok(Value::Null)
            }
            _ => Err(ApiError::other("not a router request")),
        })
    }

    fn observer_created(&mut self, rk: RouterKey, id: crate::api::RtpObserverId, r: ApiResult<crate::router::observer::ObserverKey>) -> ApiResult<Value> {
        let ok = r?;
        self.handlers.insert(id.to_string(), Handler::RtpObserver(rk, ok));
        self.touch(TimerKey::Router(rk));
        Ok(Value::Null)
    }

    fn check_new_transport(&self, id: &TransportId) -> ApiResult<()> {
        if self.handlers.contains_key(id.as_str()) {
            return Err(ApiError::other(format!("a Transport with id {id} already exists")));
        }
        Ok(())
    }

    fn bind_spec(&mut self, info: crate::transport::listen::ListenInfo) -> BindSpec {
        let port_range = info.port_range.unwrap_or((self.settings.rtc_min_port, self.settings.rtc_max_port));
        BindSpec { info, port_range, start: self.rng.u32() }
    }

    fn bind(&mut self, sockets: Vec<BindSpec>, pending: Pending) {
        let token = BindToken(self.next_token);
        self.next_token += 1;
        self.pending.insert(token, pending);
        self.out.push(Output::Bind { token, sockets });
    }

    fn on_bound(&mut self, now: Instant, token: BindToken, result: Result<Vec<BoundSocket>, String>) {
        let Some(pending) = self.pending.remove(&token) else {
            // Nobody waits for these (any more): give them back.
            for s in result.into_iter().flatten() {
                self.out.push(Output::CloseSocket(s.id));
            }
            return;
        };
        let (id, rk) = match pending {
            Pending::WebRtc { id, router, .. } | Pending::Pipe { id, router, .. } | Pending::Plain { id, router, .. } => (id, router),
            Pending::Server { id, req } => {
                let reply = result.map_err(ApiError::other).map(|bound| Reply::Value(self.add_webrtc_server(req, bound)));
                self.out.push(Output::Reply { id, result: reply });
                return;
            }
        };
        let reply = match result {
            Err(e) => Err(ApiError::other(e)),
            Ok(bound) if !self.routers.contains(rk) => {
                for s in bound {
                    self.out.push(Output::CloseSocket(s.id));
                }
                Err(ApiError::not_found("Router closed"))
            }
            Ok(bound) => Ok(self.create_bound_transport(now, rk, pending, bound)),
        };
        self.out.push(Output::Reply { id, result: reply });
    }

    fn create_bound_transport(&mut self, _now: Instant, rk: RouterKey, pending: Pending, bound: Vec<BoundSocket>) -> Reply {
        match pending {
            Pending::WebRtc { req, .. } => {
                let sockets: Vec<LocalSocket> = bound.iter().zip(&req.listen_infos).enumerate().map(|(i, (b, info))| LocalSocket::own(b, info, i)).collect();
                let mut t = WebRtcTransport::new(
                    req.transport_id.clone(),
                    self.cert.clone(),
                    sockets,
                    false,
                    req.ice_consent_timeout,
                    req.initial_available_outgoing_bitrate,
                    &mut self.rng,
                );
                t.set_handshake_offload(self.offload_handshakes);
                self.log(LogLevel::Debug, "info", format_args!("Router::createWebRtcTransport() | [transportId:{}]", req.transport_id));
                Reply::Json(self.add_webrtc_transport(rk, req.transport_id, t, bound, &req.sctp, req.initial_available_outgoing_bitrate).1)
            }
            Pending::Server { .. } => unreachable!("servers are not transports"),
            Pending::Plain { req, .. } => {
                let end = |i: usize, info: &crate::transport::listen::ListenInfo| PlainSocket { id: bound[i].id, local: bound[i].local, announced: info.announced_address.clone() };
                let rtp = end(0, &req.listen_info);
                let rtcp = (bound.len() > 1).then(|| end(1, req.rtcp_listen_info.as_ref().unwrap_or(&req.listen_info)));
                let profile = req
                    .enable_srtp
                    .then(|| crate::net::srtp::Profile::from_name(req.srtp_crypto_suite.as_deref().unwrap_or("AES_CM_128_HMAC_SHA1_80")))
                    .flatten();
                let p = PlainTransport::new(req.transport_id.clone(), rtp, rtcp, req.comedia, profile, &mut self.rng);
                let mut reply = p.data_json();
                self.log(LogLevel::Debug, "info", format_args!("Router::createPlainTransport() | [transportId:{}]", req.transport_id));
                let tk = self.add_transport(rk, req.transport_id, Link::Plain(Box::new(p)), bound);
                self.set_transport_data(tk, &req.sctp, false, &mut reply);
                Reply::Value(reply)
            }
            Pending::Pipe { req, .. } => {
                let b = bound[0];
                let announced = req.listen_info.as_ref().and_then(|i| i.announced_address.clone());
                let p = PipeTransport::new(req.transport_id.clone(), b.id, b.local, announced, req.enable_rtx, req.enable_srtp, &mut self.rng);
                let mut reply = p.data_json();
                self.log(LogLevel::Debug, "info", format_args!("Router::createPipeTransport() | [transportId:{}, local:{}]", req.transport_id, b.local));
                let tk = self.add_transport(rk, req.transport_id, Link::Pipe(Box::new(p)), bound);
                self.set_transport_data(tk, &req.sctp, false, &mut reply);
                Reply::Value(reply)
            }
        }
    }

    /// A new transport's data side (its SCTP association when asked for); the creation reply
    /// gets its `sctpParameters` and `sctpState`.
    fn set_transport_data(&mut self, tk: TransportKey, o: &crate::api::request::SctpRequestOptions, is_data_channel: bool, reply: &mut Value) {
        let data = crate::transport::TransportData::new(o.sctp(), is_data_channel, o.max_send_message_size as usize, o.max_receive_message_size as usize);
        data.add_json(reply);
        self.transports[tk].data = data;
    }

    /// Adds a WebRtcTransport with its data side; its creation answer, as text.
    fn add_webrtc_transport(&mut self, rk: RouterKey, id: TransportId, t: WebRtcTransport, bound: Vec<BoundSocket>, sctp: &crate::api::request::SctpRequestOptions, bitrate: u64) -> (TransportKey, String) {
        let data = crate::transport::TransportData::new(sctp.sctp(), true, sctp.max_send_message_size as usize, sctp.max_receive_message_size as usize);
        let mut extra = Value::Object(Default::default());
        data.add_json(&mut extra);
        let reply = t.data_text(&extra);
        let tk = self.add_transport(rk, id, Link::WebRtc(Box::new(t)), bound);
        self.transports[tk].media.congestion = Congestion::new(bitrate);
        self.transports[tk].data = data;
        (tk, reply)
    }

    fn add_transport(&mut self, rk: RouterKey, id: TransportId, link: Link, bound: Vec<BoundSocket>) -> TransportKey {
        let mut t = Transport::new(id.clone(), rk, link, self.rng.ssrc());
        t.sockets = bound.iter().map(|b| b.id).collect();
        let tk = self.transports.insert(t);
        for b in bound {
            self.sockets.insert(b.id, SocketInfo { owner: Owner::Transport(tk), protocol: b.protocol, local: b.local, remote: None });
        }
        if let Some(router) = self.routers.get_mut(rk) {
            router.add_transport(tk);
        }
        self.handlers.insert(id.to_string(), Handler::Transport(tk));
        self.touch(TimerKey::Transport(tk));
        tk
    }

    /// Closes a transport: DTLS close_notify, its producers (and their consumers) and
    /// consumers go, its sockets are handed back.
    fn close_transport(&mut self, now: Instant, tk: TransportKey) {
        let Some(t) = self.transports.get_mut(tk) else { return };
        t.close(now, &mut self.out);
        let rk = t.router;
        if let Some(router) = self.routers.get_mut(rk) {
            router.close_transport(now, tk, &mut self.transports, &mut self.out);
            self.forget_removed(rk);
            self.touch(TimerKey::Router(rk));
        }
        if let Some(t) = self.transports.remove(tk) {
            self.rtp_sent_closed += t.media.rtp_packets_sent;
            self.handlers.remove(t.id.as_str());
            // The server's sockets stay; TCP connections this transport used go.
            if let Some(server) = t.server.and_then(|sk| self.servers.get_mut(sk)) {
                for conn in server.detach(tk) {
                    self.sockets.remove(&conn);
                    self.out.push(Output::CloseSocket(conn));
                }
            }
            for s in t.sockets {
                self.sockets.remove(&s);
                self.out.push(Output::CloseSocket(s));
            }
        }
        self.timers.set(TimerKey::Transport(tk), None);
    }

    /// Forgets the handlers of producers and consumers the router removed.
    fn forget_removed(&mut self, rk: RouterKey) {
        if let Some(router) = self.routers.get_mut(rk) {
            for id in router.take_removed() {
                self.handlers.remove(&id);
            }
        }
    }

    /// `transport.consume()`: the router creates the consumer and writes the answer.
    fn transport_consume(&mut self, now: Instant, tk: TransportKey, req: Consume) -> ApiResult<Reply> {
        let rk = self.transports.get(tk).ok_or_else(|| ApiError::not_found("Transport not found"))?.router;
        self.touch(TimerKey::Transport(tk));
        self.touch(TimerKey::Router(rk));
        let router = self.routers.get_mut(rk).ok_or_else(|| ApiError::not_found("Router not found"))?;
        let id = req.consumer_id.to_string();
        let (ck, reply) = router.consume(now, &self.clock, tk, &mut self.transports, req, &mut self.rng, &mut self.out)?;
        self.handlers.insert(id, Handler::Consumer(rk, ck));
        Ok(reply)
    }

    fn transport_request(&mut self, now: Instant, tk: TransportKey, body: Body) -> ApiResult<Value> {
        let t = self.transports.get_mut(tk).ok_or_else(|| ApiError::not_found("Transport not found"))?;
        let rk = t.router;
        self.touch(TimerKey::Transport(tk));
        self.touch(TimerKey::Router(rk));
        match body {
            Body::TransportProduce(req) => {
                let router = self.routers.get_mut(rk).ok_or_else(|| ApiError::not_found("Router not found"))?;
                let t = self.transports.get_mut(tk).expect("checked");
                let id = req.producer_id.to_string();
                let (pk, reply) = router.produce(tk, t, req, &mut self.rng)?;
                self.handlers.insert(id, Handler::Producer(rk, pk));
                Ok(reply)
            }
            Body::TransportConsume(req) => self.transport_consume(now, tk, req).map(Reply::into_value),
            Body::TransportProduceData(req) => {
                let router = self.routers.get_mut(rk).ok_or_else(|| ApiError::not_found("Router not found"))?;
                let t = self.transports.get_mut(tk).expect("checked");
                let direct = matches!(t.link, Link::Direct(_));
                if t.data.producers.iter().any(|k| router.data.producers.get(*k).is_some_and(|p| p.id == req.data_producer_id)) {
                    return Err(ApiError::other("a DataProducer with same dataProducerId already exists [method:transport.produceData]"));
                }
                let id = req.data_producer_id.to_string();
                let (k, reply) = router.produce_data(now, tk, t, req, direct, &mut self.out)?;
                self.handlers.insert(id, Handler::DataProducer(rk, k));
                self.sctp_may_connect(now, tk);
                Ok(reply)
            }
            Body::TransportConsumeData(req) => {
                let router = self.routers.get_mut(rk).ok_or_else(|| ApiError::not_found("Router not found"))?;
                let t = self.transports.get_mut(tk).expect("checked");
                let direct = matches!(t.link, Link::Direct(_));
                let pipe = t.is_pipe();
                let id = req.data_consumer_id.to_string();
                let (k, reply) = router.consume_data(tk, t, req, direct, pipe)?;
                self.handlers.insert(id, Handler::DataConsumer(rk, k));
                self.sctp_may_connect(now, tk);
                Ok(reply)
            }
            Body::TransportCloseDataProducer(c) => {
                if let Some(Handler::DataProducer(prk, k)) = self.handlers.get(c.data_producer_id.as_str()).copied() {
                    if let Some(router) = self.routers.get_mut(prk) {
                        router.data.close_producer(now, k, &mut self.transports, &mut self.out);
                        self.forget_removed(prk);
                    }
                }
                Ok(Value::Null)
            }
            Body::TransportCloseDataConsumer(c) => {
                if let Some(Handler::DataConsumer(crk, k)) = self.handlers.get(c.data_consumer_id.as_str()).copied() {
                    if let Some(router) = self.routers.get_mut(crk) {
                        router.data.remove_consumer(now, k, &mut self.transports, &mut self.out);
                        self.forget_removed(crk);
                    }
                }
                Ok(Value::Null)
            }
            Body::TransportCloseProducer(c) => {
                if let Some(Handler::Producer(prk, pk)) = self.handlers.get(c.producer_id.as_str()).copied() {
                    if let Some(router) = self.routers.get_mut(prk) {
                        router.close_producer(pk, &mut self.transports, &mut self.out);
                        self.forget_removed(prk);
                    }
                }
                Ok(Value::Null)
            }
            Body::TransportCloseConsumer(c) => {
                if let Some(Handler::Consumer(crk, ck)) = self.handlers.remove(c.consumer_id.as_str()) {
                    if let Some(router) = self.routers.get_mut(crk) {
                        router.close_consumer(ck, &mut self.transports);
                        self.forget_removed(crk);
                    }
                }
                Ok(Value::Null)
            }
            Body::TransportDump => {
                let t = &self.transports[tk];
                let mut d = t.dump_json();
                if let Some(router) = self.routers.get(rk) {
                    let (producers, consumers) = router.transport_ids(t);
                    d["producerIds"] = json!(producers);
                    d["consumerIds"] = json!(consumers);
                    d["rtpListener"] = router.listener_dump(t);
                    let name = |k: &crate::router::data::DataProducerKey| router.data.producers.get(*k).map(|p| p.id.to_string());
                    d["dataProducerIds"] = json!(t.data.producers.iter().filter_map(name).collect::<Vec<_>>());
                    d["dataConsumerIds"] = json!(t.data.consumers.iter().filter_map(|k| router.data.consumers.get(*k).map(|c| c.id.to_string())).collect::<Vec<_>>());
                    if t.data.sctp.is_some() {
                        let table: Vec<Value> = t.data.listener.iter().filter_map(|(s, k)| Some(json!({ "key": s, "value": name(k)? }))).collect();
                        d["sctpListener"] = json!({ "streamIdTable": table });
                    }
                }
                Ok(d)
            }
            Body::TransportGetStats => Ok(self.transports[tk].stats_json(now, &self.clock)),
            Body::TransportSetMaxIncomingBitrate(b) => {
                self.transports[tk].media.bitrates.set_max_incoming(b.bitrate);
                Ok(Value::Null)
            }
            Body::TransportSetMaxOutgoingBitrate(b) => self.transports[tk].media.bitrates.set_max_outgoing(b.bitrate).map(|()| Value::Null),
            Body::TransportSetMinOutgoingBitrate(b) => self.transports[tk].media.bitrates.set_min_outgoing(b.bitrate).map(|()| Value::Null),
            Body::TransportEnableTraceEvent(types) => {
                use crate::trace::{TraceType, TraceTypes};
                self.transports[tk].media.trace = TraceTypes::from_names(&types.types).restricted_to(&[TraceType::Probation, TraceType::Bwe]);
                Ok(Value::Null)
            }
            Body::TransportRestartIce => {
                let t = &mut self.transports[tk];
                let Link::WebRtc(w) = &mut t.link else { return Err(ApiError::other("not a WebRtcTransport")) };
                let params = w.restart_ice(now, &mut self.rng);
                if let Some(server) = t.server.and_then(|sk| self.servers.get_mut(sk)) {
                    server.set_ufrags(tk, w.username_fragment(), w.old_username_fragment());
                }
                Ok(params)
            }
            Body::WebRtcTransportConnect(c) => {
                let Link::WebRtc(w) = &mut self.transports[tk].link else { return Err(ApiError::other("not a WebRtcTransport")) };
                let r = w.connect(now, c.dtls_parameters.as_ref(), &mut self.out)?;
                if w.take_newly_connected() {
                    self.transport_connected(now, rk, tk);
                }
                Ok(r)
            }
            Body::PipeTransportConnect(c) => {
                let reply = match &mut self.transports[tk].link {
                    Link::Pipe(p) => p.connect(&c.data)?,
                    Link::Memory(_) => return Err(ApiError::invalid_state("an in-memory pipe is connected by pipeToRouter()")),
                    _ => return Err(ApiError::other("not a PipeTransport")),
                };
                // No handshake: connected once the remote is known, as in mediasoup.
                self.transport_connected(now, rk, tk);
                Ok(reply)
            }
            Body::PlainTransportConnect(c) => {
                let Link::Plain(p) = &mut self.transports[tk].link else { return Err(ApiError::other("not a PlainTransport")) };
                let reply = p.connect(&c.data, &mut self.rng)?;
                if p.take_newly_connected() {
                    self.transport_connected(now, rk, tk);
                }
                Ok(reply)
            }
            Body::TransportSendRtcp(packet) => {
                let Link::Direct(d) = &mut self.transports[tk].link else { return Err(ApiError::other("not a DirectTransport")) };
                if d.from_app(now, packet.len(), true) {
                    self.route_rtp(now, rk, tk, &packet, true);
                }
                Ok(Value::Null)
            }
            Body::PipeTransportConnectInMemory(c) => {
                let Link::Memory(m) = &mut self.transports[tk].link else { return Err(ApiError::other("not an in-memory pipe")) };
                m.connect(c.peer_worker, &c.peer_transport_id);
                self.transport_connected(now, rk, tk);
                Ok(Value::Null)
            }
            _ => Err(ApiError::other("not a transport request")),
        }
    }

    /// Closes everything (the worker is stopping): every transport's sockets are handed back.
    pub fn close(&mut self, now: Instant) {
        for rk in self.router_order.clone() {
            self.close_router(now, rk);
        }
        for sk in self.server_order.clone() {
            self.close_webrtc_server(now, sk);
        }
    }

    // ----- WebRtcServer ---------------------------------------------------------------------

    fn create_webrtc_server(&mut self, id: u32, req: CreateWebRtcServer) -> Option<ApiResult<Value>> {
        if self.handlers.contains_key(req.web_rtc_server_id.as_str()) {
            return Some(Err(ApiError::other(format!("a WebRtcServer with id {} already exists", req.web_rtc_server_id))));
        }
        if req.listen_infos.is_empty() {
            return Some(Err(ApiError::type_error("wrong listenInfos (empty array)")));
        }
        let specs = req
            .listen_infos
            .iter()
            .map(|i| {
                let mut info = i.clone();
                // One socket takes what a port per transport would spread over many buffers:
                // without a bigger one, joins under load lose handshakes to buffer overflow.
                if info.protocol == Protocol::Udp && info.recv_buffer_size.is_none() {
                    info.recv_buffer_size = Some(SERVER_RECV_BUFFER);
                }
                self.bind_spec(info)
            })
            .collect();
        self.bind(specs, Pending::Server { id, req });
        None
    }

    fn add_webrtc_server(&mut self, req: CreateWebRtcServer, bound: Vec<BoundSocket>) -> Value {
        let sockets = bound
            .iter()
            .zip(req.listen_infos)
            .map(|(b, info)| ServerSocket { id: b.id, protocol: b.protocol, local: b.local, info })
            .collect();
        let sk = self.servers.insert(WebRtcServer::new(req.web_rtc_server_id.clone(), sockets));
        for b in bound {
            self.sockets.insert(b.id, SocketInfo { owner: Owner::Server(sk), protocol: b.protocol, local: b.local, remote: None });
        }
        self.server_order.push(sk);
        self.handlers.insert(req.web_rtc_server_id.to_string(), Handler::WebRtcServer(sk));
        self.log(LogLevel::Debug, "info", format_args!("Worker::createWebRtcServer() | [webRtcServerId:{}]", req.web_rtc_server_id));
        Value::Null
    }

    fn create_webrtc_transport_with_server(&mut self, rk: RouterKey, req: CreateWebRtcTransportWithServer) -> ApiResult<String> {
        self.check_new_transport(&req.transport_id)?;
        let Some(Handler::WebRtcServer(sk)) = self.handlers.get(req.web_rtc_server_id.as_str()).copied() else {
            return Err(ApiError::other("wrong webRtcServerId (no associated WebRtcServer found)"));
        };
        // Candidates from the server's sockets in order (skipped protocols still count).
        let sockets: Vec<LocalSocket> = self.servers[sk]
            .sockets
            .iter()
            .enumerate()
            .filter(|(_, s)| if s.protocol == Protocol::Udp { req.enable_udp } else { req.enable_tcp })
            .map(|(index, s)| LocalSocket {
                id: s.id,
                protocol: s.protocol,
                local: s.local,
                announced_address: s.info.announced_address.clone(),
                index,
                preferred: if s.protocol == Protocol::Udp { req.prefer_udp } else { req.prefer_tcp },
                expose_internal_ip: s.info.expose_internal_ip,
            })
            .collect();
        if sockets.is_empty() {
            return Err(ApiError::type_error("empty iceCandidates"));
        }
        let mut t = WebRtcTransport::new(
            req.transport_id.clone(),
            self.cert.clone(),
            sockets,
            true,
            req.ice_consent_timeout,
            req.initial_available_outgoing_bitrate,
            &mut self.rng,
        );
        t.set_handshake_offload(self.offload_handshakes);
        let ufrag = t.username_fragment().to_string();
        self.log(LogLevel::Debug, "info", format_args!("Router::createWebRtcTransport() | [transportId:{}, webRtcServerId:{}]", req.transport_id, req.web_rtc_server_id));
        let (tk, reply) = self.add_webrtc_transport(rk, req.transport_id, t, Vec::new(), &req.sctp, req.initial_available_outgoing_bitrate);
        self.transports[tk].server = Some(sk);
        self.servers[sk].attach(tk, &ufrag);
        Ok(reply)
    }

    /// Closes a WebRtcServer: its transports first (DTLS close_notify goes out while the
    /// sockets still exist), then its sockets and the TCP connections they accepted.
    fn close_webrtc_server(&mut self, now: Instant, sk: WebRtcServerKey) {
        let Some(server) = self.servers.get(sk) else { return };
        for tk in server.transports.clone() {
            self.close_transport(now, tk);
        }
        let Some(server) = self.servers.remove(sk) else { return };
        self.handlers.remove(server.id.as_str());
        self.server_order.retain(|k| *k != sk);
        self.timers.set(TimerKey::Server(sk), None);
        let owned: Vec<SocketId> = self.sockets.iter().filter(|(_, i)| i.owner == Owner::Server(sk)).map(|(s, _)| *s).collect();
        for s in owned {
            self.sockets.remove(&s);
            self.out.push(Output::CloseSocket(s));
        }
    }
}

#[cfg(test)]
mod tests;
