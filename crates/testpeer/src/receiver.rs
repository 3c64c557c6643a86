//! What a receiving peer checks: when a key frame is complete (every packet from its first to
//! the one with the marker bit), what arrived per stream (packets, distinct sequence numbers,
//! span), and which packets are missing, to NACK them as a browser would.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use ferrosoup_sfu::rtp::{self, SeqUnwrapper, VideoCodec};
use rtc_rtp::packet::Packet;
use serde::Serialize;

/// Key frame assembly: the frame is complete when every packet from its first one to the one
/// with the marker bit has arrived.
#[derive(Default)]
pub struct FrameAssembler {
    start: Option<i64>,
    seqs: BTreeMap<i64, bool>,
    seq: SeqUnwrapper,
}

impl FrameAssembler {
    /// Feeds one packet; true once a key frame is complete.
    pub fn push(&mut self, seq: u16, marker: bool, key_start: bool) -> bool {
        let s = self.seq.unwrap(seq);
        if key_start && self.start.is_none_or(|st| s < st || self.seqs.is_empty()) {
            self.start = Some(s);
            self.seqs.retain(|k, _| *k >= s);
        }
        self.seqs.insert(s, marker);
        let Some(start) = self.start else { return false };
        let mut expected = start;
        for (&k, &m) in self.seqs.range(start..) {
            if k != expected {
                return false;
            }
            if m {
                return true;
            }
            expected += 1;
        }
        false
    }
}

/// What a verifying receiver saw of one stream.
#[derive(Debug, Default, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct StreamCount {
    pub ssrc: u32,
    pub packets: u64,
    pub distinct: u64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub wraps: u64,
}

/// Counts a receiver's streams by SSRC and sequence number.
#[derive(Default)]
pub struct StreamCounter {
    streams: HashMap<u32, (u64, HashSet<i64>, SeqUnwrapper)>,
}

impl StreamCounter {
    pub fn push(&mut self, p: &Packet) {
        let (n, seen, unwrap) = self.streams.entry(p.header.ssrc).or_default();
        *n += 1;
        // Offset so that extended numbers stay positive.
        seen.insert(unwrap.unwrap(p.header.sequence_number) + (1 << 20));
    }

    pub fn packets(&self, ssrc: u32) -> u64 {
        self.streams.get(&ssrc).map_or(0, |s| s.0)
    }

    pub fn max_packets(&self) -> u64 {
        self.streams.values().map(|s| s.0).max().unwrap_or(0)
    }

    pub fn summary(&self) -> Vec<StreamCount> {
        let mut v: Vec<StreamCount> = self
            .streams
            .iter()
            .map(|(ssrc, (n, seen, _))| {
                let first = seen.iter().min().copied().unwrap_or(0);
                let last = seen.iter().max().copied().unwrap_or(0);
                StreamCount { ssrc: *ssrc, packets: *n, distinct: seen.len() as u64, first_seq: first, last_seq: last, wraps: ((last >> 16) - (first >> 16)) as u64 }
            })
            .collect();
        v.sort_by_key(|s| s.ssrc);
        v
    }
}

/// A video receiver as a browser has one: RTX unwrapped, gaps NACKed (each missing packet up
/// to `MAX_NACKS` times, `NACK_INTERVAL` apart), key frames assembled.
pub struct VideoReceiver {
    ssrc: u32,
    rtx: Option<(u32, u8)>,
    media_pt: u8,
    codec: VideoCodec,
    unwrap: SeqUnwrapper,
    max: Option<i64>,
    received: HashSet<i64>,
    missing: BTreeMap<i64, (u8, Option<Instant>)>,
    frames: FrameAssembler,
    pub packets: u64,
    pub repaired: u64,
    pub first_key_frame_at: Option<Instant>,
}

const NACK_INTERVAL: Duration = Duration::from_millis(30);
const MAX_NACKS: u8 = 10;

impl VideoReceiver {
    /// `rtx`: (RTX SSRC, RTX payload type) when negotiated.
    pub fn new(ssrc: u32, media_pt: u8, rtx: Option<(u32, u8)>, codec: VideoCodec) -> Self {
        VideoReceiver {
            ssrc,
            rtx,
            media_pt,
            codec,
            unwrap: SeqUnwrapper::default(),
            max: None,
            received: HashSet::new(),
            missing: BTreeMap::new(),
            frames: FrameAssembler::default(),
            packets: 0,
            repaired: 0,
            first_key_frame_at: None,
        }
    }

    /// A decrypted RTP packet; `true` if it was one of this stream's (media or RTX).
    pub fn push(&mut self, now: Instant, p: Packet) -> bool {
        let (p, repaired) = match self.rtx {
            Some((rtx_ssrc, _)) if p.header.ssrc == rtx_ssrc => match rtp::from_rtx(p, self.ssrc, self.media_pt) {
                Some(p) => (p, true),
                None => return true,
            },
            _ if p.header.ssrc == self.ssrc => (p, false),
            _ => return false,
        };
        let s = self.unwrap.unwrap(p.header.sequence_number);
        if !self.received.insert(s) {
            return true;
        }
        self.packets += 1;
        if repaired && self.missing.remove(&s).is_some() {
            self.repaired += 1;
        }
        self.missing.remove(&s);
        match self.max {
            Some(m) if s > m => {
                for lost in (m + 1).max(s - 500)..s {
                    self.missing.insert(lost, (0, None));
                }
                self.max = Some(s);
            }
            None => self.max = Some(s),
            _ => {}
        }
        let key = rtp::is_key_frame(self.codec, &p.payload);
        if self.frames.push(p.header.sequence_number, p.header.marker, key) && self.first_key_frame_at.is_none() {
            self.first_key_frame_at = Some(now);
        }
        true
    }

    /// Sequence numbers to NACK now.
    pub fn nacks_due(&mut self, now: Instant) -> Vec<u16> {
        let mut due = Vec::new();
        self.missing.retain(|seq, (tries, last)| {
            if last.is_some_and(|t| now.saturating_duration_since(t) < NACK_INTERVAL) {
                return true;
            }
            if *tries >= MAX_NACKS {
                return false;
            }
            *tries += 1;
            *last = Some(now);
            due.push(*seq as u16);
            true
        });
        due
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Packets still missing (not repaired).
    pub fn missing(&self) -> usize {
        self.missing.len()
    }

    /// The span of sequence numbers seen minus what arrived: holes left.
    pub fn holes(&self) -> u64 {
        let (Some(min), Some(max)) = (self.received.iter().min(), self.received.iter().max()) else { return 0 };
        (max - min + 1) as u64 - self.received.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_frame_is_complete_only_with_all_its_packets() {
        let mut f = FrameAssembler::default();
        assert!(!f.push(10, false, false)); // delta frame before any key frame
        assert!(!f.push(11, true, false));
        assert!(!f.push(20, false, true)); // key frame starts
        assert!(!f.push(22, true, false)); // 21 missing
        assert!(f.push(21, false, false)); // arrives late: complete
        let mut g = FrameAssembler::default();
        assert!(g.push(65535, true, true)); // single-packet key frame across the wrap
    }
}
