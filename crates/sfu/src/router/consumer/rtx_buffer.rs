//! What a consumer sent recently, by output sequence number, for answering NACKs: O(1) lookup
//! in a ring indexed by the sequence number, packets older than `MAX_AGE` freed (so a consumer
//! holds ~2 s of its stream, not a full ring), and each packet resent at most once per round
//! trip however often it is asked for.

use std::time::{Duration, Instant};

/// Ring size: a power of two, more than a couple of seconds of a high-rate video stream.
const SLOTS: usize = 2048;
/// Packets older than this are not resent (the receiver gave up on them).
pub const MAX_AGE: Duration = Duration::from_secs(2);

struct Entry {
    seq: u16,
    sent_at: Instant,
    resent_at: Option<Instant>,
    data: Vec<u8>,
}

pub struct RtxBuffer {
    slots: Vec<Option<Entry>>,
    /// The held range of sequence numbers, oldest to newest (numbers inside may be empty).
    range: Option<(u16, u16)>,
    bytes: usize,
}

impl Default for RtxBuffer {
    fn default() -> Self {
        // The ring is allocated with the first packet (a consumer that never sends holds none).
        RtxBuffer { slots: Vec::new(), range: None, bytes: 0 }
    }
}

impl RtxBuffer {
    fn slot(seq: u16) -> usize {
        usize::from(seq) & (SLOTS - 1)
    }

    /// Keeps a packet as sent with sequence number `seq` (numbers go forward; a jump back or
    /// beyond the ring starts over), freeing what has grown too old.
    pub fn insert(&mut self, seq: u16, now: Instant, data: Vec<u8>) {
        if self.slots.is_empty() {
            self.slots = (0..SLOTS).map(|_| None).collect();
        }
        self.range = match self.range {
            None => Some((seq, seq)),
            Some((oldest, newest)) => {
                let ahead = seq.wrapping_sub(newest);
                if ahead >= SLOTS as u16 {
                    self.clear();
                    Some((seq, seq))
                } else {
                    Some((oldest, seq))
                }
            }
        };
        self.bytes += data.len();
        if let Some(old) = self.slots[Self::slot(seq)].replace(Entry { seq, sent_at: now, resent_at: None, data }) {
            self.bytes -= old.data.len();
        }
        self.evict(now);
    }

    /// Frees packets older than `MAX_AGE` from the oldest end (each number is passed once).
    fn evict(&mut self, now: Instant) {
        while let Some((oldest, newest)) = self.range {
            if oldest == newest {
                break;
            }
            let slot = &mut self.slots[Self::slot(oldest)];
            match slot {
                Some(e) if e.seq == oldest && now.saturating_duration_since(e.sent_at) <= MAX_AGE => break,
                Some(e) if e.seq == oldest => {
                    self.bytes -= e.data.len();
                    *slot = None;
                }
                // Never sent, or the slot now holds a newer number.
                _ => {}
            }
            self.range = Some((oldest.wrapping_add(1), newest));
        }
    }

    /// Bytes of packets held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The packet `seq` if it may be resent now: still held, not too old, and not resent within
    /// `min_interval` (one round trip). Marks it resent.
    pub fn take_for_resend(&mut self, seq: u16, now: Instant, min_interval: Duration) -> Option<&[u8]> {
        let e = self.slots.get_mut(Self::slot(seq))?.as_mut()?;
        if e.seq != seq || now.saturating_duration_since(e.sent_at) > MAX_AGE {
            return None;
        }
        if e.resent_at.is_some_and(|t| now.saturating_duration_since(t) < min_interval) {
            return None;
        }
        e.resent_at = Some(now);
        Some(&e.data)
    }

    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.range = None;
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
        let mut b = RtxBuffer::default();
        for seq in 65_530u16..=65_535 {
            b.insert(seq, t0, vec![seq as u8]);
        }
        b.insert(0, t0, vec![0]);
        assert_eq!(b.take_for_resend(65_535, t0, rtt), Some(&[255u8][..]));
        assert_eq!(b.take_for_resend(65_535, t0 + Duration::from_millis(10), rtt), None, "not again within the RTT");
        assert!(b.take_for_resend(65_535, t0 + Duration::from_millis(60), rtt).is_some());
        assert!(b.take_for_resend(0, t0, rtt).is_some(), "across the wrap");
        assert_eq!(b.take_for_resend(7, t0, rtt), None, "never sent");
        // A slot reused by a later number does not answer for the old one.
        b.insert(65_530u16.wrapping_add(SLOTS as u16), t0, vec![9]);
        assert_eq!(b.take_for_resend(65_530, t0, rtt), None);
        assert_eq!(b.take_for_resend(65_531, t0 + MAX_AGE + Duration::from_millis(1), rtt), None, "too old");
    }

    #[test]
    fn holds_about_max_age_of_the_stream_not_a_full_ring() {
        // 150 packets/s of 1,200 bytes for 20 s: about 2 s (300 packets) stay held.
        let t0 = Instant::now();
        let mut b = RtxBuffer::default();
        let mut seq = 60_000u16;
        for i in 0..3000u32 {
            b.insert(seq, t0 + Duration::from_micros(u64::from(i) * 6667), vec![0; 1200]);
            seq = seq.wrapping_add(1);
        }
        let held = b.bytes() / 1200;
        assert!((295..=305).contains(&held), "{held} packets held");
        // What is held still answers; what was freed does not.
        let now = t0 + Duration::from_micros(2999 * 6667);
        assert!(b.take_for_resend(seq.wrapping_sub(1), now, Duration::ZERO).is_some());
        assert!(b.take_for_resend(seq.wrapping_sub(400), now, Duration::ZERO).is_none());
        // A jump far ahead starts over.
        b.insert(seq.wrapping_add(10_000), now, vec![0; 100]);
        assert_eq!(b.bytes(), 100);
        assert!(b.take_for_resend(seq.wrapping_sub(1), now, Duration::ZERO).is_none());
    }
}
