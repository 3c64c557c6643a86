use super::*;

/// A bottleneck: a drop-tail queue drained at `cap` bit/s (at most 200 ms of queue), 10 ms of
/// propagation, and random loss.
pub(crate) struct Path {
    pub(crate) cap: f64,
    free_at: i64,
    pub(crate) loss: f64,
    rng: u64,
}

impl Path {
    pub(crate) fn new(cap: f64, loss: f64) -> Path {
        Path { cap, free_at: 0, loss, rng: 0x9e37_79b9_7f4a_7c15 }
    }

    fn random(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1_000_000) as f64 / 1e6
    }

    /// Arrival (µs) of a packet sent at `at` µs, or `None` if it was lost or dropped.
    pub(crate) fn pass(&mut self, at: i64, size: usize) -> Option<i64> {
        if self.random() < self.loss {
            return None;
        }
        let start = at.max(self.free_at);
        if start - at > 200_000 {
            return None;
        }
        self.free_at = start + (size as f64 * 8.0 / self.cap * 1e6) as i64;
        Some(self.free_at + 10_000)
    }
}

/// A sender of `rate(estimate)` bit/s in 1,000-byte packets through `path` for `secs`, feedback
/// every 50 ms; probes sent as bursts when `desired` is above the estimate. The estimate each
/// 500 ms.
fn drive(c: &mut Congestion, path: &mut Path, secs: u64, desired: u64, rate: impl Fn(u64) -> u64) -> Vec<u64> {
    let t0 = Instant::now();
    let mut seq = 0u16;
    let mut pending: Vec<(u16, Option<i64>)> = Vec::new();
    let mut next_send = 0i64;
    let mut trace = Vec::new();
    for ms in 0..secs as i64 * 1000 {
        let now = t0 + Duration::from_millis(ms as u64);
        let us = ms * 1000;
        while next_send <= us {
            c.on_sent(seq, now, 1000, 0);
            pending.push((seq, path.pass(us, 1000)));
            seq = seq.wrapping_add(1);
            next_send += (1000.0 * 8.0 / rate(c.estimate()) as f64 * 1e6) as i64;
        }
        if let Some(p) = c.probe_due(now, desired) {
            for _ in 0..p.packets {
                c.on_sent(seq, now, PROBE_PACKET, p.id);
                pending.push((seq, path.pass(us, PROBE_PACKET)));
                seq = seq.wrapping_add(1);
            }
        }
        if ms % 50 == 49 {
            // Report what has arrived by now (and what was lost before it).
            let cut = pending.iter().rposition(|(_, a)| a.is_some_and(|a| a <= us)).map_or(0, |i| i + 1);
            if cut > 0 {
                let batch: Vec<_> = pending.drain(..cut).collect();
                let fb = TwccFeedback { base: batch[0].0, arrivals: batch.iter().map(|(_, a)| *a).collect() };
                c.on_feedback(now, &fb);
            }
        }
        if ms % 500 == 499 {
            trace.push(c.estimate());
        }
    }
    eprintln!("{trace:?}");
    trace
}

#[test]
fn a_sender_above_the_capacity_is_brought_down_to_it() {
    let mut c = Congestion::new(1_500_000);
    let mut path = Path::new(500_000.0, 0.0);
    // Sends what the estimate allows.
    let trace = drive(&mut c, &mut path, 10, 0, |e| e);
    let settled = &trace[6..];
    assert!(trace[3] < 700_000, "down within 2 s: {trace:?}");
    assert!(settled.iter().all(|&e| (350_000..=650_000).contains(&e)), "around the capacity: {trace:?}");
}

#[test]
fn an_idle_path_keeps_its_estimate_and_grows_only_with_what_is_sent() {
    let mut c = Congestion::new(600_000);
    let mut path = Path::new(3_000_000.0, 0.0);
    let trace = drive(&mut c, &mut path, 5, 0, |_| 400_000);
    assert!(trace.iter().all(|&e| e >= 600_000), "no cut without congestion: {trace:?}");
    assert!(*trace.last().unwrap() <= 1_000_000, "not far beyond 1.5× what is sent: {trace:?}");
}

#[test]
fn probes_find_headroom_quickly_and_stop_at_the_capacity() {
    let mut c = Congestion::new(300_000);
    let mut path = Path::new(3_000_000.0, 0.0);
    let trace = drive(&mut c, &mut path, 8, 5_000_000, |_| 150_000);
    assert!(trace[5] >= 2_000_000, "found within 3 s: {trace:?}");
    assert!(trace.iter().all(|&e| e <= 3_300_000), "not beyond the path: {trace:?}");
    assert!(c.last_probe_result.is_some());
}

#[test]
fn heavy_loss_cuts_moderate_loss_does_not() {
    let mut c = Congestion::new(1_000_000);
    let trace = drive(&mut c, &mut Path::new(10_000_000.0, 0.05), 5, 0, |_| 800_000);
    assert!(trace.iter().all(|&e| e >= 1_000_000), "5% loss keeps the estimate: {trace:?}");
    let mut c = Congestion::new(1_000_000);
    let trace = drive(&mut c, &mut Path::new(10_000_000.0, 0.25), 3, 0, |_| 800_000);
    assert!(*trace.last().unwrap() < 700_000, "25% loss cuts: {trace:?}");
}

#[test]
fn remb_is_the_estimate_only_without_transport_cc() {
    let mut c = Congestion::new(600_000);
    c.on_remb(250_000);
    assert!(c.active);
    assert_eq!(c.estimate(), 250_000);
    let mut path = Path::new(3_000_000.0, 0.0);
    drive(&mut c, &mut path, 1, 0, |_| 200_000);
    let after = c.estimate();
    c.on_remb(50_000);
    assert_eq!(c.estimate(), after, "ignored once transport-cc feedback flows");
}

#[test]
fn bounds_and_garbage_feedback() {
    let mut c = Congestion::new(600_000);
    c.set_bounds(Some(700_000), Some(800_000));
    assert_eq!(c.estimate(), 700_000);
    c.set_bounds(None, Some(100_000));
    assert_eq!(c.estimate(), 100_000);
    // Feedback for numbers never sent, or empty, changes nothing and never panics.
    let now = Instant::now();
    assert!(!c.on_feedback(now, &TwccFeedback { base: 65_000, arrivals: vec![Some(i64::MIN), None, Some(i64::MAX)] }));
    assert!(!c.on_feedback(now, &TwccFeedback::default()));
}

#[test]
fn the_send_history_stays_small_and_grows_with_the_packet_rate() {
    assert_eq!(std::mem::size_of::<SentPacket>(), 12);
    // A viewer at ~100 packets/s: 256 numbers hold 2.5 s, the history never grows (3 KiB).
    let t0 = Instant::now();
    let mut c = Congestion::new(DEFAULT_INITIAL);
    for i in 0..3000u32 {
        c.on_sent(i as u16, t0 + Duration::from_millis(u64::from(i) * 10), 1000, 0);
    }
    assert_eq!(c.history.len(), HISTORY_MIN);
    // At 1,000 packets/s it doubles until 2 s fit or it is at its most; packets sent in the
    // last second are still known when their feedback comes.
    let mut c = Congestion::new(DEFAULT_INITIAL);
    let at = |i: u32| t0 + Duration::from_millis(u64::from(i));
    for i in 0..5000u32 {
        c.on_sent(i as u16, at(i), 1000, 0);
    }
    assert_eq!(c.history.len(), HISTORY_MAX);
    assert!((4000..5000u16).all(|seq| c.sent(seq).is_some()), "the last second's numbers are known");
    let arrivals = (0..900).map(|k| Some(i64::from(k) * 1000)).collect();
    c.on_feedback(at(5000), &TwccFeedback { base: 4100, arrivals });
    assert!((4100..5000u16).all(|seq| c.sent(seq).is_none()), "reported once, then forgotten");
    // Numbers that wrap keep their slots across a growth.
    let mut c = Congestion::new(DEFAULT_INITIAL);
    for i in 0..600u32 {
        c.on_sent(65_300u16.wrapping_add(i as u16), at(i), 1000, 0);
    }
    assert!(c.history.len() >= 512);
    for i in 100..600u32 {
        assert!(c.sent(65_300u16.wrapping_add(i as u16)).is_some(), "{i}");
    }
}

#[test]
fn send_times_come_back_whole_across_the_32_bit_wrap() {
    // Kept as the low 32 bits of µs: a packet sent just before the count wraps (71.6 min in)
    // and reported just after reads as sent 1 ms before, not 71 minutes later.
    let sent = SentPacket { at: u32::MAX - 499, seq: 1, size: 100, probe: 0 };
    let now_us = (1i64 << 32) + 500;
    assert_eq!(Congestion::sent_at(now_us, &sent), (1i64 << 32) - 500);
    assert_eq!(Congestion::sent_at(1_000_000, &SentPacket { at: 999_000, ..sent }), 999_000);
}

#[test]
fn sends_recorded_with_the_engine_clock_keep_the_same_times() {
    // The fan-out's path (µs on the engine's clock) and the plain one (an Instant) agree, to the
    // µs, whenever the estimator's first send came.
    let base = Instant::now();
    let clock = crate::clock::Clock::new(base, std::time::SystemTime::now());
    let (mut plain, mut stamped) = (Congestion::new(1_000_000), Congestion::new(1_000_000));
    for i in 0..300u16 {
        let now = base + Duration::from_micros(1_234_567 + u64::from(i) * 3_333);
        plain.on_sent(i, now, 1000, 0);
        stamped.on_sent_at(i, now, clock.at(now).micros(now), 1000, 0);
        let (a, b) = (plain.sent(i).unwrap().at, stamped.sent(i).unwrap().at);
        assert!(a.abs_diff(b) <= 1, "{i}: {a} vs {b}");
    }
}
