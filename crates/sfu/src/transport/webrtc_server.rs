//! WebRtcServer: one UDP and/or TCP socket per listen info, shared by every WebRtcTransport of
//! the worker created with it. A STUN binding request is routed by the local username fragment
//! in its USERNAME; everything else by the 5-tuple an authenticated check validated. Unknown
//! ufrags and tuples are dropped and counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::listen::ListenInfo;
use super::TransportKey;
use crate::api::WebRtcServerId;
use crate::arena::Key;
use crate::net::ice::{demux, request_local_ufrag, Demux};
use crate::net::{Protocol, SocketId};

pub type WebRtcServerKey = Key<WebRtcServer>;

/// TCP connections a server keeps waiting for their first authenticated check.
pub const MAX_PENDING_TCP: usize = 1000;
/// How long a TCP connection may stay without being routed to a transport.
pub const TCP_ROUTE_DEADLINE: Duration = Duration::from_secs(10);

/// One of the server's sockets.
#[derive(Clone, Debug)]
pub struct ServerSocket {
    pub id: SocketId,
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub info: ListenInfo,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServerDrops {
    /// STUN naming no transport's ufrag (or unparseable).
    pub unknown_ufrag: u64,
    /// Non-STUN from a tuple no check validated.
    pub unknown_tuple: u64,
    /// TCP connections closed for the cap or for staying unrouted.
    pub over_limit: u64,
}

pub struct WebRtcServer {
    pub id: WebRtcServerId,
    pub sockets: Vec<ServerSocket>,
    /// Local username fragment → transport.
    ufrags: HashMap<String, TransportKey>,
    /// Each transport's ufrags: the current one and, after `restartIce()` until the peer uses
    /// the new credentials, the previous one.
    names: HashMap<TransportKey, (String, Option<String>)>,
    /// (socket, remote) → transport, for tuples an authenticated check validated.
    tuples: HashMap<(SocketId, SocketAddr), TransportKey>,
    tuples_of: HashMap<TransportKey, Vec<(SocketId, SocketAddr)>>,
    /// TCP connections not routed yet, and when they must be.
    pending_tcp: HashMap<SocketId, Instant>,
    /// TCP connections routed to a transport.
    tcp_owner: HashMap<SocketId, TransportKey>,
    /// Attached transports, in creation order.
    pub transports: Vec<TransportKey>,
    pub drops: ServerDrops,
}

/// Where a datagram on a server socket goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Transport(TransportKey),
    Drop,
}

impl WebRtcServer {
    pub fn new(id: WebRtcServerId, sockets: Vec<ServerSocket>) -> Self {
        WebRtcServer {
            id,
            sockets,
            ufrags: HashMap::new(),
            names: HashMap::new(),
            tuples: HashMap::new(),
            tuples_of: HashMap::new(),
            pending_tcp: HashMap::new(),
            tcp_owner: HashMap::new(),
            transports: Vec::new(),
            drops: ServerDrops::default(),
        }
    }

    pub fn owns_socket(&self, s: SocketId) -> bool {
        self.sockets.iter().any(|x| x.id == s)
    }

    pub fn socket(&self, s: SocketId) -> Option<&ServerSocket> {
        self.sockets.iter().find(|x| x.id == s)
    }

    /// A transport created with this server, named by its ufrag.
    pub fn attach(&mut self, tk: TransportKey, ufrag: &str) {
        self.transports.push(tk);
        self.set_ufrags(tk, ufrag, None);
    }

    /// The transport's current and (after a restart, still accepted) previous ufrags.
    pub fn set_ufrags(&mut self, tk: TransportKey, current: &str, old: Option<&str>) {
        if let Some((c, o)) = self.names.remove(&tk) {
            for u in std::iter::once(c).chain(o) {
                if self.ufrags.get(&u) == Some(&tk) {
                    self.ufrags.remove(&u);
                }
            }
        }
        self.ufrags.insert(current.to_string(), tk);
        if let Some(o) = old {
            self.ufrags.insert(o.to_string(), tk);
        }
        self.names.insert(tk, (current.to_string(), old.map(String::from)));
    }

    /// Whether the transport still answers to a previous ufrag (a restart is under way).
    pub fn restarting(&self, tk: TransportKey) -> bool {
        self.names.get(&tk).is_some_and(|(_, o)| o.is_some())
    }

    /// A transport went away: its ufrags and tuples are forgotten; the TCP connections it used
    /// are returned (to close).
    pub fn detach(&mut self, tk: TransportKey) -> Vec<SocketId> {
        self.transports.retain(|t| *t != tk);
        if let Some((c, o)) = self.names.remove(&tk) {
            for u in std::iter::once(c).chain(o) {
                if self.ufrags.get(&u) == Some(&tk) {
                    self.ufrags.remove(&u);
                }
            }
        }
        for key in self.tuples_of.remove(&tk).unwrap_or_default() {
            if self.tuples.get(&key) == Some(&tk) {
                self.tuples.remove(&key);
            }
        }
        let conns: Vec<SocketId> = self.tcp_owner.iter().filter(|(_, t)| **t == tk).map(|(s, _)| *s).collect();
        for c in &conns {
            self.tcp_owner.remove(c);
        }
        conns
    }

    /// Which transport a datagram (or TCP frame) on `socket` from `from` is for: a STUN
    /// request by the local ufrag its USERNAME names, the rest (and STUN naming no transport
    /// here) by its validated tuple. STUN goes by ufrag first because an address can change
    /// hands: a client whose port (or NAT mapping) a departed client had used must reach its
    /// own transport, not the old one, which would hold the tuple until its consent expired
    /// (30 s: the join benchmark saw one viewer in 500 wait that long).
    pub fn route(&mut self, socket: SocketId, from: SocketAddr, data: &[u8]) -> Route {
        let stun = demux(data) == Demux::Stun;
        if stun {
            if let Some(tk) = request_local_ufrag(data).and_then(|u| self.ufrags.get(&u).copied()) {
                return Route::Transport(tk);
            }
        }
        if let Some(tk) = self.tuples.get(&(socket, from)) {
            return Route::Transport(*tk);
        }
        if let Some(tk) = self.tcp_owner.get(&socket) {
            return Route::Transport(*tk);
        }
        if stun {
            self.drops.unknown_ufrag += 1;
        } else {
            self.drops.unknown_tuple += 1;
        }
        Route::Drop
    }

    /// A check validated (`valid`) or ICE forgot a tuple of transport `tk`. The latest
    /// authenticated check decides who holds a tuple: a transport that validates a tuple
    /// another one holds takes it (the address changed hands; the old holder's own checks,
    /// routed by ufrag, would take it back if its client were still there).
    pub fn tuple_changed(&mut self, tk: TransportKey, socket: SocketId, remote: SocketAddr, valid: bool) {
        let key = (socket, remote);
        if valid {
            match self.tuples.insert(key, tk) {
                Some(old) if old == tk => {}
                previous => {
                    if let Some(old) = previous {
                        if let Some(list) = self.tuples_of.get_mut(&old) {
                            list.retain(|k| *k != key);
                        }
                    }
                    self.tuples_of.entry(tk).or_default().push(key);
                }
            }
            if self.pending_tcp.remove(&socket).is_some() {
                self.tcp_owner.insert(socket, tk);
            }
        } else if self.tuples.get(&key) == Some(&tk) {
            self.tuples.remove(&key);
            if let Some(list) = self.tuples_of.get_mut(&tk) {
                list.retain(|k| *k != key);
            }
        }
    }

    /// A TCP connection to one of its listeners; `false` when over the cap (close it).
    pub fn tcp_accepted(&mut self, now: Instant, conn: SocketId) -> bool {
        if self.pending_tcp.len() >= MAX_PENDING_TCP {
            self.drops.over_limit += 1;
            return false;
        }
        self.pending_tcp.insert(conn, now + TCP_ROUTE_DEADLINE);
        true
    }

    /// A TCP connection closed: the transport it served, if any.
    pub fn tcp_closed(&mut self, conn: SocketId) -> Option<TransportKey> {
        self.pending_tcp.remove(&conn);
        let owner = self.tcp_owner.remove(&conn)?;
        let keys: Vec<_> = self.tuples_of.get(&owner).map(|l| l.iter().filter(|(s, _)| *s == conn).copied().collect()).unwrap_or_default();
        for (s, r) in keys {
            self.tuple_changed(owner, s, r, false);
        }
        Some(owner)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending_tcp.values().min().copied()
    }

    /// TCP connections that stayed unrouted too long (to close).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<SocketId> {
        let expired: Vec<SocketId> = self.pending_tcp.iter().filter(|(_, d)| **d <= now).map(|(s, _)| *s).collect();
        for s in &expired {
            self.pending_tcp.remove(s);
            self.drops.over_limit += 1;
        }
        expired
    }

    /// mediasoup's `webRtcServer.dump()`, with transport ids from `name`.
    pub fn dump_json(&self, name: impl Fn(TransportKey) -> Option<String>) -> Value {
        let list = |p: Protocol| -> Vec<Value> {
            self.sockets.iter().filter(|s| s.protocol == p).map(|s| json!({ "ip": s.local.ip().to_string(), "port": s.local.port() })).collect()
        };
        json!({
            "id": self.id.as_str(),
            "udpSockets": list(Protocol::Udp),
            "tcpServers": list(Protocol::Tcp),
            "webRtcTransportIds": self.transports.iter().filter_map(|t| name(*t)).collect::<Vec<_>>(),
            "localIceUsernameFragments": self.ufrags.iter().filter_map(|(u, t)| Some(json!({ "localIceUsernameFragment": u, "webRtcTransportId": name(*t)? }))).collect::<Vec<_>>(),
            // ferrosoup: what it dropped, by reason.
            "drops": {
                "unknownUfrag": self.drops.unknown_ufrag,
                "unknownTuple": self.drops.unknown_tuple,
                "overLimit": self.drops.over_limit,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::Arena;
    use crate::net::ice::binding_request;

    fn keys(n: usize) -> Vec<TransportKey> {
        let mut a: Arena<()> = Arena::default();
        (0..n).map(|_| a.insert(()).cast()).collect()
    }

    fn server() -> WebRtcServer {
        let info = ListenInfo::from_value(&serde_json::json!({ "protocol": "udp", "ip": "127.0.0.1" })).unwrap();
        let socket = ServerSocket { id: SocketId(1), protocol: Protocol::Udp, local: "127.0.0.1:4000".parse().unwrap(), info };
        WebRtcServer::new(WebRtcServerId::new("s"), vec![socket])
    }

    fn addr(port: u16) -> SocketAddr {
        format!("127.0.0.1:{port}").parse().unwrap()
    }

    #[test]
    fn stun_goes_by_ufrag_and_the_rest_by_validated_tuple() {
        let mut s = server();
        let k = keys(2);
        s.attach(k[0], "aaaa");
        s.attach(k[1], "bbbb");
        let stun = |ufrag: &str| binding_request(ufrag, "peer", "pwd", false, false);
        assert_eq!(s.route(SocketId(1), addr(5000), &stun("bbbb")), Route::Transport(k[1]));
        assert_eq!(s.route(SocketId(1), addr(5000), &stun("cccc")), Route::Drop);
        // RTP from a tuple nobody validated goes nowhere.
        let rtp = [0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9];
        assert_eq!(s.route(SocketId(1), addr(5000), &rtp), Route::Drop);
        s.tuple_changed(k[1], SocketId(1), addr(5000), true);
        assert_eq!(s.route(SocketId(1), addr(5000), &rtp), Route::Transport(k[1]));
        // STUN naming a transport goes to it even from a tuple another one holds; when its
        // check validates the tuple, the tuple is its own (the address changed hands).
        assert_eq!(s.route(SocketId(1), addr(5000), &stun("aaaa")), Route::Transport(k[0]));
        s.tuple_changed(k[0], SocketId(1), addr(5000), true);
        assert_eq!(s.route(SocketId(1), addr(5000), &rtp), Route::Transport(k[0]));
        // ... until the first holder's client validates it again.
        s.tuple_changed(k[1], SocketId(1), addr(5000), true);
        assert_eq!(s.route(SocketId(1), addr(5000), &rtp), Route::Transport(k[1]));
        assert_eq!(s.tuples_of.get(&k[0]).map_or(0, Vec::len), 0);
        // STUN naming no transport here still goes by tuple (responses, indications).
        assert_eq!(s.route(SocketId(1), addr(5000), &stun("cccc")), Route::Transport(k[1]));
        assert_eq!(s.drops, ServerDrops { unknown_ufrag: 1, unknown_tuple: 1, over_limit: 0 });
        // Forgetting the tuple, then the transport.
        s.tuple_changed(k[1], SocketId(1), addr(5000), false);
        assert_eq!(s.route(SocketId(1), addr(5000), &rtp), Route::Drop);
        s.tuple_changed(k[1], SocketId(1), addr(5001), true);
        assert!(s.detach(k[1]).is_empty());
        assert_eq!(s.route(SocketId(1), addr(5001), &rtp), Route::Drop);
        assert_eq!(s.route(SocketId(1), addr(5001), &stun("bbbb")), Route::Drop);
        assert_eq!(s.route(SocketId(1), addr(5001), &stun("aaaa")), Route::Transport(k[0]));
        assert_eq!(s.transports, vec![k[0]]);
    }

    #[test]
    fn a_restart_keeps_the_old_ufrag_until_it_is_done() {
        let mut s = server();
        let k = keys(1)[0];
        s.attach(k, "one");
        s.set_ufrags(k, "two", Some("one"));
        assert!(s.restarting(k));
        let names = |s: &WebRtcServer| {
            let mut v: Vec<String> = s.dump_json(|_| Some("t".into()))["localIceUsernameFragments"].as_array().unwrap().iter().map(|e| e["localIceUsernameFragment"].as_str().unwrap().to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&s), ["one", "two"]);
        // A second restart drops the oldest.
        s.set_ufrags(k, "three", Some("two"));
        assert_eq!(names(&s), ["three", "two"]);
        s.set_ufrags(k, "three", None);
        assert!(!s.restarting(k));
        assert_eq!(names(&s), ["three"]);
    }

    #[test]
    fn tcp_connections_must_be_routed_in_time_and_are_capped() {
        let mut s = server();
        let k = keys(1)[0];
        s.attach(k, "u");
        let t0 = Instant::now();
        for i in 0..MAX_PENDING_TCP as u32 {
            assert!(s.tcp_accepted(t0, SocketId(100 + i)));
        }
        assert!(!s.tcp_accepted(t0, SocketId(99)));
        // One of them does ICE: it is routed by its connection from then on.
        s.tuple_changed(k, SocketId(100), addr(7000), true);
        let rtp = [0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9];
        assert_eq!(s.route(SocketId(100), addr(7000), &rtp), Route::Transport(k));
        assert_eq!(s.poll_timeout(), Some(t0 + TCP_ROUTE_DEADLINE));
        assert!(s.handle_timeout(t0 + TCP_ROUTE_DEADLINE - Duration::from_millis(1)).is_empty());
        let expired = s.handle_timeout(t0 + TCP_ROUTE_DEADLINE);
        assert_eq!(expired.len(), MAX_PENDING_TCP - 1);
        assert!(!expired.contains(&SocketId(100)));
        assert_eq!(s.drops.over_limit, MAX_PENDING_TCP as u64);
        // Its connection closing unroutes it.
        assert_eq!(s.tcp_closed(SocketId(100)), Some(k));
        assert_eq!(s.route(SocketId(100), addr(7000), &rtp), Route::Drop);
        // Detaching returns the connections the transport still had.
        assert!(s.tcp_accepted(t0, SocketId(200)));
        s.tuple_changed(k, SocketId(200), addr(7001), true);
        assert_eq!(s.detach(k), vec![SocketId(200)]);
    }
}
