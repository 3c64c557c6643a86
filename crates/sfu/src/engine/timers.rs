//! The engine's deadlines: one per router and transport that wants waking, in a heap with lazy
//! deletion (a re-armed deadline leaves its old entry behind, skipped when it surfaces).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::router::RouterKey;
use crate::transport::webrtc_server::WebRtcServerKey;
use crate::transport::TransportKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    Router(RouterKey),
    Transport(TransportKey),
    Server(WebRtcServerKey),
}

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, TimerKey)>>,
    current: HashMap<TimerKey, Instant>,
}

impl Timers {
    /// Sets (or clears) `key`'s deadline.
    pub fn set(&mut self, key: TimerKey, deadline: Option<Instant>) {
        match deadline {
            Some(d) => {
                if self.current.insert(key, d) != Some(d) {
                    self.heap.push(Reverse((d, key)));
                }
            }
            None => {
                self.current.remove(&key);
            }
        }
    }

    /// The earliest live deadline.
    pub fn next(&mut self) -> Option<Instant> {
        while let Some(Reverse((t, k))) = self.heap.peek() {
            if self.current.get(k) == Some(t) {
                return Some(*t);
            }
            self.heap.pop();
        }
        None
    }

    /// A key whose deadline has come (its deadline is cleared).
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerKey> {
        while let Some(Reverse((t, k))) = self.heap.peek().copied() {
            if t > now {
                return None;
            }
            self.heap.pop();
            if self.current.get(&k) == Some(&t) {
                self.current.remove(&k);
                return Some(k);
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rearmed_deadlines_replace_old_ones() {
        let mut a = crate::arena::Arena::<()>::default();
        let (r, t) = (TimerKey::Router(a.insert(()).cast()), TimerKey::Transport(a.insert(()).cast()));
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(r, Some(t0 + Duration::from_millis(20)));
        timers.set(t, Some(t0 + Duration::from_millis(10)));
        timers.set(t, Some(t0 + Duration::from_millis(30)));
        assert_eq!(timers.next(), Some(t0 + Duration::from_millis(20)));
        assert_eq!(timers.pop_due(t0 + Duration::from_millis(25)), Some(r));
        assert_eq!(timers.pop_due(t0 + Duration::from_millis(25)), None, "the stale 10 ms entry is skipped");
        timers.set(t, None);
        assert_eq!(timers.next(), None);
    }
}
