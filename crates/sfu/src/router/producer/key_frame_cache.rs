//! The latest key frame of a stream and every packet after it (router space), while within
//! bounds: what a new consumer replays instead of waiting for the sender's next key frame.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rtc_rtp::packet::Packet;

use crate::rtp::SharedPacket;
use serde_json::Value;

use crate::rtp::SeqUnwrapper;

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

#[derive(Default)]
pub struct KeyFrameCache {
    /// Extended sequence number → (arrival, packet).
    packets: BTreeMap<i64, (Instant, SharedPacket)>,
    key_timestamp: Option<u32>,
    started: Option<Instant>,
    bytes: usize,
    seq: SeqUnwrapper,
}

/// What a cached packet costs: its whole size as kept (header, extensions, payload).
fn cost(p: &Packet) -> usize {
    use rtc_shared::marshal::MarshalSize;
    p.marshal_size()
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
    pub fn push(&mut self, cfg: &KeyFrameCacheConfig, now: Instant, p: &SharedPacket, is_key: bool) {
        let ext = self.seq.unwrap(p.header.sequence_number);
        let size = cost(p);
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
        if self.packets.insert(ext, (now, SharedPacket::clone(p))).is_none() {
            self.bytes += size;
        }
    }

    /// The cached packets in order, if a key frame is held and still within bounds.
    pub fn snapshot(&self, cfg: &KeyFrameCacheConfig, now: Instant) -> Option<Vec<(Instant, SharedPacket)>> {
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

    /// When the held key frame arrived (if one is held).
    pub fn started(&self) -> Option<Instant> {
        self.started.filter(|_| !self.packets.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rtc_rtp::header::{Extension, Header};

    fn pkt(seq: u16, ts: u32, payload: usize, ext_bytes: usize) -> SharedPacket {
        let extensions = if ext_bytes > 0 { vec![Extension { id: 1, payload: Bytes::from(vec![7u8; ext_bytes]) }] } else { vec![] };
        SharedPacket::new(Packet {
            header: Header { version: 2, sequence_number: seq, timestamp: ts, extension: ext_bytes > 0, extension_profile: 0xBEDE, extensions, ..Default::default() },
            payload: Bytes::from(vec![0u8; payload]),
        })
    }

    #[test]
    fn holds_from_the_latest_key_frame_within_bounds() {
        let cfg = KeyFrameCacheConfig { max_duration: Duration::from_secs(1), max_bytes: 10_000 };
        let t0 = Instant::now();
        let mut c = KeyFrameCache::default();
        c.push(&cfg, t0, &pkt(1, 0, 100, 0), false);
        assert!(c.snapshot(&cfg, t0).is_none(), "nothing before a key frame");
        c.push(&cfg, t0, &pkt(2, 3000, 100, 0), true);
        c.push(&cfg, t0, &pkt(3, 6000, 100, 0), false);
        assert_eq!(c.snapshot(&cfg, t0).unwrap().len(), 2);
        // A later key frame restarts it.
        c.push(&cfg, t0, &pkt(4, 9000, 100, 0), true);
        assert_eq!(c.snapshot(&cfg, t0).unwrap().len(), 1);
        // Too old: not served.
        assert!(c.snapshot(&cfg, t0 + Duration::from_millis(1100)).is_none());
    }

    #[test]
    fn charges_what_it_keeps_including_header_extensions() {
        let cfg = KeyFrameCacheConfig { max_duration: Duration::from_secs(10), max_bytes: 5_000 };
        let t0 = Instant::now();
        let mut c = KeyFrameCache::default();
        // Small payloads with large header extensions: each packet costs far more than its
        // payload, and the bound holds by what is really kept.
        let p = pkt(1, 0, 4, 200);
        let one = cost(&p);
        assert!(one > 200, "{one}");
        c.push(&cfg, t0, &p, true);
        let mut seq = 2;
        while c.bytes() > 0 {
            c.push(&cfg, t0, &pkt(seq, 0, 4, 200), false);
            seq += 1;
            assert!(c.bytes() <= cfg.max_bytes);
        }
        assert!(seq <= (cfg.max_bytes / one) as u16 + 3, "dropped once the real size passed the bound ({seq})");
    }
}
