//! mediasoup's ActiveSpeakerObserver: dominant speaker identification after Volfin and Cohen
//! ("Dominant speaker identification for multipoint videoconferencing"), as Jitsi and mediasoup
//! implement it, fed by RFC 6464 audio levels. Each speaker's recent levels give three activity
//! scores over growing time spans (immediate ~20 ms samples, medium 100 ms blocks, long 1 s); a
//! challenger replaces the dominant speaker only when all three ratios exceed thresholds.

use std::time::{Duration, Instant};

use super::ObserverProducer;

const C1: f64 = 3.0;
const C2: f64 = 2.0;
const C3: f64 = 0.0;
const N1: u32 = 13;
const N2: u32 = 5;
const N3: u32 = 10;
const LONG_COUNT: usize = 1;
const LEVEL_IDLE_TIMEOUT: Duration = Duration::from_millis(40);
const SPEAKER_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
const LONG_THRESHOLD: u8 = 4;
const MEDIUM_THRESHOLD: u8 = 7;
const MAX_LEVEL: u8 = 127;
const MIN_LEVEL_WINDOW_LEN: u32 = 15_000 / 20;
const SUBUNIT_LENGTH_N1: u8 = ((MAX_LEVEL as u32 + N1 - 1) / N1) as u8;
const IMMEDIATE_BUFF_LEN: usize = LONG_COUNT * N3 as usize * N2 as usize;
const MEDIUMS_BUFF_LEN: usize = LONG_COUNT * N3 as usize;
const LONGS_BUFF_LEN: usize = LONG_COUNT;
const LEVELS_BUFF_LEN: usize = 50;
const MIN_ACTIVITY_SCORE: f64 = 1e-10;
const SAMPLE: Duration = Duration::from_millis(20);

fn binomial(n: u32, r: u32) -> f64 {
    let r = r.min(n - r);
    let mut c: u64 = 1;
    for i in 1..=u64::from(r) {
        c = c * (u64::from(n) - u64::from(r) + i) / i;
    }
    c as f64
}

/// How likely `v` active sub-units of `n` are under speech vs noise (log), floored.
fn score(v: u8, n: u32, p: f64, lambda: f64) -> f64 {
    let v = u32::from(v).min(n);
    let s = binomial(n, v).ln() + f64::from(v) * p.ln() + f64::from(n - v) * (1.0 - p).ln() - lambda.ln() + lambda * f64::from(v);
    s.max(MIN_ACTIVITY_SCORE)
}

struct Speaker {
    producer: ObserverProducer,
    paused: bool,
    levels: [u8; LEVELS_BUFF_LEN],
    next_level: usize,
    immediates: [u8; IMMEDIATE_BUFF_LEN],
    mediums: [u8; MEDIUMS_BUFF_LEN],
    longs: [u8; LONGS_BUFF_LEN],
    immediate_score: f64,
    medium_score: f64,
    long_score: f64,
    min_level: u8,
    next_min_level: u8,
    next_min_level_window: u32,
    last_level_change: Instant,
}

impl Speaker {
    fn new(producer: ObserverProducer, paused: bool, now: Instant) -> Self {
        Speaker {
            producer,
            paused,
            levels: [0; LEVELS_BUFF_LEN],
            next_level: 0,
            immediates: [0; IMMEDIATE_BUFF_LEN],
            mediums: [0; MEDIUMS_BUFF_LEN],
            longs: [0; LONGS_BUFF_LEN],
            immediate_score: MIN_ACTIVITY_SCORE,
            medium_score: MIN_ACTIVITY_SCORE,
            long_score: MIN_ACTIVITY_SCORE,
            min_level: 0,
            next_min_level: 0,
            next_min_level_window: 0,
            last_level_change: now,
        }
    }

    /// A level (127 − the level byte: loud is high) at `now`; the time since the last one is
    /// filled with it in 20 ms samples (ptime, DTX, gaps), at most the whole buffer.
    fn level_changed(&mut self, level: u8, now: Instant) {
        if now < self.last_level_change {
            return;
        }
        let elapsed = now - self.last_level_change;
        self.last_level_change = now;
        let b = level.min(MAX_LEVEL);
        let samples = ((elapsed.as_millis() / SAMPLE.as_millis()) as usize).clamp(1, LEVELS_BUFF_LEN);
        for _ in 0..samples {
            self.levels[self.next_level] = b;
            self.next_level = (self.next_level + 1) % LEVELS_BUFF_LEN;
        }
        self.update_min_level(b);
    }

    /// The noise floor drops at once to the quietest non-silent level and creeps up (geometric
    /// mean) only after ~15 s of levels at or above it.
    fn update_min_level(&mut self, b: u8) {
        if b == 0 {
            return;
        }
        if self.min_level == 0 || b < self.min_level {
            self.min_level = b;
            self.next_min_level = 0;
            self.next_min_level_window = 0;
        } else if self.next_min_level == 0 {
            self.next_min_level = b;
            self.next_min_level_window = 1;
        } else {
            self.next_min_level = self.next_min_level.min(b);
            self.next_min_level_window += 1;
            if self.next_min_level_window >= MIN_LEVEL_WINDOW_LEN {
                let mean = (f64::from(self.min_level) * f64::from(self.next_min_level)).sqrt();
                self.min_level = (mean as u32).min(u32::from(MAX_LEVEL)) as u8;
                self.next_min_level = 0;
                self.next_min_level_window = 0;
            }
        }
    }

    /// Immediates from the newest level samples (below the floor + 10: zero), then mediums and
    /// longs, each only when what it derives from changed.
    fn eval_scores(&mut self) {
        // mediasoup keeps the threshold in an int8: from a floor of 118 up it wraps negative
        // and nothing is zeroed.
        let threshold = (i16::from(self.min_level) + i16::from(SUBUNIT_LENGTH_N1)) as i8;
        let mut changed = false;
        for i in 0..IMMEDIATE_BUFF_LEN {
            let idx = (self.next_level + LEVELS_BUFF_LEN - 1 - i % LEVELS_BUFF_LEN) % LEVELS_BUFF_LEN;
            let mut level = self.levels[idx];
            if i16::from(level) < i16::from(threshold) {
                level = 0;
            }
            let immediate = level / SUBUNIT_LENGTH_N1;
            if self.immediates[i] != immediate {
                self.immediates[i] = immediate;
                changed = true;
            }
        }
        if !changed {
            return;
        }
        self.immediate_score = score(self.immediates[0], N1, 0.5, 0.78);
        let mut mediums_changed = false;
        for b in 0..MEDIUMS_BUFF_LEN {
            let start = b * N2 as usize;
            let count = self.immediates[start..start + N2 as usize].iter().filter(|i| **i > MEDIUM_THRESHOLD).count() as u8;
            if self.mediums[b] != count {
                self.mediums[b] = count;
                mediums_changed = true;
            }
        }
        if !mediums_changed {
            return;
        }
        self.medium_score = score(self.mediums[0], N2, 0.5, 24.0);
        let longs = self.mediums.iter().filter(|m| **m > LONG_THRESHOLD).count() as u8;
        if self.longs[0] != longs {
            self.longs[0] = longs;
            self.long_score = score(self.longs[0], N3, 0.5, 47.0);
        }
    }
}

pub struct ActiveSpeakerObserver {
    speakers: Vec<Speaker>,
    dominant: Option<ObserverProducer>,
    last_idle_check: Option<Instant>,
}

impl ActiveSpeakerObserver {
    pub fn new() -> Self {
        ActiveSpeakerObserver { speakers: Vec::new(), dominant: None, last_idle_check: None }
    }

    pub fn dominant(&self) -> Option<&ObserverProducer> {
        self.dominant.as_ref()
    }

    /// Adds a speaker; `Err` if it is there already (mediasoup's "Producer already in map").
    pub fn add(&mut self, p: ObserverProducer, paused: bool, now: Instant) -> Result<(), ()> {
        if self.speakers.iter().any(|s| s.producer.key == p.key) {
            return Err(());
        }
        self.speakers.push(Speaker::new(p, paused, now));
        Ok(())
    }

    /// Removes a speaker; if it was the dominant one, another may be announced at once.
    pub fn remove(&mut self, p: &ObserverProducer, now: Instant) -> Option<ObserverProducer> {
        let Some(i) = self.speakers.iter().position(|s| s.producer.key == p.key) else { return None };
        self.speakers.swap_remove(i);
        if self.dominant.as_ref().is_some_and(|d| d.key == p.key) {
            self.dominant = None;
            return self.update(now);
        }
        None
    }

    pub fn producer_paused(&mut self, p: &ObserverProducer, paused: bool) {
        if let Some(s) = self.speakers.iter_mut().find(|s| s.producer.key == p.key) {
            s.paused = paused;
        }
    }

    /// A packet's level byte (0 loudest .. 127 silence).
    pub fn level(&mut self, p: crate::router::producer::ProducerKey, level_byte: u8, now: Instant) {
        if let Some(s) = self.speakers.iter_mut().find(|s| s.producer.key == p) {
            s.level_changed(MAX_LEVEL - level_byte.min(MAX_LEVEL), now);
        }
    }

    /// The interval ended: the new dominant speaker, if it changed.
    pub fn update(&mut self, now: Instant) -> Option<ObserverProducer> {
        if self.last_idle_check.is_none_or(|t| now.saturating_duration_since(t) >= LEVEL_IDLE_TIMEOUT) {
            if self.last_idle_check.is_some() {
                self.timeout_idle_levels(now);
            }
            self.last_idle_check = Some(now);
        }
        if self.speakers.is_empty() {
            return None;
        }
        let candidate = self.calculate()?;
        if self.dominant.as_ref().is_some_and(|d| d.key == candidate.key) {
            return None;
        }
        self.dominant = Some(candidate.clone());
        Some(candidate)
    }

    fn timeout_idle_levels(&mut self, now: Instant) {
        let dominant = self.dominant.as_ref().map(|d| d.key);
        for s in &mut self.speakers {
            let idle = now.saturating_duration_since(s.last_level_change);
            if idle > SPEAKER_IDLE_TIMEOUT && Some(s.producer.key) != dominant {
                s.paused = true;
            } else if idle > LEVEL_IDLE_TIMEOUT {
                s.level_changed(0, now);
            }
        }
    }

    fn calculate(&mut self) -> Option<ObserverProducer> {
        if self.speakers.len() == 1 {
            return Some(self.speakers[0].producer.clone());
        }
        let (reference, mut candidate) = match &self.dominant {
            Some(d) => (self.speakers.iter().position(|s| s.producer.key == d.key)?, None),
            None => (0, Some(self.speakers[0].producer.clone())),
        };
        self.speakers[reference].eval_scores();
        let (d1, d2, d3) = {
            let d = &self.speakers[reference];
            (d.immediate_score, d.medium_score, d.long_score)
        };
        let mut best = C2;
        let dominant_key = self.dominant.as_ref().map(|d| d.key);
        for s in &mut self.speakers {
            if Some(s.producer.key) == dominant_key || s.paused {
                continue;
            }
            s.eval_scores();
            let r1 = (s.immediate_score / d1).ln();
            let r2 = (s.medium_score / d2).ln();
            let r3 = (s.long_score / d3).ln();
            if r1 > C1 && r2 > C2 && r3 > C3 && r2 > best {
                best = r2;
                candidate = Some(s.producer.clone());
            }
        }
        candidate
    }
}

impl Default for ActiveSpeakerObserver {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::Arena;

    fn producers(n: usize) -> Vec<ObserverProducer> {
        let mut a: Arena<()> = Arena::default();
        (0..n).map(|i| ObserverProducer { key: a.insert(()).cast(), id: crate::api::ProducerId::new(&format!("p{i}")) }).collect()
    }

    #[test]
    fn scores_match_the_published_tables() {
        // Immediate, medium and long scores at a few points (the floor stands for "no chance").
        assert!((score(4, N1, 0.5, 0.78) - 0.930).abs() < 0.01);
        assert!((score(9, N1, 0.5, 0.78) - 4.830).abs() < 0.01);
        assert_eq!(score(2, N1, 0.5, 0.78), MIN_ACTIVITY_SCORE);
        assert!((score(1, N2, 0.5, 24.0) - 18.966).abs() < 0.01);
        assert!((score(5, N2, 0.5, 24.0) - 113.356).abs() < 0.01);
        assert!((score(10, N3, 0.5, 47.0) - 459.218).abs() < 0.01);
    }

    /// Runs `secs` of 20 ms packets, each speaker at its level byte (given per speaker by
    /// `levels(t)`), ticking every 300 ms; returns the dominant-speaker changes with their times.
    fn run(o: &mut ActiveSpeakerObserver, ps: &[ObserverProducer], t0: Instant, from_ms: u64, to_ms: u64, levels: impl Fn(u64) -> Vec<u8>) -> Vec<(u64, String)> {
        let mut changes = Vec::new();
        let mut ms = from_ms;
        while ms < to_ms {
            let now = t0 + Duration::from_millis(ms);
            for (p, l) in ps.iter().zip(levels(ms)) {
                o.level(p.key, l, now);
            }
            if ms > 0 && ms % 300 == 0 {
                if let Some(d) = o.update(now) {
                    changes.push((ms, d.id.to_string()));
                }
            }
            ms += 20;
        }
        changes
    }

    #[test]
    fn the_loud_speaker_dominates_and_the_floor_is_learned() {
        let ps = producers(3);
        let t0 = Instant::now();
        let mut o = ActiveSpeakerObserver::new();
        for p in &ps {
            o.add(p.clone(), false, t0).unwrap();
        }
        assert!(o.add(ps[0].clone(), false, t0).is_err(), "already in map");
        // One second of everybody at the floor (−73 dBov), then p1 speaks (−13 dBov).
        let quiet = 73u8;
        let loud = 13u8;
        let changes = run(&mut o, &ps, t0, 0, 1000, |_| vec![quiet, quiet, quiet]);
        // With no dominant yet the first speaker is announced.
        assert_eq!(changes, [(300, "p0".to_string())]);
        let changes = run(&mut o, &ps, t0, 1000, 4000, |_| vec![quiet, loud, quiet]);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].1, "p1");
        assert!(changes[0].0 <= 2500, "switched within 1.5 s: {changes:?}");
        // p1 stops, p2 speaks: p2 takes over within a second or so (p1's loud blocks age out).
        let changes = run(&mut o, &ps, t0, 4000, 7000, |_| vec![quiet, quiet, loud]);
        assert_eq!(changes.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(), ["p2"]);
        assert!(changes[0].0 - 4000 <= 1500, "{changes:?}");
        // Silence everywhere: the last dominant stays.
        assert!(run(&mut o, &ps, t0, 7000, 9000, |_| vec![127, 127, 127]).is_empty());
        assert_eq!(o.dominant().unwrap().id.as_str(), "p2");
    }

    #[test]
    fn a_steady_tone_is_noise_and_never_wins_a_challenge() {
        let ps = producers(2);
        let t0 = Instant::now();
        let mut o = ActiveSpeakerObserver::new();
        for p in &ps {
            o.add(p.clone(), false, t0).unwrap();
        }
        // p1 is loud from its first packet (its floor is its level): it never beats p0.
        let changes = run(&mut o, &ps, t0, 0, 5000, |_| vec![90, 13]);
        assert_eq!(changes, [(300, "p0".to_string())]);
    }

    #[test]
    fn removing_the_dominant_announces_another_at_once_and_paused_ones_never_challenge() {
        let ps = producers(3);
        let t0 = Instant::now();
        let mut o = ActiveSpeakerObserver::new();
        for p in &ps {
            o.add(p.clone(), p.id.as_str() == "p2", t0).unwrap();
        }
        // p2 (paused) is loud after a quiet second: it cannot challenge p0.
        run(&mut o, &ps, t0, 0, 1000, |_| vec![73, 73, 73]);
        let changes = run(&mut o, &ps, t0, 1000, 3000, |_| vec![73, 73, 13]);
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(o.dominant().unwrap().id.as_str(), "p0");
        // With no dominant speaker the first in the list is chosen, paused or not (removal moves
        // the last speaker into the freed place, as mediasoup's map does: p2).
        let next = o.remove(&ps[0], t0 + Duration::from_millis(3000));
        assert_eq!(next.map(|p| p.id.to_string()).as_deref(), Some("p2"));
        assert!(o.remove(&ps[2], t0 + Duration::from_millis(3100)).is_some_and(|p| p.id.as_str() == "p1"));
        // The last one goes: nobody is announced.
        assert!(o.remove(&ps[1], t0 + Duration::from_millis(3200)).is_none());
    }
}
