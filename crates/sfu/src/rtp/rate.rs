//! Bitrate over a sliding window, as mediasoup's RateCalculator reports it (bits per second
//! over the last second).

use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_millis(1000);
const SLOTS: usize = 10;
const SLOT: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct RateCalculator {
    slots: [u64; SLOTS],
    /// Start of the slot at `head`, and its end (compared per packet: cheaper than a
    /// duration).
    head_start: Option<Instant>,
    head_end: Option<Instant>,
    head: usize,
    pub total_bytes: u64,
}

impl Default for RateCalculator {
    fn default() -> Self {
        RateCalculator { slots: [0; SLOTS], head_start: None, head_end: None, head: 0, total_bytes: 0 }
    }
}

impl RateCalculator {
    fn start_head(&mut self, at: Instant) {
        self.head_start = Some(at);
        self.head_end = at.checked_add(SLOT);
    }

    fn advance(&mut self, now: Instant) {
        if self.head_end.is_some_and(|end| now < end) {
            return; // the common case, per packet: still in the head slot
        }
        let Some(start) = self.head_start else {
            self.start_head(now);
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < SLOT {
            return; // a clock that went back
        }
        if elapsed >= WINDOW + SLOT {
            self.slots = [0; SLOTS];
            self.start_head(now);
            return;
        }
        let steps = (elapsed.as_nanos() as u64 / SLOT.as_nanos() as u64) as usize;
        for _ in 0..steps {
            self.head = (self.head + 1) % SLOTS;
            self.slots[self.head] = 0;
        }
        self.start_head(start + SLOT * steps as u32);
    }

    pub fn update(&mut self, bytes: usize, now: Instant) {
        self.advance(now);
        self.slots[self.head] += bytes as u64;
        self.total_bytes += bytes as u64;
    }

    /// Bits per second over the last second.
    pub fn rate(&mut self, now: Instant) -> u64 {
        self.advance(now);
        self.slots.iter().sum::<u64>() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_the_last_second() {
        let t0 = Instant::now();
        let mut r = RateCalculator::default();
        for i in 0..10 {
            r.update(1000, t0 + Duration::from_millis(i * 100));
        }
        assert_eq!(r.rate(t0 + Duration::from_millis(950)), 80_000);
        // Half a second later half the window has gone.
        let later = r.rate(t0 + Duration::from_millis(1450));
        assert!((30_000..=50_000).contains(&later), "{later}");
        assert_eq!(r.rate(t0 + Duration::from_secs(5)), 0);
        assert_eq!(r.total_bytes, 10_000);
    }
}
