//! One encoding of a producer being received: sequence numbers extended across wraps (and
//! restarts of the sender's numbering, RFC 3550 A.1), reception statistics (loss, jitter,
//! score), what to NACK, the key frame cache, and the live RTP timeline for sender reports.

use std::time::{Duration, Instant};

use rtc_rtcp::reception_report::ReceptionReport;
use serde_json::{json, Value};

use super::key_frame_cache::{KeyFrameCache, KeyFrameCacheConfig};
use super::nack_generator::NackGenerator;
use crate::rtp::rate::RateCalculator;

/// A jump forward of more than this, or back of more than `MAX_MISORDER`, is not loss or
/// reordering; two such packets in sequence mean the sender restarted its numbering.
const MAX_DROPOUT: i64 = 3000;
const MAX_MISORDER: i64 = 1500;

/// What became of a received media packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// New, or a missing one that arrived late: forward it.
    Accepted {
        /// The gap before it was too long for NACKs to repair: a key frame is needed.
        unrepairable_gap: bool,
    },
    /// A duplicate, too old, or an unconfirmed jump: drop it.
    Discarded,
}

pub struct RecvStream {
    encoding_idx: usize,
    ssrc: Option<u32>,
    rtx_ssrc: Option<u32>,
    rid: Option<String>,
    mapped_ssrc: u32,
    clock_rate: u32,
    mime: String,
    packets: u64,
    bytes: u64,
    rate: RateCalculator,
    retransmitted: u64,
    repaired: u64,
    discarded: u64,
    /// Highest extended sequence number seen, and the first.
    max_ext_seq: Option<i64>,
    base_ext_seq: i64,
    /// After a jump: the number that, arriving next, confirms a restart of the numbering.
    bad_seq: Option<u16>,
    received_in_window: u64,
    expected_prior: i64,
    received_prior: u64,
    jitter: f64,
    last_transit: Option<f64>,
    epoch: Option<Instant>,
    nack: NackGenerator,
    pub nack_count: u64,
    pub nack_packet_count: u64,
    pub pli_count: u64,
    pub fir_count: u64,
    fraction_lost: u8,
    packets_lost: i64,
    /// Middle 32 bits of the last SR's NTP time and when it arrived.
    last_sr: Option<(u32, Instant)>,
    last_packet_at: Option<Instant>,
    score: u8,
    cache: KeyFrameCache,
    /// Latest (RTP timestamp, arrival) of new media, for the live timeline of sender reports.
    last_rtp: Option<(u32, Instant)>,
}

impl RecvStream {
    pub fn new(encoding_idx: usize, ssrc: Option<u32>, rtx_ssrc: Option<u32>, rid: Option<String>, mapped_ssrc: u32, clock_rate: u32, mime: String) -> Self {
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
            base_ext_seq: 0,
            bad_seq: None,
            received_in_window: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter: 0.0,
            last_transit: None,
            epoch: None,
            nack: NackGenerator::default(),
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

    pub fn encoding_idx(&self) -> usize {
        self.encoding_idx
    }
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }
    pub fn rtx_ssrc(&self) -> Option<u32> {
        self.rtx_ssrc
    }
    pub fn rid(&self) -> Option<&str> {
        self.rid.as_deref()
    }
    /// The stream's SSRC in the router's space (what consumers see as their source).
    pub fn mapped_ssrc(&self) -> u32 {
        self.mapped_ssrc
    }
    pub fn score(&self) -> u8 {
        self.score
    }
    pub fn packets(&self) -> u64 {
        self.packets
    }
    pub fn bitrate(&mut self, now: Instant) -> u64 {
        self.rate.rate(now)
    }

    /// Learns the SSRC of a stream signalled by RID (or none).
    pub fn learn_ssrc(&mut self, ssrc: u32) {
        self.ssrc = Some(ssrc);
    }
    pub fn learn_rtx_ssrc(&mut self, ssrc: u32) {
        self.rtx_ssrc = Some(ssrc);
    }

    /// Whether media arrived within `window`.
    pub fn is_active(&self, now: Instant, window: Duration) -> bool {
        self.last_packet_at.is_some_and(|t| now.saturating_duration_since(t) < window)
    }

    /// The stream's RTP time now, extrapolated from the latest packet.
    pub fn rtp_time_at(&self, now: Instant) -> Option<u32> {
        let (ts, at) = self.last_rtp?;
        let elapsed = now.saturating_duration_since(at).as_secs_f64() * f64::from(self.clock_rate);
        Some(ts.wrapping_add(elapsed as u32))
    }

    pub fn cache(&self) -> &KeyFrameCache {
        &self.cache
    }

    pub fn cache_push(&mut self, cfg: &KeyFrameCacheConfig, now: Instant, p: &crate::rtp::SharedPacket, is_key: bool) {
        self.cache.push(cfg, now, p, is_key);
    }

    pub fn on_sender_report(&mut self, ntp: u64, now: Instant) {
        self.last_sr = Some((crate::rtp::rtcp::ntp_middle(ntp), now));
    }

    fn extend(&self, seq: u16) -> i64 {
        match self.max_ext_seq {
            None => i64::from(seq),
            Some(max) => max + i64::from(seq.wrapping_sub(max as u16) as i16),
        }
    }

    /// Records a media packet (after RTX unwrapping when `retransmission`).
    pub fn receive(&mut self, now: Instant, seq: u16, timestamp: u32, len: usize, retransmission: bool) -> Arrival {
        let mut ext = self.extend(seq);
        let mut unrepairable_gap = false;
        if let Some(max) = self.max_ext_seq {
            let jump = ext - max;
            if (jump > MAX_DROPOUT || jump < -MAX_MISORDER) && !self.nack.contains(ext) {
                // Retransmissions (and a sender's probing with old packets over RTX) never
                // restart the numbering.
                if retransmission || self.bad_seq != Some(seq) {
                    if !retransmission {
                        self.bad_seq = Some(seq.wrapping_add(1));
                    }
                    self.discarded += 1;
                    return Arrival::Discarded;
                }
                // Two in sequence: a new numbering. It continues the extended space in the next
                // cycle, as if nothing had been lost in between.
                let next_cycle = (max & !0xffff) + 0x1_0000 + i64::from(seq);
                self.base_ext_seq += next_cycle - max - 1;
                self.max_ext_seq = Some(next_cycle - 1);
                self.nack.clear();
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
                unrepairable_gap = self.nack.on_advance(max, ext);
                self.max_ext_seq = Some(ext);
            }
            Some(_) => {
                // Late or repaired packet: only useful if we were missing it.
                if !self.nack.on_late(ext) {
                    self.discarded += 1;
                    return Arrival::Discarded;
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
        Arrival::Accepted { unrepairable_gap }
    }

    /// Sequence numbers to NACK now.
    pub fn nacks_due(&mut self, now: Instant) -> Vec<u16> {
        let due = self.nack.due(now);
        if !due.is_empty() {
            self.nack_count += 1;
            self.nack_packet_count += due.len() as u64;
        }
        due
    }

    /// Reception report for the last interval; also updates loss.
    pub fn report(&mut self, now: Instant) -> Option<ReceptionReport> {
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
    pub fn update_score(&mut self, now: Instant) -> u8 {
        self.score = if !self.is_active(now, Duration::from_secs(2)) {
            0
        } else {
            let loss_pct = f64::from(self.fraction_lost) * 100.0 / 256.0;
            (10.0 - loss_pct / 2.0).round().clamp(0.0, 10.0) as u8
        };
        self.score
    }

    pub fn score_json(&self) -> Value {
        let mut v = json!({ "encodingIdx": self.encoding_idx, "ssrc": self.ssrc.unwrap_or(0), "score": self.score });
        if let Some(rid) = &self.rid {
            v["rid"] = json!(rid);
        }
        v
    }

    pub fn dump_json(&self) -> Value {
        json!({
            "params": { "encodingIdx": self.encoding_idx, "ssrc": self.ssrc, "rid": self.rid, "rtxSsrc": self.rtx_ssrc, "mimeType": self.mime, "clockRate": self.clock_rate },
            "score": self.score,
        })
    }

    pub fn stats_json(&mut self, now: Instant, kind: &str, timestamp: u64) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> RecvStream {
        RecvStream::new(0, Some(1), None, None, 2, 90000, "video/VP8".into())
    }

    fn ok(a: Arrival) -> bool {
        matches!(a, Arrival::Accepted { .. })
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
            assert!(ok(s.receive(now, seq, i.wrapping_mul(3000), 100, false)), "packet {i}");
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
            assert!(ok(s.receive(t0, seq, 0, 100, false)));
        }
        // A stray packet far away is dropped, and costs no NACK list.
        assert_eq!(s.receive(t0, 40_000, 0, 100, false), Arrival::Discarded);
        assert!(s.nack.is_empty());
        // The sender restarts at 50,000: the second packet in sequence confirms it.
        assert_eq!(s.receive(t0, 50_000, 0, 100, false), Arrival::Discarded);
        assert!(ok(s.receive(t0, 50_001, 0, 100, false)));
        assert!(ok(s.receive(t0, 50_002, 0, 100, false)));
        assert!(s.nack.is_empty());
        let r = s.report(t0).unwrap();
        assert_eq!(r.total_lost, 0, "the jump is not counted as loss");
        assert_eq!(r.last_sequence_number & 0xffff, 50_002);
        // Old packets resent over RTX (as a sender probes with) never restart it.
        assert_eq!(s.receive(t0, 10, 0, 100, true), Arrival::Discarded);
        assert_eq!(s.receive(t0, 11, 0, 100, true), Arrival::Discarded);
        assert!(ok(s.receive(t0, 50_003, 0, 100, false)));
        // A gap of 2,000 is loss, but only the repairable part is listed, and it says so.
        assert_eq!(s.receive(t0, 52_004, 0, 100, false), Arrival::Accepted { unrepairable_gap: true });
        assert!(s.nack.len() <= super::super::nack_generator::MAX_AGE as usize);
    }
}
