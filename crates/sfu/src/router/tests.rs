use super::*;
use crate::api::request::Target;
use crate::api::{ErrorKind, Request};
use crate::transport::Link;
use bytes::Bytes;
use rtc_rtp::header::{Extension, Header};
use rtc_rtp::packet::Packet;
use std::collections::HashMap;

/// What the router put out, by transport name (the tests' view of sends and events).
#[derive(Debug, PartialEq)]
enum Output {
    Rtp { transport_id: String, data: Vec<u8> },
    Rtcp { transport_id: String, data: Vec<u8> },
    Notify { target: String, event: &'static str, data: Value },
}

/// A router with named transports whose links keep what is sent.
struct H {
    r: Router,
    transports: Arena<Transport>,
    names: HashMap<String, TransportKey>,
    out: Outbox,
    clock: Clock,
    rng: Rng,
    rk: RouterKey,
}

impl H {
    fn new(caps: Value) -> Self {
        let mut routers: Arena<()> = Arena::default();
        let rk = routers.insert(()).cast();
        H {
            r: Router::new(RouterId::new("r"), caps, Some(KeyFrameCacheConfig::default())),
            transports: Arena::default(),
            names: HashMap::new(),
            out: Outbox::default(),
            clock: Clock::new(Instant::now(), std::time::SystemTime::now()),
            rng: Rng::from_seed([9; 32]),
            rk,
        }
    }

    /// A transport named `pipe…` is a pipe (its consumers forward every stream as it is).
    fn add_transport(&mut self, name: &str) {
        let link = Link::Capture { pipe: name.starts_with("pipe"), sent: Vec::new() };
        let t = Transport::new(crate::api::TransportId::new(name), self.rk, link, self.rng.ssrc());
        let tk = self.transports.insert(t);
        self.r.add_transport(tk);
        self.names.insert(name.to_string(), tk);
    }

    fn tk(&self, name: &str) -> TransportKey {
        self.names[name]
    }

    fn body(method: &str, data: &Value) -> ApiResult<Body> {
        let handler = if method.starts_with("worker.") { "" } else { "x" };
        let r = Request::from_value(1, method, handler, data.clone())?;
        assert_ne!(r.body.target(), Target::Worker);
        Ok(r.body)
    }

    fn produce(&mut self, tid: &str, data: &Value) -> ApiResult<Value> {
        let Body::TransportProduce(req) = Self::body("transport.produce", data)? else { unreachable!() };
        let tk = self.tk(tid);
        self.r.produce(tk, &mut self.transports[tk], req, &mut self.rng).map(|(_, v)| v)
    }

    fn consume(&mut self, now: Instant, tid: &str, data: &Value) -> ApiResult<Value> {
        let mut data = data.clone();
        if data.get("rtpCapabilities").is_none() {
            data["rtpCapabilities"] = json!({});
        }
        let Body::TransportConsume(req) = Self::body("transport.consume", &data)? else { unreachable!() };
        let tk = self.tk(tid);
        self.r.consume(now, &self.clock, tk, &mut self.transports, req, &mut self.rng, &mut self.out).map(|(_, v)| v.into_value())
    }

    fn on_rtp(&mut self, now: Instant, tid: &str, data: &[u8]) {
        let tk = self.tk(tid);
        self.r.on_rtp(now, &self.clock, tk, data, &mut self.transports, &mut self.out);
    }

    fn on_rtcp(&mut self, now: Instant, tid: &str, data: &[u8]) {
        let tk = self.tk(tid);
        self.r.on_rtcp(now, &self.clock, tk, data, &mut self.transports, &mut self.out);
    }

    fn tick(&mut self, now: Instant) {
        self.r.tick(now, &self.clock, &mut self.transports, &mut self.out);
    }

    /// Ticks as the engine would (each TICK) from `from` to `to`: a report interval's worth
    /// of ticks gives every stream its reports.
    fn tick_through(&mut self, from: Instant, to: Instant) {
        let mut t = from;
        while t <= to {
            self.tick(t);
            t += super::TICK;
        }
    }

    fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.r.poll_timeout(now)
    }

    fn transport_connected(&mut self, now: Instant, tid: &str) {
        let tk = self.tk(tid);
        self.r.transport_connected(now, &self.clock, tk, &mut self.transports, &mut self.out);
    }

    fn producer_request(&mut self, now: Instant, method: &str, pid: &str, data: &Value) -> ApiResult<Value> {
        let pk = self.r.producer_key(pid).expect("producer");
        let body = Self::body(method, data)?;
        self.r.producer_request(now, &self.clock, pk, body, &mut self.transports, &mut self.out)
    }

    fn consumer_request(&mut self, now: Instant, method: &str, cid: &str, data: &Value) -> ApiResult<Value> {
        let ck = self.r.consumer_key(cid).expect("consumer");
        let body = Self::body(method, data)?;
        self.r.consumer_request(now, &self.clock, ck, body, &mut self.transports, &mut self.out)
    }

    fn close_producer(&mut self, pid: &str) {
        let pk = self.r.producer_key(pid).expect("producer");
        self.r.close_producer(pk, &mut self.transports, &mut self.out);
    }

    fn has_consumer(&self, cid: &str) -> bool {
        self.r.consumer_key(cid).is_some()
    }

    fn dump(&self) -> Value {
        self.r.dump(&self.transports)
    }

    fn drops(&self, tid: &str) -> crate::transport::media::MediaDrops {
        self.transports[self.tk(tid)].media.drops
    }

    fn cached(&self, pid: &str, now: Instant) -> bool {
        let pk = self.r.producer_key(pid).expect("producer");
        self.r.producer(pk).unwrap().cached(0, now).is_some()
    }

    fn has_cache(&self, pid: &str) -> bool {
        let pk = self.r.producer_key(pid).expect("producer");
        self.r.producer(pk).unwrap().has_cache()
    }
}

/// Everything sent and announced since last time, in order per transport.
fn outputs(h: &mut H) -> Vec<Output> {
    let mut v = Vec::new();
    while let Some(o) = h.out.pop() {
        if let crate::engine::io::Output::Event(e) = o {
            v.push(Output::Notify { target: e.target.to_string(), event: e.name, data: e.data });
        }
    }
    let mut names: Vec<(String, TransportKey)> = h.names.iter().map(|(n, k)| (n.clone(), *k)).collect();
    names.sort();
    for (name, tk) in names {
        if let Some(t) = h.transports.get_mut(tk) {
            if let Link::Capture { sent, .. } = &mut t.link {
                for (rtcp, data) in sent.drain(..) {
                    v.push(if rtcp { Output::Rtcp { transport_id: name.clone(), data } } else { Output::Rtp { transport_id: name.clone(), data } });
                }
            }
        }
    }
    v
}

fn router() -> H {
    let codecs = json!([
        { "kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2 },
        { "kind": "video", "mimeType": "video/VP8", "clockRate": 90000 },
    ]);
    let caps = crate::ortc::generate_router_rtp_capabilities(Some(&codecs)).unwrap();
    let mut h = H::new(caps);
    h.add_transport("send");
    h.add_transport("recv");
    h
}

/// What mediasoup-client sends for a VP8 camera.
fn vp8_params() -> Value {
    json!({
        "mid": "0",
        "codecs": [
            { "mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000,
              "rtcpFeedback": [{ "type": "nack" }, { "type": "nack", "parameter": "pli" }, { "type": "transport-cc" }] },
            { "mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000, "parameters": { "apt": 96 } },
        ],
        "headerExtensions": [
            { "uri": crate::rtp::URI_MID, "id": 4 },
            { "uri": crate::rtp::URI_TRANSPORT_CC, "id": 3 },
        ],
        "encodings": [{ "ssrc": 1111, "rtx": { "ssrc": 2222 } }],
        "rtcp": { "cname": "cam" },
    })
}

fn vp8(seq: u16, key: bool, twcc: u16) -> Vec<u8> {
    let p = Packet {
        header: Header {
            version: 2,
            payload_type: 96,
            sequence_number: seq,
            timestamp: u32::from(seq) * 3000,
            ssrc: 1111,
            extension: true,
            extension_profile: 0xBEDE,
            extensions: vec![
                Extension { id: 4, payload: Bytes::from_static(b"0") },
                Extension { id: 3, payload: Bytes::copy_from_slice(&twcc.to_be_bytes()) },
            ],
            ..Default::default()
        },
        payload: Bytes::from(if key { vec![0x10, 0x00, 0x9d, 0x01] } else { vec![0x10, 0x01, 0x9d, 0x01] }),
    };
    crate::rtp::marshal(&p).unwrap()
}

fn setup(delay_ms: u64) -> (H, String, Value) {
    setup_with(delay_ms, json!(false))
}

/// `cache`: the producer's `keyFrameCache` option (`false`: without, to test requests).
fn setup_with(delay_ms: u64, cache: Value) -> (H, String, Value) {
    let mut r = router();
    let reply = r
        .produce("send", &json!({ "producerId": "p1", "kind": "video", "rtpParameters": vp8_params(), "keyFrameRequestDelay": delay_ms, "keyFrameCache": cache }))
        .unwrap();
    assert_eq!(reply["type"], "simple");
    assert_eq!(reply["rtpParameters"]["rtcp"]["cname"], "cam");
    let caps = r.r.rtp_capabilities.clone();
    let c = r.consume(Instant::now(), "recv", &json!({ "consumerId": "c1", "producerId": "p1", "rtpCapabilities": caps })).unwrap();
    assert_eq!(c["rtpParameters"]["mid"], "0");
    assert_eq!(c["type"], "simple");
    (r, "c1".into(), c)
}

fn rtp_to(outs: &[Output], tid: &str) -> Vec<Packet> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Rtp { transport_id, data } if transport_id == tid => crate::rtp::parse(data),
            _ => None,
        })
        .collect()
}

fn rtcp_to(outs: &[Output], tid: &str) -> Vec<Feedback> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Rtcp { transport_id, data } if transport_id == tid => rtcp::parse(data),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn fans_out_from_a_key_frame_with_rewritten_headers() {
    let (mut r, _, c) = setup(0);
    let now = Instant::now();
    // Not connected yet: nothing is sent.
    r.on_rtp(now, "send", &vp8(1, true, 1));
    assert!(rtp_to(&outputs(&mut r), "recv").is_empty());
    r.transport_connected(now, "recv");
    // Connecting asks the producer for a key frame (PLI to the sender's transport).
    let outs = outputs(&mut r);
    assert!(rtcp_to(&outs, "send").contains(&Feedback::Pli { media_ssrc: 1111 }));
    // A delta frame is held back; the key frame starts the stream.
    r.on_rtp(now, "send", &vp8(2, false, 2));
    assert!(rtp_to(&outputs(&mut r), "recv").is_empty());
    r.on_rtp(now, "send", &vp8(3, true, 3));
    r.on_rtp(now, "send", &vp8(4, false, 4));
    let sent = rtp_to(&outputs(&mut r), "recv");
    assert_eq!(sent.len(), 2);
    let ssrc = c["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    assert_eq!(sent[0].header.ssrc, ssrc);
    assert_eq!(sent[1].header.sequence_number, sent[0].header.sequence_number.wrapping_add(1));
    assert_eq!(u64::from(sent[0].header.payload_type), c["rtpParameters"]["codecs"][0]["payloadType"].as_u64().unwrap());
    assert_eq!(sent[0].payload.as_ref(), &[0x10, 0x00, 0x9d, 0x01]);
    // The consumer's MID, not the producer's id numbering.
    let mid_id = c["rtpParameters"]["headerExtensions"].as_array().unwrap().iter()
        .find(|e| e["uri"] == crate::rtp::URI_MID).unwrap()["id"].as_u64().unwrap() as u8;
    assert_eq!(crate::rtp::ext_string(&sent[0], Some(mid_id)).as_deref(), Some("0"));
}

#[test]
fn nack_from_the_viewer_is_answered_with_rtx_and_losses_are_nacked_upstream() {
    let (mut r, _, c) = setup(0);
    let now = Instant::now();
    r.transport_connected(now, "recv");
    r.on_rtp(now, "send", &vp8(10, true, 1));
    r.on_rtp(now, "send", &vp8(11, false, 2));
    // 12 lost.
    r.on_rtp(now, "send", &vp8(13, false, 3));
    let sent = rtp_to(&outputs(&mut r), "recv");
    let ssrc = c["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let rtx_ssrc = c["rtpParameters"]["encodings"][0]["rtx"]["ssrc"].as_u64().unwrap() as u32;
    let nack = rtcp::marshal(&[rtcp::nack(1, ssrc, &[sent[1].header.sequence_number])]).unwrap();
    r.on_rtcp(now, "recv", &nack);
    let again = rtp_to(&outputs(&mut r), "recv");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].header.ssrc, rtx_ssrc);
    // Upstream: the router NACKs seq 12 to the sender.
    r.tick(now + Duration::from_millis(50));
    let fb = rtcp_to(&outputs(&mut r), "send");
    assert!(fb.iter().any(|f| matches!(f, Feedback::Nack { media_ssrc: 1111, seqs } if seqs == &vec![12])), "{fb:?}");
    // The sender retransmits 12 over RTX: it is forwarded in order as the original.
    let media = crate::rtp::parse(&vp8(12, false, 4)).unwrap();
    let rtx = crate::rtp::to_rtx(&crate::rtp::marshal(&media).unwrap(), 2222, 97, 1).unwrap();
    r.on_rtp(now, "send", &rtx);
    let repaired = rtp_to(&outputs(&mut r), "recv");
    assert_eq!(repaired.len(), 1);
    assert_eq!(repaired[0].header.sequence_number, sent[0].header.sequence_number.wrapping_add(2));
}

#[test]
fn key_frame_requests_merge_within_the_delay() {
    let (mut r, _, c) = setup(500);
    let now = Instant::now();
    r.on_rtp(now, "send", &vp8(1, false, 1)); // learn the stream
    r.transport_connected(now, "recv");
    assert_eq!(rtcp_to(&outputs(&mut r), "send").iter().filter(|f| matches!(f, Feedback::Pli { .. })).count(), 1);
    let ssrc = c["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let pli = rtcp::marshal(&[rtcp::pli(1, ssrc)]).unwrap();
    for _ in 0..5 {
        r.on_rtcp(now, "recv", &pli);
    }
    assert_eq!(rtcp_to(&outputs(&mut r), "send").iter().filter(|f| matches!(f, Feedback::Pli { .. })).count(), 0);
    r.tick(now + Duration::from_millis(200));
    assert_eq!(rtcp_to(&outputs(&mut r), "send").iter().filter(|f| matches!(f, Feedback::Pli { .. })).count(), 0);
    r.tick(now + Duration::from_millis(510));
    assert_eq!(rtcp_to(&outputs(&mut r), "send").iter().filter(|f| matches!(f, Feedback::Pli { .. })).count(), 1);
}

#[test]
fn pause_resume_and_close_notify_consumers() {
    let (mut r, _, _) = setup(0);
    let now = Instant::now();
    r.transport_connected(now, "recv");
    r.on_rtp(now, "send", &vp8(1, true, 1));
    let first = rtp_to(&outputs(&mut r), "recv");
    r.producer_request(now, "producer.pause", "p1", &Value::Null).unwrap();
    let outs = outputs(&mut r);
    assert!(outs.contains(&Output::Notify { target: "c1".into(), event: "producerpause", data: Value::Null }));
    r.on_rtp(now, "send", &vp8(2, true, 2));
    assert!(rtp_to(&outputs(&mut r), "recv").is_empty());
    r.producer_request(now, "producer.resume", "p1", &Value::Null).unwrap();
    assert!(outputs(&mut r).iter().any(|o| matches!(o, Output::Notify { event: "producerresume", .. })));
    r.on_rtp(now, "send", &vp8(30, false, 3));
    assert!(rtp_to(&outputs(&mut r), "recv").is_empty(), "waits for a key frame");
    r.on_rtp(now, "send", &vp8(31, true, 4));
    let after = rtp_to(&outputs(&mut r), "recv");
    assert_eq!(after[0].header.sequence_number, first[0].header.sequence_number.wrapping_add(1));
    // Consumer pause stops only that consumer.
    r.consumer_request(now, "consumer.pause", "c1", &Value::Null).unwrap();
    r.on_rtp(now, "send", &vp8(32, true, 5));
    assert!(rtp_to(&outputs(&mut r), "recv").is_empty());
    r.close_producer("p1");
    assert!(outputs(&mut r).contains(&Output::Notify { target: "c1".into(), event: "producerclose", data: Value::Null }));
    assert!(!r.has_consumer("c1"));
    assert_eq!(r.dump()["mapConsumerIdProducerId"], json!([]));
}

#[test]
fn reports_and_transport_feedback_go_out_periodically() {
    let (mut r, _, c) = setup(0);
    let now = Instant::now();
    r.transport_connected(now, "recv");
    for i in 0..5 {
        r.on_rtp(now, "send", &vp8(100 + i, i == 0, i));
    }
    outputs(&mut r);
    r.tick_through(now + Duration::from_millis(100), now + Duration::from_millis(1100));
    let outs = outputs(&mut r);
    // TWCC feedback to the sender. RR for the producer stream.
    let raw_send: Vec<&Vec<u8>> = outs.iter().filter_map(|o| match o { Output::Rtcp { transport_id, data } if transport_id == "send" => Some(data), _ => None }).collect();
    let fb = rtcp_to(&outs, "send");
    // All five arrived, reported from the first transport-wide number on.
    let twcc = fb.iter().find_map(|f| match f { Feedback::TransportCc(t) => Some(t.clone()), _ => None }).expect("transport-cc feedback");
    assert_eq!((twcc.base, twcc.arrivals.len()), (0, 5));
    assert!(twcc.arrivals.iter().all(|a| a.is_some()));
    assert!(fb.iter().any(|f| matches!(f, Feedback::ReceptionReport { ssrc: 1111, .. })), "{fb:?}");
    assert!(!raw_send.is_empty());
    // SR for the consumer stream.
    let ssrc = c["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    assert!(rtcp_to(&outs, "recv").iter().any(|f| matches!(f, Feedback::SenderReport { ssrc: s, .. } if *s == ssrc)));
    // Scores: 10 for a clean stream, 0 once it has been silent.
    let score = |outs: &[Output]| outs.iter().find_map(|o| match o {
        Output::Notify { target, event: "score", data } if target == "p1" => Some(data["score"][0]["score"].as_u64().unwrap()),
        _ => None,
    });
    assert_eq!(score(&outs), Some(10));
    r.tick(now + Duration::from_millis(3200));
    assert_eq!(score(&outputs(&mut r)), Some(0));
}

#[test]
fn bad_input_is_rejected_or_dropped() {
    let mut r = router();
    let e = r.produce("send", &json!({ "producerId": "p", "kind": "video", "rtpParameters": { "codecs": [{ "mimeType": "video/H265", "payloadType": 96, "clockRate": 90000 }] } })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let e = r.produce("send", &json!({ "producerId": "p", "kind": "data", "rtpParameters": vp8_params() })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Type);
    r.produce("send", &json!({ "producerId": "p", "kind": "video", "rtpParameters": vp8_params() })).unwrap();
    // Same SSRCs / MID again on the same transport.
    assert!(r.produce("send", &json!({ "producerId": "q", "kind": "video", "rtpParameters": vp8_params() })).is_err());
    let audio_caps = json!({ "codecs": [{ "kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 100 }] });
    let e = r.consume(Instant::now(), "recv", &json!({ "consumerId": "c", "producerId": "p", "rtpCapabilities": audio_caps })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let e = r.consume(Instant::now(), "recv", &json!({ "consumerId": "c", "producerId": "nope", "rtpCapabilities": {} })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    // Garbage RTP/RTCP and unknown SSRCs are dropped.
    r.on_rtp(Instant::now(), "send", &[0x80, 96, 0]);
    r.on_rtcp(Instant::now(), "send", &[0x80, 200, 0, 99]);
    let mut stranger = crate::rtp::parse(&vp8(1, true, 1)).unwrap();
    stranger.header.ssrc = 9;
    stranger.header.extensions.clear();
    r.on_rtp(Instant::now(), "send", &crate::rtp::marshal(&stranger).unwrap());
    assert!(outputs(&mut r).is_empty());
    assert_eq!(h_drops_total(&r, "send"), 3);
}

#[test]
fn trace_events_orientation_and_remb() {
    let (mut r, _, _) = setup(0);
    let now = Instant::now();
    r.transport_connected(now, "recv");
    outputs(&mut r);
    r.producer_request(now, "producer.enableTraceEvent", "p1", &json!({ "types": ["keyframe", "rtp"] })).unwrap();
    r.consumer_request(now, "consumer.enableTraceEvent", "c1", &json!({ "types": ["keyframe"] })).unwrap();
    r.on_rtp(now, "send", &vp8(1, true, 1));
    let outs = outputs(&mut r);
    let traces: Vec<(String, String)> = outs.iter().filter_map(|o| match o {
        Output::Notify { target, event: "trace", data } => Some((target.clone(), data["type"].as_str().unwrap().to_string())),
        _ => None,
    }).collect();
    assert_eq!(traces, vec![("p1".into(), "rtp".into()), ("p1".into(), "keyframe".into()), ("c1".into(), "keyframe".into())]);

    // Video orientation (urn:3gpp:video-orientation) changes are reported once.
    let mut params = vp8_params();
    params["mid"] = json!("9");
    params["encodings"] = json!([{ "ssrc": 3333 }]);
    params["headerExtensions"] = json!([{ "uri": crate::rtp::URI_VIDEO_ORIENTATION, "id": 13 }, { "uri": crate::rtp::URI_ABS_SEND_TIME, "id": 2 }]);
    params["codecs"][0]["rtcpFeedback"] = json!([{ "type": "goog-remb" }]);
    r.produce("send", &json!({ "producerId": "p2", "kind": "video", "rtpParameters": params })).unwrap();
    let mut p = crate::rtp::parse(&vp8(1, true, 0)).unwrap();
    p.header.ssrc = 3333;
    p.header.extensions = vec![Extension { id: 13, payload: Bytes::from_static(&[0x01]) }];
    for seq in 1..4 {
        p.header.sequence_number = seq;
        r.on_rtp(now, "send", &crate::rtp::marshal(&p).unwrap());
    }
    let orientation: Vec<Value> = outputs(&mut r).into_iter().filter_map(|o| match o {
        Output::Notify { target, event: "videoorientationchange", data } if target == "p2" => Some(data),
        _ => None,
    }).collect();
    assert_eq!(orientation, vec![json!({ "camera": false, "flip": false, "rotation": 90 })]);
    // That producer negotiated REMB without transport-cc: it gets REMB with the reports.
    r.tick_through(now + Duration::from_millis(100), now + Duration::from_millis(1100));
    let fb = rtcp_to(&outputs(&mut r), "send");
    assert!(fb.iter().any(|f| matches!(f, Feedback::Remb { ssrcs, bitrate } if ssrcs == &vec![3333] && *bitrate >= 600_000)), "{fb:?}");
}


fn pli_count(outs: &[Output]) -> usize {
    rtcp_to(outs, "send").iter().filter(|f| matches!(f, Feedback::Pli { .. })).count()
}

#[test]
fn a_new_viewer_starts_from_the_cached_key_frame_without_asking_the_sender() {
    let (mut r, _, _) = setup_with(0, json!({ "maxDurationMs": 2000, "maxBytes": 100000 }));
    let t0 = Instant::now();
    // The broadcast runs: a key frame (two packets, same timestamp) and delta frames 10 ms apart.
    let mut key2 = crate::rtp::parse(&vp8(2, false, 2)).unwrap();
    key2.header.timestamp = 1 * 3000; // second packet of the key frame
    key2.header.marker = true;
    r.on_rtp(t0, "send", &vp8(1, true, 1));
    r.on_rtp(t0, "send", &crate::rtp::marshal(&key2).unwrap());
    for seq in 3..6u16 {
        r.on_rtp(t0 + Duration::from_millis(u64::from(seq) * 10), "send", &vp8(seq, false, seq));
    }
    outputs(&mut r);
    // The viewer's transport connects 100 ms later: the key frame goes out at once, no PLI.
    let t1 = t0 + Duration::from_millis(100);
    r.transport_connected(t1, "recv");
    let outs = outputs(&mut r);
    assert_eq!(pli_count(&outs), 0);
    let first = rtp_to(&outs, "recv");
    assert_eq!(first.len(), 2, "the whole key frame, nothing more yet");
    assert!(crate::rtp::is_key_frame(crate::rtp::VideoCodec::Vp8, &first[0].payload));
    // Between its 20 ms ticks the router asks to be woken when the next replayed packet is due
    // (the first delta came 30 ms after the key frame: 7.5 ms at 4x).
    r.tick(t1);
    assert_eq!(r.poll_timeout(t1), Some(t1 + Duration::from_micros(7500)));
    // A live packet during the replay waits behind it.
    r.on_rtp(t1 + Duration::from_millis(1), "send", &vp8(6, false, 6));
    assert!(rtp_to(&outputs(&mut r), "recv").is_empty());
    // A tick woken for the replay sends what is due (the first delta) and nothing early.
    r.tick(t1 + Duration::from_millis(8));
    let early = rtp_to(&outputs(&mut r), "recv");
    assert_eq!(early.len(), 1);
    let first: Vec<_> = first.into_iter().chain(early).collect();
    // The deltas follow at 4x speed (30 ms of media → ~8 ms), then the live packet.
    r.tick(t1 + Duration::from_millis(20));
    let rest = rtp_to(&outputs(&mut r), "recv");
    let seqs: Vec<u16> = first.iter().chain(rest.iter()).map(|p| p.header.sequence_number).collect();
    assert_eq!(seqs.len(), 6);
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "no gap or duplicate: {seqs:?}");
    }
    // Replayed timestamps are compressed 4x and end at the newest cached one (15000); the live
    // packet keeps its own (18000).
    let ts: Vec<u32> = first.iter().chain(rest.iter()).map(|p| p.header.timestamp).collect();
    assert_eq!(ts, vec![12000, 12000, 13500, 14250, 15000, 18000]);
    // Live again: forwarded directly, still continuous.
    r.on_rtp(t1 + Duration::from_millis(30), "send", &vp8(7, false, 7));
    let live = rtp_to(&outputs(&mut r), "recv");
    assert_eq!(live[0].header.sequence_number, seqs[5].wrapping_add(1));
    // A second viewer, later, also starts from the cache: still no PLI.
    let caps = r.r.rtp_capabilities.clone();
    r.add_transport("recv2");
    r.transport_connected(t1, "recv2");
    r.consume(t1 + Duration::from_millis(40), "recv2", &json!({ "consumerId": "c2", "producerId": "p1", "rtpCapabilities": caps })).unwrap();
    let outs = outputs(&mut r);
    assert_eq!(pli_count(&outs), 0);
    assert_eq!(rtp_to(&outs, "recv2").len(), 2);
}

#[test]
fn replays_to_many_viewers_at_once_are_spread_over_wake_ups() {
    let (mut r, _, _) = setup_with(0, json!({ "maxDurationMs": 2000, "maxBytes": 1000000 }));
    let t0 = Instant::now();
    // A key frame and four deltas 10 ms apart in the cache.
    r.on_rtp(t0, "send", &vp8(1, true, 1));
    for seq in 2..6u16 {
        r.on_rtp(t0 + Duration::from_millis(u64::from(seq - 1) * 10), "send", &vp8(seq, false, seq));
    }
    // A burst of joins: every viewer's key frame goes at once, its deltas are replayed later.
    let viewers = 100;
    let caps = r.r.rtp_capabilities.clone();
    let t1 = t0 + Duration::from_millis(50);
    for i in 0..viewers {
        let t = format!("j{i}");
        r.add_transport(&t);
        r.consume(t1, &t, &json!({ "consumerId": format!("cj{i}"), "producerId": "p1", "rtpCapabilities": caps })).unwrap();
        r.transport_connected(t1, &t);
    }
    let mut got: HashMap<String, Vec<u16>> = HashMap::new();
    let mut collect = |outs: &[Output]| {
        let mut n = 0;
        for o in outs {
            if let Output::Rtp { transport_id, data } = o {
                got.entry(transport_id.clone()).or_default().push(crate::rtp::parse(data).unwrap().header.sequence_number);
                n += 1;
            }
        }
        n
    };
    assert_eq!(collect(&outputs(&mut r)), viewers, "the key frames");
    // All 400 deltas are due when a live packet comes: its fan-out sends at most REPLAY_BUDGET
    // replayed packets (the live one queues behind each viewer's replay)...
    let mut t = t1 + Duration::from_millis(20);
    r.on_rtp(t, "send", &vp8(6, false, 6));
    let mut left = 5 * viewers;
    let n = collect(&outputs(&mut r));
    assert_eq!(n, super::REPLAY_BUDGET);
    left -= n;
    // ...and each wake-up as many, woken again a millisecond later for the rest.
    t += Duration::from_millis(1);
    while left > 0 {
        r.tick(t);
        let n = collect(&outputs(&mut r));
        assert_eq!(n, left.min(super::REPLAY_BUDGET));
        left -= n;
        if left > 0 {
            assert_eq!(r.poll_timeout(t), Some(t + Duration::from_millis(1)));
        }
        t += Duration::from_millis(1);
    }
    // Each viewer got the whole replay, then the live packet, in order.
    assert_eq!(got.len(), viewers);
    for (t, seqs) in &got {
        assert_eq!(seqs.len(), 6, "{t}");
        assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)), "{t}: {seqs:?}");
    }
}

#[test]
fn sender_reports_are_spread_over_the_report_interval() {
    let (mut r, _, _) = setup(0);
    let now = Instant::now();
    let caps = r.r.rtp_capabilities.clone();
    let viewers = 40;
    for i in 0..viewers {
        let t = format!("s{i}");
        r.add_transport(&t);
        r.consume(now, &t, &json!({ "consumerId": format!("cs{i}"), "producerId": "p1", "rtpCapabilities": caps })).unwrap();
        r.transport_connected(now, &t);
    }
    r.on_rtp(now, "send", &vp8(1, true, 1));
    outputs(&mut r);
    // One report interval of ticks: each viewer's SR exactly once, never all in one tick.
    let mut per_viewer: HashMap<String, usize> = HashMap::new();
    let mut busiest = 0;
    let mut t = now + super::TICK;
    for _ in 0..super::REPORT_SLOTS {
        r.tick(t);
        let outs = outputs(&mut r);
        let mut in_tick = 0;
        for i in 0..viewers {
            let name = format!("s{i}");
            let srs = rtcp_to(&outs, &name).iter().filter(|f| matches!(f, Feedback::SenderReport { .. })).count();
            *per_viewer.entry(name).or_default() += srs;
            in_tick += srs;
        }
        busiest = busiest.max(in_tick);
        t += super::TICK;
    }
    assert!(per_viewer.values().all(|&n| n == 1), "{per_viewer:?}");
    assert!(busiest < viewers / 4, "spread: at most {busiest} in one tick");
}

#[test]
fn the_cache_respects_its_bounds_and_can_be_turned_off() {
    // Too old: a viewer after max duration needs a request.
    let (mut r, _, _) = setup_with(0, json!({ "maxDurationMs": 100 }));
    let t0 = Instant::now();
    r.on_rtp(t0, "send", &vp8(1, true, 1));
    r.transport_connected(t0 + Duration::from_millis(150), "recv");
    assert_eq!(pli_count(&outputs(&mut r)), 1);
    // Too big: dropped when the bytes bound is passed.
    let (mut r, _, _) = setup_with(0, json!({ "maxBytes": 40 }));
    r.on_rtp(t0, "send", &vp8(1, true, 1));
    r.on_rtp(t0, "send", &vp8(2, false, 2));
    r.on_rtp(t0, "send", &vp8(3, false, 3));
    r.transport_connected(t0, "recv");
    assert_eq!(pli_count(&outputs(&mut r)), 1);
    // Off.
    let (mut r, _, _) = setup_with(0, json!(false));
    r.on_rtp(t0, "send", &vp8(1, true, 1));
    r.transport_connected(t0, "recv");
    assert_eq!(pli_count(&outputs(&mut r)), 1);
    // Router default applies when the producer says nothing.
    let mut r = router();
    r.r = Router::new(RouterId::new("r2"), r.r.rtp_capabilities.clone(), None);
    for tk in [r.tk("send"), r.tk("recv")] {
        r.r.add_transport(tk);
    }
    r.produce("send", &json!({ "producerId": "p", "kind": "video", "rtpParameters": vp8_params() })).unwrap();
    assert!(!r.has_cache("p"));
}

#[test]
fn key_frame_requests_are_retried_but_never_flood() {
    let (mut r, _, _) = setup_with(0, json!(false));
    let t0 = Instant::now();
    r.on_rtp(t0, "send", &vp8(1, false, 1));
    // Ten viewers connect at once: one PLI.
    for i in 0..10 {
        let tid = format!("v{i}");
        r.add_transport(&tid);
        let caps = r.r.rtp_capabilities.clone();
        r.consume(t0, &tid, &json!({ "consumerId": format!("viewer{i}"), "producerId": "p1", "rtpCapabilities": caps })).unwrap();
        r.transport_connected(t0, &tid);
    }
    r.transport_connected(t0, "recv");
    assert_eq!(pli_count(&outputs(&mut r)), 1);
    // Unanswered: retried after 500 ms (not before), and not more than once per interval.
    r.tick(t0 + Duration::from_millis(300));
    assert_eq!(pli_count(&outputs(&mut r)), 0);
    r.tick(t0 + Duration::from_millis(520));
    assert_eq!(pli_count(&outputs(&mut r)), 1);
    r.tick(t0 + Duration::from_millis(540));
    assert_eq!(pli_count(&outputs(&mut r)), 0);
    // Answered: no more requests.
    r.on_rtp(t0 + Duration::from_millis(600), "send", &vp8(2, true, 2));
    r.tick(t0 + Duration::from_millis(1200));
    assert_eq!(pli_count(&outputs(&mut r)), 0);
}

#[test]
fn a_viewers_pli_is_answered_from_the_cache_and_consume_prewarms_it() {
    let (mut r, _, c) = setup_with(0, json!({}));
    let t0 = Instant::now();
    // The consumer exists but its transport is still connecting; the cache is empty: one PLI now.
    let caps = r.r.rtp_capabilities.clone();
    r.add_transport("late");
    r.consume(t0, "late", &json!({ "consumerId": "c9", "producerId": "p1", "rtpCapabilities": caps })).unwrap();
    assert_eq!(pli_count(&outputs(&mut r)), 1);
    // The answer is cached; the transports connect later and replay it without asking again.
    r.on_rtp(t0 + Duration::from_millis(20), "send", &vp8(1, true, 1));
    r.on_rtp(t0 + Duration::from_millis(30), "send", &vp8(2, false, 2));
    r.transport_connected(t0 + Duration::from_millis(300), "recv");
    let outs = outputs(&mut r);
    assert_eq!(pli_count(&outs), 0);
    let mut sent = rtp_to(&outs, "recv");
    assert!(!sent.is_empty());
    // The viewer was not ready and asks for a key frame: replayed from the cache again.
    let t1 = t0 + Duration::from_millis(700);
    r.tick(t1);
    sent.extend(rtp_to(&outputs(&mut r), "recv"));
    let ssrc = c["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    r.on_rtcp(t1, "recv", &rtcp::marshal(&[rtcp::pli(1, ssrc)]).unwrap());
    let outs = outputs(&mut r);
    assert_eq!(pli_count(&outs), 0);
    let again = rtp_to(&outs, "recv");
    assert!(crate::rtp::is_key_frame(crate::rtp::VideoCodec::Vp8, &again[0].payload));
    // New sequence numbers, continuing: no duplicates for the receiver.
    r.tick(t1 + Duration::from_millis(50));
    let all: Vec<u16> = sent.iter().chain(again.iter()).chain(rtp_to(&outputs(&mut r), "recv").iter()).map(|p| p.header.sequence_number).collect();
    for w in all.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "{all:?}");
    }
    // That was the one early restart a replay gets (the receiver appeared after the first key
    // frame went out). From now on the viewer's requests replay at most once a second: sooner,
    // they go to the sender instead (merged there), and a burst of them costs nothing more.
    let t2 = t1 + Duration::from_millis(100);
    r.on_rtcp(t2, "recv", &rtcp::marshal(&[rtcp::pli(1, ssrc)]).unwrap());
    let outs = outputs(&mut r);
    assert!(rtp_to(&outs, "recv").is_empty(), "not replayed again so soon");
    assert_eq!(pli_count(&outs), 1, "asked of the sender instead");
    for ms in 1..50 {
        r.on_rtcp(t2 + Duration::from_millis(ms * 3), "recv", &rtcp::marshal(&[rtcp::pli(1, ssrc), rtcp::pli(1, ssrc)]).unwrap());
    }
    let outs = outputs(&mut r);
    assert!(rtp_to(&outs, "recv").is_empty());
    assert_eq!(pli_count(&outs), 0, "merged into the request already sent");
    // A second after the last replay, a request replays again.
    let t3 = t1 + Duration::from_millis(1000);
    r.on_rtp(t3 - Duration::from_millis(10), "send", &vp8(3, true, 3));
    outputs(&mut r);
    r.on_rtcp(t3, "recv", &rtcp::marshal(&[rtcp::pli(1, ssrc)]).unwrap());
    let replayed = rtp_to(&outputs(&mut r), "recv");
    assert!(crate::rtp::is_key_frame(crate::rtp::VideoCodec::Vp8, &replayed[0].payload));
}

#[test]
fn the_cache_is_refreshed_before_it_expires_only_while_viewers_come() {
    // setup() creates a consumer: a viewer is arriving.
    let (mut r, _, _) = setup_with(0, json!({ "maxDurationMs": 1000 }));
    let t0 = Instant::now();
    outputs(&mut r);
    r.on_rtp(t0, "send", &vp8(1, true, 1));
    outputs(&mut r);
    r.tick(t0 + Duration::from_millis(800));
    assert_eq!(pli_count(&outputs(&mut r)), 0, "still fresh");
    r.tick(t0 + Duration::from_millis(920));
    assert_eq!(pli_count(&outputs(&mut r)), 1, "refreshed before expiry");
    r.on_rtp(t0 + Duration::from_millis(950), "send", &vp8(2, true, 2));
    // Viewers stopped coming 5 s ago: the cache is left to expire.
    r.tick(t0 + Duration::from_millis(6500));
    assert_eq!(pli_count(&outputs(&mut r)), 0);
}

#[test]
fn a_pipe_passes_key_frame_requests_to_the_sender_even_with_a_cache() {
    // The far router asks because its own cache cannot serve; replaying this side's cache into
    // the pipe would not help it, so the request must reach the sender.
    let (mut r, _, _) = setup_with(0, json!({}));
    let now = Instant::now();
    r.add_transport("pipe");
    let c = r.consume(now, "pipe", &json!({ "consumerId": "pc", "producerId": "p1", "rtpCapabilities": {}, "pipe": true, "pipeTransport": true })).unwrap();
    r.transport_connected(now, "pipe");
    r.on_rtp(now, "send", &vp8(1, true, 1));
    outputs(&mut r);
    let ssrc = c["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    let later = now + Duration::from_millis(600);
    r.on_rtcp(later, "pipe", &rtcp::marshal(&[rtcp::pli(1, ssrc)]).unwrap());
    let outs = outputs(&mut r);
    assert_eq!(pli_count(&outs), 1);
    assert!(rtp_to(&outs, "pipe").is_empty(), "nothing replayed into the pipe");
}

#[test]
fn pipe_consumers_forward_every_packet_as_it_is() {
    let (mut r, _, _) = setup(0);
    let now = Instant::now();
    r.add_transport("pipe");
    let c = r.consume(now, "pipe", &json!({ "consumerId": "pc", "producerId": "p1", "rtpCapabilities": {}, "pipe": true, "pipeTransport": true })).unwrap();
    assert_eq!(c["type"], "pipe");
    assert!(c["rtpParameters"].get("mid").is_none());
    // `pipe: true` over another transport: checked against the receiver's capabilities.
    let e = r.consume(now, "recv", &json!({ "consumerId": "x", "producerId": "p1", "rtpCapabilities": { "codecs": [] }, "pipe": true })).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let caps = r.r.rtp_capabilities.clone();
    let w = r.consume(now, "recv", &json!({ "consumerId": "x", "producerId": "p1", "rtpCapabilities": caps, "pipe": true })).unwrap();
    assert_eq!(w["type"], "pipe");
    assert!(w["rtpParameters"].get("mid").is_none());
    r.transport_connected(now, "pipe");
    // A delta frame first: pipes do not wait for key frames; sequence numbers and timestamps stay.
    r.on_rtp(now, "send", &vp8(7, false, 1));
    r.on_rtp(now, "send", &vp8(8, true, 2));
    let sent = rtp_to(&outputs(&mut r), "pipe");
    let ssrc = c["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
    assert_eq!(sent.iter().map(|p| (p.header.ssrc, p.header.sequence_number, p.header.timestamp)).collect::<Vec<_>>(), vec![(ssrc, 7, 21000), (ssrc, 8, 24000)]);
    // Key frame requests from the other side reach the original sender.
    r.tick(now + Duration::from_millis(600));
    outputs(&mut r);
    r.on_rtcp(now + Duration::from_millis(600), "pipe", &rtcp::marshal(&[rtcp::pli(1, ssrc)]).unwrap());
    assert_eq!(pli_count(&outputs(&mut r)), 1);
}

/// Router A's pipe consumer feeding router B's pipe producer, packets carried by hand (as the
/// worker's in-memory pipe does): B detects and caches A's key frames, and B's key frame
/// requests reach A's sender.
#[test]
fn two_routers_linked_by_a_pipe_cache_and_request_key_frames() {
    let (mut a, _, _) = setup_with(0, json!({}));
    let now = Instant::now();
    a.add_transport("pipeA");
    let pc = a.consume(now, "pipeA", &json!({ "consumerId": "pc", "producerId": "p1", "rtpCapabilities": {}, "pipe": true, "pipeTransport": true })).unwrap();
    a.transport_connected(now, "pipeA");
    let mut b = router();
    b.add_transport("pipeB");
    b.produce("pipeB", &json!({ "producerId": "p1", "kind": "video", "rtpParameters": pc["rtpParameters"] })).unwrap();
    b.transport_connected(now, "pipeB");
    let caps = b.r.rtp_capabilities.clone();
    b.consume(now, "recv", &json!({ "consumerId": "v", "producerId": "p1", "rtpCapabilities": caps })).unwrap();
    b.transport_connected(now, "recv");
    let carry = |a: &mut H, b: &mut H, at: Instant| {
        for o in outputs(a) {
            match o {
                Output::Rtp { transport_id, data } if transport_id == "pipeA" => b.on_rtp(at, "pipeB", &data),
                Output::Rtcp { transport_id, data } if transport_id == "pipeA" => b.on_rtcp(at, "pipeB", &data),
                _ => {}
            }
        }
    };
    let carry_back = |b: &mut H, a: &mut H, at: Instant| -> usize {
        let mut n = 0;
        for o in outputs(b) {
            if let Output::Rtcp { transport_id, data } = o {
                if transport_id == "pipeB" {
                    n += rtcp::parse(&data).map_or(0, |f| f.iter().filter(|x| matches!(x, Feedback::Pli { .. })).count());
                    a.on_rtcp(at, "pipeA", &data);
                }
            }
        }
        n
    };
    // B's viewer is waiting: B asks through the pipe, A passes it on to the sender.
    // B's viewer is coming and B's cache is empty: B asks through the pipe (as it prewarms),
    // A passes it on to the sender.
    assert_eq!(carry_back(&mut b, &mut a, now), 1, "B asks A");
    assert_eq!(pli_count(&outputs(&mut a)), 1, "A asks the sender");
    // The sender's key frame crosses the pipe: B's viewer starts, and B caches it.
    a.on_rtp(now, "send", &vp8(10, true, 1));
    a.on_rtp(now, "send", &vp8(11, false, 2));
    carry(&mut a, &mut b, now);
    let outs = outputs(&mut b);
    assert!(crate::rtp::is_key_frame(crate::rtp::VideoCodec::Vp8, &rtp_to(&outs, "recv")[0].payload));
    assert!(b.cached("p1", now), "B cached the key frame");
    // A second viewer on B starts from B's cache without asking anyone.
    let t1 = now + Duration::from_millis(300);
    b.add_transport("recv2");
    b.transport_connected(t1, "recv2");
    b.consume(t1, "recv2", &json!({ "consumerId": "v2", "producerId": "p1", "rtpCapabilities": caps })).unwrap();
    let outs = outputs(&mut b);
    assert_eq!(rtp_to(&outs, "recv2").len(), 2);
    assert_eq!(rtcp_to(&outs, "pipeB").iter().filter(|f| matches!(f, Feedback::Pli { .. })).count(), 0);
}

// ----- long streams: every packet keeps flowing past the 16-bit wraps ----------------------

/// One input packet of a long stream: its index (also written into the payload so that the
/// output can be matched to it), sequence number and timestamp.
#[derive(Clone, Copy)]
struct In {
    idx: u32,
    seq: u16,
    ts: u32,
}

fn long_payload(video: bool, key: bool, idx: u32) -> Vec<u8> {
    let mut p = if video { vec![0x10, if key { 0x00 } else { 0x01 }, 0x9d] } else { vec![0xfc] };
    p.extend_from_slice(&idx.to_be_bytes());
    p
}

fn payload_idx(p: &Packet) -> u32 {
    let b = &p.payload[p.payload.len() - 4..];
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn media_packet(ssrc: u32, pt: u8, i: In, video: bool, key: bool) -> Vec<u8> {
    crate::rtp::marshal(&Packet {
        header: Header { version: 2, payload_type: pt, sequence_number: i.seq, timestamp: i.ts, ssrc, marker: true, ..Default::default() },
        payload: Bytes::from(long_payload(video, key, i.idx)),
    })
    .unwrap()
}

/// The input schedule of a long stream: `n` packets starting near the wrap, one in 97 lost,
/// one pair in 50 swapped. Returns (arrival order, lost indices).
fn long_schedule(n: u32, ts_step: u32) -> (Vec<In>, std::collections::HashSet<u32>) {
    let all: Vec<In> = (0..n)
        .map(|idx| In { idx, seq: 65_000u16.wrapping_add(idx as u16), ts: 4_294_000_000u32.wrapping_add(idx.wrapping_mul(ts_step)) })
        .collect();
    let lost: std::collections::HashSet<u32> = (0..n).filter(|i| i % 97 == 50).collect();
    let mut order: Vec<In> = all.into_iter().filter(|i| !lost.contains(&i.idx)).collect();
    let mut k = 10;
    while k + 1 < order.len() {
        order.swap(k, k + 1);
        k += 50;
    }
    (order, lost)
}

/// Checks a consumer's output against what went in: output sequence numbers are the input's
/// shifted by one offset per synchronisation (at most `max_syncs`), a new sync continues right
/// after the highest number sent, no number is used twice, and timestamps never go backwards
/// along the output numbering (a cache replay compresses them, but onto the live timeline).
/// Returns the input indices that went out.
fn check_long_output(inputs: &[In], out: &[Packet], max_syncs: usize) -> std::collections::HashSet<u32> {
    let by_idx: HashMap<u32, In> = inputs.iter().map(|i| (i.idx, *i)).collect();
    let mut offsets: Vec<u16> = Vec::new();
    let mut unwrap = crate::rtp::SeqUnwrapper::default();
    let mut by_ext = std::collections::BTreeMap::new();
    let mut max_out: Option<i64> = None;
    let mut went_out = std::collections::HashSet::new();
    for p in out {
        let i = by_idx[&payload_idx(p)];
        let off = p.header.sequence_number.wrapping_sub(i.seq);
        let ext = unwrap.unwrap(p.header.sequence_number);
        if offsets.last() != Some(&off) {
            if let Some(m) = max_out {
                assert_eq!(ext, m + 1, "a new sync continues after the highest number sent (packet {})", i.idx);
            }
            offsets.push(off);
        }
        assert!(by_ext.insert(ext, p.header.timestamp).is_none(), "output sequence number {ext} used twice");
        max_out = Some(max_out.map_or(ext, |m| m.max(ext)));
        went_out.insert(i.idx);
    }
    assert!(offsets.len() <= max_syncs, "{} syncs", offsets.len());
    let ts: Vec<u32> = by_ext.values().copied().collect();
    for w in ts.windows(2) {
        let d = w[1].wrapping_sub(w[0]) as i32;
        assert!((0..900_000).contains(&d), "timestamps go {} → {}", w[0], w[1]);
    }
    went_out
}

fn rtp_of(outs: Vec<Output>, tid: &str) -> Vec<Packet> {
    rtp_to(&outs, tid)
}

#[test]
fn a_long_video_stream_keeps_flowing_past_every_wrap_with_and_without_the_cache() {
    for cache in [json!(false), json!({})] {
        let (mut r, _, c) = setup_with(0, cache.clone());
        let ssrc = c["rtpParameters"]["encodings"][0]["ssrc"].as_u64().unwrap() as u32;
        let t0 = Instant::now();
        r.transport_connected(t0, "recv");
        let (order, lost) = long_schedule(200_000, 3000);
        let mut out = Vec::new();
        let mut first_key = None;
        for (k, i) in order.iter().enumerate() {
            let now = t0 + Duration::from_millis(u64::from(i.idx));
            // A key frame every 300 packets.
            let key = i.idx % 300 == 0;
            if key && first_key.is_none() {
                first_key = Some(i.idx);
            }
            r.on_rtp(now, "send", &media_packet(1111, 96, *i, true, key));
            if k % 20 == 0 {
                r.tick(now);
            }
            // Halfway, the viewer asks for a key frame (served from the cache when there is one).
            if i.idx == 100_000 {
                r.on_rtcp(now, "recv", &rtcp::marshal(&[rtcp::pli(1, ssrc)]).unwrap());
            }
            out.extend(rtp_of(outputs(&mut r), "recv"));
        }
        r.tick(t0 + Duration::from_secs(300));
        out.extend(rtp_of(outputs(&mut r), "recv"));
        let went_out = check_long_output(&order, &out, 2);
        // Every packet that arrived after the first key frame went out.
        let missing: Vec<u32> = order.iter().filter(|i| i.idx >= first_key.unwrap() && !went_out.contains(&i.idx)).map(|i| i.idx).collect();
        assert!(missing.is_empty(), "cache {cache}: {} packets not forwarded, first {:?}", missing.len(), &missing[..missing.len().min(5)]);
        assert!(out.len() >= 200_000 - lost.len() - 1, "cache {cache}: {}", out.len());
        let stats = r.consumer_request(t0, "consumer.getStats", "c1", &Value::Null).unwrap();
        assert_eq!(stats[0]["packetCount"].as_u64().unwrap(), out.len() as u64);
    }
}

#[test]
fn a_long_audio_stream_keeps_flowing_and_resumes_after_a_pause() {
    let mut r = router();
    let params = json!({
        "mid": "0",
        "codecs": [{ "mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2 }],
        "encodings": [{ "ssrc": 4444 }],
        "rtcp": { "cname": "mic" },
    });
    r.produce("send", &json!({ "producerId": "a", "kind": "audio", "rtpParameters": params })).unwrap();
    let caps = r.r.rtp_capabilities.clone();
    r.consume(Instant::now(), "recv", &json!({ "consumerId": "ca", "producerId": "a", "rtpCapabilities": caps })).unwrap();
    let t0 = Instant::now();
    r.transport_connected(t0, "recv");
    let (order, lost) = long_schedule(200_000, 960);
    let mut out = Vec::new();
    for (k, i) in order.iter().enumerate() {
        let now = t0 + Duration::from_millis(u64::from(i.idx) * 20);
        if i.idx == 120_000 {
            r.consumer_request(now, "consumer.pause", "ca", &Value::Null).unwrap();
        }
        if i.idx == 120_500 {
            r.consumer_request(now, "consumer.resume", "ca", &Value::Null).unwrap();
        }
        r.on_rtp(now, "send", &media_packet(4444, 111, *i, false, false));
        if k % 50 == 0 {
            r.tick(now);
        }
        out.extend(rtp_of(outputs(&mut r), "recv"));
    }
    let went_out = check_long_output(&order, &out, 2);
    let paused = |idx: u32| (120_000..120_500).contains(&idx);
    let missing: Vec<u32> = order.iter().filter(|i| !paused(i.idx) && !went_out.contains(&i.idx)).map(|i| i.idx).collect();
    // The packet swapped across the resume point is older than the new sync: one may be missing.
    assert!(missing.len() <= 1, "{} packets not forwarded, first {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert!(out.len() > 199_000 - lost.len() - 500);
}

#[test]
fn long_simulcast_and_pipe_streams_keep_flowing() {
    let mut r = router();
    let mut params = vp8_params();
    params["encodings"] = json!([{ "ssrc": 1111, "scalabilityMode": "L1T1" }, { "ssrc": 1112, "scalabilityMode": "L1T1" }]);
    let reply = r.produce("send", &json!({ "producerId": "s", "kind": "video", "rtpParameters": params, "keyFrameCache": false })).unwrap();
    assert_eq!(reply["type"], "simulcast");
    let caps = r.r.rtp_capabilities.clone();
    r.consume(Instant::now(), "recv", &json!({ "consumerId": "cs", "producerId": "s", "rtpCapabilities": caps })).unwrap();
    r.add_transport("pipe");
    let pc = r.consume(Instant::now(), "pipe", &json!({ "consumerId": "pc", "producerId": "s", "rtpCapabilities": {}, "pipe": true, "pipeTransport": true })).unwrap();
    let pipe_ssrcs: Vec<u32> = pc["rtpParameters"]["encodings"].as_array().unwrap().iter().map(|e| e["ssrc"].as_u64().unwrap() as u32).collect();
    let t0 = Instant::now();
    r.transport_connected(t0, "recv");
    r.transport_connected(t0, "pipe");
    let (order, _) = long_schedule(200_000, 3000);
    let mut to_viewer = Vec::new();
    let mut to_pipe = Vec::new();
    for (k, i) in order.iter().enumerate() {
        let now = t0 + Duration::from_millis(u64::from(i.idx));
        let key = i.idx % 300 == 0;
        // Both layers carry the same numbering here; each is its own stream.
        r.on_rtp(now, "send", &media_packet(1111, 96, *i, true, key));
        r.on_rtp(now, "send", &media_packet(1112, 96, *i, true, key));
        if k % 20 == 0 {
            r.tick(now);
        }
        let outs = outputs(&mut r);
        to_pipe.extend(rtp_to(&outs, "pipe"));
        to_viewer.extend(rtp_to(&outs, "recv"));
    }
    // The viewer gets one layer, continuously.
    let went_out = check_long_output(&order, &to_viewer, 2);
    assert!(went_out.len() >= order.len() - 600, "{}", went_out.len());
    // The pipe gets every packet of both layers, sequence numbers and timestamps as they were.
    assert_eq!(to_pipe.len(), order.len() * 2);
    for (p, i) in to_pipe.chunks(2).zip(&order) {
        for (q, ssrc) in p.iter().zip(&pipe_ssrcs) {
            assert_eq!((q.header.ssrc, q.header.sequence_number, q.header.timestamp, payload_idx(q)), (*ssrc, i.seq, i.ts, i.idx));
        }
    }
}

#[test]
fn a_sender_restarting_its_numbering_keeps_reaching_the_viewer_continuously() {
    let (mut r, _, _) = setup_with(0, json!(false));
    let t0 = Instant::now();
    r.transport_connected(t0, "recv");
    let mut out = Vec::new();
    let send = |r: &mut H, seq: u16, idx: u32, key: bool| {
        r.on_rtp(t0, "send", &media_packet(1111, 96, In { idx, seq, ts: idx * 3000 }, true, key));
    };
    for i in 0..100u32 {
        send(&mut r, 1000 + i as u16, i, i == 0);
    }
    out.extend(rtp_of(outputs(&mut r), "recv"));
    // New numbering at 40,000 (e.g. the sender's encoder restarted): after two packets the
    // producer follows it, and the viewer restarts at the next key frame, continuing its numbers.
    for i in 0..10u32 {
        send(&mut r, 40_000 + i as u16, 100 + i, i == 5);
    }
    out.extend(rtp_of(outputs(&mut r), "recv"));
    let seqs: Vec<u16> = out.iter().map(|p| p.header.sequence_number).collect();
    assert_eq!(seqs.len(), 105, "{seqs:?}");
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1));
    }
    assert_eq!(payload_idx(&out[100]), 105, "restarted on the key frame");
}

fn h_drops_total(h: &H, tid: &str) -> u64 {
    let d = h.drops(tid);
    d.malformed + d.unknown_ssrc + d.unknown_stream
}

/// An Opus packet of `ssrc` carrying RFC 6464 level byte `level` (extension id 1).
fn opus(ssrc: u32, seq: u16, level: u8) -> Vec<u8> {
    let p = Packet {
        header: Header {
            version: 2,
            payload_type: 111,
            sequence_number: seq,
            timestamp: u32::from(seq) * 960,
            ssrc,
            extension: true,
            extension_profile: 0xBEDE,
            extensions: vec![Extension { id: 1, payload: Bytes::copy_from_slice(&[0x80 | level]) }],
            ..Default::default()
        },
        payload: Bytes::from_static(&[0xfc, 1, 2, 3]),
    };
    crate::rtp::marshal(&p).unwrap()
}

fn opus_params(ssrc: u32) -> Value {
    json!({
        "codecs": [{ "mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2 }],
        "headerExtensions": [{ "uri": crate::rtp::URI_AUDIO_LEVEL, "id": 1 }],
        "encodings": [{ "ssrc": ssrc }],
    })
}

fn observer_body(method: &str, data: Value) -> Body {
    Request::from_value(1, method, "o", data).unwrap().body
}

#[test]
fn observers_hear_audio_levels_and_follow_producers() {
    let mut h = router();
    let t0 = Instant::now();
    h.produce("send", &json!({ "producerId": "a", "kind": "audio", "rtpParameters": opus_params(10) })).unwrap();
    h.produce("send", &json!({ "producerId": "b", "kind": "audio", "rtpParameters": opus_params(20) })).unwrap();
    h.produce("send", &json!({ "producerId": "v", "kind": "video", "rtpParameters": vp8_params() })).unwrap();
    let alo = h.r.observers.create_audio_level(crate::api::RtpObserverId::new("alo"), 2, -60, 500, t0).unwrap();
    let aso = h.r.observers.create_active_speaker(crate::api::RtpObserverId::new("aso"), 300, t0).unwrap();
    for (o, p) in [(alo, "a"), (alo, "b"), (aso, "a"), (aso, "b")] {
        h.r.observer_request(t0, o, observer_body("rtpObserver.addProducer", json!({ "producerId": p })), &mut h.out).unwrap();
    }
    let err = h.r.observer_request(t0, alo, observer_body("rtpObserver.addProducer", json!({ "producerId": "v" })), &mut h.out).unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Type, "not an audio Producer"));
    let err = h.r.observer_request(t0, aso, observer_body("rtpObserver.addProducer", json!({ "producerId": "a" })), &mut h.out).unwrap_err();
    assert_eq!(err.message, "Producer already in map");
    let err = h.r.observer_request(t0, aso, observer_body("rtpObserver.addProducer", json!({ "producerId": "zz" })), &mut h.out).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(h.dump()["rtpObserverIds"], json!(["alo", "aso"]));
    assert_eq!(h.dump()["mapProducerIdObserverIds"].as_array().unwrap().iter().find(|e| e["key"] == "a").unwrap()["values"], json!(["alo", "aso"]));
    // 1.5 s: a at −20 dBov, b at −40 (both after a quiet start so the speaker floor is low).
    let mut events = Vec::new();
    let mut seq = 0u16;
    let mut ms = 0u64;
    let mut step = |h: &mut H, until: u64, la: u8, lb: u8, events: &mut Vec<(String, &'static str, Value)>| {
        while ms < until {
            let now = t0 + Duration::from_millis(ms);
            h.on_rtp(now, "send", &opus(10, seq, la));
            h.on_rtp(now, "send", &opus(20, seq, lb));
            seq += 1;
            ms += 20;
            if h.poll_timeout(now).is_some_and(|d| d <= now) {
                h.tick(now);
            }
            for o in outputs(h) {
                if let Output::Notify { target, event, data } = o {
                    if target == "alo" || target == "aso" {
                        events.push((target, event, data));
                    }
                }
            }
        }
    };
    step(&mut h, 600, 70, 70, &mut events);
    step(&mut h, 2000, 20, 40, &mut events);
    let volumes: Vec<&Value> = events.iter().filter(|e| e.1 == "volumes").map(|e| &e.2).collect();
    assert!(volumes.len() >= 2);
    assert_eq!(*volumes.last().unwrap(), &json!([{ "producerId": "a", "volume": -20 }, { "producerId": "b", "volume": -40 }]));
    assert_eq!(events.iter().filter(|e| e.1 == "dominantspeaker").map(|e| e.2["producerId"].as_str().unwrap()).collect::<Vec<_>>(), ["a"]);
    // b gets loud and a quiet: b becomes dominant; a below the threshold drops out of volumes.
    events.clear();
    step(&mut h, 4000, 90, 10, &mut events);
    assert_eq!(events.iter().filter(|e| e.1 == "dominantspeaker").map(|e| e.2["producerId"].as_str().unwrap()).collect::<Vec<_>>(), ["b"]);
    let last = events.iter().rev().find(|e| e.1 == "volumes").unwrap();
    assert_eq!(last.2, json!([{ "producerId": "b", "volume": -10 }]));
    // A paused producer is not reported; everyone quiet: one silence.
    h.producer_request(t0, "producer.pause", "b", &json!({})).unwrap();
    events.clear();
    step(&mut h, 5500, 90, 10, &mut events);
    assert_eq!(events.iter().filter(|e| e.0 == "alo").map(|e| e.1).collect::<Vec<_>>(), ["silence"]);
    // The dominant producer closes: the other is announced at once.
    h.producer_request(t0, "producer.resume", "b", &json!({})).unwrap();
    h.close_producer("b");
    let now_events: Vec<_> = outputs(&mut h).into_iter().filter_map(|o| if let Output::Notify { target, event, data } = o { Some((target, event, data)) } else { None }).collect();
    assert!(now_events.contains(&("aso".to_string(), "dominantspeaker", json!({ "producerId": "a" }))), "{now_events:?}");
    assert_eq!(h.dump()["mapProducerIdObserverIds"].as_array().unwrap().len(), 2);
    // Closing an observer forgets it.
    h.r.observers.close(aso);
    assert_eq!(h.dump()["rtpObserverIds"], json!(["alo"]));
}

mod layers;

#[test]
fn consumers_with_capabilities_seen_before_get_the_same_parameters_with_their_own_ssrcs() {
    let (mut r, _, first) = setup(0);
    let caps = r.r.rtp_capabilities.clone();
    let now = Instant::now();
    // The same capabilities again (the cached path), and as a fresh router computes them.
    let again = r.consume(now, "recv", &json!({ "consumerId": "c2", "producerId": "p1", "rtpCapabilities": caps })).unwrap();
    let mut fresh = router();
    fresh.produce("send", &json!({ "producerId": "p1", "kind": "video", "rtpParameters": vp8_params() })).unwrap();
    let computed = fresh.consume(now, "recv", &json!({ "consumerId": "x", "producerId": "p1", "rtpCapabilities": caps })).unwrap();
    let without_ssrcs = |v: &Value| {
        let mut p = v["rtpParameters"].clone();
        for e in p["encodings"].as_array_mut().unwrap() {
            assert!(e["ssrc"].as_u64().is_some());
            if let Some(rtx) = e.get("rtx") {
                assert_eq!(rtx["ssrc"].as_u64(), Some(e["ssrc"].as_u64().unwrap() + 1));
            }
            e["ssrc"] = json!(0);
            if e.get("rtx").is_some() {
                e["rtx"]["ssrc"] = json!(0);
            }
        }
        p["mid"] = json!("");
        p
    };
    assert_ne!(first["rtpParameters"]["encodings"][0]["ssrc"], again["rtpParameters"]["encodings"][0]["ssrc"]);
    assert_eq!(without_ssrcs(&again), without_ssrcs(&first));
    assert_eq!(without_ssrcs(&again), without_ssrcs(&computed));
    assert_eq!(again["rtpParameters"]["mid"], "1");
    // Other capabilities are validated and derived on their own: without RTX, no rtx stream.
    let mut no_rtx = caps.clone();
    no_rtx["codecs"].as_array_mut().unwrap().retain(|c| c["mimeType"] != "video/rtx");
    let plain = r.consume(now, "recv", &json!({ "consumerId": "c3", "producerId": "p1", "rtpCapabilities": no_rtx })).unwrap();
    assert!(plain["rtpParameters"]["encodings"][0].get("rtx").is_none());
    // Bad capabilities are still a TypeError, each time.
    for id in ["c4", "c5"] {
        let e = r.consume(now, "recv", &json!({ "consumerId": id, "producerId": "p1", "rtpCapabilities": { "codecs": 3 } })).unwrap_err();
        assert_eq!(e.kind, crate::api::ErrorKind::Type);
    }
    // A producer that closes takes its templates along.
    let pk = r.r.producer_key("p1").unwrap();
    r.r.close_producer(pk, &mut r.transports, &mut r.out);
    assert!(r.r.consume_cache.iter().all(|e| e.templates.iter().all(|(k, _, _)| *k != pk)));
}
