//! Consumer: one producer's media sent to one transport, rewritten into the consumer's own SSRC,
//! sequence and payload-type space. Video starts (and restarts after a pause) on a key frame;
//! sequence numbers stay continuous across pauses; NACKs are answered from a retransmission
//! buffer, as RTX when negotiated.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtc_rtp::packet::Packet;
use serde_json::{json, Value};

use crate::rtp::{self, ExtIds, Rewrite, VideoCodec};
use crate::transport::rate::RateCalculator;

pub mod seq_manager;
use seq_manager::{SeqInput, SeqManager};

/// A cached key frame goes out at once; what followed it is replayed this many times faster
/// than it was received, so the viewer catches up without a burst.
pub const REPLAY_SPEED: u32 = 4;

/// Packets kept for retransmission (and how long).
const RTX_BUFFER_PACKETS: usize = 1200;
const RTX_BUFFER_AGE: Duration = Duration::from_secs(2);

pub struct Consumer {
    pub id: String,
    pub producer_id: String,
    pub transport_id: String,
    pub kind: String,
    pub ctype: String,
    pub rtp_parameters: Value,
    pub paused: bool,
    pub producer_paused: bool,
    pub priority: u32,
    pub preferred_layers: Option<(u32, Option<u32>)>,
    pub ssrc: u32,
    rtx: Option<(u32, u8)>,
    pub ext: ExtIds,
    pub mid: Option<String>,
    pub codec: VideoCodec,
    pub clock_rate: u32,
    pub cname: String,
    /// Router payload types this consumer accepts.
    payload_types: Vec<u8>,
    /// Waiting for the next (key) frame to (re)start.
    sync_required: bool,
    /// Input → output sequence numbers, continuous across syncs.
    seq: SeqManager,
    rtx_seq: u16,
    /// Which producer stream (by mapped SSRC) is forwarded; simulcast forwards one.
    pub source_ssrc: Option<u32>,
    source_last_at: Option<Instant>,
    ts_offset: u32,
    last_ts: Option<(u32, Instant)>,
    buffer: VecDeque<(u16, Instant, Vec<u8>)>,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub rate: RateCalculator,
    pub retransmitted: u64,
    pub nack_count: u64,
    pub nack_packet_count: u64,
    pub pli_count: u64,
    pub fir_count: u64,
    /// From the receiver's reports.
    pub fraction_lost: u8,
    pub packets_lost: u32,
    pub score: u8,
    pub last_score_sent: Option<(u8, Vec<u8>)>,
    pub trace_event_types: Vec<String>,
    pub ignore_dtx: bool,
    pub layers_sent: Option<Option<usize>>,
    /// Replay of a producer's key frame cache: (due time, packet, is key frame start). Live
    /// packets queue behind it while it lasts.
    replay: VecDeque<(Instant, Packet, bool, Option<u32>)>,
    pub replays: u64,
    last_replay_at: Option<Instant>,
    /// Pipe consumers forward every stream of the producer as it is: producer (router) SSRC →
    /// this consumer's SSRC for that encoding. Empty for ordinary consumers.
    pipe_map: Vec<(u32, u32)>,
    /// Pipe consumers with RTX: this consumer's SSRC per stream → its RTX SSRC, and media
    /// payload type → RTX payload type.
    pipe_rtx: Vec<(u32, u32)>,
    rtx_pts: Vec<(u8, u8)>,
}

/// A viewer's key frame requests restart a cache replay no more often than this: requests sent
/// together (PLI + FIR, a compound with two) are one, but a request a few ms after a replay
/// started comes from a receiver that appeared after its key frame went out, and must restart it.
const MIN_REPLAY_INTERVAL: Duration = Duration::from_millis(3);

pub struct NewConsumer {
    pub id: String,
    pub producer_id: String,
    pub transport_id: String,
    pub kind: String,
    pub ctype: String,
    pub rtp_parameters: Value,
    pub paused: bool,
    pub producer_paused: bool,
    pub preferred_layers: Option<(u32, Option<u32>)>,
    pub ignore_dtx: bool,
    pub cname: String,
}

impl Consumer {
    pub fn new(n: NewConsumer) -> Self {
        let p = &n.rtp_parameters;
        let empty = Vec::new();
        let codecs = p["codecs"].as_array().unwrap_or(&empty);
        let media = codecs.iter().find(|c| !crate::ortc::is_rtx_codec(c));
        let mime = media.and_then(|c| c["mimeType"].as_str()).unwrap_or_default();
        let media_pt = media.and_then(|c| c["payloadType"].as_u64()).unwrap_or(0) as u8;
        let rtx_pt = codecs
            .iter()
            .find(|c| crate::ortc::is_rtx_codec(c) && c["parameters"]["apt"].as_u64() == Some(u64::from(media_pt)))
            .and_then(|c| c["payloadType"].as_u64())
            .map(|pt| pt as u8);
        let enc = &p["encodings"][0];
        let ssrc = enc["ssrc"].as_u64().unwrap_or(0) as u32;
        let rtx = match (enc["rtx"]["ssrc"].as_u64(), rtx_pt) {
            (Some(s), Some(pt)) => Some((s as u32, pt)),
            _ => None,
        };
        let rtx_pts = codecs
            .iter()
            .filter(|c| crate::ortc::is_rtx_codec(c))
            .filter_map(|c| Some((c["parameters"]["apt"].as_u64()? as u8, c["payloadType"].as_u64()? as u8)))
            .collect();
        Consumer {
            ext: ExtIds::from_parameters(p),
            mid: p["mid"].as_str().map(String::from),
            codec: VideoCodec::from_mime(mime),
            clock_rate: media.and_then(|c| c["clockRate"].as_u64()).unwrap_or(90000) as u32,
            payload_types: codecs
                .iter()
                .filter(|c| !crate::ortc::is_rtx_codec(c))
                .filter_map(|c| c["payloadType"].as_u64().map(|v| v as u8))
                .collect(),
            ssrc,
            rtx,
            id: n.id,
            producer_id: n.producer_id,
            transport_id: n.transport_id,
            kind: n.kind,
            ctype: n.ctype,
            rtp_parameters: n.rtp_parameters,
            paused: n.paused,
            producer_paused: n.producer_paused,
            priority: 1,
            preferred_layers: n.preferred_layers,
            cname: n.cname,
            sync_required: true,
            seq: SeqManager::new(crate::ice::random_u32() as u16),
            rtx_seq: crate::ice::random_u32() as u16,
            source_ssrc: None,
            source_last_at: None,
            ts_offset: 0,
            last_ts: None,
            buffer: VecDeque::new(),
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
            trace_event_types: Vec::new(),
            ignore_dtx: n.ignore_dtx,
            layers_sent: None,
            replay: VecDeque::new(),
            replays: 0,
            last_replay_at: None,
            pipe_map: Vec::new(),
            pipe_rtx: Vec::new(),
            rtx_pts,
        }
    }

    /// Makes this a pipe consumer (see `pipe_map`).
    pub fn set_pipe(&mut self, map: Vec<(u32, u32)>, rtx: Vec<(u32, u32)>) {
        self.pipe_map = map;
        self.pipe_rtx = rtx;
        self.sync_required = false;
    }

    /// Producer (router) SSRC → this pipe consumer's SSRC, per stream.
    pub fn pipe_map(&self) -> &[(u32, u32)] {
        &self.pipe_map
    }

    pub fn is_pipe(&self) -> bool {
        !self.pipe_map.is_empty()
    }

    /// Whether a viewer's key frame request may be answered by replaying the cache now (again,
    /// even during a replay: the request says the receiver missed its key frame).
    pub fn may_replay_again(&self, now: Instant) -> bool {
        self.last_replay_at.is_none_or(|t| now.saturating_duration_since(t) >= MIN_REPLAY_INTERVAL)
    }

    /// Drops a running replay (the cache still holds all of it, and what was queued after).
    pub fn stop_replay(&mut self) {
        self.replay.clear();
    }

    pub fn ts_offset(&self) -> u32 {
        self.ts_offset
    }

    pub fn is_replaying(&self) -> bool {
        !self.replay.is_empty()
    }

    /// Starts from a cached key frame: its packets are due now, the frames after it paced at
    /// `REPLAY_SPEED` times their original spacing. Their RTP timestamps are compressed the same
    /// way and end at the latest cached one, so to the receiver the replay looks like a live
    /// stream that catches up (a receiver holds back frames whose timestamps look stale), and
    /// live packets keep their own timestamps.
    pub fn start_replay(&mut self, now: Instant, cached: Vec<(Instant, Packet)>) {
        let Some((base, first)) = cached.first() else { return };
        let key_ts = first.header.timestamp;
        let base = *base;
        let last_ts = cached.last().map(|(_, p)| p.header.timestamp).unwrap_or(key_ts);
        self.replay.clear();
        for (i, (at, p)) in cached.into_iter().enumerate() {
            let due = if p.header.timestamp == key_ts {
                now
            } else {
                now + at.saturating_duration_since(base) / REPLAY_SPEED
            };
            let behind = last_ts.wrapping_sub(p.header.timestamp);
            let behind = if behind > u32::MAX / 2 { 0 } else { behind };
            let ts = last_ts.wrapping_sub(behind / REPLAY_SPEED);
            self.replay.push_back((due, p, i == 0, Some(ts)));
        }
        self.replays += 1;
        self.last_replay_at = Some(now);
    }

    /// A live packet while replaying: it goes out after the replay.
    pub fn queue_live(&mut self, now: Instant, p: Packet, is_key: bool) {
        self.replay.push_back((now, p, is_key, None));
    }

    pub fn next_replay_due(&self) -> Option<Instant> {
        self.replay.front().map(|(d, _, _, _)| *d)
    }

    /// Sends the replayed (and queued live) packets that are due.
    pub fn drain_replay(&mut self, now: Instant, producer_ext: &ExtIds, twcc_seq: &mut u16) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while self.replay.front().is_some_and(|(d, _, _, _)| *d <= now) {
            let (_, mut p, key, ts) = self.replay.pop_front().expect("checked");
            if let Some(ts) = ts {
                p.header.timestamp = ts;
            }
            if let Some(bytes) = self.forward(now, &p, key, producer_ext, twcc_seq) {
                out.push(bytes);
            }
        }
        out
    }

    pub fn is_video(&self) -> bool {
        self.kind == "video"
    }

    pub fn traces(&self, t: &str) -> bool {
        self.trace_event_types.iter().any(|x| x == t)
    }

    pub fn active(&self) -> bool {
        !self.paused && !self.producer_paused
    }

    pub fn rtx_ssrc(&self) -> Option<u32> {
        self.rtx.map(|(s, _)| s)
    }

    /// Start again from the next key frame (after resume, a new source, or a request).
    pub fn require_sync(&mut self) {
        if self.pipe_map.is_empty() {
            self.sync_required = true;
        }
    }

    /// Whether the consumer waits for a key frame to start.
    pub fn needs_key_frame(&self) -> bool {
        self.active() && self.sync_required && self.is_video()
    }

    /// Picks which producer stream to forward (simulcast: the highest recently active one up
    /// to the preferred spatial layer). `active` lists (stream index, mapped SSRC, recently
    /// active) for the producer's streams.
    pub fn choose_source(&mut self, now: Instant, active: &[(usize, u32, bool)]) -> bool {
        let limit = self.preferred_layers.map(|(s, _)| s as usize).unwrap_or(usize::MAX);
        let stale = self.source_last_at.is_none_or(|t| now.saturating_duration_since(t) > Duration::from_secs(2));
        if self.source_ssrc.is_some() && !stale {
            return false;
        }
        let best = active.iter().filter(|(i, _, a)| *a && *i <= limit).max_by_key(|(i, _, _)| *i)
            .or_else(|| active.iter().filter(|(_, _, a)| *a).min_by_key(|(i, _, _)| *i));
        match best {
            Some((_, ssrc, _)) if Some(*ssrc) != self.source_ssrc => {
                self.source_ssrc = Some(*ssrc);
                self.source_last_at = Some(now);
                self.sync_required = true;
                true
            }
            _ => false,
        }
    }

    pub fn current_spatial_layer(&self, streams: &[(usize, u32, bool)]) -> Option<usize> {
        let src = self.source_ssrc?;
        streams.iter().find(|(_, s, _)| *s == src).map(|(i, _, _)| *i)
    }

    /// The packet as this consumer sends it (plain RTP), or `None` if it is not forwarded.
    /// `twcc_seq` hands out the transport's next transport-wide sequence number.
    pub fn forward(
        &mut self,
        now: Instant,
        p: &Packet,
        is_key: bool,
        producer_ext: &ExtIds,
        twcc_seq: &mut u16,
    ) -> Option<Vec<u8>> {
        if !self.active() || !self.payload_types.contains(&p.header.payload_type) {
            return None;
        }
        if !self.pipe_map.is_empty() {
            return self.forward_pipe(now, p, producer_ext, twcc_seq);
        }
        if let Some(src) = self.source_ssrc {
            if p.header.ssrc != src {
                return None;
            }
        }
        self.source_last_at = Some(now);
        let in_seq = p.header.sequence_number;
        let out_seq = if self.sync_required || !self.seq.is_synced() {
            if self.is_video() && !is_key {
                return None;
            }
            self.resync(now, p)
        } else {
            match self.seq.input(in_seq) {
                SeqInput::Forward(out) => out,
                SeqInput::Old => return None,
                // The sender started a new numbering: video waits for its next key frame.
                SeqInput::Discontinuity if self.is_video() && !is_key => {
                    self.sync_required = true;
                    return None;
                }
                SeqInput::Discontinuity => self.resync(now, p),
            }
        };
        let ts = p.header.timestamp.wrapping_add(self.ts_offset);
        let twcc = self.ext.id(rtp::URI_TRANSPORT_CC).map(|_| {
            let s = *twcc_seq;
            *twcc_seq = twcc_seq.wrapping_add(1);
            s
        });
        let bytes = rtp::rewrite(
            p,
            producer_ext,
            &self.ext,
            &Rewrite { ssrc: self.ssrc, seq: out_seq, timestamp: ts, payload_type: p.header.payload_type, mid: self.mid.as_deref(), transport_cc_seq: twcc },
        )?;
        if out_seq == self.seq.max_output() {
            self.last_ts = Some((ts, now));
        }
        self.packets_sent += 1;
        self.bytes_sent += bytes.len() as u64;
        self.rate.update(bytes.len(), now);
        if self.is_video() || self.rtx.is_some() {
            self.buffer.push_back((out_seq, now, bytes.clone()));
            while self.buffer.len() > RTX_BUFFER_PACKETS
                || self.buffer.front().is_some_and(|(_, t, _)| now.saturating_duration_since(*t) > RTX_BUFFER_AGE)
            {
                self.buffer.pop_front();
            }
        }
        Some(bytes)
    }

    /// Starts the output stream again at `p`: its sequence number continues after the last one
    /// sent, its timestamp never goes backwards.
    fn resync(&mut self, now: Instant, p: &Packet) -> u16 {
        // Keep timestamps moving forward across a change of source stream.
        if let Some((last_ts, at)) = self.last_ts {
            let elapsed = now.saturating_duration_since(at).as_secs_f64() * f64::from(self.clock_rate);
            let target = last_ts.wrapping_add(elapsed.max(1.0) as u32);
            let candidate = p.header.timestamp.wrapping_add(self.ts_offset);
            if (candidate.wrapping_sub(last_ts) as i32) <= 0 {
                self.ts_offset = target.wrapping_sub(p.header.timestamp);
            }
        }
        self.sync_required = false;
        self.seq.sync(p.header.sequence_number)
    }

    /// Pipe forwarding: same sequence numbers and timestamps, this consumer's SSRC per stream.
    /// (Over a WebRtcTransport, `consume({ pipe: true })`, the MID and transport-wide sequence
    /// numbers are written as for any consumer there.)
    fn forward_pipe(&mut self, now: Instant, p: &Packet, producer_ext: &ExtIds, twcc_seq: &mut u16) -> Option<Vec<u8>> {
        let ssrc = self.pipe_map.iter().find(|(from, _)| *from == p.header.ssrc).map(|(_, to)| *to)?;
        let twcc = self.ext.id(rtp::URI_TRANSPORT_CC).map(|_| {
            let s = *twcc_seq;
            *twcc_seq = twcc_seq.wrapping_add(1);
            s
        });
        let bytes = rtp::rewrite(
            p,
            producer_ext,
            &self.ext,
            &Rewrite { ssrc, seq: p.header.sequence_number, timestamp: p.header.timestamp, payload_type: p.header.payload_type, mid: self.mid.as_deref(), transport_cc_seq: twcc },
        )?;
        self.packets_sent += 1;
        self.bytes_sent += bytes.len() as u64;
        self.rate.update(bytes.len(), now);
        self.last_ts = Some((p.header.timestamp, now));
        if !self.pipe_rtx.is_empty() {
            self.buffer.push_back((p.header.sequence_number, now, bytes.clone()));
            while self.buffer.len() > RTX_BUFFER_PACKETS
                || self.buffer.front().is_some_and(|(_, t, _)| now.saturating_duration_since(*t) > RTX_BUFFER_AGE)
            {
                self.buffer.pop_front();
            }
        }
        Some(bytes)
    }

    /// Answers a NACK for `media_ssrc`: the packets still buffered, as RTX when negotiated.
    pub fn on_nack(&mut self, media_ssrc: u32, seqs: &[u16]) -> Vec<Vec<u8>> {
        self.nack_count += 1;
        self.nack_packet_count += seqs.len() as u64;
        let mut out = Vec::new();
        // A pipe buffer holds every stream: match the SSRC too, and answer on its RTX stream.
        let pipe_rtx = self.pipe_rtx.iter().find(|(s, _)| *s == media_ssrc).map(|(_, r)| *r);
        let ssrc_of = |b: &[u8]| b.get(8..12).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]));
        for seq in seqs {
            let Some((_, _, bytes)) = self
                .buffer
                .iter()
                .find(|(s, _, b)| s == seq && (self.pipe_map.is_empty() || ssrc_of(b) == Some(media_ssrc)))
            else {
                continue;
            };
            let rtx = match pipe_rtx {
                Some(rtx_ssrc) => {
                    let pt = bytes[1] & 0x7f;
                    self.rtx_pts.iter().find(|(apt, _)| *apt == pt).map(|(_, rtx_pt)| (rtx_ssrc, *rtx_pt))
                }
                None if !self.pipe_map.is_empty() => continue,
                None => self.rtx,
            };
            let packet = match rtx {
                Some((rtx_ssrc, rtx_pt)) => {
                    self.rtx_seq = self.rtx_seq.wrapping_add(1);
                    match rtp::to_rtx(bytes, rtx_ssrc, rtx_pt, self.rtx_seq) {
                        Some(p) => p,
                        None => continue,
                    }
                }
                None => bytes.clone(),
            };
            self.retransmitted += 1;
            out.push(packet);
        }
        out
    }

    pub fn on_receiver_report(&mut self, fraction_lost: u8, total_lost: u32) {
        self.fraction_lost = fraction_lost;
        self.packets_lost = total_lost;
        let loss_pct = f64::from(fraction_lost) * 100.0 / 256.0;
        self.score = (10.0 - loss_pct / 2.0).round().clamp(0.0, 10.0) as u8;
    }

    /// The RTP timestamp "now" for a sender report.
    pub fn sr_rtp_time(&self, now: Instant) -> Option<u32> {
        let (ts, at) = self.last_ts?;
        let elapsed = now.saturating_duration_since(at).as_secs_f64() * f64::from(self.clock_rate);
        Some(ts.wrapping_add(elapsed as u32))
    }

    pub fn stats_json(&mut self, now: Instant, timestamp: u64) -> Value {
        let mut s = json!({
            "type": "outbound-rtp",
            "timestamp": timestamp,
            "ssrc": self.ssrc,
            "kind": self.kind,
            "mimeType": self.rtp_parameters["codecs"][0]["mimeType"],
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
        if let Some(r) = self.rtx_ssrc() {
            s["rtxSsrc"] = json!(r);
        }
        s
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rtc_rtp::header::Header;

    fn consumer(kind: &str, rtx: bool) -> Consumer {
        let mut codecs = vec![json!({ "mimeType": if kind == "video" { "video/VP8" } else { "audio/opus" }, "payloadType": 101, "clockRate": 90000 })];
        let mut enc = json!({ "ssrc": 5000 });
        if rtx {
            codecs.push(json!({ "mimeType": "video/rtx", "payloadType": 102, "clockRate": 90000, "parameters": { "apt": 101 } }));
            enc["rtx"] = json!({ "ssrc": 5001 });
        }
        Consumer::new(NewConsumer {
            id: "c".into(),
            producer_id: "p".into(),
            transport_id: "t".into(),
            kind: kind.into(),
            ctype: "simple".into(),
            rtp_parameters: json!({ "mid": "1", "codecs": codecs, "encodings": [enc], "headerExtensions": [{ "uri": rtp::URI_MID, "id": 1 }, { "uri": rtp::URI_TRANSPORT_CC, "id": 5 }] }),
            paused: false,
            producer_paused: false,
            preferred_layers: None,
            ignore_dtx: false,
            cname: "x".into(),
        })
    }

    fn pkt(seq: u16, ts: u32, key: bool) -> Packet {
        Packet {
            header: Header { version: 2, payload_type: 101, sequence_number: seq, timestamp: ts, ssrc: 777, ..Default::default() },
            payload: Bytes::from(if key { vec![0x10, 0x00, 0x9d] } else { vec![0x10, 0x01, 0x9d] }),
        }
    }

    fn fwd(c: &mut Consumer, p: &Packet, twcc: &mut u16) -> Option<Packet> {
        let key = rtp::is_key_frame(VideoCodec::Vp8, &p.payload);
        c.forward(Instant::now(), p, key, &ExtIds::default(), twcc).map(|b| rtp::parse(&b).unwrap())
    }

    #[test]
    fn video_starts_on_a_key_frame_with_continuous_sequence_across_pause() {
        let mut c = consumer("video", true);
        let mut twcc = 0u16;
        assert!(fwd(&mut c, &pkt(10, 0, false), &mut twcc).is_none());
        assert!(c.needs_key_frame());
        let first = fwd(&mut c, &pkt(11, 3000, true), &mut twcc).unwrap();
        assert_eq!(first.header.ssrc, 5000);
        assert_eq!(rtp::ext_string(&first, Some(1)).as_deref(), Some("1"));
        assert_eq!(rtp::ext_value(&first, Some(5)).unwrap().as_ref(), &[0, 0]);
        let second = fwd(&mut c, &pkt(12, 3000, false), &mut twcc).unwrap();
        assert_eq!(second.header.sequence_number, first.header.sequence_number.wrapping_add(1));
        assert_eq!(twcc, 2);
        // Older than the sync point: dropped.
        assert!(fwd(&mut c, &pkt(9, 0, false), &mut twcc).is_none());
        // Pause, producer moves on, resume: waits for a key frame, then continues at +1.
        c.paused = true;
        assert!(fwd(&mut c, &pkt(13, 6000, false), &mut twcc).is_none());
        c.paused = false;
        c.require_sync();
        assert!(fwd(&mut c, &pkt(50, 90000, false), &mut twcc).is_none());
        let third = fwd(&mut c, &pkt(51, 93000, true), &mut twcc).unwrap();
        assert_eq!(third.header.sequence_number, second.header.sequence_number.wrapping_add(1));
        assert_eq!(third.header.timestamp, 93000);
    }

    #[test]
    fn nacks_are_answered_with_rtx_from_the_buffer() {
        let mut c = consumer("video", true);
        let mut twcc = 0u16;
        let a = fwd(&mut c, &pkt(1, 0, true), &mut twcc).unwrap();
        let b = fwd(&mut c, &pkt(2, 0, false), &mut twcc).unwrap();
        let out = c.on_nack(5000, &[b.header.sequence_number, a.header.sequence_number, 9999]);
        assert_eq!(out.len(), 2);
        let r = rtp::parse(&out[0]).unwrap();
        assert_eq!((r.header.ssrc, r.header.payload_type), (5001, 102));
        let orig = rtp::from_rtx(r, 5000, 101).unwrap();
        assert_eq!(orig.header.sequence_number, b.header.sequence_number);
        assert_eq!(orig.payload, b.payload);
        // Without RTX the original packet is resent.
        let mut c = consumer("video", false);
        let a = fwd(&mut c, &pkt(1, 0, true), &mut twcc).unwrap();
        let out = c.on_nack(5000, &[a.header.sequence_number]);
        assert_eq!(rtp::parse(&out[0]).unwrap().header.ssrc, 5000);
    }

    #[test]
    fn audio_starts_at_once_and_foreign_payload_types_are_dropped() {
        let mut c = consumer("audio", false);
        let mut twcc = 0u16;
        assert!(fwd(&mut c, &pkt(1, 0, false), &mut twcc).is_some());
        let mut other = pkt(2, 0, false);
        other.header.payload_type = 55;
        assert!(fwd(&mut c, &other, &mut twcc).is_none());
    }

    #[test]
    fn pipe_consumers_answer_nacks_per_stream_on_its_rtx_stream() {
        let codecs = json!([
            { "mimeType": "video/VP8", "payloadType": 101, "clockRate": 90000 },
            { "mimeType": "video/rtx", "payloadType": 102, "clockRate": 90000, "parameters": { "apt": 101 } },
        ]);
        let mut c = Consumer::new(NewConsumer {
            id: "pc".into(),
            producer_id: "p".into(),
            transport_id: "pipe".into(),
            kind: "video".into(),
            ctype: "pipe".into(),
            rtp_parameters: json!({ "codecs": codecs, "encodings": [{ "ssrc": 100, "rtx": { "ssrc": 200 } }, { "ssrc": 101, "rtx": { "ssrc": 201 } }], "headerExtensions": [] }),
            paused: false,
            producer_paused: false,
            preferred_layers: None,
            ignore_dtx: false,
            cname: "x".into(),
        });
        c.set_pipe(vec![(777, 100), (778, 101)], vec![(100, 200), (101, 201)]);
        let mut twcc = 0u16;
        let mut low = pkt(40, 0, false);
        let mut high = pkt(40, 0, false);
        high.header.ssrc = 778;
        high.payload = Bytes::from(vec![0x10, 0x01, 0x42]);
        // Pipes forward as is: no key frame wait, sequence numbers kept, SSRC mapped per stream.
        let a = fwd(&mut c, &low, &mut twcc).unwrap();
        let b = fwd(&mut c, &high, &mut twcc).unwrap();
        assert_eq!((a.header.ssrc, a.header.sequence_number), (100, 40));
        assert_eq!((b.header.ssrc, b.header.sequence_number), (101, 40));
        low.header.sequence_number = 41;
        fwd(&mut c, &low, &mut twcc).unwrap();
        // Same sequence number on two streams: the NACK's SSRC picks the packet.
        let out = c.on_nack(101, &[40]);
        assert_eq!(out.len(), 1);
        let r = rtp::parse(&out[0]).unwrap();
        assert_eq!((r.header.ssrc, r.header.payload_type), (201, 102));
        let orig = rtp::from_rtx(r, 101, 101).unwrap();
        assert_eq!(orig.payload.as_ref(), &[0x10, 0x01, 0x42]);
        assert_eq!(c.on_nack(100, &[40, 41, 42]).len(), 2);
        // Without RTX, pipe consumers keep no buffer and do not answer.
        let mut plain = consumer("video", false);
        plain.set_pipe(vec![(777, 5000)], Vec::new());
        fwd(&mut plain, &low, &mut twcc).unwrap();
        assert!(plain.on_nack(5000, &[41]).is_empty());
    }
}
