//! Send-side bandwidth estimation towards a viewer, from its transport-wide-cc feedback, in the
//! spirit of libwebrtc's GCC (the estimator mediasoup's worker uses):
//! - delay-based: packets grouped by send time (5 ms bursts); the trend of the one-way delay
//!   variation over the last 20 groups (a smoothed linear fit) against an adaptive threshold
//!   tells overuse, underuse or normal; an AIMD controller then cuts to 85% of what was
//!   acknowledged, holds, or grows (8%/s, never beyond 1.5× what was acknowledged + 10 kbit/s);
//! - loss-based: more than 10% lost over a window cuts the estimate by half the loss;
//! - probing: when consumers are held back, a burst of padding at twice the estimate measures
//!   what the path delivers (its dispersion at the bottleneck), doubling while it succeeds.
//!
//! Sans-IO: sends, feedback and time come in; the estimate and probe requests go out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rtp::rtcp::TwccFeedback;

/// Sent packets remembered by transport-wide sequence number (12 bytes each, allocated on the
/// first send: ~5 s at 200 packets/s, far more than feedback takes to come back).
/// Sent packets remembered for feedback, by transport-wide number modulo the history's size:
/// it starts small and doubles (up to the most) while it would forget packets younger than
/// `HISTORY_KEEP_US`, so a viewer at a few hundred kbit/s holds 3 KiB, not 12.
const HISTORY_MIN: usize = 256;
const HISTORY_MAX: usize = 1024;
const HISTORY_KEEP_US: u32 = 2_000_000;
/// Send-time burst that forms one group.
const BURST_US: i64 = 5_000;
const TRENDLINE_WINDOW: usize = 20;
const SMOOTHING: f64 = 0.9;
const THRESHOLD_GAIN: f64 = 4.0;
const ACKED_WINDOW_US: i64 = 500_000;
/// Padding packet size for probes (bytes on the wire, about).
pub const PROBE_PACKET: usize = 255;
pub const DEFAULT_INITIAL: u64 = 600_000;
const MIN_ESTIMATE: f64 = 30_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Normal,
    Overuse,
    Underuse,
}

#[derive(Clone, Copy, Default)]
struct SentPacket {
    /// µs since the estimator's epoch, low 32 bits (feedback comes back within seconds, the
    /// count wraps after 71 minutes: see [`Congestion::sent_at`]).
    at: u32,
    seq: u16,
    /// Bytes; 0 once reported (or never sent).
    size: u16,
    probe: u16,
}

/// One group of packets sent within a burst.
#[derive(Clone, Copy)]
struct Group {
    first_send: i64,
    last_send: i64,
    last_arrival: i64,
}

struct Trendline {
    window: VecDeque<(f64, f64)>,
    first_arrival_ms: Option<f64>,
    accumulated: f64,
    smoothed: f64,
    num_deltas: u32,
    threshold: f64,
    last_threshold_ms: Option<f64>,
    prev_trend: f64,
    time_over_using: f64,
    overuse_count: u32,
    usage: Usage,
}

impl Default for Trendline {
    fn default() -> Self {
        Trendline {
            window: VecDeque::with_capacity(TRENDLINE_WINDOW + 1),
            first_arrival_ms: None,
            accumulated: 0.0,
            smoothed: 0.0,
            num_deltas: 0,
            threshold: 12.5,
            last_threshold_ms: None,
            prev_trend: 0.0,
            time_over_using: -1.0,
            overuse_count: 0,
            usage: Usage::Normal,
        }
    }
}

impl Trendline {
    fn update(&mut self, send_delta_ms: f64, arrival_delta_ms: f64, arrival_ms: f64) -> Usage {
        self.num_deltas = (self.num_deltas + 1).min(1000);
        self.accumulated += arrival_delta_ms - send_delta_ms;
        self.smoothed = SMOOTHING * self.smoothed + (1.0 - SMOOTHING) * self.accumulated;
        let first = *self.first_arrival_ms.get_or_insert(arrival_ms);
        self.window.push_back((arrival_ms - first, self.smoothed));
        if self.window.len() > TRENDLINE_WINDOW {
            self.window.pop_front();
        }
        let trend = if self.window.len() == TRENDLINE_WINDOW { slope(&self.window).unwrap_or(self.prev_trend) } else { self.prev_trend };
        self.detect(trend, send_delta_ms, arrival_ms);
        self.usage
    }

    fn detect(&mut self, trend: f64, send_delta_ms: f64, now_ms: f64) {
        let modified = f64::from(self.num_deltas.min(60)) * trend * THRESHOLD_GAIN;
        if modified > self.threshold {
            if self.time_over_using < 0.0 {
                self.time_over_using = send_delta_ms / 2.0;
            } else {
                self.time_over_using += send_delta_ms;
            }
            self.overuse_count += 1;
            if self.time_over_using > 10.0 && self.overuse_count > 1 && trend >= self.prev_trend {
                self.time_over_using = 0.0;
                self.overuse_count = 0;
                self.usage = Usage::Overuse;
            }
        } else if modified < -self.threshold {
            self.time_over_using = -1.0;
            self.overuse_count = 0;
            self.usage = Usage::Underuse;
        } else {
            self.time_over_using = -1.0;
            self.overuse_count = 0;
            self.usage = Usage::Normal;
        }
        self.prev_trend = trend;
        // The threshold follows the trend: slowly up, faster down, so that competing flows and
        // noise do not keep it tripping.
        let last = self.last_threshold_ms.replace(now_ms).unwrap_or(now_ms);
        if modified.abs() <= self.threshold + 15.0 {
            let k = if modified.abs() < self.threshold { 0.039 } else { 0.0087 };
            let dt = (now_ms - last).clamp(0.0, 100.0);
            self.threshold = (self.threshold + k * (modified.abs() - self.threshold) * dt).clamp(6.0, 600.0);
        }
    }
}

/// Least-squares slope of (x, y).
fn slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (y - my), b + (x - mx) * (x - mx)));
    (den != 0.0).then(|| num / den)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RateState {
    Hold,
    Increase,
    Decrease,
}

/// A probe burst the transport should send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub id: u16,
    pub target: u64,
    pub packets: usize,
}

struct ProbeRun {
    id: u16,
    target: u64,
    packets: usize,
    started: Instant,
    /// (arrival µs, size) of its packets reported so far.
    arrivals: Vec<(i64, u32)>,
}

/// The estimator of one transport.
pub struct Congestion {
    epoch: Option<Instant>,
    /// The epoch on the engine's clock (µs since it started), once `on_sent_at` needed it.
    epoch_on_clock: Option<i64>,
    history: Vec<SentPacket>,
    group: Option<Group>,
    prev_group: Option<Group>,
    trendline: Trendline,
    state: RateState,
    rate: f64,
    last_update: Option<Instant>,
    /// (arrival µs, size) received within the last window: what the path delivers.
    acked: VecDeque<(i64, u32)>,
    lost: u32,
    reported: u32,
    last_loss_cut: Option<Instant>,
    min: u64,
    max: u64,
    probe: Option<ProbeRun>,
    next_probe_id: u16,
    next_probe_at: Option<Instant>,
    /// Whether any feedback arrived (until then the estimate is the initial one).
    pub active: bool,
    /// Transport-wide-cc feedback arrived (REMB is then ignored).
    twcc: bool,
    pub last_probe_result: Option<u64>,
}

impl Congestion {
    pub fn new(initial: u64) -> Self {
        Congestion {
            epoch: None,
            epoch_on_clock: None,
            history: Vec::new(),
            group: None,
            prev_group: None,
            trendline: Trendline::default(),
            state: RateState::Hold,
            rate: initial as f64,
            last_update: None,
            acked: VecDeque::new(),
            lost: 0,
            reported: 0,
            last_loss_cut: None,
            min: 0,
            max: u64::MAX,
            probe: None,
            next_probe_id: 1,
            next_probe_at: None,
            active: false,
            twcc: false,
            last_probe_result: None,
        }
    }

    /// The estimate, within `setMinOutgoingBitrate()`/`setMaxOutgoingBitrate()`.
    pub fn estimate(&self) -> u64 {
        (self.rate as u64).clamp(self.min, self.max.max(self.min))
    }

    pub fn set_bounds(&mut self, min: Option<u64>, max: Option<u64>) {
        self.min = min.unwrap_or(0);
        self.max = max.unwrap_or(u64::MAX);
    }

    fn us(&mut self, t: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(t);
        t.saturating_duration_since(epoch).as_micros() as i64
    }

    /// A packet with transport-wide sequence number `seq` went out (`probe`: 0, or the id of
    /// the probe it belongs to).
    pub fn on_sent(&mut self, seq: u16, now: Instant, size: usize, probe: u16) {
        let at = self.us(now);
        self.record_sent(seq, at, size, probe);
    }

    /// `on_sent` with `now` also read off the engine's clock (`clock_us`, µs since the engine
    /// started, worked out once for a whole fan-out): no duration computed per packet.
    pub fn on_sent_at(&mut self, seq: u16, now: Instant, clock_us: u64, size: usize, probe: u16) {
        let epoch = match self.epoch_on_clock {
            Some(e) => e,
            None => {
                let e = clock_us as i64 - self.us(now);
                *self.epoch_on_clock.insert(e)
            }
        };
        self.record_sent(seq, clock_us as i64 - epoch, size, probe);
    }

    fn record_sent(&mut self, seq: u16, at: i64, size: usize, probe: u16) {
        if self.history.is_empty() {
            self.history = vec![SentPacket::default(); HISTORY_MIN];
        }
        let at = at as u32;
        let old = self.history[usize::from(seq) % self.history.len()];
        if old.size > 0 && old.seq != seq && at.wrapping_sub(old.at) < HISTORY_KEEP_US && self.history.len() < HISTORY_MAX {
            self.grow_history();
        }
        let len = self.history.len();
        self.history[usize::from(seq) % len] = SentPacket { seq, at, size: size.clamp(1, usize::from(u16::MAX)) as u16, probe };
    }

    /// Twice the room; what is held keeps its number (distinct slots stay distinct).
    fn grow_history(&mut self) {
        let mut bigger = vec![SentPacket::default(); self.history.len() * 2];
        for p in self.history.iter().filter(|p| p.size > 0) {
            let len = bigger.len();
            bigger[usize::from(p.seq) % len] = *p;
        }
        self.history = bigger;
    }

    fn sent(&self, seq: u16) -> Option<SentPacket> {
        let len = self.history.len().max(1);
        self.history.get(usize::from(seq) % len).copied().filter(|p| p.size > 0 && p.seq == seq)
    }

    /// The full send time (µs since the epoch) of a packet sent at most ~35 minutes before `now_us`.
    fn sent_at(now_us: i64, p: &SentPacket) -> i64 {
        now_us - i64::from((now_us as u32).wrapping_sub(p.at))
    }

    fn acked_rate(&self) -> Option<f64> {
        let (first, last) = (self.acked.front()?, self.acked.back()?);
        let span = (last.0 - first.0).max(100_000) as f64 / 1e6;
        let bytes: u64 = self.acked.iter().map(|(_, s)| u64::from(*s)).sum();
        Some(bytes as f64 * 8.0 / span)
    }

    /// A feedback message from the viewer. Returns whether the estimate changed.
    pub fn on_feedback(&mut self, now: Instant, fb: &TwccFeedback) -> bool {
        let before = self.estimate();
        self.active = true;
        self.twcc = true;
        let mut received: Vec<(i64, i64, u32, u16)> = Vec::with_capacity(fb.arrivals.len());
        let now_us = self.us(now);
        for (i, arrival) in fb.arrivals.iter().enumerate() {
            let Some(sent) = self.sent(fb.base.wrapping_add(i as u16)) else { continue };
            // Each packet is reported once: forget it.
            let len = self.history.len();
            self.history[usize::from(sent.seq) % len].size = 0;
            self.reported += 1;
            match arrival {
                Some(a) => received.push((Self::sent_at(now_us, &sent), *a, u32::from(sent.size), sent.probe)),
                None => self.lost += 1,
            }
        }
        received.sort_by_key(|r| r.1);
        for &(_, arrival, size, _) in &received {
            self.acked.push_back((arrival, size));
        }
        if let Some(&(last, _)) = self.acked.back() {
            while self.acked.front().is_some_and(|(a, _)| *a < last - ACKED_WINDOW_US) {
                self.acked.pop_front();
            }
        }
        // Delay-based.
        let mut usage = self.trendline.usage;
        for &(send, arrival, _, _) in &received {
            if let Some((ds, da)) = self.group_deltas(send, arrival) {
                usage = self.trendline.update(ds as f64 / 1000.0, da as f64 / 1000.0, arrival as f64 / 1000.0);
            }
        }
        self.probe_results(now, &received);
        self.rate_control(now, usage);
        self.loss_control(now);
        self.estimate() != before
    }

    /// Groups by send time; the deltas between the last two complete groups.
    fn group_deltas(&mut self, send: i64, arrival: i64) -> Option<(i64, i64)> {
        let Some(g) = self.group.as_mut() else {
            self.group = Some(Group { first_send: send, last_send: send, last_arrival: arrival });
            return None;
        };
        if send < g.first_send {
            return None; // reordered from an older group
        }
        if send - g.first_send <= BURST_US {
            g.last_send = g.last_send.max(send);
            g.last_arrival = g.last_arrival.max(arrival);
            return None;
        }
        let done = *g;
        self.group = Some(Group { first_send: send, last_send: send, last_arrival: arrival });
        let prev = self.prev_group.replace(done)?;
        Some((done.last_send - prev.last_send, done.last_arrival - prev.last_arrival))
    }

    fn rate_control(&mut self, now: Instant, usage: Usage) {
        let dt = self.last_update.map_or(Duration::ZERO, |t| now.saturating_duration_since(t)).min(Duration::from_secs(1));
        self.last_update = Some(now);
        let acked = self.acked_rate();
        self.state = match (usage, self.state) {
            (Usage::Overuse, _) => RateState::Decrease,
            (Usage::Underuse, _) => RateState::Hold,
            (Usage::Normal, RateState::Hold) => RateState::Increase,
            (Usage::Normal, s) => s,
        };
        match self.state {
            RateState::Increase => {
                let grown = (self.rate * 1.08f64.powf(dt.as_secs_f64())).max(self.rate + 1000.0 * dt.as_secs_f64());
                // Never far beyond what the path was seen to deliver.
                let limit = acked.map_or(f64::MAX, |a| 1.5 * a + 10_000.0);
                if grown <= limit {
                    self.rate = grown;
                } else if self.rate < limit {
                    self.rate = limit;
                }
            }
            RateState::Decrease => {
                let cut = acked.map_or(self.rate * 0.85, |a| 0.85 * a);
                if cut < self.rate {
                    self.rate = cut.max(MIN_ESTIMATE);
                }
                self.state = RateState::Hold;
            }
            RateState::Hold => {}
        }
    }

    fn loss_control(&mut self, now: Instant) {
        if self.reported < 20 {
            return;
        }
        let loss = f64::from(self.lost) / f64::from(self.reported);
        self.lost = 0;
        self.reported = 0;
        if loss > 0.10 && self.last_loss_cut.is_none_or(|t| now.saturating_duration_since(t) > Duration::from_millis(300)) {
            self.rate = (self.rate * (1.0 - 0.5 * loss)).max(MIN_ESTIMATE);
            self.last_loss_cut = Some(now);
        }
    }

    /// A REMB from a viewer that negotiated no transport-wide-cc: its estimate is ours.
    pub fn on_remb(&mut self, bitrate: u64) {
        if !self.twcc {
            self.active = true;
            self.rate = (bitrate as f64).max(MIN_ESTIMATE);
        }
    }

    /// A probe to send now, when `desired` (what the consumers would take) is above the
    /// estimate and none ran recently.
    pub fn probe_due(&mut self, now: Instant, desired: u64) -> Option<Probe> {
        let estimate = self.estimate();
        if desired <= estimate || estimate >= self.max || self.next_probe_at.is_some_and(|t| now < t) {
            return None;
        }
        if self.probe.as_ref().is_some_and(|p| now.saturating_duration_since(p.started) < Duration::from_secs(1)) {
            return None; // one at a time
        }
        let target = (estimate * 2).min(self.max).max(estimate + 50_000);
        // About 20 ms of the target rate, at least 5 packets.
        let packets = ((target as f64 * 0.02 / (PROBE_PACKET as f64 * 8.0)).ceil() as usize).clamp(5, 40);
        let id = self.next_probe_id;
        self.next_probe_id = self.next_probe_id.wrapping_add(1).max(1);
        self.probe = Some(ProbeRun { id, target, packets, started: now, arrivals: Vec::new() });
        self.next_probe_at = Some(now + Duration::from_secs(1));
        Some(Probe { id, target, packets })
    }

    fn probe_results(&mut self, now: Instant, received: &[(i64, i64, u32, u16)]) {
        let Some(run) = self.probe.as_mut() else { return };
        run.arrivals.extend(received.iter().filter(|r| r.3 == run.id).map(|r| (r.1, r.2)));
        if run.arrivals.len() * 5 < run.packets * 4 {
            if now.saturating_duration_since(run.started) > Duration::from_secs(1) {
                self.probe = None; // lost: try again later
                self.next_probe_at = Some(now + Duration::from_secs(3));
            }
            return;
        }
        let run = self.probe.take().expect("probe");
        let mut arrivals = run.arrivals;
        arrivals.sort_by_key(|a| a.0);
        let span = (arrivals.last().unwrap().0 - arrivals[0].0).max(1000) as f64 / 1e6;
        let bytes: u64 = arrivals.iter().skip(1).map(|(_, s)| u64::from(*s)).sum();
        // What the bottleneck let through (a burst leaves it at the path's rate), at most what
        // was asked.
        let measured = ((bytes as f64 * 8.0 / span) as u64).min(run.target);
        self.last_probe_result = Some(measured);
        if measured as f64 >= 0.9 * run.target as f64 {
            self.rate = self.rate.max(measured as f64);
            self.next_probe_at = Some(now + Duration::from_millis(200));
        } else {
            self.rate = self.rate.max(measured as f64 * 0.95);
            self.next_probe_at = Some(now + Duration::from_secs(5));
        }
    }

    /// mediasoup's `bwe` trace info.
    pub fn trace_info(&self, desired: u64) -> serde_json::Value {
        serde_json::json!({
            "desiredBitrate": desired,
            "effectiveDesiredBitrate": desired,
            "minBitrate": self.min,
            "maxBitrate": if self.max == u64::MAX { 0 } else { self.max },
            "startBitrate": DEFAULT_INITIAL,
            "maxPaddingBitrate": 0,
            "availableBitrate": self.estimate(),
            "bweType": if self.twcc { "transport-cc" } else { "remb" },
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
