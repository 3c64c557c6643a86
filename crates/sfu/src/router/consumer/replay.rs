//! Replay of a producer's key frame cache into one consumer: the cached key frame goes out at
//! once, what followed it at `SPEED` times its original pace with timestamps compressed the
//! same way (ending at the newest cached one), and live packets queue behind until it is done.
//! Replays are bounded: a viewer's key frame requests cannot make it replay more than about
//! once a second.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rtp::SharedPacket;

/// How much faster than recorded the packets after the key frame are replayed.
pub const SPEED: u32 = 4;

/// A second replay shortly after the first is allowed once (the receiver appeared after the
/// first key frame went out: mediasoup-client creates it after `consume()` answers), when it
/// comes at least this late (requests sent together, PLI + FIR, are one)...
const EARLY_RESTART_AFTER: Duration = Duration::from_millis(3);
/// ...and within this window of the first one.
const EARLY_WINDOW: Duration = Duration::from_millis(1000);
/// Otherwise replays are at least this far apart.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1000);

/// A packet waiting to go out: when, which, whether it starts a key frame, and the timestamp to
/// give it (replayed packets) or its own (live packets queued behind).
pub struct Queued {
    pub due: Instant,
    pub packet: SharedPacket,
    pub is_key: bool,
    pub timestamp: Option<u32>,
}

#[derive(Default)]
pub struct Replay {
    queue: VecDeque<Queued>,
    /// Replays started, and when the first and the latest did.
    pub count: u64,
    first_at: Option<Instant>,
    last_at: Option<Instant>,
    early_restart_used: bool,
}

impl Replay {
    pub fn is_active(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Whether a key frame request from the viewer may start a replay now (again).
    pub fn may_start(&self, now: Instant) -> bool {
        let Some(last) = self.last_at else { return true };
        let since_last = now.saturating_duration_since(last);
        let early = self.first_at.is_some_and(|f| now.saturating_duration_since(f) < EARLY_WINDOW);
        if early && !self.early_restart_used {
            return since_last >= EARLY_RESTART_AFTER;
        }
        since_last >= MIN_INTERVAL
    }

    /// A replay started too recently to restart: a duplicate of the request that started it.
    pub fn just_started(&self, now: Instant) -> bool {
        self.last_at.is_some_and(|t| now.saturating_duration_since(t) < EARLY_RESTART_AFTER)
    }

    /// Starts replaying `cached` (arrival time, packet), dropping a replay in progress.
    pub fn start(&mut self, now: Instant, cached: Vec<(Instant, SharedPacket)>) {
        let Some((base, first)) = cached.first() else { return };
        let key_ts = first.header.timestamp;
        let base = *base;
        let last_ts = cached.last().map(|(_, p)| p.header.timestamp).unwrap_or(key_ts);
        self.queue.clear();
        for (i, (at, p)) in cached.into_iter().enumerate() {
            let due = if p.header.timestamp == key_ts { now } else { now + at.saturating_duration_since(base) / SPEED };
            let behind = last_ts.wrapping_sub(p.header.timestamp);
            let behind = if behind > u32::MAX / 2 { 0 } else { behind };
            let ts = last_ts.wrapping_sub(behind / SPEED);
            self.queue.push_back(Queued { due, packet: p, is_key: i == 0, timestamp: Some(ts) });
        }
        self.count += 1;
        if self.last_at.is_some() && self.first_at.is_some_and(|f| now.saturating_duration_since(f) < EARLY_WINDOW) {
            self.early_restart_used = true;
        }
        self.first_at.get_or_insert(now);
        self.last_at = Some(now);
    }

    /// Drops the replay (a live key frame is a better start).
    pub fn stop(&mut self) {
        self.queue = VecDeque::new();
    }

    /// A live packet while replaying: it goes out after the replay.
    pub fn queue_live(&mut self, now: Instant, packet: SharedPacket, is_key: bool) {
        self.queue.push_back(Queued { due: now, packet, is_key, timestamp: None });
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|q| q.due)
    }

    /// The next packet due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Queued> {
        if self.queue.front().is_none_or(|q| q.due > now) {
            return None;
        }
        let q = self.queue.pop_front();
        if self.queue.is_empty() {
            // A replay is a join's burst: its queue's room is not kept for the consumer's life.
            self.queue = VecDeque::new();
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_rtp::header::Header;
    use rtc_rtp::packet::Packet;

    fn pkt(seq: u16, ts: u32) -> SharedPacket {
        SharedPacket::new(Packet { header: Header { sequence_number: seq, timestamp: ts, ..Default::default() }, ..Default::default() })
    }

    #[test]
    fn paces_and_compresses_then_live_follows() {
        let t0 = Instant::now();
        let mut r = Replay::default();
        let cached = vec![(t0, pkt(1, 0)), (t0, pkt(2, 0)), (t0 + Duration::from_millis(40), pkt(3, 3600)), (t0 + Duration::from_millis(80), pkt(4, 7200))];
        let now = t0 + Duration::from_millis(500);
        r.start(now, cached);
        r.queue_live(now, pkt(5, 10800), false);
        let mut out = Vec::new();
        let mut t = now;
        while r.is_active() {
            while let Some(q) = r.pop_due(t) {
                out.push((t.saturating_duration_since(now).as_millis(), q.packet.header.sequence_number, q.timestamp));
            }
            t += Duration::from_millis(1);
        }
        assert_eq!(out, vec![(0, 1, Some(5400)), (0, 2, Some(5400)), (10, 3, Some(6300)), (20, 4, Some(7200)), (20, 5, None)]);
    }

    #[test]
    fn requests_cannot_make_it_replay_more_than_about_once_a_second() {
        let t0 = Instant::now();
        let mut r = Replay::default();
        assert!(r.may_start(t0));
        r.start(t0, vec![(t0, pkt(1, 0))]);
        assert!(r.just_started(t0 + Duration::from_millis(1)));
        assert!(!r.may_start(t0 + Duration::from_millis(1)), "the same burst of requests");
        // One early restart (the receiver appeared after the first key frame)...
        assert!(r.may_start(t0 + Duration::from_millis(8)));
        r.start(t0 + Duration::from_millis(8), vec![(t0, pkt(1, 0))]);
        // ...then no more than one per MIN_INTERVAL, however many requests come.
        let mut replays = 0;
        for ms in (20..5000).step_by(3) {
            let now = t0 + Duration::from_millis(ms);
            if r.may_start(now) {
                r.start(now, vec![(t0, pkt(1, 0))]);
                replays += 1;
            }
        }
        assert!(replays <= 5, "{replays}");
    }
}
