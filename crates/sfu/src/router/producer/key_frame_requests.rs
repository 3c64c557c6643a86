//! Key frame requests to a sender (PLI, or FIR when the sender wants that): merged so the
//! encoder is never asked more often than `keyFrameRequestDelay` (and never closer than
//! 250 ms), and repeated when one goes unanswered while consumers still wait.

use std::time::{Duration, Instant};

/// Even with `keyFrameRequestDelay` 0, requests to a sender are at least this far apart (an
/// encoder ignores requests that follow a key frame closely; more only floods it).
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// How long a key frame request may go unanswered before it is sent again.
pub const RETRY: Duration = Duration::from_millis(500);

/// A request to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFrameRequest {
    pub ssrcs: Vec<u32>,
    pub use_pli: bool,
    pub fir_seq: u8,
}

pub struct KeyFrameRequests {
    delay: Duration,
    use_pli: bool,
    fir_seq: u8,
    last_sent: Option<Instant>,
    /// Asked for while a request could not go out: sent when the interval allows.
    pending: bool,
    /// Sent and not answered by a key frame yet.
    awaiting_since: Option<Instant>,
}

impl KeyFrameRequests {
    pub fn new(delay: Duration, use_pli: bool) -> Self {
        KeyFrameRequests { delay, use_pli, fir_seq: 0, last_sent: None, pending: false, awaiting_since: None }
    }

    fn interval(&self) -> Duration {
        self.delay.max(MIN_INTERVAL)
    }

    /// Someone wants a key frame: a request now if allowed (`ssrcs`: the sender's streams,
    /// empty when none is known yet), otherwise one is merged into the next allowed.
    pub fn request(&mut self, now: Instant, ssrcs: Vec<u32>) -> Option<KeyFrameRequest> {
        // A request still unanswered covers this one (retried when overdue).
        if self.awaiting_since.is_some_and(|t| now.saturating_duration_since(t) < RETRY) {
            return None;
        }
        if self.last_sent.is_some_and(|last| now.saturating_duration_since(last) < self.interval()) {
            self.pending = true;
            return None;
        }
        self.emit(now, ssrcs)
    }

    fn emit(&mut self, now: Instant, ssrcs: Vec<u32>) -> Option<KeyFrameRequest> {
        if ssrcs.is_empty() {
            // Nothing received yet: ask again when the delay allows.
            self.pending = true;
            return None;
        }
        self.pending = false;
        self.last_sent = Some(now);
        self.awaiting_since = Some(now);
        self.fir_seq = self.fir_seq.wrapping_add(1);
        Some(KeyFrameRequest { ssrcs, use_pli: self.use_pli, fir_seq: self.fir_seq })
    }

    /// A merged request that is due now.
    pub fn tick(&mut self, now: Instant, ssrcs: impl FnOnce() -> Vec<u32>) -> Option<KeyFrameRequest> {
        if self.pending && self.last_sent.is_none_or(|t| now.saturating_duration_since(t) >= self.interval()) {
            return self.emit(now, ssrcs());
        }
        None
    }

    /// A key frame arrived: requests are answered.
    pub fn key_frame_received(&mut self) {
        self.pending = false;
        self.awaiting_since = None;
    }

    /// Whether an unanswered request is overdue for a retry (or none was sent).
    pub fn retry_due(&self, now: Instant) -> bool {
        self.awaiting_since.is_none_or(|t| now.saturating_duration_since(t) >= RETRY)
    }

    pub fn awaiting(&self) -> bool {
        self.awaiting_since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_within_the_interval_retried_when_unanswered() {
        let t0 = Instant::now();
        let mut k = KeyFrameRequests::new(Duration::from_millis(500), true);
        assert!(k.request(t0, vec![]).is_none(), "no stream known yet");
        let r = k.request(t0, vec![7]).unwrap();
        assert_eq!((r.ssrcs, r.use_pli, r.fir_seq), (vec![7], true, 1));
        // Unanswered: nothing more until the retry time, however many ask.
        for ms in [1, 100, 300, 499] {
            assert!(k.request(t0 + Duration::from_millis(ms), vec![7]).is_none());
        }
        assert!(!k.retry_due(t0 + Duration::from_millis(499)));
        assert!(k.retry_due(t0 + Duration::from_millis(500)));
        assert!(k.request(t0 + Duration::from_millis(510), vec![7]).is_some());
        // Answered, then asked again within the delay: merged into one when the delay allows.
        k.key_frame_received();
        assert!(k.request(t0 + Duration::from_millis(600), vec![7]).is_none());
        assert!(k.tick(t0 + Duration::from_millis(900), || vec![7]).is_none());
        assert_eq!(k.tick(t0 + Duration::from_millis(1010), || vec![7]).unwrap().fir_seq, 3);
        assert!(k.tick(t0 + Duration::from_millis(2000), || vec![7]).is_none(), "nothing pending");
    }
}
