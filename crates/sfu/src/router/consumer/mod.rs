//! Consumer: one producer's media sent to one transport, rewritten into the consumer's own SSRC,
//! sequence and payload-type space. Video starts (and restarts after a pause or a change of
//! source) on a key frame, from the producer's key frame cache when it holds one; sequence
//! numbers stay continuous throughout; NACKs are answered from a retransmission buffer, as RTX
//! when negotiated. A pipe consumer forwards every stream of the producer as it is.

pub mod av1;
pub mod replay;
pub mod rtx_buffer;
pub mod seq_manager;
pub mod simulcast;
pub mod vp8;
pub mod vp9;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc_rtp::packet::Packet;
use serde_json::{json, Value};

use crate::api::{ConsumerId, MediaKind};
use crate::arena::Key;
use crate::clock::Clock;
use crate::engine::io::Outbox;
use crate::router::producer::ProducerKey;
use crate::rtp::rate::RateCalculator;
use crate::rtp::{self, AsRtx, ExtIds, ExtPlan, Rewrite, SharedPacket};
use crate::trace::{TraceType, TraceTypes};
use crate::transport::TransportKey;

use replay::Replay;
use rtx_buffer::{RetransmitBudget, RtxBuffer};
use seq_manager::{SeqInput, SeqManager};
use simulcast::{Budget, Decision, Layers, StreamState};
use vp8::{Descriptor, Verdict, Vp8Context};
use av1::Av1Context;
use vp9::Vp9Context;

pub type ConsumerKey = Key<Consumer>;

/// Where a consumer's packets go: its transport (or a test's collector).
pub trait MediaOut {
    /// The next transport-wide sequence number of this transport.
    fn next_twcc_seq(&mut self) -> u16;
    /// Protects and sends an RTP packet of `consumer`; `false` if it could not go out.
    fn send_rtp(&mut self, now: Instant, clock: &Clock, data: Vec<u8>, consumer: &ConsumerId, out: &mut Outbox) -> bool;
    /// Whether video sent here may be padded for segmented sends (`Outbox::video_padding`):
    /// UDP transports; not a DirectTransport, whose app gets the packets as mediasoup's would.
    fn pads_video(&self) -> bool {
        true
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerType {
    Simple,
    Simulcast,
    Svc,
    Pipe,
}

impl ConsumerType {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerType::Simple => "simple",
            ConsumerType::Simulcast => "simulcast",
            ConsumerType::Svc => "svc",
            ConsumerType::Pipe => "pipe",
        }
    }
}

/// Round trip assumed until receiver reports tell, and the bounds a reported one is held to (a
/// receiver must not be able to make us resend as fast as it likes).
const DEFAULT_RTT: Duration = Duration::from_millis(100);
const MIN_RTT: Duration = Duration::from_millis(20);
const MAX_RTT: Duration = Duration::from_secs(1);
/// mediasoup's RTP probator stream (bandwidth probes).
pub const PROBATOR_SSRC: u32 = 1234;
pub const PROBATOR_PAYLOAD_TYPE: u8 = 127;
pub const PROBATOR_MID: &str = "probator";

/// Most sequence numbers one NACK makes us look at.
pub const MAX_NACK_ITEMS: usize = 512;

/// What a consumer keeps of a packet it sent, to send it again on a NACK: the producer's packet
/// (shared, not copied) and what this consumer wrote into it besides its SSRC and number.
struct Kept {
    packet: SharedPacket,
    timestamp: u32,
    marker: bool,
    /// Layered VP8: the picture id and TL0PICIDX offsets applied.
    vp8: Option<(u16, u8)>,
}

/// A pipe consumer's stream: producer (router) SSRC → our SSRC, our RTX SSRC and buffer.
struct PipeStream {
    from: u32,
    to: u32,
    rtx: Option<(u32, RtxBuffer<Kept>)>,
    rtx_seq: u16,
}

pub struct NewConsumer<'a> {
    pub id: ConsumerId,
    pub producer: ProducerKey,
    pub transport: TransportKey,
    pub kind: MediaKind,
    pub ctype: ConsumerType,
    pub rtp_parameters: &'a Value,
    pub paused: bool,
    pub producer_paused: bool,
    /// Simulcast and SVC consumers: the preferred (spatial, temporal) layers, already clamped
    /// to the producer's; `None` for simple and pipe consumers.
    pub preferred_layers: Option<(u32, u32)>,
    /// Their highest layers (spatial, temporal).
    pub max_layers: (u32, u32),
    /// Simulcast: the producer's streams (router-space SSRC) by spatial layer.
    pub layer_ssrcs: Vec<u32>,
    pub ignore_dtx: bool,
    pub cname: String,
    /// Random initial output sequence numbers (media, RTX).
    pub initial_seqs: (u16, u16),
    /// Pipe consumers: (producer SSRC, our SSRC) per stream, and our SSRC → RTX SSRC.
    pub pipe: Option<(Vec<(u32, u32)>, Vec<(u32, u32)>)>,
}

/// What came of a packet handed to a consumer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub packets: u32,
    /// Replayed packets taken from the queue (sent or not).
    pub taken: usize,
    /// It waits for a key frame (dropped a packet while syncing).
    pub wants_key_frame: bool,
}

pub struct Consumer {
    id: ConsumerId,
    producer: ProducerKey,
    transport: TransportKey,
    kind: MediaKind,
    ctype: ConsumerType,
    /// As negotiated, serialized: read only by dump() (a parsed JSON value costs ~9 KiB per
    /// consumer).
    rtp_parameters: Box<str>,
    mime_type: Box<str>,
    paused: bool,
    producer_paused: bool,
    priority: u32,
    preferred_layers: Option<(u32, u32)>,
    max_layers: (u32, u32),
    ssrc: u32,
    rtx: Option<(u32, u8)>,
    rtx_seq: u16,
    ext: ExtIds,
    twcc: bool,
    mid: Option<String>,
    clock_rate: u32,
    cname: String,
    /// Router payload types this consumer accepts, and media → RTX payload types.
    payload_types: Vec<u8>,
    /// The same as a bitmap (payload types are 7 bits): checked per packet without a look
    /// at the list's heap memory.
    accepts: [u64; 2],
    rtx_pts: Vec<(u8, u8)>,
    /// Waiting for the next (key) frame to (re)start.
    sync_required: bool,
    seq: SeqManager,
    ts_offset: u32,
    last_ts: Option<(u32, Instant)>,
    /// Whether the last packet sent ended a frame (a switch after one that did not leaves a
    /// sequence number out).
    last_marker: bool,
    layers: Layers,
    /// Layers last told to JS (`layerschange`): `None` before the first.
    layers_reported: Option<Option<(usize, u8)>>,
    /// Layered VP8: temporal layer filter and picture id continuity.
    vp8: Option<Vp8Context>,
    /// VP9 SVC: spatial and temporal layer filter.
    vp9: Option<Vp9Context>,
    /// AV1 SVC: the same, from the dependency descriptor.
    av1: Option<Av1Context>,
    /// Simulcast: each layer's stream (router-space SSRC) and its latest sender report (NTP,
    /// RTP time), which align timestamps when switching.
    layer_ssrcs: Vec<u32>,
    layer_srs: Vec<Option<(u64, u32)>>,
    buffer: RtxBuffer<Kept>,
    /// Where each header extension it sends comes from (worked out with the first packet).
    plan: Option<ExtPlan>,
    rtx_budget: RetransmitBudget,
    replay: Replay,
    pipe: Vec<PipeStream>,
    rtt: Option<Duration>,
    packets_sent: u64,
    bytes_sent: u64,
    rate: RateCalculator,
    retransmitted: u64,
    nack_count: u64,
    nack_packet_count: u64,
    pli_count: u64,
    fir_count: u64,
    fraction_lost: u8,
    packets_lost: u32,
    score: u8,
    last_score_sent: Option<(u8, Vec<u8>)>,
    pub trace: TraceTypes,
    #[allow(dead_code)]
    ignore_dtx: bool,
}

impl Consumer {
    pub fn new(n: NewConsumer<'_>) -> Self {
        let p = n.rtp_parameters;
        let empty = Vec::new();
        let codecs = p["codecs"].as_array().unwrap_or(&empty);
        let media = codecs.iter().find(|c| !crate::ortc::is_rtx_codec(c));
        let payload_types: Vec<u8> = codecs.iter().filter(|c| !crate::ortc::is_rtx_codec(c)).filter_map(|c| c["payloadType"].as_u64().map(|v| v as u8)).collect();
        let media_pt = media.and_then(|c| c["payloadType"].as_u64()).unwrap_or(0) as u8;
        let rtx_pts: Vec<(u8, u8)> = codecs
            .iter()
            .filter(|c| crate::ortc::is_rtx_codec(c))
            .filter_map(|c| Some((c["parameters"]["apt"].as_u64()? as u8, c["payloadType"].as_u64()? as u8)))
            .collect();
        let rtx_pt = rtx_pts.iter().find(|(apt, _)| *apt == media_pt).map(|(_, pt)| *pt);
        let enc = &p["encodings"][0];
        let ssrc = enc["ssrc"].as_u64().unwrap_or(0) as u32;
        let rtx = match (enc["rtx"]["ssrc"].as_u64(), rtx_pt) {
            (Some(s), Some(pt)) => Some((s as u32, pt)),
            _ => None,
        };
        let ext = ExtIds::from_parameters(p);
        let is_vp8 = media.and_then(|c| c["mimeType"].as_str()).is_some_and(|m| m.eq_ignore_ascii_case("video/vp8"));
        let vp8 = n.preferred_layers.filter(|_| is_vp8).map(|(_, t)| Vp8Context::new(t as u8));
        let is_vp9 = media.and_then(|c| c["mimeType"].as_str()).is_some_and(|m| m.eq_ignore_ascii_case("video/vp9"));
        let vp9 = n.preferred_layers.filter(|_| is_vp9 && n.ctype == ConsumerType::Svc).map(|(s, t)| Vp9Context::new((s as u8, t as u8)));
        let is_av1 = media.and_then(|c| c["mimeType"].as_str()).is_some_and(|m| m.eq_ignore_ascii_case("video/av1"));
        let av1 = n.preferred_layers.filter(|_| is_av1 && n.ctype == ConsumerType::Svc).map(|(s, t)| Av1Context::new((s as u8, t as u8)));
        let pipe = match n.pipe {
            Some((map, rtx_map)) => map
                .into_iter()
                .map(|(from, to)| PipeStream {
                    from,
                    to,
                    rtx: rtx_map.iter().find(|(s, _)| *s == to).map(|(_, r)| (*r, RtxBuffer::default())),
                    rtx_seq: n.initial_seqs.1,
                })
                .collect(),
            None => Vec::new(),
        };
        Consumer {
            twcc: ext.id(rtp::URI_TRANSPORT_CC).is_some(),
            ext,
            mid: p["mid"].as_str().map(String::from),
            clock_rate: media.and_then(|c| c["clockRate"].as_u64()).unwrap_or(90000) as u32,
            payload_types: payload_types.clone(),
            accepts: payload_types.iter().filter(|pt| **pt < 128).fold([0u64; 2], |mut m, pt| {
                m[usize::from(*pt >> 6)] |= 1 << (pt & 63);
                m
            }),
            rtx_pts,
            ssrc,
            rtx,
            rtx_seq: n.initial_seqs.1,
            sync_required: pipe.is_empty(),
            id: n.id,
            producer: n.producer,
            transport: n.transport,
            kind: n.kind,
            ctype: n.ctype,
            mime_type: n.rtp_parameters["codecs"][0]["mimeType"].as_str().unwrap_or_default().into(),
            // serde_json's writer, not `Display` (twice as fast for these ~1.5 KB).
            rtp_parameters: serde_json::to_string(n.rtp_parameters).unwrap_or_default().into_boxed_str(),
            paused: n.paused,
            producer_paused: n.producer_paused,
            priority: 1,
            preferred_layers: n.preferred_layers,
            max_layers: n.max_layers,
            layer_srs: vec![None; n.layer_ssrcs.len()],
            layer_ssrcs: n.layer_ssrcs,
            vp8,
            vp9,
            av1,
            cname: n.cname,
            seq: SeqManager::new(n.initial_seqs.0),
            ts_offset: 0,
            last_ts: None,
            last_marker: true,
            layers: Layers::default(),
            layers_reported: None,
            buffer: RtxBuffer::default(),
            plan: None,
            rtx_budget: RetransmitBudget::default(),
            replay: Replay::default(),
            pipe,
            rtt: None,
            packets_sent: 0,
            bytes_sent: 0,
            rate: RateCalculator::default(),
            retransmitted: 0,
            nack_count: 0,
            nack_packet_count: 0,
            pli_count: 0,
            fir_count: 0,
            fraction_lost: 0,
            packets_lost: 0,
            score: 10,
            last_score_sent: None,
            trace: TraceTypes::default(),
            ignore_dtx: n.ignore_dtx,
        }
    }

    pub fn id(&self) -> &ConsumerId {
        &self.id
    }
    pub fn producer(&self) -> ProducerKey {
        self.producer
    }
    pub fn transport(&self) -> TransportKey {
        self.transport
    }
    pub fn kind(&self) -> MediaKind {
        self.kind
    }
    pub fn ctype(&self) -> ConsumerType {
        self.ctype
    }
    /// The RTP parameters as JSON text (as kept).
    pub fn rtp_parameters_text(&self) -> &str {
        &self.rtp_parameters
    }

    pub fn rtp_parameters(&self) -> Value {
        serde_json::from_str(&self.rtp_parameters).unwrap_or(Value::Null)
    }
    pub fn is_video(&self) -> bool {
        self.kind == MediaKind::Video
    }
    pub fn is_pipe(&self) -> bool {
        !self.pipe.is_empty()
    }
    pub fn paused(&self) -> bool {
        self.paused
    }
    pub fn producer_paused(&self) -> bool {
        self.producer_paused
    }
    pub fn priority(&self) -> u32 {
        self.priority
    }
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }
    pub fn packets_sent(&self) -> u64 {
        self.packets_sent
    }
    pub fn cname(&self) -> &str {
        &self.cname
    }
    pub fn score(&self) -> u8 {
        self.score
    }
    pub fn replays(&self) -> u64 {
        self.replay.count
    }

    /// Every SSRC it sends with (media and RTX, every stream of a pipe): the receiver's
    /// feedback names these.
    pub fn out_ssrcs(&self) -> Vec<u32> {
        if self.is_pipe() {
            return self.pipe.iter().flat_map(|s| [Some(s.to), s.rtx.as_ref().map(|(r, _)| *r)]).flatten().collect();
        }
        [Some(self.ssrc), self.rtx.map(|(s, _)| s)].into_iter().flatten().collect()
    }

    /// (producer SSRC, our SSRC) per stream of a pipe consumer.
    pub fn pipe_streams(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.pipe.iter().map(|s| (s.from, s.to))
    }

    /// The spatial layer going out (simulcast), or the target one while none does yet.
    pub fn source_layer(&self) -> Option<usize> {
        self.layers.current().or(self.layers.target().map(|t| t.0))
    }

    pub fn active(&self) -> bool {
        !self.paused && !self.producer_paused
    }

    pub fn set_paused(&mut self, paused: bool) {
        if self.paused && !paused {
            self.require_sync();
        }
        self.paused = paused;
    }

    pub fn set_producer_paused(&mut self, paused: bool) {
        if self.producer_paused && !paused {
            self.require_sync();
        }
        self.producer_paused = paused;
    }

    /// Start again from the next key frame (after resume, a new source, or a request).
    pub fn require_sync(&mut self) {
        if !self.is_pipe() {
            self.sync_required = true;
            self.layers.restart();
        }
    }

    /// Whether it waits for a key frame to start (or to switch to its target layer).
    pub fn needs_key_frame(&self) -> bool {
        self.active() && self.is_video() && (self.sync_required || self.layers.switch_pending() || self.vp9.as_ref().is_some_and(|c| c.needs_key_frame()) || self.av1.as_ref().is_some_and(|c| c.needs_key_frame()))
    }

    pub fn ts_offset(&self) -> u32 {
        self.ts_offset
    }

    fn event(&self, out: &mut Outbox, name: &'static str, data: Value) {
        out.event(self.id.arc(), name, data);
    }

    fn trace(&self, out: &mut Outbox, clock: &Clock, now: Instant, ty: TraceType, direction: &str, info: Value) {
        out.event(self.id.arc(), "trace", json!({ "type": ty.name(), "timestamp": clock.wall_ms(now), "direction": direction, "info": info }));
    }

    // ----- layers ------------------------------------------------------------------------

    pub fn is_layered(&self) -> bool {
        self.preferred_layers.is_some()
    }

    /// Chooses the target layers (simulcast) from the producer's streams flowing now, the
    /// preferred layers and the budget share. `true` when a key frame of a new target is needed.
    pub fn update_layers(&mut self, streams: &[StreamState], out: &mut Outbox) -> bool {
        if self.vp9.is_some() || self.av1.is_some() {
            // One stream: the preferred layers, within the budget share (the base layer at
            // least: it is one stream), are the target; going up waits for a key frame.
            let (s, t) = self.preferred_layers.unwrap_or(self.max_layers);
            let s = match self.layers.budget {
                Budget::Unlimited => s,
                Budget::UpTo(cap) => s.min(cap as u32),
                Budget::Nothing => 0,
            };
            let target = (s as u8, t as u8);
            if let Some(ctx) = self.vp9.as_mut() {
                let changed = ctx.target != target;
                ctx.target = target;
                return changed && ctx.needs_key_frame();
            }
            if let Some(ctx) = self.av1.as_mut() {
                let changed = ctx.target != target;
                ctx.target = target;
                return changed && ctx.needs_key_frame();
            }
        }
        if self.ctype != ConsumerType::Simulcast || streams.is_empty() {
            return false;
        }
        let (s, t) = self.preferred_layers.unwrap_or(self.max_layers);
        let target = if self.active() { self.layers.choose((s as usize, t as u8), streams) } else { None };
        let changed = self.layers.set_target(target);
        if let (Some(ctx), Some((_, t))) = (self.vp8.as_mut(), target) {
            ctx.target_temporal = t;
        }
        if target.is_none() {
            self.report_layers(out);
        }
        changed && self.layers.switch_pending()
    }

    /// Sets the share of its transport's budget (from the allocation).
    pub fn set_budget(&mut self, budget: Budget) {
        self.layers.budget = budget;
    }

    pub fn budget(&self) -> Budget {
        self.layers.budget
    }

    /// Tells JS the layers going out when they changed (`layerschange`; `null` for none).
    fn report_layers(&mut self, out: &mut Outbox) {
        if !self.is_layered() {
            return;
        }
        let now = self.current_layers();
        if self.layers_reported == Some(now) {
            return;
        }
        self.layers_reported = Some(now);
        let data = now.map_or(Value::Null, |(s, t)| json!({ "spatialLayer": s, "temporalLayer": t }));
        self.event(out, "layerschange", data);
    }

    /// (spatial, temporal) going out now.
    pub fn current_layers(&self) -> Option<(usize, u8)> {
        let spatial = if self.ctype == ConsumerType::Simulcast { self.layers.current()? } else { 0 };
        if !self.seq.is_synced() || self.sync_required {
            return None;
        }
        if let Some(ctx) = &self.vp9 {
            return ctx.current.map(|(s, t)| (usize::from(s), t));
        }
        if let Some(ctx) = &self.av1 {
            return ctx.current.map(|(s, t)| (usize::from(s), t));
        }
        let temporal = match &self.vp8 {
            Some(ctx) => ctx.current_temporal?,
            None => self.preferred_layers.map_or(0, |(_, t)| t as u8),
        };
        Some((spatial, temporal))
    }

    pub fn preferred_layers(&self) -> Option<(u32, u32)> {
        self.preferred_layers
    }

    /// New preferred layers; SVC-typed consumers (one stream with temporal layers) apply the
    /// temporal one at once, simulcast ones at the next `update_layers`.
    pub fn set_preferred_layers(&mut self, spatial: u32, temporal: u32) {
        self.preferred_layers = Some((spatial, temporal));
        if self.ctype != ConsumerType::Simulcast {
            if let Some(ctx) = self.vp8.as_mut() {
                ctx.target_temporal = temporal as u8;
            }
        }
    }

    pub fn set_priority(&mut self, priority: u32) {
        self.priority = priority;
    }

    /// A sender report of the producer's stream of layer `spatial`.
    pub fn on_layer_sender_report(&mut self, spatial: usize, ntp: u64, rtp_time: u32) {
        if let Some(sr) = self.layer_srs.get_mut(spatial) {
            *sr = Some((ntp, rtp_time));
        }
    }

    /// The spatial layer of a packet (router-space SSRC); 0 when not simulcast.
    fn layer_of(&self, ssrc: u32) -> Option<usize> {
        if self.layer_ssrcs.len() < 2 {
            return Some(0);
        }
        self.layer_ssrcs.iter().position(|s| *s == ssrc)
    }

    // ----- forwarding --------------------------------------------------------------------

    /// A live packet of its producer. `streams` describes the producer's streams (simulcast).
    #[allow(clippy::too_many_arguments)]
    pub fn send_rtp<O: MediaOut>(
        &mut self,
        now: Instant,
        clock: &Clock,
        packet: &SharedPacket,
        is_key: bool,
        producer_ext: &ExtIds,
        streams: &[StreamState],
        tx: &mut O,
        out: &mut Outbox,
        replay_limit: usize,
    ) -> Sent {
        if self.layers.target().is_none() {
            self.update_layers(streams, out);
        }
        let wanted = self.layers.target().map(|t| t.0);
        if self.replay.is_active() && is_key && (wanted.is_none() || self.layer_of(packet.header.ssrc) == wanted) {
            // A live key frame is a better start than the rest of a replay.
            self.replay.stop();
            self.require_sync();
        }
        if self.replay.is_active() {
            self.replay.queue_live(now, packet.clone(), is_key);
            return self.drain_replay(now, clock, producer_ext, tx, out, replay_limit);
        }
        let mut sent = Sent::default();
        if self.forward(now, clock, packet, is_key, producer_ext, tx, out) {
            sent.packets += 1;
            if self.trace.has(TraceType::Rtp) || (is_key && self.trace.has(TraceType::KeyFrame)) {
                let info = json!({ "ssrc": self.ssrc, "payloadType": packet.header.payload_type });
                if self.trace.has(TraceType::Rtp) {
                    self.trace(out, clock, now, TraceType::Rtp, "out", info.clone());
                }
                if is_key && self.trace.has(TraceType::KeyFrame) {
                    self.trace(out, clock, now, TraceType::KeyFrame, "out", info);
                }
            }
        } else {
            sent.wants_key_frame = self.needs_key_frame();
        }
        sent
    }

    /// Sends the replayed (and queued live) packets that are due, at most `limit` of them
    /// (`Sent::taken` says how many were taken from the queue).
    #[allow(clippy::too_many_arguments)]
    pub fn drain_replay<O: MediaOut>(&mut self, now: Instant, clock: &Clock, producer_ext: &ExtIds, tx: &mut O, out: &mut Outbox, limit: usize) -> Sent {
        let mut sent = Sent::default();
        while sent.taken < limit {
            let Some(mut q) = self.replay.pop_due(now) else { break };
            sent.taken += 1;
            if let Some(ts) = q.timestamp.filter(|ts| *ts != q.packet.header.timestamp) {
                let mut p = Packet::clone(&q.packet);
                p.header.timestamp = ts;
                q.packet = SharedPacket::new(p);
            }
            if self.forward(now, clock, &q.packet, q.is_key, producer_ext, tx, out) {
                sent.packets += 1;
            }
        }
        sent.wants_key_frame = self.needs_key_frame() && !self.replay.is_active();
        sent
    }

    pub fn next_replay_due(&self) -> Option<Instant> {
        self.replay.next_due()
    }

    pub fn is_replaying(&self) -> bool {
        self.replay.is_active()
    }

    /// Whether a viewer's key frame request may restart it from the cache now; `None` when the
    /// request is a duplicate of the one that just started a replay (nothing to do).
    pub fn may_replay(&self, now: Instant) -> Option<bool> {
        if self.replay.just_started(now) {
            return None;
        }
        Some(self.replay.may_start(now))
    }

    /// Starts from a cached key frame (and what followed it): at most `limit` packets now, the
    /// rest as `drain_replay` is called.
    #[allow(clippy::too_many_arguments)]
    pub fn start_replay<O: MediaOut>(&mut self, now: Instant, clock: &Clock, cached: Vec<(Instant, SharedPacket)>, producer_ext: &ExtIds, tx: &mut O, out: &mut Outbox, limit: usize) -> Sent {
        self.replay.start(now, cached);
        self.require_sync();
        if self.trace.has(TraceType::KeyFrame) {
            self.trace(out, clock, now, TraceType::KeyFrame, "out", json!({ "fromCache": true }));
        }
        self.drain_replay(now, clock, producer_ext, tx, out, limit)
    }

    /// Rewrites and sends one packet; `false` if it is not forwarded.
    #[allow(clippy::too_many_arguments)]
    fn forward<O: MediaOut>(&mut self, now: Instant, clock: &Clock, p: &SharedPacket, is_key: bool, producer_ext: &ExtIds, tx: &mut O, out: &mut Outbox) -> bool {
        let pt = p.header.payload_type & 0x7f;
        if !self.active() || self.accepts[usize::from(pt >> 6)] & (1 << (pt & 63)) == 0 {
            return false;
        }
        if self.is_pipe() {
            return self.forward_pipe(now, clock, p, producer_ext, tx, out);
        }
        let mut switching = None;
        if self.ctype == ConsumerType::Simulcast && self.layer_ssrcs.len() > 1 {
            let Some(spatial) = self.layer_of(p.header.ssrc) else { return false };
            match self.layers.decide(spatial) {
                Decision::Drop => return false,
                Decision::SwitchIfKey if !is_key => return false,
                Decision::SwitchIfKey => switching = Some(spatial),
                Decision::Forward => {}
            }
        }
        let descriptor = if self.vp8.is_some() { Descriptor::parse(&p.payload) } else { None };
        let svc = if self.vp9.is_some() { vp9::Descriptor::parse(&p.payload) } else { None };
        let dd = if self.av1.is_some() {
            rtp::ext_value(p, producer_ext.id(rtp::URI_DEPENDENCY_DESCRIPTOR)).and_then(|v| av1::Descriptor::parse(v))
        } else {
            None
        };
        let mut marker = p.header.marker;
        let out_seq = if switching.is_some() || self.sync_required || !self.seq.is_synced() {
            if self.is_video() && !is_key {
                return false;
            }
            let aligned = switching.and_then(|to| {
                let from = self.layers.current()?;
                simulcast::aligned_offset(self.ts_offset, self.layer_srs[from], self.layer_srs[to], self.clock_rate)
            });
            if switching.is_some() && self.seq.is_synced() && !self.last_marker {
                // The frame before ended early: leave a number out so the receiver knows.
                self.seq.skip_one();
            }
            if let Some(ctx) = self.vp8.as_mut() {
                ctx.sync_required();
                if let Some(d) = descriptor.as_ref() {
                    ctx.on_packet(d);
                }
            }
            if let (Some(ctx), Some(d)) = (self.vp9.as_mut(), svc.as_ref()) {
                ctx.sync_required();
                match ctx.on_packet(d, marker) {
                    Some(m) => marker = m,
                    None => return false,
                }
            }
            if let Some(ctx) = self.av1.as_mut() {
                ctx.sync_required();
                match ctx.on_packet(dd.as_ref(), is_key, marker) {
                    Some(m) => marker = m,
                    None => return false,
                }
            }
            let out_seq = self.resync(now, p, switching.is_some(), aligned);
            if switching.is_some() {
                self.layers.switched();
            }
            out_seq
        } else {
            if let (Some(ctx), Some(d)) = (self.vp8.as_mut(), descriptor.as_ref()) {
                if ctx.on_packet(d) == Verdict::Drop {
                    self.seq.drop(p.header.sequence_number);
                    return false;
                }
            }
            if let (Some(ctx), Some(d)) = (self.vp9.as_mut(), svc.as_ref()) {
                match ctx.on_packet(d, marker) {
                    Some(m) => marker = m,
                    None => {
                        self.seq.drop(p.header.sequence_number);
                        return false;
                    }
                }
            }
            if let Some(ctx) = self.av1.as_mut() {
                match ctx.on_packet(dd.as_ref(), is_key, marker) {
                    Some(m) => marker = m,
                    None => {
                        self.seq.drop(p.header.sequence_number);
                        return false;
                    }
                }
            }
            match self.seq.input(p.header.sequence_number) {
                SeqInput::Forward(out_seq) => out_seq,
                SeqInput::Old => return false,
                // The sender started a new numbering: video waits for its next key frame.
                SeqInput::Discontinuity if self.is_video() && !is_key => {
                    self.sync_required = true;
                    return false;
                }
                SeqInput::Discontinuity => self.resync(now, p, false, None),
            }
        };
        let ts = p.header.timestamp.wrapping_add(self.ts_offset);
        let twcc = self.twcc.then(|| tx.next_twcc_seq());
        let plan = self.plan.get_or_insert_with(|| ExtPlan::new(producer_ext, &self.ext));
        let w = Rewrite {
            ssrc: self.ssrc,
            seq: out_seq,
            timestamp: ts,
            payload_type: p.header.payload_type,
            mid: self.mid.as_deref(),
            transport_cc_seq: twcc,
            abs_send_time: clock.abs_send_time(now),
        };
        let mut bytes = rtp::write_into(out.buffer(), p, plan, &w, None);
        let mut vp8_offsets = None;
        if let (Some(ctx), Some(d)) = (self.vp8.as_mut(), descriptor.as_ref()) {
            // The payload is the tail of the packet (no padding on media packets).
            let at = bytes.len() - p.payload.len();
            vp8_offsets = Some(ctx.offsets());
            ctx.rewrite(d, &mut bytes[at..]);
        }
        if marker != p.header.marker {
            bytes[1] = (bytes[1] & 0x7f) | if marker { 0x80 } else { 0 };
        }
        if out.video_padding > 0 && self.is_video() && tx.pads_video() {
            rtp::pad_to(&mut bytes, out.video_padding);
        }
        if out_seq == self.seq.max_output() {
            self.last_ts = Some((ts, now));
            self.last_marker = marker;
        }
        if self.is_layered() {
            self.report_layers(out);
        }
        self.packets_sent += 1;
        self.bytes_sent += bytes.len() as u64;
        self.rate.update(bytes.len(), now);
        if self.is_video() || self.rtx.is_some() {
            let kept = Kept { packet: SharedPacket::clone(p), timestamp: ts, marker, vp8: vp8_offsets };
            self.buffer.insert(out_seq, clock.millis(now), kept);
        }
        tx.send_rtp(now, clock, bytes, &self.id, out);
        true
    }

    /// Starts the output stream again at `p`: its sequence number continues after the last one
    /// sent, its timestamp never goes backwards. From another stream (`new_source`, a simulcast
    /// switch) the timestamps are aligned by both streams' sender reports (`aligned`) when
    /// they are known and plausible, else by the time elapsed since the last packet sent.
    fn resync(&mut self, now: Instant, p: &Packet, new_source: bool, aligned: Option<u32>) -> u16 {
        if let Some((last_ts, at)) = self.last_ts {
            let elapsed = now.saturating_duration_since(at).as_secs_f64() * f64::from(self.clock_rate);
            let by_time = last_ts.wrapping_add(elapsed.max(1.0) as u32);
            let offset = aligned.unwrap_or(self.ts_offset);
            let candidate = p.header.timestamp.wrapping_add(offset);
            let backwards = (candidate.wrapping_sub(last_ts) as i32) <= 0;
            // Reports that put the new stream over a second away from elapsed time are wrong.
            let implausible = (candidate.wrapping_sub(by_time) as i32).unsigned_abs() > self.clock_rate;
            self.ts_offset = if backwards || (new_source && (aligned.is_none() || implausible)) {
                by_time.wrapping_sub(p.header.timestamp)
            } else {
                offset
            };
        }
        self.sync_required = false;
        self.seq.sync(p.header.sequence_number)
    }

    /// Pipe forwarding: same sequence numbers and timestamps, this consumer's SSRC per stream.
    /// (Over a WebRtcTransport, `consume({ pipe: true })`, the MID and transport-wide sequence
    /// numbers are written as for any consumer there.)
    fn forward_pipe<O: MediaOut>(&mut self, now: Instant, clock: &Clock, p: &SharedPacket, producer_ext: &ExtIds, tx: &mut O, out: &mut Outbox) -> bool {
        let Some(i) = self.pipe.iter().position(|s| s.from == p.header.ssrc) else { return false };
        let twcc = self.twcc.then(|| tx.next_twcc_seq());
        let plan = self.plan.get_or_insert_with(|| ExtPlan::new(producer_ext, &self.ext));
        let w = Rewrite {
            ssrc: self.pipe[i].to,
            seq: p.header.sequence_number,
            timestamp: p.header.timestamp,
            payload_type: p.header.payload_type,
            mid: self.mid.as_deref(),
            transport_cc_seq: twcc,
            abs_send_time: clock.abs_send_time(now),
        };
        let bytes = rtp::write_into(out.buffer(), p, plan, &w, None);
        self.packets_sent += 1;
        self.bytes_sent += bytes.len() as u64;
        self.rate.update(bytes.len(), now);
        self.last_ts = Some((p.header.timestamp, now));
        if let Some((_, buffer)) = self.pipe[i].rtx.as_mut() {
            let kept = Kept { packet: SharedPacket::clone(p), timestamp: p.header.timestamp, marker: p.header.marker, vp8: None };
            buffer.insert(p.header.sequence_number, clock.millis(now), kept);
        }
        tx.send_rtp(now, clock, bytes, &self.id, out);
        true
    }

    /// A padding-only packet on mediasoup's probator stream (SSRC 1234, payload type 127, MID
    /// `probator`, this consumer's header extensions: what mediasoup-client sets up a receiver
    /// for with its first video consumer), carrying transport-wide number `twcc_seq` and the
    /// probator's own sequence number `seq`. `None` before this consumer sent anything.
    pub fn probation_packet(&self, now: Instant, clock: &Clock, producer_ext: &ExtIds, twcc_seq: u16, seq: u16) -> Option<Vec<u8>> {
        let (ts, _) = self.last_ts?;
        let size = crate::transport::congestion::PROBE_PACKET;
        let mut payload = vec![0u8; size];
        payload[size - 1] = size as u8;
        let p = Packet { header: rtc_rtp::header::Header { version: 2, ..Default::default() }, payload: payload.into() };
        let mut bytes = rtp::rewrite(
            &p,
            producer_ext,
            &self.ext,
            &Rewrite {
                ssrc: PROBATOR_SSRC,
                seq,
                timestamp: ts,
                payload_type: PROBATOR_PAYLOAD_TYPE,
                mid: Some(PROBATOR_MID),
                transport_cc_seq: self.twcc.then_some(twcc_seq),
                abs_send_time: clock.abs_send_time(now),
            },
        )?;
        // All of the payload is padding (its last byte says how much).
        bytes[0] |= 0x20;
        Some(bytes)
    }

    pub fn uses_twcc(&self) -> bool {
        self.twcc
    }

    // ----- feedback from the receiver -----------------------------------------------------

    fn resend_interval(&self) -> Duration {
        self.rtt.map_or(DEFAULT_RTT, |r| r.clamp(MIN_RTT, MAX_RTT))
    }

    /// Answers a NACK for `media_ssrc`: each packet still buffered, once per round trip, as RTX
    /// when negotiated. Returns how many went out.
    #[allow(clippy::too_many_arguments)]
    pub fn on_nack<O: MediaOut>(&mut self, now: Instant, clock: &Clock, media_ssrc: u32, seqs: &[u16], tx: &mut O, out: &mut Outbox) -> usize {
        self.nack_count += 1;
        self.nack_packet_count += seqs.len() as u64;
        if self.trace.has(TraceType::Nack) {
            self.trace(out, clock, now, TraceType::Nack, "in", json!({ "ssrc": media_ssrc, "seqs": seqs }));
        }
        let interval = self.resend_interval();
        let stream_bps = self.rate.rate(now);
        let mut sent = 0;
        let Some(plan) = self.plan.as_ref() else { return 0 }; // nothing sent yet
        let pipe = self.is_pipe();
        if !pipe && media_ssrc != self.ssrc {
            return 0;
        }
        for &seq in seqs.iter().take(MAX_NACK_ITEMS) {
            // What was sent as `seq`, and the SSRC, RTX stream and its next number to resend it on.
            let (kept, ssrc, rtx) = if pipe {
                // A pipe buffer per stream; answered on that stream's RTX SSRC.
                let Some(s) = self.pipe.iter_mut().find(|s| s.to == media_ssrc) else { return sent };
                let Some((rtx_ssrc, buffer)) = s.rtx.as_mut() else { return sent };
                let Some(kept) = buffer.take_for_resend(seq, clock.millis(now), interval) else { continue };
                let pt = kept.packet.header.payload_type;
                let Some((_, rtx_pt)) = self.rtx_pts.iter().find(|(apt, _)| *apt == pt) else { continue };
                (kept, s.to, Some((*rtx_ssrc, *rtx_pt, &mut s.rtx_seq)))
            } else {
                let Some(kept) = self.buffer.take_for_resend(seq, clock.millis(now), interval) else { continue };
                (kept, self.ssrc, self.rtx.map(|(rtx_ssrc, rtx_pt)| (rtx_ssrc, rtx_pt, &mut self.rtx_seq)))
            };
            // Header, extensions and the RTX number: within a few dozen bytes of the payload.
            if !self.rtx_budget.take(now, stream_bps, kept.packet.payload.len() + 48) {
                continue;
            }
            let as_rtx = rtx.map(|(ssrc, payload_type, next)| {
                *next = next.wrapping_add(1);
                AsRtx { ssrc, payload_type, seq: *next }
            });
            // Rebuilt from the producer's packet as it was sent, with a transport-wide number
            // and send time of its own.
            let w = Rewrite {
                ssrc,
                seq,
                timestamp: kept.timestamp,
                payload_type: kept.packet.header.payload_type,
                mid: self.mid.as_deref(),
                transport_cc_seq: self.twcc.then(|| tx.next_twcc_seq()),
                abs_send_time: clock.abs_send_time(now),
            };
            let mut packet = rtp::write(&kept.packet, plan, &w, as_rtx);
            if let Some(offsets) = kept.vp8 {
                if let Some(d) = Descriptor::parse(&kept.packet.payload) {
                    let at = packet.len() - kept.packet.payload.len();
                    vp8::write_ids(&d, &mut packet[at..], offsets);
                }
            }
            if kept.marker != kept.packet.header.marker {
                packet[1] = (packet[1] & 0x7f) | if kept.marker { 0x80 } else { 0 };
            }
            self.retransmitted += 1;
            sent += 1;
            tx.send_rtp(now, clock, packet, &self.id, out);
        }
        sent
    }

    /// A PLI (or FIR) from the receiver: counted and traced.
    pub fn on_key_frame_request(&mut self, now: Instant, clock: &Clock, pli: bool, media_ssrc: u32, out: &mut Outbox) {
        let ty = if pli {
            self.pli_count += 1;
            TraceType::Pli
        } else {
            self.fir_count += 1;
            TraceType::Fir
        };
        if self.trace.has(ty) {
            self.trace(out, clock, now, ty, "in", json!({ "ssrc": media_ssrc }));
        }
    }

    /// A reception report for one of our streams: loss, score, and the round trip (from the
    /// report's LSR/DLSR against `ntp_middle_now`).
    pub fn on_receiver_report(&mut self, ntp_middle_now: u32, fraction_lost: u8, total_lost: u32, lsr: u32, dlsr: u32) {
        self.fraction_lost = fraction_lost;
        self.packets_lost = total_lost;
        let loss_pct = f64::from(fraction_lost) * 100.0 / 256.0;
        self.score = (10.0 - loss_pct / 2.0).round().clamp(0.0, 10.0) as u8;
        if lsr != 0 {
            // 1/65536 s units, modulo 2^32.
            let rtt = ntp_middle_now.wrapping_sub(lsr).wrapping_sub(dlsr);
            if rtt < 65536 * 10 {
                self.rtt = Some(Duration::from_micros(u64::from(rtt) * 1_000_000 / 65536));
            }
        }
    }

    /// The round trip to the receiver, once its reports told.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The RTP timestamp "now" for a sender report, extrapolated from the last packet sent.
    pub fn sr_rtp_time(&self, now: Instant) -> Option<u32> {
        let (ts, at) = self.last_ts?;
        let elapsed = now.saturating_duration_since(at).as_secs_f64() * f64::from(self.clock_rate);
        Some(ts.wrapping_add(elapsed as u32))
    }

    pub fn counters(&self) -> (u32, u32) {
        (self.packets_sent as u32, self.bytes_sent as u32)
    }

    /// Its score and the producer's; `Some` when either changed since last sent.
    pub fn score_changed(&mut self, producer_scores: Vec<u8>) -> Option<Value> {
        let current = (self.score, producer_scores);
        if self.last_score_sent.as_ref() == Some(&current) {
            return None;
        }
        let producer_score = current.1.iter().copied().max().unwrap_or(0);
        let v = json!({ "score": current.0, "producerScore": producer_score, "producerScores": current.1 });
        self.last_score_sent = Some(current);
        Some(v)
    }

    pub fn stats_json(&mut self, now: Instant, timestamp: u64) -> Value {
        let mut s = json!({
            "type": "outbound-rtp",
            "timestamp": timestamp,
            "ssrc": self.ssrc,
            "kind": self.kind.name(),
            "mimeType": &*self.mime_type,
            "packetsLost": self.packets_lost,
            "fractionLost": self.fraction_lost,
            "packetsDiscarded": 0,
            "packetsRetransmitted": self.retransmitted,
            "packetsRepaired": 0,
            "nackCount": self.nack_count,
            "nackPacketCount": self.nack_packet_count,
            "pliCount": self.pli_count,
            "firCount": self.fir_count,
            "score": self.score,
            "packetCount": self.packets_sent,
            "byteCount": self.bytes_sent,
            "bitrate": self.rate.rate(now),
        });
        if let Some((r, _)) = self.rtx {
            s["rtxSsrc"] = json!(r);
        }
        if let Some(rtt) = self.rtt {
            s["roundTripTime"] = json!(rtt.as_secs_f64() * 1000.0);
        }
        // ferrosoup: retransmissions refused because they would have cost more than the stream.
        s["retransmissionsOverBudget"] = json!(self.rtx_budget.refused);
        s
    }

    pub fn dump_json(&self, producer_id: &str, consumable_encodings: Value) -> Value {
        let mut d = json!({
            "id": self.id.as_str(),
            "producerId": producer_id,
            "kind": self.kind.name(),
            "type": self.ctype.name(),
            "rtpParameters": self.rtp_parameters(),
            "consumableRtpEncodings": consumable_encodings,
            "supportedCodecPayloadTypes": self.payload_types,
            "traceEventTypes": self.trace.names(),
            "paused": self.paused,
            "producerPaused": self.producer_paused,
            "priority": self.priority,
        });
        if self.is_layered() {
            // mediasoup writes -1 for "none".
            let n = |v: Option<i64>| v.unwrap_or(-1);
            let (ps, pt) = self.preferred_layers.unwrap_or(self.max_layers);
            let target = self.layers.target();
            let (ts, tt) = if self.ctype == ConsumerType::Simulcast {
                (n(target.map(|t| t.0 as i64)), n(target.map(|t| i64::from(t.1))))
            } else if let Some(ctx) = &self.vp9 {
                (i64::from(ctx.target.0), i64::from(ctx.target.1))
            } else if let Some(ctx) = &self.av1 {
                (i64::from(ctx.target.0), i64::from(ctx.target.1))
            } else {
                (0, n(self.vp8.as_ref().map(|c| i64::from(c.target_temporal)).or(Some(i64::from(pt)))))
            };
            let current = self.current_layers();
            d["preferredSpatialLayer"] = json!(ps);
            d["preferredTemporalLayer"] = json!(pt);
            d["targetSpatialLayer"] = json!(ts);
            d["targetTemporalLayer"] = json!(tt);
            d["currentSpatialLayer"] = json!(n(current.map(|c| c.0 as i64)));
            d["currentTemporalLayer"] = json!(n(current.map(|c| i64::from(c.1))));
        }
        d
    }

    /// For events: the shared id.
    pub fn target(&self) -> &Arc<str> {
        self.id.arc()
    }
}

#[cfg(test)]
mod tests;
