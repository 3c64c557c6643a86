//! mediasoup's PipeTransport over UDP, sans-IO: plain RTP/RTCP (RFC 5761 muxed) to one remote
//! address set by `connect()`, optionally SRTP with keys exchanged by the app (AEAD_AES_256_GCM,
//! as mediasoup). Routers in two processes or hosts — ferrosoup or mediasoup — link through it.
//!
//! As in mediasoup there is no handshake: the transport counts as connected once `connect()`
//! names the remote, and only datagrams from that address are accepted.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Value};

use super::webrtc::Received;
use super::Meters;
use crate::channel::RequestError;
use crate::srtp::{profile_name, SrtpSession, PIPE_PROFILE};

/// Why datagrams were dropped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipeDrops {
    /// Before `connect()`.
    pub not_connected: u64,
    /// From another address than the connected remote.
    pub unknown_tuple: u64,
    /// SRTP/SRTCP authentication or replay failures.
    pub srtp: u64,
    /// Neither RTP nor RTCP.
    pub unknown: u64,
}

pub struct PipeTransport {
    pub id: String,
    local: SocketAddr,
    announced: Option<String>,
    remote: Option<SocketAddr>,
    rtx: bool,
    /// Our SRTP master key (key ‖ salt) when SRTP is enabled.
    srtp_key: Option<Vec<u8>>,
    srtp: Option<SrtpSession>,
    outbox: VecDeque<Vec<u8>>,
    inbox: VecDeque<Received>,
    meters: Meters,
    trace_event_types: Vec<String>,
    pub drops: PipeDrops,
    pub rtp_packets_received: u64,
    pub rtcp_packets_received: u64,
}

impl PipeTransport {
    pub fn new(id: String, local: SocketAddr, announced: Option<String>, rtx: bool, enable_srtp: bool) -> Self {
        let srtp_key = enable_srtp.then(|| {
            let mut k = vec![0u8; SrtpSession::master_len(PIPE_PROFILE)];
            crate::ice::crypto().random().fill(&mut k).expect("random bytes");
            k
        });
        PipeTransport {
            id,
            local,
            announced,
            remote: None,
            rtx,
            srtp_key,
            srtp: None,
            outbox: VecDeque::new(),
            inbox: VecDeque::new(),
            meters: Meters::default(),
            trace_event_types: Vec::new(),
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
                "cryptoSuite": profile_name(PIPE_PROFILE),
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
        let mut v = json!({
            "id": self.id,
            "direct": false,
            "producerIds": [],
            "consumerIds": [],
            "mapSsrcConsumerId": [],
            "mapRtxSsrcConsumerId": [],
            "dataProducerIds": [],
            "dataConsumerIds": [],
            "recvRtpHeaderExtensions": {},
            "rtpListener": { "ssrcTable": [], "midTable": [], "ridTable": [] },
            "maxMessageSize": 262144,
            "traceEventTypes": self.trace_event_types,
        });
        for (k, val) in self.data_json().as_object().expect("object") {
            v[k] = val.clone();
        }
        v
    }

    pub fn stats_json(&mut self, now: Instant) -> Value {
        let mut s = self.meters.stats_json("pipe-transport", &self.id, now);
        s["tuple"] = self.tuple_json();
        json!([s])
    }

    pub fn enable_trace_event(&mut self, types: Vec<String>) {
        self.trace_event_types = types.into_iter().filter(|t| t == "probation" || t == "bwe").collect();
    }

    /// `pipeTransport.connect({ ip, port, srtpParameters })`, with mediasoup's checks and
    /// messages. Answers `{ tuple }`.
    pub fn connect(&mut self, data: &Value) -> Result<Value, RequestError> {
        if self.remote.is_some() {
            return Err(RequestError::error("connect() already called"));
        }
        let srtp_params = data.get("srtpParameters").filter(|v| !v.is_null());
        let session = match (&self.srtp_key, srtp_params) {
            (None, Some(_)) => return Err(RequestError::type_error("invalid srtpParameters (SRTP not enabled)")),
            (Some(_), None) => return Err(RequestError::type_error("missing srtpParameters (SRTP enabled)")),
            (None, None) => None,
            (Some(local), Some(p)) => {
                if p.get("cryptoSuite").and_then(Value::as_str) != Some(profile_name(PIPE_PROFILE)) {
                    return Err(RequestError::type_error("invalid/unsupported srtpParameters.cryptoSuite"));
                }
                let b64 = p
                    .get("keyBase64")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RequestError::type_error("missing srtpParameters.keyBase64"))?;
                let remote = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| RequestError::type_error("invalid srtpParameters.keyBase64"))?;
                if remote.len() != SrtpSession::master_len(PIPE_PROFILE) {
                    return Err(RequestError::type_error("invalid decoded SRTP key length"));
                }
                Some(
                    SrtpSession::from_master_keys(PIPE_PROFILE, local, &remote)
                        .map_err(|e| RequestError::error(format!("error creating SRTP session: {e}")))?,
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
            return Err(RequestError::error(format!("invalid IP '{ip}' (IP family differs from the local socket's)")));
        }
        self.remote = Some(SocketAddr::new(ip, port));
        self.srtp = session;
        Ok(json!({ "tuple": self.tuple_json() }))
    }

    /// One datagram arriving on the transport's socket from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let Some(remote) = self.remote else {
            self.drops.not_connected += 1;
            return;
        };
        // Checked before decrypting, so a stranger cannot advance the replay window.
        if from != remote {
            self.drops.unknown_tuple += 1;
            return;
        }
        self.meters.recv.update(data.len(), now);
        match demux(data) {
            Kind::Rtp => {
                let plain = match self.srtp.as_mut() {
                    Some(s) => match s.decrypt_rtp(data) {
                        Ok(p) => Vec::from(p),
                        Err(_) => {
                            self.drops.srtp += 1;
                            return;
                        }
                    },
                    None => data.to_vec(),
                };
                self.meters.rtp_recv.update(plain.len(), now);
                self.rtp_packets_received += 1;
                self.inbox.push_back(Received::Rtp(plain));
            }
            Kind::Rtcp => {
                let plain = match self.srtp.as_mut() {
                    Some(s) => match s.decrypt_rtcp(data) {
                        Ok(p) => Vec::from(p),
                        Err(_) => {
                            self.drops.srtp += 1;
                            return;
                        }
                    },
                    None => data.to_vec(),
                };
                self.rtcp_packets_received += 1;
                self.inbox.push_back(Received::Rtcp(plain));
            }
            Kind::Other => self.drops.unknown += 1,
        }
    }

    /// Queues plain RTP (`rtcp` false) or RTCP for the remote, protected when SRTP is on.
    /// Dropped before `connect()`, as in mediasoup.
    pub fn send_media(&mut self, now: Instant, data: &[u8], rtcp: bool) -> bool {
        if self.remote.is_none() {
            return false;
        }
        let bytes = match self.srtp.as_mut() {
            Some(s) => match if rtcp { s.encrypt_rtcp(data) } else { s.encrypt_rtp(data) } {
                Ok(b) => Vec::from(b),
                Err(_) => return false,
            },
            None => data.to_vec(),
        };
        if !rtcp {
            self.meters.rtp_send.update(data.len(), now);
        }
        self.meters.send.update(bytes.len(), now);
        self.outbox.push_back(bytes);
        true
    }

    /// The next datagram for the remote (the connected address).
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        let remote = self.remote?;
        self.outbox.pop_front().map(|d| (remote, d))
    }

    pub fn poll_received(&mut self) -> Option<Received> {
        self.inbox.pop_front()
    }
}

enum Kind {
    Rtp,
    Rtcp,
    Other,
}

/// RTP or RTCP (RFC 5761: RTCP packet types 192..=223 in the second byte). Plain RTCP can be
/// as short as 8 bytes (an empty receiver report).
fn demux(data: &[u8]) -> Kind {
    match data {
        [128..=191, 192..=223, ..] if data.len() >= 8 => Kind::Rtcp,
        [128..=191, ..] if data.len() >= 12 => Kind::Rtp,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests;
