//! RTP observers of a router (mediasoup's AudioLevelObserver and ActiveSpeakerObserver): fed
//! the audio level of every packet of the producers added to them, they report on a timer
//! (`volumes`/`silence`, `dominantspeaker`) as events on the observer.

pub mod active_speaker;
pub mod audio_level;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::{ApiError, ApiResult, ProducerId, RtpObserverId};
use crate::arena::{Arena, Key};
use crate::engine::io::Outbox;
use crate::router::producer::ProducerKey;

use active_speaker::ActiveSpeakerObserver;
use audio_level::{AudioLevelObserver, Report};

pub type ObserverKey = Key<RtpObserver>;

/// A producer as observers know it (its id names it in events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObserverProducer {
    pub key: ProducerKey,
    pub id: ProducerId,
}

pub enum Kind {
    AudioLevel(AudioLevelObserver),
    ActiveSpeaker(ActiveSpeakerObserver),
}

pub struct RtpObserver {
    pub id: RtpObserverId,
    kind: Kind,
    interval: Duration,
    paused: bool,
    next_tick: Option<Instant>,
    producers: Vec<ProducerKey>,
}

/// The observers of one router, and which observe each producer.
#[derive(Default)]
pub struct RtpObservers {
    observers: Arena<RtpObserver>,
    ids: HashMap<RtpObserverId, ObserverKey>,
    /// In creation order (dumps).
    order: Vec<ObserverKey>,
    by_producer: HashMap<ProducerKey, Vec<ObserverKey>>,
    /// The latest time it was told (for changes that come without one, e.g. a producer closing).
    now: Option<Instant>,
}

impl RtpObservers {
    pub fn is_empty(&self) -> bool {
        self.observers.is_empty()
    }

    pub fn key(&self, id: &str) -> Option<ObserverKey> {
        self.ids.get(&RtpObserverId::new(id)).copied()
    }

    pub fn ids(&self) -> Vec<String> {
        self.order.iter().filter_map(|k| self.observers.get(*k)).map(|o| o.id.to_string()).collect()
    }

    fn insert(&mut self, id: RtpObserverId, kind: Kind, interval: Duration, now: Instant) -> ApiResult<ObserverKey> {
        if self.ids.contains_key(&id) {
            return Err(ApiError::other("an RtpObserver with same id already exists"));
        }
        self.now = Some(now);
        let k = self.observers.insert(RtpObserver { id: id.clone(), kind, interval, paused: false, next_tick: Some(now + interval), producers: Vec::new() });
        self.ids.insert(id, k);
        self.order.push(k);
        Ok(k)
    }

    /// `router.createAudioLevelObserver()`: interval clamped to 250..=5000 ms as mediasoup does.
    pub fn create_audio_level(&mut self, id: RtpObserverId, max_entries: u16, threshold: i8, interval_ms: u64, now: Instant) -> ApiResult<ObserverKey> {
        if threshold > 0 {
            return Err(ApiError::type_error(format!("invalid threshold value {threshold}")));
        }
        let interval = Duration::from_millis(interval_ms.clamp(250, 5000));
        self.insert(id, Kind::AudioLevel(AudioLevelObserver::new(max_entries, threshold)), interval, now)
    }

    /// `router.createActiveSpeakerObserver()`: interval clamped to 100..=5000 ms.
    pub fn create_active_speaker(&mut self, id: RtpObserverId, interval_ms: u64, now: Instant) -> ApiResult<ObserverKey> {
        let interval = Duration::from_millis(interval_ms.clamp(100, 5000));
        self.insert(id, Kind::ActiveSpeaker(ActiveSpeakerObserver::new()), interval, now)
    }

    /// Closes an observer (no event: the app closed it).
    pub fn close(&mut self, k: ObserverKey) -> Option<RtpObserverId> {
        let o = self.observers.remove(k)?;
        self.ids.remove(&o.id);
        self.order.retain(|x| *x != k);
        for pk in &o.producers {
            if let Some(list) = self.by_producer.get_mut(pk) {
                list.retain(|x| *x != k);
            }
        }
        Some(o.id)
    }

    /// `rtpObserver.addProducer()`: audio producers only.
    pub fn add_producer(&mut self, k: ObserverKey, p: ObserverProducer, audio: bool, paused: bool, now: Instant) -> ApiResult<()> {
        let o = self.observers.get_mut(k).ok_or_else(|| ApiError::not_found("RtpObserver not found"))?;
        if !audio {
            return Err(ApiError::type_error("not an audio Producer"));
        }
        match &mut o.kind {
            Kind::AudioLevel(a) => a.add(p.clone(), paused),
            Kind::ActiveSpeaker(a) => a.add(p.clone(), paused, now).map_err(|()| ApiError::other("Producer already in map"))?,
        }
        if !o.producers.contains(&p.key) {
            o.producers.push(p.key);
            self.by_producer.entry(p.key).or_default().push(k);
        }
        Ok(())
    }

    /// `rtpObserver.removeProducer()` (a no-op for a producer it does not have).
    pub fn remove_producer(&mut self, k: ObserverKey, p: &ObserverProducer, now: Instant, out: &mut Outbox) {
        let Some(o) = self.observers.get_mut(k) else { return };
        Self::detach(o, p, now, out);
        if let Some(list) = self.by_producer.get_mut(&p.key) {
            list.retain(|x| *x != k);
        }
    }

    fn detach(o: &mut RtpObserver, p: &ObserverProducer, now: Instant, out: &mut Outbox) {
        o.producers.retain(|x| *x != p.key);
        match &mut o.kind {
            Kind::AudioLevel(a) => a.remove(p),
            Kind::ActiveSpeaker(a) => {
                if let Some(next) = a.remove(p, now) {
                    dominant(out, &o.id, &next);
                }
            }
        }
    }

    /// A producer closed: it leaves every observer (an active speaker one may announce another
    /// dominant speaker at once).
    pub fn producer_closed(&mut self, p: &ObserverProducer, out: &mut Outbox) {
        let Some(now) = self.now else { return };
        for k in self.by_producer.remove(&p.key).unwrap_or_default() {
            if let Some(o) = self.observers.get_mut(k) {
                Self::detach(o, p, now, out);
            }
        }
    }

    pub fn producer_paused(&mut self, p: &ObserverProducer, paused: bool) {
        for k in self.by_producer.get(&p.key).cloned().unwrap_or_default() {
            let Some(o) = self.observers.get_mut(k) else { continue };
            match &mut o.kind {
                Kind::AudioLevel(a) => a.producer_paused(p.clone(), paused),
                Kind::ActiveSpeaker(a) => a.producer_paused(p, paused),
            }
        }
    }

    /// Whether any observer has this producer (its packets' levels are wanted).
    pub fn observes(&self, pk: ProducerKey) -> bool {
        self.by_producer.get(&pk).is_some_and(|l| !l.is_empty())
    }

    /// One packet's level byte for producer `p`.
    pub fn level(&mut self, p: ProducerKey, level: u8, now: Instant) {
        self.now = Some(now);
        for k in self.by_producer.get(&p).map(|l| l.as_slice()).unwrap_or_default() {
            let Some(o) = self.observers.get_mut(*k) else { continue };
            if o.paused {
                continue;
            }
            match &mut o.kind {
                Kind::AudioLevel(a) => a.level(p, level),
                Kind::ActiveSpeaker(a) => a.level(p, level, now),
            }
        }
    }

    pub fn pause(&mut self, k: ObserverKey, out: &mut Outbox) -> ApiResult<()> {
        let o = self.observers.get_mut(k).ok_or_else(|| ApiError::not_found("RtpObserver not found"))?;
        if o.paused {
            return Ok(());
        }
        o.paused = true;
        o.next_tick = None;
        if let Kind::AudioLevel(a) = &mut o.kind {
            if let Some(r) = a.pause() {
                report(out, &o.id, r);
            }
        }
        Ok(())
    }

    pub fn resume(&mut self, k: ObserverKey, now: Instant) -> ApiResult<()> {
        let o = self.observers.get_mut(k).ok_or_else(|| ApiError::not_found("RtpObserver not found"))?;
        if o.paused {
            o.paused = false;
            o.next_tick = Some(now + o.interval);
        }
        Ok(())
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.observers.iter().filter_map(|(_, o)| o.next_tick).min()
    }

    /// Observers whose interval ended report.
    pub fn tick(&mut self, now: Instant, out: &mut Outbox) {
        self.now = Some(now);
        for (_, o) in self.observers.iter_mut() {
            let Some(due) = o.next_tick.filter(|d| *d <= now) else { continue };
            // Keep the cadence; after a long stall start again from now.
            let next = due + o.interval;
            o.next_tick = Some(if next <= now { now + o.interval } else { next });
            match &mut o.kind {
                Kind::AudioLevel(a) => {
                    if let Some(r) = a.update() {
                        report(out, &o.id, r);
                    }
                }
                Kind::ActiveSpeaker(a) => {
                    if let Some(d) = a.update(now) {
                        dominant(out, &o.id, &d);
                    }
                }
            }
        }
    }

    /// For `router.dump()`'s `mapProducerIdObserverIds`.
    pub fn observer_ids_of(&self, pk: ProducerKey) -> Vec<String> {
        self.by_producer.get(&pk).map(|l| l.iter().filter_map(|k| self.observers.get(*k)).map(|o| o.id.to_string()).collect()).unwrap_or_default()
    }
}

fn report(out: &mut Outbox, id: &RtpObserverId, r: Report) {
    match r {
        Report::Volumes(v) => {
            let list: Vec<Value> = v.iter().map(|(p, volume)| json!({ "producerId": p.id.as_str(), "volume": volume })).collect();
            out.event(id.arc(), "volumes", Value::Array(list));
        }
        Report::Silence => out.event(id.arc(), "silence", Value::Null),
    }
}

fn dominant(out: &mut Outbox, id: &RtpObserverId, p: &ObserverProducer) {
    out.event(id.arc(), "dominantspeaker", json!({ "producerId": p.id.as_str() }));
}
