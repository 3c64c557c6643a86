//! Time as an input. The core never reads a clock: every call carries `now` (an `Instant`), and
//! wall-clock time (for RTCP NTP timestamps, abs-send-time, stats timestamps) comes from one
//! base the runtime gives when the engine starts.

use std::time::{Duration, Instant, SystemTime};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: Instant,
    /// Wall-clock time at `base`, since the Unix epoch.
    wall_base: Duration,
    /// One instant's readings worked out ahead (`at`): a fan-out asks for them once per
    /// consumer, and working them out from an `Instant` each time was ~3 % of the worker.
    stamp: Option<Stamp>,
}

#[derive(Clone, Copy, Debug)]
struct Stamp {
    at: Instant,
    micros: u64,
    abs_send_time: u32,
}

impl Clock {
    pub fn new(base: Instant, wall: SystemTime) -> Self {
        Clock { base, wall_base: wall.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default(), stamp: None }
    }

    /// This clock with `now`'s readings worked out once (for many calls with the same `now`).
    pub fn at(&self, now: Instant) -> Clock {
        let plain = Clock { stamp: None, ..*self };
        Clock { stamp: Some(Stamp { at: now, micros: plain.micros(now), abs_send_time: plain.abs_send_time(now) }), ..*self }
    }

    fn stamped(&self, now: Instant) -> Option<&Stamp> {
        self.stamp.as_ref().filter(|s| s.at == now)
    }

    /// Microseconds since the engine started (0 before).
    pub fn micros(&self, now: Instant) -> u64 {
        match self.stamped(now) {
            Some(s) => s.micros,
            None => now.saturating_duration_since(self.base).as_micros() as u64,
        }
    }

    /// Milliseconds since the engine started.
    pub fn millis(&self, now: Instant) -> u64 {
        self.micros(now) / 1000
    }

    /// Wall-clock time at `now`, since the Unix epoch.
    pub fn wall(&self, now: Instant) -> Duration {
        match now.checked_duration_since(self.base) {
            Some(d) => self.wall_base + d,
            None => self.wall_base.saturating_sub(self.base - now),
        }
    }

    /// Milliseconds since the Unix epoch (stats and trace timestamps).
    pub fn wall_ms(&self, now: Instant) -> u64 {
        self.wall(now).as_millis() as u64
    }

    /// RFC 3550 NTP timestamp.
    pub fn ntp(&self, now: Instant) -> u64 {
        crate::rtp::rtcp::ntp(self.wall(now))
    }

    /// abs-send-time (24 bits).
    pub fn abs_send_time(&self, now: Instant) -> u32 {
        if let Some(s) = self.stamped(now) {
            return s.abs_send_time;
        }
        crate::rtp::abs_send_time(self.wall(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_follows_the_instants() {
        let t0 = Instant::now();
        let c = Clock::new(t0, SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
        assert_eq!(c.wall_ms(t0 + Duration::from_millis(1500)), 1_001_500);
        assert_eq!(c.ntp(t0) >> 32, 1_000 + 2_208_988_800);
        assert_eq!(c.millis(t0 + Duration::from_millis(1500)), 1_500);
    }

    #[test]
    fn a_stamped_clock_reads_the_same() {
        let t0 = Instant::now();
        let c = Clock::new(t0, SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
        let now = t0 + Duration::from_micros(2_345_678);
        let s = c.at(now);
        assert_eq!((s.micros(now), s.abs_send_time(now)), (c.micros(now), c.abs_send_time(now)));
        assert_eq!(s.micros(now), 2_345_678);
        // Another instant is worked out as usual.
        let later = now + Duration::from_millis(7);
        assert_eq!((s.micros(later), s.abs_send_time(later)), (c.micros(later), c.abs_send_time(later)));
    }
}
