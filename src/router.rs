//! Router: one media room on a worker thread. It owns the room's producers and consumers and
//! moves media between its transports: RTP from a producer's transport fans out to every
//! consumer (one copy each), RTCP feedback goes back the other way. It knows nothing of sockets:
//! the worker feeds it decrypted packets and sends what it outputs.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::channel::{ErrorClass, RequestError};
use crate::consumer::{Consumer, NewConsumer};
use crate::producer::Producer;
use crate::rtcp::{self, Feedback};
use crate::rtp;
use crate::twcc::TwccRecorder;

const TICK: Duration = Duration::from_millis(20);
const TWCC_INTERVAL: Duration = Duration::from_millis(100);
const REPORT_INTERVAL: Duration = Duration::from_millis(1000);
const SCORE_INTERVAL: Duration = Duration::from_millis(2000);

/// What the router wants done.
#[derive(Debug, PartialEq)]
pub enum Output {
    Rtp { transport_id: String, data: Vec<u8> },
    Rtcp { transport_id: String, data: Vec<u8> },
    Notify { target: String, event: &'static str, data: Value },
}

/// Per-transport media state.
#[derive(Default)]
struct TransportMedia {
    connected: bool,
    next_mid: u32,
    cname: Option<String>,
    /// SSRC we use as RTCP sender on this transport.
    rtcp_ssrc: u32,
    twcc_out: u16,
    twcc_in: TwccRecorder,
    twcc_media_ssrc: u32,
    /// Incoming SSRC → producer; MID → producer.
    ssrcs: HashMap<u32, String>,
    mids: HashMap<String, String>,
    /// Our outgoing SSRCs (media and RTX) → consumer, for the receiver's feedback.
    consumer_ssrcs: HashMap<u32, String>,
    producers: Vec<String>,
    consumers: Vec<String>,
    /// Dropped RTP/RTCP (unknown SSRC, malformed).
    dropped: u64,
}

pub struct Router {
    pub id: String,
    pub rtp_capabilities: Value,
    /// Transports in creation order.
    pub transport_ids: Vec<String>,
    media: HashMap<String, TransportMedia>,
    producers: HashMap<String, Producer>,
    consumers: HashMap<String, Consumer>,
    /// Producer → its consumers, in creation order.
    fanout: HashMap<String, Vec<String>>,
    outputs: VecDeque<Output>,
    /// Router-wide default for producers' key frame caches.
    pub key_frame_cache: Option<crate::producer::KeyFrameCacheConfig>,
    last_twcc: Option<Instant>,
    last_report: Option<Instant>,
    last_score: Option<Instant>,
    /// When the next full tick (reports, feedback, retries) is due; replays are paced finer.
    next_tick: Option<Instant>,
}


/// mediasoup's random numbers for SSRCs: 100000000..=999999999.
fn random_ssrc() -> u32 {
    100_000_000 + crate::ice::random_u32() % 900_000_000
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Router {
    pub fn new(id: String, rtp_capabilities: Value) -> Self {
        Router {
            id,
            rtp_capabilities,
            transport_ids: Vec::new(),
            media: HashMap::new(),
            producers: HashMap::new(),
            consumers: HashMap::new(),
            fanout: HashMap::new(),
            outputs: VecDeque::new(),
            key_frame_cache: Some(crate::producer::KeyFrameCacheConfig::default()),
            last_twcc: None,
            next_tick: None,
            last_report: None,
            last_score: None,
        }
    }

    pub fn add_transport(&mut self, id: &str) {
        self.transport_ids.push(id.to_string());
        self.media.insert(id.to_string(), TransportMedia { rtcp_ssrc: random_ssrc(), ..Default::default() });
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next full tick, or sooner the next replayed packet that is due (so that a replay
    /// is paced as recorded, not in 20 ms steps).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.producers.is_empty() && self.consumers.is_empty() {
            return None;
        }
        let tick = self.next_tick.unwrap_or_else(|| Instant::now() + TICK);
        // Never in the past: a due entry is drained by the tick this wakes.
        let floor = Instant::now() + Duration::from_millis(1);
        let replay = self.consumers.values().filter_map(|c| c.next_replay_due()).min().map(|r| r.max(floor));
        Some(replay.map_or(tick, |r| r.min(tick)))
    }

    fn notify(&mut self, target: &str, event: &'static str, data: Value) {
        self.outputs.push_back(Output::Notify { target: target.to_string(), event, data });
    }

    /// mediasoup's `trace` event data.
    fn trace(outputs: &mut VecDeque<Output>, target: &str, ty: &str, direction: &str, info: Value) {
        outputs.push_back(Output::Notify {
            target: target.to_string(),
            event: "trace",
            data: json!({ "type": ty, "timestamp": wall_ms(), "direction": direction, "info": info }),
        });
    }

    /// `router.dump()`, in mediasoup's shape.
    pub fn dump(&self) -> Value {
        let map_pc: Vec<Value> = self
            .fanout
            .iter()
            .map(|(p, cs)| json!({ "key": p, "values": cs }))
            .collect();
        let map_cp: Vec<Value> = self.consumers.values().map(|c| json!({ "key": c.id, "value": c.producer_id })).collect();
        json!({
            "id": self.id,
            "transportIds": self.transport_ids,
            "rtpObserverIds": [],
            "mapProducerIdConsumerIds": map_pc,
            "mapConsumerIdProducerId": map_cp,
            "mapProducerIdObserverIds": [],
            "mapDataProducerIdDataConsumerIds": [],
            "mapDataConsumerIdDataProducerId": [],
        })
    }

    pub fn transport_dump_ids(&self, tid: &str) -> (Vec<String>, Vec<String>) {
        self.media.get(tid).map(|m| (m.producers.clone(), m.consumers.clone())).unwrap_or_default()
    }

    pub fn has_producer(&self, id: &str) -> bool {
        self.producers.contains_key(id)
    }
    pub fn has_consumer(&self, id: &str) -> bool {
        self.consumers.contains_key(id)
    }

    // ----- creation ------------------------------------------------------------------------

    /// `transport.produce()`: validates and maps the parameters, creates the producer.
    pub fn produce(&mut self, tid: &str, data: &Value) -> Result<Value, RequestError> {
        let id = data["producerId"].as_str().ok_or_else(|| RequestError::type_error("missing producerId"))?.to_string();
        if self.producers.contains_key(&id) {
            return Err(RequestError::type_error(format!("a Producer with same id \"{id}\" already exists")));
        }
        let kind = data["kind"].as_str().filter(|k| *k == "audio" || *k == "video")
            .ok_or_else(|| RequestError::type_error(format!("invalid kind \"{}\"", crate::js::display(data.get("kind")))))?
            .to_string();
        let mut params = data.get("rtpParameters").cloned().unwrap_or(Value::Null);
        crate::ortc::validate_rtp_parameters(&mut params)?;
        if params["encodings"].as_array().is_none_or(|e| e.is_empty()) {
            params["encodings"] = json!([{}]);
        }
        let media = self.media.get_mut(tid).ok_or_else(|| RequestError::error("transport not found"))?;
        // One CNAME for every producer of a transport, as mediasoup does.
        let cname = match (&media.cname, params["rtcp"]["cname"].as_str()) {
            (Some(c), _) => c.clone(),
            (None, Some(c)) if !c.is_empty() => c.to_string(),
            _ => format!("{:08x}", crate::ice::random_u32()),
        };
        media.cname = Some(cname.clone());
        params["rtcp"]["cname"] = json!(cname);
        let mapping = crate::ortc::get_producer_rtp_parameters_mapping(&params, &self.rtp_capabilities, random_ssrc())?;
        let consumable = crate::ortc::get_consumable_rtp_parameters(&kind, &params, &self.rtp_capabilities, &mapping);
        // As mediasoup: several encodings need an SSRC or RID each; a single one may instead be
        // identified by the MID.
        let encodings = params["encodings"].as_array().cloned().unwrap_or_default();
        let unidentified = |e: &Value| e.get("ssrc").is_none() && e.get("rid").is_none();
        if encodings.len() > 1 && encodings.iter().any(unidentified) {
            return Err(RequestError::type_error("wrong entry in rtpMapping.encodings (missing ssrc or rid)"));
        }
        if encodings.len() == 1 && unidentified(&encodings[0]) && params["mid"].as_str().is_none_or(|m| m.is_empty()) {
            return Err(RequestError::type_error("wrong entry in rtpMapping.encodings (missing ssrc or rid, or rtpParameters.mid)"));
        }
        let paused = data["paused"].as_bool().unwrap_or(false);
        let delay = data["keyFrameRequestDelay"].as_u64().unwrap_or(0);
        let mut producer = Producer::new(id.clone(), kind, tid.to_string(), params.clone(), consumable.clone(), mapping, paused, delay);
        if producer.is_video() {
            producer.key_frame_cache = crate::producer::KeyFrameCacheConfig::from_json(data.get("keyFrameCache"), self.key_frame_cache);
        }
        // MID and SSRC tables of the transport.
        let media = self.media.get_mut(tid).expect("checked");
        if let Some(mid) = &producer.mid {
            if media.mids.contains_key(mid) {
                return Err(RequestError::error(format!("MID already exists in RTP listener [mid:{mid}]")));
            }
        }
        for s in &producer.streams {
            for ssrc in [s.ssrc, s.rtx_ssrc].into_iter().flatten() {
                if media.ssrcs.contains_key(&ssrc) {
                    return Err(RequestError::error(format!("ssrc already exists in RTP listener [ssrc:{ssrc}]")));
                }
            }
        }
        if let Some(mid) = &producer.mid {
            media.mids.insert(mid.clone(), id.clone());
        }
        for s in &producer.streams {
            for ssrc in [s.ssrc, s.rtx_ssrc].into_iter().flatten() {
                media.ssrcs.insert(ssrc, id.clone());
            }
        }
        media.producers.push(id.clone());
        let reply = json!({ "type": producer.ptype.name(), "rtpParameters": params, "consumableRtpParameters": consumable });
        self.producers.insert(id.clone(), producer);
        self.fanout.insert(id, Vec::new());
        Ok(reply)
    }

    /// `transport.consume()`: computes the consumer's parameters (UnsupportedError when the
    /// capabilities cannot receive the producer) and creates it.
    pub fn consume(&mut self, now: Instant, tid: &str, data: &Value) -> Result<Value, RequestError> {
        let id = data["consumerId"].as_str().ok_or_else(|| RequestError::type_error("missing consumerId"))?.to_string();
        let pid = data["producerId"].as_str().ok_or_else(|| RequestError::type_error("missing producerId"))?;
        let mut caps = data.get("rtpCapabilities").cloned().unwrap_or(Value::Null);
        crate::ortc::validate_rtp_capabilities(&mut caps)?;
        let producer = self
            .producers
            .get(pid)
            .ok_or_else(|| RequestError::new(ErrorClass::NotFoundError, format!("Producer with id \"{pid}\" not found")))?;
        let pipe = data["pipe"].as_bool().unwrap_or(false);
        // A PipeTransport's consumers forward every stream as it is; `pipe: true` on another
        // transport (mediasoup's option) does the same within the receiver's capabilities.
        let pipe_transport = data["pipeTransport"].as_bool().unwrap_or(false);
        if !pipe_transport && !crate::ortc::can_consume(&producer.consumable, &mut caps)? {
            return Err(RequestError::new(ErrorClass::UnsupportedError, "cannot consume this Producer"));
        }
        let mut params = if pipe_transport {
            let rtx = data["pipeRtx"].as_bool().unwrap_or(false);
            crate::ortc::get_pipe_consumer_rtp_parameters(&producer.consumable, rtx, random_ssrc)
        } else {
            let enable_rtx = data["enableRtx"].as_bool().unwrap_or(producer.kind == "video");
            crate::ortc::get_consumer_rtp_parameters(&producer.consumable, &mut caps, pipe, enable_rtx, random_ssrc)?
        };
        let media = self.media.get_mut(tid).ok_or_else(|| RequestError::error("transport not found"))?;
        // As in mediasoup, pipe consumers get no MID (and use none up).
        if !pipe {
            let mid = match data["mid"].as_str().filter(|m| !m.is_empty()) {
                Some(m) => m.to_string(),
                None => {
                    let m = media.next_mid.to_string();
                    media.next_mid = (media.next_mid + 1) % 100_000_000;
                    m
                }
            };
            params["mid"] = json!(mid);
        }
        let preferred_layers = data.get("preferredLayers").filter(|v| v.is_object()).map(|v| {
            (v["spatialLayer"].as_u64().unwrap_or(0) as u32, v["temporalLayer"].as_u64().map(|t| t as u32))
        });
        let paused = data["paused"].as_bool().unwrap_or(false);
        let producer_paused = producer.paused;
        let kind = producer.kind.clone();
        let ctype = if pipe { "pipe".to_string() } else { producer.ptype.name().to_string() };
        let encodings = params["encodings"].as_array().cloned().unwrap_or_default();
        let (pipe_map, pipe_rtx): (Vec<(u32, u32)>, Vec<(u32, u32)>) = if pipe {
            (
                producer.streams.iter().zip(&encodings).filter_map(|(s, e)| Some((s.mapped_ssrc, e["ssrc"].as_u64()? as u32))).collect(),
                encodings.iter().filter_map(|e| Some((e["ssrc"].as_u64()? as u32, e["rtx"]["ssrc"].as_u64()? as u32))).collect(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let cname = producer.rtp_parameters["rtcp"]["cname"].as_str().unwrap_or_default().to_string();
        let producer_scores = producer.score_json();
        let producer_score = producer.streams.iter().map(|s| s.score).max().unwrap_or(0);
        let consumer = Consumer::new(NewConsumer {
            id: id.clone(),
            producer_id: pid.to_string(),
            transport_id: tid.to_string(),
            kind: kind.clone(),
            ctype: ctype.clone(),
            rtp_parameters: params.clone(),
            paused,
            producer_paused,
            preferred_layers,
            ignore_dtx: data["ignoreDtx"].as_bool().unwrap_or(false),
            cname,
        });
        let mut consumer = consumer;
        if pipe {
            for (_, out) in &pipe_map {
                media.consumer_ssrcs.insert(*out, id.clone());
            }
            consumer.set_pipe(pipe_map, pipe_rtx);
        }
        media.consumer_ssrcs.insert(consumer.ssrc, id.clone());
        if let Some(r) = consumer.rtx_ssrc() {
            media.consumer_ssrcs.insert(r, id.clone());
        }
        media.consumers.push(id.clone());
        let connected = media.connected;
        let score = consumer.score;
        let preferred = if ctype == "simple" || ctype == "pipe" {
            Value::Null
        } else {
            let (max_s, max_t) = self.max_layers(pid);
            let s = preferred_layers.map(|(s, _)| s).unwrap_or(max_s).min(max_s);
            let t = preferred_layers.and_then(|(_, t)| t).unwrap_or(max_t).min(max_t);
            json!({ "spatialLayer": s, "temporalLayer": t })
        };
        self.consumers.insert(id.clone(), consumer);
        self.fanout.entry(pid.to_string()).or_default().push(id.clone());
        if connected {
            self.start_video(now, &id);
        } else {
            self.prewarm_cache(now, pid);
        }
        Ok(json!({
            "kind": kind,
            "rtpParameters": params,
            "type": ctype,
            "paused": paused,
            "producerPaused": producer_paused,
            "score": { "score": score, "producerScore": producer_score, "producerScores": producer_scores.as_array().map(|a| a.iter().map(|s| s["score"].clone()).collect::<Vec<_>>()).unwrap_or_default() },
            "preferredLayers": preferred,
            "priority": 1,
        }))
    }

    /// Highest spatial and temporal layer indices a producer offers.
    fn max_layers(&self, pid: &str) -> (u32, u32) {
        let Some(p) = self.producers.get(pid) else { return (0, 0) };
        let encodings = p.consumable["encodings"].as_array().cloned().unwrap_or_default();
        let sm = crate::scalability::parse(encodings.iter().find_map(|e| e["scalabilityMode"].as_str()));
        let spatial = if encodings.len() > 1 { encodings.len() as u32 } else { sm.spatial_layers };
        (spatial.saturating_sub(1), sm.temporal_layers.saturating_sub(1))
    }

    // ----- closing -------------------------------------------------------------------------

    pub fn close_producer(&mut self, pid: &str) {
        let Some(p) = self.producers.remove(pid) else { return };
        if let Some(media) = self.media.get_mut(&p.transport_id) {
            media.ssrcs.retain(|_, v| v != pid);
            media.mids.retain(|_, v| v != pid);
            media.producers.retain(|x| x != pid);
        }
        for cid in self.fanout.remove(pid).unwrap_or_default() {
            self.remove_consumer(&cid);
            self.notify(&cid, "producerclose", Value::Null);
        }
    }

    fn remove_consumer(&mut self, cid: &str) {
        let Some(c) = self.consumers.remove(cid) else { return };
        if let Some(list) = self.fanout.get_mut(&c.producer_id) {
            list.retain(|x| x != cid);
        }
        if let Some(media) = self.media.get_mut(&c.transport_id) {
            media.consumer_ssrcs.retain(|_, v| v != cid);
            media.consumers.retain(|x| x != cid);
        }
    }

    pub fn close_consumer(&mut self, cid: &str) {
        self.remove_consumer(cid);
    }

    /// A transport went away: its producers close (their consumers hear `producerclose`), its
    /// consumers go silently (JS closes them with the transport).
    pub fn close_transport(&mut self, tid: &str) {
        let Some(media) = self.media.get(tid) else { return };
        let producers = media.producers.clone();
        let consumers = media.consumers.clone();
        for p in producers {
            self.close_producer(&p);
        }
        for c in consumers {
            self.remove_consumer(&c);
        }
        self.media.remove(tid);
        self.transport_ids.retain(|t| t != tid);
    }

    // ----- transport events ----------------------------------------------------------------

    /// DTLS connected: consumers on it can now receive, so ask for key frames.
    pub fn transport_connected(&mut self, now: Instant, tid: &str) {
        let Some(media) = self.media.get_mut(tid) else { return };
        media.connected = true;
        for cid in media.consumers.clone() {
            if let Some(c) = self.consumers.get_mut(&cid) {
                c.require_sync();
            }
            self.start_video(now, &cid);
        }
    }

    /// A video consumer is coming (its transport is still connecting): if its producer's cache
    /// holds no key frame, ask for one now so it is cached by the time the transport connects.
    fn prewarm_cache(&mut self, now: Instant, pid: &str) {
        let Some(p) = self.producers.get_mut(pid) else { return };
        p.last_viewer_start = Some(now);
        if !p.is_video() || p.key_frame_cache.is_none() || p.paused {
            return;
        }
        if (0..p.streams.len()).any(|i| p.cached(i, now).is_some()) {
            return;
        }
        self.request_key_frame(now, pid);
    }

    /// Restarts consumer `cid` from its producer's key frame cache if that is possible now.
    fn serve_from_cache(&mut self, now: Instant, cid: &str) -> bool {
        let Some(c) = self.consumers.get_mut(cid) else { return false };
        // A pipe forwards the live stream as it is: the router on the far side asks because its
        // own cache cannot serve, so the request goes on to the sender.
        if !c.is_video() || !c.active() || c.is_pipe() {
            return false;
        }
        if !c.may_replay_again(now) {
            // A replay started just now (duplicate requests of one burst).
            return c.is_replaying();
        }
        let Some(p) = self.producers.get(&c.producer_id) else { return false };
        let idx = c
            .source_ssrc
            .and_then(|s| p.streams.iter().position(|x| x.mapped_ssrc == s))
            .unwrap_or(0);
        if p.cached(idx, now).is_none() {
            return false;
        }
        c.stop_replay();
        c.require_sync();
        self.start_video(now, cid);
        true
    }

    /// A video consumer (re)starts: from the producer's key frame cache at once if it holds
    /// one, otherwise it waits for a key frame that is requested now (merged, with retries).
    fn start_video(&mut self, now: Instant, cid: &str) {
        let Some(c) = self.consumers.get_mut(cid) else { return };
        if !c.needs_key_frame() || c.is_replaying() {
            return;
        }
        if let Some(p) = self.producers.get_mut(&c.producer_id) {
            p.last_viewer_start = Some(now);
        }
        if !self.media.get(&c.transport_id).is_some_and(|m| m.connected) {
            return; // again when its transport connects
        }
        let Some(p) = self.producers.get(&c.producer_id) else { return };
        let streams: Vec<(usize, u32, bool)> = p
            .streams
            .iter()
            .map(|s| (s.encoding_idx, s.mapped_ssrc, s.last_packet_at.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_millis(1500))))
            .collect();
        if streams.len() > 1 {
            c.choose_source(now, &streams);
        }
        let idx = c.current_spatial_layer(&streams).unwrap_or(0);
        match p.cached(idx, now) {
            Some(cached) => {
                let pid = p.id.clone();
                let producer_ext = p.ext.clone();
                c.start_replay(now, cached);
                if c.traces("keyframe") {
                    Self::trace(&mut self.outputs, cid, "keyframe", "out", json!({ "fromCache": true }));
                }
                let tid = c.transport_id.clone();
                let Some(media) = self.media.get_mut(&tid) else { return };
                for data in c.drain_replay(now, &producer_ext, &mut media.twcc_out) {
                    self.outputs.push_back(Output::Rtp { transport_id: tid.clone(), data });
                }
                let _ = pid;
            }
            None => {
                let pid = c.producer_id.clone();
                self.request_key_frame(now, &pid);
            }
        }
    }

    fn request_key_frame_for(&mut self, now: Instant, cid: &str) {
        let Some(c) = self.consumers.get(cid) else { return };
        if !c.is_video() || !c.active() {
            return;
        }
        let pid = c.producer_id.clone();
        self.request_key_frame(now, &pid);
    }

    fn request_key_frame(&mut self, now: Instant, pid: &str) {
        let Some(p) = self.producers.get_mut(pid) else { return };
        if let Some(req) = p.request_key_frame(now) {
            let tid = p.transport_id.clone();
            let ty = if req.use_pli { "pli" } else { "fir" };
            if p.traces(ty) {
                Self::trace(&mut self.outputs, pid, ty, "out", json!({ "ssrcs": req.ssrcs }));
            }
            self.send_key_frame_request(&tid, req);
        }
    }

    fn send_key_frame_request(&mut self, tid: &str, req: crate::producer::KeyFrameRequest) {
        let Some(media) = self.media.get(tid) else { return };
        let sender = media.rtcp_ssrc;
        let packets: Vec<_> = req
            .ssrcs
            .iter()
            .map(|s| if req.use_pli { rtcp::pli(sender, *s) } else { rtcp::fir(sender, *s, req.fir_seq) })
            .collect();
        if let Some(data) = rtcp::marshal(&packets) {
            self.outputs.push_back(Output::Rtcp { transport_id: tid.to_string(), data });
        }
    }

    /// Decrypted RTP received on transport `tid`.
    pub fn on_rtp(&mut self, now: Instant, tid: &str, data: &[u8]) {
        let Some(packet) = rtp::parse(data) else {
            if let Some(m) = self.media.get_mut(tid) {
                m.dropped += 1;
            }
            return;
        };
        let Some(media) = self.media.get_mut(tid) else { return };
        let pid = match media.ssrcs.get(&packet.header.ssrc) {
            Some(p) => p.clone(),
            None => {
                // Unknown SSRC: the MID extension (any producer's id for it) says whose it is.
                let by_mid = media.producers.iter().find_map(|pid| {
                    let p = self.producers.get(pid)?;
                    let mid = rtp::ext_string(&packet, p.ext.id(rtp::URI_MID))?;
                    media.mids.get(&mid).cloned()
                });
                match by_mid {
                    Some(p) => p,
                    None => {
                        media.dropped += 1;
                        return;
                    }
                }
            }
        };
        let Some(producer) = self.producers.get_mut(&pid) else { return };
        // Transport-wide sequence numbers: every packet counts for feedback, even unforwarded.
        if let Some(seq) = rtp::ext_value(&packet, producer.ext.id(rtp::URI_TRANSPORT_CC)) {
            if seq.len() == 2 {
                media.twcc_in.record(u16::from_be_bytes([seq[0], seq[1]]), now);
                media.twcc_media_ssrc = packet.header.ssrc;
            }
        }
        let Some((idx, is_rtx)) = producer.match_stream(&packet) else {
            media.dropped += 1;
            return;
        };
        // Learned SSRCs go into the transport's table.
        for ssrc in [producer.streams[idx].ssrc, producer.streams[idx].rtx_ssrc].into_iter().flatten() {
            media.ssrcs.entry(ssrc).or_insert_with(|| pid.clone());
        }
        let (ssrc_in, seq_in, pt_in) = (packet.header.ssrc, packet.header.sequence_number, packet.header.payload_type);
        let received = producer.receive(now, packet, idx, is_rtx, data.len());
        if producer.orientation_changed {
            producer.orientation_changed = false;
            if let Some((camera, flip, rotation)) = producer.video_orientation {
                self.outputs.push_back(Output::Notify {
                    target: pid.clone(),
                    event: "videoorientationchange",
                    data: json!({ "camera": camera, "flip": flip, "rotation": rotation }),
                });
            }
        }
        if producer.traces("rtp") {
            Self::trace(&mut self.outputs, &pid, "rtp", "in", json!({ "ssrc": ssrc_in, "sequenceNumber": seq_in, "payloadType": pt_in, "isRtx": is_rtx }));
        }
        let Some((mapped, is_key)) = received else { return };
        if is_key && producer.traces("keyframe") {
            Self::trace(&mut self.outputs, &pid, "keyframe", "in", json!({ "ssrc": ssrc_in, "sequenceNumber": seq_in }));
        }
        // Only simulcast consumers need the streams' activity (to pick a layer).
        let streams: Vec<(usize, u32, bool)> = if producer.streams.len() > 1 {
            producer
                .streams
                .iter()
                .map(|s| (s.encoding_idx, s.mapped_ssrc, s.last_packet_at.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_millis(1500))))
                .collect()
        } else {
            Vec::new()
        };
        let mut wants_key_frame = false;
        // Disjoint borrows: the producer and its consumer list are read while consumers, their
        // transports' state and the outputs change (no per-packet copies of either).
        let producer_ext = &self.producers[&pid].ext;
        let no_consumers = Vec::new();
        let consumer_ids = self.fanout.get(&pid).unwrap_or(&no_consumers);
        for cid in consumer_ids {
            let Some(c) = self.consumers.get_mut(cid) else { continue };
            let Some(cmedia) = self.media.get_mut(&c.transport_id) else { continue };
            if !cmedia.connected {
                continue;
            }
            if streams.len() > 1 && c.choose_source(now, &streams) {
                let layer = c.current_spatial_layer(&streams);
                if c.layers_sent != Some(layer) {
                    c.layers_sent = Some(layer);
                    let data = layer.map_or(Value::Null, |l| json!({ "spatialLayer": l, "temporalLayer": 0 }));
                    self.outputs.push_back(Output::Notify { target: cid.clone(), event: "layerschange", data });
                }
            }
            if c.is_replaying() && is_key {
                // A live key frame is a better start than the rest of a replay.
                c.stop_replay();
                c.require_sync();
            }
            if c.is_replaying() {
                c.queue_live(now, mapped.clone(), is_key);
                for data in c.drain_replay(now, producer_ext, &mut cmedia.twcc_out) {
                    self.outputs.push_back(Output::Rtp { transport_id: c.transport_id.clone(), data });
                }
                continue;
            }
            if let Some(bytes) = c.forward(now, &mapped, is_key, producer_ext, &mut cmedia.twcc_out) {
                if c.traces("rtp") || (is_key && c.traces("keyframe")) {
                    let info = json!({ "ssrc": c.ssrc, "payloadType": mapped.header.payload_type });
                    if c.traces("rtp") {
                        Self::trace(&mut self.outputs, cid, "rtp", "out", info.clone());
                    }
                    if is_key && c.traces("keyframe") {
                        Self::trace(&mut self.outputs, cid, "keyframe", "out", info);
                    }
                }
                self.outputs.push_back(Output::Rtp { transport_id: c.transport_id.clone(), data: bytes });
            } else if c.needs_key_frame() {
                wants_key_frame = true;
            }
        }
        if wants_key_frame {
            // Waiting consumers start from the cache if one is held by now, else a request.
            let waiting: Vec<String> = self.fanout.get(&pid).cloned().unwrap_or_default();
            for cid in waiting {
                self.start_video(now, &cid);
            }
        }
    }

    /// Decrypted RTCP received on transport `tid`.
    pub fn on_rtcp(&mut self, now: Instant, tid: &str, data: &[u8]) {
        let Some(feedback) = rtcp::parse(data) else {
            if let Some(m) = self.media.get_mut(tid) {
                m.dropped += 1;
            }
            return;
        };
        for fb in feedback {
            match fb {
                Feedback::SenderReport { ssrc, ntp, .. } => {
                    let pid = self.media.get(tid).and_then(|m| m.ssrcs.get(&ssrc)).cloned();
                    if let Some(p) = pid.and_then(|p| self.producers.get_mut(&p)) {
                        p.on_sender_report(ssrc, ntp, now);
                    }
                }
                Feedback::ReceptionReport { ssrc, fraction_lost, total_lost, .. } => {
                    if let Some(c) = self.consumer_by_ssrc(tid, ssrc) {
                        c.on_receiver_report(fraction_lost, total_lost);
                    }
                }
                Feedback::Nack { media_ssrc, seqs } => {
                    let Some(c) = self.consumer_by_ssrc(tid, media_ssrc) else { continue };
                    let tid = c.transport_id.clone();
                    if c.traces("nack") {
                        let cid = c.id.clone();
                        Self::trace(&mut self.outputs, &cid, "nack", "in", json!({ "ssrc": media_ssrc, "seqs": seqs }));
                    }
                    let Some(c) = self.consumer_by_ssrc(&tid, media_ssrc) else { continue };
                    for data in c.on_nack(media_ssrc, &seqs) {
                        self.outputs.push_back(Output::Rtp { transport_id: tid.clone(), data });
                    }
                }
                Feedback::Pli { media_ssrc } | Feedback::Fir { media_ssrc } => {
                    let is_pli = matches!(fb, Feedback::Pli { .. });
                    let Some(c) = self.consumer_by_ssrc(tid, media_ssrc) else { continue };
                    if is_pli {
                        c.pli_count += 1;
                    } else {
                        c.fir_count += 1;
                    }
                    let cid = c.id.clone();
                    let ty = if is_pli { "pli" } else { "fir" };
                    if c.traces(ty) {
                        Self::trace(&mut self.outputs, &cid, ty, "in", json!({ "ssrc": media_ssrc }));
                    }
                    // A viewer that missed the start (its receiver was not set up yet when the
                    // key frame went out) asks again: answer from the cache when it holds one.
                    if self.serve_from_cache(now, &cid) {
                        continue;
                    }
                    self.request_key_frame_for(now, &cid);
                }
                Feedback::Remb { .. } | Feedback::TransportCc => {}
            }
        }
    }

    fn consumer_by_ssrc(&mut self, tid: &str, ssrc: u32) -> Option<&mut Consumer> {
        let cid = self.media.get(tid)?.consumer_ssrcs.get(&ssrc)?.clone();
        self.consumers.get_mut(&cid)
    }

    // ----- periodic work -------------------------------------------------------------------

    pub fn tick(&mut self, now: Instant) {
        // Paced replays.
        let replaying: Vec<String> = self.consumers.values().filter(|c| c.is_replaying()).map(|c| c.id.clone()).collect();
        for cid in replaying {
            let Some(c) = self.consumers.get_mut(&cid) else { continue };
            let Some(ext) = self.producers.get(&c.producer_id).map(|p| p.ext.clone()) else { continue };
            let Some(media) = self.media.get_mut(&c.transport_id) else { continue };
            for data in c.drain_replay(now, &ext, &mut media.twcc_out) {
                self.outputs.push_back(Output::Rtp { transport_id: c.transport_id.clone(), data });
            }
        }
        if self.next_tick.is_some_and(|t| now < t) {
            return; // woken for a replay only
        }
        self.next_tick = Some(now + TICK);
        // While viewers keep coming, refresh caches before they expire.
        let refresh: Vec<String> = self.producers.values().filter(|p| p.cache_needs_refresh(now)).map(|p| p.id.clone()).collect();
        for pid in refresh {
            self.request_key_frame(now, &pid);
        }
        // Unanswered key frame requests are repeated while consumers still wait.
        let waiting: Vec<String> = self
            .consumers
            .values()
            .filter(|c| c.needs_key_frame() && !c.is_replaying() && self.media.get(&c.transport_id).is_some_and(|m| m.connected))
            .map(|c| c.producer_id.clone())
            .collect();
        for pid in waiting {
            let due = self.producers.get(&pid).is_some_and(|p| {
                p.awaiting_key_frame_since.is_none_or(|t| now.saturating_duration_since(t) >= crate::producer::KEY_FRAME_RETRY)
            });
            if due {
                self.request_key_frame(now, &pid);
            }
        }
        // Delayed key frame requests and NACKs towards senders.
        let pids: Vec<String> = self.producers.keys().cloned().collect();
        for pid in &pids {
            let p = self.producers.get_mut(pid).expect("listed");
            let tid = p.transport_id.clone();
            let (kf, nacks) = p.tick(now);
            if !nacks.is_empty() && p.traces("nack") {
                let info = json!({ "nacks": nacks.iter().map(|(s, q)| json!({ "ssrc": s, "seqs": q })).collect::<Vec<_>>() });
                Self::trace(&mut self.outputs, pid, "nack", "out", info);
            }
            if let Some(req) = kf {
                let ty = if req.use_pli { "pli" } else { "fir" };
                if p.traces(ty) {
                    Self::trace(&mut self.outputs, pid, ty, "out", json!({ "ssrcs": req.ssrcs }));
                }
                self.send_key_frame_request(&tid, req);
            }
            if !nacks.is_empty() {
                if let Some(media) = self.media.get(&tid) {
                    let sender = media.rtcp_ssrc;
                    let packets: Vec<_> = nacks.iter().map(|(ssrc, seqs)| rtcp::nack(sender, *ssrc, seqs)).collect();
                    if let Some(data) = rtcp::marshal(&packets) {
                        self.outputs.push_back(Output::Rtcp { transport_id: tid, data });
                    }
                }
            }
        }
        if self.last_twcc.is_none_or(|t| now.saturating_duration_since(t) >= TWCC_INTERVAL) {
            self.last_twcc = Some(now);
            for (tid, media) in self.media.iter_mut() {
                if !media.twcc_in.has_pending() {
                    continue;
                }
                if let Some(fb) = media.twcc_in.feedback(media.rtcp_ssrc, media.twcc_media_ssrc) {
                    if let Some(data) = rtcp::marshal(&[Box::new(fb)]) {
                        self.outputs.push_back(Output::Rtcp { transport_id: tid.clone(), data });
                    }
                }
            }
        }
        if self.last_report.is_none_or(|t| now.saturating_duration_since(t) >= REPORT_INTERVAL) {
            self.last_report = Some(now);
            self.send_reports(now);
        }
        if self.last_score.is_none_or(|t| now.saturating_duration_since(t) >= SCORE_INTERVAL) {
            self.last_score = Some(now);
            self.update_scores(now);
        }
    }

    /// RR (+SDES) to every sender, SR (+SDES) for every consumer stream.
    fn send_reports(&mut self, now: Instant) {
        let ntp = rtcp::ntp_now();
        let mut per_transport: HashMap<String, Vec<Box<dyn rtc_rtcp::packet::Packet>>> = HashMap::new();
        for p in self.producers.values_mut() {
            let reports = p.reports(now);
            if reports.is_empty() {
                continue;
            }
            let Some(media) = self.media.get(&p.transport_id) else { continue };
            let list = per_transport.entry(p.transport_id.clone()).or_default();
            list.push(rtcp::receiver_report(media.rtcp_ssrc, reports));
            // Senders without transport-wide-cc get a receiver estimate: room to grow above
            // what arrives now, never below a floor that lets video start.
            if p.wants_remb() {
                let estimate = (p.bitrate(now) * 3 / 2).max(600_000);
                let ssrcs = p.streams.iter().filter_map(|s| s.ssrc).collect();
                list.push(rtcp::remb(media.rtcp_ssrc, estimate, ssrcs));
            }
        }
        for c in self.consumers.values().filter(|c| c.is_pipe() && c.packets_sent > 0) {
            // A pipe forwards every stream with its timestamps: one SR per stream, on the
            // sender's timeline, so receivers behind the far router keep audio/video sync.
            if !self.media.get(&c.transport_id).is_some_and(|m| m.connected) {
                continue;
            }
            let Some(p) = self.producers.get(&c.producer_id) else { continue };
            let list = per_transport.entry(c.transport_id.clone()).or_default();
            for (from, to) in c.pipe_map() {
                let Some(rtp_time) = p.streams.iter().find(|s| s.mapped_ssrc == *from).and_then(|s| s.rtp_time_at(now)) else { continue };
                list.push(rtcp::sender_report(*to, ntp, rtp_time, c.packets_sent as u32, c.bytes_sent as u32));
                list.push(rtcp::sdes(*to, &c.cname));
            }
        }
        for c in self.consumers.values().filter(|c| !c.is_pipe()) {
            // The sender's live timeline (also while a cache replay lags behind it), so that
            // audio/video sync at the viewer holds.
            let live = self.producers.get(&c.producer_id).and_then(|p| {
                let stream = c.source_ssrc.and_then(|s| p.streams.iter().find(|x| x.mapped_ssrc == s)).or(p.streams.first())?;
                stream.rtp_time_at(now)
            });
            let Some(rtp_time) = live.map(|t| t.wrapping_add(c.ts_offset())).or_else(|| c.sr_rtp_time(now)) else { continue };
            if c.packets_sent == 0 {
                continue;
            }
            if !self.media.get(&c.transport_id).is_some_and(|m| m.connected) {
                continue;
            }
            let list = per_transport.entry(c.transport_id.clone()).or_default();
            list.push(rtcp::sender_report(c.ssrc, ntp, rtp_time, c.packets_sent as u32, c.bytes_sent as u32));
            list.push(rtcp::sdes(c.ssrc, &c.cname));
        }
        for (tid, packets) in per_transport {
            // Keep compound packets well under the MTU.
            for chunk in packets.chunks(8) {
                if let Some(data) = rtcp::marshal(chunk) {
                    self.outputs.push_back(Output::Rtcp { transport_id: tid.clone(), data });
                }
            }
        }
    }

    fn update_scores(&mut self, now: Instant) {
        let mut events = Vec::new();
        for p in self.producers.values_mut() {
            if let Some(score) = p.update_scores(now) {
                events.push((p.id.clone(), json!({ "score": score })));
            }
        }
        for c in self.consumers.values_mut() {
            let Some(p) = self.producers.get(&c.producer_id) else { continue };
            let producer_scores: Vec<u8> = p.streams.iter().map(|s| s.score).collect();
            let producer_score = producer_scores.iter().copied().max().unwrap_or(0);
            let current = (c.score, producer_scores.clone());
            if c.last_score_sent.as_ref() != Some(&current) {
                c.last_score_sent = Some(current);
                events.push((c.id.clone(), json!({ "score": c.score, "producerScore": producer_score, "producerScores": producer_scores })));
            }
        }
        for (target, data) in events {
            self.notify(&target, "score", data);
        }
    }

    // ----- requests on producers and consumers ---------------------------------------------

    pub fn producer_request(&mut self, now: Instant, method: &str, pid: &str, data: &Value) -> Result<Value, RequestError> {
        let p = self.producers.get_mut(pid).ok_or_else(|| RequestError::error(format!("Producer {pid} not found")))?;
        match method {
            "producer.dump" => Ok(p.dump_json()),
            "producer.getStats" => Ok(p.stats_json(now, wall_ms())),
            "producer.pause" => {
                if !p.paused {
                    p.paused = true;
                    for cid in self.fanout.get(pid).cloned().unwrap_or_default() {
                        if let Some(c) = self.consumers.get_mut(&cid) {
                            c.producer_paused = true;
                        }
                        self.notify(&cid, "producerpause", Value::Null);
                    }
                }
                Ok(Value::Null)
            }
            "producer.resume" => {
                if p.paused {
                    p.paused = false;
                    for cid in self.fanout.get(pid).cloned().unwrap_or_default() {
                        if let Some(c) = self.consumers.get_mut(&cid) {
                            c.producer_paused = false;
                            c.require_sync();
                        }
                        self.notify(&cid, "producerresume", Value::Null);
                    }
                    for cid in self.fanout.get(pid).cloned().unwrap_or_default() {
                        self.start_video(now, &cid);
                    }
                }
                Ok(Value::Null)
            }
            "producer.enableTraceEvent" => {
                p.trace_event_types = string_list(&data["types"]);
                Ok(Value::Null)
            }
            m => Err(RequestError::error(format!("unknown method '{m}'"))),
        }
    }

    pub fn consumer_request(&mut self, now: Instant, method: &str, cid: &str, data: &Value) -> Result<Value, RequestError> {
        let c = self.consumers.get_mut(cid).ok_or_else(|| RequestError::error(format!("Consumer {cid} not found")))?;
        match method {
            "consumer.dump" => Ok(json!({
                "id": c.id,
                "producerId": c.producer_id,
                "kind": c.kind,
                "type": c.ctype,
                "rtpParameters": c.rtp_parameters,
                "consumableRtpEncodings": self.producers.get(&c.producer_id).map(|p| p.consumable["encodings"].clone()),
                "supportedCodecPayloadTypes": c.rtp_parameters["codecs"].as_array().map(|a| a.iter().filter(|x| !crate::ortc::is_rtx_codec(x)).map(|x| x["payloadType"].clone()).collect::<Vec<_>>()),
                "traceEventTypes": c.trace_event_types,
                "paused": c.paused,
                "producerPaused": c.producer_paused,
                "priority": c.priority,
            })),
            "consumer.getStats" => {
                let mut stats = vec![c.stats_json(now, wall_ms())];
                let pid = c.producer_id.clone();
                if let Some(p) = self.producers.get_mut(&pid) {
                    if let Value::Array(list) = p.stats_json(now, wall_ms()) {
                        stats.extend(list);
                    }
                }
                Ok(Value::Array(stats))
            }
            "consumer.pause" => {
                c.paused = true;
                Ok(Value::Null)
            }
            "consumer.resume" => {
                if c.paused {
                    c.paused = false;
                    c.require_sync();
                    let id = c.id.clone();
                    self.start_video(now, &id);
                }
                Ok(Value::Null)
            }
            "consumer.setPreferredLayers" => {
                if c.ctype == "simple" {
                    return Ok(Value::Null);
                }
                let spatial = data["spatialLayer"].as_u64().ok_or_else(|| RequestError::type_error("missing spatialLayer"))? as u32;
                let temporal = data["temporalLayer"].as_u64().map(|t| t as u32);
                let pid = c.producer_id.clone();
                let (max_s, max_t) = self.max_layers(&pid);
                let (s, t) = (spatial.min(max_s), temporal.unwrap_or(max_t).min(max_t));
                if let Some(c) = self.consumers.get_mut(cid) {
                    c.preferred_layers = Some((s, Some(t)));
                }
                Ok(json!({ "spatialLayer": s, "temporalLayer": t }))
            }
            "consumer.setPriority" => {
                let prio = data["priority"].as_u64().filter(|p| *p >= 1).ok_or_else(|| RequestError::type_error("wrong priority (must be higher than 0)"))?;
                c.priority = prio as u32;
                Ok(json!({ "priority": prio }))
            }
            "consumer.requestKeyFrame" => {
                // An explicit request goes to the sender (the app wants a fresh key frame).
                let id = c.id.clone();
                self.request_key_frame_for(now, &id);
                Ok(Value::Null)
            }
            "consumer.enableTraceEvent" => {
                c.trace_event_types = string_list(&data["types"]);
                Ok(Value::Null)
            }
            m => Err(RequestError::error(format!("unknown method '{m}'"))),
        }
    }
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests;
