//! Scenario harness: engines and browser-like test peers on an emulated network, in virtual
//! time. No sockets, no threads: engines' binds get virtual addresses, datagrams travel through
//! links with delay, loss, reordering and a bandwidth cap, and the clock jumps from one event to
//! the next.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use ferrosoup_sfu::api::{ApiError, Request, Settings};
use ferrosoup_sfu::engine::{BoundSocket, Event, HandshakeWork, Input, Output, PipeMessage};
use ferrosoup_sfu::net::rng::Rng;
use ferrosoup_sfu::net::{Protocol, SocketId};
use ferrosoup_sfu::{Engine, EngineConfig};
use ferrosoup_testpeer::media::Publisher;
use ferrosoup_testpeer::peer::{PeerEvent, ServerParams, TestPeer};
use serde_json::{json, Value};

/// How a link treats datagrams.
#[derive(Clone, Copy, Debug)]
pub struct LinkConfig {
    pub delay: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram is held back (by `reorder_delay`), arriving after later ones.
    pub reorder: f64,
    pub reorder_delay: Duration,
    /// Bandwidth cap in bits per second (a drop-tail queue of `queue` worth of sending time).
    pub cap_bps: Option<u64>,
    pub queue: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig { delay: Duration::from_millis(10), loss: 0.0, reorder: 0.0, reorder_delay: Duration::from_millis(15), cap_bps: None, queue: Duration::from_millis(200) }
    }
}

#[derive(Default)]
struct LinkState {
    busy_until: Option<Instant>,
    pub sent: u64,
    pub lost: u64,
}

pub struct EngineNode {
    pub engine: Engine,
    ip: IpAddr,
    next_port: u16,
    sockets: HashMap<SocketId, SocketAddr>,
    pub by_addr: HashMap<SocketAddr, SocketId>,
    next_socket: u32,
    timeout: Option<Instant>,
    next_request: u32,
    replies: HashMap<u32, Result<Value, ApiError>>,
    pub events: Vec<Event>,
}

pub struct PeerNode {
    pub peer: TestPeer,
    pub addr: SocketAddr,
    pub publisher: Option<Publisher>,
    /// Decrypted RTP/RTCP it received, with arrival times.
    pub rtp: Vec<(Instant, Vec<u8>)>,
    pub rtcp: Vec<(Instant, Vec<u8>)>,
    pub connected_at: Option<Instant>,
    /// Called with every RTP packet (e.g. a receiver that NACKs): returns RTCP to send.
    pub on_rtp: Option<Box<dyn FnMut(Instant, &[u8]) -> Vec<Vec<u8>>>>,
    /// Periodic work (e.g. sending due NACKs): returns RTCP to send.
    pub on_tick: Option<Box<dyn FnMut(Instant) -> Vec<Vec<u8>>>>,
    /// The peer went away (its socket closed): it sends and hears nothing more.
    pub gone: bool,
}

pub struct World {
    pub t0: Instant,
    pub now: Instant,
    pub engines: Vec<EngineNode>,
    pub peers: Vec<PeerNode>,
    in_flight: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    datagrams: HashMap<usize, (SocketAddr, SocketAddr, Vec<u8>)>,
    next_dg: usize,
    seq: u64,
    /// Per destination address: how datagrams to it travel (default: `default_link`).
    pub links: HashMap<SocketAddr, LinkConfig>,
    pub default_link: LinkConfig,
    link_state: HashMap<SocketAddr, LinkState>,
    rng: Rng,
    pipes: VecDeque<(usize, PipeMessage)>,
    /// Engines added from now on run DTLS handshakes as jobs, which come back after this long
    /// (as from a busy thread pool).
    pub handshake_delay: Option<Duration>,
    /// Handshake jobs out: engine, when they come back, the work.
    handshakes: Vec<(usize, Instant, HandshakeWork)>,
    /// Handshake jobs run so far.
    pub handshakes_run: usize,
}

const TICK: Duration = Duration::from_millis(5);

impl World {
    pub fn new() -> Self {
        let t0 = Instant::now();
        World {
            t0,
            now: t0,
            engines: Vec::new(),
            peers: Vec::new(),
            in_flight: BinaryHeap::new(),
            datagrams: HashMap::new(),
            next_dg: 0,
            seq: 0,
            links: HashMap::new(),
            default_link: LinkConfig::default(),
            link_state: HashMap::new(),
            rng: Rng::from_seed([42; 32]),
            pipes: VecDeque::new(),
            handshake_delay: None,
            handshakes: Vec::new(),
            handshakes_run: 0,
        }
    }

    /// Handshake jobs out, not yet back.
    pub fn handshakes_pending(&self) -> usize {
        self.handshakes.len()
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    pub fn add_engine(&mut self) -> usize {
        let i = self.engines.len();
        let cert = ferrosoup_sfu::net::certificate::LocalCertificate::generate().unwrap();
        let mut engine = Engine::new(
            EngineConfig { settings: Settings::default(), certificate: cert, seed: [i as u8 + 1; 32], worker: i as u32 + 1, video_padding: 0 },
            self.now,
            SystemTime::now(),
        );
        engine.set_handshake_offload(self.handshake_delay.is_some());
        self.engines.push(EngineNode {
            engine,
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1)),
            next_port: 40000,
            sockets: HashMap::new(),
            by_addr: HashMap::new(),
            next_socket: 0,
            timeout: None,
            next_request: 0,
            replies: HashMap::new(),
            events: Vec::new(),
        });
        self.drain(i);
        i
    }

    /// Sends a request to engine `e` and returns its answer (sockets are bound at once).
    pub fn request(&mut self, e: usize, method: &str, handler: &str, data: Value) -> Result<Value, ApiError> {
        let node = &mut self.engines[e];
        node.next_request += 1;
        let id = node.next_request;
        let req = Request::from_value(id, method, handler, data)?;
        node.engine.handle_input(self.now, Input::Request(req));
        self.drain(e);
        self.engines[e].replies.remove(&id).expect("a synchronous reply")
    }

    /// Performs everything engine `e` has to say.
    fn drain(&mut self, e: usize) {
        loop {
            let out = self.engines[e].engine.poll_output();
            match out {
                Output::Transmit(t) => {
                    let Some(from) = self.engines[e].sockets.get(&t.socket).copied() else { continue };
                    self.send(from, t.to, t.data);
                }
                Output::Reply { id, result } => {
                    self.engines[e].replies.insert(id, result.map(ferrosoup_sfu::api::Reply::into_value));
                }
                Output::Event(ev) => self.engines[e].events.push(ev),
                Output::Log(_) => {}
                Output::Pipe { worker, message } => self.pipes.push_back((worker as usize - 1, message)),
                Output::Bind { token, sockets } => {
                    let node = &mut self.engines[e];
                    let mut bound = Vec::new();
                    for s in sockets {
                        node.next_socket += 1;
                        let id = SocketId(node.next_socket);
                        let port = s.info.port.unwrap_or_else(|| {
                            node.next_port += 1;
                            node.next_port
                        });
                        let addr = SocketAddr::new(node.ip, port);
                        node.sockets.insert(id, addr);
                        node.by_addr.insert(addr, id);
                        bound.push(BoundSocket { id, protocol: Protocol::Udp, local: addr });
                    }
                    node.engine.handle_input(self.now, Input::Bound { token, result: Ok(bound) });
                }
                Output::CloseSocket(id) => {
                    let node = &mut self.engines[e];
                    if let Some(addr) = node.sockets.remove(&id) {
                        node.by_addr.remove(&addr);
                    }
                }
                Output::Handshake(work) => {
                    let due = self.now + self.handshake_delay.unwrap_or_default();
                    self.handshakes.push((e, due, work));
                }
                Output::Timeout(t) => {
                    self.engines[e].timeout = t;
                    break;
                }
            }
        }
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let cfg = self.links.get(&to).copied().unwrap_or(self.default_link);
        let st = self.link_state.entry(to).or_default();
        st.sent += 1;
        let r = |rng: &mut Rng| f64::from(rng.u32()) / f64::from(u32::MAX);
        if r(&mut self.rng) < cfg.loss {
            self.link_state.get_mut(&to).unwrap().lost += 1;
            return;
        }
        let mut depart = self.now;
        if let Some(cap) = cfg.cap_bps {
            let st = self.link_state.get_mut(&to).unwrap();
            let start = st.busy_until.map_or(self.now, |b| b.max(self.now));
            if start.saturating_duration_since(self.now) > cfg.queue {
                st.lost += 1;
                return;
            }
            let tx = Duration::from_secs_f64((data.len() as f64 + 28.0) * 8.0 / cap as f64);
            st.busy_until = Some(start + tx);
            depart = start + tx;
        }
        let mut at = depart + cfg.delay;
        if r(&mut self.rng) < cfg.reorder {
            at += cfg.reorder_delay;
        }
        let id = self.next_dg;
        self.next_dg += 1;
        self.seq += 1;
        self.datagrams.insert(id, (from, to, data));
        self.in_flight.push(Reverse((at, self.seq, id)));
    }

    /// Datagrams sent to and lost on the way to `to`.
    pub fn link_counts(&self, to: SocketAddr) -> (u64, u64) {
        self.link_state.get(&to).map_or((0, 0), |s| (s.sent, s.lost))
    }

    fn deliver(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        if let Some(e) = self.engines.iter().position(|n| n.by_addr.contains_key(&to)) {
            let socket = self.engines[e].by_addr[&to];
            self.engines[e].engine.handle_input(self.now, Input::Datagram { socket, from, data: &data });
            self.drain(e);
            // A large fan-out goes on a chunk at a time (a runtime serves requests between).
            while self.engines[e].engine.has_more() {
                self.engines[e].engine.handle_input(self.now, Input::Resume);
                self.drain(e);
            }
            return;
        }
        if let Some(p) = self.peers.iter().position(|p| p.addr == to && !p.gone) {
            if from == self.peers[p].peer.server_addr() {
                self.peers[p].peer.handle_datagram(self.now, &data);
                self.after_peer(p);
            }
        }
    }

    /// A browser-like peer joining WebRtcTransport `data` (as `createWebRtcTransport` answered)
    /// of engine `e`: the transport is connected with the peer's DTLS parameters.
    pub fn add_peer(&mut self, e: usize, transport_id: &str, data: &Value) -> usize {
        self.add_peer_at(e, transport_id, data, None)
    }

    /// `add_peer` from address `at` (default: a fresh one per peer).
    pub fn add_peer_at(&mut self, e: usize, transport_id: &str, data: &Value, at: Option<SocketAddr>) -> usize {
        let i = self.peers.len();
        let addr = at.unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, i as u8 + 1)), 50000));
        let server = ServerParams::from_json(data).expect("transport parameters");
        let cert = ferrosoup_testpeer::certificate();
        let dtls = ferrosoup_testpeer::peer::dtls_parameters(&cert);
        let mut rng = Rng::from_seed([100 + i as u8; 32]);
        let peer = TestPeer::new(self.now, server, cert, &mut rng);
        self.peers.push(PeerNode { peer, addr, publisher: None, rtp: Vec::new(), rtcp: Vec::new(), connected_at: None, on_rtp: None, on_tick: None, gone: false });
        self.request(e, "webRtcTransport.connect", transport_id, json!({ "dtlsParameters": dtls })).expect("connect");
        self.peers[i].peer.handle_timeout(self.now);
        self.after_peer(i);
        i
    }

    fn after_peer(&mut self, p: usize) {
        let now = self.now;
        let mut rtcp_out = Vec::new();
        while let Some(ev) = self.peers[p].peer.poll_event() {
            match ev {
                PeerEvent::Connected => self.peers[p].connected_at = Some(now),
                PeerEvent::Rtp(d) => {
                    if let Some(f) = self.peers[p].on_rtp.as_mut() {
                        rtcp_out.extend(f(now, &d));
                    }
                    self.peers[p].rtp.push((now, d));
                }
                PeerEvent::Rtcp(d) => {
                    if let Some(publ) = self.peers[p].publisher.as_mut() {
                        for resend in publ.on_rtcp(&d) {
                            self.peers[p].peer.send_rtp(&resend);
                        }
                    }
                    self.peers[p].rtcp.push((now, d));
                }
                _ => {}
            }
        }
        for r in rtcp_out {
            self.peers[p].peer.send_rtcp(&r);
        }
        let from = self.peers[p].addr;
        while let Some(d) = self.peers[p].peer.poll_transmit() {
            let to = self.peers[p].peer.server_addr();
            self.send(from, to, d);
        }
    }

    /// Runs until virtual time `until` (a duration from the start).
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end);
    }

    pub fn run_until(&mut self, end: Instant) {
        loop {
            while let Some((e, m)) = self.pipes.pop_front() {
                self.engines[e].engine.handle_input(self.now, Input::Pipe(m));
                self.drain(e);
                while self.engines[e].engine.has_more() {
                    self.engines[e].engine.handle_input(self.now, Input::Resume);
                    self.drain(e);
                }
            }
            let next_dg = self.in_flight.peek().map(|Reverse((t, _, _))| *t);
            let next_engine = self.engines.iter().filter_map(|n| n.timeout).min();
            let next_peer = self
                .peers
                .iter()
                .filter(|p| !p.gone)
                .flat_map(|p| [p.peer.poll_timeout(), p.publisher.as_ref().and_then(|x| x.next_due()).filter(|_| p.peer.is_connected())])
                .flatten()
                .min();
            let next_tick = self.peers.iter().any(|p| p.on_tick.is_some()).then(|| self.now + TICK);
            let next_handshake = self.handshakes.iter().map(|(_, due, _)| *due).min();
            let Some(next) = [next_dg, next_engine, next_peer, next_tick, next_handshake].into_iter().flatten().min() else { break };
            if next > end {
                break;
            }
            self.now = next.max(self.now);
            while let Some(Reverse((t, _, id))) = self.in_flight.peek().copied() {
                if t > self.now {
                    break;
                }
                self.in_flight.pop();
                let (from, to, data) = self.datagrams.remove(&id).unwrap();
                self.deliver(from, to, data);
            }
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.handshakes).into_iter().partition(|(_, t, _)| *t <= now);
            self.handshakes = later;
            for (e, _, mut work) in due {
                work.run();
                self.handshakes_run += 1;
                self.engines[e].engine.handle_input(self.now, Input::HandshakeDone(work));
                self.drain(e);
            }
            for e in 0..self.engines.len() {
                if self.engines[e].timeout.is_some_and(|t| t <= self.now) {
                    self.engines[e].engine.handle_input(self.now, Input::Timeout);
                    self.drain(e);
                }
            }
            for p in 0..self.peers.len() {
                let now = self.now;
                if self.peers[p].gone {
                    continue;
                }
                if self.peers[p].peer.poll_timeout().is_some_and(|t| t <= now) {
                    self.peers[p].peer.handle_timeout(now);
                }
                if self.peers[p].peer.is_connected() {
                    if let Some(publ) = self.peers[p].publisher.as_mut() {
                        for pkt in publ.poll(now) {
                            self.peers[p].peer.send_rtp(&pkt);
                        }
                    }
                }
                if let Some(f) = self.peers[p].on_tick.as_mut() {
                    for r in f(now) {
                        self.peers[p].peer.send_rtcp(&r);
                    }
                }
                self.after_peer(p);
            }
        }
        self.now = end.max(self.now);
    }

    /// Runs until `cond` holds (checked after every step), at most `limit` of virtual time.
    pub fn run_until_cond(&mut self, limit: Duration, mut cond: impl FnMut(&World) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if cond(self) {
                return true;
            }
            let step = (self.now + Duration::from_millis(2)).min(end);
            self.run_until(step);
        }
        cond(self)
    }

    /// Events engine `e` emitted for `target` named `name`.
    pub fn events(&self, e: usize, target: &str, name: &str) -> Vec<Value> {
        self.engines[e].events.iter().filter(|ev| &*ev.target == target && ev.name == name).map(|ev| ev.data.clone()).collect()
    }
}

/// The codecs the scenarios' routers use.
pub fn media_codecs() -> Value {
    json!([
        { "kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2 },
        { "kind": "video", "mimeType": "video/VP8", "clockRate": 90000 },
    ])
}

/// A VP8 camera as a browser offers it (NACK, PLI; no RTX, so retransmissions come as the
/// original packets).
pub fn vp8_producer(ssrc: u32) -> Value {
    json!({
        "mid": "0",
        "codecs": [{ "mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000,
                     "rtcpFeedback": [{ "type": "nack" }, { "type": "nack", "parameter": "pli" }, { "type": "ccm", "parameter": "fir" }] }],
        "headerExtensions": [],
        "encodings": [{ "ssrc": ssrc }],
        "rtcp": { "cname": "cam" },
    })
}

/// What a viewer can receive: VP8 with RTX, NACK and PLI; Opus.
pub fn viewer_caps() -> Value {
    json!({
        "codecs": [
            { "kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 100 },
            { "kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101,
              "rtcpFeedback": [{ "type": "nack" }, { "type": "nack", "parameter": "pli" }, { "type": "ccm", "parameter": "fir" }] },
            { "kind": "video", "mimeType": "video/rtx", "clockRate": 90000, "preferredPayloadType": 102, "parameters": { "apt": 101 } },
        ],
        "headerExtensions": [],
    })
}

pub fn listen() -> Value {
    json!([{ "protocol": "udp", "ip": "10.0.0.1" }])
}
