//! What a consumer sent recently, by output sequence number, for answering NACKs: O(1) lookup
//! in a queue indexed by the sequence number, packets older than `MAX_AGE` freed (so a consumer
//! holds ~2 s of its stream and its memory follows the stream's packet rate), and each packet
//! resent at most once per round trip however often it is asked for. What is kept per packet is
//! the caller's (a consumer keeps a reference to the producer's packet and what it wrote into
//! it, not a copy: all consumers of a producer share one copy of each packet).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Most numbers held: more than a couple of seconds of a high-rate video stream.
const SLOTS: usize = 2048;
/// Packets older than this are not resent (the receiver gave up on them).
pub const MAX_AGE: Duration = Duration::from_secs(2);
/// Times are kept as milliseconds since the buffer's epoch in a `u32`; past this the buffer
/// starts over with a new epoch (once every ~24 days).
const EPOCH_SPAN_MS: u32 = u32::MAX / 2;
const NEVER: u32 = u32::MAX;

struct Entry<T> {
    seq: u16,
    sent_ms: u32,
    resent_ms: u32,
    len: u32,
    item: T,
}

pub struct RtxBuffer<T> {
    /// Entry `i` holds number `oldest + i` (or nothing: never sent, or freed).
    entries: VecDeque<Option<Entry<T>>>,
    oldest: u16,
    epoch: Option<Instant>,
    bytes: usize,
}

impl<T> Default for RtxBuffer<T> {
    fn default() -> Self {
        RtxBuffer { entries: VecDeque::new(), oldest: 0, epoch: None, bytes: 0 }
    }
}

impl<T> RtxBuffer<T> {
    fn ms(&mut self, now: Instant) -> u32 {
        let epoch = *self.epoch.get_or_insert(now);
        let d = now.saturating_duration_since(epoch);
        let ms = d.as_secs().saturating_mul(1000) + u64::from(d.subsec_millis());
        if ms >= u64::from(EPOCH_SPAN_MS) {
            self.clear();
            self.epoch = Some(now);
            return 0;
        }
        ms as u32
    }

    /// Keeps what was sent as number `seq` (`len` bytes; numbers go forward, a jump back or
    /// beyond the ring starts over), freeing what has grown too old.
    pub fn insert(&mut self, seq: u16, now: Instant, item: T, len: usize) {
        let sent_ms = self.ms(now);
        if !self.entries.is_empty() {
            let newest = self.oldest.wrapping_add(self.entries.len() as u16 - 1);
            let ahead = seq.wrapping_sub(newest);
            if ahead == 0 || usize::from(ahead) >= SLOTS {
                self.clear();
            } else {
                for _ in 1..ahead {
                    self.entries.push_back(None);
                }
            }
        }
        if self.entries.is_empty() {
            self.oldest = seq;
        }
        self.bytes += len;
        self.entries.push_back(Some(Entry { seq, sent_ms, resent_ms: NEVER, len: len as u32, item }));
        self.evict(sent_ms);
    }

    /// Frees numbers from the oldest end: beyond the ring's size, never sent, or older than
    /// `MAX_AGE` (the newest stays).
    fn evict(&mut self, now_ms: u32) {
        let max_age = MAX_AGE.as_millis() as u32;
        while self.entries.len() > 1 {
            let stale = match self.entries.front() {
                Some(Some(e)) => self.entries.len() > SLOTS || now_ms.saturating_sub(e.sent_ms) > max_age,
                _ => true,
            };
            if !stale {
                break;
            }
            if let Some(Some(e)) = self.entries.pop_front() {
                self.bytes -= e.len as usize;
            }
            self.oldest = self.oldest.wrapping_add(1);
        }
    }

    /// Bytes of packets held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// What was sent as `seq` if it may be resent now: still held, not too old, and not resent
    /// within `min_interval` (one round trip). Marks it resent.
    pub fn take_for_resend(&mut self, seq: u16, now: Instant, min_interval: Duration) -> Option<&T> {
        let now_ms = self.ms(now);
        let i = usize::from(seq.wrapping_sub(self.oldest));
        let e = self.entries.get_mut(i)?.as_mut()?;
        if e.seq != seq || now_ms.saturating_sub(e.sent_ms) > MAX_AGE.as_millis() as u32 {
            return None;
        }
        if e.resent_ms != NEVER && now_ms.saturating_sub(e.resent_ms) < min_interval.as_millis() as u32 {
            return None;
        }
        e.resent_ms = now_ms;
        Some(&e.item)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

/// How many bytes retransmissions may cost: refilled at half the stream's own send rate (at
/// least `MIN_RATE`), holding at most a second of that. Whatever a receiver asks for,
/// retransmissions never cost more than half the stream (a receiver whose link is capped cannot
/// make us send it many times what it can take; honest repair of loss up to ~50% still fits).
pub struct RetransmitBudget {
    tokens: f64,
    last: Option<Instant>,
    /// Retransmissions refused for lack of budget.
    pub refused: u64,
}

/// Bytes per second retransmissions may always use (a stream just starting has no rate yet).
pub const MIN_RATE: f64 = 32_000.0;

impl Default for RetransmitBudget {
    fn default() -> Self {
        RetransmitBudget { tokens: MIN_RATE, last: None, refused: 0 }
    }
}

impl RetransmitBudget {
    /// Takes `len` bytes if the budget allows, refilling at `stream_bps` (bits per second).
    pub fn take(&mut self, now: Instant, stream_bps: u64, len: usize) -> bool {
        let rate = (stream_bps as f64 / 16.0).max(MIN_RATE);
        let elapsed = self.last.map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.last = Some(now);
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        if self.tokens < len as f64 {
            self.refused += 1;
            return false;
        }
        self.tokens -= len as f64;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmissions_cost_at_most_the_stream_rate() {
        let t0 = Instant::now();
        let mut b = RetransmitBudget::default();
        // A 1 Mbit/s stream (125 kB/s): asked for 1,200-byte packets every millisecond for ten
        // seconds (1.2 MB/s), about 62.5 kB/s (plus the first second's allowance) goes out.
        let mut sent = 0usize;
        for ms in 0..10_000u64 {
            if b.take(t0 + Duration::from_millis(ms), 1_000_000, 1200) {
                sent += 1200;
            }
        }
        assert!(sent <= 62_500 * 11, "{sent}");
        assert!(sent >= 62_500 * 9, "{sent}");
        assert!(b.refused > 0);
    }

    #[test]
    fn resends_once_per_round_trip_and_forgets_old_packets() {
        let t0 = Instant::now();
        let rtt = Duration::from_millis(50);
        let mut b = RtxBuffer::<Vec<u8>>::default();
        for seq in 65_530u16..=65_535 {
            b.insert(seq, t0, vec![seq as u8], 1);
        }
        b.insert(0, t0, vec![0], 1);
        assert_eq!(b.take_for_resend(65_535, t0, rtt), Some(&vec![255u8]));
        assert_eq!(b.take_for_resend(65_535, t0 + Duration::from_millis(10), rtt), None, "not again within the RTT");
        assert!(b.take_for_resend(65_535, t0 + Duration::from_millis(60), rtt).is_some());
        assert!(b.take_for_resend(0, t0, rtt).is_some(), "across the wrap");
        assert_eq!(b.take_for_resend(7, t0, rtt), None, "never sent");
        // A slot reused by a later number does not answer for the old one.
        b.insert(65_530u16.wrapping_add(SLOTS as u16), t0, vec![9], 1);
        assert_eq!(b.take_for_resend(65_530, t0, rtt), None);
        assert_eq!(b.take_for_resend(65_531, t0 + MAX_AGE + Duration::from_millis(1), rtt), None, "too old");
    }

    #[test]
    fn holds_about_max_age_of_the_stream_not_a_full_ring() {
        // 150 packets/s of 1,200 bytes for 20 s: about 2 s (300 packets) stay held.
        let t0 = Instant::now();
        let mut b = RtxBuffer::<Vec<u8>>::default();
        let mut seq = 60_000u16;
        for i in 0..3000u32 {
            b.insert(seq, t0 + Duration::from_micros(u64::from(i) * 6667), vec![0; 1200], 1200);
            seq = seq.wrapping_add(1);
        }
        let held = b.bytes() / 1200;
        assert!((295..=305).contains(&held), "{held} packets held");
        // What is held still answers; what was freed does not.
        let now = t0 + Duration::from_micros(2999 * 6667);
        assert!(b.take_for_resend(seq.wrapping_sub(1), now, Duration::ZERO).is_some());
        assert!(b.take_for_resend(seq.wrapping_sub(400), now, Duration::ZERO).is_none());
        // A jump far ahead starts over.
        b.insert(seq.wrapping_add(10_000), now, vec![0; 100], 100);
        assert_eq!(b.bytes(), 100);
        assert!(b.take_for_resend(seq.wrapping_sub(1), now, Duration::ZERO).is_none());
    }
}
