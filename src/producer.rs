//! Producer: a media source received on a transport. Maps the sender's payload types and SSRCs
//! into the router's space, keeps reception statistics per encoding (loss, jitter, score), finds
//! lost packets to NACK, and asks the sender for key frames no more often than
//! `keyFrameRequestDelay` allows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rtc_rtp::packet::Packet;
use rtc_rtcp::reception_report::ReceptionReport;
use serde_json::{json, Value};

use crate::rtp::{self, ExtIds, VideoCodec};
use crate::transport::rate::RateCalculator;

/// Give up on a lost packet after this many NACKs.
const MAX_NACK_RETRIES: u8 = 10;
/// Forget losses older than this many packets.
const MAX_NACK_AGE: u16 = 500;
/// Time between NACKs for the same packet.
const NACK_INTERVAL: Duration = Duration::from_millis(40);
/// RFC 3550 A.1: a jump forward of more than this, or back of more than `MAX_MISORDER`, is not
/// loss or reordering; two such packets in sequence mean the sender restarted its numbering.
const MAX_DROPOUT: i64 = 3000;
const MAX_MISORDER: i64 = 1500;

/// Even with `keyFrameRequestDelay` 0, requests to a sender are at least this far apart (an
/// encoder ignores requests that follow a key frame closely; more only floods it).
const MIN_KEY_FRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(250);

/// How long a key frame request may go unanswered before it is sent again.
pub const KEY_FRAME_RETRY: Duration = Duration::from_millis(500);

/// Bounds of a key frame cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyFrameCacheConfig {
    pub max_duration: Duration,
    pub max_bytes: usize,
}

impl Default for KeyFrameCacheConfig {
    fn default() -> Self {
        KeyFrameCacheConfig { max_duration: Duration::from_millis(2000), max_bytes: 4 * 1024 * 1024 }
    }
}

impl KeyFrameCacheConfig {
    /// `{ maxDurationMs, maxBytes }` (missing fields take the defaults), `false` → none.
    pub fn from_json(v: Option<&Value>, default: Option<Self>) -> Option<Self> {
        match v {
            None | Some(Value::Null) => default,
            Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => Some(Self::default()),
            Some(o) => {
                let d = Self::default();
                Some(KeyFrameCacheConfig {
                    max_duration: o["maxDurationMs"].as_u64().map(Duration::from_millis).unwrap_or(d.max_duration),
                    max_bytes: o["maxBytes"].as_u64().map(|b| b as usize).unwrap_or(d.max_bytes),
                })
            }
        }
    }
}

/// The latest key frame of a stream and every packet after it (router space), while within
/// bounds: what a new consumer replays instead of waiting for the sender's next key frame.
#[derive(Default)]
pub struct KeyFrameCache {
    /// Extended sequence number → (arrival, packet).
    packets: BTreeMap<i64, (Instant, Packet)>,
    key_timestamp: Option<u32>,
    started: Option<Instant>,
    bytes: usize,
    seq: rtp::SeqUnwrapper,
}

impl KeyFrameCache {
    pub fn clear(&mut self) {
        self.packets.clear();
        self.key_timestamp = None;
        self.started = None;
        self.bytes = 0;
    }

    /// Keeps `p` (already mapped): a new key frame restarts the cache; other packets extend it
    /// until the bounds are passed (then the cache is dropped until the next key frame).
    pub fn push(&mut self, cfg: &KeyFrameCacheConfig, now: Instant, p: &Packet, is_key: bool) {
        let ext = self.seq.unwrap(p.header.sequence_number);
        let size = p.payload.len() + 12;
        if is_key && self.key_timestamp != Some(p.header.timestamp) {
            // A packet of a new key frame: it is the first unless an earlier one of the same
            // frame comes late (reordering), which is then kept in front.
            self.clear();
            self.key_timestamp = Some(p.header.timestamp);
            self.started = Some(now);
        }
        let Some(started) = self.started else { return };
        if now.saturating_duration_since(started) > cfg.max_duration || self.bytes + size > cfg.max_bytes {
            self.clear();
            return;
        }
        if self.packets.first_key_value().is_some_and(|(first, _)| ext < *first) && p.header.timestamp != self.key_timestamp.unwrap_or(0) {
            return; // older than the key frame
        }
        if self.packets.insert(ext, (now, p.clone())).is_none() {
            self.bytes += size;
        }
    }

    /// The cached packets in order, if a key frame is held and still within bounds.
    pub fn snapshot(&self, cfg: &KeyFrameCacheConfig, now: Instant) -> Option<Vec<(Instant, Packet)>> {
        let started = self.started?;
        if now.saturating_duration_since(started) > cfg.max_duration {
            return None;
        }
        let first = self.packets.values().next()?;
        if Some(first.1.header.timestamp) != self.key_timestamp {
            return None;
        }
        Some(self.packets.values().cloned().collect())
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

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

/// One encoding being received.
pub struct RecvStream {
    pub encoding_idx: usize,
    pub ssrc: Option<u32>,
    pub rtx_ssrc: Option<u32>,
    pub rid: Option<String>,
    pub mapped_ssrc: u32,
    pub clock_rate: u32,
    pub mime: String,
    pub packets: u64,
    pub bytes: u64,
    pub rate: RateCalculator,
    pub retransmitted: u64,
    pub repaired: u64,
    pub discarded: u64,
    /// Highest extended sequence number seen, and the first.
    max_ext_seq: Option<i64>,
    /// After a jump: the number that, arriving next, confirms a restart of the numbering.
    bad_seq: Option<u16>,
    base_ext_seq: i64,
    received_in_window: u64,
    expected_prior: i64,
    received_prior: u64,
    pub jitter: f64,
    last_transit: Option<f64>,
    epoch: Option<Instant>,
    /// Lost sequence numbers → (NACKs sent, last NACK time).
    missing: BTreeMap<i64, (u8, Option<Instant>)>,
    pub nack_count: u64,
    pub nack_packet_count: u64,
    pub pli_count: u64,
    pub fir_count: u64,
    pub fraction_lost: u8,
    pub packets_lost: i64,
    /// Middle 32 bits of the last SR's NTP time and when it arrived.
    pub last_sr: Option<(u32, Instant)>,
    pub last_packet_at: Option<Instant>,
    pub score: u8,
    pub cache: KeyFrameCache,
    /// Latest (RTP timestamp, arrival) of new media, for the live timeline of sender reports.
    pub last_rtp: Option<(u32, Instant)>,
}

impl RecvStream {
    /// The stream's RTP time now, extrapolated from the latest packet.
    pub fn rtp_time_at(&self, now: Instant) -> Option<u32> {
        let (ts, at) = self.last_rtp?;
        let elapsed = now.saturating_duration_since(at).as_secs_f64() * f64::from(self.clock_rate);
        Some(ts.wrapping_add(elapsed as u32))
    }

    fn new(encoding_idx: usize, ssrc: Option<u32>, rtx_ssrc: Option<u32>, rid: Option<String>, mapped_ssrc: u32, clock_rate: u32, mime: String) -> Self {
        RecvStream {
            encoding_idx,
            ssrc,
            rtx_ssrc,
            rid,
            mapped_ssrc,
            clock_rate,
            mime,
            packets: 0,
            bytes: 0,
            rate: RateCalculator::default(),
            retransmitted: 0,
            repaired: 0,
            discarded: 0,
            max_ext_seq: None,
            bad_seq: None,
            base_ext_seq: 0,
            received_in_window: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter: 0.0,
            last_transit: None,
            epoch: None,
            missing: BTreeMap::new(),
            nack_count: 0,
            nack_packet_count: 0,
            pli_count: 0,
            fir_count: 0,
            fraction_lost: 0,
            packets_lost: 0,
            last_sr: None,
            last_packet_at: None,
            score: 0,
            cache: KeyFrameCache::default(),
            last_rtp: None,
        }
    }

    fn extend(&self, seq: u16) -> i64 {
        match self.max_ext_seq {
            None => i64::from(seq),
            Some(max) => max + i64::from(seq.wrapping_sub(max as u16) as i16),
        }
    }

    /// Records a media packet; `false` if it is a duplicate, too old to matter, or a jump not
    /// (yet) confirmed as a restart of the sender's numbering.
    fn receive(&mut self, now: Instant, seq: u16, timestamp: u32, len: usize, retransmission: bool) -> bool {
        let mut ext = self.extend(seq);
        if let Some(max) = self.max_ext_seq {
            let jump = ext - max;
            if (jump > MAX_DROPOUT || jump < -MAX_MISORDER) && !self.missing.contains_key(&ext) {
                // Retransmissions (and a sender's probing with old packets over RTX) never
                // restart the numbering.
                if retransmission {
                    self.discarded += 1;
                    return false;
                }
                if self.bad_seq != Some(seq) {
                    self.bad_seq = Some(seq.wrapping_add(1));
                    self.discarded += 1;
                    return false;
                }
                // Two in sequence: a new numbering. It continues the extended space in the next
                // cycle, as if nothing had been lost in between.
                let next_cycle = (max & !0xffff) + 0x1_0000 + i64::from(seq);
                self.base_ext_seq += next_cycle - max - 1;
                self.max_ext_seq = Some(next_cycle - 1);
                self.missing.clear();
                ext = next_cycle;
            }
        }
        self.bad_seq = None;
        match self.max_ext_seq {
            None => {
                self.base_ext_seq = ext;
                self.max_ext_seq = Some(ext);
                self.last_rtp = Some((timestamp, now));
            }
            Some(max) if ext > max => {
                if !retransmission {
                    self.last_rtp = Some((timestamp, now));
                }
                // Only the losses recent enough to be NACKed are worth a list entry.
                for lost in (max + 1).max(ext - i64::from(MAX_NACK_AGE))..ext {
                    self.missing.insert(lost, (0, None));
                }
                self.max_ext_seq = Some(ext);
                // Forget very old losses.
                let horizon = ext - i64::from(MAX_NACK_AGE);
                self.missing = self.missing.split_off(&horizon);
            }
            Some(_) => {
                // Late or repaired packet: only useful if we were missing it.
                if self.missing.remove(&ext).is_none() {
                    self.discarded += 1;
                    return false;
                }
                if retransmission {
                    self.repaired += 1;
                }
            }
        }
        if retransmission {
            self.retransmitted += 1;
        }
        self.packets += 1;
        self.received_in_window += 1;
        self.bytes += len as u64;
        self.rate.update(len, now);
        self.last_packet_at = Some(now);
        // Interarrival jitter (RFC 3550 A.8), in timestamp units.
        if !retransmission && self.clock_rate > 0 {
            let epoch = *self.epoch.get_or_insert(now);
            let arrival = now.saturating_duration_since(epoch).as_secs_f64() * f64::from(self.clock_rate);
            let transit = arrival - f64::from(timestamp);
            if let Some(last) = self.last_transit {
                let d = (transit - last).abs();
                // Ignore timestamp jumps (new frame cadence, wraps).
                if d < f64::from(self.clock_rate) {
                    self.jitter += (d - self.jitter) / 16.0;
                }
            }
            self.last_transit = Some(transit);
        }
        true
    }

    /// Sequence numbers to NACK now.
    fn nacks_due(&mut self, now: Instant) -> Vec<u16> {
        let mut due = Vec::new();
        let mut give_up = Vec::new();
        for (seq, (tries, last)) in self.missing.iter_mut() {
            if last.is_some_and(|t| now.saturating_duration_since(t) < NACK_INTERVAL) {
                continue;
            }
            if *tries >= MAX_NACK_RETRIES {
                give_up.push(*seq);
                continue;
            }
            *tries += 1;
            *last = Some(now);
            due.push(*seq as u16);
        }
        for s in give_up {
            self.missing.remove(&s);
        }
        if !due.is_empty() {
            self.nack_count += 1;
            self.nack_packet_count += due.len() as u64;
        }
        due
    }

    /// Reception report for the last interval; also updates loss and score.
    fn report(&mut self, now: Instant) -> Option<ReceptionReport> {
        let ssrc = self.ssrc?;
        let max = self.max_ext_seq?;
        let expected = max - self.base_ext_seq + 1;
        let lost = (expected - self.packets as i64).max(0);
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received_in_window as i64 - self.received_prior as i64;
        self.expected_prior = expected;
        self.received_prior = self.received_in_window;
        let lost_interval = (expected_interval - received_interval).max(0);
        self.fraction_lost = if expected_interval > 0 { ((lost_interval << 8) / expected_interval).min(255) as u8 } else { 0 };
        self.packets_lost = lost;
        let (lsr, dlsr) = match self.last_sr {
            Some((mid, at)) => (mid, (now.saturating_duration_since(at).as_secs_f64() * 65536.0) as u32),
            None => (0, 0),
        };
        Some(ReceptionReport {
            ssrc,
            fraction_lost: self.fraction_lost,
            total_lost: (lost as u32) & 0x00ff_ffff,
            last_sequence_number: max as u32,
            jitter: self.jitter as u32,
            last_sender_report: lsr,
            delay: dlsr,
        })
    }

    /// 0..=10 from recent loss; 0 when the stream went silent.
    fn update_score(&mut self, now: Instant) -> u8 {
        let active = self.last_packet_at.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(2));
        self.score = if !active {
            0
        } else {
            let loss_pct = f64::from(self.fraction_lost) * 100.0 / 256.0;
            (10.0 - loss_pct / 2.0).round().clamp(0.0, 10.0) as u8
        };
        self.score
    }

    fn stats_json(&mut self, now: Instant, kind: &str, timestamp: u64) -> Value {
        let mut s = json!({
            "type": "inbound-rtp",
            "timestamp": timestamp,
            "ssrc": self.ssrc.unwrap_or(0),
            "kind": kind,
            "mimeType": self.mime,
            "packetsLost": self.packets_lost,
            "fractionLost": self.fraction_lost,
            "packetsDiscarded": self.discarded,
            "packetsRetransmitted": self.retransmitted,
            "packetsRepaired": self.repaired,
            "nackCount": self.nack_count,
            "nackPacketCount": self.nack_packet_count,
            "pliCount": self.pli_count,
            "firCount": self.fir_count,
            "score": self.score,
            "packetCount": self.packets,
            "byteCount": self.bytes,
            "bitrate": self.rate.rate(now),
            "jitter": self.jitter as u64,
        });
        if let Some(r) = self.rtx_ssrc {
            s["rtxSsrc"] = json!(r);
        }
        if let Some(rid) = &self.rid {
            s["rid"] = json!(rid);
        }
        s
    }
}

pub struct Producer {
    pub id: String,
    pub kind: String,
    pub transport_id: String,
    pub ptype: ProducerType,
    pub paused: bool,
    pub rtp_parameters: Value,
    pub consumable: Value,
    pub rtp_mapping: Value,
    pub streams: Vec<RecvStream>,
    /// Sender payload type → router payload type (media codecs).
    pt_map: Vec<(u8, u8)>,
    /// Sender RTX payload type → sender media payload type.
    rtx_map: Vec<(u8, u8)>,
    pub ext: ExtIds,
    pub codec: VideoCodec,
    pub mid: Option<String>,
    pub key_frame_request_delay: Duration,
    last_key_frame_request: Option<Instant>,
    pending_key_frame_request: bool,
    /// Whether the sender wants PLI (else FIR).
    use_pli: bool,
    fir_seq: u8,
    pub video_orientation: Option<(bool, bool, u16)>,
    pub orientation_changed: bool,
    pub key_frame_cache: Option<KeyFrameCacheConfig>,
    /// When a consumer last started; while viewers come, the cache is kept fresh.
    pub last_viewer_start: Option<Instant>,
    /// Consumers wait for a key frame since this request (for retries).
    pub awaiting_key_frame_since: Option<Instant>,
    pub trace_event_types: Vec<String>,
    pub last_scores: Vec<u8>,
}

/// A key frame request to send to the producer's sender.
pub struct KeyFrameRequest {
    pub ssrcs: Vec<u32>,
    pub use_pli: bool,
    pub fir_seq: u8,
}

fn num(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

impl Producer {
    pub fn new(
        id: String,
        kind: String,
        transport_id: String,
        rtp_parameters: Value,
        consumable: Value,
        rtp_mapping: Value,
        paused: bool,
        key_frame_request_delay_ms: u64,
    ) -> Self {
        let empty = Vec::new();
        let codecs = rtp_parameters["codecs"].as_array().unwrap_or(&empty);
        let pt_map: Vec<(u8, u8)> = rtp_mapping["codecs"]
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
        let use_pli = media
            .and_then(|c| c["rtcpFeedback"].as_array())
            .is_none_or(|fbs| {
                fbs.iter().any(|f| f["type"] == "nack" && f["parameter"] == "pli")
                    || !fbs.iter().any(|f| f["type"] == "ccm" && f["parameter"] == "fir")
            });
        let encodings = rtp_parameters["encodings"].as_array().unwrap_or(&empty);
        let maps = rtp_mapping["encodings"].as_array().unwrap_or(&empty);
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
        let ptype = if encodings.len() > 1 {
            ProducerType::Simulcast
        } else {
            let sm = crate::scalability::parse(encodings.first().and_then(|e| e["scalabilityMode"].as_str()));
            let layered = sm.spatial_layers > 1 || sm.temporal_layers > 1;
            match VideoCodec::from_mime(&mime) {
                _ if !layered => ProducerType::Simple,
                VideoCodec::Other => ProducerType::Simple,
                _ => ProducerType::Svc,
            }
        };
        let n = streams.len();
        Producer {
            id,
            codec: VideoCodec::from_mime(&mime),
            ext: ExtIds::from_parameters(&rtp_parameters),
            mid: rtp_parameters["mid"].as_str().map(String::from),
            kind,
            transport_id,
            ptype,
            paused,
            rtp_parameters,
            consumable,
            rtp_mapping,
            streams,
            pt_map,
            rtx_map,
            key_frame_request_delay: Duration::from_millis(key_frame_request_delay_ms),
            last_key_frame_request: None,
            pending_key_frame_request: false,
            use_pli,
            fir_seq: 0,
            video_orientation: None,
            orientation_changed: false,
            key_frame_cache: None,
            last_viewer_start: None,
            awaiting_key_frame_since: None,
            trace_event_types: Vec::new(),
            last_scores: vec![0; n],
        }
    }

    pub fn is_video(&self) -> bool {
        self.kind == "video"
    }

    /// Which stream a packet belongs to, learning SSRCs from RID when needed.
    /// Returns (stream index, is RTX).
    pub fn match_stream(&mut self, p: &Packet) -> Option<(usize, bool)> {
        let ssrc = p.header.ssrc;
        if let Some(i) = self.streams.iter().position(|s| s.ssrc == Some(ssrc)) {
            return Some((i, false));
        }
        if let Some(i) = self.streams.iter().position(|s| s.rtx_ssrc == Some(ssrc)) {
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
            Some(rid) => self.streams.iter().position(|s| s.rid.as_deref() == Some(rid.as_str()))?,
            // A single stream without a signalled SSRC takes the first one seen.
            None if self.streams.len() == 1 && !is_rtx && self.streams[0].ssrc.is_none() => 0,
            None if self.streams.len() == 1 && is_rtx && self.streams[0].rtx_ssrc.is_none() => 0,
            None => return None,
        };
        let s = &mut self.streams[idx];
        if is_rtx {
            if s.rtx_ssrc.is_some() {
                return None;
            }
            s.rtx_ssrc = Some(ssrc);
        } else {
            if s.ssrc.is_some() {
                return None;
            }
            s.ssrc = Some(ssrc);
        }
        Some((idx, is_rtx))
    }

    /// Takes a received packet of stream `idx`: returns it in the router's space (mapped SSRC
    /// and payload type) and whether it starts a key frame, or `None` if it must not be
    /// forwarded (unknown payload type, RTX padding, duplicate, producer paused).
    pub fn receive(&mut self, now: Instant, mut p: Packet, idx: usize, is_rtx: bool, len: usize) -> Option<(Packet, bool)> {
        if is_rtx {
            let media_pt = self.rtx_map.iter().find(|(pt, _)| *pt == p.header.payload_type).map(|(_, m)| *m)?;
            let media_ssrc = self.streams[idx].ssrc?;
            p = rtp::from_rtx(p, media_ssrc, media_pt)?;
        }
        let mapped_pt = self.pt_map.iter().find(|(pt, _)| *pt == p.header.payload_type).map(|(_, m)| *m)?;
        let stream = &mut self.streams[idx];
        if !stream.receive(now, p.header.sequence_number, p.header.timestamp, len, is_rtx) {
            return None;
        }
        let key = self.codec != VideoCodec::Other && rtp::is_key_frame(self.codec, &p.payload);
        if key {
            self.pending_key_frame_request = false;
        }
        if let Some(v) = rtp::ext_value(&p, self.ext.id(rtp::URI_VIDEO_ORIENTATION)) {
            if let Some(&b) = v.first() {
                let o = (b & 0x08 != 0, b & 0x04 != 0, match b & 0x03 { 0 => 0, 1 => 90, 2 => 180, _ => 270 });
                if self.video_orientation != Some(o) {
                    self.video_orientation = Some(o);
                    self.orientation_changed = true;
                }
            }
        }
        p.header.ssrc = stream.mapped_ssrc;
        p.header.payload_type = mapped_pt;
        if key {
            self.awaiting_key_frame_since = None;
        }
        if let Some(cfg) = &self.key_frame_cache {
            self.streams[idx].cache.push(cfg, now, &p, key);
        }
        if self.paused {
            return None;
        }
        Some((p, key))
    }

    /// Whether the cache should be refreshed now: viewers started recently and the cached key
    /// frame is (nearly) too old to serve the next one.
    pub fn cache_needs_refresh(&self, now: Instant) -> bool {
        let Some(cfg) = &self.key_frame_cache else { return false };
        if self.paused || !self.last_viewer_start.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(5)) {
            return false;
        }
        let fresh = cfg.max_duration.mul_f32(0.9);
        !self.streams.iter().any(|s| s.cache.started.is_some_and(|t| now.saturating_duration_since(t) < fresh) && !s.cache.is_empty())
    }

    /// The cached key frame and what followed, for stream `idx`.
    pub fn cached(&self, idx: usize, now: Instant) -> Option<Vec<(Instant, Packet)>> {
        let cfg = self.key_frame_cache.as_ref()?;
        self.streams.get(idx)?.cache.snapshot(cfg, now)
    }

    pub fn on_sender_report(&mut self, ssrc: u32, ntp: u64, now: Instant) {
        if let Some(s) = self.streams.iter_mut().find(|s| s.ssrc == Some(ssrc)) {
            s.last_sr = Some((crate::rtcp::ntp_middle(ntp), now));
        }
    }

    /// Asks for a key frame: now if allowed, otherwise once `keyFrameRequestDelay` has passed
    /// (all requests in between merge into that one).
    pub fn request_key_frame(&mut self, now: Instant) -> Option<KeyFrameRequest> {
        if !self.is_video() {
            return None;
        }
        // A request still unanswered covers this one (the router retries it when overdue).
        if self.awaiting_key_frame_since.is_some_and(|t| now.saturating_duration_since(t) < KEY_FRAME_RETRY) {
            return None;
        }
        if let Some(last) = self.last_key_frame_request {
            if now.saturating_duration_since(last) < self.key_frame_request_delay.max(MIN_KEY_FRAME_REQUEST_INTERVAL) {
                self.pending_key_frame_request = true;
                return None;
            }
        }
        self.emit_key_frame_request(now)
    }

    fn emit_key_frame_request(&mut self, now: Instant) -> Option<KeyFrameRequest> {
        let ssrcs: Vec<u32> = self.streams.iter().filter_map(|s| s.ssrc).collect();
        if ssrcs.is_empty() {
            // Nothing received yet: ask again when the delay allows.
            self.pending_key_frame_request = true;
            return None;
        }
        self.pending_key_frame_request = false;
        self.last_key_frame_request = Some(now);
        self.awaiting_key_frame_since = Some(now);
        self.fir_seq = self.fir_seq.wrapping_add(1);
        for s in self.streams.iter_mut() {
            if self.use_pli {
                s.pli_count += 1;
            } else {
                s.fir_count += 1;
            }
        }
        Some(KeyFrameRequest { ssrcs, use_pli: self.use_pli, fir_seq: self.fir_seq })
    }

    /// Periodic work: delayed key frame requests and NACKs due.
    pub fn tick(&mut self, now: Instant) -> (Option<KeyFrameRequest>, Vec<(u32, Vec<u16>)>) {
        let mut kf = None;
        let interval = self.key_frame_request_delay.max(MIN_KEY_FRAME_REQUEST_INTERVAL);
        if self.pending_key_frame_request
            && self.last_key_frame_request.is_none_or(|t| now.saturating_duration_since(t) >= interval)
        {
            kf = self.emit_key_frame_request(now);
        }
        let nacks = if self.rtx_map.is_empty() && !self.nack_enabled() {
            Vec::new()
        } else {
            self.streams
                .iter_mut()
                .filter_map(|s| {
                    let ssrc = s.ssrc?;
                    let due = s.nacks_due(now);
                    (!due.is_empty()).then_some((ssrc, due))
                })
                .collect()
        };
        (kf, nacks)
    }

    /// Whether the sender negotiated REMB but not transport-wide-cc (then we send REMB).
    pub fn wants_remb(&self) -> bool {
        let fbs = self.rtp_parameters["codecs"].as_array().and_then(|c| c.first()).and_then(|c| c["rtcpFeedback"].as_array());
        fbs.is_some_and(|f| f.iter().any(|x| x["type"] == "goog-remb"))
            && self.ext.id(rtp::URI_TRANSPORT_CC).is_none()
            && self.ext.id(rtp::URI_ABS_SEND_TIME).is_some()
    }

    pub fn bitrate(&mut self, now: Instant) -> u64 {
        self.streams.iter_mut().map(|s| s.rate.rate(now)).sum()
    }

    pub fn traces(&self, t: &str) -> bool {
        self.trace_event_types.iter().any(|x| x == t)
    }

    fn nack_enabled(&self) -> bool {
        self.rtp_parameters["codecs"]
            .as_array()
            .and_then(|c| c.first())
            .and_then(|c| c["rtcpFeedback"].as_array())
            .is_some_and(|fbs| fbs.iter().any(|f| f["type"] == "nack" && f["parameter"] == ""))
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

    pub fn score_json(&self) -> Value {
        Value::Array(
            self.streams
                .iter()
                .map(|s| {
                    let mut v = json!({ "encodingIdx": s.encoding_idx, "ssrc": s.ssrc.unwrap_or(0), "score": s.score });
                    if let Some(rid) = &s.rid {
                        v["rid"] = json!(rid);
                    }
                    v
                })
                .collect(),
        )
    }

    pub fn stats_json(&mut self, now: Instant, timestamp: u64) -> Value {
        let kind = self.kind.clone();
        // Like mediasoup: a stream exists once media has arrived on it.
        Value::Array(self.streams.iter_mut().filter(|s| s.packets > 0).map(|s| s.stats_json(now, &kind, timestamp)).collect())
    }

    pub fn dump_json(&self) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind,
            "type": self.ptype.name(),
            "rtpParameters": self.rtp_parameters,
            "rtpMapping": self.rtp_mapping,
            "rtpStreams": self.streams.iter().map(|s| json!({
                "params": { "encodingIdx": s.encoding_idx, "ssrc": s.ssrc, "rid": s.rid, "rtxSsrc": s.rtx_ssrc, "mimeType": s.mime, "clockRate": s.clock_rate },
                "score": s.score,
            })).collect::<Vec<_>>(),
            "traceEventTypes": self.trace_event_types,
            "paused": self.paused,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> RecvStream {
        RecvStream::new(0, Some(1), None, None, 2, 90000, "video/VP8".into())
    }

    #[test]
    fn reports_count_cycles_and_losses_past_every_wrap() {
        let t0 = Instant::now();
        let mut s = stream();
        let first = 65_000u16;
        let mut lost = 0i64;
        let mut nacked = Vec::new();
        for i in 0..200_000u32 {
            let seq = first.wrapping_add(i as u16);
            let now = t0 + Duration::from_millis(u64::from(i));
            if i % 1000 == 500 {
                lost += 1;
                continue;
            }
            assert!(s.receive(now, seq, i.wrapping_mul(3000), 100, false), "packet {i}");
            if i % 1000 == 510 {
                nacked.extend(s.nacks_due(now));
            }
        }
        let r = s.report(t0 + Duration::from_secs(300)).unwrap();
        let expected_ext = i64::from(first) + 199_999;
        assert_eq!(i64::from(r.last_sequence_number), expected_ext, "cycles in the high 16 bits");
        assert_eq!(r.last_sequence_number & 0xffff, u32::from(first.wrapping_add(199_999u32 as u16)));
        assert_eq!(i64::from(r.total_lost), lost);
        // Every loss was NACKed with its own (wrapped) number.
        let want: Vec<u16> = (0..200).map(|k| first.wrapping_add((k * 1000 + 500) as u16)).collect();
        assert_eq!(nacked, want);
    }

    #[test]
    fn a_restarted_numbering_is_followed_after_two_packets_in_sequence() {
        let t0 = Instant::now();
        let mut s = stream();
        for seq in 100..200u16 {
            assert!(s.receive(t0, seq, 0, 100, false));
        }
        // A stray packet far away is dropped, and costs no NACK list.
        assert!(!s.receive(t0, 40_000, 0, 100, false));
        assert!(s.missing.is_empty());
        // The sender restarts at 40,000: the second packet in sequence confirms it.
        assert!(!s.receive(t0, 50_000, 0, 100, false));
        assert!(s.receive(t0, 50_001, 0, 100, false));
        assert!(s.receive(t0, 50_002, 0, 100, false));
        assert!(s.missing.is_empty());
        let r = s.report(t0).unwrap();
        assert_eq!(r.total_lost, 0, "the jump is not counted as loss");
        assert_eq!(r.last_sequence_number & 0xffff, 50_002);
        // Old packets resent over RTX (as a sender probes with) never restart it.
        assert!(!s.receive(t0, 10, 0, 100, true));
        assert!(!s.receive(t0, 11, 0, 100, true));
        assert!(s.receive(t0, 50_003, 0, 100, false));
        // A gap of 2,000 is loss, but only the NACKable part is listed.
        assert!(s.receive(t0, 52_004, 0, 100, false));
        assert!(s.missing.len() <= MAX_NACK_AGE as usize);
    }
}
