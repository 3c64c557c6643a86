//! Transports: what connects a router to the network. Each has a link (how bytes travel:
//! WebRTC's ICE+DTLS+SRTP, a pipe over UDP, a pipe in memory to another worker) and the media
//! state every transport keeps (its RTP listener, consumers' SSRCs, transport-wide-cc, CNAME).

pub mod congestion;
pub mod data;
pub mod listen;
pub mod media;
pub mod pipe;
pub mod plain;
pub mod direct;
pub mod webrtc;
pub mod webrtc_server;

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::{json, Value};

use crate::api::TransportId;
use crate::arena::Key;
use crate::clock::Clock;
use crate::engine::io::{Outbox, Output, PipeKind, PipeMessage};
use crate::net::sctp::{Reliability, SendError};
use crate::net::{Protocol, SocketId, Tuple};
use crate::router::RouterKey;
use crate::rtp::rate::RateCalculator;

pub use data::TransportData;
pub use media::TransportMedia;

pub type TransportKey = Key<Transport>;

/// A bound local socket of a transport (its own, or its WebRtcServer's): where candidates point.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalSocket {
    pub id: SocketId,
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub announced_address: Option<String>,
    /// Position of its listen info (each one down lowers the candidate's priority).
    pub index: usize,
    /// `preferUdp`/`preferTcp` named its protocol (raises the candidate's priority).
    pub preferred: bool,
    /// With an announced address, also offer the bound IP (`exposeInternalIp`).
    pub expose_internal_ip: bool,
}

impl LocalSocket {
    /// A transport's own socket, bound for the `index`th listen info.
    pub fn own(b: &crate::engine::io::BoundSocket, info: &listen::ListenInfo, index: usize) -> Self {
        LocalSocket {
            id: b.id,
            protocol: b.protocol,
            local: b.local,
            announced_address: info.announced_address.clone(),
            index,
            preferred: false,
            expose_internal_ip: info.expose_internal_ip,
        }
    }
}

/// Decrypted media a transport received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Rtp(Vec<u8>),
    Rtcp(Vec<u8>),
    /// An SCTP packet (DataChannels) from a Plain or Pipe transport's UDP.
    Sctp(Vec<u8>),
}

pub struct Transport {
    pub id: TransportId,
    pub router: RouterKey,
    pub link: Link,
    pub media: TransportMedia,
    pub data: TransportData,
    /// Sockets of its own (closed with it).
    pub sockets: Vec<SocketId>,
    /// The WebRtcServer whose sockets it uses.
    pub server: Option<webrtc_server::WebRtcServerKey>,
}

pub enum Link {
    WebRtc(Box<webrtc::WebRtcTransport>),
    Pipe(Box<pipe::PipeTransport>),
    Memory(pipe::MemoryPipe),
    Plain(Box<plain::PlainTransport>),
    Direct(Box<direct::DirectTransport>),
    /// Tests of the router: what would be sent is kept, (rtcp, packet); `pipe` makes it a
    /// pipe transport.
    #[cfg(any(test, feature = "fuzzing"))]
    Capture { pipe: bool, sent: Vec<(bool, Vec<u8>)> },
}

impl Transport {
    pub fn new(id: TransportId, router: RouterKey, link: Link, rtcp_ssrc: u32) -> Self {
        Transport { id, router, link, media: TransportMedia::new(rtcp_ssrc), data: TransportData::none(), sockets: Vec::new(), server: None }
    }

    pub fn is_pipe(&self) -> bool {
        #[cfg(any(test, feature = "fuzzing"))]
        if let Link::Capture { pipe, .. } = self.link {
            return pipe;
        }
        matches!(self.link, Link::Pipe(_) | Link::Memory(_))
    }

    /// Whether pipe consumers on it keep retransmission buffers (`enableRtx`).
    pub fn pipe_rtx(&self) -> bool {
        matches!(&self.link, Link::Pipe(p) if p.rtx())
    }

    /// Protects and sends RTP (`rtcp` false) or RTCP. `false` if it could not go out (not
    /// connected yet, or protection failed).
    pub fn send(&mut self, now: Instant, data: Vec<u8>, rtcp: bool, out: &mut Outbox) -> bool {
        let sent = match &mut self.link {
            Link::WebRtc(t) => t.send_media(now, data, rtcp, out),
            Link::Pipe(p) => p.send_media(now, data, rtcp, out),
            Link::Memory(m) => m.send(data.len(), |worker, transport| {
                let kind = if rtcp { PipeKind::Rtcp } else { PipeKind::Rtp };
                out.push(Output::Pipe { worker, message: PipeMessage { transport, data, kind } })
            }, rtcp),
            Link::Plain(p) => p.send_media(now, data, rtcp, out),
            Link::Direct(d) => d.send(now, None, &data, rtcp, out),
            #[cfg(any(test, feature = "fuzzing"))]
            Link::Capture { sent, .. } => {
                sent.push((rtcp, data));
                true
            }
        };
        if sent && !rtcp {
            self.media.rtp_packets_sent += 1;
        }
        sent
    }

    pub fn send_rtp(&mut self, now: Instant, data: Vec<u8>, out: &mut Outbox) -> bool {
        self.send(now, data, false, out)
    }

    /// A data consumer's message on `stream`: to the app as its `message` event (Direct), to
    /// the other worker (in-memory pipe), or over SCTP. The stream's buffered amount after it.
    #[allow(clippy::too_many_arguments)]
    pub fn send_data(&mut self, now: Instant, consumer: &std::sync::Arc<str>, stream: u16, ppid: u32, data: &[u8], reliability: Reliability, out: &mut Outbox) -> Result<usize, SendError> {
        match &mut self.link {
            Link::Direct(d) => {
                d.sent_data(now, data.len());
                out.event(consumer, "message", crate::router::data::DataRouter::message_event(ppid, data));
                return Ok(0);
            }
            Link::Memory(m) => {
                let sent = m.send(data.len(), |worker, transport| {
                    out.push(Output::Pipe { worker, message: PipeMessage { transport, data: data.to_vec(), kind: PipeKind::Data { stream, ppid } } })
                }, true);
                return if sent { Ok(0) } else { Err(SendError::Closed) };
            }
            _ => {}
        }
        let sctp = self.data.sctp.as_mut().ok_or(SendError::Closed)?;
        let r = sctp.send(now, stream, ppid, data, reliability);
        self.flush_sctp(now, out);
        r
    }

    /// Resets our outgoing SCTP `stream` (its data consumer went).
    pub fn reset_sctp_stream(&mut self, now: Instant, stream: u16, out: &mut Outbox) {
        if let Some(s) = self.data.sctp.as_mut() {
            s.reset_stream(now, stream);
            self.flush_sctp(now, out);
        }
    }

    /// Sends the SCTP packets the association has queued, over the link.
    pub fn flush_sctp(&mut self, now: Instant, out: &mut Outbox) {
        let Some(sctp) = self.data.sctp.as_mut() else { return };
        while let Some(packet) = sctp.poll_transmit() {
            match &mut self.link {
                Link::WebRtc(w) => {
                    w.send_sctp(now, &packet, out);
                }
                Link::Plain(p) => {
                    p.send_raw(now, packet, out);
                }
                Link::Pipe(p) => {
                    p.send_raw(now, packet, out);
                }
                _ => {}
            }
        }
    }

    /// RTP of a consumer: on a DirectTransport it goes to the app as the consumer's `rtp` event.
    pub fn send_consumer_rtp(&mut self, now: Instant, data: Vec<u8>, consumer: &crate::api::ConsumerId, out: &mut Outbox) -> bool {
        if let Link::Direct(d) = &mut self.link {
            let sent = d.send(now, Some(consumer.arc()), &data, false, out);
            self.media.rtp_packets_sent += u64::from(sent);
            return sent;
        }
        self.send(now, data, false, out)
    }

    /// A WebRtcTransport (or, in tests, a capturing stand-in for one).
    pub fn is_webrtc(&self) -> bool {
        match &self.link {
            Link::WebRtc(_) => true,
            #[cfg(any(test, feature = "fuzzing"))]
            Link::Capture { pipe, .. } => !pipe,
            _ => false,
        }
    }

    pub fn send_rtcp(&mut self, now: Instant, data: Vec<u8>, out: &mut Outbox) -> bool {
        self.send(now, data, true, out)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let link = match &self.link {
            Link::WebRtc(t) => t.poll_timeout(),
            _ => None,
        };
        let sctp = self.data.sctp.as_ref().and_then(|s| s.poll_timeout());
        [link, sctp].into_iter().flatten().min()
    }

    pub fn dump_json(&self) -> Value {
        let mut d = match &self.link {
            Link::WebRtc(t) => t.dump_json(),
            Link::Pipe(p) => p.dump_json(),
            Link::Memory(m) => m.dump_json(self.id.as_str()),
            Link::Plain(p) => p.dump_json(),
            Link::Direct(d) => d.dump_json(),
            #[cfg(any(test, feature = "fuzzing"))]
            Link::Capture { .. } => json!({ "id": self.id.as_str() }),
        };
        self.media.add_dump(&mut d);
        self.data.add_json(&mut d);
        d["drops"] = self.drops_json();
        d
    }

    /// ferrosoup: what this transport dropped, by reason (in `dump()` and `getStats()`).
    pub fn drops_json(&self) -> Value {
        let m = &self.media.drops;
        let mut d = json!({
            // Not parseable as RTP/RTCP after decryption, or of no producer of this transport.
            "malformed": m.malformed,
            "unknownSsrc": m.unknown_ssrc,
            "unknownStream": m.unknown_stream,
        });
        match &self.link {
            Link::WebRtc(t) => {
                let l = t.drops;
                d["stunUnauthenticated"] = json!(l.stun);
                d["invalidTuple"] = json!(l.invalid_tuple);
                d["notConnected"] = json!(l.not_connected);
                d["srtpAuth"] = json!(l.srtp);
                d["srtpReplay"] = json!(l.srtp_replay);
                d["unknown"] = json!(l.unknown);
                d["overLimit"] = json!(l.over_limit);
            }
            Link::Pipe(_) | Link::Plain(_) => {
                let l = match &self.link {
                    Link::Pipe(p) => p.drops,
                    Link::Plain(p) => p.drops,
                    _ => unreachable!(),
                };
                d["notConnected"] = json!(l.not_connected);
                d["invalidTuple"] = json!(l.unknown_tuple);
                d["srtpAuth"] = json!(l.srtp);
                d["srtpReplay"] = json!(l.srtp_replay);
                d["unknown"] = json!(l.unknown);
            }
            Link::Direct(t) => {
                d["overLimit"] = json!(t.drops.too_big);
            }
            _ => {}
        }
        if let Some(sctp) = &self.data.sctp {
            // SCTP packets that were not for the association, messages over the size limit,
            // FORWARD TSN / SACK chunks that claim far more than the association holds, and
            // packets rtc-sctp panicked on (the association failed).
            d["sctpMalformed"] = json!(sctp.drops.malformed);
            d["sctpMessageTooBig"] = json!(sctp.drops.too_big);
            d["sctpOverLimit"] = json!(sctp.drops.over_limit);
            d["sctpPanicked"] = json!(sctp.drops.panicked);
        }
        d
    }

    pub fn stats_json(&mut self, now: Instant, clock: &Clock) -> Value {
        let mut s = match &mut self.link {
            Link::WebRtc(t) => t.stats_json(now, clock),
            Link::Pipe(p) => p.stats_json(now, clock),
            Link::Memory(m) => m.stats_json(self.id.as_str(), clock.wall_ms(now)),
            Link::Plain(p) => p.stats_json(now, clock),
            Link::Direct(d) => d.stats_json(now, clock),
            #[cfg(any(test, feature = "fuzzing"))]
            Link::Capture { .. } => json!({}),
        };
        self.media.add_stats(&mut s);
        if let Some(state) = self.data.sctp_state() {
            s["sctpState"] = json!(state.name());
        }
        s["drops"] = self.drops_json();
        json!([s])
    }

    /// Closes the link (SCTP aborts, DTLS sends close_notify); media stops.
    pub fn close(&mut self, now: Instant, out: &mut Outbox) {
        if let Some(s) = self.data.sctp.as_mut() {
            s.close(now);
            self.flush_sctp(now, out);
        }
        if let Link::WebRtc(t) = &mut self.link {
            t.close(now, out);
        }
    }
}

/// The fields of mediasoup's base transport dump every kind starts from (the engine fills in
/// producers, consumers and the RTP listener).
pub fn base_dump_json(id: &str, max_send_message_size: u64, max_receive_message_size: u64) -> Value {
    json!({
        "id": id,
        "producerIds": [],
        "consumerIds": [],
        "mapSsrcConsumerId": [],
        "mapRtxSsrcConsumerId": [],
        "dataProducerIds": [],
        "dataConsumerIds": [],
        "recvRtpHeaderExtensions": {},
        "rtpListener": { "ssrcTable": [], "midTable": [], "ridTable": [] },
        "maxSendMessageSize": max_send_message_size,
        "maxReceiveMessageSize": max_receive_message_size,
        "traceEventTypes": [],
    })
}

/// mediasoup's `TransportTuple` JSON.
pub fn tuple_json(t: &Tuple, announced: Option<&str>) -> Value {
    let local_ip = t.local.ip().to_string();
    json!({
        "localIp": announced.unwrap_or(&local_ip),
        "localAddress": announced.unwrap_or(&local_ip),
        "localPort": t.local.port(),
        "remoteIp": t.remote.ip().to_string(),
        "remotePort": t.remote.port(),
        "protocol": t.protocol.name(),
    })
}

/// Byte counters and bitrates every transport reports.
#[derive(Default)]
pub struct Meters {
    pub recv: RateCalculator,
    pub send: RateCalculator,
    pub rtp_recv: RateCalculator,
    pub rtp_send: RateCalculator,
}

impl Meters {
    /// The fields of mediasoup's `BaseTransportStats`.
    pub fn stats_json(&mut self, ty: &str, id: &str, now: Instant, clock: &Clock) -> Value {
        json!({
            "type": ty,
            "transportId": id,
            "timestamp": clock.wall_ms(now),
            "bytesReceived": self.recv.total_bytes,
            "recvBitrate": self.recv.rate(now),
            "bytesSent": self.send.total_bytes,
            "sendBitrate": self.send.rate(now),
            "rtpBytesReceived": self.rtp_recv.total_bytes,
            "rtpRecvBitrate": self.rtp_recv.rate(now),
            "rtpBytesSent": self.rtp_send.total_bytes,
            "rtpSendBitrate": self.rtp_send.rate(now),
            "rtxBytesReceived": 0,
            "rtxRecvBitrate": 0,
            "rtxBytesSent": 0,
            "rtxSendBitrate": 0,
            "probationBytesSent": 0,
            "probationSendBitrate": 0,
        })
    }
}

/// `transport.setMaxIncomingBitrate()` and friends: 0 clears a limit; max ≥ min.
#[derive(Default, Clone, Copy, Debug)]
pub struct BitrateLimits {
    pub max_incoming: Option<u64>,
    pub max_outgoing: Option<u64>,
    pub min_outgoing: Option<u64>,
}

impl BitrateLimits {
    pub fn set_max_incoming(&mut self, bitrate: u64) {
        self.max_incoming = (bitrate != 0).then_some(bitrate);
    }

    pub fn set_max_outgoing(&mut self, bitrate: u64) -> Result<(), crate::api::ApiError> {
        let value = (bitrate != 0).then_some(bitrate);
        if let (Some(max), Some(min)) = (value, self.min_outgoing) {
            if max < min {
                return Err(crate::api::ApiError::type_error("maxOutgoingBitrate must be >= minOutgoingBitrate"));
            }
        }
        self.max_outgoing = value;
        Ok(())
    }

    pub fn set_min_outgoing(&mut self, bitrate: u64) -> Result<(), crate::api::ApiError> {
        let value = (bitrate != 0).then_some(bitrate);
        if let (Some(min), Some(max)) = (value, self.max_outgoing) {
            if min > max {
                return Err(crate::api::ApiError::type_error("minOutgoingBitrate must be <= maxOutgoingBitrate"));
            }
        }
        self.min_outgoing = value;
        Ok(())
    }

    pub fn add_stats(&self, s: &mut Value) {
        for (key, value) in [
            ("maxIncomingBitrate", self.max_incoming),
            ("maxOutgoingBitrate", self.max_outgoing),
            ("minOutgoingBitrate", self.min_outgoing),
        ] {
            if let Some(b) = value {
                s[key] = json!(b);
            }
        }
    }
}
