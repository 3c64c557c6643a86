//! Which layer of a simulcast producer a consumer forwards. The *target* is chosen from the
//! streams that are flowing, the consumer's preferred layers and the share of its transport's
//! budget it was given (mediasoup's rules: the highest active spatial layer up to the preferred
//! one, else the lowest active one); the *current* layer is the one going out. A switch happens
//! on a key frame of the target stream; until then the current one keeps flowing.

use std::time::Duration;

/// A stream counts as active when media arrived within this window.
pub const ACTIVE_WINDOW: Duration = Duration::from_millis(1500);

/// One of the producer's streams as consumers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamState {
    pub spatial: usize,
    pub mapped_ssrc: u32,
    pub active: bool,
}

/// What the transport's bitrate allocation leaves a consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Budget {
    /// No limit (no budget set on the transport).
    #[default]
    Unlimited,
    /// Spatial layers up to this one.
    UpTo(usize),
    /// Not even the lowest layer fits.
    Nothing,
}

/// What to do with a packet of spatial layer `L`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Forward,
    /// Not the layer going out (or none is wanted).
    Drop,
    /// A packet of the target layer while another goes out: switch if it starts a key frame.
    SwitchIfKey,
}

#[derive(Debug, Default)]
pub struct Layers {
    target: Option<(usize, u8)>,
    current: Option<usize>,
    pub budget: Budget,
}

impl Layers {
    pub fn target(&self) -> Option<(usize, u8)> {
        self.target
    }

    pub fn current(&self) -> Option<usize> {
        self.current
    }

    /// The layers the rules give, from the streams flowing now.
    pub fn choose(&self, preferred: (usize, u8), streams: &[StreamState]) -> Option<(usize, u8)> {
        let cap = match self.budget {
            Budget::Nothing => return None,
            Budget::UpTo(s) => s,
            Budget::Unlimited => usize::MAX,
        };
        let limit = preferred.0.min(cap);
        let mut candidate = None;
        let mut active: Vec<&StreamState> = streams.iter().filter(|s| s.active).collect();
        active.sort_by_key(|s| s.spatial);
        for s in active {
            if s.spatial > limit && candidate.is_some() {
                break;
            }
            candidate = Some(s.spatial);
            if s.spatial >= limit {
                break;
            }
        }
        candidate.map(|s| (s, preferred.1))
    }

    /// Sets the target; `true` when its spatial layer changed (a key frame of the new target
    /// is then needed unless it is the current one).
    pub fn set_target(&mut self, target: Option<(usize, u8)>) -> bool {
        let changed = self.target.map(|t| t.0) != target.map(|t| t.0);
        self.target = target;
        if target.is_none() {
            self.current = None;
        }
        changed
    }

    /// Waiting for a key frame of the target layer.
    pub fn switch_pending(&self) -> bool {
        self.target.is_some_and(|(s, _)| self.current != Some(s))
    }

    pub fn decide(&self, spatial: usize) -> Decision {
        match self.target {
            None => Decision::Drop,
            Some((s, _)) if s == spatial && self.current != Some(s) => Decision::SwitchIfKey,
            Some(_) if self.current == Some(spatial) => Decision::Forward,
            Some(_) => Decision::Drop,
        }
    }

    /// The target layer's key frame went out: it is the current layer now.
    pub fn switched(&mut self) {
        self.current = self.target.map(|t| t.0);
    }

    /// After a pause or restart, the next key frame of the target starts again.
    pub fn restart(&mut self) {
        self.current = None;
    }
}

/// The timestamp offset that maps stream `to`'s RTP times onto the output timeline currently
/// fed by stream `from` (with `offset`), from both streams' sender reports: the same capture
/// instant gets the same output time. `None` without reports from both.
pub fn aligned_offset(offset: u32, from: Option<(u64, u32)>, to: Option<(u64, u32)>, clock_rate: u32) -> Option<u32> {
    let ((ntp_a, rtp_a), (ntp_b, rtp_b)) = (from?, to?);
    // NTP 32.32 difference in clock ticks.
    let diff = ntp_b.wrapping_sub(ntp_a) as i64;
    let ticks = (diff as i128 * i128::from(clock_rate)) >> 32;
    // A clock at `to` = the clock at `from` + (ntp_b - ntp_a): equal instants map equally.
    Some(offset.wrapping_add(rtp_a).wrapping_sub(rtp_b).wrapping_add(ticks as i64 as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams(active: [bool; 3]) -> Vec<StreamState> {
        (0..3).map(|i| StreamState { spatial: i, mapped_ssrc: 100 + i as u32, active: active[i] }).collect()
    }

    #[test]
    fn the_highest_active_layer_up_to_the_preferred_one_else_the_lowest_active() {
        let mut l = Layers::default();
        assert_eq!(l.choose((2, 2), &streams([true; 3])), Some((2, 2)));
        assert_eq!(l.choose((1, 0), &streams([true; 3])), Some((1, 0)));
        assert_eq!(l.choose((1, 2), &streams([true, false, true])), Some((0, 2)));
        assert_eq!(l.choose((0, 2), &streams([false, false, true])), Some((2, 2)));
        assert_eq!(l.choose((2, 2), &streams([false; 3])), None);
        l.budget = Budget::UpTo(1);
        assert_eq!(l.choose((2, 2), &streams([true; 3])), Some((1, 2)));
        l.budget = Budget::Nothing;
        assert_eq!(l.choose((2, 2), &streams([true; 3])), None);
    }

    #[test]
    fn the_current_layer_flows_until_the_targets_key_frame() {
        let mut l = Layers::default();
        assert!(l.set_target(Some((0, 2))));
        assert_eq!(l.decide(0), Decision::SwitchIfKey);
        assert_eq!(l.decide(1), Decision::Drop);
        l.switched();
        assert_eq!(l.decide(0), Decision::Forward);
        assert!(l.set_target(Some((2, 2))));
        assert!(l.switch_pending());
        assert_eq!(l.decide(0), Decision::Forward, "still the current one");
        assert_eq!(l.decide(2), Decision::SwitchIfKey);
        l.switched();
        assert_eq!((l.decide(0), l.decide(2)), (Decision::Drop, Decision::Forward));
        assert!(!l.set_target(Some((2, 1))), "a temporal change is not a switch");
        assert!(l.set_target(None));
        assert_eq!(l.decide(2), Decision::Drop);
    }

    #[test]
    fn sender_reports_align_timestamps_of_two_streams() {
        // Stream A: RTP 1000 at NTP 10 s. Stream B: RTP 500_000 at NTP 10.5 s (90 kHz).
        let a = (10u64 << 32, 1000u32);
        let b = ((10u64 << 32) + (1u64 << 31), 500_000u32);
        let offset = aligned_offset(7, Some(a), Some(b), 90_000).unwrap();
        // B at NTP 10.5 s must go out as A's clock at 10.5 s (1000 + 45000) + A's offset 7.
        assert_eq!(500_000u32.wrapping_add(offset), 1000 + 45_000 + 7);
        assert_eq!(aligned_offset(7, Some(a), None, 90_000), None);
    }
}
