//! mediasoup's PlainTransport, sans-IO: plain RTP/RTCP over UDP (optionally SRTP with SDES keys
//! the app exchanges) with one remote endpoint: named by `connect()`, or learned from the first
//! packet that arrives (`comedia`). RTCP shares the RTP socket (`rtcpMux`) or has its own.
//! What ffmpeg, GStreamer and recorders speak.
//!
//! Only the connected (or learned) endpoint is heard; anything else is dropped and counted.
//! A learned endpoint is never replaced, as in mediasoup.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Value};

use super::{Meters, Received};
use crate::api::{ApiError, ApiResult, TransportId};
use crate::clock::Clock;
use crate::engine::io::Outbox;
use crate::net::rng::Rng;
use crate::net::srtp::{Profile, SrtpSession};
use crate::net::{SocketId, Transmit};

/// One of its sockets.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainSocket {
    pub id: SocketId,
    pub local: SocketAddr,
    pub announced: Option<String>,
}

/// Why datagrams were dropped (`not_connected`: no remote yet and not `comedia`, or SRTP keys
/// not given yet; `unknown_tuple`: another endpoint or socket than the one connected or learned).
pub use super::pipe::PipeDrops as PlainDrops;

struct Srtp {
    profile: Profile,
    /// Our master key ‖ salt: ASCII letters and digits, as mediasoup makes them.
    local_key: Vec<u8>,
    session: Option<SrtpSession>,
}

pub struct PlainTransport {
    id: TransportId,
    rtp: PlainSocket,
    /// Its own RTCP socket (`rtcpMux: false`).
    rtcp: Option<PlainSocket>,
    comedia: bool,
    remote: Option<SocketAddr>,
    rtcp_remote: Option<SocketAddr>,
    connect_called: bool,
    srtp: Option<Srtp>,
    meters: Meters,
    newly_connected: bool,
    pub drops: PlainDrops,
    pub rtp_packets_received: u64,
    pub rtcp_packets_received: u64,
}

fn local_key(profile: Profile, rng: &mut Rng) -> Vec<u8> {
    rng.string(profile.master_len()).into_bytes()
}

impl PlainTransport {
    pub fn new(id: TransportId, rtp: PlainSocket, rtcp: Option<PlainSocket>, comedia: bool, srtp: Option<Profile>, rng: &mut Rng) -> Self {
        PlainTransport {
            id,
            rtp,
            rtcp,
            comedia,
            remote: None,
            rtcp_remote: None,
            connect_called: false,
            srtp: srtp.map(|profile| Srtp { profile, local_key: local_key(profile, rng), session: None }),
            meters: Meters::default(),
            newly_connected: false,
            drops: PlainDrops::default(),
            rtp_packets_received: 0,
            rtcp_packets_received: 0,
        }
    }

    fn target(&self) -> &Arc<str> {
        self.id.arc()
    }

    pub fn rtcp_mux(&self) -> bool {
        self.rtcp.is_none()
    }

    /// Whether a remote is known (media may go out).
    pub fn is_connected(&self) -> bool {
        self.remote.is_some()
    }

    /// Whether it became connected since the last call.
    pub fn take_newly_connected(&mut self) -> bool {
        std::mem::take(&mut self.newly_connected)
    }

    /// mediasoup's tuple: the local end, and the remote once known (`remotePort` 0 before).
    fn tuple_of(local: &PlainSocket, remote: Option<SocketAddr>) -> Value {
        let ip = local.local.ip().to_string();
        let shown = local.announced.as_deref().unwrap_or(&ip);
        let mut t = json!({ "localIp": shown, "localAddress": shown, "localPort": local.local.port(), "remotePort": 0, "protocol": "udp" });
        if let Some(r) = remote {
            t["remoteIp"] = json!(r.ip().to_string());
            t["remotePort"] = json!(r.port());
        }
        t
    }

    fn tuple_json(&self) -> Value {
        Self::tuple_of(&self.rtp, self.remote)
    }

    fn rtcp_tuple_json(&self) -> Option<Value> {
        self.rtcp.as_ref().map(|s| Self::tuple_of(s, self.rtcp_remote))
    }

    fn srtp_parameters(&self) -> Option<Value> {
        self.srtp.as_ref().map(|s| {
            json!({
                "cryptoSuite": s.profile.name(),
                "keyBase64": base64::engine::general_purpose::STANDARD.encode(&s.local_key),
            })
        })
    }

    /// What `createPlainTransport()` answers (mediasoup's PlainTransport data).
    pub fn data_json(&self) -> Value {
        let mut v = json!({ "rtcpMux": self.rtcp_mux(), "comedia": self.comedia, "tuple": self.tuple_json() });
        if let Some(t) = self.rtcp_tuple_json() {
            v["rtcpTuple"] = t;
        }
        if let Some(p) = self.srtp_parameters() {
            v["srtpParameters"] = p;
        }
        v
    }

    pub fn dump_json(&self) -> Value {
        let mut v = super::base_dump_json(self.id.as_str(), 262_144, 262_144);
        for (k, val) in self.data_json().as_object().expect("object") {
            v[k] = val.clone();
        }
        v
    }

    pub fn stats_json(&mut self, now: Instant, clock: &Clock) -> Value {
        let mut s = self.meters.stats_json("plain-rtp-transport", self.id.as_str(), now, clock);
        s["rtcpMux"] = json!(self.rtcp_mux());
        s["comedia"] = json!(self.comedia);
        s["tuple"] = self.tuple_json();
        if let (Some(t), Some(_)) = (self.rtcp_tuple_json(), self.rtcp_remote) {
            s["rtcpTuple"] = t;
        }
        s
    }

    /// `plainTransport.connect({ ip, port, rtcpPort, srtpParameters })`, with mediasoup's checks
    /// in its order. Nothing changes unless all of it succeeds.
    pub fn connect(&mut self, data: &Value, rng: &mut Rng) -> ApiResult<Value> {
        if self.connect_called {
            return Err(ApiError::other("connect() already called"));
        }
        let given = data.get("srtpParameters").filter(|v| !v.is_null());
        let srtp = match (&self.srtp, given) {
            (None, Some(_)) => return Err(ApiError::type_error("invalid srtpParameters (SRTP not enabled)")),
            (Some(_), None) => return Err(ApiError::type_error("missing srtpParameters (SRTP enabled)")),
            (None, None) => None,
            (Some(current), Some(p)) => {
                let suite = p.get("cryptoSuite").and_then(Value::as_str).unwrap_or_default();
                let profile = Profile::from_name(suite).ok_or_else(|| ApiError::type_error(format!("invalid SrtpCryptoSuite: {suite}")))?;
                // Another suite than ours: a new local key of its length.
                let local = if profile == current.profile { current.local_key.clone() } else { local_key(profile, rng) };
                let b64 = p.get("keyBase64").and_then(Value::as_str).unwrap_or_default();
                if b64.is_empty() || b64.len() % 4 != 0 {
                    return Err(ApiError::type_error("invalid data"));
                }
                let remote = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| ApiError::type_error("invalid data"))?;
                if remote.len() != profile.master_len() {
                    return Err(ApiError::type_error("invalid decoded SRTP key length"));
                }
                let session = SrtpSession::new(profile, &local, &remote).map_err(|e| ApiError::other(format!("error creating SRTP session: {e}")))?;
                Some(Srtp { profile, local_key: local, session: Some(session) })
            }
        };
        let mut remotes = (None, None);
        // With comedia the remote comes from the first packet: ip and ports are ignored.
        if !self.comedia {
            let ip = match data.get("ip") {
                None | Some(Value::Null) => return Err(ApiError::type_error("missing ip")),
                Some(v) => {
                    let s = v.as_str().unwrap_or_default();
                    s.parse::<IpAddr>().map_err(|_| ApiError::type_error(format!("invalid IP '{s}'")))?
                }
            };
            let port = |key: &str| -> ApiResult<Option<u16>> {
                match data.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v.as_u64().filter(|p| *p <= 65535).map(|p| Some(p as u16)).ok_or_else(|| ApiError::type_error(format!("invalid {key}"))),
                }
            };
            let port_n = port("port")?.ok_or_else(|| ApiError::type_error("missing port"))?;
            let rtcp_port = port("rtcpPort")?;
            match (self.rtcp_mux(), rtcp_port) {
                (true, Some(_)) => return Err(ApiError::type_error("cannot set rtcpPort with rtcpMux enabled")),
                (false, None) => return Err(ApiError::type_error("missing rtcpPort (required with rtcpMux disabled)")),
                _ => {}
            }
            if ip.is_ipv4() != self.rtp.local.is_ipv4() {
                return Err(ApiError::other(format!("invalid IP '{ip}' (IP family differs from the local socket's)")));
            }
            remotes = (Some(SocketAddr::new(ip, port_n)), rtcp_port.map(|p| SocketAddr::new(ip, p)));
        }
        self.connect_called = true;
        if srtp.is_some() {
            self.srtp = srtp;
        }
        if let Some(r) = remotes.0 {
            self.remote = Some(r);
            self.rtcp_remote = remotes.1;
            self.newly_connected = true;
        }
        let mut reply = json!({});
        if self.remote.is_some() {
            reply["tuple"] = self.tuple_json();
        }
        if self.rtcp_remote.is_some() {
            reply["rtcpTuple"] = self.rtcp_tuple_json().expect("an RTCP socket");
        }
        if let Some(p) = self.srtp_parameters() {
            reply["srtpParameters"] = p;
        }
        Ok(reply)
    }

    /// One datagram on `socket` (its RTP or RTCP socket) from `from`; the media in it, if any.
    /// With `comedia`, the first packet that gets through names the remote (a `tuple` or
    /// `rtcptuple` event).
    pub fn handle_datagram(&mut self, now: Instant, socket: SocketId, from: SocketAddr, data: &[u8], out: &mut Outbox) -> Option<Received> {
        self.meters.recv.update(data.len(), now);
        let kind = demux(data);
        let rtcp = match kind {
            Kind::Rtcp => true,
            Kind::Rtp | Kind::Sctp => false,
            Kind::Other => {
                self.drops.unknown += 1;
                return None;
            }
        };
        // RTCP on its own socket has its own remote; everything else goes with RTP's.
        let own_rtcp = rtcp && self.rtcp.is_some();
        let (expected_socket, known) = if own_rtcp {
            (self.rtcp.as_ref().map(|s| s.id).unwrap_or(self.rtp.id), self.rtcp_remote)
        } else {
            (self.rtp.id, self.remote)
        };
        match known {
            // Checked before decrypting, so a stranger cannot move the replay window.
            Some(r) if r != from || socket != expected_socket => {
                self.drops.unknown_tuple += 1;
                return None;
            }
            None if !self.comedia || socket != expected_socket => {
                self.drops.not_connected += 1;
                return None;
            }
            _ => {}
        }
        let mut plain = data.to_vec();
        // SCTP is never SRTP-protected (mediasoup sends it as it is).
        if let Some(s) = self.srtp.as_mut().filter(|_| kind != Kind::Sctp) {
            let Some(session) = s.session.as_mut() else {
                self.drops.not_connected += 1;
                return None;
            };
            if !self.drops.unprotect(session, &mut plain, rtcp) {
                return None;
            }
        }
        if known.is_none() {
            // comedia: this endpoint it is, from now on.
            let target = self.target().clone();
            if own_rtcp {
                self.rtcp_remote = Some(from);
                out.event(&target, "rtcptuple", json!({ "tuple": self.rtcp_tuple_json() }));
            } else {
                self.remote = Some(from);
                self.newly_connected = true;
                out.event(&target, "tuple", json!({ "tuple": self.tuple_json() }));
            }
        }
        if kind == Kind::Sctp {
            Some(Received::Sctp(plain))
        } else if rtcp {
            self.rtcp_packets_received += 1;
            Some(Received::Rtcp(plain))
        } else {
            self.meters.rtp_recv.update(plain.len(), now);
            self.rtp_packets_received += 1;
            Some(Received::Rtp(plain))
        }
    }

    /// Sends an SCTP packet to the remote (as it is); `false` while it is unknown.
    pub fn send_raw(&mut self, now: Instant, data: Vec<u8>, out: &mut Outbox) -> bool {
        let Some(to) = self.remote else { return false };
        self.meters.send.update(data.len(), now);
        out.transmit(Transmit { socket: self.rtp.id, to, data });
        true
    }

    /// The remote endpoint (RTP), once known.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    pub fn local(&self) -> SocketAddr {
        self.rtp.local
    }

    /// Sends plain RTP (`rtcp` false) or RTCP to the remote, protected when SRTP is on.
    /// `false` while the remote (or, for RTCP on its own socket, the RTCP remote) is unknown.
    pub fn send_media(&mut self, now: Instant, mut data: Vec<u8>, rtcp: bool, out: &mut Outbox) -> bool {
        let (socket, to) = match (&self.rtcp, rtcp) {
            (Some(s), true) => (s.id, self.rtcp_remote),
            _ => (self.rtp.id, self.remote),
        };
        let Some(to) = to else { return false };
        let plain_len = data.len();
        if let Some(s) = self.srtp.as_mut() {
            let Some(session) = s.session.as_mut() else { return false };
            let r = if rtcp { session.protect_rtcp(&mut data) } else { session.protect_rtp(&mut data) };
            if r.is_err() {
                return false;
            }
        }
        if !rtcp {
            self.meters.rtp_send.update(plain_len, now);
        }
        self.meters.send.update(data.len(), now);
        out.transmit(Transmit { socket, to, data });
        true
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Rtp,
    Rtcp,
    Sctp,
    Other,
}

/// RTP, RTCP (packet types 192..=223, RFC 5761), else SCTP as mediasoup tells it (at least a
/// common header, a multiple of 4 bytes).
pub(crate) fn demux(data: &[u8]) -> Kind {
    match data {
        [128..=191, 192..=223, ..] if data.len() >= 8 => Kind::Rtcp,
        [128..=191, ..] if data.len() >= 12 => Kind::Rtp,
        _ if data.len() >= 12 && data.len() % 4 == 0 => Kind::Sctp,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests;
