//! Producer: a media source received on a transport. Maps the sender's payload types and SSRCs
//! into the router's space, keeps per-encoding receive streams (statistics, NACKs, key frame
//! cache), and asks the sender for key frames through its request manager.

pub mod key_frame_cache;
pub mod key_frame_requests;
pub mod nack_generator;
pub mod recv_stream;

use std::time::{Duration, Instant};

use rtc_rtp::packet::Packet;
use rtc_rtcp::reception_report::ReceptionReport;
use serde_json::{json, Value};

use crate::api::{MediaKind, ProducerId};
use crate::arena::Key;
use crate::router::consumer::ConsumerKey;
use crate::rtp::{self, ExtIds, SharedPacket, VideoCodec};
use crate::trace::TraceTypes;
use crate::transport::TransportKey;

pub use key_frame_cache::{KeyFrameCache, KeyFrameCacheConfig};
pub use key_frame_requests::KeyFrameRequest;
use key_frame_requests::KeyFrameRequests;
use recv_stream::{Arrival, RecvStream};

pub type ProducerKey = Key<Producer>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerType {
    Simple,
    Simulcast,
    Svc,
}

impl ProducerType {
    pub fn name(self) -> &'static str {
        match self {
            ProducerType::Simple => "simple",
            ProducerType::Simulcast => "simulcast",
            ProducerType::Svc => "svc",
        }
    }
}

/// A received packet in the router's space.
pub struct Incoming {
    pub packet: SharedPacket,
    pub is_key: bool,
    /// The stream it belongs to.
    pub stream: usize,
    /// A new video orientation (camera, flip, rotation) came with it.
    pub orientation_changed: Option<(bool, bool, u16)>,
}

/// What `Producer::new` needs.
pub struct NewProducer {
    pub id: ProducerId,
    pub kind: MediaKind,
    pub transport: TransportKey,
    pub rtp_parameters: Value,
    pub consumable: Value,
    pub rtp_mapping: Value,
    pub paused: bool,
    pub key_frame_request_delay: Duration,
    pub key_frame_cache: Option<KeyFrameCacheConfig>,
}

pub struct Producer {
    id: ProducerId,
    kind: MediaKind,
    transport: TransportKey,
    ptype: ProducerType,
    paused: bool,
    rtp_parameters: Value,
    consumable: Value,
    rtp_mapping: Value,
    streams: Vec<RecvStream>,
    /// Sender payload type → router payload type (media codecs).
    pt_map: Vec<(u8, u8)>,
    /// Sender RTX payload type → sender media payload type.
    rtx_map: Vec<(u8, u8)>,
    ext: ExtIds,
    codec: VideoCodec,
    mid: Option<String>,
    nack_enabled: bool,
    wants_remb: bool,
    key_frames: KeyFrameRequests,
    video_orientation: Option<(bool, bool, u16)>,
    key_frame_cache: Option<KeyFrameCacheConfig>,
    /// When a consumer last started; while viewers come, the cache is kept fresh.
    last_viewer_start: Option<Instant>,
    pub trace: TraceTypes,
    last_scores: Vec<u8>,
    /// VP9 SVC: bitrate of each spatial layer of its one stream (for the budget split).
    svc_rates: Vec<crate::rtp::rate::RateCalculator>,
    /// The fan-out list: this producer's consumers, in creation order.
    pub consumers: Vec<ConsumerKey>,
}

fn num(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

impl Producer {
    pub fn new(n: NewProducer) -> Self {
        let empty = Vec::new();
        let codecs = n.rtp_parameters["codecs"].as_array().unwrap_or(&empty);
        let pt_map: Vec<(u8, u8)> = n.rtp_mapping["codecs"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(|m| Some((num(m.get("payloadType"))? as u8, num(m.get("mappedPayloadType"))? as u8)))
            .collect();
        let rtx_map: Vec<(u8, u8)> = codecs
            .iter()
            .filter(|c| crate::ortc::is_rtx_codec(c))
            .filter_map(|c| Some((num(c.get("payloadType"))? as u8, num(c.get("parameters")?.get("apt"))? as u8)))
            .collect();
        let media = codecs.iter().find(|c| !crate::ortc::is_rtx_codec(c));
        let mime = media.and_then(|c| c["mimeType"].as_str()).unwrap_or_default().to_string();
        let clock_rate = media.and_then(|c| num(c.get("clockRate"))).unwrap_or(90000) as u32;
        let feedback = media.and_then(|c| c["rtcpFeedback"].as_array());
        let has_fb = |ty: &str, param: &str| feedback.is_some_and(|fbs| fbs.iter().any(|f| f["type"] == ty && f["parameter"].as_str().unwrap_or("") == param));
        let use_pli = feedback.is_none() || has_fb("nack", "pli") || !has_fb("ccm", "fir");
        let encodings = n.rtp_parameters["encodings"].as_array().unwrap_or(&empty);
        let maps = n.rtp_mapping["encodings"].as_array().unwrap_or(&empty);
        let streams: Vec<RecvStream> = encodings
            .iter()
            .enumerate()
            .map(|(i, e)| {
                RecvStream::new(
                    i,
                    num(e.get("ssrc")).map(|s| s as u32),
                    e.get("rtx").and_then(|r| num(r.get("ssrc"))).map(|s| s as u32),
                    e.get("rid").and_then(Value::as_str).map(String::from),
                    maps.get(i).and_then(|m| num(m.get("mappedSsrc"))).unwrap_or(0) as u32,
                    clock_rate,
                    mime.clone(),
                )
            })
            .collect();
        // mediasoup's rule: several encodings are simulcast; one encoding with layers is SVC
        // for codecs that have it (VP8, VP9, H264, AV1).
        let codec = VideoCodec::from_mime(&mime);
        let ptype = if encodings.len() > 1 {
            ProducerType::Simulcast
        } else {
            let sm = crate::ortc::scalability::parse(encodings.first().and_then(|e| e["scalabilityMode"].as_str()));
            let layered = sm.spatial_layers > 1 || sm.temporal_layers > 1;
            match codec {
                _ if !layered => ProducerType::Simple,
                VideoCodec::Other => ProducerType::Simple,
                _ => ProducerType::Svc,
            }
        };
        let ext = ExtIds::from_parameters(&n.rtp_parameters);
        // Senders that negotiated REMB but not transport-wide-cc get REMB from us.
        let wants_remb = has_fb("goog-remb", "") && ext.id(rtp::URI_TRANSPORT_CC).is_none() && ext.id(rtp::URI_ABS_SEND_TIME).is_some();
        let nack_enabled = !rtx_map.is_empty() || has_fb("nack", "");
        let stream_count = streams.len();
        Producer {
            id: n.id,
            codec,
            mid: n.rtp_parameters["mid"].as_str().map(String::from),
            ext,
            kind: n.kind,
            transport: n.transport,
            ptype,
            paused: n.paused,
            rtp_parameters: n.rtp_parameters,
            consumable: n.consumable,
            rtp_mapping: n.rtp_mapping,
            streams,
            pt_map,
            rtx_map,
            nack_enabled,
            wants_remb,
            key_frames: KeyFrameRequests::new(n.key_frame_request_delay, use_pli),
            video_orientation: None,
            key_frame_cache: if n.kind == MediaKind::Video { n.key_frame_cache } else { None },
            last_viewer_start: None,
            trace: TraceTypes::default(),
            last_scores: vec![0; stream_count],
            svc_rates: Vec::new(),
            consumers: Vec::new(),
        }
    }

    pub fn id(&self) -> &ProducerId {
        &self.id
    }
    pub fn kind(&self) -> MediaKind {
        self.kind
    }
    pub fn transport(&self) -> TransportKey {
        self.transport
    }
    pub fn ptype(&self) -> ProducerType {
        self.ptype
    }
    pub fn paused(&self) -> bool {
        self.paused
    }
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }
    pub fn rtp_parameters(&self) -> &Value {
        &self.rtp_parameters
    }
    pub fn consumable(&self) -> &Value {
        &self.consumable
    }
    pub fn ext(&self) -> &ExtIds {
        &self.ext
    }
    pub fn mid(&self) -> Option<&str> {
        self.mid.as_deref()
    }
    pub fn streams(&self) -> &[RecvStream] {
        &self.streams
    }
    pub fn is_video(&self) -> bool {
        self.kind == MediaKind::Video
    }
    pub fn cname(&self) -> &str {
        self.rtp_parameters["rtcp"]["cname"].as_str().unwrap_or_default()
    }
    pub fn wants_remb(&self) -> bool {
        self.wants_remb
    }
    pub fn has_cache(&self) -> bool {
        self.key_frame_cache.is_some()
    }

    /// The SSRCs (media and RTX) the sender announced.
    pub fn signalled_ssrcs(&self) -> Vec<u32> {
        self.streams.iter().flat_map(|s| [s.ssrc(), s.rtx_ssrc()]).flatten().collect()
    }

    /// The RIDs of its encodings.
    pub fn rids(&self) -> Vec<String> {
        self.streams.iter().filter_map(|s| s.rid().map(String::from)).collect()
    }

    /// Which stream a packet belongs to, learning SSRCs from RID when needed.
    /// Returns (stream index, is RTX).
    pub fn match_stream(&mut self, p: &Packet) -> Option<(usize, bool)> {
        let ssrc = p.header.ssrc;
        if let Some(i) = self.streams.iter().position(|s| s.ssrc() == Some(ssrc)) {
            return Some((i, false));
        }
        if let Some(i) = self.streams.iter().position(|s| s.rtx_ssrc() == Some(ssrc)) {
            return Some((i, true));
        }
        let is_rtx = self.rtx_map.iter().any(|(pt, _)| *pt == p.header.payload_type);
        // RID (or repaired RID for RTX) tells simulcast streams apart.
        let rid = if is_rtx {
            rtp::ext_string(p, self.ext.id(rtp::URI_RRID))
        } else {
            rtp::ext_string(p, self.ext.id(rtp::URI_RID))
        };
        let idx = match rid {
            Some(rid) => self.streams.iter().position(|s| s.rid() == Some(rid.as_str()))?,
            // A single stream without a signalled SSRC takes the first one seen.
            None if self.streams.len() == 1 && !is_rtx && self.streams[0].ssrc().is_none() => 0,
            None if self.streams.len() == 1 && is_rtx && self.streams[0].rtx_ssrc().is_none() => 0,
            None => return None,
        };
        let s = &mut self.streams[idx];
        if is_rtx {
            if s.rtx_ssrc().is_some() {
                return None;
            }
            s.learn_rtx_ssrc(ssrc);
        } else {
            if s.ssrc().is_some() {
                return None;
            }
            s.learn_ssrc(ssrc);
        }
        Some((idx, is_rtx))
    }

    /// Takes a received packet of stream `idx`: returns it in the router's space (mapped SSRC
    /// and payload type) and whether it starts a key frame, or `None` if it must not be
    /// forwarded (unknown payload type, RTX padding, duplicate, producer paused). A gap too
    /// long to repair asks the sender for a key frame (`request` is set).
    pub fn receive(&mut self, now: Instant, mut p: Packet, idx: usize, is_rtx: bool, len: usize, request: &mut Option<KeyFrameRequest>) -> Option<Incoming> {
        if is_rtx {
            let media_pt = self.rtx_map.iter().find(|(pt, _)| *pt == p.header.payload_type).map(|(_, m)| *m)?;
            let media_ssrc = self.streams[idx].ssrc()?;
            p = rtp::from_rtx(p, media_ssrc, media_pt)?;
        }
        let mapped_pt = self.pt_map.iter().find(|(pt, _)| *pt == p.header.payload_type).map(|(_, m)| *m)?;
        let stream = &mut self.streams[idx];
        let Arrival::Accepted { unrepairable_gap } = stream.receive(now, p.header.sequence_number, p.header.timestamp, len, is_rtx) else {
            return None;
        };
        let is_key = self.codec != VideoCodec::Other && rtp::is_key_frame(self.codec, &p.payload);
        if self.ptype == ProducerType::Svc && self.codec == VideoCodec::Vp9 {
            if let Some(d) = crate::rtp::vp9::Descriptor::parse(&p.payload) {
                let sid = usize::from(d.sid).min(7);
                if self.svc_rates.len() <= sid {
                    self.svc_rates.resize_with(sid + 1, Default::default);
                }
                self.svc_rates[sid].update(len, now);
            }
        }
        if is_key {
            self.key_frames.key_frame_received();
        } else if unrepairable_gap && self.is_video() {
            *request = self.request_key_frame(now);
        }
        let mut orientation_changed = None;
        if let Some(v) = rtp::ext_value(&p, self.ext.id(rtp::URI_VIDEO_ORIENTATION)) {
            if let Some(&b) = v.first() {
                let o = (b & 0x08 != 0, b & 0x04 != 0, match b & 0x03 { 0 => 0, 1 => 90, 2 => 180, _ => 270 });
                if self.video_orientation != Some(o) {
                    self.video_orientation = Some(o);
                    orientation_changed = Some(o);
                }
            }
        }
        p.header.ssrc = self.streams[idx].mapped_ssrc();
        p.header.payload_type = mapped_pt;
        let p = SharedPacket::new(p);
        if let Some(cfg) = &self.key_frame_cache {
            self.streams[idx].cache_push(cfg, now, &p, is_key);
        }
        if self.paused {
            return None;
        }
        Some(Incoming { packet: p, is_key, stream: idx, orientation_changed })
    }

    /// A consumer is starting (or coming): while viewers come, the cache is kept fresh.
    pub fn viewer_starting(&mut self, now: Instant) {
        self.last_viewer_start = Some(now);
    }

    /// Whether the cache should be refreshed now: viewers started recently and the cached key
    /// frame is (nearly) too old to serve the next one.
    pub fn cache_needs_refresh(&self, now: Instant) -> bool {
        let Some(cfg) = &self.key_frame_cache else { return false };
        if self.paused || !self.last_viewer_start.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(5)) {
            return false;
        }
        let fresh = cfg.max_duration.mul_f32(0.9);
        !self.streams.iter().any(|s| s.cache().started().is_some_and(|t| now.saturating_duration_since(t) < fresh))
    }

    /// The cached key frame and what followed, for stream `idx`.
    pub fn cached(&self, idx: usize, now: Instant) -> Option<Vec<(Instant, SharedPacket)>> {
        let cfg = self.key_frame_cache.as_ref()?;
        self.streams.get(idx)?.cache().snapshot(cfg, now)
    }

    /// Whether any stream's cache could serve a new viewer now.
    pub fn has_cached(&self, now: Instant) -> bool {
        (0..self.streams.len()).any(|i| self.cached(i, now).is_some())
    }

    pub fn on_sender_report(&mut self, ssrc: u32, ntp: u64, now: Instant) {
        if let Some(s) = self.streams.iter_mut().find(|s| s.ssrc() == Some(ssrc)) {
            s.on_sender_report(ntp, now);
        }
    }

    fn known_ssrcs(&self) -> Vec<u32> {
        self.streams.iter().filter_map(|s| s.ssrc()).collect()
    }

    fn count_request(&mut self, r: &KeyFrameRequest) {
        for s in self.streams.iter_mut() {
            if r.use_pli {
                s.pli_count += 1;
            } else {
                s.fir_count += 1;
            }
        }
    }

    /// Asks for a key frame: now if allowed, otherwise once `keyFrameRequestDelay` has passed
    /// (all requests in between merge into that one).
    pub fn request_key_frame(&mut self, now: Instant) -> Option<KeyFrameRequest> {
        if !self.is_video() {
            return None;
        }
        let ssrcs = self.known_ssrcs();
        let r = self.key_frames.request(now, ssrcs)?;
        self.count_request(&r);
        Some(r)
    }

    /// Whether consumers waiting for a key frame should ask again (none asked yet, or the last
    /// request is overdue).
    pub fn key_frame_retry_due(&self, now: Instant) -> bool {
        self.key_frames.retry_due(now)
    }

    /// Periodic work: a merged key frame request that is due, and NACKs due per stream.
    pub fn tick(&mut self, now: Instant) -> (Option<KeyFrameRequest>, Vec<(u32, Vec<u16>)>) {
        let ssrcs = self.known_ssrcs();
        let kf = self.key_frames.tick(now, || ssrcs);
        if let Some(r) = &kf {
            self.count_request(&r.clone());
        }
        let nacks = if !self.nack_enabled {
            Vec::new()
        } else {
            self.streams
                .iter_mut()
                .filter_map(|s| {
                    let ssrc = s.ssrc()?;
                    let due = s.nacks_due(now);
                    (!due.is_empty()).then_some((ssrc, due))
                })
                .collect()
        };
        (kf, nacks)
    }

    /// VP9 SVC: what spatial layers 0..=s cost together, per s (`None` for a layer not flowing).
    pub fn svc_layer_rates(&mut self, now: Instant) -> Vec<Option<u64>> {
        let mut total = 0;
        self.svc_rates
            .iter_mut()
            .map(|r| {
                let rate = r.rate(now);
                total += rate;
                (rate > 0).then_some(total)
            })
            .collect()
    }

    /// Per stream (encoding), its bitrate when media arrived recently.
    pub fn stream_rates(&mut self, now: Instant, window: Duration) -> Vec<Option<u64>> {
        self.streams.iter_mut().map(|s| s.is_active(now, window).then(|| s.bitrate(now))).collect()
    }

    pub fn bitrate(&mut self, now: Instant) -> u64 {
        self.streams.iter_mut().map(|s| s.bitrate(now)).sum()
    }

    pub fn reports(&mut self, now: Instant) -> Vec<ReceptionReport> {
        self.streams.iter_mut().filter_map(|s| s.report(now)).collect()
    }

    /// Scores per encoding; `Some` when they changed since last time.
    pub fn update_scores(&mut self, now: Instant) -> Option<Value> {
        let scores: Vec<u8> = self.streams.iter_mut().map(|s| s.update_score(now)).collect();
        if scores == self.last_scores {
            return None;
        }
        self.last_scores = scores;
        Some(self.score_json())
    }

    pub fn scores(&self) -> Vec<u8> {
        self.streams.iter().map(|s| s.score()).collect()
    }

    pub fn score_json(&self) -> Value {
        Value::Array(self.streams.iter().map(|s| s.score_json()).collect())
    }

    pub fn stats_json(&mut self, now: Instant, timestamp: u64) -> Value {
        let kind = self.kind.name();
        // Like mediasoup: a stream exists once media has arrived on it.
        Value::Array(self.streams.iter_mut().filter(|s| s.packets() > 0).map(|s| s.stats_json(now, kind, timestamp)).collect())
    }

    /// One stream's stats, once media arrived on it.
    pub fn stream_stats_json(&mut self, idx: usize, now: Instant, timestamp: u64) -> Option<Value> {
        let kind = self.kind.name();
        self.streams.get_mut(idx).filter(|s| s.packets() > 0).map(|s| s.stats_json(now, kind, timestamp))
    }

    pub fn dump_json(&self) -> Value {
        json!({
            "id": self.id.as_str(),
            "kind": self.kind.name(),
            "type": self.ptype.name(),
            "rtpParameters": self.rtp_parameters,
            "rtpMapping": self.rtp_mapping,
            "rtpStreams": self.streams.iter().map(|s| s.dump_json()).collect::<Vec<_>>(),
            "traceEventTypes": self.trace.names(),
            "paused": self.paused,
        })
    }

    /// Highest spatial and temporal layer indices it offers.
    pub fn max_layers(&self) -> (u32, u32) {
        let encodings = self.consumable["encodings"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let sm = crate::ortc::scalability::parse(encodings.iter().find_map(|e| e["scalabilityMode"].as_str()));
        let spatial = if encodings.len() > 1 { encodings.len() as u32 } else { sm.spatial_layers };
        (spatial.saturating_sub(1), sm.temporal_layers.saturating_sub(1))
    }
}
