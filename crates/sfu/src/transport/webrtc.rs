//! mediasoup's WebRtcTransport link, sans-IO: ICE-lite + DTLS + SRTP for one peer.
//!
//! Fed datagrams (with the tuple they came on) and time; it answers into the engine's outbox
//! (datagrams to send, notifications for the app) and hands back the media it decrypted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{tuple_json, LocalSocket, Meters, Received};
use crate::api::{ApiError, ApiResult, JsonObject, TransportId};
use crate::clock::Clock;
use crate::engine::io::Outbox;
use crate::net::certificate::LocalCertificate;
use crate::net::dtls::{DtlsState, DtlsTransport, Fingerprint, HandshakeJob, Role};
use crate::net::ice::{demux, Demux, IceEvent, IceServer, IceState, StunOutcome};
use crate::net::rng::Rng;
use crate::net::srtp::{SrtpError, SrtpSession};
use crate::net::{Protocol, Transmit, Tuple};

/// How long a DTLS handshake may take once started (rtc-dtls can stall its own timers).
const DTLS_HANDSHAKE_DEADLINE: Duration = Duration::from_secs(30);
/// DTLS bytes a peer may send before its handshake completes (a handshake is a few kB; beyond
/// this, DTLS datagrams are dropped, so nothing it buffers can grow).
const DTLS_HANDSHAKE_BYTES: usize = 256 * 1024;
/// How long a TCP connection may stay open without an authenticated ICE check on it.
pub const TCP_ICE_DEADLINE: Duration = Duration::from_secs(10);
/// TCP connections one transport keeps (more are closed at once).
pub const MAX_TCP_CONNECTIONS: usize = 32;

/// Candidate priority as mediasoup computes it: type preference 64 (host), local preference
/// 10000 minus 100 per listen entry (plus 1000 for a preferred protocol), component 1.
fn candidate_priority(index: usize, preferred: bool) -> u32 {
    let local_pref = 10000u32.saturating_sub(100 * index as u32) + if preferred { 1000 } else { 0 };
    (1 << 24) * 64 + (1 << 8) * local_pref + (256 - 1)
}

/// mediasoup's `iceCandidates` for these sockets: one host candidate each (the announced
/// address if any), and the bound IP 1000 lower when `exposeInternalIp` asks for it.
pub fn ice_candidates(sockets: &[LocalSocket]) -> Value {
    let mut list = Vec::with_capacity(sockets.len());
    for s in sockets {
        let priority = candidate_priority(s.index, s.preferred);
        let bound_ip = s.local.ip().to_string();
        let mut add = |address: &str, priority: u32| {
            let mut c = json!({
                "foundation": if s.protocol == Protocol::Udp { "udpcandidate" } else { "tcpcandidate" },
                "priority": priority,
                "ip": address,
                "address": address,
                "protocol": s.protocol.name(),
                "port": s.local.port(),
                "type": "host",
            });
            if s.protocol == Protocol::Tcp {
                c["tcpType"] = json!("passive");
            }
            list.push(c);
        };
        match &s.announced_address {
            Some(a) => {
                add(a, priority);
                if s.expose_internal_ip {
                    add(&bound_ip, priority - 1000);
                }
            }
            None => add(&bound_ip, priority),
        }
    }
    Value::Array(list)
}

/// Why datagrams were dropped (in dumps and stats).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drops {
    /// STUN that failed authentication or parsing.
    pub stun: u64,
    /// DTLS/RTP/RTCP from a tuple ICE has not validated.
    pub invalid_tuple: u64,
    /// RTP/RTCP before SRTP keys exist.
    pub not_connected: u64,
    /// SRTP/SRTCP authentication failures.
    pub srtp: u64,
    /// SRTP/SRTCP replays.
    pub srtp_replay: u64,
    /// Neither STUN, DTLS, RTP nor RTCP.
    pub unknown: u64,
    /// Over a limit: DTLS beyond the handshake budget, TCP connections beyond the cap or
    /// without ICE in time.
    pub over_limit: u64,
}

pub struct WebRtcTransport {
    id: TransportId,
    cert: Arc<LocalCertificate>,
    ice: IceServer,
    dtls: DtlsTransport,
    /// DTLS handshake reads go out as jobs for another thread.
    offload_handshakes: bool,
    dtls_deadline: Option<Instant>,
    srtp: Option<SrtpSession>,
    /// Local DTLS role: `auto` until `connect()` (or ICE connects first, then `server`).
    dtls_role: Role,
    connect_called: bool,
    remote_fingerprints: Option<Vec<Fingerprint>>,
    sockets: Vec<LocalSocket>,
    candidates: Value,
    meters: Meters,
    available_outgoing_bitrate: u64,
    /// DTLS became connected since the engine last asked.
    newly_connected: bool,
    dtls_handshake_bytes: usize,
    /// TCP connections not yet validated by ICE, and when they must be.
    tcp_pending: Vec<(Tuple, Instant)>,
    /// Sockets (TCP connections) the engine must close.
    to_close: Vec<crate::net::SocketId>,
    pub drops: Drops,
    pub rtp_packets_received: u64,
    pub rtcp_packets_received: u64,
    closed: bool,
}

impl WebRtcTransport {
    /// A transport on `sockets`: its own, or (`via_server`) its WebRtcServer's, in which case
    /// its ICE credentials are 32 characters (unique across the shared sockets) and its tuples
    /// are reported for the server to route by.
    pub fn new(
        id: TransportId,
        cert: Arc<LocalCertificate>,
        sockets: Vec<LocalSocket>,
        via_server: bool,
        consent_timeout_secs: u8,
        initial_available_outgoing_bitrate: u64,
        rng: &mut Rng,
    ) -> Self {
        let candidates = ice_candidates(&sockets);
        let mut ice = if via_server {
            IceServer::with_credential_lengths(consent_timeout_secs, (32, 32), rng)
        } else {
            IceServer::new(consent_timeout_secs, rng)
        };
        if via_server {
            ice.track_tuples();
        }
        WebRtcTransport {
            id,
            dtls: DtlsTransport::new(cert.clone()),
            offload_handshakes: false,
            cert,
            ice,
            dtls_deadline: None,
            srtp: None,
            dtls_role: Role::Auto,
            connect_called: false,
            remote_fingerprints: None,
            sockets,
            candidates,
            meters: Meters::default(),
            available_outgoing_bitrate: initial_available_outgoing_bitrate,
            newly_connected: false,
            dtls_handshake_bytes: 0,
            tcp_pending: Vec::new(),
            to_close: Vec::new(),
            drops: Drops::default(),
            rtp_packets_received: 0,
            rtcp_packets_received: 0,
            closed: false,
        }
    }

    /// DTLS handshake reads as jobs for another thread (`take_handshake_job`).
    pub fn set_handshake_offload(&mut self, on: bool) {
        self.offload_handshakes = on;
        self.dtls.set_offload(on);
    }

    /// DTLS handshake work to run elsewhere, then give back to `handshake_done`.
    pub fn take_handshake_job(&mut self) -> Option<Box<HandshakeJob>> {
        self.dtls.take_job()
    }

    /// A handshake job back from its thread: its flights go out, its state changes are told.
    pub fn handshake_done(&mut self, now: Instant, job: Box<HandshakeJob>, out: &mut Outbox) {
        if self.closed {
            return;
        }
        self.dtls.handshake_done(now, job);
        self.process_events(now, out);
    }

    pub fn sockets(&self) -> &[LocalSocket] {
        &self.sockets
    }
    pub fn ice_state(&self) -> IceState {
        self.ice.state()
    }
    pub fn dtls_state(&self) -> DtlsState {
        self.dtls.state()
    }
    pub fn username_fragment(&self) -> &str {
        self.ice.username_fragment()
    }
    /// The username fragment before `restartIce()`, while still accepted.
    pub fn old_username_fragment(&self) -> Option<&str> {
        self.ice.old_username_fragment()
    }
    /// Tuples ICE validated (`true`) or forgot since the last call (WebRtcServer transports).
    pub fn take_tuple_changes(&mut self) -> Vec<(Tuple, bool)> {
        self.ice.take_tuple_changes()
    }

    /// Whether DTLS connected since the last call (media may flow now).
    pub fn take_newly_connected(&mut self) -> bool {
        std::mem::take(&mut self.newly_connected)
    }

    fn target(&self) -> &Arc<str> {
        self.id.arc()
    }

    fn announced_for(&self, t: &Tuple) -> Option<&str> {
        self.sockets
            .iter()
            .find(|s| s.protocol == t.protocol && s.local == t.local)
            .and_then(|s| s.announced_address.as_deref())
    }

    fn selected_tuple_json(&self) -> Value {
        match self.ice.selected_tuple() {
            Some(t) => tuple_json(&t, self.announced_for(&t)),
            None => Value::Null,
        }
    }

    fn ice_parameters(&self) -> Value {
        json!({
            "usernameFragment": self.ice.username_fragment(),
            "password": self.ice.password(),
            "iceLite": true,
        })
    }

    fn dtls_parameters(&self) -> Value {
        json!({ "fingerprints": self.cert.fingerprints, "role": self.dtls_role.name() })
    }

    /// What `createWebRtcTransport()` answers with (mediasoup's data for the JS object).
    pub fn data_json(&self) -> Value {
        let mut v = json!({
            "iceRole": "controlled",
            "iceParameters": self.ice_parameters(),
            "iceCandidates": self.candidates,
            "iceState": if self.closed { "closed" } else { self.ice.state().name() },
            "dtlsParameters": self.dtls_parameters(),
            "dtlsState": if self.closed { "closed" } else { self.dtls.state().name() },
        });
        if let Some(t) = self.ice.selected_tuple() {
            v["iceSelectedTuple"] = tuple_json(&t, self.announced_for(&t));
        }
        v
    }

    /// `data_json()` as text, with `extra`'s fields after it: what `createWebRtcTransport()`
    /// answers, written at once (see `api::reply`).
    pub fn data_text(&self, extra: &Value) -> String {
        let mut ice = JsonObject::with_capacity(128);
        ice.field("usernameFragment", self.ice.username_fragment()).field("password", self.ice.password()).field("iceLite", &true);
        let mut dtls = JsonObject::with_capacity(self.cert.fingerprints_json.len() + 48);
        dtls.raw("fingerprints", &self.cert.fingerprints_json).field("role", self.dtls_role.name());
        let mut o = JsonObject::with_capacity(self.cert.fingerprints_json.len() + 512);
        o.field("iceRole", "controlled")
            .raw("iceParameters", &ice.finish())
            .field("iceCandidates", &self.candidates)
            .field("iceState", if self.closed { "closed" } else { self.ice.state().name() })
            .raw("dtlsParameters", &dtls.finish())
            .field("dtlsState", if self.closed { "closed" } else { self.dtls.state().name() });
        if let Some(t) = self.ice.selected_tuple() {
            o.field("iceSelectedTuple", &tuple_json(&t, self.announced_for(&t)));
        }
        o.fields_of(extra);
        o.finish()
    }

    pub fn dump_json(&self) -> Value {
        let mut v = super::base_dump_json(self.id.as_str(), 262_144, 262_144);
        let data = self.data_json();
        for (k, val) in data.as_object().expect("object") {
            if k != "iceSelectedTuple" {
                v[k] = val.clone();
            }
        }
        v
    }

    pub fn stats_json(&mut self, now: Instant, clock: &Clock) -> Value {
        let mut s = self.meters.stats_json("webrtc-transport", self.id.as_str(), now, clock);
        s["availableOutgoingBitrate"] = json!(self.available_outgoing_bitrate);
        s["iceRole"] = json!("controlled");
        s["iceState"] = json!(self.ice.state().name());
        s["dtlsState"] = json!(self.dtls.state().name());
        if self.ice.selected_tuple().is_some() {
            s["iceSelectedTuple"] = self.selected_tuple_json();
        }
        s
    }

    pub fn is_connected(&self) -> bool {
        self.srtp.is_some() && self.ice.selected_tuple().is_some()
    }

    /// Protects (in place) and sends plain RTP (`rtcp` false) or RTCP on the selected tuple;
    /// `false` if DTLS is not connected.
    pub fn send_media(&mut self, now: Instant, mut data: Vec<u8>, rtcp: bool, out: &mut Outbox) -> bool {
        let (Some(srtp), Some(tuple)) = (self.srtp.as_mut(), self.ice.selected_tuple()) else {
            return false;
        };
        let plain_len = data.len();
        let r = if rtcp { srtp.protect_rtcp(&mut data) } else { srtp.protect_rtp(&mut data) };
        if r.is_err() {
            return false;
        }
        if !rtcp {
            self.meters.rtp_send.update(plain_len, now);
        }
        self.transmit(now, tuple, data, out);
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let tcp = self.tcp_pending.iter().map(|(_, d)| *d).min();
        [self.ice.poll_timeout(), self.dtls.poll_timeout(), self.dtls_deadline, tcp].into_iter().flatten().min()
    }

    /// A TCP connection to one of its listeners: it must carry an authenticated ICE check
    /// within `TCP_ICE_DEADLINE`. `false` if the transport has too many already (close it).
    pub fn tcp_accepted(&mut self, now: Instant, tuple: Tuple, connections: usize) -> bool {
        if connections > MAX_TCP_CONNECTIONS {
            self.drops.over_limit += 1;
            return false;
        }
        self.tcp_pending.push((tuple, now + TCP_ICE_DEADLINE));
        true
    }

    /// Sockets it wants closed (TCP connections that never did ICE).
    pub fn take_sockets_to_close(&mut self) -> Vec<crate::net::SocketId> {
        std::mem::take(&mut self.to_close)
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if self.closed {
            return;
        }
        self.ice.handle_timeout(now);
        self.dtls.handle_timeout(now);
        // TCP connections that did ICE in time stay; the others are closed.
        let ice = &self.ice;
        for (t, deadline) in &self.tcp_pending {
            if now >= *deadline && !ice.is_valid_tuple(t) {
                self.drops.over_limit += 1;
                self.to_close.push(t.socket);
            }
        }
        self.tcp_pending.retain(|(t, d)| now < *d && !ice.is_valid_tuple(t));
        if self.dtls_deadline.is_some_and(|d| now >= d) {
            self.dtls_deadline = None;
            if self.dtls.state() == DtlsState::Connecting {
                // Give up: behave as a failed handshake.
                self.dtls.close(now);
                let target = self.target().clone();
                out.event(&target, "dtlsstatechange", json!({ "dtlsState": "failed" }));
            }
        }
        self.process_events(now, out);
    }

    /// One datagram from the network on `tuple`; decrypted media comes back.
    pub fn handle_datagram(&mut self, now: Instant, tuple: Tuple, data: &[u8], out: &mut Outbox) -> Option<Received> {
        if self.closed {
            return None;
        }
        self.meters.recv.update(data.len(), now);
        match demux(data) {
            Demux::Stun => match self.ice.handle_stun(now, tuple, data) {
                StunOutcome::Reply(bytes) => self.transmit(now, tuple, bytes, out),
                StunOutcome::Ignored => {}
                StunOutcome::Dropped(_) => self.drops.stun += 1,
            },
            Demux::Dtls => {
                if !self.ice.is_valid_tuple(&tuple) {
                    self.drops.invalid_tuple += 1;
                    return None;
                }
                if self.dtls.state() != DtlsState::Connected {
                    self.dtls_handshake_bytes += data.len();
                    if self.dtls_handshake_bytes > DTLS_HANDSHAKE_BYTES {
                        self.drops.over_limit += 1;
                        return None;
                    }
                }
                // Peers nominating aggressively may switch tuples by sending DTLS on another.
                self.ice.may_force_selected_tuple(&tuple);
                self.dtls.handle_datagram(now, data);
            }
            Demux::Rtp | Demux::Rtcp if !self.ice.is_valid_tuple(&tuple) => {
                self.drops.invalid_tuple += 1;
                return None;
            }
            Demux::Rtp | Demux::Rtcp => {
                let Some(srtp) = self.srtp.as_mut() else {
                    self.drops.not_connected += 1;
                    return None;
                };
                let rtcp = demux(data) == Demux::Rtcp;
                let mut plain = data.to_vec();
                let r = if rtcp { srtp.unprotect_rtcp(&mut plain) } else { srtp.unprotect_rtp(&mut plain) };
                match r {
                    Ok(()) if rtcp => {
                        self.rtcp_packets_received += 1;
                        return Some(Received::Rtcp(plain));
                    }
                    Ok(()) => {
                        self.meters.rtp_recv.update(plain.len(), now);
                        self.rtp_packets_received += 1;
                        return Some(Received::Rtp(plain));
                    }
                    Err(SrtpError::Replayed) => self.drops.srtp_replay += 1,
                    Err(_) => self.drops.srtp += 1,
                }
                return None;
            }
            Demux::Unknown => self.drops.unknown += 1,
        }
        self.process_events(now, out);
        None
    }

    fn transmit(&mut self, now: Instant, tuple: Tuple, data: Vec<u8>, out: &mut Outbox) {
        self.meters.send.update(data.len(), now);
        out.transmit(Transmit { socket: tuple.socket, to: tuple.remote, data });
    }

    /// Applies ICE and DTLS events: notifications, DTLS start, SRTP keys, DTLS output.
    fn process_events(&mut self, now: Instant, out: &mut Outbox) {
        let target = self.target().clone();
        let mut ice_changed = false;
        while let Some(e) = self.ice.poll_event() {
            match e {
                IceEvent::State(s) => {
                    ice_changed = true;
                    out.event(&target, "icestatechange", json!({ "iceState": s.name() }));
                }
                IceEvent::SelectedTuple(t) => {
                    let tuple = tuple_json(&t, self.announced_for(&t));
                    out.event(&target, "iceselectedtuplechange", json!({ "tuple": tuple }));
                }
                IceEvent::TupleRemoved(_) => {}
            }
        }
        if ice_changed {
            self.may_run_dtls(now);
        }
        while let Some(s) = self.dtls.poll_state() {
            let mut data = json!({ "dtlsState": s.name() });
            match s {
                DtlsState::Connected => {
                    self.dtls_deadline = None;
                    self.srtp = self.dtls.take_srtp();
                    self.newly_connected = true;
                    data["remoteCert"] = json!(self.dtls.remote_cert_pem());
                }
                DtlsState::Failed | DtlsState::Closed => {
                    self.dtls_deadline = None;
                    self.srtp = None;
                }
                _ => {}
            }
            out.event(&target, "dtlsstatechange", data);
        }
        // DTLS flights go to the selected tuple.
        while let Some(d) = self.dtls.poll_transmit() {
            if let Some(t) = self.ice.selected_tuple() {
                self.transmit(now, t, d.to_vec(), out);
            }
        }
    }

    /// Starts DTLS once ICE is up and the local role is known (mediasoup's MayRunDtlsTransport).
    fn may_run_dtls(&mut self, now: Instant) {
        if !self.ice.state().is_connected() {
            return;
        }
        let role = match self.dtls_role {
            // Not connected yet by the app: the ICE-lite side acts as DTLS server.
            Role::Auto => Role::Server,
            r => r,
        };
        match self.dtls.running_role() {
            Some(r) if r == role => return,
            Some(_) => {
                // connect() settled a different role than the one started: start over.
                let fps = self.remote_fingerprints.clone();
                self.dtls = DtlsTransport::with_offload(self.cert.clone(), self.offload_handshakes);
                if let Some(fps) = fps {
                    self.dtls.set_remote_fingerprints(now, fps);
                }
            }
            None => {}
        }
        if self.dtls_role == Role::Auto {
            self.dtls_role = Role::Server;
        }
        self.dtls.run(now, role);
        self.dtls_deadline = Some(now + DTLS_HANDSHAKE_DEADLINE);
    }

    /// `webRtcTransport.connect({ dtlsParameters })`: returns the local DTLS role.
    pub fn connect(&mut self, now: Instant, params: Option<&Value>, out: &mut Outbox) -> ApiResult<Value> {
        if self.connect_called {
            return Err(ApiError::invalid_state("connect() already called"));
        }
        let params = params.filter(|p| !p.is_null()).ok_or_else(|| ApiError::type_error("missing dtlsParameters"))?;
        let fps: Vec<Fingerprint> = params
            .get("fingerprints")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|f| {
                        Some(Fingerprint {
                            algorithm: f.get("algorithm")?.as_str()?.to_string(),
                            value: f.get("value")?.as_str()?.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if fps.is_empty() {
            return Err(ApiError::type_error("empty dtlsParameters.fingerprints array"));
        }
        let remote_role = params.get("role").and_then(Value::as_str).and_then(Role::parse).unwrap_or(Role::Auto);
        // We are ICE-controlled: a remote 'auto' makes us the DTLS client, as mediasoup does.
        self.dtls_role = match remote_role {
            Role::Client => Role::Server,
            Role::Server | Role::Auto => Role::Client,
        };
        self.connect_called = true;
        self.remote_fingerprints = Some(fps.clone());
        self.dtls.set_remote_fingerprints(now, fps);
        self.may_run_dtls(now);
        self.process_events(now, out);
        Ok(json!({ "dtlsLocalRole": self.dtls_role.name() }))
    }

    pub fn restart_ice(&mut self, now: Instant, rng: &mut Rng) -> Value {
        self.ice.restart(now, rng);
        self.ice_parameters()
    }

    /// A TCP connection of ours closed.
    pub fn tcp_closed(&mut self, now: Instant, tuple: &Tuple, out: &mut Outbox) {
        self.ice.remove_tuple(tuple);
        self.process_events(now, out);
    }

    /// SCTP packets that arrived as DTLS application data.
    pub fn poll_sctp(&mut self) -> Option<bytes::BytesMut> {
        self.dtls.poll_app_data()
    }

    /// Sends an SCTP packet as DTLS application data; `false` unless DTLS is connected.
    pub fn send_sctp(&mut self, now: Instant, packet: &[u8], out: &mut Outbox) -> bool {
        if !self.dtls.write_app_data(now, packet) {
            return false;
        }
        while let Some(d) = self.dtls.poll_transmit() {
            if let Some(t) = self.ice.selected_tuple() {
                self.transmit(now, t, d.to_vec(), out);
            }
        }
        true
    }

    /// Closes DTLS (close_notify to the peer) and stops everything.
    pub fn close(&mut self, now: Instant, out: &mut Outbox) {
        if self.closed {
            return;
        }
        if self.dtls.state() == DtlsState::Connected {
            self.dtls.close(now);
            while let Some(d) = self.dtls.poll_transmit() {
                if let Some(t) = self.ice.selected_tuple() {
                    self.transmit(now, t, d.to_vec(), out);
                }
            }
        }
        self.srtp = None;
        self.closed = true;
    }
}

#[cfg(test)]
mod tests;
