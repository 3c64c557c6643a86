//! A consumer's sequence number space: input sequence numbers (the producer's stream, in the
//! router's space) map to output ones (the consumer's stream) by a 16-bit offset that is chosen
//! at each (re)synchronisation, so the receiver sees one continuous stream across pauses, source
//! changes and replays.
//!
//! Input numbers are extended (unwrapped) against the highest one forwarded since the last sync,
//! so "older than the sync point" stays true for packets that really are older, however long the
//! stream runs: a base that never moves would misjudge every packet 32,768 numbers later.

/// How far behind the highest forwarded input a packet may be and still be a late (reordered or
/// repaired) one. Producers forget losses older than a few hundred packets, so anything further
/// back is a new numbering from the sender (a restart), not a late packet.
pub const MAX_LATENESS: i64 = 3000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqInput {
    /// Forward it with this output sequence number.
    Forward(u16),
    /// Older than the sync point: the receiver never knew it.
    Old,
    /// Far outside the current numbering: the caller must resynchronise.
    Discontinuity,
}

#[derive(Debug, Clone)]
pub struct SeqManager {
    /// output = input + offset (mod 2^16).
    offset: u16,
    /// Extended input number of the sync point and of the highest input forwarded since.
    sync_ext: i64,
    max_ext: i64,
    /// Highest output number sent: the next sync continues after it.
    max_out: u16,
    synced: bool,
}

impl SeqManager {
    /// `initial` is the output number before the first packet (random, as RFC 3550 wants).
    pub fn new(initial: u16) -> Self {
        SeqManager { offset: 0, sync_ext: 0, max_ext: 0, max_out: initial, synced: false }
    }

    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The highest output sequence number sent so far.
    pub fn max_output(&self) -> u16 {
        self.max_out
    }

    /// Starts a new numbering at `input`, which goes out as the number after the last one sent.
    /// Returns that output number.
    pub fn sync(&mut self, input: u16) -> u16 {
        let out = self.max_out.wrapping_add(1);
        self.offset = out.wrapping_sub(input);
        // A fresh extended space: nothing before `input` is forwarded.
        self.sync_ext = i64::from(input) + (1 << 32);
        self.max_ext = self.sync_ext;
        self.max_out = out;
        self.synced = true;
        out
    }

    /// Maps an input number (after a sync).
    pub fn input(&mut self, input: u16) -> SeqInput {
        debug_assert!(self.synced, "input before sync");
        let delta = input.wrapping_sub(self.max_ext as u16) as i16;
        let ext = self.max_ext + i64::from(delta);
        if ext < self.max_ext - MAX_LATENESS {
            return SeqInput::Discontinuity;
        }
        if ext < self.sync_ext {
            return SeqInput::Old;
        }
        let out = input.wrapping_add(self.offset);
        if ext > self.max_ext {
            self.max_ext = ext;
            self.max_out = out;
        }
        SeqInput::Forward(out)
    }

    /// Leaves `input` out on purpose (a picture of a temporal layer not sent): the numbers after
    /// it move down by one so the receiver sees no gap. Only newer packets shift the mapping
    /// (a late one is simply not sent). `false` if it was not newer.
    pub fn drop(&mut self, input: u16) -> bool {
        if !self.synced {
            return false;
        }
        let delta = input.wrapping_sub(self.max_ext as u16) as i16;
        if delta <= 0 {
            return false;
        }
        self.max_ext += i64::from(delta);
        self.offset = self.offset.wrapping_sub(1);
        true
    }

    /// The next sync leaves one number out: tells the receiver the frame before it ended early.
    pub fn skip_one(&mut self) {
        self.max_out = self.max_out.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_across_many_wraps_with_loss_and_reordering() {
        let mut m = SeqManager::new(65000);
        let first = m.sync(100);
        assert_eq!(first, 65001);
        let mut expected_offset = first.wrapping_sub(100);
        let mut input = 100u16;
        // 300,000 packets (several wraps of both spaces); every 7th lost, pairs swapped.
        let mut forwarded = 0u64;
        for i in 1..300_000u32 {
            input = input.wrapping_add(1);
            if i % 7 == 0 {
                continue;
            }
            let (a, b) = if i % 11 == 0 { (input.wrapping_add(1), input) } else { (input, input) };
            for s in if a != b { vec![a, b] } else { vec![a] } {
                match m.input(s) {
                    SeqInput::Forward(out) => {
                        assert_eq!(out, s.wrapping_add(expected_offset));
                        forwarded += 1;
                    }
                    other => panic!("packet {i} ({s}) not forwarded: {other:?}"),
                }
            }
            if a != b {
                input = input.wrapping_add(1);
            }
        }
        assert!(forwarded > 250_000, "{forwarded}");
        // A resync continues right after the highest number sent.
        let top = m.max_output();
        let out = m.sync(7);
        assert_eq!(out, top.wrapping_add(1));
        expected_offset = out.wrapping_sub(7);
        assert_eq!(m.input(8), SeqInput::Forward(8u16.wrapping_add(expected_offset)));
    }

    #[test]
    fn dropped_inputs_leave_no_gap_and_a_skip_leaves_one() {
        let mut m = SeqManager::new(10);
        assert_eq!(m.sync(500), 11);
        assert!(m.drop(501));
        assert!(m.drop(502));
        assert_eq!(m.input(503), SeqInput::Forward(12));
        assert!(!m.drop(503), "not newer");
        assert_eq!(m.input(504), SeqInput::Forward(13));
        m.skip_one();
        assert_eq!(m.sync(9000), 15);
        assert_eq!(m.input(9001), SeqInput::Forward(16));
    }

    #[test]
    fn older_than_the_sync_point_is_dropped_far_outside_is_a_discontinuity() {
        let mut m = SeqManager::new(0);
        m.sync(1000);
        assert_eq!(m.input(999), SeqInput::Old);
        assert_eq!(m.input(1001), SeqInput::Forward(2));
        // Long after the sync (beyond 32,768 and 65,536 packets), late packets that are newer
        // than the sync point still go out and old ones still do not.
        let mut s = 1001u16;
        for _ in 0..70_000 {
            s = s.wrapping_add(1);
            assert!(matches!(m.input(s), SeqInput::Forward(_)));
        }
        assert!(matches!(m.input(s.wrapping_sub(5)), SeqInput::Forward(_)));
        // A jump of half the space is not a late packet.
        assert_eq!(m.input(s.wrapping_add(40_000)), SeqInput::Discontinuity);
        assert_eq!(m.input(s.wrapping_sub(MAX_LATENESS as u16 + 1)), SeqInput::Discontinuity);
    }
}
