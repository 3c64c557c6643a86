//! Which packets of a received stream are missing, and when to ask the sender for them again.
//! Bounded: only losses recent enough to be repaired are listed, each asked for a limited number
//! of times; a gap too long to repair says "ask for a key frame" instead.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Give up on a lost packet after this many NACKs.
pub const MAX_RETRIES: u8 = 10;
/// Forget losses older than this many packets (and list no more than this many).
pub const MAX_AGE: i64 = 500;
/// Time between NACKs for the same packet.
pub const INTERVAL: Duration = Duration::from_millis(40);

#[derive(Default)]
pub struct NackGenerator {
    /// Extended sequence number → (NACKs sent, last NACK time).
    missing: BTreeMap<i64, (u8, Option<Instant>)>,
}

impl NackGenerator {
    /// A packet `ext` arrived after `max` (the highest so far): what lies between is missing.
    /// Returns whether the gap was too long to be repaired by NACKs (a key frame is needed).
    pub fn on_advance(&mut self, max: i64, ext: i64) -> bool {
        let from = (max + 1).max(ext - MAX_AGE);
        for lost in from..ext {
            self.missing.insert(lost, (0, None));
        }
        // Forget what is now too old.
        let horizon = ext - MAX_AGE;
        if self.missing.first_key_value().is_some_and(|(k, _)| *k < horizon) {
            self.missing = self.missing.split_off(&horizon);
        }
        ext - max - 1 > MAX_AGE
    }

    /// A late packet arrived: `true` if it was one we were missing (then it is useful).
    pub fn on_late(&mut self, ext: i64) -> bool {
        self.missing.remove(&ext).is_some()
    }

    pub fn contains(&self, ext: i64) -> bool {
        self.missing.contains_key(&ext)
    }

    pub fn clear(&mut self) {
        self.missing.clear();
    }

    pub fn len(&self) -> usize {
        self.missing.len()
    }

    pub fn is_empty(&self) -> bool {
        self.missing.is_empty()
    }

    /// Sequence numbers to NACK now (each at most every `INTERVAL`, `MAX_RETRIES` times).
    pub fn due(&mut self, now: Instant) -> Vec<u16> {
        let mut due = Vec::new();
        let mut give_up = Vec::new();
        for (seq, (tries, last)) in self.missing.iter_mut() {
            if last.is_some_and(|t| now.saturating_duration_since(t) < INTERVAL) {
                continue;
            }
            if *tries >= MAX_RETRIES {
                give_up.push(*seq);
                continue;
            }
            *tries += 1;
            *last = Some(now);
            due.push(*seq as u16);
        }
        for s in give_up {
            self.missing.remove(&s);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_recent_losses_retries_then_gives_up() {
        let t0 = Instant::now();
        let mut n = NackGenerator::default();
        assert!(!n.on_advance(100, 104)); // 101..103 lost
        assert_eq!(n.due(t0), vec![101, 102, 103]);
        assert!(n.due(t0 + Duration::from_millis(10)).is_empty(), "not again so soon");
        assert!(n.on_late(102));
        assert!(!n.on_late(102), "only once");
        let mut t = t0;
        for _ in 1..MAX_RETRIES {
            t += INTERVAL;
            assert_eq!(n.due(t), vec![101, 103]);
        }
        t += INTERVAL;
        assert!(n.due(t).is_empty(), "given up after {MAX_RETRIES}");
        assert!(n.is_empty());
    }

    #[test]
    fn long_gaps_cost_only_the_repairable_part_and_ask_for_a_key_frame() {
        let mut n = NackGenerator::default();
        assert!(n.on_advance(0, 30_000));
        assert_eq!(n.len(), MAX_AGE as usize);
        assert!(n.contains(29_999) && !n.contains(29_000));
        // Time moves on: old entries fall off the horizon.
        n.on_advance(30_000, 30_400);
        assert!(n.len() <= MAX_AGE as usize);
        assert!(!n.contains(29_800));
    }
}
