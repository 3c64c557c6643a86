//! Time as an input. The core never reads a clock: every call carries `now` (an `Instant`), and
//! wall-clock time (for RTCP NTP timestamps, abs-send-time, stats timestamps) comes from one
//! base the runtime gives when the engine starts.

use std::time::{Duration, Instant, SystemTime};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: Instant,
    /// Wall-clock time at `base`, since the Unix epoch.
    wall_base: Duration,
}

impl Clock {
    pub fn new(base: Instant, wall: SystemTime) -> Self {
        Clock { base, wall_base: wall.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default() }
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
    }
}
