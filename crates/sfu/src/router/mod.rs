//! Router: one media room. It owns the room's producers and consumers and moves media between
//! its transports: RTP a producer receives fans out to each of its consumers (each does its own
//! rewriting, replay and layer choice), RTCP feedback from viewers goes to the consumer it names
//! and key frame requests up to the producer's sender. Periodic work (reports, NACKs, feedback,
//! scores) runs on its tick. It knows nothing of sockets: transports carry its packets.

pub mod allocation;
pub mod consumer;
pub mod data;
pub mod observer;
pub mod producer;
pub mod rtp_listener;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::request::{Consume, Produce};
use crate::api::{ApiError, ApiResult, Body, ConsumerId, JsonObject, MediaKind, ProducerId, Reply, RouterId};
use crate::arena::{Arena, Key};
use crate::clock::Clock;
use crate::engine::io::Outbox;
use crate::net::rng::Rng;
use crate::rtp::rtcp::{self, Feedback};
use crate::rtp::{self, SharedPacket};
use crate::trace::{TraceType, TraceTypes};
use crate::transport::{Transport, TransportKey};

use consumer::simulcast::{Budget, StreamState, ACTIVE_WINDOW};
use consumer::{Consumer, ConsumerKey, ConsumerType, MediaOut, NewConsumer};
use observer::{ObserverKey, ObserverProducer, RtpObservers};
use data::{DataConsumer, DataConsumerKey, DataProducer, DataProducerKey, DataRouter, DataType, Message, StreamParameters};
use producer::{KeyFrameCacheConfig, KeyFrameRequest, NewProducer, Producer, ProducerKey};

pub type RouterKey = Key<Router>;

const TICK: Duration = Duration::from_millis(20);
/// Most replayed packets one input (a packet, a wake-up, a connection...) sends: ~0.5 ms of the
/// thread (a replayed packet with its timestamp rewritten costs a few µs).
const REPLAY_BUDGET: usize = 128;
/// How often simulcast consumers' layers and their transports' budgets are reconsidered.
const LAYERS_INTERVAL: Duration = Duration::from_millis(100);
const TWCC_INTERVAL: Duration = Duration::from_millis(100);
const REPORT_INTERVAL: Duration = Duration::from_millis(1000);
/// Ticks in a report interval: each stream reports at one of them.
const REPORT_SLOTS: u32 = (REPORT_INTERVAL.as_millis() / TICK.as_millis()) as u32;
const SCORE_INTERVAL: Duration = Duration::from_millis(2000);

impl MediaOut for Transport {
    fn next_twcc_seq(&mut self) -> u16 {
        let seq = self.media.next_twcc_seq();
        self.media.pending_twcc = Some(seq);
        seq
    }
    fn pads_video(&self) -> bool {
        matches!(self.link, crate::transport::Link::WebRtc(_) | crate::transport::Link::Plain(_))
    }
    fn send_rtp(&mut self, now: Instant, clock: &Clock, data: Vec<u8>, consumer: &ConsumerId, out: &mut Outbox) -> bool {
        // Sends with a transport-wide number are remembered for the viewer's feedback.
        let twcc = self.media.pending_twcc.take().map(|seq| (seq, data.len()));
        let sent = Transport::send_consumer_rtp(self, now, data, consumer, out);
        if let Some((seq, len)) = twcc {
            let probe = self.media.probing;
            self.media.congestion.on_sent_at(seq, now, clock.micros(now), len, probe);
        }
        sent
    }
}

pub struct Router {
    id: RouterId,
    pub rtp_capabilities: Value,
    /// Default for producers' key frame caches.
    key_frame_cache: Option<KeyFrameCacheConfig>,
    /// Its transports, in creation order.
    transports: Vec<TransportKey>,
    producers: Arena<Producer>,
    consumers: Arena<Consumer>,
    producer_ids: HashMap<ProducerId, ProducerKey>,
    consumer_ids: HashMap<ConsumerId, ConsumerKey>,
    /// Some consumer may be replaying (its next packet sets the next wake-up).
    replays_active: bool,
    /// Replayed packets the current input may still send (refilled per packet, tick, connection
    /// and feedback): what a burst of joins replays beyond it goes at the next wake-ups.
    replay_budget: usize,
    pub observers: RtpObservers,
    pub data: DataRouter,
    /// Ids of producers and consumers removed since the engine last asked (so that it forgets
    /// their handlers).
    removed: Vec<String>,
    next_tick: Option<Instant>,
    last_twcc: Option<Instant>,
    /// Ticks so far: which share of the streams reports at the next.
    report_round: u32,
    last_score: Option<Instant>,
    last_layers: Option<Instant>,
    /// Capabilities consumers came with lately, validated, and what `consume()` derived from
    /// them per producer: joins mostly bring the same capabilities (one browser's), and the ORTC
    /// work on JSON (~90 µs a consume) was most of a join's cost on the worker thread.
    consume_cache: std::collections::VecDeque<CapsEntry>,
    /// A packet's fan-out under way, and the consumers it goes to (kept from packet to packet).
    fanout: Option<Fanout>,
    fanout_keys: Vec<ConsumerKey>,
}

/// Capabilities as an app sent them (text), validated, and the consumer RTP parameters they
/// give per (producer, RTX enabled), with the SSRCs still to draw.
struct CapsEntry {
    text: Box<str>,
    caps: Value,
    templates: Vec<(ProducerKey, bool, Value)>,
}

/// Capabilities remembered, and templates per capabilities.
const CAPS_REMEMBERED: usize = 16;
const TEMPLATES_PER_CAPS: usize = 64;

/// The producer's streams as consumers choose among them (simulcast).
fn stream_states(p: &Producer, now: Instant) -> Vec<StreamState> {
    if p.streams().len() < 2 {
        return Vec::new();
    }
    p.streams()
        .iter()
        .map(|s| StreamState { spatial: s.encoding_idx(), mapped_ssrc: s.mapped_ssrc(), active: s.is_active(now, ACTIVE_WINDOW) })
        .collect()
}

/// A packet to each of `keys` (consumers of `producer` on connected transports); whether one
/// of them wants a key frame.
#[allow(clippy::too_many_arguments)]
fn fan_out(consumers: &mut Arena<Consumer>, keys: &[ConsumerKey], producer: &Producer, now: Instant, clock: &Clock, packet: &SharedPacket, is_key: bool, streams: &[StreamState], transports: &mut Arena<Transport>, out: &mut Outbox, replay_budget: &mut usize) -> bool {
    let mut wants_key_frame = false;
    let clock = &clock.at(now);
    for &ck in keys {
        let Some(c) = consumers.get_mut(ck) else { continue };
        let Some(tx) = transports.get_mut(c.transport()) else { continue };
        if !tx.media.connected {
            continue;
        }
        // A replaying consumer queues the packet and sends what of its replay is due, within
        // the budget (the rest at the next wake-ups).
        let sent = c.send_rtp(now, clock, packet, is_key, producer.ext(), streams, tx, out, *replay_budget);
        *replay_budget -= sent.taken;
        wants_key_frame |= sent.wants_key_frame;
    }
    wants_key_frame
}

/// Consumers a packet goes to in one go: ~0.3 ms of the worker's thread. A larger fan-out
/// continues in further chunks, with requests served between (`Router::resume`).
pub const FANOUT_CHUNK: usize = 256;

/// The rest of a large fan-out.
struct Fanout {
    pk: ProducerKey,
    packet: SharedPacket,
    is_key: bool,
    /// Where it is in `Router::fanout_keys`.
    next: usize,
    wants_key_frame: bool,
}

fn trace(out: &mut Outbox, target: &std::sync::Arc<str>, clock: &Clock, now: Instant, ty: TraceType, direction: &str, info: Value) {
    out.event(target, "trace", json!({ "type": ty.name(), "timestamp": clock.wall_ms(now), "direction": direction, "info": info }));
}

impl Router {
    pub fn new(id: RouterId, rtp_capabilities: Value, key_frame_cache: Option<KeyFrameCacheConfig>) -> Self {
        Router {
            id,
            rtp_capabilities,
            key_frame_cache,
            transports: Vec::new(),
            producers: Arena::default(),
            consumers: Arena::default(),
            producer_ids: HashMap::new(),
            consumer_ids: HashMap::new(),
            replays_active: false,
            observers: RtpObservers::default(),
            data: DataRouter::default(),
            removed: Vec::new(),
            next_tick: None,
            last_twcc: None,
            report_round: 0,
            last_score: None,
            last_layers: None,
            consume_cache: Default::default(),
            fanout: None,
            fanout_keys: Vec::new(),
            replay_budget: REPLAY_BUDGET,
        }
    }

    pub fn id(&self) -> &RouterId {
        &self.id
    }

    pub fn transports(&self) -> &[TransportKey] {
        &self.transports
    }

    pub fn add_transport(&mut self, tk: TransportKey) {
        self.transports.push(tk);
    }

    pub fn producer_key(&self, id: &str) -> Option<ProducerKey> {
        self.producer_ids.get(&ProducerId::new(id)).copied()
    }

    pub fn consumer_key(&self, id: &str) -> Option<ConsumerKey> {
        self.consumer_ids.get(&ConsumerId::new(id)).copied()
    }

    pub fn producer(&self, k: ProducerKey) -> Option<&Producer> {
        self.producers.get(k)
    }

    pub fn consumer(&self, k: ConsumerKey) -> Option<&Consumer> {
        self.consumers.get(k)
    }

    /// The next full tick, or sooner the next replayed packet that is due (so that a replay
    /// is paced as recorded, not in 20 ms steps).
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let observers = self.observers.poll_timeout();
        if self.producers.is_empty() && self.consumers.is_empty() {
            return observers;
        }
        let tick = self.next_tick.unwrap_or(now + TICK);
        let tick = observers.map_or(tick, |o| o.min(tick));
        if !self.replays_active {
            return Some(tick);
        }
        // Never in the past: a due entry is drained by the tick this wakes.
        let floor = now + Duration::from_millis(1);
        let replay = self.consumers.iter().filter_map(|(_, c)| c.next_replay_due()).min().map(|r| r.max(floor));
        Some(replay.map_or(tick, |r| r.min(tick)))
    }

    // ----- creation ------------------------------------------------------------------------

    /// `transport.produce()`: validates and maps the parameters, creates the producer.
    pub fn produce(&mut self, tk: TransportKey, t: &mut Transport, req: Produce, rng: &mut Rng) -> ApiResult<(ProducerKey, Value)> {
        if self.producer_ids.contains_key(&req.producer_id) {
            return Err(ApiError::type_error(format!("a Producer with same id \"{}\" already exists", req.producer_id)));
        }
        let mut params = req.rtp_parameters;
        crate::ortc::validate_rtp_parameters(&mut params)?;
        if params["encodings"].as_array().is_none_or(|e| e.is_empty()) {
            params["encodings"] = json!([{}]);
        }
        // One CNAME for every producer of a transport, as mediasoup does.
        let cname = match (&t.media.cname, params["rtcp"]["cname"].as_str()) {
            (Some(c), _) => c.clone(),
            (None, Some(c)) if !c.is_empty() => c.to_string(),
            _ => format!("{:08x}", rng.u32()),
        };
        params["rtcp"]["cname"] = json!(cname);
        let mapping = crate::ortc::get_producer_rtp_parameters_mapping(&params, &self.rtp_capabilities, rng.ssrc())?;
        let consumable = crate::ortc::get_consumable_rtp_parameters(req.kind.name(), &params, &self.rtp_capabilities, &mapping);
        // As mediasoup: several encodings need an SSRC or RID each; a single one may instead be
        // identified by the MID.
        let encodings = params["encodings"].as_array().cloned().unwrap_or_default();
        let unidentified = |e: &Value| e.get("ssrc").is_none() && e.get("rid").is_none();
        if encodings.len() > 1 && encodings.iter().any(unidentified) {
            return Err(ApiError::type_error("wrong entry in rtpMapping.encodings (missing ssrc or rid)"));
        }
        if encodings.len() == 1 && unidentified(&encodings[0]) && params["mid"].as_str().is_none_or(|m| m.is_empty()) {
            return Err(ApiError::type_error("wrong entry in rtpMapping.encodings (missing ssrc or rid, or rtpParameters.mid)"));
        }
        let cache = KeyFrameCacheConfig::from_json(req.key_frame_cache.as_ref(), self.key_frame_cache);
        let producer = Producer::new(NewProducer {
            id: req.producer_id.clone(),
            kind: req.kind,
            transport: tk,
            rtp_parameters: params.clone(),
            consumable: consumable.clone(),
            rtp_mapping: mapping,
            paused: req.paused,
            key_frame_request_delay: Duration::from_millis(req.key_frame_request_delay),
            key_frame_cache: cache,
        });
        let reply = json!({ "type": producer.ptype().name(), "rtpParameters": params, "consumableRtpParameters": consumable });
        let ssrcs = producer.signalled_ssrcs();
        let rids = producer.rids();
        let mid = producer.mid().map(String::from);
        let ext = producer.ext().clone();
        let pk = self.producers.insert(producer);
        if let Err(e) = t.media.listener.add(pk, &ssrcs, mid.as_deref(), &rids, &ext) {
            self.producers.remove(pk);
            return Err(e);
        }
        t.media.cname = Some(cname);
        t.media.producers.push(pk);
        self.producer_ids.insert(req.producer_id, pk);
        Ok((pk, reply))
    }

    /// `transport.consume()`: computes the consumer's parameters (UnsupportedError when the
    /// capabilities cannot receive the producer) and creates it.
    #[allow(clippy::too_many_arguments)]
    pub fn consume(&mut self, now: Instant, clock: &Clock, tk: TransportKey, transports: &mut Arena<Transport>, req: Consume, rng: &mut Rng, out: &mut Outbox) -> ApiResult<(ConsumerKey, Reply)> {
        if self.consumer_ids.contains_key(&req.consumer_id) {
            return Err(ApiError::other(format!("a Consumer with same id \"{}\" already exists", req.consumer_id)));
        }
        // Capabilities seen before are valid: parsed and validated once (TypeError as before).
        let text = req.rtp_capabilities.get();
        let known = self.consume_cache.iter().position(|e| *e.text == *text);
        let entry = match known {
            Some(i) => i,
            None => {
                let mut caps: Value = serde_json::from_str(text).map_err(|e| ApiError::type_error(e.to_string()))?;
                crate::ortc::validate_rtp_capabilities(&mut caps)?;
                if self.consume_cache.len() == CAPS_REMEMBERED {
                    self.consume_cache.pop_front();
                }
                self.consume_cache.push_back(CapsEntry { text: text.into(), caps, templates: Vec::new() });
                self.consume_cache.len() - 1
            }
        };
        let pk = *self
            .producer_ids
            .get(&req.producer_id)
            .ok_or_else(|| ApiError::not_found(format!("Producer with id \"{}\" not found", req.producer_id)))?;
        let producer = &self.producers[pk];
        let t = transports.get_mut(tk).ok_or_else(|| ApiError::other("transport not found"))?;
        // A PipeTransport's consumers forward every stream as it is; `pipe: true` on another
        // transport (mediasoup's option) does the same within the receiver's capabilities.
        let pipe_transport = t.is_pipe();
        let pipe = req.pipe || pipe_transport;
        let enable_rtx = req.enable_rtx.unwrap_or(producer.is_video());
        let cached = &mut self.consume_cache[entry];
        let template = (!pipe_transport && !req.pipe).then(|| cached.templates.iter().position(|(k, rtx, _)| *k == pk && *rtx == enable_rtx)).flatten();
        let mut fresh = None;
        let params: &mut Value = if pipe_transport {
            fresh.insert(crate::ortc::get_pipe_consumer_rtp_parameters(producer.consumable(), t.pipe_rtx(), || rng.ssrc()))
        } else if let Some(i) = template {
            // As get_consumer_rtp_parameters gives them, with this consumer's SSRCs (and MID,
            // below): written over the template itself, which is not copied.
            let params = &mut cached.templates[i].2;
            let ssrc = rng.ssrc();
            if let Some(enc) = params["encodings"].get_mut(0) {
                enc["ssrc"] = json!(ssrc);
                if enc.get("rtx").is_some() {
                    enc["rtx"] = json!({ "ssrc": u64::from(ssrc) + 1 });
                }
            }
            params
        } else {
            let mut caps = cached.caps.clone();
            if !crate::ortc::can_consume(producer.consumable(), &mut caps)? {
                return Err(ApiError::unsupported("cannot consume this Producer"));
            }
            let params = crate::ortc::get_consumer_rtp_parameters(producer.consumable(), &mut caps, req.pipe, enable_rtx, || rng.ssrc())?;
            if !req.pipe {
                if cached.templates.len() == TEMPLATES_PER_CAPS {
                    cached.templates.remove(0);
                }
                cached.templates.push((pk, enable_rtx, params.clone()));
            }
            fresh.insert(params)
        };
        // As in mediasoup, pipe consumers get no MID (and use none up).
        if !pipe {
            let mid = match req.mid.filter(|m| !m.is_empty()) {
                Some(m) => m,
                None => t.media.take_mid(),
            };
            params["mid"] = json!(mid);
        }
        let preferred_layers = req.preferred_layers.as_ref().filter(|v| v.is_object()).map(|v| {
            (v["spatialLayer"].as_u64().unwrap_or(0) as u32, v["temporalLayer"].as_u64().map(|t| t as u32))
        });
        let ctype = if pipe {
            ConsumerType::Pipe
        } else {
            match producer.ptype() {
                producer::ProducerType::Simple => ConsumerType::Simple,
                producer::ProducerType::Simulcast => ConsumerType::Simulcast,
                producer::ProducerType::Svc => ConsumerType::Svc,
            }
        };
        let pipe_maps = pipe.then(|| {
            let encodings = params["encodings"].as_array().cloned().unwrap_or_default();
            (
                producer.streams().iter().zip(&encodings).filter_map(|(s, e)| Some((s.mapped_ssrc(), e["ssrc"].as_u64()? as u32))).collect(),
                encodings.iter().filter_map(|e| Some((e["ssrc"].as_u64()? as u32, e["rtx"]["ssrc"].as_u64()? as u32))).collect(),
            )
        });
        let max_layers = producer.max_layers();
        let preferred_layers = (!matches!(ctype, ConsumerType::Simple | ConsumerType::Pipe)).then(|| {
            let s = preferred_layers.map(|(s, _)| s).unwrap_or(max_layers.0).min(max_layers.0);
            let t = preferred_layers.and_then(|(_, t)| t).unwrap_or(max_layers.1).min(max_layers.1);
            (s, t)
        });
        let layer_ssrcs = if ctype == ConsumerType::Simulcast { producer.streams().iter().map(|s| s.mapped_ssrc()).collect() } else { Vec::new() };
        let consumer = Consumer::new(NewConsumer {
            id: req.consumer_id.clone(),
            producer: pk,
            transport: tk,
            kind: producer.kind(),
            ctype,
            rtp_parameters: params,
            paused: req.paused,
            producer_paused: producer.paused(),
            preferred_layers,
            max_layers,
            layer_ssrcs,
            ignore_dtx: req.ignore_dtx,
            cname: producer.cname().to_string(),
            initial_seqs: (rng.u16(), rng.u16()),
            pipe: pipe_maps,
        });
        let producer_scores = producer.scores();
        let producer_score = producer_scores.iter().copied().max().unwrap_or(0);
        let preferred = preferred_layers.map_or(Value::Null, |(s, t)| json!({ "spatialLayer": s, "temporalLayer": t }));
        // Written as text: the parameters as the consumer keeps them (serialized once).
        let mut score = JsonObject::with_capacity(64);
        score.field("score", &consumer.score()).field("producerScore", &producer_score).field("producerScores", &producer_scores);
        let mut reply = JsonObject::with_capacity(consumer.rtp_parameters_text().len() + 256);
        reply
            .field("kind", consumer.kind().name())
            .raw("rtpParameters", consumer.rtp_parameters_text())
            .field("type", ctype.name())
            .field("paused", &req.paused)
            .field("producerPaused", &consumer.producer_paused())
            .raw("score", &score.finish())
            .field("preferredLayers", &preferred)
            .field("priority", &1);
        let reply = Reply::Json(reply.finish());
        let out_ssrcs = consumer.out_ssrcs();
        let ck = self.consumers.insert(consumer);
        for ssrc in out_ssrcs {
            t.media.consumer_ssrcs.insert(ssrc, ck);
        }
        t.media.consumers.push(ck);
        let connected = t.media.connected;
        self.producers[pk].consumers.push(ck);
        self.consumer_ids.insert(req.consumer_id, ck);
        if connected {
            self.start_video(now, clock, ck, transports, out);
        } else {
            self.prewarm_cache(now, clock, pk, transports, out);
        }
        Ok((ck, reply))
    }

    // ----- closing -------------------------------------------------------------------------

    /// Closes a producer: its consumers hear `producerclose` and go.
    pub fn close_producer(&mut self, pk: ProducerKey, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(p) = self.producers.remove(pk) else { return };
        self.producer_ids.remove(p.id());
        for e in &mut self.consume_cache {
            e.templates.retain(|(k, _, _)| *k != pk);
        }
        self.observers.producer_closed(&ObserverProducer { key: pk, id: p.id().clone() }, out);
        self.removed.push(p.id().to_string());
        if let Some(t) = transports.get_mut(p.transport()) {
            t.media.listener.remove(pk);
            t.media.producers.retain(|x| *x != pk);
        }
        for ck in p.consumers {
            if let Some(c) = self.remove_consumer(ck, transports) {
                out.event(c.target(), "producerclose", Value::Null);
            }
        }
    }

    fn remove_consumer(&mut self, ck: ConsumerKey, transports: &mut Arena<Transport>) -> Option<Consumer> {
        let c = self.consumers.remove(ck)?;
        self.consumer_ids.remove(c.id());
        self.removed.push(c.id().to_string());
        if let Some(p) = self.producers.get_mut(c.producer()) {
            p.consumers.retain(|x| *x != ck);
        }
        if let Some(t) = transports.get_mut(c.transport()) {
            t.media.consumer_ssrcs.retain(|_, v| *v != ck);
            t.media.consumers.retain(|x| *x != ck);
        }
        Some(c)
    }

    pub fn close_consumer(&mut self, ck: ConsumerKey, transports: &mut Arena<Transport>) {
        self.remove_consumer(ck, transports);
    }

    /// A transport went away: its producers close (their consumers hear `producerclose`), its
    /// consumers go silently (the app closes them with the transport).
    pub fn close_transport(&mut self, now: Instant, tk: TransportKey, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(t) = transports.get(tk) else { return };
        let producers = t.media.producers.clone();
        let consumers = t.media.consumers.clone();
        let data_producers = t.data.producers.clone();
        let data_consumers = t.data.consumers.clone();
        for p in producers {
            self.close_producer(p, transports, out);
        }
        for c in consumers {
            self.remove_consumer(c, transports);
        }
        for p in data_producers {
            self.data.close_producer(now, p, transports, out);
        }
        for c in data_consumers {
            self.data.remove_consumer(now, c, transports, out);
        }
        self.transports.retain(|t| *t != tk);
    }

    /// Ids of the producers, consumers and data producers/consumers removed since the last call.
    pub fn take_removed(&mut self) -> Vec<String> {
        let mut v = std::mem::take(&mut self.removed);
        v.append(&mut self.data.removed);
        v
    }

    // ----- data --------------------------------------------------------------------------

    /// `transport.produceData()`, with mediasoup's checks.
    pub fn produce_data(&mut self, now: Instant, tk: TransportKey, t: &mut Transport, req: crate::api::request::ProduceData, direct: bool, out: &mut Outbox) -> ApiResult<(DataProducerKey, Value)> {
        if !t.data.sctp_capable() && !direct {
            return Err(ApiError::other("SCTP not enabled and not a direct Transport"));
        }
        let ty = DataType::parse(&req.ty).ok_or_else(|| ApiError::type_error(format!("invalid DataProducer type '{}'", req.ty)))?;
        let sctp = match ty {
            DataType::Sctp => {
                let p = req.sctp_stream_parameters.as_ref().filter(|v| !v.is_null()).ok_or_else(|| ApiError::type_error("missing sctpStreamParameters"))?;
                let p = StreamParameters::from_json(p)?;
                if !t.data.sctp_capable() {
                    return Err(ApiError::type_error("cannot create a DataProducer of type 'sctp', SCTP not enabled in this Transport"));
                }
                if t.data.listener.contains_key(&p.stream_id) {
                    return Err(ApiError::other(format!("streamId already exists in SCTP listener [streamId:{}]", p.stream_id)));
                }
                Some(p)
            }
            DataType::Direct if !direct => return Err(ApiError::type_error("cannot create a DataProducer of type 'direct', not a direct Transport")),
            DataType::Direct => None,
        };
        let dp = DataProducer {
            id: req.data_producer_id,
            transport: tk,
            ty,
            sctp,
            label: req.label,
            protocol: req.protocol,
            paused: req.paused,
            consumers: Vec::new(),
            messages_received: 0,
            bytes_received: 0,
        };
        let dump = dp.dump_json();
        let k = self.data.insert_producer(dp)?;
        t.data.producers.push(k);
        if let Some(p) = sctp {
            t.data.listener.insert(p.stream_id, k);
        }
        let _ = (now, out);
        Ok((k, dump))
    }

    /// `transport.consumeData()`, with mediasoup's checks.
    #[allow(clippy::too_many_arguments)]
    pub fn consume_data(&mut self, tk: TransportKey, t: &mut Transport, req: crate::api::request::ConsumeData, direct: bool, pipe: bool) -> ApiResult<(DataConsumerKey, Value)> {
        if !t.data.sctp_capable() && !direct {
            return Err(ApiError::other("SCTP not enabled and not a direct Transport"));
        }
        let ty = DataType::parse(&req.ty).ok_or_else(|| ApiError::type_error(format!("invalid DataConsumer type '{}'", req.ty)))?;
        let sctp = match ty {
            DataType::Sctp => {
                let p = req.sctp_stream_parameters.as_ref().filter(|v| !v.is_null()).ok_or_else(|| ApiError::type_error("missing sctpStreamParameters"))?;
                let p = StreamParameters::from_json(p)?;
                if !t.data.sctp_capable() {
                    return Err(ApiError::type_error("cannot create a DataConsumer of type 'sctp', SCTP not enabled in this Transport"));
                }
                if t.data.consumer_streams.contains_key(&p.stream_id) {
                    return Err(ApiError::other(format!("an SCTP DataConsumer with same streamId {} already exists", p.stream_id)));
                }
                Some(p)
            }
            DataType::Direct if !direct => return Err(ApiError::type_error("cannot create a DataConsumer of type 'direct', not a direct Transport")),
            DataType::Direct => None,
        };
        let pk = self.data.producer_key(&req.data_producer_id).ok_or_else(|| ApiError::not_found(format!("DataProducer not found [dataProducerId:{}]", req.data_producer_id)))?;
        let producer_paused = self.data.producers[pk].paused;
        let low_threshold = t.data.sctp.as_ref().map_or(0, |s| s.options().default_buffered_amount_low_threshold);
        let association_closed = t.data.sctp.as_ref().is_some_and(|s| matches!(s.state(), crate::net::sctp::SctpState::Closed | crate::net::sctp::SctpState::Failed));
        let c = DataConsumer {
            id: req.data_consumer_id,
            producer: pk,
            transport: tk,
            ty,
            sctp,
            label: req.label,
            protocol: req.protocol,
            paused: req.paused,
            producer_paused,
            subchannels: req.subchannels.into_iter().collect(),
            pipe,
            max_message_size: t.data.max_send_message_size,
            low_threshold,
            association_closed,
            messages_sent: 0,
            bytes_sent: 0,
        };
        let producer_id = self.data.producers[pk].id.to_string();
        let dump = c.dump_json(&producer_id, 0);
        let k = self.data.insert_consumer(c);
        t.data.consumers.push(k);
        if let Some(p) = sctp {
            t.data.consumer_streams.insert(p.stream_id, k);
        }
        Ok((k, dump))
    }

    /// A message arrived on stream `stream` of transport `tk` (SCTP or an in-memory pipe).
    #[allow(clippy::too_many_arguments)]
    pub fn on_data(&mut self, now: Instant, tk: TransportKey, stream: u16, ppid: u32, data: &[u8], pipe: bool, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(t) = transports.get(tk) else { return };
        let Some(&dpk) = t.data.listener.get(&stream) else { return };
        if data.len() > t.data.max_receive_message_size {
            return;
        }
        // Over a pipe, messages carry their subchannels in front.
        let (subchannels, required, ignored, payload) = if pipe { data::decode_subchannels(data) } else { (Vec::new(), None, None, data) };
        self.data.on_message(now, dpk, Message { ppid, data: payload, subchannels, required, ignored }, transports, out);
    }

    pub fn data_producer_request(&mut self, now: Instant, clock: &Clock, k: DataProducerKey, body: Body, transports: &mut Arena<Transport>, out: &mut Outbox) -> ApiResult<Value> {
        let p = self.data.producers.get(k).ok_or_else(|| ApiError::not_found("DataProducer not found"))?;
        match body {
            Body::DataProducerDump => Ok(p.dump_json()),
            Body::DataProducerGetStats => self.data.producer_stats(k, clock, now).ok_or_else(|| ApiError::not_found("DataProducer not found")),
            Body::DataProducerPause => {
                self.data.set_producer_paused(k, true, out);
                Ok(Value::Null)
            }
            Body::DataProducerResume => {
                self.data.set_producer_paused(k, false, out);
                Ok(Value::Null)
            }
            Body::DataProducerSend(m) => {
                let tk = p.transport;
                let Some(t) = transports.get_mut(tk) else { return Ok(Value::Null) };
                if m.payload.len() > t.data.max_receive_message_size {
                    return Err(ApiError::type_error(format!("given message exceeds maxMessageSize value [maxMessageSize:{}, len:{}]", t.data.max_receive_message_size, m.payload.len())));
                }
                if let crate::transport::Link::Direct(d) = &mut t.link {
                    d.from_app(now, m.payload.len(), false);
                }
                let msg = Message { ppid: m.ppid, data: &m.payload, subchannels: m.subchannels, required: m.required_subchannel, ignored: m.ignored_subchannel };
                self.data.on_message(now, k, msg, transports, out);
                Ok(Value::Null)
            }
            _ => Err(ApiError::other("not a DataProducer request")),
        }
    }

    pub fn data_consumer_request(&mut self, now: Instant, clock: &Clock, k: DataConsumerKey, body: Body, transports: &mut Arena<Transport>, out: &mut Outbox) -> ApiResult<Value> {
        let c = self.data.consumers.get_mut(k).ok_or_else(|| ApiError::not_found("DataConsumer not found"))?;
        let stream = c.sctp.map(|s| s.stream_id);
        let buffered = |transports: &mut Arena<Transport>, c: &DataConsumer| -> usize {
            match (c.sctp, transports.get_mut(c.transport).and_then(|t| t.data.sctp.as_mut())) {
                (Some(s), Some(sctp)) => sctp.buffered_amount(s.stream_id),
                _ => 0,
            }
        };
        match body {
            Body::DataConsumerDump => {
                let b = buffered(transports, c);
                let pid = self.data.producers.get(c.producer).map(|p| p.id.to_string()).unwrap_or_default();
                Ok(c.dump_json(&pid, b))
            }
            Body::DataConsumerGetStats => {
                let b = buffered(transports, c);
                self.data.consumer_stats(k, b, clock, now).ok_or_else(|| ApiError::not_found("DataConsumer not found"))
            }
            Body::DataConsumerPause => {
                c.paused = true;
                Ok(Value::Null)
            }
            Body::DataConsumerResume => {
                c.paused = false;
                Ok(Value::Null)
            }
            Body::DataConsumerSetBufferedAmountLowThreshold(t) => {
                if c.ty != DataType::Sctp {
                    return Err(ApiError::type_error("invalid DataConsumer type"));
                }
                c.low_threshold = t.threshold as usize;
                let (tk, th) = (c.transport, c.low_threshold);
                if let (Some(s), Some(sctp)) = (stream, transports.get_mut(tk).and_then(|t| t.data.sctp.as_mut())) {
                    sctp.set_buffered_amount_low_threshold(s, th);
                }
                Ok(Value::Null)
            }
            Body::DataConsumerGetBufferedAmount => {
                if c.ty != DataType::Sctp {
                    return Err(ApiError::type_error("invalid DataConsumer type"));
                }
                Ok(json!({ "bufferedAmount": buffered(transports, c) }))
            }
            Body::DataConsumerSend(m) => {
                use base64::Engine;
                let data = base64::engine::general_purpose::STANDARD.decode(&m.data).map_err(|_| ApiError::type_error("invalid message data"))?;
                let amount = self.data.consumer_send(now, k, m.ppid, &data, transports, out)?;
                Ok(json!({ "bufferedAmount": amount }))
            }
            Body::DataConsumerSetSubchannels(s) => {
                c.subchannels = s.subchannels.into_iter().collect();
                Ok(json!({ "subchannels": c.subchannels.iter().collect::<Vec<_>>() }))
            }
            Body::DataConsumerAddSubchannel(s) => {
                c.subchannels.insert(s.subchannel);
                Ok(json!({ "subchannels": c.subchannels.iter().collect::<Vec<_>>() }))
            }
            Body::DataConsumerRemoveSubchannel(s) => {
                c.subchannels.remove(&s.subchannel);
                Ok(json!({ "subchannels": c.subchannels.iter().collect::<Vec<_>>() }))
            }
            _ => Err(ApiError::other("not a DataConsumer request")),
        }
    }

    /// Producer ids, in creation order.
    pub fn producer_ids(&self) -> Vec<String> {
        self.producers.iter().map(|(_, p)| p.id().to_string()).collect()
    }

    /// Consumer ids, in creation order.
    pub fn consumer_ids(&self) -> Vec<String> {
        self.consumers.iter().map(|(_, c)| c.id().to_string()).collect()
    }

    /// Every producer and consumer, as ids (the engine unregisters them when the router goes).
    pub fn ids(&self) -> Vec<String> {
        self.producer_ids
            .keys()
            .map(|p| p.to_string())
            .chain(self.consumer_ids.keys().map(|c| c.to_string()))
            .chain(self.observers.ids())
            .chain(self.data.producer_ids())
            .chain(self.data.consumer_ids())
            .collect()
    }

    // ----- transport events ----------------------------------------------------------------

    /// The transport connected (DTLS, or a pipe's remote known): its consumers start, video
    /// from a key frame.
    pub fn transport_connected(&mut self, now: Instant, clock: &Clock, tk: TransportKey, transports: &mut Arena<Transport>, out: &mut Outbox) {
        self.replay_budget = REPLAY_BUDGET;
        let Some(t) = transports.get_mut(tk) else { return };
        t.media.connected = true;
        for ck in t.media.consumers.clone() {
            if let Some(c) = self.consumers.get_mut(ck) {
                c.require_sync();
            }
            self.start_video(now, clock, ck, transports, out);
        }
    }

    /// A video consumer is coming (its transport is still connecting): if its producer's cache
    /// holds no key frame, ask for one now so it is cached by the time the transport connects.
    fn prewarm_cache(&mut self, now: Instant, clock: &Clock, pk: ProducerKey, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(p) = self.producers.get_mut(pk) else { return };
        p.viewer_starting(now);
        if !p.is_video() || !p.has_cache() || p.paused() || p.has_cached(now) {
            return;
        }
        self.request_key_frame(now, clock, pk, transports, out);
    }

    /// A video consumer (re)starts: from the producer's key frame cache at once if it holds
    /// one, otherwise it waits for a key frame that is requested now (merged, with retries).
    fn start_video(&mut self, now: Instant, clock: &Clock, ck: ConsumerKey, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(c) = self.consumers.get_mut(ck) else { return };
        if !c.needs_key_frame() || c.is_replaying() {
            return;
        }
        let pk = c.producer();
        let Some(p) = self.producers.get_mut(pk) else { return };
        p.viewer_starting(now);
        let Some(t) = transports.get_mut(c.transport()).filter(|t| t.media.connected) else {
            return; // again when its transport connects
        };
        let streams = stream_states(p, now);
        c.update_layers(&streams, out);
        let idx = c.source_layer().unwrap_or(0);
        match p.cached(idx, now) {
            Some(cached) => {
                self.replay_budget -= c.start_replay(now, clock, cached, p.ext(), t, out, self.replay_budget).taken;
                self.replays_active = true;
            }
            None => self.request_key_frame(now, clock, pk, transports, out),
        }
    }

    /// A viewer asked for a key frame: restart it from the cache when that is possible and
    /// allowed now. `true` when the request is served (or is a duplicate of one just served).
    fn serve_from_cache(&mut self, now: Instant, clock: &Clock, ck: ConsumerKey, transports: &mut Arena<Transport>, out: &mut Outbox) -> bool {
        let Some(c) = self.consumers.get_mut(ck) else { return false };
        // A pipe forwards the live stream as it is: the router on the far side asks because its
        // own cache cannot serve, so the request goes on to the sender.
        if !c.is_video() || !c.active() || c.is_pipe() {
            return false;
        }
        match c.may_replay(now) {
            None => return true,
            Some(false) => return false,
            Some(true) => {}
        }
        let Some(p) = self.producers.get(c.producer()) else { return false };
        let idx = c.source_layer().unwrap_or(0);
        let Some(cached) = p.cached(idx, now) else { return false };
        let Some(t) = transports.get_mut(c.transport()) else { return false };
        self.replay_budget -= c.start_replay(now, clock, cached, p.ext(), t, out, self.replay_budget).taken;
        self.replays_active = true;
        true
    }

    fn request_key_frame(&mut self, now: Instant, clock: &Clock, pk: ProducerKey, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(p) = self.producers.get_mut(pk) else { return };
        if let Some(req) = p.request_key_frame(now) {
            self.send_key_frame_request(now, clock, pk, req, transports, out);
        }
    }

    fn send_key_frame_request(&mut self, now: Instant, clock: &Clock, pk: ProducerKey, req: KeyFrameRequest, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(p) = self.producers.get(pk) else { return };
        let ty = if req.use_pli { TraceType::Pli } else { TraceType::Fir };
        if p.trace.has(ty) {
            trace(out, p.id().arc(), clock, now, ty, "out", json!({ "ssrcs": req.ssrcs }));
        }
        let Some(t) = transports.get_mut(p.transport()) else { return };
        let sender = t.media.rtcp_ssrc;
        let packets: Vec<_> = req
            .ssrcs
            .iter()
            .map(|s| if req.use_pli { rtcp::pli(sender, *s) } else { rtcp::fir(sender, *s, req.fir_seq) })
            .collect();
        if let Some(data) = rtcp::marshal(&packets) {
            t.send_rtcp(now, data, out);
        }
    }

    // ----- media -------------------------------------------------------------------------

    /// Decrypted RTP received on transport `tk`: to its producer, then to each consumer.
    pub fn on_rtp(&mut self, now: Instant, clock: &Clock, tk: TransportKey, data: &[u8], transports: &mut Arena<Transport>, out: &mut Outbox) {
        self.replay_budget = REPLAY_BUDGET;
        let Some(t) = transports.get_mut(tk) else { return };
        let Some(packet) = rtp::parse(data) else {
            t.media.drops.malformed += 1;
            return;
        };
        let Some(pk) = t.media.listener.find(&packet) else {
            t.media.drops.unknown_ssrc += 1;
            return;
        };
        let Some(producer) = self.producers.get_mut(pk) else { return };
        // Transport-wide sequence numbers: every packet counts for feedback, even unforwarded.
        if let Some(seq) = rtp::ext_value(&packet, producer.ext().id(rtp::URI_TRANSPORT_CC)) {
            if seq.len() == 2 {
                t.media.twcc_in.record(u16::from_be_bytes([seq[0], seq[1]]), now);
                t.media.twcc_media_ssrc = packet.header.ssrc;
            }
        }
        let Some((idx, is_rtx)) = producer.match_stream(&packet) else {
            t.media.drops.unknown_stream += 1;
            return;
        };
        // Learned SSRCs go into the transport's table.
        let stream = &producer.streams()[idx];
        for ssrc in [stream.ssrc(), stream.rtx_ssrc()].into_iter().flatten() {
            t.media.listener.learn(ssrc, pk);
        }
        let (ssrc_in, seq_in, pt_in) = (packet.header.ssrc, packet.header.sequence_number, packet.header.payload_type);
        if producer.trace.has(TraceType::Rtp) {
            trace(out, producer.id().arc(), clock, now, TraceType::Rtp, "in", json!({ "ssrc": ssrc_in, "sequenceNumber": seq_in, "payloadType": pt_in, "isRtx": is_rtx }));
        }
        let mut gap_request = None;
        let incoming = producer.receive(now, packet, idx, is_rtx, data.len(), &mut gap_request);
        if let Some(req) = gap_request {
            self.send_key_frame_request(now, clock, pk, req, transports, out);
        }
        let Some(inc) = incoming else { return };
        let producer = &self.producers[pk];
        if self.observers.observes(pk) {
            if let Some(level) = rtp::audio_level(&inc.packet, producer.ext().id(rtp::URI_AUDIO_LEVEL)) {
                self.observers.level(pk, level, now);
            }
        }
        if let Some((camera, flip, rotation)) = inc.orientation_changed {
            out.event(producer.id().arc(), "videoorientationchange", json!({ "camera": camera, "flip": flip, "rotation": rotation }));
        }
        if inc.is_key && producer.trace.has(TraceType::KeyFrame) {
            trace(out, producer.id().arc(), clock, now, TraceType::KeyFrame, "in", json!({ "ssrc": ssrc_in, "sequenceNumber": seq_in }));
        }
        if producer.consumers.len() <= FANOUT_CHUNK {
            let streams = stream_states(producer, now);
            let wants_key_frame = fan_out(&mut self.consumers, &producer.consumers, producer, now, clock, &inc.packet, inc.is_key, &streams, transports, out, &mut self.replay_budget);
            self.fanned_out(now, clock, pk, wants_key_frame, transports, out);
            return;
        }
        // A large fan-out goes a chunk at a time (see `resume`), over the consumers it has now.
        self.fanout_keys.clear();
        self.fanout_keys.extend_from_slice(&producer.consumers);
        self.fanout = Some(Fanout { pk, packet: inc.packet, is_key: inc.is_key, next: 0, wants_key_frame: false });
        self.resume(now, clock, transports, out);
    }

    /// Whether a packet's fan-out is still under way (`resume` continues it).
    pub fn fanout_pending(&self) -> bool {
        self.fanout.is_some()
    }

    /// The next `FANOUT_CHUNK` consumers of a fan-out under way; whether some are left. Between
    /// chunks the worker may handle requests: a consumer closed meanwhile is skipped (its key
    /// finds nothing), one created meanwhile starts with the next packet.
    pub fn resume(&mut self, now: Instant, clock: &Clock, transports: &mut Arena<Transport>, out: &mut Outbox) -> bool {
        let Some(mut f) = self.fanout.take() else { return false };
        let Some(producer) = self.producers.get(f.pk) else { return false };
        let streams = stream_states(producer, now);
        let end = (f.next + FANOUT_CHUNK).min(self.fanout_keys.len());
        self.replay_budget = REPLAY_BUDGET;
        f.wants_key_frame |= fan_out(&mut self.consumers, &self.fanout_keys[f.next..end], producer, now, clock, &f.packet, f.is_key, &streams, transports, out, &mut self.replay_budget);
        f.next = end;
        if end < self.fanout_keys.len() {
            self.fanout = Some(f);
            return true;
        }
        self.fanned_out(now, clock, f.pk, f.wants_key_frame, transports, out);
        false
    }

    /// After a packet reached every consumer of `pk`.
    fn fanned_out(&mut self, now: Instant, clock: &Clock, pk: ProducerKey, wants_key_frame: bool, transports: &mut Arena<Transport>, out: &mut Outbox) {
        if wants_key_frame {
            // Waiting consumers start from the cache if one is held by now, else a request.
            for ck in self.producers[pk].consumers.clone() {
                self.start_video(now, clock, ck, transports, out);
            }
        }
    }

    /// Decrypted RTCP received on transport `tk`.
    pub fn on_rtcp(&mut self, now: Instant, clock: &Clock, tk: TransportKey, data: &[u8], transports: &mut Arena<Transport>, out: &mut Outbox) {
        self.replay_budget = REPLAY_BUDGET;
        let Some(t) = transports.get_mut(tk) else { return };
        let Some(feedback) = rtcp::parse(data) else {
            t.media.drops.malformed += 1;
            return;
        };
        let consumer_of = |transports: &Arena<Transport>, ssrc: u32| transports.get(tk).and_then(|t| t.media.consumer_ssrcs.get(&ssrc).copied());
        for fb in feedback {
            match fb {
                Feedback::SenderReport { ssrc, ntp, rtp_time } => {
                    let pk = transports.get(tk).and_then(|t| t.media.listener.producer_of_ssrc(ssrc));
                    if let Some(p) = pk.and_then(|k| self.producers.get_mut(k)) {
                        p.on_sender_report(ssrc, ntp, now);
                        // Simulcast consumers align timestamps across layers with these.
                        if let Some(layer) = p.streams().iter().position(|s| s.ssrc() == Some(ssrc)) {
                            for &ck in &p.consumers {
                                if let Some(c) = self.consumers.get_mut(ck) {
                                    c.on_layer_sender_report(layer, ntp, rtp_time);
                                }
                            }
                        }
                    }
                }
                Feedback::ReceptionReport { ssrc, fraction_lost, total_lost, lsr, dlsr, .. } => {
                    if let Some(c) = consumer_of(transports, ssrc).and_then(|k| self.consumers.get_mut(k)) {
                        c.on_receiver_report(rtcp::ntp_middle(clock.ntp(now)), fraction_lost, total_lost, lsr, dlsr);
                    }
                }
                Feedback::Nack { media_ssrc, seqs } => {
                    let Some(ck) = consumer_of(transports, media_ssrc) else { continue };
                    let (Some(c), Some(t)) = (self.consumers.get_mut(ck), transports.get_mut(tk)) else { continue };
                    c.on_nack(now, clock, media_ssrc, &seqs, t, out);
                }
                Feedback::Pli { media_ssrc } | Feedback::Fir { media_ssrc } => {
                    let pli = matches!(fb, Feedback::Pli { .. });
                    let Some(ck) = consumer_of(transports, media_ssrc) else { continue };
                    let Some(c) = self.consumers.get_mut(ck) else { continue };
                    c.on_key_frame_request(now, clock, pli, media_ssrc, out);
                    if !c.is_video() || !c.active() {
                        continue;
                    }
                    // A viewer that missed the start (its receiver was not set up yet when the
                    // key frame went out) asks again: answer from the cache when it holds one.
                    if self.serve_from_cache(now, clock, ck, transports, out) {
                        continue;
                    }
                    let pk = self.consumers[ck].producer();
                    self.request_key_frame(now, clock, pk, transports, out);
                }
                Feedback::TransportCc(fb) => {
                    // Estimation towards viewers is a WebRTC transport's (as in mediasoup).
                    if let Some(t) = transports.get_mut(tk).filter(|t| t.is_webrtc()) {
                        t.media.congestion.on_feedback(now, &fb);
                    }
                }
                Feedback::Remb { bitrate, .. } => {
                    // A viewer without transport-wide-cc tells its estimate itself.
                    if let Some(t) = transports.get_mut(tk).filter(|t| t.is_webrtc()) {
                        t.media.congestion.on_remb(bitrate);
                    }
                }
            }
        }
    }

    // ----- periodic work -------------------------------------------------------------------

    pub fn tick(&mut self, now: Instant, clock: &Clock, transports: &mut Arena<Transport>, out: &mut Outbox) {
        self.observers.tick(now, out);
        // Paced replays.
        if self.replays_active {
            // A burst of joins replays to many consumers at once: at most `REPLAY_BUDGET`
            // packets a wake-up, the rest at the next (~1 ms later), so no wake-up holds the
            // thread long.
            let mut still = false;
            self.replay_budget = REPLAY_BUDGET;
            for (_, c) in self.consumers.iter_mut() {
                if !c.is_replaying() {
                    continue;
                }
                if self.replay_budget > 0 {
                    let (Some(p), Some(t)) = (self.producers.get(c.producer()), transports.get_mut(c.transport())) else { continue };
                    self.replay_budget -= c.drain_replay(now, clock, p.ext(), t, out, self.replay_budget).taken;
                }
                still |= c.is_replaying();
            }
            self.replays_active = still;
        }
        if self.next_tick.is_some_and(|t| now < t) {
            return; // woken for a replay only
        }
        self.next_tick = Some(now + TICK);
        // While viewers keep coming, refresh caches before they expire.
        let refresh: Vec<ProducerKey> = self.producers.iter().filter(|(_, p)| p.cache_needs_refresh(now)).map(|(k, _)| k).collect();
        for pk in refresh {
            self.request_key_frame(now, clock, pk, transports, out);
        }
        // Unanswered key frame requests are repeated while consumers still wait.
        let mut waiting: Vec<ProducerKey> = self
            .consumers
            .iter()
            .filter(|(_, c)| c.needs_key_frame() && !c.is_replaying() && transports.get(c.transport()).is_some_and(|t| t.media.connected))
            .map(|(_, c)| c.producer())
            .collect();
        waiting.dedup();
        for pk in waiting {
            if self.producers.get(pk).is_some_and(|p| p.key_frame_retry_due(now)) {
                self.request_key_frame(now, clock, pk, transports, out);
            }
        }
        // Delayed key frame requests and NACKs towards senders.
        for pk in self.producers.keys() {
            let p = &mut self.producers[pk];
            let (kf, nacks) = p.tick(now);
            if !nacks.is_empty() && p.trace.has(TraceType::Nack) {
                let info = json!({ "nacks": nacks.iter().map(|(s, q)| json!({ "ssrc": s, "seqs": q })).collect::<Vec<_>>() });
                trace(out, p.id().arc(), clock, now, TraceType::Nack, "out", info);
            }
            let tk = p.transport();
            if let Some(req) = kf {
                self.send_key_frame_request(now, clock, pk, req, transports, out);
            }
            if !nacks.is_empty() {
                if let Some(t) = transports.get_mut(tk) {
                    let sender = t.media.rtcp_ssrc;
                    // One NACK packet per RTCP datagram: a long loss list stays under the MTU.
                    for packet in nacks.iter().flat_map(|(ssrc, seqs)| rtcp::nacks(sender, *ssrc, seqs)) {
                        if let Some(data) = rtcp::marshal(&[packet]) {
                            t.send_rtcp(now, data, out);
                        }
                    }
                }
            }
        }
        if self.last_twcc.is_none_or(|t| now.saturating_duration_since(t) >= TWCC_INTERVAL) {
            self.last_twcc = Some(now);
            for &tk in &self.transports {
                let Some(t) = transports.get_mut(tk) else { continue };
                if !t.media.twcc_in.has_pending() {
                    continue;
                }
                let (sender, media) = (t.media.rtcp_ssrc, t.media.twcc_media_ssrc);
                if let Some(fb) = t.media.twcc_in.feedback(sender, media) {
                    if let Some(data) = rtcp::marshal(&[Box::new(fb)]) {
                        t.send_rtcp(now, data, out);
                    }
                }
            }
        }
        // Each stream's reports once per REPORT_INTERVAL, a share of the streams each tick:
        // thousands of consumers' reports at once would hold the thread for milliseconds.
        let slot = self.report_round % REPORT_SLOTS;
        self.report_round = self.report_round.wrapping_add(1);
        self.send_reports(now, clock, transports, out, slot);
        if self.last_score.is_none_or(|t| now.saturating_duration_since(t) >= SCORE_INTERVAL) {
            self.last_score = Some(now);
            self.update_scores(now, out);
        }
        if self.last_layers.is_none_or(|t| now.saturating_duration_since(t) >= LAYERS_INTERVAL) {
            self.last_layers = Some(now);
            self.allocate(now, clock, transports, out);
            let layered: Vec<ConsumerKey> = self.consumers.iter().filter(|(_, c)| c.is_layered()).map(|(k, _)| k).collect();
            for ck in layered {
                self.update_layers(now, clock, ck, transports, out);
            }
            self.probe(now, clock, transports, out);
        }
    }

    /// Probes the path of transports whose consumers are held back by the estimate: a burst of
    /// padding on mediasoup's probator stream (see `congestion`).
    fn probe(&mut self, now: Instant, clock: &Clock, transports: &mut Arena<Transport>, out: &mut Outbox) {
        for &tk in &self.transports {
            let Some(t) = transports.get_mut(tk) else { continue };
            if !t.media.congestion.active || !t.media.connected {
                continue;
            }
            // Any video consumer that already sent: its header extensions are the probator's.
            let prober = t.media.consumers.iter().copied().find(|&ck| {
                self.consumers.get(ck).is_some_and(|c| c.is_video() && c.active() && c.uses_twcc() && !c.is_pipe() && c.packets_sent() > 0)
            });
            let Some(ck) = prober else { continue };
            let Some(probe) = t.media.congestion.probe_due(now, t.media.desired_bitrate) else { continue };
            if t.media.trace.has(TraceType::Probation) {
                trace(out, t.id.arc(), clock, now, TraceType::Probation, "out", json!({ "id": probe.id, "targetBitrate": probe.target, "packets": probe.packets }));
            }
            let c = &self.consumers[ck];
            let Some(p) = self.producers.get(c.producer()) else { continue };
            let id = c.id().clone();
            t.media.probing = probe.id;
            for _ in 0..probe.packets {
                let twcc = t.next_twcc_seq();
                t.media.probator_seq = t.media.probator_seq.wrapping_add(1);
                let Some(bytes) = c.probation_packet(now, clock, p.ext(), twcc, t.media.probator_seq) else { break };
                MediaOut::send_rtp(t, now, clock, bytes, &id, out);
            }
            t.media.probing = 0;
        }
    }

    /// Shares each transport's outgoing budget (`setMaxOutgoingBitrate()`) among its simulcast
    /// consumers (see `allocation`).
    fn allocate(&mut self, now: Instant, clock: &Clock, transports: &mut Arena<Transport>, out: &mut Outbox) {
        for &tk in &self.transports {
            let Some(t) = transports.get_mut(tk) else { continue };
            t.media.congestion.set_bounds(t.media.bitrates.min_outgoing, t.media.bitrates.max_outgoing);
            // The estimate once the viewer's feedback flows, bounded by the app's limits.
            let budget = if t.media.congestion.active { Some(t.media.congestion.estimate()) } else { t.media.bitrates.max_outgoing };
            let mut fixed = 0;
            let mut desired = 0;
            let mut candidates = Vec::new();
            let mut keys = Vec::new();
            for &ck in &t.media.consumers {
                let Some(c) = self.consumers.get(ck) else { continue };
                if budget.is_none() || !c.active() {
                    continue;
                }
                let Some(p) = self.producers.get_mut(c.producer()) else { continue };
                let svc_rates = if c.ctype() == ConsumerType::Svc { p.svc_layer_rates(now) } else { Vec::new() };
                if c.ctype() == ConsumerType::Simulcast || svc_rates.iter().any(Option::is_some) {
                    let preferred = c.preferred_layers().map_or(usize::MAX, |(s, _)| s as usize);
                    // Simulcast: a stream per layer; SVC: layers 0..=s of one stream together.
                    let rates = if c.ctype() == ConsumerType::Simulcast { p.stream_rates(now, ACTIVE_WINDOW) } else { svc_rates };
                    desired += rates.iter().take(preferred.saturating_add(1)).flatten().copied().max().unwrap_or(0);
                    candidates.push(allocation::Candidate { priority: c.priority(), rates, preferred });
                    keys.push(ck);
                } else if !c.is_pipe() {
                    fixed += p.bitrate(now);
                }
            }
            t.media.desired_bitrate = fixed + desired;
            if t.media.congestion.active && t.media.trace.has(TraceType::Bwe) {
                let estimate = t.media.congestion.estimate();
                if t.media.traced_estimate != Some(estimate) {
                    t.media.traced_estimate = Some(estimate);
                    let info = t.media.congestion.trace_info(t.media.desired_bitrate);
                    trace(out, t.id.arc(), clock, now, TraceType::Bwe, "out", info);
                }
            }
            let shares = match budget {
                Some(b) => allocation::distribute(b, fixed, &candidates),
                None => Vec::new(),
            };
            for &ck in &t.media.consumers {
                if let Some(c) = self.consumers.get_mut(ck) {
                    let share = keys.iter().position(|k| *k == ck).map_or(Budget::Unlimited, |i| shares[i]);
                    c.set_budget(share);
                }
            }
        }
    }

    /// Reconsiders a simulcast consumer's target layers; asks its producer for a key frame
    /// when it must switch.
    fn update_layers(&mut self, now: Instant, clock: &Clock, ck: ConsumerKey, transports: &mut Arena<Transport>, out: &mut Outbox) {
        let Some(c) = self.consumers.get_mut(ck) else { return };
        let Some(p) = self.producers.get(c.producer()) else { return };
        if !transports.get(c.transport()).is_some_and(|t| t.media.connected) {
            return;
        }
        let streams = stream_states(p, now);
        if c.update_layers(&streams, out) {
            let pk = c.producer();
            self.request_key_frame(now, clock, pk, transports, out);
        }
    }

    /// Reports of the streams in `slot` (of `REPORT_SLOTS`): RR (+REMB) to senders, SR (+SDES)
    /// for consumer streams.
    fn send_reports(&mut self, now: Instant, clock: &Clock, transports: &mut Arena<Transport>, out: &mut Outbox, slot: u32) {
        let ntp = clock.ntp(now);
        let mut per_transport: HashMap<TransportKey, Vec<Box<dyn rtc_rtcp::packet::Packet>>> = HashMap::new();
        for (pk, p) in self.producers.iter_mut() {
            if pk.index() % REPORT_SLOTS != slot {
                continue;
            }
            let reports = p.reports(now);
            if reports.is_empty() {
                continue;
            }
            let Some(t) = transports.get(p.transport()) else { continue };
            let list = per_transport.entry(p.transport()).or_default();
            list.push(rtcp::receiver_report(t.media.rtcp_ssrc, reports));
            // Senders without transport-wide-cc get a receiver estimate: room to grow above
            // what arrives now, never below a floor that lets video start.
            // `setMaxIncomingBitrate()` reaches every sender of the transport this way.
            let max_in = t.media.bitrates.max_incoming;
            if p.wants_remb() || max_in.is_some() {
                let estimate = if p.wants_remb() { (p.bitrate(now) * 3 / 2).max(600_000) } else { u64::MAX };
                let estimate = estimate.min(max_in.unwrap_or(u64::MAX));
                let ssrcs = p.streams().iter().filter_map(|s| s.ssrc()).collect();
                list.push(rtcp::remb(t.media.rtcp_ssrc, estimate, ssrcs));
            }
        }
        for (_, c) in self.consumers.iter() {
            if c.ssrc() % REPORT_SLOTS != slot || c.packets_sent() == 0 || !transports.get(c.transport()).is_some_and(|t| t.media.connected) {
                continue;
            }
            let Some(p) = self.producers.get(c.producer()) else { continue };
            let list = per_transport.entry(c.transport()).or_default();
            let (packets, octets) = c.counters();
            if c.is_pipe() {
                // A pipe forwards every stream with its timestamps: one SR per stream, on the
                // sender's timeline, so receivers behind the far router keep audio/video sync.
                for (from, to) in c.pipe_streams() {
                    let Some(rtp_time) = p.streams().iter().find(|s| s.mapped_ssrc() == from).and_then(|s| s.rtp_time_at(now)) else { continue };
                    list.push(rtcp::sender_report(to, ntp, rtp_time, packets, octets));
                    list.push(rtcp::sdes(to, c.cname()));
                }
                continue;
            }
            // The sender's live timeline (also while a cache replay lags behind it), so that
            // audio/video sync at the viewer holds.
            let stream = c.source_layer().and_then(|s| p.streams().get(s)).or(p.streams().first());
            let live = stream.and_then(|s| s.rtp_time_at(now));
            let Some(rtp_time) = live.map(|t| t.wrapping_add(c.ts_offset())).or_else(|| c.sr_rtp_time(now)) else { continue };
            list.push(rtcp::sender_report(c.ssrc(), ntp, rtp_time, packets, octets));
            list.push(rtcp::sdes(c.ssrc(), c.cname()));
        }
        for (tk, packets) in per_transport {
            let Some(t) = transports.get_mut(tk) else { continue };
            // Keep compound packets well under the MTU.
            for chunk in packets.chunks(8) {
                if let Some(data) = rtcp::marshal(chunk) {
                    t.send_rtcp(now, data, out);
                }
            }
        }
    }

    fn update_scores(&mut self, now: Instant, out: &mut Outbox) {
        for (_, p) in self.producers.iter_mut() {
            if let Some(score) = p.update_scores(now) {
                out.event(p.id().arc(), "score", json!({ "score": score }));
            }
        }
        for (_, c) in self.consumers.iter_mut() {
            let Some(p) = self.producers.get(c.producer()) else { continue };
            if let Some(data) = c.score_changed(p.scores()) {
                out.event(c.target(), "score", data);
            }
        }
    }

    // ----- requests on producers and consumers ---------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub fn producer_request(&mut self, now: Instant, clock: &Clock, pk: ProducerKey, body: Body, transports: &mut Arena<Transport>, out: &mut Outbox) -> ApiResult<Value> {
        let p = self.producers.get_mut(pk).ok_or_else(|| ApiError::not_found("Producer not found"))?;
        match body {
            Body::ProducerDump => Ok(p.dump_json()),
            Body::ProducerGetStats => Ok(p.stats_json(now, clock.wall_ms(now))),
            Body::ProducerPause => {
                if !p.paused() {
                    p.set_paused(true);
                    self.observers.producer_paused(&ObserverProducer { key: pk, id: p.id().clone() }, true);
                    for ck in p.consumers.clone() {
                        if let Some(c) = self.consumers.get_mut(ck) {
                            c.set_producer_paused(true);
                            out.event(c.target(), "producerpause", Value::Null);
                        }
                    }
                }
                Ok(Value::Null)
            }
            Body::ProducerResume => {
                if p.paused() {
                    p.set_paused(false);
                    self.observers.producer_paused(&ObserverProducer { key: pk, id: p.id().clone() }, false);
                    let consumers = p.consumers.clone();
                    for &ck in &consumers {
                        if let Some(c) = self.consumers.get_mut(ck) {
                            c.set_producer_paused(false);
                            out.event(c.target(), "producerresume", Value::Null);
                        }
                    }
                    for ck in consumers {
                        self.start_video(now, clock, ck, transports, out);
                    }
                }
                Ok(Value::Null)
            }
            Body::ProducerEnableTraceEvent(t) => {
                p.trace = TraceTypes::from_names(&t.types);
                Ok(Value::Null)
            }
            _ => Err(ApiError::other("not a producer request")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn consumer_request(&mut self, now: Instant, clock: &Clock, ck: ConsumerKey, body: Body, transports: &mut Arena<Transport>, out: &mut Outbox) -> ApiResult<Value> {
        let c = self.consumers.get_mut(ck).ok_or_else(|| ApiError::not_found("Consumer not found"))?;
        let pk = c.producer();
        match body {
            Body::ConsumerDump => {
                let (id, encodings) = self.producers.get(pk).map_or((String::new(), Value::Null), |p| (p.id().to_string(), p.consumable()["encodings"].clone()));
                Ok(c.dump_json(&id, encodings))
            }
            Body::ConsumerGetStats => {
                let ts = clock.wall_ms(now);
                let mut stats = vec![c.stats_json(now, ts)];
                // As mediasoup: the producer stream it forwards (a pipe consumer: none).
                let layer = if c.is_pipe() { None } else { Some(c.source_layer().unwrap_or(0)) };
                if let (Some(p), Some(layer)) = (self.producers.get_mut(pk), layer) {
                    if let Some(stream) = p.stream_stats_json(layer, now, ts) {
                        stats.push(stream);
                    }
                }
                Ok(Value::Array(stats))
            }
            Body::ConsumerPause => {
                c.set_paused(true);
                Ok(Value::Null)
            }
            Body::ConsumerResume => {
                if c.paused() {
                    c.set_paused(false);
                    self.start_video(now, clock, ck, transports, out);
                }
                Ok(Value::Null)
            }
            Body::ConsumerSetPreferredLayers(l) => {
                if matches!(c.ctype(), ConsumerType::Simple | ConsumerType::Pipe) {
                    return Ok(Value::Null);
                }
                let (max_s, max_t) = self.producers.get(pk).map_or((0, 0), |p| p.max_layers());
                let s = u32::from(l.spatial_layer).min(max_s);
                let t = l.temporal_layer.map_or(max_t, u32::from).min(max_t);
                c.set_preferred_layers(s, t);
                self.update_layers(now, clock, ck, transports, out);
                Ok(json!({ "spatialLayer": s, "temporalLayer": t }))
            }
            Body::ConsumerSetPriority(p) => {
                if p.priority < 1 {
                    return Err(ApiError::type_error("wrong priority (must be higher than 0)"));
                }
                c.set_priority(p.priority.min(u64::from(u32::MAX)) as u32);
                Ok(json!({ "priority": p.priority }))
            }
            Body::ConsumerRequestKeyFrame => {
                // An explicit request goes to the sender (the app wants a fresh key frame).
                if c.is_video() && c.active() {
                    self.request_key_frame(now, clock, pk, transports, out);
                }
                Ok(Value::Null)
            }
            Body::ConsumerEnableTraceEvent(t) => {
                c.trace = TraceTypes::from_names(&t.types);
                Ok(Value::Null)
            }
            _ => Err(ApiError::other("not a consumer request")),
        }
    }

    /// A transport's RTP listener tables, with producer ids (for its dump).
    pub fn listener_dump(&self, t: &Transport) -> Value {
        t.media.listener.dump_json(|k| self.producers.get(k).map(|p| p.id().to_string()))
    }

    /// A transport's producer and consumer ids (for its dump).
    pub fn transport_ids(&self, t: &Transport) -> (Vec<String>, Vec<String>) {
        (
            t.media.producers.iter().filter_map(|k| self.producers.get(*k)).map(|p| p.id().to_string()).collect(),
            t.media.consumers.iter().filter_map(|k| self.consumers.get(*k)).map(|c| c.id().to_string()).collect(),
        )
    }

    /// `router.dump()`, in mediasoup's shape.
    pub fn dump(&self, transports: &Arena<Transport>) -> Value {
        let map_pc: Vec<Value> = self
            .producers
            .iter()
            .map(|(_, p)| {
                let cs: Vec<&str> = p.consumers.iter().filter_map(|k| self.consumers.get(*k)).map(|c| c.id().as_str()).collect();
                json!({ "key": p.id().as_str(), "values": cs })
            })
            .collect();
        let map_cp: Vec<Value> = self
            .consumers
            .iter()
            .filter_map(|(_, c)| Some(json!({ "key": c.id().as_str(), "value": self.producers.get(c.producer())?.id().as_str() })))
            .collect();
        let transport_ids: Vec<&str> = self.transports.iter().filter_map(|k| transports.get(*k)).map(|t| t.id.as_str()).collect();
        let (data_pc, data_cp) = self.data.dump_maps();
        let map_po: Vec<Value> = self.producers.iter().map(|(k, p)| json!({ "key": p.id().as_str(), "values": self.observers.observer_ids_of(k) })).collect();
        json!({
            "id": self.id.as_str(),
            "transportIds": transport_ids,
            "rtpObserverIds": self.observers.ids(),
            "mapProducerIdConsumerIds": map_pc,
            "mapConsumerIdProducerId": map_cp,
            "mapProducerIdObserverIds": map_po,
            "mapDataProducerIdDataConsumerIds": data_pc,
            "mapDataConsumerIdDataProducerId": data_cp,
        })
    }

    /// A request to one of its RTP observers.
    pub fn observer_request(&mut self, now: Instant, ok: ObserverKey, body: Body, out: &mut Outbox) -> ApiResult<Value> {
        match body {
            Body::RtpObserverPause => self.observers.pause(ok, out).map(|()| Value::Null),
            Body::RtpObserverResume => self.observers.resume(ok, now).map(|()| Value::Null),
            Body::RtpObserverAddProducer(r) | Body::RtpObserverRemoveProducer(r) if !self.producer_ids.contains_key(&r.producer_id) => {
                Err(ApiError::not_found("Producer not found"))
            }
            Body::RtpObserverAddProducer(r) => {
                let pk = self.producer_ids[&r.producer_id];
                let p = &self.producers[pk];
                let (audio, paused) = (p.kind() == MediaKind::Audio, p.paused());
                self.observers.add_producer(ok, ObserverProducer { key: pk, id: r.producer_id }, audio, paused, now).map(|()| Value::Null)
            }
            Body::RtpObserverRemoveProducer(r) => {
                let pk = self.producer_ids[&r.producer_id];
                self.observers.remove_producer(ok, &ObserverProducer { key: pk, id: r.producer_id }, now, out);
                Ok(Value::Null)
            }
            _ => Err(ApiError::other("not an RtpObserver request")),
        }
    }

    /// For tests: a producer's kind by key.
    pub fn producer_kind(&self, pk: ProducerKey) -> Option<MediaKind> {
        self.producers.get(pk).map(|p| p.kind())
    }
}

#[cfg(test)]
mod tests;
