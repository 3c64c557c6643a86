//! Which encoding of a simulcast producer a consumer forwards: the highest recently active one
//! up to the preferred spatial layer (the lowest active one when none is at or below it). A
//! choice sticks while its stream keeps flowing. (Switching by bandwidth comes with layer
//! allocation.)

use std::time::{Duration, Instant};

/// A chosen stream that has been silent this long is replaced.
const STALE: Duration = Duration::from_secs(2);
/// A stream counts as active when media arrived within this window.
pub const ACTIVE_WINDOW: Duration = Duration::from_millis(1500);

/// One of the producer's streams as the chooser sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamState {
    pub spatial: usize,
    pub mapped_ssrc: u32,
    pub active: bool,
}

#[derive(Default)]
pub struct LayerChooser {
    source: Option<u32>,
    source_last_at: Option<Instant>,
}

impl LayerChooser {
    /// The chosen stream (router-space SSRC).
    pub fn source(&self) -> Option<u32> {
        self.source
    }

    /// A packet of the chosen stream was forwarded.
    pub fn touched(&mut self, now: Instant) {
        self.source_last_at = Some(now);
    }

    /// Chooses again if there is no choice or it went stale. `true` when the choice changed
    /// (the consumer must resync on a key frame of the new stream).
    pub fn choose(&mut self, now: Instant, preferred_spatial: Option<u32>, streams: &[StreamState]) -> bool {
        let stale = self.source_last_at.is_none_or(|t| now.saturating_duration_since(t) > STALE);
        if self.source.is_some() && !stale {
            return false;
        }
        let limit = preferred_spatial.map_or(usize::MAX, |s| s as usize);
        let best = streams
            .iter()
            .filter(|s| s.active && s.spatial <= limit)
            .max_by_key(|s| s.spatial)
            .or_else(|| streams.iter().filter(|s| s.active).min_by_key(|s| s.spatial));
        match best {
            Some(s) if Some(s.mapped_ssrc) != self.source => {
                self.source = Some(s.mapped_ssrc);
                self.source_last_at = Some(now);
                true
            }
            _ => false,
        }
    }

    /// The spatial layer of the chosen stream.
    pub fn current_spatial(&self, streams: &[StreamState]) -> Option<usize> {
        let src = self.source?;
        streams.iter().find(|s| s.mapped_ssrc == src).map(|s| s.spatial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams(active: [bool; 3]) -> Vec<StreamState> {
        (0..3).map(|i| StreamState { spatial: i, mapped_ssrc: 100 + i as u32, active: active[i] }).collect()
    }

    #[test]
    fn highest_active_up_to_the_preference_and_sticky_while_flowing() {
        let t0 = Instant::now();
        let mut c = LayerChooser::default();
        assert!(c.choose(t0, None, &streams([true, true, true])));
        assert_eq!(c.source(), Some(102));
        assert!(!c.choose(t0, None, &streams([true, true, false])), "sticky while fresh");
        // Gone stale: the highest remaining one within the preference.
        let later = t0 + Duration::from_secs(3);
        assert!(c.choose(later, Some(1), &streams([true, true, false])));
        assert_eq!(c.current_spatial(&streams([true; 3])), Some(1));
        // Nothing at or below the preference is active: the lowest active one.
        let mut d = LayerChooser::default();
        assert!(d.choose(t0, Some(0), &streams([false, false, true])));
        assert_eq!(d.source(), Some(102));
    }
}
