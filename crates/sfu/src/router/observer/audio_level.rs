//! mediasoup's AudioLevelObserver: every interval, the producers whose RFC 6464 level averaged
//! over the interval is at or above a threshold, loudest first (`volumes`), or, once when that
//! set becomes empty, `silence`.

use super::ObserverProducer;

/// Fewer level-carrying packets than this in an interval: the producer is not reported.
const MIN_PACKETS: u32 = 10;

pub struct AudioLevelObserver {
    max_entries: usize,
    /// dBov, −127..=0.
    threshold: i8,
    /// Per producer: (sum of level bytes, count) this interval. Paused producers have none.
    levels: Vec<(ObserverProducer, u32, u32)>,
    silence: bool,
}

/// What an interval ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// (producer, volume in dBov), loudest first.
    Volumes(Vec<(ObserverProducer, i8)>),
    Silence,
}

impl AudioLevelObserver {
    pub fn new(max_entries: u16, threshold: i8) -> Self {
        AudioLevelObserver { max_entries: usize::from(max_entries.max(1)), threshold, levels: Vec::new(), silence: true }
    }

    pub fn add(&mut self, p: ObserverProducer, paused: bool) {
        if !paused && !self.levels.iter().any(|(x, ..)| x.key == p.key) {
            self.levels.push((p, 0, 0));
        }
    }

    pub fn remove(&mut self, p: &ObserverProducer) {
        self.levels.retain(|(x, ..)| x.key != p.key);
    }

    /// A producer paused (its entry goes) or resumed (a fresh one).
    pub fn producer_paused(&mut self, p: ObserverProducer, paused: bool) {
        self.remove(&p);
        self.add(p, paused);
    }

    pub fn level(&mut self, p: crate::router::producer::ProducerKey, level: u8) {
        if let Some(e) = self.levels.iter_mut().find(|(x, ..)| x.key == p) {
            e.1 += u32::from(level);
            e.2 += 1;
        }
    }

    /// The observer paused: what was gathered goes; `silence` if there was sound.
    pub fn pause(&mut self) -> Option<Report> {
        self.reset();
        (!std::mem::replace(&mut self.silence, true)).then_some(Report::Silence)
    }

    fn reset(&mut self) {
        for e in &mut self.levels {
            e.1 = 0;
            e.2 = 0;
        }
    }

    /// The interval ended.
    pub fn update(&mut self) -> Option<Report> {
        let mut loud: Vec<(ObserverProducer, i8)> = self
            .levels
            .iter()
            .filter(|(_, _, count)| *count >= MIN_PACKETS)
            .map(|(p, sum, count)| (p.clone(), -((sum / count).min(127) as i8)))
            .filter(|(_, volume)| *volume >= self.threshold)
            .collect();
        self.reset();
        if loud.is_empty() {
            return (!std::mem::replace(&mut self.silence, true)).then_some(Report::Silence);
        }
        self.silence = false;
        // Loudest first; among equals the later-added first (as mediasoup's multimap yields them).
        loud.reverse();
        loud.sort_by(|a, b| b.1.cmp(&a.1));
        loud.truncate(self.max_entries);
        Some(Report::Volumes(loud))
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

    fn feed(o: &mut AudioLevelObserver, p: &ObserverProducer, level: u8, packets: u32) {
        for _ in 0..packets {
            o.level(p.key, level);
        }
    }

    fn names(r: &Option<Report>) -> Vec<(String, i8)> {
        match r {
            Some(Report::Volumes(v)) => v.iter().map(|(p, vol)| (p.id.to_string(), *vol)).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn volumes_loudest_first_above_the_threshold_then_one_silence() {
        let ps = producers(3);
        let mut o = AudioLevelObserver::new(2, -50);
        for p in &ps {
            o.add(p.clone(), false);
        }
        // Nothing heard yet: no silence at start.
        assert_eq!(o.update(), None);
        feed(&mut o, &ps[0], 30, 50);
        feed(&mut o, &ps[1], 10, 50);
        feed(&mut o, &ps[2], 20, 50);
        assert_eq!(names(&o.update()), [("p1".to_string(), -10), ("p2".to_string(), -20)], "two loudest, loudest first");
        // The average over the interval, truncated like mediasoup (−floor(mean)).
        feed(&mut o, &ps[0], 40, 25);
        feed(&mut o, &ps[0], 45, 25);
        feed(&mut o, &ps[1], 70, 50);
        feed(&mut o, &ps[2], 0, 5); // too few packets
        assert_eq!(names(&o.update()), [("p0".to_string(), -42)]);
        // All below the threshold: one silence, then nothing.
        feed(&mut o, &ps[0], 90, 50);
        assert_eq!(o.update(), Some(Report::Silence));
        assert_eq!(o.update(), None);
        // Sound again, then the observer pauses: silence at once.
        feed(&mut o, &ps[2], 5, 50);
        assert_eq!(names(&o.update()), [("p2".to_string(), -5)]);
        assert_eq!(o.pause(), Some(Report::Silence));
        assert_eq!(o.pause(), None);
    }

    #[test]
    fn paused_and_removed_producers_are_not_reported() {
        let ps = producers(2);
        let mut o = AudioLevelObserver::new(5, -80);
        o.add(ps[0].clone(), false);
        o.add(ps[1].clone(), true);
        feed(&mut o, &ps[0], 10, 20);
        feed(&mut o, &ps[1], 10, 20);
        assert_eq!(names(&o.update()), [("p0".to_string(), -10)]);
        o.producer_paused(ps[1].clone(), false);
        o.remove(&ps[0]);
        feed(&mut o, &ps[0], 10, 20);
        feed(&mut o, &ps[1], 3, 20);
        assert_eq!(names(&o.update()), [("p1".to_string(), -3)]);
    }
}
