//! What a consumer sent recently, by output sequence number, for answering NACKs: O(1) insert
//! and lookup in a ring indexed by the number, sized to hold 2-4 s of the stream (its memory
//! follows the stream's packet rate), and each packet resent at most once per round trip however
//! often it is asked for. What is kept per packet is the caller's (a consumer keeps a reference
//! to the producer's packet and what it wrote into it, not a copy: all consumers of a producer
//! share one copy of each packet).

use std::time::{Duration, Instant};

/// Most numbers held: more than a couple of seconds of a high-rate video stream.
const SLOTS: usize = 2048;
/// Room a buffer starts with (~2 s of a 300 kbit/s stream); it doubles as the stream needs.
const MIN_SLOTS: usize = 64;
/// Packets older than this are not resent (the receiver gave up on them).
pub const MAX_AGE: Duration = Duration::from_secs(2);
const MAX_AGE_MS: u32 = MAX_AGE.as_millis() as u32;

/// Times are milliseconds (the caller's clock) cut to 32 bits: only differences of a few
/// seconds are taken, wrapping.
struct Entry<T> {
    seq: u16,
    resent: bool,
    sent_ms: u32,
    resent_ms: u32,
    item: T,
}

/// A ring indexed by the number itself (`seq` modulo its length): keeping a packet writes one
/// slot and drops what that slot held, with no eviction pass from the other end and no time
/// arithmetic beyond a subtraction (the slot's cache miss, per consumer per packet, remains the
/// cost). The ring doubles (up to `SLOTS`) while it would
/// overwrite a packet younger than `MAX_AGE`, so it holds 2-4 s of the stream, and what is
/// older than `MAX_AGE` is never resent.
pub struct RtxBuffer<T> {
    slots: Vec<Option<Entry<T>>>,
    newest: Option<u16>,
}

impl<T> Default for RtxBuffer<T> {
    fn default() -> Self {
        RtxBuffer { slots: Vec::new(), newest: None }
    }
}

impl<T> RtxBuffer<T> {
    fn slot(&self, seq: u16) -> usize {
        usize::from(seq) & (self.slots.len() - 1)
    }

    /// Keeps what was sent as number `seq` at `now_ms` (numbers go forward; a jump back or
    /// beyond the ring starts over).
    pub fn insert(&mut self, seq: u16, now_ms: u64, item: T) {
        let now = now_ms as u32;
        if let Some(newest) = self.newest {
            let ahead = seq.wrapping_sub(newest);
            if ahead == 0 || usize::from(ahead) >= SLOTS {
                self.clear();
            }
        }
        if self.slots.is_empty() {
            self.slots.resize_with(MIN_SLOTS, || None);
        }
        let mut i = self.slot(seq);
        while self.slots.len() < SLOTS && self.slots[i].as_ref().is_some_and(|e| e.seq != seq && now.wrapping_sub(e.sent_ms) < MAX_AGE_MS) {
            self.grow();
            i = self.slot(seq);
        }
        self.slots[i] = Some(Entry { seq, resent: false, sent_ms: now, resent_ms: 0, item });
        self.newest = Some(seq);
    }

    /// Twice the room; what is held keeps its number (distinct slots stay distinct).
    fn grow(&mut self) {
        let mut bigger: Vec<Option<Entry<T>>> = Vec::new();
        bigger.resize_with(self.slots.len() * 2, || None);
        let mask = bigger.len() - 1;
        for e in self.slots.drain(..).flatten() {
            let i = usize::from(e.seq) & mask;
            bigger[i] = Some(e);
        }
        self.slots = bigger;
    }

    /// Packets held (some may be older than `MAX_AGE`, waiting for their slot to be reused).
    pub fn held(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// What was sent as `seq` if it may be resent now: still held, not too old, and not resent
    /// within `min_interval` (one round trip). Marks it resent.
    pub fn take_for_resend(&mut self, seq: u16, now_ms: u64, min_interval: Duration) -> Option<&T> {
        if self.slots.is_empty() {
            return None;
        }
        let now = now_ms as u32;
        let i = self.slot(seq);
        let e = self.slots[i].as_mut()?;
        if e.seq != seq || now.wrapping_sub(e.sent_ms) > MAX_AGE_MS {
            return None;
        }
        if e.resent && now.wrapping_sub(e.resent_ms) < min_interval.as_millis() as u32 {
            return None;
        }
        e.resent = true;
        e.resent_ms = now;
        Some(&e.item)
    }

    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.newest = None;
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
        let rtt = Duration::from_millis(50);
        let t0 = 5_000u64;
        let mut b = RtxBuffer::<Vec<u8>>::default();
        for seq in 65_530u16..=65_535 {
            b.insert(seq, t0, vec![seq as u8]);
        }
        b.insert(0, t0, vec![0]);
        assert_eq!(b.take_for_resend(65_535, t0, rtt), Some(&vec![255u8]));
        assert_eq!(b.take_for_resend(65_535, t0 + 10, rtt), None, "not again within the RTT");
        assert!(b.take_for_resend(65_535, t0 + 60, rtt).is_some());
        assert!(b.take_for_resend(0, t0, rtt).is_some(), "across the wrap");
        assert_eq!(b.take_for_resend(7, t0, rtt), None, "never sent");
        assert_eq!(b.take_for_resend(65_529, t0, rtt), None, "never sent (its slot is empty)");
        // A slot reused by a later number does not answer for the old one.
        b.insert(65_530u16.wrapping_add(SLOTS as u16), t0, vec![9]);
        assert_eq!(b.take_for_resend(65_530, t0, rtt), None);
        assert_eq!(b.take_for_resend(65_530u16.wrapping_add(SLOTS as u16), t0, rtt), Some(&vec![9u8]));
        assert_eq!(b.take_for_resend(65_531, t0 + MAX_AGE.as_millis() as u64 + 1, rtt), None, "too old");
    }

    #[test]
    fn holds_between_max_age_and_twice_that_of_the_stream() {
        for (per_second, capacity) in [(50u64, 128usize), (150, 512), (400, 1024)] {
            // `per_second` packets a second for 20 s.
            let gap_us = 1_000_000 / per_second;
            let mut b = RtxBuffer::<u16>::default();
            let mut seq = 60_000u16;
            let mut now_ms = 0;
            for i in 0..20 * per_second {
                now_ms = 1_000 + i * gap_us / 1000;
                b.insert(seq, now_ms, seq);
                seq = seq.wrapping_add(1);
            }
            assert_eq!(b.capacity(), capacity, "at {per_second} packets/s");
            let two_seconds = (2 * per_second) as u16;
            // The last 2 s answer; what is older does not, held or not.
            assert!(b.take_for_resend(seq.wrapping_sub(1), now_ms, Duration::ZERO).is_some());
            assert!(b.take_for_resend(seq.wrapping_sub(two_seconds - 2), now_ms, Duration::ZERO).is_some());
            assert!(b.take_for_resend(seq.wrapping_sub(two_seconds + 5), now_ms, Duration::ZERO).is_none());
            assert!(b.held() <= capacity);
        }
        // Faster than the largest ring holds: the ring stops growing, the newest answer.
        let mut b = RtxBuffer::<u16>::default();
        for i in 0..10_000u16 {
            b.insert(i, 1_000 + u64::from(i) / 4, i);
        }
        assert_eq!(b.capacity(), SLOTS);
        assert!(b.take_for_resend(9_999, 3_500, Duration::ZERO).is_some());
        assert!(b.take_for_resend(9_999 - SLOTS as u16, 3_500, Duration::ZERO).is_none());
        // A jump far ahead, or back, starts over.
        b.insert(30_000, 3_500, 1);
        assert_eq!(b.held(), 1);
        assert!(b.take_for_resend(9_998, 3_500, Duration::ZERO).is_none());
        b.insert(29_000, 3_500, 2);
        assert_eq!(b.held(), 1);
        assert_eq!(b.take_for_resend(29_000, 3_500, Duration::ZERO), Some(&2));
    }
}
