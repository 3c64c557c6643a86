//! mediasoup's PipeTransport over UDP, sans-IO: plain RTP/RTCP (RFC 5761 muxed) to one remote
//! address set by `connect()`, optionally SRTP with keys exchanged by the app (AEAD_AES_256_GCM,
//! as mediasoup). Routers in two processes or hosts — ferrosoup or mediasoup — link through it.
//!
//! As in mediasoup there is no handshake: the transport counts as connected once `connect()`
//! names the remote, and only datagrams from that address are accepted.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Value};

use super::plain::Kind;
use super::{Meters, Received};
use crate::api::{ApiError as RequestError, TransportId};
use crate::clock::Clock;
use crate::engine::io::Outbox;
use crate::net::rng::Rng;
use crate::net::srtp::{SrtpError, SrtpSession, PIPE_PROFILE};
use crate::net::{SocketId, Transmit};

/// Why datagrams of a UDP transport with one remote (pipe, plain) were dropped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipeDrops {
    /// Before `connect()`.
    pub not_connected: u64,
    /// From another address than the connected remote.
    pub unknown_tuple: u64,
    /// SRTP/SRTCP authentication failures.
    pub srtp: u64,
    /// SRTP/SRTCP replays.
    pub srtp_replay: u64,
    /// Neither RTP nor RTCP.
    pub unknown: u64,
}

impl PipeDrops {
    /// Unprotects `p` (RTCP or RTP) in place, counting a failure by its kind.
    pub fn unprotect(&mut self, session: &mut SrtpSession, p: &mut Vec<u8>, rtcp: bool) -> bool {
        let r = if rtcp { session.unprotect_rtcp(p) } else { session.unprotect_rtp(p) };
        match r {
            Ok(()) => true,
            Err(SrtpError::Replayed) => {
                self.srtp_replay += 1;
                false
            }
            Err(_) => {
                self.srtp += 1;
                false
            }
        }
    }
}

pub struct PipeTransport {
    pub id: TransportId,
    socket: SocketId,
    local: SocketAddr,
    announced: Option<String>,
    remote: Option<SocketAddr>,
    rtx: bool,
    /// Our SRTP master key (key ‖ salt) when SRTP is enabled.
    srtp_key: Option<Vec<u8>>,
    srtp: Option<SrtpSession>,
    meters: Meters,
    pub drops: PipeDrops,
    pub rtp_packets_received: u64,
    pub rtcp_packets_received: u64,
}

impl PipeTransport {
    pub fn new(id: TransportId, socket: SocketId, local: SocketAddr, announced: Option<String>, rtx: bool, enable_srtp: bool, rng: &mut Rng) -> Self {
        let srtp_key = enable_srtp.then(|| {
            let mut k = vec![0u8; PIPE_PROFILE.master_len()];
            rng.fill(&mut k);
            k
        });
        PipeTransport {
            id,
            socket,
            local,
            announced,
            remote: None,
            rtx,
            srtp_key,
            srtp: None,
            meters: Meters::default(),
            drops: PipeDrops::default(),
            rtp_packets_received: 0,
            rtcp_packets_received: 0,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    pub fn rtx(&self) -> bool {
        self.rtx
    }

    pub fn is_connected(&self) -> bool {
        self.remote.is_some()
    }

    fn tuple_json(&self) -> Value {
        let local_ip = self.local.ip().to_string();
        let local_ip = self.announced.as_deref().unwrap_or(&local_ip);
        let mut t = json!({ "localIp": local_ip, "localAddress": local_ip, "localPort": self.local.port(), "protocol": "udp" });
        if let Some(r) = self.remote {
            t["remoteIp"] = json!(r.ip().to_string());
            t["remotePort"] = json!(r.port());
        }
        t
    }

    fn srtp_parameters(&self) -> Option<Value> {
        self.srtp_key.as_ref().map(|k| {
            json!({
                "cryptoSuite": PIPE_PROFILE.name(),
                "keyBase64": base64::engine::general_purpose::STANDARD.encode(k),
            })
        })
    }

    /// What `createPipeTransport()` answers (mediasoup's PipeTransport data).
    pub fn data_json(&self) -> Value {
        let mut v = json!({ "tuple": self.tuple_json(), "rtx": self.rtx });
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
        let mut s = self.meters.stats_json("pipe-transport", self.id.as_str(), now, clock);
        s["tuple"] = self.tuple_json();
        s
    }

    /// `pipeTransport.connect({ ip, port, srtpParameters })`, with mediasoup's checks and
    /// messages. Answers `{ tuple }`.
    pub fn connect(&mut self, data: &Value) -> Result<Value, RequestError> {
        if self.remote.is_some() {
            return Err(RequestError::other("connect() already called"));
        }
        let srtp_params = data.get("srtpParameters").filter(|v| !v.is_null());
        let session = match (&self.srtp_key, srtp_params) {
            (None, Some(_)) => return Err(RequestError::type_error("invalid srtpParameters (SRTP not enabled)")),
            (Some(_), None) => return Err(RequestError::type_error("missing srtpParameters (SRTP enabled)")),
            (None, None) => None,
            (Some(local), Some(p)) => {
                if p.get("cryptoSuite").and_then(Value::as_str) != Some(PIPE_PROFILE.name()) {
                    return Err(RequestError::type_error("invalid/unsupported srtpParameters.cryptoSuite"));
                }
                let b64 = p
                    .get("keyBase64")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RequestError::type_error("missing srtpParameters.keyBase64"))?;
                let remote = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| RequestError::type_error("invalid srtpParameters.keyBase64"))?;
                if remote.len() != PIPE_PROFILE.master_len() {
                    return Err(RequestError::type_error("invalid decoded SRTP key length"));
                }
                Some(
                    SrtpSession::new(PIPE_PROFILE, local, &remote)
                        .map_err(|e| RequestError::other(format!("error creating SRTP session: {e}")))?,
                )
            }
        };
        let ip = match data.get("ip") {
            None | Some(Value::Null) => return Err(RequestError::type_error("missing ip")),
            Some(v) => v
                .as_str()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .ok_or_else(|| RequestError::type_error(format!("invalid IP '{}'", v.as_str().unwrap_or_default())))?,
        };
        let port = match data.get("port") {
            None | Some(Value::Null) => return Err(RequestError::type_error("missing port")),
            Some(v) => v
                .as_u64()
                .filter(|p| *p <= 65535)
                .ok_or_else(|| RequestError::type_error("invalid port"))? as u16,
        };
        if ip.is_ipv4() != self.local.is_ipv4() {
            return Err(RequestError::other(format!("invalid IP '{ip}' (IP family differs from the local socket's)")));
        }
        self.remote = Some(SocketAddr::new(ip, port));
        self.srtp = session;
        Ok(json!({ "tuple": self.tuple_json() }))
    }

    /// One datagram arriving on the transport's socket from `from`; the media in it, if any.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> Option<Received> {
        let Some(remote) = self.remote else {
            self.drops.not_connected += 1;
            return None;
        };
        // Checked before decrypting, so a stranger cannot advance the replay window.
        if from != remote {
            self.drops.unknown_tuple += 1;
            return None;
        }
        self.meters.recv.update(data.len(), now);
        let rtcp = match super::plain::demux(data) {
            Kind::Rtp => false,
            Kind::Rtcp => true,
            // SCTP travels unprotected, as mediasoup sends it.
            Kind::Sctp => return Some(Received::Sctp(data.to_vec())),
            Kind::Other => {
                self.drops.unknown += 1;
                return None;
            }
        };
        let mut plain = data.to_vec();
        if let Some(s) = self.srtp.as_mut() {
            if !self.drops.unprotect(s, &mut plain, rtcp) {
                return None;
            }
        }
        if rtcp {
            self.rtcp_packets_received += 1;
            Some(Received::Rtcp(plain))
        } else {
            self.meters.rtp_recv.update(plain.len(), now);
            self.rtp_packets_received += 1;
            Some(Received::Rtp(plain))
        }
    }

    /// Sends an SCTP packet to the remote (as it is); `false` before `connect()`.
    pub fn send_raw(&mut self, now: Instant, data: Vec<u8>, out: &mut Outbox) -> bool {
        let Some(remote) = self.remote else { return false };
        self.meters.send.update(data.len(), now);
        out.transmit(Transmit { socket: self.socket, to: remote, data });
        true
    }

    /// Sends plain RTP (`rtcp` false) or RTCP to the remote, protected when SRTP is on.
    /// Dropped before `connect()`, as in mediasoup.
    pub fn send_media(&mut self, now: Instant, mut data: Vec<u8>, rtcp: bool, out: &mut Outbox) -> bool {
        let Some(remote) = self.remote else { return false };
        let plain_len = data.len();
        if let Some(s) = self.srtp.as_mut() {
            let r = if rtcp { s.protect_rtcp(&mut data) } else { s.protect_rtp(&mut data) };
            if r.is_err() {
                return false;
            }
        }
        if !rtcp {
            self.meters.rtp_send.update(plain_len, now);
        }
        self.meters.send.update(data.len(), now);
        out.transmit(Transmit { socket: self.socket, to: remote, data });
        true
    }
}

/// A pipe to another worker thread of this process: media goes to the peer transport's worker
/// in memory (no socket, no SRTP).
#[derive(Default)]
pub struct MemoryPipe {
    /// The peer's worker and transport, once `pipeToRouter()` connected them.
    peer: Option<(u32, Arc<str>)>,
    pub rtp_packets_sent: u64,
    pub rtp_packets_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

impl MemoryPipe {
    pub fn connect(&mut self, worker: u32, transport: &TransportId) {
        self.peer = Some((worker, transport.arc().clone()));
    }

    /// Hands media to `deliver(worker, transport)`; `false` until connected.
    pub fn send(&mut self, len: usize, deliver: impl FnOnce(u32, Arc<str>), rtcp: bool) -> bool {
        let Some((worker, transport)) = &self.peer else { return false };
        self.rtp_packets_sent += u64::from(!rtcp);
        self.bytes_sent += len as u64;
        deliver(*worker, transport.clone());
        true
    }

    pub fn received(&mut self, len: usize, rtcp: bool) {
        self.rtp_packets_received += u64::from(!rtcp);
        self.bytes_received += len as u64;
    }

    pub fn dump_json(&self, id: &str) -> Value {
        json!({ "id": id, "tuple": memory_tuple(), "rtx": false, "inMemory": true })
    }

    pub fn stats_json(&self, id: &str, timestamp: u64) -> Value {
        json!({
            "type": "pipe-transport",
            "transportId": id,
            "timestamp": timestamp,
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
            "tuple": memory_tuple(),
        })
    }
}

/// The tuple an in-memory pipe reports (it has no socket).
pub fn memory_tuple() -> Value {
    json!({ "localIp": "127.0.0.1", "localAddress": "127.0.0.1", "localPort": 0, "protocol": "udp" })
}

#[cfg(test)]
mod tests;
